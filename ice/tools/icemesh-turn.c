// SPDX-License-Identifier: MIT
/*
 * icemesh-turn: one TURN allocation, for people debugging a TURN server and
 * for the lab. It wires the I/O-less client (ice/turn.h) to a UDP socket and
 * a timer on libuv, prints what happens, and exchanges numbered pings with a
 * peer through the relay:
 *
 *   icemesh-turn --server IP:PORT (--secret S [--id ID] | --user U --pass P)
 *                [--lifetime S] [--permission-refresh MS]
 *                [--channel-refresh MS] [--channel] [--interval MS]
 *                [--duration S] [--peer IP:PORT] [--relay6] [--port N]
 *                [--debug]
 *
 * stdout, one line per event:
 *   relayed IP:PORT mapped IP:PORT lifetime N ms M  (M: since start)
 *   peer IP:PORT ok|refused [channel 0x4000]
 *   failed <errno text> code N: reason
 *   summary key=value ...        (at the end)
 * stdin: "peer IP:PORT" lines name the peer (its relayed address, or any
 * address the relay may reach); --peer does the same on the command line.
 * Once a peer is known, a ping goes to it every --interval ms; pings from
 * it are answered with pongs. With --channel the peer gets a channel and
 * data goes as ChannelData once it is bound. --relay6 asks for an IPv6
 * relayed address (REQUESTED-ADDRESS-FAMILY).
 *
 * After --duration seconds the allocation is deallocated (Refresh 0) and
 * the summary printed. Exit 0 when the allocation lived until then, 1
 * otherwise, 2 for bad arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/log.h"
#include "ice/turn.h"

struct tool {
	uv_loop_t *loop;
	uv_udp_t udp;
	uv_timer_t timer; /* the client's deadline */
	uv_timer_t ping_timer;
	uv_timer_t end_timer;
	uv_pipe_t in;
	struct turn_client *turn;
	union sockaddr_any server;
	union sockaddr_any peer;
	bool have_peer;
	bool channel;
	bool allocated;
	bool failed;
	bool ending;
	uint32_t interval_ms;
	uint16_t port; /* local UDP port; 0: any */
	char line[256];
	size_t line_len;
	uint64_t pings_sent, pongs_recv, pings_recv, send_errors;
	uint64_t started_ms;
};

static void arm(struct tool *t);

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void on_send(void *arg, const union sockaddr_any *to, const uint8_t *buf,
		    size_t len)
{
	struct tool *t = arg;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned int)len);
	int rc = uv_udp_try_send(&t->udp, &b, 1, &to->sa);

	if (rc < 0)
		log_ratelimited(LOG_LEVEL_WARN, "turn", "send: %s",
				uv_strerror(rc));
}

static void use_peer(struct tool *t);

static void on_allocated(void *arg, const union sockaddr_any *relayed,
			 const union sockaddr_any *mapped, uint32_t lifetime_s)
{
	char r[ADDR_STRLEN], m[ADDR_STRLEN];
	struct tool *t = arg;

	t->allocated = true;
	out("relayed %s mapped %s lifetime %u ms %" PRIu64 "\n",
	    addr_to_str(relayed, r, sizeof(r)),
	    addr_to_str(mapped, m, sizeof(m)), lifetime_s,
	    clock_now_ms() - t->started_ms);
	use_peer(t);
}

static void on_failed(void *arg, int err, int code, const char *reason)
{
	struct tool *t = arg;

	t->failed = true;
	out("failed %s code %d: %s\n", strerror(-err), code, reason);
	uv_stop(t->loop);
}

