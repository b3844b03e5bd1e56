// SPDX-License-Identifier: MIT
/*
 * icemesh-ice: one ICE session between two hosts, for people debugging a
 * network and for the lab.
 *
 *   icemesh-ice [--controlling|--controlled] [--stun HOST:PORT]...
 *               [--turn HOST:PORT (--turn-secret S | --turn-user U
 *               --turn-pass P)] [--timeout SECONDS] [--count N]
 *               [--host ADDR]... [--deny IFNAME]... [--allow-bridges]
 *               [--hold SECONDS] [--turn-lifetime SECONDS]
 *
 * Writes its description to stdout a line at a time (a=ice-ufrag:,
 * a=ice-pwd:, a=candidate:..., a=end-of-candidates), reads the peer's from
 * stdin, prints "selected local=... remote=... rtt_ms=N" when a pair is
 * selected, exchanges N datagrams each way over it, prints
 * "ok sent=N received=N" and exits 0. Without a pair (or without the data
 * round trips) before the timeout it explains on stderr and exits 1.
 * Exit 2: bad usage or a local error.
 *
 * --hold keeps the session up that long after "ok" (consent checks go on,
 * the peer is answered); losing consent meanwhile prints
 * "consent lost after N ms" and exits 1. This is how the lab breaks a
 * path and watches RFC 7675's bound.
 *
 * --turn-lifetime is the LIFETIME asked for in Allocate and Refresh
 * (default: the TURN client's, 600 s); the server may grant less.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/log.h"
#include "ice/ice_agent.h"
#include "ice/ice_gather.h"
#include "ice/turn.h"

enum {
	MAX_SOCKS = ICE_GATHER_MAX_ADDRS,
	MAX_COUNT = 100000,
	DATA_LEN = 64,
	DATA_INTERVAL_MS = 5, /* pacing of the data datagrams */
	DATA_RESEND_MS = 200, /* resend unacknowledged ones */
	LINGER_MS = 500, /* keep answering the peer after we are done */
	STDIN_LINE_MAX = ICE_LINE_MAX,
};

struct sock {
	uv_udp_t udp;
	union sockaddr_any addr; /* bound address = base */
	bool open;
};

struct tool {
	uv_loop_t *loop;
	struct ice_agent *agent;
	struct sock socks[MAX_SOCKS];
	size_t n_socks;
	uv_timer_t agent_timer, overall, data_timer;
	uv_poll_t stdin_poll;
	bool stdin_polling;
	char line[STDIN_LINE_MAX + 2];
	size_t line_len;
	bool line_overflow;

	/* TURN */
	struct turn_client *turn;
	int turn_sock; /* index into socks */
	union sockaddr_any turn_server;
	union sockaddr_any relayed;
	bool turn_settled; /* allocated or failed */
	bool have_relay;

	bool gathered; /* agent said gathering done */
	bool eoc_printed;

	/* data phase */
	bool selected;
	uint32_t count;
	uint32_t next_seq; /* next seq to send for the first time (1-based) */
	uint8_t *acked; /* per seq: the peer acknowledged ours */
	uint8_t *seen; /* per seq: the peer's datagram arrived */
	uint32_t n_acked, n_seen;
	uint32_t n_late; /* data first seen in a resend */
	uint64_t done_at; /* when both were complete; 0 not yet */
	uint32_t timeout_s;
	uint32_t hold_s;
	uint64_t started_ms;
	uint64_t first_data_ms;
	int exit_code;
};

static struct tool T;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: icemesh-ice [--controlling|--controlled] [--stun HOST:PORT]...\n"
		"                   [--turn HOST:PORT (--turn-secret S | --turn-user U --turn-pass P)]\n"
		"                   [--timeout SECONDS] [--count N] [--host ADDR]...\n"
		"                   [--deny IFNAME]... [--allow-bridges] [--hold SECONDS]\n"
		"                   [--turn-lifetime SECONDS] [--verbose]\n");
}

static uint64_t now_ms(void)
{
	return clock_now_ms();
}

