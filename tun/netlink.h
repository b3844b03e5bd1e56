/* SPDX-License-Identifier: MIT */
/*
 * rtnetlink through libmnl: bring a link up, set its MTU, add and remove
 * IPv4/IPv6 addresses and routes, and watch link and address changes (the
 * daemon restarts ICE on them). Never runs ip(8).
 */
#ifndef ICEMESH_TUN_NETLINK_H
#define ICEMESH_TUN_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- requests */

struct netlink;

/* A NETLINK_ROUTE socket for synchronous requests. 0 or -errno. */
int netlink_open(struct netlink **out);
void netlink_close(struct netlink *nl);

/*
 * Each request waits for the kernel's acknowledgement and returns 0 or the
 * kernel's -errno (e.g. -EEXIST for an address already there).
 * Addresses are 4 bytes for AF_INET, 16 for AF_INET6.
 */
int netlink_link_set_up(struct netlink *nl, unsigned ifindex, bool up);
int netlink_link_set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu);
/* IPv6 addresses are added with IFA_F_NODAD: a tunnel has no neighbours. */
int netlink_addr_add(struct netlink *nl, unsigned ifindex, int family,
		     const void *addr, uint8_t prefixlen);
int netlink_addr_del(struct netlink *nl, unsigned ifindex, int family,
		     const void *addr, uint8_t prefixlen);
/* A device route (no gateway) in the main table, metric 0 when not given. */
int netlink_route_add(struct netlink *nl, unsigned ifindex, int family,
		      const void *dst, uint8_t prefixlen, uint32_t metric);
int netlink_route_del(struct netlink *nl, unsigned ifindex, int family,
		      const void *dst, uint8_t prefixlen, uint32_t metric);

/* --------------------------------------------------------------- watcher */

enum netlink_event_type {
	NETLINK_EV_LINK = 1, /* link added, changed or removed */
	NETLINK_EV_ADDR = 2, /* address added or removed */
	/* Events were lost (socket buffer overrun): assume anything changed. */
	NETLINK_EV_RESYNC = 3,
};

struct netlink_event {
	enum netlink_event_type type;
	bool removed; /* RTM_DELLINK / RTM_DELADDR */
	unsigned ifindex;
	/* NETLINK_EV_LINK */
	char ifname[16]; /* "" when the message had none */
	unsigned flags; /* IFF_UP, IFF_RUNNING, ... */
	unsigned mtu; /* 0 when the message had none */
	/* NETLINK_EV_ADDR */
	int family;
	uint8_t addr[16];
	uint8_t prefixlen;
};

typedef void (*netlink_event_fn)(void *arg, const struct netlink_event *ev);

struct netlink_watch;

/*
 * Subscribe to link and IPv4/IPv6 address notifications on a non-blocking
 * socket; fn is called from netlink_watch_process. 0 or -errno.
 */
int netlink_watch_open(netlink_event_fn fn, void *arg,
		       struct netlink_watch **out);
void netlink_watch_close(struct netlink_watch *w);
/* Poll this for readability (uv_poll in the daemon). */
int netlink_watch_fd(const struct netlink_watch *w);
/*
 * Read what is waiting, at most max_batches socket reads (so one source
 * cannot starve the loop), calling fn per event. Returns the number of
 * events delivered or -errno.
 */
int netlink_watch_process(struct netlink_watch *w, unsigned max_batches);

/*
 * Parse a buffer of rtnetlink messages as received, calling fn for each
 * link/address message; malformed messages are skipped and counted in
 * *bad (may be NULL). Returns the number of events delivered. Pure: this is
 * what netlink_watch_process uses and what the fuzz harness drives.
 */
int netlink_parse_events(const void *buf, size_t len, netlink_event_fn fn,
			 void *arg, unsigned *bad);

#endif
