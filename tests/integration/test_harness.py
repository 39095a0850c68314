#!/usr/bin/env python3
"""Checks of the harness itself, with Python's own IMAP and TLS clients only (no mailbell):
if these fail, the other integration tests' failures say nothing about mailbell."""

import imaplib
import os
import socket
import ssl
import subprocess
import sys
import unittest
import warnings

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402


class CertificateTest(unittest.TestCase):
	@classmethod
	def setUpClass(cls):
		import tempfile
		cls.tmp = tempfile.mkdtemp(prefix='mailbell-it-')
		cls.c = h.make_ca(os.path.join(cls.tmp, 'certs'))

	@classmethod
	def tearDownClass(cls):
		import shutil
		shutil.rmtree(cls.tmp, ignore_errors=True)

	def verify(self, crt, ca, host=None):
		args = ['openssl', 'verify', '-CAfile', ca]
		if host:
			args += ['-verify_hostname', host]
		r = subprocess.run(args + [crt], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
		return r.returncode == 0, r.stdout

	def test_server_cert_chains_to_ca_for_localhost(self):
		ok, out = self.verify(self.c.server_crt, self.c.ca_crt, 'localhost')
		self.assertTrue(ok, out)
		r = subprocess.run(['openssl', 'x509', '-in', self.c.server_crt, '-noout', '-ext', 'subjectAltName'],
				   stdout=subprocess.PIPE, text=True, check=True)
		self.assertIn('DNS:localhost', r.stdout)
		self.assertIn('IP Address:127.0.0.1', r.stdout)

	def test_rogue_cert_is_not_trusted_by_test_ca(self):
		self.assertTrue(self.verify(self.c.rogue_crt, self.c.rogue_ca_crt, 'localhost')[0])
		ok, out = self.verify(self.c.rogue_crt, self.c.ca_crt, 'localhost')
		self.assertFalse(ok, out)

	def test_expired_cert_is_expired(self):
		ok, out = self.verify(self.c.expired_crt, self.c.ca_crt, 'localhost')
		self.assertFalse(ok, out)
		self.assertIn('expired', out)

	def test_wronghost_cert_is_for_another_host(self):
		self.assertTrue(self.verify(self.c.wronghost_crt, self.c.ca_crt)[0])
		ok, out = self.verify(self.c.wronghost_crt, self.c.ca_crt, 'localhost')
		self.assertFalse(ok, out)


class DovecotTest(h.DovecotTestCase):
	def test_every_user_logs_in_on_both_listeners(self):
		for user in h.USERS:
			for tls in ('implicit', 'starttls'):
				c = self.dovecot.imap(user, tls)
				typ, _ = c.select('INBOX', readonly=True)
				self.assertEqual(typ, 'OK')
				c.logout()

	def test_plaintext_login_allowed(self):
		c = imaplib.IMAP4(self.dovecot.host, self.dovecot.imap_port, timeout=10)
		self.assertNotIn('LOGINDISABLED', c.capabilities)
		c.login('bob', self.dovecot.users['bob'])
		c.logout()
		m = self.dovecot.wait_log(r'Login: user=<bob>.*', since=self.dovecot_log_start)
		self.assertNotIn('TLS', m.group(0))

	def test_wrong_password_refused(self):
		with self.assertRaises(imaplib.IMAP4.error):
			c = imaplib.IMAP4_SSL(self.dovecot.host, self.dovecot.imaps_port,
					      ssl_context=h.client_context(self.certs.ca_crt), timeout=10)
			try:
				c.login('odd', self.dovecot.users['odd'] + 'x')
			finally:
				c.shutdown()

	def test_append_returns_uid_flags_and_size(self):
		raw, mid = h.make_message(subject='=?UTF-8?B?SGVsbG8gw6l0w6k=?=')
		v1, u1 = self.append('alice', raw)
		v2, u2 = self.append('alice', raw, flags='\\Seen')
		self.assertEqual(v1, v2)
		self.assertEqual(u2, u1 + 1)
		c = self.dovecot.imap('alice')
		c.select('INBOX', readonly=True)
		typ, data = c.uid('FETCH', f'{u1}:{u2}', '(UID FLAGS RFC822.SIZE)')
		c.logout()
		text = b' '.join(d for d in data if isinstance(d, bytes)).decode()
		self.assertRegex(text, rf'UID {u1} FLAGS \((\\Recent)?\) RFC822.SIZE {len(raw)}')
		self.assertRegex(text, rf'UID {u2} FLAGS \(\\Seen( \\Recent)?\) RFC822.SIZE {len(raw)}')

	def test_idle_client_hears_of_append(self):
		c = self.dovecot.imap('bob')
		c.select('INBOX', readonly=True)
		tag = c._new_tag().decode()
		c.send(f'{tag} IDLE\r\n'.encode())
		self.assertTrue(c.readline().startswith(b'+'))
		raw, _ = h.make_message()
		self.append('bob', raw)
		c.sock.settimeout(5)
		line = c.readline()
		self.assertRegex(line, rb'^\* \d+ EXISTS')
		c.send(b'DONE\r\n')
		c.logout()

	def test_restart_keeps_ports_and_mail(self):
		raw, _ = h.make_message()
		v, u = self.append('alice', raw)
		ports = (self.dovecot.imap_port, self.dovecot.imaps_port)
		self.dovecot.stop()
		for p in ports:
			with self.assertRaises(OSError):
				socket.create_connection(('127.0.0.1', p), timeout=1).close()
		self.dovecot.start()
		self.assertEqual(ports, (self.dovecot.imap_port, self.dovecot.imaps_port))
		v2, u2 = self.append('alice', raw)
		self.assertEqual((v2, u2), (v, u + 1))

	def test_tls_1_1_refused(self):
		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
		ctx.load_verify_locations(self.certs.ca_crt)
		with warnings.catch_warnings():
			warnings.simplefilter('ignore', DeprecationWarning)
			ctx.minimum_version = ssl.TLSVersion.TLSv1
			ctx.maximum_version = ssl.TLSVersion.TLSv1_1
		with socket.create_connection(('127.0.0.1', self.dovecot.imaps_port), timeout=5) as s:
			with self.assertRaises(ssl.SSLError):
				ctx.wrap_socket(s, server_hostname='localhost')


class NotificationBusTest(unittest.TestCase):
	def test_notify_call_is_recorded(self):
		if h.missing_requirements(['dbus']):
			self.skipTest('dbus-daemon or python3-dbusmock missing')
		nb = h.NotificationBus().start()
		self.addCleanup(nb.cleanup)
		code = ('import dbus; b = dbus.SessionBus(); '
			'o = b.get_object("org.freedesktop.Notifications", "/org/freedesktop/Notifications"); '
			'o.Notify("app", 0, "icon", "Ren\\u00e9e", "a &amp; b", [], {"category": "email.arrived"}, -1, '
			'dbus_interface="org.freedesktop.Notifications")')
		subprocess.run([nb.python, '-c', code], check=True,
			       env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=nb.address))
		n = nb.wait_notifications(1)
		self.assertEqual(len(n), 1)
		self.assertEqual((n[0]['app_name'], n[0]['app_icon'], n[0]['summary'], n[0]['body']),
				 ('app', 'icon', 'Renée', 'a &amp; b'))
		self.assertEqual(n[0]['hints'], {'category': 'email.arrived'})


if __name__ == '__main__':
	h.main(needs=('dovecot', 'openssl'))
