/* SPDX-License-Identifier: MIT */
/*
 * STUN message codec (RFC 8489, compatible with RFC 5389 peers), with the
 * attributes of ICE (RFC 8445) and TURN (RFC 8656), and TURN ChannelData
 * framing (RFC 8656 §12).
 *
 * No I/O and no allocation. Parsing fills a view (struct stun_msg) that points
 * into the caller's buffer: the buffer must outlive the view. Building writes
 * into a caller buffer and never past its end.
 *
 * Every function returns 0 (or a length) on success and a negative errno
 * value on failure; output parameters are written only on success (one
 * documented exception: stun_msg_parse on -STUN_EUNKNOWN). docs/stun.md has
 * the whole list with what each code means.
 */
#ifndef ICEMESH_ICE_STUN_H
#define ICEMESH_ICE_STUN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

/* ------------------------------------------------------------ constants */

enum {
	STUN_HEADER_LEN = 20, /* RFC 8489 §5 */
	STUN_MAGIC_COOKIE = 0x2112A442, /* RFC 8489 §5 */
	STUN_TID_LEN = 12, /* RFC 8489 §5 */
	STUN_ATTR_HEADER_LEN = 4, /* RFC 8489 §14 */
	STUN_MAX_MSG_LEN =
		STUN_HEADER_LEN + 0xFFFC, /* 16-bit length, 4-aligned */
	STUN_FINGERPRINT_XOR = 0x5354554e, /* RFC 8489 §14.7 */
	STUN_HMAC_SHA1_LEN = 20, /* RFC 8489 §14.5 */
	STUN_HMAC_SHA256_LEN = 32, /* RFC 8489 §14.6 */
	STUN_HMAC_SHA256_MIN_LEN = 16, /* RFC 8489 §14.6: may be truncated */
	STUN_LONG_TERM_KEY_MD5_LEN = 16, /* RFC 8489 §9.2.2 */
	STUN_LONG_TERM_KEY_SHA256_LEN = 32, /* RFC 8489 §9.2.2 */
	STUN_USERHASH_LEN = 32, /* RFC 8489 §14.4 */
	STUN_USERNAME_MAX = 512, /* RFC 8489 §14.3: < 513 bytes */
	STUN_TEXT_MAX = 763, /* REALM, NONCE, SOFTWARE, reason phrase */
	STUN_MAX_ATTRS = 48, /* attributes indexed per message */
	STUN_MAX_UNKNOWN = 8, /* unknown required types reported */
};

/* Message classes, RFC 8489 §5 (the C1 C0 bits, as a number). */
enum stun_class {
	STUN_CLASS_REQUEST = 0,
	STUN_CLASS_INDICATION = 1,
	STUN_CLASS_SUCCESS = 2,
	STUN_CLASS_ERROR = 3,
};

/* Methods. */
enum stun_method {
	STUN_METHOD_BINDING = 0x001, /* RFC 8489 §18.2 */
	STUN_METHOD_ALLOCATE = 0x003, /* RFC 8656 §17 */
	STUN_METHOD_REFRESH = 0x004, /* RFC 8656 §17 */
	STUN_METHOD_SEND = 0x006, /* RFC 8656 §17 */
	STUN_METHOD_DATA = 0x007, /* RFC 8656 §17 */
	STUN_METHOD_CREATE_PERMISSION = 0x008, /* RFC 8656 §17 */
	STUN_METHOD_CHANNEL_BIND = 0x009, /* RFC 8656 §17 */
};

/*
 * Attribute types. 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF
 * comprehension-optional (RFC 8489 §14).
 */
