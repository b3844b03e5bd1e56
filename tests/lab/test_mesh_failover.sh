#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Path changes under traffic. A TCP transfer runs from a to b over the
# overlay on a direct path; the direct path is cut in the middle of it
# (UDP between a and b's NAT dropped, the relay still reachable): traffic
# must move to the TURN relay and the transfer complete. Restoring the
# path must move it back to direct. A ping every 50 ms through the overlay
# measures the interruptions, which are printed. Then b's underlay
# address changes (a new DHCP lease, say): its tunnels must recover.
#
#                   internet 203.0.113.0/24
#        coturn + icemesh-coord on 203.0.113.1 (namespace "inet")
#             +-----------------+------------------+
#             |                                    |
#          nat-a (full cone)                  nat-b (port-restricted)
#             |                                    |
#             a  ==== TCP (iperf3), ping ====>     b
#
# shellcheck disable=SC2119 # lab functions whose arguments are optional
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/lab.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/mesh.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
command -v iperf3 >/dev/null || lab_die "iperf3 missing"

lab_init
mesh_init
lab_coturn
lab_nat nat-a fullcone
lab_host a nat-a
lab_nat nat-b restricted
lab_host b nat-b
mesh_coord_init
mesh_coord_start
mesh_node_start a
mesh_node_start b
mesh_parallel mesh_up a b || lab_die "icemesh up failed"
for n in a b; do
	st=$(mesh_status "$n")
	MESH_IP4[$n]=$(mesh_json self.ipv4 <<<"$st")
done
mesh_wait_peers 20 a b || lab_die "a never saw b in its map"
mesh_wait_peers 20 b a || lab_die "b never saw a in its map"
mesh_wait_ping 30 a "${MESH_IP4[b]}" || lab_die "a cannot reach b"
mesh_wait_path 30 a b direct || lab_die "a-b never went direct"

failures=0
expect() { # DESCRIPTION CMD...
	local what=$1
	shift
	if "$@"; then
		lab_log "ok   $what"
	else
		lab_log "FAIL $what"
		failures=$((failures + 1))
	fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# The longest gap between two echo replies with timestamps in [FROM, TO]
# (ms since the epoch), from ping -D output: the interruption.
max_gap() { # LOG FROM TO
	sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\)[0-9]*\] .*icmp_seq=.*/\1\2/p' "$1" |
		awk -v from="$2" -v to="$3" '
			$1 >= from - 1000 && $1 <= to + 1000 { if (prev && $1 - prev > gap) gap = $1 - prev; prev = $1 }
			END { print gap + 0 }'
}

lab_bg b "$LAB_DIR/iperf-s.log" iperf3 -s -1 -B "${MESH_IP4[b]}"
listening() { lab_exec b ss -Hltn "sport = :5201" | grep -q .; }
lab_wait 5 listening || lab_die "iperf3 server did not start"
lab_bg a "$LAB_DIR/ping.log" ping -D -n -i 0.05 -W 1 "${MESH_IP4[b]}"
pingpid=$LAB_LAST_PID
# 60 s at 4 Mbit/s: long enough for both path changes, each bounded below.
lab_bg a "$LAB_DIR/iperf-c.json" iperf3 -c "${MESH_IP4[b]}" -t 60 -b 4M -J
iperfpid=$LAB_LAST_PID
flowing() { lab_exec a ss -Htn state established "dst = ${MESH_IP4[b]}:5201" | grep -q .; }
lab_wait 5 flowing || lab_die "the transfer did not start"

t_cut=$(now_ms)
lab_block a "${LAB_IP4[nat-b]}"
expect "cutting the direct path moves a-b to the relay" mesh_wait_path 45 a b relay
t_relay=$(now_ms)
expect "b sees the relay too" mesh_wait_path 10 b a relay
expect "and packets flow on it" mesh_wait_ping 10 a "${MESH_IP4[b]}"
gap1=$(max_gap "$LAB_DIR/ping.log" "$t_cut" "$(now_ms)")
lab_log "direct -> relay: on the relay $((t_relay - t_cut)) ms after the cut, longest interruption $gap1 ms"

t_restore=$(now_ms)
lab_unblock a
expect "restoring the path moves a-b back to direct" mesh_wait_path 45 a b direct
t_direct=$(now_ms)
expect "b sees direct too" mesh_wait_path 10 b a direct
expect "and packets flow on it" mesh_wait_ping 10 a "${MESH_IP4[b]}"
gap2=$(max_gap "$LAB_DIR/ping.log" "$t_restore" "$(now_ms)")
lab_log "relay -> direct: direct again $((t_direct - t_restore)) ms after the restore, longest interruption $gap2 ms"

expect "the transfer was still running through both changes" kill -0 "$iperfpid"
rc=0
lab_wait_pid 90 "$iperfpid" || rc=$?
read -r sent rcvd < <(python3 -c 'import json,sys
e = json.load(open(sys.argv[1]))["end"]
print(e["sum_sent"]["bytes"], e["sum_received"]["bytes"])' "$LAB_DIR/iperf-c.json" 2>/dev/null || echo "0 -1")
expect "the TCP transfer completed (iperf3 exit $rc, $sent bytes sent, $rcvd received)" \
	bash -c "[ $rc -eq 0 ] && [ $sent -gt 0 ] && [ $sent -eq $rcvd ]"

# A new underlay address for b: ICE restarts, the tunnel recovers.
t_move=$(now_ms)
mesh_renumber b
expect "after b's address change a reaches b again" mesh_wait_ping 60 a "${MESH_IP4[b]}"
t_back=$(now_ms)
expect "and b reaches a" mesh_wait_ping 10 b "${MESH_IP4[a]}"
expect "on a direct path again" mesh_wait_path 45 a b direct
gap3=$(max_gap "$LAB_DIR/ping.log" "$t_move" "$(now_ms)")
lab_log "address change: a reached b again after $((t_back - t_move)) ms, longest interruption $gap3 ms"
kill "$pingpid" 2>/dev/null || true

printf 'interruptions: direct->relay %s ms, relay->direct %s ms, address change %s ms\n' \
	"$gap1" "$gap2" "$gap3"
[ "$failures" -eq 0 ] || lab_die "$failures check(s) failed"
lab_log "passed"
