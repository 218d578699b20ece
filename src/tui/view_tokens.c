/*
 * view_tokens.c - the tokens view: the open run's tokens as a table, one
 * row a token, to find the tokens worth a closer look.  Its columns: the
 * position, the piece (in the one escaped form, piece_escape), the
 * difficulty, the loss of each of the run's methods at the budget (its
 * methods as the run lists them, none named here), the regret of the
 * chosen method against the oracle, the gain from compute (loss of
 * all-small less all-big) and the budget the oracle needs to match
 * all-big.  Sorted by any column (s and S, a click on a header, :sort),
 * filtered by a PCRE2 pattern on the piece (/) and by a comparison on a
 * column (:where); Enter shows the token in the text view.
 *
 * The rows are the positions that pass the filters, in sort order,
 * rebuilt only when what they depend on changes (the sort, the filters,
 * the budget, the method), so that a key that only moves is cheap on a
 * run of 10,000 tokens.
 */
#include "tui.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "draw.h"
#include "run.h"
#include "search.h"
#include "view.h"

/* Columns: these, then a loss column per method of the run before the
 * last three (see column_name). */
enum {
	COL_POS,
	COL_PIECE,
	COL_DIFFICULTY,
	COL_LOSS                        /* + method */
};
#define PIECE_W 16

