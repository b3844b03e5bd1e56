// SPDX-License-Identifier: MIT
/* Request parsing and the small secrets helpers, without a server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coordinator/cli.h"
#include "coordinator/cred.h"
#include "coordinator/req.h"
#include "coordinator/store.h"
#include "coordinator/tls.h"

#define KEY44 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void test_register_ok(void **state)
{
	struct coord_register_req r;
	struct coord_error e;
	const char *body = "{\"auth_key\":\"imk_x\",\"node_key\":\"" KEY44
			   "\",\"hostname\":\"Laptop-1\"}";

	assert_int_equal(coord_req_parse_register(body, strlen(body), &r, &e),
			 0);
	assert_string_equal(r.auth_key, "imk_x");
	assert_string_equal(r.hostname, "Laptop-1");
	for (int i = 0; i < 32; i++)
		assert_int_equal(r.node_key[i], i);
	body = "{\"node_key\":\"" KEY44 "\",\"auth_key\":\"k\"}";
	assert_int_equal(coord_req_parse_register(body, strlen(body), &r, &e),
			 0);
	assert_string_equal(r.hostname, "");
}

static void test_register_bad(void **state)
{
	static const struct {
		const char *body;
		int status;
		const char *code;
	} bad[] = {
		{ "", 400, "malformed_json" },
		{ "{", 400, "malformed_json" },
		{ "[]", 400, "malformed_json" },
		{ "\"s\"", 400, "malformed_json" },
		{ "{\"auth_key\":\"k\",\"node_key\":\"" KEY44 "\"} x", 400,
		  "malformed_json" },
		{ "{\"auth_key\":\"k\",\"auth_key\":\"k\",\"node_key\":\"" KEY44
		  "\"}",
		  400, "malformed_json" },
		{ "{\"node_key\":\"" KEY44 "\"}", 400, "missing_field" },
		{ "{\"auth_key\":\"k\"}", 400, "missing_field" },
		{ "{\"auth_key\":1,\"node_key\":\"" KEY44 "\"}", 400,
		  "invalid_field" },
		{ "{\"auth_key\":\"\",\"node_key\":\"" KEY44 "\"}", 400,
		  "invalid_field" },
		{ "{\"auth_key\":null,\"node_key\":\"" KEY44 "\"}", 400,
		  "invalid_field" },
		{ "{\"auth_key\":\"k\",\"node_key\":[]}", 400,
		  "invalid_field" },
		{ "{\"auth_key\":\"k\",\"node_key\":\"AAAA\"}", 400,
		  "invalid_field" },
		/* 33 bytes */
		{ "{\"auth_key\":\"k\",\"node_key\":"
		  "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\"}",
		  400, "invalid_field" },
		/* url-safe alphabet is not the standard one */
		{ "{\"auth_key\":\"k\",\"node_key\":"
		  "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_-\"}",
		  400, "invalid_field" },
		{ "{\"auth_key\":\"k\",\"node_key\":\"" KEY44
		  "\",\"hostname\":\"a b\"}",
		  400, "invalid_field" },
		{ "{\"auth_key\":\"k\",\"node_key\":\"" KEY44
		  "\",\"hostname\":\"a\\u0000b\"}",
		  400, "malformed_json" },
		{ "{\"auth_key\":\"k\",\"node_key\":\"" KEY44
		  "\",\"hostname\":\"a\",\"admin\":true}",
		  400, "unknown_field" },
	};
	struct coord_register_req r;
	struct coord_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(coord_req_parse_register(bad[i].body,
							  strlen(bad[i].body),
							  &r, &e),
				 -EINVAL);
		if (e.status != bad[i].status ||
		    strcmp(e.code, bad[i].code) != 0)
			fail_msg("case %zu (%s): got %d %s", i, bad[i].body,
				 e.status, e.code);
		assert_true(e.message[0] != '\0');
	}
}

