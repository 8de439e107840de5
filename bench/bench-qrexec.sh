#!/usr/bin/env bash
# bench-qrexec: qrexec between two native domains on a private stack, against
# baselines measured in the same run inside the same domain:
#   qrexec_call_ms_p50/_p99    200 domain-to-domain calls of a trivial service
#   qrexec_call_ratio_vs_baseline   p50 against: spawn a client (socat), which
#                              connects to a UNIX socket whose server forks and
#                              execs the same service, one round trip (goal <= 2)
#   qrexec_throughput_mbps / _ratio  1 GiB through one call against the same
#                              bytes through a raw UNIX socket copy (goal >= 0.7)
#   qrexec_concurrent_ok       1,000 simultaneous calls from one domain, each
#                              checked for its own answer (goal 1000)
#   dispvm_call_ms_p50         create a disposable, run `true`, destroy it (goal <= 150)
# Prints `BENCH name value unit` lines.
set -uo pipefail

build=${ODYSSEY_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
src=${ODYSSEY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
ctl=$build/client/qubes-ctl
export ODYSSEY_BUILD=$build
calls=${BENCH_QREXEC_CALLS:-200}
concurrent=${BENCH_QREXEC_CONCURRENT:-1000}
mib=${BENCH_QREXEC_MIB:-1024}

tmp=$(mktemp -d /tmp/bench-qrexec.XXXXXX)
chmod 755 "$tmp"
root=$tmp/s
cleanup() {
        if [ -d "$root/run" ]; then
                timeout 60 "$ctl" shutdown --all --wait --timeout 5 >/dev/null 2>&1
                timeout 60 "$src/tools/stack" stop --root "$root" >/dev/null 2>&1
        fi
        rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "bench-qrexec: $*" >&2; exit 1; }
inq() { timeout 900 "$ctl" run --pass-io "$1" "$2"; }

timeout 120 "$src/tools/stack" start --root "$root" >"$tmp/stack.out" 2>&1 || die "stack did not start"
export QUBES_ADMIN_ADDRESS="unix:path=$root/run/admin.sock"
"$ctl" create debian --class TemplateVM --label black >/dev/null && "$ctl" global-prefs default_template debian &&
"$ctl" create work --class AppVM --label blue >/dev/null &&
"$ctl" create personal --class AppVM --label green >/dev/null &&
"$ctl" create dvm --class AppVM --label red --prop template_for_dispvms=True >/dev/null || die "cannot create qubes"
printf 'bench.True * work personal allow\nbench.Sink * work personal allow\nbench.Echo * work personal allow\n' \
        >"$root/etc/policy.d/10-bench.policy"
for i in $(seq 100); do "$ctl" policy status 2>/dev/null | grep -q '^files: 2$' && break; sleep 0.1; done
"$ctl" policy status | grep -q '^files: 2$' || die "policyd did not load the bench policy"
"$ctl" start work personal || die "cannot start"
services='mkdir -p /run/qubes-rpc /run/bench
printf "#!/bin/sh\nexit 0\n" >/run/qubes-rpc/bench.True
printf "#!/bin/sh\nexec wc -c\n" >/run/qubes-rpc/bench.Sink
printf "#!/bin/sh\nexec cat\n" >/run/qubes-rpc/bench.Echo
chmod +x /run/qubes-rpc/bench.*'
inq personal "$services" && inq work "$services" || die "cannot install the services"

qcvm=/run/odyssey/agents/qrexec-client-vm
# Percentiles of the numbers on stdin (ms with 3 decimals).
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.3f", v[i] }'; }
# put DOMAIN PATH < content: write an executable file into a domain.
put() { timeout 60 "$ctl" run --pass-io "$1" "cat >$2 && chmod +x $2"; }

# The measuring scripts run in bash inside work (EPOCHREALTIME: no process
# per timestamp); the baselines run there too, with socat, so both sides pay
# the same process costs.
put work /run/bench/calls <<'EOF' || die "cannot install the scripts"
#!/bin/bash
# calls N CMD...: time N runs of CMD, one "start end" line each
n=$1; shift
for i in $(seq "$n"); do t0=$EPOCHREALTIME; "$@" </dev/null >/dev/null || { echo "call $i failed: $?" >&2; exit 1; }; t1=$EPOCHREALTIME; echo "$t0 $t1"; done
EOF
put work /run/bench/through <<'EOF' || die "cannot install the scripts"
#!/bin/bash
# through MIB CMD...: pipe MIB MiB of zeros through CMD; "start end bytes-counted"
m=$1; shift
t0=$EPOCHREALTIME; c=$(head -c "${m}M" /dev/zero | "$@"); t1=$EPOCHREALTIME; echo "$t0 $t1 $c"
EOF
put work /run/bench/together <<'EOF' || die "cannot install the scripts"
#!/bin/bash
# together N: N simultaneous calls, each must get its own number back
for i in $(seq "$1"); do (echo "n$i" | /run/odyssey/agents/qrexec-client-vm personal bench.Echo | grep -qx "n$i" && echo ok) & done; wait
EOF
to_ms() { awk '{ printf "%.3f\n", ($2 - $1) * 1000 }'; }

inq work "/run/bench/calls $calls $qcvm personal bench.True" | to_ms >"$tmp/qrexec.ms" || die "qrexec calls failed"
inq work "socat UNIX-LISTEN:/run/bench/base.sock,fork,mode=600 EXEC:/run/qubes-rpc/bench.True & s=\$!; sleep 0.3
/run/bench/calls $calls socat - UNIX-CONNECT:/run/bench/base.sock; kill \$s" | to_ms >"$tmp/base.ms" || die "baseline failed"
[ "$(wc -l <"$tmp/qrexec.ms")" -eq "$calls" ] || die "not every call was timed"
p50=$(pct 50 <"$tmp/qrexec.ms"); p99=$(pct 99 <"$tmp/qrexec.ms"); b50=$(pct 50 <"$tmp/base.ms")
echo "BENCH qrexec_call_ms_p50 $p50 ms"
echo "BENCH qrexec_call_ms_p99 $p99 ms"
echo "BENCH qrexec_call_baseline_ms_p50 $b50 ms"
echo "BENCH qrexec_call_ratio_vs_baseline $(awk -v a="$p50" -v b="$b50" 'BEGIN { printf "%.2f", a / b }') x"

# Throughput: $mib MiB through one call, and through a raw UNIX socket copy.
bytes=$((mib * 1024 * 1024))
mbps() { awk -v a="$1" -v b="$2" -v n="$bytes" 'BEGIN { printf "%.1f", n / (b - a) / 1e6 }'; }
set -- $(inq work "/run/bench/through $mib $qcvm personal bench.Sink") || die "throughput call failed"
[ "${3:-}" = "$bytes" ] || die "the call moved ${3:-nothing}, not $bytes bytes"
qm=$(mbps "$1" "$2")
set -- $(inq work "socat -b 262144 UNIX-LISTEN:/run/bench/raw.sock,mode=600 EXEC:/run/qubes-rpc/bench.Sink & sleep 0.3
/run/bench/through $mib socat -b 262144 -t 60 - UNIX-CONNECT:/run/bench/raw.sock") || die "raw copy failed"
[ "${3:-}" = "$bytes" ] || die "the raw copy moved ${3:-nothing}, not $bytes bytes"
rm_=$(mbps "$1" "$2")
echo "BENCH qrexec_throughput_mbps $qm MB/s"
echo "BENCH qrexec_throughput_raw_socket_mbps $rm_ MB/s"
echo "BENCH qrexec_throughput_ratio $(awk -v a="$qm" -v b="$rm_" 'BEGIN { printf "%.2f", a / b }') x"

# Concurrency
okcount=$(inq work "/run/bench/together $concurrent" | grep -c '^ok$')
echo "BENCH qrexec_concurrent_ok $okcount calls"

# Disposables: create, run true, destroy (qubes-ctl run --dispvm waits for the removal).
: >"$tmp/dispvm.ms"
for i in $(seq 10); do
        t0=$(date +%s%N)
        "$ctl" run --pass-io --dispvm=dvm true >/dev/null 2>&1 || die "dispvm call failed"
        echo "$(( ($(date +%s%N) - t0) / 1000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$tmp/dispvm.ms"
done
echo "BENCH dispvm_call_ms_p50 $(pct 50 <"$tmp/dispvm.ms") ms"
