#!/usr/bin/env python3
"""Odd responses from real servers (../shared/cases/imap-responses.md, R1-R24), sign-in methods and
servers without IDLE (issue 3, sections 1-3), played by the scripted fake server tests/fakeimap.py.

Each test asserts the behaviour the case table asks for; most also deliver a message afterwards, so
that "nothing happened" can't pass for "handled"."""

import json
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import fakeimap as f  # noqa: E402
import harness as h  # noqa: E402
from fakeimap import expect, send, pause, wait, close, reset, silent  # noqa: E402

RECONNECT = r'reconnecting in (\d+\.\d)s'


def write_cred_script(d):
	"""A credential command: counts its runs in $1 and prints $2 followed by the run number,
	so every sign-in gets a new secret (tok-1, tok-2, ...)."""
	path = os.path.join(d, 'cred.sh')
	with open(path, 'w') as fh:
		fh.write('#!/bin/sh\nprintf x >> "$1"\nn=$(wc -c < "$1")\nprintf "%s%s\\n" "$2" "$n"\n')
	return path


class Base(f.FakeServerTestCase):
	def cred(self, prefix='tok-'):
		"""(command, function returning how often it ran)."""
		script = write_cred_script(self.tmp)
		count = os.path.join(self.tmp, f'count-{self.id().rsplit(".", 1)[-1]}-{prefix}')
		if os.path.exists(count):
			os.unlink(count)

		def runs():
			try:
				return os.path.getsize(count)
			except FileNotFoundError:
				return 0
		return f'sh {script} {count} {prefix}', runs

	def one_mail(self, srv, mb, account='acct', uid=None, n=1, cue='mail'):
		srv.cue(cue)
		recs = mb.wait_hooks(n)
		if uid is not None:
			self.assertEqual(recs[n - 1]['MAILBELL_UID'], str(uid), recs)
		return recs

	def quiet(self, mb, n, seconds=1.5):
		time.sleep(seconds)
		recs = mb.hook_records()
		self.assertEqual(len(recs), n, f'expected {n} hook run(s), got {recs}\n{mb.log()}')
		return recs

	def sasl_ir(self, srv, mech, conn=0):
		"""The decoded initial response the client sent with AUTHENTICATE mech (SASL-IR)."""
		m = srv.wait_sent(rf'AUTHENTICATE {mech} (\S+)\r\n', conn)
		return f.unb64(m.group(1))

	def reconnect_delays(self, mb):
		return [float(x) for x in re.findall(RECONNECT, mb.log())]


# --------------------------------------------------------------------------------------------
# R1-R24

