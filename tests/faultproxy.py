"""A fault-injecting TCP proxy for mailbell's tests (Python stdlib only).

It sits between mailbell and a real server and forwards bytes unchanged (TLS stays end to end:
mailbell connects to the proxy's port with the server's host name and CA), and breaks the
connections on command from the test process:

	proxy = FaultProxy(('127.0.0.1', dovecot.imaps_port)).start()
	proxy.port                  # where mailbell connects
	proxy.reset_all()           # RST both ways (SO_LINGER 0)
	proxy.close_all()           # FIN both ways, a clean close
	proxy.blackhole()           # stop forwarding both ways, keep the sockets open ...
	proxy.heal()                # ... and forward what was held back, then carry on
	proxy.delay(300)            # bytes read from now on are forwarded 300 ms later (0: off)
	proxy.cut_next_response(5)  # the next server->client chunk: forward 5 bytes, then RST
	proxy.cut_next_response(-3, after_client_chunks=2)  # all but 3 bytes of the answer to
	                            # the client's second write from now (DONE, then UID FETCH)
	proxy.refuse(3.0)           # nothing listens for 3 s (connect fails with ECONNREFUSED)
	proxy.accepted              # connections accepted so far
	proxy.connections()         # the live ones, each with the same faults one by one

A black hole holds bytes (and a close) back rather than dropping them, like a network that loses
every packet for a while: TCP would retransmit them once it heals. Connections accepted while
`blackhole(new=True)` is on start black-holed; their upstream connection is still made.

One thread per connection; every method is thread-safe and returns at once (the connection
threads carry faults out within a few milliseconds). When the upstream cannot be reached, the
client connection is reset.
"""

import collections
import errno
import select
import socket
import struct
import sys
import threading
import time

_POLL = 0.02  # seconds: how often a connection thread looks at its fault flags
_CHUNK = 65536


def _rst(sock):
	"""Close with RST instead of FIN (SO_LINGER on, 0 seconds)."""
	if sock is None:
		return
	try:
		sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
	except OSError:
		pass
	try:
		sock.close()
	except OSError:
		pass


class _Direction:
	"""Bytes on their way from one socket to the other."""

	def __init__(self, name):
		self.name = name
		self.pending = collections.deque()  # (due monotonic time, bytes)
		self.eof = False                    # the source said FIN; pass it on once drained
		self.shut = False                   # FIN passed on
		self.bytes = 0                      # bytes forwarded

	def due(self, now):
		return bool(self.pending) and self.pending[0][0] <= now

	def next_due(self):
		return self.pending[0][0] if self.pending else None


