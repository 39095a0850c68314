"""Helpers shared by the fault, soak and restart tests (no tests in here).

- Ledger: every message a test delivers (APPEND straight to Dovecot, a unique Message-ID each)
  and the exactly-once comparison against mailbell's hook records.
- mailbox helpers (create, recreate) over imaplib, and a reader for mailbell's state files.
- ModeTestCase: a DovecotTestCase whose Dovecot may be told not to offer NOTIFY (notify = False);
  FaultTestCase: the same with a FaultProxy in front of Dovecot's implicit-TLS port.

The checks look at what a user would see (hook runs, the state directory, connections through
the proxy), not at log lines, so they hold whether mailbell watches each mailbox on its own
connection or all of them on one (NOTIFY).
"""

import configparser
import os
import random
import sys
import threading
import time
import urllib.parse

import harness as h

sys.path.insert(0, os.path.dirname(h.HERE))  # tests/, for faultproxy
from faultproxy import FaultProxy  # noqa: E402

# What the exactly-once tests give mailbell: the smallest keepalive the config allows (60 s)
# and a command timeout long enough for the delays the proxy adds.
KEEPALIVE = 60
TIMEOUT = 5


def env_int(name, default):
	v = os.environ.get(name)
	return int(v) if v else default


def env_float(name, default):
	v = os.environ.get(name)
	return float(v) if v else default


def seeded_random(name):
	"""A random.Random seeded from $name or the clock; prints the seed so a run can be repeated."""
	seed = os.environ.get(name)
	seed = int(seed) if seed else int(time.time() * 1000) % 1000000007
	print(f'\n{name}={seed}', flush=True)
	return seed, random.Random(seed)


def norm_mid(mid):
	return (mid or '').strip().strip('<>')


# --------------------------------------------------------------------------------------------
# mailboxes and state

def create_mailboxes(dovecot, user, names):
	"""CREATE each mailbox that does not exist yet (Dovecot's separator is '.')."""
	c = dovecot.imap(user)
	try:
		for name in names:
			if name.upper() == 'INBOX':
				continue
			typ, data = c.create(name)
			if typ != 'OK' and b'ALREADYEXISTS' not in (data[0] or b''):
				raise RuntimeError(f'CREATE {name} failed: {data}')
	finally:
		c.logout()


def disable_notify(dovecot):
	"""Restart Dovecot without NOTIFY (RFC 5465) among its capabilities, so that mailbell
	watches each mailbox on a connection of its own. Appends to the harness's dovecot.conf."""
	c = dovecot.imap('alice')
	try:
		typ, data = c.capability()
	finally:
		c.logout()
	caps = [x for x in data[0].decode().split() if x.upper() != 'NOTIFY']
	with open(dovecot.conf, 'a') as f:
		f.write('\n# test_faults_support.disable_notify()\n'
			f'imap_capability = {" ".join(caps)}\n')
	dovecot.restart()
	c = dovecot.imap('alice')
	try:
		typ, data = c.capability()
	finally:
		c.logout()
	if b'NOTIFY' in data[0].upper().split():
		raise RuntimeError(f'Dovecot still offers NOTIFY: {data}')


def uidvalidity(dovecot, user, mailbox):
	c = dovecot.imap(user)
	try:
		typ, data = c.status(mailbox, '(UIDVALIDITY UIDNEXT)')
		if typ != 'OK':
			raise RuntimeError(f'STATUS {mailbox} failed: {data}')
		words = data[0].decode().rsplit('(', 1)[1].strip(')').split()
		return int(dict(zip(words[::2], words[1::2]))['UIDVALIDITY'])
	finally:
		c.logout()


def read_state(mb, account):
	"""mailbell's state for account: {mailbox: {'uidvalidity': int, 'last_uid': int}}."""
	name = urllib.parse.quote(account, safe='') + '.state'
	path = os.path.join(mb.state_dir, name)
	cp = configparser.RawConfigParser(strict=False, interpolation=None, comment_prefixes=('#',))
	cp.optionxform = str
	try:
		with open(path, encoding='utf-8') as f:
			cp.read_file(f)
	except (FileNotFoundError, configparser.Error):
		return {}
	out = {}
	for group in cp.sections():
		sec = cp[group]
		try:
			mailbox = sec.get('mailbox') or urllib.parse.unquote(group)
			last = int(sec.get('last_uid', '0'))
			out[mailbox] = {'uidvalidity': int(sec.get('uidvalidity', '0')), 'last_uid': last,
					'hook_uid': min(int(sec.get('hook_uid', str(last))), last)}
		except ValueError:
			pass
	return out


