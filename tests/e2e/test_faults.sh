#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fault suite, on the end-to-end rig (scripts/rig.sh) with real client
# load: confluent_kafka producer loops (tests/e2e/faults.py load) from eu and us, each
# sending one Produce request per message to an allowed and a denied topic, run through
# every fault:
#  1. SIGKILL of the agent: enforcement goes on with no agent (denied stays denied,
#     allowed stays allowed), a restarted agent adopts the pins (same program ids), and
#     the audit has no unreported loss: every decision the datapath counted
#     (`kgate stats -o json` verdicts) has a record or is covered by a gap record; no
#     duplicate seq.
#  2. The audit broker down for 30 s (our own audit mock, stdin-controlled down/up):
#     records are spooled (kgate_audit_spool_records), then delivered exactly once, in
#     order by seq; counts match the datapath counters.
#  3. A broken policy applied: refused with FILE:LINE:COL, exit 1; the old policy keeps
#     enforcing and `policy show` is unchanged.
#  4. A 10,000-rule policy applied: every audit record carries the old or the new
#     version and each decision is its version's reference result (`kgate policy eval`).
# Prints a table (fault | expectation | observed | ok/FAIL); exit 1 on any failure.
#
#   tests/e2e/test_faults.sh        (root; KGATE=path/to/kgate, BUILD=dir)
#
# Everything lives in the rig's namespaces, a pin root, state and run directories named
# after the run; the trap removes them (and the audit mock and load we started).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ "$(id -u)" -eq 0 ] || { echo "test_faults: needs root (netns, BPF)" >&2; exit 1; }
KGATE=$(realpath "${KGATE:-${BUILD:-build}/kgate}")
[ -x "$KGATE" ] || { echo "test_faults: $KGATE not built" >&2; exit 1; }
"$KGATE" policy eval --help >/dev/null 2>&1 || { echo "test_faults: $KGATE has no 'policy eval'" >&2; exit 1; }
PY=/usr/bin/python3
FPY="$ROOT/tests/e2e/faults.py"
OUTAGE=${FAULTS_OUTAGE_S:-30}
T_START=$(date +%s)
source scripts/rig.sh

AMOCK_PID=""
HOLD_PID=""
KGATE_PID=""
LOAD_PIDS=""
cleanup() {
	set +e
	for p in $LOAD_PIDS; do kill "$p" 2>/dev/null; done
	if [ -n "${RIG_ID:-}" ] && [ -n "${KGATE_PIN_ROOT:-}" ]; then
		[ -n "$KGATE_PID" ] && kill "$KGATE_PID" 2>/dev/null && wait "$KGATE_PID" 2>/dev/null
		"$KGATE" detach --iface "$RIG_BROKER_IF" >/dev/null 2>&1
	fi
	# only our own pids: a bare `wait` would also wait for the rig's relays
	for p in $AMOCK_PID $HOLD_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "${FAILED:-}" ] && [ -n "${RIG_DIR:-}" ] && tail -20 "$RIG_DIR"/kgate*.err >&2
	rig_down
}
trap cleanup EXIT

# ---- results ---------------------------------------------------------------------------
ROWS=()
fails=0
row() { # fault expectation observed ok|FAIL
	ROWS+=("$1|$2|$3|$4")
	[ "$4" = ok ] || fails=$((fails + 1))
	printf '%-4s %-18s %s -- %s\n' "$4" "$1" "$2" "$3"
}
table() {
	local r f e o s
	echo
	printf '%-20s | %-62s | %-70s | %s\n' fault expectation observed ok/FAIL
	printf '%s\n' "$(printf '%.0s-' $(seq 170))"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r f e o s <<<"$r"
		printf '%-20s | %-62s | %-70s | %s\n' "$f" "$e" "$o" "$s"
	done
}
jget() { $PY -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))' "$1" "$2"; }

# ---- the rig, our audit mock, the policies ------------------------------------------------
rig_up || exit 1
export KGATE_PIN_ROOT=/sys/fs/bpf/$RIG_ID KGATE_STATE_DIR=$RIG_DIR/state KGATE_RUN_DIR=$RIG_DIR/run
W=$RIG_DIR/faults
mkdir -p "$W"
B() { rig_exec "$RIG_NS_BROKER" "$@"; }

