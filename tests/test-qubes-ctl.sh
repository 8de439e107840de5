#!/usr/bin/env bash
# qubes-ctl end to end: usage errors and exit statuses without a server, a
# server that breaks the connection or never answers, then every command and
# every refusal against a private stack (busd + qubesd from this build tree):
# create, clone, remove, prefs, global-prefs, ls (table, --json, --fields,
# filters), tags, features, labels, events, and the power commands on the
# native backend.  Parts that cannot run here are reported as SKIP (and the
# test exits 77 if any was skipped and nothing failed); nothing is pretended.
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
src=${ODYSSEY_SRCDIR:?run through make check}
ctl=$build/client/qubes-ctl
export ODYSSEY_BUILD=$build
unset QUBES_ADMIN_ADDRESS ODYSSEY_UID_BASE

failures=0
skipped=()
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; skipped+=("$*"); }
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else fail "$what"; fi; }

tmp=$(mktemp -d /tmp/test-qctl.XXXXXX)
chmod 755 "$tmp"    # the daemons run under their own uids
root=$tmp/s
helpers=()
cleanup() {
        for p in "${helpers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        [ -d "$root/run" ] && timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        rm -rf "$tmp"
}
trap cleanup EXIT

# run ARGS...: qubes-ctl's stdout in $out, stderr in $err, exit status in $rc.
run() { out=$(timeout 120 "$ctl" "$@" 2>"$tmp/err"); rc=$?; err=$(<"$tmp/err"); }
# t WHAT STATUS STDERR-REGEX ARGS...: run, then check the status and (unless
# the regex is empty) that stderr matches it.
t() {
        local what=$1 want=$2 pattern=$3
        shift 3
        run "$@"
        if [ "$rc" -ne "$want" ]; then
                fail "$what: exit status $rc, wanted $want (qubes-ctl $*); stderr: $err"
                return 1
        fi
        if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" <<<"$err"; then
                fail "$what: stderr does not match /$pattern/: $err"
                return 1
        fi
        echo "ok: $what"
}
# out_has WHAT REGEX: a line of the last $out matches.
out_has() { if grep -Eq -- "$2" <<<"$out"; then echo "ok: $1"; else fail "$1: no line /$2/ in: $out"; fi; }
out_lacks() { if grep -Eq -- "$2" <<<"$out"; then fail "$1: unexpected line /$2/ in: $out"; else echo "ok: $1"; fi; }

# ------------------------------------------------------------ no server needed
t "--help" 0 "" --help
out_has "--help lists the commands" '^  global-prefs +list'
out_has "--help documents the exit statuses" '3 no such domain, 4 cannot connect'
for c in ls create clone remove start shutdown kill pause unpause prefs tags features labels global-prefs events template; do
        run "$c" --help
        if [ "$rc" -eq 0 ] && grep -q "^Usage: qubes-ctl $c" <<<"$out"; then echo "ok: $c --help"; else fail "$c --help ($rc): $out"; fi
        run help "$c"
        if [ "$rc" -eq 0 ] && grep -q "^Usage: qubes-ctl $c" <<<"$out"; then echo "ok: help $c"; else fail "help $c ($rc)"; fi
