// SPDX-License-Identifier: MIT
#include "coordinator/server.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "coordinator/cred.h"
#include "coordinator/req.h"
#include "coordinator/store.h"
#include "coordinator/tls.h"

#define PRESENCE_BUCKETS 4096
#define TICK_MS 100
#define HOUSEKEEP_MS 30000

enum req_kind {
	REQ_HEALTH = 1,
	REQ_REGISTER,
	REQ_NETMAP,
	REQ_SIGNAL_GET,
	REQ_SIGNAL_POST,
};

struct req;

/* A node seen recently: its open long-polls and its online state. */
struct presence {
	struct presence *next;
	uint64_t id;
	unsigned npolls;
	struct req *polls[COORD_MAX_POLLS_PER_NODE];
	uint64_t last_end_ms;
	bool online;
};

struct map_entry {
	uint64_t id;
	char *json; /* ",{...}": with a leading comma, for splicing */
	size_t len;
};

/*
 * Every node's JSON, built once per (published version, store change) and
 * shared by reference by every map response streamed from it: a fan-out to
 * thousands of nodes costs one build and no per-node copy of the peers.
 * Only the MHD thread touches it, so the count needs no atomics.
 */
struct map_snap {
	unsigned refs;
	uint64_t version, changes;
	struct map_entry *v;
	size_t n, cap;
	size_t total; /* sum of len */
};

struct coord_server {
	struct coord_server_opts opts;
	struct MHD_Daemon *mhd;
	struct coord_tls tls;
	struct coord_config cfg;
	struct coord_store *store; /* MHD thread only */
	struct coord_store *hstore; /* housekeeping thread only */
	uint16_t port;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	bool stop, stopping;
	uint64_t version;
	uint64_t grace_ms; /* online this long after the last long-poll */
	bool dirty;
	uint64_t last_publish_ms;
	struct presence *buckets[PRESENCE_BUCKETS];

	struct map_snap *snap; /* MHD thread only; the current one */
};

struct req {
	struct coord_server *srv;
	struct MHD_Connection *conn;
	enum req_kind kind;
	bool responded, prepared, polling, suspended;
	bool evicted; /* replaced by a newer long-poll of the same node */
	char *body;
	size_t len, cap;
	bool too_large;
	struct coord_node node;
	struct coord_query q;
	uint64_t deadline_ms;
};

/* ---------------------------------------------------------------- responses */

static int queue(struct req *r, unsigned status, char *body, size_t len,
		 const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	resp = MHD_create_response_from_buffer(len, body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (len)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer");
	ok = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->responded = true;
	return ok;
}

static int send_json(struct req *r, unsigned status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	if (!s)
		return MHD_NO;
	return queue(r, status, s, strlen(s), NULL);
}

static int send_error_allow(struct req *r, const struct coord_error *e,
			    const char *allow)
{
	json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", e->code,
			      "message", e->message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!s)
		return MHD_NO;
	return queue(r, (unsigned)e->status, s, strlen(s), allow);
}

static int send_error(struct req *r, const struct coord_error *e)
{
	return send_error_allow(r, e, NULL);
}

__attribute__((format(printf, 4, 5))) static int
fail(struct req *r, int status, const char *code, const char *fmt, ...)
{
	struct coord_error e = { .status = status, .code = code };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	return send_error(r, &e);
}

static int send_empty(struct req *r, unsigned status)
{
	return queue(r, status, NULL, 0, NULL);
}

/* ---------------------------------------------------------------- presence */

static struct presence **bucket(struct coord_server *srv, uint64_t id)
{
	return &srv->buckets[(id * 0x9E3779B97F4A7C15ULL) >> 52];
}

