#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The lab's NAT matrix, proven without ICE: for each pair of NAT kinds, two
# hosts learn their mapped addresses from a reflector, swap them, and punch
# (udpprobe.py punch: send to the peer's mapped address and to wherever the
# peer's datagrams come from, no port prediction). ARCHITECTURE.md's
# expected outcome must come out: a direct path between every pair except
# port-restricted<->symmetric and symmetric<->symmetric. So when the ICE
# matrix disagrees, the agent is to blame, not the lab.
#
#                          internet (203.0.113.0/24, 2001:db8::/64)
#     refl    pub1 pub2   nfc1 nfc2   npr1 npr2   nsy1 nsy2   cgn     nds (v6)
#  (reflector)             |    |      |    |      |    |      |       |
#                         fc1  fc2    pr1  pr2    sy1  sy2    home     ds
#                                                              |
#                                                             deep
set -eu
. "$(dirname "$0")/lib/lab.sh"
PROBE="python3 $LAB_LIB/udpprobe.py"

lab_init
lab_public refl
lab_public pub1
lab_public pub2
for i in 1 2; do
	lab_nat nfc$i fullcone
	lab_host fc$i nfc$i
	lab_nat npr$i restricted
	lab_host pr$i npr$i
	lab_nat nsy$i symmetric
	lab_host sy$i nsy$i
done
lab_nat cgn restricted
lab_nat home restricted cgn
lab_host deep home
lab_nat nds symmetric inet v6
lab_host ds nds

R=${LAB_IP4[refl]}
R6=${LAB_IP6[refl]}
lab_bg refl "$LAB_DIR/refl.log" $PROBE reflect "$R:3000" "[$R6]:3000"
lab_wait 5 sh -c "ip netns exec $(lab_ns refl) ss -Hlun | grep -q '\[$R6\]:3000'" ||
	lab_die "reflector did not start"

failures=0
# punch A B EXPECT(ok|fail) [6]
punch() {
	local a=$1 b=$2 want=$3 v=${4:-4} refl=$R:3000 tag pa pb ra=0 rb=0 got
	[ "$v" = 6 ] && refl="[$R6]:3000"
	tag="$LAB_DIR/punch-$a-$b-$v"
	lab_bg "$a" "$tag.a" $PROBE punch --reflector "$refl" --out "$tag.ma" \
		--in "$tag.mb" --timeout 2
	pa=$LAB_LAST_PID
	lab_bg "$b" "$tag.b" $PROBE punch --reflector "$refl" --out "$tag.mb" \
		--in "$tag.ma" --timeout 2
	pb=$LAB_LAST_PID
	lab_wait_pid 6 "$pa" || ra=$?
	lab_wait_pid 6 "$pb" || rb=$?
	if [ "$ra" = 0 ] && [ "$rb" = 0 ]; then got=ok; else got=fail; fi
	if [ "$got" = "$want" ]; then
		lab_log "ok   $a <-> $b (v$v): $got, as expected. $a: $(cat "$tag.a") | $b: $(cat "$tag.b")"
	else
		lab_log "FAIL $a <-> $b (v$v): $got, expected $want. $a: $(cat "$tag.a") | $b: $(cat "$tag.b")"
		failures=$((failures + 1))
	fi
}

punch pub1 pub2 ok
punch pub1 fc2 ok
punch pub1 pr2 ok
punch pub1 sy2 ok
punch fc1 fc2 ok
punch fc1 pr2 ok
punch fc1 sy2 ok
punch pr1 pr2 ok
punch pr1 sy2 fail
punch sy1 sy2 fail
punch deep pr2 ok   # NAT behind NAT
punch deep sy2 fail # the outer NAT is port-restricted
punch ds pub2 ok 6  # dual-stack: IPv6 is public
punch ds pr2 fail   # ... while its IPv4 is symmetric

[ "$failures" -eq 0 ] || lab_die "$failures NAT matrix pairs came out wrong"
lab_log "NAT matrix: as ARCHITECTURE.md expects"
