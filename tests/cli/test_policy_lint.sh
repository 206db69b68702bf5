#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kgate policy check as a linter and policy eval as an honest question, through the
# binary: every lint error and warning from a file that triggers it (FILE:LINE:COL and
# its code) and from a near miss that does not; --strict; the shipped policies and the
# README's example passing --strict; apply and run refusing a policy that enforces
# nothing; eval of requests that name no topic, enforced, --explain, unknown names.
# the repository as the working directory, KGATE, TMP, check, exits, exits_says
. "$(dirname "$0")/lib.sh"

# the first lines of most files below: the finding's line numbers count from here
HEAD='version: v1
listeners:
  - port: 9092
default: allow
'
# name, text: writes $TMP/name.yaml. A file on $HEAD also says unknown_topic_id: reject, at
# its end (its findings keep their lines): under default: allow, ids kgate cannot name yet
# would be allowed, a warning of its own (unknown-id-allowed) that each file is not about.
put() {
	printf '%s' "$2" >"$TMP/$1.yaml"
	case $2 in "$HEAD"*) printf 'unknown_topic_id: reject\n' >>"$TMP/$1.yaml" ;; esac
}

# name, code, LINE:COL, level (warning|error), a file that triggers it, one that does not
lint_pair() {
	local name=$1 code=$2 at=$3 level=$4 bad=$TMP/$5.yaml good=$TMP/$6.yaml pre=''
	[ "$level" = warning ] && pre='warning: '
	if [ "$level" = warning ]; then
		check "lint $name: a warning at $at, exit 0" exits_says 0 "^$bad:$at: $pre.*\[$code\]\$" "$KGATE" policy check "$bad"
	else
		check "lint $name: an error at $at, exit 1" exits_says 1 "^$bad:$at: [^w].*\[$code\]\$" "$KGATE" policy check "$bad"
	fi
	check "lint $name: --strict refuses it" exits_says 1 "^$bad: refused: .*--strict" "$KGATE" policy check --strict "$bad"
	check "lint $name: the near miss passes --strict, without it" bash -c "$KGATE policy check --strict $good >$TMP/near 2>&1 && ! grep -q '\[$code\]' $TMP/near"
}

put no-listeners 'version: v1
default: reject
rules:
  - {name: everything, action: reject}
'
put listeners "$HEAD"'rules:
  - {name: everything, action: reject}
'
lint_pair "no listeners" no-listeners 1:1 error no-listeners listeners

put no-rules "$HEAD"
lint_pair "listeners no rule reaches" unreachable-listeners 3:5 error no-rules listeners

put shadowed "$HEAD"'rules:
  - {name: allow-all-eu, topics: ["eu.*"], action: allow}
  - {name: no-eu-orders, topics: [eu.orders], action: reject}
'
put in-order "$HEAD"'rules:
  - {name: no-eu-orders, topics: [eu.orders], action: reject}
  - {name: allow-all-eu, topics: ["eu.*"], action: allow}
'
lint_pair "a shadowed rule" shadowed 7:5 warning shadowed in-order
check "lint: the shadowed rule's message names the earlier rule" bash -c "$KGATE policy check $TMP/shadowed.yaml 2>&1 | grep -q 'rule \"no-eu-orders\" can never decide: rule \"allow-all-eu\" (6:5)'"

put contradiction "$HEAD"'regions:
  eu: [10.10.0.0/16]
  us: [10.20.0.0/16]
rules:
  - name: nowhere
    regions: [eu]
    regions_not: [eu]
    action: reject
  - {name: others, topics: [x], action: reject}
'
put regions-ok "$HEAD"'regions:
  eu: [10.10.0.0/16]
  us: [10.20.0.0/16]
rules:
  - name: us-only
    regions: [eu, us]
    regions_not: [eu]
    action: reject
  - {name: others, topics: [x], action: reject}
'
lint_pair "contradictory regions" contradiction 11:19 warning contradiction regions-ok

put near-miss "$HEAD"'identities:
  orders-svc: [10.10.1.0/24]
