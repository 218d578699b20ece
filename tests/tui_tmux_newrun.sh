#!/bin/sh
# tui_tmux_newrun.sh - the New run view through a real terminal (tmux on
# a private socket, keys sent with send-keys, the screen polled with
# capture-pane): the first-run screen's offer, a path completed with Tab,
# the progress bar and the status line's percentage while the fixture
# model works (held by DUO_TEST_JOB_HOLD for as long as the test keeps
# its hold file, so that no check depends on how fast the machine is),
# keys answered meanwhile and never typed into the form,
# the run listed and opened; a text pasted as a bracketed paste (its q
# and Enter typed, not obeyed); and Esc stopping an analysis.
#
# Environment: DUO (the program), srcdir.
# Exit 0 pass, 1 fail, 77 without tmux, 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
if ! command -v tmux >/dev/null 2>&1; then
	echo "SKIP: no tmux (Debian package tmux)"
	exit 77
fi
case $DUO in /*) ;; *) DUO=$(pwd)/$DUO ;; esac
case $srcdir in /*) ;; *) srcdir=$(pwd)/$srcdir ;; esac
unset NO_COLOR DUO_EXAMPLES XDG_DATA_HOME
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-tmux.XXXXXX") || exit 99
socket="duo-newrun-$$"
T() {
	tmux -L "$socket" -f /dev/null "$@"
}
trap 'T kill-server >/dev/null 2>&1; rm -rf "$tmp"' EXIT
if "$DUO" tui --help 2>&1 | grep -q 'not a duo command'; then
	echo "SKIP: this duo has no tui command"
	exit 77
fi
ln -s "$srcdir/tests/fixture.gguf" "$tmp/fixture.gguf" || exit 99
ln -s "$srcdir/examples" "$tmp/examples" || exit 99
failures=0
checks=0
fail() {
	echo "FAIL $*"
	failures=$((failures + 1))
}

cat >"$tmp/pane.sh" <<PANE
trap '' INT
cd "$tmp" || exit 99
LC_ALL=C.UTF-8 DUO_DB=runs.db DUO_MODEL=fixture.gguf
DUO_TEST_JOB_HOLD="$tmp/hold"
export LC_ALL DUO_DB DUO_MODEL DUO_TEST_JOB_HOLD
"$DUO" tui
echo "exit \$?" >"$tmp/status"
exec cat >/dev/null
PANE

# wait_for PATTERN WHAT: poll the screen every 0.1 s for up to 15 s.
wait_for() {
	pattern=$1 what=$2
	checks=$((checks + 1))
	tries=0
	while [ "$tries" -lt 150 ]; do
		T capture-pane -p -t main >"$tmp/screen" 2>/dev/null
		if grep -q -- "$pattern" "$tmp/screen"; then
			return 0
		fi
		sleep 0.1
		tries=$((tries + 1))
	done
	fail "$what: no '$pattern' on the screen after 15 s; it shows:"
	sed 's/^  */  | /' "$tmp/screen"
	return 1
}

T new-session -d -s main -x 100 -y 30 sh "$tmp/pane.sh" || exit 99
wait_for 'Press e to analyse the example' "the first-run screen's offer"

# 1. A file: Tab completes, Enter starts, the bar moves, keys answer.
T send-keys -t main n
wait_for 'New run: analyse a text' "n opens the New run view"
T send-keys -t main -l 'examples/le'
T send-keys -t main Tab
wait_for 'File  *examples/letter.txt' "Tab completes the path"
: >"$tmp/hold"
T send-keys -t main Enter
wait_for '[0-9]%  .*route-tokens/s  ETA' "the progress bar" &&
    wait_for 'analysing [0-9]*%' "the status line's percentage" &&
    wait_for 'letter.txt: 581 tokens' "what is analysed"
T send-keys -t main Down
wait_for '▸ Space' "Down moves to the next field while the engine works"
T send-keys -t main C-r
wait_for 'an analysis is running' "a second analysis is refused"
# Keys typed while it runs are the key table's, never the form's: 1
# shows the runs view, and the label stays empty.
T send-keys -t main Down Down
wait_for '▸ Label' "Down reaches the label while the engine works"
T send-keys -t main 1
wait_for ' duo · runs.db · Runs' "1 shows the runs view while it works"
T send-keys -t main 3 7
T send-keys -t main n
wait_for 'New run: analyse a text' "n shows the form again"
checks=$((checks + 1))
grep -q 'Label  *[0-9]' "$tmp/screen" &&
    fail "keys typed elsewhere reached the label: $(grep Label "$tmp/screen")"
T send-keys -t main 1
wait_for ' duo · runs.db · Runs' "1 in the form shows the runs view"
T send-keys -t main n
wait_for 'New run: analyse a text' "n shows the form once more"
T send-keys -t main BSpace
wait_for 'the form is kept as analysed' "the form is not edited meanwhile"
T send-keys -t main Up Up
wait_for '▸ Space' "Up goes back to the space"
rm -f "$tmp/hold"
wait_for 'Runs: 1, by id' "the run is listed when stored" &&
    wait_for 'run 1 stored' "and the message says so"
T send-keys -t main Enter
wait_for 'Text: 581 tokens' "Enter opens the new run at once"

# 2. A bracketed paste into the area: its q and line ends are text.
T send-keys -t main 1 n
wait_for 'New run: analyse a text' "n again"
printf 'We quietly walked home,\nquite late.' >"$tmp/paste.txt"
T load-buffer "$tmp/paste.txt"
T paste-buffer -p -t main
wait_for 'quite late.' "the paste is in the area" &&
    wait_for 'Text from .*Enter: a new line' "the area is the source"
T send-keys -t main C-r
wait_for 'Runs: 2, by id' "the pasted text is analysed and listed"

# 3. Esc stops an analysis (of the pasted text again); nothing is stored.
: >"$tmp/hold"
T send-keys -t main n C-r
wait_for '[0-9]%  .*route-tokens/s' "the bar of the third analysis"
T send-keys -t main Escape
wait_for 'Stopped after .*nothing was stored' "Esc stops it"
rm -f "$tmp/hold"
T send-keys -t main Escape
wait_for 'Runs: 2, by id' "still two runs"
T send-keys -t main q
checks=$((checks + 1))
tries=0
while [ ! -s "$tmp/status" ] && [ "$tries" -lt 150 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
[ "$(cat "$tmp/status" 2>/dev/null)" = "exit 0" ] ||
    fail "q quits: $(cat "$tmp/status" 2>/dev/null)"

echo "tui_tmux_newrun: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
