#!/usr/bin/env python3
"""quirks.py -- a service for the sweep's other verdicts: one dependency (DEP_ADDR, HOST:PORT,
any TCP server that accepts) and an endpoint per way of failing when it is gone.

    GET /health   200
    GET /fine     200, never touches the dependency
    GET /teapot   200 when a connection to the dependency opens, else 418
    GET /hang     200 when it opens, else the answer comes HANG_SECONDS (default 10) later
    GET /once     200 when it opens; else 503, and 503 from then on (a circuit that never closes)
Listens on 127.0.0.1:$PORT.  Standard library only.
"""
import http.server, os, socket, socketserver, time

DEP = os.environ["DEP_ADDR"]
HANG = float(os.environ.get("HANG_SECONDS", "10"))
broken = False


def dep_ok():
    host, port = DEP.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
        return True
    except OSError:
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code):
        data = b'{"status": %d}\n' % code
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        global broken
        if self.path in ("/health", "/fine"):
            return self.reply(200)
        if self.path == "/teapot":
            return self.reply(200 if dep_ok() else 418)
        if self.path == "/hang":
            if not dep_ok():
                time.sleep(HANG)
            return self.reply(200)
        if self.path == "/once":
            if broken or not dep_ok():
                broken = True
                return self.reply(503)
            return self.reply(200)
        self.reply(404)

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
