/*
 * tui.h - what every part of the curses browser shares: the keys, the
 * screen's rectangles, the ids of views and actions, the look of screen
 * elements, and the app (the state every view follows and the functions
 * of the core, app.c).
 *
 * app.c owns the terminal, the main loop, the layout of the screen and
 * the view stack; actions.c the one table of keys, actions and commands
 * that both dispatch and the help screen read (actions.h); colors.c the
 * table of screen elements times colour schemes, and draw.c text, charts
 * and strips (draw.h); run.c an opened run as tables the views index
 * (run.h); registry.c the list of views and of the workers that run in
 * the background (view.h): loader.c reads the run list (loader.h),
 * predict.c the model's predictions (predict.h), job.c a new run
 * (job.h); script.c the headless screen-dump mode (script.h).  Each view
 * is one file (view_*.c) filling a struct view_ops; the core reaches
 * views and workers only through their hooks.
 *
 * Only these files call curses.  They read the database through store.h,
 * read-only, except to delete a run the user asked to delete.
 */
#ifndef DUO_TUI_H
#define DUO_TUI_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "error.h"

/* The smallest window duo draws in; below it, a message says so. */
#define TUI_MIN_COLS 60
#define TUI_MIN_LINES 16

/* Keys are wide characters, or curses function keys moved above Unicode. */
#define TUI_FN(k) (0x200000 + (k))
#define TUI_CTRL(c) ((c) & 0x1f)
#define TUI_ESC 27
/* The ends of a bracketed paste (ESC [ 200 ~ and ESC [ 201 ~). */
#define TUI_PASTE_BEGIN TUI_FN(KEY_MAX + 1)
#define TUI_PASTE_END TUI_FN(KEY_MAX + 2)

struct rect {
	int y, x, h, w;
};

/* ---- views ---------------------------------------------------------- */

enum view_id {
	VIEW_RUNS,
	VIEW_TEXT,
	VIEW_BUDGET,
	VIEW_ROUTES,
	VIEW_COMPARE,
	VIEW_WHATIF,
	VIEW_TOKENS,
	VIEW_FINDINGS,
	VIEW_NEWRUN,
	VIEW_HELP,
	N_VIEWS
};
#define VIEW_BIT(v) (1u << (v))
#define VIEWS_OF_RUN (VIEW_BIT(VIEW_TEXT) | VIEW_BIT(VIEW_BUDGET) | \
	VIEW_BIT(VIEW_ROUTES) | VIEW_BIT(VIEW_COMPARE) | VIEW_BIT(VIEW_WHATIF) | \
	VIEW_BIT(VIEW_TOKENS) | VIEW_BIT(VIEW_FINDINGS))
/* The views that show tokens and a cursor on one: search, the jumps of
 * seek.c and :goto work in each. */
#define VIEWS_OF_TOKENS (VIEW_BIT(VIEW_TEXT) | VIEW_BIT(VIEW_ROUTES) | \
	VIEW_BIT(VIEW_COMPARE) | VIEW_BIT(VIEW_TOKENS))
#define VIEWS_ALL ((1u << N_VIEWS) - 1)

/* ---- actions (actions.h binds them to keys) ------------------------ */

enum action_id {
	ACT_NONE,
	/* moving */
	ACT_UP, ACT_DOWN, ACT_LEFT, ACT_RIGHT, ACT_WORD_NEXT, ACT_WORD_PREV,
	ACT_PAGE_UP, ACT_PAGE_DOWN, ACT_FIRST, ACT_LAST, ACT_LINE_START,
	ACT_LINE_END,
	/* runs view */
	ACT_OPEN, ACT_SORT_NEXT, ACT_SORT_REVERSE, ACT_FILTER, ACT_DELETE,
	ACT_RELOAD,
	/* text view */
	ACT_MEASURE_NEXT, ACT_CHART_SCALE,
	/* views of tokens (seek.c) */
	ACT_SEARCH, ACT_SEARCH_NEXT, ACT_SEARCH_PREV, ACT_ABOVE_NEXT,
	ACT_ABOVE_PREV, ACT_RANK_NEXT, ACT_RANK_PREV, ACT_COPY,
	/* budget view */
	ACT_BUDGET_LEFT, ACT_BUDGET_RIGHT, ACT_SERIES_TOGGLE,
	/* runs, text and compare views */
	ACT_MARK, ACT_PREDICTIONS, ACT_RIGHT_NEXT, ACT_RIGHT_PREV, ACT_SWAP,
	ACT_OTHER_RUN,
	/* what-if view */
	ACT_CONSTRAINT_NEXT, ACT_MUST_BIG, ACT_MUST_SMALL, ACT_MUST_SKIP,
	ACT_MUST_ANY, ACT_CONSTRAINTS_CLEAR, ACT_SKIPS_MORE, ACT_SKIPS_FEWER,
	/* tokens view */
	ACT_SORT_PREV, ACT_JUMP,
	/* new run: from the runs view, and in the form */
	ACT_NEW_RUN, ACT_EXAMPLE, ACT_FIELD_PREV, ACT_COMPLETE, ACT_TOGGLE,
	ACT_ERASE_BACK, ACT_ERASE, ACT_CLEAR, ACT_START, ACT_CANCEL,
	/* every view */
	ACT_VIEW_RUNS, ACT_VIEW_TEXT, ACT_VIEW_BUDGET, ACT_VIEW_ROUTES,
	ACT_VIEW_COMPARE, ACT_VIEW_WHATIF, ACT_VIEW_TOKENS, ACT_VIEW_FINDINGS,
	ACT_METHOD_NEXT, ACT_METHOD_PREV, ACT_BUDGET_UP, ACT_BUDGET_DOWN,
	ACT_NEXT_PANE, ACT_COMMAND, ACT_HELP, ACT_REDRAW, ACT_BACK, ACT_QUIT,
	N_ACTIONS
};

