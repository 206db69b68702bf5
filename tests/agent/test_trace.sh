#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kgate audit trace --from-kafka` and `kgate observe --from-kafka` against librdkafka's
# mock cluster (tests/tools/mock_broker.c), no BPF and no root. The records are SYNTHETIC
# (tests/tools/trace_records.py: decisions, write and read records in the schema of issue
# 12, until the datapath writes them), produced into a two-partition audit topic as the
# agents would: key = node name, one node's records in one partition (here broker-1 in 0,
# broker-2 in 1, so the fleet's view has two partitions to merge), Kafka time = the
# record's time. Proves:
#  1. a trace read from the topic gives exactly the answer the same records give from a
#     file, for: a write with a failed first attempt and three reads (two readers, reads
#     sampled 1 in 10, one decision sampled out), a write whose allow was sampled out, an
#     offset only an acks=0 write can hold, two acked writes claiming one offset;
#  2. --since: the mock cannot look offsets up by time (it answers -1), so the partitions
#     are read from their start and the older records skipped and counted; a write older
#     than --since is not found (exit 3), a newer one is;
#  3. observe --from-kafka: both nodes' records in time order with a NODE column, --node,
#     --since, each partition's newest 1024 records only, and --follow: the backlog, then
#     records produced afterwards, the JSON array closed on SIGTERM;
#  4. an audit topic that cannot be reached: exit 1, says why.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
KGATE=$(readlink -f "$BUILD/kgate")
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/kgate-trace.XXXXXX)
MOCK_PID=""
HOLD_PID=""
OBS_PID=""
ID=kgtr$$ # lib.sh's names (its rig is not used here)
. tests/agent/lib.sh
. tests/agent/mock.sh

cleanup() {
	set +e
	reap $OBS_PID $MOCK_PID $HOLD_PID
	rm -rf "$TMP"
}
trap cleanup EXIT

mock_start kgate.audit:2 kgate.many:1

