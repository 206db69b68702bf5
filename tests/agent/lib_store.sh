# SPDX-License-Identifier: Apache-2.0
# What the policy store's agent tests share (test_lifecycle.sh, test_store.sh), sourced
# from the repo's top as `. tests/agent/lib_store.sh PREFIX NAME`: ID (PREFIX and the pid)
# and TMP (/tmp/kgate-NAME.*), kgate (KGATE, made absolute), root, the run's own state,
# run and pin directories, tests/agent/lib.sh (the rig), the agent started and stopped with its log,
# its `policy` records, `policy show`, raw Produce requests, the policies the tests
# write, and the trap's cleanup (of BG_PID too: a background process of the test's own).
ID="$1$$"
TMP=$(mktemp -d "/tmp/kgate-$2.XXXXXX")
BG_PID=""

KGATE=$(readlink -f "${KGATE:-build/kgate}")
[ "$(id -u)" -eq 0 ] || { echo "${0##*/}: needs root (BPF, netns)" >&2; exit 1; }
# a pin root of this run's own: the datapath's counters are this test's alone
export KGATE_STATE_DIR="$TMP/state" KGATE_RUN_DIR="$TMP/run" KGATE_PIN_ROOT="/sys/fs/bpf/$ID"
# shellcheck source=tests/agent/lib.sh
. tests/agent/lib.sh
AGENT_PID=""
AUDIT=$TMP/audit.jsonl
LOG=$TMP/agent.log
# a command the agent runs under (e.g. unshare --time ...), empty by default
AGENT_WRAP=()

# the trap's: the processes the test started (BG_PID, the agent, the mock), the datapath
# of each interface in IFACES, the namespaces and TMP
IFACES=()
store_cleanup() {
	set +e
	reap $BG_PID $AGENT_PID $MOCK_PID
	for i in "$IFB" "${IFACES[@]}"; do
		nsenter --net="/run/netns/$NSB" "$KGATE" detach --iface "$i" >/dev/null 2>&1
	done
	[ -d "$KGATE_PIN_ROOT" ] && rm -rf "${KGATE_PIN_ROOT:?}"
	ip netns del "$NSC" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$TMP"
}

start_agent() { # extra args...; logs to $LOG (appended)
	echo "---- start" >>"$LOG"
	local from
	from=$(wc -l <"$LOG")
	"${AGENT_WRAP[@]}" nsenter --net="/run/netns/$NSB" "$KGATE" run --iface "$IFB" "$@" \
		--policy "$TMP/agent.yaml" \
		--audit-file "$AUDIT" --audit-brokers "127.0.0.1:$PORT" --audit-topic kgate.audit \
		--node test-node 2>>"$LOG" &
	AGENT_PID=$!
	for _ in $(seq 150); do
		tail -n +"$from" "$LOG" | grep -q 'running: node' && return 0
		sleep 0.1
	done
	echo "agent did not start:" >&2
	tail -n +"$from" "$LOG" >&2
	return 1
}
stop_agent() {
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	AGENT_PID=""
}
# the log since the last start
since_start() { awk '/^---- start/ {n = NR} {l[NR] = $0} END {for (i = n; i <= NR; i++) print l[i]}' "$LOG"; }
# waits up to 10 s for the log since the last start to match $1
log_has() {
	for _ in $(seq 100); do
		since_start | grep -qE -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
sha() { /usr/bin/python3 -c "import hashlib,sys; print('sha256:'+hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())" "$1"; }
# the `policy` record of $IFB's change N, once the agent wrote it (up to 10 s)
policy_rec() {
	for _ in $(seq 100); do
		grep -E "\"kind\":\"policy\",\"change\":$1,\"step\":\"[a-z]+\",\"iface\":\"$IFB\"" \
			"$AUDIT" 2>/dev/null | head -1 | grep . && return 0
		sleep 0.1
	done
	return 1
}
# pcheck NAME N ASSERTION: the assertion (python, on d) holds for change N's record
pcheck() {
	local name=$1 n=$2 expr=$3
	if policy_rec "$n" >"$TMP/prec" && json "$expr" <"$TMP/prec" 2>"$TMP/err"; then
		ok "$name"
	else
		bad "$name"
		sed 's/^/  | /' "$TMP/prec" "$TMP/err" | tail -10 >&2
	fi
}
changes() { grep -c '"kind":"policy"' "$TMP/state/$IFB/journal"; }
show() { kg policy show --iface "$IFB" -o json; }
# raw Produce v3 on one connection, one request per message: the same bytes whatever
# the answers (a rejected topic is answered, not reset), each topic decided by name
raw() { # client id, topic...
	local cid=$1 m=()
	shift
	for t in "$@"; do m+=(--msg "$t=x"); done
	inc /usr/bin/python3 tests/e2e/clients.py raw produce --bootstrap "$BIP:9092" \
		--client-id "$cid" --timeout 5 "${m[@]}"
}
raw_errs() { raw "$@" | json 'print(" ".join(r["error"] or "OK" for r in d["results"]))'; }

# rules the tests' policies add: ok.* allowed, or rejected
OK_ALLOW='  - name: ok-topics
    topics: ["ok.*"]
    action: allow'
OK_REJECT='  - name: ok-closed
    topics: ["ok.*"]
    action: reject'
# a policy for the tests (on the rig's addresses)
# version, rules after no-secrets (text), audit.allow (default all), audit.fold (default off:
# the cases count records, one a decision; one case folds)
policy() {
	cat <<EOF
version: "$1"
default: allow
audit:
  allow: ${3:-all}
  fold: ${4:-off}
listeners:
  - port: 9092
regions:
  eu: [10.10.77.0/24]
identities:
  orders-svc: [$CIP/32]
rules:
  - name: no-secrets
    topics: ["secret.*"]
    action: reject
$2
EOF
}
trap store_cleanup EXIT
