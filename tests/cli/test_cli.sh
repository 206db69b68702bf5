#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kgate CLI as a user meets it: --help everywhere, exit codes, JSON that parses,
# clear errors for bad input.
set -uo pipefail
cd "$(dirname "$0")/../.."
KGATE=${KGATE:-build/kgate}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

check() { # name, then a command that must succeed
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>"$TMP/err"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL: $name" >&2
		sed 's/^/  | /' "$TMP/out" "$TMP/err" >&2
	fi
}

exits() { # expected exit code, command...
	local want=$1
	shift
	"$@" >"$TMP/out" 2>"$TMP/err"
	[ $? -eq "$want" ]
}

for cmd in decode probe version help; do
	check "$cmd --help exits 0 with usage" bash -c "$KGATE $cmd --help | grep -q '^usage: kgate $cmd'"
done
check "no command: usage on stderr, exit 2" exits 2 "$KGATE"
check "unknown command: exit 2" exits 2 "$KGATE" frobnicate
check "version -o json parses" bash -c "$KGATE version -o json | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)[\"version\"]'"

fx=tests/fixtures/captures/kafkapython-produce-c2.bin
check "decode a capture: exit 0" exits 0 "$KGATE" decode "$fx"
check "decode names all three topics" bash -c "$KGATE decode $fx | grep -c '^topic name=' | grep -qx 3"
check "decode -o json: every line parses" bash -c "$KGATE decode -o json $fx | /usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'"
check "decode from stdin equals from file" bash -c "diff <($KGATE decode - <$fx) <($KGATE decode $fx)"
check "decode --chunk 1 equals whole" bash -c "diff <($KGATE decode --chunk 1 $fx) <($KGATE decode $fx)"
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc' >"$TMP/tls.bin"
check "decode TLS bytes: exit 1, reason printed" bash -c "$KGATE decode $TMP/tls.bin | grep -qx 'error tls_on_plaintext'; [ \${PIPESTATUS[0]} -eq 1 ]"
head -c 20 "$fx" >"$TMP/cut.bin"
check "decode a stream cut mid-frame: exit 1" exits 1 "$KGATE" decode "$TMP/cut.bin"
check "decode a missing file: exit 2, names it" bash -c "$KGATE decode /nonexistent/x.bin 2>&1 | grep -q '/nonexistent/x.bin'; [ \${PIPESTATUS[0]} -eq 2 ]"
check "decode bad -o: exit 2" exits 2 "$KGATE" decode -o yaml "$fx"
check "probe without --iface: exit 2" exits 2 "$KGATE" probe
check "probe on a missing interface: exit 1, names it" bash -c "$KGATE probe --iface kgnosuch0 2>&1 | grep -q kgnosuch0"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
