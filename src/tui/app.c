/*
 * app.c - the browser's core: the terminal (set up, restored on every
 * way out, signals included), the main loop, the one place where a
 * resize recomputes every panel, the view stack, the key dispatch through
 * the action table, the bottom line (messages, ':' commands, '/'
 * prompts, y/n questions) and the state every view follows: the open
 * run, the budget, the method, the measure and the cursor.
 *
 * It names no view and no worker: it walks the lists of registry.c and
 * calls their hooks (view.h), so that the background work of any of them
 * wakes the loop, redraws the screen and shows on the status line alike.
 */
#include "tui.h"

#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "cli.h"
#include "clip.h"
#include "cmdline.h"
#include "draw.h"
#include "linalg.h"
#include "run.h"
#include "script.h"
#include "seek.h"
#include "store.h"
#include "view.h"

/*
 * State the signal handler and die() reach: neither can be handed the
 * app.  caught_signal is set by the handler and read by the loop.
 */
static volatile sig_atomic_t caught_signal;
static SCREEN *active_screen;
/* Whether the terminal was asked to bracket pastes (undone on the way
 * out). */
static int bracketed_paste;

/* Give the terminal back as it was; safe to call twice. */
static void
restore_terminal(void)
{
	if (active_screen == NULL)
		return;
	if (bracketed_paste) {
		fputs("\033[?2004l", stdout);
		fflush(stdout);
		bracketed_paste = 0;
	}
	endwin();
	/* curses writes through stdio: a death by signal would lose what
	 * endwin() left in the buffer. */
	fflush(stdout);
	active_screen = NULL;
}

static void
on_signal(int signo)
{
	caught_signal = signo;
}

struct view *
app_view(struct app *app)
{
	return &app->views[app->stack[app->depth - 1]];
}

enum view_id
app_view_id(const struct app *app)
{
	return app->stack[app->depth - 1];
}

/* Keep the message just set for :messages. */
static void
remember_message(struct app *app)
{
	int i = app->history_next;

	snprintf(app->history[i], sizeof app->history[i], "%s",
	    app->message);
	app->history_is_error[i] = (unsigned char)app->message_is_error;
	app->history_next = (i + 1) % APP_HISTORY;
	if (app->n_history < APP_HISTORY)
		app->n_history++;
}

void
app_message(struct app *app, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(app->message, sizeof app->message, fmt, ap);
	va_end(ap);
	app->message_is_error = 0;
	remember_message(app);
}

void
app_error(struct app *app, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(app->message, sizeof app->message, fmt, ap);
	va_end(ap);
	app->message_is_error = 1;
	remember_message(app);
	if (app->script == NULL)
		beep();
}

const struct run_info *
app_runs(struct app *app, size_t *n_runs)
{
	*n_runs = app->runs != NULL ? app->n_runs : 0;
	return app->runs;
}

int
app_tell(struct app *app, enum view_id id, const struct view_arg *arg)
{
	struct view *view = &app->views[id];

	if (arg == NULL || view->ops->open == NULL)
		return 0;
	return view->ops->open(app, view, arg);
}

int
app_command(struct app *app, enum view_id id, const char *name,
    const char *args)
{
	struct view *view = &app->views[id];

	if (view->ops->command == NULL) {
		app_error(app, ":%s is not for the %s view", name,
		    view->ops->name);
		return -1;
	}
	return view->ops->command(app, view, name, args);
}

void
app_show(struct app *app, enum view_id id, const struct view_arg *arg)
{
	int i;

	if ((VIEW_BIT(id) & VIEWS_OF_RUN) && app->run == NULL) {
		app_error(app, "no run is open: select one in the runs view "
		    "and press Enter");
		return;
	}
	if (app_tell(app, id, arg) != 0)
		return;
	/* The help makes way for the view it leads to. */
	if (app_view(app)->ops->makes_way && id != app_view_id(app))
		app->depth--;
	for (i = 0; i < app->depth; i++)
		if (app->stack[i] == id) {
			app->depth = i + 1;
			return;
		}
	app->stack[app->depth++] = id;
}

