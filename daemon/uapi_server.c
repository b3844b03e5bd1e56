/* SPDX-License-Identifier: MIT */
/*
 * The UAPI socket served from the loop: non-blocking connections, each
 * reading one request at a time and writing its answer before reading the
 * next, as wg(8) expects.
 */
#include "daemon/uapi_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/log.h"

#define TOPIC "uapi"

struct uapi_client {
	uv_poll_t poll;
	struct uapi_server *srv;
	struct uapi_client *next;
	int fd;
	char *in;
	size_t in_len, in_cap;
	struct uapi_buf out;
	size_t out_off;
	bool eof;
};

struct uapi_server {
	uv_loop_t *loop;
	struct dp *dp;
	uv_poll_t listen_poll;
	int listen_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct uapi_client *conns;
	unsigned nconns;
};

/* ------------------------------------------------------------ apply */

/* wg(8) and the kernel: a peer with our own public key cannot stay. */
static void drop_self_peer(struct dp *dp)
{
	const uint8_t *pub = wg_device_public_key(dp_wg(dp));
	struct wg_peer *p = pub ? wg_device_find_peer(dp_wg(dp), pub) : NULL;

	if (p)
		dp_peer_remove(dp, p);
}

static int set_private_key(struct dp *dp, const uint8_t key[UAPI_KEY_LEN])
{
	uint8_t zero[UAPI_KEY_LEN] = { 0 };
	uint8_t pub[crypto_scalarmult_BYTES];
	struct wg_peer *p;

	if (sodium_memcmp(key, zero, UAPI_KEY_LEN) == 0)
		return wg_device_set_private_key(dp_wg(dp), NULL);
	/* a peer holding the key we are about to take goes first */
	if (crypto_scalarmult_base(pub, key) == 0) {
		p = wg_device_find_peer(dp_wg(dp), pub);
		if (p)
			dp_peer_remove(dp, p);
	}
	return wg_device_set_private_key(dp_wg(dp), key);
}

static int set_allowed_ips(struct dp *dp, struct wg_peer *p,
			   const struct uapi_set *set,
			   const struct uapi_peer_set *ps)
{
	struct allowedips *t = dp_allowedips(dp);

	if (ps->flags & UAPI_PEER_REPLACE_ALLOWED_IPS)
		allowedips_remove_by_peer(t, p);
	for (size_t i = 0; i < ps->n_allowed_ips; i++) {
		const struct uapi_allowed_ip *a =
			&set->allowed_ips[ps->allowed_ips_off + i];
		int ret = allowedips_insert(t, a->family, a->ip, a->cidr, p);

		if (ret)
			return ret;
	}
	return 0;
}

static int set_peer(struct dp *dp, const struct uapi_set *set,
		    const struct uapi_peer_set *ps, uint64_t now)
{
	struct wg_peer *p = wg_device_find_peer(dp_wg(dp), ps->public_key);
	struct wg_peer_info info;
	int ret;

	if (ps->flags & UAPI_PEER_REMOVE) {
		if (p)
			dp_peer_remove(dp, p);
		return 0;
	}
	if (!p && (ps->flags & UAPI_PEER_UPDATE_ONLY))
		return 0;
	if (!p) {
		const uint8_t *self = wg_device_public_key(dp_wg(dp));

		/* as wireguard-go: our own key as a peer is ignored */
		if (self && !sodium_memcmp(self, ps->public_key, WG_KEY_LEN))
			return 0;
		ret = dp_peer_add(dp, ps->public_key, NULL, &p);
		if (ret)
			return ret;
	}
	if (ps->flags & UAPI_PEER_PRESHARED_KEY)
		wg_peer_set_psk(p, ps->preshared_key);
	if (ps->flags & UAPI_PEER_ENDPOINT)
		wg_peer_set_endpoint(p, &ps->endpoint);
	ret = set_allowed_ips(dp, p, set, ps);
	if (ret)
		return ret;
	if (ps->flags & UAPI_PEER_KEEPALIVE) {
		wg_peer_get_info(p, &info);
		wg_peer_set_persistent_keepalive(p, ps->persistent_keepalive,
						 now);
		/* a new interval starts with a keepalive at once (§6.5) */
		if (ps->persistent_keepalive && !info.persistent_keepalive_s)
			wg_peer_send_keepalive(p, now);
	}
	return 0;
}

