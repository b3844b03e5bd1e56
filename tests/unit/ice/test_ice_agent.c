// SPDX-License-Identifier: MIT
/* The ICE agent on the fake network and clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ice/ice_agent.h"
#include "ice/stun.h"
#include "ice_fakenet.h"

#define BINDING_REQ 0x0001
#define BINDING_OK 0x0101
#define BINDING_ERR 0x0111

static struct ice_agent_config cfg_role(enum ice_role role, uint64_t tie)
{
	struct ice_agent_config c;

	memset(&c, 0, sizeof(c));
	c.role = role;
	c.tie_breaker = tie;
	return c;
}

/* Two agents, controlling node 0, each with the given host addresses. */
static void setup2(struct fakenet *n, const char *h0, const char *h1, bool stun)
{
	struct ice_agent_config c0 = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_agent_config c1 = cfg_role(ICE_ROLE_CONTROLLED, 0);

	if (stun) {
		c0.stun_servers[0] = n->stun_server;
		c0.n_stun_servers = 1;
		c1.stun_servers[0] = n->stun_server;
		c1.n_stun_servers = 1;
	}
	assert_int_equal(fakenet_add_agent(n, 0, &c0, &h0, 1), 0);
	assert_int_equal(fakenet_add_agent(n, 1, &c1, &h1, 1), 0);
}

static void assert_same_path(struct fakenet *n)
{
	struct ice_pair_info s0, s1;

	assert_int_equal(ice_agent_selected(n->nodes[0].agent, &s0), 0);
	assert_int_equal(ice_agent_selected(n->nodes[1].agent, &s1), 0);
	/* Each side sends from its base to the other's address as seen. */
	assert_true(addr_equal(&s0.base, &n->nodes[0].selected.base));
	assert_int_equal(ice_agent_state(n->nodes[0].agent),
			 ICE_STATE_CONNECTED);
	assert_int_equal(ice_agent_state(n->nodes[1].agent),
			 ICE_STATE_CONNECTED);
}

static size_t count_sent(const struct fakenet *n, int node, uint16_t type,
			 bool first_only)
{
	size_t c = 0;

	for (size_t i = 0; i < n->n_log; i++) {
		const struct fakenet_sent *s = &n->log[i];

		if (s->node == node && s->stun_type == type &&
		    (!first_only || !s->retransmit))
			c++;
	}
	return c;
}

/* ------------------------------------------------------------------ */

static void test_lan_host_pair(void **state)
{
	struct fakenet n;
	uint64_t t0;

	fakenet_init(&n);
	n.nodes[1].lan = 0; /* one LAN, no NAT */
	setup2(&n, "10.0.0.1:5000", "10.0.0.2:6000", false);
	fakenet_exchange_credentials(&n);
	t0 = n.now;
	fakenet_start(&n);
	assert_true(fakenet_run(&n, t0 + 5000, fakenet_both_selected, NULL));
	assert_false(n.stuck);
	/* Host to host, each side seeing the other's host address. */
	assert_int_equal(n.nodes[0].selected.local.type, ICE_CAND_HOST);
	assert_int_equal(n.nodes[0].selected.remote.type, ICE_CAND_HOST);
	assert_true(addr_equal(&n.nodes[0].selected.remote.addr,
			       &n.nodes[1].hosts[0]));
	assert_true(addr_equal(&n.nodes[1].selected.remote.addr,
			       &n.nodes[0].hosts[0]));
	assert_int_equal(n.nodes[0].selected.rtt_ms, 2 * n.latency_ms);
	/* Well inside the 0.3 s aim on a 5 ms link with 20 ms signaling. */
	assert_true(n.nodes[0].selected_at - t0 < 300);
	assert_true(n.nodes[1].selected_at - t0 < 300);
	assert_same_path(&n);
	/* Roles as configured; regular nomination by the controlling side. */
	assert_int_equal(ice_agent_role(n.nodes[0].agent),
			 ICE_ROLE_CONTROLLING);
	assert_int_equal(ice_agent_role(n.nodes[1].agent), ICE_ROLE_CONTROLLED);
	for (size_t i = 0; i < n.n_log; i++)
		assert_false(n.log[i].node == 1 && n.log[i].use_candidate);
	size_t nominations = 0;
	for (size_t i = 0; i < n.n_log; i++)
		nominations += n.log[i].node == 0 && n.log[i].use_candidate &&
			       !n.log[i].retransmit;
	assert_int_equal(nominations, 1);
	/* Exactly one selection each, no failure. */
	assert_int_equal(n.nodes[0].n_selected, 1);
	assert_int_equal(n.nodes[1].n_selected, 1);
	assert_int_equal(n.nodes[0].n_failed, 0);
	fakenet_free(&n);
}

static void test_srflx_through_nats(void **state)
{
	struct fakenet n;
	uint64_t t0;

	fakenet_init(&n);
	n.nodes[0].nat = true;
	n.nodes[0].nat_ip = fakenet_addr("198.51.100.1");
	n.nodes[1].nat = true;
	n.nodes[1].nat_ip = fakenet_addr("198.51.100.2");
	setup2(&n, "10.0.0.1:5000", "10.0.1.1:6000", true);
	fakenet_exchange_credentials(&n);
	t0 = n.now;
	fakenet_start(&n);
	assert_true(fakenet_run(&n, t0 + 5000, fakenet_both_selected, NULL));
	/* host + srflx each, the srflx with raddr/rport = base. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(n.nodes[i].n_candidates, 2);
		assert_int_equal(n.nodes[i].cands[0].type, ICE_CAND_HOST);
		assert_int_equal(n.nodes[i].cands[1].type, ICE_CAND_SRFLX);
		assert_true(n.nodes[i].cands[1].has_related);
		assert_true(addr_equal(&n.nodes[i].cands[1].related,
				       &n.nodes[i].hosts[0]));
		assert_true(addr_equal_ip(&n.nodes[i].cands[1].addr,
					  &n.nodes[i].nat_ip));
		assert_int_equal(n.nodes[i].n_gathering_done, 1);
		/* Direct through the NATs, not host (private, unreachable). */
		assert_int_not_equal(n.nodes[i].selected.remote.type,
				     ICE_CAND_HOST);
		assert_int_not_equal(n.nodes[i].selected.local.type,
				     ICE_CAND_HOST);
		assert_true(addr_equal_ip(&n.nodes[i].selected.remote.addr,
					  &n.nodes[1 - i].nat_ip));
		assert_true(n.nodes[i].selected_at - t0 < 300);
	}
	/* Hole punching needed the peer's triggered check. */
	struct ice_stats st;
	ice_agent_get_stats(n.nodes[0].agent, &st);
	assert_true(
		st.triggered > 0 ||
		(ice_agent_get_stats(n.nodes[1].agent, &st), st.triggered > 0));
	fakenet_free(&n);
}

