/*
 * view_whatif.c - the what-if view: the oracle asked again from the loss
 * tables the run stored (every route's loss for every token), held to
 * constraints the user sets: a layer must be big, small or skipped, or
 * is free, and at most N layers may be skipped.  At the budget in effect
 * it shows the constrained oracle's perplexity beside the unconstrained
 * oracle's, all-big's and all-small's, its layer allocation (the share
 * of tokens given the big module at each layer) and its most frequent
 * routes.  No model is needed.
 *
 * Each key must answer at once, so the tables are read once per run and
 * the routes are listed by budget beforehand, each with its layers as
 * bit masks: a constraint is then a mask test per route, and the search
 * one pass over the tokens' rows for the routes that pass.
 *
 * Legend: T tokens, R routes of the space, L layers, k the budget.
 */
#include "tui.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "names.h"
#include "route.h"
#include "run.h"
#include "store.h"
#include "view.h"

/* Tables larger than this are not read: the view says so instead. */
#define WHATIF_MAX_BYTES ((size_t)1 << 30)
#define N_TOP_ROUTES 8
#define ANY_SKIPS 1000

struct whatif_tables {
	int64_t run_id;                 /* read for; 0: not yet */
	int ok;                         /* 0: why says why not */
	enum store_tables encoding;     /* F32, or F16: rounded losses */
	int asked_none;                 /* made with --losses none */
	char why[1024];
	struct route_space space;
	size_t R;
	float *losses;                  /* (T, R) */
	float *kl;                      /* (T, R) KL from all-big; NULL if none */
	uint32_t *codes;                /* [R] by budget, then by code */
	size_t *first;                  /* [L + 2] codes of budget k */
	uint64_t *big, *small, *skip;   /* [R] layer l as bit l */
	unsigned char *n_skips;         /* [R] */
	uint32_t *allowed;              /* [R] scratch */
	uint32_t *count;                /* [R] scratch */
	double mean_big, mean_small;    /* NAN where the space lacks it */
	/* the unconstrained oracle by budget, computed when first seen */
	double *oracle_mean;            /* [L + 1] */
	double *oracle_share;           /* [(L + 1) * L] */
	double *free_mean;              /* [L + 1] the label-free oracle */
	unsigned char *oracle_done;     /* [L + 1] */
};

struct whatif_state {
	struct rect area;
	struct whatif_tables tables;
	/* the constraints */
	char must[DUO_MAX_LAYERS];                  /* per layer: 0 free, 'B', 'S', '.' */
	int max_skips;                  /* ANY_SKIPS: no limit */
	int layer;                      /* the cursor */
	/* the answer, for one budget and one set of constraints */
	int dirty;
	int answer_k;
	size_t n_allowed, n_at_k;
	double mean;                    /* NAN: no route is allowed */
	double free_mean;               /* the label-free oracle held so */
	double *share;                  /* [L] */
	uint32_t top[N_TOP_ROUTES];
	uint32_t top_count[N_TOP_ROUTES];
	int n_top;
};

static struct whatif_state *
state_of(struct view *view)
{
	return view->state;
}

static void
free_tables(struct whatif_tables *t)
{
	free(t->losses);
	free(t->kl);
	free(t->codes);
	free(t->first);
	free(t->big);
	free(t->small);
	free(t->skip);
	free(t->n_skips);
	free(t->allowed);
	free(t->count);
	free(t->oracle_mean);
	free(t->oracle_share);
	free(t->free_mean);
	free(t->oracle_done);
	memset(t, 0, sizeof *t);
}

static int
whatif_init(struct app *app, struct view *view)
{
	struct whatif_state *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	s->max_skips = ANY_SKIPS;
	s->dirty = 1;
	view->state = s;
	return 0;
}

static void
whatif_done(struct app *app, struct view *view)
{
	struct whatif_state *s = state_of(view);

	free_tables(&s->tables);
	free(s->share);
	free(s);
	view->state = NULL;
}