enum stun_attr_type {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001, /* RFC 8489 §14.1 */
	STUN_ATTR_USERNAME = 0x0006, /* RFC 8489 §14.3 */
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008, /* RFC 8489 §14.5 */
	STUN_ATTR_ERROR_CODE = 0x0009, /* RFC 8489 §14.8 */
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A, /* RFC 8489 §14.13 */
	STUN_ATTR_CHANNEL_NUMBER = 0x000C, /* RFC 8656 §18.1 */
	STUN_ATTR_LIFETIME = 0x000D, /* RFC 8656 §18.2 */
	STUN_ATTR_XOR_PEER_ADDRESS = 0x0012, /* RFC 8656 §18.3 */
	STUN_ATTR_DATA = 0x0013, /* RFC 8656 §18.4 */
	STUN_ATTR_REALM = 0x0014, /* RFC 8489 §14.9 */
	STUN_ATTR_NONCE = 0x0015, /* RFC 8489 §14.10 */
	STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016, /* RFC 8656 §18.5 */
	STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017, /* RFC 8656 §18.6 */
	STUN_ATTR_EVEN_PORT = 0x0018, /* RFC 8656 §18.7 */
	STUN_ATTR_REQUESTED_TRANSPORT = 0x0019, /* RFC 8656 §18.8 */
	STUN_ATTR_DONT_FRAGMENT = 0x001A, /* RFC 8656 §18.9 */
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C, /* RFC 8489 §14.6 */
	STUN_ATTR_PASSWORD_ALGORITHM = 0x001D, /* RFC 8489 §14.12 */
	STUN_ATTR_USERHASH = 0x001E, /* RFC 8489 §14.4 */
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020, /* RFC 8489 §14.2 */
	STUN_ATTR_RESERVATION_TOKEN = 0x0022, /* RFC 8656 §18.10 */
	STUN_ATTR_PRIORITY = 0x0024, /* RFC 8445 §16.1 */
	STUN_ATTR_USE_CANDIDATE = 0x0025, /* RFC 8445 §16.1 */
	STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002, /* RFC 8489 §14.11 */
	STUN_ATTR_ALTERNATE_DOMAIN = 0x8003, /* RFC 8489 §14.16 */
	STUN_ATTR_SOFTWARE = 0x8022, /* RFC 8489 §14.14 */
	STUN_ATTR_ALTERNATE_SERVER = 0x8023, /* RFC 8489 §14.15 */
	STUN_ATTR_FINGERPRINT = 0x8028, /* RFC 8489 §14.7 */
	STUN_ATTR_ICE_CONTROLLED = 0x8029, /* RFC 8445 §16.1 */
	STUN_ATTR_ICE_CONTROLLING = 0x802A, /* RFC 8445 §16.1 */
};

/* ERROR-CODE values (RFC 8489 §14.8, RFC 8656 §18.11, RFC 8445 §16.1). */
enum stun_error_code {
	STUN_ERR_TRY_ALTERNATE = 300,
	STUN_ERR_BAD_REQUEST = 400,
	STUN_ERR_UNAUTHENTICATED = 401,
	STUN_ERR_FORBIDDEN = 403,
	STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
	STUN_ERR_ALLOCATION_MISMATCH = 437,
	STUN_ERR_STALE_NONCE = 438,
	STUN_ERR_ADDRESS_FAMILY_NOT_SUPPORTED = 440,
	STUN_ERR_WRONG_CREDENTIALS = 441,
	STUN_ERR_UNSUPPORTED_TRANSPORT_PROTOCOL = 442,
	STUN_ERR_PEER_ADDRESS_FAMILY_MISMATCH = 443,
	STUN_ERR_ALLOCATION_QUOTA_REACHED = 486,
	STUN_ERR_ROLE_CONFLICT = 487,
	STUN_ERR_SERVER_ERROR = 500,
	STUN_ERR_INSUFFICIENT_CAPACITY = 508,
};

/* PASSWORD-ALGORITHM numbers, RFC 8489 §18.5. */
enum stun_password_alg_id {
	STUN_PASSWORD_ALG_MD5 = 0x0001,
	STUN_PASSWORD_ALG_SHA256 = 0x0002,
};

/* REQUESTED-TRANSPORT protocol number for UDP, RFC 8656 §18.8. */
enum { STUN_TRANSPORT_UDP = 17 };

/* TURN channel numbers, RFC 8656 §12. */
enum {
	STUN_CHANNEL_MIN = 0x4000,
	STUN_CHANNEL_MAX = 0x4FFF,
	STUN_CHANNELDATA_HEADER_LEN = 4,
};

/*
 * Parse errors. Each is a positive errno value, returned negated
 * (return -STUN_ETRUNC), and has exactly one meaning in this module.
 */
