#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""TEST-ONLY TCP relay for the end-to-end rig (scripts/rig.sh); not part of kgate.

Why it exists: the mock cluster listens on 127.0.0.1 and advertises that address.
For IPv4 the rig uses DNAT (docs/DESIGN.md §8). IPv6 cannot be DNATed to a loopback address
(there is no route_localnet for IPv6), so for IPv6 clients the rig relays instead:

  broker namespace:  [brokerIP6]:9092  -> 127.0.0.1:<target>   (--connect-file)
  client namespace:  127.0.0.1:<mock>  -> [brokerIP6]:9092

The relay in a client namespace opens its own connection from the namespace's IPv6
address, so kgate on the broker-side interface sees the client's IPv6 source.

  tcp_relay.py --listen HOST:PORT (--connect HOST:PORT | --connect-file FILE)

--connect-file is read at every accepted connection (one "HOST:PORT" line), so the rig
can point new connections at another backend (the SASL front) without a restart.
Prints "READY" on stdout once listening; serves until SIGTERM.
"""
import argparse
import signal
import socket
import sys
import threading

BUF = 65536


def split_hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def pump(src, dst):
    try:
        while True:
            data = src.recv(BUF)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    # Half-close toward the other side, so a client's FIN reaches the broker.
    for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
        try:
            s.shutdown(how)
        except OSError:
            pass


def serve(conn, target):
    try:
        up = socket.create_connection(split_hostport(target), timeout=10)
        up.settimeout(None)
    except OSError as e:
        print(f"tcp_relay: connect {target}: {e}", file=sys.stderr)
        conn.close()
        return
    for s in (conn, up):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = threading.Thread(target=pump, args=(up, conn), daemon=True)
    t.start()
    pump(conn, up)
    t.join()
    conn.close()
    up.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--connect")
    g.add_argument("--connect-file")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = split_hostport(a.listen)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(128)
    print("READY", flush=True)
    while True:
        conn, _ = ls.accept()
        if a.connect_file:
            with open(a.connect_file) as f:
                target = f.read().strip()
        else:
            target = a.connect
        threading.Thread(target=serve, args=(conn, target), daemon=True).start()


if __name__ == "__main__":
    main()