rules:
  - name: writers
    topics: [orders]
    principals: [order-svc]
    action: reject
'
sed 's/\[order-svc\]/[orders-svc]/' "$TMP/near-miss.yaml" >"$TMP/identity.yaml"
lint_pair "a principal near an identity" unknown-principal 10:18 warning near-miss identity
check "lint: the near miss names the identities and the guess" bash -c "$KGATE policy check $TMP/near-miss.yaml 2>&1 | grep -q 'identities: orders-svc.*did you mean \"orders-svc\"?'"

put redirect "$HEAD"'rules:
  - {name: quarantine-orders, topics: [orders], action: redirect}
'
put redirect-syn "$HEAD"'regions:
  quarantined: [10.30.0.0/16]
rules:
  - {name: quarantine-region, regions: [quarantined], action: redirect}
'
lint_pair "redirect on a topic rule" redirect-per-request 6:57 warning redirect redirect-syn

put host-bits "$HEAD"'regions:
  eu: [10.10.0.1/16]
rules:
  - {name: eu, regions: [eu], action: reject}
'
sed 's#10.10.0.1/16#10.10.0.0/16#' "$TMP/host-bits.yaml" >"$TMP/network.yaml"
lint_pair "a CIDR with host bits" cidr-host-bits 6:8 warning host-bits network

put topicless-first "$HEAD"'rules:
  - {name: producers, operations: [produce], action: allow}
  - {name: no-secrets, topics: ["secret.*"], action: reject}
'
put topicless-none "$HEAD"'rules:
  - {name: producers, topics: none, operations: [produce], action: allow}
  - {name: no-secrets, topics: ["secret.*"], action: reject}
'
lint_pair "a rule without topics before topic rules" topicless-rule-first 6:5 warning topicless-first topicless-none
# an earlier topic rule decides every request the two have in common: no warning (it was one)
put topicless-decided "$HEAD"'rules:
  - {name: alice-x, topics: [x], principals: [alice], action: allow}
  - {name: no-alice, principals: [alice], action: reject}
  - {name: x-readers, topics: [x], principals: [alice, bob], action: allow}
'
sed 's/principals: \[alice\], action: allow/principals: [alice], operations: [produce], action: allow/' "$TMP/topicless-decided.yaml" >"$TMP/topicless-partly.yaml"
lint_pair "a rule without topics deciding part of a topic rule's requests" topicless-rule-first 7:5 warning topicless-partly topicless-decided

# regions no address is in, and "in no region" when the regions cover every address
put empty-region "$HEAD"'regions:
  eu: [10.10.0.0/16]
  us: [10.10.0.0/17, 10.10.128.0/17]
rules:
  - {name: no-eu, topics: [x], regions: [eu], action: reject}
  - {name: others, topics: [y], action: reject}
'
sed 's#10.10.128.0/17#10.10.128.0/18#' "$TMP/empty-region.yaml" >"$TMP/half-region.yaml"
lint_pair "a region no address is in" contradiction 9:42 warning empty-region half-region
put world "$HEAD"'regions:
  world: [0.0.0.0/0, "::/0"]
rules:
  - {name: anyone, regions: [world], action: reject}
  - {name: no-secrets, topics: ["secret.*"], action: reject}
'
sed 's#, "::/0"##' "$TMP/world.yaml" >"$TMP/world4.yaml"
lint_pair "a region that holds every address shadows" shadowed 9:5 warning world world4

# policies that let everything through; monitor mode is a note
put all-audit "$HEAD"'rules:
  - {name: no-secrets, topics: ["secret.*"], action: reject, audit: true}
'
sed 's/, audit: true//' "$TMP/all-audit.yaml" >"$TMP/one-enforced.yaml"
lint_pair "every deny audit-only under default: allow" fail-open 4:10 warning all-audit one-enforced
put undecodable 'version: v1
listeners:
  - port: 9092
    on_undecodable: allow
default: reject
rules:
  - {name: plumbing, topics: none, action: allow}
