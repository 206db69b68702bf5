#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The audit pipeline against librdkafka's mock cluster (tests/tools/mock_broker.c), no
# BPF and no root: tests/agent/audit_driver.c feeds synthetic decision events through
# agent/audit*.c. Proves:
#  1. records arrive in the audit topic with every documented field, keyed by the node
#     name, seq 1..N exactly once in order; the audit file holds the same lines;
#     `kgate observe` (table, -o json, --verdict) reads the agent's socket;
#  2. the broker goes down while events keep coming: the spool grows (metrics show depth
#     and lag; `kgate observe --follow` keeps streaming), the broker returns, every record
#     arrives exactly once, in order, and the spool empties;
#  3. the pipeline is SIGKILLed while delivering, and again while the broker is down:
#     restarted, it delivers the rest with no duplicate and no hole, numbering continues;
#  4. the delivery rate (records/s confirmed by the mock), printed, never asserted;
#  5. the sender going between the spool's files and memory over and over (memory bounded
#     to a few batches): every record exactly once, in order, some read back from files;
#  6. a write the broker refuses for good: the producer stops there (gapless guarantee),
#     starts anew, and every record arrives exactly once, in order.
# Case 1 feeds records one by one; 2-6 in batches as kgate run does (the sender then sends
# from the spool's blocks in memory while it keeps up, from its files while it does not).
# The mock keeps ~5 MB per partition (older records are deleted), so each case uses its
# own topic and stays under ~6,000 records of one node.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DRV=$(readlink -f "$BUILD/tests/audit_driver")
KGATE=$(readlink -f "$BUILD/kgate")
DRV_PID=""
# TMP, the checks, the mock (tests/agent/mock.sh): BROKERS; `mock down`, `mock up`
# shellcheck source=tests/agent/mock.sh
. tests/agent/mock.sh kgate-audit DRV_PID
mock_start audit1:3 audit2:3 audit3:3 audit4:1 audit5:1 audit6:1

# Consumes a topic to $2 (payloads), and "partition key" per line to $2.meta.
consume() {
	timeout 60 kcat -C -b "$BROKERS" -t "$1" -o beginning -e -q -f '%p %k %s\n' >"$2.raw" 2>"$2.err"
	cut -d' ' -f3- "$2.raw" >"$2"
	cut -d' ' -f1,2 "$2.raw" >"$2.meta"
}

# check_seqs FILE FIRST LAST: every line's seq, in file order, is exactly FIRST..LAST.
check_seqs() {
	python3 - "$@" <<'EOF'
import json, sys
path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seqs = [json.loads(l)["seq"] for l in open(path)]
want = list(range(first, last + 1))
if seqs != want:
    dup = len(seqs) - len(set(seqs))
    missing = sorted(set(want) - set(seqs))[:10]
    order = seqs == sorted(seqs)
    print(f"  {path}: {len(seqs)} records, {dup} duplicates, in order: {order}, "
          f"first missing: {missing}", file=sys.stderr)
    sys.exit(1)
EOF
}

# (python3, not curl: make deps installs python3)
http_get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- 1. fields, order, the file sink, observe -------------------------------------------
SOCK="$TMP/observe.sock"
"$DRV" --node broker-1 --brokers "$BROKERS" --topic audit1 --spool "$TMP/spool1" \
	--file "$TMP/audit1.jsonl" --observe "$SOCK" --count 3000 --hold 3 \
	>"$TMP/d1.out" 2>"$TMP/d1.err" &
DRV_PID=$!
for _ in $(seq 100); do
	grep -q '^audit_driver: fed ' "$TMP/d1.err" 2>/dev/null && break
	sleep 0.05
done
"$KGATE" observe --socket "$SOCK" >"$TMP/obs.table" 2>"$TMP/obs.err"
"$KGATE" observe --socket "$SOCK" -o json --verdict reject --topic 'orders-*' >"$TMP/obs.json" 2>>"$TMP/obs.err"
wait $DRV_PID
rc=$?
DRV_PID=""
check "1: driver drained 3000 records (exit $rc)" [ $rc -eq 0 ]
consume audit1 "$TMP/k1"
check "1: topic audit1 holds seq 1..3000 exactly once, in order" check_seqs "$TMP/k1" 1 3000
check "1: every record keyed by the node, all in one partition" \
	[ "$(sort -u "$TMP/k1.meta" | wc -l)" -eq 1 -a "$(cut -d' ' -f2 "$TMP/k1.meta" | sort -u)" = broker-1 ]
check "1: the audit file holds the same records, byte for byte" cmp -s "$TMP/k1" "$TMP/audit1.jsonl"
check "1: every documented field, with the driver's values" python3 - "$TMP/k1" <<'EOF'
import json, sys
fields = ["node", "seq", "time", "ts_ns", "ktime_ns", "kind", "verdict", "enforced", "sample",
          "count", "first_ts", "last_ts", "folded", "folded_deny", "rule",
          "rule_id", "policy_version", "version_id", "gen", "family", "src_ip", "src_port",
          "dst_ip", "dst_port", "region", "region_id", "principal", "principal_id",
          "principal_source", "client_id", "api_key", "api_name", "api_version",
          "correlation_id", "operation", "topic", "topic_id", "reason", "bytes"]
