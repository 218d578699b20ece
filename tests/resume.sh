#!/bin/sh
# resume.sh - runs stored window by window: killed with -9 or stopped with
# Ctrl-C (SIGINT) in the middle, they keep whole windows and
# "duo run --resume" completes them into exactly the rows of an
# uninterrupted run (every token, result, loss and KL table and mean, bit
# for bit: the comparison is of SQLite's text of each value, tolerance 0);
# with --losses f16, --null-control and --context greedy too.  Then what
# --resume refuses, several FILEs with --corpus, the log lines off a
# terminal, and examples/slurm/duo-corpus.sbatch run again for a task
# killed on the way (the script runs as a plain shell script here;
# tests/slurm.sh runs it under Slurm).
#
# The kills land between windows because each window waits at the test
# hook DUO_TEST_PAUSE_BEFORE_WRITE=SECONDS (src/analysis.c) before its
# write; a kill that lands inside a write is what tests/run.sh does.
#
# Environment: DUO (the program), srcdir.  Exit 0 pass, 1 fail, 77
# without the sqlite3 command, 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
case $DUO in /*) ;; *) DUO=$(pwd)/$DUO ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-resume.XXXXXX") || exit 99
run_pid=
cleanup() {
	[ -n "$run_pid" ] && kill -9 "$run_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$srcdir/tests/lib.sh"
fixture="$srcdir/tests/fixture.gguf"
# about 2200 tokens: 35 windows of the fixture's 63
i=0
while [ $i -lt 8 ]; do cat "$srcdir/tests/texts/cli.txt"; i=$((i + 1)); done \
	>"$tmp/long.txt"

# rows DB RUN: every stored row of a run but its id, timing and threads,
# one value per line as SQLite prints it (REAL to 17 digits).
rows() {
	sqlite3 "$1" "SELECT n_tokens, n_results, status, tokens_done,
	    coalesce(corpus, '-'), coalesce(label, '-'),
	    json_remove(settings, '$.threads') FROM runs WHERE id = $2"
	for t in tokens:2 results:2,3,4 route_losses:2 route_kl:2 \
	    route_losses_f16:2 route_kl_f16:2 run_means:2,3; do
		sqlite3 "$1" "SELECT * FROM ${t%%:*} WHERE run_id = $2
		    ORDER BY ${t#*:}" | sed "s/^$2|//"
	done
}

# same WHAT DB_A RUN_A DB_B RUN_B: the two runs' rows are identical.
same() {
	rows "$2" "$3" >"$tmp/a.rows"
	rows "$4" "$5" >"$tmp/b.rows"
	ok
	if ! cmp -s "$tmp/a.rows" "$tmp/b.rows"; then
		fail "$1: the rows differ ($(diff "$tmp/a.rows" "$tmp/b.rows" |
		    head -n 4 | tr '\n' ' '))"
	elif [ "$(wc -l <"$tmp/a.rows")" -lt 1000 ]; then
		fail "$1: only $(wc -l <"$tmp/a.rows") rows compared"
	fi
}

# stored DB RUN: the run's tokens_done, 0 if none
stored() {
	sqlite3 "$1" "SELECT coalesce((SELECT tokens_done FROM runs
	    WHERE id = $2), 0)" 2>/dev/null || echo 0
}

# interrupt SIGNAL DB OPTIONS...: start a slowed run, wait for some
# windows to be stored, send SIGNAL; its exit status in $status.
interrupt() {
	signal=$1 idb=$2
	shift 2
	env DUO_TEST_PAUSE_BEFORE_WRITE=0.05 "$DUO" run -m "$fixture" \
		-d "$idb" "$@" "$tmp/long.txt" >"$tmp/out" 2>"$tmp/err" &
	run_pid=$!
	waited=0
	while [ "$(stored "$idb" 1)" -lt 300 ] && [ $waited -lt 600 ]; do
		sleep 0.05
		waited=$((waited + 1))
	done
	kill "-$signal" "$run_pid"
	wait "$run_pid"
	status=$?
	run_pid=
}

# --- the uninterrupted runs ---------------------------------------------

expect 0 '' "an uninterrupted run" -- \
	"$DUO" run -m "$fixture" -d "$tmp/whole.db" "$tmp/long.txt"
n=$(sqlite3 "$tmp/whole.db" 'SELECT n_tokens FROM runs WHERE id = 1')
[ "$n" -gt 1000 ] || { echo "FAIL the text has $n tokens"; exit 99; }
expect 0 '' "an uninterrupted run with f16 tables and a control" -- \
	"$DUO" run -m "$fixture" -d "$tmp/whole16.db" --losses f16 \
	--null-control --null-seed 5 "$tmp/long.txt"

# --- kill -9, then --resume ---------------------------------------------

interrupt KILL "$tmp/killed.db"
ok
[ "$status" -eq 137 ] || fail "kill -9: exit $status: $(cat "$tmp/err")"
done_at=$(stored "$tmp/killed.db" 1)
ok
[ "$(sqlite3 "$tmp/killed.db" 'SELECT status FROM runs WHERE id = 1')" = \
    running ] && [ "$done_at" -gt 0 ] && [ "$done_at" -lt "$n" ] &&
    [ $((done_at % 63)) -eq 0 ] ||
	fail "the killed run: $(sqlite3 "$tmp/killed.db" 'SELECT status, tokens_done, n_tokens FROM runs')"
ok
[ "$(sqlite3 "$tmp/killed.db" "SELECT count(*) FROM difficulty")" -eq 0 ] ||
	fail "the views show a run that is not complete"
expect 1 "continue it with: duo run -d $tmp/killed.db --resume 1\$" "duo export of a killed run" -- \
	"$DUO" export -d "$tmp/killed.db" 1
expect 1 "killed.db: run 1 is running, [0-9]*% done ($done_at of $n tokens); if no duo is writing it, continue it with: duo run -d $tmp/killed.db --resume 1" \
	"duo findings of a killed run" -- "$DUO" findings -d "$tmp/killed.db" 1
# a plain merge copies it as it is, stopped, to be continued there
expect 0 '' "duo merge of a killed run" -- \
	"$DUO" merge "$tmp/moved.db" "$tmp/killed.db"
ok
[ "$(sqlite3 "$tmp/moved.db" 'SELECT status, tokens_done FROM runs')" = \
    "stopped|$done_at" ] || fail "the merged killed run: $(sqlite3 \
    "$tmp/moved.db" 'SELECT status, tokens_done FROM runs')"
# without -m: the model file the run was made from, found by its path
expect 0 '' "--resume, without -m, of the killed run in the database it was merged into" \
	-- env -u DUO_MODEL "$DUO" run -d "$tmp/moved.db" --resume 1
same "killed, merged, then resumed" "$tmp/whole.db" 1 "$tmp/moved.db" 1
expect 0 '' "--resume of the killed run" -- \
	"$DUO" run -m "$fixture" -d "$tmp/killed.db" --resume 1
ok
grep -q "^duo: run 1: $done_at of $n tokens are stored; continuing from position $((done_at + 1))\$" \
    "$tmp/err" || fail "--resume did not say where it continues: $(cat "$tmp/err")"
ok
grep -q "^run 1: $n tokens" "$tmp/out" ||
	fail "--resume printed no summary: $(head -n 2 "$tmp/out")"
same "killed, then resumed" "$tmp/whole.db" 1 "$tmp/killed.db" 1
ok
[ "$(sqlite3 "$tmp/killed.db" 'SELECT count(*) FROM runs')" -eq 1 ] ||
	fail "--resume made another run"

# --- Ctrl-C, then --resume, with f16 tables and a null control ----------

interrupt INT "$tmp/stopped.db" --losses f16 --null-control --null-seed 5
ok
[ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
    grep -q "^duo: run 1 stopped: .*continue it with: duo run -d $tmp/stopped.db --resume 1\$" \
    "$tmp/err" || fail "Ctrl-C: exit $status: $(cat "$tmp/err")"
ok
[ "$(sqlite3 "$tmp/stopped.db" 'SELECT status, count(*) FROM runs')" = \
    "stopped|1" ] ||
	fail "the stopped run: $(sqlite3 "$tmp/stopped.db" 'SELECT id, status, tokens_done FROM runs')"
ok
[ "$(sqlite3 "$tmp/stopped.db" 'SELECT count(*) FROM route_losses_f16')" -eq 0 ] ||
	fail "a stopped run already has F16 tables"
expect 0 '' "--resume of the stopped run and its control" -- \
	"$DUO" run -m "$fixture" -d "$tmp/stopped.db" --resume last
ok
grep -q '^null control: run 2, ' "$tmp/out" ||
	fail "--resume did not make the null control: $(cat "$tmp/out")"
same "stopped, then resumed, f16" "$tmp/whole16.db" 1 "$tmp/stopped.db" 1
same "its null control" "$tmp/whole16.db" 2 "$tmp/stopped.db" 2
ok
[ "$(sqlite3 "$tmp/stopped.db" 'SELECT count(*) FROM route_losses')" -eq 0 ] &&
    [ "$(sqlite3 "$tmp/stopped.db" 'SELECT count(*) FROM route_losses_f16')" -eq $((2 * n)) ] ||
	fail "the resumed f16 run keeps $(sqlite3 "$tmp/stopped.db" 'SELECT count(*) FROM route_losses') float32 tables"

# a greedy run: its shuffled method is scored again in its own context
"$DUO" run -m "$fixture" -d "$tmp/whole_g.db" -q --context greedy \
	"$tmp/long.txt" >/dev/null || exit 99
interrupt KILL "$tmp/greedy.db" --context greedy
expect 0 '' "--resume of a killed greedy run" -- \
	"$DUO" run -m "$fixture" -d "$tmp/greedy.db" -q --resume 1
same "greedy, killed, then resumed" "$tmp/whole_g.db" 1 "$tmp/greedy.db" 1

# a control stopped in its turn is continued by itself
interrupt KILL "$tmp/control.db" --null-control --null-seed 5
"$DUO" run -m "$fixture" -d "$tmp/control.db" -q --resume 1 >/dev/null \
	2>"$tmp/err" || fail "--resume 1: $(cat "$tmp/err")"
sqlite3 "$tmp/control.db" "UPDATE runs SET status = 'stopped',
    tokens_done = 126 WHERE id = 2; DELETE FROM run_means WHERE run_id = 2;
    DELETE FROM results WHERE run_id = 2 AND (pos > 126 OR method IN
    ('fixed', 'random_best', 'shuffled')); DELETE FROM route_losses WHERE
    run_id = 2 AND pos > 126; DELETE FROM route_kl WHERE run_id = 2 AND
    pos > 126; DELETE FROM tokens WHERE run_id = 2 AND pos > 126" || exit 99
expect 0 '' "--resume of a null control" -- \
	"$DUO" run -m "$fixture" -d "$tmp/control.db" --resume 2
rm -f "$tmp/whole_c.db"
"$DUO" run -m "$fixture" -d "$tmp/whole_c.db" -q --null-control --null-seed 5 \
	"$tmp/long.txt" >/dev/null || exit 99
same "a resumed control" "$tmp/whole_c.db" 2 "$tmp/control.db" 2

# --- what --resume refuses ----------------------------------------------

expect 1 'run 1 is complete: there is nothing to continue' \
	"--resume of a complete run" -- \
	"$DUO" run -m "$fixture" -d "$tmp/whole.db" --resume 1
interrupt KILL "$tmp/again.db"
cp "$fixture" "$tmp/other.gguf"
printf 'x' >>"$tmp/other.gguf"
expect 1 'run 1 was made with the model of sha256 ' \
	"--resume with another model file" -- \
	"$DUO" run -m "$tmp/other.gguf" -d "$tmp/again.db" --resume 1
printf 'another text\n' >"$tmp/other.txt"
expect 1 "is not the text of run 1" "--resume with another text" -- \
	"$DUO" run -m "$fixture" -d "$tmp/again.db" --resume 1 "$tmp/other.txt"
expect 2 '--resume goes on with the run' "--resume with --space" -- \
	"$DUO" run -m "$fixture" -d "$tmp/again.db" --resume 1 --space B.
expect 1 'no run' "--resume of no run" -- \
	"$DUO" run -m "$fixture" -d "$tmp/again.db" --resume 9
expect 0 '' "--resume with its own text given" -- \
	"$DUO" run -m "$fixture" -d "$tmp/again.db" -q --resume 1 "$tmp/long.txt"
same "killed again, resumed with its text" "$tmp/whole.db" 1 "$tmp/again.db" 1

# --- several FILEs, a corpus, log lines ---------------------------------

head -c 900 "$tmp/long.txt" >"$tmp/a.txt"
tail -c 1200 "$tmp/long.txt" >"$tmp/b.txt"
expect 0 '' "two FILEs with --corpus" -- \
	"$DUO" run -m "$fixture" -d "$tmp/corpus.db" --corpus notes \
	--label part --log-every 0 "$tmp/a.txt" "$tmp/b.txt"
ok
[ "$(sqlite3 "$tmp/corpus.db" "SELECT group_concat(label || '/' || corpus
    || '/' || status, ' ') FROM runs")" = \
    "part: $tmp/a.txt/notes/complete part: $tmp/b.txt/notes/complete" ] ||
	fail "the corpus runs: $(sqlite3 "$tmp/corpus.db" 'SELECT id, label, corpus, status FROM runs')"
ok
[ "$(grep -c '^run [12]: ' "$tmp/out")" -eq 2 ] ||
	fail "two FILEs: not two summaries"
ok
grep -q "^duo: $tmp/b.txt (2/2): [0-9]*%, [0-9]*/[0-9]* tokens, [0-9.]* tokens/s, .* elapsed; all: [0-9]*% of [0-9]* tokens, ETA " \
    "$tmp/err" || fail "no log line of the second file: $(head -n 3 "$tmp/err")"
