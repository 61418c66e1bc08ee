#!/bin/sh
# test_chaos_exec.sh -- the launcher: validation, exit codes, environment, binaries it refuses
. "$(dirname "$0")/lib.sh"

start_server PORT echo
LOG="$T/faults.log"

# ---- bad input: exit 2, a message naming the rule and the token, nothing started -------------
run_rc "$CHAOS_EXEC" -f 'redis:abc refuse' -- touch "$T/ran"
check "bad rule exit" 2 "$RC"
check "bad rule message" "chaos-exec: --fault 'redis:abc refuse': port 'abc' is not a number" "$OUT"
[ ! -e "$T/ran" ] || fail "the command ran despite a bad rule"
run_rc "$CHAOS_EXEC" -f 'db.local:5432 refuse' -f 'db.local explode' -- touch "$T/ran"
check "second bad rule" 2 "$RC"
check_match "unknown action" "^chaos-exec: --fault 'db.local explode': unknown action 'explode'" "$OUT"
run_rc "$CHAOS_EXEC" -f 'db.local loss=0.1' -- touch "$T/ran"
check "unsupported action" "chaos-exec: --fault 'db.local loss=0.1': loss= drops packets, which only the kernel can do: use chaos-attach" "$OUT"
run_rc "$CHAOS_EXEC" -f 'db.local loss=0.1' -- true
check_match "loss is eBPF only" "loss= drops packets, which only the kernel can do: use chaos-attach" "$OUT"
[ ! -e "$T/ran" ] || fail "the command ran despite a bad rule"
run_rc "$CHAOS_EXEC" --seed x1 -- true
check "bad seed" "2 chaos-exec: --seed 'x1' is not a number" "$RC $OUT"
run_rc "$CHAOS_EXEC" --bogus -- true
check "unknown option" 2 "$RC"
check_match "unknown option message" "option '--bogus' is not known" "$OUT"
run_rc "$CHAOS_EXEC" -f 'db refuse'
check "no command" "2 chaos-exec: no command given (chaos-exec [OPTIONS] -- COMMAND [ARG]...)" "$RC $OUT"
run_rc "$CHAOS_EXEC" --log /nonexistent/dir/log -- true
check "bad log path" "2 chaos-exec: --log /nonexistent/dir/log: No such file or directory" "$RC $OUT"

# ---- config files --------------------------------------------------------------------------------
cat >"$T/faults.json" <<'JSON'
{"faults": [
  "redis.local:6379 refuse p=25%",
  {"target": "db.local:5432", "action": "error", "error": "ETIMEDOUT", "count": 3},
  {"target": "*.internal", "action": "dns=nxdomain", "for": "30s"}
]}
JSON
run_rc "$CHAOS_EXEC" -c "$T/faults.json" -f '[::1]:8000-8099 reset bytes=100' --check
check "config --check" "0|redis.local:6379 refuse p=0.25|db.local:5432 error=ETIMEDOUT count=3|*.internal dns=nxdomain for=30s|[::1]:8000-8099 reset bytes=100" \
	"$RC|$(echo "$OUT" | paste -sd'|')"
echo '{"faults": ["ok.local refuse", {"target": "x.local", "action": "error", "error": "EPIPE"}]}' >"$T/bad.json"
run_rc "$CHAOS_EXEC" -c "$T/bad.json" -- true
check_match "config bad rule" "^2\|chaos-exec: $T/bad.json: faults\[1\] 'x.local error=EPIPE': .*connect cannot fail with EPIPE" "$RC|$OUT"
printf '{"faults": [\n "a refuse",\n ]\n' >"$T/broken.json"
run_rc "$CHAOS_EXEC" -c "$T/broken.json" -- true
check_match "config bad json" "^2\|chaos-exec: $T/broken.json: line 3(, column [0-9]+)?: not valid JSON" "$RC|$OUT"
run_rc "$CHAOS_EXEC" -c "$T/missing.json" -- true
check "config missing" "2|chaos-exec: $T/missing.json: No such file or directory" "$RC|$OUT"

# ---- the command: found, run, its status passed on ---------------------------------------------
run_rc "$CHAOS_EXEC" -- no-such-command-here
check "not found" "127|chaos-exec: no-such-command-here: command not found" "$RC|$OUT"
printf 'echo hi\n' >"$T/noexec"
run_rc "$CHAOS_EXEC" -- "$T/noexec"
check "not executable" "126|chaos-exec: $T/noexec: permission denied" "$RC|$OUT"
run_rc "$CHAOS_EXEC" -- "$T"
check "directory" "126|chaos-exec: $T: is a directory" "$RC|$OUT"
run_rc "$CHAOS_EXEC" -- sh -c 'exit 42'
check "exit status" 42 "$RC"
run_rc "$CHAOS_EXEC" -- sh -c 'kill -TERM $$'
check "killed by a signal" 143 "$RC"
# chaos-exec passes on a signal sent to it
"$CHAOS_EXEC" -- sleep 30 &
CE=$!
sleep 0.3
kill -TERM "$CE"
set +e
wait "$CE"
RC=$?
set -e
check "SIGTERM forwarded" 143 "$RC"

