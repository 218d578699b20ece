/*
 * view_compare.c - the compare view: two sides, each a method at the
 * budget in effect, token by token.  The left side is the open run's
 * chosen method; the right side another method of the same run (the
 * oracle unless chosen otherwise) or a method of the run marked in the
 * runs view, when that run scored the same tokens.  The text is coloured
 * by each token's loss difference, left minus right, on a diverging
 * scale, and a block of statistics sums the two up: the perplexities and
 * their difference, the shares of tokens the left side does better,
 * worse or as well on, percentiles of the difference (the left side's
 * regret against the right), and the share of the gap between the fixed
 * route and the oracle that each side closes, and of the achievable gap
 * between the fixed route and the label-free oracle.
 */
#include "tui.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detail.h"
#include "draw.h"
#include "names.h"
#include "run.h"
#include "seek.h"
#include "store.h"
#include "view.h"
#include "wrap.h"

/* Losses this close are equal: two analyses of one route may differ in
 * float32's last bits (a ulp of a loss near 10 nats is about 1e-6). */
#define EQUAL_NATS 1e-5
#define STATS_LINES 10

struct side {
	const struct tui_run *run;
	int method;
	int k;
};

struct compare_stats {
	size_t n;                       /* tokens both sides scored */
	double mean_left, mean_right;   /* over those tokens */
	size_t improved, worsened, equal;
	double p50, p90, max;           /* of left - right */
	double gap_left, gap_right;     /* NAN when fixed or oracle lack */
	double achievable_left, achievable_right;   /* against oracle_free */
	double scale;                   /* |difference| of the top level */
	size_t beyond;                  /* tokens with |difference| > scale */
};

struct compare_state {
	struct rect text, stats;
	struct text_wrap wrap;
	int top;
	int right;                      /* method on the right; -1 auto */
	int other_wanted;               /* 1: the marked run on the right */
	/* The marked run, opened for the right side. */
	struct tui_run *other;
	int64_t other_id;
	int comparable;
	char why[1024];                 /* why the marked run is not used */
	double *differences;            /* [T] scratch */
};

static struct compare_state *
state_of(struct view *view)
{
	return view->state;
}

static int
compare_init(struct app *app, struct view *view)
{
	struct compare_state *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	s->right = -1;
	s->other_wanted = 1;
	view->state = s;
	return 0;
}

static void
close_other(struct compare_state *s)
{
	if (s->other != NULL) {
		run_close(s->other);
		free(s->other);
	}
	s->other = NULL;
	s->other_id = 0;
	s->comparable = 0;
	s->why[0] = '\0';
}

static void
compare_done(struct app *app, struct view *view)
{
	struct compare_state *s = state_of(view);

	close_other(s);
	wrap_free(&s->wrap);
	free(s->differences);
	free(s);
	view->state = NULL;
}

static void
compare_layout(struct app *app, struct view *view, const struct rect *body)
{
	struct compare_state *s = state_of(view);
	int stats_w = 54, stats_h = STATS_LINES;

	if (body->w >= 100) {
		s->text = (struct rect){ body->y, body->x, body->h,
		    body->w - stats_w };
		s->stats = (struct rect){ body->y, body->x + body->w -
		    stats_w, body->h, stats_w };
	} else {
		s->text = (struct rect){ body->y, body->x, body->h - stats_h,
		    body->w };
		s->stats = (struct rect){ body->y + body->h - stats_h,
		    body->x, stats_h, body->w };
	}
	view->n_panes = 1;
}

/* Do the two runs score the same tokens?  0, or -1 and why. */
static int
comparable(const struct tui_run *a, const struct tui_run *b, char *why,
    size_t size)
{
	size_t p;

	if (a->T != b->T) {
		snprintf(why, size, "run %lld is not comparable: %zu tokens, "
		    "not %zu", (long long)b->data.info.id, b->T, a->T);
		return -1;
	}
	for (p = 1; p <= a->T; p++)
		if (a->data.tokens[p].token_id != b->data.tokens[p].token_id) {
			snprintf(why, size, "run %lld is not comparable: "
			    "token %zu differs", (long long)b->data.info.id,
			    p);
			return -1;
		}
	return 0;
}