enum where_op { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

struct tokens_state {
	struct rect pane;
	size_t *rows;                   /* positions shown, in order */
	size_t n_rows;
	size_t selected, top;           /* row indices */
	int sort;                       /* column */
	int descending;
	double mean;                    /* of the sort column over the rows */
	/* the filters */
	pcre2_code *pattern;
	char pattern_text[256];
	unsigned char *matched;         /* [T + 1]; NULL: no pattern */
	int where_column;               /* -1: none */
	enum where_op where_op;
	double where_value;
	char where_text[512];
	/* what the rows were built for: rebuilt when any differs */
	int built, built_k, built_method, built_sort, built_descending;
	unsigned generation, built_generation;
	/* the columns drawn, left to right, at the last draw */
	int shown[64];
	int shown_x[64];
	int n_shown;
};

static struct tokens_state *
state_of(struct view *view)
{
	return view->state;
}

/* ---- columns ------------------------------------------------------------ */

static int
n_columns(const struct tui_run *run)
{
	return COL_LOSS + (int)run->n_methods + 3;
}

static int
col_regret(const struct tui_run *run)
{
	return COL_LOSS + (int)run->n_methods;
}

/* The column's header as shown (and as :sort and :where take it). */
static const char *
column_name(const struct tui_run *run, int c)
{
	if (c == COL_POS)
		return "pos";
	if (c == COL_PIECE)
		return "piece";
	if (c == COL_DIFFICULTY)
		return "difficulty";
	if (c < col_regret(run))
		return run->methods[c - COL_LOSS].name;
	if (c == col_regret(run))
		return "regret";
	if (c == col_regret(run) + 1)
		return "gain";
	return "need";
}

static int
column_find(const struct tui_run *run, const char *name)
{
	int c;

	for (c = 0; c < n_columns(run); c++)
		if (strcmp(column_name(run, c), name) == 0)
			return c;
	return -1;
}

/* Every column's name, for an error that lists them. */
static void
column_list(const struct tui_run *run, char *buf, size_t size)
{
	size_t used = 0;
	int c;

	buf[0] = '\0';
	for (c = 0; c < n_columns(run) && used < size; c++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
		    c > 0 ? ", " : "", column_name(run, c));
}

/* Column c of position p at budget k; NAN where the run has none. */
static double
column_value(const struct app *app, int c, int k, size_t p)
{
	const struct tui_run *run = app->run;
	double small, big;

	if (c == COL_POS)
		return (double)p;
	if (c == COL_PIECE)
		return NAN;
	if (c == COL_DIFFICULTY)
		return run->difficulty[p - 1];
	if (c < col_regret(run))
		return run_loss(run, c - COL_LOSS, k, p);
	if (c == col_regret(run))
		return run_measure(run, MEASURE_REGRET, app->method, k, p);
	if (c == col_regret(run) + 1) {
		if (run->small < 0 || run->big < 0)
			return NAN;
		small = run_loss(run, run->small, k, p);
		big = run_loss(run, run->big, k, p);
		return small - big;
	}
	return run->need[p - 1] >= 0 ? run->need[p - 1] : NAN;
}

/* Cells a column takes, its header and the sort mark included. */
static int
column_width(const struct tui_run *run, int c)
{
	int w = (int)strlen(column_name(run, c)) + 1;

	if (c == COL_PIECE)
		return PIECE_W;
	if (c == COL_POS)
		return w > 7 ? w : 7;
	return w > 8 ? w : 8;
}

/* ---- rows ---------------------------------------------------------------- */

/* What the comparison of two rows reads: qsort() takes no argument. */
static const struct tokens_sort {
	const struct tui_run *run;
	const double *value;            /* [T + 1] */
	int piece, descending;
} *sorting;

static int
compare_pieces(const struct tui_run *run, size_t a, size_t b)
{
	const struct token_record *x = &run->data.tokens[a];
	const struct token_record *y = &run->data.tokens[b];
	size_t n = x->piece_length < y->piece_length ? x->piece_length :
	    y->piece_length;
	int c = memcmp(x->piece, y->piece, n);

	if (c != 0)
		return c;
	return (x->piece_length > y->piece_length) -
	    (x->piece_length < y->piece_length);
}

/* In sort order; a row without a value last either way; ties by
 * position. */
static int
compare_rows(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c;

	if (sorting->piece)
		c = compare_pieces(sorting->run, a, b);
	else {
		double x = sorting->value[a], y = sorting->value[b];

		if (isnan(x) || isnan(y))
			c = isnan(x) - isnan(y);
		else
			c = (x > y) - (x < y);
		if (isnan(x) || isnan(y))
			return c != 0 ? c : (a > b) - (a < b);
	}
	if (sorting->descending)
		c = -c;
	return c != 0 ? c : (a > b) - (a < b);
}

static int
passes_where(const struct tokens_state *s, double v)
{
	if (isnan(v))
		return 0;
	switch (s->where_op) {
	case OP_LT: return v < s->where_value;
	case OP_LE: return v <= s->where_value;
	case OP_GT: return v > s->where_value;
	case OP_GE: return v >= s->where_value;
	case OP_EQ: return v == s->where_value;
	default: return v != s->where_value;
	}
}

/* The rows that pass the filters, sorted; their mean of the sort
 * column.  -1 out of memory. */
static int
build_rows(struct app *app, struct tokens_state *s)
{
	const struct tui_run *run = app->run;
	int k = app_budget(app, run->L);
	struct tokens_sort sort = { run, NULL, s->sort == COL_PIECE,
	    s->descending };
	double *value, sum = 0;
	size_t p, n = 0, counted = 0;

	value = malloc((run->T + 1) * sizeof *value);
	if (value == NULL)
		return -1;
	if (s->rows == NULL &&
	    (s->rows = malloc((run->T + 1) * sizeof *s->rows)) == NULL) {
		free(value);
		return -1;
	}
	for (p = 1; p <= run->T; p++) {
		if (s->matched != NULL && !s->matched[p])
			continue;
		if (s->where_column >= 0 && !passes_where(s,
		    column_value(app, s->where_column, k, p)))
			continue;
		value[p] = column_value(app, s->sort, k, p);
		if (!isnan(value[p])) {
			sum += value[p];
			counted++;
		}
		s->rows[n++] = p;
	}
	sort.value = value;
	sorting = &sort;
	qsort(s->rows, n, sizeof *s->rows, compare_rows);
	sorting = NULL;
	free(value);
	s->n_rows = n;
	s->mean = counted > 0 ? sum / (double)counted : NAN;
	s->built = 1;
	s->built_k = k;
	s->built_method = app->method;
	s->built_sort = s->sort;
	s->built_descending = s->descending;
	s->built_generation = s->generation;
	return 0;
}

/* Rebuild the rows if what they show changed; keep the selection on the
 * cursor's token when it is among them. */
static void
ensure_rows(struct app *app, struct tokens_state *s)
{
	size_t i;

	if (!s->built || s->built_k != app_budget(app, app->run->L) ||
	    s->built_method != app->method || s->built_sort != s->sort ||
	    s->built_descending != s->descending ||
	    s->built_generation != s->generation) {
		if (build_rows(app, s) != 0) {
			app_error(app, "out of memory");
			s->n_rows = 0;
			return;
		}
	}
	if (s->n_rows == 0) {
		s->selected = 0;
		return;
	}
	if (s->selected >= s->n_rows)
		s->selected = s->n_rows - 1;
	if (s->rows[s->selected] != app->cursor)
		for (i = 0; i < s->n_rows; i++)
			if (s->rows[i] == app->cursor) {
				s->selected = i;
				break;
			}
}

/* Select row i, and its token everywhere. */
static void
select_row(struct app *app, struct tokens_state *s, size_t i)
{
	if (s->n_rows == 0)
		return;
	s->selected = i < s->n_rows ? i : s->n_rows - 1;
	app->cursor = s->rows[s->selected];
}

/* Sort by column c, largest first for numbers, or as asked. */
static void
sort_by(struct app *app, struct tokens_state *s, int c, int descending)
{
	s->sort = c;
	s->descending = descending;
	if (c == COL_PIECE)
		app_message(app, "sorted by piece in byte order%s",
		    descending ? ", reversed" : "");
	else
		app_message(app, "sorted by %s, %s first", column_name(app->run,
		    c), descending ? "largest" : "smallest");
}

/* ---- drawing ----------------------------------------------------------- */

/* The columns that fit in w cells: position, piece, difficulty and the
 * last three always; the losses of the sort column, of the chosen
 * method, then of the others in the run's order, as room allows. */
/* The loss column of the method called name, or -1. */
static int
method_column(const struct tui_run *run, const char *name)
{
	size_t m;

	for (m = 0; m < run->n_methods; m++)
		if (strcmp(run->methods[m].name, name) == 0)
			return COL_LOSS + (int)m;
	return -1;
}

/*
 * Which columns fit in w cells: position, piece, difficulty, regret, gain
 * and need always; then the sort column, the chosen method's, and the
 * other methods' losses in their order while they fit.  The oracle's
 * loss shows with its label-free control beside it (doc/design.md
 * section 5): the two are taken together or not at all, except that the
 * sort column and the chosen method's show alone when the pair does not
 * fit.
 */
static void
choose_columns(const struct app *app, struct tokens_state *s, int w)
{
	const struct tui_run *run = app->run;
	unsigned char take[64] = { 0 };
	int c, used = 0, n = n_columns(run), x, i, want[2];
	int oracle = method_column(run, "oracle");
	int label_free = method_column(run, "oracle_free");

	/* A run of more methods than that shows the first ones' losses
	 * (regret, gain and need are then among those left out). */
	if (n > 64)
		n = 64;
	/* the pair, or neither: a run without oracle_free (or a column
	 * past the 64 shown) pairs nothing */
	if (oracle < 0 || label_free < 0 || oracle >= n || label_free >= n)
		oracle = label_free = -1;
	for (c = 0; c < n; c++)
		if (c < COL_LOSS || c >= col_regret(run)) {
			take[c] = 1;
			used += column_width(run, c) + 1;
		}
	want[0] = s->sort >= COL_LOSS && s->sort < col_regret(run) ?
	    s->sort : -1;
	want[1] = COL_LOSS + app->method;
	for (i = 0; i < 2 + (col_regret(run) - COL_LOSS); i++) {
		int pair = -1, cost;

		c = i < 2 ? want[i] : COL_LOSS + i - 2;
		if (c < 0 || c >= n || take[c])
			continue;
		if (oracle >= 0 && (c == oracle || c == label_free))
			pair = c == oracle ? label_free : oracle;
		cost = column_width(run, c) + 1;
		if (pair >= 0 && !take[pair])
			cost += column_width(run, pair) + 1;
		/* The sort column and the chosen method's show alone rather
		 * than not at all. */
		if (used + cost > w && i < 2 && pair >= 0) {
			pair = -1;
			cost = column_width(run, c) + 1;
		}
		if (used + cost > w)
			continue;
		take[c] = 1;
		if (pair >= 0)
			take[pair] = 1;
		used += cost;
	}
	/* Left to right in column order, the label-free column moved to
	 * the oracle's right. */
	s->n_shown = 0;
	x = 0;
	for (c = 0; c < n; c++) {
		if (!take[c] || (c == label_free && take[oracle]))
			continue;
		for (i = 0; i < (c == oracle && take[label_free] ? 2 : 1);
		    i++) {
			int shown = i == 0 ? c : label_free;

			s->shown[s->n_shown] = shown;
			s->shown_x[s->n_shown++] = x;
			x += column_width(run, shown) + 1;
		}
	}
}

static void
draw_header(struct app *app, struct tokens_state *s, int y)
{
	const struct tui_run *run = app->run;
	struct rect line = { y, s->pane.x, 1, s->pane.w };
	char label[80];
	int i, c, w, x0 = s->pane.x + 1;

	draw_fill(app, &line, EL_HEADER);
	for (i = 0; i < s->n_shown; i++) {
		c = s->shown[i];
		w = column_width(run, c);
		snprintf(label, sizeof label, "%s%s", column_name(run, c),
		    c != s->sort ? "" : s->descending ? (app->glyphs.unicode ?
		    "\xe2\x96\xbc" : "v") : (app->glyphs.unicode ?
		    "\xe2\x96\xb2" : "^"));
		if (c == COL_PIECE)
			draw_text(app, y, x0 + s->shown_x[i], w, label,
			    EL_HEADER);
		else
			draw_text(app, y, x0 + s->shown_x[i] + w -
			    text_width(label), w, label, EL_HEADER);
	}
}

static void
draw_row(struct app *app, struct tokens_state *s, int y, size_t p,
    int selected)
{
	const struct tui_run *run = app->run;
	const struct token_record *t = &run->data.tokens[p];
	int k = app_budget(app, run->L), i, c, w, x0 = s->pane.x + 1;
	enum element el = selected ? EL_SELECTED : EL_NORMAL;
	char cell[4 * 64 + 8], number[32];
	double v;

	if (selected) {
		struct rect line = { y, s->pane.x, 1, s->pane.w };

		draw_fill(app, &line, EL_SELECTED);
	}
	for (i = 0; i < s->n_shown; i++) {
		c = s->shown[i];
		w = column_width(run, c);
		if (c == COL_PIECE) {
			draw_text_cut(app, y, x0 + s->shown_x[i], w, piece_escape(
			    &app->glyphs, t->piece, t->piece_length, cell,
			    sizeof cell), el);
			continue;
		}
		v = column_value(app, c, k, p);
		if (c == COL_POS || c == col_regret(run) + 2)
			snprintf(number, sizeof number, isnan(v) ? "-" : "%.0f",
			    v);
		else
			format_number(v, number, sizeof number);
		draw_text(app, y, x0 + s->shown_x[i] + w - text_width(number),
		    w, number, el);
	}
}

static void
draw_footer(struct app *app, struct tokens_state *s, int y)
{
	const struct tui_run *run = app->run;
	char text[512], number[32];
	size_t used;

	used = (size_t)snprintf(text, sizeof text, "%zu of %zu tokens",
	    s->n_rows, run->T);
	if (s->matched != NULL && used < sizeof text)
		used += (size_t)snprintf(text + used, sizeof text - used,
		    " matching /%s/", s->pattern_text);
	if (s->where_column >= 0 && used < sizeof text)
		used += (size_t)snprintf(text + used, sizeof text - used,
		    " where %s", s->where_text);
	if (s->sort != COL_PIECE && used < sizeof text)
		snprintf(text + used, sizeof text - used, "; mean %s %s",
		    column_name(run, s->sort), format_number(s->mean, number,
		    sizeof number));
	draw_text_cut(app, y, s->pane.x + 1, s->pane.w - 2, text, EL_DIM);
}

static void
tokens_draw(struct app *app, struct view *view)
{
	struct tokens_state *s = state_of(view);
	const struct tui_run *run = app->run;
	int rows = s->pane.h - 3, y, k = app_budget(app, run->L);
	char title[256];
	size_t i;

	ensure_rows(app, s);
	snprintf(title, sizeof title, "Tokens at k=%d, regret of %s", k,
	    run->methods[app->method].name);
	draw_pane_title(app, &s->pane, title, 1);
	if (rows < 1)
		return;
	choose_columns(app, s, s->pane.w - 2);
	draw_header(app, s, s->pane.y + 1);
	if (s->selected < s->top)
		s->top = s->selected;
	if (s->selected >= s->top + (size_t)rows)
		s->top = s->selected - (size_t)rows + 1;
	/* Fewer rows than before (a filter): no empty page below them. */
	if (s->top + (size_t)rows > s->n_rows)
		s->top = s->n_rows > (size_t)rows ? s->n_rows - (size_t)rows :
		    0;
	for (y = 0, i = s->top; y < rows && i < s->n_rows; y++, i++)
		draw_row(app, s, s->pane.y + 2 + y, s->rows[i],
		    i == s->selected);
	if (s->n_rows == 0)
		draw_text(app, s->pane.y + 2, s->pane.x + 1, s->pane.w - 2,
		    "no token passes the filters (/ and :where with nothing "
		    "clear them)", EL_DIM);
	draw_footer(app, s, s->pane.y + s->pane.h - 1);
}

/* ---- commands and keys ------------------------------------------------- */

/* ":sort NAME [asc|desc]"; -1 with a message. */
static int
parse_sort(struct app *app, struct tokens_state *s, const char *args)
{
	char name[128], order[16] = "";
	int c, n;

	n = sscanf(args, "%127s %15s", name, order);
	if (n < 1 || (n == 2 && strcmp(order, "asc") != 0 &&
	    strcmp(order, "desc") != 0) || strchr(args, '\t') != NULL) {
		app_error(app, ":sort wants a column and maybe asc, as in "
		    ":sort regret asc");
		return -1;
	}
	c = column_find(app->run, name);
	if (c < 0) {
		char list[512];

		column_list(app->run, list, sizeof list);
		app_error(app, "no column '%s' to sort by (%s)", name, list);
		return -1;
	}
	sort_by(app, s, c, strcmp(order, "asc") != 0);
	return 0;
}

/* ":where COLUMN OP NUMBER", or nothing for every token; -1 with a
 * message. */
static int
parse_where(struct app *app, struct tokens_state *s, const char *args)
{
	static const struct {
		const char *text;
		enum where_op op;
	} ops[] = {
		{ "<=", OP_LE }, { ">=", OP_GE }, { "!=", OP_NE },
		{ "<", OP_LT }, { ">", OP_GT }, { "=", OP_EQ },
	};
	const char *usage = ":where wants COLUMN OP NUMBER, OP one of < <= "
	    "> >= = !=, as in :where difficulty > 1.5";
	char name[128], *end;
	const char *a = args;
	size_t n, i;
	double x;
	int c;

	if (*args == '\0') {
		s->where_column = -1;
		s->generation++;
		app_message(app, ":where cleared: every token the pattern "
		    "lets through");
		return 0;
	}
	n = strcspn(a, " <>=!");
	if (n == 0 || n >= sizeof name) {
		app_error(app, "%s", usage);
		return -1;
	}
	memcpy(name, a, n);
	name[n] = '\0';
	c = column_find(app->run, name);
	if (c < 0) {
		char list[512];

		column_list(app->run, list, sizeof list);
		app_error(app, ":where: no column '%s' (%s)", name, list);
		return -1;
	}
	if (c == COL_PIECE) {
		app_error(app, ":where compares numbers; / filters the pieces");
		return -1;
	}
	a += n;
	while (*a == ' ')
		a++;
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strncmp(a, ops[i].text, strlen(ops[i].text)) == 0)
			break;
	if (i == sizeof ops / sizeof ops[0]) {
		app_error(app, "%s", usage);
		return -1;
	}
	a += strlen(ops[i].text);
	while (*a == ' ')
		a++;
	errno = 0;
	x = strtod(a, &end);
	if (*a == '\0' || *end != '\0' || errno != 0 || !isfinite(x)) {
		app_error(app, "%s", usage);
		return -1;
	}
	s->where_column = c;
	s->where_op = ops[i].op;
	s->where_value = x;
	snprintf(s->where_text, sizeof s->where_text, "%s %s %s", name,
	    ops[i].text, a);
	s->generation++;
	app_message(app, "where %s", s->where_text);
	return 0;
}

