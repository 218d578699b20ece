/*
 * tui.h - the parts of the curses browser and what they share.
 *
 * app.c owns the terminal, the main loop, the layout of the screen and
 * the view stack; actions.c the one table of keys, actions and commands
 * that both dispatch and the help screen read; colors.c the table of
 * screen elements times colour schemes; draw.c text, charts and strips;
 * run.c an opened run as tables the views index; loader.c the background
 * reader of the run list; script.c the headless screen-dump mode.  Each
 * view is one file (view_*.c) filling a struct view_ops.
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
#include <pthread.h>
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <wchar.h>

#include "error.h"
#include "store.h"

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
	VIEW_NEWRUN,
	VIEW_HELP,
	N_VIEWS
};
#define VIEW_BIT(v) (1u << (v))
#define VIEWS_OF_RUN (VIEW_BIT(VIEW_TEXT) | VIEW_BIT(VIEW_BUDGET) | \
	VIEW_BIT(VIEW_ROUTES) | VIEW_BIT(VIEW_COMPARE) | VIEW_BIT(VIEW_WHATIF))
#define VIEWS_ALL ((1u << N_VIEWS) - 1)

/* ---- actions (actions.c) -------------------------------------------- */

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
	ACT_SEARCH, ACT_SEARCH_NEXT, ACT_SEARCH_PREV, ACT_ABOVE_NEXT,
	ACT_ABOVE_PREV, ACT_MEASURE_NEXT,
	/* budget view */
	ACT_BUDGET_LEFT, ACT_BUDGET_RIGHT,
	/* runs, text and compare views */
	ACT_MARK, ACT_PREDICTIONS, ACT_RIGHT_NEXT, ACT_RIGHT_PREV, ACT_SWAP,
	ACT_OTHER_RUN,
	/* what-if view */
	ACT_CONSTRAINT_NEXT, ACT_MUST_BIG, ACT_MUST_SMALL, ACT_MUST_SKIP,
	ACT_MUST_ANY, ACT_CONSTRAINTS_CLEAR, ACT_SKIPS_MORE, ACT_SKIPS_FEWER,
	/* new run: from the runs view, and in the form */
	ACT_NEW_RUN, ACT_EXAMPLE, ACT_FIELD_PREV, ACT_COMPLETE, ACT_TOGGLE,
	ACT_ERASE_BACK, ACT_ERASE, ACT_CLEAR, ACT_START, ACT_CANCEL,
	/* every view */
	ACT_VIEW_RUNS, ACT_VIEW_TEXT, ACT_VIEW_BUDGET, ACT_VIEW_ROUTES,
	ACT_VIEW_COMPARE, ACT_VIEW_WHATIF,
	ACT_METHOD_NEXT, ACT_METHOD_PREV, ACT_BUDGET_UP, ACT_BUDGET_DOWN,
	ACT_NEXT_PANE, ACT_COMMAND, ACT_HELP, ACT_REDRAW, ACT_BACK, ACT_QUIT,
	N_ACTIONS
};

#define ACTION_KEYS 3

struct action {
	enum action_id id;
	const char *name;               /* for people: "move-down" */
	int keys[ACTION_KEYS];          /* 0 ends the list */
	unsigned views;                 /* VIEW_BIT()s it works in */
	const char *help;               /* one line, for ? and duo(1) */
};

extern const struct action tui_actions[];
extern const size_t tui_n_actions;

struct app;

/* A ':' command: the same table lists them in the help screen. */
struct tui_command {
	const char *name;
	const char *args;               /* "N", "NAME", "" */
	const char *help;
	/* 0 done, -1 with a message in app's status line */
	int (*exec)(struct app *app, const char *args);
};

extern const struct tui_command tui_commands[];
extern const size_t tui_n_commands;