def wait_ready(mb, watched, timeout=30):
	"""Wait until mailbell has a baseline for every mailbox: watched = {account: [mailboxes]}.
	Mail appended from then on must be reported (it opened the mailbox before storing it)."""
	def ready():
		for acct, boxes in watched.items():
			st = read_state(mb, acct)
			if any(st.get(b, {}).get('uidvalidity', 0) == 0 for b in boxes):
				return False
		return True
	try:
		h.wait_until(ready, timeout, 0.05, 'a baseline for every mailbox')
	except TimeoutError:
		raise AssertionError(f'mailbell stored no baseline for all of {watched} within {timeout}s; '
				     f'state: { {a: read_state(mb, a) for a in watched} }\n'
				     f'stderr:\n{mb.log()[-20000:]}') from None


# --------------------------------------------------------------------------------------------
# the ledger of delivered messages

class Ledger:
	"""Messages delivered by the test, and the exactly-once comparison with hook records."""

	def __init__(self, dovecot, tag):
		self.dovecot = dovecot
		self.tag = tag
		self.delivered = {}   # message-id -> (account, mailbox, uidvalidity, uid, append time)
		self.lock = threading.Lock()  # held around each APPEND: hold it to keep Dovecot quiet
		self._n = 0

	def deliver(self, user, account, mailbox='INBOX', subject=None):
		"""APPEND one message straight to Dovecot (not through any proxy); returns its Message-ID."""
		with self.lock:
			self._n += 1
			mid = f'<{self.tag}-{self._n}-{os.getpid()}@mailbell.test>'
			raw, _ = h.make_message(from_=f'Sender {self._n} <sender{self._n}@example.org>',
						subject=subject or f'{self.tag} message {self._n}', message_id=mid)
			t = time.time()
			last = None
			for attempt in range(3):
				try:
					uv, uid = h.append(self.dovecot, user, self.dovecot.users[user], mailbox, raw)
					break
				except (OSError, RuntimeError) as e:
					# only before APPEND was sent (login, connect): a retry cannot duplicate
					if 'APPEND failed' in str(e) or 'APPENDUID' in str(e):
						raise
					last = e
					time.sleep(0.5)
			else:
				raise RuntimeError(f'cannot deliver to {user}/{mailbox}: {last}')
			self.delivered[norm_mid(mid)] = (account, mailbox, uv, uid, t)
			return mid

	def count(self):
		with self.lock:
			return len(self.delivered)

	def reported_ids(self, records):
		return {norm_mid(r.get('MAILBELL_MESSAGE_ID')) for r in records}

	def missing(self, records):
		seen = self.reported_ids(records)
		with self.lock:
			return [m for m in self.delivered if m not in seen]

	def wait_reported(self, mb, timeout, extra=()):
		"""Wait until every delivered message (and every Message-ID in extra) was reported.
		Returns the records; does not fail (compare() does)."""
		deadline = time.monotonic() + timeout
		while True:
			recs = mb.hook_records()
			ids = self.reported_ids(recs)
			if not self.missing(recs) and all(norm_mid(m) in ids for m in extra):
				return recs
			if time.monotonic() >= deadline or not mb.running():
				return recs
			time.sleep(0.1)

	def compare(self, records, excuse=None):
		"""Returns (summary line, problems list).

		excuse(message_id, records of it in hook-run order) may return a reason why running
		its hook more than once is expected (e.g. mailbell was SIGKILLed right after starting
		it): such duplicates are counted and named in the summary but are not problems."""
		with self.lock:
			delivered = dict(self.delivered)
		by_mid = {}
		by_key = {}
		unexpected, mismatched = [], []
		for r in records:
			mid = norm_mid(r.get('MAILBELL_MESSAGE_ID'))
			key = (r.get('MAILBELL_ACCOUNT'), r.get('MAILBELL_MAILBOX'),
			       r.get('MAILBELL_UIDVALIDITY'), r.get('MAILBELL_UID'))
			by_mid.setdefault(mid, []).append(r)
			by_key.setdefault(key, []).append(r)
			if mid not in delivered:
				unexpected.append(r)
				continue
			acct, box, uv, uid, _ = delivered[mid]
			if key != (acct, box, str(uv), str(uid)):
				mismatched.append((mid, (acct, box, uv, uid), key))
		missed = sorted(m for m in delivered if m not in by_mid)
		dup_mids = {m: sorted(rs, key=lambda r: r.get('_time', 0))
			    for m, rs in by_mid.items() if len(rs) > 1}
		excused = {}
		for m, rs in dup_mids.items():
			why = excuse(m, rs) if excuse and m in delivered else None
			if why:
				excused[m] = why
		dup_keys = {k: rs for k, rs in by_key.items() if len(rs) > 1}
		duplicates = sum(len(rs) - 1 for rs in dup_mids.values())
		n_excused = sum(len(dup_mids[m]) - 1 for m in excused)
		reported = len([m for m in by_mid if m in delivered])
		summary = (f'delivered {len(delivered)}, reported {reported}, missed {len(missed)}, '
			   f'duplicates {duplicates}')
		if n_excused:
			summary += f' ({n_excused} of them excused: {"; ".join(sorted(set(excused.values())))})'
		problems = []
		for m in missed:
			acct, box, uv, uid, t = delivered[m]
			problems.append(f'missed {m}: {acct}/{box} UIDVALIDITY {uv} UID {uid} '
					f'(appended at {time.strftime("%H:%M:%S", time.localtime(t))}'
					f'.{int(t * 1000) % 1000:03d})')
		for m, rs in dup_mids.items():
			line = (f'duplicate {m}: reported {len(rs)} times: '
				+ '; '.join(f"{r.get('MAILBELL_ACCOUNT')}/{r.get('MAILBELL_MAILBOX')} "
					    f"uid {r.get('MAILBELL_UID')} at {r.get('_time', 0):.3f} "
					    f"(hook ppid {r.get('_ppid')})" for r in rs))
			if m in excused:
				print(f'excused {line}: {excused[m]}', flush=True)
			else:
				problems.append(line)
		for k, rs in dup_keys.items():
			if len({norm_mid(r.get('MAILBELL_MESSAGE_ID')) for r in rs}) > 1:
				problems.append(f'one (account, mailbox, UIDVALIDITY, UID) {k} reported for '
						f'different messages: {[r.get("MAILBELL_MESSAGE_ID") for r in rs]}')
		for r in unexpected:
			problems.append(f'reported but never delivered by this test: {r}')
		for mid, want, got in mismatched:
			problems.append(f'{mid}: reported as {got}, APPENDUID said {want}')
		return summary, problems

	def latencies(self, records):
		"""Seconds from APPEND to hook run, per reported delivered message."""
		with self.lock:
			delivered = dict(self.delivered)
		out = []
		for r in records:
			d = delivered.get(norm_mid(r.get('MAILBELL_MESSAGE_ID')))
			if d:
				out.append(r['_time'] - d[4])
		return sorted(out)


