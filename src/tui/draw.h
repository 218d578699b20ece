/*
 * draw.h - what the views draw with (draw.c): text measured in cells,
 * UTF-8, pane titles, bars, route strips, heat legends and charts; and
 * the colour schemes (colors.c).
 */
#ifndef DUO_TUI_DRAW_H
#define DUO_TUI_DRAW_H

#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "tui.h"

/* The scheme the terminal allows; mono when no_color. */
enum scheme colors_choose(int no_color);
/* Initialise colour pairs (after start_color) and fill the palette. */
void colors_init(struct palette *palette, enum scheme scheme);
const char *colors_scheme_name(enum scheme scheme);

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
/* The same, ending in an ellipsis when s does not fit in w cells. */
int draw_text_cut(const struct app *app, int y, int x, int w, const char *s,
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
/*
 * The colour legend of a scale: level swatches with numbers (under
 * --ascii a colon between the level's digit and its number), in at most
 * w cells.  above: how many values past hi the top step holds too (a
 * scale clipped at a percentile), said after its number, which then
 * reads >= X.  Returns the cells used.
 */
int draw_legend(const struct app *app, int y, int x, int w, double lo,
    double hi, int integer, size_t above);
enum element heat_element(int level);
wchar_t heat_glyph(const struct app *app, int level);

/* A chart of y against x = 0..n-1 for a few series. */
struct chart_series {
	const char *name;
	const double *y;                /* [n]; NAN: no point */
	int level;                      /* a horizontal line at y[0] */
	int highlight;                  /* drawn last, its name bold */
	int hidden;                     /* in the legend only, dim */
};

struct chart {
	const struct chart_series *series;
	int n_series;
	int n;                          /* x = 0..n-1 */
	int mark;                       /* x drawn as a marked column; -1 */
	const char *x_label;
	const char *y_label;
	int legend;                     /* names with the value at mark */
	int fixed;                      /* y from lo to hi, not the values' */
	double lo, hi;
};

void draw_chart(const struct app *app, const struct rect *r,
    const struct chart *chart);
/* The range of y the chart is drawn over; -1 if it has no value. */
int chart_y_range(const struct chart *chart, double *lo, double *hi);

/*
 * A token's piece as every view shows it, between quotes: the text
 * view's stand-ins for a newline, a tab and a control character, \" and
 * \\ for a quote and a backslash, \xHH for a byte that is no UTF-8 by
 * itself; into out (cut short to fit), which it returns.
 */
const char *piece_escape(const struct glyph_set *g, const char *bytes,
    size_t n, char *out, size_t size);

/* "12.3" for a perplexity, "-" for NAN, in buf. */
const char *format_number(double v, char *buf, size_t size);

#endif
