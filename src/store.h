/*
 * store.h - runs kept in SQLite: the schema of doc/design.md section 7 and
 * duo-db(5), its creation and migration (PRAGMA user_version), writing a
 * whole run in one transaction, reading runs back for the TUI and
 * "duo export", and copying runs from one database into another ("duo
 * merge", in store_merge.c).
 *
 * This module owns the database file and every SQL statement of duo; no
 * other module talks to SQLite.  It knows nothing of weights, tokenizers or
 * how results are computed: a run arrives complete in a struct run_record,
 * and the store checks it for sense (routes against the space and the
 * layer count, budgets against routes, finite losses) before it writes.
 *
 * Bytes that may not be UTF-8 (the text, token pieces) are stored as TEXT
 * when they are valid UTF-8 without NUL bytes and as a BLOB of the same
 * bytes otherwise, so sqlite3 shows ordinary text as text and nothing is
 * ever altered.  Reading gives the exact bytes back either way.
 */
#ifndef DUO_STORE_H
#define DUO_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

/* The schema this duo writes; PRAGMA user_version of its databases. */
#define STORE_SCHEMA_VERSION 6
/* PRAGMA application_id of a duo database: "Duo1". */
#define STORE_APPLICATION_ID 0x44756f31

/* Default busy timeout: how long a write waits for another writer. */
#define STORE_BUSY_TIMEOUT_MS 5000

enum store_flags {
	/* Never write, never create: duo export, browsing. */
	STORE_READONLY = 1 << 0,
	/* Create a missing parent folder.  Only for the default path: a
	 * folder named on the command line that does not exist is an error,
	 * since it is more often a typing mistake than a wish. */
	STORE_MAKE_FOLDER = 1 << 1,
	/* One file, with a rollback journal instead of the -wal log: a
	 * side file (store_keep_run()), which people move and send. */
	STORE_ONE_FILE = 1 << 2,
};

struct store;

/*
 * The database to use: from_option (-d FILE) if given, else $DUO_DB, else
 * $XDG_DATA_HOME/duo/runs.db, else $HOME/.local/share/duo/runs.db.
 * Returns a fresh string (free it); *is_default is 1 for the last two.
 */
char *store_default_path(const char *from_option, int *is_default,
    struct duo_error *err);

/*
 * Open the database at path, creating the file and the schema if missing
 * (unless STORE_READONLY), migrating an older schema, refusing a newer one
 * or a file that is not a duo database.  Sets foreign keys, WAL, a busy
 * timeout and synchronous=NORMAL.  A writable open fails at once on a
 * read-only file, so that "duo run" learns it before the analysis.
 */
int store_open(struct store **out, const char *path, int flags,
    struct duo_error *err);
/* store_default_path() then store_open(), making the folder only for the
 * default path (and never when STORE_READONLY). */
int store_open_default(struct store **out, const char *from_option,
    int flags, struct duo_error *err);
void store_close(struct store *store);
const char *store_path(const struct store *store);
/* How long a write waits for a lock held elsewhere before it fails. */
void store_set_busy_timeout(struct store *store, int milliseconds);

/* What identifies a model: its file's hash and its hyperparameters. */
struct model_facts {
	char sha256[SHA256_HEX_SIZE];   /* lower-case hex of the file */
	const char *path;               /* where the file was */
	const char *name;               /* general.name; may be NULL */
	int n_layer, d_model, n_head, d_ff, d_ff_small, n_vocab, n_ctx;
};

/* One token of a run; tokens[pos], pos 0 is BOS. */
struct token_record {
	int32_t token_id;
	const char *piece;              /* piece_length bytes, any bytes */
	size_t piece_length;
	size_t byte_start, byte_end;    /* into the run's text; 0, 0 for BOS */
};

/* One scored token under one method and budget. */
struct result_record {
	int pos;                        /* 1 .. n_tokens */
	const char *method;             /* "oracle", "router:NAME", ...;
					   NAME of A-Z a-z 0-9 _ . - */
	int budget;                     /* big modules the method was held to */
	const char *route;              /* L characters; NULL for random_mean */
	double loss;                    /* nats, finite */
};

/*
 * How a run keeps its loss and KL tables ("duo run --losses"): exact, as
 * float32 in route_losses and route_kl; rounded to IEEE half precision in
 * route_losses_f16 and route_kl_f16, tables of their own so that no
 * reader of route_losses can take them for float32; or not at all.
 */
enum store_tables {
	STORE_TABLES_F32,
	STORE_TABLES_F16,
	STORE_TABLES_NONE,
};

