// SPDX-License-Identifier: MIT
#include "coordinator/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/log.h"
#include "coordinator/cred.h"
#include "coordinator/server.h"
#include "coordinator/store.h"
#include "coordinator/tls.h"

static const char usage_text[] =
	"usage: icemesh-coord COMMAND [OPTIONS]\n"
	"\n"
	"Commands (each takes --state-dir DIR, default " COORD_DEFAULT_STATE_DIR
	"):\n"
	"  init [--ipv4-prefix CIDR] [--ipv6-prefix ULA/48] [--stun HOST:PORT]...\n"
	"       [--turn HOST:PORT]... [--turn-secret SECRET] [--turn-ttl DURATION]\n"
	"      create the state directory, the database and the TLS certificate\n"
	"  authkey create [--reusable] [--ephemeral] [--expiry DURATION]\n"
	"      print a new auth key (shown once; only its hash is kept)\n"
	"  nodes list [--json]\n"
	"  nodes rename ID|NAME NEW-NAME\n"
	"  nodes remove ID|NAME\n"
	"  serve [--listen ADDR:PORT] [--cert FILE --key FILE] [--insecure-http]\n"
	"        [--max-connections N] [--max-per-ip N] [--online-grace DURATION]\n"
	"        [--log-level LEVEL]\n"
	"      answer the API (docs/API.md); default --listen 0.0.0.0:8443;\n"
	"      a node shows online until --online-grace (15s) after its last\n"
	"      long-poll\n"
	"\n"
	"DURATION is a number with s, m, h or d (e.g. 90s, 24h, 7d).\n";

enum {
	OPT_STATE_DIR = 256,
	OPT_IPV4,
	OPT_IPV6,
	OPT_STUN,
	OPT_TURN,
	OPT_TURN_SECRET,
	OPT_TURN_TTL,
	OPT_REUSABLE,
	OPT_EPHEMERAL,
	OPT_EXPIRY,
	OPT_JSON,
	OPT_LISTEN,
	OPT_CERT,
	OPT_KEY,
	OPT_INSECURE,
	OPT_MAX_CONN,
	OPT_MAX_PER_IP,
	OPT_LOG_LEVEL,
	OPT_ONLINE_GRACE,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "ipv4-prefix", required_argument, NULL, OPT_IPV4 },
	{ "ipv6-prefix", required_argument, NULL, OPT_IPV6 },
	{ "stun", required_argument, NULL, OPT_STUN },
	{ "turn", required_argument, NULL, OPT_TURN },
	{ "turn-secret", required_argument, NULL, OPT_TURN_SECRET },
	{ "turn-ttl", required_argument, NULL, OPT_TURN_TTL },
	{ "reusable", no_argument, NULL, OPT_REUSABLE },
	{ "ephemeral", no_argument, NULL, OPT_EPHEMERAL },
	{ "expiry", required_argument, NULL, OPT_EXPIRY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "insecure-http", no_argument, NULL, OPT_INSECURE },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONN },
	{ "max-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "online-grace", required_argument, NULL, OPT_ONLINE_GRACE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Every option of every command; each command checks which it takes. */
struct cli {
	const char *state_dir;
	const char *v4, *v6, *turn_secret, *listen, *cert, *key;
	unsigned n_stun, n_turn;
	const char *stun[COORD_MAX_SERVERS], *turn[COORD_MAX_SERVERS];
	uint64_t turn_ttl, expiry, online_grace;
	bool reusable, ephemeral, json, insecure, help;
	unsigned max_conn, max_per_ip;
	bool max_per_ip_set;
	uint64_t given; /* bit per option, OPT_x - 256 */
	int nargs;
	char **args;
};

int coord_parse_duration(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end && end[1])
		return -EINVAL;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return -EINVAL;
	}
	if (v == 0 || v > UINT32_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static bool server_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	unsigned port;

	return strlen(s) < COORD_SERVER_STRLEN && !strchr(s, ',') && colon &&
	       colon != s && parse_uint(colon + 1, 65535, &port) == 0 &&
	       port > 0;
}

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "icemesh-coord: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 2;
}

