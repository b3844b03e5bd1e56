// SPDX-License-Identifier: MIT
/*
 * The STUN codec on any byte string: stun_msg_parse, every getter on every
 * attribute, both integrity checks, the fingerprint, ChannelData decoding,
 * stream framing and the shared-socket classifier. Whatever parses is built
 * again with the builder and must parse back to the same attributes; a
 * ChannelData message must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ice/demux.h"
#include "ice/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "fuzz key";

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void use_getters(const struct stun_msg *m)
{
	struct stun_password_alg algs[4];
	union sockaddr_any a;
	const uint8_t *v;
	const char *reason;
	uint16_t types[8], ch;
	uint32_t u32;
	uint64_t u64;
	uint8_t proto;
	size_t n, len;
	char s[64];
	int code, fam;
	bool r;

	for (size_t i = 0; i < m->attr_count; i++) {
		const struct stun_attr *at = &m->attrs[i];

		check(at->offset + at->len <= m->len);
		stun_attr_get_addr(m, at, &a);
		stun_attr_get_xor_addr(m, at, &a);
		stun_msg_get_bytes(m, at->type, &v, &len);
		stun_msg_get_string(m, at->type, s, sizeof(s));
		stun_msg_get_u32(m, at->type, &u32);
		stun_msg_get_u64(m, at->type, &u64);
		stun_msg_find_next(m, at);
	}
	stun_msg_get_error(m, &code, &reason, &len);
	stun_msg_get_unknown_attrs(m, types, 8, &n);
	stun_msg_get_channel_number(m, &ch);
	stun_msg_get_requested_transport(m, &proto);
	stun_msg_get_requested_family(m, &fam);
	stun_msg_get_even_port(m, &r);
	stun_msg_get_password_algorithm(m, &algs[0]);
	stun_msg_get_password_algorithms(m, algs, 4, &n);
	stun_msg_check_integrity(m, key, sizeof(key));
	stun_msg_check_integrity_sha256(m, key, sizeof(key));
	check(stun_msg_check_fingerprint(m) != -STUN_EFINGERPRINT);
}

/* Build the parsed message again, integrity and fingerprint made anew. */
static void rebuild(const struct stun_msg *m, int rc)
{
	static uint8_t out[STUN_MAX_MSG_LEN + 64];
	struct stun_builder b;
	struct stun_msg m2;
	size_t j = 0;
	int n, rc2;

	stun_builder_init(&b, out, sizeof(out), m->type, m->tid);
	for (size_t i = 0; i < m->attr_count; i++) {
		const struct stun_attr *at = &m->attrs[i];

		if (at->type == STUN_ATTR_MESSAGE_INTEGRITY ||
		    at->type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		    at->type == STUN_ATTR_FINGERPRINT)
			continue;
		stun_builder_add(&b, at->type, stun_attr_value(m, at), at->len);
	}
	stun_builder_add_message_integrity(&b, key, sizeof(key));
	stun_builder_add_fingerprint(&b);
	n = stun_builder_finish(&b);
	if (n == -ENOSPC)
		return; /* the added integrity no longer fits 16 bits */
	check(n > 0);
	rc2 = stun_msg_parse(&m2, out, (size_t)n);
	if (rc2 == -STUN_ETOOMANY)
		return; /* MI and FP pushed it over the cap */
	check(rc2 == rc);
	check(m2.type == m->type && !memcmp(m2.tid, m->tid, STUN_TID_LEN));
	for (size_t i = 0; i < m->attr_count; i++) {
		const struct stun_attr *at = &m->attrs[i];

		if (at->type == STUN_ATTR_MESSAGE_INTEGRITY ||
		    at->type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		    at->type == STUN_ATTR_FINGERPRINT)
			continue;
		check(j < m2.attr_count);
		check(m2.attrs[j].type == at->type &&
		      m2.attrs[j].len == at->len);
		check(!memcmp(stun_attr_value(&m2, &m2.attrs[j]),
			      stun_attr_value(m, at), at->len));
		j++;
	}
	check(stun_msg_check_integrity(&m2, key, sizeof(key)) == 0);
	check(stun_msg_check_fingerprint(&m2) == 0);
}

static void channeldata(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	const uint8_t *d;
	uint16_t ch;
	size_t dlen;
	int n;

	if (stun_channeldata_decode(data, size, &ch, &d, &dlen) != 0)
		return;
	check(dlen + 4 <= size);
	n = stun_channeldata_encode(out, sizeof(out), ch, d, dlen, false);
	check(n == (int)dlen + 4 && !memcmp(out, data, (size_t)n));
	check(demux_classify(data, size, true) == DEMUX_CHANNELDATA);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	int rc;

	demux_classify(data, size, size & 1);
	stun_stream_frame_len(data, size);
	channeldata(data, size);
	rc = stun_msg_parse(&m, data, size);
	if (rc != 0 && rc != -STUN_EUNKNOWN) {
		check(rc < 0);
		return 0;
	}
	check(stun_is_message(data, size));
	check(demux_classify(data, size, false) == DEMUX_STUN ||
	      data[0] > 0x03);
	check(stun_stream_frame_len(data, size) == (long)size);
	use_getters(&m);
	rebuild(&m, rc);
	return 0;
}