class ResponsesTest(Base):
	def test_r01_postlogin_capabilities_used(self):
		# pre-login: no IDLE, no ID; the tagged OK of AUTHENTICATE carries the real list
		pre = 'IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN AUTH=LOGIN'
		post = 'IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ CONDSTORE QRESYNC'
		a = self.server([f.happy(pre, post, uidnext=3, mails=[(3, [f.fetch(3, 3, 'r1')])])])
		# the OK carries no capabilities: mailbell must ask again (CAPABILITY) after sign-in
		b = self.server([[f.greeting(pre), expect(r'^\S+ AUTHENTICATE PLAIN ', 'auth'),
				  send('{auth} OK Logged in'),
				  expect(r'^\S+ CAPABILITY$'), send('* CAPABILITY ' + post, '{tag} OK done'),
				  *f.open_mailbox(post, uidnext=3),
				  *f.new_mail(3, [f.fetch(3, 3, 'r1b')])]])
		# pre-login IDLE but not after: the post-login list wins, so mailbell polls
		c = self.server([f.happy(f.CAPS, 'IMAP4rev1 SASL-IR LITERAL+', uidnext=3)])
		mb = self.mailbell({'a': self.account(a), 'b': self.account(b), 'c': self.account(c)})
		mb.wait_idle('a')
		mb.wait_idle('b')
		mb.wait_log(r'c: polling INBOX every 120s')
		a.cue()
		b.cue()
		recs = mb.wait_hooks(2)
		self.assertEqual(sorted(r['MAILBELL_SUBJECT'] for r in recs), ['r1', 'r1b'])
		for srv in (a, b):
			self.assertRegex(srv.conns[0].text(), r'\ba\d+ ID \(')
		self.assertNotIn(' IDLE', c.conns[0].text())
		self.assertNotRegex(mb.log(), r'[ab]: polling')
		self.assertNoScriptErrors(a, mb)
		self.assertNoScriptErrors(b, mb)
		self.assertStoppedCleanly(mb)

	def test_r02_greeting_bye(self):
		srv = self.server([[send('* BYE Too many connections from your IP'), close()],
				   f.happy(uidnext=2, mails=[(2, [f.fetch(2, 2)])])])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_log(r'acct: server refused the connection: Too many connections from your IP')
		mb.wait_idle('acct')
		c0, c1 = srv.conns[0], srv.conns[1]
		self.assertGreaterEqual(c1.started - c0.closed_at, 0.9, 'retried without backoff')
		self.assertEqual(c0.text(), '', 'the client must not sign in after a BYE greeting')
		self.one_mail(srv, mb, uid=2)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r03_alert_after_login_only(self):
		alert = 'Your mailbox is almost full'

		def session(*tail):
			return [send('* OK [ALERT] greeting alert'), expect(r'^\S+ CAPABILITY$'),
				send('* CAPABILITY ' + f.CAPS, '{tag} OK done', '* OK [ALERT] pre-login alert'),
				*f.sign_in(), send('* OK [ALERT] ' + alert),
				*f.open_mailbox(uidnext=2), send('* OK [ALERT] ' + alert), *tail]
		srv = self.server([session(wait('drop'), send('* BYE see you'), close()), session()])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.cue('drop')
		mb.wait_idle('acct', count=2, timeout=10)
		time.sleep(0.5)
		log = mb.log()
		self.assertEqual(len(re.findall(r'acct: server alert: ' + alert, log)), 1, log)
		self.assertNotIn('pre-login alert', log)
		self.assertNotIn('greeting alert', log)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r04_authenticationfailed_no_quick_retry(self):
		cmd, runs = self.cred('pw-')
		srv = self.server([[f.greeting(), expect(r'^\S+ AUTHENTICATE ', 'auth'), pause(2),
				    send('{auth} NO [AUTHENTICATIONFAILED] Authentication failed.'), silent()]])
		mb = self.mailbell({'acct': self.account(srv, password_cmd=cmd)})
		mb.wait_log(r'acct: sign-in failed: Authentication failed\.')
		m = mb.wait_log(r'acct: ' + RECONNECT)
		self.assertGreaterEqual(float(m.group(1)), 300.0, 'must wait at the backoff cap')
		time.sleep(4)
		self.assertEqual(len(srv.conns), 1, 'retried after AUTHENTICATIONFAILED:\n' + mb.log())
		self.assertEqual(runs(), 1)
		self.assertEqual(self.sasl_ir(srv, 'PLAIN'), b'\0alice@example.org\0pw-1')
		self.assertStoppedCleanly(mb)

	def test_r05_unavailable_is_transient(self):
		cmd, runs = self.cred('pw-')
		srv = self.server([[f.greeting(), expect(r'^\S+ AUTHENTICATE ', 'auth'),
				    send('{auth} NO [UNAVAILABLE] Maximum number of connections from user+IP exceeded'),
				    silent()],
				   f.happy(uidnext=2, mails=[(2, [f.fetch(2, 2)])])])
		mb = self.mailbell({'acct': self.account(srv, password_cmd=cmd)})
		mb.wait_log(r'acct: .*Maximum number of connections from user\+IP exceeded')
		mb.wait_idle('acct', timeout=8)
		self.assertLess(self.reconnect_delays(mb)[0], 10)
		self.assertEqual(runs(), 2, 'password_cmd must run again for the next sign-in')
		self.assertEqual(self.sasl_ir(srv, 'PLAIN', 1), b'\0alice@example.org\0pw-2')
		self.one_mail(srv, mb, uid=2)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r06_idle_continuation_forms(self):
		forms = {'words': '+ idling', 'space': '+ ', 'bare': '+'}
		srvs = {n: self.server([f.happy(uidnext=2, cont=c, mails=[(2, [f.fetch(2, 2, n)])])])
			for n, c in forms.items()}
		mb = self.mailbell({n: self.account(s) for n, s in srvs.items()})
		for n, s in srvs.items():
			mb.wait_idle(n)
			s.cue()
		recs = mb.wait_hooks(3)
		self.assertEqual(sorted(r['MAILBELL_ACCOUNT'] for r in recs), sorted(forms))
		for s in srvs.values():
			self.assertNoScriptErrors(s, mb)
		self.assertStoppedCleanly(mb)

	def test_r07_r21_polling_without_idle(self):
		# keepalive is the shortest allowed (60 s): R7 retries IDLE after it
		poll = [expect(r'^\S+ NOOP$'), send('* 2 EXISTS', '{tag} OK NOOP completed'),
			expect(r'^\S+ UID FETCH 2:\* ', 'fetch'), send(f.fetch(2, 2), '{fetch} OK done'),
			expect(r'^\S+ NOOP$'), send('{tag} OK NOOP completed')]
		# R21: no IDLE anywhere
		noidle_caps = 'IMAP4rev1 SASL-IR ID AUTH=PLAIN'
		noidle = self.server([[f.greeting(noidle_caps), *f.sign_in(noidle_caps),
				       *f.after_login(noidle_caps), *f.examine(uidnext=2), *poll]])
		# R7: IDLE offered but refused, also when tried again later
		refused = self.server([[f.greeting(), *f.sign_in(), *f.after_login(), *f.examine(uidnext=2),
					expect(r'^\S+ IDLE$', 'idle'),
					send('{idle} NO [UNAVAILABLE] IDLE temporarily unavailable'), *poll,
					f.poll_until(r'^\S+ IDLE$', 'idle'), send('{idle} NO [UNAVAILABLE] still unavailable')]])
		mb = self.mailbell({'noidle': self.account(noidle), 'refused': self.account(refused)},
				   general={'poll_interval': '10s', 'keepalive': '60s'})
		mb.wait_log(r'noidle: polling INBOX every 10s')
		mb.wait_log(r'refused: server refused IDLE \(IDLE temporarily unavailable\)')
		t0 = time.monotonic()
		recs = mb.wait_hooks(2, timeout=15)
		self.assertGreater(time.monotonic() - t0, 8, 'NOOP came before poll_interval')
		self.assertEqual(sorted(r['MAILBELL_ACCOUNT'] for r in recs), ['noidle', 'refused'])
		noidle.wait_sent(r'(?s)NOOP\r\n.*NOOP\r\n', timeout=15)
		c = noidle.conns[0]
		noops = [t for t, l in zip(c.times, c.lines) if l.endswith(' NOOP')]
		self.assertTrue(9 <= noops[1] - noops[0] <= 12.5, f'NOOP interval {noops[1] - noops[0]:.1f}s')
		# IDLE tried again about a keepalive after the refusal, refused again
		refused.wait_sent(r'(?s)IDLE\r\n.*IDLE\r\n', timeout=70)
		mb.wait_log(r'refused: server refused IDLE again \(still unavailable\)')
		c = refused.conns[0]
		idles = [t for t, l in zip(c.times, c.lines) if l.endswith(' IDLE')]
		self.assertTrue(55 <= idles[1] - idles[0] <= 75, f'IDLE retried after {idles[1] - idles[0]:.1f}s')
		time.sleep(0.3)
		log = mb.log()
		self.assertEqual(len(re.findall(r'noidle: polling', log)), 1, 'say it once:\n' + log)
		self.assertEqual(len(re.findall(r'refused: .*polling', log)), 1, 'say it once:\n' + log)
		self.assertEqual(len(noidle.conns) + len(refused.conns), 2)
		self.assertNoScriptErrors(noidle, mb)
		self.assertNoScriptErrors(refused, mb)
		self.assertStoppedCleanly(mb)

	def test_r08_still_here_ignored(self):
		srv = self.server([[*f.happy(uidnext=2), send('* OK Still here'), pause(0.3),
				    send('* OK Still here'), pause(0.3), send('* OK Still here'),
				    *f.new_mail(2, [f.fetch(2, 2)])]])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.wait_connections(1)
		time.sleep(1.5)
		self.assertTrue(srv.conns[0].text().endswith('IDLE\r\n'),
				'client reacted to "* OK Still here":\n' + srv.transcript())
		self.one_mail(srv, mb, uid=2)
		self.assertEqual(len(srv.conns), 1)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r09_bye_token_expired_reconnects_with_fresh_token(self):
		caps = 'IMAP4rev1 SASL-IR IDLE AUTH=XOAUTH2'
		cmd, runs = self.cred('tok-')
		srv = self.server([[*f.happy(caps, caps, uidnext=2), wait('bye'),
				    send('* BYE Session invalidated - AccessTokenExpired'), close()],
				   f.happy(caps, caps, uidnext=2, mails=[(2, [f.fetch(2, 2)])])])
		mb = self.mailbell({'acct': self.account(srv, oauth_token_cmd=cmd)})
		mb.wait_idle('acct')
		srv.cue('bye')
		mb.wait_log(r'acct: server closed the session: Session invalidated - AccessTokenExpired')
		mb.wait_idle('acct', count=2, timeout=10)
		c0, c1 = srv.conns[0], srv.conns[1]
		# The first retry after a drop waits 1 s plus up to 2 s of jitter
		# (account.c FIRST_RETRY_MS); a backoff for a rejected sign-in
		# would be far longer.
		self.assertLess(c1.started - c0.closed_at, 4.5, 'reconnect soon')
		self.assertEqual(runs(), 2)
		self.assertEqual(self.sasl_ir(srv, 'XOAUTH2', 1),
				 b'user=alice@example.org\x01auth=Bearer tok-2\x01\x01')
		self.one_mail(srv, mb, uid=2)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r10_bye_then_close_nothing_missed(self):
		first = [*f.happy(uidvalidity=7, uidnext=2), wait('bye'), send('* BYE Connection is closed. 13'),
			 close()]
		# two messages arrived while disconnected: the catch-up fetch asks from UID 2
		second = [f.greeting(), *f.sign_in(), *f.after_login(), *f.examine(7, 4, 3),
			  expect(r'^\S+ UID FETCH 2:\* ', 'fetch'),
			  send(f.fetch(2, 2, 'during 1'), f.fetch(3, 3, 'during 2'), '{fetch} OK done'),
			  *f.idle(), *f.new_mail(4, [f.fetch(4, 4, 'after')])]
		srv = self.server([first, second])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.cue('bye')
		mb.wait_log(r'acct: server closed the session: Connection is closed\. 13')
		recs = mb.wait_hooks(2)
		self.one_mail(srv, mb, n=3)
		recs = sorted(self.quiet(mb, 3, 1), key=lambda r: int(r['MAILBELL_UID']))
		self.assertEqual([r['MAILBELL_SUBJECT'] for r in recs], ['during 1', 'during 2', 'after'])
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r11_old_uid_from_star_range(self):
		srv = self.server([[*f.happy(uidnext=3), wait('poke'), send('* 2 EXISTS'),
				    expect('^DONE$'), send('{idle} OK done'),
				    expect(r'^\S+ UID FETCH 3:\* ', 'fetch'),
				    send('* 2 FETCH (UID 2 FLAGS (\\Recent))', f.fetch(2, 2, 'old'), '{fetch} OK done'),
				    *f.idle(), *f.new_mail(3, [f.fetch(3, 3, 'new')])]])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.cue('poke')
		srv.wait_sent(r'UID FETCH 3:\*[^\r]*\r\n\S+ IDLE\r\n')
		self.quiet(mb, 0, 1)
		self.one_mail(srv, mb, uid=3)
		self.quiet(mb, 1, 1)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r12_uidvalidity_change_rebaselines(self):
		state = os.path.join(self.tmp, 'r12-state')
		os.makedirs(state, exist_ok=True)
		one = self.server([f.happy(uidvalidity=100, uidnext=5)])
		mb = self.mailbell({'acct': self.account(one)}, general={'state_dir': state})
		mb.wait_idle('acct')
		self.assertStoppedCleanly(mb)
		# the mailbox was recreated: 49 messages with new UIDs; none may be reported
		two = self.server([[f.greeting(), *f.sign_in(), *f.after_login(), *f.examine(200, 50, 49),
				    *f.idle(), *f.new_mail(50, [f.fetch(50, 50, 'fresh')])]])
		mb = self.mailbell({'acct': self.account(two)}, general={'state_dir': state})
		mb.wait_log(r'acct: (INBOX: )?UIDVALIDITY changed from 100 to 200')
		mb.wait_idle('acct')
		self.quiet(mb, 0, 0.5)
		recs = self.one_mail(two, mb, uid=50)
		self.assertEqual(recs[0]['MAILBELL_UIDVALIDITY'], '200')
		self.quiet(mb, 1, 0.5)
		self.assertNoScriptErrors(two, mb)
		self.assertStoppedCleanly(mb)

	def test_r13_no_uidnext(self):
		srv = self.server([[f.greeting(), *f.sign_in(), *f.after_login(),
				    *f.examine(uidvalidity=9, uidnext=None, exists=3),
				    expect(r'^\S+ UID FETCH \* \(UID\)$'), send('* 3 FETCH (UID 17)', '{tag} OK done'),
				    *f.idle(), *f.new_mail(4, [f.fetch(4, 18, 'r13')])]])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		self.one_mail(srv, mb, uid=18)
		self.assertIn('UID FETCH 18:*', srv.conns[0].text())
		self.quiet(mb, 1, 0.5)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r14_exists_before_continuation(self):
		def script(*before_plus):
			return [f.greeting(), *f.sign_in(), *f.after_login(), *f.examine(uidnext=3, exists=2),
				expect(r'^\S+ IDLE$', 'idle'), *before_plus,
				expect('^DONE$'), send('{idle} OK done'),
				expect(r'^\S+ UID FETCH 3:\* ', 'fetch'), send(f.fetch(3, 3), '{fetch} OK done'), *f.idle()]
		same = self.server([script(send('* 3 EXISTS', '+ idling'))])
		apart = self.server([script(send('* 3 EXISTS'), pause(0.3), send('+ idling'))])
		mb = self.mailbell({'same': self.account(same), 'apart': self.account(apart)})
		recs = mb.wait_hooks(2)
		self.assertEqual(sorted(r['MAILBELL_ACCOUNT'] for r in recs), ['apart', 'same'])
		self.quiet(mb, 2, 0.5)
		self.assertNoScriptErrors(same, mb)
		self.assertNoScriptErrors(apart, mb)
		self.assertStoppedCleanly(mb)

	def test_r15_unknown_response_codes(self):
		srv = self.server([[f.greeting(), *f.sign_in(), *f.after_login(),
				    *f.examine(uidnext=2, extra=['* OK [XYZZY 42 (a b)] unknown code',
								 '* NO [WEBALERT https://accounts.example/x?y=1] Web login required.']),
				    *f.idle(),
				    send('* NO [WEBALERT https://accounts.example/signin] Web login required.'),
				    send('* OK [X-UNKNOWN] still fine', '* BAD [NONSENSE] whatever'),
				    *f.new_mail(2, [f.fetch(2, 2)])]])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		time.sleep(0.3)
		self.one_mail(srv, mb, uid=2)
		self.assertEqual(len(srv.conns), 1, mb.log())
		self.assertNotRegex(mb.log(), r'acct: (malformed|reconnecting)')
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r16_completions_matched_by_tag(self):
		# a stray tagged response is ignored; at shutdown (DONE and LOGOUT pipelined) the LOGOUT
		# completion comes before the IDLE one
		srv = self.server([[*f.happy(uidnext=2), send('zz9 OK [X-STRAY] stray completion'),
				    *f.new_mail(2, [f.fetch(2, 2)]),
				    expect('^DONE$'), expect(r'^\S+ LOGOUT$', 'logout'),
				    send('* BYE bye', '{logout} OK Logout completed', '{idle} OK Idle completed'),
				    silent()]])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		self.one_mail(srv, mb, uid=2)
		t0 = time.monotonic()
		self.assertStoppedCleanly(mb)
		self.assertLess(time.monotonic() - t0, 2.5, 'LOGOUT completion not recognised:\n' + mb.log())
		self.assertNotIn('did not answer LOGOUT', mb.log())
		self.assertNoScriptErrors(srv, mb)

	def test_r17_reset_after_login_backs_off(self):
		rst = [f.greeting(), *f.sign_in(), reset()]
		srv = self.server([rst, rst, f.happy(uidnext=2, mails=[(2, [f.fetch(2, 2)])])])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct', timeout=15)
		c = srv.conns
		gap1, gap2 = c[1].started - c[0].closed_at, c[2].started - c[1].closed_at
		self.assertGreaterEqual(gap1, 0.9)
		self.assertGreaterEqual(gap2, 1.8, 'backoff must grow')
		self.one_mail(srv, mb, uid=2)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r18_xoauth2_error_continuation(self):
		cmd, runs = self.cred('tok-')
		challenge = f.b64(b'{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}')
		caps = 'IMAP4rev1 SASL-IR IDLE AUTH=XOAUTH2 AUTH=PLAIN'
		srv = self.server([[f.greeting(caps), expect(r'^\S+ AUTHENTICATE XOAUTH2 \S+$', 'auth'),
				    send('+ ' + challenge), expect(r'^$'),
				    send('{auth} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)'), silent()]])
		mb = self.mailbell({'acct': self.account(srv, oauth_token_cmd=cmd)})
		mb.wait_log(r'acct: .*status 401')
		mb.wait_log(r'acct: sign-in failed: Invalid credentials \(Failure\)')
		self.assertGreaterEqual(float(mb.wait_log(r'acct: ' + RECONNECT).group(1)), 300)
		self.assertEqual(self.sasl_ir(srv, 'XOAUTH2'),
				 b'user=alice@example.org\x01auth=Bearer tok-1\x01\x01')
		self.assertEqual(runs(), 1)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r19_oauthbearer_error_continuation(self):
		cmd, runs = self.cred('tok-')
		challenge = f.b64(json.dumps({'status': 'invalid_token', 'scope': 'mail',
					      'openid-configuration': 'https://x.example/.well-known'}).encode())
		caps = 'IMAP4rev1 SASL-IR IDLE AUTH=OAUTHBEARER AUTH=XOAUTH2'
		srv = self.server([[f.greeting(caps), expect(r'^\S+ AUTHENTICATE OAUTHBEARER \S+$', 'auth'),
				    send('+ ' + challenge), expect(r'^AQ==$'),
				    send('{auth} NO [AUTHENTICATIONFAILED] invalid token'), silent()]])
		# the same without SASL-IR: the error challenge comes after the initial response
		noir_caps = 'IMAP4rev1 IDLE AUTH=OAUTHBEARER'
		noir = self.server([[f.greeting(noir_caps), expect(r'^\S+ AUTHENTICATE OAUTHBEARER$', 'auth'), send('+ '),
				     expect(r'^(?P<ir>[A-Za-z0-9+/=]+)$'), send('+ ' + challenge), expect(r'^AQ==$'),
				     send('{auth} NO [AUTHENTICATIONFAILED] invalid token'), silent()]])
		cmd_b, _ = self.cred('tokb-')
		mb = self.mailbell({'acct': self.account(srv, oauth_token_cmd=cmd),
				    'noir': self.account(noir, oauth_token_cmd=cmd_b)})
		mb.wait_log(r'acct: .*status invalid_token')
		mb.wait_log(r'acct: sign-in failed: invalid token')
		mb.wait_log(r'noir: .*status invalid_token')
		mb.wait_log(r'noir: sign-in failed: invalid token')
		self.assertEqual(self.sasl_ir(srv, 'OAUTHBEARER'),
				 f'n,a=alice@example.org,\x01host=127.0.0.1\x01port={srv.port}\x01'
				 'auth=Bearer tok-1\x01\x01'.encode())
		self.assertEqual(f.unb64(noir.conns[0].vars['ir']),
				 f'n,a=alice@example.org,\x01host=127.0.0.1\x01port={noir.port}\x01'
				 'auth=Bearer tokb-1\x01\x01'.encode())
		self.assertNoScriptErrors(srv, mb)
		self.assertNoScriptErrors(noir, mb)
		self.assertStoppedCleanly(mb)

	def test_r20_id_when_offered(self):
		with_id = self.server([f.happy(uidnext=2)])
		without = 'IMAP4rev1 SASL-IR IDLE LITERAL+'
		no_id = self.server([f.happy(f.CAPS, without, uidnext=2)])
		# ID (and ENABLE) refused: harmless, the session goes on
		refused = self.server([[f.greeting(), *f.sign_in(), expect(r'^\S+ ID ', 'id'), send('{id} BAD no ID here'),
					expect(r'^\S+ ENABLE ', 'en'), send('{en} NO not now'),
					*f.examine(uidnext=2), *f.idle()]])
		mb = self.mailbell({'with': self.account(with_id), 'without': self.account(no_id),
				    'refused': self.account(refused)})
		mb.wait_idle('with')
		mb.wait_idle('without')
		mb.wait_idle('refused')
		self.assertNoScriptErrors(refused, mb)
		self.assertRegex(with_id.conns[0].text(),
				 r'^a1 AUTHENTICATE [^\r]*\r\na2 ID \("name" "mailbell" "version" "[^"\r\n]+"\)\r\n'
				 r'(a3 ENABLE [^\r]*\r\n)?a\d EXAMINE INBOX\r\n')
		self.assertNotRegex(no_id.conns[0].text(), r'\bID\b')
		self.assertNoScriptErrors(with_id, mb)
		self.assertNoScriptErrors(no_id, mb)
		self.assertStoppedCleanly(mb)

	def test_r20b_id_and_enable_pipelined(self):
		# The server answers nothing until ID, ENABLE and EXAMINE have all arrived: a client
		# that waited for the ID or ENABLE answer before sending the next would hang here.
		srv = self.server([[f.greeting(), *f.sign_in(), expect(r'^\S+ ID ', 'id'),
				    expect(r'^\S+ ENABLE CONDSTORE$', 'en'), expect(r'^\S+ EXAMINE INBOX$', 'ex'),
				    send('* ID NIL', '{id} OK ID completed', '* ENABLED CONDSTORE', '{en} OK Enabled',
					 '* 0 EXISTS', '* OK [UIDVALIDITY 7] UIDs valid', '* OK [UIDNEXT 2] next',
					 '* OK [HIGHESTMODSEQ 5] Highest', '{ex} OK [READ-ONLY] Examine completed'),
				    *f.idle()]])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct', timeout=10)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_s8_message_id_again_under_a_new_uid(self):
		# Courier under EXAMINE (servers.md S8): message X reported as UID 2, then again as UID 3
		x = '<X.4a86270e82c4@interop.test>'
		srv = self.server([f.happy(uidnext=2, mails=[(2, [f.fetch(2, 2, 'X', message_id=x)]),
							     (3, [f.fetch(3, 3, 'X again', message_id=x)]),
							     (4, [f.fetch(4, 4, 'Y', message_id='<Y@t>')])])])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.cue()
		mb.wait_hooks(1)
		srv.cue()
		mb.wait_log(r'acct: INBOX: the server reports ' + re.escape(x) + r' again under UID 3 without '
			    r'a new UIDVALIDITY')
		srv.cue()
		recs = mb.wait_hooks(2)
		time.sleep(1)
		self.assertEqual([r['MAILBELL_UID'] for r in mb.hook_records()], ['2', '4'])  # X once, Y
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_r22_r23_r24_header_fields(self):
		# mailbell fetches header fields, not ENVELOPE: raw 8-bit subjects (R22), "From: <>"
		# (R23, Dovecot's MISSING_MAILBOX case) and group syntax (R24) as they are in the header
		lines = [f.fetch(2, 2, raw_subject='Café raw utf8 ✓'.encode(), raw_from=b'"Al" <al@x.org>'),
			 f.fetch(3, 3, raw_subject=b'Caf\xe9 \x93quoted\x94', raw_from=b'"Al" <al@x.org>'),
			 f.fetch(4, 4, 'r23', raw_from=b'<>'),
			 f.fetch(5, 5, 'r24', raw_from=b'Team: a@x.org, b@y.org;')]
		srv = self.server([f.happy(uidnext=2, mails=[(5, lines)])])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.cue()
		recs = sorted(mb.wait_hooks(4), key=lambda r: int(r['MAILBELL_UID']))
		self.assertEqual(recs[0]['MAILBELL_SUBJECT'], 'Café raw utf8 ✓')
		self.assertEqual(recs[1]['MAILBELL_SUBJECT'], 'Café “quoted”')
		self.assertEqual(recs[2]['MAILBELL_FROM'], '(unknown sender)')
		self.assertEqual(recs[2]['MAILBELL_FROM_ADDRESS'], '')
		self.assertEqual(recs[3]['MAILBELL_FROM_ADDRESS'], 'a@x.org')
		self.assertEqual(recs[3]['MAILBELL_FROM'], 'a@x.org')
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)


