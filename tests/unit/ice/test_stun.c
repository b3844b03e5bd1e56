// SPDX-License-Identifier: MIT
/*
 * STUN codec: encode->decode round trips for every attribute (IPv4 and
 * IPv6), message types, the builder's bounds and order rules, integrity
 * edge cases and TURN ChannelData framing.
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
#include "ice/stun_int.h"

static int setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

static union sockaddr_any addr(const char *s)
{
	union sockaddr_any a;

	assert_int_equal(addr_parse(s, 0, &a), 0);
	return a;
}

static void assert_addr(const union sockaddr_any *a, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_to_str(a, buf, sizeof(buf)), want);
}

/* ------------------------------------------------------------ types */

static void test_message_types(void **state)
{
	static const struct {
		uint16_t method;
		enum stun_class cls;
		uint16_t type;
	} known[] = {
		/* RFC 8489 §6, RFC 8656 §17 */
		{ STUN_METHOD_BINDING, STUN_CLASS_REQUEST, 0x0001 },
		{ STUN_METHOD_BINDING, STUN_CLASS_INDICATION, 0x0011 },
		{ STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, 0x0101 },
		{ STUN_METHOD_BINDING, STUN_CLASS_ERROR, 0x0111 },
		{ STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, 0x0003 },
		{ STUN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS, 0x0103 },
		{ STUN_METHOD_ALLOCATE, STUN_CLASS_ERROR, 0x0113 },
		{ STUN_METHOD_REFRESH, STUN_CLASS_REQUEST, 0x0004 },
		{ STUN_METHOD_SEND, STUN_CLASS_INDICATION, 0x0016 },
		{ STUN_METHOD_DATA, STUN_CLASS_INDICATION, 0x0017 },
		{ STUN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST, 0x0008 },
		{ STUN_METHOD_CREATE_PERMISSION, STUN_CLASS_SUCCESS, 0x0108 },
		{ STUN_METHOD_CHANNEL_BIND, STUN_CLASS_REQUEST, 0x0009 },
		{ STUN_METHOD_CHANNEL_BIND, STUN_CLASS_ERROR, 0x0119 },
		{ 0xFFF, STUN_CLASS_ERROR, 0x3FFF },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_int_equal(stun_msg_type(known[i].method, known[i].cls),
				 known[i].type);
		assert_int_equal(stun_type_method(known[i].type),
				 known[i].method);
		assert_int_equal(stun_type_class(known[i].type), known[i].cls);
	}
	/* every 12-bit method and class survives the interleaving */
	for (unsigned m = 0; m < 0x1000; m++)
		for (unsigned c = 0; c < 4; c++) {
			uint16_t t =
				stun_msg_type((uint16_t)m, (enum stun_class)c);

			assert_int_equal(t & 0xC000, 0);
			assert_int_equal(stun_type_method(t), m);
			assert_int_equal(stun_type_class(t), c);
		}
}

/* ------------------------------------------------------------ round trips */

static const uint8_t tid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
static const uint8_t mi_key[] = "short-term password";
static const uint8_t userhash[32] = { 0xAA, 1,	2,  3,	4,  5,	6,  7,
				      8,    9,	10, 11, 12, 13, 14, 15,
				      16,   17, 18, 19, 20, 21, 22, 23,
				      24,   25, 26, 27, 28, 29, 30, 0xBB };
static const uint8_t payload[] = { 0x45, 0, 0, 0x1c, 0xde, 0xad, 0xbe };
static const uint8_t kdf_params[] = { 0x11, 0x22, 0x33, 0x44, 0x55 };

struct family_case {
	const char *mapped, *xmapped, *peer1, *peer2, *relayed, *alt;
	int family;
};

static const struct family_case v4 = {
	"192.0.2.1:3478",
	"203.0.113.9:61000",
	"198.51.100.7:1",
	"198.51.100.8:65535",
	"203.0.113.10:50000",
	"192.0.2.200:5349",
	AF_INET,
};

