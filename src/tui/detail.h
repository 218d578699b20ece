/*
 * detail.h - the token detail pane (detail.c), shared by the views that
 * show tokens: a token drawn as its glyphs, and the pane of its losses,
 * routes and predictions.
 */
#ifndef DUO_TUI_DETAIL_H
#define DUO_TUI_DETAIL_H

#include <stddef.h>

#include "tui.h"

/* The token detail pane of the text view; *methods_top, the first row
 * of its table of methods, follows the chosen method. */
void detail_draw(struct app *app, const struct rect *r, int focused,
    int *methods_top);
/* Draw the glyphs of position p at (y, x), at most w cells; the cells. */
int draw_token(const struct app *app, int y, int x, int w, size_t p,
    enum element element);

#endif
