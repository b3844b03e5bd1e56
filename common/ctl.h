/* SPDX-License-Identifier: MIT */
/*
 * The control protocol between icemeshd and the icemesh CLI (docs/control.md).
 *
 * A unix stream socket carries one JSON object per line, each line at most
 * CTL_LINE_MAX bytes (requests at most CTL_REQUEST_MAX):
 *
 *   request   {"id":N,"cmd":"status","args":{...}}
 *   success   {"id":N,"ok":true,"result":{...}}
 *   failure   {"id":N,"ok":false,"error":{"code":"...","message":"..."}}
 *   event     {"id":N,"event":{...}}          (streaming commands: ping)
 *
 * This module has no I/O but the line reader: it turns lines into validated
 * C structs and C structs into lines, with one schema per command shared by
 * both directions, so the daemon cannot send what the CLI would refuse.
 *
 * Requests are parsed strictly (unknown fields, wrong types and values out of
 * range are errors). Responses are parsed strictly for the fields this
 * version knows, and fields it does not know are ignored, so a newer daemon
 * can add fields without breaking an older CLI.
 */
#ifndef ICEMESH_COMMON_CTL_H
#define ICEMESH_COMMON_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/addr.h"

#define CTL_DEFAULT_SOCKET "/run/icemesh/icemeshd.sock"
/* Request ids are integers in 0..2^53-1, exact in any JSON implementation. */
#define CTL_ID_MAX_VALUE 9007199254740991LL

enum {
	CTL_LINE_MAX = 1 << 20, /* any line, newline included */
	CTL_REQUEST_MAX = 8192, /* a request line, newline included */

	/* String buffers, terminating NUL included. */
	CTL_NAME_MAX = 64, /* a host name label is at most 63 bytes */
	CTL_NODE_ID_MAX = 64,
	CTL_KEY_MAX = 48, /* base64 of 32 bytes is 44 characters */
	CTL_URL_MAX = 512,
	CTL_AUTH_KEY_MAX = 256,
	CTL_PIN_MAX = 64, /* "sha256//" + 44 characters */
	CTL_FILE_MAX = 1024,
	CTL_IP_MAX = 48, /* INET6_ADDRSTRLEN */
	CTL_ADDR_MAX = ADDR_STRLEN,
	CTL_PEER_MAX = 64, /* a name, an overlay address or a public key */
	CTL_TEXT_MAX = 512, /* error messages, reasons, advice, failures */
	CTL_CODE_MAX = 32,

	/* Array caps. */
	CTL_MAX_PEERS = 1024,
	CTL_MAX_PAIRS = 256,
	CTL_MAX_SERVERS = 16,
	CTL_MAX_SRFLX = 16,
	CTL_MAX_NOTES = 32,

	/* ping arguments */
	CTL_PING_COUNT_DEFAULT = 4,
	CTL_PING_COUNT_MAX = 1000,
	CTL_PING_TIMEOUT_DEFAULT_MS = 2000,
	CTL_PING_TIMEOUT_MIN_MS = 100,
	CTL_PING_TIMEOUT_MAX_MS = 60000,
};

enum ctl_cmd {
	CTL_CMD_UP,
	CTL_CMD_DOWN,
	CTL_CMD_STATUS,
	CTL_CMD_PING,
	CTL_CMD_NETCHECK,
	CTL_CMD_WHY,
	CTL_CMD_COUNT,
};

/* Wire name of a command ("status"), or NULL. */
const char *ctl_cmd_name(enum ctl_cmd cmd);
/* 0 and *out set, or -ENOENT for a name that is not a command. */
int ctl_cmd_from_name(const char *name, enum ctl_cmd *out);

/* Error codes; the wire form is the string in the comment. */
enum ctl_errcode {
	CTL_E_OTHER, /* a code this version does not know */
	CTL_E_BAD_REQUEST, /* "bad-request": not a request object */
	CTL_E_UNKNOWN_COMMAND, /* "unknown-command" */
	CTL_E_BAD_ARGUMENT, /* "bad-argument": unknown, wrong type, out of range */
	CTL_E_LINE_TOO_LONG, /* "line-too-long": over CTL_REQUEST_MAX */
	CTL_E_BUSY, /* "busy": too many clients or a command running */
	CTL_E_NOT_UP, /* "not-up": the node is down; run `icemesh up` */
	CTL_E_COORDINATOR_UNREACHABLE, /* "coordinator-unreachable" */
	CTL_E_BAD_AUTH_KEY, /* "bad-auth-key": the coordinator refused it */
	CTL_E_UNKNOWN_PEER, /* "unknown-peer" */
	CTL_E_TIMEOUT, /* "timeout" */
	CTL_E_INTERNAL, /* "internal" */
	CTL_E_BAD_RESPONSE, /* "bad-response": client side only, never sent */
	CTL_E_COUNT,
};

