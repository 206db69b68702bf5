#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The agent on a real hook (root): `kgate run` on the broker side of a veth, against
# librdkafka's mock cluster (tests/tools/mock_broker.c) with kcat and confluent-kafka
# as clients. Proves: attach and pins; enforcement of the policy it applied; `policy
# apply` swaps atomically (old/new versions, swap time) and revokes a permission on an
# established connection within 1 s; `policy show`/`diff`; `flows`; `stats -o json`
# counts; SIGHUP reload (a broken file keeps the old policy); SIGKILL then restart adopts
# the pins (same program ids, enforcement never stopped); --quarantine-iface survives
# applies; `detach` leaves no pins, links or qdiscs, also run from another network
# namespace (entering the interface's, or saying why it cannot: held by a descriptor only,
# with XDP and with --tc-ingress); a namespace is its cookie (a later one with the gone
# one's inode is not entered) and a clsact kgate's only on the interface it made it on
# (one made anew keeps its own, at detach and at adoption); two interfaces and generic
# XDP; the TC ingress build instead of XDP (--tc-ingress); the apply time of 10,000 rules.
#
# Topology: the rig of tests/agent/lib.sh (client netns C, 10.10.77.2, region "eu" --
# veth -- broker netns B, 10.10.77.1, the mock behind DNAT); a second veth pair inside B
# stands for the quarantine interface. Names are unique per run; the trap removes
# everything.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
KGATE=${KGATE:-build/kgate}
KGATE=$(readlink -f "$KGATE")
[ "$(id -u)" -eq 0 ] || { echo "test_runtime: needs root (BPF, netns)" >&2; exit 1; }

ID="kgr$$"
IFQ="${ID}q0" # quarantine (a dummy in B)
NSG="${ID}g"  # a namespace of its own, for detach from elsewhere
IFG="${ID}g0"
TMP=$(mktemp -d /tmp/kgate-rt.XXXXXX)
export KGATE_STATE_DIR="$TMP/state" KGATE_RUN_DIR="$TMP/run"
# shellcheck source=tests/agent/lib.sh
. tests/agent/lib.sh
PINS=/sys/fs/bpf/kgate/$IFB
AGENT_PID=""
PROD_PID=""
HOLD_PID=""

cleanup() {
	set +e
	reap $PROD_PID $AGENT_PID $MOCK_PID $HOLD_PID
	for root in /sys/fs/bpf/kgate "/sys/fs/bpf/$ID"; do
		for i in "$IFB" "$IFQ" "$IFG" "${ID}x0"; do
			KGATE_PIN_ROOT=$root nsenter --net="/run/netns/$NSB" "$KGATE" detach \
				--iface "$i" >/dev/null 2>&1
			[ -d "$root/$i" ] && rm -rf "${root:?}/$i"
		done
	done
	rmdir /sys/fs/bpf/kgate "/sys/fs/bpf/$ID" 2>/dev/null
	ip netns del "$NSC" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	ip netns del "$NSG" 2>/dev/null
	for n in $(ip netns list | awk '{print $1}' | grep "^${ID}r"); do ip netns del "$n"; done
	rm -rf "$TMP"
}
trap cleanup EXIT

prog_id() { bpftool -j prog show pinned "$PINS/$1" | json 'print(d["id"])'; }

start_agent() { # log file, extra args...
	local log=$1
	shift
	# nsenter execs kgate: $! is the agent itself (signals reach it)
	nsenter --net="/run/netns/$NSB" "$KGATE" run --iface "$IFB" --policy "$TMP/agent.yaml" \
		--audit-file "$TMP/audit.jsonl" --node test-node "$@" 2>"$log" &
	AGENT_PID=$!
	if ! wait_for "$log" 'running: node' 150; then
		echo "agent did not start:" >&2
		cat "$log" >&2
		return 1
	fi
}

# ---- topology and the mock broker ----------------------------------------------------
rig_up ok.a secret.b later.c || exit 1
# a second veth pair inside B stands for the quarantine interface
ip -n "$NSB" link add "$IFQ" type veth peer name "${ID}q1"
for l in "$IFQ" "${ID}q1"; do ip -n "$NSB" link set "$l" up; done

