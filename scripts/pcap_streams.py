#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Split a pcap into the client->server byte stream of every TCP connection.

Usage: pcap_streams.py PCAP --port PORT [--outdir DIR --prefix NAME] [--frames]

Every TCP connection whose server side is PORT is numbered 1, 2, ... in the
order of its first packet in the capture. For each one the bytes the client
sent are reassembled in sequence-number order: retransmitted and overlapping
segments are kept once (the first copy wins, as in a receiving TCP), a hole
in the sequence space is an error, since the fixture would not be the bytes
the server received.

With --outdir, connection N is written to DIR/NAME-cN.bin. One line per
connection goes to stdout, tab separated:

    N  client_ip  client_port  bytes  file-or-"-"

With --frames, each connection line is followed by one line per Kafka
frame (i32 size, i16 api_key, i16 api_version, i32 correlation_id):

    \tframe  offset  size  api_key  api_version  correlation_id

The frame lines are a cross-check for capture-fixtures.sh, which takes
its expectations from tshark, not from here.

Only the Python standard library is used. The classic pcap format is
parsed directly (both byte orders, micro- and nanosecond magic). Supported
link types: 0 (BSD loopback), 1 (Ethernet: what tcpdump writes for Linux
"lo"), 12/101/228/229 (raw IP), 113 (Linux cooked v1: "-i any") and 276
(Linux cooked v2). pcapng is refused: convert with "editcap -F pcap".
"""

import argparse
import os
import struct
import sys

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_MAGIC = 0x0A0D0D0A

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_OLD = 12
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
# 802.1Q and 802.1ad tags: 4 bytes each, skipped to reach the real type.
ETHERTYPE_VLAN = (0x8100, 0x88A8)

IPPROTO_TCP = 6
# IPv6 extension headers that may sit before TCP and share the
# "next header, length in 8-octet units minus one" layout.
IPV6_EXT_HEADERS = (0, 43, 60)
IPV6_FRAGMENT = 44

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10

SEQ_MOD = 1 << 32

# Kafka frame header: i32 size, i16 api_key, i16 api_version, i32 corr id.
KAFKA_HDR = struct.Struct(">ihhi")


class PcapError(Exception):
    pass


def read_pcap(path):
    """Yields (frame_number, linktype, packet_bytes), frame numbers from 1."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            raise PcapError(f"{path}: too short for a pcap header")
        magic_le = struct.unpack("<I", hdr[:4])[0]
        if magic_le == PCAPNG_MAGIC:
            raise PcapError(f"{path}: pcapng is not supported; convert with editcap -F pcap")
        for endian in ("<", ">"):
            magic = struct.unpack(endian + "I", hdr[:4])[0]
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                break
        else:
            raise PcapError(f"{path}: bad magic 0x{magic_le:08x}")
        _, _, _, _, snaplen, network = struct.unpack(endian + "HHiIII", hdr[4:])
        # The top bits of the link-type field carry FCS info (pcap-linktype(7)).
        linktype = network & 0x0FFFFFFF
        rec = struct.Struct(endian + "IIII")
        num = 0
        while True:
            rh = f.read(rec.size)
            if not rh:
                return
            if len(rh) < rec.size:
                raise PcapError(f"{path}: truncated record header after frame {num}")
            _, _, incl_len, orig_len = rec.unpack(rh)
            data = f.read(incl_len)
            num += 1
            if len(data) < incl_len:
                raise PcapError(f"{path}: frame {num} truncated in file")
            if incl_len < orig_len:
                # A cut packet would silently lose stream bytes.
                raise PcapError(
                    f"{path}: frame {num} captured {incl_len} of {orig_len} bytes "
                    f"(snaplen {snaplen}); capture with -s 0"
                )
            yield num, linktype, data


