/* SPDX-License-Identifier: MIT */
/*
 * Per-source rate limit for handshake messages while under load (WireGuard
 * §5.3: after MAC2 proves the source address, each address may still only
 * cost us so much). As the reference implementation: 20 messages a second
 * per IPv4 address or IPv6 /64, bursts of 5.
 *
 * A fixed table, set-associative, made once: a flood of sources can fill
 * it but never grow it. A source that finds its set full of addresses seen
 * within the last second is refused. Times are the caller's milliseconds.
 */
#ifndef ICEMESH_WIREGUARD_RATELIMITER_H
#define ICEMESH_WIREGUARD_RATELIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"

enum wg_ratelimiter_const {
	RATELIMIT_PACKETS_PER_SECOND = 20,
	RATELIMIT_PACKETS_BURSTABLE = 5,
	RATELIMIT_WAYS = 4,
	RATELIMIT_DEFAULT_SETS = 1024, /* 4096 sources in all */
};

struct wg_ratelimiter_entry {
	uint8_t ip[8]; /* IPv4 address, or the IPv6 /64 */
	uint8_t family; /* 0: free */
	uint64_t last_us; /* last refill, microseconds */
	uint64_t tokens_us; /* credit, in microseconds of rate */
};

struct wg_ratelimiter {
	struct wg_ratelimiter_entry *table; /* sets * RATELIMIT_WAYS */
	uint32_t sets; /* a power of two */
	uint8_t key[16]; /* SipHash key: sets unpredictable */
};

/* sets: a power of two, 0 for the default. 0, -EINVAL or -ENOMEM. */
int wg_ratelimiter_init(struct wg_ratelimiter *rl, uint32_t sets,
			const uint8_t key[16]);
void wg_ratelimiter_free(struct wg_ratelimiter *rl);
/* May a handshake message from src be processed now? Counts it if so. */
bool wg_ratelimiter_allow(struct wg_ratelimiter *rl,
			  const union sockaddr_any *src, uint64_t now_ms);

#endif
