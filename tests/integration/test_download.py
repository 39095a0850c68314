#!/usr/bin/env python3
"""Issue 7 on a real Dovecot: rules on every field decide what notifies, download_limit decides
what is downloaded, hooks get the message on standard input, previews, and `mailbell fetch`."""

import imaplib
import os
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

sys.path.insert(0, os.path.dirname(h.HERE))
from faultproxy import FaultProxy  # noqa: E402

MULTIPART = (
	'MIME-Version: 1.0\r\n'
	'Content-Type: multipart/alternative; boundary="b1"\r\n'
	'\r\n'
	'--b1\r\n'
	'Content-Type: text/plain; charset=utf-8\r\n'
	'Content-Transfer-Encoding: quoted-printable\r\n'
	'\r\n'
	'Hi Bob,=0D=0A  the meeting moved to 3pm, caf=C3=A9 on the   second floor.\r\n'
	'--b1\r\n'
	'Content-Type: text/html; charset=utf-8\r\n'
	'\r\n'
	'<html><body><p>HTML version &amp; more</p></body></html>\r\n'
	'--b1--\r\n')
MULTIPART_PREVIEW = 'Hi Bob, the meeting moved to 3pm, café on the second floor.'

HTML_ONLY = (
	'MIME-Version: 1.0\r\n'
	'Content-Type: text/html; charset=utf-8\r\n'
	'Content-Transfer-Encoding: base64\r\n'
	'\r\n')


def message(subject, body, headers='', from_='Alice Example <alice@example.org>',
	    to='Bob <bob@example.org>'):
	"""Raw bytes (CRLF) of a message whose MIME headers and body are given as they are."""
	raw = (f'From: {from_}\r\nTo: {to}\r\nSubject: {subject}\r\n'
	       f'Date: Tue, 02 Jan 2024 03:04:05 +0100\r\n'
	       f'Message-ID: <{subject.replace(" ", "-")}-{time.time_ns()}@download.test>\r\n' + headers)
	if not headers:
		raw += 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
	return raw.encode('utf-8') + (body if isinstance(body, bytes) else body.encode('utf-8'))


def header_of(raw):
	"""What BODY[HEADER] is: everything up to and including the empty line."""
	return raw[:raw.index(b'\r\n\r\n') + 4]


class Base(h.DovecotTestCase):
	def stdin_hook(self, name='hook', records=None, before=''):
		"""A hook script that saves its standard input to <dir>/<uid>.in and records the run;
		before: shell lines run first. Returns (command, records file, stdin dir)."""
		d = os.path.join(self.tmp, f'{name}-{time.time_ns()}')
		os.makedirs(d)
		records = records or os.path.join(d, 'hooks.jsonl')
		path = os.path.join(d, 'hook.sh')
		with open(path, 'w') as f:
			f.write('#!/bin/sh\nt0=$(date +%s.%N)\n' + before +
				f'cat > {shlex.quote(d)}/"$MAILBELL_MAILBOX.$MAILBELL_UID.in"\n'
				'exec ' + ' '.join(shlex.quote(a) for a in (sys.executable, '-I', '-S', h.HOOK_SCRIPT,
									 records)) + ' "$t0"\n')
		os.chmod(path, 0o755)
		return path, records, d

	@staticmethod
	def records(path):
		mb = h.Mailbell.__new__(h.Mailbell)
		mb.hook_file = path
		return mb.hook_records()

	def wait_records(self, path, n, timeout=10):
		return h.wait_until(lambda: len(self.records(path)) >= n and self.records(path), timeout, 0.05,
				    f'{n} run(s) recorded in {path}')

	def start(self, general=None, rules=(), user='alice', port=None, **account):
		a = h.Mailbell.account(self.dovecot, user, **account)
		if port:
			a['port'] = str(port)
		mb = self.mailbell({'acct': a}, general=general, rules=rules)
		mb.wait_idle('acct')
		return mb


