// SPDX-License-Identifier: MIT
/*
 * Relayed candidates end to end, on a fake network and a fake clock: agent
 * A runs a real turn_client against a small TURN server written here
 * (RFC 8656: long-term credentials with a 401 first, Allocate,
 * CreatePermission, ChannelBind, Refresh, Send/Data indications,
 * ChannelData, deallocation), registers the allocation with
 * ice_agent_add_relay, sends from the relayed base through
 * turn_client_send and hands what the client delivers to ice_agent_recv
 * with the relayed address as base, exactly as icemesh-ice does. Agent B is
 * plain. The direct path between A and B is blocked, so ICE must select
 * the relayed pair, carry data both ways (Send/Data indications, then
 * ChannelData once the channel is bound), keep consent over the relay
 * while the client refreshes the allocation and the permission, and
 * deallocate on close.
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
#include "ice/ice_agent.h"
#include "ice/stun.h"
#include "ice/turn.h"

#define USER "icemesh-test"
#define PASS "relay-secret"
#define REALM "icemesh.test"
#define NONCE "nonce-1"
#define LATENCY_MS 5
#define SIGNAL_MS 20
#define MAX_Q 512
#define MAX_PEERS 8

struct qpkt {
	uint64_t at;
	union sockaddr_any src, dst;
	uint8_t buf[1500];
	size_t len;
};

struct qsig {
	uint64_t at;
	int to; /* 0: A, 1: B */
	struct ice_candidate cand;
};

/* The fake TURN server: one allocation, what it saw and did. */
struct server {
	union sockaddr_any addr, relayed, client;
	bool allocated, deallocated;
	union sockaddr_any perms[MAX_PEERS];
	size_t n_perms;
	struct {
		uint16_t ch;
		union sockaddr_any peer;
	} chans[MAX_PEERS];
	size_t n_chans;
	unsigned unauth, allocates, perm_reqs, binds, refreshes;
	unsigned send_ind, chandata_up, data_ind, chandata_down;
	unsigned dropped_at_relay;
};

struct world {
	uint64_t now;
	struct qpkt q[MAX_Q];
	size_t nq;
	struct qsig sig[64];
	size_t nsig;
	struct server s;
	union sockaddr_any ha, hb;
	struct ice_agent *a, *b;
	struct turn_client *tc;
	int sel[2], changed[2], lost[2];
	struct ice_pair_info selected[2];
	unsigned app_got[2];
	unsigned direct_dropped;
};

static struct world W;

static union sockaddr_any A(const char *s) {
	union sockaddr_any a;

	assert_int_equal(addr_parse(s, 0, &a), 0);
	return a;
}

static bool
same_ip(const union sockaddr_any *x, const union sockaddr_any *y)
{
	return addr_equal_ip(x, y);
}

/* ------------------------------------------------------------ network */

static void net_send(const union sockaddr_any *src,
		     const union sockaddr_any *dst, const uint8_t *buf,
		     size_t len)
{
	struct qpkt *p;

	/* The direct path between the two hosts is blocked. */
	if ((addr_equal(src, &W.ha) && same_ip(dst, &W.hb)) ||
	    (addr_equal(src, &W.hb) && same_ip(dst, &W.ha))) {
		W.direct_dropped++;
		return;
	}
	assert_true(W.nq < MAX_Q);
	assert_true(len <= sizeof(p->buf));
	p = &W.q[W.nq++];
	p->at = W.now + LATENCY_MS;
	p->src = *src;
	p->dst = *dst;
	memcpy(p->buf, buf, len);
	p->len = len;
}

/* ------------------------------------------------------------ server */

