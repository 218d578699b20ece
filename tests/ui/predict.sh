#!/bin/sh
# predict.sh - the top 5 predictions in the token detail pane, computed
# with the model (tests/fixture.gguf) on request (p): under the oracle at
# the budget in the shared context, for another token, another budget
# and another method; in the fixed and greedy contexts; hidden again; a
# run whose model file changed and one whose file is gone, each said in
# one line.  On each screen the model's loss of the token (its rank line)
# must be the loss stored for the chosen method: both are printed to two
# decimals, the stored one from the oracle's batched products, the other
# from one forward pass, which agree to about 1e-5 nats.
. "${srcdir:-.}/tests/ui/lib.sh"
make_db
fixture="$srcdir/tests/fixture.gguf"
cat >text.txt <<'TEXT'
The small boat left the harbour before dawn, and the fisherman watched the
grey water for signs of the weather that his father had taught him to read.
TEXT
# Runs 5, 6, 7: shared, fixed (context route BSSB) and greedy.
"$DUO" run -m "$fixture" -l shared text.txt >/dev/null || exit 99
"$DUO" run -m "$fixture" -l fixed -c fixed -r BSSB text.txt >/dev/null ||
    exit 99
"$DUO" run -m "$fixture" -l greedy -c greedy text.txt >/dev/null || exit 99
# Runs 8 and 9: two other models (the F16 fixture, and that back in F32:
# a run's model is its file's hash), which cannot be found again.
"$DUO" convert -t f16 "$fixture" changed.gguf >/dev/null &&
    "$DUO" convert -t f32 changed.gguf gone.gguf >/dev/null || exit 99
"$DUO" run -m changed.gguf -l changed text.txt >/dev/null || exit 99
"$DUO" run -m gone.gguf -l gone text.txt >/dev/null || exit 99
printf 'x' >>changed.gguf
rm gone.gguf

# :open and 2 rather than the runs view, which shows when runs were made.
ui_test predict 100x30 <<'KEYS'
:open shared
p
dump
# token 10, the model's first choice there: marked
l
l
l
l
l
l
l
l
l
dump
+
m
dump
:open fixed
w
w
dump
:open greedy
w
w
w
dump
p
dump
:open changed
p
dump
:open gone
dump
KEYS

# The rank line's loss against the method table's, screen by screen.
awk '
function check(   i, n_found, rest) {
	if (name == "" || rank == "")
		return
	screens++
	for (i = 1; i <= n_lines; i++)
		if (match(lines[i], name " +[0-9.]+ ")) {
			rest = substr(lines[i], RSTART + length(name))
			sub(/^ +/, "", rest)
			sub(/ .*/, "", rest)
			if (rest != rank) {
				printf "screen %d: %s has loss %s in the " \
				    "table, %s by the model\n", dump, name,
				    rest, rank
				bad++
			}
			return
		}
	printf "screen %d: no row of %s\n", dump, name
	bad++
}
/^--- dump/ { check(); dump++; name = rank = ""; n_lines = 0; next }
{
	lines[++n_lines] = $0
	if (match($0, /top 5 under [^,]*,/))
		name = substr($0, RSTART + 12, RLENGTH - 13)
	if (match($0, /this token [^,]*, rank [0-9]+, loss [0-9.]+/)) {
		rank = substr($0, RSTART, RLENGTH)
		sub(/.* /, "", rank)
	}
}
END {
	check()
	if (screens < 5) {
		printf "only %d screens with predictions\n", screens
		bad++
	}
	exit bad > 0
}' predict.out >predict.check 2>&1
check "the model's loss is the stored loss: $(cat predict.check)" \
    test ! -s predict.check
ui_done
