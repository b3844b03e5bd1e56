/* SPDX-License-Identifier: MIT */
/*
 * The BLAKE2s functions of WireGuard (§5.4), from OpenSSL libcrypto:
 *   HASH(a || b)     BLAKE2s-256
 *   HMAC(key, in)    HMAC (RFC 2104) over BLAKE2s-256, 64-byte block
 *   MAC(key, in)     keyed BLAKE2s with a 16-byte output (MAC1, MAC2, cookie)
 *
 * The algorithms are fetched and the contexts made once, in a struct owned
 * by the caller (one per device), so that checking MAC1 on a flood of
 * handshake messages allocates nothing.
 */
#ifndef ICEMESH_WIREGUARD_BLAKE2S_H
#define ICEMESH_WIREGUARD_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

enum {
	WG_HASH_LEN = 32,
	WG_MAC_LEN = 16,
};

struct wg_blake2s {
	void *md; /* EVP_MD *, BLAKE2S-256 */
	void *mdctx; /* EVP_MD_CTX * */
	void *hmac; /* EVP_MAC *, HMAC */
	void *hmacctx; /* EVP_MAC_CTX *, digest set to BLAKE2S-256 */
	void *kmac; /* EVP_MAC *, BLAKE2SMAC */
	void *kmacctx; /* EVP_MAC_CTX *, size set to 16 */
};

/* 0, or -ENOMEM / -ENOTSUP when libcrypto lacks BLAKE2s. */
int wg_blake2s_init(struct wg_blake2s *b);
/* Frees what init made; accepts a zeroed struct. */
void wg_blake2s_free(struct wg_blake2s *b);

/*
 * Overwrite the keys the HMAC and MAC contexts keep from their last use
 * (a chaining key, a cookie secret) with zeros. Call when a handshake or
 * cookie operation is over.
 */
void wg_blake2s_scrub(struct wg_blake2s *b);
/* The same for the keyed-MAC context alone (allocation-free). */
void wg_blake2s_scrub_mac(struct wg_blake2s *b);

/* out = HASH(a || b); b may be NULL with blen 0. 0 or -EIO. */
int wg_blake2s_hash(struct wg_blake2s *b, uint8_t out[WG_HASH_LEN],
		    const void *a, size_t alen, const void *c, size_t clen);
/* out = HMAC(key, a || c); c may be NULL with clen 0. 0 or -EIO. */
int wg_blake2s_hmac(struct wg_blake2s *b, uint8_t out[WG_HASH_LEN],
		    const uint8_t key[WG_HASH_LEN], const void *a, size_t alen,
		    const void *c, size_t clen);
/* out = MAC(key, in), keylen 1..32. 0 or -EIO. */
int wg_blake2s_mac(struct wg_blake2s *b, uint8_t out[WG_MAC_LEN],
		   const uint8_t *key, size_t keylen, const void *in,
		   size_t inlen);

#endif
