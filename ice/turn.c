// SPDX-License-Identifier: MIT
/*
 * TURN client core (RFC 8656 over UDP). See turn.h for the contract.
 *
 * State lives in three kinds of "slots", each with at most one request in
 * flight: the allocation (Allocate, then Refresh, then the final Refresh
 * with LIFETIME 0), one per permission (CreatePermission, per peer IP) and
 * one per channel (ChannelBind, per peer transport address). A request is
 * rebuilt from its slot on every (re)transmission: same transaction ID,
 * same attributes, so the bytes are the same as RFC 8489 §6.2.1 wants,
 * and no copy of every message in flight is kept.
 */
#include "ice/turn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "common/log.h"
#include "ice/stun.h"

enum {
	RTO_DEFAULT_MS = 500, /* RFC 8489 §6.2.1 */
	RC_DEFAULT = 7, /* RFC 8489 §6.2.1 */
	RM = 16, /* RFC 8489 §6.2.1 */
	PERMISSION_REFRESH_MS = 240000, /* < 300 s, RFC 8656 §9 */
	CHANNEL_REFRESH_MS = 540000, /* < 600 s, RFC 8656 §12 */
	REFRESH_MARGIN_MAX_MS = 60000, /* refresh a minute before expiry */
	REFRESH_MIN_MS = 1000, /* whatever lifetime is granted */
	AUTH_TRIES_MAX = 3,
	CLEARS_MAX = 3, /* 437 to Allocate: delete and retry */
	CLEAR_PAUSE_MS = 1000, /* 401/438 answers per request */
	MSG_MAX = 1400, /* our requests stay well below */
	SEND_MAX = TURN_MAX_DATA + 64, /* Send indication around data */
};

enum slot_kind { SLOT_ALLOC, SLOT_PERM, SLOT_CHAN };

enum entry_state { ENTRY_FREE, ENTRY_PENDING, ENTRY_OK };

struct txn {
	bool active;
	uint8_t tid[STUN_TID_LEN];
	uint32_t tries; /* transmissions so far */
	uint32_t auth_tries; /* 401/438 answers taken */
	uint64_t next_at; /* retransmission or timeout */
};

struct perm {
	enum entry_state state;
	union sockaddr_any ip; /* port 0 */
	uint64_t refresh_at;
	bool installed; /* succeeded at least once */
	struct txn txn;
};

struct chan {
	enum entry_state state;
	union sockaddr_any peer;
	uint16_t number;
	uint64_t refresh_at;
	bool installed;
	struct txn txn;
};

struct turn_client {
	struct turn_config cfg; /* strings below, not the caller's */
	struct turn_callbacks cb;
	char username[TURN_CRED_MAX];
	char password[TURN_CRED_MAX];
	char software[TURN_CRED_MAX];
	char realm[STUN_TEXT_MAX + 1];
	char nonce[STUN_TEXT_MAX + 1];
	uint8_t key[STUN_LONG_TERM_KEY_MD5_LEN];
	bool have_key;

	enum turn_state state;
	struct txn alloc; /* Allocate / Refresh / dealloc */
	/*
	 * ALLOCATING, but first deleting an allocation the server still holds
	 * for our 5-tuple (437 to Allocate, e.g. after a restart on the same
	 * port): Refresh with LIFETIME 0, then Allocate again. Once per start.
	 */
	bool clearing;
	uint32_t clears;
	uint64_t refresh_at;
	uint32_t lifetime_s;
	union sockaddr_any relayed;
	union sockaddr_any mapped;

	struct perm perms[TURN_MAX_PEERS];
	struct chan chans[TURN_MAX_PEERS];
	uint16_t next_channel;
	struct turn_stats stats;
};

/* ------------------------------------------------------------ helpers */

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (!src) {
		dst[0] = '\0';
		return 0;
	}
	n = strlen(src);
	if (n >= cap)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

static union sockaddr_any ip_only(const union sockaddr_any *a)
{
	union sockaddr_any ip = *a;

	addr_set_port(&ip, 0);
	return ip;
}

static uint32_t rto0(const struct turn_client *c)
{
	return c->cfg.rto_ms ? c->cfg.rto_ms : RTO_DEFAULT_MS;
}

static uint32_t max_tries(const struct turn_client *c)
{
	return c->cfg.max_tries ? c->cfg.max_tries : RC_DEFAULT;
}

static int relay_family(const struct turn_client *c)
{
	return c->cfg.relay_family ? c->cfg.relay_family : AF_INET;
}

