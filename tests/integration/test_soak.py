#!/usr/bin/env python3
"""Soak: a steady stream of mail to three mailboxes of two accounts while the proxy breaks the
connections every few seconds (seeded random faults) and Dovecot restarts twice; afterwards
every message delivered was reported exactly once to the hook (by Message-ID, and no
(account, mailbox, UIDVALIDITY, UID) twice), and the state file holds each mailbox's last UID.

Twice: with NOTIFY (one connection per account, 300 messages) and without (one IDLE connection
per mailbox, 200 messages).

Environment (defaults give a CI run of about 90 s for both):
  MAILBELL_SOAK_MESSAGES        messages to deliver in each (300 and 200)
  MAILBELL_SOAK_RATE            messages per second (10)
  MAILBELL_SOAK_FAULT_INTERVAL  mean seconds between faults (3)
  MAILBELL_SOAK_SEED            the random seed (printed; set it to repeat a run's choices)
  MAILBELL_SOAK_QUIESCE         seconds to wait for the last reports after the stream (60)
"""

import random
import threading
import time

import harness as h
from test_faults_support import TIMEOUT, FaultTestCase, Ledger, create_mailboxes, env_float, \
	env_int, latency_text, read_state, seeded_random, wait_ready

USERS = ('alice', 'bob')
MAILBOXES = ('INBOX', 'Lists.rust', 'Work')


