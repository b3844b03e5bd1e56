/* SPDX-License-Identifier: MIT */
/*
 * The daemon's end of the control socket (docs/control.md): a unix stream
 * socket served from the loop, one JSON request per line, parsed and
 * answered with common/ctl.h.
 *
 * Requests on one connection are answered in order: while one is pending
 * (an `up` waiting for the coordinator, a `ping` streaming events) the
 * connection is not read further. The handler answers at once or later
 * through the request handle; if the client goes away first, the handler's
 * cancel callback runs and the handle must not be used again.
 */
#ifndef ICEMESH_DAEMON_CTL_SERVER_H
#define ICEMESH_DAEMON_CTL_SERVER_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "common/ctl.h"

enum {
	CTLSRV_MAX_CONNS = 16,
	CTLSRV_IDLE_MS = 5000, /* a connection must send a line by then */
};

struct ctlsrv;
struct ctlsrv_req; /* one request being answered */

struct ctlsrv_handler {
	/*
	 * A valid request (req is wiped after the call: copy what is needed).
	 * Answer through h now or later, exactly once.
	 */
	void (*request)(void *arg, struct ctlsrv_req *h,
			const struct ctl_request *req);
	/* The client left before the answer: forget h. Optional. */
	void (*cancel)(void *arg, struct ctlsrv_req *h);
	void *arg;
};

/*
 * Listen on path: a stale socket file is removed first, the socket is
 * chmod 0660 after bind (root and the group of the runtime directory).
 * Returns 0, -EADDRINUSE when a live process answers on path, or -errno.
 */
int ctlsrv_create(uv_loop_t *loop, const char *path,
		  const struct ctlsrv_handler *h, struct ctlsrv **out);
/* Close all connections (cancelling what is pending), unlink the socket.
 * Handles close asynchronously. Accepts NULL. */
void ctlsrv_destroy(struct ctlsrv *srv);

/* The final answer. Result validated by ctl.h: a result the schema refuses
 * is logged and answered `internal`. Frees nothing of result. */
void ctlsrv_reply_ok(struct ctlsrv_req *h, const union ctl_result *result);
void ctlsrv_reply_error(struct ctlsrv_req *h, enum ctl_errcode code,
			const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An event before the final answer (ping). */
void ctlsrv_event(struct ctlsrv_req *h, const union ctl_result *event);
/* The command of the request h answers. */
enum ctl_cmd ctlsrv_req_cmd(const struct ctlsrv_req *h);

#endif
