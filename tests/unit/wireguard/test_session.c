// SPDX-License-Identifier: MIT
/*
 * Two (or three) devices on a fake network and a fake clock: handshakes,
 * data both ways, session rotation, the rekey and reject limits, cookies
 * under load, timers driven through the device, and hostile input that must
 * be dropped, counted, and never make libcrypto allocate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/log.h"
#include "wg_test_util.h"
#include "wireguard/device.h"
#include "wireguard/device_impl.h"

enum { OUTBOX = 64, EV_MAX = 4 };

struct sent {
	bool to_peer; /* false: a cookie reply to a source address */
	union sockaddr_any to;
	uint8_t buf[256];
	size_t len;
};

struct node {
	struct wg_device *dev;
	struct wg_peer *peer; /* the other node */
	union sockaddr_any addr;
	struct wgt_random rnd;
	struct sent out[OUTBOX];
	unsigned nout;
	unsigned events[EV_MAX];
};

/* The wall clock follows the fake monotonic one. */
static const uint64_t *fake_now;

static void fake_tai64n(uint8_t out[12], void *arg)
{
	wg_tai64n_encode(out, 1700000000 + *fake_now / 1000,
			 (uint32_t)(*fake_now % 1000) * 1000000);
}

struct fx {
	struct node a, b;
	uint64_t now;
};

static void on_send(struct wg_peer *peer, const union sockaddr_any *to,
		    const uint8_t *buf, size_t len, void *arg)
{
	struct node *n = arg;
	struct sent *s;

	assert_true(n->nout < OUTBOX);
	assert_true(len <= sizeof(s->buf));
	s = &n->out[n->nout++];
	s->to_peer = peer != NULL;
	s->to = *to;
	memcpy(s->buf, buf, len);
	s->len = len;
}

static void on_notify(struct wg_peer *peer, enum wg_peer_event ev, void *arg)
{
	struct node *n = arg;

	assert_true((int)ev < (int)EV_MAX);
	n->events[ev]++;
}

static void node_init(struct node *n, const char *addr, uint8_t key_byte)
{
	uint8_t priv[32];
	struct wg_device_config cfg = {
		.private_key = priv,
		.send = on_send,
		.send_arg = n,
		.notify = on_notify,
		.notify_arg = n,
		.random = wgt_random_fn,
		.random_arg = &n->rnd,
		.tai64n = fake_tai64n,
	};

	memset(n, 0, sizeof(*n));
	n->rnd.counter = key_byte;
	memset(priv, key_byte, sizeof(priv));
	assert_int_equal(addr_parse(addr, 0, &n->addr), 0);
	assert_int_equal(wg_device_create(&cfg, &n->dev), 0);
}

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	node_init(&f.a, "192.0.2.1:51820", 0xa1);
	node_init(&f.b, "192.0.2.2:51820", 0xb2);
	assert_int_equal(wg_device_add_peer(f.a.dev,
					    wg_device_public_key(f.b.dev), NULL,
					    &f.a.peer),
			 0);
	assert_int_equal(wg_device_add_peer(f.b.dev,
					    wg_device_public_key(f.a.dev), NULL,
					    &f.b.peer),
			 0);
	/* A knows where B is; B learns A's address from A's messages */
	wg_peer_set_endpoint(f.a.peer, &f.b.addr);
	f.now = 1000000;
	fake_now = &f.now;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	wg_device_destroy(f->a.dev);
	wg_device_destroy(f->b.dev);
	return 0;
}

/* Deliver everything `from` sent to `to`; returns how many were accepted. */
static unsigned deliver(struct fx *f, struct node *from, struct node *to)
{
	unsigned ok = 0, n = from->nout;
	struct sent copy[OUTBOX];
	struct wg_rx rx;

	memcpy(copy, from->out, sizeof(copy));
	from->nout = 0;
	for (unsigned i = 0; i < n; i++)
		if (wg_device_recv(to->dev, &from->addr, copy[i].buf,
				   copy[i].len, f->now, &rx) == 0)
			ok++;
	return ok;
}

