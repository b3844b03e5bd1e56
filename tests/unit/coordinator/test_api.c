// SPDX-License-Identifier: MIT
/*
 * The API against the real server: icemesh-coord serve in a child process,
 * HTTPS on 127.0.0.1 with the certificate pinned, every endpoint and every
 * error of docs/API.md, and a check after each refused request that nothing
 * changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "coord_harness.h"

#define SECRET "test-turn-secret-0123456789"
#define JSON "application/json"

static struct harness H;
static char *reusable_key;

struct node {
	uint64_t id;
	char cred[64];
	char name[64];
	char ipv4[32], ipv6[64];
	uint8_t key[32];
};

static int group_setup(void **state)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || sodium_init() < 0)
		return -1;
	if (h_init(&H, "--stun", "127.0.0.1:3478", "--turn", "127.0.0.1:3478",
		   "--turn-secret", SECRET, "--turn-ttl", "2h", NULL) != 0)
		return -1;
	reusable_key = h_authkey(&H, true, false, 0);
	if (!reusable_key)
		return -1;
	H.serve_args[0] = "--online-grace";
	H.serve_args[1] = "2s";
	return h_start(&H);
}

static int group_teardown(void **state)
{
	int status = h_stop(&H, SIGTERM);

	h_cleanup(&H);
	free(reusable_key);
	curl_global_cleanup();
	/* a clean stop: exit status 0 (under ASan this includes no leak) */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void new_node(const char *authkey, const char *hostname, struct node *n)
{
	struct resp r;
	json_t *node;

	memset(n, 0, sizeof(*n));
	h_node_key(n->key);
	assert_int_equal(h_register(&H, authkey, n->key, hostname, &r), 0);
	if (r.status != 200)
		fail_msg("register: %ld %s", r.status, r.body);
	node = json_object_get(r.json, "node");
	n->id = (uint64_t)json_integer_value(json_object_get(node, "id"));
	snprintf(n->cred, sizeof(n->cred), "%s",
		 json_string_value(json_object_get(r.json, "credential")));
	snprintf(n->name, sizeof(n->name), "%s",
		 json_string_value(json_object_get(node, "name")));
	snprintf(n->ipv4, sizeof(n->ipv4), "%s",
		 json_string_value(json_object_get(node, "ipv4")));
	snprintf(n->ipv6, sizeof(n->ipv6), "%s",
		 json_string_value(json_object_get(node, "ipv6")));
	assert_true(n->id > 0);
	assert_int_equal(strlen(n->cred), 47);
	resp_free(&r);
}

static void expect_error(struct resp *r, long status, const char *code)
{
	if (r->status != status || strcmp(resp_code(r), code) != 0)
		fail_msg("expected %ld %s, got %ld %s", status, code, r->status,
			 r->body ? r->body : "");
	assert_non_null(json_string_value(
		json_object_get(json_object_get(r->json, "error"), "message")));
}

static void get(const char *path, const char *cred, struct resp *r)
{
	assert_int_equal(h_http(&H, "GET", path, cred, NULL, NULL, 0, r), 0);
}

static void post(const char *path, const char *cred, const char *body,
		 struct resp *r)
{
	assert_int_equal(
		h_http(&H, "POST", path, cred, JSON, body, strlen(body), r), 0);
}

/* ---------------------------------------------------------------- tests */

