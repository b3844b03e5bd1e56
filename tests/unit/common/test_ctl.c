// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ctl.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char KEY_A[] = "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc=";
static const char KEY_B[] = "YW5vdGhlci0zMi1ieXRlLXN0cmluZy1mb3ItdGVzdHM=";

/* ------------------------------------------------------------ requests */

static void test_request_good(void **state)
{
	static const struct {
		const char *line;
		enum ctl_cmd cmd;
		uint64_t id;
	} ok[] = {
		{ "{\"id\":1,\"cmd\":\"status\"}", CTL_CMD_STATUS, 1 },
		{ "{\"id\":2,\"cmd\":\"status\",\"args\":{}}\n", CTL_CMD_STATUS,
		  2 },
		{ "{\"cmd\":\"down\",\"id\":0}\r\n", CTL_CMD_DOWN, 0 },
		{ "{\"id\":9007199254740991,\"cmd\":\"netcheck\"}",
		  CTL_CMD_NETCHECK, 9007199254740991ULL },
		{ " { \"id\" : 5 , \"cmd\" : \"why\", \"args\": {\"peer\":\"db1\"} } ",
		  CTL_CMD_WHY, 5 },
	};
	struct ctl_request req;
	struct ctl_error err;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		assert_int_equal(ctl_request_parse(ok[i].line,
						   strlen(ok[i].line), &req,
						   &err),
				 0);
		assert_int_equal(req.cmd, ok[i].cmd);
		assert_true(req.id == ok[i].id);
	}
	assert_string_equal(req.args.why.peer, "db1");
}

static void test_request_args(void **state)
{
	static const char ping_default[] =
		"{\"id\":3,\"cmd\":\"ping\",\"args\":{\"peer\":\"db1\"}}";
	static const char ping_full[] =
		"{\"id\":4,\"cmd\":\"ping\",\"args\":{\"peer\":\"100.64.0.2\","
		"\"count\":1000,\"timeout_ms\":100}}";
	char up[512];
	struct ctl_request req;
	struct ctl_error err;

	assert_int_equal(ctl_request_parse(ping_default, strlen(ping_default),
					   &req, &err),
			 0);
	assert_string_equal(req.args.ping.peer, "db1");
	assert_int_equal(req.args.ping.count, CTL_PING_COUNT_DEFAULT);
	assert_int_equal(req.args.ping.timeout_ms, CTL_PING_TIMEOUT_DEFAULT_MS);

	assert_int_equal(
		ctl_request_parse(ping_full, strlen(ping_full), &req, &err), 0);
	assert_string_equal(req.args.ping.peer, "100.64.0.2");
	assert_int_equal(req.args.ping.count, 1000);
	assert_int_equal(req.args.ping.timeout_ms, 100);

	snprintf(
		up, sizeof(up),
		"{\"id\":7,\"cmd\":\"up\",\"args\":{\"coordinator\":"
		"\"https://coord.example:8443\",\"auth_key\":\"tskey-abc\","
		"\"coordinator_pin\":\"sha256//%s\",\"hostname\":\"laptop-1\"}}",
		KEY_A);
	assert_int_equal(ctl_request_parse(up, strlen(up), &req, &err), 0);
	assert_string_equal(req.args.up.coordinator,
			    "https://coord.example:8443");
	assert_string_equal(req.args.up.auth_key, "tskey-abc");
	assert_string_equal(req.args.up.coordinator_pin + 8, KEY_A);
	assert_string_equal(req.args.up.hostname, "laptop-1");
	assert_string_equal(req.args.up.ca_file, "");
	ctl_request_wipe(&req);
	assert_string_equal(req.args.up.auth_key, "");
}

