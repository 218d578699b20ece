/*
 * analysis.h - one text analysed and stored as one run: tokenize, run the
 * engine of oracle.h, make the run's records and write them with
 * store.h.  Shared by "duo run" and the browser's New run view, so that a
 * run made either way is the same run.
 *
 * Like every library module it neither prints nor exits; progress and
 * cancellation go through the oracle settings (progress, cancel).
 */
#ifndef DUO_ANALYSIS_H
#define DUO_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "oracle.h"
#include "sha256.h"
#include "store.h"
#include "text.h"

struct analysis_request {
	const char *label;              /* NULL: none */
	const char *source;             /* the file's path, or "-" */
	const char *input_name;         /* for messages: a path or
					   "standard input" */
	const char *text;               /* the whole text, any bytes */
	size_t length;
	/* its tokens if the caller has made them already (to show their
	 * count, say), taken over by the analysis and emptied; NULL: the
	 * analysis tokenizes the text */
	struct text_tokens *tokens;
	const char *model_path;         /* as stored (a full path) */
	char model_sha256[SHA256_HEX_SIZE];
	/* space, context, context route, budgets, beam, seed, routers,
	 * progress and cancel flag; n_threads 0 is OpenMP's number */
	struct oracle_settings settings;
};

/* What the analysis found, for a summary; free with analysis_free(). */
struct analysis {
	int64_t run_id;
	struct text_tokens tokens;
	struct oracle_result result;
	struct run_record run;          /* as written; points into the rest */
	struct token_record *token_records;
	struct result_record *results;
	char *arena;                    /* route strings of results */
	char *settings_json;
	char *context_text;
};

/*
 * Analyse req->text with model and write the run to store.  On failure
 * (a bad text, cancellation, a store that refuses) nothing is written and
 * *out is left empty.  If test_pause is set, sleep that many seconds
 * between the analysis and the write (for tests that kill a run then).
 */
int analysis_run(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, double test_pause,
    struct analysis *out, struct duo_error *err);
void analysis_free(struct analysis *a);

/* Mean loss of a method over the run's tokens. */
double analysis_mean_loss(const struct oracle_method *m, size_t n);

#endif
