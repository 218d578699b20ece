#!/bin/sh
# export.sh - "duo export": CSV that a CSV reader parses back to the
# database's rows, JSON that python3 -m json.tool accepts with the same
# rows, pieces that are hard to write out (quotes, commas, tabs, newlines,
# a NUL, bytes that are not UTF-8), and one-line errors for bad input.
#
# Environment: DUO (the program), srcdir, TESTS_BUILDDIR (for
# make_test_db), PYTHON (a Python 3; the parsing checks are skipped
# without one).  Exit 0 pass, 1 fail, 77 without sqlite3, 99 on setup
# failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"
: "${PYTHON:=python3}"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-export.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
db="$tmp/runs.db"
"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" "$db" odd ||
    exit 99
. "$srcdir/tests/lib.sh"

expect 0 '' "export --help" -- "$DUO" export --help
expect 0 '' "CSV of run 1" -- "$DUO" export -d "$db" 1
cp "$tmp/out" "$tmp/run1.csv"
expect 0 '' "CSV by label" -- "$DUO" export --db="$db" ferry
cmp -s "$tmp/out" "$tmp/run1.csv" || fail "a run's label exports the same run"
expect 0 '' "JSON of the odd run" -- "$DUO" export -d "$db" last --format json
cp "$tmp/out" "$tmp/odd.json"
expect 0 '' "CSV of the odd run" -- "$DUO" export -d "$db" 4 -f csv
cp "$tmp/out" "$tmp/odd.csv"
DUO_DB="$db" expect 0 '' "DUO_DB names the database" -- "$DUO" export 1
cmp -s "$tmp/out" "$tmp/run1.csv" || fail "DUO_DB exports the same run"

checks=$((checks + 1))
[ "$(head -n 1 "$tmp/run1.csv")" = \
    "run_id,pos,token_id,piece,method,budget,route,loss" ] ||
    fail "CSV header: $(head -n 1 "$tmp/run1.csv")"

# Errors: one line, naming the fault; nothing created.
expect 1 'no run .9.' "a missing run" -- "$DUO" export -d "$db" 9
expect 1 'no run .nobody.' "a missing label" -- "$DUO" export -d "$db" nobody
expect 1 "$tmp/absent.db: no such database" "a missing database" -- \
	"$DUO" export -d "$tmp/absent.db" 1
checks=$((checks + 1))
[ ! -e "$tmp/absent.db" ] || fail "export created a database"
expect 1 'no such database' "a missing folder" -- \
	"$DUO" export -d "$tmp/no/such/folder/runs.db" 1
expect 2 'csv or json' "an unknown format" -- \
	"$DUO" export -d "$db" 1 --format xml
expect 2 'which run' "no run given" -- "$DUO" export -d "$db"
expect 2 'too many' "two runs given" -- "$DUO" export -d "$db" 1 2
printf 'Not a database, only some words.\n' >"$tmp/words.db"
expect 1 'not an SQLite database' "a text file" -- \
	"$DUO" export -d "$tmp/words.db" 1
cp "$db" "$tmp/newer.db"
sqlite3 "$tmp/newer.db" 'PRAGMA user_version = 7' || exit 99
expect 1 'schema version 7 is newer than this duo understands' \
	"a newer schema" -- "$DUO" export -d "$tmp/newer.db" 1

if ! "$PYTHON" -c 'import csv, json' 2>/dev/null; then
	echo "note: no Python 3; CSV and JSON parsing checks skipped"
else
	checks=$((checks + 1))
	"$PYTHON" -m json.tool "$tmp/odd.json" >/dev/null ||
	    fail "python3 -m json.tool refuses the JSON"

	# Every row of the database, and the hard pieces, read back through
	# Python's csv and json modules.  Losses have nine significant
	# digits: relative 1e-8.
	sqlite3 -init /dev/null -batch -separator ' ' "$db" \
	    "SELECT run_id, pos, method, budget, coalesce(route, '-'),
	     printf('%.17g', loss) FROM results ORDER BY run_id, pos, method,
	     budget" >"$tmp/rows.txt" || exit 99
	checks=$((checks + 1))
	"$PYTHON" - "$tmp" <<'PYEOF' || fail "exported rows differ from the database"
import csv, json, sys
tmp = sys.argv[1]
want = {}
for line in open(tmp + "/rows.txt"):
    run, pos, method, budget, route, loss = line.split()
    want[(int(run), int(pos), method, int(budget))] = (
        None if route == "-" else route, float(loss))
bad = []

