// SPDX-License-Identifier: MIT
/*
 * The mesh mode: peers from the coordinator's map, woken by traffic or by
 * their offer, ICE over the shared sockets, WireGuard over the selected
 * pair (direct, or ChannelData through the node's TURN allocation), the
 * overlay's addresses and routes on the TUN, and the control socket.
 * docs/daemon.md tells the story; ARCHITECTURE.md "A peer's life" the why.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/clock.h"
#include "common/ctl.h"
#include "common/log.h"
#include "coordinator-client/coordc.h"
#include "daemon/ctl_server.h"
#include "daemon/dataplane.h"
#include "daemon/echo.h"
#include "daemon/mesh.h"
#include "daemon/mesh_report.h"
#include "daemon/netcheck.h"
#include "daemon/nodestate.h"
#include "daemon/peerstate.h"
#include "daemon/sdnotify.h"
#include "daemon/sigmsg.h"
#include "ice/ice_agent.h"
#include "ice/ice_gather.h"
#include "ice/stun.h"
#include "ice/turn.h"
#include "tun/netlink.h"

#define TOPIC "mesh"

enum {
	MAX_HOSTS = ICE_MAX_BASES - 1, /* one base is the relay's */
	PING_ID_BASE = 0x6d00, /* ICMP identifiers of our echoes */
};

struct mpeer {
	struct mesh *m;
	struct coordc_node node;
	struct wg_peer *wg;
	bool seen; /* in the map being applied */

	/* ICE session: NULL agent = asleep */
	struct ice_agent *agent;
	uint64_t mygen, rgen, ack;
	bool desc_pending, gathered, eoc_sent;
	char *lines[SIGMSG_MAX_CANDS]; /* local candidates of this session */
	size_t n_lines, n_sent;
	bool selected;
	struct ice_pair_info sel;
	uint64_t woke_ms, active_ms, retry_at_ms, lost_at_ms;
	uint64_t offered_ms; /* our description last sent */
	uint32_t reoffer_ms; /* then again after this (doubling) */
	bool failed; /* the agent said no pair can work */
	uint64_t last_bytes;
	uint64_t last_hs_s; /* last handshake we logged */
	char report[4096]; /* of the last session that ended */
	char last_reason[CTL_TEXT_MAX];
};

struct ping {
	struct ctlsrv_req *h;
	struct mpeer *p;
	uint16_t ident;
	int af; /* AF_INET: ICMP to dst's IPv4, AF_INET6: ICMPv6 to its IPv6 */
	uint32_t count, timeout_ms, seq, received;
	uint64_t sent_us;
	bool waiting;
	uv_timer_t timer;
};

struct netcheck {
	struct ctlsrv_req *h;
	uv_timer_t timer;
	struct {
		union sockaddr_any addr;
		uint8_t tid[STUN_TID_LEN];
		uint64_t sent_us;
		bool answered;
		double rtt_ms;
		union sockaddr_any mapped;
	} srv[ICE_MAX_STUN_SERVERS];
	size_t n;
	/* the TURN probe: an Allocate without credentials, answered by 401 */
	uint8_t turn_tid[STUN_TID_LEN];
	uint64_t turn_sent_us;
	bool turn_sent, turn_answered;
	double turn_rtt_ms;
};

struct mesh {
	struct mesh_config cfg;
	char state_dir[1024], socket_path[108], ifname[IFNAMSIZ];
	uv_loop_t *loop;
	struct dp *dp;
	struct netlink *nl;
	struct netlink_watch *nlw;
	uv_poll_t nlw_poll;
	bool nlw_open;
	struct ctlsrv *ctl;
	uv_timer_t timer, housekeep, addr_timer, up_timer, turn_retry;
	uint8_t sk[32], pk[32];
	char pk_b64[45];

	/* coordinator */
	struct nodestate_conf conf;
	struct coordc *cc;
	bool registered, connected;
	bool cc_dead; /* refused for good: leave at the next housekeeping */
	bool needs_login; /* refused: a new auth key is needed */
	char cc_error[CTL_TEXT_MAX];
	struct ctlsrv_req *up_req;

	/* the map as applied */
	struct coordc_node self;
	bool have_self;
	struct coordc_prefix pfx4, pfx6;
	struct mpeer **peers;
	size_t n_peers;
	union sockaddr_any stun[ICE_MAX_STUN_SERVERS];
	size_t n_stun;

	/* TURN: one allocation for every peer */
	struct turn_client *turn;
	union sockaddr_any turn_server, relayed, mapped;
	struct coordc_turn turn_info; /* from the map (password: wipe) */
	bool turn_settled, have_relay;

	/* local bases */
	struct ice_host_addr hosts[MAX_HOSTS];
	size_t n_hosts;

	/* signals from nodes our map does not name yet (it lags theirs) */
	struct held_signal {
		uint8_t key[COORDC_KEY_LEN];
		uint8_t *msg;
		size_t len;
		uint64_t at_ms;
	} held[MESH_HELD_SIGNALS];
	size_t n_held;

	struct ping *ping;
	struct netcheck *nc;
	char status_line[256];
	uint64_t status_at;
	int closing_handles;
	bool destroying;
};

static void arm_timer(struct mesh *m);
static void peer_sleep(struct mpeer *p, const char *why);
static void peer_wake(struct mpeer *p, uint64_t ack);
static void update_status(struct mesh *m);
static void coord_stop(struct mesh *m);

static uint64_t now_ms(void)
{
	return clock_now_ms();
}

static const char *pname(const struct mpeer *p)
{
	return p->node.name[0] ? p->node.name : "(unnamed)";
}

/* ------------------------------------------------------------ peers */

static struct mpeer *find_key(struct mesh *m, const uint8_t key[32])
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (!memcmp(m->peers[i]->node.key, key, 32))
			return m->peers[i];
	return NULL;
}

static struct mpeer *find_wg(struct mesh *m, const struct wg_peer *wg)
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (m->peers[i]->wg == wg)
			return m->peers[i];
	return NULL;
}

/* By name, overlay address or public key (what ping and why accept). */
static struct mpeer *find_peer(struct mesh *m, const char *s)
{
	uint8_t key[32];
	char ip[INET6_ADDRSTRLEN];
	bool is_key = coordc_key_from_b64(s, key) == 0;

	for (size_t i = 0; i < m->n_peers; i++) {
		struct mpeer *p = m->peers[i];

		if (!strcmp(p->node.name, s) ||
		    (is_key && !memcmp(p->node.key, key, 32)))
			return p;
		if (inet_ntop(AF_INET, &p->node.ipv4, ip, sizeof(ip)) &&
		    !strcmp(ip, s))
			return p;
		if (inet_ntop(AF_INET6, &p->node.ipv6, ip, sizeof(ip)) &&
		    !strcmp(ip, s))
			return p;
	}
	return NULL;
}

static void clear_lines(struct mpeer *p)
{
	for (size_t i = 0; i < p->n_lines; i++)
		free(p->lines[i]);
	p->n_lines = p->n_sent = 0;
}

static void set_allowed_ips(struct mesh *m, struct mpeer *p)
{
	struct allowedips *t = dp_allowedips(m->dp);
	static const uint8_t zero16[16];

	allowedips_remove_by_peer(t, p->wg);
	if (p->node.ipv4.s_addr)
		allowedips_insert(t, AF_INET, &p->node.ipv4, 32, p->wg);
	if (memcmp(&p->node.ipv6, zero16, 16))
		allowedips_insert(t, AF_INET6, &p->node.ipv6, 128, p->wg);
	for (unsigned i = 0; i < p->node.n_allowed_ips; i++) {
		const struct coordc_prefix *a = &p->node.allowed_ips[i];

		allowedips_insert(t, a->family, a->addr, a->len, p->wg);
	}
}

static void peer_free(struct mpeer *p)
{
	struct mesh *m = p->m;

	if (m->ping && m->ping->p == p)
		m->ping->p = NULL;
	ice_agent_destroy(p->agent);
	clear_lines(p);
	if (p->wg)
		dp_peer_remove(m->dp, p->wg);
	free(p);
}

/* ------------------------------------------------------------ signals */

static void send_signal(struct mpeer *p, const char *buf, size_t len)
{
	int r;

	if (!p->m->cc)
		return;
	r = coordc_send(p->m->cc, p->node.key, buf, len);
	if (r)
		log_warn(TOPIC, "%s: signal not sent: %s", pname(p),
			 strerror(-r));
}

/* Send what the session owes the peer: the description, new candidates. */
static void flush_signal(struct mpeer *p)
{
	char buf[SIGMSG_MAX_LEN];
	bool eoc = p->gathered && p->m->turn_settled && !p->eoc_sent;
	int len;

	if (!p->agent)
		return;
	if (p->desc_pending) {
		p->offered_ms = now_ms();
		len = sigmsg_build(buf, sizeof(buf), SIGMSG_DESC, p->mygen,
				   p->ack, ice_agent_ufrag(p->agent),
				   ice_agent_pwd(p->agent),
				   (const char *const *)p->lines, p->n_lines,
				   eoc);
		p->desc_pending = false;
	} else if (p->n_sent < p->n_lines || eoc) {
		len = sigmsg_build(buf, sizeof(buf), SIGMSG_CAND, p->mygen, 0,
				   NULL, NULL,
				   (const char *const *)p->lines + p->n_sent,
				   p->n_lines - p->n_sent, eoc);
	} else {
		return;
	}
	if (len < 0)
		return;
	p->n_sent = p->n_lines;
	p->eoc_sent |= eoc;
	send_signal(p, buf, (size_t)len);
}