const char *ctl_errcode_name(enum ctl_errcode code);
/* Known code for a wire string; CTL_E_OTHER for anything else. */
enum ctl_errcode ctl_errcode_from_name(const char *name);

struct ctl_error {
	enum ctl_errcode code;
	char code_str[CTL_CODE_MAX]; /* the wire code, also when CTL_E_OTHER */
	char message[CTL_TEXT_MAX];
	/* Request id when it could be read before the error (parse errors). */
	bool has_id;
	uint64_t id;
};

/* Fill an error; the message is printf-formatted and truncated to fit. */
void ctl_error_set(struct ctl_error *err, enum ctl_errcode code,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ requests */

struct ctl_up_args {
	char coordinator[CTL_URL_MAX]; /* https URL, required */
	char auth_key[CTL_AUTH_KEY_MAX]; /* secret, required */
	char coordinator_pin[CTL_PIN_MAX]; /* "sha256//BASE64" or "" */
	char ca_file[CTL_FILE_MAX]; /* absolute path or "" */
	char hostname[CTL_NAME_MAX]; /* DNS label or "" */
};

struct ctl_ping_args {
	char peer[CTL_PEER_MAX];
	uint32_t count; /* 1..CTL_PING_COUNT_MAX */
	uint32_t timeout_ms; /* per ping, CTL_PING_TIMEOUT_MIN_MS..MAX_MS */
};

struct ctl_why_args {
	char peer[CTL_PEER_MAX];
};

struct ctl_request {
	uint64_t id;
	enum ctl_cmd cmd;
	union {
		struct ctl_up_args up;
		struct ctl_ping_args ping;
		struct ctl_why_args why;
	} args;
};

/* Zero a request with the defaults of cmd's optional arguments filled in. */
void ctl_request_init(struct ctl_request *req, enum ctl_cmd cmd, uint64_t id);
/* Wipe a request (it may hold an auth key) with sodium_memzero. */
void ctl_request_wipe(struct ctl_request *req);

/*
 * Parse and validate one request line (the newline may be there or not).
 * Returns 0 with *out filled, or a negative errno with *err saying why in
 * words a person can act on (err->code is bad-request, unknown-command,
 * bad-argument or line-too-long; err->has_id tells whether the id was read,
 * so the reply can carry it). The caller wipes *out when done (auth key).
 * If the caller's line buffer held an auth key, wiping it is the caller's.
 */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *out,
		      struct ctl_error *err);

/*
 * Validate req and write it as one line, newline and NUL included, into buf
 * (at most cap bytes; CTL_REQUEST_MAX is always enough). *len excludes the
 * NUL. Returns 0, -EINVAL (with *err) for a request that would be refused,
 * or -EMSGSIZE. No copy of the auth key is left in freed memory by jansson
 * when ctl_json_use_wiping_alloc() was called first.
 */
int ctl_request_build(const struct ctl_request *req, char *buf, size_t cap,
		      size_t *len, struct ctl_error *err);

/* ------------------------------------------------------------ results */

enum ctl_node_state {
	CTL_STATE_RUNNING, /* "running" */
	CTL_STATE_STOPPED, /* "stopped" */
	CTL_STATE_NEEDS_LOGIN, /* "needs-login" */
};

enum ctl_path_kind {
	CTL_PATH_NONE, /* "none" */
	CTL_PATH_DIRECT, /* "direct" */
	CTL_PATH_RELAY, /* "relay" */
};

/* ICE candidate types (RFC 8445 §5.1.1); 0 means "no candidate". */
enum ctl_cand_type {
	CTL_CAND_UNSET,
	CTL_CAND_HOST, /* "host" */
	CTL_CAND_SRFLX, /* "srflx" */
	CTL_CAND_PRFLX, /* "prflx" */
	CTL_CAND_RELAY, /* "relay" */
};

/* Candidate pair states (RFC 8445 §6.1.2.6). */
enum ctl_pair_state {
	CTL_PAIR_FROZEN, /* "frozen" */
	CTL_PAIR_WAITING, /* "waiting" */
	CTL_PAIR_IN_PROGRESS, /* "in-progress" */
	CTL_PAIR_SUCCEEDED, /* "succeeded" */
	CTL_PAIR_FAILED, /* "failed" */
};

