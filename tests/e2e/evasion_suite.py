#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The evasion suite: crafted TCP sessions (scapy) from a client namespace
to the broker address through kgate; driven by tests/e2e/test_evasion.sh.

  evasion_suite.py record --dir DIR --backend HOST:PORT
        (broker namespace) a recording relay in front of the mock: every accepted
        connection's client->broker bytes, exactly as the broker host's TCP delivered
        them, go to DIR/<client port>.bin; DIR/<client port>.end says how the
        connection ended (eof, reset, error). Prints "LISTENING 127.0.0.1:PORT".
  evasion_suite.py run ENVFILE KGATE RECDIR AUDITFILE IFACE PORTBASE [CASE ...]
        (client namespace "us") the cases; prints the table; exit 1 on any BYPASS/FAIL.

The verdict that counts is the policy's (tests/e2e/policies/evasion.yaml) for what the
broker received: the recorded stream is decoded with `kgate decode -o json`. A denied
topic whose name reached the broker intact is a BYPASS; a rejected one arrives
poisoned (its last byte '!'); a reset or dropped one does not arrive at all. The
client-visible outcome (Kafka error code, RST, silence) and the audit records
(--audit-file, matched by the client port) are checked too.

Cases 1-9 are the classic stream-reassembly evasions (splits, reordering, overlaps, bad
checksums, pipelining, fragments...); 10-12 go after the datapath's own TCP bookkeeping:
control segments the broker ignores (a bad-checksum RST, an in-window SYN that only draws
a challenge ACK) and urgent data, the broker's TCP and a stream reader disagreeing on
where frames start. 13 sends segments ahead of the next expected byte at and around the
edges of a skip region (the rest of a long client id, skipped by length): one that starts
inside it is decoded from there (the bytes before it are never read); one past it must
not pass, or the broker's TCP would take bytes kgate reads from an early copy kgate never
decoded. 14 sends a probe segment (far past a gap that holds bytes to read: passed
undecided, checked when the stream reaches it): holding a request, the stream reaching it
must end the connection. EVASION_DEBUG=1 prints every broker->client segment.
"""
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

ALLOWED = "open.events"   # allowed from us
DENIED = "open.secret"    # reject (same length as ALLOWED)
RESIDENT = "eu.orders"    # reject from us (residency)
TRAP = "trap.reset"       # reset
TOPIC_AUTHORIZATION_FAILED = 29


# ---- the recording relay (broker namespace) -------------------------------------------
def record_main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="evasion_suite.py record")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--backend", required=True)
    a = ap.parse_args(argv)
    host, _, port = a.backend.rpartition(":")
    os.makedirs(a.dir, exist_ok=True)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print("LISTENING 127.0.0.1:%d" % ls.getsockname()[1], flush=True)

    def serve(c, peer):
        base = os.path.join(a.dir, str(peer[1]))
        try:
            up = socket.create_connection((host, int(port)), timeout=5)
            up.settimeout(None)
        except OSError as e:
            open(base + ".end", "w").write("error backend %s\n" % e)
            c.close()
            return

        def back():
            try:
                while True:
                    d = up.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
        threading.Thread(target=back, daemon=True).start()
        how = "eof"
        with open(base + ".bin", "ab") as f:
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    f.write(d)
                    f.flush()
                    up.sendall(d)
            except ConnectionResetError:
                how = "reset"
            except OSError as e:
                how = "error %s" % e
        open(base + ".end", "w").write(how + "\n")
        for s in (up, c):
            try:
                s.close()
            except OSError:
                pass

    while True:
        c, peer = ls.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()


# ---- Kafka bytes ---------------------------------------------------------------------
def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def metadata(corr, topics, cid):
    """Metadata v1 request frame naming topics."""
    m = struct.pack(">hhi", 3, 1, corr) + kstr(cid) + struct.pack(">i", len(topics)) + \
        b"".join(kstr(t) for t in topics)
    return struct.pack(">i", len(m)) + m


def parse_metadata_v1(b):
    """Response frame body (after the size) -> (corr, {topic: error code})."""
    o = 0

    def i16():
        nonlocal o
        v = struct.unpack_from(">h", b, o)[0]
        o += 2
        return v

    def i32():
        nonlocal o
        v = struct.unpack_from(">i", b, o)[0]
        o += 4
        return v

    def s():
        nonlocal o
        n = i16()
        if n < 0:
            return None
        v = b[o:o + n].decode(errors="replace")
        o += n
        return v
    corr = i32()
    for _ in range(i32()):
        i32(), s(), i32(), s()
    i32()
    out = {}
    for _ in range(i32()):
        err, name = i16(), s()
        o += 1
        for _ in range(i32()):
            i16(), i32(), i32()
            for _ in range(2):  # replicas, isr
                n = i32()
                o += 4 * n
        out[name] = err
    return corr, out


def tls_client_hello():
    body = b"\x03\x03" + bytes(random.getrandbits(8) for _ in range(32)) + b"\x00" + \
        b"\x00\x04\x13\x01\x13\x02" + b"\x01\x00" + b"\x00\x00"
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


# ---- crafted sessions (client namespace) -------------------------------------------------
class Net:
    def __init__(self, env, iface):
        from scapy.all import conf, AsyncSniffer
        conf.verb = 0
        self.env = env
        self.src = "10.20.0.2"
        self.dst = env["RIG_BROKER4"]
        self.dport = int(env["RIG_PORT"])
        self.sessions = {}
        self.lock = threading.Lock()
        self.sock = conf.L3socket(iface=iface)
        self.sniffer = AsyncSniffer(iface=iface, store=False, prn=self._rx,
                                    filter="tcp and src host %s and src port %d" %
                                    (self.dst, self.dport))
        self.sniffer.start()
        time.sleep(0.5)

    def _rx(self, p):
        from scapy.all import TCP
        if TCP in p:
            s = self.sessions.get(p[TCP].dport)
            if s:
                s.rx(p[TCP])

    def send(self, pkts):
        with self.lock:
            for p in pkts:
                self.sock.send(p)

    def close(self):
        self.sniffer.stop()
        self.sock.close()


class Session:
    def __init__(self, net, sport):
        self.net, self.sport = net, sport
        self.isn = random.getrandbits(31)
        self.peer_isn = None
        self.acked = 0          # stream offset the broker acknowledged
        self.data = {}          # broker->client: stream offset -> bytes
        self.rst = False
        self.closed = False     # what arrives after our own RST is not the case's outcome
        self.ev = threading.Event()
        net.sessions[sport] = self

    def rx(self, t):
        if self.closed:
            return
        fl = str(t.flags)
        if os.environ.get("EVASION_DEBUG"):
            print("  rx %d: %s seq=%d ack=%d len=%d" % (self.sport, fl, t.seq, t.ack,
                                                       len(bytes(t.payload))), file=sys.stderr)
        if "R" in fl:
            self.rst = True
        if "S" in fl and "A" in fl:
            self.peer_isn = t.seq
        if "A" in fl:
            a = (t.ack - self.isn - 1) % (1 << 32)
            if a < (1 << 31):
                self.acked = max(self.acked, a)
        pl = bytes(t.payload)
        if pl and self.peer_isn is not None:
            off = (t.seq - self.peer_isn - 1) % (1 << 32)
            self.data[off] = pl
            self.ack_data()
        self.ev.set()

    def rcvd(self):
        out = b""
        while len(out) in self.data:
            out += self.data[len(out)]
        return out

    def ack_data(self):
        from scapy.all import IP, TCP
        if self.peer_isn is None:
            return
        n = len(self.rcvd())
        self.net.send([IP(src=self.net.src, dst=self.net.dst) /
                       TCP(sport=self.sport, dport=self.net.dport, flags="A",
                           seq=(self.isn + 1 + self.acked) % (1 << 32),
                           ack=(self.peer_isn + 1 + n) % (1 << 32), window=65535)])

    def connect(self):
        from scapy.all import IP, TCP
        syn = IP(src=self.net.src, dst=self.net.dst) / \
            TCP(sport=self.sport, dport=self.net.dport, flags="S", seq=self.isn,
                window=65535, options=[("MSS", 1460)])
        for _ in range(3):
            self.net.send([syn])
            for _ in range(20):
                if self.peer_isn is not None:
                    break
                time.sleep(0.05)
            if self.peer_isn is not None:
                break
        if self.peer_isn is None:
            raise RuntimeError("port %d: no SYN-ACK" % self.sport)
        self.ack_data()

    def seg(self, off, data, bad_csum=False):
        from scapy.all import IP, TCP, Raw
        p = IP(src=self.net.src, dst=self.net.dst) / \
            TCP(sport=self.sport, dport=self.net.dport, flags="PA",
                seq=(self.isn + 1 + off) % (1 << 32),
                ack=(self.peer_isn + 1 + len(self.rcvd())) % (1 << 32), window=65535) / \
            Raw(data)
        if bad_csum:
            p = IP(bytes(p))
            p[TCP].chksum ^= 0x5a5a
        return p

    def wait_acked(self, n, t=1.5):
        end = time.time() + t
        while self.acked < n and time.time() < end and not self.rst:
            time.sleep(0.02)
        return self.acked >= n

    def responses(self):
        b, out = self.rcvd(), {}
        while len(b) >= 4:
            n = struct.unpack_from(">i", b)[0]
            if len(b) < 4 + n:
                break
            try:
                corr, topics = parse_metadata_v1(b[4:4 + n])
                out[corr] = topics
            except struct.error:
                out[-1] = {"<unparsed>": -1}
            b = b[4 + n:]
        return out

    def finish(self, stream, want, timeout=3.0):
        """Behaves as the sender's TCP would from here: retransmits what the broker has
        not acknowledged of stream (in order, MSS-sized) until it has all of it and every
        correlation id in want is answered, a RST arrives, or timeout."""
        end = time.time() + timeout
        last = 0.0
        while time.time() < end and not self.rst:
            if self.acked >= len(stream) and all(c in self.responses() for c in want):
                break
            if self.acked < len(stream) and time.time() - last > 0.4:
                last = time.time()
                o = self.acked
                pk = []
                while o < len(stream):
                    pk.append(self.seg(o, stream[o:o + 1000]))
                    o += 1000
                self.net.send(pk)
            time.sleep(0.03)

    def close(self):
        """A RST at the broker's next expected byte: frees the broker's socket."""
        from scapy.all import IP, TCP
        self.closed = True
        if self.peer_isn is not None and not self.rst:
            self.net.send([IP(src=self.net.src, dst=self.net.dst) /
                           TCP(sport=self.sport, dport=self.net.dport, flags="R",
                               seq=(self.isn + 1 + self.acked) % (1 << 32))])


# ---- observation -------------------------------------------------------------------------
class Ctx:
    def __init__(self, env, kgate, recdir, audit, net, portbase):
        self.env, self.kgate, self.recdir, self.audit, self.net = env, kgate, recdir, audit, net
        self.port = portbase

    def session(self):
        self.port += 1
        s = Session(self.net, self.port)
        s.connect()
        return s


def broker_view(ctx, sport):
    """What the broker received on the connection from sport: (bytes, how it ended,
    decoded topic names, decode error reason or None)."""
    base = os.path.join(ctx.recdir, str(sport))
    for _ in range(20):  # the relay writes the end marker when the socket closes
        if os.path.exists(base + ".end"):
            break
        time.sleep(0.05)
    try:
        data = open(base + ".bin", "rb").read()
    except FileNotFoundError:
        data = b""
    try:
        end = open(base + ".end").read().strip()
    except FileNotFoundError:
        end = "open" if os.path.exists(base + ".bin") else "none"
    topics, err = [], None
    if data:
        p = subprocess.run([ctx.kgate, "decode", "-o", "json", "-"], input=data,
                           capture_output=True, timeout=10)
        try:
            events = json.loads(p.stdout)  # one document: an array of events
        except ValueError:
            events = [{"event": "error", "reason": "kgate decode printed no JSON document"}]
        for e in events:
            if e.get("event") == "topic":
                topics.append(e.get("topic"))
            elif "reason" in e:
                err = e.get("reason")
    return data, end, topics, err


def audit_recs(ctx, sport):
    def has_port(o):
        if isinstance(o, dict):
            return any((k in ("src_port", "client_port", "sport") and v == sport) or has_port(v)
                       for k, v in o.items())
        if isinstance(o, list):
            return any(has_port(v) for v in o)
        return False
    out = []
    try:
        for line in open(ctx.audit):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if has_port(r):
                out.append(r)
    except FileNotFoundError:
        pass
    return out


def audit_wait(ctx, sport, pred, t=3.0):
    end = time.time() + t
    while True:
        recs = audit_recs(ctx, sport)
        if any(pred(r) for r in recs) or time.time() > end:
            return recs
        time.sleep(0.1)


def poisoned(name):
    return name[:-1] + "!"


def topic_state(topics, name):
    if name in topics:
        return "intact"
    if poisoned(name) in topics:
        return "poisoned"
    return "absent"


# ---- the cases -------------------------------------------------------------------------------
# Each returns (expected, observed, verdict).
def judge(ctx, s, want_topics, forbidden, client_ok, client_desc, audit_pred=None,
          audit_desc="", extra=None, extra_desc=""):
    """want_topics: {name: set of acceptable states at the broker}; forbidden: names that
    must never reach the broker intact (a BYPASS); client_ok(responses, rst) -> bool."""
    s.close()
    time.sleep(0.2)
    data, end, topics, derr = broker_view(ctx, s.sport)
    resp, rst = s.responses(), s.rst
    states = {n: topic_state(topics, n) for n in want_topics}
    bypass = [n for n in forbidden if n in topics]
    fails = []
    for n, ok in want_topics.items():
        if states[n] not in ok:
            fails.append("%s %s" % (n, states[n]))
    if extra:
        bypass += extra(data)[0]
        fails += extra(data)[1]
    if not client_ok(resp, rst):
        fails.append("client")
    recs = []
    if audit_pred:
        recs = audit_wait(ctx, s.sport, audit_pred)
        if not any(audit_pred(r) for r in recs):
            fails.append("audit")
    exp = ", ".join("%s %s" % (n, "/".join(sorted(v))) for n, v in want_topics.items())
    if extra:
        exp = ", ".join(x for x in (exp, extra_desc) if x)
    exp += "; client " + client_desc + (("; audit " + audit_desc) if audit_desc else "")
    cl = []
    for c in sorted(resp):
        cl.append("c%d{%s}" % (c, ",".join("%s:%s" % kv for kv in sorted(resp[c].items()))))
    if rst:
        cl.append("RST")
    if not cl:
        cl.append("nothing")
    obs = "broker %dB %s [%s]%s; client %s" % (
        len(data), end, ",".join(topics) or "-", (" (%s)" % derr) if derr else "", " ".join(cl))
    if audit_pred:
        obs += "; audit %s" % (",".join(sorted({"%s:%s" % (r.get("verdict"), r.get("topic") or
                                                 r.get("reason") or "")
                                                 for r in recs})) or "none")
    if fails:
        obs += "  <" + "; ".join(fails) + ">"
    return exp, obs, ("BYPASS" if bypass else "FAIL" if fails else "ok")


def errs_are(want):
    """client_ok: every correlation id in want answered with exactly those error codes."""
    def f(resp, rst):
        return all(resp.get(c) == t for c, t in want.items())
    return f


def none_or(want):
    """client_ok: nothing (the request never reached the broker) or exactly want."""
    def f(resp, rst):
        return not resp or all(resp.get(c) == t for c, t in want.items())
    return f


def reset_like(resp, rst):
    """client_ok for a reset: no answer, and the client's next segment met a RST."""
    return not resp and rst


