#!/bin/sh
# test_timed.sh -- faults in time through every wait a client uses: blackhole, stall, delay
# (connect, answers, requests, jitter), slice, bandwidth, close-delay, dns=timeout
#
# timeprobe waits the way real clients do (blocking calls with SO_RCVTIMEO/SO_SNDTIMEO, poll,
# ppoll, select, pselect, epoll level-triggered, edge-triggered and one-shot; the fortified
# build through __poll_chk / __ppoll_chk) and prints what it got and after how many ms.
# Signals are compared with a real peer that answers late: the same EINTR or restart.
. "$(dirname "$0")/lib.sh"

LOG="$T/faults.log"
X() { "$CHAOS_EXEC" --log "$LOG" "$@"; }
TP="$TIMEPROBE_FORT"
nm -D "$TP" | grep -q __poll_chk || fail "timeprobe-fortify does not call __poll_chk"
nm -D "$TP" | grep -q __ppoll_chk || fail "timeprobe-fortify does not call __ppoll_chk"

start_server P peer           # answers at once
start_server SLOW peer 400    # a real slow peer: answers 400 ms late
start_server P6 peer 0 v6
D="127.0.0.1:$P"
WAITS="block poll ppoll select pselect epoll epoll-et epoll-oneshot"

# ---- blackhole: the connect is never answered ------------------------------------------------
for via in $WAITS; do
	got=$(X -f "$D blackhole" -- "$TP" connect 127.0.0.1 "$P" "$via" 300)
	# a blocking connect's SO_SNDTIMEO ends it with EINPROGRESS, as the kernel says
	if [ "$via" = block ]; then want=EINPROGRESS; else want=timeout; fi
	check_ms "blackhole $via" "$want" 295 420 "$got"
done
check_ms "blackhole timeout= blocking" ETIMEDOUT 295 400 \
	"$(X -f "$D blackhole timeout=300ms" -- "$TP" connect 127.0.0.1 "$P" block)"
for via in poll epoll select; do
	check_ms "blackhole timeout= $via" ETIMEDOUT 295 400 \
		"$(X -f "$D blackhole timeout=300ms" -- "$TP" connect 127.0.0.1 "$P" "$via" 2000)"
done
check_ms "blackhole timeout= after SO_SNDTIMEO" EINPROGRESS 195 300 \
	"$(X -f "$D blackhole timeout=600ms" -- "$TP" connect 127.0.0.1 "$P" block 200)"
check_ms "blackhole IPv6" timeout 295 420 \
	"$(X -f "[::1]:$P6 blackhole" -- "$TP" connect ::1 "$P6" poll 300)"
check_ms "blackhole elsewhere" connected 0 100 \
	"$(X -f "127.0.0.1:1 blackhole" -- "$TP" connect 127.0.0.1 "$P" poll 300)"
check "blackhole log: time-outs" 4 "$(count_log "$LOG" '"result":"ETIMEDOUT after 300ms"')"
check "blackhole log: no answer" 9 "$(count_log "$LOG" '"action":"blackhole","result":"no answer"')"

# without chaos-exec there is no listener to steer to: refused, and said so
run_rc env LD_PRELOAD="${SAN_PRELOAD:+$SAN_PRELOAD:}$BUILD/libchaos-preload.so" CHAOS_RULES="$D blackhole" \
	"$TP" connect 127.0.0.1 "$P" poll 300
check_match "blackhole by hand" "chaos: rule '$D blackhole': blackhole steers the connect to a listener chaos-exec keeps, whose full queue drops SYNs: it needs chaos-exec \(the library was loaded without it\): rule ignored" "$OUT"
check_match "blackhole by hand connects" "connected" "$OUT"

# ---- stall: the connection opens, nothing comes back ------------------------------------------
for via in $WAITS; do
	got=$(X -f "$D stall" -- "$TP" rtt 127.0.0.1 "$P" "$via" 300)
	if [ "$via" = block ]; then want=EAGAIN; else want=timeout; fi
	check_ms "stall $via" "$want" 295 420 "$got"