static const struct family_case v6 = {
	"[2001:db8::1]:3478",
	"[2001:db8:1234:5678:11:2233:4455:6677]:32853",
	"[2001:db8:ffff::7]:1",
	"[::ffff:192.0.2.9]:65535",
	"[2001:db8:aaaa::10]:50000",
	"[2001:db8::200]:5349",
	AF_INET6,
};

/* One message carrying every attribute the issue lists. */
static int build_everything(uint8_t *buf, size_t cap,
			    const struct family_case *f)
{
	static const uint16_t unknown[] = { 0x0031, 0x7FFF, 0x0002 };
	const struct stun_password_alg algs[] = {
		{ STUN_PASSWORD_ALG_MD5, 0, NULL },
		{ STUN_PASSWORD_ALG_SHA256, sizeof(kdf_params), kdf_params },
		{ 0x1234, 0, NULL },
	};
	const struct stun_password_alg alg = { STUN_PASSWORD_ALG_SHA256, 0,
					       NULL };
	union sockaddr_any a;
	struct stun_builder b;

	stun_builder_init(&b, buf, cap,
			  stun_msg_type(STUN_METHOD_ALLOCATE, STUN_CLASS_ERROR),
			  tid);
	a = addr(f->mapped);
	stun_builder_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	a = addr(f->xmapped);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
	stun_builder_add_string(&b, STUN_ATTR_USERNAME, "alice:bob");
	stun_builder_add(&b, STUN_ATTR_USERHASH, userhash, sizeof(userhash));
	stun_builder_add_error(&b, 420, "Unknown Attribute");
	stun_builder_add_unknown_attrs(&b, unknown, 3);
	stun_builder_add_string(&b, STUN_ATTR_REALM, "icemesh.test");
	stun_builder_add_string(&b, STUN_ATTR_NONCE, "nonce-0123456789");
	stun_builder_add_password_algorithm(&b, &alg);
	stun_builder_add_password_algorithms(&b, algs, 3);
	a = addr(f->alt);
	stun_builder_add_addr(&b, STUN_ATTR_ALTERNATE_SERVER, &a);
	stun_builder_add_string(&b, STUN_ATTR_SOFTWARE, "icemesh 0.1");
	stun_builder_add_u32(&b, STUN_ATTR_PRIORITY, 0x7effffff);
	stun_builder_add_flag(&b, STUN_ATTR_USE_CANDIDATE);
	stun_builder_add_u64(&b, STUN_ATTR_ICE_CONTROLLED,
			     0x0123456789abcdefULL);
	stun_builder_add_u64(&b, STUN_ATTR_ICE_CONTROLLING,
			     0xfedcba9876543210ULL);
	stun_builder_add_channel_number(&b, 0x4ABC);
	stun_builder_add_u32(&b, STUN_ATTR_LIFETIME, 600);
	a = addr(f->peer1);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &a);
	a = addr(f->peer2);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &a);
	stun_builder_add(&b, STUN_ATTR_DATA, payload, sizeof(payload));
	a = addr(f->relayed);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, &a);
	stun_builder_add_requested_family(&b, f->family);
	stun_builder_add_even_port(&b, true);
	stun_builder_add_requested_transport(&b, STUN_TRANSPORT_UDP);
	stun_builder_add_flag(&b, STUN_ATTR_DONT_FRAGMENT);
	stun_builder_add_u64(&b, STUN_ATTR_RESERVATION_TOKEN,
			     0x1122334455667788ULL);
	stun_builder_add_message_integrity(&b, mi_key, sizeof(mi_key) - 1);
	stun_builder_add_message_integrity_sha256(&b, mi_key,
						  sizeof(mi_key) - 1);
	stun_builder_add_fingerprint(&b);
	return stun_builder_finish(&b);
}

