/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses (IPv4 and IPv6, with port) as every part passes them:
 * one union big enough for both, compared, printed and parsed in one place.
 */
#ifndef ICEMESH_COMMON_ADDR_H
#define ICEMESH_COMMON_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

/* "[ffff:...:ffff%ifname]:65535" fits with room to spare. */
#define ADDR_STRLEN 80

/* sizeof the family's sockaddr, or 0 for anything but AF_INET/AF_INET6. */
socklen_t addr_len(const union sockaddr_any *a);
/* Port in host byte order (0 for an unknown family). */
uint16_t addr_port(const union sockaddr_any *a);
void addr_set_port(union sockaddr_any *a, uint16_t port);
/* Same family, address and port (IPv6 scope id included). */
bool addr_equal(const union sockaddr_any *a, const union sockaddr_any *b);
/* Same family and address, port ignored. */
bool addr_equal_ip(const union sockaddr_any *a, const union sockaddr_any *b);
/* Build from raw bytes: 4 bytes for AF_INET, 16 for AF_INET6; port host order. */
int addr_from_bytes(union sockaddr_any *out, int family, const void *ip,
		    uint16_t port);

/* "192.0.2.1:3478" or "[2001:db8::1]:3478"; returns buf. */
const char *addr_to_str(const union sockaddr_any *a, char *buf, size_t len);
/* The address alone, without port or brackets; returns buf. */
const char *addr_ip_to_str(const union sockaddr_any *a, char *buf, size_t len);
/*
 * Parse a numeric "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT". A missing port
 * becomes default_port. Host names are not resolved here.
 * Returns 0, or -EINVAL with *out untouched.
 */
int addr_parse(const char *s, uint16_t default_port, union sockaddr_any *out);

bool addr_is_loopback(const union sockaddr_any *a);
bool addr_is_link_local(const union sockaddr_any *a);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d). */
bool addr_is_v4mapped(const union sockaddr_any *a);

#endif
