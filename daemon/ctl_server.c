// SPDX-License-Identifier: MIT
/*
 * Control socket server: accept, read lines with ctl_reader, parse with
 * ctl_request_parse, hand valid requests to the handler, write answers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"
#include "daemon/ctl_server.h"

#define TOPIC "control"

enum {
	OUT_MAX = 4 * CTL_LINE_MAX, /* answers queued for a slow client */
};

struct ctlsrv_req {
	struct conn *conn;
	uint64_t id;
	enum ctl_cmd cmd;
	bool active;
};

struct conn {
	uv_poll_t poll;
	uv_timer_t idle;
	struct ctlsrv *srv;
	struct conn *next;
	int fd;
	int handles; /* open libuv handles; freed at 0 */
	struct ctl_reader rd;
	char *out;
	size_t out_len, out_off, out_cap;
	struct ctlsrv_req req;
	bool closing;
	bool close_after_flush;
};

struct ctlsrv {
	uv_loop_t *loop;
	struct ctlsrv_handler h;
	uv_poll_t listen_poll;
	int listen_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn *conns;
	unsigned nconns;
};

static void conn_update(struct conn *c);

static void on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles)
		return;
	close(c->fd);
	ctl_reader_destroy(&c->rd);
	free(c->out);
	free(c);
}

