#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The policy store's and the lifecycle's commands as a user meets them, without root and
without a datapath: --help (the model stated), usage errors, `policy history` over a store
on disk, and `policy whatif` over audit records written here in the audit record's schema
(README, "Audit records"): sampled allows scaled, regions and identity principals taken
from the source address under FILE, SASL principals kept, requests without a topic (under
`topics: none` and `*` rules), the datapath's resets (ACL requests, late rejects), ports
FILE does not listen on, versions that recorded no allows, a monitor-mode FILE, records it
must not replay, --since and --node.

The agent side (applies, rollbacks, pauses, confirms and guards on a real datapath, and
whatif against what a policy then really decided) is tests/agent/test_lifecycle.sh.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import clitest
from clitest import check

TMP = tempfile.mkdtemp(prefix="kgate-store-")
ENV = dict(os.environ, KGATE_STATE_DIR=TMP + "/state", KGATE_RUN_DIR=TMP + "/run",
           KGATE_PIN_ROOT=TMP + "/pins")


def kgate(*args, stdin=None):
    return clitest.kgate(*args, stdin=stdin, env=ENV)


def exits_says(name, want_rc, text, *args):
    rc, out, err = kgate(*args)
    check(name, rc == want_rc and text in out + err, (rc, out, err))


def write(name, text):
    path = os.path.join(TMP, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- --help states the model; the options come from the tables ------------------------
rc, out, _ = kgate("run", "--help")
check("run --help states the source-of-truth model",
      rc == 0 and "policy store (STATE_DIR/IF/) is the one" in out and
      "only when its bytes differ" in out and "SIGUSR1 reopens --audit-file" in out, out)
rc, out, _ = kgate("policy", "--help")
check("policy --help lists the lifecycle's subcommands",
      rc == 0 and all(s in out for s in ("history", "rollback", "confirm", "pause",
                                         "resume", "whatif")), out)
rc, out, _ = kgate("policy", "apply", "--help")
check("policy apply --help: --confirm-within and both guards",
      rc == 0 and all(s in out for s in ("--confirm-within DURATION",
                                         "--guard-rejects-per-s N",
                                         "--guard-undecodable-per-s N")), out)
check("policy apply --help: a guard counts denies that are not enforced",
      "denies it does not enforce count too (monitor\n" in out and
      "mode, audit: true rules, a paused policy)" in out, out)
rc, out, _ = kgate("policy", "rollback", "--help")
check("policy rollback --help: the default is what ran before, never a reverted version",
      rc == 0 and "version that ran before the one that runs" in out and
      "Never by default to a version that\nwas reverted" in out, out)
rc, out, _ = kgate("policy", "whatif", "--help")
check("policy whatif --help: what was not recorded cannot be replayed; listeners",
      rc == 0 and "audit.allow none" in out and "does not listen on" in out, out)
for sub in ("history", "rollback", "confirm", "pause", "resume", "whatif"):
    rc, out, _ = kgate("policy", sub, "--help")
    check("policy %s --help: its usage" % sub, rc == 0 and out.startswith(
        "usage: kgate policy " + sub), out)

# ---- usage errors ------------------------------------------------------------------------
pol = write("p.yaml", """version: "p-1"
default: allow
listeners:
  - port: 9092
rules:
  - name: no-secrets
    topics: ["secret.*"]
    action: reject
""")
exits_says("apply: a guard without --confirm-within: exit 2", 2, "goes with --confirm-within",
           "policy", "apply", "--guard-rejects-per-s", "5", pol)
exits_says("apply --confirm-within 5 (no unit): exit 2", 2, "is not a duration",
           "policy", "apply", "--confirm-within", "5", pol)
exits_says("apply --confirm-within 0s: exit 2", 2, "is not a duration",
           "policy", "apply", "--confirm-within", "0s", pol)
exits_says("apply --guard-rejects-per-s 0: exit 2", 2, "not a number from 1",
           "policy", "apply", "--confirm-within", "1m", "--guard-rejects-per-s", "0", pol)
exits_says("apply --confirm-within on an interface no agent serves: exit 1, says why", 1,
           "the agent owns the timer", "policy", "apply", "--iface", "kgnosuch0",
           "--confirm-within", "1m", pol)
exits_says("rollback --to x: exit 2", 2, "is not a number", "policy", "rollback", "--to", "x")
for sub in ("rollback", "confirm", "pause", "resume"):
    exits_says("policy %s with nothing pinned: exit 1" % sub, 1, "no kgate datapath is pinned",
               "policy", sub)
exits_says("whatif without records: exit 2", 2, "--file AUDIT or --from-kafka", "policy",
           "whatif", pol)
exits_says("whatif --file and --from-kafka: exit 2", 2, "--file AUDIT or --from-kafka",
           "policy", "whatif", pol, "--file", "x", "--from-kafka", "h:1", "--audit-topic", "t")
exits_says("whatif --from-kafka without --audit-topic: exit 2", 2, "go together", "policy",
           "whatif", pol, "--from-kafka", "h:1")
exits_says("whatif --since 10 (no unit): exit 2", 2, "is not a duration", "policy", "whatif",
           pol, "--file", "x", "--since", "10")
exits_says("whatif a missing audit file: exit 1", 1, "No such file", "policy", "whatif", pol,
           "--file", TMP + "/none.jsonl")
bad = write("bad.yaml", "version: x\nrules: [\n")
exits_says("whatif a broken FILE: exit 1, FILE:LINE:COL", 1, bad + ":", "policy", "whatif", bad,
           "--file", pol)

# ---- history over a store on disk (no datapath: the store outlives a detach) ------------
exits_says("history with no store: exit 1", 1, "no policy store", "policy", "history")
a = "version: \"s-1\"\ndefault: allow\nlisteners:\n  - port: 9092\n"
b = a.replace("s-1", "s-2")
store = "state/eth9/policies/"
for i, text in ((1, a), (2, b)):
    write(store + "%d.yaml" % i, text)
    write(store + "%d.version" % i, "s-%d" % i)
write(store + "2.meta", "digest sha256:%s\ntime_ns 1795825782609063102\nuid 1000\nuser alice\n"
      "source policy apply\n" % hashlib.sha256(b.encode()).hexdigest())
write("state/eth9/current", "id 1 paused 1\n")
write("state/eth9/file", "sha256:%s /etc/kgate/policy.yaml\n" % ("0" * 64))
rc, out, err = kgate("policy", "history", "-o", "json")
docs = json.loads(out) if rc == 0 else []
d = docs[0] if len(docs) == 1 else {}
check("history -o json (every store: an array of one here): versions newest first, current, paused, the file's digest, meta",
      rc == 0 and [v["id"] for v in d["versions"]] == [2, 1] and d["current"] == 1 and
      d["paused"] is True and [v["current"] for v in d["versions"]] == [False, True] and
      d["versions"][0]["user"] == "alice" and d["versions"][0]["uid"] == 1000 and
      d["versions"][0]["time"] == "2026-11-28T00:29:42.609Z" and
      d["versions"][1]["digest"] == "sha256:" + hashlib.sha256(a.encode()).hexdigest() and
      d["file"]["path"] == "/etc/kgate/policy.yaml", (rc, out, err))
rc, out, err = kgate("policy", "history", "--iface", "eth9")
check("history (text): the current one marked, paused said",
      rc == 0 and "2 versions kept; version 1 runs, paused" in out and
      any(l.startswith("  * 1 ") for l in out.splitlines()) and "alice" in out, out + err)

# ---- whatif over records in the audit schema ---------------------------------------------
now = time.time_ns()


def compact(d):
    """As kgate writes a record: one line, no spaces (its readers rely on that)."""
    return json.dumps(d, separators=(",", ":"))


def rec(seq, **kw):
    r = {"node": "n1", "seq": seq, "time": "2026-11-28T00:29:42.609063102Z",
         "ts_ns": now - 60 * 10**9, "ktime_ns": 1, "kind": "topic", "verdict": "allow",
         "enforced": True, "sample": 1, "rule": None, "rule_id": None,
         "policy_version": "old-1", "version_id": 1, "gen": 0, "family": 4,
         "src_ip": "10.10.0.2", "src_port": 40000, "dst_ip": "10.99.0.2", "dst_port": 9092,
         "region": "us", "region_id": 1, "principal": "ANONYMOUS", "principal_id": 0,
         "principal_source": "anonymous", "client_id": "app", "api_key": 0,
         "api_name": "Produce", "api_version": 7, "correlation_id": 1, "operation": "produce",
         "topic": "eu.orders", "topic_id": None, "reason": None, "bytes": 100}
    r.update(kw)
    return compact(r)


new = write("new.yaml", """version: "new-1"
default: allow
listeners:
  - port: 9092
regions:
  eu: [10.10.0.0/16]
identities:
  orders-svc: [10.10.5.0/24]
rules:
  - name: eu-writes-from-eu-only
    topics: ["eu.*"]
    regions_not: [eu]
    action: reject
  - name: orders-svc-no-ref
    topics: ["ref.*"]
    principals: [orders-svc]
    action: reject
  - name: no-admin
    operations: [admin]
    action: reject
""")
lines = [
    # sampled allows (1 in 10): 3 records for 30 decisions; from 10.30.x (no region): rejected
    rec(1, sample=10, src_ip="10.30.0.9"), rec(2, sample=10, src_ip="10.30.0.9"),
    rec(3, sample=10, src_ip="10.30.0.9"),
    # recorded in region "us" by the old policy: FILE puts 10.10.0.2 in eu: allowed, unchanged
    rec(4),
    # an identity principal from FILE's CIDRs (10.10.5.7 is orders-svc): rejected
    rec(5, src_ip="10.10.5.7", topic="ref.prices"),
    # a SASL principal is kept as recorded, even from orders-svc's network: allowed
    rec(6, src_ip="10.10.5.7", topic="ref.prices", principal="bob", principal_source="sasl"),
    # a request naming no topic, admin: rejected, and enforced as a reset
    rec(7, kind="request", topic=None, operation="admin", api_key=19, api_name="CreateTopics"),
    # an allow of unknown sampling: counted once
    rec(8, sample=None, topic="other"),
    # not replayed
    rec(9, kind="topic", topic=None, topic_id="0b2c4e6a-0000-4000-8000-000000000001"),
    rec(10, kind="undecodable", verdict="reset", reason="tls_on_plaintext", topic=None),
    compact({"node": "n1", "seq": 11, "ts_ns": now, "kind": "gap", "lost_deny": 1}),
    compact({"node": "n1", "seq": 12, "ts_ns": now, "kind": "policy", "step": "apply"}),
    # another node, and one from long ago: kept out by --node and --since
    rec(13, node="n2", src_ip="10.30.0.9"),
    rec(14, ts_ns=now - 7200 * 10**9, src_ip="10.30.0.9"),
]
audit = write("audit.jsonl", "\n".join(lines) + "\n")
rc, out, err = kgate("policy", "whatif", new, "--file", audit, "--node", "n1", "--since", "1h",
                     "-o", "json")
w = json.loads(out) if rc == 0 else {}
check("whatif -o json: one document", rc == 0 and isinstance(w, dict), (rc, out, err))
if w:
    topic = {g["topic"]: g for g in w["by_topic"]}
    rule = {g["rule"]: g for g in w["by_rule"]}
    check("whatif: sampled allows scaled by their rate, and said so",
          w["sampling"]["scaled"] and w["sampling"]["rates"] == [
              {"policy_version": "old-1", "one_in": 10, "records": 3}] and
          w["sampling"]["unknown_sample_records"] == 1, w["sampling"])
    check("whatif: 30 + 5 decisions replayed from 8 records; 30 + 2 change",
          (w["replayed_records"], w["decisions"], w["changed"]) == (8, 35, 32), w)
    check("whatif: the region from the address under FILE (eu), not the record's (us)",
          topic["eu.orders"]["after"] == {"allow": 1, "reject": 30}, topic["eu.orders"])
    check("whatif: an identity principal from FILE's CIDRs; a SASL one as recorded",
          topic["ref.prices"]["after"] == {"reject": 1, "allow": 1} and
          {g["principal"] for g in w["by_principal"]} == {"ANONYMOUS", "orders-svc", "bob"},
          (topic["ref.prices"], w["by_principal"]))
    check("whatif: a request naming no topic decided by the rules naming none: reset",
          topic[None]["after"] == {"reset": 1} and rule["no-admin"]["decisions"] == 1,
          (topic.get(None), rule.get("no-admin")))
    check("whatif: not replayed, counted apart",
          w["not_replayed"]["topic_id_only"] == 1 and w["not_replayed"]["undecodable"] == 1 and
          w["not_replayed"]["not_decisions"] == 2 and w["not_replayed"]["before_since"] == 1,
          w["not_replayed"])
    ex = [c for c in w["changes"] if c["before"] == "allow" and c["after"] == "reject"]
    check("whatif: allow -> reject with examples (FILE's rule, the old one)",
          ex and ex[0]["decisions"] == 31 and len(ex[0]["examples"]) == 3 and
          ex[0]["examples"][0]["after"]["rule"] == "eu-writes-from-eu-only" and
          ex[0]["examples"][0]["before"]["rule"] is None, ex)
rc, out, err = kgate("policy", "whatif", new, "--file", audit, "--node", "n1", "--since", "1h")
check("whatif (text): the estimate said, the change counted",
      rc == 0 and 'sampled: 3 allow records of "old-1" keep 1 in 10 decisions: each decision they count '
      'is counted 10 times' in out
      and "32 of 35 decisions would change outcome (91.4%), estimated" in out and
      "  allow -> reject: 31" in out, out + err)
monitor = write("monitor.yaml", open(new).read().replace("default: allow",
                                                         "mode: monitor\ndefault: allow"))
rc, out, err = kgate("policy", "whatif", monitor, "--file", audit, "--node", "n1", "--since",
                     "1h", "-o", "json")
check("whatif a monitor-mode FILE: the rejects are not enforced (and no reset)",
      rc == 0 and {g["verdict"]: g["after"] for g in json.loads(out)["by_verdict"]}["reject"] ==
      {"reject (not enforced)": 32}, out + err)
rc, out, err = kgate("policy", "whatif", new, "--file", "-", "-o", "json", stdin=lines[3] + "\n")
check("whatif --file - reads stdin", rc == 0 and json.loads(out)["decisions"] == 1, out + err)
# a storm's records (bpf/fold.h): a summary of 40 identical decisions counts 40 times; one
# that only carries 7 decisions past the budget replays nothing (their number is kept)
storm = [rec(1, count=1, src_ip="10.30.0.9"), rec(2, count=40, src_ip="10.30.0.9"),
         rec(3, count=0, folded=7, folded_deny=7, src_ip="10.30.0.9")]
rc, out, err = kgate("policy", "whatif", new, "--file", "-", "-o", "json",
                     stdin="\n".join(storm) + "\n")
w = json.loads(out) if rc == 0 else {}
check("whatif: a record of count 40 counts 40 times; folded decisions are not replayed",
      rc == 0 and (w["replayed_records"], w["decisions"], w["changed"]) == (2, 41, 41) and
      w["not_replayed"]["folded"] == 7, out + err)

# requests that name no topic go through the reference evaluator with no topic: rules of
# `topics: none` and rules of any topic ("*") decide them, as the datapath does
topicless = write("topicless.yaml", """version: "tl-1"
default: reject
listeners:
  - port: 9092
rules:
  - name: plumbing
    topics: none
    operations: [consume]
    action: allow
  - name: no-secret
    topics: ["secret"]
    action: reject
  - name: any-describe
    topics: ["*"]
    operations: [describe]
    action: allow
""")
req = dict(kind="request", topic=None)
tl_lines = [
    rec(1, rule="plumbing", operation="consume", api_key=10, api_name="FindCoordinator", **req),
    rec(2, rule="any-describe", operation="describe", api_key=3, api_name="Metadata", **req),
    # the datapath resets a reject of CreateAcls and DeleteAcls (a poisoned name would
    # create or delete an ACL for it): recorded so, and predicted so
    rec(3, verdict="reset", rule="no-secret", operation="admin", api_key=30,
        api_name="CreateAcls", topic="secret"),
    rec(4, verdict="reset", rule="no-secret", operation="admin", api_key=31,
        api_name="DeleteAcls", topic="secret"),
    # a reject whose name passed in an earlier segment resets: the same outcome
    rec(5, verdict="reset", rule="no-secret", topic="secret"),
    rec(6, verdict="reject", rule="no-secret", topic="secret"),
    # FILE does not listen on 9093: the datapath would pass this undecided
    rec(7, verdict="reject", rule="old-rule", topic="secret", dst_port=9093),
]
tl_audit = write("topicless.jsonl", "\n".join(tl_lines) + "\n")
rc, out, err = kgate("policy", "whatif", topicless, "--file", tl_audit, "-o", "json")
w = json.loads(out) if rc == 0 else {}
by_rule = {g["rule"]: g["after"] for g in w.get("by_rule", [])}
check("whatif: requests naming no topic decided by `topics: none` and `*` rules (no change)",
      rc == 0 and by_rule.get("plumbing") == {"allow": 1} and
      by_rule.get("any-describe") == {"allow": 1}, (rc, out, err))
check("whatif: ACL requests and late rejects that the datapath resets are no change",
      rc == 0 and by_rule.get("no-secret") == {"reset": 3, "reject": 1}, (rc, out, err))
check("whatif: a record on a port FILE does not listen on would pass undecided (the one change)",
      rc == 0 and w["decisions"] == 7 and w["changed"] == 1 and
      [(c["before"], c["after"], c["decisions"]) for c in w["changes"]] ==
      [("reject", "allow", 1)] and by_rule.get("(not a listener)") == {"allow": 1} and
      w.get("not_listener") == {"decisions": 1, "ports": [9093]}, (rc, out, err))
rc, out, err = kgate("policy", "whatif", topicless, "--file", tl_audit)
check("whatif (text): the port FILE does not listen on",
      rc == 0 and "1 decisions on ports FILE does not listen on (9093): they would pass "
      "undecided" in out, out + err)

# what the records' policy versions recorded: a version kept with audit.allow none (its
# allows left no record), one kept with its allows, one this host does not keep
write("state/eth10/policies/7.yaml", "version: \"quiet-1\"\ndefault: allow\naudit:\n"
      "  allow: none\nlisteners:\n  - port: 9092\nrules:\n  - {name: x, topics: [y], "
      "action: reject}\n")
write("state/eth10/policies/7.version", "quiet-1")
write("state/eth10/policies/8.yaml", "version: \"loud-1\"\ndefault: allow\naudit:\n"
      "  allow: all\nlisteners:\n  - port: 9092\nrules:\n  - {name: x, topics: [y], "
      "action: reject}\n")
write("state/eth10/policies/8.version", "loud-1")
v_lines = [rec(1, version_id=7, policy_version="quiet-1", verdict="reject", rule="x"),
           rec(2, version_id=8, policy_version="loud-1"),
           rec(3, version_id=8, policy_version="loud-1"),
           rec(4, version_id=9, policy_version="elsewhere-1")]
v_audit = write("versions.jsonl", "\n".join(v_lines) + "\n")
rc, out, err = kgate("policy", "whatif", new, "--file", v_audit, "-o", "json")
w = json.loads(out) if rc == 0 else {}
check("whatif -o json: each record's version looked up: allows recorded or not, or unknown",
      rc == 0 and sorted((v["policy_version"], v["version_id"], v["records"],
                          v["allows_recorded"]) for v in w.get("recorded_versions", [])) ==
      [("elsewhere-1", 9, 1, None), ("loud-1", 8, 2, True), ("quiet-1", 7, 1, False)],
      (rc, out, err))
# a recorded reset is the datapath's reject only when the rule that decided it rejects in
# the recorded version: under a reset rule, FILE's reject is a change
write("state/eth10/policies/10.yaml", "version: \"hard-1\"\ndefault: allow\nlisteners:\n"
      "  - port: 9092\nrules:\n  - {name: x, topics: [y], action: reset}\n")
write("state/eth10/policies/10.version", "hard-1")
yrej = write("yrej.yaml", "version: \"yrej-1\"\ndefault: allow\nlisteners:\n  - port: 9092\n"
             "rules:\n  - {name: no-y, topics: [y], action: reject}\n")
r_lines = [rec(1, version_id=8, policy_version="loud-1", verdict="reset", rule="x", topic="y"),
           rec(2, version_id=10, policy_version="hard-1", verdict="reset", rule="x", topic="y")]
rc, out, err = kgate("policy", "whatif", yrej, "--file", write("resets.jsonl", "\n".join(r_lines)
                                                                 + "\n"), "-o", "json")
w = json.loads(out) if rc == 0 else {}
check("whatif: a reset under a reject rule is no change, one under a reset rule is",
      rc == 0 and [(c["before"], c["after"], c["decisions"]) for c in w["changes"]] ==
      [("reset", "reject", 1)] and
      w["changes"][0]["examples"][0]["before"]["policy_version"] == "hard-1", (rc, out, err))
rc, out, err = kgate("policy", "whatif", new, "--file", v_audit)
check("whatif (text): says which version recorded no allows, and what is not known",
      rc == 0 and 'allows not recorded: 1 records are of "quiet-1" (version id 7), whose '
      "audit.allow is none" in out and "1 records are of versions this host's policy store "
      "does not keep" in out, out + err)

rc = clitest.summary("policy store cli")
subprocess.run(["rm", "-rf", TMP])
sys.exit(rc)
