#!/usr/bin/env python3
"""shop_deps.py -- the four dependencies of tests/sweep/shop.py on loopback, in one process.

Prints one JSON line {"catalog": PORT, "pricing": PORT, "recs": PORT, "db": PORT} once all
listen, then serves until killed.  Any argument "NAME=PORT" fixes that port.
"""
import http.server, json, socketserver, sys, threading, urllib.parse

PRODUCTS = {str(i): {"id": str(i), "name": "lamp %d" % i} for i in range(1, 50)}


class Quiet(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass                      # clients reset by the faults


def http_server(port, route):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            code, body = route(urllib.parse.urlsplit(self.path))
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass
    return Quiet(("127.0.0.1", port), H)


def catalog(u):
    parts = u.path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "products" and parts[1] in PRODUCTS:
        return 200, PRODUCTS[parts[1]]
    if parts == ["search"]:
        q = urllib.parse.parse_qs(u.query).get("q", [""])[0]
        return 200, [p for p in PRODUCTS.values() if q in p["name"]][:5]
    return 404, {"error": "not found"}


def pricing(u):
    pid = u.path.rsplit("/", 1)[-1]
    return 200, {"id": pid, "price": 10 + int(pid) if pid.isdigit() else 0}


def recs(u):
    pid = u.path.rsplit("/", 1)[-1]
    return 200, [str((int(pid) % 40) + k) for k in (1, 2, 3)] if pid.isdigit() else []


class DB(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b"OK\n" if line.startswith(b"AUDIT ") else b"ERROR\n")


class DBServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


if __name__ == "__main__":
    fixed = dict(a.split("=", 1) for a in sys.argv[1:])
    servers = {
        "catalog": http_server(int(fixed.get("catalog", 0)), catalog),
        "pricing": http_server(int(fixed.get("pricing", 0)), pricing),
        "recs": http_server(int(fixed.get("recs", 0)), recs),
        "db": DBServer(("127.0.0.1", int(fixed.get("db", 0))), DB),
    }
    for s in servers.values():
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(json.dumps({k: s.server_address[1] for k, s in servers.items()}), flush=True)
    threading.Event().wait()
