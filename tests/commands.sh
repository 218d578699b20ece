#!/bin/sh
# commands.sh - the rows of duo's command table (each cmd_NAME.c's
# struct command, shown by "duo --help" and "duo NAME --help") against
# duo(1): the same commands as the SYNOPSIS, each described under
# COMMANDS, and every usage naming the options and operands that its
# SYNOPSIS lines name.  A usage that ends its options with [OPTION]...
# may leave the rarer ones to the man page, but names none it lacks.
#
# Environment: DUO (the program), srcdir.  Exit 0 pass, 1 fail, 99 error.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
man="$srcdir/man/duo.1"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-commands.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
[ -r "$man" ] || { echo "ERROR: no $man"; exit 99; }

# The SYNOPSIS as lines "COMMAND<tab>options<tab>operands", one per
# synopsis entry that names a command (".Nm" then ".Cm NAME [SUB]"):
# options as -x or --long, space-separated; operands lower case, a|b for
# alternatives, "..." after a repeatable one.
synopsis() {
	awk '
	function flush() {
		if (command != "")
			printf "%s\t%s\t%s\n", command, options, operands
		command = ""; options = ""; operands = ""; first = 0
	}
	/^\.Sh SYNOPSIS/ { on = 1; next }
	/^\.Sh / { if (on) flush(); on = 0; next }
	!on { next }
	/^\.Nm/ { flush(); first = 1; next }
	first && /^\.Cm / { command = substr($0, 5); first = 0; next }
	{
		first = 0
		if (command == "")
			next
		gsub(/\\-/, "-")
		n = split($0, w, " ")
		after_option = 0; group = ""
		for (i = 1; i <= n; i++) {
			t = w[i]; sub(/^\./, "", t)
			if (t == "Fl") {
				if (i < n && w[i + 1] != "|") {
					options = options " -" w[i + 1]
					i++; after_option = 1
				} else if (!after_option)
					group = group "-"
			} else if (t == "Ar") {
				while (i < n && w[i + 1] !~ /^(Fl|Ar|Cm|Ns|Op|\|)$/) {
					i++
					if (after_option)
						continue
					if (w[i] == "...")
						group = group "..."
					else {
						if (group != "" && group !~ /\|$/) {
							operands = operands " " group
							group = ""
						}
						group = group w[i]
					}
				}
			} else if (t == "|" && !after_option && group != "")
				group = group "|"
		}
		if (group != "")
			operands = operands " " group
	}
	END { if (on) flush() }
	' "$man"
}

# The same of a usage line "USAGE" (the text after "duo NAME"): an option
# not closed by ] or ) takes the next word as its value.
usage_words() {
	printf '%s\n' "$1" | awk '{
		options = ""; operands = ""; value = 0
		for (i = 1; i <= NF; i++) {
			raw = $i; word = raw; gsub(/[][()]/, "", word)
			if (raw == "|")
				continue
			if (word ~ /^--?[a-zA-Z]/) {
				options = options " " word
				value = raw !~ /[])]$/ && i < NF &&
				    $(i + 1) !~ /^[-[(|]/
				continue
			}
			if (value) {
				value = 0
				continue
			}
			operands = operands " " tolower(word)
		}
		printf "%s\t%s\n", options, operands
	}'
}

# Sorted, one a line.
words() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed '/^$/d' | sort -u
}

synopsis >"$tmp/synopsis"
if [ ! -s "$tmp/synopsis" ]; then
	echo "ERROR: no commands in the SYNOPSIS of $man"
	exit 99
fi
"$DUO" --help >"$tmp/help" 2>&1 || { echo "ERROR: duo --help failed"; exit 99; }
# the rows, as duo --help lists them
sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p' "$tmp/help" >"$tmp/rows"
[ -s "$tmp/rows" ] || { echo "ERROR: no commands in duo --help"; exit 99; }

# 1. The same commands in both.
ok
cut -f1 "$tmp/synopsis" | cut -d' ' -f1 | sort -u >"$tmp/man-names"
sort -u "$tmp/rows" >"$tmp/row-names"
if ! cmp -s "$tmp/man-names" "$tmp/row-names"; then
	fail "duo --help and the SYNOPSIS of duo(1) list different commands:" \
	    "$(diff "$tmp/row-names" "$tmp/man-names" | sed -n 's/^[<>]/&/p' |
	    tr '\n' ' ') (< duo --help, > duo(1))"
fi

# 2. Each command of the SYNOPSIS against its row and its COMMANDS item.
cut -f1 "$tmp/synopsis" | sort -u >"$tmp/commands"
while read -r command; do
	name=${command%% *}
	sub=
	[ "$name" = "$command" ] || sub=${command#* }
	ok
	if ! grep -q "^\\.It Cm $command\\( \\|\$\\)" "$man"; then
		fail "duo(1) describes no '$command' under COMMANDS"
	fi
	grep -qx "$name" "$tmp/rows" || continue
	ok
	line=$("$DUO" "$name" --help 2>&1 | head -n 1)
	usage=${line#"usage: duo $name "}
	if [ "$usage" = "$line" ]; then
		fail "duo $name --help does not begin 'usage: duo $name': $line"
		continue
	fi
	if [ -n "$sub" ]; then
		case $usage in
		"$sub "*) usage=${usage#"$sub "} ;;
		*) fail "the usage of duo $name does not begin with" \
		       "$sub: $usage"
		   continue ;;
		esac
	fi
	man_options=$(awk -F '\t' -v c="$command" '$1 == c { print $2 }' \
	    "$tmp/synopsis")
	man_operands=$(awk -F '\t' -v c="$command" '$1 == c { print $3 }' \
	    "$tmp/synopsis" | sort -u | head -n 1)
	parsed=$(usage_words "$usage")
	row_options=$(printf '%s\n' "$parsed" | cut -f1)
	row_operands=$(printf '%s\n' "$parsed" | cut -f2)
	words "$man_options" >"$tmp/man-options"
	words "$row_options" >"$tmp/row-options"
	extra=$(comm -13 "$tmp/man-options" "$tmp/row-options" | tr '\n' ' ')
	missing=$(comm -23 "$tmp/man-options" "$tmp/row-options" | tr '\n' ' ')
	ok
	if [ -n "$extra" ]; then
		fail "the usage of duo $command names options its SYNOPSIS" \
		    "lacks: $extra"
	fi
	open=no
	case " $row_operands " in *" option... "*) open=yes ;; esac
	ok
	if [ "$open" = no ] && [ -n "$missing" ]; then
		fail "the usage of duo $command lacks options of its" \
		    "SYNOPSIS: $missing(usage: $usage)"
	fi
	ok
	a=$(printf '%s\n' $man_operands | sed '/^option\.\.\.$/d' | tr '\n' ' ')
	b=$(printf '%s\n' $row_operands | sed '/^option\.\.\.$/d' | tr '\n' ' ')
	if [ "$a" != "$b" ]; then
		fail "duo $command takes '$b' in its usage, '$a' in duo(1)"
	fi
done <"$tmp/commands"

echo "commands: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
