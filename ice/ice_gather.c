// SPDX-License-Identifier: MIT
/* Host address enumeration and filtering for host candidates. */
#include "ice/ice_gather.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

/* Overlay interfaces: another VPN's tunnel is never a path to a peer. */
static const char *const overlay_prefixes[] = {
	"wg", "tailscale", "zt", "nebula", "tun", "utun", "icemesh",
};

/* Container and VM bridges: local-only networks. */
static const char *const bridge_prefixes[] = {
	"docker", "br-",   "virbr",   "veth", "cni",   "podman",
	"lxcbr",  "lxdbr", "flannel", "cali", "vxlan",
};

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (has_prefix(name, list[i]))
			return true;
	}
	return false;
}

static bool denied(const struct ice_gather_filter *f, const char *name)
{
	for (size_t i = 0; i < f->n_deny && i < ICE_GATHER_MAX_DENY; i++) {
		const char *d = f->deny[i];
		size_t len;

		if (!d || !*d)
			continue;
		len = strlen(d);
		if (d[len - 1] == '*' ? strncmp(name, d, len - 1) == 0
				      : strcmp(name, d) == 0)
			return true;
	}
	return false;
}

bool ice_gather_allowed(const struct ice_gather_filter *f, const char *ifname,
			unsigned flags, const union sockaddr_any *addr)
{
	static const struct ice_gather_filter none;
	int fam = addr->sa.sa_family;

	if (!f)
		f = &none;
	if (!(flags & IFF_UP) || (flags & IFF_LOOPBACK))
		return false;
	if (fam != AF_INET && fam != AF_INET6)
		return false;
	if ((fam == AF_INET && f->no_ipv4) || (fam == AF_INET6 && f->no_ipv6))
		return false;
	if (addr_is_loopback(addr) || addr_is_link_local(addr) ||
	    addr_is_v4mapped(addr))
		return false;
	if (f->tun_name && strcmp(ifname, f->tun_name) == 0)
		return false;
	if (in_list(ifname, overlay_prefixes,
		    sizeof(overlay_prefixes) / sizeof(overlay_prefixes[0])))
		return false;
	if (!f->allow_bridges &&
	    in_list(ifname, bridge_prefixes,
		    sizeof(bridge_prefixes) / sizeof(bridge_prefixes[0])))
		return false;
	return !denied(f, ifname);
}

/* Rank of ifname among interfaces seen so far (appends it if new). */
static unsigned iface_rank(char (*names)[ICE_IFNAME_MAX], size_t *n, size_t max,
			   const char *ifname)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(names[i], ifname) == 0)
			return (unsigned)i;
	}
	if (*n < max)
		snprintf(names[(*n)++], ICE_IFNAME_MAX, "%s", ifname);
	return (unsigned)(*n - 1);
}

static unsigned addr_rank(const struct ice_host_addr *out, size_t n,
			  unsigned rank)
{
	unsigned r = 0;

	for (size_t i = 0; i < n; i++)
		r += out[i].iface_rank == rank;
	return r;
}

int ice_gather_host(const struct ice_gather_filter *f,
		    struct ice_host_addr *out, size_t max, size_t *n)
{
	char names[ICE_GATHER_MAX_ADDRS][ICE_IFNAME_MAX];
	size_t n_names = 0, cnt = 0;
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) != 0)
		return -errno;
	for (i = ifa; i && cnt < max; i = i->ifa_next) {
		union sockaddr_any a;

		if (!i->ifa_addr || !i->ifa_name)
			continue;
		memset(&a, 0, sizeof(a));
		if (i->ifa_addr->sa_family == AF_INET)
			memcpy(&a.in4, i->ifa_addr, sizeof(a.in4));
		else if (i->ifa_addr->sa_family == AF_INET6)
			memcpy(&a.in6, i->ifa_addr, sizeof(a.in6));
		else
			continue;
		if (!ice_gather_allowed(f, i->ifa_name, i->ifa_flags, &a))
			continue;
		if (a.sa.sa_family == AF_INET6)
			a.in6.sin6_scope_id = 0;
		addr_set_port(&a, 0);
		snprintf(out[cnt].ifname, ICE_IFNAME_MAX, "%s", i->ifa_name);
		out[cnt].addr = a;
		out[cnt].iface_rank = iface_rank(
			names, &n_names, ICE_GATHER_MAX_ADDRS, i->ifa_name);
		out[cnt].addr_rank = addr_rank(out, cnt, out[cnt].iface_rank);
		cnt++;
	}
	freeifaddrs(ifa);
	*n = cnt;
	return 0;
}