done
cat >"$T/peername.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(s.getpeername()[1] == int(sys.argv[1]))
PY
check "stall getpeername" True "$(X -f "$D stall" -- python3 "$T/peername.py" "$P")"
# writes are taken until the buffers are full, then a non-blocking send says EAGAIN
cat >"$T/fill.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setblocking(False)
n = 0
try:
    while n < 1 << 28:
        n += s.send(b"x" * 65536)
except BlockingIOError:
    print("full", "yes" if n > 65536 else n)
PY
check "stall fills the buffers" "full yes" "$(X -f "$D stall" -- python3 "$T/fill.py" "$P")"

# 10,000 stalled connections in one service: fds in chaos-exec, no thread anywhere
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 10100 ] ||
	fail "10,000 stalled connections need a hard file limit of 10100 (ulimit -Hn is $(ulimit -Hn))"
mkfifo "$T/hold.in"
"$CHAOS_EXEC" --log /dev/null -f "$D stall" -- "$TIMEPROBE" hold 127.0.0.1 "$P" 10000 \
	<"$T/hold.in" >"$T/hold.out" &
HPID=$!
PIDS="$PIDS $HPID"
exec 8>"$T/hold.in"
i=0
while ! grep -q stalled "$T/hold.out" && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
check "10,000 stalled" "stalled 10000" "$(cat "$T/hold.out")"
held=$(ls /proc/$HPID/fd | wc -l)
[ "$held" -ge 10000 ] || fail "chaos-exec holds $held fds, not the 10,000 stalled connections"
child=$(cut -d" " -f1 /proc/$HPID/task/$HPID/children)
check "no thread in the service" "Threads:	1" "$(grep Threads: /proc/$child/status)"
check "no thread in chaos-exec" "Threads:	1" "$(grep Threads: /proc/$HPID/status)"
exec 8>&-
wait $HPID
PASSED=$((PASSED + 1))

# ---- delay: answers, connects and requests come late ------------------------------------------
for via in $WAITS; do
	check_ms "delay answer $via" ok 198 290 \
		"$(X -f "$D delay=200ms on=recv" -- "$TP" rtt 127.0.0.1 "$P" "$via")"
	check_ms "delay connect $via" connected 198 290 \
		"$(X -f "$D delay=200ms on=connect" -- "$TP" connect 127.0.0.1 "$P" "$via")"
done
check_ms "delay plain build" ok 198 290 \
	"$(X -f "$D delay=200ms on=recv" -- "$TIMEPROBE" rtt 127.0.0.1 "$P" poll)"
check_ms "delay request" ok 198 290 \
	"$(X -f "$D delay=200ms on=send" -- "$TP" rtt 127.0.0.1 "$P" epoll)"
check_ms "delay both ways" ok 398 500 \
	"$(X -f "$D delay=200ms on=io" -- "$TP" rtt 127.0.0.1 "$P" poll)"
# the default: the connect and the answer (timeprobe times the answer only)
check_ms "delay default connect" connected 198 290 \
	"$(X -f "$D delay=200ms" -- "$TP" connect 127.0.0.1 "$P" epoll)"
check_ms "delay default answer" ok 198 290 "$(X -f "$D delay=200ms" -- "$TP" rtt 127.0.0.1 "$P" block)"
# a refusal arrives late too
check_ms "delayed refusal blocking" ECONNREFUSED 198 290 \
	"$(X -f "127.0.0.1:1 delay=200ms" -- "$TP" connect 127.0.0.1 1 block)"
check_ms "delayed refusal poll" ECONNREFUSED 198 290 \
	"$(X -f "127.0.0.1:1 delay=200ms" -- "$TP" connect 127.0.0.1 1 poll)"
# time-outs shorter than the delay end the wait, as they would
check_ms "delay > SO_RCVTIMEO" EAGAIN 98 180 \
	"$(X -f "$D delay=300ms on=recv" -- "$TP" rtt 127.0.0.1 "$P" block 100)"
