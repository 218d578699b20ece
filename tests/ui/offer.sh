#!/bin/sh
# offer.sh - with no run yet, e analyses the shipped example text through
# the New run view, and the run is listed with the cursor on it and opens
# with Enter; the example is found in the source tree duo was built from
# when DUO_EXAMPLES is not set; a missing example or model is one line.
. "${srcdir:-.}/tests/ui/lib.sh"

ln -s "$srcdir/tests/fixture.gguf" fixture.gguf || exit 99
ln -s "$srcdir/examples" examples || exit 99
DUO_MODEL=fixture.gguf
DUO_EXAMPLES=examples
export DUO_MODEL DUO_EXAMPLES
ui_sed='s/created [0-9T:Z-]+; [0-9.]+ s/created DATE; N s/; s/[0-9]+\.[0-9] s\)/N s)/'

ui_test offer 80x24 <<'KEYS'
dump
e
wait
dump
Enter
dump
KEYS

# Where duo looks by itself (installed, else this source tree).
rm -f runs.db*
unset DUO_EXAMPLES
printf 'e\nwait\ndump\n' >found.keys
DUO_TUI_SCRIPT=found.keys DUO_TUI_DUMP=found.out "$DUO" tui 2>found.err
check "duo failed: $(cat found.err)" test $? -eq 0
# (the source path may be long enough to push the token count off the
# line, as in "make distcheck"; the status line has it)
check "no run of the example found by itself: $(cat found.out)" \
    grep -q 'source .*examples/letter\.txt' found.out
check "the example's run is not the whole letter: $(cat found.out)" \
    grep -q 'run 1 stored (581 tokens' found.out

rm -f runs.db*
DUO_EXAMPLES=nowhere ui_test offer-errors 80x24 <<'KEYS'
e
dump
KEYS
DUO_EXAMPLES=examples DUO_MODEL=missing.gguf ui_test offer-nomodel 80x24 <<'KEYS'
e
dump
KEYS
check "a database was made without a run to store" test ! -e runs.db
ui_done