class SoakTest(FaultTestCase):
	"""Dovecot offers NOTIFY: mailbell watches all three mailboxes of an account on one
	connection."""
	messages = 300

	def test_soak(self):
		n = env_int('MAILBELL_SOAK_MESSAGES', self.messages)
		rate = env_float('MAILBELL_SOAK_RATE', 10.0)
		fault_every = env_float('MAILBELL_SOAK_FAULT_INTERVAL', 3.0)
		quiesce = env_float('MAILBELL_SOAK_QUIESCE', 60.0)
		seed, rnd = seeded_random('MAILBELL_SOAK_SEED')
		print(f'soak: {n} messages at {rate}/s, a fault every ~{fault_every}s, Dovecot restarted '
		      f'twice, {"NOTIFY" if self.notify else "one IDLE connection per mailbox"}', flush=True)

		for u in USERS:
			create_mailboxes(self.dovecot, u, MAILBOXES)
		mb = self.mailbell({u: self.proxied(u, mailboxes=', '.join(MAILBOXES)) for u in USERS},
				   general=self.general())
		wait_ready(mb, {u: MAILBOXES for u in USERS})
		ledger = Ledger(self.dovecot, f'soak{seed}')
		t_start = time.monotonic()

		# the stream (its own random generator, so thread timing cannot change the choices)
		targets = [(u, b) for u in USERS for b in MAILBOXES]
		drnd = random.Random(seed + 1)
		restart_at = {n // 3, 2 * n // 3}
		failure = []
		log = []

		def note(text):
			log.append(f'{time.monotonic() - t_start:6.1f}s {text}')

		def stream():
			try:
				for i in range(n):
					delay = t_start + i / rate - time.monotonic()
					if delay > 0:
						time.sleep(delay)
					if i in restart_at:
						down = drnd.uniform(0.5, 2.0)
						note(f'Dovecot restart ({down:.1f}s down)')
						with ledger.lock:
							self.dovecot.stop()
							time.sleep(down)
							self.dovecot.start()
					u, box = drnd.choice(targets)
					ledger.deliver(u, u, box)
			except BaseException as e:  # noqa: B902 - reported by the main thread
				failure.append(e)

		deliverer = threading.Thread(target=stream, name='soak-stream', daemon=True)
		deliverer.start()

		faults = {}

		def one(conns):
			return rnd.choice(conns)

		def f_reset_one(conns):
			one(conns).reset()

		def f_reset_all(conns):
			self.proxy.reset_all()

		def f_close_one(conns):
			one(conns).close()

		def f_cut(conns):
			keep = rnd.choice([0, 1, 6, 40, -1, -3])
			after = rnd.choice([0, 0, 1, 2, 3])
			one(conns).cut_next_response(keep, after)
			return f'keep {keep} after {after} client chunk(s)'

		def f_blackhole(conns):
			c = one(conns)
			secs = rnd.uniform(0.5, 2 * TIMEOUT)
			c.blackhole()
			time.sleep(secs)
			c.heal()
			return f'{secs:.1f}s'

		def f_delay(conns):
			ms = rnd.choice([50, 200, 500, 1000])
			secs = rnd.uniform(1, 4)
			self.proxy.delay(ms)
			time.sleep(secs)
			self.proxy.delay(0)
			return f'{ms} ms for {secs:.1f}s'

		def f_refuse(conns):
			secs = rnd.uniform(1, 4)
			self.proxy.refuse(secs)
			one(conns).reset()
			return f'{secs:.1f}s'

		kinds = [(f_reset_one, 3), (f_reset_all, 1), (f_close_one, 2), (f_cut, 2),
			 (f_blackhole, 2), (f_delay, 2), (f_refuse, 1)]
		funcs = [f for f, w in kinds for _ in range(w)]
		while deliverer.is_alive():
			deliverer.join(rnd.uniform(0.5, 1.5) * fault_every)
			if not deliverer.is_alive():
				break
			self.assertTrue(mb.running(), f'mailbell exited; stderr:\n{mb.log()[-30000:]}')
			f = rnd.choice(funcs)
			conns = self.proxy.connections()
			if not conns:
				note(f'{f.__name__[2:]}: no connection open')
				continue
			detail = f(conns)
			name = f.__name__[2:]
			faults[name] = faults.get(name, 0) + 1
			note(f'{name} {detail or ""}({len(conns)} open)')
		if failure:
			raise failure[0]
		t_streamed = time.monotonic()
		self.proxy.heal()
		self.proxy.delay(0)

		ledger.wait_reported(mb, quiesce)
		t_quiet = time.monotonic()
		time.sleep(3)  # room for late duplicates
		recs = mb.hook_records()
		summary, problems = ledger.compare(recs)
		print(f'soak seed {seed}: stream {t_streamed - t_start:.0f}s, all reported '
		      f'{t_quiet - t_streamed:.1f}s after it ended; faults {sum(faults.values())} '
		      f'{dict(sorted(faults.items()))}; {self.proxy.accepted} connections through the '
		      f'proxy; {latency_text(ledger.latencies(recs))}', flush=True)
		print(summary, flush=True)
		if problems:
			self.fail(f'seed {seed}: {summary}\n' + '\n'.join(problems[:50]) +
				  '\nfaults:\n' + '\n'.join(log) +
				  '\nproxy:\n' + '\n'.join(f'{t - t_start:6.1f}s {e}' for t, e in self.proxy.events) +
				  f'\nDovecot log (tail):\n{self.dovecot_log()[-10000:]}'
				  f'\nmailbell stderr (tail):\n{mb.log()[-60000:]}')
		# and the state agrees: every mailbox's last UID is its last message, every hook started
		want = {}
		for acct, box, uv, uid, t in ledger.delivered.values():
			want[(acct, box)] = max(want.get((acct, box), (0, 0)), (uv, uid))

		def state_ok():
			return all(read_state(mb, a).get(b, {}).get('uidvalidity') == uv
				   and read_state(mb, a)[b]['last_uid'] == uid == read_state(mb, a)[b]['hook_uid']
				   for (a, b), (uv, uid) in want.items())
		try:
			h.wait_until(state_ok, 5, 0.1, 'the state file to agree')
		except TimeoutError:
			self.fail(f'state {[read_state(mb, u) for u in USERS]}, want (UIDVALIDITY, UID) {want}')
		self.assertStoppedCleanly(mb)


class SoakNoNotifyTest(SoakTest):
	"""Dovecot without NOTIFY: one IDLE connection per mailbox, each with its own backoff."""
	notify = False
	messages = 200


if __name__ == '__main__':
	h.main()