void
app_back(struct app *app)
{
	if (app->depth > 1)
		app->depth--;
	else
		app->quit = 1;
}

int
app_budget(const struct app *app, int n_layer)
{
	if (n_layer < 0)
		n_layer = 0;
	if (app->budget < 0)
		return n_layer / 2;
	return app->budget < n_layer ? app->budget : n_layer;
}

/* The largest layer count in sight: the open run's, else any run's. */
static int
max_layers(struct app *app)
{
	const struct run_info *runs;
	size_t n, i;
	int L = 0;

	if (app->run != NULL)
		return app->run->L;
	runs = app_runs(app, &n);
	for (i = 0; i < n; i++)
		if (runs[i].n_layer > L)
			L = runs[i].n_layer;
	return L;
}

void
app_set_budget(struct app *app, int k)
{
	int L = max_layers(app);

	if (k < 0)
		k = 0;
	if (k > L)
		k = L;
	app->budget = k;
	app_message(app, "budget k = %d big module%s of %d", k,
	    k == 1 ? "" : "s", L);
}

void
app_set_method(struct app *app, int method)
{
	if (app->run == NULL || app->run->n_methods == 0)
		return;
	method %= (int)app->run->n_methods;
	if (method < 0)
		method += (int)app->run->n_methods;
	app->method = method;
	app_message(app, "method %s", app->run->methods[method].name);
}

static void
notify_run_changed(struct app *app)
{
	int v;

	seek_forget(app);
	for (v = 0; v < N_VIEWS; v++)
		if (app->views[v].ops->run_changed != NULL)
			app->views[v].ops->run_changed(app, &app->views[v]);
}

void
app_close_run(struct app *app)
{
	if (app->run == NULL)
		return;
	run_close(app->run);
	free(app->run);
	app->run = NULL;
	app->run_id = 0;
	app->depth = 1;
	notify_run_changed(app);
}

int
app_open_run(struct app *app, int64_t id)
{
	struct tui_run *run;
	struct store *store = NULL;
	struct duo_error err;
	int oracle;

	if (app->run != NULL && app->run_id == id)
		return 0;
	run = calloc(1, sizeof *run);
	if (run == NULL) {
		app_error(app, "out of memory");
		return -1;
	}
	if (store_open(&store, app->db_path, STORE_READONLY, &err) != 0 ||
	    run_open(run, store, id, &app->glyphs, &err) != 0) {
		if (store != NULL)
			store_close(store);
		free(run);
		app_error(app, "%s", err.message);
		return -1;
	}
	store_close(store);
	app_close_run(app);
	app->run = run;
	app->run_id = id;
	oracle = run->oracle >= 0 ? run->oracle : 0;
	app->method = oracle;
	app->cursor = 1;
	app->threshold = NAN;
	notify_run_changed(app);
	return 0;
}

void
app_confirm(struct app *app, const char *question,
    void (*confirm)(struct app *app, int yes))
{
	snprintf(app->prompt_question, sizeof app->prompt_question, "%s",
	    question);
	app->confirm = confirm;
	app->prompt = PROMPT_CONFIRM;
}

void
app_prompt_search(struct app *app)
{
	app->prompt = PROMPT_SEARCH;
	app->prompt_length = 0;
	app->prompt_text[0] = 0;
}

