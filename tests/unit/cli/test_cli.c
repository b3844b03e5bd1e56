// SPDX-License-Identifier: MIT
/*
 * The icemesh CLI against a fake icemeshd on a unix socket in a temp dir:
 * every command in human and --json form, and every error a person can
 * hit, with stdout, stderr and the exit code checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "fake_daemon.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct run {
	int rc;
	char *out, *err;
};

static struct fake_daemon *fake; /* the one of the running test */

static struct run run_argv(int argc, char **argv)
{
	struct run r = { 0 };
	size_t no, ne;
	struct cli_io io = { .now = FAKE_NOW };

	io.out = open_memstream(&r.out, &no);
	io.err = open_memstream(&r.err, &ne);
	assert_non_null(io.out);
	assert_non_null(io.err);
	r.rc = cli_main(&io, argc, argv);
	fclose(io.out);
	fclose(io.err);
	return r;
}

/* icemesh --socket <fake's socket> args... */
static struct run run_cli(const char *sock, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"icemesh";
	if (sock) {
		argv[argc++] = (char *)"--socket";
		argv[argc++] = (char *)sock;
	}
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return run_argv(argc, argv);
}

#define RUN(...) run_cli(fake->sock, (const char *const[]){ __VA_ARGS__, NULL })

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void expect(struct run *r, int rc, const char *out, const char *err)
{
	if (r->rc != rc || (out && strcmp(r->out, out)) ||
	    (err && !strstr(r->err, err)))
		fail_msg(
			"rc %d (want %d)\n--- out:\n%s--- want:\n%s--- err:\n%s--- want part:\n%s",
			r->rc, rc, r->out, out ? out : "(any)", r->err,
			err ? err : "(any)");
}

static int setup_ok(void **state)
{
	static struct fake_daemon d;

	fake = &d;
	return fake_daemon_start(fake, FAKE_OK);
}

static int teardown(void **state)
{
	fake_daemon_stop(fake);
	return 0;
}

/* ------------------------------------------------------------ commands */

static const char status_out[] =
	"laptop is up: 100.64.0.1, fd7a:115c:a1e0::1\n"
	"coordinator https://coord.example:8443 (connected)\n"
	"\n"
	"PEER  ADDRESS     PATH                                                        RTT       RX       TX  HANDSHAKE\n"
	"db1   100.64.0.2  direct srflx 198.51.100.4:41641 -> host 10.0.0.2:41641    <1 ms  1.2 MiB    512 B  12s ago\n"
	"web   100.64.0.3  relay relay 203.0.113.2:50000 -> srflx 198.51.100.9:1024  31 ms  2.0 KiB  3.0 GiB  2m ago\n"
	"old   100.64.0.4  offline                                                       -      0 B      0 B  never\n";

static void test_status(void **state)
{
	struct run r = RUN("status");

	expect(&r, 0, status_out, NULL);
	assert_string_equal(r.err, "");
	assert_int_equal(fake->last.cmd, CTL_CMD_STATUS);
	run_free(&r);
}

static void check_status_json(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr), *peers;

	if (!j)
		fail_msg("not JSON: %s\n%s", jerr.text, text);
	peers = json_object_get(j, "peers");
	assert_int_equal(json_array_size(peers), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(j, "self"), "name")),
			    "laptop");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(peers, 0), "path"),
			"kind")),
		"direct");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(peers, 1), "tx_bytes")),
			 3LL << 30);
	json_decref(j);
}

static void test_status_json(void **state)
{
	struct run r = RUN("status", "--json");

	expect(&r, 0, NULL, NULL);
	check_status_json(r.out);
	run_free(&r);
	/* The option also goes before the command. */
	r = RUN("--json", "status");
	expect(&r, 0, NULL, NULL);
	check_status_json(r.out);
	assert_string_equal(r.err, "");
	run_free(&r);
}

