// SPDX-License-Identifier: MIT
/*
 * A table of malformed STUN messages, each rejected by stun_msg_parse with
 * its own error code, *out left untouched; and a few well-formed oddities
 * that must be accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ice/stun.h"
#include "ice/stun_int.h"

static const uint8_t tid[12] = { 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5,
				 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB };

/* A message assembled by hand: header, then raw bytes appended. */
struct raw {
	uint8_t b[2048];
	size_t len;
};

static void raw_init(struct raw *r, uint16_t type)
{
	memset(r, 0, sizeof(*r));
	stun_wr16(r->b, type);
	stun_wr32(r->b + 4, STUN_MAGIC_COOKIE);
	memcpy(r->b + 8, tid, 12);
	r->len = 20;
}

/* Append an attribute whose length field says alen, with vlen value bytes
 * written (padded to 4 with zeros); the header length follows along. */
static void raw_attr_n(struct raw *r, uint16_t type, uint16_t alen,
		       const void *val, size_t vlen)
{
	stun_wr16(r->b + r->len, type);
	stun_wr16(r->b + r->len + 2, alen);
	if (vlen)
		memcpy(r->b + r->len + 4, val, vlen);
	r->len += 4 + stun_pad4(vlen);
	stun_wr16(r->b + 2, (uint16_t)(r->len - 20));
}

static void raw_attr(struct raw *r, uint16_t type, const void *val, size_t len)
{
	raw_attr_n(r, type, (uint16_t)len, val, len);
}

static void raw_fingerprint(struct raw *r)
{
	uint8_t v[4] = { 0 };

	raw_attr(r, STUN_ATTR_FINGERPRINT, v, 4);
	stun_wr32(r->b + r->len - 4, stun_fingerprint(r->b, r->len - 8));
}

static const uint8_t zeros[800];
static const uint8_t v4addr[8] = { 0, 1, 0x12, 0x34, 192, 0, 2, 1 };
static const uint8_t mac20[20];

enum { BINDING_REQ = 0x0001 };

/* ------------------------------------------------------------ the cases */

typedef void (*make_fn)(struct raw *r);

static void m_empty(struct raw *r)
{
	r->len = 0;
}

static void m_19_bytes(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	r->len = 19;
}

static void m_top_bits(struct raw *r)
{
	raw_init(r, 0x8001);
}

static void m_top_bit_6(struct raw *r)
{
	raw_init(r, 0x4001);
}

static void m_bad_cookie(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	r->b[7] ^= 1;
}

static void m_len_not_aligned(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_SOFTWARE, "abc", 3);
	/* 7 bytes: the attribute's padding is missing */
	r->b[3] = 7;
	r->len = 27;
}

static void m_len_beyond_buffer(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
	r->len -= 4;
}

static void m_trailing_bytes(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
	r->len += 4;
}

static void m_attr_overrun(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr_n(r, STUN_ATTR_SOFTWARE, 9, "abcdefgh", 8);
}

static void m_attr_overrun_max(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
	raw_attr_n(r, STUN_ATTR_DATA, 0xFFFF, zeros, 4);
}

static void m_addr_family(struct raw *r)
{
	uint8_t v[8];

	memcpy(v, v4addr, 8);
	v[1] = 3;
	raw_init(r, 0x0101);
	raw_attr(r, STUN_ATTR_XOR_MAPPED_ADDRESS, v, 8);
}

static void m_addr_v4_len(struct raw *r)
{
	raw_init(r, 0x0101);
	raw_attr(r, STUN_ATTR_MAPPED_ADDRESS, v4addr, 7);
}

static void m_addr_v6_short(struct raw *r)
{
	uint8_t v[20] = { 0, 2 };

	raw_init(r, 0x0003);
	raw_attr(r, STUN_ATTR_XOR_PEER_ADDRESS, v, 16);
}

static void m_mi_len(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY, mac20, 19);
}

static void m_mi256_len12(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zeros, 12);
}

static void m_mi256_len18(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zeros, 18);
}

static void m_fp_len(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_FINGERPRINT, zeros, 8);
}

static void m_error_class(struct raw *r)
{
	const uint8_t v[4] = { 0, 0, 2, 0 };

	raw_init(r, 0x0111);
	raw_attr(r, STUN_ATTR_ERROR_CODE, v, 4);
}

