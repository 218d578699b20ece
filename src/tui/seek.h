/*
 * seek.h - finding tokens in every view that shows them (seek.c): the
 * matches of a '/' search over the run's text and the steps from match
 * to match, the steps to the next token at or above the threshold and to
 * the next token by rank of the measure, and a jump to a token by its
 * number.  Each moves app->cursor, the token every view of tokens
 * follows; the state (the last search, the ranking) belongs to the open
 * run and goes with it (seek_forget).
 */
#ifndef DUO_TUI_SEEK_H
#define DUO_TUI_SEEK_H

#include <stddef.h>

#include "tui.h"

/* Search the run's text for pattern (empty: forget the search), and go
 * to the first match at or after the cursor; -1 with a message. */
int seek_search(struct app *app, const char *pattern);
/* Is token p part of a match of the last search? */
int seek_matched(const struct app *app, size_t p);
/* The attributes token p's cell gains as part of a match, 0 when it is
 * not: underlined, and without colour in italics too, since three of the
 * eight monochrome heat levels are underlined already. */
attr_t seek_match_attr(const struct app *app, size_t p);
/* n and N, ] and [, } and {, in the direction dir (1 or -1); each
 * says what it did, or why it did not, on the status line. */
void seek_match(struct app *app, int dir);
void seek_above(struct app *app, int dir);
void seek_rank(struct app *app, int dir);
/* Handle any of the actions above: 1 if action was one of them. */
int seek_request(struct app *app, enum action_id action);
/* Go to token number text (":goto N", ":N"); -1 with a message. */
int seek_goto(struct app *app, const char *text);
/* The threshold of ] and [: the user's, else the scale's top quarter. */
double seek_threshold(const struct app *app, double lo, double hi);
/* The open run changed or closed: forget what belonged to the last. */
void seek_forget(struct app *app);

#endif
