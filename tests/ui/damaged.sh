#!/bin/sh
# damaged.sh - a shared database that holds damaged runs: each is listed
# and marked "damaged" in its oracle column, with the reason in the
# preview; opening one says why on the status line; the sound run beside
# them (whose settings are not even JSON) still opens.  Before, a run
# whose source was NULL made the whole list fail ("out of memory").
. "${srcdir:-.}/tests/ui/lib.sh"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
make_db
# Rows that the schema's constraints would refuse, as another program
# (or a hand with sqlite3) may leave them; source loses its NOT NULL.
sqlite3 runs.db "PRAGMA writable_schema = ON;
	UPDATE sqlite_schema SET sql = replace(sql,
	    'source        TEXT NOT NULL', 'source        TEXT')
	WHERE name = 'runs';" >/dev/null || exit 99
sqlite3 runs.db "PRAGMA ignore_check_constraints = 1;
	PRAGMA foreign_keys = 0;
	UPDATE runs SET n_tokens = -1 WHERE id = 1;
	DELETE FROM tokens WHERE run_id = 1;
	UPDATE runs SET n_results = n_results + 1 WHERE id = 2;
	UPDATE runs SET source = NULL WHERE id = 3;
	UPDATE runs SET settings = '{\"a\":' WHERE id = 4;" || exit 99
ui_test damaged 100x30 <<'KEYS'
dump
Enter
dump
j
dump
j
dump
j
Enter
dump
KEYS
ui_done
