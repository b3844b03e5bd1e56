// SPDX-License-Identifier: MIT
/*
 * coordc against a scripted server on 127.0.0.1 (TLS, pinned), for what
 * the real one does not do on demand: 503 and 429 answers, a malformed map,
 * a server that answers polls at once with nothing new, a refused signal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "common/log.h"
#include "coordinator-client/coordc.h"
#include "testsrv.h"

#define PEER_KEY "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define NETWORK                                           \
	"\"network\":{\"ipv4_prefix\":\"100.64.0.0/10\"," \
	"\"ipv6_prefix\":\"fd12:3456:789a::/48\"}"

struct mock {
	pthread_mutex_t mu;
	char self_key[45];
	unsigned health, reg, netmap, sig_get, sig_post;
	bool netmap_since[64]; /* per netmap request: did it carry since=? */
};

static struct mock M = { .mu = PTHREAD_MUTEX_INITIALIZER };

static char *node_json(unsigned id, const char *name, const char *key)
{
	char *s = NULL;

	if (asprintf(&s,
		     "{\"id\":%u,\"name\":\"%s\",\"node_key\":\"%s\","
		     "\"ipv4\":\"100.64.0.%u\",\"ipv6\":\"fd12:3456:789a::%u\","
		     "\"allowed_ips\":[\"100.64.0.%u/32\"],\"online\":true,"
		     "\"last_seen\":0,\"ephemeral\":false}",
		     id, name, key, id, id, id) < 0)
		return NULL;
	return s;
}

static char *netmap_json(void)
{
	char *self = node_json(1, "me", M.self_key);
	char *peer = node_json(2, "peer", PEER_KEY), *s = NULL;

	if (asprintf(&s,
		     "{\"version\":5,\"self\":%s,\"peers\":[%s]," NETWORK
		     ",\"stun\":[],\"turn\":null}",
		     self, peer) < 0)
		s = NULL;
	free(self);
	free(peer);
	return s;
}

static char *error_json(const char *code)
{
	char *s = NULL;

	if (asprintf(&s, "{\"error\":{\"code\":\"%s\",\"message\":\"m\"}}",
		     code) < 0)
		return NULL;
	return s;
}

static void handler(const struct testsrv_req *req, void *arg, unsigned *status,
		    char **body)
{
	bool get = strcmp(req->method, "GET") == 0;
	unsigned n;

	pthread_mutex_lock(&M.mu);
	if (get && strcmp(req->url, "/v1/health") == 0) {
		M.health++;
		*status = 200;
		*body = strdup("{\"status\":\"ok\",\"api\":1}");
	} else if (!get && strcmp(req->url, "/v1/register") == 0) {
		char *node = node_json(1, "me", M.self_key);

		M.reg++;
		*status = 200;
		if (asprintf(body,
			     "{\"node\":%s,\"credential\":\"imc_test\","
			     "\"created\":true," NETWORK "}",
			     node) < 0)
			*body = NULL;
		free(node);
	} else if (get && strcmp(req->url, "/v1/netmap") == 0) {
		n = ++M.netmap;
		if (n < 64)
			M.netmap_since[n] = req->since != NULL;
		if (n <= 2) {
			*status = 503;
			*body = error_json("unavailable");
		} else if (n == 3) {
			*status = 200;
			*body = strdup("{\"version\":5,\"self\":");
		} else {
			/* the same version, at once, every time */
			*status = 200;
			*body = netmap_json();
		}
	} else if (get && strcmp(req->url, "/v1/signal") == 0) {
		n = ++M.sig_get;
		*status = n == 1 ? 429 : 200;
		*body = n == 1 ? error_json("too_many_polls")
			       : strdup("{\"messages\":[],\"cursor\":0}");
	} else if (!get && strcmp(req->url, "/v1/signal") == 0) {
		M.sig_post++;
		*status = 404;
		*body = error_json("unknown_node");
	} else {
		*status = 404;
		*body = error_json("not_found");
	}
	pthread_mutex_unlock(&M.mu);
}

struct seen {
	unsigned netmaps, ups, downs;
	char fatal[64];
};

static void cb_netmap(const struct coordc_netmap *nm, bool from_cache,
		      void *arg)
{
	((struct seen *)arg)->netmaps++;
}

static void cb_conn(bool up, void *arg)
{
	struct seen *s = arg;

	if (up)
		s->ups++;
	else
		s->downs++;
}

static void cb_fatal(const char *code, void *arg)
{
	snprintf(((struct seen *)arg)->fatal, 64, "%s", code);
}