static void test_health_and_routing(void **state)
{
	struct resp r;

	get("/v1/health", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(
		json_string_value(json_object_get(r.json, "status")), "ok");
	resp_free(&r);
	get("/v1/health?x=1", NULL, &r);
	expect_error(&r, 400, "unknown_parameter");
	resp_free(&r);
	get("/v1/nothing", NULL, &r);
	expect_error(&r, 404, "not_found");
	resp_free(&r);
	get("/v2/health", NULL, &r);
	expect_error(&r, 404, "not_found");
	resp_free(&r);
	assert_int_equal(
		h_http(&H, "DELETE", "/v1/signal", NULL, NULL, NULL, 0, &r), 0);
	expect_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, POST");
	resp_free(&r);
	get("/v1/register", NULL, &r);
	expect_error(&r, 405, "method_not_allowed");
	resp_free(&r);
}

static void test_tls_pin(void **state)
{
	struct resp r;

	assert_int_equal(strncmp(H.pin, "sha256//", 8), 0);
	assert_int_equal(strlen(H.pin), 52);
	assert_int_equal(h_http_pin(&H, H.pin, "/v1/health", &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* another key's pin: the TLS handshake is refused */
	assert_int_equal(h_http_pin(&H,
				    "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
				    "AAAAAAAAA=",
				    "/v1/health", &r),
			 -1);
	resp_free(&r);
}

static void test_register(void **state)
{
	struct node a, b;
	struct resp r;
	json_t *node;
	long before;

	new_node(reusable_key, "Laptop", &a);
	assert_string_equal(a.name, "laptop");
	assert_int_equal(strncmp(a.ipv4, "100.", 4), 0);
	/* the same name again gets a suffix, a new address */
	new_node(reusable_key, "laptop", &b);
	assert_string_equal(b.name, "laptop-2");
	assert_string_not_equal(a.ipv4, b.ipv4);
	assert_string_not_equal(a.ipv6, b.ipv6);
	/* the same node key again: same identity, new credential */
	before = h_count(&H, "nodes");
	assert_int_equal(h_register(&H, reusable_key, a.key, "x", &r), 0);
	assert_int_equal(r.status, 200);
	node = json_object_get(r.json, "node");
	assert_int_equal(json_integer_value(json_object_get(node, "id")), a.id);
	assert_string_equal(json_string_value(json_object_get(node, "ipv4")),
			    a.ipv4);
	assert_string_equal(json_string_value(json_object_get(node, "name")),
			    "laptop");
	assert_false(json_boolean_value(json_object_get(r.json, "created")));
	assert_string_not_equal(
		json_string_value(json_object_get(r.json, "credential")),
		a.cred);
	assert_int_equal(h_count(&H, "nodes"), before);
	resp_free(&r);
	/* ... and the old credential no longer works */
	get("/v1/netmap", a.cred, &r);
	expect_error(&r, 401, "unauthorized");
	resp_free(&r);
}

static void test_register_auth_keys(void **state)
{
	char *once = h_authkey(&H, false, false, 0);
	char *expired = h_authkey(&H, true, false, -10);
	uint8_t k1[32], k2[32];
	struct resp r;
	long before;

	h_node_key(k1);
	h_node_key(k2);
	before = h_count(&H, "nodes");
	assert_int_equal(h_register(&H, "imk_nosuchkey", k1, NULL, &r), 0);
	expect_error(&r, 401, "invalid_auth_key");
	resp_free(&r);
	assert_int_equal(h_register(&H, expired, k1, NULL, &r), 0);
	expect_error(&r, 401, "auth_key_expired");
	resp_free(&r);
	assert_int_equal(h_count(&H, "nodes"), before);
	assert_int_equal(h_register(&H, once, k1, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* single use: a retry by the same node works, another node does not */
	assert_int_equal(h_register(&H, once, k1, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	assert_int_equal(h_register(&H, once, k2, NULL, &r), 0);
	expect_error(&r, 401, "auth_key_used");
	resp_free(&r);
	assert_int_equal(h_count(&H, "nodes"), before + 1);
	free(once);
	free(expired);
}

static void test_register_bad_bodies(void **state)
{
	static const struct {
		const char *ctype, *body;
		long status;
		const char *code;
	} bad[] = {
		{ JSON, "{\"auth_key\":", 400, "malformed_json" },
		{ JSON, "[1,2]", 400, "malformed_json" },
		{ JSON, "{\"auth_key\":5,\"node_key\":\"x\"}", 400,
		  "invalid_field" },
		{ JSON, "{\"auth_key\":\"k\",\"node_key\":\"AAAA\"}", 400,
		  "invalid_field" },
		{ JSON, "{\"node_key\":\"AAAA\"}", 400, "missing_field" },
		{ JSON,
		  "{\"auth_key\":\"k\",\"node_key\":\"AAECAwQFBgcICQoLDA0ODxAR"
		  "EhMUFRYXGBkaGxwdHh8=\",\"role\":\"admin\"}",
		  400, "unknown_field" },
		{ "text/plain", "{}", 415, "unsupported_media_type" },
		{ NULL, "{}", 415, "unsupported_media_type" },
		{ JSON, "", 411, "length_required" },
	};
	long before = h_count(&H, "nodes");
	struct resp r;
	char *big;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(h_http(&H, "POST", "/v1/register", NULL,
					bad[i].ctype, bad[i].body,
					strlen(bad[i].body), &r),
				 0);
		expect_error(&r, bad[i].status, bad[i].code);
		resp_free(&r);
	}
	/* oversized: refused by its Content-Length before it is read */
	big = malloc(40000);
	memset(big, ' ', 40000);
	big[0] = '{';
	big[39999] = '}';
	assert_int_equal(
		h_http(&H, "POST", "/v1/register", NULL, JSON, big, 40000, &r),
		0);
	expect_error(&r, 413, "body_too_large");
	resp_free(&r);
	free(big);
	assert_int_equal(h_count(&H, "nodes"), before);
	/* parameters after the media type are fine */
	assert_int_equal(h_http(&H, "POST", "/v1/register", NULL,
				"application/json; charset=utf-8", "{}", 2, &r),
			 0);
	expect_error(&r, 400, "missing_field");
	resp_free(&r);
}

static void test_bad_auth(void **state)
{
	static const char *const creds[] = {
		"",
		"imc_",
		"imc_short",
		"imc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* unknown */
		"imk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	static const char *const paths[] = { "/v1/netmap", "/v1/signal" };
	struct resp r;
	long before = h_count(&H, "signals");

	for (size_t p = 0; p < 2; p++) {
		get(paths[p], NULL, &r);
		expect_error(&r, 401, "unauthorized");
		resp_free(&r);
		for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
			get(paths[p], creds[i], &r);
			expect_error(&r, 401, "unauthorized");
			resp_free(&r);
		}
	}
	post("/v1/signal", creds[3],
	     "{\"to\":1,\"id\":\"a\",\"payload\":\"AA==\"}", &r);
	expect_error(&r, 401, "unauthorized");
	resp_free(&r);
	assert_int_equal(h_count(&H, "signals"), before);
}

static json_t *find_peer(json_t *map, uint64_t id)
{
	size_t i;
	json_t *p;

	json_array_foreach(
		json_object_get(map, "peers"), i,
		p) if ((uint64_t)json_integer_value(json_object_get(p, "id")) ==
		       id) return p;
	return NULL;
}

static void test_netmap(void **state)
{
	struct node a, b;
	struct resp r;
	json_t *self, *peer, *turn;
	char user[64], expect[64];
	unsigned char mac[20];
	unsigned int maclen;
	uint64_t expires, now = (uint64_t)time(NULL);

	new_node(reusable_key, "map-a", &a);
	new_node(reusable_key, "map-b", &b);
	get("/v1/netmap", a.cred, &r);
	assert_int_equal(r.status, 200);
	self = json_object_get(r.json, "self");
	assert_int_equal(json_integer_value(json_object_get(self, "id")), a.id);
	assert_null(find_peer(r.json, a.id)); /* self is not a peer */
	peer = find_peer(r.json, b.id);
	assert_non_null(peer);
	assert_string_equal(json_string_value(json_object_get(peer, "ipv4")),
			    b.ipv4);
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(peer, "allowed_ips"), 0)),
		(snprintf(expect, sizeof(expect), "%s/32", b.ipv4), expect));
	assert_true(json_is_boolean(json_object_get(peer, "online")));
	assert_true(json_is_integer(json_object_get(peer, "last_seen")));
	assert_true(json_is_integer(json_object_get(r.json, "version")));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(r.json, "stun"), 0)),
			    "127.0.0.1:3478");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(r.json, "network"), "ipv4_prefix")),
		"100.64.0.0/10");
	/* coturn REST credentials: "expiry:nodeid", HMAC-SHA1 of it */
	turn = json_object_get(r.json, "turn");
	expires =
		(uint64_t)json_integer_value(json_object_get(turn, "expires"));
	assert_true(expires >= now + 3600 - 5 && expires <= now + 7200 + 5);
	snprintf(user, sizeof(user), "%llu:%llu", (unsigned long long)expires,
		 (unsigned long long)a.id);
	assert_string_equal(
		json_string_value(json_object_get(turn, "username")), user);
	HMAC(EVP_sha1(), SECRET, (int)strlen(SECRET), (unsigned char *)user,
	     strlen(user), mac, &maclen);
	sodium_bin2base64(expect, sizeof(expect), mac, maclen,
			  sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(
		json_string_value(json_object_get(turn, "password")), expect);
	resp_free(&r);
}

