/*
 * search.c - the strategies of search.h: the loss tables, the beam, the
 * greedy passes and the routers' passes, each a sequence of units handed
 * to walk_evaluate().
 *
 * The beam evaluates, layer after layer, the full routes that complete
 * the children of its kept prefixes, with the same walk (the candidates
 * share their prefixes, so the walk shares their work); see beam_unit().
 */
#include "search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "array.h"
#include "derive.h"
#include "text.h"

/* Positions scored together in the fixed context: enough rows for good
 * products at the top of the tree, few enough that the scores of early
 * rows against keys they may not see waste little. */
#define FIXED_BLOCK 32

/* A child and its score at one row, for sorting a row's children. */
struct ranked {
	float score;
	int index;
};

/* One beam search's candidates (full routes with their losses at every
 * row of the unit) and prefixes. */
struct beam_state {
	int R, width;
	/* candidate routes evaluated: codes, losses and, in a label-free
	 * beam, KL divergences from all-B (capacity, R) */
	uint64_t *codes;
	float *losses, *kls;
	size_t n, capacity;
	size_t *slots;          /* hash: index + 1, 0 empty */
	size_t n_slots;
	/* prefixes: kept and their children, with budgets */
	uint64_t *kept, *children;
	int *kept_budget, *child_budget;
	size_t n_kept, n_children, max_prefixes;
	uint64_t *fresh;        /* (4 max_prefixes): up to two codes per
				   child to evaluate, then the children's
				   two completions */
	float *fresh_losses;    /* (R, 2 max_prefixes) */
	float *fresh_kl;        /* (R, 2 max_prefixes) */
	float *scores;          /* (max_prefixes, R) */
	int *order;             /* (R, max_prefixes) */
	int *votes;             /* (max_prefixes) */
	char *chosen;           /* (max_prefixes) */
	size_t *group;          /* (max_prefixes) */
	struct ranked *ranked;  /* (max_prefixes) */
};

void
search_load_window(struct search *s, size_t w)
{
	struct text_tokens view;

	/* text_window only reads the tokens */
	view.ids = (int32_t *)(uintptr_t)s->tokens;
	view.offsets = NULL;
	view.n = s->n_tokens;
	text_window(&view, s->N, s->bos, w, s->window.ids, &s->window.T,
	    &s->window.first);
}

/* Fill the cache with the window's positions 0 .. T-2 under the context
 * route. */
int
search_cache_context(struct search *s)
{
	kv_cache_reset(&s->cache);
	return model_forward(s->model, &s->cache, s->engine.ws, s->window.ids,
	    s->window.T - 1, s->context_routes, NULL, s->err);
}

/*
 * The routes the routers take at the rows of a unit just walked with
 * every code (so a code is its own column of ev->out), row r being token
 * first + r: from the root, each router's choice at the node of the
 * route so far, read from the logits the walk recorded there.
 */
static void
routers_decide(struct search *s, const struct walk_evaluation *ev,
    size_t first)
{
	const struct walk_engine *e = &s->engine;
	const struct duo_router *router;
	struct oracle_method *method;
	enum router_mode mode = s->settings->router_mode;
	size_t R = (size_t)ev->rows, m = (size_t)e->m, r;
	uint64_t prefix;
	int j, b, l, d, used;

	if (ev->router_logits == NULL)
		return;
	for (j = 0; j < e->n_routers; j++) {
		router = &e->routers[j];
		for (b = 0; b < s->n_router_budgets; b++) {
			method = s->router_methods[j * s->n_router_budgets + b];
			for (r = 0; r < R; r++) {
				prefix = 0;
				used = 0;
				for (l = 0; l < s->L; l++) {
					d = router_choose(router, mode,
					    method->budget, l, used,
					    ev->router_logits[j] +
					    ((e->node_base[l] + prefix) * R +
					    r) * m);
					used += d == 0;
					prefix = prefix * m + (uint64_t)d;
				}
				derive_set_route(&s->space, s->L, method,
				    first + r, prefix,
				    ev->out[r * ev->ld + prefix]);
			}
		}
	}
}

/* Follow every router's own choices through each window, one pass per
 * router and budget. */
int
search_routers_pass(struct search *s)
{
	const struct walk_engine *e = &s->engine;
	const struct duo_router *router;
	struct oracle_method *method;
	struct window *win = &s->window;
	uint8_t *routes = NULL;
	float *losses = NULL;
	size_t w, L = (size_t)s->L;
	int j, b, t, status = -1;

	routes = array_new((size_t)s->N * L, 1);
	losses = array_new((size_t)s->N, sizeof *losses);
	if (routes == NULL || losses == NULL) {
		error_set(s->err, "out of memory");
		goto done;
	}
	for (w = 0; w < s->n_windows; w++) {
		if (walk_cancelled(e)) {
			error_cancelled(s->err);
			goto done;
		}
		search_load_window(s, w);
		for (j = 0; j < e->n_routers; j++) {
			router = &e->routers[j];
			for (b = 0; b < s->n_router_budgets; b++) {
				method = s->router_methods[j *
				    s->n_router_budgets + b];
				if (router_window_pass(s->model, router,
				    s->settings->router_mode, method->budget,
				    win->ids, win->T, routes, losses,
				    s->err) != 0)
					goto done;
				for (t = 0; t < win->T - 1; t++) {
					memcpy(method->routes + (win->first +
					    (size_t)t) * L, routes + (size_t)t *
					    L, L);
					method->losses[win->first + (size_t)t] =
					    losses[t];
				}
			}
		}
	}
	status = 0;
done:
	free(routes);
	free(losses);
	return status;
}

