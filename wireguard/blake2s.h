/* SPDX-License-Identifier: MIT */
/*
 * The BLAKE2s functions of WireGuard (§5.4), from OpenSSL libcrypto:
 *   HASH(a || b)     BLAKE2s-256
 *   HMAC(key, in)    HMAC (RFC 2104) over BLAKE2s-256, 64-byte block
 *   MAC(key, in)     keyed BLAKE2s with a 16-byte output (MAC1, MAC2, cookie)
 *
 * Everything is made once, in a struct owned by the caller (one per device),
 * so that a handshake message — valid or forged, from anyone who knows our
 * public key — is processed without a single heap allocation.
 *
 * Why not plain EVP_DigestInit_ex / EVP_MAC "HMAC": OpenSSL 3.0 frees and
 * re-allocates the provider's digest state on every EVP_DigestInit_ex,
 * EVP_DigestInit_ex2(ctx, NULL, NULL) and EVP_MD_CTX_copy_ex, even for the
 * same digest, and its HMAC allocates five blocks per key (measured,
 * docs/wireguard.md). So HASH runs OpenSSL's BLAKE2s-256 through the
 * provider's own digest functions (OSSL_PROVIDER_query_operation, the
 * provider-digest(7) interface) on one state made at init, and HMAC is
 * written out over it as RFC 2104 defines it: H((K ^ opad) || H((K ^ ipad)
 * || m)). MAC keeps EVP_MAC "BLAKE2SMAC", whose EVP_MAC_init re-keys in
 * place without allocating.
 */
#ifndef ICEMESH_WIREGUARD_BLAKE2S_H
#define ICEMESH_WIREGUARD_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

enum {
	WG_HASH_LEN = 32,
	WG_MAC_LEN = 16,
	WG_BLAKE2S_BLOCK_LEN = 64, /* RFC 7693 §2.1: HMAC's block size */
};

struct wg_blake2s_digest; /* private to blake2s.c */

struct wg_blake2s {
	struct wg_blake2s_digest *d; /* owned: BLAKE2s-256, one reused state */
	void *kmac; /* EVP_MAC *, BLAKE2SMAC */
	void *kmacctx; /* EVP_MAC_CTX *, size set to 16 */
};

/* 0, or -ENOMEM / -ENOTSUP when libcrypto lacks BLAKE2s. */
int wg_blake2s_init(struct wg_blake2s *b);
/* Frees what init made; accepts a zeroed struct. */
void wg_blake2s_free(struct wg_blake2s *b);

/*
 * Overwrite what the contexts keep from their last use (a chaining key, a
 * cookie secret, an HMAC pad) with public values. Call when a handshake or
 * cookie operation is over. Allocation-free.
 */
void wg_blake2s_scrub(struct wg_blake2s *b);
/* The same for the keyed-MAC context alone (allocation-free). */
void wg_blake2s_scrub_mac(struct wg_blake2s *b);

/* out = HASH(a || c); c may be NULL with clen 0. 0 or -EIO. out may alias a. */
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