static void test_srflx_retransmissions(void **state)
{
	struct ice_agent_config c = cfg_role(ICE_ROLE_CONTROLLING, 1);
	const char *h = "10.0.0.1:5000";
	struct fakenet n;
	uint64_t t0, at[8];
	size_t k = 0;

	/* The server ignores the first two requests (RFC 8489 §6.2.1). */
	fakenet_init(&n);
	c.stun_servers[0] = n.stun_server;
	c.n_stun_servers = 1;
	n.stun_drop_first = 2;
	n.nodes[0].nat = true;
	n.nodes[0].nat_ip = fakenet_addr("198.51.100.1");
	assert_int_equal(fakenet_add_agent(&n, 0, &c, &h, 1), 0);
	t0 = n.now;
	fakenet_start(&n);
	fakenet_run_until(&n, t0 + 10000);
	for (size_t i = 0; i < n.n_log && k < 8; i++) {
		if (n.log[i].stun_type == BINDING_REQ)
			at[k++] = n.log[i].at - t0;
	}
	assert_int_equal(k, 3);
	assert_int_equal(at[0], 0);
	assert_int_equal(at[1], 500);
	assert_int_equal(at[2], 1500);
	assert_int_equal(n.nodes[0].n_candidates, 2);
	assert_int_equal(n.nodes[0].n_gathering_done, 1);
	assert_int_equal(n.nodes[0].gathering_done_at - t0, 1500 + 10);
	fakenet_free(&n);

	/* A dead server: Rc = 7 transmissions, then Rm * RTO: 39.5 s. */
	fakenet_init(&n);
	n.stun_up = false;
	assert_int_equal(fakenet_add_agent(&n, 0, &c, &h, 1), 0);
	t0 = n.now;
	fakenet_start(&n);
	fakenet_run_until(&n, t0 + 60000);
	assert_int_equal(count_sent(&n, 0, BINDING_REQ, false), 7);
	assert_int_equal(count_sent(&n, 0, BINDING_REQ, true), 1);
	assert_int_equal(n.nodes[0].n_gathering_done, 1);
	assert_int_equal(n.nodes[0].gathering_done_at - t0, 39500);
	assert_int_equal(n.nodes[0].n_candidates, 1);
	char rep[512];
	ice_agent_report(n.nodes[0].agent, rep, sizeof(rep));
	assert_non_null(
		strstr(rep, "STUN server 203.0.113.100:3478 never answered"));
	fakenet_free(&n);
}

static bool drop_all(struct fakenet *n, int from, const union sockaddr_any *src,
		     const union sockaddr_any *dst, const uint8_t *buf,
		     size_t len, void *arg)
{
	return true;
}

static void test_pacing_retransmit_and_failure(void **state)
{
	static const char *const h0[] = { "10.0.0.1:1", "10.0.0.2:1",
					  "10.0.0.3:1", "10.0.0.4:1" };
	static const char *const h1[] = { "10.0.0.11:2", "10.0.0.12:2",
					  "10.0.0.13:2", "10.0.0.14:2" };
	struct ice_agent_config c0 = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_agent_config c1 = cfg_role(ICE_ROLE_CONTROLLED, 0);
	struct fakenet n;
	uint64_t t0, prev = 0;
	size_t firsts = 0;
	struct ice_stats st;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	n.drop = drop_all; /* a black hole: every check goes unanswered */
	assert_int_equal(fakenet_add_agent(&n, 0, &c0, h0, 4), 0);
	assert_int_equal(fakenet_add_agent(&n, 1, &c1, h1, 4), 0);
	fakenet_exchange_credentials(&n);
	t0 = n.now;
	fakenet_start(&n);
	fakenet_run_until(&n, t0 + 30000);
	assert_false(n.stuck);

	/* 16 pairs, each checked once: new checks at least Ta apart. */
	ice_agent_get_stats(n.nodes[0].agent, &st);
	assert_int_equal(st.pairs, 16);
	assert_int_equal(st.checks_sent, 16);
	for (size_t i = 0; i < n.n_log; i++) {
		const struct fakenet_sent *s = &n.log[i];

		if (s->node != 0 || s->stun_type != BINDING_REQ ||
		    s->retransmit)
			continue;
		if (firsts++)
			assert_true(s->at - prev >= ICE_DEFAULT_TA_MS);
		prev = s->at;
	}
	assert_int_equal(firsts, 16);

	/*
	 * Retransmissions of the first check: RTO = max(500, Ta * N),
	 * doubling, capped at 1.6 s, 7 transmissions, then failure.
	 */
	const struct fakenet_sent *first = NULL;
	uint64_t tx[8];
	size_t k = 0;
	for (size_t i = 0; i < n.n_log; i++) {
		const struct fakenet_sent *s = &n.log[i];

		if (s->node != 0 || s->stun_type != BINDING_REQ)
			continue;
		if (!first)
			first = s;
		if (memcmp(s->tid, first->tid, 12) == 0 && k < 8)
			tx[k++] = s->at - first->at;
	}
	assert_int_equal(k, ICE_CHECK_MAX_TX);
	static const uint64_t want[] = { 0, 500, 1500, 3100, 4700, 6300, 7900 };
	for (size_t i = 0; i < k; i++)
		assert_int_equal(tx[i], want[i]);

	/* Every pair failed; with end-of-candidates on both sides: FAILED. */
	assert_int_equal(n.nodes[0].n_failed, 1);
	assert_int_equal(ice_agent_state(n.nodes[0].agent), ICE_STATE_FAILED);
	/* The last pair started 15 * Ta in, and fails 9.5 s after. */
	assert_true(n.nodes[0].failed_at - t0 >= 9500 + 15 * ICE_DEFAULT_TA_MS);
	assert_true(n.nodes[0].failed_at - t0 <=
		    9500 + 16 * ICE_DEFAULT_TA_MS + 100);
	assert_int_equal(n.nodes[0].n_selected, 0);
	char rep[4096];
	ice_agent_report(n.nodes[0].agent, rep, sizeof(rep));
	assert_non_null(strstr(rep, "failed after 7 tries, no response"));
	assert_non_null(strstr(rep, "never reached remote host 10.0.0.11:2"));
	fakenet_free(&n);
}

struct role_case {
	enum ice_role r0, r1;
	uint64_t t0, t1;
	enum ice_role want0, want1;
};

