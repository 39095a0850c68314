"""Suspend and resume: logind's PrepareForSleep(false) on the system bus, and SIGUSR1,
make mailbell replace every connection at once and keep reporting mail exactly once.

The "system bus" is a private dbus-daemon with python3-dbusmock's logind template, handed to
mailbell through DBUS_SYSTEM_BUS_ADDRESS."""
import os
import signal
import subprocess
import time

import harness as h


class LogindBus(h.NotificationBus):
	"""A private bus whose mock is logind instead of a notification daemon."""

	def start(self, timeout=15):
		self.mock_wanted = False
		super().start(timeout)
		env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
		with open(os.path.join(self.dir, 'logind.out'), 'wb') as out:
			self.mock = h._spawn([self.python, '-m', 'dbusmock', '--session', '--template',
					      'logind'], env=env, stdout=out, stderr=subprocess.STDOUT)
		h.wait_until(lambda: self._owned(), timeout, 0.1, 'dbusmock to own org.freedesktop.login1')
		return self

	def _owned(self):
		r = subprocess.run(['gdbus', 'call', '--address', self.address, '--dest',
				    'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus',
				    '--method', 'org.freedesktop.DBus.NameHasOwner', 'org.freedesktop.login1'],
				   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
		return 'true' in r.stdout

	def prepare_for_sleep(self, going_down):
		subprocess.run(['gdbus', 'call', '--address', self.address, '--dest',
				'org.freedesktop.login1', '--object-path', '/org/freedesktop/login1',
				'--method', 'org.freedesktop.DBus.Mock.EmitSignal',
				'org.freedesktop.login1.Manager', 'PrepareForSleep', 'b',
				'[<%s>]' % ('true' if going_down else 'false')],
			       check=True, stdout=subprocess.DEVNULL)


class PowerTest(h.DovecotTestCase):
	def logins(self):
		return self.dovecot.log_since(self.dovecot_log_start).count('Login: user=<alice>')

	def check_reconnect_then_mail(self, mb, trigger, expect_log):
		mb.wait_idle('work')
		self.assertEqual(self.logins(), 1)
		trigger()
		mb.wait_log(expect_log, timeout=10)
		h.wait_until(lambda: self.logins() == 2, 10, 0.1, 'a second login after resume')
		mb.wait_idle('work', count=2)
		msg = self.deliver('alice', 'Resume Test', 'resume@example.org', 'after resume')
		recs = mb.wait_hooks(1)
		time.sleep(1.5)
		recs = mb.hook_records()
		self.assertEqual([r['MAILBELL_UID'] for r in recs], [str(msg['uid'])])
		self.assertEqual(recs[0]['MAILBELL_SUBJECT'], 'after resume')

	def test_logind_resume_reconnects(self):
		bus = LogindBus(parent_dir=self.tmp).start()
		self.addCleanup(bus.cleanup)
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')},
				   env={'DBUS_SYSTEM_BUS_ADDRESS': bus.address})
		# going to sleep changes nothing; waking up replaces the connection
		def trigger():
			time.sleep(0.5)  # let mailbell subscribe on the bus
			bus.prepare_for_sleep(True)
			time.sleep(0.3)
			self.assertEqual(self.logins(), 1)
			bus.prepare_for_sleep(False)
		self.check_reconnect_then_mail(mb, trigger, r'resumed from suspend \(logind\)')

	def test_sigusr1_reconnects(self):
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')})
		self.check_reconnect_then_mail(mb, lambda: os.kill(mb.pid(), signal.SIGUSR1),
					       r'SIGUSR1: reconnecting')


if __name__ == '__main__':
	h.main(needs=('dovecot', 'openssl', 'mailbell', 'dbus'))
