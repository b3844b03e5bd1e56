#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Relay to direct (renomination) in the lab. Two hosts behind two
# port-restricted NATs, which can reach each other directly; but at first
# pr drops all UDP to and from pr3's NAT, so the only path is coturn's
# relay and the session selects it. Once data flows over the relay the
# block is lifted: both sides must move to a direct pair (a second
# "selected" line, neither end relayed) while the data exchange (a few
# seconds of datagrams every 5 ms) goes on, and every datagram must still
# be delivered and acknowledged each way, none of them only by a resend
# (no gap in delivery). Prints the time from the lifting of the block to
# the move.
#
#                 internet (203.0.113.0/24)
#                 coturn 203.0.113.1:3478 (STUN + TURN, REST secret)
#                  npr                      npr3
#                   |                        |
#                   pr  (drops UDP to/from   pr3
#                        npr3 until lifted)
set -eu
. "$(dirname "$0")/lib/lab.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
ICE=$BUILD/icemesh-ice
[ -x "$ICE" ] || lab_die "$ICE missing (build it first)"
COUNT=1500 # 7.5 s of datagrams, so the move happens while they flow

lab_init
lab_nat npr restricted
lab_host pr npr
lab_nat npr3 restricted
lab_host pr3 npr3
lab_coturn
lab_block pr "${LAB_IP4[npr3]}"

A=$LAB_DIR/a
B=$LAB_DIR/b
args=(--stun "$LAB_TURN_ADDR" --turn "$LAB_TURN_ADDR" --turn-secret "$LAB_TURN_SECRET"
	--timeout 40 --count "$COUNT")
lab_cross pr "$A" pr3 "$B" -- "$ICE" --controlling "${args[@]}" \
	-- "$ICE" --controlled "${args[@]}"

local_types() { # LOG: the local type of each "selected" line, space-separated
	sed -nE 's/^selected local=([a-z]+) .*/\1/p' "$1" | tr '\n' ' '
}

lab_wait 15 grep -q 'first datagram after' "$A.err" ||
	{ tail -n 20 "$A.err" "$B.err" >&2; lab_die "no data over the first pair"; }
first=$(grep -m1 '^selected ' "$A")
lab_log "first pair: $first"
case "$(local_types "$A")/$(local_types "$B")" in
*relay*) ;;
*) lab_die "want the relay while the direct path is blocked, got: $first" ;;
esac
grep -q '^ok ' "$A" && lab_die "the exchange ended before the block was lifted"

t0=$(date +%s%N)
lab_unblock pr
moved() {
	[ "$(grep -c '^selected ' "$A")" -ge 2 ] && [ "$(grep -c '^selected ' "$B")" -ge 2 ]
}
lab_wait 20 moved ||
	{ tail -n 20 "$A.err" "$B.err" >&2; lab_die "no move to a direct pair within 20 s"; }
ms=$((($(date +%s%N) - t0) / 1000000))
lab_log "moved about $ms ms after the block was lifted:"
grep -h '^selected ' "$A" "$B" >&2
grep -h 'pair changed after' "$A.err" "$B.err" >&2
for log in "$A" "$B"; do
	last=$(local_types "$log" | awk '{ print $NF }')
	[ "$last" != relay ] || lab_die "$(basename "$log"): still relayed after the move"
done
grep -q '^ok ' "$A" && lab_log "note: the exchange had already ended when both had moved"

s1=0
s2=0
lab_wait_pid 40 "${LAB_CROSS_PIDS[0]}" || s1=$?
lab_wait_pid 10 "${LAB_CROSS_PIDS[1]}" || s2=$?
[ "$s1" = 0 ] && [ "$s2" = 0 ] ||
	{ tail -n 20 "$A.err" "$B.err" >&2; lab_die "exit $s1/$s2"; }
grep -q "^ok sent=$COUNT received=$COUNT\$" "$A" || lab_die "pr: not every datagram delivered"
grep -q "^ok sent=$COUNT received=$COUNT\$" "$B" || lab_die "pr3: not every datagram delivered"
# No gap: nothing had to be resent to arrive (the lab loses nothing, so a
# datagram missing on the first pass went down with the change of pair).
for log in "$A" "$B"; do
	grep -q "icemesh-ice: 0 of $COUNT datagrams arrived only when resent" "$log.err" ||
		lab_die "$(basename "$log"): a gap in delivery: $(grep -h 'arrived only when resent' "$log.err")"
done
lab_log "relay to direct: moved, and all $COUNT datagrams went each way"