static void test_netmap_params(void **state)
{
	static const struct {
		const char *q, *code;
	} bad[] = {
		{ "?node=1", "unknown_parameter" },
		{ "?since=abc", "invalid_parameter" },
		{ "?wait=121", "invalid_parameter" },
		{ "?wait=-1", "invalid_parameter" },
		{ "?after=1", "unknown_parameter" },
	};
	char path[64];
	struct node a;
	struct resp r;

	new_node(reusable_key, NULL, &a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/v1/netmap%s", bad[i].q);
		get(path, a.cred, &r);
		expect_error(&r, 400, bad[i].code);
		resp_free(&r);
	}
}

static uint64_t map_version(const char *cred)
{
	struct resp r;
	uint64_t v;

	get("/v1/netmap", cred, &r);
	assert_int_equal(r.status, 200);
	v = (uint64_t)json_integer_value(json_object_get(r.json, "version"));
	resp_free(&r);
	return v;
}

/* Long-poll: held until the wait ends (204), or answered at a change. */
static void test_netmap_longpoll(void **state)
{
	struct node a, b, c;
	struct h_async w;
	char path[96];
	struct resp r;
	uint64_t v, t0;

	new_node(reusable_key, "lp-a", &a);
	/* settle: let the publish of a's own registration pass */
	t0 = h_now_ms();
	v = map_version(a.cred);
	snprintf(path, sizeof(path), "/v1/netmap?since=%llu&wait=1",
		 (unsigned long long)v);
	for (;;) {
		get(path, a.cred, &r);
		if (r.status == 204)
			break;
		assert_int_equal(r.status, 200);
		v = (uint64_t)json_integer_value(
			json_object_get(r.json, "version"));
		snprintf(path, sizeof(path), "/v1/netmap?since=%llu&wait=1",
			 (unsigned long long)v);
		resp_free(&r);
		assert_true(h_now_ms() - t0 < 10000);
	}
	assert_null(r.body);
	assert_true(r.seconds >= 0.9 && r.seconds < 3.0);
	resp_free(&r);

	/* a registration while a waits: a gets the new map within ~0.5 s */
	snprintf(path, sizeof(path), "/v1/netmap?since=%llu&wait=20",
		 (unsigned long long)v);
	h_async_get(&w, &H, path, a.cred);
	struct timespec ts = { 0, 300 * 1000000L };
	nanosleep(&ts, NULL);
	t0 = h_now_ms();
	new_node(reusable_key, "lp-b", &b);
	h_async_join(&w);
	assert_int_equal(w.ret, 0);
	assert_int_equal(w.r.status, 200);
	assert_true(h_now_ms() - t0 < 2000);
	assert_non_null(find_peer(w.r.json, b.id));
	v = (uint64_t)json_integer_value(json_object_get(w.r.json, "version"));
	resp_free(&w.r);

	/* online state follows long-polls: b polls, a sees it online */
	new_node(reusable_key, "lp-c", &c);
	(void)c;
	h_async_get(&w, &H, "/v1/signal?wait=2", b.cred);
	t0 = h_now_ms();
	for (;;) {
		json_t *p;
		bool online;
		get("/v1/netmap", a.cred, &r);
		p = find_peer(r.json, b.id);
		assert_non_null(p);
		online = json_is_true(json_object_get(p, "online"));
		resp_free(&r);
		if (online)
			break;
		assert_true(h_now_ms() - t0 < 3000);
		nanosleep(&ts, NULL);
	}
	h_async_join(&w);
	assert_int_equal(w.r.status, 204);
	resp_free(&w.r);
}

