#!/bin/sh
# test_exec_lifecycle.sh -- chaos-exec's command and its control channel from start to kill -9:
# a fault put on the instant the command exists reaches its first call; kill -9 chaos-exec takes
# the command with it (and how long that takes); the next chaos-exec sweeps the channels killed
# ones left and nothing else; control slots freed and reused below the high-water mark; the
# faults of a process chaos-exec leaves behind come off.
. "$(dirname "$0")/lib.sh"

CHAOS_CTL="$BUILD/chaos-ctl"
CTLDIR=/dev/shm/chaos-$(id -u)
[ -z "${XDG_RUNTIME_DIR:-}" ] || CTLDIR="$XDG_RUNTIME_DIR/chaos"

# child_of PID: PID's first child, at once (spins, with builtins only: the point is to be as
# early as possible)
child_of() {
	c=""
	n=0
	while [ -z "$c" ]; do
		read -r c _ <"/proc/$1/task/$1/children" || true
		n=$((n + 1))
		[ $n -lt 100000 ] || fail "chaos-exec $1 started no command"
	done
	echo "$c"
}

# a port nobody listens on: a connect there is refused, unless a rule says otherwise
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# ---- a fault put on as soon as the command's pid is known ------------------------------------
# The command is sh waiting on a fifo, then exec'ing netprobe (same pid, same slot).  It is
# stopped the moment its pid shows: in most rounds before the library has loaded in it (its
# maps say), so the rule is added to a process that has not registered itself; in all of them
# before netprobe's first call, which must have the rule.
ROUNDS=25
bad=""
early=0
i=0
while [ $i -lt $ROUNDS ]; do
	i=$((i + 1))
	mkfifo "$T/in.$i"
	exec 8<>"$T/in.$i"
	"$CHAOS_EXEC" --log "$T/early.log" -- sh -c 'read x; exec "$0" connect 127.0.0.1 "$1"' \
		"$NETPROBE" "$PORT" <"$T/in.$i" >"$T/out.$i" 2>&1 &
	ep=$!
	PIDS="$PIDS $ep"
	svc=$(child_of "$ep")
	kill -STOP "$svc"
	grep -q libchaos-preload "/proc/$svc/maps" || early=$((early + 1))
	run_rc "$CHAOS_CTL" "$svc" add "127.0.0.1:$PORT error=ETIMEDOUT"
	[ "$RC" = 0 ] || bad="$bad [round $i: $OUT]"
	kill -CONT "$svc"
	echo go >&8
	exec 8>&-
	wait "$ep" || true
	got=$(cat "$T/out.$i")
	[ "$got" = ETIMEDOUT ] || bad="$bad [round $i: the first connect: $got]"
done
echo "          chaos-ctl add at once: $early of $ROUNDS rounds before the library loaded"
check "chaos-ctl add at once, $ROUNDS rounds: the command's first call has the rule" "" "$bad"
[ "$early" -gt 0 ] || fail "no round caught the command before the library loaded in it"

