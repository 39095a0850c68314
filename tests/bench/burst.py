#!/usr/bin/env python3
"""A burst of mail: N messages APPENDed back to back to a real Dovecot.

One imaplib connection APPENDs N messages as fast as it can while mailbell
idles on the mailbox; a tiny shell hook stamps its start time and UID. Prints
how long after the last APPEND returned the last hook started, how long after
the first APPEND returned the first hook started, and whether every UID ran
exactly once. Dovecot itself announces new mail about 0.5 s after it arrives
(its mailbox watch waits that long), so the first figure's floor is ~0.5 s.

With --trace mailbell runs with --trace and its stderr is stamped line by
line as it arrives: the bench then prints the UID FETCH round trips, whether
mailbell sat in IDLE waiting for Dovecot's next push while the burst went on,
and the hook start rate. --notify turns notifications on (a mock service on
a private D-Bus); --wrap runs mailbell under a command (strace, perf).

MAILBELL_KEEP_TMP=1 keeps the temporary directory (mailbell's logs).

Usage: tests/bench/burst.py [--count N] [--runs R] [--trace] [--notify]
       [--hook-concurrency N] [--wrap CMD]   (MAILBELL=path/to/mailbell)
Prints figures; asserts nothing about speed.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
os.environ.setdefault('MAILBELL', os.path.join(ROOT, 'build', 'src', 'mailbell'))
import harness as h  # noqa: E402


def write_hook(d, out):
    path = os.path.join(d, 'hook.sh')
    with open(path, 'w') as f:
        # one write per hook on an O_APPEND file: concurrent hooks don't interleave
        f.write(f'#!/bin/sh\necho "$(date +%s.%N) $MAILBELL_UID" >> {out}\n')
    os.chmod(path, 0o755)
    return path


def read_hooks(path):
    try:
        with open(path) as f:
            return [(float(t), int(u)) for t, u in (l.split() for l in f if l.strip())]
    except FileNotFoundError:
        return []


def cpu_seconds(pid):
    """User + system time of the process itself (all threads, not its children)."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class StampedLog(threading.Thread):
    """Reads mailbell's stderr and keeps (time.time(), line) for each line; without a stream,
    only wait() works, on the file mailbell writes."""

    def __init__(self, stream, path):
        super().__init__(daemon=True)
        self.stream = stream
        self.path = path
        self.lines = []
        self.out = open(path, 'w') if stream else None

    def run(self):
        for raw in self.stream or ():
            t = time.time()
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            self.lines.append((t, line))
            self.out.write(f'{t:.6f} {line}\n')
            self.out.flush()

    def wait(self, regex, timeout=15):
        r = re.compile(regex)
        end = time.time() + timeout
        while time.time() < end:
            if not self.stream:
                with open(self.path, errors='replace') as f:
                    self.lines = [(0, l) for l in f]
            if any(r.search(l) for _, l in self.lines):
                return True
            time.sleep(0.02)
        raise AssertionError(f'mailbell did not log /{regex}/')


def analyse(lines, t_first, t_last, hooks):
    """What the stamped --trace log says about the burst (times from the first APPEND)."""
    fetches, tags = [], {}
    for t, l in lines:
        m = re.search(r' C: (a\d+) UID FETCH (\d+):\* ', l)
        if m:
            tags[m.group(1)] = t
        m = re.search(r' S: (a\d+) OK', l)
        if m and m.group(1) in tags:
            fetches.append((tags.pop(m.group(1)), t))
    fetches = [f for f in fetches if f[0] >= t_first - 1]
    idle_sent = [t for t, l in lines if re.search(r' C: a\d+ IDLE$', l) and t >= t_first]
    done_sent = [t for t, l in lines if l.endswith(' C: DONE')]
    spans = sorted((b - a) * 1000 for a, b in fetches)
    if spans:
        print(f'  trace: {len(fetches)} UID FETCH n:* from {fetches[0][0] - t_first:+.3f} s to '
              f'{fetches[-1][0] - t_first:+.3f} s, each answered in {statistics.median(spans):.1f} ms '
              f'(median), {spans[-1]:.1f} ms (max)')
    # IDLE, then DONE: mailbell heard of more mail. At once (Dovecot's own check when IDLE
    # starts): a round trip; after a while: it waited for Dovecot's next push.
    quick, waits = 0, []
    for t in idle_sent:
        nxt = [x for x in done_sent if x > t]
        if not nxt or t > t_last + 2:
            continue
        if nxt[0] - t < 0.05:
            quick += 1
        else:
            waits.append((t, nxt[0]))
    print(f'  trace: {quick} IDLE answered by EXISTS at once; waited in IDLE for the next push: '
          + (', '.join(f'{a - t_first:+.3f} s for {(b - a) * 1000:.0f} ms' for a, b in waits) or 'never'))
    if hooks:
        ts = sorted(t for t, _ in hooks)
        span = ts[-1] - ts[0]
        print(f'  trace: hooks started from {ts[0] - t_first:+.3f} s to {ts[-1] - t_first:+.3f} s '
              f'({len(ts) / span if span > 0 else float("inf"):.0f}/s)')


