#!/bin/sh
# valgrind.sh - duo under valgrind's memcheck, which cannot follow duo
# into the executable it runs itself again as (OMP_WAIT_POLICY): with
# DUO_NO_REEXEC=1 it does not, and info, score and run on the fixture
# model read no uninitialised byte, touch nothing out of bounds and leak
# no block for certain ("possibly lost" blocks are the OpenMP threads'
# own, kept until exit).
#
# Environment: DUO (the program), srcdir.
# Exit 0 pass, 1 fail, 77 without valgrind, 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: no valgrind (Debian package valgrind)"
	exit 77
fi
# ASan's shadow memory and valgrind's exclude each other.
if nm "$DUO" 2>/dev/null | grep -q __asan_init; then
	echo "SKIP: duo is built with AddressSanitizer"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-valgrind.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$srcdir/tests/lib.sh"
fixture="$srcdir/tests/fixture.gguf"
text="$srcdir/examples/letter.txt"
DUO_NO_REEXEC=1
export DUO_NO_REEXEC
unset OMP_WAIT_POLICY

# memcheck exits 3 on any error, 0 otherwise (stderr holds the report).
vg() {
	valgrind -q --error-exitcode=3 --leak-check=full \
	    --errors-for-leak-kinds=definite "$@"
}
check_clean() {
	what=$1
	shift
	checks=$((checks + 1))
	vg "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	if [ "$status" -ne 0 ]; then
		fail "$what: exit $status under valgrind: $(grep -v '^==[0-9]*== *by ' "$tmp/err" | head -n 12)"
	fi
}
check_clean "duo info" "$DUO" info "$fixture"
check_clean "duo score" "$DUO" score -q -m "$fixture" --route BSBS "$text"
check_clean "duo run" "$DUO" run -m "$fixture" -d "$tmp/runs.db" \
    --budgets 1 "$text"
checks=$((checks + 1))
[ "$(sqlite3 "$tmp/runs.db" 'SELECT count(*) FROM runs' 2>/dev/null)" = 1 ] ||
	fail "the run under valgrind was not stored"
# a run and its null control: the control's records outlive the copies
# of the settings they were made from
check_clean "duo run --null-control" "$DUO" run -m "$fixture" \
    -d "$tmp/null.db" --budgets 1 --null-control "$text"

echo "valgrind: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
