#!/bin/sh
# test_man_examples.sh -- every example in man/chaos-exec.1 works
#
# Each example line in an .EX block that starts with "chaos-exec" is run with --check (the
# rules must be valid and print), then with its ./service replaced by a trivial command (the
# launcher must accept it and pass the status on).
. "$(dirname "$0")/lib.sh"

MAN="$ROOT/man/chaos-exec.1"
awk '/^\.EX/{ex=1; next} /^\.EE/{ex=0} ex && /^chaos-exec /' "$MAN" | sed 's/\\-/-/g' >"$T/examples"
n=$(wc -l <"$T/examples")
[ "$n" -ge 5 ] || fail "found only $n examples in $MAN"
echo '{"faults": ["redis.local:6379 refuse", {"target": "db.local", "action": "dns", "dns": "nxdomain"}]}' >"$T/faults.json"
cd "$T"
while IFS= read -r line; do
	args=${line#chaos-exec }
	args=${args% -- ./service}
	# shellcheck disable=SC2086
	eval "set -- $args"
	run_rc "$CHAOS_EXEC" "$@" --check
	check "example '$line'" 0 "$RC"
	[ -n "$OUT" ] || fail "example '$line' printed no rules"
	case "$line" in
	*" -- ./service")
		run_rc "$CHAOS_EXEC" --log "$T/log" "$@" -- sh -c 'exit 0'
		check "example runs '$line'" 0 "$RC"
		;;
	esac
done <"$T/examples"
done_ok
