#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The policy store as the one source of truth, and the policy lifecycle, on a real agent
# (root): `kgate run` on the rig of tests/agent/lib.sh, auditing to a file and to the
# mock's audit topic. Proves:
#  1. --policy FILE seeds an empty store; an apply then survives SIGHUP (FILE unchanged)
#     and a restart; FILE edited then SIGHUP is a new change by the file; a change made
#     while no agent ran is recorded when the next one starts. Every change is one
#     `policy` audit record (who, node, old and new version, digest).
#  2. history, rollback (default and --to), pause/resume in one flip (enforcement stops
#     and comes back, the pause outlives a restart and an apply);
#  3. apply --confirm-within: reverted at its deadline, kept by a confirm, refused with no
#     agent, reverted by the next agent's start when the agent was away at the deadline,
#     reverted by its reject guard and by its undecodable guard, kept when the guard's
#     threshold is not passed;
#  4. whatif: what it predicts for policy B over traffic recorded under A equals what B
#     then really decides on the same requests (raw Produce requests, each decided by
#     name, sent again), from the audit file and from the audit topic; sampled allows
#     carry their rate;
#  5. the audit file moved away twice under load (SIGUSR1, then no signal at all): every
#     decision the datapath counted is in one of the three files, sequence numbers
#     without hole or repeat.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/agent/lib_store.sh
. tests/agent/lib_store.sh kgl life

rig_up ok.a ok.b later.c secret.b kgate.audit || exit 1
# a second interface the agent serves from section 2 on (a veth pair inside B, no
# traffic): each interface has its own store, journal and pause
IF2="${ID}q0"
IFACES=("$IF2")
ip -n "$NSB" link add "$IF2" type veth peer name "${ID}q1"
for l in "$IF2" "${ID}q1"; do ip -n "$NSB" link set "$l" up; done

B_RULES='  - name: app2-no-ok-a
    topics: [ok.a]
    client_ids: [app-2]
    action: reject
  - name: orders-no-later
    topics: ["later.*"]
    principals: [orders-svc]
    action: reject
'"$OK_ALLOW"
policy v-a "$OK_ALLOW" >"$TMP/a.yaml"
policy v-b "$B_RULES" >"$TMP/b.yaml"
policy v-c "$OK_ALLOW" >"$TMP/c.yaml"
policy v-d "$OK_ALLOW" >"$TMP/d.yaml"
policy v-e "$OK_REJECT" >"$TMP/e.yaml"
policy v-a4 "$OK_ALLOW" '"1-in-4"' 1s >"$TMP/a4.yaml"
cp "$TMP/a.yaml" "$TMP/agent.yaml"

# ---- 1. one source of truth ----------------------------------------------------------------
start_agent || exit 1
check "seed: the empty store took --policy FILE, logged with who and how" log_has "policy change 1 recorded: apply by root \(uid 0, file $TMP/agent.yaml\): \"none\" \(version id 0\) -> \"v-a\" \(version id 1\), $(sha "$TMP/agent.yaml")"
pcheck "seed: a policy record: step apply, from the file, node, old none, new v-a, the file's digest" 1 "
assert (d['node'], d['step'], d['iface'], d['source'], d['user'], d['uid']) == ('test-node', 'apply', '$IFB', 'file $TMP/agent.yaml', 'root', 0), d
assert (d['old_version_id'], d['version_id'], d['policy_version'], d['digest']) == (None, 1, 'v-a', '$(sha "$TMP/agent.yaml")'), d
assert d['seq'] > 0 and d['mode'] == 'enforce' and d['paused'] is False and d['confirm_by'] is None, d"

