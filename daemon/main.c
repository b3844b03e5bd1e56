/* SPDX-License-Identifier: MIT */
/*
 * icemeshd. Two modes on the same data plane:
 *   - the mesh mode (default; `icemeshd --foreground` under systemd):
 *     coordinator, ICE per peer, TURN, control socket (daemon/mesh.h);
 *   - --wireguard-only: a plain WireGuard implementation configured with
 *     wg(8) and ip(8) exactly as wireguard-go is.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "common/ctl.h"
#include "common/log.h"
#include "daemon/dataplane.h"
#include "daemon/mesh.h"
#include "daemon/sdnotify.h"
#include "daemon/uapi_server.h"

#define TOPIC "icemeshd"

struct opts {
	bool wireguard_only;
	bool foreground;
	bool no_offload;
	const char *ifname;
	const char *uapi_dir;
	const char *state_dir;
	const char *socket;
	long port;
	enum log_level level;
	char socket_buf[108];
};

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t watchdog;
	bool watchdog_on;
	struct mesh *mesh;
	struct dp *dp;
	struct uapi_server *uapi;
	int ready_fd; /* the waiting parent's pipe, -1 in the foreground */
	bool signals; /* the signal handles exist */
	bool fatal; /* ended by the interface's deletion */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: icemeshd [--foreground] [--state-dir DIR] [--socket PATH]\n"
		"                [--interface NAME] [--port N] [--log-level LEVEL]\n"
		"       icemeshd --wireguard-only --interface NAME [options]\n"
		"\n"
		"  (mesh mode)          join the mesh with `icemesh up`\n"
		"  --state-dir DIR      node key and state (default\n"
		"                       $STATE_DIRECTORY or /var/lib/icemesh)\n"
		"  --socket PATH        control socket (default\n"
		"                       $RUNTIME_DIRECTORY/icemeshd.sock or\n"
		"                       /run/icemesh/icemeshd.sock)\n"
		"  --port N             UDP port (default 41641; 0: any)\n"
		"  --wireguard-only     a plain WireGuard interface, configured\n"
		"                       with wg(8) and ip(8), no coordinator\n"
		"  --interface NAME     the TUN device to create (and the UAPI\n"
		"                       socket /var/run/wireguard/NAME.sock)\n"
		"  --foreground, -f     stay in the foreground\n"
		"                       (also: WG_PROCESS_FOREGROUND=1)\n"
		"  --log-level LEVEL    error, warn, info (default) or debug\n"
		"  --uapi-dir DIR       where the UAPI socket goes\n"
		"  --no-offload         no vnet header, UDP GSO or GRO\n"
		"  --help, -h\n");
}