static void
whatif_layout(struct app *app, struct view *view, const struct rect *body)
{
	state_of(view)->area = *body;
	view->n_panes = 1;
}

/* The mean loss of one route over the run, from the tables. */
static double
route_mean(const struct whatif_tables *t, size_t T, uint64_t code)
{
	double sum = 0;
	size_t p;

	for (p = 0; p < T; p++)
		sum += t->losses[p * t->R + code];
	return T > 0 ? sum / (double)T : NAN;
}

/* List the routes by budget with their layers as masks. */
static int
index_routes(struct whatif_tables *t, int L, size_t T)
{
	uint8_t choices[DUO_MAX_LAYERS];
	size_t *fill, c, i;
	int l, b;

	t->codes = malloc(t->R * sizeof *t->codes);
	t->first = calloc((size_t)L + 2, sizeof *t->first);
	fill = calloc((size_t)L + 2, sizeof *fill);
	t->big = malloc(t->R * sizeof *t->big);
	t->small = malloc(t->R * sizeof *t->small);
	t->skip = malloc(t->R * sizeof *t->skip);
	t->n_skips = malloc(t->R);
	t->allowed = malloc(t->R * sizeof *t->allowed);
	t->count = calloc(t->R, sizeof *t->count);
	t->oracle_mean = malloc(((size_t)L + 1) * sizeof *t->oracle_mean);
	t->oracle_share = malloc(((size_t)L + 1) * (size_t)L *
	    sizeof *t->oracle_share);
	t->oracle_done = calloc((size_t)L + 1, 1);
	t->free_mean = malloc(((size_t)L + 1) * sizeof *t->free_mean);
	if (t->free_mean == NULL ||
	    t->codes == NULL || t->first == NULL || fill == NULL ||
	    t->big == NULL || t->small == NULL || t->skip == NULL ||
	    t->n_skips == NULL || t->allowed == NULL || t->count == NULL ||
	    t->oracle_mean == NULL || t->oracle_share == NULL ||
	    t->oracle_done == NULL) {
		free(fill);
		return -1;
	}
	for (c = 0; c < t->R; c++) {
		route_decode(&t->space, c, L, choices);
		t->big[c] = t->small[c] = t->skip[c] = 0;
		t->n_skips[c] = 0;
		for (l = 0; l < L; l++) {
			uint64_t bit = (uint64_t)1 << l;

			if (choices[l] == CHOICE_BIG)
				t->big[c] |= bit;
			else if (choices[l] == CHOICE_SMALL)
				t->small[c] |= bit;
			else {
				t->skip[c] |= bit;
				t->n_skips[c]++;
			}
		}
		t->first[__builtin_popcountll(t->big[c]) + 1]++;
	}
	for (b = 1; b <= L + 1; b++)
		t->first[b] += t->first[b - 1];
	memcpy(fill, t->first, ((size_t)L + 2) * sizeof *fill);
	for (c = 0; c < t->R; c++)
		t->codes[fill[__builtin_popcountll(t->big[c])]++] =
		    (uint32_t)c;
	free(fill);
	/* All-big is code 0; all-small has S's digit at every layer. */
	t->mean_big = route_mean(t, T, 0);
	t->mean_small = NAN;
	for (i = 0; i < (size_t)t->space.n_choices; i++)
		if (t->space.choices[i] == CHOICE_SMALL) {
			memset(choices, CHOICE_SMALL, (size_t)L);
			t->mean_small = route_mean(t, T, route_encode(&t->space,
			    choices, L));
		}
	return 0;
}

/* The run's KL tables, if it keeps them (t->kl stays NULL if not);
 * -1 on an error. */
static int
load_kl(struct store *store, int64_t run_id, struct whatif_tables *t,
    size_t T, struct duo_error *err)
{
	size_t p;
	int rc;

	t->kl = malloc(T * t->R * sizeof *t->kl);
	if (t->kl == NULL) {
		error_set(err, "out of memory for the KL tables");
		return -1;
	}
	for (p = 1; p <= T; p++) {
		rc = store_load_route_kl(store, run_id, (int)p,
		    t->kl + (p - 1) * t->R, t->R, err);
		if (rc != 0) {
			free(t->kl);
			t->kl = NULL;
			return rc < 0 ? -1 : 0;
		}
	}
	return 0;
}

