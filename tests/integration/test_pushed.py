#!/usr/bin/env python3
"""New mail with no round trip (issue 11): with NOTIFY (RFC 5465) mailbell asks for the fetch
attributes of new messages in its NOTIFY SET, the server pushes `* N FETCH (UID ...)` with the
EXISTS during IDLE, and mailbell acts on it at once: no DONE, no UID FETCH, still in IDLE
(the trace says `IDLING -> TAKE (pushed 1 new)`). Where the push does not cover every new message
it leaves IDLE, and DONE goes out in the same write as the next command (RFC 2177, RFC 9051 5.5).

On a real Dovecot 2.3.19: one message, a burst, expunges in between (sequence numbers), previews
and the header on the hook's standard input, a download. On the scripted server: the FETCH before
its EXISTS (erratum 4833), a FETCH split in the middle of a literal, pushes that are not enough,
a server that ignores or refuses the attributes, plain IDLE, and the keepalive renewal.

The negative checks ("no DONE", "no UID FETCH") come with positive ones (the trace was on and
shows IDLE, the message came pushed), so that a silent run cannot pass."""

import os
import re
import shlex
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import fakeimap as f  # noqa: E402
import harness as h  # noqa: E402
from fakeimap import expect, send, raw, pause, wait, silent  # noqa: E402

NOTIFY_CAPS = f.POSTAUTH_CAPS + ' NOTIFY'

# What mailbell asks a UID FETCH for, and so NOTIFY's MessageNew (see append_fetch_atts() in
# imap.c); BASE_ATTS alone is no complete push.
BASE_ATTS = 'UID FLAGS RFC822.SIZE'
HEADER_FIELDS = ('BODY.PEEK[HEADER.FIELDS (SUBJECT DATE MESSAGE-ID LIST-ID CONTENT-TYPE '
		 'CONTENT-TRANSFER-ENCODING)]<0.65536> BODY.PEEK[HEADER.FIELDS (FROM SENDER)]<0.65536> '
		 'BODY.PEEK[HEADER.FIELDS (TO CC)]<0.65536>')
# the scripted sessions' mailbell: a hook (so the header) and previews (the default), and the
# fake server has no PREVIEW: the first 4 KiB of the text
FAKE_ATTS = f'{BASE_ATTS} {HEADER_FIELDS} BODY.PEEK[HEADER]<0.65536> BODY.PEEK[TEXT]<0.4096>'
EVENTS = 'MessageExpunge FlagChange'


def notify_line(atts=FAKE_ATTS):
	"""The regex of mailbell's NOTIFY SET for one mailbox, with the MessageNew attributes atts."""
	return (r'^\S+ NOTIFY SET \(selected \(MessageNew \(' + re.escape(atts) + r'\) ' + EVENTS +
		r'\)\)$')


def pushed(seq, uid, subject, atts=FAKE_ATTS, **kw):
	"""The bytes of `* seq FETCH (...)` with the attributes atts, as a server pushes it for
	NOTIFY's MessageNew (no CRLF at the end)."""
	errors = []
	data = f.Msg(seq, uid, subject, **kw).answer(f'x UID FETCH 1:* ({atts})', errors)
	assert not errors, errors
	return data


def logout_end(timeout=60):
	"""The end of a session in IDLE: DONE and LOGOUT (pipelined) and their answers."""
	return [expect(r'^DONE$', timeout=timeout), expect(r'^\S+ LOGOUT$', 'logout'),
		send('{idle} OK Idle completed (logout)', '* BYE Logging out', '{logout} OK Logout completed'),
		silent()]


def client_lines(log, account='acct'):
	"""What mailbell sent (the trace's "ACCOUNT C: ..." lines), in order."""
	return re.findall(rf'^mailbell: debug: {re.escape(account)} C: (.*)$', log, re.M)


