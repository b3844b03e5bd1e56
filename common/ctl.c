// SPDX-License-Identifier: MIT
/*
 * The control protocol: one schema table per command, read by a decoder
 * (JSON -> struct, with the checks) and an encoder (struct -> JSON, with the
 * same checks), so what the daemon sends is what the CLI accepts.
 */
#include "common/ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

/* ------------------------------------------------------------ names */

static const char *const cmd_names[CTL_CMD_COUNT] = {
	[CTL_CMD_UP] = "up",
	[CTL_CMD_DOWN] = "down",
	[CTL_CMD_STATUS] = "status",
	[CTL_CMD_PING] = "ping",
	[CTL_CMD_NETCHECK] = "netcheck",
	[CTL_CMD_WHY] = "why",
};

static const char *const err_names[CTL_E_COUNT] = {
	[CTL_E_OTHER] = "error",
	[CTL_E_BAD_REQUEST] = "bad-request",
	[CTL_E_UNKNOWN_COMMAND] = "unknown-command",
	[CTL_E_BAD_ARGUMENT] = "bad-argument",
	[CTL_E_LINE_TOO_LONG] = "line-too-long",
	[CTL_E_BUSY] = "busy",
	[CTL_E_NOT_UP] = "not-up",
	[CTL_E_COORDINATOR_UNREACHABLE] = "coordinator-unreachable",
	[CTL_E_BAD_AUTH_KEY] = "bad-auth-key",
	[CTL_E_UNKNOWN_PEER] = "unknown-peer",
	[CTL_E_TIMEOUT] = "timeout",
	[CTL_E_INTERNAL] = "internal",
	[CTL_E_BAD_RESPONSE] = "bad-response",
};

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
	if ((unsigned)cmd >= CTL_CMD_COUNT)
		return NULL;
	return cmd_names[cmd];
}

int ctl_cmd_from_name(const char *name, enum ctl_cmd *out)
{
	for (int i = 0; i < CTL_CMD_COUNT; i++) {
		if (strcmp(name, cmd_names[i]) == 0) {
			*out = (enum ctl_cmd)i;
			return 0;
		}
	}
	return -ENOENT;
}

const char *ctl_errcode_name(enum ctl_errcode code)
{
	if ((unsigned)code >= CTL_E_COUNT)
		return err_names[CTL_E_OTHER];
	return err_names[code];
}

enum ctl_errcode ctl_errcode_from_name(const char *name)
{
	for (int i = 1; i < CTL_E_COUNT; i++)
		if (strcmp(name, err_names[i]) == 0)
			return (enum ctl_errcode)i;
	return CTL_E_OTHER;
}

void ctl_error_set(struct ctl_error *err, enum ctl_errcode code,
		   const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	snprintf(err->code_str, sizeof(err->code_str), "%s",
		 ctl_errcode_name(code));
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ schemas */

enum ftype {
	FT_STR,
	FT_U32,
	FT_U64,
	FT_F64,
	FT_BOOL,
	FT_ENUM,
	FT_OBJ,
	FT_ARR,
	FT_STRARR
};

/* What a string must look like, beyond printable UTF-8. */
enum fcheck {
	FC_TEXT,
	FC_WORD,
	FC_URL,
	FC_PIN,
	FC_FILE,
	FC_HOSTNAME,
	FC_KEY,
	FC_IP4,
	FC_IP6,
	FC_ADDR
};

enum { F_REQ = 1, F_SECRET = 2 };

/* An upper bound for any time in milliseconds we report: about 2.8 hours. */
#define RTT_MAX_MS 1e7

struct ctx;
struct schema {
	const struct field *f;
	size_t n;
	int (*check)(const void *obj, struct ctx *c);
};

struct field {
	const char *name;
	enum ftype type;
	enum fcheck check;
	unsigned flags;
	size_t off;
	size_t size; /* string buffer; array element */
	size_t cnt_off; /* arrays: where the count is */
	size_t cap; /* arrays: most entries */
	uint64_t min, max, def;
	const struct schema *sub;
	const char *const *names; /* enums, indexed by value; "" is no value */
	size_t n_names;
};

#define MEMBER_SIZE(st, m) sizeof(((st *)0)->m)
#define F_STR(st, m, chk, fl)                                          \
	{                                                              \
		.name = #m, .type = FT_STR, .check = chk, .flags = fl, \
		.off = offsetof(st, m), .size = MEMBER_SIZE(st, m)     \
	}
#define F_INT(st, m, t, fl, lo, hi, d)                                      \
	{                                                                   \
		.name = #m, .type = t, .flags = fl, .off = offsetof(st, m), \
		.min = lo, .max = hi, .def = d                              \
	}
#define F_F64(st, m, fl)                                 \
	{                                                \
		.name = #m, .type = FT_F64, .flags = fl, \
		.off = offsetof(st, m)                   \
	}
#define F_BOOL(st, m, fl)                                 \
	{                                                 \
		.name = #m, .type = FT_BOOL, .flags = fl, \
		.off = offsetof(st, m)                    \
	}
#define F_ENUM(st, m, fl, tbl)                            \
	{                                                 \
		.name = #m, .type = FT_ENUM, .flags = fl, \
		.off = offsetof(st, m), .names = tbl,     \
		.n_names = sizeof(tbl) / sizeof(tbl[0])   \
	}
#define F_OBJ(st, m, fl, s)                              \
	{                                                \
		.name = #m, .type = FT_OBJ, .flags = fl, \
		.off = offsetof(st, m), .sub = &s        \
	}
#define F_ARR(st, m, n, elem, c, s)                                 \
	{                                                           \
		.name = #m, .type = FT_ARR, .flags = F_REQ,         \
		.off = offsetof(st, m), .cnt_off = offsetof(st, n), \
		.size = sizeof(elem), .cap = c, .sub = &s           \
	}
#define F_STRARR(st, m, n, chk, c)                                           \
	{                                                                    \
		.name = #m, .type = FT_STRARR, .check = chk, .flags = F_REQ, \
		.off = offsetof(st, m), .cnt_off = offsetof(st, n),          \
		.size = sizeof(*((st *)0)->m), .cap = c                      \
	}
#define SCHEMA(tbl, chk)                                                  \
	{                                                                 \
		.f = tbl, .n = sizeof(tbl) / sizeof(tbl[0]), .check = chk \
	}

static const char *const state_names[] = { "running", "stopped",
					   "needs-login" };
static const char *const path_names[] = { "none", "direct", "relay" };
static const char *const cand_names[] = { "", "host", "srflx", "prflx",
					  "relay" };
static const char *const pair_names[] = { "frozen", "waiting", "in-progress",
					  "succeeded", "failed" };
static const char *const mapping_names[] = { "unknown", "endpoint-independent",
					     "endpoint-dependent" };
static const char *const server_names[] = { "stun", "turn" };

struct ctx {
	struct ctl_error *err;
	enum ctl_errcode code;
	bool strict; /* unknown fields are errors (requests) */
	char path[160];
	size_t plen;
};

static int fail(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct ctx *c, const char *fmt, ...)
{
	char msg[CTL_TEXT_MAX - 168];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->plen)
		ctl_error_set(c->err, c->code, "%s: %s", c->path, msg);
	else
		ctl_error_set(c->err, c->code, "%s", msg);
	return -EINVAL;
}

