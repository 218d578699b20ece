#!/bin/sh
# man_keys.sh - duo(1) lists the same keys and commands, with the same
# help, as the table the browser dispatches keys from and draws its help
# screen from ("duo tui --list-keys"), so that neither drifts.
#
# Environment: DUO, srcdir.  Exit 0 pass, 1 fail, 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

if "$DUO" tui --help 2>&1 | grep -q 'not a duo command'; then
	echo "SKIP: this duo has no tui command"
	exit 77
fi
"$DUO" tui --list-keys >"$tmp/table.tsv" || exit 99
cut -f 1,2,4 "$tmp/table.tsv" >"$tmp/table"

# The key lists of the INTERFACE section, as the same three columns.
awk '
BEGIN {
	title["Keys in the runs view"] = "Runs view"
	title["Keys in the text view"] = "Text view"
	title["Keys in the budget view"] = "Budget view"
	title["Keys in the route map"] = "Route map"
	title["Keys in the compare view"] = "Compare view"
	title["Keys in the what-if view"] = "What-if view"
	title["Keys in the tokens view"] = "Tokens view"
	title["Keys in the findings view"] = "Findings view"
	title["Keys in every view of tokens"] = "Views of tokens"
	title["Keys in the new run view"] = "New run"
	title["Keys in the help view"] = "Help"
	title["Keys in every view"] = "Everywhere"
	title["Commands"] = "Commands"
}
/^\.Sh / { inside = ($2 == "INTERFACE"); section = ""; next }
!inside { next }
/^\.Ss / { sub(/^\.Ss /, ""); section = ($0 in title) ? title[$0] : ""; next }
section != "" && /^\.It / {
	n = split(substr($0, 5), word, " ")
	keys = ""
	for (i = 1; i <= n; i++) {
		if (word[i] == "Ic" || word[i] == "Ar" || word[i] == ",")
			continue
		keys = keys (keys == "" ? "" : " ") word[i]
	}
	gsub(/\\&/, "", keys)
	gsub(/\\-/, "-", keys)
	gsub(/\\e/, "\\", keys)
	if ((getline help) <= 0)
		help = ""
	print section "\t" keys "\t" help
}
' "$srcdir/man/duo.1" >"$tmp/man"

if [ ! -s "$tmp/table" ] || [ "$(wc -l <"$tmp/table")" -lt 50 ]; then
	echo "FAIL: duo tui --list-keys printed $(wc -l <"$tmp/table") rows"
	exit 1
fi
if ! cmp -s "$tmp/table" "$tmp/man"; then
	echo "FAIL: duo(1) and the key table differ (- table, + man page):"
	diff -u "$tmp/table" "$tmp/man" | sed -n '3,60p'
	exit 1
fi
echo "man_keys: $(wc -l <"$tmp/table") keys and commands agree"