/* When to refresh an allocation granted for lifetime_s seconds. */
static uint64_t refresh_delay_ms(uint32_t lifetime_s)
{
	uint64_t ms = (uint64_t)lifetime_s * 1000;
	uint64_t margin = ms / 4;

	if (margin > REFRESH_MARGIN_MAX_MS)
		margin = REFRESH_MARGIN_MAX_MS;
	/* A server granting (almost) nothing must not get a refresh storm. */
	return ms - margin < REFRESH_MIN_MS ? REFRESH_MIN_MS : ms - margin;
}

static void fail(struct turn_client *c, int err, int code, const char *why)
{
	log_info("turn", "allocation failed: %s (%d)", why, code);
	c->state = TURN_STATE_FAILED;
	c->alloc.active = false;
	memset(c->perms, 0, sizeof(c->perms));
	memset(c->chans, 0, sizeof(c->chans));
	if (c->cb.failed)
		c->cb.failed(c->cb.arg, err, code, why);
}

static void peer_event(struct turn_client *c, const union sockaddr_any *peer,
		       uint16_t channel, bool ok)
{
	if (c->cb.peer)
		c->cb.peer(c->cb.arg, peer, channel, ok);
}

/* ------------------------------------------------------------ requests */

static void add_auth(struct turn_client *c, struct stun_builder *b)
{
	if (!c->have_key)
		return;
	stun_builder_add_string(b, STUN_ATTR_USERNAME, c->username);
	stun_builder_add_string(b, STUN_ATTR_REALM, c->realm);
	stun_builder_add_string(b, STUN_ATTR_NONCE, c->nonce);
}

/* What the allocation slot sends now. */
static uint16_t alloc_method(const struct turn_client *c)
{
	if (c->state == TURN_STATE_ALLOCATING && !c->clearing)
		return STUN_METHOD_ALLOCATE;
	return STUN_METHOD_REFRESH;
}

/* The request a slot stands for, built into buf; its length or -errno. */
static int build_request(struct turn_client *c, enum slot_kind kind, int idx,
			 const struct txn *t, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint16_t method;

	switch (kind) {
	case SLOT_ALLOC:
		method = alloc_method(c);
		break;
	case SLOT_PERM:
		method = STUN_METHOD_CREATE_PERMISSION;
		break;
	default:
		method = STUN_METHOD_CHANNEL_BIND;
		break;
	}
	stun_builder_init(&b, buf, cap,
			  stun_msg_type(method, STUN_CLASS_REQUEST), t->tid);
	if (kind == SLOT_ALLOC && method == STUN_METHOD_ALLOCATE) {
		stun_builder_add_requested_transport(&b, STUN_TRANSPORT_UDP);
		if (relay_family(c) == AF_INET6)
			stun_builder_add_requested_family(&b, AF_INET6);
		if (c->cfg.lifetime_s)
			stun_builder_add_u32(&b, STUN_ATTR_LIFETIME,
					     c->cfg.lifetime_s);
	} else if (kind == SLOT_ALLOC) {
		/* Refresh: LIFETIME 0 deallocates (RFC 8656 §8). */
		if (c->state == TURN_STATE_CLOSING || c->clearing)
			stun_builder_add_u32(&b, STUN_ATTR_LIFETIME, 0);
		else if (c->cfg.lifetime_s)
			stun_builder_add_u32(&b, STUN_ATTR_LIFETIME,
					     c->cfg.lifetime_s);
	} else if (kind == SLOT_PERM) {
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS,
					  &c->perms[idx].ip);
	} else {
		stun_builder_add_channel_number(&b, c->chans[idx].number);
		stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS,
					  &c->chans[idx].peer);
	}
	if (c->software[0])
		stun_builder_add_string(&b, STUN_ATTR_SOFTWARE, c->software);
	add_auth(c, &b);
	if (c->have_key)
		stun_builder_add_message_integrity(&b, c->key, sizeof(c->key));
	stun_builder_add_fingerprint(&b);
	return stun_builder_finish(&b);
}

static struct txn *slot_txn(struct turn_client *c, enum slot_kind kind, int idx)
{
	if (kind == SLOT_PERM)
		return &c->perms[idx].txn;
	if (kind == SLOT_CHAN)
		return &c->chans[idx].txn;
	return &c->alloc;
}

