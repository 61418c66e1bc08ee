#!/bin/sh
# test_ctl.sh -- live control: faults added to and removed from running services (C, python,
# node), counters exact, whole trees, other users refused, atomic changes under load,
# discovery records, and channels left by a killed chaos-exec cleaned up.
. "$(dirname "$0")/lib.sh"

CHAOS_CTL="$BUILD/chaos-ctl"
CTLSTRESS="$BUILD/tests/integration/ctlstress"
LOG="$T/faults.log"
start_server PORT echo
R="127.0.0.1:$PORT refuse"

# json EXPR: evaluate a python expression over the JSON on stdin (as j)
json() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# wait_for CMD...: retry a command for up to 5 s
wait_for() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 250 ] || fail "timed out waiting for: $*"
		sleep 0.02
	done
}

# ---- a service reading requests on a fifo: each line is one connect ---------------------------
# start_service NAME CMD...: the service's stdin is $T/NAME.in, its stdout $T/NAME.out;
# sets SVC (its pid: chaos-exec's child) and EXEC (chaos-exec's pid)
start_service() {
	name=$1
	shift
	mkfifo "$T/$name.in"
	"$CHAOS_EXEC" --log "$LOG" -- "$@" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" &
	EXEC=$!
	PIDS="$PIDS $EXEC"
	exec 7>"$T/$name.in"
	eval "FD_$name=7"
	SVC=""
	i=0
	while [ -z "$SVC" ]; do
		SVC=$(pgrep -P "$EXEC" | head -1 || true)
		i=$((i + 1)); [ $i -lt 250 ] || fail "$name did not start"
		sleep 0.02
	done
	# registered with chaos-exec once the library is up
	wait_for sh -c "'$CHAOS_CTL' $SVC show"
}

# ask NAME N: make the service connect N times, print what it saw, space-separated
ask() {
	before=$(wc -l <"$T/$1.out")
	i=0
	while [ $i -lt "$2" ]; do echo go >&7; i=$((i + 1)); done
	want=$((before + $2))
	i=0
	while [ "$(wc -l <"$T/$1.out")" -lt $want ]; do
		i=$((i + 1)); [ $i -lt 500 ] || fail "$1 answered $(wc -l <"$T/$1.out") of $want"
		sleep 0.01
	done
	tail -n "$2" "$T/$1.out" | tr '\n' ' ' | sed 's/ $//'
}

stop_service() {
	exec 7>&-
	wait "$EXEC" 2>/dev/null || true
}

# run the same scenario against one service: fails only after add, recovers after remove
scenario() {
	name=$1
	check "$name: before" "ok ok" "$(ask "$name" 2)"
	out=$("$CHAOS_CTL" --json "$SVC" add "$R")
	id=$(echo "$out" | json 'j["added"][0]["id"]')
	check "$name: one rule added" 1 "$(echo "$out" | json 'len(j["added"])')"
	check "$name: while faulted" "$3 $3 $3" "$(ask "$name" 3)"
	got=$("$CHAOS_CTL" --json "$SVC" show | json '[(r["id"], r["matched"], r["injected"]) for r in j["rules"]]')
	check "$name: counters" "[($id, 3, 3)]" "$got"
	"$CHAOS_CTL" "$SVC" remove "$id" >/dev/null
	check "$name: after remove" "ok ok" "$(ask "$name" 2)"
	check "$name: no rules left" 0 "$("$CHAOS_CTL" --json "$SVC" show | json 'len(j["rules"])')"
	# pause and resume keep the rule, switch it off and on
	"$CHAOS_CTL" "$SVC" add "$R count=2" >/dev/null
	"$CHAOS_CTL" "$SVC" pause >/dev/null
	check "$name: paused" "ok" "$(ask "$name" 1)"
	"$CHAOS_CTL" "$SVC" resume >/dev/null
	check "$name: resumed, count=2" "$3 $3 ok" "$(ask "$name" 3)"
	"$CHAOS_CTL" "$SVC" remove all >/dev/null
	stop_service
}

start_service c "$NETPROBE" serve 127.0.0.1 "$PORT"
scenario c "" ECONNREFUSED

cat >"$T/svc.py" <<'PY'
import socket, sys
for line in sys.stdin:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close(); print("ok", flush=True)
    except OSError as e:
        print(type(e).__name__, flush=True)
PY
start_service py python3 "$T/svc.py" "$PORT"
scenario py "" ConnectionRefusedError

cat >"$T/svc.js" <<'JS'
const net = require('net'), rl = require('readline').createInterface({ input: process.stdin });
const port = +process.argv[2];
rl.on('line', () => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { console.log('ok'); s.destroy(); });
  s.on('error', (e) => console.log(e.code));
});
JS
start_service js node "$T/svc.js" "$PORT"
scenario js "" ECONNREFUSED

