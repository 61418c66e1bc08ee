# lib.sh -- shared setup for the integration tests: a temp dir, servers on loopback, checks
#
# Source it first thing: `. "$(dirname "$0")/lib.sh"`.  Every test script is `set -eu`, makes
# its servers here, and leaves nothing behind (trap cleanup EXIT).  Failures print what was
# expected and what came, and exit 1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
CHAOS_EXEC="$BUILD/chaos-exec"
NETPROBE="$BUILD/tests/integration/netprobe"
NETPROBE_FORT="$BUILD/tests/integration/netprobe-fortify"
TIMEPROBE="$BUILD/tests/integration/timeprobe"
TIMEPROBE_FORT="$BUILD/tests/integration/timeprobe-fortify"
T=$(mktemp -d "${TMPDIR:-/tmp}/chaos-test.XXXXXX")
PIDS=""
PASSED=0
TEST_NAME=$(basename "$0" .sh)

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL [$TEST_NAME] $*" >&2
	exit 1
}

# start_server VAR KIND [ARGS]: start a servers.py server, set VAR to its port
# (not in $(...): the server's pid must reach PIDS in this shell, for cleanup)
start_server() {
	var=$1
	kind=$2
	shift 2
	pf="$T/port.$kind.$$.$(date +%s%N)"
	python3 "$HERE/servers.py" "$kind" "$pf" "$@" >"$T/server.$kind.log" 2>&1 &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$pf" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "server $kind did not start: $(cat "$T/server.$kind.log")"
		sleep 0.02
	done
	eval "$var=\$(cat \"\$pf\")"
}

# start_bg CMD...: run a command in the background, remembered for cleanup
start_bg() {
	"$@" &
	PIDS="$PIDS $!"
}

# check NAME EXPECTED ACTUAL: exact comparison
check() {
	if [ "$2" = "$3" ]; then
		PASSED=$((PASSED + 1))
	else
		fail "$1: expected [$2], got [$3]"
	fi
}

# check_match NAME PATTERN ACTUAL: grep -E pattern
check_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		PASSED=$((PASSED + 1))
	else
		fail "$1: expected to match /$2/, got [$3]"
	fi
}

# run_rc CMD...: run, capture stdout+stderr in $OUT and the exit code in $RC
run_rc() {
	set +e
	OUT=$("$@" 2>&1)
	RC=$?
	set -e
}

# count_log FILE [PATTERN]: number of fault lines (matching PATTERN)
count_log() {
	if [ ! -f "$1" ]; then echo 0; return; fi
	if [ $# -gt 1 ]; then grep -c -- "$2" "$1" || true; else grep -c . "$1" || true; fi
}

# check_ms NAME WORD LO HI ACTUAL: ACTUAL is "WORD ... MS" (the last field is milliseconds)
# with the word expected and the time in [LO, HI]
check_ms() {
	set -- "$1" "$2" "$3" "$4" "$5"
	w=${5%% *}
	t=${5##* }
	case "$t" in '' | *[!0-9]*) fail "$1: expected [$2 $3..$4 ms], got [$5]" ;; esac
	if [ "$w" = "$2" ] && [ "$t" -ge "$3" ] && [ "$t" -le "$4" ]; then
		PASSED=$((PASSED + 1))
	else
		fail "$1: expected [$2 $3..$4 ms], got [$5]"
	fi
}

done_ok() {
	echo "  PASS    $TEST_NAME ($PASSED checks)"
}
