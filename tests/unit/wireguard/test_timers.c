// SPDX-License-Identifier: MIT
/*
 * The timers of WireGuard §6 on a fake clock: what each event arms, what
 * each expiry asks for, the jitter's range and the give-up after
 * REKEY_ATTEMPT_TIME.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "wg_test_util.h"
#include "wireguard/messages.h"
#include "wireguard/timers.h"

static struct wgt_random rnd;

static void init(struct wg_timers *t)
{
	memset(&rnd, 0, sizeof(rnd));
	wg_timers_init(t, wgt_random_fn, &rnd);
}

static void test_nothing_armed(void **state)
{
	struct wg_timers t;

	init(&t);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX);
	assert_int_equal(wg_timers_expire(&t, 1000000), 0);
}

static void test_retransmit_with_jitter_then_give_up(void **state)
{
	struct wg_timers t;
	uint64_t now = 1000, min_j = UINT64_MAX, max_j = 0;
	unsigned act, retries = 0;

	init(&t);
	wg_timers_handshake_initiated(&t, now);
	for (;;) {
		uint64_t at = wg_timers_next(&t), j;

		assert_true(at >= now + REKEY_TIMEOUT_MS);
		j = at - now - REKEY_TIMEOUT_MS;
		assert_true(j < REKEY_TIMEOUT_JITTER_MAX_MS);
		min_j = j < min_j ? j : min_j;
		max_j = j > max_j ? j : max_j;
		/* not yet due one millisecond before */
		assert_int_equal(wg_timers_expire(&t, at - 1), 0);
		now = at;
		act = wg_timers_expire(&t, now);
		if (act & WG_TIMER_ACT_GIVE_UP)
			break;
		assert_int_equal(act, WG_TIMER_ACT_RETRY_INITIATION);
		retries++;
		wg_timers_handshake_initiated(&t, now); /* the retry went out */
	}
	/* §6.4: retries for REKEY_ATTEMPT_TIME (90 s), then stop */
	assert_int_equal(retries, MAX_TIMER_HANDSHAKES + 1);
	assert_true(now - 1000 >= REKEY_ATTEMPT_TIME_MS);
	assert_true(now - 1000 < REKEY_ATTEMPT_TIME_MS + 2 * REKEY_TIMEOUT_MS +
					 19 * REKEY_TIMEOUT_JITTER_MAX_MS);
	/* the jitter really varies */
	assert_true(max_j > min_j);
	/* then the keys are erased after 3 * REJECT_AFTER_TIME */
	assert_int_equal(wg_timers_next(&t), now + 3ULL * REJECT_AFTER_TIME_MS);
	assert_int_equal(
		wg_timers_expire(&t, now + 3ULL * REJECT_AFTER_TIME_MS),
		WG_TIMER_ACT_ZERO_KEYS);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX);
}

static void test_handshake_complete_stops_retransmit(void **state)
{
	struct wg_timers t;

	init(&t);
	wg_timers_handshake_initiated(&t, 0);
	wg_timers_expire(&t, REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS);
	assert_int_equal(t.handshake_attempts, 1);
	wg_timers_handshake_initiated(&t, 6000);
	wg_timers_handshake_complete(&t, 6100);
	assert_int_equal(t.handshake_attempts, 0);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX);
	wg_timers_session_derived(&t, 6100);
	assert_int_equal(wg_timers_next(&t),
			 6100 + 3ULL * REJECT_AFTER_TIME_MS);
}

/* §6.5: data in, nothing out for KEEPALIVE_TIMEOUT: one keepalive. */
static void test_passive_keepalive(void **state)
{
	struct wg_timers t;

	init(&t);
	wg_timers_data_received(&t, 100);
	assert_int_equal(wg_timers_next(&t), 100 + KEEPALIVE_TIMEOUT_MS);
	/* more data meanwhile: another keepalive after this one */
	wg_timers_data_received(&t, 5000);
	assert_int_equal(wg_timers_expire(&t, 100 + KEEPALIVE_TIMEOUT_MS),
			 WG_TIMER_ACT_SEND_KEEPALIVE);
	assert_int_equal(wg_timers_next(&t), 100 + 2 * KEEPALIVE_TIMEOUT_MS);
	/* but anything we send cancels it */
	wg_timers_any_authenticated_packet_sent(&t, 12000);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX);
}

/* §6.2: data out, nothing back for KEEPALIVE + REKEY_TIMEOUT: new handshake. */
static void test_new_handshake_when_unanswered(void **state)
{
	struct wg_timers t;
	uint64_t at;

	init(&t);
	wg_timers_data_sent(&t, 0);
	at = wg_timers_next(&t);
	assert_true(at >= KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS);
	assert_true(at < KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS +
				 REKEY_TIMEOUT_JITTER_MAX_MS);
	/* more data does not push it back */
	wg_timers_data_sent(&t, 3000);
	assert_int_equal(wg_timers_next(&t), at);
	assert_int_equal(wg_timers_expire(&t, at),
			 WG_TIMER_ACT_SEND_INITIATION);
	/* an answer in time disarms it */
	wg_timers_data_sent(&t, at + 1);
	wg_timers_any_authenticated_packet_received(&t, at + 2);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX);
}

static void test_persistent_keepalive(void **state)
{
	struct wg_timers t;

	init(&t);
	wg_timers_any_authenticated_packet_traversal(&t, 0);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX); /* off */
	wg_timers_set_persistent_keepalive(&t, 25, 0);
	wg_timers_any_authenticated_packet_traversal(&t, 1000);
	wg_timers_any_authenticated_packet_traversal(&t, 2000);
	assert_int_equal(wg_timers_next(&t), 27000);
	assert_int_equal(wg_timers_expire(&t, 27000),
			 WG_TIMER_ACT_SEND_KEEPALIVE);
	wg_timers_set_persistent_keepalive(&t, 0, 27000);
	wg_timers_any_authenticated_packet_traversal(&t, 28000);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX);
}

static void test_stop(void **state)
{
	struct wg_timers t;

	init(&t);
	wg_timers_handshake_initiated(&t, 0);
	wg_timers_data_sent(&t, 0);
	wg_timers_data_received(&t, 0);
	wg_timers_session_derived(&t, 0);
	wg_timers_stop(&t);
	assert_int_equal(wg_timers_next(&t), UINT64_MAX);
	assert_int_equal(wg_timers_expire(&t, UINT64_MAX - 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_armed),
		cmocka_unit_test(test_retransmit_with_jitter_then_give_up),
		cmocka_unit_test(test_handshake_complete_stops_retransmit),
		cmocka_unit_test(test_passive_keepalive),
		cmocka_unit_test(test_new_handshake_when_unanswered),
		cmocka_unit_test(test_persistent_keepalive),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
