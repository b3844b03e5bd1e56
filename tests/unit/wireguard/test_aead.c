// SPDX-License-Identifier: MIT
/*
 * The transport AEAD (OpenSSL's EVP ChaCha20-Poly1305 behind aead.h) against
 * a second implementation, libsodium's: every length from 0 to 1600 and some
 * larger, with and without associated data, in place and not; and tags that
 * must fail. The nonce layout (32 zero bits, 64-bit LE counter) is WireGuard's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wg_test_util.h"
#include "wireguard/aead.h"

static uint8_t key[32], pt[9100], ct[9100 + 16], out[9100 + 16];

static void sodium_nonce(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void check_len(struct wg_aead_key *k, size_t len, const uint8_t *ad,
		      size_t adlen, uint64_t counter)
{
	uint8_t n[12];
	unsigned long long l;

	/* ours seals, libsodium opens */
	assert_int_equal(wg_aead_seal(k, counter, ct, pt, len, ad, adlen), 0);
	sodium_nonce(n, counter);
	assert_int_equal(
		crypto_aead_chacha20poly1305_ietf_decrypt(
			out, &l, NULL, ct, len + 16, ad, adlen, n, key),
		0);
	assert_int_equal(l, len);
	assert_memory_equal(out, pt, len);
	/* libsodium seals, ours opens, in place */
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(
				 out, &l, pt, len, ad, adlen, NULL, n, key),
			 0);
	assert_memory_equal(out, ct, len + 16);
	assert_int_equal(
		wg_aead_open(k, counter, out, out, len + 16, ad, adlen), 0);
	assert_memory_equal(out, pt, len);
	/* the one-shot forms agree */
	assert_int_equal(
		wg_aead_seal_once(key, counter, out, pt, len, ad, adlen), 0);
	assert_memory_equal(out, ct, len + 16);
}

static void test_against_libsodium(void **state)
{
	struct wg_aead_key k = { 0 };
	uint8_t ad[32];

	randombytes_buf(key, sizeof(key));
	randombytes_buf(pt, sizeof(pt));
	randombytes_buf(ad, sizeof(ad));
	assert_int_equal(wg_aead_key_init(&k, key), 0);
	for (size_t len = 0; len <= 1600; len++)
		check_len(&k, len, NULL, 0, len * 7919);
	for (size_t len = 0; len <= 300; len += 13)
		check_len(&k, len, ad, sizeof(ad), UINT64_MAX - len);
	check_len(&k, 9100, NULL, 0, 1);
	wg_aead_key_clear(&k);
	wg_aead_key_clear(&k); /* twice is fine */
}

