/*
 * view_routes.c - the route map: layers as rows and tokens as columns,
 * one glyph per choice, for the chosen method at the selected budget
 * (the paper's figures 3 and 7 for this text); a row of losses coloured
 * like the text view (with its legend), a row with each route's number
 * of big modules, the token under the cursor under every method when
 * rows are to spare, and a column cursor shared with the text view
 * (search and the other jumps of seek.c move it, a match's tokens
 * underlined in the row of losses).  It scrolls sideways.
 */
#include "tui.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "run.h"
#include "seek.h"
#include "view.h"

#define LABEL_W 5

struct routes_state {
	struct rect map;
	size_t left;                    /* first position shown */
};

static struct routes_state *
state_of(struct view *view)
{
	return view->state;
}

static int
routes_init(struct app *app, struct view *view)
{
	view->state = calloc(1, sizeof(struct routes_state));
	if (view->state == NULL)
		return -1;
	state_of(view)->left = 1;
	return 0;
}

static void
routes_done(struct app *app, struct view *view)
{
	free(view->state);
	view->state = NULL;
}

static void
routes_layout(struct app *app, struct view *view, const struct rect *body)
{
	state_of(view)->map = *body;
	view->n_panes = 1;
}

static int
columns_of(const struct routes_state *s)
{
	int n = s->map.w - LABEL_W - 1;

	return n > 1 ? n : 1;
}

static void
keep_cursor_visible(struct app *app, struct routes_state *s)
{
	size_t n = (size_t)columns_of(s);

	if (app->cursor < s->left)
		s->left = app->cursor;
	if (app->cursor >= s->left + n)
		s->left = app->cursor - n + 1;
	if (s->left < 1)
		s->left = 1;
}

/* The digit of a count: 0-9, then a-z. */
static wchar_t
count_glyph(int n)
{
	return n < 10 ? (wchar_t)('0' + n) : n < 36 ? (wchar_t)('a' + n - 10) :
	    '+';
}

static void draw_footer(struct app *app, struct routes_state *s, int y,
    double lo, double hi);

static void
routes_draw(struct app *app, struct view *view)
{
	struct routes_state *s = state_of(view);
	struct tui_run *run = app->run;
	const struct rect *r = &s->map;
	int k, n_cols, y, x, l, rows_left, level, b, shown;
	size_t p, last;
	double lo, hi;
	char title[256], mark[16];
	const char *route;
	attr_t attr;
	short pair;

	if (run == NULL)
		return;
	k = app_budget(app, run->L);
	n_cols = columns_of(s);
	keep_cursor_visible(app, s);
	last = s->left + (size_t)n_cols - 1;
	if (last > run->T)
		last = run->T;
	snprintf(title, sizeof title, "Route map: %s%s, tokens %zu-%zu of %zu",
	    run->methods[app->method].name, run->methods[app->method].budgeted ?
	    "" : " (no budget)", s->left, last, run->T);
	if (run->methods[app->method].budgeted)
		snprintf(title + strlen(title), sizeof title - strlen(title),
		    ", k=%d", k);
	draw_pane_title(app, r, title, 1);
	if (!run->methods[app->method].has_routes) {
		draw_textf(app, r->y + 2, r->x + 2, r->w - 4, EL_DIM,
		    "%s is a mean over many routes: it has no route to draw. "
		    "m chooses another method.",
		    run->methods[app->method].name);
		return;
	}

	/* A ruler: every tenth position numbered. */
	y = r->y + 1;
	draw_text(app, y, r->x, LABEL_W, "pos", EL_AXIS);
	for (p = s->left; p <= last; p++) {
		x = r->x + LABEL_W + (int)(p - s->left);
		if (p % 10 == 0) {
			snprintf(mark, sizeof mark, "%zu", p);
			if (x + (int)strlen(mark) <= r->x + r->w)
				draw_text(app, y, x, (int)strlen(mark), mark,
				    EL_AXIS);
		}
	}

	/* Layers; the rows of loss and k go first when space is short, and
	 * a note of the layers left out takes a row of its own. */
	rows_left = r->h - 2 - 2;
	shown = run->L <= rows_left ? run->L : rows_left - 1;
	for (l = 0; l < shown; l++) {
		y = r->y + 2 + l;
		draw_textf(app, y, r->x, LABEL_W, EL_AXIS, "L%-3d", l);
		for (p = s->left; p <= last; p++) {
			route = run_route(run, app->method, k, p);
			x = r->x + LABEL_W + (int)(p - s->left);
			if (route == NULL)
				continue;
			attr = app->palette.attr[route_element(route[l])];
			pair = app->palette.pair[route_element(route[l])];
			if (p == app->cursor)
				attr ^= A_REVERSE;
			draw_wchar_attr(y, x, (wchar_t[]){ route_glyph(app,
			    route[l]), 0 }, attr, pair);
		}
	}
	y = r->y + 2 + (shown > 0 ? shown : 0);
	if (shown < run->L)
		draw_textf(app, y++, r->x + LABEL_W, r->w - LABEL_W,
		    EL_DIM, "(layers %d-%d left out: the window is too low)",
		    shown > 0 ? shown : 0, run->L - 1);

	/* Loss, coloured as the text view colours it, and big modules. */
	run_scale(run, MEASURE_LOSS, app->method, k, &lo, &hi);
	draw_text(app, y, r->x, LABEL_W, "loss", EL_AXIS);
	draw_text(app, y + 1, r->x, LABEL_W, "k", EL_AXIS);
	for (p = s->left; p <= last; p++) {
		x = r->x + LABEL_W + (int)(p - s->left);
		level = run_level(run_loss(run, app->method, k, p), lo, hi);
		attr = app->palette.attr[heat_element(level)];
		pair = app->palette.pair[heat_element(level)];
		attr |= seek_match_attr(app, p);
		if (p == app->cursor)
			attr ^= A_REVERSE;
		draw_wchar_attr(y, x, (wchar_t[]){ heat_glyph(app, level), 0 },
		    attr, pair);
		route = run_route(run, app->method, k, p);
		if (route == NULL)
			continue;
		for (b = 0, l = 0; l < run->L; l++)
			b += route[l] == 'B';
		draw_wchar_attr(y + 1, x, (wchar_t[]){ count_glyph(b), 0 },
		    p == app->cursor ? A_REVERSE : 0, 0);
	}
	draw_footer(app, s, y + 2, lo, hi);
}

