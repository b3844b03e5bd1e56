// SPDX-License-Identifier: MIT
/*
 * kill -9 of the real server in the middle of registrations and of a
 * stream of signals; after a restart on the same state directory nothing
 * that was answered is lost, and retries (as a client does them) duplicate
 * nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord_harness.h"

#define NREG 40
#define NSIGNALS 200

struct reg {
	pthread_t t;
	struct harness *h;
	char *authkey;
	uint8_t key[32];
	int ret;
	long status;
	uint64_t id;
	char ipv4[32];
	char cred[64];
};

static atomic_int answered;

static void parse_reg(struct reg *g, struct resp *r)
{
	json_t *node = json_object_get(r->json, "node");

	g->status = r->status;
	if (r->status != 200)
		return;
	g->id = (uint64_t)json_integer_value(json_object_get(node, "id"));
	snprintf(g->ipv4, sizeof(g->ipv4), "%s",
		 json_string_value(json_object_get(node, "ipv4")));
	snprintf(g->cred, sizeof(g->cred), "%s",
		 json_string_value(json_object_get(r->json, "credential")));
}

static void *reg_main(void *arg)
{
	struct reg *g = arg;
	struct resp r;

	g->ret = h_register(g->h, g->authkey, g->key, NULL, &r);
	if (g->ret == 0)
		parse_reg(g, &r);
	resp_free(&r);
	atomic_fetch_add(&answered, 1);
	return NULL;
}

static void wait_answered(int n)
{
	struct timespec ts = { 0, 1000000L };
	uint64_t deadline = h_now_ms() + 10000;

	while (atomic_load(&answered) < n && h_now_ms() < deadline)
		nanosleep(&ts, NULL);
}

static void test_kill_mid_registration(void **state)
{
	struct harness h;
	struct reg g[NREG];
	int ok_before = 0, cut = 0, committed_unanswered = 0;
	char seen_ip[NREG][32];
	struct resp r;

	assert_int_equal(h_init(&h, NULL), 0);
	for (int i = 0; i < NREG; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		g[i].h = &h;
		g[i].authkey = h_authkey(&h, false, false, 0); /* single-use */
		assert_non_null(g[i].authkey);
		h_node_key(g[i].key);
	}
	assert_int_equal(h_start(&h), 0);
	atomic_store(&answered, 0);
	for (int i = 0; i < NREG; i++)
		pthread_create(&g[i].t, NULL, reg_main, &g[i]);
	wait_answered(NREG / 4);
	h_stop(&h, SIGKILL);
	for (int i = 0; i < NREG; i++) {
		pthread_join(g[i].t, NULL);
		if (g[i].ret == 0 && g[i].status == 200)
			ok_before++;
		else
			cut++;
	}
	print_message("registrations answered before kill -9: %d, cut: %d\n",
		      ok_before, cut);
	assert_true(ok_before >= NREG / 4);

	assert_int_equal(h_start(&h), 0);
	/* everything answered survived: its credential works, same address */
	for (int i = 0; i < NREG; i++) {
		json_t *self;
		if (g[i].status != 200)
			continue;
		assert_int_equal(h_http(&h, "GET", "/v1/netmap", g[i].cred,
					NULL, NULL, 0, &r),
				 0);
		assert_int_equal(r.status, 200);
		self = json_object_get(r.json, "self");
		assert_int_equal(
			json_integer_value(json_object_get(self, "id")),
			g[i].id);
		assert_string_equal(
			json_string_value(json_object_get(self, "ipv4")),
			g[i].ipv4);
		resp_free(&r);
	}
	/* every client retries with its single-use key: all succeed, the
	 * committed ones get their identity back, nobody twice */
	for (int i = 0; i < NREG; i++) {
		struct reg again = g[i];
		assert_int_equal(
			h_register(&h, g[i].authkey, g[i].key, NULL, &r), 0);
		assert_int_equal(r.status, 200);
		parse_reg(&again, &r);
		if (g[i].status == 200) {
			assert_int_equal(again.id, g[i].id);
			assert_string_equal(again.ipv4, g[i].ipv4);
			assert_false(json_is_true(
				json_object_get(r.json, "created")));
		} else if (!json_is_true(json_object_get(r.json, "created"))) {
			committed_unanswered++;
		}
		snprintf(seen_ip[i], sizeof(seen_ip[i]), "%s", again.ipv4);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(seen_ip[j], seen_ip[i]);
		resp_free(&r);
	}
	print_message("committed but never answered, recovered by retry: %d\n",
		      committed_unanswered);
	assert_int_equal(h_count(&h, "nodes"), NREG);
	assert_int_equal(h_count(&h, "slots"), NREG);
	h_stop(&h, SIGTERM);
	h_cleanup(&h);
	for (int i = 0; i < NREG; i++)
		free(g[i].authkey);
}