static size_t path_push(struct ctx *c, const char *name, size_t index,
			bool is_index)
{
	size_t saved = c->plen;
	int n;

	if (is_index)
		n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen,
			     "[%zu]", index);
	else
		n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen,
			     "%s%s", c->plen ? "." : "", name);
	if (n > 0)
		c->plen = strnlen(c->path, sizeof(c->path) - 1);
	return saved;
}

static void path_pop(struct ctx *c, size_t saved)
{
	c->plen = saved;
	c->path[saved] = '\0';
}

static int cand_check(const void *obj, struct ctx *c);
static int path_check(const void *obj, struct ctx *c);
static int up_check(const void *obj, struct ctx *c);
static int ping_event_check(const void *obj, struct ctx *c);
static int ping_result_check(const void *obj, struct ctx *c);

static const struct field up_fields[] = {
	F_STR(struct ctl_up_args, coordinator, FC_URL, F_REQ),
	F_STR(struct ctl_up_args, auth_key, FC_WORD, F_REQ | F_SECRET),
	F_STR(struct ctl_up_args, coordinator_pin, FC_PIN, 0),
	F_STR(struct ctl_up_args, ca_file, FC_FILE, 0),
	F_STR(struct ctl_up_args, hostname, FC_HOSTNAME, 0),
};
static const struct field ping_args_fields[] = {
	F_STR(struct ctl_ping_args, peer, FC_WORD, F_REQ),
	F_INT(struct ctl_ping_args, count, FT_U32, 0, 1, CTL_PING_COUNT_MAX,
	      CTL_PING_COUNT_DEFAULT),
	F_INT(struct ctl_ping_args, timeout_ms, FT_U32, 0,
	      CTL_PING_TIMEOUT_MIN_MS, CTL_PING_TIMEOUT_MAX_MS,
	      CTL_PING_TIMEOUT_DEFAULT_MS),
};
static const struct field why_args_fields[] = {
	F_STR(struct ctl_why_args, peer, FC_WORD, F_REQ),
};
static const struct schema up_schema = SCHEMA(up_fields, up_check);
static const struct schema ping_args_schema = SCHEMA(ping_args_fields, NULL);
static const struct schema why_args_schema = SCHEMA(why_args_fields, NULL);
static const struct schema no_args_schema = { .f = NULL, .n = 0 };

static const struct field cand_fields[] = {
	F_ENUM(struct ctl_cand, type, F_REQ, cand_names),
	F_STR(struct ctl_cand, addr, FC_ADDR, F_REQ),
};
static const struct schema cand_schema = SCHEMA(cand_fields, cand_check);

static const struct field path_fields[] = {
	F_ENUM(struct ctl_path, kind, F_REQ, path_names),
	F_OBJ(struct ctl_path, local, 0, cand_schema),
	F_OBJ(struct ctl_path, remote, 0, cand_schema),
};
static const struct schema path_schema = SCHEMA(path_fields, path_check);

static const struct field coord_fields[] = {
	/* absent before the first `icemesh up`: no coordinator is known */
	F_STR(struct ctl_coordinator, url, FC_URL, 0),
	F_BOOL(struct ctl_coordinator, connected, F_REQ),
	F_STR(struct ctl_coordinator, last_error, FC_TEXT, 0),
};
static const struct schema coord_schema = SCHEMA(coord_fields, NULL);

static const struct field self_fields[] = {
	F_STR(struct ctl_self, name, FC_WORD, 0),
	F_STR(struct ctl_self, id, FC_WORD, 0),
	F_STR(struct ctl_self, public_key, FC_KEY, F_REQ),
	F_STR(struct ctl_self, ipv4, FC_IP4, 0),
	F_STR(struct ctl_self, ipv6, FC_IP6, 0),
	F_ENUM(struct ctl_self, state, F_REQ, state_names),
	F_OBJ(struct ctl_self, coordinator, F_REQ, coord_schema),
};
static const struct schema self_schema = SCHEMA(self_fields, NULL);

static const struct field peer_fields[] = {
	F_STR(struct ctl_peer, name, FC_WORD, F_REQ),
	F_STR(struct ctl_peer, id, FC_WORD, F_REQ),
	F_STR(struct ctl_peer, public_key, FC_KEY, F_REQ),
	F_STR(struct ctl_peer, ipv4, FC_IP4, F_REQ),
	F_STR(struct ctl_peer, ipv6, FC_IP6, F_REQ),
	F_BOOL(struct ctl_peer, online, F_REQ),
	F_OBJ(struct ctl_peer, path, F_REQ, path_schema),
	F_F64(struct ctl_peer, rtt_ms, 0),
	F_INT(struct ctl_peer, rx_bytes, FT_U64, F_REQ, 0, INT64_MAX, 0),
	F_INT(struct ctl_peer, tx_bytes, FT_U64, F_REQ, 0, INT64_MAX, 0),
	F_INT(struct ctl_peer, last_handshake, FT_U64, F_REQ, 0, INT64_MAX, 0),
};
static const struct schema peer_schema = SCHEMA(peer_fields, NULL);

