#!/usr/bin/env python3
"""Network faults between mailbell and Dovecot, one at a time (tests/faultproxy.py in between):
after each, mail is reported exactly once, whether it came before, during or after the fault.
Also: a reset while hooks wait in mailbell's queue (the reconnect fetches their messages again),
and a UIDVALIDITY change (the mailbox deleted and recreated) under a running mailbell.

The black-hole test waits for mailbell's keepalive, which cannot be shorter than 60 s: it takes
about 65 s (bounded at 90 s)."""

import os
import time

import harness as h
from test_faults_support import KEEPALIVE, FaultTestCase, Ledger, create_mailboxes, \
	read_state, uidvalidity, wait_ready

MAILBOXES = ['INBOX', 'Work']


class FaultTest(FaultTestCase):
	def start(self, users=('alice',), hook_delay=0, **general):
		"""mailbell on INBOX and Work of each user through the proxy, ready. hook_delay: the
		recording hook sleeps that long first (hooks run hook_concurrency at a time: the rest wait)."""
		for u in users:
			create_mailboxes(self.dovecot, u, MAILBOXES)
		accounts = {u: self.proxied(u, mailboxes=', '.join(MAILBOXES)) for u in users}
		record_file = None
		if hook_delay:
			name = self.id().rsplit('.', 1)[1]
			record_file = os.path.join(self.tmp, f'{name}-hooks.jsonl')
			script = h.Mailbell.write_hook_script(os.path.join(self.tmp, f'{name}-hook'), record_file)
			general['hook'] = f'sleep {hook_delay}; exec {script}'
		mb = self.mailbell(accounts, general=self.general(**general),
				   trace=bool(os.environ.get('MAILBELL_TRACE')))
		if record_file:
			mb.hook_file = record_file  # where hook_records() looks
		wait_ready(mb, {u: MAILBOXES for u in users})
		self.ledger = Ledger(self.dovecot, self.id().rsplit('.', 1)[1])
		return mb

	def deliver_all(self, tag=None):
		"""One message to each watched mailbox."""
		for box in MAILBOXES:
			self.ledger.deliver('alice', 'alice', box, subject=tag)

	def wait_count(self, mb, n, timeout=30):
		self.ledger.wait_reported(mb, timeout)
		recs = mb.hook_records()
		self.assertGreaterEqual(len(recs), n, f'hook records {recs}; stderr:\n{mb.log()[-20000:]}')

	def fault_then_mail(self, fault, settle_timeout=30):
		"""Mail before the fault, mail right after it (most likely while mailbell reconnects),
		then mail once it is back: each reported exactly once."""
		mb = self.start()
		self.deliver_all('before')
		self.wait_count(mb, len(MAILBOXES))
		accepted = self.proxy.accepted
		conns = fault()
		self.assertTrue(conns, 'the fault hit no connection')
		self.deliver_all('during')
		# back: a new connection came through the proxy and the mail from during the fault is in
		h.wait_until(lambda: self.proxy.accepted > accepted, 30, 0.05, 'mailbell to reconnect')
		self.wait_count(mb, 2 * len(MAILBOXES), settle_timeout)
		self.deliver_all('after')
		self.assertExactlyOnce(self.ledger, mb, settle_timeout)
		self.assertStoppedCleanly(mb)
		return mb

	def test_reset(self):
		self.fault_then_mail(self.proxy.reset_all)

	def test_clean_close(self):
		self.fault_then_mail(self.proxy.close_all)

	def test_cut_mid_exists(self):
		# the server's next bytes (the untagged EXISTS) arrive half, then RST
		self.fault_then_mail(lambda: self.proxy.cut_next_response(7))
		self.assertTrue(any(c.how == 'cut' for c in self.proxy.all_connections()),
				f'no connection was cut: {self.proxy.all_connections()}')

	def test_cut_mid_fetch(self):
		# Without NOTIFY: let EXISTS, then DONE with the UID FETCH (one write) through, then
		# cut the FETCH answer short of its last 3 bytes: untagged FETCH data may arrive
		# whole, its tagged OK not. With NOTIFY the new message comes pushed with EXISTS
		# (MessageNew's fetch attributes) or as a STATUS event: cut that first answer, so
		# mailbell holds part of a pushed FETCH when the connection dies.
		mb = self.start()
		self.deliver_all('before')
		self.wait_count(mb, len(MAILBOXES))
		for keep in (-3, 40):
			accepted = self.proxy.accepted
			self.proxy.cut_next_response(keep, after_client_chunks=0 if self.notify else 1)
			self.deliver_all(f'cut {keep}')
			h.wait_until(lambda: self.proxy.accepted > accepted, 30, 0.05, 'mailbell to reconnect')
			self.ledger.wait_reported(mb, 30)
		self.deliver_all('after')
		self.assertExactlyOnce(self.ledger, mb)
		self.assertTrue(any(c.how == 'cut' for c in self.proxy.all_connections()),
				f'no connection was cut: {self.proxy.all_connections()}')
		self.assertStoppedCleanly(mb)

	def test_refuse_new_connections(self):
		# connections dropped, and reconnecting fails for 4 s (ECONNREFUSED)
		def fault():
			self.proxy.refuse(4.0)
			return self.proxy.reset_all()
		t = time.monotonic()
		self.fault_then_mail(fault)
		self.assertGreater(time.monotonic() - t, 4.0)

	def test_delay(self):
		# every byte 700 ms late: slow, but well within the command timeout
		mb = self.start()
		accepted = self.proxy.accepted
		self.proxy.delay(700)
		self.deliver_all('delayed')
		self.ledger.wait_reported(mb, 30)
		self.proxy.delay(0)
		self.deliver_all('after')
		self.assertExactlyOnce(self.ledger, mb)
		self.assertEqual(self.proxy.accepted, accepted,
				 f'a delay below the timeout made mailbell reconnect; stderr:\n{mb.log()}')
		self.assertStoppedCleanly(mb)

	def test_short_blackhole(self):
		# the network stalls for 2 s while mailbell idles, mail arrives meanwhile: it is
		# reported once the stall ends, on the same connection
		mb = self.start()
		accepted = self.proxy.accepted
		self.proxy.blackhole()
		self.deliver_all('stalled')
		time.sleep(2)
		self.proxy.heal()
		self.ledger.wait_reported(mb, 30)
		self.deliver_all('after')
		self.assertExactlyOnce(self.ledger, mb)
		self.assertEqual(self.proxy.accepted, accepted,
				 f'a 2 s stall while idle made mailbell reconnect; stderr:\n{mb.log()}')
		self.assertStoppedCleanly(mb)

	def test_reset_with_hooks_queued(self):
		# hooks are slow, so some wait in mailbell's queue when the connection drops; the
		# reconnect fetches their messages again (the state only counts started hooks): each
		# hook must still run once
		mb = self.start(hook_delay=2)
		for i in range(5):
			self.deliver_all(f'queued {i}')
		last = max(uid for acct, box, uv, uid, t in self.ledger.delivered.values() if box == 'INBOX')
		h.wait_until(lambda: read_state(mb, 'alice').get('INBOX', {}).get('last_uid', 0) >= last,
			     20, 0.02, 'the messages to be notified')
		st = read_state(mb, 'alice')
		self.assertLess(st['INBOX']['hook_uid'], last, f'no hook was waiting: {st}')
		accepted = self.proxy.accepted
		self.proxy.reset_all()
		h.wait_until(lambda: self.proxy.accepted > accepted, 30, 0.05, 'mailbell to reconnect')
		self.deliver_all('after')
		self.assertExactlyOnce(self.ledger, mb, timeout=40, settle=4)
		self.assertStoppedCleanly(mb)

	def test_blackhole_noticed_after_keepalive(self):
		# the peer vanishes without FIN or RST (and new connections vanish too): mailbell must
		# notice within `timeout` after its next keepalive, and report what came meanwhile
		timeout = 3
		mb = self.start(timeout=f'{timeout}s')
		self.deliver_all('before')
		self.wait_count(mb, len(MAILBOXES))
		t0 = time.monotonic()
		conns = self.proxy.blackhole(new=True)
		self.deliver_all('during')
		limit = KEEPALIVE + timeout + 5
		try:
			h.wait_until(lambda: all(c.client_gone_at for c in conns), limit, 0.1,
				     'mailbell to drop every black-holed connection')
		except TimeoutError:
			self.fail(f'mailbell did not drop a silent connection within keepalive + timeout '
				  f'(+5 s): {conns}; stderr:\n{mb.log()[-20000:]}')
		took = max(c.client_gone_at for c in conns) - t0
		print(f'black hole noticed after {took:.1f}s (keepalive {KEEPALIVE}s, timeout {timeout}s)',
		      flush=True)
		self.proxy.heal()
		self.ledger.wait_reported(mb, 30)
		self.deliver_all('after')
		self.assertExactlyOnce(self.ledger, mb)
		self.assertStoppedCleanly(mb)

	def test_uidvalidity_change(self):
		# the mailbox is deleted and recreated with old messages in it (a restore from backup):
		# mailbell starts over from the new UIDVALIDITY without reporting those, then reports
		# new mail
		mb = self.start()
		self.deliver_all('before')
		self.wait_count(mb, len(MAILBOXES))
		old_uv = uidvalidity(self.dovecot, 'alice', 'Work')
		c = self.dovecot.imap('alice')
		try:
			self.assertEqual(c.delete('Work')[0], 'OK')
			self.assertEqual(c.create('Work')[0], 'OK')
			for i in range(5):
				raw, _ = h.make_message(subject=f'restored {i}')
				self.assertEqual(c.append('Work', None, None, raw)[0], 'OK')
		finally:
			c.logout()
		t0 = time.monotonic()
		new_uv = uidvalidity(self.dovecot, 'alice', 'Work')
		self.assertNotEqual(old_uv, new_uv, 'Dovecot kept the UIDVALIDITY')
		# Mail that comes into the new mailbox before mailbell notices is skipped by the new
		# baseline, so it must notice soon, not at its next keepalive. Dovecot tells a client
		# idling on the deleted mailbox only "* NO Internal error" (the BYE comes at its next
		# command); under NOTIFY the mailbox's STATUS event tells.
		limit = 20
		try:
			h.wait_until(lambda: read_state(mb, 'alice').get('Work', {}).get('uidvalidity') == new_uv,
				     limit, 0.1, 'the new UIDVALIDITY in the state file')
		except TimeoutError:
			self.fail(f'state {read_state(mb, "alice")}, want UIDVALIDITY {new_uv}; '
				  f'stderr:\n{mb.log()[-20000:]}')
		print(f'new UIDVALIDITY noticed after {time.monotonic() - t0:.1f}s', flush=True)
		self.deliver_all('after')
		# the five restored messages have no ledger entry: any report of them fails the test
		self.assertExactlyOnce(self.ledger, mb)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
