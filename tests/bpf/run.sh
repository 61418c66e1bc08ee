#!/bin/bash
# run.sh -- chaos-attach's integration tests: real clients (a static C binary, a Go binary,
# Python) against servers on loopback, as root; exact errnos, timings with bounds.
#
#   O=build tests/bpf/run.sh [SECTION...]      (sections: clients connect udp bandwidth triggers
#                                               log pid cgroup container dns names kill rules
#                                               refusals)
set -eu
. "$(dirname "$0")/lib.sh"

SECTIONS=${*:-clients connect udp bandwidth triggers log pid cgroup container dns names kill rules refusals}
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }
section() { printf '%s\n' "-- $1"; }

start_peer
set +e # from here a failing command is a failed check, reported, not the end of the run

# target HOST: the rule target for a client's HOST (an IPv4-mapped address is an IPv4 one)
target() {
	case $1 in
	::ffff:*) echo "${1#::ffff:}:$PORT" ;;
	*:*) echo "[$1]:$PORT" ;;
	*) echo "$1:$PORT" ;;
	esac
}

# ---- static C and Go clients: refuse, blackhole, stall, over IPv4, IPv6 and IPv4-mapped ----------
if want clients; then
	section "static C and Go clients: refuse, blackhole, stall"
	for cl in client goclient; do
		bin=$B/tests/bpf/$cl
		for host in 127.0.0.1 ::1 ::ffff:127.0.0.1; do
			t=$(target "$host")
			out=$("$ATTACH" -f "$t refuse" -- "$bin" connect "$host" "$PORT" 500)
			check "$cl refuse $host: ECONNREFUSED at once" "$out" '^connect ECONNREFUSED [0-9]{1,2}$'
			out=$("$ATTACH" -f "$t blackhole" -- "$bin" connect "$host" "$PORT" 500)
			check "$cl blackhole $host: connect hangs" "$out" '^connect TIMEOUT '
			within "$cl blackhole $host: until the client's 500 ms timeout" "$(field 3 "$out")" 480 900
			out=$("$ATTACH" -f "$t stall" -- "$bin" rr "$host" "$PORT" 500)
			check "$cl stall $host: connects, the answer never comes" "$out" '^recv TIMEOUT '
			within "$cl stall $host: until the client's 500 ms timeout" "$(field 3 "$out")" 480 900
			out=$("$ATTACH" -f "$(target "$host" | sed "s/:$PORT\$/:$SINK/") stall" -- \
				"$bin" rr "$host" "$PORT" 500)
			check "$cl $host: a rule for another port leaves it alone" "$out" '^rr ok [0-9]{1,3}$'
		done
	done
fi

# ---- connect: errnos, delays, timeouts ------------------------------------------------------
if want connect; then
	section "connect: errno, delay, blackhole timeout, loss"
	out=$("$ATTACH" -f "127.0.0.1:$PORT refuse" -- "$CLIENT" nbconnect 127.0.0.1 "$PORT")
	check "refuse, non-blocking: EINPROGRESS, then ECONNREFUSED (a real reset)" "$out" \
		'^connect EINPROGRESS [0-9]+ error ECONNREFUSED [0-9]{1,2}$'
	out=$("$ATTACH" -f "[::1]:$PORT refuse" -- "$CLIENT" nbconnect ::1 "$PORT")
	check "refuse, non-blocking, IPv6" "$out" '^connect EINPROGRESS [0-9]+ error ECONNREFUSED '
	out=$("$ATTACH" -f "[::1]:$PORT error=EHOSTUNREACH" -- "$CLIENT" connect ::1 "$PORT")
	check "error=EHOSTUNREACH on IPv6" "$out" '^connect EHOSTUNREACH [0-9]{1,2}$'
	out=$("$ATTACH" -f "127.0.0.0/8 error=ENETUNREACH" -- "$CLIENT" connect 127.0.0.9 "$PORT")
	check "a CIDR block: error=ENETUNREACH" "$out" '^connect ENETUNREACH '
	out=$("$ATTACH" -f "127.0.0.1:$PORT-$SINK error=ETIMEDOUT" -- "$CLIENT" connect 127.0.0.1 "$SINK")
	check "a port range: error=ETIMEDOUT" "$out" '^connect ETIMEDOUT '
	out=$("$ATTACH" -f "tcp:127.0.0.1:$PORT delay=300ms on=connect" -- "$CLIENT" connect 127.0.0.1 "$PORT" 2000)
	check "delay=300ms on=connect: connects" "$out" '^connect ok '
	within "delay=300ms on=connect: after 300 ms (4 ms ticks)" "$(field 3 "$out")" 298 420
	out=$("$ATTACH" -f "127.0.0.1:$PORT delay=200ms jitter=100ms on=connect" -- "$CLIENT" connect 127.0.0.1 "$PORT" 2000)
	within "delay=200ms jitter=100ms: between 100 and 300 ms" "$(field 3 "$out")" 98 420
	out=$("$ATTACH" -f "127.0.0.1:$PORT blackhole timeout=300ms" -- "$CLIENT" connect 127.0.0.1 "$PORT" 2000)
	check "blackhole timeout=300ms: ETIMEDOUT" "$out" '^connect ETIMEDOUT '
	within "blackhole timeout=300ms: after 300 ms" "$(field 3 "$out")" 298 450
	out=$("$ATTACH" -f "127.0.0.1:$PORT blackhole timeout=1500ms" -- "$CLIENT" connect 127.0.0.1 "$PORT" 3000)
	within "blackhole timeout=1500ms: after 1.5 s (past the first SYN retry)" "$(field 3 "$out")" 1498 1700
	out=$("$ATTACH" -f "127.0.0.1:$PORT loss=1" -- "$CLIENT" connect 127.0.0.1 "$PORT" 500)
	check "loss=1: no SYN gets through" "$out" '^connect TIMEOUT '
