/*
 * oracle.c - the analysis engine of oracle.h: route losses by a walk over
 * the tree of route prefixes, the beam search that stands in for it on
 * spaces too large to enumerate, the greedy passes, and the methods of
 * DESIGN.md section 5 derived from the losses.
 *
 * Shapes use model.h's letters, and: R rows per prefix (the positions a
 * prefix is evaluated at), m choices per layer, M routes evaluated.
 *
 * The walk.  A set of route codes (sorted, distinct) is a trie: the node
 * of depth l is a prefix of l choices and covers a range of the codes.
 * Every node's hidden state is R rows; a batch of nodes of the same depth
 * is one matrix, (nodes * R, C), so that each weight matrix of a layer is
 * one product over the batch.  At depth l the batch runs layer l's
 * attention (which only depends on the prefix), then for each choice the
 * FFN module over the rows of the nodes that have that child, giving the
 * batch of depth l + 1, which is cut into chunks of at most max_rows rows
 * and walked depth first, so memory is bounded by (L + 1) * m * max_rows
 * rows per thread.  At depth L the chunk's rows go through the final norm,
 * the head and the log-softmax in blocks, and each leaf's losses land in
 * the output at its code's column.
 *
 * Threads.  The first batch with enough children and work below is cut
 * into small chunks handed to the threads, each walking its subtrees with
 * its own buffers and BLAS on one thread; above that depth the work is
 * small.
 *
 * Units.  In the shared context a prefix's rows are a whole window, its
 * positions attending to each other; in the fixed and greedy contexts they
 * are the positions being scored, each attending to a cache of the
 * earlier positions (the context route's, or the routes a greedy pass
 * chose) and to itself.
 *
 * The beam evaluates, layer after layer, the full routes that complete
 * the children of its kept prefixes, with the same walk (the candidates
 * share their prefixes, so the walk shares their work); see beam_unit().
 */
#include "oracle.h"
#include "rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "linalg.h"
#include "text.h"

/* Floats of node states in one chunk: max_rows is this over C (and at
 * least a window), so a chunk's state is 1 MB whatever the width. */
#define CHUNK_FLOATS (1 << 18)
/* Rows per FFN product: their (rows, 2F) gate and up stay in cache. */
#define FFN_ROWS 256
/* Subtrees are handed to the threads only when the work below is at least
 * this many FLOPs (about a millisecond): waking the team costs tens of
 * microseconds, more on a busy machine, and a tiny model's greedy pass
 * ran twice as slow on two threads as on one. */
#define SPLIT_MIN_FLOPS 2e7
/* What a greedy position costs besides its leaves, in route-token losses
 * per layer, for the progress fraction: on a small model the walk of one
 * row through the layers costs about twenty leaves' worth per layer. */
#define GREEDY_POSITION_WORK 20
/* Positions scored together in the fixed context: enough rows for good
 * products at the top of the tree, few enough that the scores of early
 * rows against keys they may not see waste little. */
#define FIXED_BLOCK 32

/* --- small helpers ------------------------------------------------------ */

static void *
array_new(size_t n, size_t size)
{
	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / size)
		return NULL;
	return malloc(n * size);
}