/* An IPv4 packet of total length len with a recognisable body. */
static void make_ip(uint8_t *p, size_t len, uint8_t fill)
{
	memset(p, fill, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

/* A full handshake started by `ini`, confirmed by its keepalive. */
static void handshake(struct fx *f, struct node *ini, struct node *resp)
{
	unsigned ready_i = ini->events[WG_EV_SESSION_READY];
	unsigned ready_r = resp->events[WG_EV_SESSION_READY];

	wg_peer_start_handshake(ini->peer, f->now);
	assert_int_equal(ini->nout, 1);
	assert_int_equal(ini->out[0].len, 148);
	if (deliver(f, ini, resp) != 1) {
		const struct wg_device_stats *st = wg_device_stats(resp->dev);
		fail_msg(
			"initiation refused: mac1 %llu bad %llu replay %llu flood %llu",
			(unsigned long long)st->rx_bad_mac1,
			(unsigned long long)st->rx_handshake_bad,
			(unsigned long long)st->rx_handshake_replay,
			(unsigned long long)st->rx_handshake_flood);
	}
	assert_int_equal(resp->nout, 1);
	assert_int_equal(resp->out[0].len, 92);
	assert_int_equal(deliver(f, resp, ini), 1);
	assert_int_equal(ini->events[WG_EV_SESSION_READY], ready_i + 1);
	/* the initiator confirms with a keepalive */
	assert_int_equal(ini->nout, 1);
	assert_int_equal(ini->out[0].len, 32);
	assert_int_equal(deliver(f, ini, resp), 1);
	assert_int_equal(resp->events[WG_EV_SESSION_READY], ready_r + 1);
}

/* Encrypt an IP packet of len bytes from `from` into msg; returns its size. */
static size_t seal(struct fx *f, struct node *from, uint8_t *msg, size_t len,
		   uint8_t fill)
{
	size_t n = 0;

	make_ip(msg + WG_DATA_HEADER_LEN, len, fill);
	assert_int_equal(wg_peer_encrypt(from->peer, msg, len,
					 wg_msg_data_len(len), f->now, &n),
			 0);
	return n;
}

/* msg must arrive at `to` as the IP packet it was sealed from. */
static void expect_data(struct fx *f, struct node *from, struct node *to,
			uint8_t *msg, size_t n, size_t len, uint8_t fill)
{
	uint8_t want[2048];
	struct wg_rx rx;

	make_ip(want, len, fill);
	assert_int_equal(
		wg_device_recv(to->dev, &from->addr, msg, n, f->now, &rx), 0);
	assert_ptr_equal(rx.peer, to->peer);
	assert_int_equal(rx.len, len);
	assert_memory_equal(rx.data, want, len);
}

static void test_handshake_and_data(void **state)
{
	struct fx *f = *state;
	uint8_t msg[2048];
	size_t n;
	struct wg_peer_info ia, ib;

	/* no session: the packet is refused and a handshake starts */
	make_ip(msg + 16, 100, 1);
	assert_int_equal(
		wg_peer_encrypt(f->a.peer, msg, 100, sizeof(msg), f->now, &n),
		-ENOKEY);
	assert_int_equal(f->a.nout, 1);
	f->a.nout = 0;
	f->now += REKEY_TIMEOUT_MS;
	handshake(f, &f->a, &f->b);
	assert_true(wg_peer_has_session(f->a.peer, f->now));
	assert_true(wg_peer_has_session(f->b.peer, f->now));

	for (size_t len = 20; len <= 1420; len += 100) {
		n = seal(f, &f->a, msg, len, (uint8_t)len);
		/* the receiver can sort it by peer before decrypting */
		assert_ptr_equal(wg_device_lookup(f->b.dev, msg, n), f->b.peer);
		assert_null(wg_device_lookup(f->b.dev, msg, 31));
		assert_null(wg_device_lookup(f->a.dev, msg, n));
		/* padded to 16, never past the MTU (§5.4.6) */
		assert_int_equal(n,
				 32 + ((len + 15) & ~15u) -
					 ((len + 15) / 16 * 16 > 1420 ? 4 : 0));
		expect_data(f, &f->a, &f->b, msg, n, len, (uint8_t)len);
		n = seal(f, &f->b, msg, len, (uint8_t)~len);
		expect_data(f, &f->b, &f->a, msg, n, len, (uint8_t)~len);
	}
	/* B learnt A's endpoint from A's authenticated messages */
	wg_peer_get_info(f->b.peer, &ib);
	assert_true(addr_equal(&ib.endpoint, &f->a.addr));
	wg_peer_get_info(f->a.peer, &ia);
	assert_true(ia.last_handshake_ms != 0);
	/* wall time of the handshake, from the (fake) tai64n clock */
	assert_int_equal(ia.last_handshake_unix_s, 1700000000 + f->now / 1000);
	assert_true(ia.tx_bytes > 15 * 20 && ia.rx_bytes > 15 * 20);
	/* all but the first initiation, which the test dropped */
	assert_true(ib.rx_bytes + 148 == ia.tx_bytes);
	assert_true(ia.rx_bytes == ib.tx_bytes);
	/* nothing was dropped on the way */
	assert_int_equal(wg_device_stats(f->a.dev)->rx_bad_auth +
				 wg_device_stats(f->b.dev)->rx_bad_auth,
			 0);

	/* a cap too small is refused without spending a counter */
	make_ip(msg + 16, 100, 1);
	assert_int_equal(
		wg_peer_encrypt(f->a.peer, msg, 100, 100 + 16, f->now, &n),
		-EMSGSIZE);
}

/* An IPv6 packet too, and padding stripped by the IP header's length. */
static void test_ipv6_and_padding(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256];
	size_t n = 0;
	struct wg_rx rx;

	handshake(f, &f->a, &f->b);
	memset(msg, 0, sizeof(msg));
	msg[16] = 0x60;
	msg[16 + 5] = 10; /* payload length 10: 50 bytes in all */
	assert_int_equal(
		wg_peer_encrypt(f->a.peer, msg, 50, sizeof(msg), f->now, &n),
		0);
	assert_int_equal(n, 32 + 64);
	assert_int_equal(
		wg_device_recv(f->b.dev, &f->a.addr, msg, n, f->now, &rx), 0);
	assert_int_equal(rx.len, 50);
	/* a decrypted payload that is not an IP packet is dropped */
	memset(msg + 16, 0x20, 40);
	assert_int_equal(
		wg_peer_encrypt(f->a.peer, msg, 40, sizeof(msg), f->now, &n),
		0);
	assert_int_equal(
		wg_device_recv(f->b.dev, &f->a.addr, msg, n, f->now, &rx),
		-EPROTO);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_bad_ip, 1);
}

/* A second handshake, from the other side: old packets still decrypt. */
static void test_rotation(void **state)
{
	struct fx *f = *state;
	uint8_t old[256], msg[256];
	size_t nold, n;
	struct wg_keypair *first;

	handshake(f, &f->a, &f->b);
	first = f->a.peer->current;
	nold = seal(f, &f->a, old, 60, 0x11); /* in flight during the rekey */
	f->now += REKEY_TIMEOUT_MS;
	handshake(f, &f->b, &f->a);
	/* A answered as responder, and B's keepalive made it current */
	assert_ptr_not_equal(f->a.peer->current, first);
	assert_ptr_equal(f->a.peer->previous, first);
	n = seal(f, &f->a, msg, 60, 0x22);
	expect_data(f, &f->a, &f->b, msg, n, 60, 0x22);
	/* the packet sealed with the old key arrives late: still accepted */
	expect_data(f, &f->a, &f->b, old, nold, 60, 0x11);
	/* a third handshake retires the first keypair for good */
	f->now += REKEY_TIMEOUT_MS;
	handshake(f, &f->a, &f->b);
	nold = seal(f, &f->a, msg, 60, 0x33);
	expect_data(f, &f->a, &f->b, msg, nold, 60, 0x33);
}

