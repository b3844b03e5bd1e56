/* SPDX-License-Identifier: MIT */
/*
 * The sliding-window replay filter of transport counters (WireGuard §5.4.6,
 * RFC 6479's layout): a ring of 8192 bits, of which the newest 8128 counters
 * below the highest seen are remembered exactly. Older counters and counters
 * at or past REJECT_AFTER_MESSAGES are refused.
 */
#ifndef ICEMESH_WIREGUARD_REPLAY_H
#define ICEMESH_WIREGUARD_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "wireguard/messages.h"

struct wg_replay {
	uint64_t next; /* highest accepted counter + 1; 0 before any */
	uint64_t bits[WG_REPLAY_BITS_TOTAL / 64];
};

void wg_replay_init(struct wg_replay *r);
/* Would counter be accepted? Cheap; for dropping replays before decrypting. */
bool wg_replay_check(const struct wg_replay *r, uint64_t counter);
/* Accept counter (after it authenticated): true if new, false if refused. */
bool wg_replay_accept(struct wg_replay *r, uint64_t counter);

#endif
