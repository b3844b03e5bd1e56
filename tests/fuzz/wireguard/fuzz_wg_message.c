// SPDX-License-Identifier: MIT
/*
 * Any datagram into a WireGuard device: the message parser first (accepted
 * lengths must match the type), then wg_device_recv on a device that holds
 * a session, so that the handshake, cookie and data paths all see hostile
 * bytes. The device is the responder of tests/unit/wireguard/vectors.py, so
 * the seed corpus (those vectors, and data_ip: an IPv4 packet sealed with
 * the vectors' transport key at counter 1, made the same way in Python)
 * reaches every path with valid MACs, down to the decrypted IP packet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wireguard/device.h"
#include "wireguard/messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The responder's static key and ephemeral of vectors.py. */
static const uint8_t S_R[32] = {
	0x38, 0x2e, 0x19, 0x81, 0xd9, 0x77, 0x26, 0x4d, 0x24, 0x7b, 0x6f,
	0x50, 0x00, 0x05, 0x7d, 0x6c, 0xa9, 0xb0, 0xd7, 0x19, 0x60, 0xc2,
	0x03, 0x75, 0x19, 0x27, 0x81, 0xcf, 0x9a, 0x34, 0x22, 0x5c,
};
static const uint8_t S_I_PUB[32] = {
	0x3f, 0x98, 0x43, 0x07, 0x75, 0x4d, 0x83, 0x09, 0x5d, 0xa9, 0x9c,
	0xd0, 0x24, 0x37, 0x50, 0xd8, 0xfa, 0x03, 0xcf, 0x77, 0x8d, 0x8f,
	0x9d, 0xd2, 0x4e, 0xd0, 0x4f, 0xb4, 0xb9, 0x78, 0x03, 0x27,
};
static const uint8_t PSK[32] = {
	0x08, 0x68, 0xfa, 0xcf, 0xf1, 0xb2, 0xc3, 0x5f, 0x6d, 0xf1, 0x85,
	0xa8, 0xfe, 0x41, 0xe2, 0xb7, 0xbb, 0x20, 0x15, 0x81, 0xea, 0xc1,
	0xa1, 0x48, 0x18, 0xc9, 0x79, 0x21, 0xe6, 0x82, 0xf5, 0x2a,
};
static const uint8_t E_R[32] = {
	0x40, 0x20, 0x93, 0x24, 0xf3, 0xc3, 0x7f, 0x32, 0xa3, 0x17, 0x73,
	0x28, 0x8e, 0xc8, 0xe2, 0xaa, 0xaf, 0x04, 0x80, 0x12, 0x5d, 0x72,
	0xdb, 0xec, 0x45, 0xa5, 0xea, 0xe9, 0x71, 0xd6, 0x57, 0x6a,
};

static struct wg_device *dev;
static uint64_t now = 1000;
static size_t sent;

/* Deterministic: the index of the vectors, their ephemeral, then a stream. */
static void fuzz_random(void *buf, size_t len, void *arg)
{
	static uint32_t next_index = 0x55667788;
	static uint64_t state = 1;
	uint8_t *p = buf;

	if (len == 4) {
		wg_put_le32(p, next_index++);
		return;
	}
	if (len == 32) {
		memcpy(p, E_R, 32);
		return;
	}
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(state = state * 6364136223846793005ULL + 1);
}

static void fuzz_send(struct wg_peer *peer, const union sockaddr_any *to,
		      const uint8_t *buf, size_t len, void *arg)
{
	/* what the device sends must itself parse */
	struct wg_msg m;

	if (wg_msg_parse(buf, len, &m))
		abort();
	sent += len;
}

static void init(void)
{
	struct wg_device_config cfg = {
		.private_key = S_R,
		.send = fuzz_send,
		.random = fuzz_random,
	};
	struct wg_peer *p;

	if (wg_device_create(&cfg, &dev) ||
	    wg_device_add_peer(dev, S_I_PUB, PSK, &p))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[4096];
	union sockaddr_any src;
	struct wg_msg m;
	struct wg_rx rx;

	if (!dev)
		init();
	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	if (wg_msg_parse(buf, size, &m) == 0) {
		if (m.len != size ||
		    (m.type == WG_MSG_DATA &&
		     m.payload_len + WG_DATA_HEADER_LEN != size))
			abort();
	}
	addr_parse("192.0.2.1:51820", 0, &src);
	now += 25; /* past the initiation flood limit each time */
	if (wg_device_recv(dev, &src, buf, size, now, &rx) == 0 && rx.len) {
		if (rx.data < buf + WG_DATA_HEADER_LEN ||
		    rx.data + rx.len > buf + size)
			abort();
	}
	if (wg_device_next_deadline(dev) <= now)
		wg_device_tick(dev, now);
	return 0;
}
