#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The policy store under faults and misuse, on a real agent (root) on the rig of
# tests/agent/lib.sh. Proves:
#  1. locks: a state dir made anew is 0750 and its lock 0600, the agent's interface lock
#     0600, so no other user can open either (an older kgate made them 0644: then any
#     user could hold every change, or keep the agent from starting); an older 0644 lock
#     that another user holds is replaced, not waited for; while a change holds the
#     store's lock the agent's loop goes on (decisions recorded) and takes its file after;
#  2. the journal: past 64 KiB and past 1 MiB (rotated, with the agent away over the
#     rotation) change numbers go on and every change reaches the audit stream; a last
#     line torn by a crash does not swallow the next entry;
#  3. the default rollback goes to the version that ran before, never to an apply that was
#     reverted; `history` marks it;
#  4. a change whose process is killed (before the flip, after the flip, after its journal
#     entry) is finished by what the datapath runs and recorded as an `abort` (or not at
#     all when its entry is there), never undone or redone by the next agent; SIGTERM waits
#     for the change to be whole; a datapath changed behind the store is recorded once as
#     a `mismatch`; a version that never ran is marked and never a rollback's default;
#  5. a datapath made anew gets the store's version even when a newer linter refuses it;
#     with the version's file gone it gets FILE, logged, never nothing; a pause or resume
#     that died midway (an older kgate's store) is restored in the mode the store says,
#     and `resume` plans against the datapath's mode;
#  6. a store kept before it recorded the agent's file keeps running its version: FILE is
#     taken as seen, not applied over a command's apply;
#  7. the confirm deadline: reckoned from when the lock is held, and kept by the boot clock
#     (an agent whose boot clock is behind the wall clock does not revert early);
#  8. who: login uid and SUDO_USER in the record; a second unconfirmed apply says which
#     version it goes back to (text and JSON).
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=tests/agent/lib_store.sh
. tests/agent/lib_store.sh kgs store
S=$KGATE_STATE_DIR/$IFB

rig_up ok.a secret.b kgate.audit || exit 1