static void flush_all(struct mesh *m)
{
	for (size_t i = 0; i < m->n_peers; i++)
		flush_signal(m->peers[i]);
}

static void permit(struct mesh *m, const struct ice_candidate *c)
{
	if (m->have_relay &&
	    c->addr.sa.sa_family == m->relayed.sa.sa_family)
		turn_client_permit(m->turn, &c->addr, now_ms());
}

static void apply_remote(struct mpeer *p, const struct sigmsg *s)
{
	uint64_t now = now_ms();
	int r;

	if (s->kind == SIGMSG_DESC) {
		r = ice_agent_set_remote_credentials(p->agent, s->ufrag, s->pwd,
						     now);
		if (r)
			log_warn(TOPIC, "%s: bad credentials: %s", pname(p),
				 strerror(-r));
		p->rgen = s->gen;
	}
	for (size_t i = 0; i < s->n_cands; i++) {
		permit(p->m, &s->cands[i]);
		r = ice_agent_add_remote_candidate(p->agent, &s->cands[i], now);
		if (r)
			log_debug(TOPIC, "%s: remote candidate refused: %s",
				  pname(p), strerror(-r));
	}
	if (s->end_of_candidates)
		ice_agent_remote_gathering_done(p->agent, now);
}

/*
 * The offer/answer rules (docs/daemon.md, "Signals"): a description names
 * the sender's session (gen) and the one of ours it answers (ack, 0 for a
 * new session). Both sides may offer at once; every path converges.
 */
static void on_desc(struct mpeer *p, const struct sigmsg *s)
{
	struct peerstate_ice st = { p->agent != NULL, p->mygen, p->rgen };

	switch (peerstate_on_desc(&st, s->gen, s->ack)) {
	case PEERSTATE_WAKE:
		log_info(TOPIC, "%s: offer received, starting ICE", pname(p));
		peer_wake(p, s->gen);
		break;
	case PEERSTATE_IGNORE:
		return;
	case PEERSTATE_ACCEPT:
		break;
	case PEERSTATE_RESTART:
		log_info(TOPIC, "%s: the peer restarted ICE", pname(p));
		peer_sleep(p, NULL);
		peer_wake(p, s->gen);
		break;
	case PEERSTATE_REOFFER:
		/* pair with theirs, tell them ours again, whole */
		p->ack = s->gen;
		p->desc_pending = true;
		p->n_sent = 0;
		p->eoc_sent = false;
		break;
	}
	if (!p->agent)
		return;
	apply_remote(p, s);
	flush_signal(p);
}

/*
 * A signal from a node our map does not name yet: the coordinator's maps
 * reach nodes at different moments (publishes are coalesced), so a new
 * node's offer may come first. Kept a while, replayed when the map has it.
 */
static void hold_signal(struct mesh *m, const uint8_t key[COORDC_KEY_LEN],
			const uint8_t *msg, size_t len)
{
	struct held_signal *h;

	if (m->n_held == MESH_HELD_SIGNALS) {
		free(m->held[0].msg);
		memmove(m->held, m->held + 1,
			(MESH_HELD_SIGNALS - 1) * sizeof(m->held[0]));
		m->n_held--;
	}
	h = &m->held[m->n_held];
	h->msg = malloc(len);
	if (!h->msg)
		return;
	memcpy(h->key, key, COORDC_KEY_LEN);
	memcpy(h->msg, msg, len);
	h->len = len;
	h->at_ms = now_ms();
	m->n_held++;
	log_debug(TOPIC, "signal from a node not in the map yet: held");
}

static void cc_signal(const uint8_t from_key[COORDC_KEY_LEN], uint64_t from_id,
		      const uint8_t *msg, size_t len, void *arg);

/* Replay held signals whose sender the map now names; drop stale ones. */
static void replay_held(struct mesh *m)
{
	size_t i, j;
	uint64_t now = now_ms();

	for (i = j = 0; i < m->n_held; i++) {
		struct held_signal h = m->held[i];

		if (now - h.at_ms > MESH_HELD_MS) {
			free(h.msg);
		} else if (find_key(m, h.key)) {
			cc_signal(h.key, 0, h.msg, h.len, m);
			free(h.msg);
		} else {
			m->held[j++] = h;
		}
	}
	m->n_held = j;
}

static void held_free(struct mesh *m)
{
	for (size_t i = 0; i < m->n_held; i++)
		free(m->held[i].msg);
	m->n_held = 0;
}

static void cc_signal(const uint8_t from_key[COORDC_KEY_LEN], uint64_t from_id,
		      const uint8_t *msg, size_t len, void *arg)
{
	struct mesh *m = arg;
	struct mpeer *p = find_key(m, from_key);
	struct sigmsg *s;

	if (!p) {
		hold_signal(m, from_key, msg, len);
		return;
	}
	s = malloc(sizeof(*s));
	if (!s)
		return;
	if (sigmsg_parse((const char *)msg, len, s)) {
		log_ratelimited(LOG_LEVEL_WARN, TOPIC,
				"%s: malformed signal dropped", pname(p));
	} else if (s->kind == SIGMSG_DESC) {
		on_desc(p, s);
	} else if (p->agent && s->gen == p->rgen) {
		apply_remote(p, s);
	}
	free(s);
	arm_timer(m);
}

/* ------------------------------------------------------------ ICE */

static void agent_send(void *arg, const union sockaddr_any *base,
		       const union sockaddr_any *dst, const uint8_t *buf,
		       size_t len)
{
	struct mpeer *p = arg;
	struct mesh *m = p->m;

	if (m->have_relay && addr_equal(base, &m->relayed)) {
		turn_client_send(m->turn, dst, buf, len, now_ms());
		return;
	}
	dp_send_datagram(m->dp, dst, buf, len);
}

static bool is_relay_path(const struct ice_pair_info *pi)
{
	return pi->local.type == ICE_CAND_RELAY ||
	       pi->remote.type == ICE_CAND_RELAY;
}

static void on_selected(struct mpeer *p, const struct ice_event *ev)
{
	struct mesh *m = p->m;
	const struct ice_pair_info *pi = ev->pair;
	bool wrap = pi->local.type == ICE_CAND_RELAY;
	char l[ADDR_STRLEN], r[ADDR_STRLEN];

	p->sel = *pi;
	p->selected = true;
	p->lost_at_ms = 0;
	if (wrap)
		turn_client_bind_channel(m->turn, &pi->remote.addr, now_ms());
	dp_peer_set_path(m->dp, p->wg, &pi->remote.addr, wrap);
	log_info(TOPIC,
		 "%s: %s path %s %s -> %s %s, rtt %u ms (%s, after %" PRIu64
		 " ms)",
		 pname(p), is_relay_path(pi) ? "relay" : "direct",
		 ice_cand_type_name(pi->local.type),
		 addr_to_str(&pi->local.addr, l, sizeof(l)),
		 ice_cand_type_name(pi->remote.type),
		 addr_to_str(&pi->remote.addr, r, sizeof(r)), pi->rtt_ms,
		 ev->changed ? "changed: a better pair succeeded"
			     : "the best pair that answered",
		 now_ms() - p->woke_ms);
	update_status(m);
}

static void add_line(struct mpeer *p, const struct ice_candidate *c)
{
	char line[ICE_LINE_MAX];

	if (p->n_lines >= SIGMSG_MAX_CANDS ||
	    ice_candidate_format(c, line, sizeof(line)) < 0)
		return;
	p->lines[p->n_lines] = strdup(line);
	if (p->lines[p->n_lines])
		p->n_lines++;
}

static void agent_event(void *arg, const struct ice_event *ev)
{
	struct mpeer *p = arg;

	switch (ev->type) {
	case ICE_EVENT_CANDIDATE:
		add_line(p, ev->cand);
		break;
	case ICE_EVENT_GATHERING_DONE:
		p->gathered = true;
		break;
	case ICE_EVENT_SELECTED:
		on_selected(p, ev);
		break;
	case ICE_EVENT_CONSENT_LOST:
		/* the agent checks its other valid pairs (the relay) again
		 * and renominates; a new session only if that fails */
		log_warn(TOPIC,
			 "%s: consent lost (%s): trying the other pairs, "
			 "a new ICE session in %u s if none works",
			 pname(p), ev->reason ? ev->reason : "no answer",
			 MESH_RESELECT_MS / 1000);
		snprintf(p->last_reason, sizeof(p->last_reason),
			 "consent lost: %s", ev->reason ? ev->reason : "");
		p->lost_at_ms = now_ms();
		break;
	case ICE_EVENT_FAILED:
		log_warn(TOPIC, "%s: ICE failed: %s", pname(p),
			 ev->reason ? ev->reason : "no pair works");
		snprintf(p->last_reason, sizeof(p->last_reason),
			 "ICE failed: %s", ev->reason ? ev->reason : "");
		p->failed = true; /* acted on from housekeeping */
		break;
	}
}

