"""Sync hooks (issue 10): one run per burst of changes, never two at once for an account, exactly
one more run for changes that arrive during a run, a run after start and after every reconnect,
expunges and flag changes when sync_on asks for them, per-mailbox commands, --once."""
import json
import os
import shlex
import subprocess
import sys
import time

import harness as h

RECORDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'sync-record.py')


class SyncTest(h.DovecotTestCase):
	def setUp(self):
		super().setUp()
		c = self.dovecot.imap('alice')
		c.create('Work')
		c.logout()

	def sync_cmd(self, name='sync.jsonl', sleep=0.0):
		"""A sync hook that records its runs in name; returns (command, path)."""
		path = os.path.join(self.tmp, f'{self.id().rsplit(".", 1)[-1]}-{name}')
		if os.path.exists(path):
			os.unlink(path)
		script = os.path.join(self.tmp, f'{self.id().rsplit(".", 1)[-1]}-{name}.sh')
		with open(script, 'w') as f:
			f.write('#!/bin/sh\nexec ' + ' '.join(shlex.quote(a) for a in
				(sys.executable, '-I', '-S', RECORDER, path, str(sleep))) + '\n')
		os.chmod(script, 0o755)
		return script, path

	@staticmethod
	def events(path):
		if not os.path.exists(path):
			return []
		with open(path) as f:
			return [json.loads(line) for line in f]

	def runs(self, path):
		"""Completed runs as (start record, end record), in order."""
		ev = self.events(path)
		starts = [e for e in ev if e['event'] == 'start']
		ends = {e['_pid']: e for e in ev if e['event'] == 'end'}
		return [(s, ends[s['_pid']]) for s in starts if s['_pid'] in ends]

	def wait_runs(self, path, n, timeout=15):
		h.wait_until(lambda: len(self.runs(path)) >= n, timeout, 0.05, f'{n} sync hook run(s)')
		return self.runs(path)

	def assertNoOverlap(self, path):
		ev = self.events(path)
		running = 0
		for e in sorted(ev, key=lambda e: e['_time']):
			running += 1 if e['event'] == 'start' else -1
			self.assertLessEqual(running, 1, f'two sync hooks at once: {ev}')

	def start_mailbell(self, cmd, sleep=0.0, account_extra=None, general=None, **kw):
		acct = h.Mailbell.account(self.dovecot, 'alice', **(account_extra or {}))
		g = {'sync_hook': cmd, 'sync_delay': '1s'}
		g.update(general or {})
		mb = self.mailbell({'work': acct}, general=g, **kw)
		return mb

	def test_start_run_then_one_run_per_burst(self):
		cmd, path = self.sync_cmd(sleep=1.0)
		mb = self.start_mailbell(cmd)
		mb.wait_idle('work')
		start, end = self.wait_runs(path, 1)[0]
		self.assertEqual(start['MAILBELL_REASON'], 'start')
		self.assertEqual(start['MAILBELL_ACCOUNT'], 'work')
		self.assertEqual(start['MAILBELL_MAILBOXES'], 'INBOX')
		self.assertEqual(start['MAILBELL_NEW'], '0')
		self.assertFalse(start['_stdin_tty'])
		self.assertEqual(start['_stdin'], '', 'standard input is /dev/null')
		self.assertNotIn('MAILBELL_UID', start)
		# a burst of 8: at most two runs, never overlapping, all 8 counted
		for i in range(8):
			self.deliver('alice', 'B', 'b@example.org', f'burst {i}')
		mb.wait_hooks(8, timeout=15)
		time.sleep(3.5)  # sync_delay + the 1 s run + margin
		runs = self.runs(path)[1:]
		self.assertGreaterEqual(len(runs), 1, 'the burst ran the sync hook')
		self.assertLessEqual(len(runs), 2, f'a burst of 8 ran the sync hook {len(runs)} times')
		self.assertEqual(sum(int(s['MAILBELL_NEW']) for s, _ in runs), 8)
		for s, _ in runs:
			self.assertEqual(s['MAILBELL_REASON'], 'change')
			self.assertEqual(s['MAILBELL_MAILBOXES'], 'INBOX')
		self.assertNoOverlap(path)
		self.assertEqual(len(self.events(path)), 2 * len(self.runs(path)), 'every run ended')

	def test_change_during_a_run_gives_exactly_one_more(self):
		cmd, path = self.sync_cmd(sleep=4.0)
		mb = self.start_mailbell(cmd)
		mb.wait_idle('work')
		self.wait_runs(path, 1, timeout=20)
		self.deliver('alice', 'A', 'a@example.org', 'first')
		h.wait_until(lambda: len([e for e in self.events(path) if e['event'] == 'start']) == 2, 10,
			     0.05, 'the change run started')
		# while it runs (4 s): three more messages
		for i in range(3):
			self.deliver('alice', 'D', 'd@example.org', f'during {i}')
		runs = self.wait_runs(path, 3, timeout=20)
		time.sleep(3)  # no fourth run
		runs = self.runs(path)
		self.assertEqual(len(runs), 3, [s['MAILBELL_NEW'] for s, _ in runs])
		self.assertEqual([s['MAILBELL_NEW'] for s, _ in runs[1:]], ['1', '3'])
		self.assertGreaterEqual(runs[2][0]['_time'], runs[1][1]['_time'])
		self.assertNoOverlap(path)

	def test_expunge_and_flags_follow_sync_on(self):
		cmd, path = self.sync_cmd()
		raw, _ = h.make_message(subject='to be expunged')
		self.append('alice', raw)
		self.append('alice', h.make_message(subject='to be read')[0])
		mb = self.start_mailbell(cmd, general={'sync_on': 'new, expunge'})
		mb.wait_idle('work')
		self.wait_runs(path, 1)
		# flags are not in sync_on: reading a message runs nothing...
		c = self.dovecot.imap('alice')
		c.select('INBOX')
		c.store('2', '+FLAGS', '\\Seen')
		time.sleep(2.5)
		self.assertEqual(len(self.runs(path)), 1, 'a flag change ran the sync hook without sync_on = flags')
		# ... an expunge does
		c.store('1', '+FLAGS', '\\Deleted')
		c.expunge()
		c.logout()
		runs = self.wait_runs(path, 2)
		self.assertEqual(runs[1][0]['MAILBELL_REASON'], 'change')
		self.assertEqual(runs[1][0]['MAILBELL_NEW'], '0')
		self.assertEqual(runs[1][0]['MAILBELL_MAILBOXES'], 'INBOX')

	def test_flags_in_another_mailbox(self):
		cmd, path = self.sync_cmd()
		self.append('alice', h.make_message(subject='in work')[0], mailbox='Work')
		mb = self.start_mailbell(cmd, general={'sync_on': 'flags'},
					 account_extra={'mailboxes': 'INBOX, Work'})
		mb.wait_idle('work', 'Work')
		start = self.wait_runs(path, 1)[0][0]
		self.assertEqual(sorted(start['MAILBELL_MAILBOXES'].split('\n')), ['INBOX', 'Work'])
		time.sleep(1.5)
		c = self.dovecot.imap('alice')
		c.select('Work')
		c.store('1', '+FLAGS', '\\Seen')
		c.logout()
		runs = self.wait_runs(path, 2)
		self.assertEqual(runs[1][0]['MAILBELL_MAILBOXES'], 'Work')
		self.assertEqual(runs[1][0]['MAILBELL_REASON'], 'change')
		# new mail is not in sync_on here: no run for it
		self.deliver('alice', 'N', 'n@example.org', 'new one')
		mb.wait_hooks(1)
		time.sleep(2.5)
		self.assertEqual(len(self.runs(path)), 2)

	def test_reconnect_runs_it(self):
		cmd, path = self.sync_cmd()
		mb = self.start_mailbell(cmd)
		mb.wait_idle('work')
		self.wait_runs(path, 1)
		self.dovecot.restart()
		mb.wait_idle('work', count=2, timeout=40)
		runs = self.wait_runs(path, 2, timeout=10)
		self.assertEqual(runs[1][0]['MAILBELL_REASON'], 'reconnect')
		self.assertEqual(runs[1][0]['MAILBELL_MAILBOXES'], 'INBOX')

	def test_mail_while_away_counts_in_the_start_run(self):
		cmd, path = self.sync_cmd()
		mb = self.start_mailbell(cmd)
		mb.wait_idle('work')
		self.wait_runs(path, 1)
		mb.stop()
		for i in range(3):
			self.deliver('alice', 'W', 'w@example.org', f'while away {i}')
		mb.start()
		runs = self.wait_runs(path, 2)
		self.assertEqual(runs[1][0]['MAILBELL_REASON'], 'start')
		self.assertEqual(runs[1][0]['MAILBELL_NEW'], '3')

	def test_per_mailbox_command(self):
		cmd, path = self.sync_cmd()
		work_cmd, work_path = self.sync_cmd('work.jsonl')
		mb = self.start_mailbell(cmd, account_extra={'mailboxes': 'INBOX, Work',
							      'sync_hook.Work': work_cmd})
		mb.wait_idle('work', 'Work')
		self.assertEqual(self.wait_runs(path, 1)[0][0]['MAILBELL_MAILBOXES'], 'INBOX')
		self.assertEqual(self.wait_runs(work_path, 1)[0][0]['MAILBELL_MAILBOXES'], 'Work')
		self.deliver('alice', 'W', 'w@example.org', 'to work', mailbox='Work')
		runs = self.wait_runs(work_path, 2)
		self.assertEqual(runs[1][0]['MAILBELL_MAILBOXES'], 'Work')
		self.assertEqual(runs[1][0]['MAILBELL_NEW'], '1')
		time.sleep(2)
		self.assertEqual(len(self.runs(path)), 1, 'the account command ran for Work')
		self.assertNoOverlap(path)
		# the two commands of one account never ran at once either
		both = sorted(self.events(path) + self.events(work_path), key=lambda e: e['_time'])
		depth = 0
		for e in both:
			depth += 1 if e['event'] == 'start' else -1
			self.assertLessEqual(depth, 1)

	def test_failing_sync_hook_is_logged(self):
		mb = self.start_mailbell('exit 4')
		mb.wait_log(r'sync hook for work exited with status 4')
		self.deliver('alice', 'A', 'a@example.org', 'still reported')
		mb.wait_hooks(1)
		self.assertTrue(mb.running())

	def test_once_runs_the_start_run_before_exiting(self):
		cmd, path = self.sync_cmd(sleep=0.5)
		mb = self.start_mailbell(cmd, extra_args=['--once'])
		mb.proc.wait(timeout=30)
		self.assertEqual(mb.proc.returncode, 0, mb.log())
		runs = self.runs(path)
		self.assertEqual(len(runs), 1, mb.log())
		self.assertEqual(runs[0][0]['MAILBELL_REASON'], 'start')

	def test_bad_sync_settings_are_file_line_errors(self):
		for extra, want in (({'sync_hook.Nope': 'true'}, r'config.ini:\d+: account work: sync_hook.Nope: '
				      r'Nope is not one of the mailboxes watched \(INBOX\)'),
				     ({'sync_on': 'new, moved'}, r"config.ini:\d+: bad word 'moved' in sync_on"),
				     ({'sync_hook.': 'true'}, r"config.ini:\d+: missing mailbox name in 'sync_hook.'")):
			acct = h.Mailbell.account(self.dovecot, 'alice', **extra)
			mb = h.Mailbell({'work': acct}, parent_dir=self.tmp)
			r = subprocess.run(mb.argv() + ['--check'], env=mb.env, stdout=subprocess.PIPE,
					   stderr=subprocess.STDOUT, text=True, timeout=30)
			mb.cleanup()
			self.assertEqual(r.returncode, 78, r.stdout)
			self.assertRegex(r.stdout, want)


if __name__ == '__main__':
	h.main()