static void test_request_bad(void **state)
{
	static const struct {
		const char *line;
		enum ctl_errcode code;
		const char *msg; /* a part of the message */
		bool has_id;
	} bad[] = {
		{ "", CTL_E_BAD_REQUEST, "not valid JSON", false },
		{ "status", CTL_E_BAD_REQUEST, "not valid JSON", false },
		{ "[1,2]", CTL_E_BAD_REQUEST, "JSON object", false },
		{ "{\"cmd\":\"status\"}", CTL_E_BAD_REQUEST, "id must be",
		  false },
		{ "{\"id\":-1,\"cmd\":\"status\"}", CTL_E_BAD_REQUEST,
		  "id must", false },
		{ "{\"id\":\"1\",\"cmd\":\"status\"}", CTL_E_BAD_REQUEST,
		  "id must", false },
		{ "{\"id\":1.5,\"cmd\":\"status\"}", CTL_E_BAD_REQUEST,
		  "id must", false },
		{ "{\"id\":9007199254740992,\"cmd\":\"status\"}",
		  CTL_E_BAD_REQUEST, "id must", false },
		{ "{\"id\":1}", CTL_E_BAD_REQUEST, "cmd must be a string",
		  true },
		{ "{\"id\":1,\"cmd\":5}", CTL_E_BAD_REQUEST, "cmd must be",
		  true },
		{ "{\"id\":1,\"cmd\":\"reboot\"}", CTL_E_UNKNOWN_COMMAND,
		  "unknown command 'reboot'", true },
		{ "{\"id\":1,\"cmd\":\"Status\"}", CTL_E_UNKNOWN_COMMAND,
		  "known: up", true },
		{ "{\"id\":1,\"cmd\":\"status\",\"extra\":1}",
		  CTL_E_BAD_REQUEST, "unknown field 'extra'", true },
		{ "{\"id\":1,\"id\":2,\"cmd\":\"status\"}", CTL_E_BAD_REQUEST,
		  "duplicate", false },
		{ "{\"id\":1,\"cmd\":\"status\"} x", CTL_E_BAD_REQUEST,
		  "not valid JSON", false },
		{ "{\"id\":1,\"cmd\":\"status\",\"args\":[]}",
		  CTL_E_BAD_ARGUMENT, "args must be an object", true },
		{ "{\"id\":1,\"cmd\":\"status\",\"args\":{\"x\":1}}",
		  CTL_E_BAD_ARGUMENT, "args: unknown field 'x'", true },
		{ "{\"id\":1,\"cmd\":\"netcheck\",\"args\":{\"a\":[[[[[]]]]]}}",
		  CTL_E_BAD_ARGUMENT, "unknown field 'a'", true },
		{ "{\"id\":1,\"cmd\":\"ping\"}", CTL_E_BAD_ARGUMENT,
		  "args.peer: is required", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"\"}}",
		  CTL_E_BAD_ARGUMENT, "args.peer: must not be empty", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"a b\"}}",
		  CTL_E_BAD_ARGUMENT, "args.peer: must not hold spaces", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"a\\u001b[2J\"}}",
		  CTL_E_BAD_ARGUMENT, "control characters", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"a\\u0000b\"}}",
		  CTL_E_BAD_REQUEST, "not valid JSON", false },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":7}}",
		  CTL_E_BAD_ARGUMENT, "args.peer: must be a string", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"count\":0}}",
		  CTL_E_BAD_ARGUMENT, "args.count: must be in 1..1000", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"count\":1001}}",
		  CTL_E_BAD_ARGUMENT, "args.count: must be in 1..1000", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"count\":\"3\"}}",
		  CTL_E_BAD_ARGUMENT, "args.count: must be an integer", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"count\":2.0}}",
		  CTL_E_BAD_ARGUMENT, "args.count: must be an integer", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"count\":true}}",
		  CTL_E_BAD_ARGUMENT, "args.count: must be an integer", true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"timeout_ms\":99}}",
		  CTL_E_BAD_ARGUMENT, "args.timeout_ms: must be in 100..60000",
		  true },
		{ "{\"id\":1,\"cmd\":\"ping\",\"args\":{\"peer\":\"x\",\"ttl\":3}}",
		  CTL_E_BAD_ARGUMENT, "unknown field 'ttl'", true },
		{ "{\"id\":1,\"cmd\":\"why\",\"args\":{\"peer\":\"x\",\"verbose\":true}}",
		  CTL_E_BAD_ARGUMENT, "unknown field 'verbose'", true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"http://c\","
		  "\"auth_key\":\"k\"}}",
		  CTL_E_BAD_ARGUMENT,
		  "args.coordinator: must be an https:// URL", true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://\","
		  "\"auth_key\":\"k\"}}",
		  CTL_E_BAD_ARGUMENT, "https:// URL", true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\"}}",
		  CTL_E_BAD_ARGUMENT, "args.auth_key: is required", true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\","
		  "\"auth_key\":\"k\",\"coordinator_pin\":\"sha1//abc\"}}",
		  CTL_E_BAD_ARGUMENT, "args.coordinator_pin: must be sha256//",
		  true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\","
		  "\"auth_key\":\"k\",\"coordinator_pin\":\"sha256//AAAA\"}}",
		  CTL_E_BAD_ARGUMENT, "base64 of 32 bytes", true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\","
		  "\"auth_key\":\"k\",\"ca_file\":\"ca.pem\"}}",
		  CTL_E_BAD_ARGUMENT, "args.ca_file: must be an absolute path",
		  true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\","
		  "\"auth_key\":\"k\",\"hostname\":\"Bad_Name\"}}",
		  CTL_E_BAD_ARGUMENT, "args.hostname: must be 1-63", true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\","
		  "\"auth_key\":\"k\",\"hostname\":\"-x\"}}",
		  CTL_E_BAD_ARGUMENT, "args.hostname", true },
		{ "{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\","
		  "\"auth_key\":\"k\",\"hostname\":"
		  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
		  CTL_E_BAD_ARGUMENT, "args.hostname: is longer than 63 bytes",
		  true },
	};
	struct ctl_request req;
	struct ctl_error err;

	memset(&req, 0x5a, sizeof(req));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = ctl_request_parse(bad[i].line, strlen(bad[i].line),
					  &req, &err);

		if (r != -EINVAL || err.code != bad[i].code ||
		    !strstr(err.message, bad[i].msg) ||
		    err.has_id != bad[i].has_id)
			fail_msg("case %zu: %s -> %d %s '%s'", i, bad[i].line,
				 r, err.code_str, err.message);
		assert_string_equal(err.code_str,
				    ctl_errcode_name(bad[i].code));
		if (err.has_id)
			assert_int_equal(err.id, 1);
	}
	/* Output parameters are left alone on failure. */
	for (size_t i = 0; i < sizeof(req); i++)
		assert_int_equal(((unsigned char *)&req)[i], 0x5a);
}

static void test_request_pin_and_ca_exclusive(void **state)
{
	char up[512];
	struct ctl_request req;
	struct ctl_error err;

	snprintf(
		up, sizeof(up),
		"{\"id\":1,\"cmd\":\"up\",\"args\":{\"coordinator\":\"https://c\","
		"\"auth_key\":\"k\",\"coordinator_pin\":\"sha256//%s\","
		"\"ca_file\":\"/etc/ca.pem\"}}",
		KEY_B);
	assert_int_equal(ctl_request_parse(up, strlen(up), &req, &err),
			 -EINVAL);
	assert_int_equal(err.code, CTL_E_BAD_ARGUMENT);
	assert_non_null(strstr(err.message, "exclude each other"));
}

