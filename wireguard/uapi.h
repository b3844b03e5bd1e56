/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard cross-platform userspace API (wireguard.com/xplatform): the
 * text protocol that wg(8) speaks over /var/run/wireguard/NAME.sock.
 *
 *   request:  "get=1\n\n"  or  "set=1\n" key=value lines "\n"
 *   answer:   [key=value lines (get only)] "errno=N\n\n"
 *
 * This module parses requests into plain structs (independent of the
 * WireGuard core's own structs; the daemon applies them) and writes answers.
 * No I/O except the two socket helpers at the end.
 *
 * errno values: 0 on success, otherwise a negative errno as wireguard-go
 * writes it (e.g. "errno=-22" for EINVAL); wg(8) turns that back into a
 * positive errno for its message.
 */
#ifndef ICEMESH_WIREGUARD_UAPI_H
#define ICEMESH_WIREGUARD_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/addr.h"

enum {
	UAPI_KEY_LEN = 32,
	/* Caps: a request can grow nothing past these. */
	UAPI_MAX_REQUEST = 8 << 20, /* bytes, through the blank line */
	UAPI_MAX_LINE = 512, /* one key=value line */
	UAPI_MAX_PEERS = 16384, /* peer sections in one set */
	UAPI_MAX_ALLOWED_IPS = 1 << 18, /* allowed_ip lines in one set */
};

enum uapi_op {
	UAPI_OP_GET = 1,
	UAPI_OP_SET = 2,
};

/* Interface-level flags of a set request. */
enum {
	UAPI_SET_PRIVATE_KEY = 1 << 0, /* private_key (all zero: remove it) */
	UAPI_SET_LISTEN_PORT = 1 << 1, /* listen_port */
	UAPI_SET_FWMARK = 1 << 2, /* fwmark (0: remove it) */
	UAPI_SET_REPLACE_PEERS = 1 << 3, /* replace_peers=true */
};

/* Per-peer flags of a set request. */
enum {
	UAPI_PEER_REMOVE = 1 << 0, /* remove=true */
	UAPI_PEER_UPDATE_ONLY = 1 << 1, /* update_only=true */
	UAPI_PEER_PRESHARED_KEY = 1 << 2, /* preshared_key (zero: none) */
	UAPI_PEER_ENDPOINT = 1 << 3, /* endpoint */
	UAPI_PEER_KEEPALIVE = 1 << 4, /* persistent_keepalive_interval */
	UAPI_PEER_REPLACE_ALLOWED_IPS = 1 << 5, /* replace_allowed_ips=true */
};

struct uapi_allowed_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t ip[16]; /* as written; 4 bytes used for AF_INET */
	uint8_t cidr;
};

struct uapi_peer_set {
	uint8_t public_key[UAPI_KEY_LEN];
	uint32_t flags;
	uint8_t preshared_key[UAPI_KEY_LEN];
	union sockaddr_any endpoint;
	uint16_t persistent_keepalive; /* seconds, 0: off */
	/* In request order; apply after replace_allowed_ips. */
	size_t allowed_ips_off; /* index into uapi_set.allowed_ips */
	size_t n_allowed_ips;
};