'
sed 's/on_undecodable: allow/on_undecodable: drop/' "$TMP/undecodable.yaml" >"$TMP/undecodable-drop.yaml"
lint_pair "a listener that lets undecodable streams through" undecodable-allowed 4:21 warning undecodable undecodable-drop
# written without put: it is the file without unknown_topic_id
printf '%s' "$HEAD"'rules:
  - {name: no-secrets, topics: ["secret.*"], action: reject}
' >"$TMP/unknown-ids.yaml"
lint_pair "ids kgate cannot name yet allowed by default: allow" unknown-id-allowed 4:10 warning unknown-ids one-enforced
put monitor 'version: v1
listeners:
  - port: 9092
mode: monitor
default: reject
rules:
  - {name: plumbing, topics: none, action: allow}
'
check "lint: monitor mode is a note, and passes --strict" bash -c "$KGATE policy check --strict $TMP/monitor.yaml >$TMP/mon 2>&1 && grep -q '^$TMP/monitor.yaml:4:7: note: mode: monitor: .*\[monitor-mode\]\$' $TMP/mon"
check "lint: enforce mode has no such note" bash -c "sed 's/monitor/enforce/' $TMP/monitor.yaml >$TMP/enforce.yaml && $KGATE policy check --strict $TMP/enforce.yaml >$TMP/enf 2>&1 && ! grep -q monitor-mode $TMP/enf"

put plumbing 'version: v1
listeners:
  - port: 9092
default: reject
rules:
  - {name: orders, topics: ["orders.*"], action: allow}
'
put plumbing-none 'version: v1
listeners:
  - port: 9092
default: reject
rules:
  - {name: orders, topics: ["orders.*"], action: allow}
  - {name: plumbing, topics: none, operations: [produce, consume, describe, other], action: allow}
'
lint_pair "a denying default without plumbing" plumbing-denied 4:10 warning plumbing plumbing-none
check "lint: plumbing: one warning per kind, InitProducerId named" bash -c "[ \$($KGATE policy check $TMP/plumbing.yaml 2>&1 | grep -c 'plumbing-denied') -eq 4 ] && $KGATE policy check $TMP/plumbing.yaml 2>&1 | grep -q InitProducerId"

# -o json: the findings in "lint", one object per file
check "check -o json --strict: ok false, the findings with level, code, line, col" bash -c "$KGATE policy check -o json --strict $TMP/shadowed.yaml 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"ok\"] is False and d[\"warnings\"] == 1 and [(x[\"level\"], x[\"code\"], x[\"line\"], x[\"col\"]) for x in d[\"lint\"]] == [(\"warning\", \"shadowed\", 7, 5)], d'"
check "check -o json without --strict: ok true with the warning" bash -c "$KGATE policy check -o json $TMP/shadowed.yaml 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"ok\"] is True and d[\"lint\"][0][\"code\"] == \"shadowed\", d'"
check "check: a file with warnings says so on its ok line" exits_says 0 "^$TMP/shadowed.yaml: ok, 1 warning \(fails --strict\)$" "$KGATE" policy check "$TMP/shadowed.yaml"