static void test_request_too_long(void **state)
{
	size_t n = CTL_REQUEST_MAX + 10;
	char *line = malloc(n + 1);
	struct ctl_request req;
	struct ctl_error err;
	int k;

	assert_non_null(line);
	k = snprintf(line, n + 1,
		     "{\"id\":1,\"cmd\":\"why\",\"args\":{\"peer\":\"");
	memset(line + k, 'a', n - (size_t)k);
	line[n] = '\0';
	assert_int_equal(ctl_request_parse(line, n, &req, &err), -EMSGSIZE);
	assert_int_equal(err.code, CTL_E_LINE_TOO_LONG);
	assert_string_equal(err.code_str, "line-too-long");
	/* The longest line that fits is parsed; the peer is then too long. */
	memcpy(line + CTL_REQUEST_MAX - 4, "\"}}", 3);
	assert_int_equal(
		ctl_request_parse(line, CTL_REQUEST_MAX - 1, &req, &err),
		-EINVAL);
	assert_int_equal(err.code, CTL_E_BAD_ARGUMENT);
	assert_non_null(strstr(err.message, "longer than 63"));
	free(line);
}

static void test_request_build_roundtrip(void **state)
{
	struct ctl_request req, back;
	struct ctl_error err;
	char buf[CTL_REQUEST_MAX];
	size_t len;

	for (int cmd = 0; cmd < CTL_CMD_COUNT; cmd++) {
		ctl_request_init(&req, (enum ctl_cmd)cmd, 100 + (uint64_t)cmd);
		if (cmd == CTL_CMD_UP) {
			strcpy(req.args.up.coordinator,
			       "https://[2001:db8::1]:443/");
			strcpy(req.args.up.auth_key, "key-with-secret");
			strcpy(req.args.up.ca_file, "/etc/icemesh/ca.pem");
		} else if (cmd == CTL_CMD_PING) {
			strcpy(req.args.ping.peer, KEY_A);
			req.args.ping.count = 3;
		} else if (cmd == CTL_CMD_WHY) {
			strcpy(req.args.why.peer, "fd7a:115c::2");
		}
		assert_int_equal(
			ctl_request_build(&req, buf, sizeof(buf), &len, &err),
			0);
		assert_int_equal(len, strlen(buf));
		assert_int_equal(buf[len - 1], '\n');
		assert_null(memchr(buf, '\n', len - 1));
		assert_int_equal(ctl_request_parse(buf, len, &back, &err), 0);
		assert_int_equal(back.cmd, cmd);
		assert_true(back.id == req.id);
		assert_memory_equal(&back.args, &req.args, sizeof(req.args));
	}
	/* A request the daemon would refuse is not built. */
	ctl_request_init(&req, CTL_CMD_PING, 1);
	assert_int_equal(ctl_request_build(&req, buf, sizeof(buf), &len, &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "args.peer"));
	strcpy(req.args.ping.peer, "db1");
	req.args.ping.count = 0;
	assert_int_equal(ctl_request_build(&req, buf, sizeof(buf), &len, &err),
			 -EINVAL);
	req.args.ping.count = 1;
	assert_int_equal(ctl_request_build(&req, buf, 20, &len, &err),
			 -EMSGSIZE);
	req.cmd = CTL_CMD_COUNT;
	assert_int_equal(ctl_request_build(&req, buf, sizeof(buf), &len, &err),
			 -EINVAL);
}

/* ------------------------------------------------------------ responses */

static void fill_peer(struct ctl_peer *p, int i, enum ctl_path_kind kind)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "peer%d", i);
	snprintf(p->id, sizeof(p->id), "n%d", i);
	strcpy(p->public_key, i % 2 ? KEY_A : KEY_B);
	snprintf(p->ipv4, sizeof(p->ipv4), "100.64.%d.%d", i / 250,
		 i % 250 + 2);
	snprintf(p->ipv6, sizeof(p->ipv6), "fd7a:115c:a1e0::%x", i + 2);
	p->online = kind != CTL_PATH_NONE;
	p->path.kind = kind;
	if (kind != CTL_PATH_NONE) {
		p->path.local.type = kind == CTL_PATH_RELAY ? CTL_CAND_RELAY
							    : CTL_CAND_SRFLX;
		strcpy(p->path.local.addr, "203.0.113.7:3478");
		p->path.remote.type = CTL_CAND_HOST;
		strcpy(p->path.remote.addr, "[2001:db8::5]:41641");
		p->rtt_ms = 1.25 * i;
	} else {
		p->rtt_ms = CTL_RTT_NONE;
	}
	p->rx_bytes = 1000ULL * (uint64_t)i;
	p->tx_bytes = (uint64_t)INT64_MAX;
	p->last_handshake = 1700000000ULL + (uint64_t)i;
}

static void fill_self(struct ctl_self *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->name, "laptop");
	strcpy(s->id, "n0");
	strcpy(s->public_key, KEY_B);
	strcpy(s->ipv4, "100.64.0.1");
	strcpy(s->ipv6, "fd7a:115c:a1e0::1");
	s->state = CTL_STATE_RUNNING;
	strcpy(s->coordinator.url, "https://coord.example");
	s->coordinator.connected = true;
}

static struct ctl_response roundtrip(enum ctl_cmd cmd, bool event,
				     const union ctl_result *in)
{
	struct ctl_response out;
	struct ctl_error err;
	json_t *raw = NULL;
	char *line = NULL;
	size_t len;
	int r;

	if (event)
		r = ctl_response_build_event(42, cmd, in, &line, &len, &err);
	else
		r = ctl_response_build_ok(42, cmd, in, &line, &len, &err);
	if (r)
		fail_msg("build: %d %s", r, err.message);
	assert_int_equal(line[len - 1], '\n');
	assert_int_equal(ctl_response_parse(line, len, cmd, &out, &raw, &err),
			 0);
	assert_non_null(raw);
	assert_true(json_is_object(raw));
	json_decref(raw);
	free(line);
	assert_true(out.id == 42);
	assert_int_equal(out.kind, event ? CTL_RESP_EVENT : CTL_RESP_OK);
	return out;
}