/*
 * Long-polls of one node are capped at four: a fifth makes the oldest
 * answer 204 at once (so a node whose old connections died silently is not
 * locked out), and the others are held their full wait.
 */
static void test_poll_cap(void **state)
{
	struct h_async w[5];
	struct timespec ts = { 0, 100 * 1000000L };
	struct node a;
	struct resp r;
	int held = 0;

	new_node(reusable_key, NULL, &a);
	for (int i = 0; i < 4; i++)
		h_async_get(&w[i], &H, "/v1/signal?wait=2", a.cred);
	/* a's online state shows when the first is held */
	nanosleep(&ts, NULL);
	h_async_get(&w[4], &H, "/v1/signal?wait=2", a.cred);
	for (int i = 0; i < 5; i++) {
		h_async_join(&w[i]);
		assert_int_equal(w[i].ret, 0);
		assert_int_equal(w[i].r.status, 204);
		if (w[i].r.seconds >= 1.5)
			held++;
		else
			assert_true(i < 4);
	}
	/* the one answered early is one of the first four, never the fifth */
	assert_int_equal(held, 4);
	for (int i = 0; i < 5; i++)
		resp_free(&w[i].r);
	h_async_get(&w[0], &H, "/v1/signal?wait=2", a.cred);
	h_async_join(&w[0]);
	assert_true(w[0].r.seconds >= 1.5);
	resp_free(&w[0].r);
	/* a short GET without wait is no long-poll and always answered */
	get("/v1/signal", a.cred, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
}

/*
 * Online state follows long-polls: a peer holding one is online; once its
 * last one ended and the grace (2 s here) passed, a waiting node gets a new
 * map with the peer offline and its last-seen time kept.
 */
static void test_online_offline(void **state)
{
	struct timespec ts = { 0, 100 * 1000000L };
	struct node a, b;
	struct h_async w;
	char path[96];
	struct resp r;
	json_t *p = NULL;
	uint64_t v, t0;
	bool online = false;
	int64_t before = (int64_t)time(NULL);

	new_node(reusable_key, "on-a", &a);
	new_node(reusable_key, "on-b", &b);
	h_async_get(&w, &H, "/v1/signal?wait=1", b.cred);
	t0 = h_now_ms();
	while (!online) {
		get("/v1/netmap", a.cred, &r);
		p = find_peer(r.json, b.id);
		assert_non_null(p);
		online = json_is_true(json_object_get(p, "online"));
		resp_free(&r);
		assert_true(h_now_ms() - t0 < 3000);
		if (!online)
			nanosleep(&ts, NULL);
	}
	h_async_join(&w);
	resp_free(&w.r);
	/* now wait, as a node does, for the map where b went offline */
	v = map_version(a.cred);
	t0 = h_now_ms();
	for (;;) {
		snprintf(path, sizeof(path), "/v1/netmap?since=%llu&wait=5",
			 (unsigned long long)v);
		get(path, a.cred, &r);
		assert_true(h_now_ms() - t0 < 8000);
		if (r.status == 204) {
			resp_free(&r);
			continue;
		}
		assert_int_equal(r.status, 200);
		v = (uint64_t)json_integer_value(
			json_object_get(r.json, "version"));
		p = find_peer(r.json, b.id);
		if (json_is_false(json_object_get(p, "online")))
			break;
		resp_free(&r);
	}
	/* about grace + publish after the poll ended */
	assert_true(h_now_ms() - t0 >= 1000);
	assert_true(json_integer_value(json_object_get(p, "last_seen")) >=
		    before);
	resp_free(&r);
}

static void test_signals(void **state)
{
	struct node a, b;
	struct resp r;
	char path[96], id[16];
	json_t *msgs, *m;
	uint64_t s1, cursor;
	uint8_t payload[300];

	new_node(reusable_key, "sig-a", &a);
	new_node(reusable_key, "sig-b", &b);
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		memset(payload, 'a' + i, sizeof(payload));
		assert_int_equal(h_signal(&H, a.cred, b.id, id, payload,
					  sizeof(payload), &r),
				 0);
		assert_int_equal(r.status, 200);
		assert_false(
			json_is_true(json_object_get(r.json, "duplicate")));
		if (i == 0)
			s1 = (uint64_t)json_integer_value(
				json_object_get(r.json, "seq"));
		resp_free(&r);
	}
	/* a retry is not queued twice */
	memset(payload, 'a', sizeof(payload));
	assert_int_equal(
		h_signal(&H, a.cred, b.id, "m0", payload, sizeof(payload), &r),
		0);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "duplicate")));
	assert_int_equal(json_integer_value(json_object_get(r.json, "seq")),
			 s1);
	resp_free(&r);
	/* the same id with other content is a conflict */
	assert_int_equal(h_signal(&H, a.cred, b.id, "m0", "other", 5, &r), 0);
	expect_error(&r, 409, "duplicate_id");
	resp_free(&r);

	/* a reads nothing of b's: a's own queue is empty */
	get("/v1/signal", a.cred, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	get("/v1/signal?to=2", a.cred, &r);
	expect_error(&r, 400, "unknown_parameter");
	resp_free(&r);

	/* b receives all three in order, with limit paging */
	get("/v1/signal?limit=2", b.cred, &r);
	assert_int_equal(r.status, 200);
	msgs = json_object_get(r.json, "messages");
	assert_int_equal(json_array_size(msgs), 2);
	assert_true(json_is_true(json_object_get(r.json, "more")));
	m = json_array_get(msgs, 0);
	assert_string_equal(json_string_value(json_object_get(m, "id")), "m0");
	assert_int_equal(json_integer_value(json_object_get(m, "from")), a.id);
	assert_int_equal(json_integer_value(json_object_get(m, "seq")), s1);
	{
		char expect[512];
		memset(payload, 'a', sizeof(payload));
		sodium_bin2base64(expect, sizeof(expect), payload,
				  sizeof(payload),
				  sodium_base64_VARIANT_ORIGINAL);
		assert_string_equal(
			json_string_value(json_object_get(m, "payload")),
			expect);
	}
	cursor =
		(uint64_t)json_integer_value(json_object_get(r.json, "cursor"));
	resp_free(&r);
	/* unacknowledged: asking again from 0 returns them again */
	get("/v1/signal", b.cred, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "messages")),
			 3);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/signal?after=%llu",
		 (unsigned long long)cursor);
	get(path, b.cred, &r);
	msgs = json_object_get(r.json, "messages");
	assert_int_equal(json_array_size(msgs), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(msgs, 0), "id")),
			    "m2");
	cursor =
		(uint64_t)json_integer_value(json_object_get(r.json, "cursor"));
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/signal?after=%llu",
		 (unsigned long long)cursor);
	get(path, b.cred, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
	/* acknowledged ones are gone for good, even asked from 0 */
	get("/v1/signal", b.cred, &r);
	assert_int_equal(r.status, 204);
	resp_free(&r);
}

