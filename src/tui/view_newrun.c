/*
 * view_newrun.c - the New run view: a form that analyses a text and
 * stores it as a run without leaving the browser.  The text comes from a
 * file (its path completed with Tab), from a pasted or typed area of
 * several lines, or from one line; the form also chooses the route space,
 * the context mode, a label, once the model has learned routers which
 * of them to evaluate, and whether to add a null-model control.  The work runs in the background (job.c)
 * with a progress bar here and a percentage on every view's status line;
 * Esc stops it; the loop follows it through the view's busy, poll, wait
 * and status hooks.  When the run is stored the runs view, told through
 * app_tell(), lists it with the cursor on it.
 *
 * The text fields are line editors (edit.c); Tab completes the path
 * (complete.c).  They take the characters typed before the key table
 * does, so that q or ? can be typed into a path; keys that type nothing
 * (arrows, Enter, Esc, Backspace) go through the key table like
 * everywhere else.
 */
#include "tui.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "complete.h"
#include "draw.h"
#include "edit.h"
#include "host.h"
#include "job.h"
#include "model.h"
#include "names.h"
#include "router.h"
#include "view.h"

enum source {
	SOURCE_FILE,
	SOURCE_PASTE,
	SOURCE_LINE,
	N_SOURCES
};

enum field {
	FIELD_SOURCE,
	FIELD_INPUT,                    /* the path, the area or the line */
	FIELD_SPACE,
	FIELD_CONTEXT,
	FIELD_LABEL,
	FIELD_ROUTERS,
	FIELD_NULL,
	FIELD_LOSSES,
	N_FIELDS
};

/* What a choice field offers: the value and a few words on it; the
 * spaces and context modes come from their tables (names.h). */
static const struct described_name sources[N_SOURCES] = {
	{ "a file", "Tab completes its path" },
	{ "pasted text", "Enter: a new line" },
	{ "one line", "typed below" },
};

/* The null control, off or on (duo run --null-control, its default
 * seed). */
static const struct described_name null_choices[2] = {
	{ "off", "the model only" },
	{ "on", "also a model of its shape with random weights: twice the "
	    "time" },
};
#define NULL_SEED 1

/* How the run keeps its tables (duo run --losses), in enum store_tables
 * order. */
static const struct described_name losses_choices[3] = {
	{ "f32", "every route's loss kept exactly" },
	{ "f16", "rounded to half precision: about half the bytes" },
	{ "none", "no tables: What-if cannot ask later" },
};
#define N_LOSSES 3

static const struct described_name *const spaces = route_space_names;
#define N_SPACES N_ROUTE_SPACES
static const struct described_name *const contexts = context_names;

struct newrun_state {
	enum field focus;
	enum source source;
	int space, context;
	int null_control;               /* 0 off, 1 on */
	int losses;                     /* enum store_tables */
	struct edit path, area, line, label;
	int area_top;                   /* first row of the area shown */
	int area_width, area_rows;      /* at the last draw */
	/* After an ambiguous Tab: the names that could follow. */
	struct completion candidates;
	/* the model's learned routers (see find_routers) */
	char **routers;
	char (*router_space)[4];        /* the space each chooses in */
	int n_routers;
	unsigned char *router_on;
	int router_cursor;
	/* The analysis: running (job != NULL) or the last one's outcome. */
	struct job *job;
	struct job_status status;
	unsigned seen;
	int ran;                        /* status holds a job's outcome */
	char what[256];                 /* "examples/letter.txt" */
	struct rect form, progress;
};

static struct newrun_state *
state_of(struct view *view)
{
	return view->state;
}

/* ---- the form ------------------------------------------------------------ */

static struct edit *
input_edit(struct newrun_state *s)
{
	return s->source == SOURCE_FILE ? &s->path :
	    s->source == SOURCE_PASTE ? &s->area : &s->line;
}

/* The edit under the keys, or NULL on a choice field. */
static struct edit *
focused_edit(struct newrun_state *s)
{
	if (s->focus == FIELD_INPUT)
		return input_edit(s);
	if (s->focus == FIELD_LABEL)
		return &s->label;
	return NULL;
}

/*
 * The learned routers the model offers, for the routers line, all of them
 * on; start_job() passes the chosen ones in job_request, those of the
 * form's route space only (analysis_prepare() refuses a router of another
 * space, and the form never asks it to).  A model whose
 * routers cannot be read offers none (the analysis then says why if the
 * model itself is bad).
 */