/* Read the run's loss tables once; t->ok and t->why say how it went. */
static void
load_tables(struct app *app, struct whatif_tables *t)
{
	const struct tui_run *run = app->run;
	struct store *store = NULL;
	struct duo_error err;
	uint64_t R;
	size_t p;
	int rc;

	free_tables(t);
	t->run_id = app->run_id;
	if (route_space_parse(&t->space, run->data.info.space, &err) != 0) {
		snprintf(t->why, sizeof t->why, "%s", err.message);
		return;
	}
	R = route_space_size(&t->space, run->L);
	if (R == 0 || R > UINT32_MAX || run->T == 0 ||
	    R > WHATIF_MAX_BYTES / sizeof(float) / run->T) {
		snprintf(t->why, sizeof t->why, "the loss tables of this run "
		    "(%zu tokens by %llu routes) are too large to read here",
		    run->T, (unsigned long long)R);
		return;
	}
	t->R = (size_t)R;
	t->losses = malloc(run->T * t->R * sizeof *t->losses);
	if (t->losses == NULL) {
		snprintf(t->why, sizeof t->why, "out of memory for the loss "
		    "tables");
		return;
	}
	if (store_open(&store, app->db_path, STORE_READONLY, &err) != 0 ||
	    store_route_tables(store, app->run_id, &t->encoding,
	    &t->asked_none, &err) != 0) {
		snprintf(t->why, sizeof t->why, "%s", err.message);
		store_close(store);
		return;
	}
	for (p = 1; p <= run->T; p++) {
		rc = store_load_route_losses(store, app->run_id, (int)p,
		    t->losses + (p - 1) * t->R, t->R, &err);
		if (rc != 0) {
			if (rc > 0 && t->asked_none)
				snprintf(t->why, sizeof t->why, "this run was "
				    "made with --losses none: no loss tables "
				    "to ask a what-if of");
			else if (rc > 0)
				snprintf(t->why, sizeof t->why, "this run "
				    "keeps no loss tables%s: there is nothing "
				    "to ask a what-if of",
				    run->data.info.approximate ?
				    " (a beam search made it)" : "");
			else
				snprintf(t->why, sizeof t->why, "%s",
				    err.message);
			store_close(store);
			return;
		}
	}
	if (load_kl(store, app->run_id, t, run->T, &err) != 0) {
		snprintf(t->why, sizeof t->why, "%s", err.message);
		store_close(store);
		return;
	}
	store_close(store);
	if (index_routes(t, run->L, run->T) != 0) {
		snprintf(t->why, sizeof t->why, "out of memory indexing the "
		    "routes");
		return;
	}
	t->ok = 1;
}

/*
 * The label-free oracle among the routes allowed[0..n-1]: for each token
 * the route of least KL from all-big (ties to the lower code, as the
 * analysis breaks them), scored by its loss; the mean loss, or NAN
 * without KL tables.
 */
static double
search_free(const struct whatif_tables *t, size_t T,
    const uint32_t *allowed, size_t n)
{
	double sum = 0;
	size_t p, j;

	if (t->kl == NULL)
		return NAN;
	for (p = 0; p < T; p++) {
		const float *kl = t->kl + p * t->R;
		uint32_t best = allowed[0];

		for (j = 1; j < n; j++)
			if (kl[allowed[j]] < kl[best])
				best = allowed[j];
		sum += t->losses[p * t->R + best];
	}
	return sum / (double)T;
}

/*
 * The oracle among the routes allowed[0..n-1] (in increasing code order):
 * for each token the lowest loss (ties to the lower code), counted by
 * route into t->count; returns the mean loss and fills share[L].
 */
