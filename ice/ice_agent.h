/* SPDX-License-Identifier: MIT */
/*
 * The ICE agent (RFC 8445, one data stream, one component) as a core
 * without sockets or clocks.
 *
 * The caller owns the sockets and the time. It tells the agent which local
 * transport addresses it listens on (ice_agent_add_host, ice_agent_add_relay),
 * starts it (ice_agent_start), feeds it the peer's description (credentials,
 * candidates, end-of-candidates: trickled, RFC 8838) and every STUN datagram
 * that arrived (ice_agent_recv, with the local address it arrived on and its
 * source), and calls ice_agent_tick when ice_agent_next_deadline says so.
 * The agent sends through cb->send (from a local base to a destination) and
 * reports through cb->event: local candidate gathered, gathering done, pair
 * selected (or changed), consent lost, failed.
 *
 * Times are milliseconds on any monotonic clock; "now" never goes back.
 * Every list is capped (ICE_MAX_*); nothing a peer sends decides a size.
 * A STUN message that is not a response to one of our transactions and
 * does not carry valid MESSAGE-INTEGRITY for this session never changes
 * the agent's state.
 *
 * A relayed candidate is just another local base here: the caller runs the
 * TURN client (ice/turn.h), registers the relayed address with
 * ice_agent_add_relay, turns cb->send from that base into turn_client_send,
 * and hands what the TURN client delivers to ice_agent_recv with the relayed
 * address as base. docs/ice.md has the state machine and the timers.
 */
#ifndef ICEMESH_ICE_AGENT_H
#define ICEMESH_ICE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "ice/ice_candidate.h"

enum {
	ICE_MAX_BASES = 8, /* host + relayed local addresses */
	ICE_MAX_LOCAL = 24, /* local candidates of every type */
	ICE_MAX_REMOTE = 32, /* remote candidates (incl. prflx) */
	ICE_MAX_PAIRS = 64, /* checklist length (RFC 8445 §6.1.2.5) */
	ICE_MAX_STUN_SERVERS = 4,
	ICE_TA_MIN_MS = 5, /* RFC 8445 §14.2: Ta >= 5 ms */
	ICE_DEFAULT_TA_MS = 20, /* see docs/ice.md: one stream, few pairs */
	ICE_CHECK_RTO_MS = 500, /* RFC 8445 §14.3 minimum */
	ICE_CHECK_RTO_CAP_MS = 1600,
	ICE_CHECK_MAX_TX = 7,
	ICE_STUN_RTO_MS = 500, /* RFC 8489 §6.2.1 */
	ICE_STUN_RC = 7, /* RFC 8489 §6.2.1 */
	ICE_STUN_RM = 16, /* RFC 8489 §6.2.1 */
	ICE_CONSENT_INTERVAL_MS = 5000, /* RFC 7675 §5.1 */
	ICE_CONSENT_TIMEOUT_MS = 30000, /* RFC 7675 §5.1 */
	ICE_NOMINATE_DELAY_MS = 40,
	ICE_RECHECK_MS = 5000, /* failed direct pairs, while on a relay */
	ICE_UFRAG_LEN = 8, /* what we generate */
	ICE_PWD_LEN = 24,
};

enum ice_role {
	ICE_ROLE_CONTROLLING,
	ICE_ROLE_CONTROLLED,
};

enum ice_state {
	ICE_STATE_NEW, /* created, not started */
	ICE_STATE_CHECKING, /* gathering and/or checking, nothing selected */
	ICE_STATE_CONNECTED, /* a pair is selected */
	ICE_STATE_FAILED, /* every pair failed after end-of-candidates */
};

/* A candidate pair as the agent reports it. */
struct ice_pair_info {
	/*
	 * The local candidate as the peer sees us: type host/srflx/relay, or
	 * prflx when the check's XOR-MAPPED-ADDRESS matched none of ours.
	 */
	struct ice_candidate local;
	union sockaddr_any base; /* where to send from (cb->send's base) */
	struct ice_candidate remote;
	uint32_t rtt_ms; /* of the check that made it valid */
	uint64_t priority; /* RFC 8445 §6.1.2.3 */
};

