#!/usr/bin/env python3
"""report.py -- what the demo experiment showed, from its journal, in a table a person reads in
five seconds: each fault, each endpoint, what it answered and how fast."""
import json, sys

j = json.load(open(sys.argv[1]))
# the rules as they were put on (${} substituted), by the activity that added them
added_by = {}
for f in j.get("chaos", {}).get("faults", []):
    added_by.setdefault(f["added_by"], []).append(f["rule"])
fault = "none"
rows = []
for r in j["run"]:
    a = r["activity"]
    if a.get("provider", {}).get("type") == "chaos":
        if "add" in a["provider"]:
            fault = ", ".join(added_by.get(a["name"], a["provider"]["add"]))
        else:
            fault = "none"
        continue
    url = a["provider"].get("url", "")
    endpoint = url.split("/", 3)[-1] if url else a["name"]
    if r["status"] == "succeeded":
        out = r["output"]
        body = out.get("body") if isinstance(out, dict) else None
        src = body.get("source") if isinstance(body, dict) else None
        what = "%d%s" % (out["status"], " (from the %s)" % src if src else "")
    else:
        exc = (r.get("exception") or ["failed"])[-1].strip()
        what = "no answer: " + exc.split(": ", 1)[-1]
    rows.append((fault, "/" + endpoint, what, "%.0f ms" % (r["duration"] * 1000)))

w = [max(len(x[i]) for x in rows + [("fault", "endpoint", "answer", "time")]) for i in range(4)]
line = lambda x: "  ".join(x[i].ljust(w[i]) for i in range(4)).rstrip()
print(line(("fault", "endpoint", "answer", "time")))
for x in rows:
    print(line(x))
print()
print("Findings:")
for f in dict.fromkeys(x[0] for x in rows):
    cells = [x for x in rows if x[0] == f]
    good = ["%s (%s)" % (x[1], x[2]) for x in cells if x[2].startswith("2")]
    bad = ["%s (%s)" % (x[1], x[2]) for x in cells if not x[2].startswith("2")]
    print("  with %s:" % f)
    if good:
        print("    still answering: " + ", ".join(good))
    if bad:
        print("    FAILING:         " + ", ".join(bad))
before = j["steady_states"]["before"]
after = j["steady_states"]["after"]
print()
print("steady state before: %s; after: %s; status: %s%s" % (
    "met" if before and before["steady_state_met"] else "NOT met",
    "met" if after and after["steady_state_met"] else ("NOT met" if after else "not checked"),
    j["status"], ", deviated" if j["deviated"] else ""))
faults = j.get("chaos", {}).get("faults", [])
left = [f for f in faults if not f.get("removed")]
print("faults put on: %d, taken off: %d%s" % (len(faults), len(faults) - len(left),
      "" if not left else " -- LEFT ON: " + ", ".join(f["rule"] for f in left)))