/* The view an action shows (1 .. 6, ?); -1 if it shows none. */
int action_view(enum action_id action);
/* The action bound to key in view; ACT_NONE when there is none. */
enum action_id action_for_key(enum view_id view, int key);
const struct action *action_find(enum action_id id);
/* "j", "Down", "C-l"; into buf (at least 16 bytes). */
const char *tui_key_name(int key, char *buf, size_t size);
/* The key a name means ("Down", "j", "C-l"); -1 if none. */
int tui_key_from_name(const char *name);
/* The section a row belongs to, by its views: "Runs view", "Everywhere". */
const char *action_section(const struct action *a);
/* Check the table: no key bound twice in one view.  -1 and a message. */
int actions_check(char *message, size_t size);
/* Print every binding as TSV: section, keys, action, help. */
void actions_print(FILE *out);
/* Run a ':' command line (without the colon). */
int command_run(struct app *app, const char *line);

/* ---- colours (colors.c) --------------------------------------------- */

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

/* The scheme the terminal allows; mono when no_color. */
enum scheme colors_choose(int no_color);
/* Initialise colour pairs (after start_color) and fill the palette. */
void colors_init(struct palette *palette, enum scheme scheme);
const char *colors_scheme_name(enum scheme scheme);

/* ---- the characters used to draw (draw.c) --------------------------- */

struct glyph_set {
	int unicode;                    /* braille, blocks, arrows */
	wchar_t big, small, skip;       /* route choices */
	wchar_t markers[N_SERIES];      /* chart series */
	wchar_t vline, hline, corner, tick, left_tee;
	wchar_t ellipsis, newline, tab, replacement;
};

/* ---- an opened run (run.c) ------------------------------------------ */

enum measure {
	MEASURE_DIFFICULTY,             /* loss(small) - loss(best) */
	MEASURE_LOSS,                   /* loss under the chosen method at k */
	MEASURE_REGRET,                 /* method at k minus oracle at k */
	MEASURE_NEED,                   /* least k where oracle beats big */
	N_MEASURES
};

struct run_method {
	const char *name;               /* into data.methods */
	int budgeted;                   /* a row per budget (oracle, fixed..) */
	int has_routes;                 /* random_mean has none */
	/* budgeted: (L + 1, T) by budget then position - 1; else (1, T);
	 * NAN / NULL where the run has no result. */
	float *loss;
	const char **route;
	double *mean;                   /* [L + 1] or [1]; NAN: absent */
};

/* One cell group of the text: a character and its combining marks. */
struct glyph {
	wchar_t wc[CCHARW_MAX];         /* NUL-terminated when shorter */
	unsigned char width;            /* 1 or 2 cells */
	unsigned char stand_in;         /* drawn dim: a newline, tab, bad byte */
	unsigned char line_break;       /* the line ends after this glyph */
};

struct tui_run {
	struct run_data data;
	int L;                          /* layers */
	size_t T;                       /* scored tokens, positions 1..T */
	struct run_method *methods;     /* big, small, best, oracle, fixed,
					   random_best, random_mean, routers */
	size_t n_methods;
	int big, small, best, oracle;   /* indices, -1 if absent */
	float *difficulty;              /* [T] small - best; NAN absent */
	signed char *need;              /* [T] least k, -1 unknown */
	struct glyph *glyphs;
	size_t n_glyphs;
	size_t *first_glyph;            /* [T + 2]: glyphs of position p */
	/* cached colour scale */
	int scale_key[3];
	double scale_lo, scale_hi;
};

int run_open(struct tui_run *run, struct store *store, int64_t id,
    const struct glyph_set *glyphs, struct duo_error *err);
void run_close(struct tui_run *run);
int run_method_find(const struct tui_run *run, const char *name);
/* Loss / route of method at budget k for position pos (1..T). */
/* Does the token at p start a word (white space before it or in it)? */
int run_starts_word(const struct tui_run *run, size_t p);
double run_loss(const struct tui_run *run, int method, int k, size_t pos);
const char *run_route(const struct tui_run *run, int method, int k,
    size_t pos);