/* (Re)transmit a slot's request and arm its next retransmission. */
static void transmit(struct turn_client *c, enum slot_kind kind, int idx,
		     uint64_t now)
{
	struct txn *t = slot_txn(c, kind, idx);
	uint8_t buf[MSG_MAX];
	int len;

	len = build_request(c, kind, idx, t, buf, sizeof(buf));
	t->tries++;
	/* RFC 8489 §6.2.1: RTO doubles; after the last, wait Rm * RTO. */
	if (t->tries >= max_tries(c))
		t->next_at = now + (uint64_t)RM * rto0(c);
	else
		t->next_at = now + ((uint64_t)rto0(c) << (t->tries - 1));
	if (len < 0) {
		log_ratelimited(LOG_LEVEL_WARN, "turn",
				"cannot build request: %s", stun_strerror(len));
		return;
	}
	if (t->tries == 1)
		c->stats.requests_sent++;
	else
		c->stats.retransmits++;
	c->cb.send(c->cb.arg, &c->cfg.server, buf, (size_t)len);
}

/* A new transaction on a slot (new ID), sent at once. */
static void start_txn(struct turn_client *c, enum slot_kind kind, int idx,
		      uint64_t now, bool keep_auth_tries)
{
	struct txn *t = slot_txn(c, kind, idx);
	uint32_t auth_tries = keep_auth_tries ? t->auth_tries : 0;

	memset(t, 0, sizeof(*t));
	t->active = true;
	t->auth_tries = auth_tries;
	stun_tid_random(t->tid);
	transmit(c, kind, idx, now);
}

/* ------------------------------------------------------------ API */

static int set_credentials(struct turn_client *c, const struct turn_config *cfg)
{
	if (cfg->rest_secret) {
		if (!cfg->rest_expiry)
			return -EINVAL;
		return turn_rest_credentials(cfg->rest_secret,
					     cfg->rest_id ? cfg->rest_id
							  : "icemesh",
					     cfg->rest_expiry, c->username,
					     sizeof(c->username), c->password,
					     sizeof(c->password))
			       ? -EINVAL
			       : 0;
	}
	if (!cfg->username || !cfg->password || !cfg->username[0])
		return -EINVAL;
	if (copy_str(c->username, sizeof(c->username), cfg->username) ||
	    copy_str(c->password, sizeof(c->password), cfg->password))
		return -EINVAL;
	return 0;
}

int turn_client_create(const struct turn_config *cfg,
		       const struct turn_callbacks *cb,
		       struct turn_client **out)
{
	struct turn_client *c;
	int rc;

	if (!cfg || !cb || !cb->send || !out || !addr_len(&cfg->server))
		return -EINVAL;
	if (cfg->relay_family && cfg->relay_family != AF_INET &&
	    cfg->relay_family != AF_INET6)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->cb = *cb;
	rc = set_credentials(c, cfg);
	if (!rc)
		rc = copy_str(c->software, sizeof(c->software), cfg->software);
	if (rc) {
		turn_client_destroy(c);
		return rc;
	}
	/* The caller's strings are not kept. */
	c->cfg.username = c->cfg.password = c->cfg.rest_secret = NULL;
	c->cfg.rest_id = c->cfg.software = NULL;
	c->state = TURN_STATE_IDLE;
	*out = c;
	return 0;
}

void turn_client_destroy(struct turn_client *c)
{
	if (!c)
		return;
	sodium_memzero(c, sizeof(*c));
	free(c);
}

int turn_client_start(struct turn_client *c, uint64_t now)
{
	if (c->state != TURN_STATE_IDLE && c->state != TURN_STATE_FAILED &&
	    c->state != TURN_STATE_CLOSED)
		return -EALREADY;
	memset(c->perms, 0, sizeof(c->perms));
	memset(c->chans, 0, sizeof(c->chans));
	c->next_channel = TURN_CHANNEL_MIN;
	c->state = TURN_STATE_ALLOCATING;
	c->clearing = false;
	c->clears = 0;
	start_txn(c, SLOT_ALLOC, 0, now, false);
	return 0;
}

static int find_perm(const struct turn_client *c, const union sockaddr_any *ip)
{
	for (int i = 0; i < TURN_MAX_PEERS; i++)
		if (c->perms[i].state != ENTRY_FREE &&
		    addr_equal_ip(&c->perms[i].ip, ip))
			return i;
	return -1;
}

static int find_chan(const struct turn_client *c,
		     const union sockaddr_any *peer)
{
	for (int i = 0; i < TURN_MAX_PEERS; i++)
		if (c->chans[i].state != ENTRY_FREE &&
		    addr_equal(&c->chans[i].peer, peer))
			return i;
	return -1;
}

static int check_peer(const struct turn_client *c,
		      const union sockaddr_any *peer)
{
	if (c->state != TURN_STATE_ALLOCATED)
		return -ENOTCONN;
	if (!peer || peer->sa.sa_family != c->relayed.sa.sa_family)
		return -EAFNOSUPPORT;
	return 0;
}