/* Start an ICE session with the peer; ack: its session we answer. */
static void peer_wake(struct mpeer *p, uint64_t ack)
{
	struct mesh *m = p->m;
	struct ice_agent_config cfg;
	struct ice_agent_callbacks cb = { agent_send, agent_event, p };
	uint64_t now = now_ms();
	int r;

	if (p->agent || !m->cc)
		return;
	memset(&cfg, 0, sizeof(cfg));
	/* deterministic roles: the greater public key controls */
	cfg.role = memcmp(m->pk, p->node.key, 32) > 0 ? ICE_ROLE_CONTROLLING
						       : ICE_ROLE_CONTROLLED;
	memcpy(cfg.stun_servers, m->stun, sizeof(m->stun));
	cfg.n_stun_servers = m->n_stun;
	cfg.consent_jitter = true;
	r = ice_agent_create(&cfg, &cb, &p->agent);
	if (r) {
		log_error(TOPIC, "%s: ICE agent: %s", pname(p), strerror(-r));
		return;
	}
	for (size_t i = 0; i < m->n_hosts; i++)
		ice_agent_add_host(
			p->agent, &m->hosts[i].addr,
			ice_local_pref(m->hosts[i].iface_rank,
				       m->hosts[i].addr_rank,
				       m->hosts[i].addr.sa.sa_family),
			now);
	if (m->have_relay)
		ice_agent_add_relay(p->agent, &m->relayed, &m->turn_server,
				    &m->mapped, now);
	do {
		randombytes_buf(&p->mygen, sizeof(p->mygen));
	} while (!p->mygen);
	p->rgen = 0;
	p->ack = ack;
	p->desc_pending = true;
	p->gathered = p->eoc_sent = false;
	p->woke_ms = p->active_ms = now;
	p->retry_at_ms = 0;
	p->lost_at_ms = 0;
	p->failed = false;
	p->reoffer_ms = MESH_REOFFER_MS;
	clear_lines(p);
	ice_agent_start(p->agent, now);
	flush_signal(p);
	arm_timer(m);
}

/* End the ICE session; with why, also the path (the peer sleeps). */
static void peer_sleep(struct mpeer *p, const char *why)
{
	if (p->agent) {
		ice_agent_report(p->agent, p->report, sizeof(p->report));
		ice_agent_destroy(p->agent);
		p->agent = NULL;
	}
	clear_lines(p);
	p->rgen = 0;
	if (why) {
		log_info(TOPIC, "%s: asleep (%s)", pname(p), why);
		p->selected = false;
		dp_peer_clear_path(p->m->dp, p->wg);
	}
}

static void dp_wake(void *arg, struct wg_peer *wg)
{
	struct mesh *m = arg;
	struct mpeer *p = find_wg(m, wg);
	uint64_t now = now_ms();

	if (!p || p->agent || (p->retry_at_ms && now < p->retry_at_ms))
		return;
	log_info(TOPIC, "%s: traffic for it: starting ICE", pname(p));
	peer_wake(p, 0);
}

/* ------------------------------------------------------------ timers */

static void on_timer(uv_timer_t *t)
{
	struct mesh *m = t->data;
	uint64_t now = now_ms();

	for (size_t i = 0; i < m->n_peers; i++) {
		struct mpeer *p = m->peers[i];

		if (p->agent && ice_agent_next_deadline(p->agent) <= now)
			ice_agent_tick(p->agent, now);
	}
	if (m->turn && turn_client_next_deadline(m->turn) <= now)
		turn_client_tick(m->turn, now);
	flush_all(m);
	arm_timer(m);
}

static void arm_timer(struct mesh *m)
{
	uint64_t d = UINT64_MAX, now = now_ms();

	if (m->destroying)
		return;
	for (size_t i = 0; i < m->n_peers; i++) {
		struct mpeer *p = m->peers[i];

		if (p->agent) {
			uint64_t pd = ice_agent_next_deadline(p->agent);

			d = pd < d ? pd : d;
		}
	}
	if (m->turn) {
		uint64_t td = turn_client_next_deadline(m->turn);

		d = td < d ? td : d;
	}
	if (d == UINT64_MAX) {
		uv_timer_stop(&m->timer);
		return;
	}
	uv_timer_start(&m->timer, on_timer, d > now ? d - now : 0, 0);
}

/* Traffic, handshakes, idleness, restarts: once a second. */
static void housekeep_peer(struct mpeer *p, uint64_t now)
{
	struct wg_peer_info info;

	wg_peer_get_info(p->wg, &info);
	if (info.rx_bytes + info.tx_bytes != p->last_bytes) {
		p->last_bytes = info.rx_bytes + info.tx_bytes;
		p->active_ms = now;
	}
	if (info.last_handshake_unix_s &&
	    info.last_handshake_unix_s != p->last_hs_s) {
		if (!p->last_hs_s)
			log_info(TOPIC, "%s: WireGuard handshake done",
				 pname(p));
		else
			log_debug(TOPIC, "%s: WireGuard rekeyed", pname(p));
		p->last_hs_s = info.last_handshake_unix_s;
	}
	if (!p->agent)
		return;
	if (!p->rgen && now - p->offered_ms > p->reoffer_ms) {
		/* no answer: the peer may have dropped our description (its
		 * map lagged, it restarted): send it again, whole */
		log_info(TOPIC, "%s: no answer to our offer: sending it again",
			 pname(p));
		p->desc_pending = true;
		p->n_sent = 0;
		p->eoc_sent = false;
		flush_signal(p);
		if (p->reoffer_ms < 60000)
			p->reoffer_ms *= 2;
	}
	if (p->failed && !p->selected) {
		peer_sleep(p, "ICE found no path");
		p->retry_at_ms = now + MESH_RETRY_MS;
	} else if ((p->failed && now - p->active_ms <= MESH_IDLE_MS) ||
		   (p->lost_at_ms && now - p->lost_at_ms > MESH_RESELECT_MS)) {
		/* a new session; the old path carries what it can meanwhile */
		log_info(TOPIC, "%s: restarting ICE", pname(p));
		peer_sleep(p, NULL);
		peer_wake(p, 0);
	} else if (now - p->active_ms > MESH_IDLE_MS) {
		peer_sleep(p, "idle");
	}
}

static void on_housekeep(uv_timer_t *t)
{
	struct mesh *m = t->data;
	uint64_t now = now_ms();

	if (m->cc_dead) {
		/* refused (removed, or a bad key): leave, log in again */
		m->cc_dead = false;
		log_warn(TOPIC, "left the mesh: run icemesh up to join again");
		coord_stop(m);
		m->conf.up = false;
		m->needs_login = true;
		nodestate_conf_save(m->state_dir, &m->conf);
	}
	for (size_t i = 0; i < m->n_peers; i++)
		housekeep_peer(m->peers[i], now);
	flush_all(m);
	update_status(m);
	arm_timer(m);
}

/* ------------------------------------------------------------ datagrams */

static const union sockaddr_any *host_base(struct mesh *m, int family)
{
	for (size_t i = 0; i < m->n_hosts; i++)
		if (m->hosts[i].addr.sa.sa_family == family)
			return &m->hosts[i].addr;
	return NULL;
}

static bool netcheck_take(struct mesh *m, const struct stun_msg *msg);

/*
 * A STUN message to an agent: a check by the USERNAME it carries (ours
 * first, RFC 8445 §7.3), a response to whichever agent sent the
 * transaction (the others drop it as unmatched).
 */
static void route_stun(struct mesh *m, const union sockaddr_any *base,
		       const union sockaddr_any *src, const uint8_t *buf,
		       size_t len)
{
	struct stun_msg msg;
	char user[ICE_CRED_MAX * 2 + 2];
	uint64_t now = now_ms();

	if (!base || stun_msg_parse(&msg, buf, len) != 0)
		return;
	if (msg.cls == STUN_CLASS_REQUEST) {
		char *colon;

		if (stun_msg_get_string(&msg, STUN_ATTR_USERNAME, user,
					sizeof(user)))
			return;
		colon = strchr(user, ':');
		if (colon)
			*colon = '\0';
		for (size_t i = 0; i < m->n_peers; i++) {
			struct mpeer *p = m->peers[i];

			if (p->agent && !strcmp(ice_agent_ufrag(p->agent), user)) {
				ice_agent_recv(p->agent, base, src, buf, len,
					       now);
				return;
			}
		}
		return;
	}
	if (netcheck_take(m, &msg))
		return;
	for (size_t i = 0; i < m->n_peers; i++)
		if (m->peers[i]->agent)
			ice_agent_recv(m->peers[i]->agent, base, src, buf, len,
				       now);
}

static void dp_datagram(void *arg, enum demux_kind kind,
			const union sockaddr_any *src, const uint8_t *pkt,
			size_t len)
{
	struct mesh *m = arg;

	if (m->turn && addr_equal(src, &m->turn_server) &&
	    turn_client_recv(m->turn, src, pkt, len, now_ms())) {
		arm_timer(m);
		return;
	}
	if (kind == DEMUX_STUN)
		route_stun(m, host_base(m, src->sa.sa_family), src, pkt, len);
	flush_all(m);
	arm_timer(m);
}

static bool dp_is_turn(void *arg, const union sockaddr_any *src)
{
	struct mesh *m = arg;

	return m->turn && addr_equal(src, &m->turn_server);
}

static void dp_send_relayed(void *arg, struct wg_peer *wg,
			    const union sockaddr_any *to, const uint8_t *buf,
			    size_t len)
{
	struct mesh *m = arg;
	int r = -ENOTCONN;

	if (m->turn)
		r = turn_client_send(m->turn, to, buf, len, now_ms());
	if (r)
		log_ratelimited(LOG_LEVEL_WARN, TOPIC,
				"relayed send failed: %s", strerror(-r));
}

/* ------------------------------------------------------------ TURN */

static void turn_send(void *arg, const union sockaddr_any *to,
		      const uint8_t *buf, size_t len)
{
	struct mesh *m = arg;

	dp_send_datagram(m->dp, to, buf, len);
}

static void turn_allocated(void *arg, const union sockaddr_any *relayed,
			   const union sockaddr_any *mapped,
			   uint32_t lifetime_s)
{
	struct mesh *m = arg;
	char a[ADDR_STRLEN];
	uint64_t now = now_ms();

	m->relayed = *relayed;
	m->mapped = *mapped;
	m->have_relay = true;
	m->turn_settled = true;
	log_info(TOPIC, "TURN relay %s allocated for %u s",
		 addr_to_str(relayed, a, sizeof(a)), lifetime_s);
	for (size_t i = 0; i < m->n_peers; i++)
		if (m->peers[i]->agent)
			ice_agent_add_relay(m->peers[i]->agent, relayed,
					    &m->turn_server, mapped, now);
	flush_all(m);
	arm_timer(m);
}

