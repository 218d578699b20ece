#!/bin/sh
# tui_tmux.sh - the browser through a real terminal: tmux on a private
# socket, a window of fixed size, keys sent with send-keys, the screen read
# with capture-pane and polled until it shows what is expected or a
# timeout passes (no fixed sleeps).  Checks: the run list, opening a run,
# a search, the budget keys changing the chart, the help, a resize to a
# small window and back, NO_COLOR (no colour in the escapes tmux keeps),
# a double click, quitting with q, Ctrl-C and SIGTERM giving the terminal
# back, y copying a piece, a route and a number with OSC 52 into tmux's
# buffer (set-clipboard on), or nothing with --no-osc52; duo -d DB without
# the tui command, and at 80x24 the detail pane scrolling to keep the
# chosen method in sight.
#
# Environment: DUO (the program), srcdir, TESTS_BUILDDIR (make_test_db).
# Exit 0 pass, 1 fail, 77 without tmux, 99 on a setup failure.
set -u
: "${DUO:=./duo}"
: "${srcdir:=.}"
: "${TESTS_BUILDDIR:=./tests}"
if ! command -v tmux >/dev/null 2>&1; then
	echo "SKIP: no tmux (Debian package tmux)"
	exit 77
fi
case $DUO in /*) ;; *) DUO=$(pwd)/$DUO ;; esac
unset NO_COLOR
tmp=$(mktemp -d "${TMPDIR:-/tmp}/duo-tmux.XXXXXX") || exit 99
socket="duo-test-$$"
T() {
	tmux -L "$socket" -f /dev/null "$@"
}
trap 'T kill-server >/dev/null 2>&1; rm -rf "$tmp"' EXIT
if "$DUO" tui --help 2>&1 | grep -q 'not a duo command'; then
	echo "SKIP: this duo has no tui command"
	exit 77
fi
"$TESTS_BUILDDIR/make_test_db" "$srcdir/tests/texts/store.txt" \
    "$tmp/runs.db" odd >/dev/null || exit 99
failures=0
checks=0
fail() {
	echo "FAIL $*"
	failures=$((failures + 1))
}

# The pane runs this: duo (its pid in a file), then its exit status in
# another, and then it stays open, so that the state duo left the
# terminal in can be read.  It ignores SIGINT, which is for duo alone.
cat >"$tmp/pane.sh" <<EOF
trap '' INT
cd "$tmp" || exit 99
LC_ALL=C.UTF-8 DUO_DB=runs.db
export LC_ALL DUO_DB
sh -c 'echo \$\$ >"$tmp/pid"; exec "\$0" tui "\$@"' "$DUO" "\$@"
echo "exit \$?" >"$tmp/status"
exec cat >/dev/null
EOF

# The same for duo without "tui", in the folder with its databases.
cat >"$tmp/bare.sh" <<EOF
trap '' INT
cd "$tmp" || exit 99
LC_ALL=C.UTF-8 DUO_DB=missing.db
export LC_ALL DUO_DB
"$DUO" "\$@"
echo "exit \$?" >"$tmp/status"
exec cat >/dev/null
EOF

# start NAME [ARG...]: a new session NAME, 100x30, running duo.
start() {
	name=$1
	shift
	rm -f "$tmp/status" "$tmp/pid"
	T new-session -d -s "$name" -x 100 -y 30 sh "$tmp/pane.sh" "$@" ||
	    exit 99
	T set-option -t "$name" remain-on-exit on >/dev/null
}

# wait_for NAME PATTERN WHAT: poll the screen every 0.1 s, for up to 15 s
# (the machine may be busy), until a line matches PATTERN.
wait_for() {
	name=$1 pattern=$2 what=$3
	checks=$((checks + 1))
	tries=0
	while [ "$tries" -lt 150 ]; do
		T capture-pane -p -t "$name" >"$tmp/screen" 2>/dev/null
		if grep -q -- "$pattern" "$tmp/screen"; then
			return 0
		fi
		sleep 0.1
		tries=$((tries + 1))
	done
	fail "$what: no '$pattern' on the screen after 15 s; it shows:"
	sed 's/^/  | /' "$tmp/screen"
	return 1
}

# wait_exit STATUS WHAT: the exit status the pane script wrote.
wait_exit() {
	want=$1 what=$2
	checks=$((checks + 1))
	tries=0
	while [ ! -s "$tmp/status" ] && [ "$tries" -lt 150 ]; do
		sleep 0.1
		tries=$((tries + 1))
	done
	got=$(cat "$tmp/status" 2>/dev/null)
	[ "$got" = "exit $want" ] ||
	    fail "$what: '${got:-no exit after 15 s}', expected 'exit $want'"
}

# restored NAME WHAT: after duo, the pane is off the alternate screen,
# its cursor visible, its keypad back in normal mode (polled: tmux may
# not have read duo's last bytes yet when its exit status is written).
restored() {
	name=$1 what=$2
	checks=$((checks + 1))
	tries=0
	while [ "$tries" -lt 150 ]; do
		state=$(T display -p -t "$name" \
		    '#{alternate_on} #{cursor_flag} #{keypad_cursor_flag}')
		[ "$state" = "0 1 0" ] && return 0
		sleep 0.1
		tries=$((tries + 1))
	done
	fail "$what: the terminal is not restored (alternate screen," \
	    "cursor, keypad: $state)"
}

# Colour in tmux's escapes: SGR 30-38, 40-48, 90-97, 100-107.
has_colour() {
	grep -Eq '\[([0-9]+;)*(3[0-8]|4[0-8]|9[0-7]|10[0-7])(;[0-9]+)*m' "$1"
}

# 1. List, open, search, budget, help, resize, quit.
start main
wait_for main 'Runs: 4, by id' "the run list" &&
    wait_for main 'other model' "the third run in the list"
T send-keys -t main Enter
wait_for main 'Text: 40 tokens by difficulty' "Enter opens the text view"
T send-keys -t main / g u l l Enter
wait_for main 'match 1 of 1 for /gull/' "the search finds its one match" &&
    wait_for main 'Token 33 of 40' "the cursor is on the token found"
T send-keys -t main 3
wait_for main 'Perplexity by budget k = 0..6, at k=3' "3 opens the budget view"
grep 'oracle' "$tmp/screen" | head -n 1 >"$tmp/legend.before"
T send-keys -t main +
wait_for main 'at k=4' "+ raises the budget" &&
    wait_for main 'Layer allocation at k=4' "the allocation follows"
grep 'oracle' "$tmp/screen" | head -n 1 >"$tmp/legend.after"
checks=$((checks + 1))
if cmp -s "$tmp/legend.before" "$tmp/legend.after"; then
	fail "the chart's legend did not change with the budget:" \
	    "$(cat "$tmp/legend.after")"
fi
T send-keys -t main Left Left
wait_for main 'at k=2' "Left lowers the budget in the budget view"
T send-keys -t main '?'
wait_for main 'Keys of the budget view' "? opens the help" &&
    wait_for main 'One more big module' "the help lists the view's keys" &&
    wait_for main 'Go back to the previous view' "and the global keys"
T send-keys -t main q
wait_for main 'Perplexity by budget' "q goes back from the help"
T resize-window -t main -x 50 -y 12
wait_for main 'Window too small: 50x12' "a small window gets a message"
T resize-window -t main -x 100 -y 30
wait_for main 'Perplexity by budget k = 0..6, at k=2' \
    "the view comes back whole"
T send-keys -t main q q q
wait_exit 0 "q, q, q quits"
restored main "after q"

# 2. NO_COLOR: no colour escapes, and colours without it; Ctrl-C.
start mono
wait_for mono 'Runs: 4' "the list without NO_COLOR"
# A double click on the second run's row (line 4, column 10), as an
# xterm reports it: ESC [ M, then button, column and line plus 32.
click=$(printf '\033[M +%%\033[M#+%%')
T send-keys -t mono -l "$click$click"
wait_for mono 'Text .* run 2 "island"' "a double click opens a run"
T capture-pane -e -p -t mono >"$tmp/colour.esc"
checks=$((checks + 1))
has_colour "$tmp/colour.esc" || fail "no colour without NO_COLOR"
T send-keys -t mono Q
wait_exit 0 "Q quits at once"
T kill-session -t mono

T set-environment -g NO_COLOR 1
start mono2
wait_for mono2 'Runs: 4' "the list with NO_COLOR"
T send-keys -t mono2 Enter
wait_for mono2 'Text: 40 tokens' "the text view with NO_COLOR"
T capture-pane -e -p -t mono2 >"$tmp/mono.esc"
checks=$((checks + 1))
if has_colour "$tmp/mono.esc"; then
	fail "NO_COLOR set, yet colour escapes on the screen"
fi
T set-environment -g -u NO_COLOR
T send-keys -t mono2 C-c
wait_exit 130 "Ctrl-C ends duo as SIGINT does"
restored mono2 "after Ctrl-C"

# 3. SIGTERM from elsewhere.
start term
wait_for term 'Runs: 4' "the list before SIGTERM"
checks=$((checks + 1))
if [ -s "$tmp/pid" ] && kill -TERM "$(cat "$tmp/pid")"; then
	wait_exit 143 "SIGTERM ends duo"
	restored term "after SIGTERM"
else
	fail "no pid to send SIGTERM to"
fi

# 4. y: OSC 52 reaches tmux, which keeps what it carries as a buffer;
# pieces of 6, 4 and 5 bytes, and a route.
# buffer_is WANT WHAT: the newest buffer holds exactly WANT.
buffer_is() {
	want=$1 what=$2
	checks=$((checks + 1))
	tries=0
	while [ "$tries" -lt 150 ]; do
		got=$(T show-buffer 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		sleep 0.1
		tries=$((tries + 1))
	done
	fail "$what: the buffer holds '$got', not '$want'"
}
T set-option -g set-clipboard on
start copy
wait_for copy 'Runs: 4' "the list before copying"
T send-keys -t copy Enter
wait_for copy 'Text: 40 tokens' "the text view before copying"
T send-keys -t copy / g u l l Enter y
wait_for copy 'copied the piece " gulls" of token 33 (6 bytes)' \
    "y says what it copied" &&
    buffer_is " gulls" "y copies the piece through OSC 52"
# Four and five bytes: base64 ends in == and in =.
T send-keys -t copy : 4 Enter y
wait_for copy 'copied the piece " the" of token 4 (4 bytes)' \
    "y copies token 4" && buffer_is " the" "a piece of 4 bytes"
T send-keys -t copy : 3 Enter y
wait_for copy 'copied the piece " left" of token 3 (5 bytes)' \
    "y copies token 3" && buffer_is " left" "a piece of 5 bytes"
T send-keys -t copy 4 y
wait_for copy 'copied the route [BS.]* of oracle at token 3' \
    "y in the route map copies the route"
route=$(sed -n 's/.*copied the route \([BS.]*\) of.*/\1/p' "$tmp/screen")
buffer_is "$route" "the route reaches the buffer"
# In the tokens view, the number in the sort column, in full.
T send-keys -t copy 7 y
wait_for copy 'copied difficulty = [0-9.]* of token [0-9]*' \
    "y in the tokens view copies the sort column's number"
