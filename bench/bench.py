#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark's helper (bench/run.sh): policies, small readers, and the report.

  bench.py policy OUT [--rules N] [--audit all] [--deny-produce T] [--l3] [--audit-topics N]
                      --version V
  bench.py record FILE key=value...        append one run (values: JSON, number or text)
  bench.py summarize PART RUNS OUT         a part's runs -> its results (medians, ratios, keys)
  bench.py report --out DIR --results F --md F --png F --parts "..." ...
  bench.py metric URL NAME | wait-metric URL NAME DELTA TIMEOUT NS | cpu PID | get JSON KEY
  bench.py nft VARIANT IFACE | napi-pid IFACE | schedstat PID | snmp TABLE FIELD | tcpstats
  bench.py le32 N

Every key in results.json that has a target (TARGETS below) is {"value", "target", "met"}.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

# ---- targets: what kgate must not cost --------------------------------------------------------
# Each key: the part whose section of results.json holds it (None: the top level), and its
# target (an operator and a bound).
TARGETS = {
    "throughput_ratio_kgate_vs_none": ("e2e", ">=", 0.95),
    "throughput_ratio_kgate_vs_xdp_pass": ("e2e", ">=", 0.95),
    "throughput_ratio_kgate_vs_relay": ("e2e", ">=", 1.0),
    "p99_added_us": ("e2e", "<=", 20),
    "storm_neighbour_ratio": ("storm", ">=", 0.9),
    "l3_drop_ratio_xdp_vs_nftables": (None, ">=", 3),
    "flow_map_mib_per_1m": ("flows", "<=", 256),
    "syn_flood_established_survival": ("flows", ">=", 1.0),
    "ooo_throughput_ratio_vs_xdp_pass": ("flows", ">=", 0.95),
    "ringbuf_events_per_s": ("audit", ">=", 2_000_000),
    "kafka_events_per_s": ("audit", ">=", 200_000),
    "audit_lost": ("audit", "<=", 0),
    "policy_apply_ms_10k": (None, "<=", 100),
}


def target(name):
    """(operator, bound) of a key of TARGETS."""
    return TARGETS[name][1:]


# Maps that hold per-connection state, by pinned name: what flow_map_mib_per_1m sums
# (established connections, the pool of large states and its free list, handshakes,
# connections followed undecoded, SASL principals, pending rejections). A datapath that
# adds such a map adds its name here.
FLOW_STATE_MAPS = re.compile(
    r"^kg_(flows|pool|pool_free|syns|flow_strays|flow_principals|pend)$")
# The map whose entries count the connections held.
FLOW_MAP = "kg_flows"
MIB = 1 << 20


def keyed(name, value, **extra):
    op, tgt = target(name)
    met = None
    if value is not None:
        met = value >= tgt if op == ">=" else value <= tgt
    d = {"value": value, "target": f"{op} {tgt:,}" if isinstance(tgt, int) and tgt > 1000
         else f"{op} {tgt}", "met": met}
    d.update(extra)
    return d


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rnd(x, n=3):
    return None if x is None else round(x, n)


# ---- policies -----------------------------------------------------------------------------
HEAD = """version: "{version}"
mode: enforce
default: {default}
{audit}listeners:
  - port: 9092
    on_undecodable: reset
regions:
  eu: [10.10.0.0/16, "fd00:10::/32"]
  us: [10.20.0.0/16, "fd00:20::/32"]
{extra_regions}rules:
"""


def cmd_policy(a):
    audit = 'audit:\n  allow: all\n' if a.audit == "all" else ""
    extra_regions, default, rules = "", "reject", []
    if a.l3:
        # a region whose connections are refused at SYN: today only `redirect` (without a
        # quarantine interface) drops a SYN; `drop` decides on requests only
        extra_regions = "  qz: [10.30.0.0/16]\n"
        default = "allow"
        rules.append("  - name: qz-refused\n    regions: [qz]\n    action: redirect\n")
    elif a.audit_topics:
        audit = 'audit:\n  allow: all\n'
        default = "allow"
        rules.append("  - name: t-topics\n    topics: [\"t-*\"]\n    regions: [eu]\n"
                     "    action: allow\n")
    else:
        # fillers no benchmark request matches (each on a topic of its own: a topic's
        # candidate rules are bounded), then the rules that decide
        decisive = 2 + (1 if a.deny_produce else 0)
        for i in range(max(0, a.rules - decisive)):
            k = i % 4
            r = "  - name: filler-%05d\n" % i
            if k == 0:
                r += '    topics: ["filler.%d"]\n    action: reject\n' % i
            elif k == 1:
                r += '    topics: ["fp%d.*"]\n    operations: [produce]\n    action: reject\n' % i
            elif k == 2:
                r += '    topics: ["fx.%d"]\n    regions: [us]\n    action: allow\n' % i
            else:
                r += ('    topics: ["fy.%d"]\n    client_ids: [cid-%d]\n'
                      '    operations: [consume]\n    action: allow\n' % (i, i % 50))
            rules.append(r)
        if a.deny_produce:
            rules.append("  - name: no-produce-%s\n    topics: [%s]\n    operations: [produce]\n"
                         "    action: reject\n" % (a.deny_produce.replace(".", "-"),
                                                   a.deny_produce))
        rules.append('  - name: eu-only\n    topics: ["eu.*"]\n    regions_not: [eu]\n'
                     '    action: reject\n')
        rules.append("  - name: clients-in-regions\n    regions: [eu, us]\n    action: allow\n")
    with open(a.out, "w") as f:
        f.write(HEAD.format(version=a.version, default=default, audit=audit,
                            extra_regions=extra_regions))
        f.writelines(rules)


