#!/bin/sh
# test_fdreuse.sh -- faults follow sockets, never fd numbers: closes by dup2 (Java), close_range,
# closefrom and raw system calls (libuv), numbers reused by files, accepted and other sockets
. "$(dirname "$0")/hlib.sh"

start_hammer PORTS
run_rc "$CHAOS_EXEC" --log "$T/faults.log" -f '127.0.0.2 error=ECONNRESET on=io' \
	-f '127.0.0.3 error=EPIPE on=send count=1' -- "$HBIN/fdreuse" "$PORTS"
for c in dup2-over-socket close_range-one raw-close-syscall close_range-many \
	close_range-cloexec-keeps-faults accepted-on-reused-number closefrom; do
	check "$c" "ok $c" "$(printf '%s\n' "$OUT" | grep -E "^(ok|FAIL) $c(:|$)")"
done
xcheck stale-entry-spends-count count-not-spent-on-a-file "ok count-not-spent-on-a-file" \
	"$(printf '%s\n' "$OUT" | grep -E "^(ok|FAIL) count-not-spent-on-a-file")"
# every fault line is for a socket to .2 or .3 (none for a file, which has no address)
check "fault lines not for .2/.3" "" \
	"$(grep -v -E '"dest":"127\.0\.0\.[23]:' "$T/faults.log" || true)"
done_ok
