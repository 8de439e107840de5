# Shared by tools/quickstart and tools/check: install what is missing, build.
# shellcheck shell=bash
ODYSSEY_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ODYSSEY_BUILD=${ODYSSEY_BUILD:-$ODYSSEY_SRC/build}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install the Debian packages listed in tools/debian-packages that are missing.
ensure_packages() {
        local want missing=()
        while read -r want; do
                case "$want" in ''|'#'*) continue ;; esac
                dpkg-query -W -f='${Status}' "$want" 2>/dev/null | grep -q 'ok installed' || missing+=("$want")
        done < "$ODYSSEY_SRC/tools/debian-packages"
        [ ${#missing[@]} -eq 0 ] && return 0
        [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install failed"
}

# autoreconf + configure (once) + make in $1 (default $ODYSSEY_BUILD), extra configure args after.
build_tree() {
        local dir=${1:-$ODYSSEY_BUILD}; shift || true
        if [ ! -x "$ODYSSEY_SRC/configure" ] || [ "$ODYSSEY_SRC/configure.ac" -nt "$ODYSSEY_SRC/configure" ]; then
                say "autoreconf"
                (cd "$ODYSSEY_SRC" && autoreconf -fi) || die "autoreconf failed"
        fi
        mkdir -p "$dir"
        if [ ! -f "$dir/Makefile" ]; then
                say "configure in $dir $*"
                (cd "$dir" && "$ODYSSEY_SRC/configure" -q "$@") || die "configure failed (see $dir/config.log)"
        fi
        say "make in $dir"
        make -C "$dir" -s -j"$(nproc)" >/dev/null || make -C "$dir" -j1 || die "build failed"
}
