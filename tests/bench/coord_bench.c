// SPDX-License-Identifier: MIT
/*
 * Load benchmark for icemesh-coord, on loopback: N simulated nodes register,
 * then all of them hold a network-map long-poll and a signal long-poll at
 * once (2N TLS connections); a map change is fanned out to all of them, and
 * signals are relayed between random pairs. Prints registrations/s, the
 * fan-out time, signal latency p50/p99 and the server's peak memory.
 *
 *   coord_bench PORT PIN AUTHKEY NODES SIGNALS SERVER_PID
 *
 * Run by tests/bench/coord_bench.sh, which builds it and starts the server.
 * Every phase has a deadline; the program fails instead of hanging.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { K_REGISTER, K_MAP, K_SIGNAL_GET, K_SIGNAL_POST };

struct node {
	uint64_t id;
	char cred[64];
	uint64_t version, cursor;
	uint64_t map_at_us; /* last 200 map arrival */
};

struct xfer {
	CURL *e;
	enum kind kind;
	int node;
	int msg; /* K_SIGNAL_POST: message index */
	struct curl_slist *hdr;
	char *body;
	size_t len;
	char *post;
};

static CURLM *multi;
static const char *pin, *authkey;
static unsigned port;
static struct node *nodes;
static int n_nodes;
static int active;
static bool failed;
static uint64_t *sent_us, *recv_us;
static int n_signals, signals_received;
static int map_responses;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	char *b;

	/* A map only matters for its version, which comes first: keep the
	 * head and count the rest, so the client is not what is measured. */
	if (x->kind == K_MAP && x->len >= 64) {
		x->len += size * n;
		return size * n;
	}
	b = realloc(x->body, x->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + x->len, p, size * n);
	x->body = b;
	x->len += size * n;
	b[x->len] = '\0';
	return size * n;
}

static void start(enum kind kind, int node, int msg, const char *path,
		  char *post)
{
	struct xfer *x = calloc(1, sizeof(*x));
	char url[256], auth[128];

	x->e = curl_easy_init();
	x->kind = kind;
	x->node = node;
	x->msg = msg;
	x->post = post;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(x->e, CURLOPT_URL, url);
	curl_easy_setopt(x->e, CURLOPT_PINNEDPUBLICKEY, pin);
	curl_easy_setopt(x->e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(x->e, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(x->e, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(x->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
	if (kind != K_REGISTER) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 nodes[node].cred);
		x->hdr = curl_slist_append(x->hdr, auth);
	}
	if (post) {
		x->hdr = curl_slist_append(x->hdr,
					   "Content-Type: application/json");
		x->hdr = curl_slist_append(x->hdr, "Expect:");
		curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, post);
	}
	curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdr);
	curl_multi_add_handle(multi, x->e);
	active++;
}

