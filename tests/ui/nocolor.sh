#!/bin/sh
# nocolor.sh - with NO_COLOR (or --no-color) no cell has a colour, and
# meaning is kept by glyphs and attributes (bold, reverse, underline,
# dim); without either, colours are used.  Each dump here is followed by
# a map of the cells' looks: c colour, r reverse, R reverse and bold,
# b bold, B bold and underline, u underline, D dim and underline, d dim,
# i italic, . plain.  The eight swatches of the text view's legend take
# eight looks, and a search match one more: three of the eight levels are
# underlined, so without colour a match is in italics too.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
DUO_TUI_DUMP_ATTRS=1
export DUO_TUI_DUMP_ATTRS
printf 'Enter\ndump\n3\ndump\n4\ndump\n' >"$tmp/keys"

NO_COLOR=1
export NO_COLOR
ui_test nocolor 100x30 <"$tmp/keys"
unset NO_COLOR
ui_test nocolor 100x30 --no-color <"$tmp/keys"

DUO_TUI_SCRIPT="$tmp/keys" DUO_TUI_DUMP="$tmp/colour.out" \
    DUO_TUI_SIZE=100x30 "$DUO" tui >/dev/null 2>&1 || exit 99
# The looks maps: from "looks:" to the next dump.
looks() {
	awk '/^--- dump/ { on = 0 } on { print } /^looks:$/ { on = 1 }' "$1"
}
looks "$tmp/nocolor.out" >"$tmp/mono.looks"
looks "$tmp/colour.out" >"$tmp/colour.looks"
check "NO_COLOR leaves no cell coloured" sh -c "! grep -q c '$tmp/mono.looks'"
check "the monochrome screens still use attributes" \
    grep -q '[rbud]' "$tmp/mono.looks"
check "without NO_COLOR, colours are used" grep -q c "$tmp/colour.looks"
# The legend line of the first dump (the text view at 100x30): its
# numbers plain, its swatches the eight looks of the heat levels.
swatches=$(awk '/^looks:$/ { on = 1; next } on && ++n == 29 {
	print substr($0, 1, 40); exit }' "$tmp/nocolor.out")
distinct=$(printf '%s\n' "$swatches" | fold -w 1 | sort -u | wc -l)
check "NO_COLOR gives the 8 heat levels 8 looks ($swatches)" \
    test "$distinct" -eq 8
# A search for the one token " gulls": its six cells, and no other, in
# italics under NO_COLOR; none with colours, where its underline is
# enough.
printf 'Enter\n/gull\ndump\n' >"$tmp/search.keys"
NO_COLOR=1 DUO_TUI_SCRIPT="$tmp/search.keys" DUO_TUI_DUMP="$tmp/search.out" \
    DUO_TUI_SIZE=100x30 "$DUO" tui >/dev/null 2>&1 || exit 99
DUO_TUI_SCRIPT="$tmp/search.keys" DUO_TUI_DUMP="$tmp/search-colour.out" \
    DUO_TUI_SIZE=100x30 "$DUO" tui >/dev/null 2>&1 || exit 99
italics() {
	looks "$1" | tr -cd i | wc -c
}
check "the search found its match" grep -q 'match 1 of 1 for /gull/' \
    "$tmp/search.out"
check "NO_COLOR: the match's 6 cells in italics, not $(italics \
    "$tmp/search.out")" test "$(italics "$tmp/search.out")" -eq 6
check "colours: no cell in italics, not $(italics \
    "$tmp/search-colour.out")" test "$(italics "$tmp/search-colour.out")" \
    -eq 0
ui_done