def answered_then_reset(want):
    def f(resp, rst):
        return rst and all(resp.get(c) == t for c, t in want.items())
    return f


def aud(topic, verdict):
    return lambda r: r.get("topic") == topic and r.get("verdict") == verdict


def aud_undecodable(r):
    return bool(r.get("reason")) and r.get("verdict") in ("reset", "undecodable")


CID = "evasion"
A = metadata(1, [ALLOWED], CID)
B = metadata(1, [DENIED], CID)
assert len(A) == len(B)
NAME_OFF = A.index(ALLOWED.encode())
AB = metadata(1, [ALLOWED, DENIED], CID)
OK_AB = {1: {ALLOWED: 0, DENIED: TOPIC_AUTHORIZATION_FAILED}}
ST_AB = {ALLOWED: {"intact"}, DENIED: {"poisoned"}}
CL_AB = "c1{%s:0,%s:29}" % (ALLOWED, DENIED)


def c1_header_bytes(ctx):
    s = ctx.session()
    hdr_end = 4 + 8 + 2 + len(CID)
    segs = [s.seg(i, AB[i:i + 1]) for i in range(hdr_end)] + [s.seg(hdr_end, AB[hdr_end:])]
    ctx.net.send(segs)
    s.finish(AB, [1])
    return judge(ctx, s, ST_AB, [DENIED], errs_are(OK_AB), CL_AB, aud(DENIED, "reject"), "reject")


