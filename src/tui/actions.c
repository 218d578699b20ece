/*
 * actions.c - the one table of keys: which key does what in which view,
 * with the line of help the '?' screen and duo(1) show for it; the names
 * of keys; and the ':' commands.
 *
 * Dispatch, the help view and "duo tui --list-keys" (which the test of
 * the man page reads) all walk these tables, so they cannot disagree.
 */
#include "actions.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "complete.h"
#include "draw.h"
#include "export.h"
#include "model.h"
#include "run.h"
#include "seek.h"
#include "store.h"

#define RUNS VIEW_BIT(VIEW_RUNS)
#define TEXT VIEW_BIT(VIEW_TEXT)
#define BUDGET VIEW_BIT(VIEW_BUDGET)
#define ROUTES VIEW_BIT(VIEW_ROUTES)
#define COMPARE VIEW_BIT(VIEW_COMPARE)
#define WHATIF VIEW_BIT(VIEW_WHATIF)
#define TOKENS VIEW_BIT(VIEW_TOKENS)
#define FINDINGS VIEW_BIT(VIEW_FINDINGS)
#define NEWRUN VIEW_BIT(VIEW_NEWRUN)
#define HELP VIEW_BIT(VIEW_HELP)
#define TOKEN_VIEWS VIEWS_OF_TOKENS

/*
 * One row per binding.  A view looks a key up in its own rows first,
 * then in the rows of every view ("Everywhere"), so rows are grouped by
 * view in the order the help screen lists them.
 */
