// SPDX-License-Identifier: MIT
/*
 * A peer's life, decided without a network: the offer/answer rules on a
 * table of cases, then two simulated nodes exchanging descriptions in
 * every order the coordinator may deliver them (both offering at once,
 * one restarting, both restarting) until they must agree on one session
 * pair, and the map diff against a plain reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "daemon/peerstate.h"

static void test_rules(void **state)
{
	struct peerstate_ice asleep = { false, 0, 0 };
	struct peerstate_ice offered = { true, 10, 0 };
	struct peerstate_ice paired = { true, 10, 20 };

	(void)state;
	assert_int_equal(peerstate_on_desc(&asleep, 20, 0), PEERSTATE_WAKE);
	assert_int_equal(peerstate_on_desc(&asleep, 20, 99), PEERSTATE_WAKE);
	assert_int_equal(peerstate_on_desc(&offered, 20, 10),
			 PEERSTATE_ACCEPT);
	assert_int_equal(peerstate_on_desc(&offered, 20, 0),
			 PEERSTATE_REOFFER);
	assert_int_equal(peerstate_on_desc(&offered, 20, 11),
			 PEERSTATE_REOFFER);
	assert_int_equal(peerstate_on_desc(&paired, 20, 10), PEERSTATE_IGNORE);
	assert_int_equal(peerstate_on_desc(&paired, 20, 0), PEERSTATE_IGNORE);
	assert_int_equal(peerstate_on_desc(&paired, 21, 0), PEERSTATE_RESTART);
	assert_int_equal(peerstate_on_desc(&paired, 21, 10),
			 PEERSTATE_RESTART);
}

/* ------------------------------------------------------------ simulation */

struct msg {
	uint64_t gen, ack;
};

struct node {
	struct peerstate_ice s;
	uint64_t next_gen;
	struct msg out[64]; /* to the other, in order (the coordinator's) */
	size_t n_out, head;
	unsigned restarts;
};

static void offer(struct node *n, uint64_t ack)
{
	n->s.awake = true;
	n->s.mygen = n->next_gen++;
	n->s.rgen = 0;
	assert_true(n->n_out < 64);
	n->out[n->n_out++] = (struct msg){ n->s.mygen, ack };
}

/* What mesh.c does with each action. */
static void deliver(struct node *to, const struct msg *m)
{
	switch (peerstate_on_desc(&to->s, m->gen, m->ack)) {
	case PEERSTATE_WAKE:
		offer(to, m->gen);
		to->s.rgen = m->gen;
		break;
	case PEERSTATE_IGNORE:
		break;
	case PEERSTATE_ACCEPT:
		to->s.rgen = m->gen;
		break;
	case PEERSTATE_RESTART:
		to->restarts++;
		offer(to, m->gen);
		to->s.rgen = m->gen;
		break;
	case PEERSTATE_REOFFER:
		to->s.rgen = m->gen;
		assert_true(to->n_out < 64);
		to->out[to->n_out++] = (struct msg){ to->s.mygen, m->gen };
		break;
	}
}

static bool paired(const struct node *a, const struct node *b)
{
	return a->s.awake && b->s.awake && a->s.rgen == b->s.mygen &&
	       b->s.rgen == a->s.mygen;
}

/* Deliver in a random interleaving (each direction in order). */
static void run(struct node *a, struct node *b, unsigned seed)
{
	srand(seed);
	while (a->head < a->n_out || b->head < b->n_out) {
		bool from_a = b->head >= b->n_out ||
			      (a->head < a->n_out && rand() % 2);

		if (from_a)
			deliver(b, &a->out[a->head++]);
		else
			deliver(a, &b->out[b->head++]);
	}
}

static void init_nodes(struct node *a, struct node *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->next_gen = 100;
	b->next_gen = 200;
}