static struct presence *presence_find(struct coord_server *srv, uint64_t id)
{
	for (struct presence *p = *bucket(srv, id); p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/* Resume a suspended request. Locked. */
static void wake(struct req *r)
{
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

static void poll_remove(struct presence *p, struct req *r)
{
	for (unsigned i = 0; i < p->npolls; i++) {
		if (p->polls[i] == r) {
			/* keep arrival order: polls[0] is the oldest */
			memmove(&p->polls[i], &p->polls[i + 1],
				(p->npolls - i - 1) * sizeof(p->polls[0]));
			p->npolls--;
			break;
		}
	}
	r->polling = false;
}

/*
 * Count a long-poll for r's node. At the per-node cap the oldest one is
 * answered (204) to make room: a node whose connections died silently (a
 * NAT rebinding, a laptop changing networks) would otherwise be locked out
 * until their waits ran out, since a suspended connection's peer is not
 * watched. Locked.
 */
static int poll_begin(struct coord_server *srv, struct req *r)
{
	struct presence *p = presence_find(srv, r->node.id);

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->id = r->node.id;
		p->next = *bucket(srv, p->id);
		*bucket(srv, p->id) = p;
	}
	if (p->npolls >= COORD_MAX_POLLS_PER_NODE) {
		struct req *old = p->polls[0];
		poll_remove(p, old);
		old->evicted = true;
		wake(old);
	}
	p->polls[p->npolls++] = r;
	r->polling = true;
	if (!p->online) {
		p->online = true;
		srv->dirty = true;
	}
	return 0;
}

static void poll_end(struct coord_server *srv, struct req *r)
{
	struct presence *p = presence_find(srv, r->node.id);

	r->polling = false;
	if (!p)
		return;
	poll_remove(p, r);
	p->last_end_ms = clock_now_ms();
}

static bool presence_online(struct coord_server *srv, uint64_t id)
{
	struct presence *p = presence_find(srv, id);

	return p && p->online;
}

static void wake_signal_waiters(struct coord_server *srv, uint64_t id)
{
	struct presence *p;

	pthread_mutex_lock(&srv->lock);
	p = presence_find(srv, id);
	for (unsigned i = 0; p && i < p->npolls; i++)
		if (p->polls[i]->kind == REQ_SIGNAL_GET)
			wake(p->polls[i]);
	pthread_mutex_unlock(&srv->lock);
}

/* Hold r until woken or its deadline; false if the server is stopping. */
static bool suspend(struct req *r)
{
	struct coord_server *srv = r->srv;
	bool ok;

	pthread_mutex_lock(&srv->lock);
	ok = !srv->stopping && !r->evicted;
	if (ok) {
		r->suspended = true;
		MHD_suspend_connection(r->conn);
	}
	pthread_mutex_unlock(&srv->lock);
	return ok;
}

/* ---------------------------------------------------------------- JSON */

static json_t *node_json(const struct coord_server *srv,
			 const struct coord_node *n, bool online,
			 uint64_t now_wall)
{
	char key[COORD_KEY_B64_LEN + 1], v4[48], v6[64], a4[56], a6[72];

	coord_b64_encode(n->key, COORD_KEY_LEN, key, sizeof(key));
	coord_config_addr_v4(&srv->cfg, n->slot, v4, sizeof(v4));
	coord_config_addr_v6(&srv->cfg, n->slot, v6, sizeof(v6));
	snprintf(a4, sizeof(a4), "%s/32", v4);
	snprintf(a6, sizeof(a6), "%s/128", v6);
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:[s,s],s:b,s:I,s:b}", "id",
			 (json_int_t)n->id, "name", n->name, "node_key", key,
			 "ipv4", v4, "ipv6", v6, "allowed_ips", a4, a6,
			 "online", online, "last_seen",
			 (json_int_t)(online ? now_wall : n->last_seen),
			 "ephemeral", n->ephemeral);
}

static json_t *network_json(const struct coord_server *srv)
{
	return json_pack("{s:s,s:s}", "ipv4_prefix", srv->cfg.v4_str,
			 "ipv6_prefix", srv->cfg.v6_str);
}

static json_t *servers_json(const char list[][COORD_SERVER_STRLEN], unsigned n)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(list[i]));
	return a;
}

/*
 * TURN credentials valid until the end of the epoch after this one, where
 * an epoch is half the lifetime: they stay good for at least half of it,
 * and the map version changes every epoch so they are renewed in time.
 */
static json_t *turn_json(const struct coord_server *srv, uint64_t node_id,
			 uint64_t now_wall)
{
	char user[COORD_TURN_USER_STRLEN], pass[COORD_TURN_PASS_STRLEN];
	uint64_t half = srv->cfg.turn_ttl_s / 2;
	uint64_t expires = (now_wall / half + 2) * half;
	json_t *o;

	if (srv->cfg.n_turn == 0)
		return json_null();
	if (coord_turn_credentials(srv->cfg.turn_secret, expires, node_id, user,
				   pass))
		return NULL;
	o = json_pack("{s:o,s:s,s:s,s:I}", "servers",
		      servers_json(srv->cfg.turn, srv->cfg.n_turn), "username",
		      user, "password", pass, "expires", (json_int_t)expires);
	sodium_memzero(pass, sizeof(pass));
	return o;
}

static uint64_t turn_epoch(const struct coord_server *srv, uint64_t now_wall)
{
	return now_wall / (srv->cfg.turn_ttl_s / 2);
}

/* ---------------------------------------------------------------- map cache */

static void snap_put(struct map_snap *m)
{
	if (!m || --m->refs)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].json);
	free(m->v);
	free(m);
}

