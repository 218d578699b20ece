/*
 * edit.h - a line editor (edit.c): a line or an area of several lines
 * being typed, its cursor, its layout in rows and its drawing.  It keeps
 * the text only; the form around it decides what the keys mean.
 */
#ifndef DUO_TUI_EDIT_H
#define DUO_TUI_EDIT_H

#include <stddef.h>
#include <wchar.h>

#include "tui.h"

/* A paste or a typed text larger than this is cut, with a message. */
#define EDIT_MAX (4u << 20)

/* A line or an area of text being typed, as wide characters. */
struct edit {
	wchar_t *text;
	size_t length, capacity;
	size_t cursor;                  /* 0 .. length */
};

/* Insert wc at the cursor; -1 past EDIT_MAX or out of memory. */
int edit_insert(struct edit *e, wchar_t wc);
void edit_erase_back(struct edit *e);
void edit_erase(struct edit *e);
void edit_clear(struct edit *e);
/* Replace the text by a UTF-8 string, the cursor at its end. */
int edit_set(struct edit *e, const char *s);
/* The text as UTF-8, in a fresh string; NULL when out of memory. */
char *edit_utf8(const struct edit *e, size_t *length);
void edit_free(struct edit *e);

/* In an area of rows width cells wide: where character i (or the cursor
 * after the last, i == length) goes. */
void edit_area_position(const struct edit *e, int width, size_t i, int *row,
    int *col);
/* The character at (row, column) of the area or the nearest before it on
 * that row; -1 if the area has no such row. */
long edit_area_index_at(const struct edit *e, int width, int row, int col);
/* Move the cursor delta rows, in its column; -1 (not moved) when there
 * is no such row. */
int edit_area_move(struct edit *e, int width, int delta);
/* Home (end 0) or End of the cursor's row. */
void edit_area_row_end(struct edit *e, int width, int end);

/* A one-line edit at (y, x) in w cells, scrolled to show its cursor;
 * empty is shown, dim, while it holds nothing. */
void edit_draw_line(struct app *app, int y, int x, int w,
    const struct edit *e, int focused, const char *empty);
/* The area in rows of w cells from (y, x), its first row shown *top,
 * scrolled to keep its cursor in sight. */
void edit_draw_area(struct app *app, int y, int x, int w, int rows,
    const struct edit *e, int *top, int focused, const char *empty);

#endif
