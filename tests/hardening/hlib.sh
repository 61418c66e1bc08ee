# hlib.sh -- what the hardening tests share, on top of tests/integration/lib.sh (temp dir,
# cleanup of the processes started, check/fail/run_rc)
#
# Source it first thing: `. "$(dirname "$0")/hlib.sh"`.
. "$(dirname "$0")/../integration/lib.sh"
HARD="$ROOT/tests/hardening"
HBIN="$BUILD/tests/hardening"
HAMMER=${HAMMER:-$HBIN/hammer}

# start_server VAR KIND [ARGS]: lib.sh's, with the integration suite's servers.py
start_server() {
	var=$1
	kind=$2
	shift 2
	pf="$T/port.$kind.$$.$(date +%s%N)"
	python3 "$ROOT/tests/integration/servers.py" "$kind" "$pf" "$@" >"$T/server.$kind.log" 2>&1 &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$pf" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "server $kind did not start: $(cat "$T/server.$kind.log")"
		sleep 0.02
	done
	eval "$var=\$(cat \"\$pf\")"
}

# start_hammer VAR: the echo servers on 127.0.0.1-5 (no library), VAR = their ports "p1,...,p5"
start_hammer() {
	"$HBIN/hammer" serve >"$T/hammer.ports" 2>"$T/hammer.err" &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$T/hammer.ports" ]; do
		i=$((i + 1))
		[ $i -lt 250 ] || fail "hammer serve did not start: $(cat "$T/hammer.err")"
		sleep 0.02
	done
	eval "$1=\$(cat \"\$T/hammer.ports\")"
}

# hammer_rules FILE: the rules `hammer client` expects, as a config file for chaos-exec -c
hammer_rules() {
	"$HBIN/hammer" rules >"$1"
}

# elapsed_ms START_NS: milliseconds since START_NS (date +%s%N)
elapsed_ms() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

# Known bugs: tests/hardening/known-bugs lists, one per line, "ID description" of bugs found
# here in code this suite does not own (they are reported to its owner).  A check of a known bug
# reports XFAIL and goes on; HARDENING_STRICT=1 makes it fail as any other.  Once the bug is
# fixed the check passes and says so (XPASS fails): remove its line from known-bugs.  A bug
# whose line says "(intermittent)" may not show in every run: its XPASS is only reported.
KNOWN_BUGS="$HARD/known-bugs"
is_known() {
	[ "${HARDENING_STRICT:-0}" != 1 ] && grep -q "^$1 " "$KNOWN_BUGS" 2>/dev/null
}

# xcheck ID NAME EXPECTED ACTUAL: check, for a known bug
xcheck() {
	if [ "$3" = "$4" ]; then
		if grep -q "^$1 .*(intermittent)" "$KNOWN_BUGS" 2>/dev/null; then
			echo "  XPASS   [$TEST_NAME] known intermittent bug $1 did not show this time: $2"
		elif grep -q "^$1 " "$KNOWN_BUGS" 2>/dev/null; then
			fail "$2: passes now: known bug $1 is fixed, remove its line from tests/hardening/known-bugs"
		fi
		PASSED=$((PASSED + 1))
	elif is_known "$1"; then
		echo "  XFAIL   [$TEST_NAME] known bug $1: $2: expected [$3], got [$4]"
	else
		fail "$2: expected [$3], got [$4]"
	fi
}

# xcheck_match ID NAME PATTERN ACTUAL
xcheck_match() {
	if printf '%s' "$4" | grep -Eq -- "$3"; then
		xcheck "$1" "$2" ok ok
	else
		xcheck "$1" "$2" "/$3/" "$4"
	fi
}
