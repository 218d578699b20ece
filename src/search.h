/*
 * search.h - the strategies of an oracle run over the walk of walk.h: the
 * exhaustive loss tables, the beam search that stands in for them on
 * spaces too large to enumerate, the greedy passes of the greedy context,
 * and the learned routers' passes; and one run's state, struct search,
 * that oracle.c sets up and these passes share.
 *
 * This module owns which routes are evaluated, at which rows and against
 * which cache: windows, the context's cache, beams, greedy positions.  It
 * must not touch the walk's buffers or threads (walk.h), derive methods
 * from losses (derive.h) or check settings and allocate results
 * (oracle.c).  Ties go to the lowest route code.
 */
#ifndef DUO_SEARCH_H
#define DUO_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "oracle.h"
#include "route.h"
#include "walk.h"

/* What a greedy position costs besides its leaves, in route-token losses
 * per layer, for the progress fraction: on a small model the walk of one
 * row through the layers costs about twenty leaves' worth per layer. */
#define GREEDY_POSITION_WORK 20

/* A window of the text: BOS and up to n_ctx - 1 tokens. */
struct window {
	int32_t *ids;           /* (N) */
	int T;                  /* positions; rows T - 1 */
	size_t first;           /* its first text token: run position
				   first + 1 */
	int *positions;         /* (N) 0, 1, 2, ... */
};

struct beam_state;

/* One run's state, from its settings to the passes' buffers. */
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
	struct walk_engine engine;
	int *budgets, n_budgets;
	bool exhaustive;
	int width;
	uint64_t n_routes;
	uint8_t *route_budget;          /* [n_routes] when exhaustive */
	uint64_t *all_codes;            /* [n_routes] when exhaustive */
	float *row_losses;              /* [n_routes] one greedy position */
	/* the label-free oracle (set label_free before search_init()):
	 * the reference of the current window, the all-B route's
	 * next-token distribution at each row, in the shared context or
	 * against the fixed context's cache (search_reference()) */
	bool label_free;
	float *reference_p;             /* (N, V) its probabilities */
	float *reference;               /* (N, C) sum_v p[v] E_v per row */
	double *reference_plogp;        /* (N) sum p ln p of each row */
	float *reference_losses;        /* (N) scratch */
	float *row_kl;                  /* [n_routes] one greedy position */
	struct beam_state *beams;       /* [n_workers] */
	/* routers: their methods (n_routers, n_router_budgets) and, in
	 * exhaustive shared and fixed runs, their logits at every node */
	struct oracle_method **router_methods;
	int n_router_budgets;
	float **router_logits;          /* [n_router_logits] */
	int n_router_logits;
	struct duo_error *err;
};

/*
 * The engine, windows, context cache and the exhaustive or beam buffers
 * of a search whose model, settings, space, L, N, exhaustive and width are
 * set; search_free() it even when this fails.
 */
int search_init(struct search *s, const struct duo_model *model,
    const struct oracle_settings *settings, struct duo_error *err);
void search_free(struct search *s);

/* Load window w of the text into s->window. */
void search_load_window(struct search *s, size_t w);
/* Fill the cache with the window's positions 0 .. T-2 under the context
 * route. */
int search_cache_context(struct search *s);

/*
 * The reference of the label-free oracle for the window loaded: the
 * all-B route's next-token distribution at each of its rows, with every
 * position all-B (shared) or against the cache of the context route
 * (fixed; search_cache_context() first), into s->reference and
 * s->reference_plogp.
 */
void search_reference(struct search *s, bool fixed);

/*
 * Losses of the routes codes[0 .. n - 1] for every token of the text,
 * into out (n_tokens, n), with every position of a window using the route
 * (shared) or only the scored one, the rest the context route (fixed);
 * when kl is not NULL, each route's KL divergence from the all-B route's
 * distribution in the same context into kl (n_tokens, n); the routers'
 * methods are filled on the way when their logits are kept.
 */
int search_table_pass(struct search *s, const uint64_t *codes, size_t n,
    bool fixed, float *out, float *kl);

/*
 * oracle@k and best by beam search in the shared or fixed context: a beam
 * per window (shared), or per position (fixed, positions on the threads);
 * when oracle_free is not NULL, oracle_free@k too, by a second beam
 * guided by the KL divergence from the all-B route (never by a loss).
 */
int search_beam_pass(struct search *s, bool fixed,
    struct oracle_method **oracle, struct oracle_method *best,
    struct oracle_method **oracle_free);

/*
 * One greedy pass: position q's route is the method's own choice for
 * token q + 1 (oracle at budget k, or best when k < 0; with label_free,
 * oracle_free at budget k: the least KL divergence from the all-B
 * route's distribution in the shared context), found with the earlier
 * positions routed by the choices already made in this pass.
 */
int search_greedy_pass(struct search *s, int k, bool label_free,
    struct oracle_method *method);

/*
 * Every greedy pass of an exhaustive run at once, as search_greedy_pass()
 * would make them one after the other (the same routes, the losses equal
 * but for the order BLAS sums products of other row counts in): the
 * oracle and oracle_free contexts of every budget and best's, each with
 * its own cache, walked as one tree per position.
 */
int search_greedy_together(struct search *s, struct oracle_method **oracle,
    struct oracle_method **oracle_free, struct oracle_method *best);

/*
 * Routers where the tree is not walked whole (greedy and beam runs):
 * every position of a window follows the router's own choices, one pass
 * per router and budget, into the routers' methods.  In greedy mode
 * those are the losses; otherwise the caller scores the routes in the
 * run's context.
 */
int search_routers_pass(struct search *s);

/*
 * The routes a beam run evaluates exactly for every token: all-B, all-S,
 * the random routes, and for fixed@k the width most frequent oracle@k
 * routes; *out (ascending, *n_out of them) is the caller's to free.
 */
int search_beam_columns(struct search *s, struct oracle_result *result,
    struct oracle_method **oracle, uint64_t **out, size_t *n_out);

#endif
