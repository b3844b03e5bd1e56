// SPDX-License-Identifier: MIT
/* Candidates: priorities, foundations, RFC 8839 lines, host filtering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <string.h>

#include "common/addr.h"
#include "ice/ice_candidate.h"
#include "ice/ice_gather.h"

static union sockaddr_any A(const char *s) {
	union sockaddr_any a;

	assert_int_equal(addr_parse(s, 0, &a), 0);
	return a;
}

static void
test_priority(void **state)
{
	/* RFC 8445 §5.1.2.1 formula with the §5.1.2.2 type preferences. */
	assert_int_equal(ice_priority(ICE_CAND_HOST, 65535, 1),
			 (126u << 24) | (65535u << 8) | 255u);
	assert_int_equal(ice_priority(ICE_CAND_RELAY, 0, 1), 255u);
	assert_int_equal(ice_priority(ICE_CAND_SRFLX, 1, 2),
			 (100u << 24) | (1u << 8) | 254u);
	assert_true(ice_priority(ICE_CAND_HOST, 0, 1) >
		    ice_priority(ICE_CAND_PRFLX, 65535, 1));
	assert_true(ice_priority(ICE_CAND_PRFLX, 0, 1) >
		    ice_priority(ICE_CAND_SRFLX, 65535, 1));
	assert_true(ice_priority(ICE_CAND_SRFLX, 0, 1) >
		    ice_priority(ICE_CAND_RELAY, 65535, 1));
}

static void test_local_pref(void **state)
{
	/* Same interface: IPv6 just above IPv4, then address order. */
	assert_true(ice_local_pref(0, 0, AF_INET6) >
		    ice_local_pref(0, 0, AF_INET));
	assert_true(ice_local_pref(0, 0, AF_INET) >
		    ice_local_pref(0, 1, AF_INET));
	/* Interfaces dominate families. */
	assert_true(ice_local_pref(0, 5, AF_INET) >
		    ice_local_pref(1, 0, AF_INET6));
	/* Distinct for every (iface, family, addr) in range: unique prios. */
	assert_int_not_equal(ice_local_pref(3, 2, AF_INET),
			     ice_local_pref(3, 2, AF_INET6));
	/* Ranks beyond the range are clamped, never wrap. */
	assert_true(ice_local_pref(1000, 1000, AF_INET) <=
		    ice_local_pref(127, 255, AF_INET));
}

static void test_foundation(void **state)
{
	union sockaddr_any b1 = A("192.0.2.1:1000"), b1p = A("192.0.2.1:2000");
	union sockaddr_any b2 = A("192.0.2.2:1000"), s1 = A("203.0.113.1:3478");
	union sockaddr_any s2 = A("203.0.113.2:3478");
	char f1[ICE_FOUNDATION_MAX + 1], f2[ICE_FOUNDATION_MAX + 1];

	/* Port does not matter, IP does, type does, server does. */
	ice_foundation(ICE_CAND_HOST, &b1, NULL, f1);
	ice_foundation(ICE_CAND_HOST, &b1p, NULL, f2);
	assert_string_equal(f1, f2);
	assert_true(ice_chars_valid(f1, 1, ICE_FOUNDATION_MAX));
	ice_foundation(ICE_CAND_HOST, &b2, NULL, f2);
	assert_string_not_equal(f1, f2);
	ice_foundation(ICE_CAND_SRFLX, &b1, &s1, f2);
	assert_string_not_equal(f1, f2);
	ice_foundation(ICE_CAND_SRFLX, &b1, &s1, f1);
	ice_foundation(ICE_CAND_SRFLX, &b1, &s2, f2);
	assert_string_not_equal(f1, f2);
}

static void test_format_parse_roundtrip(void **state)
{
	struct ice_candidate c, d;
	char line[ICE_LINE_MAX];

	memset(&c, 0, sizeof(c));
	c.type = ICE_CAND_SRFLX;
	c.component = 1;
	c.priority = ice_priority(ICE_CAND_SRFLX, 65535, 1);
	strcpy(c.foundation, "a1b2");
	c.addr = A("203.0.113.9:40000");
	c.related = A("10.0.0.2:5000");
	c.has_related = true;
	assert_true(ice_candidate_format(&c, line, sizeof(line)) > 0);
	assert_string_equal(line, "a=candidate:a1b2 1 udp 1694498815 "
				  "203.0.113.9 40000 typ srflx raddr 10.0.0.2 "
				  "rport 5000");
	assert_int_equal(ice_candidate_parse(line, &d), 0);
	assert_int_equal(d.type, c.type);
	assert_int_equal(d.priority, c.priority);
	assert_string_equal(d.foundation, "a1b2");
	assert_true(addr_equal(&d.addr, &c.addr));
	assert_true(d.has_related && addr_equal(&d.related, &c.related));

	c.type = ICE_CAND_HOST;
	c.has_related = false;
	c.addr = A("[2001:db8::5]:9");
	assert_true(ice_candidate_format(&c, line, sizeof(line)) > 0);
	assert_string_equal(line, "a=candidate:a1b2 1 udp 1694498815 "
				  "2001:db8::5 9 typ host");
	assert_int_equal(ice_candidate_parse(line, &d), 0);
	assert_true(addr_equal(&d.addr, &c.addr));
	assert_false(d.has_related);

	/* Too small a buffer. */
	assert_int_equal(ice_candidate_format(&c, line, 10), -ENOSPC);
}

