// SPDX-License-Identifier: MIT
/*
 * netcheck's decisions: the RFC 4787 mapping from what each STUN server
 * saw (table-driven), the TURN probe on the wire (an Allocate request for
 * UDP, no credentials, a valid FINGERPRINT), and which answers time it —
 * the 401 challenge and any other Allocate response with its transaction
 * id, nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "daemon/netcheck.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_mapping(void **state)
{
	static const struct {
		const char *mapped[3];
		size_t n;
		enum ctl_mapping want;
	} cases[] = {
		{ { NULL }, 0, CTL_MAPPING_UNKNOWN },
		{ { "198.51.100.4:41641" }, 1, CTL_MAPPING_UNKNOWN },
		{ { "198.51.100.4:41641", "198.51.100.4:41641" },
		  2,
		  CTL_MAPPING_INDEPENDENT },
		{ { "198.51.100.4:41641", "198.51.100.4:41641",
		    "198.51.100.4:41641" },
		  3,
		  CTL_MAPPING_INDEPENDENT },
		/* symmetric NAT: another port per destination */
		{ { "198.51.100.4:41641", "198.51.100.4:1024" },
		  2,
		  CTL_MAPPING_DEPENDENT },
		/* another address (a NAT pool) */
		{ { "198.51.100.4:41641", "198.51.100.5:41641" },
		  2,
		  CTL_MAPPING_DEPENDENT },
		/* only the last one differs */
		{ { "198.51.100.4:41641", "198.51.100.4:41641",
		    "198.51.100.4:41642" },
		  3,
		  CTL_MAPPING_DEPENDENT },
		{ { "[2001:db8::1]:41641", "[2001:db8::1]:41641" },
		  2,
		  CTL_MAPPING_INDEPENDENT },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		union sockaddr_any a[3];

		memset(a, 0, sizeof(a));
		for (size_t j = 0; j < cases[i].n; j++)
			assert_int_equal(
				addr_parse(cases[i].mapped[j], 0, &a[j]), 0);
		assert_int_equal(netcheck_mapping(a, cases[i].n),
				 cases[i].want);
	}
}

static void test_turn_probe(void **state)
{
	uint8_t tid[STUN_TID_LEN], buf[64], small[24];
	struct stun_msg m;
	uint32_t transport;
	int len;

	(void)state;
	memset(tid, 0xa5, sizeof(tid));
	len = netcheck_turn_probe(buf, sizeof(buf), tid);
	assert_true(len > 20);
	assert_int_equal(stun_msg_parse(&m, buf, (size_t)len), 0);
	assert_int_equal(m.method, STUN_METHOD_ALLOCATE);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_memory_equal(m.tid, tid, STUN_TID_LEN);
	assert_int_equal(
		stun_msg_get_u32(&m, STUN_ATTR_REQUESTED_TRANSPORT, &transport),
		0);
	assert_int_equal(transport, 17u << 24); /* UDP, RFC 8656 §18.8 */
	assert_int_equal(stun_msg_check_fingerprint(&m), 0);
	/* no credentials: the server's answer is the 401 challenge */
	assert_null(stun_msg_find(&m, STUN_ATTR_USERNAME));
	assert_null(stun_msg_find(&m, STUN_ATTR_MESSAGE_INTEGRITY));
	assert_true(netcheck_turn_probe(small, sizeof(small), tid) < 0);
}

/* A response of class cls and method to tid, with an error code if any. */
static void answer(struct stun_msg *m, uint8_t *buf, size_t cap,
		   uint16_t method, enum stun_class cls, const uint8_t *tid,
		   int code)
{
	struct stun_builder b;
	int len;

	stun_builder_init(&b, buf, cap, stun_msg_type(method, cls), tid);
	if (code)
		stun_builder_add_error(&b, code, "x");
	stun_builder_add_fingerprint(&b);
	len = stun_builder_finish(&b);
	assert_true(len > 0);
	assert_int_equal(stun_msg_parse(m, buf, (size_t)len), 0);
}

static void test_turn_answer(void **state)
{
	uint8_t tid[STUN_TID_LEN], other[STUN_TID_LEN], buf[128];
	struct stun_msg m;

	(void)state;
	memset(tid, 0x11, sizeof(tid));
	memcpy(other, tid, sizeof(other));
	other[11] ^= 1;
	answer(&m, buf, sizeof(buf), STUN_METHOD_ALLOCATE, STUN_CLASS_ERROR,
	       tid, STUN_ERR_UNAUTHENTICATED);
	assert_true(netcheck_turn_answer(&m, tid));
	assert_false(netcheck_turn_answer(&m, other));
	/* the server is there whatever it says */
	answer(&m, buf, sizeof(buf), STUN_METHOD_ALLOCATE, STUN_CLASS_ERROR,
	       tid, STUN_ERR_ALLOCATION_MISMATCH);
	assert_true(netcheck_turn_answer(&m, tid));
	answer(&m, buf, sizeof(buf), STUN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS,
	       tid, 0);
	assert_true(netcheck_turn_answer(&m, tid));
	/* a Binding answer, a request or an indication is not the probe's */
	answer(&m, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS,
	       tid, 0);
	assert_false(netcheck_turn_answer(&m, tid));
	answer(&m, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_ERROR, tid,
	       STUN_ERR_UNAUTHENTICATED);
	assert_false(netcheck_turn_answer(&m, tid));
	answer(&m, buf, sizeof(buf), STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST,
	       tid, 0);
	assert_false(netcheck_turn_answer(&m, tid));
	answer(&m, buf, sizeof(buf), STUN_METHOD_ALLOCATE,
	       STUN_CLASS_INDICATION, tid, 0);
	assert_false(netcheck_turn_answer(&m, tid));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_turn_probe),
		cmocka_unit_test(test_turn_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
