#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# guid across qubesd restarts: a private stack shows two native domains with
# GUI (work blue, personal green, each running xev) on an Xvfb admin display.
# qubesd is killed (SIGKILL), later stopped cleanly (SIGTERM): both times its
# guids end with it (the launcher stops its helpers when qubesd goes) and no
# window is left on the admin display, while the domains run on.  A qubesd
# started again re-adopts the domains and starts exactly one guid for each:
# the same windows are back once, with their titles and exact frame colours,
# and keys typed into each reach that domain only.  So too when the new
# qubesd and its guids start while the old guids are still there.
# Stopping a domain then ends its guid and its window; the other's stay.
# A domain started again while its old guid still ends gets a new guid.
set -uo pipefail

. "$(dirname "$0")/gui-test-lib.sh"
gui_stack_test test-gui-qubesd-restart xev xdotool
gui_stack_domains work:blue personal:green || die "the domains did not start"
xev_windows work personal || die "cannot start xev in the domains"

n_guids() { guid_pids "$root" "$1" | wc -l; }
counts() { echo "guids $(n_guids work)/$(n_guids personal), windows $("$probe" count work)/$("$probe" count personal)"; }
one_each() { [ "$(counts)" = "guids 1/1, windows 1/1" ]; }
none_left() { [ "$(counts)" = "guids 0/0, windows 0/0" ]; }
got_key() { local n; n=$(key_events "$1" "$2") && [ "$n" -ge 2 ]; }       # press and release

# shown WHEN KEY-WORK KEY-PERSONAL: one guid and one window per domain, titled
# and framed in the domain's colour; a key typed into each domain's window
# reaches that domain only (a different key each, so who got what is clear).
shown() {
        local when=$1 d other key W color
        wait_for 30 one_each && ok "$when: one guid and one window per domain" \
                || { fail "$when: $(counts)"; return; }
        for d in work personal; do
                if [ $d = work ]; then other=personal key=$2 color=0x3465a4; else other=work key=$3 color=0x73d216; fi
                wait_for 30 xev_window $d >/dev/null || { fail "$when: no window titled [$d] hello-$d"; continue; }
                W=$(xev_window $d)
                "$probe" frame "$W" $color && ok "$when: $d's window has its exact frame colour" \
                        || fail "$when: $d's frame is not exactly $color"
                xdotool windowfocus --sync "$W"
                xdotool type --delay 30 "$key"
                wait_for 30 got_key $d "$key" && ok "$when: a key typed into $d's window reaches $d" \
                        || fail "$when: $d did not get '$key'"
                [ "$(key_events $other "$key")" = 0 ] || fail "$when: '$key' typed into $d's window reached $other"
        done
}

# gone WHEN: the guids and their windows went with qubesd (the domains run
# on: restart() finds them Running, and shown() their xev windows again)
gone() {
        wait_for 30 none_left && ok "$1: no guid and no window left" || fail "$1: $(counts)"
}

# restart: a new qubesd as the stack runs it (its environment), outside the
# stack (which starts whole stacks only); it re-adopts the running domains
restart() {
        rm -f "$root/run/admin.sock"
        ODYSSEY_RUNTIME_DIR=$root/run ODYSSEY_STATE_DIR=$root/state "$build/daemons/qubesd/qubesd" \
                --gui-display=:"$admin" >>"$root/log/qubesd-restarted.log" 2>&1 &
        qubesd_pid=$!
        wait_for 30 "$ctl" ls >/dev/null 2>&1 || die "qubesd did not restart"
        local states
        states=$("$ctl" ls --raw --fields name,state | awk -F'\t' '$1 == "work" || $1 == "personal" { print $1 "=" $2 }' | sort | tr '\n' ' ')
        [ "$states" = "personal=Running work=Running " ] && ok "a restarted qubesd re-adopts both domains" \
                || fail "after the restart: $states"
}

shown "first start" a b

# SIGKILL: the launcher sees qubesd go (its parent-death signal, its socket's end)
first=$(awk '$1 == "qubesd" { print $2 }' <("$src/tools/stack" status --root "$root" 2>/dev/null))
[ -n "$first" ] || die "no qubesd pid in stack status"
kill -KILL "$first"
gone "qubesd killed"
restart
shown "after a restart from SIGKILL" c d

# SIGTERM: qubesd closes the launcher's socket and waits for it
kill -TERM "$qubesd_pid"
wait "$qubesd_pid"
status=$?
qubesd_pid=
[ "$status" = 0 ] && ok "qubesd exits 0 on SIGTERM" || fail "qubesd exited $status on SIGTERM"
gone "qubesd stopped"
restart
shown "after a restart from SIGTERM" e f

# SIGKILL and a new qubesd at once, while the old guids are still there (a
# service manager restarting a crashed qubesd; here they are held stopped
# until the new ones run): the new guids wait for the agents, which take the
# next guid once the old one is gone; one guid per domain, working
old_guids=$(guid_pids "$root" work; guid_pids "$root" personal)
kill -STOP $old_guids
kill -KILL "$qubesd_pid"
wait "$qubesd_pid" 2>/dev/null
restart
two_each() { [ "$(n_guids work)/$(n_guids personal)" = 2/2 ]; }
wait_for 30 two_each || fail "with the old guids held, the new qubesd's guids: $(counts)"
kill -CONT $old_guids
shown "after an immediate restart from SIGKILL" g h

# the restarted qubesd still ends a guid when its domain stops
work_guid=$(guid_pids "$root" work)
"$ctl" shutdown work --wait --timeout 20 || fail "shutdown work"
wait_for 20 sh -c "! kill -0 $work_guid 2>/dev/null" && ok "work's guid ends with work" \
        || fail "work's guid still runs: $(ps -o pid,uid,stat,args -p "$work_guid" | tail -n 1)"
wait_for 20 sh -c "[ \"\$('$probe' count work)\" = 0 ]" && ok "work's window is gone with work" \
        || fail "work's window stayed after work stopped"
[ "$(n_guids personal)" = 1 ] && [ "$("$probe" count personal)" = 1 ] && ok "personal's guid and window stay" \
        || fail "personal: $(n_guids personal) guids, $("$probe" count personal) windows"

# personal stopped and started again while its old guid is still ending
# (held stopped here, so that it is): the launcher starts the new guid once
# the old one has gone, and the new instance's window shows
old_guid=$(guid_pids "$root" personal)
kill -STOP $old_guid
"$ctl" shutdown personal --wait --timeout 20 || fail "shutdown personal"
"$ctl" start personal || fail "start personal again"
sleep 0.5                                       # its START reaches the launcher now
kill -0 $old_guid 2>/dev/null && ok "personal started again while its old guid still runs" \
        || fail "personal's old guid ended before the test could hold it"
kill -CONT $old_guid
wait_for 20 sh -c "! kill -0 $old_guid 2>/dev/null" || fail "personal's old guid did not end"
new_guid() { local p; p=$(guid_pids "$root" personal) && [ "$(echo "$p" | wc -l)" = 1 ] && [ "$p" != "$old_guid" ]; }
wait_for 30 new_guid && ok "a new guid for personal once the old one ended" \
        || fail "personal started again has guids '$(guid_pids "$root" personal)' (old $old_guid)"
xev_windows personal || fail "cannot start xev in personal again"
wait_for 30 xev_window personal >/dev/null && "$probe" frame "$(xev_window personal)" 0x73d216 \
        && ok "personal's new window shows, framed green" || fail "no window of personal started again"

[ "$failures" -eq 0 ] || { logs; cat "$tmp/run.err" 2>/dev/null; exit 1; }
echo "all GUI checks across qubesd restarts passed"
exit 0