const struct action tui_actions[] = {
	/* Runs view */
	{ ACT_DOWN, "next-run", { 'j', TUI_FN(KEY_DOWN) }, RUNS,
	  "Select the next run" },
	{ ACT_UP, "previous-run", { 'k', TUI_FN(KEY_UP) }, RUNS,
	  "Select the previous run" },
	{ ACT_PAGE_DOWN, "page-down", { TUI_FN(KEY_NPAGE), ' ' }, RUNS,
	  "Down a page" },
	{ ACT_PAGE_UP, "page-up", { TUI_FN(KEY_PPAGE) }, RUNS,
	  "Up a page" },
	{ ACT_FIRST, "first-run", { 'g', TUI_FN(KEY_HOME) }, RUNS,
	  "Select the first run" },
	{ ACT_LAST, "last-run", { 'G', TUI_FN(KEY_END) }, RUNS,
	  "Select the last run" },
	{ ACT_OPEN, "open", { '\n' }, RUNS,
	  "Open the selected run in the text view" },
	{ ACT_SORT_NEXT, "sort", { 's' }, RUNS,
	  "Sort by the next column" },
	{ ACT_SORT_REVERSE, "reverse", { 'S' }, RUNS,
	  "Reverse the order" },
	{ ACT_FILTER, "filter", { '/' }, RUNS,
	  "Show only runs whose label or text match a PCRE2 pattern "
	  "(empty: all)" },
	{ ACT_DELETE, "delete", { 'D' }, RUNS,
	  "Delete the selected run, after asking" },
	{ ACT_RELOAD, "reload", { 'R' }, RUNS,
	  "Read the database again" },
	{ ACT_MARK, "mark", { 'c' }, RUNS,
	  "Mark the selected run for the compare view (again: unmark)" },
	{ ACT_NEW_RUN, "new-run", { 'n' }, RUNS,
	  "Analyse a new text: a file, a pasted text or a line" },
	{ ACT_EXAMPLE, "example", { 'e' }, RUNS,
	  "Analyse the shipped example text, letter.txt" },

	/* Text view */
	{ ACT_RIGHT, "next-token", { 'l', TUI_FN(KEY_RIGHT) }, TEXT,
	  "Next token" },
	{ ACT_LEFT, "previous-token", { 'h', TUI_FN(KEY_LEFT) }, TEXT,
	  "Previous token" },
	{ ACT_DOWN, "line-down", { 'j', TUI_FN(KEY_DOWN) }, TEXT,
	  "Down a line (in the detail pane: the next method)" },
	{ ACT_UP, "line-up", { 'k', TUI_FN(KEY_UP) }, TEXT,
	  "Up a line (in the detail pane: the previous method)" },
	{ ACT_WORD_NEXT, "next-word", { 'w' }, TEXT,
	  "Next token that starts a word" },
	{ ACT_WORD_PREV, "previous-word", { 'b' }, TEXT,
	  "Previous token that starts a word" },
	{ ACT_LINE_START, "line-start", { '0' }, TEXT,
	  "First token of the line" },
	{ ACT_LINE_END, "line-end", { '$' }, TEXT,
	  "Last token of the line" },
	{ ACT_FIRST, "first-token", { 'g', TUI_FN(KEY_HOME) }, TEXT,
	  "First token of the text" },
	{ ACT_LAST, "last-token", { 'G', TUI_FN(KEY_END) }, TEXT,
	  "Last token of the text" },
	{ ACT_PAGE_DOWN, "page-down", { TUI_FN(KEY_NPAGE), ' ' }, TEXT,
	  "Down a page" },
	{ ACT_PAGE_UP, "page-up", { TUI_FN(KEY_PPAGE) }, TEXT,
	  "Up a page" },
	{ ACT_MEASURE_NEXT, "measure", { 'c' }, TEXT,
	  "Colour by the next measure: difficulty, loss, regret, need" },
	{ ACT_CHART_SCALE, "chart-scale", { 'z' }, TEXT,
	  "The detail pane's loss chart: this token's scale, or the run's, "
	  "the same for every token" },
	{ ACT_PREDICTIONS, "predictions", { 'p' }, TEXT,
	  "Show or hide the model's top 5 predictions for the token "
	  "(the model is loaded on the first request)" },

	/* Budget view */
	{ ACT_BUDGET_RIGHT, "budget-right", { 'l', TUI_FN(KEY_RIGHT) },
	  BUDGET, "One more big module" },
	{ ACT_BUDGET_LEFT, "budget-left", { 'h', TUI_FN(KEY_LEFT) }, BUDGET,
	  "One big module less" },
	{ ACT_DOWN, "next-method", { 'j', TUI_FN(KEY_DOWN) }, BUDGET,
	  "Next method (in the allocation pane: the one compared)" },
	{ ACT_UP, "previous-method", { 'k', TUI_FN(KEY_UP) }, BUDGET,
	  "Previous method (in the allocation pane: the one compared)" },
	{ ACT_SERIES_TOGGLE, "toggle-curve", { 't' }, BUDGET,
	  "Hide or show the chosen method's curve (j and k choose it)" },

	/* Route map */
	{ ACT_RIGHT, "next-token", { 'l', TUI_FN(KEY_RIGHT) }, ROUTES,
	  "Next token" },
	{ ACT_LEFT, "previous-token", { 'h', TUI_FN(KEY_LEFT) }, ROUTES,
	  "Previous token" },
	{ ACT_WORD_NEXT, "next-word", { 'w' }, ROUTES,
	  "Next token that starts a word" },
	{ ACT_WORD_PREV, "previous-word", { 'b' }, ROUTES,
	  "Previous token that starts a word" },
	{ ACT_PAGE_DOWN, "page-right", { TUI_FN(KEY_NPAGE), ' ' }, ROUTES,
	  "A screen of tokens on" },
	{ ACT_PAGE_UP, "page-left", { TUI_FN(KEY_PPAGE) }, ROUTES,
	  "A screen of tokens back" },
	{ ACT_FIRST, "first-token", { 'g', TUI_FN(KEY_HOME) }, ROUTES,
	  "First token" },
	{ ACT_LAST, "last-token", { 'G', TUI_FN(KEY_END) }, ROUTES,
	  "Last token" },

	/* Compare view */
	{ ACT_RIGHT, "next-token", { 'l', TUI_FN(KEY_RIGHT) }, COMPARE,
	  "Next token" },
	{ ACT_LEFT, "previous-token", { 'h', TUI_FN(KEY_LEFT) }, COMPARE,
	  "Previous token" },
	{ ACT_DOWN, "line-down", { 'j', TUI_FN(KEY_DOWN) }, COMPARE,
	  "Down a line" },
	{ ACT_UP, "line-up", { 'k', TUI_FN(KEY_UP) }, COMPARE,
	  "Up a line" },
	{ ACT_WORD_NEXT, "next-word", { 'w' }, COMPARE,
	  "Next token that starts a word" },
	{ ACT_WORD_PREV, "previous-word", { 'b' }, COMPARE,
	  "Previous token that starts a word" },
	{ ACT_PAGE_DOWN, "page-down", { TUI_FN(KEY_NPAGE), ' ' }, COMPARE,
	  "Down a page" },
	{ ACT_PAGE_UP, "page-up", { TUI_FN(KEY_PPAGE) }, COMPARE,
	  "Up a page" },
	{ ACT_FIRST, "first-token", { 'g', TUI_FN(KEY_HOME) }, COMPARE,
	  "First token" },
	{ ACT_LAST, "last-token", { 'G', TUI_FN(KEY_END) }, COMPARE,
	  "Last token" },
	{ ACT_RIGHT_NEXT, "right-method", { 'r' }, COMPARE,
	  "Next method on the right side (m and M choose the left one)" },
	{ ACT_RIGHT_PREV, "right-method-back", { 'R' }, COMPARE,
	  "Previous method on the right side" },
	{ ACT_SWAP, "swap", { 'x' }, COMPARE,
	  "Swap the two sides" },
	{ ACT_OTHER_RUN, "other-run", { 't' }, COMPARE,
	  "Right side: the run marked in the runs view, or this run" },

	/* What-if view */
	{ ACT_RIGHT, "next-layer", { 'l', TUI_FN(KEY_RIGHT) }, WHATIF,
	  "Next layer" },
	{ ACT_LEFT, "previous-layer", { 'h', TUI_FN(KEY_LEFT) }, WHATIF,
	  "Previous layer" },
	{ ACT_FIRST, "first-layer", { 'g', TUI_FN(KEY_HOME) }, WHATIF,
	  "First layer" },
	{ ACT_LAST, "last-layer", { 'G', TUI_FN(KEY_END) }, WHATIF,
	  "Last layer" },
	{ ACT_CONSTRAINT_NEXT, "cycle", { ' ', '\n' }, WHATIF,
	  "Cycle the layer's constraint: free, big, small, skip" },
	{ ACT_MUST_BIG, "must-big", { 'b' }, WHATIF,
	  "The layer must use its big module" },
	{ ACT_MUST_SMALL, "must-small", { 's' }, WHATIF,
	  "The layer must use its small module" },
	{ ACT_MUST_SKIP, "must-skip", { '.' }, WHATIF,
	  "The layer must be skipped" },
	{ ACT_MUST_ANY, "free", { 'a' }, WHATIF,
	  "The layer is free: any choice" },
	{ ACT_CONSTRAINTS_CLEAR, "clear", { 'x' }, WHATIF,
	  "Free every layer and lift the limit on skips" },
	{ ACT_SKIPS_MORE, "more-skips", { '>' }, WHATIF,
	  "Allow one skip more (past the layer count: any number)" },
	{ ACT_SKIPS_FEWER, "fewer-skips", { '<' }, WHATIF,
	  "Allow one skip fewer" },

	/* Findings view */
	{ ACT_DOWN, "scroll-down", { 'j', TUI_FN(KEY_DOWN) }, FINDINGS,
	  "Scroll down" },
	{ ACT_UP, "scroll-up", { 'k', TUI_FN(KEY_UP) }, FINDINGS,
	  "Scroll up" },
	{ ACT_PAGE_DOWN, "page-down", { TUI_FN(KEY_NPAGE), ' ' }, FINDINGS,
	  "Down a page" },
	{ ACT_PAGE_UP, "page-up", { TUI_FN(KEY_PPAGE) }, FINDINGS,
	  "Up a page" },
	{ ACT_FIRST, "top", { 'g', TUI_FN(KEY_HOME) }, FINDINGS,
	  "Go to the first finding" },
	{ ACT_LAST, "bottom", { 'G', TUI_FN(KEY_END) }, FINDINGS,
	  "Go to the last finding" },

	/* Tokens view */
	{ ACT_DOWN, "next-row", { 'j', TUI_FN(KEY_DOWN) }, TOKENS,
	  "Select the next row" },
	{ ACT_UP, "previous-row", { 'k', TUI_FN(KEY_UP) }, TOKENS,
	  "Select the previous row" },
	{ ACT_PAGE_DOWN, "page-down", { TUI_FN(KEY_NPAGE), ' ' }, TOKENS,
	  "Down a page" },
	{ ACT_PAGE_UP, "page-up", { TUI_FN(KEY_PPAGE) }, TOKENS,
	  "Up a page" },
	{ ACT_FIRST, "first-row", { 'g', TUI_FN(KEY_HOME) }, TOKENS,
	  "Select the first row" },
	{ ACT_LAST, "last-row", { 'G', TUI_FN(KEY_END) }, TOKENS,
	  "Select the last row" },
	{ ACT_JUMP, "jump", { '\n' }, TOKENS,
	  "Show the selected token in the text view, with its detail pane" },
	{ ACT_SORT_NEXT, "sort", { 's' }, TOKENS,
	  "Sort by the next column (numbers largest first)" },
	{ ACT_SORT_PREV, "sort-back", { 'S' }, TOKENS,
	  "Sort by the previous column" },
	{ ACT_FILTER, "filter", { '/' }, TOKENS,
	  "Show only tokens whose piece matches a PCRE2 pattern (empty: "
	  "all)" },

	/* Views of tokens: text, route map, compare and tokens (seek.c) */
	{ ACT_SEARCH, "search", { '/' }, TEXT | ROUTES | COMPARE,
	  "Search the text with a PCRE2 pattern (lower case: any case; "
	  "the tokens view filters instead)" },
	{ ACT_SEARCH_NEXT, "next-match", { 'n' }, TOKEN_VIEWS,
	  "Next match of the search (past the last: the first)" },
	{ ACT_SEARCH_PREV, "previous-match", { 'N' }, TOKEN_VIEWS,
	  "Previous match of the search (before the first: the last)" },
	{ ACT_ABOVE_NEXT, "next-above", { ']' }, TOKEN_VIEWS,
	  "Next token whose measure is at or above the threshold" },
	{ ACT_ABOVE_PREV, "previous-above", { '[' }, TOKEN_VIEWS,
	  "Previous token at or above the threshold" },
	{ ACT_RANK_NEXT, "next-harder", { '}' }, TOKEN_VIEWS,
	  "The token ranked just above this one by the measure: the next "
	  "harder" },
	{ ACT_RANK_PREV, "next-easier", { '{' }, TOKEN_VIEWS,
	  "The token ranked just below this one by the measure: the next "
	  "easier" },
	{ ACT_COPY, "copy", { 'y' }, TOKEN_VIEWS,
	  "Copy the token's piece (in the route map and the detail pane: "
	  "its route; in the tokens view: the number in the sort column) "
	  "to the terminal's clipboard with OSC 52" },

	/* New run */
	{ ACT_DOWN, "field-down", { TUI_FN(KEY_DOWN) }, NEWRUN,
	  "Next field (in the text: a line down)" },
	{ ACT_UP, "field-up", { TUI_FN(KEY_UP) }, NEWRUN,
	  "Previous field (in the text: a line up)" },
	{ ACT_COMPLETE, "complete", { '\t' }, NEWRUN,
	  "Complete the file's path (list the names when several fit); "
	  "elsewhere the next field" },
	{ ACT_FIELD_PREV, "previous-field", { TUI_FN(KEY_BTAB) }, NEWRUN,
	  "Previous field" },
	{ ACT_RIGHT, "next-choice", { TUI_FN(KEY_RIGHT) }, NEWRUN,
	  "Next choice (in a text field: the cursor right)" },
	{ ACT_LEFT, "previous-choice", { TUI_FN(KEY_LEFT) }, NEWRUN,
	  "Previous choice (in a text field: the cursor left)" },
	{ ACT_LINE_START, "line-start", { TUI_FN(KEY_HOME), TUI_CTRL('a') },
	  NEWRUN, "Start of the line" },
	{ ACT_LINE_END, "line-end", { TUI_FN(KEY_END), TUI_CTRL('e') },
	  NEWRUN, "End of the line" },
	{ ACT_ERASE_BACK, "erase-back", { TUI_FN(KEY_BACKSPACE) }, NEWRUN,
	  "Erase the character before the cursor" },
	{ ACT_ERASE, "erase", { TUI_FN(KEY_DC), TUI_CTRL('d') }, NEWRUN,
	  "Erase the character under the cursor" },
	{ ACT_CLEAR, "clear-field", { TUI_CTRL('u') }, NEWRUN,
	  "Empty the field" },
	{ ACT_TOGGLE, "toggle-router", { ' ' }, NEWRUN,
	  "Include or leave out the router under the cursor" },
	{ ACT_START, "start", { '\n', TUI_CTRL('r') }, NEWRUN,
	  "Start the analysis (in the pasted text Enter makes a new line "
	  "and C-r starts)" },
	{ ACT_CANCEL, "stop", { TUI_ESC }, NEWRUN,
	  "Stop the analysis that runs, storing nothing; else go back" },

	/* Help */
	{ ACT_DOWN, "scroll-down", { 'j', TUI_FN(KEY_DOWN) }, HELP,
	  "Scroll down" },
	{ ACT_UP, "scroll-up", { 'k', TUI_FN(KEY_UP) }, HELP,
	  "Scroll up" },
	{ ACT_PAGE_DOWN, "page-down", { TUI_FN(KEY_NPAGE), ' ' }, HELP,
	  "Down a page" },
	{ ACT_PAGE_UP, "page-up", { TUI_FN(KEY_PPAGE) }, HELP,
	  "Up a page" },

	/* Everywhere */
	{ ACT_VIEW_RUNS, "runs", { '1' }, VIEWS_ALL,
	  "Runs view: every run in the database" },
	{ ACT_VIEW_TEXT, "text", { '2' }, VIEWS_ALL,
	  "Text view of the open run, with the token detail pane" },
	{ ACT_VIEW_BUDGET, "budget", { '3' }, VIEWS_ALL,
	  "Budget view: perplexity against the budget, layer allocation" },
	{ ACT_VIEW_ROUTES, "routes", { '4' }, VIEWS_ALL,
	  "Route map: layers by tokens for the chosen method" },
	{ ACT_VIEW_COMPARE, "compare", { '5' }, VIEWS_ALL,
	  "Compare view: two methods, or two runs, token by token" },
	{ ACT_VIEW_WHATIF, "what-if", { '6' }, VIEWS_ALL,
	  "What-if view: the oracle held to constraints on its layers" },
	{ ACT_VIEW_TOKENS, "tokens", { '7' }, VIEWS_ALL,
	  "Tokens view: the run's tokens as a table to sort and filter" },
	{ ACT_VIEW_FINDINGS, "findings", { '8' }, VIEWS_ALL,
	  "Findings view: the paper's findings on this run, beside their "
	  "controls" },
	{ ACT_BUDGET_UP, "budget-up", { '+', '=' }, VIEWS_ALL,
	  "Raise the budget k (big modules per token) by one" },
	{ ACT_BUDGET_DOWN, "budget-down", { '-', '_' }, VIEWS_ALL,
	  "Lower the budget k by one" },
	{ ACT_METHOD_NEXT, "next-method", { 'm' }, VIEWS_ALL,
	  "Choose the next method of the run" },
	{ ACT_METHOD_PREV, "previous-method", { 'M' }, VIEWS_ALL,
	  "Choose the previous method" },
	{ ACT_NEXT_PANE, "next-pane", { '\t' }, VIEWS_ALL,
	  "Move the keys to the next pane" },
	{ ACT_COMMAND, "command", { ':' }, VIEWS_ALL,
	  "Type a command (see below; Tab completes, Up and Down recall)" },
	{ ACT_HELP, "help", { '?', TUI_FN(KEY_F(1)) }, VIEWS_ALL,
	  "Show the keys of this view" },
	{ ACT_REDRAW, "redraw", { TUI_CTRL('l') }, VIEWS_ALL,
	  "Redraw the screen" },
	{ ACT_BACK, "back", { 'q' }, VIEWS_ALL,
	  "Go back to the previous view; quit from the first" },
	{ ACT_QUIT, "quit", { 'Q' }, VIEWS_ALL,
	  "Quit at once" },
};
const size_t tui_n_actions = sizeof tui_actions / sizeof tui_actions[0];