/* :sort and :where. */
static int
tokens_command(struct app *app, struct view *view, const char *name,
    const char *args)
{
	struct tokens_state *s = state_of(view);

	if (strcmp(name, "sort") == 0)
		return parse_sort(app, s, args);
	return parse_where(app, s, args);
}

/* s and S: the next or previous column, numbers largest first. */
static void
sort_step(struct app *app, struct tokens_state *s, int delta)
{
	int n = n_columns(app->run), c = (s->sort + delta + n) % n;

	sort_by(app, s, c, c != COL_POS && c != COL_PIECE);
}

/* y on a row: the number in the sort column, the cell the header marks,
 * in full (the table rounds it); on the piece column clip.c copies the
 * piece.  0 leaves y to clip.c. */
static int
copy_cell(struct app *app, struct tokens_state *s)
{
	const struct tui_run *run = app->run;
	int k = app_budget(app, run->L);
	char number[40];
	double v;
	size_t p;

	if (s->n_rows == 0 || s->sort == COL_PIECE || app->options.no_osc52)
		return 0;
	p = s->rows[s->selected];
	v = column_value(app, s->sort, k, p);
	if (isnan(v)) {
		app_error(app, "token %zu has no %s to copy", p,
		    column_name(run, s->sort));
		return 1;
	}
	if (s->sort == COL_POS || s->sort == col_regret(run) + 2)
		snprintf(number, sizeof number, "%.0f", v);
	else
		snprintf(number, sizeof number, "%.9g", v);
	if (clip_send(app, number, strlen(number)) != 0) {
		app_error(app, "out of memory");
		return 1;
	}
	app_message(app, "copied %s = %s of token %zu", column_name(run,
	    s->sort), number, p);
	return 1;
}