/* Below the map, as rows allow: the token under the cursor, the
 * legends of the glyphs and of the loss row, then the token's route
 * and loss under every method. */
static void
draw_footer(struct app *app, struct routes_state *s, int y, double lo,
    double hi)
{
	struct tui_run *run = app->run;
	const struct rect *r = &s->map;
	int k = app_budget(app, run->L), used, bottom = r->y + r->h;
	char number[32], name[64];
	const char *route;
	size_t g, m;

	if (y >= bottom)
		return;
	used = draw_textf(app, y, r->x, r->w, EL_DIM, "token %zu ",
	    app->cursor);
	for (g = run->first_glyph[app->cursor];
	    g < run->first_glyph[app->cursor + 1] && used < r->w - 2; g++) {
		draw_wchar_attr(y, r->x + used, run->glyphs[g].wc,
		    app->palette.attr[EL_PANE_FOCUS],
		    app->palette.pair[EL_PANE_FOCUS]);
		used += run->glyphs[g].width;
	}
	route = run_route(run, app->method, k, app->cursor);
	format_number(run_loss(run, app->method, k, app->cursor), number,
	    sizeof number);
	draw_textf(app, y, r->x + used, r->w - used, EL_DIM,
	    "  route %s  loss %s", route != NULL ? route : "-", number);
	if (++y >= bottom)
		return;
	draw_wchar(app, y, r->x, app->glyphs.big, EL_BIG);
	draw_text(app, y, r->x + 1, 6, " big", EL_DIM);
	draw_wchar(app, y, r->x + 6, app->glyphs.small, EL_SMALL);
	draw_text(app, y, r->x + 7, 8, " small", EL_DIM);
	draw_wchar(app, y, r->x + 14, app->glyphs.skip, EL_SKIP);
	draw_text(app, y, r->x + 15, r->w - 15, " skip   k: big "
	    "modules in the route (a=10, b=11, ...)", EL_DIM);
	if (++y >= bottom)
		return;
	used = draw_text(app, y, r->x, r->w, "loss ", EL_AXIS);
	draw_legend(app, y, r->x + used, r->w - used, lo, hi, 0,
	    run->scale_above);
	/* Rows to spare for every method (a blank row first): the token
	 * under each. */
	y += 2;
	if (y + (int)run->n_methods >= bottom)
		return;
	draw_textf(app, y, r->x, r->w, EL_HEADER, "%-20s %-*s  loss",
	    "method", run->L > 5 ? run->L : 5, "route");
	for (m = 0; m < run->n_methods && ++y < bottom; m++) {
		const struct run_method *rm = &run->methods[m];

		snprintf(name, sizeof name, rm->budgeted ? "%s@%d" : "%s",
		    rm->name, k);
		route = run_route(run, (int)m, k, app->cursor);
		used = draw_textf(app, y, r->x, 21, (int)m == app->method ?
		    EL_PANE_FOCUS : EL_NORMAL, "%-20.20s ", name);
		if (route != NULL)
			draw_route(app, y, r->x + used, route, run->L);
		else
			draw_text(app, y, r->x + used, run->L, "(mean)",
			    EL_DIM);
		used += (run->L > 5 ? run->L : 5) + 2;
		draw_text(app, y, r->x + used, r->w - used, format_number(
		    run_loss(run, (int)m, k, app->cursor), number,
		    sizeof number), EL_NORMAL);
	}
}

static int
routes_request(struct app *app, struct view *view, enum action_id action)
{
	struct routes_state *s = state_of(view);
	struct tui_run *run = app->run;
	size_t page = (size_t)columns_of(s);

	if (run == NULL)
		return 0;
	if (app_move_cursor(app, action))
		return 1;
	switch (action) {
	case ACT_PAGE_DOWN:
		app->cursor = app->cursor + page <= run->T ?
		    app->cursor + page : run->T;
		s->left += page;
		if (s->left + page > run->T + 1)
			s->left = run->T + 1 > page ? run->T + 1 - page : 1;
		return 1;
	case ACT_PAGE_UP:
		app->cursor = app->cursor > page ? app->cursor - page : 1;
		s->left = s->left > page ? s->left - page : 1;
		return 1;
	default:
		return 0;
	}
}

static void
routes_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct routes_state *s = state_of(view);
	size_t p;

	if (app->run == NULL || x < s->map.x + LABEL_W)
		return;
	p = s->left + (size_t)(x - s->map.x - LABEL_W);
	if (p >= 1 && p <= app->run->T)
		app->cursor = p;
}

static void
routes_run_changed(struct app *app, struct view *view)
{
	state_of(view)->left = 1;
}

const struct view_ops routes_view_ops = {
	.name = "routes",
	.title = "Route map",
	.id = VIEW_ROUTES,
	.init = routes_init,
	.done = routes_done,
	.layout = routes_layout,
	.draw = routes_draw,
	.request = routes_request,
	.click = routes_click,
	.run_changed = routes_run_changed,
};
