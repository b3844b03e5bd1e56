/* SPDX-License-Identifier: MIT */
/*
 * HTTPS requests on the daemon's libuv loop: libcurl's multi interface with
 * its sockets watched by uv_poll and its timeout by a uv_timer, so nothing
 * ever blocks the loop (name resolution uses libcurl's threaded resolver).
 *
 * Trust: either a CA file (or the system store), or a pinned public key
 * "sha256//BASE64". With a pin and no CA file, certificate-chain and host-name
 * verification are off and the pin alone decides: the server must prove it
 * holds the private key of exactly that public key during the TLS handshake,
 * which is a stronger statement than any CA's signature (see
 * docs/coordinator-client.md). With both, both must hold.
 */
#ifndef ICEMESH_COORDC_HTTP_H
#define ICEMESH_COORDC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

enum {
	COORDC_HTTP_DEFAULT_MAX_RESPONSE = 8 << 20,
	COORDC_HTTP_DEFAULT_CONNECT_MS = 10000,
	COORDC_HTTP_MAX_INFLIGHT = 64,
};

struct coordc_http_config {
	const char *ca_file; /* NULL: the system store */
	const char *pin; /* "sha256//BASE64[;sha256//...]" or NULL */
	bool allow_http; /* plain http:// URLs (loopback behind a proxy) */
	uint32_t connect_timeout_ms; /* 0: default */
	size_t max_response; /* body cap; 0: default */
};

struct coordc_http;
struct coordc_http_xfer;

struct coordc_http_request {
	const char *method; /* "GET" or "POST" */
	const char *url;
	const char *bearer; /* Authorization: Bearer ...; NULL for none */
	const char *body; /* POST: JSON, copied */
	size_t body_len;
	uint32_t timeout_ms; /* whole request, 0: none (do not) */
};

/*
 * The end of a request. result is 0 when an HTTP answer came (any status,
 * in status; body is NUL-terminated, valid only during the call), or:
 *   -ETIMEDOUT    connect or request timeout
 *   -ECONNREFUSED nothing listens / could not connect / resolve
 *   -EKEYREJECTED TLS: pinned public key mismatch
 *   -EPROTO       TLS handshake or certificate failure, bad HTTP
 *   -EMSGSIZE     response body over the cap
 *   -EIO          anything else
 * Not called for cancelled requests.
 */
typedef void (*coordc_http_done_fn)(int result, long status, const char *body,
				    size_t len, void *arg);

/* Copies cfg. NULL on failure. Free with coordc_http_free. */
struct coordc_http *coordc_http_new(uv_loop_t *loop,
				    const struct coordc_http_config *cfg);
/*
 * Cancel every request (no callbacks) and release everything. The handles
 * close asynchronously: run the loop afterwards before uv_loop_close.
 * Must not be called from inside a done callback.
 */
void coordc_http_free(struct coordc_http *http);

/*
 * Start a request; done is called once, later, from the loop. *out (if not
 * NULL) gets a handle valid until done runs or it is cancelled.
 * Returns 0, -EINVAL, -EAGAIN (COORDC_HTTP_MAX_INFLIGHT reached) or -ENOMEM.
 */
int coordc_http_start(struct coordc_http *http,
		      const struct coordc_http_request *req,
		      coordc_http_done_fn done, void *arg,
		      struct coordc_http_xfer **out);
/* Abort a request; its callback will not run. NULL is fine. */
void coordc_http_cancel(struct coordc_http_xfer *x);

/* Requests in flight. */
unsigned coordc_http_inflight(const struct coordc_http *http);

/*
 * Exponential backoff with jitter: the delay before attempt number
 * attempt (0 = first retry) is d = min(max_ms, base_ms * 2^attempt), drawn
 * uniformly from [d/2, d] using rnd (any 32-bit random value), so that many
 * nodes that lost the server at once do not come back at once.
 */
uint64_t coordc_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms,
			   uint32_t rnd);

#endif
