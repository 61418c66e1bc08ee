#!/bin/sh
# test_kill9.sh -- kill -9 chaos-exec and chaos-run at random moments, KILL9_ROUNDS times each
# (30 in make check, 100 in make stress; the moments drawn from KILL9_SEED), and look at what is
# left:
#
#   chaos-exec  its command goes with it (PR_SET_PDEATHSIG: it would keep running, with faults
#               nobody could take off any more); its control socket and shared area (CHAOS_CTL,
#               CHAOS_SHM) stay until the next chaos-exec starts, which removes them (the
#               socket is a file in a private directory so that only its user can reach it)
#   chaos-run   the service it started goes (chaos-exec gets SIGTERM from PR_SET_PDEATHSIG and
#               passes it on), and so should a process activity (known bug
#               run-activity-outlives-kill9); the journal is complete JSON or absent, never
#               half-written; no temporary journal file stays
#
# A process is found by a marker in its arguments (forks idle MARKER); whatever a round leaves
# is killed by pid before the next.
. "$(dirname "$0")/hlib.sh"

ROUNDS=${KILL9_ROUNDS:-30} # make stress: 100
SEED=${KILL9_SEED:-9}
FORKS="$HBIN/forks"
CHAOS_RUN="$BUILD/chaos-run"
CTLDIR=/dev/shm/chaos-$(id -u)
[ -z "${XDG_RUNTIME_DIR:-}" ] || CTLDIR="$XDG_RUNTIME_DIR/chaos"
TAG="k9-$$"

# delays in ms, one per round: KILL9 moments spread over [0, $1)
delays() {
	awk -v n="$ROUNDS" -v s="$SEED" -v max="$1" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%d ", int(rand() * max) }'
}

# pids_with MARKER: processes with MARKER as an argument (the pattern, [k]9-..., does not
# match grep's own arguments)
pids_with() {
	rest=${1#?}
	grep -l -a -x -z -- "[${1%"$rest"}]$rest" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 |
		sort -n | tr '\n' ' '
}

# wait_gone MARKER MS: wait up to MS for every process with MARKER to go; echo what is left
wait_gone() {
	i=0
	while [ -n "$(pids_with "$1")" ] && [ $i -lt $(($2 / 10)) ]; do
		sleep 0.01
		i=$((i + 1))
	done
	pids_with "$1"
}

ms_sleep() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }

# ---- chaos-exec -------------------------------------------------------------------------------
survived=0
files_left=0
killed=""
started=$(date +%s%N)
r=0
for d in $(delays 30); do
	r=$((r + 1))
	m="$TAG-exec-$r"
	"$CHAOS_EXEC" --log "$T/exec.log" -f '127.0.0.2 refuse' -- "$FORKS" idle "$m" 0 &
	ep=$!
	ms_sleep "$d"
	kill -9 "$ep" 2>/dev/null || true
	wait "$ep" 2>/dev/null || true
	left=$(wait_gone "$m" 100)
	if [ -n "$left" ]; then
		survived=$((survived + 1))
		kill -9 $left 2>/dev/null || true
	fi
	killed="$killed $ep"
done
# the next chaos-exec to start sweeps what the killed ones left (and nothing of a live one)
"$CHAOS_EXEC" --log "$T/exec.log" -- "$FORKS" idle "$TAG-live" 5 &
live=$!
PIDS="$PIDS $live"
i=0
while [ ! -e "$CTLDIR/$live.sock" ] && [ $i -lt 300 ]; do
	sleep 0.01
	i=$((i + 1))
done
run_rc "$CHAOS_EXEC" -- true
check "a chaos-exec starts after the kills" 0 "$RC"
for ep in $killed; do
	if [ -e "$CTLDIR/$ep.sock" ] || [ -e "$CTLDIR/$ep.shm" ]; then
		files_left=$((files_left + 1))
		rm -f "$CTLDIR/$ep.sock" "$CTLDIR/$ep.shm"
	fi
done
check "a live chaos-exec's control socket and area are not swept" "yes yes" \
	"$([ -S "$CTLDIR/$live.sock" ] && echo yes) $([ -f "$CTLDIR/$live.shm" ] && echo yes)"
kill "$live" 2>/dev/null || true
wait "$live" 2>/dev/null || true
echo "          chaos-exec: $ROUNDS kill -9 at 0-30 ms in $(elapsed_ms "$started") ms: the command outlived chaos-exec $survived times, control files left after the next start $files_left times"
xcheck exec-child-outlives-kill9 "chaos-exec's command gone after kill -9 chaos-exec" \
	"0 of $ROUNDS survived" "$survived of $ROUNDS survived"
xcheck exec-ctl-files-left "chaos-exec's control socket and area gone after kill -9 chaos-exec, once another starts" \
	"0 of $ROUNDS left" "$files_left of $ROUNDS left"