static double
search(struct whatif_tables *t, size_t T, int L, const uint32_t *allowed,
    size_t n, double *share)
{
	double sum = 0;
	size_t p, j;
	int l;

	for (j = 0; j < n; j++)
		t->count[allowed[j]] = 0;
	for (p = 0; p < T; p++) {
		const float *row = t->losses + p * t->R;
		uint32_t best = allowed[0];
		float lowest = row[best];

		for (j = 1; j < n; j++)
			if (row[allowed[j]] < lowest) {
				lowest = row[allowed[j]];
				best = allowed[j];
			}
		sum += lowest;
		t->count[best]++;
	}
	for (l = 0; l < L; l++)
		share[l] = 0;
	for (j = 0; j < n; j++) {
		uint32_t c = allowed[j];

		if (t->count[c] == 0)
			continue;
		for (l = 0; l < L; l++)
			if (t->big[c] >> l & 1)
				share[l] += t->count[c];
	}
	for (l = 0; l < L; l++)
		share[l] /= (double)T;
	return sum / (double)T;
}

/* The unconstrained oracle at k, computed the first time it is asked. */
static double
oracle_at(struct whatif_tables *t, size_t T, int L, int k)
{
	size_t n = t->first[k + 1] - t->first[k];

	if (!t->oracle_done[k]) {
		t->oracle_mean[k] = n == 0 ? NAN : search(t, T, L,
		    t->codes + t->first[k], n,
		    t->oracle_share + (size_t)k * L);
		t->free_mean[k] = n == 0 ? NAN : search_free(t, T,
		    t->codes + t->first[k], n);
		t->oracle_done[k] = 1;
	}
	return t->oracle_mean[k];
}

/* Answer the what-if at k under the constraints. */
static void
answer(struct app *app, struct whatif_state *s, int k)
{
	struct whatif_tables *t = &s->tables;
	const struct tui_run *run = app->run;
	uint64_t need_big = 0, need_small = 0, need_skip = 0;
	size_t i, n = 0;
	int l, j;

	for (l = 0; l < run->L; l++) {
		uint64_t bit = (uint64_t)1 << l;

		if (s->must[l] == 'B')
			need_big |= bit;
		else if (s->must[l] == 'S')
			need_small |= bit;
		else if (s->must[l] == '.')
			need_skip |= bit;
	}
	for (i = t->first[k]; i < t->first[k + 1]; i++) {
		uint32_t c = t->codes[i];

		if ((t->big[c] & need_big) == need_big &&
		    (t->small[c] & need_small) == need_small &&
		    (t->skip[c] & need_skip) == need_skip &&
		    t->n_skips[c] <= s->max_skips)
			t->allowed[n++] = c;
	}
	s->answer_k = k;
	s->n_allowed = n;
	s->n_at_k = t->first[k + 1] - t->first[k];
	s->n_top = 0;
	s->dirty = 0;
	if (n == 0) {
		s->mean = s->free_mean = NAN;
		return;
	}
	s->mean = search(t, run->T, run->L, t->allowed, n, s->share);
	s->free_mean = search_free(t, run->T, t->allowed, n);
	/* The most frequent routes: a short sorted list, ties to the lower
	 * code (allowed is in increasing code order). */
	for (i = 0; i < n; i++) {
		uint32_t c = t->allowed[i], count = t->count[c];

		if (count == 0 || (s->n_top == N_TOP_ROUTES &&
		    count <= s->top_count[N_TOP_ROUTES - 1]))
			continue;
		j = s->n_top < N_TOP_ROUTES ? s->n_top++ : N_TOP_ROUTES - 1;
		while (j > 0 && s->top_count[j - 1] < count) {
			s->top[j] = s->top[j - 1];
			s->top_count[j] = s->top_count[j - 1];
			j--;
		}
		s->top[j] = c;
		s->top_count[j] = count;
	}
}