static void conn_close(struct conn *c)
{
	struct conn **pp = &c->srv->conns;

	if (c->closing)
		return;
	c->closing = true;
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	c->srv->nconns--;
	if (c->req.active) {
		c->req.active = false;
		if (c->srv->h.cancel)
			c->srv->h.cancel(c->srv->h.arg, &c->req);
	}
	uv_poll_stop(&c->poll);
	uv_timer_stop(&c->idle);
	uv_close((uv_handle_t *)&c->poll, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

/* Queue a line (with its newline) for writing; takes nothing over. */
static int conn_queue(struct conn *c, const char *line, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *nb;

		while (cap < c->out_len + len)
			cap *= 2;
		if (cap > OUT_MAX)
			return -ENOBUFS;
		nb = realloc(c->out, cap);
		if (!nb)
			return -ENOMEM;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
	return 0;
}

/* 1 when everything went, 0 when blocked, <0 on error. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		c->out_off += (size_t)n;
	}
	return 1;
}

static void send_built(struct conn *c, int r, char *line, size_t len)
{
	if (!r) {
		r = conn_queue(c, line, len);
		free(line);
	}
	if (r) {
		log_warn(TOPIC, "dropping a client: %s", strerror(-r));
		c->close_after_flush = true;
	}
}

static void send_error(struct conn *c, bool has_id, uint64_t id,
		       const struct ctl_error *e)
{
	char *line = NULL;
	size_t len = 0;
	int r = ctl_response_build_error(has_id, id, e, &line, &len);

	send_built(c, r, line, len);
}

static void handle_line(struct conn *c, const char *line, size_t len)
{
	struct ctl_request req;
	struct ctl_error err;

	memset(&err, 0, sizeof(err));
	if (ctl_request_parse(line, len, &req, &err)) {
		send_error(c, err.has_id, err.id, &err);
		return;
	}
	c->req.active = true;
	c->req.id = req.id;
	c->req.cmd = req.cmd;
	c->srv->h.request(c->srv->h.arg, &c->req, &req);
	ctl_request_wipe(&req);
}

/* Take complete lines while no request is pending. */
static int conn_process(struct conn *c)
{
	char *line;
	size_t len;
	int r;

	while (!c->req.active && !c->close_after_flush) {
		r = ctl_reader_next(&c->rd, &line, &len);
		if (r == 1) {
			handle_line(c, line, len);
			sodium_memzero(line, len);
			continue;
		}
		if (r == -EMSGSIZE) {
			struct ctl_error e;

			ctl_error_set(&e, CTL_E_LINE_TOO_LONG,
				      "request longer than %d bytes",
				      CTL_REQUEST_MAX);
			send_error(c, false, 0, &e);
			c->close_after_flush = true;
			return 0;
		}
		if (r < 0)
			return r;
		if (c->rd.eof)
			return -ECONNRESET;
		return 0;
	}
	return 0;
}

static int conn_read(struct conn *c)
{
	for (;;) {
		ssize_t n;
		int r = conn_process(c);

		if (r < 0)
			return r;
		if (c->req.active || c->close_after_flush)
			return 0;
		n = ctl_reader_fill(&c->rd, c->fd);
		if (n == -EAGAIN)
			return 0;
		if (n == -EMSGSIZE) {
			struct ctl_error e;

			ctl_error_set(&e, CTL_E_LINE_TOO_LONG,
				      "request longer than %d bytes",
				      CTL_REQUEST_MAX);
			send_error(c, false, 0, &e);
			c->close_after_flush = true;
			return 0;
		}
		if (n < 0)
			return (int)n;
		if (n == 0) {
			c->rd.eof = true;
			r = conn_process(c);
			if (r < 0)
				return r;
			/* answer what is pending, then go */
			if (!c->req.active)
				c->close_after_flush = true;
			return 0;
		}
	}
}

static void on_idle(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (!c->req.active)
		conn_close(c);
}

static void on_conn(uv_poll_t *h, int status, int events);

/* Poll for what the connection needs now; close when it is done. */
static void conn_update(struct conn *c)
{
	int r, events = 0;

	if (c->closing)
		return;
	r = conn_flush(c);
	if (r < 0 || (r == 1 && c->close_after_flush) ||
	    (r == 1 && c->rd.eof && !c->req.active)) {
		conn_close(c);
		return;
	}
	if (r == 0)
		events |= UV_WRITABLE;
	if (!c->req.active && !c->close_after_flush && !c->rd.eof)
		events |= UV_READABLE;
	else if (c->req.active)
		events |= UV_DISCONNECT; /* a client that leaves cancels */
	if (events)
		uv_poll_start(&c->poll, events, on_conn);
	else
		uv_poll_stop(&c->poll);
	if (c->req.active)
		uv_timer_stop(&c->idle);
	else
		uv_timer_start(&c->idle, on_idle, CTLSRV_IDLE_MS, 0);
}

static void on_conn(uv_poll_t *h, int status, int events)
{
	struct conn *c = h->data;
	int r;

	if (status < 0) {
		conn_close(c);
		return;
	}
	if ((events & UV_DISCONNECT) && c->req.active) {
		conn_close(c);
		return;
	}
	if ((events & UV_READABLE) && (r = conn_read(c)) < 0) {
		if (r != -ECONNRESET)
			log_debug(TOPIC, "closing a client: %s", strerror(-r));
		conn_close(c);
		return;
	}
	conn_update(c);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct ctlsrv *srv = h->data;
	struct conn *c;
	int fd;

	if (status < 0)
		return;
	fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (srv->nconns >= CTLSRV_MAX_CONNS) {
		static const char busy[] =
			"{\"id\":null,\"ok\":false,\"error\":{\"code\":\"busy\","
			"\"message\":\"too many clients\"}}\n";

		if (send(fd, busy, sizeof(busy) - 1,
			 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug(TOPIC, "busy: %s", strerror(errno));
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->srv = srv;
	c->req.conn = c;
	ctl_reader_init(&c->rd, CTL_REQUEST_MAX);
	uv_poll_init(srv->loop, &c->poll, fd);
	uv_timer_init(srv->loop, &c->idle);
	c->poll.data = c->idle.data = c;
	c->handles = 2;
	c->next = srv->conns;
	srv->conns = c;
	srv->nconns++;
	conn_update(c);
}

/* ------------------------------------------------------------ answers */

static void finish(struct ctlsrv_req *h)
{
	struct conn *c = h->conn;

	h->active = false;
	if (c->closing)
		return;
	/* more lines may already be buffered */
	if (conn_process(c) < 0)
		c->close_after_flush = true;
	conn_update(c);
}

void ctlsrv_reply_ok(struct ctlsrv_req *h, const union ctl_result *result)
{
	struct ctl_error err;
	char *line = NULL;
	size_t len = 0;
	int r;

	if (!h->active)
		return;
	r = ctl_response_build_ok(h->id, h->cmd, result, &line, &len, &err);
	if (r == -EINVAL) {
		log_error(TOPIC, "bug: %s answer refused: %s",
			  ctl_cmd_name(h->cmd), err.message);
		ctl_error_set(&err, CTL_E_INTERNAL, "%.480s",
			      err.message);
		r = ctl_response_build_error(true, h->id, &err, &line, &len);
	}
	send_built(h->conn, r, line, len);
	finish(h);
}

void ctlsrv_reply_error(struct ctlsrv_req *h, enum ctl_errcode code,
			const char *fmt, ...)
{
	struct ctl_error err;
	va_list ap;

	if (!h->active)
		return;
	memset(&err, 0, sizeof(err));
	va_start(ap, fmt);
	ctl_error_set(&err, code, "%s", "");
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	send_error(h->conn, true, h->id, &err);
	finish(h);
}

void ctlsrv_event(struct ctlsrv_req *h, const union ctl_result *event)
{
	struct ctl_error err;
	char *line = NULL;
	size_t len = 0;
	int r;

	if (!h->active || h->conn->closing)
		return;
	r = ctl_response_build_event(h->id, h->cmd, event, &line, &len, &err);
	if (r == -EINVAL) {
		log_error(TOPIC, "bug: event refused: %s", err.message);
		return;
	}
	send_built(h->conn, r, line, len);
	conn_update(h->conn);
}

enum ctl_cmd ctlsrv_req_cmd(const struct ctlsrv_req *h)
{
	return h->cmd;
}

/* ------------------------------------------------------------ server */

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

static int listen_on(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT) {
		ret = -errno;
		goto err;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 16) < 0) {
		ret = -errno;
		goto err;
	}
	/* bound under the service's umask; the group may connect */
	if (chmod(path, 0660) < 0)
		log_warn(TOPIC, "chmod %s: %s", path, strerror(errno));
	return fd;
err:
	close(fd);
	return ret;
}

int ctlsrv_create(uv_loop_t *loop, const char *path,
		  const struct ctlsrv_handler *h, struct ctlsrv **out)
{
	struct ctlsrv *srv;
	int ret;

	if (!h || !h->request || strlen(path) >= sizeof(srv->path))
		return -EINVAL;
	if (socket_alive(path))
		return -EADDRINUSE;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->h = *h;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	ret = listen_on(path);
	if (ret < 0) {
		free(srv);
		return ret;
	}
	srv->listen_fd = ret;
	uv_poll_init(loop, &srv->listen_poll, srv->listen_fd);
	srv->listen_poll.data = srv;
	uv_poll_start(&srv->listen_poll, UV_READABLE, on_accept);
	log_info(TOPIC, "serving %s", srv->path);
	*out = srv;
	return 0;
}

static void on_listen_closed(uv_handle_t *h)
{
	struct ctlsrv *srv = h->data;

	close(srv->listen_fd);
	free(srv);
}

void ctlsrv_destroy(struct ctlsrv *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_close(srv->conns);
	unlink(srv->path);
	uv_poll_stop(&srv->listen_poll);
	uv_close((uv_handle_t *)&srv->listen_poll, on_listen_closed);
}
