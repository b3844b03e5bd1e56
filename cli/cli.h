/* SPDX-License-Identifier: MIT */
/*
 * The icemesh command: parses the command line, talks to icemeshd over the
 * control socket (common/ctl.h, docs/control.md) and prints the answer for
 * people, or as JSON with --json. main.c only calls cli_run.
 */
#ifndef ICEMESH_CLI_CLI_H
#define ICEMESH_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes, documented in docs/control.md: scripts may rely on them. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1, /* an error not listed below */
	CLI_EXIT_USAGE = 2, /* bad command line */
	CLI_EXIT_NO_DAEMON = 3, /* no socket, or nothing listening on it */
	CLI_EXIT_PERMISSION = 4, /* not root and not in the icemesh group */
	CLI_EXIT_TIMEOUT = 5, /* no answer in time */
	CLI_EXIT_COORDINATOR = 6, /* coordinator-unreachable */
	CLI_EXIT_AUTH = 7, /* bad-auth-key */
	CLI_EXIT_UNKNOWN_PEER = 8, /* unknown-peer */
	CLI_EXIT_NOT_UP = 9, /* not-up: the node is down */
	CLI_EXIT_REJECTED = 10, /* the daemon refused the request itself */
	CLI_EXIT_PROTOCOL = 11, /* the daemon's answer made no sense */
	CLI_EXIT_NO_REPLY = 12, /* ping: not one reply */
};

struct cli_io {
	FILE *out; /* results */
	FILE *err; /* errors and hints */
	uint64_t now; /* wall clock, unix seconds; 0: read the clock */
};

/* Run one command line (argv[0] is the program name); returns an exit code. */
int cli_main(const struct cli_io *io, int argc, char **argv);
/* The same with the wall clock. */
int cli_run(int argc, char **argv, FILE *out, FILE *err);

/*
 * Connect to the control socket at path. Returns the fd, or -ENOENT,
 * -ECONNREFUSED (no daemon), -EACCES (permission), -ENAMETOOLONG, -errno.
 */
int cli_connect(const char *path);
/* Write all of buf, waiting at most timeout_ms; 0 or -errno (-ETIMEDOUT). */
int cli_send(int fd, const char *buf, size_t len, int timeout_ms);

#endif