struct snap_build {
	struct coord_server *srv;
	struct map_snap *m;
	uint64_t now_wall;
};

static int snap_add(const struct coord_node *n, void *arg)
{
	struct snap_build *b = arg;
	struct map_snap *m = b->m;
	json_t *o;
	char *s, *j;
	size_t len;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct map_entry *v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	o = node_json(b->srv, n, presence_online(b->srv, n->id), b->now_wall);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return -ENOMEM;
	len = strlen(s);
	j = malloc(len + 2);
	if (!j) {
		free(s);
		return -ENOMEM;
	}
	j[0] = ',';
	memcpy(j + 1, s, len + 1);
	free(s);
	m->v[m->n].id = n->id;
	m->v[m->n].json = j;
	m->v[m->n].len = len + 1;
	m->total += len + 1;
	m->n++;
	return 0;
}

/* The snapshot for this version, rebuilt if the version or the store moved. */
static struct map_snap *snap_get(struct coord_server *srv, uint64_t version)
{
	struct snap_build b = { .srv = srv };
	uint64_t changes;
	int ret;

	if (coord_store_changes(srv->store, &changes))
		return NULL;
	if (srv->snap && srv->snap->version == version &&
	    srv->snap->changes == changes)
		return srv->snap;
	b.m = calloc(1, sizeof(*b.m));
	if (!b.m)
		return NULL;
	b.m->refs = 1;
	b.m->version = version;
	b.m->changes = changes;
	b.now_wall = clock_wall_s();
	pthread_mutex_lock(&srv->lock);
	ret = coord_store_nodes_foreach(srv->store, snap_add, &b);
	pthread_mutex_unlock(&srv->lock);
	if (ret) {
		snap_put(b.m);
		return NULL;
	}
	snap_put(srv->snap);
	srv->snap = b.m;
	return b.m;
}

static const struct map_entry *snap_find(const struct map_snap *m, uint64_t id)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].id == id)
			return &m->v[mid];
		if (m->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* "]," and the map's fields after the peers: network, stun, turn. */
static char *map_tail(struct coord_server *srv, uint64_t id, size_t *len)
{
	uint64_t now = clock_wall_s();
	json_t *o =
		json_pack("{s:o,s:o,s:o}", "network", network_json(srv), "stun",
			  servers_json(srv->cfg.stun, srv->cfg.n_stun), "turn",
			  turn_json(srv, id, now));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!s)
		return NULL;
	/* replace the object's '{' by "]," */
	*len = strlen(s) + 1;
	char *t = malloc(*len + 1);
	if (t) {
		t[0] = ']';
		t[1] = ',';
		memcpy(t + 2, s + 1, *len - 1);
	}
	sodium_memzero(s, strlen(s));
	free(s);
	return t;
}

/* One map response, read out of a shared snapshot piece by piece. */
struct map_stream {
	struct map_snap *snap;
	uint64_t self;
	char *head, *tail; /* head: {"version":V,"self":{...},"peers":[ */
	size_t head_len, tail_len;
	int stage; /* 0 head, 1 peers, 2 tail, 3 done */
	size_t idx, off;
	bool first;
};

static void map_stream_free(void *cls)
{
	struct map_stream *m = cls;

	snap_put(m->snap);
	free(m->head);
	if (m->tail) {
		sodium_memzero(m->tail, m->tail_len);
		free(m->tail);
	}
	free(m);
}

/* The piece the stream is in: NULL when done. */
static const char *map_piece(struct map_stream *m, size_t *len)
{
	for (;;) {
		if (m->stage == 0) {
			*len = m->head_len;
			return m->head;
		}
		if (m->stage == 2) {
			*len = m->tail_len;
			return m->tail;
		}
		if (m->stage != 1)
			return NULL;
		if (m->idx == m->snap->n) {
			m->stage = 2;
			continue;
		}
		if (m->snap->v[m->idx].id == m->self) {
			m->idx++;
			continue;
		}
		/* the first peer goes without its leading comma */
		*len = m->snap->v[m->idx].len - (m->first ? 1 : 0);
		return m->snap->v[m->idx].json + (m->first ? 1 : 0);
	}
}