check_ms "delay > poll timeout" timeout 98 180 \
	"$(X -f "$D delay=300ms on=recv" -- "$TP" rtt 127.0.0.1 "$P" poll 100)"
check_ms "delay > epoll timeout" timeout 98 180 \
	"$(X -f "$D delay=300ms on=recv" -- "$TP" rtt 127.0.0.1 "$P" epoll 100)"
check_ms "connect delay > SO_SNDTIMEO" EINPROGRESS 98 180 \
	"$(X -f "$D delay=300ms on=connect" -- "$TP" connect 127.0.0.1 "$P" block 100)"
# several threads, blocking and epoll, each its own delay
check_ms "threads" ok 198 300 "$(X -f "$D delay=200ms on=recv" -- "$TP" threads 127.0.0.1 "$P" 8)"
# a stream is shifted by the delay (one that does not fit in the socket's receive buffer is
# paced by it, as TCP is by its window over a long link)
check_ms "stream" ok 198 300 \
	"$(X -f "$D delay=200ms on=recv" -- "$TP" stream 127.0.0.1 "$P" 100000 epoll)"
check_ms "stream blocking" ok 198 300 \
	"$(X -f "$D delay=200ms on=recv" -- "$TP" stream 127.0.0.1 "$P" 100000 block)"

# signals: the same answer as from a real peer 400 ms late (EINTR unless SA_RESTART, and never
# restarted with a time-out set)
for args in "restart 100" "norestart 100" "restart 100 1000" "restart 300 200" "norestart 500"; do
	inj=$(X -f "$D delay=400ms on=recv" -- "$TIMEPROBE" signal 127.0.0.1 "$P" $args)
	real=$(X -f "127.0.0.1:1 refuse" -- "$TIMEPROBE" signal 127.0.0.1 "$SLOW" $args)
	# same words (all but the time); times within 20 ms
	words() { echo "$1" | awk '{ s = $1; if ($1 == "ok") s = s " " $2; if ($NF == "handler") s = s " handler"; print s }'; }
	check "signal $args" "$(words "$real")" "$(words "$inj")"
	ti=$(echo "$inj" | awk '{print $NF == "handler" ? $(NF-1) : $NF}')
	tr=$(echo "$real" | awk '{print $NF == "handler" ? $(NF-1) : $NF}')
	d=$((ti - tr))
	[ "${d#-}" -le 20 ] || fail "signal $args: injected [$inj], real [$real]"
	PASSED=$((PASSED + 1))
done

# jitter is reproducible under --seed
j() { "$CHAOS_EXEC" --seed "$1" --log "$T/j$1.$2" -f "$D delay=100ms jitter=50ms on=recv" -- \
	"$TP" threads 127.0.0.1 "$P" 4 >/dev/null; grep -o '"result":"delayed [0-9.]*ms"' "$T/j$1.$2" | sort; }
a=$(j 7 a)
check "jitter same seed" "$a" "$(j 7 b)"
[ "$a" != "$(j 8 a)" ] || fail "jitter: seeds 7 and 8 gave the same delays"
PASSED=$((PASSED + 1))
echo "$a" | grep -q 'delayed 100ms' && fail "jitter: a delay without jitter: $a"
PASSED=$((PASSED + 1))

# a delay added live reaches a connection that is already open (one round trip before, one
# after `chaos-ctl add`)
cat >"$T/live.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def rtt():
    t = time.monotonic(); s.sendall(b"ping\n"); s.recv(10); return int((time.monotonic() - t) * 1000)
