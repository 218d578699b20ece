#!/bin/sh
# findings.sh - the findings view (8) of a run with oracle_free and a
# null-model control: the headline and (a) to (f) beside the control,
# wrapped to the window and scrolled to the end with G; the budget chart
# of that run with oracle_free drawn and the gaps over it; and a run
# without a control, which says so.
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
ui_done
