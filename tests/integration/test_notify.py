#!/usr/bin/env python3
"""Desktop notifications reach a notification service on a private session bus
(python3-dbusmock's notification_daemon template)."""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

ENC_SUBJECT = '=?UTF-8?B?SGVsbG8gw6l0w6k=?='  # Hello été
ENC_FROM = '=?ISO-8859-1?Q?Andr=E9?= Pirard <andre@example.org>'


class NotifyTest(h.DovecotTestCase):
	@classmethod
	def setUpClass(cls):
		if os.environ.get('MAILBELL_HAVE_LIBNOTIFY') == '0':
			raise unittest.SkipTest('mailbell built without libnotify')
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
		self.seen_shown = len(self.bus.shown())

	def new_notifications(self, n, timeout=10):
		self.bus.wait_notifications(self.seen + n, timeout)
		return self.bus.notifications()[self.seen:]

	def quiet_notifications(self, n, seconds=2.0):
		time.sleep(seconds)
		got = self.bus.notifications()[self.seen:]
		self.assertEqual(len(got), n, f'expected exactly {n} Notify call(s), got {got}')
		return got

	def start(self, user='alice', rules=(), notify='yes', **kw):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, user, 'implicit')},
				   general={'notify': notify}, rules=rules,
				   env={'DBUS_SESSION_BUS_ADDRESS': self.bus.address}, **kw)
		mb.wait_idle('acct')
		return mb

	def test_notification_has_decoded_sender_and_subject(self):
		mb = self.start()
		msg = self.deliver('alice', 'André Pirard', 'andre@example.org', 'Hello été',
				   raw_from=ENC_FROM, raw_subject=ENC_SUBJECT)
		self.new_notifications(1)
		n = self.quiet_notifications(1)[0]
		self.assertEqual(n['app_name'], 'mailbell', n)
		self.assertEqual(n['summary'], 'André Pirard', n)
		# the subject, then the preview of the text (harness messages say "Hello.")
		self.assertEqual(n['body'], 'Hello été\nHello.', n)
		self.assertEqual(n['app_icon'], 'mail-unread', n)
		self.assertEqual(n['hints'].get('category'), 'email.arrived', n)
		# the hook ran as well (no rule: both outputs apply)
		recs = self.assertQuiet(mb, 1, seconds=0)
		self.assertHook(recs[0], 'acct', msg)
		self.assertStoppedCleanly(mb)

	def test_summary_falls_back_to_address(self):
		mb = self.start(user='bob')
		self.deliver('bob', '', 'no-name@example.org', 'nameless')
		n = self.new_notifications(1)[0]
		self.assertEqual((n['summary'], n['body']), ('no-name@example.org', 'nameless\nHello.'), n)
		self.quiet_notifications(1)
		self.assertStoppedCleanly(mb)

	def test_body_is_markup_escaped(self):
		mb = self.start()
		self.deliver('alice', 'Tom', 'tom@example.org', 'Tom & Jerry <b>not bold</b>')
		n = self.new_notifications(1)[0]
		self.assertEqual(n['body'], 'Tom &amp; Jerry &lt;b&gt;not bold&lt;/b&gt;\nHello.', n)
		self.assertStoppedCleanly(mb)

	def test_rule_actions_choose_outputs(self):
		mb = self.start(user='bob', rules=[
			('quiet', {'from': '*@hook-only.example.org', 'action': 'hook'}),
			('loud', {'from': '*@notify-only.example.org', 'action': 'notify'}),
			('muted', {'from': '*@ignored.example.org', 'action': 'ignore'}),
		])
		m1 = self.deliver('bob', 'Hook Only', 'h@hook-only.example.org', 'to the hook')
		self.deliver('bob', 'Notify Only', 'n@notify-only.example.org', 'to the desktop')
		self.deliver('bob', 'Ignored', 'i@ignored.example.org', 'to nobody')
		m4 = self.deliver('bob', 'Nobody Special', 'x@example.org', 'to both')
		# back to back: maybe one notification per message, maybe one grouped (coalesce)
		h.wait_until(lambda: len(self.bus.shown()) >= self.seen_shown + 2, 10, 0.1, 'two shown')
		time.sleep(2)
		self.assertEqual(self.bus.shown()[self.seen_shown:],
				 [('Notify Only', 'to the desktop'), ('Nobody Special', 'to both')])
		recs = self.assertQuiet(mb, 2, seconds=0)
		recs.sort(key=lambda r: int(r['MAILBELL_UID']))
		self.assertHook(recs[0], 'acct', m1, rule='quiet')
		self.assertHook(recs[1], 'acct', m4, rule='')
		self.assertStoppedCleanly(mb)

	def test_rule_urgency_and_preview(self):
		mb = self.start(user='bob', rules=[
			('boss', {'from': 'boss@example.org', 'urgency': 'critical'}),
			('news', {'list': '*', 'urgency': 'low', 'action': 'notify'})])
		raw, _ = h.make_message(from_='The Boss <boss@example.org>', subject='now',
					body='Come to my office <now> & bring the report.\n')
		self.append('bob', raw)
		self.new_notifications(1)
		time.sleep(2.5)  # past coalesce: a notification of its own, with its own urgency
		raw, _ = h.make_message(from_='News <news@example.org>', subject='weekly',
					extra_headers=['List-Id: <weekly.example.org>'], body='Nothing new.\n')
		self.append('bob', raw)
		got = self.new_notifications(2)
		self.assertEqual((got[0]['summary'], got[0]['body']),
				 ('The Boss', 'now\nCome to my office &lt;now&gt; &amp; bring the report.'))
		self.assertEqual(got[0]['hints'].get('urgency'), 2, got[0])
		self.assertEqual(got[1]['summary'], 'News')
		self.assertEqual(got[1]['hints'].get('urgency'), 0, got[1])
		self.assertStoppedCleanly(mb)

	def test_notify_no_sends_nothing(self):
		mb = self.start(notify='no')
		msg = self.deliver('alice', 'Silent', 'silent@example.org', 'hook only')
		mb.wait_hooks(1)
		self.quiet_notifications(0)
		self.assertHook(mb.hook_records()[0], 'acct', msg)
		self.assertStoppedCleanly(mb)


class NoNotificationServiceTest(h.DovecotTestCase):
	"""notify = yes but nothing answers on the bus: warn, keep running, hooks still run."""

	def test_hook_still_runs(self):
		bus = h.NotificationBus(parent_dir=self.tmp, mock=False).start()  # a bus, no service
		self.addCleanup(bus.cleanup)
		for name, env in (('nobus', {}), ('noservice', {'DBUS_SESSION_BUS_ADDRESS': bus.address})):
			with self.subTest(name):
				mb = self.mailbell({name: h.Mailbell.account(self.dovecot, 'alice', 'implicit')},
						   general={'notify': 'yes'}, env=env)
				mb.wait_idle(name)
				m1 = self.deliver('alice', 'One', 'one@example.org', 'first')
				m2 = self.deliver('alice', 'Two', 'two@example.org', 'second')
				mb.wait_hooks(2)
				recs = self.assertQuiet(mb, 2)
				recs.sort(key=lambda r: int(r['MAILBELL_UID']))
				self.assertHook(recs[0], name, m1)
				self.assertHook(recs[1], name, m2)
				self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main(needs=('dovecot', 'openssl', 'mailbell', 'dbus'))
