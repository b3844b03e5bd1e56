// SPDX-License-Identifier: MIT
/* Fake network, NATs, STUN server and clock for the ICE agent tests. */
#include "ice_fakenet.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ice/stun.h"

struct fakenet_pkt {
	uint64_t at;
	uint64_t seq;
	int from_node; /* -1: the STUN server */
	int from_lan;
	union sockaddr_any src, dst;
	size_t len;
	uint8_t buf[FAKENET_PKT_MAX];
};

struct fakenet_sig {
	uint64_t at;
	int to;
	bool eoc;
	struct ice_candidate cand;
};

union sockaddr_any fakenet_addr(const char *s)
{
	union sockaddr_any a;
	int err = addr_parse(s, 0, &a);

	assert(err == 0);
	(void)err;
	return a;
}

void fakenet_init(struct fakenet *n)
{
	memset(n, 0, sizeof(*n));
	n->now = 1000;
	n->latency_ms = 5;
	n->signal_delay_ms = 20;
	n->next_port = 30000;
	n->stun_server = fakenet_addr("203.0.113.100:3478");
	n->stun_up = true;
	n->pkts = calloc(FAKENET_MAX_PKTS, sizeof(*n->pkts));
	n->sigs = calloc(FAKENET_MAX_SIGNALS, sizeof(*n->sigs));
	assert(n->pkts && n->sigs);
	for (int i = 0; i < FAKENET_MAX_NODES; i++) {
		n->nodes[i].signal_candidates = true;
		n->nodes[i].lan = i;
		n->ctx[i].n = n;
		n->ctx[i].i = i;
	}
}

void fakenet_free(struct fakenet *n)
{
	for (int i = 0; i < FAKENET_MAX_NODES; i++)
		ice_agent_destroy(n->nodes[i].agent);
	free(n->pkts);
	free(n->sigs);
	memset(n, 0, sizeof(*n));
}

static void enqueue(struct fakenet *n, int from_node, int from_lan,
		    const union sockaddr_any *src,
		    const union sockaddr_any *dst, const uint8_t *buf,
		    size_t len)
{
	struct fakenet_pkt *p;

	if (n->n_pkts >= FAKENET_MAX_PKTS || len > FAKENET_PKT_MAX) {
		n->dropped++;
		return;
	}
	p = &n->pkts[n->n_pkts++];
	p->at = n->now + n->latency_ms;
	p->seq = ++n->seq;
	p->from_node = from_node;
	p->from_lan = from_lan;
	p->src = *src;
	p->dst = *dst;
	p->len = len;
	memcpy(p->buf, buf, len);
}

static bool is_lan_host(const struct fakenet *n, int lan,
			const union sockaddr_any *dst)
{
	for (int j = 0; j < FAKENET_MAX_NODES; j++) {
		const struct fakenet_node *d = &n->nodes[j];

		for (size_t k = 0; k < d->n_hosts; k++) {
			if (d->lan == lan && addr_equal(&d->hosts[k], dst))
				return true;
		}
	}
	return false;
}

static bool is_relay(const struct fakenet_node *d, const union sockaddr_any *a)
{
	for (size_t k = 0; k < d->n_relays; k++) {
		if (addr_equal(&d->relays[k], a))
			return true;
	}
	return false;
}

/* The NAT mapping of node i's base (created on first use). */
static struct fakenet_map *nat_map(struct fakenet *n, int i,
				   const union sockaddr_any *base)
{
	struct fakenet_map *m;

	for (size_t k = 0; k < n->n_maps; k++) {
		if (n->maps[k].node == i &&
		    addr_equal(&n->maps[k].inside, base))
			return &n->maps[k];
	}
	assert(n->n_maps < FAKENET_MAX_MAPS);
	m = &n->maps[n->n_maps++];
	memset(m, 0, sizeof(*m));
	m->node = i;
	m->inside = *base;
	m->outside = n->nodes[i].nat_ip;
	addr_set_port(&m->outside, n->next_port++);
	return m;
}

