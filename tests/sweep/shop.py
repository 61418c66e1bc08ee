#!/usr/bin/env python3
"""shop.py -- the sweep's test service: an HTTP API with four dependencies whose failures it
handles in four different ways, so that the sweep's matrix for it is known exactly.

    GET /health          200, touches nothing (the readiness check)
    GET /products/<id>   the catalog, CACHED in memory once fetched, and the recommendations,
                         OPTIONAL: left out when they fail (connection refused or timed out:
                         retried 3 times, 0.25 s apart, so the answer comes late)
    GET /search?q=...    the catalog, never cached: 502 when it fails, 504 when it times out
    GET /prices/<id>     the pricing API, with a FALLBACK: a list price when it fails
    every request but /health writes an audit record to the database, which is FATAL: when
    it fails the service exits (status 3), as crash-only services do

Dependencies from the environment (names resolved as usual; the sweep answers them with
loopback through the service's own rules): CATALOG_URL, PRICING_URL, RECS_URL (http://HOST:PORT)
and DB_ADDR (HOST:PORT, a line protocol: "AUDIT <text>\\n" -> "OK\\n").
Standard library only.  Listens on 127.0.0.1:$PORT.
"""
import http.server, json, os, socket, socketserver, sys, threading, time, urllib.error, urllib.parse, urllib.request

CATALOG = os.environ["CATALOG_URL"]
PRICING = os.environ["PRICING_URL"]
RECS = os.environ["RECS_URL"]
DB = os.environ["DB_ADDR"]
TIMEOUT = float(os.environ.get("DEP_TIMEOUT", "1.0"))

cache = {}
cache_lock = threading.Lock()


def fetch(base, path):
    with urllib.request.urlopen(base + path, timeout=TIMEOUT) as r:
        return json.loads(r.read())


def timed_out(e):
    reason = getattr(e, "reason", e)
    return isinstance(reason, (TimeoutError, socket.timeout))


def audit(line):
    host, port = DB.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
            s.sendall(b"AUDIT " + line.encode() + b"\n")
            if s.makefile("rb").readline().strip() != b"OK":
                raise ConnectionError("the database did not acknowledge")
    except (OSError, ConnectionError) as e:
        sys.stderr.write("shop: FATAL: the audit database failed (%s): exiting\n" % e)
        sys.stderr.flush()
        os._exit(3)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts == ["health"]:
            return self.reply(200, {"status": "ok"})
        audit("GET " + self.path)
        if len(parts) == 2 and parts[0] == "products":
            return self.product(parts[1])
        if parts == ["search"]:
            return self.search(urllib.parse.parse_qs(url.query).get("q", [""])[0])
        if len(parts) == 2 and parts[0] == "prices":
            return self.price(parts[1])
        self.reply(404, {"error": "no such endpoint"})

    def product(self, pid):
        with cache_lock:
            product = cache.get(pid)
        if product is None:
            try:
                product = fetch(CATALOG, "/products/" + urllib.parse.quote(pid))
            except (OSError, ValueError) as e:
                return self.reply(504 if timed_out(e) else 502, {"error": "catalog: %s" % e})
            with cache_lock:
                cache[pid] = product
        body = {"product": product}
        for attempt in range(4):
            try:
                body["recommendations"] = fetch(RECS, "/recs/" + urllib.parse.quote(pid))
                break
            except (OSError, ValueError) as e:
                reason = getattr(e, "reason", e)
                if attempt == 3 or not (timed_out(e) or isinstance(reason, ConnectionRefusedError)):
                    break        # optional: answer without them
                time.sleep(0.25)
        return self.reply(200, body)

    def search(self, q):
        try:
            found = fetch(CATALOG, "/search?q=" + urllib.parse.quote(q))
        except (OSError, ValueError) as e:
            return self.reply(504 if timed_out(e) else 502, {"error": "catalog: %s" % e})
        return self.reply(200, found)

    def price(self, pid):
        try:
            return self.reply(200, fetch(PRICING, "/price/" + urllib.parse.quote(pid)))
        except (OSError, ValueError):
            return self.reply(200, {"id": pid, "price": 99, "fallback": True})

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