static int apply_set(struct dp *dp, const struct uapi_set *set)
{
	uint64_t now = clock_now_ms();
	int ret = 0;

	if (set->flags & UAPI_SET_PRIVATE_KEY)
		ret = set_private_key(dp, set->private_key);
	if (!ret && (set->flags & UAPI_SET_LISTEN_PORT))
		ret = dp_set_listen_port(dp, set->listen_port);
	if (!ret && (set->flags & UAPI_SET_FWMARK))
		ret = dp_set_fwmark(dp, set->fwmark);
	if (!ret && (set->flags & UAPI_SET_REPLACE_PEERS))
		dp_peer_remove_all(dp);
	for (size_t i = 0; !ret && i < set->n_peers; i++)
		ret = set_peer(dp, set, &set->peers[i], now);
	drop_self_peer(dp);
	dp_changed(dp);
	return ret;
}

static int write_aip(void *arg, int family, const uint8_t *ip, uint8_t cidr,
		     void *peer)
{
	return uapi_write_allowed_ip(arg, family, ip, cidr);
}

static int write_get(struct dp *dp, struct uapi_buf *ans)
{
	struct uapi_device_info d = { 0 };
	struct wg_peer *p = NULL;
	int ret;

	d.has_private_key =
		wg_device_get_private_key(dp_wg(dp), d.private_key) == 0;
	d.listen_port = dp_listen_port(dp);
	d.fwmark = dp_fwmark(dp);
	ret = uapi_write_device(ans, &d);
	sodium_memzero(&d, sizeof(d));
	while (!ret && (p = wg_device_next_peer(dp_wg(dp), p))) {
		struct wg_peer_info wi;
		struct uapi_peer_info ui = { 0 };

		wg_peer_get_info(p, &wi);
		memcpy(ui.public_key, wi.public_key, UAPI_KEY_LEN);
		ui.has_preshared_key = wg_peer_get_psk(p, ui.preshared_key);
		ui.endpoint = wi.endpoint;
		ui.last_handshake_sec = wi.last_handshake_unix_s;
		ui.last_handshake_nsec = wi.last_handshake_unix_ns;
		ui.rx_bytes = wi.rx_bytes;
		ui.tx_bytes = wi.tx_bytes;
		ui.persistent_keepalive = wi.persistent_keepalive_s;
		ret = uapi_write_peer(ans, &ui);
		sodium_memzero(&ui, sizeof(ui));
		if (!ret)
			ret = allowedips_walk(dp_allowedips(dp), p, write_aip,
					      ans);
	}
	return ret;
}

int uapi_server_handle(struct dp *dp, enum uapi_op op,
		       const struct uapi_set *set, struct uapi_buf *ans)
{
	if (op == UAPI_OP_GET)
		return write_get(dp, ans);
	if (op == UAPI_OP_SET && set)
		return apply_set(dp, set);
	return -EPROTO;
}

/* ------------------------------------------------------------ connections */

static void on_conn_closed(uv_handle_t *h)
{
	struct uapi_client *c = h->data;

	close(c->fd);
	if (c->in) {
		sodium_memzero(c->in, c->in_cap);
		free(c->in);
	}
	uapi_buf_free(&c->out);
	free(c);
}

static void conn_close(struct uapi_client *c)
{
	struct uapi_server *srv = c->srv;
	struct uapi_client **pp = &srv->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	srv->nconns--;
	uv_poll_stop(&c->poll);
	uv_close((uv_handle_t *)&c->poll, on_conn_closed);
}

/* Answer the complete request at the front of c->in (len bytes). */
static int conn_answer(struct uapi_client *c, size_t len)
{
	struct uapi_set *set = NULL;
	enum uapi_op op;
	int err;

	err = uapi_parse(c->in, len, &op, &set);
	if (err == -EPROTO && len >= 4 && memcmp(c->in, "set=", 4) != 0 &&
	    memcmp(c->in, "get=", 4) != 0)
		return -EPROTO; /* not an operation at all: hang up */
	uapi_buf_free(&c->out);
	uapi_buf_init(&c->out);
	c->out_off = 0;
	if (!err)
		err = uapi_server_handle(c->srv->dp, op, set, &c->out);
	if (err) {
		/* an answer is all or nothing */
		uapi_buf_free(&c->out);
		uapi_buf_init(&c->out);
	}
	uapi_set_free(set);
	uapi_write_end(&c->out, err);
	sodium_memzero(c->in, len);
	memmove(c->in, c->in + len, c->in_len - len);
	c->in_len -= len;
	return c->out.err;
}

static int conn_grow(struct uapi_client *c)
{
	size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
	char *nb;

	if (c->in_cap >= UAPI_MAX_REQUEST)
		return -E2BIG;
	nb = malloc(cap);
	if (!nb)
		return -ENOMEM;
	if (c->in) {
		memcpy(nb, c->in, c->in_len);
		sodium_memzero(c->in, c->in_cap);
		free(c->in);
	}
	c->in = nb;
	c->in_cap = cap;
	return 0;
}

