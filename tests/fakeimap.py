"""A scripted fake IMAP server for mailbell's tests (Python stdlib only).

It plays what real servers won't do on demand (issue 3, ../shared/cases/imap-responses.md): each
client connection runs a *script*, a list of steps made with the functions below:

    expect(regex, name=None)  read one client line (CRLF stripped), which must match regex (searched,
                              case-insensitive); its first word is remembered as {tag}, and also as
                              {name} when name is given; named groups of regex are remembered too
    send(*lines)              send the lines (CRLF added) in ONE write, so they share a TCP segment;
                              in str lines {tag}, {name}, ... are replaced ({18} and other unknown
                              names stay); bytes lines go out as they are (8-bit literals)
    raw(data)                 send bytes as they are
    poll_until(regex, name=None)
                              like expect(), but first answer any NOOPs with OK (a polling client)
    pause(seconds)
    wait(cue)                 block until the test calls server.cue(cue) (each cue is used once)
    starttls()                start TLS (server side) on this connection
    flood(chunk)              send chunk again and again until the client hangs up (endless line)
    close()                   close the connection (FIN)
    reset()                   close with SO_LINGER 0 (RST)
    silent()                  go silent: keep reading and recording until the client hangs up
    serve()                   answer the usual idle-time commands (DONE, IDLE, NOOP, CAPABILITY,
                              LOGOUT) until the client hangs up

A script that runs out ends in serve(). A line that does not match an expect(), or no line within
its timeout, is recorded in server.errors and ends the connection.

    srv = FakeIMAP([script1, script2], tls='implicit', certs=harness.make_ca(dir))
    srv.start(); ...; srv.stop()

Connection i plays scripts[i]; later connections replay the last one (or `then` when given).
Everything a client sent is kept per connection (Conn.data, bytes after TLS decryption).
happy() builds the usual session: greeting, sign-in, ID, ENABLE, EXAMINE, IDLE, and on each cue
'mail' an EXISTS answered by the next FETCH lines given. FakeServerTestCase (at the end) runs fake
servers and mailbell processes for unittest tests.
"""

import atexit
import base64
import os
import re
import select
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import unittest

CAPS = 'IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN'
POSTAUTH_CAPS = 'IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ CONDSTORE QRESYNC UIDPLUS'


# --------------------------------------------------------------------------------------------
# steps

def expect(regex, name=None, timeout=20):
	return ('expect', re.compile(regex, re.I), name, timeout)


def poll_until(regex, name=None, timeout=120):
	return ('poll_until', re.compile(regex, re.I), name, timeout)


def send(*lines):
	return ('send', lines)


def raw(data):
	return ('raw', data)


def pause(seconds):
	return ('pause', seconds)


def wait(cue, timeout=120):
	return ('wait', cue, timeout)


def starttls():
	return ('starttls',)


def flood(chunk=b'x' * 65536):
	return ('flood', chunk)


def close():
	return ('close',)


def reset():
	return ('reset',)


def silent():
	return ('silent',)


def serve():
	return ('serve',)


# --------------------------------------------------------------------------------------------
# building blocks

def quote(s):
	if s is None:
		return 'NIL'
	return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