# ---- policies ---------------------------------------------------------------------------
policy() { # version, action of ok-topics, extra rule text
	cat <<EOF
version: "$1"
mode: enforce
default: allow
listeners:
  - port: 9092
    on_undecodable: reset
regions:
  eu: [10.10.77.0/24]
rules:
  - name: no-secrets
    topics: ["secret.*"]
    operations: [produce]
    action: reject
  - name: ok-topics
    topics: ["ok.*"]
    regions: [eu]
    action: $2
$3
EOF
}
policy v1 allow "" >"$TMP/v1.yaml"
policy v2 reject "  - name: later-rule
    topics: [\"later.*\"]
    action: reject" >"$TMP/v2.yaml"
policy v3 allow "" >"$TMP/v3.yaml"
policy v1n allow "  - name: plumbing
    topics: none
    action: allow" >"$TMP/v1n.yaml"
printf 'version: broken\nrules:\n  - name: x\n    topics: ["ok.*"]\n    action: maybe\n' >"$TMP/broken.yaml"
cp "$TMP/v1.yaml" "$TMP/agent.yaml"

# ---- run: attach, pins, enforcement -----------------------------------------------------
mkdir -p "$TMP/notbpf"
KGATE_PIN_ROOT="$TMP/notbpf" kg run --iface "$IFB" --policy "$TMP/v1.yaml" >"$TMP/notbpf.out" 2>&1
rc=$?
check "a pin root off a BPF filesystem is refused, saying so, with nothing attached" bash -c "[ $rc -ne 0 ] && grep -q 'is not on a BPF filesystem' $TMP/notbpf.out && [ -z \"\$(ls -A $TMP/notbpf)\" ] && ! nsenter --net=/run/netns/$NSB bpftool net show dev $IFB | grep -q kgate"
start_agent "$TMP/agent1.log" --xdp-mode native || exit 1
LID=$(bpftool -j link show pinned "$PINS/link_xdp" | json 'print(d["id"])')
inb "$KGATE" run --iface "$IFB" --policy "$TMP/v1.yaml" >"$TMP/second.out" 2>&1
rc=$?
check "a second agent on the same interface is refused" bash -c "[ $rc -eq 1 ] && grep -q 'another .kgate run. serves this interface' $TMP/second.out"
check "run attached freshly (not adopted)" grep -q "$IFB: attached" "$TMP/agent1.log"
check "run applied v1 and logged the swap" grep -qE 'policy "none" .* -> "v1" .*swapped in' "$TMP/agent1.log"
for p in link_xdp prog_xdp prog_tc_egress kg_flows kg_active kg_event_recs kg_redirect kg_nhkey; do
	check "pinned: $p" test -e "$PINS/$p"
done
# the retransmission key: written before attach (ready word = 1, random words); its digest
# is compared after the restart below (an adopted datapath keeps its key)
nhkey_digest() { bpftool -j map lookup pinned "$PINS/kg_nhkey" key 0 0 0 0 | /usr/bin/python3 -c '
import hashlib, json, sys
v = bytes(int(b, 16) for b in json.load(sys.stdin)["value"])
assert v[:4] == b"\x01\0\0\0" and v[8:].count(0) < len(v[8:]) // 64, "key not written"
print(hashlib.sha256(v).hexdigest())'; }
NHKEY=$(nhkey_digest)
check "the retransmission key is written (ready, random)" test -n "$NHKEY"
jcheck "XDP attached on $IFB in driver mode: the pinned program (bpftool net)" "x=d[0]['xdp']; assert len(x)==1 and x[0]['mode']=='driver' and x[0]['id']==$(prog_id prog_xdp), x" inb bpftool -j net show dev "$IFB"
check "TC egress filter on $IFB" bash -c "nsenter --net=/run/netns/$NSB tc filter show dev $IFB egress | grep -q kgate_tc"
check "clsact qdisc created" bash -c "nsenter --net=/run/netns/$NSB tc qdisc show dev $IFB | grep -q clsact"
check "policy state stored as ID.yaml" bash -c "ls $KGATE_STATE_DIR/$IFB/policies/ | grep -qx '1.yaml'"

check "kcat: produce to ok.a allowed" produce ok.a
check "kcat: produce to secret.b rejected" rejected secret.b
check "kcat: the rejection is an authorization error" bash -c "grep -qi 'authoriz' $TMP/kcat.err || { cat $TMP/kcat.err; false; }"

# ---- a long-lived producer on one connection (revocation, flows) -----------------------
cat >"$TMP/producer.py" <<'EOF'
import sys, time
import confluent_kafka as ck
p = ck.Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 0,
                 "message.timeout.ms": 3000, "topic.metadata.refresh.interval.ms": -1})
def report(err, msg):
    print("%.3f %s" % (time.time(), "ok" if err is None else "err " + err.name()), flush=True)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    p.produce("ok.a", value=b"x", on_delivery=report)
    p.poll(0.1)
p.flush(5)
EOF
inc /usr/bin/python3 "$TMP/producer.py" "$BIP:9092" 12 >"$TMP/prod.out" 2>"$TMP/prod.err" &
PROD_PID=$!
wait_for "$TMP/prod.out" ' ok$' 100 || { bad "producer never delivered"; cat "$TMP/prod.err" >&2; }

kg flows --iface "$IFB" -o json >"$TMP/flows.json" 2>"$TMP/flows.err"
check "flows -o json: the producer's flow, principal ANONYMOUS, region eu, requests" json "
f=[x for x in d['flows'] if x['client'].startswith('$CIP:') and x['broker']=='$BIP:9092']
assert f, d
assert any(x['principal']=='ANONYMOUS' and x['principal_source']=='anonymous' and x['region']=='eu' and x['requests']>0 and x['bytes']>0 for x in f), f" <"$TMP/flows.json"
check "flows (text) lists the client" bash -c "nsenter --net=/run/netns/$NSB $KGATE flows --iface $IFB | grep -q '$CIP:'"

