// SPDX-License-Identifier: MIT
/*
 * The replay window against a deliberately plain reference: a byte per
 * counter ever seen and the highest one. Random sequences (in order, jittered,
 * duplicated, far behind, far ahead) must get the same verdict from both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "wireguard/replay.h"

struct ref {
	uint64_t base;
	size_t size;
	uint8_t *seen;
	uint64_t max;
	bool any;
};

static bool ref_accept(struct ref *r, uint64_t n)
{
	if (n >= REJECT_AFTER_MESSAGES)
		return false;
	if (r->any && n + WG_REPLAY_WINDOW < r->max)
		return false;
	assert_true(n >= r->base && n - r->base < r->size);
	if (r->seen[n - r->base])
		return false;
	r->seen[n - r->base] = 1;
	if (!r->any || n > r->max)
		r->max = n;
	r->any = true;
	return true;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible sequences */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* cur - d, but never below base */
static uint64_t back(uint64_t base, uint64_t cur, uint64_t d)
{
	return d <= cur - base ? cur - d : base;
}

/* One random walk of n steps starting at base, in a space of `span`. */
static void run_walk(uint64_t base, uint64_t span, unsigned steps)
{
	struct ref ref = { .base = base, .size = span };
	static struct wg_replay w;
	uint64_t cur = base, n;
	unsigned accepted = 0;

	ref.seen = calloc(span, 1);
	assert_non_null(ref.seen);
	wg_replay_init(&w);
	for (unsigned i = 0; i < steps; i++) {
		switch (rnd() % 8) {
		case 0: /* far behind, maybe beyond the window */
			n = back(base, cur, rnd() % (2 * WG_REPLAY_WINDOW + 2));
			break;
		case 1: /* around the window's edge */
			n = back(base, cur, WG_REPLAY_WINDOW - 1 + rnd() % 3);
			break;
		case 2: /* a jump ahead, sometimes past a whole ring */
			cur += rnd() %
			       (rnd() % 32 ? 200 : 3 * WG_REPLAY_BITS_TOTAL);
			n = cur;
			break;
		case 3: /* a duplicate of something recent */
			n = back(base, cur, rnd() % 64);
			break;
		default: /* mostly in order, slightly reordered */
			cur += 1 + rnd() % 3;
			n = back(base, cur, rnd() % 5);
			break;
		}
		if (n < base)
			n = base;
		if (n - base >= span) {
			n = base + span - 1;
			cur = n;
		}
		/* check must predict accept, and both must match the reference */
		bool predicted = wg_replay_check(&w, n);
		bool got = wg_replay_accept(&w, n);
		bool want = ref_accept(&ref, n);
		if (got != want || predicted != got)
			fail_msg(
				"counter %llu (step %u): window %d, reference %d, check %d",
				(unsigned long long)n, i, got, want, predicted);
		accepted += got;
	}
	/* the walk must have exercised both verdicts */
	if (accepted <= steps / 4)
		fail_msg("only %u of %u accepted, last %llu", accepted, steps,
			 (unsigned long long)cur);
	assert_true(accepted < steps);
	free(ref.seen);
}

static void test_random_walks(void **state)
{
	for (int i = 0; i < 40; i++)
		run_walk(0, 1u << 22, 20000);
}

static void test_near_reject_limit(void **state)
{
	/* the last counters before REJECT_AFTER_MESSAGES, then refusal */
	run_walk(REJECT_AFTER_MESSAGES - 100000, 100000 + 10, 1000);

	static struct wg_replay w;
	wg_replay_init(&w);
	assert_true(wg_replay_accept(&w, REJECT_AFTER_MESSAGES - 1));
	assert_false(wg_replay_accept(&w, REJECT_AFTER_MESSAGES));
	assert_false(wg_replay_accept(&w, UINT64_MAX));
	assert_true(wg_replay_accept(&w, REJECT_AFTER_MESSAGES - 2));
}

static void test_window_size(void **state)
{
	static struct wg_replay w;

	/* at least 2048 packets of reordering are tolerated (issue 4) */
	assert_true(WG_REPLAY_WINDOW >= 2048);
	wg_replay_init(&w);
	assert_true(wg_replay_accept(&w, 0));
	assert_false(wg_replay_accept(&w, 0));
	assert_true(wg_replay_accept(&w, 10000));
	assert_true(wg_replay_accept(&w, 10000 - WG_REPLAY_WINDOW));
	assert_false(wg_replay_accept(&w, 10000 - WG_REPLAY_WINDOW - 1));
	for (uint64_t n = 10000 - 2048; n < 10000; n++)
		assert_true(wg_replay_accept(&w, n));
	for (uint64_t n = 10000 - 2048; n <= 10000; n++)
		assert_false(wg_replay_accept(&w, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_walks),
		cmocka_unit_test(test_near_reject_limit),
		cmocka_unit_test(test_window_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
