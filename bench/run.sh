#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The end-to-end benchmark (`make bench`): measures kgate against what it must
# not cost, on the rig of scripts/rig.sh, and writes bench/results.json, bench/BENCHMARKS.md
# and bench/benchmarks.png (bench/bench.py report). Root.
#
#   bench/run.sh [PART...]     parts: datapath e2e storm l3 flows audit policy (default: all)
#
# Each part writes build/bench/out/PART.json; the report merges them into results.json,
# keeping the parts not run this time as they were. A/B runs are interleaved (the order
# of the variants rotates every round) and reported as medians, ratios as the median of
# each round's ratio. Environment:
#   BENCH_QUICK=1     one round, short runs, no 40,000-connection test (a developer's check)
#   BENCH_ROUNDS=N    rounds of every A/B comparison (default 3; quick 1)
#   BENCH_SECONDS=S   seconds per producer run (default 5; quick 2)
#   BUILD=dir         where the binaries are (default build)
#   BENCH_RESULTS, BENCH_MD, BENCH_PNG, BENCH_OUT: other places for the outputs (tests)
#
# Every loop is bounded in count and time; everything it creates (namespaces, veths,
# qdiscs, XDP programs, pins, processes) has its run's id in the name and goes in the trap.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
BB=$ROOT/$BUILD/bench # the benchmark's binaries
KGATE=$ROOT/$BUILD/kgate
OUT=${BENCH_OUT:-$ROOT/$BUILD/bench/out}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${BENCH_ROUNDS:-1}
	SECS=${BENCH_SECONDS:-2}
else
	ROUNDS=${BENCH_ROUNDS:-3}
	SECS=${BENCH_SECONDS:-5}
fi
PY=/usr/bin/python3
BPY="$ROOT/bench/bench.py"
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (namespaces, BPF)" >&2; exit 1; }
for b in "$KGATE" "$BB/kprod" "$BB/kwire" "$BB/relay" "$BB/synflood" "$BB/netem" "$BB/bpfrun" \
	"$BB/xdp_pass.bpf.o" "$BB/xdp_bounce.bpf.o"; do
	[ -e "$b" ] || { echo "bench: $b is not built (make bench-tools)" >&2; exit 1; }
done
mkdir -p "$OUT"
PARTS=${*:-datapath e2e storm l3 flows audit policy}
# storm.denied does not exist on the broker: without kgate it answers the storm as cheaply as
# it answers kgate's poisoned name, so the storm costs the broker the same either way
RIG_TOPICS="bench.t eu.orders"
# shellcheck source=scripts/rig.sh
source scripts/rig.sh

# ---- cleanup: everything this run made ------------------------------------------------------

PIDS=""      # processes we started outside rig_spawn
EXTRA_NS=""  # namespaces beside the rig's
KG_PID=""    # the running agent
KG_IFACE=""  # the interface it is attached to
KG_NS=""     # and its namespace
cleanup() {
	set +e
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	kg_stop
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	for ns in $EXTRA_NS; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.2
	for ns in $EXTRA_NS; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${RIG_ID:-}" ] && rm -rf "/sys/fs/bpf/$RIG_ID"
	rig_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }
# json: the last line of a command's stdout that is a JSON object (tools print one)
jline() { grep '^{' | tail -1; }

# ---- the rig and kgate ------------------------------------------------------------------------

rig_start() {
	rig_up || { log "rig_up failed"; exit 1; }
	export KGATE_PIN_ROOT=/sys/fs/bpf/$RIG_ID KGATE_STATE_DIR=$RIG_DIR/state
	export KGATE_RUN_DIR=$RIG_DIR/run
	W=$RIG_DIR/bench
	mkdir -p "$W"
	$PY "$BPY" policy "$W/p1000-all.yaml" --rules 1000 --audit all --version bench-1000-all
	$PY "$BPY" policy "$W/p1000-default.yaml" --rules 1000 --version bench-1000-default
	BROKER_MAC=$(ip -n "$RIG_NS_BROKER" -br link show "$RIG_BROKER_IF" | awk '{print $3}')
}

B_EXEC() { rig_exec "$RIG_NS_BROKER" "$@"; }
METRICS=127.0.0.1:9464

