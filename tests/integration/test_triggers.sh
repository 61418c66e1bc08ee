#!/bin/sh
# test_triggers.sh -- count=, skip=, p= (reproducible under --seed), start=, for=: exact counts
. "$(dirname "$0")/lib.sh"

PORT=$(start_server echo)
LOG="$T/faults.log"
R="127.0.0.1:$PORT refuse"
C() { "$CHAOS_EXEC" --log "$LOG" "$@" -- "$NETPROBE" connects 127.0.0.1 "$PORT" 20 | tr '\n' ' '; }

check "count=3" "ok 17 3 xxx+++++++++++++++++ " "$(C -f "$R count=3")"
check "skip=2 count=3" "ok 17 3 ++xxx+++++++++++++++ " "$(C -f "$R skip=2 count=3")"
check "skip=18" "ok 18 2 ++++++++++++++++++xx " "$(C -f "$R skip=18")"

# p= under a seed: the same calls fail in every run, other seeds pick others
: >"$LOG"
a=$(C --seed 42 -f "$R p=0.5")
b=$(C --seed 42 -f "$R p=0.5")
c=$(C --seed 7 -f "$R p=0.5")
check "p reproducible" "$a" "$b"
[ "$a" != "$c" ] || fail "seeds 42 and 7 gave the same pattern: $a"
PASSED=$((PASSED + 1))
failed=$(echo "$a" | cut -d' ' -f3)
# 20 calls at p=0.5: 3..17 failures holds with probability > 99.7%; the seed makes it exact
[ "$failed" -ge 3 ] && [ "$failed" -le 17 ] || fail "p=0.5 gave $failed of 20"
PASSED=$((PASSED + 1))
failed_c=$(echo "$c" | cut -d' ' -f3)
check "p log lines = failures" "$((failed * 2 + failed_c))" "$(count_log "$LOG")"

# p over many calls: within 4 standard deviations of n*p
cat >"$T/many.py" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
fails = 0
for _ in range(n):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        fails += 1
    s.close()
print(fails)
PY
f=$("$CHAOS_EXEC" --log /dev/null --seed 3 -f "$R p=0.25" -- python3 "$T/many.py" "$PORT" 2000)
[ "$f" -ge 423 ] && [ "$f" -le 577 ] || fail "p=0.25 over 2000 calls gave $f failures"
PASSED=$((PASSED + 1))
check "p=0" 0 "$("$CHAOS_EXEC" --log /dev/null -f "$R p=0" -- python3 "$T/many.py" "$PORT" 200)"
check "p=100%" 200 "$("$CHAOS_EXEC" --log /dev/null -f "$R p=100%" -- python3 "$T/many.py" "$PORT" 200)"

# p= with count=: the seed decides which calls, count caps them
check "p + count" 5 "$("$CHAOS_EXEC" --log /dev/null --seed 9 -f "$R p=0.5 count=5" -- python3 "$T/many.py" "$PORT" 200)"

# start= and for=: a window from when the rules arrive
cat >"$T/timed.py" <<'PY'
import os, socket, sys, time
port = int(sys.argv[1])
# the schedule counts from when the rules arrived, as the windows do
t0 = int(os.environ["CHAOS_EPOCH_NS"]) / 1e9
out = []
for at in (0.1, 0.6, 1.2, 1.8):
    time.sleep(max(0, at - (time.clock_gettime(time.CLOCK_MONOTONIC) - t0)))
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port)); out.append("+")
    except ConnectionRefusedError:
        out.append("x")
    s.close()
print("".join(out))
PY
check "start=0.3s for=1.2s" "+xx+" "$("$CHAOS_EXEC" --log /dev/null -f "$R start=300ms for=1.2s" -- python3 "$T/timed.py" "$PORT")"
check "for=0.3s" "x+++" "$("$CHAOS_EXEC" --log /dev/null -f "$R for=300ms" -- python3 "$T/timed.py" "$PORT")"
# off for 300 ms, on for 500 ms: 0.1 off, 0.6 on, 1.2 (0.4) on, 1.8 (0.2) off
check "flap=300ms/500ms" "+xx+" "$("$CHAOS_EXEC" --log /dev/null -f "$R flap=300ms/500ms" -- python3 "$T/timed.py" "$PORT")"
done_ok