ok
[ "$(sqlite3 "$tmp/corpus.db" "SELECT n_runs, n FROM corpus_curve
    WHERE corpus = 'notes' AND method = 'oracle' AND budget = 2")" = \
    "2|$(sqlite3 "$tmp/corpus.db" 'SELECT sum(n_tokens) FROM runs')" ] ||
	fail "corpus_curve: $(sqlite3 "$tmp/corpus.db" "SELECT * FROM corpus_curve WHERE method = 'oracle' AND budget = 2")"
ok
[ "$(sqlite3 "$tmp/corpus.db" "SELECT abs(c.mean_loss - (SELECT
    sum(m.n * m.mean_loss) / sum(m.n) FROM run_means AS m WHERE
    m.method = 'oracle' AND m.budget = 2)) < 1e-12 FROM corpus_curve AS c
    WHERE c.method = 'oracle' AND c.budget = 2")" = 1 ] ||
	fail "corpus_curve is not the token-weighted mean (tolerance 1e-12)"
expect 1 'no-such.txt' "a missing FILE among others, before any work" -- \
	"$DUO" run -m "$fixture" -d "$tmp/corpus.db" "$tmp/a.txt" \
	"$tmp/no-such.txt"
ok
[ "$(sqlite3 "$tmp/corpus.db" 'SELECT count(*) FROM runs')" -eq 2 ] ||
	fail "a missing FILE: a run was stored before the refusal"
