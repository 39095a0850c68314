#!/usr/bin/env python3
"""Bad server certificates are refused before anything secret is sent.

Dovecot serves a certificate mailbell must not accept (mailbell trusts only the test CA through
ca_file). Expected: mailbell logs a certificate error, keeps running (retrying), the hook never
runs, and Dovecot's log shows the connection ended with no authentication attempt and no login."""

import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

CERT_ERROR = re.compile(
	r'(?i)certificate verify failed'
	r'|certificate\b.*\b(fail|error|invalid|unknown|expired|mismatch|untrusted|not trusted|refus|reject)'
	r'|\b(fail|error|invalid|unable|refus|reject)\w*\b.*\bcertificate')


class BadCertificate:
	"""Mixin: the tests, run against each kind of bad certificate."""

	def check_refused(self, tls):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'alice', tls)}, trace=True)
		mb.wait_log(CERT_ERROR.pattern, timeout=15)
		# Dovecot logs the end of that connection: no auth attempt
		self.dovecot.wait_log(r'no auth attempts', since=self.dovecot_log_start)
		self.assertNotRegex(self.dovecot_log(), r'Login: ',
				    'mailbell logged in despite a bad certificate')
		# mail arriving now must not be reported either (mailbell keeps retrying, keeps failing)
		before_append = self.dovecot.log_size()
		self.deliver('alice', 'X', 'x@example.org', 'must not be reported')
		time.sleep(3.0)
		self.assertEqual(mb.hook_records(), [], mb.log())
		self.assertIsNone(mb.proc.poll(), 'mailbell must keep running after a certificate failure:\n'
				  + mb.log())
		logins = re.findall(r'Login: user=<[^>]*>.*', self.dovecot.log_since(before_append))
		self.assertEqual(len(logins), 1, 'only the test client may log in:\n' + '\n'.join(logins))
		self.assertNotRegex(mb.log(), r'idling on')
		self.assertStoppedCleanly(mb)
		return mb

	def test_implicit_tls_refused(self):
		self.check_refused('implicit')

	def test_starttls_refused(self):
		self.check_refused('starttls')


class UnknownCATest(BadCertificate, h.DovecotTestCase):
	dovecot_cert = 'rogue'  # localhost certificate from a CA mailbell does not trust

	def test_implicit_tls_refused(self):
		super().test_implicit_tls_refused()
		# the TLS handshake itself failed on the server side (the client sent an alert)
		self.assertRegex(self.dovecot_log(), r'(?i)TLS handshaking|SSL_accept|alert')


class WrongHostTest(BadCertificate, h.DovecotTestCase):
	dovecot_cert = 'wronghost'  # valid chain, but for wrong.example.org, not localhost


class ExpiredTest(BadCertificate, h.DovecotTestCase):
	dovecot_cert = 'expired'

	test_starttls_refused = None  # one TLS mode is enough for this one


if __name__ == '__main__':
	h.main()
