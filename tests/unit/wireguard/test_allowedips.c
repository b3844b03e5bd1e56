// SPDX-License-Identifier: MIT
/*
 * The allowed-IPs trie against a deliberately plain reference: an array of
 * prefixes searched linearly for the longest match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wireguard/allowedips.h"

struct ref_entry {
	int family;
	uint8_t ip[16];
	uint8_t cidr;
	void *peer;
};

struct ref {
	struct ref_entry *e;
	size_t n, cap;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible across runs and libcs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void mask(uint8_t *ip, unsigned cidr, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		if (cidr >= (i + 1) * 8)
			continue;
		if (cidr <= i * 8)
			ip[i] = 0;
		else
			ip[i] &= (uint8_t)(0xff << (8 - (cidr - i * 8)));
	}
}

static bool ref_match(const struct ref_entry *e, int family, const uint8_t *ip)
{
	uint8_t m[16];
	unsigned bytes = family == AF_INET ? 4 : 16;

	if (e->family != family)
		return false;
	memcpy(m, ip, bytes);
	mask(m, e->cidr, bytes);
	return memcmp(m, e->ip, bytes) == 0;
}

static struct ref_entry *ref_find(struct ref *r, int family, const uint8_t *ip,
				  uint8_t cidr)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].family == family && r->e[i].cidr == cidr &&
		    memcmp(r->e[i].ip, ip, 16) == 0)
			return &r->e[i];
	return NULL;
}

static void ref_insert(struct ref *r, int family, const uint8_t *raw,
		       uint8_t cidr, void *peer)
{
	uint8_t ip[16] = { 0 };
	struct ref_entry *e;

	memcpy(ip, raw, family == AF_INET ? 4 : 16);
	mask(ip, cidr, 16);
	e = ref_find(r, family, ip, cidr);
	if (e) {
		e->peer = peer;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->e = realloc(r->e, r->cap * sizeof(*r->e));
		assert_non_null(r->e);
	}
	e = &r->e[r->n++];
	e->family = family;
	memcpy(e->ip, ip, 16);
	e->cidr = cidr;
	e->peer = peer;
}

static int ref_remove(struct ref *r, int family, const uint8_t *raw,
		      uint8_t cidr, void *peer)
{
	uint8_t ip[16] = { 0 };
	struct ref_entry *e;

	memcpy(ip, raw, family == AF_INET ? 4 : 16);
	mask(ip, cidr, 16);
	e = ref_find(r, family, ip, cidr);
	if (!e || (peer && e->peer != peer))
		return -ENOENT;
	*e = r->e[--r->n];
	return 0;
}

static void ref_remove_peer(struct ref *r, void *peer)
{
	for (size_t i = 0; i < r->n;) {
		if (r->e[i].peer == peer)
			r->e[i] = r->e[--r->n];
		else
			i++;
	}
}

static void *ref_lookup(const struct ref *r, int family, const uint8_t *ip)
{
	const struct ref_entry *best = NULL;

	for (size_t i = 0; i < r->n; i++)
		if (ref_match(&r->e[i], family, ip) &&
		    (!best || r->e[i].cidr > best->cidr))
			best = &r->e[i];
	return best ? best->peer : NULL;
}

/* Addresses drawn from a few clustered bases so that prefixes overlap. */
static void random_ip(int family, uint8_t *ip)
{
	static const uint8_t base4[][4] = {
		{ 10, 0, 0, 0 },   { 10, 1, 0, 0 }, { 192, 168, 7, 0 },
		{ 100, 64, 0, 0 }, { 0, 0, 0, 0 },
	};
	static const uint8_t base6[][4] = {
		{ 0xfd, 0x00, 0, 0 },
		{ 0xfd, 0x00, 0x12, 0x34 },
		{ 0x20, 0x01, 0x0d, 0xb8 },
		{ 0, 0, 0, 0 },
	};
	unsigned bytes = family == AF_INET ? 4 : 16;
	uint32_t pick = rnd();

	for (unsigned i = 0; i < bytes; i++)
		ip[i] = (uint8_t)rnd();
	if (family == AF_INET) {
		const uint8_t *b = base4[pick % 5];
		unsigned keep = (pick >> 8) % 4; /* 0..3 random low bytes */

		memcpy(ip, b, 4 - keep);
	} else {
		const uint8_t *b = base6[pick % 4];

		memcpy(ip, b, 4);
		if ((pick >> 8) & 1)
			memset(ip + 4, 0, 8);
	}
}

