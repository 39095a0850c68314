#!/usr/bin/env python3
"""mailbell test sync hook: append {"event": "start"} then, after argv[2] seconds, {"event": "end"}
to the JSON-lines file in argv[1], each with every MAILBELL_* variable, the time and the pid.
A sync hook must never overlap another of its account, so the test compares these times."""
import json
import os
import sys
import time


def record(event):
	rec = {k: v for k, v in os.environ.items() if k.startswith('MAILBELL_')}
	rec.update(event=event, _time=time.time(), _pid=os.getpid(),
		   _stdin_tty=os.isatty(0), _stdin=os.read(0, 64).decode('utf-8', 'replace') if event == 'start' else '')
	line = (json.dumps(rec, ensure_ascii=False, sort_keys=True) + '\n').encode('utf-8')
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
	try:
		os.write(fd, line)
	finally:
		os.close(fd)


record('start')
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
record('end')