/* "f32", "f16", "none" <-> enum store_tables; parse fails naming the
 * text. */
int store_tables_parse(const char *name, enum store_tables *tables,
    struct duo_error *err);
const char *store_tables_name(enum store_tables tables);

/* Everything one run stores.  The store copies nothing it does not write. */
struct run_record {
	struct model_facts model;
	const char *label;              /* NULL: none */
	const char *created_at;         /* NULL: now, else as
					   YYYY-MM-DDTHH:MM:SSZ (UTC) */
	const char *source;             /* the file's path, or "-" */
	const char *text;               /* the whole text, any bytes */
	size_t text_length;
	const char *space;              /* "BS", "B." or "BS." */
	const char *context;            /* "shared", "fixed" or "greedy" */
	const char *context_route;      /* the fixed mode's route, else NULL */
	const char *settings;           /* a JSON object; NULL is "{}" */
	double seconds;                 /* wall time of the analysis */
	int approximate;                /* 1 if a beam search stood in for */
	int beam_width;                 /* the exhaustive one; else 0, 0 */

	size_t n_tokens;                /* scored tokens: positions 1..n */
	const struct token_record *tokens;      /* [n_tokens + 1] */
	const struct result_record *results;    /* [n_results], any order */
	size_t n_results;
	/* (n_tokens, n_routes) losses of every route of the space for each
	 * token, row p - 1 for position p, route code as in route.h; NULL
	 * when the run keeps no tables (a beam run, say). */
	const float *route_losses;
	/* (n_tokens, n_routes) as route_losses: KL(p_big || p_route) of
	 * every route (route_kl); NULL for none, and only with
	 * route_losses */
	const float *route_kl;
	/* how the tables are written: F32 or F16 (with NONE, or when
	 * route_losses is NULL, none is written) */
	enum store_tables tables;
	/* the run this one is a null-model control of; 0 for none */
	int64_t control_of;
	/* "duo run --corpus NAME"; NULL for none */
	const char *corpus;
	/* 1 when the run's routers chose in soft mode: their rows hold the
	 * budget each router was trained for, and their routes may have
	 * another number of B's */
	int routers_soft;
};

/*
 * Write a run in one transaction (BEGIN IMMEDIATE ... COMMIT), the model
 * added to models by its hash or found there.  On any failure nothing of
 * the run is left and earlier runs are untouched.
 */
int store_write_run(struct store *store, const struct run_record *run,
    int64_t *run_id, struct duo_error *err);

/*
 * Keep a run that the database at db_path refused (a lock held too long,
 * a full disk) in a side file: a new duo database holding only that run,
 * "DB.kept-YYYYMMDDTHHMMSSZ-PID.db" beside the database, else in $TMPDIR
 * (or /tmp) when that folder cannot take it.  "duo merge DB SIDE" stores
 * it.  *side_path is the file's name (free it); on failure nothing is
 * left, and err says why for both places.
 */
int store_keep_run(const char *db_path, const struct run_record *run,
    char **side_path, struct duo_error *err);

/* A run's size, known before its analysis: what it will store. */
struct run_size {
	size_t text_bytes;              /* the text */
	size_t settings_bytes;          /* its settings JSON, about */
	size_t n_tokens;                /* scored tokens */
	size_t n_results;               /* rows of results, at most */
	size_t n_methods;               /* rows of run_means, at most */
	int n_layer;                    /* characters of a route */
	size_t n_tables;                /* rows of route_losses */
	size_t table_bytes;             /* bytes of each */
};

/*
 * Bytes that a run of this size takes in a database of pages of
 * page_size bytes, about and rather more than less (the formula is in
 * store.c and duo-db(5)).
 */
double store_estimate_run_bytes(const struct run_size *size,
    int64_t page_size);

/*
 * Refuse a run that the database could not take now: writing it puts
 * every new page in the -wal log first, then into the database, which
 * grows by what its free pages cannot hold.  The message says what is
 * needed and what is free.  Run it before the analysis, so that a full
 * disk costs seconds, not the analysis.
 */
int store_check_room(struct store *store, const struct run_size *size,
    struct duo_error *err);

/* Where a run stands (runs.status): its windows are being written, it
 * ended before its last one, or every window and the methods chosen over
 * the whole run are in.  UNKNOWN: a value no duo writes (a damaged
 * row). */
enum run_status {
	RUN_UNKNOWN,
	RUN_RUNNING,
	RUN_STOPPED,
	RUN_COMPLETE,
};
const char *store_status_name(enum run_status status);

