#!/usr/bin/env bash
# tools/stack end to end, with tests/stack-test-daemon standing in for the real
# daemons: start, status (running, sandboxed, under the role's uid), two stacks
# side by side, refusing a second start, failures that undo the start, stop
# leaving no process behind.
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
src=${ODYSSEY_SRCDIR:?run through make check}
if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the stack runs daemons under their roles' uids, which needs root"
        exit 77
fi
export ODYSSEY_BUILD=$build
unset ODYSSEY_NO_SECCOMP ODYSSEY_UID_BASE
stack() { timeout 60 "$src/tools/stack" "$@"; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else fail "$what"; fi; }

# Alive: exists and is not a zombie (nobody may reap orphans on this machine).
alive() { local s; s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -n "$s" ] && [ "$s" != Z ]; }
dead() { ! alive "$1"; }
quiet() { "$@" >/dev/null 2>&1; }
pids_of() { awk '{print $2}' "$1/run/stack.pids"; }
# Live processes started by the stack in $1 (they carry its NOTIFY_SOCKET).
stack_procs() {
        local sock p
        sock="NOTIFY_SOCKET=$(cd "$1" && pwd -P)/run/notify.sock"
        for p in $(pgrep -f "^$build/tests/stack-test-daemon"); do
                grep -qzx -- "$sock" "/proc/$p/environ" 2>/dev/null && alive "$p" && echo "$p"
        done
}

a=$(mktemp -d /tmp/test-stack-a.XXXXXX)
b=$(mktemp -d /tmp/test-stack-b.XXXXXX)
cleanup() { stack stop --root "$a" >/dev/null 2>&1; stack stop --root "$b" >/dev/null 2>&1; rm -rf "$a" "$b"; }
trap cleanup EXIT
test_daemons=(--daemon t1=tests/stack-test-daemon:guid --daemon t2=tests/stack-test-daemon --only t1,t2)

# --- usage
check "--help explains the commands" bash -c "'$src/tools/stack' --help | grep -q 'start|stop|status'"
stack frobnicate --root "$a" >/dev/null 2>&1; check "unknown command is a usage error (2)" [ $? -eq 2 ]
stack start >/dev/null 2>&1; check "--root is required" [ $? -eq 2 ]
stack start --root "$a" --daemon 'x=y:nosuchrole' >/dev/null 2>&1; check "unknown role refused" [ $? -eq 2 ]

# --- start A (output captured through a pipe: the keeper must let go of it)
out=$(stack start --root "$a" --uid-base 65000 "${test_daemons[@]}" 2>"$a.err")
rc=$?
check "start A succeeds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$a.err"
check "start prints the Admin API address" grep -qx "QUBES_ADMIN_ADDRESS=unix:path=$(cd "$a" && pwd -P)/run/admin.sock" <<<"$out"
check "start prints a line per daemon" [ "$(grep -c '^# t[12]: pid [0-9]*, uid ' <<<"$out")" -eq 2 ]
check "stack.pids lists both daemons" [ "$(awk '$1 ~ /^t[12]$/ && $2 > 1' "$a/run/stack.pids" | wc -l)" -eq 2 ]
check "run/roles has the table (qrexec-policyd = base + 2)" grep -qx 'uid qrexec-policyd 65002' "$a/run/roles"
check "run/roles says qubesd is root" grep -qx 'uid qubesd 0' "$a/run/roles"

status=$(stack status --root "$a"); rc=$?
echo "$status"
check "status A exits 0 when all run" [ $rc -eq 0 ]
check "t1 runs sandboxed as guid's uid" grep -Eq '^t1 +[0-9]+ running Seccomp=2 NoNewPrivs=1 uid=65003$' <<<"$status"
check "t2 (no role) runs sandboxed as root" grep -Eq '^t2 +[0-9]+ running Seccomp=2 NoNewPrivs=1 uid=0$' <<<"$status"
for p in $(pids_of "$a"); do
        check "pid $p has the stack's runtime dir" grep -qzx "ODYSSEY_RUNTIME_DIR=$(cd "$a" && pwd -P)/run" "/proc/$p/environ"
