/*
 * shard.h - a text cut into N shards for N machines ("duo run --shard
 * I/N") and the shards joined back into one run ("duo merge
 * --join-shards").
 *
 * A shard is the I-th of N contiguous slices of the text's windows (text.h),
 * so that it splits at window boundaries: every window is scored exactly
 * as in a run of the whole text, and its per-token results are the whole
 * run's.  A shard is stored as a run of its own over its slice of the text,
 * with its place in the whole text in the settings JSON (duo-db(5)):
 * "shard" ("I/N"), "shard_windows" (first and last window, from 0),
 * "shard_first_pos" (the whole text's position of its position 1),
 * "shard_first_byte", and the whole text's "text_windows", "text_tokens",
 * "text_bytes" and "text_sha256".  No column of the schema changes.
 *
 * The join copies the per-token methods (big, small, best, oracle,
 * oracle_free, the routers) and recomputes from the loss tables the
 * methods chosen over the whole run (fixed, random_best, random_mean,
 * shuffled), so its stored results are those of one run of the whole
 * text.  It needs the tables: beam runs and greedy runs (whose shuffled
 * method is scored in its own context, not read from a table) cannot be
 * joined.  The joined run is built in memory, as a run of that length
 * would be by "duo run".
 *
 * This module reads and writes through store.h and derives through
 * derive.h; it neither prints nor exits.
 */
#ifndef DUO_SHARD_H
#define DUO_SHARD_H

#include <stddef.h>

#include "error.h"
#include "sha256.h"
#include "store.h"
#include "text.h"

/* Shard index of count: 1 <= index <= count. */
struct shard_spec {
	int index, count;
};

/* "I/N" into spec; fails with a message naming the text. */
int shard_parse(const char *text, struct shard_spec *spec,
    struct duo_error *err);

/* Where a shard lies in its text. */
struct shard_slice {
	size_t first_window, end_window;        /* windows [first, end) */
	size_t n_windows;                       /* of the whole text */
	size_t token_start, token_end;          /* text tokens [start, end) */
	size_t byte_start, byte_end;            /* its bytes of the text */
};

/*
 * The slice of shard spec in a text of length bytes cut into tokens, in
 * windows of n_ctx - 1 tokens: windows floor((I - 1) W / N) to
 * floor(I W / N) - 1 of W.  A text of fewer windows than shards is an
 * error, for every shard alike, so that no shard is empty.
 */
int shard_slice(const struct shard_spec *spec, const struct text_tokens *all,
    size_t length, int n_ctx, struct shard_slice *slice,
    struct duo_error *err);

/* The shard's tokens out of all: ids copied, byte offsets into its slice. */
int shard_tokens(const struct text_tokens *all, const struct shard_slice *slice,
    struct text_tokens *out, struct duo_error *err);

/* The shard's members of the settings JSON, each after a comma, for
 * analysis_request.extra_settings; NULL when out of memory. */
char *shard_settings(const struct shard_spec *spec,
    const struct shard_slice *slice, size_t n_tokens, size_t length,
    const char *text_sha256);

/* What one join made. */
struct shard_join_report {
	int64_t run_id;                 /* the joined run in the output */
	int n_shards;
	size_t n_tokens;
	char *source;                   /* the text's source; free it */
};

/*
 * Join the shard runs of the databases inputs[0 .. n_inputs - 1] into
 * one run of out, in one transaction.  Every run of the inputs must be a
 * shard, all of one text, model and settings, every shard present once,
 * their windows following one another without gap or overlap, with loss
 * tables at every position; otherwise nothing is written and err names
 * the input, the run and the fault.
 */
int shard_join(struct store *out, const char *const *inputs, int n_inputs,
    struct shard_join_report *report, struct duo_error *err);

#endif
