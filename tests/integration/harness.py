"""Integration-test harness for mailbell (Python stdlib only).

Pieces, each usable on its own:

- make_ca(dir): a test CA, a server certificate for localhost, a rogue CA with its own localhost
  certificate, an expired certificate and a wrong-host certificate, all made with the openssl CLI.
- Dovecot: Debian's dovecot on free loopback ports (one implicit-TLS listener, one plain listener for
  STARTTLS and plaintext), in a temporary directory, as root (dovenull/dovecot users) or rootless.
- append(): the independent client (imaplib over TLS, trusting the generated CA).
- Mailbell: writes a config, runs the daemon with -v, captures stderr, records hook runs.
- NotificationBus: a private D-Bus session bus with python3-dbusmock's notification_daemon template.

The binary under test comes from the environment variable MAILBELL (meson sets it), else
<repo>/build/src/mailbell.
"""

import atexit
import datetime
import email.utils
import grp
import imaplib
import json
import os
import pwd
import re
import select
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOOK_SCRIPT = os.path.join(HERE, 'hook-record.py')

SKIP = 77  # meson's exit status for a skipped test

USERS = {
	'alice': 'alice-secret',
	'bob': 'b0b-secret',
	# Awkward on purpose: spaces, both quotes, backslash, braces, percent, a colon-free passwd-file line.
	'odd': 'sp ace "dq" \'sq\' back\\slash {brace} %percent',
}

# Lines that must never appear in the daemon's stderr (sanitizers, GLib criticals).
BAD_LOG = re.compile(r'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|'
		     r'CRITICAL \*\*|GLib-CRITICAL|GLib-GIO-CRITICAL')


# --------------------------------------------------------------------------------------------
# process helpers

_children = []


_SETPRIV = shutil.which('setpriv') or (os.path.exists('/usr/bin/setpriv') and '/usr/bin/setpriv')
_pdeathsig_ok = None


def _pdeathsig_prefix():
	"""['setpriv', '--pdeathsig', 'TERM', '--'] when available: the child gets SIGTERM when the
	test process dies, even by SIGKILL, so no dovecot or mailbell outlives a killed test.
	Only from the main thread: the signal fires when the *thread* that forked exits.
	(No preexec_fn: it is unsafe once the test has threads.)"""
	global _pdeathsig_ok
	if threading.current_thread() is not threading.main_thread() or not _SETPRIV:
		return []
	if _pdeathsig_ok is None:
		_pdeathsig_ok = subprocess.run([_SETPRIV, '--pdeathsig', 'TERM', '--', 'true'],
					       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
	return [_SETPRIV, '--pdeathsig', 'TERM', '--'] if _pdeathsig_ok else []


def _spawn(argv, **kw):
	kw.setdefault('stdin', subprocess.DEVNULL)
	p = subprocess.Popen(_pdeathsig_prefix() + list(argv), **kw)
	_children.append(p)
	return p


def _terminate(p, timeout=5):
	if p is None or p.poll() is not None:
		return p.returncode if p else None
	try:
		p.send_signal(signal.SIGTERM)
		return p.wait(timeout)
	except subprocess.TimeoutExpired:
		p.kill()
		return p.wait()


_dovecots = []
_own_tmpdirs = []  # made without a parent_dir: nobody else will remove them


def _mkdtemp(prefix, parent_dir):
	d = tempfile.mkdtemp(prefix=prefix, dir=parent_dir)
	if parent_dir is None:
		_own_tmpdirs.append(d)
	return d


@atexit.register
def _cleanup_children():
	for d in list(_dovecots):
		try:
			d.stop()  # the whole process group, not just the master
		except Exception:
			pass
	for p in reversed(_children):
		_terminate(p, 3)
	if not os.environ.get('MAILBELL_KEEP_TMP'):
		for d in _own_tmpdirs:
			shutil.rmtree(d, ignore_errors=True)


def _sigterm_to_exit(signum, frame):
	# meson kills a timed-out test with SIGTERM: unwind so atexit stops dovecot & co.
	raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _sigterm_to_exit)


def which(prog):
	path = os.environ.get('PATH', '') + ':/usr/sbin:/sbin:/usr/bin:/bin'
	return shutil.which(prog, path=path)


def free_port():
	with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
		s.bind(('127.0.0.1', 0))
		return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, what='condition'):
	deadline = time.monotonic() + timeout
	while True:
		v = pred()
		if v:
			return v
		if time.monotonic() >= deadline:
			raise TimeoutError(f'timed out after {timeout}s waiting for {what}')
		time.sleep(interval)


def is_root():
	return os.geteuid() == 0


def sanitizer_env(env):
	"""Full leak stacks under ASan (GLib has no frame pointers, so the fast unwinder stops
	at g_malloc); leaves other settings (meson's halt_on_error etc.) alone."""
	env = dict(env)
	opts = env.get('ASAN_OPTIONS', '')
	if 'fast_unwind_on_malloc' not in opts:
		env['ASAN_OPTIONS'] = (opts + ':' if opts else '') + 'fast_unwind_on_malloc=0'
	return env


def mailbell_path():
	# absolute: mailbell runs in a directory of its own (MAILBELL=build/src/mailbell works too)
	return os.path.abspath(os.environ.get('MAILBELL') or os.path.join(REPO, 'build', 'src', 'mailbell'))