static void m_error_number(struct raw *r)
{
	const uint8_t v[4] = { 0, 0, 4, 100 };

	raw_init(r, 0x0111);
	raw_attr(r, STUN_ATTR_ERROR_CODE, v, 4);
}

static void m_error_short(struct raw *r)
{
	raw_init(r, 0x0111);
	raw_attr(r, STUN_ATTR_ERROR_CODE, zeros, 3);
}

static void m_username_513(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_USERNAME, zeros, 513);
}

static void m_unknown_attrs_odd(struct raw *r)
{
	raw_init(r, 0x0111);
	raw_attr(r, STUN_ATTR_UNKNOWN_ATTRIBUTES, zeros, 3);
}

static void m_priority_len(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 8);
}

static void m_controlling_len(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_ICE_CONTROLLING, zeros, 4);
}

static void m_use_candidate_value(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_USE_CANDIDATE, zeros, 4);
}

static void m_even_port_len(struct raw *r)
{
	raw_init(r, 0x0003);
	raw_attr(r, STUN_ATTR_EVEN_PORT, zeros, 4);
}

static void m_channel_len(struct raw *r)
{
	raw_init(r, 0x0009);
	raw_attr(r, STUN_ATTR_CHANNEL_NUMBER, zeros, 2);
}

static void m_userhash_len(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_USERHASH, zeros, 20);
}

static void m_pw_alg_overrun(struct raw *r)
{
	const uint8_t v[4] = { 0, 2, 0, 8 }; /* says 8 bytes of params */

	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PASSWORD_ALGORITHM, v, 4);
}

static void m_pw_algs_cut(struct raw *r)
{
	const uint8_t v[6] = { 0, 1, 0, 0, 0, 2 }; /* a half entry */

	raw_init(r, 0x0111);
	raw_attr(r, STUN_ATTR_PASSWORD_ALGORITHMS, v, 6);
}

static void m_realm_764(struct raw *r)
{
	raw_init(r, 0x0111);
	raw_attr(r, STUN_ATTR_REALM, zeros, 764);
}

static void m_dup_username(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_USERNAME, "a:b", 3);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
	raw_attr(r, STUN_ATTR_USERNAME, "c:d", 3);
}

static void m_dup_mi(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY, mac20, 20);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY, mac20, 20);
}

static void m_dup_software(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_SOFTWARE, "x", 1);
	raw_attr(r, STUN_ATTR_SOFTWARE, "x", 1);
}

static void m_after_fingerprint(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_fingerprint(r);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
}

static void m_unknown_after_fingerprint(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_fingerprint(r);
	raw_attr(r, 0x8077, zeros, 4);
}

static void m_after_mi(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY, mac20, 20);
	raw_attr(r, STUN_ATTR_USERNAME, "a:b", 3);
}

static void m_mi_after_mi256(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zeros, 32);
	raw_attr(r, STUN_ATTR_MESSAGE_INTEGRITY, mac20, 20);
}

static void m_bad_fingerprint(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
	raw_fingerprint(r);
	r->b[r->len - 1] ^= 1;
}

static void m_fingerprint_of_other(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
	raw_fingerprint(r);
	r->b[24] ^= 1; /* the PRIORITY value changed after the CRC */
}

static void m_too_many(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	for (unsigned i = 0; i <= STUN_MAX_ATTRS; i++)
		raw_attr(r, (uint16_t)(0x8100 + i), NULL, 0);
}

static void m_unknown_required(struct raw *r)
{
	raw_init(r, BINDING_REQ);
	raw_attr(r, STUN_ATTR_PRIORITY, zeros, 4);
	raw_attr(r, 0x0030, zeros, 4);
	raw_attr(r, 0x7ABC, NULL, 0);
	raw_attr(r, 0x0030, zeros, 4); /* reported once */
}

