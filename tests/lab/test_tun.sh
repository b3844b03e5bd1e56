#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The TUN device and rtnetlink code against the real kernel, all inside one
# namespace of this test's own:
#
#   netns imtun-PID-RANDOM (lo, and the TUN; nothing else)
#   +----------------------------------------------------------------+
#   |  kernel stack                         icemesh-tun-test          |
#   |  10.77.0.1/24  fd77::1/64  <== imt0 ==> answers ICMP echo,      |
#   |  10.78.0.0/16, fd78::/64 -> imt0        TCP :9 sink (TSO),      |
#   |  listeners 10.77.0.1:7777, [fd77::1]:7777 <== coalesced (GRO)   |
#   |  UDP sockets on port 7778                TCP and UDP from .2/::2 |
#   |                                         prints netlink events   |
#   +----------------------------------------------------------------+
#
# Checks: MTU, link state, addresses and routes set by our netlink code as
# ip(8) sees them; echo requests into the TUN answered by the tool (IPv4 and
# IPv6, routed and on-link); TCP over IPv4 and IPv6 with the kernel's TSO
# super-packets split by vnet_split, every segment's checksums valid; UDP
# sent with UDP_SEGMENT arriving as USO super-packets, split into whole
# datagrams; the other way, TCP written as GRO super-packets and read back
# intact by a listener, and UDP datagrams coalesced into USO super-packets
# received one by one by a UDP socket; link and address changes seen by
# the watcher; the device gone with the tool.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
TOOL=$BUILD/icemesh-tun-test
NS=imtun-$$-$RANDOM
DIR=$(mktemp -d /tmp/icemesh-test-tun.XXXXXX)
PID=
failures=0

