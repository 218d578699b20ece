#!/bin/sh
# options.sh - the browser's options without the "tui" command: duo -d DB,
# duo --db DB and duo --no-color open the browser as duo tui does (duo
# alone is the browser), duo tui keeps taking them, and an unknown option
# is refused with one line.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
mv runs.db other.db || exit 99
# The default database is empty: only -d finds the runs.
DUO_DB=missing.db
printf 'dump\n' >"$tmp/keys"

# browse OUT ARG...: duo ARG... on an 80x24 virtual terminal, one dump.
browse() {
	out=$1
	shift
	DUO_TUI_SCRIPT="$tmp/keys" DUO_TUI_DUMP="$tmp/$out" \
	    DUO_TUI_SIZE=80x24 "$DUO" "$@" 2>"$tmp/$out.err"
}

for args in "-d other.db" "--db other.db" "--db=other.db" \
    "tui -d other.db"; do
	# shellcheck disable=SC2086 # the words are the arguments
	check "duo $args opens the browser" browse list $args
	check "duo $args lists the runs of other.db" \
	    grep -q 'Runs: 4, by id' "$tmp/list"
done

# --no-color: no cell coloured in the map of looks.
DUO_TUI_DUMP_ATTRS=1
export DUO_TUI_DUMP_ATTRS
check "duo --no-color opens the browser" browse mono --no-color -d other.db
looks() {
	awk '/^looks:$/ { on = 1; next } on { print }' "$tmp/$1"
}
looks mono >"$tmp/mono.looks"
check "duo --no-color colours no cell" sh -c "! grep -q c '$tmp/mono.looks'"
check "the looks were dumped" grep -q '[rbud]' "$tmp/mono.looks"
check "without it, duo -d opens the browser" browse colour -d other.db
looks colour >"$tmp/colour.looks"
check "without it, cells are coloured" grep -q c "$tmp/colour.looks"
unset DUO_TUI_DUMP_ATTRS

"$DUO" --frobnicate >"$tmp/out" 2>"$tmp/err"
status=$?
check "an unknown option exits 2, not $status" test "$status" -eq 2
check "an unknown option is named, on one line: $(cat "$tmp/err")" \
    test "$(cat "$tmp/err")" = "duo: unknown option '--frobnicate' (see 'duo tui --help')"
ui_done