static void test_response_status_roundtrip(void **state)
{
	struct ctl_peer peers[3];
	union ctl_result in = { 0 };
	struct ctl_response out;

	fill_self(&in.status.self);
	fill_peer(&peers[0], 1, CTL_PATH_DIRECT);
	fill_peer(&peers[1], 2, CTL_PATH_RELAY);
	fill_peer(&peers[2], 3, CTL_PATH_NONE);
	in.status.peers = peers;
	in.status.n_peers = 3;
	out = roundtrip(CTL_CMD_STATUS, false, &in);
	assert_memory_equal(&out.u.status.self, &in.status.self,
			    sizeof(in.status.self));
	assert_int_equal(out.u.status.n_peers, 3);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(&out.u.status.peers[i], &peers[i],
				    sizeof(peers[i]));
	ctl_response_free(&out);

	/* Before login: only the key, the state and the coordinator. */
	memset(&in, 0, sizeof(in));
	strcpy(in.self.public_key, KEY_A);
	in.self.state = CTL_STATE_NEEDS_LOGIN;
	strcpy(in.self.coordinator.url, "https://c.example");
	strcpy(in.self.coordinator.last_error, "connection refused");
	out = roundtrip(CTL_CMD_UP, false, &in);
	assert_memory_equal(&out.u.self, &in.self, sizeof(in.self));
	ctl_response_free(&out);
}

static void test_response_other_roundtrips(void **state)
{
	char srflx[2][CTL_ADDR_MAX] = { "198.51.100.4:41641",
					"[2001:db8::9]:41641" };
	char reasons[1][CTL_TEXT_MAX] = {
		"the peer is behind a symmetric NAT"
	};
	char advice[2][CTL_TEXT_MAX] = { "forward UDP port 41641", "use IPv6" };
	static struct ctl_server servers[2] = {
		{ CTL_SERVER_STUN, "203.0.113.1:3478", true, 12.5, "" },
		{ CTL_SERVER_TURN, "203.0.113.2:3478", false, CTL_RTT_NONE,
		  "401 Unauthorized" },
	};
	static struct ctl_pair pairs[2] = {
		{ { CTL_CAND_HOST, "10.0.0.2:41641" },
		  { CTL_CAND_HOST, "10.0.1.2:41641" },
		  CTL_PAIR_FAILED,
		  CTL_RTT_NONE,
		  "no response to 7 checks" },
		{ { CTL_CAND_RELAY, "203.0.113.2:50000" },
		  { CTL_CAND_SRFLX, "198.51.100.9:1024" },
		  CTL_PAIR_SUCCEEDED,
		  30.0,
		  "" },
	};
	union ctl_result in;
	struct ctl_response out;

	memset(&in, 0, sizeof(in));
	in.netcheck.mapping = CTL_MAPPING_DEPENDENT;
	in.netcheck.srflx = srflx;
	in.netcheck.n_srflx = 2;
	in.netcheck.servers = servers;
	in.netcheck.n_servers = 2;
	out = roundtrip(CTL_CMD_NETCHECK, false, &in);
	assert_int_equal(out.u.netcheck.mapping, CTL_MAPPING_DEPENDENT);
	assert_int_equal(out.u.netcheck.n_srflx, 2);
	assert_string_equal(out.u.netcheck.srflx[1], srflx[1]);
	assert_int_equal(out.u.netcheck.n_servers, 2);
	assert_memory_equal(out.u.netcheck.servers, servers, sizeof(servers));
	ctl_response_free(&out);

	memset(&in, 0, sizeof(in));
	strcpy(in.why.peer, "db1");
	in.why.path.kind = CTL_PATH_RELAY;
	in.why.path.local = pairs[1].local;
	in.why.path.remote = pairs[1].remote;
	in.why.pairs = pairs;
	in.why.n_pairs = 2;
	in.why.reasons = reasons;
	in.why.n_reasons = 1;
	in.why.advice = advice;
	in.why.n_advice = 2;
	out = roundtrip(CTL_CMD_WHY, false, &in);
	assert_memory_equal(&out.u.why.path, &in.why.path, sizeof(in.why.path));
	assert_memory_equal(out.u.why.pairs, pairs, sizeof(pairs));
	assert_string_equal(out.u.why.reasons[0], reasons[0]);
	assert_string_equal(out.u.why.advice[1], advice[1]);
	ctl_response_free(&out);

	memset(&in, 0, sizeof(in));
	in.ping_event.seq = 1;
	in.ping_event.path = CTL_PATH_DIRECT;
	strcpy(in.ping_event.via, "198.51.100.9:41641");
	in.ping_event.rtt_ms = 0.75;
	out = roundtrip(CTL_CMD_PING, true, &in);
	assert_memory_equal(&out.u.ping_event, &in.ping_event,
			    sizeof(in.ping_event));
	memset(&in, 0, sizeof(in));
	in.ping_event.seq = 2;
	in.ping_event.timeout = true;
	in.ping_event.rtt_ms = CTL_RTT_NONE;
	out = roundtrip(CTL_CMD_PING, true, &in);
	assert_true(out.u.ping_event.timeout);
	assert_true(out.u.ping_event.rtt_ms < 0);

	memset(&in, 0, sizeof(in));
	strcpy(in.ping.peer, "db1");
	in.ping.sent = 4;
	in.ping.received = 3;
	out = roundtrip(CTL_CMD_PING, false, &in);
	assert_memory_equal(&out.u.ping, &in.ping, sizeof(in.ping));
}

