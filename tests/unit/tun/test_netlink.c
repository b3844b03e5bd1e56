// SPDX-License-Identifier: MIT
/*
 * The rtnetlink notification parser on hand-built messages, good and bad.
 * (Requests to the kernel are exercised by tests/lab/test_tun.sh.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "tun/netlink.h"

struct seen {
	struct netlink_event ev[8];
	int n;
};

static void record(void *arg, const struct netlink_event *ev)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->ev[s->n++] = *ev;
}

static struct nlmsghdr *put_link(char *buf, uint16_t type, int idx,
				 unsigned flags, const char *name, int mtu)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	nlh->nlmsg_type = type;
	ifi->ifi_index = idx;
	ifi->ifi_flags = flags;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu >= 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	return nlh;
}

static struct nlmsghdr *put_addr(char *buf, uint16_t type, int family,
				 const char *ip, uint8_t plen, unsigned idx,
				 uint16_t attr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	uint8_t a[16];

	nlh->nlmsg_type = type;
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_index = idx;
	inet_pton(family, ip, a);
	mnl_attr_put(nlh, attr, family == AF_INET ? 4 : 16, a);
	return nlh;
}

static void test_good_messages(void **state)
{
	static char buf[4096];
	struct seen s = { 0 };
	unsigned bad = 0;
	size_t len = 0;
	struct nlmsghdr *nlh;
	char ip[INET6_ADDRSTRLEN];

	nlh = put_link(buf, RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING, "imt0", 1380);
	len += nlh->nlmsg_len;
	nlh = put_addr(buf + len, RTM_NEWADDR, AF_INET, "10.77.0.1", 24, 7,
		       IFA_LOCAL);
	len += nlh->nlmsg_len;
	nlh = put_addr(buf + len, RTM_DELADDR, AF_INET6, "fd77::1", 64, 7,
		       IFA_ADDRESS);
	len += nlh->nlmsg_len;
	nlh = put_link(buf + len, RTM_DELLINK, 9, 0, NULL, -1);
	len += nlh->nlmsg_len;
	/* a route message: not ours, skipped without complaint */
	nlh = mnl_nlmsg_put_header(buf + len);
	nlh->nlmsg_type = RTM_NEWROUTE;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));
	len += nlh->nlmsg_len;

	assert_int_equal(netlink_parse_events(buf, len, record, &s, &bad), 4);
	assert_int_equal(bad, 0);
	assert_int_equal(s.ev[0].type, NETLINK_EV_LINK);
	assert_false(s.ev[0].removed);
	assert_int_equal(s.ev[0].ifindex, 7);
	assert_string_equal(s.ev[0].ifname, "imt0");
	assert_int_equal(s.ev[0].mtu, 1380);
	assert_true(s.ev[0].flags & IFF_UP);
	assert_int_equal(s.ev[1].type, NETLINK_EV_ADDR);
	assert_int_equal(s.ev[1].family, AF_INET);
	assert_int_equal(s.ev[1].prefixlen, 24);
	assert_string_equal(inet_ntop(AF_INET, s.ev[1].addr, ip, sizeof(ip)),
			    "10.77.0.1");
	assert_true(s.ev[2].removed);
	assert_int_equal(s.ev[2].family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, s.ev[2].addr, ip, sizeof(ip)),
			    "fd77::1");
	assert_int_equal(s.ev[3].type, NETLINK_EV_LINK);
	assert_true(s.ev[3].removed);
	assert_string_equal(s.ev[3].ifname, "");
	assert_int_equal(s.ev[3].mtu, 0);
}

static void test_bad_messages(void **state)
{
	static char buf[4096];
	struct seen s = { 0 };
	unsigned bad = 0;
	struct nlmsghdr *nlh;
	struct nlattr *a;

	/* IPv4 family with a 16-byte address */
	nlh = put_addr(buf, RTM_NEWADDR, AF_INET6, "fd77::1", 64, 7,
		       IFA_ADDRESS);
	((struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_family = AF_INET;
	assert_int_equal(
		netlink_parse_events(buf, nlh->nlmsg_len, record, &s, &bad), 0);
	assert_int_equal(bad, 1);
	/* prefix longer than the family allows */
	nlh = put_addr(buf, RTM_NEWADDR, AF_INET, "10.0.0.1", 33, 7, IFA_LOCAL);
	assert_int_equal(
		netlink_parse_events(buf, nlh->nlmsg_len, record, &s, &bad), 0);
	/* no address at all */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));
	assert_int_equal(
		netlink_parse_events(buf, nlh->nlmsg_len, record, &s, &bad), 0);
	/* header shorter than struct ifinfomsg */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	mnl_nlmsg_put_extra_header(nlh, 4);
	assert_int_equal(
		netlink_parse_events(buf, nlh->nlmsg_len, record, &s, &bad), 0);
	/* a name without its NUL, and an MTU of the wrong size */
	nlh = put_link(buf, RTM_NEWLINK, 3, 0, "abcd", -1);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct ifinfomsg));
	((char *)mnl_attr_get_payload(a))[4] = 'e';
	assert_int_equal(
		netlink_parse_events(buf, nlh->nlmsg_len, record, &s, &bad), 0);
	nlh = put_link(buf, RTM_NEWLINK, 3, 0, NULL, -1);
	mnl_attr_put_u16(nlh, IFLA_MTU, 1500);
	assert_int_equal(
		netlink_parse_events(buf, nlh->nlmsg_len, record, &s, &bad), 0);
	/* a truncated message */
	nlh = put_link(buf, RTM_NEWLINK, 3, 0, "x", 1500);
	assert_int_equal(
		netlink_parse_events(buf, nlh->nlmsg_len - 1, record, &s, &bad),
		0);
	/* a length past 2^31 after a good message (found by fuzzing) */
	nlh = put_link(buf, RTM_NEWLINK, 3, 0, "x", 1500);
	nlh = (void *)(buf + nlh->nlmsg_len);
	memset(nlh, 0xe5, 64);
	assert_int_equal(netlink_parse_events(buf,
					      (size_t)((char *)nlh - buf) + 64,
					      record, &s, &bad),
			 1);
	assert_int_equal(bad, 8);
	assert_int_equal(s.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_messages),
		cmocka_unit_test(test_bad_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