# kg_start NS IFACE POLICY [kgate run options]: the agent, waited for.
kg_start() {
	local ns=$1 ifc=$2 pol=$3
	shift 3
	# the last agent's log says "running:" too: rig_kgate_wait must not read that one
	rm -f "$RIG_DIR/kgate.err"
	rig_spawn "$ns" kgate "$KGATE" run --iface "$ifc" --policy "$pol" --node bench \
		--metrics-addr "$METRICS" "$@"
	KG_PID=$RIG_LAST_PID KG_IFACE=$ifc KG_NS=$ns
	rig_kgate_wait "$KG_PID" || exit 1
}
# Stops the agent and removes what it attached (detach runs in the interface's namespace:
# from elsewhere it would miss the TC filter).
kg_stop() {
	[ -n "$KG_PID" ] || return 0
	kill "$KG_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$KG_PID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$KG_PID" 2>/dev/null
	rig_exec "$KG_NS" "$KGATE" detach --iface "$KG_IFACE" >/dev/null 2>&1
	KG_PID=""
}
kg_stats() { rig_exec "$KG_NS" "$KGATE" stats --iface "$KG_IFACE" -o json; }
kg_metric() { rig_exec "$KG_NS" $PY "$BPY" metric "http://$METRICS/metrics" "$1"; }
kg_cpu() { $PY "$BPY" cpu "$KG_PID"; }

