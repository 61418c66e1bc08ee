#!/bin/sh
# test_demo.sh -- `make demo` (README's first command) does what README says: the catalog
# answers /products/1 from its cache while the database refuses, /products/2 fails, and with
# the cache stalled /products/1 fails while /prices/1 answers; every fault comes off, and
# nothing the demo started is left running.
. "$(dirname "$0")/lib.sh"

run_rc env BUILD="$BUILD" sh "$ROOT/scripts/demo.sh"
check "demo exit" 0 "$RC"
J="$BUILD/demo/journal.json"
got=$(python3 - "$J" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
out = []
for r in j["run"]:
    a = r["activity"]
    if a["provider"]["type"] != "http":
        continue
    o = r["output"]
    if r["status"] == "succeeded":
        src = o["body"].get("source", "") if isinstance(o["body"], dict) else ""
        out.append("%s=%d%s" % (a["name"], o["status"], ":" + src if src else ""))
    else:
        out.append("%s=failed" % a["name"])
print(" ".join(out))
print(j["status"], j["deviated"], all(f.get("removed") for f in j["chaos"]["faults"]),
      len(j["chaos"]["faults"]))
PY
)
check "what the demo shows" "cached-product-while-database-refuses=200:cache uncached-product-while-database-refuses=503 product-while-cache-stalls=failed prices-while-cache-stalls=200
completed False True 2" "$got"
check_match "readable findings" "FAILING: +/products/2 \\(503\\)" "$OUT"
# nothing left running: no service, no dependency, no chaos-exec
sleep 0.2
left=$(pgrep -f "demo/(service|deps)\\.py|redis-server --port" | tr '\n' ' ' || true)
check "nothing left running" "" "$left"
done_ok