int turn_client_permit(struct turn_client *c, const union sockaddr_any *peer,
		       uint64_t now)
{
	int rc = check_peer(c, peer), i;

	if (rc)
		return rc;
	if (find_perm(c, peer) >= 0)
		return 0;
	for (i = 0; i < TURN_MAX_PEERS; i++)
		if (c->perms[i].state == ENTRY_FREE)
			break;
	if (i == TURN_MAX_PEERS)
		return -ENOSPC;
	memset(&c->perms[i], 0, sizeof(c->perms[i]));
	c->perms[i].state = ENTRY_PENDING;
	c->perms[i].ip = ip_only(peer);
	start_txn(c, SLOT_PERM, i, now, false);
	return 0;
}

/* A channel number not in use (RFC 8656 §12: 0x4000-0x4FFF). */
static uint16_t free_channel(struct turn_client *c)
{
	for (;;) {
		uint16_t n = c->next_channel;
		bool used = false;

		c->next_channel = n == TURN_CHANNEL_MAX ? TURN_CHANNEL_MIN
							: (uint16_t)(n + 1);
		for (int i = 0; i < TURN_MAX_PEERS; i++)
			if (c->chans[i].state != ENTRY_FREE &&
			    c->chans[i].number == n)
				used = true;
		if (!used)
			return n; /* at most TURN_MAX_PEERS of 4096 in use */
	}
}

int turn_client_bind_channel(struct turn_client *c,
			     const union sockaddr_any *peer, uint64_t now)
{
	int rc = check_peer(c, peer), i;

	if (rc)
		return rc;
	if (find_chan(c, peer) >= 0)
		return 0;
	/*
	 * A permission of our own as well: ChannelBind installs one, but it
	 * lasts 300 s while the channel is only refreshed every 540 s.
	 */
	rc = turn_client_permit(c, peer, now);
	if (rc)
		return rc;
	for (i = 0; i < TURN_MAX_PEERS; i++)
		if (c->chans[i].state == ENTRY_FREE)
			break;
	if (i == TURN_MAX_PEERS)
		return -ENOSPC;
	memset(&c->chans[i], 0, sizeof(c->chans[i]));
	c->chans[i].state = ENTRY_PENDING;
	c->chans[i].peer = *peer;
	c->chans[i].number = free_channel(c);
	start_txn(c, SLOT_CHAN, i, now, false);
	return 0;
}

static int send_indication(struct turn_client *c,
			   const union sockaddr_any *peer, const uint8_t *buf,
			   size_t len)
{
	uint8_t msg[SEND_MAX];
	uint8_t tid[STUN_TID_LEN];
	struct stun_builder b;
	int n;

	stun_tid_random(tid);
	stun_builder_init(
		&b, msg, sizeof(msg),
		stun_msg_type(STUN_METHOD_SEND, STUN_CLASS_INDICATION), tid);
	stun_builder_add_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_builder_add(&b, STUN_ATTR_DATA, buf, len);
	n = stun_builder_finish(&b);
	if (n < 0)
		return n;
	c->stats.data_sent_indication++;
	c->cb.send(c->cb.arg, &c->cfg.server, msg, (size_t)n);
	return 0;
}

int turn_client_send(struct turn_client *c, const union sockaddr_any *peer,
		     const uint8_t *buf, size_t len, uint64_t now)
{
	uint8_t frame[STUN_CHANNELDATA_HEADER_LEN + TURN_MAX_DATA];
	int rc = check_peer(c, peer), i, n;

	if (rc)
		return rc;
	if (len > TURN_MAX_DATA)
		return -EMSGSIZE;
	i = find_chan(c, peer);
	if (i >= 0 && c->chans[i].installed) {
		n = stun_channeldata_encode(frame, sizeof(frame),
					    c->chans[i].number, buf, len,
					    false);
		if (n < 0)
			return n;
		c->stats.data_sent_channel++;
		c->cb.send(c->cb.arg, &c->cfg.server, frame, (size_t)n);
		return 0;
	}
	rc = turn_client_permit(c, peer, now);
	if (!rc && c->cfg.auto_channel && i < 0)
		rc = turn_client_bind_channel(c, peer, now);
	if (rc)
		return rc;
	return send_indication(c, peer, buf, len);
}

void turn_client_close(struct turn_client *c, uint64_t now)
{
	memset(c->perms, 0, sizeof(c->perms));
	memset(c->chans, 0, sizeof(c->chans));
	if (c->state != TURN_STATE_ALLOCATED) {
		if (c->state != TURN_STATE_CLOSING) {
			c->state = TURN_STATE_CLOSED;
			c->alloc.active = false;
		}
		return;
	}
	c->state = TURN_STATE_CLOSING;
	start_txn(c, SLOT_ALLOC, 0, now, false);
}

