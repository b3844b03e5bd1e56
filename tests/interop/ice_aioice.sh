#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemesh-ice against aioice (Debian package python3-aioice), another ICE
# implementation, in the NAT lab (tests/lab/lib/lab.sh) with coturn as STUN
# and TURN server. aioice_peer.py speaks icemesh-ice's lines and data
# exchange, so each case is one lab_cross of the two programs. Asserted for
# every case: both exit 0, both print "ok sent=5 received=5" (five
# datagrams each way, acknowledged), and icemesh-ice's own end of the
# selected pair is direct or relayed as the case expects.
#
# Cases: "ICEHOST:AIOHOST:ICEROLE:AIOROLE:WANT" (WANT direct|relay|any).
# "any" where aioice controls between two port-restricted NATs: it
# nominates the first pair that works, often the relay while the direct
# holes are still being punched, and only the controlling side may move
# the session (icemesh-ice, controlling, moves it; see docs/ice.md). Every
# role combination between two public hosts (both controlling and both
# controlled force a role conflict, RFC 8445 §7.3.1.1, resolved across the
# two implementations), then across NATs. Run as root; by hand with
# CASES="pr:sy:controlling:controlled:relay" to pick cases, BUILD to pick
# the build directory. tests/lab/test_ice_interop.sh runs it in make check.
#
#                 internet (203.0.113.0/24), coturn 203.0.113.1:3478
#   pub1  pub2   nfc    npr    npr3   nsy
#                 |      |      |      |
#                fc     pr     pr3    sy
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lab/lib/lab.sh"
BUILD=${BUILD:-$(cd "$HERE/../.." && pwd)/build}
ICE=$BUILD/icemesh-ice
PEER=(/usr/bin/python3 "$HERE/aioice_peer.py")
[ -x "$ICE" ] || lab_die "$ICE missing (build it first)"
/usr/bin/python3 -c 'import aioice' 2>/dev/null ||
	lab_die "python3-aioice missing (Debian package python3-aioice)"

ROLES="pub1:pub2:controlling:controlled:direct pub1:pub2:controlled:controlling:direct
pub1:pub2:controlling:controlling:direct pub1:pub2:controlled:controlled:direct"
NATS="pub1:pr:controlling:controlled:direct pr:pub2:controlling:controlled:direct
pr:pr3:controlling:controlled:direct pr3:pr:controlled:controlling:any
fc:sy:controlling:controlled:direct sy:fc:controlling:controlled:direct
pr:sy:controlling:controlled:relay sy:pr:controlled:controlling:relay"
CASES=${CASES:-$ROLES $NATS}

lab_init
lab_public pub1
lab_public pub2
lab_nat nfc fullcone
lab_host fc nfc
lab_nat npr restricted
lab_host pr npr
lab_nat npr3 restricted
lab_host pr3 npr3
lab_nat nsy symmetric
lab_host sy nsy
lab_coturn

failures=0
fail() {
	lab_log "FAIL: $*"
	failures=$((failures + 1))
}

declare -A PID_ICE=() PID_AIO=()
start() { # CASE
	local c=$1 ih ah ir ar want log
	IFS=: read -r ih ah ir ar want <<<"$c"
	log=$LAB_DIR/$ih-$ah-$ir-$ar
	lab_cross "$ih" "$log.ice" "$ah" "$log.aio" \
		-- "$ICE" "--$ir" --stun "$LAB_TURN_ADDR" --turn "$LAB_TURN_ADDR" \
		--turn-secret "$LAB_TURN_SECRET" --count 5 --timeout 20 \
		-- "${PEER[@]}" "$ar" --count 5 --stun "$LAB_TURN_ADDR" \
		--turn "$LAB_TURN_ADDR" --turn-secret "$LAB_TURN_SECRET" --timeout 20
	PID_ICE[$c]=${LAB_CROSS_PIDS[0]}
	PID_AIO[$c]=${LAB_CROSS_PIDS[1]}
}

check() { # CASE
	local c=$1 ih ah ir ar want log s1=0 s2=0 lt
	IFS=: read -r ih ah ir ar want <<<"$c"
	log=$LAB_DIR/$ih-$ah-$ir-$ar
	lab_wait_pid 30 "${PID_ICE[$c]}" || s1=$?
	lab_wait_pid 30 "${PID_AIO[$c]}" || s2=$?
	if [ "$s1" != 0 ] || [ "$s2" != 0 ]; then
		fail "$c: exit icemesh-ice $s1, aioice $s2"
		tail -n 15 "$log.ice.err" "$log.aio.err" >&2
		return
	fi
	grep -q '^ok sent=5 received=5$' "$log.ice" || fail "$c: icemesh-ice has no ok line"
	grep -q '^ok sent=5 received=5$' "$log.aio" || fail "$c: aioice has no ok line"
	lt=$(sed -nE 's/^selected local=([a-z]+) .*/\1/p' "$log.ice" | tail -n 1)
	case $want in
	relay) [ "$lt" = relay ] || grep -q 'connected (local=relay' "$log.aio.err" ||
		fail "$c: want the relay, got icemesh-ice local=$lt" ;;
	direct) { [ "$lt" != relay ] && ! grep -q 'connected (local=relay' "$log.aio.err"; } ||
		fail "$c: want a direct pair, got icemesh-ice local=$lt" ;;
	any) [ -n "$lt" ] || fail "$c: icemesh-ice printed no selected pair" ;;
	esac
	printf '%-4s %-4s icemesh-ice %-11s aioice %-11s | %s | %s | %s\n' \
		"$ih" "$ah" "$ir" "$ar" \
		"$(grep '^selected ' "$log.ice" | tail -n 1)" \
		"$(grep -m1 -o 'selected after [0-9]* ms' "$log.ice.err" || echo '-')" \
		"$(grep -m1 -o 'connected (.*) after [0-9]* ms' "$log.aio.err" || echo '-')" >&2
}

# Four at a time: quick, and gentle enough on a loaded two-core machine.
batch=()
run_batch() {
	local c
	for c in "${batch[@]}"; do start "$c"; done
	for c in "${batch[@]}"; do check "$c"; done
	batch=()
}
for c in $CASES; do
	batch+=("$c")
	[ "${#batch[@]}" -lt 4 ] || run_batch
done
[ "${#batch[@]}" = 0 ] || run_batch

[ "$failures" = 0 ] || lab_die "$failures interop case(s) failed"
lab_log "interop with aioice: every case as expected"
