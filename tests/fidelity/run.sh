#!/bin/sh
# run.sh -- fidelity: what each client sees under an injected outage, next to the real outage
# made on this machine
#
# Real outages, in a network namespace of the test's own:
#   blackhole   an nftables rule drops the SYNs to a port (the input hook, so nothing is told)
#   stall       a server that accepts and never reads or answers
#   delay       a server that really answers late (the peer and HTTP servers sleep; redis-server
#               runs DEBUG SLEEP)
#   dns=timeout name servers whose queries nftables drops, named in a resolv.conf of the
#               namespace's own (a private mount)
# Injected ones: chaos-exec with the rule, against servers that answer at once.  Both runs go
# through chaos-exec (the real one with a rule for another port), so what they cost is the same.
# Clients: curl, python3 (blocking with settimeout; asyncio with wait_for), node (net with
# setTimeout; http with a timeout), redis-cli against a real redis-server.
#
# A case passes when the client saw the same outcome (exit status, error, exception, message;
# numbers in messages, such as ports and milliseconds, aside) and the times agree within 5% of
# the real one or 5 ms, whichever is larger (the bound used is printed with each case).
# Times are measured by the clients themselves (curl's time_total, the scripts' clocks), except
# for redis-cli, timed from outside.  The table goes to stdout and $BUILD/fidelity/results.txt.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

# ---- the clients: each prints "OUTCOME MS" --------------------------------------------------------

ms_of() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 + 0.5 }'; }

# client NAME FAULT PORT [ARGS]: run client NAME against 127.0.0.1:PORT for the kind of fault
client() {
	name=$1 fault=$2 port=$3
	case "$name" in
	curl)
		case "$fault" in
		blackhole) opts="--connect-timeout 1 --max-time 3" ;;
		stall | delay-long) opts="--max-time 1" ;;
		*) opts="--max-time 3" ;;
		esac
		set +e
		out=$(curl -sS $opts -o /dev/null -w '%{http_code} %{time_total}' \
			"http://127.0.0.1:$port/" 2>"$T/curl.err.$$.$port")
		rc=$?
		set -e
		msg=$(sed 's/^curl: ([0-9]*) //; s/[0-9][0-9]*/N/g' "$T/curl.err.$$.$port" | head -1)
		echo "exit=$rc code=${out% *} ${msg:-ok} $(ms_of "${out#* }")"
		;;
	py-blocking) python3 "$HERE/pyclient.py" blocking 127.0.0.1 "$port" 1 ;;
	py-asyncio) python3 "$HERE/pyclient.py" asyncio 127.0.0.1 "$port" 1 ;;
	node-net) node "$HERE/nodeclient.js" net 127.0.0.1 "$port" 1000 ;;
	node-http) node "$HERE/nodeclient.js" http 127.0.0.1 "$port" 1000 ;;
	redis-cli)
		s=$(date +%s%N)
		set +e
		out=$(timeout 1 redis-cli -p "$port" $4 2>&1)
		rc=$?
		set -e
		e=$((($(date +%s%N) - s) / 1000000))
		echo "exit=$rc $(echo "$out" | tr '\n' ' ' | sed 's/[0-9][0-9]*/N/g')$e"
		;;
	esac
}

# The clients run under chaos-exec, which runs this script again for them.
if [ "${1:-}" = "--client" ]; then
	shift
	client "$@"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "$0: the fidelity tests make a network namespace and nftables rules: they need root" \
		"(CI runs them as root)" >&2
	exit 1
fi
for tool in ip nft curl python3 node redis-server redis-cli unshare; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/deps.sh)" >&2; exit 1; }
done

if [ -z "${FIDELITY_NS:-}" ]; then
	NS=chaosfid$$
	ip netns add "$NS"
	trap 'ip netns del "$NS" 2>/dev/null' EXIT INT TERM
	ip netns exec "$NS" ip link set lo up
	# a private mount namespace too, for the resolv.conf of the DNS case
	rc=0
	FIDELITY_NS=$NS ip netns exec "$NS" unshare -m sh "$0" "$@" || rc=$?
	exit $rc