def dbus_python():
	"""A python interpreter that can import dbus and dbusmock (Debian's), or None."""
	cands = [sys.executable, '/usr/bin/python3']
	for py in dict.fromkeys(cands):
		if py and os.path.exists(py):
			r = subprocess.run([py, '-c', 'import dbus, dbusmock'],
					   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
			if r.returncode == 0:
				return py
	return None


def missing_requirements(needs):
	"""Names of missing tools among needs ('dovecot', 'openssl', 'dbus', 'mailbell')."""
	missing = []
	for n in needs:
		if n == 'dovecot':
			if not which('dovecot') or not os.path.exists('/usr/lib/dovecot/imap'):
				missing.append('dovecot-imapd')
		elif n == 'openssl':
			if not which('openssl'):
				missing.append('openssl')
		elif n == 'dbus':
			if not which('dbus-daemon'):
				missing.append('dbus-daemon')
			if not dbus_python():
				missing.append('python3-dbusmock')
		elif n == 'mailbell':
			if not os.access(mailbell_path(), os.X_OK):
				missing.append('mailbell binary (' + mailbell_path() + ')')
	return missing


def main(needs=('dovecot', 'openssl', 'mailbell')):
	"""Entry point of every test module: skip (77) when a requirement is missing."""
	missing = missing_requirements(needs)
	if missing:
		print('SKIP: missing ' + ', '.join(missing), file=sys.stderr)
		sys.exit(SKIP)
	unittest.main(verbosity=2)


# --------------------------------------------------------------------------------------------
# certificates

class Certs:
	"""Paths of the generated PEM files (attributes set by make_ca)."""

	def __repr__(self):
		return 'Certs(' + ', '.join(f'{k}={v}' for k, v in sorted(vars(self).items())) + ')'


def _openssl(*args, cwd=None):
	r = subprocess.run(['openssl', *args], cwd=cwd, stdin=subprocess.DEVNULL,
			   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	if r.returncode != 0:
		raise RuntimeError('openssl ' + ' '.join(args) + ' failed:\n' + r.stdout + r.stderr)
	return r.stdout


def _new_key(path):
	_openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path)
	os.chmod(path, 0o644)  # test keys; dovecot reads them after dropping privileges


def _make_root(d, name, cn):
	key = os.path.join(d, name + '.key')
	crt = os.path.join(d, name + '.crt')
	_new_key(key)
	_openssl('req', '-x509', '-new', '-key', key, '-out', crt, '-days', '3650', '-sha256',
		 '-subj', '/O=mailbell tests/CN=' + cn,
		 '-addext', 'basicConstraints=critical,CA:TRUE',
		 '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
		 '-addext', 'subjectKeyIdentifier=hash')
	return key, crt


def _ca_config(d, ca_key, ca_crt):
	"""A minimal `openssl ca` setup (needed for explicit start/end dates)."""
	db = os.path.join(d, 'ca-db')
	os.makedirs(db, exist_ok=True)
	open(os.path.join(db, 'index.txt'), 'w').close()
	with open(os.path.join(db, 'serial'), 'w') as f:
		f.write('1000\n')
	cnf = os.path.join(d, 'ca.cnf')
	with open(cnf, 'w') as f:
		f.write(f'''[ca]
default_ca = test
[test]
dir = {db}
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
certificate = {ca_crt}
private_key = {ca_key}
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
organizationName = optional
''')
	return cnf


def _make_leaf(d, name, ca_key, ca_crt, hosts, start=None, end=None, days=825):
	"""A server certificate for hosts (DNS names or IPs) signed by the given CA."""
	key = os.path.join(d, name + '.key')
	csr = os.path.join(d, name + '.csr')
	crt = os.path.join(d, name + '.crt')
	ext = os.path.join(d, name + '.ext')
	_new_key(key)
	_openssl('req', '-new', '-key', key, '-out', csr, '-subj', '/O=mailbell tests/CN=' + hosts[0])
	san = ','.join(('IP:' if re.fullmatch(r'[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:]*', h) else 'DNS:') + h
		       for h in hosts)
	with open(ext, 'w') as f:
		f.write('[leaf]\nbasicConstraints = critical,CA:FALSE\n'
			'keyUsage = critical,digitalSignature,keyEncipherment\n'
			'extendedKeyUsage = serverAuth\n'
			'subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n'
			f'subjectAltName = {san}\n')
	if start or end:
		cnf = _ca_config(d, ca_key, ca_crt)
		_openssl('ca', '-batch', '-config', cnf, '-in', csr, '-out', crt, '-notext',
			 '-startdate', start, '-enddate', end, '-extfile', ext, '-extensions', 'leaf')
	else:
		_openssl('x509', '-req', '-in', csr, '-CA', ca_crt, '-CAkey', ca_key, '-CAcreateserial',
			 '-out', crt, '-days', str(days), '-sha256', '-extfile', ext, '-extensions', 'leaf')
	os.unlink(csr)
	return key, crt


def make_ca(d):
	"""Generate every certificate the tests need under directory d; returns a Certs.

	ca_crt/ca_key               the test CA (what clients trust)
	server_crt/server_key       localhost, SAN DNS:localhost,IP:127.0.0.1, signed by the test CA
	rogue_ca_crt/rogue_ca_key   an unrelated CA nobody trusts
	rogue_crt/rogue_key         localhost + 127.0.0.1, signed by the rogue CA
	expired_crt/expired_key     localhost + 127.0.0.1, signed by the test CA, expired in 2020
	wronghost_crt/wronghost_key wrong.example.org only, signed by the test CA
	"""
	os.makedirs(d, exist_ok=True)
	c = Certs()
	c.dir = d
	c.ca_key, c.ca_crt = _make_root(d, 'ca', 'mailbell test CA')
	c.server_key, c.server_crt = _make_leaf(d, 'server', c.ca_key, c.ca_crt, ['localhost', '127.0.0.1'])
	c.rogue_ca_key, c.rogue_ca_crt = _make_root(d, 'rogue-ca', 'rogue CA')
	c.rogue_key, c.rogue_crt = _make_leaf(d, 'rogue', c.rogue_ca_key, c.rogue_ca_crt,
					      ['localhost', '127.0.0.1'])
	c.expired_key, c.expired_crt = _make_leaf(d, 'expired', c.ca_key, c.ca_crt, ['localhost', '127.0.0.1'],
						  start='20200101000000Z', end='20200201000000Z')
	c.wronghost_key, c.wronghost_crt = _make_leaf(d, 'wronghost', c.ca_key, c.ca_crt, ['wrong.example.org'])
	for name in os.listdir(d):
		os.chmod(os.path.join(d, name), 0o755 if os.path.isdir(os.path.join(d, name)) else 0o644)
	os.chmod(d, 0o755)
	return c


def client_context(ca_file, verify=True):
	ctx = ssl.create_default_context(cafile=ca_file)
	ctx.minimum_version = ssl.TLSVersion.TLSv1_2
	if not verify:
		ctx.check_hostname = False
		ctx.verify_mode = ssl.CERT_NONE
	return ctx


# --------------------------------------------------------------------------------------------
# Dovecot

class Dovecot:
	"""A private Dovecot instance on 127.0.0.1.

	Attributes: dir, conf, log_path, imaps_port (implicit TLS), imap_port (plain: STARTTLS and
	plaintext), certs, host ('localhost'), users (name -> password).
	"""

	def __init__(self, certs, parent_dir=None, cert=None, key=None, users=None,
		     auth_mechanisms='plain login', client_ca=None, client_verify=True, extra_conf=''):
		self.certs = certs
		self.extra_conf = extra_conf  # appended to dovecot.conf as it is
		# what the independent client (imaplib) trusts; mailbell's trust is its own config
		self.client_ca = client_ca or certs.ca_crt
		self.client_verify = client_verify
		self.auth_mechanisms = auth_mechanisms
		self.cert = cert or certs.server_crt
		self.key = key or certs.server_key
		self.users = dict(users or USERS)
		self.dir = _mkdtemp('dovecot-', parent_dir)
		os.chmod(self.dir, 0o755)
		self.conf = os.path.join(self.dir, 'dovecot.conf')
		self.log_path = os.path.join(self.dir, 'dovecot.log')
		self.home = os.path.join(self.dir, 'home')
		self.host = 'localhost'
		self.imaps_port = free_port()
		self.imap_port = free_port()
		while self.imap_port == self.imaps_port:
			self.imap_port = free_port()
		self.proc = None
		self._write_files()

	def _write_files(self):
		d = self.dir
		if is_root():
			login_user, internal_user, internal_group = 'dovenull', 'dovecot', 'dovecot'
			mail_uid, mail_gid = 'dovecot', 'dovecot'
		else:
			me = pwd.getpwuid(os.geteuid()).pw_name
			login_user = internal_user = me
			internal_group = grp.getgrgid(os.getegid()).gr_name
			mail_uid, mail_gid = str(os.geteuid()), str(os.getegid())
		for sub in ('run', 'state'):
			os.makedirs(os.path.join(d, sub), exist_ok=True)
		os.makedirs(self.home, exist_ok=True)
		os.chmod(self.home, 0o755)
		if is_root():
			pw = pwd.getpwnam('dovecot')
			os.chown(self.home, pw.pw_uid, pw.pw_gid)
		passwd = os.path.join(d, 'passwd')
		with open(passwd, 'w') as f:
			for u, p in self.users.items():
				assert ':' not in p and '\n' not in p, 'passwd-file cannot hold ' + repr(p)
				f.write(f'{u}:{{PLAIN}}{p}::::::\n')
		os.chmod(passwd, 0o644)
		with open(self.conf, 'w') as f:
			f.write(f'''# generated by tests/integration/harness.py
base_dir = {d}/run
state_dir = {d}/state
instance_name = mailbell-test-{os.path.basename(d)}
log_path = {self.log_path}
info_log_path = {self.log_path}
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes

default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1

ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = {self.auth_mechanisms}
auth_verbose = yes
verbose_ssl = no
log_timestamp = "%Y-%m-%d %H:%M:%S "
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{{session}}>

mail_location = maildir:~/Maildir

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={self.home}/%u
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
''')
			if not is_root():
				f.write(f'''service auth {{
  user = {internal_user}
}}
service auth-worker {{
  user = {internal_user}
}}
''')
			if self.extra_conf:
				f.write(self.extra_conf.rstrip('\n') + '\n')

	def start(self, timeout=15):
		if self.proc and self.proc.poll() is None:
			return
		dovecot = which('dovecot')
		self._logf = open(os.path.join(self.dir, 'dovecot.stderr'), 'ab')
		# own process group: stop() can kill stragglers with the master
		self.proc = _spawn([dovecot, '-F', '-c', self.conf], stdout=self._logf, stderr=self._logf,
				   cwd=self.dir, start_new_session=True)
		self._stopped = False
		if self not in _dovecots:
			_dovecots.append(self)
		try:
			wait_until(self._ready, timeout, 0.05, 'dovecot to accept connections')
		except TimeoutError:
			raise RuntimeError('dovecot did not start:\n' + self.read_log() +
					   open(os.path.join(self.dir, 'dovecot.stderr'), errors='replace').read())

	def _ready(self):
		if self.proc.poll() is not None:
			raise RuntimeError(f'dovecot exited with {self.proc.returncode}:\n' + self.read_log() +
					   open(os.path.join(self.dir, 'dovecot.stderr'), errors='replace').read())
		try:
			with socket.create_connection(('127.0.0.1', self.imap_port), timeout=2) as s:
				if not s.recv(256).startswith(b'* OK'):
					return False
			with socket.create_connection(('127.0.0.1', self.imaps_port), timeout=2):
				pass
			return True
		except OSError:
			return False

	def stop(self, timeout=15, grace=1.5):
		"""Stop dovecot and wait until its ports refuse connections.

		SIGTERM to the master, which says BYE to every client and kills them; it normally
		exits within ~1 s. One that takes longer than grace seconds (it waits 5 s for login
		processes still in their stats handshake when stopped right after starting) gets its
		process group SIGKILLed."""
		if not self.proc or self._stopped:
			return
		self._stopped = True
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(grace)
			except subprocess.TimeoutExpired:
				pass
		try:
			os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers (and the master if still there)
		except OSError:
			pass
		self.proc.wait()
		if self.proc in _children:
			_children.remove(self.proc)
		if self in _dovecots:
			_dovecots.remove(self)
		self._logf.close()

		def closed():
			for port in (self.imap_port, self.imaps_port):
				try:
					socket.create_connection(('127.0.0.1', port), timeout=1).close()
					return False
				except OSError:
					pass
			return True
		wait_until(closed, timeout, 0.05, 'dovecot ports to close')

	def restart(self):
		self.stop()
		self.start()

	def running(self):
		return self.proc is not None and self.proc.poll() is None

	def read_log(self):
		try:
			with open(self.log_path, errors='replace') as f:
				return f.read()
		except FileNotFoundError:
			return ''

	def log_size(self):
		try:
			return os.path.getsize(self.log_path)
		except FileNotFoundError:
			return 0

	def log_since(self, offset):
		return self.read_log().encode()[offset:].decode(errors='replace')

	def wait_log(self, regex, timeout=10, since=0):
		"""Wait for regex to match Dovecot's log (from byte offset since); returns the match."""
		r = re.compile(regex)

		def found():
			return r.search(self.log_since(since))
		try:
			return wait_until(found, timeout, 0.05, f'dovecot log /{regex}/')
		except TimeoutError:
			raise AssertionError(f'dovecot log has no /{regex}/ after {timeout}s:\n' +
					     self.log_since(since)) from None

	def imap(self, user, tls='implicit'):
		"""A logged-in imaplib client (tls: implicit | starttls)."""
		ctx = client_context(self.client_ca, self.client_verify)
		if tls == 'implicit':
			c = imaplib.IMAP4_SSL(self.host, self.imaps_port, ssl_context=ctx, timeout=10)
		else:
			c = imaplib.IMAP4(self.host, self.imap_port, timeout=10)
			c.starttls(ssl_context=ctx)
		c.login(user, self.users[user])
		return c

	def __enter__(self):
		self.start()
		return self

	def __exit__(self, *exc):
		self.stop()

	def cleanup(self):
		self.stop()
		shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# messages and the independent client

_seq = 0


def make_message(from_='Alice Example <alice@example.org>', subject='test message',
		 to='Test User <user@example.org>', date=None, message_id=None, body='Hello.\n',
		 extra_headers=()):
	"""Raw RFC 5322 bytes with CRLF line ends. from_/subject go out as given (encode them
	yourself for RFC 2047 tests). Returns (raw_bytes, message_id)."""
	global _seq
	_seq += 1
	if message_id is None:
		message_id = f'<it-{os.getpid()}-{_seq}-{int(time.time() * 1000)}@mailbell.test>'
	if date is None:
		date = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc).astimezone())
	lines = [f'From: {from_}', f'To: {to}', f'Subject: {subject}', f'Date: {date}',
		 f'Message-ID: {message_id}', 'MIME-Version: 1.0',
		 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit',
		 *extra_headers, '']
	raw = '\r\n'.join(lines).encode('utf-8') + b'\r\n' + body.replace('\r\n', '\n').replace(
		'\n', '\r\n').encode('utf-8')
	return raw, message_id


