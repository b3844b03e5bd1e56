/* SPDX-License-Identifier: MIT */
/*
 * Request parsing for the coordinator API (docs/API.md): request bodies and
 * query parameters are parsed and validated here, into plain structs, before
 * anything acts on them. No I/O, no storage: the libFuzzer harness drives
 * these functions directly.
 */
#ifndef ICEMESH_COORD_REQ_H
#define ICEMESH_COORD_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps from docs/API.md; everything a client sends is bounded by these. */
enum coord_limits {
	COORD_MAX_BODY = 32768,
	COORD_MAX_PAYLOAD = 16384,
	COORD_MAX_AUTHKEY_LEN = 128,
	COORD_MAX_HOSTNAME = 63,
	COORD_MAX_MSGID = 64,
	COORD_MAX_WAIT_S = 120,
	COORD_MAX_SIGNAL_LIMIT = 64,
	COORD_KEY_LEN = 32,
	/* base64 of 32 bytes with padding */
	COORD_KEY_B64_LEN = 44,
};
/* JSON numbers are doubles in many clients: ids and seqs stay below 2^53. */
#define COORD_MAX_NODE_ID ((1ULL << 53) - 1)

/* An error as the API reports it: HTTP status, code, words for people. */
struct coord_error {
	int status;
	const char *code; /* static string, one of docs/API.md's codes */
	char message[192];
};

/* Fill *err; returns -EINVAL so callers can `return coord_error_set(...)`. */
int coord_error_set(struct coord_error *err, int status, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct coord_register_req {
	char auth_key[COORD_MAX_AUTHKEY_LEN + 1];
	uint8_t node_key[COORD_KEY_LEN];
	char hostname[COORD_MAX_HOSTNAME + 1]; /* "" when not given */
};

struct coord_signal_req {
	uint64_t to;
	char id[COORD_MAX_MSGID + 1];
	size_t payload_len;
	uint8_t payload[COORD_MAX_PAYLOAD];
};

/*
 * Parse and validate a POST body. Unknown fields, wrong types, bad lengths
 * and malformed JSON are refused with the API's error in *err. Returns 0 or
 * -EINVAL; *out is written only on success (and the auth key in it must be
 * wiped by the caller).
 */
int coord_req_parse_register(const char *body, size_t len,
			     struct coord_register_req *out,
			     struct coord_error *err);
int coord_req_parse_signal(const char *body, size_t len,
			   struct coord_signal_req *out,
			   struct coord_error *err);

/* Which query parameters an endpoint takes. */
enum coord_query_param {
	COORD_Q_SINCE = 1 << 0,
	COORD_Q_WAIT = 1 << 1,
	COORD_Q_AFTER = 1 << 2,
	COORD_Q_LIMIT = 1 << 3,
};

struct coord_query {
	unsigned seen; /* COORD_Q_* given */
	uint64_t since;
	uint64_t after;
	uint32_t wait_s;
	uint32_t limit;
};

/* Defaults: nothing seen, wait 0, limit COORD_MAX_SIGNAL_LIMIT. */
void coord_query_init(struct coord_query *q);
/*
 * Take one query parameter (value may be NULL for "?key"). Names outside
 * `allowed`, repeats, and values that are not plain decimal numbers in range
 * are refused. Returns 0 or -EINVAL with *err set.
 */
int coord_query_add(struct coord_query *q, unsigned allowed, const char *key,
		    const char *value, struct coord_error *err);

/* Strict standard base64 (padding required) of exactly outlen bytes. */
int coord_b64_decode_exact(const char *s, size_t slen, uint8_t *out,
			   size_t outlen);
/* Standard base64 with padding into out (NUL-terminated). */
int coord_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

/* [A-Za-z0-9-], 1..63 characters. */
bool coord_hostname_valid(const char *s);

#endif