/*
 * The all-B route's logits at every row of the window by the walk itself
 * (code 0 is all-B in every space), then each row's log-softmax in
 * double: the probabilities and their sum p ln p; and the probabilities'
 * expected output embedding, which is what the head's KL reads
 * (model_head_scores()).
 */
void
search_reference(struct search *s, bool fixed)
{
	struct walk_evaluation ev;
	struct window *win = &s->window;
	uint64_t all_big = 0;
	size_t V = (size_t)s->model->config.n_vocab, v;
	double sum, log_sum, plogp, log_p;
	float *z, max;
	int r;

	memset(&ev, 0, sizeof ev);
	ev.engine = &s->engine;
	ev.rows = win->T - 1;
	ev.inputs = win->ids;
	ev.targets = win->ids + 1;
	if (fixed) {
		ev.positions = win->positions;
		ev.cache = &s->cache;
	}
	ev.codes = &all_big;
	ev.n_codes = 1;
	ev.out = s->reference_losses;
	ev.ld = 1;
	ev.logits_out = s->reference_p;
	walk_evaluate(&ev, 0, false);
	for (r = 0; r < ev.rows; r++) {
		z = s->reference_p + (size_t)r * V;
		max = z[0];
		for (v = 1; v < V; v++)
			max = z[v] > max ? z[v] : max;
		sum = 0.0;
		for (v = 0; v < V; v++)
			sum += exp((double)z[v] - (double)max);
		log_sum = log(sum) + (double)max;
		plogp = 0.0;
		for (v = 0; v < V; v++) {
			log_p = (double)z[v] - log_sum;
			z[v] = (float)exp(log_p);
			/* the probability as stored, which the KL reads */
			plogp += (double)z[v] * log_p;
		}
		s->reference_plogp[r] = plogp;
	}
	model_head_expectation(s->model, s->reference_p, ev.rows,
	    s->reference);
}

/* Walk every window (shared) or block of positions (fixed) with the
 * codes. */
int
search_table_pass(struct search *s, const uint64_t *codes, size_t n,
    bool fixed, float *out, float *kl)
{
	struct walk_evaluation ev;
	struct window *win = &s->window;
	size_t w, C = (size_t)s->model->config.d_model;
	int q0, R;

	memset(&ev, 0, sizeof ev);
	ev.engine = &s->engine;
	ev.codes = codes;
	ev.n_codes = n;
	ev.ld = n;
	ev.router_logits = s->router_logits;
	for (w = 0; w < s->n_windows; w++) {
		search_load_window(s, w);
		R = win->T - 1;
		if (!fixed) {
			if (kl != NULL) {
				search_reference(s, false);
				ev.kl_out = kl + win->first * n;
				ev.reference = s->reference;
				ev.reference_plogp = s->reference_plogp;
			}
			ev.rows = R;
			ev.inputs = win->ids;
			ev.targets = win->ids + 1;
			ev.positions = NULL;
			ev.out = out + win->first * n;
			walk_evaluate(&ev, 0, true);
			if (walk_cancelled(&s->engine))
				return error_cancelled(s->err);
			routers_decide(s, &ev, win->first);
			continue;
		}
		if (search_cache_context(s) != 0)
			return -1;
		if (kl != NULL)
			search_reference(s, true);
		for (q0 = 0; q0 < R; q0 += FIXED_BLOCK) {
			ev.rows = R - q0 < FIXED_BLOCK ? R - q0 : FIXED_BLOCK;
			ev.inputs = win->ids + q0;
			ev.targets = win->ids + q0 + 1;
			ev.positions = win->positions + q0;
			ev.cache = &s->cache;
			ev.out = out + (win->first + (size_t)q0) * n;
			if (kl != NULL) {
				ev.kl_out = kl + (win->first + (size_t)q0) * n;
				ev.reference = s->reference + (size_t)q0 * C;
				ev.reference_plogp = s->reference_plogp + q0;
			}
			walk_evaluate(&ev, 0, true);
			if (walk_cancelled(&s->engine))
				return error_cancelled(s->err);
			routers_decide(s, &ev, win->first + (size_t)q0);
		}
	}
	return 0;
}

/* --- beam search -------------------------------------------------------- */

static void
beam_free(struct beam_state *b)
{
	free(b->codes);
	free(b->losses);
	free(b->kls);
	free(b->fresh_kl);
	free(b->slots);
	free(b->kept);
	free(b->children);
	free(b->kept_budget);
	free(b->child_budget);
	free(b->fresh);
	free(b->fresh_losses);
	free(b->scores);
	free(b->order);
	free(b->votes);
	free(b->chosen);
	free(b->group);
	free(b->ranked);
	memset(b, 0, sizeof *b);
}

/* Buffers for a beam of width over units of up to R rows: at most
 * width * (l + 1) prefixes are kept at depth l (a group per number of
 * B's), each with m children, each child two candidates at most. */
