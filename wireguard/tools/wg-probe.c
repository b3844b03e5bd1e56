// SPDX-License-Identifier: MIT
/*
 * wg-probe: the WireGuard protocol core on a plain UDP socket, with no TUN.
 * It pings a tunnel address through one peer and answers pings that come
 * through the tunnel, building the ICMP packets itself, so the core can be
 * checked on the wire against another WireGuard implementation (the lab's
 * test_wg_core_probe.sh runs it against wireguard-go) before any data plane
 * exists. IPv4 inside the tunnel only.
 *
 *   wg-probe --key FILE --peer BASE64 [--endpoint IP:PORT] --port PORT
 *            --addr A.B.C.D --remote A.B.C.D [--pings N] [--serve SECONDS]
 *            [--keepalive SECONDS] [--interval MS] [--under-load]
 *
 * Pings go one at a time, the next INTERVAL ms after the last reply. Exits 0
 * when all N pings were answered (each within 5 s) and the serving time is
 * over; prints one line of figures on stdout ("sessions" counts the sessions
 * that became usable: more than one means a rekey happened). --under-load
 * keeps the device under load (§5.3): handshakes get a cookie reply first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/log.h"
#include "wireguard/device.h"

enum { PING_ID = 0x1ce, PING_LEN = 84, PING_WAIT_MS = 5000 };

struct probe {
	int fd;
	struct wg_device *dev;
	struct wg_peer *peer;
	struct in_addr addr, remote;
	unsigned pings, seq, replies, answered, sessions;
	uint64_t sent_at; /* last (re)send */
	uint64_t first_at; /* first send of this sequence number */
	uint64_t next_at; /* no new ping before this */
	unsigned interval_ms;
	bool under_load; /* answer every handshake with a cookie first */
	bool waiting;
};

/* Everything goes through one dual-stack socket: IPv4 as ::ffff:a.b.c.d. */
static void to_v6(const union sockaddr_any *in, union sockaddr_any *out)
{
	if (in->sa.sa_family == AF_INET6) {
		*out = *in;
		return;
	}
	memset(out, 0, sizeof(*out));
	out->in6.sin6_family = AF_INET6;
	out->in6.sin6_port = in->in4.sin_port;
	out->in6.sin6_addr.s6_addr[10] = 0xff;
	out->in6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->in6.sin6_addr.s6_addr[12], &in->in4.sin_addr, 4);
}

static void on_send(struct wg_peer *peer, const union sockaddr_any *to,
		    const uint8_t *buf, size_t len, void *arg)
{
	struct probe *pr = arg;
	union sockaddr_any a;

	to_v6(to, &a);
	if (sendto(pr->fd, buf, len, 0, &a.sa, sizeof(a.in6)) < 0)
		perror("wg-probe: sendto");
}

static void on_notify(struct wg_peer *peer, enum wg_peer_event ev, void *arg)
{
	struct probe *pr = arg;

	if (ev == WG_EV_SESSION_READY)
		pr->sessions++;
}

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An IPv4 ICMP echo (type 8) or reply (0) of PING_LEN bytes into p. */
static void make_icmp(uint8_t *p, struct in_addr src, struct in_addr dst,
		      uint8_t type, uint16_t id, uint16_t seq,
		      const uint8_t *body)
{
	uint16_t c;

	memset(p, 0, PING_LEN);
	p[0] = 0x45;
	p[3] = PING_LEN;
	p[8] = 64;
	p[9] = 1; /* ICMP */
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	c = csum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
	p[20] = type;
	p[24] = (uint8_t)(id >> 8);
	p[25] = (uint8_t)id;
	p[26] = (uint8_t)(seq >> 8);
	p[27] = (uint8_t)seq;
	if (body)
		memcpy(p + 28, body, PING_LEN - 28);
	else
		for (int i = 28; i < PING_LEN; i++)
			p[i] = (uint8_t)i;
	c = csum(p + 20, PING_LEN - 20);
	p[22] = (uint8_t)(c >> 8);
	p[23] = (uint8_t)c;
}

static void send_ip(struct probe *pr, uint8_t *buf, size_t len)
{
	struct wg_peer_info info;
	size_t n;

	if (wg_peer_encrypt(pr->peer, buf, len, wg_msg_data_len(len),
			    clock_now_ms(), &n))
		return; /* no session yet: a handshake is on its way */
	wg_peer_get_info(pr->peer, &info);
	on_send(pr->peer, &info.endpoint, buf, n, pr);
}