static void test_converges(void **state)
{
	(void)state;
	for (unsigned seed = 0; seed < 500; seed++) {
		struct node a, b;

		/* one side wakes */
		init_nodes(&a, &b);
		offer(&a, 0);
		run(&a, &b, seed);
		assert_true(paired(&a, &b));
		assert_int_equal(a.restarts + b.restarts, 0);

		/* both wake at once (glare) */
		init_nodes(&a, &b);
		offer(&a, 0);
		offer(&b, 0);
		run(&a, &b, seed);
		assert_true(paired(&a, &b));

		/* a restarts ICE (consent lost): b follows once */
		offer(&a, 0);
		run(&a, &b, seed);
		assert_true(paired(&a, &b));
		assert_int_equal(b.restarts, 1);

		/* both restart at once */
		offer(&a, 0);
		offer(&b, 0);
		run(&a, &b, seed);
		assert_true(paired(&a, &b));

		/* b's daemon restarts: its state is gone, a's is not */
		b.s = (struct peerstate_ice){ 0 };
		b.head = b.n_out;
		offer(&b, 0);
		run(&a, &b, seed);
		assert_true(paired(&a, &b));
	}
}

/* ------------------------------------------------------------ diff */

static void key(uint8_t k[32], unsigned v)
{
	memset(k, 0, 32);
	k[0] = (uint8_t)v;
	k[31] = (uint8_t)(v >> 8);
}

static void test_diff(void **state)
{
	uint8_t cur[4][32], next[6][32], self[32];
	long map[6];
	bool keep[4];

	(void)state;
	key(self, 99);
	for (unsigned i = 0; i < 4; i++)
		key(cur[i], i); /* 0 1 2 3 */
	key(next[0], 3); /* kept */
	key(next[1], 99); /* ourselves */
	key(next[2], 7); /* new */
	key(next[3], 1); /* kept */
	key(next[4], 7); /* twice */
	key(next[5], 8); /* new */
	assert_int_equal(peerstate_diff((const uint8_t(*)[32])cur, 4,
					(const uint8_t(*)[32])next, 6, self,
					map, keep),
			 2);
	assert_int_equal(map[0], 3);
	assert_int_equal(map[1], -2);
	assert_int_equal(map[2], -1);
	assert_int_equal(map[3], 1);
	assert_int_equal(map[4], -2);
	assert_int_equal(map[5], -1);
	assert_false(keep[0]);
	assert_true(keep[1]);
	assert_false(keep[2]);
	assert_true(keep[3]);
	/* an empty map removes everyone */
	assert_int_equal(peerstate_diff((const uint8_t(*)[32])cur, 4, NULL, 0,
					self, map, keep),
			 0);
	for (int j = 0; j < 4; j++)
		assert_false(keep[j]);
}

/* Against a reference: random maps, every kept key found, no key lost. */
static void test_diff_random(void **state)
{
	(void)state;
	srand(7);
	for (int round = 0; round < 200; round++) {
		uint8_t cur[32][32], next[40][32], self[32];
		long map[40];
		bool keep[32];
		size_t nc = (size_t)(rand() % 32), nn = (size_t)(rand() % 40);
		size_t adds = 0;

		key(self, 1000);
		for (size_t j = 0; j < nc; j++)
			key(cur[j], (unsigned)j * 3); /* distinct */
		for (size_t i = 0; i < nn; i++)
			key(next[i], (unsigned)(rand() % 100));
		size_t got = peerstate_diff((const uint8_t(*)[32])cur, nc,
					    (const uint8_t(*)[32])next, nn,
					    self, map, keep);
		for (size_t i = 0; i < nn; i++) {
			bool in_cur = false, earlier = false;

			for (size_t j = 0; j < nc; j++)
				in_cur |= !memcmp(cur[j], next[i], 32);
			for (size_t k = 0; k < i; k++)
				earlier |= !memcmp(next[k], next[i], 32);
			if (earlier)
				assert_int_equal(map[i], -2);
			else if (in_cur)
				assert_memory_equal(cur[map[i]], next[i], 32);
			else
				assert_int_equal(map[i], -1);
			adds += !earlier && !in_cur;
		}
		assert_int_equal(got, adds);
		for (size_t j = 0; j < nc; j++) {
			bool in_next = false;

			for (size_t i = 0; i < nn; i++)
				in_next |= !memcmp(cur[j], next[i], 32);
			assert_int_equal(keep[j], in_next);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_converges),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
