# fakedns.py -- a stand-in upstream DNS server for the chaos-attach tests: answers every A query
# with ADDRESS (TTL 0) and every other query with an empty NOERROR, over UDP and TCP.
#
#   python3 fakedns.py HOST PORT ADDRESS      prints "ready" once listening
import socket
import struct
import sys
import threading

host, port, address = sys.argv[1], int(sys.argv[2]), socket.inet_aton(sys.argv[3])


def answer(q):
    if len(q) < 12:
        return None
    off = 12
    while q[off] != 0:
        off += 1 + q[off]
    qend = off + 5
    qtype = struct.unpack("!H", q[off + 1:off + 3])[0]
    an = 1 if qtype == 1 else 0
    head = q[:2] + bytes([0x81, 0x80]) + struct.pack("!HHHH", 1, an, 0, 0)
    body = q[12:qend]
    if an:
        body += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + address
    return head + body


def udp(s):
    while True:
        q, a = s.recvfrom(4096)
        r = answer(q)
        if r:
            s.sendto(r, a)


def tcp_conn(c):
    try:
        while True:
            h = c.recv(2)
            if len(h) < 2:
                break
            n = struct.unpack("!H", h)[0]
            q = b""
            while len(q) < n:
                d = c.recv(n - len(q))
                if not d:
                    return
                q += d
            r = answer(q)
            c.sendall(struct.pack("!H", len(r)) + r)
    finally:
        c.close()


def tcp(s):
    while True:
        c, _ = s.accept()
        threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()


u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((host, port))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((host, port))
t.listen(16)
threading.Thread(target=udp, args=(u,), daemon=True).start()
print("ready", flush=True)
tcp(t)
