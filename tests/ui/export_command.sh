#!/bin/sh
# export_command.sh - ":export FORMAT FILE" in the browser writes the open
# run byte for byte as "duo export" does, in CSV and in JSON (the run of
# odd bytes too); it refuses to write over a file, which ":export!" does;
# a bad format, a missing file name, a folder that does not exist and no
# open run each get one line in the status line; ~, $HOME and ${HOME}
# in the file's path are the home folder.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
mkdir sub || exit 99
printf 'keep me\n' >kept.txt

ui_test export_command 100x30 <<'KEYS'
:export csv early.csv
dump
Enter
:export csv one.csv
dump
:export json one.json
:export csv kept.txt
dump
:export! json kept.txt
dump
:export xml x.xml
dump
:export csv
dump
:export json nowhere/x.json
dump
1
G
Enter
:export csv sub/odd.csv
:export json sub/odd.json
dump
KEYS

same() {
	"$DUO" export "$@" >expected.out 2>/dev/null || return 1
	cmp -s expected.out "$file"
}
file=one.csv check "one.csv is duo export 1" same 1
file=one.json check "one.json is duo export -f json 1" same -f json 1
file=kept.txt check "kept.txt, written over, is duo export -f json 1" \
    same -f json 1
file=sub/odd.csv check "sub/odd.csv is duo export 4" same 4
file=sub/odd.json check "sub/odd.json is duo export -f json 4" \
    same -f json 4
check "no file for a refused export" test ! -e early.csv -a ! -e x.xml \
    -a ! -e nowhere

# Paths expand ~ and $HOME as a shell would.
mkdir home || exit 99
cat >"$tmp/home.keys" <<'KEYS'
Enter
:export csv ~/tilde.csv
:export json $HOME/dollar.json
:export csv ${HOME}/brace.csv
:export csv ~/tilde.csv
dump
KEYS
HOME="$tmp/home" DUO_TUI_SCRIPT="$tmp/home.keys" DUO_TUI_DUMP="$tmp/home.out" \
    "$DUO" tui 2>/dev/null || exit 99
file=home/tilde.csv check "~/tilde.csv is written in \$HOME" same 1
file=home/dollar.json check "\$HOME/dollar.json is written in \$HOME" \
    same -f json 1
file=home/brace.csv check "\${HOME}/brace.csv is written in \$HOME" same 1
check "a file named as typed: $(grep 'exists' "$tmp/home.out")" \
    grep -q '~/tilde.csv exists; :export! csv ~/tilde.csv' "$tmp/home.out"
check "no folder named ~ or \$HOME" test ! -e '~' -a ! -e '$HOME' \
    -a ! -e '${HOME}'
ui_done
