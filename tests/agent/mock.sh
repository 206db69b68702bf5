# SPDX-License-Identifier: Apache-2.0
# librdkafka's mock cluster on 127.0.0.1, for the tests that need no namespace (sourced
# by test_audit.sh and test_trace.sh; the caller sets TMP).
#   mock_start TOPIC[:PARTITIONS]...  builds tests/tools/mock_broker.c into $TMP and
#       starts it, its stdin held open through a FIFO (the mock stops at EOF on stdin, so
#       a test killed before its trap ran still stops it); sets BROKERS, MOCK_PID and
#       HOLD_PID (the caller's trap kills both). Exits the test when the mock cannot start.
#   mock CMD  a command to the running mock: "down" or "up".

mock_start() {
	local t args=()
	for t in "$@"; do args+=(--topic "$t"); done
	cc -O2 -Wall -o "$TMP/mock_broker" tests/tools/mock_broker.c \
		$(pkg-config --cflags --libs rdkafka) ||
		{ echo "$0: cannot build the mock broker" >&2; exit 1; }
	mkfifo "$TMP/mock.in"
	sleep 100000 >"$TMP/mock.in" &
	HOLD_PID=$!
	"$TMP/mock_broker" "${args[@]}" <"$TMP/mock.in" >"$TMP/mock.out" 2>"$TMP/mock.err" &
	MOCK_PID=$!
	for _ in $(seq 100); do
		grep -q '^BOOTSTRAP ' "$TMP/mock.out" && break
		sleep 0.05
	done
	BROKERS=$(awk '/^BOOTSTRAP/ {print $2}' "$TMP/mock.out")
	[ -n "$BROKERS" ] ||
		{ echo "$0: mock broker did not start" >&2; cat "$TMP/mock.err" >&2; exit 1; }
}

mock() { echo "$1" >"$TMP/mock.in"; }