static void test_up(void **state)
{
	static const char pin[] =
		"sha256//cGVlci1ub2RlLWtleS0zMi1ieXRlcy1leGFjdGx5ISE=";
	struct run r = RUN("up", "--coordinator", "https://coord.example:8443",
			   "--auth-key", "ik-secret-1", "--coordinator-pin",
			   pin, "--hostname=laptop");

	expect(&r, 0,
	       "laptop is up: 100.64.0.1, fd7a:115c:a1e0::1\n"
	       "coordinator https://coord.example:8443 (connected)\n",
	       NULL);
	assert_int_equal(fake->last.cmd, CTL_CMD_UP);
	assert_string_equal(fake->last.args.up.coordinator,
			    "https://coord.example:8443");
	assert_string_equal(fake->last.args.up.auth_key, "ik-secret-1");
	assert_string_equal(fake->last.args.up.coordinator_pin, pin);
	assert_string_equal(fake->last.args.up.hostname, "laptop");
	assert_string_equal(fake->last.args.up.ca_file, "");
	run_free(&r);
}

static void test_up_key_file_and_ca(void **state)
{
	char keyfile[] = "/tmp/icemesh-key-XXXXXX", cwd[4096];
	int fd = mkstemp(keyfile);
	json_t *j;
	struct run r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ik-from-file\nsecond line\n", 25), 25);
	close(fd);
	/* A relative --ca-file is handed over as an absolute path. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/tmp"), 0);
	r = RUN("up", "--json", "--coordinator", "https://c.example",
		"--auth-key-file", keyfile, "--ca-file", keyfile + 5);
	assert_int_equal(chdir(cwd), 0);
	expect(&r, 0, NULL, NULL);
	assert_string_equal(fake->last.args.up.auth_key, "ik-from-file");
	assert_string_equal(fake->last.args.up.ca_file, keyfile);
	j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
			    "running");
	json_decref(j);
	run_free(&r);
	unlink(keyfile);
}

static void test_up_usage(void **state)
{
	static const struct {
		const char *args[10];
		const char *err;
	} bad[] = {
		{ { "up", "--auth-key", "k" },
		  "icemesh up: --coordinator URL is required" },
		{ { "up", "--coordinator", "https://c" },
		  "give one of --auth-key" },
		{ { "up", "--coordinator", "https://c", "--auth-key", "k",
		    "--auth-key-file", "/nonexistent" },
		  "give one of --auth-key" },
		{ { "up", "--coordinator", "http://c", "--auth-key", "k" },
		  "icemesh up: --coordinator: must be an https:// URL" },
		{ { "up", "--coordinator", "https://c", "--auth-key", "k",
		    "--hostname", "My_Laptop" },
		  "--hostname: must be 1-63 of a-z" },
		{ { "up", "--coordinator", "https://c", "--auth-key", "k",
		    "--coordinator-pin", "sha256//short" },
		  "--coordinator-pin: must be sha256//" },
		{ { "up", "--coordinator", "https://c", "--auth-key", "k",
		    "--coordinator-pin", "x", "--ca-file", "/etc/ca" },
		  "--coordinator-pin and --ca-file exclude each other" },
		{ { "up", "--coordinator", "https://c", "--auth-key", "k",
		    "--ca-file", "no/such/file.pem" },
		  "--ca-file: no/such/file.pem: No such file" },
		{ { "up", "--coordinator", "https://c", "--auth-key-file",
		    "/nonexistent/key" },
		  "--auth-key-file: cannot open /nonexistent/key" },
		{ { "up", "--coordinator" },
		  "option '--coordinator' needs a value" },
		{ { "up", "extra", "--coordinator", "https://c", "--auth-key",
		    "k" },
		  "unexpected argument 'extra'" },
	};
	int before = atomic_load(&fake->connections);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct run r = run_cli(fake->sock, bad[i].args);

		expect(&r, CLI_EXIT_USAGE, "", bad[i].err);
		assert_non_null(strstr(r.err, "Try 'icemesh up --help'."));
		run_free(&r);
	}
	/* Nothing reached the daemon. */
	assert_int_equal(atomic_load(&fake->connections), before);
}

static void test_down(void **state)
{
	struct run r = RUN("down");

	expect(&r, 0,
	       "laptop is down\n"
	       "coordinator https://coord.example:8443 (not connected: not logged in)\n",
	       NULL);
	assert_int_equal(fake->last.cmd, CTL_CMD_DOWN);
	run_free(&r);
	r = RUN("down", "--json");
	expect(&r, 0, NULL, NULL);
	assert_non_null(strstr(r.out, "\"state\": \"stopped\""));
	run_free(&r);
}

