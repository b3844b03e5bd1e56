/* SPDX-License-Identifier: MIT */
/*
 * A WireGuard device without I/O: our static key, the cookie checker, the
 * table of receiver indices and the peers keyed by public key; and per peer
 * the session (handshake, up to three keypairs, timers, counters).
 *
 * Packets and time go in: wg_device_recv for every UDP datagram that
 * classified as WireGuard, wg_peer_encrypt for every packet from the TUN,
 * wg_device_tick when wg_device_next_deadline has come. Packets come out:
 * handshake messages and keepalives through the send callback, data in place
 * in the caller's buffers (decrypted for the TUN, encrypted for the wire).
 * Nothing in the per-packet paths allocates; all time is the caller's
 * monotonic milliseconds. A device is not thread-safe: one event loop
 * drives it.
 */
#ifndef ICEMESH_WIREGUARD_DEVICE_H
#define ICEMESH_WIREGUARD_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "wireguard/messages.h"
#include "wireguard/noise.h"

struct wg_device;
struct wg_peer;

enum wg_device_const {
	WG_DEFAULT_MTU = 1420,
	WG_DEFAULT_MAX_PEERS = 4096,
	WG_MAX_PEERS_LIMIT = 1 << 20,
	/* the reference's MAX_QUEUED_INCOMING_HANDSHAKES / 8 */
	WG_UNDER_LOAD_BACKLOG = 4096 / 8,
	/* under load stays on this long after the backlog shrank (§5.3) */
	WG_UNDER_LOAD_AFTER_MS = 1000,
};

/* What the device tells its caller about a peer (the notify callback). */
enum wg_peer_event {
	/* a new session is usable: send what waited for it */
	WG_EV_SESSION_READY = 1,
	/* REKEY_ATTEMPT_TIME spent without an answer: drop what waited */
	WG_EV_HANDSHAKE_GAVE_UP,
	/* no session for 3 * REJECT_AFTER_TIME: every key was erased */
	WG_EV_KEYS_ZEROED,
};

/*
 * Send len bytes of buf to `to` (the peer's endpoint, or the source of the
 * message we answer with a cookie reply; peer is NULL then). buf is valid
 * only during the call. Callbacks run inside the device's functions and must
 * not call back into the same device.
 */
typedef void (*wg_send_fn)(struct wg_peer *peer, const union sockaddr_any *to,
			   const uint8_t *buf, size_t len, void *arg);
typedef void (*wg_notify_fn)(struct wg_peer *peer, enum wg_peer_event ev,
			     void *arg);

struct wg_device_config {
	const uint8_t *private_key; /* 32 bytes, or NULL to set later */
	uint16_t mtu; /* of the tunnel; 0: WG_DEFAULT_MTU */
	uint32_t max_peers; /* 0: WG_DEFAULT_MAX_PEERS */
	wg_send_fn send; /* required */
	void *send_arg;
	wg_notify_fn notify; /* optional */
	void *notify_arg;
	wg_random_fn random; /* optional; tests fix ephemerals and indices */
	void *random_arg;
	wg_tai64n_fn tai64n; /* optional; default wg_tai64n_now */
	void *tai64n_arg;
};

/* Packets dropped, by reason: each is counted, none is logged per packet. */
struct wg_device_stats {
	uint64_t rx_malformed; /* bad type, reserved bytes or length */
	uint64_t rx_bad_mac1; /* handshake message with a wrong MAC1 */
	uint64_t rx_cookie_sent; /* under load without a valid MAC2 */
	uint64_t rx_ratelimited; /* under load, over the per-source rate */
	uint64_t rx_handshake_bad; /* does not decrypt, or unknown peer */
	uint64_t rx_handshake_replay; /* initiation timestamp not newer */
	uint64_t rx_handshake_flood; /* initiations closer than 20 ms */
	uint64_t rx_unknown_index; /* no session or handshake has it */
	uint64_t rx_cookie_bad; /* cookie reply that does not open */
	uint64_t rx_key_expired; /* data on a keypair past its limits */
	uint64_t rx_replay; /* counter already seen or too old */
	uint64_t rx_bad_auth; /* data that does not authenticate */
	uint64_t rx_bad_ip; /* decrypted, but not one IP packet */
	uint64_t tx_no_session; /* encrypt asked without a usable key */
};

/* Per-peer figures, for `wg show` through the UAPI. */
struct wg_peer_info {
	uint8_t public_key[WG_KEY_LEN];
	union sockaddr_any endpoint; /* family AF_UNSPEC when unknown */
	uint64_t rx_bytes, tx_bytes; /* whole WireGuard messages */
	uint64_t last_handshake_ms; /* caller's clock; 0 = never */
	/* the same moment on the wall clock (the tai64n source), for `wg show` */
	uint64_t last_handshake_unix_s;
	uint32_t last_handshake_unix_ns;
	uint16_t persistent_keepalive_s;
};

/* Create a device; config is copied. 0, -EINVAL, -ENOMEM. */
int wg_device_create(const struct wg_device_config *cfg,
		     struct wg_device **out);