static void test_role_conflicts(void **state)
{
	static const struct role_case cases[] = {
		/* Both controlling: the larger tie-breaker stays controlling. */
		{ ICE_ROLE_CONTROLLING, ICE_ROLE_CONTROLLING, 100, 200,
		  ICE_ROLE_CONTROLLED, ICE_ROLE_CONTROLLING },
		{ ICE_ROLE_CONTROLLING, ICE_ROLE_CONTROLLING, 200, 100,
		  ICE_ROLE_CONTROLLING, ICE_ROLE_CONTROLLED },
		/* Both controlled: the larger tie-breaker becomes controlling. */
		{ ICE_ROLE_CONTROLLED, ICE_ROLE_CONTROLLED, 100, 200,
		  ICE_ROLE_CONTROLLED, ICE_ROLE_CONTROLLING },
		{ ICE_ROLE_CONTROLLED, ICE_ROLE_CONTROLLED, 200, 100,
		  ICE_ROLE_CONTROLLING, ICE_ROLE_CONTROLLED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct role_case *rc = &cases[i];
		struct ice_agent_config c0 = cfg_role(rc->r0, rc->t0);
		struct ice_agent_config c1 = cfg_role(rc->r1, rc->t1);
		const char *h0 = "10.0.0.1:5000", *h1 = "10.0.0.2:6000";
		struct ice_stats s0, s1;
		struct fakenet n;

		fakenet_init(&n);
		n.nodes[1].lan = 0;
		assert_int_equal(fakenet_add_agent(&n, 0, &c0, &h0, 1), 0);
		assert_int_equal(fakenet_add_agent(&n, 1, &c1, &h1, 1), 0);
		fakenet_exchange_credentials(&n);
		fakenet_start(&n);
		assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected,
					NULL));
		assert_int_equal(ice_agent_role(n.nodes[0].agent), rc->want0);
		assert_int_equal(ice_agent_role(n.nodes[1].agent), rc->want1);
		ice_agent_get_stats(n.nodes[0].agent, &s0);
		ice_agent_get_stats(n.nodes[1].agent, &s1);
		assert_true(s0.role_conflicts + s1.role_conflicts > 0);
		/* One nomination, from whoever ended up controlling. */
		int ctl = rc->want0 == ICE_ROLE_CONTROLLING ? 0 : 1;
		size_t noms[2] = { 0, 0 };
		for (size_t k = 0; k < n.n_log; k++)
			noms[n.log[k].node] +=
				n.log[k].use_candidate && !n.log[k].retransmit;
		assert_int_equal(noms[ctl], 1);
		assert_int_equal(noms[1 - ctl], 0);
		assert_int_equal(n.nodes[0].n_selected, 1);
		assert_int_equal(n.nodes[1].n_selected, 1);
		/* Both controlling: the loser of the tie is told by a 487. */
		if (rc->r0 == ICE_ROLE_CONTROLLING && rc->r1 == rc->r0) {
			int winner = rc->want0 == ICE_ROLE_CONTROLLING ? 0 : 1;
			assert_true(count_sent(&n, winner, BINDING_ERR,
					       false) >= 1);
		}
		fakenet_free(&n);
	}
}

/* Build a Binding message like a peer would, with a given key. */
static size_t build_msg(uint8_t *buf, size_t cap, uint16_t type,
			const uint8_t *tid, const char *user, const char *key,
			const union sockaddr_any *xmapped, bool use_cand,
			uint32_t prio)
{
	struct stun_builder b;
	uint8_t t[12];
	int n;

	if (!tid) {
		stun_tid_random(t);
		tid = t;
	}
	stun_builder_init(&b, buf, cap, type, tid);
	if (user)
		stun_builder_add_string(&b, STUN_ATTR_USERNAME, user);
	if (prio)
		stun_builder_add_u32(&b, STUN_ATTR_PRIORITY, prio);
	if (type == BINDING_REQ)
		stun_builder_add_u64(&b, STUN_ATTR_ICE_CONTROLLED, 7);
	if (use_cand)
		stun_builder_add_flag(&b, STUN_ATTR_USE_CANDIDATE);
	if (xmapped)
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
					  xmapped);
	if (key)
		stun_builder_add_message_integrity(&b, (const uint8_t *)key,
						   strlen(key));
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	return (size_t)n;
}

static void test_integrity_required(void **state)
{
	struct fakenet n;
	struct ice_stats st;
	uint8_t buf[512];
	char user[600];
	size_t len, logged;
	union sockaddr_any evil = fakenet_addr("192.0.2.66:6666");
	struct ice_agent *a0, *a1;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	n.drop = drop_all; /* we play the peer by hand */
	setup2(&n, "10.0.0.1:5000", "10.0.0.2:6000", false);
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	a0 = n.nodes[0].agent;
	a1 = n.nodes[1].agent;
	fakenet_run_until(&n, n.now + 100);
	logged = n.n_log;

	/* A request with the wrong password: no response, no prflx. */
	snprintf(user, sizeof(user), "%s:%s", ice_agent_ufrag(a0),
		 ice_agent_ufrag(a1));
	len = build_msg(buf, sizeof(buf), BINDING_REQ, NULL, user,
			"wrongwrongwrongwrongwrong", NULL, true, 12345);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &evil, buf, len);
	/* Without integrity at all. */
	len = build_msg(buf, sizeof(buf), BINDING_REQ, NULL, user, NULL, NULL,
			true, 12345);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &evil, buf, len);
	/* Right password, wrong ufrag. */
	len = build_msg(buf, sizeof(buf), BINDING_REQ, NULL, "nope:nope",
			ice_agent_pwd(a0), NULL, true, 12345);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &evil, buf, len);
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.unauthenticated, 3);
	assert_int_equal(st.remote, 1); /* only the signalled host */
	assert_int_equal(st.responses_sent, 0);
	assert_int_equal(n.n_log, logged);

	/* Not STUN: handed back. Broken STUN: dropped and counted. */
	memset(buf, 0xff, 64);
	assert_int_equal(
		ice_agent_recv(a0, &n.nodes[0].hosts[0], &evil, buf, 64, n.now),
		-ENOMSG);
	len = build_msg(buf, sizeof(buf), BINDING_REQ, NULL, user,
			ice_agent_pwd(a0), NULL, false, 12345);
	buf[len - 1] ^= 1; /* fingerprint broken */
	assert_int_equal(ice_agent_recv(a0, &n.nodes[0].hosts[0], &evil, buf,
					len, n.now),
			 0);
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.dropped, 1);
	/* Unknown base. */
	assert_int_equal(ice_agent_recv(a0, &evil, &evil, buf, len, n.now),
			 -ENOENT);

	/*
	 * A success response to node 0's real check (right transaction,
	 * right source) but signed with the wrong key changes nothing; the
	 * same response signed with the peer's password makes the pair valid.
	 */
	const struct fakenet_sent *chk = NULL;
	for (size_t i = 0; i < n.n_log; i++) {
		if (n.log[i].node == 0 && n.log[i].stun_type == BINDING_REQ)
			chk = &n.log[i];
	}
	assert_non_null(chk);
	union sockaddr_any mapped = n.nodes[0].hosts[0];
	len = build_msg(buf, sizeof(buf), BINDING_OK, chk->tid, NULL,
			"wrongwrongwrongwrongwrong", &mapped, false, 0);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &n.nodes[1].hosts[0], buf,
		       len);
	len = build_msg(buf, sizeof(buf), BINDING_OK, chk->tid, NULL, NULL,
			&mapped, false, 0);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &n.nodes[1].hosts[0], buf,
		       len);
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.unauthenticated, 5);
	fakenet_run_until(&n, n.now + 200);
	assert_int_equal(count_sent(&n, 0, BINDING_REQ, true), 1);
	/* Now the genuine one: the agent goes on to nominate the pair. */
	len = build_msg(buf, sizeof(buf), BINDING_OK, chk->tid, NULL,
			ice_agent_pwd(a1), &mapped, false, 0);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &n.nodes[1].hosts[0], buf,
		       len);
	fakenet_run_until(&n, n.now + 200);
	assert_int_equal(count_sent(&n, 0, BINDING_REQ, true), 2);
	bool nominated = false;
	for (size_t i = 0; i < n.n_log; i++)
		nominated |= n.log[i].node == 0 && n.log[i].use_candidate;
	assert_true(nominated);
	fakenet_free(&n);
}

/* What node 0 sent last (the test plays every peer by hand). */
struct captured {
	uint8_t buf[FAKENET_PKT_MAX];
	size_t len;
	union sockaddr_any dst;
	unsigned count;
};