double run_mean(const struct tui_run *run, int method, int k);
/* share[layer * 3 + c]: share of tokens whose route has choice c there. */
int run_allocation(const struct tui_run *run, int method, int k,
    double *share);
double run_measure(const struct tui_run *run, enum measure measure,
    int method, int k, size_t pos);
/* The colour scale of a measure: values lo..hi over N_HEAT levels. */
void run_scale(struct tui_run *run, enum measure measure, int method, int k,
    double *lo, double *hi);
int run_level(double value, double lo, double hi);
extern const char *const measure_names[N_MEASURES];

/* ---- the run list, read in the background (loader.c) --------------- */

/* What the run list shows that store_list_runs does not give. */
struct run_summary {
	char *text;                     /* for the filter */
	size_t text_length;
	double *oracle_mean;            /* [n_layer + 1], NAN where absent */
	int n_layer;
	int failed;
};

struct loader;

/* Start reading the runs of the database at path; NULL if it cannot. */
struct loader *loader_start(const char *path);
/*
 * Give the loader up: the thread is told to stop and frees what it read
 * when it ends, so that neither quitting nor reading the list again waits
 * for a query to finish.  Nothing it returned may be used afterwards.
 */
void loader_release(struct loader *loader);
/* Has anything new been published since *seen?  Updates *seen. */
int loader_poll(struct loader *loader, unsigned *seen);
/* Wait until the thread has read everything. */
void loader_wait(struct loader *loader);
/* The runs, once listed (NULL before); they do not change afterwards. */
const struct run_info *loader_runs(struct loader *loader, size_t *n_runs);
/* Run i's summary once read, else NULL. */
const struct run_summary *loader_summary(struct loader *loader, size_t i);
size_t loader_summarised(struct loader *loader);
/* 1 once the thread is done (or for no loader); its error into error. */
int loader_finished(struct loader *loader, char *error, size_t size);

/* ---- views ---------------------------------------------------------- */

struct view;

/* What whoever shows a view asks of it besides (app_show, app_tell). */
enum view_ask {
	ASK_NOTHING,
	ASK_EXAMPLE,                    /* the New run form: analyse the
					   shipped example now */
	ASK_SELECT_RUN,                 /* the run list: select run_id once
					   it lists it */
};

struct view_arg {
	enum view_ask ask;
	int64_t run_id;                 /* ASK_SELECT_RUN */
};

/*
 * A view, as the core sees it: every hook but layout, draw and request
 * may be NULL.  The core calls a view only through these hooks, and
 * views reach each other only through app_show() and app_tell().
 */
struct view_ops {
	const char *name;               /* "runs": :commands */
	const char *title;              /* "Runs": the title line */
	enum view_id id;
	int home;                       /* the first view, the run list: the
					   title and status line name no run */
	int makes_way;                  /* gives its place to the view it
					   leads to (help) */
	int (*init)(struct app *app, struct view *view);
	void (*done)(struct app *app, struct view *view);
	/* Take what the opener asks (arg, never NULL) before the view is
	 * shown; -1 keeps it hidden, the view having said why. */
	int (*open)(struct app *app, struct view *view,
	    const struct view_arg *arg);
	/* Place the panes in body; called only from app_layout(). */
	void (*layout)(struct app *app, struct view *view,
	    const struct rect *body);
	void (*draw)(struct app *app, struct view *view);
	/* 1 if the view handled the action. */
	int (*request)(struct app *app, struct view *view,
	    enum action_id action);
	/* The answer to a '/' prompt. */
	void (*search)(struct app *app, struct view *view,
	    const char *pattern);
	/* A click at a screen cell; double is 1 for a double click. */
	void (*click)(struct app *app, struct view *view, int y, int x,
	    int twice);
	/* The open run changed (opened, closed or another). */
	void (*run_changed)(struct app *app, struct view *view);
	/* The run list is being read again (app_reload). */
	void (*list_changed)(struct app *app, struct view *view);
	/* A key before the key table looks at it: 1 if the view took it
	 * (a character typed into a field); may be NULL. */
	int (*key)(struct app *app, struct view *view, int key);