static void on_data(void *arg, const union sockaddr_any *peer,
		    const uint8_t *buf, size_t len)
{
	struct tool *t = arg;
	char msg[64];
	unsigned long long n;

	if (len >= sizeof(msg))
		return;
	memcpy(msg, buf, len);
	msg[len] = '\0';
	if (sscanf(msg, "ping %llu", &n) == 1) {
		t->pings_recv++;
		snprintf(msg, sizeof(msg), "pong %llu", n);
		if (turn_client_send(t->turn, peer, (const uint8_t *)msg,
				     strlen(msg), clock_now_ms()))
			t->send_errors++;
	} else if (sscanf(msg, "pong %llu", &n) == 1) {
		t->pongs_recv++;
	}
}

static void on_peer(void *arg, const union sockaddr_any *peer, uint16_t channel,
		    bool ok)
{
	char p[ADDR_STRLEN];

	(void)arg;
	if (channel)
		out("peer %s %s channel 0x%04x\n",
		    addr_to_str(peer, p, sizeof(p)), ok ? "ok" : "refused",
		    channel);
	else
		out("peer %s %s\n", addr_ip_to_str(peer, p, sizeof(p)),
		    ok ? "ok" : "refused");
}

static void on_timer(uv_timer_t *h)
{
	struct tool *t = h->data;

	turn_client_tick(t->turn, clock_now_ms());
	arm(t);
}

/* Wake up at the client's next deadline. */
static void arm(struct tool *t)
{
	uint64_t d = turn_client_next_deadline(t->turn), now = clock_now_ms();

	if (d == UINT64_MAX) {
		uv_timer_stop(&t->timer);
		return;
	}
	uv_timer_start(&t->timer, on_timer, d > now ? d - now : 0, 0);
}

static void on_alloc_buf(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b,
		    const struct sockaddr *from, unsigned flags)
{
	struct tool *t = h->data;
	union sockaddr_any src;

	(void)flags;
	if (n <= 0 || !from)
		return;
	memset(&src, 0, sizeof(src));
	memcpy(&src, from,
	       from->sa_family == AF_INET6 ? sizeof(src.in6) : sizeof(src.in4));
	if (!turn_client_recv(t->turn, &src, (const uint8_t *)b->base,
			      (size_t)n, clock_now_ms()))
		log_ratelimited(LOG_LEVEL_DEBUG, "turn",
				"%zd bytes not for the TURN client", n);
	arm(t);
}

/* Permission (or channel) for the peer, once there is an allocation. */
static void use_peer(struct tool *t)
{
	uint64_t now = clock_now_ms();
	char p[ADDR_STRLEN];
	int rc;

	if (!t->have_peer || turn_client_state(t->turn) != TURN_STATE_ALLOCATED)
		return;
	rc = t->channel ? turn_client_bind_channel(t->turn, &t->peer, now)
			: turn_client_permit(t->turn, &t->peer, now);
	if (rc)
		fprintf(stderr, "icemesh-turn: peer %s: %s\n",
			addr_to_str(&t->peer, p, sizeof(p)), strerror(-rc));
	arm(t);
}

static void set_peer(struct tool *t, const char *s)
{
	union sockaddr_any p;

	if (addr_parse(s, 0, &p) || !addr_port(&p)) {
		fprintf(stderr, "icemesh-turn: bad peer '%s'\n", s);
		return;
	}
	t->peer = p;
	t->have_peer = true;
	use_peer(t);
}

static void on_ping(uv_timer_t *h)
{
	struct tool *t = h->data;
	char msg[32];

	if (!t->have_peer || turn_client_state(t->turn) != TURN_STATE_ALLOCATED)
		return;
	snprintf(msg, sizeof(msg), "ping %" PRIu64, t->pings_sent);
	if (turn_client_send(t->turn, &t->peer, (const uint8_t *)msg,
			     strlen(msg), clock_now_ms()))
		t->send_errors++;
	else
		t->pings_sent++;
	arm(t);
}