log() { echo "test_tun: $*"; }
n() { ip netns exec "$NS" "$@"; }
cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ -s "$DIR/out" ]; then
		# set -e stopped us: show what the tool said
		sed 's/^/  tool: /' "$DIR/out" "$DIR/err" 2>/dev/null | tail -n 40 >&2
	fi
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$DIR"
	exit "$rc"
}
trap cleanup EXIT
die() {
	log "FAIL $*"
	exit 1 # cleanup shows the tool's output
}
check() { # DESCRIPTION CMD...: record a failure, keep going
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		log "ok   $what"
	else
		log "FAIL $what"
		failures=$((failures + 1))
	fi
}
wait_for() { # SECONDS CMD...: poll every 0.1 s until CMD succeeds
	local deadline=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
out_has() { grep -qE -- "$1" "$DIR/out"; }

[ -x "$TOOL" ] || die "$TOOL not built"
ip netns add "$NS"
n ip link set lo up
# not through n(): $! must be the tool itself (ip netns exec execs it)
ip netns exec "$NS" "$TOOL" --name imt0 --mtu 1380 --addr 10.77.0.1/24 --addr fd77::1/64 \
	--route 10.78.0.0/16 --route fd78::/64 --gro-check --timeout 120 \
	>"$DIR/out" 2>"$DIR/err" &
PID=$!
wait_for 10 out_has '^READY imt0' || die "tool did not come up"
IDX=$(sed -n 's/^READY imt0 ifindex=\([0-9]*\).*/\1/p' "$DIR/out")
log "device up: $(grep '^READY' "$DIR/out")"

# --- what netlink set, as ip(8) reads it back
link=$(ip -n "$NS" -o link show dev imt0)
check "MTU 1380" grep -q 'mtu 1380' <<<"$link"
check "link up" grep -q '<[^>]*,UP[,>]' <<<"$link"
check "IPv4 address" grep -q 'inet 10.77.0.1/24' <<<"$(ip -n "$NS" -4 addr show dev imt0)"
check "IPv6 address" grep -q 'inet6 fd77::1/64' <<<"$(ip -n "$NS" -6 addr show dev imt0)"
check "IPv4 route" grep -q '^10.78.0.0/16 .*proto static' <<<"$(ip -n "$NS" -4 route show dev imt0)"
check "IPv6 route" grep -q '^fd78::/64 .*proto static' <<<"$(ip -n "$NS" -6 route show dev imt0)"

# --- echo requests into the TUN, answered by the tool
check "ping 10.78.1.1 (routed)" n "$TOOL" --ping 10.78.1.1 --count 3
check "ping 10.77.0.2 (on-link)" n "$TOOL" --ping 10.77.0.2 --count 2
check "ping fd78::9 (routed)" n "$TOOL" --ping fd78::9 --count 3
check "ping fd77::2 (on-link)" n "$TOOL" --ping fd77::2 --count 2

# --- TCP with TSO: the kernel hands over super-packets, vnet_split cuts them
tcp_send() { # ADDR BYTES
	n timeout 30 bash -c "head -c $2 /dev/zero >/dev/tcp/$1/9"
}
check "TCP/IPv4 2 MB sent" tcp_send 10.78.0.2 2000000
check "TCP/IPv4 2 MB received in order" wait_for 10 out_has '^TCPDONE bytes=2000000$'
check "TCP/IPv6 1 MB sent" tcp_send fd78::2 1000000
check "TCP/IPv6 1 MB received in order" wait_for 10 out_has '^TCPDONE bytes=1000000$'

# --- UDP_SEGMENT sends: the kernel hands over USO super-packets to split
check "USO/IPv4 send of 10 datagrams" n "$TOOL" --uso-send 10.78.0.3
check "USO/IPv6 send of 10 datagrams" n "$TOOL" --uso-send fd78::3

# --- the other way: coalesced super-packets into the TUN, read back intact
check "GRO into the TUN, IPv4 stream intact" wait_for 10 out_has '^GRODONE family=4 bytes=48000$'
check "GRO into the TUN, IPv6 stream intact" wait_for 10 out_has '^GRODONE family=6 bytes=48000$'
if out_has '^READY .* gro_udp=1'; then
	check "UDP GRO into the TUN, IPv4 datagrams intact" wait_for 10 out_has '^GROUDP family=4 datagrams=20$'
	check "UDP GRO into the TUN, IPv6 datagrams intact" wait_for 10 out_has '^GROUDP family=6 datagrams=20$'
	want_super=4
else
	log "skip UDP GRO: this kernel granted no USO offload"
	want_super=2
fi
check "no corrupted GRO stream or datagram" sh -c "! grep -q GROBAD '$DIR/out'"

# --- the watcher sees link and address changes
ip -n "$NS" addr add 10.99.0.1/32 dev imt0
check "watcher: IPv4 address added" wait_for 5 out_has "^EVENT addr new ifindex=$IDX 10.99.0.1/32$"
ip -n "$NS" addr del 10.99.0.1/32 dev imt0
check "watcher: IPv4 address removed" wait_for 5 out_has "^EVENT addr del ifindex=$IDX 10.99.0.1/32$"
ip -n "$NS" addr add fd99::1/128 dev imt0 nodad
check "watcher: IPv6 address added" wait_for 5 out_has "^EVENT addr new ifindex=$IDX fd99::1/128$"
ip -n "$NS" link set imt0 mtu 1300
check "watcher: MTU change" wait_for 5 out_has "^EVENT link new ifindex=$IDX name=imt0 up mtu=1300$"
ip -n "$NS" link set imt0 down
check "watcher: link down" wait_for 5 out_has "^EVENT link new ifindex=$IDX name=imt0 down mtu=1300$"

# --- stop the tool: its counters, then the device must be gone
kill -TERM "$PID"
wait_for 5 out_has '^STATS ' || die "tool did not stop"
wait "$PID" || die "tool exited with an error"
PID=
stats=$(grep '^STATS ' "$DIR/out")
log "$stats"
stat() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$stats"; }
check "super-packets arrived (TSO on)" test "$(stat gso)" -gt 0
check "more segments than reads" test "$(stat segs)" -gt "$(stat reads)"
check "every segment's checksums valid" test "$(stat bad_csum)" -eq 0
check "all 20 UDP datagrams whole and in order" test "$(stat udp_dgrams)" -eq 20
check "no damaged UDP datagram" test "$(stat udp_bad)" -eq 0
if out_has '^READY .* gro_udp=1'; then
	check "USO super-packets arrived" test "$(stat uso)" -ge 2
fi
check "no malformed vnet packets" test "$(stat split_err)" -eq 0
check "all 10 echo requests answered" test "$(stat echo)" -eq 10
check "each run went as one super-packet" test "$(stat gro_super)" -ge "$want_super"
check "device removed with the tool" wait_for 5 sh -c "! ip -n $NS link show dev imt0"
check "no answer without the tool" sh -c "! ip netns exec $NS $TOOL --ping 10.78.1.1 --count 1"

if [ "$failures" -ne 0 ]; then
	log "$failures check(s) failed"
	exit 1
fi
log "all checks passed"