/* A run as listed, with its model and a summary of its results. */
struct run_info {
	int64_t id;
	int64_t model_id;
	char model_sha256[SHA256_HEX_SIZE];
	char *model_name;               /* may be NULL */
	char *model_path;
	int n_layer, d_model, n_head, d_ff, d_ff_small, n_vocab, n_ctx;
	char *label;                    /* may be NULL */
	char *created_at;
	char *source;
	char space[4];
	char context[8];
	char *context_route;            /* may be NULL */
	/* The settings column: a JSON object as duo writes it, but a shared
	 * database may hold anything there, NUL bytes included. */
	char *settings;                 /* settings_length bytes and a NUL */
	size_t settings_length;
	int settings_is_object;         /* 1: UTF-8 without NUL, and a JSON
					   object by SQLite's json_type */
	char *duo_version;
	int64_t n_tokens;
	double seconds;
	int approximate, beam_width;
	int64_t n_results;
	/* Mean losses over the run's tokens; NAN where the method is absent. */
	double mean_loss_big, mean_loss_small, mean_loss_best;
	/*
	 * Why the run cannot be read, on one line without the database's
	 * path ("run 3: n_tokens is -1"), or "" when its row passes the
	 * checks that store_load_run() makes before it reads anything:
	 * counts that could not size an array, a missing model row, a
	 * required text that is NULL.  Faults in the token and result rows
	 * show only when the run is read (store_load_run() fails with the
	 * code DUO_ERROR_DAMAGED).  Strings of a damaged run are never NULL
	 * where the struct promises text; they may be empty.
	 */
	char damage[160];
	int64_t control_of;             /* the run it controls; 0 for none */
	enum run_status status;
	int64_t tokens_done;            /* positions stored so far */
	char *corpus;                   /* "duo run --corpus"; may be NULL */
};

/*
 * Whether a run that is not complete can be continued: tokens_done at the
 * end of a window of window_tokens (or of the text), its tokens at
 * positions 0 to tokens_done and no row past it.  A hand-edited or
 * damaged file fails with the code DUO_ERROR_DAMAGED, naming the fault.
 */
int store_check_resumable(struct store *store, const struct run_info *info,
    int64_t window_tokens, struct duo_error *err);
/*
 * The one-line refusal of a run that is not complete, naming the
 * database, the run, its status, its share done and the command that
 * continues it, with the code DUO_ERROR_INCOMPLETE; returns -1.
 */
int store_incomplete(const struct store *store, const struct run_info *info,
    struct duo_error *err);
/* The same line without the database's path in front ("run 7 is stopped,
 * 42% done (840 of 2000 tokens); continue it with: duo run --resume 7"),
 * and the share done in whole percent, rounded down: 100 only when every
 * token is done. */
void store_describe_incomplete(const char *db_path,
    const struct run_info *info, char *line, size_t size);
/* The command that continues run_id of the database at db_path: with
 * "-d PATH" (quoted for a shell where it must be) unless db_path is the
 * database duo run opens without -d, or NULL. */
void store_resume_command(const char *db_path, int64_t run_id,
    char *command, size_t size);
int store_share_done(const struct run_info *info);

/*
 * Every run, oldest first, damaged ones included (see damage): one bad
 * run never hides the others.  Free with store_free_runs().
 */
int store_list_runs(struct store *store, struct run_info **runs,
    size_t *n_runs, struct duo_error *err);
void store_free_runs(struct run_info *runs, size_t n_runs);

/*
 * The id of the run that spec names: a number, "last" (the newest run), or
 * a label that exactly one run has.
 */
int store_find_run(struct store *store, const char *spec, int64_t *run_id,
    struct duo_error *err);

/*
 * The newest null-model control of run_id (a run whose control_of is
 * run_id): 0 and its id, 1 when it has none, -1 on error.
 */
int store_find_control(struct store *store, int64_t run_id,
    int64_t *control_id, struct duo_error *err);

/* One run read back whole: tokens in position order, results sorted by
 * (pos, method, budget).  Strings point into memory the struct owns. */
struct run_data {
	struct run_info info;
	char *text;                     /* text_length bytes and a NUL */
	size_t text_length;
	size_t n_tokens;                /* positions 1..n_tokens; [0] is BOS */
	struct token_record *tokens;    /* [n_tokens + 1] */
	struct result_record *results;  /* [n_results] */
	size_t n_results;
	/* [n_tokens + 2]: the results of position p are
	 * results[first_result[p] .. first_result[p + 1] - 1]. */
	size_t *first_result;
	char **methods;                 /* [n_methods] distinct method names */
	size_t n_methods;
	/* private */
	char *pieces;
	char *routes;
};

