#!/usr/bin/env python3
"""conformance.py -- chaos-run against Chaos Toolkit's own experiments (../shared/ctk-corpus):
every row of expected.tsv (validate: exit code and message; run: status/deviated/exit), then
every file of the corpus against the verdict INDEX.md gives for a C runner (python providers
refused naming the first python activity), and the HTTP experiments run against a loopback
server with their URLs rewritten.  Prints 'corpus conformance: X/75'."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from rtlib import CORPUS, RUNNER, Server, main, run, test  # noqa

PY = "provider type 'python' is not supported (activity '%s')"

# Every corpus file: what a C runner must say (INDEX.md): a message substring, or
# ("run", status, deviated, exit), or ("server", ...) for the HTTP ones run separately.
VERDICTS = {
    "EmptyExperiment.json": "an empty experiment is not an experiment",
    "MissingTitleExperiment.json": "experiment requires a title",
    "MissingDescriptionExperiment.json": "experiment requires a description",
    "MissingHypothesisTitleExperiment.json": "hypothesis requires a title",
    "MissingMethodExperiment.json": "an experiment requires a method, which can be empty for "
                                    "only checking steady state hypothesis ",
    "NoStepsMethodExperiment.json": ("run", "completed", False, 0),
    "MissingHypothesisExperiment.json": PY % "boolean-probe",
    # CTK fails on the python signature; we check python last, so the missing tolerance of
    # that probe comes first (a list: any of these)
    "ExperimentWithInvalidHypoProbe.json": [PY % "a name",
                                            "hypothesis probe must have a tolerance entry"],
    "ExperimentWithInterpolatedTitle.json": PY % "boolean-probe",
    "ExperimentWithLongPause.json": PY % "probe-with-long-pause",
    "RefProbeExperiment.json": PY % "boolean-probe",
    "MissingRefProbeExperiment.json": "referenced activity 'pizza' could not be found in the "
                                      "experiment",
    "HTTPToleranceExperiment.json": "server",
    "ExperimentWithDeprecatedProcArgsProbe.json": ("run", "completed", False, 0),
    "ExperimentWithDeprecatedVaultPayload.json": "vault secrets are not supported",
    "Experiment.json": PY % "boolean-probe",
    "ExperimentWithConfigurationCallingMissingEnvKey.json":
        "Configuration makes reference to an environment key that does not exist: "
        "DOES_NOT_EXIST",
    "ExperimentWithVariousTolerances.json": PY % "boolean-probe",
    "ExperimentNoControlsWithDeviation.json": PY % "path-must-exists",
    "ExperimentWithControls.json": PY % "boolean-probe",
    "ExperimentWithInvalidControls.json": PY % "boolean-probe",
    "ExperimentWithTopLevelControlsAndActivityControl.json": PY % "pretend-we-do-stuff",
    "SimpleExperiment.json": ("run", "completed", False, 0),
    "SimpleExperimentWithFailingHypothesis.json": ("run", "completed", False, 0),
    "SimpleExperimentWithException.json": PY % "boom",
    "SimpleExperimentWithSSHFailingAtSomePoint.json": PY % "fail-at-somepoint",
    "ExperimentWithRegularRollback.json": PY % "a name",
    "ExperimentWithFailedActionInMethodAndARollback.json": PY % "a name",
    "ExperimentWithFailedActionInSSHAndARollback.json": PY % "a name",
    "ExperimentGracefulExitLongProcessCall.json": PY % "interrupt-next-action",
    "SimpleExperimentWithBackgroundActivity.json": PY % "pretend-we-do-stuff",
    "ExperimentWithBypassedActivity.json": ("run", "completed", False, 0),
    "cli_check-file-exists.json": PY % "check-file-exists",
    "cli_check-file-exists-fail.json": PY % "check-file-exists",
    "cli_check-file-exists-deviated.json": PY % "check-file-exists",
    "cli_invalid-plan.json": "experiment requires a description",
    "cli_override-hypothesis-runtime-strategy.json": PY % "check-file-exists",
    "cli_override-rollbacks-runtime-strategy.json": PY % "check-file-exists",
    "cli_well-formed-experiment.json": "an activity must have a type",
    "docs_api-experiment_minimal.json": PY % "file-must-exist",
    "docs_api-experiment_complex.json": "path 'vegeta' cannot be found, in activity "
                                        "'simulate-user-traffic'",
    "docs_concepts.json": PY % "all-services-are-healthy",
    "docs_tutorial-tolerance.json": PY % "lookup-lang-file",
    "docs_a-simple-walkthrough.json": PY % "the-astre-service-must-be-running",
    "docs_deployment-docker-hello.json": ("run", "completed", False, 0),
    "docs_deployment-k8s-operator-hello.json": ("run", "completed", False, 0),
    "docs_tutorial-blockchain-transaction.json": "server",
    "samples_pod-should-be-restarted-when-service-is-unhealthy.json":
        "environment key that does not exist: WEBAPP_SERVICE_ADDR",
    "samples_service-down-not-visible-to-users.json": PY % "all-services-are-healthy",
    "samples_service-killed-not-visible-to-users.json":
        "Secrets make reference to an environment key that does not exist: GREMLIN_EMAIL",
    "derived_EmptyProbe.json": "empty activity is no activity",
    "derived_MissingTypeProbe.json": "an activity must have a type",
    "derived_UnknownTypeProbe.json": "'whatever' is not a supported activity type",
    "derived_UnknownProviderTypeProbe.json": "unknown provider type 'pizza'",
    "derived_MissingProcessPathProbe.json": "a process activity must have a path",
    "derived_ProcessPathDoesNotExistProbe.json": "path 'somewhere/not/here' cannot be found, "
                                                 "in activity 'invalid proc path'",
    "derived_MissingHTTPUrlProbe.json": "a HTTP activity must have a URL",
    "derived_MissingModuleProbe.json": "a Python activity must have a module path",
    "derived_PauseBeforeNotNumber.json": "activity before pause must be a number or a pattern "
                                         "to a variable from the configuration or secrets",
    "derived_PauseAfterNotNumber.json": "activity after pause must be a number or a pattern "
                                        "to a variable from the configuration or secrets",
    "derived_PausesAsSubstitutionPattern.json": ("run", "completed", False, 0),
    "derived_HypothesisProbeWithoutTolerance.json": "hypothesis probe must have a tolerance "
                                                    "entry",
    "derived_ToleranceRegexMissingPattern.json": "hypothesis regex probe tolerance must have "
                                                 "a `pattern` key",
    "derived_ToleranceRegexPatternNull.json": "hypothesis probe tolerance pattern None has an "
                                              "invalid type",
    "derived_ToleranceRegexInvalidPattern.json": "hypothesis probe tolerance pattern [0-9 "
                                                 "seems invalid: ",
    "derived_ToleranceUnsupportedType.json": "hypothesis probe tolerance type 'boom' is "
                                             "unsupported",
    "derived_ToleranceJsonpathEmptyPath.json": "hypothesis probe tolerance JSON path cannot be "
                                               "empty",
    "derived_ToleranceRangeLowerNotNumber.json": "hypothesis range lower boundary must be a "
                                                 "number",
    "derived_ToleranceRangeUpperNotNumber.json": "hypothesis range upper boundary must be a "
                                                 "number",
    "derived_ProcessTolerances.json": ("run", "completed", False, 0),
    "derived_SimpleExperimentWithRollback.json": ("run", "completed", False, 0),
    "derived_SimpleExperimentWithFailingHypothesisAndRollback.json":
        ("run", "completed", False, 0),
    "derived_ProcProbeTimeoutInMethod.json": ("run", "completed", False, 0),
    "derived_ProcessArgumentsArrayAndString.json": ("run", "completed", False, 0),
    "derived_HTTPTolerances.json": "server",
}

TMP = tempfile.mkdtemp(prefix="chaos-run-ctk.")
SCORE = {}


def corpus(name):
    return os.path.join(CORPUS, name)


def clean_env():
    env = dict(os.environ)
    for k in ("DOES_NOT_EXIST", "WEBAPP_SERVICE_ADDR", "GREMLIN_EMAIL", "PROJECT_NAME"):
        env.pop(k, None)
    return env


def validate(name):
    p = subprocess.run([RUNNER, "validate", corpus(name)], capture_output=True, text=True,
                       env=clean_env(), timeout=30)
    return p.returncode, p.stdout + p.stderr


CACHE = {}


def run_file(path, *args):
    """Run an experiment; corpus files without options are run once and remembered."""
    key = (path,) + args
    if key in CACHE:
        return CACHE[key]
    j = os.path.join(TMP, "journal.json")
    r = run(list(args) + [path], journal=j, env=clean_env(), timeout=60)
    if path.startswith(CORPUS) and not args:
        CACHE[key] = r
    return r


@test
def expected_tsv():
    rows = [l.rstrip("\n").split("\t") for l in open(corpus("expected.tsv"))
            if l.strip() and not l.startswith("#")]
    assert len(rows) == 37, len(rows)
    bad = []
    for name, mode, code, expect in rows:
        if mode == "validate":
            got, text = validate(name)
            if got != int(code) or expect not in text:
                bad.append((name, got, text))
        else:
            r = run_file(corpus(name))
            status, deviated = expect.split("/")
            j = r.journal or {}
            if (r.code != int(code) or j.get("status") != status or
                    str(j.get("deviated")).lower() != deviated):
                bad.append((name, r.code, j.get("status"), j.get("deviated"), r.err[-500:]))
    assert not bad, "\n".join(map(str, bad))


@test
def every_corpus_file():
    files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".json"))
    assert len(files) == 75 and set(files) == set(VERDICTS), set(files) ^ set(VERDICTS)
    bad = []
    for name in files:
        v = VERDICTS[name]
        if v == "server":
            code, text = validate(name)
            ok = code == 0
        elif isinstance(v, tuple):
            code, text = validate(name)
            r = run_file(corpus(name))
            j = r.journal or {}
            ok = code == 0 and (j.get("status"), j.get("deviated"), r.code) == v[1:]
            text += r.err
        else:
            code, text = validate(name)
            ok = code == 1 and any(m in text for m in (v if isinstance(v, list) else [v]))
        SCORE[name] = ok
        if not ok:
            bad.append((name, v, text[-400:]))
    assert not bad, "\n".join(map(str, bad))


@test
def run_details():
    # SimpleExperiment: before = after = true, say-hello stdout "world\n"
    r = run_file(corpus("SimpleExperiment.json"))
    j = r.journal
    assert j["steady_states"]["before"]["steady_state_met"] is True
    assert j["steady_states"]["after"]["steady_state_met"] is True
    assert j["run"][0]["output"]["stdout"] == "world\n"
    # failing hypothesis: method skipped, after null, run []
    r = run_file(corpus("SimpleExperimentWithFailingHypothesis.json"))
    j = r.journal
    assert j["steady_states"]["before"]["steady_state_met"] is False
    assert j["steady_states"]["after"] is None and j["run"] == []
    # ... with a rollback: played under default, not under deviated
    name = corpus("derived_SimpleExperimentWithFailingHypothesisAndRollback.json")
    assert len(run_file(name).journal["rollbacks"]) == 1
    r = run_file(name, "--rollback-strategy", "deviated")
    assert r.journal["rollbacks"] == []
    # deprecated dict args: python3 -V
    r = run_file(corpus("ExperimentWithDeprecatedProcArgsProbe.json"))
    for x in r.journal["run"]:
        assert x["status"] == "succeeded" and x["output"]["status"] == 0
        assert x["output"]["stdout"].startswith("Python 3."), x["output"]
    assert "Process arguments should now be a list" in r.err
    # timeout in the method
    r = run_file(corpus("derived_ProcProbeTimeoutInMethod.json"))
    j = r.journal
    assert j["run"][0]["status"] == "failed" and j["run"][0]["output"] is None
    assert j["run"][0]["exception"][-1] == "chaoslib.exceptions.ActivityFailed: process " \
        "activity took too long to complete\n"
    assert j["run"][1]["status"] == "succeeded" and len(j["rollbacks"]) == 1
    # list and string arguments give the same argv
    r = run_file(corpus("derived_ProcessArgumentsArrayAndString.json"))
    outs = [x["output"]["stdout"] for x in r.journal["run"]]
    want = "['-c', '--empty', '--number', '1', '--string', 'with spaces', '--string', " \
           "'a second string with the same option']\n"
    assert outs == [want, want], outs
    # python3 --version has a two-digit minor here: the regex probe is not met
    r = run_file(corpus("derived_ProcessTolerances.json"))
    probes = r.journal["steady_states"]["before"]["probes"]
    assert [p["tolerance_met"] for p in probes] == [True, True, sys.version_info.minor < 10]
    # interpolated pauses: 1 s before, 0.7 s after
    r = run_file(corpus("derived_PausesAsSubstitutionPattern.json"))
    assert r.journal["duration"] >= 1.7, r.journal["duration"]
    # per-activity dry is honoured (CTK: a no-op from JSON)
    r = run_file(corpus("ExperimentWithBypassedActivity.json"))
    assert r.journal["run"][0]["output"] is None


def rewrite(name, base):
    with open(corpus(name)) as f:
        text = f.read()
    text = text.replace("http://example.com", base).replace("http://127.0.0.1:5000", base)
    p = os.path.join(TMP, name)
    with open(p, "w") as f:
        f.write(text)
    return p


@test
def http_tolerance_experiment():
    status = {"code": 200}
    s = Server({"/": lambda req: (status["code"], {"Content-Type": "text/html"}, "hi")})
    try:
        p = rewrite("HTTPToleranceExperiment.json", s.url + "/")
        r = run_file(p)
        assert (r.journal["status"], r.journal["deviated"], r.code) == ("completed", False, 0)
        ss = r.journal["steady_states"]
        assert ss["before"]["steady_state_met"] and ss["after"]["steady_state_met"]
        status["code"] = 404
        r = run_file(p)
        assert (r.journal["status"], r.journal["deviated"], r.code) == ("completed", False, 0)
        assert r.journal["steady_states"]["before"]["steady_state_met"] is False
        assert r.journal["steady_states"]["after"] is None
    finally:
        s.close()
    r = run_file(p)  # the server is gone: connection refused in the gate
    assert (r.journal["status"], r.journal["deviated"], r.code) == ("failed", False, 1), r


@test
def http_tolerances():
    body = {"text": "you are number 87"}
    s = Server({"/": lambda req: (200, {"Content-Type": "text/plain"}, body["text"])})
    try:
        p = rewrite("derived_HTTPTolerances.json", s.url + "/")
        r = run_file(p)
        assert (r.journal["status"], r.journal["deviated"], r.code) == ("completed", False, 0)
        post = [q for q in s.requests if q["method"] == "POST"]
        assert post and post[0]["body"] == b"q=chaostoolkit", post
        assert post[0]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        body["text"] = "you are number 8"
        r = run_file(p)
        assert r.journal["steady_states"]["before"]["steady_state_met"] is False
        assert r.journal["run"] == [] and r.code == 0
    finally:
        s.close()
    r = run_file(p)
    assert (r.journal["status"], r.code) == ("failed", 1)


@test
def blockchain_tutorial():
    def chain(req):
        return 200, {"Content-Type": "application/json"}, '{"chain": [], "length": 1}'

    def new(req):
        assert json.loads(req["body"])  # a JSON body
        return 201, {"Content-Type": "application/json"}, '{"message": "ok"}'

    s = Server({"/chain": chain, "/transactions/new": new,
                "/mine": lambda req: (200, {"Content-Type": "application/json"}, '{"i": 1}')})
    try:
        p = rewrite("docs_tutorial-blockchain-transaction.json", s.url)
        r = run_file(p)
        assert (r.journal["status"], r.journal["deviated"], r.code) == ("completed", False, 0), r
        assert len(r.journal["run"]) == 4
        assert all(x["status"] == "succeeded" for x in r.journal["run"])
        assert r.journal["run"][0]["output"]["body"] == {"message": "ok"}
        posted = [q for q in s.requests if q["method"] == "POST"][0]
        assert posted["headers"]["Content-Type"] == "application/json"
    finally:
        s.close()


@test
def var_file_issue252():
    exp = {"title": "t", "description": "d",
           "configuration": {"some_config_1": "x", "some_config_2": "y"},
           "method": [{"type": "action", "name": "a", "provider": {
               "type": "process", "path": "echo", "arguments": ["${some_config_1}"]}}]}
    p = os.path.join(TMP, "issue252.json")
    with open(p, "w") as f:
        json.dump(exp, f)
    vf = corpus("varfiles/env_vars_issue252.json")
    r = run_file(p, "--var-file", vf)
    assert r.code == 1 and "some_config_2" in r.err and "'python' is not supported" in r.err, r
    # without the python entry, the env entry resolves to $PWD
    with open(vf) as f:
        d = json.load(f)
    del d["configuration"]["some_config_2"]
    vf2 = os.path.join(TMP, "vars.json")
    with open(vf2, "w") as f:
        json.dump(d, f)
    r = run_file(p, "--var-file", vf2)
    assert r.code == 0 and r.journal["run"][0]["output"]["stdout"] == os.getcwd() + "\n", r


if __name__ == "__main__":
    code = main("conformance")
    if SCORE:
        print("corpus conformance: %d/%d" % (sum(SCORE.values()), len(SCORE)))
    shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(code)
