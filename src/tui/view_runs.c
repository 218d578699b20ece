/*
 * view_runs.c - the runs view: every run in the database as a table whose
 * columns come from one table (title, width, how to sort, which to drop
 * first when the window is narrow), a PCRE2 filter over label and text,
 * deletion after a question, and a preview pane of the selected run.
 * A damaged run (store.h) is listed like the others, marked "damaged"
 * in its oracle column, with the reason in the preview; a run that is not
 * complete shows its state and share done there, and in the preview the
 * line that says how to continue it.
 * With no database or no run in it, it tells how to make the first run.
 */
#include "tui.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "draw.h"
#include "loader.h"
#include "search.h"
#include "store.h"
#include "view.h"

struct runs_state {
	size_t *order;                  /* indices into the list, shown */
	size_t n_order;
	size_t selected;                /* into order */
	size_t top;
	int64_t selected_id;            /* kept across rebuilds */
	int sort;                       /* column */
	int reverse;
	pcre2_code *filter;
	char filter_text[256];
	unsigned seen;                  /* loader generation at rebuild */
	int built;
	struct rect list, preview;
	int preview_top;
	int budget;                     /* k the rows were sorted at */
};

/* What a column shows of a run. */
struct cell {
	char text[128];
	double number;                  /* for sorting numbers; NAN: last */
	const char *string;             /* for sorting text */
};

struct column {
	const char *title;
	int width;                      /* 0: takes what is left */
	int right;
	int priority;                   /* higher goes first when narrow */
	void (*fill)(const struct run_info *info,
	    const struct run_summary *summary, int k, struct cell *cell);
};

static void
fill_id(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	snprintf(c->text, sizeof c->text, "%lld", (long long)info->id);
	c->number = (double)info->id;
}

static void
fill_label(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	const char *base;
	char control[40] = "";

	/* a null-model control is its run's text on random weights: say so
	 * before the label it shares with that run */
	if (info->control_of != 0)
		snprintf(control, sizeof control, "null of %lld: ",
		    (long long)info->control_of);
	if (info->label != NULL) {
		snprintf(c->text, sizeof c->text, "%s%s", control,
		    info->label);
	} else {
		base = strrchr(info->source, '/');
		snprintf(c->text, sizeof c->text, "%s(%s)", control,
		    base != NULL ? base + 1 : info->source);
	}
	c->string = c->text;
	c->number = NAN;
}

static void
fill_model(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	if (info->model_name != NULL)
		snprintf(c->text, sizeof c->text, "%s", info->model_name);
	else
		snprintf(c->text, sizeof c->text, "%.8s", info->model_sha256);
	c->string = c->text;
	c->number = NAN;
}

static void
fill_created(const struct run_info *info, const struct run_summary *s,
    int k, struct cell *c)
{
	/* 2024-05-01T10:00:00Z as 2024-05-01 10:00 */
	snprintf(c->text, sizeof c->text, "%.10s %.5s", info->created_at,
	    strlen(info->created_at) > 11 ? info->created_at + 11 : "");
	c->string = info->created_at;
	c->number = NAN;
}

static void
fill_tokens(const struct run_info *info, const struct run_summary *s,
    int k, struct cell *c)
{
	snprintf(c->text, sizeof c->text, "%lld", (long long)info->n_tokens);
	c->number = (double)info->n_tokens;
}

static void
fill_layers(const struct run_info *info, const struct run_summary *s,
    int k, struct cell *c)
{
	snprintf(c->text, sizeof c->text, "%d", info->n_layer);
	c->number = info->n_layer;
}

static void
fill_space(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	snprintf(c->text, sizeof c->text, "%s", info->space);
	c->string = info->space;
	c->number = NAN;
}

static void
fill_context(const struct run_info *info, const struct run_summary *s,
    int k, struct cell *c)
{
	snprintf(c->text, sizeof c->text, "%s", info->context);
	c->string = info->context;
	c->number = NAN;
}

static void
fill_ppl(double mean_loss, struct cell *c)
{
	c->number = exp(mean_loss);
	format_number(c->number, c->text, sizeof c->text);
}

static void
fill_big(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	fill_ppl(info->mean_loss_big, c);
}

static void
fill_small(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	fill_ppl(info->mean_loss_small, c);
}