static const struct {
	const char *name;
	make_fn make;
	int err;
	uint16_t bad_attr;
} cases[] = {
	{ "empty", m_empty, -STUN_ETRUNC, 0 },
	{ "19 bytes", m_19_bytes, -STUN_ETRUNC, 0 },
	{ "top bits 10", m_top_bits, -STUN_ENOTSTUN, 0 },
	{ "top bits 01", m_top_bit_6, -STUN_ENOTSTUN, 0 },
	{ "bad magic cookie", m_bad_cookie, -STUN_ENOTSTUN, 0 },
	{ "length not a multiple of 4", m_len_not_aligned, -STUN_EBADLEN, 0 },
	{ "length beyond the buffer", m_len_beyond_buffer, -STUN_ETRUNC, 0 },
	{ "bytes after the message", m_trailing_bytes, -STUN_EBADLEN, 0 },
	{ "attribute overruns", m_attr_overrun, -STUN_EOVERRUN, 0 },
	{ "attribute length 0xFFFF", m_attr_overrun_max, -STUN_EOVERRUN, 0 },
	{ "address family 3", m_addr_family, -STUN_EBADATTR,
	  STUN_ATTR_XOR_MAPPED_ADDRESS },
	{ "IPv4 address of 7 bytes", m_addr_v4_len, -STUN_EBADATTR,
	  STUN_ATTR_MAPPED_ADDRESS },
	{ "IPv6 address of 16 bytes", m_addr_v6_short, -STUN_EBADATTR,
	  STUN_ATTR_XOR_PEER_ADDRESS },
	{ "MESSAGE-INTEGRITY of 19 bytes", m_mi_len, -STUN_EBADATTR,
	  STUN_ATTR_MESSAGE_INTEGRITY },
	{ "MI-SHA256 of 12 bytes", m_mi256_len12, -STUN_EBADATTR,
	  STUN_ATTR_MESSAGE_INTEGRITY_SHA256 },
	{ "MI-SHA256 of 18 bytes", m_mi256_len18, -STUN_EBADATTR,
	  STUN_ATTR_MESSAGE_INTEGRITY_SHA256 },
	{ "FINGERPRINT of 8 bytes", m_fp_len, -STUN_EBADATTR,
	  STUN_ATTR_FINGERPRINT },
	{ "ERROR-CODE class 2", m_error_class, -STUN_EBADATTR,
	  STUN_ATTR_ERROR_CODE },
	{ "ERROR-CODE number 100", m_error_number, -STUN_EBADATTR,
	  STUN_ATTR_ERROR_CODE },
	{ "ERROR-CODE of 3 bytes", m_error_short, -STUN_EBADATTR,
	  STUN_ATTR_ERROR_CODE },
	{ "USERNAME of 513 bytes", m_username_513, -STUN_EBADATTR,
	  STUN_ATTR_USERNAME },
	{ "UNKNOWN-ATTRIBUTES odd length", m_unknown_attrs_odd, -STUN_EBADATTR,
	  STUN_ATTR_UNKNOWN_ATTRIBUTES },
	{ "PRIORITY of 8 bytes", m_priority_len, -STUN_EBADATTR,
	  STUN_ATTR_PRIORITY },
	{ "ICE-CONTROLLING of 4 bytes", m_controlling_len, -STUN_EBADATTR,
	  STUN_ATTR_ICE_CONTROLLING },
	{ "USE-CANDIDATE with a value", m_use_candidate_value, -STUN_EBADATTR,
	  STUN_ATTR_USE_CANDIDATE },
	{ "EVEN-PORT of 4 bytes", m_even_port_len, -STUN_EBADATTR,
	  STUN_ATTR_EVEN_PORT },
	{ "CHANNEL-NUMBER of 2 bytes", m_channel_len, -STUN_EBADATTR,
	  STUN_ATTR_CHANNEL_NUMBER },
	{ "USERHASH of 20 bytes", m_userhash_len, -STUN_EBADATTR,
	  STUN_ATTR_USERHASH },
	{ "PASSWORD-ALGORITHM params overrun", m_pw_alg_overrun, -STUN_EBADATTR,
	  STUN_ATTR_PASSWORD_ALGORITHM },
	{ "PASSWORD-ALGORITHMS half entry", m_pw_algs_cut, -STUN_EBADATTR,
	  STUN_ATTR_PASSWORD_ALGORITHMS },
	{ "REALM of 764 bytes", m_realm_764, -STUN_EBADATTR, STUN_ATTR_REALM },
	{ "repeated USERNAME", m_dup_username, -STUN_EDUP, 0 },
	{ "repeated MESSAGE-INTEGRITY", m_dup_mi, -STUN_EMISPLACED, 0 },
	{ "repeated SOFTWARE", m_dup_software, -STUN_EDUP, 0 },
	{ "attribute after FINGERPRINT", m_after_fingerprint, -STUN_EMISPLACED,
	  0 },
	{ "optional attribute after FINGERPRINT", m_unknown_after_fingerprint,
	  -STUN_EMISPLACED, 0 },
	{ "USERNAME after MESSAGE-INTEGRITY", m_after_mi, -STUN_EMISPLACED, 0 },
	{ "MI after MI-SHA256", m_mi_after_mi256, -STUN_EMISPLACED, 0 },
	{ "wrong FINGERPRINT", m_bad_fingerprint, -STUN_EFINGERPRINT, 0 },
	{ "FINGERPRINT of other bytes", m_fingerprint_of_other,
	  -STUN_EFINGERPRINT, 0 },
	{ "49 attributes", m_too_many, -STUN_ETOOMANY, 0 },
};

