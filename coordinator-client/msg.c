// SPDX-License-Identifier: MIT
#include "coordinator-client/msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

/* Parse buf as one JSON object; NULL for anything else. */
static json_t *load_object(const char *buf, size_t len)
{
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);

	if (root && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int get_uint(const json_t *obj, const char *key, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t i;

	if (!json_is_integer(v))
		return -EBADMSG;
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return -EBADMSG;
	*out = (uint64_t)i;
	return 0;
}

/* Absent is false; present must be a boolean. */
static int get_bool_opt(const json_t *obj, const char *key, bool *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = false;
		return 0;
	}
	if (!json_is_boolean(v))
		return -EBADMSG;
	*out = json_is_true(v);
	return 0;
}

typedef bool (*charset_fn)(char c);

static bool cs_name(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool cs_hostport(char c)
{
	return cs_name(c) || c == ':' || c == '[' || c == ']' || c == '%';
}

static bool cs_printable(char c)
{
	return c > 0x20 && c < 0x7f;
}

static bool cs_any(char c)
{
	return true;
}

/* A string of 1..max chars, all in charset, copied into out (max + 1). */
static int str_copy(const json_t *v, size_t max, charset_fn cs, char *out)
{
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > max || strlen(s) != len)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if (!cs(s[i]))
			return -EBADMSG;
	memcpy(out, s, len + 1);
	return 0;
}

static int get_str(const json_t *obj, const char *key, size_t max,
		   charset_fn cs, char *out)
{
	return str_copy(json_object_get(obj, key), max, cs, out);
}

/* Standard base64 of exactly cap-or-fewer bytes, no trailing junk. */
static int b64_decode(const char *s, size_t len, uint8_t *bin, size_t cap,
		      size_t *out_len)
{
	const char *end = NULL;
	size_t n = 0;

	if (sodium_base642bin(bin, cap, s, len, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + len)
		return -EBADMSG;
	*out_len = n;
	return 0;
}

int coordc_key_from_b64(const char *s, uint8_t key[COORDC_KEY_LEN])
{
	uint8_t tmp[COORDC_KEY_LEN];
	size_t n;

	if (!s || strlen(s) != 44 || b64_decode(s, 44, tmp, sizeof(tmp), &n) ||
	    n != COORDC_KEY_LEN)
		return -EBADMSG;
	memcpy(key, tmp, COORDC_KEY_LEN);
	return 0;
}

void coordc_key_to_b64(const uint8_t key[COORDC_KEY_LEN], char out[45])
{
	sodium_bin2base64(out, 45, key, COORDC_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

static int get_key(const json_t *obj, const char *key, uint8_t out[32])
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || json_string_length(v) != 44)
		return -EBADMSG;
	return coordc_key_from_b64(json_string_value(v), out);
}

static int get_addr(const json_t *obj, const char *key, int family, void *out)
{
	char s[INET6_ADDRSTRLEN + 1];

	if (get_str(obj, key, INET6_ADDRSTRLEN, cs_hostport, s) ||
	    inet_pton(family, s, out) != 1)
		return -EBADMSG;
	return 0;
}

static bool cs_prefix(char c)
{
	return cs_hostport(c) || c == '/';
}

/* "ADDR/LEN" */
static int prefix_parse(const json_t *v, struct coordc_prefix *out)
{
	char s[INET6_ADDRSTRLEN + 5], *slash, *end;
	struct coordc_prefix p = { 0 };
	unsigned long len;

	if (str_copy(v, sizeof(s) - 1, cs_prefix, s) != 0)
		return -EBADMSG;
	slash = strchr(s, '/');
	if (!slash || slash[1] < '0' || slash[1] > '9' || strlen(slash) > 4)
		return -EBADMSG;
	*slash = '\0';
	len = strtoul(slash + 1, &end, 10);
	if (*end)
		return -EBADMSG;
	if (inet_pton(AF_INET, s, p.addr) == 1) {
		p.family = AF_INET;
		if (len > 32)
			return -EBADMSG;
	} else if (inet_pton(AF_INET6, s, p.addr) == 1) {
		p.family = AF_INET6;
		if (len > 128)
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	p.len = (uint8_t)len;
	*out = p;
	return 0;
}

static int node_parse(const json_t *o, struct coordc_node *n)
{
	const json_t *ips = json_object_get(o, "allowed_ips");
	size_t i;

	memset(n, 0, sizeof(*n));
	if (!json_is_object(o) ||
	    get_uint(o, "id", 1, COORDC_MAX_NODE_ID, &n->id) ||
	    get_str(o, "name", COORDC_NAME_MAX, cs_name, n->name) ||
	    get_key(o, "node_key", n->key) ||
	    get_addr(o, "ipv4", AF_INET, &n->ipv4) ||
	    get_addr(o, "ipv6", AF_INET6, &n->ipv6) ||
	    get_bool_opt(o, "online", &n->online) ||
	    get_bool_opt(o, "ephemeral", &n->ephemeral))
		return -EBADMSG;
	if (json_object_get(o, "last_seen") &&
	    get_uint(o, "last_seen", 0, UINT64_MAX, &n->last_seen))
		return -EBADMSG;
	if (!json_is_array(ips) ||
	    json_array_size(ips) > COORDC_MAX_ALLOWED_IPS)
		return -EBADMSG;
	for (i = 0; i < json_array_size(ips); i++)
		if (prefix_parse(json_array_get(ips, i), &n->allowed_ips[i]))
			return -EBADMSG;
	n->n_allowed_ips = (unsigned)i;
	return 0;
}

static int network_parse(const json_t *o, struct coordc_prefix *v4,
			 struct coordc_prefix *v6)
{
	if (!json_is_object(o) ||
	    prefix_parse(json_object_get(o, "ipv4_prefix"), v4) ||
	    prefix_parse(json_object_get(o, "ipv6_prefix"), v6) ||
	    v4->family != AF_INET || v6->family != AF_INET6)
		return -EBADMSG;
	return 0;
}

/* An array of at most COORDC_MAX_SERVERS "host:port" strings. */
static int servers_parse(const json_t *a, char (*out)[COORDC_HOSTPORT_MAX + 1],
			 unsigned *n)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > COORDC_MAX_SERVERS)
		return -EBADMSG;
	for (i = 0; i < json_array_size(a); i++)
		if (str_copy(json_array_get(a, i), COORDC_HOSTPORT_MAX,
			     cs_hostport, out[i]))
			return -EBADMSG;
	*n = (unsigned)i;
	return 0;
}

