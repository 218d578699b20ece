/*
 * complete.h - path completion for a field being typed (complete.c): Tab
 * completes the name before the cursor from the entries of its folder,
 * and lists them when they do not agree.
 */
#ifndef DUO_TUI_COMPLETE_H
#define DUO_TUI_COMPLETE_H

#include <stddef.h>

#include "edit.h"
#include "tui.h"

/* The names an ambiguous Tab found, for the list under the field. */
struct completion {
	char **names;
	size_t n;
};

/* Complete the path before e's cursor as far as the entries of its
 * folder agree; when they do not, list them; a message in any case. */
void complete_path(struct app *app, struct edit *e, struct completion *list);
void completion_clear(struct completion *list);
/* The names in columns, over rows lines of w cells from (y, x). */
void completion_draw(struct app *app, const struct completion *list, int y,
    int x, int w, int rows);
/* "~/x", "$HOME/x" and "${HOME}/x" as $HOME/x, into buf; other paths
 * as they are. */
const char *expand_home(const char *path, char *buf, size_t size);

#endif
