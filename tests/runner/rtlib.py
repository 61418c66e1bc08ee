"""rtlib.py -- shared helpers for the chaos-run integration tests: a loopback HTTP server that
records what it received, a runner wrapper that returns the exit code, stderr and the parsed
journal, and a tiny test registry that prints 'N passed, N failed'."""
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
O = os.environ.get("O", "build")
RUNNER = os.path.join(ROOT, O, "chaos-run")
CORPUS = os.path.join(ROOT, "..", "shared", "ctk-corpus")

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def main(name):
    only = sys.argv[1:]
    passed = failed = 0
    t0 = time.monotonic()
    for fn in TESTS:
        if only and fn.__name__ not in only:
            continue
        start = time.monotonic()
        try:
            fn()
            passed += 1
            print("  PASS    %s.%s (%.2fs)" % (name, fn.__name__, time.monotonic() - start))
        except Exception:
            failed += 1
            print("  FAIL    %s.%s" % (name, fn.__name__))
            traceback.print_exc()
        sys.stdout.flush()
    print("%s: %d passed, %d failed (%.1fs)" % (name, passed, failed, time.monotonic() - t0))
    return 1 if failed else 0


class Workdir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="chaos-run-it.")

    def file(self, name, content):
        p = os.path.join(self.path, name)
        with open(p, "w") as f:
            if isinstance(content, (dict, list)):
                json.dump(content, f, indent=1)
            else:
                f.write(content)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Result:
    def __init__(self, code, out, err, journal):
        self.code, self.out, self.err, self.journal = code, out, err, journal

    def __repr__(self):
        return "exit %d\nstdout: %s\nstderr: %s" % (self.code, self.out, self.err)


def run(args, journal=None, cwd=None, env=None, stdin=subprocess.DEVNULL, timeout=30):
    """Run chaos-run; args is a list.  Returns Result with the parsed journal (or None)."""
    if journal and os.path.exists(journal):
        os.unlink(journal)
    cmd = [RUNNER] + args
    if journal:
        cmd = [RUNNER] + ["--journal-path", journal] + args
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=stdin, capture_output=True, text=True,
                       timeout=timeout)
    j = None
    if journal and os.path.exists(journal):
        with open(journal) as f:
            j = json.load(f)
    return Result(p.returncode, p.stdout, p.stderr, j)


def experiment(method=None, probes=None, rollbacks=None, **extra):
    e = {"title": "t", "description": "d"}
    if probes is not None:
        e["steady-state-hypothesis"] = {"title": "h", "probes": probes}
    e["method"] = method or []
    if rollbacks is not None:
        e["rollbacks"] = rollbacks
    e.update(extra)
    return e


def proc(name, path, args=None, kind="action", **kw):
    a = {"type": kind, "name": name, "provider": {"type": "process", "path": path}}
    if args is not None:
        a["provider"]["arguments"] = args
    for k, v in kw.items():
        if k in ("timeout",):
            a["provider"][k] = v
        else:
            a[k] = v
    return a


def http_act(name, url, kind="probe", tolerance=None, **prov):
    a = {"type": kind, "name": name, "provider": {"type": "http", "url": url}}
    a["provider"].update(prov)
    if tolerance is not None:
        a["tolerance"] = tolerance
    return a


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def check_run_entry(r, status="succeeded", ssh=False):
    keys = list(r.keys())
    want = ["activity", "output", "start", "status"]
    if "exception" in r:
        want.append("exception")
    want += ["end", "duration"]
    if ssh:
        want.append("tolerance_met")
    assert keys == want, keys
    assert ISO.match(r["start"]) and ISO.match(r["end"]), (r["start"], r["end"])
    assert isinstance(r["duration"], float) and r["duration"] >= 0, r["duration"]
    assert r["status"] == status, (r["status"], r.get("exception"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A threaded HTTP server on 127.0.0.1, random port.  routes: path -> function(req) returning
    (status, headers dict, body bytes|str).  Every request is recorded in .requests."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path, _, query = self.path.partition("?")
                req = {"method": self.command, "path": path, "query": query,
                       "headers": dict(self.headers), "body": body}
                srv.requests.append(req)
                fn = srv.routes.get(path)
                if fn is None:
                    status, headers, out = 404, {"Content-Type": "text/plain"}, b"not found"
                else:
                    status, headers, out = fn(req)
                if isinstance(out, str):
                    out = out.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # clients that time out on purpose

        self.httpd = Quiet(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def pids_matching(marker):
    """PIDs of processes whose command line contains marker."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out
