#!/bin/sh
# compare.sh - the compare view: opened from a run, the chosen method
# against the oracle token by token with its statistics block, another
# method on the right (r), the sides swapped (x), the budget followed
# (+); at 180 columns the legend's note on the tokens beyond its clipped
# scale; two runs of the same tokens (one marked with c in the runs view),
# the right side moved back to the open run (t); a marked run of other
# tokens, refused in one line; a small window.  The perplexities and the
# share of tokens improved are checked against the database with sqlite3
# (skipped without it).
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test compare 100x30 <<'KEYS'
j
Enter
5
dump
r
r
dump
x
dump
+
l
l
dump
resize 60x16
dump
resize 180x30
dump
resize 100x30
1
g
c
dump
j
5
dump
KEYS

# Runs 5 and 6: the same tokens, in the shared and the greedy context.
fixture="$srcdir/tests/fixture.gguf"
cat >text.txt <<'TEXT'
The baker opened her shop before the sun was up, and the first customer
was always the same old man, who bought one loaf and asked about the rain.
TEXT
"$DUO" run -m "$fixture" -l "same a" text.txt >/dev/null || exit 99
"$DUO" run -m "$fixture" -l "same b" -c greedy text.txt >/dev/null ||
    exit 99
# (The runs view is not dumped: it shows when these runs were made.)
ui_test compare-runs 100x30 <<'KEYS'
G
k
c
G
5
dump
t
dump
M
r
dump
KEYS

# The statistics of the first screen against the database: run 2,
# oracle@3 (left) against fixed@3.
if command -v sqlite3 >/dev/null 2>&1; then
	ppl() {
		sqlite3 runs.db "SELECT printf('%.2f', exp(avg(loss))) FROM
		    results WHERE run_id = 2 AND method = '$1' AND budget = 3"
	}
	improved=$(sqlite3 runs.db "SELECT printf('%.1f%%', 100.0 *
	    sum(o.loss < f.loss - 1e-5) / count(*)) FROM results o JOIN
	    results f USING (run_id, pos, budget) WHERE o.run_id = 2 AND
	    o.method = 'oracle' AND f.method = 'fixed' AND o.budget = 3")
	first=$(awk '/^--- dump 2/ { exit } { print }' compare.out)
	check "left perplexity is oracle@3's" \
	    sh -c "printf '%s\n' \"\$1\" | grep -q 'left   oracle@3 .* ppl $(ppl oracle)'" \
	    - "$first"
	check "right perplexity is fixed@3's" \
	    sh -c "printf '%s\n' \"\$1\" | grep -q 'right  fixed@3 .* ppl $(ppl fixed)'" \
	    - "$first"
	check "improved share is the database's ($improved)" \
	    sh -c "printf '%s\n' \"\$1\" | grep -q 'improved $improved '" \
	    - "$first"
fi
ui_done
