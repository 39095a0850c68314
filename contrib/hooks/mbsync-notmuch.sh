#!/bin/sh
# mailbell sync hook: fetch what changed with mbsync, then index it with notmuch.
#
#   [account work]
#   ...
#   sync_hook = ~/.config/mailbell/hooks/mbsync-notmuch.sh
#   sync_on = new, expunge, flags
#
# mailbell runs it once per burst of changes (never two at once for one account), and once after
# it starts and after every reconnect. MAILBELL_ACCOUNT must match an mbsync channel or group
# name (or set MBSYNC_CHANNEL below); MAILBELL_MAILBOXES lists the changed mailboxes, one per line.
# Nothing from a message reaches this script, only account and mailbox names.
set -eu

channel=${MBSYNC_CHANNEL:-$MAILBELL_ACCOUNT}

# A start or reconnect run syncs everything: mail may have changed anywhere while away.
if [ "$MAILBELL_REASON" = change ] && [ "${MBSYNC_PER_MAILBOX:-no}" = yes ]; then
	# "channel:box1,box2": only the mailboxes that changed (mbsync(1), "channel:box")
	boxes=$(printf '%s\n' "$MAILBELL_MAILBOXES" | paste -sd, -)
	mbsync -q "$channel:$boxes"
else
	mbsync -q "$channel"
fi

if command -v notmuch >/dev/null 2>&1; then
	notmuch new --quiet
fi
