/* SPDX-License-Identifier: MIT */
/*
 * The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake of WireGuard (§5.4.2
 * to §5.4.5): building and consuming the initiation and the response, and
 * deriving the transport keys. No I/O and no index bookkeeping: the caller
 * (device.c) picks the sender index, adds the MACs (cookie.c) and sends.
 *
 * Randomness (ephemeral keys) and the TAI64N clock come in through struct
 * wg_noise_env, so tests can fix them and reproduce a handshake byte for byte.
 */
#ifndef ICEMESH_WIREGUARD_NOISE_H
#define ICEMESH_WIREGUARD_NOISE_H

#include <stdbool.h>
#include <stdint.h>

#include "wireguard/blake2s.h"
#include "wireguard/messages.h"

enum wg_noise_const {
	/* §6.2: initiations from one peer closer than 1 s / 50 are a flood */
	INITIATIONS_PER_SECOND = 50,
};

/* Fills buf with len random bytes (default: libsodium's randombytes_buf). */
typedef void (*wg_random_fn)(void *buf, size_t len, void *arg);
/* Writes the current TAI64N timestamp (default: wg_tai64n_now). */
typedef void (*wg_tai64n_fn)(uint8_t out[WG_TAI64N_LEN], void *arg);

struct wg_noise_static {
	uint8_t priv[WG_KEY_LEN];
	uint8_t pub[WG_KEY_LEN];
	bool has;
};

/* What every handshake operation needs from its device. Not owned. */
struct wg_noise_env {
	struct wg_blake2s *b2;
	const struct wg_noise_static *local;
	wg_random_fn random;
	void *random_arg;
	wg_tai64n_fn tai64n;
	void *tai64n_arg;
};

enum wg_noise_state {
	WG_HS_ZEROED = 0,
	WG_HS_CREATED_INITIATION,
	WG_HS_CONSUMED_INITIATION,
	WG_HS_CREATED_RESPONSE,
	WG_HS_CONSUMED_RESPONSE,
};

/* One peer's handshake. Every secret in it is wiped by wg_noise_handshake_clear. */
struct wg_noise_handshake {
	enum wg_noise_state state;
	uint8_t remote_static[WG_KEY_LEN];
	uint8_t remote_ephemeral[WG_KEY_LEN];
	uint8_t static_static[WG_KEY_LEN]; /* DH(S_local, S_remote) */
	uint8_t psk[WG_KEY_LEN];
	uint8_t ephemeral_priv[WG_KEY_LEN];
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
	uint8_t latest_timestamp[WG_TAI64N_LEN];
	uint64_t last_initiation_ms; /* when we last consumed one */
	bool has_last_initiation;
	bool ss_valid; /* static_static is not the all-zero point */
	uint32_t local_index;
	uint32_t remote_index;
};

/* Transport keys out of a finished handshake (§5.4.5). Wipe after use. */
struct wg_noise_session_keys {
	uint8_t send[WG_KEY_LEN];
	uint8_t recv[WG_KEY_LEN];
	uint32_t local_index;
	uint32_t remote_index;
	bool initiator;
};

/* Key pair from 32 random bytes: clamps priv, derives pub. 0 or -EINVAL. */
int wg_noise_keypair_from(struct wg_noise_static *s,
			  const uint8_t priv[WG_KEY_LEN]);
void wg_noise_static_clear(struct wg_noise_static *s);

/*
 * Set a peer's static key and pre-shared key (psk NULL: all zero) and
 * precompute DH(S_local, S_remote). Resets the handshake. 0 or -EINVAL when
 * local is unset (handshakes then fail until it is set again).
 */
int wg_noise_handshake_init(struct wg_noise_handshake *hs,
			    const struct wg_noise_env *env,
			    const uint8_t remote_static[WG_KEY_LEN],
			    const uint8_t psk[WG_KEY_LEN]);
/* Wipe the ephemeral and transcript state; keeps keys and latest timestamp. */
void wg_noise_handshake_clear(struct wg_noise_handshake *hs);

/*
 * Build an initiation with sender index local_index, MACs left zero.
 * 0, or -EINVAL (no static key, or the static-static DH is zero), -EIO.
 */
int wg_noise_create_initiation(const struct wg_noise_env *env,
			       struct wg_noise_handshake *hs,
			       struct wg_msg_initiation *msg,
			       uint32_t local_index);

/* Finds the handshake of the peer with this static key, or NULL. */
typedef struct wg_noise_handshake *(*wg_noise_lookup_fn)(
	const uint8_t remote_static[WG_KEY_LEN], void *arg);

/*
 * Consume an initiation (MACs already checked). On success the peer's
 * handshake holds the responder state and is returned in *out.
 * -EBADMSG: does not decrypt; -ENOENT: unknown static key; -EALREADY: a
 * replayed or not newer timestamp (§5.1); -EBUSY: initiation flood (§6.2).
 */
int wg_noise_consume_initiation(const struct wg_noise_env *env,
				const struct wg_msg_initiation *msg,
				wg_noise_lookup_fn lookup, void *lookup_arg,
				uint64_t now_ms,
				struct wg_noise_handshake **out);

/* Build the response to the consumed initiation. 0, -EINVAL, -EIO. */
int wg_noise_create_response(const struct wg_noise_env *env,
			     struct wg_noise_handshake *hs,
			     struct wg_msg_response *msg, uint32_t local_index);

/*
 * Consume a response to our initiation hs (the caller found hs by the
 * receiver index). 0, -EINVAL (hs not waiting for one), -EBADMSG.
 */
int wg_noise_consume_response(const struct wg_noise_env *env,
			      struct wg_noise_handshake *hs,
			      const struct wg_msg_response *msg);

/*
 * Derive the transport keys from a handshake that created or consumed a
 * response, and wipe the handshake. 0 or -EINVAL.
 */
int wg_noise_derive_keys(const struct wg_noise_env *env,
			 struct wg_noise_handshake *hs,
			 struct wg_noise_session_keys *keys);

/* The current wall time as TAI64N, nanoseconds whitened to 2^24 ns (§5.4.2). */
void wg_tai64n_now(uint8_t out[WG_TAI64N_LEN], void *arg);
/* Encode unix seconds and nanoseconds as TAI64N (no whitening). */
void wg_tai64n_encode(uint8_t out[WG_TAI64N_LEN], uint64_t unix_s, uint32_t ns);

/* Decode TAI64N back to unix seconds and nanoseconds. */
void wg_tai64n_decode(const uint8_t in[WG_TAI64N_LEN], uint64_t *unix_s,
		      uint32_t *ns);

#endif