static ssize_t map_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct map_stream *m = cls;
	size_t n = 0, len, take;
	const char *src;

	while (n < max && (src = map_piece(m, &len))) {
		take = len - m->off < max - n ? len - m->off : max - n;
		memcpy(buf + n, src + m->off, take);
		n += take;
		m->off += take;
		if (m->off < len)
			break;
		m->off = 0;
		if (m->stage == 1) {
			m->idx++;
			m->first = false;
		} else {
			m->stage++;
		}
	}
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static int send_map(struct req *r, uint64_t version)
{
	struct coord_server *srv = r->srv;
	const struct map_entry *self;
	struct MHD_Response *resp;
	struct map_stream *m;
	struct map_snap *snap;
	uint64_t size;
	enum MHD_Result ok;
	char head[64];
	int n;

	snap = snap_get(srv, version);
	if (!snap)
		return fail(r, 500, "internal", "storage failure");
	self = snap_find(snap, r->node.id);
	if (!self) /* removed meanwhile */
		return fail(r, 401, "unauthorized", "node no longer exists");
	m = calloc(1, sizeof(*m));
	if (!m)
		return MHD_NO;
	m->snap = snap;
	snap->refs++;
	m->self = r->node.id;
	m->first = true;
	n = snprintf(head, sizeof(head),
		     "{\"version\":%" PRIu64 ",\"self\":", version);
	m->head_len = (size_t)n + self->len - 1 + 10;
	m->head = malloc(m->head_len + 1);
	m->tail = map_tail(srv, r->node.id, &m->tail_len);
	if (!m->head || !m->tail) {
		map_stream_free(m);
		return MHD_NO;
	}
	memcpy(m->head, head, (size_t)n);
	memcpy(m->head + n, self->json + 1, self->len - 1);
	memcpy(m->head + n + self->len - 1, ",\"peers\":[", 10);
	/* peers: every entry but self, the first without its comma */
	size = m->head_len + snap->total - self->len - (snap->n > 1 ? 1 : 0) +
	       m->tail_len;
	resp = MHD_create_response_from_callback(size, 32 * 1024, map_read, m,
						 map_stream_free);
	if (!resp) {
		map_stream_free(m);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	ok = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	r->responded = true;
	return ok;
}

/* ---------------------------------------------------------------- requests */

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *value)
{
	struct {
		struct req *r;
		unsigned allowed;
		struct coord_error *err;
		int ret;
	} *it = cls;

	it->ret = coord_query_add(&it->r->q, it->allowed, key, value, it->err);
	return it->ret ? MHD_NO : MHD_YES;
}

/* Parse the query string for the kind of request; 0 or -EINVAL with err. */
static int parse_query(struct req *r, unsigned allowed, struct coord_error *err)
{
	struct {
		struct req *r;
		unsigned allowed;
		struct coord_error *err;
		int ret;
	} it = { r, allowed, err, 0 };

	coord_query_init(&r->q);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_iter,
				  &it);
	return it.ret;
}

