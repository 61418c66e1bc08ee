#!/usr/bin/env python3
"""deps.py -- the demo service's own dependencies, on loopback.

    deps.py db PORT        the "database": "GET <id>\\n" -> a JSON line, or NOTFOUND
    deps.py pricing PORT   the pricing API: GET /price/<id> -> {"id": ..., "price": ...}
"""
import http.server, json, socketserver, sys, threading

PRODUCTS = {str(i): {"id": str(i), "name": "product %d" % i} for i in range(1, 100)}

def db(port):
    class H(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                parts = line.split()
                if len(parts) == 2 and parts[0] == b"GET":
                    p = PRODUCTS.get(parts[1].decode())
                    self.wfile.write((json.dumps(p) if p else "NOTFOUND").encode() + b"\n")
                else:
                    self.wfile.write(b"ERROR\n")
    class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
        daemon_threads = True
        allow_reuse_address = True
    S(("127.0.0.1", port), H).serve_forever()

def pricing(port):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            pid = self.path.rsplit("/", 1)[-1]
            data = json.dumps({"id": pid, "price": 10 + int(pid) if pid.isdigit() else 0}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *a):
            pass
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
    S(("127.0.0.1", port), H).serve_forever()

if __name__ == "__main__":
    {"db": db, "pricing": pricing}[sys.argv[1]](int(sys.argv[2]))
