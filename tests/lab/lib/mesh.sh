# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# icemesh nodes in the NAT lab: the coordinator on the lab's "internet",
# icemeshd in node namespaces, the icemesh CLI against each of them, and
# bounded waits on what `icemesh --json status` says. Source it after
# lab.sh; docs/demo.md documents every function.
#
#   mesh_init                      check the programs; $BUILD must be set
#   mesh_coord_init [ARG...]       icemesh-coord init: STUN/TURN = the lab's
#                                  coturn, its REST secret; sets MESH_PIN
#   mesh_coord_start / _stop       serve on 203.0.113.1:8443 in "inet"
#   mesh_authkey [ARG...]          a new auth key (stdout)
#   mesh_coord ARG...              icemesh-coord ARG... --state-dir (admin)
#   mesh_api NAME CURL-ARG...      curl from NAME to the coordinator (pinned)
#   mesh_fake_register NAME KEY HOSTNAME   a registration without a daemon
#   mesh_node_start NAME [ARG...]  icemeshd in NAME, state in $LAB_DIR/node/NAME
#   mesh_node_stop NAME            SIGTERM, bounded wait
#   mesh_ctl NAME ARG...           icemesh --socket ... ARG... in NAME
#   mesh_up NAME                   a fresh auth key, then icemesh up
#   mesh_status NAME               icemesh --json status (stdout)
#   mesh_json QUERY...             read JSON on stdin, print what QUERY says
#   mesh_wait_* SECONDS ...        poll status until a condition holds
#   mesh_parallel FN ARG...        FN ARG for every ARG at once; fails if any
#
# Every wait has a deadline; nothing here sleeps to hope.

MESH_COORD_PORT=8443
MESH_COORD_STATE=
MESH_COORD_PID=
MESH_URL=
MESH_PIN=
declare -A MESH_PID=() MESH_IP4=() MESH_IP6=()

mesh_init() {
	local p
	BUILD=${BUILD:?BUILD must name the build directory}
	MESH_D=$BUILD/icemeshd
	MESH_CLI=$BUILD/icemesh
	MESH_COORD_BIN=$BUILD/icemesh-coord
	for p in "$MESH_D" "$MESH_CLI" "$MESH_COORD_BIN"; do
		[ -x "$p" ] || lab_die "$p missing: make BUILD=$BUILD $p"
	done
	for p in curl python3; do
		command -v "$p" >/dev/null || lab_die "$p missing"
	done
	MESH_URL=https://$LAB_INET4:$MESH_COORD_PORT
}

mesh_coord() { # ARG... : an admin command on the lab coordinator's state
	"$MESH_COORD_BIN" "$@" --state-dir "$MESH_COORD_STATE"
}