/* ------------------------------------------------------------ timers */

static void min_at(uint64_t *d, uint64_t t)
{
	if (t < *d)
		*d = t;
}

uint64_t turn_client_next_deadline(const struct turn_client *c)
{
	uint64_t d = UINT64_MAX;

	if (c->alloc.active)
		min_at(&d, c->alloc.next_at);
	else if (c->state == TURN_STATE_ALLOCATED)
		min_at(&d, c->refresh_at);
	for (int i = 0; i < TURN_MAX_PEERS; i++) {
		const struct perm *p = &c->perms[i];
		const struct chan *ch = &c->chans[i];

		if (p->state != ENTRY_FREE)
			min_at(&d,
			       p->txn.active ? p->txn.next_at : p->refresh_at);
		if (ch->state != ENTRY_FREE)
			min_at(&d, ch->txn.active ? ch->txn.next_at
						  : ch->refresh_at);
	}
	return d;
}

static void alloc_timeout(struct turn_client *c)
{
	c->alloc.active = false;
	if (c->state == TURN_STATE_CLOSING) {
		log_info("turn", "no answer to deallocation; closed");
		c->state = TURN_STATE_CLOSED;
		return;
	}
	fail(c, -ETIMEDOUT, 0,
	     c->state == TURN_STATE_ALLOCATING ? "Allocate timed out"
					       : "Refresh timed out");
}

static void entry_timeout(struct turn_client *c, enum slot_kind kind, int i)
{
	if (kind == SLOT_PERM) {
		union sockaddr_any ip = c->perms[i].ip;

		memset(&c->perms[i], 0, sizeof(c->perms[i]));
		peer_event(c, &ip, 0, false);
	} else {
		union sockaddr_any peer = c->chans[i].peer;
		uint16_t number = c->chans[i].number;

		memset(&c->chans[i], 0, sizeof(c->chans[i]));
		peer_event(c, &peer, number, false);
	}
}

/* A slot's transaction: retransmit or give up, if due. */
static void txn_tick(struct turn_client *c, enum slot_kind kind, int idx,
		     uint64_t now)
{
	struct txn *t = slot_txn(c, kind, idx);

	if (!t->active || t->next_at > now)
		return;
	if (t->tries < max_tries(c)) {
		transmit(c, kind, idx, now);
		return;
	}
	t->active = false;
	if (kind == SLOT_ALLOC)
		alloc_timeout(c);
	else
		entry_timeout(c, kind, idx);
}

void turn_client_tick(struct turn_client *c, uint64_t now)
{
	txn_tick(c, SLOT_ALLOC, 0, now);
	if (c->state == TURN_STATE_ALLOCATED && !c->alloc.active &&
	    c->refresh_at <= now)
		start_txn(c, SLOT_ALLOC, 0, now, false);
	for (int i = 0; i < TURN_MAX_PEERS; i++) {
		if (c->state != TURN_STATE_ALLOCATED)
			break;
		if (c->perms[i].state != ENTRY_FREE) {
			txn_tick(c, SLOT_PERM, i, now);
			if (c->perms[i].state != ENTRY_FREE &&
			    !c->perms[i].txn.active &&
			    c->perms[i].refresh_at <= now)
				start_txn(c, SLOT_PERM, i, now, false);
		}
		if (c->chans[i].state != ENTRY_FREE) {
			txn_tick(c, SLOT_CHAN, i, now);
			if (c->chans[i].state != ENTRY_FREE &&
			    !c->chans[i].txn.active &&
			    c->chans[i].refresh_at <= now)
				start_txn(c, SLOT_CHAN, i, now, false);
		}
	}
}

/* ------------------------------------------------------------ responses */

static bool find_slot(struct turn_client *c, const uint8_t *tid,
		      enum slot_kind *kind, int *idx)
{
	if (c->alloc.active && !memcmp(c->alloc.tid, tid, STUN_TID_LEN)) {
		*kind = SLOT_ALLOC;
		*idx = 0;
		return true;
	}
	for (int i = 0; i < TURN_MAX_PEERS; i++) {
		if (c->perms[i].txn.active &&
		    !memcmp(c->perms[i].txn.tid, tid, STUN_TID_LEN)) {
			*kind = SLOT_PERM;
			*idx = i;
			return true;
		}
		if (c->chans[i].txn.active &&
		    !memcmp(c->chans[i].txn.tid, tid, STUN_TID_LEN)) {
			*kind = SLOT_CHAN;
			*idx = i;
			return true;
		}
	}
	return false;
}

