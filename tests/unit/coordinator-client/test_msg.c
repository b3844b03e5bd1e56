// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator-client/msg.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

#define NODE(id, name, key, last)                                             \
	"{\"id\":" #id ",\"name\":\"" name "\",\"node_key\":\"" key "\","     \
	"\"ipv4\":\"100.64.0." #id "\",\"ipv6\":\"fd12:3456:789a::" #id "\"," \
	"\"allowed_ips\":[\"100.64.0." #id "/32\",\"fd12:3456:789a::" #id     \
	"/128\"],\"online\":true,\"last_seen\":" #last ",\"ephemeral\":false}"

#define NETWORK                                           \
	"\"network\":{\"ipv4_prefix\":\"100.64.0.0/10\"," \
	"\"ipv6_prefix\":\"fd12:3456:789a::/48\"}"

static const char netmap_ok[] =
	"{\"version\":1795337000123,\"self\":" NODE(1, "laptop", KEY_A, 0) ",\"peers\":[" NODE(
		2, "server-2", KEY_B,
		1795337000) "]," NETWORK
			    ",\"stun\":[\"203.0.113.1:3478\",\"[2001:db8::1]:3478\"],"
			    "\"turn\":{\"servers\":[\"203.0.113.1:3478\"],\"username\":"
			    "\"1795380000:1\",\"password\":\"c2VjcmV0\",\"expires\":1795380000},"
			    "\"future_field\":{\"x\":[1,2]}}";

static void test_netmap_ok(void **state)
{
	struct coordc_netmap *nm = NULL;
	uint8_t kb[32];
	char buf[64];

	assert_int_equal(coordc_parse_netmap(netmap_ok, strlen(netmap_ok), &nm),
			 0);
	assert_int_equal(nm->version, 1795337000123ULL);
	assert_int_equal(nm->self.id, 1);
	assert_string_equal(nm->self.name, "laptop");
	assert_int_equal(nm->self.key[1], 1);
	assert_int_equal(nm->n_peers, 1);
	assert_int_equal(nm->peers[0].id, 2);
	assert_true(nm->peers[0].online);
	assert_int_equal(nm->peers[0].last_seen, 1795337000);
	assert_string_equal(
		inet_ntop(AF_INET, &nm->peers[0].ipv4, buf, sizeof(buf)),
		"100.64.0.2");
	assert_int_equal(nm->peers[0].n_allowed_ips, 2);
	assert_int_equal(nm->peers[0].allowed_ips[1].family, AF_INET6);
	assert_int_equal(nm->peers[0].allowed_ips[1].len, 128);
	assert_int_equal(nm->ipv4_prefix.len, 10);
	assert_int_equal(nm->n_stun, 2);
	assert_string_equal(nm->stun[1], "[2001:db8::1]:3478");
	assert_true(nm->has_turn);
	assert_string_equal(nm->turn.username, "1795380000:1");
	assert_int_equal(coordc_key_from_b64(KEY_B, kb), 0);
	assert_ptr_equal(coordc_netmap_find(nm, kb), &nm->peers[0]);
	assert_null(coordc_netmap_find(nm, nm->self.key));
	coordc_netmap_free(nm);
}

