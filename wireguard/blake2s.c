// SPDX-License-Identifier: MIT
#include "wireguard/blake2s.h"

#include <errno.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char DIGEST_NAME[] = "BLAKE2S-256";

/* OpenSSL's BLAKE2s-256, driven through its provider's digest functions. */
struct wg_blake2s_digest {
	EVP_MD *md; /* keeps the implementing provider loaded */
	void *ctx; /* the provider's state, made once, re-initialised per use */
	OSSL_FUNC_digest_init_fn *init;
	OSSL_FUNC_digest_update_fn *update;
	OSSL_FUNC_digest_final_fn *final;
	OSSL_FUNC_digest_freectx_fn *freectx;
};

/* Whether the colon-separated name list of an algorithm holds want. */
static int names_have(const char *names, const char *want)
{
	size_t wl = strlen(want);

	for (const char *p = names; p && *p;) {
		const char *end = strchr(p, ':');
		size_t l = end ? (size_t)(end - p) : strlen(p);

		if (l == wl && strncasecmp(p, want, l) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* Take the functions of the digest the fetch chose from its provider. */
static int digest_bind(struct wg_blake2s_digest *d, const OSSL_DISPATCH *fns,
		       void *provctx)
{
	OSSL_FUNC_digest_newctx_fn *newctx = NULL;

	for (; fns->function_id != 0; fns++) {
		switch (fns->function_id) {
		case OSSL_FUNC_DIGEST_NEWCTX:
			newctx = OSSL_FUNC_digest_newctx(fns);
			break;
		case OSSL_FUNC_DIGEST_INIT:
			d->init = OSSL_FUNC_digest_init(fns);
			break;
		case OSSL_FUNC_DIGEST_UPDATE:
			d->update = OSSL_FUNC_digest_update(fns);
			break;
		case OSSL_FUNC_DIGEST_FINAL:
			d->final = OSSL_FUNC_digest_final(fns);
			break;
		case OSSL_FUNC_DIGEST_FREECTX:
			d->freectx = OSSL_FUNC_digest_freectx(fns);
			break;
		}
	}
	if (!newctx || !d->init || !d->update || !d->final || !d->freectx)
		return -ENOTSUP;
	d->ctx = newctx(provctx);
	return d->ctx ? 0 : -ENOMEM;
}

static int digest_open(struct wg_blake2s_digest *d)
{
	const OSSL_PROVIDER *prov;
	const OSSL_ALGORITHM *algs;
	int no_cache = 0, rc = -ENOTSUP;

	d->md = EVP_MD_fetch(NULL, DIGEST_NAME, NULL);
	prov = d->md ? EVP_MD_get0_provider(d->md) : NULL;
	algs = prov ? OSSL_PROVIDER_query_operation(prov, OSSL_OP_DIGEST,
						    &no_cache)
		    : NULL;
	if (!algs)
		return -ENOTSUP;
	for (const OSSL_ALGORITHM *a = algs; a->algorithm_names; a++)
		if (names_have(a->algorithm_names, DIGEST_NAME)) {
			rc = digest_bind(d, a->implementation,
					 OSSL_PROVIDER_get0_provider_ctx(prov));
			break;
		}
	OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_DIGEST, algs);
	return rc;
}

static void digest_close(struct wg_blake2s_digest *d)
{
	if (d->ctx)
		d->freectx(d->ctx); /* the provider cleanses its state */
	EVP_MD_free(d->md);
}

/* out = HASH(a || b || c), each part optional when its length is 0. */
static int digest3(struct wg_blake2s_digest *d, uint8_t out[WG_HASH_LEN],
		   const void *a, size_t alen, const void *b, size_t blen,
		   const void *c, size_t clen)
{
	size_t len = 0;

	if (d->init(d->ctx, NULL) != 1 ||
	    (alen && d->update(d->ctx, a, alen) != 1) ||
	    (blen && d->update(d->ctx, b, blen) != 1) ||
	    (clen && d->update(d->ctx, c, clen) != 1) ||
	    d->final(d->ctx, out, &len, WG_HASH_LEN) != 1 || len != WG_HASH_LEN)
		return -EIO;
	return 0;
}

int wg_blake2s_init(struct wg_blake2s *b)
{
	size_t size = WG_MAC_LEN;
	OSSL_PARAM kp[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};
	int rc;

	memset(b, 0, sizeof(*b));
	b->d = calloc(1, sizeof(*b->d));
	if (!b->d)
		return -ENOMEM;
	rc = digest_open(b->d);
	if (rc)
		goto err;
	rc = -ENOTSUP;
	b->kmac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	if (!b->kmac)
		goto err;
	rc = -ENOMEM;
	b->kmacctx = EVP_MAC_CTX_new(b->kmac);
	if (!b->kmacctx)
		goto err;
	rc = -ENOTSUP;
	if (!EVP_MAC_CTX_set_params(b->kmacctx, kp))
		goto err;
	return 0;
err:
	wg_blake2s_free(b);
	return rc;
}

void wg_blake2s_free(struct wg_blake2s *b)
{
	if (!b)
		return;
	if (b->d) {
		digest_close(b->d);
		free(b->d);
	}
	EVP_MAC_CTX_free(b->kmacctx);
	EVP_MAC_free(b->kmac);
	memset(b, 0, sizeof(*b));
}

void wg_blake2s_scrub(struct wg_blake2s *b)
{
	/*
	 * The provider's final already cleanses the state; a fresh init
	 * overwrites it with the public IV in case a step stopped half way.
	 */
	if (b->d && b->d->ctx)
		b->d->init(b->d->ctx, NULL);
	wg_blake2s_scrub_mac(b);
}

void wg_blake2s_scrub_mac(struct wg_blake2s *b)
{
	static const uint8_t zero[WG_HASH_LEN];

	/* re-keying makes the provider cleanse the key copy it holds */
	if (b->kmacctx)
		EVP_MAC_init(b->kmacctx, zero, sizeof(zero), NULL);
}

int wg_blake2s_hash(struct wg_blake2s *b, uint8_t out[WG_HASH_LEN],
		    const void *a, size_t alen, const void *c, size_t clen)
{
	return digest3(b->d, out, a, alen, c, clen, NULL, 0);
}

/* key ^ pad, zero-extended to one block (RFC 2104 §2; the key is 32 bytes). */
static void hmac_pad(uint8_t pad[WG_BLAKE2S_BLOCK_LEN],
		     const uint8_t key[WG_HASH_LEN], uint8_t byte)
{
	memset(pad, byte, WG_BLAKE2S_BLOCK_LEN);
	for (size_t i = 0; i < WG_HASH_LEN; i++)
		pad[i] ^= key[i];
}

int wg_blake2s_hmac(struct wg_blake2s *b, uint8_t out[WG_HASH_LEN],
		    const uint8_t key[WG_HASH_LEN], const void *a, size_t alen,
		    const void *c, size_t clen)
{
	uint8_t pad[WG_BLAKE2S_BLOCK_LEN], inner[WG_HASH_LEN];
	int rc;

	hmac_pad(pad, key, 0x36);
	rc = digest3(b->d, inner, pad, sizeof(pad), a, alen, c, clen);
	if (rc)
		goto out;
	hmac_pad(pad, key, 0x5c);
	rc = digest3(b->d, out, pad, sizeof(pad), inner, sizeof(inner), NULL,
		     0);
out:
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	return rc;
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