static void test_malformed_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stun_msg m, before;
		struct raw r;
		int rc;

		cases[i].make(&r);
		memset(&m, 0x5A, sizeof(m));
		memcpy(&before, &m, sizeof(m));
		rc = stun_msg_parse(&m, r.b, r.len);
		if (rc != cases[i].err)
			fail_msg("%s: got %d (%s), want %d (%s)", cases[i].name,
				 rc, stun_strerror(rc), cases[i].err,
				 stun_strerror(cases[i].err));
		if (cases[i].err == -STUN_EBADATTR) {
			assert_int_equal(m.bad_attr, cases[i].bad_attr);
			m.bad_attr = before.bad_attr;
		}
		/* nothing else of *out written */
		if (memcmp(&m, &before, sizeof(m)) != 0)
			fail_msg("%s: *out was written", cases[i].name);
		/* the cheap check never accepts what the parser refuses
		 * for framing reasons */
		if (cases[i].err == -STUN_ETRUNC ||
		    cases[i].err == -STUN_ENOTSTUN ||
		    cases[i].err == -STUN_EBADLEN)
			assert_false(stun_is_message(r.b, r.len));
	}
}

/* The 420 path: the message is filled, the unknown types listed once. */
static void test_unknown_required(void **state)
{
	struct stun_builder b;
	struct stun_msg m;
	struct raw r;
	uint8_t out[128];
	uint16_t types[4];
	uint32_t prio;
	size_t n;
	int len;

	m_unknown_required(&r);
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), -STUN_EUNKNOWN);
	assert_memory_equal(m.tid, tid, 12);
	assert_int_equal(m.unknown_count, 2);
	assert_int_equal(m.unknown[0], 0x0030);
	assert_int_equal(m.unknown[1], 0x7ABC);
	assert_int_equal(stun_msg_get_u32(&m, STUN_ATTR_PRIORITY, &prio), 0);

	/* answer 420 with UNKNOWN-ATTRIBUTES, as RFC 8489 §6.3.1.1 says */
	stun_builder_init(&b, out, sizeof(out),
			  stun_msg_type(m.method, STUN_CLASS_ERROR), m.tid);
	stun_builder_add_error(&b, STUN_ERR_UNKNOWN_ATTRIBUTE,
			       "Unknown Attribute");
	stun_builder_add_unknown_attrs(&b, m.unknown, m.unknown_count);
	len = stun_builder_finish(&b);
	assert_true(len > 0);
	assert_int_equal(stun_msg_parse(&m, out, (size_t)len), 0);
	assert_int_equal(stun_msg_get_unknown_attrs(&m, types, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(types[0], 0x0030);
	assert_int_equal(types[1], 0x7ABC);

	/* more unknown types than the cap: the first STUN_MAX_UNKNOWN kept */
	raw_init(&r, BINDING_REQ);
	for (uint16_t t = 0x0040; t < 0x0040 + 2 * STUN_MAX_UNKNOWN; t++)
		raw_attr(&r, t, NULL, 0);
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), -STUN_EUNKNOWN);
	assert_int_equal(m.unknown_count, STUN_MAX_UNKNOWN);
	assert_int_equal(m.unknown[STUN_MAX_UNKNOWN - 1],
			 0x0040 + STUN_MAX_UNKNOWN - 1);
}

