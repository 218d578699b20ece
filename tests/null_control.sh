#!/bin/sh
# null_control.sh - "duo run --null-control": on the fixture model (random
# weights of its own) the control is stored as a second run linked to the
# first (control_of), its settings hold the seed, its model is a model of
# its own of the same shape, its oracle is at most its random_mean at
# every budget and token (a minimum is at most a mean), the same seed
# gives the same losses and another seed others, and it is off by
# default.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
fixture="$srcdir/tests/fixture.gguf"
text="$srcdir/tests/texts/cli.txt"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-null.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
db="$tmp/runs.db"

# sql QUERY EXPECTED DESCRIPTION
sql() {
	checks=$((checks + 1))
	got=$(sqlite3 "$db" "$1" 2>&1)
	[ "$got" = "$2" ] || fail "$3: got '$got', expected '$2'"
}

L=$("$DUO" info "$fixture" | sed -n 's/^layers *//p')

expect 2 '--null-seed goes with --null-control' "a seed without the control" \
    -- "$DUO" run -m "$fixture" -d "$db" --null-seed 3 "$text"
expect 2 "--null-seed 'x' is not a whole number" "a seed that is no number" \
    -- "$DUO" run -m "$fixture" -d "$db" --null-control --null-seed x "$text"

expect 0 '' "a run, no control by default" -- \
    "$DUO" run -m "$fixture" -d "$db" "$text"
sql "SELECT count(*) FROM runs" 1 "off by default: one run"

expect 0 '' "a run with a null control" -- "$DUO" run -m "$fixture" -d "$db" \
    --null-control --null-seed 7 --label real "$text"
grep -q '^null control: run 3, the same analysis on a model of the same shape with random weights (seed 7)' \
    "$tmp/out" && ok || fail "the summary does not name the control: $(cat "$tmp/out")"
[ "$(grep -c '^ *[0-9]* .*%.*%$' "$tmp/out")" -eq $((L + 1)) ] && ok ||
    fail "the summary has no row of oracle against all-big per budget"
sql "SELECT id, coalesce(control_of, 0), coalesce(label, '') FROM runs
    WHERE id > 1 ORDER BY id" "2|0|real
3|2|real (null control)" "the control is a second run linked to the first"
sql "SELECT json_extract(settings, '\$.null_seed') FROM runs WHERE id = 3" 7 \
    "the control's settings hold its seed"
sql "SELECT json_type(settings, '\$.null_seed') FROM runs WHERE id = 2" '' \
    "the real run's settings have no null seed"
sql "SELECT a.model_id != b.model_id AND ma.n_layer = mb.n_layer AND
    ma.d_model = mb.d_model AND ma.n_vocab = mb.n_vocab AND
    ma.d_ff = mb.d_ff AND ma.d_ff_small = mb.d_ff_small AND
    ma.sha256 != mb.sha256
    FROM runs a, runs b, models ma, models mb WHERE a.id = 2 AND b.id = 3
    AND ma.id = a.model_id AND mb.id = b.model_id" 1 \
    "the null model is a model of its own, of the same shape"
sql "SELECT (SELECT text FROM runs WHERE id = 2) =
    (SELECT text FROM runs WHERE id = 3) AND
    (SELECT group_concat(token_id) FROM tokens WHERE run_id = 2) =
    (SELECT group_concat(token_id) FROM tokens WHERE run_id = 3)" 1 \
    "the control analyses the same text and tokens"
n=$(sqlite3 "$db" "SELECT n_tokens FROM runs WHERE id = 3")
sql "SELECT count(*) FROM results o JOIN results m ON m.run_id = o.run_id
    AND m.pos = o.pos AND m.budget = o.budget
    WHERE o.run_id = 3 AND o.method = 'oracle' AND m.method = 'random_mean'" \
    $((n * (L + 1))) "the control has oracle and random_mean at every budget"
sql "SELECT count(*) FROM results o JOIN results m ON m.run_id = o.run_id
    AND m.pos = o.pos AND m.budget = o.budget
    WHERE o.run_id = 3 AND o.method = 'oracle' AND m.method = 'random_mean'
    AND o.loss > m.loss + 1e-6" 0 \
    "the control's oracle is at most its random_mean, per token and budget"
sql "SELECT count(*) FROM route_losses WHERE run_id = 3" "$n" \
    "the control keeps its loss tables"

# the same seed: the same losses, method by method and token by token
expect 0 '' "the same seed again" -- "$DUO" run -m "$fixture" -d "$db" \
    --null-control --null-seed 7 "$text"
sql "SELECT coalesce(control_of, 0) FROM runs WHERE id = 5" 4 \
    "the second control is linked to its own run"
sql "SELECT count(*) FROM results a JOIN results b ON b.pos = a.pos AND
    b.method = a.method AND b.budget = a.budget
    WHERE a.run_id = 3 AND b.run_id = 5 AND a.loss = b.loss
    AND a.route IS b.route" \
    "$(sqlite3 "$db" "SELECT count(*) FROM results WHERE run_id = 3")" \
    "two controls of the same seed have identical losses"
expect 0 '' "another seed" -- "$DUO" run -m "$fixture" -d "$db" \
    --null-control --null-seed 8 "$text"
sql "SELECT count(*) FROM results a JOIN results b ON b.pos = a.pos AND
    b.method = 'big' WHERE a.run_id = 3 AND b.run_id = 7
    AND a.method = 'big' AND a.loss != b.loss" "$n" \
    "another seed makes another model"
sql "SELECT count(DISTINCT model_id) FROM runs" 3 \
    "the real model and one null model per seed"

# a later run of the real model notes no change of model: the controls'
# models share its path, not its file
expect 0 '' "a run after the controls" -- "$DUO" run -m "$fixture" -d "$db" \
    "$text"
grep -q 'has changed since run' "$tmp/err" &&
    fail "a control's model is taken for a changed model file" || ok

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
