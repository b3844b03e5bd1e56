// SPDX-License-Identifier: MIT
/*
 * vnet_hdr segmentation (the kernel's TSO/USO handed to us) and TCP
 * coalescing (GRO) for the TUN device. Semantics follow the kernel's
 * virtio_net_hdr_to_skb / tcp_gso_segment / tcp_gro_receive: a super-packet
 * carries one IP and L4 header for a run of gso_size payload chunks, and its
 * L4 checksum field holds only the pseudo-header sum (CHECKSUM_PARTIAL).
 */
#include "tun/vnet.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
	IPPROTO_TCP_ = 6,
	IPPROTO_UDP_ = 17,
	IPPROTO_ICMP_ = 1,
	IPPROTO_ICMPV6_ = 58,
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_CWR = 0x80,
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

void vnet_hdr_get(struct vnet_hdr *h, const uint8_t *p)
{
	h->flags = p[0];
	h->gso_type = p[1];
	memcpy(&h->hdr_len, p + 2, 2);
	memcpy(&h->gso_size, p + 4, 2);
	memcpy(&h->csum_start, p + 6, 2);
	memcpy(&h->csum_offset, p + 8, 2);
}

void vnet_hdr_put(uint8_t *p, const struct vnet_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	memcpy(p + 2, &h->hdr_len, 2);
	memcpy(p + 4, &h->gso_size, 2);
	memcpy(p + 6, &h->csum_start, 2);
	memcpy(p + 8, &h->csum_offset, 2);
}

