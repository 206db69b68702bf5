#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A deny storm, end to end on the rig (scripts/rig.sh) with kgate attached (native XDP + TC
# egress), every allow audited, audit.fold 1s, audit.budget 1000 (bpf/fold.h):
#  - one client (us) hammers a denied topic: STORM_CONNS connections x 64 pipelined Produce
#    requests to eu.orders (bench/kwire.c storm), a new one for each answer;
#  - beside it, a neighbour (eu) on STORM_NB connections asks for Metadata of an allowed
#    topic every 20 ms (tests/e2e/flows.py active).
# Checked from the audit file, while the agent still runs (its sweep sends the summaries
# of the connections that went quiet) and after it stopped:
#  - the storm was one (over 5,000 rejects) and every answer said TOPIC_AUTHORIZATION_FAILED;
#  - the rejects' records are few (a first record and about one summary a second per
#    connection), and their counts add up to the datapath's reject counter exactly;
#  - the neighbour's records' counts add up to the datapath's allow counter exactly, and
#    to at least the answers it got: none of its decisions was pushed out;
#  - no event was lost, no gap record written, nothing folded past a budget.
# Prints ok/FAIL lines; exit 1 on any failure.
#
#   tests/e2e/test_storm.sh        (root; KGATE=path/to/kgate, BUILD=dir)
#
# Everything lives in the rig's namespaces and a pin root named after the run; the trap
# removes them.
set -uo pipefail
cd "$(dirname "$0")/../.."
# storm connections, neighbour connections, the storm's seconds
CONNS=${STORM_CONNS:-4} NB=${STORM_NB:-5} SECS=${STORM_SECONDS:-4}
NAME=test_storm
source tests/e2e/lib_agent.sh
KWIRE=$(e2e_tool "$BUILD/bench/kwire") || exit 1


# The audit file's decision records against two `kgate stats` snapshots: one JSON line
# (reject and allow decisions by the counters and in the records' counts, records by
# verdict, the most any storm connection made, gaps, folded, lost).
tally() {
	"$PY" - "$RIG_DIR/audit.jsonl" "$1" "$2" <<'EOF'
import json, sys
recs = []
for l in open(sys.argv[1]):
    try:
        recs.append(json.loads(l))
    except ValueError:
        pass  # the line the agent is writing
s0, s1 = json.loads(sys.argv[2]), json.loads(sys.argv[3])
def d(sec, k):
    return s1[sec].get(k, 0) - s0[sec].get(k, 0)
dec = [r for r in recs if r["kind"] in ("topic", "request")]
out = {"decision_records": len(dec), "gaps": sum(r["kind"] == "gap" for r in recs)}
for v in ("reject", "allow"):
    rs = [r for r in dec if r["verdict"] == v]
    out[v] = {"counter": d("verdicts", v), "counts": sum(r["count"] for r in rs),
              "records": len(rs)}
per = {}
for r in dec:
    if r["verdict"] == "reject":
        per[r["src_port"]] = per.get(r["src_port"], 0) + 1
out["most_per_storm_conn"] = max(per.values()) if per else 0
out["storm_conns"] = len(per)
out["folded"] = sum(r["folded"] for r in dec)
out["lost"] = d("counters", "events_lost_deny") + d("counters", "events_lost_allow")
print(json.dumps(out))
EOF
}

e2e_up
# the evasion policy (eu.* rejected from us, open.* allowed), the storm's settings said
sed -e 's/^  allow: all$/  allow: all\n  fold: 1s\n  budget: 1000/' \
	-e 's/^version: .*/version: "storm-1"/' tests/e2e/policies/evasion.yaml >"$RIG_DIR/policy.yaml"
grep -q '^  fold: 1s$' "$RIG_DIR/policy.yaml" || { echo "test_storm: policy not written" >&2; exit 1; }
e2e_agent --policy "$RIG_DIR/policy.yaml" --audit-file "$RIG_DIR/audit.jsonl" --node "st-$RIG_ID"

