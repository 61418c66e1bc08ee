#!/bin/sh
# test_record.sh -- discovery: chaos-exec --record writes exactly the dependencies a service
# with several of them contacted (names, addresses, ports, connections, bytes each way,
# errors, lookups); chaos-ctl PID deps shows the same live; a killed chaos-exec's channel is
# cleaned up and never listed.
. "$(dirname "$0")/lib.sh"

CHAOS_CTL="$BUILD/chaos-ctl"
start_server EP echo
start_server HP http
start_server UP udp
REC="$T/deps.json"

cat >"$T/svc.py" <<'PY'
import json, socket, sys
ep, hp, up = map(int, sys.argv[1:4])
seen = {}
# the cache: two connections, 100 bytes each way on each
for _ in range(2):
    s = socket.create_connection(("cache.dep", ep))
    s.sendall(b"x" * 100)
    got = b""
    while len(got) < 100:
        got += s.recv(100 - len(got))
    s.close()
# the API: one HTTP/1.0 request, read to the end
s = socket.create_connection(("api.dep", hp))
req = b"GET / HTTP/1.0\r\n\r\n"
s.sendall(req)
resp = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    resp += d
s.close()
seen["api_in"] = len(resp)
# a datagram service by address: three 10-byte datagrams, echoed
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3):
    u.sendto(b"y" * 10, ("127.0.0.1", up))
    u.recvfrom(100)
# a dependency that is down, and a name that does not resolve
try:
    socket.create_connection(("127.0.0.1", 1))
except ConnectionRefusedError:
    pass
try:
    socket.getaddrinfo("gone.dep", 80)
except socket.gaierror:
    pass
print(json.dumps(seen))
PY

"$CHAOS_EXEC" --log /dev/null --record "$REC" -f 'cache.dep dns=127.0.0.1' -f 'api.dep dns=127.0.0.1' \
	-f 'gone.dep dns=nxdomain' -- python3 "$T/svc.py" "$EP" "$HP" "$UP" >"$T/seen.json"
API_IN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_in"])' "$T/seen.json")

got=$(python3 - "$REC" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
for d in j["dependencies"]:
    print(d["host"], d["protocol"], d["port"], ",".join(d["addresses"]), d["connections"],
          d["bytes_sent"], d["bytes_received"], json.dumps(d["errors"], sort_keys=True))
for l in j["lookups"]:
    print("lookup", l["host"], l["lookups"], json.dumps(l["errors"], sort_keys=True))
PY
)
want="127.0.0.1 tcp 1 127.0.0.1 1 0 0 {\"ECONNREFUSED\": 1}
127.0.0.1 udp $UP 127.0.0.1 0 30 30 {}
api.dep tcp $HP 127.0.0.1 1 18 $API_IN {}
cache.dep tcp $EP 127.0.0.1 2 200 200 {}
lookup api.dep 1 {}
lookup cache.dep 2 {}
lookup gone.dep 1 {\"EAI_NONAME\": 1}"
check "recorded dependencies" "$want" "$got"
check_match "timestamps" '"first_seen":	"20[0-9-]+T[0-9:.]+Z"' "$(cat "$REC")"

# live: chaos-ctl PID deps, without --record (no byte counts), with injected errors counted
mkfifo "$T/in"
: >"$T/out" # (the service opens it only once the fifo has a writer)
"$CHAOS_EXEC" --log /dev/null -f "127.0.0.1:$EP refuse count=1" -- "$NETPROBE" serve 127.0.0.1 "$EP" <"$T/in" >"$T/out" &
EXEC=$!
PIDS="$PIDS $EXEC"
exec 7>"$T/in"
echo go >&7
echo go >&7
i=0
while [ "$(wc -l <"$T/out")" -lt 2 ]; do i=$((i + 1)); [ $i -lt 300 ] || fail "service did not answer"; sleep 0.01; done
SVC=$(pgrep -P "$EXEC")
got=$("$CHAOS_CTL" --json "$SVC" deps | python3 -c '
import json, sys
for d in json.load(sys.stdin)["dependencies"]:
    print(d["host"], d["port"], d["connections"], d["bytes_sent"], json.dumps(d["errors"]))')
check "live deps" "127.0.0.1 $EP 2 None {\"ECONNREFUSED\": 1}" "$got"
check_match "live deps, human" "^HOST +PROTO +PORT" "$("$CHAOS_CTL" "$SVC" deps)"

# kill -9 chaos-exec: its channel is not listed again, and its files are removed
SOCK=$(tr '\0' '\n' </proc/"$SVC"/environ | sed -n 's/^CHAOS_CTL=//p')
SHM=$(tr '\0' '\n' </proc/"$SVC"/environ | sed -n 's/^CHAOS_SHM=//p')
kill -9 "$EXEC"
wait "$EXEC" 2>/dev/null || true
[ -e "$SOCK" ] || fail "the socket went before chaos-ctl list could clean it up (test assumption)"
got=$("$CHAOS_CTL" --json list | python3 -c "import json,sys; print([p['pid'] for p in json.load(sys.stdin)['processes'] if p['exec_pid'] == $EXEC])")
check "dead chaos-exec not listed" "[]" "$got"
[ ! -e "$SOCK" ] && [ ! -e "$SHM" ] || fail "stale channel files left: $SOCK $SHM"
PASSED=$((PASSED + 1))
exec 7>&-
done_ok