enum stun_parse_error {
	/* Not STUN: top two bits set, or no magic cookie. */
	STUN_ENOTSTUN = ENOMSG,
	/* Fewer bytes than the 20-byte header, or than its length field says. */
	STUN_ETRUNC = ENODATA,
	/*
	 * Length field not a multiple of 4 (the last attribute's padding is
	 * missing), or bytes after the message.
	 */
	STUN_EBADLEN = EMSGSIZE,
	/* An attribute header or value runs past the end of the message. */
	STUN_EOVERRUN = EOVERFLOW,
	/*
	 * A known attribute whose value is malformed: wrong size, unknown
	 * address family, ERROR-CODE class out of 3..6, text too long...
	 * stun_msg.bad_attr names the type.
	 */
	STUN_EBADATTR = EPROTO,
	/* A known attribute seen twice (XOR-PEER-ADDRESS may repeat). */
	STUN_EDUP = ENOTUNIQ,
	/*
	 * Comprehension-required attributes this codec does not know. The
	 * message is otherwise well formed and *out IS filled; out->unknown[]
	 * lists them (for a 420 answer with UNKNOWN-ATTRIBUTES).
	 */
	STUN_EUNKNOWN = EOPNOTSUPP,
	/*
	 * MESSAGE-INTEGRITY(-SHA256) or FINGERPRINT in the wrong place: anything
	 * after FINGERPRINT, anything but MESSAGE-INTEGRITY-SHA256 or
	 * FINGERPRINT after MESSAGE-INTEGRITY, anything but FINGERPRINT after
	 * MESSAGE-INTEGRITY-SHA256. (RFC 8489 §14.5 lets a receiver ignore what
	 * follows the integrity; icemesh drops such a message instead: nothing
	 * an honest sender builds looks like that.)
	 */
	STUN_EMISPLACED = EBADMSG,
	/* FINGERPRINT present and wrong. */
	STUN_EFINGERPRINT = EILSEQ,
	/* More than STUN_MAX_ATTRS attributes. */
	STUN_ETOOMANY = E2BIG,
};

/* ------------------------------------------------------------ parsing */

struct stun_attr {
	uint16_t type;
	uint16_t len; /* value length, padding excluded */
	uint32_t offset; /* of the value, from the start of the message */
};

/*
 * A parsed message: a view into the caller's buffer. Fields are read-only for
 * callers; use the getters below for attribute values.
 */
struct stun_msg {
	const uint8_t *buf; /* the message (borrowed) */
	size_t len; /* header + attributes */
	uint16_t type; /* raw message type */
	uint16_t method; /* enum stun_method (or an unknown one) */
	uint8_t cls; /* enum stun_class */
	uint8_t tid[STUN_TID_LEN];
	uint16_t attr_count;
	struct stun_attr attrs[STUN_MAX_ATTRS]; /* in wire order */
	/* Offsets of these attributes' headers, 0 when absent. */
	uint32_t mi_off; /* MESSAGE-INTEGRITY */
	uint32_t mi256_off; /* MESSAGE-INTEGRITY-SHA256 */
	uint32_t fp_off; /* FINGERPRINT (already verified by parse) */
	/*
	 * The offending attribute's type: on -STUN_EBADATTR stun_msg_parse
	 * writes this one field (and nothing else) of *out.
	 */
	uint16_t bad_attr;
	/* On -STUN_EUNKNOWN: the unknown comprehension-required types. */
	uint16_t unknown_count; /* how many of unknown[] are set */
	uint16_t unknown[STUN_MAX_UNKNOWN];
};

/*
 * Parse one STUN message that fills buf[0..len) exactly (a UDP datagram, or
 * a frame cut with stun_stream_frame_len). Checks the header, every attribute
 * boundary, the value of every known attribute, duplicates, the position of
 * the integrity and fingerprint attributes, and the FINGERPRINT value when
 * present. Does not check MESSAGE-INTEGRITY: that needs a key, see
 * stun_msg_check_integrity*.
 * Returns 0, or -STUN_E* (enum stun_parse_error). *out is written on 0, and
 * on -STUN_EUNKNOWN; on -STUN_EBADATTR only out->bad_attr is written; on any
 * other error *out is left as it was.
 * *out borrows buf.
 */
int stun_msg_parse(struct stun_msg *out, const uint8_t *buf, size_t len);

/*
 * A cheap test: could buf be a STUN message (top bits, cookie, length field
 * consistent with len)? No attribute is looked at.
 */
bool stun_is_message(const uint8_t *buf, size_t len);