static bool capture_node0(struct fakenet *n, int from,
			  const union sockaddr_any *src,
			  const union sockaddr_any *dst, const uint8_t *buf,
			  size_t len, void *arg)
{
	struct captured *c = arg;

	if (from == 0 && len <= sizeof(c->buf)) {
		memcpy(c->buf, buf, len);
		c->len = len;
		c->dst = *dst;
		c->count++;
	}
	return true;
}

/* A check like the peer's, with extra attributes of the given types. */
static size_t build_with_attrs(uint8_t *buf, size_t cap, uint16_t type,
			       const uint8_t *tid, const char *user,
			       const char *key, const uint16_t *extra,
			       size_t n_extra)
{
	struct stun_builder b;
	uint8_t t[12], val[4] = { 1, 2, 3, 4 };
	int n;

	if (!tid) {
		stun_tid_random(t);
		tid = t;
	}
	stun_builder_init(&b, buf, cap, type, tid);
	if (user)
		stun_builder_add_string(&b, STUN_ATTR_USERNAME, user);
	if (type == BINDING_REQ) {
		stun_builder_add_u32(&b, STUN_ATTR_PRIORITY, 12345);
		stun_builder_add_u64(&b, STUN_ATTR_ICE_CONTROLLED, 7);
		stun_builder_add_flag(&b, STUN_ATTR_USE_CANDIDATE);
	}
	for (size_t i = 0; i < n_extra; i++)
		stun_builder_add(&b, extra[i], val, sizeof(val));
	if (key)
		stun_builder_add_message_integrity(&b, (const uint8_t *)key,
						   strlen(key));
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	assert_true(n > 0);
	return (size_t)n;
}

/*
 * RFC 8489 §6.3.1.1: a request with comprehension-required attributes the
 * agent does not know gets a 420 listing them in UNKNOWN-ATTRIBUTES, with
 * our MESSAGE-INTEGRITY and FINGERPRINT, only if it is authentic for the
 * session; it changes no state (no prflx, no triggered check). Unknown
 * comprehension-optional attributes (>= 0x8000) are ignored: a normal
 * success. A response with unknown required attributes is discarded.
 */
static void test_unknown_attributes(void **state)
{
	static const uint16_t unk[] = { 0x0031, 0x7f01 };
	static const uint16_t opt[] = { 0x8f01 };
	union sockaddr_any evil = fakenet_addr("192.0.2.66:6666");
	union sockaddr_any other = fakenet_addr("192.0.2.67:6667");
	struct captured cap;
	struct stun_msg m;
	struct ice_stats st0, st;
	struct fakenet n;
	struct ice_agent *a0, *a1;
	uint8_t buf[512], tid[12];
	uint16_t types[8];
	char user[600];
	size_t len, nt, logged;
	int code;

	memset(&cap, 0, sizeof(cap));
	fakenet_init(&n);
	n.nodes[1].lan = 0;
	n.drop = capture_node0;
	n.drop_arg = &cap;
	setup2(&n, "10.0.0.1:5000", "10.0.0.2:6000", false);
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	a0 = n.nodes[0].agent;
	a1 = n.nodes[1].agent;
	fakenet_run_until(&n, n.now + 100);
	ice_agent_get_stats(a0, &st0);
	snprintf(user, sizeof(user), "%s:%s", ice_agent_ufrag(a0),
		 ice_agent_ufrag(a1));

	/* Not authentic (wrong key, then no integrity): silence. */
	logged = n.n_log;
	cap.count = 0;
	len = build_with_attrs(buf, sizeof(buf), BINDING_REQ, NULL, user,
			       "wrongwrongwrongwrongwrong", unk, 2);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &evil, buf, len);
	len = build_with_attrs(buf, sizeof(buf), BINDING_REQ, NULL, user, NULL,
			       unk, 2);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &evil, buf, len);
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.unauthenticated, st0.unauthenticated + 2);
	assert_int_equal(st.unknown_attrs, 0);
	assert_int_equal(st.responses_sent, st0.responses_sent);
	assert_int_equal(n.n_log, logged);

	/* Authentic: exactly one 420 back to the source, naming both. */
	stun_tid_random(tid);
	len = build_with_attrs(buf, sizeof(buf), BINDING_REQ, tid, user,
			       ice_agent_pwd(a0), unk, 2);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &evil, buf, len);
	assert_int_equal(cap.count, 1);
	assert_true(addr_equal(&cap.dst, &evil));
	assert_int_equal(stun_msg_parse(&m, cap.buf, cap.len), 0);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_memory_equal(m.tid, tid, sizeof(tid));
	assert_int_equal(stun_msg_get_error(&m, &code, NULL, NULL), 0);
	assert_int_equal(code, 420);
	assert_int_equal(stun_msg_get_unknown_attrs(&m, types, 8, &nt), 0);
	assert_int_equal(nt, 2);
	assert_int_equal(types[0], 0x0031);
	assert_int_equal(types[1], 0x7f01);
	assert_int_equal(
		stun_msg_check_integrity(&m, (const uint8_t *)ice_agent_pwd(a0),
					 strlen(ice_agent_pwd(a0))),
		0);
	assert_int_equal(stun_msg_check_fingerprint(&m), 0);
	/* ... and no state: no prflx from evil, no check towards it. */
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.unknown_attrs, 1);
	assert_int_equal(st.remote, st0.remote);
	assert_int_equal(st.pairs, st0.pairs);
	assert_int_equal(st.triggered, st0.triggered);
	fakenet_run_until(&n, n.now + 300);
	for (size_t i = logged; i < n.n_log; i++)
		assert_false(n.log[i].node == 0 &&
			     n.log[i].stun_type == BINDING_REQ &&
			     addr_equal(&n.log[i].dst, &evil));

	/* An unknown optional attribute is ignored: a success, a prflx. */
	cap.count = 0;
	len = build_with_attrs(buf, sizeof(buf), BINDING_REQ, NULL, user,
			       ice_agent_pwd(a0), opt, 1);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &other, buf, len);
	assert_true(cap.count >= 1);
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.unknown_attrs, 1);
	assert_int_equal(st.remote, st0.remote + 1);

	/* A response with an unknown required attribute: discarded. */
	const uint8_t *chk = NULL;
	for (size_t i = 0; i < n.n_log; i++) {
		if (n.log[i].node == 0 && n.log[i].stun_type == BINDING_REQ &&
		    addr_equal(&n.log[i].dst, &n.nodes[1].hosts[0]))
			chk = n.log[i].tid;
	}
	assert_non_null(chk);
	ice_agent_get_stats(a0, &st0);
	len = build_with_attrs(buf, sizeof(buf), BINDING_OK, chk, NULL,
			       ice_agent_pwd(a1), unk, 1);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &n.nodes[1].hosts[0], buf,
		       len);
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.dropped, st0.dropped + 1);
	assert_int_equal(n.nodes[0].n_selected, 0);
	/* The pair is not valid: no nomination follows. */
	fakenet_run_until(&n, n.now + 200);
	for (size_t i = 0; i < n.n_log; i++)
		assert_false(n.log[i].node == 0 && n.log[i].use_candidate);
	fakenet_free(&n);
}