# --------------------------------------------------------------------------------------------
# sign-in methods

class SignInTest(Base):
	def test_plain_with_and_without_sasl_ir(self):
		ir = self.server([f.happy()])
		no_ir_caps = 'IMAP4rev1 IDLE AUTH=PLAIN'
		no_ir = self.server([[f.greeting(no_ir_caps), expect(r'^\S+ AUTHENTICATE PLAIN$', 'auth'),
				      send('+ '), expect(r'^(?P<ir>[A-Za-z0-9+/=]+)$'),
				      send('{auth} OK Logged in'), expect(r'^\S+ CAPABILITY$'),
				      send('* CAPABILITY ' + no_ir_caps, '{tag} OK'), *f.open_mailbox(no_ir_caps)]])
		mb = self.mailbell({'ir': self.account(ir), 'noir': self.account(no_ir, password='ümlaut pw')})
		mb.wait_idle('ir')
		mb.wait_idle('noir')
		self.assertEqual(self.sasl_ir(ir, 'PLAIN'), b'\0alice@example.org\0s3cret-Pw')
		self.assertEqual(f.unb64(no_ir.conns[0].vars['ir']), b'\0alice@example.org\0' + 'ümlaut pw'.encode())
		self.assertNoScriptErrors(ir, mb)
		self.assertNoScriptErrors(no_ir, mb)
		self.assertStoppedCleanly(mb)

	def test_login_quoted_and_literals(self):
		caps = 'IMAP4rev1 IDLE'  # no AUTH=PLAIN: auth = auto falls back to LOGIN
		quoted_pw = 'pa ss "q" back\\slash'
		quoted = self.server([[f.greeting(caps), expect(r'^\S+ LOGIN alice@example\.org "(?P<pw>.*)"$', 'auth'),
				       send('{auth} OK [CAPABILITY ' + caps + '] in'), *f.open_mailbox(caps)]])
		lit_pw = 'pässwörd{1}'
		n = len(lit_pw.encode())
		# synchronizing literal: the password only after the server's "+"
		sync = self.server([[f.greeting(caps), expect(rf'^\S+ LOGIN alice@example\.org \{{{n}\}}$', 'auth'),
				     pause(0.5), send('+ Ready for literal data'), expect(r'^(?P<pw>.*)$'),
				     send('{auth} OK [CAPABILITY ' + caps + '] in'), *f.open_mailbox(caps)]])
		plus_caps = 'IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN'
		plus = self.server([[f.greeting(plus_caps), expect(rf'^\S+ LOGIN alice@example\.org \{{{n}\+\}}$', 'auth'),
				     expect(r'^(?P<pw>.*)$'),
				     send('{auth} OK [CAPABILITY ' + plus_caps + '] in'), *f.open_mailbox(plus_caps)]])
		mb = self.mailbell({'quoted': self.account(quoted, password=quoted_pw),
				    'sync': self.account(sync, password=lit_pw),
				    'plus': self.account(plus, password=lit_pw, auth='login')})
		for name in ('quoted', 'sync', 'plus'):
			mb.wait_idle(name)
		self.assertEqual(quoted.conns[0].vars['pw'], 'pa ss \\"q\\" back\\\\slash')
		self.assertEqual(sync.conns[0].vars['pw'].encode('latin-1'), lit_pw.encode())
		self.assertFalse(sync.conns[0].sent_before(lit_pw.encode(), b'+ Ready'),
				 'literal sent before the continuation')
		self.assertEqual(plus.conns[0].vars['pw'].encode('latin-1'), lit_pw.encode())
		for s in (quoted, sync, plus):
			self.assertNoScriptErrors(s, mb)
		self.assertStoppedCleanly(mb)

	def test_auth_choice(self):
		both = 'IMAP4rev1 SASL-IR IDLE AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER'
		cmd, _ = self.cred('tok-')
		srvs = {
			# auto + token command: OAUTHBEARER first
			'auto_oauth': (self.server([f.happy(both, both)]), {'oauth_token_cmd': cmd}, 'OAUTHBEARER'),
			'auto_xoauth2': (self.server([f.happy('IMAP4rev1 SASL-IR IDLE AUTH=PLAIN AUTH=XOAUTH2')]),
					 {'oauth_token_cmd': cmd}, 'XOAUTH2'),
			'xoauth2': (self.server([f.happy(both, both)]), {'oauth_token_cmd': cmd, 'auth': 'xoauth2'},
				    'XOAUTH2'),
			'plain': (self.server([f.happy(both, both)]), {'auth': 'plain'}, 'PLAIN'),
			'login': (self.server([f.happy(both, both)]), {'auth': 'login'}, None),
		}
		mb = self.mailbell({n: self.account(s, **kw) for n, (s, kw, _) in srvs.items()})
		for n, (s, kw, mech) in srvs.items():
			mb.wait_idle(n)
			first = s.conns[0].lines[0]
			if mech:
				self.assertRegex(first, rf'^a1 AUTHENTICATE {mech} ', n)
			else:
				self.assertRegex(first, r'^a1 LOGIN ', n)
			self.assertNoScriptErrors(s, mb)
		self.assertStoppedCleanly(mb)

	def test_oauthbearer_without_sasl_ir_and_escaped_user(self):
		caps = 'IMAP4rev1 IDLE AUTH=OAUTHBEARER'
		cmd, _ = self.cred('tok-')
		srv = self.server([[f.greeting(caps), expect(r'^\S+ AUTHENTICATE OAUTHBEARER$', 'auth'), send('+ '),
				    expect(r'^(?P<ir>[A-Za-z0-9+/=]+)$'),
				    send('{auth} OK [CAPABILITY ' + caps + '] in'), *f.open_mailbox(caps)]])
		mb = self.mailbell({'acct': self.account(srv, user='a,b=c@example.org', oauth_token_cmd=cmd)})
		mb.wait_idle('acct')
		self.assertEqual(f.unb64(srv.conns[0].vars['ir']),
				 f'n,a=a=2Cb=3Dc@example.org,\x01host=127.0.0.1\x01port={srv.port}\x01'
				 'auth=Bearer tok-1\x01\x01'.encode())
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)

	def test_no_usable_mechanism(self):
		ld = self.server([[f.greeting('IMAP4rev1 IDLE LOGINDISABLED AUTH=GSSAPI'), silent()]])
		no_plain = self.server([[f.greeting('IMAP4rev1 IDLE AUTH=LOGIN'), silent()]])
		no_oauth = self.server([[f.greeting('IMAP4rev1 IDLE AUTH=PLAIN'), silent()]])
		cmd, runs = self.cred('tok-')
		mb = self.mailbell({'ld': self.account(ld), 'noplain': self.account(no_plain, auth='plain'),
				    'nooauth': self.account(no_oauth, oauth_token_cmd=cmd)})
		mb.wait_log(r'ld: cannot sign in: server has LOGINDISABLED')
		mb.wait_log(r'noplain: cannot sign in: server does not offer AUTH=PLAIN')
		mb.wait_log(r'nooauth: cannot sign in: server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2')
		for s in (ld, no_plain, no_oauth):
			self.assertEqual(s.conns[0].text(), '', 'nothing may be sent')
		self.assertStoppedCleanly(mb)

	def test_credential_commands_async_timeout_and_failure(self):
		ok = self.server([f.happy(uidnext=2, mails=[(2, [f.fetch(2, 2)])])])
		slow = self.server([f.happy()])
		hang = self.server([f.happy()])
		fail = self.server([f.happy()])
		tokfail = self.server([f.happy()])
		mb = self.mailbell({
			'ok': self.account(ok),
			'slow': self.account(slow, password_cmd='sleep 2 && echo slow-pw'),
			'hang': self.account(hang, password_cmd='sleep 60'),
			'fail': self.account(fail, password_cmd='echo keyring is locked >&2 && exit 3'),
			'tokfail': self.account(tokfail, oauth_token_cmd='echo token expired, run oama >&2 && exit 2'),
		}, general={'timeout': '4s'})
		t0 = time.monotonic()
		mb.wait_idle('ok', timeout=5)
		self.assertLess(time.monotonic() - t0, 1.8, 'a slow password_cmd held up another account')
		self.one_mail(ok, mb, uid=2)
		mb.wait_log(r'fail: password_cmd failed \(exit status 3\): keyring is locked')
		mb.wait_log(r'tokfail: oauth_token_cmd failed \(exit status 2\): token expired, run oama')
		mb.wait_log(r'fail: ' + RECONNECT)
		mb.wait_idle('slow', timeout=5)
		mb.wait_log(r'hang: password_cmd did not finish within 4s', timeout=8)
		mb.wait_log(r'hang: ' + RECONNECT)
		self.assertEqual(len(hang.conns) + len(fail.conns) + len(tokfail.conns), 0)
		self.assertEqual(self.sasl_ir(slow, 'PLAIN'), b'\0alice@example.org\0slow-pw')
		self.assertStoppedCleanly(mb)

	def test_credential_command_killed_at_deadline(self):
		# the deadline ends the whole command, not just the shell that runs it: a hung
		# password manager (or its pinentry) must not pile up, one per sign-in attempt
		marker = '301.%d' % (os.getpid() % 1000)

		def leftovers():
			pids = []
			for pid in filter(str.isdigit, os.listdir('/proc')):
				try:
					with open(f'/proc/{pid}/cmdline', 'rb') as fh:
						if fh.read() == b'sleep\0' + marker.encode() + b'\0':
							pids.append(int(pid))
				except OSError:
					pass
			return pids

		def reap():
			for pid in leftovers():
				try:
					os.kill(pid, 9)
				except OSError:
					pass
		self.addCleanup(reap)
		srv = self.server([f.happy()])
		mb = self.mailbell({'acct': self.account(srv, password_cmd=f'sleep {marker} && echo pw')},
				   general={'timeout': '1s'})
		mb.wait_log(r'acct: password_cmd did not finish within 1s')
		mb.wait_log(r'acct: password_cmd did not finish within 1s', count=2, timeout=6)
		time.sleep(0.3)
		self.assertLessEqual(len(leftovers()), 1, 'timed-out password_cmd processes keep running')
		self.assertStoppedCleanly(mb)
		time.sleep(0.3)
		self.assertEqual(leftovers(), [], 'password_cmd still running after mailbell exited')


