#!/usr/bin/env python3
"""A message APPENDed by an independent client reaches the hook exactly once, decoded,
over implicit TLS, STARTTLS and plaintext; awkward passwords work."""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

ENC_SUBJECT = '=?UTF-8?B?SGVsbG8gw6l0w6k=?='  # Hello été
ENC_FROM = '=?ISO-8859-1?Q?Andr=E9?= Pirard <andre@example.org>'


class DeliveryTest(h.DovecotTestCase):
	def deliver_andre(self, user='alice'):
		return self.deliver(user, 'André Pirard', 'andre@example.org', 'Hello été',
				    raw_from=ENC_FROM, raw_subject=ENC_SUBJECT)

	def check_one_delivery(self, tls, user='alice', account='acct', **account_keys):
		mb = self.mailbell({account: h.Mailbell.account(self.dovecot, user, tls, **account_keys)})
		mb.wait_idle(account)
		with h.IdleWatcher(self.dovecot, user) as ref:
			msg = self.deliver_andre(user)
			recs = mb.wait_hooks(1)
			exists_at = ref.wait_exists()
		latency = recs[0]['_time'] - msg['appended_at']
		print(f'\n{self.id()}: APPEND -> hook {latency * 1000:.0f} ms; Dovecot told a reference '
		      f'IDLE client after {(exists_at - msg["appended_at"]) * 1000:.0f} ms',
		      file=sys.stderr)
		recs = self.assertQuiet(mb, 1)
		self.assertHook(recs[0], account, msg)
		login = self.dovecot.wait_log(rf'Login: user=<{re.escape(user)}>, method=\S+, .*', since=self.dovecot_log_start)
		self.assertStoppedCleanly(mb)
		return mb, login.group(0), latency

	def test_implicit_tls(self):
		mb, login, latency = self.check_one_delivery('implicit')
		self.assertIn('lip=127.0.0.1', login)
		self.assertRegex(login, r'\bTLS\b')
		self.assertLess(latency, 3.0, 'Dovecot reports new mail within ~0.5 s; mailbell took too long')

	def test_starttls(self):
		mb, login, _ = self.check_one_delivery('starttls')
		# the plain listener, upgraded: Dovecot marks the session TLS
		self.assertRegex(login, r'\bTLS\b')

	def test_plaintext_when_explicitly_configured(self):
		mb, login, _ = self.check_one_delivery('none')
		self.assertNotRegex(login, r'\bTLS\b')

	def test_awkward_password(self):
		self.check_one_delivery('implicit', user='odd', account='odd')

	def test_awkward_password_over_starttls(self):
		self.check_one_delivery('starttls', user='odd', account='odd2')

	def test_awkward_password_from_password_cmd(self):
		pw_file = os.path.join(self.tmp, 'odd-password')
		with open(pw_file, 'w') as f:
			f.write(self.dovecot.users['odd'] + '\nsecond line is ignored\n')
		acct = h.Mailbell.account(self.dovecot, 'odd', 'implicit', password_cmd=f'cat {pw_file}')
		self.assertNotIn('password', acct)
		mb = self.mailbell({'odd': acct})
		mb.wait_idle('odd')
		msg = self.deliver_andre('odd')
		mb.wait_hooks(1)
		recs = self.assertQuiet(mb, 1)
		self.assertHook(recs[0], 'odd', msg)
		self.assertStoppedCleanly(mb)

	def test_burst_of_messages_each_reported_once_in_order(self):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'bob', 'implicit')})
		mb.wait_idle('acct')
		msgs = [self.deliver('bob', f'Sender {i}', f's{i}@example.org', f'burst {i}') for i in range(5)]
		mb.wait_hooks(5)
		recs = self.assertQuiet(mb, 5)
		recs.sort(key=lambda r: int(r['MAILBELL_UID']))
		for rec, msg in zip(recs, msgs):
			self.assertHook(rec, 'acct', msg)
		self.assertStoppedCleanly(mb)

	def test_old_mail_not_reported_at_start(self):
		# mail already in the mailbox when mailbell starts (fresh state dir) is the baseline
		self.deliver('bob', 'Old', 'old@example.org', 'old news')
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'bob', 'implicit')})
		mb.wait_idle('acct')
		msg = self.deliver('bob', 'New', 'new@example.org', 'new news')
		mb.wait_hooks(1)
		recs = self.assertQuiet(mb, 1)
		self.assertHook(recs[0], 'acct', msg)
		self.assertStoppedCleanly(mb)

	def test_two_accounts_at_once(self):
		mb = self.mailbell({
			'one': h.Mailbell.account(self.dovecot, 'alice', 'implicit'),
			'two': h.Mailbell.account(self.dovecot, 'bob', 'starttls'),
		})
		mb.wait_idle('one')
		mb.wait_idle('two')
		m1 = self.deliver('alice', 'To Alice', 'x@example.org', 'for alice')
		m2 = self.deliver('bob', 'To Bob', 'y@example.org', 'for bob')
		mb.wait_hooks(2)
		recs = self.assertQuiet(mb, 2)
		by_account = {r['MAILBELL_ACCOUNT']: r for r in recs}
		self.assertEqual(sorted(by_account), ['one', 'two'], recs)
		self.assertHook(by_account['one'], 'one', m1)
		self.assertHook(by_account['two'], 'two', m2)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
