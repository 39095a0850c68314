#!/usr/bin/env python3
"""No way in for a man in the middle or a hostile server (issue 3, sections 4 and 5, session side):
STARTTLS stripping and refusal, PREAUTH on a STARTTLS account, response injection after
"OK Begin TLS", capabilities and [ALERT] from before TLS, bad certificates and the two ways to
trust one (ca_file, tls_fingerprint), and servers that send endless lines or literals or go
silent. Played by the scripted fake server tests/fakeimap.py."""

import hashlib
import os
import re
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import fakeimap as f  # noqa: E402
import harness as h  # noqa: E402
from fakeimap import expect, send, raw, pause, silent, starttls, flood, wait  # noqa: E402

PASSWORD = 's3cret-Pw'
RECONNECT_CAP = r'reconnecting in 3\d\d\.\ds'  # the backoff cap, 300 s plus jitter
STARTTLS_CAPS = 'IMAP4rev1 STARTTLS LOGINDISABLED'


def fingerprint(crt):
	with open(crt) as fh:
		return hashlib.sha256(ssl.PEM_cert_to_DER_cert(fh.read())).hexdigest()


class Base(f.FakeServerTestCase):
	def assertNoCredentials(self, srv, mb):
		"""Nothing the client sent (on any connection) may hold a sign-in or the password."""
		sent = srv.sent()
		for needle in (PASSWORD.encode(), f.b64(PASSWORD.encode()).encode(),
			       f.b64(b'\0alice@example.org\0' + PASSWORD.encode()).encode()):
			self.assertNotIn(needle, sent, srv.transcript())
		self.assertNotRegex(sent.decode('latin-1'), r'(?im)^\S+ (LOGIN|AUTHENTICATE)\b', srv.transcript())
		self.assertNotRegex(mb.log(), r'idling on|polling')


