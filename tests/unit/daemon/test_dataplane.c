// SPDX-License-Identifier: MIT
/*
 * The data plane end to end in one process, without root: two data planes
 * on one libuv loop, each with a SOCK_SEQPACKET pair standing in for its TUN
 * and its UDP on loopback, configured through the UAPI handler. Between
 * them a relay socket of the test's own carries (and records, replays,
 * truncates, corrupts) every datagram, so that what crosses the "network"
 * is under the test's control:
 *
 *   tun A (test end) <-> dp A --UDP--> relay --UDP--> dp B <-> tun B
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "common/addr.h"
#include "common/clock.h"
#include "daemon/dataplane.h"
#include "daemon/uapi_server.h"
#include "tun/vnet.h"
#include "wireguard/blake2s.h"
#include "wireguard/cookie.h"
#include "wireguard/uapi.h"

struct side {
	struct dp *dp;
	int tun; /* the test's end of the packet pair */
	uint8_t priv[32], pub[32];
};

struct lab {
	uv_loop_t loop;
	struct side s[2];
	int relay;
	uint16_t relay_port;
	/* the last datagram the relay carried from A to B */
	uint8_t last[2048];
	size_t last_len;
	bool hold; /* record, do not forward A's datagrams */
};

static void hex(char *out, const uint8_t *k)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", k[i]);
}

/* Apply a set request written as text; returns the handler's errno. */
static int uapi_set_text(struct dp *dp, const char *text)
{
	struct uapi_set *set = NULL;
	struct uapi_buf ans;
	enum uapi_op op;
	int ret;

	ret = uapi_parse(text, strlen(text), &op, &set);
	if (ret)
		return ret;
	uapi_buf_init(&ans);
	ret = uapi_server_handle(dp, op, set, &ans);
	uapi_buf_free(&ans);
	uapi_set_free(set);
	return ret;
}

static void configure(struct lab *l, int i, const char *allowed_self_of_peer)
{
	char priv[65], pub[65], text[1024];
	const struct side *me = &l->s[i], *other = &l->s[1 - i];

	hex(priv, me->priv);
	hex(pub, other->pub);
	snprintf(text, sizeof(text),
		 "set=1\nprivate_key=%s\npublic_key=%s\n"
		 "endpoint=127.0.0.1:%u\n%s\n",
		 priv, pub, l->relay_port, allowed_self_of_peer);
	assert_int_equal(uapi_set_text(me->dp, text), 0);
}

