/*
 * actions.h - the one table of keys (actions.c): which key does what in
 * which view, with its line of help; the view each view action shows;
 * the names of keys; and the ':' commands.  Dispatch, the help view and
 * "duo tui --list-keys" all read these tables.
 */
#ifndef DUO_TUI_ACTIONS_H
#define DUO_TUI_ACTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "tui.h"

#define ACTION_KEYS 3

struct action {
	enum action_id id;
	const char *name;               /* for people: "move-down" */
	int keys[ACTION_KEYS];          /* 0 ends the list */
	unsigned views;                 /* VIEW_BIT()s it works in */
	const char *help;               /* one line, for ? and duo(1) */
};

extern const struct action tui_actions[];
extern const size_t tui_n_actions;

/* A ':' command: the same table lists them in the help screen. */
struct tui_command {
	const char *name;
	const char *args;               /* "N", "NAME", "" */
	const char *help;
	/* 0 done, -1 with a message in app's status line */
	int (*exec)(struct app *app, const char *args);
};

extern const struct tui_command tui_commands[];
extern const size_t tui_n_commands;

/* The view an action shows (1 .. 6, ?); -1 if it shows none. */
int action_view(enum action_id action);
/* The action bound to key in view; ACT_NONE when there is none. */
enum action_id action_for_key(enum view_id view, int key);
const struct action *action_find(enum action_id id);
/* "j", "Down", "C-l"; into buf (at least 16 bytes). */
const char *tui_key_name(int key, char *buf, size_t size);
/* The key a name means ("Down", "j", "C-l"); -1 if none. */
int tui_key_from_name(const char *name);
/* The section a row belongs to, by its views: "Runs view", "Everywhere". */
const char *action_section(const struct action *a);
/* Check the table: no key bound twice in one view.  -1 and a message. */
int actions_check(char *message, size_t size);
/* Print every binding as TSV: section, keys, action, help. */
void actions_print(FILE *out);
/* Run a ':' command line (without the colon). */
int command_run(struct app *app, const char *line);

#endif
