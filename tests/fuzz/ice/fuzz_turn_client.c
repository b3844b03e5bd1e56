// SPDX-License-Identifier: MIT
/*
 * The TURN client on hostile input from its server. Each run first brings a
 * client to ALLOCATED through a well-behaved exchange (401, then success,
 * a channel bound), then plays the input as a script of records:
 *
 *   op (1 byte), len (1 byte), then for op 0 and 3 len bytes of datagram
 *   op % 4 == 0  a datagram from the server. If it looks like a STUN
 *                response, its transaction ID is replaced by that of a
 *                request in flight, so answers reach the response code.
 *   op % 4 == 1  time passes: len * 100 ms, then tick
 *   op % 4 == 2  the application acts: permit / bind / send to peer len % 8
 *   op % 4 == 3  a datagram from another address (must never be consumed)
 *
 * Invariants checked: the client never consumes a datagram that did not
 * come from its server, never reports data it did not get from the server,
 * and its next deadline is never in the past after a tick.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/log.h"
#include "ice/stun.h"
#include "ice/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t last_tid[STUN_TID_LEN];
static bool have_tid;
static uint64_t data_events;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void on_send(void *arg, const union sockaddr_any *to, const uint8_t *buf,
		    size_t len)
{
	(void)arg;
	(void)to;
	if (len >= STUN_HEADER_LEN && (buf[0] & 0xC0) == 0 &&
	    stun_type_class((uint16_t)(buf[0] << 8 | buf[1])) ==
		    STUN_CLASS_REQUEST) {
		memcpy(last_tid, buf + 8, STUN_TID_LEN);
		have_tid = true;
	}
}

static void on_data(void *arg, const union sockaddr_any *peer,
		    const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)peer;
	(void)buf;
	check(len <= 65535);
	data_events++;
}

static const struct turn_callbacks CB = {
	.send = on_send,
	.data = on_data,
};

static union sockaddr_any server, other, relayed, peers[8];
static const char user[] = "fuzz", pass[] = "pass", realm[] = "r";

static size_t answer(uint8_t *out, size_t cap, uint16_t method, int code,
		     bool with_mi)
{
	uint8_t key[16];
	struct stun_builder b;
	int n;

	stun_builder_init(&b, out, cap,
			  stun_msg_type(method, code ? STUN_CLASS_ERROR
						     : STUN_CLASS_SUCCESS),
			  last_tid);
	if (code) {
		stun_builder_add_error(&b, code, NULL);
		stun_builder_add_string(&b, STUN_ATTR_REALM, realm);
		stun_builder_add_string(&b, STUN_ATTR_NONCE, "n0");
	} else if (method == STUN_METHOD_ALLOCATE) {
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS,
					  &relayed);
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
					  &other);
		stun_builder_add_u32(&b, STUN_ATTR_LIFETIME, 600);
	}
	if (with_mi) {
		check(stun_long_term_key(user, realm, pass, key) == 0);
		stun_builder_add_message_integrity(&b, key, sizeof(key));
	}
	n = stun_builder_finish(&b);
	check(n > 0);
	return (size_t)n;
}

static struct turn_client *allocated_client(uint64_t now)
{
	struct turn_config cfg = { 0 };
	struct turn_client *c = NULL;
	uint8_t buf[512];
	size_t n;

	cfg.server = server;
	cfg.username = user;
	cfg.password = pass;
	cfg.auto_channel = true;
	check(turn_client_create(&cfg, &CB, &c) == 0);
	check(turn_client_start(c, now) == 0);
	n = answer(buf, sizeof(buf), STUN_METHOD_ALLOCATE, 401, false);
	check(turn_client_recv(c, &server, buf, n, now));
	n = answer(buf, sizeof(buf), STUN_METHOD_ALLOCATE, 0, true);
	check(turn_client_recv(c, &server, buf, n, now));
	check(turn_client_state(c) == TURN_STATE_ALLOCATED);
	check(turn_client_bind_channel(c, &peers[0], now) == 0);
	n = answer(buf, sizeof(buf), STUN_METHOD_CHANNEL_BIND, 0, true);
	turn_client_recv(c, &server, buf, n, now);
	return c;
}

static void setup(void)
{
	static bool done;
	char s[32];

	if (done)
		return;
	done = true;
	log_set_level(LOG_LEVEL_ERROR);
	addr_parse("203.0.113.1:3478", 0, &server);
	addr_parse("203.0.113.2:3478", 0, &other);
	addr_parse("203.0.113.1:50000", 0, &relayed);
	for (int i = 0; i < 8; i++) {
		snprintf(s, sizeof(s), "198.51.100.%d:%d", i + 1, 1000 + i);
		addr_parse(s, 0, &peers[i]);
	}
}

static void app_act(struct turn_client *c, uint8_t arg, uint64_t now)
{
	const union sockaddr_any *p = &peers[arg % 8];
	static const uint8_t payload[] = "fuzz payload";

	switch ((arg >> 3) % 3) {
	case 0:
		turn_client_permit(c, p, now);
		break;
	case 1:
		turn_client_bind_channel(c, p, now);
		break;
	default:
		turn_client_send(c, p, payload, sizeof(payload), now);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pkt[256];
	uint64_t now = 1000, before;
	struct turn_client *c;
	size_t i = 0;

	setup();
	have_tid = false;
	c = allocated_client(now);
	while (i + 2 <= size) {
		uint8_t op = data[i], len = data[i + 1];

		i += 2;
		switch (op % 4) {
		case 0:
		case 3:
			if (len > size - i)
				len = (uint8_t)(size - i);
			memcpy(pkt, data + i, len);
			i += len;
			/* Byte 0 bit 0 is the class's C1 bit: a response. */
			if (len >= STUN_HEADER_LEN && have_tid && (pkt[0] & 1))
				memcpy(pkt + 8, last_tid, STUN_TID_LEN);
			before = data_events;
			if (op % 4 == 3) {
				check(!turn_client_recv(c, &other, pkt, len,
							now));
				check(data_events == before);
			} else {
				turn_client_recv(c, &server, pkt, len, now);
			}
			break;
		case 1:
			now += (uint64_t)len * 100;
			turn_client_tick(c, now);
			check(turn_client_next_deadline(c) > now);
			break;
		default:
			app_act(c, len, now);
			break;
		}
	}
	turn_client_close(c, now);
	turn_client_destroy(c);
	return 0;
}
