// SPDX-License-Identifier: MIT
/* addr_parse on any byte string: never reads past it, round-trips what it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[128], out[ADDR_STRLEN];
	union sockaddr_any a, b;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (addr_parse(in, 1, &a) != 0)
		return 0;
	addr_to_str(&a, out, sizeof(out));
	if (addr_parse(out, 0, &b) != 0 || !addr_equal(&a, &b))
		abort();
	return 0;
}
