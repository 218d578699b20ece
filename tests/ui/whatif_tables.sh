#!/bin/sh
# whatif_tables.sh - the what-if view on runs kept with compact loss
# tables ("duo run --losses"): a run with F16 tables answers as usual and
# says that its losses are rounded (and what that means for near ties); a
# run kept with none says that it has no tables and why.
. "${srcdir:-.}/tests/ui/lib.sh"
cat >text.txt <<'TEXT'
A kettle sang in the kitchen while the children argued over the last
slice of cake, and the dog waited under the table for whatever fell.
TEXT
"$DUO" run -m "$srcdir/tests/fixture.gguf" -l half --losses f16 text.txt \
    >/dev/null || exit 99
"$DUO" run -m "$srcdir/tests/fixture.gguf" -l none --losses none text.txt \
    >/dev/null || exit 99

ui_test whatif-f16 80x24 <<'KEYS'
g
6
dump
KEYS

ui_test whatif-none 80x24 <<'KEYS'
G
6
dump
KEYS
ui_done
