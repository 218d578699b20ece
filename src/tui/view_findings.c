/*
 * view_findings.c - the findings view: the paper's findings checked on
 * the open run (findings.c computes them, as "duo findings" prints
 * them), each with its numbers, its controls (the label-free oracle and
 * the run's null-model control run, read here when it has one) and a
 * one-line verdict, as lines to scroll.
 */
#include "tui.h"

#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "findings.h"
#include "run.h"
#include "store.h"
#include "view.h"

struct findings_state {
	struct rect area;
	char **lines;
	int n_lines, lines_size;
	int n_rows;                     /* screen rows the lines take */
	int64_t run_id;                 /* whose lines these are; 0: none */
	char error[1024];               /* why they could not be made, or "" */
	int top;
};

static struct findings_state *
state_of(struct view *view)
{
	return view->state;
}

static void
forget_lines(struct findings_state *s)
{
	int i;

	for (i = 0; i < s->n_lines; i++)
		free(s->lines[i]);
	free(s->lines);
	s->lines = NULL;
	s->n_lines = s->lines_size = 0;
	s->run_id = 0;
	s->error[0] = '\0';
}

static int
findings_init(struct app *app, struct view *view)
{
	view->state = calloc(1, sizeof(struct findings_state));
	return view->state != NULL ? 0 : -1;
}

static void
findings_done(struct app *app, struct view *view)
{
	forget_lines(state_of(view));
	free(view->state);
	view->state = NULL;
}

static void
findings_layout(struct app *app, struct view *view, const struct rect *body)
{
	state_of(view)->area = *body;
	view->n_panes = 1;
}

/* Keep one line of the findings' text (findings_text's callback). */
static void
keep_line(void *arg, const char *text)
{
	struct findings_state *s = arg;
	char **grown;

	if (s->n_lines == s->lines_size) {
		int size = s->lines_size ? 2 * s->lines_size : 64;

		grown = realloc(s->lines, (size_t)size * sizeof *grown);
		if (grown == NULL)
			return;
		s->lines = grown;
		s->lines_size = size;
	}
	if ((s->lines[s->n_lines] = strdup(text)) != NULL)
		s->n_lines++;
}

/* Keep why the findings could not be made, and say it. */
static int
failed(struct app *app, struct findings_state *s,
    const struct duo_error *err)
{
	forget_lines(s);
	snprintf(s->error, sizeof s->error, "%s", err->message);
	s->run_id = app->run_id;
	app_error(app, "%s", err->message);
	return -1;
}

/* Read the open run's control, if it has one, and compute its findings
 * into the state's lines; -1 with a message, kept to be shown in place
 * of the findings (so that a failure is not tried again at every
 * draw). */
static int
compute(struct app *app, struct findings_state *s)
{
	struct store *store = NULL;
	struct run_data control;
	struct findings findings;
	struct duo_error err;
	int64_t control_id;
	int found = 1, rc;

	forget_lines(s);
	if (store_open(&store, app->db_path, STORE_READONLY, &err) != 0 ||
	    (found = store_find_control(store, app->run_id, &control_id,
	    &err)) < 0 || (found == 0 && store_load_run(store, control_id,
	    &control, &err) != 0)) {
		if (store != NULL)
			store_close(store);
		return failed(app, s, &err);
	}
	store_close(store);
	rc = findings_compute(&app->run->data, found == 0 ? &control : NULL,
	    &findings, &err);
	if (rc == 0)
		findings_text(&findings, keep_line, s);
	findings_free(&findings);
	if (found == 0)
		store_free_run(&control);
	if (rc != 0)
		return failed(app, s, &err);
	s->run_id = app->run_id;
	s->top = 0;
	return 0;
}

/* How a line of the findings looks: a title, a verdict, or numbers. */
static enum element
line_look(const char *line)
{
	if (line[0] != ' ' && line[0] != '\0')
		return EL_HEADER;
	if (strncmp(line, "  verdict:", 10) == 0)
		return EL_PANE_FOCUS;
	return EL_NORMAL;
}

/*
 * Draw the lines from screen row s->top on, each wrapped at spaces to the
 * pane's width (a continuation indented by four), and count the rows
 * they take in s->n_rows.  The text is ASCII: findings.c writes it.
 */
static void
draw_lines(struct app *app, struct findings_state *s)
{
	const struct rect *r = &s->area;
	int w = r->w - 2, row = 0, i, indent, n, y;
	const char *rest;

	for (i = 0; i < s->n_lines; i++) {
		rest = s->lines[i];
		indent = 0;
		do {
			n = (int)strlen(rest);
			if (n > w - indent) {
				n = w - indent;
				while (n > 0 && rest[n] != ' ')
					n--;
				if (n == 0)
					n = w - indent;
			}
			y = r->y + 1 + row - s->top;
			if (row >= s->top && y < r->y + r->h)
				draw_textf(app, y, r->x + 1 + indent,
				    w - indent, line_look(s->lines[i]),
				    "%.*s", n, rest);
			row++;
			rest += n;
			while (*rest == ' ')
				rest++;
			indent = 4;
		} while (*rest != '\0' && w > indent);
	}
	s->n_rows = row;
}

static void
findings_draw(struct app *app, struct view *view)
{
	struct findings_state *s = state_of(view);
	char title[128];

	if (app->run == NULL)
		return;
	if (s->run_id != app->run_id)
		compute(app, s);
	snprintf(title, sizeof title, "Findings of run %lld, each beside its "
	    "controls", (long long)app->run_id);
	draw_pane_title(app, &s->area, title, 1);
	if (s->error[0] != '\0')
		draw_text(app, s->area.y + 1, s->area.x + 1, s->area.w - 2,
		    s->error, EL_ERROR);
	else
		draw_lines(app, s);
}

static int
findings_request(struct app *app, struct view *view, enum action_id action)
{
	struct findings_state *s = state_of(view);
	int page = s->area.h - 2 > 1 ? s->area.h - 2 : 1;
	int last = s->n_rows - (s->area.h - 1);

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
	case ACT_FIRST:
		s->top = 0;
		break;
	case ACT_LAST:
		s->top = last;
		break;
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
findings_run_changed(struct app *app, struct view *view)
{
	forget_lines(state_of(view));
	state_of(view)->top = 0;
}

const struct view_ops findings_view_ops = {
	.name = "findings",
	.title = "Findings",
	.id = VIEW_FINDINGS,
	.init = findings_init,
	.done = findings_done,
	.layout = findings_layout,
	.draw = findings_draw,
	.request = findings_request,
	.run_changed = findings_run_changed,
};