static const struct field status_fields[] = {
	F_OBJ(struct ctl_status, self, F_REQ, self_schema),
	F_ARR(struct ctl_status, peers, n_peers, struct ctl_peer, CTL_MAX_PEERS,
	      peer_schema),
};
static const struct schema status_schema = SCHEMA(status_fields, NULL);

static const struct field ping_event_fields[] = {
	F_INT(struct ctl_ping_event, seq, FT_U32, F_REQ, 1, CTL_PING_COUNT_MAX,
	      0),
	F_BOOL(struct ctl_ping_event, timeout, 0),
	F_ENUM(struct ctl_ping_event, path, 0, path_names),
	F_STR(struct ctl_ping_event, via, FC_ADDR, 0),
	F_F64(struct ctl_ping_event, rtt_ms, 0),
};
static const struct schema ping_event_schema =
	SCHEMA(ping_event_fields, ping_event_check);

static const struct field ping_result_fields[] = {
	F_STR(struct ctl_ping_result, peer, FC_WORD, F_REQ),
	F_STR(struct ctl_ping_result, ipv4, FC_IP4, 0),
	F_INT(struct ctl_ping_result, sent, FT_U32, F_REQ, 0,
	      CTL_PING_COUNT_MAX, 0),
	F_INT(struct ctl_ping_result, received, FT_U32, F_REQ, 0,
	      CTL_PING_COUNT_MAX, 0),
};
static const struct schema ping_result_schema =
	SCHEMA(ping_result_fields, ping_result_check);

static const struct field server_fields[] = {
	F_ENUM(struct ctl_server, kind, F_REQ, server_names),
	F_STR(struct ctl_server, addr, FC_ADDR, F_REQ),
	F_BOOL(struct ctl_server, reachable, F_REQ),
	F_F64(struct ctl_server, rtt_ms, 0),
	F_STR(struct ctl_server, error, FC_TEXT, 0),
};
static const struct schema server_schema = SCHEMA(server_fields, NULL);

static const struct field netcheck_fields[] = {
	F_ENUM(struct ctl_netcheck, mapping, F_REQ, mapping_names),
	F_STRARR(struct ctl_netcheck, srflx, n_srflx, FC_ADDR, CTL_MAX_SRFLX),
	F_ARR(struct ctl_netcheck, servers, n_servers, struct ctl_server,
	      CTL_MAX_SERVERS, server_schema),
};
static const struct schema netcheck_schema = SCHEMA(netcheck_fields, NULL);

static const struct field pair_fields[] = {
	F_OBJ(struct ctl_pair, local, F_REQ, cand_schema),
	F_OBJ(struct ctl_pair, remote, F_REQ, cand_schema),
	F_ENUM(struct ctl_pair, state, F_REQ, pair_names),
	F_F64(struct ctl_pair, rtt_ms, 0),
	F_STR(struct ctl_pair, failure, FC_TEXT, 0),
};
static const struct schema pair_schema = SCHEMA(pair_fields, NULL);

static const struct field why_fields[] = {
	F_STR(struct ctl_why, peer, FC_WORD, F_REQ),
	F_OBJ(struct ctl_why, path, F_REQ, path_schema),
	F_ARR(struct ctl_why, pairs, n_pairs, struct ctl_pair, CTL_MAX_PAIRS,
	      pair_schema),
	F_STRARR(struct ctl_why, reasons, n_reasons, FC_TEXT, CTL_MAX_NOTES),
	F_STRARR(struct ctl_why, advice, n_advice, FC_TEXT, CTL_MAX_NOTES),
};
static const struct schema why_schema = SCHEMA(why_fields, NULL);

static const struct schema *const args_schemas[CTL_CMD_COUNT] = {
	[CTL_CMD_UP] = &up_schema,
	[CTL_CMD_DOWN] = &no_args_schema,
	[CTL_CMD_STATUS] = &no_args_schema,
	[CTL_CMD_PING] = &ping_args_schema,
	[CTL_CMD_NETCHECK] = &no_args_schema,
	[CTL_CMD_WHY] = &why_args_schema,
};
static const struct schema *const result_schemas[CTL_CMD_COUNT] = {
	[CTL_CMD_UP] = &self_schema,
	[CTL_CMD_DOWN] = &self_schema,
	[CTL_CMD_STATUS] = &status_schema,
	[CTL_CMD_PING] = &ping_result_schema,
	[CTL_CMD_NETCHECK] = &netcheck_schema,
	[CTL_CMD_WHY] = &why_schema,
};
static const struct schema *const event_schemas[CTL_CMD_COUNT] = {
	[CTL_CMD_PING] = &ping_event_schema,
};

/* ------------------------------------------------------------ checks */

static int cand_check(const void *obj, struct ctx *c)
{
	const struct ctl_cand *cand = obj;

	if (cand->type == CTL_CAND_UNSET)
		return fail(c, "type must be one of host, srflx, prflx, relay");
	return 0;
}

static int path_check(const void *obj, struct ctx *c)
{
	const struct ctl_path *p = obj;

	if (p->kind == CTL_PATH_NONE)
		return 0;
	if (p->local.type == CTL_CAND_UNSET || p->remote.type == CTL_CAND_UNSET)
		return fail(c, "a %s path needs local and remote",
			    path_names[p->kind]);
	return 0;
}

static int up_check(const void *obj, struct ctx *c)
{
	const struct ctl_up_args *a = obj;

	if (a->coordinator_pin[0] && a->ca_file[0])
		return fail(c,
			    "coordinator_pin and ca_file exclude each other");
	return 0;
}

static int ping_event_check(const void *obj, struct ctx *c)
{
	const struct ctl_ping_event *e = obj;

	if (e->timeout) {
		if (e->path != CTL_PATH_NONE || e->via[0] || e->rtt_ms >= 0)
			return fail(c, "a timeout has no path, via or rtt_ms");
		return 0;
	}
	if (e->path == CTL_PATH_NONE || !e->via[0] || e->rtt_ms < 0)
		return fail(
			c,
			"a reply needs path (direct or relay), via and rtt_ms");
	return 0;
}

static int ping_result_check(const void *obj, struct ctx *c)
{
	const struct ctl_ping_result *r = obj;

	if (r->received > r->sent)
		return fail(c, "received exceeds sent");
	return 0;
}

