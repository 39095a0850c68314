#!/bin/sh
# Build mailbell and run the whole test suite (unit + integration).
#
#   tests/run.sh           build in ./build and run `meson test`
#   tests/run.sh --asan    the same in ./build-asan with -Db_sanitize=address,undefined
#                          (or MAILBELL_ASAN=1), without the minutes-long suite 'slow'
#                          (fault injection, soak, restart)
#
# As root on Debian, missing build and test packages are installed first (apt-get).
# BUILD_DIR overrides the build directory. Exit status: meson test's (or the failing step's).
set -eu

cd "$(dirname "$0")/.."

asan=${MAILBELL_ASAN:-0}
for arg in "$@"; do
	case $arg in
	--asan) asan=1 ;;
	-h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "tests/run.sh: unknown argument: $arg" >&2; exit 2 ;;
	esac
done

build_pkgs="meson ninja-build pkg-config gcc libssl-dev libinih-dev libglib2.0-dev libgmime-3.0-dev libjson-glib-dev libnotify-dev check scdoc"
test_pkgs="dovecot-imapd python3 python3-dbusmock dbus openssl desktop-file-utils"

if command -v dpkg-query >/dev/null 2>&1; then
	missing=
	for p in $build_pkgs $test_pkgs; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
			missing="$missing $p"
		fi
	done
	if [ -n "$missing" ]; then
		if [ "$(id -u)" -eq 0 ]; then
			echo "tests/run.sh: installing:$missing"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update
			# shellcheck disable=SC2086
			apt-get install -y --no-install-recommends $missing
			# the dovecot package starts the system dovecot; the tests run their own
		else
			echo "tests/run.sh: missing Debian packages (run as root to install):$missing" >&2
		fi
	fi
fi

if [ "$asan" = 1 ]; then
	build=${BUILD_DIR:-build-asan}
	set -- -Db_sanitize=address,undefined -Db_lundef=false
else
	build=${BUILD_DIR:-build}
	set --
fi

if [ -f "$build/build.ninja" ]; then
	meson setup --reconfigure "$build" "$@"
else
	meson setup "$build" "$@"
fi
ninja -C "$build"

status=0
if [ "$asan" = 1 ]; then
	# the minutes-long fault/soak/restart suite runs in the normal build
	meson test -C "$build" --print-errorlogs --no-suite slow || status=$?
else
	meson test -C "$build" --print-errorlogs || status=$?
fi
exit $status
