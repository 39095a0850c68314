"""What a hostile sender or a hung desktop can do, and cannot.

- A From header far over the IMAP parser's 1 MiB line limit (as an ENVELOPE would carry it,
  three times) must not block the mailbox: mailbell fetches header fields as a bounded literal.
- Values a sender controls are capped before they reach a hook's environment (the kernel
  refuses a single variable over 128 KiB, so the hook would not start at all) and a notification.
- A notification service that stops answering (SIGSTOP) must not hold up hooks or IDLE."""
import os
import signal
import time
import unittest

import harness as h


class HostileSenderTest(h.DovecotTestCase):
	def test_huge_from_does_not_block_the_mailbox(self):
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')})
		mb.wait_idle('work')
		big_name = 'x' * 1_500_000
		raw, _ = h.make_message(from_=f'"{big_name}" <big@example.org>', subject='huge from')
		uv, uid = self.append('alice', raw)
		after = self.deliver('alice', 'After', 'after@example.org', 'after the huge one')
		recs = mb.wait_hooks(2, timeout=20)
		by_uid = {int(r['MAILBELL_UID']): r for r in mb.hook_records()}
		self.assertEqual(sorted(by_uid), [uid, after['uid']])
		self.assertEqual(by_uid[uid]['MAILBELL_SUBJECT'], 'huge from')
		self.assertLessEqual(len(by_uid[uid]['MAILBELL_FROM_NAME'].encode()), 16384)
		self.assertEqual(by_uid[after['uid']]['MAILBELL_FROM_ADDRESS'], 'after@example.org')
		self.assertNotIn('malformed response', mb.log())

	def test_huge_subject_still_runs_the_hook(self):
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')})
		mb.wait_idle('work')
		# raw windows-1252 bytes: each becomes three octets of UTF-8
		subject = b'\x93' * 50_000
		raw = (b'From: Big <big@example.org>\r\nSubject: ' + subject +
		       b'\r\nMessage-ID: <huge-subject@example.org>\r\n\r\nbody\r\n')
		uv, uid = self.append('alice', raw)
		recs = mb.wait_hooks(1, timeout=20)
		self.assertEqual(recs[0]['MAILBELL_UID'], str(uid))
		s = recs[0]['MAILBELL_SUBJECT']
		self.assertLessEqual(len(s.encode()), 16384)
		self.assertTrue(s.startswith('\u201c\u201c\u201c') and s.endswith('\u2026'), s[:20])


class HungNotificationServiceTest(h.DovecotTestCase):
	def test_hooks_do_not_wait_for_a_stopped_service(self):
		if os.environ.get('MAILBELL_HAVE_LIBNOTIFY') == '0':
			raise unittest.SkipTest('mailbell built without libnotify')
		bus = h.NotificationBus(parent_dir=self.tmp).start()
		self.addCleanup(bus.cleanup)
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')},
				   general={'notify': 'yes'}, env={'DBUS_SESSION_BUS_ADDRESS': bus.address})
		mb.wait_idle('work')
		os.kill(bus.mock.pid, signal.SIGSTOP)
		self.addCleanup(lambda: bus.mock.poll() is None and os.kill(bus.mock.pid, signal.SIGCONT))
		t0 = time.time()
		uids = [self.deliver('alice', 'S', 's@example.org', f'while stopped {i}')['uid']
			for i in range(3)]
		mb.wait_hooks(3, timeout=10)
		# libnotify's call would block 25 s per message on the main loop
		self.assertLess(time.time() - t0, 10)
		self.assertEqual(sorted(int(r['MAILBELL_UID']) for r in mb.hook_records()), sorted(uids))
		os.kill(bus.mock.pid, signal.SIGCONT)
		# all three, singly or grouped (coalesce), once the service answers again
		h.wait_until(lambda: sorted(x[1] for x in bus.shown()) ==
			     [f'while stopped {i}' for i in range(3)], 30, 0.2, 'the three shown')
		# and SIGTERM is prompt
		t1 = time.time()
		mb.stop()
		self.assertLess(time.time() - t1, 6)


if __name__ == '__main__':
	h.main(needs=('dovecot', 'openssl', 'mailbell', 'dbus'))
