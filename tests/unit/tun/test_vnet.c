// SPDX-License-Identifier: MIT
/*
 * vnet_hdr split and GRO coalescing against hand-built packets; every
 * checksum is verified by a plain 16-bit RFC 1071 sum written here, not by
 * the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tun/vnet.h"

#define MAXSEG 64
#define SEGCAP 2048

static uint8_t seg_store[MAXSEG][SEGCAP];
static uint8_t *segs[MAXSEG];
static size_t lens[MAXSEG];

static int setup(void **state)
{
	for (int i = 0; i < MAXSEG; i++)
		segs[i] = seg_store[i];
	return 0;
}

/* Plain reference: 16-bit words, carries folded as they come. */
static uint16_t ref_sum(uint32_t sum, const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		sum += (i & 1) ? d[i] : (uint32_t)d[i] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return (uint16_t)sum;
}

static uint32_t ref_pseudo(const uint8_t *ip, bool v6, uint8_t proto,
			   size_t l4len)
{
	uint32_t s = v6 ? ref_sum(0, ip + 8, 32) : ref_sum(0, ip + 12, 8);

	return s + proto + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Valid IPv4 header checksum and valid TCP/UDP checksum, by the reference. */
static void assert_valid(const uint8_t *p, size_t len)
{
	bool v6 = p[0] >> 4 == 6;
	size_t iphl = v6 ? 40 : (size_t)(p[0] & 15) * 4;
	uint8_t proto = v6 ? p[6] : p[9];

	if (!v6)
		assert_int_equal(ref_sum(0, p, iphl), 0xffff);
	assert_int_equal(ref_sum(ref_pseudo(p, v6, proto, len - iphl), p + iphl,
				 len - iphl),
			 0xffff);
	assert_int_equal(vnet_verify_checksums(p, len), 0);
}

struct pkt {
	uint8_t b[VNET_HDR_LEN + VNET_MAX_PACKET];
	size_t len; /* without the vnet header */
};

static uint8_t *ip_of(struct pkt *k)
{
	return k->b + VNET_HDR_LEN;
}

/*
 * An IP + TCP (thl bytes, timestamp-like options) or UDP packet with
 * payload[i] = (i + seed) & 0xff. L4 checksum complete unless partial.
 */
static void build(struct pkt *k, bool v6, bool tcp, size_t thl, size_t payload,
		  uint32_t seq, uint8_t flags, unsigned seed, bool partial)
{
	uint8_t *p = ip_of(k);
	size_t iphl = v6 ? 40 : 20, l4hl = tcp ? thl : 8;
	size_t len = iphl + l4hl + payload;
	uint8_t *l4 = p + iphl;
	uint16_t c;

	memset(k->b, 0, VNET_HDR_LEN + len);
	if (v6) {
		p[0] = 0x60;
		put16(p + 4, (unsigned)(len - 40));
		p[6] = tcp ? 6 : 17;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
	} else {
		p[0] = 0x45;
		put16(p + 2, (unsigned)len);
		put16(p + 4, 0x1234);
		p[6] = 0x40;
		p[8] = 64;
		p[9] = tcp ? 6 : 17;
		memcpy(p + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
		put16(p + 10, (uint16_t)~ref_sum(0, p, 20));
	}
	put16(l4, 40000);
	put16(l4 + 2, 443);
	if (tcp) {
		l4[4] = (uint8_t)(seq >> 24);
		l4[5] = (uint8_t)(seq >> 16);
		l4[6] = (uint8_t)(seq >> 8);
		l4[7] = (uint8_t)seq;
		memcpy(l4 + 8, (uint8_t[]){ 0xaa, 0xbb, 0xcc, 0xdd }, 4);
		l4[12] = (uint8_t)((thl / 4) << 4);
		l4[13] = flags;
		put16(l4 + 14, 501);
		for (size_t i = 20; i < thl; i++)
			l4[i] = i == 20 ? 1 : (uint8_t)i; /* NOP, then bytes */
	} else {
		put16(l4 + 4, (unsigned)(8 + payload));
	}
	for (size_t i = 0; i < payload; i++)
		l4[l4hl + i] = (uint8_t)(i + seed);
	if (partial)
		c = ref_sum(ref_pseudo(p, v6, p[v6 ? 6 : 9], len - iphl), NULL,
			    0);
	else
		c = (uint16_t)~ref_sum(
			ref_pseudo(p, v6, p[v6 ? 6 : 9], len - iphl), l4,
			len - iphl);
	put16(l4 + (tcp ? 16 : 6), c);
	k->len = len;
}

static void set_hdr(struct pkt *k, uint8_t flags, uint8_t type, size_t gso,
		    size_t start, size_t off)
{
	struct vnet_hdr h = { .flags = flags,
			      .gso_type = type,
			      .gso_size = (uint16_t)gso,
			      .csum_start = (uint16_t)start,
			      .csum_offset = (uint16_t)off };

	vnet_hdr_put(k->b, &h);
}

static void test_csum_reference_vector(void **state)
{
	/* a well-known IPv4 header whose checksum is 0xb861 */
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
			  0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
			  0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	assert_int_equal((uint16_t)~vnet_csum_fold(vnet_csum_add(0, h, 20)),
			 0xb861);
	for (size_t n = 0; n <= 20; n++) /* odd and even tails */
		assert_int_equal(vnet_csum_fold(vnet_csum_add(7, h, n)),
				 ref_sum(7, h, n));
}

static void check_tcp_segments(bool v6, int n, size_t thl, size_t gso,
			       size_t total, uint32_t seq0)
{
	size_t iphl = v6 ? 40 : 20;

	for (int i = 0; i < n; i++) {
		const uint8_t *p = segs[i], *l4 = p + iphl;
		size_t want = (size_t)i * gso + gso <= total
				      ? gso
				      : total - (size_t)i * gso;

		assert_int_equal(lens[i], iphl + thl + want);
		assert_valid(p, lens[i]);
		if (!v6)
			assert_int_equal(get16(p + 4), 0x1234 + i);
		assert_int_equal(get32(l4 + 4), seq0 + (uint32_t)(i * gso));
		/* PSH and FIN only on the last, CWR only on the first */
		assert_int_equal(l4[13] & 0x08, i == n - 1 ? 0x08 : 0);
		assert_int_equal(l4[13] & 0x80, i == 0 ? 0x80 : 0);
		assert_int_equal(l4[13] & 0x10, 0x10);
		for (size_t b = 0; b < want; b++)
			assert_int_equal(l4[thl + b],
					 (uint8_t)((size_t)i * gso + b + 3));
	}
}

static void test_split_tcp(void **state)
{
	static struct pkt k;

	for (int v6 = 0; v6 < 2; v6++) {
		size_t iphl = v6 ? 40 : 20;

		build(&k, v6, true, 32, 3500, 0xfffffc00u, 0x18 | 0x80, 3,
		      true);
		set_hdr(&k, VNET_F_NEEDS_CSUM,
			v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4, 1000, iphl, 16);
		assert_int_equal(vnet_split(k.b, VNET_HDR_LEN + k.len, segs,
					    SEGCAP, lens, MAXSEG),
				 4);
		/* seq wraps past 2^32 on the way */
		check_tcp_segments(v6, 4, 32, 1000, 3500, 0xfffffc00u);
		/* exact multiple of gso_size: no short tail */
		build(&k, v6, true, 20, 2000, 7, 0x18, 3, true);
		set_hdr(&k, VNET_F_NEEDS_CSUM | VNET_GSO_ECN,
			v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4, 1000, iphl, 16);
		assert_int_equal(vnet_split(k.b, VNET_HDR_LEN + k.len, segs,
					    SEGCAP, lens, MAXSEG),
				 2);
		assert_int_equal(lens[1], iphl + 20 + 1000);
		assert_valid(segs[0], lens[0]);
		assert_valid(segs[1], lens[1]);
	}
}

static void test_split_udp(void **state)
{
	static struct pkt k;

	for (int v6 = 0; v6 < 2; v6++) {
		size_t iphl = v6 ? 40 : 20;

		build(&k, v6, false, 0, 2900, 0, 0, 5, true);
		set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_UDP_L4, 1200, iphl, 6);
		assert_int_equal(vnet_split(k.b, VNET_HDR_LEN + k.len, segs,
					    SEGCAP, lens, MAXSEG),
				 3);
		for (int i = 0; i < 3; i++) {
			size_t want = i < 2 ? 1200 : 500;

			assert_int_equal(lens[i], iphl + 8 + want);
			assert_int_equal(get16(segs[i] + iphl + 4), 8 + want);
			assert_valid(segs[i], lens[i]);
			assert_int_equal(segs[i][iphl + 8],
					 (uint8_t)(i * 1200 + 5));
		}
	}
}

static void test_split_none(void **state)
{
	static struct pkt k;

	/* partial checksum, completed */
	build(&k, false, true, 20, 100, 1, 0x18, 0, true);
	set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 20, 16);
	assert_int_equal(vnet_split(k.b, VNET_HDR_LEN + k.len, segs, SEGCAP,
				    lens, MAXSEG),
			 1);
	assert_int_equal(lens[0], k.len);
	assert_valid(segs[0], lens[0]);
	build(&k, true, false, 0, 33, 0, 0, 9, true);
	set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 40, 6);
	assert_int_equal(vnet_split(k.b, VNET_HDR_LEN + k.len, segs, SEGCAP,
				    lens, MAXSEG),
			 1);
	assert_valid(segs[0], lens[0]);
	/* complete already: copied unchanged */
	build(&k, true, true, 20, 10, 1, 0x10, 0, false);
	set_hdr(&k, 0, VNET_GSO_NONE, 0, 0, 0);
	assert_int_equal(vnet_split(k.b, VNET_HDR_LEN + k.len, segs, SEGCAP,
				    lens, MAXSEG),
			 1);
	assert_memory_equal(segs[0], ip_of(&k), k.len);
}