static void side_up(struct lab *l, int i, bool vnet)
{
	struct dp_config cfg = {
		.loop = &l->loop,
		.loopback_only = true,
		.tun_fd_vnet = vnet,
	};
	int sp[2];

	assert_int_equal(
		socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
	cfg.tun_fd = sp[0];
	l->s[i].tun = sp[1];
	assert_int_equal(dp_create(&cfg, &l->s[i].dp), 0);
	randombytes_buf(l->s[i].priv, 32);
	crypto_scalarmult_base(l->s[i].pub, l->s[i].priv);
}

static int lab_setup_as(void **state, bool vnet)
{
	struct lab *l = calloc(1, sizeof(*l));
	union sockaddr_any a;
	socklen_t al = sizeof(a);

	assert_non_null(l);
	assert_int_equal(sodium_init() >= 0, 1);
	uv_loop_init(&l->loop);
	side_up(l, 0, vnet);
	side_up(l, 1, vnet);
	l->relay = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	addr_parse("127.0.0.1", 0, &a);
	assert_int_equal(bind(l->relay, &a.sa, addr_len(&a)), 0);
	getsockname(l->relay, &a.sa, &al);
	l->relay_port = addr_port(&a);
	configure(l, 0, "allowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\n");
	configure(l, 1, "allowed_ip=10.0.0.1/32\nallowed_ip=fd00::1/128\n");
	*state = l;
	return 0;
}

static int lab_setup(void **state)
{
	return lab_setup_as(state, false);
}

/* Both TUN stand-ins speak vnet headers, as TUNs with all offloads do. */
static int lab_setup_vnet(void **state)
{
	return lab_setup_as(state, true);
}

static int lab_teardown(void **state)
{
	struct lab *l = *state;

	for (int i = 0; i < 2; i++) {
		dp_destroy(l->s[i].dp);
		close(l->s[i].tun);
	}
	uv_run(&l->loop, UV_RUN_DEFAULT); /* the close callbacks */
	assert_int_equal(uv_loop_close(&l->loop), 0);
	close(l->relay);
	free(l);
	return 0;
}

static void send_to(int fd, uint16_t port, const uint8_t *p, size_t len)
{
	union sockaddr_any a;

	addr_parse("127.0.0.1", port, &a);
	assert_true(sendto(fd, p, len, 0, &a.sa, addr_len(&a)) == (ssize_t)len);
}

/* Carry what waits at the relay: A's port to B's, anything else to A. */
static void relay_pump(struct lab *l)
{
	uint8_t buf[2048];
	union sockaddr_any from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(l->relay, buf, sizeof(buf), 0, &from.sa, &fl)) >
	       0) {
		bool from_a = addr_port(&from) == dp_listen_port(l->s[0].dp);

		if (from_a) {
			memcpy(l->last, buf, (size_t)n);
			l->last_len = (size_t)n;
			if (l->hold)
				continue;
		}
		send_to(l->relay, dp_listen_port(l->s[from_a ? 1 : 0].dp), buf,
			(size_t)n);
		fl = sizeof(from);
	}
}

/* Run the loop and the relay until a packet shows at fd or ms pass. */
static ssize_t pump_read(struct lab *l, int fd, uint8_t *buf, size_t cap,
			 unsigned ms)
{
	uint64_t end = clock_now_ms() + ms;

	do {
		ssize_t n;

		uv_run(&l->loop, UV_RUN_NOWAIT);
		relay_pump(l);
		uv_run(&l->loop, UV_RUN_NOWAIT);
		n = fd >= 0 ? recv(fd, buf, cap, MSG_DONTWAIT) : -1;
		if (n > 0)
			return n;
		poll(NULL, 0, 1);
	} while (clock_now_ms() < end);
	return -1;
}

static size_t ipv4_packet(uint8_t *p, const char *src, const char *dst,
			  size_t payload, uint8_t fill)
{
	size_t len = 20 + payload;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	memset(p + 20, fill, payload);
	return len;
}

static size_t ipv6_packet(uint8_t *p, const char *src, const char *dst,
			  size_t payload, uint8_t fill)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(payload >> 8);
	p[5] = (uint8_t)payload;
	p[6] = 17;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	memset(p + 40, fill, payload);
	return 40 + payload;
}

/* Write pkt into side i's TUN and expect it, unchanged, out of the other. */
static void expect_through(struct lab *l, int i, const uint8_t *pkt, size_t len)
{
	uint8_t got[4096];
	ssize_t n;

	assert_int_equal(send(l->s[i].tun, pkt, len, 0), (ssize_t)len);
	n = pump_read(l, l->s[1 - i].tun, got, sizeof(got), 3000);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(got, pkt, len);
}

static void expect_nothing(struct lab *l, int i)
{
	uint8_t got[4096];

	assert_int_equal(pump_read(l, l->s[i].tun, got, sizeof(got), 200), -1);
}

/* The first packet waits for the handshake, then everything flows. */
static void test_forward_both_ways(void **state)
{
	struct lab *l = *state;
	uint8_t p[2000];
	size_t len;

	len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 100, 0xa1);
	expect_through(l, 0, p, len);
	len = ipv4_packet(p, "10.0.0.2", "10.0.0.1", 1300, 0xb2);
	expect_through(l, 1, p, len);
	len = ipv6_packet(p, "fd00::1", "fd00::2", 1380, 0xc3);
	expect_through(l, 0, p, len);
	len = ipv6_packet(p, "fd00::2", "fd00::1", 0, 0);
	expect_through(l, 1, p, len);
	/* a burst: more than one batch's worth, in order */
	for (int k = 0; k < 300; k++) {
		len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 200, (uint8_t)k);
		expect_through(l, 0, p, len);
	}
	assert_int_equal(dp_stats(l->s[1].dp)->rx_packets, 302);
	assert_int_equal(dp_stats(l->s[0].dp)->rx_packets, 2);
}