static int authenticate(struct req *r, struct coord_error *err)
{
	const char *h = MHD_lookup_connection_value(
		r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t hash[COORD_HASH_LEN];
	const char *tok;
	int ret;

	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return coord_error_set(err, 401, "unauthorized",
				       "a node credential is required");
	tok = h + 7;
	if (!coord_token_wellformed(COORD_CRED_PREFIX, tok, strlen(tok)))
		return coord_error_set(err, 401, "unauthorized",
				       "malformed node credential");
	coord_token_hash(tok, strlen(tok), hash);
	ret = coord_store_node_by_cred(r->srv->store, hash, &r->node);
	if (ret == -ENOENT)
		return coord_error_set(err, 401, "unauthorized",
				       "unknown node credential");
	if (ret)
		return coord_error_set(err, 500, "internal", "storage failure");
	return 0;
}

static int handle_health(struct req *r)
{
	struct coord_error err;

	if (parse_query(r, 0, &err))
		return send_error(r, &err);
	return send_json(r, 200,
			 json_pack("{s:s,s:i}", "status", "ok", "api", 1));
}

static int register_error(struct req *r, int ret)
{
	switch (ret) {
	case -ENOKEY:
		return fail(r, 401, "invalid_auth_key", "unknown auth key");
	case -EKEYEXPIRED:
		return fail(r, 401, "auth_key_expired", "auth key expired");
	case -EKEYREJECTED:
		return fail(r, 401, "auth_key_used",
			    "single-use auth key already used");
	case -ENOSPC:
		return fail(r, 503, "unavailable",
			    "no address or node slot left");
	default:
		return fail(r, 500, "internal", "storage failure");
	}
}

static int handle_register(struct req *r)
{
	struct coord_server *srv = r->srv;
	struct coord_register_req *rq;
	char cred[COORD_TOKEN_STRLEN];
	uint8_t kh[COORD_HASH_LEN], ch[COORD_HASH_LEN];
	struct coord_error err;
	struct coord_node n;
	bool created = false;
	int ret;

	if (parse_query(r, 0, &err))
		return send_error(r, &err);
	rq = malloc(sizeof(*rq));
	if (!rq)
		return MHD_NO;
	if (coord_req_parse_register(r->body, r->len, rq, &err)) {
		free(rq);
		return send_error(r, &err);
	}
	coord_token_hash(rq->auth_key, strlen(rq->auth_key), kh);
	coord_token_new(COORD_CRED_PREFIX, cred);
	coord_token_hash(cred, strlen(cred), ch);
	ret = coord_store_register(srv->store, kh, rq->node_key, rq->hostname,
				   ch, clock_wall_s(), &n, &created);
	sodium_memzero(rq, sizeof(*rq));
	free(rq);
	if (ret) {
		sodium_memzero(cred, sizeof(cred));
		return register_error(r, ret);
	}
	log_info("coord", "node %" PRIu64 " (%s) %s", n.id, n.name,
		 created ? "registered" : "registered again");
	pthread_mutex_lock(&srv->lock);
	srv->dirty |= created;
	pthread_mutex_unlock(&srv->lock);
	ret = send_json(r, 200,
			json_pack("{s:o,s:s,s:b,s:o}", "node",
				  node_json(srv, &n, false, 0), "credential",
				  cred, "created", created, "network",
				  network_json(srv)));
	sodium_memzero(cred, sizeof(cred));
	return ret;
}

static uint64_t current_version(struct coord_server *srv)
{
	uint64_t v;

	pthread_mutex_lock(&srv->lock);
	v = srv->version;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

/* Authenticate, read the query, count the long-poll. Once per request. */
static int prepare_poll(struct req *r, unsigned allowed)
{
	struct coord_error err;
	int ret;

	if (authenticate(r, &err) || parse_query(r, allowed, &err))
		return send_error(r, &err);
	r->prepared = true;
	r->deadline_ms = clock_now_ms() + (uint64_t)r->q.wait_s * 1000;
	if (r->q.wait_s == 0)
		return -1;
	pthread_mutex_lock(&r->srv->lock);
	ret = poll_begin(r->srv, r);
	pthread_mutex_unlock(&r->srv->lock);
	if (ret)
		return MHD_NO;
	return -1;
}

/* Nothing new yet: wait, or say so when the wait is over. */
static int wait_or_204(struct req *r)
{
	if (r->evicted || clock_now_ms() >= r->deadline_ms || !suspend(r))
		return send_empty(r, 204);
	return MHD_YES;
}

static int handle_netmap(struct req *r)
{
	uint64_t v;
	int ret;

	if (!r->prepared &&
	    (ret = prepare_poll(r, COORD_Q_SINCE | COORD_Q_WAIT)) >= 0)
		return ret;
	v = current_version(r->srv);
	if (!(r->q.seen & COORD_Q_SINCE) || r->q.since != v)
		return send_map(r, v);
	return wait_or_204(r);
}

struct sig_out {
	json_t *arr;
	uint64_t cursor;
};

static int sig_add(const struct coord_signal *m, void *arg)
{
	struct sig_out *o = arg;
	char key[COORD_KEY_B64_LEN + 1], *payload;
	size_t plen = sodium_base64_ENCODED_LEN(m->payload_len,
						sodium_base64_VARIANT_ORIGINAL);
	json_t *j;

	payload = malloc(plen);
	if (!payload)
		return -ENOMEM;
	coord_b64_encode(m->payload, m->payload_len, payload, plen);
	coord_b64_encode(m->from_key, COORD_KEY_LEN, key, sizeof(key));
	j = json_pack("{s:I,s:I,s:s,s:s,s:I,s:s}", "seq", (json_int_t)m->seq,
		      "from", (json_int_t)m->from, "from_key", key, "id", m->id,
		      "sent_at", (json_int_t)m->sent_at, "payload", payload);
	free(payload);
	if (!j || json_array_append_new(o->arr, j))
		return -ENOMEM;
	o->cursor = m->seq;
	return 0;
}

static int handle_signal_get(struct req *r)
{
	struct coord_server *srv = r->srv;
	struct sig_out o = { 0 };
	bool more = false;
	int ret, n;

	if (!r->prepared) {
		ret = prepare_poll(r, COORD_Q_AFTER | COORD_Q_WAIT |
					      COORD_Q_LIMIT);
		if (ret >= 0)
			return ret;
		if (coord_store_signal_ack(srv->store, r->node.id, r->q.after))
			return fail(r, 500, "internal", "storage failure");
	}
	o.arr = json_array();
	if (!o.arr)
		return MHD_NO;
	n = coord_store_signal_fetch(srv->store, r->node.id, r->q.after,
				     r->q.limit, clock_wall_s(), sig_add, &o,
				     &more);
	if (n < 0) {
		json_decref(o.arr);
		return fail(r, 500, "internal", "storage failure");
	}
	if (n == 0) {
		json_decref(o.arr);
		return wait_or_204(r);
	}
	return send_json(r, 200,
			 json_pack("{s:o,s:I,s:b}", "messages", o.arr, "cursor",
				   (json_int_t)o.cursor, "more", more));
}

static int handle_signal_post(struct req *r)
{
	struct coord_signal_req *rq;
	struct coord_error err;
	uint64_t seq = 0, to;
	bool dup = false;
	int ret;

	if (authenticate(r, &err) || parse_query(r, 0, &err))
		return send_error(r, &err);
	rq = malloc(sizeof(*rq));
	if (!rq)
		return MHD_NO;
	if (coord_req_parse_signal(r->body, r->len, rq, &err)) {
		free(rq);
		return send_error(r, &err);
	}
	to = rq->to;
	if (to == r->node.id) {
		free(rq);
		return fail(r, 400, "invalid_field",
			    "a node cannot signal itself");
	}
	ret = coord_store_signal_put(r->srv->store, r->node.id, rq,
				     clock_wall_s(), &seq, &dup);
	free(rq);
	switch (ret) {
	case 0:
		break;
	case -ENOENT:
		return fail(r, 404, "unknown_node", "no node %" PRIu64, to);
	case -EEXIST:
		return fail(r, 409, "duplicate_id",
			    "message id already used for other content");
	case -ENOBUFS:
		return fail(r, 429, "queue_full", "too many pending messages");
	default:
		return fail(r, 500, "internal", "storage failure");
	}
	if (!dup)
		wake_signal_waiters(r->srv, to);
	return send_json(r, 200,
			 json_pack("{s:I,s:b}", "seq", (json_int_t)seq,
				   "duplicate", dup));
}

static int finish(struct req *r)
{
	if (r->responded)
		return MHD_YES;
	if (r->too_large)
		return fail(r, 413, "body_too_large",
			    "request body over %d bytes", COORD_MAX_BODY);
	if ((r->kind == REQ_REGISTER || r->kind == REQ_SIGNAL_POST) &&
	    r->len == 0)
		return fail(r, 411, "length_required",
			    "a JSON request body is required");
	switch (r->kind) {
	case REQ_HEALTH:
		return handle_health(r);
	case REQ_REGISTER:
		return handle_register(r);
	case REQ_NETMAP:
		return handle_netmap(r);
	case REQ_SIGNAL_GET:
		return handle_signal_get(r);
	default:
		return handle_signal_post(r);
	}
}

static bool json_content_type(struct MHD_Connection *conn)
{
	const char *ct = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen("application/json");

	return ct && strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Route, and refuse early what needs no body to refuse. */
static int start(struct req *r, const char *url, const char *method)
{
	static const struct {
		const char *path, *method, *allow;
		enum req_kind kind;
	} routes[] = {
		{ "/v1/health", "GET", "GET", REQ_HEALTH },
		{ "/v1/register", "POST", "POST", REQ_REGISTER },
		{ "/v1/netmap", "GET", "GET", REQ_NETMAP },
		{ "/v1/signal", "GET", "GET, POST", REQ_SIGNAL_GET },
		{ "/v1/signal", "POST", "GET, POST", REQ_SIGNAL_POST },
	};
	const char *allow = NULL, *cl;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0)
			continue;
		allow = routes[i].allow;
		if (strcmp(method, routes[i].method) == 0)
			r->kind = routes[i].kind;
	}
	if (!allow)
		return fail(r, 404, "not_found", "no such path");
	if (!r->kind) {
		struct coord_error e = { .status = 405,
					 .code = "method_not_allowed" };
		snprintf(e.message, sizeof(e.message), "use %s", allow);
		return send_error_allow(r, &e, allow);
	}
	if (r->kind != REQ_REGISTER && r->kind != REQ_SIGNAL_POST)
		return MHD_YES;
	if (!json_content_type(r->conn))
		return fail(r, 415, "unsupported_media_type",
			    "the body must be application/json");
	cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > COORD_MAX_BODY)
		return fail(r, 413, "body_too_large",
			    "request body over %d bytes", COORD_MAX_BODY);
	return MHD_YES;
}

