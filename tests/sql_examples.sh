#!/bin/sh
# sql_examples.sh - the example queries of duo-db(5), examples/*.sql, run
# with the sqlite3 command against a database made by make_test_db, each
# output compared with tests/expected/NAME.out; and every column of every
# table and view of the schema named in duo-db(5).
#
# Environment: srcdir (the source tree, default .), TESTS_BUILDDIR (where
# make_test_db is, default ./tests).  Exit 0 pass, 1 fail, 77 when there is
# no sqlite3 command, 99 when the database cannot be made.
# To accept new outputs after a deliberate change, run with
# DUO_REFRESH_EXPECTED=1.
set -u
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-sql.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
db="$tmp/runs.db"
if ! "$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" "$db"; then
	echo "ERROR: make_test_db failed"
	exit 99
fi
# Runs with oracle_free and a null-model control, for the queries of the
# label-free oracle (examples/label-free-*.sql).
db_free="$tmp/free.db"
if ! "$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" \
    "$db_free" label-free; then
	echo "ERROR: make_test_db label-free failed"
	exit 99
fi
failures=0
checks=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# sqlite3 as a person runs it, without their ~/.sqliterc, unable to write;
# a query of the label-free oracle reads the database that has it.
query() {
	case $name in
	label-free-*) file=$db_free ;;
	*) file=$db ;;
	esac
	sqlite3 -init /dev/null -batch -bail -header -readonly "$file"
}

for sql in "$srcdir"/examples/*.sql; do
	name=$(basename "$sql" .sql)
	expected="$srcdir/tests/expected/$name.out"
	checks=$((checks + 1))
	if ! query <"$sql" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
		fail "examples/$name.sql: sqlite3 failed: $(cat "$tmp/$name.err")"
		continue
	fi
	if [ -s "$tmp/$name.err" ]; then
		fail "examples/$name.sql: sqlite3 said: $(cat "$tmp/$name.err")"
		continue
	fi
	if [ "${DUO_REFRESH_EXPECTED:-0}" = 1 ]; then
		cp "$tmp/$name.out" "$expected"
		echo "refreshed $expected"
		continue
	fi
	if [ ! -f "$expected" ]; then
		fail "examples/$name.sql: no $expected"
		continue
	fi
	if [ "$(wc -l <"$tmp/$name.out")" -lt 2 ]; then
		fail "examples/$name.sql: no rows"
	fi
	if ! diff -u "$expected" "$tmp/$name.out"; then
		fail "examples/$name.sql: output differs from $expected;" \
		    "if the change is meant, refresh with:" \
		    "DUO_REFRESH_EXPECTED=1 srcdir=$srcdir" \
		    "TESTS_BUILDDIR=$TESTS_BUILDDIR $0"
	fi
done
[ "$checks" -ge 5 ] || fail "only $checks example queries in $srcdir/examples"

# The label-free share of examples/label-free-gap.sql is what "duo
# findings" computes in C from the same rows (to the 3 decimals the query
# prints).
if [ -n "${DUO:-}" ] && [ -x "$DUO" ]; then
	checks=$((checks + 1))
	"$DUO" findings -d "$db_free" --tsv 1 | awk -F '\t' '
	    $1 == "headline" && $2 == "label_free_share" &&
	    $3 == "oracle_free" && $5 != "" { printf "%d|%.3f\n", $4, $5 }' \
	    >"$tmp/c.out"
	sed 1d "$tmp/label-free-gap.out" | awk -F '|' '{ print $1 "|" $5 }' \
	    >"$tmp/sql.out"
	if [ ! -s "$tmp/c.out" ] || ! cmp -s "$tmp/c.out" "$tmp/sql.out"; then
		fail "duo findings and examples/label-free-gap.sql disagree:" \
		    "$(paste -d ' ' "$tmp/c.out" "$tmp/sql.out" | tr '\n' ';')"
	fi
fi

# duo-db(5) names every column of every table and view, each as
# ".It Va NAME" in the list under ".Ss TABLE".
man="$srcdir/man/duo-db.5"
for table in $(sqlite3 -init /dev/null -batch "$db" \
    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')
     AND name NOT LIKE 'sqlite_%' ORDER BY name"); do
	checks=$((checks + 1))
	awk -v t="$table" '$0 == ".Ss " t { on = 1; next }
	    /^\.S[sh] / { on = 0 } on' "$man" >"$tmp/section"
	if [ ! -s "$tmp/section" ]; then
		fail "duo-db(5) has no section '.Ss $table'"
		continue
	fi
	for column in $(sqlite3 -init /dev/null -batch "$db" \
	    "SELECT name FROM pragma_table_info('$table')"); do
		checks=$((checks + 1))
		grep -E -q "^\\.It Va $column( |\$)" "$tmp/section" ||
		    fail "duo-db(5) does not describe $table.$column"
	done
done

# Each example query is in duo-db(5) word for word, as a literal display.
awk -v dir="$tmp" '/^\.Bd -literal/ { n++; on = 1; next }
    /^\.Ed/ { on = 0 } on { print > (dir "/block." n) }' "$man"
for sql in "$srcdir"/examples/*.sql; do
	checks=$((checks + 1))
	grep -v '^--' "$sql" >"$tmp/query"
	found=0
	for block in "$tmp"/block.*; do
		sed 's/\\e/\\/g' "$block" | cmp -s - "$tmp/query" && found=1
	done
	[ "$found" -eq 1 ] ||
	    fail "examples/$(basename "$sql") is not in duo-db(5) as it is"
done

echo "sql_examples: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
