#!/bin/sh
# findings.sh - "duo findings": the findings of a real run of the test
# fixture, each number checked against the same quantity computed here
# in SQL from the stored rows; the TSV format; the null-model control
# read when a run has one and named when it has none; routers' gaps
# against router_metrics; one-line errors.
#
# Environment: DUO (the program), srcdir, TESTS_BUILDDIR (for
# make_test_db).  Exit 0 pass, 1 fail, 77 without sqlite3, 99 on setup
# failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-findings.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
db="$tmp/runs.db"
model="$srcdir/tests/fixture.gguf"
text="$srcdir/tests/texts/harbour.txt"
"$DUO" run -m "$model" -d "$db" "$text" >/dev/null 2>"$tmp/err" || {
	echo "ERROR: duo run: $(cat "$tmp/err")"
	exit 99
}

sql() { sqlite3 -init /dev/null -batch "$db" "$1"; }
# value FINDING MEASURE METHOD BUDGET: the TSV's value, to 4 decimals.
value() {
	awk -F '\t' -v f="$1" -v m="$2" -v x="$3" -v b="$4" '
	    $1 == f && $2 == m && $3 == x && $4 == b {
		if ($5 == "") print "none"; else printf "%.4f\n", $5 }' \
	    "$tmp/tsv"
}
# same WHAT GOT WANT
same() {
	checks=$((checks + 1))
	[ "$2" = "$3" ] || fail "$1: duo findings says '$2', SQL '$3'"
}

expect 0 '' "findings of the newest run" -- "$DUO" findings -d "$db"
cp "$tmp/out" "$tmp/text"
expect 0 '' "findings as TSV" -- "$DUO" findings -d "$db" --tsv 1
cp "$tmp/out" "$tmp/tsv"

# The text: the run, that it has no control, every finding and verdict.
checks=$((checks + 1))
[ "$(sed -n 2p "$tmp/text")" = \
    "no null-model control (run duo run --null-control)" ] ||
    fail "the second line says there is no control: $(sed -n 2p "$tmp/text")"
checks=$((checks + 1))
[ "$(grep -c '^  verdict: ' "$tmp/text")" -eq 7 ] &&
    grep -q '^(f) ' "$tmp/text" && grep -q '(no router in this run)' \
    "$tmp/text" || fail "the headline and (a) to (f) each with a verdict"

# The TSV: a header, five fields a row, a verdict row per finding.
checks=$((checks + 1))
[ "$(head -n 1 "$tmp/tsv")" = "$(printf 'finding\tmeasure\tmethod\tbudget\tvalue')" ] ||
    fail "TSV header: $(head -n 1 "$tmp/tsv")"
checks=$((checks + 1))
awk -F '\t' 'NF != 5 { bad = 1 } END { exit bad }' "$tmp/tsv" ||
    fail "every TSV row has five fields"
checks=$((checks + 1))
[ "$(awk -F '\t' '$2 == "verdict" && $5 != ""' "$tmp/tsv" | wc -l)" -eq 7 ] ||
    fail "a verdict row per finding"
same "run id" "$(value run run_id '' '')" "1.0000"
same "no control id" "$(value run control_run_id '' '')" "none"

L=$(sql "SELECT n_layer FROM models")
means="WITH m AS (SELECT method, budget, avg(loss) AS l FROM results
    WHERE run_id = 1 GROUP BY method, budget)"
