// SPDX-License-Identifier: MIT
/*
 * ICE agent (RFC 8445) core: gathering (srflx), checklist, nomination,
 * consent freshness (RFC 7675), restart. No sockets, no clock.
 */
#include "ice/ice_agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ice/stun.h"

#define TOPIC "ice"

enum pair_state {
	PAIR_FROZEN,
	PAIR_WAITING,
	PAIR_IN_PROGRESS,
	PAIR_SUCCEEDED,
	PAIR_FAILED,
};

static const char *const pair_state_names[] = {
	"frozen", "waiting", "in-progress", "succeeded", "failed",
};

enum { MSG_MAX = 1024 };

/* One STUN client transaction (RFC 8489 §6.2.1 timing). */
struct tx {
	uint8_t tid[STUN_TID_LEN];
	bool active;
	uint8_t sent; /* transmissions so far */
	uint8_t max_tx;
	uint32_t rto; /* current interval */
	uint32_t rto_cap;
	uint32_t last_wait; /* wait after the last transmission */
	uint64_t first; /* first transmission */
	uint64_t last; /* latest transmission */
	uint64_t next; /* next retransmission or timeout */
};

struct base {
	union sockaddr_any addr;
	uint16_t local_pref;
	bool relay;
	bool gone; /* removed; its slot is reclaimed at the next restart */
	int local; /* index of its host/relay local candidate */
};

struct local {
	struct ice_candidate c;
	int base;
};

struct remote {
	struct ice_candidate c;
	bool reached; /* some check to or from it succeeded */
};

/* Server-reflexive gathering: one Binding per (base, server). */
struct srflx {
	int base;
	int server;
	struct tx tx;
	bool done;
	bool answered;
};

struct pair {
	bool used;
	int local; /* base's local candidate (host or relay) */
	int remote;
	enum pair_state state;
	uint64_t prio;
	struct tx tx;
	bool use_cand; /* our in-flight check carries USE-CANDIDATE */
	bool nominated; /* nomination completed for this pair */
	bool peer_nominated; /* peer sent USE-CANDIDATE (we are controlled) */
	bool valid;
	bool consent; /* tx is a consent check */
	enum ice_role sent_role; /* role our last check was sent in */
	uint64_t trig_seq; /* >0: in the triggered-check queue */
	int mapped_local; /* local candidate the peer saw, -1 until known */
	uint32_t rtt;
	uint64_t last_ok; /* last authenticated success response */
	const char *why; /* last failure reason */
};

struct ice_agent {
	struct ice_agent_config cfg;
	struct ice_agent_callbacks cb;
	enum ice_state state;
	enum ice_role role;
	uint64_t tie;
	bool started;
	char ufrag[ICE_CRED_MAX + 1];
	char pwd[ICE_CRED_MAX + 1];
	char rufrag[ICE_CRED_MAX + 1];
	char rpwd[ICE_CRED_MAX + 1];
	bool have_remote_cred;
	bool remote_done;
	bool gathering_done;

	struct base bases[ICE_MAX_BASES];
	size_t n_bases;
	struct local locals[ICE_MAX_LOCAL];
	size_t n_locals;
	struct remote remotes[ICE_MAX_REMOTE];
	size_t n_remotes;
	struct srflx srflx[ICE_MAX_BASES * ICE_MAX_STUN_SERVERS];
	size_t n_srflx;
	struct pair pairs[ICE_MAX_PAIRS];

	uint64_t next_check; /* Ta pacing */
	uint64_t trig_counter;
	uint64_t nominate_at; /* controlling: when to nominate; 0 none */
	int selected; /* pair index, -1 none */
	uint64_t next_consent;
	uint64_t next_recheck; /* while relayed: retry failed direct pairs */
	struct ice_pair_info kept; /* selected pair kept across restart */
	bool have_kept;
	struct ice_stats st;
};

/* ------------------------------------------------------------ helpers */

static void random_chars(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i++)
		out[i] = set[randombytes_uniform(sizeof(set) - 1)];
	out[n] = '\0';
}

static void emit(struct ice_agent *a, const struct ice_event *ev)
{
	if (a->cb.event)
		a->cb.event(a->cb.arg, ev);
}

static bool is_relay_pair(const struct ice_agent *a, const struct pair *p)
{
	return a->locals[p->local].c.type == ICE_CAND_RELAY ||
	       a->remotes[p->remote].c.type == ICE_CAND_RELAY;
}

/* RFC 8445 §6.1.2.3 */
static uint64_t pair_priority(const struct ice_agent *a, const struct pair *p)
{
	uint64_t l = a->locals[p->local].c.priority;
	uint64_t r = a->remotes[p->remote].c.priority;
	uint64_t g = a->role == ICE_ROLE_CONTROLLING ? l : r;
	uint64_t d = a->role == ICE_ROLE_CONTROLLING ? r : l;

	return (1ull << 32) * (g < d ? g : d) + 2 * (g > d ? g : d) +
	       (g > d ? 1 : 0);
}

static void reprioritise(struct ice_agent *a)
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		if (a->pairs[i].used)
			a->pairs[i].prio = pair_priority(a, &a->pairs[i]);
	}
}

static void pair_info(const struct ice_agent *a, const struct pair *p,
		      struct ice_pair_info *out)
{
	int l = p->mapped_local >= 0 ? p->mapped_local : p->local;

	memset(out, 0, sizeof(*out));
	out->local = a->locals[l].c;
	out->base = a->bases[a->locals[p->local].base].addr;
	out->remote = a->remotes[p->remote].c;
	out->rtt_ms = p->rtt;
	out->priority = p->prio;
}

static bool same_foundation(const struct ice_agent *a, const struct pair *x,
			    const struct pair *y)
{
	return strcmp(a->locals[x->local].c.foundation,
		      a->locals[y->local].c.foundation) == 0 &&
	       strcmp(a->remotes[x->remote].c.foundation,
		      a->remotes[y->remote].c.foundation) == 0;
}

static int find_base(const struct ice_agent *a, const union sockaddr_any *addr)
{
	for (size_t i = 0; i < a->n_bases; i++) {
		if (!a->bases[i].gone && addr_equal(&a->bases[i].addr, addr))
			return (int)i;
	}
	return -1;
}

static int find_local(const struct ice_agent *a, const union sockaddr_any *addr)
{
	for (size_t i = 0; i < a->n_locals; i++) {
		if (addr_equal(&a->locals[i].c.addr, addr))
			return (int)i;
	}
	return -1;
}

static int find_remote(const struct ice_agent *a,
		       const union sockaddr_any *addr)
{
	for (size_t i = 0; i < a->n_remotes; i++) {
		if (addr_equal(&a->remotes[i].c.addr, addr))
			return (int)i;
	}
	return -1;
}

static int find_pair(const struct ice_agent *a, int local, int remote)
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (p->used && p->local == local && p->remote == remote)
			return i;
	}
	return -1;
}

/* ------------------------------------------------------------ transactions */

