#!/usr/bin/env python3
"""extension.py -- our "chaos" extension: a service started under chaos-exec and stopped at the
end, faults added and removed through chaos-ctl, and every fault off at the end whatever the
rollback strategy, status, signal or error.  The fault bookkeeping runs against
tests/runner/fake-chaos-ctl (same command line and exit codes as chaos-ctl) so it can see what
is left on; when build/chaos-ctl exists, one more test injects a real refusal into a real
service and watches it fail and recover."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from rtlib import (O, ROOT, RUNNER, Server, Workdir, experiment, free_port, http_act,  # noqa
                   main, pids_matching, proc, run, test)

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-chaos-ctl")
REAL_CTL = os.path.join(ROOT, O, "chaos-ctl")


def service_ext(port, marker, **extra):
    svc = {"command": ["python3", "-c",
                       "import http.server,sys; sys.argv=['x']; "
                       "s=http.server.ThreadingHTTPServer(('127.0.0.1', %d), "
                       "http.server.SimpleHTTPRequestHandler); s.serve_forever()  # %s"
                       % (port, marker)],
           "ready": {"http": "http://127.0.0.1:%d/" % port, "timeout": 10}}
    svc.update(extra)
    return [{"name": "chaos", "service": svc}]


def chaos_act(name, **prov):
    p = {"type": "chaos"}
    p.update(prov)
    return {"type": "action", "name": name, "provider": p}


class Fake:
    def __init__(self, w):
        self.state = os.path.join(w.path, "ctl-state.json")
        self.log = os.path.join(w.path, "ctl-log")
        self.env = dict(os.environ, CHAOS_CTL=FAKE, CHAOS_FAKE_CTL_STATE=self.state,
                        CHAOS_FAKE_CTL_LOG=self.log)

    def rules_on(self):
        if not os.path.exists(self.state):
            return []
        with open(self.state) as f:
            st = json.load(f)
        return [r for rules in st["rules"].values() for r in rules]

    def calls(self):
        return open(self.log).read().splitlines() if os.path.exists(self.log) else []


@test
def validation():
    w = Workdir()
    try:
        port = free_port()
        cases = [
            (experiment(method=[chaos_act("bad", add=["db.local:abc refuse"])],
                        extensions=service_ext(port, "v")),
             "chaos rule 'db.local:abc refuse': port 'abc' is not a number, in activity 'bad'"),
            (experiment(method=[chaos_act("x", add=["db.local:5432 refuse"])]),
             "needs a \"target\" pid or a service declared"),
            (experiment(method=[chaos_act("x", add=["a:1 refuse"], remove="all")],
                        extensions=service_ext(port, "v")),
             "exactly one of \"add\", \"attach\" or \"remove\""),
            (experiment(method=[chaos_act("x", remove="some")],
                        extensions=service_ext(port, "v")),
             "chaos \"remove\" must be \"all\" or a list"),
            (experiment(method=[], extensions=[{"name": "chaos", "service": {"command": []}}]),
             "service \"command\" must be a non-empty list"),
            (experiment(method=[], extensions=[{"name": "chaos", "service": {
                "command": ["true"], "ready": {"http": "ftp://x", "timeout": 1}}}]),
             "ready \"http\" must be an http(s) URL"),
        ]
        for exp, msg in cases:
            r = run(["validate", w.file("e.json", exp)])
            assert r.code == 1 and msg in r.err, (msg, r)
        ok = experiment(method=[chaos_act("x", add=["db.local:5432 refuse", "*.internal dns=nxdomain"]),
                                chaos_act("y", remove=["x"]),
                                chaos_act("z", add=["10.0.0.1:80 refuse"], target=1)],
                        extensions=service_ext(port, "v"))
        r = run(["validate", w.file("e.json", ok)])
        assert r.code == 0, r
    finally:
        w.cleanup()


def fault_run(w, fake, method, rollbacks=None, args=(), marker=None):
    port = free_port()
    marker = marker or "svc-%d-%d" % (os.getpid(), port)
    exp = experiment(probes=[http_act("up", "http://127.0.0.1:%d/" % port, tolerance=200)],
                     method=method, rollbacks=rollbacks or [],
                     extensions=service_ext(port, marker, stop_timeout=2))
    r = run(list(args) + [w.file("e.json", exp)], journal=w.path + "/j.json", env=fake.env)
    return r, marker


@test
def faults_removed_by_rollback():
    w = Workdir()
    fake = Fake(w)
    try:
        r, marker = fault_run(w, fake,
                              [chaos_act("db-refuses", add=["db.local:5432 refuse",
                                                            "cache.local:6379 reset"])],
                              [chaos_act("db-back", remove=["db-refuses"])])
        assert r.code == 0, r
        j = r.journal
        assert list(j.keys())[-1] == "chaos" and list(j.keys())[-2] == "duration"
        c = j["chaos"]
        assert c["service"]["pid"] > 0 and c["service"]["exit"] is not None, c
        faults = c["faults"]
        assert [f["rule"] for f in faults] == ["db.local:5432 refuse", "cache.local:6379 reset"]
        for f in faults:
            assert f["target"] == c["service"]["pid"] and f["added_by"] == "db-refuses"
            assert f["removed"] and f["removed_by"] == "activity 'db-back'", f
            assert f["removed"] >= f["added"]
        assert j["run"][0]["output"]["added"][0]["rule"] == "db.local:5432 refuse"
        assert fake.rules_on() == []
        assert pids_matching(marker) == [], "service left running"
        # removal by id, one call for the target
        assert any(" remove 1 2" in c for c in fake.calls()), fake.calls()
        assert "2 added, 2 removed, none left on" in r.err
    finally:
        w.cleanup()


@test
def faults_removed_whatever_the_strategy():
    w = Workdir()
    fake = Fake(w)
    try:
        # rollbacks never played, the method action fails after adding: cleanup removes
        r, marker = fault_run(w, fake,
                              [chaos_act("on", add=["db.local:5432 refuse"]),
                               proc("fails", "sh", ["-c", "sleep 2"], timeout=0.1)],
                              [chaos_act("off", remove="all")],
                              args=["--rollback-strategy", "never"])
        assert r.code == 0, r
        f = r.journal["chaos"]["faults"][0]
        assert f["removed_by"] == "cleanup" and f["removed"], f
        assert r.journal["rollbacks"] == []
        assert fake.rules_on() == [] and pids_matching(marker) == []
    finally:
        w.cleanup()


@test
def faults_removed_after_sigint():
    w = Workdir()
    fake = Fake(w)
    try:
        port = free_port()
        marker = "svc-int-%d" % port
        exp = experiment(method=[chaos_act("on", add=["db.local:5432 refuse"]),
                                 proc("wait", "sh", ["-c", "touch %s/started; sleep 30" % w.path])],
                         extensions=service_ext(port, marker))
        p = subprocess.Popen([RUNNER, "--journal-path", w.path + "/j.json",
                              w.file("e.json", exp)], env=fake.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(w.path + "/started"):
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.02)
        assert len(fake.rules_on()) == 1
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
        assert p.returncode == 1, err
        j = json.load(open(w.path + "/j.json"))
        assert j["status"] == "interrupted"
        f = j["chaos"]["faults"][0]
        assert f["removed_by"] == "cleanup" and f["removed"], f
        assert fake.rules_on() == []
        assert pids_matching(marker) == [], "service left running"
    finally:
        w.cleanup()


@test
def service_not_ready():
    w = Workdir()
    fake = Fake(w)
    try:
        port = free_port()
        marker = "svc-nr-%d" % port
        ext = service_ext(port, marker)
        ext[0]["service"]["ready"] = {"http": "http://127.0.0.1:%d/" % free_port(),
                                      "timeout": 0.5}
        exp = experiment(method=[chaos_act("on", add=["db.local:5432 refuse"])],
                         rollbacks=[proc("rb", "true")], extensions=ext)
        r = run([w.file("e.json", exp)], journal=w.path + "/j.json", env=fake.env)
        assert r.code == 1 and "not ready after 0.5s" in r.err, r
        assert r.journal["status"] == "aborted" and r.journal["run"] == []
        assert r.journal["chaos"]["service"]["exit"], r.journal["chaos"]
        assert pids_matching(marker) == []
        # a service that exits at once
        ext = [{"name": "chaos", "service": {"command": ["sh", "-c", "exit 3"],
                                             "ready": {"http": "http://127.0.0.1:1/",
                                                       "timeout": 5}}}]
        exp = experiment(method=[], extensions=ext)
        r = run([w.file("e.json", exp)], journal=w.path + "/j.json", env=fake.env)
        assert r.code == 1 and "exit status 3" in r.err, r
    finally:
        w.cleanup()


@test
def remove_unknown_and_bad_rule_at_run_time():
    w = Workdir()
    fake = Fake(w)
    try:
        r, _ = fault_run(w, fake, [chaos_act("off", remove=["nobody"]),
                                   chaos_act("on", add=["${rule}"])],
                         args=["--no-validation"])
        run0 = r.journal["run"][0]
        assert run0["status"] == "failed" and "'nobody'" in run0["exception"][-1], run0
        # ${rule} is not configured: the rule text is checked at run time and refused
        assert r.journal["status"] == "aborted", r.journal["status"]
        assert "chaos rule '${rule}'" in r.journal["run"][1]["exception"][-1]
    finally:
        w.cleanup()


@test
def real_chaos_ctl():
    assert os.access(REAL_CTL, os.X_OK), "%s is not built" % REAL_CTL
    w = Workdir()
    try:
        dep = Server({"/": lambda req: (200, {}, "dep ok")})
        port = free_port()
        app = w.file("app.py", """
