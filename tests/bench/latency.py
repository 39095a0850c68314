#!/usr/bin/env python3
"""How long mailbell itself takes to announce new mail.

A minimal scripted IMAP server (plaintext on 127.0.0.1, answering at once)
sends "* N EXISTS" during IDLE; the clock runs until the hook starts. That is
mailbell's whole share: leaving IDLE, UID FETCH, decoding, rules, spawning
/bin/sh. With --dovecot the same is measured end to end against a real
Dovecot (APPEND returned -> hook started), which adds Dovecot's own ~0.5 s
notification batching; mailbell watches INBOX and a second mailbox, mail goes
to each in turn, once with Dovecot's NOTIFY and once without it (then each
mailbox has a connection of its own).

--rtt MS puts a proxy (tests/faultproxy.py) adding MS/2 each way between
mailbell and the server. Beside mailbell's figure the bench prints the floor:
a raw IDLE client (Python socket) through the same proxy, timed from the same
event to its "* N EXISTS" (for a mailbox mailbell watches by NOTIFY, to the
"* STATUS" event of the same NOTIFY SET). "mailbell - floor" is what mailbell adds: the round
trips it needs after hearing of the mail (DONE, UID FETCH; with NOTIFY for a
mailbox not selected, EXAMINE too) and its own time. (Dovecot times NOTIFY
events per connection: there the floor and mailbell may hear of one message a
few hundred ms apart either way; the typical difference is the figure.)

Usage: tests/bench/latency.py [--count N] [--notify] [--dovecot] [--rtt MS]   (MAILBELL=path/to/mailbell)
--notify: the scripted server offers NOTIFY and pushes each message with its attributes.
Prints figures; asserts nothing about speed.
"""
import argparse
import os
import re
import shutil
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
from faultproxy import FaultProxy  # noqa: E402


class FakeServer(threading.Thread):
    """notify: offer NOTIFY (RFC 5465) and push each new message with the attributes the
    client's NOTIFY SET asked for in MessageNew, in the same write as its EXISTS (as Dovecot
    does)."""

    def __init__(self, notify=False):
        super().__init__(daemon=True)
        self.notify = notify
        self.push_request = None  # "UID FETCH n:* (...)" built from NOTIFY SET's fetch-att
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.idling = threading.Event()
        self.conn = None
        self.exists = 0
        self.sent_at = {}

    def run(self):
        try:
            self.serve()
        except OSError:
            pass  # the client (or the proxy in between) went away

    def serve(self):
        conn, _ = self.sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        f = conn.makefile('rb')
        send = lambda s: conn.sendall(s.encode() + b'\r\n')
        caps = 'IMAP4rev1 IDLE' + (' NOTIFY' if self.notify else '')
        send(f'* OK [CAPABILITY {caps} AUTH=PLAIN SASL-IR] ready')
        for raw in f:
            line = raw.decode().rstrip('\r\n')
            if line == 'DONE':
                send(f'{idle_tag} OK idle done')
                continue
            tag, _, cmd = line.partition(' ')
            verb = cmd.split(' ')[0].upper()
            if verb == 'AUTHENTICATE':
                send(f'{tag} OK [CAPABILITY {caps}] logged in')
            elif verb == 'NOTIFY':
                m = re.search(r'\(selected \(MessageNew (\(.*?\)) MessageExpunge', cmd)
                self.push_request = f'x UID FETCH 1:* {m.group(1)}' if m else None
                send(f'{tag} OK notify set')
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
                conn.sendall(self.answer(line) + b'\r\n')
                send(f'{tag} OK fetched')
            elif verb == 'LOGOUT':
                send('* BYE bye')
                send(f'{tag} OK bye')
                break
            else:
                send(f'{tag} OK')

    def answer(self, request):
        uid = self.exists
        msg = fakeimap.Msg(uid, uid, '=?UTF-8?Q?bench_=C3=A9?=', from_='Alice <alice@example.org>',
                           to='Bob <bob@example.org>', date='Sun, 29 Nov 2026 10:00:00 +0100',
                           message_id=f'<m{uid}@example.org>')
        errors = []
        data = msg.answer(request, errors)
        if errors:
            print('latency.py: ' + '; '.join(errors), file=sys.stderr)
        return data

    def new_mail(self):
        if not self.push_request:
            self.idling.clear()  # mailbell leaves IDLE to fetch; with a push it stays
        self.exists += 1
        out = f'* {self.exists} EXISTS\r\n'.encode()
        if self.push_request:
            out += self.answer(self.push_request) + b'\r\n'
        self.sent_at[self.exists] = time.time()
        self.conn.sendall(out)