static void tx_start(struct tx *t, uint32_t rto, uint32_t cap, uint8_t max_tx,
		     uint32_t last_wait, uint64_t now)
{
	stun_tid_random(t->tid);
	t->active = true;
	t->sent = 1;
	t->max_tx = max_tx;
	t->rto = rto;
	t->rto_cap = cap;
	t->last_wait = last_wait;
	t->first = now;
	t->last = now;
	t->next = now + (max_tx <= 1 ? last_wait : rto);
}

/*
 * Due at now: returns 1 to retransmit, -ETIMEDOUT when the transaction
 * gave up, 0 when nothing is due.
 */
static int tx_due(struct tx *t, uint64_t now)
{
	if (!t->active || now < t->next)
		return 0;
	if (t->sent >= t->max_tx) {
		t->active = false;
		return -ETIMEDOUT;
	}
	t->sent++;
	if (t->rto < t->rto_cap)
		t->rto = t->rto * 2 > t->rto_cap ? t->rto_cap : t->rto * 2;
	t->last = now;
	t->next = now + (t->sent >= t->max_tx ? t->last_wait : t->rto);
	return 1;
}

/* ------------------------------------------------------------ messages */

static void send_msg(struct ice_agent *a, int base,
		     const union sockaddr_any *dst, const uint8_t *buf,
		     size_t len)
{
	a->cb.send(a->cb.arg, &a->bases[base].addr, dst, buf, len);
}

static void send_server_binding(struct ice_agent *a, const struct srflx *s)
{
	struct stun_builder b;
	uint8_t buf[MSG_MAX];
	int n;

	stun_builder_init(
		&b, buf, sizeof(buf),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST),
		s->tx.tid);
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	if (n > 0)
		send_msg(a, s->base, &a->cfg.stun_servers[s->server], buf,
			 (size_t)n);
}

/* A connectivity or consent check on pair p (RFC 8445 §7.2.2). */
static void send_check(struct ice_agent *a, struct pair *p)
{
	const struct local *l = &a->locals[p->local];
	struct stun_builder b;
	char user[2 * ICE_CRED_MAX + 2];
	uint8_t buf[MSG_MAX];
	uint32_t prio;
	int n;

	/* PRIORITY: as if the check found a prflx candidate (§7.2.2). */
	prio = ice_priority(l->c.type == ICE_CAND_RELAY ? ICE_CAND_RELAY
							: ICE_CAND_PRFLX,
			    a->bases[l->base].local_pref, ICE_COMPONENT);
	snprintf(user, sizeof(user), "%s:%s", a->rufrag, a->ufrag);
	stun_builder_init(
		&b, buf, sizeof(buf),
		stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST),
		p->tx.tid);
	stun_builder_add_string(&b, STUN_ATTR_USERNAME, user);
	stun_builder_add_u32(&b, STUN_ATTR_PRIORITY, prio);
	p->sent_role = a->role;
	if (a->role == ICE_ROLE_CONTROLLING) {
		stun_builder_add_u64(&b, STUN_ATTR_ICE_CONTROLLING, a->tie);
		if (p->use_cand)
			stun_builder_add_flag(&b, STUN_ATTR_USE_CANDIDATE);
	} else {
		stun_builder_add_u64(&b, STUN_ATTR_ICE_CONTROLLED, a->tie);
	}
	stun_builder_add_message_integrity(&b, (const uint8_t *)a->rpwd,
					   strlen(a->rpwd));
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	sodium_memzero(user, sizeof(user));
	if (n > 0)
		send_msg(a, l->base, &a->remotes[p->remote].c.addr, buf,
			 (size_t)n);
}

/*
 * Success or error response to a check (RFC 8445 §7.3.1.4): error 0 for
 * success, 487 (role conflict), or 420 with the request's unknown
 * comprehension-required types in m->unknown[] (RFC 8489 §6.3.1.1).
 */
static void send_response(struct ice_agent *a, int base,
			  const union sockaddr_any *src,
			  const struct stun_msg *m, int error)
{
	struct stun_builder b;
	uint8_t buf[MSG_MAX];
	int n;

	stun_builder_init(
		&b, buf, sizeof(buf),
		stun_msg_type(STUN_METHOD_BINDING,
			      error ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS),
		m->tid);
	if (error == STUN_ERR_UNKNOWN_ATTRIBUTE) {
		stun_builder_add_error(&b, error, "Unknown Attribute");
		stun_builder_add_unknown_attrs(&b, m->unknown,
					       m->unknown_count);
	} else if (error) {
		stun_builder_add_error(&b, error, "Role Conflict");
	} else {
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
					  src);
	}
	stun_builder_add_message_integrity(&b, (const uint8_t *)a->pwd,
					   strlen(a->pwd));
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	if (n > 0) {
		a->st.responses_sent++;
		send_msg(a, base, src, buf, (size_t)n);
	}
}

/* ------------------------------------------------------------ checklist */

static uint32_t check_rto(const struct ice_agent *a)
{
	uint32_t n = 0, rto;

	/* RFC 8445 §14.3: MAX(500 ms, Ta * (waiting + in-progress)). */
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		n += p->used &&
		     (p->state == PAIR_WAITING || p->state == PAIR_IN_PROGRESS);
	}
	rto = a->cfg.ta_ms * n;
	return rto > a->cfg.check_rto_ms ? rto : a->cfg.check_rto_ms;
}

static void start_check(struct ice_agent *a, struct pair *p, uint64_t now)
{
	uint32_t rto = check_rto(a);
	uint32_t cap = rto > ICE_CHECK_RTO_CAP_MS ? rto : ICE_CHECK_RTO_CAP_MS;

	tx_start(&p->tx, rto, cap, (uint8_t)a->cfg.check_max_tx, cap, now);
	p->state = PAIR_IN_PROGRESS;
	p->consent = false;
	p->trig_seq = 0;
	a->st.checks_sent++;
	send_check(a, p);
}

/* Put a pair in the triggered-check queue (RFC 8445 §7.3.1.4). */
static void trigger(struct ice_agent *a, struct pair *p, uint64_t now)
{
	if (p->state == PAIR_SUCCEEDED && !p->use_cand)
		return;
	if (p->state == PAIR_IN_PROGRESS) {
		/* Resend now with the same transaction (§7.3.1.4 allows). */
		if (p->tx.active && !p->consent && p->tx.sent < p->tx.max_tx) {
			p->tx.next = now;
			a->st.triggered++;
		}
		return;
	}
	if (p->state != PAIR_SUCCEEDED)
		p->state = PAIR_WAITING;
	if (!p->trig_seq) {
		p->trig_seq = ++a->trig_counter;
		a->st.triggered++;
	}
	if (a->next_check > now)
		a->next_check = now; /* a triggered check does not wait Ta */
}

static bool foundation_active(const struct ice_agent *a, const struct pair *p)
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *q = &a->pairs[i];

		if (q != p && q->used &&
		    (q->state == PAIR_WAITING ||
		     q->state == PAIR_IN_PROGRESS) &&
		    same_foundation(a, p, q))
			return true;
	}
	return false;
}

