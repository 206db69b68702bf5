#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The nine end-to-end scenarios (s1-s9 below) against a running rig with kgate attached
(test_e2e.sh sets it up).

  scenarios.py ENVFILE KGATE POLICY_DIR [SCENARIO ...]

Every case runs a real client in a client namespace (tests/e2e/clients.py), checks what
the client reported, what the broker holds (read on the broker's loopback, behind
kgate), and the audit record of the decision (the agent's --audit-file, matched by the
case's own client.id). Prints a table: scenario, client, case, expected, observed,
result. Known gaps are XFAIL (listed, not counted as passes; an XPASS fails so
the marker is removed when the bug is fixed). Exit 1 on any FAIL or XPASS.
"""
import json
import os
import random
import string
import subprocess
import sys
import time

ENV = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("=")
    ENV[k] = v.strip("'").replace("\\ ", " ")
KGATE, POLICIES = sys.argv[2], sys.argv[3]
ONLY = set(sys.argv[4:])
HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients.py")
AUDIT = os.path.join(ENV["RIG_DIR"], "audit.jsonl")
B4 = "%s:%s" % (ENV["RIG_BROKER4"], ENV["RIG_PORT"])
B6 = "[%s]:%s" % (ENV["RIG_BROKER6"], ENV["RIG_PORT"])
LIBS = ["kcat", "confluent", "kpy", "raw"]

# Known gaps, listed as XFAIL (an XPASS fails, so a marker goes when its cause does).
# Metadata denial against the mock: kgate poisons the name ("eu.order!"), and the mock
# auto-creates even that (a real broker refuses it: '!' is not valid in a topic name, so
# it answers INVALID_TOPIC_EXCEPTION with no partitions, which kgate turns into
# TOPIC_AUTHORIZATION_FAILED). The mock's answer lists partitions under the restored
# name with error 29, and librdkafka 2.0.2 takes a topic with partitions as existing:
# the message fails with UNKNOWN_PARTITION instead. Nothing lands either way.
BUG_METADATA_PARTITIONS = "mock-auto-creates-poisoned-name"

rows = []


def ns(name):
    return "/run/netns/" + ENV[name]


def in_ns(nsname, argv, timeout=60, **kw):
    return subprocess.run(["nsenter", "--net=" + ns(nsname), "--"] + argv,
                          capture_output=True, text=True, timeout=timeout, **kw)


def client(nsname, lib, op, *args, timeout=8):
    boot = B4
    if nsname.endswith("6"):
        boot = B6 if lib == "raw" else "127.0.0.1:%s" % ENV["RIG_MOCK_PORT"]
    p = in_ns(nsname, ["/usr/bin/python3", CLIENTS, lib, op, "--bootstrap", boot,
                       "--timeout", str(timeout)] + list(args), timeout=timeout + 60)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": "NO_OUTPUT", "stderr": p.stderr[-300:]}


def broker_holds(topic, port=None, nsname="RIG_NS_BROKER"):
    """Values in partition 0 of topic, read on the broker host's loopback (not via kgate)."""
    p = in_ns(nsname, ["kcat", "-C", "-b", "127.0.0.1:%s" % (port or ENV["RIG_MOCK_PORT"]),
                       "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%s\n"],
              timeout=30)
    return p.stdout.splitlines()


def broker_topics(port=None):
    p = in_ns("RIG_NS_BROKER", ["kcat", "-L", "-b", "127.0.0.1:%s" % (port or ENV["RIG_MOCK_PORT"])],
              timeout=30)
    return [l.split('"')[1] for l in p.stdout.splitlines() if l.strip().startswith("topic ")]


def audit_find(cid, **want):
    """Audit records of client.id cid matching want (polls: the agent writes async)."""
    for _ in range(30):
        found = []
        try:
            for line in open(AUDIT):
                r = json.loads(line)
                if r.get("client_id") == cid and all(r.get(k) == v for k, v in want.items()):
                    found.append(r)
        except FileNotFoundError:
            pass
        if found:
            return found
        time.sleep(0.1)
    return []


def token(prefix):
    return prefix + "-" + "".join(random.choice(string.ascii_letters + string.digits)
                                  for _ in range(12)) + "-\u00e9\u00df"


def rec(sc, lib, case, expected, observed, xfail=None):
    ok = expected == observed
    if xfail:
        status = "XPASS" if ok else "XFAIL"
    else:
        status = "PASS" if ok else "FAIL"
    rows.append((sc, lib, case, str(expected), str(observed), status +
                 (" (%s)" % xfail if xfail and not ok else "")))


def first_err(res, i=0):
    try:
        return res["results"][i]["error"]
    except (KeyError, IndexError):
        return res.get("error", "NO_RESULT")


def audit_check(sc, lib, cid, topic, verdict, rule, **more):
    want = dict(topic=topic, verdict=verdict, rule=rule, policy_version=POLICY_VERSION, **more)
    # waits for the record itself: another of the client's (its Metadata's, on the same
    # topic) may be written before it
    obs = "ok" if audit_find(cid, **want) else "missing"
    if obs != "ok":
        near = audit_find(cid, topic=topic, verdict=verdict)
        if near:
            obs = {k: near[0].get(k) for k in want}
    rec(sc, lib, "audit %s %s" % (topic, verdict), "ok", obs)


POLICY_VERSION = "e2e-1"


def backend(port):
    """New connections to the broker address go to 127.0.0.1:port (mock or SASL front)."""
    subprocess.run(["bash", "-c", 'source "$1"; rig_load "$2"; rig_backend "$3"', "backend",
                    os.path.join(HERE, "..", "..", "scripts", "rig.sh"), sys.argv[1], port],
                   check=True)


def apply(policy):
    p = subprocess.run([KGATE, "policy", "apply", "--iface", ENV["RIG_BROKER_IF"],
                        os.path.join(POLICIES, policy)], capture_output=True, text=True)
    if p.returncode:
        print("policy apply %s: %s" % (policy, p.stderr), file=sys.stderr)
    return p.returncode == 0


# ---- 1. allowed produce, consumed back byte-identical ----------------------------------
def s1():
    for lib in LIBS:
        cid = "s1-" + lib
        v = token("s1-" + lib)
        r = client("RIG_NS_EU", lib, "produce", "--msg", "open.events=" + v, "--client-id", cid)
        rec(1, lib, "produce open.events from eu", None, first_err(r))
        clib = "kcat" if lib == "raw" else lib
        c = client("RIG_NS_EU", clib, "consume", "--topic", "open.events", "--count", "1000",
                   "--timeout", "6", "--client-id", cid)
        rec(1, lib, "consumed back byte-identical (%s)" % clib, True, v in c.get("records", []))
        rec(1, lib, "broker holds it", True, v in broker_holds("open.events"))
        audit_check(1, lib, cid, "open.events", "allow", "clients-in-regions",
                    api_name="Produce", region="eu", principal="ANONYMOUS")


# ---- 2. denied produce: TOPIC_AUTHORIZATION_FAILED, nothing lands, connection usable --
def s2():
    for lib in LIBS:
        cid = "s2-" + lib
        v, w = token("s2-deny-" + lib), token("s2-ok-" + lib)
        r = client("RIG_NS_EU", lib, "produce", "--msg", "secret.payroll=" + v,
                   "--msg", "open.events=" + w, "--client-id", cid)
        rec(2, lib, "produce secret.payroll", "TOPIC_AUTHORIZATION_FAILED", first_err(r))
        rec(2, lib, "then open.events on the same client", None, first_err(r, 1))
        if lib == "raw":
            rec(2, lib, "one TCP connection carried both", 1, r.get("connections"))
        if lib == "confluent":
            rec(2, lib, "no transport error (connection kept)", [], r.get("transport_errors"))
        rec(2, lib, "nothing landed in secret.payroll", False,
            v in broker_holds("secret.payroll"))
        rec(2, lib, "open.events landed", True, w in broker_holds("open.events"))
        audit_check(2, lib, cid, "secret.payroll", "reject", "no-produce-secret",
                    api_name="Produce", enforced=True)


# ---- 3. one request, an allowed and a denied topic -------------------------------------
def s3():
    # librdkafka 2.0.2 sends one ProduceRequest per partition: it cannot put two topics
    # in one request, so kcat and confluent_kafka have no case here.
    for lib in ["kpy", "raw"]:
        cid = "s3-" + lib
        a, b = token("s3-ok-" + lib), token("s3-deny-" + lib)
        r = client("RIG_NS_EU", lib, "batch", "--msg", "open.events=" + a,
                   "--msg", "secret.payroll=" + b, "--client-id", cid)
        errs = {x["topic"]: x["error"] for x in r.get("results", [])}
        rec(3, lib, "open.events in the mixed request", None, errs.get("open.events", "?"))
        rec(3, lib, "secret.payroll in the mixed request", "TOPIC_AUTHORIZATION_FAILED",
            errs.get("secret.payroll", "?"))
        rec(3, lib, "broker holds the allowed, not the denied", (True, False),
            (a in broker_holds("open.events"), b in broker_holds("secret.payroll")))
        # both decisions under one correlation id = one request
        ok = audit_find(cid, topic="open.events", verdict="allow", api_name="Produce")
        no = audit_find(cid, topic="secret.payroll", verdict="reject", api_name="Produce")
        same = bool({(r["src_port"], r["correlation_id"]) for r in ok} &
                    {(r["src_port"], r["correlation_id"]) for r in no})
        rec(3, lib, "audit: allow and reject in one request", True, same)


# ---- 4. denied consume, commit, create, delete -----------------------------------------
def s4():
    seed = token("s4-hidden")
    in_ns("RIG_NS_BROKER", ["kcat", "-P", "-b", "127.0.0.1:%s" % ENV["RIG_MOCK_PORT"], "-t",
                            "hidden.data", "-p", "0"], input=seed + "\n")
    for lib in ["kcat", "confluent", "kpy"]:
        cid = "s4-c-" + lib
        r = client("RIG_NS_EU", lib, "consume", "--topic", "hidden.data", "--client-id", cid,
                   "--timeout", "6")
        rec(4, lib, "consume hidden.data", "TOPIC_AUTHORIZATION_FAILED", r.get("error"))
        rec(4, lib, "no record delivered", False, seed in r.get("records", []))
        audit_check(4, lib, cid, "hidden.data", "reject", "no-consume-hidden")
    for lib in ["confluent", "kpy", "raw"]:
        cid = "s4-o-" + lib
        r = client("RIG_NS_EU", lib, "commit", "--topic", "hidden.data", "--group", "g-" + lib,
                   "--offset", "1", "--client-id", cid, "--timeout", "5")
        rec(4, lib, "commit offset of hidden.data", "TOPIC_AUTHORIZATION_FAILED",
            r.get("error"))
        audit_check(4, lib, cid, "hidden.data", "reject", "no-consume-hidden",
                    api_name="OffsetCommit")
        r = client("RIG_NS_EU", lib, "commit", "--topic", "open.events", "--group", "g-" + lib,
                   "--offset", "1", "--client-id", cid + "-ok", "--timeout", "5")
        rec(4, lib, "commit offset of open.events", None, r.get("error"))
    # admin: the mock has none; the SASL front answers CreateTopics/DeleteTopics (--admin)
    backend(ENV["RIG_FRONT_PORT"])
    try:
        for nsname in ["RIG_NS_EU", "RIG_NS_US6"]:
            cid = "s4-a-" + nsname[-3:].lower()
            for op in ["create", "delete"]:
                r = client(nsname, "raw", op, "--topic", "locked.%s" % op, "--topic",
                           "scratch.%s" % op, "--client-id", cid)
                errs = {x["topic"]: x["error"] for x in r.get("results", [])}
                rec(4, "raw", "%s locked.%s from %s" % (op, op, ENV[nsname][-3:]),
                    "CLUSTER_AUTHORIZATION_FAILED", errs.get("locked.%s" % op, "?"))
                rec(4, "raw", "%s scratch.%s from %s" % (op, op, ENV[nsname][-3:]), None,
                    errs.get("scratch.%s" % op, "?"))
                audit_check(4, "raw", cid, "locked.%s" % op, "reject", "no-admin-locked",
                            operation="admin")
        topics = broker_topics()
        rec(4, "raw", "broker: scratch.create created, locked.create not", (True, False),
            ("scratch.create" in topics, "locked.create" in topics))
    finally:
        backend(ENV["RIG_MOCK_PORT"])


# ---- 5. residency: eu.orders from eu (IPv4, IPv6) allowed, from us rejected ------------
def s5():
    for nsname, region, allowed in [("RIG_NS_EU", "eu", True), ("RIG_NS_EU6", "eu", True),
                                    ("RIG_NS_US", "us", False), ("RIG_NS_US6", "us", False)]:
        where = ENV[nsname].rsplit("-", 1)[1]
        for lib in LIBS:
            cid = "s5-%s-%s" % (where, lib)
            v = token("s5-%s-%s" % (where, lib))
            r = client(nsname, lib, "produce", "--msg", "eu.orders=" + v, "--client-id", cid)
            xf = BUG_METADATA_PARTITIONS if not allowed and lib in ("kcat", "confluent") else None
            rec(5, lib, "produce eu.orders from %s" % where,
                None if allowed else "TOPIC_AUTHORIZATION_FAILED", first_err(r), xfail=xf)
            rec(5, lib, "broker holds it from %s" % where, allowed,
                v in broker_holds("eu.orders"))
            if allowed:
                audit_check(5, lib, cid, "eu.orders", "allow", "clients-in-regions",
                            region=region, family=6 if where.endswith("6") else 4)
            else:
                audit_check(5, lib, cid, "eu.orders", "reject", "eu-data-stays-in-eu",
                            region=region, family=6 if where.endswith("6") else 4)


# ---- 6. principals: identity CIDR, SASL user names, client.id ---------------------------
def s6():
    for lib in ["kcat", "confluent", "kpy"]:
        for nsname, ok in [("RIG_NS_EU2", True), ("RIG_NS_EU", False)]:
            cid = "s6-id-%s-%s" % (lib, nsname[-3:].lower())
            r = client(nsname, lib, "produce", "--msg", "contracts.orders=" + token("s6"),
                       "--client-id", cid)
            rec(6, lib, "contracts.orders from %s (%s)" % (
                ENV[nsname].rsplit("-", 1)[1], "orders-svc" if ok else "ANONYMOUS"),
                None if ok else "TOPIC_AUTHORIZATION_FAILED", first_err(r))
        audit_check(6, lib, "s6-id-%s-eu2" % lib, "contracts.orders", "allow",
                    "orders-contract-writers", principal="orders-svc",
                    principal_source="identity")
        for cid_name, ok in [("batch-loader", False), ("web-" + lib, True)]:
            r = client("RIG_NS_EU", lib, "produce", "--msg", "reports.daily=" + token("s6c"),
                       "--client-id", cid_name)
            rec(6, lib, "reports.daily as client.id %s" % cid_name,
                None if ok else "TOPIC_AUTHORIZATION_FAILED", first_err(r))
    # SASL through the test-only front
    backend(ENV["RIG_FRONT_PORT"])
    try:
        for lib in ["kcat", "confluent", "kpy"]:
            for mech in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]:
                for user, pw, want in [("alice", "alice-secret", None),
                                       ("bob", "bob-secret", "TOPIC_AUTHORIZATION_FAILED")]:
                    cid = "s6-sasl-%s-%s-%s" % (lib, mech, user)
                    r = client("RIG_NS_EU", lib, "produce", "--msg",
                               "contracts.orders=" + token("s6s"), "--client-id", cid,
                               "--sasl", "%s:%s:%s" % (mech, user, pw))
                    rec(6, lib, "%s %s produce contracts.orders" % (mech, user), want,
                        first_err(r))
                    recs = audit_find(cid, topic="contracts.orders", api_name="Produce")
                    rec(6, lib, "%s %s: audit principal (sasl)" % (mech, user), (user, "sasl"),
                        (recs[0].get("principal"), recs[0].get("principal_source"))
                        if recs else "missing")
            # a wrong password: refused by the broker, so never bound
            cid = "s6-bad-" + lib
            r = client("RIG_NS_EU", lib, "produce", "--msg", "open.events=" + token("s6b"),
                       "--client-id", cid, "--sasl", "PLAIN:alice:wrong", "--timeout", "4")
            rec(6, lib, "wrong password: produce fails", True, first_err(r) is not None)
            bound = [x for x in audit_find(cid) if x.get("principal") == "alice"]
            rec(6, lib, "wrong password: alice never bound", 0, len(bound))
    finally:
        backend(ENV["RIG_MOCK_PORT"])