print(rtt(), flush=True)
sys.stdin.readline()
print(rtt(), flush=True)
PY
mkfifo "$T/live.in"
"$CHAOS_EXEC" --log "$LOG" -- python3 "$T/live.py" "$P" <"$T/live.in" >"$T/live.out" &
LPID=$!
PIDS="$PIDS $LPID"
exec 7>"$T/live.in"
i=0
while [ ! -s "$T/live.out" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$BUILD/chaos-ctl" "$LPID" add "$D delay=200ms on=recv" >/dev/null
echo go >&7
exec 7>&-
wait $LPID
before=$(head -1 "$T/live.out")
after=$(sed -n 2p "$T/live.out")
[ "$before" -lt 100 ] && [ "$after" -ge 198 ] && [ "$after" -lt 300 ] ||
	fail "delay added live: round trips $before ms, then $after ms"
PASSED=$((PASSED + 1))

# waits that hold something back sleep, they never spin: CPU time spent in a 400 ms wait for an
# answer, a reset or a connect that are held back (a spin would spend ~400 ms)
cat >"$T/rstpeer.py" <<'PY'
import os, socket, struct, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(50)
open(sys.argv[1] + ".t", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".t", sys.argv[1])
while True:
    c, _ = s.accept(); c.recv(10)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
PY
python3 "$T/rstpeer.py" "$T/rstport" >/dev/null 2>&1 &
PIDS="$PIDS $!"
while [ ! -s "$T/rstport" ]; do sleep 0.02; done
RST=$(cat "$T/rstport")
cat >"$T/nospin.py" <<'PY'
import resource, select, socket, sys, time
port, via, what = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
s = socket.socket(); s.setblocking(False)
try:
    s.connect(("127.0.0.1", port))
except BlockingIOError:
    pass
ev = select.POLLOUT if what == "connect" else select.POLLIN
if what != "connect":
    select.select([], [s], [], 2)
    s.send(b"ping\n")
c, t = cpu(), time.monotonic()
if via == "poll":
    p = select.poll(); p.register(s, ev); got = p.poll(2000)
elif via == "select":
    got = select.select([s] if ev == select.POLLIN else [], [s] if ev == select.POLLOUT else [], [], 2)
else:
    e = select.epoll(); e.register(s, ev | (select.EPOLLET if via == "epoll-et" else 0))
    got = e.poll(2)
print("ready" if got and got != ([], [], []) else "none", round((time.monotonic() - t) * 1000),
      round((cpu() - c) * 1000))
PY
for via in poll select epoll epoll-et; do
	for what in answer reset connect; do
		case $what in
		answer) rule="$D delay=400ms on=recv" port=$P ;;
		reset) rule="127.0.0.1:$RST delay=400ms on=recv" port=$RST ;;
		connect) rule="$D delay=400ms on=connect" port=$P ;;
		esac
		got=$(X -f "$rule" -- python3 "$T/nospin.py" "$port" "$via" "$what")
		set -- $got
		[ "$1" = ready ] && [ "$2" -ge 395 ] && [ "$2" -le 500 ] && [ "$3" -le 40 ] ||
			fail "no spin, $via, $what held back: [$got] (ready, ms, cpu ms)"
		PASSED=$((PASSED + 1))
	done
done

# ---- slice, bandwidth -------------------------------------------------------------------------
start_server E echo
for via in send write sendmsg writev; do
	check "slice keeps the data ($via)" "ok 5000 5000 same" \
		"$(X -f "127.0.0.1:$E slice=7" -- "$NETPROBE" io 127.0.0.1 "$E" "$via" 5000)"
done
cat >"$T/chunks.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"get 3000\n")
got, biggest = 0, 0
while got < 3000:
    d = s.recv(65536); got += len(d); biggest = max(biggest, len(d))
print(got, biggest, s.send(b"x" * 1000))
PY
check "slice reads and writes" "3000 7 7" "$(X -f "$D slice=7" -- python3 "$T/chunks.py" "$P")"
check_ms "bandwidth down" ok 900 1150 \
	"$(X -f "$D bandwidth=100KB/s" -- "$TP" stream 127.0.0.1 "$P" 100000 block)"
check_ms "bandwidth down epoll" ok 900 1150 \
	"$(X -f "$D bandwidth=100KB/s" -- "$TP" stream 127.0.0.1 "$P" 100000 epoll)"
