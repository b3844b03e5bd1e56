// SPDX-License-Identifier: MIT
/*
 * ChaCha20-Poly1305 on 1420-byte packets: libsodium against OpenSSL, the way
 * the WireGuard transport uses it (one key, a fresh 64-bit counter nonce per
 * packet, no associated data, seal in place). Prints packets/s and Gbit/s for
 * seal and open with each library, so docs/wireguard.md can say which one
 * wireguard/aead.c should use on this machine. Not part of the test suite.
 */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PKT 1420
#define TAG 16

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nonce_of(uint8_t n[12], uint64_t c)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(c >> (8 * i));
}

static uint8_t key[32], buf[PKT + TAG];

static int sodium_seal(uint64_t c)
{
	uint8_t n[12];
	unsigned long long clen;

	nonce_of(n, c);
	return crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, buf, PKT,
							 NULL, 0, NULL, n, key);
}

static int sodium_open(uint64_t c)
{
	uint8_t n[12];
	unsigned long long mlen;

	nonce_of(n, c);
	return crypto_aead_chacha20poly1305_ietf_decrypt(
		buf, &mlen, NULL, buf, PKT + TAG, NULL, 0, n, key);
}

static EVP_CIPHER_CTX *ectx, *dctx;

static int ossl_seal(uint64_t c)
{
	uint8_t n[12];
	int l1, l2;

	nonce_of(n, c);
	if (EVP_EncryptInit_ex(ectx, NULL, NULL, NULL, n) != 1 ||
	    EVP_EncryptUpdate(ectx, buf, &l1, buf, PKT) != 1 ||
	    EVP_EncryptFinal_ex(ectx, buf + l1, &l2) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ectx, EVP_CTRL_AEAD_GET_TAG, TAG, buf + PKT) !=
		    1)
		return -1;
	return 0;
}

static int ossl_open(uint64_t c)
{
	uint8_t n[12];
	int l1, l2;

	nonce_of(n, c);
	if (EVP_DecryptInit_ex(dctx, NULL, NULL, NULL, n) != 1 ||
	    EVP_DecryptUpdate(dctx, buf, &l1, buf, PKT) != 1 ||
	    EVP_CIPHER_CTX_ctrl(dctx, EVP_CTRL_AEAD_SET_TAG, TAG, buf + PKT) !=
		    1 ||
	    EVP_DecryptFinal_ex(dctx, buf + l1, &l2) != 1)
		return -1;
	return 0;
}

struct lib {
	const char *name;
	int (*seal)(uint64_t);
	int (*open)(uint64_t);
	double best_seal, best_open; /* seconds for n packets */
};

/* Seal n packets; then open one valid packet n times (restored each time). */
static void one_round(struct lib *l, unsigned n)
{
	uint8_t saved[PKT + TAG];
	double t0, t;

	t0 = now_s();
	for (unsigned i = 0; i < n; i++)
		if (l->seal(i))
			abort();
	t = now_s() - t0;
	if (t < l->best_seal)
		l->best_seal = t;
	if (l->seal(7))
		abort();
	memcpy(saved, buf, sizeof(saved));
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf, saved, sizeof(saved));
		if (l->open(7))
			abort();
	}
	t = now_s() - t0;
	if (t < l->best_open)
		l->best_open = t;
}

static void report(const struct lib *l, unsigned n)
{
	double s = n / l->best_seal, o = n / l->best_open;

	printf("%-10s seal %9.0f pkt/s %6.2f Gbit/s   open %9.0f pkt/s %6.2f Gbit/s\n",
	       l->name, s, s * PKT * 8 / 1e9, o, o * PKT * 8 / 1e9);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	int rounds = argc > 2 ? atoi(argv[2]) : 60;
	struct lib libs[2] = {
		{ "libsodium", sodium_seal, sodium_open, 1e9, 1e9 },
		{ "openssl", ossl_seal, ossl_open, 1e9, 1e9 },
	};

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(buf, sizeof(buf));
	ectx = EVP_CIPHER_CTX_new();
	dctx = EVP_CIPHER_CTX_new();
	if (!ectx || !dctx ||
	    EVP_EncryptInit_ex(ectx, EVP_chacha20_poly1305(), NULL, key,
			       NULL) != 1 ||
	    EVP_DecryptInit_ex(dctx, EVP_chacha20_poly1305(), NULL, key,
			       NULL) != 1)
		return 1;
	printf("ChaCha20-Poly1305, %d-byte packets, %u per run, best of %d "
	       "interleaved runs\n",
	       PKT, n, rounds);
	/* interleaved, best of many: other load on the machine hits both */
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < 2; i++)
			one_round(&libs[i], n);
	report(&libs[0], n);
	report(&libs[1], n);
	printf("openssl/libsodium: seal %.2fx open %.2fx\n",
	       libs[0].best_seal / libs[1].best_seal,
	       libs[0].best_open / libs[1].best_open);
	EVP_CIPHER_CTX_free(ectx);
	EVP_CIPHER_CTX_free(dctx);
	return 0;
}