static int turn_parse(const json_t *o, struct coordc_turn *t)
{
	if (!json_is_object(o) ||
	    servers_parse(json_object_get(o, "servers"), t->servers,
			  &t->n_servers) ||
	    get_str(o, "username", COORDC_TURN_FIELD_MAX, cs_printable,
		    t->username) ||
	    get_str(o, "password", COORDC_TURN_FIELD_MAX, cs_printable,
		    t->password) ||
	    get_uint(o, "expires", 0, UINT64_MAX, &t->expires))
		return -EBADMSG;
	return 0;
}

static int netmap_fill(const json_t *root, struct coordc_netmap *nm)
{
	const json_t *peers = json_object_get(root, "peers");
	const json_t *stun = json_object_get(root, "stun");
	const json_t *turn = json_object_get(root, "turn");
	size_t i;

	if (get_uint(root, "version", 0, UINT64_MAX, &nm->version) ||
	    node_parse(json_object_get(root, "self"), &nm->self) ||
	    network_parse(json_object_get(root, "network"), &nm->ipv4_prefix,
			  &nm->ipv6_prefix))
		return -EBADMSG;
	if (stun && servers_parse(stun, nm->stun, &nm->n_stun))
		return -EBADMSG;
	if (turn && !json_is_null(turn)) {
		if (turn_parse(turn, &nm->turn))
			return -EBADMSG;
		nm->has_turn = true;
	}
	if (!json_is_array(peers) || json_array_size(peers) > COORDC_MAX_PEERS)
		return -EBADMSG;
	nm->n_peers = json_array_size(peers);
	if (nm->n_peers) {
		nm->peers = calloc(nm->n_peers, sizeof(*nm->peers));
		if (!nm->peers)
			return -ENOMEM;
	}
	for (i = 0; i < nm->n_peers; i++) {
		struct coordc_node *p = &nm->peers[i];

		if (node_parse(json_array_get(peers, i), p) ||
		    p->id == nm->self.id ||
		    sodium_memcmp(p->key, nm->self.key, COORDC_KEY_LEN) == 0)
			return -EBADMSG;
	}
	return 0;
}

int coordc_parse_netmap(const char *buf, size_t len, struct coordc_netmap **out)
{
	json_t *root = load_object(buf, len);
	struct coordc_netmap *nm;
	int ret;

	if (!root)
		return -EBADMSG;
	nm = calloc(1, sizeof(*nm));
	if (!nm) {
		json_decref(root);
		return -ENOMEM;
	}
	ret = netmap_fill(root, nm);
	json_decref(root);
	if (ret) {
		coordc_netmap_free(nm);
		return ret;
	}
	*out = nm;
	return 0;
}

void coordc_netmap_free(struct coordc_netmap *nm)
{
	if (!nm)
		return;
	sodium_memzero(nm->turn.password, sizeof(nm->turn.password));
	free(nm->peers);
	free(nm);
}

const struct coordc_node *coordc_netmap_find(const struct coordc_netmap *nm,
					     const uint8_t key[COORDC_KEY_LEN])
{
	for (size_t i = 0; nm && i < nm->n_peers; i++)
		if (memcmp(nm->peers[i].key, key, COORDC_KEY_LEN) == 0)
			return &nm->peers[i];
	return NULL;
}