static const struct {
	const char *name;
	int key;
} key_names[] = {
	{ "Enter", '\n' },
	{ "Tab", '\t' },
	{ "Space", ' ' },
	{ "Esc", TUI_ESC },
	{ "Backspace", TUI_FN(KEY_BACKSPACE) },
	{ "Up", TUI_FN(KEY_UP) },
	{ "Down", TUI_FN(KEY_DOWN) },
	{ "Left", TUI_FN(KEY_LEFT) },
	{ "Right", TUI_FN(KEY_RIGHT) },
	{ "Home", TUI_FN(KEY_HOME) },
	{ "End", TUI_FN(KEY_END) },
	{ "PgUp", TUI_FN(KEY_PPAGE) },
	{ "PgDn", TUI_FN(KEY_NPAGE) },
	{ "S-Tab", TUI_FN(KEY_BTAB) },
	{ "F1", TUI_FN(KEY_F(1)) },
	{ "Delete", TUI_FN(KEY_DC) },
	{ "PasteBegin", TUI_PASTE_BEGIN },
	{ "PasteEnd", TUI_PASTE_END },
};
#define N_KEY_NAMES (sizeof key_names / sizeof key_names[0])

const char *
tui_key_name(int key, char *buf, size_t size)
{
	mbstate_t state;
	size_t i, n;

	for (i = 0; i < N_KEY_NAMES; i++)
		if (key_names[i].key == key)
			return key_names[i].name;
	if (key >= 1 && key < 32) {
		snprintf(buf, size, "C-%c", key + 'a' - 1);
		return buf;
	}
	if (key >= TUI_FN(0)) {
		snprintf(buf, size, "key%d", key - TUI_FN(0));
		return buf;
	}
	memset(&state, 0, sizeof state);
	if (size < MB_LEN_MAX + 1 ||
	    (n = wcrtomb(buf, (wchar_t)key, &state)) == (size_t)-1)
		snprintf(buf, size, "U+%04X", (unsigned)key);
	else
		buf[n] = '\0';
	return buf;
}

