#!/bin/sh
# Build and run the AEAD benchmark (not part of `make check`):
#   tests/bench/run-aead.sh [PACKETS_PER_RUN] [BUILD_DIR] [RUNS]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$top/build-bench}
mkdir -p "$out"
cc -std=gnu11 -O2 -Wall -Wextra -o "$out/aead_bench" "$top/tests/bench/aead_bench.c" \
	$(pkg-config --cflags --libs libsodium libcrypto)
"$out/aead_bench" "${1:-20000}" "${3:-60}"
