#!/bin/sh
# newrun_tables.sh - the New run form's Tables row (duo run --losses):
# f16 chosen with the arrow keys makes a run whose settings say f16, whose
# tables are in route_losses_f16 with a row a token and none in the
# float32 tables.
. "${srcdir:-.}/tests/ui/lib.sh"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi

ln -s "$srcdir/tests/fixture.gguf" fixture.gguf || exit 99
ln -s "$srcdir/examples" examples || exit 99
DUO_MODEL=fixture.gguf
export DUO_MODEL
ui_sed='s/created [0-9T:Z-]+; [0-9.]+ s/created DATE; N s/; s/[0-9]+\.[0-9] s\)/N s)/; s/ [0-9]+:[0-9]{2} / HH:MM /g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}/DATE/g'

ui_test newrun-tables 100x30 <<'KEYS'
n
type examples/letter.txt
Down
Down
Down
Down
Down
Down
Right
dump
Enter
wait
KEYS
check "the run's settings say f16" sh -c '[ "$(sqlite3 runs.db \
    "SELECT json_extract(settings, \"\$.losses\") FROM runs")" = f16 ]'
check "its tables are F16, a row a token, none in float32" sh -c \
    '[ "$(sqlite3 runs.db "SELECT (SELECT count(*) FROM route_losses_f16) =
        n_tokens AND (SELECT count(*) FROM route_kl_f16) = n_tokens AND
        (SELECT count(*) FROM route_losses) = 0 FROM runs")" = 1 ]'
ui_done
