/*
 * router.h - learned routers (doc/design.md sections 1, 5 and 6): one linear
 * layer per FFN slot that reads the slot's input after its RMSNorm (the
 * rows the FFN modules see) and gives a logit for every choice of a route
 * space.  This module owns a router's weights and settings, reading and
 * writing them in a model file, its logits, and the causal rule that turns
 * logits into choices under a budget.  It must not run a forward pass of
 * its own: router_window_pass() hands its logits and choice, as a route
 * decider, to model.c's pass (model_window_decided()).  Training is in
 * router_train.h.
 *
 * In the model file (duo-model(5)), router NAME is
 *   blk.N.router.NAME.weight   F32, ne = [C, m]: row c is choice c's
 *                              weights, choices in the order of the
 *                              space's name (BS: B then S)
 *   duo.router.NAME.kind       string  "paper" or "oracle"
 *   duo.router.NAME.space      string  "BS", "B." or "BS."
 *   duo.router.NAME.budget     u32     the k it was trained for
 * and the training facts under duo.router.NAME.* (router_save()).
 *
 * Choosing a route, layer by layer (router_choose()):
 *   soft: the choice of the largest logit; the budget holds only on
 *     average, as training pushed it to;
 *   exact: exactly k B's: B where the router prefers it (largest logit)
 *     while B's remain, B forced once the layers left equal the B's left,
 *     never B once they are spent (then the best of the other choices).
 * Ties go to the earlier choice of the space.
 */
#ifndef DUO_ROUTER_H
#define DUO_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "route.h"

/* Names are plain words: letters, digits, '_', '.', '-'. */
#define ROUTER_NAME_MAX 40

enum router_kind {
	ROUTER_PAPER,    /* softmax mixture, budget penalty (the paper) */
	ROUTER_ORACLE,   /* cross-entropy on the oracle's choices */
};

enum router_mode {
	ROUTER_EXACT,
	ROUTER_SOFT,
};

struct duo_router {
	char name[ROUTER_NAME_MAX + 1];
	enum router_kind kind;
	struct route_space space;
	int n_layer, d_model;
	int budget;                  /* k it was trained for */
	float *weight;               /* (L, m, C) */

	/* how it was trained, kept in the file */
	float alpha;                 /* paper: budget penalty weight */
	float sharpness_start;       /* paper: inverse temperature */
	float sharpness_end;
	float learning_rate;
	int steps;
	uint32_t seed;
	uint64_t tokens;             /* tokens it learned from */
	char data[128];              /* the training text's file name */
	char weighting[16];          /* oracle: "none" or "regret" */
	char target[16];             /* oracle: the method whose choices it
					learned, "oracle" or "oracle_free" */
	float final_loss;            /* last training loss */
};

const char *router_kind_name(enum router_kind kind);
int router_kind_parse(const char *name, enum router_kind *kind,
    struct duo_error *err);
const char *router_mode_name(enum router_mode mode);
int router_mode_parse(const char *name, enum router_mode *mode,
    struct duo_error *err);

/* Check a name: 1 to ROUTER_NAME_MAX plain characters. */
int router_name_check(const char *name, struct duo_error *err);

/* A router of zero weights for config and space. */
int router_alloc(struct duo_router *router, const char *name,
    enum router_kind kind, const struct route_space *space, int budget,
    const struct duo_config *config, struct duo_error *err);
void router_free(struct duo_router *router);

/*
 * Every router of the model file at path, checked against config (layer
 * count, width, shapes, a budget within 0..L, a known space).  *routers
 * is NULL and *n 0 when there are none.
 */
int router_load_all(const char *path, const struct duo_config *config,
    struct duo_router **routers, int *n, struct duo_error *err);
void router_free_all(struct duo_router *routers, int n);
/* The router of that name, or NULL. */
const struct duo_router *router_find(const struct duo_router *routers, int n,
    const char *name);

/*
 * Write model and routers (in this order) as a new model file at path,
 * atomically (a temporary file renamed over path), the model's tensors in
 * type, the routers' in F32.
 */
int router_save(const struct duo_model *model,
    const struct duo_router *routers, int n, const char *path,
    enum gguf_tensor_type type, struct duo_error *err);

/* logits (n, m) of layer for n FFN inputs xn (n, C). */
void router_logits(const struct duo_router *router, int layer,
    const float *xn, int n, float *logits);

/*
 * The digit (index in the space) chosen at layer from its logits (m),
 * given the B's already used by the route: see the rules above.  k is
 * the budget for exact mode.
 */
int router_choose(const struct duo_router *router, enum router_mode mode,
    int k, int layer, int used, const float *logits);

/*
 * The routes a router takes in one window when every position follows
 * its own choices (the deployable reading: the greedy context): routes
 * (T, L) choices (enum route_choice) and, when losses is not NULL, the
 * losses of positions 0 .. T - 2 against tokens 1 .. T - 1.  The pass is
 * model_window_decided() with router_logits() and router_choose() as its
 * decider.
 */
int router_window_pass(const struct duo_model *model,
    const struct duo_router *router, enum router_mode mode, int k,
    const int32_t *tokens, int T, uint8_t *routes, float *losses,
    struct duo_error *err);

#endif
