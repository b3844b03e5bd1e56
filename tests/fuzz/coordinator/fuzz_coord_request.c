// SPDX-License-Identifier: MIT
/*
 * The coordinator's request parsing on any bytes. The first byte picks the
 * parser: 'r' register body, 's' signal body, 'q' a query string split on
 * '&' and '='; and the admin-side parsers: '4'/'6' network prefixes, 'd' a
 * duration. Accepted requests must satisfy what the handlers rely on;
 * refused ones must carry a status and a code.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/cli.h"
#include "coordinator/req.h"
#include "coordinator/store.h"

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
	if (strlen(r.auth_key) == 0 ||
	    strlen(r.auth_key) > COORD_MAX_AUTHKEY_LEN)
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
		if (coord_query_add(&q,
				    COORD_Q_SINCE | COORD_Q_WAIT |
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

/* A prefix that parses prints back to itself, and addresses stay inside. */
static void fuzz_prefix(const char *s, int family)
{
	struct coord_config c;
	char again[COORD_PREFIX_STRLEN], addr[64];

	memset(&c, 0, sizeof(c));
	if (family == 4) {
		if (coord_config_set_v4(&c, s))
			return;
		snprintf(again, sizeof(again), "%s", c.v4_str);
		if (coord_config_set_v4(&c, again) || strcmp(again, c.v4_str))
			abort();
		coord_config_addr_v4(&c, (1ULL << (32 - c.v4_len)) - 2, addr,
				     sizeof(addr));
	} else {
		if (coord_config_set_v6(&c, s))
			return;
		snprintf(again, sizeof(again), "%s", c.v6_str);
		if (coord_config_set_v6(&c, again) || strcmp(again, c.v6_str))
			abort();
		coord_config_addr_v6(&c, UINT64_MAX, addr, sizeof(addr));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t secs;
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
	case '4':
	case '6':
		fuzz_prefix(buf, data[0] - '0');
		break;
	case 'd':
		if (coord_parse_duration(buf, &secs) == 0 &&
		    (secs == 0 || secs > UINT32_MAX))
			abort();
		break;
	default:
		break;
	}
	free(buf);
	return 0;
}