def after_first_idle(lines):
	"""The client lines after the first IDLE command."""
	for i, line in enumerate(lines):
		if re.fullmatch(r'\S+ IDLE', line):
			return lines[i + 1:]
	raise AssertionError(f'mailbell never sent IDLE: {lines}')


def dones(conn):
	"""The DONE lines a scripted connection received."""
	return re.findall(r'^DONE\r?$', conn.text(), re.M)


# --------------------------------------------------------------------------------------------
# Dovecot

class DovecotBase(h.DovecotTestCase):
	def start(self, user, general=None, rules=(), **account):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, user, **account)},
				   general=general, rules=rules, trace=True)
		mb.wait_idle('acct')
		notify = mb.wait_log(r'acct C: \S+ (NOTIFY SET [^\n]*)').group(1)
		return mb, notify

	def assertAllPushed(self, mb, takes):
		"""Every new message since the first IDLE was taken from the pushes: `takes` TAKE
		decisions, and neither DONE nor UID FETCH went out (before mailbell is stopped)."""
		log = mb.log()
		sent = after_first_idle(client_lines(log))
		self.assertEqual(len(re.findall(r'acct: IDLING -> TAKE \(pushed \d+ new\)', log)), takes, log)
		self.assertNotIn('DONE', sent, log)
		self.assertEqual([l for l in sent if ' UID FETCH ' in l], [], log)
		self.assertNotRegex(log, r'acct: \w+ -> FETCH ', log)

	def stdin_hook(self, name):
		"""A hook that saves its standard input to <dir>/<uid>.in and records its run in
		<dir>/hooks.jsonl; returns (command, dir)."""
		d = os.path.join(self.tmp, f'{name}-{time.time_ns()}')
		os.makedirs(d)
		path = os.path.join(d, 'hook.sh')
		with open(path, 'w') as fh:
			fh.write('#!/bin/sh\nt0=$(date +%s.%N)\n'
				 f'cat > {shlex.quote(d)}/"$MAILBELL_UID.in"\n'
				 'exec ' + ' '.join(shlex.quote(a) for a in (sys.executable, '-I', '-S', h.HOOK_SCRIPT,
									  os.path.join(d, 'hooks.jsonl'))) + ' "$t0"\n')
		os.chmod(path, 0o755)
		return path, d

	def stdin_records(self, d, n, timeout=10):
		mb = h.Mailbell.__new__(h.Mailbell)
		mb.hook_file = os.path.join(d, 'hooks.jsonl')
		return h.wait_until(lambda: len(mb.hook_records()) >= n and mb.hook_records(), timeout, 0.05,
				    f'{n} run(s) of the stdin hook')


