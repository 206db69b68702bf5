#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The end-to-end rig (docs/DESIGN.md §8): client hosts per region, a router, a broker host
# running librdkafka's mock cluster, and a quarantine host, each a network namespace
# with a unique name per run. Used by tests/e2e and scripts/demo.sh.
#
#   scripts/rig.sh up [ENVFILE]     build the rig, write its names to ENVFILE
#                                   (default /tmp/kgate-rig-<id>/env), print the path
#   scripts/rig.sh down ENVFILE     remove everything the env file names
#   scripts/rig.sh check ENVFILE    kcat produce/consume from eu and us, IPv4 and IPv6
#
# or `source scripts/rig.sh; rig_up; trap rig_down EXIT` from a test.
#
# Topology (addresses are fixed, names carry the run id $RIG_ID):
#
#   eu   10.10.0.2/24     --veth--+
#   us   10.20.0.2/24     --veth--+  router  --veth--  [RIG_BROKER_IF] broker 10.99.0.2
#   eu6  fd00:10::2/64    --veth--+  (forwards,          fd00:99::2 (kgate attaches here:
#   us6  fd00:20::2/64    --veth--+   no NAT)            native XDP + TC egress)
#                                                          |
#                                                 [RIG_QUAR_IF] 10.98.0.1/30
#                                                          |  veth
#                                              quarantine 10.98.0.2/30, own mock
#
# Client source addresses reach the broker-side interface unchanged (routed, no NAT on
# the path). The broker namespace DNATs 10.99.0.2:9092 to the mock on 127.0.0.1
# (route_localnet), and each IPv4 client namespace DNATs 127.0.0.1:<mock port> (what the
# mock's metadata advertises) to 10.99.0.2:9092, so real clients work unchanged. IPv6
# cannot be DNATed to loopback: a relay (tests/tools/tcp_relay.py) stands in on both
# sides, and the client-side relay connects from the namespace's own IPv6 address.
#
# Redirect: kgate's XDP_REDIRECT sends the client's frames, unchanged, out of
# RIG_QUAR_IF; the quarantine side of that veth carries the broker interface's MAC so
# it accepts them, DNATs them to its own mock, and answers through the broker namespace
# (which forwards, accept_local on RIG_QUAR_IF since the answer's source is the broker
# address). The quarantine veth has GRO on: a veth takes XDP_REDIRECTed frames only
# when its peer runs NAPI.

RIG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RIG_BUILD=${RIG_BUILD:-${BUILD:-build}}
RIG_PY=/usr/bin/python3
RIG_PORT=9092
RIG_BROKER4=10.99.0.2
RIG_BROKER6=fd00:99::2
# Topics the mocks create at start (the mock also auto-creates on Metadata).
RIG_TOPICS=${RIG_TOPICS:-"eu.orders us.orders ref.prices open.events"}

rig_log() { echo "rig: $*" >&2; }
rig_die() {
	echo "rig: error: $*" >&2
	return 1
}

# Runs a command in namespace $1 (network namespace only: unlike `ip netns exec` it
# keeps the host's /sys, so /sys/fs/bpf pins are shared with the host).
rig_exec() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

rig_tool() { # name -> path of a built test tool, building it when missing
	local bin="$RIG_ROOT/$RIG_BUILD/tests/$1" src="$RIG_ROOT/tests/tools/$1.c"
	if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
		mkdir -p "$(dirname "$bin")"
		case $1 in
		mock_broker)
			cc -O2 -Wall -o "$bin" "$RIG_ROOT/tests/tools/mock_broker.c" \
				$(pkg-config --cflags --libs rdkafka) || return 1
			;;
		sasl_front)
			cc -O2 -Wall -o "$bin" "$RIG_ROOT/tests/tools/sasl_front.c" -lcrypto ||
				return 1
			;;
		*) return 1 ;;
		esac
	fi
	echo "$bin"
}