fi

# ---- UDP ---------------------------------------------------------------------------------------------
udp_count() {
	kill -USR1 "$PEER_PID"
	local n=$(( $(grep -c '^udp ' "$T/peer.out") + 1 ))
	wait_for "$T/peer.out" "^udp " 2 >/dev/null
	for _ in $(seq 100); do
		[ "$(grep -c '^udp ' "$T/peer.out")" -ge "$n" ] && break
		sleep 0.02
	done
	grep '^udp ' "$T/peer.out" | tail -1 | awk '{ print $2 }'
}

if want udp; then
	section "UDP: refuse and error= on sends, blackhole, loss"
	out=$("$ATTACH" -f "udp:127.0.0.1:$PORT refuse" -- "$CLIENT" udp 127.0.0.1 "$PORT" sendto)
	check "refuse: sendto fails with ECONNREFUSED" "$out" '^send ECONNREFUSED [0-9]+ send ECONNREFUSED [0-9]+$'
	out=$("$ATTACH" -f "udp:127.0.0.1:$PORT refuse" -- "$CLIENT" udp 127.0.0.1 "$PORT" connect)
	check "refuse, connected socket: dropped, send fails with EPERM" "$out" \
		'^connect ok [0-9]+ send EPERM [0-9]+ send EPERM [0-9]+$'
	out=$("$ATTACH" -f "udp:[::1]:$PORT refuse" -- "$CLIENT" udp ::1 "$PORT" connect)
	check "refuse, connected, IPv6" "$out" '^connect ok [0-9]+ send EPERM [0-9]+ send EPERM [0-9]+$'
	out=$("$ATTACH" -f "udp:127.0.0.1:$PORT error=EHOSTUNREACH on=send" -- "$CLIENT" udp 127.0.0.1 "$PORT" sendto)
	check "error=EHOSTUNREACH on=send: sendto" "$out" '^send EHOSTUNREACH [0-9]+ send EHOSTUNREACH [0-9]+$'
	out=$("$ATTACH" -f "udp:[::1]:$PORT error=EHOSTUNREACH on=send" -- "$CLIENT" udp ::1 "$PORT" sendto)
	check "error=EHOSTUNREACH on=send: sendto, IPv6" "$out" '^send EHOSTUNREACH [0-9]+ send EHOSTUNREACH'
	out=$("$ATTACH" -f "udp:127.0.0.1:$PORT error=EHOSTUNREACH on=send" -- "$CLIENT" udp 127.0.0.1 "$PORT" connect)
	check "error= on=send, connected socket: EPERM (what a packet hook can give)" "$out" \
		'^connect ok [0-9]+ send EPERM [0-9]+ send EPERM [0-9]+$'
	out=$("$ATTACH" -f "udp:127.0.0.1:$PORT error=ENETUNREACH" -- "$CLIENT" udp 127.0.0.1 "$PORT" connect)
	check "error= on=connect: UDP connect fails" "$out" '^connect ENETUNREACH '
	udp_count >/dev/null
	out=$("$ATTACH" -f "udp:127.0.0.1:$PORT blackhole" -- "$CLIENT" udp 127.0.0.1 "$PORT" sendto)
	check "blackhole: sends succeed" "$out" '^send ok [0-9]+ send ok [0-9]+$'
	check "blackhole: nothing arrives" "$(udp_count)" '^0$'
	"$ATTACH" -f "udp:127.0.0.1:$PORT loss=0.5" -- "$CLIENT" udp 127.0.0.1 "$PORT" sendto 400 >/dev/null
	within "loss=0.5: about half of 400 datagrams arrive" "$(udp_count)" 140 260
	"$ATTACH" -f "udp:127.0.0.1:$SINK loss=1" -- "$CLIENT" udp 127.0.0.1 "$PORT" sendto 400 >/dev/null
	within "loss on another port: all 400 arrive" "$(udp_count)" 400 400
fi

# ---- bandwidth -----------------------------------------------------------------------------------
if want bandwidth; then
	section "bandwidth"
	out=$("$CLIENT" bulk 127.0.0.1 "$SINK" 1000000 2>/dev/null)
	check "1 MB to the sink, no rule" "$out" '^bulk ok '
	within "1 MB to the sink, no rule: fast" "$(field 3 "$out")" 0 300
	# pacing goes by TCP segment, and loopback's are 64 KB: the first 500 KB or so leave at once
	out=$("$ATTACH" -f "127.0.0.1:$SINK bandwidth=1MB/s" -- "$CLIENT" bulk 127.0.0.1 "$SINK" 2000000 2>/dev/null)
	check "bandwidth=1MB/s: 2 MB arrive" "$out" '^bulk ok '
	within "bandwidth=1MB/s: 2 MB take 1.5 s (a 0.5 MB burst, then 1 MB/s)" "$(field 3 "$out")" 1200 2300
	SOURCE=$((PORT + 2))
	out=$("$CLIENT" download 127.0.0.1 "$SOURCE" 600000 2>/dev/null)
	within "600 KB from the source, no rule: fast" "$(field 3 "$out")" 0 300
	# receiving is policed: beyond a 128 KB burst, packets over the rate are dropped and the
	# sender backs off, so the rate is an upper bound (1.17 s at exactly 400 KB/s)
	out=$("$ATTACH" -f "127.0.0.1:$SOURCE bandwidth=400KB/s" -- "$CLIENT" download 127.0.0.1 "$SOURCE" 600000 2>/dev/null)
	check "bandwidth=400KB/s: 600 KB arrive" "$out" '^download ok '
	within "bandwidth=400KB/s: received at most at 400 KB/s" "$(field 3 "$out")" 1150 3000
