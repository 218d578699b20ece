#!/bin/sh
# newrun_cancel.sh - Esc stops an analysis in the engine and nothing is
# stored (the database made for it holds no run); a second analysis
# asked for while one runs is refused; and quitting while one runs ends
# at once, storing nothing.  DUO_TEST_JOB_PAUSE slows the fixture
# model's analysis so that it is still running when the keys come.
. "${srcdir:-.}/tests/ui/lib.sh"

ln -s "$srcdir/tests/fixture.gguf" fixture.gguf || exit 99
ln -s "$srcdir/examples" examples || exit 99
DUO_MODEL=fixture.gguf
DUO_TEST_JOB_PAUSE=0.3
export DUO_MODEL DUO_TEST_JOB_PAUSE
# The share done, the rate and the time taken depend on the machine.
ui_sed='s/^  [^ ]+ +[0-9]+%  .*/  BAR N%/; s/ +analysing [0-9]+%/  analysing N%/; s/[0-9]+%/N%/g; s/after [0-9.]+ s/after N s/'

ui_test newrun-cancel 80x24 <<'KEYS'
n
type examples/letter.txt
Enter
wait progress
C-r
dump
Esc
wait
dump
Esc
dump
KEYS

# Quitting in the middle: the engine is stopped, nothing is written.
printf 'n\ntype examples/letter.txt\nEnter\nwait progress\nQ\n' >quit.keys
start=$(date +%s)
DUO_TUI_SCRIPT=quit.keys DUO_TUI_DUMP=quit.out "$DUO" tui 2>quit.err
status=$?
took=$(($(date +%s) - start))
check "duo exited $status on Q: $(cat quit.err)" test "$status" -eq 0
# The whole analysis would take about 20 pauses of 0.3 s.
check "quitting waited ${took} s for the analysis" test "$took" -le 3
ui_test newrun-after 80x24 <<'KEYS'
dump
KEYS
ui_done
