# pyloop.py -- a long-running Python client for `chaos-attach --pid`: it keeps one connection
# open (a ping on it every INTERVAL) and opens a new one each INTERVAL, and prints
# "EPOCH_MS old=RESULT new=RESULT" each time an outcome changes.  RESULT: ok, TIMEOUT, or an
# errno name.
#
#   python3 pyloop.py PORT [INTERVAL_MS]
import errno
import socket
import sys
import time

port = int(sys.argv[1])
interval = (int(sys.argv[2]) if len(sys.argv) > 2 else 100) / 1000.0
TIMEOUT = 0.3


def name(e):
    if isinstance(e, socket.timeout):
        return "TIMEOUT"
    return errno.errorcode.get(e.errno, str(e.errno))


def ping(s):
    s.sendall(b"ping\n")
    got = b""
    while len(got) < 5:
        d = s.recv(5 - len(got))
        if not d:
            raise ConnectionResetError(errno.ECONNRESET, "closed")
        got += d


old = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
last = None
while True:
    try:
        # every echo is "ping\n": one owed by a ping that timed out serves as well
        ping(old)
        r_old = "ok"
    except OSError as e:
        r_old = name(e)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        try:
            ping(s)
        finally:
            s.close()
        r_new = "ok"
    except OSError as e:
        r_new = name(e)
    now = "old=%s new=%s" % (r_old, r_new)
    if now != last:
        print("%d %s" % (time.time() * 1000, now), flush=True)
        last = now
    time.sleep(interval)
