#!/usr/bin/env python3
"""No secret in any log (issue 3, section 4): one full run at the highest verbosity (-v --trace) with
every way mailbell signs in (PLAIN with and without SASL-IR, LOGIN as quoted string, synchronizing
literal and LITERAL+, XOAUTH2 and OAUTHBEARER with and without SASL-IR, the OAuth2 error
continuation, a rejected password, a plaintext account), secrets from the config, password_cmd and
oauth_token_cmd. Then everything mailbell wrote (its output and its state directory) is searched
for each secret, its base64 forms and the SASL payloads that carry it.

The fake servers check that each secret really was sent, so a run that never signed in can't pass."""

import base64
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import fakeimap as f  # noqa: E402
import harness as h  # noqa: E402
from fakeimap import expect, send, silent  # noqa: E402

USER = 'alice@example.org'

SECRETS = {
	'plainir': 'Pw-PlainIR-7c1e9a55d0',
	'plain': 'Pw-Plain-cmd-41b8e0f2aa',        # from password_cmd
	'sync': 'Pw-Sync-lit-ü-"q"-3f0a9d1c',     # 8-bit: a synchronizing literal
	'plus': 'Pw-Plus-lit-ß-\\-92e4b7c650',     # 8-bit: a LITERAL+ literal
	'quoted': 'Pw Quoted "x" 5d3c2b1a09',     # a quoted string
	'plaintext': 'Pw-Plaintext-0a9b8c7d6e',    # tls = none
	'rejected': 'Pw-Rejected-e6f5a4b3c2',      # NO [AUTHENTICATIONFAILED]
	'xoauth2': 'ya29.Tok-XOAUTH2-a1b2c3d4e5f6',
	'oauthbearer': 'ya29.Tok-OAUTHBEARER-0f1e2d3c4b',
	'oautherr': 'ya29.Tok-Expired-9a8b7c6d5e',
}


def b64(data):
	return base64.b64encode(data).decode()


def base64_cores(secret):
	"""The base64 text that secret produces inside ANY base64 stream: for each of the three
	alignments, the characters that depend on the secret's bytes alone."""
	out = []
	for k in range(3):
		enc = b64(b'\0' * k + secret)
		core = enc[4 if k else 0:]
		if (k + len(secret)) % 3:
			core = core[:-4]
		if len(core) >= 8:
			out.append(core)
	return out


def forms(secret, payloads=()):
	"""Every spelling of secret that must not show up."""
	raw = secret.encode()
	quoted = secret.replace('\\', '\\\\').replace('"', '\\"')
	out = {secret, quoted, b64(raw), *base64_cores(raw), *(b64(p) for p in payloads)}
	# pieces, in case something is cut short or split across lines
	out |= {secret[:10], secret[-10:]}
	return out