static void check_addrs(const struct stun_msg *m, const struct family_case *f)
{
	const struct stun_attr *at;
	union sockaddr_any a;

	assert_int_equal(stun_msg_get_addr(m, STUN_ATTR_MAPPED_ADDRESS, &a), 0);
	assert_addr(&a, f->mapped);
	assert_int_equal(
		stun_msg_get_xor_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &a), 0);
	assert_addr(&a, f->xmapped);
	assert_int_equal(stun_msg_get_addr(m, STUN_ATTR_ALTERNATE_SERVER, &a),
			 0);
	assert_addr(&a, f->alt);
	assert_int_equal(
		stun_msg_get_xor_addr(m, STUN_ATTR_XOR_RELAYED_ADDRESS, &a), 0);
	assert_addr(&a, f->relayed);
	/* the repeated XOR-PEER-ADDRESS, walked in order */
	at = stun_msg_find(m, STUN_ATTR_XOR_PEER_ADDRESS);
	assert_non_null(at);
	assert_int_equal(stun_attr_get_xor_addr(m, at, &a), 0);
	assert_addr(&a, f->peer1);
	at = stun_msg_find_next(m, at);
	assert_non_null(at);
	assert_int_equal(stun_attr_get_xor_addr(m, at, &a), 0);
	assert_addr(&a, f->peer2);
	assert_null(stun_msg_find_next(m, at));
	/* xor really is applied on the wire: the plain reading differs */
	assert_int_equal(stun_attr_get_addr(m, at, &a), 0);
	assert_int_equal(addr_port(&a), 0xFFFF ^ 0x2112);
}

static void check_scalars(const struct stun_msg *m, int family)
{
	uint32_t u32;
	uint64_t u64;
	uint16_t ch;
	uint8_t proto;
	int fam;
	bool r;

	assert_int_equal(stun_msg_get_u32(m, STUN_ATTR_PRIORITY, &u32), 0);
	assert_int_equal(u32, 0x7effffff);
	assert_int_equal(stun_msg_get_u32(m, STUN_ATTR_LIFETIME, &u32), 0);
	assert_int_equal(u32, 600);
	assert_int_equal(stun_msg_get_u64(m, STUN_ATTR_ICE_CONTROLLED, &u64),
			 0);
	assert_true(u64 == 0x0123456789abcdefULL);
	assert_int_equal(stun_msg_get_u64(m, STUN_ATTR_ICE_CONTROLLING, &u64),
			 0);
	assert_true(u64 == 0xfedcba9876543210ULL);
	assert_int_equal(stun_msg_get_u64(m, STUN_ATTR_RESERVATION_TOKEN, &u64),
			 0);
	assert_true(u64 == 0x1122334455667788ULL);
	assert_int_equal(stun_msg_get_channel_number(m, &ch), 0);
	assert_int_equal(ch, 0x4ABC);
	assert_int_equal(stun_msg_get_requested_transport(m, &proto), 0);
	assert_int_equal(proto, 17);
	assert_int_equal(stun_msg_get_requested_family(m, &fam), 0);
	assert_int_equal(fam, family);
	assert_int_equal(stun_msg_get_even_port(m, &r), 0);
	assert_true(r);
	assert_true(stun_msg_has(m, STUN_ATTR_USE_CANDIDATE));
	assert_true(stun_msg_has(m, STUN_ATTR_DONT_FRAGMENT));
	/* wrong-size reads are refused, absent ones say so */
	assert_int_equal(stun_msg_get_u64(m, STUN_ATTR_PRIORITY, &u64),
			 -EINVAL);
	assert_int_equal(stun_msg_get_u32(m, 0x8FFF, &u32), -ENOENT);
}

