/*
 * script.h - the headless screen-dump mode the UI tests use (script.c).
 */
#ifndef DUO_TUI_SCRIPT_H
#define DUO_TUI_SCRIPT_H

#include <stdio.h>

#include "error.h"
#include "tui.h"

/* From DUO_TUI_SCRIPT, DUO_TUI_DUMP, DUO_TUI_SIZE; NULL if not asked. */
struct script *script_open(struct duo_error *err);
/* Close; -1 if the dump file could not be written. */
int script_close(struct script *script);
void script_size(const struct script *script, int *cols, int *lines);
/* The next key; 0 at the end of the script; handles dump steps. */
int script_next_key(struct app *app, struct script *script, int *key);
/* Write the screen's text to out (and attributes, if asked). */
void screen_dump(FILE *out, int attributes);

#endif