# produce FILE TOPIC: each record keyed by its node, into the node's partition, at its time
cat >"$TMP/produce.py" <<'EOF'
import json, sys
from confluent_kafka import Producer
brokers, topic, path = sys.argv[1:4]
part = {"broker-1": 0, "broker-2": 1}
p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all"})
for line in open(path):
    r = json.loads(line)
    p.produce(topic, value=line.rstrip("\n"), key=r["node"], partition=part.get(r["node"], 0),
              timestamp=r["ts_ns"] // 10**6)
sys.exit(1 if p.flush(30) else 0)
EOF
produce() { $PY "$TMP/produce.py" "$BROKERS" "$2" "$1"; }

# the scenario's first write two hours (and a minute) ago, the rest a minute ago
BASE=$(($(date +%s%N) - (2 * 3600 + 60) * 1000000000))
$PY tests/tools/trace_records.py --base-ns "$BASE" >"$TMP/records.jsonl"
$PY tests/tools/trace_records.py --base-ns "$BASE" --part live >"$TMP/live.jsonl"
check "32 records produced into kgate.audit (broker-1 in partition 0, broker-2 in 1)" \
	produce "$TMP/records.jsonl" kgate.audit
KAFKA=(--from-kafka "$BROKERS" --audit-topic kgate.audit)

# trace_json NAME TOPIC PARTITION OFFSET [more...]: from the topic and from the file
trace_json() {
	local name=$1 topic=$2 part=$3 off=$4
	shift 4
	"$KGATE" audit trace --topic "$topic" --partition "$part" --offset "$off" "${KAFKA[@]}" \
		-o json "$@" >"$TMP/$name.k.json" 2>"$TMP/$name.k.err"
	echo $? >"$TMP/$name.k.rc"
	"$KGATE" audit trace --topic "$topic" --partition "$part" --offset "$off" \
		--file "$TMP/records.jsonl" -o json "$@" >"$TMP/$name.f.json" 2>"$TMP/$name.f.err"
	echo $? >"$TMP/$name.f.rc"
}
# same_answer NAME: the two answers, but for where they read from, are the same
same_answer() {
	$PY - "$TMP/$1" <<'EOF'
import json, sys
p = sys.argv[1]
k, f = json.load(open(p + ".k.json")), json.load(open(p + ".f.json"))
for d in (k, f):
    for x in ("file", "brokers", "audit_topic"):
        d["source"].pop(x, None)
rk, rf = open(p + ".k.rc").read(), open(p + ".f.rc").read()
if k != f or rk != rf:
    print("  topic and file differ:", rk.strip(), rf.strip(),
          [x for x in k if k[x] != f.get(x)], file=sys.stderr)
    sys.exit(1)
EOF
}
# answer NAME PYTHON-EXPRESSION over d (the answer from the topic) and rc
answer() {
	$PY - "$TMP/$1" "$2" <<'EOF'
import json, sys
p, expr = sys.argv[1], sys.argv[2]
d, rc = json.load(open(p + ".k.json")), int(open(p + ".k.rc").read())
ref = lambda x: (x["node"], x["seq"]) if x else None
if not eval(expr):
    print("  rc", rc, json.dumps(d)[:1500], file=sys.stderr)
    sys.exit(1)
EOF
}

# ---- 1. the topic gives the file's answer ------------------------------------------------
trace_json t07 eu.orders 0 7
check "1: offset 7 from the topic = from the file" same_answer t07
check "1: offset 7: written by broker-1 #7 (5..9) under decision #6 allow, enforced" answer t07 \
	'rc == 0 and ref(d["writer"]) == ("broker-1", 7) and d["writer"]["decision"]["from"] == "decision record" and d["writer"]["decision"]["seq"] == 6 and (d["writer"]["decision"]["rule"], d["writer"]["decision"]["policy_version"], d["writer"]["decision"]["verdict"]) == ("eu-and-us-clients", "demo-1", "allow")'
check "1: offset 7: the failed write (NOT_LEADER_OR_FOLLOWER, no offsets) is the batch's first attempt" answer t07 \
	'[(ref(x), x["error"], x["base_offset"]) for x in d["writes"] if x["role"] == "attempt"] == [(("broker-1", 5), "NOT_LEADER_OR_FOLLOWER", None)]'
check "1: offset 7: three reads by two readers, across both nodes, reads sampled 1 in 10 said" answer t07 \
	'[(ref(r), r["principal"], r["sample"]) for r in d["readers"]] == [(("broker-1", 15), "billing-svc", 1), (("broker-2", 5), "analytics", 10), (("broker-2", 6), "analytics", 10)] and "reads_sampled" in [n["code"] for n in d["notes"]] and d["readers"][2]["decision"]["recorded"] is False'
trace_json t012 eu.orders 0 12
check "1: offset 12 from the topic = from the file" same_answer t012
check "1: offset 12: its allow sampled out: rule and version from the write record" answer t012 \
	'rc == 0 and d["writer"]["decision"]["from"] == "write record" and d["writer"]["decision"]["rule"] == "eu-and-us-clients" and len(d["readers"]) == 3'
trace_json t015 eu.orders 0 15
check "1: offset 15 from the topic = from the file" same_answer t015
check "1: offset 15: no acked write: exit 3; the acks=0 write between 10..14 and 16..19" answer t015 \
	'rc == 3 and [(ref(x), x["acked"], x["base_offset"]) for x in d["writes"] if x["role"] == "candidate"] == [(("broker-1", 10), False, None)] and (d["acked_below"]["last_offset"], d["acked_above"]["base_offset"]) == (14, 16)'
trace_json t12 eu.orders 1 2
check "1: eu.orders [1] offset 2 from the topic = from the file" same_answer t12
check "1: eu.orders [1] offset 2: two acked writes claim it (broker-1, then broker-2): anomaly" answer t12 \
	'rc == 0 and ref(d["writer"]) == ("broker-2", 3) and [a["code"] for a in d["anomalies"]] == ["two_acked_writes"] and [ref(r["received"]) for r in d["readers"]] == [("broker-1", 21), ("broker-2", 3)]'
"$KGATE" audit trace --topic eu.orders --partition 0 --offset 7 "${KAFKA[@]}" >"$TMP/t07.txt" 2>&1
check "1: the text answer names the audit topic, and reads every partition from its start" \
	grep -q "^records   32 read from kgate.audit on $BROKERS, every partition from its start (no --since)" "$TMP/t07.txt"

# ---- 2. --since ----------------------------------------------------------------------------
trace_json s02 eu.orders 0 2 --since 1h
check "2: --since 1h: the write of 0..4 (two hours ago) is not found (exit 3)" answer s02 \
	'rc == 3 and d["writer"] is None and d["source"]["since"] is not None'
check "2: --since 1h: its 4 older records read and skipped (the mock looks nothing up by time)" answer s02 \
	'd["source"]["records"] == 32 and d["source"]["older_than_since"] == 4'
trace_json s07 eu.orders 0 7 --since 1h
check "2: --since 1h: offset 7 (a minute ago) is found, with its readers" answer s07 \
	'rc == 0 and ref(d["writer"]) == ("broker-1", 7) and len(d["readers"]) == 3'
trace_json s02b eu.orders 0 2 --since 3h
check "2: --since 3h: the write of 0..4 is found" answer s02b \
	'rc == 0 and ref(d["writer"]) == ("broker-1", 3) and d["source"]["older_than_since"] == 0'
trace_json s1 eu.orders 0 7 --since 1s
check "2: --since 1s: no record in the window, nothing found (exit 3)" answer s1 \
	'rc == 3 and d["source"]["records"] == d["source"]["older_than_since"]'
"$KGATE" audit trace --topic eu.orders --partition 0 --offset 2 "${KAFKA[@]}" --since 1h >"$TMP/s02.txt" 2>&1
check "2: the text says what --since read and skipped" bash -c \
	"grep -q 'each partition from there, looked up by time where the cluster can' '$TMP/s02.txt' && grep -q '4 older records read and skipped (the cluster did not look them up by time)' '$TMP/s02.txt'"

# ---- 3. observe --from-kafka: the fleet's view ---------------------------------------------
"$KGATE" observe "${KAFKA[@]}" >"$TMP/o.txt" 2>"$TMP/o.err"
check "3: observe --from-kafka (text): a NODE column, both nodes, write and read rows" bash -c \
	"head -1 '$TMP/o.txt' | grep -q '^TIME  *NODE  *SOURCE' && grep -q '  broker-1  ' '$TMP/o.txt' && grep -q '  broker-2  ' '$TMP/o.txt' && grep -q 'wrote 5..9' '$TMP/o.txt' && grep -q 'read 0..14' '$TMP/o.txt' && [ \$(wc -l <'$TMP/o.txt') -eq 33 ]"
"$KGATE" observe "${KAFKA[@]}" -o json >"$TMP/o.json" 2>>"$TMP/o.err"
check "3: observe --from-kafka -o json: all 32 records of both partitions, in time order" $PY - "$TMP/o.json" "$TMP/records.jsonl" <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))
want = [json.loads(l) for l in open(sys.argv[2])]
assert sorted((r["node"], r["seq"]) for r in got) == sorted((r["node"], r["seq"]) for r in want)
ts = [r["ts_ns"] for r in got]
assert ts == sorted(ts), "not in time order"
assert {r["node"] for r in got[:4]} == {"broker-1", "broker-2"}
EOF
"$KGATE" observe "${KAFKA[@]}" -o json --node broker-2 >"$TMP/o2.json"
check "3: --node broker-2: its 9 records only" $PY -c "
import json, sys; d = json.load(open('$TMP/o2.json')); assert len(d) == 9 and {r['node'] for r in d} == {'broker-2'}, d"
"$KGATE" observe "${KAFKA[@]}" -o json --since 1h >"$TMP/o3.json"
check "3: --since 1h: the 28 records of the last hour" $PY -c "
import json; d = json.load(open('$TMP/o3.json')); assert len(d) == 28, len(d)"
"$KGATE" observe "${KAFKA[@]}" --node broker-1 >"$TMP/o4.txt"
check "3: one node's records: no NODE column" bash -c "head -1 '$TMP/o4.txt' | grep -q '^TIME  *SOURCE'"
# each partition's newest 1024 records (the agent's socket keeps as many)
$PY - "$TMP/many.jsonl" <<'EOF'
import json, sys
rec = {"node": "broker-1", "kind": "topic", "verdict": "allow", "topic": "t", "api_name": "Produce"}
with open(sys.argv[1], "w") as f:
    for i in range(1, 1101):
        r = dict(rec, seq=i, ts_ns=1796670000 * 10**9 + i * 10**6)
        f.write(json.dumps(r) + "\n")
