// SPDX-License-Identifier: MIT
/* Building STUN messages into a caller buffer (RFC 8489 §5, §14). */
#include "ice/stun.h"
#include "ice/stun_int.h"

#include <sodium.h>
#include <string.h>

enum {
	SEALED_MI = 1,
	SEALED_MI256 = 2,
	SEALED_FP = 4,
};

static int fail(struct stun_builder *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

int stun_builder_init(struct stun_builder *b, uint8_t *buf, size_t cap,
		      uint16_t type, const uint8_t tid[STUN_TID_LEN])
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	if (!buf || !tid || (type & 0xC000))
		return fail(b, -EINVAL);
	if (cap < STUN_HEADER_LEN)
		return fail(b, -ENOSPC);
	stun_wr16(buf, type);
	stun_wr16(buf + 2, 0);
	stun_wr32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HEADER_LEN;
	return 0;
}

void stun_builder_set_padding(struct stun_builder *b, uint8_t pad)
{
	b->pad = pad;
}

/* RFC 8489 §14.5-14.7: what may follow the integrity and fingerprint. */
static bool order_ok(const struct stun_builder *b, uint16_t type)
{
	if (b->sealed & SEALED_FP)
		return false;
	if (b->sealed & SEALED_MI256)
		return type == STUN_ATTR_FINGERPRINT;
	if (b->sealed & SEALED_MI)
		return type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		       type == STUN_ATTR_FINGERPRINT;
	return true;
}

/*
 * Append an attribute header for a len-byte value plus its padding, update
 * the header's length, and return where the value goes (NULL on error,
 * recorded in b->err).
 */
static uint8_t *reserve(struct stun_builder *b, uint16_t type, size_t len)
{
	size_t total;
	uint8_t *p;

	if (b->err)
		return NULL;
	if (!order_ok(b, type)) {
		fail(b, -EINVAL);
		return NULL;
	}
	if (len > 0xFFFF) {
		fail(b, -EINVAL);
		return NULL;
	}
	total = STUN_ATTR_HEADER_LEN + stun_pad4(len);
	if (total > b->cap - b->len ||
	    b->len + total - STUN_HEADER_LEN > 0xFFFF) {
		fail(b, -ENOSPC);
		return NULL;
	}
	p = b->buf + b->len;
	stun_wr16(p, type);
	stun_wr16(p + 2, (uint16_t)len);
	memset(p + STUN_ATTR_HEADER_LEN + len, b->pad, stun_pad4(len) - len);
	b->len += total;
	stun_wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
	return p + STUN_ATTR_HEADER_LEN;
}

int stun_builder_add(struct stun_builder *b, uint16_t type, const void *val,
		     size_t len)
{
	uint8_t *p;

	if (!b->err && len && !val)
		return fail(b, -EINVAL);
	p = reserve(b, type, len);
	if (!p)
		return b->err;
	if (len)
		memcpy(p, val, len);
	return 0;
}

int stun_builder_add_flag(struct stun_builder *b, uint16_t type)
{
	return stun_builder_add(b, type, NULL, 0);
}

int stun_builder_add_string(struct stun_builder *b, uint16_t type,
			    const char *s)
{
	if (!s)
		return fail(b, -EINVAL);
	return stun_builder_add(b, type, s, strlen(s));
}

int stun_builder_add_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t val[4];

	stun_wr32(val, v);
	return stun_builder_add(b, type, val, sizeof(val));
}

int stun_builder_add_u64(struct stun_builder *b, uint16_t type, uint64_t v)
{
	uint8_t val[8];

	stun_wr32(val, (uint32_t)(v >> 32));
	stun_wr32(val + 4, (uint32_t)v);
	return stun_builder_add(b, type, val, sizeof(val));
}

