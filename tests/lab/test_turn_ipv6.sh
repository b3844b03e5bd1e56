#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The TURN client over IPv6 against coturn: a dual-stack host (public IPv6,
# symmetric-NATed IPv4) and a public host each allocate an IPv6 relay
# (REQUESTED-ADDRESS-FAMILY) from coturn's IPv6 listener and exchange pings
# through the two relays for 8 s, one side over a channel.
#
#                 internet: coturn [2001:db8::1]:3478
#                    |                         |
#              nat-ds (symmetric IPv4,        pub (public,
#                      routed IPv6 LAN)        2001:db8::N)
#                    |
#                   ds (2001:db8:K::10)
set -eu
. "$(dirname "$0")/lib/lab.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TOOL=$BUILD/icemesh-turn
[ -x "$TOOL" ] || lab_die "$TOOL missing: make BUILD=... $TOOL"

lab_init
lab_nat nat-ds symmetric inet v6
lab_host ds nat-ds
lab_public pub
lab_coturn

mkfifo "$LAB_DIR/ds.in" "$LAB_DIR/pub.in"
exec {fd}<>"$LAB_DIR/ds.in" {fp}<>"$LAB_DIR/pub.in"
common=(--server "$LAB_TURN_ADDR6" --secret "$LAB_TURN_SECRET" --relay6
	--interval 100 --duration 8)
lab_bg ds "$LAB_DIR/ds.log" "$TOOL" "${common[@]}" --id lab-ds --channel <&$fd
pid_ds=$LAB_LAST_PID
lab_bg pub "$LAB_DIR/pub.log" "$TOOL" "${common[@]}" --id lab-pub <&$fp
pid_pub=$LAB_LAST_PID

relayed() { sed -n 's/^relayed \([^ ]*\) .*/\1/p' "$LAB_DIR/$1.log"; }
mapped() { sed -n 's/^relayed [^ ]* mapped \([^ ]*\) .*/\1/p' "$LAB_DIR/$1.log"; }
has_relayed() { [ -n "$(relayed "$1")" ]; }
lab_wait 5 has_relayed ds || { cat "$LAB_DIR/ds.log" >&2; lab_die "ds: no allocation"; }
lab_wait 5 has_relayed pub || { cat "$LAB_DIR/pub.log" >&2; lab_die "pub: no allocation"; }
rd=$(relayed ds)
rp=$(relayed pub)
echo "peer $rp" >&$fd
echo "peer $rd" >&$fp

rc_ds=0 rc_pub=0
lab_wait_pid 20 "$pid_ds" || rc_ds=$?
lab_wait_pid 5 "$pid_pub" || rc_pub=$?
sed 's/^/  ds: /' "$LAB_DIR/ds.log" >&2
sed 's/^/  pub: /' "$LAB_DIR/pub.log" >&2

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
stat() { sed -n "s/^summary .*\b$2=\([0-9.a-z]*\).*/\1/p" "$LAB_DIR/$1.log"; }
mostly() { [ "$1" -gt 0 ] && [ "$(($2 * 10))" -ge "$(($1 * 9))" ]; }

expect "ds exited 0" [ "$rc_ds" = 0 ]
expect "pub exited 0" [ "$rc_pub" = 0 ]
expect "relays are IPv6 on coturn ($rd, $rp)" \
	eval '[[ $rd == "[$LAB_INET6]:"* && $rp == "[$LAB_INET6]:"* ]]'
expect "ds seen from its own public IPv6 address ($(mapped ds))" \
	eval '[[ $(mapped ds) == "[${LAB_IP6[ds]}]:"* ]]'
for s in ds pub; do
	expect "$s: $(stat $s pongs_recv) of $(stat $s pings_sent) pings answered" \
		mostly "$(stat $s pings_sent)" "$(stat $s pongs_recv)"
done
expect "ds: ChannelData both ways" \
	eval '[ "$(stat ds sent_channel)" -gt 0 ] && [ "$(stat ds recv_channel)" -gt 0 ]'

[ "$failures" -eq 0 ] || lab_die "$failures IPv6 TURN checks failed"
lab_log "TURN over IPv6 against coturn: all checks passed"
