// SPDX-License-Identifier: MIT
#include "wireguard/blake2s.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

int wg_blake2s_init(struct wg_blake2s *b)
{
	char digest[] = "BLAKE2S-256";
	size_t size = WG_MAC_LEN;
	OSSL_PARAM hp[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest,
						 0),
		OSSL_PARAM_construct_end(),
	};
	OSSL_PARAM kp[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};

	memset(b, 0, sizeof(*b));
	b->md = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	b->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	b->kmac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	if (!b->md || !b->hmac || !b->kmac)
		goto err_notsup;
	b->mdctx = EVP_MD_CTX_new();
	b->hmacctx = EVP_MAC_CTX_new(b->hmac);
	b->kmacctx = EVP_MAC_CTX_new(b->kmac);
	if (!b->mdctx || !b->hmacctx || !b->kmacctx)
		goto err_nomem;
	if (!EVP_MAC_CTX_set_params(b->hmacctx, hp) ||
	    !EVP_MAC_CTX_set_params(b->kmacctx, kp))
		goto err_notsup;
	return 0;
err_nomem:
	wg_blake2s_free(b);
	return -ENOMEM;
err_notsup:
	wg_blake2s_free(b);
	return -ENOTSUP;
}

void wg_blake2s_free(struct wg_blake2s *b)
{
	if (!b)
		return;
	EVP_MD_CTX_free(b->mdctx);
	EVP_MAC_CTX_free(b->hmacctx);
	EVP_MAC_CTX_free(b->kmacctx);
	EVP_MD_free(b->md);
	EVP_MAC_free(b->hmac);
	EVP_MAC_free(b->kmac);
	memset(b, 0, sizeof(*b));
}

void wg_blake2s_scrub(struct wg_blake2s *b)
{
	static const uint8_t zero[WG_HASH_LEN];

	/* re-keying makes the providers cleanse the key copies they hold */
	if (b->hmacctx)
		EVP_MAC_init(b->hmacctx, zero, sizeof(zero), NULL);
	wg_blake2s_scrub_mac(b);
}

void wg_blake2s_scrub_mac(struct wg_blake2s *b)
{
	static const uint8_t zero[WG_HASH_LEN];

	if (b->kmacctx)
		EVP_MAC_init(b->kmacctx, zero, sizeof(zero), NULL);
}

int wg_blake2s_hash(struct wg_blake2s *b, uint8_t out[WG_HASH_LEN],
		    const void *a, size_t alen, const void *c, size_t clen)
{
	unsigned int len = 0;

	if (EVP_DigestInit_ex(b->mdctx, b->md, NULL) != 1 ||
	    EVP_DigestUpdate(b->mdctx, a, alen) != 1 ||
	    (clen && EVP_DigestUpdate(b->mdctx, c, clen) != 1) ||
	    EVP_DigestFinal_ex(b->mdctx, out, &len) != 1 || len != WG_HASH_LEN)
		return -EIO;
	return 0;
}

int wg_blake2s_hmac(struct wg_blake2s *b, uint8_t out[WG_HASH_LEN],
		    const uint8_t key[WG_HASH_LEN], const void *a, size_t alen,
		    const void *c, size_t clen)
{
	size_t len = 0;

	if (EVP_MAC_init(b->hmacctx, key, WG_HASH_LEN, NULL) != 1 ||
	    EVP_MAC_update(b->hmacctx, a, alen) != 1 ||
	    (clen && EVP_MAC_update(b->hmacctx, c, clen) != 1) ||
	    EVP_MAC_final(b->hmacctx, out, &len, WG_HASH_LEN) != 1 ||
	    len != WG_HASH_LEN)
		return -EIO;
	return 0;
}

int wg_blake2s_mac(struct wg_blake2s *b, uint8_t out[WG_MAC_LEN],
		   const uint8_t *key, size_t keylen, const void *in,
		   size_t inlen)
{
	size_t len = 0;

	if (keylen == 0 || keylen > 32 ||
	    EVP_MAC_init(b->kmacctx, key, keylen, NULL) != 1 ||
	    EVP_MAC_update(b->kmacctx, in, inlen) != 1 ||
	    EVP_MAC_final(b->kmacctx, out, &len, WG_MAC_LEN) != 1 ||
	    len != WG_MAC_LEN)
		return -EIO;
	return 0;
}
