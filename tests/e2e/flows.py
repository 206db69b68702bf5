#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Clients for the connection-state cases (tests/e2e/test_flows.sh), run in a client
namespace of the rig; each prints one JSON object.

  flows.py active --to HOST:PORT --conns N --seconds S [--interval-ms 100] [--stall-s 1]
                  [--topic T] [--window A:B]
        N connections, each asking for Metadata of T every interval; a connection
        survives when it was never reset or closed and never went stall-s without an
        answer during the window (seconds from when every connection had its first
        answer, which prints READY; default: all of it).
  flows.py pipelined --to HOST:PORT --topic T --count K [--timeout S]
        one connection, K Produce requests (acks=1, one record each) to T sent back to
        back before any answer is read; then the K answers: their error codes by name.

Always use /usr/bin/python3 (Debian's modules).
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clients import parse_produce_v3, raw_produce_body  # noqa: E402


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def frame(key, ver, corr, cid, body):
    m = struct.pack(">hhi", key, ver, corr) + kstr(cid) + body
    return struct.pack(">i", len(m)) + m


def metadata_v1(corr, topic):
    return frame(3, 1, corr, "kgate-flows", struct.pack(">i", 1) + kstr(topic))


class Conn:
    def __init__(self, to):
        host, _, port = to.rpartition(":")
        self.s = socket.create_connection((host, int(port)), timeout=5)
        self.s.setblocking(False)
        self.buf = b""
        self.corr = 0
        self.answered = 0
        self.last = time.time()
        self.max_gap = 0.0
        self.dead = None  # "reset", "closed"

    def ask(self, topic):
        self.corr += 1
        try:
            self.s.send(metadata_v1(self.corr, topic))
        except OSError as e:
            self.dead = "reset" if isinstance(e, ConnectionResetError) else "error"

    def read(self, now, in_window):
        try:
            d = self.s.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            self.dead = "reset" if isinstance(e, ConnectionResetError) else "error"
            return
        if not d:
            self.dead = "closed"
            return
        self.buf += d
        while len(self.buf) >= 4:
            n = struct.unpack_from(">i", self.buf)[0]
            if len(self.buf) < 4 + n:
                break
            self.buf = self.buf[4 + n:]
            self.answered += 1
            if in_window:
                self.max_gap = max(self.max_gap, now - self.last)
            self.last = now


def active(a):
    win = (0.0, a.seconds)
    if a.window:
        lo, _, hi = a.window.partition(":")
        win = (float(lo), float(hi))
    conns = [Conn(a.to) for _ in range(a.conns)]
    # every connection established and answered once: the clock starts
    for c in conns:
        c.ask(a.topic)
    end = time.time() + 10
    while any(not c.answered and not c.dead for c in conns) and time.time() < end:
        r, _, _ = select.select([c.s for c in conns if not c.dead], [], [], 0.1)
        for c in conns:
            if c.s in r:
                c.read(time.time(), False)
    print("READY %d" % sum(1 for c in conns if c.answered), flush=True)
    t0 = time.time()
    for c in conns:
        c.last = t0
    next_ask = t0
    while time.time() - t0 < a.seconds:
        now = time.time()
        if now >= next_ask:
            for c in conns:
                if not c.dead:
                    c.ask(a.topic)
            next_ask += a.interval_ms / 1000.0
        r, _, _ = select.select([c.s for c in conns if not c.dead], [], [],
                                max(0.0, min(next_ask - time.time(), 0.05)))
        now = time.time()
        in_window = win[0] <= now - t0 <= win[1]
        for c in conns:
            if c.s in r:
                c.read(now, in_window)
        if in_window:
            for c in conns:
                if not c.dead:
                    c.max_gap = max(c.max_gap, now - c.last)
    out = {"conns": len(conns), "answers": sum(c.answered for c in conns),
           "reset": sum(1 for c in conns if c.dead == "reset"),
           "closed": sum(1 for c in conns if c.dead in ("closed", "error")),
           "stalled": sum(1 for c in conns if not c.dead and c.max_gap > a.stall_s),
           "max_gap_s": round(max(c.max_gap for c in conns), 3),
           "window_s": list(win)}
    out["survived"] = sum(1 for c in conns if not c.dead and c.max_gap <= a.stall_s)
    return out


def pipelined(a):
    host, _, port = a.to.rpartition(":")
    s = socket.create_connection((host, int(port)), timeout=a.timeout)
    reqs = b"".join(frame(0, 3, i + 1, "kgate-flows",
                          raw_produce_body([(a.topic, "v%d" % i)], int(a.timeout * 1000)))
                    for i in range(a.count))
    s.sendall(reqs)
    buf, answers, errors, topics = b"", 0, {}, set()
    end = time.time() + a.timeout
    try:
        while answers < a.count and time.time() < end:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            while len(buf) >= 4:
                n = struct.unpack_from(">i", buf)[0]
                if len(buf) < 4 + n:
                    break
                body, buf = buf[8:4 + n], buf[4 + n:]  # past the correlation id
                answers += 1
                for r in parse_produce_v3(body):
                    errors[r["error"]] = errors.get(r["error"], 0) + 1
                    topics.add(r["topic"])
    except OSError as e:
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
    return {"requests": a.count, "answers": answers, "errors": errors,
            "topics": sorted(topics)}


def main():
    ap = argparse.ArgumentParser(prog="flows.py")
    ap.add_argument("mode", choices=("active", "pipelined"))
    ap.add_argument("--to", required=True)
    ap.add_argument("--conns", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--interval-ms", type=float, default=100.0)
    ap.add_argument("--stall-s", type=float, default=1.0)
    ap.add_argument("--topic", default="eu.orders")
    ap.add_argument("--window")
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    res = active(a) if a.mode == "active" else pipelined(a)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
