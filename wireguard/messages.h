/* SPDX-License-Identifier: MIT */
/*
 * WireGuard's four messages on the wire (WireGuard §5.4.2-5.4.7,
 * wireguard.com/protocol), and their parser.
 *
 * Every field is a byte array so that the structs have no padding and no
 * alignment: a struct can overlay a received buffer at any offset. Integers
 * are little-endian on the wire; use wg_get_le32/64 and wg_put_le32/64.
 */
#ifndef ICEMESH_WIREGUARD_MESSAGES_H
#define ICEMESH_WIREGUARD_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

enum wg_msg_type {
	WG_MSG_INITIATION = 1, /* §5.4.2 */
	WG_MSG_RESPONSE = 2, /* §5.4.3 */
	WG_MSG_COOKIE = 3, /* §5.4.7 */
	WG_MSG_DATA = 4, /* §5.4.6 */
};

enum {
	WG_KEY_LEN = 32,
	WG_TAI64N_LEN = 12,
	WG_COOKIE_LEN = 16,
	WG_COOKIE_NONCE_LEN = 24,
	WG_DATA_HEADER_LEN = 16, /* type, receiver index, counter */
	WG_DATA_OVERHEAD = 32, /* header and Poly1305 tag */
	WG_DATA_PAD = 16, /* plaintext padded to a multiple (§5.4.6) */
};

/* The protocol's timing and counting constants (WireGuard §6.1, §6.4). */
enum wg_protocol_const {
	REKEY_AFTER_TIME_MS = 120 * 1000,
	REJECT_AFTER_TIME_MS = 180 * 1000,
	REKEY_ATTEMPT_TIME_MS = 90 * 1000,
	REKEY_TIMEOUT_MS = 5 * 1000,
	REKEY_TIMEOUT_JITTER_MAX_MS = 334, /* as the reference implementation */
	KEEPALIVE_TIMEOUT_MS = 10 * 1000,
	MAX_TIMER_HANDSHAKES = 90 / 5, /* REKEY_ATTEMPT_TIME / REKEY_TIMEOUT */
};
/* 64-bit counts cannot be enum constants in C11 */
#define REKEY_AFTER_MESSAGES (1ULL << 60)
/* the window's worth below 2^64, so a counter can never wrap (§6.4) */
#define REJECT_AFTER_MESSAGES (UINT64_MAX - WG_REPLAY_WINDOW - 1)
#define WG_REPLAY_BITS_TOTAL 8192
#define WG_REPLAY_WINDOW (WG_REPLAY_BITS_TOTAL - 64)

struct wg_msg_macs {
	uint8_t mac1[16];
	uint8_t mac2[16];
};

struct wg_msg_initiation {
	uint8_t header[4]; /* type, then three zero bytes */
	uint8_t sender[4];
	uint8_t ephemeral[WG_KEY_LEN];
	uint8_t enc_static[WG_KEY_LEN + 16];
	uint8_t enc_timestamp[WG_TAI64N_LEN + 16];
	struct wg_msg_macs macs;
};

struct wg_msg_response {
	uint8_t header[4];
	uint8_t sender[4];
	uint8_t receiver[4];
	uint8_t ephemeral[WG_KEY_LEN];
	uint8_t enc_nothing[16];
	struct wg_msg_macs macs;
};

struct wg_msg_cookie {
	uint8_t header[4];
	uint8_t receiver[4];
	uint8_t nonce[WG_COOKIE_NONCE_LEN];
	uint8_t enc_cookie[WG_COOKIE_LEN + 16];
};

struct wg_msg_data {
	uint8_t header[4];
	uint8_t receiver[4];
	uint8_t counter[8];
	uint8_t payload[]; /* ciphertext and tag */
};

_Static_assert(sizeof(struct wg_msg_initiation) == 148, "initiation size");
_Static_assert(sizeof(struct wg_msg_response) == 92, "response size");
_Static_assert(sizeof(struct wg_msg_cookie) == 64, "cookie size");
_Static_assert(sizeof(struct wg_msg_data) == WG_DATA_HEADER_LEN, "data size");

/* A received message, checked for type and length, pointing into the buffer. */
struct wg_msg {
	enum wg_msg_type type;
	uint32_t receiver; /* response, cookie, data; host order */
	uint32_t sender; /* initiation, response */
	uint64_t counter; /* data */
	union {
		const struct wg_msg_initiation *init;
		const struct wg_msg_response *resp;
		const struct wg_msg_cookie *cookie;
		const struct wg_msg_data *data;
	} u;
	size_t len; /* the whole message */
	size_t payload_len; /* data: ciphertext and tag, >= 16 */
};

/*
 * Check buf as one WireGuard message: known type, zero reserved bytes, the
 * exact length of a handshake message, at least header and tag for data.
 * Fills *out (pointers into buf, which must outlive it) and returns 0, or
 * returns -EBADMSG with *out untouched.
 */
int wg_msg_parse(const uint8_t *buf, size_t len, struct wg_msg *out);

/* Length of a data message carrying plaintext_len bytes after padding. */
size_t wg_msg_data_len(size_t plaintext_len);

static inline uint32_t wg_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t wg_get_le64(const uint8_t *p)
{
	return (uint64_t)wg_get_le32(p) | (uint64_t)wg_get_le32(p + 4) << 32;
}

static inline void wg_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void wg_put_le64(uint8_t *p, uint64_t v)
{
	wg_put_le32(p, (uint32_t)v);
	wg_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline void wg_msg_set_header(uint8_t header[4], enum wg_msg_type t)
{
	header[0] = (uint8_t)t;
	header[1] = header[2] = header[3] = 0;
}

#endif
