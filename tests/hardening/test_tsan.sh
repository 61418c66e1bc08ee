#!/bin/sh
# test_tsan.sh -- the preload library under ThreadSanitizer: threads connect, send, recv, read,
# write, dup, dup2, fcntl(F_DUPFD), close and close_range sockets to faulted and clean
# destinations while rules fire, and two threads share a socket (one writes, one reads)
#
# make tsan builds TSAN_LIB (the library) and TSAN_HAMMER (hammer.c) with -fsanitize=thread and
# runs this under chaos-exec (CHAOS_PRELOAD points it at the TSan library).  Any report fails
# the test, symbolized; the counts must still be exact.
. "$(dirname "$0")/hlib.sh"

: "${TSAN_LIB:?}" "${TSAN_HAMMER:?}"
THREADS=${TSAN_THREADS:-16}
CALLS=${TSAN_CALLS:-5000}
SUPP=""
if is_known tsan-deps-add-addr; then
	SUPP="suppressions=$HARD/tsan.supp print_suppressions=1"
fi
start_hammer PORTS
hammer_rules "$T/rules.json"
started=$(date +%s%N)
run_rc env CHAOS_PRELOAD="$TSAN_LIB" \
	TSAN_OPTIONS="halt_on_error=0 exitcode=66 log_path=$T/tsan $SUPP" \
	"$CHAOS_EXEC" --seed 3 --log "$T/faults.log" -c "$T/rules.json" -- \
	"$TSAN_HAMMER" client "$PORTS" "$THREADS" "$CALLS"
if ls "$T"/tsan.* >/dev/null 2>&1; then
	cat "$T"/tsan.* >"$T/report"
	n=$(grep -c '^WARNING: ThreadSanitizer' "$T/report" || true)
fi
[ -z "$SUPP" ] ||
	echo "  XFAIL   [$TEST_NAME] known bug tsan-deps-add-addr: its reports are suppressed (tsan.supp)"
if [ "${n:-0}" -gt 0 ]; then
	# the first report whole, then one line per distinct place
	sed -n '1,/^SUMMARY/p' "$T/report"
	echo "all $n reports, by first frame:"
	grep -E '^    #0 ' "$T/report" | sed 's/0x[0-9a-f]*//g; s/ (.*//' | sort | uniq -c | sort -rn | head -30
	fail "ThreadSanitizer: $n reports (exit $RC): $OUT"
fi
check "exit status: $OUT" 0 "$RC"
check_match "hammer under TSan" "^ok threads=$THREADS " "$OUT"
echo "          $(printf '%s\n' "$OUT" | grep "^ok ") ($(elapsed_ms "$started") ms)"
done_ok
