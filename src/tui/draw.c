/*
 * draw.c - what the views draw with: text measured with wcwidth, pane
 * titles, bars, route strips, heat legends, and line charts in braille
 * dots (or ASCII when the terminal cannot show them).
 */
#include "draw.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

void
glyphs_init(struct glyph_set *g, int ascii)
{
	static const wchar_t unicode_markers[N_SERIES] = {
		0x25cf, 0x25a0, 0x25b2, 0x25c6, 0x25cb, 0x25a1, 0x25b3, 0x25c7,
		0x25bc, 0x25bd, 0x25c9, 0x25ce, 0x2726, 0x00d7,
	};
	static const wchar_t ascii_markers[N_SERIES] = {
		'o', '#', '^', '*', 'x', '+', '%', '@', 'v', 'w', '=', '&',
		'$', 'z',
	};
	int i;

	g->unicode = !ascii;
	for (i = 0; i < N_SERIES; i++)
		g->markers[i] = ascii ? ascii_markers[i] : unicode_markers[i];
	if (ascii) {
		g->big = 'B';
		g->small = 's';
		g->skip = '.';
		g->vline = '|';
		g->hline = '-';
		g->corner = '+';
		g->tick = '+';
		g->left_tee = '|';
		g->ellipsis = '~';
		/* Not $, which text has: a newline's piece reads \n. */
		g->newline = '\\';
		g->tab = '>';
		g->replacement = '?';
		return;
	}
	g->big = 0x2588;                /* full block */
	g->small = 0x2584;              /* lower half block */
	g->skip = 0x00b7;               /* middle dot */
	g->vline = 0x2502;
	g->hline = 0x2500;
	g->corner = 0x2514;
	g->tick = 0x252c;
	g->left_tee = 0x2524;
	g->ellipsis = 0x2026;
	g->newline = 0x21b5;
	g->tab = 0x2192;
	g->replacement = 0xfffd;
}

void
draw_style(const struct app *app, enum element element)
{
	attr_set(app->palette.attr[element], app->palette.pair[element],
	    NULL);
}

