#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# icemeshd's control socket as a real daemon serves it: malformed requests
# are refused with the codes and words of docs/control.md and the daemon
# stays up; a non-root user outside the socket's group cannot use it and
# is told why, a member of the group can; the CLI's exit codes for a node
# not up, a bad auth key and a coordinator that fails its pin.
#
#                   internet 203.0.113.0/24
#        coturn + icemesh-coord on 203.0.113.1 (namespace "inet")
#                            |
#                          nat-a (port-restricted)
#                            |
#                            a  icemeshd, control socket in $LAB_DIR
#
# shellcheck disable=SC2119 # lab functions whose arguments are optional
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/lab.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib/mesh.sh"
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
command -v setpriv >/dev/null || lab_die "setpriv missing (util-linux)"

lab_init
mesh_init
lab_coturn
lab_nat nat-a restricted
lab_host a nat-a
mesh_coord_init
mesh_coord_start
mesh_node_start a
sock=$(mesh_sock a)

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

# One raw line to the socket, the first answer line back ("" if closed).
raw() { # LINE
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
print(buf.decode().strip())' "$sock" "$1"
}
refused() { # LINE CODE WORDS : the answer's error code, and words in its message
	local ans
	ans=$(raw "$1")
	lab_log "  ${1:0:60}$([ ${#1} -le 60 ] || echo "... (${#1} bytes)") -> $ans"
	[ "$(mesh_json ok error.code <<<"$ans" | paste -sd ' ')" = "false $2" ] &&
		[[ $(mesh_json error.message <<<"$ans") == *"$3"* ]]
}
expect "not JSON: bad-request" refused 'hello' bad-request ''
id_null() { # an error about a request whose id cannot be read has "id":null
	local ans
	ans=$(raw '{"cmd":"status"}')
	[ "$(python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(d.get("id", "absent"), d["ok"], d["error"]["code"])' "$ans")" = "None False bad-request" ]
}
expect "no id: bad-request with id null" id_null
expect "unknown top-level field: bad-request naming it" refused '{"id":3,"cmd":"status","extra":1}' bad-request extra
expect "unknown command: unknown-command" refused '{"id":4,"cmd":"fly"}' unknown-command ''
expect "count out of range: bad-argument naming args.count" \
	refused '{"id":5,"cmd":"ping","args":{"peer":"x","count":0}}' bad-argument args.count
expect "wrong type: bad-argument" refused '{"id":6,"cmd":"ping","args":{"peer":7}}' bad-argument args.peer
expect "a bad URL for up: bad-argument" \
	refused '{"id":7,"cmd":"up","args":{"coordinator":"ftp://x","auth_key":"k"}}' bad-argument coordinator
long=$(printf '{"id":8,"cmd":"status","pad":"%09000d"}' 0)
expect "a request line over 8 KiB: line-too-long" refused "$long" line-too-long ''
expect "the daemon is still up and answers" mesh_alive a

# Who may use the socket: its mode and group decide (the directories on
# the way are open to all, see mesh_node_start).
mode=$(stat -c %a "$sock")
gid=$(stat -c %g "$sock")
expect "the socket is mode 660 (is $mode)" [ "$mode" = 660 ]
as_nobody() { setpriv --reuid 65534 --regid 65534 "$@" "$MESH_CLI" --socket "$sock" status; }
rc=0; err=$(as_nobody --clear-groups 2>&1 >/dev/null) || rc=$?
expect "a non-root user outside the group: exit 4, got $rc" [ "$rc" -eq 4 ]
expect "and told what to do (${err%%$'\n'*})" grep -qi group <<<"$err"
rc=0; as_nobody --groups "$gid" >/dev/null 2>&1 || rc=$?
expect "the same user in the socket's group ($gid) may use it: exit $rc" [ "$rc" -eq 0 ]

# The CLI's exit codes against the real daemon.
rc=0; mesh_ctl a ping nobody -c 1 >/dev/null 2>&1 || rc=$?
expect "ping before up: exit 9 (not-up), got $rc" [ "$rc" -eq 9 ]
rc=0; mesh_ctl a up --coordinator "$MESH_URL" --auth-key imk_nosuchkey \
	--coordinator-pin "$MESH_PIN" >/dev/null 2>&1 || rc=$?
expect "up with a bad auth key: exit 7, got $rc" [ "$rc" -eq 7 ]
rc=0; mesh_ctl a up --coordinator "$MESH_URL" --auth-key "$(mesh_authkey)" \
	--coordinator-pin sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= >/dev/null 2>&1 || rc=$?
expect "up with a wrong pin: exit 6 (coordinator-unreachable), got $rc" [ "$rc" -eq 6 ]
expect "up with a good key works" mesh_up a

[ "$failures" -eq 0 ] || lab_die "$failures check(s) failed"
lab_log "passed"
