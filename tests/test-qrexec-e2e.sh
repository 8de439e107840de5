#!/usr/bin/env bash
# qrexec end to end on the native backend with the real daemons (busd,
# qubesd, qrexec-policyd from this build tree) and real domains running the
# real agents: calls domain to domain as policy allows, denies (126), asks a
# scripted ask agent, autostarts a halted target, runs in a disposable that is
# gone afterwards; admin to domain with exit codes; file copies of odd sizes
# and names; a burst of refused calls from a hostile domain that hurts nobody
# else; a caller that vanishes mid-stream.
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
src=${ODYSSEY_SRCDIR:?run through make check}
ctl=$build/client/qubes-ctl
export ODYSSEY_BUILD=$build
unset QUBES_ADMIN_ADDRESS

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

tmp=$(mktemp -d /tmp/test-qrexec.XXXXXX)
chmod 755 "$tmp"
root=$tmp/s
helpers=()
cleanup() {
        for p in "${helpers[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        if [ -d "$root/run" ]; then
                timeout 60 "$ctl" shutdown --all --wait --timeout 5 >/dev/null 2>&1
                timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "FATAL: $*"; for f in "$root"/log/*.log; do echo "== $f"; tail -30 "$f"; done; exit 1; }

# in DOMAIN SCRIPT: run a shell script in DOMAIN (stdin passed), output in $out, status in $rc.
inq() { local d=$1; shift; out=$(timeout 120 "$ctl" run --pass-io "$d" "$1" 2>"$tmp/err"); rc=$?; err=$(<"$tmp/err"); }
# inq_bash DOMAIN SCRIPT: the same, the script read by bash from stdin.
inq_bash() { out=$(printf '%s\n' "$2" | timeout 300 "$ctl" run --pass-io "$1" 'bash -s' 2>"$tmp/err"); rc=$?; err=$(<"$tmp/err"); }
expect() { # WHAT STATUS OUTPUT-REGEX
        if [ "$rc" -ne "$2" ]; then fail "$1: status $rc, wanted $2 (stderr: $err; out: $out)"; return 1; fi
        if [ -n "$3" ] && ! grep -Eq -- "$3" <<<"$out"; then fail "$1: output does not match /$3/: $out"; return 1; fi
        ok "$1"
}

timeout 120 "$src/tools/stack" start --root "$root" >"$tmp/stack.out" 2>&1 || { cat "$tmp/stack.out"; die "stack did not start"; }
export QUBES_ADMIN_ADDRESS="unix:path=$root/run/admin.sock"
agents=/run/odyssey/agents
qcvm=$agents/qrexec-client-vm

"$ctl" create debian --class TemplateVM --label black >/dev/null || die "create template"
"$ctl" global-prefs default_template debian || die "default_template"
for spec in work:blue personal:green untrusted:red; do
        "$ctl" create "${spec%%:*}" --class AppVM --label "${spec##*:}" >/dev/null || die "create $spec"
done
"$ctl" create dvm --class AppVM --label red --prop template_for_dispvms=True >/dev/null || die "create dvm"
"$ctl" global-prefs default_dispvm dvm || die "default_dispvm"

cat >"$root/etc/policy.d/10-test.policy" <<'EOF'
test.Echo       *       work        personal    allow
test.Echo       *       work        untrusted   allow
test.Echo       *       work        @dispvm     allow
test.Echo       *       personal    work        ask     default_target=work
test.Echo       *       untrusted   @anyvm      deny
test.Exit       *       work        personal    allow
test.Sink       *       work        personal    allow
qubes.Filecopy  *       work        personal    allow
test.AdminEnv   *       work        @adminvm    allow
test.AdminEnv   *       untrusted   @adminvm    deny
qubes.VMShell   *       work        @adminvm    allow
EOF

# A service of the admin domain (the stack's ROOT/etc/qubes-rpc), run by the
# admin agent: who it runs as, what it was told, what it read.
cat >"$root/etc/qubes-rpc/test.AdminEnv" <<'EOF'
#!/bin/sh
echo "uid=$(id -u) from=$QREXEC_REMOTE_DOMAIN type=$QREXEC_REQUESTED_TARGET_TYPE" \
     "target=${QREXEC_REQUESTED_TARGET:-}${QREXEC_REQUESTED_TARGET_KEYWORD:+keyword:$QREXEC_REQUESTED_TARGET_KEYWORD}" \
     "arg=${1:-} stdin=$(cat)"
EOF
chmod 755 "$root/etc/qubes-rpc/test.AdminEnv"

# policyd reloads on its own (inotify); wait until it says so.
for i in $(seq 100); do "$ctl" policy status 2>/dev/null | grep -q '^files: 2$' && break; sleep 0.1; done
"$ctl" policy status | grep -q '^files: 2$' && ok "policyd loaded the new policy file by itself" \
        || fail "policyd did not reload: $("$ctl" policy status 2>&1)"
"$ctl" start work personal || die "start"

# Test services live in the domains' own /run/qubes-rpc (first in the agent's
# default QREXEC_SERVICE_PATH; /run is each domain's own tmpfs).
services='mkdir -p /run/qubes-rpc
printf "#!/bin/sh\necho \"\$(hostname) got \$(cat) from \$QREXEC_REMOTE_DOMAIN arg=\$1\"\n" >/run/qubes-rpc/test.Echo
printf "#!/bin/sh\nexit \$1\n" >/run/qubes-rpc/test.Exit
printf "#!/bin/sh\nwc -c\n" >/run/qubes-rpc/test.Sink
chmod +x /run/qubes-rpc/test.*'
install_services() { inq "$1" "$services"; [ "$rc" -eq 0 ] || die "cannot install services in $1: $err"; }
install_services work
install_services personal

# ------------------------------------------------------------- admin -> domain
inq work 'echo hello from $(hostname); exit 3'
expect "admin -> domain: output and exit code" 3 '^hello from work$'
out=$(printf 'line one\n' | timeout 60 "$ctl" run --pass-io personal 'cat; echo done' 2>&1); rc=$?
expect "admin -> domain: stdin reaches the command" 0 'line one'
# Without --pass-io (JUST_EXEC) the agent still connects once to report the
# start: its port must not go to the next Run, whose output it would take.
for i in 1 2 3; do
        out=$(timeout 60 "$ctl" run work "touch /tmp/just-exec-$i" 2>&1); rc=$?
        expect "admin -> domain without --pass-io: started ($i)" 0 ''
        inq work "echo next-$i"
        expect "the next Run's output is its own ($i)" 0 "^next-$i\$"
done

# ------------------------------------------------------------- domain -> domain
inq work "echo ping | $qcvm personal test.Echo+xyz"
expect "allowed call: the service runs in the target with caller, argument and stdin" 0 \
        '^personal got ping from work arg=xyz$'
inq work "$qcvm personal test.Exit+7 </dev/null"
expect "the service's exit status comes back to the caller" 7 ''
inq work "$qcvm personal test.Nothing </dev/null"
expect "a call no policy rule allows is refused (126)" 126 ''

# ------------------------------------------------------------- domain -> admin
admin_uid=$(awk '$2 == "admin-agent" { print $3 }' "$root/run/roles")
inq work "echo hi | $qcvm dom0 test.AdminEnv+a1"
expect "domain -> admin: the service runs in the admin domain as the admin agent's user" 0 \
        "^uid=$admin_uid from=work type=name target=dom0 arg=a1 stdin=hi\$"
inq work "echo kw | $qcvm @adminvm test.AdminEnv"
expect "domain -> admin: @adminvm reaches it too, named as a keyword" 0 \
        '^uid=[0-9]+ from=work type=keyword target=keyword:adminvm arg= stdin=kw$'
inq work "$qcvm dom0 qubes.GetDate </dev/null"
expect "domain -> admin: qubes.GetDate (shipped, allowed by the default policy)" 0 \
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00$'
inq work "$qcvm dom0 test.AdminNothing </dev/null"
expect "domain -> admin: a call no rule allows is refused (126)" 126 ''
inq work "echo id | $qcvm dom0 qubes.VMShell"
expect "domain -> admin: domains' own services are not the admin domain's (allowed, not found: 127)" 127 ''

# deny: untrusted may not call anyone
"$ctl" start untrusted || die "start untrusted"
install_services untrusted
inq untrusted "echo x | $qcvm work test.Echo"
expect "denied call: 126 at the caller" 126 ''
inq untrusted "echo x | $qcvm dom0 test.AdminEnv"
expect "domain -> admin: denied by policy, 126 at the caller" 126 ''

# autostart: a halted target is started by the call
"$ctl" shutdown untrusted --wait --timeout 10 || die "shutdown untrusted"
inq work "echo wake | $qcvm untrusted test.Echo 2>&1"
# The services of a fresh start are gone (their /run was the old one): the
# call reaches the target's agent, which does not find test.Echo: 127.
expect "autostart: the halted target is started for the call" 127 ''
state=$("$ctl" ls --fields NAME,STATE 2>/dev/null | awk '$1 == "untrusted" { print $2 }')
[ "$state" = Running ] && ok "autostart: untrusted is running after the call" || fail "untrusted is '$state'"

# registered FILE: wait until the ask agent writing FILE has registered.
registered() { for i in $(seq 300); do grep -q '^Registered as the ask agent' "$1" && return; sleep 0.1; done; die "no ask agent"; }
# ask: a scripted ask agent answers; then one that refuses
timeout 120 "$ctl" ask-agent --answer work >"$tmp/ask.out" 2>&1 &
helpers+=($!)
registered "$tmp/ask.out"
inq personal "echo q | $qcvm work test.Echo"
expect "ask: the agent's choice is used" 0 '^work got q from personal'
grep -q 'personal' "$tmp/ask.out" && ok "ask: the agent saw the request" || fail "ask agent output: $(cat "$tmp/ask.out")"
kill "${helpers[-1]}"; wait "${helpers[-1]}" 2>/dev/null
timeout 120 "$ctl" ask-agent --deny >"$tmp/ask2.out" 2>&1 &
helpers+=($!)
registered "$tmp/ask2.out"
inq personal "echo q | $qcvm work test.Echo"
expect "ask: refused by the user -> 126" 126 ''

# disposable: created for the call, gone afterwards
inq work "echo d | $qcvm @dispvm test.Echo 2>&1; true"
# a fresh disposable has no test service: the agent there answers 127, but
# it ran in a disposable named disp<N>, removed afterwards.
for i in $(seq 50); do "$ctl" ls --fields NAME 2>/dev/null | grep -q '^disp[0-9]' || break; sleep 0.2; done
if "$ctl" ls --fields NAME 2>/dev/null | grep -q '^disp[0-9]'; then fail "a disposable is left over"; else ok "disposable: gone after the call"; fi
grep -q 'disp[0-9]' "$root/log/qrexec-policyd.log" && ok "disposable: the call went to a disposable" \
        || fail "no disposable in the policy log"

# qubes-ctl run --dispvm
out=$(timeout 120 "$ctl" run --pass-io --dispvm=dvm 'hostname' 2>&1); rc=$?
expect "qubes-ctl run --dispvm runs in a disposable" 0 '^disp[0-9]+$'

# ------------------------------------------------------------ file copy
make_files='set -e; d=$HOME/out; rm -rf "$d"; mkdir -p "$d/tree/sub dir"; cd "$d"
: >empty; printf x >one; head -c 100000000 /dev/urandom >big
printf a >"tree/with space"; printf b >"tree/new
line"; printf c >"tree/-dash"; printf d >"tree/sub dir/ünïcødé"; ln -s "../-dash" "tree/sub dir/link"
find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z | while IFS= read -r -d "" f; do printf "%s %q\n" "$(sha256sum <"$f" | cut -c1-16)" "$f"; done'
list_files='set -e; cd ~/QubesIncoming/work; find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z | while IFS= read -r -d "" f; do printf "%s %q\n" "$(sha256sum <"$f" | cut -c1-16)" "$f"; done'
inq_bash work "$make_files"
expect "file copy: the files to send are made" 0 '\./big$'
sums_sent=$out
inq work "cd ~/out && $agents/qvm-copy-to-vm personal empty one big tree"
expect "file copy: qvm-copy-to-vm of 0 B, 1 B, 100 MB and a tree with odd names" 0 ''
inq_bash personal "$list_files"
if [ "$out" = "$sums_sent" ]; then ok "file copy: every file arrived intact in ~/QubesIncoming/work"; else
        fail "file copy: what arrived differs: sent [$sums_sent] got [$out]"; fi
inq personal 'readlink ~/QubesIncoming/work/tree/"sub dir"/link'
expect "file copy: a symlink inside the copy stays a symlink" 0 '^\.\./-dash$'
mkdir -p "$tmp/admin/dir" && echo "from the admin domain" >"$tmp/admin/note" && printf z >"$tmp/admin/dir/odd name"
out=$(timeout 120 "$ctl" copy "$tmp/admin/note" "$tmp/admin/dir" personal 2>&1); rc=$?
expect "qubes-ctl copy: files from the admin domain" 0 ''
inq personal 'cat ~/QubesIncoming/dom0/note && cat ~/QubesIncoming/dom0/dir/"odd name"'
expect "qubes-ctl copy: they are in ~/QubesIncoming/dom0" 0 '^from the admin domain$'
out=$(timeout 120 "$ctl" copy "$tmp/admin/note" personal 2>&1); rc=$?
expect "qubes-ctl copy: nothing is overwritten" 1 'File exists'
inq untrusted "cd /tmp && echo x >f && $agents/qvm-copy-to-vm personal f"
[ "$rc" -ne 0 ] && ok "file copy: refused for untrusted (status $rc)" || fail "untrusted could copy to personal"

# ------------------------------------------------------------ hostile caller
inq untrusted "for i in \$(seq 300); do $qcvm work test.Echo </dev/null >/dev/null 2>&1 & done; wait; echo burst-done"
expect "a burst of 300 refused calls completes" 0 'burst-done'
inq work "echo after | $qcvm personal test.Echo"
expect "other domains' calls still work after the burst" 0 '^personal got after from work'

# a caller that vanishes mid-stream
inq work "head -c 50000000 /dev/zero | $qcvm personal test.Sink & p=\$!; sleep 0.3; kill -9 \$p; wait \$p; echo killed"
expect "a caller killed mid-call" 0 'killed'
inq work "printf 12345 | $qcvm personal test.Sink"
expect "the next call between the same domains works" 0 '^5$'

# busd and policyd are still the same processes
for d in busd qrexec-policyd admin-agent; do
        "$src/tools/stack" status --root "$root" 2>/dev/null | grep -q "^$d .* running" && ok "$d still running" \
                || fail "$d is not running"
done

if [ "$failures" -gt 0 ]; then
        for f in "$root"/log/*.log; do echo "== $f"; tail -40 "$f"; done
        [ -n "${ODYSSEY_KEEP_LOGS:-}" ] && cp -r "$root/log" "$ODYSSEY_KEEP_LOGS"
fi
echo "failures: $failures"
[ "$failures" -eq 0 ]