static void server_answer(const struct stun_msg *req, int code,
			  const union sockaddr_any *to)
{
	uint8_t buf[512], key[16];
	struct stun_builder b;
	uint32_t lt = 600;
	int n;

	stun_builder_init(&b, buf, sizeof(buf),
			  stun_msg_type(req->method, code ? STUN_CLASS_ERROR
							  : STUN_CLASS_SUCCESS),
			  req->tid);
	if (code == 401) {
		stun_builder_add_error(&b, code, "Unauthenticated");
		stun_builder_add_string(&b, STUN_ATTR_REALM, REALM);
		stun_builder_add_string(&b, STUN_ATTR_NONCE, NONCE);
	} else if (req->method == STUN_METHOD_ALLOCATE) {
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS,
					  &W.s.relayed);
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, to);
	}
	if (!code && (req->method == STUN_METHOD_ALLOCATE ||
		      req->method == STUN_METHOD_REFRESH)) {
		stun_msg_get_u32(req, STUN_ATTR_LIFETIME, &lt);
		stun_builder_add_u32(&b, STUN_ATTR_LIFETIME, lt);
	}
	if (code != 401) {
		assert_int_equal(stun_long_term_key(USER, REALM, PASS, key), 0);
		stun_builder_add_message_integrity(&b, key, sizeof(key));
	}
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	net_send(&W.s.addr, to, buf, (size_t)n);
}

static bool server_authentic(const struct stun_msg *m)
{
	char user[64], realm[64], nonce[64];
	uint8_t key[16];

	if (!stun_msg_has(m, STUN_ATTR_MESSAGE_INTEGRITY) ||
	    stun_msg_get_string(m, STUN_ATTR_USERNAME, user, sizeof(user)) ||
	    stun_msg_get_string(m, STUN_ATTR_REALM, realm, sizeof(realm)) ||
	    stun_msg_get_string(m, STUN_ATTR_NONCE, nonce, sizeof(nonce)))
		return false;
	assert_int_equal(stun_long_term_key(USER, REALM, PASS, key), 0);
	return !strcmp(user, USER) && !strcmp(realm, REALM) &&
	       !strcmp(nonce, NONCE) &&
	       stun_msg_check_integrity(m, key, sizeof(key)) == 0;
}

static bool permitted(const union sockaddr_any *peer)
{
	for (size_t i = 0; i < W.s.n_perms; i++)
		if (same_ip(&W.s.perms[i], peer))
			return true;
	return false;
}

static void permit(const union sockaddr_any *peer)
{
	if (!permitted(peer)) {
		assert_true(W.s.n_perms < MAX_PEERS);
		W.s.perms[W.s.n_perms++] = *peer;
	}
}

static void server_request(const struct stun_msg *m,
			   const union sockaddr_any *src)
{
	union sockaddr_any peer;
	uint32_t lt = 600;
	uint16_t ch;

	if (!server_authentic(m)) {
		W.s.unauth++;
		server_answer(m, 401, src);
		return;
	}
	switch (m->method) {
	case STUN_METHOD_ALLOCATE:
		W.s.allocates++;
		W.s.allocated = true;
		W.s.client = *src;
		break;
	case STUN_METHOD_CREATE_PERMISSION:
		assert_int_equal(stun_msg_get_xor_addr(
					 m, STUN_ATTR_XOR_PEER_ADDRESS, &peer),
				 0);
		W.s.perm_reqs++;
		permit(&peer);
		break;
	case STUN_METHOD_CHANNEL_BIND:
		assert_int_equal(stun_msg_get_channel_number(m, &ch), 0);
		assert_int_equal(stun_msg_get_xor_addr(
					 m, STUN_ATTR_XOR_PEER_ADDRESS, &peer),
				 0);
		W.s.binds++;
		permit(&peer);
		if (W.s.n_chans < MAX_PEERS) {
			W.s.chans[W.s.n_chans].ch = ch;
			W.s.chans[W.s.n_chans].peer = peer;
			W.s.n_chans++;
		}
		break;
	case STUN_METHOD_REFRESH:
		W.s.refreshes++;
		stun_msg_get_u32(m, STUN_ATTR_LIFETIME, &lt);
		if (lt == 0) {
			W.s.allocated = false;
			W.s.deallocated = true;
		}
		break;
	default:
		fail_msg("unexpected TURN method %u", m->method);
	}
	server_answer(m, 0, src);
}