int
app_move_cursor(struct app *app, enum action_id action)
{
	const struct tui_run *run = app->run;
	int dir = action == ACT_WORD_NEXT ? 1 : -1;
	size_t p;

	if (run == NULL)
		return 0;
	switch (action) {
	case ACT_RIGHT:
		if (app->cursor < run->T)
			app->cursor++;
		return 1;
	case ACT_LEFT:
		if (app->cursor > 1)
			app->cursor--;
		return 1;
	case ACT_WORD_NEXT:
	case ACT_WORD_PREV:
		/* To the next token that starts a word, or the end. */
		p = app->cursor;
		while (dir > 0 ? p < run->T : p > 1) {
			p = dir > 0 ? p + 1 : p - 1;
			if (run_starts_word(run, p))
				break;
		}
		app->cursor = p;
		return 1;
	case ACT_FIRST:
		app->cursor = 1;
		return 1;
	case ACT_LAST:
		app->cursor = run->T;
		return 1;
	default:
		return 0;
	}
}

void
app_reload(struct app *app)
{
	size_t i;
	int v;

	app->db_missing = access(app->db_path, F_OK) != 0;
	/*
	 * The model may run on two threads here at once, top-5 predictions
	 * beside an analysis (doc/design.md section 13).  Each product runs
	 * on one BLAS thread, whatever else runs: parallel work comes from
	 * those threads and the analysis's workers, and a prediction's
	 * numbers do not depend on whether an analysis is running (OpenBLAS
	 * splits a product differently on one thread and on two).
	 */
	linalg_set_threads(1);
	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->reload != NULL)
			tui_workers[i]->reload(app);
	for (v = 0; v < N_VIEWS; v++)
		if (app->views[v].ops->list_changed != NULL)
			app->views[v].ops->list_changed(app, &app->views[v]);
}

/* ---- background work --------------------------------------------------- */

int
app_poll(struct app *app)
{
	size_t i;
	int v, news = 0;

	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->poll != NULL && tui_workers[i]->poll(app))
			news = 1;
	for (v = 0; v < N_VIEWS; v++)
		if (app->views[v].ops->poll != NULL &&
		    app->views[v].ops->poll(app, &app->views[v]))
			news = 1;
	return news;
}

int
app_settle(struct app *app)
{
	size_t i;
	int news = 0;

	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->settle != NULL)
			tui_workers[i]->settle(app);
	/* Every worker polled, so that each forgets its news. */
	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->poll != NULL && tui_workers[i]->poll(app))
			news = 1;
	return news;
}

int
app_wait(struct app *app, double seconds, int until_progress)
{
	int v;

	for (v = 0; v < N_VIEWS; v++)
		if (app->views[v].ops->wait != NULL &&
		    app->views[v].ops->wait(app, &app->views[v], seconds,
		    until_progress) != 0)
			return -1;
	app_settle(app);
	return 0;
}

/* Is any work going on in the background? */
static int
app_busy(struct app *app)
{
	size_t i;
	int v;

	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->busy != NULL && tui_workers[i]->busy(app))
			return 1;
	for (v = 0; v < N_VIEWS; v++)
		if (app->views[v].ops->busy != NULL &&
		    app->views[v].ops->busy(app, &app->views[v]))
			return 1;
	return 0;
}

/* Let every worker put its progress before the status line's right. */
static void
background_status(struct app *app, char *buf, size_t size)
{
	size_t i;
	int v;

	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->status != NULL)
			tui_workers[i]->status(app, buf, size);
	for (v = 0; v < N_VIEWS; v++)
		if (app->views[v].ops->status != NULL)
			app->views[v].ops->status(app, &app->views[v], buf,
			    size);
}

/* Give every worker up; safe on workers never started. */
static void
stop_workers(struct app *app)
{
	size_t i;

	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->stop != NULL)
			tui_workers[i]->stop(app);
}

/* ---- layout and drawing ------------------------------------------------ */

void
app_layout(struct app *app)
{
	int v;

	app->lines = LINES;
	app->cols = COLS;
	app->too_small = COLS < TUI_MIN_COLS || LINES < TUI_MIN_LINES;
	app->title = (struct rect){ 0, 0, 1, COLS };
	app->status = (struct rect){ LINES - 1, 0, 1, COLS };
	app->body = (struct rect){ 1, 0, LINES - 2, COLS };
	if (app->too_small)
		return;
	for (v = 0; v < N_VIEWS; v++) {
		struct view *view = &app->views[v];

		view->n_panes = 1;
		view->ops->layout(app, view, &app->body);
		if (view->focus >= view->n_panes)
			view->focus = 0;
	}
}

