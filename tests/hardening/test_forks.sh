#!/bin/sh
# test_forks.sh -- children keep the rules (fork, fork+exec, vfork+exec, posix_spawn, system,
# popen, exec in place); forks while threads are inside the library do not deadlock the child;
# vfork children (as Python's subprocess makes them) leave the parent's state alone
. "$(dirname "$0")/hlib.sh"

FORKS="$HBIN/forks"
ATFORKS=${ATFORKS:-200}
start_hammer PORTS
E() { "$CHAOS_EXEC" --log "$T/faults.log" -f '127.0.0.2 refuse' -f '127.0.0.4 error=ECONNRESET on=send' -- "$@"; }

run_rc E "$FORKS" probe "$PORTS"
check "probe: $OUT" "ok probe" "$OUT"

# fork+exec, vfork+exec, posix_spawn and the exec in place print their probe's answer
run_rc E "$FORKS" children "$PORTS"
check "children: $OUT" 0 "$RC"
check "children's probes" "ok probe ok probe ok probe ok probe" "$(echo $OUT)"

started=$(date +%s%N)
run_rc E "$FORKS" atfork "$PORTS" "$ATFORKS"
xcheck_match fork-child-gmtime-lock "$ATFORKS forks under busy threads ($(elapsed_ms "$started") ms)" \
	"^ok $ATFORKS forks" "$OUT"
[ "$RC" -ne 0 ] || echo "          $OUT"

run_rc E "$FORKS" vfork-dup2 "$PORTS"
xcheck vfork-shared-fd-table "vfork child's dup2" "ok the clean socket stayed clean" "$OUT"

run_rc E "$FORKS" vfork-close-range "$PORTS" 20
xcheck_match vfork-shared-fd-table "vfork children's close_range" "^ok " "$OUT"

# the same through Python's subprocess (vfork, then close_range in the child): one descriptor
# leaked per child once a fault has opened the log
cat >"$T/spawn.py" <<'PY'
import os, socket, subprocess, sys
def refused():
    s = socket.socket()
    try:
        s.connect(("127.0.0.2", int(sys.argv[1])))
    except ConnectionRefusedError:
        pass
    s.close()
refused()
before = len(os.listdir("/proc/self/fd"))
for _ in range(20):
    subprocess.run(["true"])
    refused()
print(before, len(os.listdir("/proc/self/fd")))
PY
run_rc E python3 "$T/spawn.py" "$(echo "$PORTS" | cut -d, -f2)"
set -- $OUT
xcheck vfork-shared-fd-table "descriptors of a Python service before and after 20 subprocesses" \
	"$1 $1" "$OUT"
done_ok