rig_sysctl() { # ns key value
	rig_exec "$1" sysctl -qw "$2=$3" >/dev/null
}

rig_env_write() {
	local v
	{
		for v in RIG_ID RIG_DIR RIG_ENV RIG_NS_ROUTER RIG_NS_BROKER RIG_NS_QUAR RIG_NS_EU \
			RIG_NS_US RIG_NS_EU6 RIG_NS_US6 RIG_BROKER_IF RIG_QUAR_IF RIG_BROKER4 \
			RIG_BROKER6 RIG_PORT RIG_MOCK_PORT RIG_QMOCK_PORT RIG_AUDIT_PORT \
			RIG_BACKEND_FILE RIG_CLIENTS RIG_FRONT_PORT; do
			printf '%s=%q\n' "$v" "${!v-}"
		done
	} >"$RIG_ENV"
}

# rig_load ENVFILE: the names of a rig built by another process.
rig_load() {
	# shellcheck disable=SC1090
	source "$1"
}

# Starts "$@" in namespace $ns in the background, logs to $RIG_DIR/$name.{out,err},
# records its pid for rig_down. Sets RIG_LAST_PID.
rig_spawn() {
	local ns=$1 name=$2
	shift 2
	# exec: $! is then the program itself (nsenter execs it), not a subshell around it
	(exec nsenter --net="/run/netns/$ns" -- "$@" >"$RIG_DIR/$name.out" \
		2>"$RIG_DIR/$name.err" </dev/null) &
	RIG_LAST_PID=$!
	echo "$RIG_LAST_PID $name" >>"$RIG_DIR/pids"
}

# rig_wait_line NAME PATTERN: waits (10 s) for a line in NAME's stdout; prints it.
rig_wait_line() {
	local f="$RIG_DIR/$1.out" i
	for i in $(seq 100); do
		if grep -q "$2" "$f" 2>/dev/null; then
			grep -m1 "$2" "$f"
			return 0
		fi
		sleep 0.1
	done
	cat "$RIG_DIR/$1.err" >&2 2>/dev/null
	rig_die "$1 did not print $2"
}

# rig_mock NS NAME [TOPIC...]: a mock cluster in NS; prints its port.
# Waits until the agent started with rig_spawn ... kgate ... says it runs (its log,
# $RIG_DIR/kgate.err, has "running:"); 1 when it exits first or takes over 10 s.
rig_kgate_wait() {
	local pid=$1 i
	for i in $(seq 100); do
		grep -q "running:" "$RIG_DIR/kgate.err" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$RIG_DIR/kgate.err" >&2
	rig_die "kgate run did not start"
}

rig_mock() {
	local ns=$1 name=$2 t line args=()
	shift 2
	for t in "$@"; do args+=(--topic "$t"); done
	rig_spawn "$ns" "$name" "$(rig_tool mock_broker)" --no-stdin "${args[@]}"
	line=$(rig_wait_line "$name" '^BOOTSTRAP ') || return 1
	echo "${line##*:}"
}

