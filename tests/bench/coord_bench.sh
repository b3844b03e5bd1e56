#!/usr/bin/env bash
# Load benchmark of icemesh-coord on loopback (see coord_bench.c).
#   tests/bench/coord_bench.sh [NODES] [SIGNALS] [BUILD]
# Builds build-*/icemesh-coord (if needed) and the bench with cc and
# pkg-config, starts the server in a temp state dir on 127.0.0.1 (port 0:
# the kernel picks a free one, the server prints it), runs the bench,
# stops the server. Nothing leaves the loopback.
set -eu
nodes=${1:-1000}
signals=${2:-2000}
build=${3:-build-bench}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

make --no-print-directory BUILD="$build" -j2 "$build/icemesh-coord" >/dev/null
cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$build/coord_bench" \
	tests/bench/coord_bench.c $(pkg-config --cflags --libs libcurl jansson libsodium)

tmp=$(mktemp -d)
server=
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

ulimit -n 16384
"$build/icemesh-coord" init --state-dir "$tmp/s" >/dev/null 2>&1
key=$("$build/icemesh-coord" authkey create --reusable --state-dir "$tmp/s" 2>/dev/null)
"$build/icemesh-coord" serve --state-dir "$tmp/s" --listen 127.0.0.1:0 \
	--max-per-ip 0 --max-connections 8192 --log-level warn >"$tmp/out" 2>"$tmp/err" &
server=$!
for _ in $(seq 100); do
	grep -q '^certificate pin' "$tmp/out" 2>/dev/null && break
	sleep 0.05
done
pin=$(sed -n 's/^certificate pin //p' "$tmp/out")
port=$(sed -n 's|^icemesh-coord listening on https://127.0.0.1:\([0-9]*\)$|\1|p' "$tmp/out")
[ -n "$pin" ] && [ -n "$port" ] || { echo "server did not start"; cat "$tmp/err"; exit 1; }
echo "icemesh-coord bench: $nodes nodes, $signals signals, $(nproc) cores"
timeout 600 "$build/coord_bench" "$port" "$pin" "$key" "$nodes" "$signals" "$server"