static void append_body(struct req *r, const char *data, size_t n)
{
	if (r->too_large || r->len + n > COORD_MAX_BODY) {
		r->too_large = true;
		return;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		char *b;
		while (cap < r->len + n)
			cap *= 2;
		if (cap > COORD_MAX_BODY)
			cap = COORD_MAX_BODY;
		b = realloc(r->body, cap);
		if (!b) {
			r->too_large = true;
			return;
		}
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->srv = cls;
		r->conn = conn;
		*con_cls = r;
		return start(r, url, method) == MHD_NO ? MHD_NO : MHD_YES;
	}
	if (*upload_size) {
		if (!r->responded)
			append_body(r, upload_data, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return finish(r) == MHD_NO ? MHD_NO : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct coord_server *srv = cls;
	struct req *r = *con_cls;

	if (!r)
		return;
	pthread_mutex_lock(&srv->lock);
	if (r->polling)
		poll_end(srv, r);
	pthread_mutex_unlock(&srv->lock);
	if (r->body) {
		sodium_memzero(r->body, r->cap);
		free(r->body);
	}
	free(r);
	*con_cls = NULL;
}

/* ---------------------------------------------------------------- housekeeping */

/* Offline transitions, deadlines, publishing. Locked. */
static void tick_locked(struct coord_server *srv, uint64_t now_ms,
			uint64_t *touch, unsigned *ntouch, unsigned max_touch)
{
	bool publish;

	publish = srv->dirty &&
		  now_ms - srv->last_publish_ms >= COORD_PUBLISH_MIN_MS;
	if (publish) {
		srv->version++;
		srv->dirty = false;
		srv->last_publish_ms = now_ms;
	}
	for (size_t b = 0; b < PRESENCE_BUCKETS; b++) {
		struct presence **pp = &srv->buckets[b];
		while (*pp) {
			struct presence *p = *pp;
			for (unsigned i = 0; i < p->npolls; i++) {
				struct req *r = p->polls[i];
				if (now_ms >= r->deadline_ms ||
				    (publish && r->kind == REQ_NETMAP))
					wake(r);
			}
			/* gone offline: its last_seen is written before the
			 * map says so; past max_touch, the next tick */
			if (p->npolls == 0 &&
			    now_ms - p->last_end_ms >= srv->grace_ms &&
			    *ntouch < max_touch) {
				touch[(*ntouch)++] = p->id;
				srv->dirty = true;
				*pp = p->next;
				free(p);
				continue;
			}
			pp = &p->next;
		}
	}
}

static void housekeep(struct coord_server *srv, uint64_t now_wall)
{
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	unsigned removed = 0;
	bool complete = true;

	/* Every node seen lately gets its last_seen written, all of them:
	 * an online ephemeral node must never look idle. */
	pthread_mutex_lock(&srv->lock);
	for (size_t b = 0; b < PRESENCE_BUCKETS && complete; b++) {
		for (struct presence *p = srv->buckets[b]; p; p = p->next) {
			if (n == cap) {
				size_t c = cap ? cap * 2 : 256;
				uint64_t *v = realloc(ids, c * sizeof(*v));
				if (!v) {
					complete = false;
					break;
				}
				ids = v;
				cap = c;
			}
			ids[n++] = p->id;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	if (coord_store_touch_many(srv->hstore, ids, n, now_wall) != 0)
		complete = false;
	free(ids);
	coord_store_signal_purge(srv->hstore, now_wall);
	/* without a complete touch, removing "idle" nodes could hit live ones */
	if (complete && now_wall > COORD_EPHEMERAL_IDLE_S &&
	    coord_store_remove_stale_ephemeral(
		    srv->hstore, now_wall - COORD_EPHEMERAL_IDLE_S, now_wall,
		    &removed) == 0 &&
	    removed)
		log_info("coord", "removed %u idle ephemeral nodes", removed);
}

static void *housekeeping_thread(void *arg)
{
	struct coord_server *srv = arg;
	uint64_t changes = 0, epoch, last_hk = clock_now_ms();
	uint64_t touch[256];
	struct timespec ts;

	coord_store_changes(srv->hstore, &changes);
	epoch = turn_epoch(srv, clock_wall_s());
	pthread_mutex_lock(&srv->lock);
	while (!srv->stop) {
		uint64_t now = clock_now_ms(), c = changes, e;
		unsigned ntouch = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
		if (srv->stop)
			break;
		pthread_mutex_unlock(&srv->lock);

		coord_store_changes(srv->hstore, &c);
		e = turn_epoch(srv, clock_wall_s());
		now = clock_now_ms();
		if (now - last_hk >= HOUSEKEEP_MS) {
			housekeep(srv, clock_wall_s());
			last_hk = now;
		}

		pthread_mutex_lock(&srv->lock);
		if (c != changes || e != epoch)
			srv->dirty = true;
		changes = c;
		epoch = e;
		tick_locked(srv, now, touch, &ntouch, 256);
		if (ntouch) {
			pthread_mutex_unlock(&srv->lock);
			coord_store_touch_many(srv->hstore, touch, ntouch,
					       clock_wall_s());
			pthread_mutex_lock(&srv->lock);
		}
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* ---------------------------------------------------------------- life */

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_ratelimited(LOG_LEVEL_WARN, "coord", "http: %s", line);
}

static int open_stores(struct coord_server *srv)
{
	char path[PATH_MAX];
	int ret;

	if (snprintf(path, sizeof(path), "%s/coord.db", srv->opts.state_dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	ret = coord_store_open(path, false, &srv->store);
	if (ret)
		return ret;
	ret = coord_store_config_get(srv->store, &srv->cfg);
	if (ret)
		return ret;
	return coord_store_open(path, false, &srv->hstore);
}

static int start_mhd(struct coord_server *srv)
{
	const struct coord_server_opts *o = &srv->opts;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	if (o->listen.sa.sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!o->insecure_http)
		flags |= MHD_USE_TLS;
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_SOCK_ADDR,
		&o->listen.sa, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(o->max_connections ? o->max_connections
					      : COORD_DEFAULT_MAX_CONN),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(o->conn_timeout_s ? o->conn_timeout_s
					     : COORD_DEFAULT_TIMEOUT_S),
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_HTTPS_MEM_CERT,
		o->insecure_http ? NULL : srv->tls.cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY,
		o->insecure_http ? NULL : srv->tls.key_pem,
		MHD_OPTION_HTTPS_PRIORITIES,
		o->insecure_http ? NULL
				 : "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		MHD_OPTION_END);
	if (!srv->mhd)
		return -EADDRNOTAVAIL;
	info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : 0;
	return 0;
}

int coord_server_start(const struct coord_server_opts *opts,
		       struct coord_server **out)
{
	struct coord_server *srv;
	int ret;

	if (opts->insecure_http && !addr_is_loopback(&opts->listen))
		return -EPERM;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->opts = *opts;
	srv->grace_ms = opts->online_grace_ms ? opts->online_grace_ms
					      : COORD_ONLINE_GRACE_MS;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->cond, NULL);
	/* Versions only need to differ from what a client holds: starting at
	 * wall-clock milliseconds keeps them apart across restarts. */
	srv->version = clock_wall_s() * 1000 + clock_now_ms() % 1000;
	ret = open_stores(srv);
	if (ret)
		goto err;
	if (!opts->insecure_http) {
		ret = coord_tls_load(opts->state_dir, opts->cert_path,
				     opts->key_path, &srv->tls);
		if (ret)
			goto err;
	}
	ret = start_mhd(srv);
	if (ret)
		goto err;
	if (pthread_create(&srv->thread, NULL, housekeeping_thread, srv)) {
		ret = -EAGAIN;
		goto err;
	}
	srv->thread_started = true;
	*out = srv;
	return 0;
err:
	coord_server_stop(srv);
	return ret;
}

uint16_t coord_server_port(const struct coord_server *srv)
{
	return srv->port;
}

const char *coord_server_pin(const struct coord_server *srv)
{
	return srv->tls.pin;
}

void coord_server_stop(struct coord_server *srv)
{
	if (!srv)
		return;
	pthread_mutex_lock(&srv->lock);
	srv->stop = true;
	srv->stopping = true;
	pthread_cond_broadcast(&srv->cond);
	for (size_t b = 0; b < PRESENCE_BUCKETS; b++)
		for (struct presence *p = srv->buckets[b]; p; p = p->next)
			for (unsigned i = 0; i < p->npolls; i++)
				wake(p->polls[i]);
	pthread_mutex_unlock(&srv->lock);
	if (srv->thread_started)
		pthread_join(srv->thread, NULL);
	if (srv->mhd) {
		/* let resumed long-polls get their 204 out */
		struct timespec ts = { 0, 200 * 1000000L };
		nanosleep(&ts, NULL);
		MHD_stop_daemon(srv->mhd);
	}
	for (size_t b = 0; b < PRESENCE_BUCKETS; b++) {
		while (srv->buckets[b]) {
			struct presence *p = srv->buckets[b];
			srv->buckets[b] = p->next;
			free(p);
		}
	}
	snap_put(srv->snap);
	coord_store_close(srv->store);
	coord_store_close(srv->hstore);
	coord_tls_free(&srv->tls);
	pthread_mutex_destroy(&srv->lock);
	pthread_cond_destroy(&srv->cond);
	sodium_memzero(srv->cfg.turn_secret, sizeof(srv->cfg.turn_secret));
	free(srv);
}