static void test_rekey_after_time(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256];
	size_t n;

	handshake(f, &f->a, &f->b);
	f->now += REKEY_AFTER_TIME_MS - 1;
	n = seal(f, &f->a, msg, 40, 1);
	assert_int_equal(f->a.nout, 0);
	f->now += 1;
	n = seal(f, &f->a, msg, 40, 1);
	/* still sent with the old key, and an initiation went out (§6.2) */
	assert_int_equal(f->a.nout, 1);
	assert_int_equal(f->a.out[0].len, 148);
	expect_data(f, &f->a, &f->b, msg, n, 40, 1);
	/* the responder does not rekey on time, only the initiator does */
	f->a.nout = 0;
	n = seal(f, &f->b, msg, 40, 1);
	assert_int_equal(f->b.nout, 0);
}

static void test_reject_after_time(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256], late[256];
	size_t n, nlate;

	handshake(f, &f->a, &f->b);
	nlate = seal(f, &f->a, late, 40, 1);
	f->now += REJECT_AFTER_TIME_MS;
	make_ip(msg + 16, 40, 1);
	assert_int_equal(
		wg_peer_encrypt(f->a.peer, msg, 40, sizeof(msg), f->now, &n),
		-ENOKEY);
	assert_false(wg_peer_has_session(f->a.peer, f->now));
	/* the receiver refuses the old keypair too */
	struct wg_rx rx;
	assert_int_equal(
		wg_device_recv(f->b.dev, &f->a.addr, late, nlate, f->now, &rx),
		-EKEYEXPIRED);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_key_expired, 1);
}

static void test_message_limits(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256];
	size_t n;

	handshake(f, &f->a, &f->b);
	f->now += REKEY_TIMEOUT_MS; /* initiations are at most one per 5 s */
	/* past REKEY_AFTER_MESSAGES: still sends, and rekeys (§6.2) */
	f->a.peer->current->send_counter = REKEY_AFTER_MESSAGES + 1;
	n = seal(f, &f->a, msg, 40, 1);
	assert_int_equal(f->a.nout, 1);
	expect_data(f, &f->a, &f->b, msg, n, 40, 1);
	/* at REJECT_AFTER_MESSAGES the key is never used again (§6.4) */
	f->a.nout = 0;
	f->a.peer->current->send_counter = REJECT_AFTER_MESSAGES;
	make_ip(msg + 16, 40, 1);
	assert_int_equal(
		wg_peer_encrypt(f->a.peer, msg, 40, sizeof(msg), f->now, &n),
		-ENOKEY);
	/* and the receiver refuses such counters regardless */
	f->a.peer->current->send_counter = REJECT_AFTER_MESSAGES - 1;
	n = seal(f, &f->a, msg, 40, 1);
	expect_data(f, &f->a, &f->b, msg, n, 40, 1);
}

/* §6.2: as initiator, rekey on receive 165 s into a session. */
static void test_lastminute_handshake(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256];
	size_t n;

	handshake(f, &f->a, &f->b);
	f->now +=
		REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;
	n = seal(f, &f->b, msg, 40, 1);
	f->a.nout = 0;
	expect_data(f, &f->b, &f->a, msg, n, 40, 1);
	assert_int_equal(f->a.nout, 1);
	assert_int_equal(f->a.out[0].len, 148);
	/* only once */
	f->a.nout = 0;
	f->now += REKEY_TIMEOUT_MS;
	n = seal(f, &f->b, msg, 40, 2);
	expect_data(f, &f->b, &f->a, msg, n, 40, 2);
	assert_int_equal(f->a.nout, 0);
}

/* Run the devices' timers up to `until`, dropping what they send. */
static unsigned run_until(struct fx *f, struct node *n, uint64_t until,
			  size_t want_len)
{
	unsigned count = 0;
	uint64_t t;

	while ((t = wg_device_next_deadline(n->dev)) <= until) {
		f->now = t > f->now ? t : f->now;
		wg_device_tick(n->dev, f->now);
		for (unsigned i = 0; i < n->nout; i++)
			count += n->out[i].len == want_len;
		n->nout = 0;
	}
	f->now = until;
	return count;
}

static void test_retransmit_and_give_up(void **state)
{
	struct fx *f = *state;
	uint64_t start = f->now;
	unsigned inits;

	wg_peer_start_handshake(f->a.peer, f->now);
	f->a.nout = 0;
	/* nobody answers: an initiation every REKEY_TIMEOUT + jitter */
	inits = run_until(f, &f->a,
			  start + REKEY_ATTEMPT_TIME_MS + 3 * REKEY_TIMEOUT_MS,
			  148);
	assert_int_equal(inits, MAX_TIMER_HANDSHAKES + 1);
	assert_int_equal(f->a.events[WG_EV_HANDSHAKE_GAVE_UP], 1);
	/* then silence, until the key material is erased */
	assert_int_equal(
		run_until(f, &f->a, start + 4ULL * REJECT_AFTER_TIME_MS, 148),
		0);
	assert_int_equal(f->a.events[WG_EV_KEYS_ZEROED], 1);
	assert_int_equal(wg_device_next_deadline(f->a.dev), UINT64_MAX);
}

