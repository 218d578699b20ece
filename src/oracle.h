/*
 * oracle.h - the analysis engine: the loss of every route of a route space
 * for every token of a text in a context mode (doc/design.md sections 3 and
 * 4), and the methods of section 5 derived from those losses.
 *
 * Routes that share their first l choices share layers 0 .. l-1, so the
 * search walks the tree of route prefixes layer by layer, keeping the
 * hidden states of many open prefixes as the rows of one matrix and
 * running every weight matrix over all of them in one product; the LM
 * head and log-softmax of all leaves are products too.  Spaces too large
 * to enumerate are searched with a beam over layers instead, and the run
 * is flagged approximate.
 *
 * Context modes (how positions before p - 1 are routed while route r is
 * tried for token p):
 *   shared: every position of the window uses r; a prefix's rows are the
 *     whole window, attending causally to each other.
 *   fixed: earlier positions use the context route; its keys and values
 *     are cached once per window, and a prefix's rows are the positions
 *     being scored, each attending to the cache and to itself.
 *   greedy: earlier positions use the routes that the same method chose
 *     for them at the same budget: sequential, position by position, each
 *     method and budget (oracle, oracle_free, best) with its own cache of
 *     its own choices; in an exhaustive run all of them are walked as one
 *     tree at each position (search_greedy_together()), in a beam run one
 *     pass each.  Methods that use one route for the whole run
 *     (big, small, fixed, random_best, random_mean) see their own route at
 *     every position, so in greedy mode they equal their shared-mode
 *     values, and the loss tables kept are the shared-mode tables.
 *
 * Methods, at each budget k of the run (default 0 .. L):
 *   big, small: all-B and all-S (small only where the space has S);
 *   oracle@k: per token, the lowest-loss route with exactly k B's (in B.
 *     and BS. the other layers may be S or skip in any mix);
 *   best: per token, the lowest-loss route of the whole space;
 *   fixed@k: the route with exactly k B's of lowest mean loss over the
 *     run (exact from the tables; in a beam run, the best of the random
 *     routes and the most frequent oracle@k routes);
 *   random_best@k, random_mean@k: the best (lowest mean loss over the
 *     run) and the per-token mean of 100 random routes with exactly k B's,
 *     uniform over such routes and distinct; where fewer exist (k = 0 or
 *     k = L, say) all of them.  Drawn from the seed, per budget, the same
 *     routes for every token.
 *   oracle_free@k: per token, the route with exactly k B's whose
 *     next-token distribution is the least KL divergence KL(p_big ||
 *     p_route) from the all-B route's distribution in the same context
 *     (the big method's: all-B everywhere in shared and greedy runs, the
 *     context route before the token in fixed ones), chosen without the
 *     token, then scored by its loss: the label-free oracle.  The head
 *     computes every leaf's log-sum-exp anyway, so the divergence costs
 *     one dot product of length C per leaf and row with the reference's
 *     expected output embedding (model_head_scores()); the reference is
 *     computed once per window before the walk.  Greedy: earlier
 *     positions take oracle_free's own choices at the same budget.  Beam:
 *     a second beam, guided by the divergence alone.
 *   shuffled@k: token p takes oracle@k's route of token order[p], a
 *     seeded derangement of the run's tokens (derive_shuffle_order(),
 *     shuffle_seed), scored on token p: from its loss table in an
 *     exhaustive shared or fixed run, else by oracle_score_routes() in
 *     the run's context (greedy: its own routes before the token).
 *   router:NAME@k: the route learned router NAME takes, choosing layer
 *     by layer from the FFN inputs it sees (router.h), in exact mode
 *     held to k (soft mode: one method at the router's own budget, its
 *     routes' budgets as they fall).  What it sees follows the context
 *     mode: shared, the states of the window when every position takes
 *     the route chosen so far (the same states the oracle scores, read
 *     off the walk of the tree for free, so the router's loss is an
 *     entry of the token's loss table); fixed, its own position's states
 *     against the context route's cache; greedy, every position routed
 *     by the router itself, one plain pass (the deployable reading).  In
 *     a beam run, whose tree is pruned, the router chooses as in greedy
 *     and its routes are then scored in the run's context.
 * Ties go to the lowest route code (of equal losses for oracle and best,
 * of equal divergences for oracle_free).
 *
 * The engine is five files, bottom up: route.h (the route code and its
 * arithmetic), walk.h (the walk of the tree: codes in, loss columns out),
 * search.h (the strategies: which codes at which rows, the beam, the
 * greedy and router passes), derive.h (methods from losses) and this
 * module's oracle.c, which checks settings, allocates results and runs
 * the rest in order.
 *
 * This module computes; it neither prints nor stores.  It sets the number
 * of BLAS threads to 1 while its own threads run (each thread runs whole
 * subtrees, which on two cores beats threaded products) and to n_threads
 * afterwards.
 */