# ---- 7. reset, drop, redirect ------------------------------------------------------------
def s7():
    r = client("RIG_NS_EU", "raw", "produce", "--msg", "trap.reset=x", "--client-id",
               "s7-reset", "--timeout", "4")
    rec(7, "raw", "produce trap.reset (action reset)", "CONNECTION_RESET", first_err(r))
    r = client("RIG_NS_EU", "raw", "produce", "--msg", "trap.drop=x", "--client-id",
               "s7-drop", "--timeout", "3")
    rec(7, "raw", "produce trap.drop (action drop)", "TIMEOUT", first_err(r))
    audit_check(7, "raw", "s7-reset", "trap.reset", "reset", "trap-reset")
    audit_check(7, "raw", "s7-drop", "trap.drop", "drop", "trap-drop")
    for lib in ["kcat", "kpy", "raw"]:
        v = token("s7-q-" + lib)
        r = client("RIG_NS_QZ", lib, "produce", "--msg", "open.events=" + v, "--client-id",
                   "s7-q-" + lib)
        rec(7, lib, "produce from the quarantined region", None, first_err(r))
        rec(7, lib, "landed on the quarantine broker", True,
            v in broker_holds("open.events", ENV["RIG_QMOCK_PORT"], "RIG_NS_QUAR"))
        rec(7, lib, "never on the real broker", False, v in broker_holds("open.events"))


