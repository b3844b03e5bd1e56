// SPDX-License-Identifier: MIT
#include "coordinator/cred.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int coord_token_new(const char *prefix, char out[COORD_TOKEN_STRLEN])
{
	uint8_t raw[COORD_TOKEN_RAW_LEN];

	if (strlen(prefix) != 4)
		return -EINVAL;
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, prefix, 4);
	sodium_bin2base64(out + 4, COORD_TOKEN_STRLEN - 4, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

void coord_token_hash(const char *token, size_t len,
		      uint8_t out[COORD_HASH_LEN])
{
	crypto_hash_sha256(out, (const unsigned char *)token, len);
}

int coord_token_wellformed(const char *prefix, const char *s, size_t len)
{
	if (len != COORD_TOKEN_STRLEN - 1 || memcmp(s, prefix, 4) != 0)
		return 0;
	for (size_t i = 4; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int coord_turn_credentials(const char *secret, uint64_t expiry,
			   uint64_t node_id, char user[COORD_TURN_USER_STRLEN],
			   char pass[COORD_TURN_PASS_STRLEN])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int n;

	n = snprintf(user, COORD_TURN_USER_STRLEN, "%" PRIu64 ":%" PRIu64,
		     expiry, node_id);
	if (n < 0 || n >= COORD_TURN_USER_STRLEN)
		return -ENOSPC;
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret),
		  (const unsigned char *)user, (size_t)n, mac, &maclen) ||
	    maclen != 20)
		return -EIO;
	sodium_bin2base64(pass, COORD_TURN_PASS_STRLEN, mac, maclen,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(mac, sizeof(mac));
	return 0;
}