	/* Long work the view runs in the background (a new run's
	 * analysis): */
	/* Is it running (the loop then wakes every 100 ms)? */
	int (*busy)(struct app *app, struct view *view);
	/* Follow it: 1 if the screen should be drawn again. */
	int (*poll)(struct app *app, struct view *view);
	/* Wait up to seconds for it to end (until_progress: for its first
	 * report of progress) and take its outcome; -1 on timeout. */
	int (*wait)(struct app *app, struct view *view, double seconds,
	    int until_progress);
	/* Put its progress before the text of the status line's right. */
	void (*status)(struct app *app, struct view *view, char *buf,
	    size_t size);
};

struct view {
	const struct view_ops *ops;
	void *state;
	int n_panes;                    /* set by layout */
	int focus;                      /* pane with the keys */
};

/*
 * Short work the app has done in the background, by a worker that is no
 * view (the run list, the model's predictions): the loop follows it with
 * the same hooks as a view's, and the headless mode waits for it before
 * every step, as a person who waited a moment would see it.  Any hook
 * may be NULL.
 */
struct worker_ops {
	const char *name;
	/* Start with the app, before the terminal; -1 and err. */
	int (*start)(struct app *app, struct duo_error *err);
	/* Let go of everything (quitting, or a failed start). */
	void (*stop)(struct app *app);
	/* The database changed: read it again (app_reload). */
	void (*reload)(struct app *app);
	int (*busy)(struct app *app);
	int (*poll)(struct app *app);
	/* Wait until the work in hand is done. */
	void (*settle)(struct app *app);
	void (*status)(struct app *app, char *buf, size_t size);
};

/* The one place views and workers are registered (registry.c). */
extern const struct view_ops *const tui_views[N_VIEWS];
extern const struct worker_ops *const tui_workers[];
extern const size_t tui_n_workers;

extern const struct view_ops runs_view_ops;
extern const struct view_ops text_view_ops;
extern const struct view_ops budget_view_ops;
extern const struct view_ops routes_view_ops;
extern const struct view_ops compare_view_ops;
extern const struct view_ops whatif_view_ops;
extern const struct view_ops newrun_view_ops;
extern const struct view_ops help_view_ops;
extern const struct worker_ops loader_worker;
extern const struct worker_ops predictor_worker;

/* The token detail pane of the text view (detail.c). */
void detail_draw(struct app *app, const struct rect *r, int focused);
/* Draw the glyphs of position p at (y, x), at most w cells; the cells. */
int draw_token(const struct app *app, int y, int x, int w, size_t p,
    enum element element);

/* ---- the model's predictions for a token (predict.c) --------------- */

#define PREDICT_TOP 5

struct prediction {
	int32_t token_id;
	double probability;
	char piece[64];                 /* for the screen, UTF-8 */
};

struct predictions {
	int ok;                         /* 0: message says why not */
	int pending;                    /* being computed: ask again */
	char message[1024];
	struct prediction top[PREDICT_TOP];
	int n_top;
	double actual_probability;      /* of the token at the position */
	int actual_rank;                /* 1 = most likely */
};

struct predictor;

struct predictor *predictor_new(void);
void predictor_free(struct predictor *predictor);
/*
 * The model's top predictions for position pos of run under method at
 * budget k, in the run's context mode, if they are known; else they are
 * asked of a thread, which finds and loads the model on the first
 * request, and the answer says they are pending.  Any predictor function
 * takes NULL as a predictor that never had a request.
 */
const struct predictions *predictor_get(struct predictor *predictor,
    const struct tui_run *run, int method, int k, size_t pos);