int
tui_key_from_name(const char *name)
{
	wchar_t wc;
	size_t i = 0, n = strlen(name);

	for (i = 0; i < N_KEY_NAMES; i++)
		if (strcmp(key_names[i].name, name) == 0)
			return key_names[i].key;
	if (n == 3 && name[0] == 'C' && name[1] == '-' &&
	    islower((unsigned char)name[2]))
		return TUI_CTRL(name[2]);
	i = 0;
	if (n > 0 && utf8_next(name, n, &i, &wc) == 0 && i == n)
		return (int)wc;
	return -1;
}

const struct action *
action_find(enum action_id id)
{
	size_t i;

	for (i = 0; i < tui_n_actions; i++)
		if (tui_actions[i].id == id)
			return &tui_actions[i];
	return NULL;
}

static int
binding_has_key(const struct action *a, int key)
{
	int i;

	for (i = 0; i < ACTION_KEYS && a->keys[i] != 0; i++)
		if (a->keys[i] == key)
			return 1;
	return 0;
}

/* The view each action that shows one shows, wherever it is pressed
 * (the runs view first opens the selected run for a view of a run). */
static const struct {
	enum action_id action;
	enum view_id view;
} view_actions[] = {
	{ ACT_VIEW_RUNS, VIEW_RUNS },
	{ ACT_VIEW_TEXT, VIEW_TEXT },
	{ ACT_VIEW_BUDGET, VIEW_BUDGET },
	{ ACT_VIEW_ROUTES, VIEW_ROUTES },
	{ ACT_VIEW_COMPARE, VIEW_COMPARE },
	{ ACT_VIEW_WHATIF, VIEW_WHATIF },
	{ ACT_VIEW_TOKENS, VIEW_TOKENS },
	{ ACT_VIEW_FINDINGS, VIEW_FINDINGS },
	{ ACT_HELP, VIEW_HELP },
};