/* Have the tables of the open run and an answer at k. */
static int
ready(struct app *app, struct whatif_state *s, int k)
{
	if (s->tables.run_id != app->run_id) {
		load_tables(app, &s->tables);
		free(s->share);
		s->share = malloc((size_t)app->run->L * sizeof *s->share);
		if (s->share == NULL) {
			s->tables.ok = 0;
			snprintf(s->tables.why, sizeof s->tables.why,
			    "out of memory");
		}
		s->dirty = 1;
	}
	if (!s->tables.ok)
		return -1;
	if (s->dirty || s->answer_k != k)
		answer(app, s, k);
	return 0;
}

static enum element
must_element(char must)
{
	return must == 0 ? EL_DIM : route_element(must);
}

static wchar_t
must_glyph(const struct app *app, char must)
{
	return must == 0 ? '-' : route_glyph(app, must);
}

/* What the constraints' glyphs mean, from x on line y, if it fits. */
static void
draw_must_legend(struct app *app, struct whatif_state *s, int y, int x)
{
	static const char musts[] = { 0, 'B', 'S', '.' };
	static const char *const names[] = { "free", "big", "small", "skip" };
	const struct rect *r = &s->area;
	int i, n = strchr(s->tables.space.name, '.') != NULL ? 4 : 3;
	int w = 0;

	for (i = 0; i < n; i++)
		w += 2 + (int)strlen(names[i]) + 2;
	if (x + w > r->x + r->w)
		return;
	for (i = 0; i < n; i++) {
		draw_wchar(app, y, x, must_glyph(app, musts[i]),
		    must_element(musts[i]));
		draw_text(app, y, x + 2, (int)strlen(names[i]), names[i],
		    EL_DIM);
		x += 2 + (int)strlen(names[i]) + 2;
	}
}

/* The layer strip: numbers, and each layer's constraint, from line y. */
static int
draw_strip(struct app *app, struct whatif_state *s, int y)
{
	const struct rect *r = &s->area;
	int L = app->run->L, x0 = r->x + 8, l, cw, x;
	attr_t attr;

	cw = x0 + 3 * L <= r->x + r->w ? 3 : x0 + 2 * L <= r->x + r->w ? 2 :
	    1;
	draw_text(app, y, r->x + 1, 7, "layer", EL_AXIS);
	draw_text(app, y + 1, r->x + 1, 7, "must be", EL_AXIS);
	for (l = 0; l < L; l++) {
		x = x0 + l * cw;
		if (x >= r->x + r->w)
			break;
		if (cw > 1 || l % 5 == 0)
			draw_textf(app, y, x, cw > 1 ? cw : 2, l == s->layer ?
			    EL_MARK : EL_AXIS, cw > 1 ? "%2d" : "%d",
			    cw > 2 ? l : l % (cw > 1 ? 100 : 10));
		attr = app->palette.attr[must_element(s->must[l])];
		if (l == s->layer)
			attr ^= A_REVERSE;
		draw_wchar_attr(y + 1, x + (cw > 1), (wchar_t[]){ must_glyph(app,
		    s->must[l]), 0 }, attr,
		    app->palette.pair[must_element(s->must[l])]);
	}
	draw_must_legend(app, s, y + 1, x0 + L * cw + 2);
	return y + 2;
}

/* The larger of a perplexity and the perplexity of a mean loss, NAN
 * taken as none. */
static double
larger_ppl(double ppl, double mean)
{
	return !isnan(mean) && exp(mean) > ppl ? exp(mean) : ppl;
}

/* One perplexity as a bar against the largest, from x on line y. */
static void
draw_ppl(struct app *app, int y, const struct rect *r, const char *name,
    double mean, double top, enum element element)
{
	char number[32];
	int bar_w = r->w - 34;

	draw_textf(app, y, r->x + 1, 22, element, "%s", name);
	format_number(exp(mean), number, sizeof number);
	draw_textf(app, y, r->x + 23, 9, element, "%8s", number);
	if (bar_w > 4 && !isnan(mean))
		draw_bar(app, y, r->x + 33, bar_w, exp(mean) / top, element ==
		    EL_PANE_FOCUS ? EL_BIG : EL_SMALL);
}