static int
beam_init(struct beam_state *b, int L, int m, int width, int R)
{
	size_t max_prefixes = 1, total = 0, cap, level = 1;
	int l;

	memset(b, 0, sizeof *b);
	b->R = R;
	b->width = width;
	for (l = 0; l < L; l++) {
		level = level > SIZE_MAX / (size_t)m ? SIZE_MAX :
		    level * (size_t)m;
		cap = (size_t)width * (size_t)(l + 1) * (size_t)m;
		cap = cap < level ? cap : level;
		max_prefixes = cap > max_prefixes ? cap : max_prefixes;
		total += cap;
	}
	b->max_prefixes = max_prefixes;
	b->capacity = 2 * total + 1;
	for (b->n_slots = 16; b->n_slots < 2 * b->capacity; b->n_slots *= 2)
		;
	b->codes = array_new(b->capacity, sizeof *b->codes);
	b->losses = array_new(b->capacity * (size_t)R, sizeof *b->losses);
	b->kls = array_new(b->capacity * (size_t)R, sizeof *b->kls);
	b->slots = calloc(b->n_slots, sizeof *b->slots);
	b->kept = array_new(max_prefixes, sizeof *b->kept);
	b->children = array_new(max_prefixes, sizeof *b->children);
	b->kept_budget = array_new(max_prefixes, sizeof *b->kept_budget);
	b->child_budget = array_new(max_prefixes, sizeof *b->child_budget);
	b->fresh = array_new(4 * max_prefixes, sizeof *b->fresh);
	b->fresh_losses = array_new(2 * max_prefixes * (size_t)R,
	    sizeof *b->fresh_losses);
	b->fresh_kl = array_new(2 * max_prefixes * (size_t)R,
	    sizeof *b->fresh_kl);
	b->scores = array_new(max_prefixes * (size_t)R, sizeof *b->scores);
	b->order = array_new(max_prefixes * (size_t)R, sizeof *b->order);
	b->votes = array_new(max_prefixes, sizeof *b->votes);
	b->chosen = array_new(max_prefixes, sizeof *b->chosen);
	b->group = array_new(max_prefixes, sizeof *b->group);
	b->ranked = array_new(max_prefixes, sizeof *b->ranked);
	if (b->ranked == NULL || b->kls == NULL || b->fresh_kl == NULL ||
	    b->codes == NULL || b->losses == NULL || b->slots == NULL ||
	    b->kept == NULL || b->children == NULL || b->kept_budget == NULL ||
	    b->child_budget == NULL || b->fresh == NULL ||
	    b->fresh_losses == NULL || b->scores == NULL || b->order == NULL ||
	    b->votes == NULL || b->chosen == NULL || b->group == NULL) {
		beam_free(b);
		return -1;
	}
	return 0;
}

static size_t
beam_slot(const struct beam_state *b, uint64_t code)
{
	uint64_t h = code * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 17) & (b->n_slots - 1);
}

/* Index of a candidate, or SIZE_MAX. */
static size_t
beam_find(const struct beam_state *b, uint64_t code)
{
	size_t i = beam_slot(b, code);

	while (b->slots[i] != 0) {
		if (b->codes[b->slots[i] - 1] == code)
			return b->slots[i] - 1;
		i = (i + 1) & (b->n_slots - 1);
	}
	return SIZE_MAX;
}

/* Add a candidate with its losses and, if kls is not NULL, its KL
 * divergences, each a column of stride. */
static void
beam_add(struct beam_state *b, uint64_t code, const float *losses,
    const float *kls, size_t stride)
{
	size_t i = beam_slot(b, code);
	int r;

	while (b->slots[i] != 0)
		i = (i + 1) & (b->n_slots - 1);
	b->slots[i] = b->n + 1;
	b->codes[b->n] = code;
	for (r = 0; r < b->R; r++) {
		b->losses[b->n * (size_t)b->R + (size_t)r] =
		    losses[(size_t)r * stride];
		if (kls != NULL)
			b->kls[b->n * (size_t)b->R + (size_t)r] =
			    kls[(size_t)r * stride];
	}
	b->n++;
}

static int
compare_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Choose at most width of the g children in group (indices into
 * b->children) by their scores at the rows: in rounds, each row votes for
 * its next best child not yet chosen, and the most voted go in first
 * (then the lowest mean score).  With one row this is the width best.
 */
static void
beam_select(struct beam_state *b, const size_t *group, size_t g,
    uint64_t *kept, int *kept_budget, size_t *n_kept)
{
	struct ranked *ranked = b->ranked;
	int R = b->R, r, rank, width = b->width;
	size_t i, j, taken = 0, best;
	double mean_best, mean;

	if (g <= (size_t)width) {
		for (i = 0; i < g; i++) {
			kept[*n_kept] = b->children[group[i]];
			kept_budget[(*n_kept)++] = b->child_budget[group[i]];
		}
		return;
	}
	/* order[r * g + rank] = index into group, per row */
	for (r = 0; r < R; r++) {
		for (i = 0; i < g; i++) {
			ranked[i].score = b->scores[group[i] * (size_t)R +
			    (size_t)r];
			ranked[i].index = (int)i;
		}
		qsort(ranked, g, sizeof *ranked, compare_ranked);
		for (i = 0; i < g; i++)
			b->order[(size_t)r * g + i] = ranked[i].index;
	}
	memset(b->chosen, 0, g);
	for (rank = 0; (size_t)rank < g && taken < (size_t)width; rank++) {
		memset(b->votes, 0, g * sizeof *b->votes);
		for (r = 0; r < R; r++) {
			i = (size_t)b->order[(size_t)r * g + (size_t)rank];
			if (!b->chosen[i])
				b->votes[i]++;
		}
		while (taken < (size_t)width) {
			best = SIZE_MAX;
			mean_best = 0.0;
			for (i = 0; i < g; i++) {
				if (b->chosen[i] || b->votes[i] == 0)
					continue;
				mean = 0.0;
				for (r = 0; r < R; r++)
					mean += b->scores[group[i] *
					    (size_t)R + (size_t)r];
				if (best == SIZE_MAX ||
				    b->votes[i] > b->votes[best] ||
				    (b->votes[i] == b->votes[best] &&
				    mean < mean_best)) {
					best = i;
					mean_best = mean;
				}
			}
			if (best == SIZE_MAX)
				break;
			b->chosen[best] = 1;
			taken++;
		}
	}
	for (j = 0; j < g; j++)
		if (b->chosen[j]) {
			kept[*n_kept] = b->children[group[j]];
			kept_budget[(*n_kept)++] = b->child_budget[group[j]];
		}
}