int
action_view(enum action_id action)
{
	size_t i;

	for (i = 0; i < sizeof view_actions / sizeof view_actions[0]; i++)
		if (view_actions[i].action == action)
			return (int)view_actions[i].view;
	return -1;
}

enum action_id
action_for_key(enum view_id view, int key)
{
	size_t i;

	/* A view's own rows come first in the table. */
	for (i = 0; i < tui_n_actions; i++)
		if ((tui_actions[i].views & VIEW_BIT(view)) &&
		    binding_has_key(&tui_actions[i], key))
			return tui_actions[i].id;
	return ACT_NONE;
}

const char *
action_section(const struct action *a)
{
	static const char *const names[N_VIEWS] = {
		[VIEW_RUNS] = "Runs view", [VIEW_TEXT] = "Text view",
		[VIEW_BUDGET] = "Budget view", [VIEW_ROUTES] = "Route map",
		[VIEW_COMPARE] = "Compare view",
		[VIEW_WHATIF] = "What-if view", [VIEW_NEWRUN] = "New run",
		[VIEW_TOKENS] = "Tokens view",
		[VIEW_FINDINGS] = "Findings view",
		[VIEW_HELP] = "Help",
	};
	int v;

	if (a->views == VIEWS_ALL)
		return "Everywhere";
	if ((a->views & ~(unsigned)VIEWS_OF_TOKENS) == 0 &&
	    (a->views & (a->views - 1)) != 0)
		return "Views of tokens";
	for (v = 0; v < N_VIEWS; v++)
		if (a->views == VIEW_BIT(v))
			return names[v];
	return "Several views";
}