# Variants of the e2e path. Each sets up and tears down one thing on the broker interface.
RELAY_PORT=19101
v_up() {
	case $1 in
	none) ;;
	xdp_pass)
		ip -n "$RIG_NS_BROKER" link set dev "$RIG_BROKER_IF" xdpdrv obj "$BB/xdp_pass.bpf.o" \
			sec xdp.frags || exit 1
		;;
	kgate_audit_all)
		kg_start "$RIG_NS_BROKER" "$RIG_BROKER_IF" "$W/p1000-all.yaml" \
			--audit-brokers "127.0.0.1:$RIG_AUDIT_PORT" --audit-topic kgate.audit
		;;
	kgate_default)
		kg_start "$RIG_NS_BROKER" "$RIG_BROKER_IF" "$W/p1000-default.yaml" \
			--audit-brokers "127.0.0.1:$RIG_AUDIT_PORT" --audit-topic kgate.audit
		;;
	kgate_tci) # the same, at TC ingress (interfaces where XDP cannot attach)
		kg_start "$RIG_NS_BROKER" "$RIG_BROKER_IF" "$W/p1000-default.yaml" --tc-ingress \
			--audit-brokers "127.0.0.1:$RIG_AUDIT_PORT" --audit-topic kgate.audit
		;;
	relay | relay_sink)
		local target="127.0.0.1:$RIG_MOCK_PORT"

		[ "$1" = relay_sink ] && target="127.0.0.1:$SINK_PORT"
		rig_spawn "$RIG_NS_BROKER" relay "$BB/relay" --listen "127.0.0.1:$RELAY_PORT" \
			--connect "$target"
		RELAY_PID=$RIG_LAST_PID
		rig_wait_line relay READY >/dev/null || exit 1
		rig_backend "$RELAY_PORT"
		;;
	*) log "unknown variant $1"; exit 1 ;;
	esac
}
v_down() {
	case $1 in
	xdp_pass) ip -n "$RIG_NS_BROKER" link set dev "$RIG_BROKER_IF" xdpdrv off ;;
	kgate_*) kg_stop ;;
	relay | relay_sink)
		rig_backend "${BACKEND_PORT:-$RIG_MOCK_PORT}"
		kill "$RELAY_PID" 2>/dev/null
		wait "$RELAY_PID" 2>/dev/null
		;;
	esac
	sleep 0.3 # the mock finishes what the last run left in flight
}
# rotate N ITEMS...: the items, starting at the N-th (round N's order)
rotate() {
	local n=$1 a
	shift
	a=("$@")
	for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[$(((i + n) % ${#a[@]}))]}"; done
}

# A JSON record of one run, appended to $OUT/PART.runs.jsonl.
record() { # part json-fields...
	local part=$1
	shift
	$PY "$BPY" record "$OUT/$part.runs.jsonl" "$@"
}
part_begin() {
	: >"$OUT/$1.runs.jsonl"
	record "$1" kind=load when=before "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
	PART_T0=$(date +%s)
	log "== $1 (rounds $ROUNDS, $SECS s per run)"
}
part_end() {
	record "$1" kind=load when=after "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" \
		"seconds=$(($(date +%s) - PART_T0))"
	$PY "$BPY" summarize "$1" "$OUT/$1.runs.jsonl" "$OUT/$1.json" || exit 1
}

# ---- parts ------------------------------------------------------------------------------------

part_datapath() {
	part_begin datapath
	"$ROOT/$BUILD/bench_datapath" "$OUT/datapath.raw.json" >"$OUT/datapath.log" 2>&1 ||
		{ log "bench_datapath failed: $(tail -3 "$OUT/datapath.log")"; exit 1; }
	record datapath kind=datapath "file=$OUT/datapath.raw.json"
	part_end datapath
}

# e2e: a librdkafka producer from eu through each variant, 100 B and 10 KiB values, acks=1.
part_e2e() {
	local size r v j
	part_begin e2e
	for size in 100 10240; do
		for r in $(seq "$ROUNDS"); do
			for v in $(rotate "$r" none xdp_pass kgate_audit_all kgate_default relay); do
				v_up "$v"
				j=$(rig_exec "$RIG_NS_EU" "$BB/kprod" --bootstrap "$RIG_BROKER4:$RIG_PORT" \
					--topic bench.t --size "$size" --seconds "$SECS" --warmup 1 --label "$v" |
					jline)
				v_down "$v"
				record e2e kind=throughput "variant=$v" "size=$size" "round=$r" "run=$j"
				log "e2e size $size round $r $v: $($PY "$BPY" get "$j" msgs_per_s) msg/s"
			done
		done
	done
	# added latency at a paced rate: 2,000 messages/s of 100 B, no linger
	for r in $(seq "$ROUNDS"); do
		for v in $(rotate "$r" none kgate_default xdp_pass); do
			v_up "$v"
			j=$(rig_exec "$RIG_NS_EU" "$BB/kprod" --bootstrap "$RIG_BROKER4:$RIG_PORT" \
				--topic bench.t --size 100 --rate 2000 --linger-ms 0 --seconds "$SECS" \
				--warmup 1 --label "$v" | jline)
			v_down "$v"
			record e2e kind=paced "variant=$v" "round=$r" "run=$j"
			log "e2e paced round $r $v: p99 $($PY "$BPY" get "$j" lat_p99_us) us"
		done
	done
	# the path's capacity in front of a broker that is never the bottleneck: a sink
	rig_spawn "$RIG_NS_BROKER" sink "$BB/relay" --listen "127.0.0.1:19102" --sink
	SINK_PORT=19102 BACKEND_PORT=19102
	rig_wait_line sink READY >/dev/null || exit 1
	rig_backend "$SINK_PORT"
	for r in $(seq "$ROUNDS"); do
		for v in $(rotate "$r" none kgate_default relay_sink); do
			v_up "$v"
			j=$(rig_exec "$RIG_NS_EU" "$BB/kwire" blast --to "$RIG_BROKER4:$RIG_PORT" \
				--topic bench.t --size 10240 --seconds "$SECS" | jline)
			v_down "$v"
			record e2e kind=sink "variant=$v" "round=$r" "run=$j"
			log "e2e sink round $r $v: $($PY "$BPY" get "$j" mb_per_s) MB/s"
		done
	done
	BACKEND_PORT=""
	rig_backend "$RIG_MOCK_PORT"
	part_end e2e
}

# storm: 4 connections x 64 pipelined Produce requests to a denied topic from us, and a
# well-behaved producer from eu beside it; with and without kgate.
part_storm() {
	local r v j s0 s1 m0 m1 c0 c1 storm_pid d
	part_begin storm
	$PY "$BPY" policy "$W/storm.yaml" --rules 1000 --deny-produce storm.denied \
		--version bench-storm
	for r in $(seq "$ROUNDS"); do
		for v in $(rotate "$r" none kgate kgate_calm); do
			[ "$v" != none ] && kg_start "$RIG_NS_BROKER" "$RIG_BROKER_IF" "$W/storm.yaml" \
				--audit-brokers "127.0.0.1:$RIG_AUDIT_PORT" --audit-topic kgate.audit
			if [ "$v" != none ]; then
				s0=$(kg_stats)
				m0=$(kg_metric kgate_audit_records_total)
				c0=$(kg_cpu)
			fi
			storm_pid=""
			if [ "$v" != kgate_calm ]; then
				rig_spawn "$RIG_NS_US" storm "$BB/kwire" storm --to "$RIG_BROKER4:$RIG_PORT" \
					--topic storm.denied --conns 4 --depth 64 --seconds "$((SECS + 2))"
				storm_pid=$RIG_LAST_PID
				sleep 1
			fi
			j=$(rig_exec "$RIG_NS_EU" "$BB/kprod" --bootstrap "$RIG_BROKER4:$RIG_PORT" \
				--topic bench.t --size 100 --seconds "$SECS" --warmup 1 --label "$v" | jline)
			[ -n "$storm_pid" ] && wait "$storm_pid"
			d='{}'
			[ -n "$storm_pid" ] && d=$(jline <"$RIG_DIR/storm.out")
			if [ "$v" != none ]; then
				s1=$(kg_stats)
				m1=$(kg_metric kgate_audit_records_total)
				c1=$(kg_cpu)
				kg_stop
				record storm kind=run "variant=$v" "round=$r" "run=$j" "storm=$d" \
					"stats0=$s0" "stats1=$s1" "records0=$m0" "records1=$m1" \
					"cpu0=$c0" "cpu1=$c1"
			else
				record storm kind=run "variant=$v" "round=$r" "run=$j" "storm=$d"
			fi
			log "storm round $r $v: neighbour $($PY "$BPY" get "$j" msgs_per_s) msg/s"
			sleep 0.5
		done
	done
	# pipelined rejects: the share of responses with the authorization error, by depth
	kg_start "$RIG_NS_BROKER" "$RIG_BROKER_IF" "$W/storm.yaml"
	for d in $([ "$QUICK" = 1 ] && echo 16 || echo 1 4 16 64); do
		j=$(rig_exec "$RIG_NS_US" "$BB/kwire" storm --to "$RIG_BROKER4:$RIG_PORT" \
			--topic storm.denied --conns 1 --depth "$d" --seconds 2 | jline)
		record storm kind=pipeline "depth=$d" "run=$j"
	done
	kg_stop
	part_end storm
}

# l3: spoofed SYNs from a denied region dropped by kgate's XDP and by nftables, in packets
# per CPU-second of the receiving interface's NAPI thread. gen -> mid (xdp_bounce) -> tgt.
part_l3() {
	local r v j g mid tgt a0 a1 b0 b1 tmac napi p0 p1 c0 c1 s0 s1 cpu0 cpu1
	part_begin l3
	g="$RIG_ID-lg" mid="$RIG_ID-lm" tgt="$RIG_ID-lt"
	a0="${RIG_ID}la" a1="${RIG_ID}lA" b0="${RIG_ID}lb" b1="${RIG_ID}lB"
	for ns in "$g" "$mid" "$tgt"; do
		ip netns add "$ns" || exit 1
		EXTRA_NS="$EXTRA_NS $ns"
		ip -n "$ns" link set lo up
	done
	rig_veth "$g" "$a0" "$mid" "$a1" || exit 1
	rig_veth "$mid" "$b0" "$tgt" "$b1" || exit 1
	ip -n "$tgt" addr add 10.97.0.2/24 dev "$b1"
	mkdir -p "/sys/fs/bpf/$RIG_ID/l3"
	rig_exec "$mid" bpftool prog load "$BB/xdp_bounce.bpf.o" "/sys/fs/bpf/$RIG_ID/l3/bounce" \
		type xdp pinmaps "/sys/fs/bpf/$RIG_ID/l3/maps" || exit 1
	# the devmap takes the ifindex in the namespace of whoever writes it
	rig_exec "$mid" bpftool map update pinned "/sys/fs/bpf/$RIG_ID/l3/maps/bounce_to" \
		key 0 0 0 0 value $($PY "$BPY" le32 "$(ip netns exec "$mid" cat "/sys/class/net/$b0/ifindex")")
	rig_exec "$mid" bpftool net attach xdpdrv pinned "/sys/fs/bpf/$RIG_ID/l3/bounce" dev "$a1" ||
		exit 1
	# NAPI on the target (it takes redirected frames only then), in a thread of its own
	ip netns exec "$tgt" ethtool -K "$b1" gro on >/dev/null
	tmac=$(ip -n "$tgt" -br link show "$b1" | awk '{print $3}')
	$PY "$BPY" policy "$W/l3.yaml" --l3 --version bench-l3
	for r in $(seq "$ROUNDS"); do
		for v in $(rotate "$r" kgate nft_netdev nft_prerouting); do
			case $v in
			kgate) kg_start "$tgt" "$b1" "$W/l3.yaml" --audit-file /dev/null ;;
			nft_*) $PY "$BPY" nft "$v" "$b1" | ip netns exec "$tgt" nft -f - || exit 1 ;;
			esac
			ip netns exec "$tgt" sh -c "echo 0 >/sys/class/net/$b1/threaded; echo 1 >/sys/class/net/$b1/threaded"
			napi=$($PY "$BPY" napi-pid "$b1") || exit 1
			taskset -p 2 "$napi" >/dev/null
			p0=$($PY "$BPY" schedstat "$napi")
			c0=$(ip netns exec "$tgt" cat /proc/net/snmp | $PY "$BPY" snmp Ip InReceives)
			case $v in
			kgate) s0=$(kg_stats); cpu0=$(kg_cpu) ;;
			nft_*) s0=$(ip netns exec "$tgt" nft -j list ruleset) ;;
			esac
			j=$(rig_exec "$g" "$BB/synflood" --dev "$a0" --dmac "$tmac" --src 10.30.0.10 \
				--count 4000 --dst 10.97.0.2 --seconds "$((SECS < 3 ? SECS : 3))" --cpu 0 | jline)
			sleep 0.2
			p1=$($PY "$BPY" schedstat "$napi")
			c1=$(ip netns exec "$tgt" cat /proc/net/snmp | $PY "$BPY" snmp Ip InReceives)
			case $v in
			kgate) s1=$(kg_stats); cpu1=$(kg_cpu); kg_stop ;;
			nft_*)
				s1=$(ip netns exec "$tgt" nft -j list ruleset)
				ip netns exec "$tgt" nft flush ruleset
				;;
			esac
			record l3 kind=run "variant=$v" "round=$r" "gen=$j" "napi_ns0=$p0" "napi_ns1=$p1" \
				"ip_in0=$c0" "ip_in1=$c1" "stats0=$s0" "stats1=$s1" "cpu0=${cpu0:-0}" \
				"cpu1=${cpu1:-0}"
			cpu0="" cpu1=""
		done
	done
	part_end l3
}

