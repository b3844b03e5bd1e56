#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The NAT lab proves itself: each kind of NAT shows, from the internet, the
# mapping and filtering behaviour (RFC 4787) it is meant to have; the two
# details that make the lab behave like the real internet hold; coturn
# starts with its own config on the lab's addresses only.
#
#                         internet (203.0.113.0/24, 2001:db8::/64)
#                         coturn 203.0.113.1:3478, black-hole default route
#   +---------+-----------+-----------+-----------+------------+----------+
#   |         |           |           |           |            |          |
#  refl      refl2       pub      nat-fc       nat-pr       nat-sy      cgn (restricted)
#  (reflector (reflector (public)  full cone   port-restr.  symmetric     |
#   :3000-2)   :3000)               |           |            |         home (restricted)
#                                  fc          pr  pr2       sy            |
#                                                                         deep
#                                              nat-ds: symmetric IPv4, public IPv6 LAN
#                                                |
#                                               ds
set -eu
. "$(dirname "$0")/lib/lab.sh"
PROBE="python3 $LAB_LIB/udpprobe.py"

lab_init
lab_public refl
lab_public refl2
lab_public pub
lab_nat nat-fc fullcone
lab_host fc nat-fc
lab_nat nat-pr restricted
lab_host pr nat-pr
lab_host pr2 nat-pr
lab_nat nat-sy symmetric
lab_host sy nat-sy
lab_nat cgn restricted
lab_nat home restricted cgn
lab_host deep home
lab_nat nat-ds symmetric inet v6
lab_host ds nat-ds
lab_coturn

R=${LAB_IP4[refl]}
R6=${LAB_IP6[refl]}
R2=${LAB_IP4[refl2]}
R26=${LAB_IP6[refl2]}
lab_bg refl "$LAB_DIR/refl.log" $PROBE reflect "$R:3000" "$R:3001" "$R:3002" \
	"[$R6]:3000" "[$R6]:3001" "[$R6]:3002"
lab_bg refl2 "$LAB_DIR/refl2.log" $PROBE reflect "$R2:3000" "[$R26]:3000"
lab_wait 5 sh -c "ip netns exec $(lab_ns refl) ss -Hlun | grep -q '\[$R6\]:3002'" ||
	lab_die "reflector did not start"
lab_wait 5 sh -c "ip netns exec $(lab_ns refl2) ss -Hlun | grep -q '\[$R26\]:3000'" ||
	lab_die "reflector 2 did not start"

failures=0
check() { # HOST FAMILY EXPECTED-MAPPING EXPECTED-FILTERING EXPECTED-MAPPED-IP
	local host=$1 fam=$2 map=$3 filt=$4 ip=$5 out args
	if [ "$fam" = 6 ]; then
		args=(--primary "[$R6]:3000" --secondary "[$R6]:3001" --fresh 2
			--alt "[$R26]:3000")
		[ "$map" = none ] && args+=(--local "${LAB_IP6[$host]}")
	else
		args=(--primary "$R:3000" --secondary "$R:3001" --fresh 2
			--alt "$R2:3000")
		[ "$map" = none ] && args+=(--local "${LAB_IP4[$host]}")
	fi
	out=$(lab_exec "$host" timeout 10 $PROBE natcheck "${args[@]}") || out="probe failed"
	case "$out" in
	"mapped=$ip:"*" mapping=$map filtering=$filt" | "mapped=[$ip]:"*" mapping=$map filtering=$filt")
		lab_log "ok   $host/v$fam: $out" ;;
	*)
		lab_log "FAIL $host/v$fam: got '$out', want mapped=$ip mapping=$map filtering=$filt"
		failures=$((failures + 1)) ;;
	esac
}

