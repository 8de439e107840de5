#!/usr/bin/env bash
# Real QEMU guests through libvirt beside a native domain, under one policy,
# with every daemon of this build (busd, qubesd, qrexec-policyd): two
# libvirt domains (TCG) booted from tools/build-guest-image's kernel +
# initramfs, installed as kernel `odyssey`, and one native domain.
#   - qrexec calls native -> libvirt, libvirt -> native, libvirt -> libvirt;
#     file copies native -> libvirt, libvirt -> native, libvirt -> libvirt;
#     `qubes-ctl ls` and `virsh list` agree;
#   - the same scenario script (create, start, run, calls, copy, shutdown,
#     remove) on a native and on a libvirt domain;
#   - shutdown through the ACPI power button; kill; `virsh destroy` behind qubesd's back is
#     seen as stopped; a restarted qubesd re-adopts a running guest, whose
#     calls still work;
#   - commands run as the user the call names (`--user root`: uid 0; default: user);
#   - the guest's mux killed (its agent loop starts it again) and the host's
#     mux killed (qubesd's launcher starts it again): calls work again.
# Slow (TCG boots): runs with ODYSSEY_SLOW_TESTS=1 (tools/check's plain build).
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
src=${ODYSSEY_SRCDIR:?run through make check}
if [ "${ODYSSEY_SLOW_TESTS:-0}" != 1 ]; then
        echo "SKIP: boots QEMU guests under TCG; run with ODYSSEY_SLOW_TESTS=1"
        exit 77
fi
if [ "$(id -u)" -ne 0 ] || ! command -v virsh >/dev/null || ! command -v qemu-system-x86_64 >/dev/null; then
        echo "SKIP: needs root, libvirt and QEMU"
        exit 77
fi
export ctl=$build/client/qubes-ctl
export ODYSSEY_BUILD=$build
unset QUBES_ADMIN_ADDRESS
URI=qemu:///system
LV="libvirt:$URI"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

tmp=$(mktemp -d /tmp/test-lvg.XXXXXX)
chmod 755 "$tmp"
root=$tmp/s
libvirtd_started=0
restarted_qubesd=
cleanup() {
        if [ -d "$root/run" ]; then
                timeout 120 "$ctl" kill vm1 vm2 >/dev/null 2>&1
                timeout 60 "$ctl" shutdown --all --wait --timeout 5 >/dev/null 2>&1
                [ -z "$restarted_qubesd" ] || { kill "$restarted_qubesd"; wait "$restarted_qubesd"; } 2>/dev/null
                timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        fi
        for d in $(virsh -q -c "$URI" list --name 2>/dev/null | grep '^odyssey-' || true); do
                grep -q "$root" <(virsh -c "$URI" dumpxml "$d" 2>/dev/null) && virsh -q -c "$URI" destroy "$d" >/dev/null 2>&1
        done
        [ "$libvirtd_started" -eq 0 ] || "$src/tools/libvirtd-ensure" stop --quiet
        rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "FATAL: $*"; for f in "$root"/log/*.log "$root"/run/libvirt/*/console.log; do [ -f "$f" ] && { echo "== $f"; tail -40 "$f"; }; done; exit 1; }

