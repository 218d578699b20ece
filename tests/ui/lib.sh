# lib.sh - what the screen-dump tests of the browser share, sourced by
# tests/ui/*.sh: a database of synthetic runs (make_test_db), duo run on
# a virtual terminal with a key script, and the comparison of its screen
# dumps with the expected screens kept beside the tests.
#
# Environment: DUO (the program), srcdir, TESTS_BUILDDIR (make_test_db).
# DUO_UI_REFRESH=1 writes the dumps over the expected files instead of
# comparing them.  A test exits 0 pass, 1 fail, 77 skip, 99 on a setup
# failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"

# Paths stay good after the cd below.
absolute() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$(pwd)" "$1" ;;
	esac
}
DUO=$(absolute "$DUO")
srcdir=$(absolute "$srcdir")
TESTS_BUILDDIR=$(absolute "$TESTS_BUILDDIR")
ui_dir="$srcdir/tests/ui"
test_name=$(basename "$0" .sh)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-ui.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
# Paths on screen are relative, so that dumps do not depend on $TMPDIR.
cd "$tmp" || exit 99

# What could change a screen comes from here, not from the caller.
unset NO_COLOR DUO_MODEL XDG_DATA_HOME DUO_TUI_DUMP_ATTRS
LC_ALL=C.UTF-8
DUO_DB=runs.db
DUO_TUI_TERM=xterm-256color
export LC_ALL DUO_DB DUO_TUI_TERM
ui_failures=0

# Until src/duo.c registers "tui", there is nothing to test.
if "$DUO" tui --help 2>&1 | grep -q 'not a duo command'; then
	echo "SKIP: this duo has no tui command"
	exit 77
fi

# The example runs: three of 40 tokens and 6 layers, and one of odd bytes.
make_db() {
	"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" \
	    runs.db odd >/dev/null || exit 99
}

# One run of 300 tokens and 12 layers, longer than any window.
make_long_db() {
	"$TESTS_BUILDDIR/ui/make_long_run" "$srcdir/tests/texts/harbour.txt" \
	    runs.db 300 12 "long harbour" >/dev/null || exit 99
}

# ui_test NAME SIZE [ARG...] < SCRIPT: run "duo tui ARG..." on a SIZE
# (COLSxLINES) screen with the key script on standard input, and compare
# its dumps with tests/ui/NAME.screen.  If ui_sed is set, the dumps go
# through "sed -E $ui_sed" first (for times and dates of runs made by
# the test itself).
ui_test() {
	name=$1 size=$2
	shift 2
	cat >"$tmp/$name.keys"
	DUO_TUI_SCRIPT="$tmp/$name.keys" DUO_TUI_DUMP="$tmp/$name.out" \
	    DUO_TUI_SIZE="$size" "$DUO" tui "$@" 2>"$tmp/$name.err"
	status=$?
	if [ "$status" -ne 0 ]; then
		if grep -q 'cannot start a virtual terminal' "$tmp/$name.err"
		then
			echo "SKIP: no terminfo for $DUO_TUI_TERM"
			exit 77
		fi
		echo "FAIL $name: duo exited $status: $(cat "$tmp/$name.err")"
		ui_failures=$((ui_failures + 1))
		return
	fi
	if [ -n "${ui_sed:-}" ]; then
		sed -E "$ui_sed" "$tmp/$name.out" >"$tmp/$name.sed" &&
		    mv "$tmp/$name.sed" "$tmp/$name.out" || exit 99
	fi
	expected="$ui_dir/$name.screen"
	if [ "${DUO_UI_REFRESH:-0}" = 1 ]; then
		cp "$tmp/$name.out" "$expected" || exit 99
		echo "refreshed $expected"
		return
	fi
	if [ ! -f "$expected" ]; then
		echo "FAIL $name: no expected screen $expected"
		ui_failures=$((ui_failures + 1))
	elif ! cmp -s "$expected" "$tmp/$name.out"; then
		echo "FAIL $name: the screens differ from $expected:"
		diff -u "$expected" "$tmp/$name.out" | head -n 80
		ui_failures=$((ui_failures + 1))
	else
		echo "ok $name"
		return
	fi
	echo "If the new screens are right, refresh the expected ones with:"
	echo "  DUO_UI_REFRESH=1 DUO='$DUO' srcdir='$srcdir'" \
	    "TESTS_BUILDDIR='$TESTS_BUILDDIR' sh '$ui_dir/$test_name.sh'"
}

# check DESCRIPTION COMMAND...: one more check that must hold.
check() {
	what=$1
	shift
	if ! "$@"; then
		echo "FAIL $test_name: $what"
		ui_failures=$((ui_failures + 1))
	fi
}

ui_done() {
	[ "$ui_failures" -eq 0 ]
}