enum ctl_mapping {
	CTL_MAPPING_UNKNOWN, /* "unknown" */
	CTL_MAPPING_INDEPENDENT, /* "endpoint-independent" */
	CTL_MAPPING_DEPENDENT, /* "endpoint-dependent" */
};

enum ctl_server_kind {
	CTL_SERVER_STUN, /* "stun" */
	CTL_SERVER_TURN, /* "turn" */
};

/* Optional numbers (rtt_ms) are absent on the wire when negative here. */
#define CTL_RTT_NONE (-1.0)

struct ctl_cand {
	enum ctl_cand_type type; /* CTL_CAND_UNSET: absent */
	char addr[CTL_ADDR_MAX]; /* "IP:PORT" or "[IPv6]:PORT" */
};

struct ctl_path {
	enum ctl_path_kind kind;
	struct ctl_cand local; /* required unless kind is none */
	struct ctl_cand remote;
};

struct ctl_coordinator {
	char url[CTL_URL_MAX];
	bool connected;
	char last_error[CTL_TEXT_MAX]; /* optional */
};

/* This node: the result of status (self), up and down. */
struct ctl_self {
	char name[CTL_NAME_MAX]; /* optional before login */
	char id[CTL_NODE_ID_MAX]; /* optional before login */
	char public_key[CTL_KEY_MAX]; /* base64 of 32 bytes */
	char ipv4[CTL_IP_MAX]; /* optional before login */
	char ipv6[CTL_IP_MAX]; /* optional before login */
	enum ctl_node_state state;
	struct ctl_coordinator coordinator;
};

struct ctl_peer {
	char name[CTL_NAME_MAX];
	char id[CTL_NODE_ID_MAX];
	char public_key[CTL_KEY_MAX];
	char ipv4[CTL_IP_MAX];
	char ipv6[CTL_IP_MAX];
	bool online;
	struct ctl_path path;
	double rtt_ms; /* CTL_RTT_NONE: absent */
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t last_handshake; /* unix seconds, 0: never */
};

struct ctl_status {
	struct ctl_self self;
	struct ctl_peer *peers; /* n_peers <= CTL_MAX_PEERS */
	size_t n_peers;
};

/* One ping reply or loss, sent as an event before the final result. */
struct ctl_ping_event {
	uint32_t seq; /* 1, 2, ... */
	bool timeout; /* lost: nothing below is set */
	enum ctl_path_kind path; /* direct or relay */
	char via[CTL_ADDR_MAX]; /* the remote address the reply came from */
	double rtt_ms;
};

struct ctl_ping_result {
	char peer[CTL_NAME_MAX]; /* the peer's name */
	char ipv4[CTL_IP_MAX]; /* optional */
	uint32_t sent;
	uint32_t received;
};

struct ctl_server {
	enum ctl_server_kind kind;
	char addr[CTL_ADDR_MAX];
	bool reachable;
	double rtt_ms; /* CTL_RTT_NONE: absent */
	char error[CTL_TEXT_MAX]; /* optional */
};

struct ctl_netcheck {
	enum ctl_mapping mapping;
	char (*srflx)[CTL_ADDR_MAX]; /* n_srflx <= CTL_MAX_SRFLX */
	size_t n_srflx;
	struct ctl_server *servers; /* n_servers <= CTL_MAX_SERVERS */
	size_t n_servers;
};

struct ctl_pair {
	struct ctl_cand local;
	struct ctl_cand remote;
	enum ctl_pair_state state;
	double rtt_ms; /* CTL_RTT_NONE: absent */
	char failure[CTL_TEXT_MAX]; /* optional: how the checks failed */
};

struct ctl_why {
	char peer[CTL_NAME_MAX];
	struct ctl_path path;
	struct ctl_pair *pairs; /* n_pairs <= CTL_MAX_PAIRS */
	size_t n_pairs;
	char (*reasons)[CTL_TEXT_MAX]; /* n_reasons <= CTL_MAX_NOTES */
	size_t n_reasons;
	char (*advice)[CTL_TEXT_MAX]; /* n_advice <= CTL_MAX_NOTES */
	size_t n_advice;
};

/* ------------------------------------------------------------ responses */

enum ctl_resp_kind {
	CTL_RESP_OK,
	CTL_RESP_ERROR,
	CTL_RESP_EVENT,
};