static uint8_t random_cidr(int family)
{
	uint32_t r = rnd();

	if (family == AF_INET)
		return (uint8_t)(r % 33);
	/* favour short and host prefixes as real configs do */
	switch ((r >> 8) % 4) {
	case 0:
		return (uint8_t)(r % 49);
	case 1:
		return 128;
	default:
		return (uint8_t)(r % 129);
	}
}

static char peers[16];

struct walk_check {
	const struct ref *r;
	size_t seen;
	int last_family;
	uint8_t last_ip[16];
	uint8_t last_cidr;
};

static int walk_cb(void *arg, int family, const uint8_t *ip, uint8_t cidr,
		   void *peer)
{
	struct walk_check *w = arg;
	uint8_t full[16] = { 0 };
	const struct ref_entry *e;

	memcpy(full, ip, family == AF_INET ? 4 : 16);
	e = ref_find((struct ref *)w->r, family, full, cidr);
	assert_non_null(e);
	assert_ptr_equal(e->peer, peer);
	if (w->seen && w->last_family == family) {
		/* address order, shorter prefix first on a tie */
		int c = memcmp(w->last_ip, full, 16);

		assert_true(c < 0 || (c == 0 && w->last_cidr < cidr));
	}
	w->last_family = family;
	memcpy(w->last_ip, full, 16);
	w->last_cidr = cidr;
	w->seen++;
	return 0;
}

static void compare_all(const struct allowedips *t, const struct ref *r,
			unsigned probes)
{
	struct walk_check w = { .r = r };
	uint8_t ip[16];

	assert_int_equal(allowedips_count(t), r->n);
	for (unsigned i = 0; i < probes; i++) {
		int family = (i & 1) ? AF_INET6 : AF_INET;

		if (r->n && (i & 2)) {
			/* an address inside a stored prefix, random host bits */
			const struct ref_entry *e = &r->e[rnd() % r->n];

			family = e->family;
			random_ip(family, ip);
			for (unsigned b = 0; b < e->cidr; b++) {
				uint8_t bit = 0x80 >> (b % 8);

				ip[b / 8] = (uint8_t)((ip[b / 8] & ~bit) |
						      (e->ip[b / 8] & bit));
			}
		} else {
			random_ip(family, ip);
		}
		assert_ptr_equal(allowedips_lookup(t, family, ip),
				 ref_lookup(r, family, ip));
	}
	assert_int_equal(allowedips_walk(t, NULL, walk_cb, &w), 0);
	assert_int_equal(w.seen, r->n);
}

static void random_round(unsigned ops, unsigned probes)
{
	struct allowedips *t = allowedips_create(0);
	struct ref r = { 0 };
	uint8_t ip[16];

	assert_non_null(t);
	for (unsigned i = 0; i < ops; i++) {
		int family = (rnd() & 1) ? AF_INET6 : AF_INET;
		uint8_t cidr = random_cidr(family);
		void *peer = &peers[rnd() % 16];
		uint32_t what = rnd() % 100;

		random_ip(family, ip);
		if (what < 65) {
			assert_int_equal(
				allowedips_insert(t, family, ip, cidr, peer),
				0);
			ref_insert(&r, family, ip, cidr, peer);
		} else if (what < 85 && r.n) {
			/* remove an existing one, sometimes naming a wrong peer */
			struct ref_entry e = r.e[rnd() % r.n];
			void *who =
				(rnd() & 3) == 0 ? &peers[rnd() % 16] : e.peer;
			int want = ref_remove(&r, e.family, e.ip, e.cidr, who);

			assert_int_equal(allowedips_remove(t, e.family, e.ip,
							   e.cidr, who),
					 want);
		} else if (what < 95) {
			int want = ref_remove(&r, family, ip, cidr, NULL);

			assert_int_equal(
				allowedips_remove(t, family, ip, cidr, NULL),
				want);
		} else {
			allowedips_remove_by_peer(t, peer);
			ref_remove_peer(&r, peer);
		}
		if (i % 97 == 0)
			compare_all(t, &r, 64);
	}
	compare_all(t, &r, probes);
	allowedips_destroy(t);
	free(r.e);
}

static void test_random_against_reference(void **state)
{
	for (int round = 0; round < 8; round++)
		random_round(3000, 20000);
}

