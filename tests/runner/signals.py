#!/usr/bin/env python3
"""signals.py -- SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 during a run (CTK §6): an interrupted
journal written atomically, the running child's process group killed, rollbacks per signal and
strategy, background activities stopped too."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from rtlib import RUNNER, Workdir, experiment, main, pids_matching, proc, test  # noqa


def start(w, exp, *args):
    path = w.file("e.json", exp)
    journal = os.path.join(w.path, "journal.json")
    p = subprocess.Popen([RUNNER, "--journal-path", journal] + list(args) + [path],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p, journal


def wait_started(w, name, p, timeout=5):
    """Wait until the marker file the activity creates exists."""
    deadline = time.monotonic() + timeout
    marker = os.path.join(w.path, name)
    while not os.path.exists(marker):
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "activity never started"
        time.sleep(0.01)


def long_action(w, tag, background=False):
    # creates a marker, then sleeps with a recognisable command line in its own group
    a = proc("long-" + tag, "sh", ["-c", "touch %s/%s; sleep 41.%d%d & wait" % (
        w.path, tag, os.getpid(), 1 if tag == "fg" else 2)])
    if background:
        a["background"] = True
    return a


def interrupted_run(sig, strategy=None, background=False):
    import json
    w = Workdir()
    try:
        marker = "41.%d" % os.getpid()
        method = [long_action(w, "fg")]
        if background:
            method = [long_action(w, "bg", background=True), long_action(w, "fg")]
        exp = experiment(probes=[proc("p", "true", kind="probe", tolerance=0)],
                         method=method + [proc("never", "touch", [w.path + "/never"])],
                         rollbacks=[proc("rb", "touch", [w.path + "/rolled-back"])])
        args = ["--rollback-strategy", strategy] if strategy else []
        p, journal = start(w, exp, *args)
        wait_started(w, "fg", p)
        if background:
            wait_started(w, "bg", p)
        t0 = time.monotonic()
        p.send_signal(sig)
        out, err = p.communicate(timeout=10)
        took = time.monotonic() - t0
        assert took < 2, took
        assert p.returncode == 1, (p.returncode, err)
        with open(journal) as f:
            j = json.load(f)
        assert j["status"] == "interrupted", j["status"]
        assert not os.path.exists(w.path + "/never")
        # the interrupted activity is in the journal, failed, with the reason
        fg = [x for x in j["run"] if x["activity"]["name"] == "long-fg"][0]
        assert fg["status"] == "failed" and "interrupted" in fg["exception"][-1], fg
        if background:
            bg = [x for x in j["run"] if x["activity"]["name"] == "long-bg"][0]
            assert bg["status"] == "failed", bg
        time.sleep(0.1)
        assert pids_matching("sleep " + marker) == [], "children left behind"
        assert [f for f in os.listdir(w.path) if f.startswith(".journal")] == []
        assert "INTERRUPTED" in err, err
        return j, os.path.exists(w.path + "/rolled-back")
    finally:
        w.cleanup()


@test
def sigint_default():
    j, rolled = interrupted_run(signal.SIGINT)
    assert not rolled and j["rollbacks"] == []
    assert j["steady_states"]["after"] is None


@test
def sigint_always():
    j, rolled = interrupted_run(signal.SIGINT, "always")
    assert rolled and j["rollbacks"][0]["status"] == "succeeded"


@test
def sigterm_default():
    j, rolled = interrupted_run(signal.SIGTERM)
    assert not rolled


@test
def sigusr1_deviated_strategy_and_always():
    j, rolled = interrupted_run(signal.SIGUSR1, "always")
    assert rolled
    j, rolled = interrupted_run(signal.SIGUSR1)
    assert not rolled  # default strategy: not after "interrupted"


@test
def sigusr2_never_rolls_back():
    j, rolled = interrupted_run(signal.SIGUSR2, "always", background=True)
    assert not rolled and j["rollbacks"] == []


@test
def background_stopped_by_sigint():
    interrupted_run(signal.SIGINT, background=True)


@test
def interrupt_during_pause():
    import json
    w = Workdir()
    try:
        exp = experiment(method=[proc("a", "touch", [w.path + "/fg"], pauses={"after": 30}),
                                 proc("never", "touch", [w.path + "/never"])])
        p, journal = start(w, exp)
        wait_started(w, "fg", p)
        time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=5)
        with open(journal) as f:
            j = json.load(f)
        assert j["status"] == "interrupted" and p.returncode == 1
        assert not os.path.exists(w.path + "/never")
    finally:
        w.cleanup()


if __name__ == "__main__":
    sys.exit(main("signals"))
