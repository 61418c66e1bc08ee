#!/usr/bin/env python3
"""integration.py -- chaos-run end to end: process and http providers against real processes
and a loopback server, journals checked field by field, secrets masking, errors CTK crashes on,
the command line and its exit codes."""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from rtlib import (CORPUS, ISO, RUNNER, Server, Workdir, check_run_entry, experiment,  # noqa
                   free_port, http_act, main, pids_matching, proc, run, test)


@test
def journal_shape():
    w = Workdir()
    try:
        e = experiment(
            probes=[proc("p", "echo", ["hi"], kind="probe", tolerance=0)],
            method=[proc("a", "sh", ["-c", "echo out; echo err >&2; exit 3"])],
            rollbacks=[proc("r", "true")], extra_key={"kept": True})
        j = w.file("e.json", e)
        r = run([j], journal=w.path + "/journal.json")
        assert r.code == 0, r
        jj = r.journal
        assert list(jj.keys()) == ["chaoslib-version", "platform", "node", "experiment", "start",
                                   "status", "deviated", "steady_states", "run", "rollbacks",
                                   "end", "duration"], list(jj.keys())
        assert jj["chaoslib-version"].startswith("chaos-run ") and "1.45.0" in jj["chaoslib-version"]
        assert jj["platform"].startswith("Linux-") and "-with-glibc" in jj["platform"]
        assert jj["node"] == os.uname().nodename
        assert jj["status"] == "completed" and jj["deviated"] is False
        assert ISO.match(jj["start"]) and ISO.match(jj["end"]) and isinstance(jj["duration"], float)
        # the experiment as run: unknown keys kept, dry added last as null
        assert jj["experiment"]["extra_key"] == {"kept": True}
        assert list(jj["experiment"].keys())[-1] == "dry" and jj["experiment"]["dry"] is None
        ss = jj["steady_states"]
        assert list(ss.keys()) == ["before", "after", "during"] and ss["during"] == []
        for phase in ("before", "after"):
            assert list(ss[phase].keys()) == ["steady_state_met", "probes"]
            assert ss[phase]["steady_state_met"] is True
            p = ss[phase]["probes"][0]
            check_run_entry(p, ssh=True)
            assert p["tolerance_met"] is True
            assert p["output"] == {"status": 0, "stdout": "hi\n", "stderr": ""}
        a = jj["run"][0]
        check_run_entry(a)
        # a non-zero exit is not a failure
        assert a["output"] == {"status": 3, "stdout": "out\n", "stderr": "err\n"}, a["output"]
        assert a["activity"] == e["method"][0]
        check_run_entry(jj["rollbacks"][0])
        # indent=2, ", " / ": " separators as json.dump(indent=2)
        text = open(w.path + "/journal.json").read()
        assert text.startswith('{\n  "chaoslib-version": '), text[:40]
        # no temporary file left next to it
        assert os.listdir(w.path) == ["e.json", "journal.json"] or \
            sorted(os.listdir(w.path)) == ["e.json", "journal.json"], os.listdir(w.path)
    finally:
        w.cleanup()


@test
def process_provider():
    w = Workdir()
    try:
        e = experiment(method=[
            # list: no shell, items str()'d, null and "" dropped
            proc("list", "printf", ["%s|", "a b", 1, None, "", "$HOME"]),
            # string: through /bin/sh with quoting and expansion
            proc("string", "printf", "'%s|' 'a b' \"$CHAOS_IT_VAR\""),
            # deprecated object form
            proc("object", "printf", {"%s|": None, "-x": "y"}),
            # stdin is inherited
            proc("stdin", "cat", ["-"]),
            # killed by a signal: negative status
            proc("signal", "sh", ["-c", "kill -TERM $$"]),
            proc("tilde", "~/../../bin/true" if os.environ.get("HOME") else "true"),
        ])
        j = w.file("e.json", e)
        env = dict(os.environ, CHAOS_IT_VAR="v1")
        r = run([j], journal=w.path + "/j.json", env=env, stdin=open(j))
        assert r.code == 0, r
        out = {x["activity"]["name"]: x["output"] for x in r.journal["run"]}
        assert out["list"]["stdout"] == "a b|1|$HOME|", out["list"]
        assert out["string"]["stdout"] == "a b|v1|", out["string"]
        assert out["object"]["stdout"] == "-x|y|", out["object"]
        assert out["stdin"]["stdout"] == open(j).read()
        assert out["signal"]["status"] == -15, out["signal"]
    finally:
        w.cleanup()


