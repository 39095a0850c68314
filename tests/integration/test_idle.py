#!/usr/bin/env python3
"""Servers whose IDLE does not push as it should (../shared/cases/servers.md), played by the scripted
fake server tests/fakeimap.py, three at once in one mailbell so the 60 s keepalive (the shortest
allowed) is waited out once:

- S10, GNU Mailutils imap4d: nothing during IDLE, new mail only after DONE. mailbell sees it twice
  at a renewal, switches to polling every poll_interval (log and status), reports the next message
  within poll_interval, and polls at once on the next connection.
- control: a pushing server that also has mail turn up after DONE at two renewals (mail arriving as
  DONE goes out): it pushed during IDLE once, so it stays trusted.
- S5/S7, Cyrus without idled, Courier with IMAP_ENHANCEDIDLE=0: every push comes a fixed period
  after IDLE began: a hint in the log."""

import json
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True

import fakeimap as f  # noqa: E402
import harness as h  # noqa: E402
from fakeimap import expect, send, pause, wait, close  # noqa: E402

POLL = 10       # poll_interval, the shortest allowed
KEEPALIVE = 60  # the shortest allowed
SWITCHED = (r'lazy: the server reported new mail only after IDLE ended \(twice\), never during IDLE: '
	    rf'polling INBOX every {POLL}s instead')
PERIOD_HINT = (r'new mail arrives only every 10s during IDLE; the server may check mailboxes on a timer '
	       r'\(Cyrus without idled, Courier with IMAP_ENHANCEDIDLE=0\)')


def start():
	return [f.greeting(), *f.sign_in(), *f.after_login()]


def late_renewal(n, cue, who):
	"""In IDLE: mail n comes on cue, but the server tells of it only after DONE (at the keepalive
	renewal); then the renewal's NOOP and the UID FETCH."""
	return [wait(cue, timeout=120), expect(r'^DONE$', timeout=KEEPALIVE + 20), send(f'* {n} EXISTS', '{idle} OK Idle completed'),
		expect(r'^\S+ NOOP$', 'noop'), send('{noop} OK NOOP completed'),
		expect(rf'^\S+ UID FETCH {n}:\* ', 'fetch'), send(f.fetch(n, n, f'{who} {n}'), '{fetch} OK done')]


def periodic_push(n):
	"""A push 10 s after IDLE began, as a server checking the mailbox on a 10 s timer."""
	return [*f.idle(), pause(10), send(f'* {n} EXISTS'), expect(r'^DONE$'), send('{idle} OK Idle completed'),
		expect(rf'^\S+ UID FETCH {n}:\* ', 'fetch'), send(f.fetch(n, n, f'timer {n}'), '{fetch} OK done')]


