// SPDX-License-Identifier: MIT
/* TURN ChannelData framing, RFC 8656 §12.4 and §12.5. */
#include "ice/stun.h"
#include "ice/stun_int.h"

#include <string.h>

int stun_channeldata_encode(uint8_t *out, size_t cap, uint16_t channel,
			    const uint8_t *data, size_t len, bool pad)
{
	size_t total;

	if (channel < STUN_CHANNEL_MIN || channel > STUN_CHANNEL_MAX ||
	    len > 0xFFFF || (len && !data) || !out)
		return -EINVAL;
	/* the length field counts the data alone, never the padding */
	total = STUN_CHANNELDATA_HEADER_LEN + (pad ? stun_pad4(len) : len);
	if (total > cap)
		return -ENOSPC;
	stun_wr16(out, channel);
	stun_wr16(out + 2, (uint16_t)len);
	if (len)
		memmove(out + STUN_CHANNELDATA_HEADER_LEN, data, len);
	memset(out + STUN_CHANNELDATA_HEADER_LEN + len, 0,
	       total - STUN_CHANNELDATA_HEADER_LEN - len);
	return (int)total;
}

int stun_channeldata_decode(const uint8_t *buf, size_t len, uint16_t *channel,
			    const uint8_t **data, size_t *data_len)
{
	uint16_t ch, dlen;

	if (!buf || len < STUN_CHANNELDATA_HEADER_LEN)
		return -ENODATA;
	ch = stun_rd16(buf);
	dlen = stun_rd16(buf + 2);
	if (ch < STUN_CHANNEL_MIN || ch > STUN_CHANNEL_MAX)
		return -EINVAL;
	/*
	 * Over UDP the padding may be missing (§12.5); a datagram shorter
	 * than the length field says is dropped.
	 */
	if (dlen > len - STUN_CHANNELDATA_HEADER_LEN)
		return -ENODATA;
	*channel = ch;
	*data = buf + STUN_CHANNELDATA_HEADER_LEN;
	*data_len = dlen;
	return 0;
}
