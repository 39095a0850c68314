#!/usr/bin/env python3
"""What an idle mailbell costs: one account idling on a real Dovecot (implicit TLS), no mail.

Once the account is idling, for --minutes N (default 3): context switches (voluntary +
involuntary, summed over /proc/PID/task/*/status, threads that exit meanwhile included up to
their last sample), CPU time (utime + stime of /proc/PID/stat, in clock ticks, and the exact
on-CPU time of /proc/PID/task/*/schedstat), the threads, and the expected keepalive renewals.
Then, if strace is installed, as long again under `strace -f -c -p PID` for the system calls
(a separate period: tracing stops the process at every system call, which would inflate the
context switches of the first).

A private session bus (no services on it) stands in for the desktop's, so the ctl interface is
up as it is in real use; --no-bus leaves it out.

Usage: tests/bench/idle.py [--minutes N] [--keepalive SECONDS] [--no-bus]
       (MAILBELL=path/to/mailbell)
Prints figures; asserts nothing.
"""
import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
os.environ.setdefault('MAILBELL', os.path.join(ROOT, 'build', 'src', 'mailbell'))
import harness as h  # noqa: E402

TICK_MS = 1000 / os.sysconf('SC_CLK_TCK')


def task_sample(pid):
    """{tid: (name, context switches, on-CPU ns)} for the threads alive now."""
    out = {}
    for d in glob.glob(f'/proc/{pid}/task/*'):
        try:
            with open(d + '/comm') as f:
                name = f.read().strip()
            with open(d + '/status') as f:
                sw = sum(int(l.split()[1]) for l in f if 'ctxt_switches:' in l)
            with open(d + '/schedstat') as f:
                ns = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        out[int(os.path.basename(d))] = (name, sw, ns)
    return out


def cpu_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def watch(pid, seconds):
    """Samples the threads every second for seconds; returns per-thread deltas
    {tid: [name, switches, ns, alive at the end]} and the CPU ticks used."""
    first = task_sample(pid)
    last = dict(first)
    ticks0 = cpu_ticks(pid)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        last.update(task_sample(pid))
    alive = task_sample(pid)
    last.update(alive)
    ticks = cpu_ticks(pid) - ticks0
    deltas = {}
    for tid, (name, sw, ns) in last.items():
        _, sw0, ns0 = first.get(tid, (name, 0, 0))
        deltas[tid] = [name, sw - sw0, ns - ns0, tid in alive]
    return deltas, ticks


def strace_period(pid, seconds, out_path):
    p = subprocess.Popen(['strace', '-f', '-c', '-o', out_path, '-p', str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    with open(out_path) as f:
        return f.read() or f'(strace printed no summary: {err.strip()})\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--minutes', type=float, default=3)
    ap.add_argument('--keepalive', type=int, default=60, help='seconds (mailbell allows 60 to 1740)')
    ap.add_argument('--no-bus', action='store_true')
    a = ap.parse_args()
    seconds = a.minutes * 60

    d = tempfile.mkdtemp(prefix='mb-bench-')
    os.chmod(d, 0o755)  # Dovecot's unprivileged processes read below it
    dv = h.Dovecot(h.make_ca(os.path.join(d, 'certs')), parent_dir=d)
    bus = mb = None
    try:
        dv.start()
        env = {}
        if not a.no_bus:
            bus = h.NotificationBus(parent_dir=d, mock=False).start()
            env['DBUS_SESSION_BUS_ADDRESS'] = bus.address
        mb = h.Mailbell({'bench': h.Mailbell.account(dv, 'alice')}, parent_dir=d, env=env,
                        general={'keepalive': f'{a.keepalive}s'})
        mb.start()
        mb.wait_idle('bench', timeout=60)
        pid = mb.pid()
        print(f'{os.environ["MAILBELL"]}: one account idling on Dovecot, notify = no, '
              f'keepalive {a.keepalive} s, session bus {"no" if a.no_bus else "yes"}')
        deltas, ticks = watch(pid, seconds)
        switches = sum(v[1] for v in deltas.values())
        ns = sum(v[2] for v in deltas.values())
        alive = [v for v in deltas.values() if v[3]]
        print(f'over {a.minutes:g} min after reaching IDLE (expected renewals: '
              f'{int(seconds // a.keepalive)}, one per {a.keepalive} s):')
        print(f'  context switches: {switches} ({switches / a.minutes:.1f}/min)')
        print(f'  CPU: {ticks * TICK_MS:.0f} ms by utime+stime ({TICK_MS:.0f} ms ticks), '
              f'{ns / 1e6:.2f} ms on CPU by schedstat')
        print(f'  threads at the end: {len(alive)} ({", ".join(v[0] for v in alive)})')
        for tid, (name, sw, t, live) in sorted(deltas.items()):
            print(f'    {name:<16} tid {tid:<8} {sw:>5} switches {t / 1e6:8.2f} ms'
                  f'{"" if live else "  (exited during the period)"}')
        if shutil.which('strace'):
            print(f'system calls over a further {a.minutes:g} min (strace -f -c):')
            sys.stdout.write(strace_period(pid, seconds, os.path.join(d, 'strace.txt')))
        else:
            print('strace is not installed: no system call counts')
    finally:
        if mb:
            mb.stop()
        if bus:
            bus.cleanup()
        dv.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    main()
