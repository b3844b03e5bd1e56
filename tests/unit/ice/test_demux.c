// SPDX-License-Identifier: MIT
/* The shared-socket classifier: ARCHITECTURE.md's table, row by row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ice/demux.h"
#include "ice/stun.h"

#define COOKIE 0x21, 0x12, 0xA4, 0x42

static void test_table(void **state)
{
	static const struct {
		const char *name;
		uint8_t head[8];
		size_t len;
		bool from_turn;
		enum demux_kind want;
	} cases[] = {
		/* STUN: byte 0 in 0x00-0x03 and the magic cookie */
		{ "binding request",
		  { 0x00, 0x01, 0, 0, COOKIE },
		  20,
		  false,
		  DEMUX_STUN },
		{ "binding success",
		  { 0x01, 0x01, 0, 12, COOKIE },
		  32,
		  false,
		  DEMUX_STUN },
		{ "byte 0 = 0x03",
		  { 0x03, 0xFF, 0, 0, COOKIE },
		  20,
		  false,
		  DEMUX_STUN },
		{ "STUN from the TURN server",
		  { 0x01, 0x03, 0, 0, COOKIE },
		  20,
		  true,
		  DEMUX_STUN },
		{ "STUN of 19 bytes",
		  { 0x00, 0x01, 0, 0, COOKIE },
		  19,
		  false,
		  DEMUX_OTHER },
		{ "byte 0 = 0x04 with cookie",
		  { 0x04, 0x01, 0, 0, COOKIE },
		  20,
		  false,
		  DEMUX_OTHER },
		{ "no cookie",
		  { 0x00, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x43 },
		  20,
		  false,
		  DEMUX_OTHER },
		/* a WireGuard header whose sender index is the cookie: STUN */
		{ "WireGuard type 1 + cookie",
		  { 0x01, 0, 0, 0, COOKIE },
		  148,
		  false,
		  DEMUX_STUN },
		/* ChannelData: 0x40-0x4F, only from a TURN server */
		{ "channel 0x4000",
		  { 0x40, 0x00, 0, 4 },
		  8,
		  true,
		  DEMUX_CHANNELDATA },
		{ "channel 0x4FFF",
		  { 0x4F, 0xFF, 0, 0 },
		  4,
		  true,
		  DEMUX_CHANNELDATA },
		{ "channel from a peer",
		  { 0x40, 0x00, 0, 4 },
		  8,
		  false,
		  DEMUX_OTHER },
		{ "0x50 from TURN",
		  { 0x50, 0x00, 0, 0 },
		  8,
		  true,
		  DEMUX_OTHER },
		{ "0x3F from TURN",
		  { 0x3F, 0x00, 0, 0 },
		  8,
		  true,
		  DEMUX_OTHER },
		{ "ChannelData of 3 bytes",
		  { 0x40, 0x00, 0, 0 },
		  3,
		  true,
		  DEMUX_OTHER },
		/* WireGuard: type 1-4 then three zero bytes */
		{ "WG initiation",
		  { 0x01, 0, 0, 0, 1, 2, 3, 4 },
		  148,
		  false,
		  DEMUX_WIREGUARD },
		{ "WG response",
		  { 0x02, 0, 0, 0, 1, 2, 3, 4 },
		  92,
		  false,
		  DEMUX_WIREGUARD },
		{ "WG cookie reply",
		  { 0x03, 0, 0, 0, 1, 2, 3, 4 },
		  64,
		  false,
		  DEMUX_WIREGUARD },
		{ "WG keepalive",
		  { 0x04, 0, 0, 0, 1, 2, 3, 4 },
		  32,
		  false,
		  DEMUX_WIREGUARD },
		{ "WG data from TURN (Send/Data carried)",
		  { 0x04, 0, 0, 0, 9, 9, 9, 9 },
		  1400,
		  true,
		  DEMUX_WIREGUARD },
		{ "WG of 31 bytes",
		  { 0x04, 0, 0, 0, 1, 2, 3, 4 },
		  31,
		  false,
		  DEMUX_OTHER },
		{ "WG type 5",
		  { 0x05, 0, 0, 0, 1, 2, 3, 4 },
		  64,
		  false,
		  DEMUX_OTHER },
		{ "WG type 0",
		  { 0x00, 0, 0, 0, 1, 2, 3, 4 },
		  64,
		  false,
		  DEMUX_OTHER },
		{ "WG byte 3 set",
		  { 0x01, 0, 0, 1, 1, 2, 3, 4 },
		  148,
		  false,
		  DEMUX_OTHER },
		/* anything else */
		{ "empty", { 0 }, 0, false, DEMUX_OTHER },
		{ "DTLS-ish 0x16",
		  { 0x16, 0xFE, 0xFD, 0 },
		  64,
		  false,
		  DEMUX_OTHER },
		{ "RTP-ish 0x80", { 0x80, 0x60, 0, 1 }, 64, true, DEMUX_OTHER },
		{ "0xFF", { 0xFF, 0xFF, 0xFF, 0xFF }, 64, true, DEMUX_OTHER },
	};
	uint8_t pkt[1500];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum demux_kind got;

		memset(pkt, 0xAB, sizeof(pkt));
		memcpy(pkt, cases[i].head, sizeof(cases[i].head));
		got = demux_classify(pkt, cases[i].len, cases[i].from_turn);
		if (got != cases[i].want)
			fail_msg("%s: got %s, want %s", cases[i].name,
				 demux_kind_name(got),
				 demux_kind_name(cases[i].want));
	}
	assert_int_equal(demux_classify(NULL, 100, true), DEMUX_OTHER);
}

/* Every message the codec builds classifies as what it is. */
static void test_codec_output(void **state)
{
	static const uint8_t tid[12] = { 0 };
	static const uint8_t data[40] = { 0x04 };
	uint8_t buf[128];
	struct stun_builder b;
	int n;

	for (unsigned c = 0; c < 4; c++) {
		stun_builder_init(&b, buf, sizeof(buf),
				  stun_msg_type(STUN_METHOD_CHANNEL_BIND,
						(enum stun_class)c),
				  tid);
		stun_builder_add_fingerprint(&b);
		n = stun_builder_finish(&b);
		assert_int_equal(demux_classify(buf, (size_t)n, false),
				 DEMUX_STUN);
		assert_int_equal(demux_classify(buf, (size_t)n, true),
				 DEMUX_STUN);
	}
	n = stun_channeldata_encode(buf, sizeof(buf), 0x4321, data,
				    sizeof(data), false);
	assert_int_equal(demux_classify(buf, (size_t)n, true),
			 DEMUX_CHANNELDATA);
	assert_int_equal(demux_classify(buf, (size_t)n, false), DEMUX_OTHER);
	assert_string_equal(demux_kind_name(DEMUX_CHANNELDATA), "channeldata");
	assert_string_equal(demux_kind_name((enum demux_kind)99), "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_codec_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
