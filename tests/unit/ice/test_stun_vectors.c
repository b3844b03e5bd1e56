// SPDX-License-Identifier: MIT
/*
 * The STUN codec against the published test vectors, parsing AND building,
 * byte for byte: RFC 5769 §2.1-2.4 and RFC 8489 appendix B.1 (as corrected
 * by erratum 6268: the published B.1 has a wrong length field and lacks the
 * PASSWORD-ALGORITHM its MESSAGE-INTEGRITY-SHA256 was computed with).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "ice/stun.h"

/* RFC 5769 §2.1: Sample Request (short-term credentials). */
static const uint8_t req[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: Sample IPv4 Response. */
static const uint8_t respv4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: Sample IPv6 Response. */
static const uint8_t respv6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* RFC 5769 §2.4: Sample Request with Long-Term Authentication. */
static const uint8_t reqltc[] = {
	0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33,
	0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12,
	0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
	0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
	0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
	0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
	0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
	0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
	0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
	0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

/* RFC 8489 appendix B.1 with erratum 6268: SHA-256 long-term credentials. */
static const uint8_t req8489[] = {
	0x00, 0x01, 0x00, 0x90, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33,
	0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x1e, 0x00, 0x20,
	0x4a, 0x3c, 0xf3, 0x8f, 0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6, 0x78,
	0x04, 0x17, 0xda, 0x0f, 0x24, 0x81, 0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2,
	0x05, 0xc4, 0x6e, 0x41, 0x40, 0x7f, 0x17, 0x04, 0x00, 0x15, 0x00, 0x29,
	0x6f, 0x62, 0x4d, 0x61, 0x74, 0x4a, 0x6f, 0x73, 0x32, 0x41, 0x41, 0x41,
	0x43, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64,
	0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76,
	0x79, 0x36, 0x34, 0x73, 0x41, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x0b,
	0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00,
	0x00, 0x1d, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x20,
	0xb5, 0xc7, 0xbf, 0x00, 0x5b, 0x6c, 0x52, 0xa2, 0x1c, 0x51, 0xc5, 0xe8,
	0x92, 0xf8, 0x19, 0x24, 0x13, 0x62, 0x96, 0xcb, 0x92, 0x7c, 0x43, 0x14,
	0x93, 0x09, 0x27, 0x8c, 0xc6, 0x51, 0x8e, 0x65,
};

static const char short_term_pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t tid5769[12] = { 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
				     0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae };
static const uint8_t tid_ltc[12] = { 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad,
				     0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e };
/* U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9 in UTF-8 */
static const char ltc_user[] =
	"\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
static const char ltc_realm[] = "example.org";
/* "The<U+00AD>M<U+00AA>trIX" after SASLprep / OpaqueString */
static const char ltc_pass[] = "TheMatrIX";

static int setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

static const uint8_t *key_of(const char *s)
{
	return (const uint8_t *)s;
}

static void assert_text(const struct stun_msg *m, uint16_t type,
			const char *want)
{
	char buf[800];

	assert_int_equal(stun_msg_get_string(m, type, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void assert_addr(const union sockaddr_any *a, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_to_str(a, buf, sizeof(buf)), want);
}

static void test_5769_request_parse(void **state)
{
	struct stun_msg m;
	uint32_t prio;
	uint64_t tie;

	assert_int_equal(stun_msg_parse(&m, req, sizeof(req)), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_memory_equal(m.tid, tid5769, 12);
	assert_int_equal(m.attr_count, 6);
	assert_text(&m, STUN_ATTR_SOFTWARE, "STUN test client");
	assert_text(&m, STUN_ATTR_USERNAME, "evtj:h6vY");
	assert_int_equal(stun_msg_get_u32(&m, STUN_ATTR_PRIORITY, &prio), 0);
	assert_int_equal(prio, 0x6e0001ff);
	assert_int_equal(stun_msg_get_u64(&m, STUN_ATTR_ICE_CONTROLLED, &tie),
			 0);
	assert_true(tie == 0x932ff9b151263b36ULL);
	assert_false(stun_msg_has(&m, STUN_ATTR_ICE_CONTROLLING));
	assert_int_equal(stun_msg_check_fingerprint(&m), 0);
	assert_int_equal(stun_msg_check_integrity(&m, key_of(short_term_pwd),
						  strlen(short_term_pwd)),
			 0);
	assert_int_equal(
		stun_msg_check_integrity(&m, key_of("VOkJxbRl1RmTxUk/WvJxBT"),
					 strlen(short_term_pwd)),
		-EACCES);
	assert_int_equal(
		stun_msg_check_integrity_sha256(&m, key_of(short_term_pwd),
						strlen(short_term_pwd)),
		-ENOENT);
}

static void test_5769_request_build(void **state)
{
	struct stun_builder b;
	uint8_t out[sizeof(req)];

	assert_int_equal(stun_builder_init(&b, out, sizeof(out),
					   stun_msg_type(STUN_METHOD_BINDING,
							 STUN_CLASS_REQUEST),
					   tid5769),
			 0);
	stun_builder_set_padding(&b, 0x20); /* the RFC's choice */
	stun_builder_add_string(&b, STUN_ATTR_SOFTWARE, "STUN test client");
	stun_builder_add_u32(&b, STUN_ATTR_PRIORITY, 0x6e0001ff);
	stun_builder_add_u64(&b, STUN_ATTR_ICE_CONTROLLED,
			     0x932ff9b151263b36ULL);
	stun_builder_add_string(&b, STUN_ATTR_USERNAME, "evtj:h6vY");
	stun_builder_add_message_integrity(&b, key_of(short_term_pwd),
					   strlen(short_term_pwd));
	stun_builder_add_fingerprint(&b);
	assert_int_equal(stun_builder_finish(&b), sizeof(req));
	assert_memory_equal(out, req, sizeof(req));
}

static void check_response(const uint8_t *msg, size_t len, const char *addr)
{
	struct stun_msg m;
	union sockaddr_any a;

	assert_int_equal(stun_msg_parse(&m, msg, len), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_memory_equal(m.tid, tid5769, 12);
	assert_text(&m, STUN_ATTR_SOFTWARE, "test vector");
	assert_int_equal(
		stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a), 0);
	assert_addr(&a, addr);
	assert_int_equal(stun_msg_check_fingerprint(&m), 0);
	assert_int_equal(stun_msg_check_integrity(&m, key_of(short_term_pwd),
						  strlen(short_term_pwd)),
			 0);
	assert_int_equal(stun_msg_check_integrity(&m, key_of("x"), 1), -EACCES);
}

static void build_response(const char *addr, const uint8_t *want, size_t len)
{
	struct stun_builder b;
	union sockaddr_any a;
	uint8_t out[128];

	assert_int_equal(addr_parse(addr, 0, &a), 0);
	assert_int_equal(stun_builder_init(&b, out, sizeof(out),
					   stun_msg_type(STUN_METHOD_BINDING,
							 STUN_CLASS_SUCCESS),
					   tid5769),
			 0);
	stun_builder_set_padding(&b, 0x20);
	stun_builder_add_string(&b, STUN_ATTR_SOFTWARE, "test vector");
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
	stun_builder_add_message_integrity(&b, key_of(short_term_pwd),
					   strlen(short_term_pwd));
	stun_builder_add_fingerprint(&b);
	assert_int_equal(stun_builder_finish(&b), (int)len);
	assert_memory_equal(out, want, len);
}

static void test_5769_ipv4_response(void **state)
{
	check_response(respv4, sizeof(respv4), "192.0.2.1:32853");
	build_response("192.0.2.1:32853", respv4, sizeof(respv4));
}

static void test_5769_ipv6_response(void **state)
{
	check_response(respv6, sizeof(respv6),
		       "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	build_response("[2001:db8:1234:5678:11:2233:4455:6677]:32853", respv6,
		       sizeof(respv6));
}

static void test_5769_long_term(void **state)
{
	/* MD5 of the joined string, computed independently (md5sum) */
	static const uint8_t want_key[16] = {
		0xe8, 0xca, 0x7a, 0xd5, 0x9d, 0x5e, 0xb0, 0x51,
		0x8e, 0x31, 0x29, 0x11, 0xd2, 0xda, 0xb2, 0xa9,
	};
	static const uint8_t user_realm_pass[16] = {
		0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
		0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb,
	};
	uint8_t key[16], out[sizeof(reqltc)];
	struct stun_builder b;
	struct stun_msg m;

	assert_int_equal(stun_long_term_key(ltc_user, ltc_realm, ltc_pass, key),
			 0);
	assert_memory_equal(key, want_key, 16);
	assert_int_equal(stun_long_term_key("user", "realm", "pass", key), 0);
	assert_memory_equal(key, user_realm_pass, 16);
	assert_int_equal(stun_long_term_key(ltc_user, ltc_realm, ltc_pass, key),
			 0);

	assert_int_equal(stun_msg_parse(&m, reqltc, sizeof(reqltc)), 0);
	assert_memory_equal(m.tid, tid_ltc, 12);
	assert_text(&m, STUN_ATTR_USERNAME, ltc_user);
	assert_text(&m, STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA");
	assert_text(&m, STUN_ATTR_REALM, ltc_realm);
	assert_int_equal(stun_msg_check_fingerprint(&m), -ENOENT);
	assert_int_equal(stun_msg_check_integrity(&m, key, sizeof(key)), 0);
	key[0] ^= 1;
	assert_int_equal(stun_msg_check_integrity(&m, key, sizeof(key)),
			 -EACCES);
	key[0] ^= 1;

	stun_builder_init(
		&b, out, sizeof(out),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST),
		tid_ltc);
	stun_builder_add_string(&b, STUN_ATTR_USERNAME, ltc_user);
	stun_builder_add_string(&b, STUN_ATTR_NONCE,
				"f//499k954d6OL34oL9FSTvy64sA");
	stun_builder_add_string(&b, STUN_ATTR_REALM, ltc_realm);
	stun_builder_add_message_integrity(&b, key, sizeof(key));
	assert_int_equal(stun_builder_finish(&b), sizeof(reqltc));
	assert_memory_equal(out, reqltc, sizeof(reqltc));
}

static void test_8489_b1(void **state)
{
	static const char nonce[] = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";
	uint8_t key[32], hash[32], out[sizeof(req8489)];
	const uint8_t *uh;
	size_t uhlen;
	struct stun_password_alg alg;
	struct stun_builder b;
	struct stun_msg m;

	assert_int_equal(stun_msg_parse(&m, req8489, sizeof(req8489)), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_memory_equal(m.tid, tid_ltc, 12);
	assert_text(&m, STUN_ATTR_NONCE, nonce);
	assert_text(&m, STUN_ATTR_REALM, ltc_realm);
	assert_int_equal(stun_msg_get_password_algorithm(&m, &alg), 0);
	assert_int_equal(alg.alg, STUN_PASSWORD_ALG_SHA256);
	assert_int_equal(alg.params_len, 0);
	assert_null(alg.params);

	/* USERHASH = SHA-256(username ":" realm) */
	assert_int_equal(stun_userhash(ltc_user, ltc_realm, hash), 0);
	assert_int_equal(
		stun_msg_get_bytes(&m, STUN_ATTR_USERHASH, &uh, &uhlen), 0);
	assert_int_equal(uhlen, 32);
	assert_memory_equal(uh, hash, 32);

	assert_int_equal(
		stun_long_term_key_sha256(ltc_user, ltc_realm, ltc_pass, key),
		0);
	assert_int_equal(stun_msg_check_integrity_sha256(&m, key, sizeof(key)),
			 0);
	assert_int_equal(stun_msg_check_integrity(&m, key, sizeof(key)),
			 -ENOENT);
	key[31] ^= 0x80;
	assert_int_equal(stun_msg_check_integrity_sha256(&m, key, sizeof(key)),
			 -EACCES);
	key[31] ^= 0x80;

	stun_builder_init(
		&b, out, sizeof(out),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST),
		tid_ltc);
	stun_builder_add(&b, STUN_ATTR_USERHASH, hash, sizeof(hash));
	stun_builder_add_string(&b, STUN_ATTR_NONCE, nonce);
	stun_builder_add_string(&b, STUN_ATTR_REALM, ltc_realm);
	alg = (struct stun_password_alg){ .alg = STUN_PASSWORD_ALG_SHA256 };
	stun_builder_add_password_algorithm(&b, &alg);
	stun_builder_add_message_integrity_sha256(&b, key, sizeof(key));
	assert_int_equal(stun_builder_finish(&b), sizeof(req8489));
	assert_memory_equal(out, req8489, sizeof(req8489));
}

/*
 * The vector as printed in RFC 8489 (before erratum 6268) says 0x9c in its
 * length field, 20 bytes more than it carries: a parser must call it
 * truncated rather than read past it.
 */
static void test_8489_b1_as_published(void **state)
{
	static const uint8_t published_mac[32] = {
		0xe4, 0x68, 0x6c, 0x8f, 0x0e, 0xde, 0xb5, 0x90,
		0x13, 0xe0, 0x70, 0x90, 0x01, 0x0a, 0x93, 0xef,
		0xcc, 0xbc, 0xcc, 0x54, 0x4c, 0x0a, 0x45, 0xd9,
		0xf8, 0x30, 0xaa, 0x6d, 0x6f, 0x73, 0x5a, 0x01,
	};
	uint8_t buf[sizeof(req8489)], key[32];
	struct stun_msg m;
	size_t len;

	/* the published text: no PASSWORD-ALGORITHM, length 0x9c */
	memcpy(buf, req8489, 120);
	memcpy(buf + 120, req8489 + 128, 36);
	len = 156;
	buf[3] = 0x9c;
	assert_int_equal(stun_msg_parse(&m, buf, len), -STUN_ETRUNC);
	/* with the length fixed it parses, but its HMAC does not verify */
	buf[3] = 0x88;
	memcpy(buf + 124, published_mac, sizeof(published_mac));
	assert_int_equal(stun_msg_parse(&m, buf, len), 0);
	assert_false(stun_msg_has(&m, STUN_ATTR_PASSWORD_ALGORITHM));
	assert_int_equal(
		stun_long_term_key_sha256(ltc_user, ltc_realm, ltc_pass, key),
		0);
	assert_int_equal(stun_msg_check_integrity_sha256(&m, key, sizeof(key)),
			 -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_5769_request_parse),
		cmocka_unit_test(test_5769_request_build),
		cmocka_unit_test(test_5769_ipv4_response),
		cmocka_unit_test(test_5769_ipv6_response),
		cmocka_unit_test(test_5769_long_term),
		cmocka_unit_test(test_8489_b1),
		cmocka_unit_test(test_8489_b1_as_published),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