/*
 * A run that is not complete has no oracle to show (store.h: its
 * fixed-budget methods and means come at the end): its state stands in
 * the oracle column and its share done in the label-free one.
 */
static int
fill_incomplete(const struct run_info *info, int free_column, struct cell *c)
{
	if (info->status == RUN_COMPLETE)
		return 0;
	if (free_column)
		snprintf(c->text, sizeof c->text, "%d%% done",
		    store_share_done(info));
	else
		snprintf(c->text, sizeof c->text, "%s",
		    store_status_name(info->status));
	c->number = NAN;
	return 1;
}

static void
fill_oracle(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	if (fill_incomplete(info, 0, c))
		return;
	if (s == NULL || s->oracle_mean == NULL) {
		/* A damaged run says so where its numbers would be. */
		snprintf(c->text, sizeof c->text, "%s",
		    run_damage(info, s) != NULL ? "damaged" : s == NULL ?
		    "..." : "-");
		c->number = NAN;
		return;
	}
	fill_ppl(s->oracle_mean[k < s->n_layer ? k : s->n_layer], c);
}

/* oracle_free@k beside oracle@k: the oracle's label-free control. */
static void
fill_free(const struct run_info *info, const struct run_summary *s, int k,
    struct cell *c)
{
	if (fill_incomplete(info, 1, c))
		return;
	if (s == NULL || s->free_mean == NULL) {
		snprintf(c->text, sizeof c->text, "%s",
		    run_damage(info, s) != NULL ? "damaged" : s == NULL ?
		    "..." : "-");
		c->number = NAN;
		return;
	}
	fill_ppl(s->free_mean[k < s->n_layer ? k : s->n_layer], c);
}

static const struct column columns[] = {
	{ "id", 4, 1, 0, fill_id },
	{ "label", 0, 0, 0, fill_label },
	{ "model", 12, 0, 5, fill_model },
	{ "created", 16, 0, 6, fill_created },
	{ "tokens", 6, 1, 2, fill_tokens },
	{ "L", 2, 1, 7, fill_layers },
	{ "space", 5, 0, 8, fill_space },
	{ "context", 7, 0, 4, fill_context },
	{ "big", 8, 1, 3, fill_big },
	{ "small", 8, 1, 3, fill_small },
	{ "oracle@k", 9, 1, 1, fill_oracle },
	{ "oracle_free@k", 14, 1, 1, fill_free },
};
#define N_COLUMNS ((int)(sizeof columns / sizeof columns[0]))
#define LABEL_MIN 14

static struct runs_state *
state_of(struct view *view)
{
	return view->state;
}

/* The budget of the oracle column: the app's, for the largest model. */
static int
list_budget(struct app *app)
{
	const struct run_info *runs;
	size_t n, i;
	int L = 0;

	runs = app_runs(app, &n);
	for (i = 0; i < n; i++)
		if (runs[i].n_layer > L)
			L = runs[i].n_layer;
	return app_budget(app, L);
}

static const struct run_summary *
summary_of(struct app *app, size_t i, size_t summarised)
{
	return i < summarised ? loader_summary(app->loader, i) : NULL;
}

struct sort_context {
	struct app *app;
	const struct run_info *runs;
	int column, reverse, k;
	size_t summarised;
};

static int
compare_rows(const void *a, const void *b, void *arg)
{
	const struct sort_context *ctx = arg;
	const struct column *col = &columns[ctx->column];
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	struct cell x, y;
	int c;

	memset(&x, 0, sizeof x);
	memset(&y, 0, sizeof y);
	col->fill(&ctx->runs[i], summary_of(ctx->app, i, ctx->summarised),
	    ctx->k, &x);
	col->fill(&ctx->runs[j], summary_of(ctx->app, j, ctx->summarised),
	    ctx->k, &y);
	if (x.string != NULL && y.string != NULL)
		c = strcmp(x.string, y.string);
	else if (isnan(x.number) || isnan(y.number))
		/* Missing values last, whichever the order. */
		return isnan(x.number) - isnan(y.number);
	else
		c = (x.number > y.number) - (x.number < y.number);
	if (c == 0)
		c = (i > j) - (i < j);
	return ctx->reverse ? -c : c;
}

