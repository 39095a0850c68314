#!/usr/bin/env python3
"""TLS session resumption (src/tls-resume.c, src/net.c) against a real Dovecot.

Dovecot here runs one imap-login process for every connection (high-performance mode), so one
session-ticket key: a ticket one connection brought can resume another connection's handshake.
Expected: accounts on the same server share tickets (the first handshake is full, the others
resume, and all get their mail exactly once), reconnects resume, a ticket is never offered where
the trust settings differ (a pinned account with the wrong fingerprint still fails), and a server
whose certificate changed behind the same port is refused even though tickets are pooled (its
new process does not take them back, and the full handshake fails verification)."""

import hashlib
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

ONE_LOGIN_PROCESS = '''service imap-login {
  service_count = 0
  process_min_avail = 1
  process_limit = 1
}
'''

RESUMED = r'localhost:\d+: TLSv1\.\d, \S+, session resumed'
FULL = r'localhost:\d+: TLSv1\.\d, \S+$'
REFUSED = r'ticket not accepted: new session'


def fingerprint(crt):
	with open(crt) as fh:
		return hashlib.sha256(ssl.PEM_cert_to_DER_cert(fh.read())).hexdigest()


class HangFirstServer:
	"""Holds the first connection open without a word (its handshake never ends); closes every
	later one as soon as it is accepted, before any TLS."""

	def __init__(self):
		self.sock = socket.socket()
		self.sock.bind(('127.0.0.1', 0))
		self.sock.listen(16)
		self.port = self.sock.getsockname()[1]
		self.held = []
		threading.Thread(target=self.serve, daemon=True).start()

	def serve(self):
		while True:
			try:
				conn, _ = self.sock.accept()
			except OSError:
				return
			if not self.held:
				self.held.append(conn)
			else:
				conn.close()

	def close(self):
		self.sock.close()
		for c in self.held:
			c.close()


