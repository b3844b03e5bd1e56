// SPDX-License-Identifier: MIT
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/echo.h"

static const char payload[ECHO_PAYLOAD_LEN + 1] = "icemesh ping....";

uint32_t echo_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)p[i] << 8 | p[i + 1];
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1) {
		sum += (uint32_t)p[len - 1] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

uint16_t echo_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The RFC 8200 §8.1 pseudo-header's sum for ICMPv6 of icmp_len bytes. */
static uint32_t pseudo6(const uint8_t *ip6, size_t icmp_len)
{
	uint8_t tail[8] = { 0 };

	tail[0] = (uint8_t)(icmp_len >> 24);
	tail[1] = (uint8_t)(icmp_len >> 16);
	tail[2] = (uint8_t)(icmp_len >> 8);
	tail[3] = (uint8_t)icmp_len;
	tail[7] = IPPROTO_ICMPV6;
	return echo_csum_add(echo_csum_add(0, ip6 + 8, 32), tail, 8);
}

/* The ICMP(v6) echo header and payload at p; type and checksum by caller. */
static void echo_body(uint8_t *p, uint8_t type, uint16_t ident, uint16_t seq)
{
	p[0] = type;
	p[1] = 0;
	put16(p + 2, 0);
	put16(p + 4, ident);
	put16(p + 6, seq);
	memcpy(p + 8, payload, ECHO_PAYLOAD_LEN);
}

int echo_request(int af, const void *src, const void *dst, uint16_t ident,
		 uint16_t seq, uint8_t *buf, size_t cap)
{
	if (af == AF_INET) {
		if (cap < ECHO_V4_LEN)
			return -ENOBUFS;
		memset(buf, 0, ECHO_V4_LEN);
		buf[0] = 0x45;
		put16(buf + 2, ECHO_V4_LEN);
		buf[8] = ECHO_HOP_LIMIT;
		buf[9] = IPPROTO_ICMP;
		memcpy(buf + 12, src, 4);
		memcpy(buf + 16, dst, 4);
		put16(buf + 10, echo_csum_fold(echo_csum_add(0, buf, 20)));
		echo_body(buf + 20, ICMP_ECHO, ident, seq);
		put16(buf + 22, echo_csum_fold(echo_csum_add(
					0, buf + 20, ECHO_V4_LEN - 20)));
		return ECHO_V4_LEN;
	}
	if (af == AF_INET6) {
		size_t icmp_len = ECHO_V6_LEN - 40;
		uint32_t sum;

		if (cap < ECHO_V6_LEN)
			return -ENOBUFS;
		memset(buf, 0, ECHO_V6_LEN);
		buf[0] = 0x60; /* version 6, class 0, flow 0 */
		put16(buf + 4, (uint16_t)icmp_len);
		buf[6] = IPPROTO_ICMPV6;
		buf[7] = ECHO_HOP_LIMIT;
		memcpy(buf + 8, src, 16);
		memcpy(buf + 24, dst, 16);
		echo_body(buf + 40, ICMP6_ECHO_REQUEST, ident, seq);
		sum = echo_csum_add(pseudo6(buf, icmp_len), buf + 40, icmp_len);
		put16(buf + 42, echo_csum_fold(sum));
		return ECHO_V6_LEN;
	}
	return -EAFNOSUPPORT;
}

static bool echo_fields(const uint8_t *icmp, uint8_t type, uint16_t ident,
			uint16_t seq)
{
	return icmp[0] == type && icmp[1] == 0 && get16(icmp + 4) == ident &&
	       get16(icmp + 6) == seq;
}

static bool reply4(const void *from, uint16_t ident, uint16_t seq,
		   const uint8_t *pkt, size_t len)
{
	size_t ihl, tot;

	if (len < 20 || pkt[0] >> 4 != 4 || pkt[9] != IPPROTO_ICMP)
		return false;
	ihl = (size_t)(pkt[0] & 15) * 4;
	tot = get16(pkt + 2);
	if (ihl < 20 || tot > len || tot < ihl + 8 || memcmp(pkt + 12, from, 4))
		return false;
	return echo_fields(pkt + ihl, ICMP_ECHOREPLY, ident, seq) &&
	       echo_csum_fold(echo_csum_add(0, pkt + ihl, tot - ihl)) == 0;
}

static bool reply6(const void *from, uint16_t ident, uint16_t seq,
		   const uint8_t *pkt, size_t len)
{
	size_t plen;

	if (len < 40 + 8 || pkt[0] >> 4 != 6 || pkt[6] != IPPROTO_ICMPV6)
		return false;
	plen = get16(pkt + 4);
	if (plen < 8 || 40 + plen > len || memcmp(pkt + 8, from, 16))
		return false;
	return echo_fields(pkt + 40, ICMP6_ECHO_REPLY, ident, seq) &&
	       echo_csum_fold(
		       echo_csum_add(pseudo6(pkt, plen), pkt + 40, plen)) == 0;
}

bool echo_is_reply(int af, const void *from, uint16_t ident, uint16_t seq,
		   const uint8_t *pkt, size_t len)
{
	if (af == AF_INET)
		return reply4(from, ident, seq, pkt, len);
	if (af == AF_INET6)
		return reply6(from, ident, seq, pkt, len);
	return false;
}