class DovecotPushTest(DovecotBase):
	"""Dovecot 2.3.19 pushes `* N EXISTS` and `* N FETCH (UID ...)` in one write."""

	def test_one_message_taken_without_leaving_idle(self):
		mb, notify = self.start('alice', general={'preview': 'no'})
		# preview = no, a hook: the header for the hook, no text
		self.assertRegex(notify, notify_line(f'{BASE_ATTS} {HEADER_FIELDS} BODY.PEEK[HEADER]<0.65536>')
				 .replace(r'^\S+ ', '^'))
		msg = self.deliver('alice', 'Pushed Sender', 'pushed@example.org', 'pushed right away')
		rec = mb.wait_hooks(1)[0]
		self.assertHook(rec, 'acct', msg)
		self.assertEqual(rec['MAILBELL_PREVIEW'], '')
		self.assertEqual(rec['MAILBELL_TO'], 'Test User <user@example.org>')
		self.assertQuiet(mb, 1, seconds=1)
		# positive controls: the server pushed the FETCH, and mailbell took it
		self.assertRegex(mb.log(), rf'acct S: \* \d+ FETCH \(UID {msg["uid"]} ')
		mb.wait_log(r'acct: IDLING -> TAKE \(pushed 1 new\)')
		self.assertAllPushed(mb, takes=1)
		self.assertStoppedCleanly(mb)

	def test_burst_every_message_once_in_uid_order(self):
		n = 20
		mb, _ = self.start('bob', general={'hook_concurrency': '1'})
		c = self.dovecot.imap('bob')
		uids = []
		try:
			for i in range(n):
				body, _ = h.make_message(from_='Burst <burst@example.org>', subject=f'burst {i:02d}')
				typ, data = c.append('INBOX', None, None, body)
				self.assertEqual(typ, 'OK', data)
				uids.append(int(re.search(rb'\[APPENDUID \d+ (\d+)\]', data[0]).group(1)))
		finally:
			c.logout()
		recs = mb.wait_hooks(n, timeout=30)
		recs = self.assertQuiet(mb, n, seconds=1.5)
		self.assertEqual([r['MAILBELL_UID'] for r in recs], [str(u) for u in uids])
		self.assertEqual([r['MAILBELL_SUBJECT'] for r in recs], [f'burst {i:02d}' for i in range(n)])
		self.assertEqual([int(u) for u in re.findall(r'acct: INBOX: new message uid (\d+) ', mb.log())],
				 uids, 'each message reported once, in UID order')
		# Dovecot announces a fast burst as one EXISTS and then a FETCH per message, over more
		# reads than one: what has not come when a read ends is fetched (DONE + UID FETCH), and
		# what comes after is the same message again. Which path each took varies, so the counts
		# are printed, not asserted; the positive control: Dovecot did push.
		log = mb.log()
		self.assertRegex(log, r'acct S: \* \d+ FETCH \(UID \d+ FLAGS \([^)]*\) RFC822\.SIZE ')
		taken = sum(int(x) for x in re.findall(r'acct: IDLING -> TAKE \(pushed (\d+) new\)', log))
		fetches = len(re.findall(r'acct: IDLING -> FETCH ', log))
		print(f'\nburst of {n}: {taken} taken from pushes, {fetches} UID FETCH(es)', file=sys.stderr)
		self.assertStoppedCleanly(mb)

	def test_expunges_in_between_keep_sequence_numbers_right(self):
		user = 'odd'
		for i in range(3):
			body, _ = h.make_message(subject=f'old {i}')
			self.append(user, body)
		mb, _ = self.start(user)
		first = self.deliver(user, 'First', 'first@example.org', 'first new')
		self.assertHook(mb.wait_hooks(1)[0], 'acct', first)

		def expunge(*seqs):
			c = self.dovecot.imap(user)
			try:
				c.select('INBOX')
				for seq in seqs:
					c.store(str(seq), '+FLAGS.SILENT', '\\Deleted')
				typ, data = c.expunge()
				self.assertEqual(typ, 'OK', data)
			finally:
				c.logout()
		# an old message below every known one: every later sequence number moves down
		expunge(1)
		mb.wait_log(r'acct S: \* 1 EXPUNGE')
		second = self.deliver(user, 'Second', 'second@example.org', 'second new')
		self.assertHook(mb.wait_hooks(2)[1], 'acct', second)
		# two at once, one of them the message taken first (now number 3 of 4)
		expunge(1, 3)
		mb.wait_log(r'acct S: \* \d+ EXPUNGE', count=3)
		third = self.deliver(user, 'Third', 'third@example.org', 'third new')
		self.assertHook(mb.wait_hooks(3)[2], 'acct', third)
		recs = self.assertQuiet(mb, 3, seconds=1)
		self.assertEqual([r['MAILBELL_UID'] for r in recs],
				 [str(m['uid']) for m in (first, second, third)])
		self.assertAllPushed(mb, takes=3)
		self.assertStoppedCleanly(mb)

	def test_preview_and_header_on_stdin_pushed(self):
		hook, d = self.stdin_hook('preview')
		mb, notify = self.start('alice', general={'hook': hook, 'preview': 'yes'})
		self.assertTrue(notify.endswith(' BODY.PEEK[HEADER]<0.65536> PREVIEW) MessageExpunge FlagChange))'),
				notify)
		body, _ = h.make_message(from_='Preview <preview@example.org>', subject='with a preview',
					 body='Line one of the text.\nLine   two, café.\n')
		_, uid = self.append('alice', body)
		rec = self.stdin_records(d, 1)[0]
		self.assertEqual(rec['MAILBELL_UID'], str(uid))
		self.assertEqual(rec['MAILBELL_SUBJECT'], 'with a preview')
		self.assertEqual(rec['MAILBELL_PREVIEW'], 'Line one of the text. Line two, café.')
		self.assertEqual(rec['MAILBELL_DOWNLOADED'], 'headers')
		with open(os.path.join(d, f'{uid}.in'), 'rb') as fh:
			self.assertEqual(fh.read(), body[:body.index(b'\r\n\r\n') + 4])
		self.assertRegex(mb.log(), rf'acct S: \* \d+ FETCH \(UID {uid} [^\r\n]*PREVIEW')
		self.assertAllPushed(mb, takes=1)
		self.assertStoppedCleanly(mb)

	def test_download_after_a_push_pipelines_done(self):
		hook, d = self.stdin_hook('download')
		mb, _ = self.start('alice', general={'hook': hook, 'preview': 'no'},
				   rules=[('whole', {'subject': 'download me', 'download': 'full'})])
		body, _ = h.make_message(from_='Big <big@example.org>', subject='download me',
					 body='The whole body.\n' * 50)
		_, uid = self.append('alice', body)
		rec = self.stdin_records(d, 1)[0]
		self.assertEqual((rec['MAILBELL_UID'], rec['MAILBELL_DOWNLOADED'], rec['MAILBELL_RULE']),
				 (str(uid), 'full', 'whole'))
		with open(os.path.join(d, f'{uid}.in'), 'rb') as fh:
			self.assertEqual(fh.read(), body)
		log = mb.log()
		self.assertEqual(len(re.findall(r'acct: IDLING -> TAKE \(pushed 1 new\)', log)), 1, log)
		# the body only: DONE, then the UID FETCH of that UID (no "n:*" for the header) ...
		sent = after_first_idle(client_lines(log))
		self.assertEqual(sent[0], 'DONE', log)
		self.assertRegex(sent[1], rf'^\S+ UID FETCH {uid} \(UID BODY\.PEEK\[\]<0\.\d+>\)$', log)
		self.assertEqual([l for l in sent if re.search(r'UID FETCH \d+:\*', l)], [], log)
		# ... sent before the IDLE's completion was read: one write, no wait
		lines = log.splitlines()
		fetch_at = next(i for i, l in enumerate(lines) if re.search(rf'acct C: \S+ UID FETCH {uid} ', l))
		idle_ok_at = next(i for i, l in enumerate(lines) if re.search(r'acct S: \S+ OK Idle completed', l))
		self.assertLess(fetch_at, idle_ok_at, log)
		self.assertStoppedCleanly(mb)


