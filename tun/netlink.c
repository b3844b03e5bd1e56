// SPDX-License-Identifier: MIT
#include "tun/netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

/* Large enough for any one rtnetlink message the kernel sends (it caps at
 * 32 KiB); MNL_SOCKET_BUFFER_SIZE is a run-time value. */
enum { NL_BUF_SIZE = 32768 };

struct netlink {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	_Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
};

struct netlink_watch {
	struct mnl_socket *sock;
	netlink_event_fn fn;
	void *arg;
	unsigned bad;
	_Alignas(struct nlmsghdr) char buf[NL_BUF_SIZE];
};

int netlink_open(struct netlink **out)
{
	struct netlink *nl = calloc(1, sizeof(*nl));
	int ret;

	if (!nl)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock) {
		ret = -errno;
		goto err;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_close;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned)time(NULL);
	*out = nl;
	return 0;
err_close:
	mnl_socket_close(nl->sock);
err:
	free(nl);
	return ret;
}

void netlink_close(struct netlink *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

/* Send nlh (NLM_F_ACK set here) and wait for its acknowledgement. */
static int request(struct netlink *nl, struct nlmsghdr *nlh)
{
	unsigned seq = ++nl->seq;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ssize_t n =
			mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));

		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, NULL,
				 NULL);
	} while (ret == MNL_CB_OK);
	return ret == MNL_CB_ERROR ? -errno : 0;
}

static int family_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return -1;
}

static int link_change(struct netlink *nl, unsigned ifindex, unsigned flags,
		       unsigned change, unsigned mtu)
{
	_Alignas(struct nlmsghdr) char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return request(nl, nlh);
}

int netlink_link_set_up(struct netlink *nl, unsigned ifindex, bool up)
{
	return link_change(nl, ifindex, up ? IFF_UP : 0, IFF_UP, 0);
}

int netlink_link_set_mtu(struct netlink *nl, unsigned ifindex, unsigned mtu)
{
	if (mtu == 0)
		return -EINVAL;
	return link_change(nl, ifindex, 0, 0, mtu);
}

static int addr_msg(struct netlink *nl, uint16_t type, uint16_t flags,
		    unsigned ifindex, int family, const void *addr,
		    uint8_t prefixlen)
{
	_Alignas(struct nlmsghdr) char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	int alen = family_len(family);

	if (alen < 0 || prefixlen > alen * 8)
		return -EINVAL;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_index = ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	if (family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, (size_t)alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, (size_t)alen, addr);
	return request(nl, nlh);
}

int netlink_addr_add(struct netlink *nl, unsigned ifindex, int family,
		     const void *addr, uint8_t prefixlen)
{
	return addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex,
			family, addr, prefixlen);
}

int netlink_addr_del(struct netlink *nl, unsigned ifindex, int family,
		     const void *addr, uint8_t prefixlen)
{
	return addr_msg(nl, RTM_DELADDR, 0, ifindex, family, addr, prefixlen);
}

static int route_msg(struct netlink *nl, uint16_t type, uint16_t flags,
		     unsigned ifindex, int family, const void *dst,
		     uint8_t prefixlen, uint32_t metric)
{
	_Alignas(struct nlmsghdr) char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	int alen = family_len(family);

	if (alen < 0 || prefixlen > alen * 8)
		return -EINVAL;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = prefixlen;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, (size_t)alen, dst);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	if (metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
	return request(nl, nlh);
}

int netlink_route_add(struct netlink *nl, unsigned ifindex, int family,
		      const void *dst, uint8_t prefixlen, uint32_t metric)
{
	return route_msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ifindex,
			 family, dst, prefixlen, metric);
}

int netlink_route_del(struct netlink *nl, unsigned ifindex, int family,
		      const void *dst, uint8_t prefixlen, uint32_t metric)
{
	return route_msg(nl, RTM_DELROUTE, 0, ifindex, family, dst, prefixlen,
			 metric);
}

/* ---------------------------------------------------------------- events */

struct parse_ctx {
	netlink_event_fn fn;
	void *arg;
	unsigned events;
	unsigned bad;
};

static int collect_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(a);

	/* IFLA_IFNAME, IFLA_MTU, IFA_ADDRESS, IFA_LOCAL are all small */
	if (type < 8)
		tb[type] = a;
	return MNL_CB_OK;
}

