/*
 * complete.c - Tab in a path field: the name before the cursor completed
 * as far as the entries of its folder agree (folders ending in '/', as a
 * shell lists them), and the list of the names that could follow when
 * they do not agree, drawn in columns under the field.
 */
#include "complete.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "draw.h"

/* Candidates of an ambiguous completion kept for the list. */
#define MAX_CANDIDATES 512

void
completion_clear(struct completion *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		free(list->names[i]);
	free(list->names);
	list->names = NULL;
	list->n = 0;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A path as a shell would expand it for a file: a leading "~" or "~/",
 * and "$HOME" or "${HOME}" anywhere, become $HOME.  A path whose
 * expansion does not fit in buf is left as it is (opening it then says
 * what is wrong with it).
 */
const char *
expand_home(const char *path, char *buf, size_t size)
{
	const char *home = getenv("HOME"), *p = path;
	size_t used = 0, n;

	if (home == NULL || size == 0 || (strchr(path, '$') == NULL &&
	    !(path[0] == '~' && (path[1] == '/' || path[1] == '\0'))))
		return path;
	while (*p != '\0') {
		const char *piece = p;

		if (p == path && p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
			piece = home;
			n = strlen(home);
			p += 1;
		} else if (strncmp(p, "$HOME", 5) == 0 &&
		    !(isalnum((unsigned char)p[5]) || p[5] == '_')) {
			piece = home;
			n = strlen(home);
			p += 5;
		} else if (strncmp(p, "${HOME}", 7) == 0) {
			piece = home;
			n = strlen(home);
			p += 7;
		} else {
			n = 1;
			p++;
		}
		if (used + n >= size)
			return path;
		memcpy(buf + used, piece, n);
		used += n;
	}
	buf[used] = '\0';
	return buf;
}

void
complete_path(struct app *app, struct edit *e, struct completion *list)
{
	struct edit head = { e->text, e->cursor, e->cursor, e->cursor };
	char *typed, *slash, *base, dir[4096], full[4096], *grown;
	char entry_path[8192 + 256];
	const char *open_dir;
	struct dirent *entry;
	struct stat st;
	size_t n_base, common = 0, i, n = 0;
	char **names = NULL;
	DIR *d;
	int is_dir;

	completion_clear(list);
	if ((typed = edit_utf8(&head, NULL)) == NULL)
		return;
	slash = strrchr(typed, '/');
	if (slash != NULL) {
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - typed + 1),
		    typed);
		base = slash + 1;
	} else {
		dir[0] = '\0';
		base = typed;
	}
	open_dir = dir[0] != '\0' ? expand_home(dir, full, sizeof full) : ".";
	n_base = strlen(base);
	if ((d = opendir(open_dir)) == NULL) {
		app_error(app, "%s: %s", dir, strerror(errno));
		free(typed);
		return;
	}
	while ((entry = readdir(d)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0 ||
		    strncmp(entry->d_name, base, n_base) != 0 ||
		    (entry->d_name[0] == '.' && base[0] != '.'))
			continue;
		if (n == MAX_CANDIDATES)
			break;
		if (n % 64 == 0) {
			char **more = realloc(names, (n + 64) * sizeof *names);

			if (more == NULL)
				break;
			names = more;
		}
		/* Folders end in '/', as a shell lists them. */
		snprintf(entry_path, sizeof entry_path, "%s/%s", open_dir,
		    entry->d_name);
		is_dir = stat(entry_path, &st) == 0 && S_ISDIR(st.st_mode);
		if ((grown = malloc(strlen(entry->d_name) + 2)) == NULL)
			break;
		sprintf(grown, "%s%s", entry->d_name, is_dir ? "/" : "");
		names[n++] = grown;
	}
	closedir(d);
	if (n == 0) {
		app_error(app, "no file here starts with '%s'", typed);
		free(names);
		free(typed);
		return;
	}
	qsort(names, n, sizeof *names, compare_names);
	/* The longest prefix every name shares (whole UTF-8 characters:
	 * the names share it byte by byte, so it ends where one does). */
	common = strlen(names[0]);
	for (i = 1; i < n; i++) {
		size_t k = 0;

		while (k < common && names[i][k] == names[0][k])
			k++;
		common = k;
	}
	while (common > 0 && ((unsigned char)names[0][common] & 0xc0) ==
	    0x80)
		common--;
	for (i = n_base; i < common; i++) {
		size_t j = i;
		wchar_t wc;

		if (utf8_next(names[0], common, &j, &wc) != 0)
			wc = 0xfffd;
		edit_insert(e, wc);
		i = j - 1;
	}
	if (n > 1 && common == n_base) {
		list->names = names;
		list->n = n;
		names = NULL;
		app_message(app, "%zu%s names %s '%s'", n, n ==
		    MAX_CANDIDATES ? " or more" : "", *base != '\0' ?
		    "start with" : "in", *base != '\0' ? base : *dir != '\0' ?
		    dir : ".");
	} else if (n > 1)
		app_message(app, "%zu names start with '%.*s'", n,
		    (int)common, names[0]);
	if (names != NULL) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	free(typed);
}

void
completion_draw(struct app *app, const struct completion *list, int y,
    int x, int w, int rows)
{
	int width = 1, columns, per, r, c;
	size_t i, shown;
	char more[64];

	for (i = 0; i < list->n; i++)
		if (text_width(list->names[i]) + 2 > width)
			width = text_width(list->names[i]) + 2;
	if (width > w)
		width = w;
	columns = w / width > 0 ? w / width : 1;
	per = rows;
	shown = (size_t)columns * (size_t)per;
	if (shown < list->n && shown > 0)
		shown--;        /* room for "and N more" */
	for (i = 0; i < list->n && i < shown; i++) {
		c = (int)(i / (size_t)per);
		r = (int)(i % (size_t)per);
		draw_text(app, y + r, x + c * width, width - 1,
		    list->names[i], EL_NORMAL);
	}
	if (shown < list->n) {
		snprintf(more, sizeof more, "and %zu more",
		    list->n - shown);
		c = (int)(shown / (size_t)per);
		r = (int)(shown % (size_t)per);
		draw_text(app, y + r, x + c * width, width - 1, more,
		    EL_DIM);
	}
}

