/* SPDX-License-Identifier: MIT */
/*
 * MAC1, MAC2 and cookie replies (WireGuard §5.3, §5.4.4, §5.4.7).
 *
 * The checker belongs to the device (our static key, the rotating secret
 * Rm): it validates the MACs of received handshake messages and makes cookie
 * replies. The maker belongs to a peer (its static key, the last cookie it
 * sent us): it adds the MACs to what we send and consumes cookie replies.
 */
#ifndef ICEMESH_WIREGUARD_COOKIE_H
#define ICEMESH_WIREGUARD_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "wireguard/blake2s.h"
#include "wireguard/messages.h"
#include "wireguard/noise.h"

enum wg_cookie_const {
	COOKIE_SECRET_MAX_AGE_MS = 120 * 1000, /* §6.1 (2 minutes) */
	COOKIE_SECRET_LATENCY_MS = 5 * 1000, /* §6.1 */
};

enum wg_cookie_mac_state {
	WG_COOKIE_INVALID_MAC = 0,
	WG_COOKIE_VALID_MAC_BUT_NO_COOKIE,
	WG_COOKIE_VALID_MAC_WITH_COOKIE,
};

struct wg_cookie_checker {
	uint8_t mac1_key[WG_HASH_LEN]; /* HASH("mac1----" || S_local_pub) */
	uint8_t cookie_key[WG_HASH_LEN]; /* HASH("cookie--" || S_local_pub) */
	uint8_t secret[WG_HASH_LEN]; /* Rm, secret */
	uint64_t secret_birth_ms;
	bool has_secret;
};

struct wg_cookie_maker {
	uint8_t mac1_key[WG_HASH_LEN]; /* HASH("mac1----" || S_remote_pub) */
	uint8_t cookie_key[WG_HASH_LEN]; /* HASH("cookie--" || S_remote_pub) */
	uint8_t cookie[WG_COOKIE_LEN];
	uint64_t cookie_birth_ms;
	bool cookie_valid;
	uint8_t last_mac1_sent[WG_MAC_LEN];
	bool have_sent_mac1;
};

/* Derive the checker's keys from our public key (again when it changes). */
int wg_cookie_checker_init(struct wg_cookie_checker *c, struct wg_blake2s *b2,
			   const uint8_t local_pub[WG_KEY_LEN]);
/* Wipe the checker (the secret Rm). */
void wg_cookie_checker_clear(struct wg_cookie_checker *c);

/*
 * Check MAC1 of a handshake message msg (len bytes, MACs last), and, when
 * check_cookie (we are under load), MAC2 against the cookie of src.
 */
enum wg_cookie_mac_state
wg_cookie_validate(struct wg_cookie_checker *c, struct wg_blake2s *b2,
		   const uint8_t *msg, size_t len,
		   const union sockaddr_any *src, bool check_cookie,
		   uint64_t now_ms, wg_random_fn random, void *random_arg);

/*
 * Build the cookie reply to msg (an initiation or response with a valid
 * MAC1, len bytes) from src, for receiver index `receiver` (msg's sender).
 * 0 or -EIO.
 */
int wg_cookie_create_reply(struct wg_cookie_checker *c, struct wg_blake2s *b2,
			   struct wg_msg_cookie *out, const uint8_t *msg,
			   size_t len, uint32_t receiver,
			   const union sockaddr_any *src, uint64_t now_ms,
			   wg_random_fn random, void *random_arg);

/* Derive a maker's keys from the peer's public key; clears any cookie. */
int wg_cookie_maker_init(struct wg_cookie_maker *m, struct wg_blake2s *b2,
			 const uint8_t remote_pub[WG_KEY_LEN]);
void wg_cookie_maker_clear(struct wg_cookie_maker *m);

/*
 * Fill MAC1 and MAC2 of an outgoing handshake message (len bytes, MACs
 * last). MAC2 is zero unless a cookie younger than 2 min - 5 s is held.
 */
int wg_cookie_add_macs(struct wg_cookie_maker *m, struct wg_blake2s *b2,
		       uint8_t *msg, size_t len, uint64_t now_ms);

/*
 * Take the cookie out of a reply to the last message we sent with MACs.
 * 0, -EINVAL (we sent nothing it could answer), -EBADMSG (does not open).
 */
int wg_cookie_consume_reply(struct wg_cookie_maker *m,
			    const struct wg_msg_cookie *msg, uint64_t now_ms);

#endif