/* Open the marked run for the right side, once per mark. */
static void
follow_mark(struct app *app, struct compare_state *s)
{
	struct store *store = NULL;
	struct duo_error err;
	struct tui_run *other;

	if (app->compare_id == 0 || app->compare_id == app->run_id) {
		close_other(s);
		return;
	}
	if (s->other_id == app->compare_id)
		return;
	/* A new mark is a wish to see that run on the right. */
	close_other(s);
	s->other_id = app->compare_id;
	s->other_wanted = 1;
	other = calloc(1, sizeof *other);
	if (other == NULL) {
		snprintf(s->why, sizeof s->why, "out of memory");
		return;
	}
	if (store_open(&store, app->db_path, STORE_READONLY, &err) != 0 ||
	    run_open(other, store, app->compare_id, &app->glyphs,
	    &err) != 0) {
		snprintf(s->why, sizeof s->why, "%s", err.message);
		if (store != NULL)
			store_close(store);
		free(other);
		return;
	}
	store_close(store);
	s->other = other;
	s->comparable = comparable(app->run, other, s->why,
	    sizeof s->why) == 0;
	s->right = -1;
}

/* The run on the right: the marked one when it can be, else the open. */
static const struct tui_run *
right_run(struct app *app, struct compare_state *s)
{
	follow_mark(app, s);
	if (s->other_wanted && s->other != NULL && s->comparable)
		return s->other;
	return app->run;
}

/* The two sides as they stand. */
static void
sides(struct app *app, struct compare_state *s, struct side *left,
    struct side *right)
{
	const struct run_method *lm;
	int m;

	left->run = app->run;
	left->method = app->method;
	left->k = app_budget(app, app->run->L);
	right->run = right_run(app, s);
	right->k = app_budget(app, right->run->L);
	if (s->right >= 0 && (size_t)s->right < right->run->n_methods) {
		right->method = s->right;
		return;
	}
	/* The same method in the other run; the oracle in this one, or, if
	 * the left side is the oracle, the fixed route, else big. */
	lm = &app->run->methods[app->method];
	if (right->run != app->run &&
	    (m = run_method_find(right->run, lm->name)) >= 0) {
		right->method = m;
		return;
	}
	m = right->run->oracle;
	if (right->run == app->run && m == app->method) {
		m = run_method_find(right->run,
		    method_table[METHOD_FIXED].name);
		if (m < 0)
			m = right->run->big;
	}
	right->method = m >= 0 ? m : 0;
}

static double
side_loss(const struct side *side, size_t p)
{
	return run_loss(side->run, side->method, side->k, p);
}