static void test_keepalive_and_new_handshake(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256];
	size_t n;
	uint64_t t0;

	handshake(f, &f->a, &f->b);
	/* A sends, B has nothing to say: B's keepalive after 10 s (§6.5) */
	t0 = f->now;
	n = seal(f, &f->a, msg, 40, 1);
	expect_data(f, &f->a, &f->b, msg, n, 40, 1);
	wg_device_tick(f->b.dev, t0 + KEEPALIVE_TIMEOUT_MS - 1);
	assert_int_equal(f->b.nout, 0);
	f->now = t0 + KEEPALIVE_TIMEOUT_MS;
	wg_device_tick(f->b.dev, f->now);
	assert_int_equal(f->b.nout, 1);
	assert_int_equal(f->b.out[0].len, 32);
	/* which answers A, so A's new-handshake timer stands down */
	assert_int_equal(deliver(f, &f->b, &f->a), 1);
	assert_int_equal(run_until(f, &f->a, t0 + 20000, 148), 0);

	/* now B stays silent: A starts a handshake after 15 s + jitter */
	t0 = f->now;
	n = seal(f, &f->a, msg, 40, 2);
	assert_int_equal(
		run_until(f, &f->a,
			  t0 + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS - 1,
			  148),
		0);
	assert_int_equal(run_until(f, &f->a,
				   t0 + KEEPALIVE_TIMEOUT_MS +
					   REKEY_TIMEOUT_MS +
					   REKEY_TIMEOUT_JITTER_MAX_MS,
				   148),
			 1);
}

/* Two initiations within one whitened TAI64N step: the second is a replay. */
static void test_same_timestamp_refused(void **state)
{
	struct fx *f = *state;

	wg_peer_start_handshake(f->a.peer, f->now);
	assert_int_equal(deliver(f, &f->a, &f->b), 1);
	f->now += REKEY_TIMEOUT_MS;
	/* the wall clock stood still (or went back) meanwhile */
	uint64_t real = f->now;
	f->now -= REKEY_TIMEOUT_MS;
	wg_peer_start_handshake(f->a.peer, real);
	f->now = real;
	assert_int_equal(deliver(f, &f->a, &f->b), 0);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_handshake_replay, 1);
	f->now += REKEY_TIMEOUT_MS;
	wg_peer_start_handshake(f->a.peer, f->now);
	assert_int_equal(deliver(f, &f->a, &f->b), 1);
}

static void test_persistent_keepalive(void **state)
{
	struct fx *f = *state;
	uint64_t t0;

	handshake(f, &f->a, &f->b);
	f->a.nout = 0;
	t0 = f->now;
	wg_peer_set_persistent_keepalive(f->a.peer, 25, f->now);
	assert_int_equal(f->a.nout, 1); /* one at once */
	f->a.nout = 0;
	/* then one per 25 s of silence, over 100 s */
	assert_int_equal(run_until(f, &f->a, t0 + 100000, 32), 4);
}

static void test_roaming(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256];
	size_t n;
	union sockaddr_any moved;
	struct wg_peer_info info;

	handshake(f, &f->a, &f->b);
	addr_parse("[2001:db8::9]:4000", 0, &moved);
	f->a.addr = moved;
	n = seal(f, &f->a, msg, 40, 1);
	expect_data(f, &f->a, &f->b, msg, n, 40, 1);
	wg_peer_get_info(f->b.peer, &info);
	assert_true(addr_equal(&info.endpoint, &moved));
	/* B's answer goes to the new address */
	wg_peer_send_keepalive(f->b.peer, f->now);
	assert_int_equal(f->b.nout, 1);
	assert_true(addr_equal(&f->b.out[0].to, &moved));
}

/* §5.3: under load, a cookie reply first; MAC2 with the cookie gets in. */
static void test_cookie_under_load(void **state)
{
	struct fx *f = *state;
	union sockaddr_any other;
	struct wg_rx rx;
	struct sent init;
	static const uint8_t zero[16];

	wg_device_report_backlog(f->b.dev, WG_UNDER_LOAD_BACKLOG - 1, f->now);
	assert_false(wg_device_under_load(f->b.dev, f->now));
	wg_device_report_backlog(f->b.dev, WG_UNDER_LOAD_BACKLOG, f->now);
	assert_true(wg_device_under_load(f->b.dev, f->now));

	wg_peer_start_handshake(f->a.peer, f->now);
	assert_memory_equal(f->a.out[0].buf + 132, zero, 16); /* no MAC2 yet */
	assert_int_equal(deliver(f, &f->a, &f->b), 0);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_cookie_sent, 1);
	assert_int_equal(f->b.nout, 1);
	assert_int_equal(f->b.out[0].len, 64);
	assert_false(f->b.out[0].to_peer);
	assert_true(addr_equal(&f->b.out[0].to, &f->a.addr));
	/* a forged cookie reply is refused, the real one taken */
	struct sent forged = f->b.out[0];
	forged.buf[40] ^= 1;
	assert_int_equal(wg_device_recv(f->a.dev, &f->b.addr, forged.buf, 64,
					f->now, &rx),
			 -EBADMSG);
	assert_int_equal(wg_device_stats(f->a.dev)->rx_cookie_bad, 1);
	assert_int_equal(deliver(f, &f->b, &f->a), 1);
	/* the same reply twice is not consumed twice */
	assert_int_not_equal(wg_device_recv(f->a.dev, &f->b.addr, forged.buf,
					    64, f->now, &rx),
			     0);

	/* the retransmission carries MAC2 and is answered despite the load */
	f->now += REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS;
	wg_device_report_backlog(f->b.dev, 10000, f->now);
	wg_device_tick(f->a.dev, f->now);
	assert_int_equal(f->a.nout, 1);
	assert_memory_not_equal(f->a.out[0].buf + 132, zero, 16);
	init = f->a.out[0];
	/* from another address the cookie does not fit: another reply */
	addr_parse("192.0.2.99:51820", 0, &other);
	assert_int_equal(wg_device_recv(f->b.dev, &other, init.buf, init.len,
					f->now, &rx),
			 -EBUSY);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_cookie_sent, 2);
	f->b.nout = 0;
	assert_int_equal(deliver(f, &f->a, &f->b), 1);
	assert_int_equal(f->b.nout, 1);
	assert_int_equal(f->b.out[0].len, 92);
	/* the response goes back through A's checker, which is not loaded */
	assert_int_equal(deliver(f, &f->b, &f->a), 1);
	assert_int_equal(f->a.events[WG_EV_SESSION_READY], 1);
	/* under load a proven source still gets 5 at once, then 20 a second */
	for (int i = 0; i < 10; i++)
		assert_true(wg_device_recv(f->b.dev, &f->a.addr, init.buf,
					   init.len, f->now, &rx) < 0);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_ratelimited, 6);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_handshake_replay, 4);
	/* load passes after a second without a big backlog */
	assert_false(wg_device_under_load(f->b.dev,
					  f->now + WG_UNDER_LOAD_AFTER_MS));
}