enum ice_event_type {
	ICE_EVENT_CANDIDATE, /* .cand: a local candidate to signal */
	ICE_EVENT_GATHERING_DONE, /* signal end-of-candidates */
	ICE_EVENT_SELECTED, /* .pair: selected (or, .changed, replaced) */
	ICE_EVENT_CONSENT_LOST, /* .pair: consent expired (RFC 7675) */
	ICE_EVENT_FAILED, /* .reason: no pair can work */
};

struct ice_event {
	enum ice_event_type type;
	const struct ice_candidate *cand;
	const struct ice_pair_info *pair;
	bool changed; /* SELECTED replaced an earlier selected pair */
	const char *reason; /* FAILED, CONSENT_LOST */
};

struct ice_agent_callbacks {
	/* Required: send buf from local base to dst. buf valid during call. */
	void (*send)(void *arg, const union sockaddr_any *base,
		     const union sockaddr_any *dst, const uint8_t *buf,
		     size_t len);
	/* Optional. ev and what it points to are valid during the call. */
	void (*event)(void *arg, const struct ice_event *ev);
	void *arg;
};

struct ice_agent_config {
	enum ice_role role;
	/* Tie-breaker (RFC 8445 §7.1.1); 0: random. */
	uint64_t tie_breaker;
	/* Local credentials; NULL: random (copied; wiped on destroy). */
	const char *ufrag;
	const char *pwd;
	union sockaddr_any stun_servers[ICE_MAX_STUN_SERVERS];
	size_t n_stun_servers;
	/* Timers; 0 for the defaults above. */
	uint32_t ta_ms; /* pacing of new checks */
	uint32_t check_rto_ms; /* first check retransmission */
	uint32_t check_max_tx; /* transmissions before a pair fails */
	uint32_t stun_rto_ms; /* server Binding (srflx) */
	uint32_t stun_max_tx; /* Rc */
	uint32_t nominate_delay_ms; /* wait for better pairs, then nominate */
	uint32_t consent_interval_ms;
	uint32_t consent_timeout_ms;
	uint32_t recheck_ms; /* retry failed direct pairs on a relay */
	/* Randomise consent intervals (RFC 7675 §5.1); off for exact tests. */
	bool consent_jitter;
};

struct ice_stats {
	uint64_t checks_sent; /* first transmissions */
	uint64_t retransmits;
	uint64_t triggered; /* triggered checks queued */
	uint64_t responses_sent;
	uint64_t role_conflicts; /* 487 sent or received, or role switched */
	uint64_t dropped; /* not STUN, malformed */
	uint64_t unauthenticated; /* bad/missing USERNAME or integrity */
	uint64_t unmatched; /* responses to no transaction of ours */
	uint64_t consent_sent;
	uint64_t unknown_attrs; /* 420 sent: authentic request, unknown attrs */
	uint32_t pairs; /* now in the checklist */
	uint32_t local; /* local candidates */
	uint32_t remote; /* remote candidates */
	uint32_t memory; /* bytes the agent holds (fixed) */
};

struct ice_agent;

/*
 * Make an agent. cfg (and its strings) and cb are copied. Returns 0 and
 * *out (free with ice_agent_destroy), -EINVAL (no send callback, a
 * credential that is not ice-chars of RFC 8839's lengths, Ta below 5 ms),
 * -ENOMEM.
 */
int ice_agent_create(const struct ice_agent_config *cfg,
		     const struct ice_agent_callbacks *cb,
		     struct ice_agent **out);
/* Wipe secrets and free. NULL is fine. Sends nothing. */
void ice_agent_destroy(struct ice_agent *a);

/*
 * A local transport address (bound socket, port set) to use as the base of
 * a host candidate (local_pref from ice_local_pref). Before or after start.
 * Returns 0, -EEXIST, -ENOSPC (ICE_MAX_BASES), -EAFNOSUPPORT.
 */
int ice_agent_add_host(struct ice_agent *a, const union sockaddr_any *addr,
		       uint16_t local_pref, uint64_t now);
/*
 * A relayed transport address from a TURN allocation on server; it becomes
 * a relay candidate and a base. mapped (the allocation's
 * XOR-MAPPED-ADDRESS; NULL if unknown) is written as its raddr/rport
 * (RFC 8839 §5.1). Same returns as ice_agent_add_host, and -EINVAL without
 * a server.
 */
