#!/bin/sh
# help.sh - the help view lists the keys of the view it was opened from
# and those of every view, then the ':' commands, scrolling when they do
# not fit; q goes back to the view it came from.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test help 80x24 <<'KEYS'
?
dump
PgDn
dump
q
Enter
?
dump
q
dump
KEYS
ui_done
