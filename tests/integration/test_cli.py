#!/usr/bin/env python3
"""Command line: --version, --help, configuration errors (FILE:LINE, exit 78). No server needed."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

EX_CONFIG = 78


class CliTest(unittest.TestCase):
	def setUp(self):
		self.tmp = tempfile.mkdtemp(prefix='mailbell-cli-')
		self.addCleanup(shutil.rmtree, self.tmp, True)
		self.env = h.sanitizer_env(dict(os.environ, HOME=self.tmp, XDG_CONFIG_HOME=os.path.join(self.tmp, 'cfg'),
						XDG_STATE_HOME=os.path.join(self.tmp, 'state'), LC_ALL='C.UTF-8'))

	def run_mb(self, *args, timeout=10):
		return subprocess.run([h.mailbell_path(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
				      stderr=subprocess.PIPE, text=True, errors='replace', timeout=timeout,
				      env=self.env)

	def write_config(self, text, mode=0o600):
		path = os.path.join(self.tmp, 'config.ini')
		fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
		with os.fdopen(fd, 'w') as f:
			f.write(text)
		return path

	def test_version(self):
		r = self.run_mb('--version')
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertRegex(r.stdout + r.stderr, r'mailbell\s+v?\d+\.\d+\.\d+')

	def test_help(self):
		r = self.run_mb('--help')
		self.assertEqual(r.returncode, 0, r.stderr)
		out = r.stdout + r.stderr
		for opt in ('-c', '-v', '--trace', '--version', '--help'):
			self.assertIn(opt, out)

	def check_config_error(self, text, lines, what):
		"""lines: the line number (or the acceptable ones) the message must name."""
		if isinstance(lines, int):
			lines = (lines,)
		path = self.write_config(text)
		r = self.run_mb('-c', path)
		self.assertEqual(r.returncode, EX_CONFIG, f'stdout: {r.stdout}\nstderr: {r.stderr}')
		where = re.escape(path) + ':(' + '|'.join(str(n) for n in lines) + '):'
		self.assertRegex(r.stderr, re.compile(where + r'.*(' + what + ')', re.I), r.stderr)

	def test_unknown_key(self):
		self.check_config_error('[general]\nnotify = no\nfrobnicate = 1\n', 3, r'frobnicate')

	def test_bad_duration(self):
		self.check_config_error('[general]\n\nkeepalive = soon\n', 3, r'keepalive|duration')

	def test_unknown_section(self):
		self.check_config_error('[general]\nnotify = no\n[mystery]\n', 3, r'mystery|section')

	def test_missing_host(self):
		self.check_config_error('[general]\nnotify = no\n\n[account work]\nuser = a\npassword = b\n', (4, 5, 6),
					r'host')

	def test_password_and_password_cmd(self):
		self.check_config_error('[account work]\nhost = localhost\nuser = a\npassword = b\n'
					'password_cmd = echo b\n', (4, 5), r'password')

	def test_missing_config_file(self):
		r = self.run_mb('-c', os.path.join(self.tmp, 'nope.ini'))
		self.assertNotEqual(r.returncode, 0)
		self.assertIn('nope.ini', r.stderr)


if __name__ == '__main__':
	h.main(needs=('mailbell',))