/* Truncated, forged, replayed and wrong-key messages: dropped and counted. */
static void test_bad_input(void **state)
{
	struct fx *f = *state;
	uint8_t good[256], buf[256], wrong[256], init[148];
	size_t n;
	struct wg_rx rx;
	const struct wg_device_stats *st = wg_device_stats(f->b.dev);
	uint64_t allocs, dropped;

	handshake(f, &f->a, &f->b);
	wg_peer_start_handshake(f->a.peer, f->now + REKEY_TIMEOUT_MS);
	memcpy(init, f->a.out[0].buf, sizeof(init));
	f->a.nout = 0;
	n = seal(f, &f->a, good, 100, 7);
	{
		struct wg_aead_key k = { 0 };
		uint8_t key[32];

		memset(key, 0x5a, sizeof(key));
		memcpy(wrong, good, n);
		wg_put_le64(wrong + 8, 1000);
		allocs = wgt_openssl_allocs();
		assert_int_equal(wg_aead_key_init(&k, key), 0);
		/* the allocation counter works: a key's contexts are counted */
		assert_true(wgt_openssl_allocs() > allocs);
		assert_int_equal(wg_aead_seal(&k, 1000, wrong + 16, wrong + 16,
					      n - 32, NULL, 0),
				 0);
		wg_aead_key_clear(&k);
	}

	allocs = wgt_openssl_allocs();
	/* every truncation of a data message and of an initiation */
	for (size_t len = 0; len < n; len++) {
		memcpy(buf, good, len);
		assert_true(wg_device_recv(f->b.dev, &f->a.addr, buf, len,
					   f->now, &rx) < 0);
	}
	for (size_t len = 0; len < sizeof(init); len++) {
		memcpy(buf, init, len);
		assert_true(wg_device_recv(f->b.dev, &f->a.addr, buf, len,
					   f->now, &rx) < 0);
	}
	assert_int_equal(st->rx_malformed, WG_DATA_OVERHEAD + sizeof(init));
	/* every single-bit forgery of the data message */
	for (size_t i = 0; i < n * 8; i++) {
		memcpy(buf, good, n);
		buf[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_true(wg_device_recv(f->b.dev, &f->a.addr, buf, n, f->now,
					   &rx) < 0);
	}
	/* a forged MAC1 on an initiation */
	memcpy(buf, init, sizeof(init));
	buf[120] ^= 1;
	assert_int_equal(wg_device_recv(f->b.dev, &f->a.addr, buf, sizeof(init),
					f->now, &rx),
			 -EBADMSG);
	assert_int_equal(st->rx_bad_mac1, 1);
	/* replay: once accepted, twice dropped */
	uint64_t replays = st->rx_replay;
	memcpy(buf, good, n);
	assert_int_equal(
		wg_device_recv(f->b.dev, &f->a.addr, buf, n, f->now, &rx), 0);
	memcpy(buf, good, n);
	assert_int_equal(
		wg_device_recv(f->b.dev, &f->a.addr, buf, n, f->now, &rx),
		-EALREADY);
	assert_int_equal(st->rx_replay, replays + 1);
	/* wrong key: the right index, a payload sealed under another key */
	assert_int_equal(
		wg_device_recv(f->b.dev, &f->a.addr, wrong, n, f->now, &rx),
		-EBADMSG);
	dropped = st->rx_malformed + st->rx_bad_auth + st->rx_unknown_index +
		  st->rx_replay + st->rx_bad_mac1;
	assert_int_equal(dropped, WG_DATA_OVERHEAD + sizeof(init) +
					  (n - WG_DATA_OVERHEAD) + n * 8 + 1 +
					  1 + 1);
	/* none of it made libcrypto allocate */
	assert_int_equal(wgt_openssl_allocs(), allocs);
	/* and the session still works */
	n = seal(f, &f->a, good, 100, 8);
	expect_data(f, &f->a, &f->b, good, n, 100, 8);
}

/* Fix up MAC1 (and clear MAC2) of msg as a sender that knows `pub` would. */
static void remac(struct wg_blake2s *b2, const uint8_t pub[WG_KEY_LEN],
		  uint8_t *msg, size_t len)
{
	struct wg_cookie_maker m;

	assert_int_equal(wg_cookie_maker_init(&m, b2, pub), 0);
	assert_int_equal(wg_cookie_add_macs(&m, b2, msg, len, 0), 0);
	wg_cookie_maker_clear(&m);
}

/* libcrypto allocations of one transport keypair (two cipher contexts). */
static uint64_t keypair_allocs(void)
{
	struct wg_aead_key k = { 0 };
	uint8_t key[32] = { 1 };
	uint64_t before = wgt_openssl_allocs();

	assert_int_equal(wg_aead_key_init(&k, key), 0);
	wg_aead_key_clear(&k);
	return 2 * (wgt_openssl_allocs() - before);
}

/*
 * Handshake messages whose MAC1 is valid — anyone who knows our public key
 * can make them — are processed without a libcrypto allocation: forgeries
 * of every field of an initiation, initiations from an unknown key and
 * sealed to another responder, replays, forged responses and cookie
 * replies, and the cookie path under load. Once every keypair slot has made
 * its cipher contexts, a successful handshake allocates nothing either:
 * device.c re-keys a slot's contexts in place when a session begins and
 * only wipes them when the keypair is dropped.
 */
static void test_handshake_no_alloc(void **state)
{
	struct fx *f = *state;
	struct node c;
	struct wg_peer *pc;
	struct wg_blake2s b2;
	const struct wg_device_stats *sb = wg_device_stats(f->b.dev);
	const struct wg_device_stats *sa = wg_device_stats(f->a.dev);
	uint8_t init[148], buf[148], resp[92], other[148], unknown[148];
	uint8_t cookie[64];
	uint64_t allocs, per_keypair, bad, forged = 0;
	struct wg_rx rx;

	/*
	 * warm-up: handshakes from either side until every keypair slot of
	 * both peers has made its cipher contexts; they are kept from here on
	 */
	allocs = wgt_openssl_allocs();
	for (int round = 0; round < 2 * WG_KEYPAIR_SLOTS; round++) {
		f->now += REKEY_TIMEOUT_MS + 1000;
		if (round % 2)
			handshake(f, &f->b, &f->a);
		else
			handshake(f, &f->a, &f->b);
	}
	assert_int_equal(wg_blake2s_init(&b2), 0);
	per_keypair = keypair_allocs();
	assert_true(per_keypair > 0); /* the counter sees libcrypto */
	/* the slots did make their contexts once */
	assert_true(wgt_openssl_allocs() - allocs >= 2 * per_keypair);
	/* C knows B (unknown to B) and makes one initiation for B, one for A */
	node_init(&c, "192.0.2.3:51820", 0xc3);
	assert_int_equal(wg_device_add_peer(c.dev,
					    wg_device_public_key(f->b.dev),
					    NULL, &pc),
			 0);
	wg_peer_set_endpoint(pc, &f->b.addr);
	wg_peer_start_handshake(pc, f->now);
	assert_int_equal(c.nout, 1);
	memcpy(unknown, c.out[0].buf, sizeof(unknown));
	wg_device_remove_peer(c.dev, pc);
	assert_int_equal(wg_device_add_peer(c.dev,
					    wg_device_public_key(f->a.dev),
					    NULL, &pc),
			 0);
	wg_peer_set_endpoint(pc, &f->b.addr);
	c.nout = 0;
	wg_peer_start_handshake(pc, f->now);
	assert_int_equal(c.nout, 1);
	memcpy(other, c.out[0].buf, sizeof(other));
	remac(&b2, wg_device_public_key(f->b.dev), other, sizeof(other));
	/* A's next initiation, held back */
	f->now += REKEY_TIMEOUT_MS + 1000;
	f->a.nout = 0;
	wg_peer_start_handshake(f->a.peer, f->now);
	assert_int_equal(f->a.nout, 1);
	memcpy(init, f->a.out[0].buf, sizeof(init));
	f->a.nout = 0;

	allocs = wgt_openssl_allocs();
	bad = sb->rx_handshake_bad;
	/* every single-bit forgery of ephemeral, static and timestamp */
	for (size_t i = 8 * 8; i < 116 * 8; i++) {
		memcpy(buf, init, sizeof(buf));
		buf[i / 8] ^= (uint8_t)(1 << (i % 8));
		remac(&b2, wg_device_public_key(f->b.dev), buf, sizeof(buf));
		assert_true(wg_device_recv(f->b.dev, &f->a.addr, buf,
					   sizeof(buf), f->now, &rx) < 0);
		forged++;
	}
	/* sealed to another responder's key; from a key B does not know */
	assert_true(wg_device_recv(f->b.dev, &c.addr, other, sizeof(other),
				   f->now, &rx) < 0);
	assert_int_equal(wg_device_recv(f->b.dev, &c.addr, unknown,
					sizeof(unknown), f->now, &rx),
			 -ENOENT);
	assert_int_equal(sb->rx_handshake_bad, bad + forged + 2);
	assert_int_equal(f->b.nout, 0);
	assert_int_equal(sb->rx_bad_mac1, 0);
	assert_int_equal(wgt_openssl_allocs(), allocs);
	/* the genuine one is answered (B's next keypair), its replay is not */
	assert_int_equal(wg_device_recv(f->b.dev, &f->a.addr, init,
					sizeof(init), f->now, &rx),
			 0);
	assert_int_equal(wgt_openssl_allocs(), allocs);
	assert_int_equal(f->b.nout, 1);
	memcpy(resp, f->b.out[0].buf, sizeof(resp));
	f->b.nout = 0;
	f->now += 1000;
	assert_int_equal(wg_device_recv(f->b.dev, &f->a.addr, init,
					sizeof(init), f->now, &rx),
			 -EALREADY);
	/* forged responses to A's pending handshake, MAC1 valid for A */
	bad = sa->rx_handshake_bad;
	for (size_t i = 12 * 8; i < 60 * 8; i += 3) {
		uint8_t r[92];

		memcpy(r, resp, sizeof(r));
		r[i / 8] ^= (uint8_t)(1 << (i % 8));
		remac(&b2, wg_device_public_key(f->a.dev), r, sizeof(r));
		assert_true(wg_device_recv(f->a.dev, &f->b.addr, r, sizeof(r),
					   f->now, &rx) < 0);
		forged++;
	}
	assert_int_equal(sa->rx_handshake_bad, bad + (48 * 8 + 2) / 3);
	/* forged cookie replies for A's pending handshake */
	memset(cookie, 0x77, sizeof(cookie));
	wg_msg_set_header(cookie, WG_MSG_COOKIE);
	memcpy(cookie + 4, init + 4, 4); /* A's index */
	for (int i = 0; i < 8; i++) {
		cookie[8 + i] ^= 0x5a;
		assert_int_equal(wg_device_recv(f->a.dev, &f->b.addr, cookie,
						sizeof(cookie), f->now, &rx),
				 -EBADMSG);
	}
	/* under load: a cookie reply is made, a MAC2 checked */
	wg_device_report_backlog(f->b.dev, WG_UNDER_LOAD_BACKLOG, f->now);
	assert_int_equal(wg_device_recv(f->b.dev, &f->a.addr, init,
					sizeof(init), f->now, &rx),
			 -EBUSY);
	assert_int_equal(f->b.nout, 1);
	f->b.nout = 0;
	assert_int_equal(wgt_openssl_allocs(), allocs);

	/* the held response still completes the handshake */
	assert_int_equal(wg_device_recv(f->a.dev, &f->b.addr, resp,
					sizeof(resp), f->now, &rx),
			 0);
	f->a.nout = 0;
	f->now += WG_UNDER_LOAD_AFTER_MS + 1000;
	/* full handshakes, started from either side: only their keypairs */
	for (int round = 0; round < 6; round++) {
		uint64_t before;

		f->now += REKEY_TIMEOUT_MS + 1000;
		before = wgt_openssl_allocs();
		if (round % 2)
			handshake(f, &f->b, &f->a);
		else
			handshake(f, &f->a, &f->b);
		/* a keypair on each side, re-keyed in a slot's contexts */
		assert_int_equal(wgt_openssl_allocs() - before, 0);
	}
	wg_blake2s_free(&b2);
	wg_device_destroy(c.dev);
}

/* A device that does not know the sender's key: valid MAC1, no session. */
static void test_unknown_peer(void **state)
{
	struct fx *f = *state;
	struct node c;
	struct wg_peer *pc;
	struct wg_rx rx;

	node_init(&c, "192.0.2.3:51820", 0xc3);
	assert_int_equal(wg_device_add_peer(c.dev,
					    wg_device_public_key(f->b.dev),
					    NULL, &pc),
			 0);
	wg_peer_set_endpoint(pc, &f->b.addr);
	c.peer = pc;
	wg_peer_start_handshake(pc, f->now);
	assert_int_equal(c.nout, 1);
	assert_int_equal(wg_device_recv(f->b.dev, &c.addr, c.out[0].buf, 148,
					f->now, &rx),
			 -ENOENT);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_handshake_bad, 1);
	assert_int_equal(f->b.nout, 0);
	/* a replayed initiation from a known peer is refused (§5.1) */
	wg_peer_start_handshake(f->a.peer, f->now);
	struct sent s = f->a.out[0];
	assert_int_equal(deliver(f, &f->a, &f->b), 1);
	f->now += 1000;
	assert_int_equal(
		wg_device_recv(f->b.dev, &f->a.addr, s.buf, s.len, f->now, &rx),
		-EALREADY);
	assert_int_equal(wg_device_stats(f->b.dev)->rx_handshake_replay, 1);
	wg_device_destroy(c.dev);
}

