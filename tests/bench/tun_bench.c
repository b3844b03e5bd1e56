// SPDX-License-Identifier: MIT
/*
 * Data-path costs of the pieces around the TUN, on one core:
 *   allowed-IPs lookups on a table of many IPv4 and IPv6 prefixes,
 *   vnet_split of 64 KiB TSO super-packets into wire-sized segments,
 *   vnet_gro coalescing of those segments back into super-packets.
 * Not part of make check; run tests/bench/run-tun.sh.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tun/vnet.h"
#include "wireguard/allowedips.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void bench_allowedips(size_t prefixes, size_t lookups)
{
	struct allowedips *t = allowedips_create(0);
	static char peers[256];
	uint8_t(*keys)[16] = malloc(lookups * 16);
	volatile uintptr_t sink = 0;
	double t0, dt;

	for (size_t i = 0; i < prefixes; i++) {
		uint8_t ip[16];

		for (int b = 0; b < 16; b++)
			ip[b] = (uint8_t)rnd();
		if (i & 1)
			allowedips_insert(t, AF_INET6, ip,
					  (uint8_t)(16 + rnd() % 113),
					  &peers[rnd() % 256]);
		else
			allowedips_insert(t, AF_INET, ip,
					  (uint8_t)(8 + rnd() % 25),
					  &peers[rnd() % 256]);
	}
	for (size_t i = 0; i < lookups; i++)
		for (int b = 0; b < 16; b++)
			keys[i][b] = (uint8_t)rnd();
	t0 = now_s();
	for (size_t i = 0; i < lookups; i++)
		sink += (uintptr_t)allowedips_lookup(
			t, (i & 1) ? AF_INET6 : AF_INET, keys[i]);
	dt = now_s() - t0;
	printf("allowedips: %zu prefixes (half v4, half v6), %.1f M lookups/s "
	       "(%.0f ns each)\n",
	       allowedips_count(t), (double)lookups / dt / 1e6,
	       dt / (double)lookups * 1e9);
	free(keys);
	allowedips_destroy(t);
	(void)sink;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* A TSO4 super-packet: IPv4 + TCP (20) + payload, partial checksum. */
static size_t make_tso(uint8_t *b, size_t payload, uint16_t mss)
{
	uint8_t *ip = b + VNET_HDR_LEN, *t = ip + 20;
	size_t len = 40 + payload;
	struct vnet_hdr h = { .flags = VNET_F_NEEDS_CSUM,
			      .gso_type = VNET_GSO_TCPV4,
			      .hdr_len = 40,
			      .gso_size = mss,
			      .csum_start = 20,
			      .csum_offset = 16 };
	uint32_t s;

	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(len >> 8);
	ip[3] = (uint8_t)len;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	t[12] = 0x50;
	t[13] = 0x10;
	t[15] = 0xff;
	for (size_t i = 0; i < payload; i++)
		t[20 + i] = (uint8_t)i;
	s = vnet_csum_add(0, ip + 12, 8) + 6 + (uint32_t)(len - 20);
	t[16] = (uint8_t)(fold(s) >> 8);
	t[17] = (uint8_t)fold(s);
	vnet_hdr_put(b, &h);
	return VNET_HDR_LEN + len;
}

static int count_write(void *arg, const uint8_t *d, size_t len)
{
	(void)d;
	*(size_t *)arg += len;
	return 0;
}

static void bench_vnet(unsigned rounds)
{
	enum { MSS = 1380 - 40, MAXSEG = 64 };
	static uint8_t pkt[VNET_HDR_LEN + VNET_MAX_PACKET];
	static uint8_t store[MAXSEG][2048];
	uint8_t *segs[MAXSEG];
	size_t lens[MAXSEG], payload = (65535 - 40) / MSS * MSS, bytes = 0;
	size_t len = make_tso(pkt, payload, MSS), out = 0;
	struct vnet_gro *g = vnet_gro_create(MAXSEG, 0);
	int n = 0;
	double t0, dt;

	for (int i = 0; i < MAXSEG; i++)
		segs[i] = store[i];
	t0 = now_s();
	for (unsigned r = 0; r < rounds; r++) {
		n = vnet_split(pkt, len, segs, sizeof(store[0]), lens, MAXSEG);
		bytes += payload;
	}
	dt = now_s() - t0;
	printf("vnet_split: %zu-byte TSO4 super-packet -> %d segments of MSS "
	       "%d: %.2f Gbit/s payload, %.1f M segments/s\n",
	       len - VNET_HDR_LEN, n, MSS, (double)bytes * 8 / dt / 1e9,
	       (double)rounds * n / dt / 1e6);
	bytes = 0;
	t0 = now_s();
	for (unsigned r = 0; r < rounds; r++) {
		for (int i = 0; i < n; i++)
			vnet_gro_add(g, segs[i], lens[i]);
		vnet_gro_flush(g, count_write, &out);
		bytes += payload;
	}
	dt = now_s() - t0;
	printf("vnet_gro:   %d segments -> 1 super-packet: %.2f Gbit/s payload, "
	       "%.1f M segments/s\n",
	       n, (double)bytes * 8 / dt / 1e9, (double)rounds * n / dt / 1e6);
	vnet_gro_destroy(g);
}

int main(int argc, char **argv)
{
	size_t prefixes = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;

	bench_allowedips(prefixes, 2000000);
	bench_vnet(20000);
	return 0;
}
