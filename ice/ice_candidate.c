// SPDX-License-Identifier: MIT
/* ICE candidates: priorities, foundations and RFC 8839 lines. */
#include "ice/ice_candidate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const type_names[] = {
	[ICE_CAND_HOST] = "host",
	[ICE_CAND_SRFLX] = "srflx",
	[ICE_CAND_PRFLX] = "prflx",
	[ICE_CAND_RELAY] = "relay",
};

const char *ice_cand_type_name(enum ice_cand_type t)
{
	if ((unsigned)t > ICE_CAND_RELAY)
		return "?";
	return type_names[t];
}

int ice_cand_type_parse(const char *s, enum ice_cand_type *out)
{
	for (unsigned i = 0; i <= ICE_CAND_RELAY; i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*out = (enum ice_cand_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

uint8_t ice_type_pref(enum ice_cand_type t)
{
	switch (t) {
	case ICE_CAND_HOST:
		return ICE_TYPE_PREF_HOST;
	case ICE_CAND_PRFLX:
		return ICE_TYPE_PREF_PRFLX;
	case ICE_CAND_SRFLX:
		return ICE_TYPE_PREF_SRFLX;
	case ICE_CAND_RELAY:
	default:
		return ICE_TYPE_PREF_RELAY;
	}
}

uint32_t ice_priority(enum ice_cand_type t, uint16_t local_pref,
		      uint8_t component)
{
	return ((uint32_t)ice_type_pref(t) << 24) |
	       ((uint32_t)local_pref << 8) | (uint32_t)(256 - component);
}

uint16_t ice_local_pref(unsigned iface_rank, unsigned addr_rank, int family)
{
	unsigned pref = 65535;

	if (iface_rank > 127)
		iface_rank = 127;
	if (addr_rank > 255)
		addr_rank = 255;
	pref -= iface_rank * 512;
	if (family != AF_INET6)
		pref -= 256;
	pref -= addr_rank;
	return (uint16_t)pref;
}

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t hash_ip(uint32_t h, const union sockaddr_any *a)
{
	if (!a)
		return fnv1a(h, "-", 1);
	if (a->sa.sa_family == AF_INET)
		return fnv1a(h, &a->in4.sin_addr, 4);
	if (a->sa.sa_family == AF_INET6)
		return fnv1a(h, &a->in6.sin6_addr, 16);
	return fnv1a(h, "?", 1);
}

void ice_foundation(enum ice_cand_type t, const union sockaddr_any *base,
		    const union sockaddr_any *server, char *out)
{
	uint32_t h = 2166136261u;
	uint8_t tb = (uint8_t)t;

	h = fnv1a(h, &tb, 1);
	h = hash_ip(h, base);
	h = hash_ip(h, server);
	snprintf(out, ICE_FOUNDATION_MAX + 1, "%x", (unsigned)h);
}

int ice_candidate_format(const struct ice_candidate *c, char *buf, size_t len)
{
	char ip[ADDR_STRLEN], rip[ADDR_STRLEN];
	int n;

	if (!addr_len(&c->addr))
		return -EINVAL;
	addr_ip_to_str(&c->addr, ip, sizeof(ip));
	if (c->has_related && addr_len(&c->related)) {
		addr_ip_to_str(&c->related, rip, sizeof(rip));
		n = snprintf(
			buf, len,
			"a=candidate:%s %u udp %u %s %u typ %s raddr %s rport %u",
			c->foundation, c->component, c->priority, ip,
			addr_port(&c->addr), ice_cand_type_name(c->type), rip,
			addr_port(&c->related));
	} else {
		n = snprintf(buf, len, "a=candidate:%s %u udp %u %s %u typ %s",
			     c->foundation, c->component, c->priority, ip,
			     addr_port(&c->addr), ice_cand_type_name(c->type));
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

static bool is_ice_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
}

bool ice_chars_valid(const char *s, size_t min, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (n >= max || !is_ice_char(s[n]))
			return false;
	}
	return n >= min;
}

/* Unsigned decimal of at most max; 0 or -EINVAL. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A numeric IP (no port, no brackets) into a; -EAFNOSUPPORT otherwise. */
static int parse_ip(const char *s, unsigned long port, union sockaddr_any *a)
{
	union sockaddr_any tmp;
	char b[ADDR_STRLEN];

	if (strlen(s) >= 46 || strchr(s, '[') || strchr(s, '%'))
		return -EAFNOSUPPORT;
	if (strchr(s, ':'))
		snprintf(b, sizeof(b), "[%s]", s);
	else
		snprintf(b, sizeof(b), "%s", s);
	if (addr_parse(b, 0, &tmp) != 0)
		return -EAFNOSUPPORT;
	addr_set_port(&tmp, (uint16_t)port);
	*a = tmp;
	return 0;
}

enum { MAX_TOKENS = 32 };

/* Split the copy in buf at spaces; returns the token count or -EINVAL. */
static int tokenize(char *buf, char **tok)
{
	int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(buf, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (n == MAX_TOKENS)
			return -EINVAL;
		tok[n++] = t;
	}
	return n;
}

/* raddr/rport and unknown extensions after "typ <type>". */
static int parse_extensions(char **tok, int n, struct ice_candidate *c)
{
	unsigned long rport = 0;
	const char *raddr = NULL;
	bool has_rport = false;

	if (n % 2)
		return -EINVAL;
	for (int i = 0; i < n; i += 2) {
		if (strcmp(tok[i], "raddr") == 0) {
			raddr = tok[i + 1];
		} else if (strcmp(tok[i], "rport") == 0) {
			if (parse_uint(tok[i + 1], 65535, &rport))
				return -EINVAL;
			has_rport = true;
		}
	}
	if (raddr && has_rport && parse_ip(raddr, rport, &c->related) == 0)
		c->has_related = true;
	return 0;
}

static int parse_fields(char **tok, int n, struct ice_candidate *c)
{
	unsigned long comp, prio, port;
	int err;

	if (n < 8 || strcmp(tok[6], "typ") != 0)
		return -EINVAL;
	if (!ice_chars_valid(tok[0], 1, ICE_FOUNDATION_MAX))
		return -EINVAL;
	memcpy(c->foundation, tok[0], strlen(tok[0]) + 1);
	if (parse_uint(tok[1], 255, &comp) || comp < 1)
		return -EINVAL;
	c->component = (uint8_t)comp;
	if (parse_uint(tok[3], UINT32_MAX, &prio) || prio < 1)
		return -EINVAL;
	c->priority = (uint32_t)prio;
	if (parse_uint(tok[5], 65535, &port))
		return -EINVAL;
	if (ice_cand_type_parse(tok[7], &c->type))
		return -EINVAL;
	if (strcasecmp(tok[2], "udp") != 0)
		return -EPROTONOSUPPORT;
	err = parse_ip(tok[4], port, &c->addr);
	if (err)
		return err;
	return parse_extensions(tok + 8, n - 8, c);
}

int ice_candidate_parse(const char *line, struct ice_candidate *out)
{
	char buf[ICE_LINE_MAX + 1];
	char *tok[MAX_TOKENS];
	struct ice_candidate c;
	size_t len;
	int n, err;

	if (strncmp(line, "a=", 2) == 0)
		line += 2;
	if (strncmp(line, "candidate:", 10) != 0)
		return -EINVAL;
	line += 10;
	len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		       line[len - 1] == ' '))
		len--;
	if (len > ICE_LINE_MAX)
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	n = tokenize(buf, tok);
	if (n < 0)
		return n;
	memset(&c, 0, sizeof(c));
	err = parse_fields(tok, n, &c);
	if (err)
		return err;
	*out = c;
	return 0;
}

static int parse_cred(const char *v, size_t min, struct ice_sdp_line *out)
{
	size_t n = strlen(v);

	if (n > ICE_CRED_MAX || !ice_chars_valid(v, min, ICE_CRED_MAX))
		return -EINVAL;
	memcpy(out->value, v, n + 1);
	return 0;
}

int ice_sdp_parse_line(const char *line, struct ice_sdp_line *out)
{
	char buf[ICE_LINE_MAX + 1];
	size_t len = strlen(line);

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		       line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len > ICE_LINE_MAX)
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';

	if (strncmp(buf, "a=ice-ufrag:", 12) == 0) {
		out->kind = ICE_SDP_UFRAG;
		return parse_cred(buf + 12, ICE_UFRAG_MIN, out);
	}
	if (strncmp(buf, "a=ice-pwd:", 10) == 0) {
		out->kind = ICE_SDP_PWD;
		return parse_cred(buf + 10, ICE_PWD_MIN, out);
	}
	if (strcmp(buf, "a=end-of-candidates") == 0) {
		out->kind = ICE_SDP_END_OF_CANDIDATES;
		return 0;
	}
	if (strncmp(buf, "a=candidate:", 12) == 0 ||
	    strncmp(buf, "candidate:", 10) == 0) {
		out->kind = ICE_SDP_CANDIDATE;
		return ice_candidate_parse(buf, &out->cand);
	}
	out->kind = ICE_SDP_OTHER;
	return 0;
}
