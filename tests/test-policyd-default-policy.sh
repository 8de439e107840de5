#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The default policy files shipped in policy/policy.d/ lint clean, and decide
# what they say for the core services (qubes-policy eval, offline).
set -u
builddir=${ODYSSEY_BUILDDIR:-.}
srcdir=${ODYSSEY_SRCDIR:-.}
cli="$builddir/client/qubes-policy"
dir="$srcdir/policy/policy.d"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

out=$("$cli" lint --policy-dir "$dir" 2>&1) || { echo "FAIL: lint: $out"; exit 1; }
echo "ok: lint clean"

cat >"$tmp/system.json" <<'JSON'
{"domains": {
 "dom0": {"type": "AdminVM", "tags": [], "power_state": "Running", "uuid": "00000000-0000-0000-0000-000000000000"},
 "work": {"type": "AppVM", "tags": [], "default_dispvm": "default-dvm", "power_state": "Running",
          "uuid": "11111111-1111-1111-1111-111111111111"},
 "personal": {"type": "AppVM", "tags": [], "default_dispvm": "default-dvm", "power_state": "Halted",
              "uuid": "22222222-2222-2222-2222-222222222222"},
 "default-dvm": {"type": "AppVM", "tags": [], "template_for_dispvms": true, "power_state": "Halted",
                 "uuid": "33333333-3333-3333-3333-333333333333"}
}}
JSON

# expect EXIT SOURCE TARGET SERVICE: the exit status of eval (0 allow, 1 deny, 3 ask)
expect() {
        want=$1; shift
        "$cli" eval --policy-dir "$dir" --system-info "$tmp/system.json" "$@" >"$tmp/out" 2>&1
        got=$?
        if [ "$got" -ne "$want" ]; then
                echo "FAIL: $* -> exit $got, want $want:"; cat "$tmp/out"; fail=1
        else
                echo "ok: $* -> $want"
        fi
}
expect 3 work personal qubes.Filecopy
expect 3 work personal qubes.ClipboardPaste
expect 0 work @dispvm qubes.OpenURL
expect 3 work personal qubes.OpenInVM
expect 1 work personal qubes.VMShell
expect 1 work personal qubes.VMExec+ls
expect 3 work @dispvm qubes.VMShell
expect 1 work personal some.Unknown
expect 1 work dom0 qubes.Filecopy
expect 0 work dom0 qubes.GetDate
expect 0 work @adminvm qubes.GetDate
expect 1 work personal qubes.GetDate
expect 1 work dom0 qubes.VMShell
exit $fail