static int
tokens_request(struct app *app, struct view *view, enum action_id action)
{
	struct tokens_state *s = state_of(view);
	size_t page;

	if (app->run == NULL)
		return 0;
	ensure_rows(app, s);
	page = s->pane.h > 4 ? (size_t)s->pane.h - 4 : 1;
	switch (action) {
	case ACT_DOWN:
		select_row(app, s, s->selected + 1);
		return 1;
	case ACT_UP:
		select_row(app, s, s->selected > 0 ? s->selected - 1 : 0);
		return 1;
	case ACT_PAGE_DOWN:
		select_row(app, s, s->selected + page);
		return 1;
	case ACT_PAGE_UP:
		select_row(app, s, s->selected > page ? s->selected - page :
		    0);
		return 1;
	case ACT_FIRST:
		select_row(app, s, 0);
		return 1;
	case ACT_LAST:
		select_row(app, s, s->n_rows > 0 ? s->n_rows - 1 : 0);
		return 1;
	case ACT_SORT_NEXT:
	case ACT_SORT_PREV:
		sort_step(app, s, action == ACT_SORT_NEXT ? 1 : -1);
		return 1;
	case ACT_FILTER:
		app_prompt_search(app);
		return 1;
	case ACT_COPY:
		return copy_cell(app, s);
	case ACT_JUMP:
		if (s->n_rows == 0) {
			app_error(app, "no token to show: the filters let "
			    "none through");
			return 1;
		}
		select_row(app, s, s->selected);
		app_show(app, VIEW_TEXT, NULL);
		app_message(app, "token %zu, from the tokens view (7 goes "
		    "back)", app->cursor);
		return 1;
	default:
		return 0;
	}
}