# rig_veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up.
rig_veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# rig_add_client TAG ADDR4 ADDR6: a client namespace ${RIG_ID}-TAG routed to the broker.
# Exactly one of ADDR4/ADDR6 is given ("-" for none): an IPv4 host gets the DNAT of the
# mock ports, an IPv6 host a relay. ADDR4 is x.y.z.2 in a /24 whose .1 is the router;
# ADDR6 is p::2 in a /64 whose ::1 is the router. Sets RIG_LAST_NS.
rig_add_client() {
	local tag=$1 a4=$2 a6=$3 ns="${RIG_ID}-$1" cif="${RIG_ID}${1}c" rif="${RIG_ID}${1}r"
	local port
	ip netns add "$ns" || return 1
	RIG_CLIENTS="$RIG_CLIENTS $ns"
	rig_env_write
	ip -n "$ns" link set lo up
	rig_veth "$ns" "$cif" "$RIG_NS_ROUTER" "$rif" || return 1
	if [ "$a4" != "-" ]; then
		ip -n "$RIG_NS_ROUTER" addr add "${a4%.*}.1/24" dev "$rif"
		ip -n "$ns" addr add "$a4/24" dev "$cif"
		ip -n "$ns" route add default via "${a4%.*}.1"
		# 127.0.0.1:<port> -> broker: DNAT, then the source must become the host's
		# own address (route_localnet lets a 127/8 source be routed at all).
		rig_sysctl "$ns" "net.ipv4.conf.$cif.route_localnet" 1
		rig_sysctl "$ns" net.ipv4.conf.all.route_localnet 1
		for port in $RIG_MOCK_PORT $RIG_QMOCK_PORT; do
			rig_exec "$ns" iptables -t nat -A OUTPUT -d 127.0.0.1/32 -p tcp \
				--dport "$port" -j DNAT --to-destination "$RIG_BROKER4:$RIG_PORT"
		done
		rig_exec "$ns" iptables -t nat -A POSTROUTING -o "$cif" -s 127.0.0.0/8 \
			-j SNAT --to-source "$a4"
	fi
	if [ "$a6" != "-" ]; then
		rig_sysctl "$ns" net.ipv6.conf.all.accept_dad 0
		rig_sysctl "$ns" "net.ipv6.conf.$cif.accept_dad" 0
		ip -n "$RIG_NS_ROUTER" addr add "${a6%::*}::1/64" dev "$rif" nodad
		ip -n "$ns" addr add "$a6/64" dev "$cif" nodad
		ip -n "$ns" -6 route add default via "${a6%::*}::1"
		# getaddrinfo(AI_ADDRCONFIG) resolves "127.0.0.1" (what the mock advertises)
		# only where some non-loopback IPv4 address exists: an unrouted TEST-NET one.
		[ "$a4" = "-" ] && ip -n "$ns" addr add 192.0.2.2/32 dev "$cif"
		rig_spawn "$ns" "relay-$tag" "$RIG_PY" "$RIG_ROOT/tests/tools/tcp_relay.py" \
			--listen "127.0.0.1:$RIG_MOCK_PORT" --connect "[$RIG_BROKER6]:$RIG_PORT"
		rig_wait_line "relay-$tag" READY >/dev/null || return 1
	fi
	RIG_LAST_NS=$ns
}

# rig_backend PORT: new connections to the broker address go to 127.0.0.1:PORT (the
# mock by default; the SASL front in SASL scenarios). Live connections stay where they are.
rig_backend() {
	rig_exec "$RIG_NS_BROKER" iptables -t nat -F KGRIG &&
		rig_exec "$RIG_NS_BROKER" iptables -t nat -A KGRIG -d "$RIG_BROKER4/32" -p tcp \
			--dport "$RIG_PORT" -j DNAT --to-destination "127.0.0.1:$1" &&
		echo "127.0.0.1:$1" >"$RIG_BACKEND_FILE"
}