static void test_ping(void **state)
{
	struct run r = RUN("ping", "db1", "-c", "3");

	expect(&r, 0,
	       "1: reply from db1 via direct 198.51.100.9:41641 in 0.84 ms\n"
	       "2: no reply from db1\n"
	       "3: reply from db1 via relay 203.0.113.2:50000 in 31.5 ms\n"
	       "--- db1 (100.64.0.2): 3 sent, 2 received, 33% lost\n",
	       NULL);
	assert_int_equal(fake->last.cmd, CTL_CMD_PING);
	assert_string_equal(fake->last.args.ping.peer, "db1");
	assert_int_equal(fake->last.args.ping.count, 3);
	assert_int_equal(fake->last.args.ping.timeout_ms,
			 CTL_PING_TIMEOUT_DEFAULT_MS);
	run_free(&r);

	r = RUN("ping", "-c1", "100.64.0.2");
	expect(&r, 0, NULL, NULL);
	assert_string_equal(fake->last.args.ping.peer, "100.64.0.2");
	assert_int_equal(fake->last.args.ping.count, 1);
	run_free(&r);

	r = RUN("ping", "db1");
	expect(&r, 0, NULL, NULL);
	assert_int_equal(fake->last.args.ping.count, CTL_PING_COUNT_DEFAULT);
	run_free(&r);
}

static void test_ping_json(void **state)
{
	struct run r = RUN("--json", "ping", "--count=2", "db1");
	char *nl;
	json_t *j;

	expect(&r, 0, NULL, NULL);
	/* One compact event per line, then the result. */
	if (strncmp(r.out,
		    "{\"seq\":1,\"path\":\"direct\",\"via\":"
		    "\"198.51.100.9:41641\",\"rtt_ms\":0.84}\n",
		    65) != 0)
		fail_msg("%s", r.out);
	nl = strchr(r.out, '\n');
	assert_non_null(nl);
	assert_non_null(strstr(nl + 1, "\"timeout\":true"));
	nl = strchr(nl + 1, '\n');
	assert_non_null(nl);
	j = json_loads(nl + 1, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "sent")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "received")), 1);
	json_decref(j);
	run_free(&r);
}

