#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Smoke test of the benchmark (make test-bench, root, ~15 s): the tools are built, and a
# BENCH_QUICK run of one part (policy: a rig, an agent, two 10,000-rule applies) writes a
# results file with the key and its target, a report and a PNG, into a directory of its
# own (bench/results.json is not touched), and leaves no namespace or pin behind.
# Measures nothing: the numbers of a quick run on a shared machine mean little.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
[ "$(id -u)" -eq 0 ] || { echo "test_bench: needs root (namespaces, BPF)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/kgate-test-bench.XXXXXX)
ID=kt$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
check() { # what command...
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok: $what"
	else
		fail=$((fail + 1))
		echo "FAIL: $what"
	fi
}

for t in kprod kwire relay synflood netem bpfrun xdp_pass.bpf.o xdp_bounce.bpf.o; do
	check "tool $t is built" test -e "$BUILD/bench/$t"
done
cp bench/results.json "$TMP/results.json" 2>/dev/null || echo '{}' >"$TMP/results.json"
BEFORE=$(md5sum bench/results.json 2>/dev/null)
RIG_ID=$ID BUILD=$BUILD BENCH_QUICK=1 BENCH_RESULTS="$TMP/results.json" \
	BENCH_MD="$TMP/BENCHMARKS.md" BENCH_PNG="$TMP/benchmarks.png" BENCH_OUT="$TMP/out" \
	timeout 120 bench/run.sh policy >"$TMP/log" 2>&1
rc=$?
check "BENCH_QUICK=1 bench/run.sh policy exits 0 (rc $rc)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -20 "$TMP/log"
check "results: policy_apply_ms_10k has a value, its target and whether it is met" \
	/usr/bin/python3 - "$TMP/results.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
k = d["policy_apply_ms_10k"]
assert isinstance(k["value"], (int, float)) and k["value"] > 0, k
assert k["target"] == "<= 100" and k["met"] == (k["value"] <= 100), k
assert d["targets"]["policy_apply_ms_10k"]["value"] == k["value"]
assert d["policy_meta"]["quick"] is True and d["policy_meta"]["load"]["before"]
EOF
check "the report names the key and the machine" \
	grep -q "policy_apply_ms_10k.*<= 100" "$TMP/BENCHMARKS.md"
check "the plot is a PNG" sh -c "head -c 8 '$TMP/benchmarks.png' | od -An -c | grep -q 'P   N   G'"
check "no namespace of the run is left" sh -c "! ip netns list | grep -q '^$ID'"
check "no pin of the run is left" test ! -e "/sys/fs/bpf/$ID"
check "bench/results.json was not touched" [ "$(md5sum bench/results.json 2>/dev/null)" = "$BEFORE" ]
echo "test_bench: $pass passed, $fail failed"
[ $fail -eq 0 ]
