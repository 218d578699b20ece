#!/bin/sh
# merge.sh - "duo merge": real runs of tests/fixture.gguf and the synthetic
# runs of make_test_db merged into a new database and into one that has
# runs of its own; every row of every merged run equal to its source's
# (values and their types, compared in SQL, and duo export's output),
# models shared by hash, ids renumbered, duplicates refused or skipped,
# and every input that must be refused (a damaged run, another program's
# SQLite file, another schema version, the output itself) refused with
# one line and the output left byte for byte as it was.
#
# Environment: DUO (the program), srcdir, TESTS_BUILDDIR (for
# make_test_db).  Exit 0 pass, 1 fail, 77 without sqlite3 or sha256sum,
# 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"
for tool in sqlite3 sha256sum; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: no $tool command"
		exit 77
	fi
done
fixture=$(cd "$srcdir" && pwd)/tests/fixture.gguf
texts=$(cd "$srcdir" && pwd)/tests/texts
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-merge.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
# Short names in messages: every database is in $tmp.
cd "$tmp" || exit 99

# run DB FILE [OPTION...]: one real run of the fixture, or a setup error.
run() {
	db=$1 file=$2
	shift 2
	"$DUO" run -m "$fixture" -d "$db" "$@" "$file" >/dev/null ||
	    { echo "ERROR: duo run -d $db $file $* failed"; exit 99; }
}

# sum FILE: its SHA-256, or "absent".
sum() { if [ -e "$1" ]; then sha256sum <"$1"; else echo absent; fi; }

printf 'The ferry left at dawn with three cars and a dog.\n' >one.txt
printf 'Rain fell on the harbour while the gulls argued.\n' >two.txt
# not UTF-8: the run's text is stored as a BLOB, and must stay one
printf 'caf\303\251 \377\376 bytes that are not text, and words.\n' >bytes.txt
printf 'A third text, for a database that has its own runs.\n' >three.txt
printf 'The fourth text comes only once.\n' >four.txt

run a.db one.txt --label one
run a.db two.txt --space BS. --budgets 1,2
run a.db bytes.txt --context fixed
run b.db three.txt --label three
"$TESTS_BUILDDIR/make_test_db" "$texts/store.txt" syn.db odd || exit 99
for f in a.db b.db syn.db; do
	[ ! -e "$f-wal" ] || { echo "ERROR: $f-wal left"; exit 99; }
done
ok
[ "$(sqlite3 a.db "SELECT typeof(text) FROM runs WHERE id = 3")" = blob ] ||
	fail "the run of bytes.txt is not stored as a BLOB"
inputs_before="$(sum a.db) $(sum b.db) $(sum syn.db)"