expect 0 '' "-q: nothing on stderr" -- \
	"$DUO" run -m "$fixture" -d "$tmp/corpus.db" -q --log-every 0 "$tmp/a.txt"
ok
[ ! -s "$tmp/err" ] || fail "-q printed: $(cat "$tmp/err")"

# a database whose path a shell would split: the command comes quoted
cp "$tmp/whole.db" "$tmp/with space.db"
sqlite3 "$tmp/with space.db" "UPDATE runs SET status = 'stopped'" || exit 99
expect 1 "continue it with: duo run -d '$tmp/with space.db' --resume 1\$" \
	"the resume command of a database with a space in its path" -- \
	"$DUO" export -d "$tmp/with space.db" 1
# the database duo finds by itself needs no -d
expect 1 "continue it with: duo run --resume 1\$" \
	"the resume command of the default database" -- \
	env DUO_DB="$tmp/with space.db" "$DUO" export 1

# a file edited by hand, or damaged: --resume refuses it and writes nothing
cp "$tmp/whole.db" "$tmp/odd.db"
sqlite3 "$tmp/odd.db" "UPDATE runs SET status = 'stopped', tokens_done = 5" ||
	exit 99
expect 1 "odd.db: run 1: tokens_done is 5, not the end of a window of 63 tokens\$" \
	"--resume of a run stopped inside a window" -- \
	"$DUO" run -m "$fixture" -d "$tmp/odd.db" --resume 1
