#!/bin/sh
# mailbell screenshot: what a notification looks like on a real notification
# server (dunst), taken without a desktop and without touching a real mailbox.
#
#   contrib/screenshot.sh [--keep]
#
# 1. Checks the Debian packages it needs (those of contrib/demo.sh, minus
#    python3-dbusmock, plus Xvfb, dunst, ImageMagick, x11-utils, a font and an
#    icon theme); as root it installs the missing ones (apt-get update;
#    apt-get install --no-install-recommends ...), otherwise it prints the
#    command to run and exits 1.
# 2. Builds mailbell into build/ (set up if needed), unless MAILBELL names a
#    binary to use instead.
# 3. Starts Xvfb on a free display, a private D-Bus session bus, dunst on both
#    (with a config of its own: DejaVu Sans, action indicators on, no timeout),
#    a throwaway Dovecot with a freshly generated CA (tests/integration/
#    harness.py), and mailbell (notify = yes, open_cmd = true, one account
#    "demo" over TLS). Once mailbell is idling it delivers one message, waits
#    until mailbell has sent its notification (dbus-monitor) and dunst has
#    drawn it, takes the screen (ImageMagick's import) and crops it to dunst's
#    window (xwininfo): contrib/screenshot.png. Then it closes that
#    notification, delivers three messages at once and takes the grouped
#    notification ("3 new messages in demo/INBOX"):
#    contrib/screenshot-grouped.png. Both pictures are written, or neither.
# 4. Stops everything and removes its temporary directory (--keep keeps it:
#    configs, logs and the uncropped screens).
#
# OUT_DIR overrides where the pictures go (default: contrib).
# BUILD_DIR overrides the build directory (default: build).
# Exit status: 0 when both pictures were written; 1 when a notification did not
# appear on the screen (or something else failed); 2 for an unknown argument.
set -eu

cd "$(dirname "$0")/.."

pkgs="meson ninja-build pkg-config gcc libssl-dev libinih-dev libglib2.0-dev libgmime-3.0-dev libjson-glib-dev
libnotify-dev dovecot-imapd python3 dbus openssl
xvfb dunst imagemagick x11-utils fonts-dejavu-core adwaita-icon-theme"

missing=
if command -v dpkg-query >/dev/null 2>&1; then
	for p in $pkgs; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
			missing="$missing $p"
		fi
	done
else
	# shellcheck disable=SC2086
	echo "contrib/screenshot.sh: no dpkg-query (not Debian?); assuming these are installed:" $pkgs >&2
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "contrib/screenshot.sh: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		# shellcheck disable=SC2086
		apt-get install -y --no-install-recommends $missing
	else
		echo "contrib/screenshot.sh: missing Debian packages:$missing" >&2
		echo "Install them with:" >&2
		echo "  sudo apt-get install --no-install-recommends$missing" >&2
		exit 1
	fi
fi

if [ -z "${MAILBELL:-}" ]; then
	build=${BUILD_DIR:-build}
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build"
	fi
	ninja -C "$build" src/mailbell
	MAILBELL=$(cd "$build" && pwd)/src/mailbell
fi
export MAILBELL
OUT_DIR=${OUT_DIR:-contrib}
export OUT_DIR

exec python3 - "$@" <<'EOF'
"""The screenshot itself: Xvfb, a session bus, dunst, Dovecot and mailbell (see the top of
contrib/screenshot.sh). Reuses tests/integration/harness.py like contrib/demo.py does."""

import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.getcwd()
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

import harness as h  # noqa: E402

ACCOUNT = 'demo'
USER = 'alice'
WIDTH = 460  # dunst's window, in pixels