for i, line in enumerate(open(sys.argv[1])):
    r = json.loads(line)
    assert list(r) == fields, f"fields of record {i}: {list(r)}"
    rej = i % 3 == 0
    want = {"node": "broker-1", "seq": i + 1, "kind": "topic", "enforced": True, "sample": 1,
            "verdict": "reject" if rej else "allow", "rule": "rule-0" if rej else None,
            "rule_id": 0 if rej else None, "policy_version": "drv-1", "family": 4,
            "src_ip": "10.0.1.5", "src_port": 40000 + i % 1000, "dst_ip": "10.0.0.9",
            "dst_port": 9092, "region": "eu", "principal": "alice",
            "principal_source": "sasl", "client_id": "drv", "api_key": 0,
            "api_name": "Produce", "api_version": 9, "correlation_id": i,
            "operation": "produce", "topic": f"orders-{i % 10}", "topic_id": None,
            "reason": None, "bytes": 100 + i % 900, "count": 1 + i % 5,
            "folded": 3 if i % 7 == 0 else 0, "folded_deny": 3 if i % 21 == 0 else 0}
    for k, v in want.items():
        assert r[k] == v, f"record {i}: {k} = {r[k]!r}, want {v!r}"
    assert r["time"].endswith("Z") and len(r["time"]) == 30, r["time"]
    assert r["last_ts"] == r["ts_ns"] and r["ts_ns"] - r["first_ts"] == 1000 * (i % 5), r
EOF
check "1: observe (table) printed the backlog with a header" \
	sh -c "head -1 '$TMP/obs.table' | grep -q '^TIME .*VERDICT' && [ \$(grep -c 'orders-' '$TMP/obs.table') -eq 1024 ]"
check "1: observe -o json --verdict reject: only rejects, the backlog's share of them" python3 - "$TMP/obs.json" <<'EOF'
import json, sys
recs = json.load(open(sys.argv[1]))  # one document: an array of records
assert len(recs) == 341, len(recs)   # seq 1977..3000 kept: i = 1976..2999, i % 3 == 0
assert all(r["verdict"] == "reject" for r in recs)
EOF
check "1: observe without an agent: exit 1 and says why" sh -c \
	"'$KGATE' observe --socket '$TMP/none.sock' 2>'$TMP/none.err'; [ \$? -eq 1 ] && grep -q 'cannot reach the agent' '$TMP/none.err'"

# ---- 2. broker down and back --------------------------------------------------------------
PORT=$(free_port)
"$DRV" --node broker-1 --brokers "$BROKERS" --topic audit2 --spool "$TMP/spool2" \
	--metrics "127.0.0.1:$PORT" --observe "$TMP/obs2.sock" --count 4000 --rate 1000 --batch 50 \
	--drain-timeout 60 >"$TMP/d2.out" 2>"$TMP/d2.err" &
DRV_PID=$!
sleep 0.3
# --follow: the backlog, then live records (the broker's state does not matter to it)
timeout 1.5 "$KGATE" observe --follow -o json --socket "$TMP/obs2.sock" >"$TMP/obs2.json" 2>/dev/null
mock down
sleep 2
http_get "http://127.0.0.1:$PORT/metrics" >"$TMP/m2.down"
http_get "http://127.0.0.1:$PORT/healthz" >"$TMP/h2"
mock up
wait $DRV_PID
rc=$?
DRV_PID=""
check "2: driver drained after the broker returned (exit $rc)" [ $rc -eq 0 ]
check "2: while down, the spool held records and the lag grew" python3 - "$TMP/m2.down" <<'EOF'
import sys
m = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[1]) if l[0] != "#"}
assert m["kgate_audit_spool_records"] >= 1000, m["kgate_audit_spool_records"]
assert m["kgate_audit_delivery_lag_seconds"] >= 1.0, m["kgate_audit_delivery_lag_seconds"]
assert m['kgate_decisions_total{verdict="reject",operation="produce",rule="rule-0",enforced="true"}'] > 0
EOF
check "2: /healthz answers ok" grep -qx ok "$TMP/h2"
check "2: observe --follow printed live records, in order, past its backlog; SIGTERM closed the array" python3 - "$TMP/obs2.json" <<'EOF'
import json, sys
seqs = [r["seq"] for r in json.load(open(sys.argv[1]))]
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs[:5]
assert seqs[0] == 1 and len(seqs) >= 1000, (seqs[0], len(seqs))
EOF
consume audit2 "$TMP/k2"
check "2: topic audit2 holds seq 1..4000 exactly once, in order" check_seqs "$TMP/k2" 1 4000
check "2: the spool is empty (only the newest segment, every record delivered)" \
	sh -c "grep -q '^seq 4000 ' '$TMP/spool2/delivered' && [ \$(ls '$TMP/spool2' | grep -c '^seg-') -eq 1 ]"