sqlite3 "$tmp/odd.db" "UPDATE runs SET tokens_done = 63" || exit 99
odd_before=$(sha256sum <"$tmp/odd.db")
expect 1 "odd.db: run 1: [0-9]* rows lie past its last token done, 63\$" \
	"--resume of a run with rows past tokens_done" -- \
	"$DUO" run -m "$fixture" -d "$tmp/odd.db" --resume 1
ok
[ "$(sha256sum <"$tmp/odd.db")" = "$odd_before" ] ||
	fail "a refused --resume changed the database"

# --- Ctrl-C in the first window: nothing stored, and the line says so ----

# The shipped model takes seconds over its first window of 255 tokens;
# the signal goes once a log line shows the analysis under way.
model="$srcdir/data/duo.gguf"
if [ -f "$model" ]; then
	"$DUO" run -m "$model" -d "$tmp/first.db" --log-every 0 \
	    "$tmp/long.txt" "$tmp/a.txt" >"$tmp/out" 2>"$tmp/err" &
	run_pid=$!
	waited=0
	while ! grep -q 'tokens/s' "$tmp/err" && [ $waited -lt 600 ]; do
		sleep 0.05
		waited=$((waited + 1))
	done
	kill -INT "$run_pid"
	wait "$run_pid"
	status=$?
	run_pid=
	ok
	last=$(tail -n 1 "$tmp/err")
	[ "$status" -eq 1 ] && [ "$last" = "duo: $tmp/long.txt: cancelled before its first window was stored; nothing of it is kept; 1 later file was not analysed" ] ||
		fail "Ctrl-C in the first window: exit $status: $last"
	ok
	[ "$(sqlite3 "$tmp/first.db" 'SELECT count(*) FROM runs' 2>/dev/null ||
	    echo 0)" -eq 0 ] || fail "Ctrl-C in the first window stored a run"
