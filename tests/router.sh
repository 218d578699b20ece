#!/bin/sh
# router.sh - "duo router train" and routers in "duo info", "duo convert"
# and "duo run" on the fixture model: exit statuses and one-line messages
# on bad input, the model file never changed unless --in-place, and the
# rows and views a run with routers leaves in the database.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
fixture="$srcdir/tests/fixture.gguf"
data="$srcdir/tests/texts/fixture-corpus.txt"
text="$srcdir/tests/texts/cli.txt"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-router.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"

# sql DB QUERY EXPECTED DESCRIPTION
sql() {
	checks=$((checks + 1))
	got=$(sqlite3 "$1" "$2" 2>&1)
	[ "$got" = "$3" ] || fail "$4: got '$got', expected '$3'"
}

L=$("$DUO" info "$fixture" | sed -n 's/^layers *//p')
before=$(sha256sum <"$fixture")
m="$tmp/m.gguf"

expect 0 '' "router --help" -- "$DUO" router --help
expect 2 'train' "router without a command" -- "$DUO" router
expect 2 "'fly' is not a router command" "unknown router command" -- \
    "$DUO" router fly
expect 2 '--budget K is required' "no budget" -- \
    "$DUO" router train -m "$fixture" --name a --data "$data" -o "$m"
expect 2 '--name NAME is required' "no name" -- \
    "$DUO" router train -m "$fixture" --budget 1 --data "$data" -o "$m"
expect 2 '--data FILE is required' "no data" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a -o "$m"
expect 2 '--out FILE or --in-place' "nowhere to write" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a --data "$data"
expect 2 '--out FILE or --in-place' "two places to write" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a --data "$data" \
    -o "$m" --in-place
expect 2 "has ' '" "a name with a space" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name 'a b' \
    --data "$data" -o "$m"
expect 2 "'gauss' is not paper or oracle" "unknown kind" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a --kind gauss \
    --data "$data" -o "$m"
expect 1 "more than the model's $L layers" "budget above L" -- \
    "$DUO" router train -m "$fixture" --budget $((L + 1)) --name a \
    --data "$data" -o "$m"
expect 1 'missing.txt' "missing training text" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a \
    --data "$tmp/missing.txt" -o "$m"
expect 2 "--target: 'maybe' is not oracle or free" "unknown target" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a --kind oracle \
    --target maybe --data "$data" -o "$m"
expect 2 '--target is for the oracle kind' "a target for the paper kind" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a --target free \
    --data "$data" -o "$m"
[ ! -e "$m" ] && ok || fail "a failed training wrote $m"

expect 0 '' "paper router" -- "$DUO" router train -m "$fixture" \
    --budget 2 --name paper2 --data "$data" --steps 5 --batch 2 -o "$m"
expect 0 '' "oracle router added" -- "$DUO" router train -m "$m" \
    --budget 1 --name oracle1 --kind oracle --label-tokens 300 \
    --weighted --data "$data" --in-place
expect 1 'already has a router named paper2' "same name again" -- \
    "$DUO" router train -m "$m" --budget 2 --name paper2 --data "$data" \
    --steps 2 --in-place
expect 0 '' "--replace" -- "$DUO" router train -m "$m" --budget 3 \
    --name paper2 --data "$data" --steps 2 --batch 1 --in-place --replace
[ "$(sha256sum <"$fixture")" = "$before" ] && ok ||
    fail "the source model changed"
"$DUO" info "$m" >"$tmp/info" 2>&1
grep -q '^  paper2 *paper, space BS, budget 3: 2 steps' "$tmp/info" && ok ||
    fail "info does not describe paper2: $(grep -A3 routers "$tmp/info")"
grep -q '^  oracle1 *oracle, space BS, budget 1: 400 steps.*target oracle, weighting regret' \
    "$tmp/info" && ok || fail "info does not describe oracle1"
# the label-free target, in a file of its own
expect 0 '' "label-free oracle router" -- "$DUO" router train -m "$fixture" \
    --budget 1 --name free1 --kind oracle --target free --label-tokens 300 \
    --data "$data" -o "$tmp/free.gguf"
"$DUO" info "$tmp/free.gguf" | grep -q \
    '^  free1 *oracle, space BS, budget 1: 400 steps.*target oracle_free, weighting none' &&
    ok || fail "info does not describe free1: $("$DUO" info "$tmp/free.gguf" | grep free1)"
[ "$(grep -c '\.router\.' "$tmp/info")" -eq $((2 * L)) ] && ok ||
    fail "info lists $(grep -c '\.router\.' "$tmp/info") router tensors"
expect 0 '' "convert keeps routers" -- "$DUO" convert --type f32 "$m" \
    "$tmp/m32.gguf"
"$DUO" info "$tmp/m32.gguf" | grep -q '^  oracle1 ' && ok ||
    fail "convert dropped the routers"

db="$tmp/runs.db"
expect 1 'has no router named nope; it has paper2 oracle1' "unknown router" -- \
    "$DUO" run -m "$m" -d "$db" --router nope "$text"
expect 1 'has no learned routers' "--router all without routers" -- \
    "$DUO" run -m "$fixture" -d "$db" --router all "$text"
expect 2 "'maybe' is not exact or soft" "bad router mode" -- \
    "$DUO" run -m "$m" -d "$db" --router all --router-mode maybe "$text"