@test
def process_timeout_kills_the_group():
    w = Workdir()
    marker = "31.%d" % os.getpid()
    try:
        e = experiment(method=[
            proc("slow", "sh", ["-c", "sleep %s & sleep %s; wait" % (marker, marker)],
                 timeout=0.3),
            proc("next", "true")])
        j = w.file("e.json", e)
        t0 = time.monotonic()
        r = run([j], journal=w.path + "/j.json")
        took = time.monotonic() - t0
        assert r.code == 0, r   # a failed action does not fail the experiment (CTK)
        assert took < 2, took
        a = r.journal["run"][0]
        check_run_entry(a, status="failed")
        assert a["output"] is None
        assert a["exception"][-1] == "chaoslib.exceptions.ActivityFailed: process activity " \
            "took too long to complete\n", a["exception"]
        assert 0.25 < a["duration"] < 1.0, a["duration"]
        assert r.journal["run"][1]["status"] == "succeeded"
        time.sleep(0.1)
        assert pids_matching("sleep " + marker) == [], "the child's group was not killed"
    finally:
        w.cleanup()


def routes():
    def echo(req):
        return 200, {"Content-Type": "application/json"}, json.dumps({
            "method": req["method"], "query": req["query"],
            "body": req["body"].decode(), "ctype": req["headers"].get("Content-Type"),
            "auth": req["headers"].get("Authorization")})

    def slow(req):
        time.sleep(1.5)
        return 200, {}, "late"

    return {
        "/echo": echo,
        "/text": lambda req: (200, {"Content-Type": "text/plain"}, "plain {\"a\": 1}"),
        "/charset": lambda req: (200, {"Content-Type": "application/json; charset=utf-8"},
                                 '{"a": 1}'),
        "/badjson": lambda req: (200, {"Content-Type": "application/json"}, "{nope"),
        "/redirect": lambda req: (302, {"Location": "/text"}, ""),
        "/500": lambda req: (500, {"Content-Type": "text/plain", "X-Multi": "a"}, "boom"),
        "/slow": slow,
    }


@test
def http_provider():
    s = Server(routes())
    w = Workdir()
    try:
        u = s.url
        e = experiment(method=[
            http_act("get", u + "/echo", arguments={"q": "a b", "n": 1, "l": [1, 2], "z": None}),
            http_act("post-json", u + "/echo", method="post",
                     headers={"Content-Type": "application/json"},
                     arguments={"k": [1, "x"], "t": True}),
            http_act("post-form", u + "/echo", method="post", arguments={"q": "chaos toolkit"}),
            http_act("put", u + "/echo", method="PUT"),
            http_act("text", u + "/text"),
            http_act("charset", u + "/charset"),
            http_act("redirect", u + "/redirect"),
            http_act("500", u + "/500"),
            http_act("slow", u + "/slow", timeout=[1, 0.3]),
            http_act("refused", "http://127.0.0.1:%d/" % free_port(), timeout=2, max_retries=2),
            http_act("badjson", u + "/badjson"),
        ])
        j = w.file("e.json", e)
        r = run([j], journal=w.path + "/j.json")
        assert r.code == 0, r
        out = {x["activity"]["name"]: x for x in r.journal["run"]}
        g = out["get"]["output"]
        assert list(g.keys()) == ["status", "headers", "body"]
        assert g["status"] == 200 and g["body"]["method"] == "GET"
        assert g["body"]["query"] == "q=a+b&n=1&l=1&l=2", g["body"]["query"]
        assert g["headers"]["Content-Type"] == "application/json"
        pj = out["post-json"]["output"]["body"]
        assert pj["method"] == "POST" and json.loads(pj["body"]) == {"k": [1, "x"], "t": True}
        assert pj["body"] == '{"k": [1, "x"], "t": true}', pj["body"]
        pf = out["post-form"]["output"]["body"]
        assert pf["body"] == "q=chaos+toolkit", pf
        assert pf["ctype"] == "application/x-www-form-urlencoded", pf
        assert out["put"]["output"]["body"]["method"] == "PUT"
        assert out["text"]["output"]["body"] == "plain {\"a\": 1}"
        # not exactly application/json: stays text
        assert out["charset"]["output"]["body"] == '{"a": 1}'
        assert out["redirect"]["output"]["status"] == 200
        assert out["redirect"]["output"]["body"].startswith("plain")
        # any status is a success
        assert out["500"]["status"] == "succeeded" and out["500"]["output"]["status"] == 500
        sl = out["slow"]
        assert sl["status"] == "failed" and sl["output"] is None
        assert sl["exception"][-1].endswith("activity took too long to complete\n"), sl
        assert sl["duration"] < 1.2, sl["duration"]
        rf = out["refused"]
        assert rf["status"] == "failed"
        assert "failed to connect to http://127.0.0.1:" in rf["exception"][-1], rf
        assert out["badjson"]["status"] == "failed"
    finally:
        s.close()
        w.cleanup()


