/*
 * view_budget.c - the budget view: the run's perplexity against the
 * budget k = 0..L for every method it holds, as a chart with axes (big,
 * small and best are levels), and beneath it the layer allocation at the
 * selected budget, the share of tokens given the big module at each
 * layer (the paper's figure 2), for the oracle and, beside it, another
 * method.  Curves can be hidden (t for the chosen method's, :hide,
 * :show); the chosen method's is drawn last, its name bold.  Over the
 * chart, the chosen method's gap closed at the budget: of the gap from
 * fixed to the oracle, and of the achievable gap from fixed to the
 * label-free oracle.
 */
#include "tui.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "names.h"
#include "run.h"
#include "view.h"

/* Methods past this many are always shown. */
#define MAX_HIDDEN 64

struct budget_state {
	struct rect chart, allocation;
	int compare;                    /* method beside the oracle; -1 auto */
	unsigned char hidden[MAX_HIDDEN];  /* by method: :hide */
};

static struct budget_state *
state_of(struct view *view)
{
	return view->state;
}

static int
budget_init(struct app *app, struct view *view)
{
	view->state = calloc(1, sizeof(struct budget_state));
	if (view->state == NULL)
		return -1;
	state_of(view)->compare = -1;
	return 0;
}

static void
budget_done(struct app *app, struct view *view)
{
	free(view->state);
	view->state = NULL;
}

static void
budget_layout(struct app *app, struct view *view, const struct rect *body)
{
	struct budget_state *s = state_of(view);
	int alloc_h = app->run != NULL ? app->run->L + 3 : 15;

	/* The chart keeps 15 lines (its title, the gaps, the chart); the
	 * allocation shrinks to a strip. */
	if (body->h - alloc_h < 15)
		alloc_h = 4;
	s->chart = (struct rect){ body->y, body->x, body->h - alloc_h,
	    body->w };
	s->allocation = (struct rect){ body->y + body->h - alloc_h, body->x,
	    alloc_h, body->w };
	view->n_panes = 2;
}

/* Can method m be drawn as an allocation (routes at every budget)? */
static int
has_allocation(const struct tui_run *run, int m)
{
	return m >= 0 && (size_t)m < run->n_methods &&
	    run->methods[m].budgeted && run->methods[m].has_routes;
}

/* The method beside the oracle: the chosen one, else a router, fixed. */
static int
compared_method(struct app *app, struct budget_state *s)
{
	const struct tui_run *run = app->run;
	size_t m;

	if (s->compare >= 0 && has_allocation(run, s->compare) &&
	    s->compare != run->oracle)
		return s->compare;
	if (app->method != run->oracle && has_allocation(run, app->method))
		return app->method;
	for (m = 0; m < run->n_methods; m++)
		if (method_find(run->methods[m].name) == METHOD_ROUTER &&
		    has_allocation(run, (int)m))
			return (int)m;
	return run_method_find(run, method_table[METHOD_FIXED].name);
}

/* The share of the gap from fixed to the reference method that method
 * closes at budget k; NAN when the reference is not better than fixed
 * (at k = 0 and L they are one route) or a method is missing. */
static double
gap_closed(const struct tui_run *run, int method, enum method_id reference,
    int k)
{
	double fixed = run_mean(run, run_method_find(run,
	    method_table[METHOD_FIXED].name), k);
	double best = run_mean(run, run_method_find(run,
	    method_table[reference].name), k);
	double mean = method >= 0 ? run_mean(run, method, k) : NAN;

	if (isnan(fixed) || isnan(best) || isnan(mean) || fixed - best < 1e-5)
		return NAN;
	return (fixed - mean) / (fixed - best);
}

/* A share as a percentage, "-" for none. */
static const char *
share_text(double share, char *buf, size_t size)
{
	if (isnan(share))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f%%", 100.0 * share);
	return buf;
}

/* The chosen method's gap closed at the budget, against the oracle and
 * against the label-free oracle (the achievable gap), one line. */
static void
draw_gaps(struct app *app, int y, int x, int w)
{
	const struct tui_run *run = app->run;
	int k = app_budget(app, run->L);
	char a[32], b[32], line[256];

	share_text(gap_closed(run, app->method, METHOD_ORACLE, k), a,
	    sizeof a);
	share_text(gap_closed(run, app->method, METHOD_ORACLE_FREE, k), b,
	    sizeof b);
	snprintf(line, sizeof line, "%s at k=%d: gap closed %s (fixed to "
	    "oracle), achievable %s (fixed to oracle_free)",
	    run->methods[app->method].name, k, a, b);
	/* a narrow window keeps both numbers and what they are against */
	if ((int)strlen(line) > w)
		snprintf(line, sizeof line, "gap closed %s (oracle), %s "
		    "(oracle_free)", a, b);
	draw_text(app, y, x, w, line, EL_NORMAL);
}