static void check_texts(const struct stun_msg *m)
{
	const struct stun_password_alg *p;
	struct stun_password_alg algs[4], alg;
	uint16_t types[4];
	const uint8_t *v;
	const char *reason;
	size_t n, len;
	char s[64];
	int code;

	assert_int_equal(
		stun_msg_get_string(m, STUN_ATTR_USERNAME, s, sizeof(s)), 0);
	assert_string_equal(s, "alice:bob");
	assert_int_equal(stun_msg_get_string(m, STUN_ATTR_USERNAME, s, 9),
			 -ENOSPC);
	assert_int_equal(stun_msg_get_string(m, STUN_ATTR_REALM, s, sizeof(s)),
			 0);
	assert_string_equal(s, "icemesh.test");
	assert_int_equal(stun_msg_get_string(m, STUN_ATTR_NONCE, s, sizeof(s)),
			 0);
	assert_string_equal(s, "nonce-0123456789");
	assert_int_equal(
		stun_msg_get_string(m, STUN_ATTR_SOFTWARE, s, sizeof(s)), 0);
	assert_string_equal(s, "icemesh 0.1");
	assert_int_equal(stun_msg_get_bytes(m, STUN_ATTR_USERHASH, &v, &len),
			 0);
	assert_int_equal(len, 32);
	assert_memory_equal(v, userhash, 32);
	assert_int_equal(stun_msg_get_bytes(m, STUN_ATTR_DATA, &v, &len), 0);
	assert_int_equal(len, sizeof(payload));
	assert_memory_equal(v, payload, sizeof(payload));
	/* DATA holds a NUL: not a string */
	assert_int_equal(stun_msg_get_string(m, STUN_ATTR_DATA, s, sizeof(s)),
			 -EINVAL);

	assert_int_equal(stun_msg_get_error(m, &code, &reason, &len), 0);
	assert_int_equal(code, 420);
	assert_int_equal(len, strlen("Unknown Attribute"));
	assert_memory_equal(reason, "Unknown Attribute", len);
	assert_int_equal(stun_msg_get_unknown_attrs(m, types, 2, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(types[0], 0x0031);
	assert_int_equal(types[1], 0x7FFF);
	assert_int_equal(stun_msg_get_unknown_attrs(m, types, 4, &n), 0);
	assert_int_equal(types[2], 0x0002);

	assert_int_equal(stun_msg_get_password_algorithm(m, &alg), 0);
	assert_int_equal(alg.alg, STUN_PASSWORD_ALG_SHA256);
	assert_int_equal(stun_msg_get_password_algorithms(m, algs, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(algs[0].alg, STUN_PASSWORD_ALG_MD5);
	assert_int_equal(algs[0].params_len, 0);
	p = &algs[1];
	assert_int_equal(p->alg, STUN_PASSWORD_ALG_SHA256);
	assert_int_equal(p->params_len, sizeof(kdf_params));
	assert_memory_equal(p->params, kdf_params, sizeof(kdf_params));
	assert_int_equal(algs[2].alg, 0x1234);
}

static void round_trip(const struct family_case *f)
{
	uint8_t buf[1024];
	struct stun_msg m;
	int len;

	len = build_everything(buf, sizeof(buf), f);
	assert_true(len > 0);
	assert_true(stun_is_message(buf, (size_t)len));
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)len), 0);
	assert_int_equal(m.method, STUN_METHOD_ALLOCATE);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_memory_equal(m.tid, tid, 12);
	assert_int_equal(m.attr_count, 30);
	assert_true(m.mi_off && m.mi256_off && m.fp_off);
	assert_true(m.mi_off < m.mi256_off && m.mi256_off < m.fp_off);
	check_addrs(&m, f);
	check_scalars(&m, f->family);
	check_texts(&m);
	assert_int_equal(
		stun_msg_check_integrity(&m, mi_key, sizeof(mi_key) - 1), 0);
	assert_int_equal(
		stun_msg_check_integrity_sha256(&m, mi_key, sizeof(mi_key) - 1),
		0);
	assert_int_equal(stun_msg_check_fingerprint(&m), 0);

	/*
	 * Any flipped bit before MESSAGE-INTEGRITY breaks both MACs; with
	 * FINGERPRINT recomputed, so that the parse gets as far as them
	 * (flips that make the message malformed are skipped, and counted).
	 */
	size_t checked = 0;

	for (size_t i = 0; i < m.mi_off; i++) {
		uint8_t copy[1024];
		struct stun_msg c;

		memcpy(copy, buf, (size_t)len);
		copy[i] ^= (uint8_t)(1u << (i % 8));
		stun_wr32(copy + m.fp_off + 4,
			  stun_fingerprint(copy, m.fp_off));
		if (stun_msg_parse(&c, copy, (size_t)len) != 0)
			continue;
		checked++;
		assert_int_equal(stun_msg_check_integrity(&c, mi_key,
							  sizeof(mi_key) - 1),
				 -EACCES);
		assert_int_equal(stun_msg_check_integrity_sha256(
					 &c, mi_key, sizeof(mi_key) - 1),
				 -EACCES);
		assert_int_equal(stun_msg_check_fingerprint(&c), 0);
	}
	assert_true(checked > m.mi_off / 2);
}

static void test_round_trip_ipv4(void **state)
{
	round_trip(&v4);
}

static void test_round_trip_ipv6(void **state)
{
	round_trip(&v6);
}

/* One attribute at a time, each alone in a Binding indication. */
static void test_round_trip_each(void **state)
{
	static const struct {
		uint16_t type;
		size_t len;
	} cases[] = {
		{ STUN_ATTR_PRIORITY, 4 },
		{ STUN_ATTR_LIFETIME, 4 },
		{ STUN_ATTR_ICE_CONTROLLED, 8 },
		{ STUN_ATTR_ICE_CONTROLLING, 8 },
		{ STUN_ATTR_RESERVATION_TOKEN, 8 },
		{ STUN_ATTR_USE_CANDIDATE, 0 },
		{ STUN_ATTR_DONT_FRAGMENT, 0 },
		{ STUN_ATTR_DATA, 0 },
		{ STUN_ATTR_DATA, 1 },
		{ STUN_ATTR_DATA, 1400 },
		{ STUN_ATTR_USERNAME, 512 },
		{ STUN_ATTR_REALM, 763 },
		{ STUN_ATTR_NONCE, 5 },
		{ STUN_ATTR_SOFTWARE, 3 },
		{ STUN_ATTR_USERHASH, 32 },
		{ 0x8555, 6 },
	};
	uint8_t val[1400], buf[1600];

	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)('a' + i % 26);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stun_builder b;
		struct stun_msg m;
		const uint8_t *v;
		size_t len;
		int n;

		stun_builder_init(&b, buf, sizeof(buf),
				  stun_msg_type(STUN_METHOD_BINDING,
						STUN_CLASS_INDICATION),
				  tid);
		stun_builder_add(&b, cases[i].type, val, cases[i].len);
		n = stun_builder_finish(&b);
		assert_int_equal(n, 20 + 4 + ((cases[i].len + 3) & ~3u));
		assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
		assert_int_equal(m.attr_count, 1);
		assert_int_equal(
			stun_msg_get_bytes(&m, cases[i].type, &v, &len), 0);
		assert_int_equal(len, cases[i].len);
		if (len)
			assert_memory_equal(v, val, len);
	}
}