static int parse_link(const struct nlmsghdr *nlh, struct netlink_event *ev)
{
	const struct nlattr *tb[8] = { 0 };
	const struct ifinfomsg *ifi;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EINVAL;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifi), collect_attr, tb) < 0)
		return -EINVAL;
	ev->type = NETLINK_EV_LINK;
	ev->ifindex = (unsigned)ifi->ifi_index;
	ev->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME]) {
		if (mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) <
			    0 ||
		    mnl_attr_get_payload_len(tb[IFLA_IFNAME]) >
			    sizeof(ev->ifname))
			return -EINVAL;
		memcpy(ev->ifname, mnl_attr_get_str(tb[IFLA_IFNAME]),
		       mnl_attr_get_payload_len(tb[IFLA_IFNAME]));
		ev->ifname[sizeof(ev->ifname) - 1] = '\0';
	}
	if (tb[IFLA_MTU]) {
		if (mnl_attr_validate(tb[IFLA_MTU], MNL_TYPE_U32) < 0)
			return -EINVAL;
		ev->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	}
	return 0;
}

static int parse_addr(const struct nlmsghdr *nlh, struct netlink_event *ev)
{
	const struct nlattr *tb[8] = { 0 }, *a;
	const struct ifaddrmsg *ifa;
	int alen;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return -EINVAL;
	ifa = mnl_nlmsg_get_payload(nlh);
	alen = family_len(ifa->ifa_family);
	if (alen < 0 || ifa->ifa_prefixlen > alen * 8 ||
	    mnl_attr_parse(nlh, sizeof(*ifa), collect_attr, tb) < 0)
		return -EINVAL;
	/* IFA_LOCAL is the address itself on point-to-point IPv4 links */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) != (uint16_t)alen)
		return -EINVAL;
	ev->type = NETLINK_EV_ADDR;
	ev->ifindex = ifa->ifa_index;
	ev->family = ifa->ifa_family;
	ev->prefixlen = ifa->ifa_prefixlen;
	memcpy(ev->addr, mnl_attr_get_payload(a), (size_t)alen);
	return 0;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct parse_ctx *c = data;
	struct netlink_event ev;
	int ret;

	memset(&ev, 0, sizeof(ev));
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		ret = parse_link(nlh, &ev);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		ret = parse_addr(nlh, &ev);
		break;
	default:
		return MNL_CB_OK; /* not ours to care about */
	}
	if (ret) {
		c->bad++;
		return MNL_CB_OK;
	}
	ev.removed = nlh->nlmsg_type == RTM_DELLINK ||
		     nlh->nlmsg_type == RTM_DELADDR;
	c->fn(c->arg, &ev);
	c->events++;
	return MNL_CB_OK;
}

int netlink_parse_events(const void *buf, size_t len, netlink_event_fn fn,
			 void *arg, unsigned *bad)
{
	struct parse_ctx c = { .fn = fn, .arg = arg };
	size_t off = 0;

	/*
	 * Walked by hand: mnl_nlmsg_ok compares nlmsg_len as an int, so a
	 * length past 2^31 would pass it and send the walk out of the buffer.
	 */
	while (len - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh =
			(const void *)((const char *)buf + off);
		size_t mlen = nlh->nlmsg_len;

		if (mlen < sizeof(*nlh) || mlen > len - off)
			break;
		event_cb(nlh, &c);
		off += MNL_ALIGN(mlen) < len - off ? MNL_ALIGN(mlen)
						   : len - off;
	}
	/* bytes left that make no whole message: a truncated one */
	if (off < len)
		c.bad++;
	if (bad)
		*bad += c.bad;
	return (int)c.events;
}

int netlink_watch_open(netlink_event_fn fn, void *arg,
		       struct netlink_watch **out)
{
	struct netlink_watch *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	w->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!w->sock) {
		ret = -errno;
		goto err;
	}
	if (mnl_socket_bind(w->sock,
			    RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
				    RTMGRP_IPV6_IFADDR,
			    MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_close;
	}
	*out = w;
	return 0;
err_close:
	mnl_socket_close(w->sock);
err:
	free(w);
	return ret;
}

void netlink_watch_close(struct netlink_watch *w)
{
	if (!w)
		return;
	if (w->bad)
		log_debug("netlink", "%u malformed notifications skipped",
			  w->bad);
	mnl_socket_close(w->sock);
	free(w);
}

int netlink_watch_fd(const struct netlink_watch *w)
{
	return mnl_socket_get_fd(w->sock);
}

int netlink_watch_process(struct netlink_watch *w, unsigned max_batches)
{
	int events = 0;

	for (unsigned i = 0; i < max_batches; i++) {
		ssize_t n =
			mnl_socket_recvfrom(w->sock, w->buf, sizeof(w->buf));

		if (n < 0 && errno == ENOBUFS) {
			struct netlink_event ev = { .type = NETLINK_EV_RESYNC };

			log_ratelimited(LOG_LEVEL_WARN, "netlink",
					"notifications lost, resyncing");
			w->fn(w->arg, &ev);
			events++;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return -errno;
		events += netlink_parse_events(w->buf, (size_t)n, w->fn, w->arg,
					       &w->bad);
	}
	return events;
}