class DovecotTextPushTest(DovecotBase):
	"""The same Dovecot told not to announce PREVIEW: the push carries the first 4 KiB of the
	text (BODY.PEEK[TEXT]<0.4096>), which mailbell reads as it would a fetched one."""

	dovecot_options = {'extra_conf': 'protocol imap {\n  imap_capability = IMAP4rev1 SASL-IR ID ENABLE '
					 'IDLE LITERAL+ CONDSTORE NOTIFY UIDPLUS\n}\n'}

	def test_preview_from_pushed_text(self):
		hook, d = self.stdin_hook('text')
		mb, notify = self.start('alice', general={'hook': hook})
		self.assertTrue(notify.endswith(' BODY.PEEK[HEADER]<0.65536> BODY.PEEK[TEXT]<0.4096>) '
						'MessageExpunge FlagChange))'), notify)
		body, _ = h.make_message(subject='text preview', body='Pushed text, first line.\nSecond.\n')
		_, uid = self.append('alice', body)
		rec = self.stdin_records(d, 1)[0]
		self.assertEqual((rec['MAILBELL_UID'], rec['MAILBELL_PREVIEW']),
				 (str(uid), 'Pushed text, first line. Second.'))
		with open(os.path.join(d, f'{uid}.in'), 'rb') as fh:
			self.assertEqual(fh.read(), body[:body.index(b'\r\n\r\n') + 4])
		self.assertAllPushed(mb, takes=1)
		self.assertStoppedCleanly(mb)


