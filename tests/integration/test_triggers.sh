#!/bin/sh
# test_triggers.sh -- count=, skip=, p= (reproducible under --seed), start=, for=: exact counts
. "$(dirname "$0")/lib.sh"

start_server PORT echo
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

# start=, for=, flap=: a window from when the rules arrive.  The client connects on a schedule
# counted from CHAOS_EPOCH_NS (when the rules arrived) and judges each call by the time it was
# really made, so a slow start (a loaded machine, a sanitizer build) cannot make it flaky;
# calls within 30 ms of a window's edge are not judged.
cat >"$T/timed.py" <<'PY'
import os, socket, sys, time
port, start, dur, up, down = int(sys.argv[1]), *map(float, sys.argv[2:6])
t0 = int(os.environ["CHAOS_EPOCH_NS"]) / 1e9
def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC) - t0
def expect(t):
    """True: the fault is on at t; None: too close to an edge to say."""
    edges = [start] + ([start + dur] if dur else [])
    if up:
        k = 0
        while start + k * (up + down) < t + 1:
            edges += [start + k * (up + down) + up, start + (k + 1) * (up + down)]
            k += 1
    if any(abs(t - e) < 0.03 for e in edges):
        return None
    if t < start or (dur and t >= start + dur):
        return False
    return not up or (t - start) % (up + down) >= up
out, judged = [], 0
for at in (0.1, 0.6, 1.2, 1.8):
    time.sleep(max(0, at - now()))
    t = now()
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port)); refused = False
    except ConnectionRefusedError:
        refused = True
    s.close()
    e = expect(t)
    if e is not None:
        judged += 1
        if e != refused:
            out.append("call at %.3fs: %s, expected %s" % (t, "refused" if refused else "ok",
                                                          "refused" if e else "ok"))
print("; ".join(out) if out else "ok %d" % judged)
PY
W() { "$CHAOS_EXEC" --log /dev/null -f "$R $1" -- python3 "$T/timed.py" "$PORT" "$2" "$3" "$4" "$5"; }
check_match "start=300ms for=1.2s" "^ok [1-4]$" "$(W 'start=300ms for=1.2s' 0.3 1.2 0 0)"
check_match "for=300ms" "^ok [1-4]$" "$(W 'for=300ms' 0 0.3 0 0)"
check_match "flap=300ms/500ms" "^ok [1-4]$" "$(W 'flap=300ms/500ms' 0 0 0.3 0.5)"
check_match "start=1s flap=200ms/200ms" "^ok [1-4]$" "$(W 'start=1s flap=200ms/200ms' 1 0 0.2 0.2)"
done_ok
