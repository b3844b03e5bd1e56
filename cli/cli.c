// SPDX-License-Identifier: MIT
/*
 * icemesh: the command line, one request to icemeshd, its answer printed.
 * Errors say what to do next, and each kind has its own exit code.
 */
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/render.h"
#include "common/clock.h"
#include "common/ctl.h"

#define DEFAULT_TIMEOUT_S 30.0
/* Extra wait beyond one ping's own timeout before calling icemeshd silent. */
#define PING_SLACK_MS 5000

enum opt_id {
	O_SOCKET,
	O_JSON,
	O_TIMEOUT,
	O_HELP,
	O_COORD,
	O_AUTH,
	O_AUTH_FILE,
	O_PIN,
	O_CA,
	O_HOSTNAME,
	O_COUNT,
	N_OPTS
};

#define CMD_ANY (-1)
#define CMD_HELP CTL_CMD_COUNT /* `icemesh help [COMMAND]` */

struct optspec {
	const char *lng;
	char shrt;
	bool arg;
	enum opt_id id;
	int cmd; /* CMD_ANY: a global option */
};

static const struct optspec specs[] = {
	{ "socket", 0, true, O_SOCKET, CMD_ANY },
	{ "json", 0, false, O_JSON, CMD_ANY },
	{ "timeout", 0, true, O_TIMEOUT, CMD_ANY },
	{ "help", 'h', false, O_HELP, CMD_ANY },
	{ "coordinator", 0, true, O_COORD, CTL_CMD_UP },
	{ "auth-key", 0, true, O_AUTH, CTL_CMD_UP },
	{ "auth-key-file", 0, true, O_AUTH_FILE, CTL_CMD_UP },
	{ "coordinator-pin", 0, true, O_PIN, CTL_CMD_UP },
	{ "ca-file", 0, true, O_CA, CTL_CMD_UP },
	{ "hostname", 0, true, O_HOSTNAME, CTL_CMD_UP },
	{ "count", 'c', true, O_COUNT, CTL_CMD_PING },
};

struct opts {
	const char *socket;
	bool json, help;
	double timeout_s;
	int cmd; /* CMD_ANY until the command word is seen */
	const char *pos[2];
	int n_pos;
	const char *val[N_OPTS];
};

static const char usage_main[] =
	"usage: icemesh [--socket PATH] [--json] [--timeout S] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  up        join the mesh: up --coordinator URL --auth-key KEY\n"
	"  down      leave the mesh (the node keeps its identity)\n"
	"  status    this node and its peers: paths, RTT, traffic, handshakes\n"
	"  ping      ping a peer through the mesh: ping PEER [-c N]\n"
	"  netcheck  NAT behaviour, reflexive addresses, STUN/TURN reachability\n"
	"  why       why the path to a peer is what it is: why PEER\n"
	"  help      help [COMMAND]\n"
	"\n"
	"options (before or after the command):\n"
	"  --socket PATH  control socket (default " CTL_DEFAULT_SOCKET ")\n"
	"  --json         print icemeshd's result as JSON\n"
	"  --timeout S    give up when icemeshd says nothing for S seconds (default 30)\n"
	"  -h, --help     this help; COMMAND --help for one command\n"
	"\n"
	"exit codes: 0 ok, 1 other failure, 2 usage, 3 icemeshd not running,\n"
	"  4 permission denied, 5 timeout, 6 coordinator unreachable, 7 bad auth key,\n"
	"  8 unknown peer, 9 node is down, 10 request refused, 11 bad reply,\n"
	"  12 ping got no reply\n";

