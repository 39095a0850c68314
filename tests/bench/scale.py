#!/usr/bin/env python3
"""Many accounts on one Dovecot: N accounts (each its own user) over implicit TLS.

Starts a private Dovecot configured for N users (its limits raised for N
connections; what was changed is printed), starts mailbell with one account
per user and prints:

- the time from mailbell's start until every account logged "idling on INBOX";
- mailbell's own CPU time to get there (utime + stime of /proc/PID/stat, all
  its threads, and the exact on-CPU time of /proc/PID/task/*/schedstat);
- its resident memory once idle (VmRSS, and VmHWM, the peak);
- then M messages APPENDed back to back to random accounts (through
  connections opened beforehand, one per account chosen), and how long until
  a hook had started for every one: after the first APPEND and after the last
  one (Dovecot itself announces new mail about 0.5 s after it arrives), with
  the count of messages never reported and reported more than once.

A tiny shell hook appends "time account uid" to a file for each message, as
burst.py's does. --wrap runs mailbell under a command (e.g. "perf record -g
-o FILE --"); the figures are then the wrapped mailbell's own.

With more than 128 sessions of one Unix user Dovecot runs out of inotify
instances and falls back to polling every 30 s (cases/servers.md, S4): run as
root, the bench raises fs.inotify.max_user_instances (and max_user_watches)
for its run and puts them back afterwards.

Dovecot's mail lives in /dev/shm (unless --server-on-disk): creating a
thousand users' Maildirs and indexes is the server's cost, and on some
file systems (ext4 without a journal, after many recent deletions) it is
slow enough to make both share a busy machine. mailbell's state directory
stays on disk, where a user's would be (--state-parent picks the file
system: on ext4 without a journal, creating files shortly after many were
deleted, as the previous run did, is slow, and the figures vary with it).

MAILBELL_KEEP_TMP=1 keeps the temporary directory (mailbell's and Dovecot's logs).

Usage: tests/bench/scale.py [--accounts N] [--messages M] [--seed S] [--tls MODE]
                            [--login-processes N] [--verbose] [--state-parent DIR]
                            [--wrap CMD]
       (MAILBELL=path/to/mailbell, default build/src/mailbell)
Prints figures; asserts nothing (exits non-zero only when the setup fails).
"""
import argparse
import glob
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
os.environ.setdefault('MAILBELL', os.path.join(ROOT, 'build', 'src', 'mailbell'))
os.environ['MAILBELL'] = os.path.abspath(os.environ['MAILBELL'])  # mailbell runs in its own dir
import harness as h  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')


def user_name(i):
    return f'u{i:04d}'


def sysctl_raise(settings):
    """Raise each /proc/sys value to at least the wanted one; returns [(path, old)] to restore."""
    changed = []
    for key, want in settings:
        path = '/proc/sys/' + key.replace('.', '/')
        try:
            with open(path) as f:
                old = int(f.read().split()[0])
        except (OSError, ValueError):
            continue
        if old >= want:
            print(f'  {key} = {old} (enough)')
            continue
        try:
            with open(path, 'w') as f:
                f.write(str(want))
            changed.append((path, old))
            print(f'  {key}: {old} -> {want} (restored at exit)')
        except OSError as e:
            print(f'  {key} = {old}, wanted {want}: {e} (Dovecot may fall back to polling '
                  'every 30 s after 128 sessions)')
    return changed


def sysctl_restore(changed):
    for path, old in changed:
        try:
            with open(path, 'w') as f:
                f.write(str(old))
        except OSError:
            pass


IMAP_CLIENTS = 50  # sessions per Dovecot imap process


