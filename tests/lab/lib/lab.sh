# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# The icemesh NAT lab: network namespaces, veth pairs, bridges and nftables
# that make a small internet with NAT routers in front of hosts. Source it
# from a tests/lab/test_*.sh script (bash, as root); docs/lab.md documents
# every function.
#
#   lab_init                      the "internet" namespace: bridge with
#                                 203.0.113.1/24 and 2001:db8::1/64, and a
#                                 default route into a black hole
#   lab_public NAME               a host with a public address on it
#   lab_nat NAME KIND [UP] [v6]   a NAT router (fullcone|restricted|symmetric)
#                                 on UP (default: the internet), LAN 10.N.0/24
#   lab_host NAME NAT             a host on NAT's LAN
#   lab_coturn [ARG...]           coturn in the internet namespace, REST secret
#   lab_exec NAME CMD...          run in NAME's namespace
#   lab_bg NAME LOG CMD...        same, in the background, killed at cleanup
#   lab_cross N1 L1 N2 L2 -- C1 -- C2   two programs, stdout of each into
#                                 the other's stdin (ICE descriptions)
#   lab_wait SECONDS CMD...       poll CMD until it succeeds or time runs out
#
# Every namespace is named "iml<id>-<name>" with an id unique to the run, so
# two runs never collide; lab_cleanup (trapped on EXIT, INT and TERM) kills
# what the lab started and deletes every namespace of this run. Nothing is
# connected to the host's own interfaces: the lab cannot reach outside.

LAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_ID=${LAB_ID:-$(printf '%x%04x' "$$" "$((RANDOM))")}
LAB_PREFIX="iml${LAB_ID}-"
LAB_DIR=
LAB_PIDS=()
LAB_NAMES=()
LAB_TURN_SECRET=
LAB_TURN_REALM=icemesh.lab
LAB_TURN_ADDR=
LAB_TURN_ADDR6=
LAB_INET4=203.0.113.1
LAB_INET6=2001:db8::1
declare -A LAB_IP4=() LAB_IP6=() LAB_NET4=() LAB_NET6=() LAB_NEXT=() \
	LAB_KIND=() LAB_UP=()
LAB_NAT_COUNT=0

lab_log() {
	printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2
}

lab_die() {
	lab_log "FAIL: $*"
	exit 1
}

lab_ns() { # NAME -> the namespace's full name
	printf '%s%s' "$LAB_PREFIX" "$1"
}