kg policy apply --iface "$IFB" "$TMP/b.yaml" >"$TMP/apply.out" 2>&1
check "apply (agent running): exit 0, v-a -> v-b" grep -q "^$IFB: \"v-a\" (version id 1, generation 1) -> \"v-b\" (version id 2, generation 0)" "$TMP/apply.out"
pcheck "apply: recorded by the agent: step apply by 'policy apply', v-a -> v-b, B's digest" 2 "
assert (d['step'], d['source'], d['user'], d['old_version_id'], d['old_policy_version'], d['version_id'], d['policy_version'], d['digest']) == ('apply', 'policy apply', 'root', 1, 'v-a', 2, 'v-b', '$(sha "$TMP/b.yaml")'), d"
check "observe: the policy changes among the decisions, even with a verdict filter" bash -c "nsenter --net=/run/netns/$NSB $KGATE observe --verdict deny | grep -q 'POLICY apply on $IFB by root (policy apply): \"v-a\" -> \"v-b\", mode enforce'"
check "apply: the agent logged who changed what" log_has "policy change 2 recorded: apply by root \(uid 0, policy apply\): \"v-a\" \(version id 1\) -> \"v-b\" \(version id 2\)"
check "under v-b: app-2's ok.a rejected, app-1's allowed" test "$(raw_errs app-2 ok.a) $(raw_errs app-1 ok.a)" = "TOPIC_AUTHORIZATION_FAILED OK"
kill -HUP "$AGENT_PID"
check "apply then SIGHUP: FILE unchanged, nothing applied (logged)" log_has "agent.yaml unchanged since the agent took it .*version 2 of the policy store runs"
jcheck "apply then SIGHUP: v-b still runs" 'assert (d["version"], d["version_id"]) == ("v-b", 2), d' show
check "apply then SIGHUP: no change in the journal" test "$(changes)" -eq 2
stop_agent
start_agent || exit 1
jcheck "apply then restart: v-b still runs" 'assert (d["version"], d["version_id"]) == ("v-b", 2), d' show
check "apply then restart: FILE unchanged, not re-applied, said so" log_has "agent.yaml unchanged since the agent took it .*version 2 of the policy store runs"
check "apply then restart: the log never shows v-a coming back" bash -c "! since_start | grep -q -- '-> \"v-a\"'"
check "apply then restart: no change in the journal" test "$(changes)" -eq 2

stop_agent
printf 'version: broken\nrules:\n  - name: x\n    topics: ["ok.*"]\n    action: maybe\n' >"$TMP/agent.yaml"
start_agent || exit 1
check "a broken FILE at a restart: logged as FILE:LINE:COL" log_has "kgate: $TMP/agent.yaml:5:[0-9]+: "
check "a broken FILE at a restart: refused, the store's version runs" log_has "$IFB: $TMP/agent.yaml refused; version 2 of the policy store runs"
jcheck "a broken FILE at a restart: v-b still runs" 'assert d["version"] == "v-b", d' show
cp "$TMP/c.yaml" "$TMP/agent.yaml"
kill -HUP "$AGENT_PID"
check "FILE edited then SIGHUP: applied as a new version from the file" log_has "-> \"v-c\" \(version id 3\) from $TMP/agent.yaml"
pcheck "FILE edited: a record: step apply by 'file FILE', v-b -> v-c, the new file's digest" 3 "
assert (d['step'], d['source'], d['old_version_id'], d['version_id'], d['policy_version'], d['digest']) == ('apply', 'file $TMP/agent.yaml', 2, 3, 'v-c', '$(sha "$TMP/c.yaml")'), d"
kill -HUP "$AGENT_PID"
check "FILE unchanged, SIGHUP again: nothing" log_has "unchanged since the agent took it .*version 3 of the policy store runs"

stop_agent
T_DOWN=$(date +%s%N)
kg policy apply --iface "$IFB" "$TMP/d.yaml" >"$TMP/apply.out" 2>"$TMP/apply.err"
check "apply with no agent: done, and said it is recorded when an agent starts" grep -q "no agent serves this interface now: the change goes into the audit stream when 'kgate run' starts" "$TMP/apply.err"
check "apply with no agent: not in the audit stream yet" bash -c "! grep -qE '\"kind\":\"policy\",\"change\":4,\"step\":\"apply\",\"iface\":\"$IFB\"' $AUDIT"
start_agent || exit 1
pcheck "apply with no agent: recorded at the next start, with the time it happened" 4 "
assert (d['step'], d['source'], d['old_policy_version'], d['policy_version']) == ('apply', 'policy apply', 'v-c', 'v-d'), d
assert $T_DOWN <= d['ts_ns'] < $(date +%s%N), d"
jcheck "restart: v-d (applied while down) runs, FILE (v-c, unchanged) is not re-applied" 'assert d["version"] == "v-d", d' show

