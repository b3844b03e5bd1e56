// SPDX-License-Identifier: MIT
/*
 * The TURN client against a fake TURN server on a fake clock: every packet
 * the client sends is parsed and answered here as a server following
 * RFC 8656 would (long-term credentials, nonces that go stale, lifetimes),
 * and the test checks what went on the wire and when.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/addr.h"
#include "common/log.h"
#include "ice/stun.h"
#include "ice/turn.h"

#define USER "alice"
#define PASS "wonderland"
#define REALM "icemesh.test"
#define MAXLOG 256

struct pkt {
	uint8_t buf[2048];
	size_t len;
	uint64_t at;
};

/* What the fake server does and saw. */
struct fake {
	union sockaddr_any server, client_mapped, relayed;
	char nonce[32];
	int nonce_gen;
	char user[64]; /* what the server expects */
	char password[64];
	uint32_t max_lifetime;
	int drop_all; /* answer nothing */
	int error_on_allocate; /* answer Allocate with this code */
	int error_on_refresh;
	int forge_integrity; /* answer with a broken MESSAGE-INTEGRITY */
	int mismatch; /* an old allocation holds the 5-tuple: 437 */
	int error_on_perm; /* answer CreatePermission / ChannelBind so */
	int mismatch_sticky; /* ... and Refresh(0) does not delete it */

	/* Requests seen (after parse), by method. */
	struct pkt sent[MAXLOG]; /* everything the client sent */
	int nsent;
	int allocates, refreshes, perms, binds, sends, chandata;
	uint64_t refresh_at[32], perm_at[32], bind_at[32];
	uint32_t last_refresh_lifetime;
	uint16_t last_channel;
	union sockaddr_any last_peer;
	uint8_t last_data[1600];
	size_t last_data_len;

	/* Answers waiting to be delivered to the client. */
	struct pkt out[16];
	int nout;

	/* Client events. */
	int allocated, failed, failed_err, failed_code, peer_ok, peer_bad;
	int data_count;
	union sockaddr_any ev_relayed, ev_mapped, data_peer;
	uint8_t data[1600];
	size_t data_len;
	uint64_t now;
};

static struct fake F;
static struct turn_client *C;

/* ------------------------------------------------------------ fake server */

static void key_for(const char *pass, uint8_t key[16])
{
	assert_int_equal(stun_long_term_key(F.user, REALM, pass, key), 0);
}

static void queue(const uint8_t *buf, size_t len)
{
	assert_true(F.nout < 16);
	memcpy(F.out[F.nout].buf, buf, len);
	F.out[F.nout].len = len;
	F.nout++;
}

static void answer(const struct stun_msg *req, int code, bool with_mi,
		   void (*add)(struct stun_builder *b,
			       const struct stun_msg *req))
{
	uint8_t buf[512], key[16];
	struct stun_builder b;
	int n;

	stun_builder_init(&b, buf, sizeof(buf),
			  stun_msg_type(req->method, code ? STUN_CLASS_ERROR
							  : STUN_CLASS_SUCCESS),
			  req->tid);
	if (code) {
		stun_builder_add_error(&b, code, "fake");
		if (code == 401 || code == 438) {
			stun_builder_add_string(&b, STUN_ATTR_REALM, REALM);
			stun_builder_add_string(&b, STUN_ATTR_NONCE, F.nonce);
		}
	} else if (add) {
		add(&b, req);
	}
	if (with_mi) {
		key_for(F.password, key);
		if (F.forge_integrity)
			key[0] ^= 1;
		stun_builder_add_message_integrity(&b, key, sizeof(key));
	}
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	queue(buf, (size_t)n);
}

static uint32_t granted_lifetime(const struct stun_msg *req)
{
	uint32_t lt = 600;

	stun_msg_get_u32(req, STUN_ATTR_LIFETIME, &lt);
	if (lt > F.max_lifetime)
		lt = F.max_lifetime;
	return lt;
}

static void add_alloc(struct stun_builder *b, const struct stun_msg *req)
{
	stun_builder_add_xor_addr(b, STUN_ATTR_XOR_RELAYED_ADDRESS, &F.relayed);
	stun_builder_add_xor_addr(b, STUN_ATTR_XOR_MAPPED_ADDRESS,
				  &F.client_mapped);
	stun_builder_add_u32(b, STUN_ATTR_LIFETIME, granted_lifetime(req));
}

static void add_lifetime(struct stun_builder *b, const struct stun_msg *req)
{
	stun_builder_add_u32(b, STUN_ATTR_LIFETIME, granted_lifetime(req));
}