static void test_split_bad(void **state)
{
	static struct pkt k;
	size_t full;

	assert_int_equal(vnet_split(k.b, 9, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL);
	build(&k, false, true, 20, 3000, 1, 0x10, 0, true);
	full = VNET_HDR_LEN + k.len;
	set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 0, 20, 16);
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL); /* gso_size 0 */
	set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 1000, 20, 16);
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL); /* v4 packet, v6 type */
	set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_UDP_L4, 1000, 20, 6);
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL); /* TCP packet, UDP type */
	set_hdr(&k, VNET_F_NEEDS_CSUM, 3 /* UFO */, 1000, 20, 6);
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL);
	set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 1000, 20, 16);
	assert_int_equal(vnet_split(k.b, full - 1, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL); /* IP length disagrees */
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, 2),
			 -ENOBUFS); /* three segments needed */
	assert_int_equal(vnet_split(k.b, full, segs, 1000, lens, MAXSEG),
			 -ENOBUFS); /* buffers too small */
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG), 3);
	ip_of(&k)[20 + 12] = 0x40; /* doff 4 */
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL);
	ip_of(&k)[20 + 12] = 0xf0; /* doff 15 is fine, 60 bytes fit */
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG), 3);
	ip_of(&k)[6] = 0x20; /* MF: a fragment cannot be segmented */
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL);
	ip_of(&k)[6] = 0x40;
	ip_of(&k)[0] = 0x55; /* not v4 or v6 */
	assert_int_equal(vnet_split(k.b, full, segs, SEGCAP, lens, MAXSEG),
			 -EINVAL);
	/* checksum field outside the packet */
	build(&k, false, true, 20, 4, 1, 0x10, 0, true);
	set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, 0, 20, 400);
	assert_int_equal(vnet_split(k.b, VNET_HDR_LEN + k.len, segs, SEGCAP,
				    lens, MAXSEG),
			 -EINVAL);
}

