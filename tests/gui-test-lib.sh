# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the GUI test scripts: the tools they need, polling, free X display numbers, an Xvfb.

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

# free_display FIRST: the first display number from FIRST on with no X server.
free_display() {
        local d
        for d in $(seq "$1" $(($1 + 60))); do
                if [ ! -e "/tmp/.X11-unix/X$d" ] && [ ! -e "/tmp/.X$d-lock" ]; then
                        echo "$d"
                        return 0
                fi
        done
        return 1
}

# start_xvfb FIRST LOG: an Xvfb (1280x1024x24) on the first free display from
# FIRST on, its output in LOG; sets XVFB_DISPLAY (the number) and XVFB_PID.
# 1 (and no Xvfb left) when it does not answer within 30 s.
start_xvfb() {
        XVFB_DISPLAY=$(free_display "$1") || return 1
        Xvfb ":$XVFB_DISPLAY" -screen 0 1280x1024x24 -nolisten tcp >"$2" 2>&1 &
        XVFB_PID=$!
        if ! wait_for 30 env DISPLAY=":$XVFB_DISPLAY" xdotool getmouselocation >/dev/null 2>&1; then
                kill "$XVFB_PID" 2>/dev/null
                wait "$XVFB_PID" 2>/dev/null
                return 1
        fi
}
