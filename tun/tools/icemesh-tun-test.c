// SPDX-License-Identifier: MIT
/*
 * icemesh-tun-test: the TUN and netlink code against a real kernel, for
 * tests/lab/test_tun.sh (run it inside a network namespace).
 *
 *   icemesh-tun-test --name IF --mtu N --addr CIDR... --route CIDR...
 *                    [--timeout SECONDS] [--no-vnet-hdr]
 *   icemesh-tun-test --ping ADDR [--count N]
 *   icemesh-tun-test --uso-send ADDR   (USO_DGRAMS datagrams, one UDP_SEGMENT
 *                                        send, to ADDR port 9)
 *
 * Creates the TUN device (vnet header and offloads), sets MTU, addresses and
 * routes and brings it up through netlink.c, then prints "READY" and serves
 * until the timeout or SIGTERM:
 *   - ICMP and ICMPv6 echo requests routed into the TUN are answered;
 *   - TCP to port 9 (discard) is taken by a minimal receiver that ACKs in
 *     order, so the kernel sends TSO super-packets; they are read with
 *     tun_read_batch, and every TCP/UDP segment has its checksums verified;
 *   - UDP to port 9 is counted (datagrams of USO_DGRAM bytes with the
 *     check pattern), so that --uso-send shows the kernel's USO
 *     super-packets split correctly;
 *   - link and address notifications from the watcher are printed as EVENT;
 *   - with --gro-check, for the first IPv4 and IPv6 --addr each, the tool
 *     connects to a listener of its own on that address as a client beyond
 *     the TUN and writes GRO_BYTES of data as coalesced super-packets; the
 *     listener must read them back intact (GRODONE). Then, when the kernel
 *     granted USO, GRO_DGRAMS UDP datagrams go as one super-packet to a UDP
 *     socket of its own, which must receive them one by one (GROUDP).
 * Lines on stdout: READY, EVENT, TCPDONE, GRODONE, GROUDP, STATS. Replies go back through the
 * GRO coalescer, as the daemon's receive path will.
 *
 * --ping sends N ICMP(v6) echo requests from a raw socket and exits 0 only
 * if every one is answered within a second (the lab needs no ping(8)).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "tun/netlink.h"
#include "tun/tun.h"
#include "tun/vnet.h"

enum {
	MAX_PREFIXES = 8,
	MAX_SEGS = 64,
	SEG_CAP = 9216,
	MAX_CONNS = 16,
	DISCARD_PORT = 9,
	READS_PER_WAKEUP = 64,
	GRO_PORT = 7777,
	GRO_CLIENT_PORT = 41000,
	GRO_SEG = 1000,
	GRO_BYTES = 48 * GRO_SEG,
	GRO_UDP_PORT = 7778,
	GRO_DGRAM = 1200,
	GRO_DGRAMS = 20,
	USO_DGRAM = 1000,
	USO_DGRAMS = 10,
};

_Static_assert(60 + 60 + GRO_SEG <= 2048 && 60 + 8 + GRO_DGRAM <= 2048,
	       "the GRO check's packet buffer");

struct prefix {
	int family;
	uint8_t addr[16];
	uint8_t len;
};

struct conn {
	bool used, v6;
	uint8_t peer[16], local[16];
	uint16_t peer_port;
	uint32_t iss, rcv_nxt;
	uint64_t bytes;
};

/* A TCP client beyond the TUN, sending to a listener of ours (GRO check). */
struct grocheck {
	bool active, v6, done, udp_done;
	int lfd, cfd, ufd;
	unsigned dgrams;
	uint8_t local[16], peer[16];
	uint32_t isn, srv_next;
	size_t got;
	uint64_t syn_ms;
	unsigned syns;
};

struct stats {
	unsigned reads, gso, uso, segs, bad_csum, split_err, echo, gro_super;
	unsigned udp_dgrams, udp_bad;
	uint64_t tcp_bytes;
	unsigned tcp_done;
};

