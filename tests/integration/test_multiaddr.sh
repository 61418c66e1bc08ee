#!/bin/sh
# test_multiaddr.sh -- a host name with several addresses (IPv4 and IPv6) is refused on all
#
# The name comes from a private /etc/hosts bind-mounted in a mount namespace of our own, so the
# machine's resolver is untouched.  curl and node race both addresses (happy eyeballs).
. "$(dirname "$0")/lib.sh"

LOG="$T/faults.log"
if ! unshare -m true 2>/dev/null; then
	fail "unshare -m is not permitted here (the test needs a private /etc/hosts)"
fi
printf '127.0.0.1 localhost\n127.0.0.1 multi.test\n::1 multi.test\n' >"$T/hosts"
start_server EP echo both

# run CMD with the private hosts file
H() {
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T/hosts" "$@"
}

check "resolves to both" "ok ::1 127.0.0.1" "$(H "$NETPROBE" gai multi.test)"
check "v4 untouched" ok "$(H "$NETPROBE" connect 127.0.0.1 "$EP")"
check "v6 untouched" ok "$(H "$NETPROBE" connect ::1 "$EP")"

# curl tries every address, and every one is refused (curl hangs at start-up under an
# LD_PRELOADed ASan runtime, with or without us: the sanitizer pass leaves it out)
if [ -z "${SAN_PRELOAD:-}" ]; then
run_rc H "$CHAOS_EXEC" --log "$LOG" -f "multi.test:$EP refuse" -- curl -sS "http://multi.test:$EP/" -o /dev/null
check "curl refused" 7 "$RC"
check "curl: both addresses refused" 2 "$(count_log "$LOG" '"action":"refuse"')"
check "curl: v4 logged" 1 "$(count_log "$LOG" "\"dest\":\"127.0.0.1:$EP\",\"host\":\"multi.test\"")"
check "curl: v6 logged" 1 "$(count_log "$LOG" "\"dest\":\"\\[::1\\]:$EP\",\"host\":\"multi.test\"")"
fi

# python's create_connection walks the list too
: >"$LOG"
cat >"$T/c.py" <<'PY'
import socket, sys
try:
    socket.create_connection(("multi.test", int(sys.argv[1])), timeout=5); print("ok")
except OSError as e:
    print(type(e).__name__)
PY
check "python refused" ConnectionRefusedError "$(H "$CHAOS_EXEC" --log "$LOG" -f "multi.test refuse" -- python3 "$T/c.py" "$EP")"
check "python: both addresses" 2 "$(count_log "$LOG" '"action":"refuse"')"

# node's autoSelectFamily races both
: >"$LOG"
cat >"$T/c.js" <<'JS'
const net = require('net');
const s = net.connect({ host: 'multi.test', port: +process.argv[2], autoSelectFamily: true });
s.on('connect', () => { console.log('ok'); s.destroy(); });
s.on('error', (e) => console.log(e.code || (e.errors && e.errors[0].code)));
JS
check "node refused" ECONNREFUSED "$(H "$CHAOS_EXEC" --log "$LOG" -f "multi.test:$EP refuse" -- node "$T/c.js" "$EP")"
check "node: both addresses" 2 "$(count_log "$LOG" '"action":"refuse"')"

# another name on the same machine is not touched
check "other name" ok "$(H "$CHAOS_EXEC" --log "$LOG" -f "other.test refuse" -- "$NETPROBE" connect multi.test "$EP")"
done_ok