#ifndef DUO_ORACLE_H
#define DUO_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "names.h"
#include "route.h"
#include "router.h"

/* Spaces with more routes than this are searched with a beam. */
#define ORACLE_MAX_ROUTES 65536
#define ORACLE_DEFAULT_BEAM 16
#define ORACLE_RANDOM_ROUTES 100
#define ORACLE_DEFAULT_SEED 1
#define ORACLE_DEFAULT_SHUFFLE_SEED 1
/* Loss and KL tables larger than this together are refused before any
 * work. */
#define ORACLE_MAX_TABLE_BYTES ((size_t)2 << 30)

/* "shared", "fixed", "greedy" <-> enum oracle_context (names.h); parse
 * fails naming the text. */
int oracle_context_parse(const char *name, enum oracle_context *context,
    struct duo_error *err);
const char *oracle_context_name(enum oracle_context context);

/* Called now and then from the calling thread: the share of the work done
 * (0 to 1) and the route-token losses computed so far. */
typedef void (*oracle_progress_fn)(void *arg, double fraction,
    double route_tokens);

struct oracle_settings {
	struct route_space space;
	enum oracle_context context;
	const uint8_t *context_route;   /* fixed: L choices; NULL is all-B */
	const int *budgets;             /* NULL: every k = 0 .. L */
	int n_budgets;
	int beam_width;                 /* > 0: beam search of this width on
					   any space; 0: exhaustive up to
					   max_routes, else a beam of
					   ORACLE_DEFAULT_BEAM */
	uint64_t max_routes;            /* 0: ORACLE_MAX_ROUTES */
	int n_random;                   /* 0: ORACLE_RANDOM_ROUTES */
	uint64_t seed;
	uint64_t shuffle_seed;          /* the shuffled method's order */
	int n_threads;                  /* 0: OpenMP's number */
	size_t max_table_bytes;         /* 0: ORACLE_MAX_TABLE_BYTES */
	int chunk_rows;                 /* rows of prefixes walked together;
					   0: about 1 MB of states (tests
					   set it small to cut the tree
					   into many chunks) */
	double split_flops;             /* subtrees go to the threads when
					   the work below is at least this;
					   0: about a millisecond's (tests
					   set it tiny so that small models
					   use the threads too) */
	int greedy_apart;               /* greedy: walk each method's
					   context alone, one pass each, as
					   a beam run does (tests compare
					   the walk of all of them at once,
					   the default, with it) */
	oracle_progress_fn progress;    /* may be NULL */
	void *progress_arg;
	/* when another thread sets *cancel non-zero, the run stops soon
	 * and fails with the code DUO_ERROR_CANCELLED; may be NULL */
	const volatile int *cancel;
	/* learned routers evaluated as methods router:NAME (their space
	 * must be the run's): in exact mode at every budget of the run, in
	 * soft mode once, at the budget each was trained for */
	const struct duo_router *routers;
	int n_routers;
	enum router_mode router_mode;
};

/* Space BS, shared context, every budget, the default seed. */
void oracle_settings_default(struct oracle_settings *settings);