struct uapi_set {
	uint32_t flags;
	uint8_t private_key[UAPI_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct uapi_peer_set *peers; /* in request order */
	size_t n_peers;
	/* every peer's allowed IPs, see allowed_ips_off */
	struct uapi_allowed_ip *allowed_ips;
	size_t n_allowed_ips;
	size_t cap_peers, cap_allowed_ips;
};

/*
 * Length of the first complete request in buf (through its terminating blank
 * line), 0 if more bytes are needed, -E2BIG if none fits in UAPI_MAX_REQUEST.
 */
ssize_t uapi_request_len(const char *buf, size_t len);

/*
 * Parse one complete request (as delimited by uapi_request_len; need not be
 * NUL-terminated). On success *op is set, and for UAPI_OP_SET *set is a new
 * struct the caller frees with uapi_set_free. Returns 0, -EPROTO (not a
 * key=value line, unknown operation, missing blank line), -EINVAL (bad key or
 * value, as wireguard-go answers) or -ENOMEM / -E2BIG (caps). The error code
 * is what the answer's errno= should carry.
 */
int uapi_parse(const char *buf, size_t len, enum uapi_op *op,
	       struct uapi_set **set);
/* Wipes the keys and frees; accepts NULL. */
void uapi_set_free(struct uapi_set *set);

/* An output buffer for answers. Holds secrets: uapi_buf_free wipes it. */
struct uapi_buf {
	char *data;
	size_t len, cap;
	int err; /* sticky: -ENOMEM or -E2BIG once a write failed */
};
void uapi_buf_init(struct uapi_buf *b);
void uapi_buf_free(struct uapi_buf *b);

/* What a get answer says about the interface. */
struct uapi_device_info {
	bool has_private_key;
	uint8_t private_key[UAPI_KEY_LEN];
	uint16_t listen_port; /* 0: not written */
	uint32_t fwmark; /* 0: not written */
};

/* What a get answer says about one peer. */
struct uapi_peer_info {
	uint8_t public_key[UAPI_KEY_LEN];
	bool has_preshared_key;
	uint8_t preshared_key[UAPI_KEY_LEN];
	union sockaddr_any endpoint; /* AF_UNSPEC: none */
	uint64_t last_handshake_sec; /* wall clock; 0: never */
	uint32_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive;
};

/*
 * A get answer is written as: uapi_write_device, then for each peer
 * uapi_write_peer followed by its uapi_write_allowed_ip lines, then
 * uapi_write_end(b, 0). A failed set is answered by uapi_write_end(b, err)
 * alone. Each returns b->err (0 while all is well).
 */
int uapi_write_device(struct uapi_buf *b, const struct uapi_device_info *d);
int uapi_write_peer(struct uapi_buf *b, const struct uapi_peer_info *p);
int uapi_write_allowed_ip(struct uapi_buf *b, int family, const void *ip,
			  uint8_t cidr);
int uapi_write_end(struct uapi_buf *b, int err);

/*
 * Write a set request equivalent to s (as wg(8) would send it): what tests,
 * fuzzing and a future CLI use. Returns b->err.
 */
int uapi_write_set(struct uapi_buf *b, const struct uapi_set *s);

/*
 * Socket helpers: a listening unix stream socket at dir/NAME.sock (dir NULL:
 * /var/run/wireguard), bound under umask 077 (owner only, as wireguard-go
 * does), a stale socket file replaced.
 * Returns the fd or -errno.
 */
int uapi_listen(const char *dir, const char *ifname);
/*
 * What answers a request: for a get, write the device and peers into answer
 * (uapi_write_device/peer/allowed_ip); for a set, apply set. Return 0 or the
 * -errno for the answer's errno= line; never call uapi_write_end. On error
 * whatever was written is discarded.
 */
typedef int (*uapi_handle_fn)(void *arg, enum uapi_op op,
			      const struct uapi_set *set,
			      struct uapi_buf *answer);

/* One client connection, for an event loop: bytes in, answers out. */
struct uapi_conn {
	char *buf; /* unanswered bytes; may hold keys, wiped on free */
	size_t len, cap;
};
void uapi_conn_init(struct uapi_conn *c);
void uapi_conn_free(struct uapi_conn *c);
/*
 * Feed bytes read from the client. Each complete request is parsed, handed
 * to handle() and its answer appended to out (the caller writes out->data,
 * out->len to the client, then uapi_buf_free). Returns 0 to keep reading,
 * or -EPROTO (not this protocol), -E2BIG (request past UAPI_MAX_REQUEST) or
 * -ENOMEM: send what is in out, then close the connection.
 */
int uapi_conn_input(struct uapi_conn *c, const char *data, size_t len,
		    uapi_handle_fn handle, void *arg, struct uapi_buf *out);
/*
 * Serve one accepted connection to completion, blocking, with
 * uapi_conn_input. Returns 0 when the client closed, or -errno.
 */
int uapi_serve_conn(int fd, uapi_handle_fn handle, void *arg);

#endif