static uint16_t slot_method(const struct turn_client *c, enum slot_kind kind)
{
	if (kind == SLOT_PERM)
		return STUN_METHOD_CREATE_PERMISSION;
	if (kind == SLOT_CHAN)
		return STUN_METHOD_CHANNEL_BIND;
	return alloc_method(c);
}

/*
 * 401 or 438: take REALM and NONCE and send the request again, under a new
 * transaction ID (RFC 8489 §9.2.5, RFC 8656 §7.3). False when the answer
 * cannot be acted on (no NONCE, too many tries, a 401 to credentials that
 * were already sent with this very nonce).
 */
static bool take_challenge(struct turn_client *c, const struct stun_msg *m,
			   int code)
{
	char realm[sizeof(c->realm)], nonce[sizeof(c->nonce)];
	bool realm_changed;

	if (stun_msg_get_string(m, STUN_ATTR_NONCE, nonce, sizeof(nonce)))
		return false;
	if (stun_msg_get_string(m, STUN_ATTR_REALM, realm, sizeof(realm))) {
		if (!c->realm[0])
			return false;
		memcpy(realm, c->realm, sizeof(realm));
	}
	realm_changed = strcmp(realm, c->realm) != 0;
	if (code == STUN_ERR_UNAUTHENTICATED && c->have_key && !realm_changed &&
	    !strcmp(nonce, c->nonce))
		return false; /* our credentials were refused */
	memcpy(c->nonce, nonce, sizeof(nonce));
	if (realm_changed || !c->have_key) {
		memcpy(c->realm, realm, sizeof(realm));
		if (stun_long_term_key(c->username, c->realm, c->password,
				       c->key))
			return false;
		c->have_key = true;
	}
	return true;
}

/* The old allocation is gone (or was never there): allocate again. */
static void cleared(struct turn_client *c, uint64_t now)
{
	log_info("turn", "old allocation on this 5-tuple deleted; allocating");
	c->clearing = false;
	/*
	 * The server may take a moment to let go of it (coturn does): the
	 * new Allocate goes out after a pause, longer each time.
	 */
	memset(&c->alloc, 0, sizeof(c->alloc));
	c->alloc.active = true;
	stun_tid_random(c->alloc.tid);
	c->alloc.next_at = now + (uint64_t)CLEAR_PAUSE_MS * c->clears;
}

