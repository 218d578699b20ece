/*
 * edit.c - a line editor: a line or an area of several lines being typed,
 * as wide characters with a cursor; its layout in rows of a given width
 * (an area breaks at its newlines and at the edge), the moves of the
 * cursor over those rows, and the drawing of either, scrolled so that
 * the cursor stays in sight.  It knows nothing of the form it sits in.
 */
#include "edit.h"

#include <stdlib.h>
#include <string.h>

#include "draw.h"

static int
edit_reserve(struct edit *e, size_t more)
{
	wchar_t *grown;
	size_t capacity;

	if (e->length + more <= e->capacity)
		return 0;
	if (e->length + more > EDIT_MAX)
		return -1;
	capacity = e->capacity * 2 + more + 64;
	if (capacity > EDIT_MAX)
		capacity = EDIT_MAX;
	grown = realloc(e->text, capacity * sizeof *grown);
	if (grown == NULL)
		return -1;
	e->text = grown;
	e->capacity = capacity;
	return 0;
}

int
edit_insert(struct edit *e, wchar_t wc)
{
	if (edit_reserve(e, 1) != 0)
		return -1;
	memmove(e->text + e->cursor + 1, e->text + e->cursor,
	    (e->length - e->cursor) * sizeof *e->text);
	e->text[e->cursor++] = wc;
	e->length++;
	return 0;
}

void
edit_erase_back(struct edit *e)
{
	if (e->cursor == 0)
		return;
	memmove(e->text + e->cursor - 1, e->text + e->cursor,
	    (e->length - e->cursor) * sizeof *e->text);
	e->cursor--;
	e->length--;
}

void
edit_erase(struct edit *e)
{
	if (e->cursor >= e->length)
		return;
	e->cursor++;
	edit_erase_back(e);
}

void
edit_clear(struct edit *e)
{
	e->length = e->cursor = 0;
}

int
edit_set(struct edit *e, const char *s)
{
	size_t i = 0, n = strlen(s);
	wchar_t wc;

	edit_clear(e);
	while (i < n) {
		if (utf8_next(s, n, &i, &wc) != 0)
			wc = 0xfffd;
		if (edit_insert(e, wc) != 0)
			return -1;
	}
	return 0;
}

char *
edit_utf8(const struct edit *e, size_t *length)
{
	char *out = malloc(e->length * 4 + 1);
	size_t i, used = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < e->length; i++)
		used += utf8_put((uint32_t)e->text[i], out + used);
	out[used] = '\0';
	if (length != NULL)
		*length = used;
	return out;
}

void
edit_free(struct edit *e)
{
	free(e->text);
	memset(e, 0, sizeof *e);
}

/* Cells a character takes in a field; what stands for it on screen. */
static int
cell_width(wchar_t wc)
{
	int w;

	if (wc < 32 || wc == 127)
		return 1;
	w = wcwidth(wc);
	return w < 1 ? 1 : w;
}

static wchar_t
cell_glyph(const struct app *app, wchar_t wc)
{
	if (wc == '\t')
		return app->glyphs.tab;
	if (wc < 32 || wc == 127 || wcwidth(wc) < 1)
		return app->glyphs.replacement;
	return wc;
}

/*
 * The area's layout, one character at a time: the pen (*row, *col) is
 * where the next character would go; character k lands at (*at_row,
 * *at_col), on the next row when it does not fit (a newline at the edge
 * too), and the pen moves past it.  k == length places the cursor after
 * the last character.
 */
static void
area_place(const struct edit *e, int width, size_t k, int *row, int *col,
    int *at_row, int *at_col)
{
	int w = k < e->length && e->text[k] != '\n' ?
	    cell_width(e->text[k]) : 0;

	if (*col + w > width || (w == 0 && *col >= width)) {
		(*row)++;
		*col = 0;
	}
	*at_row = *row;
	*at_col = *col;
	if (k < e->length && e->text[k] == '\n') {
		(*row)++;
		*col = 0;
	} else
		*col += w;
}

