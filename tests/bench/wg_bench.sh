#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Data-plane benchmark (not part of `make check`): single-stream TCP
# throughput (iperf3) and ping RTT between two namespaces of this run,
#
#   bare     the veth itself, MTU 1420
#   wggo     wireguard-go <-> wireguard-go, tunnel MTU 1420
#   icemesh  icemeshd <-> icemeshd (--wireguard-only), tunnel MTU 1420
#
#   netns iml<id>-a                          netns iml<id>-b
#   [iperf3 -c, ping]                        [iperf3 -s]
#     wireguard-go 192.168.78.1 == UDP ===== wireguard-go 192.168.78.2
#     icemeshd     192.168.79.1 == UDP ===== icemeshd     192.168.79.2
#     ul0 10.98.0.1/24 (MTU 1500) ========== ul1 10.98.0.2/24
#     br0 10.97.0.1/24 (MTU 1420) ========== br1 10.97.0.2/24   (bare)
#
# and prints each figure and icemesh's ratios to wireguard-go and the veth.
#
#   tests/bench/wg_bench.sh [SECONDS] [ROUNDS]
#
# SECONDS per iperf3 run (default 5); ROUNDS: each configuration's
# throughput is measured this many times, interleaved, and the best run kept
# (default 2), so that a moment of load from elsewhere on the machine does
# not decide the result. RTT: the three paths take turns in chunks of 20
# pings, 200 each; the median is printed.
# Environment: BUILD (where icemeshd is), ICEMESHD_ARGS (extra options).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
ICEMESHD=$BUILD/icemeshd
SECS=${1:-5}
ROUNDS=${2:-2}
# shellcheck source=../lab/lib/lab.sh
. "$top/tests/lab/lib/lab.sh"
trap lab_cleanup EXIT INT TERM

[ "$(id -u)" = 0 ] || lab_die "needs root (network namespaces)"
[ -x "$ICEMESHD" ] || lab_die "no $ICEMESHD: build it first (tests/bench/run-wg.sh)"
for c in iperf3 wireguard-go wg ping python3; do
	command -v "$c" >/dev/null || lab_die "$c missing"
done

declare -A TPUT=() RTT=() DST=([bare]=10.97.0.2 [wggo]=192.168.78.2 [icemesh]=192.168.79.2)
declare -A NET=([wggo]=78 [icemesh]=79) PORT=([wggo]=51820 [icemesh]=51830)
declare -A PIDS=()

on() { lab_exec "$([ "$1" = 0 ] && echo a || echo b)" "${@:2}"; }

setup() {
	umask 077
	LAB_DIR=$(mktemp -d /tmp/icemesh-bench.XXXXXX)
	lab_mkns a 0
	lab_mkns b 0
	ip -n "$(lab_ns a)" link add name ul0 type veth peer name ul1 netns "$(lab_ns b)"
	ip -n "$(lab_ns a)" link add name br0 mtu 1420 type veth peer name br1 mtu 1420 \
		netns "$(lab_ns b)"
	for i in 0 1; do
		on "$i" ip link set "ul$i" up
		on "$i" ip addr add "10.98.0.$((i + 1))/24" dev "ul$i"
		on "$i" ip link set "br$i" up
		on "$i" ip addr add "10.97.0.$((i + 1))/24" dev "br$i"
		wg genkey >"$LAB_DIR/key$i"
		wg pubkey <"$LAB_DIR/key$i" >"$LAB_DIR/pub$i"
	done
}

# Both implementations run side by side for the whole benchmark, each with
# its own interfaces, ports and tunnel subnet; an idle one costs nothing.
start_pair() { # KIND
	local i o side ifn k=$1 port=${PORT[$1]} net=${NET[$1]}
	for i in 0 1; do
		side=$([ "$i" = 0 ] && echo a || echo b)
		ifn="b${k:0:1}$side${LAB_ID:0:10}"
		if [ "$k" = icemesh ]; then
			# shellcheck disable=SC2086
			lab_bg "$side" "$LAB_DIR/$k$i.log" "$ICEMESHD" --wireguard-only \
				--interface "$ifn" --foreground ${ICEMESHD_ARGS:-}
		else
			WG_PROCESS_FOREGROUND=1 lab_bg "$side" "$LAB_DIR/$k$i.log" wireguard-go "$ifn"
		fi
		PIDS[$k$i]=$LAB_LAST_PID
	done
	for i in 0 1; do
		o=$((1 - i))
		side=$([ "$i" = 0 ] && echo a || echo b)
		ifn="b${k:0:1}$side${LAB_ID:0:10}"
		lab_wait 10 on "$i" wg show "$ifn" || lab_die "$k did not start"
		on "$i" wg set "$ifn" private-key "$LAB_DIR/key$i" \
			listen-port $((port + i)) peer "$(cat "$LAB_DIR/pub$o")" \
			allowed-ips "192.168.$net.$((o + 1))/32" \
			endpoint "10.98.0.$((o + 1)):$((port + o))"
		on "$i" ip link set "$ifn" mtu 1420 up
		on "$i" ip addr add "192.168.$net.$((i + 1))/24" dev "$ifn"
	done
	lab_wait 10 on 0 ping -c 1 -W 1 "192.168.$net.2" || lab_die "$k: no path through the tunnel"
}

