#!/usr/bin/env python3
"""mailbell demo (run it through contrib/demo.sh, which builds mailbell first).

Starts a throwaway Dovecot (with a freshly generated CA) and a private D-Bus session with
python3-dbusmock's stand-in notification service, runs the built mailbell against them with a
demo config (a rule that ignores a newsletter sender and one that makes mail whose subject starts
with "urgent" a critical notification), delivers five sample messages with an independent IMAP
client and shows, for each, the desktop notification mailbell sent (sender, subject and a preview
of the text), the line its hook wrote and the delay from APPEND to the hook. Everything lives in a temporary directory that is removed afterwards (unless --keep).

Exit status: 0 when the four expected messages were announced (hook, and notification with its
preview and urgency when mailbell has libnotify) and the newsletter was filtered out; 1 otherwise.

It reuses the integration-test harness (tests/integration/harness.py) for Dovecot, the CA, the
D-Bus session and the mailbell process. The mailbell binary is $MAILBELL, else build/src/mailbell.
"""

import datetime
import email.header
import os
import re
import shlex
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))
os.environ.setdefault('MAILBELL', os.path.join(REPO, 'build', 'src', 'mailbell'))

import harness as h  # noqa: E402

HOOK = os.path.join(REPO, 'contrib', 'hooks', 'log-mail.sh')
ACCOUNT = 'demo'
USER = 'alice'


def encoded(text):
	"""RFC 2047 encoded word(s) for text, as a mail program would send them."""
	return email.header.Header(text, 'utf-8').encode()


# (From header as sent, Subject header as sent, expected sender shown, expected subject shown,
#  body text, expected preview, filtered by a rule?, expected urgency hint: 1 normal, 2 critical)
SAMPLES = [
	('Ada Lovelace <ada@example.org>', 'Lunch on Thursday?',
	 'Ada Lovelace', 'Lunch on Thursday?',
	 'Hi,\n\nthe new place on   Main Street? 12:30.\n\nAda\n',
	 'Hi, the new place on Main Street? 12:30. Ada', False, 1),
	(f'{encoded("André Müller")} <andre@example.org>', encoded('Café at 10? Grüße ☕'),
	 'André Müller', 'Café at 10? Grüße ☕', 'Bis gleich!\n', 'Bis gleich!', False, 1),
	('Weekly Deals <deals@news.example.com>', 'This week only: 50% off everything',
	 'Weekly Deals', 'This week only: 50% off everything', 'Buy now.\n', '', True, 0),
	('Mallory <mallory@example.net>', '<b>Win</b> & more',
	 'Mallory', '<b>Win</b> & more', '<a href="http://evil.test">click</a>\n',
	 '<a href="http://evil.test">click</a>', False, 1),
	('Monitoring <alerts@ops.example.org>', 'URGENT: disk full on db1',
	 'Monitoring', 'URGENT: disk full on db1', '/var is at 100%.\n', '/var is at 100%.', False, 2),
]


def say(text=''):
	print(text, flush=True)


def step(n, text):
	say(f'\n[{n}/5] {text}')


def indent(text, prefix='      '):
	return '\n'.join(prefix + line if line else line for line in text.splitlines())


def has_libnotify(mailbell):
	"""Whether the binary was built with libnotify (read from its build dir's mb-config.h)."""
	cfg = os.path.join(os.path.dirname(os.path.dirname(mailbell)), 'mb-config.h')
	try:
		with open(cfg) as f:
			return re.search(r'#define HAVE_LIBNOTIFY 1\b', f.read()) is not None
	except OSError:
		return True  # unknown: expect notifications


def hook_lines(path):
	try:
		with open(path, encoding='utf-8', errors='replace') as f:
			return [line.rstrip('\n') for line in f if line.strip()]
	except FileNotFoundError:
		return []


def hook_line_for(path, uid):
	for line in hook_lines(path):
		fields = line.split('\t')
		if len(fields) >= 3 and fields[2] == f'uid {uid}':
			return line
	return None


