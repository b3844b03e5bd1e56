// SPDX-License-Identifier: MIT
/*
 * The coordinator's request parsing on any bytes. The first byte picks the
 * parser: 'r' register body, 's' signal body, 'q' a query string split on
 * '&' and '='. Accepted requests must satisfy what the handlers rely on;
 * refused ones must carry a status and a code.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const struct coord_error *e)
{
	if (e->status < 400 || e->status > 499 || !e->code || !e->code[0] ||
	    !memchr(e->message, '\0', sizeof(e->message)))
		abort();
}

static void fuzz_register(const char *body, size_t len)
{
	struct coord_register_req r;
	struct coord_error e;

	if (coord_req_parse_register(body, len, &r, &e) != 0) {
		check_error(&e);
		return;
	}
	if (strlen(r.auth_key) == 0 || strlen(r.auth_key) > COORD_MAX_AUTHKEY_LEN)
		abort();
	if (r.hostname[0] && !coord_hostname_valid(r.hostname))
		abort();
}

static void fuzz_signal(const char *body, size_t len)
{
	static struct coord_signal_req r;
	struct coord_error e;

	if (coord_req_parse_signal(body, len, &r, &e) != 0) {
		check_error(&e);
		return;
	}
	if (r.to == 0 || r.to > COORD_MAX_NODE_ID || r.payload_len == 0 ||
	    r.payload_len > COORD_MAX_PAYLOAD || strlen(r.id) == 0 ||
	    strlen(r.id) > COORD_MAX_MSGID)
		abort();
}

static void fuzz_query(char *s)
{
	struct coord_query q;
	struct coord_error e;
	char *save = NULL;

	coord_query_init(&q);
	for (char *kv = strtok_r(s, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (eq)
			*eq++ = '\0';
		if (coord_query_add(&q, COORD_Q_SINCE | COORD_Q_WAIT |
						COORD_Q_AFTER | COORD_Q_LIMIT,
				    kv, eq, &e) != 0) {
			check_error(&e);
			return;
		}
	}
	if (q.wait_s > COORD_MAX_WAIT_S || q.limit < 1 ||
	    q.limit > COORD_MAX_SIGNAL_LIMIT || q.after > COORD_MAX_NODE_ID)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1 || size > COORD_MAX_BODY + 2)
		return 0;
	if (sodium_init() < 0)
		abort();
	/* an exact-size copy so ASan sees any read past the end */
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	switch (data[0]) {
	case 'r':
		fuzz_register(buf, size - 1);
		break;
	case 's':
		fuzz_signal(buf, size - 1);
		break;
	case 'q':
		fuzz_query(buf);
		break;
	default:
		break;
	}
	free(buf);
	return 0;
}