static void
side_name(const struct side *side, const struct tui_run *open, char *buf,
    size_t size)
{
	const struct run_method *rm = &side->run->methods[side->method];
	int n;

	n = rm->budgeted ? snprintf(buf, size, "%s@%d", rm->name, side->k) :
	    snprintf(buf, size, "%s", rm->name);
	if (side->run != open && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " of run %lld",
		    (long long)side->run->data.info.id);
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile q (0..1) of n sorted values. */
static double
percentile(const double *sorted, size_t n, double q)
{
	size_t i = (size_t)ceil(q * (double)n);

	return sorted[i > 0 ? i - 1 : 0];
}

/* (L_fixed - L) / (L_fixed - L_reference) for a side's run at its
 * budget, the reference the oracle or the label-free oracle (the
 * achievable gap); NAN when the reference is not better than fixed. */
static double
gap_closed(const struct side *side, enum method_id reference)
{
	const struct tui_run *run = side->run;
	double fixed = run_mean(run, run_method_find(run,
	    method_table[METHOD_FIXED].name), side->k);
	double best = run_mean(run, run_method_find(run,
	    method_table[reference].name), side->k);
	double mean = run_mean(run, side->method, side->k);

	if (isnan(fixed) || isnan(best) || isnan(mean) ||
	    fixed - best < EQUAL_NATS)
		return NAN;
	return (fixed - mean) / (fixed - best);
}

static void
compute_stats(struct compare_state *s, const struct side *left,
    const struct side *right, size_t T, struct compare_stats *st)
{
	double sum_left = 0, sum_right = 0, d, *v = s->differences;
	size_t p, i;

	memset(st, 0, sizeof *st);
	for (p = 1; p <= T; p++) {
		double a = side_loss(left, p), b = side_loss(right, p);

		if (isnan(a) || isnan(b))
			continue;
		sum_left += a;
		sum_right += b;
		d = a - b;
		if (d < -EQUAL_NATS)
			st->improved++;
		else if (d > EQUAL_NATS)
			st->worsened++;
		else
			st->equal++;
		v[st->n++] = d;
	}
	st->gap_left = gap_closed(left, METHOD_ORACLE);
	st->gap_right = gap_closed(right, METHOD_ORACLE);
	st->achievable_left = gap_closed(left, METHOD_ORACLE_FREE);
	st->achievable_right = gap_closed(right, METHOD_ORACLE_FREE);
	st->scale = 1;
	st->beyond = 0;
	if (st->n == 0) {
		st->mean_left = st->mean_right = NAN;
		st->p50 = st->p90 = st->max = NAN;
		return;
	}
	st->mean_left = sum_left / (double)st->n;
	st->mean_right = sum_right / (double)st->n;
	qsort(v, st->n, sizeof *v, compare_doubles);
	st->p50 = percentile(v, st->n, 0.5);
	st->p90 = percentile(v, st->n, 0.9);
	st->max = v[st->n - 1];
	/* The top level from the 95th percentile of the size of the
	 * differences, so that one outlier does not wash out the rest. */
	for (i = 0; i < st->n; i++)
		v[i] = fabs(v[i]);
	qsort(v, st->n, sizeof *v, compare_doubles);
	st->scale = percentile(v, st->n, 0.95);
	if (!(st->scale > EQUAL_NATS))
		st->scale = v[st->n - 1] > EQUAL_NATS ? v[st->n - 1] : 1;
	for (i = 0; i < st->n; i++)
		st->beyond += v[i] > st->scale;
}

/* Level 0..N_DIFF-1 of a difference: the middle one is "equal". */
static int
diff_level(double d, double scale)
{
	int half = N_DIFF / 2, step;

	if (isnan(d) || fabs(d) <= EQUAL_NATS)
		return half;
	step = 1 + (int)floor(fabs(d) / scale * half);
	if (step > half)
		step = half;
	return d < 0 ? half - step : half + step;
}

static enum element
diff_element(int level)
{
	return (enum element)(EL_DIFF_0 + level);
}

/* The label of difference level `level`: the least difference it stands
 * for, the outer two open-ended when the scale is clipped. */
static void
diff_label(const struct app *app, int level, double scale, int clipped,
    char *label, size_t size)
{
	const char *at_least = app->glyphs.unicode ? "\xe2\x89\xa5" : ">=";
	const char *at_most = app->glyphs.unicode ? "\xe2\x89\xa4" : "<=";
	int half = N_DIFF / 2, step = level - half;
	char number[32];

	if (step == 0)
		snprintf(label, size, "=");
	else if (abs(step) == 1)
		snprintf(label, size, "%s0", step < 0 ? "<" : ">");
	else
		snprintf(label, size, "%s%s%s", clipped && abs(step) == half ?
		    (step < 0 ? at_most : at_least) : "", step < 0 ? "-" : "+",
		    format_number((abs(step) - 1) * scale / half, number,
		    sizeof number));
}

/*
 * The legend: the levels from "left better" to "left worse", each label
 * drawn as the tokens of that level are.  The scale tops at the 95th
 * percentile of the differences' size, so when tokens lie beyond it the
 * outer two levels are open-ended and a note says how many, whole or
 * short as the width allows, as the text view's legend does.
 */
static void
draw_diff_legend(const struct app *app, int y, int x, int w, double scale,
    size_t beyond)
{
	static const struct {
		const char *better, *worse;
		int note;               /* 0 whole, 1 short, 2 none */
	} forms[] = {
		{ "left better ", "worse", 0 }, { "left better ", "worse", 1 },
		{ "better ", "worse", 1 }, { "left better ", "worse", 2 },
		{ "better ", "worse", 2 }, { "", "", 2 },
	};
	const char *pm = app->glyphs.unicode ? "\xc2\xb1" : "+-";
	char labels[N_DIFF][48], top[32], note[96];
	int level, steps = 0, f, used;

	for (level = 0; level < N_DIFF; level++) {
		diff_label(app, level, scale, beyond > 0, labels[level],
		    sizeof labels[level]);
		steps += text_width(labels[level]) + 1;
	}
	format_number(scale, top, sizeof top);
	for (f = 0; f < (int)(sizeof forms / sizeof forms[0]); f++) {
		note[0] = '\0';
		if (beyond > 0 && forms[f].note == 0)
			snprintf(note, sizeof note, " (%zu token%s beyond %s%s)",
			    beyond, beyond == 1 ? "" : "s", pm, top);
		else if (beyond > 0 && forms[f].note == 1)
			snprintf(note, sizeof note, " (%zu beyond %s%s)",
			    beyond, pm, top);
		if (text_width(forms[f].better) + steps +
		    text_width(forms[f].worse) + text_width(note) <= w)
			break;
	}
	if (f == (int)(sizeof forms / sizeof forms[0]))
		f--;                    /* too narrow: cut at the right */
	else if (forms[f].note == 2)
		note[0] = '\0';
	used = draw_text(app, y, x, w, forms[f].better, EL_DIM);
	for (level = 0; level < N_DIFF; level++) {
		int n = text_width(labels[level]) + 1;

		if (used + n > w)
			return;
		draw_text(app, y, x + used, n - 1, labels[level],
		    diff_element(level));
		used += n;
	}
	used += draw_text(app, y, x + used, w - used, forms[f].worse, EL_DIM);
	draw_text(app, y, x + used, w - used, note, EL_NORMAL);
}

static void
draw_tokens(struct app *app, struct view *view, const struct side *left,
    const struct side *right, const struct compare_stats *st)
{
	double scale = st->scale;

	struct compare_state *s = state_of(view);
	const struct tui_run *run = app->run;
	int rows = s->text.h - 2, y, level;
	attr_t attr;
	short pair;
	size_t g, p;

	if (rows < 1 || wrap_ensure(&s->wrap, run, s->text.w - 2) != 0)
		return;
	s->top = wrap_scroll(&s->wrap, app->cursor, s->top, rows);
	for (y = 0; y < rows && s->top + y < s->wrap.n_lines; y++)
		for (g = s->wrap.line_first[s->top + y];
		    g < s->wrap.line_first[s->top + y + 1]; g++) {
			const struct glyph *gl = &run->glyphs[g];

			p = s->wrap.glyph_token[g];
			level = diff_level(side_loss(left, p) -
			    side_loss(right, p), scale);
			attr = app->palette.attr[diff_element(level)];
			pair = app->palette.pair[diff_element(level)];
			if (gl->stand_in && level == N_DIFF / 2) {
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
	draw_diff_legend(app, s->text.y + s->text.h - 1, s->text.x + 1,
	    s->text.w - 2, scale, st->beyond);
}

/* A percentage, or "-". */
static const char *
format_share(double share, char *buf, size_t size)
{
	if (isnan(share))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f%%", 100 * share);
	return buf;
}

static void
draw_stats(struct app *app, struct view *view, const struct side *left,
    const struct side *right, const struct compare_stats *st)
{
	struct compare_state *s = state_of(view);
	const struct rect *r = &s->stats;
	int x = r->x + 1, w = r->w - 2, y = r->y, bottom = r->y + r->h;
	double ppl_left = exp(st->mean_left), ppl_right = exp(st->mean_right);
	double a, b, n = st->n > 0 ? (double)st->n : 1;
	char name[128], v1[32], v2[32], v3[32];
	int used;

	draw_pane_title(app, r, "Statistics, left against right", 0);
#define LINE(...) do { if (++y >= bottom) return; __VA_ARGS__; } while (0)
	side_name(left, app->run, name, sizeof name);
	LINE(draw_textf(app, y, x, w, EL_NORMAL, "left   %-24.24s ppl %s",
	    name, format_number(ppl_left, v1, sizeof v1)));
	side_name(right, app->run, name, sizeof name);
	LINE(draw_textf(app, y, x, w, EL_NORMAL, "right  %-24.24s ppl %s",
	    name, format_number(ppl_right, v1, sizeof v1)));
	if (st->n == 0)
		LINE(draw_text(app, y, x, w, "no token has a loss on both "
		    "sides at this budget", EL_PANE_FOCUS));
	else
		LINE(draw_textf(app, y, x, w, EL_PANE_FOCUS, "%s perplexity "
		    "%s (%s%.1f%%) on %zu tokens", app->glyphs.unicode ?
		    "\xce\x94" : "delta", format_number(ppl_left - ppl_right,
		    v1, sizeof v1), ppl_left >= ppl_right ? "+" : "",
		    100 * (ppl_left / ppl_right - 1), st->n));
	LINE(draw_textf(app, y, x, w, EL_NORMAL, "improved %s  worsened %s  "
	    "equal %s", format_share(st->n > 0 ? st->improved / n : NAN, v1,
	    sizeof v1), format_share(st->n > 0 ? st->worsened / n : NAN, v2,
	    sizeof v2), format_share(st->n > 0 ? st->equal / n : NAN, v3,
	    sizeof v3)));
	LINE(draw_textf(app, y, x, w, EL_NORMAL, "regret   p50 %s  p90 %s  "
	    "max %s", format_number(st->p50, v1, sizeof v1),
	    format_number(st->p90, v2, sizeof v2),
	    format_number(st->max, v3, sizeof v3)));
	LINE(draw_textf(app, y, x, w, EL_NORMAL, "gap closed to oracle      "
	    "left %s  right %s", format_share(st->gap_left, v1, sizeof v1),
	    format_share(st->gap_right, v2, sizeof v2)));
	LINE(draw_textf(app, y, x, w, EL_NORMAL, "achievable (oracle_free)  "
	    "left %s  right %s", format_share(st->achievable_left, v1,
	    sizeof v1), format_share(st->achievable_right, v2, sizeof v2)));
	/* The token under the cursor. */
	a = side_loss(left, app->cursor);
	b = side_loss(right, app->cursor);
	LINE(used = draw_textf(app, y, x, w, EL_DIM, "token %zu ",
	    app->cursor);
	    draw_token(app, y, x + used, w - used, app->cursor,
	    EL_PANE_FOCUS));
	LINE(draw_textf(app, y, x, w, EL_NORMAL, "loss left %s  right %s  "
	    "%s %s", format_number(a, v1, sizeof v1),
	    format_number(b, v2, sizeof v2), app->glyphs.unicode ?
	    "\xce\x94" : "delta", format_number(a - b, v3, sizeof v3)));
#undef LINE
}

static void
compare_draw(struct app *app, struct view *view)
{
	struct compare_state *s = state_of(view);
	struct side left, right;
	struct compare_stats st;
	char title[320], l_name[128], r_name[128];

	if (app->run == NULL)
		return;
	if (s->differences == NULL && (s->differences = malloc((app->run->T +
	    1) * sizeof *s->differences)) == NULL)
		return;
	sides(app, s, &left, &right);
	compute_stats(s, &left, &right, app->run->T, &st);
	side_name(&left, app->run, l_name, sizeof l_name);
	side_name(&right, app->run, r_name, sizeof r_name);
	snprintf(title, sizeof title, "Loss of %s less %s, by token", l_name,
	    r_name);
	draw_pane_title(app, &s->text, title, 1);
	draw_tokens(app, view, &left, &right, &st);
	/* Why the marked run is not on the right, in place of the legend. */
	if (s->other_wanted && s->other_id != 0 && right.run == app->run &&
	    s->why[0] != '\0') {
		struct rect line = { s->text.y + s->text.h - 1, s->text.x,
		    1, s->text.w };

		draw_fill(app, &line, EL_NORMAL);
		draw_text(app, line.y, line.x + 1, line.w - 2, s->why,
		    EL_ERROR);
	}
	draw_stats(app, view, &left, &right, &st);
}

static int
compare_request(struct app *app, struct view *view, enum action_id action)
{
	struct compare_state *s = state_of(view);
	struct side left, right;
	int rows = s->text.h - 2 > 1 ? s->text.h - 2 : 1, n, left_in_right;

	if (app->run == NULL || wrap_ensure(&s->wrap, app->run,
	    s->text.w - 2) != 0)
		return 0;
	if (app_move_cursor(app, action))
		return 1;
	switch (action) {
	case ACT_DOWN:
	case ACT_UP:
		app->cursor = wrap_move_lines(&s->wrap, app->cursor,
		    action == ACT_DOWN ? 1 : -1);
		return 1;
	case ACT_PAGE_DOWN:
	case ACT_PAGE_UP:
		app->cursor = wrap_move_lines(&s->wrap, app->cursor,
		    action == ACT_PAGE_DOWN ? rows : -rows);
		return 1;
	case ACT_RIGHT_NEXT:
	case ACT_RIGHT_PREV:
		sides(app, s, &left, &right);
		n = (int)right.run->n_methods;
		s->right = ((right.method + (action == ACT_RIGHT_NEXT ? 1 :
		    -1)) % n + n) % n;
		app_message(app, "right: %s",
		    right.run->methods[s->right].name);
		return 1;
	case ACT_SWAP:
		sides(app, s, &left, &right);
		if (right.run != app->run) {
			app_error(app, "the sides are two runs: open the "
			    "other run to see it on the left");
			return 1;
		}
		left_in_right = app->method;
		app_set_method(app, right.method);
		s->right = left_in_right;
		return 1;
	case ACT_OTHER_RUN:
		if (app->compare_id == 0 || app->compare_id == app->run_id) {
			app_error(app, "no other run is marked: c in the runs "
			    "view marks one");
			return 1;
		}
		s->other_wanted = !s->other_wanted;
		s->right = -1;
		right_run(app, s);
		if (s->other_wanted && !s->comparable)
			app_error(app, "%s", s->why);
		else
			app_message(app, "right side: %s",
			    s->other_wanted ? "the marked run" : "this run");
		return 1;
	default:
		return 0;
	}
}

static void
compare_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct compare_state *s = state_of(view);
	int line;

	if (app->run == NULL || wrap_ensure(&s->wrap, app->run,
	    s->text.w - 2) != 0)
		return;
	line = s->top + y - (s->text.y + 1);
	if (x < s->text.x || x >= s->text.x + s->text.w || line < 0 ||
	    line >= s->wrap.n_lines || y >= s->text.y + s->text.h - 1)
		return;
	app->cursor = wrap_token_at(&s->wrap, line, x - (s->text.x + 1));
}

static void
compare_run_changed(struct app *app, struct view *view)
{
	struct compare_state *s = state_of(view);

	wrap_free(&s->wrap);
	s->top = 0;
	s->right = -1;
	free(s->differences);
	s->differences = NULL;
	/* Comparable or not, it is to be checked against the new run. */
	close_other(s);
}

const struct view_ops compare_view_ops = {
	.name = "compare",
	.title = "Compare",
	.id = VIEW_COMPARE,
	.init = compare_init,
	.done = compare_done,
	.layout = compare_layout,
	.draw = compare_draw,
	.request = compare_request,
	.click = compare_click,
	.run_changed = compare_run_changed,
};
