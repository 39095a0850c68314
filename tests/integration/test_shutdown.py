#!/usr/bin/env python3
"""SIGTERM and SIGINT: every account sends LOGOUT, mailbell exits 0 promptly. SIGHUP reloads
instead (test_ctl.py has the reload itself). Only one mailbell may use a state directory."""

import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402


class ShutdownTest(h.DovecotTestCase):
	def check_signal(self, sig):
		mb = self.mailbell({
			'one': h.Mailbell.account(self.dovecot, 'alice', 'implicit'),
			'two': h.Mailbell.account(self.dovecot, 'bob', 'starttls'),
		}, trace=True)
		mb.wait_idle('one')
		mb.wait_idle('two')
		t = time.monotonic()
		rc = mb.stop(timeout=10, sig=sig)
		took = time.monotonic() - t
		self.assertEqual(rc, 0, f'exit status after {sig!r}; stderr:\n{mb.log()}')
		mb.check_clean_log(self)
		# Dovecot says "Logged out" only when the client sent LOGOUT (else "Connection closed")
		for user in ('alice', 'bob'):
			self.dovecot.wait_log(rf'imap\({user}\)<[^>]*><[^>]*>: (Info: )?Disconnected: Logged out',
					      timeout=5, since=self.dovecot_log_start)
		self.assertNotRegex(self.dovecot_log(), r'imap\((alice|bob)\).*Disconnected: (?!Logged out)',
				    'a session ended without LOGOUT')
		self.assertLess(took, 5.0, 'shutdown should take well under the 10 s limit on loopback')

	def test_sigterm_logs_out_and_exits_0(self):
		self.check_signal(signal.SIGTERM)

	def test_sigint_logs_out_and_exits_0(self):
		self.check_signal(signal.SIGINT)

	def test_sighup_reloads_and_keeps_running(self):
		mb = self.mailbell({'one': h.Mailbell.account(self.dovecot, 'alice', 'implicit')})
		mb.wait_idle('one')
		mb.proc.send_signal(signal.SIGHUP)
		mb.wait_log(r'reloaded .*: 1 account\(s\) unchanged')
		time.sleep(0.5)
		self.assertTrue(mb.running())
		self.assertNotRegex(self.dovecot_log(), r'imap\(alice\).*Disconnected')  # kept its connection
		self.assertStoppedCleanly(mb)

	def test_second_instance_on_same_state_dir_exits_75(self):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'alice', 'implicit')})
		mb.wait_idle('acct')
		r = subprocess.run([h.mailbell_path(), '-c', mb.config], env=mb.env,
				   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
		self.assertEqual(r.returncode, 75, r.stderr)
		self.assertIn('another mailbell is running with state directory', r.stderr)
		self.assertTrue(mb.running())

	def test_sigterm_while_server_down_exits_0(self):
		# nothing to log out from: must not hang waiting for a server that is gone
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'alice', 'implicit')})
		mb.wait_idle('acct')
		self.dovecot.stop()
		try:
			mb.wait_log(r'acct: reconnecting in', timeout=10)
			self.assertStoppedCleanly(mb)
		finally:
			self.dovecot.start()


if __name__ == '__main__':
	h.main()