DUNSTRC = '''\
[global]
    monitor = 0
    follow = none
    width = {width}
    height = 400
    origin = top-right
    offset = 20x20
    scale = 1
    notification_limit = 5
    indicate_hidden = yes
    transparency = 0
    padding = 12
    horizontal_padding = 14
    text_icon_padding = 14
    frame_width = 2
    frame_color = "#88c0d0"
    separator_height = 2
    separator_color = frame
    gap_size = 6
    sort = yes
    font = DejaVu Sans 11
    line_height = 2
    markup = full
    format = "<span size='small' foreground='#88c0d0'>%a</span>\\n<b>%s</b>\\n%b"
    alignment = left
    vertical_alignment = center
    show_age_threshold = -1
    ellipsize = end
    ignore_newline = no
    stack_duplicates = false
    hide_duplicate_count = true
    show_indicators = yes
    enable_recursive_icon_lookup = true
    icon_theme = Adwaita
    icon_position = left
    min_icon_size = 48
    max_icon_size = 48
    sticky_history = yes
    history_length = 20
    dmenu = /bin/false
    browser = /bin/false
    title = Dunst
    class = Dunst
    corner_radius = 0
    mouse_left_click = do_action, close_current
    mouse_middle_click = close_current
    mouse_right_click = close_all

[urgency_low]
    background = "#2e3440"
    foreground = "#d8dee9"
    timeout = 0

[urgency_normal]
    background = "#2e3440"
    foreground = "#eceff4"
    timeout = 0

[urgency_critical]
    background = "#3b2228"
    foreground = "#eceff4"
    frame_color = "#bf616a"
    timeout = 0
'''

SINGLE = ('Ada Lovelace <ada@example.org>', 'Lunch on Thursday?',
	  'Hi Alice,\n\nthe new place on Main Street opens at noon. Shall I book a table for '
	  '12:30? They have a terrace.\n\nAda\n')

BURST = [
	('Grace Hopper <grace@navy.example.mil>', 'Re: compiler review notes',
	 'Thanks, I merged your fixes.\n'),
	('Build Bot <ci@build.example.org>', 'Nightly build #1432 passed',
	 'All 212 tests passed in 4m 12s.\n'),
	('Linus Example <linus@example.com>', 'Slides for Friday',
	 'Attached are the slides, comments welcome.\n'),
]


def say(text=''):
	print(text, flush=True)


class Fail(Exception):
	pass


def run(argv, env, timeout=20, check=True):
	r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
			   timeout=timeout, stdin=subprocess.DEVNULL)
	if check and r.returncode != 0:
		raise Fail(f'{argv[0]} failed ({r.returncode}): {r.stderr.strip()}')
	return r


def start_xvfb(tmp):
	"""Xvfb on a free display (-displayfd); returns (process, ':N')."""
	rfd, wfd = os.pipe()
	with open(os.path.join(tmp, 'xvfb.log'), 'wb') as log:
		p = h._spawn([h.which('Xvfb'), '-displayfd', str(wfd), '-screen', '0', '1024x768x24',
			      '-dpi', '96', '-nolisten', 'tcp', '-noreset'],
			     pass_fds=(wfd,), stdout=log, stderr=subprocess.STDOUT)
	os.close(wfd)
	got = b''
	deadline = time.monotonic() + 20
	while not got.endswith(b'\n'):
		left = deadline - time.monotonic()
		r, _, _ = select.select([rfd], [], [], max(left, 0))
		if not r:
			break
		chunk = os.read(rfd, 64)
		if not chunk:
			break
		got += chunk
	os.close(rfd)
	if not got.strip().isdigit():
		raise Fail('Xvfb did not start: ' + open(os.path.join(tmp, 'xvfb.log'),
							 errors='replace').read())
	return p, ':' + got.strip().decode()


def displayed(env):
	r = run(['dunstctl', 'count', 'displayed'], env, check=False)
	return int(r.stdout) if r.returncode == 0 and r.stdout.strip().isdigit() else None


def dunst_window(env):
	"""(x, y, width, height) of dunst's window when it is on screen, else None."""
	tree = run(['xwininfo', '-root', '-tree'], env).stdout
	for m in re.finditer(r'^\s*(0x[0-9a-f]+) "Dunst": \("Dunst" "Dunst"\)', tree, re.M):
		info = run(['xwininfo', '-id', m.group(1)], env).stdout
		if 'Map State: IsViewable' not in info:
			continue
		val = lambda key: int(re.search(rf'{key}:\s+(-?\d+)', info).group(1))
		return (val('Absolute upper-left X'), val('Absolute upper-left Y'), val('Width'),
			val('Height'))
	return None