struct collect {
	struct pkt out[16];
	size_t n;
};

static int collect_write(void *arg, const uint8_t *data, size_t len)
{
	struct collect *c = arg;

	assert_true(c->n < 16);
	assert_true(len >= VNET_HDR_LEN);
	memcpy(c->out[c->n].b, data, len);
	c->out[c->n].len = len - VNET_HDR_LEN;
	c->n++;
	return 0;
}

static void test_gro_round_trip(void **state)
{
	static struct pkt k4, k6, u, orig[2][8];
	static struct collect c;
	size_t olens[2][8], n4, n6;
	struct vnet_gro *g = vnet_gro_create(8, 0);
	struct vnet_hdr h;

	assert_non_null(g);
	/* two flows' segments, interleaved, with a UDP packet in between */
	build(&k4, false, true, 32, 5300, 1000, 0x18, 1, true);
	set_hdr(&k4, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, 1300, 20, 16);
	n4 = (size_t)vnet_split(k4.b, VNET_HDR_LEN + k4.len, segs, SEGCAP, lens,
				MAXSEG);
	assert_int_equal(n4, 5);
	for (size_t i = 0; i < n4; i++) {
		memcpy(orig[0][i].b, segs[i], lens[i]);
		olens[0][i] = lens[i];
	}
	build(&k6, true, true, 20, 4000, 77, 0x10, 2, true);
	set_hdr(&k6, VNET_F_NEEDS_CSUM, VNET_GSO_TCPV6, 1000, 40, 16);
	n6 = (size_t)vnet_split(k6.b, VNET_HDR_LEN + k6.len, segs, SEGCAP, lens,
				MAXSEG);
	assert_int_equal(n6, 4);
	for (size_t i = 0; i < n6; i++) {
		memcpy(orig[1][i].b, segs[i], lens[i]);
		olens[1][i] = lens[i];
	}
	build(&u, false, false, 0, 50, 0, 0, 0, false);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(vnet_gro_add(g, orig[0][i].b, olens[0][i]), 0);
		if (i < n6)
			assert_int_equal(
				vnet_gro_add(g, orig[1][i].b, olens[1][i]), 0);
		if (i == 1)
			assert_int_equal(vnet_gro_add(g, ip_of(&u), u.len), 0);
	}
	assert_int_equal(vnet_gro_pending(g), 3);
	c.n = 0;
	assert_int_equal(vnet_gro_flush(g, collect_write, &c), 0);
	assert_int_equal(vnet_gro_pending(g), 0);
	assert_int_equal(c.n, 3);
	/* order of first arrival: v4 flow, v6 flow, UDP */
	vnet_hdr_get(&h, c.out[0].b);
	assert_int_equal(h.gso_type, VNET_GSO_TCPV4);
	assert_int_equal(h.flags, VNET_F_NEEDS_CSUM);
	assert_int_equal(h.gso_size, 1300);
	assert_int_equal(h.hdr_len, 52);
	assert_int_equal(h.csum_start, 20);
	assert_int_equal(h.csum_offset, 16);
	assert_int_equal(c.out[0].len, k4.len);
	vnet_hdr_get(&h, c.out[1].b);
	assert_int_equal(h.gso_type, VNET_GSO_TCPV6);
	assert_int_equal(h.gso_size, 1000);
	vnet_hdr_get(&h, c.out[2].b);
	assert_int_equal(h.gso_type, VNET_GSO_NONE);
	assert_int_equal(h.flags, 0);
	assert_memory_equal(ip_of(&c.out[2]), ip_of(&u), u.len);
	/*
	 * The super-packets' checksums as the kernel would complete them:
	 * the field holds the pseudo-header sum, the rest is summed over it.
	 */
	for (int f = 0; f < 2; f++) {
		uint8_t *p = ip_of(&c.out[f]);
		size_t iphl = f ? 40 : 20, l4len = c.out[f].len - iphl;

		put16(p + iphl + 16, (uint16_t)~ref_sum(0, p + iphl, l4len));
		assert_valid(p, c.out[f].len);
	}
	/* splitting the super-packets again gives the very same segments */
	for (int f = 0; f < 2; f++) {
		size_t n = f ? n6 : n4;

		assert_int_equal(vnet_split(c.out[f].b,
					    VNET_HDR_LEN + c.out[f].len, segs,
					    SEGCAP, lens, MAXSEG),
				 (int)n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(lens[i], olens[f][i]);
			assert_memory_equal(segs[i], orig[f][i].b, lens[i]);
		}
	}
	vnet_gro_destroy(g);
	vnet_gro_destroy(NULL);
}