static void test_response_error(void **state)
{
	struct ctl_error e, err;
	struct ctl_response out;
	char *line;
	size_t len;

	ctl_error_set(&e, CTL_E_UNKNOWN_PEER, "no peer named '%s'", "db9");
	assert_int_equal(ctl_response_build_error(true, 9, &e, &line, &len), 0);
	assert_string_equal(line,
			    "{\"id\":9,\"ok\":false,\"error\":{\"code\":"
			    "\"unknown-peer\",\"message\":\"no peer named "
			    "'db9'\"}}\n");
	assert_int_equal(
		ctl_response_parse(line, len, CTL_CMD_PING, &out, NULL, &err),
		0);
	free(line);
	assert_int_equal(out.kind, CTL_RESP_ERROR);
	assert_int_equal(out.error.code, CTL_E_UNKNOWN_PEER);
	assert_string_equal(out.error.message, "no peer named 'db9'");
	ctl_response_free(&out);

	/* id unreadable: null; a control character in a message is blanked. */
	ctl_error_set(&e, CTL_E_BAD_REQUEST, "bad\nline");
	assert_int_equal(ctl_response_build_error(false, 0, &e, &line, &len),
			 0);
	assert_non_null(strstr(line, "\"id\":null"));
	assert_non_null(strstr(line, "bad line"));
	assert_int_equal(
		ctl_response_parse(line, len, CTL_CMD_STATUS, &out, NULL, &err),
		0);
	assert_false(out.error.has_id);
	free(line);

	/* A code from a newer daemon is kept as text. */
	static const char newer[] =
		"{\"id\":3,\"ok\":false,\"error\":{\"code\":"
		"\"quota-exceeded\",\"message\":\"m\"}}";
	assert_int_equal(ctl_response_parse(newer, strlen(newer), CTL_CMD_UP,
					    &out, NULL, &err),
			 0);
	assert_int_equal(out.error.code, CTL_E_OTHER);
	assert_string_equal(out.error.code_str, "quota-exceeded");
	assert_true(out.error.has_id);
}

/* A valid status response with one peer, with `pfx` spliced into the peer. */
static char *status_line(const char *peer_extra, const char *self_extra)
{
	static char line[2048];

	snprintf(
		line, sizeof(line),
		"{\"id\":1,\"ok\":true,\"result\":{\"self\":{\"public_key\":\"%s\","
		"\"state\":\"running\",\"coordinator\":{\"url\":\"https://c\","
		"\"connected\":true}%s},\"peers\":[{\"name\":\"db1\",\"id\":\"n1\","
		"\"public_key\":\"%s\",\"ipv4\":\"100.64.0.2\",\"ipv6\":\"fd7a::2\","
		"\"online\":true,\"path\":{\"kind\":\"none\"},\"rx_bytes\":0,"
		"\"tx_bytes\":0,\"last_handshake\":0%s}]}}",
		KEY_A, self_extra, KEY_B, peer_extra);
	return line;
}

static void test_response_bad(void **state)
{
	static const struct {
		const char *peer, *self, *msg;
	} bad[] = {
		{ ",\"rx_bytes\":-1", "", "duplicate" },
		{ "", ",\"state\":\"sleeping\"", "duplicate" },
		{ ",\"rtt_ms\":-1", "",
		  "result.peers[0].rtt_ms: must be a number" },
		{ ",\"rtt_ms\":\"3\"", "", "rtt_ms: must be a number" },
		{ "", ",\"ipv4\":\"300.1.1.1\"",
		  "result.self.ipv4: must be an IPv4" },
		{ "", ",\"ipv6\":\"100.64.0.1\"", "must be an IPv6" },
		{ "", ",\"name\":\"\\u001b[31mred\"",
		  "result.self.name: must not hold" },
	};
	static const char *const whole[] = {
		"",
		"null",
		"[]",
		"{}",
		"{\"id\":1}",
		"{\"id\":1,\"ok\":1}",
		"{\"id\":1,\"ok\":true}",
		"{\"id\":1,\"ok\":true,\"result\":[]}",
		"{\"id\":1,\"ok\":true,\"result\":{}}",
		"{\"id\":\"1\",\"ok\":true,\"result\":{}}",
		"{\"id\":null,\"ok\":true,\"result\":{}}",
		"{\"id\":1,\"ok\":false}",
		"{\"id\":1,\"ok\":false,\"error\":{\"code\":\"\",\"message\":\"m\"}}",
		"{\"id\":1,\"ok\":false,\"error\":{\"code\":\"x\",\"message\":7}}",
		"{\"id\":1,\"event\":{\"seq\":1,\"timeout\":true}}", /* status has none */
	};
	struct ctl_response out;
	struct ctl_error err;
	char *line;

	line = status_line("", "");
	assert_int_equal(ctl_response_parse(line, strlen(line), CTL_CMD_STATUS,
					    &out, NULL, &err),
			 0);
	ctl_response_free(&out);
	/* Fields this version does not know are ignored in responses. */
	line = status_line(",\"mtu\":1280,\"tags\":[\"x\"]",
			   ",\"os\":\"linux\"");
	assert_int_equal(ctl_response_parse(line, strlen(line), CTL_CMD_STATUS,
					    &out, NULL, &err),
			 0);
	ctl_response_free(&out);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		line = status_line(bad[i].peer, bad[i].self);
		if (ctl_response_parse(line, strlen(line), CTL_CMD_STATUS, &out,
				       NULL, &err) != -EINVAL ||
		    err.code != CTL_E_BAD_RESPONSE ||
		    !strstr(err.message, bad[i].msg))
			fail_msg("case %zu: %s", i, err.message);
	}
	for (size_t i = 0; i < ARRAY_SIZE(whole); i++) {
		if (ctl_response_parse(whole[i], strlen(whole[i]),
				       CTL_CMD_STATUS, &out, NULL,
				       &err) != -EINVAL)
			fail_msg("whole case %zu accepted: %s", i, whole[i]);
		assert_int_equal(err.code, CTL_E_BAD_RESPONSE);
	}
}

