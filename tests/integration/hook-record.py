#!/usr/bin/env python3
"""mailbell test hook: append one JSON line with every MAILBELL_* variable to the file in argv[1].

Bytes that are not UTF-8 show up as \\xNN escapes, so a test comparing exact strings fails on them.
Extra keys: _time (epoch seconds: argv[2] if given, the shell's start time, else now), _pid, _ppid.
"""
import json
import os
import sys
import time

rec = {k.decode('utf-8', 'backslashreplace'): v.decode('utf-8', 'backslashreplace')
       for k, v in os.environb.items() if k.startswith(b'MAILBELL_')}
rec['_time'] = float(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else time.time()
rec['_pid'] = os.getpid()
rec['_ppid'] = os.getppid()
line = (json.dumps(rec, ensure_ascii=False, sort_keys=True) + '\n').encode('utf-8')
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
try:
    os.write(fd, line)  # one write on an O_APPEND fd: concurrent hooks do not interleave
finally:
    os.close(fd)
