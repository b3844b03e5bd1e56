// SPDX-License-Identifier: MIT
/* Storage semantics: registration, addresses, removal, signals, migration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/cred.h"
#include "coordinator/store.h"

struct fx {
	char dir[64];
	char path[PATH_MAX];
	struct coord_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct coord_config cfg = { 0 };

	strcpy(f->dir, "/tmp/icemesh-coord-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/coord.db", f->dir);
	if (coord_store_open(f->path, true, &f->s))
		return -1;
	/* a /24 so that the pool can be exhausted in a test */
	coord_config_set_v4(&cfg, "10.9.8.0/24");
	coord_config_set_v6(&cfg, "fd00:1:2::/48");
	strcpy(cfg.turn_secret, "secret");
	cfg.turn_ttl_s = 3600;
	if (coord_store_config_init(f->s, &cfg))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];

	coord_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void key_for(unsigned i, uint8_t key[32])
{
	memset(key, 0, 32);
	key[0] = (uint8_t)i;
	key[1] = (uint8_t)(i >> 8);
	key[31] = 0x5a;
}

static void hash_of(const char *s, uint8_t h[32])
{
	coord_token_hash(s, strlen(s), h);
}

static int reg(struct fx *f, const char *authkey, unsigned i, const char *host,
	       struct coord_node *n, bool *created)
{
	uint8_t kh[32], ch[32], key[32];
	char cred[32];

	snprintf(cred, sizeof(cred), "cred-%u-%u", i, randombytes_random());
	hash_of(authkey, kh);
	hash_of(cred, ch);
	key_for(i, key);
	return coord_store_register(f->s, kh, key, host, ch, 1000, n, created);
}

static void add_key(struct fx *f, const char *k, bool reusable,
		    uint64_t expires)
{
	uint8_t h[32];

	hash_of(k, h);
	assert_int_equal(coord_store_authkey_add(f->s, h, reusable, false,
						 expires, 1000),
			 0);
}

static void test_config(void **state)
{
	struct fx *f = *state;
	struct coord_config c;

	assert_int_equal(coord_store_config_get(f->s, &c), 0);
	assert_string_equal(c.v4_str, "10.9.8.0/24");
	assert_string_equal(c.v6_str, "fd00:1:2::/48");
	assert_string_equal(c.turn_secret, "secret");
	assert_int_equal(c.turn_ttl_s, 3600);
	assert_int_equal(coord_store_config_init(f->s, &c), -EEXIST);
}

static void test_register_rules(void **state)
{
	struct fx *f = *state;
	struct coord_node a, b, c;
	bool created;

	add_key(f, "once", false, 0);
	add_key(f, "many", true, 0);
	add_key(f, "old", true, 999);
	assert_int_equal(reg(f, "nope", 1, "", &a, &created), -ENOKEY);
	assert_int_equal(reg(f, "old", 1, "", &a, &created), -EKEYEXPIRED);
	assert_int_equal(reg(f, "once", 1, "Host", &a, &created), 0);
	assert_true(created);
	assert_string_equal(a.name, "host");
	/* a retry with the same single-use key and node key: same node */
	assert_int_equal(reg(f, "once", 1, "other", &b, &created), 0);
	assert_false(created);
	assert_int_equal(a.id, b.id);
	assert_int_equal(a.slot, b.slot);
	assert_string_equal(b.name, "host");
	/* another node key with the used single-use key */
	assert_int_equal(reg(f, "once", 2, "", &c, &created), -EKEYREJECTED);
	assert_int_equal(reg(f, "many", 2, "host", &c, &created), 0);
	assert_string_equal(c.name, "host-2");
	assert_int_not_equal(c.slot, a.slot);
	assert_int_equal(reg(f, "many", 3, "", &c, &created), 0);
	assert_string_equal(c.name, "node-3");
}

static void test_credentials_rotate(void **state)
{
	struct fx *f = *state;
	uint8_t kh[32], c1[32], c2[32], key[32];
	struct coord_node n;
	bool created;

	add_key(f, "many", true, 0);
	hash_of("many", kh);
	hash_of("c1", c1);
	hash_of("c2", c2);
	key_for(7, key);
	assert_int_equal(
		coord_store_register(f->s, kh, key, "", c1, 1, &n, &created),
		0);
	assert_int_equal(coord_store_node_by_cred(f->s, c1, &n), 0);
	assert_int_equal(
		coord_store_register(f->s, kh, key, "", c2, 1, &n, &created),
		0);
	assert_int_equal(coord_store_node_by_cred(f->s, c1, &n), -ENOENT);
	assert_int_equal(coord_store_node_by_cred(f->s, c2, &n), 0);
}

/* Addresses are never shared, and a removed node's address is not reused
 * while never-used ones remain. */