# ---- 3. SIGKILL while delivering, and while the broker is down ----------------------------
# killed NAME SECONDS ARGS...: the driver on audit3 with ARGS, SIGKILLed after SECONDS
# (its output in $TMP/NAME.out and .err)
D3=(--node broker-1 --brokers "$BROKERS" --topic audit3 --spool "$TMP/spool3")
killed() {
	"$DRV" "${D3[@]}" "${@:3}" >"$TMP/$1.out" 2>"$TMP/$1.err" &
	DRV_PID=$!
	sleep "$2"
	{ kill -9 $DRV_PID && wait $DRV_PID; } 2>/dev/null
	DRV_PID=""
}
killed d3a 1.5 --count 100000 --rate 1500 --batch 100
"$DRV" "${D3[@]}" --count 500 --batch 100 >"$TMP/d3b.out" 2>"$TMP/d3b.err"
rc=$?
check "3: restarted after SIGKILL, drained (exit $rc)" [ $rc -eq 0 ]
mock down
killed d3c 1.2 --count 100000 --rate 1000 --batch 100
mock up
"$DRV" "${D3[@]}" --count 500 >"$TMP/d3d.out" 2>"$TMP/d3d.err"
rc=$?
check "3: restarted after SIGKILL with the broker down, drained (exit $rc)" [ $rc -eq 0 ]
LAST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["last_seq"])' "$TMP/d3d.out")
consume audit3 "$TMP/k3"
check "3: topic audit3 holds seq 1..$LAST exactly once, in order" check_seqs "$TMP/k3" 1 "$LAST"
check "3: numbering continued across both kills" python3 - "$TMP/d3b.out" "$TMP/d3d.out" "$LAST" <<'EOF'
import json, sys
b, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert b["first_seq"] > 1000 and d["first_seq"] > b["last_seq"] + 500, (b, d)
EOF
echo "   3: records found already delivered after the first kill: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["already_delivered"])' "$TMP/d3b.out")"

# ---- 4. delivery rate ----------------------------------------------------------------------
"$DRV" --node broker-1 --brokers "$BROKERS" --topic audit4 --spool "$TMP/spool4" \
	--count 50000 --batch 1000 >"$TMP/d4.out" 2>"$TMP/d4.err"
rc=$?
check "4: 50,000 records drained (exit $rc)" [ $rc -eq 0 ]
python3 - "$TMP/d4.out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"   4: delivery rate: {d['delivered']} records in {d['feed_s'] + d['drain_s']:.2f} s "
      f"= {d['rate']:.0f} records/s to the mock (acks=all, idempotent, 1 partition); "
      f"{d['read_back']} of them read back from the spool's files, the rest sent from memory")
EOF

# ---- 5. files and memory, back and forth ------------------------------------------------------
"$DRV" --node broker-1 --brokers "$BROKERS" --topic audit5 --spool "$TMP/spool5" \
	--count 5000 --batch 40 --mem-max 40000 >"$TMP/d5.out" 2>"$TMP/d5.err"
rc=$?
# the first batch is kept in memory (keeping starts with the sender), the next ones do
# not fit beside it until it is delivered: the sender goes to the files and back
check "5: 5,000 records drained with memory bounded to ~40 kB (exit $rc)" [ $rc -eq 0 ]
consume audit5 "$TMP/k5"
check "5: topic audit5 holds seq 1..5000 exactly once, in order" check_seqs "$TMP/k5" 1 5000
check "5: the sender read some records back from the files, sent the others from memory" \
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert 0 < d["read_back"] < 5000, d' \
	"$TMP/d5.out"
echo "   5: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["read_back"])' \
	"$TMP/d5.out") of 5000 records read back from the files"

# ---- 6. a write the broker refuses for good ---------------------------------------------------
# MESSAGE_TOO_LARGE (10) is not retried by librdkafka: with enable.gapless.guarantee the
# producer stops there (a fatal error, made anew, the spool sent again from the delivered
# mark) instead of letting the records after the failed ones land before them
"$DRV" --node broker-1 --brokers "$BROKERS" --topic audit6 --spool "$TMP/spool6" \
	--count 3000 --rate 1500 --batch 50 --drain-timeout 60 >"$TMP/d6.out" 2>"$TMP/d6.err" &
DRV_PID=$!
sleep 0.7
mock "produce-error 10 1"
wait $DRV_PID
rc=$?
DRV_PID=""
check "6: driver drained after a write refused for good (exit $rc)" [ $rc -eq 0 ]
check "6: the producer stopped at the refused write (fatal _GAPLESS_GUARANTEE), restarted" \
	grep -q 'fatal producer error _GAPLESS_GUARANTEE (restarting it)' "$TMP/d6.err"
consume audit6 "$TMP/k6"
check "6: topic audit6 holds seq 1..3000 exactly once, in order" check_seqs "$TMP/k6" 1 3000

echo "test_audit: $pass passed, $fail failed"
[ $fail -eq 0 ]