# ---- kill -9 chaos-exec: the command goes with it --------------------------------------------
# the time from the SIGKILL to the command's exit, through a pidfd; bounded: the kernel's
# PR_SET_PDEATHSIG signal is immediate, the rest is scheduling on a busy machine
out=$(python3 - "$CHAOS_EXEC" <<'PY'
import os, select, signal, subprocess, sys, time
times, left = [], 0
for r in range(10):
    ep = subprocess.Popen([sys.argv[1], "-f", "127.0.0.2 refuse", "--", "sleep", "30"])
    path = "/proc/%d/task/%d/children" % (ep.pid, ep.pid)
    child = ""
    while not child:
        child = open(path).read().split()
        child = child[0] if child else ""
    time.sleep(0.03)
    fd = os.pidfd_open(int(child))
    t0 = time.monotonic()
    os.kill(ep.pid, signal.SIGKILL)
    ready, _, _ = select.select([fd], [], [], 2.0)
    if ready:
        times.append((time.monotonic() - t0) * 1000)
    else:
        left += 1
        os.kill(int(child), signal.SIGKILL)
    os.close(fd)
    ep.wait()
times.sort()
print(left, "%.2f" % times[len(times) // 2] if times else "-", "%.2f" % times[-1] if times else 9999)
PY
)
med=${out#* }
med=${med% *}
echo "          kill -9 chaos-exec: the command gone after $med ms (median of 10), at most ${out##* } ms"
check "kill -9 chaos-exec: no command left (of 10)" 0 "${out%% *}"
max=${out##* }
[ "${max%.*}" -lt 500 ] || fail "kill -9 chaos-exec: the command took $max ms to go (bound 500 ms)"

# ---- what a killed chaos-exec leaves is swept by the next one -----------------------------------
mkdir -p "$CTLDIR"
# a live chaos-exec: untouched
"$CHAOS_EXEC" -- sleep 30 &
LIVE=$!
PIDS="$PIDS $LIVE"
i=0
while [ ! -S "$CTLDIR/$LIVE.sock" ]; do
	i=$((i + 1))
	[ $i -lt 250 ] || fail "chaos-exec $LIVE made no control socket"
	sleep 0.02
done
# dead: a pid nobody has (near pid_max: not handed out again under the test, however busy the
# machine), with a socket nobody listens on and an area
DEAD=$(($(cat /proc/sys/kernel/pid_max) - 3))
while kill -0 "$DEAD" 2>/dev/null; do DEAD=$((DEAD - 1)); done
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$CTLDIR/$DEAD.sock"
head -c 4096 /dev/zero >"$CTLDIR/$DEAD.shm"
# reused: a live pid that is not the chaos-exec of the area named after it (the area is LIVE's,
# with its pid changed: its start time is LIVE's)
sleep 30 &
REUSED=$!
PIDS="$PIDS $REUSED"
start=$(sed 's/.*) //' "/proc/$LIVE/stat" | cut -d' ' -f20)
python3 - "$CTLDIR/$LIVE.shm" "$CTLDIR/$REUSED.shm" "$LIVE" "$REUSED" "$start" <<'PY'
import struct, sys
src, dst, live, reused, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
h = bytearray(open(src, "rb").read(4096))
assert struct.unpack_from("<I", h, 4)[0] == live
struct.pack_into("<I", h, 4, reused)
at = h.find(struct.pack("<Q", start), 8, 512)
assert at > 0 and at % 8 == 0, "no start time in the header"
open(dst, "wb").write(bytes(h))
PY
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$CTLDIR/$REUSED.sock"
# starting: a live pid whose area is not filled yet (magic 0): kept
sleep 30 &
STARTING=$!
PIDS="$PIDS $STARTING"
head -c 4096 /dev/zero >"$CTLDIR/$STARTING.shm"
# not ours: a name that is not a pid
: >"$CTLDIR/notes.sock"

run_rc "$CHAOS_EXEC" -- true
check "chaos-exec runs" 0 "$RC"
present() { for f in "$@"; do [ -e "$CTLDIR/$f" ] && printf '%s ' "$f"; done; true; }
check "swept: dead and reused pids" "" "$(present "$DEAD.sock" "$DEAD.shm" "$REUSED.sock" "$REUSED.shm")"
check "kept: a live chaos-exec, one starting, a stranger" \
	"$LIVE.sock $LIVE.shm $STARTING.shm notes.sock " \
	"$(present "$LIVE.sock" "$LIVE.shm" "$STARTING.shm" "notes.sock")"
run_rc "$CHAOS_CTL" "$LIVE" show
check "the live chaos-exec still answers" 0 "$RC"
# chaos-ctl list sweeps the same way
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$CTLDIR/$DEAD.sock"
run_rc "$CHAOS_CTL" list
check "chaos-ctl list with a dead channel" 0 "$RC"
check "chaos-ctl list swept it" "" "$(present "$DEAD.sock")"
check "chaos-ctl list kept the starting one" "$STARTING.shm " "$(present "$STARTING.shm")"
rm -f "$CTLDIR/$STARTING.shm" "$CTLDIR/notes.sock"
kill "$LIVE" "$REUSED" "$STARTING"
wait "$LIVE" "$REUSED" "$STARTING" 2>/dev/null || true

# ---- slots freed and taken again below the high-water mark --------------------------------------
# A python service forks children on request; one is killed (its slot freed), another forks
# (takes the freed slot), a child above the freed slot execs (finds its slot again, above a slot
# that was free when it looked): every process is listed once and answers.
cat >"$T/tree.py" <<'PY'
import os, signal, sys, time
def child():
    signal.signal(signal.SIGUSR1, lambda *a: os.execv("/bin/sleep", ["sleep", "30"]))
    while True:
        time.sleep(1)
for line in sys.stdin:
    w = line.split()
    if w[0] == "fork":
        pid = os.fork()
        if pid == 0:
            child()
        print(pid, flush=True)
    elif w[0] == "kill":
        os.kill(int(w[1]), signal.SIGKILL)
        os.waitpid(int(w[1]), 0)
        print("killed", flush=True)
PY
mkfifo "$T/tree.in" "$T/tree.out"
exec 8<>"$T/tree.in"
"$CHAOS_EXEC" -- python3 "$T/tree.py" <"$T/tree.in" >"$T/tree.out" &
TREE=$!
PIDS="$PIDS $TREE"
exec 9<"$T/tree.out"
SVC=$(child_of "$TREE")
ask() { echo "$*" >&8; read -r line <&9; echo "$line"; }
A=$(ask fork)
B=$(ask fork)
C=$(ask fork)
PIDS="$PIDS $B $C" # they would outlive the service
ask kill "$A" >/dev/null
"$CHAOS_CTL" list >/dev/null # frees A's slot
D=$(ask fork)
PIDS="$PIDS $D"
kill -USR1 "$C"
i=0
until [ "$(cat "/proc/$C/comm" 2>/dev/null)" = sleep ]; do
	i=$((i + 1))
	[ $i -lt 250 ] || fail "child $C did not exec"
	sleep 0.02
done
"$CHAOS_CTL" "$C" add "127.0.0.1:$PORT refuse" >/dev/null # answered once its library is there
listed=$("$CHAOS_CTL" --json list | python3 -c "
import json, sys
print(' '.join(str(p['pid']) for p in sorted(json.load(sys.stdin)['processes'], key=lambda p: p['pid']) if p['exec_pid'] == $TREE))")
check "every process of the tree listed once" "$(printf '%s\n' "$SVC" "$B" "$C" "$D" | sort -n | tr '\n' ' ' | sed 's/ $//')" "$listed"
for p in "$B" "$C" "$D"; do
	run_rc "$CHAOS_CTL" "$p" add "127.0.0.1:$PORT error=EHOSTUNREACH"
	check "process $p answers" 0 "$RC"
done
exec 8>&- 9<&-
kill "$TREE" "$B" "$C" "$D"
wait "$TREE" 2>/dev/null || true

# ---- kill -9 chaos-exec: the faults of the processes it leaves behind come off -----------------
# The command dies with chaos-exec; a child of the command does not (it is the command's to
# end).  Its next fault would have nobody to take it off: it is not injected, and it says why.
cat >"$T/orphan.py" <<'PY'
import errno, os, socket, sys, time
port, go = int(sys.argv[1]), sys.argv[2]
def attempt():
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return "connected"
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        s.close()
if os.fork() == 0:
    print(os.getpid(), "before", attempt(), flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    print(os.getpid(), "after", attempt(), flush=True)
    sys.exit(0)
time.sleep(60)
PY
"$CHAOS_EXEC" --log "$T/orphan.log" -f "127.0.0.1:$PORT error=ETIMEDOUT" -- \
	python3 "$T/orphan.py" "$PORT" "$T/go" >"$T/orphan.out" 2>"$T/orphan.err" &
EP=$!
PIDS="$PIDS $EP"
i=0
until grep -q before "$T/orphan.out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 500 ] || fail "the command's child did not start: $(cat "$T/orphan.err")"
	sleep 0.01
done
set -- $(cat "$T/orphan.out")
ORPHAN=$1
PIDS="$PIDS $ORPHAN"
check "the child's connect while chaos-exec runs" "before ETIMEDOUT" "$2 $3"
kill -9 "$EP"
wait "$EP" 2>/dev/null || true
: >"$T/go"
i=0
until grep -q after "$T/orphan.out"; do
	i=$((i + 1))
	[ $i -lt 500 ] || fail "the orphan did not try again: $(cat "$T/orphan.err")"
	sleep 0.01
done
check "the orphan's connect after kill -9 chaos-exec: the real answer" "$ORPHAN after ECONNREFUSED" \
	"$(sed -n 2p "$T/orphan.out")"
check_match "the orphan says its faults are off" \
	"chaos-exec \(pid $EP\) is gone: the faults it put on process $ORPHAN are off" "$(cat "$T/orphan.err")"
check "faults logged: the one before only" 1 "$(grep -c '"result":"ETIMEDOUT"' "$T/orphan.log")"
done_ok