done
check "the logs get the daemons' stderr" grep -q 'Serving (uid 65003)' "$a/log/t1.log"

stack start --root "$a" "${test_daemons[@]}" >/dev/null 2>"$a.err"; rc=$?
check "a second start in A is refused" [ $rc -eq 1 ]
check "... saying why" grep -q 'already running' "$a.err"

# --- B beside A
stack start --root "$b" "${test_daemons[@]}" >/dev/null 2>"$b.err"; rc=$?
check "start B beside A succeeds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$b.err"
check "B's t1 runs as the default base's guid uid" bash -c "'$src/tools/stack' status --root '$b' | grep -Eq '^t1 .* uid=64103$'"
check "A still all running" quiet stack status --root "$a"
check "B all running" quiet stack status --root "$b"
check "A and B are different processes" [ -z "$(comm -12 <(pids_of "$a" | sort) <(pids_of "$b" | sort))" ]

# --- stop A
a_pids=$(pids_of "$a")
keeper=$(cat "$a/run/keeper.pid")
out=$(stack stop --root "$a"); rc=$?
check "stop A succeeds" [ $rc -eq 0 ]
check "stop says what it stopped" [ "$(grep -c '^stopped t[12] (pid [0-9]*)$' <<<"$out")" -eq 2 ]
for p in $a_pids; do check "A's pid $p is gone" dead "$p"; done
check "stop removes stack.pids" [ ! -e "$a/run/stack.pids" ]
stack status --root "$a" >/dev/null 2>&1; check "status of a stopped stack exits 3" [ $? -eq 3 ]
for _ in $(seq 50); do grep -q 'No daemon left' "$a/log/stack.log" 2>/dev/null && break; sleep 0.1; done
check "the keeper logged clean exits" [ "$(grep -c 't[12] (pid [0-9]*) exited with status 0' "$a/log/stack.log")" -eq 2 ]
check "the keeper is gone" dead "$keeper"
check "B unaffected by stopping A" quiet stack status --root "$b"
stack stop --root "$a" >/dev/null 2>&1; check "stop twice is fine" [ $? -eq 0 ]

# --- a daemon that dies while starting: start fails, shows its log, undoes the rest
stack start --root "$a" --daemon t1=tests/stack-test-daemon:guid --daemon bad=tests/stack-test-daemon:netvm-mgr \
        --arg bad=--exit-before-ready --only t1,bad >/dev/null 2>"$a.err"; rc=$?
check "start with a dying daemon fails" [ $rc -eq 1 ]
check "... naming it" grep -q 'bad exited while the stack was starting' "$a.err"
check "... with its log tail" grep -q 'Exiting before readiness, as asked' "$a.err"
check "... and leaves no stack.pids" [ ! -e "$a/run/stack.pids" ]
check "... nor a running t1" [ -z "$(stack_procs "$a")" ]

# --- a daemon that never says READY=1
stack start --root "$a" --timeout 1 --daemon slow=tests/stack-test-daemon --arg slow=--never-ready --only slow \
        >/dev/null 2>"$a.err"; rc=$?
check "start with a daemon that is never ready fails" [ $rc -eq 1 ]
check "... saying it timed out" grep -q 'slow did not report READY=1 within 1 s' "$a.err"

# --- a missing program asked for by name
stack start --root "$a" --daemon ghost=tests/no-such-daemon --only ghost >/dev/null 2>"$a.err"; rc=$?
check "start of a program that is not built fails" [ $rc -eq 1 ]

# --- stop B: nothing of either stack left running
b_pids=$(pids_of "$b")
check "stop B succeeds" quiet stack stop --root "$b"
for p in $b_pids; do check "B's pid $p is gone" dead "$p"; done
check "no test daemon of either stack is left" [ -z "$(stack_procs "$a")$(stack_procs "$b")" ]

rm -f "$a.err" "$b.err"
echo "$failures failure(s)"
[ $failures -eq 0 ]
