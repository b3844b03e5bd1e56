// SPDX-License-Identifier: MIT
/*
 * coordc against the real icemesh-coord on 127.0.0.1 over TLS (pinned):
 * registration, the network map long-poll, sealed signals between two
 * clients, a replay refused, the cached map while the server is down,
 * backoff and reconnection after kill -9, pin mismatch, a bad auth key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator-client/coordc.h"
#include "coordinator-client/http.h"
#include "coordinator-client/sealbox.h"
#include "coordproc.h"

struct rx {
	uint8_t from[32];
	char msg[64];
};

struct tnode {
	struct coordc *c;
	uint8_t pk[32], sk[32];
	char dir[300];
	unsigned netmaps, cached;
	const struct coordc_netmap *nm;
	int up;
	unsigned downs, ups;
	char fatal[64];
	struct rx rx[32];
	unsigned n_rx;
};

static struct {
	uv_loop_t loop;
	char last_error[256];
	char root[64];
	char authkey[128];
	struct coordproc srv;
	struct tnode a, b;
} F;

static void cb_netmap(const struct coordc_netmap *nm, bool from_cache,
		      void *arg)
{
	struct tnode *n = arg;

	n->nm = nm;
	n->netmaps++;
	n->cached += from_cache;
}

static void cb_signal(const uint8_t from[32], uint64_t from_id,
		      const uint8_t *msg, size_t len, void *arg)
{
	struct tnode *n = arg;
	struct rx *r;

	if (n->n_rx >= sizeof(n->rx) / sizeof(n->rx[0]))
		return;
	r = &n->rx[n->n_rx++];
	memcpy(r->from, from, 32);
	snprintf(r->msg, sizeof(r->msg), "%.*s", (int)len, (const char *)msg);
}

static void cb_conn(bool up, void *arg)
{
	struct tnode *n = arg;

	n->up = up;
	if (up)
		n->ups++;
	else
		n->downs++;
}

static void cb_fatal(const char *code, void *arg)
{
	struct tnode *n = arg;

	snprintf(n->fatal, sizeof(n->fatal), "%s", code);
}

/* A new node (fresh key and state dir) unless it has a dir already. */
static int node_start(struct tnode *n, const char *name, const char *authkey,
		      const char *pin)
{
	struct coordc_config cfg = {
		.url = F.srv.url,
		.pin = pin ? pin : F.srv.pin,
		.state_dir = n->dir,
		.auth_key = authkey,
		.hostname = name,
		.poll_wait_s = 2,
		.backoff_base_ms = 100,
		.backoff_max_ms = 800,
		.request_timeout_ms = 3000,
		.cb = { cb_netmap, cb_signal, cb_conn, cb_fatal, n },
	};

	if (!n->dir[0]) {
		crypto_box_keypair(n->pk, n->sk);
		snprintf(n->dir, sizeof(n->dir), "%s/%s", F.root, name);
		if (mkdir(n->dir, 0700) < 0)
			return -errno;
	}
	memcpy(cfg.node_sk, n->sk, 32);
	memcpy(cfg.node_pk, n->pk, 32);
	n->up = -1;
	n->c = coordc_new(&F.loop, &cfg);
	if (!n->c)
		return -ENOMEM;
	return coordc_start(n->c);
}

static void node_stop(struct tnode *n)
{
	coordc_free(n->c);
	n->c = NULL;
	n->nm = NULL;
	uv_run(&F.loop, UV_RUN_NOWAIT);
}

