#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/profile.sh [TOPICS [LINES]]: where kgate_xdp spends a warm Produce of TOPICS
# topics (0: the continuation case; default 10), by function and by source line, from
# perf samples mapped through the JIT line table (bench/jit_lines.c). Root; needs perf.
# Run by `make bench-profile TOPICS=N`. A profile, not a measurement: numbers are shares.
set -euo pipefail
cd "$(dirname "$0")/.."
TOPICS=${1:-10}
LINES=${2:-40}
case "$TOPICS" in --help | -h) sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/kgate-profile.XXXXXX)
BENCH_PID=""
trap '[ -n "$BENCH_PID" ] && kill "$BENCH_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
KGATE_BENCH_PROFILE=$TOPICS KGATE_BENCH_WARM=1 KGATE_BENCH_ITERS=100000 \
	build/bench_datapath "$TMP/unused.json" >/dev/null 2>&1 &
BENCH_PID=$!
for _ in $(seq 100); do # the program is loaded once the warm-up rounds begin
	ID=$(bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
ids = [p["id"] for p in json.load(sys.stdin) if p.get("name") == "kgate_xdp"]
print(ids[-1] if ids else "")')
	[ -n "$ID" ] && break
	sleep 0.1
done
[ -n "$ID" ] || { echo "profile: kgate_xdp did not load" >&2; exit 1; }
sleep 2
build/jit_lines "$ID" >"$TMP/lines"
perf record -q -a -F 10000 -o "$TMP/perf.data" -- sleep 8 >/dev/null 2>&1
perf script -i "$TMP/perf.data" --comm bench_datapath -F ip,sym 2>/dev/null |
	awk '$2 ~ /^bpf_prog_/ {print $1, $2}' >"$TMP/samples"
python3 - "$TMP/lines" "$TMP/samples" "$LINES" <<'PY'
import bisect, collections, sys
lines = sorted((int(a, 16), rest) for a, rest in
               (l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1])))
addrs = [a for a, _ in lines]
by_fn, by_line, total = collections.Counter(), collections.Counter(), 0
for l in open(sys.argv[2]):
    ip, sym = l.split()
    if "bench_wrap" in sym:  # the bench's own flow restore
        continue
    total += 1
    by_fn[sym.split("_", 3)[-1]] += 1
    i = bisect.bisect_right(addrs, int(ip, 16)) - 1
    by_line[lines[i][1] if i >= 0 else "?"] += 1
if not total:
    sys.exit("profile: no samples in kgate_xdp")
print(f"{total} samples in kgate_xdp and its functions")
for k, v in by_fn.most_common(20):
    print(f"{100 * v / total:5.1f}%  {k}")
print()
for k, v in by_line.most_common(int(sys.argv[3])):
    print(f"{100 * v / total:5.1f}%  {k[:140]}")
PY
