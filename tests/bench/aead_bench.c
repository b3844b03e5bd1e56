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

/* Seal n packets, then open them again (counters match), timing each. */
static void run(const char *name, int (*seal)(uint64_t), int (*open)(uint64_t),
		unsigned n, double *seal_pps, double *open_pps)
{
	double t0, t1, best_s = 1e9, best_o = 1e9;

	for (int round = 0; round < 3; round++) {
		t0 = now_s();
		for (unsigned i = 0; i < n; i++)
			if (seal(i))
				abort();
		t1 = now_s();
		if (t1 - t0 < best_s)
			best_s = t1 - t0;
		/* open needs a valid packet: re-seal one and open it n times */
		if (seal(7))
			abort();
		uint8_t saved[PKT + TAG];
		memcpy(saved, buf, sizeof(saved));
		t0 = now_s();
		for (unsigned i = 0; i < n; i++) {
			memcpy(buf, saved, sizeof(saved));
			if (open(7))
				abort();
		}
		t1 = now_s();
		if (t1 - t0 < best_o)
			best_o = t1 - t0;
	}
	*seal_pps = n / best_s;
	*open_pps = n / best_o;
	printf("%-10s seal %9.0f pkt/s %6.2f Gbit/s   open %9.0f pkt/s %6.2f Gbit/s\n",
	       name, *seal_pps, *seal_pps * PKT * 8 / 1e9, *open_pps,
	       *open_pps * PKT * 8 / 1e9);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 300000;
	double ss, so, os, oo;

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(buf, sizeof(buf));
	ectx = EVP_CIPHER_CTX_new();
	dctx = EVP_CIPHER_CTX_new();
	if (!ectx || !dctx ||
	    EVP_EncryptInit_ex(ectx, EVP_chacha20_poly1305(), NULL, key, NULL) !=
		    1 ||
	    EVP_DecryptInit_ex(dctx, EVP_chacha20_poly1305(), NULL, key, NULL) !=
		    1)
		return 1;
	printf("ChaCha20-Poly1305, %d-byte packets, %u per run, best of 3\n",
	       PKT, n);
	run("libsodium", sodium_seal, sodium_open, n, &ss, &so);
	run("openssl", ossl_seal, ossl_open, n, &os, &oo);
	printf("openssl/libsodium: seal %.2fx open %.2fx\n", os / ss, oo / so);
	EVP_CIPHER_CTX_free(ectx);
	EVP_CIPHER_CTX_free(dctx);
	return 0;
}
