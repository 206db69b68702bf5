#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kgate CLI as a user meets it: --help everywhere, exit codes, JSON that parses,
# clear errors for bad input.
# the repository as the working directory, KGATE, TMP, check, exits, exits_says
. "$(dirname "$0")/lib.sh"

for cmd in decode probe version help run flows stats detach; do
	check "$cmd --help exits 0 with usage" bash -c "$KGATE $cmd --help | grep -q '^usage: kgate $cmd'"
done
check "no command: usage on stderr, exit 2" exits 2 "$KGATE"
check "unknown command: exit 2" exits 2 "$KGATE" frobnicate
check "version -o json: the VERSION file's version, a commit, the kernel's probes" bash -c "$KGATE version -o json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"version\"]==open(\"VERSION\").read().strip() and d[\"commit\"] and d[\"kernel\"][\"release\"] and \"ringbuf\" in d[\"kernel\"] and \"btf\" in d[\"kernel\"], d'"
check "version (text): semantic version and commit first, then the kernel" bash -c "$KGATE version | head -2 | grep -qE '^kgate [0-9]+\.[0-9]+\.[0-9]+ \(commit [^)]+\)' && $KGATE version | grep -q '^kernel '"
check "--version is version" bash -c "[ \"\$($KGATE --version | head -1)\" = \"\$($KGATE version | head -1)\" ]"
# one output flag, every spelling the parser takes
for spelling in "-o json" "-ojson" "--output json" "--output=json" "--jsonl"; do
	check "version $spelling: JSON" bash -c "$KGATE version $spelling | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)[\"version\"]'"
done
check "--jsonl with -o text: exit 2, says why" exits_says 2 "--jsonl writes JSON: not with -o text" "$KGATE" version --jsonl -o text
for cmd in decode probe observe flows stats detach version "policy apply" "policy show" "policy diff"; do
	check "$cmd --help: -o, --output and --jsonl" bash -c "$KGATE $cmd --help | grep -q -- '-o, --output text|' && $KGATE $cmd --help | grep -q -- '--jsonl'"
done

fx=tests/fixtures/captures/kafkapython-produce-c2.bin
check "decode a capture: exit 0" exits 0 "$KGATE" decode "$fx"
check "decode names all three topics" bash -c "$KGATE decode $fx | grep -c '^topic name=' | grep -qx 3"
check "decode names the API, its version and key" bash -c "$KGATE decode $fx | head -1 | grep -q '^frame Produce v7 (key 0) corr=1 size=417 client=kgate-kafkapython\$'"
check "decode -o json: one document, an array of every event" bash -c "$KGATE decode -o json $fx | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert [e[\"event\"] for e in d]==[\"frame\",\"topic\",\"topic\",\"topic\",\"frame_end\"], d'"
check "decode --jsonl: an event a line, the same events" bash -c "diff <($KGATE decode --jsonl $fx | /usr/bin/python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin])') <($KGATE decode -o json $fx | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin))')"
check "decode -o json of TLS bytes: still one document (exit 1)" bash -c "printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc' | $KGATE decode -o json - | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[0][\"reason\"]==\"tls_on_plaintext\", d'"
check "decode --help says how to get a stream out of a pcap" bash -c "$KGATE decode --help | grep -q -- '--pcap PCAP' && $KGATE decode --help | grep -q 'pcap_streams.py'"
check "decode from stdin equals from file" bash -c "diff <($KGATE decode - <$fx) <($KGATE decode $fx)"
check "decode --chunk 1 equals whole" bash -c "diff <($KGATE decode --chunk 1 $fx) <($KGATE decode $fx)"
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc' >"$TMP/tls.bin"
check "decode TLS bytes: exit 1, reason printed" bash -c "out=\$($KGATE decode $TMP/tls.bin); [ \$? -eq 1 ] && [ \"\$out\" = 'error tls_on_plaintext' ]"
head -c 20 "$fx" >"$TMP/cut.bin"
check "decode a stream cut mid-frame: exit 1" exits 1 "$KGATE" decode "$TMP/cut.bin"
check "decode a missing file: exit 2, names it" bash -c "out=\$($KGATE decode /nonexistent/x.bin 2>&1); [ \$? -eq 2 ] && printf '%s' \"\$out\" | grep -q '/nonexistent/x.bin'"
check "decode bad -o: exit 2" exits 2 "$KGATE" decode -o yaml "$fx"
check "probe without --iface: exit 2" exits 2 "$KGATE" probe
check "probe on a missing interface: exit 1, names it" bash -c "$KGATE probe --iface kgnosuch0 2>&1 | grep -q kgnosuch0"