static void
draw_too_small(struct app *app)
{
	char line[128];
	int y = LINES / 2 - 1;

	erase();
	snprintf(line, sizeof line, "Window too small: %dx%d", COLS, LINES);
	draw_text(app, y, (COLS - text_width(line)) / 2 > 0 ?
	    (COLS - text_width(line)) / 2 : 0, COLS, line, EL_ERROR);
	snprintf(line, sizeof line, "duo needs at least %dx%d.",
	    TUI_MIN_COLS, TUI_MIN_LINES);
	draw_text(app, y + 1, (COLS - text_width(line)) / 2 > 0 ?
	    (COLS - text_width(line)) / 2 : 0, COLS, line, EL_NORMAL);
	snprintf(line, sizeof line, "Enlarge it, or press q to quit.");
	draw_text(app, y + 2, (COLS - text_width(line)) / 2 > 0 ?
	    (COLS - text_width(line)) / 2 : 0, COLS, line, EL_DIM);
}

static void
draw_title(struct app *app)
{
	const char *base = strrchr(app->db_path, '/');
	const char *sep = app->glyphs.unicode ? " \xc2\xb7 " : " - ";
	char line[512];
	int n;

	base = base != NULL ? base + 1 : app->db_path;
	n = snprintf(line, sizeof line, " duo%s%s%s%s", sep, base, sep,
	    app_view(app)->ops->title);
	if (app->run != NULL && !app_view(app)->ops->home && n > 0 &&
	    (size_t)n < sizeof line) {
		const struct run_info *info = &app->run->data.info;

		snprintf(line + n, sizeof line - (size_t)n,
		    "%srun %lld%s%s%s%s, %zu tokens, %d layers, %s, %s", sep,
		    (long long)info->id, info->label != NULL ? " \"" : "",
		    info->label != NULL ? info->label : "",
		    info->label != NULL ? "\"" : "", "", app->run->T,
		    info->n_layer, info->space, info->context);
	}
	draw_fill(app, &app->title, EL_TITLE);
	draw_text(app, 0, 0, COLS, line, EL_TITLE);
}

/* Encode wide characters as UTF-8, whatever the locale. */
static void
to_utf8(const wchar_t *w, size_t n, char *out, size_t size)
{
	size_t i, used = 0;

	for (i = 0; i < n && used + 5 < size; i++)
		used += utf8_put((uint32_t)w[i], out + used);
	out[used] = '\0';
}

/* The hint of the status line: as many of its items as fit whole. */
static void
draw_hint(struct app *app, int y, int w)
{
	static const char *const items[] = {
		" ? help", "  q back", "  : command", "  Tab pane",
		"  +/- budget",
	};
	size_t i;
	int used = 0;

	for (i = 0; i < sizeof items / sizeof items[0]; i++) {
		if (used + text_width(items[i]) > w)
			break;
		used += draw_text(app, y, used, w - used, items[i],
		    EL_STATUS);
	}
}