static void test_parse_foreign_lines(void **state)
{
	/* Lines as other ICE stacks write them (RFC 8839 §5.1 examples). */
	static const char *const ok[] = {
		"a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host",
		"a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998",
		"candidate:842163049 1 udp 1677729535 198.51.100.7 53705 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag EsAw network-cost 999",
		"a=candidate:3 1 udp 16777215 2001:db8::9 3478 typ relay raddr 2001:db8::1 rport 1\r\n",
	};
	static const struct {
		const char *line;
		int err;
	} bad[] = {
		{ "a=candidate:1 1 TCP 2130706431 10.0.1.1 9 typ host tcptype active",
		  -EPROTONOSUPPORT },
		{ "a=candidate:1 1 udp 2130706431 abcd.local 8998 typ host",
		  -EAFNOSUPPORT },
		{ "a=candidate:1 1 udp 2130706431 10.0.1.1 8998 typ wat",
		  -EINVAL },
		{ "a=candidate:1 1 udp 2130706431 10.0.1.1 8998 type host",
		  -EINVAL },
		{ "a=candidate:1 1 udp 2130706431 10.0.1.1 65536 typ host",
		  -EINVAL },
		{ "a=candidate:1 1 udp 4294967296 10.0.1.1 1 typ host",
		  -EINVAL },
		{ "a=candidate:1 0 udp 1 10.0.1.1 1 typ host", -EINVAL },
		{ "a=candidate:1 256 udp 1 10.0.1.1 1 typ host", -EINVAL },
		{ "a=candidate:1 1 udp 1 10.0.1.1 1 typ host raddr", -EINVAL },
		{ "a=candidate:f_o 1 udp 1 10.0.1.1 1 typ host", -EINVAL },
		{ "a=candidate:123456789012345678901234567890123 1 udp 1 10.0.1.1 1 typ host",
		  -EINVAL },
		{ "a=candidate:1 1 udp -1 10.0.1.1 1 typ host", -EINVAL },
		{ "a=candidate:", -EINVAL },
		{ "a=candidat:1 1 udp 1 10.0.1.1 1 typ host", -EINVAL },
	};
	struct ice_candidate c;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(ice_candidate_parse(ok[i], &c), 0);
	assert_int_equal(ice_candidate_parse(ok[2], &c), 0);
	assert_int_equal(c.type, ICE_CAND_SRFLX);
	assert_int_equal(addr_port(&c.addr), 53705);
	assert_int_equal(ice_candidate_parse(ok[3], &c), 0);
	assert_int_equal(c.type, ICE_CAND_RELAY);
	assert_int_equal(c.addr.sa.sa_family, AF_INET6);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0x5a, sizeof(c));
		assert_int_equal(ice_candidate_parse(bad[i].line, &c),
				 bad[i].err);
		assert_int_equal(c.priority, 0x5a5a5a5a); /* untouched */
	}
}

