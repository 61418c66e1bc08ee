#!/bin/sh
# demo.sh -- `make demo`: a Chaos Toolkit experiment on a small service with a cache and two
# dependencies, run by chaos-run with faults put on the live service and taken off again
#
# Starts redis-server, a database and a pricing API on loopback (free ports), runs
# demo/experiment.json (the service is started by chaos-run under chaos-exec), prints what
# each endpoint answered under each fault, and leaves the journal in build/demo/journal.json.
# Everything it started is stopped, whatever happens.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
OUT="$BUILD/demo"
EXPERIMENT=${DEMO_EXPERIMENT:-$ROOT/demo/experiment.json}
T=$(mktemp -d "${TMPDIR:-/tmp}/chaos-demo.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 200 ] || { echo "demo: '$*' did not come up" >&2; exit 1; }
		sleep 0.05
	done
}

DEMO_CACHE_PORT=$(freeport); DEMO_DB_PORT=$(freeport); DEMO_PRICING_PORT=$(freeport); DEMO_PORT=$(freeport)
export DEMO_CACHE_PORT DEMO_DB_PORT DEMO_PRICING_PORT DEMO_PORT
redis-server --port "$DEMO_CACHE_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$T/redis.log" 2>&1 &
PIDS="$PIDS $!"
python3 "$ROOT/demo/deps.py" db "$DEMO_DB_PORT" &
PIDS="$PIDS $!"
python3 "$ROOT/demo/deps.py" pricing "$DEMO_PRICING_PORT" &
PIDS="$PIDS $!"
wait_up redis-cli -p "$DEMO_CACHE_PORT" ping
wait_up curl -sf "http://127.0.0.1:$DEMO_PRICING_PORT/price/1"
wait_up python3 -c "import socket; socket.create_connection(('127.0.0.1', $DEMO_DB_PORT)).close()"

mkdir -p "$OUT"
: >"$OUT/service.log"
export DEMO_SERVICE_LOG="$OUT/service.log"
cd "$ROOT"
set +e
"$BUILD/chaos-run" --journal-path "$OUT/journal.json" "$EXPERIMENT"
rc=$?
set -e
echo
echo "What the catalog answered, fault by fault:"
echo
python3 "$ROOT/demo/report.py" "$OUT/journal.json"
echo
echo "journal: $OUT/journal.json    service's output and fault log: $OUT/service.log"
exit $rc
