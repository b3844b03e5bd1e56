// SPDX-License-Identifier: MIT
/*
 * sealbox_open on any bytes claimed to come from a peer: never reads past
 * them, never accepts what the peer did not seal. First byte even: the rest
 * is a payload that must survive seal + open unchanged (and refuse a second
 * open); odd: the rest is a sealed message from the outside.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "coordinator-client/sealbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795000000000ULL

static struct sealbox *a, *b;
static uint8_t pk_a[32], pk_b[32];
static uint8_t out[SEALBOX_MAX_SEALED], box[SEALBOX_MAX_SEALED];

static void init(void)
{
	uint8_t sk_a[32], sk_b[32];

	if (a)
		return;
	if (sodium_init() < 0)
		abort();
	/* fixed keys, so a finding replays */
	memset(sk_a, 1, sizeof(sk_a));
	memset(sk_b, 2, sizeof(sk_b));
	crypto_scalarmult_base(pk_a, sk_a);
	crypto_scalarmult_base(pk_b, sk_b);
	a = sealbox_new(sk_a, pk_a, 1, NULL);
	b = sealbox_new(sk_b, pk_b, 1, NULL);
	if (!a || !b)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = 0, n = 0;
	int ret;

	init();
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0) {
		if (size - 1 > SEALBOX_MAX_PAYLOAD)
			return 0;
		if (sealbox_seal(a, pk_b, data + 1, size - 1, NOW, box,
				 sizeof(box), &len) != 0)
			abort();
		if (sealbox_open(b, pk_a, box, len, NOW, out, sizeof(out),
				 &n) != 0 ||
		    n != size - 1 || (n && memcmp(out, data + 1, n) != 0))
			abort();
		if (sealbox_open(b, pk_a, box, len, NOW, out, sizeof(out),
				 &n) != -EALREADY)
			abort();
		return 0;
	}
	ret = sealbox_open(b, pk_a, data + 1, size - 1, NOW, out, sizeof(out),
			   &n);
	/* nobody outside holds a's key: a forgery would be a finding */
	if (ret == 0)
		abort();
	return 0;
}
