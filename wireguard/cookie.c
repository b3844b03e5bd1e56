// SPDX-License-Identifier: MIT
#include "wireguard/cookie.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wireguard/aead.h"

static const char LABEL_MAC1[] = "mac1----"; /* §5.4.4 */
static const char LABEL_COOKIE[] = "cookie--"; /* §5.4.7 */

static int derive_keys(struct wg_blake2s *b2, uint8_t mac1_key[WG_HASH_LEN],
		       uint8_t cookie_key[WG_HASH_LEN],
		       const uint8_t pub[WG_KEY_LEN])
{
	if (wg_blake2s_hash(b2, mac1_key, LABEL_MAC1, sizeof(LABEL_MAC1) - 1,
			    pub, WG_KEY_LEN) ||
	    wg_blake2s_hash(b2, cookie_key, LABEL_COOKIE,
			    sizeof(LABEL_COOKIE) - 1, pub, WG_KEY_LEN))
		return -EIO;
	return 0;
}

int wg_cookie_checker_init(struct wg_cookie_checker *c, struct wg_blake2s *b2,
			   const uint8_t local_pub[WG_KEY_LEN])
{
	return derive_keys(b2, c->mac1_key, c->cookie_key, local_pub);
}

void wg_cookie_checker_clear(struct wg_cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

/* cookie = MAC(Rm, source IP || source port), Rm renewed every 2 minutes */
static int make_cookie(struct wg_cookie_checker *c, struct wg_blake2s *b2,
		       uint8_t cookie[WG_COOKIE_LEN],
		       const union sockaddr_any *src, uint64_t now_ms,
		       wg_random_fn random, void *random_arg)
{
	uint8_t a[18];
	size_t alen;
	uint16_t port;

	if (!c->has_secret ||
	    now_ms >= c->secret_birth_ms + COOKIE_SECRET_MAX_AGE_MS) {
		random(c->secret, sizeof(c->secret), random_arg);
		c->secret_birth_ms = now_ms;
		c->has_secret = true;
	}
	if (src->sa.sa_family == AF_INET) {
		memcpy(a, &src->in4.sin_addr, 4);
		alen = 4;
	} else if (src->sa.sa_family == AF_INET6) {
		memcpy(a, &src->in6.sin6_addr, 16);
		alen = 16;
	} else {
		alen = 0;
	}
	port = addr_port(src);
	a[alen++] = (uint8_t)(port >> 8);
	a[alen++] = (uint8_t)port;
	return wg_blake2s_mac(b2, cookie, c->secret, sizeof(c->secret), a,
			      alen);
}

enum wg_cookie_mac_state
wg_cookie_validate(struct wg_cookie_checker *c, struct wg_blake2s *b2,
		   const uint8_t *msg, size_t len,
		   const union sockaddr_any *src, bool check_cookie,
		   uint64_t now_ms, wg_random_fn random, void *random_arg)
{
	const size_t mac1_off = len - sizeof(struct wg_msg_macs);
	const size_t mac2_off = mac1_off + WG_MAC_LEN;
	uint8_t mac[WG_MAC_LEN], cookie[WG_COOKIE_LEN];
	enum wg_cookie_mac_state st = WG_COOKIE_INVALID_MAC;

	if (len < sizeof(struct wg_msg_macs) ||
	    wg_blake2s_mac(b2, mac, c->mac1_key, WG_HASH_LEN, msg, mac1_off) ||
	    sodium_memcmp(mac, msg + mac1_off, WG_MAC_LEN) != 0)
		goto out;
	st = WG_COOKIE_VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie ||
	    make_cookie(c, b2, cookie, src, now_ms, random, random_arg) ||
	    wg_blake2s_mac(b2, mac, cookie, sizeof(cookie), msg, mac2_off) ||
	    sodium_memcmp(mac, msg + mac2_off, WG_MAC_LEN) != 0)
		goto out;
	st = WG_COOKIE_VALID_MAC_WITH_COOKIE;
out:
	sodium_memzero(cookie, sizeof(cookie));
	if (check_cookie)
		wg_blake2s_scrub_mac(
			b2); /* the MAC context last held Rm or a cookie */
	return st;
}