static int add_addr(struct stun_builder *b, uint16_t type,
		    const union sockaddr_any *addr, bool xor)
{
	uint8_t val[20], mask[16];
	const uint8_t *ip;
	uint16_t port;
	size_t n;

	if (!addr)
		return fail(b, -EINVAL);
	if (addr->sa.sa_family == AF_INET) {
		n = 4;
		ip = (const uint8_t *)&addr->in4.sin_addr;
	} else if (addr->sa.sa_family == AF_INET6) {
		n = 16;
		ip = (const uint8_t *)&addr->in6.sin6_addr;
	} else {
		return fail(b, -EAFNOSUPPORT);
	}
	port = addr_port(addr);
	stun_wr32(mask, STUN_MAGIC_COOKIE);
	if (b->len >= STUN_HEADER_LEN)
		memcpy(mask + 4, b->buf + 8, STUN_TID_LEN);
	val[0] = 0;
	val[1] = n == 4 ? STUN_FAMILY_IPV4 : STUN_FAMILY_IPV6;
	stun_wr16(val + 2,
		  xor? port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16) : port);
	for (size_t i = 0; i < n; i++)
		val[4 + i] = xor? ip[i] ^ mask[i] : ip[i];
	return stun_builder_add(b, type, val, 4 + n);
}

int stun_builder_add_addr(struct stun_builder *b, uint16_t type,
			  const union sockaddr_any *addr)
{
	return add_addr(b, type, addr, false);
}

int stun_builder_add_xor_addr(struct stun_builder *b, uint16_t type,
			      const union sockaddr_any *addr)
{
	return add_addr(b, type, addr, true);
}

int stun_builder_add_error(struct stun_builder *b, int code, const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;
	uint8_t *p;

	/* class 3..6 and number 0..99, RFC 8489 §14.8 */
	if (code < 300 || code > 699 || rlen > STUN_TEXT_MAX)
		return fail(b, -EINVAL);
	p = reserve(b, STUN_ATTR_ERROR_CODE, 4 + rlen);
	if (!p)
		return b->err;
	p[0] = 0;
	p[1] = 0;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	if (rlen)
		memcpy(p + 4, reason, rlen);
	return 0;
}

