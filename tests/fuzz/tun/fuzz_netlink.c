// SPDX-License-Identifier: MIT
/* rtnetlink notifications on any bytes: no read past them, sane events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tun/netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(void *arg, const struct netlink_event *ev)
{
	(void)arg;
	if (ev->type == NETLINK_EV_ADDR &&
	    ((ev->family != AF_INET && ev->family != AF_INET6) ||
	     ev->prefixlen > (ev->family == AF_INET ? 32 : 128)))
		abort();
	if (ev->type == NETLINK_EV_LINK && memchr(ev->ifname, 0, 16) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* netlink messages are 4-byte aligned in the kernel's buffer */
	uint32_t *buf = malloc(size ? (size + 3) & ~(size_t)3 : 4);
	unsigned bad = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	netlink_parse_events(buf, size, check, NULL, &bad);
	free(buf);
	return 0;
}