class RealDovecotTest(h.DovecotTestCase):
	"""R4 as Dovecot really does it: AUTHENTICATIONFAILED about 2 s after a wrong password."""

	@classmethod
	def setUpClass(cls):
		if h.missing_requirements(['dovecot']):
			raise unittest.SkipTest('needs dovecot-imapd')
		super().setUpClass()

	def test_r04_wrong_password(self):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'alice', 'implicit', password='wrong')},
				   general={'timeout': '10s'})
		mb.wait_log(r'warning: acct: sign-in failed: .*Authentication failed', timeout=15)
		m = mb.wait_log(r'acct: ' + RECONNECT)
		self.assertGreaterEqual(float(m.group(1)), 300.0)
		time.sleep(3)
		self.assertEqual(len(re.findall(r'auth failed|Authentication failed', self.dovecot_log())), 1,
				 self.dovecot_log())
		self.assertNotRegex(self.dovecot_log(), r'Login: user=<alice>')
		self.assertStoppedCleanly(mb)


# --------------------------------------------------------------------------------------------
# what the user is told (needs a private D-Bus: notifications, and a fake logind for "resume")

EMIT_RESUME = r'''
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
bus.request_name('org.freedesktop.login1')
print('ready', flush=True)
for line in sys.stdin:
	msg = dbus.lowlevel.SignalMessage('/org/freedesktop/login1', 'org.freedesktop.login1.Manager',
					  'PrepareForSleep')
	msg.append(False, signature='b')
	bus.send_message(msg)
	bus.flush()
	print('sent', flush=True)
'''


