// SPDX-License-Identifier: MIT
#include "wireguard/messages.h"

#include <errno.h>

int wg_msg_parse(const uint8_t *buf, size_t len, struct wg_msg *out)
{
	struct wg_msg m = { 0 };

	if (len < 4 || buf[1] || buf[2] || buf[3])
		return -EBADMSG;
	m.type = buf[0];
	m.len = len;
	switch (buf[0]) {
	case WG_MSG_INITIATION:
		if (len != sizeof(struct wg_msg_initiation))
			return -EBADMSG;
		m.u.init = (const struct wg_msg_initiation *)buf;
		m.sender = wg_get_le32(m.u.init->sender);
		break;
	case WG_MSG_RESPONSE:
		if (len != sizeof(struct wg_msg_response))
			return -EBADMSG;
		m.u.resp = (const struct wg_msg_response *)buf;
		m.sender = wg_get_le32(m.u.resp->sender);
		m.receiver = wg_get_le32(m.u.resp->receiver);
		break;
	case WG_MSG_COOKIE:
		if (len != sizeof(struct wg_msg_cookie))
			return -EBADMSG;
		m.u.cookie = (const struct wg_msg_cookie *)buf;
		m.receiver = wg_get_le32(m.u.cookie->receiver);
		break;
	case WG_MSG_DATA:
		if (len < WG_DATA_OVERHEAD)
			return -EBADMSG;
		m.u.data = (const struct wg_msg_data *)buf;
		m.receiver = wg_get_le32(m.u.data->receiver);
		m.counter = wg_get_le64(m.u.data->counter);
		m.payload_len = len - WG_DATA_HEADER_LEN;
		break;
	default:
		return -EBADMSG;
	}
	*out = m;
	return 0;
}

size_t wg_msg_data_len(size_t plaintext_len)
{
	size_t padded =
		(plaintext_len + WG_DATA_PAD - 1) & ~(size_t)(WG_DATA_PAD - 1);

	return WG_DATA_OVERHEAD + padded;
}