static void test_peer_table(void **state)
{
	struct fx *f = *state;
	struct wg_device *d;
	struct wg_peer *p;
	uint8_t pub[32];
	struct wg_device_config cfg = { .send = on_send, .max_peers = 3 };

	assert_int_equal(wg_device_add_peer(f->a.dev,
					    wg_device_public_key(f->b.dev),
					    NULL, &p),
			 -EEXIST);
	assert_int_equal(wg_device_add_peer(f->a.dev,
					    wg_device_public_key(f->a.dev),
					    NULL, &p),
			 -EINVAL);
	assert_int_equal(wg_device_create(&cfg, &d), 0);
	assert_null(wg_device_public_key(d));
	assert_int_equal(wg_device_get_private_key(d, pub), -ENOENT);
	assert_int_equal(wg_device_get_private_key(f->a.dev, pub), 0);
	p = wg_device_find_peer(f->a.dev, wg_device_public_key(f->b.dev));
	assert_false(wg_peer_get_psk(p, pub));
	memset(pub, 0x77, sizeof(pub));
	wg_peer_set_psk(p, pub);
	memset(pub, 0, sizeof(pub));
	assert_true(wg_peer_get_psk(p, pub));
	assert_int_equal(pub[31], 0x77);
	wg_peer_set_psk(p, NULL);
	assert_false(wg_peer_get_psk(p, pub));
	for (int i = 0; i < 3; i++) {
		memset(pub, i + 1, sizeof(pub));
		assert_int_equal(wg_device_add_peer(d, pub, NULL, &p), 0);
		assert_ptr_equal(wg_device_find_peer(d, pub), p);
	}
	memset(pub, 9, sizeof(pub));
	assert_int_equal(wg_device_add_peer(d, pub, NULL, &p), -ENOSPC);
	memset(pub, 2, sizeof(pub));
	wg_device_remove_peer(d, wg_device_find_peer(d, pub));
	assert_null(wg_device_find_peer(d, pub));
	int count = 0;
	for (p = wg_device_next_peer(d, NULL); p; p = wg_device_next_peer(d, p))
		count++;
	assert_int_equal(count, 2);
	/* no private key: no handshake can be made */
	wg_peer_start_handshake(wg_device_next_peer(d, NULL), 0);
	wg_device_destroy(d);
	wg_device_destroy(NULL);
}