static void test_addresses(void **state)
{
	struct fx *f = *state;
	struct coord_node n[260];
	uint64_t removed_slot;
	bool created, seen[256] = { 0 };
	unsigned i;

	add_key(f, "many", true, 0);
	for (i = 0; i < 100; i++) {
		assert_int_equal(reg(f, "many", i + 1, "", &n[i], &created), 0);
		assert_false(seen[n[i].slot]);
		seen[n[i].slot] = true;
	}
	removed_slot = n[0].slot;
	assert_int_equal(coord_store_node_remove(f->s, n[0].id, 2000), 0);
	assert_int_equal(coord_store_node_remove(f->s, n[0].id, 2000), -ENOENT);
	/* the rest of the /24 (254 usable) fills without the removed slot */
	for (; i < 254; i++) {
		assert_int_equal(reg(f, "many", i + 1, "", &n[i], &created), 0);
		assert_int_not_equal(n[i].slot, removed_slot);
		assert_false(seen[n[i].slot]);
		seen[n[i].slot] = true;
	}
	/* only then is the released one handed out again */
	assert_int_equal(reg(f, "many", 1000, "", &n[i], &created), 0);
	assert_int_equal(n[i].slot, removed_slot);
	assert_int_equal(reg(f, "many", 1001, "", &n[i], &created), -ENOSPC);
}

static void test_rename(void **state)
{
	struct fx *f = *state;
	struct coord_node a, b;
	uint64_t c0, c1;
	bool created;

	add_key(f, "many", true, 0);
	assert_int_equal(reg(f, "many", 1, "a", &a, &created), 0);
	assert_int_equal(reg(f, "many", 2, "b", &b, &created), 0);
	assert_int_equal(coord_store_changes(f->s, &c0), 0);
	assert_int_equal(coord_store_node_rename(f->s, a.id, "b"), -EEXIST);
	assert_int_equal(coord_store_node_rename(f->s, a.id, "B"), -EINVAL);
	assert_int_equal(coord_store_node_rename(f->s, 99, "zz"), -ENOENT);
	assert_int_equal(coord_store_node_rename(f->s, a.id, "aa"), 0);
	assert_int_equal(coord_store_changes(f->s, &c1), 0);
	assert_true(c1 > c0);
	assert_int_equal(coord_store_node_by_name(f->s, "aa", &b), 0);
	assert_int_equal(b.id, a.id);
}

struct got {
	unsigned n;
	uint64_t seq[300];
	char id[300][COORD_MAX_MSGID + 1];
};

static int collect(const struct coord_signal *m, void *arg)
{
	struct got *g = arg;

	g->seq[g->n] = m->seq;
	snprintf(g->id[g->n], sizeof(g->id[0]), "%s", m->id);
	g->n++;
	return 0;
}

static void put(struct fx *f, uint64_t from, uint64_t to, const char *id,
		const char *payload, int expect, uint64_t *seq, bool *dup)
{
	struct coord_signal_req *r = calloc(1, sizeof(*r));

	r->to = to;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->payload_len = strlen(payload);
	memcpy(r->payload, payload, r->payload_len);
	assert_int_equal(coord_store_signal_put(f->s, from, r, 5000, seq, dup),
			 expect);
	free(r);
}

