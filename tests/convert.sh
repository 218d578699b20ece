#!/bin/sh
# convert.sh - "duo convert --route": the dense model of a route scores
# as the Duo model under that route, token for token.  The fixture is
# converted at all-B, all-S, mixed, with skips and all-skip, in F32
# (whose TSV must be byte for byte the one of "duo score --route": the
# same weights through the same kernels) and in F16 (byte for byte the
# one of the F16-converted Duo model under the route); the NumPy
# reference of tests/reference/duo_ref.py reads the dense files and
# agrees within its tolerance of 1e-4 nats.  Then a stored run's fixed
# route (RUN:METHOD@K), and one-line errors for bad routes, bad stored
# results, and dense files given to commands that do not read them.
#
# Environment: DUO, srcdir, PYTHON (a Python 3 with NumPy; the reference
# checks are skipped without one).  Exit 0 pass, 1 fail, 99 setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${PYTHON:=}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-convert.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
fixture="$srcdir/tests/fixture.gguf"
reference="$srcdir/tests/reference/duo_ref.py"
# About 450 tokens: several windows of the fixture's 64 positions.
head -c 800 "$srcdir/tests/texts/fixture-corpus.txt" >"$tmp/text.txt" ||
    exit 99
OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1
export OPENBLAS_NUM_THREADS OMP_NUM_THREADS
numpy=0
if [ -n "$PYTHON" ] && "$PYTHON" -c 'import numpy' >/dev/null 2>&1; then
	numpy=1
else
	echo "note: no Python with NumPy; the reference checks are skipped"
fi
"$DUO" convert --type f16 "$fixture" "$tmp/fixture16.gguf" || exit 99

# same ROUTE: the dense files of ROUTE score as the route does
same() {
	expect 0 '' "convert --route $1" -- "$DUO" convert --type f32 \
	    --route "$1" "$fixture" "$tmp/dense.gguf"
	"$DUO" score -q -m "$fixture" --route "$1" "$tmp/text.txt" \
	    >"$tmp/want.tsv" || exit 99
	expect 0 '' "score the dense model of $1" -- "$DUO" score -q \
	    -m "$tmp/dense.gguf" "$tmp/text.txt"
	checks=$((checks + 1))
	cmp -s "$tmp/out" "$tmp/want.tsv" ||
	    fail "route $1: the dense F32 model's losses differ from --route's"
	if [ "$numpy" -eq 1 ]; then
		checks=$((checks + 1))
		"$PYTHON" "$reference" "$tmp/dense.gguf" "$tmp/out" \
		    --min-windows 5 || fail "route $1: the reference disagrees"
	fi
	expect 0 '' "convert --type f16 --route $1" -- "$DUO" convert \
	    --route "$1" "$tmp/fixture16.gguf" "$tmp/dense16.gguf"
	"$DUO" score -q -m "$tmp/fixture16.gguf" --route "$1" \
	    "$tmp/text.txt" >"$tmp/want16.tsv" || exit 99
	expect 0 '' "score the F16 dense model of $1" -- "$DUO" score -q \
	    -m "$tmp/dense16.gguf" "$tmp/text.txt"
	checks=$((checks + 1))
	cmp -s "$tmp/out" "$tmp/want16.tsv" ||
	    fail "route $1: the dense F16 model's losses differ from --route's"
}

same BBBB
same SSSS
same BSSB
same B.S.
same S..B
same ....

# What info says of a dense file.
"$DUO" convert --type f32 --route B.SB "$fixture" "$tmp/dense.gguf" ||
    exit 99
expect 0 '' "info on a dense model" -- "$DUO" info "$tmp/dense.gguf"
for line in 'architecture  deci, a dense duo model' \
    'ffn widths    128 1 8 128' 'route         B.SB (one module per layer)'
do
	checks=$((checks + 1))
	grep -q -- "^$line" "$tmp/out" || fail "info lacks '$line'"
done
checks=$((checks + 1))
grep -q 'ffn_gate_small' "$tmp/out" && fail "a dense model has small modules"

# Learned routers are dropped, with a note.
"$DUO" router train -m "$fixture" --budget 2 --name r2 --steps 2 \
    --data "$tmp/text.txt" --out "$tmp/routed.gguf" >/dev/null 2>&1 || exit 99
expect 0 'routed.gguf: 1 learned router left out: a dense model has one module per layer' \
    "routers are dropped" -- "$DUO" convert --route BBSS "$tmp/routed.gguf" \
    "$tmp/dense-routed.gguf"

