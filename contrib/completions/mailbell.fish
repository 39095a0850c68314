# fish completion for mailbell(1)
#
# "meson install" puts it in PREFIX/share/fish/vendor_completions.d/; without
# meson, copy it to ~/.config/fish/completions/mailbell.fish.
#
# Completes the options, "fetch ACCOUNT MAILBOX UID" and "ctl SUBCOMMAND". Account
# and mailbox names come from the configuration file: the one given with -c FILE
# on the command line, else $XDG_CONFIG_HOME/mailbell/config.ini. It uses fish
# alone (no external commands).

# The words before the cursor that are not options nor -c's FILE: the command,
# its subcommand and their operands, one a line.
function __mailbell_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l skip 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -c --config
                set skip 1
            case '-*'
            case '*'
                printf '%s\n' $t
        end
    end
end

# __mailbell_at N WORD...: true when N such words precede the cursor and the
# first ones are WORD...
function __mailbell_at
    set -l args (__mailbell_args)
    test (count $args) -eq $argv[1]; or return 1
    set -l i 1
    for want in $argv[2..-1]
        test "$args[$i]" = "$want"; or return 1
        set i (math $i + 1)
    end
end

# True when the line holds an option that takes no command.
function __mailbell_alone
    for t in (commandline -opc)
        contains -- $t --check --once --version -h --help; and return 0
    end
    return 1
end

# The configuration file: -c FILE, --config FILE, --config=FILE or -cFILE on the
# line, else the default.
function __mailbell_config
    set -l tokens (commandline -opc)
    set -l file
    set -l next 0
    for t in $tokens[2..-1]
        if test $next = 1
            set file $t
            set next 0
            continue
        end
        switch $t
            case -c --config
                set next 1
            case '--config=*'
                set file (string replace -- --config= '' $t)
            case '-c?*'
                set file (string sub -s 3 -- $t)
        end
    end
    if test -z "$file"
        if test -n "$XDG_CONFIG_HOME"
            set file $XDG_CONFIG_HOME/mailbell/config.ini
        else
            set file $HOME/.config/mailbell/config.ini
        end
    end
    string replace -r -- '^~(?=/|$)' $HOME $file
end

# The names of the [account NAME] sections, one a line.
function __mailbell_accounts
    set -l file (__mailbell_config)
    test -f "$file" -a -r "$file"; or return 0
    string replace -rf -- '^\s*\[account\s+([^\]]*[^\]\s])\s*\].*$' '$1' <$file
end

# The mailboxes the account given after "fetch" names with "mailbox =" or
# "mailboxes =" (INBOX when it has neither), but for patterns with * or %.
function __mailbell_mailboxes
    set -l account (__mailbell_args)[2]
    set -l file (__mailbell_config)
    test -f "$file" -a -r "$file"; or return 0
    set -l here 0
    set -l found 0
    set -l listed 0
    while read -l line
        set line (string replace -r -- '\r$' '' $line)
        if string match -qr -- '^\s*\[' $line
            set here 0
            set -l name (string replace -rf -- '^\s*\[account\s+([^\]]*[^\]\s])\s*\].*$' '$1' $line)
            if test (count $name) -eq 1; and test "$name" = "$account"
                set here 1
                set found 1
            end
        else if test $here = 1
            set -l value (string replace -rf -- '^\s*mailbox(?:es)?\s*=\s*(.*)$' '$1' $line)
            test (count $value) -eq 1; or continue
            set listed 1
            set value (string replace -r -- '\s;.*$' '' $value)
            for item in (string split -- , $value)
                set item (string trim -- $item)
                if test -n "$item"; and not string match -qr -- '[*%]' $item
                    printf '%s\n' $item
                end
            end
        end
    end <$file
    if test $found = 1 -a $listed = 0
        echo INBOX
    end
end

complete -c mailbell -f

complete -c mailbell -s c -l config -r -F -d 'Read FILE instead of the default configuration'
complete -c mailbell -s v -l verbose -d 'Log more: each message, each hook'
complete -c mailbell -l trace -d 'Log the IMAP conversation (sign-in arguments redacted)'
complete -c mailbell -n '__mailbell_at 0' -l check -d 'Check the configuration and every sign-in, then exit'
complete -c mailbell -n '__mailbell_at 0' -l once -d 'Report new mail once, then exit'
complete -c mailbell -n '__mailbell_at 0' -l version -d 'Print the version and exit'
complete -c mailbell -n '__mailbell_at 0' -s h -l help -d 'Print a summary of the options and exit'

complete -c mailbell -n '__mailbell_at 0; and not __mailbell_alone' -a fetch -d 'Write a raw message to standard output'
complete -c mailbell -n '__mailbell_at 0; and not __mailbell_alone' -a ctl -d 'Control the running mailbell'

complete -c mailbell -n '__mailbell_at 1 fetch' -a '(__mailbell_accounts)' -d Account
complete -c mailbell -n '__mailbell_at 2 fetch' -a '(__mailbell_mailboxes)' -d Mailbox

complete -c mailbell -n '__mailbell_at 1 ctl' -a status -d 'Show each account and mailbox'
complete -c mailbell -n '__mailbell_at 1 ctl' -a pause -d 'Pause notifications, for DURATION or until resumed'
complete -c mailbell -n '__mailbell_at 1 ctl' -a resume -d 'Resume notifications'
complete -c mailbell -n '__mailbell_at 1 ctl' -a reconnect -d 'Reconnect ACCOUNT, or every account'
complete -c mailbell -n '__mailbell_at 1 ctl' -a reload -d 'Reread the configuration'
complete -c mailbell -n '__mailbell_at 2 ctl status' -l json -d 'Print the status as JSON'
complete -c mailbell -n '__mailbell_at 2 ctl pause' -a '30m 1h 2h' -d Duration
complete -c mailbell -n '__mailbell_at 2 ctl reconnect' -a '(__mailbell_accounts)' -d Account