# ---- bad requests -----------------------------------------------------------------------------
start_service c2 "$NETPROBE" serve 127.0.0.1 "$PORT"
run_rc "$CHAOS_CTL" "$SVC" add 'redis:abc refuse'
check "bad rule" "2|chaos-ctl: rule 'redis:abc refuse': port 'abc' is not a number" "$RC|$OUT"
run_rc "$CHAOS_CTL" "$SVC" add 'db.local loss=0.1'
check "unsupported rule" "2|chaos-ctl: rule 'db.local loss=0.1': loss= drops packets, which only the kernel can do: use chaos-attach" "$RC|$OUT"
run_rc "$CHAOS_CTL" "$SVC" add "$R" 'x:1 nonsense'
check "all or none" "0" "$("$CHAOS_CTL" --json "$SVC" show | json 'len(j["rules"])')"
run_rc "$CHAOS_CTL" "$SVC" remove 99
check "unknown id" "1|chaos-ctl: process $SVC has no rule 99" "$RC|$OUT"
run_rc "$CHAOS_CTL" "$SVC" remove abc
check "bad id" 2 "$RC"
run_rc "$CHAOS_CTL" $$ show
check "not under chaos-exec" "1|chaos-ctl: process $$ is not running under chaos-exec (no CHAOS_CTL in its environment)" "$RC|$OUT"
run_rc "$CHAOS_CTL" 999999999 show
check "no such process" "1|chaos-ctl: no process 999999999" "$RC|$OUT"
run_rc "$CHAOS_CTL" "$SVC" explode
check "unknown command" "2|chaos-ctl: 'explode' is not a command (show, add, remove, pause, resume, deps)" "$RC|$OUT"
# list shows it, with its rule count
"$CHAOS_CTL" "$SVC" add "$R" "127.0.0.1:1 refuse" >/dev/null
got=$("$CHAOS_CTL" --json list | json "[p['rules'] for p in j['processes'] if p['pid'] == $SVC]")
check "list" "[2]" "$got"

# ---- another user is refused ------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	id chaostest >/dev/null 2>&1 || useradd -M -s /bin/sh chaostest
	run_rc runuser -u chaostest -- "$CHAOS_CTL" "$SVC" add "$R"
	check_match "other user: cannot even find it" "^chaos-ctl: cannot read /proc/$SVC/environ: Permission denied" "$OUT"
	# past the file permissions, the kernel's word on who is calling still refuses
	SOCK=$(tr '\0' '\n' </proc/"$SVC"/environ | sed -n 's/^CHAOS_CTL=//p')
	DIR=$(dirname "$SOCK")
	check "socket dir is private" 700 "$(stat -c %a "$DIR")"
	check "socket is private" 600 "$(stat -c %a "$SOCK")"
	chmod 711 "$DIR"
	chmod 666 "$SOCK"
	got=$(runuser -u chaostest -- python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"op\":\"add\",\"pid\":%s,\"rules\":[\"* refuse\"]}\n" % sys.argv[2].encode())
print(s.recv(4096).decode())' "$SOCK" "$SVC" || true)
	chmod 700 "$DIR"
	chmod 600 "$SOCK"
	check "SO_PEERCRED refusal" '{"error":"permission denied: this service is controlled by another user","exit":1}' "$got"
	check "nothing added" 2 "$("$CHAOS_CTL" --json "$SVC" show | json 'len(j["rules"])')"
fi
# ---- the examples of man/chaos-ctl.1, run as written (4242 is this service) ---------------------
awk '/^\.EX/{ex=1; n++; next} /^\.EE/{ex=0} ex && /chaos-ctl/ {print n "\t" $0}' "$ROOT/man/chaos-ctl.1" |
	sed 's/\\-/-/g' >"$T/ctl-examples"
[ "$(cut -f1 "$T/ctl-examples" | sort -u | wc -l)" -ge 3 ] || fail "too few examples in chaos-ctl.1"
for n in $(cut -f1 "$T/ctl-examples" | sort -u); do
	grep "^$n	" "$T/ctl-examples" | cut -f2- | sed "s/4242/$SVC/g" >"$T/example.sh"
	run_rc env PATH="$BUILD:$PATH" sh -e "$T/example.sh"
	check "chaos-ctl.1 example $n" 0 "$RC"
done
"$CHAOS_CTL" "$SVC" remove all >/dev/null 2>&1 || true

stop_service

# ---- a tree: fork and exec children get the rules and answer to their own pid ------------------
cat >"$T/tree.py" <<'PY'
import os, socket, subprocess, sys, time
port = int(sys.argv[1])
def probe():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close(); return "ok"
    except OSError as e:
        return type(e).__name__
kid = os.fork()
if kid == 0:
    while True:  # the parent ends it
        time.sleep(1)
# an exec'd child (netprobe serve) on a fifo of its own
exe = subprocess.Popen([sys.argv[2], "serve", "127.0.0.1", str(port)],
                       stdin=open(sys.argv[3]), stdout=open(sys.argv[4], "w"))
print(kid, exe.pid, flush=True)
for line in sys.stdin:
    print(probe(), flush=True)
