/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for coordinator-client: a throwaway self-signed certificate
 * and a small HTTPS responder (libmicrohttpd, 127.0.0.1 only, a thread per
 * connection so a handler may block like a long-poll).
 */
#ifndef ICEMESH_TEST_COORDC_TESTSRV_H
#define ICEMESH_TEST_COORDC_TESTSRV_H

#include <stddef.h>
#include <stdint.h>

struct testsrv_cert {
	char *cert_pem;
	char *key_pem;
	char pin[64]; /* "sha256//BASE64" */
};

/* A fresh EC P-256 key and self-signed certificate for 127.0.0.1. */
int testsrv_cert_make(struct testsrv_cert *c);
void testsrv_cert_free(struct testsrv_cert *c);
/* Write the certificate PEM to path (as a CA file for the client). */
int testsrv_cert_write(const struct testsrv_cert *c, const char *path);

struct testsrv_req {
	const char *method, *url, *auth;
	const char *since; /* the since= query argument, or NULL */
	const char *body;
	size_t body_len;
};

/* Fill status and a malloc'd body (may stay NULL). Runs on server threads. */
typedef void (*testsrv_handler)(const struct testsrv_req *req, void *arg,
				unsigned *status, char **body);

struct testsrv;

/* Serve HTTPS on 127.0.0.1:port (0: any; see testsrv_port). */
struct testsrv *testsrv_start(const struct testsrv_cert *c, uint16_t port,
			      testsrv_handler h, void *arg);
uint16_t testsrv_port(const struct testsrv *s);
/* Requests answered so far. */
unsigned testsrv_count(const struct testsrv *s);
void testsrv_stop(struct testsrv *s);

#endif
