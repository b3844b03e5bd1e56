#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A node that crashes and comes back on the same UDP port finds coturn still
# holding its old allocation for that 5-tuple, and every Allocate answered
# 437 until it expires (10 minutes by default). The TURN client deletes the
# old allocation (Refresh with LIFETIME 0) and allocates again.
#
#              internet: coturn 203.0.113.1:3478
#                    |
#              nat-a (port-restricted: keeps the port)
#                    |
#                    a: icemesh-turn --port 40000, killed, then again
set -eu
. "$(dirname "$0")/lib/lab.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TOOL=$BUILD/icemesh-turn
[ -x "$TOOL" ] || lab_die "$TOOL missing: make BUILD=... $TOOL"

lab_init
lab_nat nat-a restricted
lab_host a nat-a
lab_coturn --verbose
args=(--server "$LAB_TURN_ADDR" --secret "$LAB_TURN_SECRET" --port 40000)

lab_bg a "$LAB_DIR/first.log" "$TOOL" "${args[@]}" --duration 60 </dev/null
first=$LAB_LAST_PID
lab_wait 5 grep -q '^relayed' "$LAB_DIR/first.log" || lab_die "first allocation failed"
kill -9 "$first" # no deallocation: coturn keeps the allocation
lab_wait_pid 5 "$first" 2>/dev/null || true

rc=0
lab_exec a timeout 20 "$TOOL" "${args[@]}" --duration 5 >"$LAB_DIR/second.log" 2>&1 </dev/null || rc=$?
sed 's/^/  second: /' "$LAB_DIR/second.log" >&2
log=$(lab_coturn_log)
[ "$rc" = 0 ] || lab_die "the restarted client did not get an allocation (exit $rc)"
grep -q 'error 437' "$log" || lab_die "coturn never answered 437: the old allocation was not in the way"
grep -q '^relayed' "$LAB_DIR/second.log" || lab_die "no relayed address the second time"
lab_log "restart on the same port: old allocation deleted, new one made"