/*
 * Whether a row's keys win, in its views, over the same keys of a row
 * for every view: a form's Tab completes instead of changing panes.
 * Any other key shared that way is a mistake that actions_check()
 * reports.
 */
static int
takes_over(const struct action *a)
{
	static const enum action_id over[] = { ACT_COMPLETE };
	size_t i;

	for (i = 0; i < sizeof over / sizeof over[0]; i++)
		if (a->id == over[i] && a->views != VIEWS_ALL)
			return 1;
	return 0;
}

int
actions_check(char *message, size_t size)
{
	size_t i, j;
	int k, v;
	char name[32];

	for (v = 0; v < N_VIEWS; v++)
		for (i = 0; i < tui_n_actions; i++) {
			if (!(tui_actions[i].views & VIEW_BIT(v)))
				continue;
			for (k = 0; k < ACTION_KEYS &&
			    tui_actions[i].keys[k] != 0; k++)
				for (j = i + 1; j < tui_n_actions; j++)
					if (!(takes_over(&tui_actions[i]) &&
					    tui_actions[j].views == VIEWS_ALL) &&
					    (tui_actions[j].views &
					    VIEW_BIT(v)) && binding_has_key(
					    &tui_actions[j],
					    tui_actions[i].keys[k])) {
						snprintf(message, size,
						    "key %s is bound to both "
						    "%s and %s",
						    tui_key_name(tui_actions[i].
						    keys[k], name,
						    sizeof name),
						    tui_actions[i].name,
						    tui_actions[j].name);
						return -1;
					}
		}
	return 0;
}

void
actions_print(FILE *out)
{
	char name[32];
	size_t i;
	int k;

	for (i = 0; i < tui_n_actions; i++) {
		const struct action *a = &tui_actions[i];

		fprintf(out, "%s\t", action_section(a));
		for (k = 0; k < ACTION_KEYS && a->keys[k] != 0; k++)
			fprintf(out, "%s%s", k > 0 ? " " : "",
			    tui_key_name(a->keys[k], name, sizeof name));
		fprintf(out, "\t%s\t%s\n", a->name, a->help);
	}
	for (i = 0; i < tui_n_commands; i++)
		fprintf(out, "Commands\t:%s%s%s\t%s\t%s\n",
		    tui_commands[i].name, *tui_commands[i].args != '\0' ?
		    " " : "", tui_commands[i].args, tui_commands[i].name,
		    tui_commands[i].help);
}

/* ---- ':' commands --------------------------------------------------- */

