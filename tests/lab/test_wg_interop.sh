#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemeshd --wireguard-only against wireguard-go, and against itself, over a
# veth between two namespaces of this run, configured only with wg(8) and
# ip(8):
#
#   netns iml<id>-a                               netns iml<id>-b
#   +------------------------------+              +------------------------------+
#   | icemeshd  imA<id>            |              | wireguard-go / icemeshd      |
#   |   192.168.77.1/24 fd77::1/64 |              |   imB<id> 192.168.77.2/24    |
#   |   UDP :51820                 |              |   fd77::2/64, UDP :51821     |
#   |   veth ul0 10.99.0.1/24 ===================  veth ul1 10.99.0.2/24       |
#   |          fd99::1/64          |              |          fd99::2/64          |
#   +------------------------------+              +------------------------------+
#
# Per pair (icemesh<->wireguard-go, then icemesh<->icemesh):
#  1. only a knows b's endpoint (IPv4): a's ping starts the handshake; b
#     learns a's endpoint by roaming; ping both ways, IPv4 and IPv6 inside;
#     a TCP transfer each way, checked byte for byte.
#  2. both forget each other; now only b knows a's endpoint (IPv6 outside):
#     b starts the handshake; ping both ways again; TCP over an underlay
#     narrower than the tunnel's packets (fragments; no UDP GSO possible).
#  3. a persistent keepalive of 1 s set on icemesh's side: the other side
#     receives keepalives on the idle tunnel; `wg show` on icemesh's
#     interface: the peer's latest handshake and transfer counters are there
#     and non-zero.
# The rekey (REKEY_AFTER_TIME = 120 s, not shortened) is test_wg_rekey.sh.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
ICEMESHD=$BUILD/icemeshd
# shellcheck source=lib/lab.sh
. "$top/tests/lab/lib/lab.sh"
trap lab_cleanup EXIT INT TERM

WG_IP4=(192.168.77.1 192.168.77.2)
WG_IP6=(fd77::1 fd77::2)
UL_IP4=(10.99.0.1 10.99.0.2)
UL_IP6=(fd99::1 fd99::2)
WG_PORT=(51820 51821)
SIDES=(a b)
IFN=("imA${LAB_ID:0:11}" "imB${LAB_ID:0:11}")
KIND=(icemesh icemesh)
KEYPRIV=()
KEYPUB=()
DAEMON_PID=(0 0)
failures=0

say() { echo "test_wg: $*"; }
fail() {
	say "FAIL: $*"
	failures=$((failures + 1))
}
on() { lab_exec "${SIDES[$1]}" "${@:2}"; } # SIDE(0|1) CMD...

wg_lab_setup() {
	[ "$(id -u)" = 0 ] || lab_die "the lab needs root"
	[ -x "$ICEMESHD" ] || lab_die "no $ICEMESHD (build it first)"
	command -v wireguard-go >/dev/null || lab_die "wireguard-go missing"
	command -v wg >/dev/null || lab_die "wireguard-tools missing"
	umask 077
	LAB_DIR=$(mktemp -d /tmp/icemesh-wg.XXXXXX)
	lab_mkns a 0
	lab_mkns b 0
	ip -n "$(lab_ns a)" link add name ul0 type veth peer name ul1 netns "$(lab_ns b)"
	for i in 0 1; do
		on "$i" ip link set "ul$i" up
		on "$i" ip addr add "${UL_IP4[$i]}/24" dev "ul$i"
		on "$i" ip -6 addr add "${UL_IP6[$i]}/64" dev "ul$i" nodad
		KEYPRIV[i]=$(wg genkey)
		KEYPUB[i]=$(printf '%s' "${KEYPRIV[$i]}" | wg pubkey)
	done
}

# Start side i's implementation ($1: icemesh|wggo) and give it its keys,
# port and tunnel addresses. No peer yet.
wg_start() { # SIDE KIND
	local i=$1 ifn=${IFN[$1]}
	KIND[i]=$2
	if [ "$2" = icemesh ]; then
		lab_bg "${SIDES[$i]}" "$LAB_DIR/d$i.log" \
			"$ICEMESHD" --wireguard-only --interface "$ifn" --foreground
	else
		WG_PROCESS_FOREGROUND=1 lab_bg "${SIDES[$i]}" "$LAB_DIR/d$i.log" \
			wireguard-go "$ifn"
	fi
	DAEMON_PID[i]=$LAB_LAST_PID
	lab_wait 10 on "$i" wg show "$ifn" ||
		lab_die "$2 on ${SIDES[$i]} never served $ifn: $(cat "$LAB_DIR/d$i.log")"
	printf '%s' "${KEYPRIV[$i]}" >"$LAB_DIR/key$i"
	on "$i" wg set "$ifn" private-key "$LAB_DIR/key$i" listen-port "${WG_PORT[$i]}"
	on "$i" ip addr add "${WG_IP4[$i]}/24" dev "$ifn"
	on "$i" ip -6 addr add "${WG_IP6[$i]}/64" dev "$ifn" nodad
	on "$i" ip link set "$ifn" up
}

