/* SPDX-License-Identifier: MIT */
/*
 * The coordinator as icemeshd sees it (docs/API.md, docs/coordinator-client.md).
 *
 * On the daemon's libuv loop, with nothing blocking it, a coordc:
 *   - registers the node once with an auth key and keeps the node credential
 *     in the state directory (coord.json, mode 0600);
 *   - long-polls the network map (GET /v1/netmap?since=V&wait=W) and hands
 *     every new version to the daemon; the last one is cached in the state
 *     directory (netmap.json: tmp + fsync + rename, 0600) and handed over at
 *     start, so a node that restarts while the coordinator is down still
 *     knows its peers;
 *   - seals outgoing signals for a peer (sealbox.h) and posts them in order,
 *     each under one id, so that retries are delivered exactly once;
 *   - long-polls incoming signals, opens them (refusing forged, replayed and
 *     stale ones) and acknowledges by cursor once they are handed over;
 *   - when the coordinator cannot be reached, parks the loops and probes
 *     GET /v1/health with exponential backoff and jitter; the first answer
 *     resumes everything at once.
 */
#ifndef ICEMESH_COORDC_COORDC_H
#define ICEMESH_COORDC_COORDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "coordinator-client/msg.h"

struct coordc_callbacks {
	/*
	 * A new network map; from_cache when it is the cached one at start.
	 * nm stays valid until the next netmap call or coordc_free.
	 */
	void (*netmap)(const struct coordc_netmap *nm, bool from_cache,
		       void *arg);
	/* A signal sealed by from_key (authenticated), in order, once. */
	void (*signal)(const uint8_t from_key[COORDC_KEY_LEN], uint64_t from_id,
		       const uint8_t *msg, size_t len, void *arg);
	/* The coordinator became reachable (up) or unreachable (!up). */
	void (*connectivity)(bool up, void *arg);
	/* Registration failed for good (auth key refused): code from the API. */
	void (*fatal)(const char *code, void *arg);
	void *arg;
};

struct coordc_config {
	const char *url; /* "https://coord.example:8443" */
	const char *ca_file; /* or NULL */
	const char *pin; /* "sha256//..." or NULL */
	bool allow_http; /* plain http:// (loopback behind a proxy) */
	const char *state_dir; /* exists, owned by us */
	const char *auth_key; /* NULL when already registered */
	const char *hostname; /* wanted name, or NULL */
	uint8_t node_sk[COORDC_KEY_LEN]; /* X25519 identity (copied, wiped) */
	uint8_t node_pk[COORDC_KEY_LEN];
	uint32_t poll_wait_s; /* long-poll hold, 0: 60 */
	uint32_t request_timeout_ms; /* other requests, 0: 15000 */
	uint32_t backoff_base_ms; /* 0: 500 */
	uint32_t backoff_max_ms; /* 0: 30000 */
	struct coordc_callbacks cb;
};

enum {
	COORDC_MAX_OUTBOX = 256, /* signals waiting to be posted */
	COORDC_OUTBOX_MAX_AGE_MS = 90000, /* then dropped: peers refuse them */
};

struct coordc_stats {
	uint64_t netmaps, signals_in, signals_out;
	uint64_t signals_refused; /* forged, replayed, stale, malformed */
	uint64_t signals_dropped; /* outbox: full, too old, refused */
	uint64_t requests_failed;
	uint64_t probes;
};

struct coordc;

/* Copies cfg. NULL on bad config or ENOMEM. Free with coordc_free. */
struct coordc *coordc_new(uv_loop_t *loop, const struct coordc_config *cfg);
/*
 * Load the state (credential, cached map: its callback runs from here),
 * then register if needed and start the loops. Returns 0 or a negative
 * errno (unreadable state directory, corrupt state file).
 */
int coordc_start(struct coordc *c);
/*
 * Seal len bytes for the peer with this key and queue them for sending.
 * Returns 0, -ENOENT (no such peer in the map), -EMSGSIZE, -ENOBUFS (outbox
 * full) or another negative errno.
 */
int coordc_send(struct coordc *c, const uint8_t peer_key[COORDC_KEY_LEN],
		const void *msg, size_t len);
/* The current map (NULL before the first), valid as in the callback. */
const struct coordc_netmap *coordc_netmap(const struct coordc *c);
bool coordc_is_up(const struct coordc *c);
void coordc_get_stats(const struct coordc *c, struct coordc_stats *out);
/*
 * Wipe and drop the auth key (once registered): a node removed on the
 * coordinator then ends with fatal("unauthorized") instead of registering
 * again as a new node.
 */
void coordc_forget_auth_key(struct coordc *c);
/*
 * Stop everything (no more callbacks). Handles close asynchronously: run
 * the loop afterwards. Not from inside a coordc callback.
 */
void coordc_free(struct coordc *c);

#endif
