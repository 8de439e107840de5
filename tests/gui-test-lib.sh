# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the GUI test scripts: the tools they need, polling, X displays (an Xvfb), and a
# private stack with GUI: its domains, their guids, programs started in them.

# need_tools TOOL...: skip the test (77) when one is not installed.
need_tools() {
        local tool
        for tool in "$@"; do
                command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
        done
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds; 1 if it never did.
wait_for() {
        local n=$(( $1 * 10 )) i
        shift
        for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
        return 1
}

# start_xvfb LOG: an Xvfb (1280x1024x24) on a display number it picks
# itself (-displayfd: the server binds the first free one, so two tests
# starting at once cannot take the same number), its output in LOG; sets
# XVFB_DISPLAY (the number) and XVFB_PID.  1 (and no Xvfb left) when it does
# not answer within 30 s.
start_xvfb() {
        local log=$1 numfile
        numfile=$(mktemp /tmp/xvfb-display.XXXXXX) || return 1
        Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$numfile" >"$log" 2>&1 &
        XVFB_PID=$!
        # the number comes as one line once the server accepts clients
        if wait_for 30 xvfb_announced "$numfile" && read -r XVFB_DISPLAY <"$numfile" &&
           wait_for 30 env DISPLAY=":$XVFB_DISPLAY" xdotool getmouselocation >/dev/null 2>&1; then
                rm -f "$numfile"
                return 0
        fi
        rm -f "$numfile"
        kill "$XVFB_PID" 2>/dev/null
        wait "$XVFB_PID" 2>/dev/null
        return 1
}

# xvfb_announced FILE: FILE holds a whole line (read fails on a partial one).
xvfb_announced() {
        local n
        kill -0 "$XVFB_PID" 2>/dev/null || return 1
        read -r n <"$1" && [[ $n =~ ^[0-9]+$ ]]
}

# gui_stack_start ROOT DISPLAY LOG: a private stack (this build's daemons)
# under ROOT whose qubesd shows domains' windows on :DISPLAY; its output in
# LOG.  Exports QUBES_ADMIN_ADDRESS; sets GUID_UID (the guid role's uid).
gui_stack_start() {
        timeout 120 "$ODYSSEY_SRCDIR/tools/stack" start --root "$1" --arg qubesd=--gui-display=:"$2" >"$3" 2>&1 ||
                return 1
        export QUBES_ADMIN_ADDRESS="unix:path=$1/run/admin.sock"
        GUID_UID=$(awk '$1 == "uid" && $2 == "guid" { print $3 }' "$1/run/roles")
}

# gui_stack_domains NAME:LABEL...: the template debian (the host's /usr) and
# one AppVM with the feature gui per argument, started.
gui_stack_domains() {
        local ctl=$ODYSSEY_BUILDDIR/client/qubes-ctl spec
        "$ctl" create debian --class TemplateVM --label black >/dev/null || return 1
        "$ctl" global-prefs default_template debian || return 1
        for spec in "$@"; do
                "$ctl" create "${spec%%:*}" --class AppVM --label "${spec##*:}" >/dev/null || return 1
                "$ctl" features "${spec%%:*}" gui 1 || return 1
        done
        "$ctl" start "${@%%:*}"
}

# guid_pids ROOT DOMAIN: the guids showing DOMAIN of the stack under ROOT.
guid_pids() {
        pgrep -f -- "^guid --domain $2 .*--vchan-dir $1/"
}

# domain_spawn DOMAIN CMD: CMD (a shell command line) started in the
# background in DOMAIN, its output where it redirects it, else nowhere: a
# call with --pass-io that returns once CMD is started.
domain_spawn() {
        timeout 60 "$ODYSSEY_BUILDDIR/client/qubes-ctl" run --pass-io "$1" "{ $2; } </dev/null >/dev/null 2>&1 &" </dev/null
}

# gui_stack_test NAME TOOL...: the start of a test of a whole stack with GUI.
# Skips (77) without Xvfb or a TOOL; sets build, src, ctl, probe; fail and ok
# (counted in failures), logs, die; tmp (a private dir, NAME.XXXXXX) and
# root=$tmp/s; an Xvfb admin display (admin its number, DISPLAY exported)
# and a stack on it.  On exit the domains, a qubesd the test started itself
# ($qubesd_pid), the stack and the Xvfb are stopped and tmp removed.
gui_stack_test() {
        local name=$1
        shift
        build=${ODYSSEY_BUILDDIR:?run through make check}
        src=${ODYSSEY_SRCDIR:?run through make check}
        ctl=$build/client/qubes-ctl
        probe=$build/tests/gui-probe
        export ODYSSEY_BUILD=$build
        unset QUBES_ADMIN_ADDRESS DISPLAY
        need_tools Xvfb "$@"
        failures=0
        fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
        ok() { echo "ok: $*"; }
        logs() { local f; for f in "$root"/log/*.log; do echo "== $f"; tail -30 "$f"; done; }
        die() { echo "FATAL: $*"; logs; exit 1; }
        tmp=$(mktemp -d "/tmp/$name.XXXXXX") || exit 1
        chmod 755 "$tmp"
        root=$tmp/s
        qubesd_pid=
        XVFB_PID=
        trap gui_stack_cleanup EXIT
        start_xvfb "$tmp/xvfb.log" || die "the admin Xvfb did not start"
        admin=$XVFB_DISPLAY
        gui_stack_start "$root" "$admin" "$tmp/stack.out" || { cat "$tmp/stack.out"; die "stack did not start"; }
        export DISPLAY=:$admin
}

gui_stack_cleanup() {
        if [ -d "$root/run" ]; then
                timeout 60 "$ctl" shutdown --all --wait --timeout 5 >/dev/null 2>&1
                [ -z "$qubesd_pid" ] || { kill "$qubesd_pid"; wait "$qubesd_pid"; } 2>/dev/null
                timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        fi
        [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null && wait "$XVFB_PID" 2>/dev/null
        rm -rf "$tmp"
}

# xev_windows DOMAIN...: in each domain an xev window, titled hello-DOMAIN,
# that logs the keys it gets to the domain's /tmp/keys.
xev_windows() {
        local d x=30
        for d in "$@"; do
                domain_spawn "$d" "xev -name hello-$d -geometry 300x200+$x+40 -event keyboard >/tmp/keys 2>&1" ||
                        return 1
                x=$((x + 400))
        done
}

# xev_window DOMAIN: its xev window on the admin display (xev_windows)
xev_window() { xdotool search --onlyvisible --name "^\[$1\] hello-$1\$" | head -n 1 | grep .; }

# key_events DOMAIN KEY: how many events of KEY (press, release) the
# domain's xev logged; nothing printed when the domain could not be asked.
key_events() {
        timeout 60 "$ctl" run --pass-io "$1" "grep -c 'keysym 0x[0-9a-f]*, $2)' /tmp/keys" 2>>"$tmp/run.err" |
                grep -x '[0-9]*'
}

# gui_agent_test NAME TOOL...: the start of a test of gui-agent and guid on their own (no
# stack).  Skips (77) without Xvfb or a TOOL; sets GUID, AGENT, PROBE (this build's), T (a
# private dir, NAME.XXXXXX) and PIDS (killed on exit, then T removed; fds 4-6 closed first:
# paint's fifos); fail (T's logs, exit 1) and ok; an admin Xvfb (ADMIN its number, DISPLAY
# exported).
gui_agent_test() {
        local name=$1
        shift
        GUID=${ODYSSEY_BUILDDIR:-.}/daemons/guid/guid
        AGENT=${ODYSSEY_BUILDDIR:-.}/agents/bin/gui-agent
        PROBE=${ODYSSEY_BUILDDIR:-.}/tests/gui-probe
        need_tools Xvfb "$@"
        T=$(mktemp -d "/tmp/$name.XXXXXX") || exit 1
        PIDS=()
        trap gui_agent_test_cleanup EXIT
        fail() { echo "FAIL: $*"; for f in "$T"/*.log; do echo "== $f"; tail -n 20 "$f"; done; exit 1; }
        ok() { echo "ok: $*"; }
        start_xvfb "$T/xvfb-admin.log" || fail "the admin Xvfb did not start"
        PIDS+=("$XVFB_PID")
        ADMIN=$XVFB_DISPLAY
        export DISPLAY=:$ADMIN
        mkdir -p "$T/vchan" "$T/clip"
}

gui_agent_test_cleanup() {
        exec 4>&- 5>&- 6>&- 2>/dev/null
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$T"
}

# gui_agent_start SCREEN: gui-agent (domain 5) starting its own Xvfb, --screen SCREEN; its
# output in T/agent.log.
gui_agent_start() {
        "$AGENT" --vchan-dir "$T/vchan" --domid 5 --xvfb-display auto --screen "$1" >"$T/agent.log" 2>&1 &
        PIDS+=($!)
}

# gui_agent_guid LOG: a guid showing domain 5 as work (blue), its output in T/LOG; sets GUID_PID.
gui_agent_guid() {
        "$GUID" --domain work --domid 5 --label blue --vchan-dir "$T/vchan" --clipboard-dir "$T/clip" \
                >"$T/$1" 2>&1 &
        GUID_PID=$!
        PIDS+=($GUID_PID)
}

# gui_agent_display: wait until the agent forwards its Xvfb's windows; sets DOM (its number).
gui_agent_display() {
        wait_for 30 grep -q 'forwarding the windows' "$T/agent.log" || fail "the agent did not start its Xvfb"
        DOM=$(sed -n 's/^gui-agent: started .* on :\([0-9]*\) .*/\1/p' "$T/agent.log")
}

# paint NAME X Y W H COLOR FD: a program of the domain (gui-probe paint), repainted through FD
paint() {
        mkfifo "$T/$1.fifo"
        DISPLAY=:$DOM "$PROBE" paint "$1" "$2" "$3" "$4" "$5" "$6" <"$T/$1.fifo" >"$T/$1.log" 2>&1 &
        PIDS+=($!)
        eval "exec $7>\"$T/$1.fifo\""
}

# domain_id NAME: the id of the domain's window NAME on the domain's display
domain_id() { DISPLAY=:$DOM xdotool search --name "^$1\$" | head -n 1; }

# switched NAME MODE N: the agent said N times that NAME's window went MODE (direct, copied)
switched() { [ "$(grep -c "window $(printf '0x%x' "$(domain_id "$1")"): $2" "$T/agent.log")" -ge "$3" ]; }
