/*
 * colors.c - how each screen element looks, as one table of elements by
 * schemes: 256 colours, 8 colours, and monochrome.
 *
 * Colour never carries meaning alone: routes have a glyph per choice,
 * chart series a marker each, heat levels a legend with numbers and, in
 * monochrome, attributes from dim to reverse.  The terminal's own
 * background is kept (-1 below is "the default colour").
 */
#include "tui.h"

#include <stdlib.h>

#include "draw.h"

struct look {
	short fg, bg;
	attr_t attr;
};

static const struct element_looks {
	enum element element;
	struct look c256, c8;
	attr_t mono;
} looks[] = {
	{ EL_NORMAL, { -1, -1, 0 }, { -1, -1, 0 }, 0 },
	{ EL_TITLE, { 231, 24, A_BOLD }, { COLOR_WHITE, COLOR_BLUE, A_BOLD },
	  A_REVERSE | A_BOLD },
	{ EL_STATUS, { 252, 236, 0 }, { -1, -1, A_REVERSE }, A_REVERSE },
	{ EL_ERROR, { 231, 124, A_BOLD }, { COLOR_WHITE, COLOR_RED, A_BOLD },
	  A_BOLD | A_REVERSE },
	{ EL_HEADER, { 110, -1, A_BOLD }, { COLOR_CYAN, -1, A_BOLD },
	  A_BOLD | A_UNDERLINE },
	{ EL_SELECTED, { 231, 25, 0 }, { COLOR_WHITE, COLOR_BLUE, 0 },
	  A_REVERSE },
	{ EL_PANE_TITLE, { 245, -1, 0 }, { -1, -1, 0 }, A_UNDERLINE },
	{ EL_PANE_FOCUS, { 222, -1, A_BOLD }, { COLOR_YELLOW, -1, A_BOLD },
	  A_BOLD | A_UNDERLINE },
	{ EL_DIM, { 244, -1, 0 }, { -1, -1, A_DIM }, A_DIM },
	{ EL_KEY, { 222, -1, A_BOLD }, { COLOR_YELLOW, -1, A_BOLD }, A_BOLD },
	{ EL_MATCH, { -1, -1, A_UNDERLINE }, { -1, -1, A_UNDERLINE },
	  A_UNDERLINE },
	{ EL_AXIS, { 246, -1, 0 }, { -1, -1, 0 }, 0 },
	{ EL_MARK, { 222, -1, 0 }, { COLOR_YELLOW, -1, 0 }, A_BOLD },
	{ EL_BIG, { 209, -1, A_BOLD }, { COLOR_RED, -1, A_BOLD }, A_BOLD },
	{ EL_SMALL, { 75, -1, 0 }, { COLOR_CYAN, -1, 0 }, 0 },
	{ EL_SKIP, { 242, -1, 0 }, { -1, -1, A_DIM }, A_DIM },
	/* Chart series: oracle first, in the warmest colour. */
	{ EL_SERIES_0, { 203, -1, A_BOLD }, { COLOR_RED, -1, A_BOLD }, A_BOLD },
	{ EL_SERIES_1, { 75, -1, 0 }, { COLOR_CYAN, -1, 0 }, 0 },
	{ EL_SERIES_2, { 114, -1, 0 }, { COLOR_GREEN, -1, 0 }, 0 },
	{ EL_SERIES_3, { 221, -1, 0 }, { COLOR_YELLOW, -1, 0 }, 0 },
	{ EL_SERIES_4, { 177, -1, 0 }, { COLOR_MAGENTA, -1, 0 }, 0 },
	{ EL_SERIES_5, { 250, -1, 0 }, { COLOR_WHITE, -1, 0 }, 0 },
	{ EL_SERIES_6, { 216, -1, 0 }, { COLOR_RED, -1, 0 }, 0 },
	{ EL_SERIES_7, { 152, -1, 0 }, { COLOR_BLUE, -1, A_BOLD }, 0 },
	{ EL_SERIES_8, { 141, -1, 0 }, { COLOR_MAGENTA, -1, A_BOLD }, 0 },
	{ EL_SERIES_9, { 43, -1, 0 }, { COLOR_GREEN, -1, A_BOLD }, 0 },
	{ EL_SERIES_10, { 209, -1, 0 }, { COLOR_YELLOW, -1, A_BOLD }, 0 },
	{ EL_SERIES_11, { 111, -1, 0 }, { COLOR_CYAN, -1, A_BOLD }, 0 },
	{ EL_SERIES_12, { 186, -1, 0 }, { COLOR_WHITE, -1, A_BOLD }, 0 },
	{ EL_SERIES_13, { 174, -1, 0 }, { COLOR_RED, -1, A_UNDERLINE }, 0 },
	/* Heat: the lowest level keeps the terminal's look, so that easy
	 * tokens read as plain text and hard ones stand out; in monochrome
	 * each of the eight levels has a look of its own, plain, dim,
	 * underlined, bold and reverse in turn. */
	{ EL_HEAT_0, { -1, -1, 0 }, { -1, -1, 0 }, 0 },
	{ EL_HEAT_1, { 231, 23, 0 }, { COLOR_WHITE, COLOR_BLUE, 0 }, A_DIM },
	{ EL_HEAT_2, { 231, 30, 0 }, { COLOR_BLACK, COLOR_CYAN, 0 },
	  A_DIM | A_UNDERLINE },
	{ EL_HEAT_3, { 16, 72, 0 }, { COLOR_BLACK, COLOR_GREEN, 0 },
	  A_UNDERLINE },
	{ EL_HEAT_4, { 16, 143, 0 }, { COLOR_BLACK, COLOR_GREEN, A_BOLD },
	  A_BOLD },
	{ EL_HEAT_5, { 16, 221, 0 }, { COLOR_BLACK, COLOR_YELLOW, 0 },
	  A_BOLD | A_UNDERLINE },
	{ EL_HEAT_6, { 16, 209, 0 }, { COLOR_WHITE, COLOR_MAGENTA, A_BOLD },
	  A_REVERSE },
	{ EL_HEAT_7, { 231, 160, A_BOLD }, { COLOR_WHITE, COLOR_RED, A_BOLD },
	  A_REVERSE | A_BOLD },
	/* Differences, left minus right: blue where the left side does
	 * better, orange to red where it does worse; in monochrome,
	 * underlined (dim to bold) where better, bold to reverse where
	 * worse. */
	{ EL_DIFF_0, { 231, 25, A_BOLD }, { COLOR_WHITE, COLOR_BLUE, A_BOLD },
	  A_UNDERLINE | A_BOLD },
	{ EL_DIFF_1, { 16, 74, 0 }, { COLOR_BLACK, COLOR_CYAN, 0 },
	  A_UNDERLINE },
	{ EL_DIFF_2, { 16, 153, 0 }, { COLOR_CYAN, -1, 0 },
	  A_UNDERLINE | A_DIM },
	{ EL_DIFF_3, { -1, -1, 0 }, { -1, -1, 0 }, 0 },
	{ EL_DIFF_4, { 16, 223, 0 }, { COLOR_YELLOW, -1, 0 }, A_BOLD },
	{ EL_DIFF_5, { 16, 209, 0 }, { COLOR_BLACK, COLOR_YELLOW, 0 },
	  A_REVERSE },
	{ EL_DIFF_6, { 231, 160, A_BOLD }, { COLOR_WHITE, COLOR_RED, A_BOLD },
	  A_REVERSE | A_BOLD },
};