def main():
	keep = '--keep' in sys.argv[1:]
	unknown = [a for a in sys.argv[1:] if a != '--keep']
	if unknown:
		say(f'usage: contrib/demo.sh [--keep]  (unknown argument {unknown[0]!r})')
		return 2

	mailbell = os.environ['MAILBELL']
	missing = h.missing_requirements(('dovecot', 'openssl', 'dbus', 'mailbell'))
	if missing:
		say('demo: missing ' + ', '.join(missing) + ' (contrib/demo.sh installs them as root)')
		return 1
	want_notify = has_libnotify(mailbell)

	t0 = time.monotonic()
	tmp = tempfile.mkdtemp(prefix='mailbell-demo-')
	os.chmod(tmp, 0o755)  # Dovecot, run as root, reads its files as another user
	dovecot = bus = mb = None
	ok = False
	try:
		say(f'mailbell demo: a throwaway mail server, a stand-in desktop, {len(SAMPLES)} messages')
		say('=' * 76)

		step(1, 'Certificates: a private CA and a certificate for localhost (openssl)')
		certs = h.make_ca(os.path.join(tmp, 'certs'))
		say(f'      CA: {certs.ca_crt}')

		step(2, 'Dovecot on 127.0.0.1 with user "alice", in a temporary directory')
		dovecot = h.Dovecot(certs, parent_dir=tmp)
		dovecot.start()
		say(f'      listening on port {dovecot.imaps_port} (implicit TLS) and {dovecot.imap_port} (STARTTLS)')

		step(3, 'A private D-Bus session bus with a notification service (python3-dbusmock)')
		if want_notify:
			bus = h.NotificationBus(parent_dir=tmp).start()
			say(f'      DBUS_SESSION_BUS_ADDRESS={bus.address}')
		else:
			say('      skipped: this mailbell was built without libnotify (hooks only)')

		step(4, 'mailbell, with this configuration:')
		hook_log = os.path.join(tmp, 'mail.log')
		hook_cmd = f'{shlex.quote(HOOK)} {shlex.quote(hook_log)}'
		account = h.Mailbell.account(dovecot, USER, 'implicit')
		rules = [('newsletters', {'from': '*@news.example.com', 'action': 'ignore'}),
			 ('urgent', {'subject': r'~^urgent\b', 'urgency': 'critical'})]
		# one notification per message, to show each preview: by default mail for a mailbox
		# within 2 s of the last is grouped into one notification updated in place
		general = {'notify': 'yes' if want_notify else 'no', 'hook': hook_cmd, 'coalesce': '0s'}
		env = {'DBUS_SESSION_BUS_ADDRESS': bus.address} if bus else {}
		mb = h.Mailbell({ACCOUNT: account}, rules=rules, general=general, hook=False, env=env,
				parent_dir=tmp)
		with open(mb.config) as f:
			shown = re.sub(r'(?m)^(password = ).*$', r'\1********', f.read())
		say(indent(shown.rstrip()))
		mb.start()
		mb.wait_idle(ACCOUNT, timeout=20)
		say(f'      -> "{ACCOUNT}: idling on INBOX" after {time.monotonic() - t0:.1f} s: mailbell waits for mail')

		step(5, f'Delivering {len(SAMPLES)} messages with an independent IMAP client (Python imaplib, APPEND)')
		results = []
		for i, (raw_from, raw_subject, name, subject, body, preview, filtered, urgency) in \
				enumerate(SAMPLES, 1):
			raw, _ = h.make_message(from_=raw_from, subject=raw_subject, body=body)
			_, uid = h.append(dovecot, USER, dovecot.users[USER], 'INBOX', raw)
			appended = dovecot.last_append_time
			say(f'\n  {i}. From:    {raw_from}')
			say(f'     Subject: {raw_subject}')
			r = {'uid': uid, 'name': name, 'subject': subject, 'filtered': filtered,
			     'preview': preview, 'urgency': urgency,
			     'appended': appended, 'line': None, 'delay': None}
			if filtered:
				mb.wait_log(rf'uid {uid} from \S+ ignored by rule newsletters', timeout=10)
				time.sleep(0.5)  # and nothing else happens for it
				say('     -> ignored by [rule newsletters]: no notification, no hook')
			else:
				try:
					h.wait_until(lambda: hook_line_for(hook_log, uid), 10, 0.01,
						     f'the hook line for uid {uid}')
				except TimeoutError:
					say('     -> NOT announced within 10 s')
					results.append(r)
					continue
				line = hook_line_for(hook_log, uid)
				stamp = datetime.datetime.fromisoformat(line.split('\t')[0]).timestamp()
				r['line'], r['delay'] = line, stamp - appended
				say(f'     -> hook ran {r["delay"]:.2f} s after the APPEND')
			results.append(r)

		announced = [r for r in results if not r['filtered']]
		time.sleep(0.3)  # let the last notification reach the bus

		say('\n' + '=' * 76)
		say('Desktop notifications mailbell sent (org.freedesktop.Notifications.Notify):')
		notes = []
		if bus:
			notes = bus.notifications()
			urgencies = {0: 'low', 1: 'normal', 2: 'critical'}
			for n in notes:
				say(f'  summary: {n["summary"]}')
				body = n['body'].split('\n')
				say(f'  body:    {body[0]}')
				for more in body[1:]:
					say(f'           {more}   <- preview of the text')
				say(f'           (icon {n["app_icon"]}, category {n["hints"].get("category")}, '
				    f'urgency {urgencies.get(n["hints"].get("urgency"), "?")})')
			say('  The body is markup-escaped, so a notification service shows "<b>Win</b> & more"')
			say('  literally instead of rendering mail-supplied markup. [rule urgent] matched the')
			say('  subject "URGENT: disk full on db1" (a case-insensitive regular expression) and made')
			say('  that notification critical.')
		else:
			say('  none: built without libnotify')

		say('\nHook output (contrib/hooks/log-mail.sh; fields: time, account/mailbox, uid, from, subject):')
		lines = hook_lines(hook_log)
		for line in lines:
			say('  ' + line.replace('\t', ' | '))

		say('\nDelay from APPEND to hook (Dovecot itself batches IDLE notifications for ~0.5 s):')
		for r in announced:
			d = f'{r["delay"]:.3f} s' if r['delay'] is not None else 'not announced'
			say(f'  uid {r["uid"]}: {d}')

		say('\nWhat mailbell logged (with -v, debug lines left out):')
		for line in mb.log().splitlines():
			if 'debug:' not in line:
				say('  ' + line)

		# ---- verdict
		problems = []
		for r in announced:
			if r['line'] is None:
				problems.append(f'uid {r["uid"]}: no hook line')
				continue
			fields = r['line'].split('\t')
			if len(fields) < 5 or fields[4] != r['subject'] or not fields[3].startswith(r['name']):
				problems.append(f'uid {r["uid"]}: unexpected hook line {r["line"]!r}')
		filtered = [r['uid'] for r in results if r['filtered']]
		if any(hook_line_for(hook_log, uid) for uid in filtered):
			problems.append('the newsletter reached the hook')
		if len(lines) != len(announced):
			problems.append(f'{len(lines)} hook lines, expected {len(announced)}')
		if bus:
			# as g_markup_escape_text() does
			esc = lambda t: (t.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
					 .replace('"', '&quot;').replace("'", '&#39;'))
			got = [(n['summary'], n['body'], n['hints'].get('urgency')) for n in notes]
			want = [(r['name'], esc(r['subject'] + '\n' + r['preview']), r['urgency']) for r in announced]
			if got != want:
				problems.append(f'notifications {got}, expected {want}')

		rc = mb.stop()
		if rc != 0:
			problems.append(f'mailbell exited with status {rc} after SIGTERM')
		say('\n' + '=' * 76)
		if problems:
			say('demo FAILED:')
			for p in problems:
				say('  - ' + p)
		else:
			n = len(announced)
			say(f'OK: {n} of {n} messages announced, the newsletter filtered out, mailbell stopped '
			    f'cleanly. ({time.monotonic() - t0:.1f} s in all)')
		ok = not problems
	except Exception as e:  # show what went wrong, with mailbell's log, and clean up
		say(f'\ndemo FAILED: {e}')
		if mb is not None:
			say('mailbell log:\n' + indent(mb.log(), '  '))
	finally:
		if mb is not None:
			if mb.running():
				try:
					mb.stop()
				except AssertionError:
					pass
		if bus is not None:
			bus.stop()
		if dovecot is not None:
			dovecot.stop()
		if keep:
			say(f'\nkept {tmp} (config, state, logs)')
		else:
			shutil.rmtree(tmp, ignore_errors=True)
	return 0 if ok else 1


if __name__ == '__main__':
	sys.exit(main())
