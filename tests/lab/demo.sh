#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make demo`: a small icemesh network in network namespaces on this
# machine, from nothing to a working mesh and back to nothing.
#
#                    the "internet" 203.0.113.0/24
#           coturn (STUN/TURN) + icemesh-coord on 203.0.113.1
#          +--------------------+---------------------+
#          |                    |                     |
#      home router        office router          cafe router
#   port-restricted NAT    full-cone NAT        symmetric NAT
#          |                    |                     |
#        alice                 bob                  carol
#      (icemeshd)           (icemeshd)            (icemeshd)
#
# Expected: alice<->bob and bob<->carol direct (hole punching works),
# alice<->carol through the TURN relay (a symmetric NAT opposite a
# port-restricted one defeats hole punching). Exit 0 only if every node
# reached every other through the overlay.
#
# Run as root, after a build: BUILD=/path/to/build tests/lab/demo.sh
# shellcheck disable=SC2119 # lab functions whose arguments are optional
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/lab.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/mesh.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
NODES=(alice bob carol)
declare -A EXPECT=([alice-bob]=direct [bob-carol]=direct [alice-carol]=relay)

step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$PLAIN" >&3; }
say() { printf '    %s\n' "$*" >&3; }
indent() { sed 's/^/    /' >&3; }

# The lab's own progress lines go to a log file; on failure its end is
# shown, so what went wrong is on the screen.
exec 3>&1
BOLD='' PLAIN=''
if [ -t 1 ]; then BOLD=$(printf '\033[1m') PLAIN=$(printf '\033[0m'); fi
DEMO_LOG=$(mktemp "${TMPDIR:-/tmp}/icemesh-demo.XXXXXX.log")
exec 2>"$DEMO_LOG"
demo_exit() {
	local rc=$?
	set +e # tear down whatever happens, even if the screen went away
	if [ "$rc" -ne 0 ]; then
		printf '\nThe demo FAILED. The last lines of its log (%s):\n' "$DEMO_LOG" >&3
		tail -n 25 "$DEMO_LOG" | sed 's/^/    /' >&3
		for n in "${NODES[@]}"; do
			[ -f "$(mesh_dir "$n")/icemeshd.log" ] || continue
			printf '  icemeshd on %s:\n' "$n" >&3
			tail -n 15 "$(mesh_dir "$n")/icemeshd.log" | sed 's/^/    /' >&3
		done
	fi
	step "Tearing everything down"
	lab_cleanup
	say "namespaces, processes and files of the demo are gone"
	[ "$rc" -ne 0 ] || rm -f "$DEMO_LOG"
	exit "$rc"
}

lab_init
trap demo_exit EXIT
# A closed screen (demo.sh | head) must end in the teardown, not in death
# by SIGPIPE: the failed write ends the script through set -e instead.
trap '' PIPE
mesh_init

step "Building a small internet in network namespaces"
lab_coturn
lab_nat home restricted
lab_host alice home
lab_nat office fullcone
lab_host bob office
lab_nat cafe symmetric
lab_host carol cafe
say "internet 203.0.113.0/24 with coturn (STUN and TURN) on $LAB_TURN_ADDR"
say "alice  ${LAB_IP4[alice]}  behind a port-restricted NAT (${LAB_IP4[home]})"
say "bob    ${LAB_IP4[bob]}  behind a full-cone NAT       (${LAB_IP4[office]})"
say "carol  ${LAB_IP4[carol]}  behind a symmetric NAT        (${LAB_IP4[cafe]})"

step "Starting the coordinator on the internet"
mesh_coord_init
mesh_coord_start
say "icemesh-coord serve on $MESH_URL"
say "nodes trust it by its key pin: $MESH_PIN"

step "Starting icemeshd on every node and bringing it up with an auth key"
for n in "${NODES[@]}"; do
	mesh_node_start "$n"
done
say "icemesh up --coordinator $MESH_URL --auth-key imk_... --coordinator-pin sha256//..."
mesh_parallel mesh_up "${NODES[@]}" || lab_die "icemesh up failed"
for n in "${NODES[@]}"; do
	st=$(mesh_status "$n")
	MESH_IP4[$n]=$(mesh_json self.ipv4 <<<"$st")
	MESH_IP6[$n]=$(mesh_json self.ipv6 <<<"$st")
	say "$(printf '%-6s is up: %-12s %s' "$n" "${MESH_IP4[$n]}" "${MESH_IP6[$n]}")"
done

step "Waiting for the mesh to form"
sees_all() { # NAME
	local o others=()
	for o in "${NODES[@]}"; do [ "$o" = "$1" ] || others+=("$o"); done
	mesh_wait_peers 20 "$1" "${others[@]}"
}
mesh_parallel sees_all "${NODES[@]}" || lab_die "the network map did not reach every node within 20 s"
say "every node has the other two in its network map"
# Tunnels are made on demand: the first packet for a peer starts ICE.
first_packet() { # A B
	mesh_wait_ping 30 "$1" "${MESH_IP4[$2]}"
}
mapfile -t pairs < <(mesh_pairs "${NODES[@]}")
t0=$(date +%s%N)
mesh_parallel first_packet "${pairs[@]}" || lab_die "some pair found no path within 30 s"
say "first packet across every pair within $((($(date +%s%N) - t0) / 1000000)) ms"
settled() { # A B : the path kind the NATs allow, seen from both ends
	local want=${EXPECT[$1-$2]}
	mesh_wait_path 20 "$1" "$2" "$want" && mesh_wait_path 5 "$2" "$1" "$want"
}
if mesh_parallel settled "${pairs[@]}"; then
	say "paths as the NATs allow: direct, except alice<->carol through the relay"
else
	say "note: some path is not the kind expected (see the status below)"
fi

for n in "${NODES[@]}"; do
	step "icemesh status on $n"
	mesh_ctl "$n" status 2>&1 | indent
done

step "Pinging every pair through the mesh"
reached=0
total=0
for a in "${NODES[@]}"; do
	for b in "${NODES[@]}"; do
		[ "$a" != "$b" ] || continue
		total=$((total + 1))
		printf '    %s -> %s\n' "$a" "$b" >&3
		rc=0
		out=$(mesh_ctl "$a" ping "$b" -c 3 2>&1) || rc=$?
		printf '%s\n' "$out" | sed 's/^/      /' >&3
		if [ "$rc" -eq 0 ] && mesh_overlay_ping "$a" "${MESH_IP6[$b]}"; then
			reached=$((reached + 1))
		else
			say "  $a could not reach $b"
		fi
	done
done

step "Result"
say "$reached of $total directed pairs reached each other (IPv4 with icemesh ping, IPv6 with ping)"
[ "$reached" -eq "$total" ]