static void test_sdp_lines(void **state)
{
	struct ice_sdp_line l;

	assert_int_equal(ice_sdp_parse_line("a=ice-ufrag:F7gI\n", &l), 0);
	assert_int_equal(l.kind, ICE_SDP_UFRAG);
	assert_string_equal(l.value, "F7gI");
	assert_int_equal(
		ice_sdp_parse_line("a=ice-pwd:x9cml/YzichV2+XlhiMu8g", &l), 0);
	assert_int_equal(l.kind, ICE_SDP_PWD);
	assert_string_equal(l.value, "x9cml/YzichV2+XlhiMu8g");
	assert_int_equal(ice_sdp_parse_line("a=end-of-candidates\r\n", &l), 0);
	assert_int_equal(l.kind, ICE_SDP_END_OF_CANDIDATES);
	assert_int_equal(ice_sdp_parse_line("a=ice-options:trickle", &l), 0);
	assert_int_equal(l.kind, ICE_SDP_OTHER);
	assert_int_equal(ice_sdp_parse_line(
				 "candidate:1 1 udp 1 10.0.0.1 2 typ host", &l),
			 0);
	assert_int_equal(l.kind, ICE_SDP_CANDIDATE);

	/* Too short, bad chars, too long. */
	assert_int_equal(ice_sdp_parse_line("a=ice-ufrag:abc", &l), -EINVAL);
	assert_int_equal(ice_sdp_parse_line("a=ice-pwd:short", &l), -EINVAL);
	assert_int_equal(ice_sdp_parse_line("a=ice-ufrag:ab cd", &l), -EINVAL);
	char big[600];
	memset(big, 'a', sizeof(big));
	memcpy(big, "a=ice-pwd:", 10);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ice_sdp_parse_line(big, &l), -EINVAL);
	big[10 + 257] = '\0';
	assert_int_equal(ice_sdp_parse_line(big, &l), -EINVAL);
	big[10 + 256] = '\0';
	assert_int_equal(ice_sdp_parse_line(big, &l), 0);
}

static void test_gather_filter(void **state)
{
	static const struct {
		const char *ifname;
		unsigned flags;
		const char *addr;
		bool ok;
	} t[] = {
		{ "eth0", IFF_UP, "192.0.2.1", true },
		{ "eth0", 0, "192.0.2.1", false }, /* down */
		{ "lo", IFF_UP | IFF_LOOPBACK, "127.0.0.1", false },
		{ "eth0", IFF_UP, "127.0.0.2", false },
		{ "eth0", IFF_UP, "[fe80::1]", false },
		{ "eth0", IFF_UP, "[2001:db8::1]", true },
		{ "eth0", IFF_UP, "[fd00::1]", true },
		{ "eth0", IFF_UP, "[::ffff:192.0.2.1]", false },
		{ "wg0", IFF_UP, "10.8.0.1", false },
		{ "tailscale0", IFF_UP, "100.100.1.1", false },
		{ "zt5u4y", IFF_UP, "10.147.17.1", false },
		{ "nebula1", IFF_UP, "10.9.0.1", false },
		{ "im0", IFF_UP, "100.64.0.1", false }, /* our TUN */
		{ "docker0", IFF_UP, "172.17.0.1", false },
		{ "br-1234", IFF_UP, "172.18.0.1", false },
		{ "virbr0", IFF_UP, "192.168.122.1", false },
		{ "eth9", IFF_UP, "10.0.0.9", false }, /* deny "eth9" */
		{ "bad7", IFF_UP, "10.0.0.7", false }, /* deny "bad*" */
		{ "eth99", IFF_UP, "10.0.0.9", true }, /* exact, not prefix */
	};
	struct ice_gather_filter f = {
		.tun_name = "im0",
		.deny = { "eth9", "bad*" },
		.n_deny = 2,
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		union sockaddr_any a = A(t[i].addr);

		assert_int_equal(
			ice_gather_allowed(&f, t[i].ifname, t[i].flags, &a),
			t[i].ok);
	}
	union sockaddr_any a = A("172.17.0.1");
	f.allow_bridges = true;
	assert_true(ice_gather_allowed(&f, "docker0", IFF_UP, &a));
	f.no_ipv4 = true;
	assert_false(ice_gather_allowed(&f, "docker0", IFF_UP, &a));
}

static void test_gather_host_real(void **state)
{
	struct ice_host_addr h[ICE_GATHER_MAX_ADDRS];
	size_t n = 99;

	/* Whatever this machine has: never loopback, link-local or overlays. */
	assert_int_equal(ice_gather_host(NULL, h, ICE_GATHER_MAX_ADDRS, &n), 0);
	assert_true(n <= ICE_GATHER_MAX_ADDRS);
	for (size_t i = 0; i < n; i++) {
		assert_false(addr_is_loopback(&h[i].addr));
		assert_false(addr_is_link_local(&h[i].addr));
		assert_int_equal(addr_port(&h[i].addr), 0);
		assert_true(h[i].iface_rank < ICE_GATHER_MAX_ADDRS);
	}
	/* The cap holds. */
	assert_int_equal(ice_gather_host(NULL, h, 1, &n), 0);
	assert_true(n <= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_local_pref),
		cmocka_unit_test(test_foundation),
		cmocka_unit_test(test_format_parse_roundtrip),
		cmocka_unit_test(test_parse_foreign_lines),
		cmocka_unit_test(test_sdp_lines),
		cmocka_unit_test(test_gather_filter),
		cmocka_unit_test(test_gather_host_real),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
