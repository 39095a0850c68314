#!/usr/bin/env python3
"""The server goes away and comes back while mailbell runs: mailbell reconnects and reports
mail delivered after the restart, each message exactly once; the first retry after a drop waits a
short jittered moment."""

import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import fakeimap as f  # noqa: E402
import harness as h  # noqa: E402


class ReconnectTest(h.DovecotTestCase):
	def test_server_restart(self):
		mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'alice', 'implicit')})
		mb.wait_idle('acct')
		before = self.deliver('alice', 'Before', 'before@example.org', 'before the restart')
		mb.wait_hooks(1)

		self.dovecot.stop()  # Dovecot drops every client on shutdown
		mb.wait_log(r'acct: reconnecting in', timeout=10)
		self.assertIsNone(mb.proc.poll(), mb.log())
		time.sleep(0.5)
		self.dovecot.start()

		# right after the restart, most likely while mailbell is still backing off:
		# reported after it reconnects
		during = self.deliver('alice', 'During', 'during@example.org', 'while reconnecting')
		reconnected_before_append = len(re.findall(r'acct: idling on INBOX', mb.log())) >= 2
		mb.wait_idle('acct', timeout=60, count=2)
		mb.wait_hooks(2, timeout=10)
		# and once idling again: reported through IDLE
		after = self.deliver('alice', 'After', 'after@example.org', 'after the reconnect')
		mb.wait_hooks(3)
		recs = self.assertQuiet(mb, 3)
		recs.sort(key=lambda r: int(r['MAILBELL_UID']))
		self.assertHook(recs[0], 'acct', before)
		self.assertHook(recs[1], 'acct', during)
		self.assertHook(recs[2], 'acct', after)
		if reconnected_before_append:
			print('\nnote: mailbell had reconnected before the "during" message was appended',
			      flush=True)
		self.assertStoppedCleanly(mb)

	def test_server_down_at_start(self):
		# mailbell starts while the server is down, keeps retrying, and works once it is up
		self.dovecot.stop()
		try:
			mb = self.mailbell({'acct': h.Mailbell.account(self.dovecot, 'bob', 'starttls')})
			mb.wait_log(r'acct: reconnecting in', timeout=10)
			self.assertIsNone(mb.proc.poll(), mb.log())
		finally:
			self.dovecot.start()
		mb.wait_idle('acct', timeout=60)
		msg = self.deliver('bob', 'Late', 'late@example.org', 'server came up late')
		mb.wait_hooks(1)
		recs = self.assertQuiet(mb, 1)
		self.assertHook(recs[0], 'acct', msg)
		self.assertStoppedCleanly(mb)


class FirstRetryTest(f.FakeServerTestCase):
	def test_first_retry_after_a_drop_waits_a_moment(self):
		# servers.md S14: a server going down may still accept on its listener and then hang the
		# TLS handshake; the first retry after a working connection drops waits 1-3 s (jittered)
		srv = self.server([[*f.happy(), f.wait('drop'), f.close()], f.happy()])
		mb = self.mailbell({'acct': self.account(srv)})
		mb.wait_idle('acct')
		srv.cue('drop')
		dropped = srv.wait_closed(0).closed_at
		delay = float(mb.wait_log(r'acct: reconnecting in (\d+\.\d)s').group(1))
		self.assertTrue(1.0 <= delay <= 3.0, f'first retry after {delay}s:\n{mb.log()}')
		again = srv.wait_connections(2, timeout=10).started
		self.assertGreaterEqual(again - dropped, delay - 0.1, 'retried before the logged delay')
		self.assertLess(again - dropped, delay + 1.0)
		mb.wait_idle('acct', count=2)
		self.assertEqual(len(srv.conns), 2)
		self.assertNoScriptErrors(srv, mb)
		self.assertStoppedCleanly(mb)


if __name__ == '__main__':
	h.main()
