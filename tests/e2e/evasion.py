#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Evasion cases: crafted TCP sessions (scapy) from a client namespace to the broker
address with kgate attached (tests/e2e/test_e2e.sh runs this with policies/e2e.yaml:
produce to secret.* is rejected, open.events is allowed).

  evasion.py ENVFILE        (run by test_e2e.sh; root)

Each case sends a Produce v3 request cut and shuffled into segments its own way; the
broker's kernel then holds some byte stream. The verdict that counts is the policy's
for what the broker received: a record for a denied topic must never land (a bypass),
and the client must get TOPIC_AUTHORIZATION_FAILED, a reset, or no answer. Prints a
table: case, expected, observed. The client namespace's kernel would reset these
hand-made connections, so its outgoing RSTs to the broker are dropped meanwhile.
"""
import json
import os
import random
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clients import raw_produce_body, _str, err_name  # noqa: E402

ENV = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("=")
    ENV[k] = v.strip("'").replace("\\ ", " ")

from scapy.all import IP, TCP, Raw, AsyncSniffer, send, fragment, conf  # noqa: E402

conf.verb = 0
SRC, DST, DPORT = "10.10.0.2", ENV["RIG_BROKER4"], int(ENV["RIG_PORT"])
ALLOWED, DENIED = "open.events", "secret.evade"  # same length: overlaps swap them


def broker_holds(topic):
    p = subprocess.run(["nsenter", "--net=/run/netns/" + ENV["RIG_NS_BROKER"], "--", "kcat",
                        "-C", "-b", "127.0.0.1:" + ENV["RIG_MOCK_PORT"], "-t", topic, "-o",
                        "beginning", "-e", "-q", "-f", "%s\n"], capture_output=True, text=True,
                       timeout=30)
    return p.stdout.splitlines()


def produce_frame(topic, value, corr):
    body = raw_produce_body([(topic, value)], 5000)
    hdr = struct.pack(">hhi", 0, 3, corr) + _str("evasion")
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


class Session:
    def __init__(self):
        self.sport = random.randint(20000, 60000)
        self.isn = random.randint(0, 2**31)
        self.got = {}
        self.flags = []
        self.lock = threading.Lock()
        self.sn = AsyncSniffer(filter="tcp and src host %s and src port %d and dst port %d" %
                               (DST, DPORT, self.sport), prn=self._rx, store=False)
        self.sn.start()
        time.sleep(0.3)
        self.ip = IP(src=SRC, dst=DST)
        send(self.ip / TCP(sport=self.sport, dport=DPORT, flags="S", seq=self.isn))
        for _ in range(50):
            if self.flags and "SA" in self.flags[0][0]:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("no SYN-ACK")
        self.rcv = self.flags[0][1] + 1
        self.acked = self.isn + 1
        send(self.ip / TCP(sport=self.sport, dport=DPORT, flags="A", seq=self.isn + 1,
                           ack=self.rcv))

    def _rx(self, p):
        t = p[TCP]
        with self.lock:
            self.flags.append((str(t.flags), t.seq))
            if "A" in str(t.flags):
                self.acked = max(getattr(self, "acked", 0), t.ack)
            data = bytes(t.payload)
            if data:
                self.got[t.seq] = data
            if "R" in str(t.flags):
                self.reset = True

    def seg(self, off, data, **kw):
        """A data segment at stream offset off (0 = first byte after the SYN)."""
        return self.ip / TCP(sport=self.sport, dport=DPORT, flags="PA",
                             seq=self.isn + 1 + off, ack=self.rcv, **kw) / Raw(data)

    def stream(self):
        """The broker's bytes in order (from rcv), ACKing them."""
        with self.lock:
            out, nxt = b"", self.rcv
            while nxt in self.got:
                out += self.got[nxt]
                nxt += len(self.got[nxt])
        if nxt != self.rcv:
            send(self.ip / TCP(sport=self.sport, dport=DPORT, flags="A",
                               seq=self.acked, ack=nxt))
        return out

    def complete(self, canonical, timeout=4):
        """Resends the canonical stream's unacknowledged part until the broker has it
        all or answers; returns the first response frame (or None)."""
        end = time.time() + timeout
        while time.time() < end:
            buf = self.stream()
            if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">i", buf[:4])[0]:
                return buf[4:4 + struct.unpack(">i", buf[:4])[0]]
            if getattr(self, "reset", False):
                return "RESET"
            time.sleep(0.4)
            off = self.acked - (self.isn + 1)
            if off < len(canonical):
                send(self.seg(off, canonical[off:off + 1400]))
        return None

    def close(self):
        send(self.ip / TCP(sport=self.sport, dport=DPORT, flags="R",
                           seq=self.isn + 1 + 100000))
        self.sn.stop()


