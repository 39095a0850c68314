#!/usr/bin/env python3
"""Issue 9 on a real Dovecot with dbusmock's notification service (announcing "actions"):
notifications carry Open and Mark-as-read actions; clicking runs open_cmd, marking sets \\Seen
on the server; a message read or expunged elsewhere closes its notification; bursts are one
notification updated in place; the same message in two mailboxes notifies once."""

import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402


def with_ids(notes):
	"""The notifications with the id the mock gave each: a new id for replaces_id 0 (counting
	from 1), else the replaced one."""
	next_id, out = 1, []
	for n in notes:
		if n['replaces_id']:
			nid = n['replaces_id']
		else:
			nid, next_id = next_id, next_id + 1
		out.append(dict(n, id=nid))
	return out


class ActionsTest(h.DovecotTestCase):
	@classmethod
	def setUpClass(cls):
		if os.environ.get('MAILBELL_HAVE_LIBNOTIFY') == '0':
			raise unittest.SkipTest('mailbell built without libnotify')
		super().setUpClass()

	def setUp(self):
		super().setUp()
		# a bus of its own per test: notification ids start at 1 each time
		self.bus = h.NotificationBus(parent_dir=self.tmp).start()
		self.addCleanup(self.bus.cleanup)

	def start(self, general=None, accounts=None, **kw):
		g = {'notify': 'yes'}
		g.update(general or {})
		accounts = accounts or {'work': h.Mailbell.account(self.dovecot, 'alice')}
		mb = self.mailbell(accounts, general=g, env={'DBUS_SESSION_BUS_ADDRESS': self.bus.address}, **kw)
		for name, a in accounts.items():
			for box in [x.strip() for x in a.get('mailboxes', 'INBOX').split(',')]:
				mb.wait_idle(name, box)
		return mb

	def notes(self, n=None, timeout=10):
		if n is not None:
			self.bus.wait_notifications(n, timeout)
		return with_ids(self.bus.notifications())

	def open_cmd(self):
		rec = os.path.join(self.tmp, f'open-{time.time_ns()}.jsonl')
		path = os.path.join(self.tmp, f'open-{time.time_ns()}.sh')
		with open(path, 'w') as f:
			f.write(f'#!/bin/sh\nexec {sys.executable} -I -S {h.HOOK_SCRIPT} {rec}\n')
		os.chmod(path, 0o755)
		return path, rec

	def seen_on_server(self, user, uid, mailbox='INBOX'):
		with self.dovecot.imap(user) as c:
			c.select(mailbox, readonly=True)
			typ, data = c.uid('FETCH', str(uid), '(FLAGS)')
			return b'\\Seen' in b' '.join(x if isinstance(x, bytes) else b' '.join(x) for x in data if x)

	# ---------------------------------------------------------------------------------

	def test_open_action_runs_open_cmd(self):
		cmd, rec = self.open_cmd()
		mb = self.start(general={'open_cmd': cmd})
		msg = self.deliver('alice', 'Ann', 'ann@example.org', 'click me')
		[n] = self.notes(1)
		acts = n['actions']
		self.assertEqual(acts[0::2], ['default', 'mark-read'], n)
		self.assertEqual(n['hints'].get('category'), 'email.arrived')
		self.assertEqual(n['hints'].get('desktop-entry'), 'mailbell')
		self.bus.emit('ActionInvoked', 'us', n['id'], 'default')
		h.wait_until(lambda: os.path.exists(rec), 10, 0.05, 'open_cmd to run')
		[r] = [__import__('json').loads(l) for l in open(rec)]
		self.assertEqual(r['MAILBELL_UID'], str(msg['uid']))
		self.assertEqual(r['MAILBELL_SUBJECT'], 'click me')
		self.assertEqual(r['MAILBELL_ACCOUNT'], 'work')
		self.assertStoppedCleanly(mb)

	def test_no_open_cmd_no_default_action_and_mark_read_off(self):
		mb = self.start(general={'mark_read': 'no'})
		self.deliver('alice', 'Ann', 'ann@example.org', 'no buttons')
		[n] = self.notes(1)
		self.assertEqual(n['actions'], [], n)
		self.assertStoppedCleanly(mb)

	def test_mark_read_sets_seen_and_closes(self):
		mb = self.start()
		msg = self.deliver('alice', 'Ann', 'ann@example.org', 'mark me')
		[n] = self.notes(1)
		self.assertIn('mark-read', n['actions'][0::2])
		self.assertFalse(self.seen_on_server('alice', msg['uid']))  # positive control
		self.bus.emit('ActionInvoked', 'us', n['id'], 'mark-read')
		h.wait_until(lambda: self.seen_on_server('alice', msg['uid']), 15, 0.2, '\\Seen on the server')
		mb.wait_log(r'work/INBOX uid %d marked as read' % msg['uid'])
		# the watching connection saw the flag change: the notification is closed
		h.wait_until(lambda: n['id'] in self.bus.closed_ids(), 10, 0.1, 'CloseNotification')
		# only \Seen changed, and on a connection of its own (SELECT there, never on the watcher)
		self.assertRegex(self.dovecot_log(), r'imap\(alice\)')
		self.assertStoppedCleanly(mb)

	def test_read_elsewhere_closes_the_notification(self):
		mb = self.start()
		msg = self.deliver('alice', 'Ann', 'ann@example.org', 'read on the phone')
		other = self.deliver('alice', 'Bob', 'bob@example.org', 'left unread')
		notes = self.notes(1)
		time.sleep(2.5)  # past the coalescing window: the next one is a notification of its own
		third = self.deliver('alice', 'Cy', 'cy@example.org', 'expunged on the phone')
		h.wait_until(lambda: len({x['id'] for x in self.notes()}) >= 2, 10, 0.1, 'a second notification')
		ids = sorted({x['id'] for x in self.notes()})
		with self.dovecot.imap('alice') as c:
			c.select('INBOX')
			c.uid('STORE', str(third['uid']), '+FLAGS', '(\\Deleted)')
			c.expunge()
		h.wait_until(lambda: ids[1] in self.bus.closed_ids(), 10, 0.1, 'expunged: closed')
		self.assertNotIn(ids[0], self.bus.closed_ids())
		with self.dovecot.imap('alice') as c:
			c.select('INBOX')
			c.uid('STORE', f"{msg['uid']},{other['uid']}", '+FLAGS', '(\\Seen)')
		h.wait_until(lambda: ids[0] in self.bus.closed_ids(), 10, 0.1, 'read: closed')
		self.assertStoppedCleanly(mb)

	def test_burst_is_one_notification_updated_in_place(self):
		mb = self.start()
		for i in range(3):
			self.deliver('alice', f'Sender {i}', f's{i}@example.org', f'burst {i}')
			time.sleep(0.7)
		h.wait_until(lambda: len(self.notes()) >= 3 or re.search(r'3 new messages', str(self.notes())),
			     10, 0.1, 'the burst shown')
		time.sleep(0.5)
		notes = self.notes()
		self.assertEqual(len({n['id'] for n in notes}), 1, notes)  # one notification
		self.assertEqual(notes[0]['replaces_id'], 0)
		self.assertTrue(all(n['replaces_id'] == notes[0]['id'] for n in notes[1:]), notes)
		self.assertGreaterEqual(len(notes), 2, notes)  # replaced at least once
		self.assertEqual(notes[-1]['summary'], '3 new messages in work/INBOX')
		for i in range(3):
			self.assertIn(f'Sender {i}: burst {i}', notes[-1]['body'])
		# a message after a quiet period shows at once, as a notification of its own
		time.sleep(2.5)
		t = time.time()
		self.deliver('alice', 'Later', 'later@example.org', 'after the quiet')
		h.wait_until(lambda: len({n['id'] for n in self.notes()}) == 2, 10, 0.02, 'a new notification')
		last = self.notes()[-1]
		self.assertEqual((last['replaces_id'], last['summary']), (0, 'Later'))
		self.assertLess(last['_time'] - t if last.get('_time', 0) > 1e9 else 0, 3.0)
		self.assertStoppedCleanly(mb)

	def test_same_message_in_two_mailboxes_notifies_once(self):
		with self.dovecot.imap('bob') as c:
			c.create('Lists')
		mb = self.start(accounts={'home': h.Mailbell.account(self.dovecot, 'bob', mailboxes='INBOX, Lists')})
		raw, mid = h.make_message(from_='Dup <dup@example.org>', subject='cross-posted')
		_, u1 = self.append('bob', raw)
		_, u2 = self.append('bob', raw, mailbox='Lists')
		recs = mb.wait_hooks(2)
		time.sleep(2)
		self.assertEqual(len(mb.hook_records()), 2)
		dup = sorted(r['MAILBELL_DUPLICATE'] for r in recs)
		self.assertEqual(dup, ['0', '1'], recs)
		shown = [n for n in self.notes() if 'cross-posted' in n['body'] or n['summary'] == 'Dup']
		self.assertEqual(len({n['id'] for n in shown}), 1, self.notes())
		mb.wait_log(r'was notified from another mailbox: not again')
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main(needs=('dovecot', 'openssl', 'dbus', 'mailbell'))