static double
wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
current_thread(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* First index in codes[lo .. hi - 1] (ascending) whose code is >= value. */
static size_t
lower_bound(const uint64_t *codes, size_t lo, size_t hi, uint64_t value)
{
	size_t mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (codes[mid] < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
compare_codes(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sort codes and drop repeats; returns the new count. */
static size_t
sort_unique(uint64_t *codes, size_t n)
{
	size_t i, j = 0;

	qsort(codes, n, sizeof *codes, compare_codes);
	for (i = 0; i < n; i++)
		if (j == 0 || codes[i] != codes[j - 1])
			codes[j++] = codes[i];
	return j;
}

int
oracle_code_budget(const struct route_space *space, int n_layer,
    uint64_t code)
{
	int l, k = 0;

	for (l = 0; l < n_layer; l++) {
		k += space->choices[code % (uint64_t)space->n_choices] ==
		    CHOICE_BIG;
		code /= (uint64_t)space->n_choices;
	}
	return k;
}

/* The digit of choice c in the space, or -1. */
static int
space_digit(const struct route_space *space, enum route_choice c)
{
	int d;

	for (d = 0; d < space->n_choices; d++)
		if (space->choices[d] == c)
			return d;
	return -1;
}

/* The code of the route with choice c at every layer, or UINT64_MAX when
 * the space has no such choice. */
static uint64_t
uniform_code(const struct route_space *space, int n_layer, enum route_choice c)
{
	uint64_t code = 0;
	int d = space_digit(space, c), l;

	if (d < 0)
		return UINT64_MAX;
	for (l = 0; l < n_layer; l++)
		code = code * (uint64_t)space->n_choices + (uint64_t)d;
	return code;
}

static const char *const context_names[] = { "shared", "fixed", "greedy" };

int
oracle_context_parse(const char *name, enum oracle_context *context,
    struct duo_error *err)
{
	size_t i;

	for (i = 0; i < sizeof context_names / sizeof context_names[0]; i++)
		if (strcmp(name, context_names[i]) == 0) {
			*context = (enum oracle_context)i;
			return 0;
		}
	return error_set(err, "context '%s' is not one of shared, fixed or "
	    "greedy", name);
}

const char *
oracle_context_name(enum oracle_context context)
{
	return context_names[context];
}

void
oracle_settings_default(struct oracle_settings *settings)
{
	memset(settings, 0, sizeof *settings);
	route_space_parse(&settings->space, "BS", NULL);
	settings->context = ORACLE_SHARED;
	settings->seed = ORACLE_DEFAULT_SEED;
}

/* --- random routes ------------------------------------------------------ */

/* Every code with exactly k B's below depth l, ascending, into codes. */
static void
enumerate_budget(const struct route_space *space, int n_layer, int l,
    int k, uint64_t code, uint64_t *codes, size_t *n, size_t max)
{
	int d, big;

	if (l == n_layer) {
		if (k == 0 && *n < max)
			codes[(*n)++] = code;
		return;
	}
	for (d = 0; d < space->n_choices; d++) {
		big = space->choices[d] == CHOICE_BIG;
		if (k - big < 0 || k - big > n_layer - l - 1)
			continue;
		enumerate_budget(space, n_layer, l + 1, k - big,
		    code * (uint64_t)space->n_choices + (uint64_t)d, codes, n,
		    max);
	}
}

/* Routes of the space with exactly k B's, as a double (it may be huge). */
static double
budget_count(const struct route_space *space, int n_layer, int k)
{
	double count = 1.0;
	int i;

	for (i = 1; i <= k; i++)
		count = count * (double)(n_layer - k + i) / (double)i;
	return count * pow((double)(space->n_choices - 1), n_layer - k);
}

int
oracle_random_routes(const struct route_space *space, int n_layer, int k,
    int n, uint64_t seed, uint64_t *codes, int *n_codes,
    struct duo_error *err)
{
	uint64_t state = seed, code;
	size_t found = 0, i;
	int layers[64], big[64], l, j, t, swap, other;

	*n_codes = 0;
	if (k < 0 || k > n_layer || n < 0)
		return error_set(err, "random routes: budget %d of %d layers",
		    k, n_layer);
	/* a stream per seed and budget: mixed, so that near seeds do not
	 * give shifted copies of one stream */
	state = rng_next(&state) ^ ((uint64_t)k * 0xd1b54a32d192ed03ULL);
	if (space_digit(space, CHOICE_BIG) != 0)
		return error_set(err, "random routes: space %s has no B first",
		    space->name);
	if (budget_count(space, n_layer, k) <= (double)n) {
		enumerate_budget(space, n_layer, 0, k, 0, codes, &found,
		    (size_t)n);
		*n_codes = (int)found;
		return 0;
	}
	if (n_layer > 64 || route_space_size(space, n_layer) == 0)
		return error_set(err, "random routes: %d layers are too many",
		    n_layer);
	while (found < (size_t)n) {
		/* a uniform k-subset of the layers by a partial shuffle, then
		 * a uniform non-B choice at each other layer: every route
		 * with k B's has the same chance */
		for (l = 0; l < n_layer; l++) {
			layers[l] = l;
			big[l] = 0;
		}
		for (j = 0; j < k; j++) {
			t = j + (int)rng_below(&state,
			    (uint64_t)(n_layer - j));
			swap = layers[j];
			layers[j] = layers[t];
			layers[t] = swap;
			big[layers[j]] = 1;
		}
		code = 0;
		for (l = 0; l < n_layer; l++) {
			other = big[l] ? 0 : 1 + (int)rng_below(&state,
			    (uint64_t)(space->n_choices - 1));
			code = code * (uint64_t)space->n_choices +
			    (uint64_t)other;
		}
		for (i = 0; i < found && codes[i] != code; i++)
			;
		if (i == found)
			codes[found++] = code;
	}
	qsort(codes, found, sizeof *codes, compare_codes);
	*n_codes = (int)found;
	return 0;
}

/* --- the walk over the tree of route prefixes --------------------------- */

struct trie_node {
	uint64_t prefix;        /* digits of layers 0 .. depth - 1 */
	size_t lo, hi;          /* the codes under it */
	size_t parent;          /* its parent's index in the parent batch */
};

/* One thread's buffers. */
struct worker {
	float **states;              /* [L + 1] (m * max_rows, C) by depth */
	struct trie_node **nodes;    /* [L + 1] (m * max_nodes) by depth */
	float *xn;                   /* (max_rows, C) FFN input */
	float *gathered;             /* (max_rows, C) rows of some parents */
	float *attention;            /* attention scratch */
	float *ffn;                  /* (FFN_ROWS, 2F) */
	float *head;                 /* head scratch */
	float *losses;               /* (max_rows) */
	int *positions;              /* (max_rows) the unit's, repeated */
	int32_t *targets;            /* (max_rows) the unit's, repeated */
	double flops;
	double route_tokens;
};

struct engine {
	const struct duo_model *model;
	struct forward_workspace *ws;   /* RoPE tables; single steps */
	struct route_space space;
	int L, C, m;
	uint64_t *place;                /* [L + 1] m^(L - l) */
	int max_rows;                   /* rows of one chunk */
	double split_flops;             /* least work handed to threads */
	int n_workers;
	struct worker *workers;
	double work_done, work_total;   /* route-token losses */
	oracle_progress_fn progress;
	void *progress_arg;
	const volatile int *cancel;     /* see oracle_settings */
	/* routers whose logits the walk records at every node */
	const struct duo_router *routers;
	int n_routers;
	uint64_t *node_base;            /* [L + 1] nodes above a depth */
};

/* One evaluation: every route of codes at every row of a unit, the rows
 * being positions of one window. */
struct evaluation {
	struct engine *engine;
	int rows;                       /* R */
	const int32_t *inputs;          /* [R] token at each row */
	const int32_t *targets;         /* [R] token each row predicts */
	const int *positions;           /* [R]; NULL: a window from 0 */
	const struct kv_cache *cache;   /* with positions */
	const uint64_t *codes;          /* ascending, distinct */
	size_t n_codes;
	float *out;                     /* out[row * ld + i] for codes[i] */
	size_t ld;
	double attention_flops;         /* per node */
	/* when not NULL, per router: logits (nodes, rows, m) of every
	 * router at every node of the full tree, node (depth, prefix) at
	 * node_base[depth] + prefix */
	float **router_logits;
	/* when not NULL: capture (R, L, C) gets, at row r, the FFN inputs
	 * along the route row_codes[r] */
	float *capture;
	const uint64_t *row_codes;
};

static void
worker_free(struct worker *w, int L)
{
	int l;

	if (w->states != NULL)
		for (l = 0; l <= L; l++)
			free(w->states[l]);
	if (w->nodes != NULL)
		for (l = 0; l <= L; l++)
			free(w->nodes[l]);
	free(w->states);
	free(w->nodes);
	free(w->xn);
	free(w->gathered);
	free(w->attention);
	free(w->ffn);
	free(w->head);
	free(w->losses);
	free(w->positions);
	free(w->targets);
	memset(w, 0, sizeof *w);
}

static int
worker_init(struct worker *w, const struct engine *e)
{
	const struct duo_config *c = &e->model->config;
	size_t rows = (size_t)e->max_rows, C = (size_t)e->C;
	size_t wide = (size_t)e->m * rows;
	int l, F = c->d_ff > c->d_ff_small ? c->d_ff : c->d_ff_small;

	memset(w, 0, sizeof *w);
	w->states = calloc((size_t)e->L + 1, sizeof *w->states);
	w->nodes = calloc((size_t)e->L + 1, sizeof *w->nodes);
	if (w->states == NULL || w->nodes == NULL)
		return -1;
	for (l = 0; l <= e->L; l++) {
		w->states[l] = array_new(wide * C, sizeof(float));
		w->nodes[l] = array_new(wide, sizeof(struct trie_node));
		if (w->states[l] == NULL || w->nodes[l] == NULL)
			return -1;
	}
	w->xn = array_new(rows * C, sizeof(float));
	w->gathered = array_new(rows * C, sizeof(float));
	w->attention = array_new(model_attention_scratch_size(c, e->max_rows,
	    c->n_ctx), sizeof(float));
	w->ffn = array_new((size_t)FFN_ROWS * 2 * (size_t)F, sizeof(float));
	w->head = array_new(model_head_scratch_size(c), sizeof(float));
	w->losses = array_new(rows, sizeof(float));
	w->positions = array_new(rows, sizeof(int));
	w->targets = array_new(rows, sizeof(int32_t));
	if (w->xn == NULL || w->gathered == NULL || w->attention == NULL ||
	    w->ffn == NULL || w->head == NULL || w->losses == NULL ||
	    w->positions == NULL || w->targets == NULL)
		return -1;
	return 0;
}

static void
engine_free(struct engine *e)
{
	int i;

	if (e->workers != NULL)
		for (i = 0; i < e->n_workers; i++)
			worker_free(&e->workers[i], e->L);
	free(e->workers);
	free(e->place);
	free(e->node_base);
	forward_workspace_free(e->ws);
	memset(e, 0, sizeof *e);
}

static int
engine_init(struct engine *e, const struct duo_model *model,
    const struct route_space *space, int n_workers, int chunk_rows,
    struct duo_error *err)
{
	const struct duo_config *c = &model->config;
	int l, i;

	memset(e, 0, sizeof *e);
	e->model = model;
	e->space = *space;
	e->L = c->n_layer;
	e->C = c->d_model;
	e->m = space->n_choices;
	e->n_workers = n_workers < 1 ? 1 : n_workers;
	e->max_rows = chunk_rows > 0 ? chunk_rows : CHUNK_FLOATS / c->d_model;
	if (e->max_rows < c->n_ctx)
		e->max_rows = c->n_ctx;
	if (route_space_size(space, e->L) == 0) {
		return error_set(err, "the space %s of %d layers has too many "
		    "routes to number", space->name, e->L);
	}
	e->place = array_new((size_t)e->L + 1, sizeof *e->place);
	e->node_base = array_new((size_t)e->L + 1, sizeof *e->node_base);
	e->ws = forward_workspace_new(c, c->n_ctx);
	e->workers = calloc((size_t)e->n_workers, sizeof *e->workers);
	if (e->place == NULL || e->node_base == NULL || e->ws == NULL ||
	    e->workers == NULL)
		goto nomem;
	e->place[e->L] = 1;
	for (l = e->L - 1; l >= 0; l--)
		e->place[l] = e->place[l + 1] * (uint64_t)e->m;
	/* node_base[l + 1] = node_base[l] + m^l; place[L - l] is m^l */
	e->node_base[0] = 0;
	for (l = 0; l < e->L; l++)
		e->node_base[l + 1] = e->node_base[l] + e->place[e->L - l];
	for (i = 0; i < e->n_workers; i++)
		if (worker_init(&e->workers[i], e) != 0)
			goto nomem;
	return 0;
nomem:
	engine_free(e);
	return error_set(err, "out of memory for the search's buffers");
}

/* Add to the work done; the calling thread reports progress. */
static void
engine_tick(struct engine *e, double amount)
{
	double done;

#ifdef _OPENMP
#pragma omp atomic update
#endif
	e->work_done += amount;
	if (e->progress == NULL || current_thread() != 0)
		return;
#ifdef _OPENMP
#pragma omp atomic read
#endif
	done = e->work_done;
	e->progress(e->progress_arg, e->work_total > 0 ? (done <
	    e->work_total ? done / e->work_total : 0.999) : 0.0, done);
}

/* Whether the caller asked the run to stop; the walk then leaves its
 * work undone and the run fails at the next check. */
static bool
engine_cancelled(const struct engine *e)
{
	return e->cancel != NULL && *e->cancel != 0;
}

/* Fill a worker's per-row positions and targets for an evaluation: as
 * many rows as a chunk may have, and no batch has more nodes than
 * codes. */
static void
worker_prepare(struct worker *w, const struct evaluation *ev)
{
	size_t R = (size_t)ev->rows, i, n;

	n = (size_t)ev->engine->max_rows - (size_t)ev->engine->max_rows % R;
	if (ev->n_codes * R < n)
		n = ev->n_codes * R;
	for (i = 0; i < n; i++) {
		w->targets[i] = ev->targets[i % R];
		if (ev->positions != NULL)
			w->positions[i] = ev->positions[i % R];
	}
}

/* Head and log-softmax of a chunk of leaves; each lands in its column. */
static void
walk_leaves(struct evaluation *ev, struct worker *w,
    const struct trie_node *nodes, size_t count, const float *x)
{
	struct engine *e = ev->engine;
	int R = ev->rows, r;
	size_t rows = count * (size_t)R, i;

	model_head_losses(e->model, x, (int)rows, w->targets, w->losses,
	    w->head);
	for (i = 0; i < count; i++)
		for (r = 0; r < R; r++)
			ev->out[(size_t)r * ev->ld + nodes[i].lo] =
			    w->losses[i * (size_t)R + (size_t)r];
	w->flops += (double)rows * model_flops_head(&e->model->config);
	w->route_tokens += (double)rows;
	engine_tick(e, (double)rows);
}

static void walk(struct evaluation *ev, int w, int depth,
    struct trie_node *nodes, size_t count, float *x, bool may_split);

/* A rough count of the FLOPs below n nodes of R rows at depth: at least
 * their own layers (projections and the big module) and the head. */
static double
subtree_flops(const struct engine *e, int depth, size_t n, size_t R)
{
	const struct duo_config *c = &e->model->config;
	double C = c->d_model;

	return (double)n * (double)R * ((double)(e->L - depth) * C *
	    (8.0 * C + 6.0 * c->d_ff) + 2.0 * C * c->n_vocab);
}

/*
 * Make the children of a batch of depth-l nodes whose layer-l attention is
 * done: per choice, copy the parents' rows and add the module's output
 * over all of them in products of FFN_ROWS rows.  Returns the count.
 */
static size_t
make_children(struct evaluation *ev, struct worker *w, int depth,
    const struct trie_node *nodes, size_t count, const float *x)
{
	struct engine *e = ev->engine;
	const struct duo_layer *layer = &e->model->layers[depth];
	struct trie_node *children = w->nodes[depth + 1];
	float *states = w->states[depth + 1];
	const float *input;
	size_t R = (size_t)ev->rows, C = (size_t)e->C, n = 0, first, n_d, i;
	size_t a, b, rows, r0, j;
	uint64_t prefix, step = e->place[depth + 1];
	enum route_choice choice;
	int d, chunk;

	model_rmsnorm(w->xn, x, layer->ffn_norm, (int)(count * R), e->C,
	    e->model->config.norm_eps);
	if (ev->capture != NULL)
		for (i = 0; i < count; i++)
			for (j = 0; j < R; j++)
				if (ev->row_codes[j] / e->place[depth] ==
				    nodes[i].prefix)
					memcpy(ev->capture + (j * (size_t)e->L +
					    (size_t)depth) * C, w->xn + (i * R +
					    j) * C, C * sizeof *ev->capture);
	if (ev->router_logits != NULL)
		for (d = 0; d < e->n_routers; d++)
			for (i = 0; i < count; i++)
				router_logits(&e->routers[d], depth, w->xn +
				    i * R * C, (int)R, ev->router_logits[d] +
				    (e->node_base[depth] + nodes[i].prefix) *
				    R * (size_t)e->m);
	for (d = 0; d < e->m; d++) {
		choice = e->space.choices[d];
		first = n;
		for (i = 0; i < count; i++) {
			prefix = nodes[i].prefix * (uint64_t)e->m + (uint64_t)d;
			a = lower_bound(ev->codes, nodes[i].lo, nodes[i].hi,
			    prefix * step);
			b = lower_bound(ev->codes, a, nodes[i].hi,
			    (prefix + 1) * step);
			if (a == b)
				continue;
			children[n].prefix = prefix;
			children[n].lo = a;
			children[n].hi = b;
			children[n].parent = i;
			memcpy(states + n * R * C, x + i * R * C,
			    R * C * sizeof *states);
			n++;
		}
		n_d = n - first;
		if (n_d == 0 || choice == CHOICE_SKIP)
			continue;
		if (n_d == count) {
			input = w->xn;
		} else {
			for (j = 0; j < n_d; j++)
				memcpy(w->gathered + j * R * C, w->xn +
				    children[first + j].parent * R * C,
				    R * C * sizeof *w->gathered);
			input = w->gathered;
		}
		rows = n_d * R;
		for (r0 = 0; r0 < rows; r0 += (size_t)chunk) {
			chunk = rows - r0 < FFN_ROWS ? (int)(rows - r0) :
			    FFN_ROWS;
			model_ffn_add(e->model, depth, choice, input + r0 * C,
			    chunk, states + (first * R + r0) * C, w->ffn);
		}
		w->flops += (double)rows * model_flops_ffn(&e->model->config,
		    choice);
	}
	return n;
}

/*
 * Walk a batch of nodes of one depth: attention of that layer over the
 * batch, children, then the children chunk by chunk, on the threads when
 * may_split and there are enough of them.
 */
static void
walk(struct evaluation *ev, int w, int depth, struct trie_node *nodes,
    size_t count, float *x, bool may_split)
{
	struct engine *e = ev->engine;
	struct worker *wk = &e->workers[w];
	struct trie_node *children;
	float *states;
	size_t R = (size_t)ev->rows, C = (size_t)e->C, n, per_chunk, want;
	size_t n_chunks;
	long c;
	int t;

	if (e->cancel != NULL && *e->cancel)
		return;
	if (depth == e->L) {
		walk_leaves(ev, wk, nodes, count, x);
		return;
	}
	if (ev->positions == NULL)
		model_attention_sequences(e->model, depth, e->ws, x, (int)count,
		    ev->rows, wk->attention);
	else
		model_attention_cached(e->model, depth, e->ws, ev->cache, x,
		    (int)(count * R), wk->positions, wk->attention);
	wk->flops += (double)count * ev->attention_flops;
	n = make_children(ev, wk, depth, nodes, count, x);
	children = wk->nodes[depth + 1];
	states = wk->states[depth + 1];
	per_chunk = (size_t)e->max_rows / R;

	if (may_split && e->n_workers > 1 && n >= 2 * (size_t)e->n_workers &&
	    subtree_flops(e, depth + 1, n, R) >= e->split_flops) {
		/* Small chunks, several per thread, so that uneven
		 * subtrees still keep every thread busy. */
		want = (n + 4 * (size_t)e->n_workers - 1) /
		    (4 * (size_t)e->n_workers);
		per_chunk = want < per_chunk ? want : per_chunk;
		n_chunks = (n + per_chunk - 1) / per_chunk;
		for (t = 0; t < e->n_workers; t++)
			if (t != w)
				worker_prepare(&e->workers[t], ev);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->n_workers)
#endif
		for (c = 0; c < (long)n_chunks; c++) {
			size_t start = (size_t)c * per_chunk;
			size_t k = n - start < per_chunk ? n - start : per_chunk;

			walk(ev, current_thread(), depth + 1, children + start,
			    k, states + start * R * C, false);
		}
		return;
	}
	for (c = 0; (size_t)c * per_chunk < n; c++) {
		size_t start = (size_t)c * per_chunk;
		size_t k = n - start < per_chunk ? n - start : per_chunk;

		walk(ev, w, depth + 1, children + start, k,
		    states + start * R * C, may_split);
	}
}

/*
 * Evaluate every route of ev->codes at every row of the unit on worker w
 * (and the other threads too when may_split).
 */
static void
evaluate(struct evaluation *ev, int w, bool may_split)
{
	struct engine *e = ev->engine;
	struct worker *wk = &e->workers[w];
	const struct duo_config *c = &e->model->config;
	struct trie_node *root = wk->nodes[0];
	int R = ev->rows, r, context;

	if (ev->n_codes == 0 || R == 0)
		return;
	ev->attention_flops = 0.0;
	for (r = 0; r < R; r++) {
		context = (ev->positions == NULL ? r : ev->positions[r]) + 1;
		ev->attention_flops += model_flops_attention(c, context);
	}
	worker_prepare(wk, ev);
	root->prefix = 0;
	root->lo = 0;
	root->hi = ev->n_codes;
	root->parent = 0;
	for (r = 0; r < R; r++)
		memcpy(wk->states[0] + (size_t)r * e->C,
		    e->model->token_embedding + (size_t)ev->inputs[r] * e->C,
		    (size_t)e->C * sizeof(float));
	walk(ev, w, 0, root, 1, wk->states[0], may_split);
}

/* --- the search as a whole ---------------------------------------------- */

/* A window of the text: BOS and up to n_ctx - 1 tokens. */
struct window {
	int32_t *ids;           /* (N) */
	int T;                  /* positions; rows T - 1 */
	size_t first;           /* its first text token: run position
				   first + 1 */
	int *positions;         /* (N) 0, 1, 2, ... */
};

/* A child and its score at one row, for sorting a row's children. */
struct ranked {
	float score;
	int index;
};

/* One beam search's candidates (full routes with their losses at every
 * row of the unit) and prefixes. */
struct beam_state {
	int R, width;
	/* candidate routes evaluated: codes, losses (capacity, R) */
	uint64_t *codes;
	float *losses;
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
	float *scores;          /* (max_prefixes, R) */
	int *order;             /* (R, max_prefixes) */
	int *votes;             /* (max_prefixes) */
	char *chosen;           /* (max_prefixes) */
	size_t *group;          /* (max_prefixes) */
	struct ranked *ranked;  /* (max_prefixes) */
};

struct search {
	const struct duo_model *model;
	const struct oracle_settings *settings;
	struct route_space space;
	int L, N, m;
	const int32_t *tokens;
	size_t n_tokens;
	int32_t bos;
	size_t n_windows;
	struct window window;
	struct kv_cache cache;
	uint8_t *context_routes;        /* (N, L) the fixed context route */
	struct engine engine;
	int *budgets, n_budgets;
	bool exhaustive;
	int width;
	uint64_t n_routes;
	uint8_t *route_budget;          /* [n_routes] when exhaustive */
	uint64_t *all_codes;            /* [n_routes] when exhaustive */
	float *row_losses;              /* [n_routes] one greedy position */
	struct beam_state *beams;       /* [n_workers] */
	/* routers: their methods (n_routers, n_router_budgets) and, in
	 * exhaustive shared and fixed runs, their logits at every node */
	struct oracle_method **router_methods;
	int n_router_budgets;
	float **router_logits;          /* [n_router_logits] */
	int n_router_logits;
	struct duo_error *err;
};

static void
load_window(struct search *s, size_t w)
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
static int
cache_context(struct search *s)
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
static void set_route(const struct search *s, struct oracle_method *method,
    size_t token, uint64_t code, float loss);

static void
routers_decide(struct search *s, const struct evaluation *ev, size_t first)
{
	const struct engine *e = &s->engine;
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
				set_route(s, method, first + r, prefix,
				    ev->out[r * ev->ld + prefix]);
			}
		}
	}
}