static void
draw_status(struct app *app)
{
	char text[1024], right[256] = "";
	int y = app->status.y, used, rw;

	draw_fill(app, &app->status, EL_STATUS);
	if (app->prompt == PROMPT_COMMAND || app->prompt == PROMPT_SEARCH) {
		to_utf8(app->prompt_text, app->prompt_length, text,
		    sizeof text);
		draw_text(app, y, 0, 1, app->prompt == PROMPT_COMMAND ? ":" :
		    "/", EL_STATUS);
		used = text_width(text);
		/* Keep the end of a long line in sight. */
		draw_text(app, y, 1, COLS - 2, used > COLS - 2 ?
		    text + strlen(text) - (size_t)(COLS - 2) : text,
		    EL_STATUS);
		if (app->prompt_note[0] != '\0' && used + 3 < COLS - 2)
			draw_text_cut(app, y, used + 3, COLS - used - 3,
			    app->prompt_note, app->prompt_note_is_error ?
			    EL_ERROR : EL_DIM);
		move(y, 1 + (used > COLS - 2 ? COLS - 2 : used));
		return;
	}
	if (app->prompt == PROMPT_CONFIRM) {
		/* The answer's keys stay in sight however long the question. */
		used = draw_text_cut(app, y, 0, COLS - 8,
		    app->prompt_question, EL_ERROR);
		used += draw_text(app, y, used, 7, " [y/N] ", EL_ERROR);
		move(y, used);
		return;
	}
	if (app->run != NULL && !app_view(app)->ops->home)
		snprintf(right, sizeof right, " k=%d/%d  %s  %s ",
		    app_budget(app, app->run->L), app->run->L,
		    app->run->methods[app->method].name,
		    measure_names[app->measure]);
	else
		snprintf(right, sizeof right, " k=%d ", app_budget(app,
		    max_layers(app)));
	background_status(app, right, sizeof right);
	rw = text_width(right);
	if (app->message[0] != '\0')
		draw_text_cut(app, y, 0, COLS - rw - 1, app->message,
		    app->message_is_error ? EL_ERROR : EL_STATUS);
	else
		draw_hint(app, y, COLS - rw - 1);
	draw_text(app, y, COLS - rw, rw, right, EL_STATUS);
}

void
app_draw(struct app *app)
{
	struct view *view;

	erase();
	if (app->too_small) {
		draw_too_small(app);
		curs_set(0);
		refresh();
		return;
	}
	draw_title(app);
	view = app_view(app);
	view->ops->draw(app, view);
	draw_style(app, EL_NORMAL);
	draw_status(app);
	curs_set(app->prompt != PROMPT_NONE ? 1 : 0);
	refresh();
}

/* ---- keys ---------------------------------------------------------------- */

static void
prompt_key(struct app *app, int key)
{
	char text[1024];
	enum prompt_kind kind = app->prompt;

	app->prompt_note[0] = '\0';
	if (kind == PROMPT_CONFIRM) {
		void (*confirm)(struct app *, int) = app->confirm;

		app->prompt = PROMPT_NONE;
		app->confirm = NULL;
		if (confirm != NULL)
			confirm(app, key == 'y' || key == 'Y');
		return;
	}
	if (key == TUI_ESC || key == TUI_CTRL('g')) {
		app->prompt = PROMPT_NONE;
		return;
	}
	if (key == TUI_FN(KEY_BACKSPACE)) {
		if (app->prompt_length == 0)
			app->prompt = PROMPT_NONE;
		else
			app->prompt_length--;
		return;
	}
	if (key == TUI_CTRL('u')) {
		app->prompt_length = 0;
		return;
	}
	if (kind == PROMPT_COMMAND && (key == TUI_FN(KEY_UP) ||
	    key == TUI_FN(KEY_DOWN))) {
		cmdline_recall(app, key == TUI_FN(KEY_UP) ? -1 : 1);
		return;
	}
	if (kind == PROMPT_COMMAND && key == '\t') {
		cmdline_complete(app);
		return;
	}
	if (key == '\n') {
		to_utf8(app->prompt_text, app->prompt_length, text,
		    sizeof text);
		app->prompt = PROMPT_NONE;
		app->message[0] = '\0';
		if (kind == PROMPT_COMMAND) {
			cmdline_remember(app, text);
			command_run(app, text);
		} else if (app_view(app)->ops->search != NULL)
			app_view(app)->ops->search(app, app_view(app), text);
		else
			seek_search(app, text);
		return;
	}
	if (key >= 32 && key < TUI_FN(0) && key != 127 &&
	    app->prompt_length + 1 < sizeof app->prompt_text /
	    sizeof app->prompt_text[0])
		app->prompt_text[app->prompt_length++] = (wchar_t)key;
}