s0=$(stats)
total=$((SECS + 2))
rig_spawn "$RIG_NS_EU" neighbour "$PY" tests/e2e/flows.py active --to "$RIG_BROKER4:$RIG_PORT" \
	--conns "$NB" --seconds "$total" --interval-ms 20 --topic open.events
NPID=$RIG_LAST_PID
rig_wait_line neighbour "^READY $NB\$" >/dev/null || bad "not every neighbour connection answered"
sleep 1
storm=$(rig_exec "$RIG_NS_US" "$KWIRE" storm --to "$RIG_BROKER4:$RIG_PORT" --topic eu.orders \
	--conns "$CONNS" --depth 64 --seconds "$SECS" | grep '^{' | tail -1)
wait "$NPID"
nb=$(tail -1 "$RIG_DIR/neighbour.out")
echo "     storm: $storm"
echo "     neighbour: $nb"
resp=$(jget "$storm" 'd["responses"]')
if [ "$resp" -gt 5000 ] && [ "$(jget "$storm" 'd["errors"].get("29", 0)')" = "$resp" ] &&
	[ "$(jget "$storm" 'd["resets"]')" = 0 ]; then
	ok "storm: $resp rejected writes answered, every one with 29, no reset"
else
	bad "storm: $storm"
fi

# while the agent runs: its sweep sends what the quiet connections left pending (up to a
# window and a sweep after the last decision)
s1=$(stats)
for _ in $(seq 50); do
	t=$(tally "$s0" "$s1")
	[ "$(jget "$t" 'd["reject"]["counts"] == d["reject"]["counter"]')" = True ] && break
	sleep 0.1
done
echo "     running agent: $t"
if [ "$(jget "$t" 'd["reject"]["counts"] == d["reject"]["counter"] > 5000')" = True ]; then
	ok "sweep: the storm's counts reached the audit file while the agent runs ($(jget "$t" 'd["reject"]["counter"]') rejects)"
else
	bad "sweep: the storm's counts did not add up while the agent runs: $t"
fi

kill "$KGATE_PID"
wait "$KGATE_PID" 2>/dev/null
KGATE_PID=""
s1=$(stats)
t=$(tally "$s0" "$s1")
echo "     after the agent stopped: $t"
rej=$(jget "$t" 'd["reject"]["counter"]')
# a first record, and a summary per window (1 s) of the storm: per connection
max=$((2 * (SECS + 3)))
if [ "$(jget "$t" 'd["reject"]["counts"]')" = "$rej" ] && [ "$rej" -ge "$resp" ] &&
	[ "$(jget "$t" 'd["storm_conns"]')" = "$CONNS" ] &&
	[ "$(jget "$t" 'd["most_per_storm_conn"]')" -le "$max" ]; then
	ok "storm: $rej rejects in $(jget "$t" 'd["reject"]["records"]') records (at most $(jget "$t" 'd["most_per_storm_conn"]') a connection), counts = the reject counter"
else
	bad "storm records: $t (at most $max records a connection)"
fi
answers=$(jget "$nb" 'd["answers"]')
if [ "$(jget "$t" 'd["allow"]["counts"] == d["allow"]["counter"]')" = True ] &&
	[ "$(jget "$t" 'd["allow"]["counts"]')" -ge "$answers" ] &&
	[ "$(jget "$nb" 'd["reset"] + d["closed"]')" = 0 ]; then
	ok "neighbour: $answers answers, its decisions all in records (counts $(jget "$t" 'd["allow"]["counts"]') = the allow counter)"
else
	bad "neighbour: $nb / $t"
fi
if [ "$(jget "$t" 'd["gaps"] + d["lost"] + d["folded"]')" = 0 ]; then
	ok "nothing lost, no gap record, nothing past a budget"
else
	bad "lost or folded: $t"
fi

echo "test_storm: $(($(date +%s) - T0)) s"
[ $rc -eq 0 ] || FAILED=1
exit $rc