/* From the client to the server's listening address. */
static void server_recv(const union sockaddr_any *src, const uint8_t *buf,
			size_t len)
{
	struct stun_msg m;
	union sockaddr_any peer;
	const uint8_t *data;
	size_t dlen;
	uint16_t ch;

	if ((buf[0] & 0xC0) == 0x40) {
		assert_int_equal(
			stun_channeldata_decode(buf, len, &ch, &data, &dlen),
			0);
		for (size_t i = 0; i < W.s.n_chans; i++) {
			if (W.s.chans[i].ch == ch) {
				W.s.chandata_up++;
				net_send(&W.s.relayed, &W.s.chans[i].peer, data,
					 dlen);
				return;
			}
		}
		fail_msg("ChannelData on an unbound channel %#x", ch);
	}
	assert_int_equal(stun_msg_parse(&m, buf, len), 0);
	if (m.cls == STUN_CLASS_INDICATION) {
		assert_int_equal(m.method, STUN_METHOD_SEND);
		assert_int_equal(stun_msg_get_xor_addr(
					 &m, STUN_ATTR_XOR_PEER_ADDRESS, &peer),
				 0);
		assert_int_equal(
			stun_msg_get_bytes(&m, STUN_ATTR_DATA, &data, &dlen),
			0);
		if (W.s.allocated && permitted(&peer)) {
			W.s.send_ind++;
			net_send(&W.s.relayed, &peer, data, dlen);
		}
		return;
	}
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	server_request(&m, src);
}

/* From a peer to the relayed address (RFC 8656 §11.4 / §12.6). */
static void relay_recv(const union sockaddr_any *src, const uint8_t *buf,
		       size_t len)
{
	struct stun_builder b;
	uint8_t out[1600], tid[12];
	int n;

	if (!W.s.allocated || !permitted(src)) {
		W.s.dropped_at_relay++;
		return;
	}
	for (size_t i = 0; i < W.s.n_chans; i++) {
		if (addr_equal(&W.s.chans[i].peer, src)) {
			n = stun_channeldata_encode(out, sizeof(out),
						    W.s.chans[i].ch, buf, len,
						    false);
			assert_true(n > 0);
			W.s.chandata_down++;
			net_send(&W.s.addr, &W.s.client, out, (size_t)n);
			return;
		}
	}
	stun_tid_random(tid);
	stun_builder_init(
		&b, out, sizeof(out),
		stun_msg_type(STUN_METHOD_DATA, STUN_CLASS_INDICATION), tid);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, src);
	stun_builder_add(&b, STUN_ATTR_DATA, buf, len);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	W.s.data_ind++;
	net_send(&W.s.addr, &W.s.client, out, (size_t)n);
}

/* ------------------------------------------------------------ nodes */

static void node_recv(int i, const union sockaddr_any *base,
		      const union sockaddr_any *src, const uint8_t *buf,
		      size_t len)
{
	int r = ice_agent_recv(i ? W.b : W.a, base, src, buf, len, W.now);

	if (r == -ENOMSG && len >= 3 && !memcmp(buf, "app", 3))
		W.app_got[i]++;
	else
		assert_int_equal(r, 0);
}

static void a_send(void *arg, const union sockaddr_any *base,
		   const union sockaddr_any *dst, const uint8_t *buf,
		   size_t len)
{
	union sockaddr_any relayed;

	if (turn_client_relayed(W.tc, &relayed) == 0 &&
	    addr_equal(base, &relayed))
		turn_client_send(W.tc, dst, buf, len, W.now);
	else
		net_send(base, dst, buf, len);
}

static void b_send(void *arg, const union sockaddr_any *base,
		   const union sockaddr_any *dst, const uint8_t *buf,
		   size_t len)
{
	net_send(base, dst, buf, len);
}

static void on_event(int i, const struct ice_event *ev)
{
	switch (ev->type) {
	case ICE_EVENT_CANDIDATE:
		assert_true(W.nsig < 64);
		W.sig[W.nsig].at = W.now + SIGNAL_MS;
		W.sig[W.nsig].to = !i;
		W.sig[W.nsig].cand = *ev->cand;
		W.nsig++;
		break;
	case ICE_EVENT_SELECTED:
		W.sel[i]++;
		W.changed[i] += ev->changed;
		W.selected[i] = *ev->pair;
		break;
	case ICE_EVENT_CONSENT_LOST:
		W.lost[i]++;
		break;
	default:
		break;
	}
}

static void a_event(void *arg, const struct ice_event *ev)
{
	on_event(0, ev);
}

static void b_event(void *arg, const struct ice_event *ev)
{
	on_event(1, ev);
}

static void turn_send_cb(void *arg, const union sockaddr_any *to,
			 const uint8_t *buf, size_t len)
{
	net_send(&W.ha, to, buf, len);
}