static void test_ping_usage(void **state)
{
	static const struct {
		const char *args[5];
		const char *err;
	} bad[] = {
		{ { "ping" }, "icemesh ping: missing PEER" },
		{ { "ping", "a", "b" }, "unexpected argument 'b'" },
		{ { "ping", "db1", "-c", "0" },
		  "-c: '0' is not a count in 1..1000" },
		{ { "ping", "db1", "-c", "1001" },
		  "-c: '1001' is not a count" },
		{ { "ping", "db1", "-c", "x" }, "-c: 'x' is not a count" },
		{ { "ping", "db1", "-c", "-3" }, "-c: '-3' is not a count" },
		{ { "ping", "db1", "-c" }, "option '-c' needs a value" },
		{ { "ping", "db 1" }, "PEER: must not hold spaces" },
		{ { "ping", "db1", "--coordinator", "x" },
		  "unknown option '--coordinator'" },
		{ { "status", "-c", "3" }, "unknown option '-c'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct run r = run_cli(fake->sock, bad[i].args);

		expect(&r, CLI_EXIT_USAGE, "", bad[i].err);
		run_free(&r);
	}
}

static void test_netcheck(void **state)
{
	struct run r = RUN("netcheck");

	expect(&r, 0,
	       "mapping: endpoint-dependent (symmetric NAT: direct only to peers that can reach us)\n"
	       "server-reflexive addresses:\n"
	       "  198.51.100.4:41641\n"
	       "  198.51.100.4:52000\n"
	       "servers:\n"
	       "  stun 203.0.113.1:3478: reachable in 12.5 ms\n"
	       "  turn 203.0.113.2:3478: UNREACHABLE (401 Unauthorized)\n",
	       NULL);
	run_free(&r);
	r = RUN("netcheck", "--json");
	expect(&r, 0, NULL, NULL);
	assert_non_null(strstr(r.out, "\"mapping\": \"endpoint-dependent\""));
	assert_non_null(strstr(r.out, "\"error\": \"401 Unauthorized\""));
	run_free(&r);
}

static void test_why(void **state)
{
	struct run r = RUN("why", "web");

	expect(&r, 0,
	       "web: relay relay 203.0.113.2:50000 -> srflx 198.51.100.9:1024\n"
	       "candidate pairs:\n"
	       "  host 192.168.1.5:41641 -> host 10.0.0.2:41641: failed (no answer to 7 checks)\n"
	       "  relay 203.0.113.2:50000 -> srflx 198.51.100.9:1024: succeeded in 31 ms\n"
	       "why:\n"
	       "  - the peer's NAT maps each destination to a new port (symmetric)\n"
	       "what would help:\n"
	       "  - forward UDP port 41641 to the peer, or give it a public IPv6 address\n",
	       NULL);
	assert_string_equal(fake->last.args.why.peer, "web");
	run_free(&r);
	r = RUN("--json", "why", "web");
	expect(&r, 0, NULL, NULL);
	assert_non_null(
		strstr(r.out, "\"failure\": \"no answer to 7 checks\""));
	assert_non_null(strstr(r.out, "\"state\": \"succeeded\""));
	run_free(&r);
}

/* ------------------------------------------------------------ help */

static void test_help_and_usage(void **state)
{
	static const char *const cmds[] = { "up",   "down",	"status",
					    "ping", "netcheck", "why" };
	struct run r = run_cli(NULL, (const char *const[]){ "--help", NULL });
	char want[64];

	expect(&r, 0, NULL, NULL);
	assert_non_null(strstr(r.out, "usage: icemesh [--socket PATH]"));
	assert_non_null(strstr(r.out, "3 icemeshd not running"));
	run_free(&r);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		snprintf(want, sizeof(want), "usage: icemesh %s", cmds[i]);
		r = run_cli(NULL,
			    (const char *const[]){ cmds[i], "--help", NULL });
		expect(&r, 0, NULL, NULL);
		assert_non_null(strstr(r.out, want));
		run_free(&r);
		r = run_cli(NULL,
			    (const char *const[]){ "help", cmds[i], NULL });
		expect(&r, 0, NULL, NULL);
		assert_non_null(strstr(r.out, want));
		run_free(&r);
	}
	r = run_cli(NULL, (const char *const[]){ NULL });
	expect(&r, CLI_EXIT_USAGE, "", "usage: icemesh");
	run_free(&r);
	r = run_cli(NULL, (const char *const[]){ "reboot", NULL });
	expect(&r, CLI_EXIT_USAGE, "", "icemesh: unknown command 'reboot'");
	run_free(&r);
	r = run_cli(NULL, (const char *const[]){ "help", "reboot", NULL });
	expect(&r, CLI_EXIT_USAGE, "", "no command 'reboot'");
	run_free(&r);
	r = run_cli(NULL,
		    (const char *const[]){ "--timeout", "0", "status", NULL });
	expect(&r, CLI_EXIT_USAGE, "",
	       "--timeout: '0' is not a number of seconds");
	run_free(&r);
	r = run_cli(NULL,
		    (const char *const[]){ "--json=yes", "status", NULL });
	expect(&r, CLI_EXIT_USAGE, "", "option '--json=yes' takes no value");
	run_free(&r);
	r = run_cli(NULL, (const char *const[]){ "status", "now", NULL });
	expect(&r, CLI_EXIT_USAGE, "",
	       "icemesh status: unexpected argument 'now'");
	run_free(&r);
	r = run_cli(
		NULL,
		(const char *const[]){
			"--socket",
			"/tmp/a/very/long/path/that/does/not/fit/into/the/sun_path/of/a/unix/socket/address/because/it/has/more/than/108/bytes.sock",
			"status", NULL });
	expect(&r, CLI_EXIT_USAGE, "", "not a usable socket path");
	run_free(&r);
}

/* ------------------------------------------------------------ errors */

