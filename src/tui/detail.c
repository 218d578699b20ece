/*
 * detail.c - the token detail pane of the text view: the token under the
 * cursor in its context, its loss under every method of the run at the
 * budget in effect, each method's route as a strip of one glyph per
 * layer, on request the model's top 5 predictions for the token under
 * the chosen method's route (predict.c), and a chart of the token's loss
 * against the budget for the oracle and every learned router, big and
 * small drawn as levels.
 */
#include "detail.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "names.h"
#include "predict.h"
#include "run.h"

int
draw_token(const struct app *app, int y, int x, int w, size_t p,
    enum element element)
{
	const struct tui_run *run = app->run;
	size_t g;
	int used = 0;

	for (g = run->first_glyph[p]; g < run->first_glyph[p + 1]; g++) {
		const struct glyph *gl = &run->glyphs[g];
		enum element el = gl->stand_in ? EL_DIM : element;

		if (used + gl->width > w)
			break;
		draw_wchar_attr(y, x + used, gl->wc, app->palette.attr[el] |
		    (element == EL_SELECTED ? A_BOLD : 0),
		    app->palette.pair[el]);
		used += gl->width;
	}
	return used;
}

/* The token with a few neighbours on each side, as fits in w cells. */
static void
draw_context(const struct app *app, int y, int x, int w)
{
	const struct tui_run *run = app->run;
	size_t p = app->cursor, first = p, last = p, q;
	int width = 0, grew = 1;

	for (q = run->first_glyph[p]; q < run->first_glyph[p + 1]; q++)
		width += run->glyphs[q].width;
	/* Grow both ways while the neighbours fit. */
	while (grew) {
		int cells;

		grew = 0;
		if (first > 1) {
			cells = (int)(run->first_glyph[first] -
			    run->first_glyph[first - 1]);
			if (width + cells <= w * 2 / 3 + 1) {
				first--;
				width += cells;
				grew = 1;
			}
		}
		if (last < run->T) {
			cells = (int)(run->first_glyph[last + 2] -
			    run->first_glyph[last + 1]);
			if (width + cells <= w) {
				last++;
				width += cells;
				grew = 1;
			}
		}
	}
	for (q = first; q <= last && w > 0; q++) {
		int used = draw_token(app, y, x, w, q, q == p ? EL_SELECTED :
		    EL_DIM);

		x += used;
		w -= used;
	}
}

/* The series of the loss chart: the oracle and each router over k; its
 * header, on the line above r, gives the range of y and whose it is. */
static void
draw_loss_chart(const struct app *app, const struct rect *r)
{
	char header[160], low[32], high[32];
	double lo, hi;
	int form;
	const struct tui_run *run = app->run;
	struct chart_series series[N_SERIES];
	double *values;
	struct chart chart;
	size_t m;
	int n = 0, k, L = run->L, routers = 0, crowded;

	values = malloc((size_t)N_SERIES * ((size_t)L + 1) * sizeof *values);
	if (values == NULL)
		return;
	for (m = 0; m < run->n_methods; m++)
		if (method_find(run->methods[m].name) == METHOD_ROUTER)
			routers++;
	crowded = r->h < 10 && routers > 1;
	for (m = 0; m < run->n_methods && n < N_SERIES; m++) {
		const struct run_method *rm = &run->methods[m];
		int is_level = (int)m == run->big || (int)m == run->small;

		if (!is_level && (int)m != run->oracle &&
		    method_find(rm->name) != METHOD_ROUTER)
			continue;
		/* In a low pane (80x24) a legend of several routers would
		 * leave the plot no room: only the chosen one is drawn. */
		if (crowded && method_find(rm->name) == METHOD_ROUTER &&
		    (int)m != app->method)
			continue;
		for (k = 0; k <= L; k++)
			values[n * (L + 1) + k] = run_loss(run, (int)m, k,
			    app->cursor);
		series[n].name = rm->name;
		series[n].y = &values[n * (L + 1)];
		series[n].level = is_level;
		series[n].highlight = (int)m == app->method;
		series[n].hidden = 0;
		n++;
	}
	memset(&chart, 0, sizeof chart);
	chart.series = series;
	chart.n_series = n;
	chart.n = L + 1;
	chart.mark = app_budget(app, L);
	chart.x_label = "k";
	chart.legend = 1;
	if (app->chart_run_wide) {
		run_loss_range(app->run, &chart.lo, &chart.hi);
		chart.fixed = isfinite(chart.lo) && isfinite(chart.hi);
	}
	if (chart_y_range(&chart, &lo, &hi) == 0) {
		format_number(lo, low, sizeof low);
		format_number(hi, high, sizeof high);
		/* The longest that fits. */
		for (form = 0; form < 3; form++) {
			if (form == 0)
				snprintf(header, sizeof header, "loss by "
				    "budget, %s to %s: %s scale (z: %s)", low,
				    high, chart.fixed ? "the run's" :
				    "this token's", chart.fixed ?
				    "this token's" : "the run's");
			else
				snprintf(header, sizeof header, "loss %s to "
				    "%s, %s scale (z)", low, high,
				    chart.fixed ? "the run's" : form == 1 ?
				    "this token's" : "token's");
			if (text_width(header) <= r->w - 2)
				break;
		}
		draw_text_cut(app, r->y - 1, r->x + 1, r->w - 2, header,
		    EL_DIM);
	}
	draw_chart(app, r, &chart);
	free(values);
}