static void alloc_success(struct turn_client *c, const struct stun_msg *m,
			  uint64_t now)
{
	uint32_t lifetime = TURN_DEFAULT_LIFETIME_S;
	union sockaddr_any relayed, mapped;
	bool first = c->state == TURN_STATE_ALLOCATING;

	if (c->clearing) {
		cleared(c, now);
		return;
	}

	stun_msg_get_u32(m, STUN_ATTR_LIFETIME, &lifetime);
	if (c->state == TURN_STATE_CLOSING) {
		log_info("turn", "deallocated");
		c->state = TURN_STATE_CLOSED;
		return;
	}
	if (first) {
		if (stun_msg_get_xor_addr(m, STUN_ATTR_XOR_RELAYED_ADDRESS,
					  &relayed)) {
			fail(c, -ECONNREFUSED, 0,
			     "Allocate answer without relayed address");
			return;
		}
		memset(&mapped, 0, sizeof(mapped));
		stun_msg_get_xor_addr(m, STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
		c->relayed = relayed;
		c->mapped = mapped;
		c->state = TURN_STATE_ALLOCATED;
	} else {
		c->stats.refreshes++;
	}
	c->lifetime_s = lifetime;
	c->refresh_at = now + refresh_delay_ms(lifetime);
	log_debug("turn", "allocation %s, lifetime %u s",
		  first ? "made" : "refreshed", lifetime);
	if (first && c->cb.allocated)
		c->cb.allocated(c->cb.arg, &c->relayed, &c->mapped, lifetime);
}

static void alloc_error(struct turn_client *c, int code, const char *why,
			uint64_t now)
{
	if (c->clearing) {
		cleared(c, now); /* 437: nothing left to delete */
		return;
	}
	if (c->state == TURN_STATE_ALLOCATING &&
	    code == STUN_ERR_ALLOCATION_MISMATCH && c->clears < CLEARS_MAX) {
		/* RFC 8656 §7.2: the server has an allocation for our 5-tuple. */
		log_info("turn", "%s; deleting the old allocation first", why);
		c->clearing = true;
		c->clears++;
		start_txn(c, SLOT_ALLOC, 0, now, false);
		return;
	}
	if (c->state == TURN_STATE_CLOSING) {
		/* 437: already gone. Anything else: nothing more to do. */
		log_info("turn", "deallocation answered %d; closed", code);
		c->state = TURN_STATE_CLOSED;
		return;
	}
	if (code == STUN_ERR_UNAUTHENTICATED || code == STUN_ERR_FORBIDDEN ||
	    code == STUN_ERR_WRONG_CREDENTIALS)
		fail(c, -EACCES, code, why);
	else if (code == STUN_ERR_ALLOCATION_MISMATCH &&
		 c->state == TURN_STATE_ALLOCATED)
		fail(c, -ENOTCONN, code, why);
	else
		fail(c, -ECONNREFUSED, code, why);
}

static void entry_result(struct turn_client *c, enum slot_kind kind, int i,
			 bool ok, uint64_t now)
{
	if (!ok) {
		entry_timeout(c, kind, i); /* same end: forget, report */
		return;
	}
	if (kind == SLOT_PERM) {
		struct perm *p = &c->perms[i];
		uint32_t every = c->cfg.permission_refresh_ms
					 ? c->cfg.permission_refresh_ms
					 : PERMISSION_REFRESH_MS;

		p->refresh_at = now + every;
		p->state = ENTRY_OK;
		if (p->installed)
			c->stats.permission_refreshes++;
		else
			peer_event(c, &p->ip, 0, true);
		p->installed = true;
	} else {
		struct chan *ch = &c->chans[i];
		uint32_t every = c->cfg.channel_refresh_ms
					 ? c->cfg.channel_refresh_ms
					 : CHANNEL_REFRESH_MS;

		ch->refresh_at = now + every;
		ch->state = ENTRY_OK;
		if (ch->installed)
			c->stats.channel_refreshes++;
		else
			peer_event(c, &ch->peer, ch->number, true);
		ch->installed = true;
	}
}

static void on_response(struct turn_client *c, const struct stun_msg *m,
			enum slot_kind kind, int idx, uint64_t now)
{
	struct txn *t = slot_txn(c, kind, idx);
	char why[96];
	const char *reason = NULL;
	size_t rlen = 0;
	int code = 0;

	if (m->cls == STUN_CLASS_ERROR &&
	    stun_msg_get_error(m, &code, &reason, &rlen))
		code = STUN_ERR_SERVER_ERROR;
	if ((code == STUN_ERR_UNAUTHENTICATED ||
	     code == STUN_ERR_STALE_NONCE) &&
	    t->auth_tries < AUTH_TRIES_MAX && take_challenge(c, m, code)) {
		t->auth_tries++;
		if (code == STUN_ERR_STALE_NONCE)
			c->stats.stale_nonces++;
		else
			c->stats.auth_retries++;
		log_debug("turn", "%s answered %d; again with new nonce",
			  stun_method_name(slot_method(c, kind)), code);
		start_txn(c, kind, idx, now, true);
		return;
	}
	t->active = false;
	if (code) {
		snprintf(why, sizeof(why), "%s: %d %.*s",
			 stun_method_name(slot_method(c, kind)), code,
			 (int)(rlen > 60 ? 60 : rlen), reason ? reason : "");
		if (kind == SLOT_ALLOC)
			alloc_error(c, code, why, now);
		else {
			log_info("turn", "%s", why);
			entry_result(c, kind, idx, false, now);
		}
		return;
	}
	if (kind == SLOT_ALLOC)
		alloc_success(c, m, now);
	else
		entry_result(c, kind, idx, true, now);
}

/* A success answer must carry our integrity; so must an error one if keyed. */
static bool authentic(const struct turn_client *c, const struct stun_msg *m)
{
	int rc;

	if (!c->have_key)
		return m->cls == STUN_CLASS_ERROR || !m->mi_off;
	rc = stun_msg_check_integrity(m, c->key, sizeof(c->key));
	if (rc == -ENOENT)
		return m->cls == STUN_CLASS_ERROR;
	return rc == 0;
}

static bool on_stun(struct turn_client *c, const uint8_t *buf, size_t len,
		    uint64_t now)
{
	struct stun_msg m;
	enum slot_kind kind;
	union sockaddr_any peer;
	const uint8_t *data;
	size_t dlen;
	int idx;

	if (stun_msg_parse(&m, buf, len)) {
		c->stats.dropped++; /* from the server, yet malformed */
		return true;
	}
	if (m.cls == STUN_CLASS_INDICATION && m.method == STUN_METHOD_DATA) {
		if (stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS,
					  &peer) ||
		    stun_msg_get_bytes(&m, STUN_ATTR_DATA, &data, &dlen) ||
		    c->state != TURN_STATE_ALLOCATED) {
			c->stats.dropped++;
			return true;
		}
		c->stats.data_recv_indication++;
		if (c->cb.data)
			c->cb.data(c->cb.arg, &peer, data, dlen);
		return true;
	}
	if (m.cls != STUN_CLASS_SUCCESS && m.cls != STUN_CLASS_ERROR)
		return false;
	if (!find_slot(c, m.tid, &kind, &idx))
		return false; /* e.g. the ICE agent's Binding to this server */
	if (m.method != slot_method(c, kind) || !authentic(c, &m)) {
		c->stats.dropped++;
		log_ratelimited(LOG_LEVEL_WARN, "turn",
				"dropped %s %s: fails its checks",
				stun_method_name(m.method),
				stun_class_name((enum stun_class)m.cls));
		return true;
	}
	on_response(c, &m, kind, idx, now);
	return true;
}

