#!/bin/sh
# losses.sh - "duo run --losses f32|f16|none" end to end on
# tests/fixture.gguf: the run's settings record the choice; f16 keeps
# every loss and KL table in route_losses_f16 and route_kl_f16, halves of
# the float32 tables an f32 run of the same text keeps (decoded with
# python3 when there is one), and nothing in route_losses or route_kl;
# none keeps no table at all, with the same results as f32; a bad value
# is a usage error naming it; "duo merge" copies F16 tables byte for
# byte.  The rounding itself is checked bit by bit in test_store.
#
# Environment: DUO (the program), srcdir, PYTHON.  Exit 0 pass, 1 fail,
# 77 without the sqlite3 command, 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${PYTHON:=python3}"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "SKIP: no sqlite3 command (Debian package sqlite3)"
	exit 77
fi
fixture="$srcdir/tests/fixture.gguf"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-losses.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
db="$tmp/runs.db"
. "$srcdir/tests/lib.sh"
q() { sqlite3 "$db" "$1"; }

cat >"$tmp/text.txt" <<'TEXT'
The ferry left at dawn with three cars, a bicycle and a crate of apples
that nobody claimed, and the captain wrote it all down in his log.
TEXT
L=$("$DUO" info "$fixture" | sed -n 's/^layers *//p')
[ -n "$L" ] || { echo "FAIL duo info gives no layer count"; exit 99; }

for how in f32 f16 none; do
	expect 0 '' "a run with --losses $how" -- \
	    "$DUO" run -m "$fixture" -d "$db" -l "$how" --losses "$how" \
	    "$tmp/text.txt"
done
n=$(q "SELECT n_tokens FROM runs WHERE id = 1")
[ -n "$n" ] && [ "$n" -gt 10 ] || { echo "FAIL no tokens in run 1"; exit 99; }

ok
[ "$(q "SELECT group_concat(json_extract(settings, '\$.losses'), ' ')
	FROM runs ORDER BY id")" = "f32 f16 none" ] ||
	fail "the settings do not record f32, f16, none"

# f16: only the F16 tables, one row a token, two bytes a route
ok
[ "$(q "SELECT (SELECT count(*) FROM route_losses WHERE run_id = 2),
	(SELECT count(*) FROM route_kl WHERE run_id = 2),
	(SELECT count(*) || '/' || min(length(losses)) || '/' ||
	  max(length(losses)) FROM route_losses_f16 WHERE run_id = 2),
	(SELECT count(*) || '/' || min(length(kl)) || '/' || max(length(kl))
	  FROM route_kl_f16 WHERE run_id = 2)")" = \
    "0|0|$n/$((2 << L))/$((2 << L))|$n/$((2 << L))/$((2 << L))" ] ||
	fail "an f16 run's tables are not $n rows of $((2 << L)) bytes in the F16 tables only"

# none: no table anywhere, and the same results as f32
ok
[ "$(q "SELECT (SELECT count(*) FROM route_losses WHERE run_id = 3) +
	(SELECT count(*) FROM route_kl WHERE run_id = 3) +
	(SELECT count(*) FROM route_losses_f16 WHERE run_id = 3) +
	(SELECT count(*) FROM route_kl_f16 WHERE run_id = 3)")" = 0 ] ||
	fail "a run with --losses none keeps a table"
ok
[ "$(q "SELECT count(*) FROM results AS a JOIN results AS b
	ON b.pos = a.pos AND b.method = a.method AND b.budget = a.budget
	WHERE a.run_id = 1 AND b.run_id = 3 AND a.route IS b.route
	AND a.loss = b.loss")" = "$(q "SELECT count(*) FROM results
	WHERE run_id = 1")" ] ||
	fail "a run with --losses none has other results than f32"

# the halves are the f32 tables rounded (to within half a unit of the
# half's last place; test_store checks the rounding bit for bit)
if command -v "$PYTHON" >/dev/null 2>&1; then
	ok
	worst=$("$PYTHON" - "$db" <<'PY'
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
worst = 0.0
for table, column, half in (("route_losses", "losses", "route_losses_f16"),
                            ("route_kl", "kl", "route_kl_f16")):
    rows = db.execute("SELECT a.%s, b.%s FROM %s AS a JOIN %s AS b "
                      "ON b.pos = a.pos WHERE a.run_id = 1 AND b.run_id = 2"
                      % (column, column, table, half)).fetchall()
    for a, b in rows:
        xs = struct.unpack("<%df" % (len(a) // 4), a)
        hs = struct.unpack("<%de" % (len(b) // 2), b)
        for x, h in zip(xs, hs):
            # a half keeps 11 significant bits: off by at most half a
            # step, 2^-11 of the value, or 2^-25 below the normal range
            bound = max(abs(x) * 2.0 ** -11, 2.0 ** -25)
            worst = max(worst, abs(x - h) / bound)
print("%.3f" % worst)
PY
)
	awk -v w="$worst" 'BEGIN { exit !(w <= 1.0) }' ||
		fail "an F16 value is farther from its float32 one than rounding allows ($worst of the bound)"
fi

expect 2 "duo: --losses: loss tables 'f8' are not one of f32, f16 or none" \
    "--losses f8" -- "$DUO" run -m "$fixture" -d "$db" --losses f8 \
    "$tmp/text.txt"

# merge copies the F16 tables byte for byte
expect 0 '' "merge a database with F16 tables" -- \
    "$DUO" merge "$tmp/merged.db" "$db"
ok
[ "$(sqlite3 "$tmp/merged.db" "SELECT group_concat(hex(losses), '')
	FROM (SELECT losses FROM route_losses_f16 ORDER BY run_id, pos)")" = \
    "$(q "SELECT group_concat(hex(losses), '') FROM (SELECT losses FROM
	route_losses_f16 ORDER BY run_id, pos)")" ] &&
[ "$(sqlite3 "$tmp/merged.db" "SELECT group_concat(hex(kl), '')
	FROM (SELECT kl FROM route_kl_f16 ORDER BY run_id, pos)")" = \
    "$(q "SELECT group_concat(hex(kl), '') FROM (SELECT kl FROM
	route_kl_f16 ORDER BY run_id, pos)")" ] &&
[ "$(sqlite3 "$tmp/merged.db" "SELECT count(*) FROM route_losses_f16")" = "$n" ] ||
	fail "duo merge did not copy the F16 tables byte for byte"

if [ "$failures" -gt 0 ]; then
	echo "$failures of $checks checks failed"
	exit 1
fi
echo "all $checks checks passed"
