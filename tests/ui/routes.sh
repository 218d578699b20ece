#!/bin/sh
# routes.sh - the route map, opened from the runs list: layers by tokens
# for the oracle, the cursor moved, other methods (best varies its budget
# per token), a method with no route to draw; and a run of 300 tokens and
# 12 layers that scrolls sideways on an 80-column window.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test routes 100x30 <<'KEYS'
4
dump
l
l
l
-
dump
:method best
dump
:method random_mean
dump
KEYS
rm -f runs.db
make_long_db
ui_test routes-long 80x24 <<'KEYS'
4
dump
PgDn
l
l
w
dump
End
dump
Home
:budget 2
M
dump
KEYS
ui_done