/* Packets queued before the first handshake all arrive, in order. */
static void test_staged_until_handshake(void **state)
{
	struct lab *l = *state;
	uint8_t p[200], got[200];

	for (int k = 0; k < 5; k++) {
		size_t len =
			ipv4_packet(p, "10.0.0.1", "10.0.0.2", 50, (uint8_t)k);

		assert_int_equal(send(l->s[0].tun, p, len, 0), (ssize_t)len);
	}
	for (int k = 0; k < 5; k++) {
		assert_int_equal(
			pump_read(l, l->s[1].tun, got, sizeof(got), 3000), 70);
		assert_int_equal(got[20], k);
	}
}

/* Destinations in nobody's allowed IPs go nowhere, and are counted. */
static void test_no_route(void **state)
{
	struct lab *l = *state;
	uint8_t p[200];
	size_t len = ipv4_packet(p, "10.0.0.1", "10.9.9.9", 20, 1);

	assert_int_equal(send(l->s[0].tun, p, len, 0), (ssize_t)len);
	expect_nothing(l, 1);
	assert_int_equal(dp_stats(l->s[0].dp)->tx_no_peer, 1);
}

/* Cryptokey routing: B may not speak for an address that is not its own. */
static void test_inner_source_checked(void **state)
{
	struct lab *l = *state;
	uint8_t p[200];
	size_t len;

	len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 20, 1);
	expect_through(l, 0, p, len); /* session up */
	/* B routes 10.0.0.1 to A, so this leaves B, but A gave B no right
	 * to the source 10.0.0.77 */
	len = ipv4_packet(p, "10.0.0.77", "10.0.0.1", 20, 2);
	assert_int_equal(send(l->s[1].tun, p, len, 0), (ssize_t)len);
	expect_nothing(l, 0);
	assert_int_equal(dp_stats(l->s[0].dp)->rx_bad_src, 1);
	assert_int_equal(dp_stats(l->s[0].dp)->rx_packets, 0);
}

/* Replayed, truncated, forged and foreign datagrams: dropped, counted. */
static void test_hostile_datagrams(void **state)
{
	struct lab *l = *state;
	const struct wg_device_stats *ws = wg_device_stats(dp_wg(l->s[1].dp));
	const struct dp_stats *ds = dp_stats(l->s[1].dp);
	uint16_t port_b = dp_listen_port(l->s[1].dp);
	uint8_t p[200], cap[2048], junk[300];
	size_t len, caplen;

	len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 40, 7);
	expect_through(l, 0, p, len);
	/* the next data message, captured at the relay */
	l->hold = true;
	assert_int_equal(send(l->s[0].tun, p, len, 0), (ssize_t)len);
	pump_read(l, -1, NULL, 0, 100);
	caplen = l->last_len;
	memcpy(cap, l->last, caplen);
	assert_int_equal(cap[0], 4);
	l->hold = false;

	send_to(l->relay, port_b, cap, caplen); /* first time: delivered */
	assert_int_equal(pump_read(l, l->s[1].tun, junk, sizeof(junk), 2000),
			 (ssize_t)len);
	send_to(l->relay, port_b, cap, caplen); /* replay */
	expect_nothing(l, 1);
	assert_int_equal(ws->rx_replay, 1);

	cap[caplen - 1] ^= 1; /* forged tag */
	wg_put_le64(cap + 8, wg_get_le64(cap + 8) + 5);
	send_to(l->relay, port_b, cap, caplen);
	expect_nothing(l, 1);
	assert_int_equal(ws->rx_bad_auth, 1);

	/* truncated below header and tag: not even classified as WireGuard */
	send_to(l->relay, port_b, cap, 20);
	expect_nothing(l, 1);
	assert_int_equal(ds->rx_other, 1);
	cap[0] = 1; /* an initiation, cut short: the core's parser refuses */
	send_to(l->relay, port_b, cap, 100);
	expect_nothing(l, 1);
	assert_int_equal(ws->rx_malformed, 1);

	randombytes_buf(junk, sizeof(junk)); /* not WireGuard at all */
	junk[0] = 0x80;
	send_to(l->relay, port_b, junk, sizeof(junk));
	send_to(l->relay, port_b, junk, 1);
	expect_nothing(l, 1);
	assert_int_equal(ds->rx_other, 3);

	/* and the session still works */
	expect_through(l, 0, p, len);
}