@test
def secrets_are_masked():
    s = Server(routes())
    w = Workdir()
    try:
        e = experiment(
            method=[
                http_act("auth", s.url + "/echo", headers={"Authorization": "Bearer ${token}"}),
                proc("echo", "echo", ["user=${user}", "pw=${pw}", "n=${pin}"]),
            ],
            secrets={"api": {"token": "tok-INLINE-1234"},
                     "db": {"user": "admin", "pw": {"type": "env", "key": "CHAOS_IT_PW"},
                            "pin": 987654}},
            configuration={"where": "here"})
        j = w.file("e.json", e)
        env = dict(os.environ, CHAOS_IT_PW="pw-FROM-ENV-99")
        r = run([j], journal=w.path + "/j.json", env=env)
        assert r.code == 0, r
        text = open(w.path + "/j.json").read()
        for secret in ("tok-INLINE-1234", "pw-FROM-ENV-99", "987654"):
            assert secret not in text, secret
            assert secret not in r.err, secret
        # the server did get them
        assert s.requests[0]["headers"]["Authorization"] == "Bearer tok-INLINE-1234"
        out = {x["activity"]["name"]: x["output"] for x in r.journal["run"]}
        assert out["auth"]["body"]["auth"] == "Bearer ***", out["auth"]
        assert out["echo"]["stdout"] == "user=*** pw=*** n=***\n", out["echo"]
        sec = r.journal["experiment"]["secrets"]
        assert sec["api"]["token"] == "***" and sec["db"]["pin"] == "***"
        assert sec["db"]["pw"] == {"type": "env", "key": "CHAOS_IT_PW"}
        # configuration is not secret
        assert r.journal["experiment"]["configuration"] == {"where": "here"}
    finally:
        s.close()
        w.cleanup()


@test
def configuration_and_vars():
    w = Workdir()
    try:
        e = experiment(
            title="Hello ${who} on ${port}",
            method=[proc("show", "echo", ["${who}", "${port}", "${flag}", "${fromfile}",
                                          "${fromenvfile}", "$$literal"])],
            configuration={"who": {"type": "env", "key": "CHAOS_IT_WHO", "default": "nobody"},
                           "port": {"type": "env", "key": "CHAOS_IT_PORT",
                                    "env_var_type": "int"},
                           "flag": "x", "fromfile": "no", "fromenvfile": {
                               "type": "env", "key": "CHAOS_IT_FROM_ENV_FILE"}})
        j = w.file("e.json", e)
        vf = w.file("vars.yaml", "configuration:\n  fromfile: yes-from-yaml\n")
        ef = w.file("vars.env", "# comment\nCHAOS_IT_FROM_ENV_FILE=envfile\n")
        env = dict(os.environ, CHAOS_IT_PORT="8080")
        env.pop("CHAOS_IT_WHO", None)
        r = run(["--var", "flag:int=7", "--var", "undeclared=1", "--var-file", vf,
                 "--var-file", ef, j], journal=w.path + "/j.json", env=env)
        assert r.code == 0, r
        assert r.journal["experiment"]["title"] == "Hello nobody on 8080"
        assert r.journal["run"][0]["output"]["stdout"] == \
            "nobody 8080 7 yes-from-yaml envfile $literal\n", r.journal["run"][0]["output"]
        assert "undeclared" in r.err and "ignored" in r.err
        # a missing env key without default fails validation, exit 1
        env.pop("CHAOS_IT_PORT")
        r = run([j], journal=w.path + "/j.json", env=env)
        assert r.code == 1 and "environment key that does not exist: CHAOS_IT_PORT" in r.err, r
        assert r.journal is None
        # ... unless --var provides it
        r = run(["--var", "port:int=1", "--var-file", ef, j], journal=w.path + "/j.json", env=env)
        assert r.code == 0, r
    finally:
        w.cleanup()