int ice_agent_add_relay(struct ice_agent *a, const union sockaddr_any *relayed,
			const union sockaddr_any *server,
			const union sockaddr_any *mapped, uint64_t now);

/*
 * A local address went away (netlink): its pairs fail at once; if the
 * selected pair used it, ICE_EVENT_CONSENT_LOST is reported (reason says
 * why) and the other valid pairs are checked again. Its slot is reclaimed
 * at the next ice_agent_restart, which is what should follow. Returns 0 or
 * -ENOENT.
 */
int ice_agent_remove_host(struct ice_agent *a, const union sockaddr_any *addr,
			  uint64_t now);

/*
 * Begin: report host candidates, ask each STUN server for each base of its
 * family (srflx), and start checking as remote candidates arrive.
 * -EALREADY when started.
 */
int ice_agent_start(struct ice_agent *a, uint64_t now);

/* Local credentials (valid until restart/destroy; owned by the agent). */
const char *ice_agent_ufrag(const struct ice_agent *a);
const char *ice_agent_pwd(const struct ice_agent *a);

/* The peer's credentials. -EINVAL if not ice-chars of the right length. */
int ice_agent_set_remote_credentials(struct ice_agent *a, const char *ufrag,
				     const char *pwd, uint64_t now);
/*
 * A remote candidate (trickled or not). Returns 0 (also for a duplicate),
 * -ENOSPC when ICE_MAX_REMOTE are known, -EINVAL for another component or
 * an address no check may go to (unspecified, port 0, multicast,
 * broadcast), -EAFNOSUPPORT for a family other than IPv4/IPv6.
 */
int ice_agent_add_remote_candidate(struct ice_agent *a,
				   const struct ice_candidate *c, uint64_t now);
/* The peer signalled end-of-candidates (RFC 8838 §8.2). */
void ice_agent_remote_gathering_done(struct ice_agent *a, uint64_t now);
/*
 * One line of the peer's description (RFC 8839: a=ice-ufrag:, a=ice-pwd:,
 * a=candidate:, a=end-of-candidates; other lines ignored). Returns 0 or
 * the error of the parser / of the call the line maps to.
 */
int ice_agent_remote_line(struct ice_agent *a, const char *line, uint64_t now);

/*
 * A datagram that arrived on local base (one of the added addresses) from
 * src. Returns 0 when it was STUN for this agent and consumed (acted on or
 * dropped and counted), -ENOMSG when it is not STUN (hand it elsewhere),
 * -ENOENT for a base the agent does not know.
 */
int ice_agent_recv(struct ice_agent *a, const union sockaddr_any *base,
		   const union sockaddr_any *src, const uint8_t *buf,
		   size_t len, uint64_t now);

/* When ice_agent_tick wants to run next (absolute ms); UINT64_MAX: never. */
uint64_t ice_agent_next_deadline(const struct ice_agent *a);
/* Run whatever is due at now: checks, retransmissions, consent, timeouts. */
void ice_agent_tick(struct ice_agent *a, uint64_t now);

/*
 * ICE restart (RFC 8445 §9): new local credentials, remote ones and all
 * pairs forgotten, local candidates reported again. The selected pair stays
 * usable (ice_agent_selected) until a new one is selected. The caller
 * signals the new description and then feeds the peer's.
 */
int ice_agent_restart(struct ice_agent *a, uint64_t now);

/* The selected pair; 0, or -ENOTCONN when none. */
int ice_agent_selected(const struct ice_agent *a, struct ice_pair_info *out);
enum ice_state ice_agent_state(const struct ice_agent *a);
enum ice_role ice_agent_role(const struct ice_agent *a);
void ice_agent_get_stats(const struct ice_agent *a, struct ice_stats *out);
const char *ice_state_name(enum ice_state s);

/*
 * Words for a person: each pair and its state, and remote candidates never
 * reached, one per line. Writes at most len bytes (NUL included); returns
 * the length written.
 */
size_t ice_agent_report(const struct ice_agent *a, char *buf, size_t len);

#endif
