/* SPDX-License-Identifier: MIT */
/*
 * Inside struct wg_device and struct wg_peer: for device.c and for the unit
 * tests that need to reach a state (a counter near its limit) that would
 * take hours to reach from the outside. Nothing else includes this.
 */
#ifndef ICEMESH_WIREGUARD_DEVICE_IMPL_H
#define ICEMESH_WIREGUARD_DEVICE_IMPL_H

#include "wireguard/aead.h"
#include "wireguard/blake2s.h"
#include "wireguard/cookie.h"
#include "wireguard/ratelimiter.h"
#include "wireguard/device.h"
#include "wireguard/replay.h"
#include "wireguard/timers.h"

enum {
	WG_INDEX_BUCKETS = 1 << 13,
	WG_PEER_BUCKETS = 1 << 10,
	WG_KEYPAIR_SLOTS = 4, /* previous, current, next, and one being made */
};

#define WG_HEAP_NONE UINT32_MAX

enum wg_index_kind { WG_INDEX_HANDSHAKE = 1, WG_INDEX_KEYPAIR = 2 };

/* A receiver index we handed out, embedded in what it names. */
struct wg_index_entry {
	struct wg_index_entry *next;
	uint32_t index;
	enum wg_index_kind kind;
	bool linked;
	struct wg_peer *peer;
	struct wg_keypair *kp;
};

struct wg_keypair {
	struct wg_aead_key send, recv;
	uint64_t send_counter;
	uint64_t birth_ms;
	uint32_t remote_index;
	bool initiator;
	bool in_use;
	bool send_expired; /* our static key changed: receive only */
	struct wg_index_entry entry;
	struct wg_replay replay;
};

struct wg_peer {
	struct wg_device *dev;
	struct wg_peer *hash_next; /* WG_PEER_BUCKETS chain */
	struct wg_peer *list_next;
	uint8_t pub[WG_KEY_LEN];
	struct wg_noise_handshake hs;
	struct wg_index_entry hs_entry;
	struct wg_cookie_maker cookie;
	struct wg_keypair slots[WG_KEYPAIR_SLOTS];
	struct wg_keypair *current, *previous, *next;
	struct wg_timers timers;
	union sockaddr_any endpoint;
	uint64_t last_sent_handshake_ms;
	bool sent_handshake;
	bool sent_lastminute_handshake;
	uint64_t last_handshake_ms;
	uint8_t last_handshake_tai64n[WG_TAI64N_LEN];
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive_s;
	void *user;
	uint32_t heap_pos; /* in wg_device.heap, or WG_HEAP_NONE */
	uint64_t heap_key; /* wg_timers_next when last placed */
};

struct wg_device {
	struct wg_device_config cfg;
	struct wg_noise_static id;
	struct wg_blake2s b2;
	struct wg_noise_env env;
	struct wg_cookie_checker checker;
	struct wg_ratelimiter ratelimiter;
	struct wg_index_entry **index;
	struct wg_peer **peer_hash;
	struct wg_peer *peers;
	uint32_t npeers;
	/* peers with an armed timer, a min-heap on their next deadline */
	struct wg_peer **heap;
	uint32_t heap_len;
	uint64_t under_load_until_ms;
	struct wg_device_stats stats;
};

#endif
