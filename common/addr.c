// SPDX-License-Identifier: MIT
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

socklen_t addr_len(const union sockaddr_any *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	default:
		return 0;
	}
}

uint16_t addr_port(const union sockaddr_any *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return ntohs(a->in4.sin_port);
	case AF_INET6:
		return ntohs(a->in6.sin6_port);
	default:
		return 0;
	}
}

void addr_set_port(union sockaddr_any *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->in4.sin_port = htons(port);
	else if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons(port);
}

bool addr_equal_ip(const union sockaddr_any *a, const union sockaddr_any *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0 &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id;
	return false;
}

bool addr_equal(const union sockaddr_any *a, const union sockaddr_any *b)
{
	return addr_equal_ip(a, b) && addr_port(a) == addr_port(b);
}

int addr_from_bytes(union sockaddr_any *out, int family, const void *ip,
		    uint16_t port)
{
	union sockaddr_any a;

	memset(&a, 0, sizeof(a));
	if (family == AF_INET) {
		a.in4.sin_family = AF_INET;
		memcpy(&a.in4.sin_addr, ip, 4);
		a.in4.sin_port = htons(port);
	} else if (family == AF_INET6) {
		a.in6.sin6_family = AF_INET6;
		memcpy(&a.in6.sin6_addr, ip, 16);
		a.in6.sin6_port = htons(port);
	} else {
		return -EAFNOSUPPORT;
	}
	*out = a;
	return 0;
}

const char *addr_ip_to_str(const union sockaddr_any *a, char *buf, size_t len)
{
	if (!len)
		return buf;
	buf[0] = '\0';
	if (a->sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &a->in4.sin_addr, buf, (socklen_t)len);
	else if (a->sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, (socklen_t)len);
	else
		snprintf(buf, len, "(family %d)", a->sa.sa_family);
	return buf;
}

const char *addr_to_str(const union sockaddr_any *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	addr_ip_to_str(a, ip, sizeof(ip));
	if (a->sa.sa_family == AF_INET)
		snprintf(buf, len, "%s:%u", ip, addr_port(a));
	else if (a->sa.sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, addr_port(a));
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int addr_parse(const char *s, uint16_t default_port, union sockaddr_any *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_s = NULL, *end;
	uint16_t port = default_port;
	union sockaddr_any a;
	size_t hl;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (end[1] == ':')
			port_s = end + 2;
		else if (end[1])
			return -EINVAL;
	} else {
		const char *colon = strchr(s, ':');

		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* bare IPv6, no port */
		hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (colon)
			port_s = colon + 1;
	}
	if (port_s && parse_port(port_s, &port))
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, host, &a.in4.sin_addr) == 1) {
		a.in4.sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, host, &a.in6.sin6_addr) == 1) {
		a.in6.sin6_family = AF_INET6;
	} else {
		return -EINVAL;
	}
	addr_set_port(&a, port);
	*out = a;
	return 0;
}

bool addr_is_loopback(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return (ntohl(a->in4.sin_addr.s_addr) >> 24) == 127;
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr);
	return false;
}

bool addr_is_link_local(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return (ntohl(a->in4.sin_addr.s_addr) >> 16) == 0xa9fe;
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LINKLOCAL(&a->in6.sin6_addr);
	return false;
}

bool addr_is_v4mapped(const union sockaddr_any *a)
{
	return a->sa.sa_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr);
}