static bool is_printable(const char *s, bool spaces)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (!spaces && *p == ' ')
			return false;
	}
	return true;
}

static bool is_key(const char *s)
{
	unsigned char bin[32];
	size_t n = 0;

	if (strlen(s) != 44)
		return false;
	if (sodium_base642bin(bin, sizeof(bin), s, 44, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	return n == sizeof(bin);
}

static bool is_hostname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-'))
			return false;
	}
	return true;
}

static bool is_url(const char *s)
{
	static const char scheme[] = "https://";

	if (strncmp(s, scheme, sizeof(scheme) - 1) != 0)
		return false;
	s += sizeof(scheme) - 1;
	return *s && *s != '/' && is_printable(s, false);
}

static int check_str(struct ctx *c, enum fcheck chk, const char *s)
{
	unsigned char ip[16];
	union sockaddr_any a;

	if (!is_printable(s, chk == FC_TEXT || chk == FC_FILE))
		return fail(
			c,
			chk == FC_TEXT || chk == FC_FILE
				? "must not hold control characters"
				: "must not hold spaces or control characters");
	switch (chk) {
	case FC_TEXT:
	case FC_WORD:
		return 0;
	case FC_URL:
		return is_url(s) ? 0 : fail(c, "must be an https:// URL");
	case FC_PIN:
		return strncmp(s, "sha256//", 8) == 0 && is_key(s + 8)
			       ? 0
			       : fail(c,
				      "must be sha256// and the base64 of 32 bytes");
	case FC_FILE:
		return s[0] == '/' ? 0 : fail(c, "must be an absolute path");
	case FC_HOSTNAME:
		return is_hostname(s)
			       ? 0
			       : fail(c,
				      "must be 1-63 of a-z, 0-9 and '-', not starting or ending with '-'");
	case FC_KEY:
		return is_key(s) ? 0
				 : fail(c, "must be the base64 of 32 bytes");
	case FC_IP4:
		return inet_pton(AF_INET, s, ip) == 1
			       ? 0
			       : fail(c, "must be an IPv4 address");
	case FC_IP6:
		return inet_pton(AF_INET6, s, ip) == 1
			       ? 0
			       : fail(c, "must be an IPv6 address");
	case FC_ADDR:
		return addr_parse(s, 0, &a) == 0
			       ? 0
			       : fail(c,
				      "must be an address IP:PORT or [IPv6]:PORT");
	}
	return fail(c, "bad check");
}

/* ------------------------------------------------------------ decoder */

static int dec_obj(struct ctx *c, const struct schema *s, json_t *j, void *out);

static const struct field *find_field(const struct schema *s, const char *k)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->f[i].name, k) == 0)
			return &s->f[i];
	return NULL;
}

static int enum_list_fail(struct ctx *c, const struct field *f)
{
	char list[200] = "";
	size_t used = 0;

	for (size_t i = 0; i < f->n_names; i++) {
		if (!f->names[i][0])
			continue;
		int n = snprintf(list + used, sizeof(list) - used, "%s%s",
				 used ? ", " : "", f->names[i]);
		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	return fail(c, "must be one of %s", list);
}

static int dec_str(struct ctx *c, const struct field *f, json_t *v, char *dst,
		   size_t size)
{
	size_t n;

	if (!json_is_string(v))
		return fail(c, "must be a string");
	n = json_string_length(v);
	if (n >= size)
		return fail(c, "is longer than %zu bytes", size - 1);
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	if (f->flags & F_SECRET)
		sodium_memzero((char *)(uintptr_t)json_string_value(v), n);
	if (n == 0)
		return (f->flags & F_REQ) ? fail(c, "must not be empty") : 0;
	return check_str(c, f->check, dst);
}

static int dec_int(struct ctx *c, const struct field *f, json_t *v, void *dst)
{
	json_int_t i;

	if (!json_is_integer(v))
		return fail(c, "must be an integer");
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < f->min || (uint64_t)i > f->max)
		return fail(c, "must be in %llu..%llu",
			    (unsigned long long)f->min,
			    (unsigned long long)f->max);
	if (f->type == FT_U32)
		*(uint32_t *)dst = (uint32_t)i;
	else
		*(uint64_t *)dst = (uint64_t)i;
	return 0;
}

static int dec_enum(struct ctx *c, const struct field *f, json_t *v, int *dst)
{
	const char *s;

	if (!json_is_string(v))
		return enum_list_fail(c, f);
	s = json_string_value(v);
	for (size_t i = 0; i < f->n_names; i++) {
		if (f->names[i][0] && strcmp(s, f->names[i]) == 0) {
			*dst = (int)i;
			return 0;
		}
	}
	return enum_list_fail(c, f);
}

static int dec_arr(struct ctx *c, const struct field *f, json_t *v, char *base)
{
	size_t n, i;
	char *elems;
	json_t *e;
	int r;

	if (!json_is_array(v))
		return fail(c, "must be an array");
	n = json_array_size(v);
	if (n > f->cap)
		return fail(c, "has more than %zu entries", f->cap);
	if (n == 0)
		return 0;
	elems = calloc(n, f->size);
	if (!elems)
		return fail(c, "out of memory");
	memcpy(base + f->off, &elems, sizeof(elems));
	memcpy(base + f->cnt_off, &n, sizeof(n));
	json_array_foreach(v, i, e)
	{
		size_t saved = path_push(c, NULL, i, true);

		if (f->type == FT_ARR)
			r = dec_obj(c, f->sub, e, elems + i * f->size);
		else
			r = dec_str(c, f, e, elems + i * f->size, f->size);
		path_pop(c, saved);
		if (r)
			return r;
	}
	return 0;
}