/* Lowest-priority pair that may be replaced by one of priority prio. */
static int evictable(const struct ice_agent *a, uint64_t prio)
{
	int victim = -1;

	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (!p->used)
			return i;
		if (p->valid || p->state == PAIR_IN_PROGRESS || p->trig_seq ||
		    i == a->selected || p->prio >= prio)
			continue;
		if (victim < 0 || p->prio < a->pairs[victim].prio)
			victim = i;
	}
	return victim;
}

/* Add the pair (local base candidate, remote) if new; its index or -1. */
static int add_pair(struct ice_agent *a, int local, int remote)
{
	struct pair np, *p;
	int i = find_pair(a, local, remote);

	if (i >= 0)
		return i;
	if (a->locals[local].c.addr.sa.sa_family !=
	    a->remotes[remote].c.addr.sa.sa_family)
		return -1;
	memset(&np, 0, sizeof(np));
	np.used = true;
	np.local = local;
	np.remote = remote;
	np.mapped_local = -1;
	np.prio = pair_priority(a, &np);
	i = evictable(a, np.prio);
	if (i < 0)
		return -1;
	p = &a->pairs[i];
	*p = np;
	/* Freeze behind a pair of the same foundation (§6.1.2.6). */
	p->state = foundation_active(a, p) ? PAIR_FROZEN : PAIR_WAITING;
	a->st.pairs = 0;
	for (int k = 0; k < ICE_MAX_PAIRS; k++)
		a->st.pairs += a->pairs[k].used;
	return i;
}

/* Pair a new remote with every base, or a new base with every remote. */
static void pair_remote(struct ice_agent *a, int remote)
{
	for (size_t b = 0; b < a->n_bases; b++) {
		if (!a->bases[b].gone)
			add_pair(a, a->bases[b].local, remote);
	}
}

static void pair_base(struct ice_agent *a, int base)
{
	for (size_t r = 0; r < a->n_remotes; r++)
		add_pair(a, a->bases[base].local, (int)r);
}

/* Selected pair's successor check: is there anything worth checking? */
static bool checking_wanted(const struct ice_agent *a, const struct pair *p)
{
	if (a->selected < 0)
		return true;
	/* After selection, only better pairs while on a relay (renomination). */
	return is_relay_pair(a, &a->pairs[a->selected]) &&
	       !is_relay_pair(a, p) && p->prio > a->pairs[a->selected].prio;
}

static struct pair *next_to_check(struct ice_agent *a)
{
	struct pair *best = NULL;

	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (p->used && p->trig_seq &&
		    (!best || p->trig_seq < best->trig_seq))
			best = p;
	}
	if (best)
		return best;
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (p->used && p->state == PAIR_WAITING &&
		    checking_wanted(a, p) && (!best || p->prio > best->prio))
			best = p;
	}
	if (best)
		return best;
	/* Nothing waiting: unfreeze the best frozen pair (§6.1.4.2). */
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (p->used && p->state == PAIR_FROZEN &&
		    checking_wanted(a, p) && !foundation_active(a, p) &&
		    (!best || p->prio > best->prio))
			best = p;
	}
	return best;
}

static void run_checks(struct ice_agent *a, uint64_t now)
{
	struct pair *p;

	if (!a->started || !a->have_remote_cred || now < a->next_check ||
	    a->state == ICE_STATE_FAILED)
		return;
	p = next_to_check(a);
	if (!p) {
		/* Frozen pairs wait on their foundation: look again after Ta. */
		a->next_check = now + a->cfg.ta_ms;
		return;
	}
	start_check(a, p, now);
	a->next_check = now + a->cfg.ta_ms;
}

/* ------------------------------------------------------------ selection */

/*
 * RFC 8445 §8.1.2: once a pair is selected, checks on lower-priority pairs
 * stop retransmitting. They go back to waiting (not failed) so that, if
 * consent is lost later, they are checked again before the agent gives up.
 */
static void stop_lower_checks(struct ice_agent *a, int sel)
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (i == sel || !p->used || p->prio >= a->pairs[sel].prio ||
		    p->state != PAIR_IN_PROGRESS || p->consent)
			continue;
		p->tx.active = false;
		p->use_cand = false;
		p->trig_seq = 0;
		p->state = PAIR_WAITING;
	}
}

static void select_pair(struct ice_agent *a, int i, uint64_t now)
{
	struct ice_pair_info info;
	struct ice_event ev = { .type = ICE_EVENT_SELECTED };
	bool changed = a->selected >= 0 || a->have_kept;

	/*
	 * Once selected, only a better pair replaces it: renomination only
	 * ever moves up (off a relay), and a late retransmission of an old
	 * nomination must not move us back.
	 */
	if (a->selected == i ||
	    (a->selected >= 0 &&
	     a->pairs[i].prio <= a->pairs[a->selected].prio))
		return;
	a->selected = i;
	a->have_kept = false;
	a->pairs[i].nominated = true;
	a->pairs[i].last_ok = now;
	a->state = ICE_STATE_CONNECTED;
	a->nominate_at = 0;
	a->next_consent = now + a->cfg.consent_interval_ms;
	a->next_recheck =
		is_relay_pair(a, &a->pairs[i]) ? now + a->cfg.recheck_ms : 0;
	stop_lower_checks(a, i);
	pair_info(a, &a->pairs[i], &info);
	ev.pair = &info;
	ev.changed = changed;
	emit(a, &ev);
}

/* Controlling: the best valid pair, or -1. */
static int best_valid(const struct ice_agent *a)
{
	int best = -1;

	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (p->used && p->valid &&
		    (best < 0 || p->prio > a->pairs[best].prio))
			best = i;
	}
	return best;
}

/* True if a pair better than prio may still succeed. */
static bool better_pending(const struct ice_agent *a, uint64_t prio)
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (p->used && p->prio > prio &&
		    (p->state == PAIR_WAITING || p->state == PAIR_FROZEN ||
		     p->state == PAIR_IN_PROGRESS))
			return true;
	}
	return false;
}

/* Regular nomination (RFC 8445 §8.1.1), and renomination off a relay. */
static void maybe_nominate(struct ice_agent *a, uint64_t now)
{
	int b;
	struct pair *p;

	if (a->role != ICE_ROLE_CONTROLLING || !a->nominate_at)
		return;
	b = best_valid(a);
	if (b < 0) {
		a->nominate_at = 0;
		return;
	}
	p = &a->pairs[b];
	if (now < a->nominate_at && better_pending(a, p->prio))
		return;
	a->nominate_at = 0;
	if (b == a->selected || p->use_cand)
		return;
	if (a->selected >= 0 && !checking_wanted(a, p))
		return;
	p->use_cand = true;
	p->state = PAIR_WAITING;
	trigger(a, p, now);
}

/* ------------------------------------------------------------ gathering */

static int add_local(struct ice_agent *a, const struct ice_candidate *c,
		     int base)
{
	if (a->n_locals >= ICE_MAX_LOCAL)
		return -ENOSPC;
	a->locals[a->n_locals].c = *c;
	a->locals[a->n_locals].base = base;
	a->st.local = (uint32_t)++a->n_locals;
	return (int)a->n_locals - 1;
}