/* A wrong key: the other side's handshakes do not open, nothing flows. */
static void test_wrong_key(void **state)
{
	struct lab *l = *state;
	uint8_t wrong[32], p[200];
	char priv[65], text[256];
	size_t len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 20, 1);

	randombytes_buf(wrong, sizeof(wrong));
	hex(priv, wrong);
	snprintf(text, sizeof(text), "set=1\nprivate_key=%s\n\n", priv);
	assert_int_equal(uapi_set_text(l->s[0].dp, text), 0);
	assert_int_equal(send(l->s[0].tun, p, len, 0), (ssize_t)len);
	expect_nothing(l, 1);
	assert_true(wg_device_stats(dp_wg(l->s[1].dp))->rx_handshake_bad >= 1);
	assert_int_equal(dp_stats(l->s[1].dp)->rx_packets, 0);
}

/* get=1 reports what set=1 set, and the session's figures. */
static void test_uapi_get(void **state)
{
	struct lab *l = *state;
	struct uapi_buf ans;
	uint8_t p[200];
	char pub[65], want[128];
	size_t len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 20, 1);

	expect_through(l, 0, p, len);
	assert_int_equal(
		uapi_set_text(l->s[0].dp, "set=1\nlisten_port=0\nfwmark=0\n\n"),
		0);
	uapi_buf_init(&ans);
	assert_int_equal(
		uapi_server_handle(l->s[0].dp, UAPI_OP_GET, NULL, &ans), 0);
	assert_int_equal(uapi_write_end(&ans, 0), 0);
	assert_non_null(memchr(ans.data, '\n', ans.len));
	hex(pub, l->s[1].pub);
	snprintf(want, sizeof(want), "public_key=%s\n", pub);
	assert_non_null(strstr(ans.data, want));
	snprintf(want, sizeof(want), "endpoint=127.0.0.1:%u\n", l->relay_port);
	assert_non_null(strstr(ans.data, want));
	assert_non_null(strstr(ans.data, "allowed_ip=10.0.0.2/32\n"));
	assert_non_null(strstr(ans.data, "allowed_ip=fd00::2/128\n"));
	assert_null(strstr(ans.data, "last_handshake_time_sec=0\n"));
	assert_null(strstr(ans.data, "tx_bytes=0\n"));
	assert_non_null(strstr(ans.data, "errno=0\n\n"));
	uapi_buf_free(&ans);
}

/* Removing the peer drops its routes; re-adding brings the path back. */
static void test_remove_peer(void **state)
{
	struct lab *l = *state;
	uint8_t p[200];
	char pub[65], text[256];
	size_t len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 20, 1);

	expect_through(l, 0, p, len);
	hex(pub, l->s[1].pub);
	snprintf(text, sizeof(text), "set=1\npublic_key=%s\nremove=true\n\n",
		 pub);
	assert_int_equal(uapi_set_text(l->s[0].dp, text), 0);
	assert_null(wg_device_next_peer(dp_wg(l->s[0].dp), NULL));
	assert_int_equal(allowedips_count(dp_allowedips(l->s[0].dp)), 0);
	assert_int_equal(send(l->s[0].tun, p, len, 0), (ssize_t)len);
	expect_nothing(l, 1);
	configure(l, 0, "allowed_ip=10.0.0.2/32\n");
	expect_through(l, 0, p, len);
}