static void turn_allocated(void *arg, const union sockaddr_any *relayed,
			   const union sockaddr_any *mapped,
			   uint32_t lifetime_s)
{
	assert_int_equal(
		ice_agent_add_relay(W.a, relayed, &W.s.addr, mapped, W.now), 0);
}

static void turn_failed(void *arg, int err, int code, const char *reason)
{
	fail_msg("TURN allocation failed: %s (%d, %d)", reason, err, code);
}

static void turn_data(void *arg, const union sockaddr_any *peer,
		      const uint8_t *buf, size_t len)
{
	union sockaddr_any relayed;

	assert_int_equal(turn_client_relayed(W.tc, &relayed), 0);
	node_recv(0, &relayed, peer, buf, len);
}

/* ------------------------------------------------------------ the loop */

static void deliver(const struct qpkt *p)
{
	if (addr_equal(&p->dst, &W.s.addr))
		server_recv(&p->src, p->buf, p->len);
	else if (addr_equal(&p->dst, &W.s.relayed))
		relay_recv(&p->src, p->buf, p->len);
	else if (addr_equal(&p->dst, &W.ha) && addr_equal(&p->src, &W.s.addr))
		assert_true(
			turn_client_recv(W.tc, &p->src, p->buf, p->len, W.now));
	else if (addr_equal(&p->dst, &W.ha))
		node_recv(0, &W.ha, &p->src, p->buf, p->len);
	else if (addr_equal(&p->dst, &W.hb))
		node_recv(1, &W.hb, &p->src, p->buf, p->len);
	/* else: an address nobody has (the black hole) */
}

static uint64_t next_event(void)
{
	uint64_t t = ice_agent_next_deadline(W.a), u;

	u = ice_agent_next_deadline(W.b);
	t = u < t ? u : t;
	u = turn_client_next_deadline(W.tc);
	t = u < t ? u : t;
	for (size_t i = 0; i < W.nq; i++)
		t = W.q[i].at < t ? W.q[i].at : t;
	for (size_t i = 0; i < W.nsig; i++)
		t = W.sig[i].at < t ? W.sig[i].at : t;
	return t;
}

static void step(void)
{
	struct qpkt p;
	struct qsig s;

	for (size_t i = 0; i < W.nsig;) {
		if (W.sig[i].at > W.now) {
			i++;
			continue;
		}
		s = W.sig[i];
		W.sig[i] = W.sig[--W.nsig];
		assert_int_equal(ice_agent_add_remote_candidate(
					 s.to ? W.b : W.a, &s.cand, W.now),
				 0);
		/* Like icemesh-ice: permit the peer's addresses early. */
		if (s.to == 0)
			turn_client_permit(W.tc, &s.cand.addr, W.now);
	}
	for (size_t i = 0; i < W.nq;) {
		if (W.q[i].at > W.now) {
			i++;
			continue;
		}
		p = W.q[i];
		memmove(&W.q[i], &W.q[i + 1], (W.nq - i - 1) * sizeof(W.q[0]));
		W.nq--;
		deliver(&p);
	}
	if (ice_agent_next_deadline(W.a) <= W.now)
		ice_agent_tick(W.a, W.now);
	if (ice_agent_next_deadline(W.b) <= W.now)
		ice_agent_tick(W.b, W.now);
	if (turn_client_next_deadline(W.tc) <= W.now)
		turn_client_tick(W.tc, W.now);
}

/* Run until cond() or the clock passes until; true if cond() held. */
static bool run(uint64_t until, bool (*cond)(void))
{
	for (int guard = 0; guard < 1000000; guard++) {
		uint64_t t;

		if (cond && cond())
			return true;
		t = next_event();
		if (t > until) {
			W.now = until;
			return cond ? cond() : true;
		}
		if (t > W.now)
			W.now = t;
		step();
	}
	fail_msg("the loop spins");
	return false;
}

static bool both_selected(void)
{
	return W.sel[0] && W.sel[1];
}

/* ------------------------------------------------------------ setup */