class IdleTest(f.FakeServerTestCase):
	@classmethod
	def setUpClass(cls):
		if h.missing_requirements(['dbus']):
			raise unittest.SkipTest('needs dbus-daemon (mailbell ctl status)')
		super().setUpClass()
		cls.bus = h.NotificationBus(parent_dir=cls.tmp).start()

	@classmethod
	def tearDownClass(cls):
		cls.bus.cleanup()
		super().tearDownClass()

	def status(self, mb):
		e = dict(mb.env)
		e['DBUS_SESSION_BUS_ADDRESS'] = self.bus.address
		r = subprocess.run([h.mailbell_path(), 'ctl', 'status', '--json'], stdout=subprocess.PIPE,
				   stderr=subprocess.PIPE, text=True, env=e, timeout=30)
		self.assertEqual(r.returncode, 0, r.stderr)
		return {a['name']: a for a in json.loads(r.stdout)['accounts']}

	def test_idle_that_does_not_deliver_and_one_on_a_timer(self):
		lazy = self.server([
			[*start(), *f.examine(uidnext=1), *f.idle(), *late_renewal(1, 'lazy1', 'lazy'), *f.idle(),
			 *late_renewal(2, 'lazy2', 'lazy'),
			 # no IDLE any more: the next NOOP of the polling tells of mail 3
			 wait('lazy3'), expect(r'^\S+ NOOP$', 'noop'), send('* 3 EXISTS', '{noop} OK NOOP completed'),
			 expect(r'^\S+ UID FETCH 3:\* ', 'fetch'), send(f.fetch(3, 3, 'lazy 3'), '{fetch} OK done'),
			 wait('drop'), close()],
			# the next connection polls from the start: NOOP, never IDLE
			[*start(), *f.examine(uidnext=4, exists=3), expect(r'^\S+ NOOP$', 'noop'),
			 send('{noop} OK NOOP completed'), expect(r'^\S+ NOOP$', 'noop'), send('{noop} OK NOOP completed')]])
		push = self.server([[*start(), *f.examine(uidnext=1),
				     *f.idle(), *f.new_mail(1, [f.fetch(1, 1, 'pushed')], cue='push1'),
				     # then twice mail that shows up only after DONE, as if it came just then
				     *late_renewal(2, 'push2', 'push'), *f.idle(), *late_renewal(3, 'push3', 'push'),
				     *f.idle()]])
		timer = self.server([[*start(), *f.examine(uidnext=1),
				      *[s for n in range(1, 6) for s in periodic_push(n)], *f.idle()]])
		mb = self.mailbell({'lazy': self.account(lazy), 'push': self.account(push), 'timer': self.account(timer)},
				   general={'poll_interval': f'{POLL}s', 'keepalive': f'{KEEPALIVE}s'},
				   env={'DBUS_SESSION_BUS_ADDRESS': self.bus.address})
		for name in ('lazy', 'push', 'timer'):
			mb.wait_idle(name)
		# the mail comes now; what each server tells of it, and when, is in its script
		for cue in ('lazy1', 'lazy2'):
			lazy.cue(cue)
		for cue in ('push1', 'push2', 'push3'):
			push.cue(cue)
		t_cue = time.monotonic()
		# the timer server: five pushes 10 s after IDLE began each: the hint, once
		mb.wait_log(r'timer: ' + PERIOD_HINT, timeout=90)

		# the lazy server's first mail shows only at the keepalive renewal
		h.wait_until(lambda: any(r['MAILBELL_ACCOUNT'] == 'lazy' for r in mb.hook_records()),
			     KEEPALIVE + 20, 0.05, 'mail 1 of the lazy server')
		self.assertGreater(time.monotonic() - t_cue, KEEPALIVE - 10, 'the fake pushed after all?')
		self.assertNotRegex(mb.log(), SWITCHED, 'one late renewal must not switch')
		mb.wait_log(SWITCHED, timeout=KEEPALIVE + 20)
		lazy.cue('lazy3')
		t3 = time.monotonic()
		st = self.status(mb)
		self.assertEqual(st['lazy']['state'], 'polling', st['lazy'])
		self.assertEqual(st['lazy']['reason'], 'the server reports new mail only after IDLE ends')
		self.assertEqual(st['lazy']['connections'][0]['reason'], st['lazy']['reason'])
		h.wait_until(lambda: any(r['MAILBELL_SUBJECT'] == 'lazy 3' for r in mb.hook_records()),
			     POLL + 5, 0.05, 'lazy 3 reported by polling')
		self.assertLess(time.monotonic() - t3, POLL + 3)
		human = subprocess.run([h.mailbell_path(), 'ctl', 'status'], stdout=subprocess.PIPE, text=True,
				       env=dict(mb.env, DBUS_SESSION_BUS_ADDRESS=self.bus.address), timeout=30).stdout
		self.assertRegex(human, r'(?m)^lazy: polling \(the server reports new mail only after IDLE ends\) since ')
		lazy.cue('drop')

		# the control: pushed once, so two late renewals do not switch it (it sent IDLE again
		# after the second, which the script expects)
		h.wait_until(lambda: push.conns[0].text().count(' IDLE\r\n') >= 4, KEEPALIVE + 20, 0.1,
			     'IDLE after the second late renewal')
		time.sleep(0.5)
		self.assertNotRegex(mb.log(), r'push: (the server reported|polling)')
		self.assertEqual(self.status(mb)['push']['state'], 'idle')
		self.assertEqual(self.status(mb)['push']['reason'], None)
		self.assertEqual(sorted(r['MAILBELL_SUBJECT'] for r in mb.hook_records()
					if r['MAILBELL_ACCOUNT'] == 'push'), ['push 2', 'push 3', 'pushed'])

		# a reconnect remembers: the new connection polls from the start
		h.wait_until(lambda: len(lazy.conns) > 1 and lazy.conns[1].text().count(' NOOP\r\n') >= 2,
			     3 + 2 * POLL + 5, 0.1, 'two NOOPs on the next connection')
		self.assertEqual(self.status(mb)['lazy']['state'], 'polling')
		self.assertEqual(len(re.findall(SWITCHED, mb.log())), 1, 'say it once:\n' + mb.log())
		self.assertEqual(len(re.findall(PERIOD_HINT, mb.log())), 1, mb.log())
		self.assertEqual(sorted(r['MAILBELL_SUBJECT'] for r in mb.hook_records()
					if r['MAILBELL_ACCOUNT'] == 'timer'), [f'timer {n}' for n in range(1, 6)])
		for srv in (lazy, push, timer):
			self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main(needs=('openssl', 'mailbell'))
