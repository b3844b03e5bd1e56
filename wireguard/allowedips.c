// SPDX-License-Identifier: MIT
/*
 * A path-compressed binary trie per address family, in the manner of the
 * WireGuard kernel module: every node holds a prefix (bits masked to cidr);
 * a node's children extend its prefix and sit under the bit just past it.
 * Nodes without a peer exist only as branching points and are pruned when
 * they stop branching.
 */
#include "wireguard/allowedips.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *child[2];
	struct node *parent;
	void *peer;
	uint8_t bits[16];
	uint8_t cidr;
};

struct allowedips {
	struct node *root4;
	struct node *root6;
	size_t count;
	size_t max;
};

static unsigned bit_at(const uint8_t *key, unsigned i)
{
	return (key[i / 8] >> (7 - i % 8)) & 1;
}

/* Leading bits on which a and b agree, at most maxbits. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b,
			    unsigned maxbits)
{
	unsigned i;

	for (i = 0; i < maxbits / 8; i++) {
		uint8_t x = a[i] ^ b[i];

		if (x)
			return i * 8 + (unsigned)__builtin_clz(x) - 24;
	}
	return maxbits;
}

/* Whether key starts with n's prefix: only its cidr bits are compared. */
static bool prefix_matches(const struct node *n, const uint8_t *key,
			   unsigned maxbits)
{
	unsigned full = n->cidr / 8, rem = n->cidr % 8;

	(void)maxbits;
	if (memcmp(n->bits, key, full) != 0)
		return false;
	return rem == 0 || ((n->bits[full] ^ key[full]) &
			    (uint8_t)(0xff << (8 - rem))) == 0;
}

static void mask_key(uint8_t *out, const uint8_t *in, unsigned cidr,
		     unsigned maxbits)
{
	unsigned bytes = maxbits / 8, i;

	for (i = 0; i < bytes; i++) {
		if (cidr >= (i + 1) * 8)
			out[i] = in[i];
		else if (cidr <= i * 8)
			out[i] = 0;
		else
			out[i] =
				in[i] & (uint8_t)(0xff << (8 - (cidr - i * 8)));
	}
}

static int family_bits(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return -1;
}

static struct node **root_of(struct allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

static struct node *node_new(const uint8_t *key, uint8_t cidr, void *peer)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	memcpy(n->bits, key, 16);
	n->cidr = cidr;
	n->peer = peer;
	return n;
}

/* The slot that points at n: its parent's child pointer, or the root. */
static struct node **slot_of(struct node **root, struct node *n)
{
	if (!n->parent)
		return root;
	return &n->parent->child[n->parent->child[1] == n];
}

static void attach(struct node *parent, struct node **slot, struct node *n)
{
	*slot = n;
	n->parent = parent;
}

/*
 * Deepest node whose prefix holds key/cidr with cidr <= the given one.
 * Returns it (or NULL) and whether its cidr is exactly the one asked.
 */
static struct node *placement(struct node *root, const uint8_t *key,
			      unsigned cidr, unsigned maxbits, bool *exact)
{
	struct node *n = root, *parent = NULL;

	*exact = false;
	while (n && n->cidr <= cidr && prefix_matches(n, key, maxbits)) {
		parent = n;
		if (n->cidr == cidr) {
			*exact = true;
			break;
		}
		n = n->child[bit_at(key, n->cidr)];
	}
	return parent;
}

static int insert_new(struct node **root, struct node *parent, struct node *nn,
		      unsigned maxbits)
{
	struct node **slot, *down, *mid;
	unsigned cidr;

	slot = parent ? &parent->child[bit_at(nn->bits, parent->cidr)] : root;
	down = *slot;
	if (!down) {
		attach(parent, slot, nn);
		return 0;
	}
	cidr = common_bits(down->bits, nn->bits, maxbits);
	if (cidr > nn->cidr)
		cidr = nn->cidr;
	if (cidr == nn->cidr) {
		/* nn's prefix holds down's: nn goes between them. */
		attach(nn, &nn->child[bit_at(down->bits, cidr)], down);
		attach(parent, slot, nn);
		return 0;
	}
	/* They diverge at bit cidr: a branching node without a peer. */
	mid = node_new(nn->bits, (uint8_t)cidr, NULL);
	if (!mid)
		return -ENOMEM;
	mask_key(mid->bits, nn->bits, cidr, maxbits);
	attach(mid, &mid->child[bit_at(down->bits, cidr)], down);
	attach(mid, &mid->child[bit_at(nn->bits, cidr)], nn);
	attach(parent, slot, mid);
	return 0;
}

int allowedips_insert(struct allowedips *t, int family, const void *ip,
		      uint8_t cidr, void *peer)
{
	int maxbits = family_bits(family);
	uint8_t key[16] = { 0 };
	struct node *parent, *nn;
	bool exact;
	int ret;

	if (maxbits < 0 || cidr > maxbits || !peer || !ip)
		return -EINVAL;
	mask_key(key, ip, cidr, (unsigned)maxbits);
	parent = placement(*root_of(t, family), key, cidr, (unsigned)maxbits,
			   &exact);
	if (exact) {
		if (!parent->peer) {
			if (t->count >= t->max)
				return -ENOSPC;
			t->count++;
		}
		parent->peer = peer;
		return 0;
	}
	if (t->count >= t->max)
		return -ENOSPC;
	nn = node_new(key, cidr, peer);
	if (!nn)
		return -ENOMEM;
	ret = insert_new(root_of(t, family), parent, nn, (unsigned)maxbits);
	if (ret) {
		free(nn);
		return ret;
	}
	t->count++;
	return 0;
}