# kgate policy: the shipped policies validate; a broken one says FILE:LINE:COL, exit 1.
check "policy --help exits 0 with usage" bash -c "$KGATE policy --help | grep -q '^usage: kgate policy'"
check "policy check --help exits 0 with its usage" bash -c "$KGATE policy check --help | grep -q '^usage: kgate policy check'"
check "help policy prints the policy usage" bash -c "$KGATE help policy | grep -q '^usage: kgate policy'"
check "policy without a subcommand: exit 2" exits 2 "$KGATE" policy
check "policy unknown subcommand: exit 2" exits 2 "$KGATE" policy frobnicate
for sub in apply show diff; do
	check "policy $sub --help exits 0 with its usage" bash -c "$KGATE policy $sub --help | grep -q '^usage: kgate policy $sub'"
	check "policy $sub bad -o: exit 2" exits 2 "$KGATE" policy "$sub" -o yaml policies/residency.yaml
	check "policy $sub unknown option: exit 2" exits_says 2 "unknown option '--frob'" "$KGATE" policy "$sub" --frob
done
check "policy apply without FILE: exit 2" exits_says 2 'no policy FILE' "$KGATE" policy apply
check "policy diff without FILE: exit 2" exits 2 "$KGATE" policy diff
check "policy apply two FILEs: exit 2" exits 2 "$KGATE" policy apply policies/residency.yaml policies/residency.yaml
check "policy apply --iface without a value: exit 2" exits 2 "$KGATE" policy apply --iface
check "policy check without FILE: exit 2" exits 2 "$KGATE" policy check
check "policy check bad -o: exit 2" exits 2 "$KGATE" policy check -o yaml policies/residency.yaml
for pol in policies/residency.yaml policies/contract-writers.yaml policies/monitor-rollout.yaml; do
	check "policy check $pol: exit 0, ok" bash -c "$KGATE policy check $pol | grep -q '^$pol: ok ('"
done
check "policy check -o json parses" bash -c "$KGATE policy check -o json policies/residency.yaml | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"ok\"] and d[\"rules\"] > 0'"
printf 'version: v1\ndefault: reject\nrules:\n  - name: a\n    topics: ["eu.*"]\n    operations: [produce, write]\n    action: reject\n' >"$TMP/bad.yaml"
check "policy check a bad operation: FILE:LINE:COL, exit 1" exits_says 1 "^$TMP/bad.yaml:6:27: operations: unknown operation \"write\"" "$KGATE" policy check "$TMP/bad.yaml"
check "policy check: the error goes to stderr" bash -c "$KGATE policy check $TMP/bad.yaml 2>/dev/null | wc -c | grep -qx 0"
printf 'version: v1\ndefault: reject\nrules:\n  - name: a\n    topics: ["eu*x"]\n    action: reject\n' >"$TMP/badtopic.yaml"
check "policy check a bad topic pattern: FILE:LINE:COL, exit 1" exits_says 1 "^$TMP/badtopic.yaml:5:14: rule \"a\": topic pattern" "$KGATE" policy check "$TMP/badtopic.yaml"
check "policy check -o json on a bad file: exit 1" exits 1 "$KGATE" policy check -o json "$TMP/bad.yaml"
check "policy check -o json on a bad file: line and col" bash -c "$KGATE policy check -o json $TMP/bad.yaml 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert (d[\"ok\"], d[\"line\"], d[\"col\"]) == (False, 6, 27)'"
check "policy check one bad among good: exit 1" exits 1 "$KGATE" policy check policies/residency.yaml "$TMP/bad.yaml"
check "policy check a missing file: exit 1, names it" exits_says 1 '^/nonexistent/p.yaml: cannot open' "$KGATE" policy check /nonexistent/p.yaml