/* ------------------------------------------------------------ builder */

static void test_builder_never_overruns(void **state)
{
	uint8_t full[1024], buf[1024 + 16];
	int want = build_everything(full, sizeof(full), &v6);

	assert_true(want > 0);
	for (int cap = 0; cap <= want; cap++) {
		int got;

		memset(buf, 0xEE, sizeof(buf));
		got = build_everything(buf, (size_t)cap, &v6);
		if (cap < want) {
			assert_int_equal(got, -ENOSPC);
		} else {
			assert_int_equal(got, want);
			assert_memory_equal(buf, full, (size_t)want);
		}
		for (size_t i = (size_t)cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xEE);
	}
}

static void test_builder_order_and_args(void **state)
{
	uint8_t buf[256];
	struct stun_builder b;
	union sockaddr_any a;
	uint16_t type = stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST);
	const uint8_t key[] = "k";

	/* after MESSAGE-INTEGRITY: only MI-SHA256 and FINGERPRINT */
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_message_integrity(&b, key, 1), 0);
	assert_int_equal(stun_builder_add_u32(&b, STUN_ATTR_PRIORITY, 1),
			 -EINVAL);
	/* the error is sticky */
	assert_int_equal(stun_builder_add_fingerprint(&b), -EINVAL);
	assert_int_equal(stun_builder_finish(&b), -EINVAL);

	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_message_integrity_sha256(&b, key, 1),
			 0);
	assert_int_equal(stun_builder_add_message_integrity(&b, key, 1),
			 -EINVAL);

	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_fingerprint(&b), 0);
	assert_int_equal(stun_builder_add_fingerprint(&b), -EINVAL);

	/* bad arguments */
	assert_int_equal(stun_builder_init(&b, buf, sizeof(buf), 0xC001, tid),
			 -EINVAL);
	assert_int_equal(stun_builder_finish(&b), -EINVAL);
	assert_int_equal(stun_builder_init(&b, buf, 19, type, tid), -ENOSPC);
	assert_int_equal(stun_builder_add_u32(&b, STUN_ATTR_PRIORITY, 1),
			 -ENOSPC);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_channel_number(&b, 0x3FFF), -EINVAL);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_channel_number(&b, 0x5000), -EINVAL);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_error(&b, 299, NULL), -EINVAL);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_error(&b, 700, NULL), -EINVAL);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_requested_family(&b, AF_UNIX),
			 -EAFNOSUPPORT);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	memset(&a, 0, sizeof(a));
	a.sa.sa_family = AF_UNIX;
	assert_int_equal(
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a),
		-EAFNOSUPPORT);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add(&b, STUN_ATTR_DATA, NULL, 3),
			 -EINVAL);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_string(&b, STUN_ATTR_REALM, NULL),
			 -EINVAL);
	stun_builder_init(&b, buf, sizeof(buf), type, tid);
	assert_int_equal(stun_builder_add_password_algorithms(&b, NULL, 0),
			 -EINVAL);

	/* an error response with no reason phrase */
	stun_builder_init(&b, buf, sizeof(buf),
			  stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR),
			  tid);
	assert_int_equal(stun_builder_add_error(&b, 487, NULL), 0);
	assert_int_equal(stun_builder_finish(&b), 28);
}