def c2_name_split(at):
    def run(ctx):
        req = metadata(1, [RESIDENT], CID)
        o = req.index(RESIDENT.encode()) + at
        s = ctx.session()
        ctx.net.send([s.seg(0, req[:o])])
        time.sleep(0.05)
        ctx.net.send([s.seg(o, req[o:])])
        s.finish(req, [1])
        return judge(ctx, s, {RESIDENT: {"poisoned"}}, [RESIDENT],
                     errs_are({1: {RESIDENT: 29}}), "c1{%s:29}" % RESIDENT,
                     aud(RESIDENT, "reject"), "reject")
    return run


def c3_out_of_order(ctx):
    s = ctx.session()
    cuts = [0, 7, NAME_OFF + 3, len(AB) - 6, len(AB)]
    segs = [s.seg(cuts[i], AB[cuts[i]:cuts[i + 1]]) for i in range(len(cuts) - 1)]
    ctx.net.send(list(reversed(segs)))
    time.sleep(0.05)
    ctx.net.send([segs[2], segs[0], segs[3], segs[1]])
    s.finish(AB, [1])
    return judge(ctx, s, ST_AB, [DENIED], errs_are(OK_AB), CL_AB, aud(DENIED, "reject"), "reject")


def c4_overlap(first, second, part=None):
    """first is sent and acknowledged; then second at the same sequence number (or, with
    part=(n, o): first[:n] acknowledged, then second[o:] at offset o)."""
    def run(ctx):
        s = ctx.session()
        n, o = part if part else (len(first), 0)
        ctx.net.send([s.seg(0, first[:n])])
        s.wait_acked(n)
        ctx.net.send([s.seg(o, second[o:])])
        time.sleep(0.1)
        if part:  # the broker holds first[:n] + second[n:]
            got, name = second, DENIED if second is B else ALLOWED
        else:     # a receiving TCP keeps the first copy
            got, name = first, DENIED if first is B else ALLOWED
        s.finish(got, [1])
        other = ALLOWED if name == DENIED else DENIED
        if name == DENIED:
            want = {DENIED: {"poisoned"}, ALLOWED: {"absent"}}
            cl, desc, ap = errs_are({1: {DENIED: 29}}), "c1{%s:29}" % DENIED, aud(DENIED, "reject")
        else:
            want = {ALLOWED: {"intact"}, DENIED: {"absent"}}
            cl, desc, ap = errs_are({1: {ALLOWED: 0}}), "c1{%s:0}" % ALLOWED, None
        del other
        return judge(ctx, s, want, [DENIED], cl, desc, ap, "reject" if ap else "")
    return run