def link_to_ip(linktype, pkt):
    """Returns the IP packet inside a link-layer frame, or None if not IP."""
    if linktype == LINKTYPE_ETHERNET:
        off, etype = 14, struct.unpack_from(">H", pkt, 12)[0] if len(pkt) >= 14 else 0
        while etype in ETHERTYPE_VLAN and len(pkt) >= off + 4:
            etype = struct.unpack_from(">H", pkt, off + 2)[0]
            off += 4
        return pkt[off:] if etype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6) else None
    if linktype == LINKTYPE_LINUX_SLL:
        if len(pkt) < 16:
            return None
        etype = struct.unpack_from(">H", pkt, 14)[0]
        return pkt[16:] if etype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6) else None
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(pkt) < 20:
            return None
        etype = struct.unpack_from(">H", pkt, 0)[0]
        return pkt[20:] if etype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6) else None
    if linktype == LINKTYPE_NULL:
        if len(pkt) < 4:
            return None
        # Address family in the writer's byte order: 2 is AF_INET; 24, 28
        # and 30 are AF_INET6 on the BSDs and macOS.
        fam = struct.unpack_from("<I", pkt)[0]
        if fam > 0xFFFF:
            fam = struct.unpack_from(">I", pkt)[0]
        return pkt[4:] if fam in (2, 24, 28, 30) else None
    if linktype in (LINKTYPE_RAW_OLD, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return pkt
    raise PcapError(f"unsupported link type {linktype}")


def ip_to_tcp(ip):
    """Returns (src, dst, tcp_segment) or None when the packet is not TCP."""
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from(">H", ip, 2)[0]
        frag = struct.unpack_from(">H", ip, 6)[0]
        if ip[9] != IPPROTO_TCP:
            return None
        if frag & 0x3FFF:
            # MF set or a non-zero offset: tcpdump on lo never sees these,
            # and reassembling IP fragments is out of scope.
            raise PcapError("IPv4 fragment in capture; not supported")
        # total, not len(ip): Ethernet pads short frames to 60 bytes.
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        return src, dst, ip[ihl:total]
    if version == 6:
        if len(ip) < 40:
            return None
        plen = struct.unpack_from(">H", ip, 4)[0]
        nxt, off = ip[6], 40
        while nxt in IPV6_EXT_HEADERS:
            nxt, off = ip[off], off + (ip[off + 1] + 1) * 8
        if nxt == IPV6_FRAGMENT:
            raise PcapError("IPv6 fragment in capture; not supported")
        if nxt != IPPROTO_TCP:
            return None
        src = ip6_str(ip[8:24])
        dst = ip6_str(ip[24:40])
        return src, dst, ip[off:40 + plen]
    return None


def ip6_str(b):
    words = struct.unpack(">8H", b)
    return ":".join(f"{w:x}" for w in words)


def signed_diff(a, b):
    """a - b for 32-bit sequence numbers, in -2**31 .. 2**31 - 1."""
    d = (a - b) % SEQ_MOD
    return d - SEQ_MOD if d >= SEQ_MOD // 2 else d


class Conn:
    def __init__(self, num, client, cport):
        self.num = num
        self.client = client
        self.cport = cport
        self.isn = None
        self.segments = []  # (absolute sequence number, bytes, frame number)
        self.closed = False

    def add(self, seq, flags, payload, frame):
        if flags & TCP_SYN:
            self.isn = seq
            # A SYN's own payload (TCP Fast Open) starts at ISN + 1.
            seq = (seq + 1) % SEQ_MOD
        if flags & (TCP_FIN | TCP_RST):
            self.closed = True
        if payload:
            # Absolute sequence numbers: a SYN seen late (reordered) still
            # fixes the origin, which stream() applies.
            self.segments.append((seq, payload, frame))

    def reused_by(self, syn_seq):
        """Whether a client SYN with syn_seq opens a new connection on this
        tuple (port reuse) rather than being a late copy of this one's SYN."""
        if self.isn is not None:
            return syn_seq != self.isn
        if not self.closed:
            return False
        if not self.segments:
            return True
        # No SYN seen yet: it belongs here if it precedes our lowest byte.
        first = self.segments[0][0]
        low = first + min(signed_diff(seq, first) for seq, _, _ in self.segments)
        return (syn_seq + 1) % SEQ_MOD != low % SEQ_MOD

    def origin(self):
        """Sequence number of the stream's first byte."""
        if self.isn is not None:
            return (self.isn + 1) % SEQ_MOD
        # Capture began mid-connection: start at the lowest sequence number
        # seen, comparing in modular arithmetic around the first one.
        first = self.segments[0][0]
        base = first + min(signed_diff(seq, first) for seq, _, _ in self.segments)
        print(
            f"pcap_streams: connection {self.num} ({self.client}:{self.cport}) has no SYN "
            "in the capture; its stream starts at the lowest sequence number seen",
            file=sys.stderr,
        )
        return base % SEQ_MOD

    def stream(self):
        out = bytearray()
        if not self.segments:
            return bytes(out)
        base = self.origin()
        segs = [(signed_diff(seq, base), data, frame) for seq, data, frame in self.segments]
        # Stable sort: among equal offsets the earliest frame wins.
        for rel, data, frame in sorted(segs, key=lambda s: s[0]):
            if rel < 0:
                # Bytes before the stream start: only a SYN-less capture of
                # an odd retransmission can do this; keep what overlaps.
                data, rel = data[-rel:], 0
            end = rel + len(data)
            if rel > len(out):
                raise PcapError(
                    f"connection {self.num} ({self.client}:{self.cport}): bytes "
                    f"{len(out)}..{rel - 1} were never captured (next segment in frame {frame})"
                )
            if end <= len(out):
                old = out[rel:end]
                new = data
            else:
                old = out[rel:]
                new = data[: len(out) - rel]
                out += data[len(out) - rel:]
            if old != new:
                print(
                    f"pcap_streams: connection {self.num}: frame {frame} retransmits bytes "
                    f"{rel}..{rel + len(new) - 1} with different data; keeping the first copy",
                    file=sys.stderr,
                )
        return bytes(out)


def split(path, port):
    """Returns the connections to PORT, in order of their first packet."""
    conns = {}
    order = []
    for frame, linktype, pkt in read_pcap(path):
        got = ip_to_tcp(link_to_ip(linktype, pkt))
        if got is None:
            continue
        src, dst, tcp = got
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack_from(">HHI", tcp)
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        if dport == port:
            key = (src, sport, dst, dport)
        elif sport == port:
            key = (dst, dport, src, sport)
        else:
            continue
        conn = conns.get(key)
        syn = flags & TCP_SYN and not flags & TCP_ACK and dport == port
        if conn is None or (syn and conn.reused_by(seq)):
            conn = Conn(len(order) + 1, key[0], key[1])
            conns[key] = conn
            order.append(conn)
        if dport == port:
            conn.add(seq, flags, tcp[doff:], frame)
    return order


def kafka_frames(data):
    """Yields (offset, size, api_key, api_version, corr) per request frame."""
    off = 0
    while off + 4 <= len(data):
        size = struct.unpack_from(">i", data, off)[0]
        if size < 8 or off + 4 + size > len(data):
            yield off, size, None, None, None
            return
        _, key, ver, corr = KAFKA_HDR.unpack_from(data, off)
        yield off, size, key, ver, corr
        off += 4 + size
    if off != len(data):
        yield off, len(data) - off, None, None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int, required=True, help="server TCP port")
    ap.add_argument("--outdir", help="write NAME-cN.bin files here")
    ap.add_argument("--prefix", default="conn", help="file name prefix (default: conn)")
    ap.add_argument("--frames", action="store_true", help="list Kafka frame headers")
    args = ap.parse_args()

    try:
        conns = split(args.pcap, args.port)
        for c in conns:
            data = c.stream()
            path = "-"
            if args.outdir:
                path = os.path.join(args.outdir, f"{args.prefix}-c{c.num}.bin")
                with open(path, "wb") as f:
                    f.write(data)
            print(f"{c.num}\t{c.client}\t{c.cport}\t{len(data)}\t{path}")
            if args.frames:
                for off, size, key, ver, corr in kafka_frames(data):
                    if key is None:
                        print(f"\tpartial\t{off}\t{size}\t-\t-\t-")
                    else:
                        print(f"\tframe\t{off}\t{size}\t{key}\t{ver}\t{corr}")
    except (PcapError, OSError) as e:
        print(f"pcap_streams: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
