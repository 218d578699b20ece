# lib.sh - what the shell tests of the command line share (cli.sh,
# router.sh, run.sh, export.sh), sourced once a script has made its $tmp
# folder: the count of checks and failures, and expect, which runs a
# command and checks its exit status and its message.
failures=0
checks=0

fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ok() { checks=$((checks + 1)); }

# expect STATUS PATTERN DESCRIPTION -- COMMAND...: the command exits with
# STATUS; its stderr matches PATTERN (when given) and, for an error
# (status 1), is one line (a usage error, status 2, adds the usage).
expect() {
	want=$1 pattern=$2 what=$3
	shift 4
	checks=$((checks + 1))
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$what: exit $got, expected $want; stderr: $(head -c 300 "$tmp/err")"
		return
	fi
	if [ "$want" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		fail "$what: $(wc -l <"$tmp/err") lines on stderr, expected one: $(head -c 300 "$tmp/err")"
		return
	fi
	if [ -n "$pattern" ] && ! grep -q -- "$pattern" "$tmp/err"; then
		fail "$what: stderr does not match '$pattern': $(cat "$tmp/err")"
	fi
}
