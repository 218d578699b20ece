#!/bin/sh
# offer.sh - with no run yet, e analyses the shipped example text through
# the New run view, and the run is listed with the cursor on it and opens
# with Enter; the example is looked for where duo is installed when
# DUO_EXAMPLES is not set; a missing example or model is one line.
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

# Where duo looks by itself: the examples installed with it, in
# $pkgdatadir/examples (make check exports pkgdatadir), never the tree it
# was built from.
: "${pkgdatadir:=/usr/local/share/duo}"
rm -f runs.db*
unset DUO_EXAMPLES
printf 'e\nwait\ndump\n' >found.keys
# (a wide screen: the installed folder's path may be long, as in "make
# distcheck")
DUO_TUI_SCRIPT=found.keys DUO_TUI_DUMP=found.out DUO_TUI_SIZE=1000x24 \
    "$DUO" tui 2>found.err
check "duo failed: $(cat found.err)" test $? -eq 0
if [ -r "$pkgdatadir/examples/letter.txt" ]; then
	check "no run of the installed example: $(cat found.out)" \
	    grep -qF "source $pkgdatadir/examples/letter.txt" found.out
	check "the example's run is not the whole letter: $(cat found.out)" \
	    grep -q 'run 1 stored (581 tokens' found.out
else
	check "duo did not look in the installed examples: $(cat found.out)" \
	    grep -qF "letter.txt is not in $pkgdatadir/examples" found.out
fi

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