def run_once(dv, count, trace, d, wrap=(), concurrency=None, bus=None):
    out = os.path.join(d, f'hooks-{time.time_ns()}.txt')
    hook = write_hook(d, out)
    general = {'hook': hook}
    if concurrency:
        general['hook_concurrency'] = str(concurrency)
    env = None
    if bus:
        general['notify'] = 'yes'
        env = {'DBUS_SESSION_BUS_ADDRESS': bus.address}
    mb = h.Mailbell({'bench': h.Mailbell.account(dv, 'alice')}, hook=False,
                    general=general, trace=trace, parent_dir=d, env=env)
    # Stamping every line costs CPU the hooks compete for: only with --trace.
    err = subprocess.PIPE if trace else open(os.path.join(mb.dir, 'stderr.log'), 'wb')
    proc = subprocess.Popen(list(wrap) + mb.argv(), stdout=err, stderr=subprocess.STDOUT,
                            env=mb.env, cwd=mb.dir, stdin=subprocess.DEVNULL)
    log = StampedLog(proc.stdout if trace else None, os.path.join(mb.dir, 'stderr.log'))
    log.start()
    try:
        log.wait(r'bench: idling on INBOX')
        time.sleep(0.3)
        msgs = [h.make_message(subject=f'burst {i}')[0] for i in range(count)]
        c = dv.imap('alice')
        cpu0 = cpu_seconds(proc.pid)
        done, uids = [], []
        for raw in msgs:
            typ, data = c.append('INBOX', None, None, raw)
            done.append(time.time())
            m = re.search(rb'\[APPENDUID \d+ (\d+)\]', data[0] or b'')
            uids.append(int(m.group(1)))
        c.logout()
        end = time.time() + 30
        while time.time() < end and len(read_hooks(out)) < count:
            time.sleep(0.1)  # the hooks stamp themselves: no need to look often
        time.sleep(0.5)  # a duplicate would show up now
        hooks = read_hooks(out)
        cpu = cpu_seconds(proc.pid) - cpu0
        ran = [u for _, u in hooks]
        once = sorted(ran) == sorted(uids)
        missing = sorted(set(uids) - set(ran))
        dup = sorted(u for u in set(ran) if ran.count(u) > 1)
        by_uid = {u: t for t, u in hooks}
        last = max((t for t, _ in hooks), default=float('nan')) - done[-1]
        first = by_uid.get(uids[0], float('nan')) - done[0]
        ts = sorted(t for t, _ in hooks)
        span = ts[-1] - ts[0] if ts else float('nan')
        res = {'appends': done[-1] - done[0], 'last': last, 'first': first, 'once': once, 'span': span}
        print(f'  {count} APPENDs in {res["appends"]:.3f} s; last APPEND done -> last hook '
              f'started {last * 1000:.0f} ms; first APPEND -> first hook {first * 1000:.0f} ms; '
              f'first hook -> last hook {span * 1000:.0f} ms; '
              f'mailbell CPU {cpu * 1000:.0f} ms; every UID exactly once: {"yes" if once else "NO"}'
              + (f' (missing {missing[:10]}, twice {dup[:10]})' if not once else ''))
        if trace:
            analyse(log.lines, done[0], done[-1], hooks)
        # leave the mailbox empty for the next run
        c = dv.imap('alice')
        c.select('INBOX')
        c.store('1:*', '+FLAGS', '\\Deleted')
        c.expunge()
        c.logout()
        return res
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.join(5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, default=200)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--trace', action='store_true')
    ap.add_argument('--hook-concurrency', type=int, help='hook_concurrency (default: mailbell\'s own)')
    ap.add_argument('--notify', action='store_true',
                    help='notifications on, to a mock notification service on a private D-Bus')
    ap.add_argument('--wrap', default='', help='a command to run mailbell under, e.g. "strace -tt -o FILE"')
    a = ap.parse_args()
    missing = h.missing_requirements(('dovecot', 'openssl', 'mailbell'))
    if missing:
        print('burst.py: skipped: missing ' + ', '.join(missing))
        return
    d = tempfile.mkdtemp(prefix='mb-burst-')
    os.chmod(d, 0o755)
    certs = h.make_ca(d)
    dv = h.Dovecot(certs, parent_dir=d)
    dv.start()
    bus = h.NotificationBus(parent_dir=d).start() if a.notify else None
    print(f'mailbell: {os.environ["MAILBELL"]}')
    try:
        results = [run_once(dv, a.count, a.trace, d, a.wrap.split(), a.hook_concurrency, bus) for _ in range(a.runs)]
    finally:
        dv.stop()
        if bus:
            bus.stop()
        if os.environ.get('MAILBELL_KEEP_TMP'):
            print(f'keeping {d} (mailbell\'s stderr.log with each run\'s config)')
        else:
            shutil.rmtree(d, ignore_errors=True)
    if len(results) > 1:
        print(f'median of {len(results)}: last APPEND -> last hook '
              f'{statistics.median(r["last"] for r in results) * 1000:.0f} ms, first APPEND -> '
              f'first hook {statistics.median(r["first"] for r in results) * 1000:.0f} ms, '
              f'first -> last hook {statistics.median(r["span"] for r in results) * 1000:.0f} ms, '
              f'exactly once in {sum(r["once"] for r in results)}/{len(results)} runs')


if __name__ == '__main__':
    main()
