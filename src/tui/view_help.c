/*
 * view_help.c - the help view: the keys of the view it was opened from,
 * the keys that work everywhere, and the ':' commands, all read from the
 * tables in actions.c, so that what it says is what the keys do.  The
 * same pane shows, on :messages, the recent messages whole (the status
 * line cuts a long one short) and, on :methods, the open run's methods.
 */
#include "tui.h"

#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "draw.h"
#include "run.h"
#include "view.h"

struct help_state {
	struct rect area;
	int top;
	int n_lines;                    /* at the last draw */
	enum view_ask shows;            /* ASK_KEYS, _MESSAGES, _METHODS */
};

static struct help_state *
state_of(struct view *view)
{
	return view->state;
}

static int
help_init(struct app *app, struct view *view)
{
	struct help_state *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	s->shows = ASK_KEYS;
	view->state = s;
	return 0;
}

static void
help_done(struct app *app, struct view *view)
{
	free(view->state);
	view->state = NULL;
}

static void
help_layout(struct app *app, struct view *view, const struct rect *body)
{
	state_of(view)->area = *body;
	view->n_panes = 1;
}

/* The view the help was opened from. */
static enum view_id
subject(const struct app *app)
{
	return app->depth >= 2 ? app->stack[app->depth - 2] : VIEW_RUNS;
}

/*
 * Draw entry keys / text from line n of the help, the text wrapped at
 * spaces to the pane; returns the lines it takes (drawn or not).
 */
