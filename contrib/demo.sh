#!/bin/sh
# mailbell demo: see new mail announced within a second, without touching any
# real mailbox.
#
#   contrib/demo.sh [--keep]
#
# 1. Checks the Debian packages it needs; as root it installs the missing ones
#    (apt-get update; apt-get install --no-install-recommends ...), otherwise it
#    prints the command to run and exits 1.
# 2. Builds mailbell and its man pages with meson into build/ (set up if needed).
# 3. Runs contrib/demo.py: a throwaway Dovecot with a freshly generated CA, a
#    private D-Bus session with a stand-in notification service, mailbell with a
#    demo config (one account over TLS, a hook, a rule ignoring a newsletter
#    sender, a rule making "urgent" subjects critical), five sample messages,
#    and what became of each of them (notification with its preview, hook line).
#
# --keep leaves the temporary directory (configs, logs) in place and says where.
# BUILD_DIR overrides the build directory (default: build).
# Exit status: 0 when the four expected messages were announced and the
# newsletter was not; 1 otherwise (2 for an unknown argument).
set -eu

cd "$(dirname "$0")/.."

pkgs="meson ninja-build pkg-config gcc libssl-dev libinih-dev libglib2.0-dev libgmime-3.0-dev libjson-glib-dev
libnotify-dev check scdoc dovecot-imapd python3 python3-dbusmock dbus openssl"

missing=
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $pkgs; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
			missing="$missing $p"
		fi
	done
else
	# shellcheck disable=SC2086
	echo "contrib/demo.sh: no dpkg-query (not Debian?); assuming these are installed:" $pkgs >&2
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "contrib/demo.sh: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		# shellcheck disable=SC2086
		apt-get install -y --no-install-recommends $missing
	else
		echo "contrib/demo.sh: missing Debian packages:$missing" >&2
		echo "Install them with:" >&2
		echo "  sudo apt-get install --no-install-recommends$missing" >&2
		exit 1
	fi
fi

build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build"
fi
# everything, man pages included (README: man -l build/man/mailbell.ini.5)
ninja -C "$build"

MAILBELL=$(cd "$build" && pwd)/src/mailbell
export MAILBELL
exec python3 contrib/demo.py "$@"