/*
 * A flood of initiations with a valid MAC1 (anyone who knows B's public key
 * can make those) puts B under load: past the threshold it answers with
 * cookie replies instead of spending Diffie-Hellman on each (§5.3).
 */
static void test_flood_gets_cookies(void **state)
{
	struct lab *l = *state;
	const struct wg_device_stats *ws = wg_device_stats(dp_wg(l->s[1].dp));
	uint16_t port_b = dp_listen_port(l->s[1].dp);
	struct wg_cookie_maker m;
	struct wg_blake2s b2;
	uint8_t msg[148], buf[128];
	union sockaddr_any from;
	socklen_t fl;
	unsigned replies = 0;

	assert_int_equal(wg_blake2s_init(&b2), 0);
	assert_int_equal(wg_cookie_maker_init(&m, &b2, l->s[1].pub), 0);
	for (int k = 0; k < 700; k++) {
		randombytes_buf(msg, sizeof(msg));
		wg_msg_set_header(msg, WG_MSG_INITIATION);
		assert_int_equal(wg_cookie_add_macs(&m, &b2, msg, sizeof(msg),
						    clock_now_ms()),
				 0);
		send_to(l->relay, port_b, msg, sizeof(msg));
		if (k % 32 == 31) /* let B read before its socket overflows */
			for (int r = 0; r < 5; r++)
				uv_run(&l->loop, UV_RUN_NOWAIT);
	}
	for (int r = 0; r < 50; r++)
		uv_run(&l->loop, UV_RUN_NOWAIT);
	fl = sizeof(from);
	while (recvfrom(l->relay, buf, sizeof(buf), MSG_DONTWAIT, &from.sa,
			&fl) > 0) {
		replies += buf[0] == WG_MSG_COOKIE;
		fl = sizeof(from);
	}
	assert_true(ws->rx_cookie_sent > 0);
	assert_int_equal(replies, ws->rx_cookie_sent);
	/* below the threshold, each was tried, and failed, as a handshake */
	assert_true(ws->rx_handshake_bad >= WG_UNDER_LOAD_BACKLOG - 1);
	assert_int_equal(ws->rx_bad_mac1, 0);
	wg_cookie_maker_clear(&m);
	wg_blake2s_free(&b2);
}

/*
 * A 10000-byte TCP or UDP super-packet (gso_size 1000, partial checksum) as
 * a TUN with offloads hands it over.
 */
static size_t super_packet(uint8_t *p, bool tcp)
{
	size_t l4 = tcp ? 20 : 8, len = 20 + l4 + 10000;
	struct vnet_hdr h = {
		.flags = VNET_F_NEEDS_CSUM,
		.gso_type = tcp ? VNET_GSO_TCPV4 : VNET_GSO_UDP_L4,
		.hdr_len = (uint16_t)(20 + l4),
		.gso_size = 1000,
		.csum_start = 20,
		.csum_offset = tcp ? 16 : 6,
	};
	uint8_t *ip = p + VNET_HDR_LEN, *t = ip + 20;

	vnet_hdr_put(p, &h);
	ipv4_packet(ip, "10.0.0.1", "10.0.0.2", len - 20, 0);
	ip[9] = tcp ? 6 : 17;
	ip[4] = 0x12; /* an id */
	t[0] = 0x30, t[1] = 0x39; /* port 12345 */
	t[2] = 0x00, t[3] = 0x50; /* port 80 */
	if (tcp) {
		t[7] = 1; /* seq 1 */
		t[11] = 1; /* ack 1 */
		t[12] = 0x50; /* data offset 5 */
		t[13] = 0x18; /* ACK, PSH */
		t[14] = 0xff, t[15] = 0xff;
	} else {
		t[4] = (uint8_t)((8 + 10000) >> 8), t[5] = (uint8_t)(8 + 10000);
	}
	for (size_t k = 0; k < 10000; k++)
		t[l4 + k] = (uint8_t)(k * 7 + tcp);
	return VNET_HDR_LEN + len;
}