def cpu_seconds(pid):
	with open(f'/proc/{pid}/stat') as f:
		fields = f.read().rsplit(')', 1)[1].split()
	return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class ResumeTest(h.DovecotTestCase):
	dovecot_options = {'extra_conf': ONE_LOGIN_PROCESS}

	def count(self, mb, pattern):
		return len(re.findall('(?m)' + pattern, mb.log()))

	def test_accounts_share_tickets_and_reconnects_resume(self):
		accounts = {
			'a': h.Mailbell.account(self.dovecot, 'alice'),
			'b': h.Mailbell.account(self.dovecot, 'bob'),
			'c': h.Mailbell.account(self.dovecot, 'odd'),
			's': h.Mailbell.account(self.dovecot, 'alice', tls='starttls'),
		}
		mb = self.mailbell(accounts)
		for name in accounts:
			mb.wait_idle(name)
		# implicit TLS: one full handshake (the probe), the other two resumed with its tickets;
		# STARTTLS has a pool of its own: one full handshake
		self.assertEqual(self.count(mb, RESUMED), 2, mb.log())
		self.assertEqual(self.count(mb, FULL), 2, mb.log())
		self.assertEqual(self.count(mb, REFUSED), 0, mb.log())
		want = {('a', self.deliver('alice', 'A', 'a@example.org', 'to alice')['uid']),
			('b', self.deliver('bob', 'B', 'b@example.org', 'to bob')['uid']),
			('c', self.deliver('odd', 'C', 'c@example.org', 'to odd')['uid'])}
		recs = mb.wait_hooks(4)  # alice's mail twice: accounts a and s
		got = sorted((r['MAILBELL_ACCOUNT'], int(r['MAILBELL_UID'])) for r in recs)
		self.assertEqual(got, sorted(want | {('s', dict(want)['a'])}))
		# every connection again (SIGUSR1). Dovecot (OpenSSL's defaults) sends two tickets
		# after a full handshake and one after a resumed one, each used once: the implicit
		# pool holds two for three connections (one full handshake), STARTTLS's two for one
		mb.proc.send_signal(signal.SIGUSR1)
		for name in accounts:
			mb.wait_idle(name, count=2)
		self.assertEqual(self.count(mb, RESUMED), 2 + 3, mb.log())
		self.assertEqual(self.count(mb, FULL), 2 + 1, mb.log())
		self.assertEqual(self.count(mb, REFUSED), 0, mb.log())
		time.sleep(1)
		self.assertEqual(len(mb.hook_records()), 4)  # nothing reported twice
		self.assertStoppedCleanly(mb)

	def test_no_ticket_across_trust_settings(self):
		# the same server and port: 'ca' verifies the chain, 'pinned' pins the right
		# fingerprint, 'wrongpin' a wrong one. wrongpin must fail every time although the
		# others' tickets for this very server are in their pools.
		good = fingerprint(self.certs.server_crt)
		wrong = fingerprint(self.certs.rogue_crt)
		pinned = dict(h.Mailbell.account(self.dovecot, 'bob'), tls_fingerprint=good)
		wrongpin = dict(h.Mailbell.account(self.dovecot, 'odd'), tls_fingerprint=wrong)
		for a in (pinned, wrongpin):
			a.pop('ca_file')
		mb = self.mailbell({'ca': h.Mailbell.account(self.dovecot, 'alice'), 'pinned': pinned,
				    'wrongpin': wrongpin})
		mb.wait_idle('ca')
		mb.wait_idle('pinned')
		mb.wait_log(r'wrongpin: .*fingerprint does not match', timeout=15)
		mb.proc.send_signal(signal.SIGUSR1)  # reconnect: ca and pinned resume, each from its own pool
		mb.wait_idle('ca', count=2)
		mb.wait_idle('pinned', count=2)
		mb.wait_log(r'wrongpin: .*fingerprint does not match', timeout=15, count=2)
		self.assertEqual(self.count(mb, RESUMED), 2, mb.log())
		self.assertNotRegex(mb.log(), r'wrongpin: idling')
		self.assertNotRegex(self.dovecot_log(), r'Login: user=<odd>')
		self.assertStoppedCleanly(mb)

	def test_waiting_connection_sees_the_server_hang_up(self):
		# The first connection's handshake hangs, so the others wait for its tickets; the
		# server then closes them. Each must stop waiting at once (a handshake that fails with
		# "unexpected eof", not the end of the 2 s longest wait) and must not spin on the
		# closed socket meanwhile (level-triggered input): mailbell's CPU stays small.
		srv = HangFirstServer()
		self.addCleanup(srv.close)
		acct = dict(h.Mailbell.account(self.dovecot, 'alice'), port=str(srv.port))
		mb = self.mailbell({'a': acct, 'b': dict(acct), 'c': dict(acct)})
		mb.wait_log(r'[bc]: TLS handshake', timeout=10)
		mb.wait_log(r'[bc]: TLS handshake', timeout=10, count=2)
		cpu0 = cpu_seconds(mb.pid())
		# all mailbell's CPU since it started: a waiter spinning until the longest wait
		# ended would have burnt most of 2 s by now
		self.assertLess(cpu0, 1.0, mb.log())
		time.sleep(3)  # past the longest wait: a spinning waiter would burn most of this
		self.assertLess(cpu_seconds(mb.pid()) - cpu0, 0.5, mb.log())
		self.assertNotRegex(mb.log(), r'connect to .* timed out')
		self.assertStoppedCleanly(mb)

	def test_changed_certificate_behind_the_same_port(self):
		mb = self.mailbell({'a': h.Mailbell.account(self.dovecot, 'alice'),
				    'b': h.Mailbell.account(self.dovecot, 'bob')})
		mb.wait_idle('a')
		mb.wait_idle('b')
		self.assertGreaterEqual(self.count(mb, RESUMED), 1, mb.log())
		# the server comes back with a certificate from a CA mailbell does not trust
		self.dovecot.stop()
		self.dovecot.cert, self.dovecot.key = self.certs.rogue_crt, self.certs.rogue_key
		self.dovecot._write_files()
		try:
			self.dovecot.start()
			mb.wait_log(r'a: .*certificate verify failed', timeout=30)
			mb.wait_log(r'b: .*certificate verify failed', timeout=30)
			self.assertEqual(mb.log().count('idling on INBOX'), 2, mb.log())
		finally:
			self.dovecot.stop()
			self.dovecot.cert, self.dovecot.key = self.certs.server_crt, self.certs.server_key
			self.dovecot._write_files()
			self.dovecot.start()
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
