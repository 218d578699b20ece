/*
 * run.c - an opened run as the views want it: the store's rows put into
 * dense tables indexed by method, budget and position, the measures the
 * text view colours by, and the run's text cut into screen glyphs.
 *
 * Legend: L layers, T scored tokens (positions 1..T), k a budget 0..L.
 */
#include "run.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "names.h"
#include "store.h"

const char *const measure_names[N_MEASURES] = {
	"difficulty", "loss", "regret", "need",
};

/* Methods in the order every view lists them (names.h's), routers by
 * name among themselves. */
static int
method_rank(const char *name)
{
	int id = method_find(name);

	return id >= 0 ? id : N_METHODS;
}

static int
compare_methods(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int rx = method_rank(x), ry = method_rank(y);

	if (rx != ry)
		return rx - ry;
	return strcmp(x, y);
}

static size_t
rows_of(const struct tui_run *run, const struct run_method *m)
{
	return m->budgeted ? (size_t)run->L + 1 : 1;
}

/* Cut the pieces into glyphs: stand-ins for what cannot be shown. */
static int
make_glyphs(struct tui_run *run, const struct glyph_set *g)
{
	size_t p, i, capacity = 0, n;
	struct glyph *grown, *gl;
	const char *s;
	wchar_t wc;
	int bad, w;

	run->first_glyph = calloc(run->T + 2, sizeof *run->first_glyph);
	if (run->first_glyph == NULL)
		return -1;
	for (p = 1; p <= run->T; p++) {
		s = run->data.tokens[p].piece;
		n = run->data.tokens[p].piece_length;
		run->first_glyph[p] = run->n_glyphs;
		i = 0;
		do {
			if (run->n_glyphs + 2 > capacity) {
				capacity = capacity * 2 + 256;
				grown = realloc(run->glyphs,
				    capacity * sizeof *grown);
				if (grown == NULL)
					return -1;
				run->glyphs = grown;
			}
			gl = &run->glyphs[run->n_glyphs];
			memset(gl, 0, sizeof *gl);
			gl->width = 1;
			if (n == 0) {
				/* An empty piece still needs a cell. */
				gl->wc[0] = g->replacement;
				gl->stand_in = 1;
				run->n_glyphs++;
				break;
			}
			bad = utf8_next(s, n, &i, &wc);
			if (bad) {
				gl->wc[0] = g->replacement;
				gl->stand_in = 1;
			} else if (wc == '\n') {
				gl->wc[0] = g->newline;
				gl->stand_in = 1;
				gl->line_break = 1;
			} else if (wc == '\t') {
				gl->wc[0] = g->tab;
				gl->stand_in = 1;
			} else if (wc < 32 || wc == 127) {
				/* Control pictures, U+2400 on. */
				gl->wc[0] = !g->unicode ? '^' : wc == 127 ?
				    0x2421 : 0x2400 + wc;
				gl->stand_in = 1;
			} else if ((w = wcwidth(wc)) < 0) {
				gl->wc[0] = g->replacement;
				gl->stand_in = 1;
			} else if (w == 0) {
				struct glyph *prev = run->n_glyphs >
				    run->first_glyph[p] ? gl - 1 : NULL;
				size_t k = 0;

				if (prev != NULL && !prev->stand_in) {
					while (k < CCHARW_MAX - 1 &&
					    prev->wc[k] != 0)
						k++;
					if (k < CCHARW_MAX - 1)
						prev->wc[k] = wc;
					continue;
				}
				/* A mark with nothing to sit on: a dotted
				 * circle carries it. */
				gl->wc[0] = g->unicode ? 0x25cc : '?';
				gl->wc[1] = g->unicode ? wc : 0;
			} else {
				gl->wc[0] = wc;
				gl->width = (unsigned char)w;
			}
			run->n_glyphs++;
		} while (i < n);
	}
	run->first_glyph[run->T + 1] = run->n_glyphs;
	return 0;
}