static void test_response_bad_fields(void **state)
{
	static const struct {
		enum ctl_cmd cmd;
		const char *line, *msg;
	} bad[] = {
		{ CTL_CMD_PING,
		  "{\"id\":null,\"ok\":true,\"result\":{\"peer\":\"a\","
		  "\"sent\":1,\"received\":1}}",
		  "id must be an integer" },
		{ CTL_CMD_PING,
		  "{\"id\":null,\"event\":{\"seq\":1,\"timeout\":true}}",
		  "id must be an integer" },
		{ CTL_CMD_PING, "{\"id\":1,\"event\":{\"seq\":1}}",
		  "a reply needs path" },
		{ CTL_CMD_PING,
		  "{\"id\":1,\"event\":{\"seq\":0,\"timeout\":true}}",
		  "event.seq: must be in 1..1000" },
		{ CTL_CMD_PING,
		  "{\"id\":1,\"event\":{\"seq\":1,\"timeout\":true,"
		  "\"rtt_ms\":3}}",
		  "a timeout has no path" },
		{ CTL_CMD_PING,
		  "{\"id\":1,\"event\":{\"seq\":1,\"path\":\"direct\","
		  "\"via\":\"nowhere\",\"rtt_ms\":3}}",
		  "event.via: must be an address" },
		{ CTL_CMD_PING,
		  "{\"id\":1,\"event\":{\"seq\":1,\"timeout\":\"yes\"}}",
		  "event.timeout: must be true or false" },
		{ CTL_CMD_PING,
		  "{\"id\":1,\"ok\":true,\"result\":{\"peer\":\"a\","
		  "\"sent\":1,\"received\":2}}",
		  "received exceeds sent" },
		{ CTL_CMD_WHY,
		  "{\"id\":1,\"ok\":true,\"result\":{\"peer\":\"a\","
		  "\"path\":{\"kind\":\"direct\"},\"pairs\":[],\"reasons\":[],"
		  "\"advice\":[]}}",
		  "result.path: a direct path needs local and remote" },
		{ CTL_CMD_WHY,
		  "{\"id\":1,\"ok\":true,\"result\":{\"peer\":\"a\","
		  "\"path\":{\"kind\":\"tunnel\"},\"pairs\":[],\"reasons\":[],"
		  "\"advice\":[]}}",
		  "result.path.kind: must be one of none, direct, relay" },
		{ CTL_CMD_WHY,
		  "{\"id\":1,\"ok\":true,\"result\":{\"peer\":\"a\","
		  "\"path\":{\"kind\":\"none\"},\"pairs\":[{\"local\":{\"type\":"
		  "\"bogus\",\"addr\":\"1.2.3.4:5\"}}],\"reasons\":[],\"advice\":[]}}",
		  "result.pairs[0].local.type: must be one of host, srflx, prflx, relay" },
		{ CTL_CMD_WHY,
		  "{\"id\":1,\"ok\":true,\"result\":{\"peer\":\"a\","
		  "\"path\":{\"kind\":\"none\"},\"pairs\":[],\"reasons\":[3],"
		  "\"advice\":[]}}",
		  "result.reasons[0]: must be a string" },
		{ CTL_CMD_NETCHECK,
		  "{\"id\":1,\"ok\":true,\"result\":{\"mapping\":"
		  "\"unknown\",\"srflx\":{},\"servers\":[]}}",
		  "result.srflx: must be an array" },
		{ CTL_CMD_NETCHECK,
		  "{\"id\":1,\"ok\":true,\"result\":{\"mapping\":"
		  "\"unknown\",\"srflx\":[],\"servers\":[{\"kind\":\"stun\","
		  "\"addr\":\"1.2.3.4:3478\",\"reachable\":1}]}}",
		  "result.servers[0].reachable: must be true or false" },
	};
	struct ctl_response out;
	struct ctl_error err;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (ctl_response_parse(bad[i].line, strlen(bad[i].line),
				       bad[i].cmd, &out, NULL,
				       &err) != -EINVAL ||
		    !strstr(err.message, bad[i].msg))
			fail_msg("case %zu: '%s'", i, err.message);
	}
}

static void test_response_caps(void **state)
{
	size_t n = CTL_MAX_SRFLX + 1, cap = 64 + n * 24;
	char *line = malloc(cap);
	struct ctl_response out;
	struct ctl_error err;
	size_t used;

	assert_non_null(line);
	used = (size_t)snprintf(line, cap,
				"{\"id\":1,\"ok\":true,\"result\":"
				"{\"mapping\":\"unknown\",\"servers\":[],"
				"\"srflx\":[");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(line + used, cap - used,
					 "%s\"1.2.3.4:%zu\"", i ? "," : "",
					 i + 1);
	snprintf(line + used, cap - used, "]}}");
	assert_int_equal(ctl_response_parse(line, strlen(line),
					    CTL_CMD_NETCHECK, &out, NULL, &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "result.srflx: has more than 16"));
	free(line);
}

