/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the stun*.c files; not part of the STUN API (stun.h).
 */
#ifndef ICEMESH_ICE_STUN_INT_H
#define ICEMESH_ICE_STUN_INT_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t stun_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t stun_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void stun_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void stun_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline size_t stun_pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Address family octets of (XOR-)MAPPED-ADDRESS, RFC 8489 §14.1. */
enum { STUN_FAMILY_IPV4 = 0x01, STUN_FAMILY_IPV6 = 0x02 };

/*
 * HMAC with digest "SHA1" or "SHA256" over head[hlen] then body[blen], into
 * out (room for 32 bytes); *outlen set. 0, -ENOMEM or -EIO.
 */
int stun_hmac(const char *digest, const uint8_t *key, size_t keylen,
	      const uint8_t *head, size_t hlen, const uint8_t *body,
	      size_t blen, uint8_t *out, size_t *outlen);
/* CRC-32 of buf[len] xor 0x5354554e (RFC 8489 §14.7). */
uint32_t stun_fingerprint(const uint8_t *buf, size_t len);

#endif
