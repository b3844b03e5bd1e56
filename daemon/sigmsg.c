// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon/sigmsg.h"

#define MAGIC "icemesh-signal 1"

static int parse_hex64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len != 16)
		return -EBADMSG;
	for (size_t i = 0; i < 16; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -EBADMSG;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static int parse_header(const char *l, size_t len, struct sigmsg *m)
{
	if (len == 4 + 1 + 16 + 1 + 16 && !memcmp(l, "desc ", 5) &&
	    l[21] == ' ') {
		m->kind = SIGMSG_DESC;
		if (parse_hex64(l + 5, 16, &m->gen) ||
		    parse_hex64(l + 22, 16, &m->ack))
			return -EBADMSG;
	} else if (len == 4 + 1 + 16 && !memcmp(l, "cand ", 5)) {
		m->kind = SIGMSG_CAND;
		if (parse_hex64(l + 5, 16, &m->gen))
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	return m->gen ? 0 : -EBADMSG;
}

static int take_line(struct sigmsg *m, const char *l, size_t len)
{
	char tmp[ICE_LINE_MAX + 1];
	struct ice_sdp_line sl;

	if (len > ICE_LINE_MAX || m->end_of_candidates)
		return -EBADMSG; /* nothing may follow end-of-candidates */
	memcpy(tmp, l, len);
	tmp[len] = '\0';
	if (ice_sdp_parse_line(tmp, &sl))
		return -EBADMSG;
	switch (sl.kind) {
	case ICE_SDP_UFRAG:
	case ICE_SDP_PWD: {
		char *dst = sl.kind == ICE_SDP_UFRAG ? m->ufrag : m->pwd;

		if (m->kind != SIGMSG_DESC || *dst || m->n_cands)
			return -EBADMSG;
		memcpy(dst, sl.value, sizeof(sl.value));
		return 0;
	}
	case ICE_SDP_CANDIDATE:
		if (m->n_cands >= SIGMSG_MAX_CANDS)
			return -EBADMSG;
		m->cands[m->n_cands++] = sl.cand;
		return 0;
	case ICE_SDP_END_OF_CANDIDATES:
		m->end_of_candidates = true;
		return 0;
	default:
		return -EBADMSG;
	}
}

int sigmsg_parse(const char *buf, size_t len, struct sigmsg *out)
{
	size_t pos = 0, lineno = 0;

	if (len > SIGMSG_MAX_LEN || !len || buf[len - 1] != '\n')
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *l = buf + pos;
		const char *nl = memchr(l, '\n', len - pos);
		size_t ll = (size_t)(nl - l);
		int r;

		if (memchr(l, '\0', ll) || memchr(l, '\r', ll))
			return -EBADMSG;
		if (lineno == 0)
			r = ll == strlen(MAGIC) && !memcmp(l, MAGIC, ll) ?
				    0 :
				    -EBADMSG;
		else if (lineno == 1)
			r = parse_header(l, ll, out);
		else
			r = take_line(out, l, ll);
		if (r)
			return r;
		lineno++;
		pos += ll + 1;
	}
	if (lineno < 2)
		return -EBADMSG;
	if (out->kind == SIGMSG_DESC && (!*out->ufrag || !*out->pwd))
		return -EBADMSG;
	return 0;
}

int sigmsg_build(char *buf, size_t cap, enum sigmsg_kind kind, uint64_t gen,
		 uint64_t ack, const char *ufrag, const char *pwd,
		 const char *const *lines, size_t n, bool eoc)
{
	size_t off = 0;
	int r;

#define PUT(...)                                                     \
	do {                                                         \
		r = snprintf(buf + off, cap - off, __VA_ARGS__);     \
		if (r < 0 || (size_t)r >= cap - off)                 \
			return -ENOSPC;                              \
		off += (size_t)r;                                    \
	} while (0)

	if (!cap)
		return -ENOSPC;
	PUT("%s\n", MAGIC);
	if (kind == SIGMSG_DESC)
		PUT("desc %016" PRIx64 " %016" PRIx64 "\na=ice-ufrag:%s\n"
		    "a=ice-pwd:%s\n",
		    gen, ack, ufrag, pwd);
	else
		PUT("cand %016" PRIx64 "\n", gen);
	for (size_t i = 0; i < n; i++)
		PUT("%s\n", lines[i]);
	if (eoc)
		PUT("a=end-of-candidates\n");
#undef PUT
	return (int)off;
}