static void
global_action(struct app *app, enum action_id action)
{
	struct view *view = app_view(app);
	int L, shown = action_view(action);

	if (shown >= 0) {
		/* The help opened by its key shows keys, whatever it
		 * showed last (:messages, :methods). */
		struct view_arg keys = { ASK_KEYS, 0 };

		app_show(app, (enum view_id)shown, shown == VIEW_HELP ? &keys :
		    NULL);
		return;
	}
	switch (action) {
	case ACT_BUDGET_UP:
	case ACT_BUDGET_DOWN:
		L = max_layers(app);
		app_set_budget(app, app_budget(app, L) +
		    (action == ACT_BUDGET_UP ? 1 : -1));
		break;
	case ACT_METHOD_NEXT:
	case ACT_METHOD_PREV:
		if (app->run == NULL)
			app_error(app, "no run is open: methods belong to "
			    "a run");
		else
			app_set_method(app, app->method +
			    (action == ACT_METHOD_NEXT ? 1 : -1));
		break;
	case ACT_NEXT_PANE:
		if (view->n_panes > 1)
			view->focus = (view->focus + 1) % view->n_panes;
		else
			app_message(app, "this view has one pane");
		break;
	case ACT_COMMAND:
		app->prompt = PROMPT_COMMAND;
		app->prompt_length = 0;
		cmdline_reset(app);
		break;
	case ACT_REDRAW:
		clearok(curscr, TRUE);
		break;
	case ACT_BACK:
		app_back(app);
		break;
	case ACT_QUIT:
		app->quit = 1;
		break;
	default:
		break;
	}
}

static void
mouse_key(struct app *app)
{
	struct view *view = app_view(app);
	MEVENT event;

	if (getmouse(&event) != OK || app->too_small)
		return;
	if (event.bstate & BUTTON4_PRESSED)
		view->ops->request(app, view, ACT_UP);
	else if (event.bstate & BUTTON5_PRESSED)
		view->ops->request(app, view, ACT_DOWN);
	else if (event.bstate & (BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED))
		app_click(app, event.y, event.x,
		    (event.bstate & BUTTON1_DOUBLE_CLICKED) != 0);
}

void
app_click(struct app *app, int y, int x, int twice)
{
	struct view *view = app_view(app);

	if (app->too_small || app->prompt != PROMPT_NONE)
		return;
	app->message[0] = '\0';
	if (y >= app->body.y && y < app->body.y + app->body.h &&
	    view->ops->click != NULL)
		view->ops->click(app, view, y, x, twice);
}

void
app_key(struct app *app, int key)
{
	struct view *view;
	enum action_id action;
	char name[32];

	if (key == TUI_FN(KEY_ENTER) || key == '\r')
		key = '\n';
	if (key == 127 || key == 8)
		key = TUI_FN(KEY_BACKSPACE);
	if (key == TUI_FN(KEY_RESIZE)) {
		app_layout(app);
		return;
	}
	if (key == TUI_FN(KEY_MOUSE)) {
		mouse_key(app);
		return;
	}
	if (key == TUI_PASTE_BEGIN || key == TUI_PASTE_END)
		app->pasting = key == TUI_PASTE_BEGIN;
	if (app->prompt != PROMPT_NONE) {
		/* A paste types into the prompt; its line ends run nothing. */
		if (!(app->pasting && key == '\n'))
			prompt_key(app, key);
		return;
	}
	view = app_view(app);
	if (!app->too_small && view->ops->key != NULL &&
	    view->ops->key(app, view, key))
		return;
	/* What a paste holds is text, never keys to act on. */
	if (app->pasting || key == TUI_PASTE_END)
		return;
	action = action_for_key(app_view_id(app), key);
	if (app->too_small && action != ACT_BACK && action != ACT_QUIT)
		return;
	app->message[0] = '\0';
	if (action == ACT_NONE) {
		if (key != TUI_ESC)
			app_message(app, "%s does nothing here; ? lists the "
			    "keys", tui_key_name(key, name, sizeof name));
		return;
	}
	if (view->ops->request(app, view, action) ||
	    seek_request(app, action) || clip_request(app, action))
		return;
	global_action(app, action);
}

