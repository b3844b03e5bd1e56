/* SPDX-License-Identifier: MIT */
/* Helpers shared by the wireguard protocol-core tests (prefix wgt_). */
#ifndef ICEMESH_TESTS_WG_TEST_UTIL_H
#define ICEMESH_TESTS_WG_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Decode hex into out (exactly len bytes expected); aborts on a bad string. */
void wgt_unhex(uint8_t *out, size_t len, const char *hex);

/*
 * A scripted random source: returns the queued byte strings in order, then
 * a deterministic stream (a counter) once they run out.
 */
struct wgt_random {
	const uint8_t *queue[8];
	size_t queue_len[8];
	size_t n, next;
	uint64_t counter;
};
void wgt_random_push(struct wgt_random *r, const uint8_t *bytes, size_t len);
void wgt_random_fn(void *buf, size_t len, void *arg);

/* A scripted TAI64N clock: unix seconds and nanoseconds. */
struct wgt_tai {
	uint64_t s;
	uint32_t ns;
};
void wgt_tai64n_fn(uint8_t out[12], void *arg);

/* Counts OpenSSL allocations once wgt_count_openssl_allocs() has run first. */
void wgt_count_openssl_allocs(void);
uint64_t wgt_openssl_allocs(void);

#endif