# Stop side i's daemon with SIGTERM; it must exit cleanly and remove its
# socket and interface.
wg_stop() { # SIDE
	local i=$1 pid=${DAEMON_PID[$1]} rc=0
	[ "$pid" != 0 ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	lab_wait_pid 10 "$pid" || rc=$?
	DAEMON_PID[i]=0
	if [ "${KIND[$i]}" = icemesh ]; then
		[ "$rc" = 0 ] || fail "icemeshd on ${SIDES[$i]} exited with $rc"
		[ ! -e "/var/run/wireguard/${IFN[$i]}.sock" ] ||
			fail "icemeshd left its socket behind"
	fi
	lab_wait 5 sh -c "! ip -n $(lab_ns "${SIDES[$i]}") link show ${IFN[$i]}" ||
		fail "${IFN[$i]} still there after ${KIND[$i]} exited"
}

# Side i learns the other side as a peer; with an endpoint when $2 is 4/6.
wg_peer() { # SIDE ENDPOINT_FAMILY(4|6|none)
	local i=$1 o=$((1 - $1)) ep=()
	case $2 in
	4) ep=(endpoint "${UL_IP4[$o]}:${WG_PORT[$o]}") ;;
	6) ep=(endpoint "[${UL_IP6[$o]}]:${WG_PORT[$o]}") ;;
	esac
	on "$i" wg set "${IFN[$i]}" peer "${KEYPUB[$o]}" \
		allowed-ips "${WG_IP4[$o]}/32,${WG_IP6[$o]}/128" "${ep[@]}"
}

# Side i configured whole from a file with wg setconf: keys, port, the
# peer without endpoint; what wg showconf then says must set the same.
wg_setconf() { # SIDE
	local i=$1 o=$((1 - $1))
	cat >"$LAB_DIR/conf$i" <<-EOF
		[Interface]
		PrivateKey = ${KEYPRIV[$i]}
		ListenPort = ${WG_PORT[$i]}

		[Peer]
		PublicKey = ${KEYPUB[$o]}
		AllowedIPs = ${WG_IP4[$o]}/32, ${WG_IP6[$o]}/128
	EOF
	on "$i" wg setconf "${IFN[$i]}" "$LAB_DIR/conf$i"
	on "$i" wg showconf "${IFN[$i]}" >"$LAB_DIR/show$i"
	grep -q "^PublicKey = ${KEYPUB[$o]}" "$LAB_DIR/show$i" ||
		fail "showconf after setconf: $(cat "$LAB_DIR/show$i")"
	grep -q "^Endpoint" "$LAB_DIR/show$i" && fail "setconf kept the old endpoint"
	on "$i" wg setconf "${IFN[$i]}" "$LAB_DIR/show$i"
	on "$i" wg showconf "${IFN[$i]}" | cmp -s - "$LAB_DIR/show$i" ||
		fail "showconf -> setconf -> showconf differs"
}

wg_unpeer() { # SIDE
	local i=$1 o=$((1 - $1))
	on "$i" wg set "${IFN[$i]}" peer "${KEYPUB[$o]}" remove
}

# The latest handshake side i reports for its peer (unix seconds, 0: none).
wg_hs_time() { # SIDE
	on "$1" wg show "${IFN[$1]}" latest-handshakes | awk '{print $2}'
}

wg_ping() { # FROM_SIDE 4|6 : a few pings, all answered, bounded
	local i=$1 o=$((1 - $1)) dst
	if [ "$2" = 4 ]; then dst=${WG_IP4[$o]}; else dst=${WG_IP6[$o]}; fi
	on "$i" ping -"$2" -c 3 -i 0.2 -W 2 -w 10 "$dst" >"$LAB_DIR/ping.log" 2>&1
}

