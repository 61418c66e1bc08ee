#!/bin/sh
# test_io.sh -- send/recv-side faults through every hooked call, plain and _FORTIFY_SOURCE
#
# netprobe io sends N bytes with VIA and reads the echo back with the matching call
# (send/recv, write/read, sendto/recvfrom, sendmsg/recvmsg, writev/readv); the fortified build
# reads through __recv_chk and __read_chk.
. "$(dirname "$0")/lib.sh"

start_server PORT echo
LOG="$T/faults.log"
D="127.0.0.1:$PORT"

nm -D "$NETPROBE_FORT" | grep -q __recv_chk || fail "netprobe-fortify does not call __recv_chk"
nm -D "$NETPROBE_FORT" | grep -q __read_chk || fail "netprobe-fortify does not call __read_chk"

for probe in "$NETPROBE" "$NETPROBE_FORT"; do
	for via in send write sendto sendmsg writev; do
		t="$(basename "$probe") $via"
		got=$("$CHAOS_EXEC" --log "$LOG" -f "127.0.0.1:1 reset" -- "$probe" io 127.0.0.1 "$PORT" "$via" 5000)
		check "$t untouched" "ok 5000 5000 same" "$got"
		got=$("$CHAOS_EXEC" --log "$LOG" -f "$D reset" -- "$probe" io 127.0.0.1 "$PORT" "$via" 5000)
		check "$t reset" "send ECONNRESET after 0" "$got"
		got=$("$CHAOS_EXEC" --log "$LOG" -f "$D reset bytes=100" -- "$probe" io 127.0.0.1 "$PORT" "$via" 5000)
		check "$t reset bytes=100" "send ECONNRESET after 100" "$got"
		# 300 bytes out, then the echo back: reset 50 bytes into the answer
		got=$("$CHAOS_EXEC" --log "$LOG" -f "$D reset bytes=350" -- "$probe" io 127.0.0.1 "$PORT" "$via" 300)
		check "$t reset in the answer" "recv ECONNRESET after 50" "$got"
		got=$("$CHAOS_EXEC" --log "$LOG" -f "$D error=EPIPE on=send" -- "$probe" io 127.0.0.1 "$PORT" "$via" 10)
		check "$t EPIPE" "send EPIPE after 0" "$got"
		got=$("$CHAOS_EXEC" --log "$LOG" -f "$D error=ECONNRESET on=recv" -- "$probe" io 127.0.0.1 "$PORT" "$via" 10)
		check "$t recv ECONNRESET" "recv ECONNRESET after 0" "$got"
		got=$("$CHAOS_EXEC" --log "$LOG" -f "$D error=ETIMEDOUT on=io skip=1" -- "$probe" io 127.0.0.1 "$PORT" "$via" 10)
		check "$t io skip=1" "recv ETIMEDOUT after 0" "$got"
	done
done
check "fault lines" 60 "$(count_log "$LOG")"
check "reset lines" 30 "$(count_log "$LOG" '"action":"reset"')"

# EPIPE from write raises SIGPIPE, as the kernel does
run_rc env NETPROBE_SIGPIPE=1 "$CHAOS_EXEC" --log "$LOG" -f "$D error=EPIPE on=send" -- "$NETPROBE" io 127.0.0.1 "$PORT" write 10
check "SIGPIPE exit" 141 "$RC"
# ... but not from send(MSG_NOSIGNAL)
run_rc env NETPROBE_SIGPIPE=1 "$CHAOS_EXEC" --log "$LOG" -f "$D error=EPIPE on=send" -- "$NETPROBE" io 127.0.0.1 "$PORT" send 10
check "MSG_NOSIGNAL" 0 "$RC"

# the server really sees the reset: a python server reports what recv said
cat >"$T/rst.py" <<'PY'
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = s.accept()
try:
    while c.recv(100): pass
    print("EOF")
except ConnectionResetError:
    print("RST")
PY
python3 "$T/rst.py" "$T/rstport" >"$T/rst.out" &
PIDS="$PIDS $!"
while [ ! -s "$T/rstport" ]; do sleep 0.02; done
RP=$(cat "$T/rstport")
"$CHAOS_EXEC" --log "$LOG" -f "127.0.0.1:$RP reset bytes=10" -- "$NETPROBE" io 127.0.0.1 "$RP" send 100 >/dev/null
i=0
while [ ! -s "$T/rst.out" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check "peer sees RST" RST "$(cat "$T/rst.out")"

# dup2 over a socket (Java's close): the fd is /dev/null now, never the socket
got=$("$CHAOS_EXEC" --log "$LOG" -f "$D error=EPIPE on=send" -- "$NETPROBE" dup2 127.0.0.1 "$PORT")
check "dup2 over a socket" ok "$got"

# AF_UNIX is never touched, even by rules for every host; real errors keep their errno
cat >"$T/unix.py" <<'PY'
import errno, os, socket
a, b = socket.socketpair()
a.sendall(b"x" * 1000); got = b""
while len(got) < 1000:
    got += b.recv(1000)
out = ["pair " + ("ok" if got == b"x" * 1000 else "DIFFERENT")]
u = socket.socket(socket.AF_UNIX)
try:
    u.connect("/nonexistent/chaos.sock")
except OSError as e:
    out.append(errno.errorcode[e.errno])
try:
    os.read(12345, 1)
except OSError as e:
    out.append(errno.errorcode[e.errno])
s = socket.socket()
try:
    s.connect(("127.0.0.1", 1))  # nothing listens there: the kernel's own refusal
except OSError as e:
    out.append(errno.errorcode[e.errno])
print(" ".join(out))
PY
check "unix and real errnos" "pair ok ENOENT EBADF ECONNREFUSED" \
	"$("$CHAOS_EXEC" --log "$LOG" -f '* reset' -f '127.0.0.2 error=EPIPE on=send' -- python3 "$T/unix.py")"

# UDP: refuse fails the datagrams
start_server UPORT udp
got=$("$CHAOS_EXEC" --log "$LOG" -f "udp:127.0.0.1:$UPORT refuse" -- "$NETPROBE" udp 127.0.0.1 "$UPORT")
check "udp refuse" ECONNREFUSED "$got"
got=$("$CHAOS_EXEC" --log "$LOG" -f "tcp:127.0.0.1:$UPORT refuse" -- "$NETPROBE" udp 127.0.0.1 "$UPORT")
check "tcp rule leaves udp" ok "$got"
got=$("$CHAOS_EXEC" --log "$LOG" -f "udp:127.0.0.1:$UPORT error=ENETUNREACH on=send" -- "$NETPROBE" udp 127.0.0.1 "$UPORT")
check "udp error on send" ENETUNREACH "$got"
done_ok
