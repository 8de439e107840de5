#!/usr/bin/env bash
# The bash completion of qubes-ctl (client/completion/qubes-ctl.bash): it
# parses, registers itself, and completes commands, options, domain names,
# properties, values and labels.  What would come from qubesd comes from a
# stand-in qubes-ctl that answers the exact invocations the completion makes
# (tests/test-qubes-ctl.sh checks the same completions against the real one).
set -uo pipefail

src=${ODYSSEY_SRCDIR:?run through make check}
completion=$src/client/completion/qubes-ctl.bash

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else fail "$what"; fi; }

tmp=$(mktemp -d /tmp/test-qctl-comp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The stand-in logs how it was called and answers like qubes-ctl would.
cat >"$tmp/qubes-ctl" <<'EOF_STUB'
#!/usr/bin/env bash
echo "$*" >>"${0%/*}/calls"
[ "${1:-}" = --address ] && shift 2
case "$*" in
"ls --raw --fields name") printf '%s\n' dom0 personal work work-web ;;
"ls --raw --fields name --halted") printf '%s\n' personal work-web ;;
"ls --raw --fields name --running --paused"|"ls --raw --fields name --running") printf '%s\n' dom0 work ;;
"ls --raw --fields name --class TemplateVM") echo debian ;;
"ls --raw --fields name --class AppVM") printf '%s\n' personal work ;;
"prefs work"|"prefs dom0") printf '%s\n' "debug             D  False" "label             -  blue" \
        "memory            D  400" "netvm             D  " "template          -  debian" ;;
"prefs work debug") echo False ;;
"prefs work memory") echo 400 ;;
"labels --raw") printf '%s\t%s\t%s\n' red 1 0xcc0000 green 4 0x73d216 gray 5 0x555555 ;;
"tags work") printf '%s\n' alpha beta ;;
"features work") printf '%s\n' "gui          1" "service.cups " ;;
"global-prefs") printf '%s\n' "default_netvm     D  " "default_template  -  debian" ;;
*) exit 1 ;;
esac
EOF_STUB
chmod +x "$tmp/qubes-ctl"

# complete WORD...: the completions bash offers for the last word.
complete_words() {
        bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _qubes_ctl
                 printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
# expect "WHAT" "EXPECTED (one per line)" WORD...
expect() {
        local what=$1 want=$2 got
        shift 2
        got=$(complete_words "$tmp/qubes-ctl" "$@")
        if [ "$got" = "$want" ]; then echo "ok: $what"; else fail "$what: got [$got], wanted [$want]"; fi
}

check "the completion file parses (bash -n)" bash -n "$completion"
check "sourcing it registers _qubes_ctl for qubes-ctl" \
        bash -c 'source "$1" && complete -p qubes-ctl | grep -q -- "-F _qubes_ctl qubes-ctl$"' _ "$completion"

expect "qubes-ctl pre<TAB> → prefs" "prefs" pre
expect "qubes-ctl <TAB>: every command" "$(printf '%s\n' ls create clone remove start shutdown kill pause unpause prefs tags features labels global-prefs events template run copy policy ask-agent help)" ""
expect "qubes-ctl s<TAB>" $'start\nshutdown' s
expect "global options" $'--address\n--reply-timeout\n--help\n--version' --
expect "--re<TAB>" "--reply-timeout" --re
expect "a command after --address ADDR" "prefs" --address unix:path=/x pre
expect "ls --j<TAB>" "--json" ls --j
expect "shutdown --w<TAB>" "--wait" shutdown --w
expect "prefs --d<TAB>" "--default" prefs work --d
expect "features --u<TAB>" "--unset" features work --u
expect "domain names (prefs w<TAB>)" $'work\nwork-web' prefs w
expect "start offers halted domains" $'personal\nwork-web' start ""
expect "shutdown offers running domains" $'dom0\nwork' shutdown ""
expect "properties (prefs work m<TAB>)" "memory" prefs work m
expect "properties, all (prefs work <TAB>)" $'debug\nlabel\nmemory\nnetvm\ntemplate' prefs work ""
expect "boolean values (prefs work debug <TAB>)" $'True\nFalse' prefs work debug ""
expect "label values (prefs work label g<TAB>)" $'green\ngray' prefs work label g
expect "domain values (prefs work netvm <TAB>)" $'dom0\npersonal\nwork\nwork-web' prefs work netvm ""
expect "no values for a number" "" prefs work memory ""
expect "labels after --label" $'green\ngray' create x --label g
expect "classes after --class" $'StandaloneVM' create x --class St
expect "templates after --template" $'debian\npersonal\nwork' create x --template ""
expect "--fields: the last item of a list" $'name,template\nname,tags' ls --fields name,t
expect "--prop: KEY=" "memory=" create x --prop mem
expect "tags actions" $'add\ndel\nlist' tags work ""
expect "tags del: the domain's tags" "beta" tags work del b
expect "features keys" $'gui\nservice.cups' features work ""
expect "global properties" $'default_netvm\ndefault_template' global-prefs ""
expect "global domain values" $'dom0\npersonal\nwork\nwork-web' global-prefs default_template ""
expect "template actions" "build" template ""
expect "help COMMAND" $'features' help fea

# The completion passes the command line's --address on.
: >"$tmp/calls"
complete_words "$tmp/qubes-ctl" --address unix:path=/y prefs w >/dev/null
check "--address is passed to qubes-ctl" grep -qx "\-\-address unix:path=/y ls --raw --fields name" "$tmp/calls"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