class Msg:
	"""A message as the fake server holds it: header block and body as bytes. In a send() step a
	Msg becomes one untagged FETCH response carrying exactly the items the client's last UID FETCH
	asked for (UID, FLAGS, RFC822.SIZE, BODY.PEEK[HEADER.FIELDS (...)], BODY.PEEK[HEADER],
	BODY.PEEK[TEXT], BODY.PEEK[] with or without <origin.count>, PREVIEW); any other item is a
	script error, so a client asking for the wrong thing fails its test."""

	def __init__(self, seq, uid, subject='test', flags='', size=None, from_='Alice <alice@example.org>',
		     to='user@example.org', date='Tue, 02 Jan 2024 03:04:05 +0100', message_id=None,
		     raw_from=None, raw_subject=None, headers=(), body=b'Hello.\r\n', preview=None,
		     header_block=None):
		self.seq, self.uid, self.flags, self.preview = seq, uid, flags, preview
		if header_block is None:
			lines = []
			enc = lambda v: v if isinstance(v, bytes) else v.encode('utf-8')
			lines.append(b'From: ' + enc(raw_from if raw_from is not None else from_))
			if to is not None:
				lines.append(b'To: ' + enc(to))
			lines.append(b'Subject: ' + enc(raw_subject if raw_subject is not None else subject))
			lines.append(b'Date: ' + enc(date))
			lines.append(b'Message-ID: ' + enc(message_id or f'<{uid}.{seq}@fake.test>'))
			for h in headers:
				lines.append(enc(h))
			header_block = b''.join(l + b'\r\n' for l in lines)
		self.header = header_block
		self.body = body if isinstance(body, bytes) else body.encode('utf-8')
		self.raw = self.header + b'\r\n' + self.body
		self.size = size if size is not None else len(self.raw)

	def fields(self, names):
		"""The header fields called names (folded lines kept), then the empty line, as Dovecot."""
		out, keep = [], False
		for line in self.header.split(b'\r\n'):
			if not line:
				continue
			if line[:1] in (b' ', b'\t'):
				if keep:
					out.append(line)
				continue
			keep = line.split(b':', 1)[0].strip().upper().decode('latin-1') in names
			if keep:
				out.append(line)
		return b''.join(l + b'\r\n' for l in out) + b'\r\n'

	def answer(self, request, errors):
		"""The FETCH response for request (the client's UID FETCH line)."""
		m = re.search(r'UID FETCH \S+ \((.*)\)$', request or '', re.I) or \
			re.search(r'UID FETCH \S+ (\S+)$', request or '', re.I)
		if not m:
			errors.append(f'a Msg was sent but the last command was no UID FETCH: {request!r}')
			return b''
		items = re.findall(r'BODY\.PEEK\[[^\]]*\](?:<\d+\.\d+>)?|[A-Z0-9.]+', m.group(1), re.I)
		parts = []
		for item in items:
			up = item.upper()
			if up == 'UID':
				parts.append(b'UID %d' % self.uid)
			elif up == 'FLAGS':
				parts.append(b'FLAGS (' + self.flags.encode() + b')')
			elif up == 'RFC822.SIZE':
				parts.append(b'RFC822.SIZE %d' % self.size)
			elif up == 'PREVIEW':
				parts.append(b'PREVIEW ' + (quote(self.preview).encode('utf-8') if self.preview is not None
							    else b'NIL'))
			elif up.startswith('BODY.PEEK['):
				sm = re.fullmatch(r'BODY\.PEEK\[([^\]]*)\](?:<(\d+)\.(\d+)>)?', item, re.I)
				section, origin, count = sm.group(1), sm.group(2), sm.group(3)
				fm = re.fullmatch(r'HEADER\.FIELDS \(([^)]*)\)', section, re.I)
				if fm:
					data = self.fields(set(fm.group(1).upper().split()))
				elif section.upper() == 'HEADER':
					data = self.header + b'\r\n'
				elif section.upper() == 'TEXT':
					data = self.body
				elif section == '':
					data = self.raw
				else:
					errors.append(f'client asked for an unexpected section: {item}')
					continue
				name = b'BODY[' + section.encode() + b']'
				if origin is not None:
					data = data[int(origin):int(origin) + int(count)]
					name += b'<' + origin.encode() + b'>'
				parts.append(name + b' {%d}\r\n' % len(data) + data)
			else:
				errors.append(f'client asked for a FETCH item mailbell should not need: {item}')
		return b'* %d FETCH (' % self.seq + b' '.join(parts) + b')'


def fetch(seq, uid, subject='test', flags='', size=None, **kw):
	"""One message for a UID FETCH answer (see Msg): sent in a send() step, it answers exactly what
	the client asked for."""
	return Msg(seq, uid, subject, flags, size, **kw)


def greeting(caps=CAPS, text='Fake IMAP ready.'):
	return send(f'* OK [CAPABILITY {caps}] {text}' if caps else f'* OK {text}')


def sign_in(postauth_caps=POSTAUTH_CAPS):
	"""Accept whatever sign-in comes in one line (AUTHENTICATE with SASL-IR, or LOGIN without
	synchronizing literals); the OK carries postauth_caps."""
	return [expect(r'^\S+ (AUTHENTICATE|LOGIN) ', 'auth'),
		send('{auth} OK [CAPABILITY ' + postauth_caps + '] Logged in')]


def id_exchange():
	return [expect(r'^\S+ ID ', 'id'), send('* ID ("name" "fake")', '{id} OK ID completed')]


