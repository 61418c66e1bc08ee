#!/usr/bin/env python3
"""servers.py -- real servers on loopback for the integration tests.

    servers.py echo PORTFILE [v4|v6|both]   TCP echo, one thread per connection
    servers.py http PORTFILE [BODYFILE]      HTTP/1.1 server answering GET with BODYFILE
    servers.py udp PORTFILE                  UDP echo
    servers.py peer PORTFILE [DELAY_MS] [silent|v6]
                                             the faults-in-time peer: "ping" -> "pong", "get N"
                                             -> N bytes, "put N" -> reads N bytes, "ok"; answers
                                             DELAY_MS late (a real slow server); silent: accepts
                                             and never reads or answers (a real stall)
    servers.py slowhttp PORTFILE DELAY_MS    HTTP/1.1 server answering DELAY_MS late

The chosen port (the kernel picks a free one) is written to PORTFILE once listening.
"""
import os, socket, sys, threading, time, http.server, socketserver

def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, path)

def echo(portfile, fam="both"):
    socks = []
    s4 = socket.socket(socket.AF_INET)
    s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s4.bind(("127.0.0.1", 0)); s4.listen(128)
    port = s4.getsockname()[1]
    socks.append(s4)
    if fam in ("v6", "both"):
        s6 = socket.socket(socket.AF_INET6)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s6.bind(("::1", port)); s6.listen(128)
        socks.append(s6)
    def serve(c):
        with c:
            while True:
                try:
                    d = c.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                try:
                    c.sendall(d)
                except OSError:
                    return
    def accept_loop(s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    for s in socks:
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    write_port(portfile, port)
    threading.Event().wait()

def http_server(portfile, bodyfile=None):
    body = open(bodyfile, "rb").read() if bodyfile else b"hello from the dependency\n"
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
    srv = S(("127.0.0.1", 0), H)
    write_port(portfile, srv.server_address[1])
    srv.serve_forever()

def udp(portfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    write_port(portfile, s.getsockname()[1])
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(d, a)

def peer(portfile, delay_ms="0", mode=""):
    delay = int(delay_ms) / 1000.0
    fam = socket.AF_INET6 if mode == "v6" else socket.AF_INET
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::1" if mode == "v6" else "127.0.0.1", 0))
    s.listen(1024)
    held = []
    def serve(c):
        f = c.makefile("rb")
        with c:
            while True:
                try:
                    line = f.readline()
                except OSError:
                    return
                if not line:
                    return
                words = line.split()
                if not words:
                    continue
                if words[0] == b"put":
                    left = int(words[1])
                    while left > 0:
                        d = f.read1(min(left, 65536))
                        if not d:
                            return
                        left -= len(d)
                    time.sleep(delay)
                    c.sendall(b"ok\n")
                    continue
                time.sleep(delay)
                try:
                    if words[0] == b"get":
                        left = int(words[1])
                        while left > 0:
                            n = min(left, 16384)
                            c.sendall(b"x" * n)
                            left -= n
                    else:
                        c.sendall(b"pong\n")
                except OSError:
                    return
    def accept_loop():
        while True:
            c, _ = s.accept()
            if mode == "silent":
                held.append(c)  # never read, never answered
                continue
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=accept_loop, daemon=True).start()
    write_port(portfile, s.getsockname()[1])
    threading.Event().wait()

def slowhttp(portfile, delay_ms):
    delay = int(delay_ms) / 1000.0
    body = b"hello from the dependency\n"
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
    srv = S(("127.0.0.1", 0), H)
    write_port(portfile, srv.server_address[1])
    srv.serve_forever()

if __name__ == "__main__":
    kind, portfile = sys.argv[1], sys.argv[2]
    if kind == "echo":
        echo(portfile, *(sys.argv[3:4]))
    elif kind == "http":
        http_server(portfile, *(sys.argv[3:4]))
    elif kind == "udp":
        udp(portfile)
    elif kind == "peer":
        peer(portfile, *(sys.argv[3:5]))
    elif kind == "slowhttp":
        slowhttp(portfile, sys.argv[3])
    else:
        sys.exit("unknown server " + kind)