/* After n lost its peer: drop it and any branching node left useless. */
static void prune(struct node **root, struct node *n)
{
	while (n && !n->peer) {
		struct node *parent = n->parent, *only;
		struct node **slot = slot_of(root, n);

		if (n->child[0] && n->child[1])
			return;
		only = n->child[0] ? n->child[0] : n->child[1];
		*slot = only;
		free(n);
		if (only) {
			only->parent = parent;
			return;
		}
		n = parent;
	}
}

int allowedips_remove(struct allowedips *t, int family, const void *ip,
		      uint8_t cidr, void *peer)
{
	int maxbits = family_bits(family);
	uint8_t key[16] = { 0 };
	struct node *n;
	bool exact;

	if (maxbits < 0 || cidr > maxbits || !ip)
		return -EINVAL;
	mask_key(key, ip, cidr, (unsigned)maxbits);
	n = placement(*root_of(t, family), key, cidr, (unsigned)maxbits,
		      &exact);
	if (!exact || !n->peer || (peer && n->peer != peer))
		return -ENOENT;
	n->peer = NULL;
	t->count--;
	prune(root_of(t, family), n);
	return 0;
}

/*
 * Clear peer (or every peer when peer is NULL) in a subtree and return the
 * subtree's new root with useless nodes freed. Depth is at most 129.
 */
static struct node *strip(struct allowedips *t, struct node *n, void *peer,
			  bool all)
{
	struct node *only;

	if (!n)
		return NULL;
	for (int i = 0; i < 2; i++) {
		n->child[i] = strip(t, n->child[i], peer, all);
		if (n->child[i])
			n->child[i]->parent = n;
	}
	if (n->peer && (all || n->peer == peer)) {
		n->peer = NULL;
		t->count--;
	}
	if (n->peer || (n->child[0] && n->child[1]))
		return n;
	only = n->child[0] ? n->child[0] : n->child[1];
	free(n);
	return only;
}

static void strip_roots(struct allowedips *t, void *peer, bool all)
{
	t->root4 = strip(t, t->root4, peer, all);
	if (t->root4)
		t->root4->parent = NULL;
	t->root6 = strip(t, t->root6, peer, all);
	if (t->root6)
		t->root6->parent = NULL;
}

void allowedips_remove_by_peer(struct allowedips *t, void *peer)
{
	if (t && peer)
		strip_roots(t, peer, false);
}

void allowedips_clear(struct allowedips *t)
{
	if (t)
		strip_roots(t, NULL, true);
}

struct allowedips *allowedips_create(size_t max_entries)
{
	struct allowedips *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->max = max_entries ? max_entries : ALLOWEDIPS_DEFAULT_MAX;
	return t;
}

void allowedips_destroy(struct allowedips *t)
{
	if (!t)
		return;
	allowedips_clear(t);
	free(t);
}

void *allowedips_lookup(const struct allowedips *t, int family, const void *ip)
{
	int maxbits = family_bits(family);
	const struct node *n, *found = NULL;
	const uint8_t *key = ip;

	if (maxbits < 0)
		return NULL;
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && prefix_matches(n, key, (unsigned)maxbits)) {
		if (n->peer)
			found = n;
		if (n->cidr == maxbits)
			break;
		n = n->child[bit_at(key, n->cidr)];
	}
	return found ? found->peer : NULL;
}

/* Offset of the source address in an IP header, and its family. */
static int packet_addr(const uint8_t *pkt, size_t len, bool dst,
		       const uint8_t **addr)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		*addr = pkt + (dst ? 16 : 12);
		return AF_INET;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		*addr = pkt + (dst ? 24 : 8);
		return AF_INET6;
	}
	return -1;
}

void *allowedips_lookup_dst(const struct allowedips *t, const uint8_t *pkt,
			    size_t len)
{
	const uint8_t *a;
	int family = packet_addr(pkt, len, true, &a);

	return family < 0 ? NULL : allowedips_lookup(t, family, a);
}

void *allowedips_lookup_src(const struct allowedips *t, const uint8_t *pkt,
			    size_t len)
{
	const uint8_t *a;
	int family = packet_addr(pkt, len, false, &a);

	return family < 0 ? NULL : allowedips_lookup(t, family, a);
}

size_t allowedips_count(const struct allowedips *t)
{
	return t->count;
}

static int walk(const struct node *n, int family, void *peer,
		allowedips_walk_fn fn, void *arg)
{
	int ret;

	if (!n)
		return 0;
	if (n->peer && (!peer || n->peer == peer)) {
		ret = fn(arg, family, n->bits, n->cidr, n->peer);
		if (ret)
			return ret;
	}
	ret = walk(n->child[0], family, peer, fn, arg);
	if (ret)
		return ret;
	return walk(n->child[1], family, peer, fn, arg);
}

int allowedips_walk(const struct allowedips *t, void *peer,
		    allowedips_walk_fn fn, void *arg)
{
	int ret = walk(t->root4, AF_INET, peer, fn, arg);

	if (ret)
		return ret;
	return walk(t->root6, AF_INET6, peer, fn, arg);
}
