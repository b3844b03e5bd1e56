/* SPDX-License-Identifier: MIT */
/*
 * The ICMP echo packets of `icemesh ping` (docs/daemon.md): a whole IP
 * packet, IPv4 + ICMP (RFC 792) or IPv6 + ICMPv6 (RFC 4443 §4.1), from our
 * overlay address to a peer's, that the data plane sends as if it came
 * from the TUN; and the check that a decrypted packet is the peer's reply.
 * No I/O, no allocation.
 */
#ifndef ICEMESH_DAEMON_ECHO_H
#define ICEMESH_DAEMON_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	ECHO_PAYLOAD_LEN = 16, /* "icemesh ping...." */
	ECHO_V4_LEN = 20 + 8 + ECHO_PAYLOAD_LEN,
	ECHO_V6_LEN = 40 + 8 + ECHO_PAYLOAD_LEN,
	ECHO_MAX_LEN = ECHO_V6_LEN,
	ECHO_HOP_LIMIT = 64,
};

/*
 * Write an echo request from src to dst (struct in_addr for AF_INET,
 * struct in6_addr for AF_INET6, network order) with ident and seq into
 * buf. Returns its length (ECHO_V4_LEN or ECHO_V6_LEN), -EAFNOSUPPORT for
 * another family, -ENOBUFS when cap is too small.
 */
int echo_request(int af, const void *src, const void *dst, uint16_t ident,
		 uint16_t seq, uint8_t *buf, size_t cap);

/*
 * Whether pkt (len bytes, a whole IP packet) is the echo reply of family af
 * from `from` (the address that was pinged) with ident and seq and a valid
 * checksum (for ICMPv6 over the pseudo-header, RFC 8200 §8.1). An IPv6
 * reply must carry ICMPv6 directly after the fixed header.
 */
bool echo_is_reply(int af, const void *from, uint16_t ident, uint16_t seq,
		   const uint8_t *pkt, size_t len);

/*
 * The Internet checksum (RFC 1071) of len bytes, continuing from sum (0 to
 * start); echo_csum_fold turns the sum into the value that is written.
 */
uint32_t echo_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t echo_csum_fold(uint32_t sum);

#endif
