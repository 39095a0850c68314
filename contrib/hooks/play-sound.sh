#!/bin/sh
# mailbell hook: play a sound when new mail arrives.
#
#   [general]
#   hook = ~/.config/mailbell/hooks/play-sound.sh
#   # or with a sound file of your own:
#   hook = ~/.config/mailbell/hooks/play-sound.sh ~/sounds/ding.oga
#
# Without an argument it plays the "message-new-email" event of the desktop's
# sound theme with canberra-gtk-play (Debian: gnome-session-canberra) when that
# is installed; otherwise, and with a file argument, it plays a file with
# paplay (pulseaudio-utils) or pw-play (pipewire-bin), whichever is found
# first. The default file is the freedesktop sound theme's
# (Debian: sound-theme-freedesktop). With no player or no file it does nothing.
#
# Only MAILBELL_* variables describe the message (see mailbell.ini(5)); they are
# used inside double quotes only, as data, never as code. The player runs in the
# foreground, so mailbell's hook_timeout also bounds it.
set -u

file=${1:-}
default_file=/usr/share/sounds/freedesktop/stereo/message-new-instant.oga

have() {
	command -v "$1" >/dev/null 2>&1
}

if [ -z "$file" ] && have canberra-gtk-play; then
	# -d: a description for the sound server's records (e.g. pavucontrol)
	exec canberra-gtk-play -i message-new-email \
		-d "New mail from ${MAILBELL_FROM:-unknown sender}"
fi

[ -n "$file" ] || file=$default_file
[ -r "$file" ] || exit 0

for player in paplay pw-play; do
	if have "$player"; then
		exec "$player" -- "$file"
	fi
done
exit 0