fi

# ---- inside the namespace ----------------------------------------------------------------------
mount --make-rprivate / 2>/dev/null || true
T=$(mktemp -d "${TMPDIR:-/tmp}/chaos-fidelity.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
CHAOS_EXEC="$BUILD/chaos-exec"
SERVERS="$ROOT/tests/integration/servers.py"
mkdir -p "$BUILD/fidelity"
RESULTS="$BUILD/fidelity/results.txt"

srv() { # VAR KIND [ARGS]: a servers.py server; VAR gets its port
	var=$1
	kind=$2
	shift 2
	pf="$T/port.$var"
	python3 "$SERVERS" "$kind" "$pf" "$@" >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$pf" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "server $kind did not start" >&2; exit 1; }
		sleep 0.02
	done
	eval "$var=\$(cat \"\$pf\")"
}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

DELAY=300
srv PEER peer
srv SLOWPEER peer $DELAY
srv SLOWPEER2 peer 1500
srv SILENT peer 0 silent
srv HTTP http
srv SLOWHTTP slowhttp $DELAY
srv SLOWHTTP2 slowhttp 1500
REDIS=$(freeport)
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --enable-debug-command yes \
	>"$T/redis.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until redis-cli -p "$REDIS" ping >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 200 ] || { echo "redis-server did not start" >&2; exit 1; }; sleep 0.02
done
# the real black hole: SYNs to this port are dropped on arrival
BH=$(freeport)
nft add table inet chaosfid
nft add chain inet chaosfid in '{ type filter hook input priority 0; }'
nft add rule inet chaosfid in tcp dport "$BH" 'tcp flags & (syn | ack) == syn' drop
nft add rule inet chaosfid in udp dport 53 drop

# ---- one case: the real outage, then the injected one ------------------------------------------

SELF="$HERE/run.sh"
under() { # RULE CLIENT FAULT PORT [ARG]: one client run under chaos-exec with RULE
	"$CHAOS_EXEC" --log "$T/faults.log" -f "$1" -- env T="$T" sh "$SELF" --client "$2" "$3" "$4" \
		"${5:-}"
}

# verdict REAL INJ: PASS, FAIL(outcome), FAIL(time) or both; sets BOUND (ms) and DIFF
verdict() {
	rw=${1% *} rt=${1##* } iw=${2% *} it=${2##* }
	BOUND=$((rt * 5 / 100))
	[ $BOUND -ge 5 ] || BOUND=5
	DIFF=$((it - rt))
	v=PASS
	[ "$rw" = "$iw" ] || v="FAIL(outcome)"
	[ "${DIFF#-}" -le $BOUND ] || v="${v%PASS}FAIL(time)"
	echo "$v"
}

cases=0
one() { # NAME CLIENT FAULT REAL_PORT REAL_ARG INJ_PORT INJ_ARG RULE
	name=$1 cl=$2 fault=$3 rp=$4 ra=$5 ip=$6 ia=$7
	{
		# times that disagree are measured again (three tries in all): a loaded machine's
		# scheduling is not a verdict; an outcome that differs is never tried again
		for try in 1 2 3; do
			under '127.0.0.1:1 refuse' "$cl" "$fault" "$rp" "$ra" >"$T/real.$name"
			under "$8" "$cl" "$fault" "$ip" "$ia" >"$T/inj.$name"
			echo "$try" >"$T/tries.$name"
			[ "$(verdict "$(cat "$T/real.$name")" "$(cat "$T/inj.$name")")" = "FAIL(time)" ] ||
				break
		done
	} &
	JOBS="$JOBS $!"
	cases=$((cases + 1))
	echo "$name" >>"$T/cases"
	if [ $((cases % 4)) -eq 0 ]; then
		for j in $JOBS; do wait "$j" || true; done
		JOBS=""
	fi
}
JOBS=""

for cl in curl py-blocking py-asyncio node-net node-http redis-cli; do
	case "$cl" in
	curl | node-http) fast=$HTTP slow=$SLOWHTTP slow2=$SLOWHTTP2 ;;
	redis-cli) fast=$REDIS slow=$REDIS slow2=$REDIS ;;
	*) fast=$PEER slow=$SLOWPEER slow2=$SLOWPEER2 ;;
	esac
	arg=ping
	one "$cl.blackhole" "$cl" blackhole "$BH" "$arg" "$fast" "$arg" "127.0.0.1:$fast blackhole"
	one "$cl.stall" "$cl" stall "$SILENT" "$arg" "$fast" "$arg" "127.0.0.1:$fast stall"
	if [ "$cl" = redis-cli ]; then
		one "$cl.delay" "$cl" delay "$REDIS" "debug sleep 0.3" "$REDIS" "debug sleep 0" \
			"127.0.0.1:$REDIS delay=${DELAY}ms on=recv"
	else
		one "$cl.delay" "$cl" delay "$slow" "$arg" "$fast" "$arg" "127.0.0.1:$fast delay=${DELAY}ms on=recv"
		one "$cl.delay>timeout" "$cl" delay-long "$slow2" "$arg" "$fast" "$arg" \
			"127.0.0.1:$fast delay=1500ms on=recv"
	fi