class Connection:
	"""One proxied connection. Faults on it are carried out by its own thread."""

	def __init__(self, proxy, client, peer, number, blackholed):
		self.proxy = proxy
		self.client = client
		self.upstream = None
		self.peer = peer
		self.number = number
		self.accepted_at = time.monotonic()
		self.closed_at = None         # when the proxy finished with it
		self.client_gone_at = None    # when the client closed or reset its side
		self.how = None               # 'reset', 'close', 'cut', 'client', 'server', 'error'
		self._lock = threading.Lock()
		self._blackholed = blackholed
		self._action = None           # 'reset' or 'close', set by another thread
		self._cut = None              # bytes to let through of the next server chunk
		self._cut_after = 0           # client chunks to wait for before that
		self._closing_since = None
		self.up = _Direction('client->server')
		self.down = _Direction('server->client')
		self.thread = threading.Thread(target=self._run, name=f'faultproxy-{number}', daemon=True)

	def __repr__(self):
		state = 'closed' if self.closed_at else 'blackholed' if self._blackholed else 'open'
		return f'<Connection {self.number} {self.peer} {state} up={self.up.bytes} down={self.down.bytes}>'

	# --- faults (any thread) -------------------------------------------------------------

	def reset(self):
		with self._lock:
			self._action = self._action or 'reset'

	def close(self):
		with self._lock:
			self._action = self._action or 'close'

	def blackhole(self):
		with self._lock:
			self._blackholed = True

	def heal(self):
		with self._lock:
			self._blackholed = False

	def cut_next_response(self, keep, after_client_chunks=0):
		"""Forward only keep bytes of the next chunk the server sends (keep < 0: all but the
		last -keep bytes), then reset. after_client_chunks: first let the client send that many
		more chunks (e.g. 2 to reach the answer to the command after an IDLE's DONE)."""
		with self._lock:
			self._cut = int(keep)
			self._cut_after = int(after_client_chunks)

	@property
	def blackholed(self):
		return self._blackholed

	@property
	def open(self):
		return self.closed_at is None

	# --- the connection thread -----------------------------------------------------------

	def _run(self):
		try:
			self.upstream = socket.create_connection(self.proxy.target, timeout=5)
		except OSError as e:
			self.proxy._note(f'#{self.number}: upstream {self.proxy.target} unreachable ({e}): reset')
			_rst(self.client)
			self._finished('error')
			return
		for s in (self.client, self.upstream):
			s.setblocking(False)
			s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
		try:
			self._loop()
		except Exception as e:  # a bug here must not hang the test: drop the connection
			self.proxy._note(f'#{self.number}: proxy error {e!r}: reset')
			self._reset('error')

	def _finished(self, how):
		if self.closed_at is None:
			self.how = how
			self.closed_at = time.monotonic()
			if self.client_gone_at is None and how in ('client', 'error'):
				self.client_gone_at = self.closed_at

	def _reset(self, how):
		_rst(self.client)
		_rst(self.upstream)
		self._finished(how)

	def _forward(self, sock, d):
		"""Send what is due in direction d to sock; False if sock failed."""
		now = time.monotonic()
		while d.due(now):
			t, data = d.pending[0]
			try:
				n = sock.send(data)
			except (BlockingIOError, InterruptedError):
				return True
			except OSError:
				return False
			d.bytes += n
			if n < len(data):
				d.pending[0] = (t, data[n:])
				return True
			d.pending.popleft()
		if d.eof and not d.pending and not d.shut:
			d.shut = True
			try:
				sock.shutdown(socket.SHUT_WR)
			except OSError:
				pass
		return True

	def _read(self, sock, d, is_client):
		"""Read what sock has into direction d; returns 'ok', 'eof', 'error' or 'cut' (the
		chunk was shortened for cut_next_response: forward it, then reset)."""
		try:
			data = sock.recv(_CHUNK)
		except (BlockingIOError, InterruptedError):
			return 'ok'
		except OSError:
			return 'error'
		if not data:
			return 'eof'
		with self._lock:
			keep = None
			if is_client and self._cut is not None and self._cut_after > 0:
				self._cut_after -= 1
			elif not is_client and self._cut is not None and self._cut_after == 0:
				keep, self._cut = self._cut, None
		if keep is not None:
			d.pending.append((time.monotonic() + self.proxy.delay_ms / 1000.0, data[:keep]))
			return 'cut'
		d.pending.append((time.monotonic() + self.proxy.delay_ms / 1000.0, data))
		return 'ok'

	def _loop(self):
		c, u = self.client, self.upstream
		while True:
			with self._lock:
				action, blackholed = self._action, self._blackholed
			if action == 'reset':
				self._reset('reset')
				return
			if action == 'close' and self._closing_since is None:
				# FIN both ways; then read and drop until both peers close (closing
				# a socket with unread bytes would send RST instead).
				self._closing_since = time.monotonic()
				for s in (c, u):
					try:
						s.shutdown(socket.SHUT_WR)
					except OSError:
						pass
			if self._closing_since is not None:
				if self._drain_closing():
					return
				continue

			if self.proxy._stopping:
				self._reset('reset')
				return

			rlist = []
			if not self.up.eof:
				rlist.append(c)
			if not self.down.eof:
				rlist.append(u)
			wlist = []
			timeout = _POLL
			if not blackholed:
				now = time.monotonic()
				for sock, d in ((u, self.up), (c, self.down)):
					nd = d.next_due()
					if nd is not None:
						if nd <= now:
							wlist.append(sock)
						else:
							timeout = min(timeout, nd - now)
			if not rlist and not wlist:
				if self.up.shut and self.down.shut:
					for s in (c, u):
						s.close()
					self._finished('client' if self.client_gone_at else 'server')
					return
				time.sleep(timeout)
				continue
			try:
				r, w, _ = select.select(rlist, wlist, [], max(timeout, 0))
			except (OSError, ValueError):
				self._reset('error')
				return
			if c in r:
				res = self._read(c, self.up, True)
				if res != 'ok':
					self.client_gone_at = self.client_gone_at or time.monotonic()
				if res == 'error':
					# the client reset: pass the reset on (after a black hole heals)
					if not self._wait_heal():
						return
					self._reset('client')
					return
				if res == 'eof':
					self.up.eof = True
			if u in r:
				res = self._read(u, self.down, False)
				if res == 'cut':
					self._flush_then_reset(c, self.down)
					return
				if res == 'error':
					if not self._wait_heal():
						return
					self._flush_then_reset(c, self.down, how='server')
					return
				if res == 'eof':
					self.down.eof = True
			if not blackholed:
				if not self._forward(u, self.up) or not self._forward(c, self.down):
					self._reset('error')
					return

	def _wait_heal(self):
		"""Hold a reset back while black-holed. False when the proxy or a fault ended it."""
		while True:
			with self._lock:
				blackholed, action = self._blackholed, self._action
			if not blackholed:
				return True
			if action or self.proxy._stopping:
				self._reset(action or 'reset')
				return False
			time.sleep(_POLL)

	def _flush_then_reset(self, sock, d, how='cut'):
		"""Send what is pending in d (honouring the delay), then RST both ways."""
		deadline = time.monotonic() + 5 + self.proxy.delay_ms / 1000.0
		sock.setblocking(True)
		while d.pending and time.monotonic() < deadline:
			t, data = d.pending.popleft()
			wait = t - time.monotonic()
			if wait > 0:
				time.sleep(wait)
			try:
				sock.sendall(data)
				d.bytes += len(data)
			except OSError:
				break
		# let the kernel put the bytes on the wire before the RST discards them
		time.sleep(0.05)
		self._reset(how)

	def _drain_closing(self):
		"""While closing cleanly: drop input until both sides closed (or 3 s). True when done."""
		socks = []
		for s in (self.client, self.upstream):
			if s.fileno() >= 0:
				socks.append(s)
		if time.monotonic() - self._closing_since > 3 or not socks:
			for s in (self.client, self.upstream):
				_rst(s)
			self._finished('close')
			return True
		r, _, _ = select.select(socks, [], [], _POLL)
		for s in r:
			try:
				data = s.recv(_CHUNK)
			except (BlockingIOError, InterruptedError):
				continue
			except OSError:
				data = b''
			if not data:
				if s is self.client:
					self.client_gone_at = self.client_gone_at or time.monotonic()
				s.close()
		if all(s.fileno() < 0 for s in (self.client, self.upstream)):
			self._finished('close')
			return True
		return False