static void test_daemon_errors(void **state)
{
	static const struct {
		enum ctl_errcode code;
		const char *code_str;
		int rc;
		const char *err;
	} cases[] = {
		{ CTL_E_COORDINATOR_UNREACHABLE, NULL, CLI_EXIT_COORDINATOR,
		  "icemesh: cannot reach the coordinator: MSG\nCheck the URL" },
		{ CTL_E_BAD_AUTH_KEY, NULL, CLI_EXIT_AUTH,
		  "icemesh: the coordinator refused the auth key: MSG\nMake a new key" },
		{ CTL_E_UNKNOWN_PEER, NULL, CLI_EXIT_UNKNOWN_PEER,
		  "icemesh: no peer 'db9' in this mesh: MSG\nList the peers with: icemesh status" },
		{ CTL_E_NOT_UP, NULL, CLI_EXIT_NOT_UP,
		  "icemesh: this node is down: MSG\nBring it up with: icemesh up" },
		{ CTL_E_TIMEOUT, NULL, CLI_EXIT_TIMEOUT,
		  "icemeshd timed out: MSG" },
		{ CTL_E_BAD_ARGUMENT, NULL, CLI_EXIT_REJECTED,
		  "refused the request (bad-argument): MSG\nAre icemesh and icemeshd the same version?" },
		{ CTL_E_UNKNOWN_COMMAND, NULL, CLI_EXIT_REJECTED,
		  "(unknown-command): MSG" },
		{ CTL_E_BUSY, NULL, CLI_EXIT_FAILURE, "icemeshd is busy: MSG" },
		{ CTL_E_INTERNAL, NULL, CLI_EXIT_FAILURE,
		  "icemeshd failed (internal): MSG" },
		{ CTL_E_OTHER, "quota-exceeded", CLI_EXIT_FAILURE,
		  "icemeshd failed (quota-exceeded): MSG" },
	};
	struct fake_daemon d;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run r;

		assert_int_equal(fake_daemon_start(&d, FAKE_ERROR), 0);
		ctl_error_set(&d.error, cases[i].code, "MSG");
		if (cases[i].code_str)
			strcpy(d.error.code_str, cases[i].code_str);
		r = run_cli(d.sock,
			    (const char *const[]){ "ping", "db9", NULL });
		fake_daemon_stop(&d);
		expect(&r, cases[i].rc, "", cases[i].err);
		run_free(&r);
	}
}

static void test_no_daemon(void **state)
{
	char dir[] = "/tmp/icemesh-cli-XXXXXX", sock[100];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct run r;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/icemeshd.sock", dir);
	r = run_cli(sock, (const char *const[]){ "status", NULL });
	expect(&r, CLI_EXIT_NO_DAEMON, "",
	       "icemesh: icemeshd is not running (no control socket at /tmp/icemesh-cli-");
	assert_non_null(
		strstr(r.err, "Start it with: systemctl start icemeshd"));
	run_free(&r);

	/* A socket file that nobody listens on (the daemon died). */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	r = run_cli(sock, (const char *const[]){ "status", "--json", NULL });
	expect(&r, CLI_EXIT_NO_DAEMON, "", "but nothing listens on it");
	assert_non_null(strstr(r.err, "systemctl start icemeshd"));
	run_free(&r);
	unlink(sock);
	rmdir(dir);
}

