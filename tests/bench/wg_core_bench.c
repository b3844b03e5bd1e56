// SPDX-License-Identifier: MIT
/*
 * The WireGuard core's data path in one process: device A seals 1420-byte
 * IP packets for B (wg_peer_encrypt, in place), B opens them
 * (wg_device_recv: index lookup, replay window, AEAD, timers). Prints
 * packets/s and Gbit/s of plaintext for each direction of work, so the data
 * plane knows what the core costs per packet. Not part of the test suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wireguard/device.h"

enum { PKT = 1420, BATCH = 256 };

static uint8_t wire[BATCH][PKT + 64];
static size_t wire_len[BATCH];
static uint8_t *fwd; /* a handshake message in flight */
static uint8_t fwd_buf[256];
static size_t fwd_len;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_send(struct wg_peer *peer, const union sockaddr_any *to,
		    const uint8_t *buf, size_t len, void *arg)
{
	(void)peer;
	(void)to;
	(void)arg;
	memcpy(fwd_buf, buf, len);
	fwd_len = len;
	fwd = fwd_buf;
}

/* Deliver the last handshake message to dev. */
static void pass(struct wg_device *dev, const union sockaddr_any *from)
{
	struct wg_rx rx;

	if (!fwd)
		abort();
	fwd = NULL;
	wg_device_recv(dev, from, fwd_buf, fwd_len, 1, &rx);
}

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
	uint8_t ka[32], kb[32];
	struct wg_device_config cfg = { .send = on_send };
	struct wg_device *a, *b;
	struct wg_peer *pa, *pb;
	union sockaddr_any aa, ab;
	double t0, t, seal_s = 1e9, open_s = 1e9;
	struct wg_rx rx;

	memset(ka, 1, 32);
	memset(kb, 2, 32);
	cfg.private_key = ka;
	if (wg_device_create(&cfg, &a))
		return 1;
	cfg.private_key = kb;
	if (wg_device_create(&cfg, &b))
		return 1;
	if (wg_device_add_peer(a, wg_device_public_key(b), NULL, &pa) ||
	    wg_device_add_peer(b, wg_device_public_key(a), NULL, &pb))
		return 1;
	addr_parse("192.0.2.1:1", 0, &aa);
	addr_parse("192.0.2.2:2", 0, &ab);
	wg_peer_set_endpoint(pa, &ab);
	wg_peer_start_handshake(pa, 1);
	pass(b, &aa); /* initiation */
	pass(a, &ab); /* response; A sends its keepalive */
	pass(b, &aa); /* keepalive: B's session is confirmed */
	/* best batch of many: the machine may be busy with other work */
	for (unsigned r = 0; r < rounds; r++) {
		for (int i = 0; i < BATCH; i++) {
			uint8_t *ip = wire[i] + WG_DATA_HEADER_LEN;

			memset(ip, 0, PKT);
			ip[0] = 0x45;
			ip[2] = PKT >> 8;
			ip[3] = PKT & 0xff;
		}
		t0 = now_s();
		for (int i = 0; i < BATCH; i++)
			if (wg_peer_encrypt(pa, wire[i], PKT, sizeof(wire[i]),
					    2, &wire_len[i]))
				abort();
		t = now_s() - t0;
		seal_s = t < seal_s ? t : seal_s;
		t0 = now_s();
		for (int i = 0; i < BATCH; i++)
			if (wg_device_recv(b, &aa, wire[i], wire_len[i], 2,
					   &rx) ||
			    rx.len != PKT)
				abort();
		t = now_s() - t0;
		open_s = t < open_s ? t : open_s;
	}
	double n = BATCH;
	printf("wg core, %d-byte packets, best batch of %d out of %u\n", PKT,
	       BATCH, rounds);
	printf("encrypt (wg_peer_encrypt) %9.0f pkt/s %6.2f Gbit/s\n",
	       n / seal_s, n / seal_s * PKT * 8 / 1e9);
	printf("decrypt (wg_device_recv)  %9.0f pkt/s %6.2f Gbit/s\n",
	       n / open_s, n / open_s * PKT * 8 / 1e9);
	wg_device_destroy(a);
	wg_device_destroy(b);
	return 0;
}