/*
 * Beam search over layers for one unit (a window in the shared context, a
 * position otherwise), on worker w, for budgets kmin .. kmax.  The kept
 * prefixes of depth l are grouped by their number of B's, j; every child
 * that can still end with a budget in kmin .. kmax is scored, at each row,
 * by the lower loss of two full routes: the child then B at every later
 * layer, and the child then the small choice (S, or skip in B.) at every
 * later layer; each group keeps the width best children (in a window by
 * the votes of its rows).  Those routes are real candidates with exact
 * losses, kept in b; at depth L the children are full routes themselves.
 * One completion alone did worse: all-B misleads the small budgets, and
 * budget-exact completions with the B's at either end of the suffix did
 * worse on the middle ones (tests/test_oracle.c measures the result).
 * A label-free beam (label_free, ev's reference set) scores by the KL
 * divergence from the all-B route instead of the loss, so that nothing
 * it keeps depends on the token being predicted.
 */
static void
beam_unit(struct search *s, struct walk_evaluation *ev, int w, bool may_split,
    struct beam_state *b, int kmin, int kmax, bool label_free)
{
	int L = s->L, m = s->m, l, d, j, budget, R = ev->rows, r, rest;
	size_t i, n_fresh, big, small, g, *group = b->group;
	uint64_t code, *all_big = b->fresh + 2 * b->max_prefixes;
	uint64_t *all_small = b->fresh + 3 * b->max_prefixes;
	float *score, *criterion = label_free ? b->kls : b->losses;

	b->R = R;
	b->n = 0;
	memset(b->slots, 0, b->n_slots * sizeof *b->slots);
	b->kept[0] = 0;
	b->kept_budget[0] = 0;
	b->n_kept = 1;
	for (l = 0; l < L; l++) {
		b->n_children = 0;
		rest = L - l - 1;
		for (i = 0; i < b->n_kept; i++)
			for (d = 0; d < m; d++) {
				budget = b->kept_budget[i] +
				    (s->space.choices[d] == CHOICE_BIG);
				if (budget > kmax || budget + rest < kmin)
					continue;
				b->children[b->n_children] = b->kept[i] *
				    (uint64_t)m + (uint64_t)d;
				b->child_budget[b->n_children++] = budget;
			}
		/* the two completions of every child, if new; B is digit
		 * 0 and the small choice digit 1 in every space */
		n_fresh = 0;
		for (i = 0; i < b->n_children; i++) {
			all_big[i] = b->children[i] * s->engine.place[l + 1];
			code = b->children[i];
			for (r = 0; r < rest; r++)
				code = code * (uint64_t)m + 1;
			all_small[i] = code;
			if (beam_find(b, all_big[i]) == SIZE_MAX)
				b->fresh[n_fresh++] = all_big[i];
			if (beam_find(b, all_small[i]) == SIZE_MAX)
				b->fresh[n_fresh++] = all_small[i];
		}
		n_fresh = route_codes_sort_unique(b->fresh, n_fresh);
		ev->codes = b->fresh;
		ev->n_codes = n_fresh;
		ev->out = b->fresh_losses;
		ev->kl_out = label_free ? b->fresh_kl : NULL;
		ev->ld = n_fresh;
		walk_evaluate(ev, w, may_split);
		for (i = 0; i < n_fresh; i++)
			beam_add(b, b->fresh[i], b->fresh_losses + i,
			    label_free ? b->fresh_kl + i : NULL, n_fresh);
		if (l + 1 == L)
			break;
		for (i = 0; i < b->n_children; i++) {
			big = beam_find(b, all_big[i]) * (size_t)R;
			small = beam_find(b, all_small[i]) * (size_t)R;
			score = b->scores + i * (size_t)R;
			for (r = 0; r < R; r++)
				score[r] = fminf(criterion[big + (size_t)r],
				    criterion[small + (size_t)r]);
		}
		b->n_kept = 0;
		for (j = 0; j <= l + 1; j++) {
			g = 0;
			for (i = 0; i < b->n_children; i++)
				if (b->child_budget[i] == j)
					group[g++] = i;
			if (g > 0)
				beam_select(b, group, g, b->kept,
				    b->kept_budget, &b->n_kept);
		}
	}
}

/* The lowest loss (with label_free, KL divergence) at row r among b's
 * candidates with budget k (any when k < 0); ties to the lowest code.
 * Returns the code, its loss in *loss. */