# A client host: namespace, veth to the router, ADDR/24 whose .1 is the router, no NAT.
add_host() { # tag addr -> sets HOST_NS HOST_IF
	local ns="$RIG_ID-$1" cif="${RIG_ID}${1}c" rif="${RIG_ID}${1}r"
	ip netns add "$ns" || exit 1
	EXTRA_NS="$EXTRA_NS $ns"
	ip -n "$ns" link set lo up
	rig_veth "$ns" "$cif" "$RIG_NS_ROUTER" "$rif" || exit 1
	ip -n "$RIG_NS_ROUTER" addr add "${2%.*}.1/24" dev "$rif"
	ip -n "$ns" addr add "$2/24" dev "$cif"
	ip -n "$ns" route add default via "${2%.*}.1"
	HOST_NS=$ns HOST_IF=$cif
}

# A scratch namespace with a veth pair (kgate attaches to one end) for the parts that
# drive the datapath with BPF_PROG_RUN: no traffic needed, no rig interfaces touched.
SC_NS=""
scratch_up() {
	[ -n "$SC_NS" ] && return 0
	SC_NS="$RIG_ID-sc"
	ip netns add "$SC_NS" || exit 1
	EXTRA_NS="$EXTRA_NS $SC_NS"
	ip -n "$SC_NS" link set lo up
	ip link add "${RIG_ID}s0" netns "$SC_NS" type veth peer name "${RIG_ID}s1" netns "$SC_NS"
	ip -n "$SC_NS" link set "${RIG_ID}s0" up
	ip -n "$SC_NS" link set "${RIG_ID}s1" up
	# librdkafka resolves 127.0.0.1 (AI_ADDRCONFIG) only where an IPv4 address exists
	ip -n "$SC_NS" addr add 10.96.0.1/24 dev "${RIG_ID}s0"
	SC_IF="${RIG_ID}s0"
	$PY "$BPY" policy "$W/scratch.yaml" --audit-topics 16 --version bench-scratch
}