fi

if want bandwidth; then
	# a connection from before the attach: paced and policed while attached, and given its
	# default pacing back at the detach (socket options would outlive the programs)
	cat >"$T/echo1m.py" <<-EOF
		import socket, sys, time
		s = socket.create_connection(("127.0.0.1", $PORT))
		def echo(n):
		    t = time.time()
		    s.sendall(b"x" * n)
		    got = 0
		    while got < n:
		        got += len(s.recv(65536))
		    return int((time.time() - t) * 1000)
		time.sleep(1)
		print(echo(1000000), flush=True)
		time.sleep(2.2)
		print(echo(1000000), flush=True)
	EOF
	bg python3 "$T/echo1m.py" >"$T/echo1m"
	PY=$LAST
	sleep 0.5
	"$ATTACH" --pid "$PY" --for 2s -f "127.0.0.1:$PORT bandwidth=1MB/s" 2>"$T/echo1m.err"
	wait "$PY"
	within "bandwidth=1MB/s on a connection from before: 1 MB each way, throttled" \
		"$(sed -n 1p "$T/echo1m")" 700 3000
	within "... and after the detach, at full speed again" "$(sed -n 2p "$T/echo1m")" 0 200
fi

# ---- triggers --------------------------------------------------------------------------------------
connects() { # N HOST PORT [SLEEP]: one outcome per connect
	local i
	for i in $(seq "$1"); do
		"$CLIENT" connect "$2" "$3" 500 | awk '{ printf "%s ", $2 }'
		[ -z "${4:-}" ] || sleep "$4"
	done
}
if want triggers; then
	section "triggers: count, skip, p, start, for"
	export -f connects
	export CLIENT
	out=$("$ATTACH" -f "127.0.0.1:$PORT refuse count=2" -- bash -c "connects 4 127.0.0.1 $PORT")
	check "count=2" "$out" '^ECONNREFUSED ECONNREFUSED ok ok $'
	out=$("$ATTACH" -f "127.0.0.1:$PORT refuse skip=1 count=1" -- bash -c "connects 3 127.0.0.1 $PORT")
	check "skip=1 count=1" "$out" '^ok ECONNREFUSED ok $'
	out=$("$ATTACH" -f "127.0.0.1:$PORT refuse start=300ms for=400ms" -- bash -c "connects 3 127.0.0.1 $PORT 0.4")
	check "start=300ms for=400ms: closed, open, closed" "$out" '^ok ECONNREFUSED ok $'
	a=$("$ATTACH" --seed 42 -f "127.0.0.1:$PORT refuse p=0.5" -- bash -c "connects 24 127.0.0.1 $PORT")
	b=$("$ATTACH" --seed 42 -f "127.0.0.1:$PORT refuse p=0.5" -- bash -c "connects 24 127.0.0.1 $PORT")
	check "p=0.5 --seed 42: the same calls fire again" "$b" "^$a\$"
	check "p=0.5: some fire, some do not" "$a" 'ECONNREFUSED.*ok|ok.*ECONNREFUSED'
	out=$("$ATTACH" -f "127.0.0.1:$PORT stall for=600ms" -- "$CLIENT" rr 127.0.0.1 "$PORT" 3000)
	check "stall for=600ms: the stalled exchange completes once the window ends" "$out" '^rr ok '
	within "stall for=600ms: by retransmission, soon after 600 ms" "$(field 3 "$out")" 550 1700
	# the first rule that fires wins; one that does not lets the next one try
	out=$("$ATTACH" -f "127.0.0.1:$PORT refuse count=1" -f "127.0.0.1 error=ETIMEDOUT" \
		-- bash -c "connects 2 127.0.0.1 $PORT")
	check "rules in order: the first that fires" "$out" '^ECONNREFUSED ETIMEDOUT $'
fi

# ---- the log -------------------------------------------------------------------------------------
if want log; then
	section "the fault log"
	"$ATTACH" --log "$T/log" -f "localhost:$PORT refuse" -- "$CLIENT" connect 127.0.0.1 "$PORT" >/dev/null
	line=$(head -1 "$T/log")
	check "one JSON line per fault, the preload's format, source bpf" "$line" \
		"^\{\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\",\"source\":\"bpf\",\"pid\":[1-9][0-9]*,\"tid\":[1-9][0-9]*,\"call\":\"connect\",\"dest\":\"127.0.0.1:$PORT\",\"host\":\"localhost\",\"rule_id\":1,\"rule\":\"localhost:$PORT refuse\",\"action\":\"refuse\",\"result\":\"ECONNREFUSED\"\}$"
	"$ATTACH" --log - -f "127.0.0.1:$PORT stall" -- "$CLIENT" rr 127.0.0.1 "$PORT" 200 >"$T/log2"
	check "--log -: to stdout" "$(grep -c '"result":"stalled"' "$T/log2")" '^1$'
