#!/bin/sh
# findings.sh - the findings view (8) of a run with oracle_free and a
# null-model control: the headline and (a) to (f) beside the control,
# wrapped to the window and scrolled to the end with G; the budget chart
# of that run with oracle_free drawn and the gaps over it; and a run
# without a control, which says so; a damaged control, whose fault shows
# in place of the findings.
. "${srcdir:-.}/tests/ui/lib.sh"
"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" runs.db \
    label-free >/dev/null || exit 99
ui_test findings 100x30 <<'KEYS'
Enter
8
dump
G
dump
3
dump
1
j
Enter
8
dump
KEYS
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 runs.db "UPDATE runs SET n_results = 5 WHERE id = 4" ||
	    exit 99
	ui_test findings-damaged 100x16 <<'KEYS'
Enter
8
dump
KEYS
fi
ui_done