static const char *const usage_cmd[CTL_CMD_COUNT] = {
	[CTL_CMD_UP] =
		"usage: icemesh up --coordinator URL (--auth-key KEY | --auth-key-file FILE)\n"
		"                  [--coordinator-pin sha256//BASE64 | --ca-file FILE]\n"
		"                  [--hostname NAME]\n"
		"\n"
		"Join the mesh through the coordinator at URL (https://...).\n"
		"  --auth-key KEY          an auth key made on the coordinator\n"
		"  --auth-key-file FILE    read the key from FILE ('-': standard input),\n"
		"                          so it does not show in the process list\n"
		"  --coordinator-pin PIN   trust the coordinator's public key with this\n"
		"                          SHA-256 pin instead of the system CAs\n"
		"  --ca-file FILE          trust the CAs in FILE instead of the system's\n"
		"  --hostname NAME         this node's name in the mesh (a-z, 0-9, -)\n",
	[CTL_CMD_DOWN] =
		"usage: icemesh down\n"
		"\n"
		"Leave the mesh: tunnels close, the node keeps its key and addresses.\n",
	[CTL_CMD_STATUS] =
		"usage: icemesh status\n"
		"\n"
		"This node, then one line per peer: name, overlay address, path (direct\n"
		"or relay, with the local and remote candidate types and addresses),\n"
		"round-trip time, bytes received and sent, and the last handshake.\n",
	[CTL_CMD_PING] =
		"usage: icemesh ping PEER [-c N]\n"
		"\n"
		"Ping PEER (a name, an overlay address or a public key) through the mesh\n"
		"and say for each reply which path it took and how long it took.\n"
		"  -c, --count N   send N pings (1..1000, default 4)\n",
	[CTL_CMD_NETCHECK] =
		"usage: icemesh netcheck\n"
		"\n"
		"This node's NAT behaviour (mapping, from two STUN servers), its\n"
		"server-reflexive addresses, and each STUN/TURN server's reachability\n"
		"and latency.\n",
	[CTL_CMD_WHY] =
		"usage: icemesh why PEER\n"
		"\n"
		"Why the path to PEER is what it is: the candidate pairs tried, which\n"
		"failed and how, and what would make the path direct.\n",
};

static const char *prog_cmd(const struct opts *o)
{
	return o->cmd >= 0 && o->cmd < CTL_CMD_COUNT ? ctl_cmd_name(o->cmd)
						     : NULL;
}

static int usage_error(const struct cli_io *io, const struct opts *o,
		       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(const struct cli_io *io, const struct opts *o,
		       const char *fmt, ...)
{
	const char *cmd = prog_cmd(o);
	va_list ap;

	fprintf(io->err, "icemesh%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(io->err, fmt, ap);
	va_end(ap);
	fprintf(io->err, "\nTry 'icemesh %s%s--help'.\n", cmd ? cmd : "",
		cmd ? " " : "");
	return CLI_EXIT_USAGE;
}

/* ------------------------------------------------------------ parsing */

static const struct optspec *find_opt(const char *lng, char shrt, int cmd)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		const struct optspec *s = &specs[i];

		if (s->cmd != CMD_ANY && s->cmd != cmd)
			continue;
		if (lng ? strcmp(s->lng, lng) == 0 : (shrt && s->shrt == shrt))
			return s;
	}
	return NULL;
}

static int set_opt(const struct cli_io *io, struct opts *o,
		   const struct optspec *s, const char *value)
{
	char *end;

	/* take_option hands a value to every option that takes one. */
	if (!value && s->id != O_JSON && s->id != O_HELP)
		return usage_error(io, o, "option --%s needs a value", s->lng);
	switch (s->id) {
	case O_SOCKET:
		o->socket = value;
		return 0;
	case O_JSON:
		o->json = true;
		return 0;
	case O_HELP:
		o->help = true;
		return 0;
	case O_TIMEOUT:
		errno = 0;
		o->timeout_s = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(o->timeout_s) ||
		    o->timeout_s <= 0 || o->timeout_s > 86400)
			return usage_error(
				io, o,
				"--timeout: '%s' is not a number of seconds in (0, 86400]",
				value);
		return 0;
	default:
		o->val[s->id] = value;
		return 0;
	}
}

static int take_option(const struct cli_io *io, struct opts *o, int argc,
		       char **argv, int *i)
{
	const char *arg = argv[*i], *value = NULL;
	const struct optspec *s;
	char name[32];

	if (arg[1] == '-') {
		const char *eq = strchr(arg + 2, '=');
		size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);

		if (n >= sizeof(name))
			return usage_error(io, o, "unknown option '%s'", arg);
		memcpy(name, arg + 2, n);
		name[n] = '\0';
		s = find_opt(name, 0, o->cmd);
		if (eq)
			value = eq + 1;
	} else {
		s = find_opt(NULL, arg[1], o->cmd);
		if (arg[2])
			value = arg + 2;
	}
	if (!s)
		return usage_error(io, o, "unknown option '%s'", arg);
	if (s->arg && !value) {
		if (*i + 1 >= argc)
			return usage_error(io, o, "option '%s' needs a value",
					   arg);
		value = argv[++*i];
	} else if (!s->arg && value) {
		return usage_error(io, o, "option '%s' takes no value", arg);
	}
	return set_opt(io, o, s, value);
}

