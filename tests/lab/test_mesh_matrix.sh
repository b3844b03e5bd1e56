#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemeshd end to end over the NAT matrix: eight nodes (public, full cone,
# port-restricted, two symmetric, two behind one NAT, a NAT behind a
# carrier's NAT) join through the coordinator on the lab's internet and
# must all reach each other over the overlay, IPv4 and IPv6, on the path
# kinds the NATs allow: relay exactly for symmetric<->symmetric and
# symmetric<->port-restricted. Then, on the same mesh: the coordinator
# stops (tunnels keep working) and starts again (nothing visible changes);
# a daemon restarts with the same identity and addresses; a node removed
# on the coordinator disappears from every peer.
#
#                         internet 203.0.113.0/24, 2001:db8::/64
#        coturn + icemesh-coord on 203.0.113.1 (namespace "inet")
#   +-------+---------+---------+----------+----------+-------------+
#   |       |         |         |          |          |             |
#  pub   nat-fc    nat-pr    nat-sy    nat-sy2     nat-lan       nat-cgn
# (public) fullcone restricted symmetric symmetric  restricted   restricted
#           |         |         |          |        /     \          |
#           fc        pr        sy        sy2    lan1    lan2    nat-home
#                                                               restricted
#                                                                    |
#                                                                    cg
# shellcheck disable=SC2119 # lab functions whose arguments are optional
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/lab.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/mesh.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}

lab_init
mesh_init
lab_coturn
mesh_matrix
mesh_coord_init
mesh_coord_start

failures=0
expect() { # DESCRIPTION CMD...
	local what=$1
	shift
	if "$@"; then
		lab_log "ok   $what"
	else
		lab_log "FAIL $what"
		failures=$((failures + 1))
	fi
}
others() { # NAME : every other node
	local n
	for n in "${MESH_NODES[@]}"; do [ "$n" = "$1" ] || printf '%s ' "$n"; done
}

for n in "${MESH_NODES[@]}"; do
	mesh_node_start "$n"
done
expect "all eight nodes up" mesh_parallel mesh_up "${MESH_NODES[@]}"
for n in "${MESH_NODES[@]}"; do
	st=$(mesh_status "$n")
	MESH_IP4[$n]=$(mesh_json self.ipv4 <<<"$st")
	MESH_IP6[$n]=$(mesh_json self.ipv6 <<<"$st")
done
sees_all() { # NAME
	# shellcheck disable=SC2046 # the names are single words
	mesh_wait_peers 20 "$1" $(others "$1")
}
expect "every map names the seven others" mesh_parallel sees_all "${MESH_NODES[@]}"

mapfile -t pairs < <(mesh_pairs "${MESH_NODES[@]}")
# Both directions, both families: the first packet starts ICE on demand.
reach() { # A B
	mesh_wait_ping 30 "$1" "${MESH_IP4[$2]}" && mesh_wait_ping 10 "$2" "${MESH_IP4[$1]}" &&
		mesh_wait_ping 10 "$1" "${MESH_IP6[$2]}" && mesh_wait_ping 10 "$2" "${MESH_IP6[$1]}"
}
t0=$(date +%s%N)
expect "all ${#pairs[@]} pairs reach each other over the overlay, IPv4 and IPv6" \
	mesh_parallel reach "${pairs[@]}"
lab_log "every pair reached within $((($(date +%s%N) - t0) / 1000000)) ms"

# Path kinds, from both ends. Direct pairs may start on the relay and move
# up: wait for direct. Relay pairs are checked again at the end of the
# test, when ICE has had all the time it needs to find a direct pair.
kind_ok() { # A B
	local want
	want=$(mesh_expected_path "$1" "$2")
	mesh_wait_path 30 "$1" "$2" "$want" && mesh_wait_path 10 "$2" "$1" "$want"
}
expect "every pair on the path kind its NATs allow" mesh_parallel kind_ok "${pairs[@]}"
path_table() {
	local a b
	for p in "${pairs[@]}"; do
		read -r a b <<<"$p"
		printf '  %-5s %-5s %-6s (want %s)\n' "$a" "$b" \
			"$(mesh_status "$a" | mesh_json "peer:$b.path.kind")" "$(mesh_expected_path "$a" "$b")"
	done
}
path_table >&2

