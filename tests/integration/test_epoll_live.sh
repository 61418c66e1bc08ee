#!/bin/sh
# test_epoll_live.sh -- a fault in time added live (chaos-ctl add) reaches an epoll event loop
# whose registrations were all made before the rule existed
#
# Under chaos-exec, epoll_ctl is the real call while no fault in time can apply (epoll.c):
# the library learns the registrations from the kernel's list when a timed rule arrives.  Here
# connections are opened and registered (level-triggered, edge-triggered, one-shot re-armed
# once) and used once with no timed rule; then the rule is added and the loop, woken through the
# same epoll by its stdin, asks again.  The readiness must be held back for the delay (and not by
# spinning: the loop's CPU time is bounded), a stall must hold it for good, the program must get
# its own data back, and edge-triggered and one-shot registrations must keep their semantics.
# python asyncio and node (libuv) event loops are checked the same way.
. "$(dirname "$0")/lib.sh"

start_server P peer
D="127.0.0.1:$P"

cat >"$T/eplive.py" <<'PY'
import os, resource, select, socket, sys, time
port, modes = int(sys.argv[1]), sys.argv[2].split(",")
LT, ET, OS = select.EPOLLIN, select.EPOLLIN | select.EPOLLET, select.EPOLLIN | select.EPOLLONESHOT
flags = {"lt": LT, "et": ET, "oneshot": OS}
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
ep = select.epoll()
socks = {}
for m in modes:
    s = socket.create_connection(("127.0.0.1", port)); s.setblocking(False)
    ep.register(s.fileno(), flags[m])
    socks[s.fileno()] = (m, s)
ep.register(0, select.EPOLLIN)

def round_trip(limit):
    """ping every socket; ms until epoll reports each (or None), CPU ms, stray events"""
    t0, c0 = time.monotonic(), cpu()
    for fd, (m, s) in socks.items():
        s.send(b"ping\n")
    got, stray = {}, 0
    while len(got) < len(socks) and time.monotonic() - t0 < limit:
        for fd, ev in ep.poll(limit - (time.monotonic() - t0)):
            if fd not in socks:
                stray += 1
                continue
            m, s = socks[fd]
            if m in got:
                stray += 1  # (level-triggered data is read at once: nothing should repeat)
                continue
            got[m] = round((time.monotonic() - t0) * 1000)
            try:
                if s.recv(100) != b"pong\n":
                    print("bad answer on", m, flush=True)
            except BlockingIOError:
                print("reported but nothing to read on", m, flush=True)
    ms = round((cpu() - c0) * 1000)
    # afterwards: nothing more (edge-triggered: no new data; one-shot: disarmed)
    for fd, ev in ep.poll(0.2):
        stray += 1
    for fd, (m, s) in socks.items():
        if m == "oneshot":
            ep.modify(fd, OS)
    return got, ms, stray

got, ms, stray = round_trip(2)
print("before", " ".join("%s=%s" % (m, got.get(m)) for m in modes), "stray=%d" % stray, flush=True)
# the registrations are all made: wait for the rule, through the same epoll
for fd, ev in ep.poll():
    assert fd == 0
sys.stdin.readline()
ep.unregister(0)  # (at its end now: readable for good)
got, ms, stray = round_trip(float(sys.argv[3]))
print("after", " ".join("%s=%s" % (m, got.get(m)) for m in modes), "cpu=%d" % ms,
      "stray=%d" % stray, flush=True)
PY

cat >"$T/aslive.py" <<'PY'
import asyncio, resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
async def main():
    r, w = await asyncio.open_connection("127.0.0.1", int(sys.argv[1]))
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async def rtt():
        t, c = time.monotonic(), cpu()
        w.write(b"ping\n"); await w.drain()
        line = await asyncio.wait_for(r.readline(), 3)
        ms = round((time.monotonic() - t) * 1000)
        return line.strip().decode(), ms, round((cpu() - c) * 1000)
    print("before %s %d %d" % await rtt(), flush=True)
    await stdin.readline()
    print("after %s %d %d" % await rtt(), flush=True)
asyncio.run(main())
PY

