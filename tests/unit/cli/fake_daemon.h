/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for icemeshd in the CLI tests: a unix socket in a temp dir,
 * served from a thread, that parses each request with ctl_request_parse and
 * answers with lines made by the ctl builders (or misbehaves on purpose).
 */
#ifndef ICEMESH_TESTS_FAKE_DAEMON_H
#define ICEMESH_TESTS_FAKE_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/ctl.h"

/* The wall clock both the fake daemon and the CLI under test use. */
#define FAKE_NOW 1763800000ULL

enum fake_mode {
	FAKE_OK, /* canned results for every command */
	FAKE_ERROR, /* answer every request with d->error */
	FAKE_SILENT, /* read the request, never answer */
	FAKE_GARBAGE, /* answer a line that is not JSON */
	FAKE_HANGUP, /* close without answering */
	FAKE_WRONG_ID, /* answer with another request's id */
	FAKE_PING_LOST, /* every ping times out */
	FAKE_MANY, /* status with CTL_MAX_PEERS peers */
};

struct fake_daemon {
	char dir[64];
	char sock[100];
	int lfd;
	pthread_t thread;
	atomic_bool stop;
	enum fake_mode mode;
	struct ctl_error error; /* FAKE_ERROR */
	struct ctl_request last; /* the last request parsed */
	atomic_int requests; /* requests parsed so far */
	atomic_int connections; /* connections accepted so far */
};

/* Create the socket and start serving; 0 or -errno. */
int fake_daemon_start(struct fake_daemon *d, enum fake_mode mode);
/* Stop the thread, remove the socket and the directory. */
void fake_daemon_stop(struct fake_daemon *d);

/* Canned results, also used by the tests to know what to expect. */
void fake_fill_self(struct ctl_self *s, enum ctl_node_state state);
void fake_fill_peer(struct ctl_peer *p, int i);

#endif
