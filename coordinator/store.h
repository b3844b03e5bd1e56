/* SPDX-License-Identifier: MIT */
/*
 * The coordinator's storage: one SQLite file (STATE_DIR/coord.db) holding
 * the network's configuration, auth keys, nodes with their addresses, and
 * the signal queue. Every change is one transaction, so a kill -9 at any
 * point leaves either all of a change or none of it.
 *
 * Durability: WAL, synchronous=NORMAL by default, FULL for the changes that
 * matter after a power loss. In WAL mode NORMAL already survives a kill -9
 * of the server (a committed transaction is in the OS page cache); what it
 * may lose on power loss is the last transactions. For signals that is fine
 * (they are short-lived, and ICE retries), and they are the hot path: an
 * fsync per signal would cap relaying at the disk's fsync rate. Auth keys,
 * registrations, renames and removals commit with FULL (fsync of the WAL
 * before COMMIT returns), so no node is ever answered with a credential or
 * address the server could forget.
 *
 * A handle is used by one thread at a time; open one per thread.
 */
#ifndef ICEMESH_COORD_STORE_H
#define ICEMESH_COORD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coordinator/cred.h"
#include "coordinator/req.h"

enum {
	COORD_SCHEMA_VERSION = 1,
	COORD_MAX_NODES = 100000,
	COORD_SIGNAL_MAX_AGE_S = 300,
	COORD_SIGNAL_MAX_PENDING = 256, /* per recipient */
	COORD_SIGNAL_MAX_PER_SENDER = 1024, /* per sender per max age */
	COORD_MAX_SERVERS = 4, /* STUN or TURN servers */
	COORD_SERVER_STRLEN = 128,
	COORD_SECRET_STRLEN = 129,
	COORD_PREFIX_STRLEN = 64,
	COORD_NAME_STRLEN = 64,
};

struct coord_store;

/* The network, as `init` sets it. */
struct coord_config {
	uint32_t v4_base; /* host byte order, host bits zero */
	uint8_t v4_len; /* 8..24 */
	uint8_t v6_prefix[16]; /* a /48: bytes 6..15 zero */
	char v4_str[COORD_PREFIX_STRLEN];
	char v6_str[COORD_PREFIX_STRLEN];
	unsigned n_stun, n_turn;
	char stun[COORD_MAX_SERVERS][COORD_SERVER_STRLEN];
	char turn[COORD_MAX_SERVERS][COORD_SERVER_STRLEN];
	char turn_secret[COORD_SECRET_STRLEN];
	uint32_t turn_ttl_s;
};

struct coord_node {
	uint64_t id;
	uint8_t key[COORD_KEY_LEN];
	char name[COORD_NAME_STRLEN];
	uint64_t slot;
	bool ephemeral;
	uint64_t created;
	uint64_t last_seen;
};

struct coord_signal {
	uint64_t seq;
	uint64_t from;
	uint8_t from_key[COORD_KEY_LEN];
	char id[COORD_MAX_MSGID + 1];
	uint64_t sent_at;
	const uint8_t *payload; /* valid during the callback only */
	size_t payload_len;
};

/*
 * Open (create if `create`) the database at path, apply the pragmas and the
 * schema migrations. Without `create`, a missing file is -ENOENT.
 */
int coord_store_open(const char *path, bool create, struct coord_store **out);
void coord_store_close(struct coord_store *s);

/* Write the network configuration once; -EEXIST if it is already set. */
int coord_store_config_init(struct coord_store *s,
			    const struct coord_config *cfg);
/* -ENOENT if the network was never initialised. */
int coord_store_config_get(struct coord_store *s, struct coord_config *cfg);
/* Parse "A.B.C.D/LEN" (LEN 8..24) and a "/48" ULA into cfg. */
int coord_config_set_v4(struct coord_config *cfg, const char *prefix);
int coord_config_set_v6(struct coord_config *cfg, const char *prefix);
/* The node's overlay addresses for its slot, as text. */
void coord_config_addr_v4(const struct coord_config *cfg, uint64_t slot,
			  char *buf, size_t len);
void coord_config_addr_v6(const struct coord_config *cfg, uint64_t slot,
			  char *buf, size_t len);

int coord_store_authkey_add(struct coord_store *s,
			    const uint8_t hash[COORD_HASH_LEN], bool reusable,
			    bool ephemeral, uint64_t expires, uint64_t now);

/*
 * Register a node key with an auth key (by hash). A known node key gets the
 * same node back (*created false) with cred_hash as its new credential.
 * Errors: -ENOKEY unknown key, -EKEYEXPIRED, -EKEYREJECTED (single-use key
 * used by another node), -ENOSPC (no address or node cap), -EIO.
 */
int coord_store_register(struct coord_store *s,
			 const uint8_t authkey_hash[COORD_HASH_LEN],
			 const uint8_t node_key[COORD_KEY_LEN],
			 const char *hostname,
			 const uint8_t cred_hash[COORD_HASH_LEN], uint64_t now,
			 struct coord_node *out, bool *created);

/* -ENOENT if no node holds this credential / id / name. */
int coord_store_node_by_cred(struct coord_store *s,
			     const uint8_t hash[COORD_HASH_LEN],
			     struct coord_node *out);
int coord_store_node_by_id(struct coord_store *s, uint64_t id,
			   struct coord_node *out);
int coord_store_node_by_name(struct coord_store *s, const char *name,
			     struct coord_node *out);
/* Every node by id; a non-zero return from cb stops and is returned. */
int coord_store_nodes_foreach(struct coord_store *s,
			      int (*cb)(const struct coord_node *, void *),
			      void *arg);
/* -ENOENT, -EEXIST (name taken), -EINVAL (bad name). */
int coord_store_node_rename(struct coord_store *s, uint64_t id,
			    const char *name);
/* Removes the node, its queued signals, and releases its address slot. */
int coord_store_node_remove(struct coord_store *s, uint64_t id, uint64_t now);
int coord_store_node_touch(struct coord_store *s, uint64_t id,
			   uint64_t last_seen);
/* last_seen = when for every id, in one transaction. */
int coord_store_touch_many(struct coord_store *s, const uint64_t *ids, size_t n,
			   uint64_t when);
/* Ephemeral nodes last seen before cutoff are removed (at most 64 a call). */
int coord_store_remove_stale_ephemeral(struct coord_store *s, uint64_t cutoff,
				       uint64_t now, unsigned *removed);

/* A counter that grows with every change to the set of nodes (any process). */
int coord_store_changes(struct coord_store *s, uint64_t *out);

/*
 * Queue a signal. A retry (same from, id, to, payload) within the max age
 * sets *dup and returns the first seq. Errors: -ENOENT unknown recipient,
 * -EEXIST same id other content, -ENOBUFS queue full, -EIO.
 */
int coord_store_signal_put(struct coord_store *s, uint64_t from,
			   const struct coord_signal_req *req, uint64_t now,
			   uint64_t *seq, bool *dup);
/* Acknowledge (drop) every message for `to` up to and including `after`. */
int coord_store_signal_ack(struct coord_store *s, uint64_t to, uint64_t after);
/*
 * Messages for `to` after `after`, in seq order, at most limit; *more says
 * whether more are waiting. Returns the number passed to cb, or -errno.
 */
int coord_store_signal_fetch(struct coord_store *s, uint64_t to, uint64_t after,
			     unsigned limit, uint64_t now,
			     int (*cb)(const struct coord_signal *, void *),
			     void *arg, bool *more);
/* Drop signals older than the max age. */
int coord_store_signal_purge(struct coord_store *s, uint64_t now);

#endif