def c5_bad_checksum(bad, good):
    def run(ctx):
        s = ctx.session()
        ctx.net.send([s.seg(0, bad, bad_csum=True)])
        time.sleep(0.1)
        ctx.net.send([s.seg(0, good)])
        s.finish(good, [1], timeout=2.5)
        if good is B:  # the broker may only ever hold the denied name poisoned, or nothing
            return judge(ctx, s, {DENIED: {"poisoned", "absent"}, ALLOWED: {"absent"}},
                         [DENIED], none_or({1: {DENIED: 29}}), "c1{%s:29} or nothing" % DENIED)
        return judge(ctx, s, {ALLOWED: {"intact", "absent"}, DENIED: {"absent"}}, [DENIED],
                     none_or({1: {ALLOWED: 0}}), "c1{%s:0} or nothing" % ALLOWED)
    return run


def c6_pipelined(last, verdict):
    def run(ctx):
        reqs = metadata(1, [ALLOWED], CID) + metadata(2, [ALLOWED], CID) + metadata(3, [last], CID)
        s = ctx.session()
        ctx.net.send([s.seg(0, reqs)])
        if verdict == "reject":
            s.finish(reqs, [1, 2, 3])
            return judge(ctx, s, {ALLOWED: {"intact"}, last: {"poisoned"}}, [last],
                         errs_are({1: {ALLOWED: 0}, 2: {ALLOWED: 0}, 3: {last: 29}}),
                         "c1{%s:0} c2{..:0} c3{%s:29}" % (ALLOWED, last), aud(last, "reject"),
                         "reject")
        s.finish(reqs, [1, 2, 3], timeout=2.0)
        return judge(ctx, s, {last: {"absent"}}, [last], reset_like, "RST",
                     aud(last, "reset"), "reset")
    return run


def c7_fragments(ctx):
    from scapy.all import fragment
    s = ctx.session()
    frags = fragment(s.seg(0, B), fragsize=8)
    ctx.net.send(frags)
    time.sleep(0.4)
    ctx.net.send(frags)  # the sender's retransmission, fragmented again
    time.sleep(0.4)
    during = len(broker_view(ctx, s.sport)[0])
    s.finish(B, [1])  # then unfragmented
    exp, obs, v = judge(ctx, s, {DENIED: {"poisoned", "absent"}}, [DENIED],
                        none_or({1: {DENIED: 29}}), "c1{%s:29} or nothing" % DENIED)
    obs = "fragments: broker %dB; then %s" % (during, obs)
    return "fragments: broker 0B; " + exp, obs, v if during == 0 or v != "ok" else "FAIL"