# flows: kernel memory per million flows; established connections under a SYN flood;
# throughput with loss and reordering (XDP and TC ingress); 40,000 idle connections (the
# flow table of 32,768 entries once evicted the oldest).
part_flows() {
	local r v j n a p t0 flood_s settle pre tot nm tmac np pids
	part_begin flows
	# 1. memory: a million connections opened through the datapath, the maps as the kernel
	#    reports them
	scratch_up
	kg_start "$SC_NS" "$SC_IF" "$W/scratch.yaml" --audit-file /dev/null
	n=$([ "$QUICK" = 1 ] && echo 100000 || echo 1000000)
	j=$(timeout 300 "$BB/bpfrun" flows --pins "$KGATE_PIN_ROOT/$SC_IF" --count "$n" | jline)
	record flows kind=memory "run=$j"
	kg_stop

	# 2. a SYN flood from the eu range while 100 light connections and a producer run
	add_host fl 10.10.250.2
	FL_NS=$HOST_NS FL_IF=$HOST_IF
	# the broker's answers to spoofed sources end at the router, as on the internet
	ip -n "$RIG_NS_ROUTER" route add blackhole 10.10.128.0/17
	# spoofed SYNs stay out of conntrack (its table is the host's, shared by every
	# namespace) and meet a listener of their own on the broker address: SYN cookies
	B_EXEC iptables -t raw -A PREROUTING -s 10.10.128.0/17 -j CT --notrack
	rig_spawn "$RIG_NS_BROKER" flood-listener "$BB/relay" --listen "$RIG_BROKER4:$RIG_PORT" --sink
	rig_wait_line flood-listener READY >/dev/null || exit 1
	tmac=$(ip -n "$RIG_NS_ROUTER" -br link show "${RIG_ID}flr" | awk '{print $3}')
	flood_s=$([ "$QUICK" = 1 ] && echo 4 || echo 10)
	pre=3 settle=5
	tot=$((pre + flood_s + settle))
	for r in $(seq "$([ "$QUICK" = 1 ] && echo 1 || echo 2)"); do
		for v in $(rotate "$r" kgate none); do
			[ "$v" = kgate ] && kg_start "$RIG_NS_BROKER" "$RIG_BROKER_IF" "$W/p1000-default.yaml"
			[ "$v" = kgate ] && s0=$(kg_stats)
			rig_spawn "$RIG_NS_EU" active "$BB/kwire" active --to "$RIG_BROKER4:$RIG_PORT" \
				--topic bench.t --conns 100 --interval-ms 100 --seconds "$tot" \
				--window "$pre:$((pre + flood_s + 1))" --stall-s 1
			a=$RIG_LAST_PID
			sleep 1
			# busy, but paced: a producer flat out would starve the mock's one thread of
			# time for the light connections, flood or not
			rig_spawn "$RIG_NS_EU" busy "$BB/kprod" --bootstrap "$RIG_BROKER4:$RIG_PORT" \
				--topic bench.t --size 100 --rate 20000 --seconds "$((tot - 1))" --warmup 1 \
				--timeline-ms 500 --client-id busy
			p=$RIG_LAST_PID
			sleep "$((pre - 1))"
			j=$(rig_exec "$FL_NS" "$BB/synflood" --dev "$FL_IF" --dmac "$tmac" \
				--src 10.10.128.1 --count 32000 --dst "$RIG_BROKER4" --seconds "$flood_s" | jline)
			wait "$a" "$p"
			[ "$v" = kgate ] && { s1=$(kg_stats); kg_stop; }
			record flows kind=flood "variant=$v" "round=$r" "gen=$j" \
				"active=$(jline <"$RIG_DIR/active.out")" "busy=$(jline <"$RIG_DIR/busy.out")" \
				"stats0=${s0:-{\}}" "stats1=${s1:-{\}}" "flood_at=$pre" "flood_s=$flood_s"
			s0="" s1=""
			log "flows flood round $r $v: $(jline <"$RIG_DIR/active.out" | cut -c1-160)"
			sleep 1
		done
	done
	B_EXEC iptables -t raw -D PREROUTING -s 10.10.128.0/17 -j CT --notrack
	kill "$(awk '$2 == "flood-listener" {print $1}' "$RIG_DIR/pids")" 2>/dev/null

	# 3. loss and reordering on the router (bench/netem.bpf.c) for one client, 10 KiB values
	rig_add_client ls 10.10.3.2 - || exit 1 # with the DNAT a librdkafka client needs
	LO_NS=$RIG_LAST_NS
	# one segment per packet, as on a wire: a lost GSO super-packet would be 45 losses
	ip netns exec "$LO_NS" ethtool -K "${RIG_ID}lsc" tso off gso off >/dev/null
	ip link add "${RIG_ID}nl0" netns "$RIG_NS_ROUTER" type veth peer name "${RIG_ID}nl1" \
		netns "$RIG_NS_ROUTER"
	ip -n "$RIG_NS_ROUTER" link set "${RIG_ID}nl0" up
	ip -n "$RIG_NS_ROUTER" link set "${RIG_ID}nl1" up
	rig_spawn "$RIG_NS_ROUTER" netem "$BB/netem" --dev "${RIG_ID}rb" --loop "${RIG_ID}nl0" \
		--back "${RIG_ID}nl1" --src 10.10.3.2 --drop-ppm "${BENCH_LOSS_PPM:-10000}" \
		--reorder-ppm "${BENCH_REORDER_PPM:-10000}"
	nm=$RIG_LAST_PID
	rig_wait_line netem READY >/dev/null || exit 1
	for r in $(seq "$ROUNDS"); do
		for v in $(rotate "$r" none xdp_pass kgate_default kgate_tci); do
			v_up "$v"
			[ "${v#kgate_}" != "$v" ] && s0=$(kg_stats)
			t0=$(rig_exec "$LO_NS" cat /proc/net/snmp /proc/net/netstat | $PY "$BPY" tcpstats)
			j=$(rig_exec "$LO_NS" "$BB/kprod" --bootstrap "$RIG_BROKER4:$RIG_PORT" \
				--topic bench.t --size 10240 --seconds "$SECS" --warmup 1 --label "$v" | jline)
			t1=$(rig_exec "$LO_NS" cat /proc/net/snmp /proc/net/netstat | $PY "$BPY" tcpstats)
			[ "${v#kgate_}" != "$v" ] && s1=$(kg_stats)
			v_down "$v"
			record flows kind=ooo "variant=$v" "round=$r" "run=$j" "tcp0=$t0" "tcp1=$t1" \
				"stats0=${s0:-{\}}" "stats1=${s1:-{\}}"
			s0="" s1=""
			log "flows ooo round $r $v: $($PY "$BPY" get "$j" msgs_per_s) msg/s"
		done
	done
	kill "$nm"
	wait "$nm"
	record flows kind=netem "run=$(jline <"$RIG_DIR/netem.out")"

	# 4. 40,000 idle connections held, then the oldest and newest probed
	if [ "$QUICK" != 1 ]; then
		pids=""
		for _ in 1 2 3; do # one process holds at most ~20,000 sockets here
			rig_spawn "$RIG_NS_BROKER" stub "$BB/relay" --listen 127.0.0.1:19103 --stub
			pids="$pids $RIG_LAST_PID"
		done
		sleep 0.3
		rig_backend 19103
		np=${BENCH_IDLE_CONNS:-40000}
		n=4
		for v in kgate none; do
			# a host per variant: a second run from one host would meet its own TIME_WAITs
			add_host "i${v:0:1}" "10.10.$n.2"
			n=$((n + 1))
			[ "$v" = kgate ] && kg_start "$RIG_NS_BROKER" "$RIG_BROKER_IF" "$W/p1000-default.yaml"
			[ "$v" = kgate ] && s0=$(kg_stats)
			j=$(rig_exec "$HOST_NS" "$BB/kwire" idle --to "$RIG_BROKER4:$RIG_PORT" --conns "$np" \
				--hold-s 2 --probe 100 --seconds 120 | jline)
			[ "$v" = kgate ] && { s1=$(kg_stats); kg_stop; }
			record flows kind=idle "variant=$v" "run=$j" "stats0=${s0:-{\}}" "stats1=${s1:-{\}}"
			s0="" s1=""
			log "flows idle $v: $j"
			sleep 2
		done
		rig_backend "$RIG_MOCK_PORT"
		for p in $pids; do kill "$p"; done
	fi
	part_end flows
}