def append(dovecot, user, password, mailbox, raw_message_bytes, flags=None):
	"""APPEND a message with imaplib over implicit TLS (trusting the test CA).

	flags: None, a string like '\\Seen', or an iterable of flags.
	Returns (uidvalidity, uid) from the APPENDUID response code, and stamps
	dovecot.last_append_time (time.time() just before APPEND)."""
	ctx = client_context(dovecot.client_ca, dovecot.client_verify)
	if flags is not None and not isinstance(flags, str):
		flags = ' '.join(flags)
	if flags:
		flags = '(' + flags.strip('()') + ')'
	with imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=ctx, timeout=10) as c:
		c.login(user, password)
		t = time.time()
		typ, data = c.append(mailbox, flags, None, raw_message_bytes)
		if typ != 'OK':
			raise RuntimeError(f'APPEND failed: {typ} {data}')
		dovecot.last_append_time = t
		m = re.search(rb'\[APPENDUID (\d+) (\d+)\]', data[0] or b'')
		c.logout()
	if not m:
		raise RuntimeError(f'no APPENDUID in {data}')
	return int(m.group(1)), int(m.group(2))


class IdleWatcher:
	"""An independent IDLE client (imaplib, implicit TLS) that stamps when Dovecot announces new
	mail: a reference for how much of the APPEND-to-hook delay is mailbell's own.

	with IdleWatcher(dovecot, 'alice') as w: ...append...; w.wait_exists() -> epoch seconds"""

	def __init__(self, dovecot, user, mailbox='INBOX'):
		self.c = dovecot.imap(user)
		self.c.select(mailbox, readonly=True)
		self.tag = self.c._new_tag().decode()
		self.c.send(f'{self.tag} IDLE\r\n'.encode())
		if not self.c.readline().startswith(b'+'):
			raise RuntimeError('IDLE refused')
		self.exists_at = None
		self._event = threading.Event()
		self._thread = threading.Thread(target=self._run, daemon=True)
		self._thread.start()

	def _run(self):
		try:
			while True:
				line = self.c.readline()
				if not line:
					return
				if re.match(rb'\* \d+ EXISTS', line) and self.exists_at is None:
					self.exists_at = time.time()
					self._event.set()
				if line.startswith(self.tag.encode()):
					return
		except (OSError, ValueError):
			return

	def wait_exists(self, timeout=10):
		if not self._event.wait(timeout):
			raise AssertionError('the reference IDLE client heard of no new mail')
		return self.exists_at

	def close(self):
		try:
			self.c.send(b'DONE\r\n')
			self._thread.join(5)
			self.c.logout()
		except (OSError, imaplib.IMAP4.error):
			pass

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()


