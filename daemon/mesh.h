/* SPDX-License-Identifier: MIT */
/*
 * icemeshd's mesh mode (docs/daemon.md): the data plane, the coordinator
 * client, one ICE agent per awake peer, the node's TURN allocation, the
 * netlink watcher and the control socket, on one libuv loop.
 */
#ifndef ICEMESH_DAEMON_MESH_H
#define ICEMESH_DAEMON_MESH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

enum {
	MESH_MAX_PEERS = 1024, /* CTL_MAX_PEERS: what status can show */
	MESH_IDLE_MS = 300000, /* a peer without traffic goes to sleep */
	MESH_RETRY_MS = 10000, /* after ICE failed, before trying again */
	MESH_RESELECT_MS = 10000, /* after consent loss, then a new session */
	MESH_REOFFER_MS = 3000, /* our offer unanswered: send it again */
	MESH_HELD_SIGNALS = 32, /* from nodes our map does not name yet */
	MESH_HELD_MS = 30000, /* how long they are kept */
	MESH_UP_TIMEOUT_MS = 25000, /* `up` waits this long for the map */
	MESH_HOUSEKEEP_MS = 1000,
	MESH_NETCHECK_MS = 2500,
};

struct mesh_config {
	uv_loop_t *loop;
	const char *state_dir;
	const char *socket_path;
	const char *ifname;
	uint16_t port;
	/* the TUN is gone for good (deleted): the daemon should stop */
	void (*on_fatal)(void *arg, int err);
	void *arg;
};

struct mesh;

/*
 * Create the TUN and the control socket, then (if the node was up when it
 * last ran) rejoin the mesh with the saved identity. Returns 0 or -errno,
 * having logged what failed.
 */
int mesh_create(const struct mesh_config *cfg, struct mesh **out);
/* Leave (the TUN goes with its routes) and free; run the loop after. */
void mesh_destroy(struct mesh *m);
/* SIGHUP: ask the coordinator for the map again (TURN, STUN servers). */
void mesh_reload(struct mesh *m);
/* The TUN's name. */
const char *mesh_ifname(const struct mesh *m);

#endif
