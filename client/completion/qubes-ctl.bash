# bash completion for qubes-ctl(1): commands, options, domain names, properties,
# labels, tags and features.  Installed as .../bash-completion/completions/qubes-ctl.
# What comes from qubesd is asked of qubes-ctl itself (with the --address of
# the command line being completed), in its raw output modes.

# qubes-ctl, as typed on the command line, with its --address.
_qubes_ctl_run() {
        local i address=()
        for ((i = 1; i < COMP_CWORD; i++)); do
                if [[ ${COMP_WORDS[i]} == --address ]]; then
                        address=(--address "${COMP_WORDS[i + 1]}")
                fi
        done
        "${COMP_WORDS[0]}" "${address[@]}" "$@" 2>/dev/null
}

_qubes_ctl_domains() {
        _qubes_ctl_run ls --raw --fields name "$@"
}

# The first column of a listing (prefs, global-prefs, features).
_qubes_ctl_first_column() {
        _qubes_ctl_run "$@" | while read -r word _; do printf '%s\n' "$word"; done
}

_qubes_ctl_labels() {
        _qubes_ctl_run labels --raw | cut -f1
}

# Values for property $2 of domain $1 ("" for a global one).
_qubes_ctl_values() {
        local domain=$1 property=$2 current
        case $property in
        label) _qubes_ctl_labels; return ;;
        template|netvm|default_dispvm|default_template|default_netvm|updatevm|clockvm|management_dispvm)
                _qubes_ctl_domains; return ;;
        esac
        if [[ -n $domain ]]; then
                current=$(_qubes_ctl_run prefs "$domain" "$property")
        else
                current=$(_qubes_ctl_run global-prefs "$property")
        fi
        case $current in
        True|False) printf '%s\n' True False ;;
        esac
}

_qubes_ctl() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        local commands="ls create clone remove start shutdown kill pause unpause prefs tags features labels global-prefs events template run copy policy ask-agent help"
        local options_with_value=" --address --fields --tags --class -C --label -l --template -t --prop -p --timeout --suite "
        local i cmd="" cmd_index=0 words="" opts=""
        local args=()

        COMPREPLY=()
        # The command: the first word that is neither a global option nor its value.
        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                --address|--reply-timeout) ((i++)) ;;
                -*) ;;
                *) cmd=${COMP_WORDS[i]}; cmd_index=$i; break ;;
                esac
        done
        if [[ -z $cmd ]]; then
                [[ $prev == --address || $prev == --reply-timeout ]] && return 0
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "--address --reply-timeout --help --version" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
                fi
                return 0
        fi
        # The command's arguments so far, without its options and their values.
        for ((i = cmd_index + 1; i < COMP_CWORD; i++)); do
                if [[ $options_with_value == *" ${COMP_WORDS[i]} "* ]]; then
                        ((i++))
                elif [[ ${COMP_WORDS[i]} != -* ]]; then
                        args+=("${COMP_WORDS[i]}")
                fi
        done

        # Values of options.
        case $prev in
        --label|-l) words=$(_qubes_ctl_labels) ;;
        --template|-t) words=$(_qubes_ctl_domains --class TemplateVM; _qubes_ctl_domains --class AppVM) ;;
        --class|-C) words="AppVM TemplateVM StandaloneVM DispVM AdminVM" ;;
        --suite) words="bookworm trixie bullseye" ;;
        --fields)
                # A comma-separated list: complete its last item.
                local done_part="" fields
                [[ $cur == *,* ]] && done_part=${cur%,*},
                fields="$(_qubes_ctl_first_column prefs dom0) state class tags features"
                COMPREPLY=($(compgen -P "$done_part" -W "$fields" -- "${cur##*,}"))
                return 0 ;;
        --prop|-p)
                if [[ $cur != *=* ]]; then
                        COMPREPLY=($(compgen -S = -W "$(_qubes_ctl_first_column prefs dom0)" -- "$cur"))
                        compopt -o nospace 2>/dev/null
                fi
                return 0 ;;
        --tags|--timeout|--address) return 0 ;;
        esac
        if [[ -n $words ]]; then
                COMPREPLY=($(compgen -W "$words" -- "$cur"))
                return 0
        fi

        case $cmd in
        ls) opts="--json --raw --fields --running --halted --paused --tags --class --help"
            words=$(_qubes_ctl_domains) ;;
        create) opts="--class --label --template --prop --help" ;;
        clone) opts="--prop --help"
               ((${#args[@]} == 0)) && words=$(_qubes_ctl_domains --halted) ;;
        remove) opts="--force --help"; words=$(_qubes_ctl_domains --halted) ;;
        start) opts="--help"; words=$(_qubes_ctl_domains --halted) ;;
        shutdown) opts="--all --wait --timeout --help"; words=$(_qubes_ctl_domains --running --paused) ;;
        kill) opts="--help"; words=$(_qubes_ctl_domains --running --paused) ;;
        pause) opts="--help"; words=$(_qubes_ctl_domains --running) ;;
        unpause) opts="--help"; words=$(_qubes_ctl_domains --paused) ;;
        prefs)
                opts="--default --help"
                case ${#args[@]} in
                0) words=$(_qubes_ctl_domains) ;;
                1) words=$(_qubes_ctl_first_column prefs "${args[0]}") ;;
                2) words=$(_qubes_ctl_values "${args[0]}" "${args[1]}") ;;
                esac ;;
        global-prefs)
                opts="--default --help"
                case ${#args[@]} in
                0) words=$(_qubes_ctl_first_column global-prefs) ;;
                1) words=$(_qubes_ctl_values "" "${args[0]}") ;;
                esac ;;
        tags)
                opts="--help"
                case ${#args[@]} in
                0) words=$(_qubes_ctl_domains) ;;
                1) words="add del list" ;;
                *) [[ ${args[1]} != add ]] && words=$(_qubes_ctl_run tags "${args[0]}") ;;
                esac ;;
        features)
                opts="--unset --help"
                case ${#args[@]} in
                0) words=$(_qubes_ctl_domains) ;;
                1) words=$(_qubes_ctl_first_column features "${args[0]}") ;;
                esac ;;
        labels) opts="--json --raw --help" ;;
        events) opts="--json --help" ;;
        template)
                opts="--suite --label --timeout --help"
                ((${#args[@]} == 0)) && words="build" ;;
        run) opts="--user --pass-io --no-autostart --dispvm --help"
             ((${#args[@]} == 0)) && words=$(_qubes_ctl_domains) ;;
        copy) opts="--help"
              COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "$(_qubes_ctl_domains)" -- "$cur"))
              return ;;
        policy) opts="--help"; ((${#args[@]} == 0)) && words="status" ;;
        ask-agent) opts="--answer --deny --help" ;;
        help) ((${#args[@]} == 0)) && words=$commands ;;
        esac
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        else
                COMPREPLY=($(compgen -W "$words" -- "$cur"))
        fi
        return 0
}
complete -F _qubes_ctl qubes-ctl