# --------------------------------------------------------------------------------------------
# scripted

class ScriptedBase(f.FakeServerTestCase):
	def session(self, *steps, caps=NOTIFY_CAPS, notify=True, uidnext=1):
		"""Greeting, sign-in, EXAMINE, NOTIFY SET (when notify) answered OK, IDLE, then steps."""
		s = [f.greeting(), *f.sign_in(caps), *f.after_login(caps), *f.examine(uidnext=uidnext)]
		if notify:
			s += [expect(notify_line(), 'notify'), send('{notify} OK NOTIFY completed')]
		return s + [*f.idle(), *steps]

	def finish(self, srv, mb, conn=0):
		"""Stop mailbell; the script must have run to its LOGOUT on one connection."""
		self.assertStoppedCleanly(mb)
		c = srv.wait_closed(conn)
		self.assertNoScriptErrors(srv, mb)
		self.assertEqual(len(srv.conns), 1, srv.transcript())
		self.assertRegex(c.lines[-1], r'^\S+ LOGOUT$', srv.transcript())
		return c


class ScriptedPushTest(ScriptedBase):
	def assertTakenInIdle(self, srv, mb, c):
		"""Only the DONE of the LOGOUT, no UID FETCH."""
		self.assertEqual(c.lines[-2], 'DONE', srv.transcript())
		self.assertEqual(len(dones(c)), 1, srv.transcript())
		self.assertNotIn('UID FETCH', c.text())
		self.assertRegex(mb.log(), r'acct: IDLING -> TAKE \(pushed 1 new\)')

	def test_fetch_before_its_exists(self):
		srv = self.server([self.session(wait('mail'),
						send(pushed(1, 7, 'fetch first'), '* 1 EXISTS'),
						*logout_end())])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue('mail')
		rec = mb.wait_hooks(1)[0]
		self.assertEqual((rec['MAILBELL_UID'], rec['MAILBELL_SUBJECT'], rec['MAILBELL_FROM']),
				 ('7', 'fetch first', 'Alice <alice@example.org>'))
		self.assertEqual(rec['MAILBELL_PREVIEW'], 'Hello.')  # from BODY[TEXT]<0>
		time.sleep(0.5)
		c = self.finish(srv, mb)
		self.assertTakenInIdle(srv, mb, c)

	def test_fetch_split_in_a_literal(self):
		data = pushed(1, 3, 'arrives in two parts')
		cut = data.index(b'Subject: arrives') + len(b'Subject: arr')  # inside the literal
		srv = self.server([self.session(wait('mail'),
						raw(b'* 1 EXISTS\r\n' + data[:cut]), pause(0.5),
						raw(data[cut:] + b'\r\n'),
						*logout_end())])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue('mail')
		t0 = time.time()
		rec = mb.wait_hooks(1)[0]
		self.assertEqual((rec['MAILBELL_UID'], rec['MAILBELL_SUBJECT']), ('3', 'arrives in two parts'))
		self.assertGreater(rec['_time'] - t0, 0.4, 'the hook ran before the second part came')
		mb.wait_log(r'acct: IDLING -> STAY \(pushed FETCH still arriving\)')
		time.sleep(0.3)
		c = self.finish(srv, mb)
		self.assertTakenInIdle(srv, mb, c)

	def test_push_past_exists_is_dropped(self):
		# a FETCH numbered 2 while EXISTS is 0, and no EXISTS 2 after it: no message. Then
		# the real messages 1 and 2 come pushed: those are taken, the stray one never
		srv = self.server([self.session(
			wait('stray'), send(pushed(2, 50, 'stray')),
			wait('mail'), send('* 1 EXISTS', pushed(1, 1, 'one')),
			wait('mail'), send('* 2 EXISTS', pushed(2, 2, 'two')),
			*logout_end())])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue('stray')
		time.sleep(0.3)
		srv.cue('mail')
		mb.wait_hooks(1)
		srv.cue('mail')
		mb.wait_hooks(2)
		time.sleep(0.5)
		self.assertEqual(sorted((r['MAILBELL_UID'], r['MAILBELL_SUBJECT']) for r in mb.hook_records()),
				 [('1', 'one'), ('2', 'two')])
		mb.wait_log(r'dropping a pushed uid 50 at 2 past EXISTS 1')
		c = self.finish(srv, mb)
		self.assertTakenInIdle(srv, mb, c)

	def test_two_messages_at_one_number_fetch_by_uid(self):
		# the server pushes two different UIDs as message 1: believe neither, UID FETCH
		srv = self.server([self.session(
			wait('mail'), send(pushed(1, 9, 'which one'), pushed(1, 1, 'one'), '* 1 EXISTS'),
			expect(r'^DONE$'), expect(r'^\S+ UID FETCH 1:\* ', 'fetch'),
			send('{idle} OK Idle completed', f.fetch(1, 1, 'one'), '{fetch} OK done'),
			*f.idle(), *logout_end())])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue('mail')
		mb.wait_hooks(1)
		time.sleep(0.5)
		self.assertEqual([(r['MAILBELL_UID'], r['MAILBELL_SUBJECT']) for r in mb.hook_records()],
				 [('1', 'one')])
		mb.wait_log(r'acct: INBOX: the server pushed uid 9 and uid 1 as message 1; fetching new '
			    r'mail by UID')
		self.assertNotIn('-> TAKE', mb.log())
		self.finish(srv, mb)

	def test_incomplete_pushes_fall_back_to_uid_fetch(self):
		# 1: a push without the header fields; 2: EXISTS 3 with a push for number 3 only
		srv = self.server([self.session(
			wait('mail'), send('* 1 EXISTS', pushed(1, 1, 'few attributes', atts=BASE_ATTS)),
			expect(r'^DONE$'), expect(r'^\S+ UID FETCH 1:\* ', 'fetch'),
			send('{idle} OK Idle completed (1)', f.fetch(1, 1, 'few attributes'), '{fetch} OK done'),
			*f.idle(),
			wait('mail'), send(pushed(3, 3, 'three'), '* 3 EXISTS'),
			expect(r'^DONE$'), expect(r'^\S+ UID FETCH 2:\* ', 'fetch'),
			send('{idle} OK Idle completed (2)', f.fetch(2, 2, 'two'), f.fetch(3, 3, 'three'),
			     '{fetch} OK done'),
			*f.idle(), *logout_end())])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue('mail')
		mb.wait_hooks(1)
		srv.cue('mail')
		mb.wait_hooks(3)
		time.sleep(1)
		recs = sorted(mb.hook_records(), key=lambda r: int(r['MAILBELL_UID']))  # hooks run side by side
		self.assertEqual([(r['MAILBELL_UID'], r['MAILBELL_SUBJECT']) for r in recs],
				 [('1', 'few attributes'), ('2', 'two'), ('3', 'three')])
		self.assertEqual(re.findall(r'acct: INBOX: new message uid (\d+) ', mb.log()), ['1', '2', '3'])
		self.assertRegex(mb.log(), r'acct: IDLING -> FETCH \(exists 1 > 0\)')
		self.assertRegex(mb.log(), r'acct: IDLING -> FETCH \(exists 3 > 1\)')
		self.assertNotIn('-> TAKE', mb.log())
		c = self.finish(srv, mb)
		for reply in (b'Idle completed (1)', b'Idle completed (2)'):
			self.assertTrue(c.sent_before(b'UID FETCH', reply))

	def test_exists_without_push_done_and_fetch_in_one_write(self):
		# a server that accepts the attributes but pushes nothing: DONE + UID FETCH at once
		srv = self.server([self.session(
			wait('mail'), send('* 1 EXISTS'),
			expect(r'^DONE$'), expect(r'^\S+ UID FETCH 1:\* \(' + re.escape(FAKE_ATTS) + r'\)$', 'fetch',
						  timeout=5),
			send('{idle} OK Idle completed (mail)', f.fetch(1, 1, 'not pushed'), '{fetch} OK done'),
			*f.idle(), *logout_end())])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue('mail')
		rec = mb.wait_hooks(1)[0]
		self.assertEqual((rec['MAILBELL_UID'], rec['MAILBELL_SUBJECT']), ('1', 'not pushed'))
		mb.wait_log(r'acct: IDLING -> FETCH \(exists 1 > 0\)')
		self.assertQuietHooks(mb, 1)
		c = self.finish(srv, mb)
		self.assertTrue(c.sent_before(b'UID FETCH 1:*', b'Idle completed (mail)'))
		self.assertEqual(len(dones(c)), 2, srv.transcript())

	def test_notify_refusing_the_attributes(self):
		srv = self.server([[
			f.greeting(), *f.sign_in(NOTIFY_CAPS), *f.after_login(NOTIFY_CAPS), *f.examine(),
			expect(notify_line(), 'notify'), send('{notify} BAD Unknown fetch attribute'),
			*f.idle(),
			wait('mail'), send('* 1 EXISTS'),
			expect(r'^DONE$'), expect(r'^\S+ UID FETCH 1:\* ', 'fetch', timeout=5),
			send('{idle} OK Idle completed (mail)', f.fetch(1, 1, 'after BAD'), '{fetch} OK done'),
			*f.idle(), *logout_end()]])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		mb.wait_log(r'acct: NOTIFY refused the fetch attributes of new messages \(Unknown fetch attribute\)')
		srv.cue('mail')
		rec = mb.wait_hooks(1)[0]
		self.assertEqual((rec['MAILBELL_UID'], rec['MAILBELL_SUBJECT']), ('1', 'after BAD'))
		mb.wait_log(r'acct: IDLING -> FETCH \(exists 1 > 0\)')
		self.assertQuietHooks(mb, 1)
		c = self.finish(srv, mb)
		self.assertEqual(len(re.findall(r'NOTIFY SET', c.text())), 1, 'one mailbox: no NOTIFY again')
		self.assertTrue(c.sent_before(b'UID FETCH 1:*', b'Idle completed (mail)'))

	def test_notify_refusing_the_attributes_several_mailboxes(self):
		# asked again without them: the other mailbox's events are still wanted
		def examine(box):
			return [expect(rf'^\S+ EXAMINE {box}$', 'examine'),
				send('* 0 EXISTS', '* OK [UIDVALIDITY 7] UIDs valid', '* OK [UIDNEXT 1] next',
				     '{examine} OK [READ-ONLY] Examine completed')]
		others = r' \(mailboxes \(INBOX Second\) \(MessageNew MessageExpunge FlagChange\)\)$'
		srv = self.server([[
			f.greeting(), *f.sign_in(NOTIFY_CAPS), *f.after_login(NOTIFY_CAPS),
			*examine('Second'), *examine('INBOX'),
			expect(notify_line()[:-1] + others, 'notify'), send('{notify} BAD Unknown fetch attribute'),
			expect(r'^\S+ NOTIFY SET \(selected \(MessageNew MessageExpunge FlagChange\)\)' + others,
			       'notify'),
			send('{notify} OK NOTIFY completed'),
			expect(r'^\S+ STATUS Second ', 'status'),
			send('* STATUS Second (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 7 UNSEEN 0 HIGHESTMODSEQ 1)',
			     '{status} OK Status completed'),
			*f.idle(),
			wait('mail'), send('* 1 EXISTS'),
			expect(r'^DONE$'), expect(r'^\S+ UID FETCH 1:\* ', 'fetch', timeout=5),
			send('{idle} OK Idle completed (mail)', f.fetch(1, 1, 'two boxes'), '{fetch} OK done'),
			*f.idle(), *logout_end()]])
		mb = self.mailbell({'acct': self.account(srv, mailboxes='INBOX, Second')},
				   general={'keepalive': '29m'}, trace=True)
		mb.wait_idle('acct', 'Second (NOTIFY)')
		mb.wait_log(r'acct: NOTIFY refused the fetch attributes of new messages')
		srv.cue('mail')
		rec = mb.wait_hooks(1)[0]
		self.assertEqual((rec['MAILBELL_MAILBOX'], rec['MAILBELL_SUBJECT']), ('INBOX', 'two boxes'))
		self.assertQuietHooks(mb, 1)
		c = self.finish(srv, mb)
		self.assertTrue(c.sent_before(b'UID FETCH 1:*', b'Idle completed (mail)'))

	def assertQuietHooks(self, mb, n, seconds=1.0):
		time.sleep(seconds)
		self.assertEqual(len(mb.hook_records()), n, mb.hook_records())


