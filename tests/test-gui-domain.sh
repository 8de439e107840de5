#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The GUI of real native domains: a private stack whose qubesd shows windows
# on an Xvfb admin display; two domains with the feature gui (work blue,
# personal green) run gui-agent, qubesd starts one guid each (not as root);
# `qubes-ctl run` starts xev (a window that logs the keys it gets) in work
# and xeyes in personal; both appear with their [name] titles and exact frame
# colors; keys typed into work's window reach work only; a program in work gets a pty with /dev/tty as its
# controlling terminal, and an xterm in work (as the domain's root, which makes it chown its pty and call
# initgroups) shows up framed in blue and carries typed lines through its pty; stopping work removes its
# window and its guid while personal's stays.
set -uo pipefail

. "$(dirname "$0")/gui-test-lib.sh"
gui_stack_test test-gui-domain xev xeyes xdotool xterm script
guid_uid=$GUID_UID
gui_stack_domains work:blue personal:green || die "cannot create and start work and personal"

# one guid per domain, as the guid role's uid
guid_of() { pgrep -u "$guid_uid" -f -- "^guid --domain $1 .*--vchan-dir $root/" | head -n 1; }
wait_for 30 sh -c "pgrep -f -- '^guid --domain work .*$root/' >/dev/null && pgrep -f -- '^guid --domain personal .*$root/' >/dev/null" \
        || die "qubesd did not start a guid for each domain"
work_guid=$(guid_of work)
[ "$(stat -c %u /proc/"$work_guid")" = "$guid_uid" ] && ok "guid runs as the guid role's uid ($guid_uid)" \
        || fail "work's guid runs as uid $(stat -c %u /proc/"$work_guid"), not $guid_uid"
tr '\0' ' ' </proc/"$work_guid"/cmdline | grep -q -- "--label blue " || fail "work's guid was not given its label"

# the commands, as a user would start them (no --pass-io)
"$ctl" run work 'sh -c "xev -name hello -geometry 300x200+30+40 -event keyboard >/tmp/keys"' \
        || fail "qubes-ctl run work xev"
"$ctl" run personal 'xeyes -geometry 200x150+400+300' || fail "qubes-ctl run personal xeyes"

export DISPLAY=:$admin
in_work() { timeout 60 "$ctl" run --pass-io work "$1" 2>&1; }
W=$("$probe" find work) || die "work's window did not appear on the admin display (work runs: $(in_work 'ps ax -o pid,args'))"
P=$("$probe" find personal) || die "personal's xeyes did not appear on the admin display"
wait_for 10 sh -c "'$probe' info $W | grep -qx 'title \[work\] hello'" && ok "work's window is titled [work] hello" \
        || fail "work's title: $("$probe" info "$W" | grep ^title)"
wait_for 10 sh -c "'$probe' info $P | grep -q '^title \[personal\] '" && ok "personal's window has a [personal] title" \
        || fail "personal's title: $("$probe" info "$P" | grep ^title)"
"$probe" frame "$W" 0x3465a4 && ok "work's frame is exactly blue" || fail "work's frame is not exactly blue"
"$probe" frame "$P" 0x73d216 && ok "personal's frame is exactly green" || fail "personal's frame is not exactly green"

# keys typed into work's window reach work's program, and nowhere else
xdotool windowfocus --sync "$W"
xdotool type --delay 30 'odyssey'
keys() { timeout 60 "$ctl" run --pass-io "$1" 'grep -c "(keysym 0x79, y)" /tmp/keys 2>/dev/null' 2>/dev/null; }
wait_for 20 sh -c "[ \"\$(QUBES_ADMIN_ADDRESS='$QUBES_ADMIN_ADDRESS' timeout 60 '$ctl' run --pass-io work 'grep -c \"(keysym 0x79, y)\" /tmp/keys' 2>/dev/null)\" -ge 2 ]" \
        && ok "keys typed into work's window reach work" || fail "work's program did not get the typed keys"
[ "$(keys personal)" = "" ] && ok "personal got none of them" || fail "personal got keys: $(keys personal)"

# ptys: script(1) opens one and makes it the controlling terminal of its child, which opens /dev/tty
pty=$(timeout 60 "$ctl" run --pass-io work 'script -qec "exec 3<>/dev/tty && tty" /dev/null' 2>&1 | tr -d '\r')
[[ $pty =~ ^/dev/pts/[0-9]+$ ]] && ok "a program in work gets a pty as controlling terminal ($pty)" \
        || fail "no controlling pty in work: $pty"

# a real xterm: its window, its frame, and a line typed into it through its pty
"$ctl" run work 'xterm -T odyssey-xterm -geometry 60x10+500+40 -e sh -c "tty >/tmp/xterm-tty; exec cat >/tmp/xterm-typed"' \
        || fail "qubes-ctl run work xterm"
xterm_window() { xdotool search --onlyvisible --name '^\[work\] odyssey-xterm$' | head -n 1 | grep .; }
wait_for 30 xterm_window >/dev/null || die "work's xterm did not appear"
X=$(xterm_window)
"$probe" info "$X" | grep -qx 'class work:xterm|work:XTerm' && ok "the xterm's class is work:xterm" \
        || fail "the xterm's class: $("$probe" info "$X" | grep ^class)"
"$probe" frame "$X" 0x3465a4 && ok "work's xterm has an exactly blue frame" || fail "work's xterm frame is not exactly blue"
xdotool windowfocus --sync "$X"
xdotool type --delay 30 'hello-pty'
xdotool key Return
typed() { timeout 60 "$ctl" run --pass-io work 'cat /tmp/xterm-tty /tmp/xterm-typed' 2>/dev/null | tr '\n' ' '; }
typed_through_pty() { [[ $(typed) =~ ^/dev/pts/[0-9]+\ hello-pty\ $ ]]; }
wait_for 20 typed_through_pty && ok "a line typed into the xterm went through its pty" \
        || fail "the xterm's pty and what its shell read: $(typed)"

# stopping work removes its window and its guid; personal's stays
"$ctl" shutdown work --wait --timeout 20 || fail "shutdown work"
wait_for 20 sh -c "[ \"\$('$probe' count work)\" = 0 ]" && ok "work's window is gone with work" \
        || fail "work's window stayed after it stopped"
wait_for 20 sh -c "! kill -0 $work_guid 2>/dev/null" && ok "work's guid is gone with work" \
        || fail "work's guid is still running: $(ps -o pid,uid,stat,args -p "$work_guid" | tail -n 1)"
[ "$("$probe" count personal)" -ge 1 ] && kill -0 "$(guid_of personal)" 2>/dev/null \
        && ok "personal's window and guid stay" || fail "personal's window or guid went away too"
"$probe" frame "$P" 0x73d216 || fail "personal's frame changed"

[ "$failures" -eq 0 ] || { for f in "$root"/log/*.log; do echo "== $f"; tail -20 "$f"; done; exit 1; }
echo "all GUI domain checks passed"
exit 0