class StartTLSTest(Base):
	def test_starttls_stripped_refused_or_preauth(self):
		stripped = self.server([[f.greeting('IMAP4rev1 AUTH=PLAIN SASL-IR IDLE'),
					 expect(r'^\S+ STARTTLS$'), send('{tag} BAD Unknown command'), silent()]], tls=None)
		no = self.server([[f.greeting(STARTTLS_CAPS), expect(r'^\S+ STARTTLS$'),
				   send('{tag} NO [UNAVAILABLE] TLS not available right now'), silent()]], tls=None)
		bad = self.server([[f.greeting(STARTTLS_CAPS), expect(r'^\S+ STARTTLS$'),
				    send('{tag} BAD [CLIENTBUG] not now'), silent()]], tls=None)
		preauth = self.server([[send('* PREAUTH [CAPABILITY IMAP4rev1 IDLE] Logged in as alice'), silent()]],
				      tls=None)
		srvs = {'stripped': stripped, 'no': no, 'bad': bad, 'preauth': preauth}
		mb = self.mailbell({n: self.account(s, tls='starttls') for n, s in srvs.items()})
		mb.wait_log(r'stripped: server refused STARTTLS: Unknown command')
		mb.wait_log(r'no: server refused STARTTLS: TLS not available right now')
		mb.wait_log(r'bad: server refused STARTTLS: not now')
		mb.wait_log(r'preauth: PREAUTH greeting on a STARTTLS account')
		for n in srvs:
			mb.wait_log(rf'{n}: {RECONNECT_CAP}')
		time.sleep(0.5)
		for n, s in srvs.items():
			self.assertEqual(len(s.conns), 1, n)
			self.assertNoCredentials(s, mb)
			self.assertNoScriptErrors(s, mb)
		self.assertEqual(preauth.conns[0].text(), '')
		self.assertStoppedCleanly(mb)

	def test_injection_after_begin_tls(self):
		# the injected response shares the segment with the OK
		same = self.server([[f.greeting(STARTTLS_CAPS), expect(r'^\S+ STARTTLS$'),
				     send('{tag} OK Begin TLS negotiation now',
					  '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE] injected'),
				     silent()]], tls=None)
		# or comes just after it, when the client is already in the handshake
		later = self.server([[f.greeting(STARTTLS_CAPS), expect(r'^\S+ STARTTLS$'),
				      send('{tag} OK Begin TLS negotiation now'), pause(0.05),
				      raw(b'* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE] injected\r\n'), silent()]],
				     tls=None)
		mb = self.mailbell({'same': self.account(same, tls='starttls'),
				    'later': self.account(later, tls='starttls')})
		mb.wait_log(r'same: server sent data after the STARTTLS response: possible injection attack')
		mb.wait_log(r'later: .*(TLS|SSL|handshake)')
		mb.wait_log(rf'same: {RECONNECT_CAP}')
		self.assertEqual(same.conns[0].data.count(b'\r\n'), 1, 'only STARTTLS may be sent: ' +
				 same.transcript())
		for s in (same, later):
			self.assertNoCredentials(s, mb)
		self.assertStoppedCleanly(mb)

	def test_pre_tls_capabilities_and_alert_not_used(self):
		# pre-TLS: AUTH=PLAIN with SASL-IR and an ALERT; after TLS: only LOGIN, an ALERT after login
		pre = 'IMAP4rev1 STARTTLS SASL-IR AUTH=PLAIN IDLE'
		post = 'IMAP4rev1 IDLE LITERAL+'
		a = self.server([[f.greeting(pre), expect(r'^\S+ STARTTLS$'),
				  send('* OK [ALERT] pre-TLS alert', '{tag} OK Begin TLS'), starttls(),
				  expect(r'^\S+ CAPABILITY$'), send('* CAPABILITY ' + post, '{tag} OK'),
				  expect(r'^\S+ LOGIN alice@example\.org s3cret-Pw$', 'auth'),
				  send('{auth} OK [CAPABILITY ' + post + '] Logged in', '* OK [ALERT] post-login alert'),
				  *f.open_mailbox(post, uidnext=2), *f.new_mail(2, [f.fetch(2, 2)])]], tls=None)
		# the usual real-world case: LOGINDISABLED before TLS, AUTH=PLAIN after
		b = self.server([[f.greeting(STARTTLS_CAPS), expect(r'^\S+ STARTTLS$'), send('{tag} OK Begin TLS'),
				  starttls(), expect(r'^\S+ CAPABILITY$'),
				  send('* CAPABILITY IMAP4rev1 SASL-IR IDLE AUTH=PLAIN', '{tag} OK'),
				  expect(r'^\S+ AUTHENTICATE PLAIN \S+$', 'auth'), send('{auth} OK Logged in'),
				  expect(r'^\S+ CAPABILITY$'), send('* CAPABILITY IMAP4rev1 IDLE', '{tag} OK'),
				  *f.open_mailbox('IMAP4rev1 IDLE', uidnext=2)]], tls=None)
		mb = self.mailbell({'a': self.account(a, tls='starttls'), 'b': self.account(b, tls='starttls')})
		mb.wait_idle('a')
		mb.wait_idle('b')
		a.cue()
		mb.wait_hooks(1)
		mb.wait_log(r'a: server alert: post-login alert')
		self.assertNotIn('pre-TLS alert', mb.log())
		self.assertTrue(a.conns[0].tls and b.conns[0].tls)
		self.assertNoScriptErrors(a, mb)
		self.assertNoScriptErrors(b, mb)
		self.assertStoppedCleanly(mb)


class HostileTextTest(Base):
	def test_control_characters_never_reach_the_log(self):
		# terminal escapes, BEL and NUL in server text: in an ALERT, untagged text, a subject
		# literal and a BYE; even the protocol trace must show them escaped
		subject = b'Sub\x1b[31mject\x07\x00x'
		fetch = f.fetch(2, 2, raw_subject=subject, raw_from=b'"E\x1b]0;t" <e@x.org>',
				body=b'Body \x1b[31mred\x07 text\r\n')
		srv = self.server([[f.greeting(), *f.sign_in(), raw(b'* OK [ALERT] Alert \x1b[2J\x1b]0;title\x07 text\r\n'),
				    *f.open_mailbox(uidnext=2), raw(b'* OK Still \x1b[31mhere\r\n'),
				    *f.new_mail(2, [fetch]), wait('bye'), raw(b'* BYE Bye \x1b[0m\x07 now\r\n'), f.close()],
				   f.happy(uidnext=3)])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue()
		recs = mb.wait_hooks(1)
		srv.cue('bye')
		mb.wait_log(r'acct: server closed the session')
		mb.wait_idle('acct', count=2)
		self.assertStoppedCleanly(mb)
		with open(mb.stderr_path, 'rb') as fh:
			out = fh.read()
		for c in (b'\x1b', b'\x07', b'\x00'):
			self.assertNotIn(c, out)
		self.assertRegex(mb.log(), r'server alert: Alert .*text')
		for v in recs[0].values():
			self.assertFalse(re.search(r'[\x00-\x08\x0b-\x1f\x7f]', str(v)), recs[0])