fi

# ---- --pid: a running Python process; another one talking to the same server untouched ----------
if want pid; then
	section "--pid: a running Python process, and one beside it untouched"
	bg python3 "$ROOT/tests/bpf/pyloop.py" "$PORT" 50 >"$T/py1"
	P1=$LAST
	bg python3 "$ROOT/tests/bpf/pyloop.py" "$PORT" 50 >"$T/py2"
	P2=$LAST
	wait_for "$T/py1" 'old=ok new=ok' && wait_for "$T/py2" 'old=ok new=ok' ||
		bad "python clients" "did not start: $(cat "$T/py1" "$T/py2")"
	bg "$ATTACH" --pid "$P1" 2147483647 -f "127.0.0.1:$PORT stall" 2>"$T/pid.err"
	wait $LAST
	check "--pid P1 2147483647: each PID must exist" "$(cat "$T/pid.err")" '^chaos-attach: --pid 2147483647: no such process$'
	bg "$ATTACH" --pid "$P1" -f "127.0.0.1:$PORT stall" 2>"$T/pid.err"
	AP=$LAST
	wait_for "$T/pid.err" 'attached' || bad "--pid" "did not attach: $(cat "$T/pid.err")"
	if wait_for "$T/py1" 'old=TIMEOUT new=TIMEOUT' 5; then
		ok "--pid: its connection from before the attach and its new ones stall"
	else
		bad "--pid" "no stall: $(cat "$T/py1")"
	fi
	sleep 0.3
	check "--pid: the other process is untouched" "$(cat "$T/py2")" '^[0-9]+ old=ok new=ok$'
	kill -TERM "$AP"
	wait "$AP" && rc=0 || rc=$?
	check "--pid: SIGTERM detaches, exit 0" "$rc $(cat "$T/pid.err")" \
		'^0 .*detached \(Terminated\): [1-9][0-9]* faults injected'
	if wait_last "$T/py1" 'old=ok new=ok' 5; then
		ok "--pid: after the detach both connections work again"
	else
		bad "--pid recovery" "$(cat "$T/py1")"
	fi
	stop "$P1" "$P2"
	# chaos-attach in a PID namespace of its own: PIDs are as it sees them
	cat >"$T/pidns.sh" <<-EOF
		"$CLIENT" loop 127.0.0.1 $PORT 5 > "$T/pidns.loop" &
		sleep 0.2
		"$ATTACH" --pid \$! -f "127.0.0.1:$PORT refuse" --for 500ms 2>"$T/pidns.err"
		sleep 0.2
		kill %1
	EOF
	unshare -pf --mount-proc bash "$T/pidns.sh"
	check "--pid from inside a PID namespace: the namespace's pid, refused, then not" \
		"$(grep -c 'attached 1 rule to pid [0-9];' "$T/pidns.err") $(awk '{ print $2 }' "$T/pidns.loop")" \
		'^1 ok ECONNREFUSED ok$'
	out=$("$ATTACH" --pid "$P1" -f "127.0.0.1:1 refuse" 2>&1) && rc=0 || rc=$?
	check "--pid of a process that is gone: exit 1, said so" "$rc $out" '^1 chaos-attach: --pid [0-9]+: no such process$'
fi

# ---- --cgroup: two processes in a cgroup, one outside ----------------------------------------------
# in_cgroup CG CMD...: start CMD in cgroup CG
in_cgroup() {
	local cg=$1
	shift
	bg sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}
if want cgroup; then
	section "--cgroup: the processes of a cgroup"
	CG=$MOUNT/chaos-test-$$
	mkdir "$CG"
	CGS="$CGS $CG"
	in_cgroup "$CG" "$CLIENT" loop 127.0.0.1 "$PORT" 10 >"$T/cg1"
	in_cgroup "$CG" "$CLIENT" loop 127.0.0.1 "$PORT" 10 >"$T/cg2"
	bg "$CLIENT" loop 127.0.0.1 "$PORT" 10 >"$T/cg3"
	wait_for "$T/cg1" ' ok$' && wait_for "$T/cg2" ' ok$' && wait_for "$T/cg3" ' ok$'
	bg "$ATTACH" --cgroup "$CG" -f "127.0.0.1:$PORT refuse" 2>"$T/cg.err"
	AP=$LAST
	wait_for "$T/cg.err" 'attached' || bad "--cgroup" "$(cat "$T/cg.err")"
	wait_for "$T/cg1" 'ECONNREFUSED' 3 && wait_for "$T/cg2" 'ECONNREFUSED' 3 &&
		ok "--cgroup: both processes in it are refused" ||
		bad "--cgroup" "$(cat "$T/cg1" "$T/cg2")"
	check "--cgroup: the process outside is untouched" "$(cat "$T/cg3")" '^[0-9]+ ok$'
	kill -TERM "$AP"
	wait "$AP" || bad "--cgroup exit" "$?"
	wait_last "$T/cg1" ' ok$' && wait_last "$T/cg2" ' ok$' &&
		ok "--cgroup: detached, both connect again" || bad "--cgroup detach" "$(cat "$T/cg1")"
	out=$("$ATTACH" --cgroup "$MOUNT" -f "127.0.0.1:1 refuse" 2>&1) && rc=0 || rc=$?
	check "--cgroup of the root: refused" "$rc $out" '^1 .*is the root cgroup, which holds every process'