done
t "--version" 0 "" --version
t "no command is a usage error" 2 "no command given" 
t "an unknown command is a usage error with a hint" 2 "unknown command 'frobnicate'.*|Try 'qubes-ctl --help'" frobnicate
t "an abbreviation gets a suggestion" 2 "did you mean: prefs" pre
t "an unknown global option is a usage error" 2 "Try 'qubes-ctl --help'" --bogus ls
t "an unknown command option is a usage error with the command's hint" 2 "Try 'qubes-ctl ls --help'" ls --bogus
t "help of an unknown command" 2 "unknown command 'nope'" help nope
t "create without --label" 2 "--label is required" create x
t "create without a name" 2 "wants exactly one domain NAME" create --label red
t "create --prop without =" 2 "--prop wants KEY=VALUE" create x --label red --prop memory
t "create with a property twice" 2 "'label' given twice" create x --label red --prop label=blue
t "clone with one name" 2 "wants a SOURCE and a NEW" clone x
t "remove without a name" 2 "at least one domain" remove
t "start without a name" 2 "at least one domain" start
t "shutdown without names or --all" 2 "NAMEs or --all" shutdown
t "shutdown --all with names" 2 "do not go together" shutdown --all x
t "shutdown --timeout not a number" 2 "--timeout wants a number" shutdown --timeout soon x
t "prefs --default without a property" 2 "--default wants" prefs x --default
t "prefs with too many arguments" 2 "NAME \[PROPERTY \[VALUE\]\]" prefs a b c d
t "tags with an unknown action" 2 "unknown action 'frob'" tags x frob
t "tags add without a tag" 2 "add wants at least one TAG" tags x add
t "features --unset without a key" 2 "--unset wants" features x --unset
t "template without an action" 2 "wants an action" template
t "template build without a name" 2 "exactly one template NAME" template build
t "ls --json --raw" 2 "do not go together" ls --json --raw
t "--reply-timeout 0" 2 "--reply-timeout wants" --reply-timeout 0 ls

t "no server: exit status 4" 4 "cannot connect to qubesd at unix:path=$tmp/none.sock" --address "unix:path=$tmp/none.sock" ls
QUBES_ADMIN_ADDRESS="unix:path=$tmp/env.sock" t "the address comes from \$QUBES_ADMIN_ADDRESS" 4 "at unix:path=$tmp/env.sock" ls
QUBES_ADMIN_ADDRESS="unix:path=$tmp/env.sock" t "--address wins over the environment" 4 "at unix:path=$tmp/opt.sock" \
        --address "unix:path=$tmp/opt.sock" prefs x
t "a malformed address: exit status 4" 4 "cannot connect" --address "bogus:" ls

# A server that closes every connection, and one that completes the D-Bus
# handshake and then never answers.
if command -v python3 >/dev/null; then
        cat >"$tmp/fake.py" <<'EOF'
import socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(16)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept()
    if mode == "close":
        c.close()
        continue
    c.recv(4096)    # AUTH EXTERNAL, DATA, NEGOTIATE_UNIX_FD, BEGIN
    c.sendall(b"DATA\r\nOK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n")
    held.append(c)
EOF
        for mode in close mute; do
                python3 "$tmp/fake.py" "$tmp/$mode.sock" "$mode" >"$tmp/$mode.out" &
                helpers+=($!)
        done
        for _ in $(seq 50); do [ -S "$tmp/close.sock" ] && [ -S "$tmp/mute.sock" ] && break; sleep 0.1; done
        t "a server that hangs up: exit status 4" 4 "cannot connect|lost the connection" --address "unix:path=$tmp/close.sock" ls
        t "... also for domain calls" 4 "cannot connect|lost the connection" --address "unix:path=$tmp/close.sock" start a
        t "a server that never answers: exit status 5" 5 "did not answer in time" \
                --address "unix:path=$tmp/mute.sock" --reply-timeout 1 ls
        t "... for each domain of a parallel call" 5 "in time for domain b" \
                --address "unix:path=$tmp/mute.sock" --reply-timeout 1 start a b
        t "... and for events" 5 "did not answer in time" --address "unix:path=$tmp/mute.sock" --reply-timeout 1 events
else
        skip "fake servers (exit statuses 4 and 5 on a broken server): python3 is not installed"
fi

# ------------------------------------------------------------ the stack
if [ "$(id -u)" -ne 0 ]; then
        skip "everything against qubesd: the stack runs daemons under their roles' uids, which needs root"
elif [ ! -x "$build/daemons/qubesd/qubesd" ]; then
        skip "everything against qubesd: daemons/qubesd/qubesd is not built"
elif [ ! -x "$build/daemons/qubesd/native/odyssey-domain" ]; then
        skip "everything against qubesd: it does not start without its domain monitor (daemons/qubesd/native/odyssey-domain is not built)"
elif ! stack_out=$(timeout 60 "$src/tools/stack" start --root "$root" 2>"$tmp/stack.err"); then
        fail "the stack does not start: $(cat "$tmp/stack.err")"
