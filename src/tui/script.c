/*
 * script.c - the headless screen-dump mode that the UI tests use.
 *
 * With DUO_TUI_SCRIPT naming a file of steps, duo draws on a virtual
 * terminal of DUO_TUI_SIZE (COLSxLINES, default 80x24) whose output goes
 * to /dev/null, replays the steps, and writes the screen's text to
 * DUO_TUI_DUMP (default: standard output) at every "dump" step; with
 * DUO_TUI_DUMP_ATTRS=1 each dump is followed by a map of the cells'
 * looks.  Steps, one a line:
 *
 *   j, Enter, Down, C-l ...   one key, by the names duo(1) uses
 *   :budget 4  or  /ferry     typed, then Enter
 *   type TEXT                 TEXT typed, without Enter
 *   dump                      write the screen
 *   resize COLSxLINES         the window changes size
 *   click LINE COLUMN         a mouse click (0-based cell)
 *   wait                      until the analysis of a new run has ended
 *                             (at most 120 s, else the script fails)
 *   wait progress             until its engine has reported progress
 *   # ...                     a comment; empty lines are skipped
 *
 * Any other line is typed as it is.
 */
#include "script.h"

#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "draw.h"

#define MAX_PENDING 1024

struct script {
	FILE *in;
	FILE *dump;
	int own_dump;
	int cols, lines;
	int attributes;
	int line_no;
	int n_dumps;
	int pending[MAX_PENDING];
	size_t n_pending, next;
};

static int
parse_size(const char *s, int *cols, int *lines)
{
	char *end;
	long c, l;

	c = strtol(s, &end, 10);
	if (*end != 'x')
		return -1;
	l = strtol(end + 1, &end, 10);
	if (*end != '\0' || c < 1 || c > 1000 || l < 1 || l > 1000)
		return -1;
	*cols = (int)c;
	*lines = (int)l;
	return 0;
}

struct script *
script_open(struct duo_error *err)
{
	const char *path = getenv("DUO_TUI_SCRIPT");
	const char *dump = getenv("DUO_TUI_DUMP");
	const char *size = getenv("DUO_TUI_SIZE");
	const char *attributes = getenv("DUO_TUI_DUMP_ATTRS");
	struct script *script;

	err->message[0] = '\0';
	if (path == NULL || *path == '\0')
		return NULL;
	script = calloc(1, sizeof *script);
	if (script == NULL) {
		error_set(err, "out of memory");
		return NULL;
	}
	script->cols = 80;
	script->lines = 24;
	if (size != NULL && *size != '\0' &&
	    parse_size(size, &script->cols, &script->lines) != 0) {
		error_set(err, "DUO_TUI_SIZE '%s' is not COLSxLINES", size);
		free(script);
		return NULL;
	}
	script->attributes = attributes != NULL && strcmp(attributes, "1") == 0;
	script->in = fopen(path, "r");
	if (script->in == NULL) {
		error_set(err, "%s: cannot read the key script", path);
		free(script);
		return NULL;
	}
	if (dump != NULL && *dump != '\0') {
		script->dump = fopen(dump, "w");
		script->own_dump = 1;
		if (script->dump == NULL) {
			error_set(err, "%s: cannot write the screen dump",
			    dump);
			fclose(script->in);
			free(script);
			return NULL;
		}
	} else
		script->dump = stdout;
	return script;
}

int
script_close(struct script *script)
{
	int rc = 0;

	if (script == NULL)
		return 0;
	fclose(script->in);
	if (fflush(script->dump) != 0 || ferror(script->dump))
		rc = -1;
	if (script->own_dump && fclose(script->dump) != 0)
		rc = -1;
	free(script);
	return rc;
}

void
script_size(const struct script *script, int *cols, int *lines)
{
	*cols = script->cols;
	*lines = script->lines;
}

/* Queue the characters of a UTF-8 string as keys. */
static void
queue_text(struct script *script, const char *s, int enter)
{
	size_t i = 0, n = strlen(s);
	wchar_t wc;

	script->n_pending = script->next = 0;
	while (i < n && script->n_pending + 1 < MAX_PENDING) {
		utf8_next(s, n, &i, &wc);
		script->pending[script->n_pending++] = (int)wc;
	}
	if (enter)
		script->pending[script->n_pending++] = '\n';
}