/*
 * The first method row shown when only rows of the n fit: *top moved as
 * little as keeps the chosen method in sight.
 */
static size_t
methods_scroll(const struct app *app, size_t n, int rows, int *top)
{
	int method = app->method;

	if (rows < 1)
		rows = 1;
	if ((size_t)rows >= n) {
		*top = 0;
		return 0;
	}
	if (method < *top)
		*top = method;
	if (method >= *top + rows)
		*top = method - rows + 1;
	if (*top > (int)n - rows)
		*top = (int)n - rows;
	if (*top < 0)
		*top = 0;
	return (size_t)*top;
}

/*
 * The loss of every method at k, and its route, from line y of r;
 * scrolled (*top, the first row shown) to keep the chosen method in
 * sight, the header counting the rows out of sight.
 */
static int
draw_methods(struct app *app, const struct rect *r, int y, int focused,
    int *top)
{
	const struct tui_run *run = app->run;
	int k = app_budget(app, run->L), x = r->x + 1, w = r->w - 2;
	int name_w, longest = 15, strip, bottom = r->y + r->h, rows;
	char name[64], number[32], hidden[32];
	size_t m, first, shown;

	/* as wide as the longest "name@k", as far as the route still fits;
	 * where that is too narrow, "router:NAME" becomes "r:NAME" */
	for (m = 0; m < run->n_methods; m++) {
		int n = snprintf(name, sizeof name, "%s@%d", run->methods[m].name,
		    k);

		if (n > longest)
			longest = n;
	}
	name_w = longest < w - 10 - run->L ? longest : w - 10 - run->L;
	if (name_w < 15)
		name_w = 15;
	strip = longest > name_w;
	draw_textf(app, y, x, w, EL_HEADER, "%-*s %7s  %s", name_w, "method",
	    "loss", "route");
	rows = bottom - y - 1;
	first = methods_scroll(app, run->n_methods, rows, top);
	shown = rows > 0 && (size_t)rows < run->n_methods - first ?
	    (size_t)rows : run->n_methods - first;
	if (first > 0 || first + shown < run->n_methods) {
		/* Only the directions that hide rows, and never over the
		 * "route" heading: a note that does not fit is left out. */
		char up[24] = "", down[24] = "";

		if (first > 0)
			snprintf(up, sizeof up, "%s%zu",
			    app->glyphs.unicode ? "\xe2\x86\x91" : "^", first);
		if (first + shown < run->n_methods)
			snprintf(down, sizeof down, "%s%zu",
			    app->glyphs.unicode ? "\xe2\x86\x93" : "v",
			    run->n_methods - first - shown);
		snprintf(hidden, sizeof hidden, "%s%s%s", up,
		    up[0] != '\0' && down[0] != '\0' ? " " : "", down);
		if (x + w - text_width(hidden) >= x + name_w + 16)
			draw_text(app, y, x + w - text_width(hidden),
			    text_width(hidden), hidden, EL_DIM);
	}
	for (m = first; m < run->n_methods; m++) {
		const struct run_method *rm = &run->methods[m];
		const char *route = run_route(run, (int)m, k, app->cursor);
		enum element el = (int)m == app->method ? (focused ?
		    EL_SELECTED : EL_PANE_FOCUS) : EL_NORMAL;

		if (++y >= bottom)
			return y;
		if (rm->budgeted)
			snprintf(name, sizeof name, "%s@%d", rm->name, k);
		else
			snprintf(name, sizeof name, "%s", rm->name);
		if (strip && method_find(name) == METHOD_ROUTER)
			memmove(name + 1, name + 6, strlen(name + 6) + 1);
		format_number(run_loss(run, (int)m, k, app->cursor), number,
		    sizeof number);
		if (el == EL_SELECTED) {
			struct rect line = { y, r->x, 1, r->w };

			draw_fill(app, &line, EL_SELECTED);
		}
		draw_textf(app, y, x, name_w + 9, el, "%-*.*s %7s", name_w,
		    name_w, name, number);
		if (route != NULL)
			draw_route(app, y, x + name_w + 10, route, run->L);
		else if (!rm->has_routes)
			draw_text(app, y, x + name_w + 10, w - name_w - 10,
			    "(mean)", EL_DIM);
	}
	return y + 1;
}

