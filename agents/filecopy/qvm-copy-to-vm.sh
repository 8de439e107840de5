#!/bin/sh
# qvm-copy-to-vm / qvm-move-to-vm VM FILE...: copy (move) files to VM's
# ~/QubesIncoming/<this domain>/ over qubes.Filecopy.  qvm-copy / qvm-move
# FILE...: the same to a domain chosen by the admin domain's policy (@default).
here=$(dirname "$(readlink -f "$0")")
prog=$(basename "$0")
usage() {
        case "$prog" in
        qvm-copy|qvm-move) echo "Usage: $prog [--without-progress] FILE..." ;;
        *) echo "Usage: $prog [--without-progress] VM FILE..." ;;
        esac
        echo "Copy FILE... (directories recursively) into the target's ~/QubesIncoming/<this domain>/."
        case "$prog" in qvm-move*) echo "and remove them here once the copy succeeded." ;; esac
}
progress=
while [ $# -gt 0 ]; do
        case "$1" in
        -h|--help) usage; exit 0 ;;
        --without-progress) progress=--no-progress; shift ;;
        --) shift; break ;;
        -*) echo "$prog: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) break ;;
        esac
done
case "$prog" in
qvm-copy|qvm-move) target=@default ;;
*) [ $# -ge 1 ] || { usage >&2; exit 2; }; target=$1; shift ;;
esac
[ $# -ge 1 ] || { usage >&2; exit 2; }
"$here/qrexec-client-vm" "$target" qubes.Filecopy "$here/qfile-agent" $progress -- "$@"
status=$?
case "$prog" in
qvm-move*) [ $status -eq 0 ] && rm -rf -- "$@" ;;
esac
exit $status