struct ctx {
	struct tun_device *tun;
	struct vnet_gro *gro;
	struct tun_batch *batch;
	struct conn conns[MAX_CONNS];
	struct stats st;
	unsigned mss;
	bool gro_udp;
	struct grocheck gro_checks[2];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_prefix(const char *s, struct prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long n;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash++ = '\0';
	p->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(p->family, buf, p->addr) != 1)
		return -EINVAL;
	n = strtoul(slash, &end, 10);
	if (*end || n > (p->family == AF_INET ? 32u : 128u))
		return -EINVAL;
	p->len = (uint8_t)n;
	return 0;
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

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Checksum of an L4 segment with its pseudo-header, field zeroed first. */
static void l4_csum(uint8_t *ip, bool v6, uint8_t proto, size_t iphl,
		    size_t l4len, size_t field)
{
	uint32_t s;

	put16(ip + iphl + field, 0);
	s = v6 ? vnet_csum_add(0, ip + 8, 32) : vnet_csum_add(0, ip + 12, 8);
	s += proto + (uint32_t)l4len;
	s = vnet_csum_add(s, ip + iphl, l4len);
	put16(ip + iphl + field, (uint16_t)~vnet_csum_fold(s));
}

/* An IP header from local to peer, for a reply of l4len bytes. */
static size_t ip_header(uint8_t *o, bool v6, const uint8_t *local,
			const uint8_t *peer, uint8_t proto, size_t l4len)
{
	if (v6) {
		memset(o, 0, 40);
		o[0] = 0x60;
		put16(o + 4, (unsigned)l4len);
		o[6] = proto;
		o[7] = 64;
		memcpy(o + 8, local, 16);
		memcpy(o + 24, peer, 16);
		return 40;
	}
	memset(o, 0, 20);
	o[0] = 0x45;
	put16(o + 2, (unsigned)(20 + l4len));
	o[6] = 0x40;
	o[8] = 64;
	o[9] = proto;
	memcpy(o + 12, local, 4);
	memcpy(o + 16, peer, 4);
	put16(o + 10, (uint16_t)~vnet_csum_fold(vnet_csum_add(0, o, 20)));
	return 20;
}

static int write_tun(void *arg, const uint8_t *data, size_t len)
{
	struct ctx *c = arg;

	if (len > VNET_HDR_LEN && (data[1] & 0x7f) != VNET_GSO_NONE)
		c->st.gro_super++;
	return tun_write_raw(c->tun, data, len);
}

static void emit(struct ctx *c, const uint8_t *pkt, size_t len)
{
	if (vnet_gro_add(c->gro, pkt, len) == -ENOBUFS) {
		vnet_gro_flush(c->gro, write_tun, c);
		vnet_gro_add(c->gro, pkt, len);
	}
}

static void echo_reply(struct ctx *c, uint8_t *p, size_t len, bool v6)
{
	size_t iphl = v6 ? 40 : (size_t)(p[0] & 15) * 4;
	uint8_t tmp[16];
	size_t alen = v6 ? 16 : 4, src = v6 ? 8 : 12, dst = v6 ? 24 : 16;

	memcpy(tmp, p + src, alen);
	memcpy(p + src, p + dst, alen);
	memcpy(p + dst, tmp, alen);
	if (v6) {
		p[iphl] = 129;
		l4_csum(p, true, 58, iphl, len - iphl, 2);
	} else {
		p[iphl] = 0;
		put16(p + iphl + 2, 0);
		put16(p + iphl + 2, (uint16_t)~vnet_csum_fold(vnet_csum_add(
					    0, p + iphl, len - iphl)));
		p[8] = 64;
		put16(p + 10, 0);
		put16(p + 10,
		      (uint16_t)~vnet_csum_fold(vnet_csum_add(0, p, iphl)));
	}
	c->st.echo++;
	emit(c, p, len);
}

struct tcpspec {
	bool v6;
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	bool syn_opts;
	size_t payload; /* bytes of the pattern, from stream offset off */
	uint32_t off;
};

/* The check pattern of the GRO stream: byte k is k * 7 + 3. */
static uint8_t pattern(uint32_t k)
{
	return (uint8_t)(k * 7 + 3);
}

static size_t tcp_build(uint8_t *o, const struct tcpspec *s, unsigned mss)
{
	size_t thl = s->syn_opts ? 28 : 20;
	size_t iphl = ip_header(o, s->v6, s->src, s->dst, 6, thl + s->payload);
	uint8_t *t = o + iphl;

	memset(t, 0, thl);
	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, s->seq);
	put32(t + 8, s->ack);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = s->flags;
	put16(t + 14, 65535);
	if (s->syn_opts) {
		/* MSS, NOP, window scale 7 (an 8 MiB window) */
		memcpy(t + 20, (uint8_t[]){ 2, 4, 0, 0, 1, 3, 3, 7 }, 8);
		put16(t + 22, mss);
	}
	for (size_t i = 0; i < s->payload; i++)
		t[thl + i] = pattern(s->off + (uint32_t)i);
	l4_csum(o, s->v6, 6, iphl, thl + s->payload, 16);
	return iphl + thl + s->payload;
}