# ---- 2. history, rollback, pause -----------------------------------------------------------
kg policy history --iface "$IFB" >"$TMP/hist.txt"
check "history: 4 versions, the current one marked, who and how" bash -c "grep -q '4 versions kept; version 4 runs' $TMP/hist.txt && grep -qE '^  \* 4 +v-d +sha256:[0-9a-f]{12} .* root +policy apply$' $TMP/hist.txt && grep -qE '^    1 +v-a .* root +file $TMP/agent.yaml$' $TMP/hist.txt"
jcheck "history -o json: ids newest first, digests, the file's digest" "
v = d['versions']
assert [x['id'] for x in v] == [4, 3, 2, 1] and [x['current'] for x in v] == [True, False, False, False], v
assert v[3]['digest'] == '$(sha "$TMP/a.yaml")' and v[0]['source'] == 'policy apply' and v[0]['user'] == 'root', v
assert d['file'] == {'path': '$TMP/agent.yaml', 'digest': '$(sha "$TMP/c.yaml")'} and d['pending'] is None, d" kg policy history --iface "$IFB" -o json
kg policy rollback --iface "$IFB" >"$TMP/rb.out" 2>&1
check "rollback: to the previous version (v-c, id 3), one flip" grep -q "^$IFB: rollback: \"v-d\" (version id 4, generation [01]) -> \"v-c\" (version id 3, generation [01]), mode enforce" "$TMP/rb.out"
pcheck "rollback: recorded: step rollback, v-d -> v-c (same id and digest as before)" 5 "
assert (d['step'], d['source'], d['old_version_id'], d['version_id'], d['digest']) == ('rollback', 'policy rollback', 4, 3, '$(sha "$TMP/c.yaml")'), d"
kg policy rollback --iface "$IFB" --to 1 >/dev/null
jcheck "rollback --to 1: v-a runs under its own id" 'assert (d["version"], d["version_id"]) == ("v-a", 1), d' show
kg policy rollback --iface "$IFB" --to 1 >/dev/null 2>"$TMP/rb.err"
rc=$?
check "rollback --to the version that runs: exit 1, already runs" bash -c "[ $rc -eq 1 ] && grep -q 'version 1 already runs' $TMP/rb.err"
kg policy rollback --iface "$IFB" --to 999 >/dev/null 2>"$TMP/rb.err"
rc=$?
check "rollback --to an id not kept: exit 1, names history" bash -c "[ $rc -eq 1 ] && grep -q 'not in the store' $TMP/rb.err"
check "under v-a: secret.b rejected" test "$(raw_errs app-1 secret.b)" = TOPIC_AUTHORIZATION_FAILED

kg policy pause --iface "$IFB" >"$TMP/pause.out"
jcheck "pause: the same version, monitor mode, paused" 'assert (d["version_id"], d["mode"], d["paused"]) == (1, "monitor", True), d' show
check "paused: secret.b goes through" test "$(raw_errs app-1 secret.b)" = OK
sleep 0.5
check "paused: the decision is recorded, reject not enforced, by no-secrets" /usr/bin/python3 -c "
import json
r = [json.loads(l) for l in open('$AUDIT')]
r = [x for x in r if x.get('kind') == 'topic' and x['topic'] == 'secret.b'][-1]
assert (r['verdict'], r['enforced'], r['rule'], r['version_id']) == ('reject', False, 'no-secrets', 1), r"
pcheck "pause: recorded: step pause, mode monitor, same version" 7 "
assert (d['step'], d['old_version_id'], d['version_id'], d['mode'], d['paused']) == ('pause', 1, 1, 'monitor', True), d"
kg policy pause --iface "$IFB" >"$TMP/pause2.out"
check "pause twice: exit 0, nothing to do, no change" bash -c "grep -q 'nothing to do' $TMP/pause2.out && [ $(changes) -eq 7 ]"
stop_agent
start_agent --iface "$IF2" || exit 1
jcheck "pause outlives a restart" 'assert (d["mode"], d["paused"]) == ("monitor", True), d' show
kg policy apply "$TMP/b.yaml" >"$TMP/apply.out" # both interfaces
jcheck "an apply while paused goes in in monitor mode" 'assert (d["version"], d["mode"], d["paused"]) == ("v-b", "monitor", True), d' show
jcheck "... on the paused interface only: the other one enforces it" 'assert (d["version"], d["mode"], d["paused"]) == ("v-b", "enforce", False), d' kg policy show --iface "$IF2" -o json
check "an apply while paused says so" grep -q 'paused: the policy decides in monitor mode' "$TMP/apply.out"
kg policy resume --iface "$IFB" >/dev/null
jcheck "resume: enforce again, one flip" 'assert (d["version"], d["mode"], d["paused"]) == ("v-b", "enforce", False), d' show
check "resumed: secret.b rejected again" test "$(raw_errs app-1 secret.b)" = TOPIC_AUTHORIZATION_FAILED
pcheck "resume: recorded: step resume, mode enforce" 9 "assert (d['step'], d['mode'], d['paused']) == ('resume', 'enforce', False), d"

