#!/usr/bin/env python3
"""Issue 8 on a real Dovecot with a private session bus: `mailbell ctl` (status, pause, resume,
reconnect, reload), quiet hours, reload by SIGHUP, three rejected sign-ins, SIGUSR2."""

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402


class CtlTest(h.DovecotTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		try:
			cls.bus = h.NotificationBus(parent_dir=cls.tmp).start()
		except BaseException:
			super().tearDownClass()
			raise

	@classmethod
	def tearDownClass(cls):
		cls.bus.cleanup()
		super().tearDownClass()

	def setUp(self):
		super().setUp()
		self.seen = len(self.bus.notifications())

	def new_notes(self):
		return self.bus.notifications()[self.seen:]

	def start(self, accounts=None, general=None, wait=None, **kw):
		accounts = accounts or {'work': h.Mailbell.account(self.dovecot, 'alice')}
		g = {'notify': 'yes'}
		g.update(general or {})
		mb = self.mailbell(accounts, general=g, env={'DBUS_SESSION_BUS_ADDRESS': self.bus.address}, **kw)
		for name in (accounts if wait is None else wait):
			mb.wait_idle(name)
		self.wait_ctl(mb)
		return mb

	def ctl(self, mb, *args, env=None):
		e = dict(mb.env)
		e['DBUS_SESSION_BUS_ADDRESS'] = self.bus.address
		e.update(env or {})
		return subprocess.run([h.mailbell_path(), 'ctl', *args], stdout=subprocess.PIPE,
				      stderr=subprocess.PIPE, text=True, env=e, timeout=30)

	def status(self, mb):
		r = self.ctl(mb, 'status', '--json')
		self.assertEqual(r.returncode, 0, r.stderr)
		return json.loads(r.stdout)

	def wait_ctl(self, mb):
		h.wait_until(lambda: self.ctl(mb, 'status', '--json').returncode == 0, 10, 0.1,
			     'the control interface on the bus')

	def wait_status(self, mb, pred, what, timeout=15):
		last = []

		def ok():
			last[:] = [self.status(mb)]
			return pred(last[0])
		try:
			h.wait_until(ok, timeout, 0.2, what)
		except TimeoutError:
			self.fail(f'{what}: status stayed {json.dumps(last[0], indent=1)}\n{mb.log()}')
		return last[0]

	# ---------------------------------------------------------------------------------

	def test_status_while_idle_and_after_mail(self):
		mb = self.start()
		st = self.status(mb)
		self.assertEqual(st['version'], subprocess.run([h.mailbell_path(), '--version'],
								 stdout=subprocess.PIPE, text=True).stdout.split()[1])
		self.assertEqual(st['pid'], mb.pid())
		self.assertFalse(st['paused'])
		self.assertIsNone(st['paused_until'])
		[a] = st['accounts']
		self.assertEqual((a['name'], a['state'], a['last_error'], a['quiet']), ('work', 'idle', None, False))
		self.assertLessEqual(abs(a['since'] - time.time()), 60)
		self.assertEqual(a['connections'][0]['mailboxes'], ['INBOX'])
		self.assertEqual(a['mailboxes'], [{'name': 'INBOX', 'last_message': None, 'reported': 0,
						   'unseen': None}])
		self.deliver('alice', 'A', 'a@example.org', 'counted')
		mb.wait_hooks(1)
		st = self.wait_status(mb, lambda s: s['accounts'][0]['mailboxes'][0]['reported'] == 1,
				      'one message reported')
		self.assertLessEqual(abs(st['accounts'][0]['mailboxes'][0]['last_message'] - time.time()), 60)
		human = self.ctl(mb, 'status')
		self.assertEqual(human.returncode, 0, human.stderr)
		self.assertRegex(human.stdout, r'(?m)^notifications: on$')
		self.assertRegex(human.stdout, r'(?m)^work: idle since \d\d:\d\d:\d\d$')
		self.assertRegex(human.stdout, r'(?m)^  INBOX: 1 reported since start, the last at ')
		self.assertStoppedCleanly(mb)

	def test_status_says_when_notifications_are_off(self):
		# notify = no for one account: "no notifications" under it; for every account: the first
		# line says off, whatever a pause says
		mb = self.start({'work': h.Mailbell.account(self.dovecot, 'alice'),
				 'quiet': h.Mailbell.account(self.dovecot, 'bob', notify='no')})
		st = self.status(mb)
		self.assertEqual([(a['name'], a['notify']) for a in st['accounts']], [('work', True), ('quiet', False)])
		human = self.ctl(mb, 'status').stdout
		self.assertRegex(human, r'(?m)^notifications: on$')
		self.assertRegex(human, r'(?m)^quiet: idle since [^\n]*\n  no notifications \(notify = no\)$')
		self.assertNotRegex(human, r'(?m)^work: idle since [^\n]*\n  no notifications')
		self.assertStoppedCleanly(mb)
		mb = self.start(general={'notify': 'no'})
		st = self.status(mb)
		self.assertFalse(st['accounts'][0]['notify'])
		self.assertRegex(self.ctl(mb, 'status').stdout, r'(?m)^notifications: off \(notify = no\)$')
		self.assertStoppedCleanly(mb)

	def test_status_during_backoff(self):
		dead = h.free_port()
		bad = dict(h.Mailbell.account(self.dovecot, 'bob'), port=str(dead))
		mb = self.start({'work': h.Mailbell.account(self.dovecot, 'alice'), 'down': bad}, wait=['work'])
		st = self.wait_status(mb, lambda s: s['accounts'][1]['state'] == 'backoff', 'down backing off')
		down = st['accounts'][1]
		self.assertEqual(st['accounts'][0]['state'], 'idle')
		self.assertIsNotNone(down['retry_at'])
		self.assertGreaterEqual(down['retry_at'], int(time.time()) - 1)
		self.assertRegex(down['last_error'], r'(?i)refused')
		human = self.ctl(mb, 'status').stdout
		self.assertRegex(human, r'(?m)^down: backing off since .*, next try at .*\(.*refused.*\)$')
		self.assertStoppedCleanly(mb)

	def test_pause_holds_notifications_and_resume_summarizes(self):
		mb = self.start()
		r = self.ctl(mb, 'pause', '1h')
		self.assertEqual(r.returncode, 0, r.stderr)
		st = self.status(mb)
		self.assertTrue(st['paused'])
		self.assertAlmostEqual(st['paused_until'], time.time() + 3600, delta=60)
		m1 = self.deliver('alice', 'Held One', 'one@example.org', 'while paused 1')
		m2 = self.deliver('alice', 'Held Two', 'two@example.org', 'while paused 2')
		recs = mb.wait_hooks(2)  # hooks still run
		self.assertEqual(sorted(int(r['MAILBELL_UID']) for r in recs), sorted([m1['uid'], m2['uid']]))
		self.wait_status(mb, lambda s: s['held'] == 2, 'two held')
		time.sleep(1)
		self.assertEqual(self.new_notes(), [])
		self.assertRegex(self.ctl(mb, 'status').stdout, r'(?m)^notifications: paused until .* \(2 held\)$')
		r = self.ctl(mb, 'resume')
		self.assertEqual(r.returncode, 0, r.stderr)
		self.bus.wait_notifications(self.seen + 1)
		time.sleep(0.5)
		notes = self.new_notes()
		self.assertEqual([n['summary'] for n in notes], ['2 new messages while paused: 2 work'])
		st = self.status(mb)
		self.assertFalse(st['paused'])
		self.assertEqual(st['held'], 0)
		# and a message now is shown at once
		self.deliver('alice', 'After', 'after@example.org', 'after resume')
		self.bus.wait_notifications(self.seen + 2)
		self.assertEqual(self.new_notes()[1]['summary'], 'After')
		self.assertStoppedCleanly(mb)

	def test_pause_survives_a_restart_until_it_expires(self):
		mb = self.start()
		self.assertEqual(self.ctl(mb, 'pause', '2h').returncode, 0)
		until = self.status(mb)['paused_until']
		self.deliver('alice', 'Before', 'before@example.org', 'held before the restart')
		mb.wait_hooks(1)
		self.wait_status(mb, lambda s: s['held'] == 1, 'one held')
		self.assertStoppedCleanly(mb)
		mb.start()
		mb.wait_idle('work', count=2)
		self.wait_ctl(mb)
		st = self.status(mb)
		self.assertTrue(st['paused'])
		self.assertEqual(st['paused_until'], until)
		self.assertEqual(st['held'], 1)
		self.assertRegex(mb.log(), r'notifications are paused until \d{4}-')
		self.assertEqual(self.ctl(mb, 'resume').returncode, 0)
		self.bus.wait_notifications(self.seen + 1)
		self.assertEqual(self.new_notes()[0]['summary'], '1 new message while paused: 1 work')
		self.assertStoppedCleanly(mb)

	def test_quiet_hours_around_now(self):
		now = datetime.datetime.now()
		start = (now - datetime.timedelta(minutes=5)).strftime('%H:%M')
		end = (now + datetime.timedelta(minutes=30)).strftime('%H:%M')
		mb = self.start(general={'quiet_hours': f'{start}-{end}'})
		st = self.status(mb)
		self.assertTrue(st['accounts'][0]['quiet'], st)
		self.assertFalse(st['paused'])
		self.deliver('alice', 'Quiet', 'quiet@example.org', 'in quiet hours')
		mb.wait_hooks(1)
		self.wait_status(mb, lambda s: s['accounts'][0]['held'] == 1, 'one held in quiet hours')
		self.assertEqual(self.new_notes(), [])
		self.assertRegex(self.ctl(mb, 'status').stdout, r'(?m)^  quiet hours until (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d$')
		# the quiet period ends (here: the reload drops it): one summary for what it held
		with open(mb.config) as f:
			text = f.read()
		with open(mb.config, 'w') as f:
			f.write(re.sub(r'(?m)^quiet_hours = .*\n', '', text))
		self.assertEqual(self.ctl(mb, 'reload').returncode, 0)
		self.bus.wait_notifications(self.seen + 1)
		self.assertEqual(self.new_notes()[0]['summary'], '1 new message during quiet hours: 1 work')
		self.assertFalse(self.status(mb)['accounts'][0]['quiet'])
		self.assertStoppedCleanly(mb)

	def test_reconnect_one_account(self):
		mb = self.start({'work': h.Mailbell.account(self.dovecot, 'alice'),
				 'home': h.Mailbell.account(self.dovecot, 'bob')})
		r = self.ctl(mb, 'reconnect', 'home')
		self.assertEqual(r.returncode, 0, r.stderr)
		mb.wait_idle('home', count=2)
		self.assertEqual(len(re.findall(r'work: idling on INBOX', mb.log())), 1)
		r = self.ctl(mb, 'reconnect', 'nosuch')
		self.assertEqual(r.returncode, 1)
		self.assertIn("no account named 'nosuch'", r.stderr)
		self.assertEqual(self.ctl(mb, 'reconnect').returncode, 0)  # every account
		mb.wait_idle('work', count=2)
		mb.wait_idle('home', count=3)
		self.assertStoppedCleanly(mb)

	def test_reload_adds_an_account_and_changes_a_rule(self):
		accts = {'work': h.Mailbell.account(self.dovecot, 'alice')}
		mb = self.start(accts)
		logins = lambda user: len(re.findall(rf'imap-login: (?:Info: )?Login: user=<{user}>', self.dovecot_log()))
		self.assertEqual(logins('alice'), 1)
		text = h.Mailbell.render({'state_dir': mb.state_dir, 'notify': 'yes', 'hook': mb_hook(mb)},
					 dict(accts, home=h.Mailbell.account(self.dovecot, 'bob')),
					 [('quiet-sender', {'from': 'noisy@example.org', 'action': 'ignore'})])
		with open(mb.config, 'w') as f:
			f.write(text)
		mb.proc.send_signal(signal.SIGHUP)
		mb.wait_log(r'reloaded .*: 1 account\(s\) unchanged, 0 reconnecting, 1 added, 0 removed')
		mb.wait_idle('home')
		time.sleep(0.5)
		self.assertEqual(logins('alice'), 1)  # the untouched account kept its connection
		self.assertEqual(logins('bob'), 1)
		self.deliver('alice', 'Noisy', 'noisy@example.org', 'now ignored')
		m = self.deliver('alice', 'Fine', 'fine@example.org', 'still reported')
		mb.wait_log(r'ignored by rule quiet-sender')
		recs = mb.wait_hooks(1)
		time.sleep(1)
		self.assertEqual([int(r['MAILBELL_UID']) for r in mb.hook_records()], [m['uid']])
		self.assertEqual(logins('alice'), 3)  # two of them the test's own APPENDs
		self.assertTrue(mb.running())
		# removing an account logs it out
		with open(mb.config, 'w') as f:
			f.write(h.Mailbell.render({'state_dir': mb.state_dir, 'notify': 'yes', 'hook': mb_hook(mb)},
						  accts, []))
		self.assertEqual(self.ctl(mb, 'reload').returncode, 0)
		mb.wait_log(r'home: removed by the reload: logging out')
		h.wait_until(lambda: re.search(r'imap\(bob\).*Logged out', self.dovecot_log()), 10, 0.1,
			     'bob logged out')
		self.assertEqual([a['name'] for a in self.status(mb)['accounts']], ['work'])
		self.assertStoppedCleanly(mb)

	def test_reload_of_a_broken_file_keeps_running(self):
		mb = self.start()
		with open(mb.config) as f:
			good = f.read()
		with open(mb.config, 'a') as f:
			f.write('\n[account broken]\nhots = x\n')
		n = len(good.splitlines()) + 3
		mb.proc.send_signal(signal.SIGHUP)
		mb.wait_log(rf'reload: {re.escape(mb.config)}:{n}: unknown key .hots. in \[account broken\]: '
			    r'the running configuration stays')
		r = self.ctl(mb, 'reload')
		self.assertEqual(r.returncode, 78, r.stderr)
		self.assertIn(f'{mb.config}:{n}: unknown key', r.stderr)
		self.assertTrue(mb.running())  # SIGHUP no longer ends mailbell
		msg = self.deliver('alice', 'Still', 'still@example.org', 'after the bad reload')
		self.assertHook(mb.wait_hooks(1)[0], 'work', msg)
		mb.proc.send_signal(signal.SIGUSR2)
		mb.wait_log(r'SIGUSR2 ignored')
		self.assertTrue(mb.running())
		self.assertStoppedCleanly(mb)

	def test_three_rejected_sign_ins_stop_retrying(self):
		bad = h.Mailbell.account(self.dovecot, 'alice', password='wrong-password')
		mb = self.start({'work': bad}, wait=[])
		fails = lambda: len(re.findall(r'work: sign-in failed', mb.log()))
		h.wait_until(lambda: fails() >= 1, 20, 0.1, 'a first rejected sign-in')
		for n in (2, 3):
			self.assertEqual(self.ctl(mb, 'status', '--json').returncode, 0)
			# SIGUSR1, like a resume, retries at once; the count of rejections goes on
			mb.proc.send_signal(signal.SIGUSR1)
			h.wait_until(lambda: fails() >= n, 20, 0.1, f'rejected sign-in {n}')
		mb.wait_log(r'work: sign-in rejected 3 times in a row: not trying again until '
			    r"'mailbell ctl reconnect work'")
		st = self.wait_status(mb, lambda s: s['accounts'][0]['state'] == 'auth_failed', 'auth_failed')
		self.assertRegex(st['accounts'][0]['last_error'], r'AUTHENTICATIONFAILED|Authentication failed')
		urgent = [n for n in self.new_notes() if 'stopped trying' in n['summary']]
		self.assertEqual(len(urgent), 1, self.new_notes())
		self.assertEqual(urgent[0]['hints'].get('urgency'), 2)
		attempts = lambda: len(re.findall(r'work: connecting to', mb.log()))
		n = attempts()
		mb.proc.send_signal(signal.SIGUSR1)  # a resume does not count as the user acting
		mb.wait_log(r'SIGUSR1: reconnecting every account', count=3)
		time.sleep(2)
		self.assertEqual((attempts(), fails()), (n, 3))
		self.assertEqual(self.status(mb)['accounts'][0]['state'], 'auth_failed')
		self.assertEqual(len(re.findall(r'auth failed|Authentication failure|auth_failed|'
						r'Aborted login \(auth failed', self.dovecot_log())) > 0, True)
		# the user fixes the password and reloads: the changed account connects
		with open(mb.config) as f:
			text = f.read()
		with open(mb.config, 'w') as f:
			f.write(text.replace('password = wrong-password', 'password = ' + self.dovecot.users['alice']))
		self.assertEqual(self.ctl(mb, 'reload').returncode, 0)
		mb.wait_idle('work')
		self.assertEqual(self.status(mb)['accounts'][0]['state'], 'idle')
		self.assertStoppedCleanly(mb)

	def test_status_bar_module(self):
		mb = self.start()
		bar = os.path.join(h.REPO, 'contrib', 'waybar-mailbell')
		env = dict(mb.env, DBUS_SESSION_BUS_ADDRESS=self.bus.address,
			   PATH=os.path.dirname(h.mailbell_path()) + os.pathsep + os.environ['PATH'])
		run = lambda *a: json.loads(subprocess.run([sys.executable, bar, *a], stdout=subprocess.PIPE,
							   env=env, text=True, timeout=30).stdout)
		self.deliver('alice', 'A', 'a@example.org', 'one')
		mb.wait_hooks(1)
		self.wait_status(mb, lambda s: s['accounts'][0]['mailboxes'][0]['reported'] == 1, 'reported')
		out = run()
		self.assertEqual((out['text'], out['class']), ('✉ 1', 'ok'), out)
		self.assertIn('work: idle since', out['tooltip'])
		self.assertEqual(self.ctl(mb, 'pause').returncode, 0)
		out = run()
		self.assertEqual((out['text'], out['class']), ('✉ paused', 'paused'), out)
		self.assertStoppedCleanly(mb)
		out = run()
		self.assertEqual(out['class'], 'down', out)

	def test_ctl_without_a_daemon(self):
		mb = h.Mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, parent_dir=self.tmp)
		self.addCleanup(mb.cleanup)
		r = self.ctl(mb, 'status')
		self.assertEqual(r.returncode, 69, r)
		self.assertEqual(r.stderr, 'mailbell: no mailbell is running on this session bus\n')
		r = self.ctl(mb, 'pause', env={'DBUS_SESSION_BUS_ADDRESS': 'unix:path=/nonexistent/bus'})
		self.assertEqual(r.returncode, 69, r)
		self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
		self.assertIn('no mailbell is running', r.stderr)
		r = self.ctl(mb, 'pause', 'soon')
		self.assertEqual(r.returncode, 64, r)
		r = self.ctl(mb, 'frobnicate')
		self.assertEqual(r.returncode, 64, r)
		self.assertIn("unknown ctl command 'frobnicate'", r.stderr)
		self.assertEqual(self.ctl(mb, 'pause', '1h30').returncode, 64)  # 30 s or 30 min?


def mb_hook(mb):
	return os.path.join(mb.dir, 'hook')


if __name__ == '__main__':
	h.main(needs=('dovecot', 'openssl', 'dbus', 'mailbell'))