/* The tid of node 0's latest Binding request to dst. */
static const uint8_t *check_tid(const struct fakenet *n, const char *dst)
{
	union sockaddr_any d = fakenet_addr(dst);
	const uint8_t *tid = NULL;

	for (size_t i = 0; i < n->n_log; i++) {
		if (n->log[i].node == 0 && n->log[i].stun_type == BINDING_REQ &&
		    addr_equal(&n->log[i].dst, &d))
			tid = n->log[i].tid;
	}
	return tid;
}

static void test_response_failures(void **state)
{
	static const char *const h1[] = { "10.0.0.2:6000", "10.0.0.4:6000" };
	struct ice_agent_config c0 = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_agent_config c1 = cfg_role(ICE_ROLE_CONTROLLED, 0);
	const char *h0 = "10.0.0.1:5000";
	union sockaddr_any mapped, wrong = fakenet_addr("10.0.0.9:6000");
	union sockaddr_any from4 = fakenet_addr("10.0.0.4:6000");
	struct stun_builder b;
	const uint8_t *tid;
	struct fakenet n;
	uint8_t buf[512];
	char rep[2048];
	const char *pwd1;
	int len;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	n.drop = drop_all; /* we answer by hand */
	assert_int_equal(fakenet_add_agent(&n, 0, &c0, &h0, 1), 0);
	assert_int_equal(fakenet_add_agent(&n, 1, &c1, h1, 2), 0);
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	fakenet_run_until(&n, n.now + 100);
	pwd1 = ice_agent_pwd(n.nodes[1].agent);
	mapped = n.nodes[0].hosts[0];

	/* Authentic success, but from another address: not symmetric. */
	tid = check_tid(&n, "10.0.0.2:6000");
	assert_non_null(tid);
	len = (int)build_msg(buf, sizeof(buf), BINDING_OK, tid, NULL, pwd1,
			     &mapped, false, 0);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &wrong, buf, (size_t)len);

	/* Authentic 400 error from the right address. */
	tid = check_tid(&n, "10.0.0.4:6000");
	assert_non_null(tid);
	stun_builder_init(&b, buf, sizeof(buf), BINDING_ERR, tid);
	stun_builder_add_error(&b, 400, "Bad Request");
	stun_builder_add_message_integrity(&b, (const uint8_t *)pwd1,
					   strlen(pwd1));
	stun_builder_add_fingerprint(&b);
	len = stun_builder_finish(&b);
	assert_true(len > 0);
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &from4, buf, (size_t)len);

	ice_agent_report(n.nodes[0].agent, rep, sizeof(rep));
	assert_non_null(strstr(rep,
			       "-> host 10.0.0.2:6000: failed after 1 "
			       "tries, response from an unexpected address"));
	assert_non_null(strstr(rep, "-> host 10.0.0.4:6000: failed after 1 "
				    "tries, error response"));
	/* Both pairs failed, nothing selected; no retransmissions follow. */
	size_t before = count_sent(&n, 0, BINDING_REQ, false);
	fakenet_run_until(&n, n.now + 5000);
	assert_int_equal(count_sent(&n, 0, BINDING_REQ, false), before);
	assert_int_equal(n.nodes[0].n_selected, 0);
	/* The peer sent end-of-candidates: with both pairs failed, FAILED. */
	assert_int_equal(ice_agent_state(n.nodes[0].agent), ICE_STATE_FAILED);
	assert_int_equal(n.nodes[0].n_failed, 1);
	fakenet_free(&n);
}

static bool drop_after(struct fakenet *n, int from,
		       const union sockaddr_any *src,
		       const union sockaddr_any *dst, const uint8_t *buf,
		       size_t len, void *arg)
{
	return n->now >= *(uint64_t *)arg;
}

static void test_consent_freshness(void **state)
{
	struct fakenet n;
	uint64_t cut = UINT64_MAX, t_sel;
	size_t before;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	n.drop = drop_after;
	n.drop_arg = &cut;
	setup2(&n, "10.0.0.1:5000", "10.0.0.2:6000", false);
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected, NULL));
	t_sel = n.now;
	before = count_sent(&n, 0, BINDING_REQ, true);

	/* A healthy path: consent checks every 5 s, never lost. */
	fakenet_run_until(&n, t_sel + 120000);
	assert_int_equal(n.nodes[0].n_consent_lost, 0);
	assert_int_equal(n.nodes[1].n_consent_lost, 0);
	size_t consent = count_sent(&n, 0, BINDING_REQ, true) - before;
	assert_true(consent >= 23 && consent <= 25);
	assert_int_equal(ice_agent_state(n.nodes[0].agent),
			 ICE_STATE_CONNECTED);

	/* Break the path: loss is reported within 30 s (RFC 7675 §5.1). */
	cut = n.now;
	fakenet_run_until(&n, cut + 60000);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(n.nodes[i].n_consent_lost, 1);
		/* 30 s after the last response, which may be in flight. */
		assert_true(n.nodes[i].consent_lost_at <=
			    cut + n.latency_ms + 30000);
		assert_true(n.nodes[i].consent_lost_at >= cut + 25000);
	}
	assert_int_not_equal(ice_agent_state(n.nodes[0].agent),
			     ICE_STATE_CONNECTED);
	struct ice_pair_info p;
	assert_int_equal(ice_agent_selected(n.nodes[0].agent, &p), -ENOTCONN);
	fakenet_free(&n);
}

static void test_restart(void **state)
{
	struct fakenet n;
	char old_ufrag[64], old_pwd[64];
	struct ice_pair_info p;
	struct ice_agent *a0, *a1;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	setup2(&n, "10.0.0.1:5000", "10.0.0.2:6000", false);
	a0 = n.nodes[0].agent;
	a1 = n.nodes[1].agent;
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected, NULL));
	snprintf(old_ufrag, sizeof(old_ufrag), "%s", ice_agent_ufrag(a0));
	snprintf(old_pwd, sizeof(old_pwd), "%s", ice_agent_pwd(a0));

	assert_int_equal(ice_agent_restart(a0, n.now), 0);
	assert_int_equal(ice_agent_restart(a1, n.now), 0);
	assert_string_not_equal(old_ufrag, ice_agent_ufrag(a0));
	assert_string_not_equal(old_pwd, ice_agent_pwd(a0));
	/* Candidates reported again under the new credentials. */
	assert_int_equal(n.nodes[0].n_candidates, 2);
	assert_int_equal(n.nodes[0].n_gathering_done, 2);
	/* The old pair keeps carrying data meanwhile. */
	assert_int_equal(ice_agent_selected(a0, &p), 0);
	fakenet_exchange_credentials(&n);
	uint64_t t = n.now;
	while (n.nodes[0].n_selected < 2 || n.nodes[1].n_selected < 2) {
		assert_int_equal(ice_agent_selected(a0, &p), 0);
		assert_int_equal(ice_agent_selected(a1, &p), 0);
		fakenet_run_until(&n, n.now + 1);
		assert_true(n.now - t < 1000);
	}
	assert_int_equal(n.nodes[0].n_changed, 1);
	assert_int_equal(n.nodes[1].n_changed, 1);
	assert_int_equal(ice_agent_state(a0), ICE_STATE_CONNECTED);

	/* Old credentials are refused now. */
	uint8_t buf[512];
	char user[600];
	struct ice_stats st;
	snprintf(user, sizeof(user), "%s:x", old_ufrag);
	size_t len = build_msg(buf, sizeof(buf), BINDING_REQ, NULL, user,
			       old_pwd, NULL, false, 5);
	union sockaddr_any src = fakenet_addr("10.0.0.2:6000");
	fakenet_inject(&n, 0, &n.nodes[0].hosts[0], &src, buf, len);
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.unauthenticated, 1);
	fakenet_free(&n);
}

