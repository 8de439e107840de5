#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# gui-agent's shared screen (protocol 1.9): windows fully visible in the
# domain are painted by guid straight from the domain's screen memfd
# ("direct"), the others are copied from their own pixmap.  Programs of the
# domain are tests/gui-probe paint windows (16-px checkers of one color).
# Checked on the admin display: a direct window is exact; of two windows
# overlapping in the domain, the lower one shows its own pixels (not the
# upper one's); once the upper one is unmapped the lower one is direct again
# and still follows its program; a window partly off the domain's screen
# shows all of its content.
set -u
. "$(dirname "$0")/gui-test-lib.sh"
gui_agent_test test-gui-direct xdotool
gui_agent_start 1024x768
gui_agent_guid guid.log
gui_agent_display
wait_for 30 grep -q 'work shares its 1024x768 screen' "$T/guid.log" || fail "guid did not get the domain's screen"

# shows WIN X Y COLOR: the content pixel X,Y (frame excluded) of WIN on the admin display
shows() { [ "$("$PROBE" pixel "$1" $(($2 + 2)) $(($3 + 2)))" = "$4" ]; }
# exact WIN: its interior is the domain's screen where the window is there
exact() {
        read -r GX GY _ < <("$PROBE" info "$1" | awk '/^geometry/ {print $2, $3}')
        "$PROBE" same "$1" :"$DOM" $((GX + 2)) $((GY + 2)) 2>"$T/same.log"
}

paint lower 100 100 300 200 0xaa0000 4
L=$("$PROBE" titled work lower) || fail "the lower window did not appear"
wait_for 10 switched lower direct 1 || fail "a lone, fully visible window is not direct"
wait_for 10 exact "$L" || fail "a direct window differs from the domain's screen: $(cat "$T/same.log")"
ok "a direct window is exact on the admin display"

# upper overlaps lower's bottom-right corner in the domain, and on the admin display
paint upper 300 200 300 200 0x00aa00 5
U=$("$PROBE" titled work upper) || fail "the upper window did not appear"
wait_for 10 switched lower copied 1 || fail "an overlapped window stayed direct"
wait_for 10 switched upper direct 1 || fail "the top window is not direct"
wait_for 10 exact "$U" || fail "the upper window differs from the domain's screen: $(cat "$T/same.log")"
# raised in the domain, lower covers upper's top-left corner there; on the admin display guid
# keeps upper on top, so what upper shows in that corner is visible: its own pixels
DISPLAY=:$DOM xdotool windowraise "$(domain_id lower)"
wait_for 10 switched upper copied 1 || fail "upper, now overlapped in the domain, stayed direct"
wait_for 10 switched lower direct 2 || fail "lower, now on top, is not direct"
echo 0x0000aa >&5
wait_for 10 shows "$U" 40 40 0000aa || fail "upper's covered corner does not show upper's pixels"
wait_for 10 shows "$U" 56 40 20208a || fail "upper's covered corner: the checker"
wait_for 10 shows "$U" 200 160 0000aa || fail "upper's uncovered part"
echo 0xaa00aa >&4
wait_for 10 shows "$L" 40 40 aa00aa || fail "lower (direct, on top in the domain) does not follow its program"
wait_for 10 shows "$U" 40 40 0000aa || fail "upper shows lower's pixels"
ok "of two overlapping windows each shows its own pixels"

DISPLAY=:$DOM xdotool windowunmap "$(domain_id lower)"
wait_for 10 switched upper direct 2 || fail "upper is not direct again once lower is unmapped"
echo 0xcc6600 >&5
wait_for 10 shows "$U" 40 40 cc6600 || fail "upper, direct again, does not follow its program"
wait_for 10 exact "$U" || fail "upper, direct again, differs from the domain's screen: $(cat "$T/same.log")"
ok "the lower window goes back to direct and still updates"

# partly off the domain's screen (1024x768, the admin one is larger): copied, all of it shows
paint offscreen 900 700 200 100 0xcccc00 6
O=$("$PROBE" titled work offscreen) || fail "the off-screen window did not appear"
wait_for 10 shows "$O" 190 90 cccc00 || fail "the part off the domain's screen is not shown"
wait_for 10 shows "$O" 170 90 ecec20 || fail "the checker of the part off the domain's screen"
wait_for 10 shows "$O" 8 8 cccc00 || fail "the part on the domain's screen"
switched offscreen direct 1 && fail "a window partly off the screen was direct"
echo 0x336699 >&6
wait_for 10 shows "$O" 190 90 336699 || fail "the off-screen part does not update"
kill -0 "$GUID_PID" || fail "guid died"
ok "a window partly off the domain's screen shows all of its content"
exit 0