/* Is an answer being computed?  Has one come since the last poll? */
int predictor_busy(struct predictor *predictor);
int predictor_poll(struct predictor *predictor);
/* Wait until every request is answered (for the headless mode). */
void predictor_wait(struct predictor *predictor);

/* ---- the text laid out in lines (wrap.c) ---------------------------- */

struct text_wrap {
	const struct tui_run *run;      /* wrapped for; NULL: nothing */
	int width;
	int *glyph_line;                /* [n_glyphs] */
	int *glyph_col;
	size_t *glyph_token;            /* position of each glyph */
	size_t *line_first;             /* [n_lines + 1] first glyph */
	int n_lines;
};

/* Lay run out in lines of width cells unless it already is; -1 if not. */
int wrap_ensure(struct text_wrap *w, const struct tui_run *run, int width);
void wrap_free(struct text_wrap *w);
int wrap_line_of(const struct text_wrap *w, size_t p);
/* The token on line at the column nearest col. */
size_t wrap_token_at(const struct text_wrap *w, int line, int col);
/* The token delta lines from cursor, in the cursor's column. */
size_t wrap_move_lines(const struct text_wrap *w, size_t cursor, int delta);
/* The first line to show of rows so that the cursor's line is seen. */
int wrap_scroll(const struct text_wrap *w, size_t cursor, int top, int rows);

/* ---- a new run analysed in the background (job.c) ------------------ */

enum job_state {
	JOB_PREPARING,                  /* database, text, model */
	JOB_ANALYSING,                  /* the engine works */
	JOB_DONE,                       /* the run is stored */
	JOB_FAILED,
	JOB_CANCELLED,
};

struct job_request {
	const char *model_path;
	const char *db_option;          /* -d, or NULL for the default */
	const char *path;               /* the text's file; NULL: text */
	const char *text;               /* typed or pasted */
	size_t length;
	const char *label;              /* NULL or "": none */
	const char *space;              /* "BS", "B." or "BS." */
	const char *context;            /* "shared", "fixed" or "greedy" */
	/* learned routers of the model to evaluate, names joined by ','
	 * (NULL: none); those of another space than the run's are left
	 * out */
	const char *routers;
};

/* What the job has done so far; times are now_seconds(). */
struct job_status {
	enum job_state state;
	double start, analysis_start, now;
	double fraction;                /* of the engine's work, 0..1 */
	double route_tokens;            /* losses computed so far */
	size_t n_tokens;                /* once the text is read */
	int n_layer;
	int64_t run_id;                 /* JOB_DONE */
	double seconds;                 /* the engine's, JOB_DONE */
	char message[512];              /* JOB_FAILED, JOB_CANCELLED */
};

struct job;

/* Start analysing in a thread; NULL and err if it cannot start. */
struct job *job_start(const struct job_request *req, struct duo_error *err);
/* Ask the engine to stop; the job then ends JOB_CANCELLED. */
void job_cancel(struct job *job);
/* The status now; 1 if it changed since *seen (updated). */
int job_poll(struct job *job, unsigned *seen, struct job_status *status);
/* Wait up to seconds for the job to end (or, until_progress, for the
 * engine's first report); 1 if it has. */
int job_wait(struct job *job, double seconds, int until_progress);
/* Cancel if still running, wait for the thread, free. */
void job_free(struct job *job);

/* ---- the application (app.c) ---------------------------------------- */

struct tui_options {
	const char *db_option;          /* -d */
	int no_color;
	int no_mouse;
	int ascii;
};

enum prompt_kind {
	PROMPT_NONE,
	PROMPT_COMMAND,                 /* ':' */
	PROMPT_SEARCH,                  /* '/' */
	PROMPT_CONFIRM,                 /* y/n */
};

struct script;

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
	char message[512];
	int message_is_error;
	enum prompt_kind prompt;
	wchar_t prompt_text[256];
	size_t prompt_length;
	char prompt_question[256];
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

/* "duo tui" and "duo" alone (cmd_tui.c). */
int cmd_tui(int argc, char **argv);