int
run_open(struct tui_run *run, struct store *store, int64_t id,
    const struct glyph_set *glyphs, struct duo_error *err)
{
	const char **names = NULL;
	size_t i, m, p, *to_ours = NULL, cells;
	int L;

	memset(run, 0, sizeof *run);
	run->big = run->small = run->best = run->oracle = -1;
	run->scale_key[0] = -1;
	if (store_load_run(store, id, &run->data, err) != 0)
		return -1;
	L = run->L = run->data.info.n_layer;
	run->T = run->data.n_tokens;
	if (L < 1 || L > 64) {
		run_close(run);
		return error_set(err, "run %lld: %d layers", (long long)id, L);
	}

	/* Methods in the views' order; to_ours maps the store's. */
	run->n_methods = run->data.n_methods;
	names = malloc((run->n_methods + 1) * sizeof *names);
	to_ours = malloc((run->n_methods + 1) * sizeof *to_ours);
	run->methods = calloc(run->n_methods + 1, sizeof *run->methods);
	if (names == NULL || to_ours == NULL || run->methods == NULL)
		goto no_memory;
	for (i = 0; i < run->n_methods; i++)
		names[i] = run->data.methods[i];
	qsort(names, run->n_methods, sizeof *names, compare_methods);
	for (m = 0; m < run->n_methods; m++) {
		struct run_method *rm = &run->methods[m];
		int kind = method_find(names[m]);

		rm->name = names[m];
		rm->budgeted = kind >= 0 ? method_table[kind].per_budget : 1;
		rm->has_routes = kind >= 0 ? method_table[kind].has_route : 1;
		for (i = 0; i < run->n_methods; i++)
			if (run->data.methods[i] == names[m])
				to_ours[i] = m;
		cells = rows_of(run, rm) * run->T;
		rm->loss = malloc((cells + 1) * sizeof *rm->loss);
		rm->route = calloc(cells + 1, sizeof *rm->route);
		rm->mean = malloc(rows_of(run, rm) * sizeof *rm->mean);
		if (rm->loss == NULL || rm->route == NULL || rm->mean == NULL)
			goto no_memory;
		for (i = 0; i < cells; i++)
			rm->loss[i] = NAN;
		if (kind == METHOD_BIG)
			run->big = (int)m;
		else if (kind == METHOD_SMALL)
			run->small = (int)m;
		else if (kind == METHOD_BEST)
			run->best = (int)m;
		else if (kind == METHOD_ORACLE)
			run->oracle = (int)m;
	}

	/* Every result into its cell. */
	for (i = 0; i < run->data.n_results; i++) {
		const struct result_record *r = &run->data.results[i];
		struct run_method *rm;
		size_t k, ours = run->n_methods;

		for (m = 0; m < run->data.n_methods; m++)
			if (run->data.methods[m] == r->method) {
				ours = to_ours[m];
				break;
			}
		if (ours == run->n_methods || r->pos < 1 ||
		    (size_t)r->pos > run->T)
			continue;
		rm = &run->methods[ours];
		k = rm->budgeted ? (size_t)r->budget : 0;
		if (k > (size_t)L)
			continue;
		rm->loss[k * run->T + (size_t)r->pos - 1] = (float)r->loss;
		rm->route[k * run->T + (size_t)r->pos - 1] = r->route;
	}

	/* Means over the tokens that have a result. */
	for (m = 0; m < run->n_methods; m++) {
		struct run_method *rm = &run->methods[m];
		size_t k;

		for (k = 0; k < rows_of(run, rm); k++) {
			double sum = 0;
			size_t n = 0;

			for (p = 0; p < run->T; p++)
				if (!isnan(rm->loss[k * run->T + p])) {
					sum += rm->loss[k * run->T + p];
					n++;
				}
			rm->mean[k] = n > 0 ? sum / (double)n : NAN;
		}
	}

	run->difficulty = malloc((run->T + 1) * sizeof *run->difficulty);
	run->need = malloc(run->T + 1);
	if (run->difficulty == NULL || run->need == NULL)
		goto no_memory;
	for (p = 1; p <= run->T; p++) {
		double big = run_loss(run, run->big, 0, p);
		int k;

		run->difficulty[p - 1] = (float)(run_loss(run, run->small, 0,
		    p) - run_loss(run, run->best, 0, p));
		/* Float rounding of equal routes: a micro-nat of slack. */
		run->need[p - 1] = -1;
		for (k = 0; k <= L && !isnan(big); k++)
			if (run_loss(run, run->oracle, k, p) <= big + 1e-6) {
				run->need[p - 1] = (signed char)k;
				break;
			}
	}
	if (make_glyphs(run, glyphs) != 0)
		goto no_memory;
	free(names);
	free(to_ours);
	return 0;
no_memory:
	free(names);
	free(to_ours);
	run_close(run);
	return error_set(err, "out of memory opening run %lld",
	    (long long)id);
}