expect 1 'chooses in the space BS, not in the run' "router of another space" -- \
    "$DUO" run -m "$m" -d "$db" --router paper2 --space B. "$text"
[ ! -e "$db" ] || sql "$db" 'SELECT count(*) FROM runs' 0 "failed runs stored"

for context in shared fixed greedy; do
	expect 0 '' "run with both routers, $context" -- "$DUO" run -m "$m" \
	    -d "$db" --context "$context" --router all "$text"
	[ "$context" = shared ] && cp "$tmp/out" "$tmp/run1.out"
done
# The summary's gap closed (against the oracle) and achievable gap
# (against oracle_free) are router_metrics' to the 0.1% it prints.
awk '/^router:/ { name = $1; sub(/:$/, "", name); next }
    name != "" && $1 ~ /^[0-9]+$/ && $3 == "gap" {
	print name, $1, $5, $7 }' "$tmp/run1.out" | sort >"$tmp/gaps.run"
sqlite3 -separator ' ' "$db" "SELECT method, budget,
    CASE WHEN gap_closed IS NULL THEN '-'
      ELSE printf('%.1f%%', 100 * gap_closed) END,
    CASE WHEN achievable_gap_closed IS NULL THEN '-'
      ELSE printf('%.1f%%', 100 * achievable_gap_closed) END
    FROM router_metrics WHERE run_id = 1" | sort >"$tmp/gaps.sql"
checks=$((checks + 1))
[ "$(wc -l <"$tmp/gaps.run")" -eq $((2 * (L + 1))) ] &&
    cmp -s "$tmp/gaps.run" "$tmp/gaps.sql" ||
    fail "duo run's gaps differ from router_metrics': $(diff "$tmp/gaps.run" \
	"$tmp/gaps.sql" | head -5 | tr '\n' ';')"
expect 0 '' "run, soft mode" -- "$DUO" run -m "$m" -d "$db" \
    --router paper2 --router-mode soft "$text"
n=$(sqlite3 "$db" "SELECT n_tokens FROM runs WHERE id = 1")
sql "$db" "SELECT count(*) FROM results WHERE run_id <= 3
    AND method GLOB 'router:*'" $((3 * 2 * (L + 1) * n)) \
    "exact runs: a row per router, budget and token"
sql "$db" "SELECT count(*) FROM results WHERE method GLOB 'router:*'
    AND run_id <= 3
    AND length(route) - length(replace(route, 'B', '')) != budget" 0 \
    "exact mode spends exactly the budget"
sql "$db" "SELECT DISTINCT budget FROM results WHERE run_id = 4
    AND method = 'router:paper2'" 3 "soft mode: rows at the trained budget"
sql "$db" "SELECT json_extract(settings, '\$.router_mode') || ' ' ||
    json_extract(settings, '\$.routers.paper2.budget') FROM runs
    WHERE id = 4" "soft 3" "settings record the mode and the routers"
sql "$db" "SELECT count(*) FROM router_metrics WHERE run_id = 1" \
    $((2 * (L + 1))) "router_metrics: a row per router and budget"
sql "$db" "SELECT count(*) FROM router_metrics WHERE run_id <= 2
    AND NOT (regret_p50 >= -1e-6 AND regret_p50 <= regret_p90
    AND regret_p90 <= regret_max AND ppl >= ppl_oracle * 0.999999)" 0 \
    "shared and fixed: regret is never negative, percentiles in order"
sql "$db" "SELECT count(*) FROM router_metrics WHERE run_id = 1
    AND budget = $L AND abs(ppl - ppl_oracle) > 1e-9" 0 \
    "at budget L every route is all-B"
sql "$db" "SELECT count(*) FROM router_agreement WHERE run_id = 1
    AND budget = 1" $((2 * L)) "router_agreement: a row per layer"
sql "$db" "SELECT count(*) FROM (SELECT layer, sum(n) AS s
    FROM router_confusion WHERE run_id = 1 AND method = 'router:oracle1'
    AND budget = 1 GROUP BY layer) WHERE s != $n" 0 \
    "router_confusion counts every token at every layer"

# soft mode with a budget list that lacks the router's: it is added
expect 0 '' "soft mode, other budgets" -- "$DUO" run -m "$m" -d "$db" \
    --budgets 1 --router paper2 --router-mode soft "$text"
sql "$db" "SELECT group_concat(budget) FROM (SELECT DISTINCT budget
    FROM results WHERE run_id = 5 AND method = 'oracle' ORDER BY budget)" \
    "1,3" "soft mode adds the router's budget to the run's"
sql "$db" "SELECT count(*) FROM router_metrics WHERE run_id = 5" 1 \
    "... so that its metrics have an oracle and a fixed to stand by"
sql "$db" "SELECT count(*) FROM router_metrics
    WHERE budget IN (0, $L) AND gap_closed IS NOT NULL" 0 \
    "no gap closed where fixed and the oracle are one route"
# the routers are not counted as the model's parameters
[ "$("$DUO" info "$m" | grep '^parameters')" = \
    "$("$DUO" info "$fixture" | grep '^parameters')" ] && ok ||
    fail "info counts router weights as parameters"
head -c 20 "$data" >"$tmp/tiny.txt"
expect 1 'tiny.txt: the training text has' "a training text shorter than a window" -- \
    "$DUO" router train -m "$fixture" --budget 1 --name a \
    --data "$tmp/tiny.txt" -o "$m.new"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
