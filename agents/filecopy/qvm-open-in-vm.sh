#!/bin/sh
# qvm-open-in-vm VM FILE: open FILE in VM (qubes.OpenInVM); qvm-open-in-dvm
# FILE: the same in a new disposable (@dispvm).
here=$(dirname "$(readlink -f "$0")")
prog=$(basename "$0")
usage() {
        case "$prog" in
        qvm-open-in-dvm) echo "Usage: $prog FILE"; echo "Open FILE in a new disposable domain." ;;
        *) echo "Usage: $prog VM FILE"; echo "Open FILE in domain VM." ;;
        esac
}
case "$1" in -h|--help) usage; exit 0 ;; esac
case "$prog" in
qvm-open-in-dvm) [ $# -eq 1 ] || { usage >&2; exit 2; }; target=@dispvm ;;
*) [ $# -eq 2 ] || { usage >&2; exit 2; }; target=$1; shift ;;
esac
file=$1
[ -f "$file" ] && [ -r "$file" ] || { echo "$prog: $file: not a readable file" >&2; exit 1; }
name=$(basename "$file")
case "$name" in *"
"*) echo "$prog: a file name with a newline cannot be sent" >&2; exit 1 ;; esac
{ printf '%s\n' "$name"; cat -- "$file"; } | "$here/qrexec-client-vm" "$target" qubes.OpenInVM
