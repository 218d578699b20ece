/*
 * view_text.c - the text view: the run's tokens wrapped to the pane (by
 * cells, as wcwidth measures them), each coloured by the chosen measure,
 * a cursor that moves token by token, by word, line and page (search and
 * the other jumps of seek.c move it too, the matches underlined), a
 * legend of the colour scale, and beside or below it the token detail
 * pane (detail.c) that follows the cursor.
 */
#include "tui.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detail.h"
#include "draw.h"
#include "predict.h"
#include "run.h"
#include "seek.h"
#include "view.h"
#include "wrap.h"

struct text_state {
	struct rect text, detail;
	struct text_wrap wrap;          /* for one run and one width */
	int top;                        /* first line shown */
	int methods_top;                /* the detail pane's first method */
};

static struct text_state *
state_of(struct view *view)
{
	return view->state;
}

static int
ensure_wrap(struct app *app, struct text_state *s)
{
	return wrap_ensure(&s->wrap, app->run, s->text.w - 2);
}

static int
text_init(struct app *app, struct view *view)
{
	view->state = calloc(1, sizeof(struct text_state));
	return view->state == NULL ? -1 : 0;
}

static void
text_done(struct app *app, struct view *view)
{
	struct text_state *s = state_of(view);

	wrap_free(&s->wrap);
	free(s);
	view->state = NULL;
}

static void
text_layout(struct app *app, struct view *view, const struct rect *body)
{
	struct text_state *s = state_of(view);
	int detail_w, detail_h;

	if (body->w >= 100) {
		/* Beside: the detail pane takes about two fifths. */
		detail_w = body->w * 2 / 5;
		/* Past 52 columns only once the text keeps 100: the chart
		 * widens with a wide window. */
		if (detail_w > 52)
			detail_w = body->w - 100 > 52 ? body->w - 100 : 52;
		s->text = (struct rect){ body->y, body->x, body->h,
		    body->w - detail_w };
		s->detail = (struct rect){ body->y, body->x + body->w -
		    detail_w, body->h, detail_w };
	} else {
		detail_h = body->h * 11 / 20;
		s->text = (struct rect){ body->y, body->x, body->h - detail_h,
		    body->w };
		s->detail = (struct rect){ body->y + body->h - detail_h,
		    body->x, detail_h, body->w };
	}
	view->n_panes = 2;
}

static void
text_draw(struct app *app, struct view *view)
{
	struct text_state *s = state_of(view);
	struct tui_run *run = app->run;
	int k = app_budget(app, run->L), rows, y, level;
	double lo, hi, v;
	char title[256], number[32];
	size_t g, p;
	attr_t attr;
	short pair;

	if (ensure_wrap(app, s) != 0)
		return;
	run_scale(run, app->measure, app->method, k, &lo, &hi);
	/* The threshold of ] and [ in the title: the legend's line is the
	 * scale's. */
	snprintf(title, sizeof title, "Text: %zu tokens by %s%s%s, ][ at "
	    "%s%s", run->T, measure_names[app->measure],
	    app->measure == MEASURE_LOSS || app->measure == MEASURE_REGRET ?
	    " of " : "", app->measure == MEASURE_LOSS ||
	    app->measure == MEASURE_REGRET ? run->methods[app->method].name :
	    "", app->glyphs.unicode ? "\xe2\x89\xa5" : ">=",
	    format_number(seek_threshold(app, lo, hi), number,
	    sizeof number));
	draw_pane_title(app, &s->text, title, view->focus == 0);

	rows = s->text.h - 2;
	if (rows < 1)
		return;
	s->top = wrap_scroll(&s->wrap, app->cursor, s->top, rows);
	for (y = 0; y < rows && s->top + y < s->wrap.n_lines; y++) {
		for (g = s->wrap.line_first[s->top + y];
		    g < s->wrap.line_first[s->top + y + 1]; g++) {
			const struct glyph *gl = &run->glyphs[g];

			p = s->wrap.glyph_token[g];
			v = run_measure(run, app->measure, app->method, k, p);
			level = run_level(v, lo, hi);
			attr = app->palette.attr[heat_element(level)];
			pair = app->palette.pair[heat_element(level)];
			if (gl->stand_in && level == 0) {
				attr = app->palette.attr[EL_DIM];
				pair = app->palette.pair[EL_DIM];
			}
			attr |= seek_match_attr(app, p);
			if (p == app->cursor)
				attr = (attr ^ A_REVERSE) | A_BOLD |
				    A_UNDERLINE;
			draw_wchar_attr(s->text.y + 1 + y, s->text.x + 1 +
			    s->wrap.glyph_col[g], gl->wc, attr, pair);
		}
	}
	draw_legend(app, s->text.y + s->text.h - 1, s->text.x + 1,
	    s->text.w - 2, lo, hi, app->measure == MEASURE_NEED,
	    run->scale_above);
	detail_draw(app, &s->detail, view->focus == 1, &s->methods_top);
}