lab_exec() { # NAME CMD...
	local ns
	ns=$(lab_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

lab_bg() { # NAME LOGFILE CMD... ; sets LAB_LAST_PID; keeps the caller's stdin
	local ns log
	ns=$(lab_ns "$1")
	log=$2
	shift 2
	# An explicit <&0: without it bash gives a background job /dev/null.
	ip netns exec "$ns" "$@" <&0 >"$log" 2>&1 &
	LAB_LAST_PID=$!
	LAB_PIDS+=("$LAB_LAST_PID")
}

# Two programs that talk through their standard streams (e.g. icemesh-ice's
# descriptions): CMD1 runs in NAME1 and CMD2 in NAME2, each one's stdout is
# fed to the other's stdin and copied to LOG1 / LOG2; stderr goes to
# LOG1.err / LOG2.err. Sets LAB_CROSS_PIDS=(pid1 pid2) for lab_wait_pid.
# The FIFOs are held open by this shell, so neither side blocks on opening
# and neither sees end-of-file on stdin: each must exit on its own.
lab_cross() { # NAME1 LOG1 NAME2 LOG2 -- CMD1... -- CMD2...
	local n1=$1 l1=$2 n2=$3 l2=$4 d i c1=() c2=() fd
	shift 4
	[ "${1:-}" = -- ] || lab_die "lab_cross: -- CMD1 -- CMD2"
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do c1+=("$1"); shift; done
	[ "${1:-}" = -- ] || lab_die "lab_cross: -- CMD1 -- CMD2"
	shift
	c2=("$@")
	[ ${#c1[@]} -gt 0 ] && [ ${#c2[@]} -gt 0 ] || lab_die "lab_cross: empty command"
	d=$(mktemp -d "$LAB_DIR/cross.XXXXXX")
	for i in in1 in2 out1 out2; do
		mkfifo "$d/$i"
		exec {fd}<>"$d/$i"
	done
	tee "$l1" <"$d/out1" >"$d/in2" &
	LAB_PIDS+=("$!")
	tee "$l2" <"$d/out2" >"$d/in1" &
	LAB_PIDS+=("$!")
	ip netns exec "$(lab_ns "$n1")" "${c1[@]}" <"$d/in1" >"$d/out1" 2>"$l1.err" &
	LAB_CROSS_PIDS=("$!")
	LAB_PIDS+=("$!")
	ip netns exec "$(lab_ns "$n2")" "${c2[@]}" <"$d/in2" >"$d/out2" 2>"$l2.err" &
	LAB_CROSS_PIDS+=("$!")
	LAB_PIDS+=("$!")
}

lab_wait() { # SECONDS CMD... : poll every 50 ms until CMD succeeds
	local secs=$1 end
	shift
	end=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	"$@" >/dev/null 2>&1
}

lab_wait_pid() { # SECONDS PID : wait for PID to exit; its status, or 124
	local secs=$1 pid=$2 end
	end=$(($(date +%s%N) + secs * 1000000000))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$(date +%s%N)" -ge "$end" ]; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 124
		fi
		sleep 0.05
	done
	wait "$pid"
}

lab_cleanup() {
	local pid name
	set +e # clean up everything, whatever fails on the way
	for pid in "${LAB_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${LAB_PIDS[@]}"; do
		lab_wait_pid 3 "$pid" >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null
	done
	LAB_PIDS=()
	for name in "${LAB_NAMES[@]}"; do
		# Anything still running in the namespace goes with it.
		ip netns pids "$(lab_ns "$name")" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$(lab_ns "$name")" 2>/dev/null
	done
	LAB_NAMES=()
	if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ] && [ -z "${LAB_KEEP:-}" ]; then
		rm -rf "$LAB_DIR"
	fi
}

# A namespace with loopback up, forwarding as asked, no DAD delays.
lab_mkns() { # NAME FORWARD(0|1)
	local name=$1 ns
	[ ${#name} -le 12 ] || lab_die "name '$name' longer than 12 characters"
	case " ${LAB_NAMES[*]} " in *" $name "*) lab_die "name '$name' used twice" ;; esac
	ns=$(lab_ns "$name")
	ip netns add "$ns" || lab_die "ip netns add $ns"
	LAB_NAMES+=("$name")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward="$2" \
		net.ipv6.conf.all.forwarding="$2" \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 >/dev/null
}

# A veth from CHILD (interface IFNAME) to SEGMENT's bridge, with addresses.
lab_attach() { # CHILD IFNAME SEGMENT
	local child=$1 ifname=$2 seg=$3 n cns sns
	cns=$(lab_ns "$child")
	sns=$(lab_ns "$seg")
	n=${LAB_NEXT[$seg]} # hosts from .10; the segment's router is .1
	LAB_NEXT[$seg]=$((n + 1))
	ip -n "$cns" link add "$ifname" type veth peer name "v-$child" netns "$sns" ||
		lab_die "veth $child-$seg"
	ip -n "$sns" link set "v-$child" master lan up
	ip -n "$cns" link set "$ifname" up
	LAB_IP4[$child]=${LAB_NET4[$seg]}.$n
	LAB_UP[$child]=$seg
	ip -n "$cns" addr add "${LAB_IP4[$child]}/24" dev "$ifname"
	ip -n "$cns" route add default via "${LAB_NET4[$seg]}.1"
	if [ -n "${LAB_NET6[$seg]:-}" ]; then
		LAB_IP6[$child]=${LAB_NET6[$seg]}:$n
		ip -n "$cns" -6 addr add "${LAB_IP6[$child]}/64" dev "$ifname" nodad
		ip -n "$cns" -6 route add default via "${LAB_NET6[$seg]}:1"
	fi
}

# A router namespace's LAN: bridge "lan" holding .1 of its prefixes.
lab_segment() { # NAME NET4(a.b.c) [NET6 ("2001:db8:5:", host N is NET6:N)]
	local name=$1 ns
	ns=$(lab_ns "$name")
	LAB_NET4[$name]=$2
	LAB_NET6[$name]=${3:-}
	LAB_NEXT[$name]=10
	ip -n "$ns" link add lan type bridge mcast_snooping 0
	ip -n "$ns" link set lan up
	ip -n "$ns" addr add "$2.1/24" dev lan
	if [ -n "${3:-}" ]; then
		ip -n "$ns" -6 addr add "$3:1/64" dev lan nodad
	fi
}

lab_init() {
	[ "$(id -u)" = 0 ] || lab_die "the lab needs root"
	command -v nft >/dev/null || lab_die "nft missing (Debian package nftables)"
	trap lab_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/icemesh-lab.XXXXXX")
	lab_mkns inet 1
	lab_segment inet 203.0.113 2001:db8:
	LAB_IP4[inet]=$LAB_INET4
	LAB_IP6[inet]=$LAB_INET6
	# The black hole: packets for addresses nobody has are swallowed by a
	# veth whose far end is down, through a gateway with a permanent
	# neighbour entry, so a send to them succeeds and goes nowhere (as on
	# the real internet) instead of failing with "network unreachable",
	# which would make coturn tear down an allocation.
	local ns
	ns=$(lab_ns inet)
	ip -n "$ns" link add void type veth peer name void-end
	ip -n "$ns" link set void up
	ip -n "$ns" addr add 192.0.2.253/30 dev void
	ip -n "$ns" -6 addr add 2001:db8:ffff::1/64 dev void nodad
	ip -n "$ns" neigh add 192.0.2.254 lladdr 02:00:5e:00:53:01 dev void nud permanent
	ip -n "$ns" -6 neigh add 2001:db8:ffff::2 lladdr 02:00:5e:00:53:01 dev void nud permanent
	ip -n "$ns" route add default via 192.0.2.254 dev void
	ip -n "$ns" -6 route add default via 2001:db8:ffff::2 dev void
	lab_log "lab $LAB_ID: internet $LAB_INET4/24 $LAB_INET6/64 (dir $LAB_DIR)"
}

# A host with a public address (IPv4 and IPv6) on the internet.
lab_public() { # NAME
	lab_mkns "$1" 0
	lab_attach "$1" eth0 inet
	LAB_KIND[$1]=public
	lab_log "public $1: ${LAB_IP4[$1]} ${LAB_IP6[$1]:-}"
}

# The nftables of a NAT router: see docs/lab.md for the table of kinds.
lab_nat_rules() { # NAME KIND
	local name=$1 kind=$2 wan=${LAB_IP4[$1]} snat
	case $kind in
	fullcone) snat="snat to $wan" ;;
	restricted) snat="masquerade" ;;
	symmetric) snat="masquerade fully-random" ;;
	*) lab_die "unknown NAT kind '$kind'" ;;
	esac
	lab_exec "$name" nft -f - <<-EOF || lab_die "nft rules for $name"
		table ip labnat {
			chain pre {
				type nat hook prerouting priority dstnat;
			}
			chain post {
				type nat hook postrouting priority srcnat;
				oifname "wan" ip saddr ${LAB_NET4[$name]}.0/24 $snat
			}
		}
		table inet labfilter {
			chain input {
				type filter hook input priority filter;
				# Not ICMPv6: neighbour discovery must pass.
				iifname "wan" meta l4proto { tcp, udp } ct state new counter drop
			}
			chain forward {
				type filter hook forward priority filter;
				iifname "wan" ct status dnat accept
				iifname "wan" meta nfproto ipv4 ct state new drop
			}
		}
	EOF
}