static void report_local(struct ice_agent *a, int l)
{
	struct ice_event ev = { .type = ICE_EVENT_CANDIDATE };

	if (a->locals[l].c.type == ICE_CAND_PRFLX)
		return; /* learned from checks, never signalled (§7.2.5.3.1) */
	ev.cand = &a->locals[l].c;
	emit(a, &ev);
}

static void check_gathering_done(struct ice_agent *a)
{
	struct ice_event ev = { .type = ICE_EVENT_GATHERING_DONE };

	if (a->gathering_done || !a->started)
		return;
	for (size_t i = 0; i < a->n_srflx; i++) {
		if (!a->srflx[i].done)
			return;
	}
	a->gathering_done = true;
	emit(a, &ev);
}

static int add_base(struct ice_agent *a, const union sockaddr_any *addr,
		    uint16_t local_pref, enum ice_cand_type type,
		    const union sockaddr_any *server,
		    const union sockaddr_any *mapped)
{
	struct ice_candidate c;
	struct base *b;
	int l;

	if (addr->sa.sa_family != AF_INET && addr->sa.sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (find_base(a, addr) >= 0)
		return -EEXIST;
	if (a->n_bases >= ICE_MAX_BASES || a->n_locals >= ICE_MAX_LOCAL)
		return -ENOSPC;
	memset(&c, 0, sizeof(c));
	c.type = type;
	c.component = ICE_COMPONENT;
	c.priority = ice_priority(type, local_pref, ICE_COMPONENT);
	c.addr = *addr;
	if (mapped) {
		c.related = *mapped;
		c.has_related = true;
	}
	ice_foundation(type, addr, server, c.foundation);
	b = &a->bases[a->n_bases];
	b->addr = *addr;
	b->local_pref = local_pref;
	b->relay = type == ICE_CAND_RELAY;
	l = add_local(a, &c, (int)a->n_bases);
	b->local = l;
	a->n_bases++;
	if (a->started) {
		report_local(a, l);
		pair_base(a, (int)a->n_bases - 1);
	}
	return 0;
}

int ice_agent_add_host(struct ice_agent *a, const union sockaddr_any *addr,
		       uint16_t local_pref, uint64_t now)
{
	(void)now;
	return add_base(a, addr, local_pref, ICE_CAND_HOST, NULL, NULL);
}

int ice_agent_add_relay(struct ice_agent *a, const union sockaddr_any *relayed,
			const union sockaddr_any *server,
			const union sockaddr_any *mapped, uint64_t now)
{
	(void)now;
	if (!server)
		return -EINVAL;
	if (mapped && !addr_len(mapped))
		mapped = NULL;
	/* Relayed local preference: the family's, like a host (§5.1.2.1). */
	return add_base(a, relayed, ice_local_pref(0, 0, relayed->sa.sa_family),
			ICE_CAND_RELAY, server, mapped);
}

static void start_srflx(struct ice_agent *a, uint64_t now)
{
	a->n_srflx = 0;
	for (size_t b = 0; b < a->n_bases; b++) {
		if (a->bases[b].relay || a->bases[b].gone)
			continue;
		for (size_t s = 0; s < a->cfg.n_stun_servers; s++) {
			struct srflx *x = &a->srflx[a->n_srflx];

			if (a->cfg.stun_servers[s].sa.sa_family !=
			    a->bases[b].addr.sa.sa_family)
				continue;
			memset(x, 0, sizeof(*x));
			x->base = (int)b;
			x->server = (int)s;
			tx_start(&x->tx, a->cfg.stun_rto_ms, UINT32_MAX,
				 (uint8_t)a->cfg.stun_max_tx,
				 a->cfg.stun_rto_ms * ICE_STUN_RM, now);
			send_server_binding(a, x);
			a->n_srflx++;
		}
	}
}

int ice_agent_start(struct ice_agent *a, uint64_t now)
{
	if (a->started)
		return -EALREADY;
	a->started = true;
	a->state = ICE_STATE_CHECKING;
	for (size_t i = 0; i < a->n_locals; i++)
		report_local(a, (int)i);
	start_srflx(a, now);
	for (size_t r = 0; r < a->n_remotes; r++)
		pair_remote(a, (int)r);
	a->next_check = now;
	check_gathering_done(a);
	return 0;
}

static void srflx_response(struct ice_agent *a, struct srflx *x,
			   const struct stun_msg *m)
{
	union sockaddr_any mapped;
	struct ice_candidate c;
	const struct base *b = &a->bases[x->base];
	int l;

	x->done = true;
	x->answered = true;
	x->tx.active = false;
	if (m->cls != STUN_CLASS_SUCCESS ||
	    stun_msg_get_xor_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped))
		goto out;
	/* Same as the host, or already known: redundant (§5.1.3). */
	if (find_local(a, &mapped) >= 0)
		goto out;
	memset(&c, 0, sizeof(c));
	c.type = ICE_CAND_SRFLX;
	c.component = ICE_COMPONENT;
	c.priority = ice_priority(ICE_CAND_SRFLX, b->local_pref, ICE_COMPONENT);
	c.addr = mapped;
	c.related = b->addr;
	c.has_related = true;
	ice_foundation(ICE_CAND_SRFLX, &b->addr,
		       &a->cfg.stun_servers[x->server], c.foundation);
	l = add_local(a, &c, x->base);
	if (l >= 0)
		report_local(a, l);
out:
	check_gathering_done(a);
}

/* ------------------------------------------------------------ remote side */

int ice_agent_set_remote_credentials(struct ice_agent *a, const char *ufrag,
				     const char *pwd, uint64_t now)
{
	if (!ice_chars_valid(ufrag, ICE_UFRAG_MIN, ICE_CRED_MAX) ||
	    !ice_chars_valid(pwd, ICE_PWD_MIN, ICE_CRED_MAX))
		return -EINVAL;
	memcpy(a->rufrag, ufrag, strlen(ufrag) + 1);
	memcpy(a->rpwd, pwd, strlen(pwd) + 1);
	a->have_remote_cred = true;
	if (a->next_check > now)
		a->next_check = now;
	return 0;
}

static int add_remote(struct ice_agent *a, const struct ice_candidate *c)
{
	int r = find_remote(a, &c->addr);

	if (r >= 0) {
		/* A signalled candidate replaces a prflx one (§7.3.1.3). */
		if (a->remotes[r].c.type == ICE_CAND_PRFLX &&
		    c->type != ICE_CAND_PRFLX) {
			a->remotes[r].c.type = c->type;
			memcpy(a->remotes[r].c.foundation, c->foundation,
			       sizeof(c->foundation));
		}
		return r;
	}
	if (a->n_remotes >= ICE_MAX_REMOTE)
		return -ENOSPC;
	a->remotes[a->n_remotes].c = *c;
	a->remotes[a->n_remotes].reached = false;
	a->st.remote = (uint32_t)++a->n_remotes;
	return (int)a->n_remotes - 1;
}

/*
 * Addresses no check should ever go to: unspecified, port 0, multicast,
 * broadcast. A peer must not aim our checks at them.
 */
