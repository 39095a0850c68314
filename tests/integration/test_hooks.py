"""Hooks: a failing hook is logged and never stops mailbell; a hook that outlives hook_timeout
is ended with everything it started (its whole process group); hooks beyond the four that run
at once wait and all run, once each."""
import os
import subprocess
import time

import harness as h


def running(marker):
	r = subprocess.run(['pgrep', '-f', marker], stdout=subprocess.PIPE, text=True)
	return r.stdout.split()


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


if __name__ == '__main__':
	h.main()
