// SPDX-License-Identifier: MIT
/* icemesh: the control CLI of icemeshd (see cli/cli.h, docs/control.md). */
#include <sodium.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/ctl.h"

int main(int argc, char **argv)
{
	/* The auth key of `up` passes through jansson: wipe what it frees. */
	ctl_json_use_wiping_alloc();
	if (sodium_init() < 0) {
		fprintf(stderr, "icemesh: libsodium failed to start\n");
		return CLI_EXIT_FAILURE;
	}
	return cli_run(argc, argv, stdout, stderr);
}
