// SPDX-License-Identifier: MIT
/*
 * STUN integrity (RFC 8489 §14.5, §14.6), FINGERPRINT (§14.7), long-term
 * keys (§9.2.2) and USERHASH (§14.4), on OpenSSL's libcrypto and zlib.
 */
#include "ice/stun.h"
#include "ice/stun_int.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <string.h>
#include <zlib.h>

uint32_t stun_fingerprint(const uint8_t *buf, size_t len)
{
	return (uint32_t)crc32(0L, buf, (uInt)len) ^ STUN_FINGERPRINT_XOR;
}

int stun_hmac(const char *digest, const uint8_t *key, size_t keylen,
	      const uint8_t *head, size_t hlen, const uint8_t *body,
	      size_t blen, uint8_t *out, size_t *outlen)
{
	/*
	 * HMAC pads the key with zeros to the block size, so an empty key is
	 * the same as one zero byte; libcrypto refuses a zero-length key.
	 */
	static const uint8_t zero_key[1];
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	int rc = -EIO;

	if (keylen == 0) {
		key = zero_key;
		keylen = 1;
	}
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return -EIO;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, head, hlen) != 1 ||
	    (blen && EVP_MAC_update(ctx, body, blen) != 1) ||
	    EVP_MAC_final(ctx, out, outlen, STUN_HMAC_SHA256_LEN) != 1)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/*
 * The HMAC of a parsed message's integrity attribute at attr_off (header
 * offset) with value length vlen: over the message before the attribute,
 * with the header length field set to end just after it (RFC 8489 §14.5).
 */
static int check_mac(const struct stun_msg *msg, const char *digest,
		     uint32_t attr_off, size_t vlen, const uint8_t *key,
		     size_t keylen)
{
	uint8_t head[STUN_HEADER_LEN], mac[STUN_HMAC_SHA256_LEN];
	size_t maclen = 0;
	int rc;

	memcpy(head, msg->buf, STUN_HEADER_LEN);
	stun_wr16(head + 2, (uint16_t)(attr_off + STUN_ATTR_HEADER_LEN + vlen -
				       STUN_HEADER_LEN));
	rc = stun_hmac(digest, key, keylen, head, sizeof(head),
		       msg->buf + STUN_HEADER_LEN, attr_off - STUN_HEADER_LEN,
		       mac, &maclen);
	if (rc)
		goto out;
	if (maclen < vlen ||
	    CRYPTO_memcmp(mac, msg->buf + attr_off + STUN_ATTR_HEADER_LEN,
			  vlen) != 0)
		rc = -EACCES;
out:
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

int stun_msg_check_integrity(const struct stun_msg *msg, const uint8_t *key,
			     size_t keylen)
{
	if (!msg->mi_off)
		return -ENOENT;
	return check_mac(msg, "SHA1", msg->mi_off, STUN_HMAC_SHA1_LEN, key,
			 keylen);
}

int stun_msg_check_integrity_sha256(const struct stun_msg *msg,
				    const uint8_t *key, size_t keylen)
{
	size_t vlen;

	if (!msg->mi256_off)
		return -ENOENT;
	vlen = stun_rd16(msg->buf + msg->mi256_off + 2);
	if (vlen < STUN_HMAC_SHA256_MIN_LEN || vlen > STUN_HMAC_SHA256_LEN)
		return -EINVAL;
	return check_mac(msg, "SHA256", msg->mi256_off, vlen, key, keylen);
}

int stun_msg_check_fingerprint(const struct stun_msg *msg)
{
	if (!msg->fp_off)
		return -ENOENT;
	if (stun_rd32(msg->buf + msg->fp_off + STUN_ATTR_HEADER_LEN) !=
	    stun_fingerprint(msg->buf, msg->fp_off))
		return -STUN_EFINGERPRINT;
	return 0;
}

/* digest(s[0] ":" s[1] [":" s[2]]) into out; n is 2 or 3. */
static int digest_joined(const EVP_MD *md, const char *const *s, size_t n,
			 uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (i && EVP_DigestUpdate(ctx, ":", 1) != 1)
			goto out;
		if (EVP_DigestUpdate(ctx, s[i], strlen(s[i])) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		goto out;
	rc = 0;
out:
	/* EVP_MD_CTX_free cleanses the state that held the password */
	EVP_MD_CTX_free(ctx);
	return rc;
}

int stun_long_term_key(const char *username, const char *realm,
		       const char *password,
		       uint8_t out[STUN_LONG_TERM_KEY_MD5_LEN])
{
	const char *const s[] = { username, realm, password };

	if (!username || !realm || !password)
		return -EINVAL;
	return digest_joined(EVP_md5(), s, 3, out);
}

int stun_long_term_key_sha256(const char *username, const char *realm,
			      const char *password,
			      uint8_t out[STUN_LONG_TERM_KEY_SHA256_LEN])
{
	const char *const s[] = { username, realm, password };

	if (!username || !realm || !password)
		return -EINVAL;
	return digest_joined(EVP_sha256(), s, 3, out);
}

int stun_userhash(const char *username, const char *realm,
		  uint8_t out[STUN_USERHASH_LEN])
{
	const char *const s[] = { username, realm };

	if (!username || !realm)
		return -EINVAL;
	return digest_joined(EVP_sha256(), s, 2, out);
}

void stun_tid_random(uint8_t tid[STUN_TID_LEN])
{
	randombytes_buf(tid, STUN_TID_LEN);
}