void
edit_area_position(const struct edit *e, int width, size_t i, int *row,
    int *col)
{
	int r = 0, c = 0, at_r, at_c;
	size_t k;

	for (k = 0; k < i && k < e->length; k++)
		area_place(e, width, k, &r, &c, &at_r, &at_c);
	area_place(e, width, i, &r, &c, row, col);
}

long
edit_area_index_at(const struct edit *e, int width, int row, int col)
{
	int r = 0, c = 0, at_r, at_c;
	long found = -1;
	size_t k;

	if (row < 0)
		return -1;
	for (k = 0; k <= e->length; k++) {
		area_place(e, width, k, &r, &c, &at_r, &at_c);
		if (at_r > row)
			break;
		if (at_r == row && (at_c <= col || found < 0))
			found = (long)k;
	}
	return found;
}

void
edit_draw_line(struct app *app, int y, int x, int w,
    const struct edit *e, int focused, const char *empty)
{
	size_t start = 0, i;
	int cells = 0, used = 0;

	if (w < 2)
		return;
	for (i = 0; i < e->cursor; i++)
		cells += cell_width(e->text[i]);
	while (cells > w - 1 && start < e->cursor)
		cells -= cell_width(e->text[start++]);
	if (e->length == 0 && !focused)
		draw_text(app, y, x, w, empty, EL_DIM);
	for (i = start; i < e->length; i++) {
		int cw = cell_width(e->text[i]);

		if (used + cw > w)
			break;
		draw_wchar(app, y, x + used, cell_glyph(app, e->text[i]),
		    focused && i == e->cursor ? EL_SELECTED :
		    e->text[i] < 32 ? EL_DIM : EL_NORMAL);
		used += cw;
	}
	if (focused && e->cursor == e->length) {
		if (e->length == 0)
			draw_text(app, y, x + 1, w - 1, empty, EL_DIM);
		draw_wchar(app, y, x + (used < w ? used : w - 1), ' ',
		    EL_SELECTED);
	}
}

void
edit_draw_area(struct app *app, int y, int x, int w, int rows,
    const struct edit *e, int *top, int focused, const char *empty)
{
	int row = 0, col = 0, at_row, at_col;
	enum element el;
	wchar_t glyph;
	size_t k;

	edit_area_position(e, w, e->cursor, &at_row, &at_col);
	if (at_row < *top)
		*top = at_row;
	if (at_row >= *top + rows)
		*top = at_row - rows + 1;
	if (e->length == 0 && !focused)
		draw_text(app, y, x, w, empty, EL_DIM);
	for (k = 0; k <= e->length; k++) {
		area_place(e, w, k, &row, &col, &at_row, &at_col);
		if (at_row < *top)
			continue;
		if (at_row >= *top + rows)
			break;
		if (k == e->length) {
			glyph = ' ';    /* the cursor after the text */
			if (!focused || e->cursor != k)
				break;
		} else
			glyph = e->text[k] == '\n' ? app->glyphs.newline :
			    cell_glyph(app, e->text[k]);
		el = focused && k == e->cursor ? EL_SELECTED :
		    k < e->length && e->text[k] < 32 ? EL_DIM : EL_NORMAL;
		draw_wchar(app, y + at_row - *top, x + at_col, glyph, el);
	}
}

int
edit_area_move(struct edit *e, int width, int delta)
{
	int row, col;
	long i;

	edit_area_position(e, width, e->cursor, &row, &col);
	i = edit_area_index_at(e, width, row + delta, col);
	if (i < 0)
		return -1;
	e->cursor = (size_t)i;
	return 0;
}

void
edit_area_row_end(struct edit *e, int width, int end)
{
	int row, col;
	long i;

	edit_area_position(e, width, e->cursor, &row, &col);
	i = edit_area_index_at(e, width, row, end ? 1 << 30 : 0);
	if (i >= 0)
		e->cursor = (size_t)i;
}