static void
find_routers(struct newrun_state *s)
{
	struct duo_router *all;
	struct duo_model model;
	struct duo_error err;
	const char *path = default_model_path(NULL);
	int n_all = 0, i;

	s->n_routers = 0;
	if (model_load(&model, path, &err) != 0)
		return;
	if (router_load_all(path, &model.config, &all, &n_all, &err) != 0) {
		model_free(&model);
		return;
	}
	model_free(&model);
	s->routers = calloc((size_t)n_all + 1, sizeof *s->routers);
	s->router_on = calloc((size_t)n_all + 1, 1);
	s->router_space = calloc((size_t)n_all + 1, sizeof *s->router_space);
	if (s->routers == NULL || s->router_on == NULL ||
	    s->router_space == NULL) {
		router_free_all(all, n_all);
		return;
	}
	for (i = 0; i < n_all; i++) {
		if ((s->routers[s->n_routers] = strdup(all[i].name)) == NULL)
			break;
		snprintf(s->router_space[s->n_routers],
		    sizeof s->router_space[s->n_routers], "%s",
		    all[i].space.name);
		s->router_on[s->n_routers++] = 1;
	}
	router_free_all(all, n_all);
}

/* Whether router i chooses in the route space the form has chosen. */
static bool
router_fits_space(const struct newrun_state *s, int i)
{
	return strcmp(s->router_space[i], spaces[s->space].name) == 0;
}

static int
newrun_init(struct app *app, struct view *view)
{
	struct newrun_state *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	view->state = s;
	s->focus = FIELD_INPUT;
	find_routers(s);
	return 0;
}

static void
newrun_done(struct app *app, struct view *view)
{
	struct newrun_state *s = state_of(view);
	int i;

	/* Quitting while a run is analysed: the engine stops, nothing is
	 * written, and the thread is waited for. */
	job_free(s->job);
	edit_free(&s->path);
	edit_free(&s->area);
	edit_free(&s->line);
	edit_free(&s->label);
	completion_clear(&s->candidates);
	for (i = 0; i < s->n_routers; i++)
		free(s->routers[i]);
	free(s->routers);
	free(s->router_on);
	free(s->router_space);
	free(s);
	view->state = NULL;
}

/* Rows the progress pane takes at the bottom of the body. */
#define PROGRESS_ROWS 4
/* Rows of the form besides the input: title, source, space, context,
 * label, routers, null model, tables, model, a gap and the hint. */
#define FORM_ROWS 11

static void
newrun_layout(struct app *app, struct view *view, const struct rect *body)
{
	struct newrun_state *s = state_of(view);

	s->progress = (struct rect){ body->y + body->h - PROGRESS_ROWS,
	    body->x, PROGRESS_ROWS, body->w };
	s->form = (struct rect){ body->y, body->x, body->h - PROGRESS_ROWS,
	    body->w };
	s->area_rows = s->form.h - FORM_ROWS;
	if (s->area_rows < 1)
		s->area_rows = 1;
	view->n_panes = 1;
}

#define LABEL_X 2
#define VALUE_X 14                      /* choices: a space, the name */
#define EDIT_X (VALUE_X + 1)

/* The caption of a field, marked when it has the keys. */
static void
draw_caption(struct app *app, struct newrun_state *s, int y,
    enum field field, const char *caption)
{
	int focused = s->focus == field;

	if (focused)
		draw_wchar(app, y, 0, app->glyphs.unicode ? 0x25b8 : '>',
		    EL_PANE_FOCUS);
	draw_text(app, y, LABEL_X, VALUE_X - LABEL_X - 1, caption,
	    focused ? EL_PANE_FOCUS : EL_HEADER);
}

/* A row of choices, the chosen one standing out; then a few words. */
static void
draw_choices(struct app *app, struct newrun_state *s, int y, enum field field,
    const struct described_name *choices, int n, int chosen)
{
	int x = VALUE_X, i, right = s->form.x + s->form.w - 1;
	char text[64];

	for (i = 0; i < n && x < right; i++) {
		snprintf(text, sizeof text, " %s ", choices[i].name);
		x += draw_text(app, y, x, right - x, text, i != chosen ?
		    EL_NORMAL : s->focus == field ? EL_SELECTED : EL_KEY);
		x++;
	}
	if (x + 2 < right)
		draw_text(app, y, x + 1, right - x - 1,
		    choices[chosen].description, EL_DIM);
}