static int
matches(const struct runs_state *s, const struct run_info *info,
    const struct run_summary *summary)
{
	size_t start, end;

	if (s->filter == NULL)
		return 1;
	if (info->label != NULL && pattern_find(s->filter, info->label,
	    strlen(info->label), 0, &start, &end) == 1)
		return 1;
	return summary != NULL && summary->text != NULL &&
	    pattern_find(s->filter, summary->text, summary->text_length, 0,
	    &start, &end) == 1;
}

/* Filter and sort the list again, keeping the selected run. */
static void
rebuild(struct app *app, struct view *view)
{
	struct runs_state *s = state_of(view);
	const struct run_info *runs;
	struct sort_context ctx;
	size_t n, i, summarised;

	runs = app_runs(app, &n);
	summarised = loader_summarised(app->loader);
	free(s->order);
	s->order = malloc((n + 1) * sizeof *s->order);
	s->n_order = 0;
	if (s->order == NULL)
		return;
	for (i = 0; i < n; i++)
		if (matches(s, &runs[i], summary_of(app, i, summarised)))
			s->order[s->n_order++] = i;
	ctx.app = app;
	ctx.runs = runs;
	ctx.column = s->sort;
	ctx.reverse = s->reverse;
	ctx.k = list_budget(app);
	ctx.summarised = summarised;
	s->budget = ctx.k;
	qsort_r(s->order, s->n_order, sizeof *s->order, compare_rows, &ctx);
	s->selected = 0;
	for (i = 0; i < s->n_order; i++)
		if (runs[s->order[i]].id == s->selected_id)
			s->selected = i;
	if (s->n_order > 0)
		s->selected_id = runs[s->order[s->selected]].id;
	s->built = 1;
}

static void
refresh_if_needed(struct app *app, struct view *view)
{
	struct runs_state *s = state_of(view);

	if (!s->built || s->seen != app->loader_seen ||
	    s->budget != list_budget(app)) {
		s->seen = app->loader_seen;
		rebuild(app, view);
	}
}

static const struct run_info *
selected_run(struct app *app, struct view *view)
{
	struct runs_state *s = state_of(view);
	const struct run_info *runs;
	size_t n;

	runs = app_runs(app, &n);
	if (runs == NULL || s->n_order == 0 || s->selected >= s->n_order)
		return NULL;
	return &runs[s->order[s->selected]];
}

static int
runs_init(struct app *app, struct view *view)
{
	view->state = calloc(1, sizeof(struct runs_state));
	return view->state == NULL ? -1 : 0;
}

static void
runs_done(struct app *app, struct view *view)
{
	struct runs_state *s = state_of(view);

	free(s->order);
	pcre2_code_free(s->filter);
	free(s);
	view->state = NULL;
}

static void
runs_layout(struct app *app, struct view *view, const struct rect *body)
{
	struct runs_state *s = state_of(view);
	int preview = body->h >= 22 ? 8 : body->h >= 14 ? 5 : 0;

	s->list = *body;
	s->list.h -= preview;
	s->preview = (struct rect){ body->y + body->h - preview, body->x,
	    preview, body->w };
	view->n_panes = preview > 0 ? 2 : 1;
}

/* Which columns fit: drop the highest priorities until they do. */
static void
choose_columns(int width, int *shown, int *label_width)
{
	int i, used, drop = 9;

	for (;;) {
		used = 0;
		for (i = 0; i < N_COLUMNS; i++) {
			shown[i] = columns[i].priority < drop;
			if (shown[i])
				used += (columns[i].width > 0 ?
				    columns[i].width : LABEL_MIN) + 1;
		}
		if (used <= width || drop == 1)
			break;
		drop--;
	}
	*label_width = LABEL_MIN + (width - used > 0 ? width - used : 0);
	if (*label_width > 40)
		*label_width = 40;
}

