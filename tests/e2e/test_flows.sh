#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Connections under stress, end to end on the rig (scripts/rig.sh) with kgate attached
# (native XDP + TC egress) and tests/e2e/policies/evasion.yaml (eu.* rejected from us):
#  1. SYN flood: FLOWS_CONNS established connections from eu ask for Metadata every
#     100 ms while spoofed SYNs from 10.10.128.0/17 (tests/tools/syn_flood.c, more than
#     kg_syns holds) hit the listener for FLOWS_FLOOD_S seconds. Every connection must
#     see no reset and no second without an answer, during the flood and one second after
#     it; none of the SYNs becomes an established connection.
#  2. Pipelined rejects: 16, then 64 Produce requests to eu.orders from us on one
#     connection, sent before any answer is read: every answer says
#     TOPIC_AUTHORIZATION_FAILED (29), none the broker's own error for the poisoned name.
#  3. `kgate flows` with filters and --count on what is held.
# Prints ok/FAIL lines; exit 1 on any failure.
#
#   tests/e2e/test_flows.sh        (root; KGATE=path/to/kgate, BUILD=dir)
#
# Everything lives in the rig's namespaces and a pin root named after the run; the trap
# removes them (and the iptables rules and routes it added live in those namespaces).
set -uo pipefail
cd "$(dirname "$0")/../.."
NAME=test_flows
source tests/e2e/lib_agent.sh
FLOOD=$(e2e_tool "$BUILD/tests/syn_flood") || exit 1
CONNS=${FLOWS_CONNS:-20}
FLOOD_S=${FLOWS_FLOOD_S:-4}
# spoofed SYNs sent: more than kg_syns holds (65,536), and than the old flow table did
FLOOD_N=${FLOWS_FLOOD_N:-200000}

counter() { "$PY" -c "import json,sys; print(json.loads(sys.argv[1])['counters'].get('$2', 0))" "$1"; }

e2e_up
cp tests/e2e/policies/evasion.yaml "$RIG_DIR/policy.yaml"
e2e_agent --policy "$RIG_DIR/policy.yaml" --audit-file /dev/null --node "fl-$RIG_ID"

# ---- 1. SYN flood ----------------------------------------------------------------------
# The broker's answers to spoofed sources end at the router, as on the internet; the
# SYNs stay out of conntrack (its table is the host's, shared by every namespace) and, not
# DNATed to the mock, draw RSTs from the broker host: kgate sees every one of them.
ip -n "$RIG_NS_ROUTER" route add blackhole 10.10.128.0/17
rig_exec "$RIG_NS_BROKER" iptables -t raw -A PREROUTING -s 10.10.128.0/17 -j CT --notrack
pre=1
total=$((pre + FLOOD_S + 2))
rig_spawn "$RIG_NS_EU" active "$PY" tests/e2e/flows.py active --to "$RIG_BROKER4:$RIG_PORT" \
	--conns "$CONNS" --seconds "$total" --interval-ms 100 --stall-s 1 --topic open.events \
	--window "$pre:$((pre + FLOOD_S + 1))"
APID=$RIG_LAST_PID
rig_wait_line active "^READY $CONNS\$" >/dev/null || bad "not every active connection answered"
sleep "$pre"
s0=$(stats) # the active connections are established by now
gen=$(rig_exec "$RIG_NS_EU" "$FLOOD" --src 10.10.128.0/17 --dst "$RIG_BROKER4" \
	--port "$RIG_PORT" --count "$FLOOD_N" --seconds "$FLOOD_S")
wait "$APID"
act=$(tail -1 "$RIG_DIR/active.out")
s1=$(stats)
hs=$(($(counter "$s1" handshakes) - $(counter "$s0" handshakes)))
new=$(($(counter "$s1" flows_new) - $(counter "$s0" flows_new)))
echo "     flood: $gen; kgate saw $hs handshakes begin, $new connections established"
echo "     active connections: $act"
if [ "$(jget "$act" 'd["survived"]')" = "$CONNS" ] && [ "$(jget "$act" 'd["answers"]')" -gt 0 ]; then
	ok "SYN flood: all $CONNS established connections answered throughout (no reset, no 1 s stall)"
else
	bad "SYN flood: established connections: $act"
fi
if [ "$hs" -gt 65536 ] && [ "$new" -le 0 ]; then
	ok "SYN flood: $hs spoofed handshakes (more than kg_syns holds), none established"
else
	bad "SYN flood: $hs handshakes seen, $new established (want > 65536 and 0)"
fi
rig_exec "$RIG_NS_BROKER" iptables -t raw -D PREROUTING -s 10.10.128.0/17 -j CT --notrack

# ---- 2. pipelined rejects --------------------------------------------------------------
for n in 16 64; do
	p=$(rig_exec "$RIG_NS_US" "$PY" tests/e2e/flows.py pipelined --to "$RIG_BROKER4:$RIG_PORT" \
		--topic eu.orders --count "$n" --timeout 10)
	if [ "$(jget "$p" 'd["answers"]')" = "$n" ] &&
		[ "$(jget "$p" 'd["errors"].get("TOPIC_AUTHORIZATION_FAILED", 0)')" = "$n" ] &&
		[ "$(jget "$p" 'd["topics"]')" = "['eu.orders']" ]; then
		ok "$n pipelined rejected Produce requests: $n answers, every one TOPIC_AUTHORIZATION_FAILED for eu.orders"
	else
		bad "$n pipelined rejected Produce requests: $p"
	fi
done

# ---- 3. kgate flows at a glance --------------------------------------------------------
rig_spawn "$RIG_NS_US" hold "$PY" tests/e2e/flows.py active --to "$RIG_BROKER4:$RIG_PORT" \
	--conns 5 --seconds 3 --topic open.events
HPID=$RIG_LAST_PID
rig_wait_line hold "^READY 5\$" >/dev/null
cnt=$("$KGATE" flows --iface "$RIG_BROKER_IF" --count --client 10.20.0.2 --state ok)
lim=$("$KGATE" flows --iface "$RIG_BROKER_IF" -o json --region us --limit 2)
wait "$HPID"
if echo "$cnt" | grep -qE "held .* [5-9][0-9]* match$|, 5 match$" &&
	[ "$(jget "$lim" 'd["shown"]')" = 2 ] && [ "$(jget "$lim" 'd["matched"] >= 5')" = True ]; then
	ok "kgate flows: --count with --client and --state; --region with --limit 2 (2 of $(jget "$lim" 'd["matched"]') shown)"
else
	bad "kgate flows: '$cnt' / $lim"
fi

echo "test_flows: $(($(date +%s) - T0)) s"
[ $rc -eq 0 ] || FAILED=1
exit $rc