/* The largest status (every peer, long fields) fits in one line. */
static void test_response_max_status(void **state)
{
	struct ctl_peer *peers = calloc(CTL_MAX_PEERS + 1, sizeof(*peers));
	union ctl_result in = { 0 };
	struct ctl_response out;
	struct ctl_error err;
	char *line;
	size_t len;

	assert_non_null(peers);
	fill_self(&in.status.self);
	for (int i = 0; i <= CTL_MAX_PEERS; i++) {
		fill_peer(&peers[i], i, CTL_PATH_RELAY);
		memset(peers[i].name, 'n', CTL_NAME_MAX - 1);
		memset(peers[i].id, 'i', CTL_NODE_ID_MAX - 1);
		strcpy(peers[i].ipv6,
		       "fd7a:115c:a1e0:ffff:ffff:ffff:ffff:ffff");
		strcpy(peers[i].path.local.addr,
		       "[fd7a:115c:a1e0:ffff:ffff:ffff:ffff:ffff]:65535");
		strcpy(peers[i].path.remote.addr,
		       "[fd7a:115c:a1e0:ffff:ffff:ffff:ffff:fffe]:65535");
		peers[i].rtt_ms = 1234.567891;
	}
	in.status.peers = peers;
	in.status.n_peers = CTL_MAX_PEERS;
	assert_int_equal(ctl_response_build_ok(1, CTL_CMD_STATUS, &in, &line,
					       &len, &err),
			 0);
	assert_true(len < CTL_LINE_MAX);
	print_message("max status line: %zu bytes of %d\n", len, CTL_LINE_MAX);
	assert_int_equal(
		ctl_response_parse(line, len, CTL_CMD_STATUS, &out, NULL, &err),
		0);
	assert_int_equal(out.u.status.n_peers, CTL_MAX_PEERS);
	assert_memory_equal(&out.u.status.peers[CTL_MAX_PEERS - 1],
			    &peers[CTL_MAX_PEERS - 1], sizeof(*peers));
	ctl_response_free(&out);
	free(line);

	in.status.n_peers = CTL_MAX_PEERS + 1;
	assert_int_equal(ctl_response_build_ok(1, CTL_CMD_STATUS, &in, &line,
					       &len, &err),
			 -EINVAL);
	assert_non_null(
		strstr(err.message, "result.peers: has more than 1024"));
	free(peers);
}

static void test_response_build_checks(void **state)
{
	struct ctl_peer peer;
	union ctl_result in = { 0 };
	struct ctl_error err;
	char *line = NULL;
	size_t len;

	fill_self(&in.status.self);
	fill_peer(&peer, 1, CTL_PATH_DIRECT);
	strcpy(peer.public_key, "short");
	in.status.peers = &peer;
	in.status.n_peers = 1;
	assert_int_equal(ctl_response_build_ok(1, CTL_CMD_STATUS, &in, &line,
					       &len, &err),
			 -EINVAL);
	assert_null(line);
	assert_string_equal(
		err.message,
		"result.peers[0].public_key: must be the base64 of 32 bytes");
	fill_peer(&peer, 1, CTL_PATH_DIRECT);
	peer.path.remote.type = CTL_CAND_UNSET;
	assert_int_equal(ctl_response_build_ok(1, CTL_CMD_STATUS, &in, &line,
					       &len, &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "needs local and remote"));
	fill_peer(&peer, 1, CTL_PATH_DIRECT);
	peer.rtt_ms = 1e9;
	assert_int_equal(ctl_response_build_ok(1, CTL_CMD_STATUS, &in, &line,
					       &len, &err),
			 -EINVAL);
	fill_peer(&peer, 1, CTL_PATH_DIRECT);
	in.status.peers = NULL;
	assert_int_equal(ctl_response_build_ok(1, CTL_CMD_STATUS, &in, &line,
					       &len, &err),
			 -EINVAL);
	/* A pair's candidates are required, so an unset one is refused. */
	{
		struct ctl_pair pair;
		union ctl_result w;

		memset(&pair, 0, sizeof(pair));
		memset(&w, 0, sizeof(w));
		pair.remote.type = CTL_CAND_HOST;
		strcpy(pair.remote.addr, "10.0.0.1:1");
		pair.rtt_ms = CTL_RTT_NONE;
		strcpy(w.why.peer, "a");
		w.why.pairs = &pair;
		w.why.n_pairs = 1;
		assert_int_equal(ctl_response_build_ok(1, CTL_CMD_WHY, &w,
						       &line, &len, &err),
				 -EINVAL);
		assert_string_equal(
			err.message,
			"result.pairs[0].local: type must be one of host, srflx, prflx, relay");
	}
	/* An error message that is not UTF-8 is still sent, made ASCII. */
	{
		struct ctl_response resp;
		struct ctl_error e;

		ctl_error_set(&e, CTL_E_INTERNAL, "bad \xff byte, \xc3\xa9");
		assert_int_equal(
			ctl_response_build_error(true, 1, &e, &line, &len), 0);
		assert_int_equal(ctl_response_parse(line, len, CTL_CMD_WHY,
						    &resp, NULL, &err),
				 0);
		assert_string_equal(resp.error.message, "bad ? byte, ??");
		free(line);
		line = NULL;
	}
	/* Events only for streaming commands. */
	assert_int_equal(ctl_response_build_event(1, CTL_CMD_STATUS, &in, &line,
						  &len, &err),
			 -EINVAL);
	memset(&in, 0, sizeof(in));
	in.self.state = (enum ctl_node_state)7;
	strcpy(in.self.public_key, KEY_A);
	strcpy(in.self.coordinator.url, "https://c");
	assert_int_equal(
		ctl_response_build_ok(1, CTL_CMD_DOWN, &in, &line, &len, &err),
		-EINVAL);
	assert_non_null(
		strstr(err.message, "result.state: must be one of running"));
}

static void test_response_too_long(void **state)
{
	size_t n = CTL_LINE_MAX + 1;
	char *line = malloc(n);
	struct ctl_response out;
	struct ctl_error err;

	assert_non_null(line);
	memset(line, ' ', n);
	assert_int_equal(
		ctl_response_parse(line, n, CTL_CMD_STATUS, &out, NULL, &err),
		-EINVAL);
	assert_non_null(strstr(err.message, "line longer than"));
	free(line);
}

/* ------------------------------------------------------------ reader */

