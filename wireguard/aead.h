/* SPDX-License-Identifier: MIT */
/*
 * The AEADs of WireGuard behind one small interface.
 *
 * ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 32 zero bits then the
 * 64-bit little-endian counter (WireGuard §5.4). The backend is OpenSSL's
 * EVP, measured faster than libsodium's on 1420-byte packets on our build
 * machines (docs/wireguard.md, tests/bench/run-aead.sh). A key keeps its
 * cipher contexts, so sealing a packet does no allocation.
 *
 * XChaCha20-Poly1305 (cookie replies, §5.4.7) is libsodium's; it runs once per
 * cookie, so it takes the key directly.
 */
#ifndef ICEMESH_WIREGUARD_AEAD_H
#define ICEMESH_WIREGUARD_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WG_AEAD_KEY_LEN = 32,
	WG_AEAD_TAG_LEN = 16,
	WG_XAEAD_NONCE_LEN = 24,
};

/* A ChaCha20-Poly1305 key with its cipher contexts. Zero it before init. */
struct wg_aead_key {
	void *enc; /* EVP_CIPHER_CTX *, owned */
	void *dec; /* EVP_CIPHER_CTX *, owned */
	bool live; /* holds a key (not wiped) */
};

/* Load a key; 0 or -ENOMEM. The caller wipes its own copy of key. */
int wg_aead_key_init(struct wg_aead_key *k, const uint8_t key[WG_AEAD_KEY_LEN]);
/* Wipe and free the contexts; accepts a zeroed or already-cleared key. */
void wg_aead_key_clear(struct wg_aead_key *k);
/*
 * Load a new key into k, re-keying the contexts it already has in place —
 * no allocation — or making them as wg_aead_key_init does when it has none.
 * 0 or -ENOMEM / -EIO. For a keypair slot that is reused session after
 * session (the contexts of OpenSSL 3.0 cost 3 allocations each to make).
 */
int wg_aead_key_rekey(struct wg_aead_key *k,
		      const uint8_t key[WG_AEAD_KEY_LEN]);
/*
 * Overwrite the key in k's contexts with zeros and keep the contexts for a
 * later wg_aead_key_rekey; until then k seals and opens nothing.
 * Allocation-free; wg_aead_key_clear still frees.
 */
void wg_aead_key_wipe(struct wg_aead_key *k);

/*
 * Seal len bytes of src into dst (len + 16 bytes; dst may equal src) with
 * the counter nonce and associated data ad. Returns 0 or -EIO.
 */
int wg_aead_seal(struct wg_aead_key *k, uint64_t counter, uint8_t *dst,
		 const uint8_t *src, size_t len, const uint8_t *ad,
		 size_t adlen);
/*
 * Open len bytes (ciphertext and tag) of src into dst (len - 16 bytes; may
 * equal src). Returns 0, or -EBADMSG when the tag does not verify (dst then
 * holds garbage the caller must not use).
 */
int wg_aead_open(struct wg_aead_key *k, uint64_t counter, uint8_t *dst,
		 const uint8_t *src, size_t len, const uint8_t *ad,
		 size_t adlen);

/* One-shot forms for the handshake, where the key lives for one message. */
int wg_aead_seal_once(const uint8_t key[WG_AEAD_KEY_LEN], uint64_t counter,
		      uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t *ad, size_t adlen);
int wg_aead_open_once(const uint8_t key[WG_AEAD_KEY_LEN], uint64_t counter,
		      uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t *ad, size_t adlen);

/* XChaCha20-Poly1305 for cookie replies: same conventions as above. */
int wg_xaead_seal(const uint8_t key[WG_AEAD_KEY_LEN],
		  const uint8_t nonce[WG_XAEAD_NONCE_LEN], uint8_t *dst,
		  const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen);
int wg_xaead_open(const uint8_t key[WG_AEAD_KEY_LEN],
		  const uint8_t nonce[WG_XAEAD_NONCE_LEN], uint8_t *dst,
		  const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen);

#endif
