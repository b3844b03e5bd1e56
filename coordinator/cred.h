/* SPDX-License-Identifier: MIT */
/*
 * Secrets the coordinator hands out: auth keys, node credentials and TURN
 * credentials. Only SHA-256 of auth keys and credentials is ever stored;
 * both are 32 random bytes, so a plain hash is enough (nothing to guess).
 */
#ifndef ICEMESH_COORD_CRED_H
#define ICEMESH_COORD_CRED_H

#include <stddef.h>
#include <stdint.h>

enum {
	COORD_TOKEN_RAW_LEN = 32,
	/* prefix (4) + base64url of 32 bytes without padding (43) + NUL */
	COORD_TOKEN_STRLEN = 4 + 43 + 1,
	COORD_HASH_LEN = 32,
	/* coturn REST: HMAC-SHA1 is 20 bytes, base64 28 chars + NUL */
	COORD_TURN_PASS_STRLEN = 29,
	COORD_TURN_USER_STRLEN = 48,
};

#define COORD_AUTHKEY_PREFIX "imk_"
#define COORD_CRED_PREFIX "imc_"

/* A fresh token "PREFIX" + base64url(32 random bytes); prefix is 4 chars. */
int coord_token_new(const char *prefix, char out[COORD_TOKEN_STRLEN]);
/* SHA-256 of the token string. */
void coord_token_hash(const char *token, size_t len,
		      uint8_t out[COORD_HASH_LEN]);
/* True if s looks like a token with this prefix (length and alphabet). */
int coord_token_wellformed(const char *prefix, const char *s, size_t len);

/*
 * coturn's TURN REST API credentials (use-auth-secret):
 * username "EXPIRY:NODEID", password base64(HMAC-SHA1(secret, username)).
 */
int coord_turn_credentials(const char *secret, uint64_t expiry,
			   uint64_t node_id, char user[COORD_TURN_USER_STRLEN],
			   char pass[COORD_TURN_PASS_STRLEN]);

#endif
