#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The WireGuard userspace API (wireguard/uapi.c) against the stock wg(8):
#
#   wg(8) --- /var/run/wireguard/imuPID.sock --- icemesh-uapi-test
#             (unix socket; no network at all)    (an interface that is
#                                                  only its UAPI socket)
#
# wg set / setconf / syncconf / show / showconf must work on it exactly as
# on wireguard-go: keys, listen port, fwmark, peers with preshared key, IPv4
# and IPv6 endpoints (link-local with scope too), keepalive, allowed IPs
# (replaced, moved between peers), peer removal, replace_peers, latest
# handshake and transfer counters, and an error answered by the server
# reported by wg.
set -eu
umask 077
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
TOOL=$BUILD/icemesh-uapi-test
NAME=imu$$
SOCK=/var/run/wireguard/$NAME.sock
DIR=$(mktemp -d /tmp/icemesh-test-uapi.XXXXXX)
PID=
failures=0

log() { echo "test_uapi: $*"; }
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -f "$SOCK"
	rm -rf "$DIR"
}
trap cleanup EXIT
die() {
	log "FAIL $*"
	exit 1
}
check() { # DESCRIPTION CMD...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		log "ok   $what"
	else
		log "FAIL $what"
		failures=$((failures + 1))
	fi
}
wait_for() { # SECONDS CMD...
	local deadline=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
same() { # WANT-FILE GOT-FILE
	diff -u "$1" "$2" >&2
}

[ -x "$TOOL" ] || die "$TOOL not built"
command -v wg >/dev/null || die "wg(8) not installed (wireguard-tools)"
HS=1700000000
"$TOOL" --name "$NAME" --timeout 120 --handshake $HS --rx 12345 --tx 67890 \
	>"$DIR/out" 2>"$DIR/err" &
PID=$!
wait_for 10 test -S "$SOCK" || die "no socket at $SOCK"
check "socket closed to group and others" test $((8#$(stat -c %a "$SOCK") & 077)) -eq 0
check "wg lists the interface" sh -c "wg show interfaces | tr ' ' '\n' | grep -qx $NAME"

wg genkey >"$DIR/priv"
PUB=$(wg pubkey <"$DIR/priv")
PRIV=$(cat "$DIR/priv")
wg genpsk >"$DIR/psk"
PSK=$(cat "$DIR/psk")
P1=$(wg genkey | wg pubkey)
P2=$(wg genkey | wg pubkey)
P3=$(wg genkey | wg pubkey)
T=$(printf '\t')

check "wg set (interface and two peers)" \
	wg set "$NAME" private-key "$DIR/priv" listen-port 51820 fwmark 0x1234 \
	peer "$P1" preshared-key "$DIR/psk" endpoint 192.0.2.1:51820 \
	allowed-ips 10.0.0.0/24,fd00::/64 persistent-keepalive 25 \
	peer "$P2" endpoint '[2001:db8::2]:4242' allowed-ips 10.0.1.0/24
cat >"$DIR/want" <<EOT
$PRIV$T$PUB${T}51820${T}0x1234
$P1$T$PSK${T}192.0.2.1:51820${T}10.0.0.0/24,fd00::/64$T$HS${T}12345${T}67890${T}25
$P2$T(none)$T[2001:db8::2]:4242${T}10.0.1.0/24$T$HS${T}12345${T}67890${T}off
EOT
wg show "$NAME" dump >"$DIR/got" || true
check "wg show dump: keys, endpoints, allowed IPs, handshake, transfer" same "$DIR/want" "$DIR/got"
check "wg show public-key derived from ours" test "$(wg show "$NAME" public-key)" = "$PUB"
check "wg show latest-handshakes" grep -qx "$P1$T$HS" <<<"$(wg show "$NAME" latest-handshakes)"
check "wg show transfer" grep -qx "$P2${T}12345${T}67890" <<<"$(wg show "$NAME" transfer)"
check "wg showconf" grep -qx "PresharedKey = $PSK" <<<"$(wg showconf "$NAME")"

# allowed IPs are exclusive: given to P2, 10.0.0.0/24 leaves P1
check "wg set: replace P2's allowed IPs" wg set "$NAME" peer "$P2" allowed-ips 10.0.0.0/24
check "the prefix moved from P1 to P2" test "$(wg show "$NAME" allowed-ips | sort)" = \
	"$(printf '%s\t%s\n%s\t%s\n' "$P1" fd00::/64 "$P2" 10.0.0.0/24 | sort)"
check "wg set: keepalive off, new endpoint" \
	wg set "$NAME" peer "$P1" persistent-keepalive 0 endpoint 198.51.100.7:1
check "P1 changed" grep -q "^$P1$T$PSK${T}198.51.100.7:1${T}fd00::/64$T.*${T}off$" \
	<<<"$(wg show "$NAME" dump)"
# a link-local endpoint carries its interface (lo exists everywhere)
check "wg set: link-local endpoint with scope" \
	wg set "$NAME" peer "$P2" endpoint '[fe80::1%lo]:51820'
check "scope kept through get" grep -qx "$P2$T\[fe80::1%lo\]:51820" \
	<<<"$(wg show "$NAME" endpoints)"
check "wg set: remove P1" wg set "$NAME" peer "$P1" remove
check "only P2 is left" test "$(wg show "$NAME" peers)" = "$P2"

# setconf replaces everything (replace_peers=true)
cat >"$DIR/conf" <<EOT
[Interface]
PrivateKey = $PRIV
ListenPort = 4000

[Peer]
PublicKey = $P3
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = 203.0.113.9:51820
EOT
check "wg setconf" wg setconf "$NAME" "$DIR/conf"
cat >"$DIR/want" <<EOT
$PRIV$T$PUB${T}4000${T}off
$P3$T(none)${T}203.0.113.9:51820${T}0.0.0.0/0,::/0$T$HS${T}12345${T}67890${T}off
EOT
wg show "$NAME" dump >"$DIR/got" || true
check "state after setconf (fwmark reset too)" same "$DIR/want" "$DIR/got"
# syncconf: get, diff, then remove=true / changes for what differs
cat >"$DIR/sync" <<EOT
[Interface]
PrivateKey = $PRIV
ListenPort = 4001

[Peer]
PublicKey = $P1
AllowedIPs = 10.9.0.0/16
PersistentKeepalive = 7
EOT
check "wg syncconf" wg syncconf "$NAME" "$DIR/sync"
cat >"$DIR/want" <<EOT
$PRIV$T$PUB${T}4001${T}off
$P1$T(none)$T(none)${T}10.9.0.0/16${T}$HS${T}12345${T}67890${T}7
EOT
wg show "$NAME" dump >"$DIR/got" || true
check "state after syncconf (P3 removed, P1 added)" same "$DIR/want" "$DIR/got"
check "wg set fwmark" wg set "$NAME" fwmark 0x99
check "fwmark shown" grep -q "${T}4001${T}0x99$" <<<"$(wg show "$NAME" dump | head -1)"

# an error answered by the server: the tool holds 64 peers, so 65 fail
{
	echo "[Interface]"
	for _ in $(seq 65); do
		printf '[Peer]\nPublicKey = %s\n' "$(wg genkey | wg pubkey)"
	done
} >"$DIR/big"
if wg setconf "$NAME" "$DIR/big" 2>"$DIR/wgerr"; then
	log "FAIL 65 peers accepted"
	failures=$((failures + 1))
else
	check "the server's errno reaches wg(8)" grep -q "No space left on device" "$DIR/wgerr"
fi
check "still answering after the error" wg show "$NAME" dump

kill -TERM "$PID"
wait_for 5 sh -c "! kill -0 $PID" || die "tool did not stop"
PID=
check "socket removed on exit" test ! -e "$SOCK"
check "wg no longer finds it" sh -c "! wg show $NAME"

if [ "$failures" -ne 0 ]; then
	sed 's/^/  tool: /' "$DIR/out" "$DIR/err" | tail -n 20
	log "$failures check(s) failed"
	exit 1
fi
log "all checks passed"