/* Long-term credential check (RFC 8489 §9.2.4): 0 when fine, else the code. */
static int check_auth(const struct stun_msg *m)
{
	char user[64], realm[64], nonce[64];
	uint8_t key[16];

	if (!stun_msg_has(m, STUN_ATTR_MESSAGE_INTEGRITY))
		return 401;
	if (stun_msg_get_string(m, STUN_ATTR_USERNAME, user, sizeof(user)) ||
	    stun_msg_get_string(m, STUN_ATTR_REALM, realm, sizeof(realm)) ||
	    stun_msg_get_string(m, STUN_ATTR_NONCE, nonce, sizeof(nonce)))
		return 400;
	key_for(F.password, key);
	if (strcmp(user, F.user) || strcmp(realm, REALM) ||
	    stun_msg_check_integrity(m, key, sizeof(key)))
		return 401;
	if (strcmp(nonce, F.nonce))
		return 438;
	return 0;
}

static void server_stun(const uint8_t *buf, size_t len)
{
	struct stun_msg m;
	const uint8_t *data;
	size_t dlen;
	int code;

	assert_int_equal(stun_msg_parse(&m, buf, len), 0);
	assert_int_equal(stun_msg_check_fingerprint(&m) == 0 ||
				 m.cls == STUN_CLASS_INDICATION,
			 1);
	if (m.cls == STUN_CLASS_INDICATION) {
		assert_int_equal(m.method, STUN_METHOD_SEND);
		assert_int_equal(
			stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS,
					      &F.last_peer),
			0);
		assert_int_equal(
			stun_msg_get_bytes(&m, STUN_ATTR_DATA, &data, &dlen),
			0);
		memcpy(F.last_data, data, dlen);
		F.last_data_len = dlen;
		F.sends++;
		return;
	}
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	code = check_auth(&m);
	if (code) {
		answer(&m, code, false, NULL);
		return;
	}
	switch (m.method) {
	case STUN_METHOD_ALLOCATE: {
		uint8_t proto = 0;

		assert_int_equal(stun_msg_get_requested_transport(&m, &proto),
				 0);
		assert_int_equal(proto, 17);
		F.allocates++;
		if (F.mismatch)
			answer(&m, 437, true, NULL);
		else if (F.error_on_allocate)
			answer(&m, F.error_on_allocate, true, NULL);
		else
			answer(&m, 0, true, add_alloc);
		break;
	}
	case STUN_METHOD_REFRESH:
		F.last_refresh_lifetime = 600;
		stun_msg_get_u32(&m, STUN_ATTR_LIFETIME,
				 &F.last_refresh_lifetime);
		if (F.refreshes < 32)
			F.refresh_at[F.refreshes] = F.now;
		F.refreshes++;
		if (F.mismatch && F.last_refresh_lifetime == 0 &&
		    !F.mismatch_sticky)
			F.mismatch = 0;
		if (F.error_on_refresh)
			answer(&m, F.error_on_refresh, true, NULL);
		else
			answer(&m, 0, true, add_lifetime);
		break;
	case STUN_METHOD_CREATE_PERMISSION:
		assert_int_equal(
			stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS,
					      &F.last_peer),
			0);
		if (F.perms < 32)
			F.perm_at[F.perms] = F.now;
		F.perms++;
		answer(&m, F.error_on_perm, true, NULL);
		break;
	case STUN_METHOD_CHANNEL_BIND:
		assert_int_equal(
			stun_msg_get_channel_number(&m, &F.last_channel), 0);
		assert_int_equal(
			stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS,
					      &F.last_peer),
			0);
		if (F.binds < 32)
			F.bind_at[F.binds] = F.now;
		F.binds++;
		answer(&m, F.error_on_perm, true, NULL);
		break;
	default:
		fail_msg("unexpected method %u", m.method);
	}
}

static void fake_send(void *arg, const union sockaddr_any *to,
		      const uint8_t *buf, size_t len)
{
	const uint8_t *data;
	size_t dlen;
	uint16_t ch;

	(void)arg;
	assert_true(addr_equal(to, &F.server));
	assert_true(len <= sizeof(F.sent[0].buf));
	if (F.nsent < MAXLOG) {
		memcpy(F.sent[F.nsent].buf, buf, len);
		F.sent[F.nsent].len = len;
		F.sent[F.nsent].at = F.now;
		F.nsent++;
	}
	if (F.drop_all)
		return;
	if ((buf[0] & 0xC0) == 0x40) {
		assert_int_equal(
			stun_channeldata_decode(buf, len, &ch, &data, &dlen),
			0);
		F.last_channel = ch;
		memcpy(F.last_data, data, dlen);
		F.last_data_len = dlen;
		F.chandata++;
		return;
	}
	server_stun(buf, len);
}

/* Deliver the server's answers (which may cause more requests). */
static void pump(void)
{
	while (F.nout) {
		struct pkt p = F.out[0];

		memmove(F.out, F.out + 1,
			(size_t)(F.nout - 1) * sizeof(F.out[0]));
		F.nout--;
		assert_true(
			turn_client_recv(C, &F.server, p.buf, p.len, F.now));
	}
}

/* Advance the fake clock to t, running every deadline on the way. */
static void run_until(uint64_t t)
{
	for (;;) {
		uint64_t d = turn_client_next_deadline(C);

		pump();
		if (d > t)
			break;
		F.now = d > F.now ? d : F.now;
		turn_client_tick(C, F.now);
	}
	F.now = t;
	pump();
}