def c8_tls(ctx):
    s = ctx.session()
    hello = tls_client_hello()
    ctx.net.send([s.seg(0, hello)])
    s.finish(hello, [], timeout=1.5)

    def extra(data):
        return (["tls bytes"] if data else []), []
    return judge(ctx, s, {}, [], reset_like, "RST", aud_undecodable,
                 "undecodable (reset)", extra=extra, extra_desc="broker 0B")


GARBAGE = b"\xde\xad\xbe\xef" + bytes(range(1, 29))
UNKNOWN_API = struct.pack(">ihhi", 10, 0x7f00, 0, 9) + b"\xff\xff"


def c9_garbage(junk, same_segment):
    def run(ctx):
        s = ctx.session()
        if same_segment:
            ctx.net.send([s.seg(0, A + junk)])
        else:
            ctx.net.send([s.seg(0, A)])
            s.finish(A, [1])
            ctx.net.send([s.seg(len(A), junk)])
        s.finish(A + junk, [1], timeout=1.5)

        def extra(data):
            return (["garbage reached the broker"] if len(data) > len(A) else []), \
                ([] if A.startswith(data) else ["stream %r" % data[:16]])
        want = {ALLOWED: {"intact", "absent"} if same_segment else {"intact"}}
        cl = reset_like if same_segment else answered_then_reset({1: {ALLOWED: 0}})
        desc = "RST" if same_segment else "c1{%s:0}, then RST" % ALLOWED
        return judge(ctx, s, want, [], cl, desc, aud_undecodable, "undecodable (reset)",
                     extra=extra, extra_desc="no bytes past the valid frame")
    return run


def ctl(s, off, flags, bad_csum=True):
    """A bare control segment (no payload) at stream offset off, checksum broken by default:
    kgate sees it, the broker host's TCP discards it."""
    from scapy.all import IP, TCP
    p = IP(src=s.net.src, dst=s.net.dst) / \
        TCP(sport=s.sport, dport=s.net.dport, flags=flags,
            seq=(s.isn + 1 + off) % (1 << 32),
            ack=(s.peer_isn + 1 + len(s.rcvd())) % (1 << 32) if "A" in flags else 0,
            window=65535)
    if bad_csum:
        p = IP(bytes(p))
        p[TCP].chksum ^= 0x5a5a
    return p


def c10_desync(rst, syn):
    return lambda ctx: c10_rst_syn_desync(ctx, rst, syn)


def c10_rst_syn_desync(ctx, rst=True, syn=True):
    """Mid-frame, a bad-checksum RST at the next byte then a bad-checksum SYN one byte
    before it: if kgate forgets the flow and starts a fresh one there, what follows is
    read from a false frame boundary. The rest of the broker's frame 1 (its client id)
    is built to look like the start of an ApiVersions frame whose body, skipped by
    length, swallows the real frame 2 (Metadata open.secret)."""
    f2 = metadata(2, [DENIED], CID)
    k = 4 + 8 + 2 + 10          # 10 bytes into frame 1's client id
    filler = b"a" * 50
    cid_len = 10 + 14 + len(filler)
    tail = struct.pack(">i", 1) + kstr(ALLOWED)
    r_len = (cid_len - 10) + len(tail)      # frame 1 after the split point
    fake = struct.pack(">ihhih", r_len - 4 + len(f2), 18, 0, 7, 0)
    cid = b"b" * 10 + fake + filler
    body = struct.pack(">hhi", 3, 1, 1) + struct.pack(">h", cid_len) + cid + tail
    f1 = struct.pack(">i", len(body)) + body
    assert len(f1) - k == r_len
    stream = f1 + f2
    s = ctx.session()
    ctx.net.send([s.seg(0, f1[:k])])
    s.wait_acked(k)
    if rst:
        ctx.net.send([ctl(s, k, "RA")])
        time.sleep(0.05)
    if syn:
        ctx.net.send([ctl(s, k - 1, "S")])
        time.sleep(0.05)
    ctx.net.send([s.seg(k, stream[k:])])
    s.finish(stream, [1, 2])
    return judge(ctx, s, {DENIED: {"poisoned", "absent"}}, [DENIED],
                 none_or({2: {DENIED: 29}}), "c2{%s:29}, RST or nothing" % DENIED)


def c10_syn_shift(bad_csum):
    def run(ctx):
        """At a frame boundary: a SYN (which the broker answers with a challenge ACK and
        otherwise ignores, RFC 5961) 15 bytes before the next byte, then a segment from
        there: its first 14 bytes are old to the broker (trimmed); to a reader that
        restarted at the SYN they are an ApiVersions header whose body, skipped by
        length, swallows the real next frame (Metadata open.secret)."""
        f2 = metadata(2, [DENIED], CID)
        junk = struct.pack(">ihhih", 14 - 4 + len(f2), 18, 0, 7, 0)
        s = ctx.session()
        ctx.net.send([s.seg(0, A)])
        s.finish(A, [1])
        n = len(A)
        ctx.net.send([ctl(s, n - len(junk) - 1, "S", bad_csum)])
        time.sleep(0.05)
        ctx.net.send([s.seg(n - len(junk), junk + f2)])
        s.finish(A + f2, [1, 2])
        return judge(ctx, s, {ALLOWED: {"intact"}, DENIED: {"poisoned", "absent"}}, [DENIED],
                     none_or({1: {ALLOWED: 0}, 2: {DENIED: 29}}),
                     "c1{%s:0} c2{%s:29}, RST or nothing" % (ALLOWED, DENIED))
    return run