# A TCP transfer from side i to the other, compared byte for byte.
wg_transfer() { # FROM_SIDE BYTES
	local i=$1 o=$((1 - $1)) bytes=$2 port=$((7000 + RANDOM % 1000)) pid
	head -c "$bytes" /dev/urandom >"$LAB_DIR/blob"
	rm -f "$LAB_DIR/got"
	on "$o" timeout 30 python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(25)
c, _ = s.accept()
c.settimeout(25)
with open(sys.argv[3], "wb") as f:
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        f.write(d)
' "${WG_IP4[$o]}" "$port" "$LAB_DIR/got" &
	pid=$!
	lab_wait 5 on "$o" sh -c "ss -ltn | grep -q ':$port '" ||
		{ fail "receiver never listened"; kill "$pid"; return 1; }
	on "$i" timeout 30 python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=25)
with open(sys.argv[3], "rb") as f:
    c.sendall(f.read())
c.shutdown(socket.SHUT_WR)
c.recv(1)
' "${WG_IP4[$o]}" "$port" "$LAB_DIR/blob" || { fail "sender failed"; }
	wait "$pid" || { fail "receiver failed"; return 1; }
	cmp -s "$LAB_DIR/blob" "$LAB_DIR/got"
}

# Clear refusals at start: a name in use, a bad name, no privilege.
wg_start_errors() {
	local out rc pid
	say "start-up errors"
	out=$(on 0 "$ICEMESHD" --wireguard-only --interface "${IFN[0]}" -f 2>&1) && rc=0 || rc=$?
	[ "$rc" = 1 ] || fail "a second icemeshd on ${IFN[0]}: exit $rc"
	echo "$out" | grep -q "already exists" || fail "name in use not explained: $out"
	out=$(on 0 "$ICEMESHD" --wireguard-only --interface "a/b" -f 2>&1) && rc=0 || rc=$?
	[ "$rc" = 2 ] || fail "the name a/b: exit $rc"
	echo "$out" | grep -q "not an interface name" || fail "bad name not explained: $out"
	if command -v setpriv >/dev/null; then
		out=$(on 0 setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps=-all --bounding-set=-all "$ICEMESHD" --wireguard-only \
			--interface "imX${LAB_ID:0:11}" -f 2>&1) && rc=0 || rc=$?
		[ "$rc" = 1 ] || fail "without privilege: exit $rc"
		echo "$out" | grep -q "CAP_NET_ADMIN" || fail "no privilege not explained: $out"
	fi
	# daemon mode: the parent returns once the child serves, or failed
	on 0 "$ICEMESHD" --wireguard-only --interface "imD${LAB_ID:0:11}" \
		>"$LAB_DIR/bg.log" 2>&1 || fail "background start failed: $(cat "$LAB_DIR/bg.log")"
	on 0 wg show "imD${LAB_ID:0:11}" >/dev/null || fail "background daemon not serving"
	for pid in $(on 0 sh -c "ps -eo pid,args |
		awk '/icemeshd .*imD${LAB_ID:0:11}/ && !/awk/ {print \$1}'"); do
		kill -TERM "$pid"
	done
	lab_wait 5 sh -c "! test -e /var/run/wireguard/imD${LAB_ID:0:11}.sock" ||
		fail "background daemon left its socket"
}

# One pair of implementations through phases 1-3.
wg_pair() { # KIND_A KIND_B
	local t0 bytes
	say "== ${1} (a) <-> ${2} (b)"
	wg_start 0 "$1"
	wg_start 1 "$2"

	say "phase 1: a knows b's IPv4 endpoint, a starts"
	wg_peer 0 4
	wg_peer 1 none
	[ "$(wg_hs_time 0)" = 0 ] || fail "a has a handshake before any packet"
	wg_ping 0 4 || fail "ping a->b (IPv4, a initiates): $(cat "$LAB_DIR/ping.log")"
	[ "$(wg_hs_time 0)" != 0 ] || fail "a reports no handshake"
	[ "$(wg_hs_time 1)" != 0 ] || fail "b reports no handshake"
	on 1 wg show "${IFN[1]}" endpoints | grep -q "${UL_IP4[0]}:${WG_PORT[0]}" ||
		fail "b did not learn a's endpoint by roaming"
	wg_ping 1 4 || fail "ping b->a (IPv4)"
	wg_ping 0 6 || fail "ping a->b (IPv6 inside)"
	wg_ping 1 6 || fail "ping b->a (IPv6 inside)"
	bytes=$((16 << 20))
	t0=$(date +%s%N)
	wg_transfer 0 "$bytes" || fail "TCP a->b: data differ"
	say "TCP a->b: $bytes bytes intact in $((($(date +%s%N) - t0) / 1000000)) ms"
	t0=$(date +%s%N)
	wg_transfer 1 "$bytes" || fail "TCP b->a: data differ"
	say "TCP b->a: $bytes bytes intact in $((($(date +%s%N) - t0) / 1000000)) ms"

	say "phase 2: both forget; b knows a's IPv6 endpoint, b starts"
	# a: a whole configuration with wg setconf (it replaces the peers);
	# b: wg set, peer removed and added again
	wg_setconf 0
	wg_unpeer 1
	wg_peer 1 6
	[ "$(wg_hs_time 1)" = 0 ] || fail "b kept a handshake across remove"
	wg_ping 1 4 || fail "ping b->a (b initiates over IPv6): $(cat "$LAB_DIR/ping.log")"
	[ "$(wg_hs_time 0)" != 0 ] || fail "a reports no handshake in phase 2"
	on 0 wg show "${IFN[0]}" endpoints | grep -q "\[${UL_IP6[1]}\]:${WG_PORT[1]}" ||
		fail "a did not learn b's IPv6 endpoint by roaming"
	wg_ping 0 4 || fail "ping a->b in phase 2"
	wg_transfer 0 $((1 << 20)) || fail "TCP a->b in phase 2"
	# an underlay narrower than the tunnel's packets: UDP GSO cannot cut
	# such segments, so icemesh must fall back to plain sends and let the
	# kernel fragment, as any UDP sender's datagrams are
	on 0 ip link set ul0 mtu 1400
	on 1 ip link set ul1 mtu 1400
	wg_transfer 0 $((1 << 20)) || fail "TCP a->b over a 1400-byte underlay"
	wg_transfer 1 $((1 << 20)) || fail "TCP b->a over a 1400-byte underlay"
	on 0 ip link set ul0 mtu 1500
	on 1 ip link set ul1 mtu 1500

	say "phase 3: persistent keepalive from icemesh; wg show"
	local rx0
	rx0=$(on 1 wg show "${IFN[1]}" transfer | awk '{print $2}')
	on 0 wg set "${IFN[0]}" peer "${KEYPUB[1]}" persistent-keepalive 1
	# idle tunnel: only keepalives (32 bytes each) can make b's rx grow
	lab_wait 5 sh -c "[ \$(ip netns exec $(lab_ns b) wg show ${IFN[1]} transfer |
		awk '{print \$2}') -ge $((rx0 + 3 * 32)) ]" ||
		fail "no persistent keepalives from a"
	on 0 wg show "${IFN[0]}" persistent-keepalive | grep -q "1$" ||
		fail "keepalive interval not shown"
	on 0 wg show "${IFN[0]}" >"$LAB_DIR/show.txt"
	sed 's/^/    /' "$LAB_DIR/show.txt"
	grep -q "latest handshake: .*ago" "$LAB_DIR/show.txt" || fail "no latest handshake in wg show"
	grep -q "transfer: .* received, .* sent" "$LAB_DIR/show.txt" || fail "no transfer in wg show"
	on 0 wg show "${IFN[0]}" transfer | awk '$2 == 0 || $3 == 0 { exit 1 }' ||
		fail "zero transfer counters"
	wg_stop 0
	if [ "${KIND[1]}" = icemesh ]; then
		# the interface deleted under it: icemeshd ends, as wireguard-go
		on 1 ip link del "${IFN[1]}"
		lab_wait_pid 10 "${DAEMON_PID[1]}" || fail "icemeshd outlived its interface"
		lab_wait 2 sh -c "! test -e /var/run/wireguard/${IFN[1]}.sock" ||
			fail "icemeshd left its socket when the interface went"
		DAEMON_PID[1]=0
	fi
	wg_stop 1
}

if [ "${WG_LAB_LIB_ONLY:-0}" = 0 ]; then
	wg_lab_setup
	start=$(date +%s)
	wg_start 0 icemesh
	wg_start_errors
	wg_stop 0
	wg_pair icemesh wggo
	wg_pair icemesh icemesh
	say "done in $(($(date +%s) - start)) s, $failures failure(s)"
	[ "$failures" = 0 ]
fi