/* ------------------------------------------------------------ callbacks */

static void ev_allocated(void *arg, const union sockaddr_any *relayed,
			 const union sockaddr_any *mapped, uint32_t lifetime_s)
{
	(void)arg;
	(void)lifetime_s;
	F.allocated++;
	F.ev_relayed = *relayed;
	F.ev_mapped = *mapped;
}

static void ev_failed(void *arg, int err, int code, const char *reason)
{
	(void)arg;
	assert_non_null(reason);
	F.failed++;
	F.failed_err = err;
	F.failed_code = code;
}

static void ev_data(void *arg, const union sockaddr_any *peer,
		    const uint8_t *buf, size_t len)
{
	(void)arg;
	F.data_count++;
	F.data_peer = *peer;
	memcpy(F.data, buf, len);
	F.data_len = len;
}

static void ev_peer(void *arg, const union sockaddr_any *peer, uint16_t channel,
		    bool ok)
{
	(void)arg;
	(void)peer;
	(void)channel;
	if (ok)
		F.peer_ok++;
	else
		F.peer_bad++;
}

static const struct turn_callbacks CB = {
	.send = fake_send,
	.allocated = ev_allocated,
	.failed = ev_failed,
	.data = ev_data,
	.peer = ev_peer,
};

static union sockaddr_any A(const char *s) {
	union sockaddr_any a;

	assert_int_equal(addr_parse(s, 0, &a), 0);
	return a;
}

static struct turn_config
base_config(void)
{
	struct turn_config cfg = { 0 };

	cfg.server = A("203.0.113.1:3478");
	cfg.username = USER;
	cfg.password = PASS;
	cfg.software = "icemesh-test";
	return cfg;
}

static int setup_cfg(const struct turn_config *cfg)
{
	memset(&F, 0, sizeof(F));
	F.server = cfg->server;
	F.client_mapped = A("198.51.100.7:40000");
	F.relayed = A("203.0.113.1:50000");
	snprintf(F.nonce, sizeof(F.nonce), "nonce-%d", F.nonce_gen);
	snprintf(F.user, sizeof(F.user), "%s", USER);
	snprintf(F.password, sizeof(F.password), "%s", PASS);
	F.max_lifetime = 3600;
	F.now = 1000;
	return turn_client_create(cfg, &CB, &C);
}

static int setup(void **state)
{
	struct turn_config cfg = base_config();

	(void)state;
	return setup_cfg(&cfg);
}

static int teardown(void **state)
{
	(void)state;
	turn_client_destroy(C);
	C = NULL;
	return 0;
}

static void new_nonce(void)
{
	F.nonce_gen++;
	snprintf(F.nonce, sizeof(F.nonce), "nonce-%d", F.nonce_gen);
}

static void allocate(void)
{
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(F.now);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATED);
}

/* ------------------------------------------------------------ tests */

static void test_rest_credentials(void **state)
{
	/* Expected value computed independently: base64(HMAC-SHA1). */
	char user[64], pass[64];

	(void)state;
	assert_int_equal(turn_rest_credentials("north-secret", "icemesh",
					       1700000000, user, sizeof(user),
					       pass, sizeof(pass)),
			 0);
	assert_string_equal(user, "1700000000:icemesh");
	assert_string_equal(pass, "75xKHoUa5j7+ySaoGUad0ubiGrY=");
	assert_int_equal(turn_rest_credentials("north-secret", "icemesh", 1,
					       user, 4, pass, sizeof(pass)),
			 -ENOSPC);
	assert_int_equal(turn_rest_credentials("north-secret", "icemesh", 1,
					       user, sizeof(user), pass, 20),
			 -ENOSPC);
	assert_int_equal(turn_rest_credentials("", "icemesh", 1, user,
					       sizeof(user), pass,
					       sizeof(pass)),
			 -EINVAL);
}

static void test_create_rejects_bad_config(void **state)
{
	struct turn_config cfg = base_config();
	struct turn_client *c = NULL;
	struct turn_callbacks cb = CB;
	char longname[TURN_CRED_MAX + 8];

	(void)state;
	cb.send = NULL;
	assert_int_equal(turn_client_create(&cfg, &cb, &c), -EINVAL);
	cfg.password = NULL;
	assert_int_equal(turn_client_create(&cfg, &CB, &c), -EINVAL);
	cfg = base_config();
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cfg.username = longname;
	assert_int_equal(turn_client_create(&cfg, &CB, &c), -EINVAL);
	cfg = base_config();
	cfg.rest_secret = "s"; /* without an expiry */
	assert_int_equal(turn_client_create(&cfg, &CB, &c), -EINVAL);
	cfg = base_config();
	memset(&cfg.server, 0, sizeof(cfg.server));
	assert_int_equal(turn_client_create(&cfg, &CB, &c), -EINVAL);
	assert_null(c);
	turn_client_destroy(NULL);
}