static bool remote_addr_ok(const union sockaddr_any *a)
{
	static const uint8_t zero[16];

	if (!addr_port(a))
		return false;
	if (a->sa.sa_family == AF_INET) {
		uint32_t ip = ntohl(a->in4.sin_addr.s_addr);

		return ip != 0 && (ip >> 28) != 0xe && ip != 0xffffffffu;
	}
	return memcmp(&a->in6.sin6_addr, zero, 16) != 0 &&
	       a->in6.sin6_addr.s6_addr[0] != 0xff;
}

int ice_agent_add_remote_candidate(struct ice_agent *a,
				   const struct ice_candidate *c, uint64_t now)
{
	int r;

	if (c->component != ICE_COMPONENT)
		return -EINVAL;
	if (c->addr.sa.sa_family != AF_INET && c->addr.sa.sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!remote_addr_ok(&c->addr))
		return -EINVAL;
	r = add_remote(a, c);
	if (r < 0)
		return r;
	if (a->started)
		pair_remote(a, r);
	if (a->next_check > now + a->cfg.ta_ms)
		a->next_check = now;
	return 0;
}

static void fail_if_done(struct ice_agent *a);

void ice_agent_remote_gathering_done(struct ice_agent *a, uint64_t now)
{
	(void)now;
	a->remote_done = true;
	/* Every pair may have failed already: nothing else would tell. */
	fail_if_done(a);
}

int ice_agent_remote_line(struct ice_agent *a, const char *line, uint64_t now)
{
	struct ice_sdp_line l;
	int err = ice_sdp_parse_line(line, &l);

	if (err)
		return err;
	switch (l.kind) {
	case ICE_SDP_UFRAG:
		memcpy(a->rufrag, l.value, strlen(l.value) + 1);
		break;
	case ICE_SDP_PWD:
		if (!a->rufrag[0])
			return -EINVAL; /* ufrag comes first */
		err = ice_agent_set_remote_credentials(a, a->rufrag, l.value,
						       now);
		break;
	case ICE_SDP_CANDIDATE:
		err = ice_agent_add_remote_candidate(a, &l.cand, now);
		break;
	case ICE_SDP_END_OF_CANDIDATES:
		ice_agent_remote_gathering_done(a, now);
		break;
	case ICE_SDP_OTHER:
		break;
	}
	sodium_memzero(&l, sizeof(l));
	return err;
}

/* ------------------------------------------------------------ receiving */

static void switch_role(struct ice_agent *a)
{
	a->role = a->role == ICE_ROLE_CONTROLLING ? ICE_ROLE_CONTROLLED
						  : ICE_ROLE_CONTROLLING;
	a->st.role_conflicts++;
	reprioritise(a);
	log_debug(TOPIC, "role switched to %s",
		  a->role == ICE_ROLE_CONTROLLING ? "controlling"
						  : "controlled");
}

/*
 * RFC 8445 §7.3.1.1. Returns 487 when the peer must change role, 0 when
 * the request goes on (our role may have switched).
 */
static int role_conflict(struct ice_agent *a, const struct stun_msg *m)
{
	uint64_t theirs;

	if (a->role == ICE_ROLE_CONTROLLING &&
	    stun_msg_get_u64(m, STUN_ATTR_ICE_CONTROLLING, &theirs) == 0) {
		if (a->tie >= theirs) {
			a->st.role_conflicts++;
			return STUN_ERR_ROLE_CONFLICT;
		}
		switch_role(a);
	} else if (a->role == ICE_ROLE_CONTROLLED &&
		   stun_msg_get_u64(m, STUN_ATTR_ICE_CONTROLLED, &theirs) ==
			   0) {
		if (a->tie >= theirs) {
			switch_role(a);
		} else {
			a->st.role_conflicts++;
			return STUN_ERR_ROLE_CONFLICT;
		}
	}
	return 0;
}

/* USERNAME is "<our ufrag>:<theirs>" and integrity is by our pwd. */
static bool request_authentic(struct ice_agent *a, const struct stun_msg *m)
{
	char user[STUN_USERNAME_MAX + 1];
	size_t n = strlen(a->ufrag);
	bool ok;

	if (stun_msg_get_string(m, STUN_ATTR_USERNAME, user, sizeof(user)))
		return false;
	ok = strncmp(user, a->ufrag, n) == 0 && user[n] == ':' &&
	     (!a->have_remote_cred || strcmp(user + n + 1, a->rufrag) == 0) &&
	     stun_msg_check_integrity(m, (const uint8_t *)a->pwd,
				      strlen(a->pwd)) == 0;
	sodium_memzero(user, sizeof(user));
	return ok;
}

/* The remote candidate a request came from, learning a prflx (§7.3.1.3). */
static int request_remote(struct ice_agent *a, const struct stun_msg *m,
			  const union sockaddr_any *src)
{
	struct ice_candidate c;
	uint32_t prio;
	int r = find_remote(a, src);

	if (r >= 0)
		return r;
	if (stun_msg_get_u32(m, STUN_ATTR_PRIORITY, &prio) || !prio)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.type = ICE_CAND_PRFLX;
	c.component = ICE_COMPONENT;
	c.priority = prio;
	c.addr = *src;
	ice_foundation(ICE_CAND_PRFLX, src, NULL, c.foundation);
	return add_remote(a, &c);
}

/*
 * A request with comprehension-required attributes we do not know: a 420
 * naming them (RFC 8489 §6.3.1.1), and nothing else. Only for a request
 * authentic for this session, so that a stranger can neither learn that
 * we exist nor use us to reflect traffic; it changes no agent state.
 */
static void handle_unknown_request(struct ice_agent *a, int base,
				   const union sockaddr_any *src,
				   const struct stun_msg *m)
{
	if (!request_authentic(a, m)) {
		a->st.unauthenticated++;
		return;
	}
	a->st.unknown_attrs++;
	send_response(a, base, src, m, STUN_ERR_UNKNOWN_ATTRIBUTE);
}

static void handle_request(struct ice_agent *a, int base,
			   const union sockaddr_any *src,
			   const struct stun_msg *m, uint64_t now)
{
	struct pair *p;
	int r, i, err;

	if (!request_authentic(a, m)) {
		a->st.unauthenticated++;
		return;
	}
	err = role_conflict(a, m);
	if (err) {
		send_response(a, base, src, m, err);
		return;
	}
	r = request_remote(a, m, src);
	if (r < 0) {
		a->st.dropped++;
		return;
	}
	send_response(a, base, src, m, 0);
	if (!a->started)
		return;
	i = add_pair(a, a->bases[base].local, r);
	if (i < 0)
		return;
	p = &a->pairs[i];
	if (a->role == ICE_ROLE_CONTROLLED &&
	    stun_msg_has(m, STUN_ATTR_USE_CANDIDATE)) {
		p->peer_nominated = true;
		if (p->valid) {
			select_pair(a, i, now);
			return;
		}
	}
	if (p->state != PAIR_SUCCEEDED)
		trigger(a, p, now);
}

static struct pair *pair_by_tid(struct ice_agent *a,
				const uint8_t tid[STUN_TID_LEN])
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (p->used && p->tx.active &&
		    memcmp(p->tx.tid, tid, STUN_TID_LEN) == 0)
			return p;
	}
	return NULL;
}

