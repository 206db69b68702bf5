#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kgate probe` on a real hook: native XDP on a veth in a network namespace. A client
# namespace replays a real client capture over TCP to a sink in the broker namespace;
# the events the in-kernel decoder reports must equal `kgate decode` on the same bytes.
# Namespaces and links get unique names and are removed by the trap.
set -euo pipefail
cd "$(dirname "$0")/../.."

KGATE=${KGATE:-build/kgate}
FIXTURE=${1:-tests/fixtures/captures/kafkapython-produce-c2.bin}
ID="kgp$$"
NSC="${ID}c"
NSB="${ID}b"
TMP=$(mktemp -d)
PROBE_PID=""
SINK_PID=""

cleanup() {
	set +e
	if [ -n "$PROBE_PID" ]; then
		kill "$PROBE_PID" 2>/dev/null
		wait "$PROBE_PID" 2>/dev/null
	fi
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null
	fi
	ip netns del "$NSC" 2>/dev/null || true
	ip netns del "$NSB" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$NSC"
ip netns add "$NSB"
ip link add "${ID}a" netns "$NSC" type veth peer name "${ID}z" netns "$NSB"
ip -n "$NSC" addr add 10.77.0.1/24 dev "${ID}a"
ip -n "$NSB" addr add 10.77.0.2/24 dev "${ID}z"
ip -n "$NSC" link set "${ID}a" up
ip -n "$NSB" link set "${ID}z" up
ip -n "$NSC" link set lo up
ip -n "$NSB" link set lo up

# A sink that accepts one connection and reads it to the end.
ip netns exec "$NSB" /usr/bin/python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.2", 9092)); s.listen(1); s.settimeout(30)
c, _ = s.accept()
while c.recv(65536): pass
' &
SINK_PID=$!

# one event a line (--jsonl): the lines are the events to wait for; -o json is one
# document whose line count is not the events' (the probe would wait out --duration)
"$KGATE" decode --jsonl "$FIXTURE" >"$TMP/want.json"
count=$(wc -l <"$TMP/want.json")
ip netns exec "$NSB" "$KGATE" probe --iface "${ID}z" --xdp-mode native --count "$count" \
	--duration 20 --jsonl >"$TMP/got.json" 2>"$TMP/probe.err" &
PROBE_PID=$!
for _ in $(seq 100); do
	grep -q "decoding port" "$TMP/probe.err" 2>/dev/null && break
	kill -0 "$PROBE_PID" 2>/dev/null || { cat "$TMP/probe.err" >&2; exit 1; }
	sleep 0.1
done

# Replay in small writes so requests and fields straddle segments.
ip netns exec "$NSC" /usr/bin/python3 -c '
import socket, sys, time
data = open(sys.argv[1], "rb").read()
s = socket.create_connection(("10.77.0.2", 9092), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(0, len(data), 37):
    s.sendall(data[i:i + 37]); time.sleep(0.002)
s.close()
' "$FIXTURE"

wait "$PROBE_PID" || { cat "$TMP/probe.err" >&2; exit 1; }
PROBE_PID=""
if ! grep -q 'stopped: --count events printed' "$TMP/probe.err"; then
	echo "FAIL: the probe did not stop after the $count events expected" >&2
	cat "$TMP/probe.err" >&2
	exit 1
fi
if ! diff -u "$TMP/want.json" "$TMP/got.json"; then
	echo "FAIL: kernel decoder on a live veth differs from kgate decode ($FIXTURE)" >&2
	exit 1
fi
# Detached on exit: nothing left on the interface.
if ip -n "$NSB" link show "${ID}z" | grep -q xdp; then
	echo "FAIL: XDP program left attached" >&2
	exit 1
fi
echo "probe-netns: $count events from native XDP equal kgate decode: 1 passed, 0 failed"