/* 401 first, then the same Allocate with credentials, then ALLOCATED. */
static void test_allocate_after_401(void **state)
{
	struct turn_stats st;
	struct stun_msg m;
	union sockaddr_any a;
	uint8_t key[16];
	uint8_t proto;

	(void)state;
	assert_int_equal(turn_client_state(C), TURN_STATE_IDLE);
	assert_int_equal(turn_client_next_deadline(C), UINT64_MAX);
	assert_int_equal(turn_client_relayed(C, &a), -ENOTCONN);
	assert_int_equal(turn_client_start(C, F.now), 0);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATING);
	assert_int_equal(turn_client_start(C, F.now), -EALREADY);
	run_until(F.now);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATED);
	assert_int_equal(F.allocated, 1);
	assert_true(addr_equal(&F.ev_relayed, &F.relayed));
	assert_true(addr_equal(&F.ev_mapped, &F.client_mapped));
	assert_int_equal(turn_client_relayed(C, &a), 0);
	assert_true(addr_equal(&a, &F.relayed));
	assert_int_equal(turn_client_mapped(C, &a), 0);
	assert_true(addr_equal(&a, &F.client_mapped));

	/* On the wire: an unauthenticated Allocate, then an authenticated one. */
	assert_int_equal(F.nsent, 2);
	assert_int_equal(stun_msg_parse(&m, F.sent[0].buf, F.sent[0].len), 0);
	assert_int_equal(m.method, STUN_METHOD_ALLOCATE);
	assert_false(stun_msg_has(&m, STUN_ATTR_USERNAME));
	assert_false(stun_msg_has(&m, STUN_ATTR_MESSAGE_INTEGRITY));
	assert_true(stun_msg_has(&m, STUN_ATTR_SOFTWARE));
	assert_int_equal(stun_msg_parse(&m, F.sent[1].buf, F.sent[1].len), 0);
	assert_int_equal(m.method, STUN_METHOD_ALLOCATE);
	assert_int_equal(stun_msg_get_requested_transport(&m, &proto), 0);
	assert_int_equal(proto, STUN_TRANSPORT_UDP);
	key_for(PASS, key);
	assert_int_equal(stun_msg_check_integrity(&m, key, sizeof(key)), 0);
	assert_int_equal(stun_msg_check_fingerprint(&m), 0);
	turn_client_stats(C, &st);
	assert_int_equal(st.auth_retries, 1);
	assert_int_equal(st.requests_sent, 2);
	assert_int_equal(st.retransmits, 0);
	/* Next thing to do: the refresh, a minute before 600 s run out. */
	assert_int_equal(turn_client_next_deadline(C), F.now + 540000);
}

static void test_wrong_password_fails(void **state)
{
	(void)state;
	snprintf(F.password, sizeof(F.password), "other");
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(F.now + 100000);
	assert_int_equal(turn_client_state(C), TURN_STATE_FAILED);
	assert_int_equal(F.failed, 1);
	assert_int_equal(F.failed_err, -EACCES);
	assert_int_equal(F.failed_code, 401);
	assert_int_equal(F.nsent, 2); /* no endless 401 loop */
	assert_int_equal(turn_client_next_deadline(C), UINT64_MAX);
}

static void test_allocate_error_and_restart(void **state)
{
	struct turn_stats st;

	(void)state;
	F.error_on_allocate = 486;
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(F.now);
	assert_int_equal(turn_client_state(C), TURN_STATE_FAILED);
	assert_int_equal(F.failed_err, -ECONNREFUSED);
	assert_int_equal(F.failed_code, 486);
	/*
	 * A new start makes a fresh allocation with the credentials already
	 * known; the server's nonce went stale meanwhile: 438, then success.
	 */
	F.error_on_allocate = 0;
	F.nsent = 0;
	new_nonce();
	allocate();
	assert_int_equal(F.nsent, 2);
	assert_int_equal(F.allocated, 1);
	turn_client_stats(C, &st);
	assert_int_equal(st.stale_nonces, 1);
}

/* The server changes its nonce: every kind of request recovers from 438. */
static void test_stale_nonce_recovery(void **state)
{
	union sockaddr_any peer = A("198.51.100.20:7000");
	struct turn_stats st;

	(void)state;
	allocate();
	new_nonce();
	assert_int_equal(turn_client_permit(C, &peer, F.now), 0);
	run_until(F.now);
	assert_int_equal(F.perms, 1);
	assert_int_equal(F.peer_ok, 1);
	new_nonce();
	assert_int_equal(turn_client_bind_channel(C, &peer, F.now), 0);
	run_until(F.now);
	assert_int_equal(F.binds, 1);
	assert_true(turn_client_has_channel(C, &peer));
	new_nonce();
	run_until(F.now + 600000); /* refreshes of all three, each after 438 */
	turn_client_stats(C, &st);
	assert_int_equal(st.stale_nonces, 3);
	assert_true(st.refreshes >= 1);
	assert_true(st.permission_refreshes >= 1);
	assert_true(st.channel_refreshes >= 1);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATED);
	assert_int_equal(F.failed, 0);
}