static void
draw_first_run(struct app *app, struct view *view)
{
	const struct rect *r = &app->body;
	const char *base = app->db_path;
	char line[1024], error[1024];
	int y = r->y + 1;

	if (loader_finished(app->loader, error, sizeof error) &&
	    error[0] != '\0') {
		draw_text(app, y++, 2, r->w - 4, "The database cannot be read:",
		    EL_ERROR);
		draw_text(app, ++y, 4, r->w - 6, error, EL_NORMAL);
		y += 2;
		draw_text(app, y, 2, r->w - 4, "Press R to try again, or q to "
		    "quit.", EL_DIM);
		return;
	}
	draw_text(app, y++, 2, r->w - 4, "No runs yet.", EL_PANE_FOCUS);
	y++;
	snprintf(line, sizeof line, "duo keeps its runs in %s, which %s.",
	    base, app->db_missing ? "does not exist yet" : "holds none");
	/* A long path goes on a line of its own rather than be cut. */
	if (text_width(line) <= r->w - 4)
		draw_text(app, y++, 2, r->w - 4, line, EL_NORMAL);
	else {
		draw_text(app, y++, 2, r->w - 4, "duo keeps its runs in",
		    EL_NORMAL);
		draw_text_cut(app, y++, 4, r->w - 6, base, EL_NORMAL);
		draw_text(app, y++, 2, r->w - 4, app->db_missing ? "which "
		    "does not exist yet." : "which holds none.", EL_NORMAL);
	}
	y++;
	/* The offer: a first run made here, with a progress bar. */
	draw_text(app, y, 2, 6, "Press", EL_NORMAL);
	draw_text(app, y, 8, 1, "e", EL_KEY);
	draw_text(app, y++, 10, r->w - 12, "to analyse the example text, "
	    "letter.txt, now;", EL_NORMAL);
	draw_text(app, y++, 2, r->w - 4, "its run shows in this list when it "
	    "is stored.", EL_NORMAL);
	draw_text(app, y, 2, 6, "Press", EL_NORMAL);
	draw_text(app, y, 8, 1, "n", EL_KEY);
	draw_text(app, y++, 10, r->w - 12, "to analyse a text of your own: a "
	    "file, a pasted text", EL_NORMAL);
	draw_text(app, y++, 2, r->w - 4, "or a line typed in.", EL_NORMAL);
	y++;
	draw_text(app, y++, 2, r->w - 4, "Or, in a shell:", EL_NORMAL);
	draw_text(app, y++, 6, r->w - 8, "duo run examples/letter.txt",
	    EL_KEY);
	draw_text(app, y++, 2, r->w - 4, "then press R here to read the "
	    "database again.", EL_NORMAL);
	draw_text(app, y++, 2, r->w - 4, "'duo run --help' lists its "
	    "options: model, route space, context, label.", EL_DIM);
	y++;
	draw_text(app, y++, 2, r->w - 4, "? lists the keys; q quits.",
	    EL_DIM);
}

/* The run of that id in the list, or SIZE_MAX. */
static size_t
run_index(const struct run_info *runs, size_t n, int64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (runs[i].id == id)
			return i;
	return SIZE_MAX;
}

/*
 * One row of the null-control table: caption, then at each budget the
 * oracle's change of perplexity from all-big, in per cent, as far as the
 * pane allows; "-" where the run has no such budget.
 */
static void
draw_change_row(struct app *app, int y, int x, int w, const char *caption,
    const struct run_info *info, const struct run_summary *summary, int L)
{
	char line[1024];
	size_t used;
	double change;
	int k;

	used = (size_t)snprintf(line, sizeof line, "%-16.16s", caption);
	for (k = 0; k <= L && used + 8 < sizeof line; k++) {
		change = summary != NULL && summary->oracle_mean != NULL &&
		    k <= summary->n_layer ? 100.0 * (exp(summary->oracle_mean[
		    k] - info->mean_loss_big) - 1.0) : NAN;
		if (fabs(change) < 0.5)
			change = 0.0;   /* no "-0%" */
		used += (size_t)(isfinite(change) ? snprintf(line + used,
		    sizeof line - used, " %4.0f%%", change) :
		    snprintf(line + used, sizeof line - used, " %5s", "-"));
	}
	draw_text_cut(app, y, x, w, line, EL_NORMAL);
}

/*
 * A run with a null-model control (runs.control_of), or a control: the
 * oracle's change from all-big at each budget on the real model and on
 * the null one, the part of the oracle's gain that a model that has
 * learned nothing shows too.  The rows used.
 */