/* One method at one budget, for every scored token. */
struct oracle_method {
	const char *name;       /* "big", "oracle", ... (names.h; static) */
	int budget;             /* k; -1 for big, small and best, whose
				   budget is each route's number of B's */
	uint8_t *routes;        /* (n_tokens, L) choices; NULL for
				   random_mean */
	float *losses;          /* (n_tokens) nats */
};

struct oracle_result {
	int n_layer;                    /* L */
	size_t n_tokens;                /* scored tokens, positions 1..n */
	uint64_t n_routes;              /* routes in the space */
	/* (n_tokens, n_routes): row p - 1 holds token p's loss under every
	 * route, by route code; NULL in a beam run.  In greedy mode these
	 * are the shared-mode tables. */
	float *tables;
	/* (n_tokens, n_routes), as tables: KL(p_big || p_route) in nats,
	 * the divergence of each route's next-token distribution from the
	 * all-B route's in the same context (oracle_free's criterion);
	 * NULL in a beam run */
	float *kl_tables;
	struct oracle_method *methods;
	size_t n_methods;
	int approximate;                /* 1 in a beam run */
	int beam_width;                 /* its width, else 0 */
	int *budgets;                   /* the budgets evaluated, ascending */
	int n_budgets;
	/* (n_budgets, n_random) codes of the random routes of each budget,
	 * n_random_per_budget[b] of them used */
	uint64_t *random_codes;
	int *n_random_per_budget;
	int n_random;
	char **method_names;            /* "router:NAME" strings the
					   methods point to; n_method_names */
	int n_method_names;
	double flops;                   /* FLOPs the search did */
	double route_tokens;            /* route-token losses it computed */
	double seconds;                 /* wall time */
};

/*
 * Analyse the text tokens[0 .. n_tokens - 1] (BOS not included; each
 * window starts with bos) and fill result.  Fails before any work on bad
 * settings or tables that would pass max_table_bytes.
 */
int oracle_run(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, const struct oracle_settings *settings,
    struct oracle_result *result, struct duo_error *err);
void oracle_result_free(struct oracle_result *result);

/* What a run of these settings will produce, known before any work: for
 * the store to see that the run will fit (analysis.c). */
struct oracle_plan {
	size_t n_methods;               /* at most this many methods */
	int n_budgets;                  /* budgets evaluated */
	uint64_t n_routes;              /* routes in the space */
	int keeps_tables;               /* 1: exhaustive, the loss tables
					   of n_routes floats per token are
					   kept (result.tables) */
};

/* The plan of oracle_run() with these settings; fails as oracle_run()
 * would on settings that do not fit the model. */
int oracle_plan(const struct duo_model *model,
    const struct oracle_settings *settings, struct oracle_plan *plan,
    struct duo_error *err);
/* The method of that name and budget (-1 for big, small, best), or NULL. */
const struct oracle_method *oracle_result_method(
    const struct oracle_result *result, const char *name, int budget);

/*
 * The losses of given routes, one per token, in a context mode: the route
 * that scores token p is routes[(p - 1) * L ..] (what a router chose for
 * it).  shared: the window's positions all use that token's route; fixed:
 * earlier positions use context_route (NULL: all-B); greedy: earlier
 * positions use the routes given for their own tokens, one plain pass.
 */
int oracle_score_routes(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, enum oracle_context context,
    const uint8_t *context_route, const uint8_t *routes, float *losses,
    struct duo_error *err);

/*
 * The FFN inputs (after each slot's RMSNorm) that token p's route
 * codes[p - 1] of the space sees at position p - 1, layer by layer, in
 * the shared context (every position of the window on that route):
 * states (n_tokens, L, C).  What a router reads on the oracle's path.
 */
int oracle_capture_states(const struct duo_model *model, const int32_t *tokens,
    size_t n_tokens, int32_t bos, const struct route_space *space,
    const uint64_t *codes, float *states, struct duo_error *err);

#endif