static size_t gro_run(struct vnet_gro *g, struct pkt *in, size_t n,
		      struct collect *c)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(vnet_gro_add(g, ip_of(&in[i]), in[i].len), 0);
	c->n = 0;
	assert_int_equal(vnet_gro_flush(g, collect_write, c), 0);
	return c->n;
}

static void test_gro_boundaries(void **state)
{
	static struct pkt in[4];
	static struct collect c;
	struct vnet_gro *g = vnet_gro_create(4, 0);

	assert_non_null(g);
	/* a gap in sequence numbers is not bridged */
	build(&in[0], false, true, 20, 100, 0, 0x10, 0, false);
	build(&in[1], false, true, 20, 100, 200, 0x10, 0, false);
	assert_int_equal(gro_run(g, in, 2, &c), 2);
	/* in order: merged */
	build(&in[1], false, true, 20, 100, 100, 0x10, 0, false);
	assert_int_equal(gro_run(g, in, 2, &c), 1);
	assert_int_equal(c.out[0].len, 20 + 20 + 200);
	/* a different ack number or window ends the run */
	ip_of(&in[1])[20 + 8] ^= 1;
	assert_int_equal(gro_run(g, in, 2, &c), 2);
	build(&in[1], false, true, 20, 100, 100, 0x10, 0, false);
	ip_of(&in[1])[20 + 15] ^= 1;
	assert_int_equal(gro_run(g, in, 2, &c), 2);
	/* a shorter segment ends the run; nothing may follow it */
	build(&in[1], false, true, 20, 50, 100, 0x10, 0, false);
	build(&in[2], false, true, 20, 50, 150, 0x10, 0, false);
	assert_int_equal(gro_run(g, in, 3, &c), 2);
	/* a larger one never joins */
	build(&in[1], false, true, 20, 101, 100, 0x10, 0, false);
	assert_int_equal(gro_run(g, in, 2, &c), 2);
	/* PSH ends the run, and the merged packet keeps it */
	build(&in[1], false, true, 20, 100, 100, 0x18, 0, false);
	build(&in[2], false, true, 20, 100, 200, 0x10, 0, false);
	assert_int_equal(gro_run(g, in, 3, &c), 2);
	assert_int_equal(ip_of(&c.out[0])[20 + 13], 0x18);
	/* a pure ACK or FIN of the flow closes it: no reordering past it */
	build(&in[1], false, true, 20, 0, 100, 0x11, 0, false);
	build(&in[2], false, true, 20, 100, 100, 0x10, 0, false);
	assert_int_equal(gro_run(g, in, 3, &c), 3);
	/* SYN is never merged */
	build(&in[0], false, true, 20, 100, 0, 0x12, 0, false);
	build(&in[1], false, true, 20, 100, 100, 0x10, 0, false);
	assert_int_equal(gro_run(g, in, 2, &c), 2);
	/* batch full */
	for (int i = 0; i < 4; i++)
		build(&in[i], false, false, 0, 10, 0, 0, 0, false);
	for (int i = 0; i < 4; i++)
		assert_int_equal(vnet_gro_add(g, ip_of(&in[i]), in[i].len), 0);
	assert_int_equal(vnet_gro_add(g, ip_of(&in[0]), in[0].len), -ENOBUFS);
	assert_int_equal(vnet_gro_add(g, (const uint8_t *)"\x10", 1), -EINVAL);
	c.n = 0;
	assert_int_equal(vnet_gro_flush(g, collect_write, &c), 0);
	assert_int_equal(c.n, 4);
	vnet_gro_destroy(g);
	assert_null(vnet_gro_create(0, 0));
}

