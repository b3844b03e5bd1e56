// SPDX-License-Identifier: MIT
/*
 * STUN parsing and attribute getters (RFC 8489, RFC 8445, RFC 8656).
 * Building is in stun_build.c, integrity and keys in stun_crypto.c,
 * ChannelData in stun_channeldata.c.
 */
#include "ice/stun.h"
#include "ice/stun_int.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ types */

uint16_t stun_msg_type(uint16_t method, enum stun_class cls)
{
	/* M11..M7 C1 M6..M4 C0 M3..M0, RFC 8489 §5 figure 3 */
	unsigned c = (unsigned)cls;

	return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
			  ((method & 0x0F80) << 2) | ((c & 1) << 4) |
			  ((c & 2) << 7));
}

uint16_t stun_type_method(uint16_t type)
{
	return (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) |
			  ((type & 0x3E00) >> 2));
}

enum stun_class stun_type_class(uint16_t type)
{
	return (enum stun_class)(((type >> 4) & 1) | ((type >> 7) & 2));
}

/* ------------------------------------------------------------ framing */

bool stun_is_message(const uint8_t *buf, size_t len)
{
	size_t mlen;

	if (!buf || len < STUN_HEADER_LEN || (buf[0] & 0xC0))
		return false;
	if (stun_rd32(buf + 4) != STUN_MAGIC_COOKIE)
		return false;
	mlen = stun_rd16(buf + 2);
	return mlen % 4 == 0 && len == STUN_HEADER_LEN + mlen;
}

long stun_stream_frame_len(const uint8_t *buf, size_t len)
{
	if (!buf || len < 4)
		return -EAGAIN;
	/* STUN: top bits 00; ChannelData: 01 (RFC 8656 §12) */
	if ((buf[0] & 0xC0) == 0x00)
		return STUN_HEADER_LEN + (long)stun_rd16(buf + 2);
	if ((buf[0] & 0xC0) == 0x40)
		return STUN_CHANNELDATA_HEADER_LEN +
		       (long)stun_pad4(stun_rd16(buf + 2));
	return -EINVAL;
}

/* ------------------------------------------------------------ parsing */

static bool attr_known(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_USERNAME:
	case STUN_ATTR_MESSAGE_INTEGRITY:
	case STUN_ATTR_ERROR_CODE:
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
	case STUN_ATTR_CHANNEL_NUMBER:
	case STUN_ATTR_LIFETIME:
	case STUN_ATTR_XOR_PEER_ADDRESS:
	case STUN_ATTR_DATA:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_XOR_RELAYED_ADDRESS:
	case STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
	case STUN_ATTR_EVEN_PORT:
	case STUN_ATTR_REQUESTED_TRANSPORT:
	case STUN_ATTR_DONT_FRAGMENT:
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
	case STUN_ATTR_PASSWORD_ALGORITHM:
	case STUN_ATTR_USERHASH:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case STUN_ATTR_RESERVATION_TOKEN:
	case STUN_ATTR_PRIORITY:
	case STUN_ATTR_USE_CANDIDATE:
	case STUN_ATTR_PASSWORD_ALGORITHMS:
	case STUN_ATTR_ALTERNATE_DOMAIN:
	case STUN_ATTR_SOFTWARE:
	case STUN_ATTR_ALTERNATE_SERVER:
	case STUN_ATTR_FINGERPRINT:
	case STUN_ATTR_ICE_CONTROLLED:
	case STUN_ATTR_ICE_CONTROLLING:
		return true;
	default:
		return false;
	}
}

/* (XOR-)MAPPED-ADDRESS layout: 0, family, port, 4 or 16 address bytes. */
static bool addr_value_ok(const uint8_t *v, size_t len)
{
	if (len < 4)
		return false;
	return (v[1] == STUN_FAMILY_IPV4 && len == 8) ||
	       (v[1] == STUN_FAMILY_IPV6 && len == 20);
}

/*
 * PASSWORD-ALGORITHMS is a list of (algorithm, params length, params padded
 * to 4); PASSWORD-ALGORITHM one such entry, whose last padding may be the
 * attribute's own (RFC 8489 §14.11, §14.12). Returns the entry count or -1.
 */
