#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers of the fault suite (tests/e2e/test_faults.sh).

  faults.py load --bootstrap B --topic T[@PARTITION] ... --rate R --out FILE --stop FILE [--client-id C]
      a confluent_kafka producer loop: every period, one message to each topic, each
      flushed alone (one Produce request per message); one JSON line per delivery
      report {"t", "topic", "err"} until the stop file exists.
  faults.py outcomes FILE... [--since T] [--until T] --allowed T,... --denied T,...
                     [--denied-meta T,...]
      checks the load's outcomes in a time window: every allowed topic delivered,
      every denied one refused with TOPIC_AUTHORIZATION_FAILED; prints a summary JSON.
  faults.py audit AUDIT.jsonl STATS.json [--base STATS0.json] [--kafka] [--first SEQ]
                 [--window T0 T1]
      the audit stream against the datapath's counters: seqs unique (and, with
      --kafka, in order and contiguous), decisions counted by the datapath since the
      base equal the decisions the records carry (their counts, and the decisions past
      a budget they carry as folded) plus what gap records declare lost.
  faults.py versions AUDIT.jsonl KGATE VERSION=FILE...
      every decision record carries one of the given versions, and its verdict and
      rule are what `kgate policy eval` gives on that version's file.
  faults.py metric URL NAME      one metric's value from a Prometheus text endpoint.
  faults.py gen-big OUT VERSION N  a policy of N rules (the base policy's, buried).
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request


def cmd_load(a):
    from confluent_kafka import Producer, KafkaException
    out = open(a.out, "a", buffering=1)
    conf = {"bootstrap.servers": a.bootstrap, "client.id": a.client_id,
            "linger.ms": 0, "acks": "all", "message.timeout.ms": 4000,
            "socket.timeout.ms": 4000, "retries": 0,
            "topic.metadata.refresh.interval.ms": 60000}
    # One producer per topic; after an error (a denied topic) a fresh one, so that
    # every attempt is a real Produce request on the wire (librdkafka refuses to
    # produce locally to a topic that failed authorization).
    prods = {}
    period = 1.0 / a.rate
    n = 0
    while not os.path.exists(a.stop):
        t0 = time.time()
        for spec in a.topic:
            t, _, part = spec.partition("@")
            kw = {"partition": int(part)} if part else {}
            if t not in prods:
                prods[t] = Producer(conf)
            p = prods[t]
            rep = {}

            def cb(err, msg, rep=rep):
                rep["err"] = err.name() if err else None
            try:
                p.produce(t, value=b"fault-load %d" % n, on_delivery=cb, **kw)
                p.flush(6)
                err = rep.get("err", "NO_REPORT")
            except KafkaException as e:
                err = "LOCAL_" + e.args[0].name()
            except BufferError:
                err = "LOCAL_QUEUE_FULL"
            if err is not None:
                p.flush(0)
                del prods[t]
            out.write(json.dumps({"t": t0, "topic": t, "err": err}) + "\n")
            n += 1
        dt = time.time() - t0
        if dt < period:
            time.sleep(period - dt)
    for p in prods.values():
        p.flush(6)
    out.close()


def read_jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def cmd_outcomes(a):
    allowed = set(a.allowed.split(",")) if a.allowed else set()
    denied = set(a.denied.split(",")) if a.denied else set()
    res = {"allowed_ok": 0, "allowed_bad": 0, "denied_ok": 0, "denied_bad": 0, "bad": [],
           "errors": {}}
    refused = ("TOPIC_AUTHORIZATION_FAILED", "LOCAL_TOPIC_AUTHORIZATION_FAILED")
    # A denied Metadata against librdkafka's mock: the mock auto-creates the poisoned
    # name and lists partitions, so librdkafka 2.0.2 fails a message produced to an
    # explicit partition with UNKNOWN_PARTITION (tests/e2e/scenarios.py, XFAIL
    # mock-auto-creates-poisoned-name). Nothing lands: the suite checks the broker.
    meta_denied = set(a.denied_meta.split(",")) if a.denied_meta else set()
    for path in a.files:
        for r in read_jsonl(path):
            if r["t"] < a.since or r["t"] > a.until:
                continue
            if r["topic"] in allowed:
                k = "allowed_ok" if r["err"] is None else "allowed_bad"
            elif r["topic"] in denied:
                k = "denied_ok" if r["err"] in refused else "denied_bad"
            elif r["topic"] in meta_denied:
                k = "denied_ok" if r["err"] in refused + ("_UNKNOWN_PARTITION",) else "denied_bad"
            else:
                continue
            res[k] += 1
            e = "%s:%s" % (r["topic"], r["err"])
            res["errors"][e] = res["errors"].get(e, 0) + 1
            if k.endswith("_bad") and len(res["bad"]) < 5:
                res["bad"].append(r)
    print(json.dumps(res))
    ok = (res["allowed_bad"] == 0 and res["denied_bad"] == 0 and
          res["allowed_ok"] >= a.min and res["denied_ok"] >= a.min)
    return 0 if ok else 1


def stats_decisions(path):
    """Sum of the datapath's decisions by verdict, over every interface line."""
    by = {}
    for d in json.load(open(path)):  # `kgate stats -o json`: an array, one per interface
        for k, v in d["verdicts"].items():
            by[k] = by.get(k, 0) + v
    return by


def cmd_audit(a):
    recs = read_jsonl(a.audit)
    seqs = [r["seq"] for r in recs]
    dups = len(seqs) - len(set(seqs))
    in_order = seqs == sorted(seqs)
    contiguous = bool(seqs) and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    if a.first is not None:
        contiguous = contiguous and seqs[0] == a.first
    gaps = [r for r in recs if r.get("kind") == "gap"]
    lost_deny = sum(r.get("lost_deny", 0) for r in gaps)
    lost_allow = sum(r.get("lost_allow", 0) for r in gaps)
    dec = [r for r in recs if r.get("kind") not in ("gap", "policy")]  # decisions only
    # a record stands for `count` identical decisions, and carries `folded` others past its
    # connection's budget (`folded_deny` of them not allowed: their verdicts are not kept)
    by_verdict, folded, folded_deny = {}, 0, 0
    for r in dec:
        by_verdict[r["verdict"]] = by_verdict.get(r["verdict"], 0) + r.get("count", 1)
        folded += r.get("folded", 0)
        folded_deny += r.get("folded_deny", 0)
    n_dec = sum(by_verdict.values()) + folded
    counted = stats_decisions(a.stats)
    in_window = None
    if a.window:
        lo, hi = float(a.window[0]), float(a.window[1])
        in_window = sum(r.get("count", 1) for r in dec if lo <= r.get("ts_ns", 0) / 1e9 <= hi)
    if a.base:
        base = stats_decisions(a.base)
        counted = {k: v - base.get(k, 0) for k, v in counted.items()}
    counted = {k: v for k, v in counted.items() if v}
    n_counted = sum(counted.values())
    n_deny_counted = sum(v for k, v in counted.items() if k != "allow")
    n_deny_audit = sum(v for k, v in by_verdict.items() if k != "allow") + folded_deny
    covered = (n_counted == n_dec + lost_deny + lost_allow and
               n_deny_counted == n_deny_audit + lost_deny and
               all(by_verdict.get(k, 0) <= v for k, v in counted.items()))
    res = {"records": len(recs), "decision_records": len(dec), "decisions": n_dec,
           "folded": folded, "gap_records": len(gaps),
           "lost_deny": lost_deny, "lost_allow": lost_allow, "duplicates": dups,
           "in_order": in_order, "contiguous": contiguous,
           "first_seq": seqs[0] if seqs else None, "last_seq": seqs[-1] if seqs else None,
           "audit_by_verdict": by_verdict, "counted_by_verdict": counted,
           "counted": n_counted, "covered": covered, "in_window": in_window}
    print(json.dumps(res, sort_keys=True))
    ok = covered and dups == 0 and len(dec) > 0
    if a.kafka:
        ok = ok and in_order and contiguous
    return 0 if ok else 1


def cmd_versions(a):
    files = dict(v.split("=", 1) for v in a.version)
    recs = [r for r in read_jsonl(a.audit) if r.get("kind") == "topic"]
    by_ver = {}
    bad = []
    other = [r for r in recs if r.get("policy_version") not in files]
    for r in recs:
        if r.get("policy_version") in files:
            by_ver.setdefault(r["policy_version"], []).append(r)
    mismatches = 0
    for ver, rs in by_ver.items():
        # a SASL user no rule names is only a principal eval accepts when it is said to be
        # one (the sixth field)
        q = "".join("%s\t%s\t%s\t%s\t%s\t%s\n" % (
            r["topic"] or "", r["operation"], r["principal"] or "", r["region"] or "",
            r["client_id"] or "", r.get("principal_source") or "") for r in rs)
        p = subprocess.run([a.kgate, "policy", "eval", "--jsonl", "-o", "json", "--stdin", files[ver]],
                           input=q.encode(), capture_output=True, timeout=120)
        ans = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
        if p.returncode != 0 or len(ans) != len(rs):
            print("eval failed for %s: rc %d, %d answers for %d records: %s" % (
                ver, p.returncode, len(ans), len(rs), p.stderr.decode()[-300:]),
                file=sys.stderr)
            return 1
        for r, e in zip(rs, ans):
            if r["verdict"] != e["verdict"] or r["rule"] != e["rule"]:
                mismatches += 1
                if len(bad) < 5:
                    bad.append({"seq": r["seq"], "topic": r["topic"], "op": r["operation"],
                                "version": ver, "audit": [r["verdict"], r["rule"]],
                                "ref": [e["verdict"], e["rule"]]})
    res = {"records": len(recs), "by_version": {k: len(v) for k, v in by_ver.items()},
           "other_version": len(other), "mismatches": mismatches, "examples": bad}
    if other:
        res["other_examples"] = [r.get("policy_version") for r in other[:5]]
    print(json.dumps(res, sort_keys=True))
    ok = (not other and mismatches == 0 and len(by_ver) == len(files) and
          all(len(v) > 0 for v in by_ver.values()))
    return 0 if ok else 1


def metrics(url):
    out = {}
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            out[parts[0]] = float(parts[1])
    return out


def cmd_drained(a):
    """0 when the agent has a record (or a gap) for every decision the datapath
    counted and its spool holds nothing undelivered."""
    counted = sum(stats_decisions(a.stats).values())
    lost = 0
    for d in json.load(open(a.stats)):
        c = d["counters"]
        lost += c.get("events_lost_deny", 0) + c.get("events_lost_allow", 0)
    try:
        m = metrics(a.url)
    except Exception:
        return 1
    assigned = m.get("kgate_audit_sequence", 1) - 1
    ok = m.get("kgate_audit_spool_records", 1) == 0 and assigned >= counted - lost
    return 0 if ok else 1


def cmd_metric(a):
    try:
        text = urllib.request.urlopen(a.url, timeout=5).read().decode()
    except Exception as e:
        print("error %s" % e, file=sys.stderr)
        return 1
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[0] == a.name:
            print(parts[1])
            return 0
    return 1


def cmd_gen_big(a):
    """N rules: N-3 fillers no load request matches, then the decisive three: like the
    base policy, but flip.open is now closed to produce and flip.closed open."""
    with open(a.out, "w") as f:
        f.write('version: "%s"\nmode: enforce\ndefault: reject\naudit:\n  allow: all\n'
                'listeners:\n  - port: 9092\n    on_undecodable: reset\n'
                'regions:\n  eu: [10.10.0.0/16, "fd00:10::/32"]\n'
                '  us: [10.20.0.0/16, "fd00:20::/32"]\nrules:\n' % a.version)
        n_fill = a.n - 3
        for i in range(n_fill):
            # a mix of exact topics, prefixes, principals, client ids and operations
            # exact topics, prefixes, principals, client ids and operations; each on
            # its own topic (a topic's candidate rules are bounded: KG_MAX_CANDIDATES)
            k = i % 4
            f.write("  - name: filler-%05d\n" % i)
            if k == 0:
                f.write('    topics: ["filler.%d"]\n    action: reject\n' % i)
            elif k == 1:
                f.write('    topics: ["fp%d.*"]\n    operations: [produce]\n'
                        '    action: reject\n' % i)
            elif k == 2:
                f.write('    topics: ["fx.%d"]\n    principals: [user-%d]\n'
                        '    action: allow\n' % (i, i % 50))
            else:
                f.write('    topics: ["fy.%d"]\n    client_ids: [cid-%d]\n'
                        '    operations: [consume]\n    action: allow\n' % (i, i % 50))
        f.write("  - name: big-eu-only\n    topics: [\"eu.*\"]\n    regions_not: [eu]\n"
                "    action: reject\n")
        f.write("  - name: big-no-produce\n    topics: [fault.denied, flip.open]\n"
                "    operations: [produce]\n    action: reject\n")
        f.write("  - name: big-clients-in-regions\n    regions: [eu, us]\n"
                "    action: allow\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("load")
    s.add_argument("--bootstrap", required=True)
    s.add_argument("--topic", action="append", required=True)
    s.add_argument("--rate", type=float, default=5.0)
    s.add_argument("--out", required=True)
    s.add_argument("--stop", required=True)
    s.add_argument("--client-id", default="fault-load")
    s = sub.add_parser("outcomes")
    s.add_argument("files", nargs="+")
    s.add_argument("--since", type=float, default=0)
    s.add_argument("--until", type=float, default=1e18)
    s.add_argument("--allowed", default="")
    s.add_argument("--denied", default="")
    s.add_argument("--denied-meta", default="")
    s.add_argument("--min", type=int, default=1)
    s = sub.add_parser("audit")
    s.add_argument("audit")
    s.add_argument("stats")
    s.add_argument("--base")
    s.add_argument("--kafka", action="store_true")
    s.add_argument("--first", type=int)
    s.add_argument("--window", nargs=2, metavar=("T0", "T1"),
                   help="also count the decision records stamped between T0 and T1")
    s = sub.add_parser("versions")
    s.add_argument("audit")
    s.add_argument("kgate")
    s.add_argument("version", nargs="+")
    s = sub.add_parser("drained")
    s.add_argument("url")
    s.add_argument("stats")
    s = sub.add_parser("metric")
    s.add_argument("url")
    s.add_argument("name")
    s = sub.add_parser("gen-big")
    s.add_argument("out")
    s.add_argument("version")
    s.add_argument("n", type=int)
    a = ap.parse_args()
    return {"load": cmd_load, "outcomes": cmd_outcomes, "audit": cmd_audit,
            "versions": cmd_versions, "metric": cmd_metric, "drained": cmd_drained,
            "gen-big": cmd_gen_big}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
