#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemesh-coord across the lab's internet: a node behind a NAT registers
# over pinned TLS, reads its network map, and allocates TURN relays on a
# real coturn with the credentials the map gave it (coturn's REST scheme,
# checked by coturn itself). A tampered password is refused by coturn, and
# a wrong pin by the TLS handshake.
#
#            internet 203.0.113.0/24
#      coturn 203.0.113.1:3478          coord (public): icemesh-coord
#      (use-auth-secret)                serve, TLS on :8443
#                  \                      /
#                   +------ bridge ------+
#                              |
#                      nat-a (restricted)
#                              |
#                              a: curl --pinnedpubkey, turnutils_uclient
set -eu
. "$(dirname "$0")/lib/lab.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
COORD=$BUILD/icemesh-coord
[ -x "$COORD" ] || lab_die "$COORD missing: make BUILD=... $COORD"
for t in curl turnutils_uclient; do
	command -v "$t" >/dev/null || lab_die "$t missing"
done

lab_init
lab_coturn
lab_public coord
lab_nat nat-a restricted
lab_host a nat-a

state=$LAB_DIR/coord-state
"$COORD" init --state-dir "$state" --turn "$LAB_TURN_ADDR" \
	--stun "$LAB_TURN_ADDR" --turn-secret "$LAB_TURN_SECRET" \
	>"$LAB_DIR/init.log" 2>&1 || { cat "$LAB_DIR/init.log" >&2; lab_die "init failed"; }
key=$("$COORD" authkey create --state-dir "$state" 2>/dev/null)
lab_bg coord "$LAB_DIR/coord.log" "$COORD" serve --state-dir "$state" \
	--listen "${LAB_IP4[coord]}:8443"
pin=$(cat "$state/tls.pin")
url=https://${LAB_IP4[coord]}:8443

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
from_a() { lab_exec a curl -sS --max-time 10 -k --pinnedpubkey "$pin" "$@"; }
healthy() { from_a -o /dev/null "$url/v1/health" 2>/dev/null; }
lab_wait 5 healthy || { cat "$LAB_DIR/coord.log" >&2; lab_die "icemesh-coord not reachable from a"; }

expect "a wrong pin fails the TLS handshake" \
	bash -c "! ip netns exec $(lab_ns a) curl -sS --max-time 5 -k \
		--pinnedpubkey sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
		$url/v1/health 2>/dev/null"

# The server's JSON is compact, one object per answer: a field whose name
# occurs once is cut out with sed (no JSON tool needed in the lab).
str_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
int_field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

nk=$(head -c 32 /dev/urandom | base64)
reg=$(from_a -H 'Content-Type: application/json' \
	-d "{\"auth_key\":\"$key\",\"node_key\":\"$nk\",\"hostname\":\"a\"}" \
	"$url/v1/register")
cred=$(str_field credential <<<"$reg")
id=$(int_field id <<<"$reg")
expect "registered through the NAT (id $id)" [ "$(str_field name <<<"$reg")" = a ]
map=$(from_a -H "Authorization: Bearer $cred" "$url/v1/netmap")
user=$(str_field username <<<"$map")
pass=$(str_field password <<<"$map")
server=$(sed -n 's/.*"turn":{"servers":\["\([^"]*\)".*/\1/p' <<<"$map")
now=$(date +%s)
expect "map names the lab's coturn" [ "$server" = "$LAB_TURN_ADDR" ]
expect "TURN username is EXPIRY:$id, expiry in the future" \
	bash -c "[[ '$user' =~ ^[0-9]+:$id\$ ]] && [ '${user%%:*}' -gt $now ]"

# Two relays on coturn (client-to-client), data between them through the
# relays: allocation, permissions and channels all need the credentials.
uclient() { # PASSWORD LOG
	lab_exec a timeout 30 turnutils_uclient -y -n 10 -m 1 -l 100 \
		-u "$user" -w "$1" -p 3478 "$LAB_INET4" >"$2" 2>&1
}
rc=0
uclient "$pass" "$LAB_DIR/uclient-ok.log" || rc=$?
sed 's/^/  uclient: /' "$LAB_DIR/uclient-ok.log" | tail -n 12 >&2
expect "coturn accepts the map's credentials (uclient exit $rc)" [ "$rc" -eq 0 ]
expect "relayed data arrived, none lost" bash -c "grep -q 'tot_recv_msgs=[1-9]' '$LAB_DIR/uclient-ok.log' && grep -q 'Total lost packets 0 ' '$LAB_DIR/uclient-ok.log'"

rc=0
uclient "x$pass" "$LAB_DIR/uclient-bad.log" || rc=$?
expect "coturn refuses a tampered password" \
	grep -q 'Cannot complete Allocation' "$LAB_DIR/uclient-bad.log"

[ "$failures" -eq 0 ] || lab_die "$failures check(s) failed"
lab_log "passed"
