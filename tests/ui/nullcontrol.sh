#!/bin/sh
# nullcontrol.sh - the New run form's null model turned on (fixture
# model): the run and its null control are stored, the runs view selects
# the run and its preview shows the oracle's change from all-big at each
# budget on both models; the control, selected, shows the same rows.
. "${srcdir:-.}/tests/ui/lib.sh"

ln -s "$srcdir/tests/fixture.gguf" fixture.gguf || exit 99
ln -s "$srcdir/examples" examples || exit 99
DUO_MODEL=fixture.gguf
export DUO_MODEL
# Dates and times of the runs made here change from run to run.
ui_sed='s/created [0-9T:Z-]+; [0-9.]+ s/created DATE; N s/; s/[0-9]+\.[0-9] s\)/N s)/; s/ [0-9]+:[0-9]{2} / HH:MM /g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}/DATE/g'

ui_test nullcontrol 100x30 <<'KEYS'
n
type examples/letter.txt
Down
Down
Down
Down
Down
dump
Right
dump
Enter
wait
dump
j
dump
KEYS
check "the control is stored, linked to the run, with its seed" \
    sh -c '[ "$(sqlite3 runs.db "SELECT id, control_of,
        json_extract(settings, \"\$.null_seed\") FROM runs
        WHERE control_of IS NOT NULL")" = "2|1|1" ]'
# The runs list's oracle_free@2, beside oracle@2, is the stored mean.
free=$(sqlite3 runs.db "SELECT printf('%.1f', exp(avg(loss))) FROM results
    WHERE run_id = 1 AND method = 'oracle_free' AND budget = 2")
check "the list shows run 1's oracle_free@2 as $free" sh -c \
    "grep -q '^    1 (letter.txt) .* 222.4 *$free\$' nullcontrol.out"
ui_done
