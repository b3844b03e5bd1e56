// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/addr.h"
#include "common/log.h"

static void test_parse_and_print(void **state)
{
	static const struct {
		const char *in;
		uint16_t def;
		const char *out;
	} ok[] = {
		{ "192.0.2.1:3478", 0, "192.0.2.1:3478" },
		{ "192.0.2.1", 3478, "192.0.2.1:3478" },
		{ "[2001:db8::1]:5", 0, "[2001:db8::1]:5" },
		{ "[2001:db8::1]", 7, "[2001:db8::1]:7" },
		{ "2001:db8::1", 9, "[2001:db8::1]:9" },
		{ "0.0.0.0:65535", 0, "0.0.0.0:65535" },
	};
	static const char *const bad[] = {
		"",
		"host.example:1",
		"192.0.2.1:",
		"192.0.2.1:65536",
		"192.0.2.1:-1",
		"[2001:db8::1",
		"[2001:db8::1]x",
		"[2001:db8::1]:1x",
		"1.2.3.4.5",
		"[::1]:99999",
	};
	char buf[ADDR_STRLEN];
	union sockaddr_any a;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(addr_parse(ok[i].in, ok[i].def, &a), 0);
		assert_string_equal(addr_to_str(&a, buf, sizeof(buf)),
				    ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(addr_parse(bad[i], 1, &a), -EINVAL);
}

static void test_equal_and_kinds(void **state)
{
	union sockaddr_any a, b, c;

	assert_int_equal(addr_parse("10.0.0.1:1", 0, &a), 0);
	assert_int_equal(addr_parse("10.0.0.1:2", 0, &b), 0);
	assert_false(addr_equal(&a, &b));
	assert_true(addr_equal_ip(&a, &b));
	addr_set_port(&b, 1);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_parse("[::ffff:10.0.0.1]:1", 0, &c), 0);
	assert_false(addr_equal(&a, &c)); /* families differ */
	assert_true(addr_is_v4mapped(&c));
	assert_int_equal(addr_parse("127.0.0.5", 0, &c), 0);
	assert_true(addr_is_loopback(&c));
	assert_int_equal(addr_parse("fe80::1", 0, &c), 0);
	assert_true(addr_is_link_local(&c));
	assert_false(addr_is_loopback(&c));
	assert_int_equal(addr_len(&c), sizeof(struct sockaddr_in6));
}

static void test_from_bytes(void **state)
{
	const uint8_t v4[4] = { 203, 0, 113, 7 };
	union sockaddr_any a;
	char buf[ADDR_STRLEN];

	assert_int_equal(addr_from_bytes(&a, AF_INET, v4, 80), 0);
	assert_string_equal(addr_to_str(&a, buf, sizeof(buf)),
			    "203.0.113.7:80");
	assert_int_equal(addr_from_bytes(&a, AF_UNIX, v4, 80), -EAFNOSUPPORT);
}

static int lines;
static char last[256];
static void sink(enum log_level l, const char *topic, const char *line,
		 void *arg)
{
	lines++;
	strncpy(last, line, sizeof(last) - 1);
}

static void test_log_levels_and_ratelimit(void **state)
{
	enum log_level l;

	log_set_sink(sink, NULL);
	log_set_level(LOG_LEVEL_INFO);
	lines = 0;
	log_debug("t", "hidden %d", 1);
	assert_int_equal(lines, 0);
	log_info("t", "shown\n%s", "forged");
	assert_int_equal(lines, 1);
	assert_null(strchr(last, '\n')); /* one record, one line */
	lines = 0;
	for (int i = 0; i < 100; i++)
		log_ratelimited(LOG_LEVEL_WARN, "t", "flood %d", i);
	assert_int_equal(lines, 5); /* the burst, then silence */
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("loud", &l), -EINVAL);
	log_set_sink(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_print),
		cmocka_unit_test(test_equal_and_kinds),
		cmocka_unit_test(test_from_bytes),
		cmocka_unit_test(test_log_levels_and_ratelimit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