fi

# --- the Slurm example continues a task's shard when it runs again -------

script="$srcdir/examples/slurm/duo-corpus.sbatch"
mkdir "$tmp/shards"
task() {
	env SLURM_ARRAY_TASK_ID="$1" SLURM_ARRAY_TASK_COUNT=2 DUO="$DUO" \
	    DUO_MODEL="$fixture" sh "$script" "$tmp/long.txt" "$tmp/shards" \
	    >"$tmp/out" 2>"$tmp/err"
}
env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 DUO_MODEL="$fixture" \
    DUO_TEST_PAUSE_BEFORE_WRITE=0.05 DUO="$DUO" sh "$script" \
    "$tmp/long.txt" "$tmp/shards" >/dev/null 2>&1 &
run_pid=$!
waited=0
while [ "$(stored "$tmp/shards/shard-1.db" 1)" -lt 126 ] &&
    [ $waited -lt 600 ]; do
	sleep 0.05
	waited=$((waited + 1))
done
kill -9 "$run_pid"
wait "$run_pid" 2>/dev/null
run_pid=
expect 1 "shard-1.db: run 1 is running, .*continue it with: duo run -d $tmp/shards/shard-1.db --resume 1\$" \
	"--join-shards with a shard that is not complete" -- \
	"$DUO" merge --join-shards "$tmp/early.db" "$tmp/shards/shard-1.db"
ok
[ ! -e "$tmp/early.db" ] || fail "a refused join wrote early.db"
ok
task 1 || fail "the requeued task 1: $(cat "$tmp/err")"
ok
grep -q '^duo: run 1: [0-9]* of [0-9]* tokens are stored; continuing' \
    "$tmp/err" || fail "the requeued task did not continue its shard: $(cat "$tmp/err")"
ok
task 2 || fail "task 2: $(cat "$tmp/err")"
ok
task 1 && [ ! -s "$tmp/out" ] ||
	fail "task 1 run again after its shard was complete: $(cat "$tmp/out" "$tmp/err")"
# the script runs duo on the task's CPUs, one here: the reference too,
# since products on one thread and on two differ in their last bits
env OMP_NUM_THREADS=1 "$DUO" run -m "$fixture" -d "$tmp/whole1.db" -q \
	"$tmp/long.txt" >/dev/null || exit 99
expect 0 '' "the join of the requeued shards" -- \
	"$DUO" merge --join-shards "$tmp/joined.db" "$tmp/shards/shard-1.db" \
	"$tmp/shards/shard-2.db"
same "the shards of a requeued task, joined" "$tmp/whole1.db" 1 \
	"$tmp/joined.db" 1

echo "resume: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