else
        address=$(sed -n 's/^QUBES_ADMIN_ADDRESS=//p' <<<"$stack_out")
        export QUBES_ADMIN_ADDRESS=$address
        check "the stack gives an Admin API address" [ -n "$address" ]
        check "qubesd's socket exists" [ -S "${address#unix:path=}" ]

        # -- labels
        t "labels" 0 "" labels
        out_has "labels: a header" '^NAME +INDEX +COLOR$'
        out_has "labels: red is 1, 0xcc0000" '^red +1 +0xcc0000$'
        out_has "labels: black is 8" '^black +8 +0x000000$'
        t "labels --raw" 0 "" labels --raw
        check "labels --raw: 8 lines, tab-separated" [ "$(grep -c $'^[a-z]*\t[0-9]\t0x[0-9a-f]\{6\}$' <<<"$out")" -eq 8 ]
        t "labels --json" 0 "" labels --json
        check "labels --json is JSON with 8 labels" python3 -c \
                'import json,sys; l=json.load(sys.stdin); assert len(l)==8 and {"name":"blue","index":6,"color":"0x3465a4"} in l' <<<"$out"

        # -- create, and every refusal
        t "create a TemplateVM" 0 "" create tpl --class TemplateVM --label black
        t "create an AppVM" 0 "" create work --label blue --template tpl --prop memory=600
        t "create with a bad name" 1 "name" create 1bad --label red --template tpl
        t "create with a bad label" 1 "label.*mauve|mauve.*label" create badlabel --label mauve --template tpl
        t "create with a bad class" 1 "FooVM|class" create badclass --class FooVM --label red
        t "create with a missing template" 1 "template.*nosuch|nosuch.*template" create badtpl --label red --template nosuch
        t "create with a bad property value" 1 "memory" create badmem --label red --template tpl --prop memory=lots
        t "create with an unknown property" 1 "frobness" create badprop --label red --template tpl --prop frobness=1
        t "create with a taken name" 1 "work" create work --label red --template tpl
        run ls --raw --fields name
        out_lacks "no refused domain was created" '^(1bad|badlabel|badclass|badtpl|badmem|badprop)$'

        # -- ls
        t "ls" 0 "" ls
        out_has "ls: the header" '^NAME +STATE +CLASS +LABEL +TEMPLATE +NETVM$'
        out_has "ls: dom0 is the running AdminVM" '^dom0 +Running +AdminVM +black( |$)'
        out_has "ls: work, halted, blue, on tpl" '^work +Halted +AppVM +blue +tpl +'
        out_has "ls: tpl is a TemplateVM" '^tpl +Halted +TemplateVM +black +- +'
        t "ls --raw --fields name,class,label" 0 "" ls --raw --fields name,class,label
        out_has "ls --raw: tab-separated, no header" $'^work\tAppVM\tblue$'
        out_lacks "ls --raw: no header" '^NAME'
        t "ls --fields in upper case" 0 "" ls --fields NAME,MEMORY
        out_has "ls --fields: its header and values" '^work +600$'
        t "ls --json" 0 "" ls --json
        check "ls --json is a JSON array of full objects" python3 -c '
