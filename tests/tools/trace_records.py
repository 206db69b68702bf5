#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Synthetic audit records for `kgate audit trace` and `kgate observe` tests: decisions,
`write` and `read` records (the schema of the README's "Audit records"),
gap and policy records, from two nodes, with times relative to --base-ns.

SYNTHETIC: written by hand in the schema until the datapath produces write and read
records; the scenario and the offsets are made up, never measured.

  trace_records.py [--base-ns NS] [--part old|new|live|all]    JSON lines on stdout

The scenario (README, "Answering an auditor", walks through it): broker-1 leads eu.orders
[0]; an idempotent producer writes offsets 0..4 (two hours before the rest: --since
tests), then a batch whose first attempt fails (NOT_LEADER_OR_FOLLOWER) and whose retry
gets 5..9, a batch whose decision was sampled out (10..14), an acks=0 write (offset 15,
never answered), a batch 16..19; billing-svc reads 0..9 and 10..19 through broker-1;
analytics reads 0..14 and 5..19 through broker-2 (reads sampled 1 in 10, one decision
sampled out); eu.orders [1] is written 0..2 through broker-1 and read, then broker-2
takes over after a truncation and gives offsets 2..3 to another batch (two acked writes
claim offset 2); ref.prices [0] is written under a reject that an audit rule does not
enforce; broker-2 loses two allow events (a gap record). `--part live` is a few more
decisions of both nodes, later (observe --follow).
"""
import argparse
import json
import sys

BASE_NS = 1796662800 * 10**9  # 2026-12-07T17:00:00Z
MS = 10**6
LATER = 2 * 3600 * 10**9  # the main part of the scenario: two hours after the first write
POLICY = ("demo-1", 1)
RULES = {"eu-data-stays-in-eu": 0, "us-data-stays-in-us": 1, "ref-writes-planned": 2,
         "eu-and-us-clients": 3}
BROKER_IP = "10.99.0.2"
# principal, id, source, region, region id, ip, client id
CLIENTS = {
    "orders": ("ANONYMOUS", 0, "anonymous", "eu", 0, "10.10.0.2", "orders-eu"),
    "batch": ("ANONYMOUS", 0, "anonymous", "eu", 0, "10.10.0.5", "orders-batch"),
    "pos": ("ANONYMOUS", 0, "anonymous", "eu", 0, "10.10.0.3", "pos-legacy"),
    "us": ("ANONYMOUS", 0, "anonymous", "us", 1, "10.20.0.2", "orders-us"),
    "billing": ("billing-svc", 1, "identity", "eu", 0, "10.10.1.7", "billing"),
    "analytics": ("analytics", 2, "sasl", "eu", 0, "10.10.2.4", "spark-eu"),
}
API = {0: "Produce", 1: "Fetch"}


def rfc3339(ns):
    import datetime
    s, frac = divmod(ns, 10**9)
    t = datetime.datetime.fromtimestamp(s, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % frac


class Node:
    def __init__(self, name, out):
        self.name, self.seq, self.out = name, 0, out

    def head(self, ns):
        self.seq += 1
        return {"node": self.name, "seq": self.seq, "time": rfc3339(ns), "ts_ns": ns}

    def emit(self, ns, rec):
        self.out.append((ns, rec))
        return rec["seq"]

    def conn(self, who, port):
        p, pid, psrc, reg, regid, ip, cid = CLIENTS[who]
        return {"family": 4, "src_ip": ip, "src_port": port, "dst_ip": BROKER_IP,
                "dst_port": 9092, "region": reg, "region_id": regid, "principal": p,
                "principal_id": pid, "principal_source": psrc, "client_id": cid}

    def decision(self, ns, who, port, api_key, api_version, corr, topic, verdict="allow",
                 rule="eu-and-us-clients", enforced=True, sample=1):
        r = self.head(ns)
        r.update({"ktime_ns": ns - BASE_NS + 5 * 10**9, "kind": "topic", "verdict": verdict,
                  "enforced": enforced, "sample": sample, "rule": rule,
                  "rule_id": RULES.get(rule), "policy_version": POLICY[0],
                  "version_id": POLICY[1], "gen": 1})
        r.update(self.conn(who, port))
        r.update({"api_key": api_key, "api_name": API[api_key], "api_version": api_version,
                  "correlation_id": corr, "operation": "produce" if api_key == 0 else "consume",
                  "topic": topic, "topic_id": None, "reason": None, "bytes": 300})
        return self.emit(ns, r)

    def common(self, ns, kind, who, port, api_key, api_version, corr, dseq, topic, partition,
               rule, error):
        r = self.head(ns)
        r["ktime_ns"] = ns - BASE_NS + 5 * 10**9
        r.update(self.conn(who, port))
        r.update({"api_key": api_key, "api_name": API[api_key], "api_version": api_version,
                  "correlation_id": corr, "policy_version": POLICY[0], "version_id": POLICY[1],
                  "rule": rule, "rule_id": RULES.get(rule), "kind": kind, "decision_seq": dseq,
                  "topic": topic, "topic_id": None, "partition": partition,
                  "error_code": error[0], "error": error[1]})
        return r

    def write(self, ns, who, port, corr, dseq, topic, partition, offsets, count, nbytes,
              batches=1, codec="lz4", producer=(-1, -1, -1), acked=True, error=(0, "NONE"),
              rule="eu-and-us-clients", api_version=9):
        r = self.common(ns, "write", who, port, 0, api_version, corr, dseq, topic, partition,
                        rule, error)
        placed = acked and error[0] == 0
        r.update({"acked": acked, "base_offset": offsets[0] if placed else None,
                  "last_offset": offsets[1] if placed else None, "record_count": count,
                  "batch_bytes": nbytes, "batches": batches, "compression": codec,
                  "producer_id": producer[0], "producer_epoch": producer[1],
                  "base_sequence": producer[2], "transactional": False,
                  "log_append_time_ms": None, "log_start_offset": 0 if placed else None})
        return self.emit(ns, r)

    def read(self, ns, who, port, corr, dseq, topic, partition, offsets, hw, sample=1):
        r = self.common(ns, "read", who, port, 1, 11, corr, dseq, topic, partition,
                        "eu-and-us-clients", (0, "NONE"))
        n = offsets[1] - offsets[0] + 1
        r.update({"first_offset": offsets[0], "last_offset": offsets[1], "record_count": n,
                  "bytes": 120 * n, "high_watermark": hw, "last_stable_offset": hw,
                  "log_start_offset": 0, "sample": sample})
        return self.emit(ns, r)

    def gap(self, ns, lost_allow, after):
        r = self.head(ns)
        r.update({"kind": "gap", "lost_deny": 0, "lost_allow": lost_allow, "after_seq": after,
                  "before_seq": r["seq"], "reason": "ring_buffer_full"})
        return self.emit(ns, r)

    def policy(self, ns):
        r = self.head(ns)
        r.update({"kind": "policy", "change": 1, "step": "apply", "iface": "eth1", "uid": 0,
                  "user": "root", "source": "file /etc/kgate/policy.yaml",
                  "old_version_id": None, "old_policy_version": None, "version_id": POLICY[1],
                  "policy_version": POLICY[0], "digest": "sha256:" + "5e" * 32,
                  "mode": "enforce", "paused": False, "confirm_by": None, "guard": None,
                  "superseded_version_id": None, "reason": None, "rate_per_s": None,
                  "limit_per_s": None})
        return self.emit(ns, r)


def scenario(base):
    out = []
    b1, b2 = Node("broker-1", out), Node("broker-2", out)
    t = lambda ms: base + LATER + ms * MS  # noqa: E731
    # -- two hours before the rest: the policy, the first write (offsets 0..4)
    b1.policy(base)
    b2.policy(base + 50 * MS)
    d = b1.decision(base + 100 * MS, "orders", 40100, 0, 9, 11, "eu.orders")
    b1.write(base + 104 * MS, "orders", 40100, 11, d, "eu.orders", 0, (0, 4), 5, 420,
             producer=(4001, 0, 0))
    # -- a batch whose first attempt fails, then its retry: 5..9
    d = b1.decision(t(200), "orders", 40100, 0, 9, 12, "eu.orders")
    b1.write(t(230), "orders", 40100, 12, d, "eu.orders", 0, None, 5, 830, batches=2,
             codec="zstd", producer=(4001, 0, 5), error=(6, "NOT_LEADER_OR_FOLLOWER"))
    d = b1.decision(t(300), "orders", 40100, 0, 9, 13, "eu.orders")
    b1.write(t(305), "orders", 40100, 13, d, "eu.orders", 0, (5, 9), 5, 830, batches=2,
             codec="zstd", producer=(4001, 0, 5))
    # -- a batch whose allow was sampled out (no decision record): 10..14
    b1.write(t(400), "batch", 40200, 7, None, "eu.orders", 0, (10, 14), 5, 1500, batches=3,
             codec="gzip")
    # -- acks=0: no answer, no offsets (it got 15)
    d = b1.decision(t(500), "pos", 40300, 0, 3, 1, "eu.orders")
    b1.write(t(501), "pos", 40300, 1, d, "eu.orders", 0, None, 1, 90, codec="none",
             acked=False, api_version=3)
    d = b1.decision(t(600), "orders", 40100, 0, 9, 14, "eu.orders")
    b1.write(t(606), "orders", 40100, 14, d, "eu.orders", 0, (16, 19), 4, 610,
             producer=(4001, 0, 10))
    # -- denied: a us client writing eu data
    b1.decision(t(700), "us", 43000, 0, 9, 2, "eu.orders", verdict="reject",
                rule="eu-data-stays-in-eu")
    # -- billing-svc reads through broker-1
    d = b1.decision(t(800), "billing", 41000, 1, 11, 21, "eu.orders")
    b1.read(t(803), "billing", 41000, 21, d, "eu.orders", 0, (0, 9), 20)
    d = b1.decision(t(900), "billing", 41000, 1, 11, 22, "eu.orders")
    b1.read(t(902), "billing", 41000, 22, d, "eu.orders", 0, (10, 19), 20)
    # -- a write under a reject that its audit rule does not enforce
    d = b1.decision(t(950), "orders", 40100, 0, 9, 15, "ref.prices", verdict="reject",
                    rule="ref-writes-planned", enforced=False)
    b1.write(t(952), "orders", 40100, 15, d, "ref.prices", 0, (0, 0), 1, 80,
             producer=(4001, 0, 0), rule="ref-writes-planned")
    # -- eu.orders [1]: 0..2 through broker-1, read
    d = b1.decision(t(1000), "orders", 40100, 0, 9, 16, "eu.orders")
    b1.write(t(1004), "orders", 40100, 16, d, "eu.orders", 1, (0, 2), 3, 300,
             producer=(4001, 0, 0))
    d = b1.decision(t(1100), "billing", 41000, 1, 11, 23, "eu.orders")
    b1.read(t(1102), "billing", 41000, 23, d, "eu.orders", 1, (0, 2), 3)
    # -- broker-2 leads eu.orders [1] after a truncation: offset 2 given again
    d = b2.decision(t(1200), "orders", 40500, 0, 9, 17, "eu.orders")
    b2.write(t(1206), "orders", 40500, 17, d, "eu.orders", 1, (2, 3), 2, 200,
             producer=(4001, 1, 0))
    # -- analytics reads through broker-2, reads sampled 1 in 10
    d = b2.decision(t(1300), "analytics", 42000, 1, 11, 31, "eu.orders")
    b2.read(t(1303), "analytics", 42000, 31, d, "eu.orders", 0, (0, 14), 20, sample=10)
    b2.read(t(1400), "analytics", 42000, 32, None, "eu.orders", 0, (5, 19), 20, sample=10)
    b2.read(t(1500), "analytics", 42000, 33, None, "eu.orders", 1, (0, 3), 4, sample=10)
    after = b2.seq
    b2.gap(t(1600), 2, after)
    b2.decision(t(1700), "us", 43100, 0, 9, 3, "us.orders")
    return out, (b1, b2)


def live(base, nodes):
    out = []
    b1, b2 = nodes
    b1.out = b2.out = out
    t = lambda ms: base + LATER + ms * MS  # noqa: E731
    b1.decision(t(5000), "orders", 40100, 0, 9, 40, "eu.orders")
    b2.decision(t(5100), "us", 43100, 0, 9, 4, "us.orders")
    b2.decision(t(5200), "us", 43100, 0, 9, 5, "eu.orders", verdict="reject",
                rule="eu-data-stays-in-eu")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-ns", type=int, default=BASE_NS)
    ap.add_argument("--part", choices=["old", "new", "live", "all"], default="all",
                    help="old: the records two hours before the rest; new: the rest; "
                    "live: later decisions (observe --follow); all: old and new")
    a = ap.parse_args()
    recs, nodes = scenario(a.base_ns)
    if a.part == "live":
        recs = live(a.base_ns, nodes)
    elif a.part != "all":
        cut = a.base_ns + LATER
        recs = [r for r in recs if (r[0] < cut) == (a.part == "old")]
    for _, r in sorted(recs, key=lambda x: (x[0], x[1]["node"], x[1]["seq"])):
        sys.stdout.write(json.dumps(r, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