# --------------------------------------------------------------------------------------------
# mailbell

class Mailbell:
	"""One mailbell process with its own config, state dir and hook record file.

	accounts: {name: {key: value}} written as [account NAME] sections (values as strings);
	rules: list of (name, {key: value}); general: extra [general] keys.
	The hook (unless hook=False or general['hook'] is given) records every run in hooks.jsonl.
	"""

	def __init__(self, accounts, rules=(), general=None, hook=True, trace=False, env=None,
		     parent_dir=None, extra_args=(), config_text=None):
		self.dir = _mkdtemp('mailbell-', parent_dir)
		os.chmod(self.dir, 0o700)
		self.state_dir = os.path.join(self.dir, 'state')
		os.makedirs(self.state_dir)
		self.config = os.path.join(self.dir, 'config.ini')
		self.stderr_path = os.path.join(self.dir, 'stderr.log')
		self.hook_file = os.path.join(self.dir, 'hooks.jsonl')
		self.trace = trace
		self.extra_args = list(extra_args)
		self.proc = None
		self.returncode = None
		g = {'state_dir': self.state_dir, 'notify': 'no'}
		if hook:
			g['hook'] = self.write_hook_script(os.path.join(self.dir, 'hook'), self.hook_file)
		g.update(general or {})
		if config_text is None:
			config_text = self.render(g, accounts, rules)
		fd = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
		with os.fdopen(fd, 'w') as f:
			f.write(config_text)
		self.env = dict(os.environ)
		for k in list(self.env):
			if k.startswith('MAILBELL_') or k in ('DBUS_SESSION_BUS_ADDRESS', 'DISPLAY',
							      'WAYLAND_DISPLAY'):
				del self.env[k]
		self.env.update({
			'HOME': self.dir,
			'XDG_CONFIG_HOME': os.path.join(self.dir, 'config'),
			'XDG_STATE_HOME': os.path.join(self.dir, 'xdg-state'),
			'XDG_RUNTIME_DIR': self.dir,
			'LANG': 'C.UTF-8',
			'LC_ALL': 'C.UTF-8',
			# no session bus unless the test brings one (a NotificationBus)
			'DBUS_SESSION_BUS_ADDRESS': 'unix:path=' + os.path.join(self.dir, 'no-bus'),
		})
		self.env.update(env or {})
		self.env = sanitizer_env(self.env)

	@staticmethod
	def write_hook_script(path, out_file):
		"""A tiny executable that records each run into out_file (via hook-record.py); returns
		its path, which is the hook command (short: the config's line length is limited)."""
		with open(path, 'w') as f:
			# the shell stamps the start time: python's own start-up takes 50-200 ms
			f.write('#!/bin/sh\nt0=$(date +%s.%N)\nexec ' +
				' '.join(shlex.quote(a) for a in (sys.executable, '-I', '-S', HOOK_SCRIPT, out_file)) +
				' "$t0"\n')
		os.chmod(path, 0o755)
		return path

	@staticmethod
	def render(general, accounts, rules):
		out = ['[general]']
		out += [f'{k} = {v}' for k, v in general.items()]
		for name, keys in accounts.items():
			out += ['', f'[account {name}]']
			out += [f'{k} = {v}' for k, v in keys.items()]
		for name, keys in rules:
			out += ['', f'[rule {name}]']
			out += [f'{k} = {v}' for k, v in keys.items()]
		return '\n'.join(out) + '\n'

	@staticmethod
	def account(dovecot, user, tls='implicit', **extra):
		"""Account keys for a Dovecot user (tls: implicit | starttls | none)."""
		port = dovecot.imaps_port if tls == 'implicit' else dovecot.imap_port
		a = {'host': dovecot.host, 'port': str(port), 'tls': tls, 'user': user}
		if tls != 'none':
			a['ca_file'] = dovecot.certs.ca_crt
		if 'password_cmd' not in extra:
			a['password'] = dovecot.users[user]
		a.update({k: str(v) for k, v in extra.items()})
		return a

	def argv(self):
		a = [mailbell_path(), '-c', self.config, '-v']
		if self.trace:
			a.append('--trace')
		return a + self.extra_args

	def start(self):
		self._errf = open(self.stderr_path, 'ab')
		self.proc = _spawn(self.argv(), stdout=self._errf, stderr=subprocess.STDOUT,
				   env=self.env, cwd=self.dir)
		return self

	def pid(self):
		return self.proc.pid

	def running(self):
		return self.proc is not None and self.proc.poll() is None

	def log(self):
		try:
			with open(self.stderr_path, 'rb') as f:
				return f.read().decode('utf-8', errors='replace')
		except FileNotFoundError:
			return ''

	def wait_log(self, regex, timeout=10, count=1):
		"""Wait until regex matches count times in stderr; returns the last match.
		Fails at once (with the log) if the process exits."""
		r = re.compile(regex)
		deadline = time.monotonic() + timeout
		while True:
			text = self.log()
			found = list(r.finditer(text))
			if len(found) >= count:
				return found[count - 1]
			if self.proc.poll() is not None:
				time.sleep(0.05)
				text = self.log()
				found = list(r.finditer(text))
				if len(found) >= count:
					return found[count - 1]
				raise AssertionError(f'mailbell exited with {self.proc.returncode} before logging '
						     f'/{regex}/ x{count}; stderr:\n{text}')
			if time.monotonic() >= deadline:
				raise AssertionError(f'mailbell did not log /{regex}/ x{count} within {timeout}s '
						     f'(seen {len(found)}); stderr:\n{text}')
			time.sleep(0.02)

	def wait_idle(self, account, mailbox='INBOX', timeout=15, count=1):
		return self.wait_log(re.escape(f'{account}: idling on {mailbox}'), timeout, count)

	def hook_records(self):
		"""One dict per hook run: MAILBELL_* variables plus '_time' (epoch seconds when the hook's
		shell started), '_pid', '_ppid'."""
		try:
			with open(self.hook_file, encoding='utf-8') as f:
				return [json.loads(line) for line in f if line.strip()]
		except FileNotFoundError:
			return []

	def wait_hooks(self, n, timeout=10):
		"""Wait until at least n hook runs were recorded; returns the records."""
		try:
			wait_until(lambda: len(self.hook_records()) >= n, timeout, 0.02, f'{n} hook run(s)')
		except TimeoutError:
			raise AssertionError(f'expected {n} hook run(s) within {timeout}s, got '
					     f'{self.hook_records()}; mailbell stderr:\n{self.log()}') from None
		return self.hook_records()

	def stop(self, timeout=10, sig=signal.SIGTERM):
		"""Send sig and wait; returns the exit status (negative: killed by a signal)."""
		if self.proc is None:
			return None
		if self.proc.poll() is None:
			self.proc.send_signal(sig)
			try:
				self.proc.wait(timeout)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait()
				self.returncode = 'timeout'
				self._close()
				raise AssertionError(f'mailbell did not exit within {timeout}s of {sig!r}; '
						     f'stderr:\n{self.log()}')
		self.returncode = self.proc.returncode
		self._close()
		return self.returncode

	def _close(self):
		if self.proc in _children:
			_children.remove(self.proc)
		if not self._errf.closed:
			self._errf.close()

	def check_clean_log(self, testcase):
		m = BAD_LOG.search(self.log())
		if m:
			testcase.fail(f'mailbell stderr contains {m.group(0)!r}:\n{self.log()}')

	def cleanup(self):
		if self.proc is not None and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait()
			self._close()
		shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# D-Bus notification service

