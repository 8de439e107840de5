#!/usr/bin/env bash
# qubes-policy replace and edit: a policy is installed only when the whole
# policy directory, with the new text in place of the file, lints clean; the
# install is atomic (no temporary file left, mode kept); a rejected change
# leaves the old file byte for byte, and every error is shown as file:line:.
set -uo pipefail

build=${ODYSSEY_BUILDDIR:?run through make check}
cli=$build/client/qubes-policy

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then echo "ok: $what"; else fail "$what"; fi; }

tmp=$(mktemp -d /tmp/test-qpedit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
d=$tmp/policy.d
mkdir "$d"
printf 'qubes.Filecopy * @anyvm @anyvm deny\n' >"$d/10-base.policy"
printf 'qubes.OpenURL * work @dispvm allow\n' >"$d/30-user.policy"
chmod 640 "$d/30-user.policy"
cp "$d/30-user.policy" "$tmp/old"

# Only the two policy files, nothing hidden (no temporary file left over).
only_policy_files() { local left; left=$(ls -A "$d" | paste -sd " "); [ "$left" = "$*" ] || { echo "left in the directory: $left"; false; }; }
unchanged() { cmp -s "$d/30-user.policy" "$tmp/old"; }
run() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $? >"$tmp/rc"; }
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ]; }
err_has() { grep -qF -- "$1" "$tmp/err"; }

# replace: a valid policy is installed, with the old mode, and nothing else left.
printf 'qubes.OpenURL * work @dispvm allow\nqubes.GetDate * @anyvm dom0 allow\n' >"$tmp/new"
run "$cli" replace "$d/30-user.policy" <"$tmp/new"
check "replace valid: exit 0" rc_is 0
check "replace valid: content installed" cmp -s "$d/30-user.policy" "$tmp/new"
check "replace valid: mode 0640 kept" [ "$(stat -c %a "$d/30-user.policy")" = 640 ]
check "replace valid: no temporary file left" only_policy_files 10-base.policy 30-user.policy
check "replace valid: the directory lints clean" "$cli" lint --policy-dir "$d"
cp "$d/30-user.policy" "$tmp/old"

# replace: an invalid policy is refused, every error shown with the real name.
printf 'qubes.GetDate * @anyvm dom0 allow\ngarbage\nqubes.X * @anyvm dom0 launch\n' >"$tmp/bad"
run "$cli" replace "$d/30-user.policy" <"$tmp/bad"
check "replace invalid: exit 1" rc_is 1
check "replace invalid: error at line 2" err_has "$d/30-user.policy:2:"
check "replace invalid: error at line 3 too" err_has "$d/30-user.policy:3:"
check "replace invalid: old content kept" unchanged
check "replace invalid: no temporary file left" only_policy_files 10-base.policy 30-user.policy

# replace: an error in another file of the directory blocks the install too.
printf 'broken line\n' >"$d/90-broken.policy"
run "$cli" replace "$d/30-user.policy" <"$tmp/new"
check "replace with another file broken: exit 1" rc_is 1
check "replace with another file broken: its error shown" err_has "$d/90-broken.policy:1:"
check "replace with another file broken: old content kept" unchanged
rm "$d/90-broken.policy"

# replace: a new file is created 0644; its errors name it even before it exists.
run "$cli" replace "$d/50-new.policy" <"$tmp/bad"
check "replace new invalid: exit 1" rc_is 1
check "replace new invalid: error names the new file" err_has "$d/50-new.policy:2:"
check "replace new invalid: not created" only_policy_files 10-base.policy 30-user.policy
run "$cli" replace --policy-dir "$d/" "$d/50-new.policy" <"$tmp/new"
check "replace new valid (--policy-dir): exit 0" rc_is 0
check "replace new valid: content" cmp -s "$d/50-new.policy" "$tmp/new"
check "replace new valid: mode 0644" [ "$(stat -c %a "$d/50-new.policy")" = 644 ]
rm "$d/50-new.policy"

# Bad names are refused before anything is read or written.
for name in Bad.policy 30-user.txt .hidden.policy 'sp ace.policy' .policy; do
        run "$cli" replace "$d/$name" <"$tmp/new"
        check "bad name '$name': usage error 64" rc_is 64
        check "bad name '$name': explained" err_has "invalid policy file name"
done
check "bad names: nothing created" only_policy_files 10-base.policy 30-user.policy
run "$cli" replace --policy-dir "$tmp" "$d/30-user.policy" <"$tmp/new"
check "FILE outside --policy-dir: usage error 64" rc_is 64
check "FILE outside --policy-dir: old content kept" unchanged

# edit: an editor that appends a valid rule gets it installed.
cat >"$tmp/append-rule" <<'SH'
#!/bin/sh
echo 'qubes.Gpg * work vault allow' >>"$1"
SH
cat >"$tmp/write-garbage" <<'SH'
#!/bin/sh
echo 'this-is-not-a-rule' >"$1"
SH
printf '#!/bin/sh\nexit 3\n' >"$tmp/fail"
chmod +x "$tmp/append-rule" "$tmp/write-garbage" "$tmp/fail"
{ cat "$tmp/old"; echo 'qubes.Gpg * work vault allow'; } >"$tmp/appended"
VISUAL= EDITOR="$tmp/append-rule" run "$cli" edit "$d/30-user.policy" </dev/null
check "edit valid: exit 0" rc_is 0
check "edit valid: rule appended and installed" cmp -s "$d/30-user.policy" "$tmp/appended"
check "edit valid: mode 0640 kept" [ "$(stat -c %a "$d/30-user.policy")" = 640 ]
check "edit valid: no temporary file left" only_policy_files 10-base.policy 30-user.policy
cp "$d/30-user.policy" "$tmp/old"

# edit: garbage, stdin not a terminal: no question asked, nothing installed.
VISUAL= EDITOR="$tmp/write-garbage" run "$cli" edit "$d/30-user.policy" </dev/null
check "edit garbage: exit 1" rc_is 1
check "edit garbage: error shown as file:line:" err_has "$d/30-user.policy:1:"
check "edit garbage: not asked without a terminal" bash -c "! grep -q 'edit again' '$tmp/err'"
check "edit garbage: file unchanged" unchanged
check "edit garbage: no temporary file left" only_policy_files 10-base.policy 30-user.policy

# edit: $VISUAL wins over $EDITOR; a failing editor installs nothing.
VISUAL="$tmp/write-garbage" EDITOR="$tmp/append-rule" run "$cli" edit "$d/30-user.policy" </dev/null
check "edit: \$VISUAL preferred (garbage refused)" rc_is 1
check "edit: \$VISUAL preferred, file unchanged" unchanged
VISUAL= EDITOR="$tmp/fail" run "$cli" edit "$d/30-user.policy" </dev/null
check "edit with a failing editor: exit 1" rc_is 1
check "edit with a failing editor: file unchanged" unchanged
check "edit with a failing editor: no temporary file left" only_policy_files 10-base.policy 30-user.policy

# edit: a new file starts empty.
VISUAL= EDITOR="$tmp/append-rule" run "$cli" edit "$d/60-fresh.policy" </dev/null
check "edit new file: exit 0" rc_is 0
check "edit new file: content is the one rule" \
        [ "$(cat "$d/60-fresh.policy")" = 'qubes.Gpg * work vault allow' ]

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