static int
text_request(struct app *app, struct view *view, enum action_id action)
{
	struct text_state *s = state_of(view);
	struct tui_run *run = app->run;
	int rows = s->text.h - 2 > 1 ? s->text.h - 2 : 1;
	size_t g;

	if (run == NULL || ensure_wrap(app, s) != 0)
		return 0;
	if (view->focus == 1 && (action == ACT_DOWN || action == ACT_UP)) {
		app_set_method(app, app->method + (action == ACT_DOWN ? 1 :
		    -1));
		return 1;
	}
	if (app_move_cursor(app, action))
		return 1;
	switch (action) {
	case ACT_DOWN:
		app->cursor = wrap_move_lines(&s->wrap, app->cursor, 1);
		return 1;
	case ACT_UP:
		app->cursor = wrap_move_lines(&s->wrap, app->cursor, -1);
		return 1;
	case ACT_PAGE_DOWN:
		app->cursor = wrap_move_lines(&s->wrap, app->cursor, rows);
		s->top += rows;
		if (s->top > s->wrap.n_lines - rows)
			s->top = s->wrap.n_lines - rows > 0 ?
			    s->wrap.n_lines - rows : 0;
		return 1;
	case ACT_PAGE_UP:
		app->cursor = wrap_move_lines(&s->wrap, app->cursor, -rows);
		s->top = s->top > rows ? s->top - rows : 0;
		return 1;
	case ACT_LINE_START:
	case ACT_LINE_END:
		g = run->first_glyph[app->cursor];
		g = action == ACT_LINE_START ?
		    s->wrap.line_first[s->wrap.glyph_line[g]] :
		    s->wrap.line_first[s->wrap.glyph_line[g] + 1] - 1;
		app->cursor = s->wrap.glyph_token[g];
		return 1;
	case ACT_PREDICTIONS:
		app->predictions = !app->predictions;
		app_message(app, "top %d predictions %s", PREDICT_TOP,
		    app->predictions ? "shown in the detail pane" : "hidden");
		return 1;
	case ACT_CHART_SCALE:
		app->chart_run_wide = !app->chart_run_wide;
		app_message(app, "the loss chart of the detail pane: %s",
		    app->chart_run_wide ? "the run's scale, the same for every "
		    "token" : "this token's own scale");
		return 1;
	case ACT_MEASURE_NEXT:
		app->measure = (enum measure)((app->measure + 1) %
		    N_MEASURES);
		app->threshold = NAN;
		app_message(app, "colour by %s", measure_names[app->measure]);
		return 1;
	default:
		return 0;
	}
}

static void
text_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct text_state *s = state_of(view);
	int line;

	if (app->run == NULL || ensure_wrap(app, s) != 0)
		return;
	if (y >= s->detail.y && x >= s->detail.x &&
	    y < s->detail.y + s->detail.h && x < s->detail.x + s->detail.w) {
		view->focus = 1;
		return;
	}
	view->focus = 0;
	line = s->top + y - (s->text.y + 1);
	if (line < 0 || line >= s->wrap.n_lines ||
	    y >= s->text.y + s->text.h - 1)
		return;
	app->cursor = wrap_token_at(&s->wrap, line, x - (s->text.x + 1));
}

static void
text_run_changed(struct app *app, struct view *view)
{
	struct text_state *s = state_of(view);

	wrap_free(&s->wrap);
	s->top = 0;
}

const struct view_ops text_view_ops = {
	.name = "text",
	.title = "Text",
	.id = VIEW_TEXT,
	.init = text_init,
	.done = text_done,
	.layout = text_layout,
	.draw = text_draw,
	.request = text_request,
	.click = text_click,
	.run_changed = text_run_changed,
};