def dovecot_conf(n, extra_clients, login_processes=None):
    """Limits for n idle sessions plus the bench's own APPEND connections; login_processes
    (default: as many as CPUs, up to 4) fixes the number of imap-login processes."""
    total = n + extra_clients + 50
    cpus = os.cpu_count() or 2
    settings = [
        # Dovecot's default is one imap process per session: forking and setting up a
        # thousand of them costs several CPU seconds on a 2-CPU machine, which mailbell
        # then has to share. A few dozen sessions per process instead (all users have
        # one Unix uid here, so a process may serve several).
        ('service imap', 'service_count', 0),
        ('service imap', 'client_limit', IMAP_CLIENTS),
        ('service imap', 'process_limit', total // IMAP_CLIENTS + 10),
        # login processes in high-performance mode: a few processes proxy every TLS
        # connection, instead of one process per connection (capped at 100 by default).
        # Each has its own TLS session-ticket key: a ticket resumes only on the process
        # that issued it.
        ('service imap-login', 'service_count', 0),
        ('service imap-login', 'process_min_avail', login_processes or cpus),
        ('service imap-login', 'client_limit', total),
        ('service imap-login', 'process_limit', login_processes or max(4, cpus)),
        # each imap and imap-login process talks to these
        ('service anvil', 'client_limit', 2 * total + 100),
        ('service auth', 'client_limit', 2 * total + 100),
        ('service stats', 'client_limit', 2 * total + 100),
        ('service imap-hibernate', 'client_limit', total),
        ('', 'default_client_limit', total),
        ('', 'default_vsz_limit', '1G'),
        ('protocol imap', 'mail_max_userip_connections', 50),
    ]
    blocks = {}
    for section, key, value in settings:
        blocks.setdefault(section, []).append(f'{key} = {value}')
    out = []
    for section, lines in blocks.items():
        if section:
            out.append(section + ' {\n' + ''.join(f'  {l}\n' for l in lines) + '}\n')
        else:
            out += [l + '\n' for l in lines]
    return ''.join(out), settings


def write_hook(d, out):
    path = os.path.join(d, 'hook.sh')
    with open(path, 'w') as f:
        # one write per hook on an O_APPEND file: concurrent hooks don't interleave
        f.write(f'#!/bin/sh\necho "$(date +%s.%N) $MAILBELL_ACCOUNT $MAILBELL_UID" >> {out}\n')
    os.chmod(path, 0o755)
    return path


def read_hooks(path):
    try:
        with open(path) as f:
            return [(float(t), a, int(u)) for t, a, u in (l.split() for l in f if l.strip())]
    except FileNotFoundError:
        return []


def fs_type(path):
    """The file system path is on, from /proc/self/mounts (longest matching mount point)."""
    best, kind = '', '?'
    real = os.path.realpath(path)
    with open('/proc/self/mounts') as f:
        for line in f:
            dev, mnt, typ, opts = line.split()[:4]
            mnt = mnt.replace('\\040', ' ')
            if (real == mnt or real.startswith(mnt.rstrip('/') + '/')) and len(mnt) >= len(best):
                best, kind = mnt, f'{typ} ({dev} on {mnt}, {opts})'
    return kind


def find_mailbell(pid, binary):
    """pid itself, or (under --wrap) the descendant of pid running binary."""
    want = os.path.realpath(binary)
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            if os.path.realpath(f'/proc/{p}/exe') == want:
                return p
        except OSError:
            pass
        for t in glob.glob(f'/proc/{p}/task/*/children'):
            try:
                with open(t) as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return None


def cpu_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def schedstat_ns(pid):
    """On-CPU nanoseconds of the threads alive now."""
    total = 0
    for p in glob.glob(f'/proc/{pid}/task/*/schedstat'):
        try:
            with open(p) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def machine_busy():
    """Non-idle CPU seconds of the whole machine (all CPUs) so far, from /proc/stat."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK  # minus idle and iowait


def memory_kib(pid):
    out = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(('VmRSS:', 'VmHWM:', 'Threads:')):
                out[line.split(':')[0]] = int(line.split()[1])
    return out


class IdleFollower:
    """Follows mailbell's stderr file and stamps when each account first logged idling."""

    IDLE = re.compile(r'(\S+): idling on INBOX')

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.rest = b''
        self.idle = {}

    def poll(self):
        try:
            with open(self.path, 'rb') as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        if not data:
            return
        now = time.time()
        self.offset += len(data)
        data = self.rest + data
        lines = data.split(b'\n')
        self.rest = lines.pop()
        for line in lines:
            m = self.IDLE.search(line.decode('utf-8', 'replace'))
            if m and m.group(1) not in self.idle:
                self.idle[m.group(1)] = now


def open_clients(dv, users, threads=8):
    """A logged-in imaplib connection per user, opened by a few threads at once."""
    clients, errors = {}, []
    todo = list(users)
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                if not todo:
                    return
                u = todo.pop()
            try:
                c = dv.imap(u)
                with lock:
                    clients[u] = c
            except Exception as e:  # noqa: BLE001 (reported below)
                with lock:
                    errors.append(f'{u}: {e}')
    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError('APPEND connections failed: ' + '; '.join(errors[:5]))
    return clients


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--accounts', type=int, default=1000)
    ap.add_argument('--messages', type=int, default=250)
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--timeout', type=float, default=120,
                    help='seconds to wait for all accounts to idle (default 120)')
    ap.add_argument('--server-on-disk', action='store_true',
                    help='keep Dovecot\'s mail on disk with the rest, not in /dev/shm')
    ap.add_argument('--state-parent', help='make mailbell\'s directory (its state) under this '
                    'directory rather than the temporary one, e.g. on another file system')
    ap.add_argument('--tls', default='implicit', choices=('implicit', 'starttls', 'none'),
                    help='how the accounts connect (default implicit; none shows what the TLS '
                    'handshakes cost, by difference)')
    ap.add_argument('--login-processes', type=int, metavar='N',
                    help='Dovecot imap-login processes (default: one per CPU, up to 4); each has '
                    'its own TLS ticket key, so with 1 every session ticket can resume')
    ap.add_argument('--verbose', action='store_true',
                    help='run mailbell with -v (its debug log; default: the default log level)')
    ap.add_argument('--wrap', default='', help='a command to run mailbell under, e.g. '
                    '"perf record -g -o FILE --"')
    a = ap.parse_args()
    missing = h.missing_requirements(('dovecot', 'openssl', 'mailbell'))
    if missing:
        print('scale.py: skipped: missing ' + ', '.join(missing))
        return 0
    n, m = a.accounts, a.messages
    rng = random.Random(a.seed)
    targets = [user_name(rng.randrange(n)) for _ in range(m)]
    senders = sorted(set(targets))

    d = tempfile.mkdtemp(prefix='mb-scale-')
    os.chmod(d, 0o755)
    changed = []
    dv = mb = proc = shm = None
    clients = {}
    try:
        print(f'mailbell: {os.environ["MAILBELL"]}')
        print(f'{n} accounts (tls = {a.tls}), {m} messages over {len(senders)} of them; limits for this run:')
        # Dovecot's imap processes each hold an inotify instance (and a few watches)
        if h.is_root():
            changed = sysctl_raise([('fs.inotify.max_user_instances', 2 * (n + len(senders)) + 128),
                                    ('fs.inotify.max_user_watches', 16 * (n + len(senders)) + 8192)])
        else:
            print('  not root: fs.inotify limits left alone (Dovecot may poll every 30 s '
                  'after 128 sessions)')
        conf, settings = dovecot_conf(n, len(senders), a.login_processes)
        for section, key, value in settings:
            print(f'  dovecot {section + " " if section else ""}{key} = {value}')
        certs = h.make_ca(os.path.join(d, 'certs'))
        users = {user_name(i): f'pw-{i}' for i in range(n)}
        dv_parent = d
        if not a.server_on_disk and os.path.isdir('/dev/shm') and os.access('/dev/shm', os.W_OK):
            dv_parent = shm = tempfile.mkdtemp(prefix='mb-scale-dovecot-', dir='/dev/shm')
            os.chmod(shm, 0o755)
        print(f'  Dovecot\'s mail and indexes under {dv_parent}')
        dv = h.Dovecot(certs, parent_dir=dv_parent, users=users, extra_conf=conf)
        dv.start(timeout=30)
        out = os.path.join(d, 'hooks.txt')
        accounts = {u: h.Mailbell.account(dv, u, tls=a.tls) for u in users}
        mb = h.Mailbell(accounts, hook=False, parent_dir=a.state_parent or d,
                        general={'hook': write_hook(d, out)})
        print(f'  mailbell\'s state directory {mb.state_dir} on {fs_type(mb.state_dir)}')
        errf = open(os.path.join(mb.dir, 'stderr.log'), 'wb')
        follower = IdleFollower(os.path.join(mb.dir, 'stderr.log'))
        busy0 = machine_busy()
        t0 = time.time()
        # The default log level, as a user runs it: -v adds about fifteen debug lines per
        # account (a write each), which is the log's cost, not the daemon's.
        argv = mb.argv() if a.verbose else [x for x in mb.argv() if x != '-v']
        proc = subprocess.Popen(shlex.split(a.wrap) + argv, stdout=errf, stderr=subprocess.STDOUT,
                                env=mb.env, cwd=mb.dir, stdin=subprocess.DEVNULL)
        pid = None
        deadline = t0 + a.timeout
        while len(follower.idle) < n and time.time() < deadline and proc.poll() is None:
            time.sleep(0.01)
            follower.poll()
            if pid is None:
                pid = find_mailbell(proc.pid, mb.argv()[0]) if a.wrap else proc.pid
        if pid is None or proc.poll() is not None:
            print('mailbell exited early; its log:\n' + mb.log()[-4000:])
            return 1
        ticks, ns, t_all, busy = cpu_ticks(pid), schedstat_ns(pid), time.time(), machine_busy() - busy0
        if len(follower.idle) < n:
            print(f'only {len(follower.idle)} of {n} accounts idle after {a.timeout:.0f} s')
        last = max(follower.idle.values(), default=t0)
        stamps = sorted(follower.idle.values())
        half = stamps[len(stamps) // 2] - t0 if stamps else float('nan')
        print(f'all {len(follower.idle)} accounts idle {last - t0:.2f} s after start '
              f'(half of them after {half:.2f} s)')
        print(f'mailbell CPU to get there: {ticks / TICK:.2f} s (utime+stime), '
              f'{ns / 1e9:.3f} s on-CPU (threads alive), {ns / 1e6 / max(1, n):.2f} ms per account; the whole machine '
              f'{busy:.1f} s of its {os.cpu_count()} CPUs\' {(t_all - t0) * (os.cpu_count() or 1):.1f} s '
              '(Dovecot and the bench too)')
        time.sleep(1)
        mem = memory_kib(pid)
        print(f'idle: VmRSS {mem["VmRSS"] / 1024:.1f} MiB, VmHWM {mem["VmHWM"] / 1024:.1f} MiB, '
              f'{mem.get("Threads", 0)} threads; CPU while settling '
              f'{(schedstat_ns(pid) - ns) / 1e6:.0f} ms in {time.time() - t_all:.1f} s')
        log = dv.read_log()
        for pat in ('Inotify instance limit', 'process_limit', 'client_limit',
                    'Maximum number of connections'):
            k = log.count(pat)
            if k:
                print(f'  Dovecot log: {k} x "{pat}"')

        if m <= 0:
            return 0
        msgs = [h.make_message(subject=f'scale {i}')[0] for i in range(m)]
        clients = open_clients(dv, senders)
        time.sleep(0.5)
        cpu0 = schedstat_ns(pid)
        sent = []  # (user, uid)
        t_first = time.time()
        for u, raw in zip(targets, msgs):
            typ, data = clients[u].append('INBOX', None, None, raw)
            mm = re.search(rb'\[APPENDUID \d+ (\d+)\]', data[0] or b'')
            if typ != 'OK' or not mm:
                raise RuntimeError(f'APPEND to {u} failed: {typ} {data}')
            sent.append((u, int(mm.group(1))))
        t_last = time.time()
        want = set(sent)
        end = t_last + 30
        while time.time() < end:
            if want <= {(a_, u_) for _, a_, u_ in read_hooks(out)}:
                break
            time.sleep(0.05)
        time.sleep(1)  # a duplicate would show up now
        hooks = read_hooks(out)
        cpu = schedstat_ns(pid) - cpu0
        seen = [(a_, u_) for _, a_, u_ in hooks]
        missed = len(want - set(seen))
        dups = len(seen) - len(set(seen))
        extra = len(set(seen) - want)
        done = [t for t, a_, u_ in hooks if (a_, u_) in want]
        t_done = max(done) if done else float('nan')
        print(f'{m} APPENDs to {len(senders)} accounts in {t_last - t_first:.2f} s; every one '
              f'reported {t_done - t_first:.2f} s after the first APPEND, '
              f'{t_done - t_last:.2f} s after the last' + (' (not all!)' if missed else ''))
        print(f'missed {missed}, duplicates {dups}' + (f', unexpected {extra}' if extra else '')
              + f'; mailbell CPU for them {cpu / 1e6:.0f} ms')
        return 0
    finally:
        for c in clients.values():
            try:
                c.logout()
            except Exception:  # noqa: BLE001
                pass
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if dv is not None:
            dv.stop()
        sysctl_restore(changed)
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
        if os.environ.get('MAILBELL_KEEP_TMP'):
            print(f'keeping {d}')
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