static void on_line(struct tool *t, char *line)
{
	char addr[200];

	if (sscanf(line, "peer %199s", addr) == 1)
		set_peer(t, addr);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct tool *t = s->data;

	if (n < 0) {
		uv_read_stop(s);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char c = b->base[i];

		if (c == '\n') {
			t->line[t->line_len] = '\0';
			on_line(t, t->line);
			t->line_len = 0;
		} else if (t->line_len + 1 < sizeof(t->line)) {
			t->line[t->line_len++] = c;
		}
	}
}

static void on_end(uv_timer_t *h)
{
	struct tool *t = h->data;
	uint64_t now = clock_now_ms();

	if (!t->ending) {
		/* Deallocate, and give the answer up to 3 s. */
		t->ending = true;
		uv_timer_stop(&t->ping_timer);
		turn_client_close(t->turn, now);
		arm(t);
		uv_timer_start(&t->end_timer, on_end, 3000, 0);
		return;
	}
	uv_stop(t->loop);
}

static void on_tick_end(uv_timer_t *h)
{
	struct tool *t = h->data;

	/* Stop as soon as the deallocation is answered. */
	if (t->ending && turn_client_state(t->turn) == TURN_STATE_CLOSED)
		uv_stop(t->loop);
}

static void summary(struct tool *t)
{
	struct turn_stats st;

	turn_client_stats(t->turn, &st);
	out("summary state=%s seconds=%.1f pings_sent=%" PRIu64
	    " pongs_recv=%" PRIu64 " pings_recv=%" PRIu64
	    " send_errors=%" PRIu64 " refreshes=%" PRIu64
	    " permission_refreshes=%" PRIu64 " channel_refreshes=%" PRIu64
	    " stale_nonces=%" PRIu64 " auth_retries=%" PRIu64
	    " retransmits=%" PRIu64 " sent_indication=%" PRIu64
	    " sent_channel=%" PRIu64 " recv_indication=%" PRIu64
	    " recv_channel=%" PRIu64 " dropped=%" PRIu64 "\n",
	    turn_state_name(turn_client_state(t->turn)),
	    (double)(clock_now_ms() - t->started_ms) / 1000.0, t->pings_sent,
	    t->pongs_recv, t->pings_recv, t->send_errors, st.refreshes,
	    st.permission_refreshes, st.channel_refreshes, st.stale_nonces,
	    st.auth_retries, st.retransmits, st.data_sent_indication,
	    st.data_sent_channel, st.data_recv_indication, st.data_recv_channel,
	    st.dropped);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: icemesh-turn --server IP:PORT (--secret S [--id ID] | "
		"--user U --pass P)\n"
		"       [--lifetime S] [--permission-refresh MS] "
		"[--channel-refresh MS]\n"
		"       [--channel] [--interval MS] [--duration S] "
		"[--peer IP:PORT] [--relay6] [--port N] [--debug]\n");
}

static int parse_args(int argc, char **argv, struct turn_config *cfg,
		      struct tool *t, double *duration, const char **peer)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "secret", required_argument, NULL, 'S' },
		{ "id", required_argument, NULL, 'i' },
		{ "user", required_argument, NULL, 'u' },
		{ "pass", required_argument, NULL, 'p' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "permission-refresh", required_argument, NULL, 'P' },
		{ "channel-refresh", required_argument, NULL, 'C' },
		{ "channel", no_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'I' },
		{ "duration", required_argument, NULL, 'd' },
		{ "peer", required_argument, NULL, 'e' },
		{ "relay6", no_argument, NULL, '6' },
		{ "port", required_argument, NULL, 'o' },
		{ "debug", no_argument, NULL, 'D' },
		{ 0 },
	};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (addr_parse(optarg, 3478, &cfg->server))
				return -EINVAL;
			break;
		case 'S':
			cfg->rest_secret = optarg;
			break;
		case 'i':
			cfg->rest_id = optarg;
			break;
		case 'u':
			cfg->username = optarg;
			break;
		case 'p':
			cfg->password = optarg;
			break;
		case 'l':
			cfg->lifetime_s = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			cfg->permission_refresh_ms =
				(uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'C':
			cfg->channel_refresh_ms =
				(uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			t->channel = true;
			break;
		case 'I':
			t->interval_ms = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			*duration = strtod(optarg, NULL);
			break;
		case 'e':
			*peer = optarg;
			break;
		case '6':
			cfg->relay_family = AF_INET6;
			break;
		case 'o':
			t->port = (uint16_t)strtoul(optarg, NULL, 10);
			break;
		case 'D':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		default:
			return -EINVAL;
		}
	}
	if (!addr_len(&cfg->server) || optind != argc || *duration <= 0 ||
	    !t->interval_ms)
		return -EINVAL;
	/*
	 * An expiry rounded to the hour (1 to 2 hours ahead), so that a run
	 * restarted within the hour has the same username: only the username
	 * that made an allocation may delete it (441 otherwise), and a run
	 * restarted on the same port must delete the one it left behind.
	 */
	if (cfg->rest_secret)
		cfg->rest_expiry = (clock_wall_s() / 3600 + 2) * 3600;
	return 0;
}