class RulesTest(Base):
	def test_allow_list(self):
		# "only my boss": the boss rule, then a catch-all that ignores the rest
		mb = self.start(rules=[('boss', {'from': 'boss@example.org'}),
				       ('rest', {'action': 'ignore'})])
		self.deliver('alice', 'Someone', 'someone@example.net', 'not the boss')
		boss = self.deliver('alice', 'The Boss', 'boss@example.org', 'see me')
		self.deliver('alice', 'Boss Impostor', 'boss@example.org.evil.test', 'not the boss either')
		mb.wait_hooks(1)
		recs = self.assertQuiet(mb, 1)
		self.assertHook(recs[0], 'acct', boss, rule='boss')
		self.assertRegex(mb.log(), r'ignored by rule rest')
		self.assertStoppedCleanly(mb)

	def test_subject_regex_and_display_name(self):
		mb = self.start(user='bob', rules=[
			('alarm', {'subject': r'~^\[alert\] .*(disk|cpu)', 'action': 'hook'}),
			('by-name', {'from': 'Jürgen*', 'action': 'hook'}),
			('rest', {'action': 'ignore'})])
		a = self.deliver('bob', 'Monitor', 'mon@example.org', '[ALERT] CPU at 99%')
		self.deliver('bob', 'Monitor', 'mon@example.org', '[ALERT] memory low')
		self.deliver('bob', 'Monitor', 'mon@example.org', 'FW: [ALERT] disk full')
		b = self.deliver('bob', 'Jürgen Müller', 'jm@example.de', 'hallo',
				 raw_from='=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>')
		mb.wait_hooks(2)
		recs = sorted(self.assertQuiet(mb, 2), key=lambda r: int(r['MAILBELL_UID']))
		self.assertHook(recs[0], 'acct', a, rule='alarm')
		self.assertHook(recs[1], 'acct', b, rule='by-name')
		self.assertStoppedCleanly(mb)

	def test_mailbox_rule_with_its_own_hook_and_to_list(self):
		with self.dovecot.imap('alice') as c:
			c.create('Lists')
		hook, lists_file, _ = self.stdin_hook('lists')
		mb = self.start(mailboxes='INBOX, Lists', rules=[
			('lists', {'mailbox': 'Lists', 'list': 'rust.lists.*', 'hook': hook}),
			('cc-me', {'to': '*@team.example.org', 'action': 'hook'})])
		mb.wait_idle('acct', 'Lists')
		raw = message('rust news', 'Rust 2.0 is out.\r\n', to='rust-users@lists.example.org',
			      headers='List-Id: Rust users <rust.lists.example.org>\r\n'
				      'Content-Type: text/plain\r\n\r\n')
		_, list_uid = self.append('alice', raw, mailbox='Lists')
		raw2 = message('team mail', 'Hello team.\r\n', to='Bob <bob@example.org>, Team <all@team.example.org>')
		_, inbox_uid = self.append('alice', raw2)
		recs = self.wait_records(lists_file, 1)
		self.assertEqual(recs[0]['MAILBELL_MAILBOX'], 'Lists')
		self.assertEqual(recs[0]['MAILBELL_UID'], str(list_uid))
		self.assertEqual(recs[0]['MAILBELL_RULE'], 'lists')
		self.assertEqual(recs[0]['MAILBELL_LIST_ID'], 'rust.lists.example.org')
		self.assertEqual(recs[0]['MAILBELL_TO'], 'rust-users@lists.example.org')
		inbox = mb.wait_hooks(1)
		self.assertEqual(inbox[0]['MAILBELL_UID'], str(inbox_uid))
		self.assertEqual(inbox[0]['MAILBELL_RULE'], 'cc-me')
		self.assertEqual(inbox[0]['MAILBELL_TO'], 'Bob <bob@example.org>, Team <all@team.example.org>')
		self.assertEqual(inbox[0]['MAILBELL_LIST_ID'], '')
		time.sleep(1)
		self.assertEqual(len(self.records(lists_file)), 1)  # the Lists rule's hook replaced the account's
		self.assertEqual(len(mb.hook_records()), 1)
		self.assertStoppedCleanly(mb)