static int
help_line(struct app *app, struct help_state *s, int n, const char *keys,
    const char *text, enum element key_element)
{
	const struct rect *r = &s->area;
	int width = r->w - 22, lines = 0, y;
	size_t length, cut;
	char part[256];

	if (width < 10)
		width = 10;
	/* Keys too long for their column: the text goes under them. */
	if (text_width(keys) > 18) {
		y = r->y + 1 + n - s->top;
		if (n >= s->top && y < r->y + r->h)
			draw_text(app, y, r->x + 2, r->w - 3, keys,
			    key_element);
		lines++;
		keys = "";
	}
	do {
		length = strlen(text);
		cut = length;
		if (cut > (size_t)width) {
			cut = (size_t)width;
			while (cut > 0 && text[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = (size_t)width;
		}
		snprintf(part, sizeof part, "%.*s", (int)cut, text);
		y = r->y + 1 + n + lines - s->top;
		if (n + lines >= s->top && y < r->y + r->h) {
			if (lines == 0)
				draw_text(app, y, r->x + 2, 18, keys,
				    key_element);
			draw_text(app, y, r->x + 21, width, part, EL_NORMAL);
		}
		lines++;
		text += cut;
		while (*text == ' ')
			text++;
	} while (*text != '\0');
	return lines;
}

/* The recent messages, oldest first, errors marked. */
static void
draw_messages(struct app *app, struct help_state *s)
{
	int i, n = 0;

	draw_pane_title(app, &s->area, "Recent messages, newest last", 1);
	if (app->n_history == 0)
		n += help_line(app, s, n, "", "no message yet", EL_KEY);
	for (i = 0; i < app->n_history; i++) {
		int slot = (app->history_next - app->n_history + i +
		    APP_HISTORY) % APP_HISTORY;

		n += help_line(app, s, n, app->history_is_error[slot] ?
		    "error" : "", app->history[slot], EL_ERROR);
	}
	s->n_lines = n;
}

/* The open run's methods, as :method takes them. */
static void
draw_methods(struct app *app, struct help_state *s)
{
	const struct tui_run *run = app->run;
	char title[128];
	size_t m;
	int n = 0;

	if (run == NULL) {
		draw_pane_title(app, &s->area, "Methods", 1);
		help_line(app, s, 0, "", "no run is open", EL_KEY);
		s->n_lines = 1;
		return;
	}
	snprintf(title, sizeof title, "Methods of run %lld (:method NAME "
	    "chooses one)", (long long)run->data.info.id);
	draw_pane_title(app, &s->area, title, 1);
	for (m = 0; m < run->n_methods; m++)
		n += help_line(app, s, n, run->methods[m].name,
		    !run->methods[m].has_routes ? "a mean over random routes "
		    "at each budget, no route of its own" :
		    run->methods[m].budgeted ? "a route for each budget k" :
		    "the same route at every budget", (int)m == app->method ?
		    EL_SELECTED : EL_KEY);
	s->n_lines = n;
}

/* What :messages, :methods or the help key asks the pane to show. */
static int
help_open(struct app *app, struct view *view, const struct view_arg *arg)
{
	struct help_state *s = state_of(view);

	if (arg->ask == ASK_KEYS || arg->ask == ASK_MESSAGES ||
	    arg->ask == ASK_METHODS) {
		if (s->shows != arg->ask)
			s->top = 0;
		s->shows = arg->ask;
	}
	return 0;
}

static void
help_draw(struct app *app, struct view *view)
{
	static const char *const names[N_VIEWS] = {
		[VIEW_RUNS] = "runs view", [VIEW_TEXT] = "text view",
		[VIEW_BUDGET] = "budget view", [VIEW_ROUTES] = "route map",
		[VIEW_COMPARE] = "compare view",
		[VIEW_WHATIF] = "what-if view", [VIEW_NEWRUN] = "new run view",
		[VIEW_TOKENS] = "tokens view",
		[VIEW_FINDINGS] = "findings view",
		[VIEW_HELP] = "help",
	};
	struct help_state *s = state_of(view);
	enum view_id from = subject(app);
	char keys[64], name[32], title[128];
	size_t i;
	int n = 0, pass, k;

	if (s->shows == ASK_MESSAGES) {
		draw_messages(app, s);
		return;
	}
	if (s->shows == ASK_METHODS) {
		draw_methods(app, s);
		return;
	}
	snprintf(title, sizeof title, "Keys of the %s", names[from]);
	draw_pane_title(app, &s->area, title, 1);
	/* Pass 0: the view's own keys; pass 1: the keys of every view. */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			n++;
			n += help_line(app, s, n, "Everywhere", "",
			    EL_HEADER);
		}
		for (i = 0; i < tui_n_actions; i++) {
			const struct action *a = &tui_actions[i];
			int everywhere = a->views == VIEWS_ALL;

			if (!(a->views & VIEW_BIT(from)) ||
			    everywhere != (pass == 1))
				continue;
			keys[0] = '\0';
			for (k = 0; k < ACTION_KEYS && a->keys[k] != 0; k++) {
				/* Not a key the view's own rows take. */
				if (action_for_key(from, a->keys[k]) != a->id)
					continue;
				snprintf(keys + strlen(keys), sizeof keys -
				    strlen(keys), "%s%s", keys[0] != '\0' ?
				    " " : "", tui_key_name(a->keys[k], name,
				    sizeof name));
			}
			if (keys[0] != '\0')
				n += help_line(app, s, n, keys, a->help,
				    EL_KEY);
		}
	}
	n++;
	n += help_line(app, s, n, "Commands", "", EL_HEADER);
	for (i = 0; i < tui_n_commands; i++) {
		snprintf(keys, sizeof keys, ":%s%s%s", tui_commands[i].name,
		    *tui_commands[i].args != '\0' ? " " : "",
		    tui_commands[i].args);
		n += help_line(app, s, n, keys, tui_commands[i].help, EL_KEY);
	}
	s->n_lines = n;
}

static int
help_request(struct app *app, struct view *view, enum action_id action)
{
	struct help_state *s = state_of(view);
	int page = s->area.h - 2 > 1 ? s->area.h - 2 : 1;
	int last = s->n_lines - (s->area.h - 1);

	switch (action) {
	case ACT_DOWN:
		s->top++;
		break;
	case ACT_UP:
		s->top--;
		break;
	case ACT_PAGE_DOWN:
		s->top += page;
		break;
	case ACT_PAGE_UP:
		s->top -= page;
		break;
	case ACT_HELP:
		/* Here already: the keys, if it showed something else. */
		if (s->shows != ASK_KEYS) {
			s->shows = ASK_KEYS;
			s->top = 0;
		}
		return 1;
	default:
		return 0;
	}
	if (s->top > last)
		s->top = last;
	if (s->top < 0)
		s->top = 0;
	return 1;
}

static void
help_run_changed(struct app *app, struct view *view)
{
	state_of(view)->top = 0;
}

const struct view_ops help_view_ops = {
	.name = "help",
	.title = "Help",
	.id = VIEW_HELP,
	.makes_way = 1,
	.init = help_init,
	.done = help_done,
	.open = help_open,
	.layout = help_layout,
	.draw = help_draw,
	.request = help_request,
	.run_changed = help_run_changed,
};