int
utf8_next(const char *s, size_t n, size_t *i, wchar_t *wc)
{
	const unsigned char *u = (const unsigned char *)s + *i;
	size_t left = n - *i, length, k;
	uint32_t c, min;

	if (u[0] < 0x80) {
		*wc = u[0];
		*i += 1;
		return 0;
	}
	if ((u[0] & 0xe0) == 0xc0) {
		length = 2;
		c = u[0] & 0x1f;
		min = 0x80;
	} else if ((u[0] & 0xf0) == 0xe0) {
		length = 3;
		c = u[0] & 0x0f;
		min = 0x800;
	} else if ((u[0] & 0xf8) == 0xf0) {
		length = 4;
		c = u[0] & 0x07;
		min = 0x10000;
	} else
		goto invalid;
	if (length > left)
		goto invalid;
	for (k = 1; k < length; k++) {
		if ((u[k] & 0xc0) != 0x80)
			goto invalid;
		c = c << 6 | (u[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto invalid;
	*wc = (wchar_t)c;
	*i += length;
	return 0;
invalid:
	*wc = u[0];
	*i += 1;
	return -1;
}

size_t
utf8_put(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

int
text_width(const char *s)
{
	size_t i = 0, n = strlen(s);
	wchar_t wc;
	int w = 0, cw;

	while (i < n) {
		if (utf8_next(s, n, &i, &wc) != 0)
			cw = 1;
		else if ((cw = wcwidth(wc)) < 0)
			cw = 1;
		w += cw;
	}
	return w;
}

void
draw_wchar_attr(int y, int x, const wchar_t *wc, attr_t attr, short pair)
{
	cchar_t cc;

	if (setcchar(&cc, wc, attr, pair, NULL) == OK)
		mvadd_wch(y, x, &cc);
}

void
draw_wchar(const struct app *app, int y, int x, wchar_t wc,
    enum element element)
{
	wchar_t s[2] = { wc, 0 };

	draw_wchar_attr(y, x, s, app->palette.attr[element],
	    app->palette.pair[element]);
}

int
draw_text(const struct app *app, int y, int x, int w, const char *s,
    enum element element)
{
	size_t i = 0, n = strlen(s);
	wchar_t wc, cluster[CCHARW_MAX];
	int used = 0, cw, k;

	while (i < n) {
		if (utf8_next(s, n, &i, &wc) != 0 || wc < 32 || wc == 127 ||
		    (cw = wcwidth(wc)) < 0) {
			wc = app->glyphs.replacement;
			cw = 1;
		}
		if (cw == 0)
			continue;       /* combining marks: dropped in labels */
		if (used + cw > w)
			break;
		cluster[0] = wc;
		k = 1;
		cluster[k] = 0;
		draw_wchar_attr(y, x + used, cluster,
		    app->palette.attr[element], app->palette.pair[element]);
		used += cw;
	}
	return used;
}

int
draw_text_cut(const struct app *app, int y, int x, int w, const char *s,
    enum element element)
{
	int used;

	if (w < 2 || text_width(s) <= w)
		return draw_text(app, y, x, w, s, element);
	used = draw_text(app, y, x, w - 1, s, element);
	draw_wchar(app, y, x + used, app->glyphs.ellipsis, element);
	return used + 1;
}

int
draw_textf(const struct app *app, int y, int x, int w, enum element element,
    const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return draw_text(app, y, x, w, buf, element);
}

void
draw_fill(const struct app *app, const struct rect *r, enum element element)
{
	int y;

	draw_style(app, element);
	for (y = r->y; y < r->y + r->h; y++)
		mvhline(y, r->x, ' ', r->w);
	draw_style(app, EL_NORMAL);
}

void
draw_pane_title(const struct app *app, const struct rect *r,
    const char *title, int focused)
{
	int x, used;

	for (x = r->x; x < r->x + r->w; x++)
		draw_wchar(app, r->y, x, app->glyphs.hline, EL_DIM);
	used = draw_textf(app, r->y, r->x + 1, r->w - 2,
	    focused ? EL_PANE_FOCUS : EL_PANE_TITLE, " %s ", title);
	(void)used;
}

void
draw_bar(const struct app *app, int y, int x, int w, double share,
    enum element element)
{
	int eighths, full, i;

	if (!(share > 0))
		share = 0;
	if (share > 1)
		share = 1;
	eighths = (int)lround(share * w * 8);
	full = eighths / 8;
	for (i = 0; i < full && i < w; i++)
		draw_wchar(app, y, x + i, app->glyphs.unicode ? 0x2588 : '#',
		    element);
	if (full < w && eighths % 8 != 0) {
		/* U+258F is one eighth, U+2589 seven eighths. */
		wchar_t part = app->glyphs.unicode ?
		    (wchar_t)(0x2590 - eighths % 8) :
		    (eighths % 8 >= 4 ? '+' : ' ');
		draw_wchar(app, y, x + full, part, element);
	}
}

enum element
route_element(char choice)
{
	return choice == 'B' ? EL_BIG : choice == 'S' ? EL_SMALL : EL_SKIP;
}

wchar_t
route_glyph(const struct app *app, char choice)
{
	return choice == 'B' ? app->glyphs.big : choice == 'S' ?
	    app->glyphs.small : app->glyphs.skip;
}

void
draw_route(const struct app *app, int y, int x, const char *route,
    int n_layer)
{
	int l;

	for (l = 0; l < n_layer; l++) {
		char c = route != NULL ? route[l] : ' ';

		if (route == NULL)
			draw_wchar(app, y, x + l, ' ', EL_NORMAL);
		else
			draw_wchar(app, y, x + l, route_glyph(app, c),
			    route_element(c));
	}
}

enum element
heat_element(int level)
{
	return (enum element)(EL_HEAT_0 + level);
}

wchar_t
heat_glyph(const struct app *app, int level)
{
	return app->glyphs.unicode ? (wchar_t)(0x2581 + level) :
	    (wchar_t)('0' + level);
}

/* The steps of a legend: each level shown and the least value it
 * stands for; returns how many. */
static int
legend_steps(double lo, double hi, int integer, int *levels,
    char numbers[][32])
{
	int level, count, i, n = 0;
	double bound, last = NAN;

	/* A few whole numbers: one swatch each, in the colour it gets. */
	count = integer && hi - lo <= N_HEAT ? (int)(hi - lo) : N_HEAT;
	for (i = 0; i < count; i++) {
		if (count < N_HEAT) {
			bound = lo + i;
			level = run_level(bound, lo, hi);
		} else {
			bound = lo + (hi - lo) * i / N_HEAT;
			level = i;
			if (integer)
				bound = ceil(bound);
			if (integer && bound == last)
				continue;
		}
		last = bound;
		if (integer)
			snprintf(numbers[n], 32, "%g", bound);
		else
			format_number(bound, numbers[n], 32);
		levels[n++] = level;
	}
	return n;
}

/*
 * Draw (or, with draw 0, only measure) the steps, a number on every
 * step or on every other one (sparse) and on the last; the last step
 * open-ended when the scale is clipped, then note.
 */
static int
legend_draw(const struct app *app, int y, int x, int n, const int *levels,
    char numbers[][32], int sparse, int clipped, const char *note,
    int draw)
{
	const char *sep = app->glyphs.unicode ? "" : ":";
	const char *at_least = app->glyphs.unicode ? "\xe2\x89\xa5" : ">=";
	char label[48];
	int i, used = 0;

	for (i = 0; i < n; i++) {
		int last = i == n - 1;

		if (sparse && i % 2 == 1 && !last)
			label[0] = '\0';
		else
			snprintf(label, sizeof label, "%s%s%s", sep,
			    last && clipped ? at_least : "", numbers[i]);
		if (draw) {
			draw_wchar(app, y, x + used, heat_glyph(app,
			    levels[i]), heat_element(levels[i]));
			draw_text(app, y, x + used + 1, text_width(label),
			    label, EL_NORMAL);
		}
		used += 1 + text_width(label) + 1;
	}
	if (note[0] == '\0')
		return used;
	if (draw)
		draw_text(app, y, x + used, text_width(note), note, EL_NORMAL);
	return used + text_width(note) + 1;
}

/* The note after a clipped scale's top step, whole (form 0) to short. */
static void
clip_note(char *note, size_t size, int form, size_t above, double hi)
{
	char top[32];

	format_number(hi, top, sizeof top);
	if (form == 0)
		snprintf(note, size, "(%zu token%s above %s)", above,
		    above == 1 ? "" : "s", top);
	else if (form == 1)
		snprintf(note, size, "(%zu above %s)", above, top);
	else
		snprintf(note, size, "(+%zu)", above);
}

int
draw_legend(const struct app *app, int y, int x, int w, double lo,
    double hi, int integer, size_t above)
{
	/* The forms to try, most said first: a number on every step or
	 * on every other one, and the note on clipping. */
	static const struct {
		int sparse, note;
	} forms[] = {
		{ 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 }, { 0, 2 }, { 1, 2 },
	};
	int levels[N_HEAT], n, used, f;
	int n_forms = above > 0 ? (int)(sizeof forms / sizeof forms[0]) : 1;
	char numbers[N_HEAT][32], note[96] = "";

	n = legend_steps(lo, hi, integer, levels, numbers);
	for (f = 0; f < n_forms; f++) {
		if (above > 0)
			clip_note(note, sizeof note, forms[f].note, above, hi);
		used = legend_draw(app, y, x, n, levels, numbers,
		    forms[f].sparse, above > 0, note, 0);
		if (used <= w)
			goto fits;
	}
	/* Too narrow for any: as many whole steps as fit. */
	while (n > 1 && legend_draw(app, y, x, n, levels, numbers, 1, 0, "",
	    0) > w)
		n--;
	return legend_draw(app, y, x, n, levels, numbers, 1, 0, "", 1);
fits:
	return legend_draw(app, y, x, n, levels, numbers, forms[f].sparse,
	    above > 0, note, 1);
}

const char *
format_number(double v, char *buf, size_t size)
{
	double a = fabs(v);

	if (isnan(v))
		snprintf(buf, size, "-");
	else if (a >= 10000)
		snprintf(buf, size, "%.3g", v);
	else if (a >= 1000)
		snprintf(buf, size, "%.0f", v);
	else if (a >= 100)
		snprintf(buf, size, "%.1f", v);
	else
		snprintf(buf, size, "%.2f", v);
	return buf;
}

/* ---- charts ----------------------------------------------------------- */

struct canvas {
	int w, h;                       /* cells */
	unsigned char *dots;            /* [h * w] braille bits */
	signed char *owner;             /* [h * w] series, -1 none */
};

/* Set dot (dx, dy) of the canvas, dots 2 wide and 4 high per cell. */
static void
canvas_set(struct canvas *c, int dx, int dy, int series)
{
	static const unsigned char bit[4][2] = {
		{ 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 },
	};
	int cx = dx / 2, cy = dy / 4;

	if (dx < 0 || dy < 0 || cx >= c->w || cy >= c->h)
		return;
	c->dots[cy * c->w + cx] |= bit[dy % 4][dx % 2];
	c->owner[cy * c->w + cx] = (signed char)series;
}

static void
canvas_line(struct canvas *c, int x0, int y0, int x1, int y1, int series)
{
	int dx = abs(x1 - x0), dy = -abs(y1 - y0);
	int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy, e2;

	for (;;) {
		canvas_set(c, x0, y0, series);
		if (x0 == x1 && y0 == y1)
			break;
		e2 = 2 * e;
		if (e2 >= dy) {
			e += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			e += dx;
			y0 += sy;
		}
	}
}

/* The line of the nth level of a chart (big, small, best): a glyph of
 * its own, so that levels differ without colour too. */
static wchar_t
level_glyph(const struct app *app, int nth)
{
	static const wchar_t unicode[] = { 0x2550, 0x2500, 0x2504, 0x2508 };
	static const wchar_t ascii[] = { '=', '-', '~', ',' };

	nth %= 4;
	return app->glyphs.unicode ? unicode[nth] : ascii[nth];
}

/* Which level, counted from 0, series s is. */
static int
level_index(const struct chart *chart, int s)
{
	int i, n = 0;

	for (i = 0; i < s; i++)
		n += chart->series[i].level;
	return n;
}

/* The range of every finite value in the chart, widened a little (or
 * the range it was given). */
int
chart_y_range(const struct chart *chart, double *lo, double *hi)
{
	int s, i, n;

	if (chart->fixed && chart->hi > chart->lo) {
		*lo = chart->lo;
		*hi = chart->hi;
		return 0;
	}
	*lo = INFINITY;
	*hi = -INFINITY;
	for (s = 0; s < chart->n_series; s++) {
		if (chart->series[s].hidden)
			continue;
		n = chart->series[s].level ? 1 : chart->n;
		for (i = 0; i < n; i++) {
			double v = chart->series[s].y[i];

			if (!isfinite(v))
				continue;
			if (v < *lo)
				*lo = v;
			if (v > *hi)
				*hi = v;
		}
	}
	if (!isfinite(*lo))
		return -1;
	if (*hi - *lo < 1e-9 * (fabs(*hi) + 1)) {
		*lo -= 0.5;
		*hi += 0.5;
	} else {
		double pad = (*hi - *lo) * 0.04;

		*lo -= pad;
		*hi += pad;
	}
	return 0;
}

void
draw_chart(const struct app *app, const struct rect *r,
    const struct chart *chart)
{
	char label[32], entry[128];
	int legend_rows = 0, label_w = 0, px, py, pw, ph, s, i, x, y, used, pass;
	int col_of[128], step;
	double lo, hi;
	struct canvas canvas;

	if (chart->n < 1 || chart->n > 128 || r->w < 12 || r->h < 4)
		return;
	/* Legend: one entry per series, packed into rows. */
	if (chart->legend) {
		used = r->w;
		for (s = 0; s < chart->n_series; s++) {
			const struct chart_series *cs = &chart->series[s];
			double v = cs->level ? cs->y[0] : chart->mark >= 0 ?
			    cs->y[chart->mark] : NAN;
			int n;

			/* On a low chart, names only: the plot needs the
			 * lines more than the values. */
			format_number(v, label, sizeof label);
			n = snprintf(entry, sizeof entry, "%s %s", cs->name,
			    cs->hidden ? "hidden" : r->h >= 14 ? label : "") +
			    4;
			if (used + n > r->w) {
				legend_rows++;
				used = 0;
			}
			if (legend_rows < r->h - 3) {
				draw_wchar(app, r->y + legend_rows - 1,
				    r->x + used + 1, cs->level ?
				    level_glyph(app, level_index(chart, s)) :
				    app->glyphs.markers[s], cs->hidden ?
				    EL_DIM : (enum element)(EL_SERIES_0 + s));
				draw_text(app, r->y + legend_rows - 1,
				    r->x + used + 3, r->w - used - 3, entry,
				    cs->hidden ? EL_DIM : cs->highlight ?
				    EL_PANE_FOCUS : EL_NORMAL);
			}
			used += n;
		}
	}
	if (chart_y_range(chart, &lo, &hi) != 0) {
		draw_text(app, r->y + legend_rows, r->x + 1, r->w - 2,
		    "(no values to draw)", EL_DIM);
		return;
	}
	/* Y labels: as wide as the widest of the two ends. */
	label_w = (int)strlen(format_number(hi, label, sizeof label));
	i = (int)strlen(format_number(lo, label, sizeof label));
	if (i > label_w)
		label_w = i;
	px = r->x + label_w + 1;
	py = r->y + legend_rows;
	pw = r->w - label_w - 3;
	ph = r->h - legend_rows - 2;
	if (pw < 4 || ph < 2)
		return;

	/* Axes, with up to five labelled rows. */
	for (y = py; y < py + ph; y++)
		draw_wchar(app, y, px - 1, app->glyphs.vline, EL_AXIS);
	draw_wchar(app, py + ph, px - 1, app->glyphs.corner, EL_AXIS);
	for (x = px; x < px + pw; x++)
		draw_wchar(app, py + ph, x, app->glyphs.hline, EL_AXIS);
	step = ph >= 8 ? (ph - 1) / 4 : ph - 1;
	for (y = 0; y < ph; y += step > 0 ? step : 1) {
		double v = hi - (hi - lo) * (y + 0.5) / ph;

		format_number(v, label, sizeof label);
		draw_text(app, py + y, px - 1 - (int)strlen(label), label_w,
		    label, EL_AXIS);
		draw_wchar(app, py + y, px - 1, app->glyphs.left_tee,
		    EL_AXIS);
	}
	/* X ticks and labels, as many as fit. */
	for (i = 0; i < chart->n; i++)
		col_of[i] = chart->n == 1 ? 0 :
		    (int)lround((double)i * (pw - 1) / (chart->n - 1));
	step = 1;
	while (step < chart->n && (double)(pw) / ((chart->n - 1) /
	    (double)step + 1) < 3)
		step++;
	for (i = 0; i < chart->n; i++) {
		int is_mark = i == chart->mark;

		if (i % step != 0 && !is_mark)
			continue;
		snprintf(label, sizeof label, "%d", i);
		draw_wchar(app, py + ph, px + col_of[i], app->glyphs.tick,
		    is_mark ? EL_MARK : EL_AXIS);
		draw_text(app, py + ph + 1, px + col_of[i] -
		    (int)strlen(label) / 2, (int)strlen(label), label,
		    is_mark ? EL_MARK : EL_AXIS);
	}
	if (chart->x_label != NULL)
		draw_text(app, py + ph, px + pw + 1, r->x + r->w - (px + pw + 1),
		    chart->x_label, EL_DIM);
	if (chart->mark >= 0 && chart->mark < chart->n)
		for (y = py; y < py + ph; y++)
			draw_wchar(app, y, px + col_of[chart->mark],
			    app->glyphs.unicode ? 0x2506 : ':', EL_MARK);

	/* Curves in braille dots; the levels are drawn after, as rows of
	 * their glyphs where no curve passes. */
	canvas.w = pw;
	canvas.h = ph;
	canvas.dots = calloc((size_t)pw * (size_t)ph, 1);
	canvas.owner = malloc((size_t)pw * (size_t)ph);
	if (canvas.dots == NULL || canvas.owner == NULL) {
		free(canvas.dots);
		free(canvas.owner);
		return;
	}
	memset(canvas.owner, -1, (size_t)pw * (size_t)ph);
#define DOT_X(i) (chart->n == 1 ? 0 : \
	(int)lround((double)(i) * (pw * 2 - 1) / (chart->n - 1)))
#define DOT_Y(v) ((int)lround((hi - (v)) / (hi - lo) * (ph * 4 - 1)))
	/* The highlighted series in a second pass, over the others. */
	for (pass = 0; pass < 2; pass++) {
		for (s = 0; s < chart->n_series; s++) {
			const struct chart_series *cs = &chart->series[s];
			int last = -1;

			if (cs->level || cs->hidden ||
			    (cs->highlight != 0) != pass)
				continue;
			for (i = 0; i < chart->n; i++) {
				if (!isfinite(cs->y[i]))
					continue;
				if (last >= 0)
					canvas_line(&canvas, DOT_X(last),
					    DOT_Y(cs->y[last]), DOT_X(i),
					    DOT_Y(cs->y[i]), s);
				else
					canvas_set(&canvas, DOT_X(i),
					    DOT_Y(cs->y[i]), s);
				last = i;
			}
		}
	}
	/* Levels as rows of their glyph, where no curve passes. */
	for (s = 0; s < chart->n_series; s++) {
		const struct chart_series *cs = &chart->series[s];

		if (!cs->level || cs->hidden || !isfinite(cs->y[0]) ||
		    cs->y[0] < lo || cs->y[0] > hi)
			continue;
		y = DOT_Y(cs->y[0]) / 4;
		for (x = 0; x < pw; x++)
			if (canvas.owner[y * pw + x] < 0 && !(chart->mark >= 0 &&
			    chart->mark < chart->n && x == col_of[chart->mark]))
				draw_wchar(app, py + y, px + x,
				    level_glyph(app, level_index(chart, s)),
				    (enum element)(EL_SERIES_0 + s));
	}
	for (y = 0; y < ph; y++)
		for (x = 0; x < pw; x++) {
			int owner = canvas.owner[y * pw + x];

			if (owner < 0)
				continue;
			draw_wchar(app, py + y, px + x, app->glyphs.unicode ?
			    (wchar_t)(0x2800 + canvas.dots[y * pw + x]) : '.',
			    (enum element)(EL_SERIES_0 + owner));
		}
	/* Markers at the points, when the points are apart (on a low chart
	 * they would hide the lines); the highlighted series' last, never
	 * under another's. */
	for (pass = 0; pass < 2 && pw >= 2 * chart->n && ph >= 4; pass++)
		for (s = 0; s < chart->n_series; s++) {
			const struct chart_series *cs = &chart->series[s];

			if (cs->level || cs->hidden ||
			    (cs->highlight != 0) != pass)
				continue;
			for (i = 0; i < chart->n; i++)
				if (isfinite(cs->y[i]) && cs->y[i] >= lo &&
				    cs->y[i] <= hi)
					draw_wchar(app, py + DOT_Y(cs->y[i]) /
					    4, px + DOT_X(i) / 2,
					    app->glyphs.markers[s],
					    (enum element)(EL_SERIES_0 + s));
		}
#undef DOT_X
#undef DOT_Y
	free(canvas.dots);
	free(canvas.owner);
	draw_style(app, EL_NORMAL);
}

const char *
piece_escape(const struct glyph_set *g, const char *bytes, size_t n,
    char *out, size_t size)
{
	size_t i = 0, used = 0;
	char one[8];
	wchar_t wc;
	uint32_t c;
	int w;

	while (i < n) {
		if (utf8_next(bytes, n, &i, &wc) != 0) {
			/* A byte of a character split between tokens. */
			snprintf(one, sizeof one, "\\x%02x",
			    (unsigned)(unsigned char)bytes[i - 1]);
		} else if (wc == '"' || wc == '\\' || (!g->unicode &&
		    (wc == '\n' || wc == '\t'))) {
			/* In ASCII a newline and a tab are \n and \t: no
			 * one glyph would be told from text. */
			one[0] = '\\';
			one[1] = wc == '\n' ? 'n' : wc == '\t' ? 't' :
			    (char)wc;
			one[2] = '\0';
		} else {
			if (wc == '\n')
				c = (uint32_t)g->newline;
			else if (wc == '\t')
				c = (uint32_t)g->tab;
			else if (wc < 32 || wc == 127)
				c = !g->unicode ? '^' : wc == 127 ? 0x2421 :
				    0x2400 + (uint32_t)wc;
			else if ((w = wcwidth(wc)) < 0)
				c = (uint32_t)g->replacement;
			else
				c = (uint32_t)wc;
			one[utf8_put(c, one)] = '\0';
		}
		if (used + strlen(one) + 1 > size)
			break;
		memcpy(out + used, one, strlen(one));
		used += strlen(one);
	}
	if (size > 0)
		out[used < size ? used : size - 1] = '\0';
	return out;
}
