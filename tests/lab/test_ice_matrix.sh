#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemesh-ice pairwise over the NAT matrix, with coturn as STUN and TURN
# server (REST secret) for both sides. Asserted, from each side's own view
# of its selected pair:
#   - a direct pair (host, srflx or prflx on both ends) for every pair but
#     port-restricted<->symmetric and symmetric<->symmetric (and the NAT
#     behind a port-restricted NAT <-> symmetric, the same case);
#   - the relay in exactly those;
#   - the dual-stack pair (IPv4 symmetric, IPv6 public) direct over IPv6;
#   - N datagrams each way delivered and acknowledged on every pair.
# Each run prints the time from process start to selected pair and to the
# first datagram (informational: the 0.3 s target is for
# tests/bench/ice_bench.sh, not a pass/fail here).
#
# A relayed session (pr2<->sy2) is held 25 s over 10 s coturn allocations
# and 4 s nonces: consent holds through the relay while both TURN clients
# refresh (>= 2 times) and recover from 438 (>= 2 times).
#
# Without the relay, port-restricted<->symmetric must fail: both sides
# give up at their timeout (exit 1) and say why on stderr.
#
# Consent freshness (RFC 7675), in parallel on hosts of its own: a session
# between cpub and cpr selects a direct pair and holds it; then all UDP of
# cpr is dropped (nftables) and the controlling side must report the loss
# of consent within the RFC's 30 s (plus 2 s for polling on a loaded
# machine), and not before 20 s (consent checks run every 5 s +-20 %, so
# the last answer came at most ~6 s before the break).
#
#                     internet (203.0.113.0/24, 2001:db8::/64)
#                     coturn 203.0.113.1:3478 (STUN + TURN, REST secret)
#   pub  cpub  nfc   npr    npr3  ncpr  nsy  nsy2  cgn     nds      nds2
#               |    / \     |     |     |    |     |       |(v6)    |(v6)
#              fc  pr  pr2  pr3   cpr   sy   sy2  home     ds       ds2
#                                                   |
#                                                  deep
set -eu
. "$(dirname "$0")/lib/lab.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
ICE=$BUILD/icemesh-ice
[ -x "$ICE" ] || lab_die "$ICE missing (build it first)"

lab_init
lab_public pub
lab_public cpub
lab_nat nfc fullcone
lab_host fc nfc
lab_nat npr restricted
lab_host pr npr
lab_host pr2 npr
lab_nat npr3 restricted
lab_host pr3 npr3
lab_nat ncpr restricted
lab_host cpr ncpr
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
# Short allocations and nonces for the held relayed session below; the
# matrix's own sessions last well under a second and never see them.
lab_coturn --stale-nonce=4 --max-allocate-lifetime=10

failures=0
fail() {
	lab_log "FAIL: $*"
	failures=$((failures + 1))
}

# The last "selected" line's local type of a side: its own view of its end.
local_type() { # LOG
	grep '^selected ' "$1" | tail -n 1 | sed -E 's/^selected local=([a-z]+) .*/\1/'
}

ms_of() { # WHAT LOGERR
	grep -m1 -o "$1 after [0-9]*" "$2" | grep -o '[0-9]*$' || echo '?'
}

# --- consent: started first, it runs alongside the matrix --------------
cargs=(--stun "$LAB_TURN_ADDR" --timeout 15 --count 5 --hold 90)
lab_cross cpub "$LAB_DIR/consent.a" cpr "$LAB_DIR/consent.b" \
	-- "$ICE" --controlling "${cargs[@]}" -- "$ICE" --controlled "${cargs[@]}"
CONSENT_PIDS=("${LAB_CROSS_PIDS[@]}")
consent_t0=

consent_break() {
	if ! lab_wait 20 grep -q '^ok ' "$LAB_DIR/consent.a"; then
		fail "consent: no session before the break"
		tail -n 20 "$LAB_DIR/consent.a.err" "$LAB_DIR/consent.b.err" >&2
		return
	fi
	kill -0 "${CONSENT_PIDS[0]}" 2>/dev/null ||
		{ fail "consent: session ended before the break"; return; }
	[ "$(local_type "$LAB_DIR/consent.a")" != relay ] ||
		fail "consent: the session is relayed, want a direct path"
	consent_t0=$(date +%s%N)
	lab_block cpr
	lab_log "consent: all UDP of cpr dropped"
}