def enable():
	return [expect(r'^\S+ ENABLE CONDSTORE$', 'enable'), send('* ENABLED CONDSTORE', '{enable} OK Enabled')]


def examine(uidvalidity=1, uidnext=1, exists=0, extra=()):
	lines = [f'* {exists} EXISTS', '* 0 RECENT', f'* OK [UIDVALIDITY {uidvalidity}] UIDs valid']
	if uidnext is not None:
		lines.append(f'* OK [UIDNEXT {uidnext}] Predicted next UID')
	lines += list(extra)
	return [expect(r'^\S+ EXAMINE ', 'examine'),
		send(*lines, '{examine} OK [READ-ONLY] Examine completed')]


def idle(cont='+ idling'):
	return [expect(r'^\S+ IDLE$', 'idle'), send(cont)]


def new_mail(exists, fetch_lines, cue='mail', cont='+ idling'):
	"""In IDLE: on cue, announce `exists`, end IDLE, answer the UID FETCH, IDLE again."""
	return [wait(cue), send(f'* {exists} EXISTS'),
		expect(r'^DONE$'), send('{idle} OK Idle completed'),
		expect(r'^\S+ UID FETCH \d+:\* ', 'fetch'),
		send(*fetch_lines, '{fetch} OK Fetch completed'),
		*idle(cont)]


def after_login(postauth_caps=POSTAUTH_CAPS):
	"""ID and ENABLE CONDSTORE, each when postauth_caps has it."""
	caps = postauth_caps.split()
	steps = id_exchange() if 'ID' in caps else []
	if 'CONDSTORE' in caps and 'ENABLE' in caps:
		steps += enable()
	return steps


def open_mailbox(postauth_caps=POSTAUTH_CAPS, uidvalidity=1, uidnext=1, exists=0, cont='+ idling',
		 examine_extra=()):
	"""After sign-in: ID and ENABLE (see after_login), EXAMINE, IDLE."""
	return after_login(postauth_caps) + examine(uidvalidity, uidnext, exists, examine_extra) + idle(cont)


def happy(caps=CAPS, postauth_caps=POSTAUTH_CAPS, uidvalidity=1, uidnext=1, exists=0, mails=(),
	  cont='+ idling', examine_extra=()):
	"""A whole session. mails: list of (exists, [fetch lines]) played one per cue 'mail'."""
	steps = [greeting(caps), *sign_in(postauth_caps)]
	steps += open_mailbox(postauth_caps, uidvalidity, uidnext, exists, cont, examine_extra)
	for n, lines in mails:
		steps += new_mail(n, lines, cont=cont)
	return steps


def b64(data):
	return base64.b64encode(data).decode()


def unb64(text):
	return base64.b64decode(text, validate=True)


# --------------------------------------------------------------------------------------------
# the server

class ScriptError(Exception):
	pass