int stun_builder_add_unknown_attrs(struct stun_builder *b,
				   const uint16_t *types, size_t n)
{
	uint8_t *p;

	if ((n && !types) || n > 0xFFFF / 2)
		return fail(b, -EINVAL);
	p = reserve(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
	if (!p)
		return b->err;
	for (size_t i = 0; i < n; i++)
		stun_wr16(p + 2 * i, types[i]);
	return 0;
}

int stun_builder_add_channel_number(struct stun_builder *b, uint16_t channel)
{
	if (channel < STUN_CHANNEL_MIN || channel > STUN_CHANNEL_MAX)
		return fail(b, -EINVAL);
	/* channel number, then 16 bits RFFU, RFC 8656 §18.1 */
	return stun_builder_add_u32(b, STUN_ATTR_CHANNEL_NUMBER,
				    (uint32_t)channel << 16);
}

int stun_builder_add_requested_transport(struct stun_builder *b,
					 uint8_t protocol)
{
	/* protocol, then 24 bits RFFU, RFC 8656 §18.8 */
	return stun_builder_add_u32(b, STUN_ATTR_REQUESTED_TRANSPORT,
				    (uint32_t)protocol << 24);
}

int stun_builder_add_requested_family(struct stun_builder *b, int family)
{
	uint32_t v;

	/* family, then 24 bits RFFU, RFC 8656 §18.6 */
	if (family == AF_INET)
		v = (uint32_t)STUN_FAMILY_IPV4 << 24;
	else if (family == AF_INET6)
		v = (uint32_t)STUN_FAMILY_IPV6 << 24;
	else
		return fail(b, -EAFNOSUPPORT);
	return stun_builder_add_u32(b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, v);
}

int stun_builder_add_even_port(struct stun_builder *b, bool reserve_next)
{
	uint8_t v = reserve_next ? 0x80 : 0x00; /* R bit, RFC 8656 §18.7 */

	return stun_builder_add(b, STUN_ATTR_EVEN_PORT, &v, 1);
}

/* Room for n algorithm entries, the last one's padding excluded. */
static int algs_len(const struct stun_password_alg *algs, size_t n, size_t *len)
{
	size_t total = 0;

	if (!algs || n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (algs[i].params_len && !algs[i].params)
			return -EINVAL;
		total += 4 + (i + 1 < n ? stun_pad4(algs[i].params_len)
					: algs[i].params_len);
		if (total > 0xFFFF)
			return -EINVAL;
	}
	*len = total;
	return 0;
}

static int add_algs(struct stun_builder *b, uint16_t type,
		    const struct stun_password_alg *algs, size_t n)
{
	size_t len = 0, pos = 0;
	uint8_t *p;
	int rc;

	rc = algs_len(algs, n, &len);
	if (rc)
		return fail(b, rc);
	p = reserve(b, type, len);
	if (!p)
		return b->err;
	for (size_t i = 0; i < n; i++) {
		size_t plen = algs[i].params_len;

		stun_wr16(p + pos, algs[i].alg);
		stun_wr16(p + pos + 2, (uint16_t)plen);
		if (plen)
			memcpy(p + pos + 4, algs[i].params, plen);
		pos += 4 + plen;
		if (i + 1 < n) {
			memset(p + pos, 0, stun_pad4(plen) - plen);
			pos += stun_pad4(plen) - plen;
		}
	}
	return 0;
}

int stun_builder_add_password_algorithm(struct stun_builder *b,
					const struct stun_password_alg *alg)
{
	return add_algs(b, STUN_ATTR_PASSWORD_ALGORITHM, alg, 1);
}

int stun_builder_add_password_algorithms(struct stun_builder *b,
					 const struct stun_password_alg *algs,
					 size_t n)
{
	return add_algs(b, STUN_ATTR_PASSWORD_ALGORITHMS, algs, n);
}

/*
 * Append an HMAC attribute: reserved first, so that the header length
 * already covers it, then computed over everything before it (§14.5).
 */
static int add_mac(struct stun_builder *b, uint16_t type, const char *digest,
		   size_t maclen, unsigned seal, const uint8_t *key,
		   size_t keylen)
{
	uint8_t mac[STUN_HMAC_SHA256_LEN];
	size_t outlen = 0;
	uint8_t *p;
	int rc;

	if (!b->err && !key && keylen)
		return fail(b, -EINVAL);
	p = reserve(b, type, maclen);
	if (!p)
		return b->err;
	rc = stun_hmac(digest, key, keylen, b->buf, STUN_HEADER_LEN,
		       b->buf + STUN_HEADER_LEN,
		       (size_t)(p - STUN_ATTR_HEADER_LEN - b->buf) -
			       STUN_HEADER_LEN,
		       mac, &outlen);
	if (!rc && outlen < maclen)
		rc = -EIO;
	if (rc) {
		sodium_memzero(mac, sizeof(mac));
		return fail(b, rc);
	}
	memcpy(p, mac, maclen);
	sodium_memzero(mac, sizeof(mac));
	b->sealed |= (uint8_t)seal;
	return 0;
}

int stun_builder_add_message_integrity(struct stun_builder *b,
				       const uint8_t *key, size_t keylen)
{
	return add_mac(b, STUN_ATTR_MESSAGE_INTEGRITY, "SHA1",
		       STUN_HMAC_SHA1_LEN, SEALED_MI, key, keylen);
}

int stun_builder_add_message_integrity_sha256(struct stun_builder *b,
					      const uint8_t *key, size_t keylen)
{
	return add_mac(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256",
		       STUN_HMAC_SHA256_LEN, SEALED_MI256, key, keylen);
}

int stun_builder_add_fingerprint(struct stun_builder *b)
{
	uint8_t *p = reserve(b, STUN_ATTR_FINGERPRINT, 4);

	if (!p)
		return b->err;
	stun_wr32(p,
		  stun_fingerprint(
			  b->buf, (size_t)(p - STUN_ATTR_HEADER_LEN - b->buf)));
	b->sealed |= SEALED_FP;
	return 0;
}

int stun_builder_finish(struct stun_builder *b)
{
	if (b->err)
		return b->err;
	return (int)b->len;
}