def c11_retx_slots(ctx):
    """open.events one byte per segment, every checksum broken (kgate decides them, the
    broker never gets them; more segments than kgate remembers), then open.secret."""
    s = ctx.session()
    ctx.net.send([s.seg(i, A[i:i + 1], bad_csum=True) for i in range(len(A))])
    time.sleep(0.1)
    ctx.net.send([s.seg(0, B)])
    s.finish(B, [1], timeout=2.0)
    return judge(ctx, s, {DENIED: {"poisoned", "absent"}}, [DENIED],
                 none_or({1: {DENIED: 29}}), "c1{%s:29} or nothing" % DENIED)


def c12_urgent(ctx):
    """An urgent byte inside the name: the broker (no SO_OOBINLINE) takes it out of the
    stream and reads open.secret; a reader that kept it would see open.secrXe."""
    from scapy.all import TCP
    q = B.index(DENIED.encode()) + len(DENIED) - 1
    s = ctx.session()
    p = s.seg(0, B[:q] + b"X" + B[q:])
    p[TCP].flags = "PAU"
    p[TCP].urgptr = q + 1
    ctx.net.send([p])
    time.sleep(0.3)
    during = len(broker_view(ctx, s.sport)[0])
    s.finish(B, [1])
    exp, obs, v = judge(ctx, s, {DENIED: {"poisoned", "absent"}}, [DENIED],
                        none_or({1: {DENIED: 29}}), "c1{%s:29} or nothing" % DENIED)
    return "urgent segment: broker 0B; " + exp, "urgent segment: broker %dB; then %s" % (
        during, obs), v


# Frame 1: Metadata open.events with a 1,200-byte client id, of which kgate keeps 64 and
# skips the rest by length; frame 2: Metadata open.secret.
LONG_CID = "L" * 1200
F1 = metadata(1, [ALLOWED], LONG_CID)
F2 = metadata(2, [DENIED], CID)
SKIP_END = 4 + 8 + 2 + len(LONG_CID)  # the first byte read after the client id
STREAM13 = F1 + F2
OK13 = {1: {ALLOWED: 0}, 2: {DENIED: TOPIC_AUTHORIZATION_FAILED}}
# what the broker must hold: the stream with open.secret poisoned (its last byte '!')
EXPECT13 = F1 + F2.replace(DENIED.encode(), poisoned(DENIED).encode())


def c13_ahead(lo, hi, forge, fill_to=None, early=False):
    """The header and the client id's first 200 bytes in order; then [lo, hi) ahead, its
    bytes from forged (when forge: open.secret frames inside the skip, and the bytes
    kgate reads at SKIP_END and after changed); then, when fill_to, the in-order bytes up
    to exactly fill_to (so that the broker takes any byte from fill_to on from the early
    copy); then the sender's TCP. What the decoder reads must be, at the broker, as sent
    in order -- or, when early (the early copy starts inside the skip, so kgate decodes
    it: a hole before it), the early copy's bytes where it lay and the in-order bytes
    elsewhere, never a mix kgate did not read. open.secret never reaches the broker
    intact; the client gets open.events and (29) open.secret, or (early) a reset when
    the forged bytes kgate read are not Kafka."""
    def run(ctx):
        forged = bytearray(STREAM13)
        if forge:
            fake = metadata(9, [DENIED], CID)
            for o in range(300, SKIP_END - len(fake), 2 * len(fake)):
                forged[o:o + len(fake)] = fake
            for o in range(SKIP_END, min(len(forged), SKIP_END + 8)):
                forged[o] ^= 0x5a
        s = ctx.session()
        ctx.net.send([s.seg(0, STREAM13[:200])])
        s.wait_acked(200)
        ctx.net.send([s.seg(lo, bytes(forged[lo:hi]))])
        time.sleep(0.1)
        if fill_to:
            ctx.net.send([s.seg(200, STREAM13[200:fill_to])])
            time.sleep(0.1)
        s.finish(STREAM13, [1, 2])

        def extra(data):
            # what the decoder reads must be as sent in order (or, when early, the early
            # copy's where it lay); the skipped client id's bytes may be the early copy's
            # (neither side reads them)
            kept = 4 + 8 + 2 + 64
            same = data[:kept] == EXPECT13[:kept] and all(
                data[i] == EXPECT13[i] or (early and lo <= i < hi and data[i] == forged[i])
                for i in range(SKIP_END, len(data)))
            full = len(data) == len(STREAM13)
            return (["the broker holds read bytes the sender never sent in order"]
                    if not same else []), \
                ([] if full or early else ["broker %dB of %d" % (len(data), len(STREAM13))])
        if not early:
            return judge(ctx, s, {ALLOWED: {"intact"}, DENIED: {"poisoned"}}, [DENIED],
                         errs_are(OK13), "c1{%s:0} c2{%s:29}" % (ALLOWED, DENIED),
                         aud(DENIED, "reject"), "reject", extra=extra,
                         extra_desc="the bytes read as sent in order")

        def client(resp, rst):
            # what was answered is as it should be; all of it, or a reset
            return all(resp.get(c) == OK13[c] for c in resp) and \
                (rst or all(c in resp for c in OK13))
        return judge(ctx, s, {ALLOWED: {"intact", "absent"}, DENIED: {"poisoned", "absent"}},
                     [DENIED], client,
                     "c1{%s:0} c2{%s:29}, or a reset" % (ALLOWED, DENIED),
                     lambda r: aud(DENIED, "reject")(r) or aud_undecodable(r),
                     "reject or undecodable", extra=extra,
                     extra_desc="the bytes read as sent in order or as kgate read them early")
    return run


