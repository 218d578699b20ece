#!/bin/sh
# help.sh - the help view lists the keys of the view it was opened from
# and those of every view, then the ':' commands, scrolling when they do
# not fit, a command too long for the keys' column with its help under it
# (:export); q goes back to the view it came from.  The same pane shows
# the recent messages whole (:messages), the status line having cut one
# short with an ellipsis, and the open run's methods (:methods), which an
# unknown method's error points to.
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
ui_test help-messages 80x24 <<'KEYS'
?
PgDn
PgDn
PgDn
dump
q
Enter
:export csv x.csv
:export csv x.csv
:method nothing
dump
:messages
dump
?
dump
q
:methods
dump
KEYS
ui_done