# ---- 3. confirmed applies --------------------------------------------------------------------
BEFORE=$(show | json 'print(d["version_id"])')
kg policy apply --iface "$IFB" --confirm-within 3s "$TMP/e.yaml" >"$TMP/ce.out"
check "apply --confirm-within: says when it goes back, and to which version" grep -q "goes back to \"v-b\" (version id $BEFORE) at .* unless 'kgate policy confirm --iface $IFB'" "$TMP/ce.out"
jcheck "apply --confirm-within: v-e runs, awaiting its confirm" 'assert d["version"] == "v-e" and d["pending"]["revert_to"] == '"$BEFORE"', d' show
check "not confirmed: the agent goes back at the deadline" log_has "was not confirmed in time: going back to version $BEFORE"
# (its record is written once the revert is made)
pcheck "not confirmed: recorded: step revert by the agent, reason confirm_timeout" 11 "
assert (d['step'], d['source'], d['policy_version'], d['version_id'], d['reason']) == ('revert', 'agent', 'v-b', $BEFORE, 'confirm_timeout'), d"
jcheck "not confirmed: the version before runs again, nothing pending" 'assert d["version_id"] == '"$BEFORE"' and d["pending"] is None, d' show
kg policy apply --iface "$IFB" --confirm-within 60s "$TMP/e.yaml" >/dev/null
kg policy confirm --iface "$IFB" >"$TMP/confirm.out"
check "confirm: exit 0, it stays" grep -q "confirmed \"v-e\"" "$TMP/confirm.out"
pcheck "confirm: recorded: step confirm" 13 "assert (d['step'], d['policy_version'], d['source']) == ('confirm', 'v-e', 'policy confirm'), d"
jcheck "confirmed: v-e runs, nothing pending" 'assert d["version"] == "v-e" and d["pending"] is None, d' show
kg policy confirm --iface "$IFB" >/dev/null 2>"$TMP/confirm.err"
rc=$?
check "confirm with nothing pending: exit 1, says so" bash -c "[ $rc -eq 1 ] && grep -q 'no apply awaits a confirm' $TMP/confirm.err"
kg policy apply --iface "$IFB" "$TMP/b.yaml" >/dev/null
BEFORE2=$(show | json 'print(d["version_id"])')
stop_agent
N=$(changes)
kg policy apply --iface "$IFB" --confirm-within 30s "$TMP/e.yaml" >/dev/null 2>"$TMP/ce.err"
rc=$?
check "--confirm-within with no agent: refused (exit 1), the agent owns the timer" bash -c "[ $rc -eq 1 ] && grep -q 'no agent serves $IFB: the agent owns the timer' $TMP/ce.err && [ $(changes) -eq $N ]"
start_agent || exit 1
# the agent stops while an apply awaits its confirm: the next one goes back at its start
kg policy apply --iface "$IFB" --confirm-within 2s "$TMP/e.yaml" >/dev/null
N=$(changes)
stop_agent
sleep 2.5
jcheck "agent stopped past the deadline: the unconfirmed v-e still runs (no agent, no timer)" 'assert d["version"] == "v-e" and d["pending"] is not None, d' show
start_agent || exit 1
check "the next agent goes back at its start" log_has "version [0-9]+ was not confirmed in time: going back to version $BEFORE2"
pcheck "... recorded: revert, reason confirm_timeout" $((N + 1)) "assert (d['step'], d['reason'], d['policy_version']) == ('revert', 'confirm_timeout', 'v-b'), d"