/* Run the browser; returns the exit status. */
int tui_run(const struct tui_options *options);

/* Set up and tear down without a loop (for the benchmark). */
int tui_start(struct app *app, const struct tui_options *options,
    int headless_cols, int headless_lines, struct duo_error *err);
void tui_stop(struct app *app);

/* ---- headless mode (script.c) --------------------------------------- */

/* From DUO_TUI_SCRIPT, DUO_TUI_DUMP, DUO_TUI_SIZE; NULL if not asked. */
struct script *script_open(struct duo_error *err);
/* Close; -1 if the dump file could not be written. */
int script_close(struct script *script);
void script_size(const struct script *script, int *cols, int *lines);
/* The next key; 0 at the end of the script; handles dump steps. */
int script_next_key(struct app *app, struct script *script, int *key);
/* Write the screen's text to out (and attributes, if asked). */
void screen_dump(FILE *out, int attributes);

/* ---- patterns (search.c) -------------------------------------------- */

/* Compile a '/' pattern; NULL and a message naming the fault. */
pcre2_code *pattern_compile(const char *pattern, char *message, size_t size);
/* The first match at or after from: 1 and its bytes, 0 none, -1 error. */
int pattern_find(const pcre2_code *code, const char *subject, size_t length,
    size_t from, size_t *start, size_t *end);

/* ---- drawing (draw.c) ----------------------------------------------- */

void glyphs_init(struct glyph_set *g, int ascii);
void draw_style(const struct app *app, enum element element);
/* Decode one UTF-8 character at s[*i]; -1 (and one byte) if invalid. */
int utf8_next(const char *s, size_t n, size_t *i, wchar_t *wc);
/* Write c as UTF-8 into out (4 bytes at most); returns the length. */
size_t utf8_put(uint32_t c, char *out);
/* Cells a UTF-8 string needs. */
int text_width(const char *s);
/* Draw UTF-8 text at (y, x) in at most w cells; returns cells drawn. */
int draw_text(const struct app *app, int y, int x, int w, const char *s,
    enum element element);
int draw_textf(const struct app *app, int y, int x, int w,
    enum element element, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void draw_wchar(const struct app *app, int y, int x, wchar_t wc,
    enum element element);
void draw_wchar_attr(int y, int x, const wchar_t *wc, attr_t attr,
    short pair);
void draw_fill(const struct app *app, const struct rect *r,
    enum element element);
/* A pane's title line; the focused pane's stands out. */
void draw_pane_title(const struct app *app, const struct rect *r,
    const char *title, int focused);
/* A horizontal bar of share 0..1 in w cells. */
void draw_bar(const struct app *app, int y, int x, int w, double share,
    enum element element);
/* A route as one glyph per layer. */
void draw_route(const struct app *app, int y, int x, const char *route,
    int n_layer);
enum element route_element(char choice);
wchar_t route_glyph(const struct app *app, char choice);
/* The colour legend of a scale: level swatches with numbers. */
int draw_legend(const struct app *app, int y, int x, int w, double lo,
    double hi, int integer);
enum element heat_element(int level);
wchar_t heat_glyph(const struct app *app, int level);

/* A chart of y against x = 0..n-1 for a few series. */
struct chart_series {
	const char *name;
	const double *y;                /* [n]; NAN: no point */
	int level;                      /* a horizontal line at y[0] */
	int highlight;
};

struct chart {
	const struct chart_series *series;
	int n_series;
	int n;                          /* x = 0..n-1 */
	int mark;                       /* x drawn as a marked column; -1 */
	const char *x_label;
	const char *y_label;
	int legend;                     /* names with the value at mark */
};

void draw_chart(const struct app *app, const struct rect *r,
    const struct chart *chart);

/* "12.3" for a perplexity, "-" for NAN, in buf. */
const char *format_number(double v, char *buf, size_t size);

#endif
