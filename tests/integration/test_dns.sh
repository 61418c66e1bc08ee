#!/bin/sh
# test_dns.sh -- getaddrinfo, gethostbyname(2)(_r) and getnameinfo under dns= rules
. "$(dirname "$0")/lib.sh"

LOG="$T/faults.log"
X() { "$CHAOS_EXEC" --log "$LOG" "$@"; }

# name -> a local fake, through every lookup call
check "gai fake" "ok 127.0.0.7" "$(X -f 'db.local dns=127.0.0.7' -- "$NETPROBE" gai db.local)"
check "gai fake v6" "ok ::1" "$(X -f 'db.local dns=[::1]' -- "$NETPROBE" gai db.local)"
check "ghbn fake" "ok 127.0.0.7" "$(X -f 'db.local dns=127.0.0.7' -- "$NETPROBE" ghbn db.local)"
check "ghbn2 fake" "ok 127.0.0.7" "$(X -f 'db.local dns=127.0.0.7' -- "$NETPROBE" ghbn2 db.local)"
check "ghbn_r fake" "ok 127.0.0.7" "$(X -f 'db.local dns=127.0.0.7' -- "$NETPROBE" ghbn_r db.local)"
check "ghbn v6 fake" "NO_DATA" "$(X -f 'db.local dns=::1' -- "$NETPROBE" ghbn db.local)"

# NXDOMAIN and SERVFAIL, as glibc reports them
check "gai nxdomain" EAI_NONAME "$(X -f 'db.local dns=nxdomain' -- "$NETPROBE" gai db.local)"
check "gai servfail" EAI_AGAIN "$(X -f 'db.local dns=servfail' -- "$NETPROBE" gai db.local)"
check "ghbn nxdomain" HOST_NOT_FOUND "$(X -f 'db.local dns=nxdomain' -- "$NETPROBE" ghbn db.local)"
check "ghbn servfail" TRY_AGAIN "$(X -f 'db.local dns=servfail' -- "$NETPROBE" ghbn db.local)"
check "ghbn_r nxdomain" "HOST_NOT_FOUND rc=0" "$(X -f 'db.local dns=nxdomain' -- "$NETPROBE" ghbn_r db.local)"
check "ghbn_r servfail" "TRY_AGAIN rc=11" "$(X -f 'db.local dns=servfail' -- "$NETPROBE" ghbn_r db.local)"

# a failure wins over an answer, whatever the order
check "failure before answer" EAI_NONAME "$(X -f 'db.local dns=127.0.0.7' -f 'db.local dns=nxdomain' -- "$NETPROBE" gai db.local)"
check "answer when the failure does not fire" "ok 127.0.0.7" "$(X -f 'db.local dns=127.0.0.7' -f 'db.local dns=nxdomain p=0' -- "$NETPROBE" gai db.local)"

# globs, case, trailing dot; other names and numeric hosts untouched
check "glob" EAI_NONAME "$(X -f '*.internal dns=nxdomain' -- "$NETPROBE" gai Cache.Prod.INTERNAL.)"
check "glob other" "ok 127.0.0.1" "$(X -f '*.internal dns=nxdomain' -- "$NETPROBE" gai localhost)"
check "numeric" "ok 127.0.0.1" "$(X -f '* dns=nxdomain' -- "$NETPROBE" gai 127.0.0.1)"
check "star spares localhost" "ok 127.0.0.1" "$(X -f '* dns=nxdomain' -- "$NETPROBE" gai localhost)"
check "named localhost" EAI_NONAME "$(X -f 'localhost dns=nxdomain' -- "$NETPROBE" gai localhost)"

# a fake answers reverse lookups with its name; a failed name does not resolve back
check "gni fake" "ok db.local" "$(X -f 'db.local dns=127.0.0.7' -- sh -c "$NETPROBE gai db.local >/dev/null; $NETPROBE gni 127.0.0.7")"
check "gni untouched" "ok localhost" "$(X -f 'db.local dns=127.0.0.7' -- "$NETPROBE" gni 127.0.0.1)"

# the name a fake answered is the name the connect rules see
start_server PORT echo
check "fake + refuse" ECONNREFUSED "$(X -f 'db.local dns=127.0.0.1' -f "db.local:$PORT refuse" -- "$NETPROBE" connect db.local "$PORT")"
check "fake + other port" ok "$(X -f 'db.local dns=127.0.0.1' -f "db.local:1 refuse" -- "$NETPROBE" connect db.local "$PORT")"
check "name rule, address never resolved" ok "$(X -f "db.local:$PORT refuse" -- "$NETPROBE" connect 127.0.0.1 "$PORT")"
line=$(grep '"call":"connect"' "$LOG" | head -1)
check_match "connect log names the host" '"dest":"127\.0\.0\.1:[0-9]+","host":"db\.local"' "$line"
line=$(grep '"call":"getaddrinfo"' "$LOG" | grep nxdomain | head -1)
check_match "dns log" '"call":"getaddrinfo","dest":"db\.local","host":"db\.local","rule_id":1,"rule":"db\.local dns=nxdomain","action":"dns","result":"EAI_NONAME"' "$line"

# triggers apply to lookups too
got=$(X --seed 1 -f 'db.local dns=nxdomain count=2' -- sh -c "for i in 1 2 3 4; do $NETPROBE gai db.local; done" | tr '\n' ' ')
check "dns count=2 (per process)" "EAI_NONAME EAI_NONAME EAI_NONAME EAI_NONAME " "$got"
cat >"$T/gai4.py" <<'PY'
import socket
out = []
for i in range(4):
    try:
        socket.getaddrinfo("db.local", 80); out.append("ok")
    except socket.gaierror as e:
        out.append("EAI_NONAME" if e.errno == socket.EAI_NONAME else str(e.errno))
print(" ".join(out))
PY
check "dns count=2 skip=1 in one process" "ok EAI_NONAME EAI_NONAME ok" \
	"$(X -f 'db.local dns=nxdomain count=2 skip=1' -f 'db.local dns=127.0.0.1' -- python3 "$T/gai4.py")"
done_ok
