#!/usr/bin/env python3
"""pyclient.py -- a Python client as services write them, for the fidelity tests.

    pyclient.py blocking HOST PORT TIMEOUT_S    socket.settimeout, connect, "ping", recv
    pyclient.py asyncio HOST PORT TIMEOUT_S     open_connection and readline under wait_for

Prints one line: "ok MS" or the exception's class and message, then MS, the milliseconds from
the first call to the outcome.
"""
import asyncio, socket, sys, time

mode, host, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
t0 = time.monotonic()

def ms():
    return "%d" % round((time.monotonic() - t0) * 1000)

def blocking():
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(timeout)
    s.connect((host, port))
    s.sendall(b"ping\n")
    d = s.recv(100)
    if not d:
        raise EOFError("end of stream")

async def aio():
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    w.write(b"ping\n")
    await w.drain()
    d = await asyncio.wait_for(r.readline(), timeout)
    if not d:
        raise EOFError("end of stream")

try:
    if mode == "blocking":
        blocking()
    else:
        asyncio.run(aio())
    print("ok", ms())
except Exception as e:
    print(type(e).__name__, str(e) or "-", ms())
