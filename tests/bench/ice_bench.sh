#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ICE connection-time benchmark over the NAT lab (tests/lab/lib/lab.sh,
# coturn as STUN and TURN server, REST secret, both sides with --stun and
# --turn). For each pair of the matrix, RUNS sessions of icemesh-ice, one
# at a time; per pair it prints, from process start (both processes are
# started together and exchange descriptions through pipes):
#   - the time to the selected pair (the later of the two sides),
#   - the time to the first datagram delivered (the later of the two),
#   as median and worst over the runs,
#   - the selected pair's types, the agent's own memory (ice_stats.memory)
#     and the whole process's peak RSS (GNU time, "-" without it),
# and whether every run of the pair selected within the target, 0.3 s.
#
#   sudo tests/bench/ice_bench.sh [RUNS] [BUILD]      (defaults: 5, build-bench)
#
# Not part of make check: timings on a shared machine are figures, not
# pass/fail. Needs root (network namespaces), coturn, nftables.
set -eu
RUNS=${1:-5}
BUILD=${2:-build-bench}
TARGET_MS=300
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. tests/lab/lib/lab.sh
make --no-print-directory BUILD="$BUILD" -j2 "$BUILD/icemesh-ice" >/dev/null
ICE=$(cd "$BUILD" && pwd)/icemesh-ice
# Peak RSS through GNU time (Debian package time) when it is there.
WRAP=()
[ -x /usr/bin/time ] && WRAP=(/usr/bin/time -f 'maxrss_kb=%M' -o)

lab_init
lab_public pub
lab_nat nfc fullcone
lab_host fc nfc
lab_nat npr restricted
lab_host pr npr
lab_host pr2 npr
lab_nat npr3 restricted
lab_host pr3 npr3
lab_nat nsy symmetric
lab_host sy nsy
lab_nat nsy2 symmetric
lab_host sy2 nsy2
lab_nat cgn restricted
lab_nat home restricted cgn
lab_host deep home
lab_nat nds symmetric inet v6
lab_host ds nds
lab_nat nds2 symmetric inet v6
lab_host ds2 nds2
lab_coturn

num() { # WHAT FILE: the number after "WHAT after"
	grep -m1 -o "$1 after [0-9]*" "$2" | grep -o '[0-9]*$'
}
max() { if [ "$1" -ge "$2" ]; then echo "$1"; else echo "$2"; fi; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
worst() { tr ' ' '\n' | grep . | sort -n | tail -n 1; }

all_ok=1
printf '%-24s %-14s %9s %9s %9s %9s %8s %9s  %s\n' pair path sel_med sel_max \
	data_med data_max agent_B rss_kB "target 0.3 s"
bench() { # A B LABEL
	local a=$1 b=$2 label=$3 r log sels="" datas="" path="" s1 s2 sa sb da db
	local mem="" rss=0 bad=0 args=(--stun "$LAB_TURN_ADDR" --turn "$LAB_TURN_ADDR"
		--turn-secret "$LAB_TURN_SECRET" --timeout 15 --count 5)
	for r in $(seq "$RUNS"); do
		log=$LAB_DIR/$a-$b-$r
		lab_cross "$a" "$log.a" "$b" "$log.b" \
			-- ${WRAP[@]+"${WRAP[@]}" "$log.a.time"} "$ICE" --controlling "${args[@]}" \
			-- ${WRAP[@]+"${WRAP[@]}" "$log.b.time"} "$ICE" --controlled "${args[@]}"
		s1=0
		s2=0
		lab_wait_pid 30 "${LAB_CROSS_PIDS[0]}" || s1=$?
		lab_wait_pid 10 "${LAB_CROSS_PIDS[1]}" || s2=$?
		if [ "$s1" != 0 ] || [ "$s2" != 0 ]; then
			lab_log "$label run $r: exit $s1/$s2"
			tail -n 5 "$log.a.err" "$log.b.err" >&2
			bad=1
			continue
		fi
		sa=$(num selected "$log.a.err")
		sb=$(num selected "$log.b.err")
		da=$(num 'first datagram' "$log.a.err")
		db=$(num 'first datagram' "$log.b.err")
		sels+=" $(max "$sa" "$sb")"
		datas+=" $(max "$da" "$db")"
		path=$(sed -nE 's/^selected local=([a-z]+) .* remote=([a-z]+) .*/\1-\2/p' "$log.a" | tail -n 1)
		mem=$(grep -m1 -o 'memory=[0-9]*' "$log.a.err" | grep -o '[0-9]*$')
		for f in "$log.a.time" "$log.b.time"; do
			[ -f "$f" ] || { rss=-; continue; }
			rss=$(max "$rss" "$(grep -o 'maxrss_kb=[0-9]*' "$f" | grep -o '[0-9]*$')")
		done
	done
	local verdict=meets
	if [ "$bad" = 1 ] || [ -z "$sels" ]; then
		verdict="FAILED RUNS"
	elif [ "$(worst <<<"$sels")" -gt "$TARGET_MS" ]; then
		verdict="misses"
	fi
	[ "$verdict" = meets ] || all_ok=0
	printf '%-24s %-14s %6s ms %6s ms %6s ms %6s ms %8s %9s  %s\n' "$label" "$path" \
		"$(median <<<"$sels")" "$(worst <<<"$sels")" \
		"$(median <<<"$datas")" "$(worst <<<"$datas")" "$mem" "$rss" "$verdict"
}

bench pub fc "public-fullcone"
bench pub pr "public-restricted"
bench pub sy "public-symmetric"
bench fc pr "fullcone-restricted"
bench fc sy "fullcone-symmetric"
bench pr pr3 "restricted-restricted"
bench pr pr2 "same NAT"
bench deep pr3 "CGN-restricted"
bench pr sy "restricted-symmetric"
bench sy sy2 "symmetric-symmetric"
bench deep sy "CGN-symmetric"
bench ds ds2 "dual-stack (IPv6)"

if [ "$all_ok" = 1 ]; then
	echo "every pair selected within $TARGET_MS ms in each of $RUNS runs"
else
	echo "NOT every pair selected within $TARGET_MS ms in each of $RUNS runs"
fi
