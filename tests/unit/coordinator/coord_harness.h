/* SPDX-License-Identifier: MIT */
/*
 * Test harness for the coordinator: a state directory made with the real
 * `init`, the real server (coord_cli_main "serve") in a forked child on a
 * free loopback port over TLS, and a small libcurl client that trusts the
 * server by its printed public-key pin.
 */
#ifndef ICEMESH_TEST_COORD_HARNESS_H
#define ICEMESH_TEST_COORD_HARNESS_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct harness {
	char dir[64];
	char state[PATH_MAX];
	char pin[64];
	uint16_t port;
	pid_t pid;
	const char *serve_args[8]; /* extra arguments for serve, NULL-ended */
};

struct resp {
	long status;
	char *body;
	size_t len;
	json_t *json; /* NULL if the body is not JSON */
	char allow[64];
	double seconds;
};

#define HARNESS_ARG "--harness-run-coord"
/*
 * Call first in main(): when the harness runs this program as a child
 * (server or CLI command), runs icemesh-coord and returns its exit status;
 * otherwise returns -1.
 */
int h_child_main(int argc, char **argv);

/* mkdtemp + `icemesh-coord init` with the extra arguments (NULL-ended). */
int h_init(struct harness *h, ...);
/* Fork the server and wait until /v1/health answers (5 s at most). */
int h_start(struct harness *h);
/* Signal the server and reap it; returns its wait status. */
int h_stop(struct harness *h, int sig);
void h_cleanup(struct harness *h);
/* Run a CLI command in a child (so its output and getopt state stay there);
 * returns the exit status. Arguments after the command, NULL-ended. */
int h_cli(struct harness *h, const char *cmd, ...);
/* A new auth key straight into the database; caller frees. */
char *h_authkey(struct harness *h, bool reusable, bool ephemeral,
		int64_t expires_in);
/* Count rows of a table (nodes, signals, ...). */
long h_count(struct harness *h, const char *table);

/* One HTTPS request; body may be NULL. Returns 0 or -1 (transport error). */
int h_http(struct harness *h, const char *method, const char *path,
	   const char *cred, const char *ctype, const char *body, size_t len,
	   struct resp *r);
/* Same, the body sent chunked (no Content-Length). */
int h_http_chunked(struct harness *h, const char *path, const char *cred,
		   const char *body, size_t len, struct resp *r);
/* Same with a chosen pin (to check that a wrong pin is refused). */
int h_http_pin(struct harness *h, const char *pin, const char *path,
	       struct resp *r);
void resp_free(struct resp *r);
/* error.code of an error response, "" if none. */
const char *resp_code(const struct resp *r);

/* POST /v1/register; key is 32 bytes; hostname may be NULL. */
int h_register(struct harness *h, const char *authkey, const uint8_t key[32],
	       const char *hostname, struct resp *r);
/* A random node key. */
void h_node_key(uint8_t key[32]);
/* POST /v1/signal with a payload given as raw bytes. */
int h_signal(struct harness *h, const char *cred, uint64_t to, const char *id,
	     const void *payload, size_t len, struct resp *r);

/* A request on its own thread, for long-polls. */
struct h_async {
	pthread_t t;
	struct harness *h;
	char path[256];
	char cred[64];
	struct resp r;
	int ret;
};
void h_async_get(struct h_async *a, struct harness *h, const char *path,
		 const char *cred);
void h_async_join(struct h_async *a);

uint64_t h_now_ms(void);

#endif