static void test_forgeries_fail(void **state)
{
	struct wg_aead_key k = { 0 };
	size_t len = 100;

	randombytes_buf(key, sizeof(key));
	assert_int_equal(wg_aead_key_init(&k, key), 0);
	assert_int_equal(wg_aead_seal(&k, 5, ct, pt, len, NULL, 0), 0);
	for (size_t i = 0; i < (len + 16) * 8; i += 3) {
		memcpy(out, ct, len + 16);
		out[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_equal(
			wg_aead_open(&k, 5, out, out, len + 16, NULL, 0),
			-EBADMSG);
	}
	/* wrong counter, short input, and a good one after all that */
	assert_int_equal(wg_aead_open(&k, 6, out, ct, len + 16, NULL, 0),
			 -EBADMSG);
	assert_int_equal(wg_aead_open(&k, 5, out, ct, 15, NULL, 0), -EBADMSG);
	assert_int_equal(wg_aead_open_once(key, 5, out, ct, 15, NULL, 0),
			 -EBADMSG);
	assert_int_equal(wg_aead_open(&k, 5, out, ct, len + 16, NULL, 0), 0);
	assert_memory_equal(out, pt, len);
	wg_aead_key_clear(&k);
}

static void test_xaead(void **state)
{
	uint8_t nonce[24], c[16 + 16], p[16], ad[16];

	randombytes_buf(key, sizeof(key));
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(p, sizeof(p));
	randombytes_buf(ad, sizeof(ad));
	assert_int_equal(wg_xaead_seal(key, nonce, c, p, 16, ad, 16), 0);
	assert_int_equal(wg_xaead_open(key, nonce, out, c, 32, ad, 16), 0);
	assert_memory_equal(out, p, 16);
	ad[0] ^= 1;
	assert_int_equal(wg_xaead_open(key, nonce, out, c, 32, ad, 16),
			 -EBADMSG);
	assert_int_equal(wg_xaead_open(key, nonce, out, c, 15, ad, 16),
			 -EBADMSG);
}

/*
 * A keypair slot reused session after session: re-keying its contexts in
 * place seals exactly as a fresh key does and allocates nothing; a wiped key
 * refuses to work, and what its contexts still hold is the all-zero key.
 */
static void test_rekey_and_wipe(void **state)
{
	struct wg_aead_key k = { 0 }, fresh = { 0 };
	uint8_t key1[32], key2[32], c1[64 + 16], c2[64 + 16], n[12];
	static const uint8_t zero[32];
	unsigned long long l;
	uint64_t before;

	randombytes_buf(key1, sizeof(key1));
	randombytes_buf(key2, sizeof(key2));
	randombytes_buf(pt, 64);
	/* on a zeroed struct, rekey makes the contexts */
	before = wgt_openssl_allocs();
	assert_int_equal(wg_aead_key_rekey(&k, key1), 0);
	assert_true(wgt_openssl_allocs() > before);
	assert_int_equal(wg_aead_seal(&k, 9, c1, pt, 64, NULL, 0), 0);
	assert_int_equal(wg_aead_key_init(&fresh, key2), 0);
	assert_int_equal(wg_aead_seal(&fresh, 9, c2, pt, 64, NULL, 0), 0);
	wg_aead_key_clear(&fresh);

	before = wgt_openssl_allocs();
	assert_int_equal(wg_aead_key_rekey(&k, key2), 0);
	assert_int_equal(wg_aead_seal(&k, 9, ct, pt, 64, NULL, 0), 0);
	assert_memory_equal(ct, c2, sizeof(c2));
	assert_int_equal(wg_aead_open(&k, 9, out, c2, sizeof(c2), NULL, 0), 0);
	assert_memory_equal(out, pt, 64);
	assert_int_equal(wg_aead_open(&k, 9, out, c1, sizeof(c1), NULL, 0),
			 -EBADMSG);
	wg_aead_key_wipe(&k);
	assert_int_equal(wg_aead_seal(&k, 9, ct, pt, 64, NULL, 0), -EIO);
	assert_int_equal(wg_aead_open(&k, 9, out, c2, sizeof(c2), NULL, 0),
			 -EBADMSG);
	/* white box: the contexts were re-keyed with zeros */
	k.live = true;
	assert_int_equal(wg_aead_seal(&k, 9, ct, pt, 64, NULL, 0), 0);
	sodium_nonce(n, 9);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(
				 out, &l, pt, 64, NULL, 0, NULL, n, zero),
			 0);
	assert_memory_equal(ct, out, sizeof(c1));
	wg_aead_key_wipe(&k);
	/* and back to the first key, still without allocating */
	assert_int_equal(wg_aead_key_rekey(&k, key1), 0);
	assert_int_equal(wg_aead_seal(&k, 9, ct, pt, 64, NULL, 0), 0);
	assert_memory_equal(ct, c1, sizeof(c1));
	assert_int_equal(wgt_openssl_allocs(), before);
	wg_aead_key_clear(&k);
	wg_aead_key_wipe(&k); /* a cleared key: nothing to do */
	assert_int_equal(wg_aead_seal(&k, 9, ct, pt, 64, NULL, 0), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_libsodium),
		cmocka_unit_test(test_forgeries_fail),
		cmocka_unit_test(test_xaead),
		cmocka_unit_test(test_rekey_and_wipe),
	};

	wgt_count_openssl_allocs();
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