# The rig's audit mock ignores stdin; ours takes down/up through a FIFO that a holder
# keeps open (the mock stops at EOF on stdin).
mkfifo "$W/amock.in"
sleep 100000 >"$W/amock.in" &
HOLD_PID=$!
(exec nsenter --net="/run/netns/$RIG_NS_BROKER" -- "$(rig_tool mock_broker)" --topic kgate.faults:1 \
	<"$W/amock.in" >"$W/amock.out" 2>"$W/amock.err") &
AMOCK_PID=$!
echo "$AMOCK_PID audit-mock-faults" >>"$RIG_DIR/pids"
line=$(RIG_DIR=$W rig_wait_line amock '^BOOTSTRAP ') || { FAILED=1; exit 1; }
AUDIT_BROKERS=${line#BOOTSTRAP }
amock() { echo "$1" >"$W/amock.in"; }

# base: fault.denied and flip.closed are closed to produce; eu.* only from eu
cat >"$W/base.yaml" <<'EOF'
version: "faults-base"
mode: enforce
default: reject
audit:
  allow: all
listeners:
  - port: 9092
    on_undecodable: reset
regions:
  eu: [10.10.0.0/16, "fd00:10::/32"]
  us: [10.20.0.0/16, "fd00:20::/32"]
rules:
  - name: eu-only
    topics: ["eu.*"]
    regions_not: [eu]
    action: reject
  - name: no-produce-denied
    topics: [fault.denied, flip.closed]
    operations: [produce]
    action: reject
  - name: clients-in-regions
    regions: [eu, us]
    action: allow
EOF
# broken: an invalid CIDR; where it is, as FILE:LINE:COL (1-based)
sed 's/^  us: \[10.20.0.0\/16/  us: [10.20.0.300\/16/' "$W/base.yaml" >"$W/broken.yaml"
sed -i 's/^version: "faults-base"/version: "faults-broken"/' "$W/broken.yaml"
BROKEN_AT=$(awk '{ i = index($0, "10.20.0.300"); if (i) { print NR ":" i; exit } }' "$W/broken.yaml")
$PY "$FPY" gen-big "$W/big.yaml" faults-big 10000

METRICS=127.0.0.1:9465
start_agent() { # log name
	rig_spawn "$RIG_NS_BROKER" "$1" "$KGATE" run --iface "$RIG_BROKER_IF" --policy "$W/base.yaml" \
		--audit-brokers "$AUDIT_BROKERS" --audit-topic kgate.faults \
		--audit-file "$W/audit.jsonl" --metrics-addr "$METRICS" --node "faults-$RIG_ID"
	KGATE_PID=$RIG_LAST_PID
	for _ in $(seq 100); do
		grep -q "running:" "$RIG_DIR/$1.err" 2>/dev/null && return 0
		kill -0 "$KGATE_PID" 2>/dev/null || break
		sleep 0.1
	done
	FAILED=1
	echo "test_faults: kgate run did not start" >&2
	cat "$RIG_DIR/$1.err" >&2
	return 1
}
metric() { B $PY "$FPY" metric "http://$METRICS/metrics" "$1"; }
stats() { B "$KGATE" stats -o json >"$1"; }
prog_id() { bpftool -j prog show pinned "$KGATE_PIN_ROOT/$RIG_BROKER_IF/$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# load PHASE TOPICS_EU TOPICS_US: producer loops from eu and us until $W/PHASE.stop
load_start() {
	local ph=$1 t args
	rm -f "$W/$ph.stop"
	args=()
	for t in $2; do args+=(--topic "$t"); done
	rig_spawn "$RIG_NS_EU" "load-$ph-eu" $PY "$FPY" load --bootstrap "$RIG_BROKER4:$RIG_PORT" \
		"${args[@]}" --rate 5 --out "$W/$ph-eu.jsonl" --stop "$W/$ph.stop" --client-id "load-eu"
	LOAD_PIDS="$LOAD_PIDS $RIG_LAST_PID"
	args=()
	for t in $3; do args+=(--topic "$t"); done
	rig_spawn "$RIG_NS_US" "load-$ph-us" $PY "$FPY" load --bootstrap "$RIG_BROKER4:$RIG_PORT" \
		"${args[@]}" --rate 5 --out "$W/$ph-us.jsonl" --stop "$W/$ph.stop" --client-id "load-us"
	LOAD_PIDS="$LOAD_PIDS $RIG_LAST_PID"
}
load_stop() {
	local p
	touch "$W/$1.stop"
	for p in $LOAD_PIDS; do wait "$p" 2>/dev/null; done
	LOAD_PIDS=""
}
outcomes() { # phase since until [allowed denied]
	$PY "$FPY" outcomes "$W/$1-eu.jsonl" "$W/$1-us.jsonl" --since "$2" --until "$3" \
		--allowed "${4:-fault.allowed}" --denied "${5:-fault.denied}" --denied-meta eu.orders
}
# Waits (up to ~30 s) until the agent has shipped every decision the datapath counted, then
# consumes the audit topic to $W/kafka.jsonl.
drain_and_consume() {
	for _ in $(seq 150); do
		stats "$W/stats.json"
		B $PY "$FPY" drained "http://$METRICS/metrics" "$W/stats.json" && break
		sleep 0.1
	done
	B timeout 30 kcat -C -b "$AUDIT_BROKERS" -t kgate.faults -o beginning -e -q >"$W/kafka.jsonl" 2>"$W/kcat.err"
}
rtime() { date +%s.%N; }
# oc_row FAULT EXPECTATION OUTCOMES_JSON RC: a row from `faults.py outcomes`
oc_row() {
	local obs
	obs=$(jget "$3" '"allowed %d ok/%d bad, denied %d refused/%d not" % (allowed_ok, allowed_bad, denied_ok, denied_bad)')
	[ "$4" -eq 0 ] || obs="$obs; $(jget "$3" '", ".join("%s %d" % kv for kv in sorted(errors.items()))')"
	row "$1" "$2" "$obs" "$([ "$4" -eq 0 ] && echo ok || echo FAIL)"
}

start_agent kgate1 || exit 1
if ! ip -n "$RIG_NS_BROKER" link show "$RIG_BROKER_IF" | grep -q "xdp "; then
	FAILED=1
	echo "FAIL: no native XDP on $RIG_BROKER_IF" >&2
	exit 1
fi
LOAD_EU="fault.allowed fault.denied"
# eu.orders from us: residency denies its Metadata too; produced to partition 0 so that
# librdkafka fails it at once (see faults.py outcomes: UNKNOWN_PARTITION against the mock)
LOAD_US="fault.allowed fault.denied eu.orders@0"

# ---- 1. SIGKILL under load -----------------------------------------------------------------
XP=$(prog_id prog_xdp)
TP=$(prog_id prog_tc_egress)
load_start f1 "$LOAD_EU" "$LOAD_US"
sleep 3
kill -9 "$KGATE_PID"
wait "$KGATE_PID" 2>/dev/null
T_KILL=$(rtime)
sleep 5
T_RESTART=$(rtime)
o=$(outcomes f1 "$(echo "$T_KILL + 0.3" | bc)" "$T_RESTART" fault.allowed fault.denied)
orc=$?
oc_row "1 SIGKILL" "no agent for 5 s: denied stays denied, allowed stays allowed" "$o" $orc
start_agent kgate2 || exit 1
XP2=$(prog_id prog_xdp)
TP2=$(prog_id prog_tc_egress)
if grep -q "$RIG_BROKER_IF: adopted what was pinned" "$RIG_DIR/kgate2.err" && [ "$XP" = "$XP2" ] && [ "$TP" = "$TP2" ]; then
	row "1 SIGKILL" "restart adopts the pins: same program ids" "adopted; XDP $XP2, TC $TP2 (were $XP, $TP)" ok
else
	row "1 SIGKILL" "restart adopts the pins: same program ids" "XDP $XP -> $XP2, TC $TP -> $TP2; $(grep -c adopted "$RIG_DIR/kgate2.err") adopt lines" FAIL
fi
sleep 3
o=$(outcomes f1 "$T_START" 1e18)
orc=$?
oc_row "1 SIGKILL" "whole phase: every allowed delivered, every denied refused" "$o" $orc
load_stop f1
drain_and_consume
a=$($PY "$FPY" audit "$W/kafka.jsonl" "$W/stats.json" --kafka --first 1 --window "$T_KILL" "$T_RESTART")
arc=$?
echo "   1: $a"
row "1 SIGKILL" "audit: counted decisions = records' counts + gap-declared loss; no dup seq" \
	"$(jget "$a" '"counted %d = %d in %d records + %d lost (%d gap records), %d decided with no agent; %d dups, seq %s..%s" % (counted, decisions, decision_records, lost_deny + lost_allow, gap_records, in_window, duplicates, first_seq, last_seq)')" \
	"$([ $arc -eq 0 ] && echo ok || echo FAIL)"
F1_LAST=$(jget "$a" last_seq)

# ---- 2. the audit broker down for $OUTAGE s under load -----------------------------------------
load_start f2 "$LOAD_EU" "$LOAD_US"
sleep 1
amock down
T_DOWN=$(rtime)
maxspool=0
lag=0
while [ "$(echo "$(rtime) - $T_DOWN < $OUTAGE" | bc)" = 1 ]; do
	s=$(metric kgate_audit_spool_records 2>/dev/null || echo 0)
	[ "${s%.*}" -gt "$maxspool" ] 2>/dev/null && maxspool=${s%.*} && lag=$(metric kgate_audit_delivery_lag_seconds)
	sleep 1
done
delivered_before=$(metric kgate_audit_delivered_total)
amock up
T_UP=$(rtime)
# how long until the spool empties once the broker is back
for _ in $(seq 300); do
	[ "$(metric kgate_audit_spool_records 2>/dev/null)" = 0 ] && break
	sleep 0.1
done
T_EMPTY=$(rtime)
delivered_after=$(metric kgate_audit_delivered_total)
sleep 2
load_stop f2
o=$(outcomes f2 0 1e18)
orc=$?
oc_row "2 audit down ${OUTAGE}s" "enforcement unaffected by the audit outage" "$o" $orc
row "2 audit down ${OUTAGE}s" "records spooled while down (metrics: spool depth > 0)" \
	"max spool depth $maxspool records (lag ${lag}s); delivered stuck at ${delivered_before%.*}" \
	"$([ "$maxspool" -gt 0 ] && echo ok || echo FAIL)"
drain_and_consume
a=$($PY "$FPY" audit "$W/kafka.jsonl" "$W/stats.json" --kafka --first 1)
arc=$?
echo "   2: $a"
catchup=$(echo "$T_EMPTY - $T_UP" | bc)
row "2 audit down ${OUTAGE}s" "back: delivered exactly once, in order; counts = counters" \
	"$(jget "$a" '"seq %s..%s, %d dups, in order %s, counted %d = %d + %d lost" % (first_seq, last_seq, duplicates, in_order and contiguous, counted, decisions, lost_deny + lost_allow)'); spool empty $(printf '%.1f' "$catchup") s after up (${delivered_before%.*} -> ${delivered_after%.*} delivered)" \
	"$([ $arc -eq 0 ] && echo ok || echo FAIL)"

# ---- 3. a broken policy applied under load ------------------------------------------------
B "$KGATE" policy show -o json >"$W/show.before"
load_start f3 "$LOAD_EU" "$LOAD_US"
sleep 2
(cd "$W" && B "$KGATE" policy apply broken.yaml >"$W/apply3.out" 2>"$W/apply3.err")
arc=$?
T_APPLY=$(rtime)
sleep 3
load_stop f3
B "$KGATE" policy show -o json >"$W/show.after"
msg=$(head -1 "$W/apply3.err")
if [ $arc -eq 1 ] && grep -q "^broken.yaml:$BROKEN_AT: " "$W/apply3.err"; then
	row "3 broken policy" "refused: exit 1, FILE:LINE:COL ($BROKEN_AT)" "exit $arc: ${msg:0:68}" ok
else
	row "3 broken policy" "refused: exit 1, FILE:LINE:COL ($BROKEN_AT)" "exit $arc: ${msg:0:68}" FAIL
fi
if cmp -s "$W/show.before" "$W/show.after" && grep -q faults-base "$W/show.after"; then
	row "3 broken policy" "policy show unchanged (faults-base)" "identical before and after" ok
else
	row "3 broken policy" "policy show unchanged (faults-base)" "changed: $(head -c 60 "$W/show.after")" FAIL
fi
o=$(outcomes f3 "$T_APPLY" 1e18)
orc=$?
oc_row "3 broken policy" "after the attempt: denied stays denied, allowed stays allowed" "$o" $orc

# ---- 4. a 10,000-rule policy applied under produce load -------------------------------------
load_start f4 "$LOAD_EU flip.open flip.closed" "$LOAD_US flip.open"
sleep 3
T_APPLY=$(rtime)
B "$KGATE" policy apply -o json "$W/big.yaml" >"$W/apply4.out" 2>"$W/apply4.err"
arc=$?
T_APPLIED=$(rtime)
sleep 4
load_stop f4
ap=$($PY -c 'import json,sys
t=json.load(open(sys.argv[1]))  # an array: one object per interface
d=t[-1] if t else {}
print(", ".join("%s=%s" % (k, d[k]) for k in sorted(d) if k.endswith("_us") or k.endswith("_ms")))' "$W/apply4.out" 2>/dev/null)
row "4 10k-rule apply" "applied under load (exit 0)" "exit $arc in $(printf '%.2f' "$(echo "$T_APPLIED - $T_APPLY" | bc)") s; ${ap:0:60}" \
	"$([ $arc -eq 0 ] && echo ok || echo FAIL)"
o=$(outcomes f4 "$(echo "$T_APPLIED + 1" | bc)" 1e18 fault.allowed,flip.closed fault.denied,flip.open)
orc=$?
oc_row "4 10k-rule apply" "after it: flip.open refused, flip.closed delivered" "$o" $orc
drain_and_consume
v=$($PY "$FPY" versions "$W/kafka.jsonl" "$KGATE" "faults-base=$W/base.yaml" "faults-big=$W/big.yaml")
vrc=$?
echo "   4: $v"
row "4 10k-rule apply" "every record: old or new version, = its reference result" \
	"$(jget "$v" '"%d records: %s; other versions %d; mismatches %d" % (records, ", ".join("%s %d" % kv for kv in sorted(by_version.items())), other_version, mismatches)')" \
	"$([ $vrc -eq 0 ] && echo ok || echo FAIL)"
a=$($PY "$FPY" audit "$W/kafka.jsonl" "$W/stats.json" --kafka --first 1)
arc=$?
echo "   end: $a"
row "all" "whole run: audit = counters, exactly once, in order" \
	"$(jget "$a" '"seq %s..%s, %d dups, counted %d = %d + %d lost (%d gaps)" % (first_seq, last_seq, duplicates, counted, decisions, lost_deny + lost_allow, gap_records)')" \
	"$([ $arc -eq 0 ] && echo ok || echo FAIL)"

# the broker holds nothing a denied request carried
n_denied=0
for t in fault.denied eu.orders; do
	c=$(rig_exec "$RIG_NS_EU" timeout 15 kcat -C -b "$RIG_BROKER4:$RIG_PORT" -t "$t" -o beginning -e -q 2>/dev/null | grep -c 'fault-load' || true)
	n_denied=$((n_denied + c))
done
row "all" "the broker holds no record of a denied topic" "$n_denied in fault.denied + eu.orders" \
	"$([ "$n_denied" -eq 0 ] && echo ok || echo FAIL)"

table
echo
echo "test_faults: $((${#ROWS[@]} - fails)) ok, $fails failed, $(($(date +%s) - T_START)) s"
[ $fails -eq 0 ] || FAILED=1
[ $fails -eq 0 ]