/* Text over at most rows lines of w cells, broken at spaces; the lines
 * used. */
static int
draw_wrapped(const struct app *app, int y, int x, int w, int rows,
    const char *text, enum element element)
{
	char line[512];
	size_t n, cut;
	int used = 0;

	while (*text != '\0' && used < rows) {
		n = strlen(text);
		if (n >= sizeof line)
			n = sizeof line - 1;
		memcpy(line, text, n);
		line[n] = '\0';
		cut = n;
		/* The last line takes what is left, cut at the edge. */
		while (used < rows - 1 && cut > 0 && text_width(line) > w) {
			while (cut > 0 && line[cut - 1] != ' ')
				cut--;
			while (cut > 0 && line[cut - 1] == ' ')
				cut--;
			line[cut] = '\0';
		}
		if (cut == 0)
			cut = n;        /* one word wider than the pane */
		line[cut] = '\0';
		draw_text(app, y + used++, x, w, line, element);
		text += cut;
		while (*text == ' ')
			text++;
	}
	return used;
}

/* "1.23M" for a rate. */
static void
format_si(char *out, size_t size, double x)
{
	static const char *const prefixes[] = { "", "k", "M", "G", "T" };
	int i = 0;

	while (x >= 999.5 && i < 4) {
		x /= 1000.0;
		i++;
	}
	snprintf(out, size, x < 9.995 && i > 0 ? "%.2f%s" : x < 99.95 &&
	    i > 0 ? "%.1f%s" : "%.0f%s", x, prefixes[i]);
}

static void
draw_progress(struct app *app, struct newrun_state *s)
{
	const struct rect *r = &s->progress;
	const struct job_status *st = &s->status;
	int y = r->y + 1, x = r->x + 2, w = r->w - 4, bar, used;
	double now = now_seconds(), elapsed, rate, eta;
	char line[512], number[32], duration[32], tail[128];

	draw_pane_title(app, r, "Analysis", 0);
	if (s->job == NULL && !s->ran) {
		draw_text(app, y, x, w, "Nothing analysed yet.  The other views "
		    "stay in use while one is.", EL_DIM);
		return;
	}
	switch (st->state) {
	case JOB_PREPARING:
		draw_textf(app, y, x, w, EL_NORMAL, "%s: reading the text and "
		    "loading the model...", s->what);
		draw_text(app, y + 1, x, w, "Esc stops it.", EL_DIM);
		break;
	case JOB_ANALYSING:
		elapsed = now - st->analysis_start;
		rate = elapsed > 0 ? st->route_tokens / elapsed : 0.0;
		snprintf(line, sizeof line, " %3.0f%%", 100.0 * st->fraction);
		format_si(number, sizeof number, rate);
		if (st->fraction > 0.005) {
			eta = elapsed * (1.0 - st->fraction) / st->fraction;
			format_duration(duration, sizeof duration, eta);
		} else
			snprintf(duration, sizeof duration, "?");
		snprintf(tail, sizeof tail, "  %s route-tokens/s  ETA %s",
		    number, duration);
		/* the bar takes what the numbers leave */
		bar = w - text_width(line) - text_width(tail);
		if (bar > 60)
			bar = 60;
		if (bar > 4) {
			int i;

			for (i = 0; i < bar; i++)
				draw_wchar(app, y, x + i, app->glyphs.unicode ?
				    0x2591 : '.', EL_DIM);
			draw_bar(app, y, x, bar, st->fraction, EL_BIG);
		} else
			bar = 0;
		used = bar + draw_text(app, y, x + bar, w - bar, line,
		    EL_NORMAL);
		draw_text(app, y, x + used, w - used, tail, EL_DIM);
		draw_textf(app, y + 1, x, w, EL_NORMAL, "%s: %zu tokens, "
		    "%d layers, space %s, context %s", s->what, st->n_tokens,
		    st->n_layer, spaces[s->space].name,
		    contexts[s->context].name);
		draw_text(app, y + 2, x, w, "Esc stops it; the other views "
		    "stay in use meanwhile.", EL_DIM);
		break;
	case JOB_DONE:
		if (st->control_id > 0)
			draw_textf(app, y, x, w, EL_NORMAL, "Run %lld stored "
			    "with its null control, run %lld: %s, %zu tokens "
			    "in %.1f s.", (long long)st->run_id,
			    (long long)st->control_id, s->what, st->n_tokens,
			    st->seconds);
		else
			draw_textf(app, y, x, w, EL_NORMAL, "Run %lld stored: "
			    "%s, %zu tokens in %.1f s.", (long long)st->run_id,
			    s->what, st->n_tokens, st->seconds);
		draw_text(app, y + 1, x, w, "The runs view (1) has it "
		    "selected; Enter there opens it.", EL_DIM);
		break;
	case JOB_FAILED:
		y += draw_wrapped(app, y, x, w, r->h - 2, st->message,
		    EL_ERROR);
		if (!st->kept)
			draw_textf(app, y, x, w, EL_DIM, "Nothing was stored "
			    "of %s.", s->what);
		break;
	case JOB_CANCELLED:
		draw_textf(app, y, x, w, EL_NORMAL, "Stopped after %.1f s: "
		    "nothing was stored of %s.", st->now - st->start, s->what);
		break;
	}
}

