"""Hooks: a failing hook is logged and never stops mailbell; a hook that outlives hook_timeout
is ended with everything it started (its whole process group); hooks beyond the
hook_concurrency that run at once wait and all run, once each."""
import os
import re
import signal
import subprocess
import tempfile
import time

import harness as h


def running(marker):
	r = subprocess.run(['pgrep', '-f', marker], stdout=subprocess.PIPE, text=True)
	return r.stdout.split()


def alive(pid):
	"""The process exists and is not a zombie (a zombie has ended; only its parent's wait is due)."""
	try:
		with open(f'/proc/{pid}/stat') as f:
			return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
	except (FileNotFoundError, ProcessLookupError):
		return False


def group_alive(pgid):
	"""Some process of group pgid is alive (zombies aside)."""
	for pid in filter(str.isdigit, os.listdir('/proc')):
		try:
			with open(f'/proc/{pid}/stat') as f:
				fields = f.read().rsplit(')', 1)[1].split()
		except OSError:
			continue
		if int(fields[2]) == pgid and fields[0] != 'Z':
			return True
	return False


class HookTest(h.DovecotTestCase):
	def test_failing_hook_is_logged_and_mail_keeps_coming(self):
		out = os.path.join(self.tmp, 'failing.txt')
		hook = f'echo "$MAILBELL_UID" >> {out}; exit 3'
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, hook=False,
				   general={'hook': hook})
		mb.wait_idle('work')
		a = self.deliver('alice', 'A', 'a@example.org', 'first')
		mb.wait_log(r'hook for work/INBOX uid %d exited with status 3' % a['uid'])
		b = self.deliver('alice', 'B', 'b@example.org', 'second')
		mb.wait_log(r'hook for work/INBOX uid %d exited with status 3' % b['uid'])
		with open(out) as f:
			self.assertEqual(f.read().split(), [str(a['uid']), str(b['uid'])])
		self.assertTrue(mb.running())

	def test_timeout_kills_the_whole_group(self):
		marker = f'{os.getpid()}.{int(time.time())}'
		out = os.path.join(self.tmp, 'late.txt')
		# a child in the background that would write later, and a foreground sleep
		hook = (f'(sleep 30 && echo late >> {out}) & sleep 31; : {marker}')
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, hook=False,
				   general={'hook': hook, 'hook_timeout': '1s'})
		mb.wait_idle('work')
		msg = self.deliver('alice', 'Slow', 'slow@example.org', 'slow hook')
		mb.wait_log(r'hook for work/INBOX uid %d still running after 1s; sending SIGTERM'
			    % msg['uid'], timeout=10)
		mb.wait_log(r'hook for work/INBOX uid %d killed by signal 15' % msg['uid'], timeout=10)
		h.wait_until(lambda: not running(marker) and not running(f'echo late >> {out}'), 5, 0.1,
			     'no process of the hook left')
		self.assertFalse(os.path.exists(out))

	def test_queue_runs_every_hook_once(self):
		out = os.path.join(self.tmp, 'queue.txt')
		hook = f'sleep 0.3; echo "$MAILBELL_UID" >> {out}'
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, hook=False,
				   general={'hook': hook})
		mb.wait_idle('work')
		uids = [self.deliver('alice', 'Q', 'q@example.org', f'queued {i}')['uid'] for i in range(10)]
		h.wait_until(lambda: os.path.exists(out) and len(open(out).read().split()) == 10, 20, 0.1,
			     'ten hook runs')
		time.sleep(1)
		with open(out) as f:
			got = sorted(map(int, f.read().split()))
		self.assertEqual(got, sorted(uids))

	def burst(self, n):
		"""n messages APPENDed over one connection, back to back: one fetch, one queue."""
		c = self.dovecot.imap('alice')
		for i in range(n):
			c.append('INBOX', None, None, h.make_message(subject=f'burst {i}')[0])
		c.logout()

	def test_concurrency_limit_and_reload(self):
		d = os.path.join(self.tmp, 'concurrency')
		os.makedirs(d)
		running_dir, counts, done = (os.path.join(d, x) for x in ('running', 'counts', 'done'))
		os.makedirs(running_dir)
		# each hook counts the hooks running beside it (itself included)
		hook = (f'touch {running_dir}/$MAILBELL_UID; ls {running_dir} | wc -l >> {counts}; '
			f'sleep 1; rm {running_dir}/$MAILBELL_UID; echo $MAILBELL_UID >> {done}')
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, hook=False,
				   general={'hook': hook, 'hook_concurrency': '2'})
		mb.wait_idle('work')

		def lines(path):
			try:
				with open(path) as f:
					return [int(x) for x in f.read().split()]
			except FileNotFoundError:
				return []
		self.burst(6)
		h.wait_until(lambda: len(lines(done)) == 6, 30, 0.1, 'six hook runs')
		self.assertLessEqual(max(lines(counts)), 2, lines(counts))
		# positive control: the queue did fill both places
		self.assertEqual(max(lines(counts)), 2, lines(counts))

		with open(mb.config) as f:
			text = f.read()
		with open(mb.config, 'w') as f:
			f.write(text.replace('hook_concurrency = 2', 'hook_concurrency = 1'))
		os.truncate(counts, 0)
		mb.proc.send_signal(signal.SIGHUP)
		mb.wait_log(r'reloaded .*: 1 account\(s\) unchanged')
		self.burst(3)
		h.wait_until(lambda: len(lines(done)) == 9, 30, 0.1, 'three more hook runs')
		self.assertEqual(lines(counts), [1, 1, 1])
		self.assertEqual(len(set(lines(done))), 9, 'every hook once')
		self.assertStoppedCleanly(mb)

	def stubborn_hook(self, shell_traps_term):
		"""Runs a hook that leaves, besides its shell, a background child ignoring SIGTERM; the
		shell itself either traps SIGTERM and keeps looping or dies of it. Returns (mb, uid,
		pids) once the timeout's SIGTERM was sent, after checking that both were alive then."""
		d = tempfile.mkdtemp(dir=self.tmp)
		pids_file = os.path.join(d, 'pids.txt')
		script = os.path.join(d, 'stubborn.sh')
		with open(script, 'w') as f:
			# the hook command sources the script, so the hook's own /bin/sh runs these loops
			f.write((f"trap 'echo shell-got-term >> {pids_file}.log' TERM\n" if shell_traps_term else '')
				+ "(trap '' TERM; while :; do sleep 0.2; done) &\n"
				+ f'echo $$ $! > {pids_file}.tmp && mv {pids_file}.tmp {pids_file}\n'
				+ 'while :; do sleep 0.2; done\n')
		mb = self.mailbell({'work': h.Mailbell.account(self.dovecot, 'alice')}, hook=False,
				   general={'hook': f'. {script}', 'hook_timeout': '1s'})
		mb.wait_idle('work')
		uid = self.deliver('alice', 'Stubborn', 'stubborn@example.org', 'stubborn hook')['uid']
		h.wait_until(lambda: os.path.exists(pids_file), 10, 0.05, 'the hook wrote its pids')
		with open(pids_file) as f:
			shell, child = map(int, f.read().split())
		self.addCleanup(lambda: [os.kill(p, 9) for p in (shell, child) if alive(p)])
		self.assertEqual(os.getpgid(child), shell, 'the hook leads a process group of its own')
		mb.wait_log(r'hook for work/INBOX uid %d still running after 1s; sending SIGTERM' % uid,
			    timeout=10)
		time.sleep(0.5)
		# positive control: SIGTERM alone ended neither the child nor a shell that traps it
		self.assertTrue(alive(child), 'the child ignoring SIGTERM must outlive the SIGTERM')
		if shell_traps_term:
			self.assertTrue(alive(shell), 'the shell trapping SIGTERM must outlive the SIGTERM')
			h.wait_until(lambda: os.path.exists(pids_file + '.log'), 5, 0.05, 'the trap ran')
		else:
			# the shell's end is reported once its whole group is gone (the hook counts
			# as running until then: its slot, "one sync hook at a time", --once)
			h.wait_until(lambda: not alive(shell), 3, 0.05, 'the shell died of SIGTERM')
			self.assertNotRegex(mb.log(), r'hook for work/INBOX uid %d killed' % uid)
		time.sleep(2.5)
		self.assertTrue(alive(child), 'SIGKILL comes 5 s after the SIGTERM, not sooner')
		return mb, uid, (shell, child)

	def assertGroupKilled(self, mb, uid, pids):
		shell, child = pids
		# SIGKILL at the SIGTERM + 5 s (a seconds timer may be a second late), then a margin
		h.wait_until(lambda: not alive(shell) and not alive(child), 5, 0.1,
			     'every process of the hook gone 5 s after its SIGTERM')
		# no live member (zombies aside: reaping orphans is init's business)
		self.assertFalse(group_alive(shell))
		mb.wait_log(r'hook for work/INBOX uid %d \(process group %d\) still running 5s after '
			    r'SIGTERM; sending SIGKILL' % (uid, shell), timeout=2)
		self.assertTrue(mb.running())

	def test_timeout_kills_a_group_that_traps_sigterm(self):
		mb, uid, pids = self.stubborn_hook(shell_traps_term=True)
		self.assertGroupKilled(mb, uid, pids)
		mb.wait_log(r'hook for work/INBOX uid %d killed by signal 9' % uid, timeout=2)
		self.assertStoppedCleanly(mb)

	def test_timeout_kills_what_the_shell_left_behind(self):
		# the reported bug: the shell dies of the SIGTERM, and the SIGKILL meant for its group
		# was forgotten with it, so a child that ignores SIGTERM ran on forever
		mb, uid, pids = self.stubborn_hook(shell_traps_term=False)
		self.assertGroupKilled(mb, uid, pids)
		# the shell was reported once, as dead of the SIGTERM, after the group's SIGKILL
		mb.wait_log(r'hook for work/INBOX uid %d killed by signal 15' % uid, timeout=2)
		self.assertEqual(len(re.findall(r'hook for work/INBOX uid %d (killed|exited)' % uid, mb.log())), 1)
		log = mb.log()
		self.assertLess(log.index('(process group %d) still running 5s after SIGTERM' % pids[0]),
				log.index('hook for work/INBOX uid %d killed by signal 15' % uid))
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
