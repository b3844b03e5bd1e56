// SPDX-License-Identifier: MIT
#include "testsrv.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

static char *bio_string(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static int make_pin(EVP_PKEY *key, char *pin, size_t len)
{
	unsigned char *der = NULL, hash[SHA256_DIGEST_LENGTH];
	char b64[sodium_base64_ENCODED_LEN(SHA256_DIGEST_LENGTH,
					   sodium_base64_VARIANT_ORIGINAL)];
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0)
		return -1;
	SHA256(der, (size_t)n, hash);
	OPENSSL_free(der);
	sodium_bin2base64(b64, sizeof(b64), hash, sizeof(hash),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(pin, len, "sha256//%s", b64);
	return 0;
}

int testsrv_cert_make(struct testsrv_cert *c)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *bc = BIO_new(BIO_s_mem()), *bk = BIO_new(BIO_s_mem());
	X509_NAME *name;
	X509_EXTENSION *ext;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	if (!key || !x || !bc || !bk)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)randombytes_random());
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"127.0.0.1", -1, -1,
				   0);
	X509_set_issuer_name(x, name);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
				  "IP:127.0.0.1");
	if (!ext)
		goto out;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!X509_sign(x, key, EVP_sha256()) || !PEM_write_bio_X509(bc, x) ||
	    !PEM_write_bio_PrivateKey(bk, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	c->cert_pem = bio_string(bc);
	c->key_pem = bio_string(bk);
	if (!c->cert_pem || !c->key_pem ||
	    make_pin(key, c->pin, sizeof(c->pin)))
		goto out;
	ret = 0;
out:
	BIO_free(bc);
	BIO_free(bk);
	X509_free(x);
	EVP_PKEY_free(key);
	if (ret)
		testsrv_cert_free(c);
	return ret;
}

void testsrv_cert_free(struct testsrv_cert *c)
{
	free(c->cert_pem);
	free(c->key_pem);
	memset(c, 0, sizeof(*c));
}

int testsrv_cert_write(const struct testsrv_cert *c, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(c->cert_pem, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

struct testsrv {
	struct MHD_Daemon *d;
	testsrv_handler h;
	void *arg;
	uint16_t port;
	atomic_uint count;
};

struct conn {
	char *body;
	size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct testsrv *s = cls;
	struct conn *cn = *con_cls;
	struct testsrv_req req;
	struct MHD_Response *resp;
	unsigned status = 500;
	char *body = NULL;
	enum MHD_Result r;

	if (!cn) {
		cn = calloc(1, sizeof(*cn));
		if (!cn)
			return MHD_NO;
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size) {
		char *p = realloc(cn->body, cn->len + *upload_size + 1);

		if (!p)
			return MHD_NO;
		cn->body = p;
		memcpy(cn->body + cn->len, upload, *upload_size);
		cn->len += *upload_size;
		cn->body[cn->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	req.method = method;
	req.url = url;
	req.auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					       "Authorization");
	req.since =
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
	req.body = cn->body ? cn->body : "";
	req.body_len = cn->len;
	s->h(&req, s->arg, &status, &body);
	atomic_fetch_add(&s->count, 1);
	resp = MHD_create_response_from_buffer(body ? strlen(body) : 0, body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	if (body)
		MHD_add_response_header(resp, "Content-Type",
					"application/json");
	r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	if (cn) {
		free(cn->body);
		free(cn);
		*con_cls = NULL;
	}
}

struct testsrv *testsrv_start(const struct testsrv_cert *c, uint16_t port,
			      testsrv_handler h, void *arg)
{
	struct testsrv *s = calloc(1, sizeof(*s));
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	const union MHD_DaemonInfo *info;

	if (!s)
		return NULL;
	s->h = h;
	s->arg = arg;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS,
		0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sin,
		MHD_OPTION_HTTPS_MEM_CERT, c->cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, c->key_pem,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
		MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	if (!s->d) {
		free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : port;
	return s;
}

uint16_t testsrv_port(const struct testsrv *s)
{
	return s->port;
}

unsigned testsrv_count(const struct testsrv *s)
{
	return atomic_load(&s->count);
}

void testsrv_stop(struct testsrv *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