check "policy show: v1, its rules, generation" bash -c "nsenter --net=/run/netns/$NSB $KGATE policy show --iface $IFB | tee /dev/stderr | grep -q 'policy \"v1\" (version id 1), generation 1' "
jcheck "policy show -o json: rules by name" 'assert d["version"]=="v1" and [r["name"] for r in d["rules"]]==["no-secrets","ok-topics"]' kg policy show --iface "$IFB" -o json
kg policy diff --iface "$IFB" "$TMP/v2.yaml" >"$TMP/diff.txt" 2>&1
check "policy diff: version, changed and added rules" bash -c "grep -q '~ version: v1 -> v2' $TMP/diff.txt && grep -q '^~ rule ok-topics:' $TMP/diff.txt && grep -q '^+ rule later-rule' $TMP/diff.txt && grep -q '^3 differences' $TMP/diff.txt"
jcheck "policy diff -o json" 'c=sorted(x["change"] for x in d["changes"]); assert c==["added","changed","version"] or c==["added","changed","setting"], c' kg policy diff --iface "$IFB" -o json $TMP/v2.yaml
check "policy diff of the active file: no differences" bash -c "nsenter --net=/run/netns/$NSB $KGATE policy diff --iface $IFB $TMP/v1.yaml | grep -q '^0 differences'"
check "policy diff: a topics: none rule shows as such (never as no topics)" bash -c "nsenter --net=/run/netns/$NSB $KGATE policy diff --iface $IFB $TMP/v1n.yaml | grep -q '^+ rule plumbing (at 2): topics=<none> -> allow'"

# ---- apply v2: atomic swap, revocation of an established connection ----------------------
jcheck "before the apply: the producer on one connection, deciding" "f=[x for x in d['flows'] if x['client'].startswith('$CIP:') and 'reset' not in x['state'] and x['topic_decisions']>5]; assert f, d" kg flows --iface "$IFB" -o json
kg stats --iface "$IFB" -o json >"$TMP/stats0.json"
R0=$(json 'print(d["verdicts"].get("reset", 0))' <"$TMP/stats0.json")
C0=$(json 'print(d["counters"]["client_resets"])' <"$TMP/stats0.json")
T_APPLY=$(date +%s.%N)
kg policy apply --iface "$IFB" "$TMP/v2.yaml" >"$TMP/apply.txt" 2>&1
rc=$?
cat "$TMP/apply.txt"
check "policy apply: exit 0, old and new versions, swap time" bash -c "[ $rc -eq 0 ] && grep -qE '^$IFB: \"v1\" \(version id 1, generation 1\) -> \"v2\" \(version id 2, generation 0\): 3 rules written in [0-9]+ us, swapped in [0-9.]+ us' $TMP/apply.txt"
sleep 2.5
check "revocation: the established producer's last ok is < 1 s after the apply" /usr/bin/python3 -c "
t0=$T_APPLY
rows=[l.split() for l in open('$TMP/prod.out')]
oks=[float(r[0]) for r in rows if r[1]=='ok']
errs=[r for r in rows if r[1]=='err' and float(r[0]) > t0]
assert oks and errs, (len(oks), len(errs))
assert max(oks) < t0 + 1.0, max(oks) - t0
assert all(r[2]=='TOPIC_AUTHORIZATION_FAILED' for r in errs), errs[:3]"
# (the producer dies of its first synchronous authorization error, and its connection
# then ends: it must not have been reset before, nor any other)
jcheck "revocation: the producer's connection was not reset" "assert d['verdicts'].get('reset', 0) == $R0 and d['counters']['client_resets'] == $C0, d" kg stats --iface "$IFB" -o json
check "kcat after apply: ok.a now rejected" rejected ok.a
jcheck "policy show after apply: v2, generation 0" 'assert (d["version"], d["version_id"], d["generation"])==("v2",2,0), d' kg policy show --iface "$IFB" -o json
jcheck "policy apply -o json parses" 'assert d["old"]["version"]=="v2" and d["new"]["version_id"]==3 and d["swap_us"]>=0' kg policy apply --iface "$IFB" -o json $TMP/v2.yaml
kg policy apply --iface "$IFB" "$TMP/broken.yaml" >"$TMP/broken.out" 2>&1
rc=$?
check "policy apply a broken file: exit 1, FILE:LINE:COL" bash -c "[ $rc -eq 1 ] && grep -qE '^$TMP/broken.yaml:5:[0-9]+: ' $TMP/broken.out"
jcheck "after the broken apply the old policy still enforces (version id 3)" 'assert d["version_id"]==3' kg policy show --iface "$IFB" -o json

# ---- stats -------------------------------------------------------------------------------
kg stats -o json --iface "$IFB" >"$TMP/stats.json"
check "stats -o json: allow and reject counted, rules named with hits" json "
v=d['verdicts']; c=d['counters']
assert v['allow']>0 and v['reject']>0, v
assert c['listener_packets']>0 and c['flows_new']>0, c
assert [r['name'] for r in d['rules']]==['no-secrets','ok-topics','later-rule'], d['rules']
assert d['policy']['version_id']==3" <"$TMP/stats.json"
kg stats --iface "$IFB" >"$TMP/stats.txt"
check "stats (text): counters by name" grep -qE '^    out_of_order_drops +[0-9]+' "$TMP/stats.txt"
kg policy apply --iface "$IFB" "$TMP/v2.yaml" >/dev/null # rule hits start from zero in a new generation
check "kcat: secret.b rejected under the re-applied v2" rejected secret.b
jcheck "stats rule hits: no-secrets decided the secret.b produce, later-rule nothing" 'h={r["name"]:r["hits"] for r in d["rules"]}; assert h["no-secrets"]>0 and h["later-rule"]==0, h' kg stats --iface "$IFB" -o json