static void tcp_send(struct ctx *c, const struct conn *k, uint8_t flags,
		     uint32_t seq, bool syn_opts)
{
	uint8_t o[80];
	struct tcpspec s = { .v6 = k->v6,
			     .src = k->local,
			     .dst = k->peer,
			     .sport = DISCARD_PORT,
			     .dport = k->peer_port,
			     .seq = seq,
			     .ack = k->rcv_nxt,
			     .flags = flags,
			     .syn_opts = syn_opts };

	emit(c, o, tcp_build(o, &s, c->mss));
}

static struct conn *conn_find(struct ctx *c, bool v6, const uint8_t *peer,
			      uint16_t port, bool create)
{
	struct conn *free_slot = NULL;
	size_t alen = v6 ? 16 : 4;

	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *k = &c->conns[i];

		if (!k->used) {
			free_slot = free_slot ? free_slot : k;
			continue;
		}
		if (k->v6 == v6 && k->peer_port == port &&
		    memcmp(k->peer, peer, alen) == 0)
			return k;
	}
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->v6 = v6;
	memcpy(free_slot->peer, peer, alen);
	free_slot->peer_port = port;
	return free_slot;
}

/* The discard receiver: in-order data only, one ACK per segment. */
static void tcp_in(struct ctx *c, const uint8_t *p, size_t len, bool v6,
		   size_t iphl)
{
	const uint8_t *t = p + iphl;
	size_t thl, payload;
	uint8_t flags;
	struct conn *k;

	if (len < iphl + 20 || get16(t + 2) != DISCARD_PORT)
		return;
	thl = (size_t)(t[12] >> 4) * 4;
	if (thl < 20 || iphl + thl > len)
		return;
	payload = len - iphl - thl;
	flags = t[13];
	k = conn_find(c, v6, p + (v6 ? 8 : 12), (uint16_t)get16(t),
		      flags == 0x02);
	if (!k)
		return;
	if (flags & 0x04) { /* RST */
		k->used = false;
		return;
	}
	if (flags == 0x02) { /* SYN */
		memcpy(k->local, p + (v6 ? 24 : 16), v6 ? 16 : 4);
		k->iss = (uint32_t)clock_now_us();
		k->rcv_nxt = get32(t + 4) + 1;
		k->bytes = 0;
		tcp_send(c, k, 0x12, k->iss, true);
		return;
	}
	if (get32(t + 4) == k->rcv_nxt) {
		k->rcv_nxt += (uint32_t)payload;
		k->bytes += payload;
		c->st.tcp_bytes += payload;
		if (flags & 0x01) { /* FIN */
			k->rcv_nxt++;
			tcp_send(c, k, 0x11, k->iss + 1, false);
			printf("TCPDONE bytes=%" PRIu64 "\n", k->bytes);
			c->st.tcp_done++;
			k->used = false;
			return;
		}
	}
	if (payload || (flags & 0x01))
		tcp_send(c, k, 0x10, k->iss + 1, false);
}

/*
 * (Re)send the client's SYN: the first may go out before IPv6 is ready on
 * the new link, so it is repeated every 200 ms until answered, at most 50
 * times.
 */
static int gro_syn(struct ctx *c, struct grocheck *g)
{
	struct tcpspec syn = { .v6 = g->v6,
			       .src = g->peer,
			       .dst = g->local,
			       .sport = GRO_CLIENT_PORT,
			       .dport = GRO_PORT,
			       .seq = g->isn,
			       .flags = 0x02,
			       .syn_opts = true };
	uint8_t o[80];

	g->syn_ms = clock_now_ms();
	g->syns++;
	return tun_write_ip(c->tun, o, tcp_build(o, &syn, c->mss));
}