import json, sys
domains = {d["name"]: d for d in json.load(sys.stdin)}
w = domains["work"]
assert w["label"] == "blue" and w["klass"] == "AppVM" and w["template"] == "tpl", w
assert w["memory"] == 600 and isinstance(w["tags"], list) and isinstance(w["features"], dict), w
assert w["state"] == "Halted" and "label" not in w["default_properties"], w
assert domains["dom0"]["klass"] == "AdminVM"' <<<"$out"
        t "ls --json --fields" 0 "" ls --json --fields name,label work
        check "ls --json --fields: only those" python3 -c \
                'import json,sys; assert json.load(sys.stdin) == [{"name": "work", "label": "blue"}]' <<<"$out"
        t "ls an unknown field" 2 "unknown field 'NOSUCH'" ls --fields name,nosuch
        t "ls a domain that does not exist" 3 "no such domain 'ghost'" ls ghost
        t "ls --halted" 0 "" ls --halted --raw --fields name
        out_has "ls --halted lists work" '^work$'
        out_lacks "ls --halted leaves dom0 out" '^dom0$'
        t "ls --running" 0 "" ls --running --raw --fields name
        check "ls --running: only dom0 runs" [ "$out" = dom0 ]
        t "ls --class" 0 "" ls --class TemplateVM --raw --fields name
        check "ls --class TemplateVM: tpl" [ "$out" = tpl ]

        # -- prefs
        t "prefs NAME" 0 "" prefs work
        out_has "prefs: a set value has '-'" '^label +- +blue$'
        out_has "prefs: a default has 'D'" '^vcpus +D +[0-9]+$'
        out_has "prefs: memory set at creation" '^memory +- +600$'
        out_lacks "prefs: tags are not a property" '^tags '
        t "prefs NAME PROPERTY" 0 "" prefs work label
        check "prefs get prints the value only" [ "$out" = blue ]
        t "prefs set" 0 "" prefs work memory 800
        run prefs work memory
        check "prefs set took" [ "$out" = 800 ]
        t "prefs set: a bad integer names the property and rule" 1 "memory.*(integer|between)" prefs work memory lots
        t "prefs set: out of range" 1 "memory" prefs work memory 1
        t "prefs set: a bad label" 1 "label" prefs work label mauve
        t "prefs set: a bad boolean" 1 "debug" prefs work debug maybe
        t "prefs set: a netvm that does not exist" 1 "netvm" prefs work netvm ghost
        t "prefs set: a netvm that provides no network" 1 "netvm" prefs work netvm tpl
        t "prefs set: a read-only property" 1 "qid" prefs work qid 5
        t "prefs set: an unknown property" 1 "frobness" prefs work frobness 1
        t "prefs of a domain that does not exist" 3 "ghost" prefs ghost
        t "prefs set of a domain that does not exist" 3 "ghost" prefs ghost memory 400
        t "prefs --default" 0 "" prefs work memory --default
        run prefs work
        out_has "prefs --default: back to D" '^memory +D +[0-9]+$'
        t "prefs set a boolean as typed" 0 "" prefs work debug true
        run prefs work debug
        check "booleans read back as True" [ "$out" = True ]
        t "prefs klass" 0 "" prefs work klass
        check "prefs klass: AppVM" [ "$out" = AppVM ]

        # -- global-prefs
        t "global-prefs" 0 "" global-prefs
        out_has "global-prefs: default_template at its default" '^default_template +D +$'
        t "global-prefs set" 0 "" global-prefs default_template tpl
        run global-prefs default_template
        check "global-prefs get" [ "$out" = tpl ]
        run global-prefs
        out_has "global-prefs: a set value has '-'" '^default_template +- +tpl$'
        t "global-prefs set an integer as text" 0 "" global-prefs default_qrexec_timeout 30
        t "global-prefs: a bad value" 1 "default_qrexec_timeout" global-prefs default_qrexec_timeout soon
        t "global-prefs: an unknown property (get)" 1 "frobness" global-prefs frobness
        t "global-prefs: an unknown property (set)" 1 "frobness" global-prefs frobness 1
        t "global-prefs --default" 0 "" global-prefs default_qrexec_timeout --default
        run global-prefs default_qrexec_timeout
        check "global-prefs --default: back to 60" [ "$out" = 60 ]
        t "create takes the template from default_template" 0 "" create work3 --label green
        run prefs work3 template
        check "... tpl" [ "$out" = tpl ]

        # -- tags
        t "tags add" 0 "" tags work add alpha beta
        t "tags list" 0 "" tags work
        check "tags: one per line, sorted" [ "$out" = $'alpha\nbeta' ]
        t "tags list TAG it has" 0 "" tags work list beta
        check "... prints it" [ "$out" = beta ]
        t "tags list TAG it lacks" 1 "no tag 'gamma'" tags work list gamma
        t "tags add: a bad tag" 1 "tag|bad tag" tags work add "bad tag"
        t "tags del" 0 "" tags work del alpha
        run tags work
        check "tags del took" [ "$out" = beta ]
        t "tags of a domain that does not exist" 3 "ghost" tags ghost
        t "tags add to a domain that does not exist" 3 "ghost" tags ghost add x
        t "ls --tags" 0 "" ls --tags beta,zeta --raw --fields name
        check "ls --tags: only work" [ "$out" = work ]
        t "ls --fields tags" 0 "" ls --fields name,tags --raw work
        check "ls shows tags" [ "$out" = $'work\tbeta' ]

        # -- features
        t "features set" 0 "" features work gui 1
        t "features set another" 0 "" features work service.cups ""
        t "features list" 0 "" features work
        out_has "features list: key and value" '^gui +1$'
        t "features get" 0 "" features work gui
        check "features get prints the value" [ "$out" = 1 ]
        t "features set: a bad key" 1 "key|bad key" features work "bad key!" x
        t "features --unset" 0 "" features work gui --unset
        t "features get of an unset key" 1 "no feature 'gui'" features work gui
        t "features of a domain that does not exist" 3 "ghost" features ghost

        # -- events: a DomainAdded line when a domain is created meanwhile
        "$ctl" events >"$tmp/events" 2>&1 &
        events_pid=$!
        helpers+=("$events_pid")
        "$ctl" events --json >"$tmp/events.json" 2>&1 &
        helpers+=($!)
        seen=no
        for i in $(seq 30); do
                "$ctl" create "ev$i" --label red >/dev/null 2>&1
                sleep 0.1
                if grep -qx "DomainAdded name=ev$i path=/org/qubes/Admin1/domain/ev$i" "$tmp/events" &&
                   grep -q "\"signal\":\"DomainAdded\",\"name\":\"ev$i\"" "$tmp/events.json"; then
                        seen=ev$i
                        break
                fi
        done
        check "events: a DomainAdded line for a domain created meanwhile" [ "$seen" != no ]
        "$ctl" prefs "$seen" label green >/dev/null 2>&1
        "$ctl" remove -f "$seen" >/dev/null 2>&1
        sleep 0.3
        check "events: PropertyChanged with name=value arguments" \
                grep -qx "PropertyChanged domain=$seen property=label value=green is_default=False" "$tmp/events"
        check "events: DomainRemoved" grep -qx "DomainRemoved name=$seen" "$tmp/events"
        check "events --json: one JSON object per line" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert any(l == {"signal": "DomainRemoved", "name": sys.argv[2]} for l in lines), lines' "$tmp/events.json" "$seen"
        check "events still runs" kill -0 "$events_pid"

        # -- clone
        t "prefs for the clone" 0 "" prefs work memory 900
        t "clone" 0 "" clone work work2
        run prefs work2 memory
        check "clone copies set properties" [ "$out" = 900 ]
        run tags work2
        check "clone copies tags" [ "$out" = beta ]
        run features work2 service.cups
        check "clone copies features" [ "$rc" -eq 0 ]
        t "clone with --prop" 0 "" clone work work4 --prop label=purple
        run prefs work4 label
        check "clone --prop sets the copy's property" [ "$out" = purple ]
        t "clone to a taken name" 1 "work2" clone work work2
        t "clone of a domain that does not exist" 3 "ghost" clone ghost copy

        # -- remove
        t "remove a referenced template" 1 "tpl" remove -f tpl
        check "... naming who uses it" grep -q "work" <<<"$err"
        t "remove" 0 "" remove work4
        t "... gone" 3 "" ls work4
        t "remove several, one missing" 3 "ghost" remove -f ghost work2
        t "... the other is removed" 3 "" ls work2
        t "remove dom0" 1 "dom0" remove -f dom0

        # -- the power commands: the native backend
        native_missing=""
        for p in agents/bin/odyssey-init agents/bin/qrexec-agent daemons/qubesd/native/odyssey-domain; do
                [ -x "$build/$p" ] || native_missing+=" $p"
        done
        t "start a domain that does not exist" 3 "ghost" start ghost
        t "shutdown a halted domain" 1 "not running" shutdown work
        t "kill a halted domain" 1 "not running" kill work
        t "pause a halted domain" 1 "not running|work" pause work
        t "unpause a halted domain" 1 "not|work" unpause work
        if [ -n "$native_missing" ]; then
                skip "start/shutdown/kill/pause/unpause of real domains: the native backend is not built (missing:$native_missing)"
        else
                t "start" 0 "" start work
                run ls --raw --fields state work
                check "ls: work is Running" [ "$out" = Running ]
                t "start a running domain" 1 "not halted" start work
                t "remove a running domain" 1 "work" remove -f work
                t "clone a running domain" 1 "work" clone work work5
                t "pause" 0 "" pause work
                run ls --raw --fields state work
                check "ls: work is Paused" [ "$out" = Paused ]
                t "ls --paused" 0 "" ls --paused --raw --fields name
                check "ls --paused: work" [ "$out" = work ]
                t "unpause" 0 "" unpause work
                run ls --raw --fields state work
                check "ls: work is Running again" [ "$out" = Running ]
                t "unpause a running domain" 1 "work" unpause work
                t "shutdown --wait" 0 "" shutdown --wait --timeout 10 work
                run ls --raw --fields state work
                check "ls: work is Halted after shutdown --wait" [ "$out" = Halted ]
                t "start two at once" 0 "" start work work3
                run ls --running --raw --fields name
                check "ls --running: both" [ "$out" = $'dom0\nwork\nwork3' ]
                t "kill" 0 "" kill work3
                run ls --raw --fields state work3
                check "ls: work3 is Halted after kill" [ "$out" = Halted ]
                t "start again" 0 "" start work3
                t "shutdown --all --wait" 0 "" shutdown --all --wait --timeout 10
                run ls --running --raw --fields name
                check "shutdown --all --wait: only dom0 runs" [ "$out" = dom0 ]
                t "start, then shutdown without --wait" 0 "" start work
                t "shutdown returns" 0 "" shutdown work
                for _ in $(seq 100); do
                        run ls --raw --fields state work
                        [ "$out" = Halted ] && break
                        sleep 0.1
                done
                check "... and work halts" [ "$out" = Halted ]
        fi

        # -- template build: the refusals only (a real build needs the network)
        t "template build with a bad label" 1 "label|mauve" template build tb --label mauve
        t "template build with a taken name" 1 "work" template build work
        echo "note: no real template build here (it downloads Debian; tests/test-template-build does it with ODYSSEY_SLOW_TESTS=1)"

        # -- bash completion against the real qubes-ctl and qubesd
        names=$(bash -c '
                source "$1"
                COMP_WORDS=("$2" start w); COMP_CWORD=2; _qubes_ctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
                "$src/client/completion/qubes-ctl.bash" "$ctl")
        check "completion: domain names from qubesd (start w<TAB>)" [ "$names" = $'work\nwork3' ]
        props=$(bash -c '
                source "$1"
                COMP_WORDS=("$2" prefs work mem); COMP_CWORD=3; _qubes_ctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
                "$src/client/completion/qubes-ctl.bash" "$ctl")
        check "completion: property names from prefs NAME (prefs work mem<TAB>)" [ "$props" = memory ]
        labels=$(bash -c '
                source "$1"
                COMP_WORDS=("$2" create x --label gr); COMP_CWORD=4; _qubes_ctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
                "$src/client/completion/qubes-ctl.bash" "$ctl")
        check "completion: labels (create x --label gr<TAB>)" [ "$labels" = $'green\ngray' ]

        # -- qubesd goes away: exit status 4
        timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        for _ in $(seq 50); do kill -0 "$events_pid" 2>/dev/null || break; sleep 0.1; done
        check "events ends when qubesd goes away" bash -c "! kill -0 $events_pid 2>/dev/null"
        wait "$events_pid"
        check "... with exit status 4" [ $? -eq 4 ]
        t "after qubesd stopped: exit status 4" 4 "cannot connect" ls
fi

echo "$failures failure(s), ${#skipped[@]} part(s) skipped"
for s in "${skipped[@]}"; do echo "  skipped: $s"; done
[ "$failures" -eq 0 ] || exit 1
[ "${#skipped[@]}" -eq 0 ] || exit 77
exit 0