/*
 * On a byte stream (TURN over TCP/TLS, RFC 8656 §12.5): the length of the
 * STUN message or ChannelData frame (padding included) that starts at buf.
 * Returns the frame length (which may be more than len: read more), -EAGAIN
 * when fewer than 4 bytes are there to tell, -EINVAL when buf starts neither.
 */
long stun_stream_frame_len(const uint8_t *buf, size_t len);

/* Message type from method and class, and back (RFC 8489 §5). */
uint16_t stun_msg_type(uint16_t method, enum stun_class cls);
uint16_t stun_type_method(uint16_t type);
enum stun_class stun_type_class(uint16_t type);

/* ------------------------------------------------------------ getters */
/*
 * Getters look up the first attribute of a type. They return 0, -ENOENT when
 * the attribute is absent, or another negative errno named at the function.
 * Pointers they return point into msg->buf (borrowed).
 */

/* The first attribute of this type, or NULL. */
const struct stun_attr *stun_msg_find(const struct stun_msg *msg,
				      uint16_t type);
/* The next attribute of prev's type after prev, or NULL (XOR-PEER-ADDRESS). */
const struct stun_attr *stun_msg_find_next(const struct stun_msg *msg,
					   const struct stun_attr *prev);
bool stun_msg_has(const struct stun_msg *msg, uint16_t type);
/* The attribute's value (borrowed from msg->buf). */
const uint8_t *stun_attr_value(const struct stun_msg *msg,
			       const struct stun_attr *attr);

/* Any attribute's raw value: USERNAME, USERHASH, REALM, NONCE, SOFTWARE, DATA... */
int stun_msg_get_bytes(const struct stun_msg *msg, uint16_t type,
		       const uint8_t **val, size_t *len);
/*
 * A text attribute copied into out[outlen] with a terminating NUL.
 * -ENOSPC if it does not fit, -EINVAL if the value holds a NUL byte.
 */
int stun_msg_get_string(const struct stun_msg *msg, uint16_t type, char *out,
			size_t outlen);
/* MAPPED-ADDRESS, ALTERNATE-SERVER (plain address, RFC 8489 §14.1). */
int stun_msg_get_addr(const struct stun_msg *msg, uint16_t type,
		      union sockaddr_any *out);
/* XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (RFC 8489 §14.2). */
int stun_msg_get_xor_addr(const struct stun_msg *msg, uint16_t type,
			  union sockaddr_any *out);
/* The same for one given attribute (to walk repeated XOR-PEER-ADDRESS). */
int stun_attr_get_addr(const struct stun_msg *msg, const struct stun_attr *attr,
		       union sockaddr_any *out);
int stun_attr_get_xor_addr(const struct stun_msg *msg,
			   const struct stun_attr *attr,
			   union sockaddr_any *out);
/* 4-byte values: PRIORITY, LIFETIME. -EINVAL if the value is not 4 bytes. */
int stun_msg_get_u32(const struct stun_msg *msg, uint16_t type, uint32_t *out);
/*
 * 8-byte values: ICE-CONTROLLING / ICE-CONTROLLED tie-breaker,
 * RESERVATION-TOKEN. -EINVAL if the value is not 8 bytes.
 */
int stun_msg_get_u64(const struct stun_msg *msg, uint16_t type, uint64_t *out);
/*
 * ERROR-CODE: *code = class * 100 + number; *reason (borrowed, not
 * NUL-terminated) and *reason_len may be NULL.
 */
int stun_msg_get_error(const struct stun_msg *msg, int *code,
		       const char **reason, size_t *reason_len);
/*
 * UNKNOWN-ATTRIBUTES: up to cap types into types[]; *n = how many the
 * attribute lists (may exceed cap; only cap are written).
 */
int stun_msg_get_unknown_attrs(const struct stun_msg *msg, uint16_t *types,
			       size_t cap, size_t *n);
/* CHANNEL-NUMBER; -ERANGE outside 0x4000-0x4FFF. */
int stun_msg_get_channel_number(const struct stun_msg *msg, uint16_t *channel);
/* REQUESTED-TRANSPORT: the protocol number (17 for UDP). */
int stun_msg_get_requested_transport(const struct stun_msg *msg,
				     uint8_t *protocol);
/* REQUESTED-ADDRESS-FAMILY as AF_INET / AF_INET6; -EAFNOSUPPORT otherwise. */
int stun_msg_get_requested_family(const struct stun_msg *msg, int *family);
/* EVEN-PORT: *reserve = the R bit. */
int stun_msg_get_even_port(const struct stun_msg *msg, bool *reserve);

