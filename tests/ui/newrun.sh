#!/bin/sh
# newrun.sh - the New run view on the fixture model: a file path typed
# and completed with Tab (a list when several names fit), a space and a
# label chosen, the analysis run in the background, and the run stored
# and listed with the cursor on it, Enter opening it; then the errors,
# each one line: a missing file, a folder, an empty text; and a text
# typed into the area of several lines, analysed; and a model with a
# learned router, whose rows the run stores.
. "${srcdir:-.}/tests/ui/lib.sh"

# Short paths on screen: the model and the examples through links here.
ln -s "$srcdir/tests/fixture.gguf" fixture.gguf || exit 99
ln -s "$srcdir/examples" examples || exit 99
DUO_MODEL=fixture.gguf
export DUO_MODEL
# Dates and times of the runs made here change from run to run.
ui_sed='s/created [0-9T:Z-]+; [0-9.]+ s/created DATE; N s/; s/[0-9]+\.[0-9] s\)/N s)/'

ui_test newrun 80x24 <<'KEYS'
n
dump
type examples/
Tab
dump
type le
Tab
Down
Right
Down
Down
type the letter
Enter
wait
dump
Enter
dump
KEYS

: >empty.txt
mkdir folder || exit 99
ui_test newrun-errors 80x24 <<'KEYS'
n
type examples/nothing.txt
Enter
dump
C-u
type folder
Enter
dump
C-u
type empty.txt
Enter
wait
dump
Up
Right
Down
type A few plain words, typed in
Enter
type on two lines.
Enter
dump
C-r
wait
dump
KEYS

# A model with a learned router: the form lists it, on, and the run
# stores its rows at every budget.
"$DUO" router train -m fixture.gguf --budget 2 --name probe --steps 2 \
    --batch 1 --data "$srcdir/tests/texts/fixture-corpus.txt" \
    -o routed.gguf >/dev/null || exit 99
DUO_MODEL=routed.gguf
DUO_DB=routed.db
ui_test newrun-routers 80x24 <<'KEYS'
n
type examples/letter.txt
Enter
wait
dump
KEYS
L=$("$DUO" info routed.gguf | sed -n 's/^layers *//p')
n=$(sqlite3 routed.db "SELECT count(DISTINCT budget) FROM results
    WHERE method = 'router:probe'" 2>&1)
if [ "$n" != $((L + 1)) ]; then
	echo "FAIL the run from the form has router:probe at $n budgets, not $((L + 1))"
	ui_failures=$((ui_failures + 1))
fi

# A router of another space is shown as [-], Space on it says why, and
# the run in that space goes ahead without it.
DUO_DB=space.db
ui_test newrun-router-space 80x24 <<'KEYS'
n
type examples/letter.txt
Down
Right
Down
Down
Down
Space
dump
C-r
wait
dump
KEYS
got=$(sqlite3 space.db "SELECT space || ' ' || (SELECT count(*) FROM results
    WHERE method LIKE 'router:%') FROM runs" 2>&1)
if [ "$got" != "B. 0" ]; then
	echo "FAIL the run in B. from a model whose router chooses in BS: '$got', not 'B. 0'"
	ui_failures=$((ui_failures + 1))
fi
ui_done