static void test_signals(void **state)
{
	struct fx *f = *state;
	struct coord_node a, b;
	struct got g = { 0 };
	uint64_t s1, s2, s3, sx;
	bool created, dup, more;
	char id[16];

	add_key(f, "many", true, 0);
	assert_int_equal(reg(f, "many", 1, "a", &a, &created), 0);
	assert_int_equal(reg(f, "many", 2, "b", &b, &created), 0);
	put(f, a.id, b.id, "m1", "one", 0, &s1, &dup);
	assert_false(dup);
	put(f, a.id, b.id, "m2", "two", 0, &s2, &dup);
	put(f, a.id, b.id, "m1", "one", 0, &sx, &dup);
	assert_true(dup);
	assert_int_equal(sx, s1);
	put(f, a.id, b.id, "m1", "ONE", -EEXIST, &sx, &dup);
	put(f, a.id, 999, "m9", "x", -ENOENT, &sx, &dup);
	put(f, b.id, a.id, "m1", "back", 0, &s3, &dup); /* ids are per sender */
	assert_true(s1 < s2 && s2 < s3);

	assert_int_equal(coord_store_signal_fetch(f->s, b.id, 0, 64, 5000,
						  collect, &g, &more),
			 2);
	assert_false(more);
	assert_int_equal(g.seq[0], s1);
	assert_int_equal(g.seq[1], s2);
	/* fetching again without an ack returns the same */
	g.n = 0;
	assert_int_equal(coord_store_signal_fetch(f->s, b.id, 0, 1, 5000,
						  collect, &g, &more),
			 1);
	assert_true(more);
	/* ack the first: only the second is left */
	assert_int_equal(coord_store_signal_ack(f->s, b.id, s1), 0);
	g.n = 0;
	assert_int_equal(coord_store_signal_fetch(f->s, b.id, 0, 64, 5000,
						  collect, &g, &more),
			 1);
	assert_int_equal(g.seq[0], s2);
	/* a retry after delivery is still a duplicate, not queued again */
	put(f, a.id, b.id, "m1", "one", 0, &sx, &dup);
	assert_true(dup);
	g.n = 0;
	assert_int_equal(coord_store_signal_fetch(f->s, b.id, s1, 64, 5000,
						  collect, &g, &more),
			 1);
	/* messages past the max age are not delivered */
	g.n = 0;
	assert_int_equal(
		coord_store_signal_fetch(f->s, b.id, 0, 64,
					 5000 + COORD_SIGNAL_MAX_AGE_S + 1,
					 collect, &g, &more),
		0);
	/* the queue cap per recipient */
	assert_int_equal(coord_store_signal_ack(f->s, b.id, s2), 0);
	for (unsigned i = 0; i < COORD_SIGNAL_MAX_PENDING; i++) {
		snprintf(id, sizeof(id), "q%u", i);
		put(f, a.id, b.id, id, "x", 0, &sx, &dup);
	}
	put(f, a.id, b.id, "over", "x", -ENOBUFS, &sx, &dup);
	/* removal drops the node's queue */
	assert_int_equal(coord_store_node_remove(f->s, b.id, 6000), 0);
	g.n = 0;
	assert_int_equal(coord_store_signal_fetch(f->s, b.id, 0, 64, 5000,
						  collect, &g, &more),
			 0);
}

/* Reopening applies no migration twice and keeps everything. */
static void test_reopen(void **state)
{
	struct fx *f = *state;
	struct coord_node a, b;
	bool created;

	add_key(f, "many", true, 0);
	assert_int_equal(reg(f, "many", 1, "a", &a, &created), 0);
	coord_store_close(f->s);
	assert_int_equal(coord_store_open(f->path, false, &f->s), 0);
	assert_int_equal(coord_store_node_by_id(f->s, a.id, &b), 0);
	assert_string_equal(b.name, "a");
	assert_int_equal(coord_store_open("/nonexistent/x.db", false,
					  &(struct coord_store *){ NULL }),
			 -ENOENT);
}

static void test_ephemeral(void **state)
{
	struct fx *f = *state;
	uint8_t kh[32], ch[32], key[32];
	struct coord_node n;
	unsigned removed;
	bool created;

	hash_of("eph", kh);
	assert_int_equal(coord_store_authkey_add(f->s, kh, true, true, 0, 1),
			 0);
	hash_of("c", ch);
	key_for(1, key);
	assert_int_equal(
		coord_store_register(f->s, kh, key, "", ch, 100, &n, &created),
		0);
	assert_true(n.ephemeral);
	assert_int_equal(coord_store_node_touch(f->s, n.id, 500), 0);
	assert_int_equal(
		coord_store_remove_stale_ephemeral(f->s, 400, 1000, &removed),
		0);
	assert_int_equal(removed, 0);
	assert_int_equal(
		coord_store_remove_stale_ephemeral(f->s, 600, 1000, &removed),
		0);
	assert_int_equal(removed, 1);
	assert_int_equal(coord_store_node_by_id(f->s, n.id, &n), -ENOENT);

	/* many nodes, some seen lately (touched together): only idle go */
	{
		uint64_t ids[200], live[100];
		unsigned nl = 0;
		for (unsigned i = 0; i < 200; i++) {
			char c[16];
			snprintf(c, sizeof(c), "c%u", i);
			hash_of(c, ch);
			key_for(100 + i, key);
			assert_int_equal(coord_store_register(f->s, kh, key, "",
							      ch, 100, &n,
							      &created),
					 0);
			ids[i] = n.id;
			if (i % 2)
				live[nl++] = n.id;
		}
		assert_int_equal(coord_store_touch_many(f->s, live, nl, 2000),
				 0);
		removed = 0;
		for (unsigned round = 0; round < 5; round++) {
			unsigned r;
			assert_int_equal(coord_store_remove_stale_ephemeral(
						 f->s, 1500, 2000, &r),
					 0);
			removed += r;
		}
		assert_int_equal(removed, 100);
		for (unsigned i = 0; i < 200; i++)
			assert_int_equal(
				coord_store_node_by_id(f->s, ids[i], &n),
				i % 2 ? 0 : -ENOENT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_credentials_rotate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_addresses, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ephemeral, setup,
						teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