/* ---- the look (colors.c, draw.c) ---------------------------------- */

enum element {
	EL_NORMAL,
	EL_TITLE,
	EL_STATUS,
	EL_ERROR,
	EL_HEADER,
	EL_SELECTED,
	EL_PANE_TITLE,
	EL_PANE_FOCUS,
	EL_DIM,
	EL_KEY,
	EL_MATCH,
	EL_AXIS,
	EL_MARK,
	EL_BIG,
	EL_SMALL,
	EL_SKIP,
	EL_SERIES_0, EL_SERIES_1, EL_SERIES_2, EL_SERIES_3, EL_SERIES_4,
	EL_SERIES_5, EL_SERIES_6, EL_SERIES_7, EL_SERIES_8, EL_SERIES_9,
	EL_SERIES_10, EL_SERIES_11, EL_SERIES_12, EL_SERIES_13,
	EL_HEAT_0, EL_HEAT_1, EL_HEAT_2, EL_HEAT_3, EL_HEAT_4, EL_HEAT_5,
	EL_HEAT_6, EL_HEAT_7,
	/* a diverging scale: left much better .. equal .. left much worse */
	EL_DIFF_0, EL_DIFF_1, EL_DIFF_2, EL_DIFF_3, EL_DIFF_4, EL_DIFF_5,
	EL_DIFF_6,
	N_ELEMENTS
};
/* Seven methods and up to seven routers get a curve each. */
#define N_SERIES 14
#define N_HEAT 8
#define N_DIFF 7

enum scheme {
	SCHEME_256,
	SCHEME_8,
	SCHEME_MONO,
};

/* What an element looks like under the scheme in use. */
struct palette {
	enum scheme scheme;
	attr_t attr[N_ELEMENTS];
	short pair[N_ELEMENTS];
};

struct glyph_set {
	int unicode;                    /* braille, blocks, arrows */
	wchar_t big, small, skip;       /* route choices */
	wchar_t markers[N_SERIES];      /* chart series */
	wchar_t vline, hline, corner, tick, left_tee;
	wchar_t ellipsis, newline, tab, replacement;
};

/* ---- what the views show of a run (run.h) ------------------------- */

enum measure {
	MEASURE_DIFFICULTY,             /* loss(small) - loss(best) */
	MEASURE_LOSS,                   /* loss under the chosen method at k */
	MEASURE_REGRET,                 /* method at k minus oracle at k */
	MEASURE_NEED,                   /* least k where oracle beats big */
	N_MEASURES
};

/* ---- views (view.h has their hooks) ------------------------------- */

struct view;
struct view_ops;

/* What whoever shows a view asks of it besides (app_show, app_tell). */
enum view_ask {
	ASK_NOTHING,
	ASK_EXAMPLE,                    /* the New run form: analyse the
					   shipped example now */
	ASK_SELECT_RUN,                 /* the run list: select run_id once
					   it lists it */
	ASK_KEYS,                       /* the help: the keys of the view
					   it was opened from */
	ASK_MESSAGES,                   /* the help: the recent messages */
	ASK_METHODS,                    /* the help: the open run's methods */
};

struct view_arg {
	enum view_ask ask;
	int64_t run_id;                 /* ASK_SELECT_RUN */
};

struct view {
	const struct view_ops *ops;
	void *state;
	int n_panes;                    /* set by layout */
	int focus;                      /* pane with the keys */
};

/* ---- the application (app.c) ---------------------------------------- */

struct tui_options {
	const char *db_option;          /* -d */
	int no_color;
	int no_mouse;
	int ascii;
	int no_osc52;                   /* y copies nothing */
};

enum prompt_kind {
	PROMPT_NONE,
	PROMPT_COMMAND,                 /* ':' */
	PROMPT_SEARCH,                  /* '/' */
	PROMPT_CONFIRM,                 /* y/n */
};

struct loader;
struct predictor;
struct run_info;
struct script;
struct seek;
struct tui_run;

/* How many recent messages :messages keeps. */
#define APP_HISTORY 32
/* How many ':' lines Up and Down recall (cmdline.c). */
#define CMDLINE_HISTORY 64

