#!/usr/bin/env python3
"""meson install (issue 8): every file in its place with the right content, and the shell completions
work.

Runs `meson install --destdir TMP --no-rebuild` on the build root named by MAILBELL_BUILD_ROOT (meson
sets it; else <repo>/build) and checks what lands under TMP: the program and man pages, the systemd user
unit (ExecStart in the configured bindir, ExecReload), the application and autostart desktop entries
(desktop-file-validate when installed), the example configuration and hooks (executable), the bash, zsh
and fish completions. The expected places are worked out here from the build's options and pkg-config,
not read back from meson. The bash completion is run for real (COMP_WORDS in, COMPREPLY out); zsh and
fish, when installed, are checked for syntax and run for real too (zsh through zpty, fish with
`complete -C`). No server, no D-Bus. Skips (77) without meson or a configured build root.
"""

import configparser
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness as h  # noqa: E402

CONTRIB = os.path.join(h.REPO, 'contrib')


def build_root():
	return os.environ.get('MAILBELL_BUILD_ROOT') or os.path.join(h.REPO, 'build')


def build_options(root):
	with open(os.path.join(root, 'meson-info', 'intro-buildoptions.json')) as f:
		return {o['name']: o['value'] for o in json.load(f)}


def pkg_config_var(package, var, define):
	"""pkg-config's VAR of PACKAGE with one variable redefined (('prefix', '/usr')), or None."""
	pc = h.which('pkg-config')
	if not pc:
		return None
	r = subprocess.run([pc, '--define-variable=' + '='.join(define), '--variable=' + var, package],
			   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
	value = r.stdout.strip()
	return value if r.returncode == 0 and value else None


def read(path, mode='r'):
	with open(path, mode) as f:
		return f.read()


def parse_unit(path):
	"""{section: {key: [values]}} of a systemd unit file (keys may repeat)."""
	out, section = {}, None
	for line in read(path).splitlines():
		line = line.strip()
		if not line or line[0] in '#;':
			continue
		if line.startswith('['):
			section = out.setdefault(line.strip('[]'), {})
			continue
		key, _, value = line.partition('=')
		section.setdefault(key.strip(), []).append(value.strip())
	return out


def parse_desktop(path):
	p = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=('#',))
	p.optionxform = str  # keys are case-sensitive
	p.read_string(read(path), source=path)
	return p['Desktop Entry']


