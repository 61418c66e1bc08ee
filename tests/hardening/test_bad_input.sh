#!/bin/sh
# test_bad_input.sh -- every class of malformed rule, config file, experiment and command line,
# for chaos-exec, chaos-attach and chaos-run: the exact message, the exit status, nothing on
# stdout, and nothing left in the directory it ran in (no journal, no temporary file)
#
# The rows are in bad_input.tsv (tab-separated, one per line, '#' comments):
#   ID  TOOL  EXIT  FILE  CONTENT  ARGS  STDERR
# FILE is written in a fresh directory with CONTENT ('-': no file; @EMPTY@: empty; @DIR@: a
# directory), which also holds ok.json, a valid experiment.  CONTENT, ARGS and STDERR take
# printf %b escapes (\n, \t, \\, \0NNN); ARGS is shell-quoted (@NONE@: no arguments); @LONG@ in
# ARGS is a rule of 600 characters.  No field may be empty.  Rows whose ID is in known-bugs
# report XFAIL.
#
# BAD_INPUT_PRINT=1 prints each row with what the tools answer now, in the table's format
# (to write new rows; never to accept changed ones without reading them).
. "$(dirname "$0")/hlib.sh"

TAB=$(printf '\t')
LONG="db refuse$(printf ' count=1%.0s' $(seq 1 75))"
n=0
while IFS="$TAB" read -r id tool want_rc file content args want_err; do
	case "$id" in '' | '#'*) continue ;; esac
	n=$((n + 1))
	w="$T/w/$id"
	mkdir -p "$w"
	printf '{"title": "t", "description": "d", "method": []}\n' >"$w/ok.json"
	case "$content" in
	-) ;;
	@EMPTY@) : >"$w/$file" ;;
	@DIR@) mkdir "$w/$file" ;;
	*) printf '%b' "$content" >"$w/$file" ;;
	esac
	a=$(printf '%b' "$args" | sed "s/@LONG@/$LONG/; s/^@NONE@\$//")
	eval "set -- $a"
	set +e
	(cd "$w" && exec "$BUILD/$tool" "$@" </dev/null >"$T/out" 2>"$T/err")
	rc=$?
	set -e
	err=$(cat "$T/err")
	left=$(cd "$w" && find . -mindepth 1 ! -name ok.json ! -path "./$file" ! -path "./$file/*" | sort | tr '\n' ' ')
	if [ "${BAD_INPUT_PRINT:-0}" = 1 ]; then
		e=$(printf '%s' "$err" | sed 's/\\/\\\\/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }')
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$tool" "$rc" "$file" "$content" "$args" "$e"
		[ -z "$left" ] || echo "# $id left: $left"
		[ ! -s "$T/out" ] || echo "# $id stdout: $(cat "$T/out")"
		continue
	fi
	want=$(printf '%b' "$want_err")
	if is_known "$id" || grep -q "^$id " "$KNOWN_BUGS" 2>/dev/null; then
		xcheck "$id" "$id: $tool $a" "$want_rc $want" "$rc $err"
	else
		check "$id: $tool $a: exit status ($err)" "$want_rc" "$rc"
		check "$id: $tool $a: message" "$want" "$err"
	fi
	check "$id: stdout" "" "$(cat "$T/out")"
	check "$id: left in the directory" "" "$left"
done <"$HARD/bad_input.tsv"
[ "${BAD_INPUT_PRINT:-0}" = 1 ] && exit 0
[ "$n" -gt 100 ] || fail "only $n rows read from bad_input.tsv"
done_ok