class FaultProxy:
	"""Listens on listen=(host, port) (port 0: any free one; .port tells) and forwards every
	connection to target=(host, port)."""

	def __init__(self, target, listen=('127.0.0.1', 0), verbose=False):
		self.target = tuple(target)
		self.host = listen[0]
		self.port = listen[1]
		self.verbose = verbose
		self.delay_ms = 0
		self.accepted = 0
		self.refused_attempts = 0
		self.events = []           # (monotonic time, text) of every fault, for test output
		self._conns = []
		self._lock = threading.Lock()
		self._listener = None
		self._new_blackholed = False
		self._refuse_until = 0.0
		self._stopping = False
		self._thread = None

	# --- life cycle ----------------------------------------------------------------------

	def start(self):
		self._listen()
		self._thread = threading.Thread(target=self._accept_loop, name='faultproxy-accept', daemon=True)
		self._thread.start()
		return self

	def stop(self):
		"""Reset every connection and stop listening."""
		self._stopping = True
		if self._thread:
			self._thread.join(5)
		with self._lock:
			conns = list(self._conns)
		for c in conns:
			c.thread.join(5)
		self._unlisten()

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		self.stop()

	def _listen(self):
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		for attempt in range(100):
			try:
				s.bind((self.host, self.port))
				break
			except OSError as e:
				# after refuse(): our own port may linger for a moment
				if e.errno != errno.EADDRINUSE or attempt == 99:
					s.close()
					raise
				time.sleep(0.05)
		s.listen(64)
		s.setblocking(False)
		self.port = s.getsockname()[1]
		self._listener = s

	def _unlisten(self):
		if self._listener is not None:
			self._listener.close()
			self._listener = None

	def _accept_loop(self):
		while not self._stopping:
			if self._listener is None:
				if time.monotonic() >= self._refuse_until:
					self._listen()
					self._note('listening again')
				else:
					time.sleep(_POLL)
				continue
			if time.monotonic() < self._refuse_until:
				self._unlisten()
				continue
			try:
				r, _, _ = select.select([self._listener], [], [], _POLL)
			except (OSError, ValueError):
				continue
			if not r:
				continue
			if time.monotonic() < self._refuse_until:
				# refuse() came while we waited in select(): the pending
				# connection must fail, not slip through (closing the
				# listener resets it)
				continue
			try:
				client, peer = self._listener.accept()
			except (BlockingIOError, InterruptedError, OSError):
				continue
			with self._lock:
				self.accepted += 1
				conn = Connection(self, client, peer, self.accepted, self._new_blackholed)
				self._conns.append(conn)
			conn.thread.start()

	def _note(self, text):
		self.events.append((time.monotonic(), text))
		if self.verbose:
			print(f'faultproxy: {text}', file=sys.stderr, flush=True)

	# --- inspection ----------------------------------------------------------------------

	def connections(self):
		"""The connections still open, oldest first."""
		with self._lock:
			self._conns = [c for c in self._conns if c.open or time.monotonic() - c.closed_at < 60]
			return [c for c in self._conns if c.open]

	def all_connections(self):
		"""Every connection accepted in the last minute (open or closed), oldest first."""
		with self._lock:
			return list(self._conns)

	# --- faults on every connection ------------------------------------------------------

	def reset_all(self):
		conns = self.connections()
		self._note(f'reset {len(conns)} connection(s)')
		for c in conns:
			c.reset()
		return conns

	def close_all(self):
		conns = self.connections()
		self._note(f'close {len(conns)} connection(s)')
		for c in conns:
			c.close()
		return conns

	def blackhole(self, new=False):
		"""Stop forwarding on every open connection (and on new ones when new is true)."""
		conns = self.connections()
		self._note(f'black-hole {len(conns)} connection(s){" and new ones" if new else ""}')
		self._new_blackholed = new
		for c in conns:
			c.blackhole()
		return conns

	def heal(self):
		conns = self.connections()
		self._note(f'heal {len(conns)} connection(s)')
		self._new_blackholed = False
		for c in conns:
			c.heal()
		return conns

	def delay(self, ms):
		"""Forward bytes read from now on ms milliseconds late (0: no delay)."""
		self._note(f'delay {ms} ms')
		self.delay_ms = max(0, int(ms))

	def cut_next_response(self, keep, after_client_chunks=0):
		"""On every open connection: forward only `keep` bytes of the next chunk the server
		sends, then reset the connection (see Connection.cut_next_response)."""
		conns = self.connections()
		self._note(f'cut the next response after {keep} bytes on {len(conns)} connection(s)')
		for c in conns:
			c.cut_next_response(keep, after_client_chunks)
		return conns

	def refuse(self, seconds):
		"""Stop listening for seconds: new connections fail with ECONNREFUSED. Open ones stay."""
		self._note(f'refuse new connections for {seconds:.1f}s')
		self._refuse_until = time.monotonic() + seconds

	def refusing(self):
		return self._listener is None or time.monotonic() < self._refuse_until


