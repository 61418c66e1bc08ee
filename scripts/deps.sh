#!/bin/sh
# deps.sh -- install the Debian packages that building and testing chaos needs, if any is missing
#
# Quiet and fast (one dpkg-query) when everything is there; otherwise apt-get installs what is
# missing (as root, or through sudo).  `scripts/deps.sh --list` prints the missing packages.
set -eu

# build: compiler, libraries, eBPF toolchain; tests: the real clients and servers they drive
PACKAGES="build-essential pkg-config clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool \
libcjson-dev libcmocka-dev libcurl4-openssl-dev libclang-rt-14-dev \
curl openssl python3 nodejs redis-server redis-tools iproute2 nftables strace \
fiu-utils golang-go hyperfine procps psmisc util-linux jq libyaml-dev libpcre2-dev libcap2-bin chromium"

missing=""
for p in $PACKAGES; do
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" in
	"install ok installed") ;;
	*)
		# a package satisfied by another provider (nodejs from nodesource, python3 from pyenv)
		case "$p" in
		nodejs) command -v node >/dev/null 2>&1 && continue ;;
		python3) command -v python3 >/dev/null 2>&1 && continue ;;
		esac
		missing="$missing $p"
		;;
	esac
done

if [ "${1:-}" = "--list" ]; then
	echo "$missing"
	exit 0
fi
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps.sh: need root to run: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
