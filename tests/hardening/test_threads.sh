#!/bin/sh
# test_threads.sh -- 64 threads on faulted and clean loopback destinations: exact fault counts
#
# HAMMER_THREADS x HAMMER_CALLS hooked calls (64 x 2000 in make check, 64 x 100000 in make
# stress), under two seeds; hammer.c checks every count against the rules' triggers and the log.
. "$(dirname "$0")/hlib.sh"

THREADS=${HAMMER_THREADS:-64}
CALLS=${HAMMER_CALLS:-2000}
start_hammer PORTS
hammer_rules "$T/rules.json"
for seed in 1 20261124; do
	: >"$T/faults.log"
	run_rc "$CHAOS_EXEC" --seed "$seed" --log "$T/faults.log" -c "$T/rules.json" -- \
		"$HAMMER" client "$PORTS" "$THREADS" "$CALLS"
	check "exit status (seed $seed): $OUT" 0 "$RC"
	check_match "hammer (seed $seed)" "^ok threads=$THREADS " "$OUT"
	echo "          $OUT"
done
done_ok