# Probe segments (bpf/retx.h): a segment ahead of a gap that holds bytes kgate must read,
# at least KG_PROBE_AFTER (8,192) bytes past where it reads again, passes undecided, and
# is checked when the stream reaches it.
PROBE_AFTER = 8192
LONG14 = "P" * 20000
F14 = metadata(1, [ALLOWED], LONG14)       # a client id of 20,000 bytes, skipped by length
F14B = metadata(1, [ALLOWED], "Q" * 9000)  # one of 9,000: a probe past it holds frame 2


def c14_probe(hold_request, fill_to_probe):
    """The first 10 bytes in order (kgate reads the header next); then, far past them,
    one segment ahead: when hold_request, frame 2 whole (open.secret), which kgate would
    read; else 1,000 bytes inside the client id (skipped by length). When fill_to_probe,
    the bytes up to exactly the probe come next, in order (the broker would read the
    probe's own copy next): a probe holding a request must end the connection there
    (undecodable, reset) before the broker reads it; one inside the client id is found
    skipped, and frame 2 is decided as ever. Then the sender's TCP, in 1,000-byte
    segments from what the broker acknowledged (which, not cut at the probe, covers it:
    the broker keeps that copy, the one kgate decodes)."""
    def run(ctx):
        s = ctx.session()
        stream = (F14B if hold_request else F14) + F2
        lo = len(F14B) if hold_request else 9000
        hi = len(stream) if hold_request else 10000
        assert lo - 10 >= PROBE_AFTER
        ctx.net.send([s.seg(0, stream[:10])])
        s.wait_acked(10)
        ctx.net.send([s.seg(lo, stream[lo:hi])])
        time.sleep(0.1)
        if fill_to_probe:
            ctx.net.send([s.seg(o, stream[o:min(o + 1000, lo)]) for o in range(10, lo, 1000)])
            time.sleep(0.2)
        s.finish(stream, [1, 2])
        if hold_request and fill_to_probe:
            return judge(ctx, s, {ALLOWED: {"absent", "intact"}, DENIED: {"absent"}},
                         [DENIED], reset_like, "RST", aud_undecodable,
                         "undecodable (probe_read) reset")
        return judge(ctx, s, {ALLOWED: {"intact"}, DENIED: {"poisoned"}}, [DENIED],
                     errs_are(OK13), "c1{%s:0} c2{%s:29}" % (ALLOWED, DENIED),
                     aud(DENIED, "reject"), "reject")
    return run


# A probe passes undecided; a later "shadow" copy of its bytes, ahead, inside a skip that
# has grown to reach it, is one Linux does not keep where the two overlap (a duplicate at
# the probe's sequence number, or one starting inside the probe): the broker would read
# the probe's bytes. kgate drops the shadow (from a review of h-flows, which decided it),
# and the stream reaching the probe ends the connection (probe_read).
PAD15 = 9000
F15A = metadata(1, [ALLOWED], CID)
F15 = struct.pack(">i", len(F15A) - 4 + PAD15) + F15A[4:] + b"\x00" * PAD15  # body, then
A15 = metadata(2, [ALLOWED], CID)                                            # trailing bytes
B15 = metadata(2, [DENIED], CID)
C15 = metadata(3, [ALLOWED], CID)
assert len(A15) == len(B15)


def c15_probe_shadow(inside):
    """The first 10 bytes; the probe (open.secret, frame 2; when inside, with the last 100
    bytes of frame 1 before it); frame 1's body in order (its trailing bytes are now a
    skip that reaches the probe); the shadow (open.events in frame 2's place; when inside,
    from 50 bytes before frame 2 to 20 bytes into frame 3), which must be dropped; the
    hole up to exactly the probe, where the broker would read the probe's open.secret
    next: the connection ends there (undecodable, reset); then the sender's TCP."""
    def run(ctx):
        s = ctx.session()
        lo = len(F15)
        stream = F15 + A15 + C15
        ctx.net.send([s.seg(0, stream[:10])])
        s.wait_acked(10)
        plo = lo - 100 if inside else lo
        ctx.net.send([s.seg(plo, stream[plo:lo] + B15)])
        time.sleep(0.1)
        body = len(F15A) + 10
        ctx.net.send([s.seg(10, stream[10:body])])
        s.wait_acked(body)
        if inside:
            ctx.net.send([s.seg(lo - 50, stream[lo - 50:lo + len(A15) + 20])])
        else:
            ctx.net.send([s.seg(lo, A15)])
        time.sleep(0.1)
        ctx.net.send([s.seg(o, stream[o:min(o + 1000, plo)]) for o in range(body, plo, 1000)])
        time.sleep(0.3)
        s.finish(stream, [1, 2, 3])
        return judge(ctx, s, {ALLOWED: {"intact"}, DENIED: {"absent"}}, [DENIED],
                     reset_like, "RST", aud_undecodable, "undecodable (probe_read) reset")
    return run