/*
 * Routers where the tree is not walked whole (greedy and beam runs):
 * every position of a window follows the router's own choices, one pass
 * per router and budget.  In greedy mode those are the losses; otherwise
 * the routes are scored in the run's context.
 */
static int
routers_pass(struct search *s)
{
	const struct engine *e = &s->engine;
	const struct duo_router *router;
	struct oracle_method *method;
	struct window *win = &s->window;
	bool greedy = s->settings->context == ORACLE_GREEDY;
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
		if (engine_cancelled(e)) {
			error_cancelled(s->err);
			goto done;
		}
		load_window(s, w);
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
	if (!greedy)
		for (j = 0; j < e->n_routers * s->n_router_budgets; j++) {
			method = s->router_methods[j];
			if (oracle_score_routes(s->model, s->tokens,
			    s->n_tokens, s->bos, s->settings->context,
			    s->settings->context_route, method->routes,
			    method->losses, s->err) != 0)
				goto done;
		}
	status = 0;
done:
	free(routes);
	free(losses);
	return status;
}

/*
 * Losses of the routes codes[0 .. n - 1] for every token of the text,
 * into out (n_tokens, n), with every position of a window using the route
 * (shared) or only the scored one, the rest the context route (fixed).
 */
static int
table_pass(struct search *s, const uint64_t *codes, size_t n, bool fixed,
    float *out)
{
	struct evaluation ev;
	struct window *win = &s->window;
	size_t w;
	int q0, R;

	memset(&ev, 0, sizeof ev);
	ev.engine = &s->engine;
	ev.codes = codes;
	ev.n_codes = n;
	ev.ld = n;
	ev.router_logits = s->router_logits;
	for (w = 0; w < s->n_windows; w++) {
		load_window(s, w);
		R = win->T - 1;
		if (!fixed) {
			ev.rows = R;
			ev.inputs = win->ids;
			ev.targets = win->ids + 1;
			ev.positions = NULL;
			ev.out = out + win->first * n;
			evaluate(&ev, 0, true);
			if (engine_cancelled(&s->engine))
				return error_cancelled(s->err);
			routers_decide(s, &ev, win->first);
			continue;
		}
		if (cache_context(s) != 0)
			return -1;
		for (q0 = 0; q0 < R; q0 += FIXED_BLOCK) {
			ev.rows = R - q0 < FIXED_BLOCK ? R - q0 : FIXED_BLOCK;
			ev.inputs = win->ids + q0;
			ev.targets = win->ids + q0 + 1;
			ev.positions = win->positions + q0;
			ev.cache = &s->cache;
			ev.out = out + (win->first + (size_t)q0) * n;
			evaluate(&ev, 0, true);
			if (engine_cancelled(&s->engine))
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
	b->slots = calloc(b->n_slots, sizeof *b->slots);
	b->kept = array_new(max_prefixes, sizeof *b->kept);
	b->children = array_new(max_prefixes, sizeof *b->children);
	b->kept_budget = array_new(max_prefixes, sizeof *b->kept_budget);
	b->child_budget = array_new(max_prefixes, sizeof *b->child_budget);
	b->fresh = array_new(4 * max_prefixes, sizeof *b->fresh);
	b->fresh_losses = array_new(2 * max_prefixes * (size_t)R,
	    sizeof *b->fresh_losses);
	b->scores = array_new(max_prefixes * (size_t)R, sizeof *b->scores);
	b->order = array_new(max_prefixes * (size_t)R, sizeof *b->order);
	b->votes = array_new(max_prefixes, sizeof *b->votes);
	b->chosen = array_new(max_prefixes, sizeof *b->chosen);
	b->group = array_new(max_prefixes, sizeof *b->group);
	b->ranked = array_new(max_prefixes, sizeof *b->ranked);
	if (b->ranked == NULL ||
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

static void
beam_add(struct beam_state *b, uint64_t code, const float *losses,
    size_t stride)
{
	size_t i = beam_slot(b, code);
	int r;

	while (b->slots[i] != 0)
		i = (i + 1) & (b->n_slots - 1);
	b->slots[i] = b->n + 1;
	b->codes[b->n] = code;
	for (r = 0; r < b->R; r++)
		b->losses[b->n * (size_t)b->R + (size_t)r] =
		    losses[(size_t)r * stride];
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
 */
static void
beam_unit(struct search *s, struct evaluation *ev, int w, bool may_split,
    struct beam_state *b, int kmin, int kmax)
{
	int L = s->L, m = s->m, l, d, j, budget, R = ev->rows, r, rest;
	size_t i, n_fresh, big, small, g, *group = b->group;
	uint64_t code, *all_big = b->fresh + 2 * b->max_prefixes;
	uint64_t *all_small = b->fresh + 3 * b->max_prefixes;
	float *score;

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
		n_fresh = sort_unique(b->fresh, n_fresh);
		ev->codes = b->fresh;
		ev->n_codes = n_fresh;
		ev->out = b->fresh_losses;
		ev->ld = n_fresh;
		evaluate(ev, w, may_split);
		for (i = 0; i < n_fresh; i++)
			beam_add(b, b->fresh[i], b->fresh_losses + i, n_fresh);
		if (l + 1 == L)
			break;
		for (i = 0; i < b->n_children; i++) {
			big = beam_find(b, all_big[i]) * (size_t)R;
			small = beam_find(b, all_small[i]) * (size_t)R;
			score = b->scores + i * (size_t)R;
			for (r = 0; r < R; r++)
				score[r] = fminf(b->losses[big + (size_t)r],
				    b->losses[small + (size_t)r]);
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

/* The lowest loss at row r among b's candidates with budget k (any when
 * k < 0); ties to the lowest code.  Returns the code. */
static uint64_t
beam_best(const struct search *s, const struct beam_state *b, int r, int k,
    float *loss)
{
	uint64_t best = UINT64_MAX;
	float value, best_value = INFINITY;
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (k >= 0 && oracle_code_budget(&s->space, s->L,
		    b->codes[i]) != k)
			continue;
		value = b->losses[i * (size_t)b->R + (size_t)r];
		if (best == UINT64_MAX || value < best_value ||
		    (value == best_value && b->codes[i] < best)) {
			best = b->codes[i];
			best_value = value;
		}
	}
	*loss = best_value;
	return best;
}

/* --- results ------------------------------------------------------------ */

static struct oracle_method *
add_method(struct oracle_result *result, const char *name, int budget,
    bool has_routes)
{
	struct oracle_method *m = &result->methods[result->n_methods];

	m->name = name;
	m->budget = budget;
	m->losses = array_new(result->n_tokens, sizeof *m->losses);
	m->routes = has_routes ? array_new(result->n_tokens *
	    (size_t)result->n_layer, 1) : NULL;
	if (m->losses == NULL || (has_routes && m->routes == NULL)) {
		free(m->losses);
		free(m->routes);
		return NULL;
	}
	result->n_methods++;
	return m;
}

static void
set_route(const struct search *s, struct oracle_method *method, size_t token,
    uint64_t code, float loss)
{
	method->losses[token] = loss;
	if (method->routes != NULL)
		route_decode(&s->space, code, s->L,
		    method->routes + token * (size_t)s->L);
}

const struct oracle_method *
oracle_result_method(const struct oracle_result *result, const char *name,
    int budget)
{
	size_t i;

	for (i = 0; i < result->n_methods; i++)
		if (strcmp(result->methods[i].name, name) == 0 &&
		    result->methods[i].budget == budget)
			return &result->methods[i];
	return NULL;
}

void
oracle_result_free(struct oracle_result *result)
{
	size_t i;

	for (i = 0; i < result->n_methods; i++) {
		free(result->methods[i].routes);
		free(result->methods[i].losses);
	}
	free(result->methods);
	free(result->tables);
	free(result->budgets);
	free(result->random_codes);
	free(result->n_random_per_budget);
	for (i = 0; i < (size_t)result->n_method_names; i++)
		free(result->method_names[i]);
	free(result->method_names);
	memset(result, 0, sizeof *result);
}

/*
 * oracle@k and best per token from full tables (n_tokens, n_routes).
 */
static int
derive_from_tables(struct search *s, const float *tables,
    struct oracle_method **oracle, struct oracle_method *best)
{
	float *lowest = array_new((size_t)s->L + 1, sizeof *lowest);
	uint64_t *argmin = array_new((size_t)s->L + 1, sizeof *argmin);
	const float *row;
	uint64_t c;
	size_t p;
	int k, i;

	if (lowest == NULL || argmin == NULL) {
		free(lowest);
		free(argmin);
		return error_set(s->err, "out of memory");
	}
	for (p = 0; p < s->n_tokens; p++) {
		row = tables + p * s->n_routes;
		for (k = 0; k <= s->L; k++) {
			lowest[k] = INFINITY;
			argmin[k] = UINT64_MAX;
		}
		for (c = 0; c < s->n_routes; c++) {
			k = s->route_budget[c];
			if (argmin[k] == UINT64_MAX || row[c] < lowest[k]) {
				lowest[k] = row[c];
				argmin[k] = c;
			}
		}
		for (i = 0; i < s->n_budgets; i++)
			if (oracle[i] != NULL)
				set_route(s, oracle[i], p,
				    argmin[s->budgets[i]],
				    lowest[s->budgets[i]]);
		if (best != NULL) {
			k = 0;
			for (i = 1; i <= s->L; i++)
				if (lowest[i] < lowest[k] ||
				    (lowest[i] == lowest[k] &&
				    argmin[i] < argmin[k]))
					k = i;
			set_route(s, best, p, argmin[k], lowest[k]);
		}
	}
	free(lowest);
	free(argmin);
	return 0;
}

/*
 * big, small, fixed@k, random_best@k and random_mean@k from losses of the
 * routes codes (n_tokens, n, ascending codes): exact when codes are every
 * route of the space.
 */
static int
derive_from_columns(struct search *s, struct oracle_result *result,
    const uint64_t *codes, size_t n, const float *columns)
{
	double *sums = calloc(n == 0 ? 1 : n, sizeof *sums), mean;
	struct oracle_method *method, *fixed, *rbest, *rmean;
	uint64_t special[2], code;
	static const char *const special_names[2] = { "big", "small" };
	size_t p, i, col, best_col;
	int b, k, j, kb, nr;

	if (sums == NULL)
		return error_set(s->err, "out of memory");
	for (p = 0; p < s->n_tokens; p++)
		for (i = 0; i < n; i++)
			sums[i] += columns[p * n + i];
	special[0] = uniform_code(&s->space, s->L, CHOICE_BIG);
	special[1] = uniform_code(&s->space, s->L, CHOICE_SMALL);
	for (j = 0; j < 2; j++) {
		if (special[j] == UINT64_MAX)
			continue;
		col = lower_bound(codes, 0, n, special[j]);
		method = add_method(result, special_names[j], -1, true);
		if (method == NULL)
			goto nomem;
		for (p = 0; p < s->n_tokens; p++)
			set_route(s, method, p, special[j],
			    columns[p * n + col]);
	}
	for (b = 0; b < s->n_budgets; b++) {
		k = s->budgets[b];
		/* fixed@k: the lowest total; sums in double */
		best_col = SIZE_MAX;
		for (i = 0; i < n; i++)
			if (oracle_code_budget(&s->space, s->L, codes[i]) == k &&
			    (best_col == SIZE_MAX || sums[i] < sums[best_col]))
				best_col = i;
		fixed = add_method(result, "fixed", k, true);
		if (fixed == NULL)
			goto nomem;
		for (p = 0; p < s->n_tokens; p++)
			set_route(s, fixed, p, codes[best_col],
			    columns[p * n + best_col]);
		rbest = add_method(result, "random_best", k, true);
		rmean = add_method(result, "random_mean", k, false);
		if (rbest == NULL || rmean == NULL)
			goto nomem;
		nr = result->n_random_per_budget[b];
		best_col = SIZE_MAX;
		for (kb = 0; kb < nr; kb++) {
			code = result->random_codes[(size_t)b *
			    (size_t)result->n_random + (size_t)kb];
			col = lower_bound(codes, 0, n, code);
			if (best_col == SIZE_MAX || sums[col] < sums[best_col])
				best_col = col;
		}
		for (p = 0; p < s->n_tokens; p++) {
			set_route(s, rbest, p, codes[best_col],
			    columns[p * n + best_col]);
			mean = 0.0;
			for (kb = 0; kb < nr; kb++) {
				code = result->random_codes[(size_t)b *
				    (size_t)result->n_random + (size_t)kb];
				col = lower_bound(codes, 0, n, code);
				mean += columns[p * n + col];
			}
			rmean->losses[p] = (float)(mean / nr);
		}
	}
	free(sums);
	return 0;
nomem:
	free(sums);
	return error_set(s->err, "out of memory for the results");
}

/* --- greedy passes and the beam over the text --------------------------- */

/*
 * One greedy pass: position q's route is the method's own choice for
 * token q + 1 (oracle at budget k, or best when k < 0), found with the
 * earlier positions routed by the choices already made in this pass, and
 * then appended to the cache.
 */
static int
greedy_pass(struct search *s, int k, struct oracle_method *method)
{
	struct window *win = &s->window;
	struct evaluation ev;
	struct beam_state *b = &s->beams[0];
	const uint64_t *codes = s->all_codes;
	uint64_t *subset = NULL, code = 0;
	size_t n_codes = (size_t)s->n_routes, w, i, token;
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
		load_window(s, w);
		kv_cache_reset(&s->cache);
		for (q = 0; q < win->T - 1; q++) {
			ev.inputs = win->ids + q;
			ev.targets = win->ids + q + 1;
			ev.positions = win->positions + q;
			token = win->first + (size_t)q;
			if (s->exhaustive) {
				ev.codes = codes;
				ev.n_codes = n_codes;
				ev.out = s->row_losses;
				ev.ld = n_codes;
				evaluate(&ev, 0, true);
				loss = INFINITY;
				for (i = 0; i < n_codes; i++)
					if (i == 0 || s->row_losses[i] < loss) {
						loss = s->row_losses[i];
						code = codes[i];
					}
			} else {
				beam_unit(s, &ev, 0, true, b, k < 0 ? 0 : k,
				    k < 0 ? s->L : k);
				code = beam_best(s, b, 0, k, &loss);
			}
			if (engine_cancelled(&s->engine)) {
				free(subset);
				return error_cancelled(s->err);
			}
			set_route(s, method, token, code, loss);
			engine_tick(&s->engine, GREEDY_POSITION_WORK * s->L);
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
 * oracle@k and best by beam search in the shared or fixed context: a beam
 * per window (shared), or per position (fixed, positions on the threads).
 */
static int
beam_pass(struct search *s, bool fixed, struct oracle_method **oracle,
    struct oracle_method *best)
{
	struct window *win = &s->window;
	size_t w;
	int i;

	for (w = 0; w < s->n_windows; w++) {
		if (engine_cancelled(&s->engine))
			return error_cancelled(s->err);
		load_window(s, w);
		if (!fixed) {
			struct evaluation ev;
			struct beam_state *b = &s->beams[0];
			int r;
			uint64_t code;
			float loss;

			memset(&ev, 0, sizeof ev);
			ev.engine = &s->engine;
			ev.rows = win->T - 1;
			ev.inputs = win->ids;
			ev.targets = win->ids + 1;
			beam_unit(s, &ev, 0, true, b, 0, s->L);
			for (r = 0; r < ev.rows; r++) {
				for (i = 0; i < s->n_budgets; i++) {
					code = beam_best(s, b, r, s->budgets[i],
					    &loss);
					set_route(s, oracle[i],
					    win->first + (size_t)r, code, loss);
				}
				code = beam_best(s, b, r, -1, &loss);
				set_route(s, best, win->first + (size_t)r, code,
				    loss);
			}
			continue;
		}
		if (cache_context(s) != 0)
			return -1;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->engine.n_workers)
#endif
		for (int q = 0; q < win->T - 1; q++) {
			int t = current_thread(), j;
			struct beam_state *b = &s->beams[t];
			struct evaluation ev;
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
			beam_unit(s, &ev, t, false, b, 0, s->L);
			for (j = 0; j < s->n_budgets; j++) {
				code = beam_best(s, b, 0, s->budgets[j], &loss);
				set_route(s, oracle[j], token, code, loss);
			}
			code = beam_best(s, b, 0, -1, &loss);
			set_route(s, best, token, code, loss);
		}
	}
	if (engine_cancelled(&s->engine))
		return error_cancelled(s->err);
	return 0;
}

/* The routes a beam run evaluates exactly for every token: all-B, all-S,
 * the random routes, and for fixed@k the width most frequent oracle@k
 * routes.  Returns the count (codes ascending) or -1. */
static int
beam_columns(struct search *s, struct oracle_result *result,
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
	codes[n++] = uniform_code(&s->space, s->L, CHOICE_BIG);
	if (uniform_code(&s->space, s->L, CHOICE_SMALL) != UINT64_MAX)
		codes[n++] = uniform_code(&s->space, s->L, CHOICE_SMALL);
	for (b = 0; b < s->n_budgets; b++) {
		for (i = 0; i < (size_t)result->n_random_per_budget[b]; i++)
			codes[n++] = result->random_codes[(size_t)b *
			    (size_t)result->n_random + i];
		for (p = 0; p < s->n_tokens; p++)
			routes_k[p] = route_encode(&s->space,
			    oracle[b]->routes + p * (size_t)s->L, s->L);
		qsort(routes_k, s->n_tokens, sizeof *routes_k, compare_codes);
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
	*n_out = sort_unique(codes, n);
	*out = codes;
	return 0;
}

/* --- oracle_run --------------------------------------------------------- */

static int
check_settings(struct search *s, const struct oracle_settings *settings,
    struct duo_error *err)
{
	int L = s->L, l, i, j, k, *seen;

	if (settings->space.n_choices < 2 || settings->space.n_choices > 3 ||
	    settings->space.choices[0] != CHOICE_BIG)
		return error_set(err, "the route space is not BS, B. or BS.");
	s->space = settings->space;
	s->m = s->space.n_choices;
	if ((int)settings->context < 0 || settings->context > ORACLE_GREEDY)
		return error_set(err, "unknown context mode %d",
		    (int)settings->context);
	if (settings->context_route != NULL)
		for (l = 0; l < L; l++)
			if (settings->context_route[l] > CHOICE_SKIP ||
			    space_digit(&s->space, (enum route_choice)
			    settings->context_route[l]) < 0)
				return error_set(err, "the context route has "
				    "'%c' at layer %d, outside the space %s",
				    route_choice_char((enum route_choice)
				    settings->context_route[l]), l,
				    s->space.name);
	seen = calloc((size_t)L + 1, sizeof *seen);
	if (seen == NULL)
		return error_set(err, "out of memory");
	if (settings->budgets == NULL || settings->n_budgets == 0) {
		for (k = 0; k <= L; k++)
			seen[k] = 1;
	} else {
		for (i = 0; i < settings->n_budgets; i++) {
			k = settings->budgets[i];
			if (k < 0 || k > L) {
				free(seen);
				return error_set(err, "budget %d is not "
				    "0..%d (the model has %d layers)", k, L, L);
			}
			seen[k] = 1;
		}
	}
	/* a soft-mode router's rows stand at the budget it was trained for,
	 * which the oracle and the baselines must have too */
	if (settings->router_mode == ROUTER_SOFT && settings->routers != NULL)
		for (i = 0; i < settings->n_routers; i++)
			if (settings->routers[i].budget >= 0 &&
			    settings->routers[i].budget <= L)
				seen[settings->routers[i].budget] = 1;
	s->budgets = array_new((size_t)L + 1, sizeof *s->budgets);
	if (s->budgets == NULL) {
		free(seen);
		return error_set(err, "out of memory");
	}
	for (k = j = 0; k <= L; k++)
		if (seen[k])
			s->budgets[j++] = k;
	s->n_budgets = j;
	free(seen);
	if (settings->beam_width < 0 || settings->n_random < 0)
		return error_set(err, "negative beam width or random count");
	if (settings->n_routers < 0 || (settings->n_routers > 0 &&
	    settings->routers == NULL) || (int)settings->router_mode < 0 ||
	    settings->router_mode > ROUTER_SOFT)
		return error_set(err, "bad router settings");
	for (i = 0; i < settings->n_routers; i++) {
		const struct duo_router *r = &settings->routers[i];

		if (strcmp(r->space.name, s->space.name) != 0)
			return error_set(err, "router %s chooses in the space "
			    "%s, not in the run's %s", r->name, r->space.name,
			    s->space.name);
		if (r->n_layer != L || r->d_model !=
		    s->model->config.d_model)
			return error_set(err, "router %s was made for %d "
			    "layers of width %d, not this model", r->name,
			    r->n_layer, r->d_model);
		for (j = 0; j < i; j++)
			if (strcmp(settings->routers[j].name, r->name) == 0)
				return error_set(err, "router %s is named "
				    "twice", r->name);
	}
	return 0;
}

static void
search_free(struct search *s)
{
	int i;

	if (s->beams != NULL)
		for (i = 0; i < s->engine.n_workers; i++)
			beam_free(&s->beams[i]);
	free(s->beams);
	engine_free(&s->engine);
	kv_cache_free(&s->cache);
	free(s->window.ids);
	free(s->window.positions);
	free(s->context_routes);
	free(s->budgets);
	free(s->route_budget);
	free(s->all_codes);
	free(s->row_losses);
	for (i = 0; i < s->n_router_logits; i++)
		free(s->router_logits[i]);
	free(s->router_logits);
	free(s->router_methods);
}

/* Route-token losses the run will compute, for the progress fraction. */
static double
expected_work(const struct search *s, const struct oracle_result *result,
    bool greedy)
{
	double tokens = (double)s->n_tokens, work = 0.0, beam = 0.0, level;
	double position = GREEDY_POSITION_WORK * s->L;
	int l, b;

	if (s->exhaustive) {
		work = (double)s->n_routes * tokens;
		if (greedy) {
			work += ((double)s->n_routes + position) * tokens;
			for (b = 0; b < s->n_budgets; b++)
				work += (budget_count(&s->space, s->L,
				    s->budgets[b]) + position) * tokens;
		}
		return work;
	}
	level = 1.0;
	for (l = 0; l < s->L; l++) {
		level *= s->m;
		beam += fmin(level, 2.0 * s->width * (l + 1) * s->m);
	}
	/* in greedy runs a pass per budget (narrower, counted whole) and the
	 * best pass */
	work = (greedy ? (beam + position) * (s->n_budgets + 1) : beam) *
	    tokens;
	work += tokens * (2.0 + (double)s->n_budgets *
	    (result->n_random + s->width));
	return work;
}

static int
random_routes_all(struct search *s, struct oracle_result *result)
{
	int b, n;

	result->n_random = s->settings->n_random > 0 ?
	    s->settings->n_random : ORACLE_RANDOM_ROUTES;
	result->random_codes = array_new((size_t)s->n_budgets *
	    (size_t)result->n_random, sizeof *result->random_codes);
	result->n_random_per_budget = array_new((size_t)s->n_budgets,
	    sizeof *result->n_random_per_budget);
	if (result->random_codes == NULL ||
	    result->n_random_per_budget == NULL)
		return error_set(s->err, "out of memory");
	for (b = 0; b < s->n_budgets; b++) {
		if (oracle_random_routes(&s->space, s->L, s->budgets[b],
		    result->n_random, s->settings->seed,
		    result->random_codes + (size_t)b *
		    (size_t)result->n_random, &n, s->err) != 0)
			return -1;
		result->n_random_per_budget[b] = n;
	}
	return 0;
}

/*
 * The routers' methods, named router:NAME, and in exhaustive shared and
 * fixed runs the buffers of their logits at every node of the tree.
 */
static int
routers_init(struct search *s, struct oracle_result *result)
{
	const struct oracle_settings *settings = s->settings;
	const struct duo_router *r;
	struct oracle_method *m;
	size_t nodes = (size_t)s->engine.node_base[s->L], size, limit, tables;
	int j, b, k;

	s->engine.routers = settings->routers;
	s->engine.n_routers = settings->n_routers;
	result->method_names = calloc((size_t)settings->n_routers,
	    sizeof *result->method_names);
	s->router_methods = calloc((size_t)settings->n_routers *
	    (size_t)s->n_router_budgets, sizeof *s->router_methods);
	if (result->method_names == NULL || s->router_methods == NULL)
		return error_set(s->err, "out of memory");
	for (j = 0; j < settings->n_routers; j++) {
		r = &settings->routers[j];
		size = strlen(r->name) + 8;
		if ((result->method_names[j] = malloc(size)) == NULL)
			return error_set(s->err, "out of memory");
		snprintf(result->method_names[j], size, "router:%s", r->name);
		result->n_method_names++;
		for (b = 0; b < s->n_router_budgets; b++) {
			k = settings->router_mode == ROUTER_EXACT ?
			    s->budgets[b] : r->budget;
			m = add_method(result, result->method_names[j], k,
			    true);
			if (m == NULL)
				return error_set(s->err, "out of memory for "
				    "the results");
			s->router_methods[j * s->n_router_budgets + b] = m;
		}
	}
	if (!s->exhaustive || settings->context == ORACLE_GREEDY)
		return 0;
	/* what the loss tables leave of the memory limit */
	limit = settings->max_table_bytes > 0 ? settings->max_table_bytes :
	    ORACLE_MAX_TABLE_BYTES;
	tables = s->n_tokens * (size_t)s->n_routes * sizeof(float);
	limit = limit > tables ? limit - tables : 0;
	if (nodes > limit / sizeof(float) / (size_t)s->N / (size_t)s->m /
	    (size_t)settings->n_routers)
		return error_set(s->err, "the routers' logits over %zu nodes "
		    "would pass the memory limit", nodes);
	s->router_logits = calloc((size_t)settings->n_routers,
	    sizeof *s->router_logits);
	if (s->router_logits == NULL)
		return error_set(s->err, "out of memory");
	for (j = 0; j < settings->n_routers; j++) {
		s->router_logits[j] = array_new(nodes * (size_t)s->N *
		    (size_t)s->m, sizeof(float));
		if (s->router_logits[j] == NULL)
			return error_set(s->err, "out of memory for the "
			    "routers' logits");
		s->n_router_logits++;
	}
	return 0;
}

static int
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
	if (engine_init(&s->engine, model, &s->space, n_threads,
	    settings->chunk_rows, err) != 0)
		return -1;
	s->engine.split_flops = settings->split_flops > 0.0 ?
	    settings->split_flops : SPLIT_MIN_FLOPS;
	s->window.ids = array_new((size_t)s->N, sizeof *s->window.ids);
	s->window.positions = array_new((size_t)s->N,
	    sizeof *s->window.positions);
	s->context_routes = array_new((size_t)s->N * (size_t)s->L, 1);
	if (s->window.ids == NULL || s->window.positions == NULL ||
	    s->context_routes == NULL ||
	    kv_cache_init(&s->cache, c, NULL) != 0)
		return error_set(err, "out of memory");
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
		if (s->route_budget == NULL || s->all_codes == NULL ||
		    s->row_losses == NULL)
			return error_set(err, "out of memory");
		for (i = 0; i < s->n_routes; i++) {
			s->all_codes[i] = i;
			s->route_budget[i] = (uint8_t)oracle_code_budget(
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

int
oracle_run(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, const struct oracle_settings *settings,
    struct oracle_result *result, struct duo_error *err)
{
	struct search s;
	struct oracle_method **oracle = NULL, *best = NULL;
	uint64_t max_routes = settings->max_routes > 0 ?
	    settings->max_routes : ORACLE_MAX_ROUTES, *columns_codes = NULL;
	size_t max_bytes = settings->max_table_bytes > 0 ?
	    settings->max_table_bytes : ORACLE_MAX_TABLE_BYTES, n_columns = 0, i;
	float *columns = NULL;
	double start = 0.0;
	bool greedy = settings->context == ORACLE_GREEDY;
	bool fixed = settings->context == ORACLE_FIXED;
	int b, status = -1;

	memset(result, 0, sizeof *result);
	memset(&s, 0, sizeof s);
	s.model = model;
	s.settings = settings;
	s.L = model->config.n_layer;
	s.N = model->config.n_ctx;
	s.tokens = tokens;
	s.n_tokens = n_tokens;
	s.bos = bos;
	s.err = err;
	if (n_tokens == 0)
		return error_set(err, "the text has no tokens");
	if (bos < 0 || bos >= model->config.n_vocab)
		return error_set(err, "BOS id %d is outside the vocabulary",
		    (int)bos);
	for (i = 0; i < n_tokens; i++)
		if (tokens[i] < 0 || tokens[i] >= model->config.n_vocab)
			return error_set(err, "token %zu has id %d, outside the "
			    "vocabulary of %d", i + 1, (int)tokens[i],
			    model->config.n_vocab);
	if (check_settings(&s, settings, err) != 0)
		goto done;
	s.n_routes = route_space_size(&s.space, s.L);
	s.exhaustive = settings->beam_width == 0 && s.n_routes != 0 &&
	    s.n_routes <= max_routes;
	s.width = settings->beam_width > 0 ? settings->beam_width :
	    ORACLE_DEFAULT_BEAM;
	if (s.exhaustive && (n_tokens > max_bytes / sizeof(float) /
	    s.n_routes)) {
		error_set(err, "the loss tables of %zu tokens over %llu routes "
		    "would take %.1f GiB, more than %.1f GiB; use a shorter "
		    "text, a smaller space or --beam", n_tokens,
		    (unsigned long long)s.n_routes, (double)n_tokens *
		    (double)s.n_routes * 4.0 / 1073741824.0,
		    (double)max_bytes / 1073741824.0);
		goto done;
	}
	/* a beam run keeps the losses of its random and fixed candidates
	 * for every token instead */
	if (!s.exhaustive && n_tokens > max_bytes / sizeof(float) / (2 +
	    (size_t)(s.L + 1) * ((settings->n_random > 0 ?
	    (size_t)settings->n_random : ORACLE_RANDOM_ROUTES) +
	    (size_t)s.width))) {
		error_set(err, "the losses of the random and fixed routes of "
		    "%zu tokens would take more than %.1f GiB; use a shorter "
		    "text", n_tokens, (double)max_bytes / 1073741824.0);
		goto done;
	}
	s.n_windows = text_window_count(n_tokens, s.N);
	result->n_layer = s.L;
	result->n_tokens = n_tokens;
	result->n_routes = s.n_routes;
	result->approximate = !s.exhaustive;
	result->beam_width = s.exhaustive ? 0 : s.width;
	if (random_routes_all(&s, result) != 0)
		goto done;
	result->budgets = array_new((size_t)s.n_budgets,
	    sizeof *result->budgets);
	/* big, small, best, four methods per budget, then the routers' */
	s.n_router_budgets = settings->router_mode == ROUTER_EXACT ?
	    s.n_budgets : 1;
	result->methods = calloc(3 + 4 * (size_t)s.n_budgets +
	    (size_t)settings->n_routers * (size_t)s.n_router_budgets,
	    sizeof *result->methods);
	oracle = calloc((size_t)s.n_budgets, sizeof *oracle);
	if (result->budgets == NULL || result->methods == NULL ||
	    oracle == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	memcpy(result->budgets, s.budgets, (size_t)s.n_budgets *
	    sizeof *s.budgets);
	result->n_budgets = s.n_budgets;
	if (s.exhaustive) {
		result->tables = array_new(n_tokens * (size_t)s.n_routes,
		    sizeof *result->tables);
		if (result->tables == NULL) {
			error_set(err, "out of memory for the loss tables");
			goto done;
		}
	}
	if (search_init(&s, model, settings, err) != 0)
		goto done;
	s.engine.progress = settings->progress;
	s.engine.progress_arg = settings->progress_arg;
	s.engine.cancel = settings->cancel;
	s.engine.work_total = expected_work(&s, result, greedy);
	if (s.engine.n_workers > 1)
		linalg_set_threads(1);
	start = wall_seconds();

	best = add_method(result, "best", -1, true);
	for (b = 0; b < s.n_budgets; b++)
		if (best == NULL || (oracle[b] = add_method(result, "oracle",
		    s.budgets[b], true)) == NULL) {
			error_set(err, "out of memory for the results");
			goto done;
		}
	if (settings->n_routers > 0 && routers_init(&s, result) != 0)
		goto done;

	if (s.exhaustive) {
		if (table_pass(&s, s.all_codes, (size_t)s.n_routes, fixed,
		    result->tables) != 0)
			goto done;
		/* the walk's logits are no longer needed */
		for (b = 0; b < s.n_router_logits; b++) {
			free(s.router_logits[b]);
			s.router_logits[b] = NULL;
		}
		if (!greedy && derive_from_tables(&s, result->tables, oracle,
		    best) != 0)
			goto done;
	} else if (!greedy) {
		if (beam_pass(&s, fixed, oracle, best) != 0)
			goto done;
	}
	if (greedy) {
		for (b = 0; b < s.n_budgets; b++)
			if (greedy_pass(&s, s.budgets[b], oracle[b]) != 0)
				goto done;
		if (greedy_pass(&s, -1, best) != 0)
			goto done;
	}
	if (settings->n_routers > 0 && s.router_logits == NULL &&
	    routers_pass(&s) != 0)
		goto done;
	if (s.exhaustive) {
		status = derive_from_columns(&s, result, s.all_codes,
		    (size_t)s.n_routes, result->tables);
	} else {
		if (beam_columns(&s, result, oracle, &columns_codes,
		    &n_columns) != 0)
			goto done;
		columns = array_new(n_tokens * n_columns, sizeof *columns);
		if (columns == NULL) {
			error_set(err, "out of memory");
			goto done;
		}
		if (table_pass(&s, columns_codes, n_columns, fixed, columns) !=
		    0)
			goto done;
		status = derive_from_columns(&s, result, columns_codes,
		    n_columns, columns);
	}
done:
	if (s.engine.workers != NULL) {
		for (b = 0; b < s.engine.n_workers; b++) {
			result->flops += s.engine.workers[b].flops;
			result->route_tokens +=
			    s.engine.workers[b].route_tokens;
		}
		if (s.engine.n_workers > 1)
			linalg_set_threads(s.engine.n_workers);
		if (start > 0.0)
			result->seconds = wall_seconds() - start;
	}
	free(columns);
	free(columns_codes);
	free(oracle);
	search_free(&s);
	if (status != 0)
		oracle_result_free(result);
	return status;
}

/* --- losses of given routes --------------------------------------------- */

/*
 * A search on one thread over a text, for the plain entry points below
 * (settings must outlive it); search_free() it even when this fails.
 */
static int
plain_search(struct search *s, struct oracle_settings *settings,
    const struct duo_model *model, const int32_t *tokens, size_t n_tokens,
    int32_t bos, struct duo_error *err)
{
	settings->n_threads = 1;
	memset(s, 0, sizeof *s);
	s->model = model;
	s->settings = settings;
	s->L = model->config.n_layer;
	s->N = model->config.n_ctx;
	s->tokens = tokens;
	s->n_tokens = n_tokens;
	s->bos = bos;
	s->err = err;
	if (check_settings(s, settings, err) != 0 ||
	    search_init(s, model, settings, err) != 0)
		return -1;
	s->n_windows = text_window_count(n_tokens, s->N);
	return 0;
}

int
oracle_score_routes(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, enum oracle_context context,
    const uint8_t *context_route, const uint8_t *routes, float *losses,
    struct duo_error *err)
{
	struct oracle_settings settings;
	struct search s;
	struct evaluation ev;
	struct window *win = &s.window;
	uint64_t *codes = NULL;
	float *out = NULL;
	uint8_t *window_routes = NULL;
	size_t w, n, i, token;
	int L = model->config.n_layer, N = model->config.n_ctx, t, R;
	int status = -1;

	for (i = 0; i < n_tokens * (size_t)L; i++)
		if (routes[i] > CHOICE_SKIP)
			return error_set(err, "route choice %d for token %zu",
			    routes[i], i / (size_t)L + 1);
	oracle_settings_default(&settings);
	route_space_parse(&settings.space, "BS.", NULL);
	settings.context = context;
	settings.context_route = context_route;
	if (plain_search(&s, &settings, model, tokens, n_tokens, bos,
	    err) != 0)
		goto done;
	codes = array_new((size_t)N, sizeof *codes);
	out = array_new((size_t)N * (size_t)N, sizeof *out);
	window_routes = array_new((size_t)N * (size_t)L, 1);
	if (codes == NULL || out == NULL || window_routes == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	memset(&ev, 0, sizeof ev);
	ev.engine = &s.engine;
	for (w = 0; w < s.n_windows; w++) {
		load_window(&s, w);
		R = win->T - 1;
		if (context == ORACLE_GREEDY) {
			/* a router's own choices are its context: one pass */
			for (t = 0; t < win->T; t++)
				memcpy(window_routes + (size_t)t * L, routes +
				    (win->first + (size_t)(t < R ? t : R - 1)) *
				    (size_t)L, (size_t)L);
			if (model_window_losses(model, s.engine.ws, win->ids,
			    win->T, window_routes, losses + win->first,
			    err) != 0)
				goto done;
			continue;
		}
		for (t = 0; t < R; t++)
			codes[t] = route_encode(&s.space, routes +
			    (win->first + (size_t)t) * (size_t)L, L);
		if (context == ORACLE_SHARED) {
			n = sort_unique(codes, (size_t)R);
			ev.rows = R;
			ev.inputs = win->ids;
			ev.targets = win->ids + 1;
			ev.positions = NULL;
			ev.codes = codes;
			ev.n_codes = n;
			ev.out = out;
			ev.ld = n;
			evaluate(&ev, 0, false);
			for (t = 0; t < R; t++) {
				token = win->first + (size_t)t;
				i = lower_bound(codes, 0, n, route_encode(
				    &s.space, routes + token * (size_t)L, L));
				losses[token] = out[(size_t)t * n + i];
			}
			continue;
		}
		/* fixed: each position alone against the context's cache */
		if (cache_context(&s) != 0)
			goto done;
		for (t = 0; t < R; t++) {
			uint64_t code = codes[t];

			ev.rows = 1;
			ev.inputs = win->ids + t;
			ev.targets = win->ids + t + 1;
			ev.positions = win->positions + t;
			ev.cache = &s.cache;
			ev.codes = &code;
			ev.n_codes = 1;
			ev.out = out;
			ev.ld = 1;
			evaluate(&ev, 0, false);
			losses[win->first + (size_t)t] = out[0];
		}
	}
	status = 0;
done:
	free(codes);
	free(out);
	free(window_routes);
	search_free(&s);
	return status;
}

/* --- states along given routes ------------------------------------------ */

int
oracle_capture_states(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, const struct route_space *space,
    const uint64_t *codes, float *states, struct duo_error *err)
{
	struct oracle_settings settings;
	struct search s;
	struct evaluation ev;
	struct window *win = &s.window;
	uint64_t *unique = NULL;
	float *out = NULL;
	size_t w, n, C = (size_t)model->config.d_model;
	int L = model->config.n_layer, N = model->config.n_ctx, R;
	int status = -1;

	oracle_settings_default(&settings);
	settings.space = *space;
	if (plain_search(&s, &settings, model, tokens, n_tokens, bos,
	    err) != 0)
		goto done;
	unique = array_new((size_t)N, sizeof *unique);
	out = array_new((size_t)N * (size_t)N, sizeof *out);
	if (unique == NULL || out == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	memset(&ev, 0, sizeof ev);
	ev.engine = &s.engine;
	for (w = 0; w < s.n_windows; w++) {
		load_window(&s, w);
		R = win->T - 1;
		memcpy(unique, codes + win->first, (size_t)R * sizeof *unique);
		n = sort_unique(unique, (size_t)R);
		ev.rows = R;
		ev.inputs = win->ids;
		ev.targets = win->ids + 1;
		ev.positions = NULL;
		ev.codes = unique;
		ev.n_codes = n;
		ev.out = out;
		ev.ld = n;
		ev.capture = states + win->first * (size_t)L * C;
		ev.row_codes = codes + win->first;
		evaluate(&ev, 0, false);
	}
	status = 0;
done:
	free(unique);
	free(out);
	search_free(&s);
	return status;
}