class CertificateTest(Base):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		d = os.path.join(cls.tmp, 'selfsigned')
		os.makedirs(d)
		cls.self_key, cls.self_crt = os.path.join(d, 'ss.key'), os.path.join(d, 'ss.crt')
		subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
				'-nodes', '-keyout', cls.self_key, '-out', cls.self_crt, '-days', '30',
				'-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
			       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

	def cert_server(self, which, tls='implicit'):
		c = self.certs
		cert, key = {'good': (c.server_crt, c.server_key), 'expired': (c.expired_crt, c.expired_key),
			     'rogue': (c.rogue_crt, c.rogue_key), 'wronghost': (c.wronghost_crt, c.wronghost_key),
			     'self': (self.self_crt, self.self_key)}[which]
		if tls == 'implicit':
			script = f.happy(uidnext=2)
		else:
			script = [f.greeting(STARTTLS_CAPS), expect(r'^\S+ STARTTLS$'), send('{tag} OK Begin TLS'),
				  starttls(), expect(r'^\S+ CAPABILITY$'), send('* CAPABILITY ' + f.CAPS, '{tag} OK'),
				  *f.sign_in(), *f.open_mailbox(uidnext=2)]
		return self.server([script], tls=tls, cert=cert, key=key)

	def test_bad_certificates_refused(self):
		cases = {
			# name: (server, account keys, reason in the log)
			'expired': (self.cert_server('expired'), {}, r'certificate has expired'),
			'selfsigned': (self.cert_server('self'), {}, r'self.signed certificate'),
			'unknownca': (self.cert_server('rogue'), {}, r'unable to get local issuer certificate'),
			'wronghost': (self.cert_server('wronghost'), {'host': 'localhost'}, r'hostname mismatch'),
			'wrongip': (self.cert_server('wronghost'), {}, r'IP address mismatch'),
			'systemstore': (self.cert_server('good'), {'ca_file': None}, r'unable to get local issuer'),
			'starttls': (self.cert_server('expired', tls=None), {'tls': 'starttls'}, r'certificate has expired'),
			'badpin': (self.cert_server('self'), {'tls_fingerprint': fingerprint(self.certs.server_crt)},
				   r'fingerprint does not match'),
		}
		accounts = {}
		for n, (srv, keys, _) in cases.items():
			a = self.account(srv, tls=keys.get('tls', 'implicit'))
			a.update({k: v for k, v in keys.items() if v is not None})
			for k, v in keys.items():
				if v is None:
					del a[k]
			accounts[n] = a
		mb = self.mailbell(accounts)
		for n, (srv, _, reason) in cases.items():
			mb.wait_log(rf'warning: {n}: certificate verify failed: .*{reason}')
			mb.wait_log(rf'{n}: {RECONNECT_CAP}')
		time.sleep(0.3)
		for n, (srv, _, _) in cases.items():
			self.assertEqual(len(srv.conns), 1, n)
			self.assertNoCredentials(srv, mb)
			if n != 'starttls':
				self.assertEqual(srv.conns[0].data, b'', n)
		self.assertStoppedCleanly(mb)

	def test_ways_to_trust(self):
		fp = fingerprint(self.self_crt)
		colons = ':'.join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
		cases = {
			'cafile': (self.cert_server('good'), {}),
			'cafile_starttls': (self.cert_server('good', tls=None), {'tls': 'starttls'}),
			'pinned': (self.cert_server('self'), {'tls_fingerprint': fp}),
			'pinned_colons': (self.cert_server('self'), {'tls_fingerprint': colons, 'ca_file': None}),
			'pinned_starttls': (self.cert_server('self', tls=None), {'tls': 'starttls', 'tls_fingerprint': fp}),
		}
		accounts = {}
		for n, (srv, keys) in cases.items():
			a = self.account(srv, tls=keys.get('tls', 'implicit'))
			a.update({k: v for k, v in keys.items() if v is not None})
			for k, v in keys.items():
				if v is None:
					del a[k]
			accounts[n] = a
		mb = self.mailbell(accounts)
		for n, (srv, _) in cases.items():
			mb.wait_idle(n)
			self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)