# ---- environment -----------------------------------------------------------------------------------
cc -shared -fPIC -o "$T/libnothing.so" -x c /dev/null
got=$(LD_PRELOAD="$T/libnothing.so" "$CHAOS_EXEC" -- sh -c 'echo "$LD_PRELOAD"')
check "LD_PRELOAD appended" "$T/libnothing.so:$BUILD/libchaos-preload.so" "${got#"${SAN_PRELOAD:-}:"}"
got=$("$CHAOS_EXEC" -f 'a.local refuse' -f 'b.local dns=nxdomain' --seed 5 -- sh -c 'printf "%s|%s" "$CHAOS_RULES" "$CHAOS_SEED"')
check "rules and seed passed" "a.local refuse
b.local dns=nxdomain
|5" "$got"

# ---- the log: default stderr, - is stdout, FILE appended ---------------------------------------------
run_rc "$CHAOS_EXEC" -f "127.0.0.1:$PORT refuse" -- "$NETPROBE" connect 127.0.0.1 "$PORT"
check_match "log on stderr by default" '^ECONNREFUSED
\{"time".*"result":"ECONNREFUSED"\}$' "$OUT"
got=$("$CHAOS_EXEC" --log - -f "127.0.0.1:$PORT refuse" -- "$NETPROBE" connect 127.0.0.1 "$PORT" 2>/dev/null | grep -c '"action":"refuse"')
check "log on stdout with -" 1 "$got"
# children of the command log too, and a process that closes stderr still logs to the file
"$CHAOS_EXEC" --log "$LOG" -f "127.0.0.1:$PORT refuse" -- sh -c "exec 2>&-; $NETPROBE connect 127.0.0.1 $PORT; $NETPROBE connect 127.0.0.1 $PORT" >/dev/null
check "log file, two processes" 2 "$(count_log "$LOG")"
check "two pids" 2 "$(grep -o '"pid":[0-9]*' "$LOG" | sort -u | wc -l | tr -d ' ')"

# ---- programs LD_PRELOAD cannot reach are refused, not run unfaulted ---------------------------------
printf 'int main(void){return 0;}\n' >"$T/s.c"
cc -static -o "$T/static" "$T/s.c"
run_rc "$CHAOS_EXEC" -f 'x refuse' -- "$T/static"
check "static refused" "126|chaos-exec: $T/static is statically linked: LD_PRELOAD cannot reach it, so no fault would be injected (use chaos-attach, which works in the kernel)" "$RC|$OUT"
cc -o "$T/fakego" "$T/s.c"
objcopy --add-section .go.buildinfo=/dev/null "$T/fakego"
run_rc "$CHAOS_EXEC" -f 'x refuse' -- "$T/fakego"
check_match "go refused" "^126\|chaos-exec: $T/fakego is a Go program" "$RC|$OUT"
printf '#!%s\n' "$T/static" >"$T/script"
chmod +x "$T/script"
run_rc "$CHAOS_EXEC" -- "$T/script"
check_match "script judged by its interpreter" "^126\|chaos-exec: $T/static is statically linked" "$RC|$OUT"
cp /bin/true "$T/suid"
chown nobody "$T/suid"
chmod u+s "$T/suid"
if [ "$(id -u)" -eq 0 ]; then
	# root runs a setuid-nobody program with a different effective uid: secure execution
	run_rc "$CHAOS_EXEC" -- "$T/suid"
	check "setuid refused" "126|chaos-exec: $T/suid is setuid or setgid: the loader ignores LD_PRELOAD for it, so no fault would be injected" "$RC|$OUT"
fi

# ---- a hooked call from another library's constructor ----------------------------------------------
cc -shared -fPIC -o "$T/libctor.so" "$HERE/ctor.c"
cc -o "$T/ctormain" "$HERE/ctormain.c" -Wl,--no-as-needed -L"$T" -lctor -Wl,-rpath,"$T"
got=$(CTOR_PORT=$PORT "$CHAOS_EXEC" --log "$LOG" -f "127.0.0.1:$PORT refuse" -- "$T/ctormain" | tr '\n' ' ')
check "constructor of a linked library" "ctor ECONNREFUSED main " "$got"
got=$(CTOR_PORT=$PORT LD_PRELOAD="$T/libctor.so" "$CHAOS_EXEC" --log "$LOG" -f "127.0.0.1:$PORT refuse" -- "$NETPROBE" connect 127.0.0.1 "$PORT" | tr '\n' ' ')
# (the first line is chaos-exec itself, which the user's LD_PRELOAD reaches too, unfaulted)
check "constructor of a preloaded library" "ctor ok ctor ECONNREFUSED ECONNREFUSED " "$got"

# ---- an installed layout finds its library ------------------------------------------------------------
mkdir -p "$T/inst/bin" "$T/inst/lib/chaos"
cp "$CHAOS_EXEC" "$T/inst/bin/"
cp "$BUILD/libchaos-preload.so" "$T/inst/lib/chaos/"
got=$("$T/inst/bin/chaos-exec" --log /dev/null -f "127.0.0.1:$PORT refuse" -- sh -c 'echo "$LD_PRELOAD"; '"$NETPROBE connect 127.0.0.1 $PORT")
check_match "installed layout" "(^|:)$T/inst/lib/chaos/libchaos-preload.so
ECONNREFUSED$" "$got"
done_ok