static void unfreeze_foundation(struct ice_agent *a, const struct pair *p)
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *q = &a->pairs[i];

		if (q->used && q->state == PAIR_FROZEN &&
		    same_foundation(a, p, q))
			q->state = PAIR_WAITING;
	}
}

/* The local candidate the peer saw; learns a local prflx (§7.2.5.3.1). */
static int mapped_local(struct ice_agent *a, const struct pair *p,
			const struct stun_msg *m)
{
	union sockaddr_any mapped;
	struct ice_candidate c;
	const struct local *l = &a->locals[p->local];
	int i;

	if (stun_msg_get_xor_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped) ||
	    mapped.sa.sa_family != l->c.addr.sa.sa_family)
		return p->local;
	i = find_local(a, &mapped);
	if (i >= 0 || l->c.type == ICE_CAND_RELAY)
		return i >= 0 ? i : p->local;
	memset(&c, 0, sizeof(c));
	c.type = ICE_CAND_PRFLX;
	c.component = ICE_COMPONENT;
	c.priority = ice_priority(ICE_CAND_PRFLX, a->bases[l->base].local_pref,
				  ICE_COMPONENT);
	c.addr = mapped;
	c.related = l->c.addr;
	c.has_related = true;
	ice_foundation(ICE_CAND_PRFLX, &l->c.addr, NULL, c.foundation);
	i = add_local(a, &c, l->base);
	return i >= 0 ? i : p->local;
}

static void check_success(struct ice_agent *a, struct pair *p,
			  const struct stun_msg *m, uint64_t now)
{
	int i = (int)(p - a->pairs);

	p->last_ok = now;
	a->remotes[p->remote].reached = true;
	if (p->consent)
		return;
	/* From the latest transmission: a retransmit's wait is not RTT. */
	p->rtt = (uint32_t)(now - p->tx.last);
	p->state = PAIR_SUCCEEDED;
	p->valid = true;
	p->mapped_local = mapped_local(a, p, m);
	unfreeze_foundation(a, p);
	if (a->role == ICE_ROLE_CONTROLLING) {
		if (p->use_cand) {
			select_pair(a, i, now);
		} else if (!a->nominate_at) {
			a->nominate_at = now + a->cfg.nominate_delay_ms;
			maybe_nominate(a, now);
		}
	} else if (p->peer_nominated) {
		select_pair(a, i, now);
	}
}

static void handle_response(struct ice_agent *a, int base,
			    const union sockaddr_any *src,
			    const struct stun_msg *m, uint64_t now)
{
	struct pair *p = pair_by_tid(a, m->tid);
	int code = 0;

	if (!p) {
		a->st.unmatched++;
		return;
	}
	if (stun_msg_check_integrity(m, (const uint8_t *)a->rpwd,
				     strlen(a->rpwd)) != 0) {
		a->st.unauthenticated++;
		return;
	}
	p->tx.active = false;
	/* Non-symmetric source or base fails the pair (§7.2.5.2.1). */
	if (!addr_equal(src, &a->remotes[p->remote].c.addr) ||
	    base != a->locals[p->local].base) {
		p->state = PAIR_FAILED;
		p->why = "response from an unexpected address";
		return;
	}
	if (m->cls == STUN_CLASS_SUCCESS) {
		check_success(a, p, m, now);
		return;
	}
	stun_msg_get_error(m, &code, NULL, NULL);
	if (code == STUN_ERR_ROLE_CONFLICT && !p->consent) {
		/*
		 * §7.2.5.1: take the other role than the one the request
		 * was sent in (unless a request already made us switch), and
		 * check again.
		 */
		if (a->role == p->sent_role)
			switch_role(a);
		p->state = PAIR_WAITING;
		trigger(a, p, now);
		return;
	}
	if (!p->consent) {
		p->state = PAIR_FAILED;
		p->why = "error response";
	}
}

static struct srflx *srflx_by_tid(struct ice_agent *a,
				  const union sockaddr_any *src,
				  const uint8_t tid[STUN_TID_LEN])
{
	for (size_t i = 0; i < a->n_srflx; i++) {
		struct srflx *x = &a->srflx[i];

		if (x->tx.active && memcmp(x->tx.tid, tid, STUN_TID_LEN) == 0 &&
		    addr_equal(src, &a->cfg.stun_servers[x->server]))
			return x;
	}
	return NULL;
}

int ice_agent_recv(struct ice_agent *a, const union sockaddr_any *base,
		   const union sockaddr_any *src, const uint8_t *buf,
		   size_t len, uint64_t now)
{
	struct stun_msg m;
	struct srflx *x;
	int b = find_base(a, base);
	int err;

	if (!stun_is_message(buf, len))
		return -ENOMSG;
	if (b < 0)
		return -ENOENT;
	err = stun_msg_parse(&m, buf, len);
	if ((err != 0 && err != -STUN_EUNKNOWN) ||
	    m.method != STUN_METHOD_BINDING) {
		a->st.dropped++;
		return 0;
	}
	if (m.cls == STUN_CLASS_REQUEST) {
		/* ICE checks carry FINGERPRINT (RFC 8445 §7.2.2). */
		if (!m.fp_off) {
			a->st.dropped++;
			return 0;
		}
		if (err == -STUN_EUNKNOWN) {
			handle_unknown_request(a, b, src, &m);
			return 0;
		}
		handle_request(a, b, src, &m, now);
	} else if (err == -STUN_EUNKNOWN) {
		/* RFC 8489 §6.3.3/§6.3.4: such a response is discarded. */
		a->st.dropped++;
		return 0;
	} else if (m.cls == STUN_CLASS_SUCCESS || m.cls == STUN_CLASS_ERROR) {
		x = srflx_by_tid(a, src, m.tid);
		if (x && x->base == b)
			srflx_response(a, x, &m);
		else
			handle_response(a, b, src, &m, now);
	} else {
		a->st.dropped++; /* indications: nothing for us */
	}
	run_checks(a, now);
	fail_if_done(a);
	return 0;
}

/* ------------------------------------------------------------ timers */

static void fail_if_done(struct ice_agent *a)
{
	struct ice_event ev = { .type = ICE_EVENT_FAILED };

	if (a->state != ICE_STATE_CHECKING || !a->remote_done ||
	    !a->gathering_done)
		return;
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (p->used && p->state != PAIR_FAILED)
			return;
	}
	a->state = ICE_STATE_FAILED;
	ev.reason = a->n_remotes ? "every candidate pair failed"
				 : "the peer has no usable candidate";
	emit(a, &ev);
}

static void kill_pair(struct pair *p, const char *why)
{
	p->valid = false;
	p->nominated = false;
	p->peer_nominated = false;
	p->use_cand = false;
	p->tx.active = false;
	p->trig_seq = 0;
	p->state = PAIR_FAILED;
	p->why = why;
}

/*
 * The selected pair is gone (consent expired, or its local address was
 * removed): report it, then fall back to the other valid pairs.
 */
