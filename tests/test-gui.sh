#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# guid under Xvfb against scripted agents (tests/gui-fake-agent): frames,
# titles and classes, input routing between two domains, the secure
# clipboard with a policy daemon stand-in, and hostile agents.
set -u
B=${ODYSSEY_BUILDDIR:-.}
GUID=$B/daemons/guid/guid
AGENT=$B/tests/gui-fake-agent
PROBE=$B/tests/gui-probe
for tool in Xvfb xdotool python3; do
        command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

T=$(mktemp -d /tmp/test-gui.XXXXXX)
PIDS=()
cleanup() {
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/*.log "$T"/*.out; do echo "== $f"; tail -n 20 "$f"; done; exit 1; }
ok() { echo "ok: $*"; }
. "$(dirname "$0")/gui-test-lib.sh"

start_xvfb "$T/xvfb.log" || fail "Xvfb did not start"
PIDS+=("$XVFB_PID")
export DISPLAY=:$XVFB_DISPLAY

# qrexec-policyd stand-in: answers qubes.ClipboardPaste with the contents of $T/policy-answer
cat >"$T/policy.py" <<'EOF'
import os, socket, sys, time
path, answer = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(path); s.listen(4)
while True:
    c, _ = s.accept(); req = b""
    while not req.endswith(b"\n\n"):
        d = c.recv(4096)
        if not d: break
        req += d
    with open(path + ".requests", "ab") as f: f.write(req)
    while os.path.exists(path + ".hold"):       # a slow decision (an ask prompt)
        open(path + ".held", "w").close(); time.sleep(0.05)
    try: c.sendall(open(answer, "rb").read())
    except OSError: pass                        # guid gave up waiting
    c.close()
EOF
echo -n "result=deny" >"$T/policy-answer"
python3 "$T/policy.py" "$T/policy.sock" "$T/policy-answer" &
PIDS+=($!)
mkdir -p "$T/clip"

# start_domain NAME DOMID LABEL SCENARIO [FILL] [CLIPBOARD]: agent + guid, sets GUID_PID
start_domain() {
        local name=$1 domid=$2 label=$3 scenario=$4 fill=${5:-0xff0000} clip=${6:-"text from $1"}
        mkdir -p "$T/vchan-$name"
        "$AGENT" "$T/vchan-$name" "$domid" "$scenario" "$fill" "$clip" >"$T/$name.out" 2>&1 &
        PIDS+=($!)
        wait_for 10 grep -q READY "$T/$name.out" || fail "agent $name did not start"
        "$GUID" --domain "$name" --domid "$domid" --label "$label" --vchan-dir "$T/vchan-$name" \
                --clipboard-dir "$T/clip" --policy-socket "$T/policy.sock" --clipboard-limit 1000 \
                >"$T/guid-$name.log" 2>&1 &
        GUID_PID=$!
        PIDS+=($GUID_PID)
}
exited() { ! kill -0 "$1" 2>/dev/null; }
# wait_exit PID: wait (up to 20 s) for our child PID to end; its exit code in CODE
wait_exit() { CODE=running; wait_for 20 exited "$1" || return; wait "$1"; CODE=$?; }

# --- two well-behaved domains ---
start_domain work 7 blue normal 0x3465a4    # paints its whole window in its own label color...
WORK_GUID=$GUID_PID
start_domain personal 8 red normal 0x00ff00
PERSONAL_GUID=$GUID_PID
W=$("$PROBE" find work) || fail "no window of work on the display"
P=$("$PROBE" find personal) || fail "no window of personal on the display"
"$PROBE" info "$W" >"$T/work-info.out"
grep -qx 'title \[work\] fake window' "$T/work-info.out" || fail "title lacks [work]"
grep -qx 'class work:faketerm|work:FakeTerm' "$T/work-info.out" || fail "class lacks work:"
grep -qx 'label 0x3465a4' "$T/work-info.out" || fail "_QUBES_LABEL_COLOR"
grep -qx 'vmname work' "$T/work-info.out" || fail "_QUBES_VMNAME"
ok "titles, classes and properties carry the domain name"
# ...and the frame is still exactly blue; personal's is exactly red around green content
"$PROBE" frame "$W" 0x3465a4 || fail "work's frame"
"$PROBE" frame "$P" 0xcc0000 || fail "personal's frame"
wait_for 10 test "$("$PROBE" pixel "$P" 2 2)" = 00ff00 || fail "personal's interior is not what it drew"
[ "$("$PROBE" pixel "$P" 101 61)" = 00ff00 ] || fail "personal's interior center"
[ "$("$PROBE" pixel "$P" 1 1)" = cc0000 ] || fail "personal's frame corner"
ok "frames have the exact label color on all sides; interiors match what the domains drew"

# protocol 1.9: a window painted from the domain's shared screen
start_domain shared 9 green screen 0x123456
S=$("$PROBE" find shared) || fail "no window of shared on the display"
wait_for 10 test "$("$PROBE" pixel "$S" 2 2)" = 123456 || fail "the direct window's interior is not the screen's"
[ "$("$PROBE" pixel "$S" 201 121)" = 123456 ] || fail "the direct window's far corner"
"$PROBE" frame "$S" 0x73d216 || fail "the direct window's frame"
grep -q 'shared shares its 1280x1024 screen' "$T/guid-shared.log" || fail "guid did not take the screen"
ok "a window is painted from the domain's shared screen"

# input: keys typed into work reach work only; a click on personal reaches personal
xdotool windowfocus --sync "$W"
wait_for 10 grep -q '^FOCUS' "$T/work.out" || fail "work never got the focus"
xdotool key --delay 0 x y
wait_for 10 grep -q '^KEY release' "$T/work.out" || fail "keys did not reach work"
grep -q '^KEY' "$T/personal.out" && fail "keys typed into work reached personal"
read -r PX PY _ < <("$PROBE" info "$P" | awk '/^geometry/ {print $2, $3}')
xdotool mousemove $((PX + 20)) $((PY + 30)) click 1
wait_for 10 grep -q '^BUTTON release 1 at 18,28' "$T/personal.out" || fail "click on personal, content coords"
grep -q '^BUTTON' "$T/work.out" && fail "a click on personal reached work"
# a forged (SendEvent) key is dropped
xdotool key --window "$P" z
sleep 0.3
grep -q '^KEY' "$T/personal.out" && fail "a synthetic key event reached personal"
ok "input reaches only the focused/clicked domain; synthetic events dropped"

# clipboard: copy in work, paste into personal; denied, then allowed (once)
xdotool windowfocus --sync "$W"
xdotool key ctrl+shift+c
wait_for 10 grep -q 'text from work' "$T/clip/clipboard.bin" 2>/dev/null || fail "copy from work"
grep -q 'KEY press 54' "$T/work.out" && fail "Ctrl-Shift-C was forwarded to work"
[ "$(cat "$T/clip/clipboard.source")" = work ] || fail "clipboard source"
xdotool windowfocus --sync "$P"
xdotool key ctrl+shift+v
wait_for 10 grep -q denied "$T/clip/clipboard.notice" || fail "denied paste not noticed"
grep -q '^CLIPBOARD_DATA' "$T/personal.out" && fail "paste reached personal although denied"
grep -q 'service_and_arg=qubes.ClipboardPaste' "$T/policy.sock.requests" || fail "policy not asked"
grep -q 'source=work' "$T/policy.sock.requests" || fail "policy request source"
grep -q 'intended_target=personal' "$T/policy.sock.requests" || fail "policy request target"
echo -n "result=allow" >"$T/policy-answer"
touch "$T/policy.sock.hold"
xdotool key ctrl+shift+v
wait_for 10 test -e "$T/policy.sock.held" || fail "policy not asked for the second paste"
# while the policy decides, guid keeps serving: a key still reaches personal
xdotool key q
wait_for 10 grep -q '^KEY press 24' "$T/personal.out" || fail "guid stalled while the policy decided"
grep -q '^CLIPBOARD_DATA' "$T/personal.out" && fail "pasted before the policy answered"
rm "$T/policy.sock.hold"
wait_for 10 grep -q '^CLIPBOARD_DATA 14 text from work' "$T/personal.out" || fail "allowed paste"
[ -s "$T/clip/clipboard.bin" ] && fail "global clipboard not cleared after paste"
xdotool key ctrl+shift+v
sleep 0.3
[ "$(grep -c '^CLIPBOARD_DATA' "$T/personal.out")" = 1 ] || fail "pasted more than once"
ok "clipboard: copy, denied paste, allowed paste once (input flows while the policy decides), cleared"

# oversize: a domain whose clipboard is above the limit (1000)
start_domain big 9 orange normal 0x101010 @5000
BIG=$("$PROBE" find big) || fail "no window of big"
xdotool windowfocus --sync "$BIG"
xdotool key ctrl+shift+c
wait_for 10 grep -q oversize "$T/clip/clipboard.notice" || fail "oversize clipboard not refused"
[ -s "$T/clip/clipboard.bin" ] && fail "oversize clipboard stored"
kill -0 "$GUID_PID" || fail "guid of big died on an oversize clipboard"
ok "oversize clipboard refused with a notice"

# --- hostile agents: clamps ---
start_domain orwin 10 purple or-fullscreen
X=$("$PROBE" find orwin) || fail "no window of orwin"
"$PROBE" info "$X" | grep -qx 'override_redirect 0' || fail "a full-screen override-redirect window stayed unmanaged"
"$PROBE" frame "$X" 0x75507b || fail "orwin's frame"
kill "$GUID_PID"; wait_for 10 exited "$GUID_PID"        # it covers the screen
start_domain offscreen 11 yellow offscreen
X=$("$PROBE" find offscreen) || fail "no window of offscreen"
read -r GX GY GW GH < <("$PROBE" info "$X" | awk '/^geometry/ {print $2, $3, $4, $5}')
[ "$GX" -ge 0 ] && [ "$GY" -ge 0 ] && [ $((GX + GW)) -le 1280 ] && [ $((GY + GH)) -le 1024 ] \
        || fail "off-screen window not kept on screen ($GX $GY $GW $GH)"
"$PROBE" frame "$X" 0xedd400 || fail "override-redirect window frame"
start_domain oversize 12 green oversize
X=$("$PROBE" find oversize) || fail "no window of oversize"
wait_for 10 sh -c "'$PROBE' info $X | grep -qx 'geometry 0 0 1280 1024'" || fail "oversize configure not clamped"
"$PROBE" frame "$X" 0x73d216 || fail "oversize window's frame"
grep -q '^CONFIGURE' "$T/oversize.out" || fail "the agent was not told the clamped geometry"
kill "$GUID_PID"; wait_for 10 exited "$GUID_PID"
start_domain titles 13 gray title-escapes
X=$("$PROBE" find titles) || fail "no window of titles"
wait_for 10 sh -c "'$PROBE' info $X | grep -q '^title \[titles\] evil_'" || fail "title escapes"
"$PROBE" info "$X" | grep '^title' | LC_ALL=C grep -q '[^ -~]' && fail "control/non-ASCII bytes in a title"
start_domain flood 14 black flood
X=$("$PROBE" find flood) || fail "no window of flood"
wait_for 20 sh -c "'$PROBE' info $X | grep -qx 'title \[flood\] flood done'" || fail "flood not absorbed"
ok "hostile geometry, titles and floods are clamped, sanitised, absorbed"

# 50,000 full-window repaints as fast as the agent can write them: guid keeps
# one put per window in the X server and merges what comes meanwhile, so the
# admin X server copies far fewer times than it is asked, and the last
# content is shown
start_domain paintflood 15 purple paint-flood 0x00aa55
X=$("$PROBE" find paintflood) || fail "no window of paintflood"
"$PROBE" updates "$X" "[paintflood] paint-flood done" >"$T/paintflood.updates" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q counting "$T/paintflood.updates" || fail "the update probe did not start"
xdotool mousemove --window "$X" 100 100 click 1
wait_for 60 sh -c "[ \$(wc -l <'$T/paintflood.updates') = 2 ]" || fail "paint flood: no end"
UPDATES=$(tail -n 1 "$T/paintflood.updates")
[ "$UPDATES" -ge 1 ] && [ "$UPDATES" -le 5000 ] || fail "50,000 repaints asked, $UPDATES made"
[ "$("$PROBE" pixel "$X" 200 150)" = 00aa55 ] || fail "paint flood: content"
kill -0 "$GUID_PID" || fail "paint flood: guid died"
ok "a repaint flood costs the admin X server $UPDATES copies, not 50,000"

# --- hostile agents: violations end that guid only ---
for scenario in bad-length unknown-window double-create huge-dump unsealed clipboard-header-bomb bad-flags \
                window-flood pixel-flood screen-unsealed screen-small screen-bad-stride screen-bad-offset \
                screen-outside-screen screen-outside-window; do
        start_domain "$scenario" 20 red "$scenario"
        wait_exit "$GUID_PID"
        [ "$CODE" = 1 ] || fail "guid did not stop on $scenario (exit $CODE)"
done
# the floods end at guid's limits, not before: 512 windows, 384 MiB of buffers (on this 1280x1024 screen)
grep -q 'window-flood created more than 512 windows' "$T/guid-window-flood.log" || fail "window limit"
grep -q 'pixel-flood asked for 385 MiB of window buffers, more than 384 MiB' "$T/guid-pixel-flood.log" \
        || fail "pixel memory limit"
grep -q 'unusable window buffer' "$T/guid-screen-unsealed.log" || fail "unsealed screen: reason"
grep -q 'unusable window buffer' "$T/guid-screen-small.log" || fail "small screen: reason"
grep -q 'impossible screen buffer' "$T/guid-screen-bad-stride.log" || fail "bad stride: reason"
grep -q 'impossible screen buffer' "$T/guid-screen-bad-offset.log" || fail "bad offset: reason"
grep -q 'screen image outside its screen' "$T/guid-screen-outside-screen.log" || fail "outside the screen: reason"
grep -q 'screen image outside its window' "$T/guid-screen-outside-window.log" || fail "outside the window: reason"
[ "$("$PROBE" count window-flood)" = 0 ] || fail "the window flood left windows behind"
kill -0 "$WORK_GUID" && kill -0 "$PERSONAL_GUID" || fail "another domain's guid died"
"$PROBE" frame "$W" 0x3465a4 || fail "work's window after the hostile agents"
xdotool windowfocus --sync "$W"
xdotool key q
wait_for 10 grep -q '^KEY press 24' "$T/work.out" || fail "work no longer gets input"
[ "$("$PROBE" count bad-length)" = 0 ] || fail "a stopped guid left windows behind"
ok "protocol violations stop that guid only; the display and other domains carry on"
grep -q Seccomp /proc/"$WORK_GUID"/status && [ "$(awk '/^Seccomp:/ {print $2}' /proc/"$WORK_GUID"/status)" = 2 ] \
        || fail "guid is not in its seccomp sandbox"
ok "guid runs under seccomp"
exit 0
