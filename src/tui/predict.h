/*
 * predict.h - the model's top predictions for one token of an open run
 * (predict.c), computed in a thread of its own; the app follows it as a
 * worker (view.h).
 */
#ifndef DUO_TUI_PREDICT_H
#define DUO_TUI_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include "run.h"

#define PREDICT_TOP 5

struct prediction {
	int32_t token_id;
	double probability;
	char piece[64];                 /* its bytes, not terminated */
	size_t piece_length;
};

struct predictions {
	int ok;                         /* 0: message says why not */
	int pending;                    /* being computed: ask again */
	char message[1024];
	struct prediction top[PREDICT_TOP];
	int n_top;
	double actual_probability;      /* of the token at the position */
	int actual_rank;                /* 1 = most likely */
};

struct predictor;

struct predictor *predictor_new(void);
void predictor_free(struct predictor *predictor);
/*
 * The model's top predictions for position pos of run under method at
 * budget k, in the run's context mode, if they are known; else they are
 * asked of a thread, which finds and loads the model on the first
 * request, and the answer says they are pending.  Any predictor function
 * takes NULL as a predictor that never had a request.
 */
const struct predictions *predictor_get(struct predictor *predictor,
    const struct tui_run *run, int method, int k, size_t pos);
/* Is an answer being computed?  Has one come since the last poll? */
int predictor_busy(struct predictor *predictor);
int predictor_poll(struct predictor *predictor);
/* Wait until every request is answered (for the headless mode). */
void predictor_wait(struct predictor *predictor);

#endif