# audit: the agent's pipeline. The agent is stopped (SIGSTOP), the datapath fills its ring
# buffer (bench/bpfrun.c events), the agent continues: how fast it turns those events into
# records (agent CPU), and how fast they reach the audit topic on the mock.
part_audit() {
	local r mode k j c0 c1 m0 m1 t0 t1 s0 s1 key amock
	part_begin audit
	scratch_up
	k=$([ "$QUICK" = 1 ] && echo 50000 || echo 200000)
	amock=$(rig_mock "$SC_NS" audit-mock-bench kgate.bench) || exit 1
	for mode in file kafka; do
		if [ "$mode" = file ]; then
			kg_start "$SC_NS" "$SC_IF" "$W/scratch.yaml" --audit-file /dev/null
			key=kgate_audit_records_total
		else
			kg_start "$SC_NS" "$SC_IF" "$W/scratch.yaml" --audit-brokers "127.0.0.1:$amock" \
				--audit-topic kgate.bench
			key=kgate_audit_delivered_total
		fi
		s0=$(kg_stats)
		for r in $(seq "$ROUNDS"); do
			# read before the stop: a stopped agent serves no metrics
			m0=$(kg_metric "$key")
			kill -STOP "$KG_PID"
			# new connections every round: the last round's would be retransmissions; each
			# closed after its Produce (the metrics the wait below reads walk the flows)
			j=$("$BB/bpfrun" events --pins "$KGATE_PIN_ROOT/$SC_IF" --count "$k" --topics 10 \
				--first "$((r * k))" --close | jline)
			c0=$(kg_cpu)
			t0=$(date +%s.%N)
			kill -CONT "$KG_PID"
			m1=$($PY "$BPY" wait-metric "http://$METRICS/metrics" "$key" "$m0" "$k" 60 "$SC_NS")
			t1=$(date +%s.%N)
			c1=$(kg_cpu)
			record audit kind=run "mode=$mode" "round=$r" "events=$k" "fill=$j" "m0=$m0" \
				"m1=$m1" "cpu0=$c0" "cpu1=$c1" "t0=$t0" "t1=$t1"
			log "audit $mode round $r: $((m1 - m0)) records"
		done
		s1=$(kg_stats)
		record audit kind=stats "mode=$mode" "stats0=$s0" "stats1=$s1" \
			"gaps=$(kg_metric kgate_audit_gap_records_total)"
		kg_stop
	done
	part_end audit
}

