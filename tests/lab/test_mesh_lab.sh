#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The mesh lab without the daemons: the eight-node NAT matrix of the
# end-to-end tests (tests/lab/lib/mesh.sh, mesh_matrix), the coordinator
# in the internet namespace with the lab coturn's REST secret, and every
# node registering through its own NAT(s) over pinned TLS, as icemeshd
# will. Checks what the end-to-end tests stand on: each node's map names
# the seven others and the lab's coturn; stopping and starting the
# coordinator keeps every identity and address; removing a node takes it
# out of the others' maps; the waits give up at their deadline.
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

# Every node registers from its own namespace, all at once.
register() { # NAME
	local key
	key=$(mesh_authkey) || return 1
	mesh_fake_register "$1" "$key" "$1" >"$LAB_DIR/reg.$1.json"
}
expect "all ${#MESH_NODES[@]} nodes registered through their NATs" \
	mesh_parallel register "${MESH_NODES[@]}"

declare -A cred=() ip4=()
for n in "${MESH_NODES[@]}"; do
	read -r name "cred[$n]" "ip4[$n]" < <(mesh_json node.name credential node.ipv4 \
		<"$LAB_DIR/reg.$n.json" | paste -sd ' ')
	expect "$n is named $n, at ${ip4[$n]} in 100.64.0.0/10" \
		bash -c "[ '$name' = '$n' ] && [[ '${ip4[$n]}' =~ ^100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\. ]]"
done

netmap() { # NAME : the node's map, with its own credential
	mesh_api "$1" -f -H "Authorization: Bearer ${cred[$1]}" "$MESH_URL/v1/netmap"
}
peers_of() { # NAME : sorted names of its peers
	netmap "$1" | python3 -c 'import json,sys; print(" ".join(sorted(p["name"] for p in json.load(sys.stdin)["peers"])))'
}
all_but() { # NAME : sorted names of every other node
	local n
	for n in "${MESH_NODES[@]}"; do [ "$n" = "$1" ] || echo "$n"; done | sort | paste -sd ' '
}
for n in "${MESH_NODES[@]}"; do
	expect "$n's map names the seven others" [ "$(peers_of "$n")" = "$(all_but "$n")" ]
done
map=$(netmap sy)
expect "the map's STUN and TURN server is the lab's coturn" \
	[ "$(mesh_json stun.0 turn.servers.0 <<<"$map" | paste -sd ' ')" = "$LAB_TURN_ADDR $LAB_TURN_ADDR" ]

# The expected path kinds of the matrix, printed for the record: relay
# exactly between symmetric and symmetric or port-restricted.
relay=0
while read -r a b; do
	k=$(mesh_expected_path "$a" "$b")
	[ "$k" = relay ] && relay=$((relay + 1))
	printf '  %-5s %-5s %s\n' "$a" "$b" "$k" >&2
done < <(mesh_pairs "${MESH_NODES[@]}")
expect "9 of 28 pairs must go through the relay (sy, sy2 x sy2, pr, lan1, lan2, cg)" [ "$relay" -eq 9 ]

# The coordinator goes away and comes back: identities and addresses stay.
before=$(mesh_coord nodes list --json | python3 -c \
	'import json,sys; print(sorted((n["id"],n["name"],n["ipv4"],n["ipv6"],n["node_key"]) for n in json.load(sys.stdin)))' 2>/dev/null || true)
map_before=$(netmap pub | python3 -c 'import json,sys; print(sorted((p["name"],p["ipv4"],p["ipv6"]) for p in json.load(sys.stdin)["peers"]))')
mesh_coord_stop
expect "with the coordinator stopped, nodes cannot reach it" bash -c "! ip netns exec $(lab_ns pub) curl -sS --max-time 3 -k $MESH_URL/v1/health 2>/dev/null"
mesh_coord_start
after=$(mesh_coord nodes list --json | python3 -c \
	'import json,sys; print(sorted((n["id"],n["name"],n["ipv4"],n["ipv6"],n["node_key"]) for n in json.load(sys.stdin)))' 2>/dev/null || true)
map_after=$(netmap pub | python3 -c 'import json,sys; print(sorted((p["name"],p["ipv4"],p["ipv6"]) for p in json.load(sys.stdin)["peers"]))')
expect "nodes list is the same after a restart" bash -c "[ -n '$before' ] && [ '$before' = '$after' ]"
expect "pub's map is the same after a restart" [ "$map_before" = "$map_after" ]

# Removing a node on the coordinator takes it out of every other map.
mesh_coord nodes remove lan2 >/dev/null
lacks_lan2() {
	local n
	for n in "${MESH_NODES[@]}"; do
		[ "$n" = lan2 ] && continue
		[[ " $(peers_of "$n") " != *" lan2 "* ]] || return 1
	done
}
expect "lan2 is gone from all seven maps within 5 s" lab_wait 5 lacks_lan2
expect "lan2's credential is refused" bash -c "! netmap_lan2=\$(ip netns exec $(lab_ns lan2) curl -sS -f --max-time 5 -k --pinnedpubkey '$MESH_PIN' -H 'Authorization: Bearer ${cred[lan2]}' $MESH_URL/v1/netmap 2>/dev/null)"

# The JSON reader the status waits are built on, on a status as
# docs/control.md writes it.
status='{"self":{"state":"running","ipv4":"100.64.0.1"},"peers":[
 {"name":"db1","path":{"kind":"direct","local":{"type":"srflx","addr":"198.51.100.4:41641"}}},
 {"name":"web","path":{"kind":"relay"}}]}'
expect "mesh_json reads status fields" [ "$(mesh_json self.state peers peer:web.path.kind peer:db1.path.local.type peer:nope.path.kind count:peers <<<"$status" | paste -sd '|')" = "running|db1 web|relay|srflx||2" ]

# A wait for something that never happens gives up at its deadline.
t0=$(date +%s%N)
expect "a wait that cannot succeed fails" bash -c "! (. '$LAB_LIB/lab.sh'; lab_wait 1 false)"
ms=$((($(date +%s%N) - t0) / 1000000))
expect "and gives up after its 1 s deadline (${ms} ms)" bash -c "[ $ms -ge 1000 ] && [ $ms -lt 2500 ]"

[ "$failures" -eq 0 ] || lab_die "$failures check(s) failed"
lab_log "passed"
