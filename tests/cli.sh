#!/bin/sh
# cli.sh - the duo command line on good and bad input: exit statuses 0/1/2,
# one-line error messages that name the fault, and agreement between
# tokenize and score.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
fixture="$srcdir/tests/fixture.gguf"
text="$srcdir/tests/texts/cli.txt"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-cli.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"

L=$("$DUO" info "$fixture" | sed -n 's/^layers *//p')
[ -n "$L" ] || { echo "FAIL duo info gives no layer count"; exit 1; }
allB=$(printf '%*s' "$L" '' | tr ' ' B)
allS=$(printf '%*s' "$L" '' | tr ' ' S)

expect 0 '' "--help" -- "$DUO" --help
expect 0 '' "--version" -- "$DUO" --version
expect 2 'not a duo command' "unknown command" -- "$DUO" frobnicate
expect 1 'needs a terminal' "no command and no terminal" -- "$DUO"
expect 0 '' "score --help" -- "$DUO" score --help
expect 0 '' "info on the fixture" -- "$DUO" info "$fixture"
expect 1 'missing.gguf' "info on a missing file" -- "$DUO" info "$tmp/missing.gguf"
expect 1 'cli.txt' "info on a text file" -- "$DUO" info "$text"
: >"$tmp/empty.gguf"
expect 1 'empty.gguf' "info on an empty file" -- "$DUO" info "$tmp/empty.gguf"
expect 1 "$tmp" "info on a directory" -- "$DUO" info "$tmp"
expect 2 'route or --random is required' "score without --route" -- "$DUO" score -m "$fixture" "$text"
expect 2 'exclude each other' "score with --route and --random" -- "$DUO" score -m "$fixture" --route "$allB" --random 0.5 "$text"
expect 2 'out of range' "--random above 1" -- "$DUO" score -m "$fixture" --random 1.5 "$text"
expect 1 "has $((L - 1)) characters; the model has $L layers" "route too short" -- \
	"$DUO" score -m "$fixture" --route "${allB#B}" "$text"
expect 1 "is 'x'" "route with a wrong character" -- \
	"$DUO" score -m "$fixture" --route "x${allB#B}" "$text"
expect 1 "context-route" "context route too long" -- \
	"$DUO" score -m "$fixture" --route "$allB" --context-route "${allB}B" "$text"
: >"$tmp/empty.txt"
expect 1 'no tokens' "score an empty text" -- "$DUO" score -m "$fixture" --route "$allB" "$tmp/empty.txt"
expect 1 'missing.txt' "score a missing text" -- "$DUO" score -m "$fixture" --route "$allB" "$tmp/missing.txt"
expect 2 'too many arguments' "too many arguments" -- "$DUO" score -m "$fixture" --route "$allB" a b

# usage errors: one line that names the option and where help is
usage_error() {
	what=$1 want=$2
	shift 2
	checks=$((checks + 1))
	"$DUO" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	[ "$got" -eq 2 ] && [ "$(cat "$tmp/err")" = "$want" ] ||
		fail "$what: exit $got, stderr: $(cat "$tmp/err")"
}
usage_error "an unknown long option" \
	"duo: unknown option '--bogus' (see 'duo run --help')" run --bogus x
usage_error "an unknown short option" \
	"duo: unknown option '-Z' (see 'duo score --help')" score -Z x
usage_error "a long option without its value" \
	"duo: --format needs a value (see 'duo export --help')" export --format
usage_error "a short option without its value" \
	"duo: -d needs a value (see 'duo findings --help')" findings -d
usage_error "a value for an option that takes none" \
	"duo: --help takes no value (see 'duo merge --help')" merge --help=yes
usage_error "an unknown option given a value" \
	"duo: unknown option '--colour' (see 'duo info --help')" info --colour=red
usage_error "an unknown command" \
	"duo: 'frobnicate' is not a duo command (see 'duo --help')" frobnicate

# A binary file is text to a byte-level tokenizer: it must tokenize and
# score, with one row per token.
head -c 3000 "$fixture" >"$tmp/binary"
expect 0 '' "tokenize a binary file" -- "$DUO" tokenize -m "$fixture" "$tmp/binary"
expect 0 '' "score a binary file" -- "$DUO" score -m "$fixture" --route "$allS" "$tmp/binary"

# tokenize and score agree on the tokens; every loss is a finite number.
checks=$((checks + 1))
"$DUO" tokenize -m "$fixture" "$text" | cut -f 1-3 >"$tmp/tokens" &&
"$DUO" score -q -m "$fixture" --route "$allB" "$text" >"$tmp/score" ||
	fail "tokenize or score failed on $text"
cut -f 1-3 "$tmp/score" | cmp -s - "$tmp/tokens" ||
	fail "score's pos/token_id/piece columns differ from tokenize's"
awk -F '\t' 'NR > 1 && !($4 + 0 >= 0 && $4 + 0 < 100) { bad++ } END { exit bad > 0 }' \
	"$tmp/score" || fail "a loss is not a number in [0, 100)"

# --random 1 is all-B and --random 0 all-S, exactly; a seed repeats itself.
checks=$((checks + 1))
"$DUO" score -q -m "$fixture" --random 1 "$text" | cmp -s - "$tmp/score" ||
	fail "--random 1 differs from the all-B route"
"$DUO" score -q -m "$fixture" --route "$allS" "$text" >"$tmp/small"
"$DUO" score -q -m "$fixture" --random 0 "$text" | cmp -s - "$tmp/small" ||
	fail "--random 0 differs from the all-S route"
"$DUO" score -q -m "$fixture" --random 0.5 --seed 7 "$text" >"$tmp/r1"
"$DUO" score -q -m "$fixture" --random 0.5 --seed 7 "$text" | cmp -s - "$tmp/r1" ||
	fail "--random with one seed gives two answers"
cmp -s "$tmp/r1" "$tmp/score" && fail "--random 0.5 gives the all-B losses"

# Standard input is the same as a file.
checks=$((checks + 1))
"$DUO" score -q -m "$fixture" --route "$allB" <"$text" | cmp -s - "$tmp/score" ||
	fail "score from standard input differs from score of the file"

# A context route equal to the route is the shared mode: the same losses
# up to float rounding of the two code paths (1e-4 nats).
checks=$((checks + 1))
mixed=$(printf '%*s' "$L" '' | tr ' ' B | sed 's/B/S/2')
"$DUO" score -q -m "$fixture" --route "$mixed" "$text" >"$tmp/a" &&
"$DUO" score -q -m "$fixture" --route "$mixed" --context-route "$allB" "$text" >"$tmp/b" ||
	fail "score with a context route failed"
"$DUO" score -q -m "$fixture" --route "$allB" --context-route "$allB" "$text" >"$tmp/c"
cmp -s "$tmp/c" "$tmp/score" || fail "--context-route equal to --route changes the output"
paste "$tmp/a" "$tmp/b" | awk -F '\t' 'NR > 1 && ($1 != $5 || $2 != $6) { bad++ } END { exit bad > 0 }' ||
	fail "context-route output has other tokens"

echo "cli: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
