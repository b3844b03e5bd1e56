#!/bin/sh
# Build icemeshd and run the data-plane benchmark (not part of `make check`):
#   tests/bench/run-wg.sh [SECONDS] [ROUNDS] [BUILD_DIR]
# As root: it makes two network namespaces and removes them afterwards.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${3:-build-wgbench}
cd "$top"
make --no-print-directory BUILD="$out" -j2 "$out/icemeshd"
BUILD="$top/$out" exec "$top/tests/bench/wg_bench.sh" "${1:-5}" "${2:-2}"