/* Split a vnet packet and append its segments to out; their number. */
static int split_into(const uint8_t *pkt, size_t len, uint8_t *out,
		      size_t *out_len)
{
	static uint8_t segs[64][2048];
	uint8_t *bufs[64];
	size_t lens[64];
	int n;

	for (int k = 0; k < 64; k++)
		bufs[k] = segs[k];
	n = vnet_split(pkt, len, bufs, sizeof(segs[0]), lens, 64);
	assert_true(n > 0);
	for (int k = 0; k < n; k++) {
		assert_int_equal(vnet_verify_checksums(segs[k], lens[k]), 0);
		memcpy(out + *out_len, segs[k], lens[k]);
		*out_len += lens[k];
	}
	return n;
}

/*
 * The offload path end to end: a TCP (then UDP) super-packet into A's TUN
 * is split into ten segments, sealed and sent with UDP GSO; B opens them
 * and coalesces them into its TUN again. What B's TUN gets, split again,
 * is exactly what A's split made, with valid checksums, in fewer writes.
 */
static void test_super_packets(void **state)
{
	struct lab *l = *state;
	static uint8_t in[12000], got[70000], want[20000], seen[20000];

	for (int tcp = 1; tcp >= 0; tcp--) {
		size_t len = super_packet(in, tcp), want_len = 0, seen_len = 0;
		int nseg = split_into(in, len, want, &want_len), writes = 0;

		assert_int_equal(nseg, 10);
		assert_int_equal(send(l->s[0].tun, in, len, 0), (ssize_t)len);
		while (seen_len < want_len) {
			ssize_t n = pump_read(l, l->s[1].tun, got, sizeof(got),
					      3000);

			assert_true(n > VNET_HDR_LEN);
			split_into(got, (size_t)n, seen, &seen_len);
			writes++;
		}
		assert_int_equal(seen_len, want_len);
		assert_memory_equal(seen, want, want_len);
		/* one batch of ten in order: coalesced, not ten writes */
		assert_true(writes < nseg);
		assert_int_equal(dp_stats(l->s[1].dp)->rx_packets,
				 (uint64_t)(tcp ? 10 : 20));
	}
	assert_true(dp_stats(l->s[0].dp)->udp_gso_sends >= 2);
}

struct hook_log {
	int calls;
	enum demux_kind kind;
	size_t len;
	uint16_t turn_port;
};

static void on_datagram(void *arg, enum demux_kind kind,
			const union sockaddr_any *src, const uint8_t *pkt,
			size_t len)
{
	struct hook_log *h = arg;

	h->calls++;
	h->kind = kind;
	h->len = len;
}

static bool is_turn_server(void *arg, const union sockaddr_any *src)
{
	return addr_port(src) == ((struct hook_log *)arg)->turn_port;
}

/*
 * The shared socket for the mesh mode: STUN, and ChannelData from a TURN
 * server, go to the hook; ChannelData from anyone else does not; the hook's
 * owner can send from the socket, and hand in an unwrapped WireGuard
 * message, which is delivered like any other.
 */
