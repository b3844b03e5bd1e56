// SPDX-License-Identifier: MIT
#include "wireguard/noise.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "wireguard/aead.h"

/* §5.4: the Noise protocol name and WireGuard's identifier string */
static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* One hashing state of a handshake in progress: chaining key and hash. */
struct symmetric {
	uint8_t ck[WG_HASH_LEN];
	uint8_t h[WG_HASH_LEN];
};

/* The end of every handshake step: its chaining state and the HMAC key. */
static void sym_wipe(const struct wg_noise_env *env, struct symmetric *s)
{
	sodium_memzero(s, sizeof(*s));
	wg_blake2s_scrub(env->b2);
}

/* KDF_n of §5.4 (HKDF over HMAC-BLAKE2s); t2/t3 may be NULL. */
static int kdf(const struct wg_noise_env *env, uint8_t t1[WG_HASH_LEN],
	       uint8_t t2[WG_HASH_LEN], uint8_t t3[WG_HASH_LEN],
	       const uint8_t key[WG_HASH_LEN], const uint8_t *in, size_t inlen)
{
	uint8_t t0[WG_HASH_LEN], t[WG_HASH_LEN];
	uint8_t one = 1, two = 2, three = 3;
	int rc = -EIO;

	if (wg_blake2s_hmac(env->b2, t0, key, in, inlen, NULL, 0) ||
	    wg_blake2s_hmac(env->b2, t, t0, &one, 1, NULL, 0))
		goto out;
	memcpy(t1, t, sizeof(t));
	if (t2 && wg_blake2s_hmac(env->b2, t, t0, t1, WG_HASH_LEN, &two, 1))
		goto out;
	if (t2)
		memcpy(t2, t, sizeof(t));
	if (t3 && wg_blake2s_hmac(env->b2, t, t0, t2, WG_HASH_LEN, &three, 1))
		goto out;
	if (t3)
		memcpy(t3, t, sizeof(t));
	rc = 0;
out:
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(t, sizeof(t));
	return rc;
}

static int mix_hash(const struct wg_noise_env *env, struct symmetric *s,
		    const uint8_t *data, size_t len)
{
	return wg_blake2s_hash(env->b2, s->h, s->h, WG_HASH_LEN, data, len);
}

/* ck = KDF1(ck, in) or (ck, key) = KDF2(ck, in) when key is not NULL. */
static int mix_key(const struct wg_noise_env *env, struct symmetric *s,
		   uint8_t key[WG_KEY_LEN], const uint8_t *in, size_t inlen)
{
	return kdf(env, s->ck, key, NULL, s->ck, in, inlen);
}