# rig_sasl_front USERS_FILE: starts the test-only SASL front (tests/tools/sasl_front.c)
# in the broker namespace in front of the mock; `rig_backend $RIG_FRONT_PORT` points the
# broker address at it (and `rig_backend $RIG_MOCK_PORT` back).
# Connections that skip SASL are spliced through unauthenticated (--allow-plaintext);
# CreateTopics/DeleteTopics as first requests are answered by the front (--admin).
rig_sasl_front() {
	local line
	rig_spawn "$RIG_NS_BROKER" sasl-front "$(rig_tool sasl_front)" --listen 127.0.0.1:0 \
		--backend "127.0.0.1:$RIG_MOCK_PORT" --users "$1" --allow-plaintext --admin || return 1
	line=$(rig_wait_line sasl-front '^LISTENING ') || return 1
	RIG_FRONT_PORT=${line##*:}
	rig_env_write
}

rig_up() {
	local bmac
	RIG_ID=${RIG_ID:-kr$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')}
	RIG_DIR=${RIG_DIR:-/tmp/kgate-rig-$RIG_ID}
	mkdir -p "$RIG_DIR"
	RIG_ENV=${RIG_ENV:-$RIG_DIR/env}
	RIG_NS_ROUTER="$RIG_ID-rt"
	RIG_NS_BROKER="$RIG_ID-br"
	RIG_NS_QUAR="$RIG_ID-q"
	RIG_BROKER_IF="${RIG_ID}b"
	RIG_QUAR_IF="${RIG_ID}qb"
	RIG_BACKEND_FILE="$RIG_DIR/backend"
	RIG_CLIENTS=""
	: >"$RIG_DIR/pids"
	rig_env_write
	rig_tool mock_broker >/dev/null || rig_die "cannot build mock_broker" || return 1

	local ns
	for ns in "$RIG_NS_ROUTER" "$RIG_NS_BROKER" "$RIG_NS_QUAR"; do
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		rig_sysctl "$ns" net.ipv6.conf.all.accept_dad 0
		rig_sysctl "$ns" net.ipv6.conf.default.accept_dad 0
		rig_sysctl "$ns" net.ipv4.conf.all.rp_filter 0
		rig_sysctl "$ns" net.ipv4.conf.default.rp_filter 0
	done
	rig_sysctl "$RIG_NS_ROUTER" net.ipv4.ip_forward 1
	rig_sysctl "$RIG_NS_ROUTER" net.ipv6.conf.all.forwarding 1

	# router <-> broker
	rig_veth "$RIG_NS_ROUTER" "${RIG_ID}rb" "$RIG_NS_BROKER" "$RIG_BROKER_IF" || return 1
	# Full TCP checksums on the wire into the broker, as from a real NIC: with veth's
	# checksum offload a frame carries only the pseudo-header sum, and one that kgate
	# XDP_REDIRECTs (raw frame, no skb metadata) is dropped as invalid by the quarantine.
	# GRO (NAPI) on the router's end: a veth takes the frames kgate redirects back out of
	# the broker interface (the RST a reset client gets) only when its peer runs NAPI.
	rig_exec "$RIG_NS_ROUTER" ethtool -K "${RIG_ID}rb" tx off gro on >/dev/null
	ip -n "$RIG_NS_ROUTER" addr add 10.99.0.1/24 dev "${RIG_ID}rb"
	ip -n "$RIG_NS_ROUTER" addr add fd00:99::1/64 dev "${RIG_ID}rb" nodad
	ip -n "$RIG_NS_BROKER" addr add "$RIG_BROKER4/24" dev "$RIG_BROKER_IF"
	ip -n "$RIG_NS_BROKER" addr add "$RIG_BROKER6/64" dev "$RIG_BROKER_IF" nodad
	ip -n "$RIG_NS_BROKER" route add default via 10.99.0.1
	ip -n "$RIG_NS_BROKER" -6 route add default via fd00:99::1
	rig_sysctl "$RIG_NS_BROKER" "net.ipv4.conf.$RIG_BROKER_IF.route_localnet" 1
	rig_sysctl "$RIG_NS_BROKER" net.ipv4.ip_forward 1

	# broker <-> quarantine
	rig_veth "$RIG_NS_BROKER" "$RIG_QUAR_IF" "$RIG_NS_QUAR" "${RIG_ID}qq" || return 1
	bmac=$(ip -n "$RIG_NS_BROKER" -br link show "$RIG_BROKER_IF" | awk '{print $3}')
	ip -n "$RIG_NS_QUAR" link set "${RIG_ID}qq" address "$bmac"
	rig_exec "$RIG_NS_QUAR" ethtool -K "${RIG_ID}qq" gro on >/dev/null
	ip -n "$RIG_NS_BROKER" addr add 10.98.0.1/30 dev "$RIG_QUAR_IF"
	ip -n "$RIG_NS_QUAR" addr add 10.98.0.2/30 dev "${RIG_ID}qq"
	ip -n "$RIG_NS_QUAR" route add default via 10.98.0.1
	rig_sysctl "$RIG_NS_BROKER" "net.ipv4.conf.$RIG_QUAR_IF.accept_local" 1
	rig_sysctl "$RIG_NS_BROKER" "net.ipv4.conf.$RIG_QUAR_IF.rp_filter" 0
	rig_sysctl "$RIG_NS_QUAR" "net.ipv4.conf.${RIG_ID}qq.route_localnet" 1

	# the brokers
	RIG_MOCK_PORT=$(rig_mock "$RIG_NS_BROKER" mock $RIG_TOPICS) || return 1
	RIG_AUDIT_PORT=$(rig_mock "$RIG_NS_BROKER" audit-mock kgate.audit) || return 1
	RIG_QMOCK_PORT=$(rig_mock "$RIG_NS_QUAR" quarantine-mock $RIG_TOPICS) || return 1
	rig_env_write
	rig_exec "$RIG_NS_BROKER" iptables -t nat -N KGRIG
	rig_exec "$RIG_NS_BROKER" iptables -t nat -A PREROUTING -i "$RIG_BROKER_IF" -j KGRIG
	rig_backend "$RIG_MOCK_PORT" || return 1
	rig_spawn "$RIG_NS_BROKER" relay-broker6 "$RIG_PY" "$RIG_ROOT/tests/tools/tcp_relay.py" \
		--listen "[$RIG_BROKER6]:$RIG_PORT" --connect-file "$RIG_BACKEND_FILE"
	rig_wait_line relay-broker6 READY >/dev/null || return 1
	rig_exec "$RIG_NS_QUAR" iptables -t nat -A PREROUTING -i "${RIG_ID}qq" -d "$RIG_BROKER4/32" \
		-p tcp --dport "$RIG_PORT" -j DNAT --to-destination "127.0.0.1:$RIG_QMOCK_PORT"

	rig_add_client eu 10.10.0.2 - || return 1
	RIG_NS_EU=$RIG_LAST_NS
	rig_add_client us 10.20.0.2 - || return 1
	RIG_NS_US=$RIG_LAST_NS
	rig_add_client eu6 - fd00:10::2 || return 1
	RIG_NS_EU6=$RIG_LAST_NS
	rig_add_client us6 - fd00:20::2 || return 1
	RIG_NS_US6=$RIG_LAST_NS
	rig_env_write
	rig_log "up: $RIG_ID (broker-side interface $RIG_BROKER_IF in $RIG_NS_BROKER, env $RIG_ENV)"
}

# For a test's trap: its agent (KGATE_PID, on the rig's broker interface, pins under
# KGATE_PIN_ROOT) stopped and what it pinned detached; when the test FAILED, the end of
# the agent's log. Then rig_down.
rig_kgate_stop() {
	if [ -n "${RIG_ID:-}" ] && [ -n "${KGATE_PIN_ROOT:-}" ]; then
		[ -n "${KGATE_PID:-}" ] && kill "$KGATE_PID" 2>/dev/null && wait "$KGATE_PID" 2>/dev/null
		"$KGATE" detach --iface "$RIG_BROKER_IF" >/dev/null 2>&1
	fi
	[ -n "${FAILED:-}" ] && [ -n "${RIG_DIR:-}" ] && tail -20 "$RIG_DIR/kgate.err" >&2
	return 0
}

# Removes every namespace, process and pin the rig (and tests run in it) created.
# Safe to call twice and on a half-built rig.
rig_down() {
	local pid name ns left
	[ -n "${RIG_ID:-}" ] || return 0
	set +e
	if [ -f "$RIG_DIR/pids" ]; then
		while read -r pid name; do
			kill "$pid" 2>/dev/null
		done <"$RIG_DIR/pids"
	fi
	# Anything else a test started inside the rig's own namespaces (kgate run, clients).
	for ns in ${RIG_CLIENTS:-} "${RIG_NS_BROKER:-}" "${RIG_NS_QUAR:-}" "${RIG_NS_ROUTER:-}"; do
		[ -n "$ns" ] && [ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
	done
	for _ in $(seq 30); do
		left=""
		for ns in ${RIG_CLIENTS:-} "${RIG_NS_BROKER:-}" "${RIG_NS_QUAR:-}" "${RIG_NS_ROUTER:-}"; do
			[ -n "$ns" ] && [ -e "/run/netns/$ns" ] || continue
			left="$left$(ip netns pids "$ns" 2>/dev/null)"
		done
		[ -z "$left" ] && break
		sleep 0.1
	done
	for ns in ${RIG_CLIENTS:-} "${RIG_NS_BROKER:-}" "${RIG_NS_QUAR:-}" "${RIG_NS_ROUTER:-}"; do
		[ -n "$ns" ] && [ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
	done
	for ns in ${RIG_CLIENTS:-} "${RIG_NS_BROKER:-}" "${RIG_NS_QUAR:-}" "${RIG_NS_ROUTER:-}"; do
		[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	# kgate leaves enforcement pinned on exit; the interface is gone, the pins are ours.
	[ -n "${RIG_BROKER_IF:-}" ] && rm -rf "/sys/fs/bpf/kgate/$RIG_BROKER_IF"
	# tests point KGATE_PIN_ROOT at /sys/fs/bpf/$RIG_ID to keep their pins apart
	rm -rf "/sys/fs/bpf/$RIG_ID"
	[ -n "${RIG_DIR:-}" ] && [ -z "${RIG_KEEP_DIR:-}" ] && rm -rf "$RIG_DIR"
	RIG_ID=""
	return 0
}

# rig_kcat NS ARGS...: kcat in a client namespace against the broker address of that
# namespace's family.
rig_bootstrap() { # ns -> bootstrap address for that namespace
	case $1 in
	*6) echo "127.0.0.1:$RIG_MOCK_PORT" ;; # the relay; [fd00:99::2]:9092 works too
	*) echo "$RIG_BROKER4:$RIG_PORT" ;;
	esac
}

# rig_check: with no kgate attached, records produced from each client namespace are
# consumed back byte-identical. Returns nonzero on the first failure.
rig_check() {
	local ns topic got want fails=0
	for ns in "$RIG_NS_EU" "$RIG_NS_US" "$RIG_NS_EU6" "$RIG_NS_US6"; do
		topic="rig.check.$ns"
		want="hello from $ns $(date +%s%N)"
		if ! printf '%s\n' "$want" | rig_exec "$ns" timeout 20 kcat -q -P \
			-b "$(rig_bootstrap "$ns")" -t "$topic" -X message.timeout.ms=10000; then
			rig_log "FAIL produce from $ns"
			fails=$((fails + 1))
			continue
		fi
		got=$(rig_exec "$ns" timeout 20 kcat -q -C -b "$(rig_bootstrap "$ns")" -t "$topic" \
			-o beginning -c 1 -e)
		if [ "$got" = "$want" ]; then
			rig_log "ok   produce+consume from $ns"
		else
			rig_log "FAIL consume from $ns: got '$got' want '$want'"
			fails=$((fails + 1))
		fi
	done
	return $fails
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -uo pipefail
	case ${1:-} in
	up)
		[ -n "${2:-}" ] && RIG_ENV=$2
		if ! rig_up; then
			rig_down
			exit 1
		fi
		echo "$RIG_ENV"
		;;
	down)
		[ -f "${2:-}" ] || { echo "usage: $0 down ENVFILE" >&2; exit 2; }
		rig_load "$2"
		rig_down
		;;
	check)
		[ -f "${2:-}" ] || { echo "usage: $0 check ENVFILE" >&2; exit 2; }
		rig_load "$2"
		rig_check
		;;
	*)
		sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
fi