static void on_turn_retry(uv_timer_t *t)
{
	struct mesh *m = t->data;

	if (m->turn && turn_client_start(m->turn, now_ms()) == 0)
		arm_timer(m);
}

static void turn_failed(void *arg, int err, int code, const char *reason)
{
	struct mesh *m = arg;

	log_warn(TOPIC, "TURN allocation failed: %s (%s): retrying in 30 s",
		 reason, strerror(-err));
	m->have_relay = false;
	m->turn_settled = true;
	uv_timer_start(&m->turn_retry, on_turn_retry, 30000, 0);
	flush_all(m);
}

static void turn_data(void *arg, const union sockaddr_any *peer,
		      const uint8_t *buf, size_t len)
{
	struct mesh *m = arg;
	uint8_t copy[TURN_MAX_DATA];

	switch (demux_classify(buf, len, false)) {
	case DEMUX_STUN:
		route_stun(m, &m->relayed, peer, buf, len);
		flush_all(m);
		break;
	case DEMUX_WIREGUARD:
		if (len > sizeof(copy))
			return;
		memcpy(copy, buf, len);
		dp_input_wireguard(m->dp, peer, copy, len);
		break;
	default:
		break;
	}
}

static int resolve(const char *s, uint16_t def_port, union sockaddr_any *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res = NULL;
	char host[COORDC_HOSTPORT_MAX + 1], port[8];
	const char *colon;

	if (addr_parse(s, def_port, out) == 0)
		return 0;
	colon = strrchr(s, ':');
	if (colon && (size_t)(colon - s) < sizeof(host)) {
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		snprintf(port, sizeof(port), "%.5s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", s);
		snprintf(port, sizeof(port), "%u", def_port);
	}
	if (getaddrinfo(host, port, &hints, &res) || !res)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void turn_stop(struct mesh *m)
{
	if (!m->turn)
		return;
	turn_client_close(m->turn, now_ms());
	turn_client_destroy(m->turn);
	m->turn = NULL;
	m->have_relay = false;
	m->turn_settled = true;
	uv_timer_stop(&m->turn_retry);
}

/* A new allocation from what the map said (m->turn_info). */
static void turn_create(struct mesh *m)
{
	struct turn_config tc;
	struct turn_callbacks cb = { turn_send, turn_allocated, turn_failed,
				     turn_data, NULL, m };

	memset(&tc, 0, sizeof(tc));
	tc.server = m->turn_server;
	tc.username = m->turn_info.username;
	tc.password = m->turn_info.password;
	tc.software = "icemesh";
	tc.relay_family = m->turn_server.sa.sa_family;
	if (turn_client_create(&tc, &cb, &m->turn))
		return;
	m->turn_settled = false;
	turn_client_start(m->turn, now_ms());
}

static void turn_apply(struct mesh *m, const struct coordc_netmap *nm)
{
	union sockaddr_any srv;

	if (!nm->has_turn || !nm->turn.n_servers ||
	    resolve(nm->turn.servers[0], 3478, &srv)) {
		turn_stop(m);
		return;
	}
	if (m->turn && addr_equal(&srv, &m->turn_server) &&
	    !strcmp(m->turn_info.username, nm->turn.username))
		return; /* same server and credentials */
	turn_stop(m);
	m->turn_server = srv;
	sodium_memzero(&m->turn_info, sizeof(m->turn_info));
	m->turn_info = nm->turn;
	turn_create(m);
}

/* ------------------------------------------------------------ overlay */

static void addr_apply(struct mesh *m, const struct coordc_node *self)
{
	unsigned idx = if_nametoindex(m->ifname);
	static const uint8_t zero16[16];
	int r;

	if (!idx || !m->nl)
		return;
	if (m->have_self && m->self.ipv4.s_addr != self->ipv4.s_addr &&
	    m->self.ipv4.s_addr)
		netlink_addr_del(m->nl, idx, AF_INET, &m->self.ipv4, 32);
	if (m->have_self && memcmp(&m->self.ipv6, &self->ipv6, 16) &&
	    memcmp(&m->self.ipv6, zero16, 16))
		netlink_addr_del(m->nl, idx, AF_INET6, &m->self.ipv6, 128);
	if (self->ipv4.s_addr) {
		r = netlink_addr_add(m->nl, idx, AF_INET, &self->ipv4, 32);
		if (r && r != -EEXIST)
			log_warn(TOPIC, "IPv4 address: %s", strerror(-r));
	}
	if (memcmp(&self->ipv6, zero16, 16)) {
		r = netlink_addr_add(m->nl, idx, AF_INET6, &self->ipv6, 128);
		if (r && r != -EEXIST)
			log_warn(TOPIC, "IPv6 address: %s", strerror(-r));
	}
}

static void route_apply(struct mesh *m, const struct coordc_prefix *p)
{
	unsigned idx = if_nametoindex(m->ifname);
	int r;

	if (!idx || !m->nl || !p->family)
		return;
	r = netlink_route_add(m->nl, idx, p->family, p->addr, p->len, 0);
	if (r && r != -EEXIST)
		log_warn(TOPIC, "route: %s", strerror(-r));
}

static struct mpeer *peer_add(struct mesh *m, const struct coordc_node *n)
{
	struct mpeer *p, **np;
	int r;

	if (m->n_peers >= MESH_MAX_PEERS)
		return NULL;
	np = realloc(m->peers, (m->n_peers + 1) * sizeof(*np));
	if (!np)
		return NULL;
	m->peers = np;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->m = m;
	p->node = *n;
	r = dp_peer_add(m->dp, n->key, NULL, &p->wg);
	if (r) {
		log_warn(TOPIC, "%s: WireGuard peer: %s", n->name, strerror(-r));
		free(p);
		return NULL;
	}
	m->peers[m->n_peers++] = p;
	log_info(TOPIC, "%s: in the map (asleep until there is traffic)",
		 pname(p));
	return p;
}

static void peers_apply(struct mesh *m, const struct coordc_netmap *nm)
{
	size_t n_next = nm->n_peers < MESH_MAX_PEERS ? nm->n_peers
						      : MESH_MAX_PEERS;
	uint8_t (*cur)[32] = calloc(m->n_peers + 1, 32);
	uint8_t (*next)[32] = calloc(n_next + 1, 32);
	long *map = calloc(n_next + 1, sizeof(*map));
	bool *keep = calloc(m->n_peers + 1, sizeof(*keep));
	struct mpeer **old = m->peers;
	size_t n_old = m->n_peers, i, j;

	if (!cur || !next || !map || !keep)
		goto out;
	for (j = 0; j < n_old; j++)
		memcpy(cur[j], old[j]->node.key, 32);
	for (i = 0; i < n_next; i++)
		memcpy(next[i], nm->peers[i].key, 32);
	peerstate_diff((const uint8_t(*)[32])cur, n_old,
		       (const uint8_t(*)[32])next, n_next, m->pk, map, keep);
	for (j = 0; j < n_old; j++)
		old[j]->seen = keep[j];
	/* the removed first, then the kept in place, then the new */
	for (i = j = 0; i < n_old; i++) {
		if (old[i]->seen) {
			old[j++] = old[i];
			continue;
		}
		log_info(TOPIC, "%s: removed from the map: tunnel torn down",
			 pname(old[i]));
		peer_free(old[i]);
	}
	m->n_peers = j;
	for (i = 0; i < n_next; i++) {
		struct mpeer *p;

		if (map[i] == -2)
			continue;
		p = map[i] >= 0 ? find_key(m, nm->peers[i].key)
				: peer_add(m, &nm->peers[i]);
		if (!p)
			continue;
		p->node = nm->peers[i];
		set_allowed_ips(m, p);
	}
	dp_changed(m->dp);
out:
	free(cur);
	free(next);
	free(map);
	free(keep);
}

static void stun_apply(struct mesh *m, const struct coordc_netmap *nm)
{
	m->n_stun = 0;
	for (unsigned i = 0; i < nm->n_stun && m->n_stun < ICE_MAX_STUN_SERVERS;
	     i++)
		if (!resolve(nm->stun[i], 3478, &m->stun[m->n_stun]))
			m->n_stun++;
}

static void self_fill(struct mesh *m, struct ctl_self *s);

static void cc_netmap(const struct coordc_netmap *nm, bool from_cache,
		      void *arg)
{
	struct mesh *m = arg;

	log_info(TOPIC, "network map %" PRIu64 "%s: %zu peers", nm->version,
		 from_cache ? " (cached)" : "", nm->n_peers);
	addr_apply(m, &nm->self);
	m->self = nm->self;
	m->have_self = true;
	if (nm->ipv4_prefix.family)
		route_apply(m, &nm->ipv4_prefix);
	if (nm->ipv6_prefix.family)
		route_apply(m, &nm->ipv6_prefix);
	m->pfx4 = nm->ipv4_prefix;
	m->pfx6 = nm->ipv6_prefix;
	stun_apply(m, nm);
	turn_apply(m, nm);
	peers_apply(m, nm);
	replay_held(m);
	if (!from_cache) {
		m->registered = true;
		/* registered: a node removed on the coordinator must not
		 * come back as a new one */
		coordc_forget_auth_key(m->cc);
		if (m->up_req) {
			union ctl_result r;

			memset(&r, 0, sizeof(r));
			self_fill(m, &r.self);
			uv_timer_stop(&m->up_timer);
			ctlsrv_reply_ok(m->up_req, &r);
			m->up_req = NULL;
		}
	}
	update_status(m);
	arm_timer(m);
}

static void cc_connectivity(bool up, void *arg)
{
	struct mesh *m = arg;

	m->connected = up;
	if (up) {
		m->cc_error[0] = '\0';
		log_info(TOPIC, "coordinator reachable");
	} else {
		snprintf(m->cc_error, sizeof(m->cc_error),
			 "coordinator unreachable");
		log_warn(TOPIC, "coordinator unreachable: tunnels stay up, "
				"retrying with backoff");
		if (m->up_req && !m->registered) {
			uv_timer_stop(&m->up_timer);
			ctlsrv_reply_error(m->up_req,
					   CTL_E_COORDINATOR_UNREACHABLE,
					   "cannot reach %s (check the URL, "
					   "the pin or CA file, and the "
					   "network); still trying",
					   m->conf.coordinator);
			m->up_req = NULL;
		}
	}
	update_status(m);
}

static void coord_stop(struct mesh *m);

static void cc_fatal(const char *code, void *arg)
{
	struct mesh *m = arg;

	log_error(TOPIC, "the coordinator refused this node: %s", code);
	snprintf(m->cc_error, sizeof(m->cc_error), "refused: %s", code);
	m->cc_dead = true; /* torn down from housekeeping */
	if (m->up_req) {
		uv_timer_stop(&m->up_timer);
		ctlsrv_reply_error(m->up_req, CTL_E_BAD_AUTH_KEY,
				   "the coordinator refused the auth key (%s)",
				   code);
		m->up_req = NULL;
	}
	update_status(m);
}

/* ------------------------------------------------------------ coordinator */

static int coord_start(struct mesh *m, const char *auth_key)
{
	struct coordc_config cfg;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.url = m->conf.coordinator;
	cfg.pin = *m->conf.pin ? m->conf.pin : NULL;
	cfg.ca_file = *m->conf.ca_file ? m->conf.ca_file : NULL;
	cfg.state_dir = m->state_dir;
	cfg.auth_key = auth_key;
	cfg.hostname = *m->conf.hostname ? m->conf.hostname : NULL;
	memcpy(cfg.node_sk, m->sk, 32);
	memcpy(cfg.node_pk, m->pk, 32);
	cfg.cb.netmap = cc_netmap;
	cfg.cb.signal = cc_signal;
	cfg.cb.connectivity = cc_connectivity;
	cfg.cb.fatal = cc_fatal;
	cfg.cb.arg = m;
	m->registered = false;
	m->connected = true;
	m->cc_error[0] = '\0';
	m->cc = coordc_new(m->loop, &cfg);
	sodium_memzero(cfg.node_sk, sizeof(cfg.node_sk));
	if (!m->cc)
		return -EINVAL;
	log_info(TOPIC, "joining the mesh of %s", m->conf.coordinator);
	r = coordc_start(m->cc);
	if (r) {
		log_error(TOPIC, "coordinator client: %s", strerror(-r));
		coordc_free(m->cc);
		m->cc = NULL;
	}
	return r;
}

/* Leave: no coordinator, no peers, no relay (not from a coordc callback). */
static void coord_stop(struct mesh *m)
{
	unsigned idx = if_nametoindex(m->ifname);

	if (m->cc) {
		coordc_free(m->cc);
		m->cc = NULL;
	}
	for (size_t i = 0; i < m->n_peers; i++)
		peer_free(m->peers[i]);
	m->n_peers = 0;
	turn_stop(m);
	if (m->have_self && idx && m->nl) {
		if (m->self.ipv4.s_addr)
			netlink_addr_del(m->nl, idx, AF_INET, &m->self.ipv4,
					 32);
		netlink_addr_del(m->nl, idx, AF_INET6, &m->self.ipv6, 128);
	}
	m->registered = false;
}

/* ------------------------------------------------------------ results */

static void ip_str(int family, const void *a, char *out, size_t len)
{
	static const uint8_t zero16[16];

	if (!memcmp(a, zero16, family == AF_INET ? 4 : 16) ||
	    !inet_ntop(family, a, out, (socklen_t)len))
		out[0] = '\0';
}

static void self_fill(struct mesh *m, struct ctl_self *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->public_key, sizeof(s->public_key), "%s", m->pk_b64);
	if (m->have_self) {
		snprintf(s->name, sizeof(s->name), "%.63s", m->self.name);
		snprintf(s->id, sizeof(s->id), "%" PRIu64, m->self.id);
		ip_str(AF_INET, &m->self.ipv4, s->ipv4, sizeof(s->ipv4));
		ip_str(AF_INET6, &m->self.ipv6, s->ipv6, sizeof(s->ipv6));
	}
	if (!*m->conf.coordinator || m->needs_login)
		s->state = CTL_STATE_NEEDS_LOGIN;
	else if (!m->conf.up || !m->cc)
		s->state = CTL_STATE_STOPPED;
	else
		s->state = m->have_self ? CTL_STATE_RUNNING
					: CTL_STATE_NEEDS_LOGIN;
	snprintf(s->coordinator.url, sizeof(s->coordinator.url), "%s",
		 m->conf.coordinator);
	s->coordinator.connected = m->cc && m->connected && m->registered;
	snprintf(s->coordinator.last_error, sizeof(s->coordinator.last_error),
		 "%s", m->cc_error);
}

