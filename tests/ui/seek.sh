#!/bin/sh
# seek.sh - search and the other jumps in every view of tokens: a search
# counted by matches (/the harbour/ spans two tokens and is one match),
# its next match in the compare view and in the route map, n past the
# last match wrapping to the first with a note, N wrapping back;
# :goto N and :N in every view of tokens, :goto from a view without
# tokens (the text view comes up) and out of range; } and { by rank of
# the measure; the tokens view's selection following n; and the number
# of matches checked against the run's text with grep (skipped without
# sqlite3).
. "${srcdir:-.}/tests/ui/lib.sh"
make_long_db
ui_test seek 100x30 <<'KEYS'
Enter
/the harbour
dump
5
n
dump
4
n
dump
G
n
dump
N
dump
:goto 150
dump
5
:42
dump
3
:goto 7
dump
:goto 301
dump
:measure loss
}
}
{
dump
7
n
dump
KEYS
# The matches in the run's text, as grep -o counts them (any case).
if command -v sqlite3 >/dev/null 2>&1; then
	matches=$(sqlite3 runs.db "SELECT text FROM runs WHERE id = 1" |
	    grep -io 'the harbour' | wc -l)
	check "the search counts $matches matches" \
	    grep -q "match 1 of $matches for /the harbour/" seek.out
fi
ui_done