# the datapath's lifecycle and views: usage errors need no datapath (exit 2 before any map)
check "run without --iface: exit 2, says so" exits_says 2 '--iface is required' "$KGATE" run --policy policies/residency.yaml
check "run without --policy: exit 2" exits_says 2 '--policy is required' "$KGATE" run --iface lo
check "run bad --xdp-mode: exit 2" exits_says 2 'not native or generic' "$KGATE" run --iface lo --policy policies/residency.yaml --xdp-mode turbo
check "run --tc-ingress with --xdp-mode: exit 2" exits_says 2 'exclude each other' "$KGATE" run --iface lo --policy policies/residency.yaml --tc-ingress --xdp-mode generic
check "run --audit-brokers without --audit-topic: exit 2" exits 2 "$KGATE" run --iface lo --policy policies/residency.yaml --audit-brokers 127.0.0.1:9
check "run unknown option: exit 2" exits 2 "$KGATE" run --frob
check "run stray argument: exit 2" exits 2 "$KGATE" run --iface lo --policy policies/residency.yaml extra
check "run a broken policy: FILE:LINE:COL, exit 1, nothing attached" exits_says 1 "^$TMP/bad.yaml:6:27: " "$KGATE" run --iface kgnosuch0 --policy "$TMP/bad.yaml"
check "run --help names every option" bash -c "$KGATE run --help | grep -q -- '--quarantine-iface' && $KGATE run --help | grep -q -- '--detach-on-exit'"
check "detach without --iface: exit 2" exits 2 "$KGATE" detach
check "detach a stray argument: exit 2" exits 2 "$KGATE" detach --iface x y
for cmd in flows stats; do
	check "$cmd bad -o: exit 2" exits 2 "$KGATE" "$cmd" -o yaml
	check "$cmd stray argument: exit 2" exits 2 "$KGATE" "$cmd" extra
done
# against a pin root and state dir that hold nothing: clear errors, exit 1 / 0
export KGATE_PIN_ROOT="$TMP/nopins" KGATE_STATE_DIR="$TMP/nostate"
check "flows with nothing pinned: exit 1, says so" exits_says 1 'no kgate datapath is pinned' "$KGATE" flows
check "stats on an interface without kgate: exit 1, names it" exits_says 1 'kgnosuch0: no kgate datapath' "$KGATE" stats --iface kgnosuch0
check "policy show with nothing pinned: exit 1" exits_says 1 'no kgate datapath is pinned' "$KGATE" policy show
check "policy apply with nothing pinned: exit 1" exits_says 1 'no kgate datapath is pinned' "$KGATE" policy apply policies/residency.yaml
check "policy apply a broken file: FILE:LINE:COL, exit 1" exits_says 1 "^$TMP/bad.yaml:6:27: " "$KGATE" policy apply "$TMP/bad.yaml"
check "policy diff a missing file: exit 1, names it" exits_says 1 '^/nonexistent/p.yaml: cannot open' "$KGATE" policy diff /nonexistent/p.yaml
check "detach where nothing is: exit 0, nothing to detach" exits_says 0 'nothing to detach' "$KGATE" detach --iface kgnosuch0
check "detach -o json where nothing is: one object" bash -c "$KGATE detach --iface kgnosuch0 -o json | /usr/bin/python3 -c 'import json,sys; assert json.load(sys.stdin)[\"detached\"] is False'"
unset KGATE_PIN_ROOT KGATE_STATE_DIR

# kgate policy eval: the reference evaluator's verdict and rule (no datapath)
check "policy eval --help exits 0 with its usage" bash -c "$KGATE policy eval --help | grep -q '^usage: kgate policy eval'"
check "policy eval: eu topic from us is rejected by its residency rule" exits_says 0 '^reject eu-data-stays-in-eu \(enforced\)$' "$KGATE" policy eval policies/residency.yaml --topic eu.orders --op produce --region us
check "policy eval: no region, no rule: the default decides" exits_says 0 '^reject default \(enforced\)$' "$KGATE" policy eval policies/residency.yaml --topic open.events --op produce
check "policy eval --stdin -o json: one document, one answer per query, in order" bash -c "printf 'eu.orders\tproduce\t\teu\nref.prices\tconsume\n' | $KGATE policy eval -o json --stdin policies/residency.yaml | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); assert [(x[\"verdict\"], x[\"rule\"]) for x in r] == [(\"allow\", \"eu-and-us-clients\"), (\"allow\", \"reference-data-readable-by-all\")], r'"
check "policy eval an unknown operation: exit 1" exits_says 1 "unknown operation 'fly'" "$KGATE" policy eval policies/residency.yaml --topic t --op fly
check "policy eval without --op: exit 2" exits 2 "$KGATE" policy eval policies/residency.yaml --topic t
check "policy eval a broken file: FILE:LINE:COL, exit 1" exits_says 1 "^$TMP/bad.yaml:6:27: " "$KGATE" policy eval "$TMP/bad.yaml" --topic t --op produce

