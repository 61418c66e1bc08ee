#!/bin/sh
# test_connect.sh -- connect(2) faults, as blocking and event-loop clients see them
#
# Table: rule x client mode -> what the client sees.  Non-blocking clients must get
# EINPROGRESS and then the error through poll/epoll/select + SO_ERROR (or a second connect).
. "$(dirname "$0")/lib.sh"

start_server PORT echo
LOG="$T/faults.log"

for mode in block nonblock poll epoll select; do
	for case in "refuse:ECONNREFUSED" "error=ETIMEDOUT:ETIMEDOUT" \
		"error=EHOSTUNREACH:EHOSTUNREACH" "error=ECONNRESET:ECONNRESET" \
		"error=ENETUNREACH:ENETUNREACH" "error=EACCES:EACCES" \
		"error=EADDRNOTAVAIL:EADDRNOTAVAIL"; do
		action=${case%%:*}
		want=${case##*:}
		got=$("$CHAOS_EXEC" --log "$LOG" -f "127.0.0.1:$PORT $action" -- \
			"$NETPROBE" connect 127.0.0.1 "$PORT" "$mode")
		check "$action $mode" "$want" "$got"
	done
	# IPv6, and IPv4-mapped IPv6 matched by an IPv4 rule
	got=$("$CHAOS_EXEC" --log "$LOG" -f "[::1]:$PORT refuse" -- "$NETPROBE" connect ::1 "$PORT" "$mode")
	check "ipv6 $mode" ECONNREFUSED "$got"
	got=$("$CHAOS_EXEC" --log "$LOG" -f "127.0.0.0/8:$PORT refuse" -- \
		"$NETPROBE" connect ::ffff:127.0.0.1 "$PORT" "$mode")
	check "v4-mapped $mode" ECONNREFUSED "$got"
	# a rule for another destination changes nothing
	got=$("$CHAOS_EXEC" --log "$LOG" -f "127.0.0.1:1 refuse" -f "[::1] refuse" -- \
		"$NETPROBE" connect 127.0.0.1 "$PORT" "$mode")
	check "other destination $mode" ok "$got"
	got=$("$CHAOS_EXEC" --log "$LOG" -f "udp:127.0.0.1 refuse" -- \
		"$NETPROBE" connect 127.0.0.1 "$PORT" "$mode")
	check "udp rule leaves tcp $mode" ok "$got"
done

# one log line per injected fault: 5 modes x (7 + 2)
check "fault lines" 45 "$(count_log "$LOG")"
line=$(grep '"result":"ETIMEDOUT"' "$LOG" | head -1)
check_match "log line shape" \
	'^\{"time":"[0-9T:.-]+Z","source":"preload","pid":[0-9]+,"tid":[0-9]+,"call":"connect","dest":"127\.0\.0\.1:[0-9]+","host":null,"rule_id":1,"rule":"127\.0\.0\.1:[0-9]+ error=ETIMEDOUT","action":"error","result":"ETIMEDOUT"\}$' \
	"$line"

# CIDR and port ranges
got=$("$CHAOS_EXEC" --log "$LOG" -f "tcp:127.0.0.0/24:1-65535 refuse" -- "$NETPROBE" connect 127.0.0.1 "$PORT")
check "cidr + range" ECONNREFUSED "$got"
got=$("$CHAOS_EXEC" --log "$LOG" -f "127.0.1.0/24 refuse" -- "$NETPROBE" connect 127.0.0.1 "$PORT")
check "cidr outside" ok "$got"
got=$("$CHAOS_EXEC" --log "$LOG" -f "* refuse" -- "$NETPROBE" connect 127.0.0.1 "$PORT")
check "star" ECONNREFUSED "$got"
done_ok
