#!/usr/bin/env python3
"""Several mailboxes on one connection (issue 10 part 3): mail in mailboxes whose names need
modified UTF-7 (Café, R&D, 日本語) is announced through NOTIFY on a real Dovecot 2.3.19
(shared/cases/servers.md S3); a server whose NOTIFY stays silent is caught by the STATUS checks
at keepalive; expunges and flag changes reach the session's changed event (mailbell's debug log
says "ACCOUNT: MAILBOX: messages expunged" / "flags changed")."""

import base64
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import fakeimap as f  # noqa: E402
import harness as h  # noqa: E402
from fakeimap import expect, send  # noqa: E402
from test_faults_support import disable_notify  # noqa: E402

ENCODED = ['Café', 'R&D', '日本語']
LONG_KEEPALIVE = '29m'  # the STATUS checks at keepalive must not be what finds the mail


def mutf7(name):
	"""Modified UTF-7 (RFC 3501 5.1.3), as the wire and Dovecot's CREATE want it."""
	out, run = [], ''

	def flush():
		if run:
			b = base64.b64encode(run.encode('utf-16-be')).decode().rstrip('=').replace('/', ',')
			out.append('&' + b + '-')
	for ch in name:
		if 0x20 <= ord(ch) <= 0x7e:
			flush()
			run = ''
			out.append('&-' if ch == '&' else ch)
		else:
			run += ch
	flush()
	return ''.join(out)


def create(dovecot, user, names):
	c = dovecot.imap(user)
	try:
		for name in names:
			typ, data = c.create(mutf7(name))
			if typ != 'OK' and b'ALREADYEXISTS' not in (data[0] or b''):
				raise RuntimeError(f'CREATE {name} failed: {data}')
	finally:
		c.logout()


def changed_lines(mb, account, mailbox=None):
	"""(mailbox, kind) of every changed event mailbell logged for account."""
	found = re.findall(rf'{re.escape(account)}: (.+?): (messages expunged|flags changed)'
			   r'(?:, flags changed)?$', mb.log(), re.M)
	return [x for x in found if mailbox is None or x[0] == mailbox]


class EncodedNamesTest(h.DovecotTestCase):
	def test_mutf7_helper(self):
		self.assertEqual([mutf7(n) for n in ENCODED], ['Caf&AOk-', 'R&-D', '&ZeVnLIqe-'])

	def test_new_mail_in_encoded_mailboxes_through_notify(self):
		create(self.dovecot, 'alice', ENCODED)
		boxes = ['INBOX'] + ENCODED
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'alice', mailboxes=', '.join(boxes))},
				   general={'keepalive': LONG_KEEPALIVE}, trace=True)
		mb.wait_idle('acct')
		for name in ENCODED:
			mb.wait_idle('acct', f'{name} (NOTIFY)')
		# the filter Dovecot 2.3.19 honours for these names (see send_notify() in imap.c)
		notify = mb.wait_log(r'acct C: \S+ (NOTIFY SET .*)').group(1)
		self.assertIn('(personal (MessageNew MessageExpunge FlagChange))', notify)
		for n, name in enumerate(ENCODED + ['INBOX'], 1):
			msg = self.deliver('alice', 'Sender', 'sender@example.org', f'to {name}',
					   mailbox=mutf7(name))
			msg['mailbox'] = name  # the hook sees UTF-8
			recs = mb.wait_hooks(n, timeout=5)
			rec = recs[n - 1]
			self.assertHook(rec, 'acct', msg)
			took = rec['_time'] - msg['appended_at']
			self.assertLess(took, 2.0, f'{name}: announced after {took:.2f}s\n{mb.log()}')
		self.assertQuiet(mb, len(ENCODED) + 1, seconds=1)
		self.assertNotIn('did not report new mail', mb.log())
		self.assertStoppedCleanly(mb)

	def test_plain_names_keep_the_exact_filter(self):
		create(self.dovecot, 'bob', ['Lists'])
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'bob', mailboxes='INBOX, Lists')},
				   general={'keepalive': LONG_KEEPALIVE}, trace=True)
		mb.wait_idle('acct', 'Lists (NOTIFY)')
		notify = mb.wait_log(r'acct C: \S+ (NOTIFY SET .*)').group(1)
		self.assertRegex(notify, r'^NOTIFY SET \(selected \(MessageNew \(UID FLAGS RFC822\.SIZE .*\) '
				 r'MessageExpunge FlagChange\)\) '
				 r'\(mailboxes \(INBOX Lists\) \(MessageNew MessageExpunge FlagChange\)\)$')
		msg = self.deliver('bob', 'Sender', 'sender@example.org', 'to Lists', mailbox='Lists')
		self.assertHook(mb.wait_hooks(1, timeout=5)[0], 'acct', msg)
		self.assertStoppedCleanly(mb)


