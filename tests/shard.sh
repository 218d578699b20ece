#!/bin/sh
# shard.sh - "duo run --shard I/N" and "duo merge --join-shards": a text
# of the fixture cut into 3 shards and joined equals a run of the whole
# text exactly (every result's route and loss, every loss and KL table,
# the tokens, the text, the settings but for threads): the shards split
# at window boundaries, so each window is scored as in the whole run,
# and the join recomputes fixed, random_best, random_mean and shuffled
# from the tables as the whole run derives them.  Bad shards and bad
# joins are refused with one line.
#
# Environment: DUO, srcdir.  Exit 0 pass, 1 fail, 77 without sqlite3.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3"; exit 77; }
fixture=$(cd "$srcdir" && pwd)/tests/fixture.gguf
text=$(cd "$srcdir" && pwd)/tests/texts/travels.txt
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-shard.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
cd "$tmp" || exit 99

"$DUO" run -m "$fixture" -d single.db "$text" >/dev/null || exit 99
for i in 1 2 3; do
	"$DUO" run -m "$fixture" -d s$i.db --shard $i/3 "$text" >/dev/null \
	    2>>notes || exit 99
done
expect 0 '' "join three shards" -- \
    "$DUO" merge --join-shards joined.db s1.db s2.db s3.db

# exact: the same windows give the same sums, bit for bit
q() { sqlite3 joined.db "ATTACH 'single.db' AS s; $1"; }
[ "$(q "SELECT count(*) FROM results")" = \
    "$(q "SELECT count(*) FROM s.results")" ] || fail "result counts differ"
n=$(q "SELECT count(*) FROM results a JOIN s.results b
    ON b.run_id = 1 AND a.pos = b.pos AND a.method = b.method
    AND a.budget = b.budget
    WHERE a.route IS NOT b.route OR a.loss != b.loss")
[ "$n" = 0 ] || fail "$n results differ from the whole run's"
n=$(q "SELECT count(*) FROM route_losses a JOIN s.route_losses b
    ON b.run_id = 1 AND a.pos = b.pos WHERE a.losses != b.losses")
[ "$n" = 0 ] || fail "$n loss tables differ"
n=$(q "SELECT count(*) FROM route_kl a JOIN s.route_kl b
    ON b.run_id = 1 AND a.pos = b.pos WHERE a.kl != b.kl")
[ "$n" = 0 ] || fail "$n KL tables differ"
[ "$(q "SELECT count(*) FROM route_losses")" = \
    "$(q "SELECT count(*) FROM s.route_losses")" ] || fail "table counts differ"
n=$(q "SELECT count(*) FROM tokens a JOIN s.tokens b ON b.run_id = 1
    AND a.pos = b.pos WHERE a.token_id != b.token_id
    OR a.byte_start != b.byte_start OR a.byte_end != b.byte_end
    OR a.window_index != b.window_index")
[ "$n" = 0 ] || fail "$n tokens differ"
[ "$(q "SELECT (SELECT text FROM runs) = (SELECT text FROM s.runs)")" = 1 ] ||
	fail "the joined text is not the text"
[ "$(q "SELECT (SELECT json_remove(settings, '\$.threads') FROM runs) =
    (SELECT json_remove(settings, '\$.threads') FROM s.runs)")" = 1 ] ||
	fail "the joined settings are not the whole run's"
ok
# and duo merge sees the joined run as the whole run's duplicate
expect 1 'already in joined.db as run 1' "the whole run repeats the join" -- \
    "$DUO" merge joined.db single.db
[ "$(sqlite3 s2.db "SELECT json_extract(settings, '\$.shard') || ' ' ||
    json_extract(settings, '\$.shard_first_pos') FROM runs")" = "2/3 568" ] ||
	fail "shard 2/3's settings do not place it"

# bad shards
expect 2 "shard '0/3': I is not 1 to N" "shard 0" -- \
    "$DUO" run -m "$fixture" -d x.db --shard 0/3 "$text"
expect 2 "shard '4/3': I is not 1 to N" "shard past N" -- \
    "$DUO" run -m "$fixture" -d x.db --shard 4/3 "$text"
expect 2 "'3' is not I/N" "no slash" -- \
    "$DUO" run -m "$fixture" -d x.db --shard 3 "$text"
expect 1 "shard 1/28: the text has 27 windows of 63 tokens, fewer than 28 shards" \
    "more shards than windows" -- \
    "$DUO" run -m "$fixture" -d x.db --shard 1/28 "$text"

# bad joins: nothing written
expect 1 "shard 2/3 of $text is missing" "a missing shard" -- \
    "$DUO" merge --join-shards j2.db s1.db s3.db
[ ! -e j2.db ] || fail "a refused join left j2.db"
expect 1 "shard 2/3 is given twice" "a shard twice" -- \
    "$DUO" merge --join-shards j3.db s1.db s2.db s2.db s3.db
expect 1 "single.db: run 1 is not a shard" "a whole run" -- \
    "$DUO" merge --join-shards j4.db s1.db single.db
"$DUO" run -m "$fixture" -d seed.db --shard 2/3 --seed 7 "$text" \
    >/dev/null 2>&1 || exit 99
expect 1 "seed.db: run 1 (shard 2/3) is not a shard of the same run" \
    "other settings" -- "$DUO" merge --join-shards j5.db s1.db seed.db s3.db
"$DUO" run -m "$fixture" -d b1.db --shard 1/2 --beam 2 "$text" \
    >/dev/null 2>&1 || exit 99
"$DUO" run -m "$fixture" -d b2.db --shard 2/2 --beam 2 "$text" \
    >/dev/null 2>&1 || exit 99
expect 1 "is a beam search run, which keeps no loss tables" "beam shards" -- \
    "$DUO" merge --join-shards j6.db b1.db b2.db
expect 2 "does not go with --skip-duplicates" "two modes" -- \
    "$DUO" merge --join-shards --skip-duplicates j7.db s1.db

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
