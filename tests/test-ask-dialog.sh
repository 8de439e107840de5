#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# odyssey-ask-dialog under a private Xvfb and a private stack: the domain
# personal makes real qrexec calls (qrexec-client-vm @default test.Echo+hello)
# that the policy says to ask about, with the targets vault (default) and
# work.  qrexec-policyd asks qubesd, qubesd's ask relay asks the dialog; the
# user's answer, given with xdotool, decides where the call goes:
# Down+Enter -> work, a click on Allow -> vault, Escape / the window closed /
# the timeout -> refused (126).  Each target shows its label color (vault
# orange, work purple: colors the dialog uses for nothing else), and the
# dialog runs under seccomp.
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
src=${ODYSSEY_SRCDIR:?run through make check}
ctl=$build/client/qubes-ctl
dialog=$build/client/ask-dialog/odyssey-ask-dialog
close=$build/tests/ask-dialog-close
export ODYSSEY_BUILD=$build
unset QUBES_ADMIN_ADDRESS DISPLAY

. "$(dirname "$0")/gui-test-lib.sh"
need_tools Xvfb xdotool xprop xwd python3

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

tmp=$(mktemp -d /tmp/test-ask-dialog.XXXXXX)
chmod 755 "$tmp"
root=$tmp/s
xvfb_pid=
dialog_pid=
cleanup() {
        [ -n "$dialog_pid" ] && kill "$dialog_pid" 2>/dev/null && wait "$dialog_pid" 2>/dev/null
        if [ -d "$root/run" ]; then
                timeout 60 "$ctl" shutdown --all --wait --timeout 5 >/dev/null 2>&1
                timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        fi
        [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null
        rm -rf "$tmp"
}
trap cleanup EXIT
die() {
        echo "FATAL: $*"
        for f in "$root"/log/*.log "$tmp"/dialog*.log; do [ -f "$f" ] && { echo "== $f"; tail -30 "$f"; }; done
        exit 1
}

start_xvfb "$tmp/xvfb.log" || die "Xvfb did not start"
xvfb_pid=$XVFB_PID
export DISPLAY=:$XVFB_DISPLAY

timeout 120 "$src/tools/stack" start --root "$root" >"$tmp/stack.out" 2>&1 \
        || { cat "$tmp/stack.out"; die "stack did not start"; }
export QUBES_ADMIN_ADDRESS="unix:path=$root/run/admin.sock"

"$ctl" create debian --class TemplateVM --label black >/dev/null || die "create template"
"$ctl" global-prefs default_template debian || die "default_template"
for spec in work:purple personal:green vault:orange; do
        "$ctl" create "${spec%%:*}" --class AppVM --label "${spec##*:}" >/dev/null || die "create $spec"
done
cat >"$root/etc/policy.d/10-test.policy" <<'EOF'
test.Echo       *       personal    @default    ask     default_target=vault
test.Echo       *       personal    vault       ask
test.Echo       *       personal    work        ask
EOF
wait_for 20 sh -c "'$ctl' policy status 2>/dev/null | grep -q '^files: 2$'" || die "policyd did not load the policy"
"$ctl" start work personal vault || die "start"
for d in work vault; do
        timeout 60 "$ctl" run --pass-io "$d" 'mkdir -p /run/qubes-rpc &&
printf "#!/bin/sh\necho \"\$(hostname) got \$(cat) from \$QREXEC_REMOTE_DOMAIN arg=\$1\"\n" >/run/qubes-rpc/test.Echo &&
chmod +x /run/qubes-rpc/test.Echo' || die "cannot install test.Echo in $d"
done

# start_dialog [OPTIONS]: the dialog as the ask agent, waits until it registered
# (each instance its own files: the shell truncates a reused one only once the child runs)
n_dialogs=0
start_dialog() {
        n_dialogs=$((n_dialogs + 1))
        dialog_log=$tmp/dialog-$n_dialogs.log
        "$dialog" "$@" >"$tmp/dialog-$n_dialogs.out" 2>"$dialog_log" &
        dialog_pid=$!
        wait_for 30 grep -qs '^Registered as the ask agent' "$tmp/dialog-$n_dialogs.out" \
                || die "the dialog did not register"
}
stop_dialog() {
        kill "$dialog_pid"
        wait "$dialog_pid"
        local code=$?
        dialog_pid=
        # (sanitizer builds: a report fails the test even when the status does not)
        ! grep -E 'runtime error|Sanitizer' "$dialog_log" || fail "the dialog's log has a sanitizer report"
        return $code
}
# ask [ID]: personal calls @default test.Echo+hello in the background;
# call_done [ID] waits for it: its status in $rc, its output in $out
ask() {
        local id=${1:-call}
        rm -f "$tmp/$id.out" "$tmp/$id.rc"
        (timeout 120 "$ctl" run --pass-io personal \
                "echo q | /run/odyssey/agents/qrexec-client-vm @default test.Echo+hello" >"$tmp/$id.out" 2>&1
         echo $? >"$tmp/$id.rc") &
}
call_done() {
        local id=${1:-call}
        wait_for 90 test -s "$tmp/$id.rc" || die "the call did not end"
        rc=$(<"$tmp/$id.rc")
        out=$(<"$tmp/$id.out")
}
# find_dialog [N]: wait for N (default 1) dialog windows, taking input; the first in $W, all in $tmp/wins
find_dialog() {
        local n=${1:-1}
        wait_for 60 sh -c "xdotool search --onlyvisible --class '^odyssey-ask-dialog\$' >'$tmp/wins' &&
                [ \$(wc -l <'$tmp/wins') -ge $n ]" || die "no $n dialog window(s) appeared"
        [ "$(wc -l <"$tmp/wins")" -eq "$n" ] || fail "$(wc -l <"$tmp/wins") dialog windows for $n question(s)"
        W=$(head -n 1 "$tmp/wins")
        # input is taken once the dialog says so (it ignores the first half second)
        for w in $(cat "$tmp/wins"); do
                wait_for 20 sh -c "xprop -id $w _ODYSSEY_ASK_READY | grep -q '= 1\$'" \
                        || fail "the dialog never took input"
        done
}
dialog_gone() {
        wait_for 20 sh -c "! xdotool search --onlyvisible --class '^odyssey-ask-dialog\$' >/dev/null" \
                && ok "$1: the dialog is gone" || fail "$1: the dialog is still shown"
}

start_dialog

# --- Down, Enter: the second target (work) ---
ask
find_dialog
title=$(xdotool getwindowname "$W")
[ "$title" = "Odyssey: personal wants to call test.Echo" ] && ok "the title names the source and the service" \
        || fail "title: '$title'"
xprop -id "$W" WM_CLASS | grep -q '"odyssey-ask-dialog", "odyssey-ask-dialog"' && ok "WM_CLASS odyssey-ask-dialog" \
        || fail "WM_CLASS: $(xprop -id "$W" WM_CLASS)"

# a screenshot of the dialog: the header band, text on it, the target list, the buttons
xwd -silent -id "$W" -out "$tmp/dialog.xwd" || fail "xwd"
cat >"$tmp/xwd.py" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
h = struct.unpack(">25I", data[:100])
hsize, width, height, order, bpp, bpl, ncolors = h[0], h[4], h[5], h[7], h[11], h[12], h[19]
assert bpp == 32, bpp
pix = data[hsize + 12 * ncolors:]
def at(x, y):
    v = struct.unpack_from("<I" if order == 0 else ">I", pix, y * bpl + 4 * x)[0]
    return v & 0xffffff
if sys.argv[2] == "colors":
    print(len({at(x, y) for y in range(height) for x in range(width)}))
elif sys.argv[2] == "has":          # has COLOR: 0 if some pixel has exactly that color
    c = int(sys.argv[3], 16)
    sys.exit(0 if any(at(x, y) == c for y in range(height) for x in range(width)) else 1)
elif sys.argv[2] == "count":        # count COLOR: how many pixels have exactly that color
    c = int(sys.argv[3], 16)
    print(sum(1 for y in range(height) for x in range(width) if at(x, y) == c))
elif sys.argv[2] == "rows":         # rows COLOR: the first and last row with that color
    c = int(sys.argv[3], 16)
    ys = [y for y in range(height) if any(at(x, y) == c for x in range(width))]
    if not ys: sys.exit(1)
    print(ys[0], ys[-1])
elif sys.argv[2] == "center":       # center COLOR: the middle of the pixels of that color
    c = int(sys.argv[3], 16)
    pts = [(x, y) for y in range(height) for x in range(width) if at(x, y) == c]
    if not pts: sys.exit(1)
    print(sum(p[0] for p in pts) // len(pts), sum(p[1] for p in pts) // len(pts))
EOF
colors=$(python3 "$tmp/xwd.py" "$tmp/dialog.xwd" colors) || colors=0
[ "$colors" -ge 6 ] && ok "the screenshot shows a drawn dialog ($colors colors)" || fail "the screenshot has $colors colors"
python3 "$tmp/xwd.py" "$tmp/dialog.xwd" has 2e3436 && python3 "$tmp/xwd.py" "$tmp/dialog.xwd" has 4e9a06 \
        && python3 "$tmp/xwd.py" "$tmp/dialog.xwd" has a40000 && python3 "$tmp/xwd.py" "$tmp/dialog.xwd" has 3465a4 \
        && ok "the screenshot has the header, Allow, Deny and the selected row" \
        || fail "the screenshot lacks the header, a button or the selection"
# each target's label color, a swatch of the same size; vault's in the selected row (the default)
n_orange=$(python3 "$tmp/xwd.py" "$tmp/dialog.xwd" count f57900)
n_purple=$(python3 "$tmp/xwd.py" "$tmp/dialog.xwd" count 75507b)
read -r sel_top sel_bottom < <(python3 "$tmp/xwd.py" "$tmp/dialog.xwd" rows 3465a4)
read -r or_top or_bottom < <(python3 "$tmp/xwd.py" "$tmp/dialog.xwd" rows f57900)
if [ "${n_orange:-0}" -ge 25 ] && [ "$n_orange" = "${n_purple:-0}" ] &&
   [ "${or_top:-0}" -gt "${sel_top:-0}" ] && [ "${or_bottom:-0}" -lt "${sel_bottom:-0}" ]; then
        ok "each target shows its label color (vault orange in the selected row, work purple)"
else
        fail "label colors: $n_orange orange, $n_purple purple pixels;" \
             "orange rows $or_top-$or_bottom, selection $sel_top-$sel_bottom"
fi
[ "$(awk '/^Seccomp:/ {print $2}' /proc/"$dialog_pid"/status)" = 2 ] && ok "the dialog runs under seccomp" \
        || fail "the dialog is not in its seccomp sandbox: $(grep -E '^Seccomp:' /proc/"$dialog_pid"/status)"

xdotool windowfocus --sync "$W" 2>/dev/null
xdotool key Down Return
call_done
[ "$rc" = 0 ] && grep -qx 'work got q from personal arg=hello' <<<"$out" \
        && ok "Down, Enter: the call goes to work, the target chosen" || fail "Down, Enter: status $rc, output '$out'"
dialog_gone "Enter"
grep -q 'personal -> test.Echo: work' "$dialog_log" || fail "the dialog did not log its answer"

# --- a click on Allow: the default target (vault) ---
ask
find_dialog
xwd -silent -id "$W" -out "$tmp/dialog2.xwd"
read -r bx by < <(python3 "$tmp/xwd.py" "$tmp/dialog2.xwd" center 4e9a06) || fail "no Allow button on the screenshot"
xdotool mousemove --window "$W" "${bx:-0}" "${by:-0}" click 1
call_done
[ "$rc" = 0 ] && grep -qx 'vault got q from personal arg=hello' <<<"$out" \
        && ok "a click on Allow: the call goes to vault, the default" || fail "click Allow: status $rc, output '$out'"
dialog_gone "Allow"

# --- Escape: refused ---
ask
find_dialog
xdotool windowfocus --sync "$W" 2>/dev/null
xdotool key Escape
call_done
[ "$rc" = 126 ] && ok "Escape: the call is refused (126)" || fail "Escape: status $rc, output '$out'"
dialog_gone "Escape"

# --- the window closed (as a window manager's close button does): refused ---
ask
find_dialog
"$close" "$W" || fail "could not send WM_DELETE_WINDOW"
call_done
[ "$rc" = 126 ] && ok "window closed: the call is refused (126)" || fail "closed: status $rc, output '$out'"
dialog_gone "closed"

# --- two questions at once: one window each, answered one by one ---
ask one
ask two
find_dialog 2
first=$(sed -n 1p "$tmp/wins")
second=$(sed -n 2p "$tmp/wins")
"$close" "$first" || fail "could not send WM_DELETE_WINDOW"
wait_for 20 sh -c "[ \$(xdotool search --onlyvisible --class '^odyssey-ask-dialog\$' | wc -l) -eq 1 ]" \
        && ok "two questions: closing one window leaves the other" || fail "two questions: the other window went too"
xdotool windowfocus --sync "$second" 2>/dev/null
xdotool key Down Return
call_done one; rc_one=$rc; out_one=$out
call_done two
# (which call got which window is the policy daemon's order: one was refused, the other went to work)
if { [ "$rc_one" = 126 ] && grep -qx 'work got q from personal arg=hello' <<<"$out"; } ||
   { [ "$rc" = 126 ] && grep -qx 'work got q from personal arg=hello' <<<"$out_one"; }; then
        ok "two questions: each answered on its own"
else
        fail "two questions: statuses $rc_one, $rc; outputs '$out_one', '$out'"
fi
dialog_gone "two questions"

# --- nobody answers: refused after --timeout ---
stop_dialog; code=$?
[ "$code" = 0 ] && ok "the dialog ends cleanly on SIGTERM" || fail "the dialog's exit status on SIGTERM: $code"
start_dialog --timeout 2
ask
# (not looked for on the display: on a loaded machine that may take longer than the timeout)
call_done
grep -q 'personal wants to call test.Echo+hello: asking' "$dialog_log" || fail "the timed-out question was not shown"
[ "$rc" = 126 ] && ok "no answer within --timeout: refused (126)" || fail "timeout: status $rc, output '$out'"
dialog_gone "timeout"
grep -q 'No answer within 2 s' "$dialog_log" || fail "the timeout is not logged"

# --- the dialog quits with a question open: refused at once ---
stop_dialog
start_dialog
ask
find_dialog
stop_dialog
call_done
[ "$rc" = 126 ] && ok "the dialog ended with a question open: refused (126)" || fail "quit: status $rc, output '$out'"
grep -q 'personal -> test.Echo: denied' "$dialog_log" && ! grep -q 'Cannot send the answer' "$dialog_log" \
        && ok "... by its own answer" || fail "the dialog did not answer before it ended: $(cat "$dialog_log")"

# --- usage ---
"$dialog" --help | grep -q -- '--admin-address' && ok "--help" || fail "--help"
"$dialog" --timeout 0 2>/dev/null; [ $? = 2 ] && ok "--timeout 0 is a usage error" || fail "--timeout 0 accepted"

[ "$failures" -eq 0 ] || die "$failures check(s) failed"
echo "all ask dialog checks passed"
exit 0