static void setup_world(bool auto_channel)
{
	static const struct ice_agent_callbacks cba = { .send = a_send,
							.event = a_event };
	static const struct ice_agent_callbacks cbb = { .send = b_send,
							.event = b_event };
	static const struct turn_callbacks cbt = { .send = turn_send_cb,
						   .allocated = turn_allocated,
						   .failed = turn_failed,
						   .data = turn_data };
	struct ice_agent_config ca, cb;
	struct turn_config tc;

	memset(&W, 0, sizeof(W));
	W.now = 1000;
	W.s.addr = A("192.0.2.1:3478");
	W.s.relayed = A("192.0.2.1:50000");
	W.ha = A("10.0.0.1:5000");
	W.hb = A("198.51.100.2:6000");

	memset(&ca, 0, sizeof(ca));
	memset(&cb, 0, sizeof(cb));
	ca.role = ICE_ROLE_CONTROLLING;
	cb.role = ICE_ROLE_CONTROLLED;
	assert_int_equal(ice_agent_create(&ca, &cba, &W.a), 0);
	assert_int_equal(ice_agent_create(&cb, &cbb, &W.b), 0);
	assert_int_equal(ice_agent_add_host(W.a, &W.ha,
					    ice_local_pref(0, 0, AF_INET),
					    W.now),
			 0);
	assert_int_equal(ice_agent_add_host(W.b, &W.hb,
					    ice_local_pref(0, 0, AF_INET),
					    W.now),
			 0);
	memset(&tc, 0, sizeof(tc));
	tc.server = W.s.addr;
	tc.username = USER;
	tc.password = PASS;
	tc.lifetime_s = 30; /* refreshes within the run */
	tc.permission_refresh_ms = 20000;
	tc.channel_refresh_ms = 25000;
	tc.auto_channel = auto_channel;
	assert_int_equal(turn_client_create(&tc, &cbt, &W.tc), 0);

	assert_int_equal(
		ice_agent_set_remote_credentials(W.a, ice_agent_ufrag(W.b),
						 ice_agent_pwd(W.b), W.now),
		0);
	assert_int_equal(
		ice_agent_set_remote_credentials(W.b, ice_agent_ufrag(W.a),
						 ice_agent_pwd(W.a), W.now),
		0);
	assert_int_equal(turn_client_start(W.tc, W.now), 0);
	assert_int_equal(ice_agent_start(W.a, W.now), 0);
	assert_int_equal(ice_agent_start(W.b, W.now), 0);
}

static void teardown_world(void)
{
	turn_client_destroy(W.tc);
	ice_agent_destroy(W.a);
	ice_agent_destroy(W.b);
}

/* Application data over each side's selected pair. */
static void send_app(int i, unsigned seq)
{
	uint8_t buf[16];
	struct ice_pair_info sel;

	memcpy(buf, "app", 3);
	memset(buf + 3, (int)seq, sizeof(buf) - 3);
	assert_int_equal(ice_agent_selected(i ? W.b : W.a, &sel), 0);
	(i ? b_send : a_send)(NULL, &sel.base, &sel.remote.addr, buf,
			      sizeof(buf));
}

