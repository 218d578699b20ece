/*
 * analysis.h - one text analysed and stored as one run: tokenize, run the
 * engine of oracle.h, make the run's records and write them with
 * store.h.  Shared by "duo run" and the browser's New run view, so that a
 * run made either way is the same run: analysis_prepare() takes the
 * model's identity and chooses the routers by one rule for both, then
 * analysis_run() analyses and stores.
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
#include "router.h"
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
	/* space, context, context route, budgets, beam, seed, router mode,
	 * progress and cancel flag; n_threads 0 is OpenMP's number; the
	 * routers are analysis_prepare()'s */
	struct oracle_settings settings;
	/* how the run keeps its loss and KL tables ("duo run --losses");
	 * zero is exact, float32 */
	enum store_tables tables;
	/* A null-model control ("duo run --null-control"): the same
	 * analysis of the same tokens on a model of the same shape and
	 * tokenizer whose weights are the trainer's random initialisation
	 * from null_seed (model_init_random()), built in memory and never
	 * written, stored as a second run whose control_of is the first's.
	 * It evaluates no learned routers (they were trained on the real
	 * model's states). */
	int null_control;
	uint64_t null_seed;
	/* more members of the settings JSON, each after a comma
	 * (",\"shard\":\"2/4\"..."), or NULL */
	const char *extra_settings;
	/* runs.corpus ("duo run --corpus NAME"), or NULL */
	const char *corpus;
	/* a run written window by window that is cancelled is deleted
	 * instead of kept as stopped (the browser's New run, whose cancel
	 * means "never mind"); one that fails is kept either way */
	int discard_incomplete;

	/* Made by analysis_prepare(), freed by analysis_request_free(). */
	char *model_path;               /* the model file's full path, so
					   that runs from other folders
					   compare */
	char model_sha256[SHA256_HEX_SIZE];
	struct duo_router *routers;     /* settings.routers points here */
	int n_routers;
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
	char space[8];                  /* the run's space's name */
	char *label;                    /* a control's label */
	char *model_name;               /* a control's model's name */
	struct analysis *control;       /* the null control's, or NULL */
	/* 1: the run was written window by window, and result, run and
	 * the records are empty (read the run back from the store) */
	int windowed;
	double seconds;                 /* wall time of the analysis */
};

/*
 * Give req the model's identity and the routers asked for, the one rule
 * of "duo run --router" and the New run form alike: model is loaded from
 * model_file, req->settings.space is the run's space.  Each of the
 * n_names router names is a router of the model file, or "all" for every
 * one of them in the file's order; the routers are evaluated in the
 * order named, a repeated one once.  A name the file lacks, "all" on a
 * file with no router, or a router that chooses in another space than
 * the run's fails the request.  On failure req holds nothing to free.
 */
int analysis_prepare(struct analysis_request *req,
    const struct duo_model *model, const char *model_file,
    const char *const *router_names, int n_names, struct duo_error *err);
/* Free what analysis_prepare() made; req may be prepared or zeroed. */
void analysis_request_free(struct analysis_request *req);

/*
 * Analyse req->text with model and write the run to store; req comes
 * from analysis_prepare().  Before the analysis the store must have room
 * for the run (store_check_room()).  On failure (a bad text, no room,
 * cancellation, a store that refuses) nothing is written to store and
 * *out is left empty; a cancelled analysis fails with the code
 * DUO_ERROR_CANCELLED.  When the final write fails (a lock held longer
 * than the busy timeout, a disk filled meanwhile), the run is kept in a
 * side file (store_keep_run()) and the failure has the code
 * DUO_ERROR_KEPT and a message saying where and how to store it, or, if
 * even that failed, a message saying that the results are lost and why.
 *
 * With req->null_control both analyses are made before anything is
 * written (a cancelled or failed one leaves nothing), the progress
 * reported is the real run's for the first half and the control's for
 * the second, then the run and its control are written one after the
 * other, and out->control holds the control.  Should the control's
 * write alone fail, the run stays stored and the control is kept in a
 * side file as above, which the message says.
 */
int analysis_run(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, struct analysis *out,
    struct duo_error *err);
void analysis_free(struct analysis *a);

/*
 * 1 when a run of these settings is written window by window (duo(1),
 * "Long texts"): an exhaustive search, in any context, whose methods
 * chosen over the whole run (fixed, random_best, shuffled) follow from
 * the loss tables stored with each window (a greedy run's shuffled is
 * scored again in its own context, window by window).  Such a run's row is
 * written with status 'running' after its first window is analysed, each
 * window is its own transaction, and the run completes after its last;
 * one that fails or is cancelled on the way is marked 'stopped' (or
 * deleted, with discard_incomplete) and the message (code
 * DUO_ERROR_INCOMPLETE, or DUO_ERROR_CANCELLED) says how to continue it.
 * Its null control is a second such run, begun after the first completes.
 * Beam runs are analysed whole and written in one transaction, as
 * analysis_run() says.
 */
int analysis_windowed(const struct duo_model *model,
    const struct oracle_settings *settings);

/*
 * Continue the run info (read with store_get_run()) from its first window
 * not stored, req made from the run's stored settings and text by the
 * caller, and complete it: the same model file (by its hash; a control's
 * model is the null model of req->null_seed), the same number of tokens
 * and settings that this duo turns into the same settings JSON.  With
 * req->null_control the run's null control is then begun, continued, or
 * left as it is if complete.  out->run_id is the run continued.
 */
int analysis_resume(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, const struct run_info *info,
    struct analysis *out, struct duo_error *err);

/*
 * The null model of a null control: model's shape and tokenizer (borrowed:
 * free it with analysis_null_model_free(), never model_free()) and the
 * trainer's random initialisation from seed; its SHA-256 (its identity in
 * the store, the model never being a file) is that of its parameters as
 * little-endian float32 in layout order.
 */
int analysis_null_model(const struct duo_model *model, uint64_t seed,
    struct duo_model *null, char sha256[SHA256_HEX_SIZE],
    struct duo_error *err);
void analysis_null_model_free(struct duo_model *null);
/* One result row per token and method of result (positions from 1), the
 * route strings in *arena; NULL when out of memory.  Free both. */
struct result_record *analysis_make_results(
    const struct oracle_result *result, size_t *n_results, char **arena);

/* Mean loss of a method over the run's tokens. */
double analysis_mean_loss(const struct oracle_method *m, size_t n);

#endif
