#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: one command on a fresh Debian 12 machine (root). Installs the dependencies,
# builds kgate, creates the rig (scripts/rig.sh: clients in eu and us, a broker running
# librdkafka's mock cluster), attaches kgate with policies/demo.yaml, runs producers and
# consumers from both regions (allowed, rejected, audited), shows `kgate observe` live
# and the audit topic's records, prints what happened and why, and removes everything.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (BPF, network namespaces)" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "dependencies (scripts/install-deps.sh) and build"
scripts/install-deps.sh || exit 1
make -s BUILD="$BUILD" "$BUILD/kgate" "$BUILD/tests/mock_broker" || exit 1
KGATE=$(realpath "$BUILD/kgate")

source scripts/rig.sh
OBSERVE_PID=""
cleanup() {
	set +e
	[ -n "$OBSERVE_PID" ] && kill "$OBSERVE_PID" 2>/dev/null && wait "$OBSERVE_PID" 2>/dev/null
	if [ -n "${RIG_ID:-}" ]; then
		say "cleanup: kgate detach, rig down"
		[ -n "${KGATE_PID:-}" ] && kill "$KGATE_PID" 2>/dev/null && wait "$KGATE_PID" 2>/dev/null
		"$KGATE" detach --iface "$RIG_BROKER_IF"
		rig_down
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "the rig: client namespaces eu (10.10.0.2, fd00:10::2) and us (10.20.0.2, fd00:20::2), broker 10.99.0.2:9092"
rig_up || exit 1
export KGATE_PIN_ROOT=/sys/fs/bpf/$RIG_ID KGATE_STATE_DIR=$RIG_DIR/state KGATE_RUN_DIR=$RIG_DIR/run

say "kgate run on $RIG_BROKER_IF (native XDP + TC egress) with policies/demo.yaml"
"$KGATE" policy check policies/demo.yaml
rig_spawn "$RIG_NS_BROKER" kgate "$KGATE" run --iface "$RIG_BROKER_IF" \
	--policy policies/demo.yaml --audit-brokers "127.0.0.1:$RIG_AUDIT_PORT" \
	--audit-topic kgate.audit --metrics-addr 127.0.0.1:9464 --node demo-broker-1
KGATE_PID=$RIG_LAST_PID
rig_kgate_wait "$KGATE_PID" || exit 1
sed 's/^/  agent | /' "$RIG_DIR/kgate.err"

say "kgate observe --follow (live decisions, printed as they happen)"
"$KGATE" observe --follow >"$RIG_DIR/observe.txt" 2>&1 &
OBSERVE_PID=$!
# printed as it grows; tail stops when observe does
tail -n +1 -f --pid="$OBSERVE_PID" "$RIG_DIR/observe.txt" | sed -u 's/^/  observe | /' &
sleep 0.5

C=(/usr/bin/python3 tests/e2e/clients.py)
step() { # ns label lib op args...
	local ns=$1 label=$2 out
	shift 2
	out=$(rig_exec "$ns" "${C[@]}" "$@" --timeout 6 2>/dev/null)
	sleep 0.3 # let observe print first
	/usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[2])
if "results" in d:
    r = ", ".join("%s: %s" % (x["topic"], x["error"] or "ok") for x in d["results"])
else:
    r = "%d records%s" % (len(d.get("records", [])), ", " + d["error"] if d.get("error") else "")
print("  client  | %-44s -> %s" % (sys.argv[1], r))' "$label" "$out"
}
B4="$RIG_BROKER4:$RIG_PORT"
B6="127.0.0.1:$RIG_MOCK_PORT"

say "producers and consumers from two regions"
step "$RIG_NS_EU" "eu  confluent_kafka produce eu.orders" confluent produce --bootstrap "$B4" \
	--client-id orders-eu --msg eu.orders=order-1001 --msg eu.orders=order-1002
step "$RIG_NS_US" "us  kafka-python produce eu.orders" kpy produce --bootstrap "$B4" \
	--client-id orders-us --msg eu.orders=order-2001
step "$RIG_NS_US" "us  kcat produce us.orders" kcat produce --bootstrap "$B4" \
	--client-id orders-us --msg us.orders=order-2002
step "$RIG_NS_EU6" "eu  (IPv6) kcat consume eu.orders" kcat consume --bootstrap "$B6" \
	--client-id reader-eu6 --topic eu.orders --count 2
step "$RIG_NS_US6" "us  (IPv6) confluent_kafka consume eu.orders" confluent consume \
	--bootstrap "$B6" --client-id reader-us6 --topic eu.orders --count 2
step "$RIG_NS_EU" "eu  kcat produce ref.prices (audited rule)" kcat produce --bootstrap "$B4" \
	--client-id pricing-eu --msg ref.prices=eurusd=1.08
sleep 1
kill "$OBSERVE_PID" 2>/dev/null
wait "$OBSERVE_PID" 2>/dev/null
OBSERVE_PID=""

say "what the broker holds (read on its loopback, behind kgate)"
for t in eu.orders us.orders ref.prices; do
	printf '  %-11s %s\n' "$t:" "$(rig_exec "$RIG_NS_BROKER" kcat -C -b "127.0.0.1:$RIG_MOCK_PORT" \
		-t "$t" -o beginning -e -q -f '%s ' 2>/dev/null)"
done

say "the audit topic kgate.audit (one JSON record per decision; first 3 shown whole)"
sleep 2 # the agent's producer batches
rig_exec "$RIG_NS_BROKER" kcat -C -b "127.0.0.1:$RIG_AUDIT_PORT" -t kgate.audit -o beginning \
	-e -q >"$RIG_DIR/audit.jsonl" 2>/dev/null
head -3 "$RIG_DIR/audit.jsonl" | sed 's/^/  /'

say "summary"
/usr/bin/python3 - "$RIG_DIR/audit.jsonl" <<'EOF'
import collections, json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
topic = [r for r in recs if r.get("kind") == "topic" and r.get("topic")]
print("  %d audit records in kgate.audit; decisions on named topics:" % len(recs))
seen = collections.Counter()
for r in topic:
    if r["api_name"] in ("Produce", "Fetch", "ListOffsets"):
        seen[(r["region"], r["principal"], r["api_name"], r["topic"], r["verdict"],
              r["enforced"], r["rule"] or "default")] += 1
for (region, principal, api, t, verdict, enforced, rule), n in sorted(seen.items()):
    v = verdict if enforced or verdict == "allow" else verdict + " (audit only)"
    print("    %-3s %-10s %-12s %-11s %-20s rule %-20s x%d" % (region, principal, api, t, v, rule, n))
print("""
  Why:
    eu -> eu.orders          allowed: eu-and-us-clients (the source is in region eu)
    us -> eu.orders          rejected by eu-data-stays-in-eu: the client got
                             TOPIC_AUTHORIZATION_FAILED for that topic, the broker
                             never stored it, the connection stayed up
    us -> us.orders          allowed
    eu6 reads eu.orders      allowed over IPv6 (fd00:10::/32 is eu)
    us6 reads eu.orders      rejected: Fetch/ListOffsets answered with
                             TOPIC_AUTHORIZATION_FAILED
    eu -> ref.prices         rule ref-writes-planned is audit: true: the record says
                             reject, enforced false; the write went through
  Every record carries the node, a sequence number, the policy version (demo-1), the
  rule, the flow and the principal (ANONYMOUS here: no SASL, no identity CIDR).""")
EOF