static void test_relay_end_to_end(void **state)
{
	struct ice_pair_info sa, sb;
	struct turn_stats ts;
	unsigned ind_up, ind_down;

	setup_world(true);

	/* ICE selects the relayed pair: the direct path is blocked. */
	assert_true(run(W.now + 5000, both_selected));
	assert_true(W.s.unauth >= 1); /* 401 first, then credentials */
	assert_true(W.s.allocates >= 1);
	assert_true(W.s.perm_reqs >= 1);
	assert_true(W.direct_dropped > 0); /* direct checks were tried */
	assert_int_equal(ice_agent_selected(W.a, &sa), 0);
	assert_int_equal(ice_agent_selected(W.b, &sb), 0);
	assert_int_equal(sa.local.type, ICE_CAND_RELAY);
	assert_true(addr_equal(&sa.base, &W.s.relayed));
	assert_true(addr_equal(&sa.remote.addr, &W.hb));
	assert_true(addr_equal(&sb.base, &W.hb));
	assert_true(addr_equal(&sb.remote.addr, &W.s.relayed));
	/*
	 * The checks crossed the relay: the first sends to B went as Send
	 * indications (auto_channel binds a channel on the first send, and
	 * until the server confirms it data cannot go as ChannelData);
	 * B's checks and answers came back to A as Data indications or
	 * ChannelData.
	 */
	assert_true(W.s.send_ind >= 1);
	assert_true(W.s.data_ind + W.s.chandata_down >= 1);
	assert_int_equal(ice_agent_state(W.a), ICE_STATE_CONNECTED);
	assert_int_equal(ice_agent_state(W.b), ICE_STATE_CONNECTED);

	/* Data both ways; the channel gets bound, then ChannelData. */
	for (unsigned i = 0; i < 10; i++) {
		send_app(0, i);
		send_app(1, i);
		run(W.now + 50, NULL);
	}
	run(W.now + 500, NULL);
	assert_int_equal(W.app_got[0], 10);
	assert_int_equal(W.app_got[1], 10);
	assert_true(W.s.binds >= 1);
	assert_true(turn_client_has_channel(W.tc, &W.hb));
	ind_up = W.s.send_ind;
	ind_down = W.s.data_ind;
	for (unsigned i = 0; i < 10; i++) {
		send_app(0, i);
		send_app(1, i);
		run(W.now + 50, NULL);
	}
	assert_int_equal(W.app_got[0], 20);
	assert_int_equal(W.app_got[1], 20);
	assert_true(W.s.chandata_up >= 10);
	assert_true(W.s.chandata_down >= 10);
	assert_int_equal(W.s.send_ind, ind_up); /* no more indications */
	assert_int_equal(W.s.data_ind, ind_down);

	/*
	 * 70 s: consent (every ~5 s) keeps flowing over the relay while
	 * the client refreshes the 30 s allocation, the permission and the
	 * channel; nobody loses consent, the pair stays.
	 */
	run(W.now + 70000, NULL);
	assert_int_equal(W.lost[0], 0);
	assert_int_equal(W.lost[1], 0);
	assert_int_equal(W.sel[0], 1);
	assert_int_equal(W.sel[1], 1);
	assert_true(W.s.refreshes >= 2);
	assert_true(W.s.binds >= 3);
	assert_true(W.s.allocated);
	turn_client_stats(W.tc, &ts);
	assert_true(ts.refreshes >= 2);
	assert_true(ts.channel_refreshes >= 2);
	assert_true(ts.auth_retries >= 1);
	send_app(0, 99);
	send_app(1, 99);
	run(W.now + 100, NULL);
	assert_int_equal(W.app_got[0], 21);
	assert_int_equal(W.app_got[1], 21);

	/* Close: Refresh with LIFETIME 0 deallocates on the server. */
	turn_client_close(W.tc, W.now);
	run(W.now + 1000, NULL);
	assert_true(W.s.deallocated);
	assert_false(W.s.allocated);
	teardown_world();
}

/*
 * Without the peer's IP permitted on the server, the peer's checks die at
 * the relay (RFC 8656 §9): a relayed pair can only work once
 * CreatePermission went through. Here A learns B's candidates (and so
 * permits B and checks towards it) only 2 s late; B's checks that reach
 * the relay before then are dropped, and the pair is still found through
 * the retransmissions. Without auto_channel nothing binds a channel:
 * everything crosses the relay as Send and Data indications.
 */
static bool never(void)
{
	return false;
}

static void test_relay_needs_permission(void **state)
{
	setup_world(false);
	/* Hold A's view of B's candidates back (no permit, no checks). */
	run(W.now + 15, never); /* allocation under way, nothing signalled */
	for (size_t i = 0; i < W.nsig; i++)
		if (W.sig[i].to == 0)
			W.sig[i].at = W.now + 2000;
	assert_true(run(W.now + 10000, both_selected));
	assert_true(W.now >= 3000); /* not before the permission */
	assert_true(W.s.dropped_at_relay > 0);
	/* No channel (auto_channel off): indications both ways. */
	assert_true(W.s.data_ind >= 1);
	assert_true(W.s.send_ind >= 1);
	assert_int_equal(W.s.binds, 0);
	assert_int_equal(W.s.chandata_up + W.s.chandata_down, 0);
	assert_int_equal(W.selected[0].local.type, ICE_CAND_RELAY);
	assert_true(addr_equal(&W.selected[1].remote.addr, &W.s.relayed));
	send_app(0, 1);
	send_app(1, 1);
	run(W.now + 100, NULL);
	assert_int_equal(W.app_got[0], 1);
	assert_int_equal(W.app_got[1], 1);
	teardown_world();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_end_to_end),
		cmocka_unit_test(test_relay_needs_permission),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