static int setup(struct tool *t, const struct turn_config *cfg)
{
	struct turn_callbacks cb = {
		.send = on_send,
		.allocated = on_allocated,
		.failed = on_failed,
		.data = on_data,
		.peer = on_peer,
		.arg = t,
	};
	union sockaddr_any any;
	int rc;

	rc = turn_client_create(cfg, &cb, &t->turn);
	if (rc)
		return rc;
	memset(&any, 0, sizeof(any));
	any.sa.sa_family = cfg->server.sa.sa_family;
	addr_set_port(&any, t->port);
	t->loop = uv_default_loop();
	uv_udp_init(t->loop, &t->udp);
	rc = uv_udp_bind(&t->udp, &any.sa, 0);
	if (rc)
		return rc;
	t->udp.data = t;
	uv_udp_recv_start(&t->udp, on_alloc_buf, on_recv);
	uv_timer_init(t->loop, &t->timer);
	uv_timer_init(t->loop, &t->ping_timer);
	uv_timer_init(t->loop, &t->end_timer);
	t->timer.data = t->ping_timer.data = t->end_timer.data = t;
	/* Peer lines come through a pipe or FIFO; anything else is ignored. */
	if (uv_guess_handle(0) == UV_NAMED_PIPE) {
		uv_pipe_init(t->loop, &t->in, 0);
		t->in.data = t;
		if (uv_pipe_open(&t->in, 0) == 0)
			uv_read_start((uv_stream_t *)&t->in, on_alloc_buf,
				      on_stdin);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct turn_config cfg = { 0 };
	struct tool t = { 0 };
	uv_timer_t poll_end;
	double duration = 30;
	const char *peer = NULL;
	int rc;

	t.interval_ms = 200;
	cfg.software = "icemesh-turn";
	if (parse_args(argc, argv, &cfg, &t, &duration, &peer)) {
		usage();
		return 2;
	}
	t.started_ms = clock_now_ms();
	rc = setup(&t, &cfg);
	if (rc) {
		fprintf(stderr, "icemesh-turn: %s\n", strerror(-rc));
		return 2;
	}
	turn_client_start(t.turn, t.started_ms);
	arm(&t);
	if (peer)
		set_peer(&t, peer);
	uv_timer_start(&t.ping_timer, on_ping, t.interval_ms, t.interval_ms);
	uv_timer_start(&t.end_timer, on_end, (uint64_t)(duration * 1000), 0);
	uv_timer_init(t.loop, &poll_end);
	poll_end.data = &t;
	uv_timer_start(&poll_end, on_tick_end, 20, 20);
	uv_run(t.loop, UV_RUN_DEFAULT);
	summary(&t);
	rc = !t.allocated || t.failed ||
	     turn_client_state(t.turn) != TURN_STATE_CLOSED;
	turn_client_destroy(t.turn);
	return rc;
}
