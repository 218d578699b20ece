/*
 * seek.c - finding tokens wherever tokens are shown: the '/' search over
 * the run's text, counted and stepped match by match (a word the
 * tokenizer cut into four pieces is one match, as vim and less count
 * them) and wrapping at either end with a note; the steps to the next
 * token at or above the threshold of the measure, and by rank of the
 * measure (the next harder or easier token); and :goto.
 *
 * Every step moves app->cursor and nothing else: the views follow it.
 */
#include "seek.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "run.h"
#include "search.h"

struct seek {
	/* The last search: match i covers tokens first[i] .. last[i]. */
	pcre2_code *code;
	char pattern[256];
	size_t *first, *last;
	size_t n_matches;
	size_t current;                 /* the match last gone to */
	unsigned char *matched;         /* [T + 1]: in some match */
	/* The tokens by rank of a measure, hardest first, for the key
	 * below; rank[p] is the place of token p, or T if it has no
	 * value. */
	size_t *by_rank, *rank;
	size_t n_ranked;
	int ranked, rank_key[3];
};

static void
forget_search(struct seek *s)
{
	pcre2_code_free(s->code);
	s->code = NULL;
	free(s->first);
	free(s->last);
	free(s->matched);
	s->first = s->last = NULL;
	s->matched = NULL;
	s->n_matches = s->current = 0;
}

void
seek_forget(struct app *app)
{
	struct seek *s = app->seek;

	if (s == NULL)
		return;
	forget_search(s);
	free(s->by_rank);
	free(s->rank);
	free(s);
	app->seek = NULL;
}

/* The state, made on first use; NULL (with a message) out of memory. */
static struct seek *
state(struct app *app)
{
	if (app->seek == NULL && (app->seek = calloc(1,
	    sizeof *app->seek)) == NULL)
		app_error(app, "out of memory");
	return app->seek;
}

int
seek_matched(const struct app *app, size_t p)
{
	const struct seek *s = app->seek;

	return s != NULL && s->matched != NULL && s->matched[p];
}

attr_t
seek_match_attr(const struct app *app, size_t p)
{
	if (!seek_matched(app, p))
		return 0;
	return app->palette.scheme == SCHEME_MONO ? A_UNDERLINE | A_ITALIC :
	    A_UNDERLINE;
}