static bool block_direct_until(struct fakenet *n, int from,
			       const union sockaddr_any *src,
			       const union sockaddr_any *dst,
			       const uint8_t *buf, size_t len, void *arg)
{
	char s[ADDR_STRLEN], d[ADDR_STRLEN];

	if (n->now >= *(uint64_t *)arg)
		return false;
	/* Relayed addresses live in 192.0.2.0/24 in this test. */
	addr_to_str(src, s, sizeof(s));
	addr_to_str(dst, d, sizeof(d));
	return strncmp(s, "192.0.2.", 8) != 0 && strncmp(d, "192.0.2.", 8) != 0;
}

static void test_relay_then_direct(void **state)
{
	struct fakenet n;
	uint64_t open_at;
	struct ice_pair_info p0, p1;

	fakenet_init(&n);
	n.drop = block_direct_until;
	n.drop_arg = &open_at;
	setup2(&n, "10.0.0.1:5000", "10.0.1.1:6000", false);
	assert_int_equal(fakenet_add_relay(&n, 0, "192.0.2.50:40000"), 0);
	assert_int_equal(fakenet_add_relay(&n, 1, "192.0.2.51:40001"), 0);
	open_at = n.now + 2000;
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, n.now + 2000, fakenet_both_selected, NULL));
	assert_true(n.now < open_at);
	/* Relayed first. */
	assert_true(n.nodes[0].selected.local.type == ICE_CAND_RELAY ||
		    n.nodes[0].selected.remote.type == ICE_CAND_RELAY);
	/* No gap: a pair is selected at every instant until the switch. */
	while (n.nodes[0].n_changed == 0 || n.nodes[1].n_changed == 0) {
		assert_int_equal(ice_agent_selected(n.nodes[0].agent, &p0), 0);
		assert_int_equal(ice_agent_selected(n.nodes[1].agent, &p1), 0);
		fakenet_run_until(&n, n.now + 5);
		assert_true(n.now < open_at + 5000);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(n.nodes[i].selected.local.type, ICE_CAND_HOST);
		assert_int_equal(n.nodes[i].selected.remote.type,
				 ICE_CAND_HOST);
		assert_true(n.nodes[i].changed_at >= open_at);
		/* RTT of the answered transmission, not since the first one. */
		assert_true(n.nodes[i].selected.rtt_ms <= 2 * n.latency_ms);
		/* Within a retransmission interval of the path opening. */
		assert_true(n.nodes[i].changed_at - open_at <= 1700);
	}
	/* And it stays there. */
	fakenet_run_until(&n, n.now + 20000);
	assert_int_equal(n.nodes[0].n_changed, 1);
	assert_int_equal(n.nodes[0].n_consent_lost, 0);
	fakenet_free(&n);
}

static void test_relay_recheck_after_failure(void **state)
{
	struct fakenet n;
	uint64_t open_at, t0;

	/*
	 * The direct path opens only after every direct check has failed
	 * (9.5 s): the agent, sitting on the relay, retries failed direct
	 * pairs every recheck interval and moves off the relay.
	 */
	fakenet_init(&n);
	n.drop = block_direct_until;
	n.drop_arg = &open_at;
	setup2(&n, "10.0.0.1:5000", "10.0.1.1:6000", false);
	assert_int_equal(fakenet_add_relay(&n, 0, "192.0.2.50:40000"), 0);
	assert_int_equal(fakenet_add_relay(&n, 1, "192.0.2.51:40001"), 0);
	t0 = n.now;
	open_at = t0 + 15000;
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, t0 + 2000, fakenet_both_selected, NULL));
	fakenet_run_until(&n, open_at);
	assert_int_equal(n.nodes[0].n_changed, 0);
	/* The direct pair failed once and is being tried again. */
	struct ice_stats st;
	ice_agent_get_stats(n.nodes[0].agent, &st);
	assert_true(st.checks_sent > st.pairs + 1);
	fakenet_run_until(&n, open_at + ICE_RECHECK_MS + 500);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(n.nodes[i].n_changed, 1);
		assert_int_equal(n.nodes[i].selected.local.type, ICE_CAND_HOST);
		assert_int_equal(n.nodes[i].selected.remote.type,
				 ICE_CAND_HOST);
	}
	fakenet_free(&n);
}

static bool drop_from_base(struct fakenet *n, int from,
			   const union sockaddr_any *src,
			   const union sockaddr_any *dst, const uint8_t *buf,
			   size_t len, void *arg)
{
	const union sockaddr_any *bad = arg;

	return addr_len(bad) && (addr_equal(src, bad) || addr_equal(dst, bad));
}

static void test_consent_loss_falls_back(void **state)
{
	static const char *const h0[] = { "10.0.0.1:5000", "10.0.0.3:5000" };
	struct ice_agent_config c0 = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_agent_config c1 = cfg_role(ICE_ROLE_CONTROLLED, 0);
	const char *h1 = "10.0.0.2:6000";
	union sockaddr_any bad;
	struct fakenet n;
	uint64_t cut;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	memset(&bad, 0, sizeof(bad));
	n.drop = drop_from_base;
	n.drop_arg = &bad;
	assert_int_equal(fakenet_add_agent(&n, 0, &c0, h0, 2), 0);
	assert_int_equal(fakenet_add_agent(&n, 1, &c1, &h1, 1), 0);
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected, NULL));
	fakenet_run_until(&n, n.now + 1000);
	/* The first interface's address is preferred. */
	assert_true(
		addr_equal(&n.nodes[0].selected.base, &n.nodes[0].hosts[0]));
	/* That interface dies. */
	bad = n.nodes[0].hosts[0];
	cut = n.now;
	fakenet_run_until(&n, cut + 40000);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(n.nodes[i].n_consent_lost, 1);
		assert_true(n.nodes[i].consent_lost_at <=
			    cut + n.latency_ms + 30000);
		/* ...and traffic moves to the other valid pair at once. */
		assert_int_equal(n.nodes[i].n_selected, 2);
		assert_true(n.nodes[i].selected_at -
				    n.nodes[i].consent_lost_at <
			    300);
		assert_int_equal(ice_agent_state(n.nodes[i].agent),
				 ICE_STATE_CONNECTED);
	}
	assert_true(
		addr_equal(&n.nodes[0].selected.base, &n.nodes[0].hosts[1]));
	fakenet_free(&n);
}