static int gro_start(struct ctx *c, struct grocheck *g, const struct prefix *p)
{
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} sa;
	int one = 1;

	memset(g, 0, sizeof(*g));
	g->v6 = p->family == AF_INET6;
	memcpy(g->local, p->addr, 16);
	memcpy(g->peer, p->addr, 16);
	g->peer[g->v6 ? 15 : 3] ^= 3; /* another host of the same prefix */
	memset(&sa, 0, sizeof(sa));
	if (g->v6) {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(GRO_PORT);
		memcpy(&sa.in6.sin6_addr, g->local, 16);
	} else {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons(GRO_PORT);
		memcpy(&sa.in4.sin_addr, g->local, 4);
	}
	g->cfd = -1;
	g->lfd = socket(p->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	g->ufd =
		socket(p->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	g->active = true; /* from here on gro_stop closes what is open */
	if (g->lfd < 0 || g->ufd < 0)
		return -errno;
	setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(g->lfd, (struct sockaddr *)&sa,
		 g->v6 ? sizeof(sa.in6) : sizeof(sa.in4)) < 0 ||
	    listen(g->lfd, 1) < 0)
		return -errno;
	if (g->v6)
		sa.in6.sin6_port = htons(GRO_UDP_PORT);
	else
		sa.in4.sin_port = htons(GRO_UDP_PORT);
	if (bind(g->ufd, (struct sockaddr *)&sa,
		 g->v6 ? sizeof(sa.in6) : sizeof(sa.in4)) < 0)
		return -errno;
	g->isn = (uint32_t)clock_now_us() * 2654435761u;
	return gro_syn(c, g);
}

/* UDP datagram i of the check, from the client beyond the TUN. */
static size_t udp_build(uint8_t *o, const struct grocheck *g, unsigned i)
{
	size_t iphl = ip_header(o, g->v6, g->peer, g->local, 17, 8 + GRO_DGRAM);
	uint8_t *u = o + iphl;

	put16(u, GRO_CLIENT_PORT + 1);
	put16(u + 2, GRO_UDP_PORT);
	put16(u + 4, 8 + GRO_DGRAM);
	for (unsigned j = 0; j < GRO_DGRAM; j++)
		u[8 + j] = pattern(i * GRO_DGRAM + j);
	l4_csum(o, g->v6, 17, iphl, 8 + GRO_DGRAM, 6);
	return iphl + 8 + GRO_DGRAM;
}

/* The listener's SYN-ACK: ACK it, then the whole stream, through GRO. */
static void gro_synack(struct ctx *c, struct grocheck *g, const uint8_t *t)
{
	static uint8_t o[2048]; /* IP + L4 headers + GRO_SEG or GRO_DGRAM */
	struct tcpspec s = { .v6 = g->v6,
			     .src = g->peer,
			     .dst = g->local,
			     .sport = GRO_CLIENT_PORT,
			     .dport = GRO_PORT,
			     .seq = g->isn + 1,
			     .flags = 0x10 };

	g->srv_next = get32(t + 4) + 1;
	s.ack = g->srv_next;
	emit(c, o, tcp_build(o, &s, c->mss));
	for (uint32_t off = 0; off < GRO_BYTES; off += GRO_SEG) {
		s.seq = g->isn + 1 + off;
		s.off = off;
		s.payload = GRO_SEG;
		s.flags = off + GRO_SEG == GRO_BYTES ? 0x18 : 0x10;
		emit(c, o, tcp_build(o, &s, c->mss));
	}
	/* the path is known to work now: the UDP datagrams too */
	for (unsigned i = 0; c->gro_udp && i < GRO_DGRAMS; i++)
		emit(c, o, udp_build(o, g, i));
}

