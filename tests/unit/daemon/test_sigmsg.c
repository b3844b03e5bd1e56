// SPDX-License-Identifier: MIT
/*
 * The ICE signal format: what icemeshd builds parses back the same, and
 * every malformed message is refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/sigmsg.h"

#define CAND1 "a=candidate:1 1 udp 2130706431 192.0.2.1 41641 typ host"
#define CAND2                                                          \
	"a=candidate:2 1 udp 1694498815 198.51.100.7 5000 typ srflx raddr " \
	"192.0.2.1 rport 41641"
#define CAND6 "a=candidate:3 1 udp 2130706175 2001:db8::5 41641 typ host"

static void test_round_trip_desc(void **state)
{
	const char *lines[] = { CAND1, CAND2, CAND6 };
	char buf[SIGMSG_MAX_LEN];
	struct sigmsg m;
	int len;

	(void)state;
	len = sigmsg_build(buf, sizeof(buf), SIGMSG_DESC, 0x1122334455667788ULL,
			   0xabcULL, "ufrg", "0123456789abcdefghijkl", lines, 3,
			   true);
	assert_true(len > 0);
	assert_int_equal(sigmsg_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(m.kind, SIGMSG_DESC);
	assert_true(m.gen == 0x1122334455667788ULL);
	assert_true(m.ack == 0xabcULL);
	assert_string_equal(m.ufrag, "ufrg");
	assert_string_equal(m.pwd, "0123456789abcdefghijkl");
	assert_int_equal(m.n_cands, 3);
	assert_int_equal(m.cands[1].type, ICE_CAND_SRFLX);
	assert_int_equal(addr_port(&m.cands[1].addr), 5000);
	assert_int_equal(m.cands[2].addr.sa.sa_family, AF_INET6);
	assert_true(m.end_of_candidates);
}

static void test_round_trip_cand(void **state)
{
	const char *lines[] = { CAND2 };
	char buf[SIGMSG_MAX_LEN];
	struct sigmsg m;
	int len;

	(void)state;
	len = sigmsg_build(buf, sizeof(buf), SIGMSG_CAND, 7, 0, NULL, NULL,
			   lines, 1, false);
	assert_true(len > 0);
	assert_string_equal(buf, "icemesh-signal 1\ncand 0000000000000007\n" CAND2
				 "\n");
	assert_int_equal(sigmsg_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(m.kind, SIGMSG_CAND);
	assert_int_equal(m.n_cands, 1);
	assert_false(m.end_of_candidates);
	/* only the end */
	len = sigmsg_build(buf, sizeof(buf), SIGMSG_CAND, 7, 0, NULL, NULL,
			   NULL, 0, true);
	assert_int_equal(sigmsg_parse(buf, (size_t)len, &m), 0);
	assert_true(m.end_of_candidates);
	assert_int_equal(m.n_cands, 0);
}

static void test_build_too_small(void **state)
{
	const char *lines[] = { CAND1 };
	char buf[40];

	(void)state;
	assert_int_equal(sigmsg_build(buf, sizeof(buf), SIGMSG_CAND, 1, 0, NULL,
				      NULL, lines, 1, false),
			 -ENOSPC);
}

#define H "icemesh-signal 1\n"
#define DESC "desc 0000000000000001 0000000000000000\n"
#define CRED "a=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijkl\n"

static const char *const bad[] = {
	"", /* empty */
	H, /* no kind line */
	"icemesh-signal 2\n" DESC CRED, /* another version */
	H DESC CRED "a=candidate:1 1 udp 1 192.0.2.1 1 typ host", /* no \n */
	H "desc 0000000000000000 0000000000000000\n" CRED, /* gen 0 */
	H "desc 000000000000000G 0000000000000000\n" CRED, /* not hex */
	H "desc 00000000000000001 000000000000000\n" CRED, /* widths */
	H "desc 0000000000000001 000000000000000A\n" CRED, /* upper case */
	H "cand 0000000000000001 0000000000000000\n", /* cand with ack */
	H "offer 0000000000000001\n", /* unknown kind */
	H DESC "a=ice-ufrag:abcd\n", /* no pwd */
	H DESC "a=ice-pwd:0123456789abcdefghijkl\n", /* no ufrag */
	H DESC CRED "a=ice-ufrag:efgh\n", /* two ufrags */
	H "cand 0000000000000001\n" CRED, /* credentials in a cand */
	H DESC CRED "a=end-of-candidates\n" CAND1 "\n", /* after the end */
	H DESC CRED "a=candidate:1 1 tcp 1 192.0.2.1 1 typ host\n",
	H DESC CRED "a=candidate:1 1 udp 1 host.example 1 typ host\n",
	H DESC CRED "m=audio 9 UDP 0\n", /* another SDP line */
	H DESC CRED "\n", /* an empty line */
	H DESC CRED CAND1 "\r\n", /* CR */
	H DESC "a=ice-ufrag:ab\na=ice-pwd:0123456789abcdefghijkl\n", /* short */
	H DESC CAND1 "\n" CRED, /* credentials after a candidate */
};

static void test_bad(void **state)
{
	struct sigmsg m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sigmsg_parse(bad[i], strlen(bad[i]), &m);

		if (r != -EBADMSG)
			fail_msg("bad[%zu] accepted: %s", i, bad[i]);
	}
}

static void test_nul_inside(void **state)
{
	static const char msg[] = H DESC CRED "a=end-of\0-candidates\n";
	struct sigmsg m;

	(void)state;
	assert_int_equal(sigmsg_parse(msg, sizeof(msg) - 1, &m), -EBADMSG);
}

static void test_caps(void **state)
{
	char buf[SIGMSG_MAX_LEN + 64];
	size_t off;
	struct sigmsg m;

	(void)state;
	off = (size_t)snprintf(buf, sizeof(buf), H DESC CRED);
	for (int i = 0; i < SIGMSG_MAX_CANDS; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s\n", CAND1);
	assert_int_equal(sigmsg_parse(buf, off, &m), 0);
	assert_int_equal(m.n_cands, SIGMSG_MAX_CANDS);
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\n", CAND1);
	assert_int_equal(sigmsg_parse(buf, off, &m), -EBADMSG);
	/* over the length cap */
	memset(buf, 'a', sizeof(buf));
	buf[SIGMSG_MAX_LEN] = '\n';
	assert_int_equal(sigmsg_parse(buf, SIGMSG_MAX_LEN + 1, &m), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_desc),
		cmocka_unit_test(test_round_trip_cand),
		cmocka_unit_test(test_build_too_small),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_nul_inside),
		cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
