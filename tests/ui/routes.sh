#!/bin/sh
# routes.sh - the route map, opened from the runs list: layers by tokens
# for the oracle, the cursor moved, other methods (best varies its budget
# per token), a method with no route to draw; and a run of 300 tokens and
# 12 layers that scrolls sideways on an 80-column window; at 60x16 the
# layers left out are noted on a row of their own, below the last layer
# drawn; at 120x40 the rows to spare show the token under every method.
# Every size has the legend of the loss row, its top step saying how
# many tokens lie above the scale.
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
resize 60x16
dump
resize 120x40
dump
KEYS
ui_done
