/*
 * walk.c - the walk of walk.h over the tree of route prefixes.
 *
 * A set of route codes (sorted, distinct) is a trie: the node of depth l
 * is a prefix of l choices and covers a range of the codes.  Every node's
 * hidden state is R rows; a batch of nodes of the same depth is one
 * matrix, (nodes * R, C), so that each weight matrix of a layer is one
 * product over the batch.  At depth l the batch runs layer l's attention
 * (which only depends on the prefix), then for each choice the FFN module
 * over the rows of the nodes that have that child, giving the batch of
 * depth l + 1, which is cut into chunks of at most max_rows rows and
 * walked depth first, so memory is bounded by (L + 1) * m * max_rows rows
 * per thread.  At depth L the chunk's rows go through the final norm, the
 * head and the log-softmax in blocks, and each leaf's losses land in the
 * output at its code's column; when the caller gives a reference
 * distribution per row, the head gives each leaf's KL divergence from it
 * too (model_head_scores()), in a second output.
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
 * Groups.  The greedy passes score one position against many caches, one
 * per method and budget; with a root per group the tree is over (group,
 * route prefix), each node attending to its group's cache, so a depth's
 * nodes of every group share each weight's product: one row a group near
 * the root would otherwise be matrix-vector products.
 */
#include "walk.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "array.h"

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

int
walk_thread(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* Free one thread's buffers. */
static void
worker_free(struct walk_worker *w, int L)
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
	free(w->kl);
	free(w->reference);
	free(w->reference_plogp);
	free(w->positions);
	free(w->targets);
	free(w->caches);
	memset(w, 0, sizeof *w);
}

/* Allocate one thread's buffers for chunks of the engine's size. */
static int
worker_init(struct walk_worker *w, const struct walk_engine *e)
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
		w->nodes[l] = array_new(wide, sizeof(struct walk_node));
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
	w->kl = array_new(rows, sizeof(float));
	w->reference = array_new(rows, sizeof *w->reference);
	w->reference_plogp = array_new(rows, sizeof(double));
	w->positions = array_new(rows, sizeof(int));
	w->targets = array_new(rows, sizeof(int32_t));
	w->caches = array_new(rows, sizeof *w->caches);
	if (w->caches == NULL || w->xn == NULL || w->gathered == NULL || w->attention == NULL ||
	    w->ffn == NULL || w->head == NULL || w->losses == NULL ||
	    w->kl == NULL || w->reference == NULL ||
	    w->reference_plogp == NULL ||
	    w->positions == NULL || w->targets == NULL)
		return -1;
	return 0;
}

void
walk_engine_free(struct walk_engine *e)
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

int
walk_engine_init(struct walk_engine *e, const struct duo_model *model,
    const struct route_space *space, int n_workers, int chunk_rows,
    double split_flops, struct duo_error *err)
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
	e->split_flops = split_flops > 0.0 ? split_flops : SPLIT_MIN_FLOPS;
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
	walk_engine_free(e);
	return error_set(err, "out of memory for the search's buffers");
}

