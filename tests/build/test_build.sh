#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Makefile's dependencies, on a copy of the tree and of its up-to-date build (mtimes
# kept), so that nothing of the real tree is touched:
#  - a changed header rebuilds exactly the objects whose sources include it: for each
#    header below and a program that uses it, the compiles `make -n` plans are the
#    sources among the program's whose preprocessor output (the compiler's -MM, asked
#    here, apart from make) names the header;
#  - `kgate version` names the commit it was built from: in a git repository made of the
#    copy, a new commit and `make` give a binary that says the new one, and only the
#    files that print it are compiled again.
# BUILD (default build) must hold the programs named below, made from this tree.
# the repository as the working directory, TMP, check
. "$(dirname "$0")/../cli/lib.sh"
BUILD=${BUILD:-build}
same() { # want, got: equal, else both shown
	[ "$1" = "$2" ] && return 0
	printf 'want: %s\ngot:  %s\n' "$1" "$2"
	return 1
}

# the copy: tracked and new files, and the build, with their mtimes
W=$TMP/tree
mkdir -p "$W"
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$W"
cp -a "$BUILD" "$W/build"
# the commit the build was made with, so that version.h stays as it is
COMMIT=$(sed -n 's/^#define KGATE_COMMIT "\(.*\)"$/\1/p' "$BUILD/version.h")
mk() { make -C "$W" BUILD=build COMMIT="$COMMIT" "$@"; }
# a dry run: version.h is remade by running its recipe (which leaves it alone when the
# version did not change); a dry run does not run it, so it is told the file is current
mkn() { mk -n -o build/version.h "$@"; }
# the sources a dry run would compile, one per line
compiles() { sed -n 's/.* -c \([^ ]*\) -o .*/\1/p' | sort -u; }

# ---- a changed header rebuilds exactly what includes it ---------------------------------
ARCH=$(uname -m)
HOST_FLAGS=(-std=gnu11 -D_GNU_SOURCE -I. -Ibuild)
BPF_FLAGS=(-target bpf -mcpu=v3 -I/usr/include/"$ARCH"-linux-gnu -Ibpf)
# does src (a path in the copy) include header, as the compiler sees it?
includes() {
	local src=$1 header=$2 flags
	case $src in
	*.bpf.c) flags=("${BPF_FLAGS[@]}") ;;
	*) flags=("${HOST_FLAGS[@]}") ;;
	esac
	(cd "$W" && clang "${flags[@]}" -MM "$src" 2>/dev/null) | tr -s ' \\\n' '\n' |
		grep -qx -- "$header"
}
# header, program: make -n plans the compiles of the program's includers, no other
header_case() {
	local header=$1 prog=$2 src want got
	for src in $(mkn -B "$prog" 2>/dev/null | compiles); do
		includes "$src" "$header" && echo "$src"
	done | sort -u >"$TMP/want"
	touch -r "$W/$header" "$TMP/mtime"
	touch "$W/$header"
	mkn "$prog" 2>/dev/null | compiles >"$TMP/got"
	touch -r "$TMP/mtime" "$W/$header" # the copy as it was, for the next case
	want=$(tr '\n' ' ' <"$TMP/want")
	got=$(tr '\n' ' ' <"$TMP/got")
	# a case whose header nothing includes would prove nothing
	[ -n "$want" ] || want="(no includer of $header found)"
	check "$header changed -> $prog compiles exactly its includers ($(wc -l <"$TMP/want"))" \
		same "$want" "$got"
}
for prog in kgate tests/test_bpf tests/test_datapath tests/fuzz_decode bench_datapath; do
	check "the copy of build/$prog is up to date (else: make it first)" \
		same "" "$(mkn "build/$prog" 2>/dev/null | compiles)"
done
header_case agent/cmd/cmd.h build/kgate
header_case agent/lib/lib.h build/kgate
header_case tests/lib/pkt.h build/tests/test_bpf
header_case tests/lib/decode_util.h build/tests/test_bpf
header_case tests/bpf/datapath/harness.h build/tests/test_datapath
header_case tests/lib/decode_util.h build/tests/fuzz_decode
header_case agent/decode/report.h build/tests/fuzz_decode
header_case bench/bench_wrap.h build/bench_datapath
header_case tests/lib/kframe.h build/bench_datapath

# ---- kgate version: the commit of the build ----------------------------------------------
G=(git -C "$W" -c user.name=kgate-test -c user.email=test@kgate.invalid)
check "git commit in the copy" bash -c "${G[*]} init -q && ${G[*]} add -A && ${G[*]} commit -qm one"
for n in one two; do
	[ "$n" = two ] && "${G[@]}" commit -q --allow-empty -m two
	want=$("${G[@]}" describe --always --dirty)
	check "commit $n: make" make -C "$W" BUILD=build build/kgate
	cp "$TMP/out" "$TMP/make.$n"
	check "commit $n: kgate version says $want" \
		same "(commit $want)" "$("$W/build/kgate" version | head -1 | grep -o '(commit [^)]*)')"
	check "commit $n: only the files that print the version were compiled again" \
		same "agent/cmd/gen.c agent/cmd/version.c " "$(compiles <"$TMP/make.$n" | tr '\n' ' ')"
done

echo "build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