/* Text wrapped at spaces to w cells, from line y; the line after it. */
static int
draw_wrapped(const struct app *app, int y, int x, int w, int bottom,
    const char *text, enum element element)
{
	char line[1024];
	size_t n, cut;

	while (*text != '\0' && y < bottom && w > 0) {
		n = strlen(text);
		cut = n;
		if (text_width(text) > w) {
			/* The last space within w cells (bytes bound cells). */
			cut = (size_t)w < n ? (size_t)w : n;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = (size_t)w < n ? (size_t)w : n;
		}
		snprintf(line, sizeof line, "%.*s", (int)cut, text);
		draw_text(app, y++, x, w, line, element);
		text += cut;
		while (*text == ' ')
			text++;
	}
	return y;
}

/*
 * The model's top predictions for the token under the chosen method at
 * the budget, from line y of r, the token itself marked among them;
 * returns the line after them.
 */
static int
draw_predictions(struct app *app, const struct rect *r, int y)
{
	const struct tui_run *run = app->run;
	const struct run_method *rm = &run->methods[app->method];
	const struct predictions *a;
	int x = r->x + 1, w = r->w - 2, bottom = r->y + r->h, t, used;
	int k = app_budget(app, run->L);
	char name[64], number[32], piece[4 * 64 + 1];
	enum element el;

	if (app->predictor == NULL &&
	    (app->predictor = predictor_new()) == NULL) {
		draw_text(app, y, x, w, "out of memory", EL_ERROR);
		return y + 1;
	}
	a = predictor_get(app->predictor, run, app->method, k, app->cursor);
	if (rm->budgeted)
		snprintf(name, sizeof name, "%s@%d", rm->name, k);
	else
		snprintf(name, sizeof name, "%s", rm->name);
	draw_textf(app, y, x, w, EL_HEADER, "top %d under %s, %s context",
	    PREDICT_TOP, name, run->data.info.context);
	if (++y >= bottom)
		return y;
	if (!a->ok)
		return draw_wrapped(app, y, x, w, bottom, a->message, EL_DIM);
	for (t = 0; t < a->n_top && y < bottom; t++, y++) {
		int actual = a->top[t].token_id ==
		    run->data.tokens[app->cursor].token_id;

		el = actual ? EL_PANE_FOCUS : EL_NORMAL;
		if (actual)
			draw_wchar(app, y, x, app->glyphs.unicode ? 0x25b6 :
			    '>', EL_MARK);
		used = draw_textf(app, y, x + 2, w - 2, el, "%5.1f%% ",
		    100 * a->top[t].probability);
		used += draw_text(app, y, x + 2 + used, w - 2 - used, "\"",
		    EL_DIM);
		used += draw_text(app, y, x + 2 + used, w - 3 - used,
		    piece_escape(&app->glyphs, a->top[t].piece,
		    a->top[t].piece_length, piece, sizeof piece), el);
		draw_text(app, y, x + 2 + used, w - 2 - used, "\"", EL_DIM);
	}
	if (y >= bottom)
		return y;
	format_number(-log(a->actual_probability), number, sizeof number);
	draw_textf(app, y, x, w, EL_DIM, "this token %.1f%%, rank %d, "
	    "loss %s", 100 * a->actual_probability, a->actual_rank, number);
	return y + 1;
}