static void peer_fill(struct mpeer *p, struct ctl_peer *c)
{
	struct wg_peer_info info;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%.63s", p->node.name);
	snprintf(c->id, sizeof(c->id), "%" PRIu64, p->node.id);
	coordc_key_to_b64(p->node.key, c->public_key);
	ip_str(AF_INET, &p->node.ipv4, c->ipv4, sizeof(c->ipv4));
	ip_str(AF_INET6, &p->node.ipv6, c->ipv6, sizeof(c->ipv6));
	c->online = p->node.online;
	mesh_path_fill(p->selected ? &p->sel : NULL, &c->path);
	c->rtt_ms = p->selected ? (double)p->sel.rtt_ms : CTL_RTT_NONE;
	wg_peer_get_info(p->wg, &info);
	c->rx_bytes = info.rx_bytes;
	c->tx_bytes = info.tx_bytes;
	c->last_handshake = info.last_handshake_unix_s;
}

static void do_status(struct mesh *m, struct ctlsrv_req *h)
{
	union ctl_result r;

	memset(&r, 0, sizeof(r));
	self_fill(m, &r.status.self);
	if (m->n_peers) {
		r.status.peers = calloc(m->n_peers, sizeof(*r.status.peers));
		if (!r.status.peers) {
			ctlsrv_reply_error(h, CTL_E_INTERNAL, "out of memory");
			return;
		}
	}
	for (size_t i = 0; i < m->n_peers; i++)
		peer_fill(m->peers[i], &r.status.peers[r.status.n_peers++]);
	ctlsrv_reply_ok(h, &r);
	free(r.status.peers);
}

static void on_up_timeout(uv_timer_t *t)
{
	struct mesh *m = t->data;

	if (!m->up_req)
		return;
	ctlsrv_reply_error(m->up_req,
			   m->connected ? CTL_E_TIMEOUT
					: CTL_E_COORDINATOR_UNREACHABLE,
			   m->connected ? "no network map from %s yet; the "
					  "node keeps trying"
					: "cannot reach %s (check the URL, the "
					  "pin or CA file, and the network)",
			   m->conf.coordinator);
	m->up_req = NULL;
}

static void do_up(struct mesh *m, struct ctlsrv_req *h,
		  const struct ctl_up_args *a)
{
	union ctl_result r;
	int err;

	if (m->up_req) {
		ctlsrv_reply_error(h, CTL_E_BUSY, "an `up` is already running");
		return;
	}
	if (m->cc && m->registered && m->conf.up &&
	    !strcmp(m->conf.coordinator, a->coordinator)) {
		memset(&r, 0, sizeof(r));
		self_fill(m, &r.self);
		ctlsrv_reply_ok(h, &r);
		return;
	}
	coord_stop(m);
	memset(&m->conf, 0, sizeof(m->conf));
	snprintf(m->conf.coordinator, sizeof(m->conf.coordinator), "%s",
		 a->coordinator);
	snprintf(m->conf.pin, sizeof(m->conf.pin), "%s", a->coordinator_pin);
	snprintf(m->conf.ca_file, sizeof(m->conf.ca_file), "%s", a->ca_file);
	snprintf(m->conf.hostname, sizeof(m->conf.hostname), "%s",
		 a->hostname);
	m->conf.up = true;
	m->have_self = false;
	m->needs_login = false;
	err = nodestate_conf_save(m->state_dir, &m->conf);
	if (err)
		log_warn(TOPIC, "saving %s: %s", NODESTATE_CONF_FILE,
			 strerror(-err));
	err = coord_start(m, a->auth_key);
	if (err) {
		ctlsrv_reply_error(h, CTL_E_INTERNAL,
				   "cannot start the coordinator client: %s",
				   strerror(-err));
		return;
	}
	m->up_req = h;
	uv_timer_start(&m->up_timer, on_up_timeout, MESH_UP_TIMEOUT_MS, 0);
	update_status(m);
}

static void do_down(struct mesh *m, struct ctlsrv_req *h)
{
	union ctl_result r;

	if (m->up_req) {
		ctlsrv_reply_error(m->up_req, CTL_E_BUSY, "cancelled by down");
		m->up_req = NULL;
	}
	coord_stop(m);
	m->conf.up = false;
	if (*m->conf.coordinator)
		nodestate_conf_save(m->state_dir, &m->conf);
	log_info(TOPIC, "down: tunnels closed");
	memset(&r, 0, sizeof(r));
	self_fill(m, &r.self);
	ctlsrv_reply_ok(h, &r);
	update_status(m);
}

