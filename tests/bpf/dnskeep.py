# dnskeep.py -- a resolver that keeps one connected UDP socket to its nameserver, as c-ares does:
# asks for NAME's A record every INTERVAL_MS, COUNT times, and prints "EPOCH_MS ADDRESS" (or
# "EPOCH_MS rcode N" / "EPOCH_MS error") each time the answer changes.
#
#   python3 dnskeep.py NAME INTERVAL_MS COUNT
import socket
import struct
import sys
import time

name, interval, count = sys.argv[1], int(sys.argv[2]) / 1000.0, int(sys.argv[3])
ns = None
for line in open("/etc/resolv.conf"):
    w = line.split()
    if len(w) >= 2 and w[0] == "nameserver":
        ns = w[1]
        break
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.connect((ns, 53))
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
last = None
for i in range(count):
    s.send(struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1")
    try:
        r = s.recv(512)
        if r[3] & 15 or r[7] == 0:
            now = "rcode %d" % (r[3] & 15)
        else:
            now = socket.inet_ntoa(r[-4:])
    except OSError:
        now = "error"
    if now != last:
        print("%d %s" % (time.time() * 1000, now), flush=True)
        last = now
    time.sleep(interval)