uint32_t vnet_csum_add(uint32_t sum, const uint8_t *d, size_t len)
{
	uint64_t s = sum;

	/* 32 bits at a time into a 64-bit accumulator; fold at the end */
	while (len >= 4) {
		s += get32(d);
		d += 4;
		len -= 4;
	}
	if (len >= 2) {
		s += get16(d);
		d += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)d[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t vnet_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Pseudo-header sum (RFC 793 §3.1, RFC 8200 §8.1). */
static uint32_t pseudo_sum(const uint8_t *ip, bool v6, uint8_t proto,
			   uint32_t l4len)
{
	uint32_t s = v6 ? vnet_csum_add(0, ip + 8, 32)
			: vnet_csum_add(0, ip + 12, 8);

	return s + proto + (l4len >> 16) + (l4len & 0xffff);
}

static void ipv4_fix_csum(uint8_t *ip, size_t iphl)
{
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~vnet_csum_fold(vnet_csum_add(0, ip, iphl)));
}

struct ipinfo {
	bool v6;
	size_t iphl;
	uint8_t proto;
	bool fragment;
};

/* A plain IP packet whose length field matches len exactly. */
static int parse_ip(const uint8_t *p, size_t len, struct ipinfo *o)
{
	if (len >= 20 && p[0] >> 4 == 4) {
		o->v6 = false;
		o->iphl = (size_t)(p[0] & 15) * 4;
		if (o->iphl < 20 || o->iphl > len || get16(p + 2) != len)
			return -EINVAL;
		o->proto = p[9];
		o->fragment = (get16(p + 6) & 0x3fff) != 0;
		return 0;
	}
	if (len >= 40 && p[0] >> 4 == 6) {
		if ((size_t)get16(p + 4) + 40 != len)
			return -EINVAL;
		o->v6 = true;
		o->iphl = 40;
		o->proto = p[6]; /* extension headers are not followed */
		o->fragment = o->proto == 44;
		return 0;
	}
	return -EINVAL;
}

/* A packet that needs no segmentation, its partial checksum completed. */
static int split_none(const struct vnet_hdr *h, const uint8_t *p, size_t len,
		      uint8_t *out, size_t cap, size_t *olen)
{
	if (len > cap)
		return -ENOBUFS;
	memcpy(out, p, len);
	if (h->flags & VNET_F_NEEDS_CSUM) {
		size_t start = h->csum_start, field = start + h->csum_offset;
		uint16_t c;

		if (field + 2 > len || h->csum_offset & 1)
			return -EINVAL;
		c = (uint16_t)~vnet_csum_fold(
			vnet_csum_add(0, out + start, len - start));
		put16(out + field, c ? c : 0xffff);
	}
	*olen = len;
	return 1;
}

struct seginfo {
	struct ipinfo ip;
	size_t hdr; /* IP + L4 header bytes repeated in every segment */
	size_t gso;
	size_t nseg;
	bool tcp;
};

static int split_check(const struct vnet_hdr *h, const uint8_t *p, size_t len,
		       struct seginfo *s)
{
	uint8_t type = h->gso_type & (uint8_t)~VNET_GSO_ECN;

	if (parse_ip(p, len, &s->ip) || s->ip.fragment)
		return -EINVAL;
	s->tcp = type != VNET_GSO_UDP_L4;
	if ((type == VNET_GSO_TCPV4 && s->ip.v6) ||
	    (type == VNET_GSO_TCPV6 && !s->ip.v6) ||
	    s->ip.proto != (s->tcp ? IPPROTO_TCP_ : IPPROTO_UDP_))
		return -EINVAL;
	if (s->tcp) {
		if (s->ip.iphl + 20 > len)
			return -EINVAL;
		s->hdr = s->ip.iphl + (size_t)(p[s->ip.iphl + 12] >> 4) * 4;
		if (s->hdr < s->ip.iphl + 20)
			return -EINVAL;
	} else {
		s->hdr = s->ip.iphl + 8;
	}
	s->gso = h->gso_size;
	if (s->hdr > len || s->gso == 0)
		return -EINVAL;
	s->nseg = len == s->hdr ? 1 : (len - s->hdr + s->gso - 1) / s->gso;
	return 0;
}

static void fix_segment(const struct seginfo *s, uint8_t *o, size_t n, size_t i)
{
	uint8_t *l4 = o + s->ip.iphl;
	size_t l4len = n - s->ip.iphl;
	uint16_t c;

	if (s->ip.v6) {
		put16(o + 4, (uint16_t)l4len);
	} else {
		put16(o + 2, (uint16_t)n);
		put16(o + 4, (uint16_t)(get16(o + 4) + i));
		ipv4_fix_csum(o, s->ip.iphl);
	}
	if (s->tcp) {
		put32(l4 + 4, get32(l4 + 4) + (uint32_t)(i * s->gso));
		if (i + 1 < s->nseg)
			l4[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (i > 0)
			l4[13] &= (uint8_t)~TCP_CWR;
		put16(l4 + 16, 0);
	} else {
		put16(l4 + 4, (uint16_t)l4len);
		put16(l4 + 6, 0);
	}
	c = (uint16_t)~vnet_csum_fold(vnet_csum_add(
		pseudo_sum(o, s->ip.v6, s->ip.proto, (uint32_t)l4len), l4,
		l4len));
	if (!s->tcp && c == 0)
		c = 0xffff; /* RFC 768: zero means "no checksum" */
	put16(l4 + (s->tcp ? 16 : 6), c);
}

int vnet_split(const uint8_t *pkt, size_t len, uint8_t *const *bufs,
	       size_t buf_cap, size_t *lens, size_t max_segs)
{
	struct vnet_hdr h;
	struct seginfo s;
	int ret;

	if (len < VNET_HDR_LEN || max_segs == 0)
		return len < VNET_HDR_LEN ? -EINVAL : -ENOBUFS;
	vnet_hdr_get(&h, pkt);
	pkt += VNET_HDR_LEN;
	len -= VNET_HDR_LEN;
	if (len > VNET_MAX_PACKET)
		return -EINVAL;
	if ((h.gso_type & (uint8_t)~VNET_GSO_ECN) == VNET_GSO_NONE)
		return split_none(&h, pkt, len, bufs[0], buf_cap, lens);
	switch (h.gso_type & (uint8_t)~VNET_GSO_ECN) {
	case VNET_GSO_TCPV4:
	case VNET_GSO_TCPV6:
	case VNET_GSO_UDP_L4:
		break;
	default:
		return -EINVAL;
	}
	ret = split_check(&h, pkt, len, &s);
	if (ret)
		return ret;
	if (s.nseg > max_segs ||
	    s.hdr + (s.gso < len - s.hdr ? s.gso : len - s.hdr) > buf_cap)
		return -ENOBUFS;
	for (size_t i = 0; i < s.nseg; i++) {
		size_t off = s.hdr + i * s.gso;
		size_t seglen = len - off < s.gso ? len - off : s.gso;

		memcpy(bufs[i], pkt, s.hdr);
		memcpy(bufs[i] + s.hdr, pkt + off, seglen);
		lens[i] = s.hdr + seglen;
		fix_segment(&s, bufs[i], lens[i], i);
	}
	return (int)s.nseg;
}

int vnet_verify_checksums(const uint8_t *p, size_t len)
{
	struct ipinfo ip;
	size_t l4len;
	size_t field;

	if (parse_ip(p, len, &ip) || ip.fragment)
		return -EINVAL;
	if (!ip.v6 && vnet_csum_fold(vnet_csum_add(0, p, ip.iphl)) != 0xffff)
		return -EINVAL;
	l4len = len - ip.iphl;
	switch (ip.proto) {
	case IPPROTO_TCP_:
		field = 16;
		break;
	case IPPROTO_UDP_:
		field = 6;
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		field = 2;
		break;
	default:
		return -EINVAL;
	}
	if (l4len < field + 2 || (ip.proto == IPPROTO_ICMP_ && ip.v6) ||
	    (ip.proto == IPPROTO_ICMPV6_ && !ip.v6))
		return -EINVAL;
	/* ICMPv4 has no pseudo-header; the others do */
	if (vnet_csum_fold(vnet_csum_add(
		    ip.proto == IPPROTO_ICMP_
			    ? 0
			    : pseudo_sum(p, ip.v6, ip.proto, (uint32_t)l4len),
		    p + ip.iphl, l4len)) != 0xffff)
		return -EINVAL;
	return 0;
}

/* ---------------------------------------------------------------- GRO */

enum {
	/* udp_gro_receive_segment's UDP_GRO_CNT_MAX */
	GRO_UDP_MAX_SEGS = 64,
};

struct gro_item {
	uint8_t *buf; /* VNET_HDR_LEN + VNET_MAX_PACKET */
	size_t len; /* IP packet bytes after the vnet header */
	bool open; /* a flow further segments may be appended to */
	bool udp;
	bool v6;
	size_t iphl, thl; /* thl: the L4 header, 8 for UDP */
	uint32_t next_seq;
	size_t gso_size;
	size_t segs;
};

struct vnet_gro {
	size_t max, n;
	bool udp;
	struct gro_item items[];
};

struct vnet_gro *vnet_gro_create(size_t max_out, unsigned flags)
{
	struct vnet_gro *g;

	if (max_out == 0 || max_out > 4096)
		return NULL;
	g = calloc(1, sizeof(*g) + max_out * sizeof(g->items[0]));
	if (!g)
		return NULL;
	g->max = max_out;
	g->udp = flags & VNET_GRO_UDP;
	for (size_t i = 0; i < max_out; i++) {
		g->items[i].buf = malloc(VNET_HDR_LEN + VNET_MAX_PACKET);
		if (!g->items[i].buf) {
			vnet_gro_destroy(g);
			return NULL;
		}
	}
	return g;
}

void vnet_gro_destroy(struct vnet_gro *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->max; i++)
		free(g->items[i].buf);
	free(g);
}

size_t vnet_gro_pending(const struct vnet_gro *g)
{
	return g->n;
}

struct l4seg {
	struct ipinfo ip;
	bool udp;
	size_t thl;
	size_t payload;
	uint8_t flags; /* TCP */
};

/*
 * Parse p as TCP, or UDP when udp is allowed. Returns false if it is
 * neither; *merge tells whether GRO may merge it: no IP options, some
 * payload, and for TCP only ACK (+PSH).
 */
static bool l4_parse(const uint8_t *p, size_t len, struct l4seg *t, bool udp,
		     bool *merge)
{
	*merge = false;
	if (parse_ip(p, len, &t->ip) || t->ip.fragment)
		return false;
	t->udp = t->ip.proto == IPPROTO_UDP_;
	if (!(t->ip.proto == IPPROTO_TCP_ || (udp && t->udp)) ||
	    t->ip.iphl + (t->udp ? 8 : 20) > len)
		return false;
	t->thl = t->udp ? 8 : (size_t)(p[t->ip.iphl + 12] >> 4) * 4;
	t->flags = t->udp ? 0 : p[t->ip.iphl + 13];
	if (t->thl < (t->udp ? 8 : 20) || t->ip.iphl + t->thl >= len ||
	    t->ip.iphl != (t->ip.v6 ? 40 : 20) ||
	    (t->udp && get16(p + t->ip.iphl + 4) != len - t->ip.iphl))
		return true;
	t->payload = len - t->ip.iphl - t->thl;
	*merge = t->udp || (t->flags & (uint8_t)~TCP_PSH) == TCP_ACK;
	return true;
}

/* Same flow: protocol, addresses, ports. */
static bool same_flow(const struct gro_item *it, const uint8_t *p,
		      const struct l4seg *t)
{
	const uint8_t *q = it->buf + VNET_HDR_LEN;

	if (it->v6 != t->ip.v6 || it->udp != t->udp)
		return false;
	if (memcmp(q + it->iphl, p + t->ip.iphl, 4) != 0)
		return false;
	if (t->ip.v6)
		return memcmp(q + 8, p + 8, 32) == 0;
	return memcmp(q + 12, p + 12, 8) == 0;
}

/* IP header fields the merged packet would otherwise lose. */
static bool same_ip_fields(const uint8_t *q, const uint8_t *p, bool v6)
{
	if (v6) /* traffic class, flow label, hop limit */
		return memcmp(p, q, 4) == 0 && p[7] == q[7];
	/* TOS, DF, TTL */
	return p[1] == q[1] && (p[6] & 0x40) == (q[6] & 0x40) && p[8] == q[8];
}

/*
 * Whether p continues it, as tcp_gro_receive / udp_gro_receive_segment
 * decide: not larger than the first segment, and for TCP the next sequence
 * number, same ack, window, flags (but PSH) and options.
 */
static bool can_append(const struct gro_item *it, const uint8_t *p,
		       const struct l4seg *t)
{
	const uint8_t *q = it->buf + VNET_HDR_LEN;
	const uint8_t *qt = q + it->iphl, *pt = p + t->ip.iphl;

	if (!it->open || it->thl != t->thl || t->payload > it->gso_size ||
	    it->len + t->payload > VNET_MAX_PACKET ||
	    !same_ip_fields(q, p, t->ip.v6))
		return false;
	if (t->udp)
		return it->segs < GRO_UDP_MAX_SEGS;
	return get32(pt + 4) == it->next_seq &&
	       get32(pt + 8) == get32(qt + 8) &&
	       get16(pt + 14) == get16(qt + 14) && pt[12] == qt[12] &&
	       !((pt[13] ^ qt[13]) & (uint8_t)~TCP_PSH) &&
	       memcmp(pt + 20, qt + 20, t->thl - 20) == 0;
}

static void item_start(struct gro_item *it, const uint8_t *p, size_t len,
		       const struct l4seg *t, bool merge)
{
	memcpy(it->buf + VNET_HDR_LEN, p, len);
	it->len = len;
	it->segs = 1;
	it->open = merge && !(t->flags & TCP_PSH);
	if (!merge)
		return;
	it->udp = t->udp;
	it->v6 = t->ip.v6;
	it->iphl = t->ip.iphl;
	it->thl = t->thl;
	it->gso_size = t->payload;
	it->next_seq =
		t->udp ? 0 : get32(p + t->ip.iphl + 4) + (uint32_t)t->payload;
}

/* Append p's payload to it; close it when p ends the run. */
static void item_append(struct gro_item *it, const uint8_t *p,
			const struct l4seg *t)
{
	memcpy(it->buf + VNET_HDR_LEN + it->len, p + t->ip.iphl + t->thl,
	       t->payload);
	it->len += t->payload;
	it->next_seq += (uint32_t)t->payload;
	it->segs++;
	if (t->payload < it->gso_size || (t->flags & TCP_PSH)) {
		it->buf[VNET_HDR_LEN + it->iphl + 13] |= t->flags & TCP_PSH;
		it->open = false;
	}
}

int vnet_gro_add(struct vnet_gro *g, const uint8_t *p, size_t len)
{
	struct l4seg t = { 0 };
	bool l4, merge;

	if (len == 0 || len > VNET_MAX_PACKET ||
	    (p[0] >> 4 != 4 && p[0] >> 4 != 6))
		return -EINVAL;
	l4 = l4_parse(p, len, &t, g->udp, &merge);
	/*
	 * Only the latest item of a flow is ever open. Any other packet of
	 * the flow closes it, so that nothing is reordered past it.
	 */
	for (size_t i = g->n; l4 && i-- > 0;) {
		struct gro_item *it = &g->items[i];

		if (!it->open || !same_flow(it, p, &t))
			continue;
		if (merge && can_append(it, p, &t)) {
			item_append(it, p, &t);
			return 0;
		}
		it->open = false;
		break;
	}
	if (g->n == g->max)
		return -ENOBUFS;
	item_start(&g->items[g->n++], p, len, &t, merge);
	return 0;
}

/* Turn a merged item into one super-packet with a partial checksum. */
static void item_finish(struct gro_item *it)
{
	struct vnet_hdr h = { 0 };
	uint8_t *q = it->buf + VNET_HDR_LEN;
	size_t l4len = it->len - it->iphl;
	uint8_t proto = it->udp ? IPPROTO_UDP_ : IPPROTO_TCP_;

	if (it->segs > 1) {
		if (it->v6) {
			put16(q + 4, (uint16_t)l4len);
		} else {
			put16(q + 2, (uint16_t)it->len);
			ipv4_fix_csum(q, it->iphl);
		}
		if (it->udp)
			put16(q + it->iphl + 4, (uint16_t)l4len);
		h.flags = VNET_F_NEEDS_CSUM;
		h.gso_type = it->udp  ? VNET_GSO_UDP_L4
			     : it->v6 ? VNET_GSO_TCPV6
				      : VNET_GSO_TCPV4;
		h.hdr_len = (uint16_t)(it->iphl + it->thl);
		h.gso_size = (uint16_t)it->gso_size;
		h.csum_start = (uint16_t)it->iphl;
		h.csum_offset = it->udp ? 6 : 16;
		put16(q + it->iphl + h.csum_offset,
		      vnet_csum_fold(
			      pseudo_sum(q, it->v6, proto, (uint32_t)l4len)));
	}
	vnet_hdr_put(it->buf, &h);
}

int vnet_gro_flush(struct vnet_gro *g, vnet_write_fn write, void *arg)
{
	int ret = 0;

	for (size_t i = 0; i < g->n && !ret; i++) {
		item_finish(&g->items[i]);
		ret = write(arg, g->items[i].buf,
			    VNET_HDR_LEN + g->items[i].len);
	}
	g->n = 0;
	return ret;
}