_DUMP_CALLS = r'''
import dbus, json, sys
def plain(v):
    if isinstance(v, dbus.Boolean): return bool(v)
    if isinstance(v, (dbus.Byte, int)): return int(v)
    if isinstance(v, float): return float(v)
    if isinstance(v, str): return str(v)
    if isinstance(v, bytes): return list(v)
    if isinstance(v, dict): return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)): return [plain(x) for x in v]
    return repr(v)
bus = dbus.bus.BusConnection(sys.argv[1])
if not bus.name_has_owner('org.freedesktop.Notifications'):
    print('null'); sys.exit(0)
obj = bus.get_object('org.freedesktop.Notifications', '/org/freedesktop/Notifications')
calls = obj.GetMethodCalls(sys.argv[2], dbus_interface='org.freedesktop.DBus.Mock')
print(json.dumps([[int(t), plain(a)] for t, a in calls]))
'''


class NotificationBus:
	"""A private session bus with python3-dbusmock's notification_daemon template.

	address: for DBUS_SESSION_BUS_ADDRESS; notifications(): list of dicts with app_name,
	replaces_id, app_icon, summary, body, actions, hints, expire_timeout (from GetMethodCalls,
	so strings arrive exactly as sent); log_path: dbusmock's own text log of the calls."""

	# dbusmock's defaults plus "actions", which real notification servers (dunst, GNOME,
	# KDE, mako) announce and mailbell needs for its buttons
	CAPABILITIES = ('actions body body-markup icon-static image/svg+xml private-synchronous append '
			'private-icon-only truncation')

	def __init__(self, parent_dir=None, mock=True, capabilities=CAPABILITIES):
		self.dir = _mkdtemp('dbus-', parent_dir)
		self.capabilities = capabilities
		self.log_path = os.path.join(self.dir, 'dbusmock.log')
		self.python = dbus_python()
		self.mock_wanted = mock
		self.bus = self.mock = None
		self.address = None

	def start(self, timeout=15):
		cfg = os.path.join(self.dir, 'session.conf')
		# the stock session.conf, but listening in our dir (and no service activation)
		with open(cfg, 'w') as f:
			f.write(f'''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:dir={self.dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
''')
		with open(os.path.join(self.dir, 'dbus.stderr'), 'wb') as err:
			self.bus = _spawn([which('dbus-daemon'), '--config-file=' + cfg, '--nofork',
					   '--print-address=1'], stdout=subprocess.PIPE, stderr=err)
		r, _, _ = select.select([self.bus.stdout], [], [], timeout)
		if not r:
			raise RuntimeError('dbus-daemon printed no address')
		self.address = self.bus.stdout.readline().decode().strip()
		if not self.address:
			raise RuntimeError('dbus-daemon failed: ' +
					   open(os.path.join(self.dir, 'dbus.stderr'), errors='replace').read())
		if self.mock_wanted:
			env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)
			with open(os.path.join(self.dir, 'dbusmock.out'), 'wb') as out:
				self.mock = _spawn([self.python, '-m', 'dbusmock', '--session', '--template',
						    'notification_daemon', '-l', self.log_path,
						    '-p', json.dumps({'capabilities': self.capabilities})],
						   env=env, stdout=out, stderr=subprocess.STDOUT)
			try:
				wait_until(lambda: self._calls('Notify') is not None, timeout, 0.1,
					   'dbusmock to own org.freedesktop.Notifications')
			except TimeoutError:
				raise RuntimeError('dbusmock did not start: ' + open(
					os.path.join(self.dir, 'dbusmock.out'), errors='replace').read()) from None
		return self

	def _calls(self, method):
		if self.mock is not None and self.mock.poll() is not None:
			raise RuntimeError('dbusmock exited: ' + open(
				os.path.join(self.dir, 'dbusmock.out'), errors='replace').read())
		r = subprocess.run([self.python, '-c', _DUMP_CALLS, self.address, method],
				   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=20)
		if r.returncode != 0:
			raise RuntimeError('querying dbusmock failed: ' + r.stderr)
		return json.loads(r.stdout)

	def calls(self, method):
		return self._calls(method) or []

	def emit(self, signal, signature, *args):
		"""Make the notification service emit signal (ActionInvoked "us", NotificationClosed
		"uu"), as a user clicking a button or closing the notification would."""
		code = ('import dbus, json, sys; b = dbus.bus.BusConnection(sys.argv[1]); '
			'o = b.get_object("org.freedesktop.Notifications", "/org/freedesktop/Notifications"); '
			'o.EmitSignal("org.freedesktop.Notifications", sys.argv[2], sys.argv[3], '
			'json.loads(sys.argv[4]), dbus_interface="org.freedesktop.DBus.Mock")')
		subprocess.run([self.python, '-c', code, self.address, signal, signature, json.dumps(args)],
			       check=True, timeout=20)

	def shown(self):
		"""What the notifications show in the end, as (sender, subject) pairs in delivery order:
		a notification is its last Notify call (replaces_id names the one it updates); a single
		message shows its sender as summary and subject first in the body, a grouped one
		("N new messages in ...") a line "Sender: Subject" per message, newest first."""
		final, order, next_id = {}, [], 1
		for n in self.notifications():
			nid = n['replaces_id'] or next_id
			if not n['replaces_id']:
				next_id += 1
				order.append(nid)
			final[nid] = n
		out = []
		for nid in order:
			n = final[nid]
			if re.fullmatch(r'\d+ new messages in .+', n['summary']):
				lines = [l.split(': ', 1) for l in n['body'].split('\n') if ': ' in l]
				out += [tuple(l) for l in reversed(lines)]
			else:
				out.append((n['summary'], n['body'].split('\n')[0]))
		return out

	def closed_ids(self):
		"""The ids mailbell asked the service to close (CloseNotification)."""
		return [args[0] for _, args in self.calls('CloseNotification')]

	def notifications(self):
		keys = ('app_name', 'replaces_id', 'app_icon', 'summary', 'body', 'actions', 'hints',
			'expire_timeout')
		return [dict(zip(keys, args), _time=t) for t, args in self.calls('Notify')]

	def wait_notifications(self, n, timeout=10):
		try:
			return wait_until(lambda: len(self.notifications()) >= n and self.notifications(),
					  timeout, 0.1, f'{n} notification(s)')
		except TimeoutError:
			raise AssertionError(f'expected {n} Notify call(s) within {timeout}s, got '
					     f'{self.notifications()}') from None

	def read_log(self):
		try:
			with open(self.log_path, errors='replace') as f:
				return f.read()
		except FileNotFoundError:
			return ''

	def stop(self):
		_terminate(self.mock)
		_terminate(self.bus)
		if self.bus is not None and self.bus.stdout:
			self.bus.stdout.close()
		for p in (self.mock, self.bus):
			if p in _children:
				_children.remove(p)

	def cleanup(self):
		self.stop()
		shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# unittest base class

