#!/bin/sh
# fulldisk.sh - "duo run" on a small file system (a tmpfs mounted in a
# mount namespace of its own): a disk too full for the run is refused
# before the analysis, with what is needed and what is free; a disk
# that fills during the analysis keeps the run in a side file in $TMPDIR
# (the database's own folder being full), which "duo export" reads; and
# when no side file can be written either, the message says the results
# are lost and why.  The disk is filled while duo waits at the test hook
# DUO_TEST_HOLD_BEFORE_WRITE=FILE (src/analysis.c): it makes FILE at the
# end of the analysis and waits until FILE is removed.
#
# Environment: DUO (the program), srcdir.  Exit 0 pass, 1 fail, 77 when
# a tmpfs cannot be mounted (not root, or a container that forbids it) or
# without the sqlite3 command, 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: mounting a small file system needs root"
	exit 77
fi
# A mount namespace of our own, so that the mount goes away with us
# whatever happens; else a plain mount, unmounted on exit.
if [ -z "${DUO_FULLDISK_NAMESPACE:-}" ] && command -v unshare >/dev/null &&
    unshare -m true 2>/dev/null; then
	DUO_FULLDISK_NAMESPACE=1 exec unshare -m --propagation private \
		sh "$0" "$@"
fi
case $DUO in /*) ;; *) DUO=$(pwd)/$DUO ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-fulldisk.XXXXXX") || exit 99
fs="$tmp/fs"
run_pid=
cleanup() {
	[ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null
	umount "$fs" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$fs" "$tmp/tmpdir" || exit 99
if ! mount -t tmpfs -o size=512k tmpfs "$fs" 2>"$tmp/err"; then
	echo "SKIP: cannot mount a tmpfs here: $(cat "$tmp/err")"
	exit 77
fi
. "$srcdir/tests/lib.sh"
fixture="$srcdir/tests/fixture.gguf"
db="$fs/runs.db"
printf 'The keeper counted the ships that passed each evening.\n' \
	>"$tmp/short.txt"
n=$("$DUO" tokenize -m "$fixture" "$tmp/short.txt" | awk -F '\t' \
	'$1 ~ /^[0-9]+$/ && $1 > 0 { n++ } END { print n + 0 }')
[ "$n" -gt 5 ] || { echo "FAIL the text has $n tokens"; exit 99; }
"$DUO" run -m "$fixture" -d "$db" "$tmp/short.txt" >/dev/null || exit 99

# fill [KIB]: fill the file system, leaving about KIB kilobytes free.
fill() {
	dd if=/dev/zero of="$fs/filler" bs=4k >/dev/null 2>&1
	[ "${1:-0}" -gt 0 ] && truncate -s "-${1}K" "$fs/filler"
	sync
}

# expect_line PATTERN WHAT: the last command's stderr is this one line
# (a basic regular expression, anchored).
expect_line() {
	checks=$((checks + 1))
	grep -qx -- "$1" "$tmp/err" ||
		fail "$2: stderr is not '$1': $(cat "$tmp/err")"
}

# --- too full before the analysis: refused at once -------------------------

fill 48
start=$(date +%s)
expect 1 '' "a disk too full for the run" -- \
	env DUO_TEST_HOLD_BEFORE_WRITE="$tmp/hold" \
	"$DUO" run -m "$fixture" -d "$db" "$srcdir/tests/texts/harbour.txt"
seconds=$(($(date +%s) - start))
expect_line "duo: $db: not enough free space for this run: storing it needs about [0-9.]* MiB (a run of about [0-9.]* MiB in the database, written first to its -wal log), and there is [0-9]* KiB free on the file system and [0-9.]* [A-Za-z]* of free pages in the database" \
	"a disk too full for the run"
ok
[ ! -e "$tmp/hold" ] || fail "the analysis ran before the refusal"
ok
[ "$seconds" -le 5 ] || fail "the refusal took $seconds s"
ok
[ "$(sqlite3 "$db" 'SELECT count(*) FROM runs')" -eq 1 ] ||
	fail "the refused run changed the database"

# --- room at first, full by the time of the write -------------------------

# wait_hold: wait for duo to reach the hook (up to 60 s); 1 if it ended.
wait_hold() {
	tries=0
	while [ ! -e "$tmp/hold" ]; do
		kill -0 "$run_pid" 2>/dev/null || return 1
		sleep 0.05
		tries=$((tries + 1))
		[ $tries -lt 1200 ] || return 1
	done
}

# filled_meanwhile TMPDIR [OPTION]: a short run (by default a beam run,
# --beam 2, stored whole at the end; --space BS, exhaustive and stored
# window by window) whose disk is filled at the hook; its status and
# stderr in $status and $tmp/err.
filled_meanwhile() {
	rm -f "$fs/filler" "$tmp/hold"
	env TMPDIR="$1" DUO_TEST_HOLD_BEFORE_WRITE="$tmp/hold" \
		"$DUO" run -m "$fixture" -d "$db" ${2:---beam 2} \
		"$tmp/short.txt" >"$tmp/out" 2>"$tmp/err" &
	run_pid=$!
	if ! wait_hold; then
		fail "duo never reached the test hook: $(cat "$tmp/err")"
	fi
	fill 0
	rm -f "$tmp/hold"
	wait "$run_pid"
	status=$?
	run_pid=
}

filled_meanwhile "$tmp/tmpdir"
ok
[ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] ||
	fail "a disk filled during the analysis: exit $status: $(cat "$tmp/err")"
side=$(ls "$tmp/tmpdir" | grep '^runs\.db\.kept-[0-9]\{8\}T[0-9]\{6\}Z-[0-9]*\.db$')
ok
if [ "$(printf '%s\n' "$side" | grep -c .)" -ne 1 ]; then
	fail "one side file expected in \$TMPDIR: $(ls "$tmp/tmpdir")"
else
	side="$tmp/tmpdir/$side"
	expect_line "duo: the run was not stored: $db: [a-z ]*: [a-z ]*\(the disk is full\|(No space left on device)\); its results are kept in $side; store them with: duo merge $db $side" \
		"a disk filled during the analysis"
	expect 0 '' "duo export of the side file" -- \
		"$DUO" export -d "$side" 1
	ok
	[ "$(sqlite3 "$side" 'SELECT count(*), min(n_tokens) FROM runs')" = \
	    "1|$n" ] || fail "the side file's run"
	ok
	[ "$(wc -l <"$tmp/out")" -gt "$n" ] ||
		fail "the side file exports $(wc -l <"$tmp/out") lines"
fi
ok
[ -z "$(ls "$fs" | grep kept)" ] ||
	fail "a side file was left on the full disk: $(ls "$fs")"

# A run stored window by window: the window that meets the full disk is
# not stored, the run is marked stopped, and --resume completes it once
# there is room.
runs_before=$(sqlite3 "$db" 'SELECT count(*) FROM runs')
filled_meanwhile "$tmp/tmpdir" "--space BS"
id=$(sqlite3 "$db" 'SELECT max(id) FROM runs')
ok
[ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] ||
	fail "a window run on a disk filled meanwhile: exit $status: $(cat "$tmp/err")"
expect_line "duo: run $id stopped: $db: writing a window: [a-z ]*\(the disk is full\|(No space left on device)\); what is done is stored, continue it with: duo run -d $db --resume $id" \
	"a window run on a disk filled meanwhile"
# (marked stopped if even that small write found room; else left running)
ok
case $(sqlite3 "$db" "SELECT status, tokens_done FROM runs WHERE id = $id") in
stopped\|0|running\|0) ;;
*) false ;;
esac ||
	fail "the stopped run: $(sqlite3 "$db" "SELECT status, tokens_done FROM runs WHERE id = $id")"
rm -f "$fs/filler"
expect 0 '' "--resume once there is room" -- \
	"$DUO" run -m "$fixture" -d "$db" -q --resume "$id"
ok
[ "$(sqlite3 "$db" "SELECT status, tokens_done FROM runs WHERE id = $id")" = \
    "complete|$n" ] ||
	fail "the resumed run: $(sqlite3 "$db" "SELECT status, tokens_done FROM runs WHERE id = $id")"
sqlite3 "$db" "PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = $id" ||
	exit 99

# Neither beside the database nor in $TMPDIR: lost, and said so.
: >"$tmp/notafolder"
filled_meanwhile "$tmp/notafolder"
ok
[ "$status" -eq 1 ] ||
	fail "no place for a side file: exit $status: $(cat "$tmp/err")"
expect_line "duo: the run was not stored: $db: .*; its results are lost, no side file could be written: $fs/runs\.db\.kept-[^:]*: .*; $tmp/notafolder/runs\.db\.kept-[^:]*: Not a directory" \
	"no place for a side file"

rm -f "$fs/filler"
ok
[ "$(sqlite3 "$db" 'SELECT count(*) FROM runs; PRAGMA integrity_check')" = \
    "$(printf '1\nok')" ] || fail "the database at the end"
echo "fulldisk: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