static void test_signal_errors(void **state)
{
	static const struct {
		const char *body;
		long status;
		const char *code;
	} bad[] = {
		{ "{\"to\":\"2\",\"id\":\"a\",\"payload\":\"AA==\"}", 400,
		  "invalid_field" },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":\"A\"}", 400,
		  "invalid_field" },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":\"AA==\",\"from\":1}",
		  400, "unknown_field" },
		{ "{\"to\":2,\"id\":\"a\"}", 400, "missing_field" },
		{ "{\"to\":2,", 400, "malformed_json" },
		{ "{\"to\":999999,\"id\":\"a\",\"payload\":\"AA==\"}", 404,
		  "unknown_node" },
	};
	struct node a;
	struct resp r;
	char body[128];
	long before;

	new_node(reusable_key, NULL, &a);
	before = h_count(&H, "signals");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post("/v1/signal", a.cred, bad[i].body, &r);
		expect_error(&r, bad[i].status, bad[i].code);
		resp_free(&r);
	}
	/* oversized and streamed: no Content-Length to refuse it early */
	{
		char *big = malloc(40000);
		memset(big, ' ', 40000);
		big[0] = '{';
		big[39999] = '}';
		assert_int_equal(h_http_chunked(&H, "/v1/signal", a.cred, big,
						40000, &r),
				 0);
		expect_error(&r, 413, "body_too_large");
		resp_free(&r);
		/* a small chunked body is read normally */
		assert_int_equal(h_http_chunked(&H, "/v1/signal", a.cred,
						bad[0].body,
						strlen(bad[0].body), &r),
				 0);
		expect_error(&r, 400, "invalid_field");
		resp_free(&r);
		free(big);
	}
	snprintf(body, sizeof(body),
		 "{\"to\":%llu,\"id\":\"a\",\"payload\":\"AA==\"}",
		 (unsigned long long)a.id);
	post("/v1/signal", a.cred, body, &r);
	expect_error(&r, 400, "invalid_field");
	resp_free(&r);
	assert_int_equal(h_count(&H, "signals"), before);
}