class ChangedTest(h.DovecotTestCase):
	"""Expunges and flag changes made by another client, in the selected INBOX and in a mailbox
	watched through NOTIFY (or STATUS polling); an unwatched mailbox reports nothing."""

	watched = 'Café'  # needs encoding: Dovecot then sends events for every mailbox (personal)

	def seed(self, user, boxes):
		create(self.dovecot, user, [b for b in boxes if b != 'INBOX'])
		for box in boxes:
			for i in range(3):
				raw, _ = h.make_message(subject=f'old {i}')
				self.append(user, raw, mailbox=mutf7(box))

	def change(self, user, box, flags=False, expunge=False):
		"""From another client: \\Seen on message 1, or expunge message 2."""
		c = self.dovecot.imap(user)
		try:
			typ, data = c.select(mutf7(box))
			self.assertEqual(typ, 'OK', data)
			if flags:
				c.store('1', '+FLAGS.SILENT', '\\Seen')
			if expunge:
				c.store('2', '+FLAGS.SILENT', '\\Deleted')
				c.expunge()
		finally:
			c.logout()

	def wait_changed(self, mb, box, kind, count=1, timeout=10):
		deadline = time.monotonic() + timeout
		while changed_lines(mb, 'acct', box).count((box, kind)) < count:
			if time.monotonic() > deadline:
				self.fail(f'no "{box}: {kind}" (x{count}) within {timeout}s; seen '
					  f'{changed_lines(mb, "acct")}\n{mb.log()}')
			time.sleep(0.05)

	def run_changes(self, user, general, timeout, **account):
		boxes = ['INBOX', self.watched]
		self.seed(user, boxes + ['Other'])
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, user, mailboxes=', '.join(boxes),
							       **account)},
				   general=general, trace=True)
		mb.wait_idle('acct')
		mb.wait_idle('acct', self.watched)
		time.sleep(0.5)
		self.assertEqual(changed_lines(mb, 'acct'), [], 'sign-in alone must report no change')
		for box in ('INBOX', self.watched, 'Other'):
			self.change(user, box, flags=True)
			if box != 'Other':
				self.wait_changed(mb, box, 'flags changed', timeout=timeout)
			self.change(user, box, expunge=True)
			if box != 'Other':
				self.wait_changed(mb, box, 'messages expunged', timeout=timeout)
		return mb

	def test_expunge_and_flags_under_notify(self):
		mb = self.run_changes('alice', {'keepalive': LONG_KEEPALIVE}, timeout=5)
		# positive control: Dovecot told mailbell of Other's changes too (personal filter) ...
		h.wait_until(lambda: re.search(r'acct S: \* STATUS Other \(MESSAGES 2 ', mb.log()), 5,
			     what='the NOTIFY event of Other\'s expunge')
		time.sleep(0.5)
		# ... and mailbell kept quiet about it; one expunge each in the watched ones
		self.assertEqual(changed_lines(mb, 'acct', 'Other'), [], mb.log())
		for box in ('INBOX', self.watched):
			self.assertEqual(changed_lines(mb, 'acct', box).count((box, 'messages expunged')), 1, mb.log())
		# no new mail came, so nothing was fetched again for those changes
		self.assertEqual(mb.hook_records(), [])
		self.assertStoppedCleanly(mb)


class ChangedPollingTest(ChangedTest):
	"""The same without NOTIFY on one connection: the other mailbox is checked with STATUS every
	poll_interval."""

	watched = 'Lists'

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		disable_notify(cls.dovecot)

	test_expunge_and_flags_under_notify = None

	def test_expunge_and_flags_by_status_polling(self):
		mb = self.run_changes('bob', {'keepalive': LONG_KEEPALIVE, 'poll_interval': '10s'}, timeout=15,
				      max_connections=1)
		mb.wait_log(r'acct: idling on Lists \(STATUS polling\)')
		self.assertRegex(mb.log(), r'acct C: \S+ STATUS Lists \(MESSAGES UIDNEXT UIDVALIDITY UNSEEN '
				 r'HIGHESTMODSEQ\)')
		self.assertEqual(changed_lines(mb, 'acct', 'Other'), [])
		self.assertStoppedCleanly(mb)