static int take_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case OPT_STATE_DIR:
		c->state_dir = arg;
		break;
	case OPT_IPV4:
		c->v4 = arg;
		break;
	case OPT_IPV6:
		c->v6 = arg;
		break;
	case OPT_STUN:
	case OPT_TURN: {
		bool stun = opt == OPT_STUN;
		unsigned *n = stun ? &c->n_stun : &c->n_turn;
		if (*n == COORD_MAX_SERVERS)
			return bad("at most 4 servers of each kind: %s", arg);
		if (!server_valid(arg))
			return bad("not HOST:PORT: %s", arg);
		(stun ? c->stun : c->turn)[(*n)++] = arg;
		break;
	}
	case OPT_TURN_SECRET:
		if (strlen(arg) < 16 || strlen(arg) >= COORD_SECRET_STRLEN)
			return bad("--turn-secret must be 16..128 characters%s",
				   "");
		c->turn_secret = arg;
		break;
	case OPT_TURN_TTL:
	case OPT_EXPIRY:
		if (coord_parse_duration(arg, opt == OPT_EXPIRY ? &c->expiry
								: &c->turn_ttl))
			return bad("not a duration: %s", arg);
		if (opt == OPT_TURN_TTL && c->turn_ttl < 120)
			return bad("--turn-ttl must be at least 2m%s", "");
		break;
	case OPT_ONLINE_GRACE:
		if (coord_parse_duration(arg, &c->online_grace) ||
		    c->online_grace > 3600)
			return bad("bad --online-grace (1s..1h): %s", arg);
		break;
	case OPT_REUSABLE:
		c->reusable = true;
		break;
	case OPT_EPHEMERAL:
		c->ephemeral = true;
		break;
	case OPT_JSON:
		c->json = true;
		break;
	case OPT_LISTEN:
		c->listen = arg;
		break;
	case OPT_CERT:
		c->cert = arg;
		break;
	case OPT_KEY:
		c->key = arg;
		break;
	case OPT_INSECURE:
		c->insecure = true;
		break;
	case OPT_MAX_CONN:
		if (parse_uint(arg, 1000000, &c->max_conn) || !c->max_conn)
			return bad("bad --max-connections: %s", arg);
		break;
	case OPT_MAX_PER_IP:
		if (parse_uint(arg, 1000000, &c->max_per_ip))
			return bad("bad --max-per-ip: %s", arg);
		c->max_per_ip_set = true;
		break;
	case OPT_LOG_LEVEL: {
		enum log_level l;
		if (log_level_parse(arg, &l))
			return bad("bad --log-level: %s", arg);
		log_set_level(l);
		break;
	}
	case OPT_HELP:
		c->help = true;
		break;
	default:
		return 2;
	}
	c->given |= 1ULL << (opt - 256);
	return 0;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
	int opt, ret;

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (opt == 'h')
			opt = OPT_HELP;
		if (opt == '?')
			return 2;
		ret = take_option(c, opt, optarg);
		if (ret)
			return ret;
	}
	c->nargs = argc - optind;
	c->args = argv + optind;
	return 0;
}

/* Refuse options the command does not take. */
static int only(const struct cli *c, const char *cmd, uint64_t allowed)
{
	allowed |= 1ULL << (OPT_STATE_DIR - 256) | 1ULL << (OPT_HELP - 256) |
		   1ULL << (OPT_LOG_LEVEL - 256);
	for (const struct option *o = long_opts; o->name; o++) {
		if ((c->given & (1ULL << (o->val - 256))) &&
		    !(allowed & (1ULL << (o->val - 256)))) {
			fprintf(stderr,
				"icemesh-coord: %s does not take --%s\n", cmd,
				o->name);
			return 2;
		}
	}
	return 0;
}

#define BIT(o) (1ULL << ((o)-256))

