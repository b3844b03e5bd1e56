/* SPDX-License-Identifier: MIT */
/*
 * The pure decisions of a peer's life in the mesh (docs/daemon.md): what
 * a description from the peer does to our ICE session, and how a new
 * network map changes the peer list. No I/O, no clocks: unit-tested, and
 * the mesh (mesh.c) only carries them out.
 */
#ifndef ICEMESH_DAEMON_PEERSTATE_H
#define ICEMESH_DAEMON_PEERSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Our side of one peer's ICE session. */
struct peerstate_ice {
	bool awake; /* an agent exists */
	uint64_t mygen; /* our session (never 0 when awake) */
	uint64_t rgen; /* the peer's session we pair with; 0: none yet */
};

enum peerstate_action {
	PEERSTATE_WAKE, /* asleep: start a session answering gen */
	PEERSTATE_IGNORE, /* a description already applied */
	PEERSTATE_ACCEPT, /* the answer to our session: apply it */
	PEERSTATE_RESTART, /* the peer began anew: new session answering */
	PEERSTATE_REOFFER, /* both offered: apply theirs, resend ours */
};

/*
 * A description (gen, ack) arrived: what to do. gen is the peer's session,
 * ack the session of ours it answers (0: none, a new session).
 */
enum peerstate_action peerstate_on_desc(const struct peerstate_ice *s,
					uint64_t gen, uint64_t ack);

/*
 * A new map: match the keys of the peers we have (cur, n_cur) against the
 * map's (next, n_next, 32 bytes each). map_to_cur[i] is the index in cur of
 * next[i], -1 for a new peer, -2 for an entry to ignore (our own key, or a
 * key already earlier in the map); keep[j] says whether cur[j] is still in
 * the map. Returns the number of peers to add. Quadratic: the caller caps
 * n_next (MESH_MAX_PEERS).
 */
size_t peerstate_diff(const uint8_t (*cur)[32], size_t n_cur,
		      const uint8_t (*next)[32], size_t n_next,
		      const uint8_t self[32], long *map_to_cur, bool *keep);

#endif