/* ---- start, loop, stop ----------------------------------------------- */

static int
locale_is_utf8(void)
{
	const char *codeset = nl_langinfo(CODESET);

	return strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0;
}

int
tui_start(struct app *app, const struct tui_options *options,
    int headless_cols, int headless_lines, struct duo_error *err)
{
	struct sigaction sa;
	char number[16];
	int is_default, v;
	size_t i;

	memset(app, 0, sizeof *app);
	app->options = *options;
	app->budget = -1;
	app->threshold = NAN;
	app->measure = MEASURE_DIFFICULTY;

	setlocale(LC_ALL, "");
	/* The glyphs the locale allows (ASCII under LANG=C), headless too,
	 * so that a dump shows what such a terminal shows. */
	glyphs_init(&app->glyphs, options->ascii || !locale_is_utf8());
	/* A dump is compared byte for byte: its text must not depend on
	 * the locale of whoever runs the tests. */
	if (headless_cols > 0 && !locale_is_utf8())
		setlocale(LC_CTYPE, "C.UTF-8");

	/* Checked before anything is allocated: nothing to undo. */
	if (headless_cols <= 0 &&
	    (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		return error_set(err, "the browser needs a terminal "
		    "(standard input and output are not one)");
	app->db_path = store_default_path(options->db_option, &is_default,
	    err);
	if (app->db_path == NULL)
		return -1;
	app->db_missing = access(app->db_path, F_OK) != 0;
	/*
	 * The model may run on two threads here at once, top-5 predictions
	 * beside an analysis (doc/design.md section 13).  Each product runs
	 * on one BLAS thread, whatever else runs: parallel work comes from
	 * those threads and the analysis's workers, and a prediction's
	 * numbers do not depend on whether an analysis is running (OpenBLAS
	 * splits a product differently on one thread and on two).
	 */
	linalg_set_threads(1);
	for (i = 0; i < tui_n_workers; i++)
		if (tui_workers[i]->start != NULL &&
		    tui_workers[i]->start(app, err) != 0) {
			stop_workers(app);
			free(app->db_path);
			return -1;
		}

	/* Signals: ours, installed before curses so that curses keeps them. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (headless_cols > 0) {
		const char *term = getenv("DUO_TUI_TERM");
		FILE *out = fopen("/dev/null", "w");
		FILE *in = fopen("/dev/null", "r");

		/* A fixed size: curses reads it from LINES and COLUMNS when
		 * the output is no terminal. */
		snprintf(number, sizeof number, "%d", headless_lines);
		setenv("LINES", number, 1);
		snprintf(number, sizeof number, "%d", headless_cols);
		setenv("COLUMNS", number, 1);
		if (out == NULL || in == NULL || (active_screen = newterm(
		    term != NULL ? term : "xterm-256color", out, in)) ==
		    NULL) {
			if (out != NULL)
				fclose(out);
			if (in != NULL)
				fclose(in);
			stop_workers(app);
			free(app->db_path);
			app->db_path = NULL;
			return error_set(err, "cannot start a virtual "
			    "terminal of type %s", term != NULL ? term :
			    "xterm-256color");
		}
		if (LINES != headless_lines || COLS != headless_cols)
			resizeterm(headless_lines, headless_cols);
	} else {
		active_screen = newterm(NULL, stdout, stdin);
		if (active_screen == NULL) {
			stop_workers(app);
			free(app->db_path);
			app->db_path = NULL;
			return error_set(err, "cannot use this terminal "
			    "(TERM=%s)", getenv("TERM") != NULL ?
			    getenv("TERM") : "");
		}
	}
	die_cleanup = restore_terminal;
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	/* Pastes come bracketed, so that a pasted text is typed into a
	 * field and never taken for keys. */
	define_key("\033[200~", KEY_MAX + 1);
	define_key("\033[201~", KEY_MAX + 2);
	if (headless_cols == 0) {
		fputs("\033[?2004h", stdout);
		fflush(stdout);
		bracketed_paste = 1;
	}
	colors_init(&app->palette, colors_choose(options->no_color));
	if (!options->no_mouse && headless_cols == 0)
		app->mouse = mousemask(BUTTON1_CLICKED |
		    BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED |
		    BUTTON5_PRESSED, NULL) != 0;

	for (v = 0; v < N_VIEWS; v++) {
		app->views[v].ops = tui_views[v];
		if (tui_views[v]->init(app, &app->views[v]) != 0) {
			tui_stop(app);
			return error_set(err, "out of memory");
		}
		if (tui_views[v]->home)
			app->stack[0] = (enum view_id)v;
	}
	app->depth = 1;
	app_layout(app);
	return 0;
}

void
tui_stop(struct app *app)
{
	int v;

	restore_terminal();
	die_cleanup = NULL;
	for (v = 0; v < N_VIEWS; v++)
		if (app->views[v].ops != NULL && app->views[v].state != NULL)
			app->views[v].ops->done(app, &app->views[v]);
	if (app->run != NULL) {
		run_close(app->run);
		free(app->run);
		app->run = NULL;
	}
	seek_forget(app);
	stop_workers(app);
	free(app->db_path);
	app->db_path = NULL;
}

/* Wait for a key, waking for the background's news and for signals. */
static int
read_key(struct app *app, int *key)
{
	wint_t wch;
	int rc;

	timeout(app_busy(app) ? 100 : 1000);
	rc = get_wch(&wch);
	if (rc == ERR)
		return 0;
	*key = rc == KEY_CODE_YES ? TUI_FN((int)wch) : (int)wch;
	return 1;
}

int
tui_run(const struct tui_options *options)
{
	struct app app;
	struct duo_error err;
	struct script *script;
	int cols = 0, lines = 0, key, rc, dirty = 1, signo;
	char message[256];

	if (actions_check(message, sizeof message) != 0) {
		fprintf(stderr, "%s: %s\n", program_name, message);
		return EXIT_ERROR;
	}
	script = script_open(&err);
	if (script == NULL && err.message[0] != '\0') {
		fprintf(stderr, "%s: %s\n", program_name, err.message);
		return EXIT_ERROR;
	}
	if (script != NULL)
		script_size(script, &cols, &lines);
	if (tui_start(&app, options, cols, lines, &err) != 0) {
		script_close(script);
		fprintf(stderr, "%s: %s\n", program_name, err.message);
		return EXIT_ERROR;
	}
	app.script = script;
	while (!app.quit && caught_signal == 0) {
		if (app_poll(&app))
			dirty = 1;
		if (dirty)
			app_draw(&app);
		dirty = 0;
		if (script != NULL) {
			/* Every step sees the whole list, as a person who
			 * waited a moment would. */
			if (app_settle(&app))
				app_draw(&app);
			rc = script_next_key(&app, script, &key);
			if (rc <= 0) {
				if (rc < 0)
					app.exit_status = EXIT_ERROR;
				break;
			}
		} else if (!read_key(&app, &key))
			continue;
		app_key(&app, key);
		dirty = 1;
	}
	signo = caught_signal;
	tui_stop(&app);
	rc = app.exit_status;
	if (script != NULL) {
		if (script_close(script) != 0 && rc == 0)
			rc = EXIT_ERROR;
	}
	if (signo != 0) {
		/* Die of the signal, terminal restored, as the shell expects. */
		signal(signo, SIG_DFL);
		raise(signo);
	}
	return rc;
}
