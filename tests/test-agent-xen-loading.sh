#!/usr/bin/env bash
# qrexec-agent and qrexec-client-vm start for every qrexec call: they must not
# load the Xen libraries at start (they cost each start ~0.3 ms, and the
# socket backend never uses them), and must still load libxenvchan, by the
# soname the build found, when the xen backend is chosen.  The second part
# runs the agent with VCHAN_BACKEND=xen on a fake /dev/xen/evtchn in a private
# mount namespace: it must get past loading the library to libxenvchan's own
# failure (there is no xenstore here), not stop at "the xen backend needs".
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
bin=$build/agents/bin

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

for b in qrexec-agent qrexec-client-vm; do
        needed=$(LC_ALL=C readelf -d "$bin/$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        if ! grep -q '^libc\.so' <<<"$needed"; then
                fail "$b: cannot read its NEEDED entries"
        elif grep -q '^libxen' <<<"$needed"; then
                fail "$b loads $(grep '^libxen' <<<"$needed" | tr '\n' ' ')at every start"
        else
                ok "$b needs no Xen library at start"
        fi
done

tmp=$(mktemp -d /tmp/test-agent-xen.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2016  # expanded by the inner shell
if unshare -m true 2>/dev/null; then
        out=$(VCHAN_BACKEND=xen VCHAN_DOMAIN=3 VCHAN_SOCKET_DIR=$tmp timeout 60 unshare -m sh -c '
                mount --make-rprivate / && mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 &&
                mkdir /dev/xen && : >/dev/xen/evtchn && exec "$1" --agent-socket="$2/trigger" </dev/null' \
                sh "$bin/qrexec-agent" "$tmp" 2>&1)
        rc=$?
        if grep -q 'the xen backend needs\|has no libxenvchan_' <<<"$out"; then
                fail "the agent could not load libxenvchan: $out"
        elif [ "$rc" -ne 1 ] || ! grep -q 'cannot publish the control channel' <<<"$out"; then
                fail "the agent with the xen backend: exit $rc, said: $out"
        else
                ok "the agent loads libxenvchan when the xen backend is chosen"
        fi
else
        echo "skip: no private mount namespace here, the xen backend's loading is not tried"
fi

[ "$failures" -eq 0 ] || exit 1