def shoot(env, tmp, name, out):
	"""The screen, cropped to dunst's window, as out. Fails when no notification is shown."""
	n = displayed(env)
	geo = dunst_window(env)
	if not n or geo is None:
		raise Fail(f'no notification on the screen for {name} (dunst shows {n}, '
			   f'window {geo})')
	full = os.path.join(tmp, f'{name}-screen.png')
	run(['import', '-window', 'root', full], env)
	x, y, w, hgt = geo
	run(['convert', full, '-crop', f'{w}x{hgt}+{x}+{y}', '+repage', '-strip', out], env)
	say(f'      {name}: {w}x{hgt} pixels, {os.path.getsize(out) // 1024 + 1} KiB '
	    f'(dunst shows {n} notification{"s" if n != 1 else ""})')


def notify_calls(path):
	"""The (summary, body) of every Notify call dbus-monitor logged so far."""
	try:
		with open(path, encoding='utf-8', errors='replace') as f:
			text = f.read()
	except FileNotFoundError:
		return []
	calls = []
	for block in re.split(r'\n(?=method call )', text):
		if 'member=Notify' not in block.split('\n', 1)[0]:
			continue
		strings = re.findall(r'^\s*string "(.*?)"$', block, re.M | re.S)
		if len(strings) >= 4:  # app_name, app_icon, summary, body, then the actions
			calls.append((strings[2], strings[3]))
	return calls


def deliver(dovecot, monitor_log, messages, summary, body_has):
	"""APPEND the messages (one IMAP connection each) and wait until mailbell has sent a
	notification with that summary and a body containing body_has."""
	for from_, subject, body in messages:
		raw, _ = h.make_message(from_=from_, subject=subject, body=body,
					to='Alice Example <alice@example.org>')
		_, uid = h.append(dovecot, USER, dovecot.users[USER], 'INBOX', raw)
		say(f'      uid {uid}: From: {from_} / Subject: {subject}')
	try:
		h.wait_until(lambda: any(s == summary and body_has in b for s, b in
					 notify_calls(monitor_log)), 20, 0.1,
			     f'a notification "{summary}"')
	except TimeoutError:
		raise Fail(f'mailbell sent no notification "{summary}" within 20 s; it sent: '
			   f'{notify_calls(monitor_log)}') from None