def check(run, rows):
    keys = [k for k in want if k[0] == run]
    if len(rows) != len(keys):
        bad.append("run %d: %d rows, database has %d" % (run, len(rows), len(keys)))
    for r in rows:
        key = (int(r["run_id"]), int(r["pos"]), r["method"], int(r["budget"]))
        route, loss = want.get(key, ("?", None))
        got = r["route"] if r["route"] not in ("", None) else None
        if loss is None or got != route or abs(float(r["loss"]) - loss) > 1e-8 * abs(loss):
            bad.append("row %r: %r %r, database %r %r" % (key, got, r["loss"], route, loss))

with open(tmp + "/run1.csv", newline="", encoding="utf-8") as f:
    check(1, list(csv.DictReader(f)))
with open(tmp + "/odd.csv", newline="", encoding="utf-8") as f:
    odd_csv = list(csv.DictReader(f))
check(4, odd_csv)
with open(tmp + "/odd.json", encoding="utf-8") as f:
    doc = json.load(f)
check(4, doc["rows"])

pieces = {1: "say", 2: ' "hi",', 3: " tab\there", 4: " new", 5: "\nline",
          6: " nul\ufffdbyte", 7: " bad\ufffd\ufffd", 8: " emoji\U0001F600",
          9: " back\\slash", 10: " \x01ctl"}
for name, rows in (("csv", odd_csv), ("json", doc["rows"])):
    for r in rows:
        if r["piece"] != pieces[int(r["pos"])]:
            bad.append("%s piece %s: %r" % (name, r["pos"], r["piece"]))
            break
run = doc["run"]
if (run["id"] != 4 or run["label"] != 'odd "bytes"' or run["source"] != "odd\tname.txt"
        or run["settings"].get("random_routes") != 100 or run["model"]["n_layer"] != 3
        or run["approximate"] is not False or run["beam_width"] is not None):
    bad.append("run facts: %r" % run)
for b in bad[:10]:
    print("  " + b)
sys.exit(1 if bad else 0)
PYEOF
fi

# A database is untrusted input: rows written with the schema's checks
# off are refused run by run, each with one line naming the run and the
# field, and the browser opening that database shows the line instead of
# crashing.
bad="$tmp/hostile.db"
"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" "$bad" odd \
    >/dev/null || exit 99
sqlite3 "$bad" "PRAGMA ignore_check_constraints = 1;
	PRAGMA foreign_keys = 0;
	UPDATE runs SET n_tokens = -1 WHERE id = 1;
	DELETE FROM tokens WHERE run_id = 1;
	UPDATE runs SET n_results = 2305843009213693952 WHERE id = 2;
	UPDATE models SET n_layer = -1
	    WHERE id = (SELECT model_id FROM runs WHERE id = 3);" || exit 99
expect 1 'run 1: n_tokens is -1' "a run of -1 tokens" -- \
	"$DUO" export -d "$bad" 1
expect 1 'run 2: n_results is 2305843009213693952, but it has' \
	"a run whose n_results overflows a size" -- "$DUO" export -d "$bad" 2
expect 1 "run 3: its model's n_layer is -1" "a model of -1 layers" -- \
	"$DUO" export -d "$bad" 3 --format json
expect 0 '' "the rest of a hostile database" -- "$DUO" export -d "$bad" 4
# Result rows that views index by: a budget past the layers, a route of
# the wrong length or with a choice outside the space, a loss not finite.
for damage in "budget = 99" "route = 'BB'" "route = 'B.S'" "loss = 'NaN'"; do
	cp "$bad" "$tmp/result.db" || exit 99
	sqlite3 "$tmp/result.db" "PRAGMA ignore_check_constraints = 1;
	    UPDATE results SET $damage WHERE run_id = 4 AND pos = 2 AND
	    method = 'oracle' AND budget = 1;" || exit 99
	expect 1 'result.db: run 4, position 2: a result.s ' \
	    "a result with $damage" -- "$DUO" export -d "$tmp/result.db" 4
done
# Strings from the database are escaped whatever they hold.
sqlite3 "$bad" "PRAGMA ignore_check_constraints = 1;
	UPDATE results SET method = 'a\"b,c' WHERE run_id = 4 AND method = 'big';
	UPDATE runs SET space = 'B\"', context = 'x\\y' WHERE id = 4;" || exit 99
expect 0 '' "CSV of strange method names" -- "$DUO" export -d "$bad" 4
checks=$((checks + 1))
awk -F '"' 'NR > 1 && /a""b,c/ { found = 1 } END { exit !found }' "$tmp/out" ||
	fail "the method a\"b,c is not quoted in CSV: $(grep 'a"' "$tmp/out" | head -n 1)"
expect 0 '' "JSON of strange names" -- "$DUO" export -d "$bad" 4 -f json
if command -v "$PYTHON" >/dev/null 2>&1; then
	checks=$((checks + 1))
	"$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