static void test_signal_queue_cap(void **state)
{
	struct node a, b;
	struct resp r;
	char id[16];

	new_node(reusable_key, NULL, &a);
	new_node(reusable_key, NULL, &b);
	for (int i = 0; i < 256; i++) {
		snprintf(id, sizeof(id), "q%d", i);
		assert_int_equal(h_signal(&H, a.cred, b.id, id, "x", 1, &r), 0);
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	assert_int_equal(h_signal(&H, a.cred, b.id, "q256", "x", 1, &r), 0);
	expect_error(&r, 429, "queue_full");
	resp_free(&r);
}

/* A held GET /v1/signal is answered as soon as a message arrives. */
static void test_signal_longpoll(void **state)
{
	struct node a, b;
	struct h_async w;
	struct resp r;
	uint64_t t0;
	struct timespec ts = { 0, 300 * 1000000L };

	new_node(reusable_key, NULL, &a);
	new_node(reusable_key, NULL, &b);
	h_async_get(&w, &H, "/v1/signal?wait=20", b.cred);
	nanosleep(&ts, NULL);
	t0 = h_now_ms();
	assert_int_equal(h_signal(&H, a.cred, b.id, "wake", "hi", 2, &r), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	h_async_join(&w);
	assert_int_equal(w.r.status, 200);
	assert_true(h_now_ms() - t0 < 1000);
	assert_int_equal(json_array_size(json_object_get(w.r.json, "messages")),
			 1);
	resp_free(&w.r);
}

/* Admin commands while serving: the change reaches waiting nodes. */
static void test_cli_rename_remove(void **state)
{
	struct node a, b, c;
	struct h_async w;
	char path[96], idbuf[24];
	struct resp r;
	uint64_t v;
	json_t *p;

	new_node(reusable_key, "cli-a", &a);
	new_node(reusable_key, "cli-b", &b);
	v = map_version(a.cred);
	snprintf(path, sizeof(path), "/v1/netmap?since=%llu&wait=10",
		 (unsigned long long)v);
	h_async_get(&w, &H, path, a.cred);
	assert_int_equal(
		h_cli(&H, "nodes", "rename", "cli-b", "renamed-b", NULL), 0);
	h_async_join(&w);
	assert_int_equal(w.r.status, 200);
	/* possibly an earlier publish; ask until the rename shows */
	p = find_peer(w.r.json, b.id);
	if (strcmp(json_string_value(json_object_get(p, "name")),
		   "renamed-b")) {
		resp_free(&w.r);
		get("/v1/netmap", a.cred, &w.r);
		p = find_peer(w.r.json, b.id);
	}
	assert_string_equal(json_string_value(json_object_get(p, "name")),
			    "renamed-b");
	resp_free(&w.r);
	assert_int_equal(
		h_cli(&H, "nodes", "rename", "cli-a", "Bad Name", NULL), 1);
	assert_int_equal(h_cli(&H, "nodes", "list", NULL), 0);
	assert_int_equal(h_cli(&H, "nodes", "list", "--json", NULL), 0);
	assert_int_equal(h_cli(&H, "nodes", "frobnicate", NULL), 2);
	assert_int_equal(h_cli(&H, "authkey", "create", "--expiry", "1d",
			       "--ephemeral", NULL),
			 0);
	assert_int_equal(
		h_cli(&H, "authkey", "create", "--expiry", "soon", NULL), 2);
	assert_int_equal(h_cli(&H, "authkey", "create", "--listen", "x", NULL),
			 2);
	/* plain HTTP only on loopback; refused before anything is bound */
	assert_int_equal(h_cli(&H, "serve", "--insecure-http", "--listen",
			       "0.0.0.0:1", NULL),
			 2);
	assert_int_equal(h_cli(&H, "serve", "--cert", "/nonexistent", NULL), 2);
	assert_int_equal(h_cli(&H, "init", NULL), 1); /* already initialised */

	/* removal: credential dead, address not handed to the next node */
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)b.id);
	assert_int_equal(h_cli(&H, "nodes", "remove", idbuf, NULL), 0);
	get("/v1/netmap", b.cred, &r);
	expect_error(&r, 401, "unauthorized");
	resp_free(&r);
	assert_int_equal(h_signal(&H, a.cred, b.id, "gone", "x", 1, &r), 0);
	expect_error(&r, 404, "unknown_node");
	resp_free(&r);
	new_node(reusable_key, NULL, &c);
	assert_string_not_equal(c.ipv4, b.ipv4);
	assert_string_not_equal(c.ipv6, b.ipv6);
	get("/v1/netmap", a.cred, &r);
	assert_null(find_peer(r.json, b.id));
	resp_free(&r);
	assert_int_equal(h_cli(&H, "nodes", "remove", idbuf, NULL), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_and_routing),
		cmocka_unit_test(test_tls_pin),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_register_auth_keys),
		cmocka_unit_test(test_register_bad_bodies),
		cmocka_unit_test(test_bad_auth),
		cmocka_unit_test(test_netmap),
		cmocka_unit_test(test_netmap_params),
		cmocka_unit_test(test_netmap_longpoll),
		cmocka_unit_test(test_poll_cap),
		cmocka_unit_test(test_online_offline),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_signal_errors),
		cmocka_unit_test(test_signal_queue_cap),
		cmocka_unit_test(test_signal_longpoll),
		cmocka_unit_test(test_cli_rename_remove),
	};

	int ret = h_child_main(argc, argv);

	if (ret >= 0)
		return ret;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