CASES = [
    ("1 header 1B/segment", "request header one byte per segment",
     c1_header_bytes),
    ("2a name split mid", "us->eu.orders, name split eu.or|ders",
     c2_name_split(5)),
    ("2b name split last", "us->eu.orders, name's last byte alone",
     c2_name_split(len(RESIDENT) - 1)),
    ("2c length split", "us->eu.orders, split inside the i16 name length",
     c2_name_split(-1)),
    ("3 out of order", "4 segments sent reversed and shuffled, then TCP retransmits",
     c3_out_of_order),
    ("4a overlap allow->deny", "acked open.events, then open.secret at the same seq",
     c4_overlap(A, B)),
    ("4b overlap deny->allow", "acked open.secret, then open.events at the same seq",
     c4_overlap(B, A)),
    ("4c partial overlap", "acked ..'open.', then from the name 'open.secret'..",
     c4_overlap(A, B, (NAME_OFF + 5, NAME_OFF))),
    ("4d superset overlap", "acked ..'open.', then the whole request with open.secret",
     c4_overlap(A, B, (NAME_OFF + 5, 0))),
    ("5a badsum allow->deny", "bad-checksum open.events, then open.secret, same seq",
     c5_bad_checksum(A, B)),
    ("5b badsum deny->allow", "bad-checksum open.secret, then open.events, same seq",
     c5_bad_checksum(B, A)),
    ("6a pipelined reject", "3 requests in 1 segment, open.secret last",
     c6_pipelined(DENIED, "reject")),
    ("6b pipelined reset", "3 requests in 1 segment, trap.reset last",
     c6_pipelined(TRAP, "reset")),
    ("7 IP fragments", "open.secret segment in 8-byte IPv4 fragments (x2), then whole",
     c7_fragments),
    ("8 TLS ClientHello", "TLS ClientHello on the plaintext listener",
     c8_tls),
    ("9a garbage same seg", "valid frame + garbage size in one segment",
     c9_garbage(GARBAGE, True)),
    ("9b garbage next seg", "valid frame answered, then garbage",
     c9_garbage(GARBAGE, False)),
    ("9c unknown api", "valid frame answered, then a framed unknown api key",
     c9_garbage(UNKNOWN_API, False)),
    ("10a RST desync", "mid-frame: bad-sum RST at next seq, then a false frame hiding open.secret",
     c10_desync(True, False)),
    ("10b SYN desync", "mid-frame: bad-sum SYN at next seq-1, then a false frame hiding open.secret",
     c10_desync(False, True)),
    ("10c RST+SYN desync", "mid-frame: bad-sum RST, bad-sum SYN, then a false frame hiding open.secret",
     c10_desync(True, True)),
    ("10d SYN shift", "frame boundary: valid SYN at next seq-15, then 14 old bytes + open.secret",
     c10_syn_shift(False)),
    ("10e SYN shift badsum", "as 10d, the SYN's checksum broken",
     c10_syn_shift(True)),
    ("11 retx slots", "open.events 1B/segment all bad-sum, then open.secret at seq 0",
     c11_retx_slots),
    ("12 urgent byte", "URG byte inside the name (broker strips it), then whole",
     c12_urgent),
    ("13a ahead inside", "ahead inside a skipped client id, forged frames in it",
     c13_ahead(600, 1100, True)),
    ("13b ahead to the end", "ahead ending exactly where the skip ends",
     c13_ahead(SKIP_END - 300, SKIP_END, True, SKIP_END - 300)),
    ("13c ahead one past", "ahead one byte past the skip, changed; in order up to it",
     c13_ahead(SKIP_END - 300, SKIP_END + 1, True, SKIP_END, early=True)),
    ("13d ahead at the end", "ahead from the skip's end (bytes read), changed",
     c13_ahead(SKIP_END, SKIP_END + 8, True, SKIP_END, early=True)),
    ("13f ahead past the end", "ahead from one byte past the skip's end, changed",
     c13_ahead(SKIP_END + 1, SKIP_END + 8, True, SKIP_END)),
    ("13e ahead over frame 2", "ahead across the next frame's size, changed",
     c13_ahead(len(F1) - 2, len(F1) + 2, True, len(F1) - 2)),
    ("14a probe holds a request", "far ahead of the header: frame 2 (open.secret) alone; "
     "then in order up to it", c14_probe(True, True)),
    ("14b probe covered", "as 14a, then TCP's segments, one covering the probe",
     c14_probe(True, False)),
    ("14c probe in the skip", "far ahead of the header: 1,000 bytes of a skipped client id; "
     "then in order up to it", c14_probe(False, True)),
    ("15a probe shadowed", "probe open.secret; skip grows over it; open.events at its seq",
     c15_probe_shadow(False)),
    ("15b probe shadowed inside", "probe open.secret; skip grows; open.events from inside it",
     c15_probe_shadow(True)),
]


def run_main(argv):
    envfile, kgate, recdir, audit, iface, portbase = argv[:6]
    only = argv[6:]
    env = {}
    for line in open(envfile):
        k, _, v = line.rstrip("\n").partition("=")
        env[k] = v.strip("'")
    net = Net(env, iface)
    ctx = Ctx(env, kgate, recdir, audit, net, int(portbase))
    rows = []
    t0 = time.time()
    for name, desc, fn in CASES:
        if only and not any(name.startswith(o) or name.split()[0] == o for o in only):
            continue
        port = ctx.port + 1
        try:
            exp, obs, v = fn(ctx)
        except Exception as e:  # noqa: BLE001 - a case that cannot run is a failure
            exp, obs, v = "-", "error: %r" % e, "FAIL"
        rows.append((name, desc, port, exp, obs, v))
        print("%-6s %s (port %d): %s" % (v, name, port, obs), file=sys.stderr, flush=True)
    net.close()
    print()
    print("| case | crafted | expected | observed | verdict |")
    print("|---|---|---|---|---|")
    for name, desc, port, exp, obs, v in rows:
        print("| %s | %s (sport %d) | %s | %s | %s |" % (name, desc, port, exp, obs, v))
    bad = [r for r in rows if r[5] != "ok"]
    byp = [r for r in rows if r[5] == "BYPASS"]
    print("\nevasion: %d cases, %d ok, %d BYPASS, %d FAIL (%.1f s)" %
          (len(rows), len(rows) - len(bad), len(byp), len(bad) - len(byp), time.time() - t0))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "record":
        record_main(sys.argv[2:])
    elif len(sys.argv) > 7 and sys.argv[1] == "run":
        sys.exit(run_main(sys.argv[2:]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
