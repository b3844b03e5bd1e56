// SPDX-License-Identifier: MIT
/*
 * WireGuard cross-platform userspace API: request parser and answer writer.
 * Key names and value grammar follow wg(8)'s ipc-uapi.h and wireguard-go's
 * device/uapi.go, so that the stock tools can talk to icemeshd.
 */
#include "wireguard/uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

ssize_t uapi_request_len(const char *buf, size_t len)
{
	size_t max = len < UAPI_MAX_REQUEST ? len : UAPI_MAX_REQUEST;

	/* A request ends at its first empty line: "\n\n", or "\n" first. */
	if (max >= 1 && buf[0] == '\n')
		return 1;
	for (size_t i = 1; i < max; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\n')
			return (ssize_t)(i + 1);
	return len >= UAPI_MAX_REQUEST ? -E2BIG : 0;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits, as wg(8) writes keys. */
static int parse_key(const char *v, size_t vlen, uint8_t out[UAPI_KEY_LEN])
{
	uint8_t key[UAPI_KEY_LEN];

	if (vlen != 2 * UAPI_KEY_LEN)
		return -EINVAL;
	for (size_t i = 0; i < UAPI_KEY_LEN; i++) {
		int hi = hex_nibble(v[2 * i]), lo = hex_nibble(v[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			sodium_memzero(key, sizeof(key));
			return -EINVAL;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	return 0;
}

/* Unsigned decimal, digits only, at most max. */
static int parse_uint(const char *v, size_t vlen, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (vlen == 0 || vlen > 20)
		return -EINVAL;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		if (n > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static bool value_is(const char *v, size_t vlen, const char *want)
{
	return vlen == strlen(want) && memcmp(v, want, vlen) == 0;
}

/*
 * Cut "%scope" out of "[IPv6%scope]:PORT" in place and resolve it: a number,
 * or an interface name as wg(8) writes for link-local addresses.
 */
static int take_scope(char *s, uint32_t *scope)
{
	char *pct = strchr(s, '%'), *close = strchr(s, ']'), *end;
	unsigned long n;

	*scope = 0;
	if (!pct)
		return 0;
	if (s[0] != '[' || !close || pct > close || pct + 1 == close ||
	    (size_t)(close - pct) > IF_NAMESIZE)
		return -EINVAL;
	*close = '\0';
	if (pct[1] >= '0' && pct[1] <= '9') {
		errno = 0;
		n = strtoul(pct + 1, &end, 10);
		if (*end || errno || n > UINT32_MAX)
			return -EINVAL;
		*scope = (uint32_t)n;
	} else {
		*scope = if_nametoindex(pct + 1);
		if (!*scope)
			return -EINVAL;
	}
	*close = ']';
	memmove(pct, close, strlen(close) + 1);
	return 0;
}

/* "IP:PORT" or "[IPv6]:PORT", numeric only (names are resolved by wg(8)). */
static int parse_endpoint(const char *v, size_t vlen, union sockaddr_any *out)
{
	char s[UAPI_MAX_LINE];
	const char *colon;
	union sockaddr_any a;
	uint32_t scope;

	if (vlen == 0 || vlen >= sizeof(s))
		return -EINVAL;
	memcpy(s, v, vlen);
	s[vlen] = '\0';
	if (take_scope(s, &scope))
		return -EINVAL;
	/* the port is mandatory: the text must end in ":digits" */
	colon = strrchr(s, ':');
	if (!colon || !colon[1] || (s[0] != '[' && strchr(s, ':') != colon) ||
	    (s[0] == '[' && colon[-1] != ']'))
		return -EINVAL;
	if (addr_parse(s, 0, &a) != 0 || addr_port(&a) == 0)
		return -EINVAL;
	if (scope) {
		if (a.sa.sa_family != AF_INET6)
			return -EINVAL;
		a.in6.sin6_scope_id = scope;
	}
	*out = a;
	return 0;
}

/* "IP/CIDR"; host bits are kept as written (the table masks them). */
static int parse_allowed_ip(const char *v, size_t vlen,
			    struct uapi_allowed_ip *out)
{
	char s[UAPI_MAX_LINE];
	char *slash;
	uint64_t cidr;
	struct uapi_allowed_ip a = { 0 };

	if (vlen == 0 || vlen >= sizeof(s))
		return -EINVAL;
	memcpy(s, v, vlen);
	s[vlen] = '\0';
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	*slash++ = '\0';
	if (strlen(slash) > 1 && slash[0] == '0')
		return -EINVAL;
	if (parse_uint(slash, strlen(slash), 128, &cidr))
		return -EINVAL;
	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(a.family, s, a.ip) != 1)
		return -EINVAL;
	if (a.family == AF_INET && cidr > 32)
		return -EINVAL;
	a.cidr = (uint8_t)cidr;
	*out = a;
	return 0;
}

/*
 * Grow an array without realloc, so that a moved copy holding keys is wiped
 * rather than left behind in freed memory.
 */
static int grow(void **arr, size_t *cap, size_t n, size_t elem, size_t max)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > max)
		ncap = max;
	p = calloc(ncap, elem);
	if (!p)
		return -ENOMEM;
	if (*arr) {
		memcpy(p, *arr, n * elem);
		sodium_memzero(*arr, *cap * elem);
		free(*arr);
	}
	*arr = p;
	*cap = ncap;
	return 0;
}

static int device_line(struct uapi_set *s, const char *k, size_t klen,
		       const char *v, size_t vlen)
{
	uint64_t n;

	if (value_is(k, klen, "private_key")) {
		if (parse_key(v, vlen, s->private_key))
			return -EINVAL;
		s->flags |= UAPI_SET_PRIVATE_KEY;
	} else if (value_is(k, klen, "listen_port")) {
		if (parse_uint(v, vlen, UINT16_MAX, &n))
			return -EINVAL;
		s->listen_port = (uint16_t)n;
		s->flags |= UAPI_SET_LISTEN_PORT;
	} else if (value_is(k, klen, "fwmark")) {
		if (parse_uint(v, vlen, UINT32_MAX, &n))
			return -EINVAL;
		s->fwmark = (uint32_t)n;
		s->flags |= UAPI_SET_FWMARK;
	} else if (value_is(k, klen, "replace_peers")) {
		if (!value_is(v, vlen, "true"))
			return -EINVAL;
		s->flags |= UAPI_SET_REPLACE_PEERS;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int new_peer(struct uapi_set *s, const char *v, size_t vlen)
{
	struct uapi_peer_set *p;
	int ret;

	ret = grow((void **)&s->peers, &s->cap_peers, s->n_peers,
		   sizeof(*s->peers), UAPI_MAX_PEERS);
	if (ret)
		return ret;
	p = &s->peers[s->n_peers];
	memset(p, 0, sizeof(*p));
	if (parse_key(v, vlen, p->public_key))
		return -EINVAL;
	p->allowed_ips_off = s->n_allowed_ips;
	s->n_peers++;
	return 0;
}

static int add_allowed_ip(struct uapi_set *s, struct uapi_peer_set *p,
			  const char *v, size_t vlen)
{
	struct uapi_allowed_ip a;
	int ret;

	if (parse_allowed_ip(v, vlen, &a))
		return -EINVAL;
	ret = grow((void **)&s->allowed_ips, &s->cap_allowed_ips,
		   s->n_allowed_ips, sizeof(*s->allowed_ips),
		   UAPI_MAX_ALLOWED_IPS);
	if (ret)
		return ret;
	s->allowed_ips[s->n_allowed_ips++] = a;
	p->n_allowed_ips++;
	return 0;
}

static int peer_line(struct uapi_set *s, const char *k, size_t klen,
		     const char *v, size_t vlen)
{
	struct uapi_peer_set *p = &s->peers[s->n_peers - 1];
	uint64_t n;

	if (value_is(k, klen, "remove") || value_is(k, klen, "update_only") ||
	    value_is(k, klen, "replace_allowed_ips")) {
		if (!value_is(v, vlen, "true"))
			return -EINVAL;
		p->flags |=
			k[0] == 'r'
				? (k[2] == 'm' ? UAPI_PEER_REMOVE
					       : UAPI_PEER_REPLACE_ALLOWED_IPS)
				: UAPI_PEER_UPDATE_ONLY;
	} else if (value_is(k, klen, "preshared_key")) {
		if (parse_key(v, vlen, p->preshared_key))
			return -EINVAL;
		p->flags |= UAPI_PEER_PRESHARED_KEY;
	} else if (value_is(k, klen, "endpoint")) {
		if (parse_endpoint(v, vlen, &p->endpoint))
			return -EINVAL;
		p->flags |= UAPI_PEER_ENDPOINT;
	} else if (value_is(k, klen, "persistent_keepalive_interval")) {
		if (parse_uint(v, vlen, UINT16_MAX, &n))
			return -EINVAL;
		p->persistent_keepalive = (uint16_t)n;
		p->flags |= UAPI_PEER_KEEPALIVE;
	} else if (value_is(k, klen, "allowed_ip")) {
		return add_allowed_ip(s, p, v, vlen);
	} else if (value_is(k, klen, "protocol_version")) {
		if (!value_is(v, vlen, "1"))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int set_line(struct uapi_set *s, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	size_t klen, vlen;

	if (!eq || len > UAPI_MAX_LINE || memchr(line, '\0', len))
		return -EPROTO;
	klen = (size_t)(eq - line);
	vlen = len - klen - 1;
	if (value_is(line, klen, "public_key"))
		return new_peer(s, eq + 1, vlen);
	if (s->n_peers == 0)
		return device_line(s, line, klen, eq + 1, vlen);
	return peer_line(s, line, klen, eq + 1, vlen);
}

static int parse_set(const char *buf, size_t len, struct uapi_set **out)
{
	struct uapi_set *s = calloc(1, sizeof(*s));
	size_t pos = 0;
	int ret = -EPROTO;

	if (!s)
		return -ENOMEM;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t llen;

		if (!nl)
			break;
		llen = (size_t)(nl - (buf + pos));
		if (llen == 0) {
			/* the blank line, and nothing may follow it */
			ret = pos + 1 == len ? 0 : -EPROTO;
			break;
		}
		ret = set_line(s, buf + pos, llen);
		if (ret)
			break;
		ret = -EPROTO;
		pos += llen + 1;
	}
	if (ret) {
		uapi_set_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

int uapi_parse(const char *buf, size_t len, enum uapi_op *op,
	       struct uapi_set **set)
{
	static const char get[] = "get=1\n", put[] = "set=1\n";
	struct uapi_set *s;
	int ret;

	if (len > UAPI_MAX_REQUEST)
		return -E2BIG;
	if (len == sizeof(get) && memcmp(buf, get, sizeof(get) - 1) == 0 &&
	    buf[len - 1] == '\n') {
		*op = UAPI_OP_GET;
		*set = NULL;
		return 0;
	}
	if (len < sizeof(put) || memcmp(buf, put, sizeof(put) - 1) != 0)
		return -EPROTO;
	ret = parse_set(buf + sizeof(put) - 1, len - (sizeof(put) - 1), &s);
	if (ret)
		return ret;
	*op = UAPI_OP_SET;
	*set = s;
	return 0;
}

void uapi_set_free(struct uapi_set *s)
{
	if (!s)
		return;
	if (s->peers) {
		sodium_memzero(s->peers, s->cap_peers * sizeof(*s->peers));
		free(s->peers);
	}
	free(s->allowed_ips);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/* ---------------------------------------------------------------- writer */

void uapi_buf_init(struct uapi_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void uapi_buf_free(struct uapi_buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

static int buf_reserve(struct uapi_buf *b, size_t more)
{
	size_t ncap;
	char *p;

	if (b->err)
		return b->err;
	if (b->len + more + 1 <= b->cap)
		return 0;
	if (b->len + more + 1 > UAPI_MAX_REQUEST)
		return b->err = -E2BIG;
	ncap = b->cap ? b->cap : 512;
	while (ncap < b->len + more + 1)
		ncap *= 2;
	if (ncap > UAPI_MAX_REQUEST)
		ncap = UAPI_MAX_REQUEST;
	/* not realloc: the old block may hold keys and is wiped */
	p = malloc(ncap);
	if (!p)
		return b->err = -ENOMEM;
	if (b->data) {
		memcpy(p, b->data, b->len);
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

__attribute__((format(printf, 2, 3))) static void bprintf(struct uapi_buf *b,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void write_key(struct uapi_buf *b, const char *name,
		      const uint8_t key[UAPI_KEY_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t nlen = strlen(name);

	if (buf_reserve(b, nlen + 2 + 2 * UAPI_KEY_LEN))
		return;
	memcpy(b->data + b->len, name, nlen);
	b->len += nlen;
	b->data[b->len++] = '=';
	for (size_t i = 0; i < UAPI_KEY_LEN; i++) {
		b->data[b->len++] = digits[key[i] >> 4];
		b->data[b->len++] = digits[key[i] & 15];
	}
	b->data[b->len++] = '\n';
	b->data[b->len] = '\0';
}

int uapi_write_device(struct uapi_buf *b, const struct uapi_device_info *d)
{
	if (d->has_private_key)
		write_key(b, "private_key", d->private_key);
	if (d->listen_port)
		bprintf(b, "listen_port=%u\n", d->listen_port);
	if (d->fwmark)
		bprintf(b, "fwmark=%" PRIu32 "\n", d->fwmark);
	return b->err;
}

/* "192.0.2.1:51820", "[2001:db8::1]:51820" or "[fe80::1%3]:51820". */
static const char *endpoint_str(const union sockaddr_any *ep, char *buf,
				size_t len)
{
	char ip[ADDR_STRLEN];

	if (ep->sa.sa_family != AF_INET6 || !ep->in6.sin6_scope_id)
		return addr_to_str(ep, buf, len);
	snprintf(buf, len, "[%s%%%" PRIu32 "]:%u",
		 addr_ip_to_str(ep, ip, sizeof(ip)), ep->in6.sin6_scope_id,
		 addr_port(ep));
	return buf;
}

static void write_endpoint(struct uapi_buf *b, const union sockaddr_any *ep)
{
	char s[ADDR_STRLEN + 16];

	if (ep->sa.sa_family != AF_INET && ep->sa.sa_family != AF_INET6)
		return;
	bprintf(b, "endpoint=%s\n", endpoint_str(ep, s, sizeof(s)));
}

int uapi_write_peer(struct uapi_buf *b, const struct uapi_peer_info *p)
{
	static const uint8_t zero[UAPI_KEY_LEN];

	write_key(b, "public_key", p->public_key);
	write_key(b, "preshared_key",
		  p->has_preshared_key ? p->preshared_key : zero);
	bprintf(b, "protocol_version=1\n");
	write_endpoint(b, &p->endpoint);
	bprintf(b,
		"last_handshake_time_sec=%" PRIu64
		"\nlast_handshake_time_nsec=%" PRIu32 "\n",
		p->last_handshake_sec, p->last_handshake_nsec);
	bprintf(b, "tx_bytes=%" PRIu64 "\nrx_bytes=%" PRIu64 "\n", p->tx_bytes,
		p->rx_bytes);
	bprintf(b, "persistent_keepalive_interval=%u\n",
		p->persistent_keepalive);
	return b->err;
}

int uapi_write_allowed_ip(struct uapi_buf *b, int family, const void *ip,
			  uint8_t cidr)
{
	char s[INET6_ADDRSTRLEN];

	if ((family != AF_INET || cidr > 32) &&
	    (family != AF_INET6 || cidr > 128))
		return b->err ? b->err : -EINVAL;
	if (!inet_ntop(family, ip, s, sizeof(s)))
		return b->err ? b->err : -EINVAL;
	bprintf(b, "allowed_ip=%s/%u\n", s, cidr);
	return b->err;
}

int uapi_write_end(struct uapi_buf *b, int err)
{
	bprintf(b, "errno=%d\n\n", err);
	return b->err;
}

static void write_peer_set(struct uapi_buf *b, const struct uapi_set *s,
			   const struct uapi_peer_set *p)
{
	char ep[ADDR_STRLEN + 16];

	write_key(b, "public_key", p->public_key);
	if (p->flags & UAPI_PEER_REMOVE)
		bprintf(b, "remove=true\n");
	if (p->flags & UAPI_PEER_UPDATE_ONLY)
		bprintf(b, "update_only=true\n");
	if (p->flags & UAPI_PEER_PRESHARED_KEY)
		write_key(b, "preshared_key", p->preshared_key);
	if (p->flags & UAPI_PEER_ENDPOINT)
		bprintf(b, "endpoint=%s\n",
			endpoint_str(&p->endpoint, ep, sizeof(ep)));
	if (p->flags & UAPI_PEER_KEEPALIVE)
		bprintf(b, "persistent_keepalive_interval=%u\n",
			p->persistent_keepalive);
	if (p->flags & UAPI_PEER_REPLACE_ALLOWED_IPS)
		bprintf(b, "replace_allowed_ips=true\n");
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		const struct uapi_allowed_ip *a =
			&s->allowed_ips[p->allowed_ips_off + i];

		uapi_write_allowed_ip(b, a->family, a->ip, a->cidr);
	}
}

int uapi_write_set(struct uapi_buf *b, const struct uapi_set *s)
{
	bprintf(b, "set=1\n");
	if (s->flags & UAPI_SET_PRIVATE_KEY)
		write_key(b, "private_key", s->private_key);
	if (s->flags & UAPI_SET_LISTEN_PORT)
		bprintf(b, "listen_port=%u\n", s->listen_port);
	if (s->flags & UAPI_SET_FWMARK)
		bprintf(b, "fwmark=%" PRIu32 "\n", s->fwmark);
	if (s->flags & UAPI_SET_REPLACE_PEERS)
		bprintf(b, "replace_peers=true\n");
	for (size_t i = 0; i < s->n_peers; i++)
		write_peer_set(b, s, &s->peers[i]);
	bprintf(b, "\n");
	return b->err;
}

/* ---------------------------------------------------------------- sockets */

int uapi_listen(const char *dir, const char *ifname)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, ret, n;

	if (!dir)
		dir = "/var/run/wireguard";
	if (!ifname || !*ifname || strchr(ifname, '/'))
		return -EINVAL;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", dir,
		     ifname);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sun.sun_path); /* a stale socket of a previous run */
	old = umask(0077);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret < 0 || listen(fd, 8) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int buf_append(struct uapi_buf *b, const char *data, size_t len)
{
	if (buf_reserve(b, len))
		return b->err;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

/* Answer one complete request into out; -EPROTO: not the protocol at all. */
static int answer_one(const char *req, size_t len, uapi_handle_fn handle,
		      void *arg, struct uapi_buf *out)
{
	struct uapi_set *set = NULL;
	struct uapi_buf ans;
	enum uapi_op op;
	int err, ret;

	err = uapi_parse(req, len, &op, &set);
	if (err == -EPROTO && len >= 4 && memcmp(req, "set=", 4) != 0 &&
	    memcmp(req, "get=", 4) != 0)
		return -EPROTO; /* hang up, as wireguard-go does */
	uapi_buf_init(&ans);
	if (!err)
		err = handle(arg, op, set, &ans);
	if (err) {
		/* an answer is all or nothing */
		uapi_buf_free(&ans);
		uapi_buf_init(&ans);
	}
	uapi_write_end(&ans, err);
	ret = ans.err ? ans.err : buf_append(out, ans.data, ans.len);
	uapi_buf_free(&ans);
	uapi_set_free(set);
	return ret;
}

void uapi_conn_init(struct uapi_conn *c)
{
	memset(c, 0, sizeof(*c));
}

void uapi_conn_free(struct uapi_conn *c)
{
	if (c->buf) {
		sodium_memzero(c->buf, c->cap);
		free(c->buf);
	}
	memset(c, 0, sizeof(*c));
}

/* Room for len more bytes, growing by copy so no key is left behind. */
static int conn_reserve(struct uapi_conn *c, size_t more)
{
	size_t ncap = c->cap ? c->cap : 4096;
	char *nb;

	if (c->len + more <= c->cap)
		return 0;
	if (c->len + more > UAPI_MAX_REQUEST)
		return -E2BIG;
	while (ncap < c->len + more)
		ncap *= 2;
	if (ncap > UAPI_MAX_REQUEST)
		ncap = UAPI_MAX_REQUEST;
	nb = malloc(ncap);
	if (!nb)
		return -ENOMEM;
	if (c->buf) {
		memcpy(nb, c->buf, c->len);
		sodium_memzero(c->buf, c->cap);
		free(c->buf);
	}
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

int uapi_conn_input(struct uapi_conn *c, const char *data, size_t len,
		    uapi_handle_fn handle, void *arg, struct uapi_buf *out)
{
	int ret;

	if (len == 0) /* everything before was answered already */
		return 0;
	ret = conn_reserve(c, len);
	if (ret)
		return ret;
	memcpy(c->buf + c->len, data, len);
	c->len += len;
	for (;;) {
		ssize_t rlen = uapi_request_len(c->buf, c->len);

		if (rlen <= 0)
			return (int)rlen;
		ret = answer_one(c->buf, (size_t)rlen, handle, arg, out);
		sodium_memzero(c->buf, (size_t)rlen);
		memmove(c->buf, c->buf + rlen, c->len - (size_t)rlen);
		c->len -= (size_t)rlen;
		if (ret)
			return ret;
	}
}

int uapi_serve_conn(int fd, uapi_handle_fn handle, void *arg)
{
	struct uapi_conn c;
	char chunk[4096];
	int ret = 0;

	uapi_conn_init(&c);
	while (!ret) {
		struct uapi_buf out;
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		uapi_buf_init(&out);
		ret = uapi_conn_input(&c, chunk, (size_t)n, handle, arg, &out);
		/* answers to the requests before a bad one still go out */
		if (out.len && !out.err) {
			int wret = write_all(fd, out.data, out.len);

			ret = ret ? ret : wret;
		}
		uapi_buf_free(&out);
	}
	sodium_memzero(chunk, sizeof(chunk));
	uapi_conn_free(&c);
	return ret;
}