/*
 * Read a run whole.  A run that fails a check (its info's damage, or token
 * and result rows that disagree with its counts) is refused with one line
 * naming the database, the run and the fault, and the error code
 * DUO_ERROR_DAMAGED; the rest of the database stays readable.  A run that
 * is not complete is refused by store_incomplete().
 */
int store_load_run(struct store *store, int64_t run_id, struct run_data *run,
    struct duo_error *err);
void store_free_run(struct run_data *run);

/*
 * The loss table of one token: n_routes floats into losses, from
 * route_losses or, in a run that keeps half-precision tables, from
 * route_losses_f16 (each value the half widened to float).  Returns 0, or
 * 1 when the run keeps no table for pos, or -1 on error (including a table
 * whose size is not n_routes).
 */
int store_load_route_losses(struct store *store, int64_t run_id, int pos,
    float *losses, size_t n_routes, struct duo_error *err);

/*
 * The KL table of one token (route_kl, or route_kl_f16): n_routes floats,
 * KL(p_big || p_route) by route code, as store_load_route_losses().
 */
int store_load_route_kl(struct store *store, int64_t run_id, int pos,
    float *kl, size_t n_routes, struct duo_error *err);

/*
 * How a run keeps its loss tables, by the tables that hold its rows: F32
 * (route_losses), F16 (route_losses_f16) or NONE; *asked_none is 1 when
 * its settings say it was made with "--losses none" (not a beam run, or
 * a run from before the option, which keep none either).
 */
int store_route_tables(struct store *store, int64_t run_id,
    enum store_tables *tables, int *asked_none, struct duo_error *err);

/* Delete a run with its tokens, results and tables, and its controls. */
int store_delete_run(struct store *store, int64_t run_id,
    struct duo_error *err);

/*
 * Check that a model file (by its hash) is the one a run was made with;
 * a different hash is an error naming both, the run left as it was.
 */
int store_check_model(struct store *store, int64_t run_id,
    const char *sha256_hex, struct duo_error *err);

/* ---- a run written as it goes ------------------------------------------- */

/*
 * A run written window by window (duo(1), LONG TEXTS), so that one killed
 * after hours keeps what it did and "duo run --resume" continues it.
 * store_begin_run() writes the model and the run's row, with status
 * 'running', tokens_done 0 and no rows yet, in one transaction; run holds
 * everything but the rows (tokens, results and tables are ignored) and
 * n_tokens is the whole text's.  Each window is then one transaction of
 * store_write_window(): its tokens, its per-token results and its loss and
 * KL tables as float32, tokens_done moved to its last position and its
 * seconds added to the run's.  The methods chosen over the whole run are
 * written last, between store_complete_begin() and store_complete_run(),
 * which also writes run_means, leaves the tables as the run asked (F16
 * rewritten from the float32 ones, or none) and sets 'complete', all in
 * one transaction.  store_stop_run() marks a run that ends early.
 */
int store_begin_run(struct store *store, const struct run_record *run,
    int64_t *run_id, struct duo_error *err);

/* One window of a run written as it goes. */
struct store_window {
	size_t first_pos;               /* its first position, from 1 */
	size_t n;                       /* positions first_pos .. + n - 1 */
	const struct token_record *bos; /* the run's first window: BOS (pos
					   0), else NULL */
	const struct token_record *tokens;      /* [n] */
	const struct result_record *results;    /* positions in the window */
	size_t n_results;
	const float *route_losses;      /* (n, n_routes) or NULL */
	const float *route_kl;          /* (n, n_routes) or NULL */
	double seconds;                 /* its analysis's wall time */
};

/* Write window w of run run_id (run: its header, as begun). */
int store_write_window(struct store *store, int64_t run_id,
    const struct run_record *run, const struct store_window *w,
    struct duo_error *err);
/* Set a running run's status to 'stopped'. */
int store_stop_run(struct store *store, int64_t run_id,
    struct duo_error *err);

/* Called with each stored float32 loss table of a run, in position
 * order; non-zero stops the scan and is returned (err set). */
typedef int (*store_row_fn)(void *arg, size_t pos, const float *row,
    struct duo_error *err);
int store_scan_route_losses(struct store *store, int64_t run_id,
    size_t n_routes, store_row_fn fn, void *arg, struct duo_error *err);
/* Called with each result of one method, in (pos, budget) order; the
 * route points into SQLite's memory until the call returns. */
typedef int (*store_result_fn)(void *arg, const struct result_record *r,
    struct duo_error *err);
int store_scan_results(struct store *store, int64_t run_id,
    const char *method, store_result_fn fn, void *arg,
    struct duo_error *err);