static void test_register_limits(void **state)
{
	struct coord_register_req r;
	struct coord_error e;
	char *big = malloc(COORD_MAX_BODY + 2);
	char body[512];
	char key[COORD_MAX_AUTHKEY_LEN + 2];

	memset(big, ' ', COORD_MAX_BODY + 1);
	big[0] = '{';
	big[COORD_MAX_BODY] = '}';
	assert_int_equal(
		coord_req_parse_register(big, COORD_MAX_BODY + 1, &r, &e),
		-EINVAL);
	assert_int_equal(e.status, 413);
	free(big);
	memset(key, 'k', sizeof(key));
	key[COORD_MAX_AUTHKEY_LEN] = '\0';
	snprintf(body, sizeof(body),
		 "{\"auth_key\":\"%s\",\"node_key\":\"" KEY44 "\"}", key);
	assert_int_equal(coord_req_parse_register(body, strlen(body), &r, &e),
			 0);
	key[COORD_MAX_AUTHKEY_LEN] = 'k';
	key[COORD_MAX_AUTHKEY_LEN + 1] = '\0';
	snprintf(body, sizeof(body),
		 "{\"auth_key\":\"%s\",\"node_key\":\"" KEY44 "\"}", key);
	assert_int_equal(coord_req_parse_register(body, strlen(body), &r, &e),
			 -EINVAL);
	assert_string_equal(e.code, "invalid_field");
}

static void test_signal(void **state)
{
	static const struct {
		const char *body;
		const char *code; /* NULL: accepted */
	} cases[] = {
		{ "{\"to\":2,\"id\":\"a.1_-\",\"payload\":\"aGVsbG8=\"}",
		  NULL },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":\"aGVsbG8=\",\"from\":1}",
		  "unknown_field" },
		{ "{\"to\":\"2\",\"id\":\"a\",\"payload\":\"aGVsbG8=\"}",
		  "invalid_field" },
		{ "{\"to\":2.0,\"id\":\"a\",\"payload\":\"aGVsbG8=\"}",
		  "invalid_field" },
		{ "{\"to\":0,\"id\":\"a\",\"payload\":\"aGVsbG8=\"}",
		  "invalid_field" },
		{ "{\"to\":-3,\"id\":\"a\",\"payload\":\"aGVsbG8=\"}",
		  "invalid_field" },
		{ "{\"to\":9007199254740992,\"id\":\"a\",\"payload\":\"aGVsbG8=\"}",
		  "invalid_field" },
		{ "{\"to\":2,\"id\":\"a b\",\"payload\":\"aGVsbG8=\"}",
		  "invalid_field" },
		{ "{\"to\":2,\"id\":\"\",\"payload\":\"aGVsbG8=\"}",
		  "invalid_field" },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":\"\"}", "invalid_field" },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":\"aGVsbG8\"}",
		  "invalid_field" },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":\"aGV*bG8=\"}",
		  "invalid_field" },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":true}", "invalid_field" },
		{ "{\"to\":2,\"payload\":\"aGVsbG8=\"}", "missing_field" },
		{ "{\"id\":\"a\",\"payload\":\"aGVsbG8=\"}", "missing_field" },
		{ "{\"to\":2,\"id\":\"a\"}", "missing_field" },
		{ "{\"to\":2,\"id\":\"a\",\"payload\":\"aGVsbG8=\"",
		  "malformed_json" },
	};
	struct coord_signal_req *r = malloc(sizeof(*r));
	struct coord_error e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = coord_req_parse_signal(cases[i].body,
						 strlen(cases[i].body), r, &e);
		if (!cases[i].code) {
			assert_int_equal(ret, 0);
			continue;
		}
		if (ret != -EINVAL || strcmp(e.code, cases[i].code) != 0)
			fail_msg("case %zu (%s): got %d %s", i, cases[i].body,
				 ret, ret ? e.code : "-");
	}
	assert_int_equal(coord_req_parse_signal(cases[0].body,
						strlen(cases[0].body), r, &e),
			 0);
	assert_int_equal(r->to, 2);
	assert_string_equal(r->id, "a.1_-");
	assert_int_equal(r->payload_len, 5);
	assert_memory_equal(r->payload, "hello", 5);
	free(r);
}

