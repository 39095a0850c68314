#!/usr/bin/env python3
"""A configured mailbox that cannot be opened (servers.md S9: the server calls it "INBOX.Other", or
it does not exist yet), on a real Dovecot, with NOTIFY (one connection for all mailboxes) and without
(one connection per mailbox): the log names the mailbox, INBOX is watched undisturbed, and the
missing one is looked for again on its own schedule (every poll_interval at first) and watched once
it exists."""

import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

POLL = 10


class MissingMailboxTest(h.DovecotTestCase):
	# where the failure shows: the connection that watches INBOX (with NOTIFY it also had Other)
	failing = 'acct'

	def test_missing_mailbox_retried_on_its_own(self):
		user = 'alice'
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, user, mailboxes='INBOX, Other',
								 poll_interval=f'{POLL}s')})
		mb.wait_idle('acct')
		mb.wait_log(rf'warning: {re.escape(self.failing)}: cannot open mailbox Other: '
			    r"Mailbox doesn't exist: Other")
		retry = mb.wait_log(r'acct/Other: looking for mailbox Other again in (\d+\.\d)s')
		self.assertTrue(POLL <= float(retry.group(1)) <= POLL * 1.25, retry.group(0))
		self.assertNotIn('no configured mailbox', mb.log())

		# INBOX works meanwhile, announced as usual
		inbox = self.deliver(user, 'Inbox', 'inbox@example.org', 'to INBOX')
		recs = mb.wait_hooks(1)
		self.assertHook(recs[0], 'acct', inbox)

		# the mailbox appears; the next look finds it, and its mail is announced
		c = self.dovecot.imap(user)
		typ, data = c.create('Other')
		c.logout()
		self.assertEqual(typ, 'OK', data)
		mb.wait_log(r'acct/Other: idling on Other', timeout=POLL * 4)
		mb.wait_log(r'acct/Other: mailbox Other can be opened now')
		other = self.deliver(user, 'Other', 'other@example.org', 'to Other', mailbox='Other')
		recs = mb.wait_hooks(2)
		self.assertHook(recs[1], 'acct', other)

		# the INBOX connection was never disturbed: one sign-in, no reconnect
		log = mb.log()
		self.assertEqual(len(re.findall(r'acct: idling on INBOX', log)), 1, log)
		self.assertNotRegex(log, r'acct: reconnecting')
		self.assertEqual(len(re.findall(r'cannot open mailbox Other', log)), 1, 'warn once:\n' + log)
		inbox2 = self.deliver(user, 'Inbox', 'inbox@example.org', 'to INBOX again')
		mb.wait_hooks(3)
		recs = self.assertQuiet(mb, 3)
		self.assertHook(recs[2], 'acct', inbox2)
		self.assertStoppedCleanly(mb)


class MissingMailboxNoNotifyTest(MissingMailboxTest):
	# without NOTIFY, Other has a connection of its own from the start
	dovecot_options = {'extra_conf': 'imap_capability = IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE '
			   'AUTH=PLAIN AUTH=LOGIN\n'}
	failing = 'acct/Other'


if __name__ == '__main__':
	h.main()