static void on_guard(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Run the loop until pred(arg) holds or ms pass; returns pred's value. */
static bool run_until(bool (*pred)(void *), void *arg, unsigned ms)
{
	uv_timer_t guard;
	bool expired = false, ok;

	uv_timer_init(&F.loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, on_guard, ms, 0);
	while (!(ok = pred(arg)) && !expired)
		uv_run(&F.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&F.loop, UV_RUN_NOWAIT);
	return ok;
}

static bool never(void *arg)
{
	return false;
}

static bool knows_peer(const struct tnode *n, const struct tnode *peer)
{
	return n->nm && coordc_netmap_find(n->nm, peer->pk) != NULL;
}

static bool both_know(void *arg)
{
	return knows_peer(&F.a, &F.b) && knows_peer(&F.b, &F.a);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

/* Keep log lines out of the test output; remember the last error. */
static void log_sink(enum log_level level, const char *topic, const char *line,
		     void *arg)
{
	if (level <= LOG_LEVEL_ERROR)
		snprintf(F.last_error, sizeof(F.last_error), "%s", line);
}

static int group_setup(void **state)
{
	if (sodium_init() < 0 || uv_loop_init(&F.loop))
		return -1;
	log_set_sink(log_sink, NULL);
	snprintf(F.root, sizeof(F.root), "/tmp/icemesh-coordc-XXXXXX");
	if (!mkdtemp(F.root) || coordproc_init(&F.srv, F.root) ||
	    coordproc_cmd(&F.srv, F.authkey, sizeof(F.authkey), "authkey",
			  "create", "--reusable", NULL) ||
	    strncmp(F.authkey, "imk_", 4) != 0 || coordproc_serve(&F.srv))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	if (F.a.c)
		node_stop(&F.a);
	if (F.b.c)
		node_stop(&F.b);
	uv_run(&F.loop, UV_RUN_DEFAULT);
	coordproc_kill(&F.srv);
	nftw(F.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return uv_loop_close(&F.loop) == 0 ? 0 : -1;
}

static void assert_mode_0600(const char *dir, const char *name)
{
	char path[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_register_and_netmap(void **state)
{
	const struct coordc_node *pa;

	assert_int_equal(node_start(&F.a, "alpha", F.authkey, NULL), 0);
	assert_int_equal(node_start(&F.b, "beta", F.authkey, NULL), 0);
	/* b registered after a: a learns of b through its long-poll */
	assert_true(run_until(both_know, NULL, 8000));
	assert_true(coordc_is_up(F.a.c));
	assert_int_equal(F.a.cached, 0);
	assert_memory_equal(F.a.nm->self.key, F.a.pk, 32);
	assert_string_equal(F.a.nm->self.name, "alpha");
	pa = coordc_netmap_find(F.b.nm, F.a.pk);
	assert_int_equal(pa->id, F.a.nm->self.id);
	assert_memory_equal(&pa->ipv4, &F.a.nm->self.ipv4, 4);
	assert_true(pa->n_allowed_ips >= 1);
	assert_int_equal(F.a.nm->n_stun, 1);
	assert_true(F.a.nm->has_turn);
	assert_int_equal(F.a.nm->ipv4_prefix.len, 10);
	assert_mode_0600(F.a.dir, "coord.json");
	assert_mode_0600(F.a.dir, "netmap.json");
	assert_mode_0600(F.a.dir, "seal-epoch");
	assert_string_equal(F.a.fatal, "");
}

static bool b_has_3(void *arg)
{
	return F.b.n_rx >= 3;
}

static bool a_has_1(void *arg)
{
	return F.a.n_rx >= 1;
}

static void test_signal_exchange(void **state)
{
	static const char *const offers[] = { "offer-1", "offer-2", "offer-3" };
	struct coordc_stats st;
	uint8_t stranger[32] = { 9 };
	uint64_t t0 = clock_now_ms();

	for (int i = 0; i < 3; i++)
		assert_int_equal(coordc_send(F.a.c, F.b.pk, offers[i],
					     strlen(offers[i])),
				 0);
	assert_int_equal(coordc_send(F.a.c, stranger, "x", 1), -ENOENT);
	assert_true(run_until(b_has_3, NULL, 5000));
	print_message("3 signals a -> b through the server: %llu ms\n",
		      (unsigned long long)(clock_now_ms() - t0));
	for (int i = 0; i < 3; i++) {
		assert_string_equal(F.b.rx[i].msg, offers[i]);
		assert_memory_equal(F.b.rx[i].from, F.a.pk, 32);
	}
	assert_int_equal(coordc_send(F.b.c, F.a.pk, "answer", 6), 0);
	assert_true(run_until(a_has_1, NULL, 5000));
	assert_string_equal(F.a.rx[0].msg, "answer");
	/* a few more poll rounds: nothing is delivered twice */
	run_until(never, NULL, 1000);
	assert_int_equal(F.b.n_rx, 3);
	assert_int_equal(F.a.n_rx, 1);
	coordc_get_stats(F.a.c, &st);
	assert_int_equal(st.signals_out, 3);
	assert_int_equal(st.signals_in, 1);
	assert_int_equal(st.signals_refused, 0);
}

struct post {
	bool done;
	int ret;
	long status;
};

static void on_post(int ret, long status, const char *body, size_t len,
		    void *arg)
{
	struct post *p = arg;

	p->done = true;
	p->ret = ret;
	p->status = status;
}

static bool post_done(void *arg)
{
	return ((struct post *)arg)->done;
}

static bool has_netmap(void *arg)
{
	return ((struct tnode *)arg)->nm != NULL;
}

/* One sealed box posted twice under two ids: the second is refused. */
static void test_replay_refused(void **state)
{
	struct tnode c = { 0 };
	struct coordc_http_config hc = { .pin = F.srv.pin };
	struct coordc_http *http;
	struct sealbox *sb;
	uint8_t box[SEALBOX_MAX_SEALED];
	char path[400], url[128], b64[256], body[512], cred[128];
	struct timespec ts;
	struct coordc_stats before, after;
	size_t len, n;
	json_t *o;
	unsigned rx0 = F.b.n_rx;

	assert_int_equal(node_start(&c, "gamma", F.authkey, NULL), 0);
	assert_true(run_until(has_netmap, &c, 5000));
	node_stop(&c);
	/* its credential, as the attacker-in-the-middle would replay with */
	snprintf(path, sizeof(path), "%s/coord.json", c.dir);
	o = json_load_file(path, 0, NULL);
	assert_non_null(o);
	snprintf(cred, sizeof(cred), "%s",
		 json_string_value(json_object_get(o, "credential")));
	json_decref(o);
	clock_gettime(CLOCK_REALTIME, &ts);
	sb = sealbox_new(c.sk, c.pk, 1, NULL);
	assert_int_equal(sealbox_seal(sb, F.b.pk, "replay-me", 9,
				      (uint64_t)ts.tv_sec * 1000 +
					      (uint64_t)ts.tv_nsec / 1000000,
				      box, sizeof(box), &len),
			 0);
	sealbox_free(sb);
	sodium_bin2base64(b64, sizeof(b64), box, len,
			  sodium_base64_VARIANT_ORIGINAL);
	http = coordc_http_new(&F.loop, &hc);
	snprintf(url, sizeof(url), "%s/v1/signal", F.srv.url);
	coordc_get_stats(F.b.c, &before);
	for (int i = 0; i < 2; i++) {
		struct post p = { 0 };
		struct coordc_http_request req = { .method = "POST",
						   .url = url,
						   .bearer = cred,
						   .body = body,
						   .timeout_ms = 3000 };

		n = (size_t)snprintf(body, sizeof(body),
				     "{\"to\":%llu,\"id\":\"replay-%d\","
				     "\"payload\":\"%s\"}",
				     (unsigned long long)F.b.nm->self.id, i,
				     b64);
		req.body_len = n;
		assert_int_equal(
			coordc_http_start(http, &req, on_post, &p, NULL), 0);
		assert_true(run_until(post_done, &p, 5000));
		assert_int_equal(p.ret, 0);
		assert_int_equal(p.status, 200);
	}
	coordc_http_free(http);
	run_until(never, NULL, 1000);
	coordc_get_stats(F.b.c, &after);
	assert_int_equal(F.b.n_rx, rx0 + 1);
	assert_string_equal(F.b.rx[rx0].msg, "replay-me");
	assert_int_equal(after.signals_refused, before.signals_refused + 1);
}

static bool a_down(void *arg)
{
	return F.a.up == 0;
}

static bool a_fresh_and_up(void *arg)
{
	return F.a.up == 1 && F.a.netmaps > F.a.cached && F.b.up == 1;
}

static bool a_got_reply(void *arg)
{
	return F.a.n_rx >= 1 && F.b.n_rx >= 1;
}

/* kill -9 the server: the map survives a client restart from cache, the
 * client probes with backoff, and both come back by themselves. */
static void test_server_down_and_back(void **state)
{
	struct coordc_stats st;
	uint64_t t0;

	coordproc_kill(&F.srv);
	assert_true(run_until(a_down, NULL, 5000));
	/* restart a while the server is down, without an auth key */
	node_stop(&F.a);
	memset(F.a.rx, 0, sizeof(F.a.rx));
	F.a.n_rx = F.b.n_rx = 0;
	F.a.netmaps = F.a.cached = 0;
	assert_int_equal(node_start(&F.a, "alpha", NULL, NULL), 0);
	assert_int_equal(F.a.cached, 1); /* handed over inside coordc_start */
	assert_true(knows_peer(&F.a, &F.b));
	assert_true(run_until(a_down, NULL, 3000));
	/* down for 1.5 s: probes back off (100 ms doubling to 800 ms) */
	run_until(never, NULL, 1500);
	coordc_get_stats(F.a.c, &st);
	assert_true(st.probes >= 2);
	assert_true(st.probes <= 10);
	assert_int_equal(coordc_send(F.a.c, F.b.pk, "while-down", 10), 0);
	/* back: both reconnect within one backoff step and a round trip */
	t0 = clock_now_ms();
	assert_int_equal(coordproc_serve(&F.srv), 0);
	assert_true(run_until(a_fresh_and_up, NULL, 5000));
	print_message("probes in 1.5 s down: %llu; back up %llu ms after the "
		      "server listened\n",
		      (unsigned long long)st.probes,
		      (unsigned long long)(clock_now_ms() - t0));
	assert_true(clock_now_ms() - t0 < 3000);
	/* the queued signal went out once the server was back */
	assert_int_equal(coordc_send(F.b.c, F.a.pk, "after-restart", 13), 0);
	assert_true(run_until(a_got_reply, NULL, 5000));
	assert_string_equal(F.a.rx[0].msg, "after-restart");
	assert_string_equal(F.b.rx[0].msg, "while-down");
}

static void test_pin_mismatch(void **state)
{
	struct tnode d = { 0 };
	struct coordc_stats st;
	char path[400];

	/* the pin of some other key: 32 zero bytes */
	assert_int_equal(
		node_start(
			&d, "delta", F.authkey,
			"sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
		0);
	run_until(never, NULL, 1000);
	assert_null(d.nm);
	assert_false(coordc_is_up(d.c));
	assert_int_equal(d.up, 0);
	coordc_get_stats(d.c, &st);
	assert_true(st.probes >= 1);
	snprintf(path, sizeof(path), "%s/coord.json", d.dir);
	assert_int_not_equal(access(path, F_OK), 0); /* never registered */
	assert_non_null(strstr(F.last_error, "pinned key mismatch"));
	node_stop(&d);
}

static bool has_fatal(void *arg)
{
	return ((struct tnode *)arg)->fatal[0] != '\0';
}

static void test_bad_auth_key(void **state)
{
	struct tnode e = { 0 };

	assert_int_equal(
		node_start(&e, "epsilon",
			   "imk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			   NULL),
		0);
	assert_true(run_until(has_fatal, &e, 5000));
	assert_string_equal(e.fatal, "invalid_auth_key");
	assert_non_null(strstr(F.last_error, "invalid_auth_key"));
	assert_null(e.nm);
	node_stop(&e);
	/* and without any key or saved credential there is nothing to do */
	memset(&e, 0, sizeof(e));
	assert_int_equal(node_start(&e, "zeta", NULL, NULL), -ENOKEY);
	node_stop(&e);
}

struct rereg {
	struct tnode *n;
	uint64_t old_id;
};

static bool reregistered(void *arg)
{
	struct rereg *r = arg;

	return r->n->nm && r->n->nm->self.id != r->old_id;
}

/* Removed by the admin: the credential is refused (401) and the node
 * registers again with its auth key, as a new node. */
static void test_removed_node_registers_again(void **state)
{
	struct tnode h = { 0 };
	struct rereg r = { &h, 0 };
	uint64_t old_id;
	char id[32];

	assert_int_equal(node_start(&h, "eta", F.authkey, NULL), 0);
	assert_true(run_until(has_netmap, &h, 5000));
	old_id = h.nm->self.id;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)old_id);
	assert_int_equal(
		coordproc_cmd(&F.srv, NULL, 0, "nodes", "remove", id, NULL), 0);
	r.old_id = old_id;
	assert_true(run_until(reregistered, &r, 8000));
	assert_int_not_equal(h.nm->self.id, old_id);
	assert_memory_equal(h.nm->self.key, h.pk, 32);
	assert_string_equal(h.fatal, "");
	node_stop(&h);
}

/* A damaged cache is ignored (the node waits for the server), not fatal. */
static void test_corrupt_cache_ignored(void **state)
{
	struct tnode k = { 0 };
	char path[400];
	FILE *f;

	assert_int_equal(node_start(&k, "kappa", F.authkey, NULL), 0);
	assert_true(run_until(has_netmap, &k, 5000));
	node_stop(&k);
	snprintf(path, sizeof(path), "%s/netmap.json", k.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\": 1, \"self\": {", f);
	fclose(f);
	k.netmaps = k.cached = 0;
	assert_int_equal(node_start(&k, "kappa", NULL, NULL), 0);
	assert_int_equal(k.cached, 0);
	assert_null(k.nm);
	assert_true(run_until(has_netmap, &k, 5000));
	assert_int_equal(k.cached, 0);
	node_stop(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_netmap),
		cmocka_unit_test(test_signal_exchange),
		cmocka_unit_test(test_replay_refused),
		cmocka_unit_test(test_server_down_and_back),
		cmocka_unit_test(test_pin_mismatch),
		cmocka_unit_test(test_bad_auth_key),
		cmocka_unit_test(test_removed_node_registers_again),
		cmocka_unit_test(test_corrupt_cache_ignored),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
