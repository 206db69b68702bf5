# SPDX-License-Identifier: Apache-2.0
# What the agent tests on a real hook share (sourced by test_runtime.sh and
# test_lifecycle.sh, as root): the checks and their counts, commands in the namespaces,
# and the rig: client netns NSC (CIP, region "eu" in the tests' policies) -- veth --
# broker netns NSB (BIP), with librdkafka's mock cluster on 127.0.0.1:PORT in NSB behind
# DNAT, so kgate on IFB sees every connection on port 9092 (docs/DESIGN.md §8): B DNATs
# BIP:9092 to the mock (route_localnet), C DNATs 127.0.0.1:PORT back to BIP:9092.
# Commands run in B with `nsenter --net` (not `ip netns exec`, which remounts /sys and
# would hide /sys/fs/bpf).
#
# The caller sets ID (unique per run), TMP and KGATE (absolute), and removes what
# rig_up made in its own trap (the namespaces, MOCK_PID).

NSC="${ID}c"
NSB="${ID}b"
IFC="${ID}c0" # client side of the veth
IFB="${ID}b0" # broker side: kgate attaches here
CIP=10.10.77.2
BIP=10.10.77.1
MOCK_PID=""
pass=0
fail=0

ok() {
	pass=$((pass + 1))
	echo "ok: $1"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL: $1" >&2
}
check() { # name, command... (must succeed)
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>"$TMP/err"; then
		ok "$name"
	else
		bad "$name"
		sed 's/^/  | /' "$TMP/out" "$TMP/err" | tail -20 >&2
	fi
}
reap() { # pid...: killed and waited for (the trap's, for the processes a test started)
	for p in "$@"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
inb() { nsenter --net="/run/netns/$NSB" "$@"; }
inc() { ip netns exec "$NSC" "$@"; }
kg() { inb "$KGATE" "$@"; }
# waits up to $3 tenths of a second for file $1 to match $2
wait_for() {
	for _ in $(seq "${3:-100}"); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }
jcheck() { # name, python assertion on d (the command's JSON document), command...
	local name=$1 expr=$2
	shift 2
	if "$@" >"$TMP/jout" 2>"$TMP/err" && json "$expr" <"$TMP/jout" 2>>"$TMP/err"; then
		ok "$name"
	else
		bad "$name"
		sed 's/^/  | /' "$TMP/jout" "$TMP/err" | tail -20 >&2
	fi
}

# rig_up TOPIC...: the namespaces, the veth and the mock (serving TOPIC...); sets PORT.
rig_up() {
	local t args=()
	ip netns add "$NSC"
	ip netns add "$NSB"
	ip link add "$IFC" netns "$NSC" type veth peer name "$IFB" netns "$NSB"
	ip -n "$NSC" addr add "$CIP/24" dev "$IFC"
	ip -n "$NSB" addr add "$BIP/24" dev "$IFB"
	for l in lo "$IFC"; do ip -n "$NSC" link set "$l" up; done
	for l in lo "$IFB"; do ip -n "$NSB" link set "$l" up; done
	# shellcheck disable=SC2046 # pkg-config output is meant to split into words
	cc -O2 -Wall -o "$TMP/mock_broker" tests/tools/mock_broker.c \
		$(pkg-config --cflags --libs rdkafka) || return 1
	for t in "$@"; do args+=(--topic "$t"); done
	ip netns exec "$NSB" "$TMP/mock_broker" "${args[@]}" --no-stdin \
		>"$TMP/mock.out" 2>"$TMP/mock.err" &
	MOCK_PID=$!
	wait_for "$TMP/mock.out" '^BOOTSTRAP ' 100 || { cat "$TMP/mock.err" >&2; return 1; }
	PORT=$(sed -n 's/^BOOTSTRAP 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/mock.out")
	[ -n "$PORT" ] || { echo "unexpected mock output: $(cat "$TMP/mock.out")" >&2; return 1; }
	ip netns exec "$NSB" sysctl -qw net.ipv4.conf.all.route_localnet=1
	ip netns exec "$NSB" iptables -t nat -A PREROUTING -p tcp -d "$BIP" --dport 9092 \
		-j DNAT --to-destination "127.0.0.1:$PORT"
	ip netns exec "$NSC" sysctl -qw net.ipv4.conf.all.route_localnet=1
	ip netns exec "$NSC" iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport "$PORT" \
		-j DNAT --to-destination "$BIP:9092"
	ip netns exec "$NSC" iptables -t nat -A POSTROUTING -o "$IFC" -j MASQUERADE
}

KCAT=(kcat -b "$BIP:9092" -X socket.timeout.ms=4000 -X message.timeout.ms=4000
	-X topic.metadata.refresh.interval.ms=-1)
produce() { # topic: exit 0 when the broker took the record
	echo "m-$1-$RANDOM" | inc "${KCAT[@]}" -P -t "$1" 2>"$TMP/kcat.err"
	! grep -q 'Delivery failed\|ERROR' "$TMP/kcat.err"
}
rejected() { ! produce "$1"; }