static int password_algs_walk(const uint8_t *v, size_t len,
			      struct stun_password_alg *out, size_t cap)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		size_t plen;

		if (len - pos < 4)
			return -1;
		plen = stun_rd16(v + pos + 2);
		if (plen > len - pos - 4)
			return -1;
		if (out && (size_t)n < cap) {
			out[n].alg = stun_rd16(v + pos);
			out[n].params_len = (uint16_t)plen;
			out[n].params = plen ? v + pos + 4 : NULL;
		}
		n++;
		pos += 4 + stun_pad4(plen);
	}
	return n;
}

static bool value_ok(uint16_t type, const uint8_t *v, size_t len)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case STUN_ATTR_XOR_PEER_ADDRESS:
	case STUN_ATTR_XOR_RELAYED_ADDRESS:
	case STUN_ATTR_ALTERNATE_SERVER:
		return addr_value_ok(v, len);
	case STUN_ATTR_USERNAME:
		return len <= STUN_USERNAME_MAX;
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_SOFTWARE:
	case STUN_ATTR_ALTERNATE_DOMAIN:
		return len <= STUN_TEXT_MAX;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		return len == STUN_HMAC_SHA1_LEN;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		/* 16 to 32 bytes, a multiple of 4, RFC 8489 §14.6 */
		return len >= STUN_HMAC_SHA256_MIN_LEN &&
		       len <= STUN_HMAC_SHA256_LEN && len % 4 == 0;
	case STUN_ATTR_ERROR_CODE:
		/* class 3..6, number 0..99, RFC 8489 §14.8 */
		return len >= 4 && len - 4 <= STUN_TEXT_MAX &&
		       (v[2] & 7) >= 3 && (v[2] & 7) <= 6 && v[3] <= 99;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		return len % 2 == 0;
	case STUN_ATTR_FINGERPRINT:
	case STUN_ATTR_CHANNEL_NUMBER:
	case STUN_ATTR_LIFETIME:
	case STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
	case STUN_ATTR_REQUESTED_TRANSPORT:
	case STUN_ATTR_PRIORITY:
		return len == 4;
	case STUN_ATTR_ICE_CONTROLLED:
	case STUN_ATTR_ICE_CONTROLLING:
	case STUN_ATTR_RESERVATION_TOKEN:
		return len == 8;
	case STUN_ATTR_EVEN_PORT:
		return len == 1;
	case STUN_ATTR_DONT_FRAGMENT:
	case STUN_ATTR_USE_CANDIDATE:
		return len == 0;
	case STUN_ATTR_USERHASH:
		return len == STUN_USERHASH_LEN;
	case STUN_ATTR_PASSWORD_ALGORITHM:
		return len >= 4 && password_algs_walk(v, len, NULL, 0) == 1;
	case STUN_ATTR_PASSWORD_ALGORITHMS:
		return len >= 4 && password_algs_walk(v, len, NULL, 0) >= 1;
	default: /* DATA, and types we do not know: any value */
		return true;
	}
}

/* RFC 8489 §14.5-14.7: what may follow the integrity and fingerprint. */
static bool placement_ok(const struct stun_msg *m, uint16_t type)
{
	if (m->fp_off)
		return false;
	if (m->mi256_off)
		return type == STUN_ATTR_FINGERPRINT;
	if (m->mi_off)
		return type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		       type == STUN_ATTR_FINGERPRINT;
	return true;
}

static bool seen(const struct stun_msg *m, uint16_t type)
{
	for (size_t i = 0; i < m->attr_count; i++)
		if (m->attrs[i].type == type)
			return true;
	return false;
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
	for (size_t i = 0; i < m->unknown_count; i++)
		if (m->unknown[i] == type)
			return;
	if (m->unknown_count < STUN_MAX_UNKNOWN)
		m->unknown[m->unknown_count++] = type;
}

