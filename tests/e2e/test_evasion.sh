#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The evasion suite: crafted TCP sessions (scapy, tests/e2e/evasion_suite.py)
# from the rig's "us" namespace to the broker address 10.99.0.2:9092 through kgate
# (native XDP + TC egress on the broker-side interface, tests/e2e/policies/evasion.yaml).
# A recording relay in front of the mock keeps the bytes the broker host's TCP really
# delivered per connection; `kgate decode` reads them. Prints the table; non-zero on any
# BYPASS or FAIL.
#
#   tests/e2e/test_evasion.sh [CASE ...]     (root; CASE: 1, 2a, 4, ...; default all)
#
# EVASION_TCI=1 attaches kgate's TC ingress program instead of XDP (--tc-ingress).
# EVASION_KEEP_PCAP=1 keeps the broker-side capture (tcpdump on the broker interface,
# after XDP) of a failed run as /tmp/kgate-evasion-<run id>.pcap, for a reproducer.
#
# Namespaces, pins (KGATE_PIN_ROOT), state, run and capture directories are named after
# the run; the trap removes them, and the client namespace's RST-drop rule with it.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "test_evasion: needs root (netns, BPF)" >&2; exit 1; }
KGATE=$(realpath "${KGATE:-${BUILD:-build}/kgate}")
[ -x "$KGATE" ] || { echo "test_evasion: $KGATE not built" >&2; exit 1; }
PY=/usr/bin/python3
"$PY" -c 'import scapy.all' 2>/dev/null || { echo "test_evasion: python3-scapy missing (make deps)" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "test_evasion: tcpdump missing (make deps)" >&2; exit 1; }
source scripts/rig.sh

PORTS=41000:41999 # the crafted sessions' source ports (unique per case)
RST_RULE=(OUTPUT -p tcp --sport "$PORTS" --tcp-flags RST RST -m comment --comment kgate-evasion -j DROP)
T0=$(date +%s)

cleanup() {
	set +e
	[ -n "${TCPDUMP_PID:-}" ] && kill "$TCPDUMP_PID" 2>/dev/null && wait "$TCPDUMP_PID" 2>/dev/null
	if [ -n "${RIG_NS_US:-}" ] && [ -e "/run/netns/$RIG_NS_US" ]; then
		rig_exec "$RIG_NS_US" iptables -D "${RST_RULE[@]}" 2>/dev/null
	fi
	if [ -n "${RIG_ID:-}" ] && [ -n "${KGATE_PIN_ROOT:-}" ]; then
		[ -n "${KGATE_PID:-}" ] && kill "$KGATE_PID" 2>/dev/null && wait "$KGATE_PID" 2>/dev/null
		"$KGATE" detach --iface "$RIG_BROKER_IF" >/dev/null 2>&1
	fi
	if [ -n "${FAILED:-}" ] && [ -n "${RIG_DIR:-}" ]; then
		tail -20 "$RIG_DIR/kgate.err" >&2
		if [ -n "${EVASION_KEEP_PCAP:-}" ] && [ -s "$RIG_DIR/broker.pcap" ]; then
			cp "$RIG_DIR/broker.pcap" "/tmp/kgate-evasion-$RIG_ID.pcap" &&
				echo "test_evasion: broker-side capture kept: /tmp/kgate-evasion-$RIG_ID.pcap" >&2
		fi
	fi
	rig_down
}
trap cleanup EXIT

rig_up || exit 1
export KGATE_PIN_ROOT=/sys/fs/bpf/$RIG_ID KGATE_STATE_DIR=$RIG_DIR/state KGATE_RUN_DIR=$RIG_DIR/run

# The recording relay stands in front of the mock: what it reads is what the broker got.
rig_spawn "$RIG_NS_BROKER" recorder "$PY" tests/e2e/evasion_suite.py record \
	--dir "$RIG_DIR/rec" --backend "127.0.0.1:$RIG_MOCK_PORT" || exit 1
line=$(rig_wait_line recorder '^LISTENING ') || exit 1
rig_backend "${line##*:}" || exit 1
# Broker side, after XDP (AF_PACKET sees frames after the XDP verdict): EVASION_KEEP_PCAP.
rig_spawn "$RIG_NS_BROKER" tcpdump tcpdump -i "$RIG_BROKER_IF" -s 0 -U -w "$RIG_DIR/broker.pcap" \
	tcp port "$RIG_PORT"
TCPDUMP_PID=$RIG_LAST_PID

cp tests/e2e/policies/evasion.yaml "$RIG_DIR/policy.yaml"
rig_spawn "$RIG_NS_BROKER" kgate "$KGATE" run --iface "$RIG_BROKER_IF" \
	--policy "$RIG_DIR/policy.yaml" --audit-file "$RIG_DIR/audit.jsonl" --node "ev-$RIG_ID" \
	${EVASION_TCI:+--tc-ingress}
KGATE_PID=$RIG_LAST_PID
rig_kgate_wait "$KGATE_PID" || { FAILED=1; exit 1; }
if [ -n "${EVASION_TCI:-}" ]; then
	tc -n "$RIG_NS_BROKER" filter show dev "$RIG_BROKER_IF" ingress | grep -q kgate ||
		{ FAILED=1; echo "FAIL: no kgate TC ingress filter on $RIG_BROKER_IF" >&2; exit 1; }
else
	ip -n "$RIG_NS_BROKER" link show "$RIG_BROKER_IF" | grep -q "xdp " ||
		{ FAILED=1; echo "FAIL: no native XDP on $RIG_BROKER_IF" >&2; exit 1; }
fi

# The client kernel knows nothing of scapy's connections: keep it from resetting them.
rig_exec "$RIG_NS_US" iptables -A "${RST_RULE[@]}" || exit 1

rc=0
rig_exec "$RIG_NS_US" "$PY" tests/e2e/evasion_suite.py run "$RIG_ENV" "$KGATE" "$RIG_DIR/rec" \
	"$RIG_DIR/audit.jsonl" "${RIG_ID}usc" 41000 "$@" || rc=1
echo "test_evasion ($([ -n "${EVASION_TCI:-}" ] && echo TC ingress || echo XDP)): $(($(date +%s) - T0)) s"
[ $rc -eq 0 ] || FAILED=1
exit $rc
