"""Suspend, resume and network changes.

logind's PrepareForSleep(false) on the system bus, and SIGUSR1, make mailbell replace every
connection at once; a network change reported by NetworkManager makes it probe each connection
with NOOP. Mail keeps being reported exactly once.

The "system bus" is a private dbus-daemon with a python3-dbusmock template (logind or
networkmanager), handed to mailbell through DBUS_SYSTEM_BUS_ADDRESS; GIO is told to take its
network monitor from NetworkManager with GIO_USE_NETWORK_MONITOR.

Without logind a resume is seen by CLOCK_BOOTTIME having run ahead of CLOCK_MONOTONIC, at the
first wake-up of the main loop after it (mailbell keeps no timer that polls the clocks). An
LD_PRELOAD shim (clockshim.c, built by meson) makes CLOCK_BOOTTIME jump as a suspend would."""
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



def clock_shim():
	"""Path of the built clockshim.so: meson says, else next to $MAILBELL's build; or None."""
	path = os.environ.get('MB_TEST_CLOCKSHIM') or os.path.join(
		os.path.dirname(os.path.dirname(os.path.abspath(h.mailbell_path()))),
		'tests', 'integration', 'libclockshim.so')
	return path if os.path.exists(path) else None


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

	def shifted_clock_env(self):
		"""Environment for a mailbell whose CLOCK_BOOTTIME jumps by what set_ahead() writes."""
		shim = clock_shim()
		if not shim:
			self.skipTest('clockshim.so is not built')
		self.ahead_file = os.path.join(self.tmp, f'boottime-ahead-{self._testMethodName}')
		self.set_ahead(0)
		asan = os.environ.get('ASAN_OPTIONS', '')
		return {'LD_PRELOAD': shim, 'MB_TEST_BOOTTIME_AHEAD': self.ahead_file,
			# the shim, not the sanitizer runtime, comes first
			'ASAN_OPTIONS': (asan + ':' if asan else '') + 'verify_asan_link_order=0'}

	def set_ahead(self, seconds):
		with open(self.ahead_file + '.tmp', 'w') as f:
			f.write(str(seconds))
		os.rename(self.ahead_file + '.tmp', self.ahead_file)

	def test_clock_gap_reconnects_at_next_wake_up(self):
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')},
				   env=self.shifted_clock_env())
		# an hour "asleep", then anything that wakes the loop: here SIGUSR2, which
		# mailbell only logs
		def trigger():
			self.set_ahead(3600)
			os.kill(mb.pid(), signal.SIGUSR2)
		self.check_reconnect_then_mail(mb, trigger, r'resumed from suspend \(clock gap\)')
		self.assertIn('SIGUSR2 ignored', mb.log())
		self.assertEqual(mb.log().count('resumed from suspend'), 1)

	def test_logind_after_clock_gap_reconnects_once(self):
		bus = LogindBus(parent_dir=self.tmp).start()
		self.addCleanup(bus.cleanup)
		env = self.shifted_clock_env()
		env['DBUS_SYSTEM_BUS_ADDRESS'] = bus.address
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, env=env)
		# After a real suspend the wake-up that delivers PrepareForSleep(false) has
		# already shown the clock gap: one resume, one reconnect.
		def trigger():
			time.sleep(0.5)  # let mailbell subscribe on the bus
			self.set_ahead(3600)
			bus.prepare_for_sleep(False)
			mb.wait_log(r'resumed from suspend \(logind\): already reconnecting', timeout=10)
		self.check_reconnect_then_mail(mb, trigger, r'resumed from suspend \(clock gap\)')
		self.assertEqual(mb.log().count('work: idling on INBOX'), 2)  # no third session
		self.assertNotIn('resumed from suspend (logind): reconnecting', mb.log())

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