static int
draw_control(struct app *app, const struct run_info *info, int y, int x,
    int w)
{
	const struct run_info *runs, *real = info, *null = NULL;
	size_t n, i, j, summarised = loader_summarised(app->loader);
	char caption[64], line[1024];
	size_t used;
	int L = info->n_layer, k;

	runs = app_runs(app, &n);
	if (runs == NULL)
		return 0;
	if (info->control_of != 0) {
		null = info;
		i = run_index(runs, n, info->control_of);
		real = i == SIZE_MAX ? NULL : &runs[i];
	} else
		for (j = 0; j < n && null == NULL; j++)
			if (runs[j].control_of == info->id)
				null = &runs[j];
	if (null == NULL || real == NULL)
		return 0;
	used = (size_t)snprintf(line, sizeof line, "%-16s",
	    "oracle/big, k");
	for (k = 0; k <= L && used + 8 < sizeof line; k++)
		used += (size_t)snprintf(line + used, sizeof line - used,
		    " %5d", k);
	draw_text_cut(app, y, x, w, line, EL_HEADER);
	i = run_index(runs, n, real->id);
	snprintf(caption, sizeof caption, "run %lld", (long long)real->id);
	draw_change_row(app, y + 1, x, w, caption, real,
	    summary_of(app, i, summarised), L);
	j = run_index(runs, n, null->id);
	snprintf(caption, sizeof caption, "null, run %lld", (long long)
	    null->id);
	draw_change_row(app, y + 2, x, w, caption, null,
	    summary_of(app, j, summarised), L);
	return 3;
}

static void
draw_preview(struct app *app, struct view *view)
{
	struct runs_state *s = state_of(view);
	const struct run_info *info = selected_run(app, view);
	const struct run_summary *summary;
	const struct rect *r = &s->preview;
	const char *damage;
	char line[1024];
	size_t i, n, k, summarised = loader_summarised(app->loader);
	int y = r->y + 1, x = r->x + 1, line_no = 0, w;
	wchar_t wc;

	draw_pane_title(app, r, "Selected run", view->focus == 1);
	if (info == NULL)
		return;
	snprintf(line, sizeof line, "model %s, %d layers, d %d, %d heads, "
	    "ffn %d/%d; space %s; context %s%s%s", info->model_name != NULL ?
	    info->model_name : info->model_sha256, info->n_layer,
	    info->d_model, info->n_head, info->d_ff, info->d_ff_small,
	    info->space, info->context, info->context_route != NULL ? " " :
	    "", info->context_route != NULL ? info->context_route : "");
	draw_text_cut(app, y++, x, r->w - 2, line, EL_DIM);
	snprintf(line, sizeof line, "source %s; %lld tokens; created %s; "
	    "%.1f s%s", info->source, (long long)info->n_tokens,
	    info->created_at, info->seconds, info->approximate ?
	    "; approximate (beam)" : "");
	draw_text(app, y++, x, r->w - 2, line, EL_DIM);
	y += draw_control(app, info, y, x, r->w - 2);
	i = s->order[s->selected];
	summary = summary_of(app, i, summarised);
	if ((damage = run_damage(info, summary)) != NULL) {
		snprintf(line, sizeof line, "damaged: %s", damage);
		draw_text(app, y, x, r->w - 2, line, EL_ERROR);
		return;
	}
	if (info->status != RUN_COMPLETE) {
		store_describe_incomplete(app->db_path, info, line,
		    sizeof line);
		draw_text(app, y, x, r->w - 2, line, EL_MARK);
		return;
	}
	if (summary == NULL || summary->text == NULL) {
		draw_text(app, y, x, r->w - 2, summary == NULL ?
		    "(reading the text...)" : "(the text cannot be read)",
		    EL_DIM);
		return;
	}
	/* The text, wrapped by cells, from the preview's scroll line. */
	n = summary->text_length;
	k = 0;
	w = 0;
	while (k < n && y < r->y + r->h) {
		if (utf8_next(summary->text, n, &k, &wc) != 0 || wc == '\t' ||
		    (wc < 32 && wc != '\n') || wc == 127)
			wc = wc == '\t' ? ' ' : app->glyphs.replacement;
		if (wc == '\n' || w + (wcwidth(wc) > 0 ? wcwidth(wc) : 0) >
		    r->w - 2) {
			line_no++;
			if (line_no > s->preview_top)
				y++;
			w = 0;
			if (wc == '\n')
				continue;
		}
		if (wcwidth(wc) <= 0 || y >= r->y + r->h)
			continue;
		if (line_no >= s->preview_top)
			draw_wchar(app, y, x + w, wc, EL_NORMAL);
		w += wcwidth(wc);
	}
}