# A stored run's fixed route.
db="$tmp/runs.db"
"$DUO" run -m "$fixture" -d "$db" --space BS. --label letters \
    "$tmp/text.txt" >/dev/null 2>&1 || exit 99
fixed=$("$DUO" export -d "$db" last | awk -F, '$5 == "fixed" && $6 == 2 \
    { print $7; exit }')
[ -n "$fixed" ] || { echo "no fixed route at budget 2 in the run"; exit 99; }
expect 0 '' "convert --route last:fixed@2" -- "$DUO" convert --type f32 \
    --route last:fixed@2 -d "$db" "$fixture" "$tmp/stored.gguf"
"$DUO" convert --type f32 --route "$fixed" "$fixture" "$tmp/letters.gguf" ||
    exit 99
checks=$((checks + 1))
cmp -s "$tmp/stored.gguf" "$tmp/letters.gguf" ||
    fail "last:fixed@2 is not the dense model of the run's fixed route $fixed"
DUO_DB="$db" expect 0 '' "DUO_DB and a label" -- "$DUO" convert \
    --type f32 --route letters:fixed@2 "$fixture" "$tmp/stored2.gguf"
checks=$((checks + 1))
cmp -s "$tmp/stored2.gguf" "$tmp/letters.gguf" ||
    fail "letters:fixed@2 is not last:fixed@2"
expect 0 '' "the big method's one route" -- "$DUO" convert \
    --route 1:big@4 -d "$db" "$fixture" "$tmp/big.gguf"

# Bad routes and stored results: one line each.
expect 1 "^duo: --route: route 'BBB' has 3 characters; the model has 4 layers$" \
    "a short route" -- "$DUO" convert --route BBB "$fixture" "$tmp/x.gguf"
expect 1 "^duo: --route: route 'BXBB': character 2 is 'X'; a route uses only B, S and .$" \
    "a bad letter" -- "$DUO" convert --route BXBB "$fixture" "$tmp/x.gguf"
expect 1 "^duo: $db: no run" "no such run" -- "$DUO" convert \
    --route 7:fixed@2 -d "$db" "$fixture" "$tmp/x.gguf"
expect 1 "^duo: $db: run 1 has no method 'fixd'$" "no such method" -- \
    "$DUO" convert --route last:fixd@2 -d "$db" "$fixture" "$tmp/x.gguf"
expect 1 "^duo: $db: run 1: method 'fixed' has no budget 9$" \
    "no such budget" -- "$DUO" convert --route last:fixed@9 -d "$db" \
    "$fixture" "$tmp/x.gguf"
expect 1 "^duo: $db: run 1: method 'oracle' at budget 2 takes more than one route; a dense model needs one route for the whole run$" \
    "a method of many routes" -- "$DUO" convert --route last:oracle@2 \
    -d "$db" "$fixture" "$tmp/x.gguf"
expect 1 "^duo: $db: run 1: method 'random_mean' keeps no route$" \
    "a method without routes" -- "$DUO" convert --route last:random_mean@2 \
    -d "$db" "$fixture" "$tmp/x.gguf"
expect 1 "^duo: run 1 was made with model" "a run of another model" -- \
    "$DUO" convert --route last:fixed@2 -d "$db" "$tmp/fixture16.gguf" \
    "$tmp/x.gguf"
expect 2 "--route 'last:fixed' is not RUN:METHOD@BUDGET" "no budget" -- \
    "$DUO" convert --route last:fixed -d "$db" "$fixture" "$tmp/x.gguf"
expect 2 "budget 'x' is not a number from 0 to 64" "a bad budget" -- \
    "$DUO" convert --route last:fixed@x -d "$db" "$fixture" "$tmp/x.gguf"
expect 2 "--db goes with --route" "--db without --route" -- \
    "$DUO" convert -d "$db" "$fixture" "$tmp/x.gguf"
checks=$((checks + 1))
[ -e "$tmp/x.gguf" ] && fail "a refused conversion left a file"

# A dense model is read by info and score only, and takes no route.
expect 1 "^duo: a dense model (architecture 'deci') has one module per layer and its route B.SB is fixed; score it without --route, --context-route or --random$" \
    "score a dense model with --route" -- "$DUO" score -m "$tmp/dense.gguf" \
    --route BBBB "$tmp/text.txt"
expect 1 "is read only by duo info and duo score$" "run on a dense model" -- \
    "$DUO" run -m "$tmp/dense.gguf" -d "$tmp/other.db" "$tmp/text.txt"
expect 1 "^duo: $tmp/dense.gguf: a dense model" "convert a dense model" -- \
    "$DUO" convert --route BBBB "$tmp/dense.gguf" "$tmp/x.gguf"

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
