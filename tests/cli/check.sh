# SPDX-License-Identifier: Apache-2.0
# What the shell test scripts share (sourced): a scratch directory removed on exit, and
# check NAME COMMAND... counting pass and fail, printing a failure's output.
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

# exit code, regex the combined output must match, command...
exits_says() {
	local want=$1 re=$2
	shift 2
	"$@" >"$TMP/out" 2>&1
	[ $? -eq "$want" ] && grep -qE -- "$re" "$TMP/out"
}

exits() { # expected exit code, command...
	local want=$1
	shift
	"$@" >"$TMP/out" 2>"$TMP/err"
	[ $? -eq "$want" ]
}