enum scheme
colors_choose(int no_color)
{
	const char *env = getenv("NO_COLOR");

	/* https://no-color.org: present and not empty means no colour. */
	if (no_color || (env != NULL && *env != '\0') || !has_colors())
		return SCHEME_MONO;
	if (start_color() == ERR)
		return SCHEME_MONO;
	if (COLORS >= 256 && COLOR_PAIRS > N_ELEMENTS)
		return SCHEME_256;
	if (COLORS >= 8 && COLOR_PAIRS > N_ELEMENTS)
		return SCHEME_8;
	return SCHEME_MONO;
}

void
colors_init(struct palette *palette, enum scheme scheme)
{
	size_t i;

	palette->scheme = scheme;
	if (scheme != SCHEME_MONO)
		use_default_colors();
	for (i = 0; i < sizeof looks / sizeof looks[0]; i++) {
		const struct element_looks *e = &looks[i];
		const struct look *l = scheme == SCHEME_256 ? &e->c256 :
		    &e->c8;
		short pair = (short)(e->element + 1);

		if (scheme == SCHEME_MONO) {
			palette->attr[e->element] = e->mono;
			palette->pair[e->element] = 0;
			continue;
		}
		palette->attr[e->element] = l->attr;
		if (l->fg == -1 && l->bg == -1) {
			palette->pair[e->element] = 0;
			continue;
		}
		init_pair(pair, l->fg, l->bg);
		palette->pair[e->element] = pair;
	}
}

const char *
colors_scheme_name(enum scheme scheme)
{
	static const char *const names[] = { "256 colours", "8 colours",
	    "monochrome" };

	return names[scheme];
}