int store_complete_begin(struct store *store, struct duo_error *err);
/* Results of the run (checked as store_write_run() checks them, against
 * run's header) written inside store_complete_begin(). */
int store_append_results(struct store *store, int64_t run_id,
    const struct run_record *run, const struct result_record *results,
    size_t n, struct duo_error *err);
/* run_means, the tables as asked, 'complete'; then COMMIT.  On failure
 * nothing of the completion stays (the windows do). */
int store_complete_run(struct store *store, int64_t run_id,
    enum store_tables tables, size_t n_routes, struct duo_error *err);
/* Undo an unfinished completion. */
void store_complete_abort(struct store *store);

/* One run's info and, if text is not NULL, its text (free both: the text
 * with free(), the info with store_free_run_info()); a damaged run is
 * refused as store_load_run() refuses it.  Any status. */
int store_get_run(struct store *store, int64_t run_id, struct run_info *info,
    char **text, size_t *text_length, struct duo_error *err);
void store_free_run_info(struct run_info *info);

/* A run's mean loss per method and budget (run_means; budget -1 for
 * best), with the mean number of B's of its routes for best and the
 * routers (NAN for the others). */
struct store_mean {
	char *method;
	int budget;
	int64_t n;
	double mean_loss;
	double mean_spent;
};
int store_run_means(struct store *store, int64_t run_id,
    struct store_mean **means, size_t *n_means, struct duo_error *err);
void store_free_means(struct store_mean *means, size_t n);

/* The token of highest difficulty (small - best; the first of equal
 * ones): 0, or 1 when the run has none (no small modules). */
struct store_hardest {
	int64_t pos;
	char *piece;                    /* free it */
	size_t piece_length;
	double loss_small, loss_best, loss_big;
};
int store_hardest_token(struct store *store, int64_t run_id,
    struct store_hardest *hardest, struct duo_error *err);

/* ---- merging databases (store_merge.c) ---------------------------------- */

enum store_merge_flags {
	/* Leave out a run the output already has, instead of refusing the
	 * input. */
	STORE_MERGE_SKIP_DUPLICATES = 1 << 0,
};

/* A run left out as a duplicate: its id in the input, and the output's
 * run that it repeats. */
struct store_merge_skip {
	int64_t run_id;
	int64_t duplicate_of;
};

/* What store_merge() did with one input. */
struct store_merge_report {
	size_t n_merged;                /* runs copied */
	int64_t first_id, last_id;      /* their new ids, consecutive; 0 if none */
	size_t n_models_added;          /* model rows the output lacked */
	struct store_merge_skip *skipped;       /* [n_skipped], input order */
	size_t n_skipped;
};

/*
 * Copy every run of the database at in_path into out, in one transaction:
 * models found by their hash or added, every id renumbered, every row of
 * the run copied value for value (TEXT stays TEXT, a BLOB a BLOB).  The
 * input is opened read-only and must be a duo database of this schema
 * version and another file than out.  Each run is checked as
 * store_load_run() checks it, and a run that out already has (the same
 * model hash, text, space, context and settings but for "threads") is an
 * error unless STORE_MERGE_SKIP_DUPLICATES; on any error nothing is
 * written.  Free the report with store_merge_report_free().
 */
int store_merge(struct store *out, const char *in_path, int flags,
    struct store_merge_report *report, struct duo_error *err);
void store_merge_report_free(struct store_merge_report *report);

/* ---- settings JSON (store_json.c) ------------------------------------- */

/*
 * The value at path ("$.shard") of the JSON text json, as a fresh string
 * in *value: a string's own text, a number as written, an array or
 * object as JSON.  Returns 0, 1 when there is no such value (or it is
 * null), -1 when json is not JSON.
 */
int store_json_get(struct store *store, const char *json, const char *path,
    char **value, struct duo_error *err);
/* The elements of the array at path, each as store_json_get() gives it;
 * none when path is not an array.  Free with store_json_free_array(). */
int store_json_array(struct store *store, const char *json, const char *path,
    char ***items, size_t *n_items, struct duo_error *err);
void store_json_free_array(char **items, size_t n_items);
/* The keys of the object at path in their order, as store_json_array()
 * gives elements; none when path is not an object. */
int store_json_keys(struct store *store, const char *json, const char *path,
    char ***keys, size_t *n_keys, struct duo_error *err);
/* json without the members at paths (at most 30), as a fresh string. */
int store_json_remove(struct store *store, const char *json,
    const char *const *paths, int n_paths, char **out, struct duo_error *err);

#endif
