#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A rekey observed, with the protocol's own REKEY_AFTER_TIME (120 s; nothing
# is shortened, so this test takes about two and a half minutes). Three
# pairs run side by side over one veth, each with steady ping traffic:
#
#   netns iml<id>-a                             netns iml<id>-b
#   +-------------------------------+           +-------------------------------+
#   | pair 1 icemeshd   rkA1<id> ---- initiates --> wireguard-go rkB1<id>       |
#   | pair 2 icemeshd   rkA2<id> <-- initiates ---- wireguard-go rkB2<id>       |
#   | pair 3 icemeshd   rkA3<id> ---- initiates --> icemeshd     rkB3<id>       |
#   |   tunnels 192.168.8N.1/24                 |   192.168.8N.2/24              |
#   |   veth ul0 10.96.0.1/24 ================== veth ul1 10.96.0.2/24           |
#   +-------------------------------+           +-------------------------------+
#
# For each pair: the first handshake, then, once the initiator's session is
# REKEY_AFTER_TIME old and it sends, a second handshake; both sides' latest
# handshake moves forward by at least 120 s, and the ping across the switch
# keeps going (no more than two replies missing).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
ICEMESHD=$BUILD/icemeshd
# shellcheck source=lib/lab.sh
. "$top/tests/lab/lib/lab.sh"
trap lab_cleanup EXIT INT TERM

failures=0
say() { echo "test_wg_rekey: $*"; }
fail() {
	say "FAIL: $*"
	failures=$((failures + 1))
}
on() { lab_exec "$([ "$1" = 0 ] && echo a || echo b)" "${@:2}"; }

[ "$(id -u)" = 0 ] || lab_die "the lab needs root"
[ -x "$ICEMESHD" ] || lab_die "no $ICEMESHD (build it first)"
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
	lab_die "wireguard-go and wireguard-tools needed"
fi
umask 077
LAB_DIR=$(mktemp -d /tmp/icemesh-rekey.XXXXXX)
lab_mkns a 0
lab_mkns b 0
ip -n "$(lab_ns a)" link add name ul0 type veth peer name ul1 netns "$(lab_ns b)"
for i in 0 1; do
	on "$i" ip link set "ul$i" up
	on "$i" ip addr add "10.96.0.$((i + 1))/24" dev "ul$i"
done

# pair P: kinds of side a and b, and which side initiates
KINDS=("" "icemesh wggo 0" "icemesh wggo 1" "icemesh icemesh 0")
declare -A IFN=() PUB=()

start() { # PAIR SIDE KIND
	local p=$1 i=$2 ifn side
	side=$([ "$i" = 0 ] && echo a || echo b)
	ifn="rk$([ "$i" = 0 ] && echo A || echo B)$p${LAB_ID:0:10}"
	IFN[$p$i]=$ifn
	if [ "$3" = icemesh ]; then
		lab_bg "$side" "$LAB_DIR/d$p$i.log" "$ICEMESHD" --wireguard-only \
			--interface "$ifn" --foreground
	else
		WG_PROCESS_FOREGROUND=1 lab_bg "$side" "$LAB_DIR/d$p$i.log" wireguard-go "$ifn"
	fi
	lab_wait 10 on "$i" wg show "$ifn" || lab_die "$3 $ifn did not start"
	wg genkey >"$LAB_DIR/key$p$i"
	PUB[$p$i]=$(wg pubkey <"$LAB_DIR/key$p$i")
	on "$i" wg set "$ifn" private-key "$LAB_DIR/key$p$i" listen-port $((52000 + 10 * p + i))
	on "$i" ip addr add "192.168.8$p.$((i + 1))/24" dev "$ifn"
	on "$i" ip link set "$ifn" up
}

# The initiator alone knows the endpoint, so the first handshake is its.
peer() { # PAIR SIDE INITIATOR
	local p=$1 i=$2 o=$((1 - $2)) ep=()
	[ "$i" = "$3" ] && ep=(endpoint "10.96.0.$((o + 1)):$((52000 + 10 * p + o))")
	on "$i" wg set "${IFN[$p$i]}" peer "${PUB[$p$o]}" \
		allowed-ips "192.168.8$p.$((o + 1))/32" "${ep[@]}"
}

hs() { # PAIR SIDE -> latest handshake, unix seconds (0: none)
	on "$2" wg show "${IFN[$1$2]}" latest-handshakes | awk '{print $2}'
}

declare -A FIRST=() PINGPID=()
for p in 1 2 3; do
	read -r ka kb init <<<"${KINDS[$p]}"
	start "$p" 0 "$ka"
	start "$p" 1 "$kb"
	peer "$p" 0 "$init"
	peer "$p" 1 "$init"
	# the initiator's traffic starts the session and keeps it in use
	on "$init" ping -c 1 -W 5 "192.168.8$p.$((2 - init))" >/dev/null ||
		fail "pair $p: first ping"
	for i in 0 1; do
		FIRST[$p$i]=$(hs "$p" "$i")
		[ "${FIRST[$p$i]}" != 0 ] || fail "pair $p side $i: no first handshake"
	done
	on "$init" ping -i 1 -w 150 -W 1 "192.168.8$p.$((2 - init))" \
		>"$LAB_DIR/ping$p.log" 2>&1 &
	PINGPID[$p]=$!
	LAB_PIDS+=("$!")
	say "pair $p ($ka a, $kb b, initiator $([ "$init" = 0 ] && echo a || echo b)): first handshake at ${FIRST[${p}0]}"
done

rekeyed() { # PAIR: both sides' latest handshake moved on
	local i
	for i in 0 1; do
		[ "$(hs "$1" "$i")" -gt "${FIRST[$1$i]}" ] || return 1
	done
}

for p in 1 2 3; do
	if lab_wait 150 rekeyed "$p"; then
		for i in 0 1; do
			d=$(($(hs "$p" "$i") - FIRST[$p$i]))
			[ "$d" -ge 120 ] || fail "pair $p side $i: rekey after only $d s"
		done
		say "pair $p: rekeyed after $d s"
	else
		fail "pair $p: no rekey within 150 s"
	fi
done

# Traffic after the new session: a few more echoes, then the counts.
for p in 1 2 3; do
	read -r ka kb init <<<"${KINDS[$p]}"
	on "$init" ping -c 3 -i 0.2 -W 2 "192.168.8$p.$((2 - init))" >/dev/null ||
		fail "pair $p: no ping on the new session"
	kill -INT "${PINGPID[$p]}" 2>/dev/null || true
	wait "${PINGPID[$p]}" 2>/dev/null || true
	stats=$(grep "packets transmitted" "$LAB_DIR/ping$p.log" || true)
	sent=$(echo "$stats" | awk '{print $1}')
	got=$(echo "$stats" | awk '{print $4}')
	say "pair $p: steady ping $got/$sent answered"
	if [ -z "$sent" ] || [ $((sent - got)) -gt 2 ]; then
		fail "pair $p: lost pings around the rekey ($stats)"
	fi
done
say "$failures failure(s)"
[ "$failures" = 0 ]