# policy: compile and atomic apply of 10,000 rules, `kgate policy apply`, wall time.
part_policy() {
	local r out t0 t1
	part_begin policy
	scratch_up
	$PY "$BPY" policy "$W/p10k-a.yaml" --rules 10000 --version bench-10k-a
	$PY "$BPY" policy "$W/p10k-b.yaml" --rules 10000 --version bench-10k-b
	kg_start "$SC_NS" "$SC_IF" "$W/scratch.yaml" --audit-file /dev/null
	for r in $(seq $((ROUNDS + 2))); do
		for p in a b; do
			t0=$(date +%s%N)
			out=$(rig_exec "$SC_NS" "$KGATE" policy apply --iface "$SC_IF" "$W/p10k-$p.yaml" 2>&1)
			t1=$(date +%s%N)
			record policy kind=apply "round=$r" "ms=$(((t1 - t0) / 1000))e-3" "out=$out"
		done
	done
	kg_stop
	part_end policy
}

# ---- main -------------------------------------------------------------------------------------

T_START=$(date +%s)
log "parts: $PARTS; quick=$QUICK rounds=$ROUNDS seconds=$SECS; load $(cut -d' ' -f1-3 /proc/loadavg)"
rig_start
for part in $PARTS; do
	case $part in
	datapath | e2e | storm | l3 | flows | audit | policy) "part_$part" ;;
	*) log "unknown part $part"; exit 2 ;;
	esac
done
rc=0
$PY "$BPY" report --out "$OUT" --results "${BENCH_RESULTS:-bench/results.json}" \
	--md "${BENCH_MD:-bench/BENCHMARKS.md}" --png "${BENCH_PNG:-bench/benchmarks.png}" --parts "$PARTS" --quick "$QUICK" --rounds "$ROUNDS" \
	--seconds "$SECS" --elapsed "$(($(date +%s) - T_START))" || rc=1
log "done in $(($(date +%s) - T_START)) s"
exit $rc