# ---- chaos-run ------------------------------------------------------------------------------
# exp.json: the service under chaos-exec, a fault put on through chaos-ctl, a process activity
# (0.15 s), a rollback taking the fault off; READY is the service's readiness check
write_exp() {
	cat >"$1" <<JSON
{"title": "kill -9", "description": "a service under chaos, a fault on, a process activity",
 "extensions": [{"name": "chaos", "service": {"command": ["$FORKS", "idle", "\${svc}", "0"],
   "stop_timeout": 2 $2}}],
 "configuration": {"svc": "", "act": ""},
 "method": [
   {"type": "action", "name": "db-refuses", "provider": {"type": "chaos", "add": ["127.0.0.3 refuse"]}},
   {"type": "action", "name": "work", "provider": {"type": "process", "path": "$FORKS",
     "arguments": ["idle", "\${act}", "0.15"], "timeout": 5}}],
 "rollbacks": [{"type": "action", "name": "off", "provider": {"type": "chaos", "remove": "all"}}]}
JSON
}
write_exp "$T/exp.json" ', "ready": {"process": {"path": "true"}}'
write_exp "$T/exp-noready.json" ''

# a fault put on at once after the service started (no readiness check): chaos-ctl must find
# the service (the library in it registers with chaos-exec a moment after it starts)
nofault=0
for r in $(seq 1 20); do
	"$CHAOS_RUN" --quiet --journal-path "$T/noready.json" --var "svc=$TAG-nr" \
		--var "act=$TAG-nr-a" "$T/exp-noready.json" >/dev/null 2>&1 || true
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(j["run"][0]["status"] != "succeeded")' \
		"$T/noready.json" || nofault=$((nofault + 1))
done
xcheck run-ctl-before-registered "a fault put on right after the service started" \
	"0 of 20 failed" "$nofault of 20 failed"

# how long a whole run takes here: the kills are spread over it
t0=$(date +%s%N)
run_rc "$CHAOS_RUN" --quiet --journal-path "$T/full.json" --var "svc=$TAG-cal" --var "act=$TAG-cal-a" "$T/exp.json"
full=$(elapsed_ms "$t0")
check "a whole run: $OUT" 0 "$RC"
stray=0
stray_act=0
bad_journal=0
tmp_left=0
journals=0
started=$(date +%s%N)
r=0
mkdir "$T/j"
for d in $(delays $((full + full / 4))); do
	r=$((r + 1))
	m="$TAG-svc-$r"
	a="$TAG-act-$r"
	"$CHAOS_RUN" --quiet --journal-path "$T/j/$r.json" --var "svc=$m" --var "act=$a" "$T/exp.json" \
		>/dev/null 2>&1 &
	rp=$!
	ms_sleep "$d"
	kill -9 "$rp" 2>/dev/null || true
	wait "$rp" 2>/dev/null || true
	left=$(wait_gone "$m" 3000)
	if [ -n "$left" ]; then
		stray=$((stray + 1))
		echo "          round $r (kill at $d ms): the service is still running: $left"
		kill -9 $left 2>/dev/null || true
	fi
	left=$(wait_gone "$a" 30) # it would end by itself within 0.15 s
	if [ -n "$left" ]; then
		stray_act=$((stray_act + 1))
		kill -9 $left 2>/dev/null || true
	fi
	if [ -e "$T/j/$r.json" ]; then
		journals=$((journals + 1))
		python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["status"]' \
			"$T/j/$r.json" 2>/dev/null || bad_journal=$((bad_journal + 1))
	fi
	if ls -A "$T/j" | grep -q "^\.$r\.json\."; then
		tmp_left=$((tmp_left + 1))
		rm -f "$T/j/.$r.json."*
	fi
done
echo "          chaos-run: $ROUNDS kill -9 at 0-$((full + full / 4)) ms in $(elapsed_ms "$started") ms: $journals journals complete, $bad_journal half-written, $tmp_left temporary files left, service left $stray times, process activity left $stray_act times"
check "chaos-run's service gone after kill -9 chaos-run" "0" "$stray"
check "journals written by killed runs are complete JSON" "0" "$bad_journal"
check "no temporary journal file after kill -9" "0" "$tmp_left"
xcheck run-activity-outlives-kill9 "chaos-run's process activity gone after kill -9 chaos-run" \
	"0 of $ROUNDS left" "$stray_act of $ROUNDS left"

# the journal's own window: a 5 MB journal (the experiment is in it) takes tens of ms to write
# and sync, and the kills are spread over the whole run, the writing included
python3 -c 'import json; print(json.dumps({"title": "big", "description": "x" * 5000000, "method": []}))' \
	>"$T/big.json"
t0=$(date +%s%N)
run_rc "$CHAOS_RUN" --quiet --journal-path "$T/big-full.json" "$T/big.json"
full=$(elapsed_ms "$t0")
check "a run with a 5 MB journal" 0 "$RC"
mkdir "$T/bj"
r=0
for d in $(delays $((full + full / 4))); do
	r=$((r + 1))
	"$CHAOS_RUN" --quiet --journal-path "$T/bj/$r.json" "$T/big.json" >/dev/null 2>&1 &
	rp=$!
	ms_sleep "$d"
	kill -9 "$rp" 2>/dev/null || true
	wait "$rp" 2>/dev/null || true
done
complete=0
for f in "$T"/bj/*.json; do
	[ -e "$f" ] || continue
	check "journal $f is whole" 5000000 \
		"$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["experiment"]["description"]))' "$f")"
	complete=$((complete + 1))
done
echo "          chaos-run, 5 MB journals: $ROUNDS kill -9 at 0-$((full + full / 4)) ms: $complete journals complete, the others absent"
check "temporary journal files left" "" "$(ls -A "$T/bj" | grep '^\.' | tr '\n' ' ')"
done_ok