static int take_word(const struct cli_io *io, struct opts *o, const char *arg)
{
	enum ctl_cmd c;

	if (o->cmd == CMD_ANY) {
		if (strcmp(arg, "help") == 0) {
			o->cmd = CMD_HELP;
			return 0;
		}
		if (ctl_cmd_from_name(arg, &c))
			return usage_error(io, o, "unknown command '%s'", arg);
		o->cmd = c;
		return 0;
	}
	if (o->n_pos >= (int)(sizeof(o->pos) / sizeof(o->pos[0])))
		return usage_error(io, o, "too many arguments ('%s')", arg);
	o->pos[o->n_pos++] = arg;
	return 0;
}

static int parse_args(const struct cli_io *io, struct opts *o, int argc,
		      char **argv)
{
	bool only_words = false;
	int r = 0;

	memset(o, 0, sizeof(*o));
	o->socket = CTL_DEFAULT_SOCKET;
	o->timeout_s = DEFAULT_TIMEOUT_S;
	o->cmd = CMD_ANY;
	for (int i = 1; i < argc && !r; i++) {
		const char *arg = argv[i];

		if (!only_words && strcmp(arg, "--") == 0)
			only_words = true;
		else if (!only_words && arg[0] == '-' && arg[1])
			r = take_option(io, o, argc, argv, &i);
		else
			r = take_word(io, o, arg);
	}
	return r;
}

static int want_words(const struct cli_io *io, const struct opts *o, int n)
{
	if (o->n_pos < n)
		return usage_error(io, o, "missing PEER");
	if (o->n_pos > n)
		return usage_error(io, o, "unexpected argument '%s'",
				   o->pos[n]);
	return 0;
}

/* ------------------------------------------------------------ requests */

/* Read an auth key from a file or standard input: the first line. */
static int read_key_file(const struct cli_io *io, const struct opts *o,
			 const char *path, char *key, size_t size)
{
	char buf[CTL_AUTH_KEY_MAX + 2];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	size_t n;
	int r = 0;

	if (!f)
		return usage_error(io, o, "--auth-key-file: cannot open %s: %s",
				   path, strerror(errno));
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	if (f != stdin)
		fclose(f);
	n = strcspn(buf, "\r\n");
	if (n == 0 || n >= size)
		r = usage_error(
			io, o,
			"--auth-key-file: %s holds no key of 1..%zu bytes on its first line",
			path, size - 1);
	else
		memcpy(key, buf, n);
	sodium_memzero(buf, sizeof(buf));
	return r;
}

