#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The WireGuard protocol core on the wire against wireguard-go, before any
# data plane: wg-probe (wireguard/tools/wg-probe.c) runs the core on a plain
# UDP socket and builds its own ICMP packets; wireguard-go is configured
# with wg(8) and ip(8) and answers through the kernel's ping.
#
#   netns iml<id>-pa                       netns iml<id>-pb
#   +---------------------------+          +----------------------------+
#   | wg-probe UDP :51820       |          | wireguard-go wpB<id>        |
#   |   tunnel 192.168.78.1     |          |   192.168.78.2/24, :51821   |
#   |   veth pa0 10.98.0.1/24 ================ veth pb0 10.98.0.2/24     |
#   |            fd98::1/64     |          |            fd98::2/64       |
#   +---------------------------+          +----------------------------+
#
#  1. the probe initiates (IPv4 outside): 5 pings answered by wireguard-go's
#     kernel; meanwhile ping from pb through wireguard-go, answered by the
#     probe; wg(8) on wireguard-go shows the handshake and transfer.
#  2. wireguard-go initiates (it knows the probe's endpoint, the probe does
#     not know its own peer's): ping from pb, answered by the probe.
#  3. the probe initiates over IPv6 outside.
#  4. the probe is under load (§5.3): wireguard-go's initiation gets a
#     cookie reply, its retransmission carries MAC2 and is answered.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
PROBE=$BUILD/wg-probe
# shellcheck source=lib/lab.sh
. "$top/tests/lab/lib/lab.sh"
trap lab_cleanup EXIT INT TERM

IFN="wpB${LAB_ID: -8}"
failures=0
say() { echo "test_wg_core_probe: $*"; }
fail() {
	say "FAIL: $*"
	failures=$((failures + 1))
}

[ "$(id -u)" = 0 ] || lab_die "the lab needs root"
[ -x "$PROBE" ] || lab_die "no $PROBE (build it first)"
command -v wireguard-go >/dev/null || lab_die "wireguard-go missing"
command -v wg >/dev/null || lab_die "wireguard-tools missing"
LAB_DIR=$(mktemp -d /tmp/icemesh-wgprobe.XXXXXX)
lab_mkns pa 0
lab_mkns pb 0
ip -n "$(lab_ns pa)" link add name pa0 type veth peer name pb0 netns "$(lab_ns pb)"
lab_exec pa ip link set pa0 up
lab_exec pb ip link set pb0 up
lab_exec pa ip addr add 10.98.0.1/24 dev pa0
lab_exec pb ip addr add 10.98.0.2/24 dev pb0
lab_exec pa ip -6 addr add fd98::1/64 dev pa0 nodad
lab_exec pb ip -6 addr add fd98::2/64 dev pb0 nodad

umask 077 # private keys
wg genkey >"$LAB_DIR/probe.key"
wg genkey >"$LAB_DIR/wggo.key"
PROBE_PUB=$(wg pubkey <"$LAB_DIR/probe.key")
WGGO_PUB=$(wg pubkey <"$LAB_DIR/wggo.key")

WG_PROCESS_FOREGROUND=1 lab_bg pb "$LAB_DIR/wggo.log" wireguard-go "$IFN"
lab_wait 10 lab_exec pb wg show "$IFN" >/dev/null ||
	lab_die "wireguard-go never served $IFN: $(cat "$LAB_DIR/wggo.log")"
lab_exec pb wg set "$IFN" private-key "$LAB_DIR/wggo.key" listen-port 51821
lab_exec pb ip addr add 192.168.78.2/24 dev "$IFN"
lab_exec pb ip link set "$IFN" up

# wireguard-go's peer is the probe; ENDPOINT empty: it must learn it.
wggo_peer() { # [ENDPOINT]
	lab_exec pb wg set "$IFN" peer "$PROBE_PUB" remove
	if [ -n "${1:-}" ]; then
		lab_exec pb wg set "$IFN" peer "$PROBE_PUB" \
			allowed-ips 192.168.78.1/32 endpoint "$1"
	else
		lab_exec pb wg set "$IFN" peer "$PROBE_PUB" allowed-ips 192.168.78.1/32
	fi
}