class BoundsTest(Base):
	general = {'timeout': '2s'}

	def test_endless_or_silent_servers_are_dropped(self):
		def bad(*tail):
			return [f.greeting(), *f.sign_in(), *f.after_login(), expect(r'^\S+ EXAMINE ', 'examine'),
				send('* OK [UIDVALIDITY 1] ok'), *tail]

		def bad_idle(*tail):
			return [*f.happy(uidnext=2), pause(0.2), *tail]
		cases = {
			# name: (script of the first connection, log text of the drop)
			'endless': (bad(flood()), r'malformed response'),
			'literal': (bad(raw(b'* 1 FETCH (BODY[] {50000000}\r\n' + b'x' * 4096), silent()),
				    r'server did not answer within 2s'),
			'huge_literal': (bad(raw(b'* 1 FETCH (BODY[] {99999999999}\r\n'), silent()),
					 r'malformed response'),
			'silent': (bad(silent()), r'server did not answer within 2s'),
			'deep': (bad(send('* 1 FETCH ' + '(' * 100 + ')' * 100)), r'malformed response'),
			'bignum': (bad_idle(send('* 4294967296 EXISTS')), r'malformed response'),
			'idle_endless': (bad_idle(flood()), r'malformed response'),
			'idle_literal': (bad_idle(raw(b'* 1 FETCH (UID 9 BODY[] {100000}\r\nxx'), silent()),
					 r'left a response unfinished for 2s'),
			'idle_partial_line': (bad_idle(raw(b'* 1 FETCH (UID 9 ENVELOPE ("'), silent()),
					      r'left a response unfinished for 2s'),
		}
		srvs = {n: self.server([script, f.happy(uidnext=2)]) for n, (script, _) in cases.items()}
		# no greeting at all; no TLS handshake (a plaintext server on an implicit TLS account)
		quiet = {'no_greeting': (self.server([[silent()], f.happy(uidnext=2)]),
					 r'server did not answer within 2s \(GREETING\)'),
			 'no_handshake': (self.server([[silent()]], tls=None), r'TLS handshake timed out after 2s')}
		good = self.server([f.happy(uidnext=2, mails=[(2, [f.fetch(2, 2)]), (3, [f.fetch(3, 3)])])])
		mb = self.mailbell({'good': self.account(good), **{n: self.account(s) for n, s in srvs.items()},
				    **{n: self.account(s) for n, (s, _) in quiet.items()}})
		mb.wait_idle('good')
		good.cue()
		mb.wait_hooks(1, timeout=3)
		failures = []
		for n, (_, drop) in cases.items():
			try:
				c = srvs[n].wait_closed(0, timeout=6)
				mb.wait_log(rf'warning: {n}: .*({drop})', timeout=1)
				# dropped within the command timeout (2 s) plus slack
				self.assertLess(c.closed_at - c.started, 5.0, f'{n} held on too long')
				mb.wait_idle(n, count=2 if n.startswith('idle_') or n == 'bignum' else 1, timeout=8)
			except AssertionError as e:
				failures.append(f'{n}: {str(e).splitlines()[0]}')
		for n, (srv, drop) in quiet.items():
			try:
				c = srv.wait_closed(0, timeout=6)
				mb.wait_log(rf'warning: {n}: {drop}', timeout=1)
				self.assertLess(c.closed_at - c.started, 5.0, f'{n} held on too long')
				srv.wait_connections(2, timeout=3)
			except AssertionError as e:
				failures.append(f'{n}: {str(e).splitlines()[0]}')
		mb.wait_idle('no_greeting', timeout=3)
		self.assertEqual(failures, [], mb.log())
		good.cue()
		recs = mb.wait_hooks(2, timeout=3)
		self.assertEqual(len(recs), 2)
		self.assertEqual(len(good.conns), 1, 'the healthy account must not be disturbed')
		self.assertNoScriptErrors(good, mb)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main(needs=('openssl', 'mailbell'))