class SilentNotifyTest(f.FakeServerTestCase):
	"""A server that offers NOTIFY and accepts NOTIFY SET but never sends a STATUS event: the
	STATUS check at keepalive finds the mail, says so once, and polls from then on."""

	general = {'timeout': '5s', 'keepalive': '60s', 'poll_interval': '10s'}

	def test_mail_found_at_keepalive_and_warned(self):
		items = r'\(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ\)$'

		def examine(box, uidnext, exists):
			return [expect(rf'^\S+ EXAMINE {box}$', 'examine'),
				send(f'* {exists} EXISTS', '* 0 RECENT', '* OK [UIDVALIDITY 7] UIDs valid',
				     f'* OK [UIDNEXT {uidnext}] Predicted next UID', '* OK [HIGHESTMODSEQ 5] Highest',
				     '{examine} OK [READ-ONLY] Examine completed')]

		def status(messages, uidnext, unseen, modseq):
			return [expect(r'^\S+ STATUS Second ' + items, 'status'),
				send(f'* STATUS Second (MESSAGES {messages} UIDNEXT {uidnext} UIDVALIDITY 7 '
				     f'UNSEEN {unseen} HIGHESTMODSEQ {modseq})', '{status} OK Status completed')]

		def renew(timeout):
			return [expect(r'^DONE$', timeout=timeout), send('{idle} OK Idle completed')]

		caps = f.POSTAUTH_CAPS + ' NOTIFY'
		script = [f.greeting(), *f.sign_in(caps), *f.after_login(caps),
			  *examine('Second', 1, 0), *examine('INBOX', 1, 0),
			  expect(r'^\S+ NOTIFY SET \(selected \(MessageNew \(UID FLAGS RFC822\.SIZE [^\r\n]*\) '
				 r'MessageExpunge FlagChange\)\) '
				 r'\(mailboxes \(INBOX Second\) \(MessageNew MessageExpunge FlagChange\)\)$', 'notify'),
			  send('{notify} OK NOTIFY completed'),
			  *status(0, 1, 0, 5), *f.idle(),
			  # mail reaches Second now; the server says nothing
			  *renew(75), *status(1, 2, 1, 6),
			  *examine('Second', 2, 1),
			  expect(r'^\S+ UID FETCH 1:\* ', 'fetch'),
			  send(f.fetch(1, 1, 'silent notify'), '{fetch} OK Fetch completed'),
			  *examine('INBOX', 1, 0), *status(1, 2, 1, 6), *f.idle(),
			  # from now on every poll_interval
			  *renew(20), *status(1, 2, 1, 6), *f.idle(),
			  *renew(20), *status(1, 2, 1, 6), *f.idle()]
		srv = self.server([script])
		mb = self.mailbell({'acct': self.account(srv, mailboxes='INBOX, Second')})
		mb.wait_idle('acct', 'Second (NOTIFY)')
		idle_at = time.time()
		recs = mb.wait_hooks(1, timeout=80)
		took = recs[0]['_time'] - idle_at
		self.assertEqual((recs[0]['MAILBELL_MAILBOX'], recs[0]['MAILBELL_SUBJECT']), ('Second', 'silent notify'))
		self.assertLess(took, 60 + 5, 'mail in Second must be reported within keepalive')
		self.assertGreater(took, 50, 'found before keepalive: by what?')
		mb.wait_log(r"acct: the server's NOTIFY did not report new mail in Second; checking it with "
			    r'STATUS every 10s')
		# the two STATUS checks after the warning, each poll_interval apart
		c = srv.conns[0]
		h.wait_until(lambda: sum(1 for l in c.lines if l == 'DONE') >= 3, 30, what='two polls')
		dones = [t for l, t in zip(c.lines, c.times) if l == 'DONE']
		self.assertAlmostEqual(dones[2] - dones[1], 10, delta=2, msg=dones)
		self.assertEqual(len(re.findall(r'did not report new mail', mb.log())), 1, 'warned once')
		self.assertEqual(len(srv.conns), 1)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