/* Share of B per layer, constrained against unconstrained, in r. */
static void
draw_allocation(struct app *app, struct whatif_state *s,
    const struct rect *r, int k)
{
	const struct whatif_tables *t = &s->tables;
	int l, bar_w = r->w - 18, L = app->run->L;
	const double *free_share = t->oracle_share + (size_t)k * L;

	draw_pane_title(app, r, r->w >= 46 ? "Share of big per layer (dim: "
	    "free oracle)" : "Share of big (dim: free)", 0);
	if (isnan(s->mean))
		return;
	for (l = 0; l < L && l + 1 < r->h; l++) {
		int y = r->y + 1 + l;

		draw_textf(app, y, r->x, 4, l == s->layer ? EL_MARK : EL_AXIS,
		    "%3d", l);
		draw_wchar(app, y, r->x + 4, app->glyphs.vline, EL_AXIS);
		if (bar_w > 2)
			draw_bar(app, y, r->x + 5, bar_w, s->share[l], EL_BIG);
		draw_textf(app, y, r->x + 6 + (bar_w > 2 ? bar_w : 0), 12,
		    EL_NORMAL, "%3.0f%%", 100 * s->share[l]);
		draw_textf(app, y, r->x + 11 + (bar_w > 2 ? bar_w : 0), 6,
		    EL_DIM, "%3.0f%%", 100 * free_share[l]);
	}
}

/* The most frequent routes of the constrained oracle, in r. */
static void
draw_routes(struct app *app, struct whatif_state *s, const struct rect *r)
{
	const struct whatif_tables *t = &s->tables;
	uint8_t choices[DUO_MAX_LAYERS];
	char route[DUO_MAX_LAYERS + 1];
	int i, L = app->run->L, rw = L < r->w - 16 ? L : r->w - 16;
	/* the counts' column: past the routes, and past the header's
	 * "route" when the routes are shorter */
	int x = r->x + 2 + (rw > 5 ? rw : 5);

	draw_pane_title(app, r, r->w >= 26 ? "Most frequent routes" :
	    "Routes", 0);
	if (r->h < 3)
		return;
	draw_text(app, r->y + 1, r->x + 1, r->w - 2, "route", EL_HEADER);
	draw_textf(app, r->y + 1, x, 15, EL_HEADER, "%6s %7s", "tokens", "share");
	for (i = 0; i < s->n_top && i + 2 < r->h; i++) {
		int y = r->y + 2 + i;

		route_decode(&t->space, s->top[i], L, choices);
		route_format(choices, L, route);
		draw_route(app, y, r->x + 1, route, rw);
		draw_textf(app, y, x, 15, EL_NORMAL, "%6u %6.1f%%", s->top_count[i],
		    100.0 * s->top_count[i] / (double)app->run->T);
	}
}