if __name__ == '__main__':
	# manual use: python3 tests/faultproxy.py LISTEN_PORT TARGET_HOST TARGET_PORT
	import argparse
	ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
	ap.add_argument('listen_port', type=int)
	ap.add_argument('target_host')
	ap.add_argument('target_port', type=int)
	args = ap.parse_args()
	p = FaultProxy((args.target_host, args.target_port), ('127.0.0.1', args.listen_port), verbose=True)
	p.start()
	print(f'forwarding 127.0.0.1:{p.port} -> {args.target_host}:{args.target_port}; '
	      'commands: reset, close, blackhole, heal, delay MS, cut K, refuse S, list, quit')
	for line in sys.stdin:
		cmd = line.split()
		if not cmd:
			continue
		if cmd[0] == 'quit':
			break
		elif cmd[0] == 'reset':
			p.reset_all()
		elif cmd[0] == 'close':
			p.close_all()
		elif cmd[0] == 'blackhole':
			p.blackhole(new=len(cmd) > 1)
		elif cmd[0] == 'heal':
			p.heal()
		elif cmd[0] == 'delay':
			p.delay(int(cmd[1]))
		elif cmd[0] == 'cut':
			p.cut_next_response(int(cmd[1]))
		elif cmd[0] == 'refuse':
			p.refuse(float(cmd[1]))
		elif cmd[0] == 'list':
			print(p.connections())
	p.stop()