static void test_signal_payload_size(void **state)
{
	struct coord_signal_req *r = malloc(sizeof(*r));
	size_t b64 = sodium_base64_ENCODED_LEN(COORD_MAX_PAYLOAD + 3,
					       sodium_base64_VARIANT_ORIGINAL);
	uint8_t *raw = calloc(1, COORD_MAX_PAYLOAD + 3);
	char *enc = malloc(b64), *body = malloc(b64 + 64);
	struct coord_error e;

	/* exactly the cap is accepted, one byte more is not */
	sodium_bin2base64(enc, b64, raw, COORD_MAX_PAYLOAD,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(body, b64 + 64, "{\"to\":2,\"id\":\"x\",\"payload\":\"%s\"}",
		 enc);
	assert_int_equal(coord_req_parse_signal(body, strlen(body), r, &e), 0);
	assert_int_equal(r->payload_len, COORD_MAX_PAYLOAD);
	sodium_bin2base64(enc, b64, raw, COORD_MAX_PAYLOAD + 1,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(body, b64 + 64, "{\"to\":2,\"id\":\"x\",\"payload\":\"%s\"}",
		 enc);
	assert_int_equal(coord_req_parse_signal(body, strlen(body), r, &e),
			 -EINVAL);
	assert_string_equal(e.code, "invalid_field");
	free(raw);
	free(enc);
	free(body);
	free(r);
}

static void test_query(void **state)
{
	static const struct {
		unsigned allowed;
		const char *key, *value, *code;
	} bad[] = {
		{ COORD_Q_SINCE, "wait", "1", "unknown_parameter" },
		{ COORD_Q_SINCE, "node", "2", "unknown_parameter" },
		{ COORD_Q_WAIT, "wait", "121", "invalid_parameter" },
		{ COORD_Q_WAIT, "wait", "-1", "invalid_parameter" },
		{ COORD_Q_WAIT, "wait", "", "invalid_parameter" },
		{ COORD_Q_WAIT, "wait", NULL, "invalid_parameter" },
		{ COORD_Q_WAIT, "wait", "01", "invalid_parameter" },
		{ COORD_Q_WAIT, "wait", "1 ", "invalid_parameter" },
		{ COORD_Q_SINCE, "since", "18446744073709551616",
		  "invalid_parameter" },
		{ COORD_Q_SINCE, "since", "0x10", "invalid_parameter" },
		{ COORD_Q_LIMIT, "limit", "0", "invalid_parameter" },
		{ COORD_Q_LIMIT, "limit", "65", "invalid_parameter" },
		{ COORD_Q_AFTER, "after", "9007199254740992",
		  "invalid_parameter" },
	};
	struct coord_query q;
	struct coord_error e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		coord_query_init(&q);
		assert_int_equal(coord_query_add(&q, bad[i].allowed, bad[i].key,
						 bad[i].value, &e),
				 -EINVAL);
		assert_int_equal(e.status, 400);
		assert_string_equal(e.code, bad[i].code);
	}
	coord_query_init(&q);
	assert_int_equal(q.limit, 64);
	assert_int_equal(coord_query_add(&q, COORD_Q_SINCE | COORD_Q_WAIT,
					 "since", "18446744073709551615", &e),
			 0);
	assert_int_equal(coord_query_add(&q, COORD_Q_SINCE | COORD_Q_WAIT,
					 "wait", "120", &e),
			 0);
	assert_true(q.since == UINT64_MAX);
	assert_int_equal(q.wait_s, 120);
	assert_int_equal(q.seen, COORD_Q_SINCE | COORD_Q_WAIT);
	/* a repeat is refused */
	assert_int_equal(coord_query_add(&q, COORD_Q_SINCE | COORD_Q_WAIT,
					 "wait", "1", &e),
			 -EINVAL);
}

/* coturn REST credentials, checked against an independent HMAC. */
static void test_turn_credentials(void **state)
{
	char user[COORD_TURN_USER_STRLEN], pass[COORD_TURN_PASS_STRLEN];
	unsigned char mac[20];
	unsigned int len = 0;
	char expect[COORD_TURN_PASS_STRLEN];

	assert_int_equal(
		coord_turn_credentials("north", 1795392000, 42, user, pass), 0);
	assert_string_equal(user, "1795392000:42");
	HMAC(EVP_sha1(), "north", 5, (const unsigned char *)user, strlen(user),
	     mac, &len);
	assert_int_equal(len, 20);
	sodium_bin2base64(expect, sizeof(expect), mac, 20,
			  sodium_base64_VARIANT_ORIGINAL);
	assert_string_equal(pass, expect);
	/* fixed vector: printf %s 1795392000:42 | openssl sha1 -hmac north -binary | base64 */
	assert_string_equal(pass, "T8DUhAcpEUIUwJcWBAmYEp9FqHU=");
}

static void test_tokens(void **state)
{
	char a[COORD_TOKEN_STRLEN], b[COORD_TOKEN_STRLEN];
	uint8_t ha[32], hb[32];

	assert_int_equal(coord_token_new(COORD_CRED_PREFIX, a), 0);
	assert_int_equal(coord_token_new(COORD_CRED_PREFIX, b), 0);
	assert_int_equal(strlen(a), COORD_TOKEN_STRLEN - 1);
	assert_true(coord_token_wellformed(COORD_CRED_PREFIX, a, strlen(a)));
	assert_false(
		coord_token_wellformed(COORD_AUTHKEY_PREFIX, a, strlen(a)));
	assert_false(
		coord_token_wellformed(COORD_CRED_PREFIX, a, strlen(a) - 1));
	a[10] = '*';
	assert_false(coord_token_wellformed(COORD_CRED_PREFIX, a, strlen(a)));
	assert_string_not_equal(a, b);
	coord_token_hash(a, strlen(a), ha);
	coord_token_hash(b, strlen(b), hb);
	assert_memory_not_equal(ha, hb, 32);
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = { { "90", 90 },
		   { "90s", 90 },
		   { "30m", 1800 },
		   { "24h", 86400 },
		   { "7d", 604800 } };
	static const char *const bad[] = {
		"", "0", "-1", "1x", "1hh", "h", " 1", "99999999999999999999"
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(coord_parse_duration(ok[i].s, &v), 0);
		assert_true(v == ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(coord_parse_duration(bad[i], &v), -EINVAL);
}

static void test_prefixes(void **state)
{
	struct coord_config c;
	char buf[64];

	assert_int_equal(coord_config_set_v4(&c, "100.64.0.0/10"), 0);
	assert_int_equal(coord_config_set_v6(&c, "fd12:3456:789a::/48"), 0);
	coord_config_addr_v4(&c, 1, buf, sizeof(buf));
	assert_string_equal(buf, "100.64.0.1");
	coord_config_addr_v4(&c, 4194302, buf, sizeof(buf));
	assert_string_equal(buf, "100.127.255.254");
	coord_config_addr_v6(&c, 0x1234, buf, sizeof(buf));
	assert_string_equal(buf, "fd12:3456:789a::1234");
	assert_int_equal(coord_config_set_v4(&c, "100.64.0.1/10"), -EINVAL);
	assert_int_equal(coord_config_set_v4(&c, "100.64.0.0/25"), -EINVAL);
	assert_int_equal(coord_config_set_v4(&c, "100.64.0.0"), -EINVAL);
	assert_int_equal(coord_config_set_v6(&c, "2001:db8::/48"), -EINVAL);
	assert_int_equal(coord_config_set_v6(&c, "fd12:3456:789a::/64"),
			 -EINVAL);
	assert_int_equal(coord_config_set_v6(&c, "fd12:3456:789a:1::/48"),
			 -EINVAL);
}

/*
 * The self-signed identity: made once, kept, and its pin equal to the one
 * the openssl command line computes from the certificate (the recipe in
 * libcurl's CURLOPT_PINNEDPUBLICKEY documentation). A given cert/key pair
 * (--cert/--key) is used as it is.
 */
static void test_tls_identity(void **state)
{
	char dir[] = "/tmp/icemesh-coord-tls-XXXXXX", other[64], cmd[512];
	char path[128], pin[COORD_PIN_STRLEN], expect[128] = "sha256//";
	struct coord_tls a, b, c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(coord_tls_load(dir, NULL, NULL, &a), 0);
	assert_int_equal(coord_tls_load(dir, NULL, NULL, &b), 0);
	assert_string_equal(a.pin, b.pin); /* kept, not made again */
	assert_non_null(strstr(a.key_pem, "PRIVATE KEY"));
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -in %s/tls.crt -pubkey -noout | "
		 "openssl pkey -pubin -outform der | "
		 "openssl dgst -sha256 -binary | base64",
		 dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(expect + 8, sizeof(expect) - 8, f));
	pclose(f);
	expect[strcspn(expect, "\n")] = '\0';
	assert_string_equal(a.pin, expect);
	snprintf(path, sizeof(path), "%s/tls.pin", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(pin, sizeof(pin), f));
	fclose(f);
	assert_string_equal(pin, a.pin);
	/* the same pair given explicitly to another state dir */
	snprintf(other, sizeof(other), "%s/other", dir);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(cmd, sizeof(cmd), "%s/tls.crt", dir);
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	assert_int_equal(coord_tls_load(other, cmd, path, &c), 0);
	assert_string_equal(c.pin, a.pin);
	coord_tls_free(&c);
	assert_int_equal(coord_tls_load(other, cmd, NULL, &c), -EINVAL);
	assert_int_equal(coord_tls_load(other, "/nonexistent", path, &c),
			 -ENOENT);
	coord_tls_free(&a);
	coord_tls_free(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_ok),
		cmocka_unit_test(test_register_bad),
		cmocka_unit_test(test_register_limits),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_signal_payload_size),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_turn_credentials),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_tls_identity),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
