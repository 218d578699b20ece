#!/bin/sh
# writesafe.sh - no analysis lost at write time, and databases that
# cannot be written told with their real reason: a folder that is
# read-only (as another user than root, who may write anywhere), a
# folder that is a file, a missing folder; a lock held past
# --busy-timeout keeps the run in a side file that "duo export" reads,
# and a longer --busy-timeout stores it; after a run the -wal log is
# empty even when another connection keeps the database open.
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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-writesafe.XXXXXX") || exit 99
holder_pid=
cleanup() {
	exec 3>&- 4>&-
	[ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null
	chmod -R u+w "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$srcdir/tests/lib.sh"
# the model and texts where another user may read them
cp "$srcdir/tests/fixture.gguf" "$tmp/fixture.gguf" || exit 99
fixture="$tmp/fixture.gguf"
printf 'The keeper counted the ships that passed each evening.\n' \
	>"$tmp/text.txt"
n=$("$DUO" tokenize -m "$fixture" "$tmp/text.txt" | awk -F '\t' \
	'$1 ~ /^[0-9]+$/ && $1 > 0 { n++ } END { print n + 0 }')
[ "$n" -gt 5 ] || { echo "FAIL the text has $n tokens"; exit 99; }
db="$tmp/runs.db"

# expect_line PATTERN WHAT: the last command's stderr is this one line
# (a basic regular expression, anchored).
expect_line() {
	checks=$((checks + 1))
	grep -qx -- "$1" "$tmp/err" ||
		fail "$2: stderr is not '$1': $(cat "$tmp/err")"
}

# --- a database that cannot be made: the real reason ----------------------

: >"$tmp/file"
expect 1 '' "a folder that is a file" -- \
	"$DUO" run -m "$fixture" -d "$tmp/file/runs.db" "$tmp/text.txt"
expect_line "duo: $tmp/file/runs.db: cannot create the database: $tmp/file is not a folder" \
	"a folder that is a file"
expect 1 '' "a file further up" -- \
	"$DUO" run -m "$fixture" -d "$tmp/file/a/b/runs.db" "$tmp/text.txt"
expect_line "duo: $tmp/file/a/b/runs.db: cannot create the database: $tmp/file is not a folder" \
	"a file further up"
expect 1 '' "a missing folder" -- \
	"$DUO" run -m "$fixture" -d "$tmp/no/runs.db" "$tmp/text.txt"
expect_line "duo: $tmp/no/runs.db: cannot create the database: folder $tmp/no does not exist" \
	"a missing folder"
ok
[ "$(ls "$tmp" | grep -c 'file-\|^no')" -eq 0 ] ||
	fail "something was left beside the file: $(ls "$tmp")"

# A read-only folder, as nobody: root may make files in any folder.
as_nobody=
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    id nobody >/dev/null 2>&1; then
	as_nobody="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	chmod 755 "$tmp"
	chmod 644 "$fixture" "$tmp/text.txt"
	$as_nobody "$DUO" --version >/dev/null 2>&1 || as_nobody=
fi
if [ -n "$as_nobody" ]; then
	mkdir "$tmp/ro" && chmod 555 "$tmp/ro" || exit 99
	expect 1 '' "a read-only folder" -- $as_nobody \
		"$DUO" run -m "$fixture" -d "$tmp/ro/runs.db" "$tmp/text.txt"
	expect_line "duo: $tmp/ro/runs.db: cannot create the database: Permission denied" \
		"a read-only folder"
	ok
	[ -z "$(ls "$tmp/ro")" ] || fail "files in the read-only folder: $(ls "$tmp/ro")"
	# a database of nobody's in a folder where SQLite cannot make its log
	mkdir "$tmp/ro2" || exit 99
	"$DUO" run -m "$fixture" -d "$tmp/ro2/runs.db" "$tmp/text.txt" \
		>/dev/null 2>&1 || exit 99
	chown nobody "$tmp/ro2/runs.db" && chmod 555 "$tmp/ro2" || exit 99
	expect 1 '' "a database in a read-only folder" -- $as_nobody \
		"$DUO" run -m "$fixture" -d "$tmp/ro2/runs.db" "$tmp/text.txt"
	expect_line "duo: $tmp/ro2/runs.db: cannot write the database: its folder $tmp/ro2 does not let new files be made (Permission denied), and SQLite keeps its log beside the database" \
		"a database in a read-only folder"
	expect 0 '' "reading it there" -- $as_nobody \
		"$DUO" export -d "$tmp/ro2/runs.db" 1
else
	echo "note: not root, or no setpriv or nobody: the read-only folder checks are skipped"
fi

# --- --busy-timeout --------------------------------------------------------

expect 2 "busy-timeout 'soon' is not a whole number" "--busy-timeout soon" -- \
	"$DUO" run -m "$fixture" -d "$db" --busy-timeout soon "$tmp/text.txt"
expect 2 'busy-timeout -1 is out of range' "--busy-timeout -1" -- \
	"$DUO" run -m "$fixture" -d "$db" --busy-timeout -1 "$tmp/text.txt"
expect 0 '' "a first run" -- "$DUO" run -m "$fixture" -d "$db" "$tmp/text.txt"

# lock: another sqlite3 holds the write lock until fd 3 is closed
lock() {
	rm -f "$tmp/lock.fifo"
	mkfifo "$tmp/lock.fifo" || exit 99
	sqlite3 "$db" <"$tmp/lock.fifo" >/dev/null 2>&1 &
	holder_pid=$!
	exec 3>"$tmp/lock.fifo"
	printf '.timeout 10000\nBEGIN EXCLUSIVE;\nUPDATE models SET path = path;\n' >&3
	# the lock is held once the update is done: a writer is refused
	tries=0
	while sqlite3 -cmd '.timeout 0' "$db" 'BEGIN IMMEDIATE; ROLLBACK' \
	    >/dev/null 2>&1; do
		sleep 0.05
		tries=$((tries + 1))
		[ $tries -lt 200 ] || { echo "FAIL the lock was never taken"; exit 99; }
	done
}
unlock() {
	exec 3>&-
	wait "$holder_pid" 2>/dev/null
	holder_pid=
}

# A lock held past --busy-timeout as a run stored window by window begins:
# nothing stored, said on one line.
lock
expect 1 '' "a lock held past --busy-timeout, window by window" -- \
	"$DUO" run -m "$fixture" -d "$db" --busy-timeout 200 "$tmp/text.txt"
unlock
expect_line "duo: $db: beginning the run: database is locked by another process (gave up after 0\.2 s)" \
	"a lock held past --busy-timeout, window by window"
ok
[ "$(sqlite3 "$db" 'SELECT count(*) FROM runs')" -eq 1 ] ||
	fail "a run that could not begin left $(sqlite3 "$db" 'SELECT count(*) FROM runs') runs"

# A lock held past --busy-timeout at the end of a run stored whole (a
# beam run): not stored, kept beside the database.
lock
expect 1 '' "a lock held past --busy-timeout" -- \
	"$DUO" run -m "$fixture" -d "$db" --beam 2 --busy-timeout 200 \
	"$tmp/text.txt"
unlock
side=$(ls "$tmp" | grep '^runs\.db\.kept-[0-9]\{8\}T[0-9]\{6\}Z-[0-9]*\.db$')
ok
if [ "$(printf '%s\n' "$side" | grep -c .)" -ne 1 ]; then
	fail "one side file expected beside the database: $(ls "$tmp")"
else
	side="$tmp/$side"
	expect_line "duo: the run was not stored: $db: writing the run: database is locked by another process (gave up after 0\.2 s); its results are kept in $side; store them with: duo merge $db $side" \
		"a lock held past --busy-timeout"
	ok
	[ ! -e "$side-journal" ] && [ ! -e "$side-wal" ] ||
		fail "the side file is not one file: $(ls "$tmp")"
	expect 0 '' "duo export of the side file" -- \
		"$DUO" export -d "$side" 1
	cp "$tmp/out" "$tmp/side.csv"
	ok
	[ "$(sqlite3 "$side" 'SELECT count(*), min(n_tokens) FROM runs')" = \
	    "1|$n" ] || fail "the side file: $(sqlite3 "$side" 'SELECT id, n_tokens FROM runs')"
fi
ok
[ "$(sqlite3 "$db" 'SELECT count(*) FROM runs')" -eq 1 ] ||
	fail "the locked database has $(sqlite3 "$db" 'SELECT count(*) FROM runs') runs"

# A lock released within --busy-timeout: stored.
lock
"$DUO" run -m "$fixture" -d "$db" --beam 2 --busy-timeout 30000 \
	"$tmp/text.txt" >"$tmp/out" 2>"$tmp/err" 3>&- &
run_pid=$!
sleep 1
unlock
wait "$run_pid"
status=$?
ok
[ "$status" -eq 0 ] && grep -q '^run 2: ' "$tmp/out" ||
	fail "a lock released within --busy-timeout: exit $status: $(cat "$tmp/err")"
# the side file's run is that run, as export shows it
"$DUO" export -d "$db" 2 >"$tmp/stored.csv" 2>/dev/null
ok
[ -s "$tmp/side.csv" ] &&
    [ "$(wc -l <"$tmp/side.csv")" -eq "$(wc -l <"$tmp/stored.csv")" ] ||
	fail "the side file exports $(wc -l <"$tmp/side.csv") lines, the stored run $(wc -l <"$tmp/stored.csv")"

# --- the -wal log is emptied after each run -------------------------------

# another connection stays open, so that closing duo's is not the last
# close (which would empty the log by itself)
rm -f "$tmp/reader.fifo"
mkfifo "$tmp/reader.fifo" || exit 99
sqlite3 "$db" <"$tmp/reader.fifo" >/dev/null 2>&1 &
holder_pid=$!
exec 4>"$tmp/reader.fifo"
printf 'SELECT count(*) FROM runs;\n' >&4
sleep 0.3
expect 0 '' "a run beside an open connection" -- \
	"$DUO" run -m "$fixture" -d "$db" "$tmp/text.txt"
ok
[ ! -s "$db-wal" ] ||
	fail "after a run the -wal log holds $(wc -c <"$db-wal") bytes"
exec 4>&-
wait "$holder_pid" 2>/dev/null
holder_pid=
ok
[ "$(sqlite3 "$db" 'SELECT count(*) FROM runs; PRAGMA integrity_check')" = \
    "$(printf '3\nok')" ] || fail "the database at the end"

echo "writesafe: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