static void test_remove_host_then_restart(void **state)
{
	static const char *const h0[] = { "10.0.0.1:5000", "10.0.0.3:5000" };
	struct ice_agent_config c0 = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_agent_config c1 = cfg_role(ICE_ROLE_CONTROLLED, 0);
	const char *h1 = "10.0.0.2:6000";
	struct ice_agent *a0, *a1;
	struct fakenet n;
	uint8_t junk[20] = { 0 };
	uint64_t t;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	assert_int_equal(fakenet_add_agent(&n, 0, &c0, h0, 2), 0);
	assert_int_equal(fakenet_add_agent(&n, 1, &c1, &h1, 1), 0);
	a0 = n.nodes[0].agent;
	a1 = n.nodes[1].agent;
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected, NULL));
	fakenet_run_until(&n, n.now + 200);
	assert_true(
		addr_equal(&n.nodes[0].selected.base, &n.nodes[0].hosts[0]));

	/* The preferred address goes away: reported at once, not in 30 s. */
	t = n.now;
	assert_int_equal(ice_agent_remove_host(a0, &n.nodes[0].hosts[0], t), 0);
	assert_int_equal(n.nodes[0].n_consent_lost, 1);
	assert_int_equal(ice_agent_remove_host(a0, &n.nodes[0].hosts[0], t),
			 -ENOENT);
	junk[4] = 0x21, junk[5] = 0x12, junk[6] = 0xa4, junk[7] = 0x42;
	assert_int_equal(ice_agent_recv(a0, &n.nodes[0].hosts[0],
					&n.nodes[1].hosts[0], junk,
					sizeof(junk), t),
			 -ENOENT);
	n.nodes[0].hosts[0] = fakenet_addr("10.0.0.99:1"); /* unreachable */
	fakenet_run_until(&n, t + 300);
	assert_int_equal(n.nodes[0].n_selected, 2);
	assert_true(
		addr_equal(&n.nodes[0].selected.base, &n.nodes[0].hosts[1]));
	assert_int_equal(ice_agent_state(a0), ICE_STATE_CONNECTED);

	/* Restart: only the remaining address is reported and used. */
	unsigned before = n.nodes[0].n_candidates;
	assert_int_equal(ice_agent_restart(a0, n.now), 0);
	assert_int_equal(ice_agent_restart(a1, n.now), 0);
	assert_int_equal(n.nodes[0].n_candidates, before + 1);
	fakenet_exchange_credentials(&n);
	assert_true(fakenet_run(&n, n.now + 1000, fakenet_both_selected, NULL));
	fakenet_run_until(&n, n.now + 1000);
	assert_int_equal(n.nodes[0].n_selected, 3);
	assert_true(
		addr_equal(&n.nodes[0].selected.base, &n.nodes[0].hosts[1]));
	struct ice_stats st;
	ice_agent_get_stats(a0, &st);
	assert_int_equal(st.local, 1);
	assert_int_equal(st.pairs, 1);
	fakenet_free(&n);
}

static bool drop_to_b(struct fakenet *n, int from,
		      const union sockaddr_any *src,
		      const union sockaddr_any *dst, const uint8_t *buf,
		      size_t len, void *arg)
{
	union sockaddr_any b = fakenet_addr("10.0.0.4:6000");

	return addr_equal(dst, &b) || addr_equal(src, &b);
}

static void test_selection_stops_lower_checks(void **state)
{
	static const char *const h1[] = { "10.0.0.2:6000", "10.0.0.4:6000" };
	struct ice_agent_config c0 = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_agent_config c1 = cfg_role(ICE_ROLE_CONTROLLED, 0);
	const char *h0 = "10.0.0.1:5000";
	union sockaddr_any b = fakenet_addr("10.0.0.4:6000");
	struct fakenet n;
	size_t to_b = 0, after = 0;

	/*
	 * The second remote address is dead; the first gets selected after
	 * two 100 ms round trips, while the check to the second is in flight.
	 */
	fakenet_init(&n);
	n.latency_ms = 50;
	n.nodes[1].lan = 0;
	n.drop = drop_to_b;
	assert_int_equal(fakenet_add_agent(&n, 0, &c0, &h0, 1), 0);
	assert_int_equal(fakenet_add_agent(&n, 1, &c1, h1, 2), 0);
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected, NULL));
	fakenet_run_until(&n, n.now + 20000);
	for (size_t i = 0; i < n.n_log; i++) {
		const struct fakenet_sent *s = &n.log[i];

		if (s->node != 0 || s->stun_type != BINDING_REQ ||
		    !addr_equal(&s->dst, &b))
			continue;
		to_b++;
		after += s->at > n.nodes[0].selected_at;
	}
	/* Checked once before the selection, never retransmitted after. */
	assert_int_equal(to_b, 1);
	assert_int_equal(after, 0);
	fakenet_free(&n);
}

static void test_foundation_freezing(void **state)
{
	static const char *const h0[] = { "10.0.0.1:5000", "10.0.0.1:5001" };
	struct ice_agent_config c0 = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_agent_config c1 = cfg_role(ICE_ROLE_CONTROLLED, 0);
	const char *h1 = "10.0.0.2:6000";
	union sockaddr_any second = fakenet_addr("10.0.0.1:5001");
	uint64_t t0, first_at = 0, second_at = 0;
	struct fakenet n;

	/*
	 * Two bases on one IP: both pairs share a foundation, so the second
	 * stays frozen until the first succeeds (RFC 8445 §6.1.2.6), one
	 * round trip (100 ms here) later, not Ta (20 ms) later.
	 */
	fakenet_init(&n);
	n.latency_ms = 50;
	n.nodes[1].lan = 0;
	assert_int_equal(fakenet_add_agent(&n, 0, &c0, h0, 2), 0);
	assert_int_equal(fakenet_add_agent(&n, 1, &c1, &h1, 1), 0);
	fakenet_exchange_credentials(&n);
	t0 = n.now;
	fakenet_start(&n);
	assert_true(fakenet_run(&n, t0 + 5000, fakenet_both_selected, NULL));
	fakenet_run_until(&n, n.now + 500);
	for (size_t i = 0; i < n.n_log; i++) {
		const struct fakenet_sent *s = &n.log[i];

		if (s->node != 0 || s->stun_type != BINDING_REQ)
			continue;
		if (!first_at)
			first_at = s->at;
		if (!second_at && addr_equal(&s->base, &second))
			second_at = s->at;
	}
	assert_true(second_at != 0);
	assert_true(second_at - first_at >= 2 * n.latency_ms);
	assert_true(
		addr_equal(&n.nodes[0].selected.base, &n.nodes[0].hosts[0]));
	fakenet_free(&n);
}

static void test_no_failure_before_end_of_candidates(void **state)
{
	struct ice_agent_config c = cfg_role(ICE_ROLE_CONTROLLING, 0);
	const char *h = "10.0.0.1:5000";
	struct ice_candidate rc;
	struct fakenet n;
	struct ice_agent *a;

	/* Trickle (RFC 8838 §8): more candidates may come; do not give up. */
	fakenet_init(&n);
	n.drop = drop_all;
	assert_int_equal(fakenet_add_agent(&n, 0, &c, &h, 1), 0);
	a = n.nodes[0].agent;
	ice_agent_set_remote_credentials(a, "abcd", "0123456789012345678901",
					 n.now);
	memset(&rc, 0, sizeof(rc));
	rc.type = ICE_CAND_HOST;
	rc.component = 1;
	rc.priority = 2130706431;
	strcpy(rc.foundation, "1");
	rc.addr = fakenet_addr("10.0.0.2:6000");
	assert_int_equal(ice_agent_add_remote_candidate(a, &rc, n.now), 0);
	fakenet_start(&n);
	fakenet_run_until(&n, n.now + 60000);
	assert_int_equal(n.nodes[0].n_failed, 0);
	assert_int_equal(ice_agent_state(a), ICE_STATE_CHECKING);
	/* The peer's end-of-candidates: now every pair has failed. */
	ice_agent_remote_gathering_done(a, n.now);
	fakenet_run_until(&n, n.now + 10);
	assert_int_equal(n.nodes[0].n_failed, 1);
	assert_int_equal(ice_agent_state(a), ICE_STATE_FAILED);
	fakenet_free(&n);
}

