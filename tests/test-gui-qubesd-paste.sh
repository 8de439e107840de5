#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The secure clipboard through the guids qubesd starts: a private stack shows
# two native domains with GUI (work blue, personal green) on an Xvfb admin
# display, the policy allows qubes.ClipboardPaste from work to personal and
# denies it from personal to work.  Text a program in work put on its
# clipboard (xclip) is copied with Ctrl-Shift-C in work's window into the
# global clipboard and pasted with Ctrl-Shift-V in personal's window, where
# personal's programs read it; the global clipboard is emptied after the
# paste.  The other way, policyd (asked by guid, as the guid role's uid)
# denies: nothing reaches work and the global clipboard keeps its text.
# Neither key combination reaches the domains' programs.
set -uo pipefail

. "$(dirname "$0")/gui-test-lib.sh"
gui_stack_test test-gui-qubesd-paste xev xdotool xclip

cat >"$root/etc/policy.d/10-paste.policy" <<'EOF'
qubes.ClipboardPaste    *       work        personal    allow
qubes.ClipboardPaste    *       personal    work        deny
EOF
# policyd reloads on its own (inotify); wait until it says so
policy_files() { "$ctl" policy status 2>/dev/null | grep -qx "files: $1"; }
wait_for 30 policy_files 2 || die "policyd did not load the paste policy: $("$ctl" policy status 2>&1)"
gui_stack_domains work:blue personal:green || die "the domains did not start"
xev_windows work personal || die "cannot start xev in the domains"
wait_for 30 xev_window work >/dev/null && wait_for 30 xev_window personal >/dev/null || die "the xev windows did not appear"
W=$(xev_window work)
P=$(xev_window personal)

in_domain() { timeout 60 "$ctl" run --pass-io "$1" "$2" 2>>"$tmp/run.err"; }
# set_clipboard DOMAIN TEXT: a program of DOMAIN owns its CLIPBOARD with TEXT
set_clipboard() {
        domain_spawn "$1" "printf %s '$2' | xclip -selection clipboard >/dev/null 2>&1" || fail "xclip in $1"
        wait_for 30 clipboard_is "$1" "$2" || fail "$1's clipboard did not become '$2'"
}
clipboard_is() { [ "$(in_domain "$1" 'xclip -o -selection clipboard')" = "$2" ]; }
clip=$root/run/gui
global_is() { [ "$(cat "$clip/clipboard.bin" 2>/dev/null)" = "$1" ]; }
notice_is() { [ "$(cat "$clip/clipboard.notice" 2>/dev/null)" = "$1" ]; }
# press WINDOW KEYS: the user focuses WINDOW and presses KEYS
press() { xdotool windowfocus --sync "$1" && xdotool key "$2"; }

# ------------------------------------------------ allowed: work -> personal
set_clipboard work 'text from work'
set_clipboard personal 'old text of personal'
press "$W" ctrl+shift+c
wait_for 30 global_is 'text from work' && ok "Ctrl-Shift-C in work's window copies work's clipboard" \
        || fail "global clipboard after the copy: '$(cat "$clip/clipboard.bin" 2>/dev/null)'"
[ "$(cat "$clip/clipboard.source" 2>/dev/null)" = work ] || fail "the global clipboard's source is not work"
press "$P" ctrl+shift+v
wait_for 30 clipboard_is personal 'text from work' && ok "Ctrl-Shift-V in personal's window pastes it into personal" \
        || fail "personal's clipboard after the paste: '$(in_domain personal 'xclip -o -selection clipboard')'"
wait_for 30 notice_is pasted && [ ! -s "$clip/clipboard.bin" ] && ok "the global clipboard is emptied after the paste" \
        || fail "after the paste: notice '$(cat "$clip/clipboard.notice")', clipboard '$(cat "$clip/clipboard.bin")'"
grep -q "work -> personal qubes.ClipboardPaste.*: allow" "$root/log/qrexec-policyd.log" \
        && ok "policyd allowed the paste" || fail "policyd did not decide the paste work -> personal"

# ------------------------------------------------ denied: personal -> work
set_clipboard personal 'text from personal'
press "$P" ctrl+shift+c
wait_for 30 global_is 'text from personal' || fail "personal's text was not copied"
press "$W" ctrl+shift+v
wait_for 30 notice_is denied && ok "Ctrl-Shift-V in work's window is denied" \
        || fail "no denial noticed: '$(cat "$clip/clipboard.notice")'"
grep -q "personal -> work qubes.ClipboardPaste.*: deny" "$root/log/qrexec-policyd.log" \
        && ok "policyd denied it by the rule" || fail "policyd did not deny personal -> work"
# the paste is decided (the notice is written after): nothing can come any more
clipboard_is work 'text from work' && ok "nothing reached work" \
        || fail "work's clipboard changed: '$(in_domain work 'xclip -o -selection clipboard')'"
global_is 'text from personal' && ok "the global clipboard keeps its text after a denial" \
        || fail "global clipboard after the denial: '$(cat "$clip/clipboard.bin")'"

# the shortcuts are guid's: the domains' programs never see C or V
for d in work personal; do
        c=$(key_events $d c) v=$(key_events $d v)
        [ "$c" = 0 ] && [ "$v" = 0 ] && ok "$d's program saw neither Ctrl-Shift-C nor Ctrl-Shift-V" \
                || fail "$d's xev saw c '$c' v '$v' times"
done

[ "$failures" -eq 0 ] || { logs; cat "$tmp/run.err" 2>/dev/null; exit 1; }
echo "all clipboard checks through qubesd's guids passed"
exit 0