static void send_ping(struct probe *pr)
{
	uint8_t buf[WG_DATA_OVERHEAD + PING_LEN + 16];

	make_icmp(buf + WG_DATA_HEADER_LEN, pr->addr, pr->remote, 8, PING_ID,
		  (uint16_t)pr->seq, NULL);
	send_ip(pr, buf, PING_LEN);
	pr->sent_at = clock_now_ms();
	if (!pr->waiting)
		pr->first_at = pr->sent_at;
	pr->waiting = true;
}

/* A packet out of the tunnel: our ping's reply, or a ping to answer. */
static void on_ip(struct probe *pr, const uint8_t *p, size_t len)
{
	uint8_t buf[WG_DATA_OVERHEAD + PING_LEN + 16];
	struct in_addr src, dst;

	if (len != PING_LEN || p[0] != 0x45 || p[9] != 1)
		return;
	memcpy(&src, p + 12, 4);
	memcpy(&dst, p + 16, 4);
	if (dst.s_addr != pr->addr.s_addr || csum(p + 20, len - 20))
		return;
	if (p[20] == 0 && (p[24] << 8 | p[25]) == PING_ID &&
	    (p[26] << 8 | p[27]) == (int)(pr->seq & 0xffff) && pr->waiting) {
		pr->replies++;
		pr->seq++;
		pr->waiting = false;
		pr->next_at = clock_now_ms() + pr->interval_ms;
	} else if (p[20] == 8) {
		make_icmp(buf + WG_DATA_HEADER_LEN, pr->addr, src, 0,
			  (uint16_t)(p[24] << 8 | p[25]),
			  (uint16_t)(p[26] << 8 | p[27]), p + 28);
		send_ip(pr, buf, PING_LEN);
		pr->answered++;
	}
}

static void receive(struct probe *pr)
{
	uint8_t buf[2048];
	union sockaddr_any src;
	socklen_t sl = sizeof(src);
	struct wg_rx rx;
	ssize_t n;

	n = recvfrom(pr->fd, buf, sizeof(buf), MSG_DONTWAIT, &src.sa, &sl);
	if (n <= 0)
		return;
	if (pr->under_load)
		wg_device_report_backlog(pr->dev, WG_UNDER_LOAD_BACKLOG,
					 clock_now_ms());
	if (wg_device_recv(pr->dev, &src, buf, (size_t)n, clock_now_ms(),
			   &rx) == 0 &&
	    rx.len)
		on_ip(pr, rx.data, rx.len);
}

static int load_key(const char *path, uint8_t key[32])
{
	char text[128];
	size_t n = 0;
	FILE *f = fopen(path, "r");
	int rc = -1;

	if (!f)
		return -1;
	if (fgets(text, sizeof(text), f))
		rc = sodium_base642bin(key, 32, text, strlen(text), " \n", &n,
				       NULL, sodium_base64_VARIANT_ORIGINAL);
	fclose(f);
	sodium_memzero(text, sizeof(text));
	return rc == 0 && n == 32 ? 0 : -1;
}

static int open_socket(uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), off = 0;

	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("wg-probe: socket");
		exit(2);
	}
	return fd;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: wg-probe --key FILE --peer BASE64 [--endpoint "
		"IP:PORT] --port PORT --addr IP --remote IP [--pings N] "
		"[--serve SECONDS] [--keepalive SECONDS] [--interval MS] "
		"[--under-load]\n");
	exit(2);
}

struct args {
	const char *keyfile, *peer, *endpoint;
	unsigned port, serve_s, keepalive;
};

