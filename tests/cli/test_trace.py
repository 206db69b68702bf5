#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`kgate audit trace` and `kgate observe` over recorded audit records, without root or a
broker: tests/cli/trace/records.jsonl (SYNTHETIC write and read records in the schema of
the README's "Audit records", made by tests/tools/trace_records.py, whose docstring tells
the scenario; tests/e2e/test_evidence.sh traces records the datapath wrote) -> the answer each trace must give (JSON, checked field by
field) and the text it must print (the .golden files; KGATE_GOLDEN_UPDATE=1 rewrites them,
then read the diff). Variants of the records, made here, prove each anomaly and each way a
link can fail. The audit topic (librdkafka's mock cluster) is tests/agent/test_trace.sh.
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import clitest
from clitest import check, kgate

os.chdir(clitest.ROOT)
DIR = "tests/cli/trace"
RECS = DIR + "/records.jsonl"
UPDATE = bool(os.environ.get("KGATE_GOLDEN_UPDATE"))
TMP = tempfile.mkdtemp(prefix="kgate-trace-")


def records(path=RECS):
    return [json.loads(line) for line in open(path)]


def write(name, recs):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    return path


def find(recs, node, seq):
    return next(r for r in recs if r["node"] == node and r["seq"] == seq)


def trace(topic, partition, offset, path=RECS, *more):
    """(exit code, the JSON answer or None, stderr)"""
    rc, out, err = kgate("audit", "trace", "--topic", topic, "--partition", str(partition),
                         "--offset", str(offset), "--file", path, "-o", "json", *more)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, err + out


def golden(name, *args, width=120):
    rc, out, err = kgate(*args)
    path = "%s/%s.golden" % (DIR, name)
    if UPDATE:
        with open(path, "w") as f:
            f.write(out)
    want = open(path).read()
    check("%s = %s" % (" ".join(args), path), out == want and not err,
          "".join(__import__("difflib").unified_diff(want.splitlines(True), out.splitlines(True),
                                                     path, "output")) + err)
    check("%s: no line over %s columns" % (name, width),
          not width or max(len(line) for line in out.splitlines()) <= width, out)
    return rc


def ref(x):
    return (x["node"], x["seq"]) if x else None


def codes(d, key):
    return [a["code"] for a in d[key]]


# ---- the records are what the generator makes (they cannot drift apart) -----------------
gen = subprocess.run(["/usr/bin/python3", "tests/tools/trace_records.py"], capture_output=True,
                     text=True).stdout
check("records.jsonl is trace_records.py's output", gen == open(RECS).read())

# ---- the usage ---------------------------------------------------------------------------
rc, out, _ = kgate("audit", "--help")
check("audit --help lists trace", rc == 0 and "  trace " in out, out)
rc, out, _ = kgate("audit", "trace", "--help")
check("audit trace --help: both ways to read, the exit codes",
      rc == 0 and out.startswith("usage: kgate audit trace --topic T --partition P --offset O")
      and "--from-kafka BROKERS --audit-topic T" in out and "3 when" in out, out)
check("audit trace --help within 80 columns", max(map(len, out.splitlines())) <= 80, out)
base = ["audit", "trace", "--topic", "eu.orders"]
for args, says in [
        ([*base, "--offset", "7", "--file", RECS], "--partition is required"),
        ([*base, "--partition", "0", "--file", RECS], "--offset is required"),
        (["audit", "trace", "--partition", "0", "--offset", "7", "--file", RECS],
         "--topic is required"),
        ([*base, "--partition", "0", "--offset", "7"], "--file PATH or --from-kafka"),
        ([*base, "--partition", "0", "--offset", "7", "--file", RECS, "--from-kafka", "b:1",
          "--audit-topic", "t"], "--file PATH or --from-kafka"),
        ([*base, "--partition", "0", "--offset", "7", "--from-kafka", "b:1"], "go together"),
        ([*base, "--partition", "0", "--offset", "-1", "--file", RECS], "not a number"),
        ([*base, "--partition", "x", "--offset", "1", "--file", RECS], "not a number"),
        ([*base, "--partition", "0", "--offset", "7", "--file", RECS, "--since", "soon"],
         "not a duration")]:
    rc, out, err = kgate(*args)
    check("usage error (exit 2): %s" % says, rc == 2 and says in err, (rc, out, err))
rc, out, err = kgate(*base, "--partition", "0", "--offset", "7", "--file", "/nonexistent/a")
check("an unreadable file: exit 1, names it", rc == 1 and "/nonexistent/a" in err, (rc, err))

# ---- offset 7 of eu.orders [0]: a write whose first attempt failed, three reads ----------
rc, d, err = trace("eu.orders", 0, 7)
w = d and d["writer"]
check("0/7: found, exit 0", rc == 0 and d and d["found"], (rc, err))
check("0/7: the writer is broker-1 #7, offsets 5..9, the batch's facts",
      w and ref(w) == ("broker-1", 7) and (w["base_offset"], w["last_offset"]) == (5, 9) and
      (w["record_count"], w["batches"], w["compression"], w["producer_id"],
       w["producer_epoch"], w["base_sequence"]) == (5, 2, "zstd", 4001, 0, 5), w)
check("0/7: who: principal, source, region, address, client, node, time",
      w and (w["principal"], w["principal_source"], w["region"], w["src_ip"], w["src_port"],
             w["client_id"], w["node"], w["time"]) ==
      ("ANONYMOUS", "anonymous", "eu", "10.10.0.2", 40100, "orders-eu", "broker-1",
       "2026-12-07T19:00:00.305000000Z"), w)
check("0/7: rule and policy version from its decision record #6 (allow, enforced)",
      w and w["decision"] == {
          "seq": 6, "recorded": True, "found": True, "verdict": "allow", "enforced": True,
          "sample": 1, "time": "2026-12-07T19:00:00.300Z", "rule": "eu-and-us-clients",
          "rule_id": 3, "policy_version": "demo-1", "version_id": 1,
          "from": "decision record"}, w and w["decision"])
att = [x for x in (d or {}).get("writes", []) if x["role"] == "attempt"]
check("0/7: the failed first attempt of the same batch (#5, NOT_LEADER_OR_FOLLOWER, no offsets)",
      len(att) == 1 and ref(att[0]) == ("broker-1", 5) and att[0]["error_code"] == 6 and
      att[0]["error"] == "NOT_LEADER_OR_FOLLOWER" and att[0]["base_offset"] is None and
      ref(att[0]["of"]) == ("broker-1", 7) and not att[0]["may_have_appended"], att)
rd = (d or {}).get("readers", [])
check("0/7: three reads, in time order, each with principal, region, client, node, rule",
      [(ref(r), r["principal"], r["principal_source"], r["region"], r["client_id"],
        r["decision"]["rule"], r["first_offset"], r["last_offset"], r["sample"]) for r in rd] ==
      [(("broker-1", 15), "billing-svc", "identity", "eu", "billing", "eu-and-us-clients", 0, 9, 1),
       (("broker-2", 5), "analytics", "sasl", "eu", "spark-eu", "eu-and-us-clients", 0, 14, 10),
       (("broker-2", 6), "analytics", "sasl", "eu", "spark-eu", "eu-and-us-clients", 5, 19, 10)],
      rd)
check("0/7: each read received #7; the third's decision was sampled out",
      [ref(r["received"]) for r in rd] == [("broker-1", 7)] * 3 and
      [(r["decision"]["found"], r["decision"]["recorded"]) for r in rd] ==
      [(True, True), (True, True), (False, False)], rd)
check("0/7: no anomaly; notes: broker-2's gap and its reads sampled 1 in 10",
      d and d["anomalies"] == [] and codes(d, "notes") == ["gap", "reads_sampled"], d and d["notes"])
check("0/7: what was read", d and d["source"] == {
    "file": RECS, "since": None, "records": 32, "older_than_since": 0, "unreadable": 0,
    "nodes": 2, "first_time": "2026-12-07T17:00:00.000Z",
    "last_time": "2026-12-07T19:00:01.700Z", "decisions_of_topic": 12,
    "writes_of_partition": 6, "reads_of_partition": 4}, d and d["source"])
golden("trace-0-7", "audit", "trace", "--topic", "eu.orders", "--partition", "0", "--offset",
       "7", "--file", RECS)

# ---- offset 12: the write's allow was sampled out: rule and version from the write --------
rc, d, _ = trace("eu.orders", 0, 12)
w = d and d["writer"]
check("0/12: broker-1 #8 (10..14), not idempotent, decision not recorded: from the write",
      rc == 0 and ref(w) == ("broker-1", 8) and w["producer_id"] == -1 and
      w["decision"]["recorded"] is False and w["decision"]["from"] == "write record" and
      (w["decision"]["verdict"], w["decision"]["rule"], w["decision"]["policy_version"]) ==
      ("allow", "eu-and-us-clients", "demo-1") and w["client_id"] == "orders-batch", w)
check("0/12: three reads by two readers",
      [ref(r) for r in d["readers"]] == [("broker-1", 17), ("broker-2", 5), ("broker-2", 6)],
      d and d["readers"])
golden("trace-0-12", "audit", "trace", "--topic", "eu.orders", "--partition", "0", "--offset",
       "12", "--file", RECS)

# ---- offset 15: no write holds it: the acks=0 write between 10..14 and 16..19 ---------------
rc, d, _ = trace("eu.orders", 0, 15)
cand = [x for x in (d or {}).get("writes", []) if x["role"] == "candidate"]
check("0/15: not found: exit 3, no writer", rc == 3 and d and not d["found"] and
      d["writer"] is None, (rc, d))
check("0/15: bracketed by the acked writes 10..14 (#8) and 16..19 (#12)",
      d and (ref(d["acked_below"]), ref(d["acked_above"])) ==
      (("broker-1", 8), ("broker-1", 12)), d)
check("0/15: the candidate is the acks=0 write #10 (not acked, no offsets, its decision #9)",
      len(cand) == 1 and ref(cand[0]) == ("broker-1", 10) and cand[0]["acked"] is False and
      cand[0]["base_offset"] is None and cand[0]["decision"]["seq"] == 9 and
      cand[0]["client_id"] == "pos-legacy", cand)
check("0/15: the failed attempt (#5) is no candidate: nothing was appended",
      all(ref(x) != ("broker-1", 5) for x in d["writes"]), d["writes"])
check("0/15: readers still listed (10..19 and 5..19)",
      [ref(r) for r in d["readers"]] == [("broker-1", 17), ("broker-2", 6)], d["readers"])
check("0/15: the note says what may have written it", "no_write" in codes(d, "notes"), d["notes"])
rc = golden("trace-0-15", "audit", "trace", "--topic", "eu.orders", "--partition", "0",
            "--offset", "15", "--file", RECS)
check("0/15 text: exit 3 too", rc == 3, rc)

# ---- eu.orders [1] offset 2: two acked writes claim it (a truncation) ----------------------
rc, d, _ = trace("eu.orders", 1, 2)
check("1/2: the newer claim holds it (broker-2 #3, 2..3); the older (broker-1 #21, 0..2) too",
      rc == 0 and ref(d["writer"]) == ("broker-2", 3) and
      [(ref(x), x["role"]) for x in d["writes"]] ==
      [(("broker-1", 21), "earlier_claim"), (("broker-2", 3), "holder")], d and d["writes"])
check("1/2: anomaly two_acked_writes", codes(d, "anomalies") == ["two_acked_writes"],
      d["anomalies"])
check("1/2: each reader with the write it received",
      [(ref(r), ref(r["received"])) for r in d["readers"]] ==
      [(("broker-1", 23), ("broker-1", 21)), (("broker-2", 7), ("broker-2", 3))], d["readers"])
golden("trace-1-2", "audit", "trace", "--topic", "eu.orders", "--partition", "1", "--offset",
       "2", "--file", RECS)

# ---- ref.prices [0] offset 0: written under a reject an audit rule does not enforce ---------
rc, d, _ = trace("ref.prices", 0, 0)
check("ref.prices/0: reject, not enforced: a note, no anomaly, no readers",
      rc == 0 and d["writer"]["decision"]["verdict"] == "reject" and
      d["writer"]["decision"]["enforced"] is False and d["anomalies"] == [] and
      "not_enforced" in codes(d, "notes") and d["readers"] == [], d)
golden("trace-ref", "audit", "trace", "--topic", "ref.prices", "--partition", "0", "--offset",
       "0", "--file", RECS)

# ---- what other topics and partitions hold is never mixed in -------------------------------
rc, d, _ = trace("eu.orders", 1, 5)
check("1/5: nothing holds it: exit 3, no reads, no candidates",
      rc == 3 and d["readers"] == [] and d["writes"] == [], d)
rc, d, _ = trace("us.orders", 0, 0)
check("us.orders/0: only a decision, no write: exit 3", rc == 3 and d["writes"] == [], d)

# ---- the same answer from stdin, and as JSON lines ----------------------------------------
rc1, out1, _ = kgate("audit", "trace", "--topic", "eu.orders", "--partition", "0", "--offset",
                     "7", "--file", "-", "-o", "json", stdin=open(RECS).read())
rc2, d2, _ = trace("eu.orders", 0, 7)
d1 = json.loads(out1)
d1["source"].pop("file"), d2["source"].pop("file")
check("--file - (stdin) gives the same answer", rc1 == 0 and d1 == d2)
rc, out, _ = kgate("audit", "trace", "--topic", "eu.orders", "--partition", "0", "--offset", "7",
                   "--file", RECS, "--jsonl")
check("--jsonl: the answer on one line", rc == 0 and out.count("\n") == 1 and
      json.loads(out)["found"], out[:200])

# ---- --since: every record of the file is older than a second ago -------------------------
rc, d, _ = trace("eu.orders", 0, 7, RECS, "--since", "1s")
check("--since 1s: all 32 records older, skipped; not found (exit 3)",
      rc == 3 and d["source"]["older_than_since"] == 32 and d["source"]["records"] == 32 and
      d["source"]["since"] is not None and not d["found"], d and d["source"])

# ---- variants of the records: each way a link or a claim can go wrong ----------------------
base_recs = records()

recs = base_recs + [copy.deepcopy(find(base_recs, "broker-1", 7)),
                    copy.deepcopy(find(base_recs, "broker-1", 15))]
rc, d, _ = trace("eu.orders", 0, 7, write("repeat.jsonl", recs))
check("a record twice in a dump (a producer's retry) is one record: same answer",
      rc == 0 and len(d["writes"]) == 2 and len(d["readers"]) == 3 and d["anomalies"] == [], d)

recs = copy.deepcopy(base_recs)
again = copy.deepcopy(find(recs, "broker-1", 7))
again.update(seq=99, time="2026-12-07T19:00:02.000000000Z", ts_ns=again["ts_ns"] + 1695 * 10**6)
recs.append(again)
rc, d, _ = trace("eu.orders", 0, 7, write("dupack.jsonl", recs))
check("the same idempotent batch acked again: a duplicate, not an anomaly",
      rc == 0 and ref(d["writer"]) == ("broker-1", 7) and
      [(ref(x), x["role"]) for x in d["writes"] if x["role"] == "duplicate"] ==
      [(("broker-1", 99), "duplicate")] and d["anomalies"] == [], d)

recs = copy.deepcopy(base_recs)
find(recs, "broker-1", 21)["topic_id"] = "11111111-1111-1111-1111-111111111111"
find(recs, "broker-2", 3)["topic_id"] = "22222222-2222-2222-2222-222222222222"
rc, d, _ = trace("eu.orders", 1, 2, write("recreated.jsonl", recs))
check("two claims with different topic ids: topic_recreated (not a truncation)",
      rc == 0 and codes(d, "anomalies") == ["topic_recreated"], d and d["anomalies"])

recs = copy.deepcopy(base_recs)
find(recs, "broker-1", 6).update(verdict="reject", rule="eu-and-us-clients")
rc, d, _ = trace("eu.orders", 0, 7, write("denied.jsonl", recs))
check("a write acked under an enforced reject: anomaly acked_under_deny",
      rc == 0 and "acked_under_deny" in codes(d, "anomalies") and
      d["writer"]["decision"]["verdict"] == "reject", d and d["anomalies"])

recs = copy.deepcopy(base_recs)
find(recs, "broker-1", 7)["decision_seq"] = 14  # a Fetch decision
rc, d, _ = trace("eu.orders", 0, 7, write("mismatch.jsonl", recs))
check("a write naming another request's decision: anomaly decision_mismatch",
      rc == 0 and "decision_mismatch" in codes(d, "anomalies"), d and d["anomalies"])

recs = [r for r in base_recs if (r["node"], r["seq"]) != ("broker-1", 6)]
rc, d, _ = trace("eu.orders", 0, 7, write("nodecision.jsonl", recs))
check("a decision record not among those read: said, and from the write's own fields",
      rc == 0 and d["writer"]["decision"]["recorded"] and not d["writer"]["decision"]["found"]
      and d["writer"]["decision"]["from"] == "write record" and
      d["writer"]["decision"]["rule"] == "eu-and-us-clients", d and d["writer"]["decision"])
rc, out, _ = kgate("audit", "trace", "--topic", "eu.orders", "--partition", "0", "--offset", "7",
                   "--file", write("nodecision.jsonl", recs))
check("... and the text says so", "decision record #6 of broker-1 is not among the records read"
      in out, out)

recs = copy.deepcopy(base_recs)
find(recs, "broker-1", 10).update(acked=True, error_code=7, error="REQUEST_TIMED_OUT")
find(recs, "broker-1", 5).update(ts_ns=find(recs, "broker-1", 10)["ts_ns"] + 1)
rc, d, _ = trace("eu.orders", 0, 15, write("timedout.jsonl", recs))
cand = [x for x in d["writes"] if x["role"] == "candidate"]
check("no holder: a REQUEST_TIMED_OUT write between may have appended; NOT_LEADER never",
      rc == 3 and [(ref(x), x["may_have_appended"]) for x in cand] ==
      [(("broker-1", 10), True)], cand)

recs = copy.deepcopy(base_recs)
early = find(recs, "broker-1", 23)
early.update(ts_ns=early["ts_ns"] - 200 * 10**6, time="2026-12-07T19:00:00.902000000Z")
rc, d, _ = trace("eu.orders", 1, 1, write("early.jsonl", recs))
check("a read before any write claiming the offset: anomaly read_before_write",
      rc == 0 and codes(d, "anomalies") == ["read_before_write"] and
      d["readers"][0]["received"] is None, d and d["anomalies"])

# a topic named by id only: matched through the id records carrying both name and id teach
TID = "0f0e0d0c-0b0a-0908-0706-050403020100"
recs = copy.deepcopy(base_recs)
for r in recs:
    if r.get("topic") == "eu.orders":
        r["topic_id"] = TID
for key in [("broker-1", 7), ("broker-1", 15), ("broker-1", 5)]:
    find(recs, *key)["topic"] = None
rc, d, _ = trace("eu.orders", 0, 7, write("byid.jsonl", recs))
check("records naming the topic by id only: matched by the id learned from the others",
      rc == 0 and ref(d["writer"]) == ("broker-1", 7) and d["writer"]["topic_id"] == TID and
      ("broker-1", 15) in [ref(r) for r in d["readers"]] and
      [x["role"] for x in d["writes"]] == ["holder", "attempt"], d)
for r in recs:
    if r.get("topic_id") == TID and r.get("topic") is None:
        r["topic_id"] = "99999999-9999-9999-9999-999999999999"
rc, d, _ = trace("eu.orders", 0, 7, write("otherid.jsonl", recs))
check("... and not when their id is another topic's", rc == 3 and
      ("broker-1", 15) not in [ref(r) for r in d["readers"]], d)

# ---- observe over the same records: two nodes, write and read rows -------------------------
golden("observe", "observe", "--file", RECS)
golden("observe-wide", "observe", "--file", RECS, "-o", "wide", width=0)
rc, out, _ = kgate("observe", "--file", RECS, "--node", "broker-2")
check("observe --node broker-2: its records only, no NODE column (one node)",
      rc == 0 and out.startswith("TIME ") and " NODE " not in out.splitlines()[0] and
      len(out.splitlines()) == 10 and "broker-1" not in out, out)
rc, out, _ = kgate("observe", "--file", RECS, "--verdict", "allow")
check("observe --verdict: decisions only (write and read rows have no verdict)",
      rc == 0 and "wrote " not in out and " read " not in out and "allow" in out, out)
rc, out, _ = kgate("observe", "--file", RECS, "--topic", "eu.orders", "-o", "json")
kinds = [r["kind"] for r in json.loads(out)]
check("observe --topic: decisions, writes and reads of the topic (and gaps, policy changes)",
      rc == 0 and kinds.count("write") == 8 and kinds.count("read") == 6 and
      kinds.count("gap") == 1, kinds)
rc, out, _ = kgate("observe", "--file", RECS, "--since", "1s")
check("observe --since 1s: every record older: nothing", rc == 0 and out == "", out)
for args, says in [(["--from-kafka", "b:1"], "go together"),
                   (["--audit-topic", "t"], "go together"),
                   (["--from-kafka", "b:1", "--audit-topic", "t", "--file", RECS], "--file"),
                   (["--from-kafka", "b:1", "--audit-topic", "t", "--socket", "/x"], "--socket")]:
    rc, out, err = kgate("observe", *args)
    check("observe %s: exit 2 (%s)" % (" ".join(args), says), rc == 2 and says in err,
          (rc, err))

sys.exit(clitest.summary("trace"))