/* One entry of PASSWORD-ALGORITHM(S), RFC 8489 §14.11/§14.12. */
struct stun_password_alg {
	uint16_t alg; /* enum stun_password_alg_id */
	uint16_t params_len;
	const uint8_t *params; /* borrowed; NULL when params_len is 0 */
};
int stun_msg_get_password_algorithm(const struct stun_msg *msg,
				    struct stun_password_alg *out);
/* PASSWORD-ALGORITHMS: up to cap entries; *n = how many the list holds. */
int stun_msg_get_password_algorithms(const struct stun_msg *msg,
				     struct stun_password_alg *out, size_t cap,
				     size_t *n);

/* ------------------------------------------------------------ integrity */

/*
 * Check MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) or
 * MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6) with key[keylen]: for ICE the
 * peer's password as bytes (short-term), for TURN stun_long_term_key*().
 * Constant-time compare. Returns 0, -ENOENT when the attribute is absent,
 * -EACCES when it does not match, -ENOMEM/-EIO if libcrypto fails.
 */
int stun_msg_check_integrity(const struct stun_msg *msg, const uint8_t *key,
			     size_t keylen);
int stun_msg_check_integrity_sha256(const struct stun_msg *msg,
				    const uint8_t *key, size_t keylen);
/* FINGERPRINT: 0, -ENOENT when absent, -STUN_EFINGERPRINT when wrong. */
int stun_msg_check_fingerprint(const struct stun_msg *msg);

/*
 * Long-term credential keys, RFC 8489 §9.2.2 (no SASLprep / OpaqueString:
 * give the strings already prepared; plain ASCII needs nothing).
 * MD5(username ":" realm ":" password) into out[16], and
 * SHA-256(username ":" realm ":" password) into out[32].
 * The caller wipes out[] when done. Returns 0, -EINVAL (a NULL string),
 * -ENOMEM or -EIO (libcrypto failed).
 */
int stun_long_term_key(const char *username, const char *realm,
		       const char *password,
		       uint8_t out[STUN_LONG_TERM_KEY_MD5_LEN]);
int stun_long_term_key_sha256(const char *username, const char *realm,
			      const char *password,
			      uint8_t out[STUN_LONG_TERM_KEY_SHA256_LEN]);
/* USERHASH = SHA-256(username ":" realm), RFC 8489 §14.4. As above. */
int stun_userhash(const char *username, const char *realm,
		  uint8_t out[STUN_USERHASH_LEN]);

/* A fresh random transaction ID (libsodium's CSPRNG). */
void stun_tid_random(uint8_t tid[STUN_TID_LEN]);

/* ------------------------------------------------------------ building */

/*
 * Builds one message into buf[cap]. Errors are sticky: after the first
 * failing add_* (e.g. -ENOSPC), later calls do nothing and stun_builder_finish
 * returns that error, so a caller may add everything and check once. Nothing
 * is ever written past buf + cap. The header's length field is kept current
 * after each add.
 *
 * Order rules enforced (-EINVAL): nothing after FINGERPRINT; only
 * MESSAGE-INTEGRITY-SHA256 or FINGERPRINT after MESSAGE-INTEGRITY; only
 * FINGERPRINT after MESSAGE-INTEGRITY-SHA256.
 */
struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	uint8_t pad; /* padding byte; 0 unless set */
	uint8_t sealed; /* bit 0: MI, bit 1: MI-SHA256, bit 2: FINGERPRINT */
};

/* Writes the header. -ENOSPC if cap < 20, -EINVAL if type has top bits set. */
int stun_builder_init(struct stun_builder *b, uint8_t *buf, size_t cap,
		      uint16_t type, const uint8_t tid[STUN_TID_LEN]);
/*
 * Padding byte used from now on (RFC 8489 §14: any value; receivers ignore
 * it). 0 by default; the RFC 5769 vectors use 0x20.
 */
void stun_builder_set_padding(struct stun_builder *b, uint8_t pad);

/* Any attribute from raw bytes (val may be NULL when len is 0). */
int stun_builder_add(struct stun_builder *b, uint16_t type, const void *val,
		     size_t len);