static int dec_field(struct ctx *c, const struct field *f, json_t *v,
		     char *base)
{
	void *dst = base + f->off;

	if (!v) {
		if (f->flags & F_REQ)
			return fail(c, "is required");
		if (f->type == FT_U32)
			*(uint32_t *)dst = (uint32_t)f->def;
		else if (f->type == FT_U64)
			*(uint64_t *)dst = f->def;
		else if (f->type == FT_F64)
			*(double *)dst = CTL_RTT_NONE;
		return 0;
	}
	switch (f->type) {
	case FT_STR:
		return dec_str(c, f, v, dst, f->size);
	case FT_U32:
	case FT_U64:
		return dec_int(c, f, v, dst);
	case FT_F64:
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) > RTT_MAX_MS)
			return fail(c, "must be a number of milliseconds");
		*(double *)dst = json_number_value(v);
		return 0;
	case FT_BOOL:
		if (!json_is_boolean(v))
			return fail(c, "must be true or false");
		*(bool *)dst = json_is_true(v);
		return 0;
	case FT_ENUM:
		return dec_enum(c, f, v, dst);
	case FT_OBJ:
		return dec_obj(c, f->sub, v, dst);
	case FT_ARR:
	case FT_STRARR:
		return dec_arr(c, f, v, base);
	}
	return fail(c, "bad field type");
}

static int dec_obj(struct ctx *c, const struct schema *s, json_t *j, void *out)
{
	const char *key;
	json_t *v;
	int r;

	if (!json_is_object(j))
		return fail(c, "must be an object");
	if (c->strict) {
		json_object_foreach(j, key, v)
		{
			if (!find_field(s, key))
				return fail(c, "unknown field '%.64s'", key);
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		size_t saved = path_push(c, s->f[i].name, 0, false);

		r = dec_field(c, &s->f[i], json_object_get(j, s->f[i].name),
			      out);
		path_pop(c, saved);
		if (r)
			return r;
	}
	return s->check ? s->check(out, c) : 0;
}

static void free_obj(const struct schema *s, void *obj)
{
	char *base = obj;

	for (size_t i = 0; i < s->n; i++) {
		const struct field *f = &s->f[i];
		char *elems;
		size_t n;

		if (f->type == FT_OBJ) {
			free_obj(f->sub, base + f->off);
			continue;
		}
		if (f->type != FT_ARR && f->type != FT_STRARR)
			continue;
		memcpy(&elems, base + f->off, sizeof(elems));
		memcpy(&n, base + f->cnt_off, sizeof(n));
		if (elems && f->type == FT_ARR)
			for (size_t k = 0; k < n; k++)
				free_obj(f->sub, elems + k * f->size);
		free(elems);
		elems = NULL;
		n = 0;
		memcpy(base + f->off, &elems, sizeof(elems));
		memcpy(base + f->cnt_off, &n, sizeof(n));
	}
}

/* ------------------------------------------------------------ encoder */

static int enc_obj(struct ctx *c, const struct schema *s, const void *in,
		   json_t **out);

static int enc_str(struct ctx *c, const struct field *f, const char *src,
		   json_t **out)
{
	size_t n = strnlen(src, f->size);
	int r;

	if (n == f->size)
		return fail(c, "is not terminated");
	if (n == 0)
		return (f->flags & F_REQ) ? fail(c, "must not be empty") : 0;
	r = check_str(c, f->check, src);
	if (r)
		return r;
	*out = json_stringn(src, n);
	return *out ? 0 : fail(c, "must be UTF-8");
}

static int enc_arr(struct ctx *c, const struct field *f, const char *base,
		   json_t **out)
{
	const char *elems;
	json_t *arr, *e = NULL;
	size_t n;
	int r = 0;

	memcpy(&elems, base + f->off, sizeof(elems));
	memcpy(&n, base + f->cnt_off, sizeof(n));
	if (n > f->cap)
		return fail(c, "has more than %zu entries", f->cap);
	if (n && !elems)
		return fail(c, "has entries but no array");
	arr = json_array();
	if (!arr)
		return fail(c, "out of memory");
	for (size_t i = 0; i < n && !r; i++) {
		size_t saved = path_push(c, NULL, i, true);

		e = NULL;
		if (f->type == FT_ARR)
			r = enc_obj(c, f->sub, elems + i * f->size, &e);
		else if (!elems[i * f->size])
			r = fail(c, "must not be empty");
		else
			r = enc_str(c, f, elems + i * f->size, &e);
		path_pop(c, saved);
		if (!r && json_array_append_new(arr, e))
			r = fail(c, "out of memory");
	}
	if (r) {
		json_decref(arr);
		return r;
	}
	*out = arr;
	return 0;
}

static int enc_field(struct ctx *c, const struct field *f, const char *base,
		     json_t **out)
{
	const void *src = base + f->off;
	uint64_t u;
	double d;
	int e;

	*out = NULL;
	switch (f->type) {
	case FT_STR:
		return enc_str(c, f, src, out);
	case FT_U32:
	case FT_U64:
		u = f->type == FT_U32 ? *(const uint32_t *)src
				      : *(const uint64_t *)src;
		if (u < f->min || u > f->max)
			return fail(c, "must be in %llu..%llu",
				    (unsigned long long)f->min,
				    (unsigned long long)f->max);
		*out = json_integer((json_int_t)u);
		break;
	case FT_F64:
		d = *(const double *)src;
		if (d < 0 && !(f->flags & F_REQ))
			return 0;
		if (!(d >= 0 && d <= RTT_MAX_MS))
			return fail(c, "must be a number of milliseconds");
		*out = json_real(d);
		break;
	case FT_BOOL:
		if (!*(const bool *)src && !(f->flags & F_REQ))
			return 0;
		*out = json_boolean(*(const bool *)src);
		break;
	case FT_ENUM:
		e = *(const int *)src;
		if (e == 0 && !(f->flags & F_REQ))
			return 0;
		if (e < 0 || (size_t)e >= f->n_names || !f->names[e][0])
			return enum_list_fail(c, f);
		*out = json_string(f->names[e]);
		break;
	case FT_OBJ:
		/* The only optional objects are candidates: absent when unset. */
		if (!(f->flags & F_REQ) && f->sub == &cand_schema &&
		    ((const struct ctl_cand *)src)->type == CTL_CAND_UNSET)
			return 0;
		return enc_obj(c, f->sub, src, out);
	case FT_ARR:
	case FT_STRARR:
		return enc_arr(c, f, base, out);
	}
	return *out ? 0 : fail(c, "out of memory");
}

static int enc_obj(struct ctx *c, const struct schema *s, const void *in,
		   json_t **out)
{
	json_t *obj, *v;
	int r = s->check ? s->check(in, c) : 0;

	if (r)
		return r;
	obj = json_object();
	if (!obj)
		return fail(c, "out of memory");
	for (size_t i = 0; i < s->n && !r; i++) {
		size_t saved = path_push(c, s->f[i].name, 0, false);

		r = enc_field(c, &s->f[i], in, &v);
		if (!r && v && json_object_set_new(obj, s->f[i].name, v))
			r = fail(c, "out of memory");
		path_pop(c, saved);
	}
	if (r) {
		json_decref(obj);
		return r;
	}
	*out = obj;
	return 0;
}

/* Overwrite secret strings inside a JSON args object before it is freed. */
static void wipe_secrets(const struct schema *s, json_t *args)
{
	for (size_t i = 0; args && i < s->n; i++) {
		json_t *v = json_object_get(args, s->f[i].name);

		if ((s->f[i].flags & F_SECRET) && json_is_string(v))
			sodium_memzero((char *)(uintptr_t)json_string_value(v),
				       json_string_length(v));
	}
}

/* ------------------------------------------------------------ requests */

void ctl_request_init(struct ctl_request *req, enum ctl_cmd cmd, uint64_t id)
{
	memset(req, 0, sizeof(*req));
	req->id = id;
	req->cmd = cmd;
	if (cmd == CTL_CMD_PING) {
		req->args.ping.count = CTL_PING_COUNT_DEFAULT;
		req->args.ping.timeout_ms = CTL_PING_TIMEOUT_DEFAULT_MS;
	}
}

void ctl_request_wipe(struct ctl_request *req)
{
	sodium_memzero(req, sizeof(*req));
}

static size_t strip_newline(const char *line, size_t len)
{
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	return len;
}

static int read_id(json_t *j, uint64_t *id)
{
	json_t *v = json_object_get(j, "id");

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > CTL_ID_MAX_VALUE)
		return -EINVAL;
	*id = (uint64_t)json_integer_value(v);
	return 0;
}