class Conn:
	"""One client connection: what it sent (data, lines) and how it ended."""

	def __init__(self, server, index, sock, script):
		self.server = server
		self.index = index
		self.sock = sock
		self.script = script
		self.data = bytearray()  # everything the client sent, in order
		self.lines = []           # the lines expect() read, decoded as latin-1
		self.times = []           # time.monotonic() when each of those lines was read
		self.vars = {}
		self.buf = b''
		self.marks = []           # (len(data) when the server wrote, bytes written)
		self.tls = False
		self.tls_error = None
		self.ended = None         # why the script stopped: 'eof', 'closed', 'reset', 'error', ...
		self.started = time.monotonic()
		self.closed_at = None

	def text(self):
		return self.data.decode('latin-1')

	def _recv(self, timeout):
		r, _, _ = select.select([self.sock], [], [], timeout) if not self._pending() else ([1], 0, 0)
		if not r:
			return None
		try:
			chunk = self.sock.recv(65536)
		except (ssl.SSLWantReadError, BlockingIOError):
			return None
		except (ConnectionError, OSError, ssl.SSLError):
			chunk = b''
		if chunk:
			self.data += chunk
		return chunk

	def _pending(self):
		return self.tls and self.sock.pending() > 0

	def readline(self, timeout):
		deadline = time.monotonic() + timeout
		while b'\n' not in self.buf:
			left = deadline - time.monotonic()
			if left <= 0 or self.server.stopping:
				raise ScriptError('no client line within %ss' % timeout)
			chunk = self._recv(min(left, 0.2))
			if chunk is None:
				continue
			if not chunk:
				raise EOFError()
			self.buf += chunk
		line, _, self.buf = self.buf.partition(b'\n')
		line = line.rstrip(b'\r').decode('latin-1')
		self.lines.append(line)
		self.times.append(time.monotonic())
		return line

	def subst(self, text):
		return re.sub(r'\{(\w+)\}', lambda m: self.vars.get(m.group(1), m.group(0)), text)

	def write(self, data):
		self.marks.append((len(self.data), data))
		self.sock.sendall(data)

	def sent_before(self, needle, reply):
		"""True when the client had sent `needle` (bytes) before the server wrote `reply` (bytes)."""
		for offset, data in self.marks:
			if reply in data:
				return needle in bytes(self.data[:offset])
		raise AssertionError(f'the server never wrote {reply!r}')

	def run(self):
		try:
			if self.server.tls == 'implicit':
				self._start_tls()
			for step in self.script:
				if self._step(step) is False:
					return
			self._serve()
		except EOFError:
			self.ended = self.ended or 'eof'
		except ScriptError as e:
			self.ended = 'error'
			self.server.errors.append(f'connection {self.index}: {e}')
		except (ssl.SSLError, ConnectionError, OSError) as e:
			self.ended = self.ended or 'eof'
			if not self.tls and self.server.tls == 'implicit' and self.tls_error is None:
				self.tls_error = str(e)
		finally:
			self.closed_at = time.monotonic()
			try:
				self.sock.close()
			except OSError:
				pass

	def _start_tls(self):
		if self.buf:
			raise ScriptError('client sent %r before the TLS handshake' % self.buf)
		self.sock.settimeout(20)
		try:
			self.sock = self.server.ssl_ctx.wrap_socket(self.sock, server_side=True)
		except (ssl.SSLError, OSError) as e:
			self.tls_error = str(e)
			raise
		self.sock.settimeout(None)
		self.tls = True

	def _silent(self):
		self.ended = 'silent'
		while not self.server.stopping:
			chunk = self._recv(0.2)
			if chunk == b'':
				self.ended = 'eof'
				return

	def _serve(self):
		self.ended = 'serve'
		while True:
			try:
				line = self.readline(3600)
			except ScriptError:
				return
			words = line.split(' ')
			cmd = words[1].upper() if len(words) > 1 else ''
			if line.upper() == 'DONE':
				self.write(self.subst('{idle} OK Idle completed\r\n').encode())
			elif cmd == 'IDLE':
				self.vars['idle'] = words[0]
				self.write(b'+ idling\r\n')
			elif cmd == 'LOGOUT':
				self.write(f'* BYE Logging out\r\n{words[0]} OK Logout completed\r\n'.encode())
				self.ended = 'logout'
				return
			elif cmd in ('NOOP', 'CAPABILITY', 'CHECK'):
				extra = f'* CAPABILITY {POSTAUTH_CAPS}\r\n' if cmd == 'CAPABILITY' else ''
				self.write(f'{extra}{words[0]} OK {cmd} completed\r\n'.encode())
			else:
				self.write(f'{words[0]} BAD unexpected command\r\n'.encode())

	def _step(self, step):
		kind = step[0]
		if kind in ('expect', 'poll_until'):
			_, regex, name, timeout = step
			line = self.readline(timeout)
			while kind == 'poll_until' and not regex.search(line) and re.fullmatch(r'\S+ NOOP', line, re.I):
				self.write(line.split(' ')[0].encode() + b' OK NOOP completed\r\n')
				line = self.readline(timeout)
			m = regex.search(line)
			if not m:
				raise ScriptError(f'expected /{regex.pattern}/, client sent {line!r}')
			if re.search(r'^\S+ UID FETCH ', line, re.I):
				self.vars['_fetch'] = line
			tag = line.split(' ', 1)[0]
			self.vars['tag'] = tag
			if name:
				self.vars[name] = tag
			self.vars.update({k: v for k, v in m.groupdict().items() if v is not None})
		elif kind == 'send':
			out = []
			for l in step[1]:
				if isinstance(l, Msg):
					l = l.answer(self.vars.get('_fetch'), self.server.errors)
				out.append((l if isinstance(l, bytes) else self.subst(l).encode('utf-8')) + b'\r\n')
			self.write(b''.join(out))
		elif kind == 'raw':
			self.write(step[1])
		elif kind == 'pause':
			time.sleep(step[1])
		elif kind == 'wait':
			self.server._take_cue(step[1], step[2])
		elif kind == 'starttls':
			self._start_tls()
		elif kind == 'flood':
			self.ended = 'flood'
			self.sock.settimeout(30)
			while not self.server.stopping:
				self.write(step[1])
			return False
		elif kind == 'close':
			self.ended = 'closed'
			return False
		elif kind == 'reset':
			self.ended = 'reset'
			self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
			return False
		elif kind == 'silent':
			self._silent()
			return False
		elif kind == 'serve':
			self._serve()
			return False
		else:
			raise ValueError(step)
		return True


