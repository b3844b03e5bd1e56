// SPDX-License-Identifier: MIT
#include "wireguard/timers.h"

#include <string.h>

#include "wireguard/messages.h"

static bool pending(const struct wg_timers *t, enum wg_timer w)
{
	return t->at[w] != 0;
}

static void arm(struct wg_timers *t, enum wg_timer w, uint64_t at)
{
	t->at[w] = at ? at : 1; /* 0 means disarmed */
}

static void disarm(struct wg_timers *t, enum wg_timer w)
{
	t->at[w] = 0;
}

/* REKEY_TIMEOUT plus up to a third of a second, so peers do not lock step */
static uint64_t jitter(struct wg_timers *t)
{
	uint32_t r;

	t->random(&r, sizeof(r), t->random_arg);
	return r % REKEY_TIMEOUT_JITTER_MAX_MS;
}

void wg_timers_init(struct wg_timers *t, wg_random_fn random, void *random_arg)
{
	memset(t, 0, sizeof(*t));
	t->random = random;
	t->random_arg = random_arg;
}

void wg_timers_stop(struct wg_timers *t)
{
	memset(t->at, 0, sizeof(t->at));
	t->need_another_keepalive = false;
}

void wg_timers_set_persistent_keepalive(struct wg_timers *t, uint16_t secs,
					uint64_t now_ms)
{
	t->persistent_keepalive_ms = (uint32_t)secs * 1000;
	if (!secs)
		disarm(t, WG_TIMER_PERSISTENT_KEEPALIVE);
}

/* §6.2: sent data and heard nothing for KEEPALIVE + REKEY_TIMEOUT: rekey */
void wg_timers_data_sent(struct wg_timers *t, uint64_t now_ms)
{
	if (!pending(t, WG_TIMER_NEW_HANDSHAKE))
		arm(t, WG_TIMER_NEW_HANDSHAKE,
		    now_ms + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS +
			    jitter(t));
}

/* §6.5: received data and sent nothing back for KEEPALIVE_TIMEOUT */
void wg_timers_data_received(struct wg_timers *t, uint64_t now_ms)
{
	if (!pending(t, WG_TIMER_SEND_KEEPALIVE))
		arm(t, WG_TIMER_SEND_KEEPALIVE, now_ms + KEEPALIVE_TIMEOUT_MS);
	else
		t->need_another_keepalive = true;
}

/* anything we send (data, keepalive, handshake) makes a keepalive moot */
void wg_timers_any_authenticated_packet_sent(struct wg_timers *t,
					     uint64_t now_ms)
{
	disarm(t, WG_TIMER_SEND_KEEPALIVE);
}

/* anything authenticated from the peer shows it is alive */
void wg_timers_any_authenticated_packet_received(struct wg_timers *t,
						 uint64_t now_ms)
{
	disarm(t, WG_TIMER_NEW_HANDSHAKE);
}

/* §6.5: any authenticated packet either way restarts the persistent one */
void wg_timers_any_authenticated_packet_traversal(struct wg_timers *t,
						  uint64_t now_ms)
{
	if (t->persistent_keepalive_ms)
		arm(t, WG_TIMER_PERSISTENT_KEEPALIVE,
		    now_ms + t->persistent_keepalive_ms);
}

/* §6.4: retransmit after REKEY_TIMEOUT with jitter until an answer */
void wg_timers_handshake_initiated(struct wg_timers *t, uint64_t now_ms)
{
	arm(t, WG_TIMER_RETRANSMIT_HANDSHAKE,
	    now_ms + REKEY_TIMEOUT_MS + jitter(t));
}

void wg_timers_handshake_complete(struct wg_timers *t, uint64_t now_ms)
{
	disarm(t, WG_TIMER_RETRANSMIT_HANDSHAKE);
	t->handshake_attempts = 0;
}

/* §6.3: keys not renewed for 3 * REJECT_AFTER_TIME are erased */
void wg_timers_session_derived(struct wg_timers *t, uint64_t now_ms)
{
	arm(t, WG_TIMER_ZERO_KEY_MATERIAL,
	    now_ms + 3ULL * REJECT_AFTER_TIME_MS);
}

uint64_t wg_timers_next(const struct wg_timers *t)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < WG_TIMER_COUNT; i++)
		if (t->at[i] && t->at[i] < next)
			next = t->at[i];
	return next;
}

static bool due(const struct wg_timers *t, enum wg_timer w, uint64_t now_ms)
{
	return t->at[w] && t->at[w] <= now_ms;
}

static unsigned expire_retransmit(struct wg_timers *t, uint64_t now_ms)
{
	disarm(t, WG_TIMER_RETRANSMIT_HANDSHAKE);
	if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		/* §6.4: REKEY_ATTEMPT_TIME spent: stop trying, drop the queue */
		disarm(t, WG_TIMER_SEND_KEEPALIVE);
		if (!pending(t, WG_TIMER_ZERO_KEY_MATERIAL))
			arm(t, WG_TIMER_ZERO_KEY_MATERIAL,
			    now_ms + 3ULL * REJECT_AFTER_TIME_MS);
		return WG_TIMER_ACT_GIVE_UP;
	}
	t->handshake_attempts++;
	return WG_TIMER_ACT_RETRY_INITIATION;
}

static unsigned expire_keepalive(struct wg_timers *t, uint64_t now_ms)
{
	disarm(t, WG_TIMER_SEND_KEEPALIVE);
	if (t->need_another_keepalive) {
		t->need_another_keepalive = false;
		arm(t, WG_TIMER_SEND_KEEPALIVE, now_ms + KEEPALIVE_TIMEOUT_MS);
	}
	return WG_TIMER_ACT_SEND_KEEPALIVE;
}

unsigned wg_timers_expire(struct wg_timers *t, uint64_t now_ms)
{
	unsigned act = 0;

	if (due(t, WG_TIMER_RETRANSMIT_HANDSHAKE, now_ms))
		act |= expire_retransmit(t, now_ms);
	if (due(t, WG_TIMER_SEND_KEEPALIVE, now_ms))
		act |= expire_keepalive(t, now_ms);
	if (due(t, WG_TIMER_NEW_HANDSHAKE, now_ms)) {
		disarm(t, WG_TIMER_NEW_HANDSHAKE);
		act |= WG_TIMER_ACT_SEND_INITIATION;
	}
	if (due(t, WG_TIMER_ZERO_KEY_MATERIAL, now_ms)) {
		disarm(t, WG_TIMER_ZERO_KEY_MATERIAL);
		act |= WG_TIMER_ACT_ZERO_KEYS;
	}
	if (due(t, WG_TIMER_PERSISTENT_KEEPALIVE, now_ms)) {
		disarm(t, WG_TIMER_PERSISTENT_KEEPALIVE);
		act |= WG_TIMER_ACT_SEND_KEEPALIVE;
	}
	return act;
}
