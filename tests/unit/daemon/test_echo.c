// SPDX-License-Identifier: MIT
/*
 * The echo packets of `icemesh ping`: IPv4/ICMP and IPv6/ICMPv6 requests
 * byte for byte (checksums computed independently of daemon/echo.c for
 * fixed addresses), their checksums against a plain reference sum over
 * random addresses, idents and sequence numbers, and which replies count:
 * only the pinged address's echo reply with our ident and seq and a valid
 * checksum, whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "daemon/echo.h"

/* RFC 1071 the slow way: 16-bit words summed in 64 bits, folded at the end. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint64_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ICMPv6 checksum of the packet at pkt: pseudo-header (RFC 8200 §8.1). */
static uint16_t ref_csum6(const uint8_t *pkt, size_t icmp_len)
{
	uint8_t buf[40 + ECHO_MAX_LEN] = { 0 };

	memcpy(buf, pkt + 8, 32);
	buf[34] = (uint8_t)(icmp_len >> 8);
	buf[35] = (uint8_t)icmp_len;
	buf[39] = 58;
	memcpy(buf + 40, pkt + 40, icmp_len);
	return ref_csum(buf, 40 + icmp_len);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void test_request_v4(void **state)
{
	struct in_addr s, d;
	uint8_t pkt[ECHO_MAX_LEN];
	static const uint8_t want_hdr[20] = {
		0x45, 0,    0,	 44, 0, 0, 0,	0,  64, 1,
		0xb2, 0x4e, 100, 64, 0, 1, 100, 64, 0,	2,
	};

	(void)state;
	inet_pton(AF_INET, "100.64.0.1", &s);
	inet_pton(AF_INET, "100.64.0.2", &d);
	assert_int_equal(
		echo_request(AF_INET, &s, &d, 0x1234, 1, pkt, sizeof(pkt)),
		ECHO_V4_LEN);
	assert_memory_equal(pkt, want_hdr, 20);
	assert_int_equal(pkt[20], 8); /* echo request */
	assert_int_equal(pkt[21], 0);
	assert_int_equal(get16(pkt + 22), 0x0e39);
	assert_int_equal(get16(pkt + 24), 0x1234);
	assert_int_equal(get16(pkt + 26), 1);
	assert_memory_equal(pkt + 28, "icemesh ping....", 16);
	/* a packet with its checksum in place sums to zero */
	assert_int_equal(ref_csum(pkt, 20), 0);
	assert_int_equal(ref_csum(pkt + 20, ECHO_V4_LEN - 20), 0);
}

static void test_request_v6(void **state)
{
	struct in6_addr s, d;
	uint8_t pkt[ECHO_MAX_LEN];

	(void)state;
	inet_pton(AF_INET6, "fd7a:115c:a1e0::1", &s);
	inet_pton(AF_INET6, "fd7a:115c:a1e0:ab12::2", &d);
	assert_int_equal(
		echo_request(AF_INET6, &s, &d, 0x1234, 1, pkt, sizeof(pkt)),
		ECHO_V6_LEN);
	assert_int_equal(pkt[0], 0x60);
	assert_int_equal(pkt[1] | pkt[2] | pkt[3], 0); /* class, flow */
	assert_int_equal(get16(pkt + 4), 24); /* payload length */
	assert_int_equal(pkt[6], 58); /* ICMPv6 */
	assert_int_equal(pkt[7], 64);
	assert_memory_equal(pkt + 8, &s, 16);
	assert_memory_equal(pkt + 24, &d, 16);
	assert_int_equal(pkt[40], 128); /* echo request, RFC 4443 §4.1 */
	assert_int_equal(pkt[41], 0);
	assert_int_equal(get16(pkt + 42), 0x8961);
	assert_int_equal(get16(pkt + 44), 0x1234);
	assert_int_equal(get16(pkt + 46), 1);
	assert_memory_equal(pkt + 48, "icemesh ping....", 16);
	assert_int_equal(ref_csum6(pkt, 24), 0);
}

static void test_request_errors(void **state)
{
	uint8_t a[16] = { 1 }, b[16] = { 2 }, pkt[ECHO_MAX_LEN];

	(void)state;
	assert_int_equal(
		echo_request(AF_INET, a, b, 1, 1, pkt, ECHO_V4_LEN - 1),
		-ENOBUFS);
	assert_int_equal(
		echo_request(AF_INET6, a, b, 1, 1, pkt, ECHO_V6_LEN - 1),
		-ENOBUFS);
	assert_int_equal(echo_request(AF_UNIX, a, b, 1, 1, pkt, sizeof(pkt)),
			 -EAFNOSUPPORT);
}

/* What the peer's kernel sends back for the request in pkt. */
static void make_reply(int af, uint8_t *pkt)
{
	uint8_t tmp[16];

	if (af == AF_INET) {
		memcpy(tmp, pkt + 12, 4);
		memcpy(pkt + 12, pkt + 16, 4);
		memcpy(pkt + 16, tmp, 4);
		pkt[10] = pkt[11] = 0;
		pkt[10] = (uint8_t)(ref_csum(pkt, 20) >> 8);
		pkt[11] = (uint8_t)ref_csum(pkt, 20);
		pkt[20] = 0; /* echo reply */
		pkt[22] = pkt[23] = 0;
		pkt[22] = (uint8_t)(ref_csum(pkt + 20, 24) >> 8);
		pkt[23] = (uint8_t)ref_csum(pkt + 20, 24);
	} else {
		memcpy(tmp, pkt + 8, 16);
		memcpy(pkt + 8, pkt + 24, 16);
		memcpy(pkt + 24, tmp, 16);
		pkt[40] = 129; /* echo reply */
		pkt[42] = pkt[43] = 0;
		pkt[42] = (uint8_t)(ref_csum6(pkt, 24) >> 8);
		pkt[43] = (uint8_t)ref_csum6(pkt, 24);
	}
}

/* Random requests: checksums against the reference; replies matched. */
static void test_random_round_trips(void **state)
{
	(void)state;
	for (int i = 0; i < 2000; i++) {
		int af = i % 2 ? AF_INET6 : AF_INET;
		uint8_t s[16], d[16], pkt[ECHO_MAX_LEN];
		uint16_t id, seq;
		int len;

		randombytes_buf(s, sizeof(s));
		randombytes_buf(d, sizeof(d));
		randombytes_buf(&id, sizeof(id));
		randombytes_buf(&seq, sizeof(seq));
		len = echo_request(af, s, d, id, seq, pkt, sizeof(pkt));
		assert_int_equal(len,
				 af == AF_INET ? ECHO_V4_LEN : ECHO_V6_LEN);
		if (af == AF_INET) {
			assert_int_equal(ref_csum(pkt, 20), 0);
			assert_int_equal(ref_csum(pkt + 20, 24), 0);
		} else {
			assert_int_equal(ref_csum6(pkt, 24), 0);
		}
		/* our own request is no reply */
		assert_false(echo_is_reply(af, s, id, seq, pkt, (size_t)len));
		assert_false(echo_is_reply(af, d, id, seq, pkt, (size_t)len));
		make_reply(af, pkt);
		assert_true(echo_is_reply(af, d, id, seq, pkt, (size_t)len));
		assert_false(echo_is_reply(af, s, id, seq, pkt, (size_t)len));
	}
}

/* Everything that is not exactly the reply we wait for is refused. */
static void test_reply_refused(void **state)
{
	(void)state;
	for (int af = 0; af < 2; af++) {
		int fam = af ? AF_INET6 : AF_INET;
		size_t len = af ? ECHO_V6_LEN : ECHO_V4_LEN;
		size_t icmp = af ? 40 : 20;
		uint8_t s[16] = { 0xfd, 1 }, d[16] = { 0xfd, 2 };
		uint8_t pkt[ECHO_MAX_LEN + 8] = { 0 }, bad[ECHO_MAX_LEN];

		s[15] = 1;
		d[15] = 2;
		assert_int_equal(
			echo_request(fam, s, d, 7, 9, pkt, sizeof(pkt)),
			(int)len);
		make_reply(fam, pkt);
		assert_true(echo_is_reply(fam, d, 7, 9, pkt, len));
		/* other ident, seq, family */
		assert_false(echo_is_reply(fam, d, 8, 9, pkt, len));
		assert_false(echo_is_reply(fam, d, 7, 10, pkt, len));
		assert_false(echo_is_reply(af ? AF_INET : AF_INET6, d, 7, 9,
					   pkt, len));
		assert_false(echo_is_reply(AF_UNIX, d, 7, 9, pkt, len));
		/* every truncation */
		for (size_t n = 0; n < len; n++)
			assert_false(echo_is_reply(fam, d, 7, 9, pkt, n));
		/* every single-bit flip of the ICMP part: checksum or fields */
		for (size_t bit = 0; bit < (len - icmp) * 8; bit++) {
			memcpy(bad, pkt, len);
			bad[icmp + bit / 8] ^= (uint8_t)(1 << (bit % 8));
			assert_false(echo_is_reply(fam, d, 7, 9, bad, len));
		}
		/* an ICMPv6 checksum that ignores the pseudo-header */
		if (af) {
			memcpy(bad, pkt, len);
			bad[42] = bad[43] = 0;
			bad[42] = (uint8_t)(ref_csum(bad + 40, 24) >> 8);
			bad[43] = (uint8_t)ref_csum(bad + 40, 24);
			assert_false(echo_is_reply(fam, d, 7, 9, bad, len));
		}
		/* an echo request from the peer is not its reply */
		memcpy(bad, pkt, len);
		bad[icmp] = af ? 128 : 8;
		bad[icmp + 2] = bad[icmp + 3] = 0;
		if (af) {
			bad[42] = (uint8_t)(ref_csum6(bad, 24) >> 8);
			bad[43] = (uint8_t)ref_csum6(bad, 24);
		} else {
			bad[22] = (uint8_t)(ref_csum(bad + 20, 24) >> 8);
			bad[23] = (uint8_t)ref_csum(bad + 20, 24);
		}
		assert_false(echo_is_reply(fam, d, 7, 9, bad, len));
		/* bytes after what the IP length says are ignored */
		assert_true(echo_is_reply(fam, d, 7, 9, pkt, len + 8));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_v4),
		cmocka_unit_test(test_request_v6),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_random_round_trips),
		cmocka_unit_test(test_reply_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