static uint64_t
beam_best(const struct search *s, const struct beam_state *b, int r, int k,
    bool label_free, float *loss)
{
	const float *criterion = label_free ? b->kls : b->losses;
	uint64_t best = UINT64_MAX;
	float value, best_value = INFINITY;
	size_t i, at, best_at = 0;

	for (i = 0; i < b->n; i++) {
		if (k >= 0 && route_code_budget(&s->space, s->L,
		    b->codes[i]) != k)
			continue;
		at = i * (size_t)b->R + (size_t)r;
		value = criterion[at];
		if (best == UINT64_MAX || value < best_value ||
		    (value == best_value && b->codes[i] < best)) {
			best = b->codes[i];
			best_value = value;
			best_at = at;
		}
	}
	*loss = best == UINT64_MAX ? INFINITY : b->losses[best_at];
	return best;
}

/* --- greedy passes and the beam over the text --------------------------- */

/*
 * One greedy pass: position q's route is the method's own choice for
 * token q + 1 (oracle at budget k, or best when k < 0; oracle_free at
 * budget k with label_free), found with the earlier positions routed by
 * the choices already made in this pass, and then appended to the
 * cache.  The label-free reference is the all-B route's distribution in
 * the shared context, the run's big method, the same at every budget.
 */
int
search_greedy_pass(struct search *s, int k, bool label_free,
    struct oracle_method *method)
{
	struct window *win = &s->window;
	struct walk_evaluation ev;
	struct beam_state *b = &s->beams[0];
	const uint64_t *codes = s->all_codes;
	const float *criterion = label_free ? s->row_kl : s->row_losses;
	uint64_t *subset = NULL, code = 0;
	size_t n_codes = (size_t)s->n_routes, w, i, token, chosen;
	size_t C = (size_t)s->model->config.d_model;
	uint8_t *route;
	float loss;
	int q;

	if (s->exhaustive && k >= 0) {
		subset = array_new((size_t)s->n_routes, sizeof *subset);
		if (subset == NULL)
			return error_set(s->err, "out of memory");
		for (i = n_codes = 0; i < s->n_routes; i++)
			if (s->route_budget[i] == k)
				subset[n_codes++] = i;
		codes = subset;
	}
	memset(&ev, 0, sizeof ev);
	ev.engine = &s->engine;
	ev.rows = 1;
	ev.cache = &s->cache;
	for (w = 0; w < s->n_windows; w++) {
		search_load_window(s, w);
		if (label_free)
			search_reference(s, false);
		kv_cache_reset(&s->cache);
		for (q = 0; q < win->T - 1; q++) {
			ev.inputs = win->ids + q;
			ev.targets = win->ids + q + 1;
			ev.positions = win->positions + q;
			if (label_free) {
				ev.reference = s->reference + (size_t)q * C;
				ev.reference_plogp = s->reference_plogp + q;
			}
			token = win->first + (size_t)q;
			if (s->exhaustive) {
				ev.codes = codes;
				ev.n_codes = n_codes;
				ev.out = s->row_losses;
				ev.kl_out = label_free ? s->row_kl : NULL;
				ev.ld = n_codes;
				walk_evaluate(&ev, 0, true);
				/* codes ascend: ties to the lowest */
				chosen = 0;
				for (i = 1; i < n_codes; i++)
					if (criterion[i] < criterion[chosen])
						chosen = i;
				code = codes[chosen];
				loss = s->row_losses[chosen];
			} else {
				beam_unit(s, &ev, 0, true, b, k < 0 ? 0 : k,
				    k < 0 ? s->L : k, label_free);
				code = beam_best(s, b, 0, k, label_free, &loss);
			}
			if (walk_cancelled(&s->engine)) {
				free(subset);
				return error_cancelled(s->err);
			}
			derive_set_route(&s->space, s->L, method, token, code,
			    loss);
			walk_tick(&s->engine, GREEDY_POSITION_WORK * s->L);
			route = method->routes + token * (size_t)s->L;
			if (model_forward(s->model, &s->cache, s->engine.ws,
			    win->ids + q, 1, route, NULL, s->err) != 0) {
				free(subset);
				return -1;
			}
		}
	}
	free(subset);
	return 0;
}

/*
 * The greedy contexts walked together: every method's own history (oracle
 * and oracle_free at each budget, and best) is a group of the walk, with
 * its own cache and its own codes, so that at each position one tree over
 * (context, route prefix) holds them all.  A context alone has one row a
 * node, and its products near the root are a row of matrix-vector
 * products; together, every depth's nodes of every context share each
 * weight matrix's product.  Each context's choice is then appended to its
 * own cache.
 */
struct greedy_walk {
	int n_groups;
	struct oracle_method **methods;         /* [n_groups] */
	bool *label_free;                       /* [n_groups] */
	struct kv_cache *caches;                /* [n_groups] */
	const struct kv_cache **cache_of;       /* [n_groups] */
	size_t *group_start;                    /* [n_groups + 1] */
	uint64_t *codes;                        /* [group_start[n_groups]] */
	float *losses, *kl;                     /* [group_start[n_groups]] */
	struct forward_workspace **ws;          /* [engine.n_workers] */
};

static void
greedy_walk_free(struct greedy_walk *g, int n_workers)
{
	int i;

	for (i = 0; g->caches != NULL && i < g->n_groups; i++)
		kv_cache_free(&g->caches[i]);
	free(g->methods);
	free(g->label_free);
	free(g->caches);
	free(g->cache_of);
	free(g->group_start);
	free(g->codes);
	free(g->losses);
	free(g->kl);
	for (i = 0; g->ws != NULL && i < n_workers; i++)
		forward_workspace_free(g->ws[i]);
	free(g->ws);
	memset(g, 0, sizeof *g);
}