/* Refreshes come before the lifetime ends, lifetime after lifetime. */
static void test_refresh_timing(void **state)
{
	struct turn_config cfg = base_config();
	uint64_t t0;

	(void)state;
	turn_client_destroy(C);
	cfg.lifetime_s = 20;
	assert_int_equal(setup_cfg(&cfg), 0);
	allocate();
	t0 = F.now;
	run_until(t0 + 20000 * 10);
	/* 20 s lifetime: refresh every 15 s, so 13 in 200 s, none late. */
	assert_int_equal(F.refreshes, 13);
	for (int i = 0; i < F.refreshes; i++)
		assert_int_equal(F.refresh_at[i],
				 t0 + 15000 * (uint64_t)(i + 1));
	assert_int_equal(F.last_refresh_lifetime, 20);
	/* The server grants less than asked: the client follows the grant. */
	F.max_lifetime = 8;
	run_until(t0 + 20000 * 10 + 15000);
	assert_int_equal(F.refreshes, 14);
	run_until(F.now + 6000);
	assert_int_equal(F.refreshes, 15);
	assert_int_equal(F.refresh_at[14] - F.refresh_at[13], 6000);
	/* A grant of 0 s makes no refresh storm: one a second at most. */
	F.max_lifetime = 0;
	run_until(F.refresh_at[14] + 6000);
	assert_int_equal(F.refreshes, 16);
	run_until(F.now + 5000);
	assert_int_equal(F.refreshes, 21);
}

static void test_permission_and_channel_refresh(void **state)
{
	union sockaddr_any peer = A("198.51.100.20:7000");
	uint64_t t0;

	(void)state;
	allocate();
	t0 = F.now;
	assert_int_equal(turn_client_permit(C, &peer, F.now), 0);
	assert_int_equal(turn_client_permit(C, &peer, F.now), 0); /* once */
	assert_int_equal(turn_client_bind_channel(C, &peer, F.now), 0);
	run_until(F.now);
	assert_int_equal(F.perms, 1);
	assert_int_equal(F.binds, 1);
	assert_int_equal(F.peer_ok, 2);
	assert_true(F.last_channel >= TURN_CHANNEL_MIN &&
		    F.last_channel <= TURN_CHANNEL_MAX);
	run_until(t0 + 1200000); /* 20 minutes */
	/* Permissions every 240 s (< 300 s), channels every 540 s (< 600 s). */
	assert_int_equal(F.perms, 1 + 5);
	for (int i = 1; i < F.perms; i++)
		assert_int_equal(F.perm_at[i] - F.perm_at[i - 1], 240000);
	assert_int_equal(F.binds, 1 + 2);
	for (int i = 1; i < F.binds; i++)
		assert_int_equal(F.bind_at[i] - F.bind_at[i - 1], 540000);
	assert_int_equal(F.peer_ok, 2); /* refreshes are not new events */
}

static void test_send_switches_to_channeldata(void **state)
{
	struct turn_config cfg = base_config();
	union sockaddr_any peer = A("198.51.100.20:7000");
	uint8_t msg[100];
	struct turn_stats st;

	(void)state;
	turn_client_destroy(C);
	cfg.auto_channel = true;
	assert_int_equal(setup_cfg(&cfg), 0);
	allocate();
	memset(msg, 0xab, sizeof(msg));
	/* Before the channel is bound: a Send indication (and the requests). */
	assert_int_equal(turn_client_send(C, &peer, msg, sizeof(msg), F.now),
			 0);
	assert_int_equal(F.sends, 1);
	assert_true(addr_equal(&F.last_peer, &peer));
	assert_int_equal(F.last_data_len, sizeof(msg));
	assert_memory_equal(F.last_data, msg, sizeof(msg));
	assert_false(turn_client_has_channel(C, &peer));
	run_until(F.now);
	assert_int_equal(F.perms, 1);
	assert_int_equal(F.binds, 1);
	assert_true(turn_client_has_channel(C, &peer));
	/* Bound: ChannelData on the bound number. */
	msg[0] = 0x01;
	assert_int_equal(turn_client_send(C, &peer, msg, 37, F.now), 0);
	assert_int_equal(F.sends, 1);
	assert_int_equal(F.chandata, 1);
	assert_int_equal(F.last_data_len, 37);
	assert_memory_equal(F.last_data, msg, 37);
	turn_client_stats(C, &st);
	assert_int_equal(st.data_sent_indication, 1);
	assert_int_equal(st.data_sent_channel, 1);
	/* Limits. */
	assert_int_equal(
		turn_client_send(C, &peer, msg, TURN_MAX_DATA + 1, F.now),
		-EMSGSIZE);
	{
		union sockaddr_any v6 = A("[2001:db8::5]:7");

		assert_int_equal(turn_client_send(C, &v6, msg, 1, F.now),
				 -EAFNOSUPPORT);
	}
}