class TellUserTest(Base):
	@classmethod
	def setUpClass(cls):
		if os.environ.get('MAILBELL_HAVE_LIBNOTIFY') == '0':
			raise unittest.SkipTest('mailbell built without libnotify')
		if h.missing_requirements(['dbus']):
			raise unittest.SkipTest('needs dbus-daemon and python3-dbusmock')
		super().setUpClass()
		cls.session = h.NotificationBus(parent_dir=cls.tmp).start()
		cls.system = h.NotificationBus(parent_dir=cls.tmp, mock=False).start()

	@classmethod
	def tearDownClass(cls):
		cls.session.cleanup()
		cls.system.cleanup()
		super().tearDownClass()

	def start(self, accounts):
		self.seen = len(self.session.notifications())
		return self.mailbell(accounts, general={'notify': 'yes'}, hook=False,
				     env={'DBUS_SESSION_BUS_ADDRESS': self.session.address,
					  'DBUS_SYSTEM_BUS_ADDRESS': self.system.address})

	def notes(self, summary_re):
		return [n for n in self.session.notifications()[self.seen:] if re.search(summary_re, n['summary'])]

	def logind(self):
		p = subprocess.Popen([h.dbus_python(), '-c', EMIT_RESUME, self.system.address], text=True,
				     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
		self.addCleanup(lambda: (p.stdin.close(), p.wait(5), p.stdout.close()))
		self.assertEqual(p.stdout.readline().strip(), 'ready')

		def resume():
			p.stdin.write('resume\n')
			p.stdin.flush()
			self.assertEqual(p.stdout.readline().strip(), 'sent')
		return resume

	def test_r03_alert_notified_once(self):
		alert = 'Your mailbox is almost full'
		session = [f.greeting(), *f.sign_in(), send('* OK [ALERT] ' + alert), *f.open_mailbox(uidnext=2),
			   send('* OK [ALERT] ' + alert), wait('drop'), close()]
		srv = self.server([session])
		mb = self.start({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.cue('drop')
		mb.wait_idle('acct', count=2, timeout=10)
		wait_s = time.monotonic() + 5
		while not self.notes(r'alert') and time.monotonic() < wait_s:
			time.sleep(0.1)
		time.sleep(1)
		got = self.notes(r'(?i)alert')
		self.assertEqual(len(got), 1, got)
		self.assertEqual(got[0]['body'], alert)
		self.assertStoppedCleanly(mb)

	def test_credential_failure_told_once(self):
		srv = self.server([f.happy()])
		mb = self.start({'acct': self.account(srv, password_cmd='echo the keyring is locked >&2 && exit 1')})
		mb.wait_log(r'acct: password_cmd failed \(exit status 1\): the keyring is locked', count=2, timeout=6)
		got = self.notes(r'cannot get credentials')
		self.assertEqual(len(got), 1, got)
		self.assertIn('the keyring is locked', got[0]['body'])
		self.assertEqual(srv.conns, [])
		self.assertStoppedCleanly(mb)

	def test_r04_auth_failure_told_once_and_password_cmd_rerun(self):
		resume = self.logind()
		cmd, runs = self.cred('pw-')
		bad = [f.greeting(), expect(r'^\S+ AUTHENTICATE ', 'auth'), pause(1),
		       send('{auth} NO [AUTHENTICATIONFAILED] Authentication failed.'), silent()]
		srv = self.server([bad, bad, f.happy()])
		mb = self.start({'acct': self.account(srv, password_cmd=cmd)})
		mb.wait_log(r'acct: ' + RECONNECT)
		time.sleep(2)
		self.assertEqual((len(srv.conns), runs()), (1, 1))
		resume()
		mb.wait_log(r'resumed from suspend \(logind\)')
		mb.wait_log(r'acct: ' + RECONNECT, count=2)
		self.assertEqual((len(srv.conns), runs()), (2, 1 + 1))
		self.assertEqual(self.sasl_ir(srv, 'PLAIN', 1), b'\0alice@example.org\0pw-2')
		self.assertEqual(len(self.notes(r'sign-in failed')), 1, 'tell the user once per failure streak')
		resume()
		mb.wait_idle('acct')
		mb.wait_log(r'acct: connected again')
		self.assertEqual(runs(), 3)
		self.assertEqual(len(self.notes(r'sign-in failed')), 1)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main(needs=('openssl', 'mailbell'))
