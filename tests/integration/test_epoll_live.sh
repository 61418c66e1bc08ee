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

# ---- threads changing registrations while a rule comes and goes --------------------------------
# Two threads add, modify and delete registrations (level, edge, one-shot) of sockets of their
# own as fast as they can, a third pings, the main one waits; a delay is added live in the middle
# of it (tracking goes on while epoll_ctl calls are under way) and removed again.  Every event
# must carry data the program set for that socket (never our tag, never data older than what
# the program set before its last epoll_wait began), and answers must keep coming.
cat >"$T/eprace.c" <<'C'
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#define K 16
static int fds[K], ep;
static _Atomic uint64_t gen, lo[K], set_gen[K];
static atomic_int stop;
static atomic_long ctls;
static uint64_t data_of(uint64_t g, int i) { return g << 8 | (uint64_t)i; }
static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	while (!atomic_load(&stop)) {
		int i = (int)(rand_r(&seed) % (K / 2)) * 2 + (int)(uintptr_t)arg;
		uint32_t kind[3] = { EPOLLIN, EPOLLIN | EPOLLET, EPOLLIN | EPOLLONESHOT };
		struct epoll_event e = { .events = kind[rand_r(&seed) % 3] };
		uint64_t g = atomic_fetch_add(&gen, 1) + 1;
		e.data.u64 = data_of(g, i);
		uint64_t before = atomic_load(&set_gen[i]);
		if (rand_r(&seed) % 4 == 0) {
			epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0) { perror("add"); exit(1); }
		} else if (epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &e) < 0) {
			perror("mod");
			exit(1);
		}
		atomic_store(&set_gen[i], g);
		atomic_store(&lo[i], before); /* data older than this cannot come any more */
		atomic_fetch_add(&ctls, 1);
		if (rand_r(&seed) % 64 == 0)
			usleep(100);
	}
	return NULL;
}
static void *pinger(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		for (int i = 0; i < K; i++)
			send(fds[i], "ping\n", 5, MSG_DONTWAIT | MSG_NOSIGNAL);
		usleep(2000);
	}
	return NULL;
}
int main(int argc, char **argv)
{
	int port = atoi(argv[1]), ms = atoi(argv[2]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < K; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
			perror("connect");
			return 1;
		}
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = data_of(0, i) };
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
	}
	printf("started\n");
	fflush(stdout);
	pthread_t t[3];
	pthread_create(&t[0], NULL, churn, (void *)0);
	pthread_create(&t[1], NULL, churn, (void *)1);
	pthread_create(&t[2], NULL, pinger, NULL);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long events = 0, bytes = 0;
	char buf[4096];
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			break;
		uint64_t floor[K];
		for (int i = 0; i < K; i++)
			floor[i] = atomic_load(&lo[i]);
		struct epoll_event out[32];
		int n = epoll_wait(ep, out, 32, 20);
		for (int k = 0; k < n; k++) {
			uint64_t d = out[k].data.u64;
			int i = (int)(d & 0xff);
			if ((d >> 63) || i >= K || (d >> 8) > atomic_load(&gen) || (d >> 8) < floor[i]) {
				printf("bad data %llx (floor %llu)\n", (unsigned long long)d,
				       (unsigned long long)floor[i & (K - 1)]);
				return 1;
			}
			events++;
			ssize_t r;
			while ((r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				bytes += r;
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("ok %ld %ld %ld\n", events, bytes, atomic_load(&ctls));
	return 0;
}
C
${CC:-cc} -O2 -pthread -o "$T/eprace" "$T/eprace.c" || fail "eprace does not build"
for round in 1 2 3; do
	"$CHAOS_EXEC" --log "$T/race.log" -- "$T/eprace" "$P" 1500 >"$T/race.out" 2>&1 &
	RPID=$!
	PIDS="$PIDS $RPID"
	i=0
	while ! grep -q started "$T/race.out"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "eprace did not start: $(cat "$T/race.out")"
		sleep 0.02
	done
	sleep 0.$((round * 2))
	"$BUILD/chaos-ctl" "$RPID" add "$D delay=30ms on=recv" >/dev/null ||
		fail "eprace round $round: $(cat "$T/race.out")"
	sleep 0.4
	"$BUILD/chaos-ctl" "$RPID" remove all >/dev/null ||
		fail "eprace round $round: $(cat "$T/race.out")"
	wait $RPID || fail "eprace round $round: $(cat "$T/race.out")"
	got=$(tail -1 "$T/race.out")
	set -- $got
	[ "$1" = ok ] && [ "$2" -gt 100 ] && [ "$3" -gt 1000 ] && [ "$4" -gt 1000 ] ||
		fail "eprace round $round: [$got] (ok, events, bytes, epoll_ctl calls)"
	PASSED=$((PASSED + 1))
done
grep -q '"result":"delayed' "$T/race.log" || fail "eprace: the delay was never injected"
PASSED=$((PASSED + 1))

done_ok