/* The model file as shown: relative to here when it is below here. */
static const char *
short_path(const char *path, char *buf, size_t size)
{
	char here[4096];
	size_t n;

	if (path[0] == '/' && getcwd(here, sizeof here) != NULL) {
		n = strlen(here);
		if (strncmp(path, here, n) == 0 && path[n] == '/') {
			snprintf(buf, size, "%s", path + n + 1);
			return buf;
		}
	}
	return path;
}

/* The fields below the text: space, context, label, routers, null
 * control, model. */
static void
draw_fields(struct app *app, struct newrun_state *s, int y)
{
	const struct rect *r = &s->form;
	const char *model = default_model_path(NULL);
	int w = r->w - EDIT_X - 1, i, x;
	char buf[1024];

	draw_caption(app, s, y, FIELD_SPACE, "Space");
	draw_choices(app, s, y, FIELD_SPACE, spaces, N_SPACES, s->space);
	y++;
	draw_caption(app, s, y, FIELD_CONTEXT, "Context");
	draw_choices(app, s, y, FIELD_CONTEXT, contexts, N_CONTEXTS,
	    s->context);
	y++;
	draw_caption(app, s, y, FIELD_LABEL, "Label");
	edit_draw_line(app, y, EDIT_X, w, &s->label, s->focus == FIELD_LABEL,
	    "(none)");
	y++;
	draw_caption(app, s, y, FIELD_ROUTERS, "Routers");
	if (s->n_routers == 0)
		draw_text(app, y, EDIT_X, w, "none in this model", EL_DIM);
	for (i = 0, x = EDIT_X; i < s->n_routers && x < r->w - 1; i++) {
		/* a router of another space is shown, not offered */
		snprintf(buf, sizeof buf, "[%c] %s",
		    !router_fits_space(s, i) ? '-' : s->router_on[i] ? 'x' :
		    ' ', s->routers[i]);
		x += draw_text(app, y, x, r->w - 1 - x, buf,
		    s->focus == FIELD_ROUTERS && i == s->router_cursor ?
		    EL_SELECTED : router_fits_space(s, i) ? EL_NORMAL :
		    EL_DIM) + 2;
	}
	y++;
	draw_caption(app, s, y, FIELD_NULL, "Null model");
	draw_choices(app, s, y, FIELD_NULL, null_choices, 2, s->null_control);
	y++;
	draw_caption(app, s, y, FIELD_LOSSES, "Tables");
	draw_choices(app, s, y, FIELD_LOSSES, losses_choices, N_LOSSES,
	    s->losses);
	y++;
	draw_text(app, y, LABEL_X, VALUE_X - LABEL_X - 1, "Model", EL_HEADER);
	draw_text(app, y, EDIT_X, w, short_path(model, buf, sizeof buf),
	    EL_DIM);
}