struct sender {
	pthread_t t;
	struct harness *h;
	char cred[64];
	uint64_t to;
	int next; /* first message not yet answered */
	uint64_t seq[NSIGNALS];
};

static void *send_main(void *arg)
{
	struct sender *s = arg;
	char id[16], payload[64];
	struct resp r;

	for (; s->next < NSIGNALS; s->next++) {
		snprintf(id, sizeof(id), "s%03d", s->next);
		snprintf(payload, sizeof(payload), "payload-%03d", s->next);
		if (h_signal(s->h, s->cred, s->to, id, payload, strlen(payload),
			     &r) != 0 ||
		    r.status != 200) {
			resp_free(&r);
			break;
		}
		s->seq[s->next] = (uint64_t)json_integer_value(
			json_object_get(r.json, "seq"));
		resp_free(&r);
		atomic_fetch_add(&answered, 1);
	}
	return NULL;
}

static void node(struct harness *h, const char *authkey, char cred[64],
		 uint64_t *id)
{
	uint8_t key[32];
	struct resp r;

	h_node_key(key);
	assert_int_equal(h_register(h, authkey, key, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	snprintf(cred, 64, "%s",
		 json_string_value(json_object_get(r.json, "credential")));
	*id = (uint64_t)json_integer_value(
		json_object_get(json_object_get(r.json, "node"), "id"));
	resp_free(&r);
}

static void test_kill_mid_signal(void **state)
{
	struct harness h;
	struct sender s = { 0 };
	char bcred[64], path[96], expect[16];
	uint64_t aid, bid, after = 0, last_seq = 0;
	int got = 0, before;
	char *key;
	struct resp r;

	assert_int_equal(h_init(&h, NULL), 0);
	key = h_authkey(&h, true, false, 0);
	assert_int_equal(h_start(&h), 0);
	node(&h, key, s.cred, &aid);
	node(&h, key, bcred, &bid);
	s.h = &h;
	s.to = bid;
	atomic_store(&answered, 0);
	pthread_create(&s.t, NULL, send_main, &s);
	wait_answered(NSIGNALS / 4);
	h_stop(&h, SIGKILL);
	pthread_join(s.t, NULL);
	before = s.next;
	print_message("signals answered before kill -9: %d\n", before);
	assert_true(before >= NSIGNALS / 4 && before < NSIGNALS);

	/* the sender retries from its first unanswered message */
	assert_int_equal(h_start(&h), 0);
	send_main(&s);
	assert_int_equal(s.next, NSIGNALS);
	for (int i = 1; i < NSIGNALS; i++)
		assert_true(s.seq[i] > s.seq[i - 1]);

	/* the recipient gets each exactly once, in order, acking as it goes */
	for (;;) {
		json_t *m;
		size_t i;
		snprintf(path, sizeof(path), "/v1/signal?after=%llu&limit=7",
			 (unsigned long long)after);
		assert_int_equal(
			h_http(&h, "GET", path, bcred, NULL, NULL, 0, &r), 0);
		if (r.status == 204) {
			resp_free(&r);
			break;
		}
		assert_int_equal(r.status, 200);
		json_array_foreach(json_object_get(r.json, "messages"), i, m)
		{
			uint64_t seq = (uint64_t)json_integer_value(
				json_object_get(m, "seq"));
			snprintf(expect, sizeof(expect), "s%03d", got);
			assert_string_equal(
				json_string_value(json_object_get(m, "id")),
				expect);
			assert_true(seq > last_seq);
			assert_int_equal(seq, s.seq[got]);
			last_seq = seq;
			got++;
		}
		after = (uint64_t)json_integer_value(
			json_object_get(r.json, "cursor"));
		resp_free(&r);
		assert_true(got <= NSIGNALS);
	}
	assert_int_equal(got, NSIGNALS);
	assert_int_equal(h_count(&h, "signals"), NSIGNALS);
	h_stop(&h, SIGTERM);
	h_cleanup(&h);
	free(key);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_mid_registration),
		cmocka_unit_test(test_kill_mid_signal),
	};
	int ret = h_child_main(argc, argv);

	if (ret >= 0)
		return ret;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || sodium_init() < 0)
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