def topic_error(resp):
    if resp in (None, "RESET"):
        return resp or "NO_ANSWER"
    d = resp[4:]  # correlation id
    try:
        (tl,) = struct.unpack_from(">h", d, 4)
        (err,) = struct.unpack_from(">h", d, 4 + 2 + tl + 4 + 4)
        return err_name(err) or "NONE"
    except struct.error:
        return "UNPARSED"


rows = []


def case(name, build, expect_land_denied=False, expect_land_allowed=None, want_err=None):
    """build(session, v_allowed, v_denied) sends segments, returns the canonical stream."""
    va = "ev-a-%d" % random.randint(0, 1 << 30)
    vd = "ev-d-%d" % random.randint(0, 1 << 30)
    try:
        s = Session()
        canonical = build(s, va, vd)
        resp = s.complete(canonical)
        s.close()
        err = topic_error(resp)
    except Exception as e:  # the case could not run: a failure, not a pass
        err = "ERROR " + repr(e)[:40]
    time.sleep(0.3)
    landed_d = vd in broker_holds(DENIED)
    landed_a = va in broker_holds(ALLOWED)
    ok = landed_d == expect_land_denied and not err.startswith("ERROR")
    if expect_land_allowed is not None:
        ok = ok and landed_a == expect_land_allowed
    if want_err:
        ok = ok and err in want_err
    exp = "denied %s%s%s" % ("lands" if expect_land_denied else "never lands",
                             "" if expect_land_allowed is None else
                             ", allowed %s" % ("lands" if expect_land_allowed else "not"),
                             ", client: " + "|".join(want_err) if want_err else "")
    obs = "denied %s, allowed %s, client: %s" % ("LANDED" if landed_d else "not landed",
                                                 "landed" if landed_a else "not", err)
    rows.append((name, exp, obs, "PASS" if ok else "FAIL"))


DENY_OUT = ("TOPIC_AUTHORIZATION_FAILED", "RESET", "NO_ANSWER")


def c_header_bytes(s, va, vd):
    f = produce_frame(DENIED, vd, 1)
    for i in range(0, 24):
        send(s.seg(i, f[i:i + 1]))
    send(s.seg(24, f[24:]))
    return f


def c_topic_split(s, va, vd):
    f = produce_frame(DENIED, vd, 1)
    cut = f.index(DENIED.encode()) + 4
    send(s.seg(0, f[:cut]))
    time.sleep(0.05)
    send(s.seg(cut, f[cut:]))
    return f


def c_out_of_order(s, va, vd):
    f = produce_frame(DENIED, vd, 1)
    a, b = 20, f.index(DENIED.encode()) + 3
    send(s.seg(b, f[b:]))
    send(s.seg(a, f[a:b]))
    send(s.seg(0, f[:a]))
    return f


def c_overlap_to_denied(s, va, vd):
    fa = produce_frame(ALLOWED, va, 1)
    fd = fa.replace(ALLOWED.encode(), DENIED.encode()[:len(ALLOWED)])
    cut = fa.index(ALLOWED.encode()) + len(ALLOWED)
    send(s.seg(0, fa[:cut]))
    time.sleep(0.1)
    send(s.seg(0, fd[:cut]))  # same bytes range, denied name
    send(s.seg(cut, fa[cut:]))
    return fa


