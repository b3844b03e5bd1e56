/* SPDX-License-Identifier: MIT */
/*
 * The coordinator's TLS identity: a self-signed EC P-256 certificate made on
 * first start and kept in the state directory, or one given by the admin,
 * and its public-key pin in libcurl's CURLOPT_PINNEDPUBLICKEY form.
 */
#ifndef ICEMESH_COORD_TLS_H
#define ICEMESH_COORD_TLS_H

#include <stddef.h>

enum {
	/* "sha256//" + base64 of 32 bytes (44) + NUL */
	COORD_PIN_STRLEN = 8 + 44 + 1,
	COORD_PEM_MAX = 64 * 1024,
};

struct coord_tls {
	char *cert_pem; /* NUL-terminated, owned */
	char *key_pem; /* NUL-terminated, owned, wiped on free */
	char pin[COORD_PIN_STRLEN];
};

/*
 * Load cert_path/key_path if given (both or neither); otherwise load
 * STATE_DIR/tls.crt and tls.key, making a self-signed pair first if they do
 * not exist (key file mode 0600). Writes STATE_DIR/tls.pin either way.
 * Returns 0 or -errno; on failure *tls is left empty.
 */
int coord_tls_load(const char *state_dir, const char *cert_path,
		   const char *key_path, struct coord_tls *tls);
/* Make the self-signed pair in state_dir if missing (used by `init`). */
int coord_tls_ensure_selfsigned(const char *state_dir);
/* sha256//BASE64 of the certificate's SubjectPublicKeyInfo. */
int coord_tls_pin(const char *cert_pem, char pin[COORD_PIN_STRLEN]);
void coord_tls_free(struct coord_tls *tls);

/* Read a whole small file (<= max bytes) into a NUL-terminated buffer. */
int coord_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