/* Add a group: the method's codes (budget k, every route when k < 0). */
static void
greedy_walk_add(struct search *s, struct greedy_walk *g,
    struct oracle_method *method, int k, bool label_free)
{
	size_t n = g->group_start[g->n_groups];
	uint64_t c;

	for (c = 0; c < s->n_routes; c++)
		if (k < 0 || s->route_budget[c] == k)
			g->codes[n++] = c;
	g->methods[g->n_groups] = method;
	g->label_free[g->n_groups] = label_free;
	g->cache_of[g->n_groups] = &g->caches[g->n_groups];
	g->group_start[++g->n_groups] = n;
}

static int
greedy_walk_init(struct search *s, struct greedy_walk *g,
    struct oracle_method **oracle, struct oracle_method **oracle_free,
    struct oracle_method *best)
{
	size_t most = 2 * (size_t)s->n_budgets + 1, n_codes;
	int b;

	memset(g, 0, sizeof *g);
	n_codes = 3 * (size_t)s->n_routes;
	g->methods = calloc(most, sizeof *g->methods);
	g->label_free = calloc(most, sizeof *g->label_free);
	g->caches = calloc(most, sizeof *g->caches);
	g->cache_of = calloc(most, sizeof *g->cache_of);
	g->group_start = calloc(most + 1, sizeof *g->group_start);
	g->codes = array_new(n_codes, sizeof *g->codes);
	g->losses = array_new(n_codes, sizeof *g->losses);
	g->kl = array_new(n_codes, sizeof *g->kl);
	g->ws = calloc((size_t)s->engine.n_workers, sizeof *g->ws);
	if (g->methods == NULL || g->label_free == NULL || g->caches == NULL ||
	    g->cache_of == NULL || g->group_start == NULL || g->codes == NULL ||
	    g->losses == NULL || g->kl == NULL || g->ws == NULL)
		return error_set(s->err, "out of memory");
	for (b = 0; b < s->engine.n_workers; b++)
		if ((g->ws[b] = forward_workspace_new(&s->model->config,
		    1)) == NULL)
			return error_set(s->err, "out of memory");
	for (b = 0; b < (int)most; b++)
		if (kv_cache_init(&g->caches[b], &s->model->config,
		    s->err) != 0)
			return -1;
	for (b = 0; b < s->n_budgets; b++) {
		greedy_walk_add(s, g, oracle[b], s->budgets[b], false);
		greedy_walk_add(s, g, oracle_free[b], s->budgets[b], true);
	}
	greedy_walk_add(s, g, best, -1, false);
	return 0;
}

/* Each group's choice at the position just walked (ties to the lowest
 * code: codes ascend in a group), set, then appended to its cache, the
 * groups on the threads. */
static int
greedy_walk_choose(struct search *s, struct greedy_walk *g, int q)
{
	struct window *win = &s->window;
	size_t token = win->first + (size_t)q, i, chosen;
	const float *criterion;
	int h, failed = 0;

	for (h = 0; h < g->n_groups; h++) {
		criterion = g->label_free[h] ? g->kl : g->losses;
		chosen = g->group_start[h];
		for (i = chosen + 1; i < g->group_start[h + 1]; i++)
			if (criterion[i] < criterion[chosen])
				chosen = i;
		derive_set_route(&s->space, s->L, g->methods[h], token,
		    g->codes[chosen], g->losses[chosen]);
		walk_tick(&s->engine, GREEDY_POSITION_WORK * s->L);
	}
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->engine.n_workers)
#endif
	for (h = 0; h < g->n_groups; h++) {
		struct duo_error err;

		if (model_forward(s->model, &g->caches[h],
		    g->ws[walk_thread()], win->ids + q, 1, g->methods[h]->routes +
		    token * (size_t)s->L, NULL, &err) != 0) {
#ifdef _OPENMP
#pragma omp critical
#endif
			{
				if (!failed)
					*s->err = err;
				failed = 1;
			}
		}
	}
	return failed ? -1 : 0;
}

int
search_greedy_together(struct search *s, struct oracle_method **oracle,
    struct oracle_method **oracle_free, struct oracle_method *best)
{
	struct window *win = &s->window;
	struct walk_evaluation ev;
	struct greedy_walk g;
	size_t w, C = (size_t)s->model->config.d_model;
	int q, h, status = -1;

	if (greedy_walk_init(s, &g, oracle, oracle_free, best) != 0)
		goto done;
	memset(&ev, 0, sizeof ev);
	ev.engine = &s->engine;
	ev.rows = 1;
	ev.codes = g.codes;
	ev.n_codes = g.group_start[g.n_groups];
	ev.ld = ev.n_codes;
	ev.out = g.losses;
	ev.kl_out = g.kl;
	ev.n_groups = g.n_groups;
	ev.group_start = g.group_start;
	ev.caches = g.cache_of;
	for (w = 0; w < s->n_windows; w++) {
		search_load_window(s, w);
		/* the shared all-B reference, the same for every budget */
		search_reference(s, false);
		for (h = 0; h < g.n_groups; h++)
			kv_cache_reset(&g.caches[h]);
		for (q = 0; q < win->T - 1; q++) {
			ev.inputs = win->ids + q;
			ev.targets = win->ids + q + 1;
			ev.positions = win->positions + q;
			ev.reference = s->reference + (size_t)q * C;
			ev.reference_plogp = s->reference_plogp + q;
			walk_evaluate(&ev, 0, true);
			if (walk_cancelled(&s->engine)) {
				error_cancelled(s->err);
				goto done;
			}
			if (greedy_walk_choose(s, &g, q) != 0)
				goto done;
		}
	}
	status = 0;
done:
	greedy_walk_free(&g, s->engine.n_workers);
	return status;
}

