/* SPDX-License-Identifier: MIT */
/*
 * A peer's timers (WireGuard §6), named after the events that arm them.
 *
 * Callers report what happened (wg_timers_data_sent, ...handshake_complete,
 * ...); this module alone decides which timer to arm or stop, as the
 * reference implementation's timers.c does. It has no clock and no callbacks:
 * wg_timers_next says when to come back, wg_timers_expire says what is due.
 * Times are milliseconds on the caller's monotonic clock.
 */
#ifndef ICEMESH_WIREGUARD_TIMERS_H
#define ICEMESH_WIREGUARD_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "wireguard/noise.h"

enum wg_timer {
	WG_TIMER_RETRANSMIT_HANDSHAKE, /* no response to our initiation */
	WG_TIMER_SEND_KEEPALIVE, /* we received data and sent nothing */
	WG_TIMER_NEW_HANDSHAKE, /* we sent data and heard nothing */
	WG_TIMER_ZERO_KEY_MATERIAL, /* no new session for 3 * REJECT_AFTER_TIME */
	WG_TIMER_PERSISTENT_KEEPALIVE, /* the user's keepalive interval */
	WG_TIMER_COUNT,
};

/* What wg_timers_expire asks the caller to do (a bit mask). */
enum wg_timer_action {
	WG_TIMER_ACT_SEND_INITIATION = 1 << 0, /* a new handshake */
	WG_TIMER_ACT_RETRY_INITIATION = 1 << 1, /* a retransmission of it */
	WG_TIMER_ACT_SEND_KEEPALIVE = 1 << 2,
	WG_TIMER_ACT_GIVE_UP = 1 << 3, /* drop packets waiting for a session */
	WG_TIMER_ACT_ZERO_KEYS = 1 << 4, /* wipe every keypair and handshake */
};

struct wg_timers {
	uint64_t at[WG_TIMER_COUNT]; /* deadline in ms; 0 = not armed */
	unsigned handshake_attempts;
	bool need_another_keepalive;
	uint32_t persistent_keepalive_ms; /* 0 = off */
	wg_random_fn random; /* for REKEY_TIMEOUT jitter */
	void *random_arg;
};

void wg_timers_init(struct wg_timers *t, wg_random_fn random, void *random_arg);
/* Disarm everything (peer removed or device down). */
void wg_timers_stop(struct wg_timers *t);
/* Set the persistent keepalive interval (seconds, 0 = off), §6.5. */
void wg_timers_set_persistent_keepalive(struct wg_timers *t, uint16_t secs,
					uint64_t now_ms);

/* Events (§6.2-§6.5). */
void wg_timers_data_sent(struct wg_timers *t, uint64_t now_ms);
void wg_timers_data_received(struct wg_timers *t, uint64_t now_ms);
void wg_timers_any_authenticated_packet_sent(struct wg_timers *t,
					     uint64_t now_ms);
void wg_timers_any_authenticated_packet_received(struct wg_timers *t,
						 uint64_t now_ms);
void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t,
						  uint64_t now_ms);
void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now_ms);
void wg_timers_handshake_complete(struct wg_timers *t, uint64_t now_ms);
void wg_timers_session_derived(struct wg_timers *t, uint64_t now_ms);

/* The earliest armed deadline, or UINT64_MAX when nothing is armed. */
uint64_t wg_timers_next(const struct wg_timers *t);
/* Fire every timer due at now_ms; returns the wg_timer_action bits to do. */
unsigned wg_timers_expire(struct wg_timers *t, uint64_t now_ms);

#endif
