// SPDX-License-Identifier: MIT
/* icemesh-coord: the coordination server. See coordinator/cli.c. */
#include "coordinator/cli.h"

int main(int argc, char **argv)
{
	return coord_cli_main(argc, argv);
}
