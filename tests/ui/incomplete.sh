#!/bin/sh
# incomplete.sh - runs that are not complete (runs.status, duo(1) Long
# texts): the list shows each one's state in its oracle column and its
# share done in the label-free one, the preview says how to continue it,
# and opening it puts the same line on the status line, while the
# complete runs beside them open as before.
. "${srcdir:-.}/tests/ui/lib.sh"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
make_db
# Run 1 as a run stopped after 12 of its 40 tokens leaves it: tokens and
# per-token results to there, no run-level methods, no means; run 2 as
# one whose duo was killed before its first window was stored.
sqlite3 runs.db "UPDATE runs SET status = 'stopped', tokens_done = 12,
	    n_results = 0 WHERE id = 1;
	DELETE FROM tokens WHERE run_id = 1 AND pos > 12;
	DELETE FROM results WHERE run_id = 1 AND (pos > 12 OR method IN
	    ('fixed', 'random_best', 'shuffled'));
	DELETE FROM route_losses WHERE run_id = 1 AND pos > 12;
	DELETE FROM route_kl WHERE run_id = 1 AND pos > 12;
	DELETE FROM run_means WHERE run_id = 1;
	UPDATE runs SET status = 'running', tokens_done = 0, n_results = 0
	    WHERE id = 2;
	DELETE FROM tokens WHERE run_id = 2;
	DELETE FROM results WHERE run_id = 2;
	DELETE FROM route_losses WHERE run_id = 2;
	DELETE FROM route_kl WHERE run_id = 2;
	DELETE FROM run_means WHERE run_id = 2;" || exit 99
ui_test incomplete 100x30 <<'KEYS'
dump
Enter
dump
j
dump
j
Enter
dump
KEYS
ui_done
