#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`kgate decode --pcap` against scripts/pcap_streams.py, the reader it was written to match.

Each case writes a classic pcap (its own writer below: both byte orders, micro- and
nanosecond magic; packets built with scapy) whose client->broker bytes are Kafka Metadata
v1 requests with numbered topic names, so that any byte kgate put back wrongly shows in
what it decodes. For every case: kgate and pcap_streams.py agree on success or failure;
on success, on the connections (number, client port, length) and, for every stream,
`kgate decode --pcap P --stream N` equals `kgate decode` of the stream pcap_streams.py
wrote; and the case's own expectation holds (the first copy of a retransmitted byte
wins, a hole fails, ...). Run with /usr/bin/python3 (python3-scapy). KGATE=path.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

from scapy.all import IP, IPv6, TCP, Ether, Dot1Q, CookedLinux, Raw  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KGATE = os.environ.get("KGATE", os.path.join(ROOT, "build", "kgate"))
PCAP_STREAMS = os.path.join(ROOT, "scripts", "pcap_streams.py")
PORT = 9092
# Ethernet addresses given, so scapy does not look them up
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL %s%s" % (name, ": " + detail if detail else ""))


def metadata(corr, topics, client=b"pcap-test"):
    """A Metadata v1 request frame naming topics."""
    body = struct.pack(">hhi", 3, 1, corr) + struct.pack(">h", len(client)) + client
    body += struct.pack(">i", len(topics))
    for t in topics:
        body += struct.pack(">h", len(t)) + t
    return struct.pack(">i", len(body)) + body


def stream_of(n, first=0):
    """n Metadata requests, topic names t<k>-<corr> (easy to tell apart when decoded)."""
    return b"".join(metadata(first + i + 1, [b"t%d-%d" % (k, first + i + 1) for k in range(3)])
                    for i in range(n))


def write_pcap(path, frames, linktype=1, big=False, nano=False, snaplen=65535, cut=None):
    """frames: bytes of each packet. cut: (index, captured length) to cut one short."""
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for i, fr in enumerate(frames):
            incl = len(fr)
            if cut and cut[0] == i:
                incl = cut[1]
            f.write(struct.pack(e + "IIII", 1700000000 + i, i, incl, len(fr)))
            f.write(fr[:incl])


class Conn:
    """A client's TCP connection to the broker: builds its segments."""

    def __init__(self, client="10.1.0.2", server="10.9.0.2", cport=40000, isn=1000, v6=False,
                 link=lambda p: ETH / p):
        self.net = IPv6 if v6 else IP
        self.client, self.server = client, server
        self.cport, self.isn, self.link = cport, isn, link

    def ip(self, back=False):
        return self.net(src=self.server, dst=self.client) if back else \
            self.net(src=self.client, dst=self.server)

    def syn(self):
        return bytes(self.link(self.ip() / TCP(sport=self.cport, dport=PORT, flags="S",
                                              seq=self.isn)))

    def synack(self):
        return bytes(self.link(self.ip(back=True) / TCP(sport=PORT, dport=self.cport,
                                                        flags="SA", seq=5000, ack=self.isn + 1)))

    def data(self, off, payload, flags="PA"):
        seq = (self.isn + 1 + off) % (1 << 32)
        return bytes(self.link(self.ip() / TCP(sport=self.cport, dport=PORT, flags=flags,
                                              seq=seq) / Raw(payload)))

    def fin(self, off):
        return bytes(self.link(self.ip() / TCP(sport=self.cport, dport=PORT, flags="FA",
                                              seq=(self.isn + 1 + off) % (1 << 32))))

    def segments(self, data, size, order=None):
        chunks = [(o, data[o:o + size]) for o in range(0, len(data), size)]
        if order:
            chunks = [chunks[i] for i in order]
        return [self.data(o, c) for o, c in chunks]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, **kw)


