#!/bin/sh
# run.sh - "duo run" end to end on tests/fixture.gguf: the summary, the
# stored run read back with sqlite3 (counts, the relations between methods
# that hold by definition, agreement with "duo score"), a run killed with
# kill -9 before, during and after its analysis and in the middle of its
# write, and bad input (a newer schema, a read-only or locked database, a
# missing folder, a text with no tokens, a model file that changed).
#
# Environment: DUO (the program), srcdir, PYTHON (optional: decodes a loss
# table).  Exit 0 pass, 1 fail, 77 without the sqlite3 command, 99 on a
# setup failure.  The kill test uses the test hook
# DUO_TEST_PAUSE_BEFORE_WRITE=SECONDS of duo run.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${PYTHON:=python3}"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
fixture="$srcdir/tests/fixture.gguf"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-run.XXXXXX") || exit 99
lock_pid=
run_pid=
cleanup() {
	[ -n "$run_pid" ] && kill -9 "$run_pid" 2>/dev/null
	[ -n "$lock_pid" ] && kill "$lock_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
db="$tmp/runs.db"
. "$srcdir/tests/lib.sh"

# q SQL: one query on the test database.
q() { sqlite3 "$db" "$1"; }

# The whole content of a database, for "nothing changed" checks.
# The rows of runs up to id $2 (every run without it) and their models.
snapshot() {
	for t in runs tokens results route_losses route_kl run_means; do
		c=run_id
		[ $t = runs ] && c=id
		sqlite3 "$1" "SELECT * FROM $t WHERE $c <= ${2:-1e18}
		    ORDER BY 1, 2"
	done | cksum
	sqlite3 "$1" "SELECT * FROM models" | cksum
}

cat >"$tmp/text.txt" <<'EOF'
The lighthouse keeper counted the ships that passed each evening, writing
their names in a blue notebook that smelled of salt and candle wax. Some
nights the fog rolled in so thick that she heard the engines long before
she saw a single lamp, and she would guess the boats by their sound alone.
Her brother laughed at the habit, but he still asked for the notebook
whenever he came home from the mountains, and he read it like a novel.
EOF
L=$("$DUO" info "$fixture" | sed -n 's/^layers *//p')
[ -n "$L" ] || { echo "FAIL duo info gives no layer count"; exit 99; }
allB=$(printf '%*s' "$L" '' | tr ' ' B)
ctx=$(printf '%*s' "$L" '' | tr ' ' B | sed 's/B/S/1; s/B/S/2')
n=$("$DUO" tokenize -m "$fixture" "$tmp/text.txt" | awk -F '\t' \
	'$1 ~ /^[0-9]+$/ && $1 > 0 { n++ } END { print n + 0 }')
[ "$n" -gt 50 ] || { echo "FAIL the text has $n tokens"; exit 99; }

# --- a shared run and what it stores ------------------------------------

expect 0 '' "run --help" -- "$DUO" run --help
expect 0 '' "a shared run" -- \
	"$DUO" run -m "$fixture" -d "$db" --label first "$tmp/text.txt"
cp "$tmp/out" "$tmp/summary"
ok
grep -q '^run 1: '"$n"' tokens, space BS, context shared' "$tmp/summary" ||
	fail "summary header: $(head -n 1 "$tmp/summary")"
ok
[ "$(grep -c '^ *[0-9][0-9]* ' "$tmp/summary")" -eq $((L + 1)) ] ||
	fail "summary: expected $((L + 1)) budget rows: $(cat "$tmp/summary")"
ok
grep -q '^hardest token (small - best): position [0-9]' "$tmp/summary" ||
	fail "summary names no hardest token"
ok
[ ! -s "$tmp/err" ] || fail "a run off a terminal printed on stderr: $(cat "$tmp/err")"

ok
[ "$(q "SELECT count(*), min(n_tokens), min(label), min(space),
	min(context), min(approximate), count(context_route) FROM runs")" = \
    "1|$n|first|BS|shared|0|0" ] || fail "runs row: $(q 'SELECT * FROM runs')"
# big, small, best, and oracle, fixed, random_best, random_mean,
# oracle_free and shuffled per budget
ok
[ "$(q "SELECT count(*) FROM results WHERE run_id = 1")" -eq \
    $((n * (3 + 6 * (L + 1)))) ] || fail "results: $(q 'SELECT count(*) FROM results')"
# a KL table beside every loss table, of the same size
ok
[ "$(q "SELECT count(*), min(length(kl)), max(length(kl))
	FROM route_kl WHERE run_id = 1")" = \
    "$n|$((4 << L))|$((4 << L))" ] || fail "route_kl rows"
ok
[ "$(q "SELECT json_extract(settings, '\$.shuffle_seed') FROM runs
	WHERE id = 1")" = 1 ] || fail "settings lack shuffle_seed 1"
ok
[ "$(q "SELECT count(*), min(length(losses)), max(length(losses))
	FROM route_losses WHERE run_id = 1")" = \
    "$n|$((4 << L))|$((4 << L))" ] || fail "route_losses rows"
ok
[ "$(q "SELECT json_extract(settings, '\$.seed'),
	json_extract(settings, '\$.search'),
	json_array_length(json_extract(settings, '\$.random_routes.1'))
	FROM runs WHERE id = 1")" = "1|exhaustive|$L" ] ||
	fail "settings: $(q 'SELECT settings FROM runs')"
# Relations that hold by definition, per token: the oracle at a budget is
# the lowest loss of any route with that many B's, best the lowest of all.
ok
bad=$(q "SELECT count(*) FROM results AS o JOIN results AS x
	ON x.run_id = o.run_id AND x.pos = o.pos
	AND x.budget = o.budget AND x.method IN ('fixed', 'random_best',
	'random_mean')
	WHERE o.method = 'oracle' AND x.loss < o.loss - 1e-6")
[ "$bad" -eq 0 ] || fail "$bad results beat the oracle at their budget"
ok
bad=$(q "SELECT count(*) FROM results AS b JOIN results AS x
	ON x.run_id = b.run_id AND x.pos = b.pos AND x.method != 'best'
	WHERE b.method = 'best' AND x.loss < b.loss - 1e-6")
[ "$bad" -eq 0 ] || fail "$bad results beat best"
ok
bad=$(q "SELECT count(*) FROM results AS o JOIN results AS b
	ON b.run_id = o.run_id AND b.pos = o.pos AND b.method = 'big'
	WHERE o.method = 'oracle' AND o.budget = $L
	AND abs(o.loss - b.loss) > 1e-6")
[ "$bad" -eq 0 ] || fail "oracle at budget L is not all-B at $bad tokens"
ok
[ "$(q "SELECT count(DISTINCT route) FROM results WHERE run_id = 1
	AND method = 'fixed' AND budget = 2")" -eq 1 ] ||
	fail "fixed@2 is not one route"

# big agrees with duo score under all-B (1e-4 nats: two code paths in
# float32 differ by ~1e-6)
"$DUO" score -q -m "$fixture" --route "$allB" "$tmp/text.txt" |
	awk -F '\t' 'NR > 1 { print $1 "|" $4 }' >"$tmp/score" ||
	fail "duo score failed"
q "SELECT pos || '|' || loss FROM results WHERE run_id = 1
	AND method = 'big' ORDER BY pos" >"$tmp/big"
ok
awk -F '|' 'NR == FNR { want[$1] = $2; next }
	{ d = $2 - want[$1]; if (d < 0) d = -d; if (d > 1e-4) bad++; seen++ }
	END { exit !(bad == 0 && seen > 0) }' "$tmp/score" "$tmp/big" ||
	fail "big losses differ from duo score --route $allB"

# The loss table of a token: code 0 is all-B, its minimum is best.
if command -v "$PYTHON" >/dev/null 2>&1; then
	ok
	"$PYTHON" - "$db" <<'EOF' || fail "route_losses disagree with results"
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT r.pos, r.losses, b.loss, s.loss FROM route_losses r"
                  " JOIN results b ON b.run_id = r.run_id AND b.pos = r.pos"
                  " AND b.method = 'big' JOIN results s ON s.run_id = r.run_id"
                  " AND s.pos = r.pos AND s.method = 'best'"
                  " WHERE r.run_id = 1").fetchall()
bad = 0
for pos, blob, big, best in rows:
    t = struct.unpack("<%df" % (len(blob) // 4), blob)
    bad += abs(t[0] - big) > 1e-5 or abs(min(t) - best) > 1e-5
sys.exit(1 if bad or not rows else 0)
EOF
	# The KL table of a token: 0 at all-B (code 0), and oracle_free's
	# route the least of its budget, its loss that route's in the loss
	# table.
	ok
	"$PYTHON" - "$db" <<'EOF' || fail "route_kl disagrees with oracle_free"
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT k.kl, l.losses, f.budget, f.route, f.loss"
                  " FROM route_kl k JOIN route_losses l"
                  " ON l.run_id = k.run_id AND l.pos = k.pos"
                  " JOIN results f ON f.run_id = k.run_id AND f.pos = k.pos"
                  " AND f.method = 'oracle_free' WHERE k.run_id = 1").fetchall()
bad = 0
for kl, losses, budget, route, loss in rows:
    d = struct.unpack("<%df" % (len(kl) // 4), kl)
    t = struct.unpack("<%df" % (len(losses) // 4), losses)
    L = len(route)
    code = int(route.replace("B", "0").replace("S", "1"), 2)
    least = min(d[c] for c in range(len(d))
                if L - bin(c).count("1") == budget)
    bad += abs(d[0]) > 1e-5 or d[code] > least or abs(t[code] - loss) > 1e-5
sys.exit(1 if bad or not rows else 0)
EOF
fi

# --- the other modes ----------------------------------------------------

expect 0 '' "a fixed run with a context route and two budgets" -- \
	"$DUO" run -m "$fixture" -d "$db" --context fixed --context-route "$ctx" \
	--space BS. --budgets 3,1 "$tmp/text.txt"
ok
[ "$(q "SELECT space, context, context_route,
	json_extract(settings, '\$.budgets') FROM runs WHERE id = 2")" = \
    "BS.|fixed|$ctx|[1,3]" ] || fail "fixed run: $(q 'SELECT * FROM runs WHERE id = 2')"
ok
[ "$(q "SELECT count(*) FROM results WHERE run_id = 2")" -eq $((n * 15)) ] ||
	fail "fixed run with two budgets: $(q 'SELECT count(*) FROM results WHERE run_id = 2') results"
"$DUO" score -q -m "$fixture" --route "$allB" --context-route "$ctx" \
	"$tmp/text.txt" | awk -F '\t' 'NR > 1 { print $1 "|" $4 }' >"$tmp/score"
q "SELECT pos || '|' || loss FROM results WHERE run_id = 2
	AND method = 'big' ORDER BY pos" >"$tmp/big"
ok
awk -F '|' 'NR == FNR { want[$1] = $2; next }
	{ d = $2 - want[$1]; if (d < 0) d = -d; if (d > 1e-4) bad++; seen++ }
	END { exit !(bad == 0 && seen > 0) }' "$tmp/score" "$tmp/big" ||
	fail "fixed-context big differs from duo score --context-route $ctx"

expect 0 '' "a greedy run" -- \
	"$DUO" run -m "$fixture" -d "$db" --context greedy "$tmp/text.txt"
ok
[ "$(q "SELECT json_extract(settings, '\$.route_losses_context')
	FROM runs WHERE id = 3")" = "shared" ] || fail "greedy settings"
ok
bad=$(q "SELECT count(*) FROM results AS g JOIN results AS s
	ON s.run_id = 1 AND s.pos = g.pos AND s.method = g.method
	AND s.budget = g.budget
	WHERE g.run_id = 3
	AND g.method NOT IN ('oracle', 'best', 'oracle_free', 'shuffled')
	AND abs(g.loss - s.loss) > 1e-5")
[ "$bad" -eq 0 ] || fail "greedy run: $bad one-route results differ from the shared run"

expect 0 '' "a beam run" -- \
	"$DUO" run -m "$fixture" -d "$db" --space B. --beam 2 "$tmp/text.txt"
ok
[ "$(q "SELECT approximate, beam_width,
	(SELECT count(*) FROM route_losses WHERE run_id = 4)
	FROM runs WHERE id = 4")" = "1|2|0" ] || fail "beam run flags"
ok
grep -q 'beam search of width 2 (approximate)' "$tmp/out" ||
	fail "the summary does not say the run is approximate"

expect 0 '' "a run from standard input" -- \
	sh -c '"$1" run -m "$2" -d "$3" --budgets 0 < "$4"' sh "$DUO" \
	"$fixture" "$db" "$tmp/text.txt"
ok
[ "$(q "SELECT source, n_tokens FROM runs WHERE id = 5")" = "-|$n" ] ||
	fail "standard input run: $(q 'SELECT source, n_tokens FROM runs WHERE id = 5')"

# --shuffle-seed: kept in the settings; another order of the oracle's
# routes, the oracle itself the same (in a database of its own, so that
# the run ids above stay as they are)
seed_db="$tmp/seed.db"
expect 0 '' "a run with --shuffle-seed 5" -- \
	"$DUO" run -m "$fixture" -d "$seed_db" --shuffle-seed 5 "$tmp/text.txt"
ok
[ "$(sqlite3 "$seed_db" "SELECT json_extract(settings, '\$.shuffle_seed')
	FROM runs")" = 5 ] || fail "settings lack shuffle_seed 5"
routes_of() {
	sqlite3 "$1" "SELECT group_concat(route, ' ') FROM (SELECT route
		FROM results WHERE run_id = $2 AND method = '$3' AND budget = 2
		ORDER BY pos)"
}
ok
[ "$(routes_of "$seed_db" 1 oracle)" = "$(routes_of "$db" 1 oracle)" ] &&
    [ "$(routes_of "$seed_db" 1 shuffled)" != "$(routes_of "$db" 1 shuffled)" ] ||
	fail "--shuffle-seed 5 gives the same shuffled routes as seed 1"

# --- usage errors -------------------------------------------------------

expect 2 "--shuffle-seed 'x' is not a whole number" "a shuffle seed that is \
not a number" -- "$DUO" run -m "$fixture" -d "$db" --shuffle-seed x \
	"$tmp/text.txt"

expect 2 'context fixed' "a context route without the fixed context" -- \
	"$DUO" run -m "$fixture" -d "$db" --context-route "$ctx" "$tmp/text.txt"
expect 2 'not one of BS' "an unknown space" -- \
	"$DUO" run -m "$fixture" -d "$db" --space BX "$tmp/text.txt"
expect 2 'shared, fixed or greedy' "an unknown context" -- \
	"$DUO" run -m "$fixture" -d "$db" --context sideways "$tmp/text.txt"
expect 2 'budgets' "budgets that are not numbers" -- \
	"$DUO" run -m "$fixture" -d "$db" --budgets 1,x "$tmp/text.txt"
expect 1 'more than' "a budget above the layer count" -- \
	"$DUO" run -m "$fixture" -d "$db" --budgets $((L + 1)) "$tmp/text.txt"
expect 1 'does not have' "a context route outside the space" -- \
	"$DUO" run -m "$fixture" -d "$db" --context fixed \
	--context-route "$(printf '%*s' "$L" '' | tr ' ' .)" "$tmp/text.txt"
expect 2 'goes alone' "standard input among FILEs" -- \
	"$DUO" run -m "$fixture" -d "$db" "$tmp/text.txt" -
expect 2 'goes with one FILE' "--shard with two FILEs" -- \
	"$DUO" run -m "$fixture" -d "$db" --shard 1/2 "$tmp/text.txt" \
	"$tmp/text.txt"

# --- kill -9 at several moments -----------------------------------------

# A long text: about 14000 tokens, whose results take seconds to write.
i=0
while [ $i -lt 50 ]; do cat "$tmp/text.txt"; i=$((i + 1)); done >"$tmp/long.txt"
runs_before=$(q "SELECT count(*) FROM runs")
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
before=$(snapshot "$db" "$(q "SELECT coalesce(max(id), 0) FROM runs")")

# killed WHEN: starts a run, waits for the moment, kills it with -9 and
# checks that the runs the database held before are exactly as they were.
# A run stored window by window (shared, fixed) may leave itself behind,
# 'running', with whole windows only and no run_means (tests/resume.sh
# continues such runs); it is checked, then deleted.  A greedy run is
# written whole at the end and leaves nothing.
killed() {
	when=$1
	shift
	sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	last=$(q "SELECT coalesce(max(id), 0) FROM runs")
	"$@" -m "$fixture" -d "$db" "$tmp/long.txt" >/dev/null 2>&1 &
	run_pid=$!
	case $when in
	wal)	# a write has begun: the log grows past 256 KB
		waited=0
		while kill -0 "$run_pid" 2>/dev/null; do
			size=0
			[ -f "$db-wal" ] && size=$(wc -c <"$db-wal")
			[ "$size" -gt 262144 ] && break
			sleep 0.02
			waited=$((waited + 1))
			[ $waited -gt 3000 ] && break
		done ;;
	*)	sleep "$when" ;;
	esac
	ok
	if ! kill -9 "$run_pid" 2>/dev/null; then
		fail "kill at '$when': the run had already ended"
	fi
	wait "$run_pid" 2>/dev/null
	run_pid=
	ok
	[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] ||
		fail "kill at '$when': integrity_check fails"
	# what a killed run left: whole windows, consistent counts
	ok
	[ "$(q "SELECT count(*) FROM runs AS r JOIN models AS m
	    ON m.id = r.model_id WHERE r.id > $last AND (r.status != 'running'
	    OR (r.tokens_done % (m.n_ctx - 1) != 0
	      AND r.tokens_done != r.n_tokens)
	    OR (r.tokens_done > 0 AND r.tokens_done != (SELECT count(*) - 1
	      FROM tokens WHERE run_id = r.id))
	    OR EXISTS (SELECT 1 FROM run_means WHERE run_id = r.id)
	    OR EXISTS (SELECT 1 FROM results WHERE run_id = r.id
	      AND pos > r.tokens_done))")" = 0 ] ||
		fail "kill at '$when': a killed run left more or less than its windows: $(q "SELECT id, status, tokens_done, n_tokens FROM runs WHERE id > $last")"
	sqlite3 "$db" "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE
	    id > $last; PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	ok
	[ "$(snapshot "$db" "$last")" = "$before" ] ||
		fail "kill at '$when': the runs before changed"
}
killed 0.05 "$DUO" run
killed 0.4 "$DUO" run --context greedy
killed 1.5 env DUO_TEST_PAUSE_BEFORE_WRITE=20 "$DUO" run
killed wal "$DUO" run
# ... and the database still takes a run afterwards
expect 0 '' "a run after the kills" -- \
	"$DUO" run -m "$fixture" -d "$db" --budgets 1 "$tmp/text.txt"
ok
[ "$(q "SELECT count(*) FROM runs")" -eq $((runs_before + 1)) ] ||
	fail "runs after the kills: $(q 'SELECT count(*) FROM runs')"

# --- bad input ----------------------------------------------------------

# No tokens: an error, and no run.
: >"$tmp/empty.txt"
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
before=$(snapshot "$db" "$(q "SELECT coalesce(max(id), 0) FROM runs")")
expect 1 'no tokens' "a text with no tokens" -- \
	"$DUO" run -m "$fixture" -d "$db" "$tmp/empty.txt"
expect 1 'missing.txt' "a missing text" -- \
	"$DUO" run -m "$fixture" -d "$db" "$tmp/missing.txt"
expect 1 'text.txt' "a model that is not a model" -- \
	"$DUO" run -m "$tmp/text.txt" -d "$db" "$tmp/text.txt"
ok
[ "$(snapshot "$db")" = "$before" ] || fail "a failed run changed the database"

# A folder that does not exist: named, and nothing made.
expect 1 "$tmp/no/such" "a database in a missing folder" -- \
	"$DUO" run -m "$fixture" -d "$tmp/no/such/runs.db" "$tmp/text.txt"
ok
[ ! -e "$tmp/no" ] || fail "a missing folder was made"

# A newer schema: refused untouched, before the analysis.
cp "$db" "$tmp/newer.db"
sqlite3 "$tmp/newer.db" "PRAGMA user_version = 99"
newer=$(snapshot "$tmp/newer.db")
expect 1 'newer' "a database of a newer schema" -- \
	"$DUO" run -m "$fixture" -d "$tmp/newer.db" "$tmp/long.txt"
ok
[ "$(snapshot "$tmp/newer.db")" = "$newer" ] && \
    [ "$(sqlite3 "$tmp/newer.db" 'PRAGMA user_version')" = 99 ] ||
	fail "the newer database changed"

# Read-only: root writes a 0444 file anyway, so only for other users.
if [ "$(id -u)" -ne 0 ]; then
	cp "$db" "$tmp/readonly.db"
	chmod 0444 "$tmp/readonly.db"
	expect 1 'read-only' "a read-only database" -- \
		"$DUO" run -m "$fixture" -d "$tmp/readonly.db" "$tmp/text.txt"
else
	echo "note: running as root, which may write a 0444 file; the read-only check is skipped"
fi

# Locked: another connection holds the write lock past duo's 5 s wait.
mkfifo "$tmp/lock.fifo" || exit 99
sqlite3 "$db" <"$tmp/lock.fifo" >/dev/null 2>&1 &
lock_pid=$!
exec 3>"$tmp/lock.fifo"
printf 'BEGIN EXCLUSIVE;\nUPDATE models SET path = path;\nSELECT 1;\n' >&3
sleep 0.3
expect 1 'locked' "a locked database" -- \
	"$DUO" run -m "$fixture" -d "$db" --budgets 1 "$tmp/text.txt"
exec 3>&-
wait "$lock_pid" 2>/dev/null
lock_pid=
ok
[ "$(snapshot "$db")" = "$before" ] || fail "the locked database changed"

# A model file that changed since a run was made from its path: a note,
# the new run stored with the new file, the old run's model untouched.
cp "$fixture" "$tmp/model.gguf"
expect 0 '' "a run of a copied model" -- \
	"$DUO" run -m "$tmp/model.gguf" -d "$db" --budgets 1 "$tmp/text.txt"
old_id=$(q "SELECT max(id) FROM runs")
old_sha=$(q "SELECT m.sha256 FROM runs r JOIN models m ON m.id = r.model_id
	WHERE r.id = $old_id")
size=$(wc -c <"$tmp/model.gguf")
last=$(tail -c 1 "$tmp/model.gguf" | od -An -tu1 | tr -d ' ')
# the high byte of the last weight: one exponent bit, so it stays finite
printf "\\$(printf %03o $((last ^ 1)))" |
	dd of="$tmp/model.gguf" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
expect 0 "has changed since run $old_id" "a run of the changed model" -- \
	"$DUO" run -m "$tmp/model.gguf" -d "$db" --budgets 1 "$tmp/text.txt"
ok
[ "$(q "SELECT m.sha256 FROM runs r JOIN models m ON m.id = r.model_id
	WHERE r.id = $old_id")" = "$old_sha" ] &&
    [ "$(q "SELECT count(DISTINCT model_id) FROM runs
	WHERE id >= $old_id")" -eq 2 ] ||
	fail "the changed model did not get its own row, or the old one changed"

# Database names that SQLite would keep in memory, or files that cannot
# hold a database: refused before the analysis, nothing left beside them.
expect 1 'database name is empty' "-d ''" -- \
	"$DUO" run -m "$fixture" -d '' "$tmp/text.txt"
expect 1 'in-memory or URI database name' "-d :memory:" -- \
	"$DUO" run -m "$fixture" -d :memory: "$tmp/text.txt"
expect 1 'in-memory or URI database name' "-d file::memory:" -- \
	"$DUO" run -m "$fixture" -d file::memory: "$tmp/text.txt"
mkfifo "$tmp/pipe" || exit 99
expect 1 'pipe: is not a regular file' "-d on a pipe" -- \
	"$DUO" run -m "$fixture" -d "$tmp/pipe" "$tmp/text.txt"
ok
[ ! -e "$tmp/pipe-journal" ] && [ ! -e "$tmp/pipe-wal" ] ||
	fail "a journal was left beside the pipe"
expect 1 'is not a regular file' "-d /dev/null" -- \
	"$DUO" run -m "$fixture" -d /dev/null "$tmp/text.txt"
ok
[ ! -e /dev/null-journal ] || fail "/dev/null-journal was left"

# A model is written only over a regular file: a pipe or a link stays.
expect 1 'exists and is not a regular file' "convert over a pipe" -- \
	"$DUO" convert "$fixture" "$tmp/pipe"
ln -s "$tmp/text.txt" "$tmp/link.gguf" || exit 99
expect 1 'exists and is not a regular file' "convert over a link" -- \
	"$DUO" convert "$fixture" "$tmp/link.gguf"
ok
[ -p "$tmp/pipe" ] && [ -L "$tmp/link.gguf" ] && cmp -s "$tmp/text.txt" "$tmp/link.gguf" ||
	fail "convert replaced a pipe or a link"

ok
[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] ||
	fail "integrity_check at the end"
echo "run: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