/*
 * oracle@k and best by beam search in the shared or fixed context: a beam
 * per window (shared), or per position (fixed, positions on the threads).
 */
/* One beam over a whole window in the shared context: oracle@k and best,
 * or with label_free oracle_free@k (into oracle). */
static void
beam_window_shared(struct search *s, bool label_free,
    struct oracle_method **oracle, struct oracle_method *best)
{
	struct window *win = &s->window;
	struct walk_evaluation ev;
	struct beam_state *b = &s->beams[0];
	uint64_t code;
	float loss;
	int r, i;

	memset(&ev, 0, sizeof ev);
	ev.engine = &s->engine;
	ev.rows = win->T - 1;
	ev.inputs = win->ids;
	ev.targets = win->ids + 1;
	if (label_free) {
		search_reference(s, false);
		ev.reference = s->reference;
		ev.reference_plogp = s->reference_plogp;
	}
	beam_unit(s, &ev, 0, true, b, 0, s->L, label_free);
	for (r = 0; r < ev.rows; r++) {
		for (i = 0; i < s->n_budgets; i++) {
			code = beam_best(s, b, r, s->budgets[i], label_free,
			    &loss);
			derive_set_route(&s->space, s->L, oracle[i],
			    win->first + (size_t)r, code, loss);
		}
		if (best == NULL)
			continue;
		code = beam_best(s, b, r, -1, false, &loss);
		derive_set_route(&s->space, s->L, best, win->first + (size_t)r,
		    code, loss);
	}
}

/* A beam per position of the window against the fixed context's cache,
 * positions on the threads: as beam_window_shared(). */
static void
beam_window_fixed(struct search *s, bool label_free,
    struct oracle_method **oracle, struct oracle_method *best)
{
	struct window *win = &s->window;
	size_t C = (size_t)s->model->config.d_model;

	if (label_free)
		search_reference(s, true);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->engine.n_workers)
#endif
	for (int q = 0; q < win->T - 1; q++) {
		int t = walk_thread(), j;
		struct beam_state *b = &s->beams[t];
		struct walk_evaluation ev;
		size_t token = win->first + (size_t)q;
		uint64_t code;
		float loss;

		memset(&ev, 0, sizeof ev);
		ev.engine = &s->engine;
		ev.rows = 1;
		ev.inputs = win->ids + q;
		ev.targets = win->ids + q + 1;
		ev.positions = win->positions + q;
		ev.cache = &s->cache;
		if (label_free) {
			ev.reference = s->reference + (size_t)q * C;
			ev.reference_plogp = s->reference_plogp + q;
		}
		beam_unit(s, &ev, t, false, b, 0, s->L, label_free);
		for (j = 0; j < s->n_budgets; j++) {
			code = beam_best(s, b, 0, s->budgets[j], label_free,
			    &loss);
			derive_set_route(&s->space, s->L, oracle[j], token,
			    code, loss);
		}
		if (best == NULL)
			continue;
		code = beam_best(s, b, 0, -1, false, &loss);
		derive_set_route(&s->space, s->L, best, token, code, loss);
	}
}

int
search_beam_pass(struct search *s, bool fixed, struct oracle_method **oracle,
    struct oracle_method *best, struct oracle_method **oracle_free)
{
	size_t w;

	for (w = 0; w < s->n_windows; w++) {
		if (walk_cancelled(&s->engine))
			return error_cancelled(s->err);
		search_load_window(s, w);
		if (!fixed) {
			beam_window_shared(s, false, oracle, best);
			if (oracle_free != NULL)
				beam_window_shared(s, true, oracle_free, NULL);
			continue;
		}
		if (search_cache_context(s) != 0)
			return -1;
		beam_window_fixed(s, false, oracle, best);
		if (oracle_free != NULL)
			beam_window_fixed(s, true, oracle_free, NULL);
	}
	if (walk_cancelled(&s->engine))
		return error_cancelled(s->err);
	return 0;
}

/* The routes a beam run evaluates exactly for every token: all-B, all-S,
 * the random routes, and for fixed@k the width most frequent oracle@k
 * routes.  Returns the count (codes ascending) or -1. */
int
search_beam_columns(struct search *s, struct oracle_result *result,
    struct oracle_method **oracle, uint64_t **out, size_t *n_out)
{
	uint64_t *codes, *routes_k;
	size_t cap, n = 0, p, i, j, run, best_run;
	int b, taken;

