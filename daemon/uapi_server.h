/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard userspace API socket of one interface
 * (/var/run/wireguard/NAME.sock, wireguard.com/xplatform), served from the
 * data plane's loop without blocking it: wg(8) shows and sets the interface
 * through it exactly as it does wireguard-go's.
 *
 * Requests are parsed with wireguard/uapi.h and applied to the data plane
 * (dataplane.h): keys, port, fwmark, peers, endpoints, allowed IPs,
 * keepalive. Connections are capped (UAPI_SERVER_MAX_CONNS), each request
 * by the parser's UAPI_MAX_REQUEST.
 */
#ifndef ICEMESH_DAEMON_UAPI_SERVER_H
#define ICEMESH_DAEMON_UAPI_SERVER_H

#include <uv.h>

#include "daemon/dataplane.h"
#include "wireguard/uapi.h"

struct uapi_server;

enum {
	UAPI_SERVER_MAX_CONNS = 16,
};

/*
 * Listen on dir/ifname.sock (dir NULL: /var/run/wireguard). The directory
 * is made 0700 when missing, the socket 0600. Returns 0, -EADDRINUSE when
 * a live process already serves that socket, or -errno.
 */
int uapi_server_create(uv_loop_t *loop, const char *dir, const char *ifname,
		       struct dp *dp, struct uapi_server **out);
/*
 * Close every connection, remove the socket file. Handles close
 * asynchronously (run the loop afterwards). Accepts NULL.
 */
void uapi_server_destroy(struct uapi_server *srv);

/*
 * Apply one request to dp and write the answer's body (not the errno line)
 * into ans. Returns the errno for uapi_write_end: 0 or -errno. What
 * uapi_server uses; exposed for tests.
 */
int uapi_server_handle(struct dp *dp, enum uapi_op op,
		       const struct uapi_set *set, struct uapi_buf *ans);

#endif
