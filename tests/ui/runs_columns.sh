#!/bin/sh
# runs_columns.sh - the runs list's columns: a click on a header sorts
# by that column and a second click reverses it; a model name longer
# than its column ends in an ellipsis (the preview has it whole); and at
# 100 columns the first-run message puts a long database path on a line
# of its own instead of cutting it.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test runs-columns 100x30 <<'KEYS'
click 2 8
dump
click 2 8
dump
click 2 95
dump
KEYS
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 runs.db "UPDATE models SET name =
	    'duo-tiny-with-a-rather-long-name' WHERE id = 2" || exit 99
	ui_test runs-model 100x30 <<'KEYS'
G
k
dump
KEYS
fi
rm -f runs.db
DUO_DB=a/folder/with/a/name/long/enough/to/fill/most/of/the/line/runs.db
ui_test runs-empty 100x30 <<'KEYS'
dump
KEYS
ui_done