static int req_envelope(struct ctx *c, json_t *j, enum ctl_cmd *cmd,
			json_t **args)
{
	const char *key;
	json_t *v;

	if (!json_is_object(j))
		return fail(c, "a request must be a JSON object");
	if (read_id(j, &c->err->id))
		return fail(c, "id must be an integer in 0..2^53-1");
	c->err->has_id = true;
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, "id") && strcmp(key, "cmd") &&
		    strcmp(key, "args"))
			return fail(c, "unknown field '%.64s' in request", key);
	}
	v = json_object_get(j, "cmd");
	if (!json_is_string(v))
		return fail(c, "cmd must be a string");
	if (ctl_cmd_from_name(json_string_value(v), cmd)) {
		c->code = CTL_E_UNKNOWN_COMMAND;
		return fail(
			c,
			"unknown command '%.64s' (known: up, down, status, ping, netcheck, why)",
			json_string_value(v));
	}
	*args = json_object_get(j, "args");
	c->code = CTL_E_BAD_ARGUMENT;
	if (*args && !json_is_object(*args))
		return fail(c, "args must be an object");
	return 0;
}

int ctl_request_parse(const char *line, size_t len, struct ctl_request *out,
		      struct ctl_error *err)
{
	struct ctx c = { .err = err,
			 .code = CTL_E_BAD_REQUEST,
			 .strict = true };
	struct ctl_request tmp;
	json_t *j, *args = NULL, *empty = NULL;
	json_error_t jerr;
	enum ctl_cmd cmd = CTL_CMD_STATUS;
	int r;

	memset(err, 0, sizeof(*err));
	len = strip_newline(line, len);
	if (len >= CTL_REQUEST_MAX) {
		ctl_error_set(err, CTL_E_LINE_TOO_LONG,
			      "a request line is at most %d bytes",
			      CTL_REQUEST_MAX - 1);
		return -EMSGSIZE;
	}
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return fail(&c, "not valid JSON: %.80s (column %d)", jerr.text,
			    jerr.column);
	r = req_envelope(&c, j, &cmd, &args);
	if (r)
		goto out;
	ctl_request_init(&tmp, cmd, err->id);
	if (!args)
		args = empty = json_object();
	if (!args) {
		r = fail(&c, "out of memory");
		goto out;
	}
	c.plen = snprintf(c.path, sizeof(c.path), "args");
	r = dec_obj(&c, args_schemas[cmd], args, &tmp.args);
	if (!r)
		*out = tmp;
	ctl_request_wipe(&tmp);
	wipe_secrets(args_schemas[cmd], args);
out:
	json_decref(empty);
	json_decref(j);
	return r;
}

/*
 * One line, no spaces; 15 significant digits print 0.84 as 0.84 (17 would
 * show the binary rounding) and still round-trip any time we report.
 */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

static int dump_into(json_t *j, char *buf, size_t cap, size_t *len)
{
	size_t n = json_dumpb(j, NULL, 0, DUMP_FLAGS);

	if (n == 0)
		return -ENOMEM;
	if (n + 2 > cap)
		return -EMSGSIZE;
	if (json_dumpb(j, buf, n, DUMP_FLAGS) != n)
		return -ENOMEM;
	buf[n] = '\n';
	buf[n + 1] = '\0';
	*len = n + 1;
	return 0;
}

