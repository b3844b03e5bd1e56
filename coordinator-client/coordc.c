// SPDX-License-Identifier: MIT
#include "coordinator-client/coordc.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator-client/http.h"
#include "coordinator-client/sealbox.h"
#include "coordinator-client/statefile.h"

#define TOPIC "coordc"

enum {
	DEFAULT_POLL_WAIT_S = 60,
	MAX_POLL_WAIT_S = 120, /* API limit */
	DEFAULT_TIMEOUT_MS = 15000,
	DEFAULT_BACKOFF_BASE_MS = 500,
	DEFAULT_BACKOFF_MAX_MS = 30000,
	POLL_MARGIN_MS = 10000, /* on top of the long-poll hold */
	MIN_POLL_INTERVAL_MS = 1000, /* if a server answers polls at once */
	MAX_STATE_FILE = 64 << 20, /* cached map: COORDC_MAX_PEERS nodes */
	URL_MAX = 1024,
};

/* Everything that talks to the server is a task: one request at a time. */
enum task_id { T_REGISTER, T_NETMAP, T_SIGRECV, T_SIGSEND, T_PROBE, T_COUNT };

/*
 * Text from json_dumps goes back to jansson's allocator, which the daemon
 * may have replaced (ctl_json_use_wiping_alloc): never plain free().
 */
static void json_text_free(char *s)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	f(s);
}

static const char *const task_names[T_COUNT] = {
	"register", "netmap", "signal-recv", "signal-send", "health",
};

struct task {
	struct coordc *c;
	enum task_id id;
	uv_timer_t timer;
	struct coordc_http_xfer *xfer;
	unsigned attempt;
	uint64_t started_ms;
	bool parked; /* waits for the coordinator to come back */
};

struct outmsg {
	struct outmsg *next;
	uint64_t to;
	char id[33];
	char *payload_b64;
	uint64_t queued_ms;
};

struct coordc {
	uv_loop_t *loop;
	struct coordc_config cfg; /* strings below are our copies */
	char *url, *ca_file, *pin, *state_dir, *auth_key, *hostname;
	struct coordc_http *http;
	struct sealbox *sb;
	struct task tasks[T_COUNT];
	char credential[COORDC_CREDENTIAL_MAX + 1];
	bool registered;
	bool started;
	struct coordc_netmap *nm;
	bool have_version;
	uint64_t version;
	uint64_t cursor;
	struct outmsg *out_head, *out_tail;
	unsigned n_out;
	int up; /* -1 not known yet, 0 down, 1 up */
	unsigned closing;
	struct coordc_stats st;
	uint8_t plain[SEALBOX_MAX_SEALED]; /* an opened signal, wiped after */
};

/* Outcome of a request, as far as the retry logic cares. */
enum outcome { OK, RETRY, CONN_LOST, AUTH, FATAL };

