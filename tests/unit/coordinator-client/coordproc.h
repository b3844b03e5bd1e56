/* SPDX-License-Identifier: MIT */
/*
 * The real coordinator (build/icemesh-coord, next to the test binaries'
 * directory) run for a test: its own state directory, 127.0.0.1 only.
 */
#ifndef ICEMESH_TEST_COORDC_COORDPROC_H
#define ICEMESH_TEST_COORDC_COORDPROC_H

#include <stdint.h>
#include <sys/types.h>

struct coordproc {
	char bin[512];
	char dir[256]; /* state directory */
	char pin[128];
	char url[64];
	uint16_t port;
	pid_t pid;
};

/* Find the binary, init a state dir under parent, pick a free port. */
int coordproc_init(struct coordproc *p, const char *parent);
/* Run "icemesh-coord ARGS... --state-dir DIR"; its first stdout line into
 * out (may be NULL). */
int coordproc_cmd(struct coordproc *p, char *out, size_t len, ...);
/* Start serving on 127.0.0.1:port; returns once it accepts connections. */
int coordproc_serve(struct coordproc *p);
/* kill -9, and reap it. */
void coordproc_kill(struct coordproc *p);

#endif
