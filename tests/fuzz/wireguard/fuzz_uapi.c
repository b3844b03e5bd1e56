// SPDX-License-Identifier: MIT
/*
 * The UAPI request parser on any bytes: framing never reads past the input,
 * and what parses as a set round-trips through the writer unchanged.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "wireguard/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct uapi_set *s)
{
	struct uapi_set *s2 = NULL;
	struct uapi_buf b;
	enum uapi_op op;

	uapi_buf_init(&b);
	if (uapi_write_set(&b, s) != 0)
		abort();
	if (uapi_parse(b.data, b.len, &op, &s2) != 0 || op != UAPI_OP_SET)
		abort();
	if (s2->flags != s->flags || s2->n_peers != s->n_peers ||
	    s2->n_allowed_ips != s->n_allowed_ips ||
	    memcmp(s2->private_key, s->private_key, UAPI_KEY_LEN) != 0 ||
	    s2->listen_port != s->listen_port || s2->fwmark != s->fwmark)
		abort();
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct uapi_peer_set *a = &s->peers[i],
					   *c = &s2->peers[i];

		if (a->flags != c->flags ||
		    memcmp(a->public_key, c->public_key, UAPI_KEY_LEN) ||
		    memcmp(a->preshared_key, c->preshared_key, UAPI_KEY_LEN) ||
		    a->persistent_keepalive != c->persistent_keepalive ||
		    a->n_allowed_ips != c->n_allowed_ips ||
		    ((a->flags & UAPI_PEER_ENDPOINT) &&
		     !addr_equal(&a->endpoint, &c->endpoint)))
			abort();
	}
	if (s->n_allowed_ips &&
	    memcmp(s->allowed_ips, s2->allowed_ips,
		   s->n_allowed_ips * sizeof(*s->allowed_ips)) != 0)
		abort();
	uapi_set_free(s2);
	uapi_buf_free(&b);
}

static int handle(void *arg, enum uapi_op op, const struct uapi_set *set,
		  struct uapi_buf *answer)
{
	struct uapi_device_info d = { .listen_port = 1 };

	(void)arg;
	if (op == UAPI_OP_GET)
		return uapi_write_device(answer, &d);
	return set->n_peers > 2 ? -ENOSPC : 0;
}

/* The same bytes through a connection, fed in two pieces. */
static void through_conn(const char *buf, size_t size)
{
	size_t cut = size ? (unsigned char)buf[0] % (size + 1) : 0;
	struct uapi_conn c;
	struct uapi_buf out;
	int ret;

	uapi_conn_init(&c);
	uapi_buf_init(&out);
	ret = uapi_conn_input(&c, buf, cut, handle, NULL, &out);
	if (ret == 0)
		ret = uapi_conn_input(&c, buf + cut, size - cut, handle, NULL,
				      &out);
	/* every answer ends in an errno line and the blank line */
	if (out.len && (out.len < strlen("errno=0\n\n") ||
			memcmp(out.data + out.len - 2, "\n\n", 2) != 0))
		abort();
	uapi_buf_free(&out);
	uapi_conn_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy, so that ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	struct uapi_set *s = NULL;
	enum uapi_op op;
	ssize_t rlen;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	rlen = uapi_request_len(buf, size);
	if (rlen < 0 || (size_t)rlen > size)
		abort();
	if (uapi_parse(buf, size, &op, &s) == 0) {
		/* a parsed request is exactly one framed request */
		if ((size_t)rlen != size)
			abort();
		if (op == UAPI_OP_SET)
			round_trip(s);
		uapi_set_free(s);
	}
	through_conn(buf, size);
	free(buf);
	return 0;
}
