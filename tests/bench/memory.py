#!/usr/bin/env python3
"""Memory of an idle mailbell: resident set size with 1 and with N accounts
idling on a real Dovecot over implicit TLS, and the cost per connection.

Usage: tests/bench/memory.py [--accounts N]   (MAILBELL=path/to/mailbell)
Prints figures; asserts nothing.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
os.environ.setdefault('MAILBELL', os.path.join(ROOT, 'build', 'src', 'mailbell'))
import harness as h  # noqa: E402


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(('VmRSS:', 'VmHWM:')):
                yield line.split(':')[0], int(line.split()[1])


def measure(dv, n):
    accounts = {f'acct{i}': h.Mailbell.account(dv, 'alice') for i in range(n)}
    mb = h.Mailbell(accounts)
    mb.start()
    try:
        for name in accounts:
            mb.wait_idle(name, timeout=60)
        time.sleep(1)
        return dict(rss_kib(mb.pid()))
    finally:
        mb.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--accounts', type=int, default=20)
    a = ap.parse_args()
    d = h.tempfile.mkdtemp(prefix='mb-bench-')
    dv = h.Dovecot(h.make_ca(d))
    with open(dv.conf, 'a') as f:
        f.write('\nmail_max_userip_connections = 1000\n')
    dv.start()
    try:
        one = measure(dv, 1)
        many = measure(dv, a.accounts)
    finally:
        dv.stop()
    print(f'1 account idling: VmRSS {one["VmRSS"]} KiB (peak {one["VmHWM"]} KiB)')
    print(f'{a.accounts} accounts idling: VmRSS {many["VmRSS"]} KiB (peak {many["VmHWM"]} KiB)')
    per = (many['VmRSS'] - one['VmRSS']) / max(1, a.accounts - 1)
    print(f'per extra idle TLS connection: {per:.0f} KiB')


if __name__ == '__main__':
    main()