static int
command_budget(struct app *app, const char *args)
{
	char *end;
	long k;

	errno = 0;
	k = strtol(args, &end, 10);
	if (*args == '\0' || *end != '\0' || errno != 0 || k < 0 || k > DUO_MAX_LAYERS) {
		app_error(app, ":budget wants a whole number of big modules, "
		    "not '%s'", args);
		return -1;
	}
	app_set_budget(app, (int)k);
	if (app->budget != k)
		app_message(app, "budget k = %d, the most there is: %ld is "
		    "more than the %d layers", app->budget, k, app->budget);
	return 0;
}

static int
command_method(struct app *app, const char *args)
{
	int m;

	if (app->run == NULL) {
		app_error(app, "no run is open; open one first (Enter)");
		return -1;
	}
	m = run_method_find(app->run, args);
	if (m < 0) {
		app_error(app, "this run has no method '%s'; :methods lists "
		    "its %zu", args, app->run->n_methods);
		return -1;
	}
	app_set_method(app, m);
	return 0;
}

static int
command_measure(struct app *app, const char *args)
{
	int i;

	for (i = 0; i < N_MEASURES; i++)
		if (strcmp(measure_names[i], args) == 0) {
			app->measure = (enum measure)i;
			app->threshold = NAN;
			return 0;
		}
	app_error(app, "no measure '%s' (difficulty, loss, regret or need)",
	    args);
	return -1;
}

static int
command_threshold(struct app *app, const char *args)
{
	char *end;
	double x;

	if (*args == '\0') {
		app->threshold = NAN;
		app_message(app, "threshold: the top quarter of the scale");
		return 0;
	}
	x = strtod(args, &end);
	if (*end != '\0' || !isfinite(x)) {
		app_error(app, ":threshold wants a number, not '%s'", args);
		return -1;
	}
	app->threshold = x;
	app_message(app, "threshold %s: ] and [ go to tokens whose %s is "
	    "%s %s", args, measure_names[app->measure], app->glyphs.unicode ?
	    "\xe2\x89\xa5" : ">=", args);
	return 0;
}

static int
command_open(struct app *app, const char *args)
{
	struct store *store;
	struct duo_error err;
	int64_t id;

	if (app->db_path == NULL || store_open(&store, app->db_path,
	    STORE_READONLY, &err) != 0) {
		app_error(app, "%s", app->db_path == NULL ? "no database" :
		    err.message);
		return -1;
	}
	if (store_find_run(store, args, &id, &err) != 0) {
		store_close(store);
		app_error(app, "%s", err.message);
		return -1;
	}
	store_close(store);
	if (app_open_run(app, id) != 0)
		return -1;
	app_show(app, VIEW_TEXT, NULL);
	return 0;
}

static int
command_quit(struct app *app, const char *args)
{
	app->quit = 1;
	return 0;
}

/* Write the open run to FILE as "duo export" does; over it if asked. */
static int
export_run(struct app *app, const char *args, int overwrite)
{
	const char *usage = ":export wants csv or json and a file, as in "
	    ":export csv run.csv";
	enum export_format format;
	char format_name[8], path[4096];
	const char *file;
	FILE *out;
	size_t n;
	int fd, failed;

	if (app->run == NULL) {
		app_error(app, "no run is open; open one first (Enter)");
		return -1;
	}
	n = strcspn(args, " ");
	file = args + n;
	while (*file == ' ')
		file++;
	if (n == 0 || n >= sizeof format_name || *file == '\0') {
		app_error(app, "%s", usage);
		return -1;
	}
	memcpy(format_name, args, n);
	format_name[n] = '\0';
	if (export_format_parse(format_name, &format) != 0) {
		app_error(app, "%s", usage);
		return -1;
	}
	/* O_EXCL: a file that appears meanwhile is not overwritten either. */
	fd = open(expand_home(file, path, sizeof path), O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL),
	    0666);
	if (fd < 0 && errno == EEXIST) {
		app_error(app, "%s exists; :export! %s %s writes over it",
		    file, format_name, file);
		return -1;
	}
	if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
		app_error(app, "%s: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	export_write(out, &app->run->data, format);
	failed = fflush(out) != 0 || ferror(out);
	if (fclose(out) != 0 || failed) {
		app_error(app, "%s: write error; the file is incomplete",
		    file);
		return -1;
	}
	app_message(app, "run %lld written to %s as %s, %zu rows",
	    (long long)app->run->data.info.id, file, format_name,
	    app->run->data.n_results);
	return 0;
}

static int
command_export(struct app *app, const char *args)
{
	return export_run(app, args, 0);
}

static int
command_export_over(struct app *app, const char *args)
{
	return export_run(app, args, 1);
}

static int
command_help(struct app *app, const char *args)
{
	struct view_arg keys = { ASK_KEYS, 0 };

	app_show(app, VIEW_HELP, &keys);
	return 0;
}

static int
command_messages(struct app *app, const char *args)
{
	struct view_arg messages = { ASK_MESSAGES, 0 };

	app_show(app, VIEW_HELP, &messages);
	return 0;
}