static int open_store(const struct cli *c, bool create, struct coord_store **s)
{
	char path[PATH_MAX];
	int ret;

	if (snprintf(path, sizeof(path), "%s/coord.db", c->state_dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	ret = coord_store_open(path, create, s);
	if (ret == -ENOENT)
		fprintf(stderr,
			"icemesh-coord: no database in %s; run "
			"'icemesh-coord init --state-dir %s' first\n",
			c->state_dir, c->state_dir);
	else if (ret)
		fprintf(stderr, "icemesh-coord: cannot open %s: %s\n", path,
			strerror(-ret));
	return ret;
}

static void random_ula(char *buf, size_t len)
{
	uint8_t r[5];

	/* RFC 4193 §3.2: fd00::/8 plus a 40-bit random global ID */
	randombytes_buf(r, sizeof(r));
	snprintf(buf, len, "fd%02x:%02x%02x:%02x%02x::/48", r[0], r[1], r[2],
		 r[3], r[4]);
}

static int cmd_init(struct cli *c)
{
	struct coord_config cfg = { 0 };
	struct coord_store *s = NULL;
	struct coord_tls tls;
	char ula[COORD_PREFIX_STRLEN];
	char secret[COORD_TOKEN_STRLEN];
	int ret;

	if ((ret = only(c, "init",
			BIT(OPT_IPV4) | BIT(OPT_IPV6) | BIT(OPT_STUN) |
				BIT(OPT_TURN) | BIT(OPT_TURN_SECRET) |
				BIT(OPT_TURN_TTL))))
		return ret;
	if (c->nargs)
		return bad("init takes no argument: %s", c->args[0]);
	random_ula(ula, sizeof(ula));
	if (coord_config_set_v4(&cfg, c->v4 ? c->v4 : "100.64.0.0/10"))
		return bad("bad --ipv4-prefix (A.B.C.D/8..24): %s", c->v4);
	if (coord_config_set_v6(&cfg, c->v6 ? c->v6 : ula))
		return bad("bad --ipv6-prefix (a ULA fc00::/7 /48): %s", c->v6);
	for (unsigned i = 0; i < c->n_stun; i++)
		snprintf(cfg.stun[i], COORD_SERVER_STRLEN, "%s", c->stun[i]);
	for (unsigned i = 0; i < c->n_turn; i++)
		snprintf(cfg.turn[i], COORD_SERVER_STRLEN, "%s", c->turn[i]);
	cfg.n_stun = c->n_stun;
	cfg.n_turn = c->n_turn;
	coord_token_new("tsk_", secret);
	snprintf(cfg.turn_secret, sizeof(cfg.turn_secret), "%s",
		 c->turn_secret ? c->turn_secret : secret + 4);
	sodium_memzero(secret, sizeof(secret));
	cfg.turn_ttl_s = c->turn_ttl ? (uint32_t)c->turn_ttl : 86400;
	if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "icemesh-coord: cannot create %s: %s\n",
			c->state_dir, strerror(errno));
		return 1;
	}
	if (open_store(c, true, &s))
		return 1;
	ret = coord_store_config_init(s, &cfg);
	coord_store_close(s);
	sodium_memzero(cfg.turn_secret, sizeof(cfg.turn_secret));
	if (ret == -EEXIST) {
		fprintf(stderr, "icemesh-coord: %s is already initialised\n",
			c->state_dir);
		return 1;
	}
	if (ret || coord_tls_load(c->state_dir, NULL, NULL, &tls)) {
		fprintf(stderr, "icemesh-coord: init failed\n");
		return 1;
	}
	printf("initialised %s\nipv4 prefix %s\nipv6 prefix %s\n"
	       "certificate pin %s\n",
	       c->state_dir, cfg.v4_str, cfg.v6_str, tls.pin);
	coord_tls_free(&tls);
	return 0;
}