cat >"$T/nodelive.js" <<'JS'
const net = require('net'), readline = require('readline');
const s = net.connect(+process.argv[2], '127.0.0.1');
let t0, c0, n = 0;
const ping = () => { t0 = process.hrtime.bigint(); c0 = process.cpuUsage(); s.write('ping\n'); };
s.on('connect', ping);
s.on('data', (d) => {
  const c = process.cpuUsage(c0);
  console.log((n++ ? 'after ' : 'before ') + d.toString().trim() + ' ' +
              Math.round(Number(process.hrtime.bigint() - t0) / 1e6) + ' ' +
              Math.round((c.user + c.system) / 1000));
  if (n === 2) { s.destroy(); process.exit(0); }
});
readline.createInterface({ input: process.stdin }).on('line', ping);
JS

# live CMD...: run CMD under chaos-exec, wait for its "before" line, add $RULE live, say go;
# sets BEFORE and AFTER (the lines it printed)
live() {
	rm -f "$T/in" "$T/out"
	mkfifo "$T/in"
	"$CHAOS_EXEC" --log "$T/faults.log" -- "$@" <"$T/in" >"$T/out" 2>"$T/err" &
	LPID=$!
	PIDS="$PIDS $LPID"
	exec 7>"$T/in"
	i=0
	while ! grep -q '^before' "$T/out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "$*: no first round trip: $(cat "$T/out" "$T/err")"
		sleep 0.05
	done
	"$BUILD/chaos-ctl" "$LPID" add "$RULE" >/dev/null
	echo go >&7
	exec 7>&-
	wait $LPID || fail "$*: exit $?: $(cat "$T/err")"
	BEFORE=$(grep '^before' "$T/out")
	AFTER=$(grep '^after' "$T/out")
	[ -z "$(grep -v '^before\|^after' "$T/out")" ] || fail "$*: $(cat "$T/out")"
}

# ms NAME LINE KEY LO HI: KEY=MS in LINE, within bounds
ms() {
	v=$(printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$3=//p")
	case "$v" in '' | *[!0-9]*) fail "$1: $3: no time in [$2]" ;; esac
	[ "$v" -ge "$4" ] && [ "$v" -le "$5" ] || fail "$1: $3 took $v ms, not $4..$5: [$2]"
	PASSED=$((PASSED + 1))
}

# ---- raw epoll: level-triggered, edge-triggered, one-shot, in one set and one at a time --------
for modes in lt,et,oneshot lt et oneshot; do
	RULE="$D delay=300ms on=recv"
	live python3 "$T/eplive.py" "$P" "$modes" 2
	for m in $(echo "$modes" | tr , ' '); do
		ms "delay $modes: before the rule" "$BEFORE" "$m" 0 60
		ms "delay $modes: held back" "$AFTER" "$m" 295 420
	done
	ms "delay $modes: no spin" "$AFTER" cpu 0 60
	check_match "delay $modes: nothing else reported" "stray=0$" "$AFTER"
	check_match "delay $modes: nothing else reported before" "stray=0$" "$BEFORE"

	RULE="$D stall"
	live python3 "$T/eplive.py" "$P" "$modes" 0.6
	for m in $(echo "$modes" | tr , ' '); do
		ms "stall $modes: before the rule" "$BEFORE" "$m" 0 60
		check_match "stall $modes: held back for good" " $m=None " "$AFTER"
	done
	ms "stall $modes: no spin" "$AFTER" cpu 0 60
done

# ---- event loops as services run them -----------------------------------------------------------
RULE="$D delay=300ms on=recv"
live python3 "$T/aslive.py" "$P"
check_match "asyncio before the rule" "^before pong [0-9]+ [0-9]+$" "$BEFORE"
set -- $BEFORE
[ "$3" -lt 60 ] || fail "asyncio before the rule: [$BEFORE]"
set -- $AFTER
[ "$2" = pong ] && [ "$3" -ge 295 ] && [ "$3" -le 420 ] && [ "$4" -le 60 ] ||
	fail "asyncio, delay added live: [$AFTER] (answer, ms, cpu ms)"
PASSED=$((PASSED + 1))

live node "$T/nodelive.js" "$P"
set -- $BEFORE
[ "$2" = pong ] && [ "$3" -lt 60 ] || fail "node before the rule: [$BEFORE]"
set -- $AFTER
[ "$2" = pong ] && [ "$3" -ge 295 ] && [ "$3" -le 420 ] && [ "$4" -le 60 ] ||
	fail "node, delay added live: [$AFTER] (answer, ms, cpu ms)"
PASSED=$((PASSED + 1))

done_ok
