// SPDX-License-Identifier: MIT
#include "wireguard/device.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "wireguard/device_impl.h"

static void default_random(void *buf, size_t len, void *arg)
{
	randombytes_buf(buf, len);
}

/* The start of a peer's public key in base64, as wg(8) shows keys: logs only. */
static const char *peer_name(const struct wg_peer *p, char buf[12])
{
	char b64[sodium_base64_ENCODED_LEN(WG_KEY_LEN,
					   sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof(b64), p->pub, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	memcpy(buf, b64, 8);
	memcpy(buf + 8, "...", 4);
	return buf;
}

/* ---------------------------------------------------------- index table */

static struct wg_index_entry **index_bucket(struct wg_device *dev, uint32_t i)
{
	return &dev->index[i & (WG_INDEX_BUCKETS - 1)];
}

static struct wg_index_entry *index_find(struct wg_device *dev, uint32_t i)
{
	struct wg_index_entry *e = *index_bucket(dev, i);

	while (e && e->index != i)
		e = e->next;
	return e;
}

static void index_unlink(struct wg_device *dev, struct wg_index_entry *e)
{
	struct wg_index_entry **pp;

	if (!e->linked)
		return;
	for (pp = index_bucket(dev, e->index); *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	e->linked = false;
	e->next = NULL;
}

static void index_link(struct wg_device *dev, struct wg_index_entry *e,
		       uint32_t i)
{
	struct wg_index_entry **b = index_bucket(dev, i);

	e->index = i;
	e->next = *b;
	*b = e;
	e->linked = true;
}

/* A fresh random index for e (the reference draws until one is free). */
static uint32_t index_new(struct wg_device *dev, struct wg_index_entry *e)
{
	uint32_t i;

	index_unlink(dev, e);
	do
		dev->cfg.random(&i, sizeof(i), dev->cfg.random_arg);
	while (index_find(dev, i));
	index_link(dev, e, i);
	return i;
}

/* ---------------------------------------------------------- deadlines */

static void heap_set(struct wg_device *dev, uint32_t i, struct wg_peer *p)
{
	dev->heap[i] = p;
	p->heap_pos = i;
}

static void heap_up(struct wg_device *dev, uint32_t i)
{
	struct wg_peer *p = dev->heap[i];

	while (i > 0 && dev->heap[(i - 1) / 2]->heap_key > p->heap_key) {
		heap_set(dev, i, dev->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(dev, i, p);
}

static void heap_down(struct wg_device *dev, uint32_t i)
{
	struct wg_peer *p = dev->heap[i];
	uint32_t c;

	while ((c = 2 * i + 1) < dev->heap_len) {
		if (c + 1 < dev->heap_len &&
		    dev->heap[c + 1]->heap_key < dev->heap[c]->heap_key)
			c++;
		if (dev->heap[c]->heap_key >= p->heap_key)
			break;
		heap_set(dev, i, dev->heap[c]);
		i = c;
	}
	heap_set(dev, i, p);
}

static void heap_remove(struct wg_device *dev, struct wg_peer *p)
{
	uint32_t i = p->heap_pos;
	struct wg_peer *last;

	if (i == WG_HEAP_NONE)
		return;
	p->heap_pos = WG_HEAP_NONE;
	last = dev->heap[--dev->heap_len];
	if (last == p)
		return;
	heap_set(dev, i, last);
	heap_up(dev, i);
	heap_down(dev, last->heap_pos);
}

/*
 * Place p in the deadline heap by its timers' next deadline. Called at the
 * end of every entry point that may have changed a peer's timers, so that
 * wg_device_next_deadline is the heap's top and a tick visits only the
 * peers that are due.
 */
static void peer_sync(struct wg_peer *p)
{
	struct wg_device *dev = p->dev;
	uint64_t key = wg_timers_next(&p->timers);

	if (key == UINT64_MAX) {
		heap_remove(dev, p);
		return;
	}
	if (p->heap_pos == WG_HEAP_NONE) {
		p->heap_key = key;
		heap_set(dev, dev->heap_len++, p);
		heap_up(dev, p->heap_pos);
	} else if (key != p->heap_key) {
		p->heap_key = key;
		heap_up(dev, p->heap_pos);
		heap_down(dev, p->heap_pos);
	}
}

/* ---------------------------------------------------------- keypairs */

/*
 * Wipe a slot's keys but keep its cipher contexts, so that the next session
 * in this slot re-keys them in place (wg_aead_key_rekey) instead of making
 * four new ones: a handshake then allocates nothing once the slots are warm.
 */
static void keypair_reset(struct wg_keypair *kp)
{
	struct wg_aead_key send = kp->send, recv = kp->recv;

	wg_aead_key_wipe(&send);
	wg_aead_key_wipe(&recv);
	sodium_memzero(kp, sizeof(*kp));
	kp->send = send;
	kp->recv = recv;
}

static void keypair_free(struct wg_peer *p, struct wg_keypair *kp)
{
	if (!kp || !kp->in_use)
		return;
	index_unlink(p->dev, &kp->entry);
	keypair_reset(kp);
}

/* Release a slot's cipher contexts: peer removal and device destroy only. */
static void keypair_slot_release(struct wg_keypair *kp)
{
	wg_aead_key_clear(&kp->send);
	wg_aead_key_clear(&kp->recv);
	sodium_memzero(kp, sizeof(*kp));
}

static struct wg_keypair *keypair_slot(struct wg_peer *p)
{
	for (int i = 0; i < WG_KEYPAIR_SLOTS; i++)
		if (!p->slots[i].in_use)
			return &p->slots[i];
	return NULL; /* cannot happen: at most three are referenced */
}

static void keypairs_clear(struct wg_peer *p)
{
	for (int i = 0; i < WG_KEYPAIR_SLOTS; i++)
		keypair_free(p, &p->slots[i]);
	p->current = p->previous = p->next = NULL;
}

/* The rotation of the reference implementation (noise.c add_new_keypair). */
static void keypairs_add(struct wg_peer *p, struct wg_keypair *kp)
{
	if (kp->initiator) {
		/* confirmed by the response: usable at once */
		if (p->next) {
			keypair_free(p, p->previous);
			p->previous = p->next;
			p->next = NULL;
			keypair_free(p, p->current);
		} else {
			keypair_free(p, p->previous);
			p->previous = p->current;
		}
		p->current = kp;
	} else {
		/* responder: usable once the initiator's first data arrives */
		keypair_free(p, p->next);
		keypair_free(p, p->previous);
		p->previous = NULL;
		p->next = kp;
	}
}

/* Data arrived on kp; if it was the next keypair, it becomes current. */
static bool keypairs_received_with(struct wg_peer *p, struct wg_keypair *kp)
{
	if (kp != p->next)
		return false;
	keypair_free(p, p->previous);
	p->previous = p->current;
	p->current = p->next;
	p->next = NULL;
	return true;
}

/* Derive keys from the finished handshake into a new keypair. */
static int begin_session(struct wg_peer *p, uint64_t now_ms)
{
	struct wg_device *dev = p->dev;
	struct wg_noise_session_keys keys;
	struct wg_keypair *kp = keypair_slot(p);
	char name[12];
	int rc;

	if (!kp)
		return -ENOSPC;
	rc = wg_noise_derive_keys(&dev->env, &p->hs, &keys);
	if (rc)
		goto out;
	keypair_reset(kp);
	rc = wg_aead_key_rekey(&kp->send, keys.send);
	if (!rc)
		rc = wg_aead_key_rekey(&kp->recv, keys.recv);
	if (rc) {
		keypair_reset(kp);
		goto out;
	}
	kp->in_use = true;
	kp->initiator = keys.initiator;
	kp->remote_index = keys.remote_index;
	kp->birth_ms = now_ms;
	wg_replay_init(&kp->replay);
	/* the keypair takes over the handshake's index */
	index_unlink(dev, &p->hs_entry);
	kp->entry.kind = WG_INDEX_KEYPAIR;
	kp->entry.peer = p;
	kp->entry.kp = kp;
	index_link(dev, &kp->entry, keys.local_index);
	keypairs_add(p, kp);
	p->last_handshake_ms = now_ms ? now_ms : 1;
	dev->cfg.tai64n(p->last_handshake_tai64n, dev->cfg.tai64n_arg);
	p->sent_lastminute_handshake = false;
	wg_timers_session_derived(&p->timers, now_ms);
	log_debug("wg", "peer %s: new session as %s", peer_name(p, name),
		  kp->initiator ? "initiator" : "responder");
out:
	sodium_memzero(&keys, sizeof(keys));
	return rc;
}

static bool keypair_can_send(const struct wg_keypair *kp, uint64_t now_ms)
{
	return kp && kp->in_use && !kp->send_expired &&
	       now_ms < kp->birth_ms + REJECT_AFTER_TIME_MS &&
	       kp->send_counter < REJECT_AFTER_MESSAGES;
}

/* ---------------------------------------------------------- sending */

static void notify(struct wg_peer *p, enum wg_peer_event ev)
{
	if (p->dev->cfg.notify)
		p->dev->cfg.notify(p, ev, p->dev->cfg.notify_arg);
}

static void send_to_peer(struct wg_peer *p, const uint8_t *buf, size_t len)
{
	/* without an endpoint there is nowhere to send: the peer must
	 * reach us first (its handshake sets the endpoint) */
	if (p->endpoint.sa.sa_family == AF_UNSPEC)
		return;
	p->tx_bytes += len;
	p->dev->cfg.send(p, &p->endpoint, buf, len, p->dev->cfg.send_arg);
}

static void send_initiation(struct wg_peer *p, uint64_t now_ms, bool retry)
{
	struct wg_device *dev = p->dev;
	struct wg_msg_initiation m;
	uint32_t idx;

	if (!retry)
		p->timers.handshake_attempts = 0;
	/* §6.4: at most one initiation per REKEY_TIMEOUT */
	if (p->sent_handshake &&
	    now_ms < p->last_sent_handshake_ms + REKEY_TIMEOUT_MS)
		return;
	p->hs_entry.kind = WG_INDEX_HANDSHAKE;
	p->hs_entry.peer = p;
	idx = index_new(dev, &p->hs_entry);
	if (wg_noise_create_initiation(&dev->env, &p->hs, &m, idx) ||
	    wg_cookie_add_macs(&p->cookie, &dev->b2, (uint8_t *)&m, sizeof(m),
			       now_ms)) {
		index_unlink(dev, &p->hs_entry);
		return;
	}
	wg_timers_any_authenticated_packet_traversal(&p->timers, now_ms);
	wg_timers_any_authenticated_packet_sent(&p->timers, now_ms);
	p->last_sent_handshake_ms = now_ms;
	p->sent_handshake = true;
	send_to_peer(p, (const uint8_t *)&m, sizeof(m));
	wg_timers_handshake_initiated(&p->timers, now_ms);
}

void wg_peer_start_handshake(struct wg_peer *peer, uint64_t now_ms)
{
	send_initiation(peer, now_ms, false);
	peer_sync(peer);
}

/* Pad to a multiple of 16, but not past the MTU (§5.4.6). */
static size_t padded_len(const struct wg_device *dev, size_t len)
{
	size_t padded = (len + WG_DATA_PAD - 1) & ~(size_t)(WG_DATA_PAD - 1);

	if (len >= dev->cfg.mtu)
		return len;
	return padded > dev->cfg.mtu ? dev->cfg.mtu : padded;
}

/* §6.2: rekey when the current key is old or has sent too much. */
static void keep_key_fresh_send(struct wg_peer *p, uint64_t now_ms)
{
	struct wg_keypair *kp = p->current;

	if (kp &&
	    (kp->send_counter > REKEY_AFTER_MESSAGES ||
	     (kp->initiator && now_ms >= kp->birth_ms + REKEY_AFTER_TIME_MS)))
		send_initiation(p, now_ms, false);
}

static int seal_data(struct wg_peer *peer, uint8_t *buf, size_t len, size_t cap,
		     uint64_t now_ms, size_t *out_len)
{
	struct wg_keypair *kp = peer->current;
	struct wg_msg_data *m = (struct wg_msg_data *)buf;
	size_t padded = padded_len(peer->dev, len);
	uint64_t counter;

	if (cap < WG_DATA_OVERHEAD || padded > cap - WG_DATA_OVERHEAD)
		return -EMSGSIZE;
	if (!keypair_can_send(kp, now_ms)) {
		peer->dev->stats.tx_no_session++;
		send_initiation(peer, now_ms, false);
		return -ENOKEY;
	}
	counter = kp->send_counter++;
	memset(m->payload + len, 0, padded - len);
	wg_msg_set_header(m->header, WG_MSG_DATA);
	wg_put_le32(m->receiver, kp->remote_index);
	wg_put_le64(m->counter, counter);
	if (wg_aead_seal(&kp->send, counter, m->payload, m->payload, padded,
			 NULL, 0))
		return -EIO;
	*out_len = WG_DATA_OVERHEAD + padded;
	peer->tx_bytes += *out_len;
	keep_key_fresh_send(peer, now_ms);
	wg_timers_any_authenticated_packet_traversal(&peer->timers, now_ms);
	wg_timers_any_authenticated_packet_sent(&peer->timers, now_ms);
	if (len)
		wg_timers_data_sent(&peer->timers, now_ms);
	return 0;
}

int wg_peer_encrypt(struct wg_peer *peer, uint8_t *buf, size_t len, size_t cap,
		    uint64_t now_ms, size_t *out_len)
{
	int rc = seal_data(peer, buf, len, cap, now_ms, out_len);

	peer_sync(peer);
	return rc;
}

static void send_keepalive(struct wg_peer *peer, uint64_t now_ms)
{
	uint8_t buf[WG_DATA_OVERHEAD];
	size_t n;

	if (seal_data(peer, buf, 0, sizeof(buf), now_ms, &n) == 0) {
		/* encrypt counted it already; only the socket is left */
		peer->tx_bytes -= n;
		send_to_peer(peer, buf, n);
	}
}

void wg_peer_send_keepalive(struct wg_peer *peer, uint64_t now_ms)
{
	send_keepalive(peer, now_ms);
	peer_sync(peer);
}

/* ---------------------------------------------------------- receiving */

static struct wg_noise_handshake *lookup_peer_hs(const uint8_t pub[WG_KEY_LEN],
						 void *arg)
{
	struct wg_peer *p = wg_device_find_peer(arg, pub);

	return p ? &p->hs : NULL;
}

static struct wg_peer *peer_of_hs(struct wg_noise_handshake *hs)
{
	return (struct wg_peer *)(void *)((char *)hs -
					  offsetof(struct wg_peer, hs));
}

/*
 * §5.3: MAC1 always; under load, MAC2 too, and a cookie reply instead of
 * an answer when it is missing. 0 when the message may be processed.
 */
static int check_macs(struct wg_device *dev, const union sockaddr_any *src,
		      const uint8_t *pkt, size_t len, uint32_t sender,
		      uint64_t now_ms)
{
	bool load = wg_device_under_load(dev, now_ms);
	enum wg_cookie_mac_state st;
	struct wg_msg_cookie reply;

	st = wg_cookie_validate(&dev->checker, &dev->b2, pkt, len, src, load,
				now_ms, dev->cfg.random, dev->cfg.random_arg);
	if (st == WG_COOKIE_INVALID_MAC) {
		dev->stats.rx_bad_mac1++;
		return -EBADMSG;
	}
	if (!load)
		return 0;
	if (st == WG_COOKIE_VALID_MAC_WITH_COOKIE) {
		/* the source is proven; it still gets only its share */
		if (wg_ratelimiter_allow(&dev->ratelimiter, src, now_ms))
			return 0;
		dev->stats.rx_ratelimited++;
		return -EBUSY;
	}
	if (wg_cookie_create_reply(&dev->checker, &dev->b2, &reply, pkt, len,
				   sender, src, now_ms, dev->cfg.random,
				   dev->cfg.random_arg) == 0)
		dev->cfg.send(NULL, src, (const uint8_t *)&reply, sizeof(reply),
			      dev->cfg.send_arg);
	dev->stats.rx_cookie_sent++;
	return -EBUSY;
}

static void count_initiation_error(struct wg_device *dev, int rc)
{
	if (rc == -EALREADY)
		dev->stats.rx_handshake_replay++;
	else if (rc == -EBUSY)
		dev->stats.rx_handshake_flood++;
	else
		dev->stats.rx_handshake_bad++;
}

static void authenticated_rx(struct wg_peer *p, const union sockaddr_any *src,
			     size_t len, uint64_t now_ms)
{
	/* roaming (§2.1): the latest authenticated source is the endpoint */
	p->endpoint = *src;
	p->rx_bytes += len;
	wg_timers_any_authenticated_packet_received(&p->timers, now_ms);
	wg_timers_any_authenticated_packet_traversal(&p->timers, now_ms);
}

static int recv_initiation(struct wg_device *dev, const union sockaddr_any *src,
			   const struct wg_msg *msg, uint64_t now_ms,
			   struct wg_rx *out)
{
	struct wg_noise_handshake *hs;
	struct wg_msg_response r;
	struct wg_peer *p;
	int rc;

	rc = check_macs(dev, src, (const uint8_t *)msg->u.init, msg->len,
			msg->sender, now_ms);
	if (rc)
		return rc;
	rc = wg_noise_consume_initiation(&dev->env, msg->u.init, lookup_peer_hs,
					 dev, now_ms, &hs);
	if (rc) {
		count_initiation_error(dev, rc);
		return rc;
	}
	p = peer_of_hs(hs);
	out->peer = p;
	authenticated_rx(p, src, msg->len, now_ms);
	/* answer at once: response, keys (as the next keypair), send */
	p->hs_entry.kind = WG_INDEX_HANDSHAKE;
	p->hs_entry.peer = p;
	rc = wg_noise_create_response(&dev->env, hs, &r,
				      index_new(dev, &p->hs_entry));
	if (!rc)
		rc = wg_cookie_add_macs(&p->cookie, &dev->b2, (uint8_t *)&r,
					sizeof(r), now_ms);
	if (!rc)
		rc = begin_session(p, now_ms);
	if (rc) {
		index_unlink(dev, &p->hs_entry);
		return rc;
	}
	p->last_sent_handshake_ms = now_ms;
	p->sent_handshake = true;
	wg_timers_any_authenticated_packet_traversal(&p->timers, now_ms);
	wg_timers_any_authenticated_packet_sent(&p->timers, now_ms);
	send_to_peer(p, (const uint8_t *)&r, sizeof(r));
	return 0;
}

static int recv_response(struct wg_device *dev, const union sockaddr_any *src,
			 const struct wg_msg *msg, uint64_t now_ms,
			 struct wg_rx *out)
{
	struct wg_index_entry *e;
	struct wg_peer *p;
	int rc;

	rc = check_macs(dev, src, (const uint8_t *)msg->u.resp, msg->len,
			msg->sender, now_ms);
	if (rc)
		return rc;
	e = index_find(dev, msg->receiver);
	if (!e || e->kind != WG_INDEX_HANDSHAKE) {
		dev->stats.rx_unknown_index++;
		return -ENOENT;
	}
	p = e->peer;
	rc = wg_noise_consume_response(&dev->env, &p->hs, msg->u.resp);
	if (rc) {
		dev->stats.rx_handshake_bad++;
		return rc;
	}
	out->peer = p;
	authenticated_rx(p, src, msg->len, now_ms);
	rc = begin_session(p, now_ms);
	if (rc)
		return rc;
	wg_timers_handshake_complete(&p->timers, now_ms);
	notify(p, WG_EV_SESSION_READY);
	/* confirm the session to the responder at once (§6.3) */
	send_keepalive(p, now_ms);
	return 0;
}

static int recv_cookie(struct wg_device *dev, const struct wg_msg *msg,
		       uint64_t now_ms, struct wg_rx *out)
{
	struct wg_index_entry *e = index_find(dev, msg->receiver);

	if (!e) {
		dev->stats.rx_unknown_index++;
		return -ENOENT;
	}
	if (wg_cookie_consume_reply(&e->peer->cookie, msg->u.cookie, now_ms)) {
		dev->stats.rx_cookie_bad++;
		return -EBADMSG;
	}
	/* the retransmission timer resends, now with MAC2 */
	out->peer = e->peer;
	return 0;
}

/* The IP packet's own length, or 0 when plaintext is not one (§5.4.6 pads). */
static size_t ip_len(const uint8_t *p, size_t len)
{
	size_t n;

	if (len >= 20 && (p[0] >> 4) == 4) {
		n = (size_t)p[2] << 8 | p[3];
		return n >= 20 && n <= len ? n : 0;
	}
	if (len >= 40 && (p[0] >> 4) == 6) {
		n = 40 + ((size_t)p[4] << 8 | p[5]);
		return n <= len ? n : 0;
	}
	return 0;
}

/* §6.2: as initiator, rekey shortly before the session would be rejected */
static void keep_key_fresh_recv(struct wg_peer *p, uint64_t now_ms)
{
	struct wg_keypair *kp = p->current;

	if (kp && kp->initiator && !p->sent_lastminute_handshake &&
	    now_ms >= kp->birth_ms + REJECT_AFTER_TIME_MS -
			      KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS) {
		p->sent_lastminute_handshake = true;
		send_initiation(p, now_ms, false);
	}
}

static int recv_data(struct wg_device *dev, const union sockaddr_any *src,
		     uint8_t *pkt, const struct wg_msg *msg, uint64_t now_ms,
		     struct wg_rx *out)
{
	struct wg_index_entry *e = index_find(dev, msg->receiver);
	struct wg_keypair *kp;
	struct wg_peer *p;
	uint8_t *plain = pkt + WG_DATA_HEADER_LEN;
	size_t plen = msg->payload_len - WG_AEAD_TAG_LEN, n;

	if (!e || e->kind != WG_INDEX_KEYPAIR) {
		dev->stats.rx_unknown_index++;
		return -ENOENT;
	}
	kp = e->kp;
	p = e->peer;
	if (now_ms >= kp->birth_ms + REJECT_AFTER_TIME_MS) {
		dev->stats.rx_key_expired++;
		return -EKEYEXPIRED;
	}
	if (!wg_replay_check(&kp->replay, msg->counter)) {
		dev->stats.rx_replay++;
		return -EALREADY;
	}
	if (wg_aead_open(&kp->recv, msg->counter, plain, plain,
			 msg->payload_len, NULL, 0)) {
		dev->stats.rx_bad_auth++;
		return -EBADMSG;
	}
	if (!wg_replay_accept(&kp->replay, msg->counter)) {
		dev->stats.rx_replay++;
		return -EALREADY;
	}
	out->peer = p;
	if (keypairs_received_with(p, kp)) {
		wg_timers_handshake_complete(&p->timers, now_ms);
		notify(p, WG_EV_SESSION_READY);
	}
	keep_key_fresh_recv(p, now_ms);
	authenticated_rx(p, src, msg->len, now_ms);
	if (plen == 0)
		return 0; /* keepalive */
	wg_timers_data_received(&p->timers, now_ms);
	n = ip_len(plain, plen);
	if (!n) {
		dev->stats.rx_bad_ip++;
		return -EPROTO;
	}
	out->data = plain;
	out->len = n;
	return 0;
}

static int recv_msg(struct wg_device *dev, const union sockaddr_any *src,
		    uint8_t *pkt, size_t len, uint64_t now_ms,
		    struct wg_rx *out)
{
	struct wg_msg msg;

	memset(out, 0, sizeof(*out));
	if (wg_msg_parse(pkt, len, &msg)) {
		dev->stats.rx_malformed++;
		return -EBADMSG;
	}
	switch (msg.type) {
	case WG_MSG_INITIATION:
		return recv_initiation(dev, src, &msg, now_ms, out);
	case WG_MSG_RESPONSE:
		return recv_response(dev, src, &msg, now_ms, out);
	case WG_MSG_COOKIE:
		return recv_cookie(dev, &msg, now_ms, out);
	case WG_MSG_DATA:
		return recv_data(dev, src, pkt, &msg, now_ms, out);
	}
	dev->stats.rx_malformed++;
	return -EBADMSG;
}

int wg_device_recv(struct wg_device *dev, const union sockaddr_any *src,
		   uint8_t *pkt, size_t len, uint64_t now_ms, struct wg_rx *out)
{
	int rc = recv_msg(dev, src, pkt, len, now_ms, out);
	char a[ADDR_STRLEN];

	if (out->peer)
		peer_sync(out->peer);
	if (rc < 0)
		log_ratelimited(
			LOG_LEVEL_DEBUG, "wg",
			"dropped %zu-byte message (type %u) from %s: %s", len,
			len ? pkt[0] : 0, addr_to_str(src, a, sizeof(a)),
			strerror(-rc));
	return rc;
}

struct wg_peer *wg_device_lookup(struct wg_device *dev, const uint8_t *pkt,
				 size_t len)
{
	struct wg_index_entry *e;
	struct wg_msg msg;

	if (wg_msg_parse(pkt, len, &msg) || msg.type == WG_MSG_INITIATION)
		return NULL;
	e = index_find(dev, msg.receiver);
	return e ? e->peer : NULL;
}

/* ---------------------------------------------------------- timers */

static void peer_zero_keys(struct wg_peer *p)
{
	keypairs_clear(p);
	index_unlink(p->dev, &p->hs_entry);
	wg_noise_handshake_clear(&p->hs);
}

static void peer_tick(struct wg_peer *p, uint64_t now_ms)
{
	unsigned act = wg_timers_expire(&p->timers, now_ms);
	char name[12];

	if (act & WG_TIMER_ACT_GIVE_UP) {
		log_info("wg", "peer %s: no handshake after %d s, giving up",
			 peer_name(p, name), REKEY_ATTEMPT_TIME_MS / 1000);
		notify(p, WG_EV_HANDSHAKE_GAVE_UP);
	}
	if (act & WG_TIMER_ACT_RETRY_INITIATION)
		send_initiation(p, now_ms, true);
	if (act & WG_TIMER_ACT_SEND_INITIATION)
		send_initiation(p, now_ms, false);
	if (act & WG_TIMER_ACT_SEND_KEEPALIVE)
		send_keepalive(p, now_ms);
	if (act & WG_TIMER_ACT_ZERO_KEYS) {
		log_debug("wg",
			  "peer %s: keys erased after %d s without a session",
			  peer_name(p, name), 3 * REJECT_AFTER_TIME_MS / 1000);
		peer_zero_keys(p);
		notify(p, WG_EV_KEYS_ZEROED);
	}
}

void wg_device_tick(struct wg_device *dev, uint64_t now_ms)
{
	struct wg_peer *p;
	/* every due timer is disarmed or moved past now: each peer once */
	uint32_t budget = dev->heap_len;

	while (budget-- && dev->heap_len && dev->heap[0]->heap_key <= now_ms) {
		p = dev->heap[0];
		peer_tick(p, now_ms);
		peer_sync(p);
	}
}

uint64_t wg_device_next_deadline(const struct wg_device *dev)
{
	return dev->heap_len ? dev->heap[0]->heap_key : UINT64_MAX;
}

/* ---------------------------------------------------------- device, peers */

int wg_device_create(const struct wg_device_config *cfg, struct wg_device **out)
{
	struct wg_device *dev;
	int rc;

	if (!cfg->send || cfg->max_peers > WG_MAX_PEERS_LIMIT)
		return -EINVAL;
	if (sodium_init() < 0)
		return -ENOMEM;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->cfg = *cfg;
	dev->cfg.private_key = NULL;
	if (!dev->cfg.mtu)
		dev->cfg.mtu = WG_DEFAULT_MTU;
	if (!dev->cfg.max_peers)
		dev->cfg.max_peers = WG_DEFAULT_MAX_PEERS;
	if (!dev->cfg.random)
		dev->cfg.random = default_random;
	if (!dev->cfg.tai64n)
		dev->cfg.tai64n = wg_tai64n_now;
	dev->env =
		(struct wg_noise_env){ &dev->b2,	&dev->id,
				       dev->cfg.random, dev->cfg.random_arg,
				       dev->cfg.tai64n, dev->cfg.tai64n_arg };
	dev->index = calloc(WG_INDEX_BUCKETS, sizeof(*dev->index));
	dev->peer_hash = calloc(WG_PEER_BUCKETS, sizeof(*dev->peer_hash));
	dev->heap = calloc(dev->cfg.max_peers, sizeof(*dev->heap));
	rc = -ENOMEM;
	if (!dev->index || !dev->peer_hash || !dev->heap)
		goto err;
	rc = wg_blake2s_init(&dev->b2);
	if (rc)
		goto err;
	{
		uint8_t key[16];

		dev->cfg.random(key, sizeof(key), dev->cfg.random_arg);
		rc = wg_ratelimiter_init(&dev->ratelimiter, 0, key);
		sodium_memzero(key, sizeof(key));
		if (rc)
			goto err;
	}
	if (cfg->private_key) {
		rc = wg_device_set_private_key(dev, cfg->private_key);
		if (rc)
			goto err;
	}
	*out = dev;
	return 0;
err:
	wg_device_destroy(dev);
	return rc;
}

static void peer_free(struct wg_peer *p)
{
	peer_zero_keys(p);
	for (int i = 0; i < WG_KEYPAIR_SLOTS; i++)
		keypair_slot_release(&p->slots[i]);
	wg_cookie_maker_clear(&p->cookie);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

void wg_device_destroy(struct wg_device *dev)
{
	struct wg_peer *p, *n;

	if (!dev)
		return;
	for (p = dev->peers; p; p = n) {
		n = p->list_next;
		peer_free(p);
	}
	wg_blake2s_free(&dev->b2);
	wg_ratelimiter_free(&dev->ratelimiter);
	wg_noise_static_clear(&dev->id);
	wg_cookie_checker_clear(&dev->checker);
	free(dev->index);
	free(dev->peer_hash);
	free(dev->heap);
	sodium_memzero(dev, sizeof(*dev));
	free(dev);
}

/* Restart a peer's handshake state for the current local key. */
static void peer_rekey_static(struct wg_peer *p)
{
	uint8_t psk[WG_KEY_LEN];
	uint8_t ts[WG_TAI64N_LEN];
	uint64_t last = p->hs.last_initiation_ms;
	bool has_last = p->hs.has_last_initiation;

	memcpy(psk, p->hs.psk, sizeof(psk));
	memcpy(ts, p->hs.latest_timestamp, sizeof(ts));
	index_unlink(p->dev, &p->hs_entry);
	wg_noise_handshake_init(&p->hs, &p->dev->env, p->pub, psk);
	/* the replay protection outlives a key change */
	memcpy(p->hs.latest_timestamp, ts, sizeof(ts));
	p->hs.last_initiation_ms = last;
	p->hs.has_last_initiation = has_last;
	sodium_memzero(psk, sizeof(psk));
	/* sessions made with the old key only receive now; rekey at once */
	if (p->current)
		p->current->send_expired = true;
	if (p->next)
		p->next->send_expired = true;
	p->sent_handshake = false;
}

int wg_device_set_private_key(struct wg_device *dev,
			      const uint8_t key[WG_KEY_LEN])
{
	int rc = 0;

	wg_noise_static_clear(&dev->id);
	wg_cookie_checker_clear(&dev->checker);
	if (key) {
		rc = wg_noise_keypair_from(&dev->id, key);
		if (!rc)
			rc = wg_cookie_checker_init(&dev->checker, &dev->b2,
						    dev->id.pub);
		if (rc)
			wg_noise_static_clear(&dev->id);
	}
	for (struct wg_peer *p = dev->peers, *n; p; p = n) {
		n = p->list_next;
		/* a peer with our own public key cannot be talked to */
		if (dev->id.has && !memcmp(p->pub, dev->id.pub, WG_KEY_LEN))
			wg_device_remove_peer(dev, p);
		else
			peer_rekey_static(p);
	}
	return rc;
}

const uint8_t *wg_device_public_key(const struct wg_device *dev)
{
	return dev->id.has ? dev->id.pub : NULL;
}

int wg_device_get_private_key(const struct wg_device *dev,
			      uint8_t out[WG_KEY_LEN])
{
	if (!dev->id.has)
		return -ENOENT;
	memcpy(out, dev->id.priv, WG_KEY_LEN);
	return 0;
}

const struct wg_device_stats *wg_device_stats(const struct wg_device *dev)
{
	return &dev->stats;
}

void wg_device_report_backlog(struct wg_device *dev, size_t queued,
			      uint64_t now_ms)
{
	if (queued >= WG_UNDER_LOAD_BACKLOG)
		dev->under_load_until_ms = now_ms + WG_UNDER_LOAD_AFTER_MS;
}

bool wg_device_under_load(const struct wg_device *dev, uint64_t now_ms)
{
	return now_ms < dev->under_load_until_ms;
}

static struct wg_peer **peer_bucket(struct wg_device *dev,
				    const uint8_t pub[WG_KEY_LEN])
{
	return &dev->peer_hash[wg_get_le32(pub) & (WG_PEER_BUCKETS - 1)];
}

struct wg_peer *wg_device_find_peer(struct wg_device *dev,
				    const uint8_t pub[WG_KEY_LEN])
{
	struct wg_peer *p = *peer_bucket(dev, pub);

	while (p && memcmp(p->pub, pub, WG_KEY_LEN))
		p = p->hash_next;
	return p;
}

struct wg_peer *wg_device_next_peer(struct wg_device *dev, struct wg_peer *prev)
{
	return prev ? prev->list_next : dev->peers;
}

int wg_device_add_peer(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN],
		       const uint8_t psk[WG_KEY_LEN], struct wg_peer **out)
{
	struct wg_peer *p, **b;

	if (wg_device_find_peer(dev, pub))
		return -EEXIST;
	if (dev->id.has && !memcmp(pub, dev->id.pub, WG_KEY_LEN))
		return -EINVAL;
	if (dev->npeers >= dev->cfg.max_peers)
		return -ENOSPC;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = dev;
	p->heap_pos = WG_HEAP_NONE;
	memcpy(p->pub, pub, WG_KEY_LEN);
	if (wg_cookie_maker_init(&p->cookie, &dev->b2, pub)) {
		free(p);
		return -EIO;
	}
	wg_noise_handshake_init(&p->hs, &dev->env, pub, psk);
	wg_timers_init(&p->timers, dev->cfg.random, dev->cfg.random_arg);
	b = peer_bucket(dev, pub);
	p->hash_next = *b;
	*b = p;
	p->list_next = dev->peers;
	dev->peers = p;
	dev->npeers++;
	*out = p;
	return 0;
}

void wg_device_remove_peer(struct wg_device *dev, struct wg_peer *peer)
{
	struct wg_peer **pp;

	for (pp = peer_bucket(dev, peer->pub); *pp; pp = &(*pp)->hash_next)
		if (*pp == peer) {
			*pp = peer->hash_next;
			break;
		}
	for (pp = &dev->peers; *pp; pp = &(*pp)->list_next)
		if (*pp == peer) {
			*pp = peer->list_next;
			break;
		}
	dev->npeers--;
	heap_remove(dev, peer);
	peer_free(peer);
}

void wg_peer_set_endpoint(struct wg_peer *peer, const union sockaddr_any *ep)
{
	peer->endpoint = *ep;
}

void wg_peer_set_psk(struct wg_peer *peer, const uint8_t psk[WG_KEY_LEN])
{
	if (psk)
		memcpy(peer->hs.psk, psk, WG_KEY_LEN);
	else
		sodium_memzero(peer->hs.psk, WG_KEY_LEN);
}

bool wg_peer_get_psk(const struct wg_peer *peer, uint8_t out[WG_KEY_LEN])
{
	memcpy(out, peer->hs.psk, WG_KEY_LEN);
	return !sodium_is_zero(out, WG_KEY_LEN);
}

void wg_peer_set_persistent_keepalive(struct wg_peer *peer, uint16_t secs,
				      uint64_t now_ms)
{
	peer->persistent_keepalive_s = secs;
	wg_timers_set_persistent_keepalive(&peer->timers, secs, now_ms);
	/* §6.5: a keepalive goes out at once when it is switched on */
	if (secs)
		send_keepalive(peer, now_ms);
	peer_sync(peer);
}

void wg_peer_get_info(const struct wg_peer *peer, struct wg_peer_info *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->public_key, peer->pub, WG_KEY_LEN);
	out->endpoint = peer->endpoint;
	out->rx_bytes = peer->rx_bytes;
	out->tx_bytes = peer->tx_bytes;
	out->last_handshake_ms = peer->last_handshake_ms;
	if (peer->last_handshake_ms)
		wg_tai64n_decode(peer->last_handshake_tai64n,
				 &out->last_handshake_unix_s,
				 &out->last_handshake_unix_ns);
	out->persistent_keepalive_s = peer->persistent_keepalive_s;
}

void wg_peer_set_user(struct wg_peer *peer, void *user)
{
	peer->user = user;
}

void *wg_peer_user(const struct wg_peer *peer)
{
	return peer->user;
}

bool wg_peer_has_session(const struct wg_peer *peer, uint64_t now_ms)
{
	return keypair_can_send(peer->current, now_ms);
}
