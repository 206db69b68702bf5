#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test-only SASL front (tests/tools/sasl_front.c) in the rig, no kgate attached:
# PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 with kcat and confluent_kafka (SaslHandshake v1
# + SaslAuthenticate) and kafka-python (SaslHandshake v0 + raw tokens) produce, and the
# records are consumed back; a wrong password fails and lands nothing; a client without
# SASL is spliced through; CreateTopics/DeleteTopics are answered (--admin).
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "test_sasl_front: needs root (netns)" >&2; exit 1; }
source scripts/rig.sh
trap rig_down EXIT
rig_up || exit 1
printf '# user:password\nalice:alice-secret\nbob:b0b,=pw\n' >"$RIG_DIR/users"
rig_sasl_front "$RIG_DIR/users" && rig_backend "$RIG_FRONT_PORT" || exit 1

C=(/usr/bin/python3 tests/e2e/clients.py)
B="$RIG_BROKER4:$RIG_PORT"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
ko() { fail=$((fail + 1)); echo "FAIL $*"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$1"; }

want=()
for lib in kcat confluent kpy; do
	for mech in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
		v="$lib-$mech-$RANDOM"
		out=$(rig_exec "$RIG_NS_EU" "${C[@]}" "$lib" produce --bootstrap "$B" \
			--sasl "$mech:alice:alice-secret" --msg "sasl.t=$v")
		if [ "$(jget 'd["results"][0]["error"]' <<<"$out")" = None ]; then
			ok "$lib $mech produce"
			want+=("$v")
		else
			ko "$lib $mech produce: $out"
		fi
	done
	out=$(rig_exec "$RIG_NS_EU" "${C[@]}" "$lib" produce --bootstrap "$B" --timeout 5 \
		--sasl "SCRAM-SHA-256:alice:wrong" --msg "sasl.t=must-not-land")
	e=$(jget 'd["results"][0]["error"]' <<<"$out")
	if [ "$e" != None ]; then ok "$lib wrong password refused ($e)"; else ko "$lib wrong password: $out"; fi
done
# a user name with ',' and '=' (SCRAM escapes them as =2C and =3D)
out=$(rig_exec "$RIG_NS_EU" "${C[@]}" kpy produce --bootstrap "$B" \
	--sasl "SCRAM-SHA-256:bob:b0b,=pw" --msg "sasl.t=bob-$RANDOM")
[ "$(jget 'd["results"][0]["error"]' <<<"$out")" = None ] && ok "kpy SCRAM password with , and =" ||
	ko "kpy SCRAM password with , and =: $out"

# consume back through the front (authenticated): exactly what was acknowledged
out=$(rig_exec "$RIG_NS_EU" "${C[@]}" confluent consume --bootstrap "$B" --topic sasl.t \
	--count 100 --timeout 8 --sasl "PLAIN:alice:alice-secret")
got=$(jget '"\n".join(d["records"])' <<<"$out")
if printf '%s\n' "${want[@]}" | grep -qvxFf <(printf '%s\n' "$got"); then
	ko "consume back: $out"
elif grep -q must-not-land <<<"$got"; then
	ko "a wrong password's record landed"
else
	ok "consume back: ${#want[@]} acknowledged records present, none from a wrong password"
fi
# no SASL at all: spliced through unauthenticated
out=$(rig_exec "$RIG_NS_EU" "${C[@]}" kcat produce --bootstrap "$B" --msg "sasl.t=plain")
[ "$(jget 'd["results"][0]["error"]' <<<"$out")" = None ] && ok "plaintext client spliced" ||
	ko "plaintext client: $out"
# admin answered by the front
out=$(rig_exec "$RIG_NS_EU" "${C[@]}" raw create --bootstrap "$B" --topic adm.new)
[ "$(jget 'd["results"][0]["error"]' <<<"$out")" = None ] && ok "CreateTopics answered" ||
	ko "CreateTopics: $out"
n_ok=$(grep -c 'result=ok' "$RIG_DIR/sasl-front.err")
n_fail=$(grep -c 'result=fail' "$RIG_DIR/sasl-front.err")
grep -q 'handshake=v0' "$RIG_DIR/sasl-front.err" && grep -q 'handshake=v1' "$RIG_DIR/sasl-front.err" &&
	ok "both handshakes seen (v0: kafka-python, v1: librdkafka); $n_ok ok, $n_fail failed" ||
	ko "handshake versions: $(cat "$RIG_DIR/sasl-front.err")"
echo "sasl_front: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