static void lose_selected(struct ice_agent *a, uint64_t now, const char *why,
			  const char *reason)
{
	struct ice_pair_info info;
	struct ice_event ev = { .type = ICE_EVENT_CONSENT_LOST };
	struct pair *p = &a->pairs[a->selected];

	pair_info(a, p, &info);
	kill_pair(p, why);
	a->selected = -1;
	a->next_recheck = 0;
	a->state = ICE_STATE_CHECKING;
	ev.pair = &info;
	ev.reason = reason;
	emit(a, &ev);
	/* Fall back: check the other valid pairs again and nominate anew. */
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *q = &a->pairs[i];

		if (q->used && q->valid) {
			q->valid = false;
			q->use_cand = false;
			q->nominated = false;
			q->peer_nominated = false;
			q->state = PAIR_WAITING;
			trigger(a, q, now);
		}
	}
	fail_if_done(a);
}

static void consent_lost(struct ice_agent *a, uint64_t now)
{
	lose_selected(a, now, "consent expired",
		      "no authenticated response within the consent timeout");
}

int ice_agent_remove_host(struct ice_agent *a, const union sockaddr_any *addr,
			  uint64_t now)
{
	int b = find_base(a, addr);

	if (b < 0)
		return -ENOENT;
	a->bases[b].gone = true;
	for (size_t i = 0; i < a->n_srflx; i++) {
		if (a->srflx[i].base == b && !a->srflx[i].done) {
			a->srflx[i].tx.active = false;
			a->srflx[i].done = true;
		}
	}
	if (a->selected >= 0 &&
	    a->locals[a->pairs[a->selected].local].base == b)
		lose_selected(a, now, "local address removed",
			      "the selected pair's local address was removed");
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (p->used && a->locals[p->local].base == b)
			kill_pair(p, "local address removed");
	}
	check_gathering_done(a);
	fail_if_done(a);
	return 0;
}

/*
 * While a relayed pair is selected, direct pairs that failed (a NAT
 * binding that was not there yet, a path that came back) get another try
 * every recheck_ms, so the agent can still move off the relay.
 */
static void recheck_tick(struct ice_agent *a, uint64_t now)
{
	const struct pair *sel;

	if (a->selected < 0 || !a->next_recheck || now < a->next_recheck)
		return;
	sel = &a->pairs[a->selected];
	a->next_recheck = now + a->cfg.recheck_ms;
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (p->used && p->state == PAIR_FAILED &&
		    !is_relay_pair(a, p) && p->prio > sel->prio) {
			p->state = PAIR_WAITING;
			p->why = NULL;
		}
	}
}

static void consent_tick(struct ice_agent *a, uint64_t now)
{
	struct pair *p;
	uint32_t iv = a->cfg.consent_interval_ms;

	if (a->selected < 0)
		return;
	p = &a->pairs[a->selected];
	if (now >= p->last_ok + a->cfg.consent_timeout_ms) {
		consent_lost(a, now);
		return;
	}
	if (now < a->next_consent)
		return;
	if (a->cfg.consent_jitter) /* 0.8 .. 1.2 of the interval */
		iv = iv * 8 / 10 + randombytes_uniform(iv * 4 / 10 + 1);
	a->next_consent = now + iv;
	/* A new transaction per check; RTO as for checks, capped by iv. */
	tx_start(&p->tx, a->cfg.check_rto_ms, iv, (uint8_t)a->cfg.check_max_tx,
		 iv, now);
	p->consent = true;
	p->use_cand = false;
	a->st.consent_sent++;
	send_check(a, p);
}

static void retransmit(struct ice_agent *a, uint64_t now)
{
	for (size_t i = 0; i < a->n_srflx; i++) {
		struct srflx *x = &a->srflx[i];
		int r = tx_due(&x->tx, now);

		if (r > 0) {
			a->st.retransmits++;
			send_server_binding(a, x);
		} else if (r < 0) {
			x->done = true;
			check_gathering_done(a);
		}
	}
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];
		int r = tx_due(&p->tx, now);

		if (r > 0) {
			a->st.retransmits++;
			send_check(a, p);
		} else if (r < 0 && !p->consent) {
			p->state = PAIR_FAILED;
			p->valid = false;
			p->why = "no response";
			if (p->use_cand && i != a->selected) {
				p->use_cand = false;
				a->nominate_at = now; /* nominate another */
			}
		}
	}
}

void ice_agent_tick(struct ice_agent *a, uint64_t now)
{
	if (!a->started)
		return;
	retransmit(a, now);
	consent_tick(a, now);
	recheck_tick(a, now);
	maybe_nominate(a, now);
	run_checks(a, now);
	fail_if_done(a);
}

static uint64_t min_u64(uint64_t x, uint64_t y)
{
	return x < y ? x : y;
}

static bool checks_pending(const struct ice_agent *a)
{
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (p->used && (p->trig_seq || ((p->state == PAIR_WAITING ||
						 p->state == PAIR_FROZEN) &&
						checking_wanted(a, p))))
			return true;
	}
	return false;
}

uint64_t ice_agent_next_deadline(const struct ice_agent *a)
{
	uint64_t d = UINT64_MAX;

	if (!a->started)
		return d;
	for (size_t i = 0; i < a->n_srflx; i++) {
		if (a->srflx[i].tx.active)
			d = min_u64(d, a->srflx[i].tx.next);
	}
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		if (a->pairs[i].used && a->pairs[i].tx.active)
			d = min_u64(d, a->pairs[i].tx.next);
	}
	if (a->have_remote_cred && a->state != ICE_STATE_FAILED &&
	    checks_pending(a))
		d = min_u64(d, a->next_check);
	if (a->nominate_at)
		d = min_u64(d, a->nominate_at);
	if (a->selected >= 0) {
		d = min_u64(d, a->next_consent);
		d = min_u64(d, a->pairs[a->selected].last_ok +
				       a->cfg.consent_timeout_ms);
		if (a->next_recheck)
			d = min_u64(d, a->next_recheck);
	}
	return d;
}

/* ------------------------------------------------------------ lifecycle */

