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
#     tunnel 192.168.78.1  ==== UDP ====     tunnel 192.168.78.2
#     ul0 10.98.0.1/24 (MTU 1500) ========== ul1 10.98.0.2/24
#     br0 10.97.0.1/24 (MTU 1420) ========== br1 10.97.0.2/24   (bare)
#
# and prints each figure and icemesh's ratios to wireguard-go and the veth.
#
#   tests/bench/wg_bench.sh [SECONDS] [ROUNDS]
#
# SECONDS per iperf3 run (default 5); ROUNDS: each configuration is measured
# this many times, interleaved, and the best run kept (default 2), so that a
# moment of load from elsewhere on the machine does not decide the result.
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

IFN=("bmA${LAB_ID:0:11}" "bmB${LAB_ID:0:11}")
PIDS=(0 0)
declare -A TPUT=() RTT=()

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

start_pair() { # KIND
	local i o side
	for i in 0 1; do
		side=$([ "$i" = 0 ] && echo a || echo b)
		if [ "$1" = icemesh ]; then
			# shellcheck disable=SC2086
			lab_bg "$side" "$LAB_DIR/$1$i.log" "$ICEMESHD" --wireguard-only \
				--interface "${IFN[$i]}" --foreground ${ICEMESHD_ARGS:-}
		else
			WG_PROCESS_FOREGROUND=1 lab_bg "$side" "$LAB_DIR/$1$i.log" \
				wireguard-go "${IFN[$i]}"
		fi
		PIDS[$i]=$LAB_LAST_PID
	done
	for i in 0 1; do
		o=$((1 - i))
		lab_wait 10 on "$i" wg show "${IFN[$i]}" || lab_die "$1 did not start"
		on "$i" wg set "${IFN[$i]}" private-key "$LAB_DIR/key$i" \
			listen-port $((51820 + i)) peer "$(cat "$LAB_DIR/pub$o")" \
			allowed-ips "192.168.78.$((o + 1))/32" \
			endpoint "10.98.0.$((o + 1)):$((51820 + o))"
		on "$i" ip link set "${IFN[$i]}" mtu 1420 up
		on "$i" ip addr add "192.168.78.$((i + 1))/24" dev "${IFN[$i]}"
	done
	lab_wait 10 on 0 ping -c 1 -W 1 192.168.78.2 || lab_die "$1: no path through the tunnel"
}

stop_pair() {
	for i in 0 1; do
		kill -TERM "${PIDS[$i]}" 2>/dev/null || true
		lab_wait_pid 10 "${PIDS[$i]}" || true
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

# 100 pings 10 ms apart; prints the median RTT in microseconds (the median,
# not the mean: a shared machine adds rare long stalls that are not ours).
measure_rtt() { # DST_IP
	on 0 ping -c 100 -i 0.01 -W 1 "$1" | python3 -c '
import re, statistics, sys
t = [float(m.group(1)) for m in re.finditer(r"time=([0-9.]+) ms", sys.stdin.read())]
print("%.0f" % (statistics.median(t) * 1000) if len(t) >= 90 else "lost")'
}

keep_best() { # KIND TPUT RTT
	if [ -z "${TPUT[$1]:-}" ] || [ "$2" -gt "${TPUT[$1]}" ]; then TPUT[$1]=$2; fi
	[ "$3" != lost ] || lab_die "$1: more than 10 of 100 pings lost"
	if [ -z "${RTT[$1]:-}" ] || [ "$3" -lt "${RTT[$1]}" ]; then RTT[$1]=$3; fi
}

run_kind() { # KIND
	local t r
	if [ "$1" = bare ]; then
		t=$(measure_tput 10.97.0.2)
		r=$(measure_rtt 10.97.0.2)
	else
		start_pair "$1"
		t=$(measure_tput 192.168.78.2)
		r=$(measure_rtt 192.168.78.2)
		stop_pair
	fi
	printf '  round %d %-8s %7s Mbit/s  rtt %5s us\n' "$round" "$1" "$t" "$r"
	keep_best "$1" "$t" "$r"
}

setup
echo "wg_bench: iperf3 -t $SECS, single stream, tunnel MTU 1420; best of $ROUNDS"
for round in $(seq 1 "$ROUNDS"); do
	for kind in bare wggo icemesh; do
		run_kind "$kind"
	done
done
grep -h "up:" "$LAB_DIR"/icemesh0.log | sed 's/^.*icemeshd: /  icemeshd: /' | head -1 || true
for i in 0 1; do # the last round's counters, as each side logged them at exit
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