EOF
produce "$TMP/many.jsonl" kgate.many
"$KGATE" observe --from-kafka "$BROKERS" --audit-topic kgate.many -o json >"$TMP/o5.json"
check "3: 1,100 records in a partition: the newest 1,024 shown (seq 77..1100)" $PY -c "
import json; s = [r['seq'] for r in json.load(open('$TMP/o5.json'))]; assert s == list(range(77, 1101)), (s[:3], len(s))"
# --follow: the backlog, then what is produced afterwards
"$KGATE" observe "${KAFKA[@]}" --follow -o json >"$TMP/f.json" 2>"$TMP/f.err" &
OBS_PID=$!
for _ in $(seq 100); do
	[ "$(grep -c '"node"' "$TMP/f.json" 2>/dev/null)" -ge 32 ] && break
	sleep 0.1
done
check "3: --follow: the backlog (32 records) printed first" [ "$(grep -c '"node"' "$TMP/f.json")" -eq 32 ]
produce "$TMP/live.jsonl" kgate.audit
for _ in $(seq 100); do
	[ "$(grep -c '"node"' "$TMP/f.json")" -ge 35 ] && break
	sleep 0.1
done
kill -TERM $OBS_PID
wait $OBS_PID
rc=$?
OBS_PID=""
check "3: --follow: SIGTERM ends it, exit 0 ($rc)" [ $rc -eq 0 ]
check "3: --follow: the 3 records produced later came after the backlog; the array is closed" $PY - "$TMP/f.json" "$TMP/live.jsonl" <<'EOF'
import json, sys
got = json.load(open(sys.argv[1]))
live = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == 35, len(got)
assert sorted((r["node"], r["seq"]) for r in got[32:]) == sorted((r["node"], r["seq"]) for r in live)
EOF

# ---- 4. an audit topic that cannot be read ---------------------------------------------------
"$KGATE" audit trace --topic eu.orders --partition 0 --offset 7 --from-kafka 127.0.0.1:1 \
	--audit-topic kgate.audit >"$TMP/u.out" 2>"$TMP/u.err"
rc=$?
check "4: trace from brokers that do not answer: exit 1, says why ($rc)" bash -c \
	"[ $rc -eq 1 ] && grep -q 'kgate audit trace: metadata of kgate.audit from 127.0.0.1:1' '$TMP/u.err'"

echo "test_trace: $pass passed, $fail failed"
[ $fail -eq 0 ]
