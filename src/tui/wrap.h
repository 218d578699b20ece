/*
 * wrap.h - the text of a run laid out in lines of a width (wrap.c), for
 * the views that show it.
 */
#ifndef DUO_TUI_WRAP_H
#define DUO_TUI_WRAP_H

#include <stddef.h>

#include "run.h"

struct text_wrap {
	const struct tui_run *run;      /* wrapped for; NULL: nothing */
	int width;
	int *glyph_line;                /* [n_glyphs] */
	int *glyph_col;
	size_t *glyph_token;            /* position of each glyph */
	size_t *line_first;             /* [n_lines + 1] first glyph */
	int n_lines;
};

/* Lay run out in lines of width cells unless it already is; -1 if not. */
int wrap_ensure(struct text_wrap *w, const struct tui_run *run, int width);
void wrap_free(struct text_wrap *w);
int wrap_line_of(const struct text_wrap *w, size_t p);
/* The token on line at the column nearest col. */
size_t wrap_token_at(const struct text_wrap *w, int line, int col);
/* The token delta lines from cursor, in the cursor's column. */
size_t wrap_move_lines(const struct text_wrap *w, size_t cursor, int delta);
/* The first line to show of rows so that the cursor's line is seen. */
int wrap_scroll(const struct text_wrap *w, size_t cursor, int top, int rows);

#endif