@test
def yaml_experiment():
    w = Workdir()
    try:
        y = w.file("e.yaml", """
title: yaml ${x}
description: from yaml
configuration:
  x: 1
steady-state-hypothesis:
  title: ok
  probes:
    - type: probe
      name: p
      tolerance: 0
      provider: {type: process, path: "true"}
method:
  - type: action
    name: a
    provider:
      type: process
      path: echo
      arguments: [yes, "yes", 1.5]
""")
        r = run([y], journal=w.path + "/j.json")
        assert r.code == 0, r
        assert r.journal["experiment"]["title"] == "yaml 1"
        assert r.journal["run"][0]["output"]["stdout"] == "True yes 1.5\n", r.journal["run"][0]
        bad = w.file("bad.yaml", "title: [unclosed\n")
        r = run(["validate", bad])
        assert r.code == 1 and "bad.yaml: line" in r.err, r
    finally:
        w.cleanup()


@test
def errors_ctk_crashes_on():
    w = Workdir()
    try:
        # a regex tolerance without target on a process probe: a validation error...
        e = experiment(probes=[proc("p", "echo", ["x"], kind="probe",
                                    tolerance={"type": "regex", "pattern": "x"})],
                       rollbacks=[proc("r", "true")])
        j = w.file("e.json", e)
        r = run(["validate", j])
        assert r.code == 1 and "needs a `target`" in r.err and "'p'" in r.err, r
        # ... and with --no-validation an aborted run with a journal, not a crash
        r = run(["--no-validation", j], journal=w.path + "/j.json")
        assert r.code == 1, r
        assert r.journal["status"] == "aborted", r.journal["status"]
        p = r.journal["steady_states"]["before"]["probes"][0]
        assert p["tolerance_met"] is False and "no \"target\"" in p["exception"][-1], p
        assert p["output"]["stdout"] == "x\n"
        assert len(r.journal["rollbacks"]) == 1  # aborted: default strategy plays them
        # a rollback ref to nothing
        e = experiment(method=[proc("a", "true")], rollbacks=[{"ref": "nope"},
                                                              proc("r2", "true")])
        j = w.file("e2.json", e)
        r = run(["validate", j])
        assert r.code == 1 and "referenced activity 'nope'" in r.err, r
        r = run(["--no-validation", j], journal=w.path + "/j.json")
        assert r.journal is not None
        rb = r.journal["rollbacks"]
        assert rb[0]["status"] == "failed" and "'nope'" in rb[0]["exception"][-1], rb
        assert rb[1]["status"] == "succeeded"
        # a process path that disappeared after validation: the activity fails clearly
        e = experiment(method=[proc("gone", "/nonexistent/tool", ["x"])])
        j = w.file("e3.json", e)
        r = run(["--no-validation", j], journal=w.path + "/j.json")
        assert r.code == 0 and r.journal["run"][0]["status"] == "failed", r
        assert "cannot be found" in r.journal["run"][0]["exception"][-1]
    finally:
        w.cleanup()


