#!/bin/sh
# llama.sh - the dense model of a route (duo convert --route) run by
# llama.cpp itself: its per-token losses against duo score's, token by
# token, through node-llama-cpp's prebuilt CPU binaries
# (tests/llama_logprobs.mjs; nothing is built or downloaded).  The
# fixture is converted at a mixed route with a skip (F32 and F16) and at
# all-big; llama.cpp must also tokenize the text to duo's ids.
#
# Tolerance: F32 files 1e-4 nats.  llama.cpp computes in F32 like duo,
# and the script keeps its key/value cache in F32 too; on the fixture the
# losses agree to about 2e-6 (duo prints six decimals), while llama.cpp's
# default F16 cache alone moves them by about 1e-3.  F16 files 1e-2 nats:
# there llama.cpp rounds each product's input to F16 as well.
#
# A llama-perplexity binary is not used: it prints a perplexity per
# chunk of the text, scoring only each chunk's second half, not a loss
# per token.
#
# Environment: DUO, srcdir, LLAMA_NODE_DIR (a folder whose node_modules
# holds node-llama-cpp 3.21.1; default: llama/ beside the tests' build
# folder, where "make check-llama" installs it).  Exit 0 pass, 1 fail,
# 77 when there is no node or no node-llama-cpp, 99 setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"
: "${LLAMA_NODE_DIR:=$TESTS_BUILDDIR/../llama}"
if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: no node (llama.cpp is run through node-llama-cpp)"
	exit 77
fi
if [ ! -f "$LLAMA_NODE_DIR/node_modules/node-llama-cpp/package.json" ]; then
	echo "SKIP: no node-llama-cpp in $LLAMA_NODE_DIR (make check-llama" \
	    "installs it)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-llama.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
fixture="$srcdir/tests/fixture.gguf"
# About 170 tokens: three windows of the fixture's 64 positions.
head -c 300 "$srcdir/tests/texts/fixture-corpus.txt" >"$tmp/text.txt" ||
    exit 99
n_ctx=$("$DUO" info "$fixture" | awk '$1 == "context" { print $2 }')
bos=$("$DUO" info "$fixture" | sed -n 's/^vocabulary.*(bos \([0-9]*\),.*/\1/p')
[ -n "$n_ctx" ] && [ -n "$bos" ] || exit 99

# compare ROUTE TYPE TOLERANCE
compare() {
	"$DUO" convert --type "$2" --route "$1" "$fixture" "$tmp/dense.gguf" ||
	    exit 99
	"$DUO" score -q -m "$tmp/dense.gguf" "$tmp/text.txt" \
	    >"$tmp/duo.tsv" || exit 99
	node "$srcdir/tests/llama_logprobs.mjs" "$LLAMA_NODE_DIR" \
	    "$tmp/dense.gguf" "$tmp/duo.tsv" "$n_ctx" "$bos" "$tmp/text.txt" \
	    >"$tmp/llama.tsv" 2>"$tmp/llama.err"
	status=$?
	checks=$((checks + 1))
	if [ "$status" -eq 99 ]; then
		echo "llama.cpp could not run: $(cat "$tmp/llama.err")"
		exit 99
	fi
	[ "$status" -eq 0 ] || fail "route $1 $2: $(cat "$tmp/llama.err")"
	checks=$((checks + 1))
	awk -F '\t' -v route="$1" -v type="$2" -v tol="$3" '
	{ d = $3 - $4; if (d < 0) d = -d; sum += d; n++
	  if (d > worst) { worst = d; at = $1 } }
	END {
		ok = n > 0 && worst <= tol
		f = "%s route %s %s: %d tokens, max |d log p| %.3g at %d, "
		f = f "mean %.3g (tolerance %g)\n"
		word = ok ? "ok  " : "FAIL"
		mean = n > 0 ? sum / n : 0
		printf f, word, route, type, n, worst, at, mean, tol
		exit !ok
	}' "$tmp/llama.tsv" || fail "route $1 $2: llama.cpp's losses differ"
}

compare BS.B f32 1e-4
compare BBBB f32 1e-4
compare S.BB f16 1e-2

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