/* The deadline heap against a scan of every peer's timers. */
static uint64_t scan_min(struct wg_device *d)
{
	uint64_t m = UINT64_MAX, t;

	for (struct wg_peer *p = wg_device_next_peer(d, NULL); p;
	     p = wg_device_next_peer(d, p)) {
		t = wg_timers_next(&p->timers);
		m = t < m ? t : m;
	}
	return m;
}

static void test_deadline_heap(void **state)
{
	struct fx *f = *state;
	struct wg_peer *peers[64], *p;
	uint8_t pub[32], priv[32];
	uint64_t now = 1000, x = 12345;
	unsigned live = 64, ticks = 0;

	for (int i = 0; i < 64; i++) {
		/* real public keys, so initiations can be made */
		memset(priv, 0, sizeof(priv));
		priv[1] = (uint8_t)i; /* byte 0 loses bits to clamping */
		priv[2] = 7;
		crypto_scalarmult_base(pub, priv);
		assert_int_equal(
			wg_device_add_peer(f->a.dev, pub, NULL, &peers[i]), 0);
		wg_peer_set_endpoint(peers[i], &f->b.addr);
	}
	for (int step = 0; step < 3000; step++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		p = peers[(x >> 33) % 64];
		switch ((x >> 20) % 6) {
		case 0:
			if (p)
				wg_peer_start_handshake(p, now);
			break;
		case 1:
			if (p)
				wg_peer_set_persistent_keepalive(
					p, (uint16_t)((x >> 40) % 30), now);
			break;
		case 2:
			if (p && live > 16) {
				wg_device_remove_peer(f->a.dev, p);
				peers[(x >> 33) % 64] = NULL;
				live--;
			}
			break;
		default:
			now += (x >> 45) % 3000;
			if (wg_device_next_deadline(f->a.dev) <= now)
				ticks++;
			wg_device_tick(f->a.dev, now);
			/* nothing left that is due */
			assert_true(scan_min(f->a.dev) > now);
			break;
		}
		f->a.nout = 0;
		assert_int_equal(wg_device_next_deadline(f->a.dev),
				 scan_min(f->a.dev));
	}
	assert_true(ticks > 100);
}