/* Under the fixed method, the command that writes its route at the
 * budget as a dense model for llama.cpp (duo convert --route; IN is the
 * run's model, which the runs list names); the line after it. */
static int
draw_convert(struct app *app, int y, int x, int w, int bottom)
{
	char line[128];

	snprintf(line, sizeof line, "for llama.cpp: duo convert -r "
	    "%" PRId64 ":fixed@%d IN OUT", app->run->data.info.id,
	    app_budget(app, app->run->L));
	return draw_wrapped(app, y, x, w, bottom, line, EL_DIM);
}

/* Difficulty, the glyphs' legend, the chosen method's predictions (and
 * under fixed, its convert command) and the loss chart, from line y of
 * r. */
static void
draw_extras(struct app *app, const struct rect *r, int y)
{
	const struct tui_run *run = app->run;
	int x = r->x + 1, w = r->w - 2, bottom = r->y + r->h, used;
	char number[32];

	if (y >= bottom)
		return;
	format_number(run->difficulty[app->cursor - 1], number,
	    sizeof number);
	used = draw_textf(app, y, x, w, EL_NORMAL, "difficulty %s", number);
	if (run->need[app->cursor - 1] >= 0)
		draw_textf(app, y, x + used, w - used, EL_NORMAL,
		    "  need k=%d to match big", run->need[app->cursor - 1]);
	else
		draw_text(app, y, x + used, w - used,
		    "  never matches big", EL_NORMAL);
	if (++y >= bottom)
		return;
	draw_wchar(app, y, x, app->glyphs.big, EL_BIG);
	draw_text(app, y, x + 1, 6, " big", EL_DIM);
	draw_wchar(app, y, x + 6, app->glyphs.small, EL_SMALL);
	draw_text(app, y, x + 7, 8, " small", EL_DIM);
	draw_wchar(app, y, x + 14, app->glyphs.skip, EL_SKIP);
	draw_text(app, y, x + 15, 6, " skip", EL_DIM);
	y += 1;
	if (y < bottom && method_find(run->methods[app->method].name) ==
	    METHOD_FIXED)
		y = draw_convert(app, y, x, w, bottom);
	if (app->predictions && y < bottom)
		y = draw_predictions(app, r, y) + 1;
	y += 1;
	if (bottom - y >= 6) {
		struct rect chart = { y, r->x, bottom - y, r->w };

		draw_loss_chart(app, &chart);
	}
}

void
detail_draw(struct app *app, const struct rect *r, int focused,
    int *methods_top)
{
	const struct tui_run *run = app->run;
	const struct token_record *t = &run->data.tokens[app->cursor];
	int y = r->y, x = r->x + 1, w = r->w - 2, used, split;
	char title[128];

	snprintf(title, sizeof title, "Token %zu of %zu", app->cursor, run->T);
	draw_pane_title(app, r, title, focused);
	if (++y >= r->y + r->h)
		return;
	used = draw_token(app, y, x, w / 2, app->cursor, EL_PANE_FOCUS);
	draw_textf(app, y, x + used + 1, w - used - 1, EL_DIM,
	    " id %d, bytes %zu-%zu", t->token_id, t->byte_start, t->byte_end);
	if (++y >= r->y + r->h)
		return;
	draw_context(app, y, x, w);
	y++;
	/* Wide and low (below the text): the table and the rest side by
	 * side; otherwise one under the other. */
	/* The table: name, loss, route (or "(mean)"), and a margin. */
	split = 27 + (run->L > 6 ? run->L : 6);
	if (r->w >= split + 36 && r->y + r->h - y < (int)run->n_methods + 10) {
		struct rect left = { y, r->x, r->y + r->h - y, split };
		struct rect right = { y, r->x + split + 1, r->y + r->h - y,
		    r->w - split - 1 };

		draw_methods(app, &left, y, focused, methods_top);
		draw_extras(app, &right, y);
		return;
	}
	if (y >= r->y + r->h)
		return;
	y = draw_methods(app, r, y, focused, methods_top);
	draw_extras(app, r, y);
}
