/* SPDX-License-Identifier: MIT */
/*
 * The ICE signal between two icemeshd, carried sealed by the coordinator
 * (docs/daemon.md): plain text, RFC 8839 lines after a two-line header.
 *
 *   icemesh-signal 1
 *   desc GEN ACK          our session GEN; ACK: the peer's session it
 *                         answers (0: a new session, the peer restarts)
 *   a=ice-ufrag:...       desc only, exactly once
 *   a=ice-pwd:...         desc only, exactly once
 *   a=candidate:...       any number (desc or cand)
 *   a=end-of-candidates
 *
 * or "cand GEN" followed by candidate / end-of-candidates lines only.
 * GEN and ACK are 16 lowercase hex digits; GEN is never 0. Lines end in
 * "\n". Parsing is strict: any other line refuses the whole message.
 */
#ifndef ICEMESH_DAEMON_SIGMSG_H
#define ICEMESH_DAEMON_SIGMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice/ice_candidate.h"

enum {
	SIGMSG_MAX_CANDS = 32,
	SIGMSG_MAX_LEN = 8192, /* whole message */
};

enum sigmsg_kind {
	SIGMSG_DESC,
	SIGMSG_CAND,
};

struct sigmsg {
	enum sigmsg_kind kind;
	uint64_t gen;
	uint64_t ack; /* desc */
	char ufrag[ICE_CRED_MAX + 1]; /* desc */
	char pwd[ICE_CRED_MAX + 1]; /* desc */
	struct ice_candidate cands[SIGMSG_MAX_CANDS];
	size_t n_cands;
	bool end_of_candidates;
};

/* Parse len bytes. 0 and *out filled, or -EBADMSG (*out undefined). */
int sigmsg_parse(const char *buf, size_t len, struct sigmsg *out);

/*
 * Write a message into buf (cap bytes, NUL added): the header for kind,
 * then n candidate lines (already formatted, without "\n") and the
 * end-of-candidates line if eoc. Returns the length or -ENOSPC.
 */
int sigmsg_build(char *buf, size_t cap, enum sigmsg_kind kind, uint64_t gen,
		 uint64_t ack, const char *ufrag, const char *pwd,
		 const char *const *lines, size_t n, bool eoc);

#endif