int wg_cookie_create_reply(struct wg_cookie_checker *c, struct wg_blake2s *b2,
			   struct wg_msg_cookie *out, const uint8_t *msg,
			   size_t len, uint32_t receiver,
			   const union sockaddr_any *src, uint64_t now_ms,
			   wg_random_fn random, void *random_arg)
{
	uint8_t cookie[WG_COOKIE_LEN];
	const uint8_t *mac1 = msg + len - sizeof(struct wg_msg_macs);
	int rc = -EIO;

	wg_msg_set_header(out->header, WG_MSG_COOKIE);
	wg_put_le32(out->receiver, receiver);
	random(out->nonce, sizeof(out->nonce), random_arg);
	/* §5.4.7: the cookie, sealed under the MAC1 of the message it answers */
	if (!make_cookie(c, b2, cookie, src, now_ms, random, random_arg) &&
	    !wg_xaead_seal(c->cookie_key, out->nonce, out->enc_cookie, cookie,
			   sizeof(cookie), mac1, WG_MAC_LEN))
		rc = 0;
	sodium_memzero(cookie, sizeof(cookie));
	wg_blake2s_scrub_mac(b2);
	return rc;
}

int wg_cookie_maker_init(struct wg_cookie_maker *m, struct wg_blake2s *b2,
			 const uint8_t remote_pub[WG_KEY_LEN])
{
	sodium_memzero(m, sizeof(*m));
	return derive_keys(b2, m->mac1_key, m->cookie_key, remote_pub);
}

void wg_cookie_maker_clear(struct wg_cookie_maker *m)
{
	sodium_memzero(m, sizeof(*m));
}

int wg_cookie_add_macs(struct wg_cookie_maker *m, struct wg_blake2s *b2,
		       uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct wg_msg_macs *macs;
	size_t off;

	if (len < sizeof(*macs))
		return -EINVAL;
	off = len - sizeof(*macs);
	macs = (struct wg_msg_macs *)(msg + off);
	if (wg_blake2s_mac(b2, macs->mac1, m->mac1_key, WG_HASH_LEN, msg, off))
		return -EIO;
	memcpy(m->last_mac1_sent, macs->mac1, WG_MAC_LEN);
	m->have_sent_mac1 = true;
	if (m->cookie_valid && now_ms < m->cookie_birth_ms +
						COOKIE_SECRET_MAX_AGE_MS -
						COOKIE_SECRET_LATENCY_MS) {
		int rc = wg_blake2s_mac(b2, macs->mac2, m->cookie,
					WG_COOKIE_LEN, msg, off + WG_MAC_LEN);

		wg_blake2s_scrub_mac(b2);
		if (rc)
			return -EIO;
	} else {
		memset(macs->mac2, 0, WG_MAC_LEN);
	}
	return 0;
}

int wg_cookie_consume_reply(struct wg_cookie_maker *m,
			    const struct wg_msg_cookie *msg, uint64_t now_ms)
{
	uint8_t cookie[WG_COOKIE_LEN];
	int rc = -EINVAL;

	if (!m->have_sent_mac1)
		goto out;
	rc = wg_xaead_open(m->cookie_key, msg->nonce, cookie, msg->enc_cookie,
			   sizeof(msg->enc_cookie), m->last_mac1_sent,
			   WG_MAC_LEN);
	if (rc)
		goto out;
	memcpy(m->cookie, cookie, sizeof(cookie));
	m->cookie_birth_ms = now_ms;
	m->cookie_valid = true;
	/* one reply per message sent: a second copy is not consumed */
	m->have_sent_mac1 = false;
out:
	sodium_memzero(cookie, sizeof(cookie));
	return rc;
}
