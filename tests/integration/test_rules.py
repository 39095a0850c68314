#!/usr/bin/env python3
"""Sender rules and \\Seen: what must not be reported is not, and what must be still is."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402


class RulesTest(h.DovecotTestCase):
	def start(self, rules=(), user='alice'):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, user, 'implicit')}, rules=rules)
		mb.wait_idle('acct')
		return mb

	def test_ignore_rule_suppresses_hook(self):
		mb = self.start(rules=[('lists', {'from': '*@lists.example.org', 'action': 'ignore'})])
		# ignored ones first: when the last one is reported, the others had their chance
		self.deliver('alice', 'Announce', 'announce@lists.example.org', 'list traffic')
		self.deliver('alice', 'News', 'News@Lists.Example.ORG', 'case-insensitive match')
		msg = self.deliver('alice', 'Carol', 'carol@example.com', 'a real mail')
		mb.wait_hooks(1)
		recs = self.assertQuiet(mb, 1)
		self.assertHook(recs[0], 'acct', msg, rule='')
		self.assertStoppedCleanly(mb)

	def test_first_matching_rule_decides(self):
		mb = self.start(rules=[
			('vip', {'from': 'boss@example.org, *@vip.example.org', 'action': 'hook'}),
			('rest', {'from': '*', 'action': 'ignore'}),
		], user='bob')
		m1 = self.deliver('bob', 'The Boss', 'boss@example.org', 'urgent')
		self.deliver('bob', 'Someone', 'someone@example.net', 'caught by the catch-all')
		m3 = self.deliver('bob', 'V I P', 'v@vip.example.org', 'also urgent')
		self.deliver('bob', 'Boss Lookalike', 'boss@example.org.evil.test', 'not the boss')
		mb.wait_hooks(2)
		recs = self.assertQuiet(mb, 2)
		recs.sort(key=lambda r: int(r['MAILBELL_UID']))
		self.assertHook(recs[0], 'acct', m1, rule='vip')
		self.assertHook(recs[1], 'acct', m3, rule='vip')
		self.assertStoppedCleanly(mb)

	def test_seen_message_not_reported(self):
		mb = self.start()
		self.deliver('alice', 'Read Already', 'seen@example.org', 'already seen', flags='\\Seen')
		self.deliver('alice', 'Read Already', 'seen2@example.org', 'seen and flagged',
			     flags=['\\Seen', '\\Flagged'])
		msg = self.deliver('alice', 'Unread', 'unseen@example.org', 'not seen yet', flags='\\Flagged')
		mb.wait_hooks(1)
		recs = self.assertQuiet(mb, 1)
		self.assertHook(recs[0], 'acct', msg)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
