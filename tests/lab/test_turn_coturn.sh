#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The TURN client (ice/turn.c, through build/icemesh-turn) against a real
# coturn: two hosts behind NATs that defeat direct paths each allocate a
# relay with TURN REST API credentials and exchange numbered pings and
# pongs through the two relays, one side over a bound channel (ChannelData),
# the other with Send/Data indications. coturn runs with short lifetimes
# (allocation 10 s, permission 8 s, channel 12 s) and nonces that go stale
# after 4 s, for 40 s: the allocations, permissions and channels must be
# refreshed again and again, every 438 recovered from, and data must keep
# flowing the whole time. At the end both allocations are deallocated.
#
#                 internet: coturn 203.0.113.1:3478
#                 (--stale-nonce=4, max-allocate-lifetime 10 s,
#                  permission-lifetime 8 s, channel-lifetime 12 s)
#                    |                          |
#              nat-a (symmetric)        nat-b (port-restricted)
#                    |                          |
#                    a                          b
#   icemesh-turn --channel               icemesh-turn
#   (ChannelData both ways)              (Send / Data indications)
set -eu
. "$(dirname "$0")/lib/lab.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TOOL=$BUILD/icemesh-turn
[ -x "$TOOL" ] || lab_die "$TOOL missing: make BUILD=... $TOOL"
DURATION=40

lab_init
lab_nat nat-a symmetric
lab_host a nat-a
lab_nat nat-b restricted
lab_host b nat-b
lab_coturn --stale-nonce=4 --max-allocate-lifetime=10 \
	--permission-lifetime=8 --channel-lifetime=12 --verbose

# Each tool reads "peer IP:PORT" lines from a FIFO that this script holds
# open read-write, so neither side ever blocks on opening it.
mkfifo "$LAB_DIR/a.in" "$LAB_DIR/b.in"
exec {fa}<>"$LAB_DIR/a.in" {fb}<>"$LAB_DIR/b.in"
common=(--server "$LAB_TURN_ADDR" --secret "$LAB_TURN_SECRET"
	--lifetime 3600 --permission-refresh 5000 --channel-refresh 8000
	--interval 100 --duration "$DURATION")
lab_bg a "$LAB_DIR/a.log" "$TOOL" "${common[@]}" --id lab-a --channel <&$fa
pid_a=$LAB_LAST_PID
lab_bg b "$LAB_DIR/b.log" "$TOOL" "${common[@]}" --id lab-b <&$fb
pid_b=$LAB_LAST_PID

relayed() { sed -n 's/^relayed \([^ ]*\) .*/\1/p' "$LAB_DIR/$1.log"; }
has_relayed() { [ -n "$(relayed "$1")" ]; }
lab_wait 5 has_relayed a || { cat "$LAB_DIR/a.log" >&2; lab_die "a: no allocation"; }
lab_wait 5 has_relayed b || { cat "$LAB_DIR/b.log" >&2; lab_die "b: no allocation"; }
ra=$(relayed a)
rb=$(relayed b)
lab_log "relays: a $ra (mapped $(sed -n 's/.* mapped \([^ ]*\) .*/\1/p' "$LAB_DIR/a.log")), b $rb"
echo "peer $rb" >&$fa
echo "peer $ra" >&$fb

rc_a=0 rc_b=0
lab_wait_pid $((DURATION + 20)) "$pid_a" || rc_a=$?
lab_wait_pid 10 "$pid_b" || rc_b=$?
sed 's/^/  a: /' "$LAB_DIR/a.log" >&2
sed 's/^/  b: /' "$LAB_DIR/b.log" >&2

failures=0
expect() { # DESCRIPTION CONDITION...
	local what=$1
	shift
	if "$@"; then
		lab_log "ok   $what"
	else
		lab_log "FAIL $what"
		failures=$((failures + 1))
	fi
}
stat() { # SIDE KEY
	sed -n "s/^summary .*\b$2=\([0-9.a-z]*\).*/\1/p" "$LAB_DIR/$1.log"
}
ge() { [ "${1:-0}" -ge "$2" ]; }
# At least 90% of the pings answered: a lapsed permission or channel, or
# an allocation lost to a stale nonce, would cost far more than that.
mostly() { [ "$(($2 * 10))" -ge "$(($1 * 9))" ] && [ "$1" -gt 0 ]; }

expect "a exited 0 (allocation alive to the end, then deallocated)" [ "$rc_a" = 0 ]
expect "b exited 0 (allocation alive to the end, then deallocated)" [ "$rc_b" = 0 ]
for s in a b; do
	expect "$s: closed" [ "$(stat $s state)" = closed ]
	expect "$s: >= 3 allocation refreshes ($(stat $s refreshes))" ge "$(stat $s refreshes)" 3
	expect "$s: >= 5 permission refreshes ($(stat $s permission_refreshes))" ge "$(stat $s permission_refreshes)" 5
	expect "$s: 438 recovered from ($(stat $s stale_nonces) times)" ge "$(stat $s stale_nonces)" 3
	expect "$s: $(stat $s pongs_recv) of $(stat $s pings_sent) pings answered" mostly "$(stat $s pings_sent)" "$(stat $s pongs_recv)"
done
expect "a: >= 3 channel refreshes ($(stat a channel_refreshes))" ge "$(stat a channel_refreshes)" 3
expect "a: sends ChannelData ($(stat a sent_channel))" ge "$(stat a sent_channel)" 100
expect "a: receives ChannelData ($(stat a recv_channel))" ge "$(stat a recv_channel)" 100
expect "b: sends Send indications ($(stat b sent_indication))" ge "$(stat b sent_indication)" 100
expect "b: receives Data indications ($(stat b recv_indication))" ge "$(stat b recv_indication)" 100
log=$(lab_coturn_log)
expect "coturn answered 438 ($(grep -c 'error 438' "$log") times)" ge "$(grep -c 'error 438' "$log")" 6
expect "coturn saw both deallocations" ge "$(grep -c 'refreshed.*lifetime=0' "$log")" 2

[ "$failures" -eq 0 ] || lab_die "$failures TURN checks failed"
lab_log "TURN against coturn: all checks passed"