/* ------------------------------------------------------------ ping */

/*
 * `icemesh ping` sends ICMP (IPv4) or ICMPv6 echo requests through the
 * overlay, from our overlay address to the peer's (daemon/echo.c): the
 * peer's kernel answers, the reply comes back through WireGuard and is
 * taken before the TUN (rx_intercept), with the path it arrived on.
 */
static const void *ping_addr(const struct coordc_node *n, int af)
{
	return af == AF_INET ? (const void *)&n->ipv4 : (const void *)&n->ipv6;
}

static void ping_send(struct mesh *m)
{
	struct ping *pg = m->ping;
	uint8_t pkt[ECHO_MAX_LEN];
	int len;

	len = echo_request(pg->af, ping_addr(&m->self, pg->af),
			   ping_addr(&pg->p->node, pg->af), pg->ident,
			   (uint16_t)pg->seq, pkt, sizeof(pkt));
	pg->sent_us = clock_now_us();
	pg->waiting = true;
	if (len < 0 || dp_send_packet(m->dp, pkt, (size_t)len))
		log_debug(TOPIC, "ping: not sent");
}

static void on_ping_timer(uv_timer_t *t);

static void ping_finish(struct mesh *m)
{
	struct ping *pg = m->ping;
	union ctl_result r;

	memset(&r, 0, sizeof(r));
	if (pg->p) {
		snprintf(r.ping.peer, sizeof(r.ping.peer), "%.63s",
			 pg->p->node.name);
		if (pg->af == AF_INET)
			ip_str(AF_INET, &pg->p->node.ipv4, r.ping.ipv4,
			       sizeof(r.ping.ipv4));
	}
	r.ping.sent = pg->seq;
	r.ping.received = pg->received;
	if (pg->h)
		ctlsrv_reply_ok(pg->h, &r);
	uv_timer_stop(&pg->timer);
	pg->h = NULL;
	pg->p = NULL;
}

/* The next ping, or the end. */
static void ping_next(struct mesh *m)
{
	struct ping *pg = m->ping;

	if (!pg->h || !pg->p || pg->seq >= pg->count) {
		ping_finish(m);
		return;
	}
	pg->seq++;
	ping_send(m);
	uv_timer_start(&pg->timer, on_ping_timer, pg->timeout_ms, 0);
}

static void on_ping_timer(uv_timer_t *t)
{
	struct mesh *m = t->data;
	struct ping *pg = m->ping;
	union ctl_result ev;

	if (pg->waiting && pg->h) {
		memset(&ev, 0, sizeof(ev));
		ev.ping_event.seq = pg->seq;
		ev.ping_event.timeout = true;
		ev.ping_event.rtt_ms = CTL_RTT_NONE;
		pg->waiting = false;
		ctlsrv_event(pg->h, &ev);
	}
	ping_next(m);
}

static bool dp_intercept(void *arg, struct wg_peer *wg, const uint8_t *pkt,
			 size_t len)
{
	struct mesh *m = arg;
	struct ping *pg = m->ping;
	union ctl_result ev;

	if (!pg || !pg->waiting || !pg->p || pg->p->wg != wg ||
	    !echo_is_reply(pg->af, ping_addr(&pg->p->node, pg->af), pg->ident,
			   (uint16_t)pg->seq, pkt, len))
		return false;
	memset(&ev, 0, sizeof(ev));
	ev.ping_event.seq = pg->seq;
	ev.ping_event.rtt_ms = (double)(clock_now_us() - pg->sent_us) / 1000.0;
	if (pg->p->selected) {
		struct ctl_path path;

		mesh_path_fill(&pg->p->sel, &path);
		ev.ping_event.path = path.kind;
		snprintf(ev.ping_event.via, sizeof(ev.ping_event.via), "%s",
			 path.remote.addr);
	} else {
		ev.ping_event.path = CTL_PATH_DIRECT;
		snprintf(ev.ping_event.via, sizeof(ev.ping_event.via),
			 "0.0.0.0:0");
	}
	pg->waiting = false;
	pg->received++;
	ctlsrv_event(pg->h, &ev);
	/* the next one a little later, as ping(8) does */
	uv_timer_start(&pg->timer, on_ping_timer, 200, 0);
	return true;
}

static bool has_ip(const struct coordc_node *n, int af)
{
	static const uint8_t zero16[16];

	return af == AF_INET ? n->ipv4.s_addr != 0
			     : memcmp(&n->ipv6, zero16, 16) != 0;
}

/*
 * ICMPv6 when the peer was named by its IPv6 overlay address, or when IPv4
 * is missing on either side; ICMP otherwise. 0 when no family fits (an
 * IPv6 address named while this node has no IPv6 overlay address).
 */
static int ping_family(const struct mesh *m, const struct mpeer *p,
		       const char *arg)
{
	struct in6_addr a6;
	bool v4 = has_ip(&m->self, AF_INET) && has_ip(&p->node, AF_INET);
	bool v6 = has_ip(&m->self, AF_INET6) && has_ip(&p->node, AF_INET6);

	if (inet_pton(AF_INET6, arg, &a6) == 1)
		return v6 ? AF_INET6 : 0;
	return v4 ? AF_INET : v6 ? AF_INET6 : 0;
}

static void do_ping(struct mesh *m, struct ctlsrv_req *h,
		    const struct ctl_ping_args *a)
{
	struct mpeer *p;
	uint16_t ident;
	int af;

	if (!m->cc || !m->have_self) {
		ctlsrv_reply_error(h, CTL_E_NOT_UP,
				   "the node is not up: run icemesh up");
		return;
	}
	p = find_peer(m, a->peer);
	if (!p) {
		ctlsrv_reply_error(h, CTL_E_UNKNOWN_PEER,
				   "not in the network map");
		return;
	}
	af = ping_family(m, p, a->peer);
	if (!af) {
		ctlsrv_reply_error(h, CTL_E_UNKNOWN_PEER,
				   "no overlay address family that both this "
				   "node and peer '%s' have",
				   a->peer);
		return;
	}
	if (m->ping->h) {
		ctlsrv_reply_error(h, CTL_E_BUSY, "a ping is already running");
		return;
	}
	randombytes_buf(&ident, sizeof(ident));
	m->ping->h = h;
	m->ping->p = p;
	m->ping->ident = ident;
	m->ping->af = af;
	m->ping->count = a->count;
	m->ping->timeout_ms = a->timeout_ms;
	m->ping->seq = m->ping->received = 0;
	m->ping->waiting = false;
	ping_next(m);
}

/* ------------------------------------------------------------ netcheck */

static void on_nc_timer(uv_timer_t *t);

static bool netcheck_take(struct mesh *m, const struct stun_msg *msg)
{
	struct netcheck *nc = m->nc;
	bool all = true, hit = false;

	if (!nc->h)
		return false;
	if (nc->turn_sent && !nc->turn_answered &&
	    netcheck_turn_answer(msg, nc->turn_tid)) {
		nc->turn_answered = true;
		nc->turn_rtt_ms =
			(double)(clock_now_us() - nc->turn_sent_us) / 1000.0;
		hit = true;
	}
	if (msg->cls != STUN_CLASS_SUCCESS && !hit)
		return false;
	all = !nc->turn_sent || nc->turn_answered;
	for (size_t i = 0; i < nc->n; i++) {
		if (!memcmp(nc->srv[i].tid, msg->tid, STUN_TID_LEN) &&
		    !nc->srv[i].answered &&
		    !stun_msg_get_xor_addr(msg, STUN_ATTR_XOR_MAPPED_ADDRESS,
					   &nc->srv[i].mapped)) {
			nc->srv[i].answered = true;
			nc->srv[i].rtt_ms =
				(double)(clock_now_us() - nc->srv[i].sent_us) /
				1000.0;
			hit = true;
		}
		all &= nc->srv[i].answered;
	}
	if (hit && all)
		uv_timer_start(&nc->timer, on_nc_timer, 0, 0);
	return hit;
}

