#!/bin/sh
# small.sh - windows below the minimum of 60x16 get a message, keys other
# than q are ignored there, and the views come back whole when the window
# grows again.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test small 50x12 <<'KEYS'
dump
j
Enter
resize 60x16
dump
Enter
resize 59x16
dump
resize 60x15
dump
resize 100x30
dump
resize 60x16
3
dump
q
q
q
KEYS
ui_done