static void test_gro_udp(void **state)
{
	static struct pkt k, orig[2][4], in[70];
	static struct collect c;
	size_t olens[2][4], n[2];
	struct vnet_gro *g = vnet_gro_create(8, VNET_GRO_UDP);
	struct vnet_gro *g0 = vnet_gro_create(8, 0);
	struct vnet_hdr h;

	assert_non_null(g);
	assert_non_null(g0);
	for (int f = 0; f < 2; f++) {
		build(&k, f, false, 0, 2900, 0, 0, (unsigned)f, true);
		set_hdr(&k, VNET_F_NEEDS_CSUM, VNET_GSO_UDP_L4, 1200,
			f ? 40 : 20, 6);
		n[f] = (size_t)vnet_split(k.b, VNET_HDR_LEN + k.len, segs,
					  SEGCAP, lens, MAXSEG);
		assert_int_equal(n[f], 3);
		for (size_t i = 0; i < n[f]; i++) {
			memcpy(orig[f][i].b, segs[i], lens[i]);
			olens[f][i] = lens[i];
		}
	}
	/* without VNET_GRO_UDP every datagram goes alone */
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < n[f]; i++)
			assert_int_equal(
				vnet_gro_add(g0, orig[f][i].b, olens[f][i]), 0);
	assert_int_equal(vnet_gro_pending(g0), 6);
	c.n = 0;
	assert_int_equal(vnet_gro_flush(g0, collect_write, &c), 0);
	/* with it, one super-packet per flow */
	for (size_t i = 0; i < 3; i++)
		for (int f = 0; f < 2; f++)
			assert_int_equal(
				vnet_gro_add(g, orig[f][i].b, olens[f][i]), 0);
	c.n = 0;
	assert_int_equal(vnet_gro_flush(g, collect_write, &c), 0);
	assert_int_equal(c.n, 2);
	for (int f = 0; f < 2; f++) {
		uint8_t *p = ip_of(&c.out[f]);
		size_t iphl = f ? 40 : 20, l4len = c.out[f].len - iphl;

		vnet_hdr_get(&h, c.out[f].b);
		assert_int_equal(h.gso_type, VNET_GSO_UDP_L4);
		assert_int_equal(h.flags, VNET_F_NEEDS_CSUM);
		assert_int_equal(h.gso_size, 1200);
		assert_int_equal(h.hdr_len, iphl + 8);
		assert_int_equal(h.csum_start, iphl);
		assert_int_equal(h.csum_offset, 6);
		assert_int_equal(get16(p + iphl + 4), l4len);
		assert_int_equal(vnet_split(c.out[f].b,
					    VNET_HDR_LEN + c.out[f].len, segs,
					    SEGCAP, lens, MAXSEG),
				 3);
		for (size_t i = 0; i < 3; i++) {
			assert_int_equal(lens[i], olens[f][i]);
			assert_memory_equal(segs[i], orig[f][i].b, lens[i]);
		}
		put16(p + iphl + 6, (uint16_t)~ref_sum(0, p + iphl, l4len));
		assert_valid(p, c.out[f].len);
	}
	/* at most 64 datagrams in one super-packet */
	for (int i = 0; i < 70; i++) {
		build(&in[i], false, false, 0, 100, 0, 0, 0, false);
		assert_int_equal(vnet_gro_add(g, ip_of(&in[i]), in[i].len), 0);
	}
	assert_int_equal(vnet_gro_pending(g), 2);
	c.n = 0;
	assert_int_equal(vnet_gro_flush(g, collect_write, &c), 0);
	assert_int_equal(c.out[0].len, 20 + 8 + 64 * 100);
	assert_int_equal(c.out[1].len, 20 + 8 + 6 * 100);
	/* larger never joins; smaller ends the run; other ports, other flow */
	build(&in[0], false, false, 0, 100, 0, 0, 0, false);
	build(&in[1], false, false, 0, 101, 0, 0, 0, false);
	build(&in[2], false, false, 0, 50, 0, 0, 0, false);
	build(&in[3], false, false, 0, 100, 0, 0, 0, false);
	build(&in[4], false, false, 0, 100, 0, 0, 0, false);
	put16(ip_of(&in[4]) + 20, 40001);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vnet_gro_add(g, ip_of(&in[i]), in[i].len), 0);
	/* [0] alone (closed by [1]), [1]+[2] (closed), [3], [4] */
	assert_int_equal(vnet_gro_pending(g), 4);
	c.n = 0;
	assert_int_equal(vnet_gro_flush(g, collect_write, &c), 0);
	assert_int_equal(c.out[1].len, 20 + 8 + 151);
	vnet_gro_destroy(g);
	vnet_gro_destroy(g0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_reference_vector),
		cmocka_unit_test(test_split_tcp),
		cmocka_unit_test(test_split_udp),
		cmocka_unit_test(test_split_none),
		cmocka_unit_test(test_split_bad),
		cmocka_unit_test(test_gro_round_trip),
		cmocka_unit_test(test_gro_boundaries),
		cmocka_unit_test(test_gro_udp),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
