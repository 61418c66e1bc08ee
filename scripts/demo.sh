#!/bin/sh
# demo.sh -- `make demo`: a small service with a cache and two dependencies, under faults
#
# Starts redis-server, a database and a pricing API on loopback, then runs the catalog service
# (demo/service.py) under chaos-exec once per scenario and shows what each endpoint answers.
# Cleans up everything it started, whatever happens.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CE="$BUILD/chaos-exec"
T=$(mktemp -d "${TMPDIR:-/tmp}/chaos-demo.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
	i=0
	until curl -s -o /dev/null "$1"; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: $1 did not come up" >&2; exit 1; }
		sleep 0.05
	done
}

RP=$(freeport); DP=$(freeport); PP=$(freeport); SP=$(freeport)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no >"$T/redis.log" 2>&1 &
PIDS="$PIDS $!"
python3 "$ROOT/demo/deps.py" db "$DP" &
PIDS="$PIDS $!"
python3 "$ROOT/demo/deps.py" pricing "$PP" &
PIDS="$PIDS $!"
wait_http "http://127.0.0.1:$PP/price/1"
until redis-cli -p "$RP" ping >/dev/null 2>&1; do sleep 0.05; done

# the service knows its dependencies by name; chaos-exec answers the names with loopback
export CACHE_ADDR="cache.demo.local:$RP" DB_ADDR="db.demo.local:$DP" \
	PRICING_URL="http://pricing.demo.local:$PP" PORT="$SP"
BASE="-f cache.demo.local\ dns=127.0.0.1 -f db.demo.local\ dns=127.0.0.1 -f pricing.demo.local\ dns=127.0.0.1"

# scenario TITLE [RULE]...: run the service under the rules, ask every endpoint
scenario() {
	title=$1
	shift
	redis-cli -p "$RP" set product:1 '{"id": "1", "name": "product 1"}' >/dev/null
	redis-cli -p "$RP" del product:2 >/dev/null
	eval "set -- $BASE \"\$@\""
	"$CE" --log "$T/faults.log" "$@" -- python3 "$ROOT/demo/service.py" &
	svc=$!
	wait_http "http://127.0.0.1:$SP/health"
	printf '%-32s' "$title"
	for ep in /products/1 /products/2 /prices/1; do
		code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$SP$ep")
		src=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("source",""))' "$T/body" 2>/dev/null || true)
		printf '%-22s' "$code${src:+ ($src)}"
	done
	printf '\n'
	kill "$svc"
	wait "$svc" 2>/dev/null || true
}

echo "The catalog service: products are cached in redis; prices come from an API."
echo
printf '%-32s%-22s%-22s%-22s\n' "fault" "/products/1 (cached)" "/products/2" "/prices/1"
scenario "none (steady state)"
scenario "database refuses" -f "db.demo.local:$DP refuse"
scenario "cache refuses" -f "cache.demo.local:$RP refuse"
scenario "cache resets connections" -f "cache.demo.local:$RP reset"
scenario "pricing gone from DNS" -f "pricing.demo.local dns=nxdomain"
echo
echo "Faults injected: $(grep -vc '"action":"dns","result":"127.0.0.1"' "$T/faults.log") (plus $(grep -c '"result":"127.0.0.1"' "$T/faults.log") name lookups answered with loopback)"
echo "The cache keeps /products/1 answering while the database refuses; /products/2, never"
echo "cached, fails.  Without the cache, products still come from the database."
