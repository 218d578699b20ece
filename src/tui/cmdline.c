/*
 * cmdline.c - what the ':' line remembers and completes.  The history is
 * a ring of the last CMDLINE_HISTORY lines in the app; the line being
 * typed when Up was first pressed is kept aside, and Down past the
 * newest line brings it back, as a shell does.  Tab completes the first
 * word from the command table (actions.c), and the argument of :method,
 * :show and :hide from the open run's methods, of :measure from the
 * measures.
 */
#include "cmdline.h"

#include <stdio.h>
#include <string.h>

#include "actions.h"
#include "draw.h"
#include "run.h"

/* The prompt's text as UTF-8. */
static void
prompt_utf8(const struct app *app, char *out, size_t size)
{
	size_t i, used = 0;

	for (i = 0; i < app->prompt_length && used + 5 < size; i++)
		used += utf8_put((uint32_t)app->prompt_text[i], out + used);
	out[used] = '\0';
}

/* A note after the line typed, until the next key. */
static void
note(struct app *app, int is_error, const char *text)
{
	snprintf(app->prompt_note, sizeof app->prompt_note, "%s", text);
	app->prompt_note_is_error = is_error;
}

/* Put UTF-8 text in the prompt, as much as it holds. */
static void
prompt_set(struct app *app, const char *text)
{
	size_t i = 0, n = strlen(text), max = sizeof app->prompt_text /
	    sizeof app->prompt_text[0] - 1;
	wchar_t wc;

	app->prompt_length = 0;
	while (i < n && app->prompt_length < max) {
		if (utf8_next(text, n, &i, &wc) != 0)
			wc = app->glyphs.replacement;
		app->prompt_text[app->prompt_length++] = wc;
	}
}

void
cmdline_remember(struct app *app, const char *line)
{
	int last = (app->commands_next + CMDLINE_HISTORY - 1) %
	    CMDLINE_HISTORY;

	cmdline_reset(app);
	if (*line == '\0' || (app->n_commands > 0 &&
	    strcmp(app->commands[last], line) == 0))
		return;
	snprintf(app->commands[app->commands_next],
	    sizeof app->commands[0], "%s", line);
	app->commands_next = (app->commands_next + 1) % CMDLINE_HISTORY;
	if (app->n_commands < CMDLINE_HISTORY)
		app->n_commands++;
}

void
cmdline_reset(struct app *app)
{
	app->recalled = 0;
}

void
cmdline_recall(struct app *app, int dir)
{
	int want = app->recalled - dir, slot;

	/* recalled: how many lines back the one shown is; 0 the draft. */
	if (want < 0 || want > app->n_commands) {
		note(app, 1, want < 0 ? "no newer line: this is the one "
		    "being typed" : "no older line in the history");
		return;
	}
	if (app->recalled == 0)
		prompt_utf8(app, app->command_draft,
		    sizeof app->command_draft);
	app->recalled = want;
	if (want == 0) {
		prompt_set(app, app->command_draft);
		return;
	}
	slot = (app->commands_next - want + 2 * CMDLINE_HISTORY) %
	    CMDLINE_HISTORY;
	prompt_set(app, app->commands[slot]);
}

/* The names the word after a command can be, into names; 0 when it
 * takes none that Tab knows. */
static size_t
argument_names(const struct app *app, const char *command,
    const char **names, size_t max)
{
	size_t i, n = 0;

	if (strcmp(command, "measure") == 0) {
		for (i = 0; i < N_MEASURES && n < max; i++)
			names[n++] = measure_names[i];
		return n;
	}
	if (app->run == NULL || (strcmp(command, "method") != 0 &&
	    strcmp(command, "show") != 0 && strcmp(command, "hide") != 0))
		return 0;
	for (i = 0; i < app->run->n_methods && n < max; i++)
		names[n++] = app->run->methods[i].name;
	return n;
}

/* Complete word (the start of one of names) in line at its end. */
static void
complete_word(struct app *app, char *line, size_t size, size_t word,
    const char **names, size_t n_names, const char *what, int then_space)
{
	const char *prefix = line + word, *first = NULL;
	char list[400] = "", text[512];
	size_t i, common = 0, fits = 0, length = strlen(prefix), used = 0;

	for (i = 0; i < n_names; i++) {
		if (strncmp(names[i], prefix, length) != 0)
			continue;
		if (first == NULL) {
			first = names[i];
			common = strlen(first);
		} else
			while (common > 0 && strncmp(first, names[i],
			    common) != 0)
				common--;
		if (used < sizeof list)
			used += (size_t)snprintf(list + used, sizeof list -
			    used, "%s%s", fits > 0 ? " " : "", names[i]);
		fits++;
	}
	if (fits == 0) {
		snprintf(text, sizeof text, "no %s starts with '%s'", what,
		    prefix);
		note(app, 1, text);
		return;
	}
	snprintf(line + word, size - word, "%.*s%s", (int)common, first,
	    fits == 1 && then_space ? " " : "");
	prompt_set(app, line);
	if (fits > 1) {
		snprintf(text, sizeof text, "%zu %ss: %s", fits, what, list);
		note(app, 0, text);
	}
}

void
cmdline_complete(struct app *app)
{
	const char *names[128];
	char line[1024], command[64];
	size_t i, n = 0, word;

	prompt_utf8(app, line, sizeof line);
	cmdline_reset(app);
	word = strcspn(line, " ");
	if (line[word] == '\0') {
		for (i = 0; i < tui_n_commands && n < 128; i++)
			names[n++] = tui_commands[i].name;
		complete_word(app, line, sizeof line, 0, names, n, "command",
		    1);
		return;
	}
	snprintf(command, sizeof command, "%.*s", (int)word, line);
	while (line[word] == ' ')
		word++;
	n = argument_names(app, command, names, 128);
	if (n == 0) {
		char text[128];

		snprintf(text, sizeof text, "Tab knows no names after :%s",
		    command);
		note(app, 1, text);
		return;
	}
	complete_word(app, line, sizeof line, word, names, n,
	    strcmp(command, "measure") == 0 ? "measure" : "method", 0);
}