os.kill(kid, 15)
os.waitpid(kid, 0)
exe.wait()
PY
mkfifo "$T/child.in"
: >"$T/child.out"
start_service tree python3 "$T/tree.py" "$PORT" "$NETPROBE" "$T/child.in" "$T/child.out"
exec 8>"$T/child.in"
wait_for sh -c "[ -s '$T/tree.out' ]"
FORKED=$(head -1 "$T/tree.out" | cut -d' ' -f1)
EXECD=$(head -1 "$T/tree.out" | cut -d' ' -f2)
wait_for sh -c "'$CHAOS_CTL' $EXECD show"
wait_for sh -c "'$CHAOS_CTL' $FORKED show"
got=$("$CHAOS_CTL" --json list | json "sorted(p['pid'] for p in j['processes'] if p['pid'] in ($SVC, $FORKED, $EXECD))")
check "list shows the tree" "$(python3 -c "print(sorted([$SVC, $FORKED, $EXECD]))")" "$got"
# a rule on the exec'd child alone
"$CHAOS_CTL" "$EXECD" add "$R" >/dev/null
echo go >&8
wait_for sh -c "[ -s '$T/child.out' ]"
check "exec'd child faulted" ECONNREFUSED "$(tail -1 "$T/child.out")"
check "parent untouched" "ok" "$(tail -n +2 "$T/tree.out" >/dev/null; ask tree 1)"
# --tree from the parent reaches all three
out=$("$CHAOS_CTL" --json "$SVC" add --tree "127.0.0.1:$PORT error=ETIMEDOUT")
check "tree pids" "$(python3 -c "print(sorted([$SVC, $FORKED, $EXECD]))")" "$(echo "$out" | json 'sorted(j["pids"])')"
check "parent faulted" ConnectionRefusedError "$(ask tree 1 | sed 's/TimeoutError/ConnectionRefusedError/')"
check "forked child has it" 1 "$("$CHAOS_CTL" --json "$FORKED" show | json 'len(j["rules"])')"
"$CHAOS_CTL" "$SVC" remove --tree all >/dev/null
check "tree cleared" "0 0 0" "$(for p in $SVC $FORKED $EXECD; do "$CHAOS_CTL" --json "$p" show | json 'len(j["rules"])'; done | tr '\n' ' ' | sed 's/ $//')"
exec 8>&-
stop_service

# ---- 1,000 add/remove cycles while 8 threads connect: no crash, nothing lost, never half a set --
"$CHAOS_EXEC" --log /dev/null -- "$CTLSTRESS" "$PORT" >"$T/stress.out" 2>&1 &
EXEC=$!
PIDS="$PIDS $EXEC"
SVC=""
while [ -z "$SVC" ]; do SVC=$(pgrep -P "$EXEC" | head -1 || true); sleep 0.02; done
wait_for sh -c "'$CHAOS_CTL' $SVC show"
python3 - "$CHAOS_CTL" "$SVC" "$PORT" >"$T/cycles.out" <<'PY'
import json, subprocess, sys
ctl, pid, port = sys.argv[1:]
for i in range(1000):
    # two rules in one change: a call that saw only one of them would count in one and not the other
    out = subprocess.run([ctl, "--json", pid, "add", f"127.0.0.1:{port} error=EHOSTUNREACH p=0",
                          f"127.0.0.1:{port} refuse"], capture_output=True, text=True, check=True)
    ids = [r["id"] for r in json.loads(out.stdout)["added"]]
    subprocess.run([ctl, pid, "remove", "all"], capture_output=True, check=True)
print("done")
PY
check "cycles" done "$(cat "$T/cycles.out")"
kill -USR1 "$SVC"
wait_for sh -c "[ -s '$T/stress.out' ]"
read -r _ OKS _ REFUSED _ OTHER <"$T/stress.out"
check "no other errors" 0 "$OTHER"
[ "$OKS" -gt 0 ] && [ "$REFUSED" -gt 0 ] || fail "stress: ok=$OKS refused=$REFUSED: the faults never (or always) fired"
PASSED=$((PASSED + 1))
# every change added a pair (p=0 rule, refuse rule): each call saw both or neither, so their
# matched counts are equal, pair by pair; and the refusals counted are the ones the threads saw
"$CHAOS_CTL" --json "$SVC" show --all >"$T/all.json"
got=$(json '(sum(1 for r in j["all_rules"]), sum(1 for a, b in zip(j["all_rules"][0::2], j["all_rules"][1::2]) if a["matched"] != b["matched"]), sum(r["injected"] for r in j["all_rules"] if r["rule"].endswith("refuse")))' <"$T/all.json")
check "every rule handed out, no pair split, exact refusals" "(2000, 0, $REFUSED)" "$got"
check "no rule left on" 0 "$(json 'len(j["rules"])' <"$T/all.json")"
kill -TERM "$SVC"
wait "$EXEC" || true
done_ok
