#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Which end of a broker's veth kgate must be on (README, "Kubernetes quickstart"). The
# rig's broker namespace stands for a broker pod, the router's end of its veth for the
# host-side veth of that pod (vethXXX, caliXXX, lxcXXX). kgate decides the requests it
# *receives* (XDP or TC ingress) and follows the answers it *sends* (TC egress). On the
# host-side end a client's request is sent, not received: kgate sees no listener packet
# and a produce policies/demo.yaml rejects lands -- with XDP and with --tc-ingress alike.
# On the pod's own end (eth0 inside the pod) the same produce is refused. If the first
# half ever fails, kgate has learned to enforce from the host side: change the README.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "test_veth_end: needs root (BPF, netns)" >&2; exit 1; }
BUILD=${BUILD:-build}
KGATE=$(realpath "${KGATE:-$BUILD/kgate}")
source scripts/rig.sh
cleanup() {
	set +e
	[ -n "${KP:-}" ] && kill "$KP" 2>/dev/null
	rig_exec "$RIG_NS_ROUTER" "$KGATE" detach --iface "${RIG_ID}rb" >/dev/null 2>&1
	rig_exec "$RIG_NS_BROKER" "$KGATE" detach --iface "$RIG_BROKER_IF" >/dev/null 2>&1
	rig_down
}
trap cleanup EXIT
rig_up || exit 1
export KGATE_PIN_ROOT=/sys/fs/bpf/$RIG_ID KGATE_STATE_DIR=$RIG_DIR/state KGATE_RUN_DIR=$RIG_DIR/run
C=(/usr/bin/python3 tests/e2e/clients.py)
pass=0
fail=0
verdict() { # name, condition...
	local name=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok   $name"
	else
		fail=$((fail + 1))
		echo "FAIL $name ($OUT; listener_packets $LP)"
	fi
}

# kgate on IF in NS (extra flags after), then a us client's produce to eu.orders, which
# policies/demo.yaml rejects (eu-data-stays-in-eu): sets OUT (the client's error or
# "landed") and LP (kgate's listener_packets).
attempt() {
	local ns=$1 ifc=$2
	shift 2
	rig_spawn "$ns" kgate "$KGATE" run --iface "$ifc" --policy policies/demo.yaml "$@"
	KP=$RIG_LAST_PID
	rig_kgate_wait "$KP" || exit 1
	OUT=$(rig_exec "$RIG_NS_US" "${C[@]}" kpy produce --bootstrap "$RIG_BROKER4:$RIG_PORT" \
		--client-id veth-end --msg eu.orders=x --timeout 6 2>/dev/null |
		/usr/bin/python3 -c 'import json,sys; r=json.loads(sys.stdin.read().splitlines()[-1])["results"][0]; print(r["error"] or "landed")')
	LP=$(rig_exec "$ns" "$KGATE" stats --iface "$ifc" -o json |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["listener_packets"])')
	kill "$KP"
	wait "$KP" 2>/dev/null
	KP=""
	rig_exec "$ns" "$KGATE" detach --iface "$ifc" >/dev/null
	mv "$RIG_DIR/kgate.err" "$RIG_DIR/kgate.err.$ifc$*"
}

attempt "$RIG_NS_ROUTER" "${RIG_ID}rb"
verdict "host-side end, XDP: no listener packet, the rejected produce lands" \
	[ "$OUT" = landed -a "$LP" -eq 0 ]
attempt "$RIG_NS_ROUTER" "${RIG_ID}rb" --tc-ingress
verdict "host-side end, --tc-ingress: no listener packet, the rejected produce lands" \
	[ "$OUT" = landed -a "$LP" -eq 0 ]
attempt "$RIG_NS_BROKER" "$RIG_BROKER_IF"
verdict "pod-side end (eth0 in the broker's namespace): the produce is refused" \
	[ "$OUT" = TOPIC_AUTHORIZATION_FAILED -a "$LP" -gt 0 ]
echo "veth-end: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
