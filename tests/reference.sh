#!/bin/sh
# reference.sh - `duo score` against the independent NumPy model of
# tests/reference/duo_ref.py, on the fixture model, for routes all-big,
# all-small, mixed, with skips, all-skip, and one context-route run.  The
# text is cut from tests/texts/fixture-corpus.txt and is several windows
# long (n_ctx is 64), so windows and their restarts are exercised.
#
# Environment: DUO (the duo binary), PYTHON (a Python 3 with NumPy; the
# test is skipped when it is empty or lacks NumPy), srcdir (automake's).
# Exit status: 0 pass, 1 a loss differs by more than the tolerance of
# duo_ref.py (1e-4 nats; see there why), 77 skipped, 99 setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${PYTHON:=}"
model="$srcdir/tests/fixture.gguf"
reference="$srcdir/tests/reference/duo_ref.py"
corpus="$srcdir/tests/texts/fixture-corpus.txt"

if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import numpy' >/dev/null 2>&1; then
	echo "SKIP no Python with NumPy (set PYTHON)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-reference.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
# About 450 tokens: 8 windows of the fixture's 63 text tokens.
head -c 800 "$corpus" >"$tmp/text.txt" || exit 99

# The reference's matrices are tiny: BLAS threads would only cost time.
OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1
export OPENBLAS_NUM_THREADS OMP_NUM_THREADS

failures=0
# compare ROUTE [CONTEXT_ROUTE]
compare() {
	if [ $# -eq 2 ]; then
		"$DUO" score -q -m "$model" --route "$1" --context-route "$2" \
		    "$tmp/text.txt" >"$tmp/score.tsv" || exit 99
		"$PYTHON" "$reference" "$model" "$tmp/score.tsv" --route "$1" \
		    --context-route "$2" --min-windows 5
	else
		"$DUO" score -q -m "$model" --route "$1" "$tmp/text.txt" \
		    >"$tmp/score.tsv" || exit 99
		"$PYTHON" "$reference" "$model" "$tmp/score.tsv" --route "$1" \
		    --min-windows 5
	fi
	status=$?
	[ "$status" -eq 99 ] && exit 99
	[ "$status" -ne 0 ] && failures=$((failures + 1))
}

compare BBBB
compare SSSS
compare BSSB
compare B.S.
compare ....
compare SB.B BBSS

if [ "$failures" -ne 0 ]; then
	echo "$failures of 6 reference comparisons failed"
	exit 1
fi
exit 0
