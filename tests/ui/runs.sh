#!/bin/sh
# runs.sh - the runs view: the list with its preview, sorting by a column
# and reversing, the budget in the oracle column, the PCRE2 filter over
# labels and texts (and a bad pattern), deleting a run after a question
# (no, then yes), the list read again with R, and a click on a row.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test runs 100x30 <<'KEYS'
dump
# by label, then reversed; the preview follows the selection
s
dump
S
j
dump
# the oracle column follows the budget
S
s
s
s
s
s
s
s
s
s
s
+
+
dump
# by label (one run), by text (a word only run 3 has), both cleared
/island
dump
/captain
dump
/(unclosed
dump
/
G
D
n
dump
D
dump
y
dump
R
dump
# a click selects a row
click 5 10
dump
KEYS
check "the run deleted on screen is gone from the database" \
    sh -c '! "$0" export 4 >/dev/null 2>&1' "$DUO"
check "the other runs are still there" \
    sh -c '"$0" export 3 >/dev/null 2>&1' "$DUO"
ui_done