import http.server, urllib.request, sys
DEP = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        try:
            urllib.request.urlopen(DEP, timeout=2).read(); code = 200
        except Exception:
            code = 503
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")
        exp = experiment(
            probes=[http_act("app-up", "http://127.0.0.1:%d/" % port, tolerance=200)],
            method=[chaos_act("dep-refuses", add=["127.0.0.1:%d refuse" % dep.port]),
                    http_act("app-fails", "http://127.0.0.1:%d/" % port),
                    chaos_act("dep-back", remove="all")],
            rollbacks=[chaos_act("dep-back-again", remove="all")],
            extensions=[{"name": "chaos", "service": {
                "command": ["python3", app, str(port), dep.url + "/"],
                "ready": {"http": "http://127.0.0.1:%d/" % port, "timeout": 10}}}])
        r = run([w.file("e.json", exp)], journal=w.path + "/j.json")
        assert r.code == 0, r
        assert r.journal["run"][1]["output"]["status"] == 503, r.journal["run"][1]
        # the fault was really on the running service, and really came off
        assert r.journal["steady_states"]["after"]["steady_state_met"] is True, r.journal
        f = r.journal["chaos"]["faults"][0]
        assert f["removed_by"] == "activity 'dep-back'", f
        dep.close()
    finally:
        w.cleanup()


