#!/usr/bin/env python3
"""The TLS library's floor under mailbell's CPU per connection.

Runs build/tests/bench/bench-tls (the same OpenSSL calls as mailbell's
net.c, nothing else: no event loop, no IMAP) against

- a private Dovecot configured as scale.py configures it (its login
  processes in high-performance mode, each with its own session-ticket key),
- a one-process TLS server in this script (Python's ssl module, the same
  OpenSSL; one ticket key, so every ticket it issues can resume),

with the certificates the tests use (ECDSA P-256, one CA), and prints the
client's CPU per connection for full TLS 1.3 and TLS 1.2 handshakes and for
resumed ones. scale.py --tls none against --tls implicit gives mailbell's
own share by difference; this gives the part no client code can save
without resumption.

Usage: tests/bench/tls-floor.py [--connections N]
       (BENCH_TLS=path/to/bench-tls, default build/tests/bench/bench-tls)
Prints figures; asserts nothing.
"""
import argparse
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
import scale  # noqa: E402


class GreetingServer:
    """Implicit TLS on 127.0.0.1: a greeting line, then close when the client does."""

    def __init__(self, certs):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(certs.server_crt, certs.server_key)
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as t:
                    t.sendall(b'* OK greeting\r\n')
                    try:
                        t.recv(64)
                    except (OSError, ssl.SSLError):
                        pass
            except (OSError, ssl.SSLError):
                conn.close()

    def close(self):
        self.sock.close()


def run(bench, port, ca, n, mode, version):
    r = subprocess.run([bench, 'localhost', str(port), ca, str(n), mode, version],
                       capture_output=True, text=True, timeout=600)
    out = (r.stdout + r.stderr).strip()
    print('  ' + (out if r.returncode == 0 else f'failed ({r.returncode}): {out[-500:]}'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--connections', type=int, default=500)
    a = ap.parse_args()
    bench = os.path.abspath(os.environ.get('BENCH_TLS', os.path.join(ROOT, 'build', 'tests', 'bench',
                                                                     'bench-tls')))
    if not os.access(bench, os.X_OK):
        print(f'tls-floor.py: skipped: no {bench} (build first)')
        return 0
    missing = h.missing_requirements(('dovecot', 'openssl'))
    if missing:
        print('tls-floor.py: skipped: missing ' + ', '.join(missing))
        return 0
    print(ssl.OPENSSL_VERSION + f'; {os.cpu_count()} CPUs; {a.connections} connections each, '
          'one after another')
    d = tempfile.mkdtemp(prefix='mb-tls-floor-')
    os.chmod(d, 0o755)
    dv = srv = None
    try:
        certs = h.make_ca(os.path.join(d, 'certs'))
        conf, _ = scale.dovecot_conf(1000, 10)
        dv = h.Dovecot(certs, parent_dir=d, users={'u1': 'pw'}, extra_conf=conf)
        dv.start(timeout=30)
        srv = GreetingServer(certs)
        for name, port in (('Dovecot (as scale.py runs it)', dv.imaps_port),
                           ('one-process server (Python ssl)', srv.port)):
            print(name + ':')
            for version in ('1.3', '1.2'):
                for mode in ('full', 'resume'):
                    run(bench, port, certs.ca_crt, a.connections, mode, version)
        return 0
    finally:
        if srv:
            srv.close()
        if dv:
            dv.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
