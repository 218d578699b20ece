#!/bin/sh
# budget.sh - the budget view, opened from the runs list: the chart of
# perplexity against the budget with every method, the budget moved with
# + - and the arrows (the chart's mark and the allocation follow), the
# method compared with the oracle chosen in the allocation pane, and the
# ASCII drawing on a small window.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test budget 100x30 <<'KEYS'
j
3
dump
+
dump
Left
Left
Left
dump
m
Tab
j
dump
:budget 0
dump
KEYS
ui_test budget-ascii 80x24 --ascii <<'KEYS'
3
dump
KEYS
ui_done
