#!/usr/bin/env python3
"""test_faults.py's faults against a Dovecot without NOTIFY: mailbell then watches each mailbox
on an IDLE connection of its own (the black-hole test is test_faults.py's alone: the keepalive
is per connection either way)."""

import harness as h
import test_faults  # not "from test_faults import ...": unittest would run those tests here too


class FaultNoNotifyTest(test_faults.FaultTest):
	notify = False
	test_blackhole_noticed_after_keepalive = None


if __name__ == '__main__':
	h.main()