static void test_send_before_allocation(void **state)
{
	union sockaddr_any peer = A("198.51.100.20:7000");
	uint8_t b = 0;

	(void)state;
	assert_int_equal(turn_client_send(C, &peer, &b, 1, F.now), -ENOTCONN);
	assert_int_equal(turn_client_permit(C, &peer, F.now), -ENOTCONN);
	assert_int_equal(turn_client_bind_channel(C, &peer, F.now), -ENOTCONN);
}

static void test_peer_cap(void **state)
{
	char s[40];

	(void)state;
	allocate();
	for (int i = 0; i < TURN_MAX_PEERS; i++) {
		union sockaddr_any p;

		snprintf(s, sizeof(s), "198.51.100.%d:9", i + 1);
		p = A(s);
		assert_int_equal(turn_client_permit(C, &p, F.now), 0);
		run_until(F.now);
	}
	{
		union sockaddr_any p = A("192.0.2.200:9");

		assert_int_equal(turn_client_permit(C, &p, F.now), -ENOSPC);
	}
	assert_int_equal(F.perms, TURN_MAX_PEERS);
}

static void deliver_data_indication(const union sockaddr_any *peer,
				    const uint8_t *data, size_t len)
{
	uint8_t buf[256], tid[STUN_TID_LEN] = { 9 };
	struct stun_builder b;
	int n;

	stun_builder_init(
		&b, buf, sizeof(buf),
		stun_msg_type(STUN_METHOD_DATA, STUN_CLASS_INDICATION), tid);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_builder_add(&b, STUN_ATTR_DATA, data, len);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	assert_true(turn_client_recv(C, &F.server, buf, (size_t)n, F.now));
}

static void test_receive_paths(void **state)
{
	union sockaddr_any peer = A("198.51.100.20:7000");
	union sockaddr_any other = A("203.0.113.99:3478");
	uint8_t frame[64], resp[64], tid[STUN_TID_LEN] = { 1, 2, 3 };
	struct stun_builder b;
	struct turn_stats st;
	int n;

	(void)state;
	allocate();
	/* Data indication: peer data out of the data callback. */
	deliver_data_indication(&peer, (const uint8_t *)"hello", 5);
	assert_int_equal(F.data_count, 1);
	assert_true(addr_equal(&F.data_peer, &peer));
	assert_memory_equal(F.data, "hello", 5);
	/* ChannelData on our channel. */
	assert_int_equal(turn_client_bind_channel(C, &peer, F.now), 0);
	run_until(F.now);
	n = stun_channeldata_encode(frame, sizeof(frame), F.last_channel,
				    (const uint8_t *)"world!", 6, false);
	assert_true(n > 0);
	assert_true(turn_client_recv(C, &F.server, frame, (size_t)n, F.now));
	assert_int_equal(F.data_count, 2);
	assert_true(addr_equal(&F.data_peer, &peer));
	assert_int_equal(F.data_len, 6);
	/* ChannelData on an unknown channel: consumed, counted, no data. */
	n = stun_channeldata_encode(frame, sizeof(frame), 0x4ABC,
				    (const uint8_t *)"x", 1, false);
	assert_true(turn_client_recv(C, &F.server, frame, (size_t)n, F.now));
	assert_int_equal(F.data_count, 2);
	/* Not from the server: not ours. */
	assert_false(turn_client_recv(C, &other, frame, (size_t)n, F.now));
	/* A STUN answer to someone else's transaction: not ours either. */
	stun_builder_init(
		&b, resp, sizeof(resp),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), tid);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &peer);
	n = stun_builder_finish(&b);
	assert_false(turn_client_recv(C, &F.server, resp, (size_t)n, F.now));
	/* Garbage from the server that is neither. */
	memset(frame, 0xff, sizeof(frame));
	assert_false(
		turn_client_recv(C, &F.server, frame, sizeof(frame), F.now));
	turn_client_stats(C, &st);
	assert_int_equal(st.data_recv_indication, 1);
	assert_int_equal(st.data_recv_channel, 1);
	assert_int_equal(st.dropped, 1);
}

/* RFC 8489 §6.2.1: 500 ms doubling, 7 tries, then 16 * RTO: 39.5 s. */
static void test_retransmission_timeout(void **state)
{
	static const uint64_t at[] = { 0, 500, 1500, 3500, 7500, 15500, 31500 };
	uint64_t t0 = F.now;
	struct turn_stats st;

	(void)state;
	F.drop_all = 1;
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(t0 + 39499);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATING);
	assert_int_equal(F.nsent, 7);
	for (int i = 0; i < 7; i++) {
		struct stun_msg m0, mi;

		assert_int_equal(F.sent[i].at, t0 + at[i]);
		/* Same transaction, same bytes. */
		assert_int_equal(F.sent[i].len, F.sent[0].len);
		assert_memory_equal(F.sent[i].buf, F.sent[0].buf,
				    F.sent[0].len);
		assert_int_equal(
			stun_msg_parse(&m0, F.sent[0].buf, F.sent[0].len), 0);
		assert_int_equal(
			stun_msg_parse(&mi, F.sent[i].buf, F.sent[i].len), 0);
		assert_memory_equal(m0.tid, mi.tid, STUN_TID_LEN);
	}
	run_until(t0 + 39500);
	assert_int_equal(turn_client_state(C), TURN_STATE_FAILED);
	assert_int_equal(F.failed_err, -ETIMEDOUT);
	turn_client_stats(C, &st);
	assert_int_equal(st.retransmits, 6);
}