class SecretsTest(f.FakeServerTestCase):
	def test_no_secret_in_any_output(self):
		secret_dir = os.path.join(self.tmp, 'secrets')
		os.makedirs(secret_dir, exist_ok=True)

		def cat(name):
			path = os.path.join(secret_dir, name)
			with open(path, 'w') as fh:
				fh.write(SECRETS[name] + '\n')
			return f'cat {path}'

		mail = [(2, [f.fetch(2, 2, 'hello')])]
		plain_caps = 'IMAP4rev1 IDLE AUTH=PLAIN'
		login_caps = 'IMAP4rev1 IDLE'
		plus_caps = 'IMAP4rev1 IDLE LITERAL+'
		xo_caps = 'IMAP4rev1 SASL-IR IDLE AUTH=XOAUTH2'
		ob_caps = 'IMAP4rev1 IDLE AUTH=OAUTHBEARER'

		def after(caps):
			return [send('{auth} OK [CAPABILITY ' + caps + '] Logged in'),
				*f.open_mailbox(caps, uidnext=2), *f.new_mail(*mail[0])]
		n_sync = len(SECRETS['sync'].encode())
		n_plus = len(SECRETS['plus'].encode())
		servers = {
			'plainir': self.server([f.happy(mails=mail, uidnext=2)]),
			'plain': self.server([[f.greeting(plain_caps), expect(r'^\S+ AUTHENTICATE PLAIN$', 'auth'),
					       send('+ '), expect(r'^\S+$'), *after(plain_caps)]]),
			'sync': self.server([[f.greeting(login_caps), expect(rf'^\S+ LOGIN \S+ \{{{n_sync}\}}$', 'auth'),
					      send('+ go ahead'), expect(r''), *after(login_caps)]]),
			'plus': self.server([[f.greeting(plus_caps), expect(rf'^\S+ LOGIN \S+ \{{{n_plus}\+\}}$', 'auth'),
					      expect(r''), *after(plus_caps)]]),
			'quoted': self.server([[f.greeting(login_caps), expect(r'^\S+ LOGIN \S+ ".*"$', 'auth'),
						*after(login_caps)]]),
			'plaintext': self.server([[f.greeting(login_caps), expect(r'^\S+ LOGIN \S+ \S+$', 'auth'),
						   *after(login_caps)]], tls=None),
			'rejected': self.server([[f.greeting(), expect(r'^\S+ AUTHENTICATE PLAIN \S+$', 'auth'),
						  send('{auth} NO [AUTHENTICATIONFAILED] Authentication failed.'), silent()]]),
			'xoauth2': self.server([[f.greeting(xo_caps), expect(r'^\S+ AUTHENTICATE XOAUTH2 \S+$', 'auth'),
						 *after(xo_caps)]]),
			'oauthbearer': self.server([[f.greeting(ob_caps), expect(r'^\S+ AUTHENTICATE OAUTHBEARER$', 'auth'),
						     send('+ '), expect(r'^\S+$'), *after(ob_caps)]]),
			'oautherr': self.server([[f.greeting(xo_caps), expect(r'^\S+ AUTHENTICATE XOAUTH2 \S+$', 'auth'),
						  send('+ ' + b64(b'{"status":"401","schemes":"Bearer"}')), expect(r'^$'),
						  send('{auth} NO [AUTHENTICATIONFAILED] Invalid credentials'), silent()]]),
		}
		accounts = {
			'plainir': self.account(servers['plainir'], password=SECRETS['plainir']),
			'plain': self.account(servers['plain'], password_cmd=cat('plain')),
			'sync': self.account(servers['sync'], password=SECRETS['sync']),
			'plus': self.account(servers['plus'], password=SECRETS['plus']),
			'quoted': self.account(servers['quoted'], password=SECRETS['quoted']),
			'plaintext': self.account(servers['plaintext'], tls='none', password=SECRETS['plaintext']),
			'rejected': self.account(servers['rejected'], password=SECRETS['rejected']),
			'xoauth2': self.account(servers['xoauth2'], oauth_token_cmd=cat('xoauth2')),
			'oauthbearer': self.account(servers['oauthbearer'], oauth_token_cmd=cat('oauthbearer')),
			'oautherr': self.account(servers['oautherr'], oauth_token_cmd=cat('oautherr')),
		}
		mb = self.mailbell(accounts, trace=True)
		idling = [n for n in servers if n not in ('rejected', 'oautherr')]
		for n in idling:
			mb.wait_idle(n)
			servers[n].cue()
		mb.wait_hooks(len(idling))
		mb.wait_log(r'rejected: sign-in failed')
		mb.wait_log(r'oautherr: sign-in failed')
		self.assertStoppedCleanly(mb)

		# the trace was on, and covered the sign-ins
		log = mb.log()
		self.assertRegex(log, r'plainir C: a1 AUTHENTICATE PLAIN')
		self.assertRegex(log, r'sync C: a1 LOGIN')
		self.assertRegex(log, r'oauthbearer C: ')

		# each secret really went to its server
		port = {n: s.port for n, s in servers.items()}
		payloads = {
			'plainir': [b'\0' + USER.encode() + b'\0' + SECRETS['plainir'].encode()],
			'plain': [b'\0' + USER.encode() + b'\0' + SECRETS['plain'].encode()],
			'rejected': [b'\0' + USER.encode() + b'\0' + SECRETS['rejected'].encode()],
			'xoauth2': [f'user={USER}\x01auth=Bearer {SECRETS["xoauth2"]}\x01\x01'.encode()],
			'oautherr': [f'user={USER}\x01auth=Bearer {SECRETS["oautherr"]}\x01\x01'.encode()],
			'oauthbearer': [f'n,a={USER},\x01host=127.0.0.1\x01port={port["oauthbearer"]}\x01'
					f'auth=Bearer {SECRETS["oauthbearer"]}\x01\x01'.encode()],
		}
		for n, srv in servers.items():
			sent = srv.sent()
			if n in payloads:
				self.assertIn(b64(payloads[n][0]).encode(), sent, n)
			else:
				self.assertIn(SECRETS[n].replace('\\', '\\\\').replace('"', '\\"').encode()
					      if n == 'quoted' else SECRETS[n].encode(), sent, n)

		# and nothing mailbell wrote holds any of them
		outputs = {'output': log}
		for root, _, files in os.walk(mb.state_dir):
			for name in files:
				with open(os.path.join(root, name), 'rb') as fh:
					outputs[os.path.join(root, name)] = fh.read().decode('utf-8', 'replace')
		leaks = []
		for n, secret in SECRETS.items():
			for form in forms(secret, payloads.get(n, ())):
				for where, text in outputs.items():
					if form in text:
						line = next(l for l in text.splitlines() if form in l)
						leaks.append(f'{n}: {form!r} in {where}: {line}')
		self.assertEqual(leaks, [], '\n' + log)


if __name__ == '__main__':
	h.main(needs=('openssl', 'mailbell'))
