#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's output samples, from a real agent (root): the rig (scripts/rig.sh), kgate
# run on the broker's interface with policies/demo.yaml and an audit file, real clients
# from both regions (one topic with a long name, a consumer group), then what an
# operator would look at. Writes to OUT (default /tmp/kgate-samples):
#
#   audit.jsonl    the agent's --audit-file (tests/cli/observe/ keeps one such run)
#   observe.txt    kgate observe (-o text)
#   wide.txt       kgate observe -o wide
#   metrics.txt    the agent's /metrics, kgate_ families only, without the HELP lines
#   stats.txt      kgate stats
#
#   scripts/samples.sh [OUT]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${1:-/tmp/kgate-samples}
[ "$(id -u)" -eq 0 ] || { echo "samples: needs root (BPF, network namespaces)" >&2; exit 1; }
make -s BUILD="$BUILD" "$BUILD/kgate" "$BUILD/tests/mock_broker" || exit 1
KGATE=$(realpath "$BUILD/kgate")
mkdir -p "$OUT"
# a topic name long enough to be shortened in the text view
LONG=eu.payments.settlement.card-transactions.v2

source scripts/rig.sh
cleanup() {
	set +e
	if [ -n "${RIG_ID:-}" ]; then
		[ -n "${KGATE_PID:-}" ] && kill "$KGATE_PID" 2>/dev/null && wait "$KGATE_PID" 2>/dev/null
		"$KGATE" detach --iface "$RIG_BROKER_IF" >/dev/null
		rig_down
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RIG_TOPICS="eu.orders us.orders ref.prices $LONG" rig_up || exit 1
export KGATE_PIN_ROOT=/sys/fs/bpf/$RIG_ID KGATE_STATE_DIR=$RIG_DIR/state KGATE_RUN_DIR=$RIG_DIR/run
rig_spawn "$RIG_NS_BROKER" kgate "$KGATE" run --iface "$RIG_BROKER_IF" \
	--policy policies/demo.yaml --audit-file "$RIG_DIR/audit.jsonl" \
	--metrics-addr 127.0.0.1:9464 --node broker-1
KGATE_PID=$RIG_LAST_PID
rig_kgate_wait "$KGATE_PID" || exit 1

C=(/usr/bin/python3 tests/e2e/clients.py)
B4="$RIG_BROKER4:$RIG_PORT"
B6="127.0.0.1:$RIG_MOCK_PORT"
run() { # ns, then the client's arguments
	local ns=$1
	shift
	rig_exec "$ns" "${C[@]}" "$@" --timeout 6 >/dev/null 2>&1
}
run "$RIG_NS_EU" confluent produce --bootstrap "$B4" --client-id orders-eu \
	--msg eu.orders=order-1001 --msg "$LONG=card-7"
run "$RIG_NS_US" kpy produce --bootstrap "$B4" --client-id orders-us --msg eu.orders=order-2001
run "$RIG_NS_US" kcat produce --bootstrap "$B4" --client-id orders-us --msg us.orders=order-2002
run "$RIG_NS_EU6" confluent consume --bootstrap "$B6" --client-id reader-eu6 --topic eu.orders \
	--group eu-readers --count 1
run "$RIG_NS_EU" kcat produce --bootstrap "$B4" --client-id pricing-eu --msg ref.prices=eurusd=1.08
sleep 1

"$KGATE" observe >"$OUT/observe.txt"
"$KGATE" observe -o wide >"$OUT/wide.txt"
"$KGATE" stats --iface "$RIG_BROKER_IF" >"$OUT/stats.txt"
rig_exec "$RIG_NS_BROKER" curl -s http://127.0.0.1:9464/metrics | grep '^kgate_' >"$OUT/metrics.txt"
cp "$RIG_DIR/audit.jsonl" "$OUT/audit.jsonl"
wc -l "$OUT"/*.txt "$OUT/audit.jsonl" >&2