def reference(pcap, tmp):
    """pcap_streams.py's answer: (ok, [(num, cport, bytes, path)], stderr)."""
    out = os.path.join(tmp, "ref")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    p = run(["/usr/bin/python3", PCAP_STREAMS, pcap, "--port", str(PORT), "--outdir", out,
             "--prefix", "s"])
    conns = []
    for line in p.stdout.decode().splitlines():
        num, _, cport, n, path = line.split("\t")
        conns.append((int(num), int(cport), int(n), path))
    return p.returncode == 0, conns, p.stderr.decode()


def kgate_streams(pcap):
    """kgate's: (exit code, [(num, cport, bytes)], stdout, stderr) of decode --pcap."""
    p = run([KGATE, "decode", "--pcap", pcap, "--port", str(PORT)])
    conns = [(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in re.finditer(
        r"^stream (\d+) \S+:(\d+) -> \S+ \((\d+) bytes\)$", p.stdout.decode(), re.M)]
    return p.returncode, conns, p.stdout.decode(), p.stderr.decode()


def case(name, frames, tmp, want_ok=True, expect=None, **pcap_kw):
    pcap = os.path.join(tmp, "%s.pcap" % name)
    write_pcap(pcap, frames, **pcap_kw)
    ref_ok, ref, ref_err = reference(pcap, tmp)
    rc, got, out, err = kgate_streams(pcap)
    check("%s: pcap_streams.py %s" % (name, "reads it" if want_ok else "refuses it"),
          ref_ok == want_ok, ref_err)
    if not want_ok:
        check("%s: kgate refuses it too (exit 1, a reason)" % name,
              rc == 1 and "kgate decode:" in err, "exit %d, %r" % (rc, err))
        if expect:
            check("%s: the reason" % name, re.search(expect, err) is not None, err)
        return out, err
    check("%s: same connections (number, client port, bytes)" % name,
          [(n, c, b) for n, c, b, _ in ref] == got, "ref %s, kgate %s" % (ref, got))
    for num, _, _, path in ref:
        want = run([KGATE, "decode", path]).stdout
        p = run([KGATE, "decode", "--pcap", pcap, "--port", str(PORT), "--stream", str(num)])
        check("%s: stream %d decodes as pcap_streams.py's bytes" % (name, num),
              p.stdout == want, "\n--- kgate --pcap\n%s--- kgate FILE\n%s" %
              (p.stdout.decode(), want.decode()))
    if expect:
        check("%s: %s" % (name, expect.__name__), expect(out, err), out + err)
    return out, err


def main():
    data = stream_of(8)  # 8 requests, 24 topics: ~400 bytes
    with tempfile.TemporaryDirectory() as tmp:
        a = Conn()
        case("in-order", [a.syn(), a.synack()] + a.segments(data, 100) + [a.fin(len(data))],
             tmp, expect=lambda out, err: out.count("topic name=") == 24)

        b = Conn(cport=40001)
        segs = b.segments(data, 60)
        mixed = [b.syn()] + segs[::-1] + segs[3:5]  # reversed, then two again
        case("out-of-order-and-retransmitted", mixed, tmp)

        c = Conn(cport=40002)
        first = c.segments(data, 50)
        # frame 3 again, its topic's digits changed: the first copy must win
        body = bytearray(data[50:100])
        body[body.find(b"t")] = ord("x")
        altered = [c.syn()] + first[:2] + [c.data(50, bytes(body))] + first[2:]

        def first_copy(out, err):
            return "topic name=x" not in out and "different data" in err
        first_copy.__name__ = "the first copy wins, the other is named on stderr"
        case("altered-retransmission", altered, tmp, expect=first_copy)

        d = Conn(cport=40003)
        holed = [d.syn()] + d.segments(data, 40)[:2] + d.segments(data, 40)[3:]
        case("hole", holed, tmp, want_ok=False, expect=r"were never captured")

        e = Conn(client="fd00:1::2", server="fd00:9::2", v6=True, cport=40004,
                 link=lambda p: ETH / Dot1Q(vlan=7) / Dot1Q(vlan=8) / p)
        case("ipv6-qinq", [e.syn()] + e.segments(data, 200), tmp)

        f = Conn(cport=40005, link=lambda p: CookedLinux(proto=0x0800) / p)
        case("linux-cooked", [f.syn()] + f.segments(data, 300), tmp, linktype=113)

        g = Conn(cport=40006, link=lambda p: p)
        case("raw-ip-big-endian-nanoseconds", [g.syn()] + g.segments(data, 99), tmp,
             linktype=101, big=True, nano=True)

        h = Conn(cport=40007, isn=(1 << 32) - 30)  # the sequence number wraps inside
        case("sequence-wrap", [h.syn()] + h.segments(data, 64), tmp)

        i = Conn(cport=40008)
        nosyn = i.segments(data, 80)[1:]  # capture started after the first segment
        # (no SYN: the stream starts at the lowest sequence number seen, mid-frame)
        case("no-syn", nosyn, tmp, expect=lambda out, err: "has no SYN" in err)

        # the same client port twice: a FIN, then a new SYN with another ISN
        j1, j2 = Conn(cport=40009, isn=100), Conn(cport=40009, isn=90000)
        two = stream_of(2, first=10)
        reuse = [j1.syn()] + j1.segments(data, 500) + [j1.fin(len(data)), j2.syn()] + \
            j2.segments(two, 500)
        case("port-reuse", reuse, tmp,
             expect=lambda out, err: "stream 2 " in out and "t0-11" in out)

        k1, k2 = Conn(cport=40010), Conn(client="10.2.0.2", cport=40011)
        both = [k1.syn(), k2.syn()] + [x for pair in zip(k1.segments(data, 90),
                                                        k2.segments(two, 90)) for x in pair]
        out, _ = case("two-connections", both, tmp)
        p = run([KGATE, "decode", "-o", "json", "--pcap", os.path.join(tmp,
                 "two-connections.pcap")])
        try:
            import json
            ev = json.loads(p.stdout)
            ok = {e["stream"] for e in ev} == {1, 2} and p.returncode == 0
        except ValueError as x:
            ok, ev = False, x
        check("two-connections: -o json is one array, each event with its stream", ok, str(ev))
        p = run([KGATE, "decode", "--pcap", os.path.join(tmp, "two-connections.pcap"),
                 "--stream", "3"])
        check("--stream past the last: exit 1, says how many there are",
              p.returncode == 1 and b"no stream 3 (2 connections" in p.stderr, p.stderr)

        frag = Conn(cport=40012)
        fr = bytes(ETH / IP(src="10.1.0.2", dst="10.9.0.2", flags="MF") /
                   TCP(sport=40012, dport=PORT) / Raw(b"x" * 20))
        case("ipv4-fragment", [frag.syn(), fr], tmp, want_ok=False, expect=r"IPv4 fragment")

        cut = Conn(cport=40013)
        case("snaplen-cut", [cut.syn()] + cut.segments(data, 100), tmp, want_ok=False,
             expect=r"captured \d+ of \d+ bytes", cut=(2, 60))

        ng = os.path.join(tmp, "x.pcapng")
        with open(ng, "wb") as fh:
            fh.write(struct.pack("<III", 0x0A0D0D0A, 28, 0x1A2B3C4D) + b"\0" * 16)
        p = run([KGATE, "decode", "--pcap", ng])
        check("pcapng: refused, saying how to convert",
              p.returncode == 1 and b"editcap -F pcap" in p.stderr, p.stderr)
        p = run([KGATE, "decode", "--pcap", ng, "x.bin"])
        check("FILE and --pcap together: usage error", p.returncode == 2, p.stderr)
        p = run([KGATE, "decode", "--stream", "1", "x.bin"])
        check("--stream without --pcap: usage error", p.returncode == 2, p.stderr)

    print("pcap: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