static int set_cred(char *dst, const char *src, size_t min, size_t gen)
{
	if (!src) {
		random_chars(dst, gen);
		return 0;
	}
	if (!ice_chars_valid(src, min, ICE_CRED_MAX))
		return -EINVAL;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static void defaults(struct ice_agent_config *c)
{
	if (!c->ta_ms)
		c->ta_ms = ICE_DEFAULT_TA_MS;
	if (!c->check_rto_ms)
		c->check_rto_ms = ICE_CHECK_RTO_MS;
	if (!c->check_max_tx)
		c->check_max_tx = ICE_CHECK_MAX_TX;
	if (!c->stun_rto_ms)
		c->stun_rto_ms = ICE_STUN_RTO_MS;
	if (!c->stun_max_tx)
		c->stun_max_tx = ICE_STUN_RC;
	if (!c->nominate_delay_ms)
		c->nominate_delay_ms = ICE_NOMINATE_DELAY_MS;
	if (!c->consent_interval_ms)
		c->consent_interval_ms = ICE_CONSENT_INTERVAL_MS;
	if (!c->consent_timeout_ms)
		c->consent_timeout_ms = ICE_CONSENT_TIMEOUT_MS;
	if (!c->recheck_ms)
		c->recheck_ms = ICE_RECHECK_MS;
	if (c->check_max_tx > 32)
		c->check_max_tx = 32;
	if (c->stun_max_tx > 32)
		c->stun_max_tx = 32;
}

int ice_agent_create(const struct ice_agent_config *cfg,
		     const struct ice_agent_callbacks *cb,
		     struct ice_agent **out)
{
	struct ice_agent *a;

	if (!cfg || !cb || !cb->send ||
	    cfg->n_stun_servers > ICE_MAX_STUN_SERVERS ||
	    (cfg->ta_ms && cfg->ta_ms < ICE_TA_MIN_MS))
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->cfg.ufrag = NULL;
	a->cfg.pwd = NULL;
	defaults(&a->cfg);
	a->cb = *cb;
	if (set_cred(a->ufrag, cfg->ufrag, ICE_UFRAG_MIN, ICE_UFRAG_LEN) ||
	    set_cred(a->pwd, cfg->pwd, ICE_PWD_MIN, ICE_PWD_LEN)) {
		ice_agent_destroy(a);
		return -EINVAL;
	}
	a->role = cfg->role;
	a->tie = cfg->tie_breaker;
	while (!a->tie)
		randombytes_buf(&a->tie, sizeof(a->tie));
	a->selected = -1;
	a->state = ICE_STATE_NEW;
	a->st.memory = (uint32_t)sizeof(*a);
	*out = a;
	return 0;
}

void ice_agent_destroy(struct ice_agent *a)
{
	if (!a)
		return;
	sodium_memzero(a, sizeof(*a));
	free(a);
}

/*
 * At restart (no pairs): drop removed bases with their candidates and
 * srflx transactions, and learned prflx locals; renumber what stays.
 */
static void compact(struct ice_agent *a)
{
	int map[ICE_MAX_BASES];
	size_t nb = 0, nl = 0, ns = 0;

	for (size_t b = 0; b < a->n_bases; b++) {
		map[b] = a->bases[b].gone ? -1 : (int)nb;
		if (!a->bases[b].gone)
			a->bases[nb++] = a->bases[b];
	}
	for (size_t i = 0; i < a->n_locals; i++) {
		struct local l = a->locals[i];

		if (l.c.type == ICE_CAND_PRFLX || map[l.base] < 0)
			continue;
		l.base = map[l.base];
		a->locals[nl++] = l;
	}
	for (size_t i = 0; i < a->n_srflx; i++) {
		struct srflx x = a->srflx[i];

		if (map[x.base] < 0)
			continue;
		x.base = map[x.base];
		a->srflx[ns++] = x;
	}
	a->n_bases = nb;
	a->n_locals = nl;
	a->n_srflx = ns;
	for (size_t b = 0; b < a->n_bases; b++)
		a->bases[b].local = find_local(a, &a->bases[b].addr);
}

int ice_agent_restart(struct ice_agent *a, uint64_t now)
{
	if (!a->started)
		return -EINVAL;
	if (a->selected >= 0) {
		pair_info(a, &a->pairs[a->selected], &a->kept);
		a->have_kept = true;
	}
	random_chars(a->ufrag, ICE_UFRAG_LEN);
	random_chars(a->pwd, ICE_PWD_LEN);
	sodium_memzero(a->rpwd, sizeof(a->rpwd));
	memset(a->rufrag, 0, sizeof(a->rufrag));
	a->have_remote_cred = false;
	a->remote_done = false;
	memset(a->pairs, 0, sizeof(a->pairs));
	memset(a->remotes, 0, sizeof(a->remotes));
	a->n_remotes = 0;
	a->st.pairs = 0;
	a->st.remote = 0;
	a->selected = -1;
	a->nominate_at = 0;
	a->state = ICE_STATE_CHECKING;
	compact(a);
	a->st.local = (uint32_t)a->n_locals;
	for (size_t i = 0; i < a->n_locals; i++)
		report_local(a, (int)i);
	if (a->gathering_done) {
		a->gathering_done = false;
		check_gathering_done(a);
	}
	a->next_check = now;
	return 0;
}

/* ------------------------------------------------------------ queries */

const char *ice_agent_ufrag(const struct ice_agent *a)
{
	return a->ufrag;
}

const char *ice_agent_pwd(const struct ice_agent *a)
{
	return a->pwd;
}

int ice_agent_selected(const struct ice_agent *a, struct ice_pair_info *out)
{
	if (a->selected >= 0) {
		pair_info(a, &a->pairs[a->selected], out);
		return 0;
	}
	if (a->have_kept) {
		*out = a->kept;
		return 0;
	}
	return -ENOTCONN;
}

enum ice_state ice_agent_state(const struct ice_agent *a)
{
	return a->state;
}

enum ice_role ice_agent_role(const struct ice_agent *a)
{
	return a->role;
}

void ice_agent_get_stats(const struct ice_agent *a, struct ice_stats *out)
{
	*out = a->st;
}

const char *ice_state_name(enum ice_state s)
{
	switch (s) {
	case ICE_STATE_NEW:
		return "new";
	case ICE_STATE_CHECKING:
		return "checking";
	case ICE_STATE_CONNECTED:
		return "connected";
	case ICE_STATE_FAILED:
		return "failed";
	}
	return "?";
}

static size_t append(char *buf, size_t len, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t len, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off + 1 >= len)
		return off;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return off;
	return off + (size_t)n >= len ? len - 1 : off + (size_t)n;
}

size_t ice_agent_report(const struct ice_agent *a, char *buf, size_t len)
{
	char l[ADDR_STRLEN], r[ADDR_STRLEN];
	size_t off = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	if (!a->have_remote_cred)
		off = append(buf, len, off, "no credentials from the peer\n");
	if (!a->n_remotes)
		off = append(buf, len, off, "no candidates from the peer\n");
	for (int i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		addr_to_str(&a->locals[p->local].c.addr, l, sizeof(l));
		addr_to_str(&a->remotes[p->remote].c.addr, r, sizeof(r));
		off = append(buf, len, off,
			     "pair %s %s -> %s %s: %s after %u tries%s%s\n",
			     ice_cand_type_name(a->locals[p->local].c.type), l,
			     ice_cand_type_name(a->remotes[p->remote].c.type),
			     r, pair_state_names[p->state], p->tx.sent,
			     p->why ? ", " : "", p->why ? p->why : "");
	}
	for (size_t i = 0; i < a->n_remotes; i++) {
		if (a->remotes[i].reached)
			continue;
		addr_to_str(&a->remotes[i].c.addr, r, sizeof(r));
		off = append(buf, len, off, "never reached remote %s %s\n",
			     ice_cand_type_name(a->remotes[i].c.type), r);
	}
	for (size_t i = 0; i < a->n_srflx; i++) {
		if (a->srflx[i].answered)
			continue;
		addr_to_str(&a->cfg.stun_servers[a->srflx[i].server], r,
			    sizeof(r));
		addr_to_str(&a->bases[a->srflx[i].base].addr, l, sizeof(l));
		off = append(buf, len, off, "STUN server %s %s from %s\n", r,
			     a->srflx[i].done ? "never answered"
					      : "has not answered yet",
			     l);
	}
	return off;
}
