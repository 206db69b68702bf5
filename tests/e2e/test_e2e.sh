#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End to end: the rig (scripts/rig.sh) with kgate attached to the broker-side
# interface (native XDP + TC egress, redirect to the quarantine interface), the policy
# tests/e2e/policies/e2e.yaml, real clients from eu and us over IPv4 and IPv6, the
# test-only SASL front for SASL and admin scenarios; scenarios in tests/e2e/scenarios.py.
#
#   tests/e2e/test_e2e.sh [SCENARIO ...]    (root; default: all)
#
# The evasion suite (crafted TCP sessions) is tests/e2e/test_evasion.sh.
#
# Everything lives in namespaces, pins (KGATE_PIN_ROOT), state and run directories named
# after the run; the trap removes them.
set -uo pipefail
cd "$(dirname "$0")/../.."
NAME=test_e2e
source tests/e2e/lib_agent.sh
"$KGATE" run --help >/dev/null 2>&1 || { echo "test_e2e: $KGATE has no 'run'" >&2; exit 1; }
e2e_up
rig_add_client eu2 10.10.1.2 - || exit 1 # the orders-svc identity CIDR
RIG_NS_EU2=$RIG_LAST_NS
rig_add_client qz 10.30.0.2 - || exit 1 # the quarantined region
RIG_NS_QZ=$RIG_LAST_NS
printf 'alice:alice-secret\nbob:bob-secret\n' >"$RIG_DIR/users"
rig_sasl_front "$RIG_DIR/users" || exit 1
printf 'RIG_NS_EU2=%s\nRIG_NS_QZ=%s\n' "$RIG_NS_EU2" "$RIG_NS_QZ" >>"$RIG_ENV"

# The agent runs as in deploy/: root with only the capabilities the DaemonSet and the
# systemd unit grant, its policy a file it re-reads on SIGHUP, /healthz on --metrics-addr.
cp tests/e2e/policies/e2e.yaml "$RIG_DIR/policy.yaml"
rig_spawn "$RIG_NS_BROKER" kgate setpriv --bounding-set=-all,+bpf,+net_admin,+perfmon,+sys_resource \
	-- "$KGATE" run --iface "$RIG_BROKER_IF" \
	--policy "$RIG_DIR/policy.yaml" --quarantine-iface "$RIG_QUAR_IF" \
	--audit-brokers "127.0.0.1:$RIG_AUDIT_PORT" --audit-topic kgate.audit \
	--audit-file "$RIG_DIR/audit.jsonl" --metrics-addr 127.0.0.1:9464 --node "e2e-$RIG_ID"
KGATE_PID=$RIG_LAST_PID
rig_kgate_wait "$KGATE_PID" || { FAILED=1; exit 1; }
if ! ip -n "$RIG_NS_BROKER" link show "$RIG_BROKER_IF" | grep -q "xdp "; then
	FAILED=1
	echo "FAIL: no native XDP on $RIG_BROKER_IF" >&2
	exit 1
fi

health=$(rig_exec "$RIG_NS_BROKER" /usr/bin/python3 -c '
import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9464/healthz", timeout=5).status)' 2>&1)
if [ "$health" = 200 ]; then
	echo "ok   deploy: agent with BPF, NET_ADMIN, PERFMON, SYS_RESOURCE only; /healthz on --metrics-addr answers 200"
else
	echo "FAIL deploy: /healthz on --metrics-addr: $health"
	rc=1
fi

# arguments: scenario numbers; none = every scenario
/usr/bin/python3 tests/e2e/scenarios.py "$RIG_ENV" "$KGATE" tests/e2e/policies "$@" || rc=1

# Reload as deploy/ triggers it: the policy file changes, the agent gets SIGHUP.
hup_wait() { # pattern: the agent's log says it
	for _ in $(seq 50); do
		grep -q "$1" "$RIG_DIR/kgate.err" && return 0
		sleep 0.1
	done
	return 1
}
sed 's/^version: "e2e-1"/version: "e2e-1-hup"/' tests/e2e/policies/e2e.yaml >"$RIG_DIR/policy.yaml"
kill -HUP "$KGATE_PID"
if hup_wait '"e2e-1-hup"'; then
	echo "ok   reload: SIGHUP applied the changed policy file (e2e-1-hup)"
else
	echo "FAIL reload: SIGHUP did not apply the changed policy file"
	rc=1
fi
printf 'version: "broken"\nrules: [\n' >"$RIG_DIR/policy.yaml"
kill -HUP "$KGATE_PID"
if hup_wait "policy.yaml:[0-9]*:[0-9]*:" && kill -0 "$KGATE_PID" 2>/dev/null &&
	"$KGATE" policy show 2>/dev/null | grep -q "e2e-1-hup"; then
	echo "ok   reload: a broken file on SIGHUP is refused with FILE:LINE:COL, e2e-1-hup stays"
else
	echo "FAIL reload: broken policy on SIGHUP: $(tail -3 "$RIG_DIR/kgate.err")"
	rc=1
fi
[ $rc -eq 0 ] || FAILED=1
exit $rc
