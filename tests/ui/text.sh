#!/bin/sh
# text.sh - the text view and its token detail pane: the cursor by token,
# word, line, page and click, the search with n and N, the jumps to tokens
# above the threshold, the measures, the method chosen in the detail
# pane, the ':' commands and their errors; and a run whose pieces are
# hard to show (a NUL, a tab, bytes that are not UTF-8, a wide emoji, a
# control character), with the detail pane below the text; and a text of
# 300 tokens that pages up and down; and the detail pane at 80x24
# scrolled to the chosen method of many.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test text 100x30 <<'KEYS'
Enter
dump
l
l
w
w
j
dump
/gull
dump
n
dump
n
N
]
dump
G
$
0
dump
c
dump
Tab
j
j
dump
Tab
:measure regret
:method router:probe
]
[
dump
:threshold 0.01
]
dump
:budget 9
:method nothing
dump
:frobnicate
dump
click 4 10
dump
KEYS
# :budget past the layers and :threshold say what they did.
ui_test text-commands 100x30 <<'KEYS'
Enter
:budget 20
dump
:threshold 2.5
dump
KEYS
ui_test text-odd 80x24 <<'KEYS'
G
Enter
dump
l
l
l
l
l
l
l
dump
/bad
dump
KEYS
rm -f runs.db
make_long_db
ui_test text-long 80x24 <<'KEYS'
Enter
PgDn
dump
PgDn
PgDn
dump
G
dump
PgUp
k
dump
KEYS
# At 80x24 the detail pane's methods scroll to keep the chosen one in
# sight (a run of seven routers), the header counting those out of sight.
rm -f runs.db
"$TESTS_BUILDDIR/ui/make_long_run" "$srcdir/tests/texts/harbour.txt" \
    runs.db 300 12 "many routers" 7 >/dev/null || exit 99
ui_test text-detail 80x24 <<'KEYS'
Enter
Tab
j
j
j
j
j
j
j
j
j
j
dump
k
k
k
k
k
k
k
k
dump
KEYS
ui_done