# What a person sees of the mesh: peers, their addresses and path kinds.
visible() { # NAME
	mesh_status "$1" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["self"].get("ipv4"), d["self"].get("ipv6"), d["self"]["public_key"])
for p in sorted(d["peers"], key=lambda p: p["name"]):
    print(p["name"], p["ipv4"], p["ipv6"], p["public_key"], p["path"]["kind"])'
}
declare -A seen=()
for n in "${MESH_NODES[@]}"; do seen[$n]=$(visible "$n"); done

# The coordinator goes away: tunnels stay.
mesh_coord_stop
coord_down() { [ "$(mesh_status "$1" | mesh_json self.coordinator.connected)" = false ]; }
coord_up() { [ "$(mesh_status "$1" | mesh_json self.coordinator.connected)" = true ]; }
expect "pub notices the coordinator is gone" lab_wait 30 coord_down pub
ping_both() { mesh_wait_ping 5 "$1" "${MESH_IP4[$2]}" && mesh_wait_ping 5 "$2" "${MESH_IP6[$1]}"; }
expect "without the coordinator every pair still reaches each other" \
	mesh_parallel ping_both "${pairs[@]}"
mesh_coord_start
all_connected() { local n; for n in "${MESH_NODES[@]}"; do coord_up "$n" || return 1; done; }
expect "every node reconnects to the coordinator within 30 s" lab_wait 30 all_connected
same=0
for n in "${MESH_NODES[@]}"; do
	[ "$(visible "$n")" = "${seen[$n]}" ] && same=$((same + 1))
done
expect "and nothing visible changed ($same of 8 statuses identical)" [ "$same" -eq 8 ]

# A daemon restarts: same key, same addresses, back in the mesh.
read -r v4 v6 key < <(mesh_status fc | mesh_json self.ipv4 self.ipv6 self.public_key | paste -sd ' ')
mesh_node_stop fc
t0=$(date +%s%N)
mesh_node_start fc
expect "fc comes back up by itself after a restart" mesh_wait_running 20 fc
expect "with the same key and addresses" \
	[ "$(mesh_status fc | mesh_json self.ipv4 self.ipv6 self.public_key | paste -sd ' ')" = "$v4 $v6 $key" ]
# pub still holds the pair and the session of fc's previous run: until its
# consent checks go unanswered for RFC 7675's 30 s, it sends there; then
# ICE restarts. So the bound is 30 s plus a new ICE run and handshake.
expect "and pub reaches it again" mesh_wait_ping 45 pub "$v4"
lab_log "pub reached the restarted fc $((($(date +%s%N) - t0) / 1000000)) ms after fc started"
expect "and it reaches pub over IPv6" mesh_wait_ping 30 fc "${MESH_IP6[pub]}"

# Relay pairs are still on the relay after everything above.
relay_still() { # A B : woken by a packet if idle peers went to sleep
	[ "$(mesh_expected_path "$1" "$2")" = relay ] || return 0
	mesh_wait_ping 10 "$1" "${MESH_IP4[$2]}" && mesh_wait_path 10 "$1" "$2" up &&
		mesh_path_is "$1" "$2" relay
}
expect "relay pairs stayed on the relay" mesh_parallel relay_still "${pairs[@]}"

# Removing a node on the coordinator tears its tunnels down everywhere.
mesh_coord nodes remove lan2 >/dev/null
gone() { mesh_wait_gone 15 "$1" lan2; }
mapfile -t rest < <(others lan2 | tr ' ' '\n' | grep .)
expect "lan2 is gone from every peer's status" mesh_parallel gone "${rest[@]}"
expect "and no peer reaches its overlay address" \
	bash -c "! ip netns exec $(lab_ns lan1) ping -q -c 2 -W 1 ${MESH_IP4[lan2]} >/dev/null 2>&1"

[ "$failures" -eq 0 ] || lab_die "$failures check(s) failed"
lab_log "passed"
