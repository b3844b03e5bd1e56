// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/clock.h"
#include "coordinator-client/http.h"
#include "testsrv.h"

struct fix {
	uv_loop_t loop;
	struct testsrv_cert cert, other;
	struct testsrv *srv;
	char url[128];
};

struct result {
	bool done;
	int ret;
	long status;
	char body[256];
	size_t len;
};

/* GET /echo -> 200 {"method","auth","body"}; /slow -> sleeps 300 ms;
 * /hang -> sleeps 1 s; /big -> 64 KiB */
static void handler(const struct testsrv_req *req, void *arg, unsigned *status,
		    char **body)
{
	if (strcmp(req->url, "/slow") == 0) {
		usleep(300000);
	} else if (strcmp(req->url, "/hang") == 0) {
		usleep(1000000);
	} else if (strcmp(req->url, "/big") == 0) {
		*body = malloc(65537);
		memset(*body, 'x', 65536);
		(*body)[65536] = '\0';
		*status = 200;
		return;
	}
	*status = strcmp(req->url, "/missing") == 0 ? 404 : 200;
	if (asprintf(body, "%s|%s|%.*s", req->method,
		     req->auth ? req->auth : "-", (int)req->body_len,
		     req->body) < 0)
		*body = NULL;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f || uv_loop_init(&f->loop) || testsrv_cert_make(&f->cert) ||
	    testsrv_cert_make(&f->other))
		return -1;
	f->srv = testsrv_start(&f->cert, 0, handler, NULL);
	if (!f->srv)
		return -1;
	snprintf(f->url, sizeof(f->url), "https://127.0.0.1:%u",
		 testsrv_port(f->srv));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	testsrv_stop(f->srv);
	testsrv_cert_free(&f->cert);
	testsrv_cert_free(&f->other);
	uv_run(&f->loop, UV_RUN_DEFAULT); /* let closing handles finish */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void on_done(int ret, long status, const char *body, size_t len,
		    void *arg)
{
	struct result *r = arg;

	r->done = true;
	r->ret = ret;
	r->status = status;
	r->len = len;
	snprintf(r->body, sizeof(r->body), "%s", body);
}

