/* SPDX-License-Identifier: MIT */
/*
 * ICE candidates: types, priorities (RFC 8445 §5.1.2), foundations
 * (RFC 8445 §5.1.1.3) and the SDP lines of RFC 8839 that carry them
 * (a=candidate:, a=ice-ufrag:, a=ice-pwd:, a=end-of-candidates).
 *
 * Pure functions on caller-owned structs: nothing here allocates.
 */
#ifndef ICEMESH_ICE_CANDIDATE_H
#define ICEMESH_ICE_CANDIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

enum ice_cand_type {
	ICE_CAND_HOST,
	ICE_CAND_SRFLX,
	ICE_CAND_PRFLX,
	ICE_CAND_RELAY,
};

enum {
	/* Recommended type preferences, RFC 8445 §5.1.2.2 */
	ICE_TYPE_PREF_HOST = 126,
	ICE_TYPE_PREF_PRFLX = 110,
	ICE_TYPE_PREF_SRFLX = 100,
	ICE_TYPE_PREF_RELAY = 0,
	/* foundation is 1*32 ice-char, RFC 8839 §5.1 */
	ICE_FOUNDATION_MAX = 32,
	/* ice-ufrag 4*256 ice-char, ice-pwd 22*256 ice-char, RFC 8839 §5.4 */
	ICE_UFRAG_MIN = 4,
	ICE_PWD_MIN = 22,
	ICE_CRED_MAX = 256,
	/* Longest description line we write or accept. */
	ICE_LINE_MAX = 512,
	/* The one component icemesh uses (RFC 8445 §5.1.2.1: RTP = 1). */
	ICE_COMPONENT = 1,
};

struct ice_candidate {
	enum ice_cand_type type;
	uint8_t component;
	uint32_t priority;
	char foundation[ICE_FOUNDATION_MAX + 1];
	union sockaddr_any addr;
	/*
	 * For local candidates: the base (RFC 8445 §5.1.1.3). For remote
	 * ones: raddr/rport when the line had them (has_related), else zero.
	 */
	union sockaddr_any related;
	bool has_related;
};

/* "host", "srflx", "prflx", "relay" (RFC 8839 §5.1). */
const char *ice_cand_type_name(enum ice_cand_type t);
/* Parse a type name; 0 or -EINVAL. */
int ice_cand_type_parse(const char *s, enum ice_cand_type *out);
uint8_t ice_type_pref(enum ice_cand_type t);

/*
 * RFC 8445 §5.1.2.1: (2^24)*type_pref + (2^8)*local_pref + (256 - component).
 */
uint32_t ice_priority(enum ice_cand_type t, uint16_t local_pref,
		      uint8_t component);

/*
 * Local preference of a host address, RFC 8445 §5.1.2.1 with RFC 8421's
 * dual-stack interleaving: iface_rank is the interface's position in the
 * preference order (0 = most preferred), addr_rank the address's position
 * on that interface. IPv6 (non-deprecated, global) gets a small edge over
 * IPv4 on the same interface; interfaces dominate families, so a better
 * interface's IPv4 still beats a worse interface's IPv6.
 */
uint16_t ice_local_pref(unsigned iface_rank, unsigned addr_rank, int family);

/*
 * Foundation (RFC 8445 §5.1.1.3): equal for candidates of the same type,
 * base IP and server IP (server may be NULL for host/prflx). Writes 1..8
 * ice-chars and a NUL into out (size >= ICE_FOUNDATION_MAX + 1).
 */
void ice_foundation(enum ice_cand_type t, const union sockaddr_any *base,
		    const union sockaddr_any *server, char *out);

/*
 * Write "a=candidate:<foundation> 1 udp <prio> <ip> <port> typ <type>
 * [raddr <ip> rport <port>]" (no line end) into buf. Returns the length,
 * or -ENOSPC, -EINVAL for an address of unknown family.
 */
int ice_candidate_format(const struct ice_candidate *c, char *buf, size_t len);

/*
 * Read one candidate attribute, with or without a leading "a=" (the
 * trickle form "candidate:..." is accepted too). Unknown extension
 * attributes are skipped (RFC 8839 §5.1). Returns 0 and fills *out, or
 * -EINVAL for a malformed line, -EPROTONOSUPPORT for a transport other
 * than UDP, -EAFNOSUPPORT for an address that is not a numeric IPv4/IPv6
 * (an FQDN or mDNS name: we do not resolve peers' names). *out is
 * untouched on error.
 */
int ice_candidate_parse(const char *line, struct ice_candidate *out);

/* True if s is 1..max ice-chars (ALPHA / DIGIT / "+" / "/"), min..max long. */
bool ice_chars_valid(const char *s, size_t min, size_t max);

/* What an SDP line of a description is. */
enum ice_sdp_kind {
	ICE_SDP_UFRAG,
	ICE_SDP_PWD,
	ICE_SDP_CANDIDATE,
	ICE_SDP_END_OF_CANDIDATES,
	ICE_SDP_OTHER, /* any other line: ignored by readers */
};

struct ice_sdp_line {
	enum ice_sdp_kind kind;
	char value[ICE_CRED_MAX + 1]; /* ufrag or pwd */
	struct ice_candidate cand; /* candidate */
};

/*
 * Classify and read one description line (trailing CR/LF and spaces are
 * ignored). Returns 0 and fills *out, or a negative errno as
 * ice_candidate_parse does for candidate lines, -EINVAL for a ufrag/pwd
 * that is not ice-chars of the allowed length.
 */
int ice_sdp_parse_line(const char *line, struct ice_sdp_line *out);

#endif