static void
runs_draw(struct app *app, struct view *view)
{
	struct runs_state *s = state_of(view);
	const struct run_info *runs;
	const struct rect *r = &s->list;
	int shown[N_COLUMNS], label_width, i, x, y, rows, w;
	size_t n, row, summarised;
	char title[512], header[64];
	struct cell cell;

	runs = app_runs(app, &n);
	if (runs == NULL && !app->db_missing && !app->runs_read) {
		draw_textf(app, r->y + 1, 2, r->w - 4, EL_DIM,
		    "Reading %s...", app->db_path);
		return;
	}
	if (runs == NULL || n == 0) {
		draw_first_run(app, view);
		return;
	}
	refresh_if_needed(app, view);
	summarised = loader_summarised(app->loader);
	if (s->filter != NULL)
		snprintf(title, sizeof title, "Runs: %zu of %zu match /%s/, "
		    "by %s%s", s->n_order, n, s->filter_text,
		    columns[s->sort].title, s->reverse ? " (reversed)" : "");
	else
		snprintf(title, sizeof title, "Runs: %zu, by %s%s", n,
		    columns[s->sort].title, s->reverse ? " (reversed)" : "");
	if (summarised < n)
		snprintf(title + strlen(title), sizeof title - strlen(title),
		    "; reading %zu of %zu", summarised, n);
	draw_pane_title(app, r, title, view->focus == 0 && view->n_panes > 1);

	choose_columns(r->w - 1, shown, &label_width);
	y = r->y + 1;
	x = r->x + 1;
	draw_style(app, EL_HEADER);
	for (i = 0; i < N_COLUMNS; i++) {
		if (!shown[i])
			continue;
		w = columns[i].width > 0 ? columns[i].width : label_width;
		if (i >= N_COLUMNS - 2)
			snprintf(header, sizeof header, "%s@%d", i ==
			    N_COLUMNS - 2 ? "oracle" : "oracle_free",
			    list_budget(app));
		else
			snprintf(header, sizeof header, "%s", columns[i].title);
		if (i == s->sort)
			snprintf(header + strlen(header),
			    sizeof header - strlen(header), "%s",
			    app->glyphs.unicode ? (s->reverse ? "\xe2\x96\xbc" :
			    "\xe2\x96\xb2") : (s->reverse ? "v" : "^"));
		draw_text(app, y, columns[i].right && text_width(header) <=
		    w ? x + w - text_width(header) : x, w, header, EL_HEADER);
		x += w + 1;
	}
	rows = r->h - 2;
	if (rows < 1)
		return;
	if (s->selected < s->top)
		s->top = s->selected;
	if (s->selected >= s->top + (size_t)rows)
		s->top = s->selected - (size_t)rows + 1;
	for (row = s->top; row < s->n_order && row < s->top + (size_t)rows;
	    row++) {
		size_t index = s->order[row];
		enum element el = row == s->selected ? EL_SELECTED :
		    EL_NORMAL;

		y = r->y + 2 + (int)(row - s->top);
		if (el == EL_SELECTED) {
			struct rect line = { y, r->x, 1, r->w };

			draw_fill(app, &line, EL_SELECTED);
		}
		/* The run marked for the compare view. */
		if (runs[index].id == app->compare_id)
			draw_wchar(app, y, r->x, app->glyphs.unicode ? 0x25b6 :
			    '>', EL_MARK);
		x = r->x + 1;
		for (i = 0; i < N_COLUMNS; i++) {
			if (!shown[i])
				continue;
			w = columns[i].width > 0 ? columns[i].width :
			    label_width;
			memset(&cell, 0, sizeof cell);
			columns[i].fill(&runs[index], summary_of(app, index,
			    summarised), s->budget, &cell);
			/* A cut cell (a long model name) ends in an
			 * ellipsis. */
			draw_text_cut(app, y, columns[i].right ? x + w -
			    (text_width(cell.text) < w ?
			    text_width(cell.text) : w) : x, w, cell.text, el);
			x += w + 1;
		}
	}
	if (s->n_order == 0)
		draw_text(app, r->y + 2, r->x + 2, r->w - 4, "No run matches "
		    "the filter; / and Enter shows them all.", EL_DIM);
	if (view->n_panes > 1)
		draw_preview(app, view);
}