done
for j in $JOBS; do wait "$j" || true; done

# ---- dns=timeout: glibc's resolver against servers that never answer ------------------------------
printf 'nameserver 10.250.0.1\nnameserver 10.250.0.2\noptions timeout:1 attempts:1\n' >"$T/resolv.conf"
ip addr add 10.250.0.9/24 dev lo
mount --bind "$T/resolv.conf" /etc/resolv.conf
cat >"$T/gai.py" <<'PY'
import socket, time
t = time.monotonic()
try:
    socket.getaddrinfo("api.example", 80)
    print("ok", round((time.monotonic() - t) * 1000))
except socket.gaierror as e:
    print("gaierror", e.errno, e.strerror, round((time.monotonic() - t) * 1000))
PY
"$CHAOS_EXEC" --log /dev/null -f '127.0.0.1:1 refuse' -- python3 "$T/gai.py" >"$T/real.py-getaddrinfo.dns=timeout" &
j1=$!
"$CHAOS_EXEC" --log /dev/null -f 'api.example dns=timeout' -- python3 "$T/gai.py" >"$T/inj.py-getaddrinfo.dns=timeout" &
j2=$!
wait $j1 $j2 || true
echo "py-getaddrinfo.dns=timeout" >>"$T/cases"

# ---- the verdicts ----------------------------------------------------------------------------------
failed=0
{
	printf '%-26s %-50s %-50s %7s %7s %s\n' "case" "real" "injected" "diff ms" "bound" "verdict"
	while read -r name; do
		r=$(cat "$T/real.$name" 2>/dev/null || echo "none 0")
		i=$(cat "$T/inj.$name" 2>/dev/null || echo "none 0")
		v=$(verdict "$r" "$i")
		rt=${r##* } it=${i##* }
		BOUND=$((rt * 5 / 100))
		[ $BOUND -ge 5 ] || BOUND=5
		bound="5ms"
		[ $BOUND -eq 5 ] || bound="5%=${BOUND}ms"
		tries=$(cat "$T/tries.$name" 2>/dev/null || echo 1)
		[ "$tries" = 1 ] || v="$v (try $tries)"
		printf '%-26s %-50.50s %-50.50s %+7d %7s %s\n' "$name" "$r" "$i" $((it - rt)) "$bound" "$v"
	done <"$T/cases"
} | tee "$RESULTS"
grep -q FAIL "$RESULTS" && failed=1 || true
cp "$T/faults.log" "$BUILD/fidelity/faults.log" 2>/dev/null || true
if [ $failed -ne 0 ]; then
	echo "FAIL [fidelity] see above (and $T/faults.log)" >&2
	exit 1
fi
echo "  PASS    fidelity ($(wc -l <"$T/cases") cases; table in $RESULTS)"
