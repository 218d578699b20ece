/*
 * synthetic.h - made-up but self-consistent runs for the store's tests,
 * the example database and the store benchmark.
 *
 * A run's tokens are the words of a text; each token gets a loss table over
 * the whole route space from a simple formula (a base loss, a benefit per
 * layer lost when that layer is small or skipped, and noise per route), and
 * every method of doc/design.md section 5 is computed from those tables here,
 * as the real analysis would: big, small, best, oracle, fixed, random_best,
 * random_mean and routers; on request oracle_free (from made-up KL
 * tables) and shuffled (each token the oracle route of the next, the
 * last the first's).  No model is involved.
 */
#ifndef DUO_TESTS_SYNTHETIC_H
#define DUO_TESTS_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct synthetic_options {
	int n_layer;             /* L */
	const char *space;       /* "BS", "B." or "BS." */
	int n_ctx;
	size_t n_tokens;         /* at most the words of the text */
	int n_routers;           /* router:probe, router:probe2, ... */
	int keep_tables;         /* fill route_losses */
	uint64_t seed;
	const char *model_name;  /* its sha256 is the hash of this name */
	int label_free;          /* add oracle_free and shuffled, and KL
				    tables when keep_tables */
};

struct synthetic_run {
	struct run_record record;
	struct token_record *tokens;     /* [n_tokens + 1] */
	struct result_record *results;
	float *route_losses;             /* (n_tokens, n_routes) */
	float *route_kl;                 /* (n_tokens, n_routes) */
	size_t n_routes;
	char *routes;                    /* arena of route strings */
	char *methods;                   /* arena of router names */
	char *pieces;
};

/* Build a run from text; -1 on bad options or no memory. */
int synthetic_run_make(struct synthetic_run *s, const char *text,
    size_t length, const struct synthetic_options *options);
void synthetic_run_free(struct synthetic_run *s);

/* Read a file whole (NUL-terminated); NULL on failure. */
char *synthetic_read_file(const char *path, size_t *length);

#endif