/* Add to the work done; the calling thread reports progress. */
void
walk_tick(struct walk_engine *e, double amount)
{
	double done;

#ifdef _OPENMP
#pragma omp atomic update
#endif
	e->work_done += amount;
	if (e->progress == NULL || walk_thread() != 0)
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
bool
walk_cancelled(const struct walk_engine *e)
{
	return e->cancel != NULL && *e->cancel != 0;
}

/* Fill a worker's per-row positions and targets for an evaluation: as
 * many rows as a chunk may have, and no batch has more nodes than
 * codes. */
static void
worker_prepare(struct walk_worker *w, const struct walk_evaluation *ev)
{
	size_t R = (size_t)ev->rows, i, n;

	n = (size_t)ev->engine->max_rows - (size_t)ev->engine->max_rows % R;
	if (ev->n_codes * R < n)
		n = ev->n_codes * R;
	for (i = 0; i < n; i++) {
		w->targets[i] = ev->targets[i % R];
		if (ev->positions != NULL)
			w->positions[i] = ev->positions[i % R];
		if (ev->kl_out != NULL) {
			w->reference[i] = ev->reference + (i % R) *
			    (size_t)ev->engine->C;
			w->reference_plogp[i] = ev->reference_plogp[i % R];
		}
	}
}

/* Head and log-softmax of a chunk of leaves, and their divergence from
 * the reference when asked; each lands in its column. */
static void
walk_leaves(struct walk_evaluation *ev, struct walk_worker *w,
    const struct walk_node *nodes, size_t count, const float *x)
{
	struct walk_engine *e = ev->engine;
	int R = ev->rows, r;
	size_t rows = count * (size_t)R, i;

	if (ev->logits_out != NULL)
		model_head_logits(e->model, x, (int)rows, ev->logits_out,
		    w->head);
	model_head_scores(e->model, x, (int)rows, w->targets, ev->kl_out !=
	    NULL ? w->reference : NULL, w->reference_plogp, w->losses, w->kl,
	    w->head);
	for (i = 0; i < count; i++)
		for (r = 0; r < R; r++) {
			ev->out[(size_t)r * ev->ld + nodes[i].lo] =
			    w->losses[i * (size_t)R + (size_t)r];
			if (ev->kl_out != NULL)
				ev->kl_out[(size_t)r * ev->ld + nodes[i].lo] =
				    w->kl[i * (size_t)R + (size_t)r];
		}
	w->flops += (double)rows * model_flops_head(&e->model->config);
	if (ev->kl_out != NULL)
		w->flops += (double)rows * 2.0 * e->C;
	w->route_tokens += (double)rows;
	walk_tick(e, (double)rows);
}

static void walk(struct walk_evaluation *ev, int w, int depth,
    struct walk_node *nodes, size_t count, float *x, bool may_split);

/* The cache each row of a batch of nodes attends to: its group's. */
static const struct kv_cache *const *
row_caches(const struct walk_evaluation *ev, struct walk_worker *w,
    const struct walk_node *nodes, size_t count)
{
	size_t R = (size_t)ev->rows, i, r;
	const struct kv_cache *cache;

	for (i = 0; i < count; i++) {
		cache = ev->n_groups > 0 ? ev->caches[nodes[i].group] :
		    ev->cache;
		for (r = 0; r < R; r++)
			w->caches[i * R + r] = cache;
	}
	return w->caches;
}

/* A rough count of the FLOPs below n nodes of R rows at depth: at least
 * their own layers (projections and the big module) and the head. */
static double
subtree_flops(const struct walk_engine *e, int depth, size_t n, size_t R)
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
make_children(struct walk_evaluation *ev, struct walk_worker *w, int depth,
    const struct walk_node *nodes, size_t count, const float *x)
{
	struct walk_engine *e = ev->engine;
	const struct duo_layer *layer = &e->model->layers[depth];
	struct walk_node *children = w->nodes[depth + 1];
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
			a = route_codes_lower_bound(ev->codes, nodes[i].lo,
			    nodes[i].hi, prefix * step);
			b = route_codes_lower_bound(ev->codes, a, nodes[i].hi,
			    (prefix + 1) * step);
			if (a == b)
				continue;
			children[n].prefix = prefix;
			children[n].lo = a;
			children[n].hi = b;
			children[n].parent = i;
			children[n].group = nodes[i].group;
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
walk(struct walk_evaluation *ev, int w, int depth, struct walk_node *nodes,
    size_t count, float *x, bool may_split)
{
	struct walk_engine *e = ev->engine;
	struct walk_worker *wk = &e->workers[w];
	struct walk_node *children;
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
		model_attention_cached(e->model, depth, e->ws,
		    row_caches(ev, wk, nodes, count), x, (int)(count * R),
		    wk->positions, wk->attention);
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
			size_t k = n - start < per_chunk ? n - start :
			    per_chunk;

			walk(ev, walk_thread(), depth + 1, children + start,
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
 * (and the other threads too when may_split): one root per group, as many
 * roots a batch as a chunk holds.
 */
void
walk_evaluate(struct walk_evaluation *ev, int w, bool may_split)
{
	struct walk_engine *e = ev->engine;
	struct walk_worker *wk = &e->workers[w];
	const struct duo_config *c = &e->model->config;
	struct walk_node *roots = wk->nodes[0];
	size_t R = (size_t)ev->rows, C = (size_t)e->C, per_chunk, n, i, r;
	size_t n_roots = ev->n_groups > 0 ? (size_t)ev->n_groups : 1, g0;
	int context;

	if (ev->n_codes == 0 || R == 0)
		return;
	ev->attention_flops = 0.0;
	for (r = 0; r < R; r++) {
		context = (ev->positions == NULL ? (int)r : ev->positions[r]) +
		    1;
		ev->attention_flops += model_flops_attention(c, context);
	}
	worker_prepare(wk, ev);
	per_chunk = (size_t)e->max_rows / R;
	for (g0 = 0; g0 < n_roots; g0 += per_chunk) {
		n = 0;
		for (i = g0; i < n_roots && i < g0 + per_chunk; i++) {
			roots[n].prefix = 0;
			roots[n].lo = ev->n_groups > 0 ? ev->group_start[i] : 0;
			roots[n].hi = ev->n_groups > 0 ? ev->group_start[i + 1] :
			    ev->n_codes;
			roots[n].parent = 0;
			roots[n].group = (int)i;
			if (roots[n].lo == roots[n].hi)
				continue;
			for (r = 0; r < R; r++)
				memcpy(wk->states[0] + (n * R + r) * C,
				    e->model->token_embedding +
				    (size_t)ev->inputs[r] * C,
				    C * sizeof(float));
			n++;
		}
		if (n > 0)
			walk(ev, w, 0, roots, n, wk->states[0], may_split);
	}
}