check_ms "bandwidth up" ok 900 1150 \
	"$(X -f "$D bandwidth=100KB/s" -- "$TP" send 127.0.0.1 "$P" 100000 block)"
check_ms "bandwidth up poll" ok 900 1150 \
	"$(X -f "$D bandwidth=100KB/s" -- "$TP" send 127.0.0.1 "$P" 100000 poll)"
check_ms "no bandwidth elsewhere" ok 0 150 \
	"$(X -f "127.0.0.1:1 bandwidth=100KB/s" -- "$TP" stream 127.0.0.1 "$P" 1000000 block)"

# ---- close-delay: the peer sees the FIN late ---------------------------------------------------
cat >"$T/finwait.py" <<'PY'
import socket, sys, time, os
L = socket.socket(); L.bind(("127.0.0.1", 0)); L.listen(5)
open(sys.argv[1] + ".tmp", "w").write(str(L.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = L.accept(); c.recv(1); t = time.monotonic(); c.recv(1)
print(int((time.monotonic() - t) * 1000), flush=True)
PY
cat >"$T/closer.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setblocking(sys.argv[2] == "block")
s.send(b"x"); time.sleep(0.05)
t = time.monotonic(); s.close(); print(int((time.monotonic() - t) * 1000))
time.sleep(0.6)
PY
for mode in block nonblock; do
	rm -f "$T/finport"
	python3 "$T/finwait.py" "$T/finport" >"$T/fin.$mode" &
	FPID=$!
	while [ ! -s "$T/finport" ]; do sleep 0.02; done
	FP=$(cat "$T/finport")
	took=$(X -f "127.0.0.1:$FP close-delay=300ms" -- python3 "$T/closer.py" "$FP" "$mode")
	wait $FPID
	fin=$(cat "$T/fin.$mode")
	if [ "$mode" = block ]; then lo=295; hi=400; else lo=0; hi=30; fi
	[ "$took" -ge $lo ] && [ "$took" -le $hi ] || fail "close-delay $mode: close took $took ms"
	[ "$fin" -ge 340 ] && [ "$fin" -le 450 ] || fail "close-delay $mode: FIN after $fin ms"
	PASSED=$((PASSED + 2))
done
check "close-delay log" 1 "$(grep -c '"result":"FIN after 300ms"' "$LOG")"

# ---- dns=timeout ------------------------------------------------------------------------------
s=$(date +%s%N)
check "dns=timeout" EAI_AGAIN "$(X -f "api.test dns=timeout timeout=300ms" -- "$NETPROBE" gai api.test)"
e=$((($(date +%s%N) - s) / 1000000))
[ $e -ge 300 ] && [ $e -le 500 ] || fail "dns=timeout took $e ms"
PASSED=$((PASSED + 1))
check "dns=timeout ghbn_r" "TRY_AGAIN rc=11" \
	"$(X -f "api.test dns=timeout timeout=100ms" -- "$NETPROBE" ghbn_r api.test)"
# the resolver's own time-out: with timeout:1 attempts:1, one second per name server (1 to 3;
# glibc's formula for several is compared with glibc itself in tests/fidelity)
n=$(grep -c '^nameserver' /etc/resolv.conf || true)
[ "$n" -ge 1 ] || n=1
[ "$n" -le 3 ] || n=3
s=$(date +%s%N)
check "dns=timeout RES_OPTIONS" EAI_AGAIN \
	"$(RES_OPTIONS='timeout:1 attempts:1' X -f "api.test dns=timeout" -- "$NETPROBE" gai api.test)"
e=$((($(date +%s%N) - s) / 1000000))
[ $e -ge $((n * 1000)) ] && [ $e -le $((n * 1000 + 200)) ] ||
	fail "dns=timeout with RES_OPTIONS timeout:1 attempts:1 and $n servers took $e ms"
PASSED=$((PASSED + 1))
check "dns=timeout log" 1 "$(grep -c "\"result\":\"EAI_AGAIN after ${n}s\"" "$LOG")"
done_ok