static void test_reader_lines(void **state)
{
	struct ctl_reader r;
	int sv[2];
	char *line;
	size_t len;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl_reader_init(&r, 16);
	assert_int_equal(ctl_reader_next(&r, &line, &len), 0);
	assert_int_equal(write(sv[1], "one\ntwo\nthr", 11), 11);
	assert_int_equal(ctl_reader_fill(&r, sv[0]), 11);
	assert_int_equal(ctl_reader_next(&r, &line, &len), 1);
	assert_string_equal(line, "one");
	assert_int_equal(len, 3);
	assert_int_equal(ctl_reader_next(&r, &line, &len), 1);
	assert_string_equal(line, "two");
	assert_int_equal(ctl_reader_next(&r, &line, &len), 0);
	assert_int_equal(write(sv[1], "ee\n", 3), 3);
	assert_int_equal(ctl_reader_getline(&r, sv[0], 1000, &line, &len), 1);
	assert_string_equal(line, "three");
	/* 15 bytes and the newline: exactly the cap. */
	assert_int_equal(write(sv[1], "aaaaaaaaaaaaaaa\n", 16), 16);
	assert_int_equal(ctl_reader_getline(&r, sv[0], 1000, &line, &len), 1);
	assert_int_equal(len, 15);
	/* Nothing comes: a timeout, then a non-blocking read says EAGAIN. */
	assert_int_equal(ctl_reader_getline(&r, sv[0], 20, &line, &len),
			 -ETIMEDOUT);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(ctl_reader_fill(&r, sv[0]), -EAGAIN);
	/* One byte over the cap. */
	assert_int_equal(write(sv[1], "bbbbbbbbbbbbbbbb\n", 17), 17);
	assert_int_equal(ctl_reader_getline(&r, sv[0], 1000, &line, &len),
			 -EMSGSIZE);
	ctl_reader_destroy(&r);
	close(sv[0]);
	close(sv[1]);

	/* A buffer full of complete lines: take them before reading more. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl_reader_init(&r, 16);
	assert_int_equal(write(sv[1], "aaaa\nbbbb\ncccc\ndd\n", 18), 18);
	assert_int_equal(ctl_reader_fill(&r, sv[0]), 16);
	assert_int_equal(ctl_reader_fill(&r, sv[0]), -ENOBUFS);
	assert_int_equal(ctl_reader_next(&r, &line, &len), 1);
	assert_string_equal(line, "aaaa");
	assert_int_equal(ctl_reader_fill(&r, sv[0]), 2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ctl_reader_next(&r, &line, &len), 1);
	assert_string_equal(line, "dd");
	ctl_reader_destroy(&r);
	close(sv[0]);
	close(sv[1]);

	/* A line cut by the end of the stream. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl_reader_init(&r, 64);
	assert_int_equal(write(sv[1], "ok\npartial", 10), 10);
	close(sv[1]);
	assert_int_equal(ctl_reader_getline(&r, sv[0], 1000, &line, &len), 1);
	assert_string_equal(line, "ok");
	assert_int_equal(ctl_reader_getline(&r, sv[0], 1000, &line, &len),
			 -EPROTO);
	ctl_reader_destroy(&r);

	ctl_reader_init(&r, 64);
	assert_int_equal(ctl_reader_getline(&r, sv[0], 1000, &line, &len), 0);
	ctl_reader_destroy(&r);
	ctl_reader_destroy(NULL);
	close(sv[0]);
}

/* A long line arriving in pieces grows the buffer up to the cap only. */
static void test_reader_growth(void **state)
{
	struct ctl_reader r;
	size_t total = 100000;
	char *data = malloc(total + 1), *line;
	size_t len;
	int sv[2];

	assert_non_null(data);
	memset(data, 'x', total);
	data[total] = '\n';
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl_reader_init(&r, 200000);
	if (fork() == 0) {
		close(sv[0]);
		for (size_t off = 0; off <= total;) {
			ssize_t n =
				write(sv[1], data + off,
				      total + 1 - off > 5000 ? 5000
							     : total + 1 - off);
			if (n <= 0)
				_exit(1);
			off += (size_t)n;
		}
		_exit(0);
	}
	close(sv[1]);
	assert_int_equal(ctl_reader_getline(&r, sv[0], 5000, &line, &len), 1);
	assert_int_equal(len, total);
	assert_true(r.cap <= 200000);
	ctl_reader_destroy(&r);
	close(sv[0]);
	free(data);
}

static void test_names(void **state)
{
	enum ctl_cmd c;

	for (int i = 0; i < CTL_CMD_COUNT; i++) {
		assert_int_equal(
			ctl_cmd_from_name(ctl_cmd_name((enum ctl_cmd)i), &c),
			0);
		assert_int_equal(c, i);
	}
	assert_null(ctl_cmd_name(CTL_CMD_COUNT));
	assert_int_equal(ctl_cmd_from_name("reboot", &c), -ENOENT);
	for (int i = 1; i < CTL_E_COUNT; i++)
		assert_int_equal(ctl_errcode_from_name(
					 ctl_errcode_name((enum ctl_errcode)i)),
				 i);
	assert_int_equal(ctl_errcode_from_name("nope"), CTL_E_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_request_good),
		cmocka_unit_test(test_request_args),
		cmocka_unit_test(test_request_bad),
		cmocka_unit_test(test_request_pin_and_ca_exclusive),
		cmocka_unit_test(test_request_too_long),
		cmocka_unit_test(test_request_build_roundtrip),
		cmocka_unit_test(test_response_status_roundtrip),
		cmocka_unit_test(test_response_other_roundtrips),
		cmocka_unit_test(test_response_error),
		cmocka_unit_test(test_response_bad),
		cmocka_unit_test(test_response_bad_fields),
		cmocka_unit_test(test_response_caps),
		cmocka_unit_test(test_response_max_status),
		cmocka_unit_test(test_response_build_checks),
		cmocka_unit_test(test_response_too_long),
		cmocka_unit_test(test_reader_lines),
		cmocka_unit_test(test_reader_growth),
	};

	/* As the programs do: jansson wipes what it frees. */
	ctl_json_use_wiping_alloc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