static void
whatif_draw(struct app *app, struct view *view)
{
	struct whatif_state *s = state_of(view);
	const struct rect *r = &s->area;
	struct tui_run *run = app->run;
	int k, y = r->y, bottom = r->y + r->h, n_must = 0, l, half;
	double oracle, label_free, top;
	char title[256], name[64];

	if (run == NULL)
		return;
	k = app_budget(app, run->L);
	snprintf(title, sizeof title, "What-if: the oracle at k=%d held to "
	    "constraints, from the loss tables", k);
	draw_pane_title(app, r, title, 1);
	if (ready(app, s, k) != 0) {
		draw_text(app, y + 2, r->x + 2, r->w - 4, s->tables.why,
		    EL_DIM);
		return;
	}
	y = draw_strip(app, s, y + 1);
	for (l = 0; l < run->L; l++)
		n_must += s->must[l] != 0;
	if (strchr(s->tables.space.name, '.') != NULL) {
		if (s->max_skips >= run->L)
			draw_text(app, y, r->x + 1, r->w - 2, "skips   any "
			    "number (< and > set a limit)", EL_NORMAL);
		else
			draw_textf(app, y, r->x + 1, r->w - 2, EL_NORMAL,
			    "skips   at most %d (< and > change it)",
			    s->max_skips);
	} else
		draw_textf(app, y, r->x + 1, r->w - 2, EL_DIM, "%d of %d "
		    "layers held; space %s has no skip", n_must, run->L,
		    s->tables.space.name);
	y += 2;

	oracle = oracle_at(&s->tables, run->T, run->L, k);
	label_free = s->tables.free_mean[k];
	top = larger_ppl(exp(s->tables.mean_big), s->mean);
	top = larger_ppl(top, s->free_mean);
	top = larger_ppl(top, oracle);
	top = larger_ppl(top, label_free);
	top = larger_ppl(top, s->tables.mean_small);
	/* Each oracle beside its label-free control (doc/design.md
	 * section 5), held to the same constraints. */
	snprintf(name, sizeof name, "constrained oracle@%d", k);
	if (y < bottom)
		draw_ppl(app, y++, r, name, s->mean, top, EL_PANE_FOCUS);
	snprintf(name, sizeof name, "  label-free@%d", k);
	if (y < bottom && s->tables.kl != NULL)
		draw_ppl(app, y++, r, name, s->free_mean, top, EL_NORMAL);
	snprintf(name, sizeof name, "oracle@%d", k);
	if (y < bottom)
		draw_ppl(app, y++, r, name, oracle, top, EL_NORMAL);
	snprintf(name, sizeof name, "oracle_free@%d", k);
	if (y < bottom && s->tables.kl != NULL)
		draw_ppl(app, y++, r, name, label_free, top, EL_NORMAL);
	if (y < bottom)
		draw_ppl(app, y++, r, "big", s->tables.mean_big, top,
		    EL_NORMAL);
	if (y < bottom && !isnan(s->tables.mean_small))
		draw_ppl(app, y++, r, "small", s->tables.mean_small, top,
		    EL_NORMAL);
	if (y < bottom) {
		if (s->n_allowed == 0)
			draw_textf(app, y, r->x + 1, r->w - 2, EL_ERROR,
			    "no route with exactly %d big modules meets the "
			    "constraints", k);
		else
			draw_textf(app, y, r->x + 1, r->w - 2, EL_DIM,
			    "%zu of the %zu routes with %d big modules meet "
			    "the constraints", s->n_allowed, s->n_at_k, k);
	}
	if (s->tables.kl == NULL && ++y < bottom)
		draw_text(app, y, r->x + 1, r->w - 2, "(this run keeps no KL "
		    "tables: no label-free oracle to hold)", EL_DIM);
	/* half precision keeps 11 significant bits: a loss is off by at
	 * most 2^-11 of itself */
	if (s->tables.encoding == STORE_TABLES_F16 && ++y < bottom)
		draw_text(app, y, r->x + 1, r->w - 2, "(F16 tables: each loss "
		    "rounded, within 0.05%; near ties may swap)", EL_DIM);
	if (context_find(run->data.info.context) == ORACLE_GREEDY &&
	    ++y < bottom)
		draw_text(app, y, r->x + 1, r->w - 2, "(the tables of a greedy "
		    "run are its shared-context tables)", EL_DIM);
	y += 2;
	if (bottom - y < 2)
		return;
	half = r->w / 2;
	{
		struct rect left = { y - 1, r->x, bottom - y + 1, half - 1 };
		struct rect right = { y - 1, r->x + half, bottom - y + 1,
		    r->w - half };

		draw_allocation(app, s, &left, k);
		draw_routes(app, s, &right);
	}
}

/* The choices a layer may be held to in this space, free first. */
static int
choices_of(const struct whatif_state *s, char *out)
{
	const char *name = s->tables.space.name;
	int n = 0;

	out[n++] = 0;
	if (strchr(name, 'B') != NULL)
		out[n++] = 'B';
	if (strchr(name, 'S') != NULL)
		out[n++] = 'S';
	if (strchr(name, '.') != NULL)
		out[n++] = '.';
	return n;
}

