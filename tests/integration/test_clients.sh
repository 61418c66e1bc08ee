#!/bin/sh
# test_clients.sh -- real clients under chaos-exec: curl (http and TLS), python3 (blocking and
# asyncio), node, redis-cli against a real redis-server; and traffic no rule covers passes
# byte for byte.
. "$(dirname "$0")/lib.sh"

LOG="$T/faults.log"
X() { "$CHAOS_EXEC" --log "$LOG" "$@"; }

# ---- curl ------------------------------------------------------------------------------------
head -c 3000000 /dev/urandom >"$T/body"
start_server HP http "$T/body"
U="http://api.local:$HP/"
FAKE="api.local dns=127.0.0.1"

run_rc X -f "$FAKE" -f "api.local:$HP refuse" -- curl -sS "$U" -o /dev/null
check "curl refuse exit" 7 "$RC"
check_match "curl refuse message" "Failed to connect to api.local port $HP" "$OUT"
run_rc X -f "$FAKE" -f "api.local:$HP reset" -- curl -sS "$U" -o /dev/null
check "curl reset on request exit" 55 "$RC"
check_match "curl reset message" "Connection reset by peer" "$OUT"
run_rc X -f "$FAKE" -f "api.local:$HP reset bytes=100000" -- curl -sS "$U" -o /dev/null
check "curl reset in response exit" 56 "$RC"
check_match "curl recv reset message" "Recv failure: Connection reset by peer" "$OUT"
run_rc X -f "api.local dns=nxdomain" -- curl -sS "$U" -o /dev/null
check "curl nxdomain exit" 6 "$RC"
check_match "curl nxdomain message" "Could not resolve host: api.local" "$OUT"
run_rc X -f "api.local dns=servfail" -- curl -sS "$U" -o /dev/null
check "curl servfail exit" 6 "$RC"

# byte for byte: a rule for another destination (and io rules armed) changes nothing
X -f "$FAKE" -f "api.local:1 reset" -f "127.0.0.2 error=EPIPE on=send" -- curl -sS "$U" -o "$T/got"
cmp -s "$T/body" "$T/got" || fail "curl body differs under a rule for another destination"
PASSED=$((PASSED + 1))

# ---- curl over TLS, certificates untouched ------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj /CN=tls.local -addext subjectAltName=DNS:tls.local 2>/dev/null
TP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_bg openssl s_server -accept "127.0.0.1:$TP" -cert "$T/cert.pem" -key "$T/key.pem" -www -quiet >/dev/null 2>&1
i=0
until curl -s --cacert "$T/cert.pem" --resolve "tls.local:$TP:127.0.0.1" "https://tls.local:$TP/" -o /dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "openssl s_server did not start"; sleep 0.05
done
TU="https://tls.local:$TP/"
TLS="tls.local dns=127.0.0.1"
check "tls untouched" 200 "$(X -f "$TLS" -f "tls.local:1 refuse" -- curl -sS --cacert "$T/cert.pem" "$TU" -o /dev/null -w '%{http_code}')"
run_rc X -f "$TLS" -f "tls.local:$TP refuse" -- curl -sS --cacert "$T/cert.pem" "$TU" -o /dev/null
check "tls refuse exit" 7 "$RC"
run_rc X -f "$TLS" -f "tls.local:$TP reset" -- curl -sS --cacert "$T/cert.pem" "$TU" -o /dev/null
check "tls reset in handshake exit" 35 "$RC"
check_match "tls reset message" "Connection reset by peer" "$OUT"
run_rc X -f "$TLS" -f "tls.local:$TP reset bytes=2000" -- curl -sS --cacert "$T/cert.pem" "$TU" -o /dev/null
check_match "tls reset after handshake" "^(55|56)$" "$RC"

# ---- python3 ------------------------------------------------------------------------------------
start_server EP echo
cat >"$T/client.py" <<'PY'
import asyncio, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
def blocking():
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"x" * 100)
    got = b""
    while len(got) < 100:
        d = s.recv(100 - len(got))
        if not d:
            raise EOFError
        got += d
    return got
async def aio():
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    w.write(b"x" * 100)
    await w.drain()
    return await asyncio.wait_for(r.readexactly(100), 5)
