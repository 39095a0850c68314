"""Suspend, resume and network changes.

logind's PrepareForSleep(false) on the system bus, and SIGUSR1, make mailbell replace every
connection at once; a network change reported by NetworkManager makes it probe each connection
with NOOP. Mail keeps being reported exactly once.

The "system bus" is a private dbus-daemon with a python3-dbusmock template (logind or
networkmanager), handed to mailbell through DBUS_SYSTEM_BUS_ADDRESS; GIO is told to take its
network monitor from NetworkManager with GIO_USE_NETWORK_MONITOR."""
import os
import re
import signal
import subprocess
import time

import harness as h


class MockSystemBus(h.NotificationBus):
	"""A private bus whose mock is a system service (a dbusmock template) instead of a
	notification daemon."""

	def __init__(self, template, service, parent_dir=None):
		super().__init__(parent_dir=parent_dir, mock=False)
		self.template = template
		self.service = service

	def start(self, timeout=15):
		super().start(timeout)
		env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
		with open(os.path.join(self.dir, self.template + '.out'), 'wb') as out:
			self.mock = h._spawn([self.python, '-m', 'dbusmock', '--session', '--template',
					      self.template], env=env, stdout=out, stderr=subprocess.STDOUT)
		h.wait_until(lambda: self._owned(), timeout, 0.1, 'dbusmock to own ' + self.service)
		return self

	def _owned(self):
		r = subprocess.run(['gdbus', 'call', '--address', self.address, '--dest',
				    'org.freedesktop.DBus', '--object-path', '/org/freedesktop/DBus',
				    '--method', 'org.freedesktop.DBus.NameHasOwner', self.service],
				   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
		return 'true' in r.stdout


class LogindBus(MockSystemBus):
	def __init__(self, parent_dir=None):
		super().__init__('logind', 'org.freedesktop.login1', parent_dir)

	def prepare_for_sleep(self, going_down):
		subprocess.run(['gdbus', 'call', '--address', self.address, '--dest',
				'org.freedesktop.login1', '--object-path', '/org/freedesktop/login1',
				'--method', 'org.freedesktop.DBus.Mock.EmitSignal',
				'org.freedesktop.login1.Manager', 'PrepareForSleep', 'b',
				'[<%s>]' % ('true' if going_down else 'false')],
			       check=True, stdout=subprocess.DEVNULL)


class NetworkManagerBus(MockSystemBus):
	NONE, FULL = 1, 4  # NMConnectivityState

	def __init__(self, parent_dir=None):
		super().__init__('networkmanager', 'org.freedesktop.NetworkManager', parent_dir)

	def set_connectivity(self, state):
		subprocess.run(['gdbus', 'call', '--address', self.address, '--dest',
				'org.freedesktop.NetworkManager', '--object-path', '/org/freedesktop/NetworkManager',
				'--method', 'org.freedesktop.DBus.Mock.SetConnectivity', str(state)],
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

	def test_network_change_probes_connections(self):
		bus = NetworkManagerBus(parent_dir=self.tmp).start()
		self.addCleanup(bus.cleanup)
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, trace=True,
				   env={'DBUS_SYSTEM_BUS_ADDRESS': bus.address,
					'GIO_USE_NETWORK_MONITOR': 'networkmanager'})
		mb.wait_idle('work')
		noops = lambda: len(re.findall(r'work C: a\d+ NOOP', mb.log()))
		self.assertEqual(noops(), 0)
		idles = lambda: len(re.findall(r'work C: a\d+ IDLE', mb.log()))
		# each change: the connection is probed (DONE, NOOP) under a short deadline, then
		# idles again
		for n, state in enumerate((bus.NONE, bus.FULL), 1):
			bus.set_connectivity(state)
			mb.wait_log(r'network changed', count=n)
			h.wait_until(lambda: noops() == n, 10, 0.1, f'NOOP probe number {n}')
			h.wait_until(lambda: idles() == n + 1, 10, 0.1, 'IDLE again after the probe')
		self.assertEqual(self.logins(), 1)  # probed, not replaced
		msg = self.deliver('alice', 'Net Test', 'net@example.org', 'after network change')
		mb.wait_hooks(1)
		time.sleep(1.5)
		self.assertEqual([r['MAILBELL_UID'] for r in mb.hook_records()], [str(msg['uid'])])


if __name__ == '__main__':
	h.main(needs=('dovecot', 'openssl', 'mailbell', 'dbus'))
