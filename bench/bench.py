#!/usr/bin/env python3
"""bench.py -- make bench: what chaos costs the program it runs, side by side with plain runs,
libfiu (fiu-run -x) and strace --inject; delay precision, stalled connections, 100,000 rules.

    python3 bench/bench.py --build build [--quick] [--only SECTION,...] [--preload LIB]

Every comparison is made in one run, configurations interleaved: the send/recv loops keep one
process per configuration and have them take turns block by block; the other sections rotate the
order of the configurations round by round.  Figures are medians; the spread (min-max over the
rounds) is printed next to them, so a noisy run shows.  Results go to BUILD/bench/results.json,
and bench/RESULTS.md is written again from them.

--preload LIB adds the configurations of the send/recv and read/write sections run with another
build of libchaos-preload.so (chaos-exec's CHAOS_PRELOAD), to measure a change side by side.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ---- helpers ----------------------------------------------------------------------------------


def med(v):
    return statistics.median(v) if v else float("nan")


def spread(v):
    return (min(v), max(v)) if v else (float("nan"), float("nan"))


def quantile(v, q):
    s = sorted(v)
    return s[min(len(s) - 1, int(q * len(s)))]


def say(*a):
    print(*a, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Bench:
    def __init__(self, args):
        self.args = args
        self.b = os.path.abspath(args.build)
        self.out = os.path.join(self.b, "bench")
        self.exec = os.path.join(self.b, "chaos-exec")
        self.lib = os.path.join(self.b, "libchaos-preload.so")
        self.prog = lambda name: os.path.join(self.out, name)
        self.quick = args.quick
        self.results = {}
        self.targets = []
        os.makedirs(self.out, exist_ok=True)
        self.rules_1k_json, self.rules_1k_txt = self.write_rules(1000, "rules-1k")
        self.rules_100k_json, self.rules_100k_txt = self.write_rules(100000, "rules-100k")

    # Rules that never match the benchmarks' traffic (127.0.0.1, ephemeral ports, localhost):
    # a quarter each of resets (I/O), errors on I/O, refusals (connect) and DNS failures, so
    # every path of the library is armed.
    def write_rules(self, n, name):
        rules = []
        q = n // 4
        for i in range(q):
            rules.append("127.%d.%d.%d:1-1000 reset" % (1 + (i >> 16), (i >> 8) & 255, i & 255))
            rules.append("10.%d.%d.0/24 error=ETIMEDOUT on=io" % (i >> 8, i & 255))
            rules.append("10.200.%d.%d:5432 refuse" % (i >> 8, i & 255))
            rules.append("svc%d.internal dns=nxdomain" % i)
        js = os.path.join(self.out, name + ".json")
        txt = os.path.join(self.out, name + ".txt")
        with open(js, "w") as f:
            json.dump({"faults": rules}, f)
        with open(txt, "w") as f:
            f.write("\n".join(rules) + "\n")
        return js, txt

    def target(self, name, value, limit, op, unit, note="", lo=None, hi=None):
        """a target; lo, hi: the spread, noted when it straddles the limit"""
        if value is None or value != value:
            met = None
        else:
            met = value <= limit if op == "<=" else value >= limit
            if lo is not None and hi is not None and lo < limit < hi:
                note = "the spread (%.3g-%.3g) straddles the limit" % (lo, hi)
        self.targets.append({"target": name, "value": value, "limit": limit, "op": op,
                             "unit": unit, "met": met, "note": note, "spread": [lo, hi]})

    def chaos(self, *rules, lib=None):
        """the command prefix running a program under chaos-exec with these rule options"""
        pre = ["env", "CHAOS_PRELOAD=" + lib] if lib else []
        return pre + [self.exec] + list(rules) + ["--"]

    def feature(self, rule):
        """is this rule accepted by chaos-exec (--check)? returns (ok, message)"""
        p = subprocess.run([self.exec, "--check", "-f", rule], capture_output=True, text=True)
        return p.returncode == 0, (p.stderr.strip() or p.stdout.strip())

    # ---- send/recv loops -------------------------------------------------------------------

    def loop_configs(self):
        cfgs = [
            ("plain", "plain", []),
            ("chaos0", "chaos-exec, no rules", self.chaos()),
            ("chaos1k", "chaos-exec, 1,000 rules (500 on I/O)", self.chaos("-c", self.rules_1k_json)),
        ]
        if self.args.preload:
            cfgs += [
                ("alt0", "other library, no rules", self.chaos(lib=self.args.preload)),
                ("alt1k", "other library, 1,000 rules",
                 self.chaos("-c", self.rules_1k_json, lib=self.args.preload)),
            ]
        if shutil.which("fiu-run"):
            cfgs.append(("fiu", "fiu-run -x (nothing enabled)", ["fiu-run", "-x"]))
        else:
            say("  (fiu-run is not installed: Debian's fiu-utils; its column is left out)")
        if shutil.which("strace"):
            # the cheapest strace that can inject a recv fault: only recvfrom stops (seccomp),
            # output thrown away; when= must be at most 65535 and is never reached here
            cfgs.append(("strace", "strace -f --seccomp-bpf -e inject=recvfrom",
                         ["strace", "-f", "-qq", "-o", "/dev/null", "--seccomp-bpf", "-e",
                          "trace=recvfrom", "-e", "inject=recvfrom:error=EAGAIN:when=65535"]))
        else:
            say("  (strace is not installed: its column is left out)")
        return cfgs

    def loops(self):
        rounds, blocks = (2, 6) if self.quick else (6, 14)
        iters = {"socketpair": 3000, "tcp": 1500}
        cfgs = self.loop_configs()
        res = {}
        say("== send/recv loops: %d rounds x %d blocks, configurations taking turns block by block"
            % (rounds, blocks))
        for mode in ("socketpair", "tcp"):
            for threads in (1, 2):
                case = "%s, %d thread%s" % (mode, threads, "s" if threads > 1 else "")
                per_block = {c[0]: [] for c in cfgs}
                per_round = {c[0]: [] for c in cfgs}
                ns = {c[0]: [] for c in cfgs}
                for r in range(rounds):
                    procs = {}
                    try:
                        for key, _, prefix in cfgs:
                            n = iters[mode] if key != "strace" else max(1, iters[mode] // 100)
                            p = subprocess.Popen(prefix + [self.prog("loop"), mode, str(threads), str(n)],
                                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                 text=True, bufsize=1)
                            procs[key] = p
                            line = p.stdout.readline().strip()
                            if line != "ready":
                                raise RuntimeError("%s: loop did not start (%r)" % (key, line))

                        def block(key):
                            p = procs[key]
                            p.stdin.write("g")
                            p.stdin.flush()
                            return float(p.stdout.readline().split()[1])

                        for key, _, _ in cfgs:
                            block(key)  # warm-up
                        rr = {c[0]: [] for c in cfgs}
                        for b in range(blocks):
                            order = [cfgs[(k + b + r) % len(cfgs)][0] for k in range(len(cfgs))]
                            v = {key: block(key) for key in order}
                            for key in v:
                                rr[key].append(v[key] / v["plain"])
                                ns[key].append(v[key])
                        for key in rr:
                            per_block[key] += rr[key]
                            per_round[key].append(med(rr[key]))
                    finally:
                        for p in procs.values():
                            p.stdin.close()
                            p.wait()
                entry = {"plain_ns_per_call": round(med(ns["plain"]), 1), "configs": {}}
                line = []
                for key, label, _ in cfgs:
                    if key == "plain":
                        continue
                    lo, hi = spread(per_round[key])
                    entry["configs"][key] = {
                        "what": label, "ratio": round(med(per_block[key]), 4),
                        "round_min": round(lo, 4), "round_max": round(hi, 4),
                        "ns_per_call": round(med(ns[key]), 1)}
                    line.append("%s %.3f (%.3f-%.3f)" % (key, med(per_block[key]), lo, hi))
                res[case] = entry
                say("  %-22s plain %6.0f ns/call | %s" % (case, med(ns["plain"]), " | ".join(line)))
        self.results["loops"] = {
            "rounds": rounds, "blocks_per_round": blocks, "iterations": iters,
            "what": "ratio of wall time per call against plain, block by block; spread: "
                    "min-max of the per-round medians",
            "configs": {k: l for k, l, _ in cfgs}, "cases": res}
        for case, e in res.items():
            one = case.endswith(" 1 thread")
            c = e["configs"]["chaos1k"]
            self.target("send/recv %s, 1,000 rules" % case, c["ratio"], 1.02 if one else 1.03, "<=",
                        "x", lo=c["round_min"], hi=c["round_max"])

    # ---- hook cost per call (read/write, getaddrinfo) --------------------------------------

    def hookcost(self):
        rounds = 3 if self.quick else 7
        say("== ns added per call, in-process (hooked vs libc's own, alternating blocks): "
            "%d processes per configuration" % rounds)
        cfgs = [("plain", "no preload (the method's own bias)", []),
                ("chaos0", "chaos-exec, no rules", self.chaos()),
                ("chaos1k", "chaos-exec, 1,000 rules (I/O armed)", self.chaos("-c", self.rules_1k_json))]
        if self.args.preload:
            cfgs += [("alt0", "other library, no rules", self.chaos(lib=self.args.preload)),
                     ("alt1k", "other library, 1,000 rules",
                      self.chaos("-c", self.rules_1k_json, lib=self.args.preload))]
        gai_cfgs = [("plain", "no preload (the method's own bias)", []),
                    ("dns1", "chaos-exec, 1 dns rule for another name",
                     self.chaos("-f", "other.example dns=nxdomain")),
                    ("chaos1k", "chaos-exec, 1,000 rules (250 dns)", self.chaos("-c", self.rules_1k_json))]
        # blocks short enough that most run undisturbed; the 10th percentile of each side
        plan = {"pipe": (cfgs, 2000, 100), "file": (cfgs, 1500, 100), "getaddrinfo": (gai_cfgs, 150, 4)}
        if self.quick:
            plan = {k: (c, n // 3, m) for k, (c, n, m) in plan.items()}
        res = {}
        for mode, (cf, pairs, calls) in plan.items():
            est = {c[0]: [] for c in cf}
            for r in range(rounds):
                for k in range(len(cf)):
                    key, _, prefix = cf[(k + r) % len(cf)]
                    out = subprocess.run(prefix + [self.prog("hookcost"), mode, str(pairs), str(calls)],
                                         capture_output=True, text=True, check=True).stdout
                    rows = [l.split() for l in out.splitlines() if l.startswith("hooked_ns")]
                    h = [float(x[1]) for x in rows]
                    p = [float(x[3]) for x in rows]
                    est[key].append((quantile(h, 0.1) - quantile(p, 0.1), quantile(p, 0.1)))
            entry = {"calls_per_block": calls, "pairs": pairs, "configs": {}}
            line = []
            for key, label, _ in cf:
                added = [e[0] for e in est[key]]
                lo, hi = spread(added)
                entry["configs"][key] = {"what": label, "ns_added": round(med(added), 1),
                                         "round_min": round(lo, 1), "round_max": round(hi, 1),
                                         "libc_ns_per_call": round(med([e[1] for e in est[key]]), 1)}
                line.append("%s %+.1f (%+.1f..%+.1f)" % (key, med(added), lo, hi))
            res[mode] = entry
            say("  %-12s libc %7.0f ns/call | %s" % (mode, entry["configs"]["plain"]["libc_ns_per_call"],
                                                     " | ".join(line)))
        self.results["hookcost"] = {
            "rounds": rounds,
            "what": "ns per call the hook adds: 10th percentile of block times, hooked minus libc's, "
                    "in one process; spread: min-max over processes",
            "modes": res}
        for mode in ("pipe", "file"):
            for key, label in (("chaos0", "no rules"), ("chaos1k", "1,000 rules, I/O armed")):
                c = res[mode]["configs"][key]
                self.target("%s read/write, %s" % (mode, label), c["ns_added"], 5, "<=", "ns",
                            lo=c["round_min"], hi=c["round_max"])

    # ---- redis-benchmark ---------------------------------------------------------------------

    def redis(self):
        if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
            self.results["redis"] = {"status": "redis-server or redis-benchmark missing"}
            say("== redis: not run (redis-server or redis-benchmark missing)")
            return
        rounds, n = (3, 5000) if self.quick else (11, 10000)
        port = free_port()
        srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--protected-mode", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise RuntimeError("redis-server did not start on port %d" % port)
            cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t", "set,get",
                   "-n", str(n), "-c", "20", "--csv"]
            cfgs = [("plain", []), ("chaos1k", self.chaos("-c", self.rules_1k_json))]
            say("== redis-benchmark (SET and GET, %d requests each, 20 clients) against redis-server "
                "on port %d, %d rounds" % (n, port, rounds))

            def run(argv):
                """(stdout, CPU seconds of the process and the children it waited for)"""
                p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                out = p.stdout.read()
                _, status, ru = os.wait4(p.pid, 0)
                p.returncode = os.waitstatus_to_exitcode(status)
                if p.returncode:
                    raise RuntimeError("%s: exit %d" % (" ".join(argv), p.returncode))
                return out, ru.ru_utime + ru.ru_stime

            rps = {c[0]: [] for c in cfgs}
            ratios, cpu_ratios = [], []
            for r in range(rounds):
                got, cpu = {}, {}
                for k in range(len(cfgs)):
                    key, prefix = cfgs[(k + r) % len(cfgs)]
                    out, t = run(prefix + cmd)
                    _, t0 = run(prefix + ["true"])  # what starting costs, taken off
                    vals = {}
                    for line in out.splitlines():
                        f = [x.strip('"') for x in line.split(",")]
                        if len(f) > 1 and f[0] in ("SET", "GET"):
                            vals[f[0]] = float(f[1])
                    if len(vals) != 2:
                        raise RuntimeError("redis-benchmark output not understood: %r" % out)
                    got[key] = statistics.mean(vals.values())
                    cpu[key] = t - t0
                    rps[key].append(got[key])
                ratios.append(got["chaos1k"] / got["plain"])
                cpu_ratios.append(cpu["plain"] / cpu["chaos1k"])
            lo, hi = spread(ratios)
            clo, chi = spread(cpu_ratios)
            self.results["redis"] = {
                "rounds": rounds, "requests": n, "clients": 20,
                "what": "mean of SET and GET requests/s, redis-benchmark under chaos-exec with 1,000 "
                        "rules for other destinations / plain; cpu_ratio: the client's CPU time "
                        "(minus the same prefix running true) plain / under chaos-exec, which other "
                        "load on the machine disturbs much less",
                "plain_rps": round(med(rps["plain"])), "chaos_rps": round(med(rps["chaos1k"])),
                "ratio": round(med(ratios), 4), "round_min": round(lo, 4), "round_max": round(hi, 4),
                "cpu_ratio": round(med(cpu_ratios), 4), "cpu_round_min": round(clo, 4),
                "cpu_round_max": round(chi, 4)}
            say("  plain %.0f req/s, under chaos-exec %.0f req/s: ratio %.3f (%.3f-%.3f); client CPU "
                "time ratio %.3f (%.3f-%.3f)" % (med(rps["plain"]), med(rps["chaos1k"]), med(ratios),
                                                 lo, hi, med(cpu_ratios), clo, chi))
            self.target("redis-benchmark under chaos-exec", med(ratios), 0.98, ">=", "x", lo=lo, hi=hi)
        finally:
            srv.terminate()
            srv.wait()

    # ---- eBPF: the chaos-attach engineer's bench (bpf/build.mk bench-bpf) -----------------

    def ebpf(self):
        path = os.path.join(self.out, "bpf.json")
        if not os.path.exists(path):
            self.results["ebpf"] = {"status": "not run: %s missing (make bench-bpf)" % path}
            say("== eBPF: no %s (make bench-bpf writes it)" % path)
            self.target("eBPF connect rate, rule for another destination", None, 0.98, ">=", "x",
                        "not measured")
            return
        with open(path) as f:
            d = json.load(f)
        age = time.time() - os.path.getmtime(path)
        one = d["configs"]["one"]["connect"]
        allc = d["configs"]["all"]["connect"]
        rr_one = d["configs"]["one"].get("rr")
        rr_all = d["configs"]["all"].get("rr")
        self.results["ebpf"] = {
            "source": path, "age_s": round(age), "rounds": d.get("rounds"),
            "what": "chaos-attach --cgroup with rules for another destination: connect rate ratio "
                    "(tests/bpf/bench.sh)",
            "connect_one_rule": one, "connect_every_hook": allc,
            "rr_one_rule": rr_one, "rr_every_hook": rr_all,
            "baseline_connects_per_s": d["baseline"].get("connect_per_s_median")}
        say("== eBPF (tests/bpf/bench.sh, %d s old): connect rate with a refuse rule for another "
            "destination %.3f (%.3f-%.3f); with every hook attached %.3f (%.3f-%.3f)" %
            (age, one["ratio_median"], one["ratio_min"], one["ratio_max"],
             allc["ratio_median"], allc["ratio_min"], allc["ratio_max"]))
        self.target("eBPF connect rate, rule for another destination", one["ratio_median"], 0.98,
                    ">=", "x", lo=one["ratio_min"], hi=one["ratio_max"])

    # ---- start-up -------------------------------------------------------------------------------

    def startup(self):
        n = 60 if self.quick else 200
        true = shutil.which("true") or "/bin/true"
        true = os.path.realpath(true)
        cmds = [
            ("true", "%s" % true, [true]),
            ("chaos", "chaos-exec -- true", [self.exec, "--", true]),
            ("chaos1k", "chaos-exec -c (1,000 rules) -- true", [self.exec, "-c", self.rules_1k_json, "--", true]),
            ("check", "chaos-exec --check (its own start only)", [self.exec, "--check", "-f", "10.0.0.1:1 refuse"]),
            ("preload", "LD_PRELOAD=libchaos-preload.so true (the library's load)",
             ["LD_PRELOAD=" + self.lib, true]),
        ]
        argv = [self.prog("spawn"), str(n)]
        for i, (_, _, c) in enumerate(cmds):
            if i:
                argv.append(":::")
            argv += c
        say("== start-up: %d runs of each, interleaved" % n)
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        times = {i: [] for i in range(len(cmds))}
        for line in out.splitlines():
            k, v = line.split()
            times[int(k)].append(float(v) / 1e3)
        base = times[0]
        res = {"runs": n, "what": "median wall time from spawn to exit; added: minus true's; spread: "
                                  "min-max of the added time over 5 groups of consecutive runs",
               "commands": {}}
        for i, (key, label, _) in enumerate(cmds):
            t = times[i]
            k = len(t) // 5
            groups = [med(t[g * k:(g + 1) * k]) - med(base[g * k:(g + 1) * k]) for g in range(5)]
            lo, hi = spread(groups)
            res["commands"][key] = {"what": label, "median_us": round(med(t)),
                                    "added_us": round(med(t) - med(base)),
                                    "added_min_us": round(lo), "added_max_us": round(hi)}
            say("  %-58s %6.0f us%s" % (label, med(t), "" if i == 0 else "  added %+.0f us (%+.0f..%+.0f)" %
                                          (med(t) - med(base), lo, hi)))
        self.results["startup"] = res
        c = res["commands"]["chaos"]
        self.target("chaos-exec start-up (-- true)", c["added_us"] / 1e3, 2, "<=", "ms",
                    lo=c["added_min_us"] / 1e3, hi=c["added_max_us"] / 1e3)

    # ---- 100,000 rules --------------------------------------------------------------------------

    def rules100k(self):
        say("== 100,000 rules (a quarter each: reset, error on=io, refuse, dns=nxdomain)")
        res = {}
        out = subprocess.run([self.prog("rulescale"), "core", self.rules_100k_txt],
                             capture_output=True, text=True, check=True).stdout
        core = {l.split()[0]: float(l.split()[1]) for l in out.splitlines()}
        res["core"] = core
        say("  rule engine (core/): parse %.0f ms (%.0f ns a rule), index %.0f ms; one connect lookup "
            "%.2f us, one DNS lookup %.2f us through the index (walking every rule: %.0f us, %.0f us)"
            % (core["parse_ms"], core["parse_ns_per_rule"], core["index_ms"], core["connect_index_us"],
               core["dns_index_us"], core["connect_lookup_us"], core["dns_lookup_us"]))

        def probe(env, prefix=()):
            e = dict(os.environ)
            e.update(env)
            p = subprocess.run(list(prefix) + [self.prog("rulescale"), "probe", "9" if self.quick else "21"],
                               capture_output=True, text=True, env=e)
            if p.returncode:
                raise RuntimeError("rulescale probe: %s" % p.stderr.strip())
            return {l.split()[0]: float(l.split()[1]) for l in p.stdout.splitlines()}

        # the library's own loading code, given the rules through the environment in-process
        lib = {}
        for key, path in (("none", ""), ("100k", self.rules_100k_txt)):
            lib[key] = probe({"LD_PRELOAD": self.lib, "BENCH_RULES_FILE": path})
        l0, l1 = lib["none"], lib["100k"]
        res["library"] = {
            "what": "libchaos-preload.so loading 100,000 rules from CHAOS_RULES (set in-process by "
                    "libbench-envrules.so) against none",
            "load_ms": round(l1["init_ms"] - l0["init_ms"], 1),
            "rss_added_mb": round((l1["rss_kb"] - l0["rss_kb"]) / 1024, 1),
            "connect_added_us": round((l1["connect_hooked_us"] - l1["connect_libc_us"]), 1),
            "getaddrinfo_added_us": round((l1["gai_hooked_us"] - l1["gai_libc_us"]), 1),
            "connect_added_us_no_rules": round((l0["connect_hooked_us"] - l0["connect_libc_us"]), 1),
            "raw": lib}
        r = res["library"]
        say("  preload library: load %.0f ms, memory +%.0f MB; each connect +%.0f us, each "
            "getaddrinfo +%.0f us (no rules: connect %+.1f us)" %
            (r["load_ms"], r["rss_added_mb"], r["connect_added_us"], r["getaddrinfo_added_us"],
             r["connect_added_us_no_rules"]))

        # through chaos-exec, the way a user gives them
        t0 = time.monotonic()
        p = subprocess.run([self.exec, "-c", self.rules_100k_json, "--", "true"], capture_output=True,
                           text=True)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            msg = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
            res["chaos_exec"] = {"status": "blocked", "message": msg}
            say("  chaos-exec -c (100,000 rules): blocked: %s" % msg)
        else:
            c = probe({}, self.chaos("-c", self.rules_100k_json))
            res["chaos_exec"] = {
                "status": "ok", "start_to_exit_ms": round(wall * 1e3),
                "library_start_ms": round(c["init_ms"], 1), "rss_mb": round(c["rss_kb"] / 1024, 1),
                "connect_added_us": round(c["connect_hooked_us"] - c["connect_libc_us"], 1),
                "getaddrinfo_added_us": round(c["gai_hooked_us"] - c["gai_libc_us"], 1)}
            e = res["chaos_exec"]
            say("  chaos-exec -c (100,000 rules) -- true: %d ms; in the program: library start %.0f "
                "ms, RSS %.0f MB, connect +%.0f us, getaddrinfo +%.0f us" %
                (e["start_to_exit_ms"], e["library_start_ms"], e["rss_mb"], e["connect_added_us"],
                 e["getaddrinfo_added_us"]))
        self.results["rules100k"] = res

    # ---- delay precision -------------------------------------------------------------------

    def delay(self):
        ok, msg = self.feature("127.0.0.1:1 delay=10ms")
        if not ok:
            self.results["delay"] = {"status": "not available yet", "message": msg}
            say("== delay precision: not available yet (%s)" % msg)
            self.target("delay p99 error", None, 1, "<=", "ms", "not available yet")
            return
        srv = subprocess.Popen([self.prog("delay"), "serve"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        try:
            port = int(srv.stdout.readline().split()[1])

            def rtts(prefix, n, threads):
                out = subprocess.run(prefix + [self.prog("delay"), "rtt", str(port), str(n), str(threads)],
                                     capture_output=True, text=True, check=True).stdout
                return [float(l.split()[1]) / 1e6 for l in out.splitlines() if l.startswith("rtt_ns")]

            plan = [("10ms", 10.0, 50, 4), ("100ms", 100.0, 20, 5), ("1s", 1000.0, 5, 10)]
            if self.quick:
                plan = [(a, b, max(2, n // 3), t) for a, b, n, t in plan]
            base = med(rtts([], 200, 1))
            res = {"baseline_rtt_ms": round(base, 4), "delays": {}}
            say("== delay precision (one-byte round trips through a loopback echo server; error = "
                "round trip - delay - %.3f ms plain round trip)" % base)
            worst = 0.0
            for name, d, n, threads in plan:
                s = rtts(self.chaos("-f", "127.0.0.1:%d delay=%s" % (port, name)), n, threads)
                err = [x - d - base for x in s]
                absd = [abs(x) for x in err]
                e = {"samples": len(s), "p50_error_ms": round(med(err), 3),
                     "p99_abs_error_ms": round(quantile(absd, 0.99), 3),
                     "max_abs_error_ms": round(max(absd), 3)}
                res["delays"][name] = e
                worst = max(worst, e["p99_abs_error_ms"])
                say("  delay=%-6s %3d samples: p50 error %+.3f ms, p99 |error| %.3f ms, max %.3f ms" %
                    (name, len(s), e["p50_error_ms"], e["p99_abs_error_ms"], e["max_abs_error_ms"]))
            self.results["delay"] = res
            self.target("delay p99 error (worst of 10 ms, 100 ms, 1 s)", worst, 1, "<=", "ms")
        finally:
            srv.stdin.close()
            srv.wait()

    # ---- bandwidth accuracy -------------------------------------------------------------------

    def bandwidth(self):
        ok, msg = self.feature("127.0.0.1:1 bandwidth=1MB/s")
        if not ok:
            self.results["bandwidth"] = {"status": "not available yet", "message": msg}
            say("== bandwidth accuracy: not available yet (%s)" % msg)
            return
        # about 2 s of transfer each; rounds alternate the directions
        plan = [("100KB/s", 100e3), ("1MB/s", 1e6), ("10MB/s", 10e6)]
        rounds = 1 if self.quick else 3
        secs = 1.0 if self.quick else 2.0
        srv = subprocess.Popen([self.prog("delay"), "serve", "bulk"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        try:
            port = int(srv.stdout.readline().split()[1])

            def run(prefix, nbytes, way):
                out = subprocess.run(prefix + [self.prog("delay"), "bw", str(port), str(nbytes), way],
                                     capture_output=True, text=True, check=True).stdout
                return float(out.split()[1]) / 1e9

            plain = {way: 20e6 / run([], 20000000, way) for way in ("get", "put")}
            say("== bandwidth accuracy (one connection to a loopback bulk server, %.0f s transfers; "
                "plain loopback: %.0f MB/s down, %.0f MB/s up)" % (secs, plain["get"] / 1e6, plain["put"] / 1e6))
            res = {"seconds_per_transfer": secs, "rounds": rounds,
                   "plain_MBps": {k: round(v / 1e6) for k, v in plain.items()}, "rates": {}}
            worst = 0.0
            for name, rate in plan:
                e = {}
                for way, label in (("get", "down"), ("put", "up")):
                    nbytes = int(rate * secs)
                    got = [nbytes / run(self.chaos("--log", "/dev/null", "-f", "127.0.0.1:%d bandwidth=%s" % (port, name)),
                                        nbytes, way) for _ in range(rounds)]
                    ratio = [g / rate for g in got]
                    e[label] = {"bytes": nbytes, "ratio_median": round(med(ratio), 4),
                                "ratio_min": round(min(ratio), 4), "ratio_max": round(max(ratio), 4)}
                    worst = max(worst, max(abs(r - 1) for r in ratio))
                res["rates"][name] = e
                say("  bandwidth=%-8s down %.3f (%.3f-%.3f) of the rate, up %.3f (%.3f-%.3f)" % (
                    name, e["down"]["ratio_median"], e["down"]["ratio_min"], e["down"]["ratio_max"],
                    e["up"]["ratio_median"], e["up"]["ratio_min"], e["up"]["ratio_max"]))
            res["worst_error_pct"] = round(worst * 100, 2)
            self.results["bandwidth"] = res
        finally:
            srv.stdin.close()
            srv.wait()

    # ---- 10,000 stalled connections ---------------------------------------------------------

    def stall(self):
        ok, msg = self.feature("127.0.0.1:1 stall")
        if not ok:
            self.results["stall"] = {"status": "not available yet", "message": msg}
            say("== 10,000 stalled connections: not available yet (%s)" % msg)
            return
        n = 2000 if self.quick else 10000
        say("== %d stalled connections: memory with a real stall (a server that never answers) and "
            "with chaos's stall (a server that answers)" % n)
        res = {"connections": n,
               "what": "memory of the client's process tree (the client, and chaos-exec with its "
                       "stall listener) added while it opens n connections, one byte sent on each, "
                       "none answered within 200 ms; the kernel's TCP memory from /proc/net/sockstat"}
        for key, silent, prefix in (("real", True, []), ("chaos", False, None)):
            srv = subprocess.Popen([self.prog("delay"), "serve"] + (["silent"] if silent else []),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                port = int(srv.stdout.readline().split()[1])
                if prefix is None:
                    prefix = self.chaos("--log", "/dev/null", "-f", "127.0.0.1:%d stall" % port)
                cl = subprocess.Popen(prefix + [self.prog("delay"), "stall", str(port), str(n)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      start_new_session=True)
                got = {}
                t0 = None
                for line in cl.stdout:
                    line = line.strip()
                    if line == "begin":
                        # everything started, nothing connected yet
                        tree0 = tree_rss_kb(cl.pid)
                        before = sockstat()
                        t0 = time.monotonic()
                        cl.stdin.write("g")
                        cl.stdin.flush()
                        continue
                    if line == "ready":
                        break
                    k, v = line.split()
                    got[k] = float(v)
                secs = time.monotonic() - t0 - 0.2  # (less the 200 ms it waits for answers)
                tree = tree_rss_kb(cl.pid)
                after = sockstat()
                cl.stdin.close()
                cl.wait()
            finally:
                srv.stdin.close()
                srv.wait()
            res[key] = {"stalled": int(got.get("stalled", -1)),
                        "open_seconds": round(secs, 3),
                        "tree_rss_before_kb": tree0, "tree_rss_kb": tree,
                        "tree_rss_added_kb": tree - tree0,
                        "tcp_sockets_added": after["inuse"] - before["inuse"],
                        "tcp_mem_added_kb": (after["mem"] - before["mem"]) * 4}
            r = res[key]
            say("  %-5s stalled %d/%d in %.2f s; process tree %d kB before, +%d kB (%d bytes a "
                "connection); TCP sockets +%d, kernel TCP memory +%d kB" % (
                    key, r["stalled"], n, secs, tree0, r["tree_rss_added_kb"],
                    r["tree_rss_added_kb"] * 1024 / n, r["tcp_sockets_added"], r["tcp_mem_added_kb"]))
        res["bytes_per_connection"] = round(res["chaos"]["tree_rss_added_kb"] * 1024 / n)
        res["bytes_per_connection_added"] = round(
            (res["chaos"]["tree_rss_added_kb"] - res["real"]["tree_rss_added_kb"]) * 1024 / n)
        res["fixed_kb_added"] = res["chaos"]["tree_rss_before_kb"] - res["real"]["tree_rss_before_kb"]
        say("  chaos's stall: %d bytes of process memory a connection (%+d over a real stall), "
            "and %d kB once (chaos-exec and the library)" % (
                res["bytes_per_connection"], res["bytes_per_connection_added"], res["fixed_kb_added"]))
        self.results["stall"] = res

    # ---- output ---------------------------------------------------------------------------------

    def machine(self):
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        def ver(cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
            except (OSError, IndexError):
                return "?"
        return {"kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(),
                "load_at_start": os.getloadavg(), "libc": platform.libc_ver()[1],
                "strace": ver(["strace", "-V"]), "redis": ver(["redis-server", "--version"])}


def sockstat():
    r = {"inuse": 0, "mem": 0}
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                f2 = line.split()
                for i in range(1, len(f2) - 1, 2):
                    if f2[i] in r:
                        r[f2[i]] = int(f2[i + 1])
    return r


def rss_kb(pid):
    """resident memory of a process: smaps_rollup walks its page tables (status's VmRSS is
    kept per CPU and can be off by hundreds of kB), VmRSS where that is missing"""
    for path, key in (("/proc/%d/smaps_rollup" % pid, "Rss:"), ("/proc/%d/status" % pid, "VmRSS:")):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            pass
    return 0


def tree_rss_kb(pid):
    """resident memory of pid and its descendants"""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        total += rss_kb(p)
    return total


def fmt_ratio(e):
    return "%.3f (%.3f-%.3f)" % (e["ratio"], e["round_min"], e["round_max"])


def write_markdown(path, R):
    m = R["machine"]
    L = []
    L.append("# chaos benchmark results")
    L.append("")
    L.append("Written by `make bench` (bench/bench.py) on %s: Linux %s, %s, %d cores (shared with "
             "other developers; load %.2f at start), glibc %s. Every ratio is measured side by side "
             "in one run; figures are medians, (min-max) the spread over rounds. Full data: "
             "`build/bench/results.json`." %
             (R["date"], m["kernel"], m["cpu"], m["cores"], m["load_at_start"][0], m["libc"]))
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | limit | met |")
    L.append("|---|---|---|---|")
    for t in R["targets"]:
        v = "n/a" if t["value"] is None else ("%.3f" % t["value"] if t["unit"] == "x" else "%.1f %s" % (t["value"], t["unit"]))
        met = {True: "yes", False: "**no**", None: t["note"] or "not measured"}[t["met"]]
        if t["met"] is not None and t["note"]:
            met += " (%s)" % t["note"]
        L.append("| %s | %s | %s %s%s | %s |" % (t["target"], v, t["op"], t["limit"],
                                                  "" if t["unit"] == "x" else " " + t["unit"], met))
    if "loops" in R:
        lp = R["loops"]
        keys = [k for k in lp["configs"] if k != "plain"]
        L.append("")
        L.append("## send/recv loop: time per call against plain (64-byte ping-pong, %d rounds x %d blocks)"
                 % (lp["rounds"], lp["blocks_per_round"]))
        L.append("")
        L.append("| case | plain ns/call | " + " | ".join(lp["configs"][k] for k in keys) + " |")
        L.append("|---|---" + "|---" * len(keys) + "|")
        for case, e in lp["cases"].items():
            L.append("| %s | %.0f | %s |" % (case, e["plain_ns_per_call"],
                                             " | ".join(fmt_ratio(e["configs"][k]) for k in keys)))
    if "hookcost" in R:
        hc = R["hookcost"]["modes"]
        L.append("")
        L.append("## ns added per call by the hooks (in-process, hooked vs libc's own)")
        L.append("")
        L.append("| call | libc ns/call | configuration | ns added |")
        L.append("|---|---|---|---|")
        for mode, e in hc.items():
            for key, c in e["configs"].items():
                L.append("| %s | %.0f | %s | %+.1f (%+.1f..%+.1f) |" % (
                    "read+write, " + mode if mode != "getaddrinfo" else "getaddrinfo(localhost)",
                    c["libc_ns_per_call"], c["what"], c["ns_added"], c["round_min"], c["round_max"]))
    L.append("")
    L.append("## Programs")
    L.append("")
    L.append("| measure | result |")
    L.append("|---|---|")
    if "redis" in R:
        r = R["redis"]
        if "ratio" in r:
            L.append("| redis-benchmark SET+GET, under chaos-exec (1,000 rules) / plain | %.3f (%.3f-%.3f): "
                     "%d vs %d req/s; the client's CPU time, plain / under chaos-exec: %.3f (%.3f-%.3f) |" % (
                         r["ratio"], r["round_min"], r["round_max"], r["chaos_rps"], r["plain_rps"],
                         r["cpu_ratio"], r["cpu_round_min"], r["cpu_round_max"]))
        else:
            L.append("| redis-benchmark | %s |" % r["status"])
    if "ebpf" in R:
        e = R["ebpf"]
        if "connect_one_rule" in e:
            o, a = e["connect_one_rule"], e["connect_every_hook"]
            L.append("| eBPF connect rate, refuse rule for another destination / nothing attached | %.3f "
                     "(%.3f-%.3f); every hook attached: %.3f (%.3f-%.3f) |" % (
                         o["ratio_median"], o["ratio_min"], o["ratio_max"],
                         a["ratio_median"], a["ratio_min"], a["ratio_max"]))
            if e.get("rr_one_rule") and e.get("rr_every_hook"):
                o, a = e["rr_one_rule"], e["rr_every_hook"]
                L.append("| eBPF request/response rate (1-byte round trips on one connection), same "
                         "configurations | %.3f (%.3f-%.3f); every hook attached: %.3f (%.3f-%.3f) |" % (
                             o["ratio_median"], o["ratio_min"], o["ratio_max"],
                             a["ratio_median"], a["ratio_min"], a["ratio_max"]))
        else:
            L.append("| eBPF connect rate | %s |" % e["status"])
    if "startup" in R:
        c = R["startup"]["commands"]
        L.append("| start-up, `chaos-exec -- true` minus `true` | +%.2f ms (%+.2f..%+.2f); with 1,000 rules "
                 "+%.2f ms; chaos-exec's own start +%.2f ms; the library's load +%.2f ms |" % (
                     c["chaos"]["added_us"] / 1e3, c["chaos"]["added_min_us"] / 1e3,
                     c["chaos"]["added_max_us"] / 1e3, c["chaos1k"]["added_us"] / 1e3,
                     c["check"]["added_us"] / 1e3, c["preload"]["added_us"] / 1e3))
    if "rules100k" in R:
        x = R["rules100k"]
        L.append("| 100,000 rules, rule engine | parse %.0f ms, index %.0f ms; a connect lookup %.2f us, a "
                 "DNS lookup %.2f us through the index (walking every rule: %.0f us, %.0f us) |"
                 % (x["core"]["parse_ms"], x["core"]["index_ms"], x["core"]["connect_index_us"],
                    x["core"]["dns_index_us"], x["core"]["connect_lookup_us"], x["core"]["dns_lookup_us"]))
        l = x["library"]
        L.append("| 100,000 rules, preload library | load %.0f ms, +%.0f MB; connect +%.0f us, "
                 "getaddrinfo +%.0f us |" % (l["load_ms"], l["rss_added_mb"], l["connect_added_us"],
                                             l["getaddrinfo_added_us"]))
        c = x["chaos_exec"]
        if c["status"] == "ok":
            L.append("| 100,000 rules through chaos-exec | `-- true` in %d ms; library start %.0f ms, "
                     "RSS %.0f MB |" % (c["start_to_exit_ms"], c["library_start_ms"], c["rss_mb"]))
        else:
            L.append("| 100,000 rules through chaos-exec | blocked: %s |" % c["message"])
    if "delay" in R:
        d = R["delay"]
        if "delays" in d:
            for name, e in d["delays"].items():
                L.append("| delay=%s, %d round trips | error p50 %+.3f ms, p99 (absolute) %.3f ms, max %.3f ms |" %
                         (name, e["samples"], e["p50_error_ms"], e["p99_abs_error_ms"], e["max_abs_error_ms"]))
        else:
            L.append("| delay precision (10 ms, 100 ms, 1 s) | not available yet |")
    if "bandwidth" in R:
        b = R["bandwidth"]
        if "rates" in b:
            for name, e in b["rates"].items():
                L.append("| bandwidth=%s, %.0f s transfers: achieved / asked | down %.3f (%.3f-%.3f), up %.3f "
                         "(%.3f-%.3f) |" % (name, b["seconds_per_transfer"], e["down"]["ratio_median"],
                                            e["down"]["ratio_min"], e["down"]["ratio_max"],
                                            e["up"]["ratio_median"], e["up"]["ratio_min"], e["up"]["ratio_max"]))
        else:
            L.append("| bandwidth accuracy | not available yet |")
    if "stall" in R:
        s = R["stall"]
        if "chaos" in s:
            c, r = s["chaos"], s["real"]
            L.append("| %d stalled connections (stall rule) | %d/%d stalled, opened in %.2f s; process memory +%d kB "
                     "(%d bytes a connection, %+d over a real stall's %d), plus %d kB once (chaos-exec, the "
                     "library); kernel TCP memory +%d kB (a real stall: +%d kB) |" % (
                         s["connections"], c["stalled"], s["connections"], c["open_seconds"],
                         c["tree_rss_added_kb"], s["bytes_per_connection"], s["bytes_per_connection_added"],
                         round(r["tree_rss_added_kb"] * 1024 / s["connections"]), s["fixed_kb_added"],
                         c["tcp_mem_added_kb"], r["tcp_mem_added_kb"]))
        else:
            L.append("| 10,000 stalled connections | not available yet |")
    L.append("")
    L.append("## What was found and fixed")
    L.append("")
    L.append("- **read/write/send/recv** (was +6.3 ns with no rules, +15 ns with 1,000 rules, 1.047x on a "
             "socketpair): every hooked call built its argument block on the stack before the first "
             "check, and with rules acting on I/O every file, pipe and AF_UNIX call took the whole slow "
             "path. Now an exported hook is a frameless inline check and a tail jump to libc (13 "
             "instructions, callgrind), and an fd known not to be ours, or one of our sockets no rule "
             "covers in this rule generation (faults in time included), passes in a few loads.")
    L.append("- **redis-benchmark** (was 0.966-0.970): not the I/O hooks but `epoll_ctl` (about 5 a "
             "request), which kept registration bookkeeping (a lock, a lookup, about 240 "
             "instructions) even with no fault in time. Now it is a check and a tail call until a "
             "fault in time exists; then each epoll set is filled in from the kernel's own list "
             "(/proc/self/fdinfo). callgrind: 3,708 instructions a request under chaos-exec before, "
             "2,738 after, 2,422 plain.")
    L.append("- **start-up** (was +2.1 ms): the library scanned all 256 control slots twice (a page "
             "each) and chaos-exec opened its blackhole and stall listeners (TCP sockets, a "
             "connection to fill a queue) at every start. Now slot scans stop at a high-water mark "
             "and the listeners are opened the first time a rule needs them.")
    L.append("- **100,000 rules**: a connect walked every rule (about 450 us); the rules are now "
             "indexed by address and prefix length, exact name and `*.suffix` (core/index.c), and a "
             "lookup takes under a microsecond.")
    missed = [t for t in R["targets"] if t["met"] is False]
    if missed:
        L.append("")
        L.append("## Why a target is missed in this run")
        L.append("")
        for t in missed:
            if t["target"].startswith("redis"):
                why = ("not the whole answer yet: callgrind counts 13% more user-space instructions "
                       "a request in the client than plain (2,738 against 2,422: about 200 in "
                       "`epoll_ctl`, whose untracked path still counts itself in and out so that a "
                       "fault in time added live can take over its epoll sets safely, and about 100 "
                       "in the send/recv hooks); and with the client and redis-server sharing the "
                       "two cores the round-to-round spread is far wider than the margin (three runs "
                       "on the same day: 0.90 to 0.99)")
            elif "read/write" in t["target"]:
                why = ("the hook's cost is a few loads (13 instructions with no rules); the figure is "
                       "the difference of two ~400-800 ns calls measured in blocks, and its spread "
                       "over rounds is wider than the limit: a file write's own time varies more "
                       "than the hook costs")
            elif t["target"].startswith("eBPF"):
                why = ("the kernel runs the connect program for every connect (a map lookup that "
                       "finds no rule); the spread between rounds of the same configuration is "
                       "larger than the margin on this shared VM")
            elif "start-up" in t["target"]:
                why = ("two process starts (chaos-exec, the command) against one; the spread moves "
                       "with the machine's load")
            elif "delay" in t["target"]:
                why = ("scheduler latency: a thread woken at the due time starts late when the two "
                       "cores are busy; on a quiet machine p99 is a few hundred microseconds")
            else:
                why = "see the spread: measured on a shared machine"
            L.append("- **%s**: %s." % (t["target"], why))
    L.append("")
    L.append("## How it is measured")
    L.append("")
    L.append("- **send/recv loops** (`bench/loop.c`): each thread ping-pongs 64 bytes over its own "
             "socketpair or loopback TCP connection (send, recv, send, recv: nothing blocks). One "
             "process per configuration, all started together; they take turns running a block "
             "(about 10 ms), so drift and other developers' load hit every configuration alike. "
             "Ratio = block time / the plain block of the same turn; the figure is the median over "
             "all turns, the spread the min-max of the per-round medians. The preload runs through "
             "`chaos-exec`; the 1,000 rules match nothing the loop does (a quarter each: "
             "`127.0.x.y:1-1000 reset`, `10.x.y.0/24 error=ETIMEDOUT on=io`, `10.200.x.y:5432 "
             "refuse`, `svcN.internal dns=nxdomain`), so the I/O path is armed. libfiu runs with "
             "nothing enabled; strace with the cheapest set-up that can still inject into recv "
             "(`--seccomp-bpf`, only recvfrom traced; tracing sendto too costs about twice as much).")
    L.append("- **ns added per call** (`bench/hookcost.c`): in one process, the program's own "
             "`read`/`write`/`getaddrinfo` (the hooks, under chaos-exec) and libc's (found with "
             "`dlopen(\"libc.so.6\", RTLD_NOLOAD)`) in alternating blocks of 100 calls (4 for "
             "getaddrinfo); the 10th percentile of each side's block times, subtracted. The same "
             "program without the preload shows the method's bias (about 0).")
    L.append("- **redis-benchmark**: `-t set,get -c 20` against a redis-server on a free loopback port, "
             "plain and under `chaos-exec -c` (the same 1,000 rules), alternating round by round.")
    L.append("- **eBPF**: quoted from `tests/bpf/bench.sh` (`make bench-bpf`, run just before).")
    L.append("- **start-up** (`bench/spawn.c`): posix_spawn to exit, the commands taking turns.")
    L.append("- **100,000 rules** (`bench/rulescale.c`): the rule engine alone (parse, index, one "
             "lookup through the index and one walking every rule), then the preload library loading them through its own code "
             "(`libbench-envrules.so` sets CHAOS_RULES before the library starts, as an "
             "environment string that large cannot pass execve), then through `chaos-exec -c`.")
    L.append("- **delay** (`bench/delay.c rtt`): one-byte round trips to a loopback echo server under "
             "`chaos-exec -f '127.0.0.1:PORT delay=D'` (which holds each answer back D after it arrived), "
             "several connections at once; error = round trip - D - the plain round trip (measured first).")
    L.append("- **bandwidth** (`bench/delay.c bw`): one connection downloads (get) or uploads (put, until "
             "the server has every byte) about 2 s worth at the rate under `bandwidth=RATE`; the "
             "figure is bytes / time / RATE (the first 10 ms worth pass at once, by design: +0.5%).")
    L.append("- **stalled connections** (`bench/delay.c stall`): the client opens the connections and "
             "sends a byte on each; no answer may arrive within 200 ms. Memory is the resident size "
             "(smaps_rollup) of the client's process tree (the client, and under chaos-exec "
             "chaos-exec with its stall listener) added while the connections open, against the "
             "same client and a server that never answers (a real stall); kernel TCP memory from "
             "/proc/net/sockstat.")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


SECTIONS = ["loops", "hookcost", "redis", "ebpf", "startup", "rules100k", "delay", "bandwidth",
            "stall"]


def main():
    ap = argparse.ArgumentParser(description="make bench: chaos overhead, precision and scale")
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--only", default="", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--preload", help="another libchaos-preload.so as extra configurations")
    ap.add_argument("--markdown", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    for s in only:
        if s not in SECTIONS:
            ap.error("unknown section '%s' (one of %s)" % (s, ",".join(SECTIONS)))
    if args.preload and not os.path.isabs(args.preload):
        args.preload = os.path.abspath(args.preload)
    b = Bench(args)
    t0 = time.monotonic()
    R = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "machine": b.machine(), "quick": args.quick}
    say("chaos bench: Linux %s, %d cores, load %.2f" % (R["machine"]["kernel"], R["machine"]["cores"],
                                                        R["machine"]["load_at_start"][0]))
    for s in SECTIONS:
        if not only or s in only:
            ts = time.monotonic()
            getattr(b, s)()
            R.setdefault("section_seconds", {})[s] = round(time.monotonic() - ts, 1)
    R.update(b.results)
    R["targets"] = b.targets
    R["seconds"] = round(time.monotonic() - t0)
    path = os.path.join(b.out, "results.json")
    with open(path, "w") as f:
        json.dump(R, f, indent=2)
    say("== targets")
    for t in b.targets:
        v = "n/a" if t["value"] is None else "%.3f" % t["value"]
        met = {True: "met", False: "NOT MET", None: t["note"] or "not measured"}[t["met"]]
        if t["met"] is not None and t["note"]:
            met += " (%s)" % t["note"]
        say("  %-52s %9s %s %s %-3s %s" % (t["target"], v, t["op"], t["limit"], t["unit"], met))
    if not only and not args.quick and not args.preload:
        write_markdown(args.markdown, R)
        say("results in %s and %s (%d s)" % (path, os.path.relpath(args.markdown, ROOT), R["seconds"]))
    else:
        say("results in %s (%d s; bench/RESULTS.md is written by a full run only)" % (path, R["seconds"]))


if __name__ == "__main__":
    main()