/* HOST:PORT, numeric or resolved (first address). */
static int resolve(const char *s, uint16_t def_port, union sockaddr_any *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	char host[256], port[8];
	const char *colon;
	int err;

	if (addr_parse(s, def_port, out) == 0)
		return 0;
	colon = strrchr(s, ':');
	if (colon && (size_t)(colon - s) < sizeof(host)) {
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", s);
		snprintf(port, sizeof(port), "%u", def_port);
	}
	err = getaddrinfo(host, port, &hints, &res);
	if (err || !res)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void finish(int code)
{
	T.exit_code = code;
	uv_stop(T.loop);
}

static void fail_report(const char *why)
{
	char rep[8192];

	fprintf(stderr, "icemesh-ice: %s\n", why);
	ice_agent_report(T.agent, rep, sizeof(rep));
	fputs(rep, stderr);
	finish(1);
}

/* ------------------------------------------------------------ sending */

static int sock_by_addr(const union sockaddr_any *a)
{
	for (size_t i = 0; i < T.n_socks; i++) {
		if (addr_equal(&T.socks[i].addr, a))
			return (int)i;
	}
	return -1;
}

static void udp_send(int s, const union sockaddr_any *dst, const uint8_t *buf,
		     size_t len)
{
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	int r;

	if (s < 0 || !T.socks[s].open)
		return;
	r = uv_udp_try_send(&T.socks[s].udp, &b, 1, &dst->sa);
	if (r < 0)
		log_ratelimited(LOG_LEVEL_DEBUG, "ice", "send: %s",
				uv_strerror(r));
}

/* From a base: a host socket, or the TURN relay. */
static void send_from(const union sockaddr_any *base,
		      const union sockaddr_any *dst, const uint8_t *buf,
		      size_t len)
{
	if (T.have_relay && addr_equal(base, &T.relayed)) {
		turn_client_send(T.turn, dst, buf, len, now_ms());
		return;
	}
	udp_send(sock_by_addr(base), dst, buf, len);
}

static void agent_send(void *arg, const union sockaddr_any *base,
		       const union sockaddr_any *dst, const uint8_t *buf,
		       size_t len)
{
	(void)arg;
	send_from(base, dst, buf, len);
}

static void turn_send(void *arg, const union sockaddr_any *to,
		      const uint8_t *buf, size_t len)
{
	(void)arg;
	udp_send(T.turn_sock, to, buf, len);
}

/* ------------------------------------------------------------ timers */

static void arm_agent_timer(void);

static void on_agent_timer(uv_timer_t *t)
{
	(void)t;
	ice_agent_tick(T.agent, now_ms());
	if (T.turn)
		turn_client_tick(T.turn, now_ms());
	arm_agent_timer();
}

static void arm_agent_timer(void)
{
	uint64_t d = ice_agent_next_deadline(T.agent), now = now_ms();

	if (T.turn) {
		uint64_t td = turn_client_next_deadline(T.turn);

		d = td < d ? td : d;
	}
	if (d == UINT64_MAX) {
		uv_timer_stop(&T.agent_timer);
		return;
	}
	uv_timer_start(&T.agent_timer, on_agent_timer, d > now ? d - now : 0,
		       0);
}

/* ------------------------------------------------------------ data phase */

/*
 * One data datagram: 'x', kind ('d' data, 'a' its acknowledgement), the
 * 32-bit sequence number, a byte that is 1 on a resend (so the receiver
 * can tell a datagram lost on the first pass, e.g. across a change of
 * pair, from one merely late), zero padding to DATA_LEN.
 */
static void send_data(uint8_t kind, uint32_t seq, bool resend)
{
	struct ice_pair_info p;
	uint8_t buf[DATA_LEN];

	if (ice_agent_selected(T.agent, &p) != 0)
		return;
	memset(buf, 0, sizeof(buf));
	buf[0] = 'x'; /* not STUN, ChannelData or WireGuard */
	buf[1] = kind;
	buf[2] = (uint8_t)(seq >> 24);
	buf[3] = (uint8_t)(seq >> 16);
	buf[4] = (uint8_t)(seq >> 8);
	buf[5] = (uint8_t)seq;
	buf[6] = resend;
	send_from(&p.base, &p.remote.addr, buf, sizeof(buf));
}

static void on_done_timer(uv_timer_t *t)
{
	(void)t;
	finish(0);
}

static void check_done(void)
{
	if (T.done_at || T.n_acked < T.count || T.n_seen < T.count)
		return;
	T.done_at = now_ms();
	printf("ok sent=%u received=%u\n", T.count, T.n_seen);
	fflush(stdout);
	fprintf(stderr,
		"icemesh-ice: %u of %u datagrams arrived only when resent\n",
		T.n_late, T.count);
	/* Keep answering the peer's resends a while, and hold if asked. */
	uv_timer_stop(&T.data_timer);
	uv_timer_start(&T.data_timer, on_done_timer,
		       LINGER_MS + (uint64_t)T.hold_s * 1000, 0);
}

static void on_data_timer(uv_timer_t *t)
{
	static uint64_t last_resend;
	uint64_t now = now_ms();

	(void)t;
	if (T.next_seq <= T.count) {
		send_data('d', T.next_seq++, false);
	} else if (now - last_resend >= DATA_RESEND_MS) {
		last_resend = now;
		for (uint32_t s = 1; s <= T.count; s++) {
			if (!T.acked[s])
				send_data('d', s, true);
		}
	}
}

static void on_data(const uint8_t *buf, size_t len)
{
	uint32_t seq;

	if (len < 6 || buf[0] != 'x' || !T.selected)
		return;
	seq = (uint32_t)buf[2] << 24 | (uint32_t)buf[3] << 16 |
	      (uint32_t)buf[4] << 8 | buf[5];
	if (seq < 1 || seq > T.count)
		return;
	if (!T.first_data_ms) {
		T.first_data_ms = now_ms();
		fprintf(stderr, "icemesh-ice: first datagram after %llu ms\n",
			(unsigned long long)(T.first_data_ms - T.started_ms));
	}
	if (buf[1] == 'd') {
		if (!T.seen[seq]) {
			T.seen[seq] = 1;
			T.n_seen++;
			T.n_late += buf[6] == 1; /* the first pass was lost */
		}
		send_data('a', seq, false);
	} else if (buf[1] == 'a' && !T.acked[seq]) {
		T.acked[seq] = 1;
		T.n_acked++;
	}
	check_done();
}

/* ------------------------------------------------------------ events */

static void print_line(const char *s)
{
	fputs(s, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static void maybe_eoc(void)
{
	if (T.eoc_printed || !T.gathered || (T.turn && !T.turn_settled))
		return;
	T.eoc_printed = true;
	print_line("a=end-of-candidates");
}

static void print_selected(const struct ice_pair_info *p)
{
	char l[ADDR_STRLEN], r[ADDR_STRLEN];

	addr_to_str(&p->local.addr, l, sizeof(l));
	addr_to_str(&p->remote.addr, r, sizeof(r));
	printf("selected local=%s %s remote=%s %s rtt_ms=%u\n",
	       ice_cand_type_name(p->local.type), l,
	       ice_cand_type_name(p->remote.type), r, p->rtt_ms);
	fflush(stdout);
}

static void agent_event(void *arg, const struct ice_event *ev)
{
	char line[ICE_LINE_MAX];

	(void)arg;
	switch (ev->type) {
	case ICE_EVENT_CANDIDATE:
		if (ice_candidate_format(ev->cand, line, sizeof(line)) > 0)
			print_line(line);
		break;
	case ICE_EVENT_GATHERING_DONE:
		T.gathered = true;
		maybe_eoc();
		break;
	case ICE_EVENT_SELECTED:
		print_selected(ev->pair);
		fprintf(stderr, "icemesh-ice: %s after %llu ms\n",
			ev->changed ? "pair changed" : "pair selected",
			(unsigned long long)(now_ms() - T.started_ms));
		if (!T.selected) {
			T.selected = true;
			uv_timer_start(&T.data_timer, on_data_timer, 0,
				       DATA_INTERVAL_MS);
			check_done();
		}
		break;
	case ICE_EVENT_CONSENT_LOST:
		fprintf(stderr, "icemesh-ice: consent lost after %llu ms: %s\n",
			(unsigned long long)(now_ms() - T.started_ms),
			ev->reason);
		if (T.done_at)
			finish(1); /* holding: the path broke */
		break;
	case ICE_EVENT_FAILED:
		fail_report(ev->reason);
		break;
	}
}

/* ------------------------------------------------------------ TURN */

static void turn_allocated(void *arg, const union sockaddr_any *relayed,
			   const union sockaddr_any *mapped,
			   uint32_t lifetime_s)
{
	int err;

	(void)arg;
	(void)lifetime_s;
	T.turn_settled = true;
	T.relayed = *relayed;
	err = ice_agent_add_relay(T.agent, relayed, &T.turn_server, mapped,
				  now_ms());
	if (err)
		fprintf(stderr, "icemesh-ice: relay candidate: %s\n",
			strerror(-err));
	else
		T.have_relay = true;
	maybe_eoc();
	arm_agent_timer();
}

static void turn_failed(void *arg, int err, int code, const char *reason)
{
	(void)arg;
	fprintf(stderr, "icemesh-ice: TURN allocation failed: %s (%s, %d)\n",
		reason, strerror(-err), code);
	T.turn_settled = true;
	maybe_eoc();
}

static void turn_data(void *arg, const union sockaddr_any *peer,
		      const uint8_t *buf, size_t len)
{
	int r;

	(void)arg;
	r = ice_agent_recv(T.agent, &T.relayed, peer, buf, len, now_ms());
	if (r == -ENOMSG)
		on_data(buf, len);
}

/* ------------------------------------------------------------ receiving */

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	static char slab[65536];

	(void)h;
	(void)sz;
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void on_udp(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
		   const struct sockaddr *from, unsigned flags)
{
	struct sock *s = h->data;
	union sockaddr_any src;
	uint64_t now = now_ms();
	int r;

	(void)flags;
	if (n <= 0 || !from)
		return;
	memset(&src, 0, sizeof(src));
	memcpy(&src, from,
	       from->sa_family == AF_INET6 ? sizeof(src.in6) : sizeof(src.in4));
	if (T.turn && addr_equal(&src, &T.turn_server) &&
	    turn_client_recv(T.turn, &src, (const uint8_t *)buf->base,
			     (size_t)n, now)) {
		arm_agent_timer();
		return;
	}
	r = ice_agent_recv(T.agent, &s->addr, &src, (const uint8_t *)buf->base,
			   (size_t)n, now);
	if (r == -ENOMSG)
		on_data((const uint8_t *)buf->base, (size_t)n);
	arm_agent_timer();
}

/*
 * Install a TURN permission for each remote candidate's IP as soon as it is
 * known (RFC 8445 §5.1.1.2 allows it), so the peer's first check to our
 * relayed address is not dropped by the server for want of one.
 */
static void permit_remote(const char *line)
{
	struct ice_sdp_line l;

	if (!T.have_relay || ice_sdp_parse_line(line, &l) != 0 ||
	    l.kind != ICE_SDP_CANDIDATE ||
	    l.cand.addr.sa.sa_family != T.relayed.sa.sa_family)
		return;
	turn_client_permit(T.turn, &l.cand.addr, now_ms());
}

static void feed_line(char *line)
{
	int err;

	if (!line[0])
		return;
	permit_remote(line);
	err = ice_agent_remote_line(T.agent, line, now_ms());
	if (err)
		fprintf(stderr, "icemesh-ice: ignored peer line (%s): %s\n",
			strerror(-err), line);
}

/* Split what arrived on stdin into lines; over-long lines are dropped. */
static void stdin_bytes(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			T.line[T.line_len] = '\0';
			if (!T.line_overflow)
				feed_line(T.line);
			T.line_len = 0;
			T.line_overflow = false;
		} else if (T.line_len < STDIN_LINE_MAX) {
			T.line[T.line_len++] = p[i];
		} else {
			T.line_overflow = true;
		}
	}
	arm_agent_timer();
}

static void on_stdin(uv_poll_t *h, int status, int events)
{
	char buf[4096];
	ssize_t n;

	(void)events;
	if (status < 0) {
		uv_poll_stop(h);
		return;
	}
	n = read(0, buf, sizeof(buf));
	if (n > 0) {
		stdin_bytes(buf, (size_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		uv_poll_stop(h); /* EOF: the peer said all it will say */
		if (T.line_len) {
			stdin_bytes("\n", 1);
		}
	}
}

static int open_stdin(void)
{
	struct stat st;
	char buf[4096];
	ssize_t n;

	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
		/* A file cannot be polled: read it whole now. */
		while ((n = read(0, buf, sizeof(buf))) > 0)
			stdin_bytes(buf, (size_t)n);
		stdin_bytes("\n", 1);
		return 0;
	}
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	if (uv_poll_init(T.loop, &T.stdin_poll, 0) != 0)
		return -EINVAL;
	T.stdin_polling = true;
	return uv_poll_start(&T.stdin_poll, UV_READABLE, on_stdin);
}

/* ------------------------------------------------------------ setup */

static int open_sock(const union sockaddr_any *addr, uint16_t local_pref)
{
	struct sock *s = &T.socks[T.n_socks];
	union sockaddr_any bound;
	int len = sizeof(bound), r;

	if (T.n_socks >= MAX_SOCKS)
		return -ENOSPC;
	r = uv_udp_init(T.loop, &s->udp);
	if (r)
		return r;
	s->udp.data = s;
	s->open = true;
	r = uv_udp_bind(&s->udp, &addr->sa, 0);
	if (!r)
		r = uv_udp_getsockname(&s->udp, &bound.sa, &len);
	if (!r)
		r = uv_udp_recv_start(&s->udp, alloc_cb, on_udp);
	if (r) {
		char a[ADDR_STRLEN];

		fprintf(stderr, "icemesh-ice: cannot use %s: %s\n",
			addr_to_str(addr, a, sizeof(a)), uv_strerror(r));
		uv_close((uv_handle_t *)&s->udp, NULL);
		s->open = false;
		return 0; /* skip this address */
	}
	s->addr = bound;
	T.n_socks++;
	return ice_agent_add_host(T.agent, &bound, local_pref, now_ms());
}

struct opts {
	enum ice_role role;
	bool role_set;
	union sockaddr_any stun[ICE_MAX_STUN_SERVERS];
	size_t n_stun;
	const char *turn, *turn_secret, *turn_user, *turn_pass;
	uint32_t turn_lifetime_s; /* 0: the TURN client's default */
	const char *hosts[MAX_SOCKS];
	size_t n_hosts;
	struct ice_gather_filter filter;
	bool verbose;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "controlling", no_argument, NULL, 'C' },
		{ "controlled", no_argument, NULL, 'c' },
		{ "stun", required_argument, NULL, 's' },
		{ "turn", required_argument, NULL, 't' },
		{ "turn-secret", required_argument, NULL, 'S' },
		{ "turn-user", required_argument, NULL, 'u' },
		{ "turn-pass", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },
		{ "host", required_argument, NULL, 'H' },
		{ "deny", required_argument, NULL, 'd' },
		{ "allow-bridges", no_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hold", required_argument, NULL, 'o' },
		{ "turn-lifetime", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'C':
		case 'c':
			o->role = c == 'C' ? ICE_ROLE_CONTROLLING
					   : ICE_ROLE_CONTROLLED;
			o->role_set = true;
			break;
		case 's':
			if (o->n_stun >= ICE_MAX_STUN_SERVERS ||
			    resolve(optarg, 3478, &o->stun[o->n_stun])) {
				fprintf(stderr, "icemesh-ice: bad --stun %s\n",
					optarg);
				return -EINVAL;
			}
			o->n_stun++;
			break;
		case 't':
			o->turn = optarg;
			break;
		case 'S':
			o->turn_secret = optarg;
			break;
		case 'u':
			o->turn_user = optarg;
			break;
		case 'p':
			o->turn_pass = optarg;
			break;
		case 'T':
		case 'n':
		case 'o':
		case 'L':
			v = strtol(optarg, &end, 10);
			if (*end || v < (c == 'T' || c == 'L' ? 1 : 0) ||
			    v > MAX_COUNT) {
				fprintf(stderr, "icemesh-ice: bad number %s\n",
					optarg);
				return -EINVAL;
			}
			if (c == 'T')
				T.timeout_s = (uint32_t)v;
			else if (c == 'n')
				T.count = (uint32_t)v;
			else if (c == 'o')
				T.hold_s = (uint32_t)v;
			else
				o->turn_lifetime_s = (uint32_t)v;
			break;
		case 'H':
			if (o->n_hosts >= MAX_SOCKS)
				return -EINVAL;
			o->hosts[o->n_hosts++] = optarg;
			break;
		case 'd':
			if (o->filter.n_deny >= ICE_GATHER_MAX_DENY)
				return -EINVAL;
			o->filter.deny[o->filter.n_deny++] = optarg;
			break;
		case 'b':
			o->filter.allow_bridges = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc)
		return -EINVAL;
	if (o->turn && !o->turn_secret && !(o->turn_user && o->turn_pass)) {
		fprintf(stderr, "icemesh-ice: --turn needs --turn-secret or "
				"--turn-user and --turn-pass\n");
		return -EINVAL;
	}
	return 0;
}

static int open_hosts(const struct opts *o)
{
	struct ice_host_addr h[ICE_GATHER_MAX_ADDRS];
	size_t n = 0;
	int err;

	if (o->n_hosts) {
		for (size_t i = 0; i < o->n_hosts; i++) {
			union sockaddr_any a;

			if (addr_parse(o->hosts[i], 0, &a)) {
				fprintf(stderr, "icemesh-ice: bad --host %s\n",
					o->hosts[i]);
				return -EINVAL;
			}
			err = open_sock(&a, ice_local_pref((unsigned)i, 0,
							   a.sa.sa_family));
			if (err)
				return err;
		}
		return 0;
	}
	err = ice_gather_host(&o->filter, h, ICE_GATHER_MAX_ADDRS, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		err = open_sock(&h[i].addr,
				ice_local_pref(h[i].iface_rank, h[i].addr_rank,
					       h[i].addr.sa.sa_family));
		if (err)
			return err;
	}
	return 0;
}

static int start_turn(const struct opts *o)
{
	struct turn_config tc;
	struct turn_callbacks cb = {
		.send = turn_send,
		.allocated = turn_allocated,
		.failed = turn_failed,
		.data = turn_data,
	};
	int err;

	if (resolve(o->turn, 3478, &T.turn_server)) {
		fprintf(stderr, "icemesh-ice: bad --turn %s\n", o->turn);
		return -EINVAL;
	}
	T.turn_sock = -1;
	for (size_t i = 0; i < T.n_socks; i++) {
		if (T.socks[i].addr.sa.sa_family ==
		    T.turn_server.sa.sa_family) {
			T.turn_sock = (int)i;
			break;
		}
	}
	if (T.turn_sock < 0) {
		fprintf(stderr, "icemesh-ice: no local address to reach the "
				"TURN server from\n");
		return -EINVAL;
	}
	memset(&tc, 0, sizeof(tc));
	tc.server = T.turn_server;
	tc.lifetime_s = o->turn_lifetime_s;
	tc.username = o->turn_user;
	tc.password = o->turn_pass;
	tc.rest_secret = o->turn_secret;
	tc.rest_expiry = clock_wall_s() + 86400;
	tc.relay_family = T.turn_server.sa.sa_family;
	tc.auto_channel = true;
	err = turn_client_create(&tc, &cb, &T.turn);
	if (err)
		return err;
	return turn_client_start(T.turn, now_ms());
}

static void on_overall(uv_timer_t *t)
{
	char why[160];

	(void)t;
	if (T.done_at)
		return; /* finished; holding or lingering */
	if (!T.selected) {
		snprintf(why, sizeof(why), "no pair selected within %u s",
			 T.timeout_s);
		fail_report(why);
		return;
	}
	fprintf(stderr,
		"icemesh-ice: data incomplete after %u s: sent=%u acked=%u "
		"received=%u\n",
		T.timeout_s, T.count, T.n_acked, T.n_seen);
	finish(1);
}

static void print_stats(void)
{
	struct ice_stats st;

	ice_agent_get_stats(T.agent, &st);
	fprintf(stderr,
		"icemesh-ice: agent memory=%u bytes pairs=%u checks=%llu "
		"retransmits=%llu triggered=%llu role_conflicts=%llu "
		"unauthenticated=%llu dropped=%llu\n",
		st.memory, st.pairs, (unsigned long long)st.checks_sent,
		(unsigned long long)st.retransmits,
		(unsigned long long)st.triggered,
		(unsigned long long)st.role_conflicts,
		(unsigned long long)st.unauthenticated,
		(unsigned long long)st.dropped);
	if (T.turn) {
		struct turn_stats ts;

		turn_client_stats(T.turn, &ts);
		fprintf(stderr,
			"icemesh-ice: turn refreshes=%llu stale_nonces=%llu "
			"permission_refreshes=%llu channel_refreshes=%llu "
			"sent_channel=%llu sent_indication=%llu "
			"received_channel=%llu received_indication=%llu\n",
			(unsigned long long)ts.refreshes,
			(unsigned long long)ts.stale_nonces,
			(unsigned long long)ts.permission_refreshes,
			(unsigned long long)ts.channel_refreshes,
			(unsigned long long)ts.data_sent_channel,
			(unsigned long long)ts.data_sent_indication,
			(unsigned long long)ts.data_recv_channel,
			(unsigned long long)ts.data_recv_indication);
	}
}

static void close_all(void)
{
	if (T.turn) {
		turn_client_close(T.turn, now_ms());
		turn_client_destroy(T.turn);
		T.turn = NULL;
	}
	for (size_t i = 0; i < T.n_socks; i++)
		uv_close((uv_handle_t *)&T.socks[i].udp, NULL);
	uv_close((uv_handle_t *)&T.agent_timer, NULL);
	uv_close((uv_handle_t *)&T.overall, NULL);
	uv_close((uv_handle_t *)&T.data_timer, NULL);
	if (T.stdin_polling)
		uv_close((uv_handle_t *)&T.stdin_poll, NULL);
	uv_run(T.loop, UV_RUN_NOWAIT);
}

static int setup(const struct opts *o)
{
	struct ice_agent_config cfg;
	struct ice_agent_callbacks cb = { .send = agent_send,
					  .event = agent_event };
	int err;

	memset(&cfg, 0, sizeof(cfg));
	/* No role given: start controlling, let the tie-breaker decide. */
	cfg.role = o->role_set ? o->role : ICE_ROLE_CONTROLLING;
	memcpy(cfg.stun_servers, o->stun, sizeof(o->stun));
	cfg.n_stun_servers = o->n_stun;
	cfg.consent_jitter = true;
	err = ice_agent_create(&cfg, &cb, &T.agent);
	if (err)
		return err;
	uv_timer_init(T.loop, &T.agent_timer);
	uv_timer_init(T.loop, &T.overall);
	uv_timer_init(T.loop, &T.data_timer);
	print_line("a=ice-options:trickle");
	printf("a=ice-ufrag:%s\na=ice-pwd:%s\n", ice_agent_ufrag(T.agent),
	       ice_agent_pwd(T.agent));
	fflush(stdout);
	err = open_hosts(o);
	if (err)
		return err;
	if (!T.n_socks) {
		fprintf(stderr, "icemesh-ice: no usable local address\n");
		return -EADDRNOTAVAIL;
	}
	if (o->turn && (err = start_turn(o)) != 0)
		return err;
	err = ice_agent_start(T.agent, now_ms());
	if (err)
		return err;
	err = open_stdin();
	if (err)
		return err;
	uv_timer_start(&T.overall, on_overall, (uint64_t)T.timeout_s * 1000, 0);
	arm_agent_timer();
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	int err;

	memset(&o, 0, sizeof(o));
	T.timeout_s = 10;
	T.count = 10;
	T.started_ms = now_ms();
	/* The peer may stop reading our lines first; that is no reason to die. */
	signal(SIGPIPE, SIG_IGN);
	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	if (o.verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	T.acked = calloc((size_t)T.count + 1, 1);
	T.seen = calloc((size_t)T.count + 1, 1);
	T.loop = uv_default_loop();
	if (!T.acked || !T.seen)
		return 2;
	err = setup(&o);
	if (err) {
		fprintf(stderr, "icemesh-ice: setup failed: %s\n",
			strerror(err < 0 ? -err : err));
		return 2;
	}
	T.exit_code = 1;
	uv_run(T.loop, UV_RUN_DEFAULT);
	print_stats();
	close_all();
	ice_agent_destroy(T.agent);
	free(T.acked);
	free(T.seen);
	return T.exit_code;
}