/* The answer to '/': the tokens whose piece matches. */
static void
tokens_search(struct app *app, struct view *view, const char *pattern)
{
	struct tokens_state *s = state_of(view);
	const struct tui_run *run = app->run;
	char message[512];
	size_t p, start, end, n = 0;
	pcre2_code *code;

	if (run == NULL)
		return;
	if (*pattern == '\0') {
		pcre2_code_free(s->pattern);
		s->pattern = NULL;
		free(s->matched);
		s->matched = NULL;
		s->generation++;
		app_message(app, "every token's piece");
		return;
	}
	code = pattern_compile(pattern, message, sizeof message);
	if (code == NULL) {
		app_error(app, "%s", message);
		return;
	}
	free(s->matched);
	s->matched = calloc(run->T + 1, 1);
	pcre2_code_free(s->pattern);
	s->pattern = code;
	if (s->matched == NULL) {
		app_error(app, "out of memory");
		return;
	}
	snprintf(s->pattern_text, sizeof s->pattern_text, "%s", pattern);
	for (p = 1; p <= run->T; p++)
		if (pattern_find(code, run->data.tokens[p].piece,
		    run->data.tokens[p].piece_length, 0, &start, &end) == 1) {
			s->matched[p] = 1;
			n++;
		}
	s->generation++;
	app_message(app, "/%s/: %zu token%s' piece%s match%s", pattern, n,
	    n == 1 ? "" : "s", n == 1 ? "" : "s", n == 1 ? "es" : "");
}