struct app {
	struct tui_options options;
	char *db_path;
	int db_missing;                 /* the file does not exist */
	/* The run list, read by a worker (loader.c): its handle, and what
	 * the loop last took of it (app_poll). */
	struct loader *loader;          /* NULL when there is no database */
	unsigned loader_seen;
	const struct run_info *runs;    /* NULL until listed */
	size_t n_runs;
	int runs_read;                  /* the worker is done, or none */

	struct tui_run *run;            /* the open run, or NULL */
	int64_t run_id;
	int budget;                     /* -1: half of the run's layers */
	int method;                     /* index into run->methods */
	enum measure measure;
	double threshold;               /* for ] and [; NAN: the scale's */
	size_t cursor;                  /* position 1..T in the open run */
	int64_t compare_id;             /* run marked to compare with; 0 */
	int predictions;                /* the detail pane shows the top 5 */
	int chart_run_wide;             /* its loss chart: the run's scale */
	struct seek *seek;              /* the last search, the ranking
					   (seek.c); NULL until used */
	struct predictor *predictor;    /* made on the first request */

	struct view views[N_VIEWS];
	enum view_id stack[N_VIEWS];
	int depth;

	struct palette palette;
	struct glyph_set glyphs;
	int mouse;

	/* the screen, recomputed by app_layout() */
	int lines, cols;
	int too_small;
	struct rect title, body, status;

	/* the bottom line */
	char message[1024];
	int message_is_error;
	/* The recent messages, whole (:messages): a ring, oldest first
	 * from history_next once full. */
	char history[APP_HISTORY][1024];
	unsigned char history_is_error[APP_HISTORY];
	int n_history, history_next;
	enum prompt_kind prompt;
	wchar_t prompt_text[256];
	size_t prompt_length;
	char prompt_question[256];
	/* The ':' lines run, a ring, oldest first from commands_next once
	 * full; recalled: how many back the line shown is (0: the one
	 * being typed, kept in command_draft while another shows). */
	char commands[CMDLINE_HISTORY][256];
	int n_commands, commands_next, recalled;
	char command_draft[1024];
	/* A note after the text typed (Tab's names, or why it found none),
	 * until the next key. */
	char prompt_note[512];
	int prompt_note_is_error;
	void (*confirm)(struct app *app, int yes);

	struct script *script;          /* headless mode */
	int pasting;                    /* inside a bracketed paste */
	int quit;
	int exit_status;
};

/* The current view and its id. */
struct view *app_view(struct app *app);
enum view_id app_view_id(const struct app *app);
/* Hand view id what arg asks (NULL: nothing) without showing it; -1 if
 * the view refused, having said why. */
int app_tell(struct app *app, enum view_id id, const struct view_arg *arg);
/* Show view id, pushing it (or popping back to it), once it has taken
 * arg (NULL: as it was). */
void app_show(struct app *app, enum view_id id, const struct view_arg *arg);
/* Hand view id the ':' command name with its args (the view's
 * command hook); -1 with a message if it refused. */
int app_command(struct app *app, enum view_id id, const char *name,
    const char *args);
/* Go back one view; quit from the first. */
void app_back(struct app *app);
void app_message(struct app *app, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void app_error(struct app *app, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Open run id as the current run; -1 with a message in the status line. */
int app_open_run(struct app *app, int64_t id);
void app_close_run(struct app *app);
/* The budget in effect for the open run (or for n_layer layers). */
int app_budget(const struct app *app, int n_layer);
void app_set_budget(struct app *app, int k);
void app_set_method(struct app *app, int method);
/* Token-to-token cursor moves shared by the views that show tokens:
 * left, right, word, first, last; 1 if action was one of them. */
int app_move_cursor(struct app *app, enum action_id action);
/* Ask a y/n question; confirm(app, yes) gets the answer. */
void app_confirm(struct app *app, const char *question,
    void (*confirm)(struct app *app, int yes));
/* Start a '/' prompt for the current view. */
void app_prompt_search(struct app *app);
/* Recompute every panel from LINES and COLS. */
void app_layout(struct app *app);
/* Draw the whole screen. */
void app_draw(struct app *app);
/* Read the run list again (after a delete or on R). */
void app_reload(struct app *app);
/* Handle one key (a TUI_FN() code or a character). */
void app_key(struct app *app, int key);
/* A click at a screen cell, as from the mouse. */
void app_click(struct app *app, int y, int x, int twice);
/* The runs as the loop last took them (NULL until read). */
const struct run_info *app_runs(struct app *app, size_t *n_runs);
/* Follow the background work of every worker and view: 1 if the screen
 * should be drawn again. */
int app_poll(struct app *app);
/* Wait for the workers' short work and take its news: 1 if any. */
int app_settle(struct app *app);
/* Wait up to seconds for the views' long work to end (until_progress:
 * for its first progress), then for the workers'; -1 on timeout. */
int app_wait(struct app *app, double seconds, int until_progress);

/* Run the browser; returns the exit status. */
int tui_run(const struct tui_options *options);

/* Set up and tear down without a loop (for the benchmark). */
int tui_start(struct app *app, const struct tui_options *options,
    int headless_cols, int headless_lines, struct duo_error *err);
void tui_stop(struct app *app);

#endif