static void permit(struct fakenet_map *m, const union sockaddr_any *dst)
{
	for (size_t k = 0; k < m->n_permitted; k++) {
		if (addr_equal(&m->permitted[k], dst))
			return;
	}
	if (m->n_permitted < 16)
		m->permitted[m->n_permitted++] = *dst;
}

static void log_sent(struct fakenet *n, int i, const union sockaddr_any *base,
		     const union sockaddr_any *dst, const uint8_t *buf,
		     size_t len)
{
	struct fakenet_sent *s;
	struct stun_msg m;

	if (n->n_log >= FAKENET_MAX_LOG)
		return;
	s = &n->log[n->n_log];
	memset(s, 0, sizeof(*s));
	s->at = n->now;
	s->node = i;
	s->base = *base;
	s->dst = *dst;
	if (stun_msg_parse(&m, buf, len) == 0) {
		s->stun_type = m.type;
		s->use_candidate = stun_msg_has(&m, STUN_ATTR_USE_CANDIDATE);
		memcpy(s->tid, m.tid, sizeof(s->tid));
		for (size_t k = 0; k < n->n_log; k++) {
			if (n->log[k].node == i &&
			    n->log[k].stun_type == s->stun_type &&
			    memcmp(n->log[k].tid, s->tid, 12) == 0)
				s->retransmit = true;
		}
	}
	n->n_log++;
}

static void on_send(void *arg, const union sockaddr_any *base,
		    const union sockaddr_any *dst, const uint8_t *buf,
		    size_t len)
{
	struct fakenet_ctx *c = arg;
	struct fakenet *n = c->n;
	struct fakenet_node *me = &n->nodes[c->i];
	union sockaddr_any src = *base;

	log_sent(n, c->i, base, dst, buf, len);
	if (!is_relay(me, base) && me->nat && !is_lan_host(n, me->lan, dst)) {
		struct fakenet_map *m = nat_map(n, c->i, base);

		permit(m, dst);
		src = m->outside;
	}
	if (n->drop && n->drop(n, c->i, &src, dst, buf, len, n->drop_arg)) {
		n->dropped++;
		return;
	}
	enqueue(n, c->i, is_relay(me, base) ? -1 : me->lan, &src, dst, buf,
		len);
}

static void queue_signal(struct fakenet *n, int to, bool eoc,
			 const struct ice_candidate *c)
{
	struct fakenet_sig *s;

	assert(n->n_sigs < FAKENET_MAX_SIGNALS);
	s = &n->sigs[n->n_sigs++];
	memset(s, 0, sizeof(*s));
	s->at = n->now + n->signal_delay_ms;
	s->to = to;
	s->eoc = eoc;
	if (c)
		s->cand = *c;
}

static void on_event(void *arg, const struct ice_event *ev)
{
	struct fakenet_ctx *c = arg;
	struct fakenet *n = c->n;
	struct fakenet_node *me = &n->nodes[c->i];

	switch (ev->type) {
	case ICE_EVENT_CANDIDATE:
		if (me->n_candidates < 32)
			me->cands[me->n_candidates] = *ev->cand;
		me->n_candidates++;
		if (me->signal_candidates)
			queue_signal(n, 1 - c->i, false, ev->cand);
		break;
	case ICE_EVENT_GATHERING_DONE:
		me->n_gathering_done++;
		me->gathering_done_at = n->now;
		if (me->signal_candidates)
			queue_signal(n, 1 - c->i, true, NULL);
		break;
	case ICE_EVENT_SELECTED:
		me->n_selected++;
		if (ev->changed) {
			me->n_changed++;
			me->changed_at = n->now;
		} else {
			me->selected_at = n->now;
		}
		me->selected = *ev->pair;
		break;
	case ICE_EVENT_CONSENT_LOST:
		me->n_consent_lost++;
		me->consent_lost_at = n->now;
		break;
	case ICE_EVENT_FAILED:
		me->n_failed++;
		me->failed_at = n->now;
		break;
	}
}

