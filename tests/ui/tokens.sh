#!/bin/sh
# tokens.sh - the tokens view: the run's tokens as a table, sorted by
# difficulty at first; sorted by the regret of a router with :sort, by
# s and S, smallest first with :sort NAME asc, by a click on a header
# (again: the other way); :sort and :where errors in one line; filtered
# by a PCRE2 pattern on the piece (/) and by :where on a column, both at
# once, the footer counting the rows with their mean of the sort column;
# Enter showing the selected token in the text view, and 7 coming back
# to it.  Then, in ASCII, the pieces with a quote, escaped, and a sort
# marked v.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test tokens 100x30 <<'KEYS'
Enter
7
dump
M
:sort regret
dump
s
S
S
dump
:sort pos asc
:sort nothing
dump
:sort regret sideways
dump
click 2 30
click 2 30
dump
/^ th
dump
:where difficulty > 1.5
dump
:where difficulty ~ 2
dump
:where piece > 2
dump
:where
/
j
Enter
dump
7
dump
/zzz
dump
KEYS
rm -f runs.db
make_long_db
ui_test tokens-ascii 80x24 --ascii <<'KEYS'
Enter
7
/"
dump
:sort piece
dump
KEYS

# A real run holds oracle_free: the oracle's loss column has it at its
# right, or (where the two do not fit) shows only as the sort column or
# the chosen method's.
rm -f runs.db
printf 'The kettle sang while the dog waited under the table.\n' >pair.txt
"$DUO" run -m "$srcdir/tests/fixture.gguf" pair.txt >/dev/null || exit 99
header() {
	printf 'Enter\n7\n%s\ndump\n' "$2" >"$tmp/pair.keys"
	DUO_TUI_SCRIPT="$tmp/pair.keys" DUO_TUI_SIZE="$1" "$DUO" tui |
	    sed -n 4p
}
h=$(header 100x24 '')
check "at 100 columns oracle_free is at the oracle's right: $h" \
    sh -c "printf '%s' '$h' | grep -q ' oracle  oracle_free '"
h=$(header 80x24 ':method small')
check "at 80 columns, no oracle without oracle_free: $h" \
    sh -c "! printf '%s' '$h' | grep -q ' oracle '"
h=$(header 80x24 '')
check "at 80 columns the chosen oracle shows alone: $h" \
    sh -c "printf '%s' '$h' | grep -q ' oracle  *regret '"
ui_done
