# bash completion for mailbell(1)                          -*- shell-script -*-
#
# "meson install" puts it in bash-completion's completionsdir as "mailbell", where
# bash-completion loads it on first use; without meson, copy it to
# ~/.local/share/bash-completion/completions/mailbell or source it from ~/.bashrc.
#
# Completes the options, "fetch ACCOUNT MAILBOX UID" and "ctl SUBCOMMAND". Account
# and mailbox names come from the configuration file: the one given with -c FILE
# on the command line, else $XDG_CONFIG_HOME/mailbell/config.ini. It uses bash
# alone (no bash-completion helpers, no external commands).

# _mailbell_dequote WORD: WORD as the shell would pass it, without its quotes and
# backslashes and with a leading ~/ expanded, in REPLY. No eval: a word on the
# command line is never run.
_mailbell_dequote()
{
	local s=$1 out='' c
	case $s in
	\'*)
		s=${s#\'}
		out=${s%\'}
		;;
	\"*)
		s=${s#\"}
		s=${s%\"}
		while [[ $s ]]; do
			c=${s:0:1} s=${s:1}
			if [[ $c == \\ && ${s:0:1} == [\"\\\$\`] ]]; then
				c=${s:0:1} s=${s:1}
			fi
			out+=$c
		done
		;;
	*)
		while [[ $s ]]; do
			c=${s:0:1} s=${s:1}
			if [[ $c == \\ ]]; then
				c=${s:0:1} s=${s:1}
			fi
			out+=$c
		done
		# a typed ~ (the shell would expand it), by hand
		# shellcheck disable=SC2088
		case $out in
		'~') out=$HOME ;;
		'~/'*) out=$HOME/${out#'~/'} ;;
		esac
		;;
	esac
	REPLY=$out
}

# _mailbell_accounts: appends the names of the [account NAME] sections of the
# file $cfg to the array names (both the caller's).
_mailbell_accounts()
{
	local line re='^[[:space:]]*\[account[[:space:]]+([^]]*[^][:space:]])[[:space:]]*\]'
	[[ -r $cfg && ! -d $cfg ]] || return 0
	while IFS= read -r line || [[ $line ]]; do
		if [[ $line =~ $re ]]; then
			names+=("${BASH_REMATCH[1]}")
		fi
	done <"$cfg"
}

# _mailbell_mailboxes ACCOUNT: appends to names the mailboxes that ACCOUNT's
# "mailbox =" or "mailboxes =" names in $cfg (INBOX when it has neither), but
# for patterns with * or %.
_mailbell_mailboxes()
{
	local line here=0 found=0 listed=0 value item
	local head='^[[:space:]]*\[([^]]*)\]'
	local account='^account[[:space:]]+(.*[^[:space:]])[[:space:]]*$'
	local key='^[[:space:]]*mailbox(es)?[[:space:]]*=[[:space:]]*(.*)$'
	[[ -r $cfg && ! -d $cfg ]] || return 0
	while IFS= read -r line || [[ $line ]]; do
		line=${line%$'\r'}
		if [[ $line =~ $head ]]; then
			here=0
			if [[ ${BASH_REMATCH[1]} =~ $account && ${BASH_REMATCH[1]} == "$1" ]]; then
				here=1 found=1
			fi
		elif ((here)) && [[ $line =~ $key ]]; then
			listed=1
			value=${BASH_REMATCH[2]}
			value=${value%%[[:space:]]\;*}
			while [[ $value ]]; do
				item=${value%%,*}
				if [[ $value == *,* ]]; then
					value=${value#*,}
				else
					value=
				fi
				item=${item#"${item%%[![:space:]]*}"}
				item=${item%"${item##*[![:space:]]}"}
				if [[ $item && $item != *[*%]* ]]; then
					names+=("$item")
				fi
			done
		fi
	done <"$cfg"
	if ((found && !listed)); then
		names+=(INBOX)
	fi
}

# _mailbell_reply: COMPREPLY from the array names, the ones starting with the
# word being completed, escaped for the command line (account names may hold
# spaces). After an opening quote they are left as they are: readline
# completes inside the quotes.
_mailbell_reply()
{
	local n e word REPLY
	_mailbell_dequote "$cur"
	word=$REPLY
	for n in "${names[@]}"; do
		[[ $n == "$word"* ]] || continue
		case $cur in
		[\"\']*) COMPREPLY+=("$n") ;;
		*)
			printf -v e '%q' "$n"
			COMPREPLY+=("$e")
			;;
		esac
	done
}

_mailbell()
{
	local cur prev cfg='' w i alone=0 REPLY
	local -a args=() names=()
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	if ((COMP_CWORD > 0)); then
		prev=${COMP_WORDS[COMP_CWORD-1]}
	fi

	# "--config=FILE": bash splits at '=' (COMP_WORDBREAKS), giving
	# "--config" "=" "FILE" or "--config" "=" while FILE is still empty.
	if [[ $cur == = && $prev == --config ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)) &&
		[[ ${COMP_WORDS[COMP_CWORD-2]} == --config ]]; then
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

	# The words before the cursor: the config file and the arguments that are
	# not options (the command, its subcommand and their operands).
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-c|--config)
			if [[ $w == --config && ${COMP_WORDS[i+1]} == = ]]; then
				((i++))
			fi
			((i++))
			if ((i < COMP_CWORD)); then
				cfg=${COMP_WORDS[i]}
			fi
			;;
		--config=*) cfg=${w#--config=} ;;
		-c?*) cfg=${w#-c} ;;
		--check|--once|--version|-h|--help) alone=1 ;;
		-*) ;;
		*) args+=("$w") ;;
		esac
	done
	if [[ $cfg ]]; then
		_mailbell_dequote "$cfg"
		cfg=$REPLY
	else
		cfg=${XDG_CONFIG_HOME:-$HOME/.config}/mailbell/config.ini
	fi

	local words=
	case ${#args[@]}:${args[0]}:${args[1]} in
	0:*)
		if [[ $cur == -* ]]; then
			words='-c --config -v --verbose --trace --check --once --version -h --help'
		elif ((!alone)); then
			words='fetch ctl'
		fi
		;;
	1:fetch:*)
		if [[ $cur == -* ]]; then
			words='-c --config -v --verbose --trace'
		else
			_mailbell_accounts
		fi
		;;
	2:fetch:*)
		_mailbell_dequote "${args[1]}"
		_mailbell_mailboxes "$REPLY"
		;;
	1:ctl:*) words='status pause resume reconnect reload' ;;
	2:ctl:status) words='--json' ;;
	2:ctl:pause) words='30m 1h 2h' ;;
	2:ctl:reconnect) _mailbell_accounts ;;
	esac

	if ((${#names[@]})); then
		_mailbell_reply
	elif [[ $words ]]; then
		# shellcheck disable=SC2207
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
	fi
	return 0
}
complete -F _mailbell mailbell
