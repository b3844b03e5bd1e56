#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemeshd's mesh mode, the basics: two nodes join through icemesh up, a
# ping crosses the overlay, status shows the path ICE chose, a third node
# behind a symmetric NAT gets there through the TURN relay, and a restarted
# daemon comes back with the same identity and address by itself.
#
#                 internet 203.0.113.0/24
#     coturn 203.0.113.1:3478     coord (public): icemesh-coord :8443
#                  \                  /
#                   +---- bridge ----+------------------+
#                   |                |                  |
#                   a (public)   nat-b (restricted)  nat-c (symmetric)
#                                    |                  |
#                                    b                  c
set -eu
# shellcheck source=tests/lab/lib/lab.sh
. "$(dirname "$0")/lib/lab.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
COORD=$BUILD/icemesh-coord
D=$BUILD/icemeshd
CLI=$BUILD/icemesh
for f in "$COORD" "$D" "$CLI"; do
	[ -x "$f" ] || lab_die "$f missing: make BUILD=... $f"
done

lab_init
# coturn on two internet addresses: two STUN servers for netcheck's mapping
lab_inet_alt
lab_coturn "--listening-ip=$LAB_INET4_ALT"
lab_public coord
lab_public a
lab_nat nat-b restricted
lab_host b nat-b
lab_nat nat-c symmetric
lab_host c nat-c

state=$LAB_DIR/coord-state
"$COORD" init --state-dir "$state" --turn "$LAB_TURN_ADDR" \
	--stun "$LAB_TURN_ADDR" --stun "$LAB_TURN_ADDR_ALT" \
	--turn-secret "$LAB_TURN_SECRET" >"$LAB_DIR/init.log" 2>&1 || { cat "$LAB_DIR/init.log" >&2; lab_die "init failed"; }
key=$("$COORD" authkey create --reusable --state-dir "$state" 2>/dev/null)
start_coord() {
	lab_bg coord "$LAB_DIR/coord.log" "$COORD" serve --state-dir "$state" \
		--listen "${LAB_IP4[coord]}:8443"
	PID_coord=$LAB_LAST_PID
}
start_coord
pin=$(cat "$state/tls.pin")
url=https://${LAB_IP4[coord]}:8443

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

declare -A PIDS=()
start_node() { # NAME
	mkdir -p "$LAB_DIR/$1"
	lab_bg "$1" "$LAB_DIR/$1/icemeshd.log" "$D" --foreground \
		--state-dir "$LAB_DIR/$1/state" --socket "$LAB_DIR/$1/sock" \
		--log-level debug
	PIDS[$1]=$LAB_LAST_PID
	lab_wait 10 test -S "$LAB_DIR/$1/sock" ||
		{ cat "$LAB_DIR/$1/icemeshd.log" >&2; lab_die "$1: no socket"; }
}
cli() { # NAME ARGS...
	local n=$1
	shift
	lab_exec "$n" "$CLI" --socket "$LAB_DIR/$n/sock" "$@"
}
status_json() { cli "$1" --json status 2>/dev/null | tr -d ' \n'; }
overlay_ip() { status_json "$1" | sed -n 's/^{"self":{[^}]*"ipv4":"\([0-9.]*\)".*/\1/p'; }
overlay_ip6() { status_json "$1" | sed -n 's/^{"self":{[^}]*"ipv6":"\([0-9a-f:]*\)".*/\1/p'; }

for n in a b c; do
	start_node "$n"
	expect "$n: status answers before login (needs-login)" \
		bash -c "'$CLI' --socket '$LAB_DIR/$n/sock' --json status | grep -q needs-login"
	cli "$n" up --coordinator "$url" --auth-key "$key" \
		--coordinator-pin "$pin" --hostname "$n" ||
		{ tail -n 30 "$LAB_DIR/$n/icemeshd.log" >&2; lab_die "$n: icemesh up failed"; }
	lab_log "ok   $n: icemesh up registers"
done
ip_a=$(overlay_ip a)
ip_b=$(overlay_ip b)
ip_c=$(overlay_ip c)
lab_log "overlay: a=$ip_a b=$ip_b c=$ip_c"
expect "every node has an overlay address" test -n "$ip_a" -a -n "$ip_b" -a -n "$ip_c"
sees_peers() { [ "$(status_json "$1" | grep -o '"public_key"' | wc -l)" -eq 3 ]; }
for n in a b c; do
	expect "$n: the map names the two others" lab_wait 15 sees_peers "$n"
done