consent_check() {
	local s=0 ms
	[ -n "$consent_t0" ] || return 0
	lab_wait_pid 45 "${CONSENT_PIDS[0]}" || s=$?
	ms=$((($(date +%s%N) - consent_t0) / 1000000))
	if ! grep -q 'consent lost after' "$LAB_DIR/consent.a.err"; then
		fail "consent: no loss reported (exit $s, $ms ms after the break)"
		tail -n 20 "$LAB_DIR/consent.a.err" >&2
		return
	fi
	[ "$s" = 1 ] || fail "consent: exit $s, want 1"
	[ "$ms" -le 32000 ] || fail "consent: reported $ms ms after the break (bound 30 s)"
	[ "$ms" -ge 20000 ] || fail "consent: reported $ms ms after the break: too early"
	lab_log "consent lost, reported $ms ms after the path was broken" \
		"($(grep -m1 -o 'consent lost after.*' "$LAB_DIR/consent.a.err"))"
}

# --- no path: port-restricted <-> symmetric without the relay ----------
# Both must give up at their timeout, exit 1, and say why on stderr.
nargs=(--stun "$LAB_TURN_ADDR" --timeout 5 --count 5)
lab_cross pr "$LAB_DIR/nopath.a" sy "$LAB_DIR/nopath.b" \
	-- "$ICE" --controlling "${nargs[@]}" -- "$ICE" --controlled "${nargs[@]}"
NOPATH_PIDS=("${LAB_CROSS_PIDS[@]}")

nopath_check() {
	local s1=0 s2=0 f
	lab_wait_pid 20 "${NOPATH_PIDS[0]}" || s1=$?
	lab_wait_pid 10 "${NOPATH_PIDS[1]}" || s2=$?
	[ "$s1" = 1 ] && [ "$s2" = 1 ] ||
		fail "no path: exit $s1/$s2, want 1/1"
	for f in "$LAB_DIR/nopath.a" "$LAB_DIR/nopath.b"; do
		! grep -q '^selected ' "$f" || fail "no path: $(basename "$f") selected a pair"
		grep -q 'icemesh-ice: no pair selected within 5 s' "$f.err" ||
			fail "no path: $(basename "$f") did not say why"
		grep -q 'srflx' "$f.err" ||
			fail "no path: $(basename "$f") did not report its checks"
	done
	lab_log "no path: both gave up and said why:"
	sed -n '/no pair selected/,$p' "$LAB_DIR/nopath.a.err" | head -n 8 >&2
}

# --- a relayed session held over several allocation lifetimes ----------
# pr2 (port-restricted) <-> sy2 (symmetric) goes through the relay; held
# 25 s after its data. coturn caps every grant at 10 s
# (max-allocate-lifetime; asking for more than its 600 s default is what
# makes it cap a Refresh too, see docs/turn.md), so each TURN client
# refreshes every 7.5 s and, its nonce stale after 4 s, meets a 438 each
# time. Consent (every ~5 s) must keep flowing through the relay.
hargs=(--stun "$LAB_TURN_ADDR" --turn "$LAB_TURN_ADDR" --turn-secret "$LAB_TURN_SECRET"
	--turn-lifetime 3600 --timeout 15 --count 5 --hold 25)
lab_cross pr2 "$LAB_DIR/held.a" sy2 "$LAB_DIR/held.b" \
	-- "$ICE" --controlling "${hargs[@]}" -- "$ICE" --controlled "${hargs[@]}"
HELD_PIDS=("${LAB_CROSS_PIDS[@]}")

turn_stat() { # NAME LOGERR
	grep -m1 -o "turn .*" "$2" | grep -o " $1=[0-9]*" | grep -o '[0-9]*$' || echo 0
}

