// SPDX-License-Identifier: MIT
/*
 * echo_is_reply on any packet: it reads nothing outside the buffer, and
 * what it accepts really is the reply it was asked about. The first byte
 * picks the family; the addresses, ident and seq come from a fixed probe,
 * so a reply the fuzzer builds can match.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/echo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t peer4[4] = { 100, 64, 0, 2 };
static const uint8_t peer6[16] = { 0xfd, 0x12, 0x34, 0x56, 0x78, 0x9a, 0, 0,
				   0,	 0,    0,    0,	   0,	 0,    0, 2 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int af;
	const uint8_t *from;
	uint8_t *pkt;
	size_t len;

	if (size < 1)
		return 0;
	af = (data[0] & 1) ? AF_INET6 : AF_INET;
	from = af == AF_INET ? peer4 : peer6;
	len = size - 1;
	/* an exact-size copy, so a read past the end is caught */
	pkt = malloc(len ? len : 1);
	if (!pkt)
		return 0;
	memcpy(pkt, data + 1, len);
	if (echo_is_reply(af, from, 0x1234, 7, pkt, len)) {
		/* an accepted reply comes from `from`, at least a whole header */
		size_t hdr = af == AF_INET ? 20 + 8 : 40 + 8;

		if (len < hdr)
			abort();
		if (af == AF_INET && memcmp(pkt + 12, peer4, 4) != 0)
			abort();
		if (af == AF_INET6 && memcmp(pkt + 8, peer6, 16) != 0)
			abort();
	}
	free(pkt);
	return 0;
}
