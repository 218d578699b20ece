#!/bin/sh
# legends.sh - legends that tell the truth.  A colour scale clipped at
# its 95th percentile says so on its top step (>= X, and how many tokens
# lie above the scale), in the text view and under the route map's row
# of losses, whole or shorter as the width allows; under LANG=C (ASCII)
# a colon parts each level's digit from its number and a newline in a
# piece reads \n; under NO_COLOR the budget chart's levels (big, small,
# best) are lines of three glyphs, hidden curves (t, :hide, :show) leave
# the chart and stay dim in the legend, and the chosen method's curve is
# drawn last; the detail pane's loss chart says its range of y, this
# token's or (z) the run's, the same from token to token, and widens
# with a wide window.  The count of tokens above the scale is checked against
# the database with sqlite3 (skipped without it).
. "${srcdir:-.}/tests/ui/lib.sh"
make_long_db
ui_test legends 100x30 <<'KEYS'
Enter
dump
resize 80x24
dump
resize 60x16
dump
resize 200x50
dump
z
dump
l
dump
resize 100x30
4
dump
KEYS
LC_ALL=C
ui_test legends-ascii 80x24 <<'KEYS'
Enter
dump
4
dump
7
:sort pos asc
:goto 5
dump
KEYS
LC_ALL=C.UTF-8 NO_COLOR=1 DUO_TUI_DUMP_ATTRS=1
export NO_COLOR DUO_TUI_DUMP_ATTRS
ui_test legends-nocolor 100x30 <<'KEYS'
Enter
3
dump
:hide fixed
:hide random_best
m
m
dump
:hide
:show best
dump
:hide nothing
dump
t
dump
t
dump
KEYS
# The 95th percentile of difficulty (small - best at each position) and
# the tokens above it, as run_scale() takes them.
if command -v sqlite3 >/dev/null 2>&1; then
	above=$(sqlite3 runs.db "WITH d AS (SELECT s.loss - b.loss AS v
	    FROM results s JOIN results b USING (run_id, pos)
	    WHERE s.method = 'small' AND b.method = 'best'),
	    n AS (SELECT count(*) AS n FROM d),
	    top AS (SELECT v FROM d ORDER BY v
	    LIMIT 1 OFFSET (SELECT (n - 1) * 95 / 100 FROM n))
	    SELECT count(*) FROM d WHERE v > (SELECT v FROM top)")
	check "the text legend counts $above tokens above the scale" \
	    grep -q "($above tokens above " legends.out
fi
ui_done