check pub 4 none none "${LAB_IP4[pub]}"
check pub 6 none none "${LAB_IP6[pub]}"
check fc 4 endpoint-independent endpoint-independent "${LAB_IP4[nat-fc]}"
check pr 4 endpoint-independent address+port-dependent "${LAB_IP4[nat-pr]}"
check pr2 4 endpoint-independent address+port-dependent "${LAB_IP4[nat-pr]}"
check sy 4 dependent address+port-dependent "${LAB_IP4[nat-sy]}"
check deep 4 endpoint-independent address+port-dependent "${LAB_IP4[cgn]}"
check ds 4 dependent address+port-dependent "${LAB_IP4[nat-ds]}"
check ds 6 none none "${LAB_IP6[ds]}"

# The black hole: from the internet, a send to an address nobody has
# succeeds (and goes nowhere) rather than failing as unreachable.
if lab_exec inet $PROBE send 10.200.0.1:9 x && lab_exec inet $PROBE send "[2001:db8:77::1]:9" x; then
	lab_log "ok   internet swallows packets for unknown addresses"
else
	lab_log "FAIL internet refuses packets for unknown addresses"
	failures=$((failures + 1))
fi

# A NAT router drops unsolicited packets to itself (its input drop rule
# counts them) rather than letting them create conntrack state.
input_drops() {
	lab_exec nat-pr nft list chain inet labfilter input |
		sed -n 's/.*ct state new counter packets \([0-9]*\).*/\1/p'
}
drops_above() { [ "$(input_drops)" -gt "$1" ]; }
before=$(input_drops)
lab_exec refl $PROBE send "${LAB_IP4[nat-pr]}:40000" unsolicited
if lab_wait 2 drops_above "$before"; then
	lab_log "ok   NAT router drops unsolicited packets to itself ($(input_drops) dropped)"
else
	lab_log "FAIL NAT router did not drop an unsolicited packet"
	failures=$((failures + 1))
fi

# lab_block breaks a path (here pr's to the reflector) and lab_unblock
# mends it, while other paths stay up.
natcheck_ok() { lab_exec "$1" timeout 5 $PROBE natcheck --primary "$R:3000" \
	--secondary "$R:3001" --fresh 2 --alt "$R2:3000" --timeout 0.5; }
lab_block pr "$R"
if ! natcheck_ok pr >/dev/null 2>&1 && natcheck_ok pr2 >/dev/null; then
	lab_unblock pr
	if natcheck_ok pr >/dev/null; then
		lab_log "ok   lab_block / lab_unblock break and mend one path"
	else
		lab_log "FAIL path still broken after lab_unblock"
		failures=$((failures + 1))
	fi
else
	lab_log "FAIL lab_block did not break exactly the blocked path"
	failures=$((failures + 1))
fi

# lab_cross joins two programs in two namespaces by their standard streams.
lab_cross pr "$LAB_DIR/x1" sy "$LAB_DIR/x2" \
	-- sh -c 'echo from-pr; read -r l; echo "pr got $l" >&2' \
	-- sh -c 'echo from-sy; read -r l; echo "sy got $l" >&2'
x1=${LAB_CROSS_PIDS[0]} x2=${LAB_CROSS_PIDS[1]}
if lab_wait_pid 5 "$x1" && lab_wait_pid 5 "$x2" &&
	grep -qx "pr got from-sy" "$LAB_DIR/x1.err" &&
	grep -qx "sy got from-pr" "$LAB_DIR/x2.err" &&
	grep -qx from-pr "$LAB_DIR/x1"; then
	lab_log "ok   lab_cross joins two programs both ways"
else
	lab_log "FAIL lab_cross: $(cat "$LAB_DIR"/x1* "$LAB_DIR"/x2* 2>&1 | tr '\n' ' ')"
	failures=$((failures + 1))
fi

# coturn listens on the lab's addresses and nowhere else.
others=$(lab_exec inet ss -Hlnu -Hlnt | grep -v -e "$LAB_INET4:3478" -e "\[$LAB_INET6\]:3478" -e "$R" || true)
if [ -z "$others" ]; then
	lab_log "ok   coturn listens only on $LAB_TURN_ADDR and $LAB_TURN_ADDR6"
else
	lab_log "FAIL unexpected listeners in the internet namespace: $others"
	failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || lab_die "$failures NAT lab checks failed"
lab_log "NAT lab: all checks passed"
