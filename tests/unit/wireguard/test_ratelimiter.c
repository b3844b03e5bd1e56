// SPDX-License-Identifier: MIT
/*
 * The handshake rate limiter against a plain reference: one token bucket per
 * source in a list that never forgets. While the table has room the two must
 * agree on every verdict; when a set is full, new sources are refused until
 * an entry has been idle for a second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wireguard/ratelimiter.h"

struct ref_entry {
	union sockaddr_any src;
	uint64_t last_us, tokens_us;
};

static struct ref_entry ref[64];
static unsigned nref;

static bool ref_allow(const union sockaddr_any *src, uint64_t now_ms)
{
	const uint64_t cost = 1000000 / RATELIMIT_PACKETS_PER_SECOND;
	const uint64_t max = cost * RATELIMIT_PACKETS_BURSTABLE;
	uint64_t now = now_ms * 1000;
	struct ref_entry *e = NULL;

	for (unsigned i = 0; i < nref; i++)
		if (addr_equal_ip(&ref[i].src, src))
			e = &ref[i];
	if (!e) {
		e = &ref[nref++];
		e->src = *src;
		e->last_us = now;
		e->tokens_us = max - cost;
		return true;
	}
	e->tokens_us += now - e->last_us;
	if (e->tokens_us > max)
		e->tokens_us = max;
	e->last_us = now;
	if (e->tokens_us < cost)
		return false;
	e->tokens_us -= cost;
	return true;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_against_reference(void **state)
{
	struct wg_ratelimiter rl;
	uint8_t key[16] = { 1, 2, 3 };
	union sockaddr_any src[16];
	char s[64];
	uint64_t now = 5000;
	unsigned allowed = 0, refused = 0;

	nref = 0;
	assert_int_equal(wg_ratelimiter_init(&rl, 0, key), 0);
	for (int i = 0; i < 16; i++) {
		snprintf(s, sizeof(s),
			 i % 2 ? "192.0.2.%d:%d" : "[2001:db8:%x::1]:%d", i + 1,
			 1000 + i);
		assert_int_equal(addr_parse(s, 0, &src[i]), 0);
	}
	for (int step = 0; step < 100000; step++) {
		const union sockaddr_any *a = &src[rnd() % 16];
		/* bursts (same ms) and gaps, so both verdicts happen */
		now += rnd() % 16 == 0 ? rnd() % 120 : 0;
		bool got = wg_ratelimiter_allow(&rl, a, now);
		bool want = ref_allow(a, now);
		if (got != want)
			fail_msg("step %d: limiter %d, reference %d", step, got,
				 want);
		got ? allowed++ : refused++;
	}
	if (allowed < 1000 || refused < 1000)
		fail_msg("allowed %u refused %u", allowed, refused);
	wg_ratelimiter_free(&rl);
}

static void test_burst_rate_and_v6_prefix(void **state)
{
	struct wg_ratelimiter rl;
	uint8_t key[16] = { 0 };
	union sockaddr_any a, b;
	int n = 0;

	assert_int_equal(wg_ratelimiter_init(&rl, 0, key), 0);
	addr_parse("[2001:db8:1:2::1]:1", 0, &a);
	addr_parse("[2001:db8:1:2::ffff]:9", 0, &b); /* same /64 */
	/* a burst of 5, then one per 50 ms */
	while (wg_ratelimiter_allow(&rl, n % 2 ? &a : &b, 1000))
		n++;
	assert_int_equal(n, RATELIMIT_PACKETS_BURSTABLE);
	assert_false(wg_ratelimiter_allow(&rl, &a, 1049));
	assert_true(wg_ratelimiter_allow(&rl, &b, 1050));
	assert_false(wg_ratelimiter_allow(&rl, &a, 1050));
	/* another /64 is another source */
	addr_parse("[2001:db8:1:3::1]:1", 0, &b);
	assert_true(wg_ratelimiter_allow(&rl, &b, 1050));
	wg_ratelimiter_free(&rl);
}

static void test_full_table_refuses_then_recovers(void **state)
{
	struct wg_ratelimiter rl;
	uint8_t key[16] = { 0 };
	union sockaddr_any a;
	char s[32];

	/* one set: room for RATELIMIT_WAYS sources */
	assert_int_equal(wg_ratelimiter_init(&rl, 3, key), -EINVAL);
	assert_int_equal(wg_ratelimiter_init(&rl, 1, key), 0);
	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		snprintf(s, sizeof(s), "198.51.100.%d", i + 1);
		addr_parse(s, 1, &a);
		assert_true(wg_ratelimiter_allow(&rl, &a, 0));
	}
	addr_parse("203.0.113.1", 1, &a);
	assert_false(wg_ratelimiter_allow(&rl, &a, 999));
	assert_true(wg_ratelimiter_allow(&rl, &a, 1000));
	/* an unknown family is never let through */
	memset(&a, 0, sizeof(a));
	assert_false(wg_ratelimiter_allow(&rl, &a, 5000));
	wg_ratelimiter_free(&rl);
	wg_ratelimiter_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_burst_rate_and_v6_prefix),
		cmocka_unit_test(test_full_table_refuses_then_recovers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