/* Hold the layer under the cursor to must (0: free), if the space can. */
static void
hold(struct app *app, struct whatif_state *s, char must)
{
	char choices[4];
	int n = choices_of(s, choices), i;

	for (i = 0; i < n; i++)
		if (choices[i] == must)
			break;
	if (i == n) {
		app_error(app, "space %s has no %s", s->tables.space.name,
		    must == 'S' ? "small module" : "skip");
		return;
	}
	s->must[s->layer] = must;
	s->dirty = 1;
}

static int
whatif_request(struct app *app, struct view *view, enum action_id action)
{
	struct whatif_state *s = state_of(view);
	const struct tui_run *run = app->run;
	char choices[4];
	int n, i, L;

	if (run == NULL || ready(app, s, app_budget(app, run->L)) != 0)
		return 0;
	L = run->L;
	switch (action) {
	case ACT_LEFT:
		if (s->layer > 0)
			s->layer--;
		return 1;
	case ACT_RIGHT:
		if (s->layer < L - 1)
			s->layer++;
		return 1;
	case ACT_FIRST:
		s->layer = 0;
		return 1;
	case ACT_LAST:
		s->layer = L - 1;
		return 1;
	case ACT_CONSTRAINT_NEXT:
		n = choices_of(s, choices);
		for (i = 0; i < n && choices[i] != s->must[s->layer]; i++)
			;
		s->must[s->layer] = choices[(i + 1) % n];
		s->dirty = 1;
		return 1;
	case ACT_MUST_BIG:
		hold(app, s, 'B');
		return 1;
	case ACT_MUST_SMALL:
		hold(app, s, 'S');
		return 1;
	case ACT_MUST_SKIP:
		hold(app, s, '.');
		return 1;
	case ACT_MUST_ANY:
		hold(app, s, 0);
		return 1;
	case ACT_CONSTRAINTS_CLEAR:
		memset(s->must, 0, sizeof s->must);
		s->max_skips = ANY_SKIPS;
		s->dirty = 1;
		app_message(app, "every layer free");
		return 1;
	case ACT_SKIPS_MORE:
	case ACT_SKIPS_FEWER:
		if (strchr(s->tables.space.name, '.') == NULL) {
			app_error(app, "space %s has no skip",
			    s->tables.space.name);
			return 1;
		}
		if (s->max_skips > L)
			s->max_skips = L;
		s->max_skips += action == ACT_SKIPS_MORE ? 1 : -1;
		if (s->max_skips < 0)
			s->max_skips = 0;
		if (s->max_skips >= L)
			s->max_skips = ANY_SKIPS;
		s->dirty = 1;
		return 1;
	default:
		return 0;
	}
}

static void
whatif_click(struct app *app, struct view *view, int y, int x, int twice)
{
	struct whatif_state *s = state_of(view);
	const struct rect *r = &s->area;
	int L, x0 = r->x + 8, cw, l;

	if (app->run == NULL || y < r->y + 1 || y > r->y + 2)
		return;
	L = app->run->L;
	cw = x0 + 3 * L <= r->x + r->w ? 3 : x0 + 2 * L <= r->x + r->w ? 2 :
	    1;
	l = (x - x0) / cw;
	if (x >= x0 && l < L)
		s->layer = l;
}

static void
whatif_run_changed(struct app *app, struct view *view)
{
	struct whatif_state *s = state_of(view);

	free_tables(&s->tables);
	memset(s->must, 0, sizeof s->must);
	s->max_skips = ANY_SKIPS;
	s->layer = 0;
	s->dirty = 1;
}

const struct view_ops whatif_view_ops = {
	.name = "what-if",
	.title = "What-if",
	.id = VIEW_WHATIF,
	.init = whatif_init,
	.done = whatif_done,
	.layout = whatif_layout,
	.draw = whatif_draw,
	.request = whatif_request,
	.click = whatif_click,
	.run_changed = whatif_run_changed,
};