class DovecotTestCase(unittest.TestCase):
	"""One CA + Dovecot per test class (cls.dovecot, cls.certs); helpers for a fresh mailbell per test."""

	dovecot_cert = None  # name of the Certs attribute pair to serve, e.g. 'rogue'
	dovecot_options = {}  # extra Dovecot() keyword arguments

	@classmethod
	def setUpClass(cls):
		cls.tmp = tempfile.mkdtemp(prefix='mailbell-it-')
		os.chmod(cls.tmp, 0o755)
		cls.certs = make_ca(os.path.join(cls.tmp, 'certs'))
		opts = dict(cls.dovecot_options)
		if cls.dovecot_cert:
			opts['cert'] = getattr(cls.certs, cls.dovecot_cert + '_crt')
			opts['key'] = getattr(cls.certs, cls.dovecot_cert + '_key')
			if cls.dovecot_cert == 'rogue':
				opts.setdefault('client_ca', cls.certs.rogue_ca_crt)
			else:
				opts.setdefault('client_verify', False)
		cls.dovecot = Dovecot(cls.certs, parent_dir=cls.tmp, **opts)
		try:
			cls.dovecot.start()
		except BaseException:
			shutil.rmtree(cls.tmp, ignore_errors=True)
			raise

	@classmethod
	def tearDownClass(cls):
		cls.dovecot.stop()
		if os.environ.get('MAILBELL_KEEP_TMP'):
			print(f'keeping {cls.tmp}', file=sys.stderr)
		else:
			shutil.rmtree(cls.tmp, ignore_errors=True)

	def setUp(self):
		self.dovecot_log_start = self.dovecot.log_size()
		if not self.dovecot.running():
			self.dovecot.start()

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

	def mailbell(self, accounts, **kw):
		"""Start a fresh mailbell (stopped and removed after the test)."""
		kw.setdefault('parent_dir', self.tmp)
		mb = Mailbell(accounts, **kw)
		self.addCleanup(self._finish_mailbell, mb)
		return mb.start()

	def append(self, user, raw, flags=None, mailbox='INBOX'):
		return append(self.dovecot, user, self.dovecot.users[user], mailbox, raw, flags)

	def deliver(self, user, from_name, from_address, subject, raw_from=None, raw_subject=None,
		    flags=None, date='Tue, 02 Jan 2024 03:04:05 +0100', mailbox='INBOX'):
		"""APPEND a message and return what the hook should see for it.

		raw_from/raw_subject: the header text as sent (e.g. RFC 2047 encoded); by default the
		plain values. from_name/from_address/subject: the decoded values expected back."""
		if raw_from is None:
			raw_from = f'{from_name} <{from_address}>' if from_name else f'<{from_address}>'
		raw, mid = make_message(from_=raw_from, subject=subject if raw_subject is None else raw_subject,
					date=date)
		uidvalidity, uid = self.append(user, raw, flags, mailbox)
		return {'uid': uid, 'uidvalidity': uidvalidity, 'size': len(raw), 'message_id': mid,
			'date': email.utils.parsedate_to_datetime(date), 'from_name': from_name,
			'from_address': from_address, 'subject': subject, 'mailbox': mailbox,
			'appended_at': self.dovecot.last_append_time}

	HOOK_KEYS = ('MAILBELL_ACCOUNT', 'MAILBELL_MAILBOX', 'MAILBELL_UID', 'MAILBELL_UIDVALIDITY',
		     'MAILBELL_FROM', 'MAILBELL_FROM_NAME', 'MAILBELL_FROM_ADDRESS', 'MAILBELL_SUBJECT',
		     'MAILBELL_DATE', 'MAILBELL_MESSAGE_ID', 'MAILBELL_SIZE', 'MAILBELL_RULE')

	def assertHook(self, rec, account, msg, rule=''):
		"""Check one hook record against a deliver() result, field by field, exactly."""
		ctx = f'hook record {rec}'
		for k in self.HOOK_KEYS:
			self.assertIn(k, rec, ctx)
		self.assertEqual(rec['MAILBELL_ACCOUNT'], account, ctx)
		self.assertEqual(rec['MAILBELL_MAILBOX'], msg['mailbox'], ctx)
		self.assertEqual(rec['MAILBELL_UID'], str(msg['uid']), ctx)
		self.assertEqual(rec['MAILBELL_UIDVALIDITY'], str(msg['uidvalidity']), ctx)
		self.assertEqual(rec['MAILBELL_FROM_NAME'], msg['from_name'], ctx)
		self.assertEqual(rec['MAILBELL_FROM_ADDRESS'], msg['from_address'], ctx)
		if msg['from_name']:
			self.assertEqual(rec['MAILBELL_FROM'], f"{msg['from_name']} <{msg['from_address']}>", ctx)
		else:
			self.assertIn(rec['MAILBELL_FROM'], (msg['from_address'], f"<{msg['from_address']}>"), ctx)
		self.assertEqual(rec['MAILBELL_SUBJECT'], msg['subject'], ctx)
		self.assertIn(rec['MAILBELL_MESSAGE_ID'], (msg['message_id'], msg['message_id'].strip('<>')), ctx)
		self.assertEqual(rfc3339_instant(rec['MAILBELL_DATE']), msg['date'], ctx)
		self.assertEqual(rec['MAILBELL_SIZE'], str(msg['size']), ctx)
		self.assertEqual(rec['MAILBELL_RULE'], rule, ctx)

	def assertStoppedCleanly(self, mb):
		rc = mb.stop()
		self.assertEqual(rc, 0, f'mailbell exit status {rc}; stderr:\n{mb.log()}')
		mb.check_clean_log(self)

	def assertQuiet(self, mb, n, seconds=2.0):
		"""Wait `seconds` more and check that the hook ran exactly n times in total."""
		time.sleep(seconds)
		recs = mb.hook_records()
		self.assertEqual(len(recs), n, f'expected exactly {n} hook run(s), got {len(recs)}: {recs}\n'
				 f'mailbell stderr:\n{mb.log()}')
		return recs

	def dovecot_log(self):
		return self.dovecot.log_since(self.dovecot_log_start)


def rfc3339_instant(s):
	"""Parse an RFC 3339 timestamp to an aware datetime (raises ValueError if it is not one)."""
	if not re.fullmatch(r'\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)', s):
		raise ValueError(f'not RFC 3339: {s!r}')
	return datetime.datetime.fromisoformat(s.replace('z', 'Z').replace('Z', '+00:00'))
