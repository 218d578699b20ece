#!/bin/sh
# replay.sh - every fuzz harness over its seed corpus (corpus/NAME/) and
# every input that ever found a fault (regressions/NAME/), once each.  In
# a plain build the harnesses are linked with driver.c; with
# --enable-fuzz they are libFuzzer programs, which run the files given and
# stop.  A crash, a sanitizer report or a broken check fails the test.
#
# Environment: TESTS_BUILDDIR (where the harnesses are), srcdir.
# Exit 0 pass, 1 fail, 99 on a setup failure.
set -u
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"
failures=0
for name in gguf tokenizer db parse; do
	harness="$TESTS_BUILDDIR/fuzz/fuzz_$name"
	if [ ! -x "$harness" ]; then
		echo "ERROR: $harness is not built"
		exit 99
	fi
	files=$(find "$srcdir/tests/fuzz/corpus/$name" \
	    "$srcdir/tests/fuzz/regressions/$name" -type f 2>/dev/null | sort)
	if [ -z "$files" ]; then
		echo "ERROR: no corpus for $name"
		exit 99
	fi
	count=$(echo "$files" | wc -l)
	# Word splitting of $files is wanted: corpus names have no spaces.
	# shellcheck disable=SC2086
	if "$harness" $files >"fuzz-$name.log" 2>&1; then
		echo "ok   $name: $count inputs"
	else
		echo "FAIL $name: a corpus input breaks the harness:"
		grep -E 'fuzz check failed|ERROR: AddressSanitizer|runtime error|Running: ' \
		    "fuzz-$name.log" | tail -n 5
		failures=$((failures + 1))
	fi
	rm -f "fuzz-$name.log"
done
[ "$failures" -eq 0 ] || exit 1
exit 0