/* The token that holds byte b of the text (tokens are in byte order). */
static size_t
token_of_byte(const struct tui_run *run, size_t b)
{
	size_t lo = 1, hi = run->T, mid;

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (run->data.tokens[mid].byte_start <= b)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* What add_match() is handed by pattern_each(). */
struct finding {
	struct seek *seek;
	const struct tui_run *run;
	size_t capacity;
};

/* Note match [start, end) of the text; -1 out of memory. */
static int
add_match(size_t start, size_t end, void *arg)
{
	struct finding *f = arg;
	struct seek *s = f->seek;
	size_t p, first = token_of_byte(f->run, start),
	    last = token_of_byte(f->run, end - 1);

	if (s->n_matches == f->capacity) {
		size_t n = f->capacity > 0 ? 2 * f->capacity : 64;
		size_t *grown = realloc(s->first, n * sizeof *grown);

		if (grown == NULL)
			return -1;
		s->first = grown;
		if ((grown = realloc(s->last, n * sizeof *grown)) == NULL)
			return -1;
		s->last = grown;
		f->capacity = n;
	}
	s->first[s->n_matches] = first;
	s->last[s->n_matches++] = last;
	for (p = first; p <= last; p++)
		s->matched[p] = 1;
	return 0;
}

/* Every match of the code in the text, none empty (an empty match
 * touches no token). */
static int
find_matches(struct seek *s, const struct tui_run *run)
{
	struct finding f = { s, run, 0 };

	s->matched = calloc(run->T + 1, 1);
	if (s->matched == NULL)
		return -1;
	/* A run without a scored token has no token a match could touch. */
	if (run->T == 0)
		return 0;
	return pattern_each(s->code, run->data.text, run->data.text_length,
	    add_match, &f);
}

/* The first match at or after the cursor, else the first. */
static size_t
match_from_cursor(const struct seek *s, size_t cursor)
{
	size_t i;

	for (i = 0; i < s->n_matches; i++)
		if (s->last[i] >= cursor)
			return i;
	return 0;
}

int
seek_search(struct app *app, const char *pattern)
{
	struct seek *s;
	char message[512];

	if (app->run == NULL || (s = state(app)) == NULL)
		return -1;
	forget_search(s);
	if (*pattern == '\0') {
		app_message(app, "search cleared");
		return 0;
	}
	s->code = pattern_compile(pattern, message, sizeof message);
	if (s->code == NULL) {
		app_error(app, "%s", message);
		return -1;
	}
	snprintf(s->pattern, sizeof s->pattern, "%s", pattern);
	if (find_matches(s, app->run) != 0) {
		forget_search(s);
		app_error(app, "out of memory");
		return -1;
	}
	if (s->n_matches == 0) {
		app_error(app, "no match for /%s/", pattern);
		forget_search(s);
		return -1;
	}
	s->current = match_from_cursor(s, app->cursor);
	app->cursor = s->first[s->current];
	app_message(app, "match %zu of %zu for /%s/; n and N go through "
	    "them", s->current + 1, s->n_matches, s->pattern);
	return 0;
}

void
seek_match(struct app *app, int dir)
{
	struct seek *s = app->seek;
	const char *wrapped = "";
	size_t i, next = 0, cursor = app->cursor;
	int found = 0;

	if (s == NULL || s->n_matches == 0) {
		app_error(app, "no search yet: / starts one");
		return;
	}
	/* From the match last gone to while the cursor is on it, else
	 * from the cursor. */
	if (cursor >= s->first[s->current] && cursor <= s->last[s->current]) {
		if (dir > 0 ? s->current + 1 < s->n_matches : s->current > 0) {
			next = dir > 0 ? s->current + 1 : s->current - 1;
			found = 1;
		}
	} else if (dir > 0) {
		for (i = 0; i < s->n_matches && !found; i++)
			if (s->first[i] > cursor) {
				next = i;
				found = 1;
			}
	} else {
		for (i = s->n_matches; i > 0 && !found; i--)
			if (s->first[i - 1] < cursor) {
				next = i - 1;
				found = 1;
			}
	}
	if (!found) {
		next = dir > 0 ? 0 : s->n_matches - 1;
		wrapped = dir > 0 ? "search wrapped to the top: " :
		    "search wrapped to the bottom: ";
	}
	s->current = next;
	app->cursor = s->first[next];
	app_message(app, "%smatch %zu of %zu for /%s/", wrapped, next + 1,
	    s->n_matches, s->pattern);
}

double
seek_threshold(const struct app *app, double lo, double hi)
{
	if (isfinite(app->threshold))
		return app->threshold;
	return lo + (hi - lo) * 6 / N_HEAT;
}

void
seek_above(struct app *app, int dir)
{
	struct tui_run *run = app->run;
	int k = app_budget(app, run->L);
	double lo, hi, limit, v;
	char number[32];
	size_t p = app->cursor;

	run_scale(run, app->measure, app->method, k, &lo, &hi);
	limit = seek_threshold(app, lo, hi);
	while (dir > 0 ? p < run->T : p > 1) {
		p = dir > 0 ? p + 1 : p - 1;
		v = run_measure(run, app->measure, app->method, k, p);
		if (isfinite(v) && v >= limit) {
			app->cursor = p;
			return;
		}
	}
	app_error(app, "no %s token with %s %s %s", dir > 0 ? "later" :
	    "earlier", measure_names[app->measure], app->glyphs.unicode ?
	    "\xe2\x89\xa5" : ">=", format_number(limit, number,
	    sizeof number));
}

/* What the ranking's comparison reads: qsort() takes no argument. */
static const double *ranking_values;

/* Larger values first, ties in text order. */
static int
compare_rank(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	double x = ranking_values[a], y = ranking_values[b];

	if (x != y)
		return x > y ? -1 : 1;
	return (a > b) - (a < b);
}

/* The tokens by rank of the measure at the budget; -1 out of memory. */
static int
ensure_ranking(struct app *app, struct seek *s)
{
	const struct tui_run *run = app->run;
	int k = app_budget(app, run->L);
	double *values;
	size_t p, n = 0;

	if (s->ranked && s->rank_key[0] == (int)app->measure &&
	    s->rank_key[1] == app->method && s->rank_key[2] == k)
		return 0;
	values = malloc((run->T + 1) * sizeof *values);
	if ((s->by_rank == NULL && (s->by_rank = malloc(run->T *
	    sizeof *s->by_rank)) == NULL) || (s->rank == NULL &&
	    (s->rank = malloc((run->T + 1) * sizeof *s->rank)) == NULL) ||
	    values == NULL) {
		free(values);
		return -1;
	}
	for (p = 1; p <= run->T; p++) {
		values[p] = run_measure(run, app->measure, app->method, k, p);
		s->rank[p] = run->T;
		if (isfinite(values[p]))
			s->by_rank[n++] = p;
	}
	ranking_values = values;
	qsort(s->by_rank, n, sizeof *s->by_rank, compare_rank);
	ranking_values = NULL;
	free(values);
	for (p = 0; p < n; p++)
		s->rank[s->by_rank[p]] = p;
	s->n_ranked = n;
	s->ranked = 1;
	s->rank_key[0] = (int)app->measure;
	s->rank_key[1] = app->method;
	s->rank_key[2] = k;
	return 0;
}

void
seek_rank(struct app *app, int dir)
{
	struct seek *s = state(app);
	const char *measure = measure_names[app->measure];
	size_t r;

	if (s == NULL)
		return;
	if (ensure_ranking(app, s) != 0) {
		app_error(app, "out of memory");
		return;
	}
	if (s->n_ranked == 0) {
		app_error(app, "no token has a %s here", measure);
		return;
	}
	r = s->rank[app->cursor];
	/* From a token without a value: to either end of the ranking. */
	if (r == app->run->T)
		r = dir > 0 ? 0 : s->n_ranked - 1;
	else if (dir > 0 ? r == 0 : r + 1 == s->n_ranked) {
		app_error(app, "token %zu has the %s %s (rank %zu of %zu)",
		    app->cursor, dir > 0 ? "highest" : "lowest", measure,
		    r + 1, s->n_ranked);
		return;
	} else
		r = dir > 0 ? r - 1 : r + 1;
	app->cursor = s->by_rank[r];
	app_message(app, "token %zu: rank %zu of %zu by %s (1: the highest)",
	    app->cursor, r + 1, s->n_ranked, measure);
}

int
seek_request(struct app *app, enum action_id action)
{
	if (app->run == NULL)
		return 0;
	switch (action) {
	case ACT_SEARCH:
		app_prompt_search(app);
		return 1;
	case ACT_SEARCH_NEXT:
	case ACT_SEARCH_PREV:
		seek_match(app, action == ACT_SEARCH_NEXT ? 1 : -1);
		return 1;
	case ACT_ABOVE_NEXT:
	case ACT_ABOVE_PREV:
		seek_above(app, action == ACT_ABOVE_NEXT ? 1 : -1);
		return 1;
	case ACT_RANK_NEXT:
	case ACT_RANK_PREV:
		seek_rank(app, action == ACT_RANK_NEXT ? 1 : -1);
		return 1;
	default:
		return 0;
	}
}

int
seek_goto(struct app *app, const char *text)
{
	unsigned long long n;
	char *end;

	if (app->run == NULL) {
		app_error(app, "no run is open; open one first (Enter)");
		return -1;
	}
	errno = 0;
	n = strtoull(text, &end, 10);
	if (*text < '0' || *text > '9' || *end != '\0' || errno != 0 ||
	    n < 1 || n > app->run->T) {
		app_error(app, ":goto wants a token number from 1 to %zu, not "
		    "'%s'", app->run->T, text);
		return -1;
	}
	app->cursor = (size_t)n;
	app_message(app, "token %zu of %zu", app->cursor, app->run->T);
	return 0;
}