static void on_nc_timer(uv_timer_t *t)
{
	struct mesh *m = t->data;
	struct netcheck *nc = m->nc;
	union ctl_result r;
	char (*srflx)[CTL_ADDR_MAX];
	struct ctl_server *servers;
	size_t answered = 0;
	union sockaddr_any *mapped = NULL;

	if (!nc->h)
		return;
	memset(&r, 0, sizeof(r));
	srflx = calloc(CTL_MAX_SRFLX, sizeof(*srflx));
	servers = calloc(CTL_MAX_SERVERS, sizeof(*servers));
	mapped = calloc(ICE_MAX_STUN_SERVERS, sizeof(*mapped));
	if (!srflx || !servers || !mapped) {
		ctlsrv_reply_error(nc->h, CTL_E_INTERNAL, "out of memory");
		goto out;
	}
	r.netcheck.srflx = srflx;
	r.netcheck.servers = servers;
	for (size_t i = 0; i < nc->n; i++) {
		struct ctl_server *s = &servers[r.netcheck.n_servers++];
		char a[CTL_ADDR_MAX];
		bool dup = false;

		s->kind = CTL_SERVER_STUN;
		addr_to_str(&nc->srv[i].addr, s->addr, sizeof(s->addr));
		s->reachable = nc->srv[i].answered;
		s->rtt_ms = s->reachable ? nc->srv[i].rtt_ms : CTL_RTT_NONE;
		if (!s->reachable) {
			snprintf(s->error, sizeof(s->error),
				 "no answer within %u ms", MESH_NETCHECK_MS);
			continue;
		}
		mapped[answered++] = nc->srv[i].mapped;
		addr_to_str(&nc->srv[i].mapped, a, sizeof(a));
		for (size_t j = 0; j < r.netcheck.n_srflx; j++)
			dup |= !strcmp(srflx[j], a);
		if (!dup && r.netcheck.n_srflx < CTL_MAX_SRFLX)
			memcpy(srflx[r.netcheck.n_srflx++], a, sizeof(a));
	}
	if (m->turn) {
		struct ctl_server *s = &servers[r.netcheck.n_servers++];

		s->kind = CTL_SERVER_TURN;
		addr_to_str(&m->turn_server, s->addr, sizeof(s->addr));
		/* reachable: it answered the probe or holds our allocation */
		s->reachable = nc->turn_answered || m->have_relay;
		s->rtt_ms = nc->turn_answered ? nc->turn_rtt_ms : CTL_RTT_NONE;
		if (!m->have_relay)
			snprintf(s->error, sizeof(s->error),
				 "%sno allocation (%s)",
				 nc->turn_answered ? "" : "no answer, ",
				 turn_state_name(turn_client_state(m->turn)));
	}
	r.netcheck.mapping = netcheck_mapping(mapped, answered);
	ctlsrv_reply_ok(nc->h, &r);
out:
	nc->h = NULL;
	free(srflx);
	free(servers);
	free(mapped);
}

/* Time the TURN server: an Allocate without credentials, RFC 8656 §7.2. */
static void netcheck_send_turn_probe(struct mesh *m)
{
	struct netcheck *nc = m->nc;
	uint8_t buf[64];
	int len;

	nc->turn_sent = nc->turn_answered = false;
	if (!m->turn)
		return;
	stun_tid_random(nc->turn_tid);
	len = netcheck_turn_probe(buf, sizeof(buf), nc->turn_tid);
	if (len < 0)
		return;
	nc->turn_sent_us = clock_now_us();
	nc->turn_sent = true;
	dp_send_datagram(m->dp, &m->turn_server, buf, (size_t)len);
}

static void do_netcheck(struct mesh *m, struct ctlsrv_req *h)
{
	struct netcheck *nc = m->nc;

	if (!m->cc || !m->have_self) {
		ctlsrv_reply_error(h, CTL_E_NOT_UP,
				   "the node is not up: run icemesh up");
		return;
	}
	if (nc->h) {
		ctlsrv_reply_error(h, CTL_E_BUSY,
				   "a netcheck is already running");
		return;
	}
	nc->h = h;
	nc->n = 0;
	for (size_t i = 0; i < m->n_stun && i < ICE_MAX_STUN_SERVERS; i++) {
		struct stun_builder b;
		uint8_t buf[64];

		nc->srv[i].addr = m->stun[i];
		nc->srv[i].answered = false;
		stun_tid_random(nc->srv[i].tid);
		stun_builder_init(&b, buf, sizeof(buf),
				  stun_msg_type(STUN_METHOD_BINDING,
						STUN_CLASS_REQUEST),
				  nc->srv[i].tid);
		stun_builder_add_fingerprint(&b);
		nc->srv[i].sent_us = clock_now_us();
		if (stun_builder_finish(&b) > 0 || b.err == 0)
			dp_send_datagram(m->dp, &m->stun[i], buf, b.len);
		nc->n++;
	}
	netcheck_send_turn_probe(m);
	uv_timer_start(&nc->timer, on_nc_timer,
		       nc->n || nc->turn_sent ? MESH_NETCHECK_MS : 0, 0);
}

/* ------------------------------------------------------------ why */

static void do_why(struct mesh *m, struct ctlsrv_req *h, const char *peer)
{
	struct mpeer *p = find_peer(m, peer);
	union ctl_result r;
	struct ctl_why *w = &r.why;
	char *report;

	if (!p) {
		ctlsrv_reply_error(h, CTL_E_UNKNOWN_PEER,
				   "not in the network map");
		return;
	}
	memset(&r, 0, sizeof(r));
	report = malloc(8192);
	w->pairs = calloc(CTL_MAX_PAIRS, sizeof(*w->pairs));
	w->reasons = calloc(CTL_MAX_NOTES, sizeof(*w->reasons));
	w->advice = calloc(CTL_MAX_NOTES, sizeof(*w->advice));
	if (!report || !w->pairs || !w->reasons || !w->advice) {
		ctlsrv_reply_error(h, CTL_E_INTERNAL, "out of memory");
		goto out;
	}
	snprintf(w->peer, sizeof(w->peer), "%.63s", p->node.name);
	mesh_path_fill(p->selected ? &p->sel : NULL, &w->path);
	if (p->agent)
		ice_agent_report(p->agent, report, 8192);
	else
		snprintf(report, 8192, "%s", p->report);
	w->n_pairs = mesh_report_parse(report, w->pairs, CTL_MAX_PAIRS,
				       w->reasons + 1, CTL_MAX_NOTES - 2,
				       &w->n_reasons);
	/* first line: the state in words */
	if (p->selected)
		snprintf(w->reasons[0], CTL_TEXT_MAX,
			 "ICE selected %s %s -> %s %s (rtt %u ms)",
			 ice_cand_type_name(p->sel.local.type),
			 w->path.local.addr,
			 ice_cand_type_name(p->sel.remote.type),
			 w->path.remote.addr, p->sel.rtt_ms);
	else if (p->agent)
		snprintf(w->reasons[0], CTL_TEXT_MAX,
			 "ICE is checking pairs (%s)",
			 ice_state_name(ice_agent_state(p->agent)));
	else
		snprintf(w->reasons[0], CTL_TEXT_MAX,
			 "asleep: no traffic for this peer yet, so no ICE "
			 "session");
	w->n_reasons++;
	if (p->last_reason[0])
		snprintf(w->reasons[w->n_reasons++], CTL_TEXT_MAX, "%s",
			 p->last_reason);
	w->n_advice = mesh_advice(&w->path, w->pairs, w->n_pairs, w->advice,
				  CTL_MAX_NOTES);
	ctlsrv_reply_ok(h, &r);
out:
	free(report);
	free(w->pairs);
	free(w->reasons);
	free(w->advice);
}

/* ------------------------------------------------------------ control */

static void ctl_request(void *arg, struct ctlsrv_req *h,
			const struct ctl_request *req)
{
	struct mesh *m = arg;

	switch (req->cmd) {
	case CTL_CMD_UP:
		do_up(m, h, &req->args.up);
		break;
	case CTL_CMD_DOWN:
		do_down(m, h);
		break;
	case CTL_CMD_STATUS:
		do_status(m, h);
		break;
	case CTL_CMD_PING:
		do_ping(m, h, &req->args.ping);
		break;
	case CTL_CMD_NETCHECK:
		do_netcheck(m, h);
		break;
	case CTL_CMD_WHY:
		do_why(m, h, req->args.why.peer);
		break;
	default:
		ctlsrv_reply_error(h, CTL_E_UNKNOWN_COMMAND, "unknown command");
		break;
	}
	arm_timer(m);
}

static void ctl_cancel(void *arg, struct ctlsrv_req *h)
{
	struct mesh *m = arg;

	if (m->up_req == h)
		m->up_req = NULL;
	if (m->ping->h == h) {
		m->ping->h = NULL;
		uv_timer_stop(&m->ping->timer);
	}
	if (m->nc->h == h) {
		m->nc->h = NULL;
		uv_timer_stop(&m->nc->timer);
	}
}

/* ------------------------------------------------------------ status */

static void update_status(struct mesh *m)
{
	char line[256];
	size_t direct = 0, relay = 0;
	uint64_t now = now_ms();
	char ip[INET_ADDRSTRLEN] = "";

	for (size_t i = 0; i < m->n_peers; i++) {
		struct mpeer *p = m->peers[i];

		if (p->selected && is_relay_path(&p->sel))
			relay++;
		else if (p->selected)
			direct++;
	}
	if (!*m->conf.coordinator || m->needs_login)
		snprintf(line, sizeof(line), "needs-login: run icemesh up");
	else if (!m->conf.up)
		snprintf(line, sizeof(line), "stopped");
	else if (m->cc && !m->connected)
		snprintf(line, sizeof(line),
			 "coordinator unreachable: tunnels stay up, %zu peers",
			 m->n_peers);
	else {
		ip_str(AF_INET, &m->self.ipv4, ip, sizeof(ip));
		snprintf(line, sizeof(line),
			 "running: %s, %zu peers (%zu direct, %zu relay)",
			 ip[0] ? ip : "no address yet", m->n_peers, direct,
			 relay);
	}
	if (!strcmp(line, m->status_line) || now - m->status_at < 1000)
		return; /* housekeeping sends it within a second */
	memcpy(m->status_line, line, sizeof(line));
	m->status_at = now;
	{
		char msg[300];

		snprintf(msg, sizeof(msg), "STATUS=%s", line);
		sdnotify_send(msg);
	}
}

/* ------------------------------------------------------------ netlink */

static int gather_hosts(struct mesh *m)
{
	struct ice_gather_filter f = { .tun_name = m->ifname };
	struct ice_host_addr h[ICE_GATHER_MAX_ADDRS];
	size_t n = 0;
	bool changed;
	int r = ice_gather_host(&f, h, ICE_GATHER_MAX_ADDRS, &n);

	if (r)
		return r;
	if (n > MAX_HOSTS)
		n = MAX_HOSTS;
	for (size_t i = 0; i < n; i++)
		addr_set_port(&h[i].addr, dp_listen_port(m->dp));
	changed = n != m->n_hosts;
	for (size_t i = 0; !changed && i < n; i++)
		changed = !addr_equal(&h[i].addr, &m->hosts[i].addr);
	memcpy(m->hosts, h, n * sizeof(h[0]));
	m->n_hosts = n;
	return changed ? 1 : 0;
}