# ---- audit records name the rule and the policy version -----------------------------------
sleep 0.3
# the names come from the policy store (kg_names_resolve), by the event's version id
check "audit file: a reject by no-secrets, named with policy version, region, principal" /usr/bin/python3 -c "
import json
recs=[json.loads(l) for l in open('$TMP/audit.jsonl') if l.strip()]
r=[x for x in recs if x.get('rule')=='no-secrets']
assert r, recs[-3:]
assert all(x['policy_version']=={1:'v1',2:'v2',3:'v2',4:'v2'}[x['version_id']] for x in r), r[:2]
assert all(x['region']=='eu' and x['principal']=='ANONYMOUS' and x['node']=='test-node' for x in r), r[:2]"

# ---- SIGHUP: reload; a broken file keeps the policy -------------------------------------
cp "$TMP/v3.yaml" "$TMP/agent.yaml"
kill -HUP "$AGENT_PID"
check "SIGHUP: v3 applied" wait_for "$TMP/agent1.log" '-> "v3"' 50
cp "$TMP/broken.yaml" "$TMP/agent.yaml"
kill -HUP "$AGENT_PID"
check "SIGHUP with a broken file: FILE:LINE:COL logged" wait_for "$TMP/agent1.log" "$TMP/agent.yaml:5:[0-9]+: " 50
jcheck "SIGHUP with a broken file: v3 still active" 'assert d["version"]=="v3"' kg policy show --iface "$IFB" -o json
check "agent still running after a broken reload" kill -0 "$AGENT_PID"
cp "$TMP/v3.yaml" "$TMP/agent.yaml"
wait "$PROD_PID" 2>/dev/null
PROD_PID=""

# ---- SIGKILL, enforcement goes on, restart adopts ----------------------------------------
XP=$(prog_id prog_xdp)
TP=$(prog_id prog_tc_egress)
{ # the shell reports a killed job where it reaps it: there, not on the test's stderr
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID"
} 2>/dev/null
AGENT_PID=""
check "agent killed: secret.b still rejected" rejected secret.b
check "agent killed: ok.a allowed (v3)" produce ok.a
kg policy apply --iface "$IFB" "$TMP/v2.yaml" >/dev/null 2>&1
check "agent killed: policy apply works without an agent (ok.a rejected under v2)" rejected ok.a
kg policy apply --iface "$IFB" "$TMP/v3.yaml" >/dev/null 2>&1
# someone removes the TC filter while no agent runs: the next agent puts it back
inb tc filter del dev "$IFB" egress
check "TC egress filter removed by hand" bash -c "! nsenter --net=/run/netns/$NSB tc filter show dev $IFB egress | grep -q kgate_tc"
# a datapath of another version (here: its event ring under the older name) is not adopted
mv "$PINS/kg_event_recs" "$PINS/kg_events"
kg run --iface "$IFB" --policy "$TMP/agent.yaml" --audit-file "$TMP/audit.jsonl" \
	--node test-node >"$TMP/oldver.out" 2>&1
rc=$?
mv "$PINS/kg_events" "$PINS/kg_event_recs"
check "a pinned datapath of another version is refused, with the way out" bash -c "[ $rc -ne 0 ] && grep -q 'another kgate version: .kgate detach $IFB.' $TMP/oldver.out || { cat $TMP/oldver.out; false; }"
start_agent "$TMP/agent2.log" --quarantine-iface "$IFQ" || exit 1
check "restart re-attached the TC filter (same pinned program)" bash -c "nsenter --net=/run/netns/$NSB tc filter show dev $IFB egress | grep -q 'kgate_tc_egress.*id $TP'"
check "restart adopted the pins" grep -q "$IFB: adopted what was pinned" "$TMP/agent2.log"
check "the adopted datapath keeps its retransmission key" test "$(nhkey_digest)" = "$NHKEY"
# the store's current version (7, applied while no agent ran) stays: the file did not
# change since the agent took it (tests/agent/test_lifecycle.sh covers the model)
check "restart: the store's version stays, the unchanged file is not re-applied" grep -qE 'agent.yaml unchanged since the agent took it .*version 7 of the policy store runs' "$TMP/agent2.log"
check "restart: XDP program id unchanged" test "$(prog_id prog_xdp)" = "$XP"
check "restart: TC program id unchanged" test "$(prog_id prog_tc_egress)" = "$TP"
jcheck "restart: XDP still the one attached" "assert [x['id'] for x in d[0]['xdp']]==[$XP], d" inb bpftool -j net show dev "$IFB"
QIDX=$(ip -n "$NSB" -o link show "$IFQ" | cut -d: -f1)
jcheck "--quarantine-iface: redirect ifindex set" "assert d['quarantine_ifindex']==$QIDX, d" kg policy show --iface "$IFB" -o json
kg policy apply --iface "$IFB" "$TMP/v1.yaml" >/dev/null
jcheck "policy apply keeps the quarantine interface" "assert d['version']=='v1' and d['quarantine_ifindex']==$QIDX, d" kg policy show --iface "$IFB" -o json
check "devmap slot 0 holds the quarantine ifindex" bash -c "bpftool -j map lookup pinned $PINS/kg_redirect key 0 0 0 0 | grep -q '$(printf '"0x%02x"' "$QIDX")'"

