/* SPDX-License-Identifier: MIT */
/*
 * The coordinator's JSON answers (docs/API.md) parsed into plain structs.
 *
 * Input is hostile: every field is checked for type, range, length and
 * characters; unknown fields are ignored (the API lets the server add them);
 * every list has a cap, so no answer decides an allocation beyond
 * COORDC_MAX_PEERS nodes or COORDC_MAX_SIGNALS messages of at most
 * COORDC_MAX_SIGNAL_PAYLOAD bytes. A parse either fills *out completely and
 * returns 0, or returns -EBADMSG (or -ENOMEM) and leaves *out alone.
 */
#ifndef ICEMESH_COORDC_MSG_H
#define ICEMESH_COORDC_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	COORDC_KEY_LEN = 32,
	COORDC_NAME_MAX = 80,
	COORDC_CREDENTIAL_MAX = 127,
	COORDC_HOSTPORT_MAX = 262, /* 253-char host name, ':', port */
	COORDC_TURN_FIELD_MAX = 255,
	COORDC_MAX_PEERS = 16384,
	COORDC_MAX_ALLOWED_IPS = 16,
	COORDC_MAX_SERVERS = 8,
	COORDC_MAX_SIGNALS = 64, /* the API's largest "limit" */
	COORDC_MAX_SIGNAL_PAYLOAD = 16384, /* decoded bytes, API limit */
	COORDC_SIGNAL_ID_MAX = 64,
	COORDC_ERROR_CODE_MAX = 40,
	COORDC_MAX_NODE_ID = (1ULL << 53) - 1,
};

struct coordc_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t len;
};

struct coordc_node {
	uint64_t id;
	char name[COORDC_NAME_MAX + 1];
	uint8_t key[COORDC_KEY_LEN];
	struct in_addr ipv4;
	struct in6_addr ipv6;
	struct coordc_prefix allowed_ips[COORDC_MAX_ALLOWED_IPS];
	unsigned n_allowed_ips;
	bool online;
	bool ephemeral;
	uint64_t last_seen; /* Unix seconds, 0: never */
};

struct coordc_turn {
	char servers[COORDC_MAX_SERVERS][COORDC_HOSTPORT_MAX + 1];
	unsigned n_servers;
	char username[COORDC_TURN_FIELD_MAX + 1];
	char password[COORDC_TURN_FIELD_MAX + 1];
	uint64_t expires; /* Unix seconds */
};

struct coordc_netmap {
	uint64_t version;
	struct coordc_node self;
	struct coordc_node *peers; /* n_peers, ordered as the server sent */
	size_t n_peers;
	struct coordc_prefix ipv4_prefix, ipv6_prefix;
	char stun[COORDC_MAX_SERVERS][COORDC_HOSTPORT_MAX + 1];
	unsigned n_stun;
	bool has_turn;
	struct coordc_turn turn;
};

struct coordc_registration {
	struct coordc_node node;
	char credential[COORDC_CREDENTIAL_MAX + 1]; /* secret: wipe it */
	bool created;
	struct coordc_prefix ipv4_prefix, ipv6_prefix;
};

struct coordc_signal {
	uint64_t seq;
	uint64_t from;
	uint8_t from_key[COORDC_KEY_LEN];
	char id[COORDC_SIGNAL_ID_MAX + 1];
	uint64_t sent_at;
	uint8_t *payload; /* owned by the batch */
	size_t len;
};

struct coordc_signal_batch {
	struct coordc_signal msgs[COORDC_MAX_SIGNALS];
	unsigned n;
	uint64_t cursor;
	bool more;
};

/* A netmap answer; *out is the caller's, freed with coordc_netmap_free. */
int coordc_parse_netmap(const char *buf, size_t len,
			struct coordc_netmap **out);
void coordc_netmap_free(struct coordc_netmap *nm);
/* The peer with this key, or NULL. */
const struct coordc_node *coordc_netmap_find(const struct coordc_netmap *nm,
					     const uint8_t key[COORDC_KEY_LEN]);

/* A register answer into *out (caller's storage). */
int coordc_parse_register(const char *buf, size_t len,
			  struct coordc_registration *out);

/* A GET /v1/signal answer; freed with coordc_signal_batch_free. */
int coordc_parse_signals(const char *buf, size_t len,
			 struct coordc_signal_batch **out);
void coordc_signal_batch_free(struct coordc_signal_batch *b);

/* The "code" of an error answer into code (COORDC_ERROR_CODE_MAX + 1). */
int coordc_parse_error(const char *buf, size_t len, char *code);

/* A health answer: 0 when it says {"status": "ok", "api": 1}. */
int coordc_parse_health(const char *buf, size_t len);

/* Standard base64 (44 chars) of a 32-byte key; out has 45 bytes. */
void coordc_key_to_b64(const uint8_t key[COORDC_KEY_LEN], char out[45]);
int coordc_key_from_b64(const char *s, uint8_t key[COORDC_KEY_LEN]);

#endif