void
run_close(struct tui_run *run)
{
	size_t m;

	if (run->methods != NULL)
		for (m = 0; m < run->n_methods; m++) {
			free(run->methods[m].loss);
			free(run->methods[m].route);
			free(run->methods[m].mean);
		}
	free(run->methods);
	free(run->difficulty);
	free(run->need);
	free(run->glyphs);
	free(run->first_glyph);
	store_free_run(&run->data);
	memset(run, 0, sizeof *run);
}

int
run_method_find(const struct tui_run *run, const char *name)
{
	size_t m;

	for (m = 0; m < run->n_methods; m++)
		if (strcmp(run->methods[m].name, name) == 0)
			return (int)m;
	return -1;
}

/* Index of (k, pos) in a method's per-budget arrays, or -1 if outside. */
static ptrdiff_t
run_slot(const struct tui_run *run, int method, int k, size_t pos)
{
	if (method < 0 || (size_t)method >= run->n_methods || pos < 1 ||
	    pos > run->T)
		return -1;
	if (!run->methods[method].budgeted)
		k = 0;
	if (k < 0 || k > run->L)
		return -1;
	return (ptrdiff_t)((size_t)k * run->T + pos - 1);
}

double
run_loss(const struct tui_run *run, int method, int k, size_t pos)
{
	ptrdiff_t i = run_slot(run, method, k, pos);

	return i < 0 ? NAN : run->methods[method].loss[i];
}

const char *
run_route(const struct tui_run *run, int method, int k, size_t pos)
{
	ptrdiff_t i = run_slot(run, method, k, pos);

	return i < 0 ? NULL : run->methods[method].route[i];
}

int
run_starts_word(const struct tui_run *run, size_t p)
{
	const struct token_record *t, *prev;
	char c;

	if (p <= 1)
		return 1;
	t = &run->data.tokens[p];
	prev = &run->data.tokens[p - 1];
	if (t->piece_length > 0) {
		c = t->piece[0];
		if (c == ' ' || c == '\n' || c == '\t')
			return 1;
	}
	if (prev->piece_length > 0) {
		c = prev->piece[prev->piece_length - 1];
		if (c == ' ' || c == '\n' || c == '\t')
			return 1;
	}
	return 0;
}

double
run_mean(const struct tui_run *run, int method, int k)
{
	const struct run_method *rm;

	if (method < 0 || (size_t)method >= run->n_methods)
		return NAN;
	rm = &run->methods[method];
	if (!rm->budgeted)
		k = 0;
	if (k < 0 || k > run->L)
		return NAN;
	return rm->mean[k];
}