/* The look of a cell as one letter: colour, italic, reverse, bold, ...;
 * a capital when a second attribute joins the first (R reverse and bold,
 * B bold and underline, D dim and underline), so that every look the
 * monochrome heat levels take differs; i for italic, which only a
 * search match takes. */
static char
look_letter(attr_t attr, short pair)
{
	if (pair != 0)
		return 'c';
	if (attr & A_ITALIC)
		return 'i';
	if (attr & A_REVERSE)
		return attr & A_BOLD ? 'R' : 'r';
	if (attr & A_BOLD)
		return attr & A_UNDERLINE ? 'B' : 'b';
	if (attr & A_UNDERLINE)
		return attr & A_DIM ? 'D' : 'u';
	if (attr & A_DIM)
		return 'd';
	return '.';
}

void
screen_dump(FILE *out, int attributes)
{
	char line[8192], looks[2048], bytes[8];
	wchar_t wch[CCHARW_MAX + 1];
	size_t used, end, n_looks, k;
	attr_t attr;
	short pair;
	cchar_t cc;
	int y, x, pass, w;

	for (pass = 0; pass < (attributes ? 2 : 1); pass++) {
		if (pass == 1)
			fprintf(out, "looks:\n");
		for (y = 0; y < LINES; y++) {
			used = end = n_looks = 0;
			for (x = 0; x < COLS; x++) {
				if (mvin_wch(y, x, &cc) == ERR ||
				    getcchar(&cc, wch, &attr, &pair, NULL) ==
				    ERR) {
					wch[0] = ' ';
					wch[1] = 0;
					attr = 0;
					pair = 0;
				}
				looks[n_looks++] = look_letter(attr, pair);
				for (k = 0; wch[k] != 0 && k < CCHARW_MAX &&
				    used + 8 < sizeof line; k++) {
					size_t b = utf8_put((uint32_t)wch[k],
					    bytes);

					memcpy(line + used, bytes, b);
					used += b;
				}
				if (wch[0] != ' ' && wch[0] != 0)
					end = used;
				w = wch[0] != 0 ? wcwidth(wch[0]) : 1;
				/* A wide character's second cell is part of
				 * it. */
				if (w == 2)
					x++;
			}
			if (pass == 0) {
				fwrite(line, 1, end, out);
				fputc('\n', out);
			} else {
				while (n_looks > 0 &&
				    looks[n_looks - 1] == '.')
					n_looks--;
				fwrite(looks, 1, n_looks, out);
				fputc('\n', out);
			}
		}
	}
}

int
script_next_key(struct app *app, struct script *script, int *key)
{
	char line[1024];
	size_t n;
	int cols, lines, y, x;

	for (;;) {
		if (script->next < script->n_pending) {
			*key = script->pending[script->next++];
			return 1;
		}
		if (fgets(line, sizeof line, script->in) == NULL)
			return 0;
		script->line_no++;
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (strcmp(line, "dump") == 0) {
			fprintf(script->dump, "--- dump %d: %dx%d ---\n",
			    ++script->n_dumps, COLS, LINES);
			screen_dump(script->dump, script->attributes);
			continue;
		}
		if (strncmp(line, "resize ", 7) == 0) {
			if (parse_size(line + 7, &cols, &lines) != 0) {
				fprintf(stderr, "duo: DUO_TUI_SCRIPT line %d: "
				    "resize wants COLSxLINES\n",
				    script->line_no);
				return -1;
			}
			resizeterm(lines, cols);
			*key = TUI_FN(KEY_RESIZE);
			return 1;
		}
		if (strcmp(line, "wait") == 0 ||
		    strcmp(line, "wait progress") == 0) {
			/* Then the list it went into, read as the loop
			 * would. */
			if (app_wait(app, 120.0, line[4] != '\0') != 0) {
				fprintf(stderr, "duo: DUO_TUI_SCRIPT line %d: "
				    "the analysis is still running after "
				    "120 s\n", script->line_no);
				return -1;
			}
			app_draw(app);
			continue;
		}
		if (sscanf(line, "click %d %d", &y, &x) == 2) {
			app_click(app, y, x, 0);
			app_draw(app);
			continue;
		}
		if (strncmp(line, "type ", 5) == 0) {
			queue_text(script, line + 5, 0);
			continue;
		}
		if (line[0] == ':' || line[0] == '/') {
			queue_text(script, line, 1);
			continue;
		}
		if ((*key = tui_key_from_name(line)) >= 0)
			return 1;
		queue_text(script, line, 0);
	}
}