/* The 16-bit length field caps a message at 20 + 65532 bytes. */
static void test_builder_length_field_cap(void **state)
{
	static uint8_t big[70000], val[65535];
	struct stun_builder b;
	struct stun_msg m;
	int n;

	memset(val, 'x', sizeof(val));
	stun_builder_init(
		&b, big, sizeof(big),
		stun_msg_type(STUN_METHOD_SEND, STUN_CLASS_INDICATION), tid);
	assert_int_equal(stun_builder_add(&b, STUN_ATTR_DATA, val, 65528), 0);
	n = stun_builder_finish(&b);
	assert_int_equal(n, 20 + 4 + 65528);
	assert_int_equal(stun_msg_parse(&m, big, (size_t)n), 0);
	assert_int_equal(stun_builder_add_flag(&b, STUN_ATTR_DONT_FRAGMENT),
			 -ENOSPC);
	stun_builder_init(
		&b, big, sizeof(big),
		stun_msg_type(STUN_METHOD_SEND, STUN_CLASS_INDICATION), tid);
	assert_int_equal(stun_builder_add(&b, STUN_ATTR_DATA, val, 65533),
			 -ENOSPC);
}

/* ------------------------------------------------------------ integrity */

static void test_integrity_edges(void **state)
{
	uint8_t buf[256];
	struct stun_builder b;
	struct stun_msg m;
	int n;

	/* an empty key is a valid HMAC key (zero padded), not an error */
	stun_builder_init(
		&b, buf, sizeof(buf),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), tid);
	stun_builder_add_string(&b, STUN_ATTR_USERNAME, "a:b");
	stun_builder_add_message_integrity(&b, NULL, 0);
	stun_builder_add_message_integrity_sha256(&b, NULL, 0);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(stun_msg_check_integrity(&m, NULL, 0), 0);
	assert_int_equal(stun_msg_check_integrity_sha256(&m, NULL, 0), 0);
	assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)"\0", 1),
			 0); /* HMAC's own rule: same as the empty key */
	assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)"x", 1),
			 -EACCES);
	assert_int_equal(stun_msg_check_fingerprint(&m), -ENOENT);
}