static void parse_args(int argc, char **argv, struct args *a, struct probe *pr)
{
	static const struct option opts[] = {
		{ "key", 1, 0, 'k' },	     { "peer", 1, 0, 'p' },
		{ "endpoint", 1, 0, 'e' },   { "port", 1, 0, 'l' },
		{ "addr", 1, 0, 'a' },	     { "remote", 1, 0, 'r' },
		{ "pings", 1, 0, 'n' },	     { "serve", 1, 0, 's' },
		{ "keepalive", 1, 0, 'K' },  { "interval", 1, 0, 'i' },
		{ "under-load", 0, 0, 'L' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'k')
			a->keyfile = optarg;
		else if (c == 'p')
			a->peer = optarg;
		else if (c == 'e')
			a->endpoint = optarg;
		else if (c == 'l')
			a->port = (unsigned)atoi(optarg);
		else if (c == 'a' && inet_pton(AF_INET, optarg, &pr->addr) == 1)
			continue;
		else if (c == 'r' &&
			 inet_pton(AF_INET, optarg, &pr->remote) == 1)
			continue;
		else if (c == 'n')
			pr->pings = (unsigned)atoi(optarg);
		else if (c == 's')
			a->serve_s = (unsigned)atoi(optarg);
		else if (c == 'K')
			a->keepalive = (unsigned)atoi(optarg);
		else if (c == 'i')
			pr->interval_ms = (unsigned)atoi(optarg);
		else if (c == 'L')
			pr->under_load = true;
		else
			usage();
	}
	if (!a->keyfile || !a->peer || !a->port || !pr->addr.s_addr ||
	    !pr->remote.s_addr)
		usage();
}

/* The device with our key and the one peer; exits on any error. */
static void setup(struct probe *pr, const struct args *a)
{
	struct wg_device_config cfg = { .send = on_send,
					.send_arg = pr,
					.notify = on_notify,
					.notify_arg = pr };
	uint8_t priv[32], pub[32];
	union sockaddr_any epa;
	size_t n;

	if (sodium_init() < 0 || load_key(a->keyfile, priv) ||
	    sodium_base642bin(pub, 32, a->peer, strlen(a->peer), NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    n != 32) {
		fprintf(stderr, "wg-probe: bad key\n");
		exit(2);
	}
	cfg.private_key = priv;
	pr->fd = open_socket((uint16_t)a->port);
	if (wg_device_create(&cfg, &pr->dev) ||
	    wg_device_add_peer(pr->dev, pub, NULL, &pr->peer)) {
		fprintf(stderr, "wg-probe: device\n");
		exit(2);
	}
	sodium_memzero(priv, sizeof(priv));
	if (a->endpoint) {
		if (addr_parse(a->endpoint, 0, &epa)) {
			fprintf(stderr, "wg-probe: bad endpoint %s\n",
				a->endpoint);
			exit(2);
		}
		wg_peer_set_endpoint(pr->peer, &epa);
	}
	if (a->keepalive)
		wg_peer_set_persistent_keepalive(
			pr->peer, (uint16_t)a->keepalive, clock_now_ms());
}

/* Ping, answer, keep the core's timers, until done or a ping goes unanswered. */
static void run(struct probe *pr, uint64_t end_serve)
{
	struct pollfd pfd = { .fd = pr->fd, .events = POLLIN };
	uint64_t now, next;
	int wait;

	for (;;) {
		now = clock_now_ms();
		if (pr->seq >= pr->pings && now >= end_serve)
			return;
		if (pr->seq < pr->pings) {
			if (pr->waiting && now >= pr->first_at + PING_WAIT_MS)
				return; /* this one was never answered */
			if ((!pr->waiting && now >= pr->next_at) ||
			    (pr->waiting && now >= pr->sent_at + 1000))
				send_ping(pr); /* first try, or again */
		}
		next = wg_device_next_deadline(pr->dev);
		wait = next <= now	 ? 0
		       : next - now > 50 ? 50
					 : (int)(next - now);
		if (poll(&pfd, 1, wait) > 0)
			receive(pr);
		if (wg_device_next_deadline(pr->dev) <= clock_now_ms())
			wg_device_tick(pr->dev, clock_now_ms());
	}
}

int main(int argc, char **argv)
{
	struct probe pr = { .fd = -1 };
	struct args a = { 0 };
	struct wg_peer_info info;

	parse_args(argc, argv, &a, &pr);
	setup(&pr, &a);
	run(&pr, clock_now_ms() + a.serve_s * 1000ULL);
	wg_peer_get_info(pr.peer, &info);
	printf("sessions %u replies %u/%u answered %u cookies %llu rx %llu "
	       "tx %llu last_handshake %llu\n",
	       pr.sessions, pr.replies, pr.pings, pr.answered,
	       (unsigned long long)wg_device_stats(pr.dev)->rx_cookie_sent,
	       (unsigned long long)info.rx_bytes,
	       (unsigned long long)info.tx_bytes,
	       (unsigned long long)info.last_handshake_unix_s);
	wg_device_destroy(pr.dev);
	close(pr.fd);
	return pr.replies == pr.pings ? 0 : 1;
}
