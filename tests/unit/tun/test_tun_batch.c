// SPDX-License-Identifier: MIT
/*
 * tun_read_batch on a datagram socketpair standing in for the TUN fd:
 * super-packets split into the batch, a packet that does not fit kept for
 * the next batch, malformed and oversized ones dropped and counted, the
 * per-wakeup read bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun/tun.h"
#include "tun/vnet.h"

static int peer_fd;

/* An IPv4/TCP super-packet of nseg segments of mss bytes, vnet header first. */
static size_t tso(uint8_t *b, unsigned nseg, uint16_t mss, uint8_t gso_type)
{
	size_t payload = (size_t)nseg * mss, len = 40 + payload;
	uint8_t *ip = b + VNET_HDR_LEN, *t = ip + 20;
	struct vnet_hdr h = { .flags = VNET_F_NEEDS_CSUM,
			      .gso_type = gso_type,
			      .hdr_len = 40,
			      .gso_size = nseg > 1 ? mss : 0,
			      .csum_start = 20,
			      .csum_offset = 16 };
	uint16_t c;

	memset(ip, 0, len);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(len >> 8);
	ip[3] = (uint8_t)len;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	ip[10] = 0;
	c = (uint16_t)~vnet_csum_fold(vnet_csum_add(0, ip, 20));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	t[12] = 0x50;
	t[13] = 0x10;
	c = vnet_csum_fold(vnet_csum_add(0, ip + 12, 8) + 6 +
			   (uint32_t)(len - 20));
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	vnet_hdr_put(b, &h);
	return VNET_HDR_LEN + len;
}

static void send_pkt(const uint8_t *b, size_t len)
{
	assert_int_equal(send(peer_fd, b, len, 0), (ssize_t)len);
}

static struct tun_device *wrapped(bool vnet)
{
	struct tun_device *t;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	/* room for a few 64 KiB super-packets in flight */
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 },
		   sizeof(int));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &(int){ 1 << 20 },
		   sizeof(int));
	assert_int_equal(tun_wrap_fd(sv[0], vnet, &t), 0);
	peer_fd = sv[1];
	return t;
}

static void done(struct tun_device *t, struct tun_batch *b)
{
	tun_batch_destroy(b);
	tun_close(t);
	close(peer_fd);
}

static void test_split_into_batch(void **state)
{
	static uint8_t p[VNET_HDR_LEN + VNET_MAX_PACKET];
	struct tun_device *t = wrapped(true);
	struct tun_batch *b = tun_batch_create(8, 2048);
	const struct tun_batch_stats *st = tun_batch_stats(b);
	size_t len;

	assert_non_null(b);
	assert_int_equal(tun_read_batch(t, b, 16), 0); /* nothing waiting */
	send_pkt(p, tso(p, 1, 100, VNET_GSO_NONE));
	send_pkt(p, tso(p, 4, 1000, VNET_GSO_TCPV4));
	len = tso(p, 2, 1000, VNET_GSO_TCPV4);
	p[4] = p[5] = 0; /* gso_size 0: malformed */
	send_pkt(p, len);
	assert_int_equal(tun_read_batch(t, b, 16), 5);
	assert_int_equal(st->reads, 3);
	assert_int_equal(st->super_packets, 2);
	assert_int_equal(st->segments, 5);
	assert_int_equal(st->malformed, 1);
	for (size_t i = 0; i < 5; i++) {
		uint8_t *pkt = tun_batch_packet(b, i, &len);

		assert_int_equal(len, i == 0 ? 140 : 1040);
		assert_int_equal(vnet_verify_checksums(pkt, len), 0);
	}
	tun_batch_clear(b);
	assert_int_equal(tun_batch_count(b), 0);
	done(t, b);
}

static void test_kept_for_next_batch(void **state)
{
	static uint8_t p[VNET_HDR_LEN + VNET_MAX_PACKET];
	struct tun_device *t = wrapped(true);
	struct tun_batch *b = tun_batch_create(4, 2048);
	const struct tun_batch_stats *st = tun_batch_stats(b);

	assert_non_null(b);
	send_pkt(p, tso(p, 1, 100, VNET_GSO_NONE));
	send_pkt(p, tso(p, 4, 1000, VNET_GSO_TCPV4));
	send_pkt(p, tso(p, 1, 200, VNET_GSO_NONE));
	/* 1 + 4 > 4: the super-packet waits, and nothing is read past it */
	assert_int_equal(tun_read_batch(t, b, 16), 1);
	assert_int_equal(tun_read_batch(t, b, 16), 1); /* still no room */
	tun_batch_clear(b);
	assert_int_equal(tun_read_batch(t, b, 16), 4);
	tun_batch_clear(b);
	assert_int_equal(tun_read_batch(t, b, 16), 1);
	assert_int_equal(st->segments, 6);
	/* too large for even an empty batch: dropped, counted */
	tun_batch_clear(b);
	send_pkt(p, tso(p, 5, 1000, VNET_GSO_TCPV4));
	assert_int_equal(tun_read_batch(t, b, 16), 0);
	assert_int_equal(st->too_big, 1);
	done(t, b);
}

static void test_read_bound_and_plain(void **state)
{
	static uint8_t p[VNET_HDR_LEN + VNET_MAX_PACKET];
	struct tun_device *t = wrapped(false);
	struct tun_batch *b = tun_batch_create(64, 2048);
	size_t len;

	assert_non_null(b);
	for (int i = 0; i < 10; i++) {
		len = tso(p, 1, (uint16_t)(10 + i), VNET_GSO_NONE);
		/* a device without vnet header: the IP packet alone */
		send_pkt(p + VNET_HDR_LEN, len - VNET_HDR_LEN);
	}
	assert_int_equal(tun_read_batch(t, b, 3), 3);
	assert_int_equal(tun_read_batch(t, b, 100), 10);
	assert_int_equal(tun_batch_stats(b)->reads, 10);
	tun_batch_packet(b, 9, &len);
	assert_int_equal(len, 40 + 19);
	done(t, b);
	/* a full batch reads nothing more */
	t = wrapped(false);
	b = tun_batch_create(2, 2048);
	assert_non_null(b);
	for (int i = 0; i < 3; i++)
		send_pkt(p + VNET_HDR_LEN, 40);
	assert_int_equal(tun_read_batch(t, b, 100), 2);
	assert_int_equal(tun_read_batch(t, b, 100), 2);
	assert_int_equal(tun_batch_stats(b)->reads, 2);
	tun_batch_clear(b);
	assert_int_equal(tun_read_batch(t, b, 100), 1);
	done(t, b);
	assert_null(tun_batch_create(0, 2048));
	tun_batch_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_into_batch),
		cmocka_unit_test(test_kept_for_next_batch),
		cmocka_unit_test(test_read_bound_and_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
