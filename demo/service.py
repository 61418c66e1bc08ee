#!/usr/bin/env python3
"""service.py -- the demo's "catalog" service: an HTTP API with a cache and two dependencies.

    GET /products/<id>   product from the cache (redis), else from the database (and cached)
    GET /prices/<id>     price from the pricing API
    GET /health          200 when the service itself is up

Dependencies (host:port from the environment, host names resolved as usual):
    CACHE_ADDR    redis         optional: when it fails, products come from the database
    DB_ADDR       the database  a line protocol: "GET <id>\\n" -> one JSON line or "NOTFOUND"
    PRICING_URL   the pricing API (HTTP), e.g. http://pricing.demo.local:8081

Standard library only.  Listens on 127.0.0.1:$PORT.
"""
import http.server, json, os, socket, socketserver, sys, time, urllib.request, urllib.error

CACHE = os.environ.get("CACHE_ADDR", "cache.demo.local:6379")
DB = os.environ.get("DB_ADDR", "db.demo.local:5433")
PRICING = os.environ.get("PRICING_URL", "http://pricing.demo.local:8081")
TIMEOUT = float(os.environ.get("DEP_TIMEOUT", "1.0"))

def hostport(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)

def resp(cmd):
    """One redis command over RESP; returns the decoded reply (bytes, int, None)."""
    with socket.create_connection(hostport(CACHE), timeout=TIMEOUT) as s:
        out = b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in cmd)
        s.sendall(out)
        f = s.makefile("rb")
        line = f.readline()
        if not line:
            raise ConnectionError("cache closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2]
        if kind in (b"+", b":"):
            return rest
        raise ConnectionError("cache error: " + rest.decode(errors="replace"))

def db_get(pid):
    with socket.create_connection(hostport(DB), timeout=TIMEOUT) as s:
        s.sendall(b"GET %s\n" % pid.encode())
        line = s.makefile("rb").readline()
        if not line:
            raise ConnectionError("database closed the connection")
        line = line.strip()
        return None if line == b"NOTFOUND" else json.loads(line)

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
        parts = self.path.strip("/").split("/")
        if parts == ["health"]:
            return self.reply(200, {"status": "ok"})
        if len(parts) == 2 and parts[0] == "products":
            return self.product(parts[1])
        if len(parts) == 2 and parts[0] == "prices":
            return self.price(parts[1])
        self.reply(404, {"error": "no such endpoint"})

    def product(self, pid):
        cache_error = None
        try:
            cached = resp([b"GET", b"product:" + pid.encode()])
            if cached is not None:
                return self.reply(200, {"product": json.loads(cached), "source": "cache"})
        except (OSError, ConnectionError) as e:
            cache_error = str(e)          # the cache is optional: go to the database
        try:
            product = db_get(pid)
        except (OSError, ConnectionError, ValueError) as e:
            return self.reply(503, {"error": "database unavailable: %s" % e})
        if product is None:
            return self.reply(404, {"error": "no such product"})
        if cache_error is None:
            try:
                resp([b"SET", b"product:" + pid.encode(), json.dumps(product).encode(), b"EX", b"60"])
            except (OSError, ConnectionError):
                pass
        return self.reply(200, {"product": product, "source": "database"})

    def price(self, pid):
        try:
            with urllib.request.urlopen("%s/price/%s" % (PRICING, pid), timeout=TIMEOUT) as r:
                return self.reply(200, json.loads(r.read()))
        except (OSError, urllib.error.URLError, ValueError) as e:
            return self.reply(502, {"error": "pricing unavailable: %s" % e})

    def log_message(self, *a):
        pass

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    Server(("127.0.0.1", port), Handler).serve_forever()
