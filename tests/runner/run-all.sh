#!/bin/sh
# run-all.sh -- chaos-run's integration, signal and conformance suites (make check-runner)
#
# Runs each python3 suite against $O/chaos-run (O defaults to build) and prints one closing
# line 'N passed, N failed'.  Exits 1 if any suite failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
: "${O:=build}"
export O
passed=0
failed=0
status=0
for suite in integration signals extension conformance; do
	out=$(python3 "tests/runner/$suite.py" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | sed -n "s/^$suite: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p")
	if [ -z "$line" ]; then
		echo "FAIL tests/runner/$suite.py did not finish (exit $rc)"
		failed=$((failed + 1))
		status=1
		continue
	fi
	set -- $line
	passed=$((passed + $1))
	failed=$((failed + $2))
	[ "$rc" -eq 0 ] || status=1
done
echo "runner: $passed passed, $failed failed"
exit $status