int ctl_request_build(const struct ctl_request *req, char *buf, size_t cap,
		      size_t *len, struct ctl_error *err)
{
	struct ctx c = { .err = err,
			 .code = CTL_E_BAD_ARGUMENT,
			 .strict = true };
	json_t *j = NULL, *args = NULL;
	int r;

	memset(err, 0, sizeof(*err));
	if (ctl_cmd_name(req->cmd) == NULL) {
		ctl_error_set(err, CTL_E_UNKNOWN_COMMAND, "unknown command %d",
			      (int)req->cmd);
		return -EINVAL;
	}
	if (req->id > (uint64_t)CTL_ID_MAX_VALUE) {
		ctl_error_set(err, CTL_E_BAD_REQUEST, "id out of range");
		return -EINVAL;
	}
	c.plen = snprintf(c.path, sizeof(c.path), "args");
	r = enc_obj(&c, args_schemas[req->cmd], &req->args, &args);
	if (r)
		return r;
	j = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)req->id, "cmd",
		      ctl_cmd_name(req->cmd), "args", args);
	if (!j) {
		ctl_error_set(err, CTL_E_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	r = dump_into(j, buf, cap < CTL_REQUEST_MAX ? cap : CTL_REQUEST_MAX,
		      len);
	if (r)
		ctl_error_set(err,
			      r == -EMSGSIZE ? CTL_E_LINE_TOO_LONG
					     : CTL_E_INTERNAL,
			      "the request does not fit in %d bytes",
			      CTL_REQUEST_MAX);
	wipe_secrets(args_schemas[req->cmd], args);
	json_decref(j);
	return r;
}

/* ------------------------------------------------------------ responses */

static int resp_error(struct ctx *c, json_t *e, struct ctl_error *out)
{
	json_t *code, *msg;

	if (!json_is_object(e))
		return fail(c, "error must be an object");
	code = json_object_get(e, "code");
	msg = json_object_get(e, "message");
	if (!json_is_string(code) || json_string_length(code) == 0 ||
	    json_string_length(code) >= sizeof(out->code_str) ||
	    !is_printable(json_string_value(code), false))
		return fail(c, "error.code must be a short word");
	if (!json_is_string(msg) ||
	    json_string_length(msg) >= sizeof(out->message) ||
	    !is_printable(json_string_value(msg), true))
		return fail(c, "error.message must be a line of text");
	out->code = ctl_errcode_from_name(json_string_value(code));
	snprintf(out->code_str, sizeof(out->code_str), "%s",
		 json_string_value(code));
	snprintf(out->message, sizeof(out->message), "%s",
		 json_string_value(msg));
	return 0;
}

static int resp_body(struct ctx *c, json_t *j, struct ctl_response *tmp,
		     json_t **body)
{
	json_t *ev = json_object_get(j, "event"), *ok;

	if (ev) {
		if (!event_schemas[tmp->cmd])
			return fail(c, "%s sends no events",
				    cmd_names[tmp->cmd]);
		tmp->kind = CTL_RESP_EVENT;
		*body = ev;
		c->plen = snprintf(c->path, sizeof(c->path), "event");
		return dec_obj(c, event_schemas[tmp->cmd], ev, &tmp->u);
	}
	ok = json_object_get(j, "ok");
	if (!json_is_boolean(ok))
		return fail(c, "a response needs ok (true or false) or event");
	if (json_is_false(ok)) {
		tmp->kind = CTL_RESP_ERROR;
		return resp_error(c, json_object_get(j, "error"), &tmp->error);
	}
	tmp->kind = CTL_RESP_OK;
	*body = json_object_get(j, "result");
	if (!*body)
		return fail(c, "result is required");
	c->plen = snprintf(c->path, sizeof(c->path), "result");
	return dec_obj(c, result_schemas[tmp->cmd], *body, &tmp->u);
}

int ctl_response_parse(const char *line, size_t len, enum ctl_cmd cmd,
		       struct ctl_response *out, json_t **raw,
		       struct ctl_error *err)
{
	struct ctx c = { .err = err, .code = CTL_E_BAD_RESPONSE };
	struct ctl_response tmp;
	json_t *j, *body = NULL;
	json_error_t jerr;
	int r;

	memset(err, 0, sizeof(*err));
	if (raw)
		*raw = NULL;
	if (!ctl_cmd_name(cmd))
		return fail(&c, "unknown command");
	len = strip_newline(line, len);
	if (len >= CTL_LINE_MAX)
		return fail(&c, "line longer than %d bytes", CTL_LINE_MAX - 1);
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return fail(&c, "not valid JSON: %.80s (column %d)", jerr.text,
			    jerr.column);
	memset(&tmp, 0, sizeof(tmp));
	tmp.cmd = cmd;
	if (!json_is_object(j))
		r = fail(&c, "a response must be a JSON object");
	else if (read_id(j, &tmp.id) && !json_is_null(json_object_get(j, "id")))
		r = fail(&c, "id must be an integer in 0..2^53-1");
	else
		r = resp_body(&c, j, &tmp, &body);
	/* "id":null answers a request whose id could not be read: errors only. */
	if (!r && json_is_null(json_object_get(j, "id"))) {
		if (tmp.kind != CTL_RESP_ERROR)
			r = fail(&c, "id must be an integer in 0..2^53-1");
	} else if (!r && tmp.kind == CTL_RESP_ERROR) {
		tmp.error.has_id = true;
		tmp.error.id = tmp.id;
	}
	if (r) {
		if (tmp.kind != CTL_RESP_ERROR)
			ctl_result_free(cmd, tmp.kind == CTL_RESP_EVENT,
					&tmp.u);
	} else {
		*out = tmp;
		if (raw && body)
			*raw = json_incref(body);
	}
	json_decref(j);
	return r;
}

void ctl_result_free(enum ctl_cmd cmd, bool event, union ctl_result *r)
{
	const struct schema *s;

	if (!r || !ctl_cmd_name(cmd))
		return;
	s = event ? event_schemas[cmd] : result_schemas[cmd];
	if (s)
		free_obj(s, r);
}

void ctl_response_free(struct ctl_response *resp)
{
	if (!resp || resp->kind == CTL_RESP_ERROR)
		return;
	ctl_result_free(resp->cmd, resp->kind == CTL_RESP_EVENT, &resp->u);
}

static int dump_alloc(json_t *j, char **out, size_t *len)
{
	size_t n = json_dumpb(j, NULL, 0, DUMP_FLAGS);
	char *buf;
	int r;

	if (n == 0)
		return -ENOMEM;
	if (n + 2 > CTL_LINE_MAX)
		return -EMSGSIZE;
	buf = malloc(n + 2);
	if (!buf)
		return -ENOMEM;
	r = dump_into(j, buf, n + 2, len);
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}

static int build_body(uint64_t id, const char *key, const struct schema *s,
		      const union ctl_result *res, char **out, size_t *len,
		      struct ctl_error *err)
{
	struct ctx c = { .err = err, .code = CTL_E_INTERNAL };
	json_t *body = NULL, *j;
	int r;

	memset(err, 0, sizeof(*err));
	if (id > (uint64_t)CTL_ID_MAX_VALUE)
		return fail(&c, "id out of range");
	c.plen = snprintf(c.path, sizeof(c.path), "%s", key);
	r = enc_obj(&c, s, res, &body);
	if (r)
		return r;
	if (strcmp(key, "event") == 0)
		j = json_pack("{s:I, s:o}", "id", (json_int_t)id, key, body);
	else
		j = json_pack("{s:I, s:b, s:o}", "id", (json_int_t)id, "ok", 1,
			      key, body);
	if (!j)
		return -ENOMEM;
	r = dump_alloc(j, out, len);
	json_decref(j);
	if (r == -EMSGSIZE)
		ctl_error_set(err, CTL_E_INTERNAL, "response over %d bytes",
			      CTL_LINE_MAX);
	return r;
}

int ctl_response_build_ok(uint64_t id, enum ctl_cmd cmd,
			  const union ctl_result *result, char **out,
			  size_t *len, struct ctl_error *err)
{
	if (!ctl_cmd_name(cmd)) {
		ctl_error_set(err, CTL_E_INTERNAL, "unknown command");
		return -EINVAL;
	}
	return build_body(id, "result", result_schemas[cmd], result, out, len,
			  err);
}

int ctl_response_build_event(uint64_t id, enum ctl_cmd cmd,
			     const union ctl_result *event, char **out,
			     size_t *len, struct ctl_error *err)
{
	if (!ctl_cmd_name(cmd) || !event_schemas[cmd]) {
		ctl_error_set(err, CTL_E_INTERNAL, "command sends no events");
		return -EINVAL;
	}
	return build_body(id, "event", event_schemas[cmd], event, out, len,
			  err);
}

int ctl_response_build_error(bool has_id, uint64_t id,
			     const struct ctl_error *error, char **out,
			     size_t *len)
{
	const char *code = error->code_str[0] ? error->code_str
					      : ctl_errcode_name(error->code);
	char msg[CTL_TEXT_MAX];
	json_t *j;
	int r;

	if (has_id && id > (uint64_t)CTL_ID_MAX_VALUE)
		return -EINVAL;
	/*
	 * Keep the line printable whatever the message held (it may quote a
	 * server): control characters become spaces and, if the text is not
	 * UTF-8, every non-ASCII byte becomes '?'.
	 */
	snprintf(msg, sizeof(msg), "%s", error->message);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	j = json_string(msg);
	if (!j)
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	json_decref(j);
	j = json_pack("{s:o, s:b, s:{s:s, s:s}}", "id",
		      has_id ? json_integer((json_int_t)id) : json_null(), "ok",
		      0, "error", "code", code, "message", msg);
	if (!j)
		return -EINVAL; /* a code that is not UTF-8, or out of memory */
	r = dump_alloc(j, out, len);
	json_decref(j);
	return r;
}

/* ------------------------------------------------------------ line reader */

void ctl_reader_init(struct ctl_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	if (max < 16)
		max = 16;
	if (max > CTL_LINE_MAX)
		max = CTL_LINE_MAX;
	r->max = max;
}

void ctl_reader_destroy(struct ctl_reader *r)
{
	if (!r)
		return;
	if (r->buf)
		sodium_memzero(r->buf, r->cap);
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = r->start = 0;
}

int ctl_reader_next(struct ctl_reader *r, char **line, size_t *len)
{
	size_t pending = r->len - r->start;
	char *p = pending ? memchr(r->buf + r->start, '\n', pending) : NULL;
	size_t n;

	if (p) {
		n = (size_t)(p - (r->buf + r->start));
		if (n + 1 > r->max)
			return -EMSGSIZE;
		*p = '\0';
		*line = r->buf + r->start;
		*len = n;
		r->start += n + 1;
		return 1;
	}
	if (pending >= r->max)
		return -EMSGSIZE;
	if (r->eof && pending)
		return -EPROTO;
	return 0;
}

static int reader_make_room(struct ctl_reader *r)
{
	size_t ncap;
	char *nbuf;

	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	if (r->len >= r->max)
		return memchr(r->buf, '\n', r->len) ? -ENOBUFS : -EMSGSIZE;
	if (r->cap > r->len)
		return 0;
	ncap = r->cap ? r->cap * 2 : 4096;
	if (ncap > r->max)
		ncap = r->max;
	/* Not realloc: the old block may hold an auth key and is wiped. */
	nbuf = malloc(ncap);
	if (!nbuf)
		return -ENOMEM;
	if (r->buf) {
		memcpy(nbuf, r->buf, r->len);
		sodium_memzero(r->buf, r->cap);
		free(r->buf);
	}
	r->buf = nbuf;
	r->cap = ncap;
	return 0;
}

ssize_t ctl_reader_fill(struct ctl_reader *r, int fd)
{
	ssize_t n;
	int e = reader_make_room(r);

	if (e)
		return e;
	do {
		n = read(fd, r->buf + r->len, r->cap - r->len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		r->eof = true;
	r->len += (size_t)n;
	return n;
}

int ctl_reader_getline(struct ctl_reader *r, int fd, int timeout_ms,
		       char **line, size_t *len)
{
	uint64_t deadline =
		clock_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = ctl_reader_next(r, line, len), wait = -1;
		ssize_t n;

		if (rc != 0 || r->eof)
			return rc;
		if (timeout_ms >= 0) {
			uint64_t now = clock_now_ms();

			wait = now >= deadline ? 0 : (int)(deadline - now);
		}
		rc = poll(&pfd, 1, wait);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		n = ctl_reader_fill(r, fd);
		if (n < 0 && n != -EAGAIN)
			return (int)n;
	}
}

/* ------------------------------------------------------------ allocator */

/* A header in front of each block remembers its size for the wipe. */
#define WIPE_HDR 16

static void *wiping_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - WIPE_HDR)
		return NULL;
	p = malloc(n + WIPE_HDR);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + WIPE_HDR;
}

static void wiping_free(void *ptr)
{
	unsigned char *p;
	size_t n;

	if (!ptr)
		return;
	p = (unsigned char *)ptr - WIPE_HDR;
	memcpy(&n, p, sizeof(n));
	sodium_memzero(ptr, n);
	free(p);
}

void ctl_json_use_wiping_alloc(void)
{
	json_set_alloc_funcs(wiping_malloc, wiping_free);
}