/* A lost answer is recovered by the retransmission. */
static void test_retransmission_recovers(void **state)
{
	(void)state;
	F.drop_all = 1;
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(F.now + 600); /* two tries lost */
	F.drop_all = 0;
	run_until(F.now + 1000);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATED);
}

static void test_forged_integrity_ignored(void **state)
{
	struct turn_stats st;

	(void)state;
	F.forge_integrity = 1;
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(F.now);
	/* The 401 is taken (unauthenticated by nature), the forged success not. */
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATING);
	assert_int_equal(F.allocated, 0);
	turn_client_stats(C, &st);
	assert_int_equal(st.dropped, 1);
	F.forge_integrity = 0;
	run_until(F.now + 500); /* the retransmission gets a true answer */
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATED);
}

static void test_allocation_lost(void **state)
{
	(void)state;
	allocate();
	F.error_on_refresh = 437;
	run_until(F.now + 540000);
	assert_int_equal(turn_client_state(C), TURN_STATE_FAILED);
	assert_int_equal(F.failed_err, -ENOTCONN);
	assert_int_equal(F.failed_code, 437);
}

static void test_deallocate(void **state)
{
	union sockaddr_any peer = A("198.51.100.20:7000");
	struct stun_msg m;
	uint32_t lt = 1;

	(void)state;
	allocate();
	assert_int_equal(turn_client_bind_channel(C, &peer, F.now), 0);
	run_until(F.now);
	new_nonce(); /* deallocation recovers from 438 as well */
	turn_client_close(C, F.now);
	assert_int_equal(turn_client_state(C), TURN_STATE_CLOSING);
	run_until(F.now);
	assert_int_equal(turn_client_state(C), TURN_STATE_CLOSED);
	assert_int_equal(F.last_refresh_lifetime, 0);
	assert_int_equal(stun_msg_parse(&m, F.sent[F.nsent - 1].buf,
					F.sent[F.nsent - 1].len),
			 0);
	assert_int_equal(m.method, STUN_METHOD_REFRESH);
	assert_int_equal(stun_msg_get_u32(&m, STUN_ATTR_LIFETIME, &lt), 0);
	assert_int_equal(lt, 0);
	assert_int_equal(turn_client_next_deadline(C), UINT64_MAX);
	assert_false(turn_client_has_channel(C, &peer));
	assert_int_equal(F.failed, 0);
	/* Closing an idle or closed client sends nothing. */
	F.nsent = 0;
	turn_client_close(C, F.now);
	assert_int_equal(F.nsent, 0);
	assert_int_equal(turn_client_state(C), TURN_STATE_CLOSED);
}

static void test_rest_config(void **state)
{
	struct turn_config cfg = base_config();
	char user[64], pass[64];
	struct stun_msg m;

	(void)state;
	turn_client_destroy(C);
	cfg.username = cfg.password = NULL;
	cfg.rest_secret = "north-secret";
	cfg.rest_id = "node1";
	cfg.rest_expiry = 1700000000;
	assert_int_equal(setup_cfg(&cfg), 0);
	assert_int_equal(turn_rest_credentials("north-secret", "node1",
					       1700000000, user, sizeof(user),
					       pass, sizeof(pass)),
			 0);
	snprintf(F.user, sizeof(F.user), "%s", user);
	snprintf(F.password, sizeof(F.password), "%s", pass);
	allocate(); /* the server accepts the derived password */
	assert_int_equal(stun_msg_parse(&m, F.sent[1].buf, F.sent[1].len), 0);
	{
		char got[64];

		assert_int_equal(stun_msg_get_string(&m, STUN_ATTR_USERNAME,
						     got, sizeof(got)),
				 0);
		assert_string_equal(got, "1700000000:node1");
	}
}