/* Mix DH(priv, pub); -EINVAL when the result is the all-zero point. */
static int mix_dh(const struct wg_noise_env *env, struct symmetric *s,
		  uint8_t key[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
		  const uint8_t pub[WG_KEY_LEN])
{
	uint8_t dh[WG_KEY_LEN];
	int rc = -EINVAL;

	/* crypto_scalarmult fails on an all-zero result (small-order pub) */
	if (crypto_scalarmult(dh, priv, pub) == 0)
		rc = mix_key(env, s, key, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return rc;
}

/* ck = HASH(CONSTRUCTION), h = HASH(HASH(ck || IDENTIFIER) || S_responder) */
static int sym_start(const struct wg_noise_env *env, struct symmetric *s,
		     const uint8_t responder_static[WG_KEY_LEN])
{
	if (wg_blake2s_hash(env->b2, s->ck, CONSTRUCTION,
			    sizeof(CONSTRUCTION) - 1, NULL, 0) ||
	    wg_blake2s_hash(env->b2, s->h, s->ck, WG_HASH_LEN, IDENTIFIER,
			    sizeof(IDENTIFIER) - 1) ||
	    mix_hash(env, s, responder_static, WG_KEY_LEN))
		return -EIO;
	return 0;
}

/* A fresh ephemeral: priv from the env's random source, clamped; pub out. */
static int new_ephemeral(const struct wg_noise_env *env,
			 uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	env->random(priv, WG_KEY_LEN, env->random_arg);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
	return crypto_scalarmult_base(pub, priv) ? -EINVAL : 0;
}

/* e: ck = KDF1(ck, E_pub), h = HASH(h || E_pub) */
static int mix_ephemeral(const struct wg_noise_env *env, struct symmetric *s,
			 const uint8_t pub[WG_KEY_LEN])
{
	if (mix_key(env, s, NULL, pub, WG_KEY_LEN) ||
	    mix_hash(env, s, pub, WG_KEY_LEN))
		return -EIO;
	return 0;
}

/* psk: (ck, t, k) = KDF3(ck, Q), h = HASH(h || t) */
static int mix_psk(const struct wg_noise_env *env, struct symmetric *s,
		   uint8_t key[WG_KEY_LEN], const uint8_t psk[WG_KEY_LEN])
{
	uint8_t t[WG_HASH_LEN];
	int rc = -EIO;

	if (!kdf(env, s->ck, t, key, s->ck, psk, WG_KEY_LEN) &&
	    !mix_hash(env, s, t, sizeof(t)))
		rc = 0;
	sodium_memzero(t, sizeof(t));
	return rc;
}

/* Seal plaintext with k under h as associated data, then mix the result. */
static int seal_and_hash(const struct wg_noise_env *env, struct symmetric *s,
			 uint8_t *dst, const uint8_t k[WG_KEY_LEN],
			 const uint8_t *src, size_t len)
{
	if (wg_aead_seal_once(k, 0, dst, src, len, s->h, WG_HASH_LEN) ||
	    mix_hash(env, s, dst, len + WG_AEAD_TAG_LEN))
		return -EIO;
	return 0;
}

static int open_and_hash(const struct wg_noise_env *env, struct symmetric *s,
			 uint8_t *dst, const uint8_t k[WG_KEY_LEN],
			 const uint8_t *src, size_t len)
{
	if (wg_aead_open_once(k, 0, dst, src, len, s->h, WG_HASH_LEN))
		return -EBADMSG;
	return mix_hash(env, s, src, len) ? -EIO : 0;
}

int wg_noise_keypair_from(struct wg_noise_static *s,
			  const uint8_t priv[WG_KEY_LEN])
{
	memcpy(s->priv, priv, WG_KEY_LEN);
	s->priv[0] &= 248;
	s->priv[31] = (s->priv[31] & 127) | 64;
	if (crypto_scalarmult_base(s->pub, s->priv)) {
		wg_noise_static_clear(s);
		return -EINVAL;
	}
	s->has = true;
	return 0;
}

void wg_noise_static_clear(struct wg_noise_static *s)
{
	sodium_memzero(s, sizeof(*s));
}

int wg_noise_handshake_init(struct wg_noise_handshake *hs,
			    const struct wg_noise_env *env,
			    const uint8_t remote_static[WG_KEY_LEN],
			    const uint8_t psk[WG_KEY_LEN])
{
	sodium_memzero(hs, sizeof(*hs));
	memcpy(hs->remote_static, remote_static, WG_KEY_LEN);
	if (psk)
		memcpy(hs->psk, psk, WG_KEY_LEN);
	if (!env->local->has)
		return -EINVAL;
	hs->ss_valid = crypto_scalarmult(hs->static_static, env->local->priv,
					 remote_static) == 0;
	return 0;
}

void wg_noise_handshake_clear(struct wg_noise_handshake *hs)
{
	hs->state = WG_HS_ZEROED;
	sodium_memzero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	sodium_memzero(hs->ephemeral_priv, sizeof(hs->ephemeral_priv));
	sodium_memzero(hs->hash, sizeof(hs->hash));
	sodium_memzero(hs->chaining_key, sizeof(hs->chaining_key));
	hs->local_index = 0;
	hs->remote_index = 0;
}

static void sym_save(struct wg_noise_handshake *hs, const struct symmetric *s)
{
	memcpy(hs->chaining_key, s->ck, WG_HASH_LEN);
	memcpy(hs->hash, s->h, WG_HASH_LEN);
}

static void sym_load(struct symmetric *s, const struct wg_noise_handshake *hs)
{
	memcpy(s->ck, hs->chaining_key, WG_HASH_LEN);
	memcpy(s->h, hs->hash, WG_HASH_LEN);
}

int wg_noise_create_initiation(const struct wg_noise_env *env,
			       struct wg_noise_handshake *hs,
			       struct wg_msg_initiation *msg,
			       uint32_t local_index)
{
	struct symmetric s;
	uint8_t k[WG_KEY_LEN], ts[WG_TAI64N_LEN];
	int rc = -EINVAL;

	if (!env->local->has || !hs->ss_valid)
		goto out;
	memset(msg, 0, sizeof(*msg));
	wg_msg_set_header(msg->header, WG_MSG_INITIATION);
	wg_put_le32(msg->sender, local_index);
	rc = -EIO;
	if (sym_start(env, &s, hs->remote_static) ||
	    new_ephemeral(env, hs->ephemeral_priv, msg->ephemeral) ||
	    mix_ephemeral(env, &s, msg->ephemeral))
		goto out;
	/* es, then s: the static key encrypted */
	if (mix_dh(env, &s, k, hs->ephemeral_priv, hs->remote_static) ||
	    seal_and_hash(env, &s, msg->enc_static, k, env->local->pub,
			  WG_KEY_LEN))
		goto out;
	/* ss, then the timestamp */
	if (mix_key(env, &s, k, hs->static_static, WG_KEY_LEN))
		goto out;
	env->tai64n(ts, env->tai64n_arg);
	if (seal_and_hash(env, &s, msg->enc_timestamp, k, ts, sizeof(ts)))
		goto out;
	sym_save(hs, &s);
	hs->local_index = local_index;
	hs->state = WG_HS_CREATED_INITIATION;
	rc = 0;
out:
	if (rc)
		wg_noise_handshake_clear(hs);
	sym_wipe(env, &s);
	sodium_memzero(k, sizeof(k));
	return rc;
}

/* The part of consuming an initiation that needs no peer: up to S_i. */
static int consume_initiation_static(const struct wg_noise_env *env,
				     struct symmetric *s,
				     const struct wg_msg_initiation *msg,
				     uint8_t remote_static[WG_KEY_LEN])
{
	uint8_t k[WG_KEY_LEN];
	int rc = -EBADMSG;

	if (sym_start(env, s, env->local->pub) ||
	    mix_ephemeral(env, s, msg->ephemeral))
		goto out;
	if (mix_dh(env, s, k, env->local->priv, msg->ephemeral))
		goto out;
	rc = open_and_hash(env, s, remote_static, k, msg->enc_static,
			   sizeof(msg->enc_static));
out:
	sodium_memzero(k, sizeof(k));
	return rc;
}

int wg_noise_consume_initiation(const struct wg_noise_env *env,
				const struct wg_msg_initiation *msg,
				wg_noise_lookup_fn lookup, void *lookup_arg,
				uint64_t now_ms,
				struct wg_noise_handshake **out)
{
	struct wg_noise_handshake *hs;
	struct symmetric s;
	uint8_t k[WG_KEY_LEN], spub[WG_KEY_LEN], ts[WG_TAI64N_LEN];
	int rc = -EBADMSG;

	if (!env->local->has)
		goto out;
	rc = consume_initiation_static(env, &s, msg, spub);
	if (rc)
		goto out;
	rc = -ENOENT;
	hs = lookup(spub, lookup_arg);
	if (!hs || !hs->ss_valid)
		goto out;
	rc = -EBADMSG;
	if (mix_key(env, &s, k, hs->static_static, WG_KEY_LEN) ||
	    open_and_hash(env, &s, ts, k, msg->enc_timestamp,
			  sizeof(msg->enc_timestamp)))
		goto out;
	/* §5.1: a timestamp not newer than the last one is a replay */
	rc = -EALREADY;
	if (memcmp(ts, hs->latest_timestamp, sizeof(ts)) <= 0)
		goto out;
	/* §6.2: at most INITIATIONS_PER_SECOND are acted upon */
	rc = -EBUSY;
	if (hs->has_last_initiation &&
	    now_ms < hs->last_initiation_ms + 1000 / INITIATIONS_PER_SECOND)
		goto out;
	wg_noise_handshake_clear(hs);
	memcpy(hs->remote_ephemeral, msg->ephemeral, WG_KEY_LEN);
	memcpy(hs->latest_timestamp, ts, sizeof(ts));
	sym_save(hs, &s);
	hs->remote_index = wg_get_le32(msg->sender);
	hs->last_initiation_ms = now_ms;
	hs->has_last_initiation = true;
	hs->state = WG_HS_CONSUMED_INITIATION;
	*out = hs;
	rc = 0;
out:
	sym_wipe(env, &s);
	sodium_memzero(k, sizeof(k));
	return rc;
}

int wg_noise_create_response(const struct wg_noise_env *env,
			     struct wg_noise_handshake *hs,
			     struct wg_msg_response *msg, uint32_t local_index)
{
	struct symmetric s;
	uint8_t k[WG_KEY_LEN], empty[1] = { 0 };
	int rc = -EINVAL;

	sym_load(&s, hs);
	if (hs->state != WG_HS_CONSUMED_INITIATION)
		goto out;
	memset(msg, 0, sizeof(*msg));
	wg_msg_set_header(msg->header, WG_MSG_RESPONSE);
	wg_put_le32(msg->sender, local_index);
	wg_put_le32(msg->receiver, hs->remote_index);
	rc = -EIO;
	if (new_ephemeral(env, hs->ephemeral_priv, msg->ephemeral) ||
	    mix_ephemeral(env, &s, msg->ephemeral))
		goto out;
	/* ee, se, psk, then the empty payload */
	if (mix_dh(env, &s, NULL, hs->ephemeral_priv, hs->remote_ephemeral) ||
	    mix_dh(env, &s, NULL, hs->ephemeral_priv, hs->remote_static) ||
	    mix_psk(env, &s, k, hs->psk) ||
	    seal_and_hash(env, &s, msg->enc_nothing, k, empty, 0))
		goto out;
	sym_save(hs, &s);
	hs->local_index = local_index;
	hs->state = WG_HS_CREATED_RESPONSE;
	rc = 0;
out:
	if (rc == -EIO)
		wg_noise_handshake_clear(hs);
	sym_wipe(env, &s);
	sodium_memzero(k, sizeof(k));
	return rc;
}

int wg_noise_consume_response(const struct wg_noise_env *env,
			      struct wg_noise_handshake *hs,
			      const struct wg_msg_response *msg)
{
	struct symmetric s;
	uint8_t k[WG_KEY_LEN], empty[1];
	int rc = -EINVAL;

	sym_load(&s, hs);
	if (hs->state != WG_HS_CREATED_INITIATION || !env->local->has)
		goto out;
	rc = -EBADMSG;
	if (mix_ephemeral(env, &s, msg->ephemeral) ||
	    mix_dh(env, &s, NULL, hs->ephemeral_priv, msg->ephemeral) ||
	    mix_dh(env, &s, NULL, env->local->priv, msg->ephemeral) ||
	    mix_psk(env, &s, k, hs->psk) ||
	    open_and_hash(env, &s, empty, k, msg->enc_nothing,
			  sizeof(msg->enc_nothing)))
		goto out;
	/* accepted: the transcript moves on, our ephemeral is spent */
	memcpy(hs->remote_ephemeral, msg->ephemeral, WG_KEY_LEN);
	sodium_memzero(hs->ephemeral_priv, sizeof(hs->ephemeral_priv));
	sym_save(hs, &s);
	hs->remote_index = wg_get_le32(msg->sender);
	hs->state = WG_HS_CONSUMED_RESPONSE;
	rc = 0;
out:
	sym_wipe(env, &s);
	sodium_memzero(k, sizeof(k));
	return rc;
}

int wg_noise_derive_keys(const struct wg_noise_env *env,
			 struct wg_noise_handshake *hs,
			 struct wg_noise_session_keys *keys)
{
	uint8_t t1[WG_HASH_LEN], t2[WG_HASH_LEN];
	bool initiator = hs->state == WG_HS_CONSUMED_RESPONSE;
	int rc = -EINVAL;

	if (!initiator && hs->state != WG_HS_CREATED_RESPONSE)
		goto out;
	/* §5.4.5: (T_send_i = T_recv_r, T_recv_i = T_send_r) = KDF2(C, e) */
	rc = kdf(env, t1, t2, NULL, hs->chaining_key, NULL, 0);
	if (rc)
		goto out;
	memcpy(keys->send, initiator ? t1 : t2, WG_KEY_LEN);
	memcpy(keys->recv, initiator ? t2 : t1, WG_KEY_LEN);
	keys->local_index = hs->local_index;
	keys->remote_index = hs->remote_index;
	keys->initiator = initiator;
out:
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	wg_blake2s_scrub(env->b2);
	if (rc == 0)
		wg_noise_handshake_clear(hs);
	return rc;
}

void wg_tai64n_encode(uint8_t out[WG_TAI64N_LEN], uint64_t unix_s, uint32_t ns)
{
	/* TAI64 label: 2^62 + 10 (TAI-UTC offset of 1970) + seconds, big endian */
	uint64_t label = 0x400000000000000aULL + unix_s;

	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(label >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(ns >> (24 - 8 * i));
}

void wg_tai64n_now(uint8_t out[WG_TAI64N_LEN], void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* §5.4.2 / the reference: hide the clock's fine bits, 2^24 ns steps */
	wg_tai64n_encode(out, (uint64_t)ts.tv_sec,
			 (uint32_t)ts.tv_nsec & ~((1u << 24) - 1));
}

void wg_tai64n_decode(const uint8_t in[WG_TAI64N_LEN], uint64_t *unix_s,
		      uint32_t *ns)
{
	uint64_t label = 0;
	uint32_t n = 0;

	for (int i = 0; i < 8; i++)
		label = label << 8 | in[i];
	for (int i = 8; i < 12; i++)
		n = n << 8 | in[i];
	*unix_s = label >= 0x400000000000000aULL ? label - 0x400000000000000aULL
						 : 0;
	*ns = n;
}