stop_pair() { # KIND
	for i in 0 1; do
		kill -TERM "${PIDS[$1$i]}" 2>/dev/null || true
		lab_wait_pid 10 "${PIDS[$1$i]}" || true
	done
}

# iperf3 from a to b; prints Mbit/s received.
measure_tput() { # DST_IP
	local port=$((5201 + RANDOM % 500)) pid mbps
	on 1 iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
	pid=$!
	lab_wait 5 on 1 sh -c "ss -ltn | grep -q ':$port '" || lab_die "iperf3 server"
	on 0 timeout $((SECS + 15)) iperf3 -c "$1" -p "$port" -t "$SECS" -J >"$LAB_DIR/iperf.json" ||
		lab_die "iperf3 to $1 failed"
	wait "$pid" || true
	mbps=$(python3 -c 'import json,sys
print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' \
		"$LAB_DIR/iperf.json")
	echo "$mbps"
}

# RTT: 10 chunks of 20 pings (10 ms apart) per path, the paths taking turns,
# so that load from elsewhere on the machine falls on all of them alike;
# the median of each path's 200 samples, in microseconds.
measure_rtts() {
	local k
	for _ in $(seq 1 10); do
		for k in bare wggo icemesh; do
			on 0 ping -c 20 -i 0.01 -W 1 "${DST[$k]}" |
				sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' >>"$LAB_DIR/rtt.$k"
		done
	done
	for k in bare wggo icemesh; do
		RTT[$k]=$(python3 -c '
import statistics, sys
t = [float(x) for x in open(sys.argv[1])]
print("%.0f" % (statistics.median(t) * 1000) if len(t) >= 180 else "lost")' "$LAB_DIR/rtt.$k")
		[ "${RTT[$k]}" != lost ] || lab_die "$k: more than 10% of the pings lost"
	done
}

setup
start_pair wggo
start_pair icemesh
echo "wg_bench: iperf3 -t $SECS, single stream, tunnel MTU 1420; best of $ROUNDS"
for round in $(seq 1 "$ROUNDS"); do
	for kind in bare wggo icemesh; do
		t=$(measure_tput "${DST[$kind]}")
		printf '  round %d %-8s %7s Mbit/s\n' "$round" "$kind" "$t"
		if [ -z "${TPUT[$kind]:-}" ] || [ "$t" -gt "${TPUT[$kind]}" ]; then
			TPUT[$kind]=$t
		fi
	done
done
measure_rtts
stop_pair icemesh
stop_pair wggo
grep -h "up:" "$LAB_DIR"/icemesh0.log | sed 's/^.*icemeshd: /  icemeshd: /' | head -1 || true
for i in 0 1; do # the counters each side logged at exit
	grep -h "tun in" "$LAB_DIR/icemesh$i.log" | tail -1 | sed "s/^.*dp: /  side $i: /" || true
done
echo
printf '%-10s %12s %12s\n' "" "Mbit/s" "RTT us"
for kind in bare wggo icemesh; do
	printf '%-10s %12s %12s\n' "$kind" "${TPUT[$kind]}" "${RTT[$kind]}"
done
python3 - "${TPUT[icemesh]}" "${TPUT[wggo]}" "${TPUT[bare]}" \
	"${RTT[icemesh]}" "${RTT[wggo]}" "${RTT[bare]}" <<'EOF'
import sys
ti, tw, tb, ri, rw, rb = map(float, sys.argv[1:])
print()
print("throughput icemesh/wireguard-go %.2f   icemesh/veth %.2f   wireguard-go/veth %.2f"
      % (ti / tw, ti / tb, tw / tb))
print("rtt        icemesh/wireguard-go %.2f   icemesh/veth %.2f   wireguard-go/veth %.2f"
      % (ri / rw, ri / rb, rw / rb))
ok = ti >= tw and ri <= rw
print("target (throughput ratio >= 1.0, RTT no worse): %s" % ("met" if ok else "NOT met"))
EOF
