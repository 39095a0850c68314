# bash completion for mailbell(1)
#
# Install: copy to /usr/share/bash-completion/completions/mailbell (system-wide)
# or ~/.local/share/bash-completion/completions/mailbell (one user), or source
# it from ~/.bashrc.

_mailbell()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	if [ "$COMP_CWORD" -gt 0 ]; then
		prev=${COMP_WORDS[COMP_CWORD-1]}
	fi

	# "--config=FILE": bash splits at '=' (COMP_WORDBREAKS), giving
	# "--config" "=" "FILE" or "--config" "=" while FILE is still empty.
	if [ "$cur" = "=" ] && [ "$prev" = "--config" ]; then
		cur=
		prev=--config
	elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ] &&
		[ "${COMP_WORDS[COMP_CWORD-2]}" = "--config" ]; then
		prev=--config
	fi

	case $prev in
	-c|--config)
		compopt -o filenames 2>/dev/null
		local IFS=$'\n'
		# shellcheck disable=SC2207
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	esac

	if [[ $cur == -* ]]; then
		# shellcheck disable=SC2207
		COMPREPLY=($(compgen -W '-c --config -v --verbose --trace --version -h --help' -- "$cur"))
	fi
	return 0
}
complete -F _mailbell mailbell
