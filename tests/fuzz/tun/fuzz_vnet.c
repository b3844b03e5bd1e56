// SPDX-License-Identifier: MIT
/*
 * vnet_hdr packets as the TUN hands them over, on any bytes: vnet_split
 * never reads or writes out of bounds, every segment of a GSO packet has
 * valid checksums, and coalescing the segments again (GRO) then splitting
 * the result gives back exactly the same segments.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/vnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAXSEG = 64, SEGCAP = 4096 };

static uint8_t *segs[MAXSEG], *segs2[MAXSEG];
static size_t lens[MAXSEG], lens2[MAXSEG];
static struct vnet_gro *gro;

struct resplit {
	size_t n;
	int bad;
};

static int resplit_write(void *arg, const uint8_t *d, size_t len)
{
	struct resplit *r = arg;
	int n = vnet_split(d, len, segs2 + r->n, SEGCAP, lens2 + r->n,
			   MAXSEG - r->n);

	if (n <= 0) {
		r->bad = 1;
		return -1;
	}
	r->n += (size_t)n;
	return 0;
}

static void init(void)
{
	for (int i = 0; i < MAXSEG; i++) {
		segs[i] = malloc(SEGCAP);
		segs2[i] = malloc(SEGCAP);
		if (!segs[i] || !segs2[i])
			abort();
	}
	gro = vnet_gro_create(MAXSEG, VNET_GRO_UDP);
	if (!gro)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *pkt = malloc(size ? size : 1);
	struct resplit r = { 0 };
	struct vnet_hdr h;
	int n;

	if (!gro)
		init();
	if (!pkt)
		return 0;
	memcpy(pkt, data, size);
	n = vnet_split(pkt, size, segs, SEGCAP, lens, MAXSEG);
	if (n <= 0 || size < VNET_HDR_LEN)
		goto out;
	vnet_hdr_get(&h, pkt);
	if ((h.gso_type & 0x7f) == VNET_GSO_NONE)
		goto out;
	for (int i = 0; i < n; i++) {
		if (vnet_verify_checksums(segs[i], lens[i]) != 0)
			abort();
		if (vnet_gro_add(gro, segs[i], lens[i]) != 0)
			abort();
	}
	if (vnet_gro_flush(gro, resplit_write, &r) != 0 || r.bad ||
	    r.n != (size_t)n)
		abort();
	for (int i = 0; i < n; i++)
		if (lens2[i] != lens[i] || memcmp(segs2[i], segs[i], lens[i]))
			abort();
out:
	free(pkt);
	return 0;
}