static bool on_channeldata(struct turn_client *c, const uint8_t *buf,
			   size_t len)
{
	const uint8_t *data;
	size_t dlen;
	uint16_t number;

	if (stun_channeldata_decode(buf, len, &number, &data, &dlen))
		return false;
	for (int i = 0; i < TURN_MAX_PEERS; i++) {
		struct chan *ch = &c->chans[i];

		if (ch->state == ENTRY_FREE || ch->number != number)
			continue;
		c->stats.data_recv_channel++;
		if (c->cb.data)
			c->cb.data(c->cb.arg, &ch->peer, data, dlen);
		return true;
	}
	c->stats.dropped++;
	return true;
}

bool turn_client_recv(struct turn_client *c, const union sockaddr_any *from,
		      const uint8_t *buf, size_t len, uint64_t now)
{
	if (!from || !addr_equal(from, &c->cfg.server) || len < 4)
		return false;
	if ((buf[0] & 0xC0) == 0x40) /* 0x40-0x7F: ChannelData, RFC 8656 §12 */
		return on_channeldata(c, buf, len);
	if (!stun_is_message(buf, len))
		return false;
	return on_stun(c, buf, len, now);
}

/* ------------------------------------------------------------ queries */

enum turn_state turn_client_state(const struct turn_client *c)
{
	return c->state;
}

const char *turn_state_name(enum turn_state s)
{
	switch (s) {
	case TURN_STATE_IDLE:
		return "idle";
	case TURN_STATE_ALLOCATING:
		return "allocating";
	case TURN_STATE_ALLOCATED:
		return "allocated";
	case TURN_STATE_CLOSING:
		return "closing";
	case TURN_STATE_CLOSED:
		return "closed";
	case TURN_STATE_FAILED:
		return "failed";
	}
	return "unknown";
}

int turn_client_relayed(const struct turn_client *c, union sockaddr_any *out)
{
	if (c->state != TURN_STATE_ALLOCATED)
		return -ENOTCONN;
	*out = c->relayed;
	return 0;
}

int turn_client_mapped(const struct turn_client *c, union sockaddr_any *out)
{
	if (c->state != TURN_STATE_ALLOCATED)
		return -ENOTCONN;
	*out = c->mapped;
	return 0;
}

bool turn_client_has_channel(const struct turn_client *c,
			     const union sockaddr_any *peer)
{
	int i = find_chan(c, peer);

	return i >= 0 && c->chans[i].installed;
}

void turn_client_stats(const struct turn_client *c, struct turn_stats *out)
{
	*out = c->stats;
}

int turn_rest_credentials(const char *secret, const char *id, uint64_t expiry,
			  char *user, size_t user_len, char *pass,
			  size_t pass_len)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char name[TURN_CRED_MAX];
	int n, rc = 0;

	if (!secret || !secret[0] || !id)
		return -EINVAL;
	n = snprintf(name, sizeof(name), "%llu:%s", (unsigned long long)expiry,
		     id);
	if (n < 0 || (size_t)n >= sizeof(name) || (size_t)n >= user_len)
		return -ENOSPC;
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret),
		  (const unsigned char *)name, (size_t)n, mac, &mac_len))
		return -EIO;
	/* base64 of 20 bytes: 28 characters and the NUL. */
	if (pass_len < sodium_base64_ENCODED_LEN(
			       mac_len, sodium_base64_VARIANT_ORIGINAL)) {
		rc = -ENOSPC;
		goto out;
	}
	sodium_bin2base64(pass, pass_len, mac, mac_len,
			  sodium_base64_VARIANT_ORIGINAL);
	memcpy(user, name, (size_t)n + 1);
out:
	sodium_memzero(mac, sizeof(mac));
	return rc;
}