/* A click: on the header, sort by that column (again: reverse); on a
 * row, select it (twice: show it in the text view). */
static void
tokens_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct tokens_state *s = state_of(view);
	int i, c;

	if (app->run == NULL)
		return;
	if (y == s->pane.y + 1) {
		for (i = s->n_shown - 1; i >= 0; i--)
			if (x - (s->pane.x + 1) >= s->shown_x[i])
				break;
		if (i < 0)
			return;
		c = s->shown[i];
		sort_by(app, s, c, c == s->sort ? !s->descending :
		    c != COL_POS && c != COL_PIECE);
		return;
	}
	if (y < s->pane.y + 2 || y >= s->pane.y + s->pane.h - 1 ||
	    s->top + (size_t)(y - s->pane.y - 2) >= s->n_rows)
		return;
	select_row(app, s, s->top + (size_t)(y - s->pane.y - 2));
	if (twice)
		tokens_request(app, view, ACT_JUMP);
}

/* ---- the view's life --------------------------------------------------- */

static void
forget(struct tokens_state *s)
{
	free(s->rows);
	s->rows = NULL;
	s->n_rows = 0;
	pcre2_code_free(s->pattern);
	s->pattern = NULL;
	free(s->matched);
	s->matched = NULL;
	s->where_column = -1;
	s->built = 0;
	s->selected = s->top = 0;
	s->sort = COL_DIFFICULTY;
	s->descending = 1;
}

static int
tokens_init(struct app *app, struct view *view)
{
	struct tokens_state *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	forget(s);
	view->state = s;
	return 0;
}

static void
tokens_done(struct app *app, struct view *view)
{
	struct tokens_state *s = state_of(view);

	forget(s);
	free(s);
	view->state = NULL;
}

static void
tokens_layout(struct app *app, struct view *view, const struct rect *body)
{
	state_of(view)->pane = *body;
	view->n_panes = 1;
}

static void
tokens_run_changed(struct app *app, struct view *view)
{
	forget(state_of(view));
}

const struct view_ops tokens_view_ops = {
	.name = "tokens",
	.title = "Tokens",
	.id = VIEW_TOKENS,
	.init = tokens_init,
	.done = tokens_done,
	.command = tokens_command,
	.layout = tokens_layout,
	.draw = tokens_draw,
	.request = tokens_request,
	.search = tokens_search,
	.click = tokens_click,
	.run_changed = tokens_run_changed,
};