lab_nat() { # NAME KIND [UPSTREAM] [v6]
	local name=$1 kind=$2 up=${3:-inet} v6=${4:-} net6=
	lab_mkns "$name" 1
	LAB_NAT_COUNT=$((LAB_NAT_COUNT + 1))
	[ "$v6" = v6 ] && net6="2001:db8:$LAB_NAT_COUNT:"
	lab_attach "$name" wan "$up"
	lab_segment "$name" "10.$LAB_NAT_COUNT.0" "$net6"
	LAB_KIND[$name]=$kind
	if [ -n "$net6" ]; then
		[ -n "${LAB_IP6[$name]:-}" ] || lab_die "$name: v6 needs an IPv6 upstream"
		lab_exec "$up" ip -6 route add "$net6:/64" via "${LAB_IP6[$name]:-}"
	fi
	lab_nat_rules "$name" "$kind"
	lab_log "nat $name ($kind) on $up: wan ${LAB_IP4[$name]}, lan ${LAB_NET4[$name]}.0/24${net6:+ $net6:/64}"
}

lab_host() { # NAME NAT
	local name=$1 nat=$2
	lab_mkns "$name" 0
	lab_attach "$name" eth0 "$nat"
	LAB_KIND[$name]=host
	if [ "${LAB_KIND[$nat]:-}" = fullcone ]; then
		# Full cone: every UDP port of the NAT's address leads to the
		# one host behind it (endpoint-independent filtering).
		lab_exec "$nat" nft add rule ip labnat pre iifname wan \
			ip daddr "${LAB_IP4[$nat]}" meta l4proto udp dnat to "${LAB_IP4[$name]}" ||
			lab_die "full cone dnat"
	fi
	lab_log "host $name behind $nat: ${LAB_IP4[$name]} ${LAB_IP6[$name]:-}"
}