# a ping through the mesh wakes the peer: ICE, WireGuard, then replies
pings() { # FROM PEER -> the ping's output
	cli "$1" ping "$2" -c 3 >"$LAB_DIR/ping-$1-$2.log" 2>&1
}
for pair in a:b b:a a:c b:c; do
	from=${pair%:*} to=${pair#*:}
	expect "$from pings $to through the mesh" lab_wait 30 pings "$from" "$to"
	sed 's/^/  /' "$LAB_DIR/ping-$from-$to.log" >&2
done
expect "the kernel's ping crosses the overlay a -> b" \
	lab_exec a ping -c 2 -W 2 "$ip_b"
path_of() { # FROM PEER-NAME -> the path kind
	status_json "$1" | grep -o "\"name\":\"$2\"[^]]*" |
		sed -n 's/.*"path":{"kind":"\([a-z]*\)".*/\1/p' | head -n 1
}
expect "a -> b: direct (b's NAT is restricted)" [ "$(path_of a b)" = direct ]
expect "b -> c: relay (symmetric NAT behind a restricted one)" [ "$(path_of b c)" = relay ]
cli a status >&2 || true
cli b why c >&2 || true

ip6_b=$(overlay_ip6 b)
expect "the kernel's ping crosses the overlay over IPv6 a -> b ($ip6_b)" \
	lab_exec a ping -6 -c 2 -W 2 "$ip6_b"
# icemesh ping to an IPv6 overlay address: ICMPv6 echo through the mesh
expect "a pings b's IPv6 overlay address with icemesh ping" \
	lab_wait 15 pings a "$ip6_b"
sed 's/^/  /' "$LAB_DIR/ping-a-$ip6_b.log" >&2
# replies, and a result without an IPv4 address: ICMPv6, not a v4 fallback
expect "the IPv6 ping got replies" grep -q "reply from $ip6_b via direct" "$LAB_DIR/ping-a-$ip6_b.log"
expect "the IPv6 ping was ICMPv6 to b" grep -q -- "^--- b: " "$LAB_DIR/ping-a-$ip6_b.log"

# netcheck against the two coturn listeners: the NAT's mapping (RFC 4787)
# and the TURN server's round trip (an Allocate's 401)
netcheck_says() { # NODE MAPPING
	cli "$1" netcheck >"$LAB_DIR/netcheck-$1.log" 2>&1 || return 1
	grep -q "^mapping: $2 " "$LAB_DIR/netcheck-$1.log" &&
		grep -q "stun $LAB_TURN_ADDR_ALT: reachable in " "$LAB_DIR/netcheck-$1.log" &&
		grep -q "turn $LAB_TURN_ADDR: reachable in [0-9.]* ms" "$LAB_DIR/netcheck-$1.log"
}
expect "netcheck on a: endpoint-independent, TURN timed" netcheck_says a endpoint-independent
expect "netcheck on b: endpoint-independent (restricted cone), TURN timed" netcheck_says b endpoint-independent
expect "netcheck on c: endpoint-dependent (symmetric), TURN timed" netcheck_says c endpoint-dependent
sed 's/^/  /' "$LAB_DIR/netcheck-c.log" >&2

# the coordinator goes away: tunnels stay; it comes back: nothing changes
kill "$PID_coord"
lab_wait 10 bash -c "! kill -0 $PID_coord 2>/dev/null" || lab_die "coord did not stop"
expect "with the coordinator down, a pings b" pings a b
expect "with the coordinator down, b pings c through the relay" pings b c
start_coord
connected() { status_json "$1" | grep -q '"connected":true'; }
expect "a reconnects to the coordinator by itself" lab_wait 40 connected a
expect "after that, a -> b still direct" [ "$(path_of a b)" = direct ]

# b's underlay address changes: ICE restarts, the tunnel recovers
lab_exec b ip addr del "${LAB_IP4[b]}/24" dev eth0
lab_exec b ip addr add 10.1.0.99/24 dev eth0
lab_exec b ip route replace default via 10.1.0.1
expect "b's address changed: a pings b again" lab_wait 40 pings a b
expect "b's address changed: b pings c again (relay)" lab_wait 40 pings b c
expect "b logged the change and restarted ICE" \
	grep -q "addresses changed" "$LAB_DIR/b/icemeshd.log"

# a node removed on the coordinator is torn down on every peer
"$COORD" nodes remove c --state-dir "$state" >/dev/null 2>&1 ||
	lab_die "nodes remove c failed"
gone() { ! status_json "$1" | grep -q '"name":"c"'; }
expect "c removed: a tore its tunnel down" lab_wait 20 gone a
expect "c removed: b tore its tunnel down" lab_wait 20 gone b
needs_login() { status_json "$1" | grep -q '"state":"needs-login"'; }
expect "c itself left the mesh and needs a new login" lab_wait 10 needs_login c
expect "a can no longer ping c (unknown peer)" bash -c "! '$CLI' --socket '$LAB_DIR/a/sock' ping c -c 1 >/dev/null 2>&1"

# a restart keeps the identity and address, and rejoins by itself
key_b=$(status_json b | sed -n 's/^{"self":{[^}]*"public_key":"\([^"]*\)".*/\1/p')
kill "${PIDS[b]}"
lab_wait 10 bash -c "! kill -0 ${PIDS[b]} 2>/dev/null" || lab_die "b did not stop"
start_node b
up_again() { status_json b | grep -q '"state":"running"'; }
expect "b: rejoins by itself after a restart" lab_wait 15 up_again
expect "b: same address after the restart" [ "$(overlay_ip b)" = "$ip_b" ]
expect "b: same key after the restart" bash -c \
	"[ \"\$('$CLI' --socket '$LAB_DIR/b/sock' --json status | tr -d ' \n' | sed -n 's/^{\"self\":{[^}]*\"public_key\":\"\([^\"]*\)\".*/\1/p')\" = '$key_b' ]"
expect "a pings b again after b's restart" lab_wait 40 pings a b

if [ "$failures" -ne 0 ]; then
	for n in a b c; do
		echo "--- $n" >&2
		tail -n 60 "$LAB_DIR/$n/icemeshd.log" >&2
	done
	lab_die "$failures check(s) failed"
fi
lab_log "passed"