# the reject guard: v-e rejects every ok.* Produce
guard_traffic() { for _ in 1 2 3 4; do raw app-1 ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a >/dev/null; sleep 0.4; done; }
kg policy apply --iface "$IFB" --confirm-within 60s --guard-rejects-per-s 1000 "$TMP/e.yaml" >/dev/null
N=$(changes)
guard_traffic
sleep 1.5
jcheck "a guard not passed (1000 denies/s): still v-e, awaiting its confirm" 'assert d["version"] == "v-e" and d["pending"] is not None, d' show
kg policy confirm --iface "$IFB" >/dev/null
kg policy apply --iface "$IFB" "$TMP/b.yaml" >/dev/null
kg policy apply --iface "$IFB" --confirm-within 60s --guard-rejects-per-s 3 "$TMP/e.yaml" >/dev/null
N=$(changes)
guard_traffic
check "reject guard: tripped, the agent goes back" log_has "decisions/s denied, more than the guard's 3: going back to version"
pcheck "reject guard: recorded: revert, reason guard_rejects, the rate and limit" $((N + 1)) "
assert (d['step'], d['reason'], d['limit_per_s'], d['policy_version']) == ('revert', 'guard_rejects', 3, 'v-b') and d['rate_per_s'] > 3, d"
jcheck "reject guard: v-b runs again" 'assert d["version"] == "v-b" and d["pending"] is None, d' show
# the undecodable guard: TLS ClientHellos on the plaintext listener
tls_hellos() { inc /usr/bin/python3 -c "
import socket, time
for i in range(24):
    try:
        s = socket.create_connection(('$BIP', 9092), timeout=2)
        s.sendall(b'\x16\x03\x01\x00\x2f' + b'\x01' * 47)
        time.sleep(0.05)
        s.close()
    except OSError:
        pass
    time.sleep(0.1)"; }
kg policy apply --iface "$IFB" --confirm-within 60s --guard-undecodable-per-s 2 "$TMP/e.yaml" >/dev/null
N=$(changes)
tls_hellos
check "undecodable guard: tripped, the agent goes back" log_has "frames/s undecodable, more than the guard's 2: going back to version"
pcheck "undecodable guard: recorded: revert, reason guard_undecodable" $((N + 1)) "
assert (d['step'], d['reason'], d['policy_version']) == ('revert', 'guard_undecodable', 'v-b') and d['rate_per_s'] > 2, d"

# ---- 4. whatif on recorded traffic -------------------------------------------------------------
traffic() { # the same requests every time
	raw app-1 ok.a ok.b later.c secret.b ok.a later.c >/dev/null
	raw app-2 ok.a later.c ok.b secret.b ok.a >/dev/null
	raw app-3 ok.b ok.b later.c >/dev/null
}
# the decisions recorded since wall time $1 (ns): topic records of this node
recs_since() { /usr/bin/python3 -c "
import json, sys
for l in open('$AUDIT'):
    d = json.loads(l)
    if d.get('kind') == 'topic' and d['ts_ns'] >= $1:
        print(l, end='')"; }
record_under() { # policy, output, command...: what the command's requests were decided
	local pol=$1 out=$2
	shift 2
	kg policy apply --iface "$IFB" "$pol" >/dev/null
	sleep 1.5 # nothing else is recorded from here to the requests
	T=$(date +%s%N)
	"$@"
	sleep 1
	recs_since "$T" >"$out"
}
record_under "$TMP/a.yaml" "$TMP/under_a.jsonl" traffic
T0=$T
check "recorded under v-a: every request decided and recorded (14 topic decisions)" test "$(wc -l <"$TMP/under_a.jsonl")" -eq 14
kg policy whatif "$TMP/b.yaml" --file "$TMP/under_a.jsonl" -o json >"$TMP/whatif.json" 2>"$TMP/whatif.err"
kg policy whatif "$TMP/b.yaml" --file "$TMP/under_a.jsonl" >"$TMP/whatif.txt" 2>&1
cat "$TMP/whatif.txt"
record_under "$TMP/b.yaml" "$TMP/under_b.jsonl" traffic
check "whatif B over A's records = what B then decided on the same requests (by topic, rule, principal, verdict)" /usr/bin/python3 -c "
import json, collections
w = json.load(open('$TMP/whatif.json'))
real = [json.loads(l) for l in open('$TMP/under_b.jsonl')]
assert len(real) == 14 and w['decisions'] == 14 and w['replayed_records'] == 14, (len(real), w['decisions'])
def outcome(r): return r['verdict'] + ('' if r['enforced'] else ' (not enforced)')
def by(key):
    c = collections.defaultdict(collections.Counter)
    for r in real: c[key(r)][outcome(r)] += 1
    return {k: dict(v) for k, v in c.items()}
for table, key, name in (('by_topic', lambda r: r['topic'], 'topic'), ('by_rule', lambda r: r['rule'], 'rule'),
                         ('by_principal', lambda r: r['principal'], 'principal'), ('by_verdict', lambda r: r['verdict'], 'verdict')):
    got = {g[name]: g['after'] for g in w[table]}
    assert got == by(key), (table, got, by(key))
changed = sum(1 for a, b in zip([json.loads(l) for l in open('$TMP/under_a.jsonl')], real) if outcome(a) != outcome(b))
assert w['changed'] == changed == 6, (w['changed'], changed)"
check "whatif text: the change, counts and an example" bash -c "grep -q '^6 of 14 decisions would change outcome' $TMP/whatif.txt && grep -q '^  allow -> reject: 6' $TMP/whatif.txt && grep -qE 'app2-no-ok-a|orders-no-later' $TMP/whatif.txt"
# the audit topic: the same records, read with librdkafka from --since
whatif_since() { # where (--file AUDIT or --from-kafka ...), output: the decisions since T0
	local out=$1
	shift
	inb "$KGATE" policy whatif "$TMP/b.yaml" "$@" --node test-node -o json \
		--since "$((($(date +%s%N) - T0) / 1000000000 + 1))s" >"$out" 2>>"$TMP/whatif_k.err"
}
# the sender delivers within a few hundred ms: the topic catches up with the file
for _ in $(seq 50); do
	whatif_since "$TMP/whatif_k.json" --from-kafka "127.0.0.1:$PORT" --audit-topic kgate.audit
	whatif_since "$TMP/whatif_f.json" --file "$AUDIT"
	json 'import sys; sys.exit(0 if d["decisions"] == 28 else 1)' <"$TMP/whatif_k.json" \
		2>/dev/null && break
	sleep 0.2
done
check "whatif --from-kafka --since: the same answer as from the audit file" /usr/bin/python3 -c "
import json
k, f = json.load(open('$TMP/whatif_k.json')), json.load(open('$TMP/whatif_f.json'))
assert k['decisions'] == f['decisions'] == 28, (k['decisions'], f['decisions'])
for t in ('by_topic', 'by_rule', 'by_verdict', 'changes'):
    assert k[t] == f[t], (t, k[t], f[t])
assert k['source'] == {'brokers': '127.0.0.1:$PORT', 'topic': 'kgate.audit', 'node': 'test-node'}, k['source']"
# nothing on the topic is as new as --since: its partitions are skipped, not read from
# the start (the mock cluster answers every lookup by time with -1, as a real one does
# when no record is that new; the partition's last record tells the two apart)
sleep 2
jcheck "whatif --from-kafka --since newer than every record: nothing read" '
assert d["records"] == 0 and d["not_replayed"]["before_since"] == 0, (d["records"], d["not_replayed"])' \
	inb "$KGATE" policy whatif "$TMP/b.yaml" --from-kafka "127.0.0.1:$PORT" --audit-topic kgate.audit --since 1s -o json
# sampled allows: one record stands for 4 decisions (one in 4 of a connection's topic
# decisions is recorded: 12 allows on one connection, 3 recorded); v-a4 folds, so the 3
# identical ones are a record and a summary of 2 (count): whatif counts each 4 x count
sampled_traffic() {
	raw app-1 ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a ok.a >/dev/null
	raw app-1 secret.b >/dev/null
}
record_under "$TMP/a4.yaml" "$TMP/under_a4.jsonl" sampled_traffic
check "audit.allow 1-in-4, folded: 3 allow decisions of 12 in 2 records (1, then 2) with sample 4, the reject's 1" /usr/bin/python3 -c "
import json
r = [json.loads(l) for l in open('$TMP/under_a4.jsonl')]
assert [(x['verdict'], x['sample'], x['count']) for x in r] == [('allow', 4, 1), ('allow', 4, 2), ('reject', 1, 1)], r
assert r[1]['first_ts'] < r[1]['last_ts'] == r[1]['ts_ns'], r[1]"
jcheck "whatif over sampled, folded records: scaled by their rate and count, and says so" "
s = d['sampling']
assert s['scaled'] and s['rates'][0]['policy_version'] == 'v-a4' and s['rates'][0]['one_in'] == 4, s
n = sum(r['sample'] * r['count'] for r in map(json.loads, open('$TMP/under_a4.jsonl')))
assert d['decisions'] == n == 13 and d['replayed_records'] == 3, d" kg policy whatif "$TMP/b.yaml" --file "$TMP/under_a4.jsonl" -o json
kg policy whatif "$TMP/b.yaml" --file "$TMP/under_a4.jsonl" >"$TMP/whatif4.txt"
check "whatif text over sampled records: says they are estimates" grep -q 'sampled: 2 allow records of "v-a4" keep 1 in 4 decisions: each decision they count is counted 4 times' "$TMP/whatif4.txt"

# ---- 5. rotation under load -------------------------------------------------------------------
# a datapath made anew (counters from zero) that runs v-a (every allow recorded)
kg policy apply --iface "$IFB" "$TMP/a.yaml" >/dev/null
stop_agent
kg detach --iface "$IFB" >/dev/null
mv "$AUDIT" "$TMP/audit.before.jsonl"
start_agent || exit 1
cat >"$TMP/producer.py" <<'EOF'
import sys, time
import confluent_kafka as ck
p = ck.Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 0, "message.timeout.ms": 3000})
end = time.time() + float(sys.argv[2])
n = 0
while time.time() < end:  # ~500 records a second, each its own request (linger 0)
    p.produce("ok.a", value=b"x")
    p.poll(0)
    time.sleep(0.002)
    n += 1