class InstallTest(unittest.TestCase):
	@classmethod
	def setUpClass(cls):
		cls.root = build_root()
		cls.opts = build_options(cls.root)
		cls.tmp = tempfile.mkdtemp(prefix='mailbell-install-')
		cls.dest = os.path.join(cls.tmp, 'root')
		r = subprocess.run([shutil.which('meson'), 'install', '-C', cls.root, '--destdir', cls.dest, '--no-rebuild'],
				   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
				   timeout=120)
		cls.install_log = r.stdout
		if r.returncode != 0:
			shutil.rmtree(cls.tmp, True)
			raise AssertionError('meson install failed (%d):\n%s' % (r.returncode, r.stdout))

		o = cls.opts
		cls.prefix = o['prefix']
		cls.bindir = os.path.join(cls.prefix, o['bindir'])
		cls.datadir = os.path.join(cls.prefix, o['datadir'])
		cls.mandir = os.path.join(cls.prefix, o['mandir'])
		cls.docdir = os.path.join(cls.datadir, 'doc', 'mailbell')
		unitdir = o['systemduserunitdir']
		if unitdir == '':
			unitdir = (pkg_config_var('systemd', 'systemduserunitdir', ('prefix', cls.prefix))
				   or os.path.join(cls.prefix, 'lib', 'systemd', 'user'))
		elif unitdir != 'no':
			unitdir = os.path.join(cls.prefix, unitdir)
		cls.unitdir = None if unitdir == 'no' else unitdir
		cls.bash_dir = cls.zsh_dir = cls.fish_dir = None
		if o['bash-completions']:
			cls.bash_dir = (pkg_config_var('bash-completion', 'completionsdir', ('datadir', cls.datadir))
					or os.path.join(cls.datadir, 'bash-completion', 'completions'))
		if o['zsh-completions']:
			cls.zsh_dir = os.path.join(cls.datadir, 'zsh', 'site-functions')
		if o['fish-completions']:
			cls.fish_dir = (pkg_config_var('fish', 'completionsdir', ('datadir', cls.datadir))
					or os.path.join(cls.datadir, 'fish', 'vendor_completions.d'))

	@classmethod
	def tearDownClass(cls):
		shutil.rmtree(cls.tmp, True)

	def at(self, path):
		"""PATH (absolute, as installed) under the destdir; fails unless it is a regular file."""
		self.assertTrue(os.path.isabs(path), path)
		full = self.dest + path
		self.assertTrue(os.path.isfile(full), f'{path} not installed; meson install said:\n{self.install_log}')
		return full

	def assert_same(self, installed, source):
		self.assertEqual(read(self.at(installed), 'rb'), read(source, 'rb'), installed)

	def assert_executable(self, path):
		mode = os.stat(self.at(path)).st_mode
		self.assertEqual(mode & 0o755, 0o755, f'{path}: mode {stat.filemode(mode)}')

	# ----------------------------------------------------------------------------------------
	# the files

	def test_program(self):
		path = os.path.join(self.bindir, 'mailbell')
		self.assert_executable(path)
		r = subprocess.run([self.at(path), '--version'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
				   text=True, timeout=10)
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertRegex(r.stdout, r'^mailbell \d+\.\d+\.\d+')

	def test_man_pages(self):
		built = [p for p in ('mailbell.1', 'mailbell.ini.5') if os.path.exists(os.path.join(self.root, 'man', p))]
		if not built:
			self.skipTest('man pages not built (-Dman-pages, scdoc)')
		self.assertEqual(len(built), 2, built)
		for page in built:
			section = 'man' + page.rsplit('.', 1)[1]
			self.assert_same(os.path.join(self.mandir, section, page), os.path.join(self.root, 'man', page))

	def test_systemd_user_unit(self):
		if not self.unitdir:
			self.skipTest('-Dsystemduserunitdir=no')
		path = self.at(os.path.join(self.unitdir, 'mailbell.service'))
		text = read(path)
		self.assertNotRegex(text, r'@\w+@', 'placeholder left')
		unit = parse_unit(path)
		service = unit['Service']
		self.assertEqual(service['ExecStart'], [os.path.join(self.bindir, 'mailbell')])
		self.assertEqual(service['ExecReload'], ['/bin/kill -HUP $MAINPID'])
		self.assertEqual(service['Type'], ['simple'])
		self.assertEqual(service['Restart'], ['on-failure'])
		self.assertIn('78', service['RestartPreventExitStatus'][0].split())
		self.assertIn('64', service['RestartPreventExitStatus'][0].split())
		self.assertEqual(service['UMask'], ['0077'])
		self.assertEqual(service['NoNewPrivileges'], ['yes'])
		self.assertIn('man:mailbell(1)', unit['Unit']['Documentation'][0])
		self.assertEqual(unit['Install']['WantedBy'], ['default.target'])

	def validate_desktop(self, path):
		validate = h.which('desktop-file-validate')
		if validate:
			r = subprocess.run([validate, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
			self.assertEqual(r.returncode, 0, r.stdout)
			self.assertEqual(r.stdout.strip(), '', r.stdout)  # no hints or warnings either
		return parse_desktop(path)

	def test_application_entry(self):
		# the notifications' hint desktop-entry=mailbell names this file
		e = self.validate_desktop(self.at(os.path.join(self.datadir, 'applications', 'mailbell.desktop')))
		self.assertEqual(e['Type'], 'Application')
		self.assertEqual(e['Name'], 'mailbell')
		self.assertTrue(e.get('Comment'))
		self.assertEqual(e['Icon'], 'mail-unread')
		self.assertEqual(e['Exec'], 'mailbell')
		self.assertEqual(e['NoDisplay'], 'true')
		self.assertEqual(set(e['Categories'].split(';')) - {''}, {'Network', 'Email'})
		self.assertNotIn('X-GNOME-Autostart-enabled', e)

	def test_autostart_entry(self):
		e = self.validate_desktop(self.at(os.path.join(self.docdir, 'mailbell-autostart.desktop')))
		self.assertEqual(e['Type'], 'Application')
		self.assertEqual(e['Name'], 'mailbell')
		self.assertEqual(e['Exec'], os.path.join(self.bindir, 'mailbell'))
		self.assertEqual(e['Icon'], 'mail-unread')
		# documentation only: not activated for every user of the machine
		for d in ('etc/xdg/autostart', os.path.join(self.prefix, 'etc/xdg/autostart').lstrip('/')):
			self.assertFalse(os.path.exists(os.path.join(self.dest, d)), d)
		text = read(self.at(os.path.join(self.docdir, 'mailbell-autostart.desktop')))
		self.assertIn(os.path.join(self.docdir, 'mailbell-autostart.desktop'), text)  # the copy command
		self.assertNotRegex(text, r'@\w+@', 'placeholder left')

	def test_examples(self):
		examples = os.path.join(self.docdir, 'examples')
		self.assert_same(os.path.join(examples, 'config.example.ini'), os.path.join(CONTRIB, 'config.example.ini'))
		hooks = sorted(n for n in os.listdir(os.path.join(CONTRIB, 'hooks')) if n.endswith('.sh'))
		self.assertIn('log-mail.sh', hooks)
		for name in hooks:
			path = os.path.join(examples, 'hooks', name)
			self.assert_same(path, os.path.join(CONTRIB, 'hooks', name))
			self.assert_executable(path)
		self.assertEqual(sorted(os.listdir(self.dest + os.path.join(examples, 'hooks'))), hooks)
		bar = os.path.join(examples, 'waybar-mailbell')
		self.assert_same(bar, os.path.join(CONTRIB, 'waybar-mailbell'))
		self.assert_executable(bar)

	def test_completions_installed(self):
		pairs = [(self.bash_dir, 'mailbell', 'mailbell.bash'), (self.zsh_dir, '_mailbell', '_mailbell'),
			 (self.fish_dir, 'mailbell.fish', 'mailbell.fish')]
		if not any(d for d, _, _ in pairs):
			self.skipTest('every completion disabled')
		for d, name, source in pairs:
			if d:
				self.assert_same(os.path.join(d, name), os.path.join(CONTRIB, 'completions', source))

	# ----------------------------------------------------------------------------------------
	# the completions at work

	def completion_home(self):
		"""A HOME with a default config ([account default-one]) and, at a path with a space, the
		config named with -c ([account work] with two mailboxes and a pattern, [account home office])."""
		home = tempfile.mkdtemp(prefix='home-', dir=self.tmp)
		os.makedirs(os.path.join(home, 'cfg', 'mailbell'))
		with open(os.path.join(home, 'cfg', 'mailbell', 'config.ini'), 'w') as f:
			f.write('[account default-one]\nhost = localhost\n')
		config = os.path.join(home, 'my config.ini')
		with open(config, 'w') as f:
			f.write('[general]\nnotify = no\n\n'
				'[account work]\nhost = imap.example.org\nmailboxes = INBOX, Lists/rust ,Lists/* ; comment\n\n'
				'  [account   home office]\nhost = localhost\n\n'
				'[rule quiet]\nfrom = *@example.com\n')
		env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, 'cfg'), LC_ALL='C.UTF-8')
		env.pop('XDG_DATA_DIRS', None)
		return home, config, env

	def bash_complete(self, words, env):
		"""COMPREPLY of the installed bash completion for WORDS (the last one is being completed)."""
		script = ('source "$1" || exit 3; shift\n'
			  'complete -p mailbell | grep -q -- "-F _mailbell" || exit 4\n'
			  'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}\n'
			  '_mailbell mailbell "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" || exit 5\n'
			  'printf "%s\\0" "${COMPREPLY[@]}"\n')
		path = self.at(os.path.join(self.bash_dir, 'mailbell'))
		r = subprocess.run(['bash', '--norc', '--noprofile', '-c', script, 'bash', path, *words],
				   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
				   env=env, timeout=20)
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stderr, '', words)
		return sorted(w for w in r.stdout.split('\0') if w)

	def test_bash_completion(self):
		if not self.bash_dir:
			self.skipTest('-Dbash-completions=false')
		if not h.which('bash'):
			self.skipTest('no bash')
		home, config, env = self.completion_home()
		c = shlex.quote(config)  # typed with quotes: the completion must remove them
		cases = [
			(['mailbell', ''], ['ctl', 'fetch']),
			(['mailbell', '--c'], ['--check', '--config']),
			(['mailbell', '--v'], ['--verbose', '--version']),
			(['mailbell', 'ctl', 're'], ['reconnect', 'reload', 'resume']),
			(['mailbell', 'ctl', ''], ['pause', 'reconnect', 'reload', 'resume', 'status']),
			(['mailbell', '-c', c, 'ctl', 'reconnect', ''], ['home\\ office', 'work']),
			(['mailbell', '-c', c, 'ctl', 'reconnect', 'h'], ['home\\ office']),
			# positive control: without -c the default config's accounts
			(['mailbell', 'ctl', 'reconnect', ''], ['default-one']),
			(['mailbell', '--config', '=', c, 'fetch', ''], ['home\\ office', 'work']),
			(['mailbell', '-c', config.replace(' ', '\\ '), 'fetch', 'work', ''], ['INBOX', 'Lists/rust']),
			(['mailbell', '-c', c, 'fetch', 'home\\ office', ''], ['INBOX']),
			(['mailbell', '-c', c, 'fetch', 'work', 'INBOX', ''], []),
			(['mailbell', 'ctl', 'status', ''], ['--json']),
			(['mailbell', 'ctl', 'pause', ''], ['1h', '2h', '30m']),
			(['mailbell', 'ctl', 'resume', ''], []),
			(['mailbell', '--version', ''], []),
		]
		for words, want in cases:
			with self.subTest(words=words):
				self.assertEqual(self.bash_complete(words, env), want)
		# -c FILE completes file names
		got = self.bash_complete(['mailbell', '-c', os.path.join(home, 'my')], env)
		self.assertEqual(got, [config])

	# Drives an interactive zsh on a pseudo-terminal: each match the completion adds is printed as
	# <<MATCH>>. Every step waits for a marker, as keys typed before ZLE is reading would be taken by
	# the terminal's line discipline instead: <<READY>> from zle-line-init, <<END>> after the TAB.
	ZSH_CAPTURE = r'''
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z 'PS1= PROMPT= RPROMPT=; fpath=("$MB_ZSH_DIR" $fpath); autoload -U compinit; compinit -u -D'
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; local -a __h; builtin compadd -A __h "$@"; local m; for m in $__h; do print -r -- "<<$m>>"; done; builtin compadd "$@"; }'
zpty -w z 'mb-complete() { zle complete-word; print -r -- "<<EN""D>>"; }; zle -N mb-complete; bindkey "^I" mb-complete; zstyle ":completion:*" menu no; LISTMAX=10000'
zpty -w z 'zle-line-init() { print -r -- "<<REA""DY>>"; }; zle -N zle-line-init'
while zpty -r z line; do [[ $line == *'<<READY>>'* ]] && break; done
zpty -w -n z "$1"$'\t'
while zpty -r z line; do
	[[ $line == *'<<END>>'* ]] && break
	[[ $line == *'<<'*'>>'* ]] && print -r -- "${${line#*<<}%%>>*}"
done
zpty -d z
'''

	def test_zsh_completion(self):
		if not self.zsh_dir:
			self.skipTest('-Dzsh-completions=false')
		zsh = h.which('zsh')
		if not zsh:
			self.skipTest('no zsh')
		path = self.at(os.path.join(self.zsh_dir, '_mailbell'))
		r = subprocess.run([zsh, '-n', path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
		self.assertEqual(r.returncode, 0, r.stdout)
		self.assertTrue(read(path).startswith('#compdef mailbell\n'))
		home, config, env = self.completion_home()
		env['MB_ZSH_DIR'] = os.path.dirname(path)
		c = shlex.quote(config)
		cases = [
			('mailbell ctl re', ['reconnect', 'reload', 'resume']),
			(f'mailbell -c {c} ctl reconnect ', ['home\\ office', 'work']),
			('mailbell ctl reconnect ', ['default-one']),
			(f'mailbell -c {c} fetch work ', ['INBOX', 'Lists/rust']),
			('mailbell --c', ['--check', '--config']),
			('mailbell ctl status ', ['--json']),
		]
		for line, want in cases:
			with self.subTest(line=line):
				r = subprocess.run([zsh, '-f', '-c', self.ZSH_CAPTURE, 'zsh', line], cwd=home,
						   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
						   text=True, env=env, timeout=30)
				self.assertEqual(r.returncode, 0, r.stderr)
				self.assertEqual(sorted(r.stdout.splitlines()), want, r.stdout)

	def test_fish_completion(self):
		if not self.fish_dir:
			self.skipTest('-Dfish-completions=false')
		fish = h.which('fish')
		if not fish:
			self.skipTest('no fish')
		path = self.at(os.path.join(self.fish_dir, 'mailbell.fish'))
		r = subprocess.run([fish, '--no-execute', path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
				   text=True)
		self.assertEqual(r.returncode, 0, r.stdout)
		home, config, env = self.completion_home()
		c = shlex.quote(config)
		cases = [
			('mailbell ', ['ctl', 'fetch']),
			('mailbell ctl re', ['reconnect', 'reload', 'resume']),
			(f'mailbell -c {c} ctl reconnect ', ['home office', 'work']),
			('mailbell ctl reconnect ', ['default-one']),
			(f'mailbell --config={c} fetch ', ['home office', 'work']),
			(f'mailbell -c {c} fetch work ', ['INBOX', 'Lists/rust']),
			(f"mailbell -c {c} fetch 'home office' ", ['INBOX']),
			('mailbell ctl pause ', ['1h', '2h', '30m']),
		]
		for line, want in cases:
			with self.subTest(line=line):
				r = subprocess.run([fish, '--no-config', '-c', 'source $argv[1]; and complete -C $argv[2]',
						    path, line], cwd=home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
						   stderr=subprocess.PIPE, text=True, env=env, timeout=30)
				self.assertEqual(r.returncode, 0, r.stderr)
				got = sorted(l.split('\t')[0] for l in r.stdout.splitlines() if l)
				self.assertEqual(got, want, r.stdout + r.stderr)


def main():
	if not shutil.which('meson'):
		print('SKIP: missing meson', file=sys.stderr)
		sys.exit(h.SKIP)
	if not os.path.exists(os.path.join(build_root(), 'meson-info', 'intro-buildoptions.json')):
		print('SKIP: no configured build root at ' + build_root() + ' (set MAILBELL_BUILD_ROOT)', file=sys.stderr)
		sys.exit(h.SKIP)
	unittest.main(verbosity=2)


if __name__ == '__main__':
	main()