static void on_addr_timer(uv_timer_t *t)
{
	struct mesh *m = t->data;

	if (gather_hosts(m) != 1)
		return;
	log_info(TOPIC, "this node's addresses changed (%zu now): "
			"restarting ICE with every awake peer",
		 m->n_hosts);
	if (m->cc) {
		/* its TCP connections left from an address that may be gone:
		 * new ones at once, before the signals of the new sessions */
		coordc_free(m->cc);
		m->cc = NULL;
		coord_start(m, NULL);
	}
	if (m->turn && m->n_hosts) {
		/* the allocation belongs to the old address: a new one */
		turn_stop(m);
		turn_create(m);
	}
	for (size_t i = 0; i < m->n_peers; i++) {
		struct mpeer *p = m->peers[i];

		if (p->agent) {
			peer_sleep(p, NULL);
			peer_wake(p, 0);
		}
	}
	arm_timer(m);
}

static void on_nl_event(void *arg, const struct netlink_event *ev)
{
	struct mesh *m = arg;

	if (ev->ifindex == if_nametoindex(m->ifname))
		return;
	if (ev->type == NETLINK_EV_ADDR || ev->type == NETLINK_EV_RESYNC ||
	    (ev->type == NETLINK_EV_LINK && ev->removed))
		uv_timer_start(&m->addr_timer, on_addr_timer, 300, 0);
}

static void on_nl_poll(uv_poll_t *h, int status, int events)
{
	struct mesh *m = h->data;

	if (status >= 0)
		netlink_watch_process(m->nlw, 8);
}

/* ------------------------------------------------------------ life */

static void on_dp_fatal(void *arg, int err)
{
	struct mesh *m = arg;

	if (m->cfg.on_fatal)
		m->cfg.on_fatal(m->cfg.arg, err);
}

static int open_dp(struct mesh *m)
{
	struct dp_config dc = {
		.loop = m->loop,
		.ifname = m->ifname,
		.tun_fd = -1,
		.listen_port = m->cfg.port,
		.on_fatal = on_dp_fatal,
		.fatal_arg = m,
		.on_datagram = dp_datagram,
		.is_turn_server = dp_is_turn,
		.hook_arg = m,
		.mesh = true,
		.on_wake = dp_wake,
		.send_relayed = dp_send_relayed,
		.rx_intercept = dp_intercept,
	};
	struct wg_device *wg;
	int r;

	r = dp_create(&dc, &m->dp);
	if (r) {
		if (r == -EADDRINUSE)
			log_error(TOPIC, "UDP port %u is in use (another "
					 "icemeshd? see --port)",
				  m->cfg.port);
		else
			log_error(TOPIC, "TUN %s: %s%s", m->ifname,
				  strerror(-r),
				  r == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		return r;
	}
	snprintf(m->ifname, sizeof(m->ifname), "%s", dp_ifname(m->dp));
	wg = dp_wg(m->dp);
	r = wg_device_set_private_key(wg, m->sk);
	if (r)
		return r;
	r = netlink_open(&m->nl);
	if (r) {
		log_error(TOPIC, "netlink: %s", strerror(-r));
		return r;
	}
	r = netlink_link_set_up(m->nl, if_nametoindex(m->ifname), true);
	if (r)
		log_warn(TOPIC, "%s up: %s", m->ifname, strerror(-r));
	return 0;
}

static int open_ctl(struct mesh *m)
{
	struct ctlsrv_handler h = { ctl_request, ctl_cancel, m };
	char dir[sizeof(m->socket_path)];
	char *slash;
	int r;

	snprintf(dir, sizeof(dir), "%s", m->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			log_warn(TOPIC, "mkdir %s: %s", dir, strerror(errno));
	}
	r = ctlsrv_create(m->loop, m->socket_path, &h, &m->ctl);
	if (r)
		log_error(TOPIC, "control socket %s: %s%s", m->socket_path,
			  strerror(-r),
			  r == -EADDRINUSE ? " (another icemeshd serves it)"
					   : "");
	return r;
}

static void timers_init(struct mesh *m)
{
	uv_timer_t *t[] = { &m->timer, &m->housekeep, &m->addr_timer,
			    &m->up_timer, &m->turn_retry, &m->ping->timer,
			    &m->nc->timer };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uv_timer_init(m->loop, t[i]);
		t[i]->data = m;
	}
	uv_timer_start(&m->housekeep, on_housekeep, MESH_HOUSEKEEP_MS,
		       MESH_HOUSEKEEP_MS);
}

static void watch_open(struct mesh *m)
{
	int r = netlink_watch_open(on_nl_event, m, &m->nlw);

	if (r) {
		log_warn(TOPIC, "no netlink watcher (%s): address changes "
				"will not restart ICE",
			 strerror(-r));
		return;
	}
	uv_poll_init(m->loop, &m->nlw_poll, netlink_watch_fd(m->nlw));
	m->nlw_poll.data = m;
	uv_poll_start(&m->nlw_poll, UV_READABLE, on_nl_poll);
	m->nlw_open = true;
}

static int load_identity(struct mesh *m)
{
	int r = nodestate_key(m->state_dir, m->sk, m->pk);

	if (r) {
		log_error(TOPIC, "node key in %s: %s", m->state_dir,
			  strerror(-r));
		return r;
	}
	coordc_key_to_b64(m->pk, m->pk_b64);
	r = nodestate_conf_load(m->state_dir, &m->conf);
	if (r && r != -ENOENT)
		log_warn(TOPIC, "%s/%s: %s: starting logged out", m->state_dir,
			 NODESTATE_CONF_FILE, strerror(-r));
	if (r)
		memset(&m->conf, 0, sizeof(m->conf));
	return 0;
}

int mesh_create(const struct mesh_config *cfg, struct mesh **out)
{
	struct mesh *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->ping = calloc(1, sizeof(*m->ping));
	m->nc = calloc(1, sizeof(*m->nc));
	if (!m->ping || !m->nc) {
		free(m->ping);
		free(m->nc);
		free(m);
		return -ENOMEM;
	}
	m->cfg = *cfg;
	m->loop = cfg->loop;
	m->turn_settled = true;
	snprintf(m->state_dir, sizeof(m->state_dir), "%s", cfg->state_dir);
	snprintf(m->socket_path, sizeof(m->socket_path), "%s",
		 cfg->socket_path);
	snprintf(m->ifname, sizeof(m->ifname), "%s", cfg->ifname);
	timers_init(m);
	*out = m;
	if (mkdir(m->state_dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		log_error(TOPIC, "state directory %s: %s", m->state_dir,
			  strerror(errno));
		return r;
	}
	if ((r = load_identity(m)) || (r = open_dp(m)) || (r = open_ctl(m)))
		return r;
	watch_open(m);
	gather_hosts(m);
	log_info(TOPIC, "%s up: node key %s, UDP port %u, %zu local addresses",
		 m->ifname, m->pk_b64, dp_listen_port(m->dp), m->n_hosts);
	if (m->conf.up && *m->conf.coordinator)
		coord_start(m, NULL);
	else
		log_info(TOPIC, "%s", *m->conf.coordinator
					      ? "down: run icemesh up to join"
					      : "not logged in: run icemesh up");
	update_status(m);
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct mesh *m = h->data;

	if (--m->closing_handles)
		return;
	free(m->ping);
	free(m->nc);
	sodium_memzero(m->sk, sizeof(m->sk));
	sodium_memzero(&m->turn_info, sizeof(m->turn_info));
	free(m->peers);
	free(m);
}

void mesh_destroy(struct mesh *m)
{
	uv_handle_t *hs[7];

	if (!m)
		return;
	hs[0] = (uv_handle_t *)&m->timer;
	hs[1] = (uv_handle_t *)&m->housekeep;
	hs[2] = (uv_handle_t *)&m->addr_timer;
	hs[3] = (uv_handle_t *)&m->up_timer;
	hs[4] = (uv_handle_t *)&m->turn_retry;
	hs[5] = (uv_handle_t *)&m->ping->timer;
	hs[6] = (uv_handle_t *)&m->nc->timer;
	m->destroying = true;
	ctlsrv_destroy(m->ctl);
	m->ctl = NULL;
	m->up_req = NULL;
	m->ping->h = NULL;
	m->nc->h = NULL;
	if (m->cc) {
		coordc_free(m->cc);
		m->cc = NULL;
	}
	for (size_t i = 0; i < m->n_peers; i++)
		peer_free(m->peers[i]);
	m->n_peers = 0;
	held_free(m);
	turn_stop(m);
	dp_destroy(m->dp);
	m->dp = NULL;
	netlink_close(m->nl);
	if (m->nlw_open) {
		m->closing_handles++;
		uv_poll_stop(&m->nlw_poll);
		uv_close((uv_handle_t *)&m->nlw_poll, on_closed);
	}
	netlink_watch_close(m->nlw);
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		m->closing_handles++;
		uv_close(hs[i], on_closed);
	}
}

void mesh_reload(struct mesh *m)
{
	update_status(m);
	if (m->conf.up && m->cc) {
		/* a new client asks for the whole map again (TURN, STUN) */
		coordc_free(m->cc);
		m->cc = NULL;
		coord_start(m, NULL);
	}
}

const char *mesh_ifname(const struct mesh *m)
{
	return m->ifname;
}