# what ships must pass what the DaemonSet's sidecar runs
for pol in policies/*.yaml; do
	check "check --strict $pol: exit 0, ok" exits_says 0 "^$pol: ok \(" "$KGATE" policy check --strict "$pol"
done
/usr/bin/python3 - "$TMP/readme.yaml" <<'EOF'
import re, sys
text = open("README.md").read()
sec = text[text.index("## Policy language"):]
open(sys.argv[1], "w").write(re.search(r"```yaml\n(.*?)```", sec, re.S).group(1))
EOF
check "the README's policy example passes check --strict" exits_says 0 "ok \(" "$KGATE" policy check --strict "$TMP/readme.yaml"

# apply and run refuse a policy that enforces nothing, before touching any datapath
check "apply refuses a policy without listeners" exits_says 1 "^$TMP/no-listeners.yaml:1:1: no listeners" env KGATE_PIN_ROOT="$TMP/nopins" KGATE_STATE_DIR="$TMP/nostate" "$KGATE" policy apply "$TMP/no-listeners.yaml"
check "run refuses a policy no rule can reach, nothing attached" exits_says 1 "^$TMP/no-rules.yaml:3:5: no rule can ever match" "$KGATE" run --iface kgnosuch0 --policy "$TMP/no-rules.yaml"

# eval: requests that name no topic, enforced, --explain, unknown names
R=policies/residency.yaml
check "eval without --topic: a request naming no topic" exits_says 0 '^allow reference-readers-join-groups \(enforced\)$' "$KGATE" policy eval "$R" --op consume
check "eval without --topic: not the topic rules, a reset on the wire" exits_says 0 '^reject default \(enforced as reset: the request names no topic' "$KGATE" policy eval "$R" --op produce
check "eval -o json without --topic: topic null" bash -c "$KGATE policy eval -o json $R --op consume | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"topic\"] is None and d[\"rule\"] == \"reference-readers-join-groups\" and d[\"enforced\"] is True, d'"
check "eval: an audit rule is not enforced (text)" exits_says 0 '^reject ref-writes-planned \(not enforced: the rule has audit: true\)$' "$KGATE" policy eval policies/demo.yaml --topic ref.prices --op produce --region eu
check "eval: an audit rule is not enforced (json)" bash -c "$KGATE policy eval -o json policies/demo.yaml --topic ref.prices --op produce --region eu | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"verdict\"] == \"reject\" and d[\"enforced\"] is False, d'"
check "eval: monitor mode is not enforced" exits_says 0 '^reject default \(not enforced: mode monitor\)$' "$KGATE" policy eval policies/monitor-rollout.yaml --topic x --op produce
check "eval --explain: each earlier rule with the dimension it missed" bash -c "$KGATE policy eval --explain $R --topic eu.orders --op produce --region eu >$TMP/ex && head -1 $TMP/ex | grep -qx 'allow eu-and-us-clients (enforced)' && grep -q '^  skipped eu-data-stays-in-eu ([0-9]*:5): regions_not: the source is in \"eu\"' $TMP/ex && grep -q '^  skipped us-data-stays-in-us ([0-9]*:5): topics: \"eu.orders\" is none of us.\*' $TMP/ex && [ \$(wc -l <$TMP/ex) -eq 5 ]"
check "eval --explain -o json: skipped, in order" bash -c "$KGATE policy eval --explain -o json $R --topic open.x --op produce | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); s=d[\"skipped\"]; assert d[\"rule\"] is None and [x[\"rule_id\"] for x in s] == list(range(len(s))) and s[-1][\"dimension\"] == \"regions\", d'"
check "eval: an unknown region is an error" exits_says 1 "unknown region 'ue': the policy defines eu, us" "$KGATE" policy eval "$R" --topic eu.orders --op produce --region ue
check "eval: an unknown principal is an error" exits_says 1 "unknown principal 'orders-svcs'" "$KGATE" policy eval "$TMP/identity.yaml" --topic orders --op produce --principal orders-svcs
check "eval: an identity is a known principal" exits_says 0 '^reject writers \(enforced\)$' "$KGATE" policy eval "$TMP/identity.yaml" --topic orders --op produce --principal orders-svc
check "eval: --sasl-user takes any name" exits_says 0 '^allow default \(enforced\)$' "$KGATE" policy eval "$TMP/identity.yaml" --topic orders --op produce --sasl-user orders-svcs
check "eval: --principal and --sasl-user together: exit 2" exits 2 "$KGATE" policy eval "$R" --op produce --principal a --sasl-user b
check "eval --stdin: an empty topic names none, the sasl source, errors answered in place" bash -c "printf '\tconsume\n\tproduce\t\tus\nx\tproduce\tbob\nx\tproduce\tbob\t\t\tsasl\nx\tproduce\t\tue\n' | $KGATE policy eval --stdin $R >$TMP/st 2>/dev/null; [ \$? -eq 1 ] && diff - $TMP/st <<'EOT'
allow reference-readers-join-groups (enforced)
allow eu-and-us-clients (enforced)
error unknown-name
reject default (enforced)
error unknown-name
EOT"

# eval: requests about all topics, what the datapath makes of a verdict
check "eval --all-topics: not topics: none, a rule without topics decides" exits_says 0 '^allow eu-and-us-clients \(enforced\)$' "$KGATE" policy eval "$R" --all-topics --op consume --region eu
check "eval --all-topics: topics: none opens none of it" exits_says 0 '^reject default \(enforced as reset: the request is about all topics' "$KGATE" policy eval "$R" --all-topics --op consume
check "eval --all-topics --explain: why the plumbing rule is skipped" bash -c "$KGATE policy eval --explain $R --all-topics --op consume | grep -q '^  skipped reference-readers-join-groups ([0-9]*:5): topics: the request is about all topics; the rule is for requests that name no topic'"
check "eval --all-topics -o json: all_topics, topic null, wire" bash -c "$KGATE policy eval -o json $R --all-topics --op consume | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"topic\"] is None and d[\"all_topics\"] is True and d[\"rule\"] is None and d[\"enforced\"] is True and d[\"wire\"] == \"reset\", d'"
check "eval --topic and --all-topics together: exit 2" exits 2 "$KGATE" policy eval "$R" --topic x --all-topics --op consume
check "eval --stdin: TOPIC '*' is all topics" bash -c "printf '*\tconsume\n*\tconsume\t\teu\n' | $KGATE policy eval --stdin $R | diff - <(printf '%s\n' 'reject default (enforced as reset: the request is about all topics, so there is no topic to refuse with an authorization error)' 'allow eu-and-us-clients (enforced)')"
put quarantine 'version: v1
listeners:
  - port: 9092
default: reject
regions:
  q: [10.30.0.0/16]
rules:
  - {name: orders-q, topics: ["orders.*"], regions: [q], action: allow}
  - {name: quarantine, regions: [q], action: redirect}
'
check "eval: a connection redirected at its start: the allow is not enforced" exits_says 0 '^allow orders-q \(not enforced: rule "quarantine" \(9:5\) redirects the connection at its start' "$KGATE" policy eval "$TMP/quarantine.yaml" --topic orders.x --op produce --region q
check "eval: the redirect itself, at the connection's start" exits_says 0 "^redirect quarantine \(enforced: at the connection's start\)$" "$KGATE" policy eval "$TMP/quarantine.yaml" --topic other --op produce --region q
check "eval -o json: connection_rule" bash -c "$KGATE policy eval -o json $TMP/quarantine.yaml --topic orders.x --op produce --region q | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"verdict\"] == \"allow\" and d[\"enforced\"] is False and d[\"wire\"] is None and d[\"connection_rule\"] == \"quarantine\", d'"
check "eval: a redirect per request is a reset" exits_says 0 '^redirect quarantine-orders \(enforced as reset: a redirect decided per request' "$KGATE" policy eval "$TMP/redirect.yaml" --topic orders --op produce
check "eval --api CreateAcls: a reject is a reset" exits_says 0 '^reject no-secrets \(enforced as reset: CreateAcls with a refused name' "$KGATE" policy eval "$TMP/unknown-ids.yaml" --topic secret.x --api CreateAcls
check "eval --api: the operation is the API's" bash -c "$KGATE policy eval -o json $TMP/unknown-ids.yaml --topic secret.x --api 30 | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"api\"] == \"CreateAcls\" and d[\"operation\"] == \"admin\" and d[\"wire\"] == \"reset\", d'"
check "eval --api: an unknown API is an error" exits_says 1 "unknown API 'Nope'" "$KGATE" policy eval "$R" --api Nope
check "eval: a policy kgate refuses is not enforced" exits_says 0 '^reject everything \(not enforced: kgate refuses this policy: 1:1 \[no-listeners\]' "$KGATE" policy eval "$TMP/no-listeners.yaml" --topic x --op produce

echo "cli (policy lint and eval): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
