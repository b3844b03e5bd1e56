/* SPDX-License-Identifier: MIT */
/*
 * The coordinator's HTTPS server: libmicrohttpd with its own epoll thread
 * runs every request handler (and so every storage call of the API) on one
 * thread; long-polls are suspended connections, resumed by a change of the
 * network map, a signal for the node, or their deadline (checked by a
 * housekeeping thread that also publishes map versions, tracks online state
 * and purges old signals and stale ephemeral nodes).
 */
#ifndef ICEMESH_COORD_SERVER_H
#define ICEMESH_COORD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"

struct coord_server;

struct coord_server_opts {
	const char *state_dir;
	union sockaddr_any listen; /* port 0 picks a free one */
	bool insecure_http; /* plain HTTP; loopback only */
	const char *cert_path, *key_path; /* both or neither */
	unsigned max_connections; /* 0: 4096 */
	unsigned max_per_ip; /* 0: no limit */
	unsigned conn_timeout_s; /* 0: 150 */
	unsigned online_grace_ms; /* 0: COORD_ONLINE_GRACE_MS */
};

enum {
	COORD_DEFAULT_MAX_CONN = 4096,
	COORD_DEFAULT_MAX_PER_IP = 256,
	COORD_DEFAULT_TIMEOUT_S = 150,
	COORD_MAX_POLLS_PER_NODE = 4,
	COORD_ONLINE_GRACE_MS = 15000,
	COORD_PUBLISH_MIN_MS = 500,
	COORD_EPHEMERAL_IDLE_S = 600,
};

/* Start serving (threads running on return). Returns 0 or -errno. */
int coord_server_start(const struct coord_server_opts *opts,
		       struct coord_server **out);
/* The bound port (host order). */
uint16_t coord_server_port(const struct coord_server *srv);
/* "sha256//..." of the certificate in use ("" for plain HTTP). */
const char *coord_server_pin(const struct coord_server *srv);
/* Stop answering, end long-polls, free everything; accepts NULL. */
void coord_server_stop(struct coord_server *srv);

#endif