class DownloadTest(Base):
	def test_small_message_reaches_the_hook_whole_on_stdin(self):
		hook, recs_file, d = self.stdin_hook()
		mb = self.start(general={'hook': hook, 'download_limit': '64K'})
		raw = message('small one', 'Line one.\r\nLine two, caf\xe9.\r\n'.encode('latin-1'),
			      headers='MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n')
		_, uid = self.append('alice', raw)
		rec = self.wait_records(recs_file, 1)[0]
		self.assertEqual(rec['MAILBELL_DOWNLOADED'], 'full')
		self.assertEqual(rec['MAILBELL_PREVIEW'], 'Line one. Line two, café.')
		with open(os.path.join(d, f'INBOX.{uid}.in'), 'rb') as f:
			self.assertEqual(f.read(), raw)
		self.assertStoppedCleanly(mb)

	def test_large_message_headers_only_bytes_counted_then_fetched(self):
		proxy = FaultProxy(('127.0.0.1', self.dovecot.imaps_port)).start()
		self.addCleanup(proxy.stop)
		hook, recs_file, d = self.stdin_hook()
		mb = self.start(general={'hook': hook, 'download_limit': '64K'}, port=proxy.port)
		before = sum(c.down.bytes for c in proxy.all_connections())
		body = b''.join(b'%07d the quick brown fox jumps over the lazy dog, again and again.\r\n' % i
				for i in range(5 * 1024 * 1024 // 72))
		raw = message('big one', body)
		self.assertGreater(len(raw), 5 * 1000 * 1000)
		_, uid = self.append('alice', raw)
		rec = self.wait_records(recs_file, 1, timeout=20)[0]
		time.sleep(0.5)  # anything still in flight would be counted too
		received = sum(c.down.bytes for c in proxy.all_connections()) - before
		print(f'\nbytes from the server for a {len(raw)}-octet message with download_limit = 64K: '
		      f'{received}', file=sys.stderr)
		self.assertLess(received, 100 * 1000)
		self.assertGreater(received, 400)  # positive control: the fetch went through the proxy
		self.assertEqual(rec['MAILBELL_DOWNLOADED'], 'headers')
		self.assertEqual(rec['MAILBELL_SIZE'], str(len(raw)))
		self.assertTrue(rec['MAILBELL_PREVIEW'].startswith('0000000 the quick brown fox'), rec)
		with open(os.path.join(d, f'INBOX.{uid}.in'), 'rb') as f:
			self.assertEqual(f.read(), header_of(raw))
		# what was not downloaded, on request: byte-identical
		r = subprocess.run([h.mailbell_path(), '-c', mb.config, 'fetch', 'acct', 'INBOX', str(uid)],
				   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=mb.env, timeout=60)
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stdout, raw)
		self.assertStoppedCleanly(mb)

	def test_fetch_errors_name_the_account(self):
		mb = self.start()
		cfg = mb.config
		run = lambda *args, env=None: subprocess.run([h.mailbell_path(), '-c', cfg, 'fetch', *args],
							 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
							 env=env or mb.env, timeout=60, text=True)
		r = run('acct', 'INBOX', '999999')
		self.assertEqual((r.returncode, r.stdout), (66, ''), r.stderr)
		self.assertIn('acct: no message with UID 999999 in INBOX', r.stderr)
		r = run('acct', 'No/Such/Box', '1')
		self.assertEqual(r.returncode, 66, r.stderr)
		self.assertRegex(r.stderr, r'acct: cannot open mailbox No/Such/Box')
		r = run('nope', 'INBOX', '1')
		self.assertEqual(r.returncode, 64, r.stderr)
		self.assertIn('no [account nope]', r.stderr)
		r = run('acct', 'INBOX', 'x1')
		self.assertEqual(r.returncode, 64, r.stderr)
		# a wrong password: named, and its own status
		bad = h.Mailbell({'acct': h.Mailbell.account(self.dovecot, 'alice', password='wrong')},
				 parent_dir=self.tmp)
		self.addCleanup(bad.cleanup)
		r = subprocess.run([h.mailbell_path(), '-c', bad.config, 'fetch', 'acct', 'INBOX', '1'],
				   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bad.env, timeout=60, text=True)
		self.assertEqual(r.returncode, 77, r.stderr)
		self.assertIn('acct: sign-in failed', r.stderr)
		# positive control: an existing message comes out, and the daemon kept running
		msg = self.deliver('alice', 'A', 'a@example.org', 'fetch me')
		mb.wait_hooks(1)
		r = run('acct', 'INBOX', str(msg['uid']))
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertIn('Subject: fetch me', r.stdout)
		self.assertStoppedCleanly(mb)

	def test_hook_that_never_reads_stdin_stalls_nothing(self):
		# the big message's hook neither reads its 1.5 MB of stdin nor exits for a while: the
		# pipe fills; the next messages' hooks must still start at once
		hook, recs_file, d = self.stdin_hook(before='if [ "$MAILBELL_SUBJECT" = big ]; then sleep 6; '
						 'exec </dev/null; fi\n')
		mb = self.start(general={'hook': hook, 'download_limit': '2M'})
		big = message('big', b'x' * 1500 * 1000 + b'\r\n')
		self.append('alice', big)
		mb.wait_log(r'new message uid \d+ from .*\(downloaded\)')
		t = time.monotonic()
		for i in range(3):
			self.append('alice', message(f'small {i}', f'small {i}\r\n'))
		recs = self.wait_records(recs_file, 3, timeout=5)
		self.assertLess(time.monotonic() - t, 5)
		self.assertEqual(sorted(r['MAILBELL_SUBJECT'] for r in recs[:3]), ['small 0', 'small 1', 'small 2'])
		recs = self.wait_records(recs_file, 4, timeout=15)
		self.assertEqual(recs[3]['MAILBELL_SUBJECT'], 'big')
		self.assertEqual(recs[3]['MAILBELL_DOWNLOADED'], 'full')
		self.assertTrue(mb.running())
		self.assertStoppedCleanly(mb)

	def test_rule_download_overrides_the_limit(self):
		hook, recs_file, d = self.stdin_hook()
		mb = self.start(general={'hook': hook, 'download_limit': '1K'}, rules=[
			('keep', {'from': 'keep@example.org', 'download': 'full'}),
			('skip', {'from': 'skip@example.org', 'download': 'headers'})])
		keep = message('keep', 'k' * 5000 + '\r\n', from_='Keep <keep@example.org>')
		skip = message('skip', 'tiny\r\n', from_='Skip <skip@example.org>')
		_, k = self.append('alice', keep)
		_, s = self.append('alice', skip)
		recs = {r['MAILBELL_UID']: r for r in self.wait_records(recs_file, 2)}
		self.assertEqual(recs[str(k)]['MAILBELL_DOWNLOADED'], 'full')
		self.assertEqual(recs[str(s)]['MAILBELL_DOWNLOADED'], 'headers')
		with open(os.path.join(d, f'INBOX.{k}.in'), 'rb') as f:
			self.assertEqual(f.read(), keep)
		with open(os.path.join(d, f'INBOX.{s}.in'), 'rb') as f:
			self.assertEqual(f.read(), header_of(skip))
		self.assertStoppedCleanly(mb)


class PreviewTest(Base):
	"""Dovecot 2.3.19 has PREVIEW (RFC 8970): the server's preview is used."""

	def test_preview_of_multipart_alternative(self):
		mb = self.start(trace=True)
		_, uid = self.append('alice', message('agenda', MULTIPART.split('\r\n\r\n', 1)[1],
						     headers=MULTIPART.split('\r\n\r\n', 1)[0] + '\r\n\r\n'))
		rec = mb.wait_hooks(1)[0]
		self.assertEqual(rec['MAILBELL_PREVIEW'], MULTIPART_PREVIEW)
		self.assertEqual(rec['MAILBELL_DOWNLOADED'], 'headers')
		# asked for with the UID FETCH, or with NOTIFY's MessageNew (pushed, no round trip)
		self.assertRegex(mb.log(), r'(UID FETCH \d+:\*|MessageNew) \([^\r\n]* PREVIEW\)')
		self.assertNotRegex(mb.log(), r'BODY\.PEEK\[TEXT\]')
		self.assertStoppedCleanly(mb)

	def test_preview_no_fetches_nothing_for_it(self):
		mb = self.start(general={'preview': 'no'}, trace=True)
		self.deliver('alice', 'A', 'a@example.org', 'no preview')
		rec = mb.wait_hooks(1)[0]
		self.assertEqual(rec['MAILBELL_PREVIEW'], '')
		# positive control: trace on, the attributes were asked for (UID FETCH or NOTIFY)
		self.assertRegex(mb.log(), r'(UID FETCH \d+:\*|MessageNew) \(UID FLAGS')
		self.assertNotRegex(mb.log(), r'(UID FETCH|NOTIFY SET) [^\r\n]*(PREVIEW|BODY\.PEEK\[TEXT\])')
		self.assertStoppedCleanly(mb)

	def start(self, general=None, trace=False, **kw):
		a = h.Mailbell.account(self.dovecot, 'alice')
		mb = self.mailbell({'acct': a}, general=general, trace=trace)
		mb.wait_idle('acct')
		return mb


class PartialPreviewTest(PreviewTest):
	"""The same Dovecot told not to announce PREVIEW: mailbell takes the preview from the first
	4 KiB of the body (BODY.PEEK[TEXT]<0.4096>) and reads it as MIME."""

	dovecot_options = {'extra_conf': 'protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR ID ENABLE '
					 'IDLE LITERAL+ CONDSTORE NOTIFY UIDPLUS\n}\n'}

	def test_preview_of_multipart_alternative(self):
		mb = self.start(trace=True)
		self.assertNotRegex(mb.log(), r'CAPABILITY[^\r\n]* PREVIEW')
		_, uid = self.append('alice', message('agenda', MULTIPART.split('\r\n\r\n', 1)[1],
						     headers=MULTIPART.split('\r\n\r\n', 1)[0] + '\r\n\r\n'))
		rec = mb.wait_hooks(1)[0]
		self.assertEqual(rec['MAILBELL_PREVIEW'], MULTIPART_PREVIEW)
		self.assertRegex(mb.log(), r'BODY\.PEEK\[TEXT\]<0\.4096>')
		self.assertStoppedCleanly(mb)

	def test_preview_of_html_only_base64(self):
		import base64
		html = '<html><head><style>p {color: red}</style></head><body><p>Your order &#35;42 ' \
		       'has <b>shipped</b>.</p><p>Track it &amp; smile.</p></body></html>'
		body = base64.encodebytes(html.encode()).replace(b'\n', b'\r\n')
		mb = self.start()
		self.append('alice', message('shipped', body, headers=HTML_ONLY))
		rec = mb.wait_hooks(1)[0]
		self.assertEqual(rec['MAILBELL_PREVIEW'], 'Your order #42 has shipped. Track it & smile.')
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