p.flush(5)
print(n)
EOF
inc /usr/bin/python3 "$TMP/producer.py" "$BIP:9092" 6 >"$TMP/prod.out" 2>"$TMP/prod.err" &
BG_PID=$!
sleep 2
mv "$AUDIT" "$TMP/audit.rot1.jsonl"
kill -USR1 "$AGENT_PID"
check "SIGUSR1: the audit file reopened (logged)" log_has "SIGUSR1: audit file reopened$"
sleep 2
mv "$AUDIT" "$TMP/audit.rot2.jsonl" # no signal: the agent notices the move by itself
wait "$BG_PID"
BG_PID=""
sleep 1.5
kg stats --iface "$IFB" -o json >"$TMP/stats.json"
stop_agent
check "rotation under load: every counted decision is in one of the three files, seq without hole or repeat" /usr/bin/python3 -c "
import json
files = ['$TMP/audit.rot1.jsonl', '$TMP/audit.rot2.jsonl', '$AUDIT']
recs = [[json.loads(l) for l in open(f)] for f in files]
dec = [[r for r in rs if r['kind'] in ('topic', 'request')] for rs in recs]
assert all(len(d) > 20 for d in dec), [len(d) for d in dec]
st = json.load(open('$TMP/stats.json'))
counted = sum(st['verdicts'].values())
assert sum(r['count'] for d in dec for r in d) == counted, ([len(d) for d in dec], counted)
seqs = sorted(r['seq'] for rs in recs for r in rs)
assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), 'hole or repeat'
assert not any(r['kind'] == 'gap' for rs in recs for r in rs)
print('rotation: %d decisions in %s records across 3 files' % (counted, [len(d) for d in dec]))"
cat "$TMP/out"

echo "agent lifecycle: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