# coturn on the internet's router address, UDP only, REST-API secret auth,
# no other listener. Extra arguments go to turnserver (e.g. --stale-nonce=5).
lab_coturn() { # [ARG...]
	local dir=$LAB_DIR/coturn conf
	command -v turnserver >/dev/null || lab_die "turnserver missing (Debian package coturn)"
	mkdir -p "$dir"
	LAB_TURN_SECRET=${LAB_TURN_SECRET:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
	conf=$dir/turnserver.conf
	cat >"$conf" <<-EOF
		listening-ip=$LAB_INET4
		listening-ip=$LAB_INET6
		relay-ip=$LAB_INET4
		relay-ip=$LAB_INET6
		listening-port=3478
		min-port=49152
		max-port=65535
		use-auth-secret
		static-auth-secret=$LAB_TURN_SECRET
		realm=$LAB_TURN_REALM
		fingerprint
		no-tcp
		no-tls
		no-dtls
		no-tcp-relay
		no-cli
		no-rfc5780
		no-multicast-peers
		userdb=$dir/turndb
		pidfile=$dir/turnserver.pid
		log-file=$dir/turnserver.log
		simple-log
		no-stdout-log
	EOF
	lab_bg inet "$dir/stdout.log" turnserver -c "$conf" "$@"
	LAB_TURN_PID=$LAB_LAST_PID
	LAB_TURN_ADDR=$LAB_INET4:3478
	LAB_TURN_ADDR6=[$LAB_INET6]:3478
	lab_wait 10 lab_coturn_ready || {
		tail -n 20 "$dir/turnserver.log" "$dir/stdout.log" >&2
		lab_die "coturn did not start listening"
	}
	lab_log "coturn on $LAB_TURN_ADDR and $LAB_TURN_ADDR6 (pid $LAB_TURN_PID)"
}

lab_coturn_ready() {
	kill -0 "$LAB_TURN_PID" 2>/dev/null || return 1
	lab_exec inet ss -Hlun "sport = :3478" | grep -q "$LAB_INET4:3478" &&
		lab_exec inet ss -Hlun "sport = :3478" | grep -q "\[$LAB_INET6\]:3478"
}

# A second internet address, for coturn only: a test that needs two STUN
# servers (netcheck's mapping, RFC 4787) calls this before lab_coturn and
# starts it with `lab_coturn "--listening-ip=$LAB_INET4_ALT"`; the STUN
# server there is then $LAB_TURN_ADDR_ALT. Hosts start at .10: .2 is free.
LAB_INET4_ALT=203.0.113.2
lab_inet_alt() {
	ip -n "$(lab_ns inet)" addr add "$LAB_INET4_ALT/24" dev lan ||
		lab_die "cannot add $LAB_INET4_ALT to the internet"
	LAB_TURN_ADDR_ALT=$LAB_INET4_ALT:3478
}

lab_coturn_log() {
	printf '%s\n' "$LAB_DIR/coturn/turnserver.log"
}

# Drop all UDP between a namespace and the outside, or only UDP to and
# from one address: for tests that break a path (consent freshness). Each
# call adds to what is dropped; lab_unblock lifts it all.
lab_block() { # NAME [IP]
	local ns=$1 ip=${2:-} fam=ip match=
	if [ -n "$ip" ]; then
		case $ip in *:*) fam=ip6 ;; esac
		match="$fam daddr $ip"
	fi
	lab_exec "$ns" nft -f - <<-EOF || lab_die "lab_block $*"
		add table inet labblock
		add chain inet labblock out { type filter hook output priority filter; }
		add chain inet labblock in { type filter hook input priority filter; }
		add rule inet labblock out oifname != "lo" $match meta l4proto udp counter drop
		add rule inet labblock in iifname != "lo" ${match/daddr/saddr} meta l4proto udp counter drop
	EOF
}

lab_unblock() { # NAME
	lab_exec "$1" nft delete table inet labblock
}