number=$(sed -n 's/.*copied difficulty = \([0-9.]*\) of token.*/\1/p' \
    "$tmp/screen")
pos=$(sed -n 's/.*copied difficulty = [0-9.]* of token \([0-9]*\).*/\1/p' \
    "$tmp/screen")
buffer_is "$number" "the number reaches the buffer"
# It is the run's difficulty of that token, within float rounding
# (1e-6: the table stores float32 losses, the copy has 9 digits).
if command -v sqlite3 >/dev/null 2>&1; then
	checks=$((checks + 1))
	stored=$(sqlite3 "$tmp/runs.db" "SELECT difficulty FROM difficulty \
	    WHERE run_id = 1 AND pos = ${pos:-0}")
	awk -v a="$number" -v b="$stored" \
	    'BEGIN { d = a - b; exit !(b != "" && d < 1e-6 && -d < 1e-6) }' ||
	    fail "copied difficulty $number of token $pos; stored: $stored"
fi
T send-keys -t copy Q
wait_exit 0 "Q after copying"
while T delete-buffer 2>/dev/null; do :; done
start nocopy --no-osc52
wait_for nocopy 'Runs: 4' "the list with --no-osc52"
T send-keys -t nocopy Enter y
wait_for nocopy 'copying is off (--no-osc52)' "--no-osc52 turns y off"
checks=$((checks + 1))
if T show-buffer >/dev/null 2>&1; then
	fail "--no-osc52, yet a buffer: '$(T show-buffer)'"