# same SOURCE OLD NEW: run OLD of database SOURCE and run NEW of out.db
# hold the same rows, value for value (with their types), and duo export
# writes the same lines for both but for the run id.
same() {
	src=$1 old=$2 new=$3
	checks=$((checks + 1))
	differ=$(sqlite3 out.db "ATTACH '$src' AS s;
	WITH
	a AS (SELECT m.sha256, r.label, r.created_at, r.source, r.text,
	  typeof(r.text), r.n_tokens, r.space, r.context, r.context_route,
	  r.settings, r.seconds, r.approximate, r.beam_width, r.n_results,
	  r.duo_version, r.status, r.tokens_done, r.corpus, m.path, m.name,
	  m.n_layer, m.d_model, m.n_head,
	  m.d_ff, m.d_ff_small, m.n_vocab, m.n_ctx
	  FROM s.runs AS r JOIN s.models AS m ON m.id = r.model_id
	  WHERE r.id = $old),
	b AS (SELECT m.sha256, r.label, r.created_at, r.source, r.text,
	  typeof(r.text), r.n_tokens, r.space, r.context, r.context_route,
	  r.settings, r.seconds, r.approximate, r.beam_width, r.n_results,
	  r.duo_version, r.status, r.tokens_done, r.corpus, m.path, m.name,
	  m.n_layer, m.d_model, m.n_head,
	  m.d_ff, m.d_ff_small, m.n_vocab, m.n_ctx
	  FROM main.runs AS r JOIN main.models AS m ON m.id = r.model_id
	  WHERE r.id = $new),
	ta AS (SELECT pos, token_id, piece, typeof(piece), byte_start,
	  byte_end, window_index, window_pos FROM s.tokens WHERE run_id = $old),
	tb AS (SELECT pos, token_id, piece, typeof(piece), byte_start,
	  byte_end, window_index, window_pos FROM main.tokens
	  WHERE run_id = $new),
	ra AS (SELECT pos, method, budget, route, typeof(route), loss
	  FROM s.results WHERE run_id = $old),
	rb AS (SELECT pos, method, budget, route, typeof(route), loss
	  FROM main.results WHERE run_id = $new),
	la AS (SELECT pos, losses, typeof(losses) FROM s.route_losses
	  WHERE run_id = $old),
	lb AS (SELECT pos, losses, typeof(losses) FROM main.route_losses
	  WHERE run_id = $new),
	ka AS (SELECT pos, kl, typeof(kl) FROM s.route_kl WHERE run_id = $old),
	kb AS (SELECT pos, kl, typeof(kl) FROM main.route_kl
	  WHERE run_id = $new),
	ma AS (SELECT method, budget, n, mean_loss FROM s.run_means
	  WHERE run_id = $old),
	mb AS (SELECT method, budget, n, mean_loss FROM main.run_means
	  WHERE run_id = $new)
	SELECT
	  ((SELECT count(*) FROM (SELECT * FROM a EXCEPT SELECT * FROM b)) +
	  (SELECT count(*) FROM (SELECT * FROM b EXCEPT SELECT * FROM a)) +
	  ((SELECT count(*) FROM a) != 1) + ((SELECT count(*) FROM b) != 1)) ||
	  ' ' ||
	  ((SELECT count(*) FROM (SELECT * FROM ta EXCEPT SELECT * FROM tb)) +
	  (SELECT count(*) FROM (SELECT * FROM tb EXCEPT SELECT * FROM ta))) ||
	  ' ' ||
	  ((SELECT count(*) FROM (SELECT * FROM ra EXCEPT SELECT * FROM rb)) +
	  (SELECT count(*) FROM (SELECT * FROM rb EXCEPT SELECT * FROM ra))) ||
	  ' ' ||
	  ((SELECT count(*) FROM (SELECT * FROM la EXCEPT SELECT * FROM lb)) +
	  (SELECT count(*) FROM (SELECT * FROM lb EXCEPT SELECT * FROM la)) +
	  (SELECT count(*) FROM (SELECT * FROM ka EXCEPT SELECT * FROM kb)) +
	  (SELECT count(*) FROM (SELECT * FROM kb EXCEPT SELECT * FROM ka))) ||
	  ' ' ||
	  ((SELECT count(*) FROM (SELECT * FROM ma EXCEPT SELECT * FROM mb)) +
	  (SELECT count(*) FROM (SELECT * FROM mb EXCEPT SELECT * FROM ma))) ||
	  ' ' ||
	  ((SELECT count(*) FROM ta) = (SELECT count(*) FROM tb) AND
	   (SELECT count(*) FROM ra) = (SELECT count(*) FROM rb) AND
	   (SELECT count(*) FROM la) = (SELECT count(*) FROM lb) AND
	   (SELECT count(*) FROM ka) = (SELECT count(*) FROM kb) AND
	   (SELECT count(*) FROM ma) = (SELECT count(*) FROM mb))")
	[ "$differ" = "0 0 0 0 0 1" ] ||
	    fail "$src run $old against out.db run $new: rows differing" \
	        "(run, tokens, results, loss and KL tables, means; counts" \
	        "equal):" \
	        "$differ"
	checks=$((checks + 1))
	"$DUO" export -d "$src" "$old" | sed 's/^[0-9]*,//' >export-old ||
	    fail "duo export -d $src $old"
	"$DUO" export -d out.db "$new" | sed 's/^[0-9]*,//' >export-new ||
	    fail "duo export -d out.db $new"
	cmp -s export-old export-new ||
	    fail "duo export of $src run $old and out.db run $new differ"
}

# --- into a new database ---------------------------------------------------

expect 0 '' "merge --help" -- "$DUO" merge --help
expect 2 'give the output' "no databases" -- "$DUO" merge
expect 2 'at least one input' "no input" -- "$DUO" merge out.db
checks=$((checks + 1))
[ ! -e out.db ] || fail "a usage error created out.db"

expect 0 '' "merge into a new database" -- "$DUO" merge out.db a.db b.db syn.db
checks=$((checks + 1))
printf '%s\n' "a.db: 3 runs merged (ids 1-3), 1 model added" \
    "b.db: 1 run merged (id 4), 0 models added" \
    "syn.db: 4 runs merged (ids 5-8), 3 models added" >want
cmp -s want out || fail "merge report: $(cat out)"
checks=$((checks + 1))
[ ! -s err ] || fail "a clean merge printed on stderr: $(cat err)"
same a.db 1 1
same a.db 2 2
same a.db 3 3
same b.db 1 4
same syn.db 1 5
same syn.db 2 6
same syn.db 3 7
same syn.db 4 8
checks=$((checks + 1))
[ "$(sqlite3 out.db "SELECT count(*), count(DISTINCT sha256) FROM models;
    SELECT count(DISTINCT model_id) FROM runs WHERE id <= 4")" = \
    "$(printf '4|4\n1')" ] ||
	fail "models are not shared by hash: $(sqlite3 out.db \
	    'SELECT id, sha256 FROM models')"
checks=$((checks + 1))
[ "$(sum a.db) $(sum b.db) $(sum syn.db)" = "$inputs_before" ] ||
	fail "merging changed an input"

# --- into a database with runs of its own ----------------------------------

cp b.db own.db
run own.db four.txt
cp own.db own-source.db
mv out.db out-new.db
cp own.db out.db
expect 0 '' "merge into an existing database" -- "$DUO" merge out.db a.db
checks=$((checks + 1))
[ "$(cat out)" = "a.db: 3 runs merged (ids 3-5), 0 models added" ] ||
	fail "merge report: $(cat out)"
same a.db 1 3
same a.db 2 4
same a.db 3 5
same own-source.db 1 1
same own-source.db 2 2
checks=$((checks + 1))
[ "$(sqlite3 out.db 'SELECT count(*) FROM models')" = 1 ] ||
	fail "the output's model row was not reused"
mv out.db out-own.db
mv out-new.db out.db

# --- duplicates ------------------------------------------------------------

before=$(sum out.db)
expect 1 '' "the same input again" -- "$DUO" merge out.db b.db
checks=$((checks + 1))
[ "$(cat err)" = "duo: b.db: run 1 is already in out.db as run 4 (same model, text and settings); nothing was merged" ] ||
	fail "duplicate message: $(cat err)"
checks=$((checks + 1))
[ "$(sum out.db)" = "$before" ] || fail "a refused duplicate changed out.db"

# threads says how the work was spread, not what was computed
cp b.db threads.db
sqlite3 threads.db "UPDATE runs SET settings = json_set(settings, '\$.threads', 99)" ||
	exit 99
expect 1 'threads.db: run 1 is already in out.db as run 4' \
	"a duplicate but for threads" -- "$DUO" merge out.db threads.db
checks=$((checks + 1))
[ "$(sum out.db)" = "$before" ] || fail "a refused duplicate changed out.db"

# own.db: run 1 is b.db's run 1, run 2 is new
expect 1 'own.db: run 1 is already in out.db as run 4' \
	"one duplicate among new runs" -- "$DUO" merge out.db own.db
checks=$((checks + 1))
[ "$(sum out.db)" = "$before" ] || fail "a refused input changed out.db"
expect 0 '' "--skip-duplicates" -- \
	"$DUO" merge --skip-duplicates out.db own.db a.db
checks=$((checks + 1))
printf '%s\n' "own.db: 1 run merged (id 9), 1 skipped as duplicate, 0 models added" \
    "a.db: 0 runs merged, 3 skipped as duplicates, 0 models added" >want
cmp -s want out || fail "--skip-duplicates report: $(cat out)"
checks=$((checks + 1))
printf '%s\n' "duo: own.db: run 1 skipped, already in out.db as run 4" \
    "duo: a.db: run 1 skipped, already in out.db as run 1" \
    "duo: a.db: run 2 skipped, already in out.db as run 2" \
    "duo: a.db: run 3 skipped, already in out.db as run 3" >want
cmp -s want err || fail "--skip-duplicates on stderr: $(cat err)"
same own-source.db 2 9

# other settings: not a duplicate
run seed.db three.txt --seed 7
expect 0 '' "another seed is another run" -- "$DUO" merge out.db seed.db
checks=$((checks + 1))
[ "$(cat out)" = "seed.db: 1 run merged (id 10), 0 models added" ] ||
	fail "merge report: $(cat out)"
same seed.db 1 10

# --- inputs that are refused, out.db untouched ------------------------------

before=$(sum out.db)
# refused DESCRIPTION MESSAGE INPUT: exit 1, exactly MESSAGE, no change.
refused() {
	what=$1 message=$2 input=$3
	expect 1 '' "$what" -- "$DUO" merge out.db "$input"
	checks=$((checks + 1))
	[ "$(cat err)" = "$message" ] || fail "$what: $(cat err)"
	checks=$((checks + 1))
	[ "$(sum out.db)" = "$before" ] || fail "$what: out.db changed"
}
# damage FILE SQL: a copy of a.db changed by SQL with checks off.
damage() {
	cp a.db "$1"
	sqlite3 "$1" "PRAGMA ignore_check_constraints = 1; $2" || exit 99
}

damage neg.db "UPDATE runs SET n_tokens = -1 WHERE id = 3"
refused "n_tokens of -1" "duo: neg.db: run 3: n_tokens is -1" neg.db
n=$(sqlite3 a.db "SELECT n_results FROM runs WHERE id = 2")
damage count.db "UPDATE runs SET n_results = n_results + 1 WHERE id = 2"
refused "n_results too large" \
	"duo: count.db: run 2: n_results is $((n + 1)), but it has $n results" \
	count.db
damage gap.db "DELETE FROM tokens WHERE run_id = 1 AND pos = 2"
t=$(sqlite3 a.db "SELECT n_tokens FROM runs WHERE id = 1")
refused "a missing token" "duo: gap.db: run 1: the tokens do not run from 0 to $t" \
	gap.db
L=$("$DUO" info "$fixture" | sed -n 's/^layers *//p')
bs_routes=1
for i in $(seq "$L"); do bs_routes=$((bs_routes * 3)); done
damage table.db "UPDATE route_losses SET losses = substr(losses, 1, 8)
	WHERE run_id = 2 AND pos = 3"
refused "a short loss table" \
	"duo: table.db: run 2, position 3: the loss table has 8 bytes, not $(( 4 * bs_routes ))" \
	table.db
damage layers.db "UPDATE models SET n_layer = 65"
refused "a model of 65 layers" "duo: layers.db: run 1: its model's n_layer is 65" \
	layers.db
damage extra.db "CREATE TABLE notes (x)"
refused "a table duo does not know" \
	"duo: extra.db: table notes is not one of schema version 6, or has other columns; duo merge copies only the tables it knows" \
	extra.db
# (new settings, or the duplicate test would refuse it first)
damage method.db "UPDATE results SET method = 'guess' WHERE run_id = 1 AND method = 'big';
	UPDATE runs SET settings = json_set(settings, '\$.seed', 4242)"
expect 1 'method.db: run 1: out.db refuses a row of results: CHECK constraint failed' \
	"a result of no method" -- "$DUO" merge out.db method.db
checks=$((checks + 1))
[ "$(sum out.db)" = "$before" ] || fail "a refused row changed out.db"
cp b.db hyper.db
sqlite3 hyper.db "UPDATE models SET d_model = d_model + 1;
	UPDATE runs SET settings = json_set(settings, '\$.seed', 12345)" || exit 99
sha=$(sqlite3 b.db "SELECT substr(sha256, 1, 12) FROM models")
refused "one hash, other hyperparameters" \
	"duo: hyper.db: run 1: model $sha... is stored in out.db with other hyperparameters" \
	hyper.db

sqlite3 other.db "CREATE TABLE t (x); INSERT INTO t VALUES (1)" || exit 99
refused "another program's database" \
	"duo: other.db: not a duo database (it has tables but no duo schema)" \
	other.db
cp b.db newer.db
sqlite3 newer.db "PRAGMA user_version = 99" || exit 99
refused "a newer schema" \
	"duo: newer.db: schema version 99 is newer than this duo understands (6); upgrade duo" \
	newer.db
cp b.db older.db
sqlite3 older.db "PRAGMA user_version = 2" || exit 99
refused "an older schema" \
	"duo: older.db: the schema is older than this duo's; open it once for writing (duo run) to upgrade it" \
	older.db
checks=$((checks + 1))
[ "$(sqlite3 older.db 'PRAGMA user_version')" = 2 ] ||
	fail "merging wrote an older input"
printf 'Not a database, only some words.\n' >words.db
refused "a text file" \
	"duo: words.db: reading the schema: not an SQLite database" words.db
refused "a missing input" \
	"duo: absent.db: no such database (no run has been stored there yet)" \
	absent.db
refused "the output itself" "duo: out.db: is the output database out.db itself" \
	out.db
ln -s out.db link.db
refused "the output by another name" \
	"duo: link.db: is the output database out.db itself" link.db
refused "the output by its path" \
	"duo: ./out.db: is the output database out.db itself" ./out.db

# an older database is upgraded as the output, then merged into: a
# version-3 file made from a current one (no status, tokens_done or corpus,
# no corpus views, no route_kl, no control_of)
cp b.db old-out.db
sqlite3 old-out.db "DROP VIEW corpus_curve; DROP VIEW corpus_difficulty;
	DROP INDEX runs_by_corpus; PRAGMA writable_schema = ON;
	UPDATE sqlite_schema SET sql = replace(sql, ', status TEXT NOT NULL DEFAULT ''complete''
  CHECK (status IN (''running'', ''stopped'', ''complete'')), tokens_done INTEGER NOT NULL DEFAULT 0
  CHECK (tokens_done >= 0), corpus TEXT', '') WHERE name = 'runs';
	UPDATE sqlite_schema SET sql = replace(replace(replace(sql,
	  char(10) || '  AND t.run_id IN (SELECT id FROM runs WHERE status = ''complete'')', ''),
	  char(10) || '  AND o.run_id IN (SELECT id FROM runs WHERE status = ''complete'')', ''),
	  char(10) || '  AND r.run_id IN (SELECT id FROM runs WHERE status = ''complete'')', '')
	  WHERE type = 'view';
	PRAGMA writable_schema = OFF" || exit 99
sqlite3 old-out.db "DROP TABLE route_kl; DROP TABLE route_losses_f16;
	DROP TABLE route_kl_f16; PRAGMA writable_schema = ON;
	UPDATE sqlite_schema SET sql = replace(sql, ', control_of INTEGER
  REFERENCES runs(id) ON DELETE CASCADE', '') WHERE name = 'runs';
	PRAGMA writable_schema = OFF; PRAGMA user_version = 3" || exit 99
expect 0 '' "an older output" -- "$DUO" merge old-out.db seed.db
checks=$((checks + 1))
[ "$(sqlite3 old-out.db 'PRAGMA user_version;
    SELECT count(*) FROM runs')" = "$(printf '6\n2')" ] ||
	fail "an older output was not upgraded and merged into"

# a null-model control keeps its link to the run it controls, by the
# runs' new ids (runs.control_of)
cp a.db controls.db
sqlite3 controls.db "UPDATE runs SET control_of = 1 WHERE id = 3" || exit 99
cp own-source.db linked.db
expect 0 '' "a control run" -- "$DUO" merge linked.db controls.db
checks=$((checks + 1))
[ "$(sqlite3 linked.db 'SELECT id, coalesce(control_of, 0) FROM runs
    WHERE id > 2 ORDER BY id')" = "$(printf '3|0\n4|0\n5|3')" ] ||
	fail "control_of is not mapped to the new ids: $(sqlite3 linked.db \
	    'SELECT id, control_of FROM runs')"

# corpus tags are kept; a run that was being written in its input is
# 'stopped' in the output, where no duo writes it
cp a.db tagged.db
sqlite3 tagged.db "UPDATE runs SET corpus = 'ferries' WHERE id = 1;
	UPDATE runs SET status = 'running' WHERE id = 2" || exit 99
expect 0 '' "a tagged and a running run" -- "$DUO" merge tagged-out.db tagged.db
checks=$((checks + 1))
[ "$(sqlite3 tagged-out.db 'SELECT id, status, tokens_done = n_tokens,
    coalesce(corpus, 0) FROM runs ORDER BY id')" = \
    "$(printf '1|complete|1|ferries\n2|stopped|1|0\n3|complete|1|0')" ] ||
	fail "corpus or status not carried over: $(sqlite3 tagged-out.db \
	    'SELECT id, status, tokens_done, corpus FROM runs')"

# a refused input stops the merge; inputs before it stay merged
cp own-source.db partial.db
before_partial=$(sum partial.db)
expect 1 'newer.db: schema version 99' "a refused second input" -- \
	"$DUO" merge partial.db seed.db newer.db b.db
checks=$((checks + 1))
[ "$(cat out)" = "seed.db: 1 run merged (id 3), 0 models added" ] ||
	fail "the input before the refused one: $(cat out)"
checks=$((checks + 1))
[ "$(sqlite3 partial.db 'SELECT count(*) FROM runs')" = 3 ] ||
	fail "inputs after a refused one were merged"

# a new output whose first input is refused is not left behind
expect 1 'newer.db' "a new output, refused input" -- \
	"$DUO" merge fresh.db newer.db
checks=$((checks + 1))
[ ! -e fresh.db ] && [ ! -e fresh.db-wal ] ||
	fail "a refused merge left a new database"

echo "merge: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
