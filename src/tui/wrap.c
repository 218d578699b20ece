/*
 * wrap.c - a run's text laid out in lines of a given width, for the views
 * that show the text token by token (the text view and the compare
 * view): each glyph's line and column, each line's first glyph, and the
 * moves between lines that keep the cursor's column.
 */
#include "wrap.h"

#include <stdlib.h>

#include "run.h"

void
wrap_free(struct text_wrap *w)
{
	free(w->glyph_line);
	free(w->glyph_col);
	free(w->glyph_token);
	free(w->line_first);
	w->glyph_line = w->glyph_col = NULL;
	w->glyph_token = NULL;
	w->line_first = NULL;
	w->run = NULL;
	w->n_lines = 0;
}

/*
 * Lay the glyphs out in lines of width cells: a word (a token with white
 * space before it and the tokens that follow it up to the next such) that
 * does not fit on what is left of a line starts the next one, unless it
 * is wider than a whole line.
 */
static int
wrap_build(struct text_wrap *w, const struct tui_run *run, int width)
{
	size_t p, q, g, capacity;
	int line = 0, col = 0, token_width;

	wrap_free(w);
	capacity = run->n_glyphs + 2;
	w->glyph_line = malloc(capacity * sizeof *w->glyph_line);
	w->glyph_col = malloc(capacity * sizeof *w->glyph_col);
	w->glyph_token = malloc(capacity * sizeof *w->glyph_token);
	w->line_first = malloc((capacity + 1) * sizeof *w->line_first);
	if (w->glyph_line == NULL || w->glyph_col == NULL ||
	    w->glyph_token == NULL || w->line_first == NULL) {
		wrap_free(w);
		return -1;
	}
	w->line_first[0] = 0;
	for (p = 1; p <= run->T; p++) {
		/* The width of the word that starts here: this token and the
		 * ones after it that do not start a word, up to a newline. */
		token_width = 0;
		for (q = p; q <= run->T && (q == p || !run_starts_word(run, q));
		    q++) {
			for (g = run->first_glyph[q];
			    g < run->first_glyph[q + 1]; g++) {
				token_width += run->glyphs[g].width;
				if (run->glyphs[g].line_break)
					break;
			}
			if (g < run->first_glyph[q + 1])
				break;
		}
		if (run_starts_word(run, p) && col > 0 &&
		    col + token_width > width && token_width <= width) {
			w->line_first[++line] = run->first_glyph[p];
			col = 0;
		}
		for (g = run->first_glyph[p]; g < run->first_glyph[p + 1];
		    g++) {
			if (col > 0 && col + run->glyphs[g].width > width) {
				w->line_first[++line] = g;
				col = 0;
			}
			w->glyph_line[g] = line;
			w->glyph_col[g] = col;
			w->glyph_token[g] = p;
			col += run->glyphs[g].width;
			if (run->glyphs[g].line_break && g + 1 <
			    run->n_glyphs) {
				w->line_first[++line] = g + 1;
				col = 0;
			}
		}
	}
	w->n_lines = line + 1;
	w->line_first[w->n_lines] = run->n_glyphs;
	w->run = run;
	w->width = width;
	return 0;
}

int
wrap_ensure(struct text_wrap *w, const struct tui_run *run, int width)
{
	if (run == NULL || width < 1)
		return -1;
	if (w->run == run && w->width == width)
		return 0;
	return wrap_build(w, run, width);
}

int
wrap_line_of(const struct text_wrap *w, size_t p)
{
	return w->glyph_line[w->run->first_glyph[p]];
}

size_t
wrap_token_at(const struct text_wrap *w, int line, int col)
{
	size_t g, best = w->line_first[line];

	for (g = w->line_first[line]; g < w->line_first[line + 1]; g++)
		if (w->glyph_col[g] <= col)
			best = g;
	return w->glyph_token[best];
}

size_t
wrap_move_lines(const struct text_wrap *w, size_t cursor, int delta)
{
	size_t g = w->run->first_glyph[cursor];
	int line = w->glyph_line[g] + delta;

	if (line < 0)
		line = 0;
	if (line >= w->n_lines)
		line = w->n_lines - 1;
	return wrap_token_at(w, line, w->glyph_col[g]);
}

int
wrap_scroll(const struct text_wrap *w, size_t cursor, int top, int rows)
{
	int line = wrap_line_of(w, cursor);

	if (line < top)
		top = line;
	if (line >= top + rows)
		top = line - rows + 1;
	return top;
}
