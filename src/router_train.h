/*
 * router_train.h - stage 3 of the Duo method: training a learned router
 * (router.h) on a frozen Duo model, in two ways.
 *
 * paper: as the paper does.  During training the FFN slot's output is
 *   the mixture sum_c P(c) module_c(xn) of its modules' outputs, P the
 *   softmax of the router's logits times a sharpness (inverse
 *   temperature) that rises geometrically from sharpness_start to
 *   sharpness_end over the steps, towards hard choices.  The loss is the
 *   mean cross-entropy of the next token plus
 *   alpha * mean over sequences of (Pbig - k / L)^2, Pbig a sequence's
 *   mean over its positions and layers of P(big): the budget holds per
 *   sequence on average, so a router may spend more on some tokens and
 *   less on others.  Gradients flow through every layer of the frozen
 *   model to the routers of earlier layers; AdamW (no decay) updates the
 *   router's weights only.
 *
 * oracle: cross-entropy on the oracle's choices at budget k.  Label
 *   windows (BOS and n_ctx - 1 tokens each, at seeded random offsets of
 *   the training text) are analysed by the engine of oracle.h in the
 *   shared context; the router then reads, at every layer, the FFN input
 *   on the oracle's own route (teacher forcing), so each layer's router
 *   is a softmax regression of the oracle's choice on that input,
 *   trained full-batch with Adam.  Weighted ("regret"): each (token,
 *   layer) counts in proportion to what the best wrong choice there
 *   costs, the lowest loss among routes of budget k that follow the
 *   oracle up to that layer and then differ, minus the oracle's loss
 *   (plus 0.01 nats, so that no example vanishes), normalised to a mean
 *   weight of 1.
 *   Label-free target: the same, with oracle_free's choices at budget k
 *   (the route closest to all-big's next-token distribution, chosen
 *   without the next token) in place of the oracle's; weighted, a wrong
 *   choice costs its divergence from all-big rather than its loss.
 */
#ifndef DUO_ROUTER_TRAIN_H
#define DUO_ROUTER_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "router.h"

struct router_train_options {
	int steps;                 /* optimizer steps */
	int batch;                 /* paper: sequences of n_ctx per step */
	float lr;
	uint32_t seed;
	float alpha;               /* paper */
	float sharpness_start;     /* paper */
	float sharpness_end;       /* paper */
	size_t label_tokens;       /* oracle: tokens labelled */
	int weighted;              /* oracle: regret weighting */
	int label_free;            /* oracle: learn oracle_free's choices */
};

/* paper: 300 steps of 8 sequences, lr 3e-3, alpha 1, sharpness 1 to 20;
 * oracle: 400 full-batch steps, lr 1e-2, 4096 tokens, unweighted. */
void router_train_defaults(struct router_train_options *o,
    enum router_kind kind);

/* Phase ("labels", "states", "training"), fraction of it done, and the
 * last training loss (NAN before the first). */
typedef void (*router_train_progress_fn)(void *arg, const char *phase,
    double fraction, double loss);

/*
 * Train router (allocated by router_alloc with its kind, space and budget)
 * on the corpus tokens; its settings fields are filled.  The model is only
 * read.  BLAS runs on one thread while the OpenMP threads split the work.
 */
int router_train(const struct duo_model *model, struct duo_router *router,
    const int32_t *tokens, size_t n_tokens, int32_t bos,
    const struct router_train_options *options,
    router_train_progress_fn progress, void *progress_arg,
    struct duo_error *err);

/*
 * The paper kind's loss on fixed sequences (tests): the mean
 * cross-entropy plus the budget penalty, at a sharpness; when grad is not
 * NULL, its gradient with respect to the router's weights (L, m, C) is
 * written there.  inputs and targets hold n_seq sequences of n_ctx.
 */
int router_paper_loss(const struct duo_model *model,
    const struct duo_router *router, const int32_t *inputs,
    const int32_t *targets, int n_seq, float alpha, float sharpness,
    double *loss, float *grad, struct duo_error *err);

#endif
