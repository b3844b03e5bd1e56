#!/bin/sh
# Build the wireguard and common libraries, then run the core's data-path
# benchmark (not part of `make check`):
#   tests/bench/run-core.sh [ROUNDS_OF_256] [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$top/build-bench}
make -C "$top" --no-print-directory -j2 BUILD="$out" \
	"$out/lib/libwireguard.a" "$out/lib/libcommon.a" >/dev/null
cc -std=gnu11 -O2 -Wall -Wextra -I"$top" -D_GNU_SOURCE -o "$out/wg_core_bench" \
	"$top/tests/bench/wg_core_bench.c" "$out/lib/libwireguard.a" \
	"$out/lib/libcommon.a" $(pkg-config --cflags --libs libsodium libcrypto)
"$out/wg_core_bench" "${1:-2000}"
