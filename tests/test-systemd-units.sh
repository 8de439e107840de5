#!/usr/bin/env bash
# systemd/: the generated units pass `systemd-analyze verify` with no complaint;
# sysusers.d creates the users busd's --role-uid table names, with the same
# uids; tmpfiles.d creates /run/qubes and /var/lib/qubes with the right owners.
# Everything runs offline against scratch directories (systemd need not be PID 1).
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
src=${ODYSSEY_SRCDIR:?run through make check}
if ! command -v systemd-analyze >/dev/null; then
        echo "SKIP: systemd-analyze is not installed"
        exit 77
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else fail "$what"; fi; }

tmp=$(mktemp -d /tmp/test-systemd-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unit=$build/systemd/odyssey-busd.service
sysusers=$build/systemd/sysusers.d/odyssey.conf
tmpfiles=$src/systemd/tmpfiles.d/odyssey.conf

# --- the unit as generated
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
check "ExecStart runs busd from pkglibexecdir" bash -c "[[ '$exec_start' == /*/busd ]]"
check "no @substitution@ left in the unit" bash -c "! grep -q '@[A-Za-z_]*@' '$unit'"
check "no @substitution@ left in sysusers.d" bash -c "! grep -q '@[A-Za-z_]*@' '$sysusers'"

# verify also checks that ExecStart= is executable: busd is not installed
# here, so point the copy at the build tree's (or any program, if not built).
busd=$build/daemons/busd/busd
[ -x "$busd" ] || busd=/bin/true
mkdir -p "$tmp/units"
sed "s|^ExecStart=[^ ]*|ExecStart=$busd|" "$unit" >"$tmp/units/odyssey-busd.service"
cp "$src/systemd/qubes.target" "$tmp/units/"

verify() { (cd "$tmp/units" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$@" 2>&1); }
out=$(verify ./odyssey-busd.service ./qubes.target); rc=$?
[ -z "$out" ] || echo "$out"
check "systemd-analyze verify: exit 0" [ $rc -eq 0 ]
check "systemd-analyze verify: no warning" [ -z "$out" ]

# qubesd's unit, verified the same way (it needs busd's unit next to it).
qunit=$build/systemd/odyssey-qubesd.service
check "qubesd's ExecStart runs qubesd from pkglibexecdir" bash -c "[[ \"\$(sed -n 's/^ExecStart=//p' '$qunit')\" == /*/qubesd ]]"
check "no @substitution@ left in qubesd's unit" bash -c "! grep -q '@[A-Za-z_]*@' '$qunit'"
qubesd=$build/daemons/qubesd/qubesd
[ -x "$qubesd" ] || qubesd=/bin/true
sed "s|^ExecStart=[^ ]*|ExecStart=$qubesd|" "$qunit" >"$tmp/units/odyssey-qubesd.service"
out=$(verify ./odyssey-qubesd.service ./odyssey-busd.service ./qubes.target); rc=$?
[ -z "$out" ] || echo "$out"
check "systemd-analyze verify odyssey-qubesd.service: exit 0" [ $rc -eq 0 ]
check "systemd-analyze verify odyssey-qubesd.service: no warning" [ -z "$out" ]
# Options inherited by every domain (seccomp, MDWE) would break them: not in the unit.
check "qubesd's unit sets no seccomp-based option the domains would inherit" \
        bash -c "! grep -Eq '^(SystemCallFilter|MemoryDenyWriteExecute|RestrictNamespaces|RestrictAddressFamilies)=' '$qunit'"
check "domains survive a qubesd restart (KillMode=process)" grep -q '^KillMode=process$' "$qunit"

# qrexec-policyd's unit, verified with the units it orders itself after.
punit=$build/systemd/odyssey-qrexec-policyd.service
check "qrexec-policyd's ExecStart runs qrexec-policyd from pkglibexecdir" \
        bash -c "[[ \"\$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' '$punit')\" == /*/qrexec-policyd ]]"
check "no @substitution@ left in qrexec-policyd's unit" bash -c "! grep -q '@[A-Za-z_]*@' '$punit'"
policyd=$build/daemons/qrexec-policyd/qrexec-policyd
[ -x "$policyd" ] || policyd=/bin/true
sed "s|^ExecStart=[^ ]*|ExecStart=$policyd|" "$punit" >"$tmp/units/odyssey-qrexec-policyd.service"
out=$(verify ./odyssey-qrexec-policyd.service ./odyssey-qubesd.service ./odyssey-busd.service ./qubes.target); rc=$?
[ -z "$out" ] || echo "$out"
check "systemd-analyze verify odyssey-qrexec-policyd.service: exit 0" [ $rc -eq 0 ]
check "systemd-analyze verify odyssey-qrexec-policyd.service: no warning" [ -z "$out" ]

# The admin domain's qrexec agent: the installed agent, as odyssey-rpc.
aunit=$build/systemd/odyssey-admin-agent.service
check "admin-agent's ExecStart runs the agent with --admin" \
        bash -c "grep -Eq '^ExecStart=/[^ ]*/agents/qrexec-agent --admin ' '$aunit'"
check "no @substitution@ left in admin-agent's unit" bash -c "! grep -q '@[A-Za-z_]*@' '$aunit'"
agent=$build/agents/bin/qrexec-agent
[ -x "$agent" ] || agent=/bin/true
sed "s|^ExecStart=[^ ]*|ExecStart=$agent|" "$aunit" >"$tmp/units/odyssey-admin-agent.service"
out=$(verify ./odyssey-admin-agent.service ./odyssey-qubesd.service ./odyssey-busd.service ./qubes.target); rc=$?
[ -z "$out" ] || echo "$out"
check "systemd-analyze verify odyssey-admin-agent.service: exit 0" [ $rc -eq 0 ]
check "systemd-analyze verify odyssey-admin-agent.service: no warning" [ -z "$out" ]

# The system bus policy: well-formed, root owns the name, group qubes may call.
policy=$src/systemd/org.qubes.Admin1.conf
if command -v xmllint >/dev/null; then
        check "org.qubes.Admin1.conf is well-formed XML" xmllint --noout "$policy"
fi
check "policy: only root owns org.qubes.Admin1" bash -c "grep -A2 '<policy user=\"root\">' '$policy' | grep -q 'allow own=\"org.qubes.Admin1\"'"
check "policy: group qubes may call it" bash -c "grep -A1 '<policy group=\"qubes\">' '$policy' | grep -q 'allow send_destination=\"org.qubes.Admin1\"'"
check "policy: everyone else may not" bash -c "grep -A3 '<policy context=\"default\">' '$policy' | grep -q 'deny send_destination=\"org.qubes.Admin1\"'"

# The check can fail: a unit with a mistake is reported.
{ cat "$tmp/units/odyssey-busd.service"; echo "ProtectSystem=sometimes"; } >"$tmp/units/broken.service"
check "a broken unit is reported (the check can fail)" bash -c "[ -n \"\$(cd '$tmp/units' && systemd-analyze verify --man=no ./broken.service 2>&1)\" ]"
rm "$tmp/units/broken.service"

# --- users: created in a scratch root, with the uids busd expects
mkdir -p "$tmp/root/etc"
check "systemd-sysusers accepts sysusers.d/odyssey.conf" systemd-sysusers --root="$tmp/root" "$sysusers"
same_nonempty() { [ -n "$1" ] && [ "$1" = "$2" ]; }
uid_of() { awk -F: -v u="$1" '$1 == u { print $3 }' "$tmp/root/etc/passwd"; }
role_uid() { grep -o -- "--role-uid $1=[0-9]*" "$unit" | cut -d= -f2; }
check "busd maps qubesd to root" [ "$(role_uid qubesd)" = 0 ]
for pair in qrexec-policyd:odyssey-policyd guid:odyssey-guid netvm-mgr:odyssey-netvm \
            usbvm-mgr:odyssey-usbvm stubdom-qemu-mgr:odyssey-stubdom; do
        role=${pair%%:*} user=${pair#*:}
        check "$role: busd's uid = $user's uid" same_nonempty "$(role_uid "$role")" "$(uid_of "$user")"
done
busd_user=$(sed -n 's/^User=//p' "$unit")
check "the unit's User= ($busd_user) is created" [ -n "$(uid_of "$busd_user")" ]
# Same rule as tools/odyssey-stack: role r is base + r (busd 0, qrexec-policyd 2, ..., stubdom 6).
base=$(uid_of odyssey-busd)
check "uids follow base + role" same_nonempty "$(uid_of odyssey-policyd) $(uid_of odyssey-stubdom)" "$((base + 2)) $((base + 6))"
check "the admin agent's user is base + 7 (the stack's admin-agent uid)" same_nonempty "$(uid_of odyssey-rpc)" "$((base + 7))"
check "daemon users are in group qubes" grep -Eq '^qubes:x:[0-9]+:.*odyssey-policyd' "$tmp/root/etc/group"

# --- directories
check "systemd-tmpfiles accepts tmpfiles.d/odyssey.conf" systemd-tmpfiles --create --root="$tmp/root" "$tmpfiles"
qubes_gid=$(awk -F: '$1 == "qubes" { print $3 }' "$tmp/root/etc/group")
check "/run/qubes: odyssey-busd:qubes 0755" [ "$(stat -c '%u %g %a' "$tmp/root/run/qubes")" = "$base $qubes_gid 755" ]
check "/var/lib/qubes: root:qubes 0750" [ "$(stat -c '%u %g %a' "$tmp/root/var/lib/qubes")" = "0 $qubes_gid 750" ]

echo "$failures failure(s)"
[ $failures -eq 0 ]