static void
newrun_draw(struct app *app, struct view *view)
{
	struct newrun_state *s = state_of(view);
	const struct rect *r = &s->form;
	int y = r->y, w = r->w - EDIT_X - 1, rows;
	char buf[1024];

	draw_pane_title(app, r, "New run: analyse a text and keep it as a run",
	    1);
	y++;
	draw_caption(app, s, y, FIELD_SOURCE, "Text from");
	draw_choices(app, s, y, FIELD_SOURCE, sources, N_SOURCES, s->source);
	y++;
	rows = s->source == SOURCE_PASTE ? s->area_rows : 1;
	switch (s->source) {
	case SOURCE_FILE:
		draw_caption(app, s, y, FIELD_INPUT, "File");
		edit_draw_line(app, y, EDIT_X, w, &s->path,
		    s->focus == FIELD_INPUT, "(a path; Tab completes it)");
		break;
	case SOURCE_PASTE:
		draw_caption(app, s, y, FIELD_INPUT, "Text");
		snprintf(buf, sizeof buf, "%zu chars", s->area.length);
		if (rows > 1)
			draw_text(app, y + 1, LABEL_X, VALUE_X - LABEL_X - 1,
			    buf, EL_DIM);
		s->area_width = w;
		edit_draw_area(app, y, EDIT_X, w, rows, &s->area,
		    &s->area_top, s->focus == FIELD_INPUT, "(nothing yet: "
		    "paste a text here, or type one)");
		break;
	case SOURCE_LINE:
		draw_caption(app, s, y, FIELD_INPUT, "Line");
		edit_draw_line(app, y, EDIT_X, w, &s->line,
		    s->focus == FIELD_INPUT, "(a line of text)");
		break;
	default:
		break;
	}
	y += rows;
	/* A list of names takes the rows of the fields below until the next
	 * key. */
	if (s->candidates.n > 0)
		completion_draw(app, &s->candidates, y, EDIT_X, r->w - EDIT_X - 1,
		    r->y + r->h - 2 - y);
	else
		draw_fields(app, s, y);
	if (focused_edit(s) == &s->area)
		snprintf(buf, sizeof buf, "C-r: start  Enter: new line  "
		    "Up/Down: line  Esc: back  F1: keys");
	else
		snprintf(buf, sizeof buf, "Enter: start  Up/Down: field  "
		    "Left/Right: choose  Tab: complete  Esc: back");
	draw_text(app, r->y + r->h - 1, LABEL_X, r->w - LABEL_X - 1, buf,
	    EL_DIM);
	draw_progress(app, s);
}

/* ---- starting, following and ending the analysis ----------------------- */

