#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make install, as a packager runs it: into a temporary DESTDIR, with the default PREFIX
# and with PREFIX=/usr. Checks every file it should put there and that each works: the
# binary runs, every man page renders through groff (no warning) and man -l, the bash
# completion completes a command, a subcommand, an option, a choice and an interface in a
# bash subshell (compgen), the zsh completion does the same in an interactive zsh (zpty),
# the systemd units name the installed binary, the example policies pass policy check,
# and make uninstall leaves nothing behind.
# the repository as the working directory, TMP, check, pass and fail (tests/cli/lib.sh)
. "$(dirname "$0")/../cli/lib.sh"
BUILD=${BUILD:-build}

D=$TMP/root
if ! make -s BUILD="$BUILD" install DESTDIR="$D" >"$TMP/install.log" 2>&1; then
	cat "$TMP/install.log" >&2
	echo "install: 0 passed, 1 failed"
	exit 1
fi
P=$D/usr/local
KG=$P/bin/kgate

check "the binary: bin/kgate, executable, runs" "$KG" version
check "the binary is the build's" cmp "$KG" "$BUILD/kgate"
pages=$("$KG" __man --list)
check "a page per command and subcommand (kgate, kgate-run, kgate-policy-check...)" \
	bash -c "for p in kgate kgate-run kgate-policy kgate-policy-check kgate-policy-eval kgate-observe kgate-audit kgate-audit-trace kgate-decode kgate-version; do grep -qx \$p <<<'$pages' || exit 1; done"
for p in $pages; do
	f=$P/share/man/man1/$p.1
	check "man page $p.1 installed" test -s "$f"
	# -ww: every warning; -z: no output, only the diagnostics
	check "man page $p.1: groff -man finds nothing to warn about" \
		bash -c "out=\$(groff -man -ww -z '$f' 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
	check "man page $p.1: man -l renders its NAME" \
		bash -c "MANWIDTH=80 man -l '$f' 2>&1 | grep -A1 '^NAME' | grep -qE '$p +- '"
done
# the options in a page are the table's: every option --help lists is in the page
check "kgate-observe(1) lists every option of observe --help" bash -c "
	for o in \$('$KG' observe --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		MANWIDTH=200 man -l '$P/share/man/man1/kgate-observe.1' 2>/dev/null | grep -q -- \"\$o\" || { echo \"missing \$o\"; exit 1; }
	done"

BC=$P/share/bash-completion/completions/kgate
check "bash completion installed" test -s "$BC"
# complete WORDS...: what _kgate offers for the last word
complete_bash() {
	bash --norc --noprofile -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kgate; printf "%s\n" "${COMPREPLY[@]}"' _ "$BC" "$@"
}
check "bash: 'kgate pol' completes the command policy" bash -c "[ \"\$($(declare -f complete_bash); BC=$BC complete_bash kgate pol)\" = policy ]"
check "bash: 'kgate policy ch' completes the subcommand check" bash -c "[ \"\$($(declare -f complete_bash); BC=$BC complete_bash kgate policy ch)\" = check ]"
check "bash: 'kgate policy check --js' completes the option --jsonl" bash -c "[ \"\$($(declare -f complete_bash); BC=$BC complete_bash kgate policy check --js)\" = --jsonl ]"
check "bash: 'kgate observe -o w' completes the choice wide" bash -c "[ \"\$($(declare -f complete_bash); BC=$BC complete_bash kgate observe -o w)\" = wide ]"
check "bash: 'kgate run --iface lo' completes the interface lo" bash -c "$(declare -f complete_bash); BC=$BC complete_bash kgate run --iface lo | grep -qx lo"
check "bash: 'kgate decode --pcap' completes files" bash -c "$(declare -f complete_bash); BC=$BC complete_bash kgate decode --pcap tests/cli/test_p | grep -qx tests/cli/test_pcap.py"

ZC=$P/share/zsh/site-functions/_kgate
check "zsh completion installed" test -s "$ZC"
if command -v zsh >/dev/null; then
	check "zsh completion parses (zsh -n)" zsh -n "$ZC"
	# an interactive zsh with the installed _kgate: each line gets a TAB, then a key
	# bound to a widget writes what the line became
	cat >"$TMP/zt.zsh" <<'ZSH'
dir=$1 bin=$2 out=$3; shift 3
zmodload zsh/zpty
zpty z zsh -f -i
# -D: no dump file at all (a dump file named /dev/null was once replaced by a regular file)
zpty -w z "PS1='> '; PATH=$bin:\$PATH; fpath=($dir \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "dump() { print -r -- \"\$BUFFER\" >>$out; BUFFER= }; zle -N dump; bindkey '^T' dump"
for l in "$@"; do
	zpty -w -n z "$l"$'\t'
	sleep 0.5
	zpty -w -n z $'\x14'
	sleep 0.3
done
zpty -w z exit
sleep 0.3
zpty -d z
ZSH
	zsh -f "$TMP/zt.zsh" "${ZC%/*}" "${KG%/*}" "$TMP/zout" 'kgate pol' 'kgate policy ch' \
		'kgate policy check --js' 'kgate observe -o wi' 'kgate run --xdp-mode gen' </dev/null
	check "zsh: completes the command, the subcommand, an option and two choices" diff -u - "$TMP/zout" <<'WANT'
kgate policy 
kgate policy check 
kgate policy check --jsonl 
kgate observe -o wide 
kgate run --xdp-mode generic 
WANT
else
	echo "install: zsh not installed: its completion is not run (make deps installs zsh)" >&2
fi

U=$P/lib/systemd/system
for u in kgate.service kgate-policy.path kgate-policy-reload.service; do
	check "systemd unit $u installed" test -s "$U/$u"
done
check "kgate.service runs the installed binary (/usr/local/bin/kgate)" \
	grep -q '^ExecStart=/usr/local/bin/kgate run' "$U/kgate.service"
for pol in residency contract-writers monitor-rollout demo; do
	check "example policy $pol.yaml installed and valid" "$KG" policy check "$P/share/kgate/policies/$pol.yaml"
done

# a distribution's layout: PREFIX=/usr puts the units on /usr/bin/kgate
D2=$TMP/root2
make -s BUILD="$BUILD" install DESTDIR="$D2" PREFIX=/usr >"$TMP/install2.log" 2>&1
check "PREFIX=/usr: bin/kgate under /usr" test -x "$D2/usr/bin/kgate"
check "PREFIX=/usr: kgate.service runs /usr/bin/kgate (every line that runs kgate)" \
	bash -c "grep -q '^ExecStart=/usr/bin/kgate run ' '$D2/usr/lib/systemd/system/kgate.service' && ! grep -q /usr/local '$D2/usr/lib/systemd/system/kgate.service'"
check "PREFIX=/usr: man pages under /usr/share/man/man1" test -s "$D2/usr/share/man/man1/kgate-run.1"

make -s BUILD="$BUILD" uninstall DESTDIR="$D" >/dev/null 2>&1
check "make uninstall leaves no file behind" bash -c "[ -z \"\$(find '$D' -type f)\" ] || { find '$D' -type f; exit 1; }"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