mesh_coord_init() { # [ARG...] extra init options
	[ -n "$LAB_TURN_SECRET" ] || lab_die "mesh_coord_init: start lab_coturn first"
	MESH_COORD_STATE=$LAB_DIR/coord
	"$MESH_COORD_BIN" init --state-dir "$MESH_COORD_STATE" \
		--stun "$LAB_TURN_ADDR" --turn "$LAB_TURN_ADDR" \
		--turn-secret "$LAB_TURN_SECRET" "$@" >"$LAB_DIR/coord-init.log" 2>&1 || {
		cat "$LAB_DIR/coord-init.log" >&2
		lab_die "icemesh-coord init failed"
	}
	MESH_PIN=$(cat "$MESH_COORD_STATE/tls.pin")
	[[ $MESH_PIN == sha256//* ]] || lab_die "no pin in $MESH_COORD_STATE/tls.pin"
}

mesh_api() { # NAME CURL-ARG... : HTTPS to the coordinator from NAME's namespace
	local name=$1
	shift
	lab_exec "$name" curl -sS --max-time 10 -k --pinnedpubkey "$MESH_PIN" "$@"
}

mesh_coord_healthy() {
	kill -0 "$MESH_COORD_PID" 2>/dev/null &&
		mesh_api inet -o /dev/null -f "$MESH_URL/v1/health"
}

# The coordinator runs in the internet namespace, beside coturn, so every
# node reaches it the way it reaches a server on the internet.
mesh_coord_start() {
	lab_bg inet "$LAB_DIR/coord.log" "$MESH_COORD_BIN" serve \
		--state-dir "$MESH_COORD_STATE" \
		--listen "$LAB_INET4:$MESH_COORD_PORT" --online-grace 5s
	MESH_COORD_PID=$LAB_LAST_PID
	lab_wait 10 mesh_coord_healthy || {
		tail -n 20 "$LAB_DIR/coord.log" >&2
		lab_die "icemesh-coord did not answer on $MESH_URL"
	}
	lab_log "coordinator $MESH_URL (pin $MESH_PIN, pid $MESH_COORD_PID)"
}

mesh_coord_stop() {
	[ -n "$MESH_COORD_PID" ] || return 0
	kill "$MESH_COORD_PID" 2>/dev/null
	lab_wait_pid 10 "$MESH_COORD_PID" || lab_die "icemesh-coord did not exit cleanly on SIGTERM"
	MESH_COORD_PID=
	lab_log "coordinator stopped"
}

mesh_authkey() { # [--reusable|--ephemeral|--expiry D]...
	mesh_coord authkey create "$@" 2>/dev/null | grep -m1 -o 'imk_[A-Za-z0-9_-]*'
}

# A node registration straight through the API, as a daemon would make it,
# with a random node key: for maps with many peers where only a few need
# to be real (the benchmark). Prints the server's answer.
mesh_fake_register() { # NAME AUTHKEY HOSTNAME
	local nk
	nk=$(head -c 32 /dev/urandom | base64)
	mesh_api "$1" -f -H 'Content-Type: application/json' \
		-d "{\"auth_key\":\"$2\",\"node_key\":\"$nk\",\"hostname\":\"$3\"}" \
		"$MESH_URL/v1/register"
}

mesh_dir() { # NAME -> the node's state directory
	printf '%s/node/%s' "$LAB_DIR" "$1"
}

mesh_sock() { # NAME -> the node's control socket
	printf '%s/node/%s/ctl/icemeshd.sock' "$LAB_DIR" "$1"
}

mesh_ctl() { # NAME ARG... : the icemesh CLI against NAME's daemon
	local name=$1
	shift
	lab_exec "$name" "$MESH_CLI" --socket "$(mesh_sock "$name")" "$@"
}

mesh_status() { # NAME : the status JSON on stdout
	mesh_ctl "$1" --json --timeout 5 status
}

mesh_alive() { # NAME : the daemon runs and answers on its socket
	kill -0 "${MESH_PID[$1]}" 2>/dev/null && mesh_status "$1" >/dev/null 2>&1
}

# icemeshd in NAME's namespace. The state directory is readable by all
# (0755) and so is the socket's directory, so that the socket's own mode is
# what decides who may connect (the permission test depends on that).
mesh_node_start() { # NAME [ARG...]
	local name=$1 dir
	shift
	dir=$(mesh_dir "$name")
	mkdir -p "$dir/state" "$dir/ctl"
	chmod 0755 "$LAB_DIR" "$LAB_DIR/node" "$dir" "$dir/ctl"
	lab_bg "$name" "$dir/icemeshd.log" "$MESH_D" --foreground \
		--state-dir "$dir/state" --socket "$(mesh_sock "$name")" \
		--log-level debug "$@"
	MESH_PID[$name]=$LAB_LAST_PID
	mesh_wait_alive 10 "$name" || {
		tail -n 30 "$dir/icemeshd.log" >&2
		lab_die "icemeshd in $name did not answer on its socket"
	}
}

# Like lab_wait on mesh_alive, but gives up at once when the daemon has
# exited: a start-up error shows in a moment, not at the deadline.
mesh_wait_alive() { # SECONDS NAME
	local end=$(($(date +%s%N) + $1 * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		kill -0 "${MESH_PID[$2]}" 2>/dev/null || return 1
		mesh_status "$2" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	mesh_alive "$2"
}

mesh_node_stop() { # NAME
	local pid=${MESH_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	lab_wait_pid 10 "$pid" || lab_die "icemeshd in $1 did not exit on SIGTERM"
	MESH_PID[$1]=
}

mesh_up() { # NAME : up with a fresh single-use key; sets MESH_IP4/6[NAME]
	local name=$1 key st
	key=$(mesh_authkey --expiry 1h) || lab_die "no auth key"
	mesh_ctl "$name" up --coordinator "$MESH_URL" --auth-key "$key" \
		--coordinator-pin "$MESH_PIN" --hostname "$name" >"$(mesh_dir "$name")/up.log" 2>&1 || {
		cat "$(mesh_dir "$name")/up.log" >&2
		return 1
	}
	st=$(mesh_status "$name") || return 1
	MESH_IP4[$name]=$(mesh_json self.ipv4 <<<"$st")
	MESH_IP6[$name]=$(mesh_json self.ipv6 <<<"$st")
	[ -n "${MESH_IP4[$name]}" ] && [ -n "${MESH_IP6[$name]}" ]
}

# JSON on stdin, one query per argument, one line of output per query:
#   a.b.c               a member by path ("" when absent, JSON for objects)
#   peer:NAME.a.b       the same inside the peer named NAME of a status
#   peers               the names of a status's peers, space-separated
#   count:a.b           the length of an array
# Python's json module reads it (python3 is a lab dependency already).
MESH_JSON_PY='
import json, sys
doc = json.load(sys.stdin)
def walk(v, path):
    for k in [p for p in path.split(".") if p]:
        if isinstance(v, dict):
            v = v.get(k)
        elif isinstance(v, list) and k.isdigit() and int(k) < len(v):
            v = v[int(k)]
        else:
            return None
    return v
def show(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)
for q in sys.argv[1:]:
    if q == "peers":
        print(" ".join(p.get("name", "") for p in doc.get("peers", [])))
    elif q.startswith("count:"):
        v = walk(doc, q[6:])
        print(len(v) if isinstance(v, list) else 0)
    elif q.startswith("peer:"):
        name, _, rest = q[5:].partition(".")
        hit = [p for p in doc.get("peers", []) if p.get("name") == name]
        print(show(walk(hit[0], rest)) if hit else "")
    else:
        print(show(walk(doc, q)))
'

mesh_json() { # QUERY... (JSON on stdin)
	python3 -c "$MESH_JSON_PY" "$@"
}

# --- conditions, each true or false at once; mesh_wait_* poll them ---

mesh_is_running() { # NAME
	[ "$(mesh_status "$1" | mesh_json self.state)" = running ]
}

mesh_has_peers() { # NAME PEER... : every PEER is in NAME's map
	local name=$1 have p
	shift
	have=" $(mesh_status "$name" | mesh_json peers) "
	for p in "$@"; do
		[[ $have == *" $p "* ]] || return 1
	done
}

mesh_lacks_peer() { # NAME PEER : PEER is not in NAME's map
	local have
	have=" $(mesh_status "$1" | mesh_json peers) "
	[[ $have != *" $2 "* ]]
}

mesh_path_is() { # NAME PEER KIND (direct|relay|none|up = direct or relay)
	local k
	k=$(mesh_status "$1" | mesh_json "peer:$2.path.kind")
	case $3 in
	up) [ "$k" = direct ] || [ "$k" = relay ] ;;
	*) [ "$k" = "$3" ] ;;
	esac
}

mesh_overlay_ping() { # NAME ADDR : one ICMP echo through the TUN device
	lab_exec "$1" ping -q -n -c 1 -W 1 "$2" >/dev/null 2>&1
}

# --- bounded waits ---

mesh_wait_running() { # SECONDS NAME
	lab_wait "$1" mesh_is_running "$2"
}

mesh_wait_peers() { # SECONDS NAME PEER...
	local secs=$1
	shift
	lab_wait "$secs" mesh_has_peers "$@"
}

mesh_wait_gone() { # SECONDS NAME PEER
	lab_wait "$1" mesh_lacks_peer "$2" "$3"
}

mesh_wait_path() { # SECONDS NAME PEER KIND
	local secs=$1
	shift
	lab_wait "$secs" mesh_path_is "$@"
}

mesh_wait_ping() { # SECONDS NAME ADDR : until one echo comes back
	local secs=$1
	shift
	lab_wait "$secs" mesh_overlay_ping "$@"
}

# Runs FN ARG for every ARG in the background, all at once, and waits for
# them all: waits that each take seconds then cost the slowest one, not
# their sum. Output of each goes to $LAB_DIR/par.N.log and is shown when it
# failed. Returns the number of failures (0: all succeeded).
mesh_parallel() { # FN ARG...
	local fn=$1 a i=0 pids=() args=() bad=0
	shift
	for a in "$@"; do
		# Word splitting of ARG is wanted: one ARG may carry several words.
		# shellcheck disable=SC2086
		"$fn" $a >"$LAB_DIR/par.$i.log" 2>&1 &
		pids+=("$!")
		args+=("$a")
		i=$((i + 1))
	done
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			lab_log "failed: $fn ${args[$i]}"
			sed 's/^/    /' "$LAB_DIR/par.$i.log" >&2
			bad=$((bad + 1))
		fi
	done
	return "$bad"
}

# Moves NAME's underlay address on its segment to another free host
# number (.100 + its old number), the way a laptop gets a new DHCP lease.
mesh_renumber() { # NAME
	local name=$1 seg old new n
	seg=${LAB_UP[$name]}
	old=${LAB_IP4[$name]}
	n=${old##*.}
	new=${LAB_NET4[$seg]}.$((n + 100))
	# Old first: deleting a primary address takes its secondaries along.
	lab_exec "$name" ip addr del "$old/24" dev eth0
	lab_exec "$name" ip addr add "$new/24" dev eth0
	lab_exec "$name" ip route replace default via "${LAB_NET4[$seg]}.1"
	LAB_IP4["$name"]=$new
	lab_log "$name moved from $old to $new"
}

# Pairs of names, "a b" once per unordered pair.
mesh_pairs() { # NAME...
	local i j names=("$@")
	for ((i = 0; i < ${#names[@]}; i++)); do
		for ((j = i + 1; j < ${#names[@]}; j++)); do
			printf '%s %s\n' "${names[$i]}" "${names[$j]}"
		done
	done
}

# The path kind the NAT matrix must give between two nodes, from the NAT
# each sits behind (ARCHITECTURE.md): relay only for symmetric<->symmetric
# and symmetric<->port-restricted. MESH_NAT[NAME] is the node's effective
# NAT kind: public, fullcone, restricted or symmetric (a NAT behind a NAT
# counts as its most restrictive layer); two nodes on one LAN are direct.
declare -A MESH_NAT=()
mesh_expected_path() { # A B
	local a=${MESH_NAT[$1]} b=${MESH_NAT[$2]}
	if [ "${LAB_UP[$1]}" = "${LAB_UP[$2]}" ] && [ "${LAB_UP[$1]}" != inet ]; then
		echo direct
		return
	fi
	case "$a/$b" in
	symmetric/symmetric | symmetric/restricted | restricted/symmetric) echo relay ;;
	*) echo direct ;;
	esac
}

# The NAT matrix of the end-to-end tests: eight nodes, every kind of
# ARCHITECTURE.md's table, two behind one NAT and a NAT behind a carrier's
# NAT. Sets MESH_NODES and MESH_NAT. The underlay is IPv4 only behind the
# NATs (a LAN with public IPv6 would make every pair direct over IPv6); the
# overlay carries IPv4 and IPv6 all the same.
#
#                         internet 203.0.113.0/24, 2001:db8::/64
#        coturn + icemesh-coord on 203.0.113.1 (namespace "inet")
#   +-------+---------+---------+----------+----------+-------------+
#   |       |         |         |          |          |             |
#  pub   nat-fc    nat-pr    nat-sy    nat-sy2     nat-lan       nat-cgn
# (public) fullcone restricted symmetric symmetric  restricted   restricted
#           |         |         |          |        /     \          |
#           fc        pr        sy        sy2    lan1    lan2    nat-home
#                                                               restricted
#                                                                    |
#                                                                    cg
mesh_matrix() {
	lab_public pub
	lab_nat nat-fc fullcone
	lab_host fc nat-fc
	lab_nat nat-pr restricted
	lab_host pr nat-pr
	lab_nat nat-sy symmetric
	lab_host sy nat-sy
	lab_nat nat-sy2 symmetric
	lab_host sy2 nat-sy2
	lab_nat nat-lan restricted
	lab_host lan1 nat-lan
	lab_host lan2 nat-lan
	lab_nat nat-cgn restricted
	lab_nat nat-home restricted nat-cgn
	lab_host cg nat-home
	# shellcheck disable=SC2034 # for the scripts that source this
	MESH_NODES=(pub fc pr sy sy2 lan1 lan2 cg)
	MESH_NAT=([pub]=public [fc]=fullcone [pr]=restricted [sy]=symmetric
		[sy2]=symmetric [lan1]=restricted [lan2]=restricted [cg]=restricted)
}