class FakeIMAP:
	"""Listens on 127.0.0.1 (port chosen by the kernel); see the module docstring.

	tls: None (plaintext, also for STARTTLS scripts) or 'implicit'. certs: a harness Certs;
	cert/key: which pair to serve (default the CA-signed localhost one)."""

	def __init__(self, scripts, then=None, tls=None, certs=None, cert=None, key=None):
		self.scripts = [list(s) for s in scripts]
		self.then = list(then) if then is not None else None
		self.tls = tls
		self.ssl_ctx = None
		if certs is not None or cert is not None:
			self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
			self.ssl_ctx.load_cert_chain(cert or certs.server_crt, key or certs.server_key)
		self.host = '127.0.0.1'
		self.conns = []
		self.errors = []
		self.stopping = False
		self._cues = {}
		self._cond = threading.Condition()
		self._threads = []
		self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		self._lsock.bind((self.host, 0))
		self._lsock.listen(16)
		self.port = self._lsock.getsockname()[1]

	def start(self):
		t = threading.Thread(target=self._accept_loop, daemon=True)
		t.start()
		self._threads.append(t)
		return self

	def _accept_loop(self):
		while not self.stopping:
			r, _, _ = select.select([self._lsock], [], [], 0.2)
			if not r or self.stopping:
				continue
			try:
				sock, _ = self._lsock.accept()
			except OSError:
				continue
			sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
			i = len(self.conns)
			if i < len(self.scripts):
				script = self.scripts[i]
			else:
				script = self.then if self.then is not None else (self.scripts[-1] if self.scripts else [])
			c = Conn(self, i, sock, script)
			with self._cond:
				self.conns.append(c)
				self._cond.notify_all()
			t = threading.Thread(target=c.run, daemon=True)
			t.start()
			self._threads.append(t)

	def cue(self, name='mail'):
		"""Let one wait(name) step go on (now or when it is reached)."""
		with self._cond:
			self._cues[name] = self._cues.get(name, 0) + 1
			self._cond.notify_all()

	def _take_cue(self, name, timeout):
		with self._cond:
			ok = self._cond.wait_for(lambda: self._cues.get(name, 0) > 0 or self.stopping, timeout)
			if not ok or self.stopping:
				raise ScriptError(f'cue {name!r} never came')
			self._cues[name] -= 1

	def wait_connections(self, n, timeout=15):
		with self._cond:
			if not self._cond.wait_for(lambda: len(self.conns) >= n, timeout):
				raise AssertionError(f'expected {n} connection(s) within {timeout}s, got {len(self.conns)}')
		return self.conns[n - 1]

	def wait_sent(self, regex, conn=None, timeout=15):
		"""Wait until the client sent bytes matching regex (on connection `conn`, else on any);
		returns the match."""
		r = re.compile(regex)
		deadline = time.monotonic() + timeout
		while True:
			conns = [self.conns[conn]] if conn is not None and conn < len(self.conns) else (
				[] if conn is not None else list(self.conns))
			for c in conns:
				m = r.search(c.text())
				if m:
					return m
			if time.monotonic() >= deadline:
				raise AssertionError(f'client did not send /{regex}/ within {timeout}s; sent:\n' +
						     self.transcript())
			time.sleep(0.02)

	def wait_closed(self, conn, timeout=15):
		"""Wait until connection number conn ended; returns the Conn."""
		self.wait_connections(conn + 1, timeout)
		c = self.conns[conn]
		deadline = time.monotonic() + timeout
		while c.closed_at is None:
			if time.monotonic() >= deadline:
				raise AssertionError(f'connection {conn} still open after {timeout}s')
			time.sleep(0.02)
		return c

	def sent(self):
		"""All bytes every client sent, joined."""
		return b''.join(bytes(c.data) for c in list(self.conns))

	def transcript(self):
		return '\n'.join(f'--- connection {c.index} ({c.ended}) ---\n' + c.text() for c in list(self.conns))

	def stop(self):
		self.stopping = True
		with self._cond:
			self._cond.notify_all()
		try:
			self._lsock.close()
		except OSError:
			pass
		for t in self._threads:
			t.join(5)

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		self.stop()