static void on_guard(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Run the loop until every result is done, or 5 s pass. */
static void run_until(uv_loop_t *loop, struct result *r, size_t n)
{
	uv_timer_t guard;
	bool expired = false;

	uv_timer_init(loop, &guard);
	guard.data = &expired;
	uv_timer_start(&guard, on_guard, 5000, 0);
	for (;;) {
		size_t i;

		for (i = 0; i < n && r[i].done; i++)
			;
		if (i == n || expired)
			break;
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_false(expired);
}

static int get(struct fix *f, const struct coordc_http_config *cfg,
	       const char *url, uint32_t timeout_ms, struct result *r)
{
	struct coordc_http *http = coordc_http_new(&f->loop, cfg);
	struct coordc_http_request req = { .method = "GET",
					   .url = url,
					   .timeout_ms = timeout_ms };

	assert_non_null(http);
	memset(r, 0, sizeof(*r));
	assert_int_equal(coordc_http_start(http, &req, on_done, r, NULL), 0);
	run_until(&f->loop, r, 1);
	coordc_http_free(http);
	return r->ret;
}

static void test_pin(void **state)
{
	struct fix *f = *state;
	struct coordc_http_config cfg = { .pin = f->cert.pin };
	struct result r;
	char url[160];

	snprintf(url, sizeof(url), "%s/echo", f->url);
	assert_int_equal(get(f, &cfg, url, 3000, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET|-|");
	/* a non-2xx answer is still an answer */
	snprintf(url, sizeof(url), "%s/missing", f->url);
	assert_int_equal(get(f, &cfg, url, 3000, &r), 0);
	assert_int_equal(r.status, 404);
}

static void test_pin_mismatch(void **state)
{
	struct fix *f = *state;
	struct coordc_http_config cfg = { .pin = f->other.pin };
	unsigned before = testsrv_count(f->srv);
	struct result r;
	char url[160];

	snprintf(url, sizeof(url), "%s/echo", f->url);
	assert_int_equal(get(f, &cfg, url, 3000, &r), -EKEYREJECTED);
	/* the request never reached the handler */
	assert_int_equal(testsrv_count(f->srv), before);
}

static void test_ca_file(void **state)
{
	struct fix *f = *state;
	char dir[] = "/tmp/icemesh-http-XXXXXX", ca[64], other[64], url[160];
	struct coordc_http_config cfg = { .ca_file = ca };
	struct result r;

	assert_non_null(mkdtemp(dir));
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(other, sizeof(other), "%s/other.pem", dir);
	assert_int_equal(testsrv_cert_write(&f->cert, ca), 0);
	assert_int_equal(testsrv_cert_write(&f->other, other), 0);
	snprintf(url, sizeof(url), "%s/echo", f->url);
	assert_int_equal(get(f, &cfg, url, 3000, &r), 0);
	assert_int_equal(r.status, 200);
	/* CA and pin both: both must hold */
	cfg.pin = f->other.pin;
	assert_int_equal(get(f, &cfg, url, 3000, &r), -EKEYREJECTED);
	/* a CA that did not sign the server's certificate */
	cfg.pin = NULL;
	cfg.ca_file = other;
	assert_int_equal(get(f, &cfg, url, 3000, &r), -EPROTO);
	/* the system store does not know a self-signed certificate */
	cfg.ca_file = NULL;
	assert_int_equal(get(f, &cfg, url, 3000, &r), -EPROTO);
	unlink(ca);
	unlink(other);
	rmdir(dir);
}

static void test_post_bearer(void **state)
{
	struct fix *f = *state;
	struct coordc_http_config cfg = { .pin = f->cert.pin };
	struct coordc_http *http = coordc_http_new(&f->loop, &cfg);
	char url[160];
	struct coordc_http_request req = { .method = "POST",
					   .url = url,
					   .bearer = "imc_abc",
					   .body = "{\"a\":1}",
					   .body_len = 7,
					   .timeout_ms = 3000 };
	struct result r = { 0 };

	snprintf(url, sizeof(url), "%s/echo", f->url);
	assert_int_equal(coordc_http_start(http, &req, on_done, &r, NULL), 0);
	run_until(&f->loop, &r, 1);
	assert_int_equal(r.ret, 0);
	assert_string_equal(r.body, "POST|Bearer imc_abc|{\"a\":1}");
	req.method = "DELETE";
	assert_int_equal(coordc_http_start(http, &req, on_done, &r, NULL),
			 -EINVAL);
	coordc_http_free(http);
}

static void test_errors(void **state)
{
	struct fix *f = *state;
	struct coordc_http_config cfg = { .pin = f->cert.pin,
					  .max_response = 1024 };
	struct result r;
	char url[160];
	uint16_t port = testsrv_port(f->srv);
	uint64_t t0;

	snprintf(url, sizeof(url), "%s/big", f->url);
	assert_int_equal(get(f, &cfg, url, 3000, &r), -EMSGSIZE);
	t0 = clock_now_ms();
	snprintf(url, sizeof(url), "%s/hang", f->url);
	assert_int_equal(get(f, &cfg, url, 300, &r), -ETIMEDOUT);
	assert_true(clock_now_ms() - t0 < 2000);
	/* a port nobody listens on: our own server's, once stopped */
	testsrv_stop(f->srv);
	f->srv = NULL;
	snprintf(url, sizeof(url), "%s/echo", f->url);
	assert_int_equal(get(f, &cfg, url, 3000, &r), -ECONNREFUSED);
	/* plain http is refused unless allowed */
	assert_int_equal(get(f, &cfg, "http://127.0.0.1:1/x", 3000, &r),
			 -EPROTO);
	f->srv = testsrv_start(&f->cert, port, handler, NULL);
	assert_non_null(f->srv);
}

static void on_tick(uv_timer_t *t)
{
	(*(unsigned *)t->data)++;
}

/* Ten slow requests at once finish together, and the loop keeps turning. */
static void test_concurrent_nonblocking(void **state)
{
	struct fix *f = *state;
	struct coordc_http_config cfg = { .pin = f->cert.pin };
	struct coordc_http *http = coordc_http_new(&f->loop, &cfg);
	char url[160];
	struct coordc_http_request req = { .method = "GET",
					   .url = url,
					   .timeout_ms = 3000 };
	struct result r[10];
	unsigned ticks = 0;
	uv_timer_t tick;
	uint64_t t0 = clock_now_ms(), took;

	memset(r, 0, sizeof(r));
	snprintf(url, sizeof(url), "%s/slow", f->url);
	uv_timer_init(&f->loop, &tick);
	tick.data = &ticks;
	uv_timer_start(&tick, on_tick, 10, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(
			coordc_http_start(http, &req, on_done, &r[i], NULL), 0);
	assert_int_equal(coordc_http_inflight(http), 10);
	run_until(&f->loop, r, 10);
	took = clock_now_ms() - t0;
	print_message("10 requests of 300 ms each: %llu ms, %u ticks\n",
		      (unsigned long long)took, ticks);
	for (int i = 0; i < 10; i++)
		assert_int_equal(r[i].ret, 0);
	/* one after the other would take 3 s; TLS on 2 busy cores adds some */
	assert_true(took < 2500);
	/* a 10 ms timer kept firing while the requests were out */
	assert_true(ticks >= 10);
	assert_int_equal(coordc_http_inflight(http), 0);
	uv_close((uv_handle_t *)&tick, NULL);
	coordc_http_free(http);
	uv_run(&f->loop, UV_RUN_NOWAIT); /* tick lives on this stack */
}

static void on_never(int ret, long status, const char *body, size_t len,
		     void *arg)
{
	fail_msg("callback of a cancelled request ran");
}

static void test_cancel(void **state)
{
	struct fix *f = *state;
	struct coordc_http_config cfg = { .pin = f->cert.pin };
	struct coordc_http *http = coordc_http_new(&f->loop, &cfg);
	char url[160];
	struct coordc_http_request req = { .method = "GET",
					   .url = url,
					   .timeout_ms = 3000 };
	struct coordc_http_xfer *x = NULL;
	struct result r = { 0 };

	snprintf(url, sizeof(url), "%s/slow", f->url);
	assert_int_equal(coordc_http_start(http, &req, on_never, NULL, &x), 0);
	assert_int_equal(coordc_http_start(http, &req, on_done, &r, NULL), 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	coordc_http_cancel(x);
	run_until(&f->loop, &r, 1);
	assert_int_equal(r.ret, 0);
	/* freed with a request still out: no callback, no leak (ASan) */
	assert_int_equal(coordc_http_start(http, &req, on_never, NULL, NULL),
			 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	coordc_http_free(http);
}

static void test_backoff(void **state)
{
	/* bounds: [d/2, d] with d = min(max, base * 2^n) */
	static const struct {
		unsigned attempt;
		uint64_t lo, hi;
	} t[] = {
		{ 0, 250, 500 },	{ 1, 500, 1000 },
		{ 2, 1000, 2000 },	{ 5, 8000, 16000 },
		{ 6, 15000, 30000 },	{ 60, 15000, 30000 },
		{ 1000, 15000, 30000 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(coordc_backoff_ms(t[i].attempt, 500, 30000, 0),
				 t[i].lo);
		assert_int_equal(
			coordc_backoff_ms(t[i].attempt, 500, 30000,
					  (uint32_t)(t[i].hi - t[i].lo)),
			t[i].hi);
		for (uint32_t rnd = 0; rnd < 100000; rnd += 997) {
			uint64_t d = coordc_backoff_ms(t[i].attempt, 500, 30000,
						       rnd * 7919u);

			assert_true(d >= t[i].lo && d <= t[i].hi);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_pin_mismatch),
		cmocka_unit_test(test_ca_file),
		cmocka_unit_test(test_post_bearer),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_concurrent_nonblocking),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