/* A TCP packet from one of our listeners to its client beyond the TUN. */
static bool gro_in(struct ctx *c, const uint8_t *p, size_t len, bool v6,
		   size_t iphl)
{
	const uint8_t *t = p + iphl;

	if (len < iphl + 20 || get16(t) != GRO_PORT ||
	    get16(t + 2) != GRO_CLIENT_PORT)
		return false;
	for (int i = 0; i < 2; i++) {
		struct grocheck *g = &c->gro_checks[i];

		if (g->active && g->v6 == v6 && !g->srv_next &&
		    (t[13] & 0x12) == 0x12)
			gro_synack(c, g, t);
	}
	return true; /* its ACKs need no answer */
}

/* The UDP socket: every datagram whole, in order, with its pattern. */
static void gro_poll_udp(struct grocheck *g)
{
	uint8_t buf[4096];
	ssize_t n;

	while (!g->udp_done && (n = recv(g->ufd, buf, sizeof(buf), 0)) >= 0) {
		bool ok = n == GRO_DGRAM;

		for (ssize_t j = 0; ok && j < n; j++)
			ok = buf[j] ==
			     pattern(g->dgrams * GRO_DGRAM + (uint32_t)j);
		if (!ok) {
			printf("GROBAD family=%d datagram %u: %zd bytes\n",
			       g->v6 ? 6 : 4, g->dgrams, n);
			g->udp_done = true;
			return;
		}
		if (++g->dgrams == GRO_DGRAMS) {
			printf("GROUDP family=%d datagrams=%u\n", g->v6 ? 6 : 4,
			       g->dgrams);
			g->udp_done = true;
		}
	}
}

