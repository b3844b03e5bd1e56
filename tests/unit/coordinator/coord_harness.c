// SPDX-License-Identifier: MIT
#include "coord_harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "coordinator/cli.h"
#include "coordinator/cred.h"
#include "coordinator/store.h"

/* argv strings are writable by contract; the literals here are never written */
#define S(x) ((char *)(uintptr_t)(x))

uint64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/*
 * Children are this test program executed again with HARNESS_ARG first
 * (see h_child_main): a fresh process, never a fork of a threaded one, so
 * no lock held by another thread at fork time can hang it, and leak checks
 * see only the server's own memory.
 */
static pid_t spawn(char **argv, bool quiet)
{
	char *args[40];
	int argc = 0;
	pid_t pid;

	args[argc++] = S("icemesh-coord-test");
	args[argc++] = S(HARNESS_ARG);
	for (int i = 1; argv[i] && argc < 39; i++)
		args[argc++] = argv[i];
	args[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		if (quiet && !freopen("/dev/null", "w", stdout))
			_exit(127);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	return pid;
}

static int run_child(char **argv, bool quiet)
{
	pid_t pid = spawn(argv, quiet);
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int h_child_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], HARNESS_ARG) != 0)
		return -1;
	argv[1] = S("icemesh-coord");
	return coord_cli_main(argc - 1, argv + 1);
}

int h_init(struct harness *h, ...)
{
	char *argv[32] = { S("icemesh-coord"), S("init"), S("--state-dir") };
	int argc = 3;
	const char *a;
	va_list ap;

	memset(h, 0, sizeof(*h));
	strcpy(h->dir, "/tmp/icemesh-coord-test-XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	snprintf(h->state, sizeof(h->state), "%s/state", h->dir);
	argv[argc++] = h->state;
	va_start(ap, h);
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = S(a);
	va_end(ap);
	argv[argc] = NULL;
	return run_child(argv, true);
}

static int read_pin(struct harness *h)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tls.pin", h->state);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(h->pin, sizeof(h->pin), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	h->pin[strcspn(h->pin, "\n")] = '\0';
	return 0;
}

int h_start(struct harness *h)
{
	char listen[32];
	char *argv[20] = { S("icemesh-coord"), S("serve"),    S("--state-dir"),
			   h->state,	       S("--listen"), listen,
			   S("--log-level"),   S("warn") };
	int argc = 8;
	struct resp r;
	uint64_t deadline;

	for (int i = 0; i < 8 && h->serve_args[i]; i++)
		argv[argc++] = S(h->serve_args[i]);
	argv[argc] = NULL;
	if (!h->port)
		h->port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", h->port);
	h->pid = spawn(argv, true);
	if (h->pid < 0)
		return -1;
	deadline = h_now_ms() + 5000;
	while (h_now_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000000L };
		if (h->pin[0] || read_pin(h) == 0) {
			if (h_http(h, "GET", "/v1/health", NULL, NULL, NULL, 0,
				   &r) == 0 &&
			    r.status == 200) {
				resp_free(&r);
				return 0;
			}
			resp_free(&r);
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

int h_stop(struct harness *h, int sig)
{
	int status = -1;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, sig);
	if (waitpid(h->pid, &status, 0) < 0)
		status = -1;
	h->pid = 0;
	return status;
}

void h_cleanup(struct harness *h)
{
	char cmd[PATH_MAX + 16];

	if (h->pid > 0)
		h_stop(h, SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (h->dir[0] && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", h->dir);
}

int h_cli(struct harness *h, const char *cmd, ...)
{
	char *argv[32] = { S("icemesh-coord"), S(cmd), S("--state-dir"),
			   h->state };
	int argc = 4;
	const char *a;
	va_list ap;

	va_start(ap, cmd);
	while ((a = va_arg(ap, const char *)) && argc < 31)
		argv[argc++] = S(a);
	va_end(ap);
	argv[argc] = NULL;
	return run_child(argv, true);
}

static struct coord_store *open_db(struct harness *h)
{
	char path[PATH_MAX + 16];
	struct coord_store *s = NULL;

	snprintf(path, sizeof(path), "%s/coord.db", h->state);
	if (coord_store_open(path, false, &s))
		return NULL;
	return s;
}

char *h_authkey(struct harness *h, bool reusable, bool ephemeral,
		int64_t expires_in)
{
	struct coord_store *s = open_db(h);
	char *key = malloc(COORD_TOKEN_STRLEN);
	uint8_t hash[32];
	uint64_t now = (uint64_t)time(NULL);
	int ret;

	if (!s || !key) {
		coord_store_close(s);
		free(key);
		return NULL;
	}
	coord_token_new(COORD_AUTHKEY_PREFIX, key);
	coord_token_hash(key, strlen(key), hash);
	ret = coord_store_authkey_add(
		s, hash, reusable, ephemeral,
		expires_in ? (uint64_t)((int64_t)now + expires_in) : 0, now);
	coord_store_close(s);
	if (ret) {
		free(key);
		return NULL;
	}
	return key;
}

long h_count(struct harness *h, const char *table)
{
	char path[PATH_MAX + 16], sql[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = -1;

	snprintf(path, sizeof(path), "%s/coord.db", h->state);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + r->len, p, size * n);
	r->body = b;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (len >= 9 && strncasecmp(p, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9),
			 p + 7);
	return len;
}

static int request(struct harness *h, const char *pin, const char *method,
		   const char *path, const char *cred, const char *ctype,
		   const char *body, size_t len, struct resp *r, bool chunked)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char url[320], line[128];
	uint64_t t0 = h_now_ms();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", h->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, pin);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (cred) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", cred);
		hdr = curl_slist_append(hdr, line);
	}
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, line);
	}
	hdr = curl_slist_append(hdr, "Expect:");
	if (chunked)
		hdr = curl_slist_append(hdr, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->body)
			r->json = json_loadb(r->body, r->len, 0, NULL);
	}
	r->seconds = (double)(h_now_ms() - t0) / 1000.0;
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

