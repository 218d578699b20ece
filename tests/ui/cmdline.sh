#!/bin/sh
# cmdline.sh - the ':' line: Tab completes a command's name (one that
# fits: whole, with a space; several: as far as they agree, listed on
# the status line; none: an error) and a method's or measure's name after
# :method, :hide and :measure; Up and Down recall the lines run before,
# the line being typed coming back past the newest.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
ui_test cmdline 100x30 <<'KEYS'
Enter
type :
type bud
Tab
dump
type 2
Enter
type :
type me
Tab
dump
type th
Tab
dump
Space
type r
Tab
dump
type o
Tab
dump
Enter
type :
type zz
Tab
dump
Esc
type :
type open l
Tab
dump
Esc
:method big
type :
type half-typed
Up
dump
Up
dump
Up
Up
dump
Down
Down
Down
dump
Esc
type :
type measure l
Tab
dump
KEYS
ui_done