# ---- SIGTERM leaves everything pinned ------------------------------------------------------
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=""
check "SIGTERM: exit 0" test "$rc" -eq 0
check "SIGTERM: pins and link stay" test -e "$PINS/link_xdp"
check "SIGTERM: logged that enforcement goes on" grep -q 'left attached and pinned' "$TMP/agent2.log"
# a metrics address that cannot be served (not this host's) fails the setup after the audit
# pipeline opened, with an audit broker that is not there: the message names the metrics
kg run --iface "$IFB" --policy "$TMP/agent.yaml" --audit-file "$TMP/audit.jsonl" \
	--node test-node --audit-brokers 127.0.0.1:1 --audit-topic t --spool-dir "$TMP/badspool" \
	--metrics-addr 10.99.99.99:9100 >"$TMP/badmetrics.out" 2>&1
rc=$?
check "an unservable --metrics-addr: exit 1, logged as 'metrics:'" bash -c "[ $rc -eq 1 ] && grep -q 'kgate: metrics: --metrics-addr 10.99.99.99:9100' $TMP/badmetrics.out && ! grep -q 'kgate: audit: --metrics-addr' $TMP/badmetrics.out"

# ---- 10,000 rules: apply time ----------------------------------------------------------------
/usr/bin/python3 - "$TMP/big.yaml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write('version: "big-10000"\ndefault: allow\nlisteners:\n  - port: 9092\n')
    f.write('regions:\n  eu: [10.10.77.0/24]\nrules:\n')
    for i in range(10000):
        act = "reject" if i % 2 else "allow"
        f.write(f'  - name: r{i:05d}\n    topics: ["t{i:05d}.x", "p{i:05d}.*"]\n'
                f'    operations: [produce, consume]\n    action: {act}\n')
EOF
S=$(date +%s%N)
kg policy apply -o json --iface "$IFB" "$TMP/big.yaml" >"$TMP/big.json" 2>"$TMP/big.err"
rc=$?
E=$(date +%s%N)
check "10,000-rule policy applied" test "$rc" -eq 0
jcheck "10,000-rule apply -o json: 10000 rules" 'assert d["rules"]==10000' cat "$TMP/big.json"
/usr/bin/python3 -c "
import json; d=json.load(open('$TMP/big.json'))
print('measure: 10,000-rule policy apply: %.0f ms for the command; read+parse+compile %.0f ms, write of the inactive generation %.1f ms, swap %.1f us'
      % (($E-$S)/1e6, d['load_ms'], d['write_us']/1e3, d['swap_us']))" >"$TMP/measure.txt" 2>&1
check "10,000 rules: the datapath still enforces (secret.b allowed by default now)" produce secret.b
kg policy apply --iface "$IFB" "$TMP/v2.yaml" >/dev/null
check "back from 10,000 rules to 3: secret.b rejected" rejected secret.b

# ---- a principal named in UTF-8: -o json carries it as it is, as audit records do -----------
cat >"$TMP/utf8.yaml" <<EOF
version: "v-utf8"
default: allow
listeners:
  - port: 9092
identities:
  josé: [$CIP/32]
rules:
  - name: jose-writes
    topics: ["ok.*"]
    principals: ["josé"]
    action: allow
EOF
kg policy apply --iface "$IFB" "$TMP/utf8.yaml" >/dev/null
inc /usr/bin/python3 "$TMP/producer.py" "$BIP:9092" 4 >"$TMP/prod2.out" 2>"$TMP/prod2.err" &
PROD_PID=$!
wait_for "$TMP/prod2.out" ' ok$' 100 || bad "producer (josé) never delivered"
# \u00e9 is é: before one JSON writer, these said josÃ© (each UTF-8 byte escaped alone)
jcheck "flows -o json: principal josé, as written" "assert any(x['principal']=='jos\u00e9' and x['principal_source']=='identity' for x in d['flows']), d" kg flows --iface "$IFB" -o json
jcheck "policy show -o json: the rule's principal josé, as written" "assert d['rules'][0]['principals']==['jos\u00e9'], d" kg policy show --iface "$IFB" -o json
kill "$PROD_PID" 2>/dev/null
wait "$PROD_PID" 2>/dev/null
PROD_PID=""
kg policy apply --iface "$IFB" "$TMP/v2.yaml" >/dev/null