# kgate observe's layout: recorded audit records (a real agent's, tests/cli/observe/
# records.jsonl, plus a few of every other kind) -> the text each view must print.
# KGATE_GOLDEN_UPDATE=1 writes the .golden files instead (then read the diff).
OBS=tests/cli/observe
golden() { # name, then observe's arguments
	local name=$1 args
	shift
	args=$([ $# -eq 0 ] || printf '%q ' "$@")
	if [ -n "${KGATE_GOLDEN_UPDATE:-}" ]; then
		"$KGATE" observe --file "$OBS/records.jsonl" "$@" >"$OBS/$name.golden"
	fi
	check "observe $args= $OBS/$name.golden" bash -c "diff -u $OBS/$name.golden <($KGATE observe --file $OBS/records.jsonl $args)"
}
golden text
golden wide -o wide
golden eu-allow --topic 'eu.*' --verdict allow
golden eu-orders --topic eu.orders
# --follow: an agent's socket played by a script: three records of backlog, the
# backlog_end marker, then the rest live, then the agent goes away. The backlog sets the
# widths (with the follow minimums); live rows keep them.
cat >"$TMP/agent.py" <<'PY'
import socket, sys, os
path, records = sys.argv[1], open(sys.argv[2], "rb").read().splitlines(True)
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
open(path + ".ready", "w").close()
c, _ = s.accept()
c.sendall(b"".join(records[:3]) + b'{"kind":"backlog_end"}\n')
for r in records[3:]:
    c.sendall(r)
c.close()
PY
follow() { # the golden's name, then observe's arguments
	local name=$1 sock=$TMP/$1.sock
	shift
	/usr/bin/python3 "$TMP/agent.py" "$sock" "$OBS/records.jsonl" &
	for _ in $(seq 50); do [ -e "$sock.ready" ] && break; sleep 0.1; done
	"$KGATE" observe --follow --socket "$sock" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	wait
	[ -n "${KGATE_GOLDEN_UPDATE:-}" ] && cp "$TMP/$name.out" "$OBS/$name.golden"
	check "observe --follow $* (a socket: backlog, then live) = $OBS/$name.golden" diff -u "$OBS/$name.golden" "$TMP/$name.out"
	check "observe --follow $*: says when the agent went away" grep -q 'the agent closed the connection' "$TMP/$name.err"
}
follow follow
follow follow-json -o json
check "observe --follow -o json: one array though the stream just ended" bash -c "/usr/bin/python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1])))==23' $OBS/follow-json.golden"

# within 120 columns (counted in characters: the ellipsis is one), every view of -o text
check "observe -o text: no line over 120 columns" bash -c "cat $OBS/text.golden $OBS/eu-allow.golden $OBS/eu-orders.golden $OBS/follow.golden | /usr/bin/python3 -c 'import sys; w=max(len(l.rstrip(chr(10))) for l in sys.stdin); assert w<=120, w'"
check "observe: ANONYMOUS alone when no source, the source for sasl/identity" bash -c "grep -q '  ANONYMOUS  ' $OBS/wide.golden && ! grep -q 'ANONYMOUS(' $OBS/wide.golden && grep -q 'orders-svc(sasl)' $OBS/wide.golden"
check "observe -o json: one array, the records as they were" bash -c "$KGATE observe --file $OBS/records.jsonl -o json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d==[json.loads(l) for l in open(\"$OBS/records.jsonl\")], len(d)'"
check "observe --jsonl: the records byte for byte" bash -c "diff <($KGATE observe --file $OBS/records.jsonl --jsonl) $OBS/records.jsonl"
check "observe --file - reads stdin" bash -c "diff <($KGATE observe --file - <$OBS/records.jsonl) $OBS/text.golden"
check "observe --file a missing file: exit 1, names it" exits_says 1 'observe: /nonexistent/a.jsonl' "$KGATE" observe --file /nonexistent/a.jsonl
check "observe --file with --follow: exit 2" exits 2 "$KGATE" observe --file "$OBS/records.jsonl" --follow
check "observe -o table is gone: exit 2, names the choices" exits_says 2 "not text, wide or json" "$KGATE" observe -o table

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