# --------------------------------------------------------------------------------------------
# helpers for mailbell tests (tests/integration/harness.py must be importable)

_certs = {}


class FakeServerTestCase(unittest.TestCase):
	"""Fake servers and mailbell processes that are stopped and removed after each test.

	cls.certs: harness.make_ca() certificates, made once per test module run."""

	general = {'timeout': '5s'}

	@classmethod
	def setUpClass(cls):
		import harness
		cls.h = harness
		cls.tmp = tempfile.mkdtemp(prefix='mailbell-fake-')
		os.chmod(cls.tmp, 0o755)
		if 'certs' not in _certs:
			_certs['dir'] = tempfile.mkdtemp(prefix='mailbell-fake-certs-')
			_certs['certs'] = harness.make_ca(os.path.join(_certs['dir'], 'certs'))
		cls.certs = _certs['certs']

	@classmethod
	def tearDownClass(cls):
		if not os.environ.get('MAILBELL_KEEP_TMP'):
			shutil.rmtree(cls.tmp, ignore_errors=True)

	def server(self, scripts, tls='implicit', **kw):
		"""A started FakeIMAP, implicit TLS ('implicit') or plaintext that may STARTTLS (None), with
		the test CA's localhost certificate unless cert and key are given."""
		kw.setdefault('certs', self.certs)
		srv = FakeIMAP(scripts, tls=tls, **kw).start()
		self.addCleanup(self._stop_server, srv)
		return srv

	def _stop_server(self, srv):
		srv.stop()
		if os.environ.get('MAILBELL_SHOW_LOGS'):
			print(f'\n--- fake server ({self.id()}) ---\n{srv.transcript()}\nerrors: {srv.errors}',
			      file=sys.stderr)

	def account(self, srv, tls='implicit', user='alice@example.org', password='s3cret-Pw', **extra):
		a = {'host': srv.host, 'port': str(srv.port), 'tls': tls, 'user': user}
		if tls != 'none':
			a['ca_file'] = self.certs.ca_crt
		if password is not None and not {'password_cmd', 'oauth_token_cmd'} & set(extra):
			a['password'] = password
		a.update({k: str(v) for k, v in extra.items() if v is not None})
		return a

	def mailbell(self, accounts, general=None, **kw):
		"""Start a mailbell (stopped and removed after the test)."""
		g = dict(self.general)
		g.update(general or {})
		kw.setdefault('parent_dir', self.tmp)
		mb = self.h.Mailbell(accounts, general=g, **kw)
		self.addCleanup(self._finish_mailbell, mb)
		return mb.start()

	def _finish_mailbell(self, mb):
		try:
			if mb.running():
				mb.stop()
		except AssertionError as e:
			print(f'\n{self.id()}: {e}', file=sys.stderr)
		finally:
			if os.environ.get('MAILBELL_SHOW_LOGS'):
				print(f'\n--- mailbell stderr ({self.id()}) ---\n{mb.log()}', file=sys.stderr)
			if not os.environ.get('MAILBELL_KEEP_TMP'):
				mb.cleanup()

	def assertNoScriptErrors(self, srv, mb=None):
		if srv.errors:
			self.fail(f'fake server script errors: {srv.errors}\n{srv.transcript()}' +
				  (f'\nmailbell stderr:\n{mb.log()}' if mb else ''))

	def assertStoppedCleanly(self, mb):
		rc = mb.stop()
		self.assertEqual(rc, 0, f'mailbell exit status {rc}; stderr:\n{mb.log()}')
		mb.check_clean_log(self)


def cleanup_certs():
	if 'dir' in _certs:
		shutil.rmtree(_certs['dir'], ignore_errors=True)


atexit.register(cleanup_certs)