/* Run the CLI in a child as another user; its stderr comes back in *err. */
static int run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
		  const char *sock, char *err, size_t errlen)
{
	int p[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct run r;

		close(p[0]);
		if (setgroups(ngroups, groups) || setgid(gid) || setuid(uid))
			_exit(99);
		r = run_cli(sock, (const char *const[]){ "status", NULL });
		if (write(p[1], r.err, strlen(r.err)) < 0)
			_exit(98);
		_exit(r.rc);
	}
	close(p[1]);
	n = read(p[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_permission_denied(void **state)
{
	char err[1024];
	struct run r;

	if (geteuid() == 0) {
		static const gid_t member[] = { 4242 };

		/* As icemeshd will: root:icemesh 0660 in a searchable dir. */
		assert_int_equal(chmod(fake->dir, 0755), 0);
		assert_int_equal(chown(fake->sock, 0, 4242), 0);
		assert_int_equal(chmod(fake->sock, 0660), 0);
		/* A member of the group gets in... */
		assert_int_equal(run_as(65534, 65534, member, 1, fake->sock,
					err, sizeof(err)),
				 0);
		/* ...anyone else does not. */
		assert_int_equal(chmod(fake->sock, 0600), 0);
		assert_int_equal(run_as(65534, 65534, NULL, 0, fake->sock, err,
					sizeof(err)),
				 CLI_EXIT_PERMISSION);
	} else {
		/* Not root: no other uid to become; deny through the directory. */
		assert_int_equal(chmod(fake->dir, 0), 0);
		r = RUN("status");
		assert_int_equal(chmod(fake->dir, 0700), 0);
		snprintf(err, sizeof(err), "%s", r.err);
		assert_int_equal(r.rc, CLI_EXIT_PERMISSION);
		run_free(&r);
	}
	if (!strstr(err, "icemesh: permission denied on /tmp/icemesh-cli-") ||
	    !strstr(err, "Run as root, or join the icemesh group"))
		fail_msg("stderr: %s", err);
}

static void test_timeout(void **state)
{
	struct fake_daemon d;
	struct run r;

	assert_int_equal(fake_daemon_start(&d, FAKE_SILENT), 0);
	r = run_cli(d.sock, (const char *const[]){ "--timeout", "0.2",
						   "netcheck", NULL });
	expect(&r, CLI_EXIT_TIMEOUT, "",
	       "icemesh: icemeshd did not answer within 0.2 s (see --timeout)");
	run_free(&r);
	fake_daemon_stop(&d);
}

static void test_bad_replies(void **state)
{
	static const struct {
		enum fake_mode mode;
		const char *err;
	} cases[] = {
		{ FAKE_GARBAGE,
		  "unexpected reply from icemeshd: not valid JSON" },
		{ FAKE_HANGUP,
		  "icemeshd closed the connection before answering" },
		{ FAKE_WRONG_ID, "icemeshd answered request 8, not 1" },
	};
	struct fake_daemon d;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run r;

		assert_int_equal(fake_daemon_start(&d, cases[i].mode), 0);
		r = run_cli(d.sock, (const char *const[]){ "status", NULL });
		fake_daemon_stop(&d);
		expect(&r, CLI_EXIT_PROTOCOL, "", cases[i].err);
		run_free(&r);
	}
}

static void test_largest_status(void **state)
{
	struct fake_daemon d;
	size_t lines = 0;
	struct run r;
	json_t *j;

	assert_int_equal(fake_daemon_start(&d, FAKE_MANY), 0);
	r = run_cli(d.sock, (const char *const[]){ "status", NULL });
	expect(&r, 0, NULL, NULL);
	for (const char *p = r.out; *p; p++)
		lines += *p == '\n';
	/* self, coordinator, blank, header, one line per peer */
	assert_int_equal(lines, 4 + CTL_MAX_PEERS);
	assert_non_null(strstr(r.out, "\npeer1023  100.64.4.25 "));
	run_free(&r);
	r = run_cli(d.sock, (const char *const[]){ "--json", "status", NULL });
	fake_daemon_stop(&d);
	expect(&r, 0, NULL, NULL);
	j = json_loads(r.out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "peers")),
			 CTL_MAX_PEERS);
	json_decref(j);
	run_free(&r);
}

static void test_json_error(void **state)
{
	struct fake_daemon d;
	struct run r;

	assert_int_equal(fake_daemon_start(&d, FAKE_ERROR), 0);
	ctl_error_set(&d.error, CTL_E_NOT_UP, "the node is stopped");
	r = run_cli(d.sock,
		    (const char *const[]){ "why", "db1", "--json", NULL });
	fake_daemon_stop(&d);
	expect(&r, CLI_EXIT_NOT_UP,
	       "{\n  \"error\": {\n    \"code\": \"not-up\",\n"
	       "    \"message\": \"the node is stopped\"\n  }\n}\n",
	       "icemesh: this node is down: the node is stopped");
	run_free(&r);
}

static void test_ping_no_reply(void **state)
{
	struct fake_daemon d;
	struct run r;

	assert_int_equal(fake_daemon_start(&d, FAKE_PING_LOST), 0);
	r = run_cli(d.sock,
		    (const char *const[]){ "ping", "-c", "2", "db1", NULL });
	fake_daemon_stop(&d);
	expect(&r, CLI_EXIT_NO_REPLY,
	       "1: no reply from db1\n"
	       "2: no reply from db1\n"
	       "--- db1 (100.64.0.2): 2 sent, 0 received, 100% lost\n",
	       NULL);
	run_free(&r);
}

/* The daemon side of the protocol answers a malformed request with an error. */
static void test_malformed_request_over_socket(void **state)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
		{ "hello\n",
		  "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"bad-request\"" },
		{ "{\"id\":4,\"cmd\":\"reboot\"}\n",
		  "{\"id\":4,\"ok\":false,\"error\":{\"code\":\"unknown-command\"" },
		{ "{\"id\":5,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"count\":-1}}\n",
		  "{\"id\":5,\"ok\":false,\"error\":{\"code\":\"bad-argument\",\"message\":"
		  "\"args.count: must be in 1..1000\"" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ctl_reader rd;
		char *line;
		size_t len;
		int fd = cli_connect(fake->sock);

		assert_true(fd >= 0);
		assert_int_equal(cli_send(fd, cases[i].line,
					  strlen(cases[i].line), 1000),
				 0);
		ctl_reader_init(&rd, CTL_LINE_MAX);
		assert_int_equal(ctl_reader_getline(&rd, fd, 2000, &line, &len),
				 1);
		if (strncmp(line, cases[i].want, strlen(cases[i].want)))
			fail_msg("got %s", line);
		ctl_reader_destroy(&rd);
		close(fd);
	}
}