/* One attribute at m->buf + off; *next set to the following one. */
static int parse_attr(struct stun_msg *m, uint32_t off, uint32_t *next)
{
	const uint8_t *p = m->buf + off;
	size_t room = m->len - off;
	uint16_t type, alen;

	if (room < STUN_ATTR_HEADER_LEN)
		return -STUN_EOVERRUN;
	type = stun_rd16(p);
	alen = stun_rd16(p + 2);
	if (alen > room - STUN_ATTR_HEADER_LEN)
		return -STUN_EOVERRUN;
	/* cannot happen with a 4-aligned length, but never trust that */
	if (stun_pad4(alen) > room - STUN_ATTR_HEADER_LEN)
		return -STUN_EBADLEN;
	if (!placement_ok(m, type))
		return -STUN_EMISPLACED;
	if (attr_known(type)) {
		if (type != STUN_ATTR_XOR_PEER_ADDRESS && seen(m, type))
			return -STUN_EDUP;
		if (!value_ok(type, p + STUN_ATTR_HEADER_LEN, alen)) {
			m->bad_attr = type;
			return -STUN_EBADATTR;
		}
	} else if (type < 0x8000) {
		note_unknown(m, type);
	}
	if (m->attr_count == STUN_MAX_ATTRS)
		return -STUN_ETOOMANY;
	m->attrs[m->attr_count].type = type;
	m->attrs[m->attr_count].len = alen;
	m->attrs[m->attr_count].offset = off + STUN_ATTR_HEADER_LEN;
	m->attr_count++;
	if (type == STUN_ATTR_MESSAGE_INTEGRITY)
		m->mi_off = off;
	else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
		m->mi256_off = off;
	else if (type == STUN_ATTR_FINGERPRINT)
		m->fp_off = off;
	*next = off + STUN_ATTR_HEADER_LEN + (uint32_t)stun_pad4(alen);
	return 0;
}

static int parse_header(const uint8_t *buf, size_t len)
{
	size_t mlen;

	if (!buf || len < STUN_HEADER_LEN)
		return -STUN_ETRUNC;
	if ((buf[0] & 0xC0) || stun_rd32(buf + 4) != STUN_MAGIC_COOKIE)
		return -STUN_ENOTSTUN;
	mlen = stun_rd16(buf + 2);
	if (mlen % 4)
		return -STUN_EBADLEN;
	if (len < STUN_HEADER_LEN + mlen)
		return -STUN_ETRUNC;
	if (len > STUN_HEADER_LEN + mlen)
		return -STUN_EBADLEN;
	return 0;
}

int stun_msg_parse(struct stun_msg *out, const uint8_t *buf, size_t len)
{
	struct stun_msg m;
	uint32_t off = STUN_HEADER_LEN;
	int rc;

	rc = parse_header(buf, len);
	if (rc)
		return rc;
	memset(&m, 0, sizeof(m));
	m.buf = buf;
	m.len = len;
	m.type = stun_rd16(buf);
	m.method = stun_type_method(m.type);
	m.cls = (uint8_t)stun_type_class(m.type);
	memcpy(m.tid, buf + 8, STUN_TID_LEN);
	while (off < len) {
		rc = parse_attr(&m, off, &off);
		if (rc == -STUN_EBADATTR)
			out->bad_attr = m.bad_attr;
		if (rc)
			return rc;
	}
	if (m.fp_off && stun_rd32(buf + m.fp_off + STUN_ATTR_HEADER_LEN) !=
				stun_fingerprint(buf, m.fp_off))
		return -STUN_EFINGERPRINT;
	*out = m;
	return m.unknown_count ? -STUN_EUNKNOWN : 0;
}

/* ------------------------------------------------------------ getters */

const struct stun_attr *stun_msg_find(const struct stun_msg *msg, uint16_t type)
{
	for (size_t i = 0; i < msg->attr_count; i++)
		if (msg->attrs[i].type == type)
			return &msg->attrs[i];
	return NULL;
}

const struct stun_attr *stun_msg_find_next(const struct stun_msg *msg,
					   const struct stun_attr *prev)
{
	const struct stun_attr *end = msg->attrs + msg->attr_count;

	if (!prev || prev < msg->attrs || prev >= end)
		return NULL;
	for (const struct stun_attr *a = prev + 1; a < end; a++)
		if (a->type == prev->type)
			return a;
	return NULL;
}

bool stun_msg_has(const struct stun_msg *msg, uint16_t type)
{
	return stun_msg_find(msg, type) != NULL;
}

const uint8_t *stun_attr_value(const struct stun_msg *msg,
			       const struct stun_attr *attr)
{
	return msg->buf + attr->offset;
}

