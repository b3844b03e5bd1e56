#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemeshd benchmark in the NAT lab (tests/lab/lib/lab.sh, mesh.sh).
#
# 1. Joining: pub (public), pr (port-restricted) and sy (symmetric) are in
#    the mesh; a new node fcN behind a full-cone NAT of its own joins, one
#    per run. From the moment `icemesh up` is run on it, per peer: the time
#    until the first packet it sends through the overlay is delivered (an
#    ICMP echo every 20 ms, the first reply counts), and the time until the
#    path to the peer is direct ("-" when it never is: a full cone opens to
#    every kind, so each should be). Median and worst over RUNS.
# 2. Memory: icemeshd's resident set (VmRSS, and VmHWM) on pub with 1, 10
#    and 100 peers in its map. The extra peers are registrations made
#    through the coordinator's API with curl (random node keys, no
#    daemon): the map, the per-peer state and the routes are what costs.
#
#   sudo tests/bench/mesh_bench.sh [RUNS] [BUILD]     (defaults: 5, build-bench)
#
# Not part of make check: timings on a shared machine are figures, not
# pass/fail. Needs root (network namespaces), coturn, nftables, curl.
#
#                    internet 203.0.113.0/24
#         coturn + icemesh-coord on 203.0.113.1 (namespace "inet")
#     +-----------+--------------+---------------+
#     |           |              |               |
#    pub    nat-pr (restr.)  nat-sy (symm.)  nat-fcN (full cone), N = 1..RUNS
#                 |              |               |
#                 pr             sy              fcN   <- joins, timed
# shellcheck disable=SC2119 # lab functions whose arguments are optional
set -eu
RUNS=${1:-5}
BUILD=${2:-build-bench}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
# shellcheck source-path=SCRIPTDIR/../lab
. tests/lab/lib/lab.sh
# shellcheck source-path=SCRIPTDIR/../lab
. tests/lab/lib/mesh.sh
make --no-print-directory BUILD="$BUILD" -j2 "$BUILD/icemeshd" "$BUILD/icemesh" \
	"$BUILD/icemesh-coord" >/dev/null
BUILD=$(cd "$BUILD" && pwd)

lab_init
mesh_init
lab_coturn
lab_public pub
lab_nat nat-pr restricted
lab_host pr nat-pr
lab_nat nat-sy symmetric
lab_host sy nat-sy
mesh_coord_init
mesh_coord_start
now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss() { # NAME : "VmRSS VmHWM" of its icemeshd, in KiB
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' \
		"/proc/${MESH_PID[$1]}/status"
}

# --- memory with 1 peer: pub and pr only ---
mesh_node_start pub
mesh_node_start pr
mesh_up pub || lab_die "up on pub failed"
mesh_up pr || lab_die "up on pr failed"
mesh_wait_peers 20 pub pr || lab_die "pub never saw pr"
mesh_wait_ping 30 pub "${MESH_IP4[pr]}" || lab_die "pub cannot reach pr"
read -r rss1 hwm1 < <(rss pub)

# --- joining: a fresh node behind its own full-cone NAT for every run ---
mesh_node_start sy
mesh_up sy || lab_die "up on sy failed"
declare -A first=() direct=()
# Polls PEER's overlay address from NODE every 20 ms until an echo comes
# back, then until the path is direct; prints both as ms since T0.
join_peer() { # T0 NODE PEER
	local t0=$1 n=$2 p=$3 end=$(($(now_ms) + 60000)) f=- d=-
	while [ "$(now_ms)" -lt "$end" ]; do
		if lab_exec "$n" ping -q -n -c 1 -W 0.02 "${MESH_IP4[$p]}" >/dev/null 2>&1; then
			f=$(($(now_ms) - t0))
			break
		fi
	done
	while [ "$f" != - ] && [ "$(now_ms)" -lt "$end" ]; do
		if mesh_path_is "$n" "$p" direct; then
			d=$(($(now_ms) - t0))
			break
		fi
		sleep 0.02
	done
	echo "$p $f $d"
}
for ((run = 1; run <= RUNS; run++)); do
	n=fc$run
	lab_nat "nat-$n" fullcone
	lab_host "$n" "nat-$n"
	mesh_node_start "$n"
	t0=$(now_ms)
	mesh_up "$n" || lab_die "up on $n failed"
	pids=()
	for p in pub pr sy; do
		join_peer "$t0" "$n" "$p" >"$LAB_DIR/join.$p" &
		pids+=("$!")
	done
	wait "${pids[@]}" # not a bare wait: the lab's daemons are jobs too
	line="run $run ($n):"
	for p in pub pr sy; do
		read -r _ f d <"$LAB_DIR/join.$p"
		first[$p]+="$f "
		direct[$p]+="$d "
		line+=" $p first $f ms, direct $d ms;"
	done
	lab_log "$line"
done
stats() { # VALUES... : "median / worst (K of N)" over the runs that had one
	printf '%s\n' "$@" | grep -v '^-$' | sort -n | awk -v n=$# '
		{ v[++k] = $1 }
		END {
			if (!k) printf "none in 60 s (0 of %d)\n", n
			else printf "%d / %d (%d of %d)\n", v[int((k + 1) / 2)], v[k], k, n
		}'
}

# --- memory with 10 and 100 peers ---
key=$(mesh_authkey --reusable)
have=$((2 + RUNS)) # pr, sy, fc1..fcRUNS
peers_at_least() { # N : pub's status lists at least N peers
	[ "$(mesh_status pub | mesh_json count:peers)" -ge "$1" ]
}
fake_to() { # N : pub's map holds N peers
	local i
	for ((i = have + 1; i <= $1; i++)); do
		mesh_fake_register inet "$key" "fake$i" >/dev/null || lab_die "fake registration $i failed"
	done
	have=$1
	lab_wait 30 peers_at_least "$1" ||
		lab_die "pub's map never reached $1 peers"
}
fake_to 10
read -r rss10 hwm10 < <(rss pub)
fake_to 100
read -r rss100 hwm100 < <(rss pub)

printf '\nicemeshd, a node behind a full-cone NAT joining a mesh of pub, pr and sy\n(a new one each run, %d runs), ms from "icemesh up"\n' "$RUNS"
printf '%-6s %-30s %-30s %s\n' peer "first packet: median / worst" "direct path: median / worst" NAT
for p in pub pr sy; do
	# shellcheck disable=SC2086 # the runs are words
	printf '%-6s %-30s %-30s %s\n' "$p" "$(stats ${first[$p]})" "$(stats ${direct[$p]})" \
		"$(case $p in pub) echo public ;; pr) echo port-restricted ;; sy) echo symmetric ;; esac)"
done
printf '\nicemeshd memory on pub (KiB)\n%-12s %-8s %s\n' "peers in map" VmRSS VmHWM
printf '%-12s %-8s %s\n' 1 "$rss1" "$hwm1" 10 "$rss10" "$hwm10" 100 "$rss100" "$hwm100"