int h_http(struct harness *h, const char *method, const char *path,
	   const char *cred, const char *ctype, const char *body, size_t len,
	   struct resp *r)
{
	return request(h, h->pin, method, path, cred, ctype, body, len, r,
		       false);
}

int h_http_chunked(struct harness *h, const char *path, const char *cred,
		   const char *body, size_t len, struct resp *r)
{
	return request(h, h->pin, "POST", path, cred, "application/json", body,
		       len, r, true);
}

int h_http_pin(struct harness *h, const char *pin, const char *path,
	       struct resp *r)
{
	return request(h, pin, "GET", path, NULL, NULL, NULL, 0, r, false);
}

void resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

const char *resp_code(const struct resp *r)
{
	const char *s = json_string_value(
		json_object_get(json_object_get(r->json, "error"), "code"));

	return s ? s : "";
}

void h_node_key(uint8_t key[32])
{
	randombytes_buf(key, 32);
}

int h_register(struct harness *h, const char *authkey, const uint8_t key[32],
	       const char *hostname, struct resp *r)
{
	char k64[64];
	json_t *o;
	char *body;
	int ret;

	sodium_bin2base64(k64, sizeof(k64), key, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	o = json_pack("{s:s,s:s}", "auth_key", authkey, "node_key", k64);
	if (hostname)
		json_object_set_new(o, "hostname", json_string(hostname));
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	ret = h_http(h, "POST", "/v1/register", NULL, "application/json", body,
		     strlen(body), r);
	free(body);
	return ret;
}

int h_signal(struct harness *h, const char *cred, uint64_t to, const char *id,
	     const void *payload, size_t len, struct resp *r)
{
	size_t blen =
		sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(blen);
	json_t *o;
	char *body;
	int ret;

	sodium_bin2base64(b64, blen, payload, len,
			  sodium_base64_VARIANT_ORIGINAL);
	o = json_pack("{s:I,s:s,s:s}", "to", (json_int_t)to, "id", id,
		      "payload", b64);
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(b64);
	ret = h_http(h, "POST", "/v1/signal", cred, "application/json", body,
		     strlen(body), r);
	free(body);
	return ret;
}

static void *async_main(void *arg)
{
	struct h_async *a = arg;

	a->ret = h_http(a->h, "GET", a->path, a->cred, NULL, NULL, 0, &a->r);
	return NULL;
}

void h_async_get(struct h_async *a, struct harness *h, const char *path,
		 const char *cred)
{
	memset(a, 0, sizeof(*a));
	a->h = h;
	snprintf(a->path, sizeof(a->path), "%s", path);
	snprintf(a->cred, sizeof(a->cred), "%s", cred);
	a->ret = -1;
	pthread_create(&a->t, NULL, async_main, a);
}

void h_async_join(struct h_async *a)
{
	pthread_join(a->t, NULL);
}