# ---- detach: nothing left behind -------------------------------------------------------------
# run from the root namespace, not B's: the TC filters are reached from B only, and detach
# goes there (it found B through its `ip netns` name or the processes in it)
"$KGATE" detach --iface "$IFB" >"$TMP/detach.out" 2>&1
check "detach: exit 0, says detached" grep -q 'detached' "$TMP/detach.out"
check "detach from another namespace: entered the interface's" grep -q "$IFB: in network namespace net:\[[0-9]*\] (.*): detaching there" "$TMP/detach.out"
check "detach: no pin directory" test ! -e "$PINS"
jcheck "detach: no XDP, no TC program on the interface (bpftool net)" "assert not d[0]['xdp'] and not d[0]['tc'], d" inb bpftool -j net show dev "$IFB"
check "detach: no clsact qdisc" bash -c "! nsenter --net=/run/netns/$NSB tc qdisc show dev $IFB | grep -q clsact"
check "detach: the XDP link is gone (bpftool link)" bash -c "! bpftool link show id $LID >/dev/null 2>&1"
check "detach: kgate_xdp program gone" bash -c "! bpftool prog show id $XP >/dev/null 2>&1"
check "detach: traffic unfiltered (secret.b allowed)" produce secret.b
kg detach --iface "$IFB" >"$TMP/detach2.out" 2>&1
rc=$?
check "detach twice: exit 0, nothing to detach" bash -c "[ $rc -eq 0 ] && grep -q 'nothing to detach' $TMP/detach2.out"