/* Each of these replaces one piece of netmap_ok and must be refused. */
static void test_netmap_bad(void **state)
{
	static const struct {
		const char *from, *to;
	} bad[] = {
		{ "\"version\":1795337000123", "\"version\":-1" },
		{ "\"version\":1795337000123", "\"version\":\"1\"" },
		{ "\"version\":1795337000123", "\"version\":1.5" },
		{ "\"version\":1795337000123,", "" },
		{ "\"id\":1,", "\"id\":0," },
		{ "\"id\":1,", "\"id\":9007199254740992," },
		{ "\"name\":\"laptop\"", "\"name\":\"lap top\"" },
		{ "\"name\":\"laptop\"", "\"name\":\"\"" },
		{ "\"name\":\"laptop\"", "\"name\":\"a\\u0000b\"" },
		{ KEY_A, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" },
		{ KEY_A, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=8" },
		{ KEY_B, KEY_A }, /* a peer with our own key */
		{ "\"ipv4\":\"100.64.0.1\"", "\"ipv4\":\"100.64.0.256\"" },
		{ "\"ipv4\":\"100.64.0.1\"", "\"ipv4\":\"fd12::1\"" },
		{ "\"ipv6\":\"fd12:3456:789a::1\"", "\"ipv6\":\"100.64.0.1\"" },
		{ "\"100.64.0.2/32\"", "\"100.64.0.2/33\"" },
		{ "\"100.64.0.2/32\"", "\"100.64.0.2\"" },
		{ "\"100.64.0.2/32\"", "\"100.64.0.2/\"" },
		{ "\"100.64.0.2/32\"", "\"100.64.0.2/032x\"" },
		{ "\"100.64.0.2/32\"", "32" },
		{ "\"online\":true", "\"online\":1" },
		{ "\"100.64.0.0/10\"", "\"fd00::/8\"" },
		{ "\"stun\":[", "\"stun\":[\"a b:1\"," },
		{ "\"stun\":[", "\"stun\":[\"1:1\",\"1:1\",\"1:1\",\"1:1\","
				"\"1:1\",\"1:1\",\"1:1\"," },
		{ "\"expires\":1795380000", "\"expires\":null" },
		{ "\"username\":", "\"username\":\"a\\nb\",\"x\":" },
		{ "\"peers\":[", "\"peers\":{" },
		{ "\"peers\":[", "\"peers\":[1," },
	};
	struct coordc_netmap *nm = NULL;
	char buf[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *at = strstr(netmap_ok, bad[i].from);
		int n;

		assert_non_null(at);
		n = snprintf(buf, sizeof(buf), "%.*s%s%s",
			     (int)(at - netmap_ok), netmap_ok, bad[i].to,
			     at + strlen(bad[i].from));
		if (coordc_parse_netmap(buf, (size_t)n, &nm) != -EBADMSG)
			fail_msg("accepted case %zu: %s", i, buf);
		assert_null(nm);
	}
	/* not JSON, not an object, duplicate keys, trailing junk */
	static const char *const junk[] = {
		"", "[]", "null", "{", "{\"version\":1,\"version\":2}", "{} x",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_int_equal(
			coordc_parse_netmap(junk[i], strlen(junk[i]), &nm),
			-EBADMSG);
}

static void test_netmap_caps(void **state)
{
	/* COORDC_MAX_PEERS + 1 peers: refused before any node is kept */
	size_t cap = (COORDC_MAX_PEERS + 2) * 4 + 4096, n = 0;
	char *buf = malloc(cap);
	struct coordc_netmap *nm = NULL;
	const char *head = strstr(netmap_ok, "\"peers\":[");

	n += (size_t)snprintf(buf, cap, "%.*s\"peers\":[",
			      (int)(head - netmap_ok), netmap_ok);
	for (int i = 0; i <= COORDC_MAX_PEERS; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s1", i ? "," : "");
	n += (size_t)snprintf(buf + n, cap - n, "]," NETWORK "}");
	assert_int_equal(coordc_parse_netmap(buf, n, &nm), -EBADMSG);
	free(buf);
	/* turn: null is no TURN; stun absent is none */
	const char *no_turn = "{\"version\":0,\"self\":" NODE(
		1, "a", KEY_A, 0) ",\"peers\":[]," NETWORK ",\"turn\":null}";
	assert_int_equal(coordc_parse_netmap(no_turn, strlen(no_turn), &nm), 0);
	assert_false(nm->has_turn);
	assert_int_equal(nm->n_stun, 0);
	assert_int_equal(nm->n_peers, 0);
	coordc_netmap_free(nm);
}

static void test_register(void **state)
{
	static const char ok[] = "{\"node\":" NODE(
		7, "laptop", KEY_A,
		0) ",\"credential\":\"imc_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG\","
		   "\"created\":true," NETWORK "}";
	static const char *const bad[] = {
		"{\"node\":" NODE(7, "l", KEY_A,
				  0) ",\"credential\":\"imc_a\\r\\nX: y\","
				     "\"created\":true," NETWORK "}",
		"{\"node\":" NODE(7, "l", KEY_A, 0) ",\"credential\":\"imc_a\","
						    "\"created\":1," NETWORK
						    "}",
		"{\"node\":" NODE(7, "l", KEY_A, 0) ",\"created\":true," NETWORK
						    "}",
		"{\"node\":{},\"credential\":\"imc_a\",\"created\":true," NETWORK
		"}",
	};
	struct coordc_registration r;

	assert_int_equal(coordc_parse_register(ok, strlen(ok), &r), 0);
	assert_int_equal(r.node.id, 7);
	assert_true(r.created);
	assert_string_equal(r.credential,
			    "imc_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG");
	assert_int_equal(r.ipv6_prefix.len, 48);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
			coordc_parse_register(bad[i], strlen(bad[i]), &r),
			-EBADMSG);
}

#define SIG(seq, id, payload)                                                  \
	"{\"seq\":" #seq ",\"from\":3,\"from_key\":\"" KEY_B "\",\"id\":\"" id \
	"\",\"sent_at\":1795337000,\"payload\":\"" payload "\"}"

static void test_signals(void **state)
{
	static const char ok[] =
		"{\"messages\":[" SIG(5, "a1", "aGVsbG8=") "," SIG(
			9, "a.2-x_", "AA==") "],\"cursor\":9,\"more\":true}";
	static const char *const bad[] = {
		/* out of order, repeated, cursor past the last, empty payload */
		"{\"messages\":[" SIG(9, "a", "AA==") "," SIG(
			5, "b", "AA==") "],\"cursor\":5}",
		"{\"messages\":[" SIG(5, "a", "AA==") "," SIG(
			5, "b", "AA==") "],\"cursor\":5}",
		"{\"messages\":[" SIG(5, "a", "AA==") "],\"cursor\":6}",
		"{\"messages\":[" SIG(5, "a", "") "],\"cursor\":5}",
		"{\"messages\":[" SIG(5, "a", "AA=") "],\"cursor\":5}",
		"{\"messages\":[" SIG(5, "a b", "AA==") "],\"cursor\":5}",
		"{\"messages\":[" SIG(0, "a", "AA==") "],\"cursor\":0}",
		"{\"messages\":[],\"cursor\":\"1\"}",
		"{\"messages\":{},\"cursor\":1}",
	};
	struct coordc_signal_batch *b = NULL;

	assert_int_equal(coordc_parse_signals(ok, strlen(ok), &b), 0);
	assert_int_equal(b->n, 2);
	assert_int_equal(b->cursor, 9);
	assert_true(b->more);
	assert_int_equal(b->msgs[0].len, 5);
	assert_memory_equal(b->msgs[0].payload, "hello", 5);
	assert_string_equal(b->msgs[1].id, "a.2-x_");
	assert_int_equal(b->msgs[1].from, 3);
	coordc_signal_batch_free(b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = NULL;
		if (coordc_parse_signals(bad[i], strlen(bad[i]), &b) !=
		    -EBADMSG)
			fail_msg("accepted case %zu", i);
		assert_null(b);
	}
}

static void test_signal_caps(void **state)
{
	/* 65 messages, and one payload of 16385 bytes, are both refused */
	size_t cap = 200000, n;
	char *buf = malloc(cap), *big = malloc(30000);
	struct coordc_signal_batch *b = NULL;

	n = (size_t)snprintf(buf, cap, "{\"messages\":[");
	for (int i = 1; i <= COORDC_MAX_SIGNALS + 1; i++)
		n += (size_t)snprintf(buf + n, cap - n,
				      "%s{\"seq\":%d,\"from\":3,\"from_key\":"
				      "\"" KEY_B
				      "\",\"id\":\"x\",\"sent_at\":1,"
				      "\"payload\":\"AA==\"}",
				      i > 1 ? "," : "", i);
	n += (size_t)snprintf(buf + n, cap - n, "],\"cursor\":%d}",
			      COORDC_MAX_SIGNALS + 1);
	assert_int_equal(coordc_parse_signals(buf, n, &b), -EBADMSG);
	/* 21848 chars: 5461 groups of 3 bytes, then "AAA=" is 2 more */
	memset(big, 'A', 21848);
	strcpy(big + 21844, "AAA=");
	n = (size_t)snprintf(
		buf, cap, "{\"messages\":[" SIG(1, "x", "%s") "],\"cursor\":1}",
		big);
	assert_int_equal(coordc_parse_signals(buf, n, &b), -EBADMSG);
	/* ... and "AA==" 1 more: exactly 16384 is fine */
	strcpy(big + 21844, "AA==");
	n = (size_t)snprintf(
		buf, cap, "{\"messages\":[" SIG(1, "x", "%s") "],\"cursor\":1}",
		big);
	assert_int_equal(coordc_parse_signals(buf, n, &b), 0);
	assert_int_equal(b->msgs[0].len, 16384);
	coordc_signal_batch_free(b);
	free(buf);
	free(big);
}

static void test_error_health(void **state)
{
	static const char err[] =
		"{\"error\":{\"code\":\"unknown_field\",\"message\":\"x\"}}";
	char code[COORDC_ERROR_CODE_MAX + 1];

	assert_int_equal(coordc_parse_error(err, strlen(err), code), 0);
	assert_string_equal(code, "unknown_field");
	assert_int_equal(coordc_parse_error("{\"error\":1}", 11, code),
			 -EBADMSG);
	assert_int_equal(
		coordc_parse_health("{\"status\":\"ok\",\"api\":1}", 23), 0);
	assert_int_equal(
		coordc_parse_health("{\"status\":\"ok\",\"api\":2}", 23),
		-EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netmap_ok),
		cmocka_unit_test(test_netmap_bad),
		cmocka_unit_test(test_netmap_caps),
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_signal_caps),
		cmocka_unit_test(test_error_health),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
