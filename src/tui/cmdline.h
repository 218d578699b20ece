/*
 * cmdline.h - the ':' line's history and completion (cmdline.c): Up and
 * Down recall the lines run before, Tab completes a command's name and,
 * after a command that takes one, a method's or a measure's.
 */
#ifndef DUO_TUI_CMDLINE_H
#define DUO_TUI_CMDLINE_H

#include "tui.h"

/* Keep a line run from ':' (UTF-8), the newest last, not twice in a
 * row. */
void cmdline_remember(struct app *app, const char *line);
/* Up (dir -1, older) or Down (1, newer): the line typed is replaced by
 * the one recalled; past the newest, the line being typed comes back. */
void cmdline_recall(struct app *app, int dir);
/* The line is being typed anew: the next Up starts from the newest. */
void cmdline_reset(struct app *app);
/* Tab: complete the word before the end of the line as far as the
 * names that fit agree; list them when several do. */
void cmdline_complete(struct app *app);

#endif
