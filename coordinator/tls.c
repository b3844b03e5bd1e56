// SPDX-License-Identifier: MIT
#include "coordinator/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define CERT_DAYS 3650

int coord_read_file(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (n <= max) {
		r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		ret = -EFBIG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

/* Write data to path atomically (temp file, fsync, rename). */
static int write_file(const char *path, const char *data, size_t len,
		      mode_t mode)
{
	char tmp[PATH_MAX];
	size_t off = 0;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!ret && fsync(fd) != 0)
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path) != 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

static char *bio_to_string(BIO *bio)
{
	char *data, *s;
	long n = BIO_get_mem_data(bio, &data);

	if (n <= 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static X509 *make_cert(EVP_PKEY *pkey)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;

	if (!x)
		return NULL;
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !X509_set_version(x, 2) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * CERT_DAYS) ||
	    !X509_set_pubkey(x, pkey))
		goto err;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"icemesh-coord",
					-1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto err;
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto err;
	BN_free(bn);
	return x;
err:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* A new P-256 key and self-signed certificate, as PEM strings. */
static int make_selfsigned(char **cert_pem, char **key_pem)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	X509 *x = NULL;
	int ret = -EIO;

	if (!pkey || !cb || !kb)
		goto out;
	x = make_cert(pkey);
	if (!x || !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL))
		goto out;
	*cert_pem = bio_to_string(cb);
	*key_pem = bio_to_string(kb);
	if (!*cert_pem || !*key_pem) {
		free(*cert_pem);
		free(*key_pem);
		ret = -ENOMEM;
		goto out;
	}
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	BIO_free(cb);
	BIO_free(kb);
	return ret;
}

int coord_tls_pin(const char *cert_pem, char pin[COORD_PIN_STRLEN])
{
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = NULL;
	unsigned char *der = NULL;
	unsigned char hash[32];
	int n, ret = -EINVAL;

	if (!b)
		return -ENOMEM;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!x)
		goto out;
	n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	if (n <= 0)
		goto out;
	crypto_hash_sha256(hash, der, (unsigned long long)n);
	memcpy(pin, "sha256//", 8);
	sodium_bin2base64(pin + 8, COORD_PIN_STRLEN - 8, hash, sizeof(hash),
			  sodium_base64_VARIANT_ORIGINAL);
	ret = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(b);
	return ret;
}

static int path_in(char *buf, size_t len, const char *dir, const char *name)
{
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int coord_tls_ensure_selfsigned(const char *state_dir)
{
	char cpath[PATH_MAX], kpath[PATH_MAX];
	char *cert = NULL, *key = NULL;
	int ret;

	if (path_in(cpath, sizeof(cpath), state_dir, "tls.crt") ||
	    path_in(kpath, sizeof(kpath), state_dir, "tls.key"))
		return -ENAMETOOLONG;
	if (access(cpath, F_OK) == 0 && access(kpath, F_OK) == 0)
		return 0;
	ret = make_selfsigned(&cert, &key);
	if (ret)
		return ret;
	/* key first: a cert without its key is useless, the reverse is not */
	ret = write_file(kpath, key, strlen(key), 0600);
	if (!ret)
		ret = write_file(cpath, cert, strlen(cert), 0644);
	if (!ret)
		log_info("coord", "made a self-signed certificate in %s",
			 cpath);
	sodium_memzero(key, strlen(key));
	free(key);
	free(cert);
	return ret;
}

int coord_tls_load(const char *state_dir, const char *cert_path,
		   const char *key_path, struct coord_tls *tls)
{
	char cpath[PATH_MAX], kpath[PATH_MAX], ppath[PATH_MAX];
	size_t len;
	int ret;

	memset(tls, 0, sizeof(*tls));
	if (!!cert_path != !!key_path)
		return -EINVAL;
	if (path_in(ppath, sizeof(ppath), state_dir, "tls.pin"))
		return -ENAMETOOLONG;
	if (!cert_path) {
		ret = coord_tls_ensure_selfsigned(state_dir);
		if (ret)
			return ret;
		path_in(cpath, sizeof(cpath), state_dir, "tls.crt");
		path_in(kpath, sizeof(kpath), state_dir, "tls.key");
		cert_path = cpath;
		key_path = kpath;
	}
	ret = coord_read_file(cert_path, COORD_PEM_MAX, &tls->cert_pem, &len);
	if (ret)
		goto err;
	ret = coord_read_file(key_path, COORD_PEM_MAX, &tls->key_pem, &len);
	if (ret)
		goto err;
	ret = coord_tls_pin(tls->cert_pem, tls->pin);
	if (ret)
		goto err;
	char line[COORD_PIN_STRLEN + 1];
	snprintf(line, sizeof(line), "%s\n", tls->pin);
	ret = write_file(ppath, line, strlen(line), 0644);
	if (ret)
		goto err;
	return 0;
err:
	coord_tls_free(tls);
	return ret;
}

void coord_tls_free(struct coord_tls *tls)
{
	if (!tls)
		return;
	if (tls->key_pem) {
		sodium_memzero(tls->key_pem, strlen(tls->key_pem));
		free(tls->key_pem);
	}
	free(tls->cert_pem);
	tls->key_pem = NULL;
	tls->cert_pem = NULL;
}