/* A value-less flag: USE-CANDIDATE, DONT-FRAGMENT. */
int stun_builder_add_flag(struct stun_builder *b, uint16_t type);
/* Text without its NUL: USERNAME, REALM, NONCE, SOFTWARE. */
int stun_builder_add_string(struct stun_builder *b, uint16_t type,
			    const char *s);
int stun_builder_add_u32(struct stun_builder *b, uint16_t type, uint32_t v);
int stun_builder_add_u64(struct stun_builder *b, uint16_t type, uint64_t v);
/* MAPPED-ADDRESS, ALTERNATE-SERVER. -EAFNOSUPPORT unless IPv4/IPv6. */
int stun_builder_add_addr(struct stun_builder *b, uint16_t type,
			  const union sockaddr_any *addr);
/* XOR-MAPPED/-PEER/-RELAYED-ADDRESS (xor with cookie and this message's tid). */
int stun_builder_add_xor_addr(struct stun_builder *b, uint16_t type,
			      const union sockaddr_any *addr);
/* ERROR-CODE: code 300..699; reason may be NULL (then none). */
int stun_builder_add_error(struct stun_builder *b, int code,
			   const char *reason);
int stun_builder_add_unknown_attrs(struct stun_builder *b,
				   const uint16_t *types, size_t n);
/* CHANNEL-NUMBER; -EINVAL outside 0x4000-0x4FFF. */
int stun_builder_add_channel_number(struct stun_builder *b, uint16_t channel);
int stun_builder_add_requested_transport(struct stun_builder *b,
					 uint8_t protocol);
/* REQUESTED-ADDRESS-FAMILY from AF_INET / AF_INET6. */
int stun_builder_add_requested_family(struct stun_builder *b, int family);
int stun_builder_add_even_port(struct stun_builder *b, bool reserve);
int stun_builder_add_password_algorithm(struct stun_builder *b,
					const struct stun_password_alg *alg);
int stun_builder_add_password_algorithms(struct stun_builder *b,
					 const struct stun_password_alg *algs,
					 size_t n);
/* MESSAGE-INTEGRITY: HMAC-SHA1 with key[keylen] over the message so far. */
int stun_builder_add_message_integrity(struct stun_builder *b,
				       const uint8_t *key, size_t keylen);
/* MESSAGE-INTEGRITY-SHA256, full 32 bytes. */
int stun_builder_add_message_integrity_sha256(struct stun_builder *b,
					      const uint8_t *key,
					      size_t keylen);
/* FINGERPRINT: CRC-32 of the message so far, xor 0x5354554e. Last. */
int stun_builder_add_fingerprint(struct stun_builder *b);
/* The message length (header included), or the first error. */
int stun_builder_finish(struct stun_builder *b);

/* ------------------------------------------------------------ ChannelData */

/*
 * TURN ChannelData (RFC 8656 §12.4): channel (0x4000-0x4FFF), 16-bit length
 * of the data, the data, and, when pad is true, zero padding to 4 bytes
 * (required over TCP/TLS, optional over UDP, §12.5). Writes into out[cap].
 * Returns the total length, -EINVAL for a bad channel or len > 65535,
 * -ENOSPC when it does not fit.
 */
int stun_channeldata_encode(uint8_t *out, size_t cap, uint16_t channel,
			    const uint8_t *data, size_t len, bool pad);
/*
 * Decode one ChannelData message at buf[len]. The length field excludes
 * padding, which may be absent (UDP); bytes after data + padding are
 * tolerated (ignored). *data is borrowed from buf.
 * Returns 0, -ENODATA when buf is shorter than 4 + the length field,
 * -EINVAL when the channel number is not in 0x4000-0x4FFF.
 */
int stun_channeldata_decode(const uint8_t *buf, size_t len, uint16_t *channel,
			    const uint8_t **data, size_t *data_len);

/* ------------------------------------------------------------ words */

/* "XOR-MAPPED-ADDRESS", or "0x1234" style in buf for unknown types. */
const char *stun_attr_name(uint16_t type, char *buf, size_t len);
/* "Binding", "Allocate", ... or "unknown". */
const char *stun_method_name(uint16_t method);
/* "request", "indication", "success response", "error response". */
const char *stun_class_name(enum stun_class cls);
/* Words for a code returned by this module (negative), for log lines. */
const char *stun_strerror(int err);

#endif
