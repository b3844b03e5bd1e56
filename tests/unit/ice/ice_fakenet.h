/* SPDX-License-Identifier: MIT */
/*
 * A fake network and clock for ICE agent tests: nodes with host addresses
 * on LANs, optional port-restricted NATs (endpoint-independent mapping,
 * address+port-dependent filtering, RFC 4787), a STUN server, relayed
 * addresses, per-link latency, drop rules, and signaling between the two
 * agents with its own delay. Everything runs in one thread on virtual
 * milliseconds.
 */
#ifndef ICEMESH_TESTS_ICE_FAKENET_H
#define ICEMESH_TESTS_ICE_FAKENET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "ice/ice_agent.h"

enum {
	FAKENET_MAX_NODES = 2,
	FAKENET_MAX_PKTS = 4096,
	FAKENET_MAX_SIGNALS = 256,
	FAKENET_MAX_MAPS = 32,
	FAKENET_MAX_LOG = 4096,
	FAKENET_PKT_MAX = 1500,
};

struct fakenet;

/* Return true to drop the packet (src/dst as on the wire, after NAT). */
typedef bool (*fakenet_drop_fn)(struct fakenet *n, int from_node,
				const union sockaddr_any *src,
				const union sockaddr_any *dst,
				const uint8_t *buf, size_t len, void *arg);

/* One datagram an agent sent, as logged. */
struct fakenet_sent {
	uint64_t at;
	int node;
	union sockaddr_any base, dst;
	uint16_t stun_type; /* 0 if not STUN */
	bool use_candidate;
	bool retransmit; /* same transaction id seen before */
	uint8_t tid[12];
};

struct fakenet_node {
	struct ice_agent *agent;
	int lan; /* hosts reach each other's host addresses on one LAN */
	bool nat; /* port-restricted NAT in front of the node */
	union sockaddr_any nat_ip; /* public address of the NAT (port 0) */
	union sockaddr_any hosts[8]; /* host bases */
	size_t n_hosts;
	union sockaddr_any relays[4]; /* relayed bases (reachable from all) */
	size_t n_relays;
	bool signal_candidates; /* pass CANDIDATE events to the peer */
	/* What the agent reported. */
	unsigned n_candidates, n_gathering_done, n_selected, n_changed;
	unsigned n_consent_lost, n_failed;
	uint64_t selected_at, changed_at, consent_lost_at, failed_at;
	uint64_t gathering_done_at;
	struct ice_pair_info selected;
	struct ice_candidate cands[32];
	/* Application data received from the peer, by path. */
	unsigned data_received;
};

struct fakenet {
	uint64_t now;
	uint32_t latency_ms; /* one way, every link */
	uint32_t signal_delay_ms; /* signaling channel, one way */
	struct fakenet_node nodes[FAKENET_MAX_NODES];
	union sockaddr_any stun_server;
	bool stun_up;
	unsigned stun_drop_first; /* the server ignores this many requests */
	unsigned stun_requests;
	fakenet_drop_fn drop;
	void *drop_arg;
	unsigned dropped;
	struct fakenet_sent log[FAKENET_MAX_LOG];
	size_t n_log;
	bool stuck; /* fakenet_run hit its iteration cap: an agent spins */
	/* internal */
	struct fakenet_ctx {
		struct fakenet *n;
		int i;
	} ctx[FAKENET_MAX_NODES];
	struct fakenet_pkt *pkts;
	size_t n_pkts;
	struct fakenet_sig *sigs;
	size_t n_sigs;
	struct fakenet_map {
		int node;
		union sockaddr_any inside, outside;
		union sockaddr_any permitted[16];
		size_t n_permitted;
	} maps[FAKENET_MAX_MAPS];
	size_t n_maps;
	uint16_t next_port;
	uint64_t seq;
};

/* Zeroed net at time 1000 ms, 5 ms latency, 20 ms signaling delay. */
void fakenet_init(struct fakenet *n);
void fakenet_free(struct fakenet *n);

/*
 * Make node i's agent with cfg (send/event callbacks are the net's), add
 * the given host addresses and relay bases, set the peer's credentials
 * later with fakenet_exchange_credentials. Returns the agent create error.
 */
int fakenet_add_agent(struct fakenet *n, int i,
		      const struct ice_agent_config *cfg,
		      const char *const *hosts, size_t n_hosts);
/* Add a relayed base for node i (server = the STUN server address). */
int fakenet_add_relay(struct fakenet *n, int i, const char *relayed);
/* Give each agent the other's ufrag/pwd. */
void fakenet_exchange_credentials(struct fakenet *n);
/* Start both agents. */
void fakenet_start(struct fakenet *n);

/* Run until done(n, arg) is true or the clock passes until. True if done. */
bool fakenet_run(struct fakenet *n, uint64_t until,
		 bool (*done)(struct fakenet *n, void *arg), void *arg);
/* Run until the clock reaches t. */
void fakenet_run_until(struct fakenet *n, uint64_t t);

/* Send a raw datagram from outside into node i's base (now). */
void fakenet_inject(struct fakenet *n, int i, const union sockaddr_any *base,
		    const union sockaddr_any *src, const uint8_t *buf,
		    size_t len);

/* Conditions for fakenet_run. */
bool fakenet_both_selected(struct fakenet *n, void *arg);
bool fakenet_both_gathered(struct fakenet *n, void *arg);

union sockaddr_any fakenet_addr(const char *s);

#endif
