#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Session rotation of the WireGuard protocol core against wireguard-go,
# on the real timers (REKEY_AFTER_TIME = 120 s, not shortened): traffic
# runs for 130 s through two probes at once, and nothing may be lost.
#
#   netns iml<id>-ra                          netns iml<id>-rb
#   +------------------------------+          +------------------------------+
#   | wg-probe 1  UDP :51820       |          | wireguard-go wrB<id> :51821   |
#   |   tunnel 192.168.79.1        |          |   192.168.79.2/24             |
#   |   initiator: it rekeys       |          |   peers: probe 1, probe 2     |
#   | wg-probe 2  UDP :51822       |          |                               |
#   |   tunnel 192.168.79.3        |          |                               |
#   |   responder: wireguard-go    |          |                               |
#   |   rekeys towards it          |          |                               |
#   |   veth ra0 10.97.0.1/24 ================== veth rb0 10.97.0.2/24        |
#   +------------------------------+          +------------------------------+
#
# Probe 1 pings 192.168.79.2 once a second; wireguard-go's side pings probe
# 2 once a second. After 130 s: both probes saw a second session (the
# rekey), every ping was answered, and wg(8) shows handshakes newer than
# the start for both peers.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
PROBE=$BUILD/wg-probe
# shellcheck source=lib/lab.sh
. "$top/tests/lab/lib/lab.sh"
trap lab_cleanup EXIT INT TERM

IFN="wrB${LAB_ID: -8}"
SECONDS_RUN=130
failures=0
say() { echo "test_wg_core_rekey: $*"; }
fail() {
	say "FAIL: $*"
	failures=$((failures + 1))
}

[ "$(id -u)" = 0 ] || lab_die "the lab needs root"
[ -x "$PROBE" ] || lab_die "no $PROBE (build it first)"
command -v wireguard-go >/dev/null || lab_die "wireguard-go missing"
command -v wg >/dev/null || lab_die "wireguard-tools missing"
LAB_DIR=$(mktemp -d /tmp/icemesh-wgrekey.XXXXXX)
lab_mkns ra 0
lab_mkns rb 0
ip -n "$(lab_ns ra)" link add name ra0 type veth peer name rb0 netns "$(lab_ns rb)"
lab_exec ra ip link set ra0 up
lab_exec rb ip link set rb0 up
lab_exec ra ip addr add 10.97.0.1/24 dev ra0
lab_exec rb ip addr add 10.97.0.2/24 dev rb0

umask 077 # private keys
for k in p1 p2 wggo; do wg genkey >"$LAB_DIR/$k.key"; done
P1_PUB=$(wg pubkey <"$LAB_DIR/p1.key")
P2_PUB=$(wg pubkey <"$LAB_DIR/p2.key")
WGGO_PUB=$(wg pubkey <"$LAB_DIR/wggo.key")

WG_PROCESS_FOREGROUND=1 lab_bg rb "$LAB_DIR/wggo.log" wireguard-go "$IFN"
lab_wait 10 lab_exec rb wg show "$IFN" >/dev/null ||
	lab_die "wireguard-go never served $IFN: $(cat "$LAB_DIR/wggo.log")"
lab_exec rb wg set "$IFN" private-key "$LAB_DIR/wggo.key" listen-port 51821 \
	peer "$P1_PUB" allowed-ips 192.168.79.1/32 \
	peer "$P2_PUB" allowed-ips 192.168.79.3/32 endpoint 10.97.0.1:51822
lab_exec rb ip addr add 192.168.79.2/24 dev "$IFN"
lab_exec rb ip link set "$IFN" up
start=$(date +%s)

say "traffic for ${SECONDS_RUN}s both ways (rekey due at 120 s)"
lab_bg ra "$LAB_DIR/p1.log" "$PROBE" --key "$LAB_DIR/p1.key" --peer "$WGGO_PUB" \
	--endpoint 10.97.0.2:51821 --port 51820 --addr 192.168.79.1 \
	--remote 192.168.79.2 --pings "$SECONDS_RUN" --interval 1000
P1=$LAB_LAST_PID
lab_bg ra "$LAB_DIR/p2.log" "$PROBE" --key "$LAB_DIR/p2.key" --peer "$WGGO_PUB" \
	--port 51822 --addr 192.168.79.3 --remote 192.168.79.2 --pings 0 \
	--serve $((SECONDS_RUN + 5))
P2=$LAB_LAST_PID
lab_exec rb ping -c "$SECONDS_RUN" -i 1 -W 3 -w $((SECONDS_RUN + 20)) 192.168.79.3 \
	>"$LAB_DIR/ping.log" 2>&1 || true
rc1=0
rc2=0
lab_wait_pid 60 "$P1" || rc1=$?
lab_wait_pid 60 "$P2" || rc2=$?
say "probe 1 (initiator): $(cat "$LAB_DIR/p1.log")"
say "probe 2 (responder): $(cat "$LAB_DIR/p2.log")"
say "wireguard-go's ping: $(grep -E 'packets transmitted' "$LAB_DIR/ping.log")"

[ "$rc1" = 0 ] || fail "probe 1 lost a ping across the rekey"
[ "$rc2" = 0 ] || fail "probe 2 exited with $rc2"
grep -q ' 0% packet loss' "$LAB_DIR/ping.log" ||
	fail "wireguard-go's pings to probe 2 were not all answered"
grep -qE '^sessions ([2-9]|[1-9][0-9])' "$LAB_DIR/p1.log" ||
	fail "probe 1 (initiator) did not rekey"
grep -qE '^sessions ([2-9]|[1-9][0-9])' "$LAB_DIR/p2.log" ||
	fail "probe 2 did not take wireguard-go's rekey"
while read -r pub t; do
	[ "$t" -ge $((start + 100)) ] ||
		fail "wireguard-go's latest handshake with ${pub:0:8}... is $((t - start)) s after the start"
done < <(lab_exec rb wg show "$IFN" latest-handshakes)

if [ "$failures" -ne 0 ]; then
	say "$failures failure(s); wireguard-go log:"
	tail -20 "$LAB_DIR/wggo.log"
	exit 1
fi
say "all passed"