def c_overlap_to_allowed(s, va, vd):
    fd = produce_frame(DENIED, vd, 1)
    name = DENIED.encode()
    fa = fd.replace(name, ALLOWED.encode() + b"x" * (len(name) - len(ALLOWED)))
    cut = fd.index(name) + len(name)
    send(s.seg(0, fd[:cut]))
    time.sleep(0.1)
    send(s.seg(0, fa[:cut]))  # retransmission claiming an allowed-looking name
    send(s.seg(cut, fd[cut:]))
    return fd


def c_bad_checksum(s, va, vd):
    fa = produce_frame(ALLOWED, va, 1)
    fd = produce_frame(DENIED, vd, 1)[:len(fa)]
    send(s.seg(0, fa, chksum=0x1234))  # the broker's kernel drops this one
    send(s.seg(0, produce_frame(DENIED, vd, 1)))
    return produce_frame(DENIED, vd, 1)


def c_pipelined(s, va, vd):
    f = produce_frame(ALLOWED, va, 1) + produce_frame(ALLOWED, va + "b", 2) + \
        produce_frame(DENIED, vd, 3)
    send(s.seg(0, f))
    return f


def c_fragments(s, va, vd):
    f = produce_frame(DENIED, vd, 1)
    for frag in fragment(s.seg(0, f), fragsize=48):
        send(frag)
    return f


def c_tls_hello(s, va, vd):
    hello = bytes.fromhex("16030100a5010000a10303") + os.urandom(32) + bytes(64)
    send(s.seg(0, hello))
    time.sleep(0.3)
    f = produce_frame(ALLOWED, va, 1)
    send(s.seg(len(hello), f))
    return hello + f


def c_garbage_after(s, va, vd):
    # The valid frame alone first (a segment holding garbage is reset whole: RST to the
    # broker in its place), then garbage and a denied frame behind it.
    a = produce_frame(ALLOWED, va, 1)
    rest = b"\xff\xff\xff\xf0garbage" + produce_frame(DENIED, vd, 2)
    send(s.seg(0, a))
    time.sleep(0.3)
    send(s.seg(len(a), rest))
    return a + rest


def main():
    subprocess.run(["iptables", "-A", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST",
                    "-d", DST, "--dport", str(DPORT), "-j", "DROP"], check=True)
    try:
        case("request header one byte per segment", c_header_bytes, want_err=DENY_OUT)
        case("topic name split across segments", c_topic_split, want_err=DENY_OUT)
        case("segments out of order", c_out_of_order, want_err=DENY_OUT)
        case("overlap: allowed, then retransmitted as denied", c_overlap_to_denied,
             expect_land_allowed=True)
        case("overlap: denied, then retransmitted as allowed", c_overlap_to_allowed,
             expect_land_allowed=False)
        case("bad checksum allowed, then good denied", c_bad_checksum, want_err=DENY_OUT)
        case("pipelined in one segment, denied last", c_pipelined, expect_land_allowed=True)
        case("IP fragments", c_fragments)
        case("TLS ClientHello on the plaintext listener", c_tls_hello,
             expect_land_allowed=False)
        case("garbage after a valid frame", c_garbage_after, expect_land_allowed=True)
    finally:
        subprocess.run(["iptables", "-D", "OUTPUT", "-p", "tcp", "--tcp-flags", "RST", "RST",
                        "-d", DST, "--dport", str(DPORT), "-j", "DROP"])
    w = [max(len(r[i]) for r in rows + [("case", "expected", "observed", "")])
         for i in range(4)]
    fmt = "  ".join("%%-%ds" % x for x in w)
    print(fmt % ("case", "expected", "observed", "result"))
    for r in rows:
        print(fmt % r)
    bypass = sum(1 for r in rows if "LANDED" in r[2])
    fails = sum(1 for r in rows if r[3] == "FAIL")
    print("evasion: %d cases, %d failed, %d bypasses" % (len(rows), fails, bypass))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