/* The listener side: accept, read, compare with the pattern. */
static void gro_poll(struct grocheck *g)
{
	uint8_t buf[16384];
	ssize_t n;

	if (g->active)
		gro_poll_udp(g);
	if (!g->active || g->done)
		return;
	if (g->cfd < 0) {
		g->cfd = accept4(g->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (g->cfd < 0)
			return;
	}
	while ((n = read(g->cfd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pattern((uint32_t)g->got + (uint32_t)i)) {
				printf("GROBAD family=%d offset=%zu\n",
				       g->v6 ? 6 : 4, g->got + (size_t)i);
				g->done = true;
				return;
			}
		}
		g->got += (size_t)n;
	}
	if (g->got == GRO_BYTES) {
		printf("GRODONE family=%d bytes=%zu\n", g->v6 ? 6 : 4, g->got);
		g->done = true;
	}
}

static void gro_stop(struct grocheck *g)
{
	if (!g->active)
		return;
	if (g->cfd >= 0)
		close(g->cfd);
	if (g->lfd >= 0)
		close(g->lfd);
	if (g->ufd >= 0)
		close(g->ufd);
	g->active = false;
}

/* UDP to the discard port: whole datagrams of the --uso-send pattern. */
static void udp_in(struct ctx *c, const uint8_t *u, size_t len)
{
	bool ok;

	if (len < 8 || get16(u + 2) != DISCARD_PORT)
		return;
	ok = len == 8 + USO_DGRAM && get16(u + 4) == len;
	for (size_t j = 0; ok && j < USO_DGRAM; j++)
		ok = u[8 + j] == pattern((uint32_t)j);
	if (ok)
		c->st.udp_dgrams++;
	else
		c->st.udp_bad++;
}

static void segment_in(struct ctx *c, uint8_t *p, size_t len)
{
	bool v6 = len >= 40 && p[0] >> 4 == 6;
	size_t iphl = v6 ? 40 : (size_t)(p[0] & 15) * 4;
	uint8_t proto;

	if (!v6 && (len < 20 || p[0] >> 4 != 4))
		return;
	if (iphl > len)
		return;
	proto = v6 ? p[6] : p[9];
	/* what the kernel sent, once split, must check out */
	if (proto == 6 || proto == 17) {
		if (vnet_verify_checksums(p, len) != 0) {
			c->st.bad_csum++;
			return;
		}
	}
	if (proto == 6) {
		if (!gro_in(c, p, len, v6, iphl))
			tcp_in(c, p, len, v6, iphl);
	} else if (proto == 17) {
		udp_in(c, p + iphl, len - iphl);
	} else if (!v6 && proto == 1 && len >= iphl + 8 && p[iphl] == 8) {
		echo_reply(c, p, len, false);
	} else if (v6 && proto == 58 && len >= 48 && p[40] == 128) {
		echo_reply(c, p, len, true);
	}
}

/* One wakeup: a bounded batch through tun_read_batch, replies via GRO. */
static void tun_in(struct ctx *c)
{
	const struct tun_batch_stats *bs = tun_batch_stats(c->batch);
	int n = tun_read_batch(c->tun, c->batch, READS_PER_WAKEUP);

	for (int i = 0; i < n; i++) {
		size_t len;
		uint8_t *p = tun_batch_packet(c->batch, (size_t)i, &len);

		segment_in(c, p, len);
	}
	tun_batch_clear(c->batch);
	c->st.reads = (unsigned)bs->reads;
	c->st.gso = (unsigned)bs->super_packets;
	c->st.uso = (unsigned)bs->udp_super_packets;
	c->st.segs = (unsigned)bs->segments;
	c->st.split_err = (unsigned)(bs->malformed + bs->too_big);
	if (tun_has_vnet_hdr(c->tun))
		vnet_gro_flush(c->gro, write_tun, c);
}

static void on_event(void *arg, const struct netlink_event *ev)
{
	char s[INET6_ADDRSTRLEN];

	(void)arg;
	if (ev->type == NETLINK_EV_LINK)
		printf("EVENT link %s ifindex=%u name=%s %s mtu=%u\n",
		       ev->removed ? "del" : "new", ev->ifindex, ev->ifname,
		       (ev->flags & IFF_UP) ? "up" : "down", ev->mtu);
	else if (ev->type == NETLINK_EV_ADDR)
		printf("EVENT addr %s ifindex=%u %s/%u\n",
		       ev->removed ? "del" : "new", ev->ifindex,
		       inet_ntop(ev->family, ev->addr, s, sizeof(s)),
		       ev->prefixlen);
	else
		printf("EVENT resync\n");
}

static void print_stats(const struct stats *st)
{
	printf("STATS reads=%u gso=%u uso=%u segs=%u bad_csum=%u "
	       "split_err=%u echo=%u tcp_bytes=%" PRIu64 " tcp_done=%u "
	       "gro_super=%u udp_dgrams=%u udp_bad=%u\n",
	       st->reads, st->gso, st->uso, st->segs, st->bad_csum,
	       st->split_err, st->echo, st->tcp_bytes, st->tcp_done,
	       st->gro_super, st->udp_dgrams, st->udp_bad);
}

/* Wait up to 1 s for the echo reply with our id and seq. */
static bool ping_wait(int fd, bool v6, uint16_t id, uint16_t seq)
{
	uint64_t end = clock_now_ms() + 1000;
	uint8_t buf[2048];

	while (clock_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const uint8_t *icmp = buf;
		ssize_t n;

		if (poll(&p, 1, (int)(end - clock_now_ms())) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		if (!v6) { /* raw IPv4 sockets hand over the IP header too */
			size_t iphl = (size_t)(buf[0] & 15) * 4;

			if ((size_t)n < iphl + 8)
				continue;
			icmp = buf + iphl;
			n -= (ssize_t)iphl;
			if (vnet_csum_fold(vnet_csum_add(0, icmp, (size_t)n)) !=
			    0xffff)
				continue;
		}
		if (n >= 8 && icmp[0] == (v6 ? 129 : 0) &&
		    get16(icmp + 4) == id && get16(icmp + 6) == seq)
			return true;
	}
	return false;
}

static int ping_main(const char *addr, unsigned count)
{
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} sa;
	bool v6 = strchr(addr, ':') != NULL;
	uint16_t id = (uint16_t)getpid();
	unsigned ok = 0;
	int fd;

	memset(&sa, 0, sizeof(sa));
	if (v6) {
		sa.in6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)
			return 2;
	} else {
		sa.in4.sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &sa.in4.sin_addr) != 1)
			return 2;
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC,
		    v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (fd < 0) {
		perror("icemesh-tun-test: raw socket");
		return 1;
	}
	for (unsigned seq = 1; seq <= count; seq++) {
		uint8_t pkt[64];

		memset(pkt, 0, sizeof(pkt));
		pkt[0] = v6 ? 128 : 8;
		put16(pkt + 4, id);
		put16(pkt + 6, seq);
		for (size_t i = 8; i < sizeof(pkt); i++)
			pkt[i] = (uint8_t)i;
		/* the kernel fills the ICMPv6 checksum itself */
		if (!v6)
			put16(pkt + 2, (uint16_t)~vnet_csum_fold(vnet_csum_add(
					       0, pkt, sizeof(pkt))));
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa,
			   v6 ? sizeof(sa.in6) : sizeof(sa.in4)) < 0) {
			perror("icemesh-tun-test: sendto");
			break;
		}
		if (ping_wait(fd, v6, id, (uint16_t)seq)) {
			printf("PING reply from %s seq=%u\n", addr, seq);
			ok++;
		} else {
			printf("PING timeout %s seq=%u\n", addr, seq);
		}
	}
	close(fd);
	return ok == count ? 0 : 1;
}