int stun_msg_get_bytes(const struct stun_msg *msg, uint16_t type,
		       const uint8_t **val, size_t *len)
{
	const struct stun_attr *a = stun_msg_find(msg, type);

	if (!a)
		return -ENOENT;
	*val = stun_attr_value(msg, a);
	*len = a->len;
	return 0;
}

int stun_msg_get_string(const struct stun_msg *msg, uint16_t type, char *out,
			size_t outlen)
{
	const uint8_t *v;
	size_t len;
	int rc;

	rc = stun_msg_get_bytes(msg, type, &v, &len);
	if (rc)
		return rc;
	if (memchr(v, 0, len))
		return -EINVAL;
	if (len >= outlen)
		return -ENOSPC;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* Decode an address value, xor-ed with cookie and tid when xor is set. */
static int decode_addr(const struct stun_msg *msg, const struct stun_attr *a,
		       bool xor, union sockaddr_any *out)
{
	const uint8_t *v = stun_attr_value(msg, a);
	uint8_t ip[16], mask[16];
	uint16_t port;
	size_t n;

	if (!addr_value_ok(v, a->len))
		return -EINVAL;
	n = v[1] == STUN_FAMILY_IPV4 ? 4 : 16;
	stun_wr32(mask, STUN_MAGIC_COOKIE);
	memcpy(mask + 4, msg->tid, STUN_TID_LEN);
	port = stun_rd16(v + 2);
	if (xor)
		port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	for (size_t i = 0; i < n; i++)
		ip[i] = xor? v[4 + i] ^ mask[i] : v[4 + i];
	return addr_from_bytes(out, n == 4 ? AF_INET : AF_INET6, ip, port);
}

int stun_attr_get_addr(const struct stun_msg *msg, const struct stun_attr *attr,
		       union sockaddr_any *out)
{
	return decode_addr(msg, attr, false, out);
}

int stun_attr_get_xor_addr(const struct stun_msg *msg,
			   const struct stun_attr *attr,
			   union sockaddr_any *out)
{
	return decode_addr(msg, attr, true, out);
}

int stun_msg_get_addr(const struct stun_msg *msg, uint16_t type,
		      union sockaddr_any *out)
{
	const struct stun_attr *a = stun_msg_find(msg, type);

	return a ? decode_addr(msg, a, false, out) : -ENOENT;
}

int stun_msg_get_xor_addr(const struct stun_msg *msg, uint16_t type,
			  union sockaddr_any *out)
{
	const struct stun_attr *a = stun_msg_find(msg, type);

	return a ? decode_addr(msg, a, true, out) : -ENOENT;
}

/* The value of the first attribute of type, if it is exactly len bytes. */
static int fixed(const struct stun_msg *msg, uint16_t type, size_t len,
		 const uint8_t **v)
{
	const struct stun_attr *a = stun_msg_find(msg, type);

	if (!a)
		return -ENOENT;
	if (a->len != len)
		return -EINVAL;
	*v = stun_attr_value(msg, a);
	return 0;
}

int stun_msg_get_u32(const struct stun_msg *msg, uint16_t type, uint32_t *out)
{
	const uint8_t *v;
	int rc = fixed(msg, type, 4, &v);

	if (rc)
		return rc;
	*out = stun_rd32(v);
	return 0;
}

int stun_msg_get_u64(const struct stun_msg *msg, uint16_t type, uint64_t *out)
{
	const uint8_t *v;
	int rc = fixed(msg, type, 8, &v);

	if (rc)
		return rc;
	*out = (uint64_t)stun_rd32(v) << 32 | stun_rd32(v + 4);
	return 0;
}

int stun_msg_get_error(const struct stun_msg *msg, int *code,
		       const char **reason, size_t *reason_len)
{
	const struct stun_attr *a = stun_msg_find(msg, STUN_ATTR_ERROR_CODE);
	const uint8_t *v;

	if (!a)
		return -ENOENT;
	v = stun_attr_value(msg, a);
	if (a->len < 4)
		return -EINVAL;
	*code = (v[2] & 7) * 100 + v[3];
	if (reason)
		*reason = (const char *)v + 4;
	if (reason_len)
		*reason_len = a->len - 4u;
	return 0;
}

int stun_msg_get_unknown_attrs(const struct stun_msg *msg, uint16_t *types,
			       size_t cap, size_t *n)
{
	const struct stun_attr *a =
		stun_msg_find(msg, STUN_ATTR_UNKNOWN_ATTRIBUTES);
	const uint8_t *v;

	if (!a)
		return -ENOENT;
	if (a->len % 2)
		return -EINVAL;
	v = stun_attr_value(msg, a);
	for (size_t i = 0; i < a->len / 2u && i < cap; i++)
		types[i] = stun_rd16(v + 2 * i);
	*n = a->len / 2u;
	return 0;
}

int stun_msg_get_channel_number(const struct stun_msg *msg, uint16_t *channel)
{
	const uint8_t *v;
	uint16_t ch;
	int rc = fixed(msg, STUN_ATTR_CHANNEL_NUMBER, 4, &v);

	if (rc)
		return rc;
	ch = stun_rd16(v);
	if (ch < STUN_CHANNEL_MIN || ch > STUN_CHANNEL_MAX)
		return -ERANGE;
	*channel = ch;
	return 0;
}

int stun_msg_get_requested_transport(const struct stun_msg *msg,
				     uint8_t *protocol)
{
	const uint8_t *v;
	int rc = fixed(msg, STUN_ATTR_REQUESTED_TRANSPORT, 4, &v);

	if (rc)
		return rc;
	*protocol = v[0];
	return 0;
}

int stun_msg_get_requested_family(const struct stun_msg *msg, int *family)
{
	const uint8_t *v;
	int rc = fixed(msg, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, 4, &v);

	if (rc)
		return rc;
	if (v[0] == STUN_FAMILY_IPV4)
		*family = AF_INET;
	else if (v[0] == STUN_FAMILY_IPV6)
		*family = AF_INET6;
	else
		return -EAFNOSUPPORT;
	return 0;
}

int stun_msg_get_even_port(const struct stun_msg *msg, bool *reserve)
{
	const uint8_t *v;
	int rc = fixed(msg, STUN_ATTR_EVEN_PORT, 1, &v);

	if (rc)
		return rc;
	*reserve = (v[0] & 0x80) != 0;
	return 0;
}

int stun_msg_get_password_algorithm(const struct stun_msg *msg,
				    struct stun_password_alg *out)
{
	const struct stun_attr *a =
		stun_msg_find(msg, STUN_ATTR_PASSWORD_ALGORITHM);
	struct stun_password_alg alg;

	if (!a)
		return -ENOENT;
	if (password_algs_walk(stun_attr_value(msg, a), a->len, &alg, 1) != 1)
		return -EINVAL;
	*out = alg;
	return 0;
}

int stun_msg_get_password_algorithms(const struct stun_msg *msg,
				     struct stun_password_alg *out, size_t cap,
				     size_t *n)
{
	const struct stun_attr *a =
		stun_msg_find(msg, STUN_ATTR_PASSWORD_ALGORITHMS);
	int count;

	if (!a)
		return -ENOENT;
	count = password_algs_walk(stun_attr_value(msg, a), a->len, out, cap);
	if (count < 1)
		return -EINVAL;
	*n = (size_t)count;
	return 0;
}

/* ------------------------------------------------------------ words */

const char *stun_attr_name(uint16_t type, char *buf, size_t len)
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {
		{ STUN_ATTR_MAPPED_ADDRESS, "MAPPED-ADDRESS" },
		{ STUN_ATTR_USERNAME, "USERNAME" },
		{ STUN_ATTR_MESSAGE_INTEGRITY, "MESSAGE-INTEGRITY" },
		{ STUN_ATTR_ERROR_CODE, "ERROR-CODE" },
		{ STUN_ATTR_UNKNOWN_ATTRIBUTES, "UNKNOWN-ATTRIBUTES" },
		{ STUN_ATTR_CHANNEL_NUMBER, "CHANNEL-NUMBER" },
		{ STUN_ATTR_LIFETIME, "LIFETIME" },
		{ STUN_ATTR_XOR_PEER_ADDRESS, "XOR-PEER-ADDRESS" },
		{ STUN_ATTR_DATA, "DATA" },
		{ STUN_ATTR_REALM, "REALM" },
		{ STUN_ATTR_NONCE, "NONCE" },
		{ STUN_ATTR_XOR_RELAYED_ADDRESS, "XOR-RELAYED-ADDRESS" },
		{ STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
		  "REQUESTED-ADDRESS-FAMILY" },
		{ STUN_ATTR_EVEN_PORT, "EVEN-PORT" },
		{ STUN_ATTR_REQUESTED_TRANSPORT, "REQUESTED-TRANSPORT" },
		{ STUN_ATTR_DONT_FRAGMENT, "DONT-FRAGMENT" },
		{ STUN_ATTR_MESSAGE_INTEGRITY_SHA256,
		  "MESSAGE-INTEGRITY-SHA256" },
		{ STUN_ATTR_PASSWORD_ALGORITHM, "PASSWORD-ALGORITHM" },
		{ STUN_ATTR_USERHASH, "USERHASH" },
		{ STUN_ATTR_XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS" },
		{ STUN_ATTR_RESERVATION_TOKEN, "RESERVATION-TOKEN" },
		{ STUN_ATTR_PRIORITY, "PRIORITY" },
		{ STUN_ATTR_USE_CANDIDATE, "USE-CANDIDATE" },
		{ STUN_ATTR_PASSWORD_ALGORITHMS, "PASSWORD-ALGORITHMS" },
		{ STUN_ATTR_ALTERNATE_DOMAIN, "ALTERNATE-DOMAIN" },
		{ STUN_ATTR_SOFTWARE, "SOFTWARE" },
		{ STUN_ATTR_ALTERNATE_SERVER, "ALTERNATE-SERVER" },
		{ STUN_ATTR_FINGERPRINT, "FINGERPRINT" },
		{ STUN_ATTR_ICE_CONTROLLED, "ICE-CONTROLLED" },
		{ STUN_ATTR_ICE_CONTROLLING, "ICE-CONTROLLING" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	if (buf && len)
		snprintf(buf, len, "0x%04X", type);
	return buf ? buf : "unknown";
}

const char *stun_method_name(uint16_t method)
{
	switch (method) {
	case STUN_METHOD_BINDING:
		return "Binding";
	case STUN_METHOD_ALLOCATE:
		return "Allocate";
	case STUN_METHOD_REFRESH:
		return "Refresh";
	case STUN_METHOD_SEND:
		return "Send";
	case STUN_METHOD_DATA:
		return "Data";
	case STUN_METHOD_CREATE_PERMISSION:
		return "CreatePermission";
	case STUN_METHOD_CHANNEL_BIND:
		return "ChannelBind";
	default:
		return "unknown";
	}
}

const char *stun_class_name(enum stun_class cls)
{
	switch (cls) {
	case STUN_CLASS_REQUEST:
		return "request";
	case STUN_CLASS_INDICATION:
		return "indication";
	case STUN_CLASS_SUCCESS:
		return "success response";
	case STUN_CLASS_ERROR:
		return "error response";
	}
	return "unknown";
}

const char *stun_strerror(int err)
{
	switch (-err) {
	case 0:
		return "ok";
	case STUN_ENOTSTUN:
		return "not a STUN message";
	case STUN_ETRUNC:
		return "truncated message";
	case STUN_EBADLEN:
		return "bad message length";
	case STUN_EOVERRUN:
		return "attribute overruns the message";
	case STUN_EBADATTR:
		return "malformed attribute value";
	case STUN_EDUP:
		return "repeated attribute";
	case STUN_EUNKNOWN:
		return "unknown comprehension-required attribute";
	case STUN_EMISPLACED:
		return "attribute after MESSAGE-INTEGRITY or FINGERPRINT";
	case STUN_EFINGERPRINT:
		return "bad FINGERPRINT";
	case STUN_ETOOMANY:
		return "too many attributes";
	case ENOENT:
		return "attribute absent";
	case EACCES:
		return "integrity check failed";
	case ENOSPC:
		return "no room in the buffer";
	case EINVAL:
		return "invalid argument or value";
	case ERANGE:
		return "value out of range";
	case EAFNOSUPPORT:
		return "address family not supported";
	default:
		return "error";
	}
}