static int cmd_authkey(struct cli *c)
{
	struct coord_store *s = NULL;
	char key[COORD_TOKEN_STRLEN];
	uint8_t hash[COORD_HASH_LEN];
	uint64_t now = clock_wall_s();
	int ret;

	if ((ret = only(c, "authkey create",
			BIT(OPT_REUSABLE) | BIT(OPT_EPHEMERAL) |
				BIT(OPT_EXPIRY))))
		return ret;
	if (c->nargs != 1 || strcmp(c->args[0], "create") != 0)
		return bad("usage: icemesh-coord authkey create [--reusable] "
			   "[--ephemeral] [--expiry DURATION]%s",
			   "");
	if (open_store(c, false, &s))
		return 1;
	coord_token_new(COORD_AUTHKEY_PREFIX, key);
	coord_token_hash(key, strlen(key), hash);
	ret = coord_store_authkey_add(s, hash, c->reusable, c->ephemeral,
				      c->expiry ? now + c->expiry : 0, now);
	coord_store_close(s);
	if (ret) {
		sodium_memzero(key, sizeof(key));
		fprintf(stderr, "icemesh-coord: cannot store the key\n");
		return 1;
	}
	printf("%s\n", key);
	sodium_memzero(key, sizeof(key));
	return 0;
}

struct list_ctx {
	struct coord_config cfg;
	bool json;
	json_t *arr;
};

static int list_one(const struct coord_node *n, void *arg)
{
	struct list_ctx *l = arg;
	char v4[48], v6[64], key[COORD_KEY_B64_LEN + 1];

	coord_config_addr_v4(&l->cfg, n->slot, v4, sizeof(v4));
	coord_config_addr_v6(&l->cfg, n->slot, v6, sizeof(v6));
	sodium_bin2base64(key, sizeof(key), n->key, COORD_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	if (l->json)
		return json_array_append_new(
			       l->arr,
			       json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:b}", "id",
					 (json_int_t)n->id, "name", n->name,
					 "node_key", key, "ipv4", v4, "ipv6",
					 v6, "last_seen",
					 (json_int_t)n->last_seen, "ephemeral",
					 n->ephemeral))
			       ? -ENOMEM
			       : 0;
	printf("%-6" PRIu64 " %-24s %-15s %-28s %s %" PRIu64 "%s\n", n->id,
	       n->name, v4, v6, key, n->last_seen,
	       n->ephemeral ? " ephemeral" : "");
	return 0;
}

/* A node named by id or name. */
static int find_node(struct coord_store *s, const char *ref,
		     struct coord_node *n)
{
	unsigned id;

	if (parse_uint(ref, UINT32_MAX, &id) == 0 &&
	    coord_store_node_by_id(s, id, n) == 0)
		return 0;
	return coord_store_node_by_name(s, ref, n);
}

static int cmd_nodes(struct cli *c)
{
	struct coord_store *s = NULL;
	struct list_ctx l = { .json = c->json };
	struct coord_node n;
	const char *sub = c->nargs ? c->args[0] : "";
	int ret, rc = 1;

	if ((ret = only(c, "nodes", BIT(OPT_JSON))))
		return ret;
	if (!((strcmp(sub, "list") == 0 && c->nargs == 1) ||
	      (strcmp(sub, "rename") == 0 && c->nargs == 3) ||
	      (strcmp(sub, "remove") == 0 && c->nargs == 2)))
		return bad("usage: icemesh-coord nodes list [--json] | rename "
			   "ID|NAME NEW-NAME | remove ID|NAME%s",
			   "");
	if (open_store(c, false, &s))
		return 1;
	if (strcmp(sub, "list") == 0) {
		if (coord_store_config_get(s, &l.cfg))
			goto out;
		l.arr = json_array();
		if (!l.json)
			printf("%-6s %-24s %-15s %-28s %-44s %s\n", "ID",
			       "NAME", "IPV4", "IPV6", "KEY", "LAST_SEEN");
		if (coord_store_nodes_foreach(s, list_one, &l) == 0) {
			rc = 0;
			if (l.json)
				json_dumpf(l.arr, stdout, JSON_INDENT(2));
		}
		if (l.json)
			printf("\n");
		json_decref(l.arr);
		goto out;
	}
	if (find_node(s, c->args[1], &n)) {
		fprintf(stderr, "icemesh-coord: no node %s\n", c->args[1]);
		goto out;
	}
	if (strcmp(sub, "remove") == 0) {
		ret = coord_store_node_remove(s, n.id, clock_wall_s());
	} else {
		ret = coord_store_node_rename(s, n.id, c->args[2]);
		if (ret == -EINVAL)
			fprintf(stderr, "icemesh-coord: names are 1..63 of "
					"[a-z0-9-]\n");
		if (ret == -EEXIST)
			fprintf(stderr, "icemesh-coord: name %s is taken\n",
				c->args[2]);
	}
	if (!ret) {
		printf("%s node %" PRIu64 " (%s)\n",
		       sub[2] == 'm' ? "removed" : "renamed", n.id, n.name);
		rc = 0;
	}
out:
	coord_store_close(s);
	return rc;
}

