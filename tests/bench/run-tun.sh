#!/bin/sh
# Build and run the TUN data-path benchmark (not part of `make check`):
#   tests/bench/run-tun.sh [PREFIXES] [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$top/build-bench}
mkdir -p "$out"
cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -I"$top" -o "$out/tun_bench" \
	"$top/tests/bench/tun_bench.c" "$top/tun/vnet.c" "$top/wireguard/allowedips.c"
"$out/tun_bench" "${1:-100000}"
