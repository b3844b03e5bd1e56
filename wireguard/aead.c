// SPDX-License-Identifier: MIT
#include "wireguard/aead.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

static void nonce_of(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

int wg_aead_key_init(struct wg_aead_key *k, const uint8_t key[WG_AEAD_KEY_LEN])
{
	EVP_CIPHER_CTX *enc = EVP_CIPHER_CTX_new();
	EVP_CIPHER_CTX *dec = EVP_CIPHER_CTX_new();

	if (!enc || !dec)
		goto err;
	if (EVP_EncryptInit_ex(enc, EVP_chacha20_poly1305(), NULL, key, NULL) !=
		    1 ||
	    EVP_DecryptInit_ex(dec, EVP_chacha20_poly1305(), NULL, key, NULL) !=
		    1)
		goto err;
	k->enc = enc;
	k->dec = dec;
	k->live = true;
	return 0;
err:
	/* EVP_CIPHER_CTX_free cleanses the key schedule it holds */
	EVP_CIPHER_CTX_free(enc);
	EVP_CIPHER_CTX_free(dec);
	return -ENOMEM;
}

void wg_aead_key_clear(struct wg_aead_key *k)
{
	if (!k)
		return;
	EVP_CIPHER_CTX_free(k->enc);
	EVP_CIPHER_CTX_free(k->dec);
	k->enc = NULL;
	k->dec = NULL;
	k->live = false;
}

/* A cipher argument of NULL keeps the context's cipher: a re-key in place. */
static int rekey_in_place(struct wg_aead_key *k,
			  const uint8_t key[WG_AEAD_KEY_LEN])
{
	if (EVP_EncryptInit_ex(k->enc, NULL, NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(k->dec, NULL, NULL, key, NULL) != 1)
		return -EIO;
	return 0;
}

int wg_aead_key_rekey(struct wg_aead_key *k, const uint8_t key[WG_AEAD_KEY_LEN])
{
	int rc;

	if (!k->enc || !k->dec) {
		wg_aead_key_clear(k);
		return wg_aead_key_init(k, key);
	}
	k->live = false;
	rc = rekey_in_place(k, key);
	if (rc == 0)
		k->live = true;
	return rc;
}

void wg_aead_key_wipe(struct wg_aead_key *k)
{
	static const uint8_t zero[WG_AEAD_KEY_LEN];

	if (!k)
		return;
	k->live = false;
	if (k->enc && k->dec)
		rekey_in_place(k, zero);
}

int wg_aead_seal(struct wg_aead_key *k, uint64_t counter, uint8_t *dst,
		 const uint8_t *src, size_t len, const uint8_t *ad,
		 size_t adlen)
{
	EVP_CIPHER_CTX *c = k->enc;
	uint8_t n[12];
	int l1 = 0, l2 = 0;

	if (!c || !k->live || len > INT_MAX || adlen > INT_MAX)
		return -EIO;
	nonce_of(n, counter);
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, n) != 1)
		return -EIO;
	if (adlen && EVP_EncryptUpdate(c, NULL, &l1, ad, (int)adlen) != 1)
		return -EIO;
	if ((len && EVP_EncryptUpdate(c, dst, &l1, src, (int)len) != 1) ||
	    EVP_EncryptFinal_ex(c, dst + l1, &l2) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, WG_AEAD_TAG_LEN,
				dst + len) != 1)
		return -EIO;
	return 0;
}

int wg_aead_open(struct wg_aead_key *k, uint64_t counter, uint8_t *dst,
		 const uint8_t *src, size_t len, const uint8_t *ad,
		 size_t adlen)
{
	EVP_CIPHER_CTX *c = k->dec;
	uint8_t n[12], tag[WG_AEAD_TAG_LEN];
	size_t plen;
	int l1 = 0, l2 = 0;

	if (!c || !k->live || len < WG_AEAD_TAG_LEN || len > INT_MAX ||
	    adlen > INT_MAX)
		return -EBADMSG;
	plen = len - WG_AEAD_TAG_LEN;
	/* copy the tag first: dst may overlap src */
	memcpy(tag, src + plen, sizeof(tag));
	nonce_of(n, counter);
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, n) != 1)
		return -EBADMSG;
	if (adlen && EVP_DecryptUpdate(c, NULL, &l1, ad, (int)adlen) != 1)
		return -EBADMSG;
	if ((plen && EVP_DecryptUpdate(c, dst, &l1, src, (int)plen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, WG_AEAD_TAG_LEN,
				tag) != 1 ||
	    EVP_DecryptFinal_ex(c, dst + l1, &l2) != 1)
		return -EBADMSG;
	return 0;
}

/* Handshake messages: libsodium's one-shot form, no context to allocate. */
int wg_aead_seal_once(const uint8_t key[WG_AEAD_KEY_LEN], uint64_t counter,
		      uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t *ad, size_t adlen)
{
	uint8_t n[12];

	nonce_of(n, counter);
	if (crypto_aead_chacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad,
						      adlen, NULL, n, key))
		return -EIO;
	return 0;
}

int wg_aead_open_once(const uint8_t key[WG_AEAD_KEY_LEN], uint64_t counter,
		      uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t *ad, size_t adlen)
{
	uint8_t n[12];

	if (len < WG_AEAD_TAG_LEN)
		return -EBADMSG;
	nonce_of(n, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(dst, NULL, NULL, src, len,
						      ad, adlen, n, key))
		return -EBADMSG;
	return 0;
}

int wg_xaead_seal(const uint8_t key[WG_AEAD_KEY_LEN],
		  const uint8_t nonce[WG_XAEAD_NONCE_LEN], uint8_t *dst,
		  const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen)
{
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(dst, NULL, src, len, ad,
						       adlen, NULL, nonce, key))
		return -EIO;
	return 0;
}

int wg_xaead_open(const uint8_t key[WG_AEAD_KEY_LEN],
		  const uint8_t nonce[WG_XAEAD_NONCE_LEN], uint8_t *dst,
		  const uint8_t *src, size_t len, const uint8_t *ad,
		  size_t adlen)
{
	if (len < WG_AEAD_TAG_LEN)
		return -EBADMSG;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    dst, NULL, NULL, src, len, ad, adlen, nonce, key))
		return -EBADMSG;
	return 0;
}
