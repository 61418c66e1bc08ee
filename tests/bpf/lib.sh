# lib.sh -- what the chaos-attach tests and benchmarks share: paths, a temp dir and cleanup on
# exit, the peer server, waiting for chaos-attach to attach, and assertions.  Sourced (bash).

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
case $O in /*) B=$O ;; *) B=$ROOT/$O ;; esac
ATTACH=$B/chaos-attach
CLIENT=$B/tests/bpf/client
GOCLIENT=$B/tests/bpf/goclient
PEER=$B/tests/bpf/peer

if [ "$(id -u)" != 0 ]; then
	echo "$0: the chaos-attach tests load eBPF programs: they need root (CI runs them as root)" >&2
	exit 1
fi
MOUNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -z "$MOUNT" ]; then
	echo "$0: no cgroup2 file system in /proc/self/mounts" >&2
	exit 1
fi

T=$(mktemp -d /tmp/chaos-bpf.XXXXXX)
chmod 755 "$T"

# chaos-attach with its fault log in $T/events (a --log given later wins), not on our stderr
REAL_ATTACH=$ATTACH
ATTACH=$T/chaos-attach
printf '#!/bin/bash\nexec "%s" --log "%s/events" "$@"\n' "$REAL_ATTACH" "$T" >"$ATTACH"
chmod 755 "$ATTACH"
PIDS=""   # background processes to kill at the end
CGS=""    # cgroups the tests made, deepest last
PASSED=0
FAILED=0

cleanup() {
	set +e
	exec 2>/dev/null # no "Killed" notices for the background processes
	for p in $PIDS; do kill -9 "$p"; done
	wait
	# cgroups the tests made: processes back to the root, then the directories, deepest first
	for c in $(printf '%s\n' $CGS | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-); do
		[ -d "$c" ] || continue
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do
			echo "$p" > "$MOUNT/cgroup.procs" 2>/dev/null
		done
		rmdir "$c" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bg CMD...: run in the background, remembered for cleanup; its pid in LAST
bg() {
	"$@" &
	LAST=$!
	PIDS="$PIDS $LAST"
}

# stop PID...: kill -9 and reap, without a "Killed" notice
stop() {
	local p
	for p in "$@"; do
		kill -9 "$p" 2>/dev/null || true
		{ wait "$p"; } 2>/dev/null || true
	done
}

now_ms() {
	date +%s%3N
}

# start_peer: the echo/sink/UDP server on a free port; sets PORT (echo, UDP) and SINK (PORT+1)
start_peer() {
	local try
	for try in $(seq 20); do
		PORT=$((20000 + RANDOM % 30000))
		SINK=$((PORT + 1))
		bg "$PEER" "$PORT" >"$T/peer.out" 2>"$T/peer.err"
		PEER_PID=$LAST
		for _ in $(seq 100); do
			grep -q ready "$T/peer.out" 2>/dev/null && return 0
			kill -0 "$PEER_PID" 2>/dev/null || break
			sleep 0.02
		done
		kill -9 "$PEER_PID" 2>/dev/null || true
	done
	echo "$0: cannot start the peer server: $(cat "$T/peer.err")" >&2
	exit 1
}

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches (default 5 s); 1 if it never does
wait_for() {
	local i n=$(( ${3:-5} * 50 ))
	for i in $(seq "$n"); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}

ok() {
	printf '  PASS    %s\n' "$1"
	PASSED=$((PASSED + 1))
}

bad() {
	printf '  FAIL    %s: %s\n' "$1" "$2"
	FAILED=$((FAILED + 1))
}

# check NAME TEXT REGEX: TEXT (all of it, as one string) matches the extended REGEX
check() {
	if printf '%s' "$2" | tr '\n' ' ' | grep -Eq -- "$3"; then
		ok "$1"
	else
		bad "$1" "got '$(printf '%s' "$2" | tr '\n' ' ' | cut -c1-300)', want /$3/"
	fi
}

# wait_last FILE REGEX [SECONDS]: until the last line of FILE matches
wait_last() {
	local i n=$(( ${3:-5} * 50 ))
	for i in $(seq "$n"); do
		tail -1 "$1" 2>/dev/null | grep -Eq -- "$2" && return 0
		sleep 0.02
	done
	return 1
}

# within NAME VALUE LO HI: an integer in [LO, HI]
within() {
	if [ -n "$2" ] && [ "$2" -ge "$3" ] 2>/dev/null && [ "$2" -le "$4" ]; then
		ok "$1 ($2 in [$3, $4])"
	else
		bad "$1" "'$2' is not in [$3, $4]"
	fi
}

# field N "TEXT": the Nth word
field() {
	echo "$2" | awk -v n="$1" '{ print $n }'
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
