/* SPDX-License-Identifier: MIT */
/*
 * Host addresses for host candidates (RFC 8445 §5.1.1.1): every interface
 * that is up, IPv4 and global IPv6, minus what must never carry ICE:
 * loopback, IPv6 link-local, the node's own TUN device, other overlay
 * interfaces (wg*, tailscale*, zt*, nebula*, tun*, utun*, icemesh*, and a
 * deny list) and container bridges (docker*, br-*, virbr*, veth*, cni*,
 * podman*, lxcbr*, lxdbr*, flannel*, cali*, vxlan*) unless allowed.
 *
 * This is the one place in ice/ that asks the system anything (getifaddrs);
 * the decision itself (ice_gather_allowed) is a pure function.
 */
#ifndef ICEMESH_ICE_GATHER_H
#define ICEMESH_ICE_GATHER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/addr.h"

enum {
	ICE_GATHER_MAX_DENY = 16,
	ICE_GATHER_MAX_ADDRS = 16, /* host addresses kept at most */
	ICE_IFNAME_MAX = 16, /* IFNAMSIZ */
};

struct ice_gather_filter {
	/* The node's own TUN device name; NULL: none. */
	const char *tun_name;
	/*
	 * Extra interface names or prefixes to skip; an entry ending in '*'
	 * is a prefix ("eth9*"), anything else an exact name.
	 */
	const char *deny[ICE_GATHER_MAX_DENY];
	size_t n_deny;
	/* Let container bridges through (they are skipped by default). */
	bool allow_bridges;
	/* Skip IPv6 (or IPv4) altogether. */
	bool no_ipv6;
	bool no_ipv4;
};

struct ice_host_addr {
	char ifname[ICE_IFNAME_MAX];
	union sockaddr_any addr; /* port 0 */
	unsigned iface_rank; /* order of first appearance of ifname */
	unsigned addr_rank; /* order of this address on its interface */
};

/*
 * Whether an address on an interface may become a host candidate. flags
 * are the interface's IFF_* flags. Pure; used by ice_gather_host.
 */
bool ice_gather_allowed(const struct ice_gather_filter *f, const char *ifname,
			unsigned flags, const union sockaddr_any *addr);

/*
 * Enumerate host addresses with getifaddrs, filtered. Writes at most max
 * entries into out and their count into *n. Returns 0, or -errno from
 * getifaddrs.
 */
int ice_gather_host(const struct ice_gather_filter *f,
		    struct ice_host_addr *out, size_t max, size_t *n);

#endif