static void
start_job(struct app *app, struct newrun_state *s)
{
	struct job_request req;
	struct duo_error err;
	struct stat st;
	char *typed = NULL, *text = NULL, *label = NULL, expanded[4096];
	char routers[4096];
	const char *path = NULL, *base;
	size_t length = 0, i, n;
	int lines = 0;

	if (s->job != NULL) {
		app_error(app, "an analysis is running (%.0f%%): one at a "
		    "time", 100.0 * s->status.fraction);
		return;
	}
	memset(&req, 0, sizeof req);
	req.model_path = default_model_path(NULL);
	req.db_option = app->options.db_option;
	req.space = spaces[s->space].name;
	req.context = contexts[s->context].name;
	if (s->source == SOURCE_FILE) {
		if ((typed = edit_utf8(&s->path, NULL)) == NULL)
			goto nomem;
		if (*typed == '\0') {
			app_error(app, "type the path of a text file first (Tab "
			    "completes it)");
			goto out;
		}
		path = expand_home(typed, expanded, sizeof expanded);
		if (stat(path, &st) != 0) {
			app_error(app, "%s: %s", typed, strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			app_error(app, "%s is a folder; a text file is needed",
			    typed);
			goto out;
		}
		req.path = path;
		base = strrchr(typed, '/');
		snprintf(s->what, sizeof s->what, "%s", base != NULL &&
		    base[1] != '\0' ? base + 1 : typed);
	} else {
		if ((text = edit_utf8(input_edit(s), &length)) == NULL)
			goto nomem;
		if (length == 0) {
			app_error(app, "%s", s->source == SOURCE_PASTE ?
			    "paste or type a text first" :
			    "type a line first");
			goto out;
		}
		for (i = 0; i < length; i++)
			lines += text[i] == '\n';
		req.text = text;
		req.length = length;
		if (s->source == SOURCE_PASTE)
			snprintf(s->what, sizeof s->what, "the pasted text "
			    "(%d line%s)", lines + (text[length - 1] != '\n'),
			    lines + (text[length - 1] != '\n') == 1 ? "" :
			    "s");
		else
			snprintf(s->what, sizeof s->what, "the line");
	}
	if (access(req.model_path, R_OK) != 0) {
		app_error(app, "no model at %s: %s (DUO_MODEL names one)",
		    req.model_path, strerror(errno));
		goto out;
	}
	if ((label = edit_utf8(&s->label, NULL)) == NULL)
		goto nomem;
	req.label = label;
	/* names are at most ROUTER_NAME_MAX bytes, so each fits */
	for (i = 0, n = 0; i < (size_t)s->n_routers &&
	    n + ROUTER_NAME_MAX + 2 < sizeof routers; i++)
		if (s->router_on[i] && router_fits_space(s, (int)i))
			n += (size_t)snprintf(routers + n, sizeof routers - n,
			    "%s%s", n > 0 ? "," : "", s->routers[i]);
	req.routers = n > 0 ? routers : NULL;
	req.null_control = s->null_control;
	req.null_seed = NULL_SEED;
	req.tables = (enum store_tables)s->losses;
	s->job = job_start(&req, &err);
	if (s->job == NULL) {
		app_error(app, "%s", err.message);
		goto out;
	}
	s->seen = 0;
	s->ran = 1;
	memset(&s->status, 0, sizeof s->status);
	job_poll(s->job, &s->seen, &s->status);
	completion_clear(&s->candidates);
	app_message(app, "analysing %s; Esc stops it", s->what);
	goto out;
nomem:
	app_error(app, "out of memory");
out:
	free(typed);
	free(text);
	free(label);
}

/* Is an analysis running? */
static int
newrun_busy(struct app *app, struct view *view)
{
	struct newrun_state *s = state_of(view);

	return s != NULL && s->job != NULL;
}

/* Put the analysis's progress before the status line's right. */
static void
newrun_status(struct app *app, struct view *view, char *buf, size_t size)
{
	struct newrun_state *s = state_of(view);
	char rest[256];

	if (s == NULL || s->job == NULL)
		return;
	snprintf(rest, sizeof rest, "%s", buf);
	if (s->status.state == JOB_ANALYSING)
		snprintf(buf, size, " analysing %.0f%% %s",
		    100.0 * s->status.fraction, rest);
	else
		snprintf(buf, size, " preparing %s", rest);
}

/* The job has ended: list its run, or say why there is none. */
static void
job_ended(struct app *app, struct newrun_state *s)
{
	const struct job_status *st = &s->status;
	struct view_arg select = { ASK_SELECT_RUN, st->run_id };

	job_free(s->job);
	s->job = NULL;
	/* Even a run that failed may have made the database. */
	app_reload(app);
	switch (st->state) {
	case JOB_DONE:
		/* The runs view selects it, and comes forward from here. */
		if (app_view_id(app) == VIEW_NEWRUN)
			app_show(app, VIEW_RUNS, &select);
		else
			app_tell(app, VIEW_RUNS, &select);
		app_message(app, "run %lld stored%s (%zu tokens, %.1f s): %s "
		    "opens it", (long long)st->run_id, st->control_id > 0 ?
		    " with its null control" : "", st->n_tokens,
		    st->seconds, app_view_id(app) == VIEW_RUNS ? "Enter" :
		    "1 lists it, Enter");
		break;
	case JOB_CANCELLED:
		app_message(app, "analysis stopped; nothing was stored");
		break;
	default:
		app_error(app, "%s", st->message);
		break;
	}
}

/* Follow the analysis: 1 if the screen should be drawn again. */
static int
newrun_poll(struct app *app, struct view *view)
{
	struct newrun_state *s = state_of(view);

	if (s == NULL || s->job == NULL)
		return 0;
	job_poll(s->job, &s->seen, &s->status);
	if (s->status.state >= JOB_DONE) {
		job_ended(app, s);
		return 1;
	}
	/* The bar and the clock move whether or not the engine said more. */
	return 1;
}

/* Wait for the analysis to end (or to report progress) and take its
 * outcome; -1 on timeout. */
static int
newrun_wait(struct app *app, struct view *view, double seconds,
    int until_progress)
{
	struct newrun_state *s = state_of(view);

	if (s == NULL || s->job == NULL)
		return 0;
	if (!job_wait(s->job, seconds, until_progress))
		return -1;
	newrun_poll(app, view);
	return 0;
}

/* Asked to analyse the shipped example text (the first-run offer): set
 * the form to it and start at once; -1 if it cannot, with a message. */
static int
newrun_open(struct app *app, struct view *view, const struct view_arg *arg)
{
	struct newrun_state *s = state_of(view);
	struct duo_error err;
	char path[4096];

	if (arg->ask != ASK_EXAMPLE)
		return 0;
	if (s->job != NULL) {
		start_job(app, s);      /* says that one is running */
		return -1;
	}
	if (example_text_path(path, sizeof path, &err) != 0) {
		app_error(app, "%s", err.message);
		return -1;
	}
	s->source = SOURCE_FILE;
	s->space = 0;
	s->context = 0;
	s->focus = FIELD_INPUT;
	completion_clear(&s->candidates);
	if (edit_set(&s->path, path) != 0 || edit_set(&s->label, "") != 0) {
		app_error(app, "out of memory");
		return -1;
	}
	start_job(app, s);
	return 0;
}

/* ---- keys ------------------------------------------------------------------ */

static void
move_field(struct newrun_state *s, int delta)
{
	int f = (int)s->focus + delta;

	if (f < 0)
		f = 0;
	if (f >= N_FIELDS)
		f = N_FIELDS - 1;
	s->focus = (enum field)f;
}

/* The width the area was last drawn at (before any draw, a guess). */
static int
area_width(const struct newrun_state *s)
{
	return s->area_width > 0 ? s->area_width : 40;
}

/* Up or Down in the area: a row, leaving it at its first or last. */
static void
area_move(struct newrun_state *s, int delta)
{
	if (edit_area_move(&s->area, area_width(s), delta) != 0)
		move_field(s, delta);
}

/* Home and End of the line the cursor is on (of the row in the area). */
static void
edit_line_end(struct newrun_state *s, struct edit *e, int end)
{
	if (e != &s->area) {
		e->cursor = end ? e->length : 0;
		return;
	}
	edit_area_row_end(e, area_width(s), end);
}

static void
choose(struct newrun_state *s, int delta)
{
	switch (s->focus) {
	case FIELD_SOURCE:
		s->source = (enum source)(((int)s->source + delta +
		    N_SOURCES) % N_SOURCES);
		break;
	case FIELD_SPACE:
		s->space = (s->space + delta + N_SPACES) % N_SPACES;
		break;
	case FIELD_CONTEXT:
		s->context = (s->context + delta + N_CONTEXTS) % N_CONTEXTS;
		break;
	case FIELD_ROUTERS:
		if (s->n_routers > 0)
			s->router_cursor = (s->router_cursor + delta +
			    s->n_routers) % s->n_routers;
		break;
	case FIELD_NULL:
		s->null_control = !s->null_control;
		break;
	case FIELD_LOSSES:
		s->losses = (s->losses + delta + N_LOSSES) % N_LOSSES;
		break;
	default:
		break;
	}
}

/* Characters typed or pasted into the text field that has the keys. */
static int
newrun_key(struct app *app, struct view *view, int key)
{
	struct newrun_state *s = state_of(view);
	struct edit *e;

	if (key == TUI_PASTE_BEGIN) {
		/* A paste goes into the path, the line or the label when
		 * one of them has the keys, else into the area. */
		if (focused_edit(s) == NULL || (s->focus == FIELD_INPUT &&
		    s->source == SOURCE_PASTE)) {
			s->source = SOURCE_PASTE;
			s->focus = FIELD_INPUT;
		}
		completion_clear(&s->candidates);
		return 1;
	}
	if (key == TUI_PASTE_END)
		return 1;
	/* While the analysis runs the form shows what it analyses: what
	 * is typed then is keys for the key table (1 shows the runs), never
	 * text for a field. */
	e = s->job == NULL ? focused_edit(s) : NULL;
	if (e == NULL)
		return 0;
	if (app->pasting || e == &s->area) {
		/* Line ends: new lines in the area, spaces in a line. */
		if (key == '\n' || (app->pasting && key == '\t')) {
			if (edit_insert(e, e == &s->area ? (wchar_t)key :
			    ' ') != 0)
				app_error(app, "the text is too long to type "
				    "here; save it to a file");
			return 1;
		}
	}
	if (key < 32 || key == 127 || key >= TUI_FN(0))
		return 0;
	completion_clear(&s->candidates);
	if (edit_insert(e, (wchar_t)key) != 0)
		app_error(app, "the text is too long to type here; save it "
		    "to a file");
	return 1;
}

/* Does the action change the form (and not only where its keys are)? */
static int
form_changes(enum action_id action)
{
	switch (action) {
	case ACT_LEFT:
	case ACT_RIGHT:
	case ACT_ERASE_BACK:
	case ACT_ERASE:
	case ACT_CLEAR:
	case ACT_TOGGLE:
		return 1;
	default:
		return 0;
	}
}

static int
newrun_request(struct app *app, struct view *view, enum action_id action)
{
	struct newrun_state *s = state_of(view);
	struct edit *e = focused_edit(s);

	if (action != ACT_COMPLETE)
		completion_clear(&s->candidates);
	if (s->job != NULL && form_changes(action)) {
		app_message(app, "the form is kept as analysed until the "
		    "analysis ends; Esc stops it");
		return 1;
	}
	switch (action) {
	case ACT_UP:
	case ACT_DOWN:
		if (e == &s->area)
			area_move(s, action == ACT_DOWN ? 1 : -1);
		else
			move_field(s, action == ACT_DOWN ? 1 : -1);
		return 1;
	case ACT_FIELD_PREV:
		move_field(s, -1);
		return 1;
	case ACT_LEFT:
	case ACT_RIGHT:
		if (e == NULL)
			choose(s, action == ACT_RIGHT ? 1 : -1);
		else if (action == ACT_LEFT && e->cursor > 0)
			e->cursor--;
		else if (action == ACT_RIGHT && e->cursor < e->length)
			e->cursor++;
		return 1;
	case ACT_LINE_START:
	case ACT_LINE_END:
		if (e != NULL)
			edit_line_end(s, e, action == ACT_LINE_END);
		return 1;
	case ACT_ERASE_BACK:
		if (e != NULL)
			edit_erase_back(e);
		return 1;
	case ACT_ERASE:
		if (e != NULL)
			edit_erase(e);
		return 1;
	case ACT_CLEAR:
		if (e != NULL)
			edit_clear(e);
		return 1;
	case ACT_COMPLETE:
		if (s->focus == FIELD_INPUT && s->source == SOURCE_FILE &&
		    s->job == NULL)
			complete_path(app, &s->path, &s->candidates);
		else
			move_field(s, 1);
		return 1;
	case ACT_TOGGLE:
		if (s->focus == FIELD_NULL)
			s->null_control = !s->null_control;
		if (s->focus == FIELD_LOSSES)
			choose(s, 1);
		if (s->focus != FIELD_ROUTERS)
			return 1;
		if (s->n_routers == 0)
			app_message(app, "this model has no learned routers");
		else if (!router_fits_space(s, s->router_cursor))
			app_message(app, "router %s chooses in the space %s, "
			    "not in %s", s->routers[s->router_cursor],
			    s->router_space[s->router_cursor],
			    spaces[s->space].name);
		else
			s->router_on[s->router_cursor] =
			    !s->router_on[s->router_cursor];
		return 1;
	case ACT_START:
		start_job(app, s);
		return 1;
	case ACT_CANCEL:
		if (s->job != NULL) {
			job_cancel(s->job);
			app_message(app, "stopping the analysis...");
		} else
			app_back(app);
		return 1;
	default:
		return 0;
	}
}

static void
newrun_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct newrun_state *s = state_of(view);
	int row = y - (s->form.y + 1);

	/* Rows: source, input (area rows), space, context, label,
	 * routers, null model, tables. */
	if (row < 0 || y >= s->form.y + s->form.h)
		return;
	if (row == 0)
		s->focus = FIELD_SOURCE;
	else if (row <= (s->source == SOURCE_PASTE ? s->area_rows : 1))
		s->focus = FIELD_INPUT;
	else {
		row -= (s->source == SOURCE_PASTE ? s->area_rows : 1) - 1;
		if (row >= FIELD_SPACE && row <= FIELD_LOSSES)
			s->focus = (enum field)row;
	}
}

const struct view_ops newrun_view_ops = {
	.name = "new run",
	.title = "New run",
	.id = VIEW_NEWRUN,
	.init = newrun_init,
	.done = newrun_done,
	.open = newrun_open,
	.layout = newrun_layout,
	.draw = newrun_draw,
	.request = newrun_request,
	.click = newrun_click,
	.key = newrun_key,
	.busy = newrun_busy,
	.poll = newrun_poll,
	.wait = newrun_wait,
	.status = newrun_status,
};