static int cmd_serve(struct cli *c)
{
	struct coord_server_opts o = { .state_dir = c->state_dir };
	struct coord_server *srv = NULL;
	char buf[ADDR_STRLEN];
	sigset_t set;
	int ret, sig;

	if ((ret = only(c, "serve",
			BIT(OPT_LISTEN) | BIT(OPT_CERT) | BIT(OPT_KEY) |
				BIT(OPT_INSECURE) | BIT(OPT_MAX_CONN) |
				BIT(OPT_MAX_PER_IP) | BIT(OPT_ONLINE_GRACE))))
		return ret;
	if (c->nargs)
		return bad("serve takes no argument: %s", c->args[0]);
	if (addr_parse(c->listen ? c->listen : "0.0.0.0:8443", 8443, &o.listen))
		return bad("bad --listen (numeric ADDR:PORT): %s", c->listen);
	if (!!c->cert != !!c->key)
		return bad("--cert and --key go together%s", "");
	if (c->insecure && !addr_is_loopback(&o.listen))
		return bad("--insecure-http only on a loopback address, not %s",
			   c->listen ? c->listen : "0.0.0.0");
	if (c->insecure && c->cert)
		return bad("--insecure-http does not take a certificate%s", "");
	{
		struct coord_store *s = NULL;
		if (open_store(c, false, &s))
			return 1;
		coord_store_close(s);
	}
	o.insecure_http = c->insecure;
	o.cert_path = c->cert;
	o.key_path = c->key;
	o.max_connections = c->max_conn;
	o.online_grace_ms = (unsigned)c->online_grace * 1000;
	o.max_per_ip =
		c->max_per_ip_set ? c->max_per_ip : COORD_DEFAULT_MAX_PER_IP;
	/* Block the signals before any thread starts; sigwait takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = coord_server_start(&o, &srv);
	if (ret) {
		fprintf(stderr, "icemesh-coord: cannot serve on %s: %s\n",
			addr_to_str(&o.listen, buf, sizeof(buf)),
			strerror(-ret));
		return 1;
	}
	addr_set_port(&o.listen, coord_server_port(srv));
	printf("icemesh-coord listening on %s://%s\n",
	       c->insecure ? "http" : "https",
	       addr_to_str(&o.listen, buf, sizeof(buf)));
	if (!c->insecure)
		printf("certificate pin %s\n", coord_server_pin(srv));
	fflush(stdout);
	log_info("coord", "serving on %s", buf);
	sigwait(&set, &sig);
	log_info("coord", "stopping (signal %d)", sig);
	coord_server_stop(srv);
	return 0;
}

int coord_cli_main(int argc, char **argv)
{
	struct cli c = { .state_dir = COORD_DEFAULT_STATE_DIR };
	const char *cmd;
	int ret;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	ret = parse_args(&c, argc - 1, argv + 1);
	if (ret) {
		fputs(usage_text, stderr);
		return ret;
	}
	if (c.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "icemesh-coord: libsodium failed to start\n");
		return 1;
	}
	if (strcmp(cmd, "init") == 0)
		return cmd_init(&c);
	if (strcmp(cmd, "authkey") == 0)
		return cmd_authkey(&c);
	if (strcmp(cmd, "nodes") == 0)
		return cmd_nodes(&c);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(&c);
	fprintf(stderr, "icemesh-coord: unknown command '%s'\n\n%s", cmd,
		usage_text);
	return 2;
}