# ---- 8. monitor mode ------------------------------------------------------------------------
def s8():
    global POLICY_VERSION
    if not apply("e2e-monitor.yaml"):
        rec(8, "-", "apply the monitor policy", True, False)
        return
    POLICY_VERSION = "e2e-1-monitor"
    try:
        for lib in ["kcat", "confluent", "kpy", "raw"]:
            cid = "s8-" + lib
            v = token("s8-" + lib)
            r = client("RIG_NS_EU", lib, "produce", "--msg", "secret.payroll=" + v,
                       "--client-id", cid)
            rec(8, lib, "produce secret.payroll (monitor)", None, first_err(r))
            rec(8, lib, "broker holds it", True, v in broker_holds("secret.payroll"))
            audit_check(8, lib, cid, "secret.payroll", "reject", "no-produce-secret",
                        enforced=False)
    finally:
        POLICY_VERSION = "e2e-1"
        apply("e2e.yaml")


# ---- 9. revocation within 1 s --------------------------------------------------------------
def s9():
    feeder = subprocess.Popen(
        ["nsenter", "--net=" + ns("RIG_NS_BROKER"), "--", "/usr/bin/python3", "-c",
         "import time, confluent_kafka as c, sys\n"
         "p = c.Producer({'bootstrap.servers': sys.argv[1], 'linger.ms': 0})\n"
         "end = time.time() + 9\n"
         "while time.time() < end:\n"
         "    p.produce('revoke.feed', str(time.time()).encode(), partition=0); p.poll(0)\n"
         "    time.sleep(0.05)\n"
         "p.flush(5)\n", "127.0.0.1:%s" % ENV["RIG_MOCK_PORT"]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reader = subprocess.Popen(
        ["nsenter", "--net=" + ns("RIG_NS_EU"), "--", "/usr/bin/python3", "-c",
         "import time, confluent_kafka as c, sys\n"
         "k = c.Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 's9',\n"
         "                'client.id': 's9-reader', 'enable.auto.commit': False})\n"
         "k.assign([c.TopicPartition('revoke.feed', 0, c.OFFSET_END)])\n"
         "end = time.time() + 8\n"
         "while time.time() < end:\n"
         "    m = k.poll(0.1)\n"
         "    if m is not None and not m.error():\n"
         "        print('rec', time.time(), flush=True)\n"
         "    elif m is not None:\n"
         "        print('err', time.time(), m.error().name(), flush=True)\n", B4],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(3.5)
    t_apply = time.time()
    applied = apply("e2e-revoke.yaml")
    t_done = time.time()
    out, _ = reader.communicate(timeout=30)
    feeder.wait(timeout=30)
    apply("e2e.yaml")
    recs = [float(l.split()[1]) for l in out.splitlines() if l.startswith("rec")]
    errs = sorted({l.split()[2] for l in out.splitlines() if l.startswith("err")})
    before = [t for t in recs if t < t_apply]
    after = [t for t in recs if t > t_done + 1.0]
    rec(9, "confluent", "consumer received before the revocation", True, len(before) > 0)
    rec(9, "confluent", "policy apply", True, applied)
    last = max(recs) if recs else 0
    rec(9, "confluent", "stopped within 1 s of the apply", True, last <= t_done + 1.0,)
    rec(9, "confluent", "records later than apply+1s", 0, len(after))
    rec(9, "confluent", "client saw TOPIC_AUTHORIZATION_FAILED", True,
        "TOPIC_AUTHORIZATION_FAILED" in errs)


SCEN = {"1": s1, "2": s2, "3": s3, "4": s4, "5": s5, "6": s6, "7": s7, "8": s8, "9": s9}


def main():
    t0 = time.time()
    for k, fn in SCEN.items():
        if ONLY and k not in ONLY:
            continue
        t = time.time()
        try:
            fn()
        except Exception as e:  # a broken scenario is a failure, not a crash of the table
            rows.append((int(k), "-", "scenario raised", "-", repr(e)[:80], "FAIL"))
        print("scenario %s: %.1f s" % (k, time.time() - t), file=sys.stderr)
    w = [max(len(str(r[i])) for r in rows + [("sc", "client", "case", "expected",
                                                   "observed", "result")])
         for i in range(6)]
    w = [min(x, 60) for x in w]
    fmt = "  ".join("%%-%ds" % x for x in w)
    print(fmt % ("sc", "client", "case", "expected", "observed", "result"))
    for r in rows:
        print(fmt % tuple(str(x)[:60] for x in r))
    n = {s: sum(1 for r in rows if r[5].startswith(s)) for s in ["PASS", "FAIL", "XFAIL",
                                                                  "XPASS"]}
    print("e2e: %d passed, %d failed, %d xfail (known gaps), %d xpass; %.0f s" %
          (n["PASS"], n["FAIL"], n["XFAIL"], n["XPASS"], time.time() - t0))
    return 1 if n["FAIL"] or n["XPASS"] else 0


if __name__ == "__main__":
    sys.exit(main())