static void on_guard(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static void run_for(uv_loop_t *loop, unsigned ms, bool (*pred)(void *),
		    void *arg)
{
	uv_timer_t guard;
	bool expired = false;

	uv_timer_init(loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, on_guard, ms, 0);
	while (!expired && !(pred && pred(arg)))
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static bool got_map(void *arg)
{
	return ((struct seen *)arg)->netmaps > 0;
}

static bool got_fresh(void *arg)
{
	return ((struct seen *)arg)->netmaps > 1;
}

static unsigned count(unsigned *field)
{
	unsigned v;

	pthread_mutex_lock(&M.mu);
	v = *field;
	pthread_mutex_unlock(&M.mu);
	return v;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void quiet(enum log_level level, const char *topic, const char *line,
		  void *arg)
{
}

static void test_retries_and_no_spin(void **state)
{
	struct testsrv_cert cert;
	struct testsrv *srv;
	struct seen seen = { 0 };
	struct coordc_stats st;
	char dir[] = "/tmp/icemesh-coordc-mock-XXXXXX", url[64];
	uint8_t peer[32];
	uv_loop_t loop;
	struct coordc *c;
	struct coordc_config cfg = {
		.url = url,
		.state_dir = dir,
		.auth_key = "imk_test",
		.poll_wait_s = 30,
		.backoff_base_ms = 100,
		.backoff_max_ms = 800,
		.request_timeout_ms = 3000,
		.cb = { cb_netmap, NULL, cb_conn, cb_fatal, &seen },
	};

	log_set_sink(quiet, NULL);
	assert_int_equal(sodium_init() < 0, 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(testsrv_cert_make(&cert), 0);
	srv = testsrv_start(&cert, 0, handler, NULL);
	assert_non_null(srv);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", testsrv_port(srv));
	cfg.pin = cert.pin;
	crypto_box_keypair(cfg.node_pk, cfg.node_sk);
	sodium_bin2base64(M.self_key, sizeof(M.self_key), cfg.node_pk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	c = coordc_new(&loop, &cfg);
	assert_non_null(c);
	assert_int_equal(coordc_start(c), 0);

	/* 503, 503, malformed, then the map: three backoffs, then it lands */
	run_for(&loop, 3000, got_map, &seen);
	assert_int_equal(seen.netmaps, 1);
	/* the 4th brought the map; a 5th went out at once for the next one */
	assert_true(count(&M.netmap) >= 4 && count(&M.netmap) <= 5);
	assert_int_equal(count(&M.reg), 1);

	/* a signal the server refuses for good is dropped, not retried */
	assert_int_equal(coordc_key_from_b64(PEER_KEY, peer), 0);
	assert_int_equal(coordc_send(c, peer, "offer", 5), 0);
	run_for(&loop, 2000, NULL, NULL);
	assert_int_equal(count(&M.sig_post), 1);
	coordc_get_stats(c, &st);
	assert_int_equal(st.signals_dropped, 1);
	assert_int_equal(st.signals_out, 0);
	assert_true(st.requests_failed >= 4); /* 503, 503, malformed, 429 */

	/*
	 * Both polls are answered at once with nothing new: at most one poll
	 * a second each (a spinning client would make thousands).
	 */
	assert_true(count(&M.netmap) <= 4 + 3);
	assert_true(count(&M.sig_get) <= 1 + 4);
	assert_true(count(&M.sig_get) >= 2); /* the 429 was retried */
	assert_int_equal(seen.netmaps, 1); /* the same version, not again */
	assert_int_equal(seen.ups, 1);
	assert_int_equal(seen.downs, 0);
	assert_string_equal(seen.fatal, "");
	assert_true(coordc_is_up(c));
	assert_true(M.netmap_since[5]); /* after a fresh map: since= */

	/*
	 * Started again on the same state (a daemon reload or restart): the
	 * cached map is handed over, but the first poll does not offer its
	 * version, or a server with nothing new would hold it until the next
	 * change and the node would wait that long for a fresh map.
	 */
	coordc_free(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	memset(&seen, 0, sizeof(seen));
	unsigned n0 = count(&M.netmap);
	c = coordc_new(&loop, &cfg);
	assert_non_null(c);
	assert_int_equal(coordc_start(c), 0);
	assert_int_equal(seen.netmaps, 1); /* the cached one, inside start */
	run_for(&loop, 3000, got_fresh, &seen);
	assert_int_equal(seen.netmaps, 2); /* and the fresh one */
	/* a poll of the old client may still reach the server after n0, so
	 * look for the new client's first poll among all that came since */
	bool asked_fresh = false;
	unsigned n1 = count(&M.netmap);

	assert_true(n1 > n0 && n1 < 64);
	pthread_mutex_lock(&M.mu);
	for (unsigned k = n0 + 1; k <= n1; k++)
		asked_fresh |= !M.netmap_since[k];
	pthread_mutex_unlock(&M.mu);
	assert_true(asked_fresh);

	coordc_free(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	testsrv_stop(srv);
	testsrv_cert_free(&cert);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retries_and_no_spin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