@test
def faults_go_in_front_of_the_service_rules():
    # the service's own "svc.chaos.test dns=127.0.0.1" would win over a later
    # "svc.chaos.test dns=nxdomain" (the first rule that fires decides): chaos-run puts faults
    # in front of the service's rules, which keep working when the fault is gone
    assert os.access(REAL_CTL, os.X_OK), "%s is not built" % REAL_CTL
    w = Workdir()
    try:
        port = free_port()
        app = w.file("app.py", """
import http.server, socket, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        try:
            socket.getaddrinfo("svc.chaos.test", 80); code = 200
        except OSError:
            code = 503
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")
        exp = experiment(
            probes=[http_act("resolves", "http://127.0.0.1:%d/" % port, tolerance=200)],
            method=[chaos_act("gone", add=["svc.chaos.test dns=nxdomain"]),
                    http_act("while-gone", "http://127.0.0.1:%d/" % port),
                    proc("order", REAL_CTL, ["--json", "${chaos_service_pid}", "show"],
                         kind="probe"),
                    chaos_act("back", remove=["gone"]),
                    http_act("after", "http://127.0.0.1:%d/" % port)],
            extensions=[{"name": "chaos", "service": {
                "command": ["python3", app, str(port)],
                "rules": ["svc.chaos.test dns=127.0.0.1"],
                "ready": {"http": "http://127.0.0.1:%d/" % port, "timeout": 10}}}],
            # process arguments are substituted only when there is configuration (as CTK)
            configuration={"unused": 1})
        r = run([w.file("e.json", exp)], journal=w.path + "/j.json")
        assert r.code == 0, r
        assert r.journal["run"][1]["output"]["status"] == 503, r.journal["run"][1]
        assert r.journal["run"][4]["output"]["status"] == 200, r.journal["run"][4]
        shown = json.loads(r.journal["run"][2]["output"]["stdout"])["rules"]
        assert [x["rule"] for x in shown] == ["svc.chaos.test dns=nxdomain",
                                              "svc.chaos.test dns=127.0.0.1"], shown
        f = r.journal["chaos"]["faults"]
        assert [x["rule"] for x in f] == ["svc.chaos.test dns=nxdomain"], f
        assert f[0]["removed_by"] == "activity 'back'", f
    finally:
        w.cleanup()


APP = """
import http.server, urllib.request, sys
DEP = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        try:
            urllib.request.urlopen(DEP, timeout=2).read(); code = 200
        except Exception:
            code = 503
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def attach_pids():
    out = subprocess.run(["pgrep", "-x", "chaos-attach"], capture_output=True, text=True)
    return out.stdout.split()


@test
def ebpf_faults_with_chaos_attach():
    # "attach" puts eBPF faults on the service's processes (chaos-attach), and they come off
    # with the removal, the end of the run, or a SIGINT
    assert os.geteuid() == 0, "the eBPF test needs root (CI runs as root)"
    w = Workdir()
    try:
        dep = Server({"/": lambda req: (200, {}, "dep ok")})
        port = free_port()
        app = w.file("app.py", APP)
        svc = [{"name": "chaos", "service": {
            "command": ["python3", app, str(port), dep.url + "/"],
            "ready": {"http": "http://127.0.0.1:%d/" % port, "timeout": 10}}}]
        before = attach_pids()
        exp = experiment(
            probes=[http_act("app-up", "http://127.0.0.1:%d/" % port, tolerance=200)],
            method=[chaos_act("dep-refuses", attach=["tcp:127.0.0.1:%d refuse" % dep.port]),
                    http_act("app-fails", "http://127.0.0.1:%d/" % port),
                    chaos_act("dep-back", remove=["dep-refuses"])],
            extensions=svc)
        r = run([w.file("e.json", exp)], journal=w.path + "/j.json")
        assert r.code == 0, r
        assert r.journal["run"][0]["output"]["attached"] == ["tcp:127.0.0.1:%d refuse" % dep.port]
        assert r.journal["run"][1]["output"]["status"] == 503, r.journal["run"][1]
        assert r.journal["steady_states"]["after"]["steady_state_met"] is True, r.journal
        f = r.journal["chaos"]["faults"][0]
        assert f["via"] == "chaos-attach" and f["removed_by"] == "activity 'dep-back'", f
        assert attach_pids() == before, "chaos-attach outlived its removal"
        # a rule the eBPF path cannot carry out is refused at validation, naming it
        bad = experiment(method=[chaos_act("x", attach=["127.0.0.1:1 reset"])], extensions=svc)
        r = run(["validate", w.file("bad.json", bad)])
        assert r.code == 1 and "chaos rule '127.0.0.1:1 reset'" in r.err and "activity 'x'" in r.err, r
        # SIGINT while the faults are on: they come off, the journal says interrupted
        exp = experiment(
            method=[chaos_act("dep-refuses", attach=["tcp:127.0.0.1:%d refuse" % dep.port]),
                    proc("wait", "sleep", ["30"])],
            extensions=svc)
        p = subprocess.Popen([RUNNER, "--quiet", "--journal-path", w.path + "/j2.json",
                              w.file("e2.json", exp)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while len(attach_pids()) == len(before):
            assert p.poll() is None and time.monotonic() < deadline, "never attached"
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=20)
        j = json.load(open(w.path + "/j2.json"))
        assert j["status"] == "interrupted", j["status"]
        assert all(f["removed"] for f in j["chaos"]["faults"]), j["chaos"]
        assert attach_pids() == before, "chaos-attach outlived an interrupted run"
        dep.close()
    finally:
        w.cleanup()


@test
def service_dies_with_a_killed_runner():
    # chaos-run killed with SIGKILL cannot clean up: the service still goes (PR_SET_PDEATHSIG)
    w = Workdir()
    fake = Fake(w)
    try:
        port = free_port()
        marker = "svc-kill-%d" % port
        exp = experiment(method=[proc("wait", "sh", ["-c", "echo $$ > %s/started.tmp; "
                                                         "mv %s/started.tmp %s/started; sleep 30"
                                                         % (w.path, w.path, w.path)])],
                         extensions=service_ext(port, marker))
        p = subprocess.Popen([RUNNER, "--quiet", "--journal-path", w.path + "/j.json",
                              w.file("e.json", exp)], env=fake.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(w.path + "/started"):
            assert p.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        assert pids_matching(marker), "the service is not running"
        p.kill()
        p.wait()
        deadline = time.monotonic() + 5
        while pids_matching(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pids_matching(marker) == [], "the service outlived chaos-run"
        # a process activity is not protected that way (see chaos-run(1)): end it here
        os.killpg(int(open(w.path + "/started").read()), signal.SIGKILL)
    finally:
        w.cleanup()


if __name__ == "__main__":
    sys.exit(main("extension"))