class PlainIdleTest(ScriptedBase):
	"""No NOTIFY: new mail costs one round trip (DONE and UID FETCH in one write), and so does the
	keepalive renewal (DONE and NOOP). keepalive is the shortest allowed, 1m."""

	general = {'timeout': '5s', 'keepalive': '1m'}

	def test_done_pipelined_with_fetch_and_with_noop(self):
		srv = self.server([self.session(
			wait('mail'), send('* 1 EXISTS'),
			expect(r'^DONE$'), expect(r'^\S+ UID FETCH 1:\* ', 'fetch', timeout=5),
			send('{idle} OK Idle completed (mail)', f.fetch(1, 1, 'plain idle'), '{fetch} OK done'),
			*f.idle(),
			expect(r'^DONE$', timeout=75), expect(r'^\S+ NOOP$', 'noop', timeout=5),
			send('{idle} OK Idle completed (renewal)', '{noop} OK NOOP completed'),
			*f.idle(), *logout_end(), caps=f.POSTAUTH_CAPS, notify=False)])
		mb = self.mailbell({'acct': self.account(srv)}, trace=True)
		mb.wait_idle('acct')
		srv.cue('mail')
		t0 = time.monotonic()
		rec = mb.wait_hooks(1)[0]
		self.assertEqual((rec['MAILBELL_UID'], rec['MAILBELL_SUBJECT']), ('1', 'plain idle'))
		mb.wait_log(r'acct: IDLING -> FETCH \(exists 1 > 0\)')
		c = srv.conns[0]
		h.wait_until(lambda: any(re.fullmatch(r'\S+ NOOP', l) for l in c.lines), 80, 0.1, 'the renewal')
		took = time.monotonic() - t0
		self.assertGreater(took, 50, 'renewed long before keepalive')
		mb.wait_log(r'acct: IDLING -> NOOP \(renewal\)|acct: \w+ -> NOOP')
		h.wait_until(lambda: len(re.findall(r'^\S+ IDLE$', '\n'.join(c.lines), re.M)) >= 3, 10, 0.1,
			     'IDLE after the renewal')
		c = self.finish(srv, mb)
		self.assertNotIn('NOTIFY', c.text())
		self.assertTrue(c.sent_before(b'UID FETCH 1:*', b'Idle completed (mail)'))
		self.assertTrue(c.sent_before(b'NOOP', b'Idle completed (renewal)'))
		self.assertEqual(len(dones(c)), 3, srv.transcript())

if __name__ == '__main__':
	h.main()