static void task_run(struct task *t);

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int state_path(const struct coordc *c, const char *name, char *out)
{
	if (snprintf(out, PATH_MAX, "%s/%s", c->state_dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* ------------------------------------------------------------ scheduling */

static void on_task_timer(uv_timer_t *h)
{
	task_run(h->data);
}

static void task_schedule(struct task *t, uint64_t delay_ms)
{
	uv_timer_start(&t->timer, on_task_timer, delay_ms, 0);
}

static void task_stop(struct task *t)
{
	uv_timer_stop(&t->timer);
	coordc_http_cancel(t->xfer);
	t->xfer = NULL;
	t->parked = false;
	t->attempt = 0;
}

static uint64_t backoff(const struct coordc *c, unsigned attempt)
{
	return coordc_backoff_ms(attempt, c->cfg.backoff_base_ms,
				 c->cfg.backoff_max_ms, randombytes_random());
}

static void task_retry(struct task *t)
{
	uint64_t d = backoff(t->c, t->attempt);

	t->attempt++;
	t->c->st.requests_failed++;
	log_debug(TOPIC, "%s: retry in %" PRIu64 " ms", task_names[t->id], d);
	task_schedule(t, d);
}

static void set_up(struct coordc *c, bool up)
{
	if (c->up == (int)up)
		return;
	c->up = up;
	if (up)
		log_info(TOPIC, "coordinator reachable");
	else
		log_warn(TOPIC,
			 "coordinator unreachable, probing with backoff");
	if (c->cfg.cb.connectivity)
		c->cfg.cb.connectivity(up, c->cfg.cb.arg);
}

/* An HTTP answer came: the server is there; wake whatever waited for it. */
static void conn_ok(struct coordc *c)
{
	struct task *probe = &c->tasks[T_PROBE];

	set_up(c, true);
	if (probe->xfer || uv_is_active((uv_handle_t *)&probe->timer))
		task_stop(probe);
	probe->attempt = 0;
	for (int i = 0; i < T_COUNT; i++) {
		struct task *t = &c->tasks[i];

		if (t->parked) {
			t->parked = false;
			t->attempt = 0;
			task_schedule(t, 0);
		}
	}
}

/* No answer at all: park the task, one health probe finds the way back. */
static void conn_lost(struct task *t)
{
	struct coordc *c = t->c;
	struct task *probe = &c->tasks[T_PROBE];

	c->st.requests_failed++;
	t->parked = true;
	set_up(c, false);
	if (!probe->xfer && !uv_is_active((uv_handle_t *)&probe->timer))
		task_schedule(probe, backoff(c, probe->attempt++));
}

/* ------------------------------------------------------------ requests */

static void on_done(int result, long status, const char *body, size_t len,
		    void *arg);

static int task_request(struct task *t, const char *method, const char *path,
			const char *body, uint32_t timeout_ms)
{
	struct coordc *c = t->c;
	char url[URL_MAX];
	struct coordc_http_request req = {
		.method = method,
		.url = url,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = timeout_ms,
	};

	if (snprintf(url, sizeof(url), "%s%s", c->url, path) >=
	    (int)sizeof(url))
		return -ENAMETOOLONG;
	if (t->id != T_REGISTER && t->id != T_PROBE)
		req.bearer = c->credential;
	t->started_ms = clock_now_ms();
	return coordc_http_start(c->http, &req, on_done, t, &t->xfer);
}

static enum outcome classify(struct task *t, int result, long status,
			     const char *body, size_t len)
{
	char code[COORDC_ERROR_CODE_MAX + 1] = "?";

	if (result < 0) {
		if (result == -EKEYREJECTED || result == -EPROTO)
			log_ratelimited(LOG_LEVEL_ERROR, TOPIC,
					"%s: TLS failure (%s): check the "
					"coordinator's pin or CA",
					task_names[t->id],
					result == -EKEYREJECTED
						? "pinned key mismatch"
						: "handshake/certificate");
		return CONN_LOST;
	}
	conn_ok(t->c);
	if (status >= 200 && status < 300)
		return OK;
	coordc_parse_error(body, len, code);
	log_ratelimited(LOG_LEVEL_WARN, TOPIC, "%s: HTTP %ld (%s)",
			task_names[t->id], status, code);
	if (status == 401)
		return AUTH;
	if (status == 429 || status >= 500)
		return RETRY;
	return FATAL;
}

/* ------------------------------------------------------------ state */

static bool credential_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > COORDC_CREDENTIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

static int save_credential(struct coordc *c, uint64_t node_id)
{
	char path[PATH_MAX], key[45], *text;
	json_t *o;
	int ret;

	ret = state_path(c, "coord.json", path);
	if (ret)
		return ret;
	coordc_key_to_b64(c->cfg.node_pk, key);
	o = json_pack("{s:s, s:s, s:I, s:s}", "url", c->url, "node_key", key,
		      "node_id", (json_int_t)node_id, "credential",
		      c->credential);
	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	ret = statefile_write(path, text, strlen(text));
	sodium_memzero(text, strlen(text));
	json_text_free(text);
	return ret;
}

/* The saved credential, if it is for this URL and this node key. */
static int load_credential(struct coordc *c)
{
	char path[PATH_MAX], key[45], *text = NULL;
	const char *url, *k, *cred;
	json_t *o;
	size_t len;
	int ret;

	ret = state_path(c, "coord.json", path);
	if (ret)
		return ret;
	ret = statefile_read(path, 4096, &text, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	o = json_loadb(text, len, 0, NULL);
	sodium_memzero(text, len);
	free(text);
	coordc_key_to_b64(c->cfg.node_pk, key);
	ret = -EINVAL;
	if (!o ||
	    json_unpack(o, "{s:s, s:s, s:s}", "url", &url, "node_key", &k,
			"credential", &cred) != 0 ||
	    !credential_ok(cred))
		goto out;
	ret = 0;
	if (strcmp(url, c->url) != 0 || strcmp(k, key) != 0) {
		log_info(TOPIC, "saved credential is for another coordinator "
				"or key: registering again");
		goto out;
	}
	snprintf(c->credential, sizeof(c->credential), "%s", cred);
	c->registered = true;
out:
	/* jansson's copy of the secret: wiped before it is freed */
	if (o && json_is_string(json_object_get(o, "credential")))
		sodium_memzero(
			(char *)json_string_value(
				json_object_get(o, "credential")),
			json_string_length(json_object_get(o, "credential")));
	json_decref(o);
	return ret;
}

/* Hand a validated map to the daemon, and keep it (raw) for next start. */
static void netmap_take(struct coordc *c, struct coordc_netmap *nm,
			bool from_cache, const char *raw, size_t len)
{
	char path[PATH_MAX];
	int ret;

	coordc_netmap_free(c->nm);
	c->nm = nm;
	c->version = nm->version;
	/*
	 * A cached map's version is not asked about: the first poll after a
	 * start goes without since=, so a fresh map comes at once instead of
	 * waiting for the next change (versions jump after a server restart
	 * anyway, and a daemon counts itself connected on a fresh map).
	 */
	c->have_version = !from_cache;
	if (!from_cache) {
		c->st.netmaps++;
		ret = state_path(c, "netmap.json", path);
		if (!ret)
			ret = statefile_write(path, raw, len);
		if (ret)
			log_warn(TOPIC, "could not cache the network map: %s",
				 strerror(-ret));
	}
	log_info(TOPIC, "network map %" PRIu64 "%s: %zu peers", nm->version,
		 from_cache ? " (cached)" : "", nm->n_peers);
	if (c->cfg.cb.netmap)
		c->cfg.cb.netmap(nm, from_cache, c->cfg.cb.arg);
}

static int parse_own_netmap(struct coordc *c, const char *buf, size_t len,
			    struct coordc_netmap **out)
{
	struct coordc_netmap *nm = NULL;
	int ret = coordc_parse_netmap(buf, len, &nm);

	if (ret)
		return ret;
	if (memcmp(nm->self.key, c->cfg.node_pk, COORDC_KEY_LEN) != 0) {
		coordc_netmap_free(nm);
		return -EBADMSG; /* someone else's map */
	}
	*out = nm;
	return 0;
}

static void load_cached_netmap(struct coordc *c)
{
	struct coordc_netmap *nm = NULL;
	char path[PATH_MAX], *text = NULL;
	size_t len;
	int ret;

	ret = state_path(c, "netmap.json", path);
	if (!ret)
		ret = statefile_read(path, MAX_STATE_FILE, &text, &len);
	if (ret == -ENOENT)
		return;
	if (!ret)
		ret = parse_own_netmap(c, text, len, &nm);
	free(text);
	if (ret) {
		log_warn(TOPIC, "ignoring the cached network map: %s",
			 strerror(-ret));
		return;
	}
	netmap_take(c, nm, true, NULL, 0);
}

/* ------------------------------------------------------------ tasks */

static void start_loops(struct coordc *c)
{
	task_schedule(&c->tasks[T_NETMAP], 0);
	task_schedule(&c->tasks[T_SIGRECV], 0);
	if (c->out_head)
		task_schedule(&c->tasks[T_SIGSEND], 0);
}

/* The credential was refused: register again if we can, else give up. */
static void auth_lost(struct coordc *c)
{
	for (int i = 0; i < T_COUNT; i++)
		if (i != T_PROBE)
			task_stop(&c->tasks[i]);
	c->registered = false;
	sodium_memzero(c->credential, sizeof(c->credential));
	if (c->auth_key) {
		log_warn(TOPIC, "credential refused: registering again");
		task_schedule(&c->tasks[T_REGISTER], 0);
	} else {
		log_error(TOPIC, "credential refused and no auth key to "
				 "register again");
		if (c->cfg.cb.fatal)
			c->cfg.cb.fatal("unauthorized", c->cfg.cb.arg);
	}
}

static int run_register(struct task *t)
{
	struct coordc *c = t->c;
	char key[45], *body;
	json_t *o;
	int ret;

	coordc_key_to_b64(c->cfg.node_pk, key);
	o = json_pack("{s:s, s:s}", "auth_key", c->auth_key, "node_key", key);
	if (o && c->hostname)
		json_object_set_new(o, "hostname", json_string(c->hostname));
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return -ENOMEM;
	ret = task_request(t, "POST", "/v1/register", body,
			   c->cfg.request_timeout_ms);
	sodium_memzero(body, strlen(body));
	json_text_free(body);
	return ret;
}

static void done_register(struct task *t, enum outcome o, const char *body,
			  size_t len)
{
	struct coordc *c = t->c;
	struct coordc_registration r;
	char code[COORDC_ERROR_CODE_MAX + 1] = "refused";
	int ret;

	if (o == AUTH || o == FATAL) {
		/* a bad, expired or used auth key: retrying cannot help */
		coordc_parse_error(body, len, code);
		log_error(TOPIC, "registration refused: %s", code);
		if (c->cfg.cb.fatal)
			c->cfg.cb.fatal(code, c->cfg.cb.arg);
		return;
	}
	ret = coordc_parse_register(body, len, &r);
	if (!ret && memcmp(r.node.key, c->cfg.node_pk, COORDC_KEY_LEN) != 0)
		ret = -EBADMSG;
	if (ret) {
		log_warn(TOPIC, "register: malformed answer");
		task_retry(t);
		return;
	}
	memcpy(c->credential, r.credential, sizeof(c->credential));
	sodium_memzero(&r.credential, sizeof(r.credential));
	c->registered = true;
	t->attempt = 0;
	log_info(TOPIC, "registered as node %" PRIu64 " (%s)%s", r.node.id,
		 r.node.name, r.created ? ", new" : "");
	ret = save_credential(c, r.node.id);
	if (ret)
		log_error(TOPIC, "could not save the credential: %s",
			  strerror(-ret));
	start_loops(c);
}

static int run_netmap(struct task *t)
{
	struct coordc *c = t->c;
	char path[128];

	if (c->have_version)
		snprintf(path, sizeof(path),
			 "/v1/netmap?since=%" PRIu64 "&wait=%u", c->version,
			 c->cfg.poll_wait_s);
	else
		snprintf(path, sizeof(path), "/v1/netmap?wait=%u",
			 c->cfg.poll_wait_s);
	return task_request(t, "GET", path, NULL,
			    c->cfg.poll_wait_s * 1000u + POLL_MARGIN_MS);
}

/* Poll again now, unless the server answered too fast to be holding. */
static void poll_again(struct task *t)
{
	uint64_t took = clock_now_ms() - t->started_ms;

	t->attempt = 0;
	task_schedule(t, took < MIN_POLL_INTERVAL_MS
				 ? MIN_POLL_INTERVAL_MS - took
				 : 0);
}

static void done_netmap(struct task *t, long status, const char *body,
			size_t len)
{
	struct coordc *c = t->c;
	struct coordc_netmap *nm = NULL;

	if (status == 204) {
		poll_again(t);
		return;
	}
	if (parse_own_netmap(c, body, len, &nm) != 0) {
		log_ratelimited(LOG_LEVEL_WARN, TOPIC,
				"netmap: malformed answer dropped");
		task_retry(t);
		return;
	}
	if (c->have_version && nm->version == c->version) {
		/* nothing new: a server that should have held the poll */
		coordc_netmap_free(nm);
		poll_again(t);
		return;
	}
	netmap_take(c, nm, false, body, len);
	t->attempt = 0;
	task_schedule(t, 0); /* a new version: ask for the next at once */
}

static int run_sigrecv(struct task *t)
{
	struct coordc *c = t->c;
	char path[128];

	snprintf(path, sizeof(path), "/v1/signal?after=%" PRIu64 "&wait=%u",
		 c->cursor, c->cfg.poll_wait_s);
	return task_request(t, "GET", path, NULL,
			    c->cfg.poll_wait_s * 1000u + POLL_MARGIN_MS);
}

static void deliver(struct coordc *c, const struct coordc_signal *m)
{
	uint8_t *plain = c->plain;
	size_t n = 0;
	int ret;

	ret = sealbox_open(c->sb, m->from_key, m->payload, m->len, wall_ms(),
			   plain, sizeof(c->plain), &n);
	if (ret) {
		c->st.signals_refused++;
		log_ratelimited(LOG_LEVEL_WARN, TOPIC,
				"signal %" PRIu64 " from node %" PRIu64
				" refused: %s",
				m->seq, m->from, strerror(-ret));
		return;
	}
	c->st.signals_in++;
	if (c->cfg.cb.signal)
		c->cfg.cb.signal(m->from_key, m->from, plain, n, c->cfg.cb.arg);
	sodium_memzero(plain, n);
}

static void done_sigrecv(struct task *t, long status, const char *body,
			 size_t len)
{
	struct coordc *c = t->c;
	struct coordc_signal_batch *b = NULL;
	bool fresh;

	if (status == 204) {
		poll_again(t);
		return;
	}
	if (coordc_parse_signals(body, len, &b) != 0) {
		log_ratelimited(LOG_LEVEL_WARN, TOPIC,
				"signals: malformed answer dropped");
		task_retry(t);
		return;
	}
	for (unsigned i = 0; i < b->n; i++)
		if (b->msgs[i].seq > c->cursor)
			deliver(c, &b->msgs[i]);
	/* handled: the next poll acknowledges them (API: cursor) */
	fresh = b->n && b->cursor > c->cursor;
	if (fresh)
		c->cursor = b->cursor;
	coordc_signal_batch_free(b);
	t->attempt = 0;
	if (fresh)
		task_schedule(t, 0); /* more may wait: no added latency */
	else
		poll_again(t); /* nothing new came: do not spin */
}

static void outbox_pop(struct coordc *c)
{
	struct outmsg *m = c->out_head;

	c->out_head = m->next;
	if (!c->out_head)
		c->out_tail = NULL;
	c->n_out--;
	free(m->payload_b64);
	free(m);
}

static int run_sigsend(struct task *t)
{
	struct coordc *c = t->c;
	struct outmsg *m;
	char *body;
	json_t *o;
	int ret;

	/* sealed messages older than this would be refused by the peer */
	while ((m = c->out_head) &&
	       wall_ms() - m->queued_ms > COORDC_OUTBOX_MAX_AGE_MS) {
		c->st.signals_dropped++;
		outbox_pop(c);
	}
	if (!m)
		return 0; /* idle until coordc_send */
	o = json_pack("{s:I, s:s, s:s}", "to", (json_int_t)m->to, "id", m->id,
		      "payload", m->payload_b64);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return -ENOMEM;
	ret = task_request(t, "POST", "/v1/signal", body,
			   c->cfg.request_timeout_ms);
	json_text_free(body);
	return ret;
}

static void done_sigsend(struct task *t, enum outcome o)
{
	struct coordc *c = t->c;

	if (o == FATAL) {
		/* unknown recipient, or refused content: it will not improve */
		c->st.signals_dropped++;
	} else {
		c->st.signals_out++;
	}
	if (c->out_head)
		outbox_pop(c);
	t->attempt = 0;
	if (c->out_head)
		task_schedule(t, 0);
}

static int run_probe(struct task *t)
{
	t->c->st.probes++;
	return task_request(t, "GET", "/v1/health", NULL,
			    t->c->cfg.request_timeout_ms);
}

static void task_run(struct task *t)
{
	struct coordc *c = t->c;
	int ret = 0;

	if (t->xfer)
		return; /* one request per task */
	switch (t->id) {
	case T_REGISTER:
		ret = run_register(t);
		break;
	case T_NETMAP:
		ret = c->registered ? run_netmap(t) : 0;
		break;
	case T_SIGRECV:
		ret = c->registered ? run_sigrecv(t) : 0;
		break;
	case T_SIGSEND:
		ret = c->registered ? run_sigsend(t) : 0;
		break;
	case T_PROBE:
		ret = run_probe(t);
		break;
	default:
		break;
	}
	if (ret) {
		log_warn(TOPIC, "%s: cannot start request: %s",
			 task_names[t->id], strerror(-ret));
		task_retry(t);
	}
}

static void done_probe(struct task *t, int result, long status,
		       const char *body, size_t len)
{
	/* a proxy in front of a dead server answers too: ask for "ok" */
	if (result == 0 && status == 200 &&
	    coordc_parse_health(body, len) == 0) {
		conn_ok(t->c);
		return;
	}
	t->c->st.requests_failed++;
	task_schedule(t, backoff(t->c, t->attempt++));
}

static void on_done(int result, long status, const char *body, size_t len,
		    void *arg)
{
	struct task *t = arg;
	struct coordc *c = t->c;
	enum outcome o;

	t->xfer = NULL;
	if (t->id == T_PROBE) {
		done_probe(t, result, status, body, len);
		return;
	}
	o = classify(t, result, status, body, len);
	if (o == CONN_LOST) {
		conn_lost(t);
		return;
	}
	if (o == RETRY) {
		task_retry(t);
		return;
	}
	if (t->id == T_REGISTER) {
		done_register(t, o, body, len);
		return;
	}
	if (o == AUTH) {
		auth_lost(c);
		return;
	}
	if (t->id == T_SIGSEND) {
		done_sigsend(t, o);
		return;
	}
	if (o == FATAL) {
		/* a request of ours the server refuses: back off, stay alive */
		task_retry(t);
		return;
	}
	if (t->id == T_NETMAP)
		done_netmap(t, status, body, len);
	else
		done_sigrecv(t, status, body, len);
}

/* ------------------------------------------------------------ API */

static char *dup_opt(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct task *t = h->data;
	struct coordc *c = t->c;

	if (--c->closing)
		return;
	sodium_memzero(c, sizeof(*c));
	free(c);
}

static bool config_ok(const struct coordc_config *cfg)
{
	size_t n;

	if (!cfg || !cfg->url || !cfg->state_dir)
		return false;
	if (strncmp(cfg->url, "https://", 8) != 0 &&
	    !(cfg->allow_http && strncmp(cfg->url, "http://", 7) == 0))
		return false;
	n = strlen(cfg->url);
	return n > 8 && n < URL_MAX - 128 &&
	       cfg->poll_wait_s <= MAX_POLL_WAIT_S;
}

struct coordc *coordc_new(uv_loop_t *loop, const struct coordc_config *cfg)
{
	struct coordc_http_config hc = { 0 };
	struct coordc *c;
	bool failed = false;
	size_t n;

	if (!loop || !config_ok(cfg))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->cfg = *cfg;
	c->up = -1;
	c->url = dup_opt(cfg->url, &failed);
	c->ca_file = dup_opt(cfg->ca_file, &failed);
	c->pin = dup_opt(cfg->pin, &failed);
	c->state_dir = dup_opt(cfg->state_dir, &failed);
	c->auth_key = dup_opt(cfg->auth_key, &failed);
	c->hostname = dup_opt(cfg->hostname, &failed);
	if (failed)
		goto err;
	/* only our copies from here on */
	c->cfg.url = c->url;
	c->cfg.ca_file = c->ca_file;
	c->cfg.pin = c->pin;
	c->cfg.state_dir = c->state_dir;
	c->cfg.auth_key = c->auth_key;
	c->cfg.hostname = c->hostname;
	/* "https://host/" and "https://host" name the same server */
	n = strlen(c->url);
	while (n > 8 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
	if (!c->cfg.poll_wait_s)
		c->cfg.poll_wait_s = DEFAULT_POLL_WAIT_S;
	if (!c->cfg.request_timeout_ms)
		c->cfg.request_timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!c->cfg.backoff_base_ms)
		c->cfg.backoff_base_ms = DEFAULT_BACKOFF_BASE_MS;
	if (!c->cfg.backoff_max_ms)
		c->cfg.backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
	hc.ca_file = c->ca_file;
	hc.pin = c->pin;
	hc.allow_http = cfg->allow_http;
	c->http = coordc_http_new(loop, &hc);
	if (!c->http)
		goto err;
	for (int i = 0; i < T_COUNT; i++) {
		struct task *t = &c->tasks[i];

		t->c = c;
		t->id = (enum task_id)i;
		uv_timer_init(loop, &t->timer);
		t->timer.data = t;
	}
	return c;
err:
	free(c->url);
	free(c->ca_file);
	free(c->pin);
	free(c->state_dir);
	free(c->auth_key);
	free(c->hostname);
	sodium_memzero(c, sizeof(*c));
	free(c);
	return NULL;
}

int coordc_start(struct coordc *c)
{
	struct sealbox_config sc = { 0 };
	char path[PATH_MAX];
	uint64_t epoch, now = wall_ms();
	int ret;

	if (c->started)
		return -EALREADY;
	ret = state_path(c, "seal-epoch", path);
	if (!ret)
		ret = sealbox_epoch_next(path, now, &epoch);
	if (ret)
		return ret;
	/*
	 * Our replay windows start empty: refuse whatever was sealed before
	 * this start, so nothing recorded earlier can be replayed at us.
	 */
	sc.not_before_ms = now;
	c->sb = sealbox_new(c->cfg.node_sk, c->cfg.node_pk, epoch, &sc);
	if (!c->sb)
		return -ENOMEM;
	ret = load_credential(c);
	if (ret)
		return ret;
	c->started = true;
	load_cached_netmap(c);
	if (c->registered) {
		start_loops(c);
	} else if (c->auth_key) {
		task_schedule(&c->tasks[T_REGISTER], 0);
	} else {
		return -ENOKEY; /* never registered and nothing to do it with */
	}
	return 0;
}

static void random_id(char out[33])
{
	uint8_t r[16];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(out, 33, r, sizeof(r));
}

int coordc_send(struct coordc *c, const uint8_t peer_key[COORDC_KEY_LEN],
		const void *msg, size_t len)
{
	const struct coordc_node *peer = coordc_netmap_find(c->nm, peer_key);
	size_t sealed_len = 0, b64_len;
	uint8_t *sealed = NULL;
	struct outmsg *m = NULL;
	int ret;

	if (!c->started)
		return -EINVAL;
	if (!peer)
		return -ENOENT;
	if (len > SEALBOX_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (c->n_out >= COORDC_MAX_OUTBOX) {
		c->st.signals_dropped++;
		return -ENOBUFS;
	}
	sealed = malloc(len + SEALBOX_OVERHEAD);
	m = calloc(1, sizeof(*m));
	ret = -ENOMEM;
	if (!sealed || !m)
		goto err;
	m->queued_ms = wall_ms();
	/* sealed once: a retry posts the same bytes under the same id */
	ret = sealbox_seal(c->sb, peer_key, msg, len, m->queued_ms, sealed,
			   len + SEALBOX_OVERHEAD, &sealed_len);
	if (ret)
		goto err;
	b64_len = sodium_base64_ENCODED_LEN(sealed_len,
					    sodium_base64_VARIANT_ORIGINAL);
	m->payload_b64 = malloc(b64_len);
	ret = -ENOMEM;
	if (!m->payload_b64)
		goto err;
	sodium_bin2base64(m->payload_b64, b64_len, sealed, sealed_len,
			  sodium_base64_VARIANT_ORIGINAL);
	free(sealed);
	m->to = peer->id;
	random_id(m->id);
	if (c->out_tail)
		c->out_tail->next = m;
	else
		c->out_head = m;
	c->out_tail = m;
	c->n_out++;
	/* the sender runs one message at a time; wake it if idle */
	if (c->registered && !c->tasks[T_SIGSEND].xfer &&
	    !c->tasks[T_SIGSEND].parked &&
	    !uv_is_active((uv_handle_t *)&c->tasks[T_SIGSEND].timer))
		task_schedule(&c->tasks[T_SIGSEND], 0);
	return 0;
err:
	free(sealed);
	if (m)
		free(m->payload_b64);
	free(m);
	return ret;
}

const struct coordc_netmap *coordc_netmap(const struct coordc *c)
{
	return c->nm;
}

bool coordc_is_up(const struct coordc *c)
{
	return c->up == 1;
}

void coordc_get_stats(const struct coordc *c, struct coordc_stats *out)
{
	*out = c->st;
}

void coordc_forget_auth_key(struct coordc *c)
{
	if (!c->auth_key)
		return;
	sodium_memzero(c->auth_key, strlen(c->auth_key));
	free(c->auth_key);
	c->auth_key = NULL;
	c->cfg.auth_key = NULL;
}

void coordc_free(struct coordc *c)
{
	if (!c)
		return;
	for (int i = 0; i < T_COUNT; i++)
		c->tasks[i].xfer = NULL; /* coordc_http_free drops them all */
	coordc_http_free(c->http);
	while (c->out_head)
		outbox_pop(c);
	coordc_netmap_free(c->nm);
	sealbox_free(c->sb);
	free(c->url);
	free(c->ca_file);
	free(c->pin);
	free(c->state_dir);
	if (c->auth_key)
		sodium_memzero(c->auth_key, strlen(c->auth_key));
	free(c->auth_key);
	free(c->hostname);
	sodium_memzero(c->credential, sizeof(c->credential));
	sodium_memzero(c->cfg.node_sk, sizeof(c->cfg.node_sk));
	c->closing = T_COUNT;
	for (int i = 0; i < T_COUNT; i++) {
		uv_timer_stop(&c->tasks[i].timer);
		uv_close((uv_handle_t *)&c->tasks[i].timer, on_timer_closed);
	}
}