fi

# ---- --container: the cgroup naming schemes, in a tree the test makes ------------------------------
hexid() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
if want container; then
	section "--container: docker, containerd/Kubernetes, podman names"
	TREE=$MOUNT/chaos-test-ct-$$
	D=$(hexid) K=$(hexid) P=$(hexid)
	for dir in "system.slice/docker-$D.scope" \
		"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$$.slice/cri-containerd-$K.scope" \
		"machine.slice/libpod-conmon-$P.scope" "machine.slice/libpod-$P.scope/container"; do
		path=$TREE
		for part in $(echo "$dir" | tr '/' ' '); do
			path=$path/$part
			mkdir -p "$path"
			CGS="$CGS $path"
		done
	done
	CGS="$CGS $TREE"
	for c in "docker:$D:system.slice/docker-$D.scope" \
		"containerd:$K:kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$$.slice/cri-containerd-$K.scope" \
		"podman:$P:machine.slice/libpod-$P.scope/container"; do
		kind=${c%%:*} rest=${c#*:}
		id=${rest%%:*} dir=${rest#*:}
		in_cgroup "$TREE/$dir" "$CLIENT" loop 127.0.0.1 "$PORT" 10 >"$T/ct-$kind"
		LOOP=$LAST
		wait_for "$T/ct-$kind" ' ok$'
		bg "$ATTACH" --container "${id:0:12}" -f "127.0.0.1:$PORT refuse" 2>"$T/ct-$kind.err"
		AP=$LAST
		if wait_for "$T/ct-$kind.err" 'attached' && wait_for "$T/ct-$kind" 'ECONNREFUSED' 3; then
			ok "--container ${id:0:12} ($kind): its process is refused"
		else
			bad "--container $kind" "$(cat "$T/ct-$kind.err" "$T/ct-$kind")"
		fi
		kill -TERM "$AP"
		wait "$AP" || true
		stop "$LOOP"
	done
	# D's first 12 digits and a 13th that is not D's: a prefix of nothing
	other=0
	[ "${D:12:1}" != 0 ] || other=1
	out=$("$ATTACH" --container "${D:0:12}$other" -f "127.0.0.1:1 refuse" 2>&1) && rc=0 || rc=$?
	check "--container unknown: exit 1, where it looked" "$rc $out" '^1 .*no cgroup under .* is named after container'
	mkdir "$TREE/system.slice/docker-${D:0:6}ffff$(hexid | cut -c11-64).scope"
	CGS="$CGS $(ls -d "$TREE"/system.slice/docker-"${D:0:6}"ffff*)"
	out=$("$ATTACH" --container "${D:0:6}" -f "127.0.0.1:1 refuse" 2>&1) && rc=0 || rc=$?
	check "--container ambiguous prefix: exit 1, both named" "$rc $out" '^1 .*is ambiguous: 2 cgroups match'
fi

# ---- DNS ------------------------------------------------------------------------------------------
if want dns; then
	section "DNS: the responder"
	out=$("$ATTACH" -f "chaos-test.invalid dns=nxdomain" -- "$CLIENT" gai chaos-test.invalid)
	check "dns=nxdomain: getaddrinfo fails with EAI_NONAME (static C)" "$out" '^gai EAI_NONAME [0-9]{1,3}$'
	out=$("$ATTACH" -f "*.invalid dns=nxdomain" -- "$GOCLIENT" gai chaos-test.invalid)
	check "dns=nxdomain: Go's own resolver, not found" "$out" '^gai NOTFOUND '
	out=$(RES_OPTIONS="timeout:1 attempts:1" "$ATTACH" -f "*.invalid dns=timeout" -- "$CLIENT" gai chaos-test.invalid)
	check "dns=timeout: EAI_AGAIN" "$out" '^gai EAI_AGAIN '
	within "dns=timeout: after the resolver's timeout (1 s)" "$(field 3 "$out")" 990 1600
	out=$("$ATTACH" -f "*.invalid dns=servfail" -- "$CLIENT" gai chaos-test.invalid)
	check "dns=servfail: EAI_AGAIN at once" "$out" '^gai EAI_AGAIN [0-9]{1,3}$'
	out=$("$ATTACH" -f "*.invalid dns=192.0.2.7" -- "$CLIENT" gai chaos-test.invalid)
	check "dns=192.0.2.7: the address" "$out" '^gai 192\.0\.2\.7 [0-9]+$'
	out=$("$ATTACH" -f "*.invalid dns=[2001:db8::7]" -- "$GOCLIENT" gai chaos-test.invalid)
	check "dns=[2001:db8::7]: Go gets the AAAA" "$out" '^gai 2001:db8::7 '
	out=$("$ATTACH" -f "db.invalid dns=192.0.2.7" -f "v6.invalid dns=[2001:db8::7]" -- sh -c \
		"$CLIENT gai db.invalid; $CLIENT gai v6.invalid; getent hosts 192.0.2.7; getent hosts 2001:db8::7")
	check "dns=ADDRESS: a reverse lookup of the address gets the name back" "$out" \
		'gai 192\.0\.2\.7 [0-9]+ gai 2001:db8::7 [0-9]+ 192\.0\.2\.7 +db\.invalid 2001:db8::7 +v6\.invalid$'
	out=$(RES_OPTIONS=use-vc "$ATTACH" -f "*.invalid dns=192.0.2.8" -- "$CLIENT" gai chaos-test.invalid)
	check "dns=ADDRESS over TCP (use-vc)" "$out" '^gai 192\.0\.2\.8 '
	"$ATTACH" --log "$T/dnslog" -f "*.invalid dns=nxdomain count=1" -- "$CLIENT" gai a.invalid >/dev/null
	check "the DNS fault in the log, with the client's pid" "$(head -1 "$T/dnslog")" \
		'"source":"bpf","pid":[1-9][0-9]*,"tid":[1-9][0-9]*,"call":"dns","dest":"a.invalid","host":"a.invalid","rule_id":1,.*"result":"NXDOMAIN"'
	# names no rule covers go to the server the process asked, and its answer comes back:
	# a network and mount namespace with a stand-in upstream on the resolv.conf address
	cat >"$T/resolv.conf" <<-EOF
		nameserver 127.0.0.1
		options timeout:1 attempts:1
	EOF
	cat >"$T/ns.sh" <<-EOF
		set -e
		ip link set lo up
		mount --bind "$T/resolv.conf" /etc/resolv.conf
		python3 "$ROOT/tests/bpf/fakedns.py" 127.0.0.1 53 192.0.2.99 > "$T/fakedns.out" &
		for i in \$(seq 100); do grep -q ready "$T/fakedns.out" && break; sleep 0.02; done
		"$CLIENT" gai before.example
		"$ATTACH" -f "*.invalid dns=nxdomain" -- sh -c '"$CLIENT" gai fwd.example; RES_OPTIONS=use-vc "$CLIENT" gai tcp.example; "$CLIENT" gai x.invalid; "$GOCLIENT" gai go.example'
		"$ATTACH" --for 600ms -f "keep.invalid dns=192.0.2.1" -- python3 "$ROOT/tests/bpf/dnskeep.py" keep.invalid 100 14 > "$T/keep.out"
		kill %1
	EOF
	out=$(unshare -m -n bash "$T/ns.sh" 2>&1)
	check "forwarded: without chaos-attach (the stand-in upstream)" "$out" '^gai 192\.0\.2\.99 '
	check "forwarded: a name no rule covers gets the upstream's answer, UDP, TCP, Go" "$out" \
		'^gai 192\.0\.2\.99 [0-9]+ gai 192\.0\.2\.99 [0-9]+ gai 192\.0\.2\.99 [0-9]+ gai EAI_NONAME [0-9]+ gai 192\.0\.2\.99 [0-9]+$'
	check "a resolver keeping its UDP socket: faulted, then its own server again after the detach" \
		"$(awk '{ print $2 }' "$T/keep.out")" '^192\.0\.2\.1 192\.0\.2\.99$'
fi

# ---- host names: resolved at the attach, and again while attached ---------------------------------
if want names; then
	section "host names: resolved when attached, kept fresh"
	echo "127.0.0.2 chaos-refresh.test" >"$T/hosts"
	cat >"$T/names.sh" <<-EOF
		mount --bind "$T/hosts" /etc/hosts
		"$ATTACH" --refresh 1s -f "chaos-refresh.test:$PORT error=EHOSTUNREACH" -- sh -c '
			"$CLIENT" connect 127.0.0.2 $PORT; "$CLIENT" connect 127.0.0.3 $PORT
			echo "127.0.0.3 chaos-refresh.test" > "$T/hosts"; sleep 2.3
			"$CLIENT" connect 127.0.0.2 $PORT; "$CLIENT" connect 127.0.0.3 $PORT'
	EOF
	out=$(unshare -m bash "$T/names.sh" 2>&1)
	# nothing listens on 127.0.0.2 and .3: ECONNREFUSED is the kernel's own answer
	check "a name's address is faulted, another is not; after it moves, the other way round" "$out" \
		'^connect EHOSTUNREACH [0-9]+ connect ECONNREFUSED [0-9]+ connect ECONNREFUSED [0-9]+ connect EHOSTUNREACH [0-9]+$'
fi

# ---- kill -9 ----------------------------------------------------------------------------------
gone() { # IDS KIND: every bpftool object gone
	local id
	for id in $1; do
		bpftool "$2" show id "$id" >/dev/null 2>&1 && return 1
	done
	return 0
}
if want kill; then
	section "kill -9 chaos-attach: every fault goes with it"
	bg "$CLIENT" loop 127.0.0.1 "$PORT" 2 >"$T/k1"
	LOOP=$LAST
	wait_for "$T/k1" ' ok$'
	bg "$ATTACH" -v --pid "$LOOP" -f "127.0.0.1:$PORT refuse" 2>"$T/k1.err"
	AP=$LAST
	wait_for "$T/k1.err" 'attached 1 rule' && wait_for "$T/k1" 'ECONNREFUSED' 3 ||
		bad "kill -9 setup" "$(cat "$T/k1.err" "$T/k1")"
	progs=$(grep -o 'prog id [0-9]*' "$T/k1.err" | awk '{ print $3 }' | sort -u)
	links=$(grep -o 'link id [0-9]*' "$T/k1.err" | awk '{ print $3 }')
	t0=$(now_ms)
	kill -9 "$AP"
	{ wait "$AP"; } 2>/dev/null || true
	wait_for "$T/k1" 'ECONNREFUSED.* ok$' 3 || true
	t1=$(grep -A1 ECONNREFUSED "$T/k1" | tail -1 | awk '$2 == "ok" { print $1 }')
	within "kill -9 (--pid): connects again within ms of the kill" "$(( ${t1:-999999} - t0 ))" 0 100
	echo "        recovery after kill -9: $(( ${t1:-0} - t0 )) ms (the client connects every 2 ms)"
	gone "$progs" prog && [ -n "$progs" ] && ok "kill -9: no program left ($(echo $progs))" ||
		bad "kill -9" "programs left: $progs"
	gone "$links" link && [ -n "$links" ] && ok "kill -9: no link left ($(echo $links))" ||
		bad "kill -9" "links left: $links"
	stop "$LOOP"

	bg "$ATTACH" -v -f "127.0.0.1:$PORT refuse" -- "$CLIENT" loop 127.0.0.1 "$PORT" 2 >"$T/k2" 2>"$T/k2.err"
	AP=$LAST
	wait_for "$T/k2" 'ECONNREFUSED' 3 || bad "kill -9 command setup" "$(cat "$T/k2.err")"
	cg=$(grep -o 'attached to cgroup [^;]*' "$T/k2.err" | head -1 | awk '{ print $4 }')
	LOOP=$(cat "$cg/cgroup.procs" 2>/dev/null | head -1)
	progs=$(grep -o 'prog id [0-9]*' "$T/k2.err" | awk '{ print $3 }' | sort -u)
	t0=$(now_ms)
	kill -9 "$AP"
	{ wait "$AP"; } 2>/dev/null || true
	wait_for "$T/k2" 'ECONNREFUSED.* ok$' 3 || true
	t1=$(grep -A1 ECONNREFUSED "$T/k2" | tail -1 | awk '$2 == "ok" { print $1 }')
	within "kill -9 (command): the command connects again" "$(( ${t1:-999999} - t0 ))" 0 100
	for _ in $(seq 100); do [ -d "$cg" ] || break; sleep 0.02; done
	[ -n "$cg" ] && [ ! -d "$cg" ] && ok "kill -9 (command): its cgroup is removed ($cg)" ||
		bad "kill -9 (command)" "cgroup '$cg' left behind"
	check "kill -9 (command): the command runs on, moved back" \
		"$(kill -0 "$LOOP" 2>&1 && grep '^0::' "/proc/$LOOP/cgroup")" "^0::$(grep '^0::' /proc/self/cgroup | cut -d: -f3)\$"
	gone "$progs" prog && ok "kill -9 (command): no program left" || bad "kill -9 (command)" "programs left"
	stop "$LOOP"
fi

# ---- many rules -----------------------------------------------------------------------------------
if want rules; then
	section "100,000 rules"
	python3 - "$T/100k.json" "$PORT" <<-'EOF'
		import json, sys
		rules = ["10.%d.%d.%d:%d refuse" % ((i >> 16) & 255, (i >> 8) & 255, i & 255, 1000 + i % 5000)
		         for i in range(100000)]
		rules.append("127.0.0.1:%s refuse" % sys.argv[2])
		json.dump({"faults": rules}, open(sys.argv[1], "w"))
	EOF
	t0=$(now_ms)
	out=$("$ATTACH" -v -c "$T/100k.json" -- sh -c "$CLIENT connect 127.0.0.1 $PORT; $CLIENT connect 10.1.2.3 2051; $CLIENT connect 127.0.0.1 $SINK" 2>"$T/100k.err")
	t1=$(now_ms)
	check "100,001 rules: each destination meets its own" "$out" \
		'^connect ECONNREFUSED [0-9]+ connect ECONNREFUSED [0-9]+ connect ok [0-9]+$'
	within "100,001 rules: parsed, loaded and run, in ms" "$((t1 - t0))" 0 5000
	echo "        $(grep -o '[0-9]* rules in the maps.*' "$T/100k.err")"
	args=()
	for i in $(seq 17); do args+=(-f "127.0.0.1:$PORT refuse p=0.5"); done
	out=$("$ATTACH" "${args[@]}" -- true 2>&1) && rc=0 || rc=$?
	check "17 rules on one destination: refused cleanly, exit 2" "$rc $out" \
		'^2 chaos-attach: 17 rules \(#1, 2, 3, 4, \.\.\.\) apply to 127\.0\.0\.1 port [0-9]+: chaos-attach tries at most 16'
fi

# ---- refusals, errors, exit statuses -------------------------------------------------------------
if want refusals; then
	section "refused rules, errors, exit statuses"
	expect_exit() { # NAME STATUS REGEX CMD...
		local name=$1 want=$2 re=$3 out rc
		shift 3
		out=$("$@" 2>&1) && rc=0 || rc=$?
		check "$name" "$rc $out" "^$want $re"
	}
	expect_exit "reset: refused, exit 2" 2 "chaos-attach: --fault '127.0.0.1:80 reset': reset: no kernel hook chaos-attach can use resets" \
		"$ATTACH" -f "127.0.0.1:80 reset" -- true
	expect_exit "delay= on recv (the default): refused" 2 "chaos-attach: --fault '127.0.0.1:80 delay=1s': delay= on=connect\+recv \(the default\): chaos-attach delays only the TCP handshake" \
		"$ATTACH" -f "127.0.0.1:80 delay=1s" -- true
	expect_exit "error= on=recv: refused" 2 ".*error= on=recv: no kernel hook" \
		"$ATTACH" -f "127.0.0.1:80 error=ECONNRESET on=recv" -- true
	expect_exit "error= on=send over TCP: refused" 2 ".*error= on=send fails only UDP sends here" \
		"$ATTACH" -f "127.0.0.1:80 error=EPIPE on=send" -- true
	expect_exit "slice=: refused" 2 ".*slice=: short reads and writes happen inside the process" \
		"$ATTACH" -f "127.0.0.1:80 slice=1" -- true
	expect_exit "a host pattern outside dns=: refused" 2 ".*host '\*\.example' is a pattern" \
		"$ATTACH" -f "*.example:80 refuse" -- true
	expect_exit "every refused rule named, nothing attached" 2 "chaos-attach: --fault '127.0.0.1:80 reset'.*chaos-attach: --fault '127.0.0.1:81 slice=1'" \
		"$ATTACH" -f "127.0.0.1:80 reset" -f "127.0.0.1:81 slice=1" -- true
	expect_exit "a name that does not resolve: exit 1" 1 "chaos-attach: --fault 'no-such-host.invalid:80 refuse': cannot resolve 'no-such-host.invalid'" \
		"$ATTACH" --pid $$ -f "no-such-host.invalid:80 refuse"
	expect_exit "... with a command: 125, the command not run" 125 "chaos-attach: --fault 'no-such-host.invalid:80 refuse': cannot resolve" \
		"$ATTACH" -f "no-such-host.invalid:80 refuse" -- sh -c 'echo ran'
	expect_exit "--pid of no process: exit 1" 1 "chaos-attach: --pid 2147483647: no such process" \
		"$ATTACH" --pid 2147483647 -f "127.0.0.1:80 refuse"
	expect_exit "no target: exit 2" 2 "chaos-attach: say what to attach to" \
		"$ATTACH" -f "127.0.0.1:80 refuse"
	expect_exit "two targets: exit 2" 2 "chaos-attach: --pid, --cgroup, --container and a COMMAND exclude each other" \
		"$ATTACH" --pid 1 --cgroup "$MOUNT" -f "127.0.0.1:80 refuse"
	expect_exit "without privileges: exit 1, what is missing" 1 "chaos-attach: needs CAP_BPF and CAP_NET_ADMIN .*\(missing: CAP_BPF, CAP_NET_ADMIN\): run it as root$" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$ATTACH" --pid 1 -f "127.0.0.1:80 refuse"
	expect_exit "... only CAP_NET_ADMIN missing" 1 "chaos-attach: needs CAP_BPF and CAP_NET_ADMIN .*\(missing: CAP_NET_ADMIN\)" \
		setpriv --inh-caps=-net_admin --bounding-set=-net_admin "$ATTACH" --pid 1 -f "127.0.0.1:80 refuse"
	expect_exit "the command's exit status" 7 "" "$ATTACH" -f "127.0.0.1:80 refuse" -- sh -c 'exit 7'
	expect_exit "a command that is not there: 127" 127 "chaos-attach: cannot run 'no-such-command-x': No such file or directory" \
		"$ATTACH" -f "127.0.0.1:80 refuse" -- no-such-command-x
	expect_exit "a command killed by a signal: chaos-attach dies of it too" 143 "" \
		bash -c '"$0" -f "127.0.0.1:80 refuse" -- sh -c "kill -TERM \$\$"; exit $?' "$ATTACH"
	expect_exit "--check: the rules, nothing attached" 0 "1	127.0.0.1:80 refuse	# TCP and UDP 2	udp:127.0.0.1:53 error=EHOSTUNREACH on=send	# UDP 3	\*.internal dns=nxdomain	# DNS responder" \
		"$ATTACH" --check -f "127.0.0.1:80 refuse" -f "udp:127.0.0.1:53 error=EHOSTUNREACH on=send" -f "*.internal dns=nxdomain"
	bg sleep 30
	S=$LAST
	t0=$(now_ms)
	out=$("$ATTACH" --pid "$S" --for 300ms -f "127.0.0.1:80 refuse" 2>&1) && rc=0 || rc=$?
	t1=$(now_ms)
	check "--for 300ms: detaches, exit 0" "$rc $out" "^0 .*detached \(--for ended\): 0 faults injected"
	within "--for 300ms: after 300 ms" "$((t1 - t0))" 300 900
	bg "$ATTACH" --pid "$S" -f "127.0.0.1:80 refuse" 2>"$T/gone.err"
	AP=$LAST
	wait_for "$T/gone.err" attached
	stop "$S"
	wait "$AP" && rc=0 || rc=$?
	check "--pid: the target exits, chaos-attach detaches, exit 0" "$rc $(cat "$T/gone.err")" \
		'^0 .*detached \(the target process exited\)'
fi

# ---- the man page's examples ----------------------------------------------------------------------
if want refusals; then
	section "man/chaos-attach.1: every example's rules are accepted"
	# EXAMPLES lines that start with chaos-attach, continuation lines (\e) joined
	awk '/^\.SH EXAMPLES/ { on = 1; next } /^\.SH / { on = 0 } on' "$ROOT/man/chaos-attach.1" |
		sed -e 's/\\e$/\\/' | sed -e :a -e '/\\$/N; s/\\\n *//; ta' |
		grep '^chaos-attach ' >"$T/examples"
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		out=$(eval "\"\$REAL_ATTACH\" --check ${line#chaos-attach }" 2>&1) && rc=0 || rc=$?
		check "example $n: ${line:0:60}..." "$rc $out" '^0 1	'
	done <"$T/examples"
	within "man page examples found" "$n" 4 20
fi

finish
