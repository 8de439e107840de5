#!/usr/bin/env bash
# bench-libvirt: QEMU guests through libvirt and qubesd (TCG where KVM does not
# work), against the bare-QEMU boot of the same kernel and initramfs measured
# in the same run by bench-guest-boot:
#   libvirt_start_s_p50            `qubes-ctl start` until it returns (the agent
#                                  said hello), median of $BENCH_LIBVIRT_RUNS (3)
#   libvirt_start_ratio_vs_qemu    against qemu_start_s_p50 (goal <= 1.3)
#   virtio_qrexec_throughput_mbps  256 MiB ($BENCH_VIRTIO_MIB) from a native
#                                  domain into the guest through one qrexec call
#                                  (vchan mux over virtio-serial)
# Prints `BENCH name value unit` lines.
set -uo pipefail

build=${ODYSSEY_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
src=${ODYSSEY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
ctl=$build/client/qubes-ctl
export ODYSSEY_BUILD=$build
runs=${BENCH_LIBVIRT_RUNS:-3}
mib=${BENCH_VIRTIO_MIB:-256}
URI=qemu:///system

[ "$(id -u)" -eq 0 ] || { echo "bench-libvirt: needs root (libvirtd, QEMU)" >&2; exit 0; }
tmp=$(mktemp -d /tmp/bench-libvirt.XXXXXX)
chmod 755 "$tmp"
root=$tmp/s
libvirtd_started=0
cleanup() {
        if [ -d "$root/run" ]; then
                timeout 60 "$ctl" kill vm >/dev/null 2>&1
                timeout 60 "$ctl" shutdown --all --wait --timeout 5 >/dev/null 2>&1
                timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        fi
        [ "$libvirtd_started" -eq 0 ] || "$src/tools/libvirtd-ensure" stop --quiet
        rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "bench-libvirt: $*" >&2; exit 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

"$src/tools/libvirtd-ensure" start --quiet || die "libvirtd does not run"
libvirtd_started=1
timeout 120 "$src/tools/stack" start --root "$root" >"$tmp/stack.out" 2>&1 || die "stack did not start"
export QUBES_ADMIN_ADDRESS="unix:path=$root/run/admin.sock"
"$src/tools/build-guest-image" --quiet --agents "$build/agents/bin" --output "$root/state/kernels/odyssey" ||
        die "cannot build the guest image"
"$ctl" create debian --class TemplateVM --label black >/dev/null && "$ctl" global-prefs default_template debian &&
        "$ctl" create src --class AppVM --label blue >/dev/null &&
        "$ctl" create vm --class AppVM --label green --prop "backend=libvirt:$URI" --prop kernel=odyssey \
                --prop memory=256 --prop vcpus=1 >/dev/null || die "cannot create the domains"
echo 'test.Sink * src vm allow' >"$root/etc/policy.d/10-bench.policy"

: >"$tmp/starts"
for i in $(seq "$runs"); do
        t0=$(date +%s.%N)
        timeout 300 "$ctl" start vm || die "start $i failed"
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$tmp/starts"
        echo "start $i: $(tail -1 "$tmp/starts") s" >&2
        [ "$i" -eq "$runs" ] || timeout 120 "$ctl" kill vm || die "kill $i failed"
done
libvirt=$(median <"$tmp/starts")
qemu=$(BENCH_GUEST_RUNS=$runs "$build/bench/bench-guest-boot" | awk '$2 == "qemu_start_s_p50" { print $3 }')
[ -n "$qemu" ] || die "bench-guest-boot printed no baseline"
printf 'BENCH libvirt_start_s_p50 %.3f s\n' "$libvirt"
printf 'BENCH qemu_start_s_p50 %.3f s\n' "$qemu"
awk -v l="$libvirt" -v q="$qemu" 'BEGIN { printf "BENCH libvirt_start_ratio_vs_qemu %.2f ratio\n", l / q }'

timeout 120 "$ctl" run --pass-io vm 'mkdir -p /run/qubes-rpc && printf "#!/bin/sh\nwc -c\n" >/run/qubes-rpc/test.Sink && chmod +x /run/qubes-rpc/test.Sink' </dev/null ||
        die "cannot install test.Sink in the guest"
timeout 120 "$ctl" start src || die "cannot start src"
out=$(timeout 900 "$ctl" run --pass-io src "t0=\$(date +%s.%N); head -c $((mib * 1048576)) /dev/zero | /run/odyssey/agents/qrexec-client-vm vm test.Sink; t1=\$(date +%s.%N); echo \"\$t0 \$t1\"" </dev/null) ||
        die "the call failed: $out"
bytes=$(sed -n 1p <<<"$out" | tr -d ' ')
read -r t0 t1 < <(sed -n 2p <<<"$out")
[ "$bytes" = $((mib * 1048576)) ] || die "the guest counted $bytes bytes"
awk -v m="$mib" -v a="$t0" -v b="$t1" 'BEGIN { printf "BENCH virtio_qrexec_throughput_mbps %.1f MB/s\n", m * 1.048576 / (b - a) }'