/* One UDP_SEGMENT send: the kernel hands the TUN a USO super-packet. */
static int uso_main(const char *addr)
{
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} sa;
	static uint8_t buf[USO_DGRAMS * USO_DGRAM];
	bool v6 = strchr(addr, ':') != NULL;
	int fd, seg = USO_DGRAM;

	memset(&sa, 0, sizeof(sa));
	if (v6) {
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(DISCARD_PORT);
		if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)
			return 2;
	} else {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons(DISCARD_PORT);
		if (inet_pton(AF_INET, addr, &sa.in4.sin_addr) != 1)
			return 2;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern((uint32_t)(i % USO_DGRAM));
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) ||
	    sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa,
		   v6 ? sizeof(sa.in6) : sizeof(sa.in4)) !=
		    (ssize_t)sizeof(buf)) {
		perror("icemesh-tun-test: UDP_SEGMENT send");
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	printf("USO sent %d datagrams of %d bytes to %s\n", USO_DGRAMS,
	       USO_DGRAM, addr);
	return 0;
}

struct opts {
	const char *name;
	unsigned mtu;
	struct prefix addrs[MAX_PREFIXES], routes[MAX_PREFIXES];
	size_t naddrs, nroutes;
	unsigned timeout;
	bool vnet;
	const char *ping, *uso;
	unsigned count;
	bool gro_check;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "addr", required_argument, NULL, 'a' },
		{ "route", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-vnet-hdr", no_argument, NULL, 'V' },
		{ "ping", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "gro-check", no_argument, NULL, 'g' },
		{ "uso-send", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct opts){ .name = "imtun0",
			    .mtu = 1420,
			    .timeout = 60,
			    .vnet = true,
			    .count = 3 };
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'n':
			o->name = optarg;
			break;
		case 'm':
			o->mtu = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'a':
		case 'r':
			if ((ch == 'a' ? o->naddrs : o->nroutes) >=
				    MAX_PREFIXES ||
			    parse_prefix(optarg,
					 ch == 'a' ? &o->addrs[o->naddrs++]
						   : &o->routes[o->nroutes++]))
				return -EINVAL;
			break;
		case 't':
			o->timeout = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'V':
			o->vnet = false;
			break;
		case 'p':
			o->ping = optarg;
			break;
		case 'c':
			o->count = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			o->gro_check = true;
			break;
		case 'u':
			o->uso = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	return o->mtu >= 1280 && o->mtu <= 9000 ? 0 : -EINVAL;
}

static int configure(struct netlink *nl, unsigned idx, const struct opts *o)
{
	int ret = netlink_link_set_mtu(nl, idx, o->mtu);

	for (size_t i = 0; !ret && i < o->naddrs; i++)
		ret = netlink_addr_add(nl, idx, o->addrs[i].family,
				       o->addrs[i].addr, o->addrs[i].len);
	if (!ret)
		ret = netlink_link_set_up(nl, idx, true);
	/* routes after the link is up: the kernel refuses them before */
	for (size_t i = 0; !ret && i < o->nroutes; i++)
		ret = netlink_route_add(nl, idx, o->routes[i].family,
					o->routes[i].addr, o->routes[i].len, 0);
	return ret;
}