# ---- two interfaces, generic XDP, --detach-on-exit ------------------------------------------
# a pin root of this run's own, so that commands without --iface see only these two
export KGATE_PIN_ROOT="/sys/fs/bpf/$ID"
PINS=$KGATE_PIN_ROOT/$IFB
start_agent "$TMP/agent3.log" --detach-on-exit --xdp-mode generic --iface "$IFQ" || exit 1
jcheck "generic mode attach" "assert [x['mode'] for x in d[0]['xdp']]==['generic'], d" inb bpftool -j net show dev "$IFB"
check "second interface attached and pinned" test -e "$KGATE_PIN_ROOT/$IFQ/link_xdp"
kg policy apply "$TMP/v3.yaml" >"$TMP/apply2.txt" 2>&1
# $IFB's store ran v2 when it was detached: its datapath made anew runs v2 again (the
# store's version), the file (v3, taken before) being unchanged; $IFQ's empty store was
# seeded with the file
check "policy apply without --iface: both interfaces, each its own version id" bash -c "grep -q '^$IFB: \"v2\" (version id [0-9]*, generation 1) -> \"v3\" (version id [0-9]*, generation 0)' $TMP/apply2.txt && grep -q '^$IFQ: \"v3\" (version id [0-9]*, generation 1) -> \"v3\" (version id [0-9]*, generation 0)' $TMP/apply2.txt"
check "stats -o json without --iface: one array, an object per interface" bash -c "nsenter --net=/run/netns/$NSB $KGATE stats -o json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert sorted(x[\"iface\"] for x in d)==sorted([\"$IFB\",\"$IFQ\"]), d'"
check "stats --jsonl without --iface: an object a line" bash -c "nsenter --net=/run/netns/$NSB $KGATE stats --jsonl | /usr/bin/python3 -c 'import json,sys; d=[json.loads(l) for l in sys.stdin]; assert len(d)==2, d'"
check "lost-event baselines kept for both interfaces (spool state)" bash -c "grep -q '^iface $IFB lost_deny 0 lost_allow 0\$' $KGATE_STATE_DIR/spool/state && grep -q '^iface $IFQ lost_deny 0 lost_allow 0\$' $KGATE_STATE_DIR/spool/state"
check "produce under v3 on the first interface" produce ok.a
FIRST=$(ls "$KGATE_STATE_DIR/$IFQ/policies/" | grep 'yaml$' | sort -n | head -1)
for _ in $(seq 70); do kg policy apply --iface "$IFQ" "$TMP/v1.yaml" >/dev/null || break; done
check "the store keeps the newest 64 policies of an interface, the active one among them" bash -c "
	[ \$(ls $KGATE_STATE_DIR/$IFQ/policies/ | grep -c 'yaml\$') -eq 64 ] &&
	id=\$(nsenter --net=/run/netns/$NSB $KGATE policy show --iface $IFQ -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"version_id\"])') &&
	[ -e $KGATE_STATE_DIR/$IFQ/policies/\$id.yaml ] && [ -n '$FIRST' ] && [ ! -e $KGATE_STATE_DIR/$IFQ/policies/$FIRST ]"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=""
check "--detach-on-exit: exit 0 and no pins, no pin root" bash -c "[ $rc -eq 0 ] && [ ! -e $KGATE_PIN_ROOT ]"
check "--detach-on-exit: no clsact" bash -c "! nsenter --net=/run/netns/$NSB tc qdisc show dev $IFB | grep -q clsact"

# ---- the TC ingress build instead of XDP --------------------------------------------------------
start_agent "$TMP/agent4.log" --tc-ingress --detach-on-exit || exit 1
check "--tc-ingress: attached, pinned without an XDP link" bash -c "grep -q '$IFB: attached (TC ingress' $TMP/agent4.log && [ -e $PINS/prog_tc_ingress ] && [ ! -e $PINS/link_xdp ]"
jcheck "--tc-ingress: no XDP, TC ingress and egress programs (bpftool net)" "assert not d[0]['xdp'] and sorted(x['kind'] for x in d[0]['tc'])==['clsact/egress','clsact/ingress'], d" inb bpftool -j net show dev "$IFB"
check "--tc-ingress: ok.a allowed" produce ok.a
check "--tc-ingress: secret.b rejected" rejected secret.b
IP=$(prog_id prog_tc_ingress)
{ # the shell reports a killed job where it reaps it: there, not on the test's stderr
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID"
} 2>/dev/null
inb tc filter del dev "$IFB" ingress
start_agent "$TMP/agent5.log" --detach-on-exit || exit 1
check "--tc-ingress restart: adopted, the TC ingress hook kept" bash -c "grep -q '$IFB: adopted what was pinned (TC ingress prog id $IP' $TMP/agent5.log"
check "--tc-ingress restart: the removed ingress filter is back" bash -c "nsenter --net=/run/netns/$NSB tc filter show dev $IFB ingress | grep -q 'kgate_tc_ingres.*id $IP'"
check "--tc-ingress restart: secret.b rejected" rejected secret.b
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=""
check "--tc-ingress --detach-on-exit: exit 0, no pins, no clsact" bash -c "[ $rc -eq 0 ] && [ ! -e $PINS ] && ! nsenter --net=/run/netns/$NSB tc qdisc show dev $IFB | grep -q clsact"

# ---- detach from another namespace: the interface's one cannot be entered, or is gone ----------
# an agent attaches to interface $2 in namespace $1, and stops (enforcement stays pinned)
agent_once() { # namespace, interface, log, extra args...
	local ns=$1 ifc=$2 log=$3
	shift 3
	nsenter --net="/run/netns/$ns" "$KGATE" run --iface "$ifc" --policy "$TMP/v1.yaml" "$@" \
		2>"$log" &
	AGENT_PID=$!
	wait_for "$log" 'running: node' 150 || { cat "$log" >&2; return 1; }
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	AGENT_PID=""
}
# ... in NSG of its own
agent_in_g() { # log, extra args...
	local log=$1
	shift
	ip netns add "$NSG"
	ip -n "$NSG" link add "$IFG" type veth peer name "${ID}g1"
	for l in "$IFG" "${ID}g1"; do ip -n "$NSG" link set "$l" up; done
	agent_once "$NSG" "$IFG" "$log" "$@"
}
# NSG held by a python process's descriptor only (HOLD_PID; its descriptor in hold.out)
hold_g() {
	/usr/bin/python3 -c "import os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); print(fd, flush=True); time.sleep(600)" \
		"/run/netns/$NSG" >"$TMP/hold.out" &
	HOLD_PID=$!
	wait_for "$TMP/hold.out" '^[0-9]+$' 50 || bad "the namespace holder did not start"
	ip netns del "$NSG"
}
agent_in_g "$TMP/agent6.log" || exit 1
# an interface of the same name in B is another one: an agent there does not adopt NSG's pins
ip -n "$NSB" link add "$IFG" type veth peer name "${ID}g2"
# (timeout: an agent that wrongly adopted would run until stopped)
timeout 20 nsenter --net="/run/netns/$NSB" "$KGATE" run --iface "$IFG" --policy "$TMP/v1.yaml" \
	>"$TMP/otherns.out" 2>&1
rc=$?
ip -n "$NSB" link del "$IFG"
check "run in another namespace, same interface name: refused, naming the namespace" bash -c "[ $rc -eq 1 ] && grep -q 'kgate is attached there in network namespace net:\[[0-9]*\] (/run/netns/$NSG)' $TMP/otherns.out"
# NSG held only by a descriptor (no name, no process in it): detach from here refuses,
# naming the holder, and keeps pin $2; through that descriptor, inside, it removes all
detach_held() { # what, pin kept
	local ns
	"$KGATE" detach --iface "$IFG" >"$TMP/held.out" 2>&1
	rc=$?
	check "$1: detach, namespace held by a descriptor only: exit 1, says how, pins kept" bash -c "[ $rc -eq 1 ] && grep -q 'attached in network namespace net:\[[0-9]*\], not this one.*only an open descriptor (process $HOLD_PID, descriptor [0-9]*) holds it: nothing removed; run .kgate detach --iface $IFG. inside that namespace' $TMP/held.out && [ -e $KGATE_PIN_ROOT/$IFG/$2 ]"
	ns="/proc/$HOLD_PID/fd/$(cat "$TMP/hold.out")"
	nsenter --net="$ns" "$KGATE" detach --iface "$IFG" >"$TMP/held2.out" 2>&1
	rc=$?
	check "$1: detach inside that namespace: exit 0, no pins, no clsact" bash -c "[ $rc -eq 0 ] && [ ! -e $KGATE_PIN_ROOT/$IFG ] && ! nsenter --net=$ns tc qdisc show dev $IFG | grep -q clsact"
	reap "$HOLD_PID"
	HOLD_PID=""
}
hold_g
detach_held XDP link_xdp
# the TC ingress build has no XDP link to tell that the interface is still there: the
# descriptor does (removing the pins would leave its filters running out of reach)
agent_in_g "$TMP/agent8.log" --tc-ingress || exit 1
hold_g
detach_held "--tc-ingress" prog_tc_ingress
# NSG deleted: its veth and their filters go with it; the pins stay until a detach
agent_in_g "$TMP/agent7.log" || exit 1
ip netns del "$NSG"
# the kernel takes a namespace down asynchronously: until it has, its XDP link still shows
# an interface and detach refuses (changing nothing); then it removes the pins
for _ in $(seq 50); do
	"$KGATE" detach --iface "$IFG" >"$TMP/detach5.out" 2>&1 && break
	sleep 0.1
done
check "detach, the namespace is gone: exit 0, says so, no pins" bash -c "grep -q 'network namespace it was attached in (net:\[[0-9]*\]) is gone' $TMP/detach5.out && grep -q '$IFG: detached' $TMP/detach5.out && [ ! -e $KGATE_PIN_ROOT/$IFG ]"

# ---- a namespace is its cookie, an interface its ifindex, the clsact kgate's only if it made it --
# NSG deleted and gone; the next namespace made gets its inode number (the kernel gives the
# lowest free one): a detach must see that this is another namespace (its cookie), and
# leave that one's interface of the same name, and its clsact, alone
agent_in_g "$TMP/agent9.log" || exit 1
INO=$(stat -L -c %i "/run/netns/$NSG")
ip netns del "$NSG"
for _ in $(seq 100); do # the kernel takes a namespace down asynchronously
	[ "$(bpftool -j link show pinned "$KGATE_PIN_ROOT/$IFG/link_xdp" | json 'print(d.get("ifindex", 0))')" = 0 ] && break
	sleep 0.1
done
# (the number is freed after the interfaces went; the misses are kept, so that the lower
# free numbers they took leave NSG's the lowest)
REUSED=""
for i in $(seq 50); do
	ip netns add "${ID}r$i"
	[ "$(stat -L -c %i "/run/netns/${ID}r$i")" = "$INO" ] && { REUSED="${ID}r$i"; break; }
	sleep 0.1
done
if [ -n "$REUSED" ]; then
	ip -n "$REUSED" link add "$IFG" type veth peer name "${ID}g1"
	ip netns exec "$REUSED" tc qdisc add dev "$IFG" clsact
	"$KGATE" detach --iface "$IFG" >"$TMP/detach8.out" 2>&1
	rc=$?
	check "detach, a later namespace has the gone one's inode: gone, its clsact untouched" bash -c "[ $rc -eq 0 ] && grep -q 'network namespace it was attached in (net:\[$INO\]) is gone' $TMP/detach8.out && [ ! -e $KGATE_PIN_ROOT/$IFG ] && ip netns exec $REUSED tc qdisc show dev $IFG | grep -q clsact"
else
	echo "skipped: no namespace made here got the inode number $INO back (others are made meanwhile)"
	"$KGATE" detach --iface "$IFG" >/dev/null 2>&1
fi
for i in $(seq 50); do ip netns del "${ID}r$i" 2>/dev/null; done

# IFR in B attached (kgate makes the clsact), the agent stopped, IFR made anew with a
# clsact of someone else's: detach removes kgate's pins and leaves that qdisc
IFR="${ID}x0"
remake_r() { # a new IFR (a new ifindex), with a clsact not kgate's when $1 is "clsact"
	ip -n "$NSB" link del "$IFR" 2>/dev/null
	ip -n "$NSB" link add "$IFR" type veth peer name "${ID}x1"
	for l in "$IFR" "${ID}x1"; do ip -n "$NSB" link set "$l" up; done
	[ "${1:-}" != clsact ] || inb tc qdisc add dev "$IFR" clsact
}
remake_r
agent_once "$NSB" "$IFR" "$TMP/agent10.log" || exit 1
check "IFR: kgate made its clsact" bash -c "nsenter --net=/run/netns/$NSB tc qdisc show dev $IFR | grep -q clsact"
remake_r clsact
kg detach --iface "$IFR" >"$TMP/detach9.out" 2>&1
rc=$?
check "detach, the interface made anew with a clsact of its own: pins removed, that qdisc kept" bash -c "[ $rc -eq 0 ] && grep -q 'made anew since kgate attached' $TMP/detach9.out && [ ! -e $KGATE_PIN_ROOT/$IFR ] && nsenter --net=/run/netns/$NSB tc qdisc show dev $IFR | grep -q clsact"
# the same through an agent that adopts the pins on the new interface (it attaches into
# the clsact it finds there, which stays someone else's)
remake_r
agent_once "$NSB" "$IFR" "$TMP/agent11.log" || exit 1
remake_r clsact
agent_once "$NSB" "$IFR" "$TMP/agent12.log" || exit 1
kg detach --iface "$IFR" >"$TMP/detach10.out" 2>&1
rc=$?
check "adopted on the interface made anew, then detached: that clsact kept, no pins" bash -c "[ $rc -eq 0 ] && grep -q 're-attaching' $TMP/agent12.log && [ ! -e $KGATE_PIN_ROOT/$IFR ] && nsenter --net=/run/netns/$NSB tc qdisc show dev $IFR | grep -q clsact"
ip -n "$NSB" link del "$IFR"

cat "$TMP/measure.txt" 2>/dev/null
echo "agent runtime: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