static void
draw_curves(struct app *app, struct view *view)
{
	struct budget_state *s = state_of(view);
	const struct tui_run *run = app->run;
	struct chart_series series[N_SERIES];
	struct chart chart;
	double *values;
	char title[128];
	size_t m, wanted = 0;
	int n = 0, k, L = run->L, skip_best;

	values = malloc((size_t)N_SERIES * ((size_t)L + 1) * sizeof *values);
	if (values == NULL)
		return;
	for (m = 0; m < run->n_methods; m++)
		wanted++;
	/* best is the floor of every curve; it gives way to routers. */
	skip_best = wanted > N_SERIES;
	for (m = 0; m < run->n_methods && n < N_SERIES; m++) {
		const struct run_method *rm = &run->methods[m];

		if (skip_best && (int)m == run->best)
			continue;
		for (k = 0; k <= L; k++)
			values[n * (L + 1) + k] = exp(run_mean(run, (int)m,
			    k));
		series[n].name = rm->name;
		series[n].y = &values[n * (L + 1)];
		series[n].level = !rm->budgeted;
		series[n].highlight = (int)m == app->method;
		series[n].hidden = m < MAX_HIDDEN && s->hidden[m];
		n++;
	}
	snprintf(title, sizeof title, "Perplexity by budget k = 0..%d, "
	    "at k=%d", L, app_budget(app, L));
	draw_pane_title(app, &s->chart, title, view->focus == 0);
	memset(&chart, 0, sizeof chart);
	chart.series = series;
	chart.n_series = n;
	chart.n = L + 1;
	chart.mark = app_budget(app, L);
	chart.x_label = "k";
	chart.legend = 1;
	draw_gaps(app, s->chart.y + 1, s->chart.x + 1, s->chart.w - 1);
	{
		struct rect inside = { s->chart.y + 2, s->chart.x,
		    s->chart.h - 2, s->chart.w };

		draw_chart(app, &inside, &chart);
	}
	free(values);
}

/* One method's allocation as bars, one row per layer, in r. */
static void
draw_bars(struct app *app, const struct rect *r, int method, int k)
{
	const struct tui_run *run = app->run;
	double *share;
	int l, bar_w, has_skip = strchr(run->data.info.space, '.') != NULL;
	char label[64];

	draw_textf(app, r->y, r->x, r->w, EL_HEADER, "%s@%d: share of big",
	    run->methods[method].name, k);
	share = malloc((size_t)run->L * 3 * sizeof *share);
	if (share == NULL)
		return;
	if (run_allocation(run, method, k, share) != 0) {
		draw_text(app, r->y + 1, r->x, r->w, "(no routes at this "
		    "budget)", EL_DIM);
		free(share);
		return;
	}
	bar_w = r->w - 12 - (has_skip ? 8 : 0);
	for (l = 0; l < run->L && l + 1 < r->h; l++) {
		int y = r->y + 1 + l;

		draw_textf(app, y, r->x, 4, EL_AXIS, "%3d", l);
		draw_wchar(app, y, r->x + 4, app->glyphs.vline, EL_AXIS);
		draw_bar(app, y, r->x + 5, bar_w, share[l * 3], EL_BIG);
		snprintf(label, sizeof label, "%3.0f%%", 100 * share[l * 3]);
		draw_text(app, y, r->x + 6 + bar_w, 5, label, EL_NORMAL);
		if (has_skip) {
			draw_wchar(app, y, r->x + 12 + bar_w,
			    app->glyphs.skip, EL_SKIP);
			draw_textf(app, y, r->x + 13 + bar_w, 5, EL_SKIP,
			    "%3.0f%%", 100 * share[l * 3 + 2]);
		}
	}
	free(share);
}

/* One method's allocation as a strip: one heat glyph per layer. */
static void
draw_strip(struct app *app, int y, int x, int w, int method, int k)
{
	const struct tui_run *run = app->run;
	double *share;
	char name[64];
	int l, used;

	snprintf(name, sizeof name, "%s@%d ", run->methods[method].name, k);
	used = draw_text(app, y, x, w, name, EL_HEADER);
	share = malloc((size_t)run->L * 3 * sizeof *share);
	if (share == NULL || run_allocation(run, method, k, share) != 0) {
		draw_text(app, y, x + used, w - used, "(no routes)", EL_DIM);
		free(share);
		return;
	}
	for (l = 0; l < run->L && used + l < w; l++) {
		int level = run_level(share[l * 3], 0, 1);

		if (share[l * 3] >= 1)
			level = N_HEAT - 1;
		draw_wchar(app, y, x + used + l, heat_glyph(app, level),
		    heat_element(level));
	}
	free(share);
}