static bool cs_credential(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int coordc_parse_register(const char *buf, size_t len,
			  struct coordc_registration *out)
{
	json_t *root = load_object(buf, len);
	struct coordc_registration r;
	const json_t *created;
	int ret = -EBADMSG;

	if (!root)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	created = json_object_get(root, "created");
	/* the credential goes into a header: a strict charset, no CR/LF */
	if (node_parse(json_object_get(root, "node"), &r.node) ||
	    get_str(root, "credential", COORDC_CREDENTIAL_MAX, cs_credential,
		    r.credential) ||
	    !json_is_boolean(created) ||
	    network_parse(json_object_get(root, "network"), &r.ipv4_prefix,
			  &r.ipv6_prefix))
		goto out;
	r.created = json_is_true(created);
	*out = r;
	ret = 0;
out:
	sodium_memzero(&r, sizeof(r));
	json_decref(root);
	return ret;
}

static bool cs_id(char c)
{
	return cs_name(c);
}

static int signal_parse(const json_t *o, struct coordc_signal *m)
{
	const json_t *pl = json_object_get(o, "payload");
	size_t n, b64_len;

	if (!json_is_object(o) || get_uint(o, "seq", 1, UINT64_MAX, &m->seq) ||
	    get_uint(o, "from", 1, COORDC_MAX_NODE_ID, &m->from) ||
	    get_key(o, "from_key", m->from_key) ||
	    get_str(o, "id", COORDC_SIGNAL_ID_MAX, cs_id, m->id) ||
	    get_uint(o, "sent_at", 0, UINT64_MAX, &m->sent_at) ||
	    !json_is_string(pl))
		return -EBADMSG;
	b64_len = json_string_length(pl);
	/* 4 chars per 3 bytes: refuse before decoding anything oversized */
	if (b64_len == 0 || b64_len > (COORDC_MAX_SIGNAL_PAYLOAD + 2) / 3 * 4)
		return -EBADMSG;
	m->payload = malloc(COORDC_MAX_SIGNAL_PAYLOAD);
	if (!m->payload)
		return -ENOMEM;
	if (b64_decode(json_string_value(pl), b64_len, m->payload,
		       COORDC_MAX_SIGNAL_PAYLOAD, &n) ||
	    n == 0)
		return -EBADMSG;
	m->len = n;
	return 0;
}

static int signals_fill(const json_t *root, struct coordc_signal_batch *b)
{
	const json_t *msgs = json_object_get(root, "messages");
	const json_t *more = json_object_get(root, "more");

	if (!json_is_array(msgs) ||
	    json_array_size(msgs) > COORDC_MAX_SIGNALS ||
	    get_uint(root, "cursor", 0, UINT64_MAX, &b->cursor) ||
	    (more && !json_is_boolean(more)))
		return -EBADMSG;
	b->more = json_is_true(more);
	for (size_t i = 0; i < json_array_size(msgs); i++) {
		int ret = signal_parse(json_array_get(msgs, i), &b->msgs[i]);

		b->n = (unsigned)i + 1; /* so that free sees the payload */
		if (ret)
			return ret;
		/* in seq order, each once */
		if (i && b->msgs[i].seq <= b->msgs[i - 1].seq)
			return -EBADMSG;
	}
	/* the cursor acknowledges: it must not pass what we were given */
	if (b->n && b->cursor != b->msgs[b->n - 1].seq)
		return -EBADMSG;
	return 0;
}

int coordc_parse_signals(const char *buf, size_t len,
			 struct coordc_signal_batch **out)
{
	json_t *root = load_object(buf, len);
	struct coordc_signal_batch *b;
	int ret;

	if (!root)
		return -EBADMSG;
	b = calloc(1, sizeof(*b));
	if (!b) {
		json_decref(root);
		return -ENOMEM;
	}
	ret = signals_fill(root, b);
	json_decref(root);
	if (ret) {
		coordc_signal_batch_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

void coordc_signal_batch_free(struct coordc_signal_batch *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < b->n; i++)
		free(b->msgs[i].payload);
	free(b);
}

int coordc_parse_error(const char *buf, size_t len, char *code)
{
	json_t *root = load_object(buf, len);
	int ret;

	if (!root)
		return -EBADMSG;
	ret = get_str(json_object_get(root, "error"), "code",
		      COORDC_ERROR_CODE_MAX, cs_name, code);
	json_decref(root);
	return ret;
}

int coordc_parse_health(const char *buf, size_t len)
{
	json_t *root = load_object(buf, len);
	char status[16];
	uint64_t api;
	int ret = -EBADMSG;

	if (!root)
		return -EBADMSG;
	if (!get_str(root, "status", sizeof(status) - 1, cs_any, status) &&
	    strcmp(status, "ok") == 0 && !get_uint(root, "api", 1, 1, &api))
		ret = 0;
	json_decref(root);
	return ret;
}