/* The mesh mode's paths: options, then systemd's variables, then FHS. */
static void mesh_defaults(struct opts *o)
{
	const char *rt = getenv("RUNTIME_DIRECTORY");
	const char *st = getenv("STATE_DIRECTORY");

	if (!o->ifname)
		o->ifname = "icemesh0";
	if (!o->state_dir)
		o->state_dir = st && *st && !strchr(st, ':') ? st
							      : "/var/lib/icemesh";
	if (!o->socket) {
		if (rt && *rt && !strchr(rt, ':'))
			snprintf(o->socket_buf, sizeof(o->socket_buf),
				 "%s/icemeshd.sock", rt);
		else
			snprintf(o->socket_buf, sizeof(o->socket_buf), "%s",
				 "/run/icemesh/icemeshd.sock");
		o->socket = o->socket_buf;
	}
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "wireguard-only", no_argument, NULL, 'w' },
		{ "interface", required_argument, NULL, 'i' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "uapi-dir", required_argument, NULL, 'u' },
		{ "no-offload", no_argument, NULL, 'n' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("WG_PROCESS_FOREGROUND");
	int c;

	o->level = LOG_LEVEL_INFO;
	o->port = 41641;
	o->foreground = env && !strcmp(env, "1");
	while ((c = getopt_long(argc, argv, "fhi:", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			o->wireguard_only = true;
			break;
		case 'i':
			o->ifname = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'u':
			o->uapi_dir = optarg;
			break;
		case 'n':
			o->no_offload = true;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 'S':
			o->socket = optarg;
			break;
		case 'p': {
			char *end;

			o->port = strtol(optarg, &end, 10);
			if (*end || !*optarg || o->port < 0 ||
			    o->port > 65535) {
				fprintf(stderr,
					"icemeshd: --port must be 0..65535\n");
				return 2;
			}
			break;
		}
		case 'l':
			if (log_level_parse(optarg, &o->level)) {
				fprintf(stderr,
					"icemeshd: unknown log level "
					"'%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (!o->ifname && o->wireguard_only)) {
		usage(stderr);
		return 2;
	}
	if (!o->wireguard_only)
		mesh_defaults(o);
	if (!*o->ifname || strlen(o->ifname) >= IFNAMSIZ ||
	    strchr(o->ifname, '/') || strchr(o->ifname, ' ')) {
		fprintf(stderr,
			"icemeshd: '%s' is not an interface name "
			"(1-%d characters, no '/')\n",
			o->ifname, IFNAMSIZ - 1);
		return 2;
	}
	return 0;
}

/* The words for what went wrong at start, for the person at the terminal. */
static void explain(const char *what, const char *ifname, int err)
{
	const char *hint = "";

	if (err == -EPERM || err == -EACCES)
		hint = " (run as root, or with CAP_NET_ADMIN)";
	else if (err == -ENOENT && !strcmp(what, "TUN"))
		hint = " (no /dev/net/tun: is the tun module loaded?)";
	else if (err == -EBUSY)
		hint = " (another process has this interface)";
	else if (err == -EADDRINUSE && !strcmp(what, "UAPI"))
		hint = " (another process serves this interface)";
	log_error(TOPIC, "%s %s: %s%s", what, ifname, strerror(-err), hint);
}

static void on_closed_signal(uv_handle_t *h)
{
}

static void shutdown_daemon(struct daemon *d)
{
	if (d->watchdog_on) {
		d->watchdog_on = false;
		uv_close((uv_handle_t *)&d->watchdog, on_closed_signal);
	}
	mesh_destroy(d->mesh);
	d->mesh = NULL;
	uapi_server_destroy(d->uapi);
	d->uapi = NULL;
	dp_destroy(d->dp);
	d->dp = NULL;
	if (d->signals) {
		d->signals = false;
		uv_close((uv_handle_t *)&d->sigterm, on_closed_signal);
		uv_close((uv_handle_t *)&d->sigint, on_closed_signal);
		uv_close((uv_handle_t *)&d->sighup, on_closed_signal);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (signum == SIGHUP) {
		sdnotify_send("RELOADING=1");
		log_info(TOPIC, "SIGHUP: reloading");
		if (d->mesh)
			mesh_reload(d->mesh);
		sdnotify_send("READY=1");
		return;
	}
	sdnotify_send("STOPPING=1");
	log_info(TOPIC, "%s: shutting down", strsignal(signum));
	shutdown_daemon(d);
}

/* As wireguard-go: the interface deleted under us ends the daemon. */
static void on_dp_fatal(void *arg, int err)
{
	log_info(TOPIC, "interface gone: shutting down");
	shutdown_daemon(arg);
}

static void start_signals(struct daemon *d)
{
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_signal_start(&d->sighup, on_signal, SIGHUP);
	d->signals = true;
}

static int start(struct daemon *d, const struct opts *o)
{
	struct dp_config cfg = {
		.loop = &d->loop,
		.ifname = o->ifname,
		.tun_fd = -1,
		.no_offload = o->no_offload,
		.on_fatal = on_dp_fatal,
		.fatal_arg = d,
	};
	bool vnet, gso, gro;
	int ret;

	if (if_nametoindex(o->ifname)) {
		log_error(TOPIC, "interface %s already exists", o->ifname);
		return -EEXIST;
	}
	ret = dp_create(&cfg, &d->dp);
	if (ret) {
		explain("TUN", o->ifname, ret);
		return ret;
	}
	ret = uapi_server_create(&d->loop, o->uapi_dir, o->ifname, d->dp,
				 &d->uapi);
	if (ret) {
		explain("UAPI", o->ifname, ret);
		return ret;
	}
	dp_offloads(d->dp, &vnet, &gso, &gro);
	log_info(TOPIC,
		 "%s up: WireGuard only, UDP port %u, vnet_hdr %s, "
		 "UDP GSO %s, GRO %s",
		 o->ifname, dp_listen_port(d->dp), vnet ? "on" : "off",
		 gso ? "on" : "off", gro ? "on" : "off");
	start_signals(d);
	return 0;
}

static void on_watchdog(uv_timer_t *t)
{
	sdnotify_send("WATCHDOG=1");
}

static void on_mesh_fatal(void *arg, int err)
{
	struct daemon *d = arg;

	log_info(TOPIC, "interface gone: shutting down");
	d->fatal = true;
	shutdown_daemon(d);
}

static int start_mesh(struct daemon *d, const struct opts *o)
{
	struct mesh_config mc = {
		.loop = &d->loop,
		.state_dir = o->state_dir,
		.socket_path = o->socket,
		.ifname = o->ifname,
		.port = (uint16_t)o->port,
		.on_fatal = on_mesh_fatal,
		.arg = d,
	};
	uint64_t wd = sdnotify_watchdog_ms();
	int ret;

	if (if_nametoindex(o->ifname)) {
		log_error(TOPIC, "interface %s already exists", o->ifname);
		return -EEXIST;
	}
	ret = mesh_create(&mc, &d->mesh);
	if (ret)
		return ret;
	start_signals(d);
	if (wd) {
		uv_timer_init(&d->loop, &d->watchdog);
		uv_timer_start(&d->watchdog, on_watchdog, wd, wd);
		d->watchdog_on = true;
	}
	sdnotify_send("READY=1");
	return 0;
}

/*
 * As wireguard-go without its foreground flag: the parent waits until the
 * child is serving (or failed) and exits with that outcome.
 */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char st = 1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &st, 1) != 1)
			st = 1;
		_exit(st);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

static void report_ready(struct daemon *d, int status)
{
	char st = (char)status;
	int null;

	if (d->ready_fd < 0)
		return;
	if (write(d->ready_fd, &st, 1) != 1)
		log_warn(TOPIC, "could not tell the parent: %s",
			 strerror(errno));
	close(d->ready_fd);
	d->ready_fd = -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
}

int main(int argc, char **argv)
{
	struct daemon d = { .ready_fd = -1 };
	struct opts o = { 0 };
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret == 1 ? 0 : ret;
	log_set_level(o.level);
	if (sodium_init() < 0) {
		log_error(TOPIC, "libsodium failed to initialise");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!o.foreground && (ret = daemonize(&d.ready_fd))) {
		log_error(TOPIC, "fork: %s", strerror(-ret));
		return 1;
	}
	uv_loop_init(&d.loop);
	if (!o.wireguard_only)
		ctl_json_use_wiping_alloc();
	ret = o.wireguard_only ? start(&d, &o) : start_mesh(&d, &o);
	report_ready(&d, ret ? 1 : 0);
	if (ret)
		shutdown_daemon(&d);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d.loop))
		log_warn(TOPIC, "loop closed with handles open");
	if (!ret)
		log_info(TOPIC, "stopped");
	return ret ? 1 : 0;
}