# headline: the label-free share at every budget with a gain
for k in $(seq 0 "$L"); do
	want=$(sql "$means SELECT CASE WHEN f.l - o.l > 1e-5 THEN
	    printf('%.4f', (f.l - a.l) / (f.l - o.l)) ELSE 'none' END
	    FROM m AS f, m AS o, m AS a WHERE f.method = 'fixed'
	    AND o.method = 'oracle' AND a.method = 'oracle_free'
	    AND f.budget = $k AND o.budget = $k AND a.budget = $k")
	same "label-free share at k=$k" \
	    "$(value headline label_free_share oracle_free "$k")" "$want"
done
# (a) and (b) for the oracle and the label-free oracle
for method in oracle oracle_free; do
	want=$(sql "$means SELECT CASE WHEN min(budget) IS NULL THEN 'none'
	    ELSE printf('%.4f', min(budget)) END FROM m
	    WHERE method = '$method'
	    AND l < (SELECT l FROM m WHERE method = 'big') - 1e-5")
	same "(a) $method" "$(value a least_k_beating_big "$method" '')" \
	    "$want"
	want=$(sql "$means SELECT printf('%.4f', budget) FROM m
	    WHERE method = '$method' ORDER BY l, budget LIMIT 1")
	same "(b) $method" "$(value b budget_of_lowest_ppl "$method" '')" \
	    "$want"
done
# (d) the mean layer of big modules, from the allocation view
tight=$((L / 3)) loose=$(((2 * L + 2) / 3))
for method in oracle oracle_free; do
	want=$(sql "SELECT printf('%.4f', sum(layer * share_big)
	    / sum(share_big)) FROM allocation WHERE run_id = 1
	    AND method = '$method' AND budget BETWEEN 1 AND $tight")
	same "(d) tight $method" "$(value d centre_tight "$method" '')" \
	    "$want"
	want=$(sql "SELECT printf('%.4f', sum(layer * share_big)
	    / sum(share_big)) FROM allocation WHERE run_id = 1
	    AND method = '$method' AND budget BETWEEN $loose AND $L - 1")
	same "(d) loose $method" "$(value d centre_loose "$method" '')" \
	    "$want"
done
# (e) big modules of the best route by half of its window (the stored
# window_pos; a window of n tokens has 1..n/2 in its first half)
halves="WITH w AS (SELECT window_index, count(*) AS n FROM tokens
    WHERE run_id = 1 AND pos >= 1 GROUP BY window_index)
SELECT printf('%.4f', avg(r.budget)) FROM tokens AS t
JOIN w USING (window_index)
JOIN results AS r ON r.run_id = t.run_id AND r.pos = t.pos
  AND r.method = 'best'
WHERE t.run_id = 1 AND t.pos >= 1"
same "(e) first half" "$(value e big_first_half best '')" \
    "$(sql "$halves AND 2 * t.window_pos <= w.n")"
same "(e) second half" "$(value e big_second_half best '')" \
    "$(sql "$halves AND 2 * t.window_pos > w.n")"
# (f) high loss that no route helps, ranked with window functions
want=$(sql "WITH d AS (SELECT pos, loss_big, difficulty FROM difficulty
    WHERE run_id = 1), q AS (SELECT (count(*) + 3) / 4 AS n FROM d),
    hi AS (SELECT pos FROM d ORDER BY loss_big DESC, pos
      LIMIT (SELECT n FROM q)),
    lo AS (SELECT pos FROM d ORDER BY difficulty, pos
      LIMIT (SELECT n FROM q))
    SELECT printf('%.4f', count(*)) FROM hi JOIN lo USING (pos)")
same "(f) unhelped tokens" "$(value f unhelped_tokens big '')" "$want"
same "(f) quarter" "$(value f high_loss_tokens big '')" \
    "$(sql "SELECT printf('%.4f', (count(*) + 3) / 4) FROM tokens
    WHERE run_id = 1 AND pos >= 1")"

# A control run linked to run 1 is read, and the newest run, being a
# control, stands for the run it controls.
"$DUO" run -m "$model" -d "$db" "$text" >/dev/null 2>&1 || exit 99
sql "UPDATE runs SET control_of = 1 WHERE id = 2"
expect 0 '' "findings with a control" -- "$DUO" findings -d "$db"
checks=$((checks + 1))
[ "$(head -n 2 "$tmp/out")" = "$(sed -n 1p "$tmp/text")
null-model control: run 2 (the same analysis on a random-weight model of the same shape)" ] ||
    fail "the newest run is a control: its run's findings, beside it: $(head -n 2 "$tmp/out")"
expect 0 '' "TSV with a control" -- "$DUO" findings -d "$db" --tsv
cp "$tmp/out" "$tmp/tsv"
same "control id" "$(value run control_run_id '' '')" "2.0000"
same "the control's (a), the same analysis" \
    "$(value a least_k_beating_big null:oracle '')" \
    "$(value a least_k_beating_big oracle '')"
expect 0 '' "a control named is shown itself" -- "$DUO" findings -d "$db" 2
checks=$((checks + 1))
grep -q '^run 2: ' "$tmp/out" || fail "findings 2 is run 2's"

# Routers: gap closed and the achievable gap as router_metrics has them.
"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" \
    "$tmp/free.db" label-free || exit 99
expect 0 '' "findings of a run with a router" -- \
    "$DUO" findings -d "$tmp/free.db" --tsv 1
cp "$tmp/out" "$tmp/tsv"
db="$tmp/free.db"
for k in 1 2 3 4 5; do
	same "(c) gap closed at k=$k" \
	    "$(value c gap_closed router:probe "$k")" \
	    "$(sql "SELECT CASE WHEN gap_closed IS NULL THEN 'none' ELSE
	    printf('%.4f', gap_closed) END
	    FROM router_metrics WHERE run_id = 1 AND budget = $k")"
	same "(c) achievable gap closed at k=$k" \
	    "$(value c achievable_gap_closed router:probe "$k")" \
	    "$(sql "SELECT CASE WHEN achievable_gap_closed IS NULL THEN
	    'none' ELSE printf('%.4f', achievable_gap_closed) END
	    FROM router_metrics WHERE run_id = 1 AND budget = $k")"
done

# A damaged control is refused with one line naming it.
sqlite3 "$tmp/free.db" "UPDATE runs SET n_results = 5 WHERE id = 4" ||
    exit 99
expect 1 "^duo: .*free.db: run 4: n_results is 5, but it has [0-9]* results\$" \
    "a damaged control" -- "$DUO" findings -d "$tmp/free.db" 1
expect 1 "duo: .*no run '99'" "a run that is not there" -- \
    "$DUO" findings -d "$tmp/free.db" 99
expect 2 'too many arguments' "two runs" -- \
    "$DUO" findings -d "$tmp/free.db" 1 2
expect 0 '' "findings --help" -- "$DUO" findings --help

echo "findings: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
