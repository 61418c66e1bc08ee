#!/bin/sh
# test_privileged.sh -- setuid, setgid and setcap programs: the loader would run them without
# LD_PRELOAD, so chaos-exec must refuse them (exit 126, naming why) rather than run them
# unfaulted; root is not refused where the loader keeps LD_PRELOAD for it (and the faults are
# really injected there)
#
# Needs root (CI runs as root): makes a user for the non-root cases, removed at the end.
. "$(dirname "$0")/hlib.sh"

[ "$(id -u)" -eq 0 ] || fail "must run as root (it makes a test user and setuid files)"
command -v setcap >/dev/null || fail "setcap is missing (Debian: libcap2-bin, scripts/deps.sh)"

USER_NAME=chaos-hardening
MADE_USER=""
if ! id "$USER_NAME" >/dev/null 2>&1; then
	# another run may be making it at the same moment
	if useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME" 2>"$T/useradd"; then
		MADE_USER=1
	else
		id "$USER_NAME" >/dev/null 2>&1 || fail "useradd $USER_NAME: $(cat "$T/useradd")"
	fi
fi
cleanup_user() {
	[ -z "$MADE_USER" ] || userdel "$USER_NAME" 2>/dev/null || true
	cleanup
}
trap cleanup_user EXIT
uid=$(id -u "$USER_NAME")
gid=$(id -g "$USER_NAME")

# the programs live where the user can reach them
chmod 755 "$T"
P="$T/progs"
mkdir -m 755 "$P"
start_server PORT echo
R="127.0.0.1:$PORT refuse"
refusal="chaos-exec: $P/%s is setuid or setgid: the loader ignores LD_PRELOAD for it, so no fault would be injected"
capmsg="chaos-exec: $P/%s has file capabilities (setcap): the loader ignores LD_PRELOAD for it, so no fault would be injected"

mk() { # mk NAME OWNER MODE: a copy of netprobe
	cp "$NETPROBE" "$P/$1"
	chown "$2" "$P/$1"
	chmod "$3" "$P/$1"
}
mk suid-nobody nobody 4755
mk suid-root root 4755
mk suid-root-x root 4711
mk sgid-root root:root 2755
mk plain root 755
mk cap root 755
setcap cap_net_bind_service+ep "$P/cap"
mk cap-x root 711
setcap cap_net_bind_service+ep "$P/cap-x"
mk user-suid "$USER_NAME" 4755
printf '#!%s\n' "$P/suid-root" >"$P/script"
chmod 755 "$P/script"

as_root() { run_rc "$CHAOS_EXEC" --log /dev/null -f "$R" -- "$@"; }
as_user() {
	run_rc setpriv --reuid="$uid" --regid="$gid" --clear-groups --reset-env \
		"$CHAOS_EXEC" --log /dev/null -f "$R" -- "$@"
}
probe() { echo "$1" connect 127.0.0.1 "$PORT"; }

# ---- root -----------------------------------------------------------------------------------
as_root $(probe "$P/suid-nobody")
check "root, setuid nobody: exit" 126 "$RC"
check "root, setuid nobody: message" "$(printf "$refusal" suid-nobody)" "$OUT"
# setuid root and setcap run by root: the loader keeps LD_PRELOAD (no secure mode), faults work
as_root $(probe "$P/suid-root")
check "root, setuid root: runs faulted" "0 ECONNREFUSED" "$RC $OUT"
as_root $(probe "$P/cap")
check "root, setcap: runs faulted" "0 ECONNREFUSED" "$RC $OUT"
as_root $(probe "$P/sgid-root")
check "root, setgid root: runs faulted" "0 ECONNREFUSED" "$RC $OUT"

# ---- a user ---------------------------------------------------------------------------------
as_user $(probe "$P/plain")
check "user, plain program: runs faulted" "0 ECONNREFUSED" "$RC $OUT"
as_user $(probe "$P/suid-root")
check "user, setuid root: exit" 126 "$RC"
check "user, setuid root: message" "$(printf "$refusal" suid-root)" "$OUT"
as_user $(probe "$P/sgid-root")
check "user, setgid root: exit" 126 "$RC"
check "user, setgid root: message" "$(printf "$refusal" sgid-root)" "$OUT"
as_user $(probe "$P/cap")
check "user, setcap: exit" 126 "$RC"
check "user, setcap: message" "$(printf "$capmsg" cap)" "$OUT"
# a script whose interpreter is setuid: what runs is the interpreter
as_user $(probe "$P/script")
check "user, script with a setuid interpreter: exit" 126 "$RC"
check "user, script with a setuid interpreter: message" "$(printf "$refusal" suid-root)" "$OUT"
# the user's own setuid program changes nothing: the loader keeps LD_PRELOAD
as_user $(probe "$P/user-suid")
check "user, own setuid program: runs faulted" "0 ECONNREFUSED" "$RC $OUT"
# execute-only (mode 4711, 0711): chaos-exec cannot read them, the loader runs them all the same
as_user $(probe "$P/suid-root-x")
xcheck unreadable-setuid-runs "user, setuid root, execute-only: refused" \
	"126 $(printf "$refusal" suid-root-x)" "$RC $OUT"
as_user $(probe "$P/cap-x")
xcheck unreadable-setuid-runs "user, setcap, execute-only: refused" \
	"126 $(printf "$capmsg" cap-x)" "$RC $OUT"
done_ok