class FloorClient:
    """The floor: a raw IDLE client that does nothing but wait for news of mail. Signs in
    (LOGIN), EXAMINEs mailbox and stays in IDLE; a thread stamps every "* N EXISTS" as it
    arrives. With notify_for, it EXAMINEs INBOX and asks NOTIFY (RFC 5465) for MessageNew in
    the mailbox notify_for, as mailbell does, and stamps that mailbox's "* STATUS" events."""

    def __init__(self, port, user, password, mailbox='INBOX', ssl_context=None, host='127.0.0.1',
                 notify_for=None):
        sock = socket.create_connection(('127.0.0.1', port), timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context:
            sock = ssl_context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.f = sock.makefile('rb')
        self.f.readline()  # greeting
        self.command(f'a1 LOGIN {user} "{password}"')
        self.command(f'a2 EXAMINE "{mailbox}"')
        self.notify_for = notify_for
        if notify_for:
            self.command(f'a4 NOTIFY SET (selected (MessageNew MessageExpunge)) '
                         f'(mailboxes "{notify_for}" (MessageNew MessageExpunge))')
        self.sock.sendall(b'a3 IDLE\r\n')
        while not self.f.readline().startswith(b'+'):
            pass
        self.exists = []  # (time.time(), N)
        self.cond = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def command(self, line):
        tag = line.split()[0].encode()
        self.sock.sendall(line.encode() + b'\r\n')
        while True:
            got = self.f.readline()
            if not got:
                raise RuntimeError(f'floor client: connection closed after {line!r}')
            if got.startswith(tag + b' '):
                if not got.startswith(tag + b' OK'):
                    raise RuntimeError(f'floor client: {line!r}: {got!r}')
                return

    def _run(self):
        try:
            for line in self.f:
                t = time.time()
                n = None
                if self.notify_for:
                    m = re.match(rb'\* STATUS "?([^" ]*)"? \((.*)\)', line)
                    if m and m.group(1).decode() == self.notify_for:
                        items = dict(re.findall(rb'([A-Z]+) (\d+)', m.group(2)))
                        n = max(int(items.get(b'MESSAGES', 0)), int(items.get(b'UIDNEXT', 1)) - 1)
                else:
                    m = re.match(rb'\* (\d+) EXISTS', line)
                    if m:
                        n = int(m.group(1))
                if n is not None:
                    with self.cond:
                        self.exists.append((t, n))
                        self.cond.notify_all()
        except (OSError, ValueError):
            pass

    def wait_exists(self, n, timeout=10):
        """When the first EXISTS of at least n arrived (epoch seconds), or None."""
        end = time.time() + timeout
        with self.cond:
            while True:
                for t, k in self.exists:
                    if k >= n:
                        return t
                left = end - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def proxied(port, rtt):
    """(port to connect to, proxy or None): through a proxy adding rtt/2 ms each way."""
    if rtt is None:
        return port, None
    proxy = FaultProxy(('127.0.0.1', port)).start()
    proxy.delay(rtt / 2)
    return proxy.port, proxy


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


def report_pairs(what, start, floor, total):
    """floor and total: per-event delays from start (None: lost); prints both and, event by
    event, their difference."""
    pairs = [(f, t) for f, t in zip(floor, total) if f is not None and t is not None]
    if not pairs:
        print(f'{what}: no figures')
        return
    report(f'{what}: {start} -> raw IDLE client hears of it (floor)', [f for f, _ in pairs])
    report(f'{what}: {start} -> hook running (mailbell)', [t for _, t in pairs])
    report(f'{what}: mailbell - floor', [t - f for f, t in pairs])


def spawn_floor(count=40):
    """What the hook's own clock costs: /bin/sh starting and running date, timed from this
    process as the bench's hook times itself (a part of every "hook running" figure that is
    not mailbell's)."""
    delays = []
    for _ in range(count):
        t0 = time.time()
        out = subprocess.run(['/bin/sh', '-c', 'echo "1 $(date +%s.%N)"'], capture_output=True,
                             text=True).stdout
        delays.append(float(out.split()[1]) - t0)
    report('for reference: /bin/sh -c \'... $(date)\' started from Python until date ran', delays)


def bench_fake(count, rtt=None, notify=False):
    d = tempfile.mkdtemp(prefix='mb-bench-')
    srv = FakeServer(notify)
    srv.start()
    floor_srv = FakeServer()
    floor_srv.start()
    port, proxy = proxied(srv.port, rtt)
    floor_port, floor_proxy = proxied(floor_srv.port, rtt)
    p, hook_log = run_mailbell(d, f'host = 127.0.0.1\nport = {port}\ntls = none\n'
                                  'user = u\npassword = p\n')
    floor = None
    try:
        assert srv.idling.wait(30), 'mailbell did not reach IDLE'
        floor = FloorClient(floor_port, 'u', 'p')
        delays, floors = [], []
        for i in range(count):
            srv.idling.wait(5)
            time.sleep(0.05 + (rtt or 0) / 1000)  # mailbell is back in IDLE, not on its way
            srv.new_mail()
            floor_srv.new_mail()
            uid = srv.exists
            assert wait(lambda: any(int(h['uid']) == uid for h in hooks(hook_log))), 'no hook'
            h = [h for h in hooks(hook_log) if int(h['uid']) == uid][0]
            delays.append(h['t'] - srv.sent_at[uid])
            t = floor.wait_exists(floor_srv.exists)
            floors.append(t - floor_srv.sent_at[floor_srv.exists] if t else None)
        where = 'loopback' if rtt is None else f'rtt {rtt:g} ms'
        how = 'NOTIFY, pushed with its attributes' if notify else 'IDLE only'
        report_pairs(f'scripted server, {how}, {where}', 'EXISTS sent', floors, delays)
        spawn_floor()
    finally:
        if floor:
            floor.close()
        p.terminate()
        p.wait(10)
        for x in (proxy, floor_proxy):
            if x:
                x.stop()
        shutil.rmtree(d, ignore_errors=True)


def bench_dovecot(count, rtt=None):
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
    import harness as h
    from test_faults_support import create_mailboxes, disable_notify
    os.environ['MAILBELL'] = MAILBELL
    d = tempfile.mkdtemp(prefix='mb-bench-')
    os.chmod(d, 0o755)  # Dovecot's own users read the certificates
    certs = h.make_ca(d)
    boxes = ['INBOX', 'Bench']
    for notify in (True, False):
        dv = h.Dovecot(certs, parent_dir=d)
        dv.start()
        mb = floors = proxy = None
        try:
            if not notify:
                disable_notify(dv)
            create_mailboxes(dv, 'alice', boxes)
            port, proxy = proxied(dv.imaps_port, rtt)
            mb = h.Mailbell({'bench': h.Mailbell.account(dv, 'alice', port=port,
                                                          mailboxes=', '.join(boxes))}, parent_dir=d)
            mb.start()
            for box in boxes:
                mb.wait_log(r'bench(/\S+)?: idling on ' + box, timeout=60)
            ctx = h.client_context(certs.ca_crt)
            # the floor hears of mail as mailbell does: IDLE on the mailbox, or NOTIFY
            floors = {box: FloorClient(port, 'alice', dv.users['alice'], 'INBOX' if notify else box,
                                       ctx, 'localhost', box if notify and k else None)
                      for k, box in enumerate(boxes)}
            got = {box: ([], []) for box in boxes}
            n = 0
            for i in range(count):
                for k, box in enumerate(boxes):
                    raw, mid = h.make_message(subject=f'bench {i}')
                    h.append(dv, 'alice', dv.users['alice'], box, raw)
                    t1 = time.time()
                    n += 1
                    mb.wait_hooks(n, timeout=20)
                    rec = [r for r in mb.hook_records() if r.get('MAILBELL_MESSAGE_ID') == mid][0]
                    t = floors[box].wait_exists(i + 1)
                    got[box][0].append(t - t1 if t else None)
                    got[box][1].append(rec['_time'] - t1)
                    time.sleep(0.2)
            where = 'loopback' if rtt is None else f'rtt {rtt:g} ms'
            for k, box in enumerate(boxes):
                how = ('by NOTIFY' if k else 'selected, pushed with NOTIFY') if notify else \
                    'IDLE, a connection per mailbox'
                report_pairs(f'Dovecot {"with" if notify else "without"} NOTIFY, {where}, {box} '
                             f'({how})', 'APPEND returned', *got[box])
        finally:
            for f in (floors or {}).values():
                f.close()
            if mb:
                mb.stop()
            if proxy:
                proxy.stop()
            dv.stop()
    shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--count', type=int, default=50)
    ap.add_argument('--dovecot', action='store_true')
    ap.add_argument('--notify', action='store_true',
                    help='scripted server: offer NOTIFY and push new messages with their attributes')
    ap.add_argument('--rtt', type=float, metavar='MS',
                    help='round trip time the proxy adds (MS/2 each way); default: no proxy')
    a = ap.parse_args()
    if a.dovecot:
        bench_dovecot(a.count, a.rtt)
    else:
        bench_fake(a.count, a.rtt, a.notify)