/* Wipes every key and frees every peer; accepts NULL. */
void wg_device_destroy(struct wg_device *dev);
/* Set (key) or clear (NULL) our private key; peers' sessions restart. */
int wg_device_set_private_key(struct wg_device *dev,
			      const uint8_t key[WG_KEY_LEN]);
/* Our public key, or NULL when no private key is set. */
const uint8_t *wg_device_public_key(const struct wg_device *dev);
/* Copy our private key (for a UAPI get); 0, or -ENOENT when none is set. */
int wg_device_get_private_key(const struct wg_device *dev,
			      uint8_t out[WG_KEY_LEN]);
const struct wg_device_stats *wg_device_stats(const struct wg_device *dev);

/*
 * The caller's count of handshake messages waiting to be processed; at
 * WG_UNDER_LOAD_BACKLOG or more the device is under load (§5.3) for the
 * next WG_UNDER_LOAD_AFTER_MS, and answers handshakes without a valid MAC2
 * with cookie replies.
 */
void wg_device_report_backlog(struct wg_device *dev, size_t queued,
			      uint64_t now_ms);
bool wg_device_under_load(const struct wg_device *dev, uint64_t now_ms);

/*
 * Add a peer (psk NULL: none). The device owns it. 0, -EEXIST, -ENOSPC
 * (max_peers), -EINVAL (our own key), -ENOMEM.
 */
int wg_device_add_peer(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN],
		       const uint8_t psk[WG_KEY_LEN], struct wg_peer **out);
/* Remove and free a peer, wiping its keys. */
void wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer);
/* The peer with this public key, or NULL. */
struct wg_peer *wg_device_find_peer(struct wg_device *dev,
				    const uint8_t pub[WG_KEY_LEN]);
/* Iterate: first with prev NULL; NULL at the end. */
struct wg_peer *wg_device_next_peer(struct wg_device *dev,
				    struct wg_peer *prev);

void wg_peer_set_endpoint(struct wg_peer *peer, const union sockaddr_any *ep);
/* psk NULL or all zero: none. */
void wg_peer_set_psk(struct wg_peer *peer, const uint8_t psk[WG_KEY_LEN]);
/* Copy the pre-shared key; false (out zeroed) when there is none. */
bool wg_peer_get_psk(const struct wg_peer *peer, uint8_t out[WG_KEY_LEN]);
void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t secs,
				      uint64_t now_ms);
void wg_peer_get_info(const struct wg_peer *peer, struct wg_peer_info *out);
/* An opaque pointer for the caller (its packet queue, allowed IPs, ...). */
void wg_peer_set_user(struct wg_peer *peer, void *user);
void *wg_peer_user(const struct wg_peer *peer);
/* Has a keypair we can send with now. */
bool wg_peer_has_session(const struct wg_peer *peer, uint64_t now_ms);

/* What wg_device_recv made of a datagram. */
struct wg_rx {
	struct wg_peer *peer; /* whose message it was, or NULL */
	uint8_t *data; /* decrypted IP packet, inside the buffer */
	size_t len; /* its length; 0 for everything but data */
};

/*
 * Process one datagram from src (any WireGuard message). Data messages are
 * decrypted in place: out->data points into pkt. Handshake answers and
 * keepalives go out through the send callback before this returns.
 * Returns 0 (out filled; out->len may be 0), or a negative errno when the
 * datagram was dropped (and counted in wg_device_stats).
 */
int wg_device_recv(struct wg_device *dev, const union sockaddr_any *src,
		   uint8_t *pkt, size_t len, uint64_t now_ms,
		   struct wg_rx *out);

/*
 * The peer a datagram is for, by its receiver index, without decrypting or
 * changing anything (to sort a batch by peer first); NULL for initiations
 * and for anything unknown or malformed. Only wg_device_recv authenticates.
 */
struct wg_peer *wg_device_lookup(struct wg_device *dev, const uint8_t *pkt,
				 size_t len);

/*
 * Encrypt one IP packet in place into a data message. The packet's len
 * bytes are at buf + WG_DATA_HEADER_LEN (the header goes in front of it);
 * buf holds cap bytes in all, enough for the padding and the 16-byte tag:
 * wg_msg_data_len(len) always is. On success *out_len is the message's
 * length, from buf. -ENOKEY: no usable session (a handshake was started;
 * queue the packet and send it on WG_EV_SESSION_READY); -EMSGSIZE.
 */
int wg_peer_encrypt(struct wg_peer *peer, uint8_t *buf, size_t len, size_t cap,
		    uint64_t now_ms, size_t *out_len);

/* Start a handshake now unless one went out less than REKEY_TIMEOUT ago. */
void wg_peer_start_handshake(struct wg_peer *peer, uint64_t now_ms);
/* Send a keepalive (an empty data message), or start a handshake. */
void wg_peer_send_keepalive(struct wg_peer *peer, uint64_t now_ms);

/* Run every peer's due timers. */
void wg_device_tick(struct wg_device *dev, uint64_t now_ms);
/* When wg_device_tick is next needed; UINT64_MAX when never. */
uint64_t wg_device_next_deadline(const struct wg_device *dev);

#endif