/* Write what is left of the answer; 1 when all went, 0 when blocked. */
static int conn_flush(struct uapi_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off,
				 c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		c->out_off += (size_t)n;
	}
	uapi_buf_free(&c->out);
	uapi_buf_init(&c->out);
	c->out_off = 0;
	return 1;
}

/* Read and answer until blocked; 0 to go on, <0 to close. */
static int conn_read(struct uapi_client *c)
{
	for (;;) {
		ssize_t rlen = uapi_request_len(c->in ? c->in : "", c->in_len);
		ssize_t n;
		int ret;

		if (rlen < 0)
			return (int)rlen;
		if (rlen > 0) {
			ret = conn_answer(c, (size_t)rlen);
			if (ret)
				return ret;
			ret = conn_flush(c);
			if (ret <= 0)
				return ret; /* error, or wait for writable */
			continue;
		}
		if (c->eof)
			return -ECONNRESET;
		if (c->in_len == c->in_cap && (ret = conn_grow(c)))
			return ret;
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		c->in_len += (size_t)n;
	}
}

static void on_conn(uv_poll_t *h, int status, int events)
{
	struct uapi_client *c = h->data;
	int ret;

	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->out_off < c->out.len) {
		ret = conn_flush(c);
		if (ret < 0) {
			conn_close(c);
			return;
		}
		if (ret == 0)
			return; /* still blocked */
	}
	ret = conn_read(c);
	if (ret < 0) {
		if (ret != -ECONNRESET)
			log_debug(TOPIC, "closing a connection: %s",
				  strerror(-ret));
		conn_close(c);
		return;
	}
	uv_poll_start(&c->poll,
		      c->out_off < c->out.len ? UV_WRITABLE : UV_READABLE,
		      on_conn);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct uapi_server *srv = h->data;
	struct uapi_client *c;
	int fd;

	if (status < 0)
		return;
	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (srv->nconns >= UAPI_SERVER_MAX_CONNS ||
	    !(c = calloc(1, sizeof(*c)))) {
		log_ratelimited(LOG_LEVEL_WARN, TOPIC,
				"refusing a connection: %u open", srv->nconns);
		close(fd);
		return;
	}
	c->fd = fd;
	c->srv = srv;
	uapi_buf_init(&c->out);
	if (uv_poll_init(srv->loop, &c->poll, fd)) {
		close(fd);
		free(c);
		return;
	}
	c->poll.data = c;
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
	uv_poll_start(&c->poll, UV_READABLE, on_conn);
}

/* ------------------------------------------------------------ server */

/* Is a live process answering on path? */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return ret == 0;
}

int uapi_server_create(uv_loop_t *loop, const char *dir, const char *ifname,
		       struct dp *dp, struct uapi_server **out)
{
	struct uapi_server *srv;
	int n, ret;

	if (!dir)
		dir = "/var/run/wireguard";
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->dp = dp;
	n = snprintf(srv->path, sizeof(srv->path), "%s/%s.sock", dir, ifname);
	ret = -ENAMETOOLONG;
	if (n < 0 || (size_t)n >= sizeof(srv->path))
		goto err;
	ret = -EADDRINUSE;
	if (socket_alive(srv->path))
		goto err;
	/* only root may look inside, as with wireguard-go's sockets */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		goto err;
	}
	ret = uapi_listen(dir, ifname);
	if (ret < 0)
		goto err;
	srv->listen_fd = ret;
	/* bound under umask 077 (0700): write is what connecting needs, 0600 */
	if (chmod(srv->path, 0600) < 0)
		log_warn(TOPIC, "chmod %s: %s", srv->path, strerror(errno));
	ret = uv_poll_init(loop, &srv->listen_poll, srv->listen_fd);
	if (ret) {
		close(srv->listen_fd);
		unlink(srv->path);
		goto err;
	}
	srv->listen_poll.data = srv;
	uv_poll_start(&srv->listen_poll, UV_READABLE, on_accept);
	log_info(TOPIC, "serving %s", srv->path);
	*out = srv;
	return 0;
err:
	free(srv);
	return ret;
}

static void on_listen_closed(uv_handle_t *h)
{
	struct uapi_server *srv = h->data;

	close(srv->listen_fd);
	free(srv);
}

void uapi_server_destroy(struct uapi_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns);
	unlink(srv->path);
	uv_poll_stop(&srv->listen_poll);
	uv_close((uv_handle_t *)&srv->listen_poll, on_listen_closed);
}