static void
select_row(struct app *app, struct view *view, size_t row)
{
	struct runs_state *s = state_of(view);
	const struct run_info *runs;
	size_t n;

	if (s->n_order == 0)
		return;
	if (row >= s->n_order)
		row = s->n_order - 1;
	s->selected = row;
	runs = app_runs(app, &n);
	s->selected_id = runs[s->order[row]].id;
	s->preview_top = 0;
}

static void
delete_answer(struct app *app, int yes)
{
	struct view *view = &app->views[VIEW_RUNS];
	const struct run_info *info = selected_run(app, view);
	struct store *store = NULL;
	struct duo_error err;
	int64_t id;

	if (!yes || info == NULL) {
		app_message(app, "nothing deleted");
		return;
	}
	id = info->id;
	if (store_open(&store, app->db_path, 0, &err) != 0 ||
	    store_delete_run(store, id, &err) != 0) {
		if (store != NULL)
			store_close(store);
		app_error(app, "%s", err.message);
		return;
	}
	store_close(store);
	if (app->run_id == id)
		app_close_run(app);
	if (app->compare_id == id)
		app->compare_id = 0;
	app_reload(app);
	app_message(app, "run %lld deleted", (long long)id);
}

static void
open_selected(struct app *app, struct view *view)
{
	const struct run_info *info = selected_run(app, view);

	if (info == NULL) {
		app_error(app, "no run to open");
		return;
	}
	if (app_open_run(app, info->id) == 0)
		app_show(app, VIEW_TEXT, NULL);
}

static int
runs_request(struct app *app, struct view *view, enum action_id action)
{
	struct runs_state *s = state_of(view);
	const struct run_info *info;
	char question[512];
	int page = s->list.h - 2 > 1 ? s->list.h - 2 : 1, shown;

	if (view->focus == 1 && (action == ACT_DOWN || action == ACT_UP)) {
		s->preview_top += action == ACT_DOWN ? 1 : -1;
		if (s->preview_top < 0)
			s->preview_top = 0;
		return 1;
	}
	switch (action) {
	case ACT_DOWN:
		select_row(app, view, s->selected + 1);
		return 1;
	case ACT_UP:
		select_row(app, view, s->selected > 0 ? s->selected - 1 : 0);
		return 1;
	case ACT_PAGE_DOWN:
		select_row(app, view, s->selected + (size_t)page);
		return 1;
	case ACT_PAGE_UP:
		select_row(app, view, s->selected > (size_t)page ?
		    s->selected - (size_t)page : 0);
		return 1;
	case ACT_FIRST:
		select_row(app, view, 0);
		return 1;
	case ACT_LAST:
		select_row(app, view, s->n_order > 0 ? s->n_order - 1 : 0);
		return 1;
	case ACT_OPEN:
		open_selected(app, view);
		return 1;
	case ACT_SORT_NEXT:
		s->sort = (s->sort + 1) % N_COLUMNS;
		s->built = 0;
		app_message(app, "sorted by %s", columns[s->sort].title);
		return 1;
	case ACT_SORT_REVERSE:
		s->reverse = !s->reverse;
		s->built = 0;
		return 1;
	case ACT_FILTER:
		app_prompt_search(app);
		return 1;
	case ACT_DELETE:
		info = selected_run(app, view);
		if (info == NULL) {
			app_error(app, "no run to delete");
			return 1;
		}
		snprintf(question, sizeof question, "Delete run %lld%s%s%s "
		    "(%lld tokens) for good?", (long long)info->id,
		    info->label != NULL ? " \"" : "",
		    info->label != NULL ? info->label : "",
		    info->label != NULL ? "\"" : "",
		    (long long)info->n_tokens);
		app_confirm(app, question, delete_answer);
		return 1;
	case ACT_RELOAD:
		app_reload(app);
		app_message(app, "reading %s again", app->db_path);
		return 1;
	case ACT_NEW_RUN:
		app_show(app, VIEW_NEWRUN, NULL);
		return 1;
	case ACT_EXAMPLE:
		app_show(app, VIEW_NEWRUN, &(struct view_arg){ ASK_EXAMPLE,
		    0 });
		return 1;
	case ACT_MARK:
		info = selected_run(app, view);
		if (info == NULL) {
			app_error(app, "no run to mark");
			return 1;
		}
		if (app->compare_id == info->id) {
			app->compare_id = 0;
			app_message(app, "run %lld unmarked",
			    (long long)info->id);
		} else {
			app->compare_id = info->id;
			app_message(app, "run %lld marked: open a run of the "
			    "same tokens and press 5 to compare the two",
			    (long long)info->id);
		}
		return 1;
	default:
		break;
	}
	shown = action_view(action);
	if (shown >= 0 && (VIEW_BIT(shown) & VIEWS_OF_RUN)) {
		/* From the list, the views of a run open the selected one. */
		info = selected_run(app, view);
		if (info != NULL && app_open_run(app, info->id) == 0)
			app_show(app, (enum view_id)shown, NULL);
		return info != NULL;
	}
	return 0;
}