static void test_shared_socket_hooks(void **state)
{
	struct lab *l = *state;
	struct hook_log h = { .turn_port = l->relay_port };
	struct dp_config cfg = {
		.loop = &l->loop,
		.loopback_only = true,
		.on_datagram = on_datagram,
		.is_turn_server = is_turn_server,
		.hook_arg = &h,
	};
	uint8_t stun[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
	uint8_t chan[8] = { 0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4 };
	uint8_t p[200], cap[2048], got[200];
	union sockaddr_any to;
	struct dp *c;
	int sp[2], other;
	size_t len, caplen;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	cfg.tun_fd = sp[0];
	assert_int_equal(dp_create(&cfg, &c), 0);
	send_to(l->relay, dp_listen_port(c), stun, sizeof(stun));
	pump_read(l, -1, NULL, 0, 50);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.kind, DEMUX_STUN);
	assert_int_equal(h.len, sizeof(stun));
	send_to(l->relay, dp_listen_port(c), chan, sizeof(chan));
	pump_read(l, -1, NULL, 0, 50);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.kind, DEMUX_CHANNELDATA);
	other = socket(AF_INET, SOCK_DGRAM, 0); /* not a TURN server */
	send_to(other, dp_listen_port(c), chan, sizeof(chan));
	pump_read(l, -1, NULL, 0, 50);
	assert_int_equal(h.calls, 2);
	assert_int_equal(dp_stats(c)->rx_other, 1);
	close(other);
	addr_parse("127.0.0.1", l->relay_port, &to);
	assert_int_equal(dp_send_datagram(c, &to, stun, sizeof(stun)), 0);
	pump_read(l, -1, NULL, 0, 50);
	/* the relay got it, and passes what is not from A on to A */
	assert_int_equal(dp_stats(l->s[0].dp)->rx_stun, 1);
	dp_destroy(c);
	close(sp[1]);

	/* A's next data message, withheld at the relay, handed to B whole */
	len = ipv4_packet(p, "10.0.0.1", "10.0.0.2", 60, 9);
	expect_through(l, 0, p, len);
	l->hold = true;
	assert_int_equal(send(l->s[0].tun, p, len, 0), (ssize_t)len);
	pump_read(l, -1, NULL, 0, 100);
	caplen = l->last_len;
	memcpy(cap, l->last, caplen);
	assert_int_equal(dp_input_wireguard(l->s[1].dp, &to, cap, caplen), 0);
	assert_int_equal(recv(l->s[1].tun, got, sizeof(got), MSG_DONTWAIT),
			 (ssize_t)len);
	assert_memory_equal(got, p, len);
	/* the same again is a replay */
	assert_int_equal(dp_input_wireguard(l->s[1].dp, &to, l->last, caplen),
			 -EALREADY);
}

static void on_fatal(void *arg, int err)
{
	*(int *)arg = err;
}

/* The TUN going away (here: the packet pair's other end) is reported once. */
static void test_tun_gone(void **state)
{
	struct lab *l = *state;
	struct dp_config cfg = {
		.loop = &l->loop,
		.loopback_only = true,
		.on_fatal = on_fatal,
	};
	struct dp *dp;
	int sp[2], err = 0;

	cfg.fatal_arg = &err;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	cfg.tun_fd = sp[0];
	assert_int_equal(dp_create(&cfg, &dp), 0);
	pump_read(l, -1, NULL, 0, 50);
	assert_int_equal(err, 0);
	close(sp[1]);
	pump_read(l, -1, NULL, 0, 100);
	assert_int_equal(err, -ENODEV);
	dp_destroy(dp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forward_both_ways,
						lab_setup, lab_teardown),
		cmocka_unit_test_setup_teardown(test_staged_until_handshake,
						lab_setup, lab_teardown),
		cmocka_unit_test_setup_teardown(test_no_route, lab_setup,
						lab_teardown),
		cmocka_unit_test_setup_teardown(test_inner_source_checked,
						lab_setup, lab_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_datagrams,
						lab_setup, lab_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, lab_setup,
						lab_teardown),
		cmocka_unit_test_setup_teardown(test_uapi_get, lab_setup,
						lab_teardown),
		cmocka_unit_test_setup_teardown(test_remove_peer, lab_setup,
						lab_teardown),
		cmocka_unit_test_setup_teardown(test_flood_gets_cookies,
						lab_setup, lab_teardown),
		cmocka_unit_test_setup_teardown(test_tun_gone, lab_setup,
						lab_teardown),
		cmocka_unit_test_setup_teardown(test_super_packets,
						lab_setup_vnet, lab_teardown),
		cmocka_unit_test_setup_teardown(test_shared_socket_hooks,
						lab_setup, lab_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