def latency_text(lat):
	if not lat:
		return 'no latencies'
	return (f'latency median {lat[len(lat) // 2]:.2f}s, 95th {lat[int(len(lat) * 0.95)]:.2f}s, '
		f'max {lat[-1]:.2f}s')


# --------------------------------------------------------------------------------------------
# test case base

class ModeTestCase(h.DovecotTestCase):
	"""A Dovecot per class; with notify = False it does not offer NOTIFY, so mailbell watches
	each mailbox on an IDLE connection of its own."""

	notify = True

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		if not cls.notify:
			try:
				disable_notify(cls.dovecot)
			except BaseException:
				cls.tearDownClass()
				raise


class FaultTestCase(ModeTestCase):
	"""ModeTestCase with a fresh FaultProxy in front of Dovecot's implicit-TLS port per test."""

	def setUp(self):
		super().setUp()
		self.proxy = FaultProxy(('127.0.0.1', self.dovecot.imaps_port),
					verbose=bool(os.environ.get('MAILBELL_SHOW_LOGS'))).start()
		self.addCleanup(self.proxy.stop)

	def proxied(self, user, **extra):
		"""Account keys for user through the proxy (TLS to localhost, the test CA)."""
		return h.Mailbell.account(self.dovecot, user, 'implicit', port=self.proxy.port, **extra)

	def general(self, **extra):
		g = {'keepalive': f'{KEEPALIVE}s', 'timeout': f'{TIMEOUT}s'}
		g.update({k: str(v) for k, v in extra.items()})
		return g

	def assertExactlyOnce(self, ledger, mb, timeout=30, settle=2.0, extra_ok=()):
		"""Wait for every delivered message, give duplicates settle seconds to show up, then
		compare. extra_ok: Message-IDs that may show up without being in the ledger."""
		ledger.wait_reported(mb, timeout)
		time.sleep(settle)
		recs = [r for r in mb.hook_records()
			if norm_mid(r.get('MAILBELL_MESSAGE_ID')) not in {norm_mid(m) for m in extra_ok}]
		summary, problems = ledger.compare(recs)
		print(summary, flush=True)
		if problems:
			self.fail(summary + '\n' + '\n'.join(problems[:50]) +
				  f'\nproxy events: {self.proxy.events[-40:]}'
				  f'\nmailbell stderr (tail):\n{mb.log()[-30000:]}')
		return recs
