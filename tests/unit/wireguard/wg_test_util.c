// SPDX-License-Identifier: MIT
#include "wg_test_util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wireguard/noise.h"

void wgt_unhex(uint8_t *out, size_t len, const char *hex)
{
	if (strlen(hex) != 2 * len)
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
}

void wgt_random_push(struct wgt_random *r, const uint8_t *bytes, size_t len)
{
	if (r->n >= sizeof(r->queue) / sizeof(r->queue[0]))
		abort();
	r->queue[r->n] = bytes;
	r->queue_len[r->n++] = len;
}

void wgt_random_fn(void *buf, size_t len, void *arg)
{
	struct wgt_random *r = arg;
	uint8_t *p = buf;

	if (r->next < r->n) {
		if (r->queue_len[r->next] != len)
			abort();
		memcpy(buf, r->queue[r->next++], len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		r->counter = r->counter * 6364136223846793005ULL +
			     1442695040888963407ULL;
		p[i] = (uint8_t)(r->counter >> 56);
	}
}

void wgt_tai64n_fn(uint8_t out[12], void *arg)
{
	const struct wgt_tai *t = arg;

	wg_tai64n_encode(out, t->s, t->ns);
}

static uint64_t openssl_allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
	openssl_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	openssl_allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	free(p);
}

void wgt_count_openssl_allocs(void)
{
	/* only possible before libcrypto's first allocation */
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
		abort();
}

uint64_t wgt_openssl_allocs(void)
{
	return openssl_allocs;
}