probe() { # LOG ARGS... : the probe in pa, in the background
	local log=$1
	shift
	lab_bg pa "$log" "$PROBE" --key "$LAB_DIR/probe.key" --peer "$WGGO_PUB" \
		--port 51820 --addr 192.168.78.1 --remote 192.168.78.2 "$@"
	PROBE_PID=$LAB_LAST_PID
}

probe_done() { # LOG : wait for the probe; its status, and its figures
	local rc=0
	lab_wait_pid 30 "$PROBE_PID" || rc=$?
	say "probe: $(cat "$1")"
	return "$rc"
}

# 1. the probe initiates over IPv4; pings both ways
say "1: wg-probe initiates (IPv4), pings both ways"
wggo_peer
probe "$LAB_DIR/p1.log" --endpoint 10.98.0.2:51821 --pings 5 --serve 4
lab_wait 10 sh -c "[ \"\$(ip netns exec $(lab_ns pb) wg show $IFN latest-handshakes | awk '{print \$2}')\" != 0 ]" ||
	fail "wireguard-go saw no handshake from the probe"
lab_exec pb ping -c 3 -i 0.2 -W 2 -w 10 192.168.78.1 >"$LAB_DIR/ping1.log" 2>&1 ||
	fail "ping from wireguard-go's side through the probe: $(tail -2 "$LAB_DIR/ping1.log")"
probe_done "$LAB_DIR/p1.log" || fail "the probe's pings were not all answered"
grep -q 'answered [3-9]' "$LAB_DIR/p1.log" || fail "the probe answered no ping"
xfer=$(lab_exec pb wg show "$IFN" transfer | awk '{print $2, $3}')
say "wireguard-go transfer (rx tx): $xfer"
case $xfer in "0 "* | *" 0" | "") fail "wireguard-go counted no transfer" ;; esac

# 2. wireguard-go initiates towards the probe's endpoint
say "2: wireguard-go initiates (IPv4), the probe answers"
wggo_peer 10.98.0.1:51820
probe "$LAB_DIR/p2.log" --pings 0 --serve 6
lab_exec pb ping -c 3 -i 0.2 -W 2 -w 10 192.168.78.1 >"$LAB_DIR/ping2.log" 2>&1 ||
	fail "ping from wireguard-go's side, handshake by wireguard-go: $(tail -2 "$LAB_DIR/ping2.log")"
probe_done "$LAB_DIR/p2.log" || fail "probe (responder) failed"
grep -q 'sessions [1-9]' "$LAB_DIR/p2.log" || fail "the probe made no session as responder"

# 3. the probe initiates over IPv6 outside
say "3: wg-probe initiates (IPv6 outside)"
wggo_peer
probe "$LAB_DIR/p3.log" --endpoint "[fd98::2]:51821" --pings 5
probe_done "$LAB_DIR/p3.log" || fail "pings over IPv6 outside were not all answered"
lab_exec pb wg show "$IFN" endpoints | grep -q 'fd98::1' ||
	fail "wireguard-go did not learn the probe's IPv6 endpoint"

# 4. under load: a cookie reply first, then the handshake with MAC2
say "4: wg-probe under load: cookie reply, then MAC2 (wireguard-go initiates)"
wggo_peer 10.98.0.1:51820
probe "$LAB_DIR/p4.log" --pings 0 --serve 12 --under-load
lab_exec pb ping -c 3 -i 0.2 -W 2 -w 12 192.168.78.1 >"$LAB_DIR/ping4.log" 2>&1 ||
	fail "no ping through the probe under load: $(tail -2 "$LAB_DIR/ping4.log")"
probe_done "$LAB_DIR/p4.log" || fail "probe under load failed"
grep -qE 'cookies [1-9]' "$LAB_DIR/p4.log" || fail "the probe sent no cookie reply"
grep -qE '^sessions [1-9]' "$LAB_DIR/p4.log" ||
	fail "wireguard-go's MAC2 was not accepted"

if [ "$failures" -ne 0 ]; then
	say "$failures failure(s); wireguard-go log:"
	tail -20 "$LAB_DIR/wggo.log"
	exit 1
fi
say "all passed"
