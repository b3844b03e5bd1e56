/* SPDX-License-Identifier: MIT */
/*
 * The icemesh-coord command line: init, authkey create, nodes
 * list|rename|remove, serve. In the library (not main.c) so tests can run
 * the real commands in-process or in a forked child.
 */
#ifndef ICEMESH_COORD_CLI_H
#define ICEMESH_COORD_CLI_H

#include <stdint.h>

#define COORD_DEFAULT_STATE_DIR "/var/lib/icemesh-coord"

/* Exit status: 0 ok, 1 failure, 2 usage error. */
int coord_cli_main(int argc, char **argv);

/* "90s", "30m", "24h", "7d" (or plain seconds) -> seconds; -EINVAL. */
int coord_parse_duration(const char *s, uint64_t *out);

#endif