static void
draw_allocation(struct app *app, struct view *view)
{
	struct budget_state *s = state_of(view);
	const struct tui_run *run = app->run;
	const struct rect *r = &s->allocation;
	int k = app_budget(app, run->L), other = compared_method(app, s);
	int half = r->w / 2;
	char title[128];

	snprintf(title, sizeof title, "Layer allocation at k=%d, layer 0 at "
	    "the top", k);
	draw_pane_title(app, r, title, view->focus == 1);
	if (r->h >= run->L + 2) {
		struct rect left = { r->y + 1, r->x + 1, r->h - 1, half - 2 };
		struct rect right = { r->y + 1, r->x + half + 1, r->h - 1,
		    r->w - half - 2 };

		if (run->oracle >= 0)
			draw_bars(app, &left, run->oracle, k);
		if (other >= 0)
			draw_bars(app, &right, other, k);
		return;
	}
	/* Too low for bars: a strip each, with the scale. */
	if (run->oracle >= 0)
		draw_strip(app, r->y + 1, r->x + 1, half - 2, run->oracle, k);
	if (other >= 0)
		draw_strip(app, r->y + 1, r->x + half + 1, r->w - half - 2,
		    other, k);
	if (r->h >= 3)
		draw_legend(app, r->y + 2, r->x + 1, r->w - 2, 0, 1, 0, 0);
}

static void
budget_draw(struct app *app, struct view *view)
{
	if (app->run == NULL)
		return;
	draw_curves(app, view);
	draw_allocation(app, view);
}

/* Hide method m's curve, or show it again; -1 with a message. */
static int
set_hidden(struct app *app, struct budget_state *s, int m, int hide)
{
	const char *name = app->run->methods[m].name;

	if (m >= MAX_HIDDEN) {
		app_error(app, "%s cannot be hidden: only the first %d "
		    "methods can", name, MAX_HIDDEN);
		return -1;
	}
	s->hidden[m] = (unsigned char)hide;
	app_message(app, "%s %s in the budget chart", name, hide ? "hidden" :
	    "shown");
	return 0;
}

static int
budget_request(struct app *app, struct view *view, enum action_id action)
{
	struct budget_state *s = state_of(view);
	const struct tui_run *run = app->run;
	int m, step, i;

	if (run == NULL)
		return 0;
	switch (action) {
	case ACT_BUDGET_LEFT:
	case ACT_BUDGET_RIGHT:
		app_set_budget(app, app_budget(app, run->L) +
		    (action == ACT_BUDGET_RIGHT ? 1 : -1));
		return 1;
	case ACT_SERIES_TOGGLE:
		set_hidden(app, s, app->method, app->method < MAX_HIDDEN &&
		    !s->hidden[app->method]);
		return 1;
	case ACT_DOWN:
	case ACT_UP:
		step = action == ACT_DOWN ? 1 : -1;
		if (view->focus == 0) {
			app_set_method(app, app->method + step);
			return 1;
		}
		/* The allocation pane: the next method that has routes. */
		m = compared_method(app, s);
		for (i = 0; i < (int)run->n_methods; i++) {
			m = (m + step + (int)run->n_methods) %
			    (int)run->n_methods;
			if (has_allocation(run, m) && m != run->oracle)
				break;
		}
		s->compare = m;
		app_message(app, "beside the oracle: %s",
		    run->methods[m].name);
		return 1;
	default:
		return 0;
	}
}

/* ":show METHOD" and ":hide METHOD" (none: every method); -1 with a
 * message. */
static int
budget_command(struct app *app, struct view *view, const char *name,
    const char *args)
{
	struct budget_state *s = state_of(view);
	int hide = strcmp(name, "hide") == 0, m;

	if (*args == '\0') {
		memset(s->hidden, hide, sizeof s->hidden);
		app_message(app, "every method %s", hide ? "hidden" : "shown");
		return 0;
	}
	m = run_method_find(app->run, args);
	if (m < 0) {
		app_error(app, "this run has no method '%s'; :methods lists "
		    "its %zu", args, app->run->n_methods);
		return -1;
	}
	return set_hidden(app, s, m, hide);
}

static void
budget_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct budget_state *s = state_of(view);

	view->focus = y >= s->allocation.y ? 1 : 0;
}

static void
budget_run_changed(struct app *app, struct view *view)
{
	state_of(view)->compare = -1;
	memset(state_of(view)->hidden, 0, sizeof state_of(view)->hidden);
	/* The allocation's height follows the layer count. */
	if (!app->too_small && app->body.h > 0)
		budget_layout(app, view, &app->body);
}

const struct view_ops budget_view_ops = {
	.name = "budget",
	.title = "Budget",
	.id = VIEW_BUDGET,
	.init = budget_init,
	.done = budget_done,
	.layout = budget_layout,
	.draw = budget_draw,
	.request = budget_request,
	.command = budget_command,
	.click = budget_click,
	.run_changed = budget_run_changed,
};