def main():
	keep = '--keep' in sys.argv[1:]
	unknown = [a for a in sys.argv[1:] if a != '--keep']
	if unknown:
		say(f'usage: contrib/screenshot.sh [--keep]  (unknown argument {unknown[0]!r})')
		return 2
	out_dir = os.environ.get('OUT_DIR', 'contrib')
	missing = h.missing_requirements(('dovecot', 'openssl', 'mailbell'))
	missing += [p for p in ('Xvfb', 'dunst', 'dunstctl', 'dbus-daemon', 'dbus-monitor', 'import',
				'convert', 'xwininfo') if not h.which(p)]
	if missing:
		say('screenshot: missing ' + ', '.join(missing) + ' (contrib/screenshot.sh installs '
		    'them as root)')
		return 1

	t0 = time.monotonic()
	tmp = tempfile.mkdtemp(prefix='mailbell-screenshot-')
	os.chmod(tmp, 0o755)  # Dovecot, run as root, reads its files as another user
	xvfb = dunst = monitor = bus = dovecot = mb = None
	ok = False
	try:
		say('[1/5] Xvfb, a private D-Bus session bus and dunst')
		xvfb, display = start_xvfb(tmp)
		bus = h.NotificationBus(parent_dir=tmp, mock=False).start()
		rc = os.path.join(tmp, 'dunstrc')
		with open(rc, 'w') as f:
			f.write(DUNSTRC.format(width=WIDTH))
		env = {k: v for k, v in os.environ.items()
		       if k not in ('WAYLAND_DISPLAY', 'XAUTHORITY')}
		env.update(DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=bus.address, HOME=tmp,
			   XDG_RUNTIME_DIR=tmp, XDG_CONFIG_HOME=os.path.join(tmp, 'config'),
			   LANG='C.UTF-8', LC_ALL='C.UTF-8')
		with open(os.path.join(tmp, 'dunst.log'), 'wb') as log:
			dunst = h._spawn([h.which('dunst'), '-config', rc], env=env, stdout=log,
					 stderr=subprocess.STDOUT)
		try:
			h.wait_until(lambda: displayed(env) is not None, 15, 0.1, 'dunst on the bus')
		except TimeoutError:
			raise Fail('dunst did not start: ' + open(os.path.join(tmp, 'dunst.log'),
								   errors='replace').read()) from None
		say(f'      DISPLAY={display} DBUS_SESSION_BUS_ADDRESS={bus.address}')
		# what mailbell asks dunst to show, to know when it has
		monitor_log = os.path.join(tmp, 'notify.log')
		with open(monitor_log, 'wb') as log:
			monitor = h._spawn([h.which('dbus-monitor'), '--address', bus.address,
					    "type='method_call',interface='org.freedesktop.Notifications'"],
					   env=env, stdout=log, stderr=subprocess.STDOUT)

		say('[2/5] Dovecot with a freshly generated CA')
		certs = h.make_ca(os.path.join(tmp, 'certs'))
		dovecot = h.Dovecot(certs, parent_dir=tmp)
		dovecot.start()

		say(f'[3/5] mailbell ({os.environ["MAILBELL"]})')
		account = h.Mailbell.account(dovecot, USER, 'implicit')
		mb = h.Mailbell({ACCOUNT: account}, general={'notify': 'yes', 'open_cmd': 'true'},
				hook=False, parent_dir=tmp,
				env={'DBUS_SESSION_BUS_ADDRESS': bus.address, 'DISPLAY': display})
		mb.start()
		mb.wait_idle(ACCOUNT, timeout=30)

		say('[4/5] One message')
		deliver(dovecot, monitor_log, [SINGLE], 'Ada Lovelace', 'Main Street')
		time.sleep(1)  # for dunst to draw it
		shoot(env, tmp, 'single', os.path.join(tmp, 'screenshot.png'))

		say('[5/5] Three messages at once')
		run(['dunstctl', 'close-all'], env)
		h.wait_until(lambda: displayed(env) == 0, 10, 0.1, 'dunst to close the notification')
		time.sleep(0.5)  # mailbell hears NotificationClosed: the next mail starts a new one
		deliver(dovecot, monitor_log, BURST, f'3 new messages in {ACCOUNT}/INBOX',
			BURST[0][0].split(' <')[0])
		time.sleep(1)
		shoot(env, tmp, 'grouped', os.path.join(tmp, 'screenshot-grouped.png'))

		rc = mb.stop()
		if rc != 0:
			raise Fail(f'mailbell exited with status {rc} after SIGTERM')
		os.makedirs(out_dir, exist_ok=True)
		for name in ('screenshot.png', 'screenshot-grouped.png'):  # both or neither
			shutil.copyfile(os.path.join(tmp, name), os.path.join(out_dir, name))
			say(f'wrote {os.path.join(out_dir, name)}')
		say(f'OK ({time.monotonic() - t0:.1f} s in all)')
		ok = True
	except (Fail, AssertionError, OSError, RuntimeError, TimeoutError,
		subprocess.SubprocessError) as e:
		say(f'\nscreenshot FAILED: {e}')
		if mb is not None:
			say('mailbell log:\n' + mb.log())
	finally:
		if mb is not None and mb.running():
			try:
				mb.stop()
			except AssertionError:
				pass
		h._terminate(dunst)
		h._terminate(monitor)
		if bus is not None:
			bus.stop()
		h._terminate(xvfb)
		if dovecot is not None:
			dovecot.stop()
		if keep:
			say(f'kept {tmp} (configs, logs, whole screens)')
		else:
			shutil.rmtree(tmp, ignore_errors=True)
	return 0 if ok else 1


sys.exit(main())
EOF