static void
runs_search(struct app *app, struct view *view, const char *pattern)
{
	struct runs_state *s = state_of(view);
	char message[512];
	pcre2_code *code = NULL;

	if (*pattern != '\0' && (code = pattern_compile(pattern, message,
	    sizeof message)) == NULL) {
		app_error(app, "%s", message);
		return;
	}
	pcre2_code_free(s->filter);
	s->filter = code;
	snprintf(s->filter_text, sizeof s->filter_text, "%s", pattern);
	s->built = 0;
	refresh_if_needed(app, view);
	if (code != NULL)
		app_message(app, "%zu run%s /%s/", s->n_order,
		    s->n_order == 1 ? " matches" : "s match", pattern);
}

/* A click on the header: sort by that column (again: the other way). */
static void
click_header(struct app *app, struct view *view, int x)
{
	struct runs_state *s = state_of(view);
	int shown[N_COLUMNS], label_width, i, left = s->list.x + 1, w;

	choose_columns(s->list.w - 1, shown, &label_width);
	for (i = 0; i < N_COLUMNS; i++) {
		if (!shown[i])
			continue;
		w = columns[i].width > 0 ? columns[i].width : label_width;
		if (x < left + w + 1)
			break;
		left += w + 1;
	}
	if (i == N_COLUMNS)
		return;
	if (i == s->sort)
		s->reverse = !s->reverse;
	else {
		s->sort = i;
		s->reverse = 0;
	}
	s->built = 0;
	app_message(app, "sorted by %s%s", columns[i].title, s->reverse ?
	    ", reversed" : "");
}

static void
runs_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct runs_state *s = state_of(view);
	int row = y - (s->list.y + 2);

	if (y >= s->preview.y && s->preview.h > 0) {
		view->focus = 1;
		return;
	}
	view->focus = 0;
	if (y == s->list.y + 1) {
		click_header(app, view, x);
		return;
	}
	if (row < 0 || s->top + (size_t)row >= s->n_order)
		return;
	select_row(app, view, s->top + (size_t)row);
	if (twice)
		open_selected(app, view);
}

static void
runs_changed(struct app *app, struct view *view)
{
	state_of(view)->built = 0;
}

/* Select the run the opener names, once the list has it. */
static int
runs_open(struct app *app, struct view *view, const struct view_arg *arg)
{
	struct runs_state *s = state_of(view);

	if (arg->ask != ASK_SELECT_RUN)
		return 0;
	/* Kept by the rebuild once the list holds the run. */
	s->selected_id = arg->run_id;
	s->preview_top = 0;
	s->built = 0;
	return 0;
}

const struct view_ops runs_view_ops = {
	.name = "runs",
	.title = "Runs",
	.id = VIEW_RUNS,
	.home = 1,
	.init = runs_init,
	.done = runs_done,
	.open = runs_open,
	.layout = runs_layout,
	.draw = runs_draw,
	.request = runs_request,
	.search = runs_search,
	.click = runs_click,
	.run_changed = runs_changed,
	.list_changed = runs_changed,
};
