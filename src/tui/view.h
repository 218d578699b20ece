/*
 * view.h - the interface of a view and of a background worker, as the
 * core sees them, and the one list of both (registry.c).  A view calls
 * no other view: it shows one with app_show(), or tells it something
 * with app_tell().
 */
#ifndef DUO_TUI_VIEW_H
#define DUO_TUI_VIEW_H

#include <stddef.h>

#include "error.h"
#include "tui.h"

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
	/* A ':' command meant for this view (app_command): 0 done, -1
	 * with a message; may be NULL. */
	int (*command)(struct app *app, struct view *view, const char *name,
	    const char *args);
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
	/* As a view's busy, poll and status. */
	int (*busy)(struct app *app);
	int (*poll)(struct app *app);
	void (*status)(struct app *app, char *buf, size_t size);
	/* Wait until the work in hand is done. */
	void (*settle)(struct app *app);
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
extern const struct view_ops tokens_view_ops;
extern const struct view_ops findings_view_ops;
extern const struct view_ops newrun_view_ops;
extern const struct view_ops help_view_ops;
extern const struct worker_ops loader_worker;
extern const struct worker_ops predictor_worker;

#endif