@test
def command_line():
    w = Workdir()
    try:
        j = w.file("e.json", experiment(method=[proc("a", "true")]))
        # usage errors: 2
        for args in (["--dry=bogus", j], [], ["--rollback-strategy", "sometimes", j],
                     ["--hypothesis-strategy", "skip", j], ["--var", "novalue", j],
                     ["--var", "x:uuid=1", j], ["--var-file", w.path + "/missing.json", j],
                     ["--no-such-option", j], [j, "extra"]):
            r = run(args)
            assert r.code == 2, (args, r)
        # missing or unsupported source: 1
        r = run([w.path + "/missing.json"])
        assert r.code == 1 and 'Path "%s/missing.json" does not exist.' % w.path in r.err, r
        txt = w.file("e.txt", "{}")
        r = run([txt])
        assert r.code == 1 and "only files with json, yaml or yml extensions" in r.err, r
        bad = w.file("bad.json", "{\"title\": ")
        r = run([bad])
        assert r.code == 1 and "invalid JSON" in r.err, r
        # validate
        r = run(["validate", j])
        assert r.code == 0 and "experiment syntax and semantic look valid" in r.out, r
        r = run(["--help"])
        assert r.code == 0 and "--journal-path" in r.out
        # 'run' is optional, global options are accepted before it
        r = run(["--no-version-check", "--verbose", "run", "--dry", j], journal=w.path + "/j.json")
        assert r.code == 0 and r.journal["experiment"]["dry"] == "activities", r
        r = run(["--dry", "probes", j], journal=w.path + "/j.json")
        assert r.journal["experiment"]["dry"] == "probes", r.journal["experiment"]
        r = run(["--change-dir", w.path, "run", "e.json"], journal=w.path + "/j2.json")
        assert r.code == 0, r
        # a journal that cannot be written: refused before anything runs (exit 2)
        r = run(["--journal-path", "/nonexistent-dir/j.json", j])
        assert r.code == 2 and "invalid value for '--journal-path': cannot write in " \
            "'/nonexistent-dir': No such file or directory" in r.err, r
        assert "== experiment" not in r.err, r
    finally:
        w.cleanup()


@test
def pauses_and_dry_pause():
    w = Workdir()
    try:
        e = experiment(method=[proc("a", "true", pauses={"before": 0.3, "after": "${p}"})],
                       configuration={"p": 0.2})
        j = w.file("e.json", e)
        t0 = time.monotonic()
        r = run([j], journal=w.path + "/j.json")
        took = time.monotonic() - t0
        assert r.code == 0 and took >= 0.5, (r, took)
        assert r.journal["run"][0]["duration"] < 0.2  # pauses are not in the duration
        t0 = time.monotonic()
        r = run(["--dry=pause", j], journal=w.path + "/j.json")
        assert time.monotonic() - t0 < 0.4
        assert r.journal["run"][0]["output"]["status"] == 0  # ran, without pauses
    finally:
        w.cleanup()


@test
def output_lines_and_summary():
    w = Workdir()
    try:
        e = experiment(probes=[proc("healthy", "true", kind="probe", tolerance=0)],
                       method=[proc("break-it", "sh", ["-c", "exit 0"])],
                       rollbacks=[proc("fix-it", "true")])
        j = w.file("e.json", e)
        r = run([j], journal=w.path + "/j.json")
        lines = r.err.splitlines()
        starts = [l for l in lines if re.match(r"^\d\d:\d\d:\d\d\.\d{3}  +>> ", l)]
        ends = [l for l in lines if re.match(r"^\d\d:\d\d:\d\d\.\d{3}  +(ok|!!) ", l)]
        assert len(starts) == 4 and len(ends) == 4, r.err
        assert any("'break-it'" in l and re.search(r"\d+\.\d{3}s", l) for l in ends), ends
        assert "PASSED: t" in r.err and "exit 0" in r.err, r.err
        r = run(["--quiet", j], journal=w.path + "/j.json")
        assert r.err == "", r.err
    finally:
        w.cleanup()


def man_examples(page):
    """The .EX blocks of a man page, roff escapes undone."""
    man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man", page)
    text = open(man).read()
    blocks = re.findall(r"^\.EX\n(.*?)^\.EE", text, re.S | re.M)
    return [b.replace("\\-", "-").replace("\\(dq", '"').replace("\\e", "\\") for b in blocks]