out = []
for f in (blocking, lambda: asyncio.run(aio())):
    try:
        f()
        out.append("ok")
    except socket.gaierror as e:
        out.append("gaierror:" + ("EAI_NONAME" if e.errno == socket.EAI_NONAME else
                                  "EAI_AGAIN" if e.errno == socket.EAI_AGAIN else str(e.errno)))
    except OSError as e:
        out.append(type(e).__name__)
print(" ".join(out))
PY
PYF="echo.local dns=127.0.0.1"
check "python untouched" "ok ok" "$(X -f "$PYF" -- python3 "$T/client.py" echo.local "$EP")"
check "python refuse" "ConnectionRefusedError ConnectionRefusedError" \
	"$(X -f "$PYF" -f "echo.local:$EP refuse" -- python3 "$T/client.py" echo.local "$EP")"
check "python nxdomain" "gaierror:EAI_NONAME gaierror:EAI_NONAME" \
	"$(X -f "echo.local dns=nxdomain" -- python3 "$T/client.py" echo.local "$EP")"
check "python servfail" "gaierror:EAI_AGAIN gaierror:EAI_AGAIN" \
	"$(X -f "echo.local dns=servfail" -- python3 "$T/client.py" echo.local "$EP")"
check "python reset" "ConnectionResetError ConnectionResetError" \
	"$(X -f "$PYF" -f "echo.local:$EP reset" -- python3 "$T/client.py" echo.local "$EP")"
check "python reset in answer" "ConnectionResetError ConnectionResetError" \
	"$(X -f "$PYF" -f "echo.local:$EP reset bytes=150" -- python3 "$T/client.py" echo.local "$EP")"
check "python timeout errno" "TimeoutError TimeoutError" \
	"$(X -f "$PYF" -f "echo.local:$EP error=ETIMEDOUT" -- python3 "$T/client.py" echo.local "$EP")"

# ---- node -----------------------------------------------------------------------------------------
cat >"$T/client.js" <<'JS'
const net = require('net'), dns = require('dns');
const [host, port] = process.argv.slice(2);
const res = [];
const done = () => { if (res.length === 2) console.log(res.join(' ')); };
dns.lookup(host, (e) => { res[0] = e ? e.code : 'ok'; done(); });
const s = net.connect(+port, host);
s.on('connect', () => s.write('x'.repeat(100)));
s.on('data', () => { res[1] = 'ok'; s.destroy(); done(); });
s.on('error', (e) => { res[1] = e.code; done(); });
JS
check "node untouched" "ok ok" "$(X -f "$PYF" -- node "$T/client.js" echo.local "$EP")"
check "node refuse" "ok ECONNREFUSED" "$(X -f "$PYF" -f "echo.local:$EP refuse" -- node "$T/client.js" echo.local "$EP")"
check "node nxdomain" "ENOTFOUND ENOTFOUND" "$(X -f "echo.local dns=nxdomain" -- node "$T/client.js" echo.local "$EP")"
check "node reset" "ok ECONNRESET" "$(X -f "$PYF" -f "echo.local:$EP reset" -- node "$T/client.js" echo.local "$EP")"

# ---- redis-cli against a real redis-server --------------------------------------------------------
RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_bg redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no >"$T/redis.log" 2>&1
i=0
until redis-cli -p "$RP" ping >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "redis-server did not start"; sleep 0.05
done
check "redis untouched" PONG "$(X -f "127.0.0.1:1 refuse" -- redis-cli -p "$RP" ping)"
run_rc X -f "127.0.0.1:$RP refuse" -- redis-cli -p "$RP" ping
check "redis refuse" "Could not connect to Redis at 127.0.0.1:$RP: Connection refused" "$OUT"
run_rc X -f "127.0.0.1:$RP reset" -- redis-cli -p "$RP" ping
check "redis reset" "Error: Connection reset by peer" "$OUT"
run_rc X -f "redis.local dns=nxdomain" -- redis-cli -h redis.local -p "$RP" ping
check_match "redis nxdomain" "Could not connect to Redis at redis.local:$RP: (Name or service not known|Temporary failure)" "$OUT"
done_ok