	cap = 2 + (size_t)s->n_budgets * ((size_t)result->n_random +
	    (size_t)s->width);
	codes = array_new(cap, sizeof *codes);
	routes_k = array_new(s->n_tokens, sizeof *routes_k);
	if (codes == NULL || routes_k == NULL) {
		free(codes);
		free(routes_k);
		return error_set(s->err, "out of memory");
	}
	codes[n++] = route_uniform_code(&s->space, s->L, CHOICE_BIG);
	if (route_uniform_code(&s->space, s->L, CHOICE_SMALL) != UINT64_MAX)
		codes[n++] = route_uniform_code(&s->space, s->L, CHOICE_SMALL);
	for (b = 0; b < s->n_budgets; b++) {
		for (i = 0; i < (size_t)result->n_random_per_budget[b]; i++)
			codes[n++] = result->random_codes[(size_t)b *
			    (size_t)result->n_random + i];
		for (p = 0; p < s->n_tokens; p++)
			routes_k[p] = route_encode(&s->space,
			    oracle[b]->routes + p * (size_t)s->L, s->L);
		route_codes_sort(routes_k, s->n_tokens);
		/* the width longest runs of equal routes, longest first */
		for (taken = 0; taken < s->width; taken++) {
			best_run = 0;
			j = SIZE_MAX;
			for (p = 0; p < s->n_tokens; p += run) {
				for (run = 1; p + run < s->n_tokens &&
				    routes_k[p + run] == routes_k[p]; run++)
					;
				if (routes_k[p] != UINT64_MAX &&
				    run > best_run) {
					best_run = run;
					j = p;
				}
			}
			if (j == SIZE_MAX)
				break;
			codes[n++] = routes_k[j];
			for (i = j; i < j + best_run; i++)
				routes_k[i] = UINT64_MAX;
		}
	}
	free(routes_k);
	*n_out = route_codes_sort_unique(codes, n);
	*out = codes;
	return 0;
}


void
search_free(struct search *s)
{
	int i;

	if (s->beams != NULL)
		for (i = 0; i < s->engine.n_workers; i++)
			beam_free(&s->beams[i]);
	free(s->beams);
	walk_engine_free(&s->engine);
	kv_cache_free(&s->cache);
	free(s->window.ids);
	free(s->window.positions);
	free(s->context_routes);
	free(s->budgets);
	free(s->route_budget);
	free(s->all_codes);
	free(s->row_losses);
	free(s->row_kl);
	free(s->reference);
	free(s->reference_p);
	free(s->reference_plogp);
	free(s->reference_losses);
	for (i = 0; i < s->n_router_logits; i++)
		free(s->router_logits[i]);
	free(s->router_logits);
	free(s->router_methods);
}

int
search_init(struct search *s, const struct duo_model *model,
    const struct oracle_settings *settings, struct duo_error *err)
{
	const struct duo_config *c = &model->config;
	int n_threads = settings->n_threads, t, l;
	size_t i;

	if (n_threads <= 0) {
#ifdef _OPENMP
		n_threads = omp_get_max_threads();
#else
		n_threads = 1;
#endif
	}
	if (walk_engine_init(&s->engine, model, &s->space, n_threads,
	    settings->chunk_rows, settings->split_flops, err) != 0)
		return -1;
	s->window.ids = array_new((size_t)s->N, sizeof *s->window.ids);
	s->window.positions = array_new((size_t)s->N,
	    sizeof *s->window.positions);
	s->context_routes = array_new((size_t)s->N * (size_t)s->L, 1);
	if (s->window.ids == NULL || s->window.positions == NULL ||
	    s->context_routes == NULL ||
	    kv_cache_init(&s->cache, c, NULL) != 0)
		return error_set(err, "out of memory");
	if (s->label_free) {
		s->reference_p = array_new((size_t)s->N * (size_t)c->n_vocab,
		    sizeof *s->reference_p);
		s->reference = array_new((size_t)s->N * (size_t)c->d_model,
		    sizeof *s->reference);
		s->reference_plogp = array_new((size_t)s->N,
		    sizeof *s->reference_plogp);
		s->reference_losses = array_new((size_t)s->N,
		    sizeof *s->reference_losses);
		if (s->reference_p == NULL || s->reference == NULL ||
		    s->reference_plogp == NULL ||
		    s->reference_losses == NULL)
			return error_set(err, "out of memory for the label-free "
			    "reference");
	}
	for (t = 0; t < s->N; t++) {
		s->window.positions[t] = t;
		for (l = 0; l < s->L; l++)
			s->context_routes[(size_t)t * s->L + l] =
			    settings->context_route != NULL ?
			    settings->context_route[l] : CHOICE_BIG;
	}
	if (s->exhaustive) {
		s->route_budget = array_new((size_t)s->n_routes, 1);
		s->all_codes = array_new((size_t)s->n_routes,
		    sizeof *s->all_codes);
		s->row_losses = array_new((size_t)s->n_routes,
		    sizeof *s->row_losses);
		s->row_kl = array_new((size_t)s->n_routes, sizeof *s->row_kl);
		if (s->route_budget == NULL || s->all_codes == NULL ||
		    s->row_losses == NULL || s->row_kl == NULL)
			return error_set(err, "out of memory");
		for (i = 0; i < s->n_routes; i++) {
			s->all_codes[i] = i;
			s->route_budget[i] = (uint8_t)route_code_budget(
			    &s->space, s->L, i);
		}
	} else {
		s->beams = calloc((size_t)s->engine.n_workers,
		    sizeof *s->beams);
		if (s->beams == NULL)
			return error_set(err, "out of memory");
		for (t = 0; t < s->engine.n_workers; t++)
			if (beam_init(&s->beams[t], s->L, s->m, s->width,
			    s->N) != 0)
				return error_set(err, "out of memory for the "
				    "beam");
	}
	return 0;
}