/*
 * A truncated MESSAGE-INTEGRITY-SHA256 (16 to 28 bytes, RFC 8489 §14.6):
 * made by hand here since the builder always writes all 32 bytes.
 */
static void test_integrity_sha256_truncated(void **state)
{
	static const uint8_t key[] = "long-term key bytes";
	uint8_t buf[128], mac[32];
	struct stun_builder b;
	struct stun_msg m;
	size_t maclen = 0;
	int n;

	for (size_t cut = 16; cut <= 28; cut += 4) {
		stun_builder_init(
			&b, buf, sizeof(buf),
			stun_msg_type(STUN_METHOD_REFRESH, STUN_CLASS_REQUEST),
			tid);
		stun_builder_add_u32(&b, STUN_ATTR_LIFETIME, 0);
		n = stun_builder_finish(&b);
		/* header length as if the attribute were there */
		stun_wr16(buf + 2, (uint16_t)(n + 4 + cut - 20));
		assert_int_equal(stun_hmac("SHA256", key, sizeof(key), buf, 20,
					   buf + 20, (size_t)n - 20, mac,
					   &maclen),
				 0);
		assert_int_equal(maclen, 32);
		stun_wr16(buf + n, STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
		stun_wr16(buf + n + 2, (uint16_t)cut);
		memcpy(buf + n + 4, mac, cut);
		n += 4 + (int)cut;
		assert_int_equal(stun_msg_parse(&m, buf, (size_t)n), 0);
		assert_int_equal(
			stun_msg_check_integrity_sha256(&m, key, sizeof(key)),
			0);
		buf[n - 1] ^= 1;
		assert_int_equal(
			stun_msg_check_integrity_sha256(&m, key, sizeof(key)),
			-EACCES);
	}
}

static void test_keys_and_words(void **state)
{
	uint8_t k[32];
	char buf[16];

	assert_int_equal(stun_long_term_key(NULL, "r", "p", k), -EINVAL);
	assert_int_equal(stun_long_term_key_sha256("u", NULL, "p", k), -EINVAL);
	assert_int_equal(stun_userhash("u", NULL, k), -EINVAL);
	assert_string_equal(
		stun_attr_name(STUN_ATTR_XOR_MAPPED_ADDRESS, buf, sizeof(buf)),
		"XOR-MAPPED-ADDRESS");
	assert_string_equal(stun_attr_name(0x7123, buf, sizeof(buf)), "0x7123");
	assert_string_equal(stun_method_name(STUN_METHOD_CHANNEL_BIND),
			    "ChannelBind");
	assert_string_equal(stun_class_name(STUN_CLASS_ERROR),
			    "error response");
	assert_string_equal(stun_strerror(-STUN_EDUP), "repeated attribute");
	assert_string_equal(stun_strerror(-STUN_EUNKNOWN),
			    "unknown comprehension-required attribute");
}

/* ------------------------------------------------------------ ChannelData */

static void test_channeldata(void **state)
{
	static const uint8_t data[] = { 1, 2, 3, 4, 5 };
	uint8_t buf[64];
	const uint8_t *d;
	uint16_t ch;
	size_t dlen;
	int n;

	/* unpadded (UDP) */
	n = stun_channeldata_encode(buf, sizeof(buf), 0x4001, data, 5, false);
	assert_int_equal(n, 9);
	assert_memory_equal(buf, ((const uint8_t[]){ 0x40, 0x01, 0x00, 0x05 }),
			    4);
	assert_int_equal(stun_channeldata_decode(buf, 9, &ch, &d, &dlen), 0);
	assert_int_equal(ch, 0x4001);
	assert_int_equal(dlen, 5);
	assert_memory_equal(d, data, 5);
	/* padded (TCP): the length field still says 5 */
	memset(buf, 0xEE, sizeof(buf));
	n = stun_channeldata_encode(buf, sizeof(buf), 0x4FFF, data, 5, true);
	assert_int_equal(n, 12);
	assert_int_equal(buf[3], 5);
	assert_memory_equal(buf + 9, ((const uint8_t[]){ 0, 0, 0 }), 3);
	assert_int_equal(buf[12], 0xEE);
	assert_int_equal(stun_channeldata_decode(buf, 12, &ch, &d, &dlen), 0);
	assert_int_equal(dlen, 5);
	assert_int_equal(stun_stream_frame_len(buf, 2), -EAGAIN);
	assert_int_equal(stun_stream_frame_len(buf, 4), 12);
	/* empty payload */
	assert_int_equal(stun_channeldata_encode(buf, 4, 0x4000, NULL, 0, true),
			 4);
	assert_int_equal(stun_channeldata_decode(buf, 4, &ch, &d, &dlen), 0);
	assert_int_equal(dlen, 0);

	/* errors, outputs untouched */
	ch = 7;
	n = stun_channeldata_encode(buf, sizeof(buf), 0x4001, data, 5, false);
	assert_int_equal(stun_channeldata_decode(buf, 8, &ch, &d, &dlen),
			 -ENODATA);
	assert_int_equal(stun_channeldata_decode(buf, 3, &ch, &d, &dlen),
			 -ENODATA);
	assert_int_equal(ch, 7);
	buf[0] = 0x50;
	assert_int_equal(stun_channeldata_decode(buf, 9, &ch, &d, &dlen),
			 -EINVAL);
	buf[0] = 0x3F;
	assert_int_equal(stun_channeldata_decode(buf, 9, &ch, &d, &dlen),
			 -EINVAL);
	assert_int_equal(
		stun_channeldata_encode(buf, 8, 0x4001, data, 5, false),
		-ENOSPC);
	assert_int_equal(
		stun_channeldata_encode(buf, 11, 0x4001, data, 5, true),
		-ENOSPC);
	assert_int_equal(
		stun_channeldata_encode(buf, 64, 0x5000, data, 5, true),
		-EINVAL);
	assert_int_equal(
		stun_channeldata_encode(buf, 64, 0x4000, NULL, 5, true),
		-EINVAL);
}

static void test_stream_frame_len(void **state)
{
	uint8_t buf[64];
	struct stun_builder b;
	int n;

	stun_builder_init(
		&b, buf, sizeof(buf),
		stun_msg_type(STUN_METHOD_REFRESH, STUN_CLASS_REQUEST), tid);
	stun_builder_add_u32(&b, STUN_ATTR_LIFETIME, 0);
	n = stun_builder_finish(&b);
	assert_int_equal(stun_stream_frame_len(buf, (size_t)n), n);
	assert_int_equal(stun_stream_frame_len(buf, 4), n);
	buf[0] = 0x80;
	assert_int_equal(stun_stream_frame_len(buf, 4), -EINVAL);
	assert_false(stun_is_message(buf, (size_t)n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_types),
		cmocka_unit_test(test_round_trip_ipv4),
		cmocka_unit_test(test_round_trip_ipv6),
		cmocka_unit_test(test_round_trip_each),
		cmocka_unit_test(test_builder_never_overruns),
		cmocka_unit_test(test_builder_order_and_args),
		cmocka_unit_test(test_builder_length_field_cap),
		cmocka_unit_test(test_integrity_edges),
		cmocka_unit_test(test_integrity_sha256_truncated),
		cmocka_unit_test(test_keys_and_words),
		cmocka_unit_test(test_channeldata),
		cmocka_unit_test(test_stream_frame_len),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