for v in a b c d f; do policy "v-$v" "$OK_ALLOW" >"$TMP/$v.yaml"; done
policy v-e "$OK_REJECT" >"$TMP/e.yaml"
cp "$TMP/a.yaml" "$TMP/agent.yaml"
vid() { show | json 'print(d["version_id"])'; }
# the number of the journal's last entry
last_change() { /usr/bin/python3 -c "
import json
print(max(json.loads(l)['change'] for l in open('$S/journal') if l.endswith('}\n')))"; }
# the journal grown to $1 bytes with copies of its own entries: numbers already recorded
pad_journal() { /usr/bin/python3 -c "
import os
p = '$S/journal'
lines = [l for l in open(p) if l.endswith('}\n')]
with open(p, 'a') as f:
    i = 0
    while os.path.getsize(p) < $1:
        f.write(lines[i % len(lines)]); f.flush(); i += 1"; }
# the journal to exactly $1 bytes: copies of its entries (which change nothing), the last
# one's null reason made a string of the length that fits (an entry's own length varies
# with the environment: a login uid or none)
pad_journal_exact() { /usr/bin/python3 -c "
import os
p = '$S/journal'
lines = [l for l in open(p) if l.endswith('}\n') and '\"reason\":null' in l]
with open(p, 'a') as f:
    i = 0
    while os.path.getsize(p) + 3000 < $1:
        f.write(lines[i % len(lines)]); f.flush(); i += 1
    gap = $1 - os.path.getsize(p)
    base = lines[0].replace('\"reason\":null', '\"reason\":\"\"', 1)
    f.write(base.replace('\"reason\":\"\"', '\"reason\":\"' + 'x' * (gap - len(base)) + '\"', 1))
assert os.path.getsize(p) == $1"; }
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
nobody_locks() { "${NOBODY[@]}" flock -n -s "$1" true 2>/dev/null; }
not_logged() { ! since_start | grep -qE -- "$1"; }
# the journal has no entry numbered $1
no_entry() { ! grep -q "\"change\":$1," "$S/journal"; }
history_text_has() { kg policy history --iface "$IFB" | grep -qE -- "$1"; }
# waits until root cannot take lock $1 (someone else holds it)
held() { for _ in $(seq 50); do flock -n "$1" true || return 0; sleep 0.1; done; return 1; }
# a store's state as an older kgate wrote it: `current` alone (no mode, no file record)
legacy_state() { # id, paused
	rm -f "$S/state"
	echo "id $1 paused $2" >"$S/current"
}
# kgate killed by strace's fault injection: strace ARGS... -- kgate ARGS...
killed_at() {
	local args=()
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	inb strace -qq -o /dev/null "${args[@]}" "$KGATE" "$@" >/dev/null 2>&1
}

# ---- 1. locks ---------------------------------------------------------------------------
start_agent || exit 1
check "a state dir made anew is 0750, the store's lock 0600" \
	test "$(stat -c %a "$KGATE_STATE_DIR") $(stat -c %a "$KGATE_STATE_DIR/lock")" = "750 600"
check "the agent's interface lock is 0600" test "$(stat -c %a "$KGATE_RUN_DIR/$IFB.lock")" = 600
# directories others may enter, as an older kgate left them: only the files' modes protect
chmod 755 "$TMP" "$KGATE_STATE_DIR" "$KGATE_RUN_DIR"
check "another user cannot open the store's lock to hold changes up" \
	eval '! nobody_locks "$KGATE_STATE_DIR/lock"'
stop_agent
# (flock -o: the lock is flock's own, gone when it is killed)
"${NOBODY[@]}" flock -o -x "$KGATE_RUN_DIR/$IFB.lock" sleep 30 2>/dev/null &
BG_PID=$!
sleep 0.3
check "another user cannot hold the interface lock: the agent starts" start_agent
reap $BG_PID
BG_PID=""
kill -0 "$AGENT_PID" 2>/dev/null || start_agent || exit 1
# an older kgate's lock file, 0644, held by another user: replaced, not waited for
chmod 644 "$KGATE_STATE_DIR/lock"
"${NOBODY[@]}" flock -o -x "$KGATE_STATE_DIR/lock" sleep 60 &
BG_PID=$!
check "(an older 0644 lock file: another user holds it)" held "$KGATE_STATE_DIR/lock"
check "an older 0644 lock held by another user: a change goes through (the lock replaced)" \
	timeout 10 nsenter --net="/run/netns/$NSB" "$KGATE" policy pause --iface "$IFB"
check "... the lock is 0600 now" test "$(stat -c %a "$KGATE_STATE_DIR/lock")" = 600
reap $BG_PID
BG_PID=""
kg policy resume --iface "$IFB" >/dev/null
# root holds the store's lock (a change being made): the agent's loop does not wait for it
flock -o -x "$KGATE_STATE_DIR/lock" sleep 4 &
BG_PID=$!
held "$KGATE_STATE_DIR/lock"
cp "$TMP/c.yaml" "$TMP/agent.yaml"
kill -HUP "$AGENT_PID"
T=$(date +%s%N)
raw app-lock ok.a >/dev/null
sleep 1
check "while another change holds the store's lock, the agent's loop goes on: decisions recorded" \
	/usr/bin/python3 -c "
import json, os
os.kill($BG_PID, 0)  # still held
r = [json.loads(l) for l in open('$AUDIT')]
assert any(x.get('client_id') == 'app-lock' and x['ts_ns'] >= $T for x in r)"
check "... and it says the file waits for the lock" log_has "being changed by another process: the policy file is taken at the next look"
wait $BG_PID
BG_PID=""
check "the lock free: the file is taken at the next poll" log_has "-> \"v-c\" \(version id [0-9]+\) from $TMP/agent.yaml"

# ---- 2. the journal -----------------------------------------------------------------------
N=$(last_change)
pad_journal 70000
kg policy pause --iface "$IFB" >/dev/null
pcheck "a journal past 64 KiB: the next change is numbered on ($((N + 1))) and recorded" $((N + 1)) \
	"assert d['step'] == 'pause', d"
stop_agent
# just under 1 MiB: the next entry crosses it, the one after rotates the journal
pad_journal_exact $((1024 * 1024 - 1))
kg policy resume --iface "$IFB" >/dev/null
kg policy pause --iface "$IFB" >/dev/null
check "past 1 MiB the journal is rotated" bash -c "[ -s '$S/journal.1' ] && [ \$(stat -c %s '$S/journal') -lt 4096 ]"
start_agent || exit 1
pcheck "an agent away over the rotation records the change in journal.1" $((N + 2)) \
	"assert d['step'] == 'resume', d"
pcheck "... and the one after it, numbered on" $((N + 3)) "assert d['step'] == 'pause', d"
# a crash tore the last line (no newline): the next entry is a line of its own
printf '{"ts_ns":1,"kind":"policy","change":' >>"$S/journal"
kg policy resume --iface "$IFB" >/dev/null
pcheck "after a torn last line the next entry is read and recorded" $((N + 4)) \
	"assert d['step'] == 'resume', d"

# ---- 3. the default rollback ----------------------------------------------------------------
kg policy apply --iface "$IFB" "$TMP/a.yaml" >/dev/null
A=$(vid)
kg policy apply --iface "$IFB" --confirm-within 2s "$TMP/e.yaml" >/dev/null
E=$(vid)
check "an unconfirmed apply is reverted" log_has "version $E was not confirmed in time: going back to version $A"
kg policy apply --iface "$IFB" "$TMP/b.yaml" >/dev/null
kg policy rollback --iface "$IFB" >"$TMP/rb.out" 2>&1
check "rollback goes to the version that ran before ($A), not to the reverted one ($E)" \
	grep -q "\"v-b\" (version id $((E + 1)), generation [01]) -> \"v-a\" (version id $A," "$TMP/rb.out"
jcheck "history marks the reverted version, with why" "
v = {x['id']: x for x in d['versions']}
assert (v[$E]['fate'], v[$E]['reverted_reason']) == ('reverted', 'confirm_timeout'), v[$E]
assert v[$A]['fate'] == 'ran' and v[$A]['reverted_reason'] is None, v[$A]" \
	kg policy history --iface "$IFB" -o json
check "history (text) marks it too" history_text_has "^    $E .*: reverted \(confirm_timeout\)$"

# ---- 4. changes whose process died ------------------------------------------------------------
stop_agent
killed_at -e trace=membarrier -e inject=membarrier:signal=SIGKILL -- policy apply --iface "$IFB" "$TMP/d.yaml"
D=$((E + 2))
jcheck "killed before its flip: what ran runs" "assert d['version_id'] == $A, d" show
N=$(last_change)
start_agent || exit 1
check "... and the next agent does not apply it" not_logged '-> "v-d"'
pcheck "... it records the change as an abort: before the flip, what ran stays" $((N + 1)) "
assert (d['step'], d['reason'], d['interrupted_step'], d['interrupted_version_id']) == ('abort', 'interrupted_before_flip', 'apply', $D), d
assert (d['old_version_id'], d['version_id'], d['source']) == ($A, $A, 'policy apply'), d"
jcheck "history marks the version that never ran" "
v = {x['id']: x for x in d['versions']}
assert v[$D]['fate'] == 'never_ran', v[$D]" kg policy history --iface "$IFB" -o json
# killed after the flip, before its journal entry: it names the version for the entry
# after the flip (opening its .version file), and is killed there; the agent runs
killed_at -P "$S/policies/$A.version" -e trace=openat -e inject=openat:signal=SIGKILL:when=1 \
	-- policy pause --iface "$IFB"
pcheck "killed after its flip: the agent finishes it, recorded as an abort that keeps the flip" $((N + 2)) "
assert (d['step'], d['reason'], d['interrupted_step'], d['version_id'], d['mode'], d['paused']) == ('abort', 'interrupted_after_flip', 'pause', $A, 'monitor', True), d"
jcheck "... the store says paused, as the datapath runs" "assert (d['paused'], d['mode']) == (True, 'monitor'), d" show
# killed after its journal entry, before its state: the entry stands, no abort
killed_at -P "$S/state" -e trace=rename -e inject=rename:signal=SIGKILL:when=2 \
	-- policy resume --iface "$IFB"
pcheck "killed after its entry: the change is recorded as made" $((N + 3)) "assert d['step'] == 'resume', d"
sleep 0.5
check "... with no abort after it" no_entry $((N + 4))
jcheck "... and the store resumed, as the datapath runs" "assert (d['paused'], d['mode']) == (False, 'enforce'), d" show
# SIGTERM in the middle of a change: held back until the change is whole (SIGINT too,
# but a background job of a script ignores it from the start)
nsenter --net="/run/netns/$NSB" strace -qq -o /dev/null -e trace=membarrier \
	-e inject=membarrier:delay_enter=1500000 "$KGATE" policy pause --iface "$IFB" >/dev/null 2>&1 &
SPID=$!
sleep 0.7
kill -TERM "$(pgrep -P $SPID -x kgate)"
wait $SPID
rc=$?
check "SIGTERM during a change: the process ends by it" test $rc -ne 0
pcheck "... after the change is whole: journaled" $((N + 4)) "assert d['step'] == 'pause', d"
jcheck "... and the datapath and the store agree" "assert (d['paused'], d['mode']) == (True, 'monitor'), d" show
kg policy resume --iface "$IFB" >/dev/null
# a datapath changed behind the store (another state dir): recorded once, as a mismatch
mkdir -p "$TMP/other"
echo 900 >"$TMP/other/version_id"
KGATE_STATE_DIR=$TMP/other nsenter --net="/run/netns/$NSB" "$KGATE" policy apply --iface "$IFB" \
	"$TMP/f.yaml" >/dev/null
check "a datapath changed behind the store: the agent says so" log_has "the datapath runs version 901 \(mode enforce\), but the policy store says version $A"
pcheck "... recorded as a mismatch" $((N + 6)) "
assert (d['step'], d['source'], d['old_version_id'], d['version_id']) == ('mismatch', 'agent', $A, 901), d"
sleep 0.5
check "... once" test "$(grep -c '"step":"mismatch"' "$S/journal")" -eq 1
# the newest version older than F is D, which never ran: what ran before F is A
kg policy apply --iface "$IFB" "$TMP/f.yaml" >/dev/null
kg policy rollback --iface "$IFB" >"$TMP/rb.out" 2>&1
check "the default rollback passes over the version that never ran ($D)" \
	grep -q "\"v-f\" (version id $((D + 1)), generation [01]) -> \"v-a\" (version id $A," "$TMP/rb.out"

# ---- 5. restores ---------------------------------------------------------------------------
B=$(vid)
stop_agent
kg detach --iface "$IFB" >/dev/null
# the stored file as a newer linter would refuse it (no rules: default decides all)
printf 'version: "v-a"\ndefault: allow\nlisteners:\n  - port: 9092\n' >"$S/policies/$B.yaml"
start_agent || exit 1
jcheck "a datapath made anew gets the store's version even when the linter refuses it now" \
	"assert d['version_id'] == $B, d" show
check "... and the agent says what runs after checking it" log_has "$IFB: version $B of the policy store runs, mode enforce"
stop_agent
kg detach --iface "$IFB" >/dev/null
rm "$S/policies/$B.yaml"
start_agent || exit 1
check "the store's version lost: the agent says the datapath runs none and applies FILE" \
	log_has "the datapath runs no policy \(the policy store's version $B could not be restored\): applying $TMP/agent.yaml instead"
jcheck "... FILE runs, never nothing" "assert d['version'] == 'v-c' and d['version_id'] > $B, d" show
C2=$(vid)
# a resume that died midway in an older kgate: the store says resumed, the datapath pauses
kg policy pause --iface "$IFB" >/dev/null
stop_agent
legacy_state "$C2" 0
start_agent || exit 1
jcheck "restore compares the mode: the store says resumed, so the datapath enforces" \
	"assert (d['version_id'], d['mode'], d['paused']) == ($C2, 'enforce', False), d" show
stop_agent
kg policy pause --iface "$IFB" >/dev/null
legacy_state "$C2" 0
kg policy resume --iface "$IFB" >"$TMP/resume.out"
check "resume plans against the datapath's mode: monitor there, so it flips" \
	grep -q "resume: .* mode enforce" "$TMP/resume.out"
jcheck "... enforcing" "assert (d['mode'], d['paused']) == ('enforce', False), d" show

# ---- 6. a store kept before it recorded the agent's file --------------------------------------
kg policy apply --iface "$IFB" "$TMP/d.yaml" >/dev/null
DV=$(vid)
legacy_state "$DV" 0
cp "$TMP/f.yaml" "$TMP/agent.yaml"
start_agent || exit 1
jcheck "no file record: the store's version (a command's apply) keeps running" \
	"assert d['version_id'] == $DV, d" show
check "... FILE taken as seen, not applied, and the log says how to apply it" \
	log_has "$TMP/agent.yaml \(sha256:[0-9a-f]{12}...\) is taken as seen and not applied; 'kgate policy apply --iface $IFB $TMP/agent.yaml' applies it"
jcheck "... its digest recorded" "assert d['file']['digest'] == '$(sha "$TMP/agent.yaml")', d" \
	kg policy history --iface "$IFB" -o json

# ---- 7. the confirm deadline ---------------------------------------------------------------------
flock -o -x "$KGATE_STATE_DIR/lock" sleep 2 &
BG_PID=$!
held "$KGATE_STATE_DIR/lock"
kg policy apply --iface "$IFB" --confirm-within 4s "$TMP/e.yaml" -o json >"$TMP/ce.json"
T1=$(date +%s%N)
BG_PID=""
check "the confirm deadline is reckoned from when the lock is held, not before the wait" \
	/usr/bin/python3 -c "
import json, datetime
d = json.load(open('$TMP/ce.json'))
by = datetime.datetime.strptime(d['confirm_by'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc)
left = by.timestamp() - $T1 / 1e9
assert left > 3.0, left"
kg policy confirm --iface "$IFB" >/dev/null
# an agent whose boot clock is well behind the wall clock's (its own time namespace): the
# deadline is kept by the boot clock, so the wall clock alone does not make it pass
stop_agent
UP=$(cut -d. -f1 /proc/uptime)
AGENT_WRAP=(unshare --time --boottime "-$((UP - 30))")
start_agent || exit 1
AGENT_WRAP=()
kg policy apply --iface "$IFB" --confirm-within 2s "$TMP/e.yaml" >/dev/null
sleep 4
jcheck "past the wall clock's deadline, before the boot clock's: not reverted" \
	"assert d['version'] == 'v-e' and d['pending'] is not None, d" show
kg policy confirm --iface "$IFB" >/dev/null

# ---- 8. who, and where a revert goes ---------------------------------------------------------------
N=$(last_change)
LU=$(cat /proc/self/loginuid)
SUDO_USER=alice nsenter --net="/run/netns/$NSB" "$KGATE" policy pause --iface "$IFB" >/dev/null
pcheck "the record names the login uid and SUDO_USER" $((N + 1)) "
lu = None if $LU == 4294967295 else $LU
assert (d['sudo_user'], d['login_uid'], d['uid']) == ('alice', lu, 0), d
assert (d['login_user'] is None) == (lu is None), d"
kg policy resume --iface "$IFB" >/dev/null
R=$(vid)
RV=$(show | json 'print(d["version"])')
kg policy apply --iface "$IFB" --confirm-within 60s "$TMP/a.yaml" >/dev/null
jcheck "a second unconfirmed apply: JSON names where the revert goes (the last confirmed)" \
	"assert d['revert_to'] == {'version_id': $R, 'version': '$RV'}, d" \
	kg policy apply --iface "$IFB" --confirm-within 60s -o json "$TMP/b.yaml"
kg policy apply --iface "$IFB" --confirm-within 60s "$TMP/c.yaml" >"$TMP/third.out"
check "... and so does the text" grep -q "goes back to \"$RV\" (version id $R) at " "$TMP/third.out"
kg policy confirm --iface "$IFB" >/dev/null

stop_agent
echo "policy store: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
