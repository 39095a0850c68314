#!/bin/sh
# mailbell hook: append one line per new message to a log file.
#
#   [general]
#   hook = ~/.config/mailbell/hooks/log-mail.sh ~/.local/state/mailbell/mail.log
#
# The argument is the log file (default: $XDG_STATE_HOME/mailbell/mail.log, that
# is ~/.local/state/mailbell/mail.log). Each line holds tab-separated fields:
#
#   2026-01-02T03:04:05.123+01:00  ACCOUNT/MAILBOX  uid UID  FROM  SUBJECT  [rule RULE]
#
# The message arrives only in MAILBELL_* environment variables (see
# mailbell.ini(5)); they are expanded inside double quotes and handed to printf
# as arguments, never as its format and never through eval, so nothing in a
# subject can run a command. mailbell has already turned tabs and line breaks in
# them into spaces, so every message stays on one line. The timestamp needs GNU
# date (Debian's coreutils).
set -eu

log=${1:-${XDG_STATE_HOME:-$HOME/.local/state}/mailbell/mail.log}
mkdir -p -- "$(dirname -- "$log")"

now=$(date '+%Y-%m-%dT%H:%M:%S.%3N%:z')
rule=
if [ -n "${MAILBELL_RULE:-}" ]; then
	rule="	rule $MAILBELL_RULE"
fi

# One printf, one short write to a file opened for appending: lines from hooks
# running at the same time do not mix.
printf '%s\t%s/%s\tuid %s\t%s\t%s%s\n' "$now" \
	"${MAILBELL_ACCOUNT:-?}" "${MAILBELL_MAILBOX:-?}" "${MAILBELL_UID:-?}" \
	"${MAILBELL_FROM:-}" "${MAILBELL_SUBJECT:-}" "$rule" >>"$log"
