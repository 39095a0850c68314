#!/usr/bin/env python3
"""`mailbell --check` (config, TLS, sign-in, mailboxes; its exit codes; no state, no hook) and
`mailbell --once` (what arrived since the stored state, hooks waited for, then exit)."""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402


class CheckTest(h.DovecotTestCase):
	def run_mailbell(self, mb, *args, timeout=60):
		return subprocess.run([h.mailbell_path(), '-c', mb.config, *args], stdout=subprocess.PIPE,
				      stderr=subprocess.PIPE, text=True, env=mb.env, timeout=timeout)

	def config(self, accounts, **kw):
		mb = h.Mailbell(accounts, parent_dir=self.tmp, **kw)
		self.addCleanup(mb.cleanup)
		return mb

	def test_good_account(self):
		with self.dovecot.imap('alice') as c:
			c.create('Lists.rust')
		# IN* matches INBOX again: each mailbox is listed once
		mb = self.config({'work': h.Mailbell.account(self.dovecot, 'alice', mailboxes='INBOX, Lists.*, IN*')})
		os.rmdir(mb.state_dir)
		r = self.run_mailbell(mb, '--check')
		self.assertEqual(r.returncode, 0, r)
		self.assertIn(f'{mb.config}: the configuration is valid', r.stdout)
		line = [l for l in r.stdout.splitlines() if l.startswith('work:')]
		self.assertEqual(len(line), 1, r.stdout)
		self.assertRegex(line[0], r'^work: ok: localhost:\d+ over TLS, signed in as alice \(PLAIN\); '
				 r'IDLE yes, NOTIFY yes, CONDSTORE yes, PREVIEW yes; mailboxes INBOX, Lists\.rust$')
		self.assertFalse(os.path.exists(mb.state_dir))  # changes no state
		self.assertFalse(os.path.exists(mb.hook_file))
		# -v adds the effective settings that are not defaults, secrets hidden
		r = self.run_mailbell(mb, '--check', '-v')
		self.assertEqual(r.returncode, 0, r)
		self.assertRegex(r.stdout, r'(?m)^    host = localhost$')
		self.assertRegex(r.stdout, r'(?m)^    password = \*\*\*$')
		self.assertNotIn(self.dovecot.users['alice'], r.stdout + r.stderr)

	def test_wrong_password_with_a_comment_hint(self):
		mb = self.config({'work': h.Mailbell.account(self.dovecot, 'alice',
							 password=self.dovecot.users['alice'] + ' # my work account')})
		r = self.run_mailbell(mb, '--check')
		self.assertEqual(r.returncode, 77, r)
		self.assertRegex(r.stdout, r'(?m)^work: sign-in failed: .*\(hint: the password value holds " #"')
		self.assertNotIn('my work account', r.stdout + r.stderr)  # the password is never shown

	def test_refused_certificate(self):
		acct = h.Mailbell.account(self.dovecot, 'alice')
		acct['ca_file'] = self.certs.rogue_ca_crt
		mb = self.config({'work': acct})
		r = self.run_mailbell(mb, '--check')
		self.assertEqual(r.returncode, 69, r)
		self.assertRegex(r.stdout, r'(?m)^work: cannot connect: .*certificate')

	def test_missing_mailbox_lists_the_real_names(self):
		with self.dovecot.imap('bob') as c:
			c.create('Lists.rust')
		mb = self.config({'home': h.Mailbell.account(self.dovecot, 'bob', mailboxes='INBOX, Lists/rust')})
		r = self.run_mailbell(mb, '--check')
		self.assertEqual(r.returncode, 66, r)
		self.assertRegex(r.stdout, r'(?m)^home: signed in, but no mailbox matches "Lists/rust"; the server '
				 r'has: INBOX, Lists\.rust|Lists\.rust, INBOX')
		self.assertIn('(hierarchy separator ".")', r.stdout)

	def test_worst_failure_decides_the_exit_status(self):
		good = h.Mailbell.account(self.dovecot, 'alice')
		bad = h.Mailbell.account(self.dovecot, 'bob', password='nope')
		down = dict(h.Mailbell.account(self.dovecot, 'alice'), port=str(h.free_port()))
		mb = self.config({'good': good, 'bad': bad, 'down': down})
		r = self.run_mailbell(mb, '--check')
		self.assertEqual(r.returncode, 77, r)
		lines = [l.split(':')[0] for l in r.stdout.splitlines()[1:]]
		self.assertEqual(lines, ['good', 'bad', 'down'])  # one line each, config order
		mb2 = self.config({'good': good, 'down': down})
		self.assertEqual(self.run_mailbell(mb2, '--check').returncode, 69)

	def test_config_error(self):
		mb = self.config({'work': h.Mailbell.account(self.dovecot, 'alice')}, rules=[('r', {'subject': '~(['})])
		r = self.run_mailbell(mb, '--check')
		self.assertEqual(r.returncode, 78, r)
		self.assertRegex(r.stderr, r'config\.ini:\d+: bad regular expression in subject')


class OnceTest(h.DovecotTestCase):
	def test_once_reports_what_came_while_stopped(self):
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')})
		mb.wait_idle('work')
		first = self.deliver('alice', 'Seen By Daemon', 'd@example.org', 'before')
		mb.wait_hooks(1)
		self.assertStoppedCleanly(mb)
		# three messages while nothing runs; the hook is slow, so --once must wait for it
		slow = os.path.join(mb.dir, 'slow-hook')
		with open(slow, 'w') as f:
			f.write('#!/bin/sh\nsleep 1\nexec ' + os.path.join(mb.dir, 'hook') + '\n')
		os.chmod(slow, 0o755)
		with open(mb.config) as f:
			text = f.read()
		with open(mb.config, 'w') as f:
			f.write(text.replace('hook = ' + os.path.join(mb.dir, 'hook'), 'hook = ' + slow))
		new = [self.deliver('alice', 'While Stopped', f'w{i}@example.org', f'while stopped {i}')
		       for i in range(3)]
		t0 = time.monotonic()
		r = subprocess.run(mb.argv() + ['--once'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
				   text=True, env=mb.env, timeout=60)
		took = time.monotonic() - t0
		self.assertEqual(r.returncode, 0, r.stderr)
		recs = mb.hook_records()
		self.assertEqual(sorted(int(x['MAILBELL_UID']) for x in recs[1:]), [m['uid'] for m in new])
		self.assertEqual(int(recs[0]['MAILBELL_UID']), first['uid'])
		self.assertGreaterEqual(took, 1.0)  # it waited for the slow hooks
		self.assertRegex(r.stderr, r'work: idling on INBOX')
		# nothing new: nothing reported, exit 0
		r = subprocess.run(mb.argv() + ['--once'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
				   text=True, env=mb.env, timeout=60)
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(len(mb.hook_records()), 4)
		self.assertRegex(self.dovecot_log(), r'imap\(alice\).*Logged out')

	def test_once_fails_for_an_unreachable_account(self):
		down = dict(h.Mailbell.account(self.dovecot, 'alice'), port=str(h.free_port()))
		mb = h.Mailbell({'work': h.Mailbell.account(self.dovecot, 'bob'), 'down': down},
				parent_dir=self.tmp)
		self.addCleanup(mb.cleanup)
		r = subprocess.run(mb.argv() + ['--once'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
				   text=True, env=mb.env, timeout=60)
		self.assertEqual(r.returncode, 69, r.stderr)
		self.assertRegex(r.stderr, r'down: .*refused')
		self.assertRegex(r.stderr, r'work: idling on INBOX')  # the other one still ran


if __name__ == '__main__':
	h.main()