@test
def man_page_examples():
    w = Workdir()
    try:
        blocks = man_examples("chaos-experiment.7")
        # (the sweep file's example, with "endpoints", is checked by tests/sweep)
        full = [b for b in blocks if b.lstrip().startswith("{\n  \"title\"") and
                "\"endpoints\"" not in b]
        assert len(full) == 1, len(full)
        r = run(["validate", w.file("example.json", full[0])])
        assert r.code == 0, r
        # the activity snippets are valid activities of an experiment with the service
        exp = json.loads(full[0])
        for b in blocks:
            b = b.strip()
            if not b.startswith('{"type": "probe"') and not b.startswith('{"type": "action"'):
                continue
            for snippet in re.split(r"\n\n", b):
                exp["method"] = [json.loads(snippet)]
                r = run(["validate", w.file("snippet.json", exp)])
                assert r.code == 0, (snippet, r)
        # the provider examples, as method activities
        for b in blocks:
            b = b.strip()
            if b.startswith('{"type": "process"') or b.startswith('{"type": "http"'):
                exp["method"] = [{"type": "action", "name": "x", "provider": json.loads(b)}]
                r = run(["validate", w.file("snippet.json", exp)])
                assert r.code == 0, (b, r)
        # chaos-run(1)'s command lines parse
        for b in man_examples("chaos-run.1"):
            for line in b.replace("\\\n", " ").splitlines():
                if line.startswith("chaos-run ") and "experiment" in line:
                    args = line.split()[1:]
                    args = [a for a in args if a not in ("run", "validate")]
                    assert all(a.startswith("-") or a.endswith((".json", ".yaml")) or
                               re.match(r"^[\w.:=]+$", a) for a in args), line
    finally:
        w.cleanup()


@test
def experiment_from_url():
    exp = experiment(method=[proc("a", "true")])
    body = json.dumps(exp)
    yaml_body = "title: t\ndescription: d\nmethod: []\n"
    s = Server({"/e.json": lambda req: (200, {"Content-Type": "application/json"}, body),
                "/e": lambda req: (200, {"Content-Type": "application/x-yaml"}, yaml_body),
                "/auth.json": lambda req: ((200, {}, body) if req["headers"].get(
                    "Authorization") == "Bearer tkn" else (403, {}, "no"))})
    w = Workdir()
    try:
        r = run(["validate", s.url + "/e.json"])
        assert r.code == 0, r
        r = run(["validate", s.url + "/e"])
        assert r.code == 0, r
        r = run([s.url + "/e.json"], journal=w.path + "/j.json")
        assert r.code == 0 and r.journal["run"][0]["status"] == "succeeded", r
        r = run(["validate", s.url + "/missing.json"])
        assert r.code == 1 and "HTTP status 404" in r.err, r
        r = run(["validate", s.url + "/auth.json"])
        assert r.code == 1, r
        env = dict(os.environ, CHAOSTOOLKIT_LOADER_AUTH_BEARER_TOKEN="tkn")
        r = run(["validate", s.url + "/auth.json"], env=env)
        assert r.code == 0, r
    finally:
        s.close()
        w.cleanup()


@test
def https_verify_tls():
    import ssl
    w = Workdir()
    s = Server({"/": lambda req: (200, {"Content-Type": "text/plain"}, "secure")})
    try:
        key, cert = w.path + "/key.pem", w.path + "/cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                       capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        s.httpd.socket = ctx.wrap_socket(s.httpd.socket, server_side=True)
        url = "https://127.0.0.1:%d/" % s.port
        e = experiment(method=[http_act("checked", url, timeout=3),
                               http_act("unchecked", url, timeout=3, verify_tls=False)])
        r = run([w.file("e.json", e)], journal=w.path + "/j.json")
        out = {x["activity"]["name"]: x for x in r.journal["run"]}
        assert out["checked"]["status"] == "failed", out["checked"]
        assert "failed to connect to " + url in out["checked"]["exception"][-1]
        assert out["unchecked"]["status"] == "succeeded", out["unchecked"]
        assert out["unchecked"]["output"]["body"] == "secure"
    finally:
        s.close()
        w.cleanup()


if __name__ == "__main__":
    sys.exit(main("integration"))