static void gro_check_start(struct ctx *c, const struct opts *o)
{
	bool have4 = false, have6 = false;

	for (size_t i = 0; i < o->naddrs; i++) {
		bool v6 = o->addrs[i].family == AF_INET6;
		int ret;

		if (v6 ? have6 : have4)
			continue;
		ret = gro_start(c, &c->gro_checks[v6], &o->addrs[i]);
		if (ret)
			printf("GROBAD family=%d setup: %s\n", v6 ? 6 : 4,
			       strerror(-ret));
		*(v6 ? &have6 : &have4) = true;
	}
}

static int serve(struct ctx *c, struct netlink_watch *w, unsigned timeout)
{
	uint64_t end = clock_now_ms() + (uint64_t)timeout * 1000;

	while (!stop && clock_now_ms() < end) {
		struct pollfd p[8] = {
			{ .fd = tun_fd(c->tun), .events = POLLIN },
			{ .fd = netlink_watch_fd(w), .events = POLLIN },
		};

		for (int i = 0; i < 2; i++) {
			const struct grocheck *g = &c->gro_checks[i];

			p[2 + 3 * i].fd = g->active && !g->done ? g->lfd : -1;
			p[3 + 3 * i].fd = g->active && !g->done ? g->cfd : -1;
			p[4 + 3 * i].fd =
				g->active && !g->udp_done ? g->ufd : -1;
			p[2 + 3 * i].events = p[3 + 3 * i].events = POLLIN;
			p[4 + 3 * i].events = POLLIN;
		}
		if (poll(p, 8, 200) < 0 && errno != EINTR)
			return -errno;
		if (p[0].revents & POLLIN)
			tun_in(c);
		if (p[1].revents & POLLIN)
			netlink_watch_process(w, 16);
		for (int i = 0; i < 2; i++) {
			struct grocheck *g = &c->gro_checks[i];

			gro_poll(g);
			if (g->active && !g->srv_next && g->syns < 50 &&
			    clock_now_ms() - g->syn_ms >= 200)
				gro_syn(c, g);
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct netlink *nl = NULL;
	struct netlink_watch *w = NULL;
	struct opts o;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_opts(argc, argv, &o)) {
		fprintf(stderr,
			"usage: %s --name IF --mtu N --addr CIDR... "
			"--route CIDR... [--timeout S] [--no-vnet-hdr]\n",
			argv[0]);
		return 2;
	}
	if (o.ping)
		return ping_main(o.ping, o.count);
	if (o.uso)
		return uso_main(o.uso);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	c.mss = o.mtu - 60;
	ret = tun_open(o.name, o.vnet ? TUN_OPEN_VNET_HDR : 0, &c.tun);
	if (!ret) {
		/* UDP is coalesced only where the kernel takes USO */
		unsigned uso = TUN_OFFLOAD_USO4 | TUN_OFFLOAD_USO6;

		c.gro_udp = (tun_offloads(c.tun) & uso) == uso;
		c.gro = vnet_gro_create(MAX_SEGS, c.gro_udp ? VNET_GRO_UDP : 0);
		c.batch = tun_batch_create(4 * MAX_SEGS, SEG_CAP);
		ret = c.gro && c.batch ? 0 : -ENOMEM;
	}
	if (!ret)
		ret = netlink_open(&nl);
	if (!ret)
		ret = netlink_watch_open(on_event, NULL, &w);
	if (!ret)
		ret = configure(nl, tun_ifindex(c.tun), &o);
	if (ret) {
		fprintf(stderr, "icemesh-tun-test: setup: %s\n",
			strerror(-ret));
		goto out;
	}
	printf("READY %s ifindex=%u offloads=0x%x gro_udp=%d\n",
	       tun_name(c.tun), tun_ifindex(c.tun), tun_offloads(c.tun),
	       c.gro_udp);
	if (o.gro_check)
		gro_check_start(&c, &o);
	ret = serve(&c, w, o.timeout);
	gro_stop(&c.gro_checks[0]);
	gro_stop(&c.gro_checks[1]);
	print_stats(&c.st);
out:
	netlink_watch_close(w);
	netlink_close(nl);
	tun_close(c.tun);
	vnet_gro_destroy(c.gro);
	tun_batch_destroy(c.batch);
	return ret ? 1 : 0;
}