/* The result (or event) of each command, as the union member to use. */
union ctl_result {
	struct ctl_self self; /* up, down */
	struct ctl_status status;
	struct ctl_ping_result ping;
	struct ctl_netcheck netcheck;
	struct ctl_why why;
	struct ctl_ping_event ping_event; /* kind CTL_RESP_EVENT, cmd ping */
};

struct ctl_response {
	uint64_t id;
	enum ctl_resp_kind kind;
	enum ctl_cmd cmd;
	struct ctl_error error; /* kind CTL_RESP_ERROR */
	union ctl_result u; /* kind CTL_RESP_OK or CTL_RESP_EVENT */
};

/*
 * Parse one response or event line for a request of command cmd. Returns 0
 * with *out filled (free it with ctl_response_free), or a negative errno
 * with *err (code bad-response) saying what was wrong. If raw is not NULL it
 * gets the result or event object as received, a reference the caller
 * drops with json_decref (for --json output); it is left NULL for errors.
 */
struct json_t;
int ctl_response_parse(const char *line, size_t len, enum ctl_cmd cmd,
		       struct ctl_response *out, struct json_t **raw,
		       struct ctl_error *err);
/* Free the arrays a parsed response owns; accepts NULL. */
void ctl_response_free(struct ctl_response *resp);

/*
 * Build response lines (newline and NUL included) into a new malloc'd
 * buffer at *out that the caller frees; *len excludes the NUL. The result
 * is validated against cmd's schema first: -EINVAL with *err when it does
 * not fit (a daemon bug), -EMSGSIZE over CTL_LINE_MAX, -ENOMEM.
 */
int ctl_response_build_ok(uint64_t id, enum ctl_cmd cmd,
			  const union ctl_result *result, char **out,
			  size_t *len, struct ctl_error *err);
int ctl_response_build_event(uint64_t id, enum ctl_cmd cmd,
			     const union ctl_result *event, char **out,
			     size_t *len, struct ctl_error *err);
/* An error reply; has_id false sends "id":null (the id could not be read). */
int ctl_response_build_error(bool has_id, uint64_t id,
			     const struct ctl_error *error, char **out,
			     size_t *len);

/* Free the arrays inside a result the caller filled from malloc (helper). */
void ctl_result_free(enum ctl_cmd cmd, bool event, union ctl_result *r);

/* ------------------------------------------------------------ line reader */

/*
 * Reads newline-terminated lines from a blocking or non-blocking fd into a
 * buffer that grows up to max bytes (newline included) and no further.
 */
struct ctl_reader {
	char *buf;
	size_t len; /* bytes held */
	size_t cap; /* bytes allocated */
	size_t max; /* the longest line accepted, newline included */
	size_t start; /* where the unconsumed bytes begin */
	bool eof;
};

/* max is clamped to 16..CTL_LINE_MAX. No allocation happens here. */
void ctl_reader_init(struct ctl_reader *r, size_t max);
void ctl_reader_destroy(struct ctl_reader *r);
/*
 * Take the next complete line if one is buffered: returns 1 with *line
 * pointing at it inside the reader (newline replaced by NUL, valid until
 * the next call) and *len its length; 0 if more bytes are needed (or at
 * EOF with nothing left); -EMSGSIZE if the line is longer than max; -EPROTO
 * at EOF in the middle of a line.
 */
int ctl_reader_next(struct ctl_reader *r, char **line, size_t *len);
/*
 * One read(2) from fd into the buffer: returns the number of bytes read,
 * 0 at end of file, -EAGAIN when a non-blocking fd has nothing, -EMSGSIZE
 * when a line is already too long, -ENOBUFS when the buffer is full of
 * complete lines (take them with ctl_reader_next first), or another -errno.
 * Buffers are wiped when they are replaced or destroyed.
 */
ssize_t ctl_reader_fill(struct ctl_reader *r, int fd);
/*
 * Blocking helper for clients: wait up to timeout_ms (negative: forever)
 * for the next line, polling fd. Returns 1 with *line, 0 at a clean end of
 * file, -ETIMEDOUT, or a negative errno as above.
 */
int ctl_reader_getline(struct ctl_reader *r, int fd, int timeout_ms,
		       char **line, size_t *len);

/*
 * Make jansson wipe every block it frees (auth keys pass through it).
 * Process-wide: call once at program start, before any JSON is made.
 */
void ctl_json_use_wiping_alloc(void);

#endif