int fakenet_add_agent(struct fakenet *n, int i,
		      const struct ice_agent_config *cfg,
		      const char *const *hosts, size_t n_hosts)
{
	struct ice_agent_callbacks cb = {
		.send = on_send,
		.event = on_event,
		.arg = &n->ctx[i],
	};
	struct fakenet_node *me = &n->nodes[i];
	int err = ice_agent_create(cfg, &cb, &me->agent);

	if (err)
		return err;
	for (size_t k = 0; k < n_hosts && k < 8; k++) {
		union sockaddr_any a = fakenet_addr(hosts[k]);

		me->hosts[me->n_hosts++] = a;
		err = ice_agent_add_host(
			me->agent, &a,
			ice_local_pref(0, (unsigned)k, a.sa.sa_family), n->now);
		if (err)
			return err;
	}
	return 0;
}

int fakenet_add_relay(struct fakenet *n, int i, const char *relayed)
{
	struct fakenet_node *me = &n->nodes[i];
	union sockaddr_any a = fakenet_addr(relayed);

	assert(me->n_relays < 4);
	me->relays[me->n_relays++] = a;
	return ice_agent_add_relay(me->agent, &a, &n->stun_server,
				   &me->hosts[0], n->now);
}

void fakenet_exchange_credentials(struct fakenet *n)
{
	struct ice_agent *a = n->nodes[0].agent, *b = n->nodes[1].agent;

	ice_agent_set_remote_credentials(a, ice_agent_ufrag(b),
					 ice_agent_pwd(b), n->now);
	ice_agent_set_remote_credentials(b, ice_agent_ufrag(a),
					 ice_agent_pwd(a), n->now);
}

void fakenet_start(struct fakenet *n)
{
	for (int i = 0; i < FAKENET_MAX_NODES; i++) {
		if (n->nodes[i].agent)
			ice_agent_start(n->nodes[i].agent, n->now);
	}
}

static void stun_server_answer(struct fakenet *n, const struct fakenet_pkt *p)
{
	struct stun_builder b;
	struct stun_msg m;
	uint8_t out[256];
	int len;

	if (!n->stun_up || stun_msg_parse(&m, p->buf, p->len) != 0 ||
	    m.cls != STUN_CLASS_REQUEST || m.method != STUN_METHOD_BINDING)
		return;
	if (n->stun_requests++ < n->stun_drop_first)
		return;
	stun_builder_init(
		&b, out, sizeof(out),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), m.tid);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &p->src);
	stun_builder_add_fingerprint(&b);
	len = stun_builder_finish(&b);
	assert(len > 0);
	enqueue(n, -1, -1, &n->stun_server, &p->src, out, (size_t)len);
}

static void deliver_to(struct fakenet *n, int j, const union sockaddr_any *base,
		       const struct fakenet_pkt *p)
{
	int r = ice_agent_recv(n->nodes[j].agent, base, &p->src, p->buf, p->len,
			       n->now);

	if (r == -ENOMSG)
		n->nodes[j].data_received++;
}

static void deliver(struct fakenet *n, const struct fakenet_pkt *p)
{
	if (addr_equal(&p->dst, &n->stun_server)) {
		stun_server_answer(n, p);
		return;
	}
	for (int j = 0; j < FAKENET_MAX_NODES; j++) {
		struct fakenet_node *d = &n->nodes[j];

		if (!d->agent)
			continue;
		if (is_relay(d, &p->dst)) {
			deliver_to(n, j, &p->dst, p);
			return;
		}
		for (size_t k = 0; k < d->n_hosts; k++) {
			if (!addr_equal(&d->hosts[k], &p->dst))
				continue;
			if (d->nat && p->from_lan != d->lan)
				break; /* private address, other network */
			deliver_to(n, j, &p->dst, p);
			return;
		}
	}
	for (size_t k = 0; k < n->n_maps; k++) {
		struct fakenet_map *m = &n->maps[k];

		if (!addr_equal(&m->outside, &p->dst))
			continue;
		for (size_t q = 0; q < m->n_permitted; q++) {
			if (addr_equal(&m->permitted[q], &p->src)) {
				deliver_to(n, m->node, &m->inside, p);
				return;
			}
		}
	}
	n->dropped++;
}