held_check() {
	local s1=0 s2=0 f
	lab_wait_pid 45 "${HELD_PIDS[0]}" || s1=$?
	lab_wait_pid 10 "${HELD_PIDS[1]}" || s2=$?
	if [ "$s1" != 0 ] || [ "$s2" != 0 ]; then
		fail "held relay: exit $s1/$s2"
		tail -n 10 "$LAB_DIR/held.a.err" "$LAB_DIR/held.b.err" >&2
		return
	fi
	[ "$(local_type "$LAB_DIR/held.a")" = relay ] || [ "$(local_type "$LAB_DIR/held.b")" = relay ] ||
		fail "held relay: not relayed"
	for f in "$LAB_DIR/held.a.err" "$LAB_DIR/held.b.err"; do
		! grep -q 'consent lost' "$f" || fail "held relay: consent lost ($f)"
		[ "$(turn_stat refreshes "$f")" -ge 2 ] ||
			fail "held relay: $(turn_stat refreshes "$f") refreshes in $(basename "$f")"
		[ "$(turn_stat stale_nonces "$f")" -ge 2 ] ||
			fail "held relay: no 438 recovered from in $(basename "$f")"
		lab_log "held relay: $(grep -m1 -o 'turn refreshes.*' "$f")"
	done
}

# --- the matrix ---------------------------------------------------------
# A B WANT(direct|relay|v6) [ROLES]: one session, checked. ROLES "tie"
# gives neither side a role (the ICE tie-breaker decides); by default A is
# controlling.
run() {
	local a=$1 b=$2 want=$3 roles=${4:-} s1=0 s2=0 la lb log sel
	local args=(--stun "$LAB_TURN_ADDR" --turn "$LAB_TURN_ADDR"
		--turn-secret "$LAB_TURN_SECRET" --timeout 15 --count 5)
	local ra=(--controlling) rb=(--controlled)
	[ "$roles" = tie ] && ra=() rb=()
	log=$LAB_DIR/$a-$b
	lab_cross "$a" "$log.a" "$b" "$log.b" \
		-- "$ICE" ${ra[@]+"${ra[@]}"} "${args[@]}" \
		-- "$ICE" ${rb[@]+"${rb[@]}"} "${args[@]}"
	lab_wait_pid 30 "${LAB_CROSS_PIDS[0]}" || s1=$?
	lab_wait_pid 10 "${LAB_CROSS_PIDS[1]}" || s2=$?
	if [ "$s1" != 0 ] || [ "$s2" != 0 ]; then
		fail "$a-$b: exit $s1/$s2"
		tail -n 20 "$log.a.err" "$log.b.err" >&2
		return
	fi
	grep -q '^ok sent=5 received=5$' "$log.a" || fail "$a-$b: no ok line from $a"
	grep -q '^ok sent=5 received=5$' "$log.b" || fail "$a-$b: no ok line from $b"
	la=$(local_type "$log.a")
	lb=$(local_type "$log.b")
	sel=$(grep '^selected ' "$log.a" | tail -n 1)
	case $want in
	relay) [ "$la" = relay ] || [ "$lb" = relay ] ||
		fail "$a-$b: want the relay, got $la/$lb ($sel)" ;;
	direct) { [ "$la" != relay ] && [ "$lb" != relay ]; } ||
		fail "$a-$b: want a direct pair, got $la/$lb ($sel)" ;;
	v6) { [ "$la" != relay ] && [ "$lb" != relay ] &&
		grep -q 'local=[a-z]* \[' <<<"$sel"; } ||
		fail "$a-$b: want a direct IPv6 pair, got $la/$lb ($sel)" ;;
	esac
	printf '%-5s %-5s %-6s %-6s want %-6s selected %4s/%4s ms  first datagram %4s/%4s ms  %s\n' \
		"$a" "$b" "$la" "$lb" "$want" \
		"$(ms_of selected "$log.a.err")" "$(ms_of selected "$log.b.err")" \
		"$(ms_of datagram "$log.a.err")" "$(ms_of datagram "$log.b.err")" \
		"$(grep -m1 -o 'memory=[0-9]* bytes' "$log.a.err" || true)" >&2
}

consent_break

run pub fc direct
run pub pr direct
run pub sy direct
run fc pr direct
run fc sy direct
run pr pr3 direct
run pr pr2 direct # two hosts behind one NAT
run deep pr3 direct # NAT behind NAT
run pr sy relay
run sy sy2 relay
run deep sy relay # the outer NAT is port-restricted
run ds ds2 v6     # IPv6 public, IPv4 symmetric on both
run pub pr3 direct tie # no roles given: the tie-breaker decides

nopath_check
held_check
consent_check

[ "$failures" = 0 ] || lab_die "$failures failure(s)"
lab_log "ICE matrix: every pair as expected; consent loss reported in time"