# ---- small readers ----------------------------------------------------------------------------
def parse_metrics(text, name):
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and (len(line) == len(name) or line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def cmd_metric(a):
    v = parse_metrics(urllib.request.urlopen(a.url, timeout=5).read().decode(), a.name)
    if v is None:
        sys.exit(1)
    print(int(v) if v == int(v) else v)


def cmd_wait_metric(a):
    """Waits (from NS) until metric NAME grew by DELTA from its first reading after the
    agent was continued; prints the last value read."""
    def read():
        out = subprocess.run(["nsenter", f"--net=/run/netns/{a.ns}", "--", sys.executable,
                              __file__, "metric", a.url, a.name], capture_output=True,
                             text=True, timeout=10)
        return float(out.stdout) if out.returncode == 0 else None
    start, end, v = a.base, time.time() + a.timeout, None
    while time.time() < end:
        v = read()
        if v is not None and v >= start + a.delta:
            break
        time.sleep(0.01)
    print(int(v) if v is not None else -1)


def proc_cpu(pid):
    """CPU seconds of every thread of pid (schedstat: ns, exact)."""
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def cmd_cpu(a):
    print("%.6f" % proc_cpu(a.pid))


def cmd_schedstat(a):
    with open(f"/proc/{a.pid}/schedstat") as f:
        print(f.read().split()[0])


def cmd_napi_pid(a):
    want = ("napi/" + a.iface)[:15]
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip().startswith(want):
                    print(p)
                    return
        except OSError:
            pass
    sys.exit(f"bench: no NAPI thread for {a.iface}")


def cmd_snmp(a):
    lines = [l.split() for l in sys.stdin if l.startswith(a.table + ":")]
    for hdr, val in zip(lines[0::2], lines[1::2]):
        if a.field in hdr:
            print(val[hdr.index(a.field)])
            return
    sys.exit(1)


TCP_FIELDS = ("RetransSegs", "TCPTimeouts", "TCPFastRetrans", "TCPSackRecovery",
              "TCPLossProbes", "TCPSACKReorder", "TCPOFOQueue", "OutSegs")


def cmd_tcpstats(a):
    lines = [l.split() for l in sys.stdin if l.startswith(("Tcp:", "TcpExt:"))]
    d = {}
    for hdr, val in zip(lines[0::2], lines[1::2]):
        for k, v in zip(hdr[1:], val[1:]):
            if k in TCP_FIELDS:
                d[k] = int(v)
    print(json.dumps(d, separators=(",", ":")))


def cmd_get(a):
    try:
        print(json.loads(a.json).get(a.key))
    except ValueError:
        print(None)


def cmd_le32(a):
    print(" ".join(str((a.n >> s) & 0xff) for s in (0, 8, 16, 24)))


def cmd_nft(a):
    """The nftables rule equivalent to kgate's: SYNs from 10.30.0.0/16 to 9092 dropped."""
    rule = "ip saddr 10.30.0.0/16 tcp dport 9092 tcp flags & (syn|ack) == syn counter drop"
    if a.variant == "nft_netdev":  # before the IP stack, as early as nftables gets
        print('table netdev kgbench {\n\tchain ing {\n\t\ttype filter hook ingress device '
              '"%s" priority -500;\n\t\t%s\n\t}\n}' % (a.iface, rule))
    else:  # where most hosts put it: prerouting, before conntrack
        print("table ip kgbench {\n\tchain pre {\n\t\ttype filter hook prerouting priority "
              "-300;\n\t\t%s\n\t}\n}" % rule)


def cmd_record(a):
    d = {}
    for kv in a.kv:
        k, _, v = kv.partition("=")
        try:
            d[k] = json.loads(v)
        except ValueError:
            d[k] = v
    with open(a.file, "a") as f:
        f.write(json.dumps(d, separators=(",", ":")) + "\n")


# ---- summaries ---------------------------------------------------------------------------------
def load_runs(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def loads(runs):
    return {r["when"]: r["loadavg"] for r in runs if r.get("kind") == "load"} | \
        {"seconds": next((r["seconds"] for r in runs if r.get("kind") == "load"
                          and "seconds" in r), None)}


def by_round(runs, kind, field, pick, **match):
    """{round: {variant: value}} of runs of kind matching **match."""
    out = {}
    for r in runs:
        if r.get("kind") != kind or any(r.get(k) != v for k, v in match.items()):
            continue
        out.setdefault(r["round"], {})[r["variant"]] = pick(r[field])
    return out


def ratio_median(rounds, a, b):
    # a variant that delivered nothing is a ratio of 0, not a missing one
    vals = [x[a] / x[b] for x in rounds.values() if x.get(a) is not None and x.get(b)]
    return med(vals), [rnd(v) for v in vals]


def stat(s, *path):
    for p in path:
        s = (s or {}).get(p, 0)
    return s or 0


def sum_stat(s0, s1, *path):
    return stat(s1, *path) - stat(s0, *path)


def summarize_e2e(runs):
    res = {"throughput": {}, "ratios": {}}
    kg = ("kgate_audit_all", "kgate_default")
    worst = {"none": [], "xdp_pass": [], "relay": []}
    for size in (100, 10240):
        rounds = by_round(runs, "throughput", "run", lambda j: j.get("msgs_per_s"), size=size)
        mb = by_round(runs, "throughput", "run", lambda j: j.get("mb_per_s"), size=size)
        fails = by_round(runs, "throughput", "run", lambda j: j.get("failed"), size=size)
        variants = sorted({v for x in rounds.values() for v in x})
        res["throughput"][str(size)] = {
            v: {"msgs_per_s": rnd(med([x.get(v) for x in rounds.values()]), 0),
                "mb_per_s": rnd(med([x.get(v) for x in mb.values()]), 1),
                "failed": sum(x.get(v) or 0 for x in fails.values()),
                "runs_msgs_per_s": [rnd(x.get(v), 0) for _, x in sorted(rounds.items())]}
            for v in variants}
        rs = res["ratios"].setdefault(str(size), {})
        for k in kg:
            for base in ("none", "xdp_pass", "relay"):
                m, each = ratio_median(rounds, k, base)
                rs[f"{k}_vs_{base}"] = {"median": rnd(m), "rounds": each}
                worst[base].append(m)
        m, each = ratio_median(rounds, "xdp_pass", "none")
        rs["xdp_pass_vs_none"] = {"median": rnd(m), "rounds": each}
        m, each = ratio_median(rounds, "relay", "none")
        rs["relay_vs_none"] = {"median": rnd(m), "rounds": each}

    def worst_of(xs):
        xs = [x for x in xs if x is not None]
        return rnd(min(xs)) if xs else None
    how = "the lowest of the median ratios over 100 B and 10 KiB values and both kgate configs"
    res["throughput_ratio_kgate_vs_none"] = keyed("throughput_ratio_kgate_vs_none",
                                                   worst_of(worst["none"]), of=how)
    res["throughput_ratio_kgate_vs_xdp_pass"] = keyed("throughput_ratio_kgate_vs_xdp_pass",
                                                       worst_of(worst["xdp_pass"]), of=how)
    res["throughput_ratio_kgate_vs_relay"] = keyed("throughput_ratio_kgate_vs_relay",
                                                    worst_of(worst["relay"]), of=how)
    # paced latency
    p99 = by_round(runs, "paced", "run", lambda j: j.get("lat_p99_us"))
    p50 = by_round(runs, "paced", "run", lambda j: j.get("lat_p50_us"))
    added = [x["kgate_default"] - x["none"] for x in p99.values()
             if x.get("kgate_default") is not None and x.get("none") is not None]
    added50 = [x["kgate_default"] - x["none"] for x in p50.values()
               if x.get("kgate_default") is not None and x.get("none") is not None]
    res["paced"] = {"rate_msgs_per_s": 2000, "size": 100,
                    "p50_us": {v: rnd(med([x.get(v) for x in p50.values()]), 1)
                               for v in ("none", "xdp_pass", "kgate_default")},
                    "p99_us": {v: rnd(med([x.get(v) for x in p99.values()]), 1)
                               for v in ("none", "xdp_pass", "kgate_default")},
                    "p99_added_us_rounds": [rnd(x, 1) for x in added],
                    "p50_added_us": rnd(med(added50), 1)}
    res["p99_added_us"] = keyed("p99_added_us", rnd(med(added), 1),
                                of="median over rounds of p99(kgate, default sampling) - "
                                   "p99(no kgate), 2,000 msg/s of 100 B, linger 0")
    # capacity in front of a sink (a broker that is never the bottleneck)
    sink = by_round(runs, "sink", "run", lambda j: j.get("mb_per_s"))
    res["sink_mb_per_s"] = {v: rnd(med([x.get(v) for x in sink.values()]), 1)
                            for v in ("none", "kgate_default", "relay_sink")}
    m, each = ratio_median(sink, "kgate_default", "relay_sink")
    res["sink_ratio_kgate_vs_relay"] = {"median": rnd(m), "rounds": each}
    m, each = ratio_median(sink, "kgate_default", "none")
    res["sink_ratio_kgate_vs_none"] = {"median": rnd(m), "rounds": each}
    m, each = ratio_median(sink, "relay_sink", "none")
    res["sink_ratio_relay_vs_none"] = {"median": rnd(m), "rounds": each}
    return res


def summarize_storm(runs):
    res = {}
    nb = by_round(runs, "run", "run", lambda j: j.get("msgs_per_s"))
    res["neighbour_msgs_per_s"] = {v: rnd(med([x.get(v) for x in nb.values()]), 0)
                                   for v in ("none", "kgate", "kgate_calm")}
    m, each = ratio_median(nb, "kgate", "none")
    res["storm_neighbour_ratio"] = keyed(
        "storm_neighbour_ratio", rnd(m), rounds=each,
        of="a producer's msg/s beside the storm with kgate / beside the same storm without")
    m, each = ratio_median(nb, "kgate", "kgate_calm")
    res["neighbour_ratio_storm_vs_calm"] = {"median": rnd(m), "rounds": each}
    deny, recs, lost, cpu, resp, codes = [], [], [], [], {}, {}
    for r in runs:
        if r.get("kind") != "run" or not r.get("storm"):
            continue
        st = r["storm"]
        resp.setdefault(r["variant"], []).append(st.get("responses_per_s"))
        for c, n in (st.get("errors") or {}).items():
            codes.setdefault(r["variant"], {}).setdefault(c, 0)
            codes[r["variant"]][c] += n
        if r["variant"] != "kgate":
            continue
        secs = st.get("seconds") or 1
        deny.append(sum_stat(r["stats0"], r["stats1"], "verdicts", "reject") / secs)
        recs.append((r["records1"] - r["records0"]) / secs)
        lost.append(sum_stat(r["stats0"], r["stats1"], "counters", "events_lost_deny") +
                    sum_stat(r["stats0"], r["stats1"], "counters", "events_lost_allow"))
        cpu.append((r["cpu1"] - r["cpu0"]) / secs)
    res["deny_decisions_per_s"] = rnd(med(deny), 0)
    res["audit_records_per_s"] = rnd(med(recs), 0)
    res["lost_events"] = sum(lost)
    res["agent_cpu_share"] = rnd(med(cpu))
    res["storm_responses_per_s"] = {v: rnd(med(x), 0) for v, x in resp.items()}
    res["storm_response_codes"] = codes
    pipe = {}
    for r in runs:
        if r.get("kind") == "pipeline":
            e = r["run"].get("errors") or {}
            tot = sum(e.values()) or 1
            pipe[str(r["depth"])] = {"responses": sum(e.values()),
                                     "share_29": rnd(e.get("29", 0) / tot),
                                     "share_3": rnd(e.get("3", 0) / tot), "codes": e}
    res["pipelined_rejects"] = pipe
    return res


def nft_count(ruleset):
    for x in (ruleset or {}).get("nftables", []):
        for e in x.get("rule", {}).get("expr", []):
            if "counter" in e:
                return e["counter"]["packets"]
    return 0


def summarize_l3(runs):
    res, per = {}, {}
    for r in runs:
        if r.get("kind") != "run":
            continue
        v, cpu = r["variant"], (r["napi_ns1"] - r["napi_ns0"]) / 1e9
        if v == "kgate":
            dropped = sum_stat(r["stats0"], r["stats1"], "verdicts", "redirect")
            agent = r["cpu1"] - r["cpu0"]
            lost = sum_stat(r["stats0"], r["stats1"], "counters", "events_lost_deny")
        else:
            dropped, agent, lost = nft_count(r["stats1"]) - nft_count(r["stats0"]), 0, 0
        per.setdefault(r["round"], {})[v] = {
            "dropped": dropped, "napi_cpu_s": rnd(cpu, 4),
            "pps_per_cpu_s": dropped / cpu if cpu > 0 else None,
            "pps_per_cpu_s_with_agent": dropped / (cpu + agent) if cpu + agent > 0 else None,
            "agent_cpu_s": rnd(agent, 4), "events_lost": lost,
            "offered_pps": r["gen"].get("pps"),
            "reached_ip_stack": r["ip_in1"] - r["ip_in0"]}
    for v in ("kgate", "nft_netdev", "nft_prerouting"):
        xs = [x[v] for x in per.values() if v in x]
        res[v] = {k: rnd(med([x[k] for x in xs]), 0 if k != "napi_cpu_s" else 4)
                  for k in ("dropped", "napi_cpu_s", "pps_per_cpu_s", "pps_per_cpu_s_with_agent",
                            "offered_pps", "reached_ip_stack", "events_lost")} if xs else {}
    rr = {k: {v: x[v]["pps_per_cpu_s"] for v in x} for k, x in per.items()}
    m, each = ratio_median(rr, "kgate", "nft_netdev")
    m2, each2 = ratio_median(rr, "kgate", "nft_prerouting")
    ra = {k: {v: x[v]["pps_per_cpu_s_with_agent"] for v in x} for k, x in per.items()}
    m3, _ = ratio_median(ra, "kgate", "nft_netdev")
    res["ratio_vs_nft_prerouting"] = {"median": rnd(m2), "rounds": each2}
    res["ratio_vs_nft_netdev_with_agent"] = rnd(m3)
    res["method"] = ("AF_PACKET SYNs from 10.30.0.0/16 -> a veth whose XDP program redirects "
                     "them as XDP frames -> the veth under test (threaded NAPI pinned to CPU 1); "
                     "packets dropped / CPU time of that NAPI thread. kgate: `redirect` at SYN "
                     "without a quarantine interface (the only action that drops a SYN today); "
                     "nftables: the same match in a netdev ingress chain (and in prerouting)")
    res["key"] = keyed("l3_drop_ratio_xdp_vs_nftables", rnd(m), rounds=each,
                       of="kgate drops per NAPI CPU-second / nftables netdev ingress drops per "
                          "NAPI CPU-second, median of rounds")
    return res


def summarize_flows(runs):
    res = {}
    for r in runs:
        if r.get("kind") == "memory":
            j = r["run"]
            maps = j.get("maps", [])
            state = [m for m in maps if FLOW_STATE_MAPS.match(m["name"])]
            held = next((m.get("entries") for m in maps if m["name"] == FLOW_MAP), 0) or 0
            mem = sum(m["memlock"] for m in state)
            res["memory"] = {
                "connections_opened": j.get("opened"), "open_seconds": j.get("seconds"),
                "flows_held": held, "flow_state_maps": {m["name"]: m["memlock"] for m in state},
                "flow_state_memlock_bytes": mem,
                "all_maps_memlock_bytes": sum(m["memlock"] for m in maps),
                "maps": {m["name"]: {"memlock": m["memlock"], "max_entries": m["max_entries"],
                                     "value_size": m["value_size"]} for m in maps}}
            res["flow_map_mib_per_1m"] = keyed(
                "flow_map_mib_per_1m", rnd(mem / held * 1e6 / MIB, 1) if held else None,
                of="memlock (fdinfo, as bpftool shows) of the maps holding connection state, "
                   "after opening %s connections, per connection held (%s), times a million"
                   % (f"{j.get('opened'):,}", f"{held:,}"))
    flood = {}
    for r in runs:
        if r.get("kind") != "flood":
            continue
        a, b = r["active"], r["busy"]
        # the producer starts 1 s after the light connections: its timeline is 1 s late
        t0, t1 = r["flood_at"] - 1, r["flood_at"] - 1 + r["flood_s"]
        tl, ts = b.get("timeline_ok", []), b.get("timeline_s", 0.5)
        during = sum(n for i, n in enumerate(tl) if t0 <= i * ts < t1)
        before = sum(n for i, n in enumerate(tl) if 1 <= i * ts < t0) / max(t0 - 1, 1)
        t0f = r["flood_at"]
        aps = a.get("answers_per_s", [])
        flood.setdefault(r["variant"], []).append({
            "survival": a["survived"] / a["conns"] if a.get("conns") else None,
            "reset": a.get("reset"), "stalled": a.get("stalled"), "timeouts": a.get("timeouts"),
            "max_gap_s": a.get("max_gap_s"),
            "answers_per_s_before": rnd(med(aps[1:t0f]), 0) if len(aps) > t0f else None,
            "answers_per_s_after": rnd(med(aps[-3:]), 0) if aps else None,
            "producer_failed": b.get("failed"), "producer_max_gap_s": b.get("max_gap_s"),
            "producer_msgs_per_s_before": rnd(before, 0),
            "producer_msgs_per_s_during": rnd(during / r["flood_s"], 0),
            "flood_pps_sent": r["gen"].get("pps"),
            "flows_new": sum_stat(r.get("stats0"), r.get("stats1"), "counters", "flows_new"),
            # kgate's own resets in the round (of any connection: the producer's too)
            "kgate_client_resets": sum_stat(r.get("stats0"), r.get("stats1"), "counters",
                                            "client_resets"),
            "kgate_probe_read": sum_stat(r.get("stats0"), r.get("stats1"), "undecodable",
                                         "probe_read")})
    res["syn_flood"] = flood
    kg = [x["survival"] for x in flood.get("kgate", []) if x["survival"] is not None]
    res["syn_flood_established_survival"] = keyed(
        "syn_flood_established_survival", rnd(min(kg)) if kg else None,
        of="share of 100 light connections (Metadata every 100 ms) with no reset and no "
           "1 s without an answer during the flood and 1 s after; the worst round")
    ooo = by_round(runs, "ooo", "run", lambda j: j.get("msgs_per_s"))
    res["ooo_msgs_per_s"] = {v: rnd(med([x.get(v) for x in ooo.values()]), 0)
                             for v in ("none", "xdp_pass", "kgate_default", "kgate_tci")}
    fails = {}
    tcp = {}
    ood, ood_tci, probes = [], [], {}
    for r in runs:
        if r.get("kind") == "ooo":
            fails.setdefault(r["variant"], 0)
            fails[r["variant"]] += r["run"].get("failed") or 0
            d = {k: r["tcp1"].get(k, 0) - r["tcp0"].get(k, 0) for k in r["tcp1"]}
            tcp.setdefault(r["variant"], []).append(d)
            if r["variant"] == "kgate_default":
                ood.append(sum_stat(r["stats0"], r["stats1"], "counters", "out_of_order_drops"))
            if r["variant"] == "kgate_tci":
                ood_tci.append(sum_stat(r["stats0"], r["stats1"], "counters",
                                        "out_of_order_drops"))
            if r["variant"] in ("kgate_default", "kgate_tci"):
                for k in ("ahead_passed", "ahead_full_drops", "ahead_probes", "probes_checked",
                          "hole_fills", "ingress_busy_drops", "client_resets"):
                    probes.setdefault(r["variant"], {}).setdefault(k, []).append(
                        sum_stat(r["stats0"], r["stats1"], "counters", k))
        if r.get("kind") == "netem":
            res["netem"] = r["run"]
    res["ooo_failed_messages"] = fails
    res["ooo_client_tcp"] = {v: {k: rnd(med([x.get(k) for x in xs]), 0) for k in TCP_FIELDS}
                             for v, xs in tcp.items()}
    res["ooo_kgate_out_of_order_drops"] = rnd(med(ood), 0)
    res["ooo_kgate_tci_out_of_order_drops"] = rnd(med(ood_tci), 0) if ood_tci else None
    res["ooo_kgate_ahead"] = {v: {k: rnd(med(x), 0) for k, x in d.items()}
                              for v, d in probes.items()}
    if any("kgate_tci" in x for x in ooo.values()):
        mt, each_t = ratio_median(ooo, "kgate_tci", "xdp_pass")
        res["ooo_ratio_tci_vs_xdp_pass"] = {"value": rnd(mt), "rounds": each_t}
    m, each = ratio_median(ooo, "kgate_default", "xdp_pass")
    m2, _ = ratio_median(ooo, "kgate_default", "none")
    m3, _ = ratio_median(ooo, "xdp_pass", "none")
    res["ooo_ratio_kgate_vs_none"] = rnd(m2)
    res["ooo_ratio_xdp_pass_vs_none"] = rnd(m3)
    res["ooo_throughput_ratio_vs_xdp_pass"] = keyed(
        "ooo_throughput_ratio_vs_xdp_pass", rnd(m), rounds=each,
        of="10 KiB values from a client whose segments the router drops (1%) or reorders "
           "(1%); kgate msg/s / do-nothing XDP msg/s, median of rounds")
    idle = {r["variant"]: dict(r["run"], flows_new=sum_stat(r.get("stats0"), r.get("stats1"),
                                                            "counters", "flows_new"),
                               midstream=sum_stat(r.get("stats0"), r.get("stats1"),
                                                  "undecodable", "midstream"),
                               client_resets=sum_stat(r.get("stats0"), r.get("stats1"),
                                                      "counters", "client_resets"))
            for r in runs if r.get("kind") == "idle"}
    if idle:
        res["idle_connections"] = idle
    return res


def summarize_audit(runs):
    res, rates = {}, {"file": [], "kafka": []}
    wall, lost, short = {"file": [], "kafka": []}, 0, 0
    for r in runs:
        if r.get("kind") == "run":
            got = r["m1"] - r["m0"]
            short += max(0, r["events"] - got)
            cpu = r["cpu1"] - r["cpu0"]
            w = float(r["t1"]) - float(r["t0"])
            rates[r["mode"]].append(got / cpu if cpu > 0 else None)
            wall[r["mode"]].append(got / w if w > 0 else None)
        if r.get("kind") == "stats":
            lost += sum_stat(r["stats0"], r["stats1"], "counters", "events_lost_deny") + \
                sum_stat(r["stats0"], r["stats1"], "counters", "events_lost_allow")
            res.setdefault("gap_records", {})[r["mode"]] = r.get("gaps")
    res["ringbuf_events_per_s"] = keyed(
        "ringbuf_events_per_s", rnd(med(rates["file"]), 0),
        wall_clock=rnd(med(wall["file"]), 0), rounds=[rnd(x, 0) for x in rates["file"]],
        of="events a full ring buffer held, read and encoded into records by `kgate run` "
           "(audit file /dev/null) per second of the agent's CPU (all threads)")
    res["kafka_events_per_s"] = keyed(
        "kafka_events_per_s", rnd(med(wall["kafka"]), 0),
        rounds=[rnd(x, 0) for x in wall["kafka"]],
        agent_cpu_rate=rnd(med(rates["kafka"]), 0),
        of="the same events delivered to the audit topic on librdkafka's mock, per second of "
           "wall time from continuing the agent to the last delivery report")
    res["audit_lost"] = keyed("audit_lost", lost + short,
                              of="ring-buffer events lost (kernel counters) plus records "
                                 "missing at the end")
    return res


def summarize_policy(runs):
    ms, write, swap = [], [], []
    for r in runs:
        if r.get("kind") != "apply":
            continue
        ms.append(float(r["ms"]))
        m = re.search(r"([\d.]+) us.*?([\d.]+) us", str(r.get("out", "")))
        if m:
            write.append(float(m.group(1)))
            swap.append(float(m.group(2)))
    return {"policy_apply_ms_10k": keyed(
        "policy_apply_ms_10k", rnd(med(ms), 1), runs_ms=[rnd(x, 1) for x in ms],
        write_us=rnd(med(write), 0), swap_us=rnd(med(swap), 1),
        of="wall time of `kgate policy apply` of a 10,000-rule file (read, compile, write "
           "the inactive generation, flip), alternating two policies, median")}


def cmd_summarize(a):
    runs = load_runs(a.runs)
    if a.part == "datapath":
        src = next(r["file"] for r in runs if r.get("kind") == "datapath")
        with open(src) as f:
            res = json.load(f)
    else:
        res = globals()["summarize_" + a.part](runs)
    res.setdefault("meta", {})["load"] = loads(runs)
    with open(a.outfile, "w") as f:
        json.dump(res, f, indent=2)


# ---- report ------------------------------------------------------------------------------------
def machine():
    def first(path, pat):
        try:
            with open(path) as f:
                for l in f:
                    m = re.match(pat, l)
                    if m:
                        return m.group(1).strip()
        except OSError:
            pass
        return None
    return {"cpu": first("/proc/cpuinfo", r"model name\s*:\s*(.*)"), "cpus": os.cpu_count(),
            "memory_gib": round(int(first("/proc/meminfo", r"MemTotal:\s*(\d+)") or 0) / MIB, 1),
            "kernel": os.uname().release,
            "os": first("/etc/os-release", r'PRETTY_NAME="(.*)"')}


def key_rows(res):
    rows = []
    for k in TARGETS:
        part = TARGETS[k][0]
        d = (res.get(part) or {}).get(k) if part else res.get(k)
        rows.append((k, d))
    return rows


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def write_png(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    thr = (res.get("e2e") or {}).get("throughput") or {}
    variants = ["none", "xdp_pass", "kgate_default", "kgate_audit_all", "relay"]
    width = 0.38
    for i, size in enumerate(("100", "10240")):
        t = thr.get(size) or {}
        base = (t.get("none") or {}).get("msgs_per_s") or 0
        ys = [((t.get(v) or {}).get("msgs_per_s") or 0) / base if base else 0 for v in variants]
        ax1.bar([x + (i - 0.5) * width for x in range(len(variants))], ys, width,
                label="100 B values" if size == "100" else "10 KiB values")
    ax1.axhline(0.95, color="grey", linestyle="--", linewidth=1)
    ax1.set_xticks(range(len(variants)))
    ax1.set_xticklabels(["no kgate", "XDP pass", "kgate\n(default)", "kgate\n(1,000 rules,\nall audited)",
                         "TCP relay"], fontsize=8)
    ax1.set_ylabel("producer msg/s relative to no kgate (median)")
    ax1.set_title("e2e: librdkafka producer, acks=1")
    ax1.legend(fontsize=8)
    names, vals, colors = [], [], []
    for k, d in key_rows(res):
        if not d or d.get("value") is None:
            continue
        op, tgt = target(k)
        v = d["value"]
        if op == ">=":
            score = v / tgt if tgt else 0
        else:
            score = (tgt / v if v > 0 else 2.0) if tgt else (1.0 if v <= 0 else 0.0)
        names.append(k)
        vals.append(min(score, 2.0))
        colors.append("tab:green" if d.get("met") else "tab:red")
    ax2.barh(names, vals, color=colors)
    ax2.axvline(1.0, color="black", linewidth=1)
    ax2.set_xlim(0, 2.0)
    ax2.set_xlabel("value / target (>= 1 meets it; capped at 2)")
    ax2.tick_params(axis="y", labelsize=7)
    ax2.set_title("targets")
    ax2.invert_yaxis()
    fig.suptitle("kgate benchmark, %s, %s" % (res["meta"]["date"][:10], res["meta"]["commit"]))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def part_meta(res, part):
    """A part's own meta (its date and load): where report() put it."""
    if part in ("datapath", "policy"):
        return res.get(part + "_meta") or {}
    return (res.get(part) or {}).get("meta") or {}


def write_md(res, path, png):
    m = res["meta"]
    L = []
    w = L.append
    w("<!-- SPDX-License-Identifier: Apache-2.0 -->")
    w("<!-- Generated by bench/bench.py report (make bench); do not edit by hand. -->")
    w("# kgate benchmarks\n")
    w(f"Measured {m['date']} at `{m['commit']}` (kgate's code as of `{m.get('code_commit')}`, "
      f"the last commit that changed agent/, bpf/ or maps/) by `make bench`"
      f"{' (BENCH_QUICK=1: indicative only)' if m.get('quick') else ''}; {m['rounds']} rounds "
      f"of every A/B comparison, interleaved (the order rotates each round), {m['seconds']} s "
      f"per producer run; medians, and ratios as the median of each round's ratio.\n")
    mc = m["machine"]
    w(f"**Machine:** {mc['cpus']} × {mc['cpu']}, {mc['memory_gib']} GiB, Linux {mc['kernel']}, "
      f"{mc['os']}. Other work shared the CPUs: the load average per part is below, so the "
      f"absolute numbers are noisy; the ratios of interleaved runs are what count.\n")
    w("**Rerun:** `make bench` (root, about 15 minutes: everything), or one part: "
      "`make bench-datapath`, `bench-e2e`, `bench-storm`, `bench-l3`, `bench-flows`, "
      "`bench-audit`, `bench-policy`; `BENCH_QUICK=1` for a short developer run, "
      "`BENCH_ROUNDS`, `BENCH_SECONDS` to change the runs. A part that is rerun replaces its "
      "section of `bench/results.json`; the others stay as they were (each section carries "
      "its own date and load).\n")
    w(f"![benchmark]({os.path.basename(png)})\n")
    w("## Targets\n")
    w("| key | value | target | met | what |")
    w("|---|---|---|---|---|")
    for k, d in key_rows(res):
        if not d:
            w(f"| `{k}` | not measured | | | |")
            continue
        met = {True: "yes", False: "**no**", None: "n/a"}[d.get("met")]
        w(f"| `{k}` | {fmt(d.get('value'))} | {d['target']} | {met} | {d.get('of', '')} |")
    w("")
    e = res.get("e2e")
    if e:
        w("## e2e: a librdkafka producer from eu (acks=1)\n")
        w("Variants: no kgate; a do-nothing XDP program on the broker interface "
          "(`bench/xdp_pass.bpf.c`); kgate with 1,000 rules and default sampling (allows not "
          "recorded); kgate with the same rules and every allow audited; a userspace TCP "
          "relay in the broker namespace (`bench/relay.c`: one thread, epoll, every byte "
          "copied through user space as a policy proxy must).\n")
        w("| values | variant | msg/s (median) | MB/s | failed | runs |")
        w("|---|---|---|---|---|---|")
        for size, t in e["throughput"].items():
            for v, d in t.items():
                w(f"| {size} B | {v} | {fmt(d['msgs_per_s'])} | {fmt(d['mb_per_s'])} | "
                  f"{d['failed']} | {', '.join(fmt(x) for x in d['runs_msgs_per_s'])} |")
        w("\n| values | ratio | median | rounds |")
        w("|---|---|---|---|")
        for size, rs in e["ratios"].items():
            for k, d in rs.items():
                w(f"| {size} B | {k} | {fmt(d['median'])} | "
                  f"{', '.join(fmt(x) for x in d['rounds'])} |")
        p = e["paced"]
        w(f"\nPaced, 2,000 msg/s of 100 B, linger 0: p50 {p['p50_us']} µs, p99 {p['p99_us']} "
          f"µs; p99 added by kgate per round {p['p99_added_us_rounds']} µs.\n")
        w(f"Against a sink that reads and discards (a broker that is never the bottleneck), "
          f"one connection sending Produce (acks=0, 10 KiB values) as fast as TCP takes "
          f"them: MB/s {e['sink_mb_per_s']}; kgate / relay "
          f"{fmt(e['sink_ratio_kgate_vs_relay']['median'])}, kgate / none "
          f"{fmt(e['sink_ratio_kgate_vs_none']['median'])}, relay / none "
          f"{fmt(e['sink_ratio_relay_vs_none']['median'])}.\n")
    s = res.get("storm")
    if s:
        w("## Deny storm\n")
        w("One client (us) sends 4 connections × 64 pipelined Produce requests to a topic the "
          "policy denies (`bench/kwire.c storm`); a librdkafka producer (eu, 100 B) runs beside "
          "it. `kgate_calm`: kgate, no storm.\n")
        w(f"- neighbour msg/s: {s['neighbour_msgs_per_s']}")
        w(f"- deny decisions/s {fmt(s['deny_decisions_per_s'])}, audit records/s "
          f"{fmt(s['audit_records_per_s'])}, lost events {fmt(s['lost_events'])}, agent CPU "
          f"{fmt(s['agent_cpu_share'])} of a core")
        w(f"- storm responses/s {s['storm_responses_per_s']}; by error code "
          f"{s['storm_response_codes']}")
        w("- pipelined rejects (one connection, N in flight): share answered with 29 "
          "(TOPIC_AUTHORIZATION_FAILED) / 3 (UNKNOWN_TOPIC_OR_PARTITION): " +
          ", ".join(f"{d}: {x['share_29']} / {x['share_3']}"
                    for d, x in s["pipelined_rejects"].items()) + "\n")
    l3 = res.get("l3")
    if l3:
        w("## L3 drop: spoofed SYNs from a denied region\n")
        w(l3["method"] + ".\n")
        w("| variant | dropped | NAPI CPU s | drops per CPU-s | with agent CPU | offered pps | "
          "reached IP stack | events lost |")
        w("|---|---|---|---|---|---|---|---|")
        for v in ("kgate", "nft_netdev", "nft_prerouting"):
            d = l3.get(v) or {}
            w(f"| {v} | {fmt(d.get('dropped'))} | {fmt(d.get('napi_cpu_s'))} | "
              f"{fmt(d.get('pps_per_cpu_s'))} | {fmt(d.get('pps_per_cpu_s_with_agent'))} | "
              f"{fmt(d.get('offered_pps'))} | {fmt(d.get('reached_ip_stack'))} | "
              f"{fmt(d.get('events_lost'))} |")
        w(f"\nkgate vs nftables prerouting: {fmt(l3['ratio_vs_nft_prerouting']['median'])}; "
          f"vs netdev counting the agent's CPU: {fmt(l3['ratio_vs_nft_netdev_with_agent'])}.\n")
    f = res.get("flows")
    if f:
        w("## Flows\n")
        mem = f.get("memory") or {}
        if mem:
            per_map = ", ".join(f"{k} {v / MIB:.2f}" for k, v in mem["flow_state_maps"].items())
            w(f"Memory: {fmt(mem['connections_opened'])} connections opened through the "
              f"datapath (a SYN, the broker's SYN-ACK through TC egress, the client's ACK) in "
              f"{fmt(mem['open_seconds'])} s; {fmt(mem['flows_held'])} held; memlock of the "
              f"connection-state maps (MiB): {per_map}; all maps "
              f"{mem['all_maps_memlock_bytes'] / MIB:.1f} MiB.\n")
        w("SYN flood (spoofed sources in 10.10.128.0/17, eu) while 100 light connections "
          "and a producer run:\n")
        w("| variant | survival | reset | stalled | timeouts | max gap s | answers/s before "
          "/ after | producer msg/s before / during | producer failed | flood pps | kgate's "
          "RSTs to clients (probe_read) |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for v, xs in f.get("syn_flood", {}).items():
            for x in xs:
                w(f"| {v} | {fmt(x['survival'])} | {x['reset']} | {x['stalled']} | "
                  f"{x['timeouts']} | {fmt(x['max_gap_s'])} | {fmt(x['answers_per_s_before'])}"
                  f" / {fmt(x['answers_per_s_after'])} | {fmt(x['producer_msgs_per_s_before'])}"
                  f" / {fmt(x['producer_msgs_per_s_during'])} | {fmt(x['producer_failed'])} | "
                  f"{fmt(x['flood_pps_sent'])} | {fmt(x.get('kgate_client_resets'))} "
                  f"({fmt(x.get('kgate_probe_read'))}) |")
        w(f"\nLoss and reordering (router drops {f.get('netem', {}).get('drop_ppm', 0) / 1e4}% "
          f"and reorders {f.get('netem', {}).get('reorder_ppm', 0) / 1e4}% of one client's "
          f"segments), 10 KiB values: msg/s {f['ooo_msgs_per_s']}; kgate / none "
          f"{fmt(f['ooo_ratio_kgate_vs_none'])}, XDP pass / none "
          f"{fmt(f['ooo_ratio_xdp_pass_vs_none'])}; failed messages "
          f"{f['ooo_failed_messages']}; kgate out_of_order_drops per run "
          f"{fmt(f['ooo_kgate_out_of_order_drops'])}; client TCP per run "
          f"{f['ooo_client_tcp']}.\n")
        if f.get("ooo_ratio_tci_vs_xdp_pass"):
            w(f"At TC ingress (`--tc-ingress`): kgate / XDP pass "
              f"{fmt(f['ooo_ratio_tci_vs_xdp_pass']['value'])} (rounds "
              f"{f['ooo_ratio_tci_vs_xdp_pass']['rounds']}), out_of_order_drops per run "
              f"{fmt(f.get('ooo_kgate_tci_out_of_order_drops'))}.\n")
        if f.get("ooo_kgate_ahead"):
            w(f"Segments ahead, segments dropped while another of the connection's was being "
              f"decoded (TC ingress), resets, per run (median): {f['ooo_kgate_ahead']}.\n")
        if f.get("idle_connections"):
            w("Idle connections (more than the 32,768 an LRU flow table once held): "
              + "; ".join(
                f"{v}: {x['opened']:,} opened in {x['open_s']} s, oldest 100 probed "
                f"{x['oldest']}, newest 100 {x['newest']}, midstream {x['midstream']}"
                for v, x in f["idle_connections"].items()) + ".\n")
    a = res.get("audit")
    if a:
        w("## Audit pipeline\n")
        w("`kgate run` is stopped (SIGSTOP); the datapath fills its ring buffer through "
          "BPF_PROG_RUN (`bench/bpfrun.c events --close`: connections opening, sending a "
          "Produce of 10 allowed topics, every allow audited, and closing, so that the "
          "metrics scrapes that count the records do not walk a growing flow table); the agent "
          "continues and its records are counted from its metrics.\n")
        w(f"- ring buffer -> records: {fmt(a['ringbuf_events_per_s']['value'])} events per "
          f"agent CPU-second (wall clock {fmt(a['ringbuf_events_per_s']['wall_clock'])}/s)")
        w(f"- delivered to the mock: {fmt(a['kafka_events_per_s']['value'])}/s")
        w(f"- lost: {fmt(a['audit_lost']['value'])}; gap records {a.get('gap_records')}\n")
    if res.get("policy_apply_ms_10k"):
        p = res["policy_apply_ms_10k"]
        w("## Policy apply\n")
        w(f"10,000 rules: {fmt(p['value'])} ms (runs {p['runs_ms']}); the agent's own "
          f"report: write {fmt(p['write_us'])} µs, swap {fmt(p['swap_us'])} µs.\n")
    if res.get("datapath_ns"):
        w("## Datapath (BPF_PROG_RUN, ns per packet)\n")
        w("`bench/bench_datapath.c`; method in results.json `method`.\n")
        w("| case | steady | first request | cold |")
        w("|---|---|---|---|")
        first = res.get("datapath_ns_first_request", {})
        cold = res.get("datapath_ns_cold", {})
        for k, v in res["datapath_ns"].items():
            w(f"| {k} | {v} | {first.get(k, '')} | {cold.get(k, '')} |")
        w("")
    w("## Load during the run\n")
    w("| part | measured | loadavg before | loadavg after | seconds |")
    w("|---|---|---|---|---|")
    for part in ("datapath", "e2e", "storm", "l3", "flows", "audit", "policy"):
        lm = part_meta(res, part)
        ld = lm.get("load", {})
        if ld:
            w(f"| {part} | {lm.get('date', '')} | {ld.get('before')} | {ld.get('after')} | "
              f"{ld.get('seconds')} |")
    w("")
    with open(path, "w") as fh:
        fh.write("\n".join(L))


def cmd_report(a):
    try:
        with open(a.results) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = {}
    if "meta" not in res:
        # results.json of the datapath-only benchmark: its keys stay, as the datapath part
        res = {"meta": {}, **{k: v for k, v in res.items()}}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    for part in a.parts.split():
        with open(os.path.join(a.out, part + ".json")) as f:
            sec = json.load(f)
        meta = sec.pop("meta", {})
        meta.update(date=now, commit=commit, quick=a.quick == "1", rounds=int(a.rounds),
                    seconds=int(a.seconds))
        if part == "datapath":
            for k, v in sec.items():
                res[k] = v
            res["datapath_meta"] = meta
        elif part == "l3":
            key = sec.pop("key")
            res["l3_drop_ratio_xdp_vs_nftables"] = key
            res["l3"] = dict(sec, meta=meta)
        elif part == "policy":
            res["policy_apply_ms_10k"] = sec["policy_apply_ms_10k"]
            res["policy_meta"] = meta
        else:
            res[part] = dict(sec, meta=meta)
    # the last commit that changed what is measured (the tree's commit may be a bench change)
    code = subprocess.run(["git", "log", "-1", "--format=%h", "--", "agent", "bpf", "maps"],
                          capture_output=True, text=True).stdout.strip() or "unknown"
    res["meta"] = {"date": now, "commit": commit, "code_commit": code, "machine": machine(),
                   "quick": a.quick == "1",
                   "rounds": int(a.rounds), "seconds": int(a.seconds),
                   "last_run": {"parts": a.parts.split(), "elapsed_s": int(a.elapsed)}}
    res["targets"] = {k: {"value": (d or {}).get("value"), "target": "%s %s" % target(k),
                          "met": (d or {}).get("met")} for k, d in key_rows(res)}
    with open(a.results, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    write_md(res, a.md, a.png)
    write_png(res, a.png)
    for k, d in res["targets"].items():
        print(f"{k:36} {fmt(d['value']):>14}  {d['target']:>12}  "
              f"{ {True: 'met', False: 'NOT MET', None: 'n/a'}[d['met']]}")


# Each subcommand's positional arguments (name, or (name, type)) and options.
COMMANDS = {
    "policy": (["out"], {"--rules": int, "--audit": str, "--deny-produce": str,
                         "--audit-topics": int, "--version": str}),
    "record": (["file", ("kv", "*")], {}),
    "summarize": (["part", "runs", "outfile"], {}),
    "report": ([], {"--" + o: str for o in ("out", "results", "md", "png", "parts", "quick",
                                            "rounds", "seconds", "elapsed")}),
    "metric": (["url", "name"], {}),
    "wait-metric": (["url", "name", ("base", float), ("delta", float), ("timeout", float),
                     "ns"], {}),
    "cpu": (["pid"], {}), "schedstat": (["pid"], {}), "napi-pid": (["iface"], {}),
    "snmp": (["table", "field"], {}), "tcpstats": ([], {}), "get": (["json", "key"], {}),
    "le32": ([("n", int)], {}), "nft": (["variant", "iface"], {}),
}
DEFAULTS = {"--rules": 3, "--audit-topics": 0}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, (pos, opts) in COMMANDS.items():
        s = sub.add_parser(name)
        for p in pos:
            if isinstance(p, tuple) and p[1] == "*":
                s.add_argument(p[0], nargs="*")
            elif isinstance(p, tuple):
                s.add_argument(p[0], type=p[1])
            else:
                s.add_argument(p)
        for o, t in opts.items():
            s.add_argument(o, type=t, default=DEFAULTS.get(o),
                           required=name == "report" or o == "--version")
        if name == "policy":
            s.add_argument("--l3", action="store_true")
    a = ap.parse_args()
    globals()["cmd_" + a.cmd.replace("-", "_")](a)


if __name__ == "__main__":
    main()