void fakenet_inject(struct fakenet *n, int i, const union sockaddr_any *base,
		    const union sockaddr_any *src, const uint8_t *buf,
		    size_t len)
{
	ice_agent_recv(n->nodes[i].agent, base, src, buf, len, n->now);
}

static uint64_t next_event(const struct fakenet *n)
{
	uint64_t t = UINT64_MAX;

	for (size_t k = 0; k < n->n_pkts; k++)
		t = n->pkts[k].at < t ? n->pkts[k].at : t;
	for (size_t k = 0; k < n->n_sigs; k++)
		t = n->sigs[k].at < t ? n->sigs[k].at : t;
	for (int i = 0; i < FAKENET_MAX_NODES; i++) {
		uint64_t d;

		if (!n->nodes[i].agent)
			continue;
		d = ice_agent_next_deadline(n->nodes[i].agent);
		t = d < t ? d : t;
	}
	return t;
}

static bool step(struct fakenet *n)
{
	bool did = false;

	/* Packets in order of arrival. */
	for (;;) {
		size_t best = SIZE_MAX;
		struct fakenet_pkt p;

		for (size_t k = 0; k < n->n_pkts; k++) {
			if (n->pkts[k].at <= n->now &&
			    (best == SIZE_MAX ||
			     n->pkts[k].seq < n->pkts[best].seq))
				best = k;
		}
		if (best == SIZE_MAX)
			break;
		p = n->pkts[best];
		n->pkts[best] = n->pkts[--n->n_pkts];
		deliver(n, &p);
		did = true;
	}
	for (size_t k = 0; k < n->n_sigs;) {
		struct fakenet_sig s = n->sigs[k];
		struct ice_agent *a;

		if (s.at > n->now) {
			k++;
			continue;
		}
		memmove(&n->sigs[k], &n->sigs[k + 1],
			(n->n_sigs - k - 1) * sizeof(s));
		n->n_sigs--;
		a = n->nodes[s.to].agent;
		if (!a)
			continue;
		if (s.eoc)
			ice_agent_remote_gathering_done(a, n->now);
		else
			ice_agent_add_remote_candidate(a, &s.cand, n->now);
		did = true;
	}
	for (int i = 0; i < FAKENET_MAX_NODES; i++) {
		struct ice_agent *a = n->nodes[i].agent;

		if (a && ice_agent_next_deadline(a) <= n->now) {
			ice_agent_tick(a, n->now);
			did = true;
		}
	}
	return did;
}

bool fakenet_run(struct fakenet *n, uint64_t until,
		 bool (*done)(struct fakenet *n, void *arg), void *arg)
{
	unsigned spins = 0;

	for (;;) {
		uint64_t t;

		if (done && done(n, arg))
			return true;
		t = next_event(n);
		if (t > until) {
			n->now = until;
			return done ? done(n, arg) : false;
		}
		if (t > n->now) {
			n->now = t;
			spins = 0;
		} else if (++spins > 10000) {
			n->stuck = true; /* a deadline that never moves on */
			return false;
		}
		step(n);
	}
}

void fakenet_run_until(struct fakenet *n, uint64_t t)
{
	fakenet_run(n, t, NULL, NULL);
}

bool fakenet_both_selected(struct fakenet *n, void *arg)
{
	(void)arg;
	return n->nodes[0].n_selected && n->nodes[1].n_selected;
}

bool fakenet_both_gathered(struct fakenet *n, void *arg)
{
	(void)arg;
	return n->nodes[0].n_gathering_done && n->nodes[1].n_gathering_done;
}
