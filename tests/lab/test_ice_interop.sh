#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Interop: icemesh-ice against aioice (python3-aioice), another ICE
# implementation, in the NAT lab with coturn: every role combination
# (role conflicts resolved across the two), and across full cone,
# port-restricted and symmetric NATs, relayed where no direct path exists.
# The cases, topology and checks live in tests/interop/ice_aioice.sh.
set -eu
exec bash "$(dirname "$0")/../interop/ice_aioice.sh" "$@"
