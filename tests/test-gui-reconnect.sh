#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# gui-agent across a guid reconnect: when guid goes away the agent forgets
# its windows and undoes its own Composite redirections, so that the next
# guid's session redirects each window once again.  Checked on the domain's
# display with gui-probe redirected (the server's view, not the agent's log):
# of two overlapping windows the lower (copied) one is redirected and the
# upper (direct) one is not, before and after guid is replaced; once the
# upper one is unmapped the lower one is direct and no longer redirected (a
# window redirected twice stayed redirected there), and it is redirected
# again when covered again.
set -u
. "$(dirname "$0")/gui-test-lib.sh"
gui_agent_test test-gui-reconnect xdotool
gui_agent_start 1024x768
# start_guid N: guid number N, its output in guid-N.log, until it shares the domain's screen
start_guid() {
        gui_agent_guid "guid-$1.log"
        wait_for 30 grep -q 'work shares its 1024x768 screen' "$T/guid-$1.log" ||
                fail "guid $1 did not get the domain's screen"
}
start_guid 1
gui_agent_display

# redirected NAME yes|no: what the domain's X server says of NAME's window
redirected() { [ "$(DISPLAY=:$DOM "$PROBE" redirected "$(domain_id "$1")")" = "$2" ]; }

paint lower 100 100 300 200 0xaa0000 4
"$PROBE" titled work lower >/dev/null || fail "the lower window did not appear"
wait_for 10 switched lower direct 1 || fail "a lone, fully visible window is not direct"
# upper overlaps lower's bottom-right corner: lower is copied, upper direct
paint upper 300 200 300 200 0x00aa00 5
"$PROBE" titled work upper >/dev/null || fail "the upper window did not appear"
wait_for 10 switched lower copied 1 || fail "an overlapped window stayed direct"
wait_for 10 switched upper direct 1 || fail "the top window is not direct"
wait_for 10 redirected lower yes || fail "the copied window is not redirected"
wait_for 10 redirected upper no || fail "the direct window is redirected"
ok "first guid: the copied window is redirected, the direct one is not"

kill "$GUID_PID"
wait "$GUID_PID" 2>/dev/null
wait_for 30 grep -q 'guid went away' "$T/agent.log" || fail "the agent did not notice guid going away"
start_guid 2
# the new session announces the windows again: upper is direct a second time
wait_for 30 switched upper direct 2 || fail "after the reconnect the top window is not direct"
W=$("$PROBE" titled work lower) || fail "after the reconnect the lower window is not shown"
wait_for 10 redirected lower yes || fail "after the reconnect the copied window is not redirected"
wait_for 10 redirected upper no || fail "after the reconnect the direct window is redirected"
ok "second guid: the windows are shown, redirected as before"

# uncovered, lower goes direct: not redirected any more (undone once, as done once)
DISPLAY=:$DOM xdotool windowunmap "$(domain_id upper)"
wait_for 10 switched lower direct 2 || fail "lower is not direct once upper is unmapped"
wait_for 10 redirected lower no || fail "lower is direct for the agent but still redirected"
echo 0x0000aa >&4
wait_for 10 sh -c "[ \"\$('$PROBE' pixel $W 42 42)\" = 0000aa ]" || fail "lower, direct, does not follow its program"
ok "a window that goes direct after the reconnect is no longer redirected"

DISPLAY=:$DOM xdotool windowmap "$(domain_id upper)"
wait_for 10 switched lower copied 2 || fail "lower is not copied once upper is mapped again"
wait_for 10 redirected lower yes || fail "lower, covered again, is not redirected"
wait_for 10 redirected upper no || fail "upper, mapped again on top, is redirected"
kill -0 "$GUID_PID" || fail "guid 2 died"
ok "covered again, the window is redirected again"
exit 0