static void start_register(int i)
{
	uint8_t key[32];
	char k64[64], *post = malloc(256);

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(k64, sizeof(k64), key, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(post, 256, "{\"auth_key\":\"%s\",\"node_key\":\"%s\"}",
		 authkey, k64);
	start(K_REGISTER, i, 0, "/v1/register", post);
}

static void start_map(int i)
{
	char path[96];

	if (nodes[i].version)
		snprintf(path, sizeof(path), "/v1/netmap?since=%llu&wait=60",
			 (unsigned long long)nodes[i].version);
	else
		snprintf(path, sizeof(path), "/v1/netmap");
	start(K_MAP, i, 0, path, NULL);
}

static void start_signal_get(int i)
{
	char path[96];

	snprintf(path, sizeof(path), "/v1/signal?after=%llu&wait=60",
		 (unsigned long long)nodes[i].cursor);
	start(K_SIGNAL_GET, i, 0, path, NULL);
}

static void start_signal_post(int msg, int from, int to)
{
	char *post = malloc(160), b64[32];
	uint8_t raw[8];

	for (int i = 0; i < 8; i++)
		raw[i] = (uint8_t)((uint64_t)msg >> (8 * i));
	sodium_bin2base64(b64, sizeof(b64), raw, 8,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(post, 160, "{\"to\":%llu,\"id\":\"b%d\",\"payload\":\"%s\"}",
		 (unsigned long long)nodes[to].id, msg, b64);
	sent_us[msg] = now_us();
	start(K_SIGNAL_POST, from, msg, "/v1/signal", post);
}

static void got_signals(struct xfer *x, json_t *j, uint64_t t)
{
	size_t i;
	json_t *m;

	json_array_foreach(json_object_get(j, "messages"), i, m)
	{
		const char *p =
			json_string_value(json_object_get(m, "payload"));
		uint8_t raw[8];
		size_t got = 0;
		uint64_t msg = 0;
		if (!p ||
		    sodium_base642bin(raw, 8, p, strlen(p), NULL, &got, NULL,
				      sodium_base64_VARIANT_ORIGINAL) ||
		    got != 8)
			continue;
		for (int b = 0; b < 8; b++)
			msg |= (uint64_t)raw[b] << (8 * b);
		if (msg < (uint64_t)n_signals && !recv_us[msg]) {
			recv_us[msg] = t;
			signals_received++;
		}
	}
	nodes[x->node].cursor =
		(uint64_t)json_integer_value(json_object_get(j, "cursor"));
}

/* A transfer ended: record what it says, and re-arm long-polls. */
static void done(struct xfer *x, CURLcode rc)
{
	uint64_t t = now_us();
	long status = 0;
	json_t *j = NULL;

	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	if (x->body && x->kind != K_MAP)
		j = json_loads(x->body, 0, NULL);
	if (rc != CURLE_OK || (status != 200 && status != 204)) {
		fprintf(stderr, "kind %d node %d: curl %d status %ld %s\n",
			x->kind, x->node, rc, status, x->body ? x->body : "");
		failed = true;
	} else if (x->kind == K_REGISTER) {
		nodes[x->node].id = (uint64_t)json_integer_value(
			json_object_get(json_object_get(j, "node"), "id"));
		snprintf(nodes[x->node].cred, sizeof(nodes[0].cred), "%s",
			 json_string_value(json_object_get(j, "credential")));
	} else if (x->kind == K_MAP) {
		if (status == 200) {
			const char *v =
				x->body ? strstr(x->body, "{\"version\":")
					: NULL;
			if (!v || strncmp(x->body, "{\"version\":", 11) != 0) {
				fprintf(stderr, "map without version\n");
				failed = true;
			}
			nodes[x->node].version =
				v ? strtoull(v + 11, NULL, 10) : 0;
			nodes[x->node].map_at_us = t;
			map_responses++;
		}
		start_map(x->node);
	} else if (x->kind == K_SIGNAL_GET) {
		if (status == 200)
			got_signals(x, j, t);
		start_signal_get(x->node);
	}
	json_decref(j);
	curl_multi_remove_handle(multi, x->e);
	curl_easy_cleanup(x->e);
	curl_slist_free_all(x->hdr);
	free(x->body);
	free(x->post);
	free(x);
	active--;
}

static void pump(int timeout_ms)
{
	struct CURLMsg *m;
	int running, left;

	curl_multi_perform(multi, &running);
	curl_multi_poll(multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(multi, &running);
	while ((m = curl_multi_info_read(multi, &left))) {
		struct xfer *x;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &x);
		done(x, m->data.result);
	}
}

static void die_if(bool cond, const char *what)
{
	if (cond) {
		fprintf(stderr, "coord_bench: %s\n", what);
		exit(1);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static long peak_kb(const char *pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Wait until no map answer arrived for quiet_ms (all nodes current). */
static void settle_maps(int quiet_ms, int limit_s)
{
	uint64_t deadline = now_us() + (uint64_t)limit_s * 1000000;
	int last = -1;
	uint64_t since = now_us();

	while (now_us() < deadline) {
		pump(50);
		die_if(failed, "a request failed while settling");
		if (map_responses != last) {
			last = map_responses;
			since = now_us();
		} else if (now_us() - since >= (uint64_t)quiet_ms * 1000) {
			return;
		}
	}
	die_if(true, "maps did not settle in time");
}

static void run_signals(int first, int count, int inflight)
{
	uint64_t t0 = now_us(), t1, *lat;
	uint64_t deadline = t0 + 180 * 1000000ULL;
	int next = first, want = first + count, nl = 0;

	while (signals_received < want && now_us() < deadline) {
		while (next < want && next - signals_received < inflight) {
			int a = (int)randombytes_uniform((uint32_t)n_nodes);
			int b = (int)randombytes_uniform((uint32_t)n_nodes - 1);
			start_signal_post(next++, a, b >= a ? b + 1 : b);
		}
		pump(1);
		die_if(failed, "signal failed");
	}
	die_if(signals_received < want, "signals timed out");
	t1 = now_us();
	lat = calloc((size_t)count, sizeof(uint64_t));
	for (int i = first; i < want; i++)
		lat[nl++] = recv_us[i] - sent_us[i];
	qsort(lat, (size_t)nl, sizeof(uint64_t), cmp_u64);
	printf("signals, %2d in flight: %d relayed in %.2f s (%.0f/s); latency "
	       "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       inflight, count, (double)(t1 - t0) / 1e6,
	       count / ((double)(t1 - t0) / 1e6), (double)lat[nl / 2] / 1000.0,
	       (double)lat[(size_t)nl * 99 / 100] / 1000.0,
	       (double)lat[nl - 1] / 1000.0);
	free(lat);
}

int main(int argc, char **argv)
{
	uint64_t t0, t1, deadline;
	int next = 0, inflight_limit = 32, n_unloaded;

	if (argc != 7) {
		fprintf(stderr, "usage: coord_bench PORT PIN AUTHKEY NODES "
				"SIGNALS SERVER_PID\n");
		return 2;
	}
	port = (unsigned)atoi(argv[1]);
	pin = argv[2];
	authkey = argv[3];
	n_nodes = atoi(argv[4]);
	n_signals = atoi(argv[5]);
	die_if(n_nodes < 2 || n_nodes > 20000 || n_signals < 2 ||
		       n_signals > 1000000,
	       "bad counts");
	/* the first tenth (at most 200) go one at a time */
	n_unloaded = n_signals / 10 > 200 ? 200 : n_signals / 10;
	if (n_unloaded < 1)
		n_unloaded = 1;
	die_if(sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT),
	       "init");
	nodes = calloc((size_t)n_nodes + 1, sizeof(*nodes));
	sent_us = calloc((size_t)n_signals, sizeof(uint64_t));
	recv_us = calloc((size_t)n_signals, sizeof(uint64_t));
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
			  (long)(2 * n_nodes + 256));

	/* 1. registrations, 32 in flight */
	t0 = now_us();
	deadline = t0 + 120 * 1000000ULL;
	while ((next < n_nodes || active) && now_us() < deadline) {
		while (next < n_nodes && active < inflight_limit)
			start_register(next++);
		pump(10);
		die_if(failed, "registration failed");
	}
	die_if(active || next < n_nodes, "registrations timed out");
	t1 = now_us();
	printf("registrations: %d in %.2f s = %.0f/s\n", n_nodes,
	       (double)(t1 - t0) / 1e6, n_nodes / ((double)(t1 - t0) / 1e6));

	/* 2. every node long-polls its map and its signals */
	t0 = now_us();
	for (int i = 0; i < n_nodes; i++) {
		start_map(i);
		start_signal_get(i);
		if (i % 64 == 63)
			pump(0);
	}
	settle_maps(3000, 180);
	printf("long-polls held: %d (map + signal per node), settled in "
	       "%.2f s\n",
	       active, (double)(now_us() - t0) / 1e6);

	/* 3. one map change (a new node) fanned out to all */
	{
		uint64_t before[1];
		int n = n_nodes;
		(void)before;
		for (int i = 0; i < n_nodes; i++)
			nodes[i].map_at_us = 0;
		t0 = now_us();
		start_register(n);
		deadline = t0 + 60 * 1000000ULL;
		for (;;) {
			int got = 0;
			pump(5);
			die_if(failed, "fan-out failed");
			for (int i = 0; i < n_nodes; i++)
				got += nodes[i].map_at_us != 0;
			if (got == n_nodes)
				break;
			die_if(now_us() > deadline, "fan-out timed out");
		}
		t1 = 0;
		for (int i = 0; i < n_nodes; i++)
			if (nodes[i].map_at_us > t1)
				t1 = nodes[i].map_at_us;
		printf("map change fan-out to %d nodes: %.3f s "
		       "(includes <= 0.5 s publish coalescing)\n",
		       n_nodes, (double)(t1 - t0) / 1e6);
	}

	/* 4. signals between random pairs: alone (latency of the path),
	 * then 16 in flight (latency under load) */
	settle_maps(1000, 60);
	run_signals(0, n_unloaded, 1);
	run_signals(n_unloaded, n_signals - n_unloaded, 16);
	printf("server peak memory (VmHWM): %ld kB\n", peak_kb(argv[6]));
	return 0;
}
