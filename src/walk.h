/*
 * walk.h - the walk over the tree of route prefixes: route codes in, loss
 * columns out.  Given a unit of rows (the positions of a window, or the
 * positions being scored against a cache of earlier ones) and a set of
 * route codes, it computes every route's next-token loss at every row,
 * sharing the layers that routes with a common prefix share (oracle.h
 * says why), on one thread or on all of them, reporting progress and
 * stopping when asked to; and, given a reference distribution at each
 * row, every route's KL divergence from it, for the label-free oracle.
 *
 * This module owns the engine (its threads' buffers, the RoPE tables),
 * the trie of codes and the threading of the walk; on request it records
 * learned routers' logits at every node, or captures the FFN inputs
 * along given routes.  It must not know the methods, the budgets, the
 * beam or the context modes: which routes to evaluate, at which rows and
 * against which cache is decided by its callers (search.h); it reads the
 * model's weights and never changes them.
 *
 * Shapes use model.h's letters, and: R rows per prefix (the positions a
 * prefix is evaluated at), m choices per layer.
 */
#ifndef DUO_WALK_H
#define DUO_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "oracle.h"
#include "route.h"
#include "router.h"

/* A prefix of the trie of codes. */
struct walk_node {
	uint64_t prefix;        /* digits of layers 0 .. depth - 1 */
	size_t lo, hi;          /* the codes under it */
	size_t parent;          /* its parent's index in the parent batch */
	int group;              /* its context (walk_evaluation) */
};

/* One thread's buffers. */
struct walk_worker {
	float **states;              /* [L + 1] (m * max_rows, C) by depth */
	struct walk_node **nodes;    /* [L + 1] (m * max_nodes) by depth */
	float *xn;                   /* (max_rows, C) FFN input */
	float *gathered;             /* (max_rows, C) rows of some parents */
	float *attention;            /* attention scratch */
	float *ffn;                  /* (FFN_ROWS, 2F) */
	float *head;                 /* head scratch */
	float *losses;               /* (max_rows) */
	float *kl;                   /* (max_rows) */
	const float **reference;     /* (max_rows) the unit's, repeated */
	double *reference_plogp;     /* (max_rows) the unit's, repeated */
	int *positions;              /* (max_rows) the unit's, repeated */
	const struct kv_cache **caches;  /* (max_rows) each row's context */
	int32_t *targets;            /* (max_rows) the unit's, repeated */
	double flops;
	double route_tokens;
};

struct walk_engine {
	const struct duo_model *model;
	struct forward_workspace *ws;   /* RoPE tables; single steps */
	struct route_space space;
	int L, C, m;
	uint64_t *place;                /* [L + 1] m^(L - l) */
	int max_rows;                   /* rows of one chunk */
	double split_flops;             /* least work handed to threads */
	int n_workers;
	struct walk_worker *workers;
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
struct walk_evaluation {
	struct walk_engine *engine;
	int rows;                       /* R */
	const int32_t *inputs;          /* [R] token at each row */
	const int32_t *targets;         /* [R] token each row predicts */
	const int *positions;           /* [R]; NULL: a window from 0 */
	const struct kv_cache *cache;   /* with positions */
	const uint64_t *codes;          /* ascending, distinct */
	size_t n_codes;
	/* when n_groups > 0, with positions: the codes are n_groups runs,
	 * codes[group_start[g] .. group_start[g + 1]) each ascending and
	 * distinct, and group g's routes are evaluated against its own
	 * cache, caches[g], not against cache: several contexts at the
	 * same positions walked as one tree (the greedy passes), so that
	 * their nodes of a depth share each product */
	int n_groups;
	const size_t *group_start;      /* [n_groups + 1], the last n_codes */
	const struct kv_cache *const *caches;   /* [n_groups] */
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
	/* when not NULL: kl_out[row * ld + i] gets KL(p_row || q) of
	 * codes[i]'s next-token distribution q at the row from a reference
	 * distribution p_row given by its expected output embedding
	 * reference[row * C ..] (R, C) and its sum p ln p,
	 * reference_plogp[row] (model_head_scores) */
	float *kl_out;
	const float *reference;
	const double *reference_plogp;
	/* when not NULL, with one code: its logits (R, V) at every row */
	float *logits_out;
};

/*
 * Set up an engine for the model and space with n_workers threads' buffers:
 * chunks of chunk_rows rows (0: about 1 MB of states), subtrees handed to
 * the threads when their work is at least split_flops (0: about a
 * millisecond's).  walk_engine_free() it even when this fails.
 */
int walk_engine_init(struct walk_engine *e, const struct duo_model *model,
    const struct route_space *space, int n_workers, int chunk_rows,
    double split_flops, struct duo_error *err);
void walk_engine_free(struct walk_engine *e);

/*
 * Evaluate every route of ev->codes at every row of the unit on worker w
 * (and the other threads too when may_split), into ev->out.
 */
void walk_evaluate(struct walk_evaluation *ev, int w, bool may_split);

/* Add to the work done; the calling thread reports progress. */
void walk_tick(struct walk_engine *e, double amount);
/* Whether the caller asked the run to stop; the walk then leaves its
 * work undone and the run fails at the next check. */
bool walk_cancelled(const struct walk_engine *e);
/* The worker the calling thread is: its OpenMP thread number. */
int walk_thread(void);

#endif
