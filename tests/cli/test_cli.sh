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

# options given once: every option that keeps one value (all but run's repeatable
# --iface) refuses a second, which would silently replace the first
check "detach --iface a --iface b: exit 2, nothing detached" exits_says 2 "--iface given twice" "$KGATE" detach --iface a --iface b
/usr/bin/python3 - "$KGATE" >"$TMP/once.txt" <<'PY'
import re, subprocess, sys
k = sys.argv[1]
cmds = ["decode", "probe", "observe", "run", "flows", "stats", "detach", "version"]
cmds += ["policy " + s for s in ["check", "apply", "show", "diff", "eval", "history",
                                 "rollback", "confirm", "pause", "resume", "whatif"]]
for cmd in cmds:
    out = subprocess.run([k] + cmd.split() + ["--help"], capture_output=True, text=True).stdout
    for line in out.split("\nOptions:\n", 1)[1].splitlines():
        # an option's own line: "  -o, --name" or "      --name" (help text lines that
        # mention an option are indented further)
        m = re.match(r"^  (?:-\w, |    )--([a-z][a-z0-9-]*) (\S+)\s+(.*)", line)
        if not m or "repeatable" in m.group(3):
            continue
        meta = m.group(2)
        # a value each option takes (observe's verdict V: one of its choices)
        value = ("1s" if meta == "DURATION" else meta.split("|")[0] if "|" in meta
                 else "1" if meta in ("N", "ID", "PORT", "BYTES", "SECONDS")
                 else "allow" if meta == "V" else "x")
        print("%s\t--%s\t%s" % (cmd, m.group(1), value))
PY
check "every command's value options were found (more than 40)" test "$(wc -l <"$TMP/once.txt")" -gt 40
while IFS=$'\t' read -r cmd opt value; do
	# shellcheck disable=SC2086 # cmd is "policy apply": two words
	check "$cmd $opt twice: exit 2, given twice" exits_says 2 "$opt given twice" "$KGATE" $cmd "$opt" "$value" "$opt" "$value"
done <"$TMP/once.txt"
check "observe --verdict twice: exit 2" exits_says 2 "--verdict given twice" "$KGATE" observe --verdict allow --verdict deny
# long options by a unique prefix; short ones clustered
check "run --pol FILE: --policy by its prefix (then --iface is missing)" exits_says 2 "--iface is required" "$KGATE" run --pol policies/residency.yaml
check "run --xdp turbo: a prefix's value is checked as the option's" exits_says 2 "--xdp-mode: 'turbo' is not native or generic" "$KGATE" run --iface lo --policy policies/residency.yaml --xdp turbo
check "observe --f: ambiguous, both named" exits_says 2 "option '--f' is ambiguous: --follow, --file" "$KGATE" observe --f
check "version --out=json: a prefix with =VALUE" bash -c "$KGATE version --out=json | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)[\"version\"]'"
check "observe -fo json: -f, then -o with the next word" exits_says 2 "--file reads a file: not with --follow" "$KGATE" observe --file tests/cli/observe/records.jsonl -fo json
check "observe -fojson: -f, then -o with the rest" exits_says 2 "--file reads a file: not with --follow" "$KGATE" observe --file tests/cli/observe/records.jsonl -fojson
check "observe -of: -o takes the rest (f), refused as a format" exits_says 2 "-o: 'f' is not text, wide or json" "$KGATE" observe --file tests/cli/observe/records.jsonl -of
check "observe -fx: an unknown short option in a cluster is named" exits_says 2 "unknown option '-x' \(in '-fx'\)" "$KGATE" observe -fx
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
check "probe --duration past a year: exit 2 (SECONDS * 1000 would overflow near LONG_MAX)" exits_says 2 "--duration: '9223372036854775807' is not a number from 1 to 31622400" "$KGATE" probe --iface lo --duration 9223372036854775807
check "probe on a missing interface: exit 1, names it" bash -c "$KGATE probe --iface kgnosuch0 2>&1 | grep -q kgnosuch0"

# kgate policy: the shipped policies validate; a broken one says FILE:LINE:COL, exit 1.
check "policy --help exits 0 with usage" bash -c "$KGATE policy --help | grep -q '^usage: kgate policy'"
check "policy check --help exits 0 with its usage" bash -c "$KGATE policy check --help | grep -q '^usage: kgate policy check'"
check "help policy prints the policy usage" bash -c "$KGATE help policy | grep -q '^usage: kgate policy'"
check "help policy apply prints apply's help, exit 0" bash -c "$KGATE help policy apply | grep -q '^usage: kgate policy apply' && [ \"\$($KGATE help policy apply)\" = \"\$($KGATE policy apply --help)\" ]"
check "policy help apply prints apply's help" bash -c "[ \"\$($KGATE policy help apply)\" = \"\$($KGATE policy apply --help)\" ]"
check "help policy frob: exit 2, names it" exits_says 2 "'policy' has no subcommand 'frob'" "$KGATE" help policy frob
check "policy diff --help: without --iface, the first pinned interface (not every one)" bash -c "$KGATE policy diff --help | grep -A1 -- '--iface IF' | grep -q 'the first pinned one' && ! $KGATE policy diff --help | grep -q 'every pinned'"
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
check "run --iface nine times: exit 2, at most the 8 its array holds" exits_says 2 'at most 8 --iface' "$KGATE" run --policy policies/residency.yaml --iface a1 --iface a2 --iface a3 --iface a4 --iface a5 --iface a6 --iface a7 --iface a8 --iface a9
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
# more interfaces pinned than one command walks: refused, not some of them
mkdir -p "$TMP/many/pins" "$TMP/many/state"
for i in $(seq 65); do mkdir -p "$TMP/many/pins/if$i" "$TMP/many/state/if$i/policies"; done
check "flows with 65 interfaces pinned: exit 1, says to name one" env KGATE_PIN_ROOT="$TMP/many/pins" \
	bash -c "out=\$($KGATE flows 2>&1); [ \$? -eq 1 ] && printf '%s' \"\$out\" | grep -q '65 interfaces are pinned under .*, more than the 64 one command walks: name one with --iface'"
check "policy history with 65 stores: exit 1, says to name one" env KGATE_STATE_DIR="$TMP/many/state" \
	bash -c "out=\$($KGATE policy history 2>&1); [ \$? -eq 1 ] && printf '%s' \"\$out\" | grep -q '65 policy stores under .*, more than the 64'"
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
