// SPDX-License-Identifier: MIT
#include "ice/demux.h"

static bool is_stun(const uint8_t *p, size_t len)
{
	/* byte 0 in 0x00-0x03 (RFC 7983 §7) and the magic cookie (RFC 8489 §5) */
	return len >= DEMUX_STUN_MIN_LEN && p[0] <= 0x03 && p[4] == 0x21 &&
	       p[5] == 0x12 && p[6] == 0xA4 && p[7] == 0x42;
}

static bool is_channeldata(const uint8_t *p, size_t len)
{
	/* channel numbers 0x4000-0x4FFF, RFC 8656 §12 */
	return len >= DEMUX_CHANNELDATA_MIN_LEN && p[0] >= 0x40 && p[0] <= 0x4F;
}

static bool is_wireguard(const uint8_t *p, size_t len)
{
	/* message types 1-4 as a little-endian 32-bit word, WireGuard §5.4 */
	return len >= DEMUX_WIREGUARD_MIN_LEN && p[0] >= 0x01 && p[0] <= 0x04 &&
	       p[1] == 0 && p[2] == 0 && p[3] == 0;
}

enum demux_kind demux_classify(const uint8_t *p, size_t len,
			       bool from_turn_server)
{
	if (!p)
		return DEMUX_OTHER;
	if (is_stun(p, len))
		return DEMUX_STUN;
	if (from_turn_server && is_channeldata(p, len))
		return DEMUX_CHANNELDATA;
	if (is_wireguard(p, len))
		return DEMUX_WIREGUARD;
	return DEMUX_OTHER;
}

const char *demux_kind_name(enum demux_kind kind)
{
	switch (kind) {
	case DEMUX_STUN:
		return "stun";
	case DEMUX_CHANNELDATA:
		return "channeldata";
	case DEMUX_WIREGUARD:
		return "wireguard";
	case DEMUX_OTHER:
		break;
	}
	return "other";
}
