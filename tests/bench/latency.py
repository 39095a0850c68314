#!/usr/bin/env python3
"""How long mailbell itself takes to announce new mail.

A minimal scripted IMAP server (plaintext on 127.0.0.1, answering at once)
sends "* N EXISTS" during IDLE; the clock runs until the hook starts. That is
mailbell's whole share: leaving IDLE, UID FETCH, decoding, rules, spawning
/bin/sh. With --dovecot the same is measured end to end against a real
Dovecot (APPEND returned -> hook started), which adds Dovecot's own ~0.5 s
notification batching.

Usage: tests/bench/latency.py [--count N] [--dovecot]   (MAILBELL=path/to/mailbell)
Prints figures; asserts nothing about speed.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAILBELL = os.environ.get('MAILBELL', os.path.join(ROOT, 'build', 'src', 'mailbell'))

sys.path.insert(0, os.path.dirname(HERE))
import fakeimap  # noqa: E402  (its Msg answers exactly the items mailbell asks for)


class FakeServer(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.idling = threading.Event()
        self.conn = None
        self.exists = 0
        self.sent_at = {}

    def run(self):
        conn, _ = self.sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        f = conn.makefile('rb')
        send = lambda s: conn.sendall(s.encode() + b'\r\n')
        send('* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN SASL-IR] ready')
        for raw in f:
            line = raw.decode().rstrip('\r\n')
            if line == 'DONE':
                send(f'{idle_tag} OK idle done')
                continue
            tag, _, cmd = line.partition(' ')
            verb = cmd.split(' ')[0].upper()
            if verb == 'AUTHENTICATE':
                send(f'{tag} OK [CAPABILITY IMAP4rev1 IDLE] logged in')
            elif verb == 'EXAMINE':
                send(f'* {self.exists} EXISTS')
                send('* OK [UIDVALIDITY 1] ok')
                send(f'* OK [UIDNEXT {self.exists + 1}] ok')
                send(f'{tag} OK [READ-ONLY] done')
            elif verb == 'IDLE':
                idle_tag = tag
                send('+ idling')
                self.idling.set()
            elif verb == 'UID':
                uid = self.exists
                msg = fakeimap.Msg(uid, uid, '=?UTF-8?Q?bench_=C3=A9?=', from_='Alice <alice@example.org>',
                                   to='Bob <bob@example.org>', date='Sun, 29 Nov 2026 10:00:00 +0100',
                                   message_id=f'<m{uid}@example.org>')
                errors = []
                conn.sendall(msg.answer(line, errors) + b'\r\n')
                if errors:
                    print('latency.py: ' + '; '.join(errors), file=sys.stderr)
                send(f'{tag} OK fetched')
            elif verb == 'LOGOUT':
                send('* BYE bye')
                send(f'{tag} OK bye')
                break
            else:
                send(f'{tag} OK')

    def new_mail(self):
        self.idling.clear()
        self.exists += 1
        self.sent_at[self.exists] = time.time()
        self.conn.sendall(f'* {self.exists} EXISTS\r\n'.encode())


def run_mailbell(d, account_lines):
    cfg = os.path.join(d, 'config.ini')
    hook_log = os.path.join(d, 'hooks.jsonl')
    with open(cfg, 'w') as f:
        f.write(f'[general]\nnotify = no\nstate_dir = {d}/state\n'
                f'hook = echo "$MAILBELL_UID $(date +%s.%N)" >> {hook_log}\n\n'
                '[account bench]\n' + account_lines)
    os.chmod(cfg, 0o600)
    err = open(os.path.join(d, 'stderr.log'), 'w')
    p = subprocess.Popen([MAILBELL, '-c', cfg], stderr=err, stdout=err)
    return p, hook_log


def hooks(path):
    try:
        with open(path) as f:
            return [dict(zip(('uid', 't'), map(float, l.split()))) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def wait(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.001)
    return False


def report(name, delays):
    delays = sorted(delays)
    p95 = delays[max(0, int(len(delays) * 0.95) - 1)]
    print(f'{name}: n={len(delays)} median {statistics.median(delays) * 1000:.1f} ms, '
          f'p95 {p95 * 1000:.1f} ms, min {delays[0] * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms')


def bench_fake(count):
    d = tempfile.mkdtemp(prefix='mb-bench-')
    srv = FakeServer()
    srv.start()
    p, hook_log = run_mailbell(d, f'host = 127.0.0.1\nport = {srv.port}\ntls = none\n'
                                  'user = u\npassword = p\n')
    try:
        assert srv.idling.wait(10), 'mailbell did not reach IDLE'
        delays = []
        for i in range(count):
            srv.idling.wait(5)
            srv.new_mail()
            uid = srv.exists
            assert wait(lambda: any(int(h['uid']) == uid for h in hooks(hook_log))), 'no hook'
            h = [h for h in hooks(hook_log) if int(h['uid']) == uid][0]
            delays.append(h['t'] - srv.sent_at[uid])
        report('EXISTS sent -> hook running (mailbell + /bin/sh + date start-up)', delays)
    finally:
        p.terminate()
        p.wait(10)


def bench_dovecot(count):
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
    import harness as h
    os.environ['MAILBELL'] = MAILBELL
    d = tempfile.mkdtemp(prefix='mb-bench-')
    certs = h.make_ca(d)
    dv = h.Dovecot(certs)
    dv.start()
    mb = h.Mailbell({'bench': h.Mailbell.account(dv, 'alice')})
    mb.start()
    try:
        mb.wait_idle('bench')
        delays = []
        for i in range(count):
            raw, mid = h.make_message(subject=f'bench {i}')
            t0 = time.time()
            h.append(dv, 'alice', 'alice-secret', 'INBOX', raw)
            t1 = time.time()
            mb.wait_hooks(i + 1, timeout=10)
            rec = [r for r in mb.hook_records() if r.get('MAILBELL_MESSAGE_ID') == mid][0]
            delays.append(rec['_time'] - t1)
            time.sleep(0.2)
        report('Dovecot APPEND returned -> hook running', delays)
    finally:
        mb.stop()
        dv.stop()


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, default=50)
    ap.add_argument('--dovecot', action='store_true')
    a = ap.parse_args()
    if a.dovecot:
        bench_dovecot(a.count)
    else:
        bench_fake(a.count)