/* Well-formed oddities that must parse. */
static void test_accepted_oddities(void **state)
{
	union sockaddr_any a;
	struct stun_msg m;
	struct raw r;
	char s[16];

	/* header alone */
	raw_init(&r, BINDING_REQ);
	assert_int_equal(stun_msg_parse(&m, r.b, 20), 0);
	assert_int_equal(m.attr_count, 0);
	assert_true(stun_is_message(r.b, 20));

	/* repeated XOR-PEER-ADDRESS (CreatePermission, RFC 8656 §9.1) */
	raw_init(&r, 0x0008);
	raw_attr(&r, STUN_ATTR_XOR_PEER_ADDRESS, v4addr, 8);
	raw_attr(&r, STUN_ATTR_XOR_PEER_ADDRESS, v4addr, 8);
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), 0);
	assert_int_equal(m.attr_count, 2);

	/* unknown comprehension-optional attributes are kept, not errors,
	 * and may repeat */
	raw_init(&r, BINDING_REQ);
	raw_attr(&r, 0x8123, "zz", 2);
	raw_attr(&r, 0x8123, "zz", 2);
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), 0);
	assert_true(stun_msg_has(&m, 0x8123));

	/* non-zero padding is ignored (RFC 8489 §14) */
	raw_init(&r, BINDING_REQ);
	raw_attr(&r, STUN_ATTR_SOFTWARE, "abcXYZ", 6);
	r.b[r.len - 2] = 'P';
	r.b[r.len - 1] = 'Q';
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), 0);
	assert_int_equal(
		stun_msg_get_string(&m, STUN_ATTR_SOFTWARE, s, sizeof(s)), 0);
	assert_string_equal(s, "abcXYZ");

	/* MI, then MI-SHA256, then FINGERPRINT is the allowed order */
	raw_init(&r, BINDING_REQ);
	raw_attr(&r, STUN_ATTR_MESSAGE_INTEGRITY, mac20, 20);
	raw_attr(&r, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zeros, 20);
	raw_fingerprint(&r);
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), 0);

	/* the reserved first byte of an address is ignored */
	raw_init(&r, 0x0101);
	raw_attr(&r, STUN_ATTR_MAPPED_ADDRESS, v4addr, 8);
	r.b[24] = 0xFF;
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), 0);
	assert_int_equal(stun_msg_get_addr(&m, STUN_ATTR_MAPPED_ADDRESS, &a),
			 0);
	assert_int_equal(addr_port(&a), 0x1234);

	/* an out-of-range channel or family is the getter's business */
	raw_init(&r, 0x0009);
	raw_attr(&r, STUN_ATTR_CHANNEL_NUMBER,
		 (const uint8_t[]){ 0x3F, 0xFF, 0, 0 }, 4);
	raw_attr(&r, STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
		 (const uint8_t[]){ 3, 0, 0, 0 }, 4);
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), 0);
	{
		uint16_t ch = 1;
		int fam = 1;

		assert_int_equal(stun_msg_get_channel_number(&m, &ch), -ERANGE);
		assert_int_equal(ch, 1);
		assert_int_equal(stun_msg_get_requested_family(&m, &fam),
				 -EAFNOSUPPORT);
		assert_int_equal(fam, 1);
	}

	/* exactly STUN_MAX_ATTRS attributes fit */
	raw_init(&r, BINDING_REQ);
	for (unsigned i = 0; i < STUN_MAX_ATTRS; i++)
		raw_attr(&r, (uint16_t)(0x8100 + i), NULL, 0);
	assert_int_equal(stun_msg_parse(&m, r.b, r.len), 0);
	assert_int_equal(m.attr_count, STUN_MAX_ATTRS);
}

/* Every prefix of a valid message is refused, and none is read past. */
static void test_every_truncation(void **state)
{
	uint8_t buf[256], *copy;
	struct stun_builder b;
	struct stun_msg m;
	union sockaddr_any a;
	int n;

	assert_int_equal(addr_parse("[2001:db8::5]:9", 0, &a), 0);
	stun_builder_init(
		&b, buf, sizeof(buf),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), tid);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
	stun_builder_add_string(&b, STUN_ATTR_SOFTWARE, "x");
	stun_builder_add_message_integrity(&b, (const uint8_t *)"k", 1);
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	for (int len = 0; len < n; len++) {
		/* exact-size heap copy, so ASan sees any over-read */
		copy = malloc(len ? (size_t)len : 1);
		assert_non_null(copy);
		memcpy(copy, buf, (size_t)len);
		assert_int_not_equal(stun_msg_parse(&m, copy, (size_t)len), 0);
		free(copy);
	}
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malformed_table),
		cmocka_unit_test(test_unknown_required),
		cmocka_unit_test(test_accepted_oddities),
		cmocka_unit_test(test_every_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