fi
T send-keys -t nocopy Q
wait_exit 0 "Q with --no-osc52"

# 5. duo -d DB, no tui command: the browser on that database; at 80x24
# the detail pane of a run with seven routers scrolls to keep the chosen
# method in sight, counting the rows out of sight above and below.
"$TESTS_BUILDDIR/ui/make_long_run" "$srcdir/tests/texts/harbour.txt" \
    "$tmp/long.db" 300 12 "many routers" 7 >/dev/null || exit 99
rm -f "$tmp/status"
T new-session -d -s bare -x 80 -y 24 sh "$tmp/bare.sh" -d long.db || exit 99
wait_for bare 'Runs: 1, by id' "duo -d long.db lists long.db's run" &&
    wait_for bare 'many routers' "the run of long.db"
T send-keys -t bare Enter Tab j j j j j j j j j j
wait_for bare 'method router:probe4 ' "ten j choose the tenth method" &&
    wait_for bare '^ router:probe4@6 ' "its row is in sight" &&
    wait_for bare 'route  ↑3 ↓3' "three rows out of sight each way"
checks=$((checks + 1))
if grep -q '^ oracle@6 ' "$tmp/screen"; then
	fail "at 80x24 the pane shows oracle@6 and router:probe4@6 at once"
fi
T send-keys -t bare k k k k k k k k k k
wait_for bare 'method oracle ' "ten k go back to the oracle" &&
    wait_for bare '^ oracle@6 ' "the oracle's row is in sight again"
T send-keys -t bare Q
wait_exit 0 "Q in duo -d long.db"

echo "tui_tmux: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