static int
command_methods(struct app *app, const char *args)
{
	struct view_arg methods = { ASK_METHODS, 0 };

	if (app->run == NULL) {
		app_error(app, "no run is open; open one first (Enter)");
		return -1;
	}
	app_show(app, VIEW_HELP, &methods);
	return 0;
}

/* Hand :sort or :where to the tokens view, and show it. */
static int
tokens_command(struct app *app, const char *name, const char *args)
{
	if (app->run == NULL) {
		app_error(app, "no run is open; open one first (Enter)");
		return -1;
	}
	if (app_command(app, VIEW_TOKENS, name, args) != 0)
		return -1;
	app_show(app, VIEW_TOKENS, NULL);
	return 0;
}

static int
command_sort(struct app *app, const char *args)
{
	return tokens_command(app, "sort", args);
}

static int
command_where(struct app *app, const char *args)
{
	return tokens_command(app, "where", args);
}

/* Hand :show or :hide to the budget view, and show it. */
static int
budget_command(struct app *app, const char *name, const char *args)
{
	if (app->run == NULL) {
		app_error(app, "no run is open; open one first (Enter)");
		return -1;
	}
	if (app_command(app, VIEW_BUDGET, name, args) != 0)
		return -1;
	app_show(app, VIEW_BUDGET, NULL);
	return 0;
}

static int
command_show(struct app *app, const char *args)
{
	return budget_command(app, "show", args);
}

static int
command_hide(struct app *app, const char *args)
{
	return budget_command(app, "hide", args);
}

/* Go to token N; a view that shows no token gives way to the text. */
static int
command_goto(struct app *app, const char *args)
{
	if (seek_goto(app, args) != 0)
		return -1;
	if (!(VIEW_BIT(app_view_id(app)) & VIEWS_OF_TOKENS))
		app_show(app, VIEW_TEXT, NULL);
	return 0;
}

const struct tui_command tui_commands[] = {
	{ "budget", "N", "Set the budget to N big modules", command_budget },
	{ "method", "NAME",
	  "Choose a method: big, small, best, oracle, fixed, random_best, "
	  "random_mean, oracle_free, shuffled or router:NAME",
	  command_method },
	{ "measure", "NAME",
	  "Colour the text by difficulty, loss, regret or need",
	  command_measure },
	{ "threshold", "[X]",
	  "Set the threshold of ] and [ (none: the top quarter of the "
	  "scale)", command_threshold },
	{ "goto", "N", "Go to token N (also :N); a view without tokens "
	  "gives way to the text view", command_goto },
	{ "open", "RUN", "Open a run by id, label, or last", command_open },
	{ "export", "FORMAT FILE",
	  "Write the open run to a new FILE (~ and $HOME expanded) as "
	  "duo export does (FORMAT csv or json)", command_export },
	{ "export!", "FORMAT FILE",
	  "The same, over FILE if it exists", command_export_over },
	{ "help", "", "Show this help", command_help },
	{ "messages", "", "Show the recent messages whole, newest last",
	  command_messages },
	{ "methods", "", "List the open run's methods", command_methods },
	{ "sort", "NAME [asc]",
	  "Sort the tokens view by the column NAME, largest first (asc: "
	  "smallest first)", command_sort },
	{ "where", "[COLUMN OP X]",
	  "Show only tokens whose COLUMN is OP X (OP < <= > >= = !=; none: "
	  "all)", command_where },
	{ "show", "[METHOD]",
	  "Show METHOD's curve in the budget chart (none: every method's)",
	  command_show },
	{ "hide", "[METHOD]",
	  "Hide METHOD's curve in the budget chart (none: every method's)",
	  command_hide },
	{ "quit", "", "Quit (also :q)", command_quit },
};
const size_t tui_n_commands = sizeof tui_commands / sizeof tui_commands[0];

int
command_run(struct app *app, const char *line)
{
	char name[64];
	const char *args;
	size_t n, i;

	while (*line == ' ')
		line++;
	n = strcspn(line, " ");
	if (n == 0)
		return 0;
	if (n >= sizeof name) {
		app_error(app, "no command '%.20s...'; ? lists them", line);
		return -1;
	}
	memcpy(name, line, n);
	name[n] = '\0';
	args = line + n;
	while (*args == ' ')
		args++;
	if (strcmp(name, "q") == 0)
		return command_quit(app, args);
	if (name[0] >= '0' && name[0] <= '9' && *args == '\0')
		return command_goto(app, name);
	for (i = 0; i < tui_n_commands; i++)
		if (strcmp(tui_commands[i].name, name) == 0) {
			char trimmed[256];
			size_t len;

			snprintf(trimmed, sizeof trimmed, "%s", args);
			len = strlen(trimmed);
			while (len > 0 && trimmed[len - 1] == ' ')
				trimmed[--len] = '\0';
			return tui_commands[i].exec(app, trimmed);
		}
	app_error(app, "no command '%s'; ? lists them", name);
	return -1;
}