static void test_prflx_learned(void **state)
{
	struct fakenet n;

	fakenet_init(&n);
	n.nodes[1].lan = 0;
	n.nodes[1].signal_candidates = false; /* node 0 learns from checks */
	setup2(&n, "10.0.0.1:5000", "10.0.0.2:6000", false);
	fakenet_exchange_credentials(&n);
	fakenet_start(&n);
	assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected, NULL));
	assert_int_equal(n.nodes[0].selected.remote.type, ICE_CAND_PRFLX);
	assert_true(addr_equal(&n.nodes[0].selected.remote.addr,
			       &n.nodes[1].hosts[0]));
	/* Its priority is the one the peer put in PRIORITY (§7.3.1.3). */
	assert_int_equal(n.nodes[0].selected.remote.priority >> 24,
			 ICE_TYPE_PREF_PRFLX);
	fakenet_free(&n);
}

static void test_caps(void **state)
{
	static const char *const hosts[] = {
		"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1",
		"10.0.0.5:1", "10.0.0.6:1", "10.0.0.7:1", "10.0.0.8:1",
	};
	struct ice_agent_config c = cfg_role(ICE_ROLE_CONTROLLING, 0);
	struct ice_candidate rc;
	struct fakenet n;
	struct ice_stats st;
	union sockaddr_any extra = fakenet_addr("10.0.0.9:1");

	fakenet_init(&n);
	n.drop = drop_all;
	assert_int_equal(fakenet_add_agent(&n, 0, &c, hosts, 8), 0);
	assert_int_equal(ice_agent_add_host(n.nodes[0].agent, &extra, 1, n.now),
			 -ENOSPC);
	assert_int_equal(ice_agent_add_host(n.nodes[0].agent,
					    &n.nodes[0].hosts[0], 1, n.now),
			 -EEXIST);
	assert_int_equal(ice_agent_set_remote_credentials(
				 n.nodes[0].agent, "abcd",
				 "0123456789012345678901", n.now),
			 0);
	fakenet_start(&n);
	memset(&rc, 0, sizeof(rc));
	rc.type = ICE_CAND_HOST;
	rc.component = 1;
	strcpy(rc.foundation, "1");
	for (int i = 0; i < 40; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.1.0.%d:9", i + 1);
		rc.addr = fakenet_addr(a);
		rc.priority = 1000 + (uint32_t)i;
		assert_int_equal(ice_agent_add_remote_candidate(
					 n.nodes[0].agent, &rc, n.now),
				 i < ICE_MAX_REMOTE ? 0 : -ENOSPC);
	}
	rc.component = 2;
	assert_int_equal(
		ice_agent_add_remote_candidate(n.nodes[0].agent, &rc, n.now),
		-EINVAL);
	/* Addresses a peer must not aim our checks at. */
	static const char *const bad[] = { "0.0.0.0:9",	  "10.0.0.1:0",
					   "224.0.0.1:9", "255.255.255.255:9",
					   "[::]:9",	  "[ff02::1]:9" };
	rc.component = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc.addr = fakenet_addr(bad[i]);
		assert_int_equal(ice_agent_add_remote_candidate(
					 n.nodes[0].agent, &rc, n.now),
				 -EINVAL);
	}
	fakenet_run_until(&n, n.now + 20000);
	assert_false(n.stuck);
	ice_agent_get_stats(n.nodes[0].agent, &st);
	assert_int_equal(st.remote, ICE_MAX_REMOTE);
	assert_int_equal(st.pairs, ICE_MAX_PAIRS);
	assert_true(st.memory > 0 && st.memory < 64 * 1024);
	/* Bad credentials refused at create. */
	struct ice_agent *x;
	struct ice_agent_callbacks cb = { .send = NULL };
	c.ufrag = "ab";
	assert_int_equal(ice_agent_create(&c, &cb, &x), -EINVAL);
	fakenet_free(&n);
}

static void test_description_lines(void **state)
{
	struct fakenet n;
	char line[ICE_LINE_MAX];
	struct ice_agent *a0, *a1;

	/* Node 1 learns node 0 only through RFC 8839 lines. */
	fakenet_init(&n);
	n.nodes[1].lan = 0;
	n.nodes[0].signal_candidates = false;
	setup2(&n, "10.0.0.1:5000", "10.0.0.2:6000", false);
	a0 = n.nodes[0].agent;
	a1 = n.nodes[1].agent;
	ice_agent_set_remote_credentials(a0, ice_agent_ufrag(a1),
					 ice_agent_pwd(a1), n.now);
	fakenet_start(&n);
	snprintf(line, sizeof(line), "a=ice-ufrag:%s", ice_agent_ufrag(a0));
	assert_int_equal(ice_agent_remote_line(a1, line, n.now), 0);
	snprintf(line, sizeof(line), "a=ice-pwd:%s\r\n", ice_agent_pwd(a0));
	assert_int_equal(ice_agent_remote_line(a1, line, n.now), 0);
	assert_int_equal(
		ice_agent_remote_line(a1, "a=ice-options:trickle", n.now), 0);
	assert_int_equal(n.nodes[0].n_candidates, 1);
	assert_true(ice_candidate_format(&n.nodes[0].cands[0], line,
					 sizeof(line)) > 0);
	assert_int_equal(ice_agent_remote_line(a1, line, n.now), 0);
	assert_int_equal(
		ice_agent_remote_line(a1, "a=end-of-candidates", n.now), 0);
	assert_int_equal(ice_agent_remote_line(a1, "a=candidate:x", n.now),
			 -EINVAL);
	assert_true(fakenet_run(&n, n.now + 5000, fakenet_both_selected, NULL));
	assert_int_equal(n.nodes[1].selected.remote.type, ICE_CAND_HOST);
	fakenet_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lan_host_pair),
		cmocka_unit_test(test_srflx_through_nats),
		cmocka_unit_test(test_srflx_retransmissions),
		cmocka_unit_test(test_pacing_retransmit_and_failure),
		cmocka_unit_test(test_role_conflicts),
		cmocka_unit_test(test_integrity_required),
		cmocka_unit_test(test_unknown_attributes),
		cmocka_unit_test(test_response_failures),
		cmocka_unit_test(test_consent_freshness),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_relay_then_direct),
		cmocka_unit_test(test_relay_recheck_after_failure),
		cmocka_unit_test(test_consent_loss_falls_back),
		cmocka_unit_test(test_remove_host_then_restart),
		cmocka_unit_test(test_selection_stops_lower_checks),
		cmocka_unit_test(test_foundation_freezing),
		cmocka_unit_test(test_no_failure_before_end_of_candidates),
		cmocka_unit_test(test_prflx_learned),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_description_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