/* ------------------------------------------------------------ helpers */

static void test_render_units(void **state)
{
	static const struct {
		uint64_t n;
		const char *s;
	} bytes[] = {
		{ 0, "0 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.0 KiB" },
		{ 1536, "1.5 KiB" },
		{ 1048576, "1.0 MiB" },
		{ 5ULL << 30, "5.0 GiB" },
		{ 3ULL << 40, "3.0 TiB" },
		{ UINT64_MAX, "16.0 EiB" },
	};
	static const struct {
		uint64_t then;
		const char *s;
	} ago[] = {
		{ 0, "never" },
		{ FAKE_NOW, "0s ago" },
		{ FAKE_NOW + 5, "0s ago" }, /* clocks disagree a little */
		{ FAKE_NOW - 59, "59s ago" },
		{ FAKE_NOW - 60, "1m ago" },
		{ FAKE_NOW - 3599, "59m ago" },
		{ FAKE_NOW - 3600, "1h ago" },
		{ FAKE_NOW - 86400 * 3, "3d ago" },
	};
	char buf[64];

	for (size_t i = 0; i < ARRAY_SIZE(bytes); i++)
		assert_string_equal(render_bytes(bytes[i].n, buf, sizeof(buf)),
				    bytes[i].s);
	for (size_t i = 0; i < ARRAY_SIZE(ago); i++)
		assert_string_equal(
			render_ago(ago[i].then, FAKE_NOW, buf, sizeof(buf)),
			ago[i].s);
	assert_string_equal(render_rtt(CTL_RTT_NONE, buf, sizeof(buf)), "-");
	assert_string_equal(render_rtt(0.5, buf, sizeof(buf)), "0.50 ms");
	assert_string_equal(render_rtt(120.25, buf, sizeof(buf)), "120.2 ms");
	/* ICE's whole milliseconds: no fraction it does not have */
	assert_string_equal(render_rtt_whole(CTL_RTT_NONE, buf, sizeof(buf)),
			    "-");
	assert_string_equal(render_rtt_whole(0, buf, sizeof(buf)), "<1 ms");
	assert_string_equal(render_rtt_whole(0.84, buf, sizeof(buf)), "<1 ms");
	assert_string_equal(render_rtt_whole(1, buf, sizeof(buf)), "1 ms");
	assert_string_equal(render_rtt_whole(31, buf, sizeof(buf)), "31 ms");
	assert_string_equal(render_rtt_whole(1234, buf, sizeof(buf)),
			    "1234 ms");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_units),
		cmocka_unit_test(test_help_and_usage),
		cmocka_unit_test_setup_teardown(test_status, setup_ok,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_json, setup_ok,
						teardown),
		cmocka_unit_test_setup_teardown(test_up, setup_ok, teardown),
		cmocka_unit_test_setup_teardown(test_up_key_file_and_ca,
						setup_ok, teardown),
		cmocka_unit_test_setup_teardown(test_up_usage, setup_ok,
						teardown),
		cmocka_unit_test_setup_teardown(test_down, setup_ok, teardown),
		cmocka_unit_test_setup_teardown(test_ping, setup_ok, teardown),
		cmocka_unit_test_setup_teardown(test_ping_json, setup_ok,
						teardown),
		cmocka_unit_test_setup_teardown(test_ping_usage, setup_ok,
						teardown),
		cmocka_unit_test_setup_teardown(test_netcheck, setup_ok,
						teardown),
		cmocka_unit_test_setup_teardown(test_why, setup_ok, teardown),
		cmocka_unit_test_setup_teardown(test_permission_denied,
						setup_ok, teardown),
		cmocka_unit_test_setup_teardown(
			test_malformed_request_over_socket, setup_ok, teardown),
		cmocka_unit_test(test_daemon_errors),
		cmocka_unit_test(test_no_daemon),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_ping_no_reply),
		cmocka_unit_test(test_largest_status),
		cmocka_unit_test(test_json_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