static int copy_arg(const struct cli_io *io, const struct opts *o,
		    const char *what, const char *v, char *dst, size_t size)
{
	if (!v)
		return 0;
	if (strlen(v) >= size)
		return usage_error(io, o, "%s: longer than %zu bytes", what,
				   size - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int make_up(const struct cli_io *io, const struct opts *o,
		   struct ctl_up_args *a)
{
	const char *ca = o->val[O_CA];
	char abs[PATH_MAX];
	int r;

	if (!o->val[O_COORD])
		return usage_error(io, o, "--coordinator URL is required");
	if (!!o->val[O_AUTH] == !!o->val[O_AUTH_FILE])
		return usage_error(
			io, o,
			"give one of --auth-key KEY or --auth-key-file FILE");
	if (o->val[O_PIN] && ca)
		return usage_error(
			io, o,
			"--coordinator-pin and --ca-file exclude each other");
	if (ca && ca[0] != '/') {
		/* icemeshd runs elsewhere: hand it an absolute path. */
		if (!realpath(ca, abs))
			return usage_error(io, o, "--ca-file: %s: %s", ca,
					   strerror(errno));
		ca = abs;
	}
	r = copy_arg(io, o, "--coordinator", o->val[O_COORD], a->coordinator,
		     sizeof(a->coordinator));
	if (!r)
		r = copy_arg(io, o, "--auth-key", o->val[O_AUTH], a->auth_key,
			     sizeof(a->auth_key));
	if (!r && o->val[O_AUTH_FILE])
		r = read_key_file(io, o, o->val[O_AUTH_FILE], a->auth_key,
				  sizeof(a->auth_key));
	if (!r)
		r = copy_arg(io, o, "--coordinator-pin", o->val[O_PIN],
			     a->coordinator_pin, sizeof(a->coordinator_pin));
	if (!r)
		r = copy_arg(io, o, "--ca-file", ca, a->ca_file,
			     sizeof(a->ca_file));
	if (!r)
		r = copy_arg(io, o, "--hostname", o->val[O_HOSTNAME],
			     a->hostname, sizeof(a->hostname));
	return r;
}

static int make_request(const struct cli_io *io, const struct opts *o,
			struct ctl_request *req)
{
	unsigned long n;
	char *end;
	int r;

	/* One request per connection: the id only has to be unique there. */
	ctl_request_init(req, (enum ctl_cmd)o->cmd, 1);
	r = want_words(io, o, o->cmd == CTL_CMD_PING || o->cmd == CTL_CMD_WHY);
	if (r)
		return r;
	switch (o->cmd) {
	case CTL_CMD_UP:
		return make_up(io, o, &req->args.up);
	case CTL_CMD_PING:
		if (o->val[O_COUNT]) {
			errno = 0;
			n = strtoul(o->val[O_COUNT], &end, 10);
			if (errno || end == o->val[O_COUNT] || *end ||
			    o->val[O_COUNT][0] == '-' || n < 1 ||
			    n > CTL_PING_COUNT_MAX)
				return usage_error(
					io, o,
					"-c: '%s' is not a count in 1..%d",
					o->val[O_COUNT], CTL_PING_COUNT_MAX);
			req->args.ping.count = (uint32_t)n;
		}
		return copy_arg(io, o, "PEER", o->pos[0], req->args.ping.peer,
				sizeof(req->args.ping.peer));
	case CTL_CMD_WHY:
		return copy_arg(io, o, "PEER", o->pos[0], req->args.why.peer,
				sizeof(req->args.why.peer));
	default:
		return 0;
	}
}

/* "args.coordinator_pin: ..." -> "--coordinator-pin: ..." */
static int build_error(const struct cli_io *io, const struct opts *o,
		       const struct ctl_error *err)
{
	const char *m = err->message, *colon = strchr(m, ':');
	char opt[40];
	size_t n;

	if (strncmp(m, "args.", 5) != 0 || !colon || colon - m - 5 >= 30)
		return usage_error(io, o, "%s", m);
	n = (size_t)(colon - m - 5);
	if (n == 4 && strncmp(m + 5, "peer", 4) == 0) {
		snprintf(opt, sizeof(opt), "PEER");
	} else {
		snprintf(opt, sizeof(opt), "--%.*s", (int)n, m + 5);
		for (char *p = opt; *p; p++)
			if (*p == '_')
				*p = '-';
	}
	return usage_error(io, o, "%s%s", opt, colon);
}

/* ------------------------------------------------------------ answers */

static int connect_error(const struct cli_io *io, const char *path, int e)
{
	switch (-e) {
	case ENOENT:
	case ENOTDIR:
		fprintf(io->err,
			"icemesh: icemeshd is not running (no control socket at %s).\n"
			"Start it with: systemctl start icemeshd\n"
			"(or point --socket at the socket it was started with)\n",
			path);
		return CLI_EXIT_NO_DAEMON;
	case ECONNREFUSED:
		fprintf(io->err,
			"icemesh: icemeshd is not running (%s exists, but nothing listens on it).\n"
			"Start it with: systemctl start icemeshd\n",
			path);
		return CLI_EXIT_NO_DAEMON;
	case EACCES:
		fprintf(io->err,
			"icemesh: permission denied on %s.\n"
			"Run as root, or join the icemesh group: sudo usermod -aG icemesh $USER\n"
			"(then log out and in again).\n",
			path);
		return CLI_EXIT_PERMISSION;
	case ENAMETOOLONG:
		fprintf(io->err,
			"icemesh: --socket: '%s' is not a usable socket path (empty, or over 107 bytes)\n",
			path);
		return CLI_EXIT_USAGE;
	default:
		fprintf(io->err, "icemesh: cannot connect to %s: %s\n", path,
			strerror(-e));
		return CLI_EXIT_FAILURE;
	}
}

static int daemon_error(const struct cli_io *io, const struct opts *o,
			const struct ctl_error *e)
{
	const char *peer = o->n_pos ? o->pos[0] : "";

	switch (e->code) {
	case CTL_E_COORDINATOR_UNREACHABLE:
		fprintf(io->err,
			"icemesh: cannot reach the coordinator: %s\n"
			"Check the URL, the pin or CA file, and the network; icemeshd keeps trying.\n",
			e->message);
		return CLI_EXIT_COORDINATOR;
	case CTL_E_BAD_AUTH_KEY:
		fprintf(io->err,
			"icemesh: the coordinator refused the auth key: %s\n"
			"Make a new key on the coordinator and run icemesh up again.\n",
			e->message);
		return CLI_EXIT_AUTH;
	case CTL_E_UNKNOWN_PEER:
		fprintf(io->err,
			"icemesh: no peer '%s' in this mesh: %s\n"
			"List the peers with: icemesh status\n",
			peer, e->message);
		return CLI_EXIT_UNKNOWN_PEER;
	case CTL_E_NOT_UP:
		fprintf(io->err,
			"icemesh: this node is down: %s\n"
			"Bring it up with: icemesh up --coordinator URL --auth-key KEY\n",
			e->message);
		return CLI_EXIT_NOT_UP;
	case CTL_E_TIMEOUT:
		fprintf(io->err, "icemesh: icemeshd timed out: %s\n",
			e->message);
		return CLI_EXIT_TIMEOUT;
	case CTL_E_BAD_REQUEST:
	case CTL_E_UNKNOWN_COMMAND:
	case CTL_E_BAD_ARGUMENT:
	case CTL_E_LINE_TOO_LONG:
		fprintf(io->err,
			"icemesh: icemeshd refused the request (%s): %s\n"
			"Are icemesh and icemeshd the same version?\n",
			e->code_str, e->message);
		return CLI_EXIT_REJECTED;
	case CTL_E_BUSY:
		fprintf(io->err,
			"icemesh: icemeshd is busy: %s\nTry again in a moment.\n",
			e->message);
		return CLI_EXIT_FAILURE;
	default:
		fprintf(io->err, "icemesh: icemeshd failed (%s): %s\n",
			e->code_str, e->message);
		return CLI_EXIT_FAILURE;
	}
}

static int print_result(const struct cli_io *io, const struct opts *o,
			const struct ctl_response *resp, json_t *raw)
{
	uint64_t now = io->now ? io->now : clock_wall_s();

	if (o->json) {
		json_dumpf(raw, io->out,
			   JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		fputc('\n', io->out);
	} else {
		switch (resp->cmd) {
		case CTL_CMD_UP:
		case CTL_CMD_DOWN:
			render_self(io->out, &resp->u.self);
			break;
		case CTL_CMD_STATUS:
			render_status(io->out, &resp->u.status, now);
			break;
		case CTL_CMD_PING:
			render_ping_result(io->out, &resp->u.ping);
			break;
		case CTL_CMD_NETCHECK:
			render_netcheck(io->out, &resp->u.netcheck);
			break;
		case CTL_CMD_WHY:
			render_why(io->out, &resp->u.why);
			break;
		default:
			break;
		}
	}
	if (resp->cmd == CTL_CMD_PING && resp->u.ping.received == 0)
		return CLI_EXIT_NO_REPLY;
	return CLI_EXIT_OK;
}

static int read_error(const struct cli_io *io, const struct opts *o, int r)
{
	switch (-r) {
	case ETIMEDOUT:
		fprintf(io->err,
			"icemesh: icemeshd did not answer within %g s (see --timeout)\n",
			o->timeout_s);
		return CLI_EXIT_TIMEOUT;
	case 0:
	case EPROTO:
	case ECONNRESET:
		fprintf(io->err,
			"icemesh: icemeshd closed the connection before answering\n");
		return CLI_EXIT_PROTOCOL;
	case EMSGSIZE:
		fprintf(io->err,
			"icemesh: a reply from icemeshd is longer than %d bytes\n",
			CTL_LINE_MAX);
		return CLI_EXIT_PROTOCOL;
	default:
		fprintf(io->err, "icemesh: reading from icemeshd: %s\n",
			strerror(-r));
		return CLI_EXIT_FAILURE;
	}
}

/* With --json, scripts get the daemon's error as JSON on stdout too. */
static void print_json_error(const struct cli_io *io, const struct ctl_error *e)
{
	json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", e->code_str,
			      "message", e->message);

	if (j) {
		json_dumpf(j, io->out, JSON_INDENT(2));
		fputc('\n', io->out);
		json_decref(j);
	}
}

/* One answer line: returns -1 to go on reading, or the exit code. */
static int take_line(const struct cli_io *io, const struct opts *o, uint64_t id,
		     const char *line, size_t len)
{
	struct ctl_response resp;
	struct ctl_error err;
	json_t *raw = NULL;
	int rc;

	if (ctl_response_parse(line, len, (enum ctl_cmd)o->cmd, &resp, &raw,
			       &err)) {
		fprintf(io->err,
			"icemesh: unexpected reply from icemeshd: %s\n"
			"Are icemesh and icemeshd the same version?\n",
			err.message);
		return CLI_EXIT_PROTOCOL;
	}
	if (resp.id != id &&
	    !(resp.kind == CTL_RESP_ERROR && !resp.error.has_id)) {
		fprintf(io->err,
			"icemesh: icemeshd answered request %llu, not %llu\n",
			(unsigned long long)resp.id, (unsigned long long)id);
		rc = CLI_EXIT_PROTOCOL;
	} else if (resp.kind == CTL_RESP_EVENT) {
		if (o->json) {
			json_dumpf(raw, io->out,
				   JSON_COMPACT | JSON_REAL_PRECISION(15));
			fputc('\n', io->out);
		} else {
			render_ping_event(io->out, o->pos[0],
					  &resp.u.ping_event);
		}
		fflush(io->out);
		rc = -1;
	} else if (resp.kind == CTL_RESP_ERROR) {
		if (o->json)
			print_json_error(io, &resp.error);
		rc = daemon_error(io, o, &resp.error);
	} else {
		rc = print_result(io, o, &resp, raw);
	}
	json_decref(raw);
	ctl_response_free(&resp);
	return rc;
}

/* Round milliseconds up, so that a tiny --timeout still waits a little. */
static int to_ms(double ms)
{
	int r = (int)ms;

	if (r < ms)
		r++;
	return r < 1 ? 1 : r;
}

static int converse(const struct cli_io *io, const struct opts *o, int fd,
		    const struct ctl_request *req)
{
	struct ctl_reader rd;
	double idle = o->timeout_s * 1000.0;
	int rc = -1;

	if (req->cmd == CTL_CMD_PING &&
	    idle < req->args.ping.timeout_ms + PING_SLACK_MS)
		idle = req->args.ping.timeout_ms + PING_SLACK_MS;
	ctl_reader_init(&rd, CTL_LINE_MAX);
	while (rc < 0) {
		char *line;
		size_t len;
		int r = ctl_reader_getline(&rd, fd, to_ms(idle), &line, &len);

		if (r <= 0)
			rc = read_error(io, o, r);
		else
			rc = take_line(io, o, req->id, line, len);
	}
	ctl_reader_destroy(&rd);
	return rc;
}

static int run(const struct cli_io *io, const struct opts *o)
{
	char line[CTL_REQUEST_MAX];
	struct ctl_request req;
	struct ctl_error err;
	size_t len;
	int rc, fd, r;

	rc = make_request(io, o, &req);
	if (rc)
		goto out;
	if (ctl_request_build(&req, line, sizeof(line), &len, &err)) {
		rc = build_error(io, o, &err);
		goto out;
	}
	fd = cli_connect(o->socket);
	if (fd < 0) {
		rc = connect_error(io, o->socket, fd);
		goto out;
	}
	r = cli_send(fd, line, len, to_ms(o->timeout_s * 1000.0));
	if (r == -ETIMEDOUT || r == -EPIPE || r == -ECONNRESET)
		rc = read_error(io, o, r == -ETIMEDOUT ? r : 0);
	else if (r)
		rc = read_error(io, o, r);
	else
		rc = converse(io, o, fd, &req);
	close(fd);
out:
	sodium_memzero(line, sizeof(line));
	ctl_request_wipe(&req);
	return rc;
}

int cli_main(const struct cli_io *io, int argc, char **argv)
{
	struct opts o;
	int rc = parse_args(io, &o, argc, argv);

	if (rc)
		return rc;
	if (o.cmd == CMD_HELP) {
		enum ctl_cmd c;

		if (o.n_pos == 0) {
			fputs(usage_main, io->out);
			return CLI_EXIT_OK;
		}
		if (o.n_pos > 1 || ctl_cmd_from_name(o.pos[0], &c))
			return usage_error(io, &o, "help: no command '%s'",
					   o.pos[0]);
		fputs(usage_cmd[c], io->out);
		return CLI_EXIT_OK;
	}
	if (o.help) {
		fputs(o.cmd == CMD_ANY ? usage_main : usage_cmd[o.cmd],
		      io->out);
		return CLI_EXIT_OK;
	}
	if (o.cmd == CMD_ANY) {
		fputs(usage_main, io->err);
		return CLI_EXIT_USAGE;
	}
	return run(io, &o);
}

int cli_run(int argc, char **argv, FILE *out, FILE *err)
{
	struct cli_io io = { .out = out, .err = err };

	return cli_main(&io, argc, argv);
}
