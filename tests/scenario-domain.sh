#!/usr/bin/env bash
# One user's story of a domain, the same whatever isolates it:
#   scenario-domain.sh NAME [qubes-ctl create options...]
# creates domain NAME (with the options given, e.g. --prop backend=...),
# starts it, runs a command in it, calls a service in it from the domain
# `scenario-peer` and back, copies a file into it, shuts it down and
# removes it.  Needs QUBES_ADMIN_ADDRESS, $ctl (qubes-ctl), a running
# `scenario-peer` domain and a policy allowing test.Echo and qubes.Filecopy
# between them (test-libvirt-guests.sh sets that up and runs this once per
# backend).  Prints "ok: ..." per step; exits 1 at the first failure.
set -uo pipefail

name=${1:?usage: scenario-domain.sh NAME [create options]}
shift
ctl=${ctl:?set ctl to qubes-ctl}
peer=scenario-peer
tmp=$(mktemp -d /tmp/scenario.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

step() { echo "ok: $name: $*"; }
die() { echo "FAIL: $name: $*"; exit 1; }
# run DOMAIN COMMAND: output in $out, status in $rc
# the agents' tools are in /run/odyssey/agents (native) or /opt/odyssey/bin (QEMU guest image)
run() { out=$(timeout 300 "$ctl" run --pass-io "$1" "PATH=/opt/odyssey/bin:/run/odyssey/agents:\$PATH; $2" 2>"$tmp/err" </dev/null); rc=$?; }
state() { "$ctl" ls --raw --fields name,state 2>/dev/null | awk -F'\t' -v n="$1" '$1 == n { print $2 }'; }

"$ctl" create "$name" --class AppVM --label orange "$@" >/dev/null || die "create"
step "created"
timeout 300 "$ctl" start "$name" || die "start: $(tail -3 "$tmp/err" 2>/dev/null)"
[ "$(state "$name")" = Running ] || die "not Running after start: $(state "$name")"
step "started"

run "$name" 'echo hello; exit 5'
[ "$rc" -eq 5 ] && [ "$out" = hello ] || die "command: status $rc, output '$out' ($(cat "$tmp/err"))"
step "a command's output and exit status come back"

# the service, in each domain's own /run/qubes-rpc
for d in "$name" "$peer"; do
        run "$d" 'mkdir -p /run/qubes-rpc && printf "#!/bin/sh\necho \"got \$(cat) from \$QREXEC_REMOTE_DOMAIN\"\n" >/run/qubes-rpc/test.Echo && chmod +x /run/qubes-rpc/test.Echo'
        [ "$rc" -eq 0 ] || die "cannot install test.Echo in $d: $(cat "$tmp/err")"
done
run "$peer" "echo ping | qrexec-client-vm $name test.Echo"
[ "$rc" -eq 0 ] && [ "$out" = "got ping from $peer" ] || die "call $peer -> $name: status $rc, '$out'"
step "a call from $peer reaches it"
run "$name" "echo pong | qrexec-client-vm $peer test.Echo"
[ "$rc" -eq 0 ] && [ "$out" = "got pong from $name" ] || die "call $name -> $peer: status $rc, '$out'"
step "its call reaches $peer"

# 3 MiB of random bytes: several rings' worth through every hop
run "$peer" "head -c 3145728 /dev/urandom >/tmp/scenario.bin && sha256sum /tmp/scenario.bin"
[ "$rc" -eq 0 ] || die "cannot make the file in $peer"
sum=${out%% *}
run "$peer" "qvm-copy-to-vm $name /tmp/scenario.bin"
[ "$rc" -eq 0 ] || die "qvm-copy-to-vm: status $rc ($(cat "$tmp/err"))"
run "$name" "sha256sum /home/user/QubesIncoming/$peer/scenario.bin"
[ "$rc" -eq 0 ] && [ "${out%% *}" = "$sum" ] || die "copied file: status $rc, '$out' (wanted $sum)"
step "a 3 MiB file copied from $peer arrives intact"

timeout 300 "$ctl" shutdown --wait --timeout 60 "$name" || die "shutdown"
[ "$(state "$name")" = Halted ] || die "not Halted after shutdown: $(state "$name")"
step "shut down"
"$ctl" remove "$name" >/dev/null || die "remove"
step "removed"
