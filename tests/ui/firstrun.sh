#!/bin/sh
# firstrun.sh - with no database the runs view tells how to make a first
# run, and creates nothing; a file that is not a duo database gets a
# clear message instead of a crash.
. "${srcdir:-.}/tests/ui/lib.sh"
ui_test firstrun 80x24 <<'KEYS'
dump
Enter
2
dump
KEYS
check "the browser created no database" test ! -e runs.db
printf 'These are only words, not a database of runs.\n' >runs.db
ui_test firstrun-bad 80x24 <<'KEYS'
dump
KEYS
ui_done