/* An IPv6 relay over an IPv6 server: REQUESTED-ADDRESS-FAMILY, v6 peers. */
static void test_ipv6_relay(void **state)
{
	struct turn_config cfg = base_config();
	union sockaddr_any v4 = A("198.51.100.20:7000");
	union sockaddr_any v6 = A("[2001:db8:5::7]:7000");
	struct stun_msg m;
	int fam = 0;

	(void)state;
	turn_client_destroy(C);
	cfg.server = A("[2001:db8::1]:3478");
	cfg.relay_family = AF_INET6;
	assert_int_equal(setup_cfg(&cfg), 0);
	F.relayed = A("[2001:db8::1]:50000");
	F.client_mapped = A("[2001:db8:9::2]:40000");
	allocate();
	assert_true(addr_equal(&F.ev_relayed, &F.relayed));
	assert_int_equal(stun_msg_parse(&m, F.sent[1].buf, F.sent[1].len), 0);
	assert_int_equal(stun_msg_get_requested_family(&m, &fam), 0);
	assert_int_equal(fam, AF_INET6);
	assert_int_equal(turn_client_permit(C, &v4, F.now), -EAFNOSUPPORT);
	assert_int_equal(turn_client_bind_channel(C, &v6, F.now), 0);
	run_until(F.now);
	assert_true(addr_equal(&F.last_peer, &v6));
	assert_true(turn_client_has_channel(C, &v6));
	cfg.relay_family = 99;
	assert_int_equal(
		turn_client_create(&cfg, &CB, &(struct turn_client *){ NULL }),
		-EINVAL);
}

/* 437 to Allocate: an old allocation holds our 5-tuple (a restart on the
 * same port). Delete it with Refresh(0), pause, allocate again. */
static void test_old_allocation_cleared(void **state)
{
	static const uint16_t want[] = { STUN_METHOD_ALLOCATE,
					 STUN_METHOD_ALLOCATE,
					 STUN_METHOD_REFRESH,
					 STUN_METHOD_ALLOCATE };
	uint64_t t0 = F.now;
	struct stun_msg m;
	uint32_t lt = 1;

	(void)state;
	F.mismatch = 1;
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(t0 + 999);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATING);
	assert_int_equal(F.nsent, 3);
	run_until(t0 + 1000);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATED);
	assert_int_equal(F.nsent, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(
			stun_msg_parse(&m, F.sent[i].buf, F.sent[i].len), 0);
		assert_int_equal(m.method, want[i]);
	}
	assert_int_equal(stun_msg_parse(&m, F.sent[2].buf, F.sent[2].len), 0);
	assert_int_equal(stun_msg_get_u32(&m, STUN_ATTR_LIFETIME, &lt), 0);
	assert_int_equal(lt, 0);
	assert_int_equal(F.sent[3].at, t0 + 1000);
	assert_int_equal(F.allocated, 1);
	assert_int_equal(F.failed, 0);
}

/* A 5-tuple that stays taken: a few tries, then FAILED with the 437. */
static void test_old_allocation_stays(void **state)
{
	(void)state;
	F.mismatch = 1;
	F.mismatch_sticky = 1;
	assert_int_equal(turn_client_start(C, F.now), 0);
	run_until(F.now + 60000);
	assert_int_equal(turn_client_state(C), TURN_STATE_FAILED);
	assert_int_equal(F.failed, 1);
	assert_int_equal(F.failed_err, -ECONNREFUSED);
	assert_int_equal(F.failed_code, 437);
	assert_int_equal(F.refreshes, 3); /* three deletions tried */
	assert_int_equal(turn_client_next_deadline(C), UINT64_MAX);
}

/* A refused or unanswered permission / channel is reported and forgotten. */
static void test_permission_refused(void **state)
{
	union sockaddr_any peer = A("198.51.100.20:7000");
	uint8_t b = 1;

	(void)state;
	allocate();
	F.error_on_perm = 403;
	assert_int_equal(turn_client_bind_channel(C, &peer, F.now), 0);
	run_until(F.now);
	assert_int_equal(F.perms, 1);
	assert_int_equal(F.binds, 1);
	assert_int_equal(F.peer_bad, 2);
	assert_int_equal(F.peer_ok, 0);
	assert_false(turn_client_has_channel(C, &peer));
	/* Data still goes, as a Send indication, and asks again. */
	F.error_on_perm = 0;
	assert_int_equal(turn_client_send(C, &peer, &b, 1, F.now), 0);
	assert_int_equal(F.sends, 1);
	run_until(F.now);
	assert_int_equal(F.perms, 2);
	assert_int_equal(F.peer_ok, 1);
	/* No answer at all: given up after the retransmissions, reported. */
	F.drop_all = 1;
	peer = A("198.51.100.21:7000");
	assert_int_equal(turn_client_permit(C, &peer, F.now), 0);
	run_until(F.now + 39500);
	assert_int_equal(F.peer_bad, 3);
	assert_int_equal(turn_client_state(C), TURN_STATE_ALLOCATED);
	assert_true(turn_client_next_deadline(C) > F.now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rest_credentials),
		cmocka_unit_test_setup_teardown(test_create_rejects_bad_config,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocate_after_401, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocate_error_and_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_nonce_recovery,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_timing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_permission_and_channel_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_send_switches_to_channeldata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_before_allocation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_paths, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_retransmission_timeout,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmission_recovers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_integrity_ignored,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocation_lost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deallocate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rest_config, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_relay, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_old_allocation_cleared,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_allocation_stays,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_refused, setup,
						teardown),
	};

	log_set_level(LOG_LEVEL_ERROR); /* failures here are on purpose */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
