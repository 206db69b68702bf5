# SPDX-License-Identifier: Apache-2.0
# Sourced by the CLI test scripts (tests/cli/*.sh): the repository as the working
# directory, KGATE (the binary), TMP (a scratch directory, removed on exit), and checks
# that count in pass or fail and show a failure's output.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
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

# exit code, regex the combined output must match, command...
exits_says() {
	local want=$1 re=$2
	shift 2
	"$@" >"$TMP/out" 2>&1
	[ $? -eq "$want" ] && grep -qE -- "$re" "$TMP/out"
}