# the agents' tools are in /run/odyssey/agents (native) or /opt/odyssey/bin (QEMU guest image)
run() { out=$(timeout 300 "$ctl" run --pass-io $RUN_AS "$1" "PATH=/opt/odyssey/bin:/run/odyssey/agents:\$PATH; $2" 2>"$tmp/err" </dev/null); rc=$?; err=$(<"$tmp/err"); }
RUN_AS=
run_root() { RUN_AS="--user root" run "$@"; }
# A call into vm1 until one works (a restarted mux takes a moment), at most $1 s.
call_works_again() {
        local deadline=$((SECONDS + $1))
        while :; do
                run scenario-peer "echo e | qrexec-client-vm vm1 test.Echo+$2"
                [ "$rc" -eq 0 ] || [ $SECONDS -ge $deadline ] && break
                sleep 1
        done
}
expect() { # WHAT STATUS OUTPUT-REGEX
        if [ "$rc" -ne "$2" ]; then fail "$1: status $rc, wanted $2 (stderr: $err; out: $out)"; return 1; fi
        if [ -n "$3" ] && ! grep -Eq -- "$3" <<<"$out"; then fail "$1: output does not match /$3/: $out"; return 1; fi
        ok "$1"
}
state() { "$ctl" ls --raw --fields name,state 2>/dev/null | awk -F'\t' -v n="$1" '$1 == n { print $2 }'; }
wait_state() { # NAME STATE SECONDS
        local deadline=$((SECONDS + $3))
        while [ "$(state "$1")" != "$2" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        [ "$(state "$1")" = "$2" ]
}
virsh_running() { virsh -q -c "$URI" list --name 2>/dev/null | grep '^odyssey-' | sort | tr '\n' ' '; }

"$src/tools/libvirtd-ensure" start --quiet || die "libvirtd does not run"
libvirtd_started=1

timeout 120 "$src/tools/stack" start --root "$root" >"$tmp/stack.out" 2>&1 || { cat "$tmp/stack.out"; die "stack did not start"; }
export QUBES_ADMIN_ADDRESS="unix:path=$root/run/admin.sock"
"$src/tools/build-guest-image" --quiet --agents "$build/agents/bin" --output "$root/state/kernels/odyssey" \
        || die "cannot build the guest image"
ok "guest image installed as kernel odyssey"

"$ctl" create debian --class TemplateVM --label black >/dev/null || die "create template"
"$ctl" global-prefs default_template debian || die "default_template"
"$ctl" create scenario-peer --class AppVM --label blue >/dev/null || die "create scenario-peer"
for vm in vm1 vm2; do
        "$ctl" create $vm --class AppVM --label green --prop backend=$LV --prop kernel=odyssey \
                --prop memory=256 --prop vcpus=1 >/dev/null || die "create $vm"
done
cat >"$root/etc/policy.d/10-test.policy" <<'EOF'
test.Echo       *       @anyvm      @anyvm      allow
qubes.Filecopy  *       @anyvm      @anyvm      allow
EOF
for i in $(seq 100); do "$ctl" policy status 2>/dev/null | grep -q '^files: 2$' && break; sleep 0.1; done

t0=$SECONDS
timeout 300 "$ctl" start scenario-peer vm1 vm2 2>"$tmp/err" || die "start: $(cat "$tmp/err")"
ok "one native and two libvirt domains started ($((SECONDS - t0)) s)"

[ "$(virsh_running)" = "odyssey-vm1 odyssey-vm2 " ] && ok "virsh list shows the two guests" \
        || fail "virsh list: '$(virsh_running)'"
lv=$("$ctl" ls --raw --running --fields name,backend | awk -F'\t' '$2 ~ /^libvirt:/ { printf "odyssey-%s ", $1 }')
[ "$lv" = "$(virsh_running)" ] && ok "qubes-ctl ls and virsh list agree on the running guests" \
        || fail "qubes-ctl ls says '$lv', virsh '$(virsh_running)'"

echo_service='mkdir -p /run/qubes-rpc && printf "#!/bin/sh\necho \"\$1 got \$(cat) from \$QREXEC_REMOTE_DOMAIN\"\n" >/run/qubes-rpc/test.Echo && chmod +x /run/qubes-rpc/test.Echo'
for d in scenario-peer vm1 vm2; do
        run $d "$echo_service"
        expect "admin -> $d: a command runs (installs test.Echo)" 0 '' || die "no service in $d"
done
run vm1 'id -un; id -u; cat /proc/cmdline'
expect "a command in a libvirt guest runs as user, in the guest's own kernel" 0 'odyssey\.domid='
[ "$(sed -n 1,2p <<<"$out" | tr '\n' ' ')" = "user 1000 " ] && ok "by default as user (uid 1000)" \
        || fail "default user: $out"
run_root vm1 'id -u; echo $HOME'
expect "--user root runs as root in a guest" 0 '^0$' && [ "$(sed -n 2p <<<"$out")" = /root ] \
        && ok "with root's home" || fail "--user root: $out"
RUN_AS="--user nosuchuser" run vm1 'id -u'
expect "a user the guest does not have is refused" 125 '' && grep -q "cannot run as user nosuchuser" <<<"$err" \
        && ok "with a message" || fail "unknown user: out '$out' err '$err'"

run scenario-peer "echo a | qrexec-client-vm vm1 test.Echo+n2l"
expect "call native -> libvirt" 0 '^n2l got a from scenario-peer$'
run vm1 "echo b | qrexec-client-vm scenario-peer test.Echo+l2n"
expect "call libvirt -> native" 0 '^l2n got b from vm1$'
run vm1 "echo c | qrexec-client-vm vm2 test.Echo+l2l"
expect "call libvirt -> libvirt" 0 '^l2l got c from vm1$'
run vm2 "qrexec-client-vm vm1 test.Nothing </dev/null"
expect "a call no policy allows is refused in a guest too" 126 ''

run scenario-peer "head -c 1048576 /dev/urandom >/tmp/f.bin && sha256sum /tmp/f.bin && qvm-copy-to-vm vm2 /tmp/f.bin"
sum=${out%% *}
run vm2 "sha256sum /home/user/QubesIncoming/scenario-peer/f.bin"
expect "file copy native -> libvirt arrives intact" 0 "^$sum "
run vm1 "head -c 1048576 /dev/urandom >/tmp/g.bin && sha256sum /tmp/g.bin && qvm-copy-to-vm scenario-peer /tmp/g.bin && qvm-copy-to-vm vm2 /tmp/g.bin"
expect "a guest copies a file out, to a native domain and to another guest" 0 '' || out=
sum=${out%% *}
run scenario-peer "sha256sum ~/QubesIncoming/vm1/g.bin"
expect "file copy libvirt -> native arrives intact" 0 "^$sum "
run vm2 "sha256sum /home/user/QubesIncoming/vm1/g.bin"
expect "file copy libvirt -> libvirt arrives intact" 0 "^$sum "

# --------------------------------------------------------------- muxes that die
# The guest's mux, killed a second after the call that does it returned
# (that call's own stream runs through it): the guest's agent loop starts it
# again, its new session replaces the old one in the host mux.
t_mux=$SECONDS
mux_pid='for p in /proc/[0-9]*; do [ "$(readlink $p/exe)" = /opt/odyssey/bin/odyssey-vchan-mux ] && echo ${p#/proc/}; done'
run_root vm1 "p=\$($mux_pid); [ -n \"\$p\" ] && setsid sh -c \"sleep 1; kill -9 \$p\" >/dev/null 2>&1 </dev/null & echo killing"
expect "the guest's mux is killed (as root in the guest)" 0 '^killing$'
host_mux_pid() { pgrep -f "odyssey-vchan-mux --side host .*--dir $root/run/vchan/vm1( |$)"; }
old_host_mux=$(host_mux_pid)
for i in $(seq 300); do grep -q "odyssey-vchan-mux exited with 137" "$root"/run/libvirt/*/console.log && break; sleep 0.1; done
grep -q "odyssey-vchan-mux exited with 137" "$root"/run/libvirt/*/console.log && ok "the guest's agent loop restarts its mux" \
        || fail "the guest's mux did not die"
call_works_again 60 guest-mux
expect "calls into the guest work after its mux restarted ($((SECONDS - t_mux)) s after the kill was asked)" 0 \
        '^guest-mux got e from scenario-peer$'
grep -q "The guest's mux started again" "$root"/log/qubesd*.log && ok "the host mux took it as a new session" \
        || fail "no new session in the host mux's log"
[ -n "$old_host_mux" ] && [ "$(host_mux_pid)" = "$old_host_mux" ] && ok "the host mux stayed (a new session)" \
        || fail "host mux was '$old_host_mux', now '$(host_mux_pid)'"
# The host's mux: qubesd's launcher starts it again.
t_mux=$SECONDS
kill -9 "$old_host_mux" 2>/dev/null || fail "no host mux to kill"
for i in $(seq 300); do p=$(host_mux_pid); [ -n "$p" ] && [ "$p" != "$old_host_mux" ] && break; sleep 0.1; done
[ -n "$(host_mux_pid)" ] && [ "$(host_mux_pid)" != "$old_host_mux" ] && ok "the launcher restarted the host mux" \
        || fail "no new host mux: '$(host_mux_pid)'"
grep -q "vchan-mux ended (signal 9) while its domain runs; restarting it" "$root"/log/qubesd*.log \
        && ok "qubesd's log says why" || fail "no restart in qubesd's log"
call_works_again 60 host-mux
expect "calls into the guest work after the host mux restarted ($((SECONDS - t_mux)) s after the kill)" 0 \
        '^host-mux got e from scenario-peer$'
run vm1 "echo f | qrexec-client-vm scenario-peer test.Echo+out"
expect "and out of it" 0 '^out got f from vm1$'

# --------------------------------------------------------------- one scenario, two backends
if bash "$src/tests/scenario-domain.sh" sc-native; then ok "scenario on a native domain"; else fail "scenario on a native domain"; fi
if bash "$src/tests/scenario-domain.sh" sc-libvirt --prop backend=$LV --prop kernel=odyssey --prop memory=256 \
        --prop vcpus=1; then ok "the same scenario on a libvirt domain"; else fail "scenario on a libvirt domain"; fi

# --------------------------------------------------------------- qubesd restarts
qubesd_pid=$(awk '$1 == "qubesd" { print $2 }' <("$src/tools/stack" status --root "$root" 2>/dev/null))
[ -n "$qubesd_pid" ] || die "no qubesd pid in stack status"
kill "$qubesd_pid"
for i in $(seq 100); do kill -0 "$qubesd_pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$root/run/admin.sock"
# as the stack runs it (its environment), outside the stack: the stack starts whole stacks only
ODYSSEY_RUNTIME_DIR=$root/run ODYSSEY_STATE_DIR=$root/state "$build/daemons/qubesd/qubesd" \
        >>"$root/log/qubesd-restarted.log" 2>&1 &
restarted_qubesd=$!
for i in $(seq 300); do [ -S "$root/run/admin.sock" ] && "$ctl" ls >/dev/null 2>&1 && break; sleep 0.1; done
"$ctl" ls >/dev/null 2>&1 || die "qubesd did not restart"
[ "$(state vm1)" = Running ] && [ "$(state vm2)" = Running ] && ok "a restarted qubesd re-adopts the running guests" \
        || fail "after the restart: vm1 $(state vm1), vm2 $(state vm2)"
ok=0
for i in $(seq 20); do
        run scenario-peer "echo d | qrexec-client-vm vm1 test.Echo+again"
        [ "$rc" -eq 0 ] && { ok=1; break; }
        sleep 1
done
rc=$((1 - ok)); expect "calls into a re-adopted guest work" 0 '^again got d from scenario-peer$'

# --------------------------------------------------------------- stopping
# the power button: the guest's acpid stops its agents and powers off, well
# inside the timeout (test-libvirt-qemu kills a guest that ignores it)
t0=$SECONDS
timeout 120 "$ctl" shutdown --wait --timeout 60 vm2
[ "$(state vm2)" = Halted ] && [ $((SECONDS - t0)) -lt 50 ] && ok "a guest shuts down cleanly on the power button ($((SECONDS - t0)) s)" \
        || fail "vm2 after shutdown: $(state vm2) after $((SECONDS - t0)) s"
grep -q "qrexec-agent stopped" "$root"/run/libvirt/*/console.log && ok "its console shows the agents stopping" \
        || fail "no orderly stop on the console"
timeout 120 "$ctl" kill vm1
[ "$(state vm1)" = Halted ] && ! virsh_running | grep -q odyssey-vm1 && ok "kill stops a guest at once" \
        || fail "after kill: $(state vm1), virsh '$(virsh_running)'"
timeout 300 "$ctl" start vm1 || die "start vm1 again"
virsh -q -c "$URI" destroy odyssey-vm1 >/dev/null || fail "virsh destroy"
t0=$SECONDS
wait_state vm1 Halted 10 && ok "virsh destroy behind qubesd's back: Halted after $((SECONDS - t0)) s" \
        || fail "after virsh destroy: $(state vm1)"

[ "$failures" -eq 0 ] || { echo "$failures failures"; for f in "$root"/log/qubesd.log "$root"/log/busd.log; do echo "== $f"; tail -30 "$f"; done; exit 1; }
echo "all passed"