int
run_allocation(const struct tui_run *run, int method, int k, double *share)
{
	size_t p, n = 0;
	int l;

	memset(share, 0, (size_t)run->L * 3 * sizeof *share);
	for (p = 1; p <= run->T; p++) {
		const char *route = run_route(run, method, k, p);

		if (route == NULL)
			continue;
		n++;
		for (l = 0; l < run->L; l++)
			share[l * 3 + (route[l] == 'B' ? 0 : route[l] == 'S' ?
			    1 : 2)] += 1;
	}
	if (n == 0)
		return -1;
	for (l = 0; l < run->L * 3; l++)
		share[l] /= (double)n;
	return 0;
}

double
run_measure(const struct tui_run *run, enum measure measure, int method,
    int k, size_t pos)
{
	if (pos < 1 || pos > run->T)
		return NAN;
	switch (measure) {
	case MEASURE_DIFFICULTY:
		return run->difficulty[pos - 1];
	case MEASURE_LOSS:
		return run_loss(run, method, k, pos);
	case MEASURE_REGRET:
		return run_loss(run, method, k, pos) -
		    run_loss(run, run->oracle, k, pos);
	case MEASURE_NEED:
		return run->need[pos - 1] < 0 ? NAN : run->need[pos - 1];
	default:
		return NAN;
	}
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void
run_scale(struct tui_run *run, enum measure measure, int method, int k,
    double *lo, double *hi)
{
	double *values;
	size_t p, n = 0, above = 0;

	if (run->scale_key[0] == (int)measure && run->scale_key[1] == method &&
	    run->scale_key[2] == k) {
		*lo = run->scale_lo;
		*hi = run->scale_hi;
		return;
	}
	*lo = 0;
	*hi = 1;
	if (measure == MEASURE_NEED) {
		*hi = run->L + 1;
		goto done;
	}
	values = malloc((run->T + 1) * sizeof *values);
	if (values == NULL)
		goto done;
	for (p = 1; p <= run->T; p++) {
		double v = run_measure(run, measure, method, k, p);

		if (isfinite(v))
			values[n++] = v;
	}
	if (n > 0) {
		qsort(values, n, sizeof *values, compare_doubles);
		/* Up to the 95th percentile, so that one outlier does not
		 * flatten every other token into the lowest colour. */
		*lo = measure == MEASURE_LOSS ? values[0] :
		    values[0] < 0 ? values[0] : 0;
		*hi = values[(n - 1) * 95 / 100];
		if (*hi <= *lo)
			*hi = values[n - 1];
		if (*hi <= *lo)
			*hi = *lo + 1;
		while (above < n && values[n - 1 - above] > *hi)
			above++;
	}
	free(values);
done:
	run->scale_key[0] = (int)measure;
	run->scale_key[1] = method;
	run->scale_key[2] = k;
	run->scale_lo = *lo;
	run->scale_hi = *hi;
	run->scale_above = above;
}

int
run_level(double value, double lo, double hi)
{
	int level;

	if (!isfinite(value) || !(hi > lo))
		return 0;
	level = (int)floor((value - lo) / (hi - lo) * N_HEAT);
	return level < 0 ? 0 : level >= N_HEAT ? N_HEAT - 1 : level;
}

void
run_loss_range(struct tui_run *run, double *lo, double *hi)
{
	size_t m, p;
	int k;

	if (!run->loss_range_known) {
		run->loss_lo = INFINITY;
		run->loss_hi = -INFINITY;
		for (m = 0; m < run->n_methods; m++) {
			if ((int)m != run->big && (int)m != run->small &&
			    (int)m != run->oracle &&
			    method_find(run->methods[m].name) != METHOD_ROUTER)
				continue;
			for (k = 0; k <= run->L; k++)
				for (p = 1; p <= run->T; p++) {
					double v = run_loss(run, (int)m, k, p);

					if (v < run->loss_lo)
						run->loss_lo = v;
					if (v > run->loss_hi)
						run->loss_hi = v;
				}
		}
		run->loss_range_known = 1;
	}
	*lo = run->loss_lo;
	*hi = run->loss_hi;
}