static void test_fixed_cases(void **state)
{
	struct allowedips *t = allowedips_create(0);
	uint8_t a[16], b[16];
	char p1, p2, p3;

	assert_non_null(t);
	inet_pton(AF_INET, "10.0.0.0", a);
	assert_int_equal(allowedips_insert(t, AF_INET, a, 8, &p1), 0);
	inet_pton(AF_INET, "10.1.2.99", a); /* host bits ignored */
	assert_int_equal(allowedips_insert(t, AF_INET, a, 24, &p2), 0);
	inet_pton(AF_INET, "0.0.0.0", a);
	assert_int_equal(allowedips_insert(t, AF_INET, a, 0, &p3), 0);
	inet_pton(AF_INET, "10.1.2.3", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET, b), &p2);
	inet_pton(AF_INET, "10.1.3.3", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET, b), &p1);
	inet_pton(AF_INET, "192.0.2.1", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET, b), &p3);
	/* IPv4 entries never answer IPv6 lookups */
	memset(b, 0, 16);
	assert_null(allowedips_lookup(t, AF_INET6, b));
	inet_pton(AF_INET6, "fd00::", a);
	assert_int_equal(allowedips_insert(t, AF_INET6, a, 8, &p1), 0);
	inet_pton(AF_INET6, "fd00::1", a);
	assert_int_equal(allowedips_insert(t, AF_INET6, a, 128, &p2), 0);
	inet_pton(AF_INET6, "fd00::1", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET6, b), &p2);
	inet_pton(AF_INET6, "fd00::2", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET6, b), &p1);
	assert_int_equal(allowedips_count(t), 5);
	/* bad arguments */
	assert_int_equal(allowedips_insert(t, AF_INET, a, 33, &p1), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET6, a, 129, &p1), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_UNIX, a, 1, &p1), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET, a, 1, NULL), -EINVAL);
	/* removal of a branching node's prefix keeps the longer ones */
	inet_pton(AF_INET, "10.0.0.0", a);
	assert_int_equal(allowedips_remove(t, AF_INET, a, 8, &p2), -ENOENT);
	assert_int_equal(allowedips_remove(t, AF_INET, a, 8, &p1), 0);
	assert_int_equal(allowedips_remove(t, AF_INET, a, 8, NULL), -ENOENT);
	inet_pton(AF_INET, "10.1.2.3", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET, b), &p2);
	inet_pton(AF_INET, "10.1.3.3", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET, b), &p3);
	allowedips_remove_by_peer(t, &p2);
	assert_int_equal(allowedips_count(t), 2);
	inet_pton(AF_INET6, "fd00::1", b);
	assert_ptr_equal(allowedips_lookup(t, AF_INET6, b), &p1);
	allowedips_clear(t);
	assert_int_equal(allowedips_count(t), 0);
	assert_null(allowedips_lookup(t, AF_INET6, b));
	allowedips_destroy(t);
	allowedips_destroy(NULL);
}

static void test_cap_and_packets(void **state)
{
	struct allowedips *t = allowedips_create(3);
	uint8_t a[4] = { 10, 0, 0, 0 }, pkt4[20] = { 0x45 },
		pkt6[40] = { 0x60 };
	char p1, p2;

	assert_non_null(t);
	for (uint8_t i = 0; i < 3; i++) {
		a[3] = i;
		assert_int_equal(allowedips_insert(t, AF_INET, a, 32, &p1), 0);
	}
	a[3] = 9;
	assert_int_equal(allowedips_insert(t, AF_INET, a, 32, &p1), -ENOSPC);
	a[3] = 1; /* an override is no growth */
	assert_int_equal(allowedips_insert(t, AF_INET, a, 32, &p2), 0);
	/* source 10.0.0.1 -> p2, destination 10.0.0.2 -> p1 */
	memcpy(pkt4 + 12, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(pkt4 + 16, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	assert_ptr_equal(allowedips_lookup_src(t, pkt4, sizeof(pkt4)), &p2);
	assert_ptr_equal(allowedips_lookup_dst(t, pkt4, sizeof(pkt4)), &p1);
	assert_null(allowedips_lookup_dst(t, pkt4, 19));
	assert_null(allowedips_lookup_dst(t, pkt6, sizeof(pkt6)));
	assert_null(allowedips_lookup_dst(t, pkt6, 39));
	allowedips_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_cases),
		cmocka_unit_test(test_cap_and_packets),
		cmocka_unit_test(test_random_against_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