assert d["run"]["space"] == "B\"" and d["run"]["context"] == "x\\y"
assert any(r["method"] == "a\"b,c" for r in d["rows"])' <"$tmp/out" ||
		fail "the JSON of strange names does not parse back to them"
fi
printf 'Enter\ndump\nj\nEnter\ndump\n' >"$tmp/keys"
checks=$((checks + 1))
if DUO_DB="$bad" DUO_TUI_SCRIPT="$tmp/keys" DUO_TUI_DUMP="$tmp/dump" \
    DUO_TUI_TERM=xterm-256color LC_ALL=C.UTF-8 "$DUO" tui 2>"$tmp/err"; then
	grep -q 'run 1: n_tokens is -1' "$tmp/dump" &&
	    grep -q 'run 2: n_results is' "$tmp/dump" ||
		fail "the browser does not say why runs 1 and 2 cannot open: $(cat "$tmp/dump")"
else
	fail "the browser failed on a hostile database: $(cat "$tmp/err")"
fi


# Damage found in a run's row: a model row that is missing (the run used
# to vanish from the list and read as "no run 2") and a text that the
# schema says is NOT NULL (the whole list failed with "out of memory");
# each run is refused alone, the browser lists all four.
bad="$tmp/missing.db"
"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" "$bad" odd \
    >/dev/null || exit 99
sqlite3 "$bad" "PRAGMA writable_schema = ON;
	UPDATE sqlite_schema SET sql = replace(sql,
	    'source        TEXT NOT NULL', 'source        TEXT')
	WHERE name = 'runs';" >/dev/null || exit 99
sqlite3 "$bad" "PRAGMA foreign_keys = 0;
	UPDATE runs SET model_id = 99 WHERE id = 2;
	UPDATE runs SET source = NULL WHERE id = 3;" || exit 99
expect 1 'missing.db: run 2: its model 99 is not in the models table$' \
	"a run whose model row is missing" -- "$DUO" export -d "$bad" 2
expect 1 'missing.db: run 3: source is NULL$' "a run without a source" -- \
	"$DUO" export -d "$bad" 3 -f json
expect 0 '' "a sound run beside them" -- "$DUO" export -d "$bad" 1
printf 'dump\n' >"$tmp/keys"
checks=$((checks + 1))
if DUO_DB="$bad" DUO_TUI_SCRIPT="$tmp/keys" DUO_TUI_DUMP="$tmp/dump" \
    DUO_TUI_TERM=xterm-256color LC_ALL=C.UTF-8 "$DUO" tui 2>"$tmp/err"; then
	[ "$(grep -c ' damaged$' "$tmp/dump")" -eq 2 ] &&
	    grep -q 'Runs: 4,' "$tmp/dump" ||
		fail "the browser does not list runs 2 and 3 as damaged: $(cat "$tmp/dump")"
else
	fail "the browser failed on missing rows: $(cat "$tmp/err")"
fi

# The settings column is a JSON object as duo writes it; whatever else a
# database holds there is exported as a JSON string of its text, and the
# document stays JSON.
bad="$tmp/settings.db"
"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" "$bad" odd \
    >/dev/null || exit 99
sqlite3 "$bad" "PRAGMA ignore_check_constraints = 1;
	UPDATE runs SET settings = '{\"a\":' WHERE id = 1;
	UPDATE runs SET settings = '{\"a\": \"x' || char(1) || 'y\"}'
	    WHERE id = 2;
	UPDATE runs SET settings = '{\"a\": 1}' || char(0) || '\"]'
	    WHERE id = 3;
	UPDATE runs SET settings = x'7b2261223a2022ff227d' WHERE id = 4;" ||
	exit 99
for run in 1 2 3 4; do
	expect 0 '' "JSON of run $run with odd settings" -- \
		"$DUO" export -d "$bad" "$run" -f json
	cp "$tmp/out" "$tmp/settings$run.json"
done
if command -v "$PYTHON" >/dev/null 2>&1; then
	checks=$((checks + 1))
	"$PYTHON" - "$tmp" <<'PYEOF' || fail "odd settings do not export as JSON strings"
import json, sys
want = {1: '{"a":', 2: '{"a": "x\x01y"}', 3: '{"a": 1}\ufffd"]',
        4: '{"a": "\ufffd"}'}
bad = 0
for run, text in want.items():
    got = json.load(open("%s/settings%d.json" % (sys.argv[1], run)))["run"]["settings"]
    if got != text:
        print("  run %d: settings %r, expected %r" % (run, got, text))
        bad = 1
sys.exit(bad)
PYEOF
fi

echo "export: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
