# SPDX-License-Identifier: Apache-2.0
# What the end-to-end scripts that run an agent on the rig share (test_e2e.sh,
# test_flows.sh, test_storm.sh). Sourced from the repository's root with NAME set (the
# script's name, for messages): checks root and the kgate binary (KGATE, BUILD), sources
# scripts/rig.sh and installs the trap that stops the agent (KGATE_PID), detaches it and
# takes the rig down (with the agent's last log lines when FAILED is set). Gives ok/bad
# result lines (bad sets rc 1), jget (a Python expression over one JSON document: d),
# stats (the datapath's counters, JSON), e2e_up: the rig, with the pin root, state and run
# directories named after it, e2e_agent ARGS: `kgate run` on the broker's interface
# with ARGS, waited for (KGATE_PID), and e2e_tool PATH: a built tool's absolute path
# (`X=$(e2e_tool P) || exit 1`). T0: when the script started.
[ "$(id -u)" -eq 0 ] || { echo "$NAME: needs root (netns, BPF)" >&2; exit 1; }
KGATE=$(realpath "${KGATE:-${BUILD:-build}/kgate}")
[ -x "$KGATE" ] || { echo "$NAME: $KGATE not built" >&2; exit 1; }
BUILD=${BUILD:-build}
PY=/usr/bin/python3
T0=$(date +%s)
# shellcheck source=scripts/rig.sh
source scripts/rig.sh

cleanup() {
	set +e
	if [ -n "${RIG_ID:-}" ] && [ -n "${KGATE_PIN_ROOT:-}" ]; then
		# stop the agent first (rig_down would too), then remove what it pinned
		[ -n "${KGATE_PID:-}" ] && kill "$KGATE_PID" 2>/dev/null && wait "$KGATE_PID" 2>/dev/null
		"$KGATE" detach --iface "$RIG_BROKER_IF" >/dev/null 2>&1
	fi
	[ -n "${FAILED:-}" ] && [ -n "${RIG_DIR:-}" ] && tail -20 "$RIG_DIR/kgate.err" >&2
	rig_down
}
trap cleanup EXIT

rc=0
ok() { echo "ok   $*"; }
bad() {
	echo "FAIL $*"
	rc=1
}
jget() { "$PY" -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }
stats() { "$KGATE" stats --iface "$RIG_BROKER_IF" -o json; }

e2e_up() {
	rig_up || exit 1
	export KGATE_PIN_ROOT=/sys/fs/bpf/$RIG_ID KGATE_STATE_DIR=$RIG_DIR/state
	export KGATE_RUN_DIR=$RIG_DIR/run
}

e2e_agent() {
	rig_spawn "$RIG_NS_BROKER" kgate "$KGATE" run --iface "$RIG_BROKER_IF" "$@"
	KGATE_PID=$RIG_LAST_PID
	rig_kgate_wait "$KGATE_PID" || { FAILED=1; exit 1; }
}

e2e_tool() {
	local p
	p=$(realpath "$1") && [ -x "$p" ] || { echo "$NAME: $1 not built" >&2; return 1; }
	echo "$p"
}
