#!/bin/sh
# run.sh - fuzz one harness for FUZZ_SECONDS ("make fuzz" runs it for each;
# see duo(1), FUZZING).  The working corpus grows in fuzz-corpus/NAME of
# the build directory, seeded from tests/fuzz/corpus/NAME and
# regressions/NAME; a finding is written to fuzz-findings/ and stops the
# run with exit 1.  The last line reports executions, edges covered and
# time, from libFuzzer's own final statistics.
#
#   run.sh SRCDIR HARNESS        (HARNESS is tests/fuzz/fuzz_NAME)
set -u
srcdir=$1 harness=$2
: "${FUZZ_SECONDS:=60}"
name=${harness##*/fuzz_}
work="fuzz-corpus/$name"
mkdir -p "$work" fuzz-findings || exit 1
dict=
[ -f "$srcdir/tests/fuzz/$name.dict" ] && dict="-dict=$srcdir/tests/fuzz/$name.dict"
seeds="$srcdir/tests/fuzz/corpus/$name"
[ -d "$srcdir/tests/fuzz/regressions/$name" ] &&
	seeds="$seeds $srcdir/tests/fuzz/regressions/$name"
log="fuzz-$name.log"
start=$(date +%s)
# shellcheck disable=SC2086
"$harness" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -rss_limit_mb=4096 -timeout=20 -artifact_prefix="fuzz-findings/$name-" \
    $dict "$work" $seeds >"$log" 2>&1
status=$?
end=$(date +%s)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
edges=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
features=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
if [ "$status" -ne 0 ]; then
	echo "fuzz $name: FINDING after $((end - start)) s; see $log and fuzz-findings/"
	grep -E 'fuzz check failed|ERROR: |runtime error|SUMMARY' "$log" | head -n 5
	exit 1
fi
echo "fuzz $name: ${execs:-?} executions, ${edges:-?} edges, ${features:-?} features, $((end - start)) s, no finding"
