#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real X program (xterm) under gui-agent, on the agent's own Xvfb (the
# domain's display), shown by guid on another Xvfb (the admin display):
# title and class carry the domain, the frame has the exact label color,
# the interior is exactly what the domain's screen shows (also after typing
# and a resize), keys typed on the admin display reach the program, and
# the window goes away with the program.
set -u
. "$(dirname "$0")/gui-test-lib.sh"
gui_agent_test test-gui-agent xterm xdotool xdpyinfo

# The agent starts the domain's Xvfb itself, at guid's screen size.
gui_agent_start guid
gui_agent_guid guid.log
gui_agent_display
DISPLAY=:$DOM xdpyinfo 2>/dev/null | grep -q 'dimensions: *1280x1024' || fail "the domain's screen is not guid's size"

DISPLAY=:$DOM xterm -T 'agent test' -geometry 60x10+40+50 -e sh >"$T/xterm.log" 2>&1 &
XTERM_PID=$!
PIDS+=($XTERM_PID)
W=$("$PROBE" find work) || fail "the xterm did not appear on the admin display"
"$PROBE" info "$W" >"$T/info.out"
wait_for 10 sh -c "'$PROBE' info $W | grep -qx 'title \[work\] agent test'" || fail "title is not [work] agent test"
grep -qx 'class work:xterm|work:XTerm' "$T/info.out" || fail "class is not work:xterm"
"$PROBE" frame "$W" 0x3465a4 || fail "the frame is not exactly blue"
ok "xterm shown with [work] title, work: class and an exact blue frame"

# the content sits where the domain has it (both screens are the same size)
same_as_domain() {
        read -r GX GY _ < <("$PROBE" info "$W" | awk '/^geometry/ {print $2, $3}')
        "$PROBE" same "$W" :$DOM $((GX + 2)) $((GY + 2)) 2>"$T/same.log"
}
wait_for 10 same_as_domain || fail "the interior differs from the domain's screen: $(cat "$T/same.log")"
ok "the interior matches the domain's own screen pixel for pixel"

xdotool windowfocus --sync "$W"
xdotool type --delay 20 "touch $T/typed"
xdotool key Return
wait_for 10 test -e "$T/typed" || fail "keys typed on the admin display did not reach the xterm"
wait_for 10 same_as_domain || fail "after typing, the interior differs: $(cat "$T/same.log")"
ok "typed keys reach the program; its redraws reach the admin display"

XW=$(DISPLAY=:$DOM xdotool search --pid "$XTERM_PID" | head -n 1)
DISPLAY=:$DOM xdotool windowsize "$XW" 500 300
wait_for 10 sh -c "'$PROBE' info $W | grep -q '^geometry [0-9]* [0-9]* 504 304$'" || fail "resize not followed"
wait_for 10 same_as_domain || fail "after a resize, the interior differs: $(cat "$T/same.log")"
ok "a resize in the domain is followed, with a new buffer"

xdotool type --delay 20 "exit"
xdotool key Return
wait_for 10 sh -c "[ \"\$('$PROBE' count work)\" = 0 ]" || fail "the window stayed after the program exited"
kill -0 "$GUID_PID" || fail "guid died"
ok "the window goes away with the program"
exit 0