/* A new private key: old sessions only receive, a handshake starts at once. */
static void test_private_key_change(void **state)
{
	struct fx *f = *state;
	uint8_t msg[256], key[32];
	size_t n;

	handshake(f, &f->a, &f->b);
	memset(key, 0x3c, sizeof(key));
	assert_int_equal(wg_device_set_private_key(f->a.dev, key), 0);
	make_ip(msg + 16, 40, 1);
	assert_int_equal(
		wg_peer_encrypt(f->a.peer, msg, 40, sizeof(msg), f->now, &n),
		-ENOKEY);
	assert_int_equal(f->a.nout, 1); /* not held back by REKEY_TIMEOUT */
	assert_int_equal(f->a.out[0].len, 148);
	n = seal(f, &f->b, msg, 40, 2);
	expect_data(f, &f->b, &f->a, msg, n, 40, 2);
	/* a peer that has our new public key is dropped */
	assert_int_equal(wg_device_set_private_key(f->b.dev, key), 0);
	assert_int_equal(wg_device_set_private_key(f->a.dev, key), 0);
	assert_null(
		wg_device_find_peer(f->a.dev, wg_device_public_key(f->b.dev)));
	f->a.peer = NULL;
}

static unsigned log_drops, log_sessions;

static void count_lines(enum log_level level, const char *topic,
			const char *line, void *arg)
{
	if (strstr(line, "dropped"))
		log_drops++;
	if (strstr(line, "new session"))
		log_sessions++;
	/* no key material in any line: only 8 base64 characters of a key */
	assert_null(strstr(line, "=="));
}

static void test_debug_log(void **state)
{
	struct fx *f = *state;
	uint8_t junk[40] = { 4 };
	struct wg_rx rx;

	log_set_sink(count_lines, NULL);
	log_set_level(LOG_LEVEL_DEBUG);
	handshake(f, &f->a, &f->b);
	for (int i = 0; i < 100; i++)
		wg_device_recv(f->b.dev, &f->a.addr, junk, sizeof(junk), f->now,
			       &rx);
	log_set_level(LOG_LEVEL_WARN);
	log_set_sink(NULL, NULL);
	assert_int_equal(log_sessions, 2);
	/* per-packet lines are rate limited */
	assert_true(log_drops >= 1 && log_drops <= 10);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_handshake_and_data),
		T(test_same_timestamp_refused),
		T(test_ipv6_and_padding),
		T(test_rotation),
		T(test_rekey_after_time),
		T(test_reject_after_time),
		T(test_message_limits),
		T(test_lastminute_handshake),
		T(test_retransmit_and_give_up),
		T(test_keepalive_and_new_handshake),
		T(test_persistent_keepalive),
		T(test_roaming),
		T(test_cookie_under_load),
		T(test_bad_input),
		T(test_handshake_no_alloc),
		T(test_unknown_peer),
		T(test_peer_table),
		T(test_deadline_heap),
		T(test_private_key_change),
		T(test_debug_log),
	};

	wgt_count_openssl_allocs();
	/* the give-up lines of the timer tests are expected; keep output short */
	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
