/*
 * store_merge.c - "duo merge": every run of one duo database copied into
 * another.  Part of the store module (store.h; store_internal.h is what it
 * shares with store.c).
 *
 * The input is untrusted and must never be written, so it has its own
 * connection, opened read-only by store_open(); the output's connection
 * never sees the input file (an ATTACH would put both under one
 * connection that may write).  Rows pass from one connection to the other
 * as sqlite3_values, so every value keeps its type and its bytes.  Every
 * run of the input is checked before the output is locked; one
 * transaction of the output then looks for duplicates and copies, so an
 * input is merged whole or not at all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "route.h"
#include "store_internal.h"

/*
 * Every table of the schema, with its columns in order: what a merge
 * copies.  A new schema version that adds a table or a column adds it
 * here (and says how its ids map, if it holds any); until then
 * check_tables() refuses to merge rather than leave out what it does not
 * know.  models and runs come first; the tables of a run's rows follow in
 * an order their foreign keys allow, each tied to its run by its first
 * column, run_id.
 */
static const struct merged_table {
	const char *name;
	const char *columns;
} merged_tables[] = {
	{ "models", "id, sha256, path, name, n_layer, d_model, n_head, d_ff, "
	  "d_ff_small, n_vocab, n_ctx, created_at" },
	{ "runs", "id, model_id, label, created_at, source, text, n_tokens, "
	  "space, context, context_route, settings, seconds, approximate, "
	  "beam_width, n_results, duo_version, control_of, status, tokens_done, "
	  "corpus" },
	{ "tokens", "run_id, pos, token_id, piece, byte_start, byte_end, "
	  "window_index, window_pos" },
	{ "results", "run_id, pos, method, budget, route, loss" },
	{ "route_losses", "run_id, pos, losses" },
	{ "route_kl", "run_id, pos, kl" },
	{ "route_losses_f16", "run_id, pos, losses" },
	{ "route_kl_f16", "run_id, pos, kl" },
	{ "run_means", "run_id, method, budget, n, mean_loss" },
};
#define N_MERGED_TABLES (sizeof merged_tables / sizeof merged_tables[0])
#define MODELS_TABLE 0
#define RUNS_TABLE 1
#define FIRST_RUN_TABLE 2

/* The columns of runs copied as they are: all but id and model_id, which
 * the output gives, and control_of, an id of the input that link_controls()
 * maps once every run is in.  A run copied while 'running' is 'stopped' in
 * the output, where no duo writes it (merge_run()). */
#define RUNS_COPIED_COLUMNS "label, created_at, source, text, n_tokens, " \
	"space, context, context_route, settings, seconds, approximate, " \
	"beam_width, n_results, duo_version, status, tokens_done, corpus"

/* The longest SQL that copy_rows() builds. */
#define COPY_SQL_SIZE 1024

/* One input being merged into the output. */
struct merge {
	struct store *out;
	struct store *in;
	int flags;                      /* enum store_merge_flags */
	struct run_info *runs;          /* [n_runs] the input's, by id */
	size_t n_runs;
	int64_t *new_id;                /* [n_runs] the output's id, or 0 */
	struct store_merge_report *report;
};

/* The list of columns after its first n. */
static const char *
columns_after(const char *columns, int n)
{
	for (; n > 0; n--)
		columns = strchr(columns, ',') + 2;
	return columns;
}

static int
count_columns(const char *columns)
{
	int n = 1;

	for (; *columns != '\0'; columns++)
		n += *columns == ',';
	return n;
}

/*
 * Refuse to merge a file into itself, whatever names it has (a link, a
 * path with "./"): its runs would be copied while they are being added.
 */
static int
check_other_file(const struct store *out, const char *in_path,
    struct duo_error *err)
{
	struct stat in, outs;

	/* a missing input: store_open() says so */
	if (stat(in_path, &in) != 0 || stat(out->path, &outs) != 0)
		return 0;
	if (in.st_dev == outs.st_dev && in.st_ino == outs.st_ino)
		return error_set(err, "%s: is the output database %s itself",
		    in_path, out->path);
	return 0;
}

/*
 * Text that SQLite would convert on the way: duo writes UTF-8 databases,
 * and a UTF-16 one would not give a piece's bytes back unchanged.
 */
static int
check_encoding(struct store *in, struct duo_error *err)
{
	const unsigned char *encoding = NULL;
	sqlite3_stmt *stmt;
	int rc;

	if (store_prepare(in, &stmt, "PRAGMA encoding", err) != 0)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		encoding = sqlite3_column_text(stmt, 0);
	rc = rc == SQLITE_ROW && encoding != NULL &&
	    strcmp((const char *)encoding, "UTF-8") == 0 ? 0 :
	    rc == SQLITE_ROW ? 1 : -1;
	sqlite3_finalize(stmt);
	if (rc < 0)
		return store_fail(in, err, "reading the schema");
	if (rc > 0)
		return error_set(err, "%s: the database's text is not UTF-8, "
		    "as duo writes it", in->path);
	return 0;
}

/*
 * The tables of a database and their columns against merged_tables: an
 * input that differs is not what its version says, and an output that
 * differs has a schema this file was not taught to copy.
 */
static int
check_tables(struct store *store, struct duo_error *err)
{
	static const char sql[] =
	    "SELECT m.name, (SELECT group_concat(name, ', ') FROM"
	    " (SELECT name FROM pragma_table_info(m.name) ORDER BY cid))"
	    " FROM sqlite_master AS m WHERE m.type = 'table'"
	    " AND m.name NOT LIKE 'sqlite^_%' ESCAPE '^'";
	const char *name, *columns;
	sqlite3_stmt *stmt;
	size_t i, found = 0;
	int rc;

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(stmt, 0);
		columns = (const char *)sqlite3_column_text(stmt, 1);
		for (i = 0; i < N_MERGED_TABLES && name != NULL; i++)
			if (strcmp(merged_tables[i].name, name) == 0)
				break;
		if (name == NULL || i == N_MERGED_TABLES || columns == NULL ||
		    strcmp(columns, merged_tables[i].columns) != 0) {
			error_set(err, "%s: table %.60s is not one of schema "
			    "version %d, or has other columns; duo merge copies "
			    "only the tables it knows", store->path,
			    name != NULL ? name : "", STORE_SCHEMA_VERSION);
			sqlite3_finalize(stmt);
			return -1;
		}
		found++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "reading the schema");
	if (found != N_MERGED_TABLES)
		return error_set(err, "%s: tables of schema version %d are "
		    "missing", store->path, STORE_SCHEMA_VERSION);
	return 0;
}

/*
 * The integers of the first row of a query with the parameters params:
 * 0, or 1 when there is no row.
 */
static int
query_ints(struct store *store, const char *sql, const int64_t *params,
    int n_params, int64_t *values, int n_values, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	int i, rc;

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	for (i = 0; i < n_params; i++)
		sqlite3_bind_int64(stmt, i + 1, params[i]);
	rc = sqlite3_step(stmt);
	for (i = 0; i < n_values && rc == SQLITE_ROW; i++)
		values[i] = sqlite3_column_int64(stmt, i);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return store_fail(store, err, "reading the runs");
	return 0;
}

/* A run whose model row is missing would not even be listed. */
static int
check_models_present(struct store *in, struct duo_error *err)
{
	int64_t row[2];
	int rc;

	rc = query_ints(in, "SELECT id, model_id FROM runs WHERE model_id"
	    " NOT IN (SELECT id FROM models) ORDER BY id LIMIT 1", NULL, 0,
	    row, 2, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return error_set(err, "%s: run %" PRId64 ": its model %" PRId64
		    " is not in the models table", in->path, row[0], row[1]);
	return 0;
}

/* The loss and KL tables of a run: on its positions, n_routes float32
 * each, or n_routes halves in the F16 tables. */
static int
check_loss_tables(struct store *in, const struct run_info *info,
    struct duo_error *err)
{
	static const struct {
		const char *sql, *what;
		int width;
	} tables[] = {
		{ "SELECT pos, length(losses) FROM route_losses"
		  " WHERE run_id = ?1 AND (pos < 1 OR pos > ?2 OR"
		  " typeof(losses) != 'blob' OR length(losses) != ?3)"
		  " ORDER BY pos LIMIT 1", "loss table", 4 },
		{ "SELECT pos, length(kl) FROM route_kl"
		  " WHERE run_id = ?1 AND (pos < 1 OR pos > ?2 OR"
		  " typeof(kl) != 'blob' OR length(kl) != ?3)"
		  " ORDER BY pos LIMIT 1", "KL table", 4 },
		{ "SELECT pos, length(losses) FROM route_losses_f16"
		  " WHERE run_id = ?1 AND (pos < 1 OR pos > ?2 OR"
		  " typeof(losses) != 'blob' OR length(losses) != ?3)"
		  " ORDER BY pos LIMIT 1", "F16 loss table", 2 },
		{ "SELECT pos, length(kl) FROM route_kl_f16"
		  " WHERE run_id = ?1 AND (pos < 1 OR pos > ?2 OR"
		  " typeof(kl) != 'blob' OR length(kl) != ?3)"
		  " ORDER BY pos LIMIT 1", "F16 KL table", 2 },
	};
	struct route_space space;
	struct duo_error ignored;
	uint64_t n_routes;
	int64_t params[3], row[2];
	size_t t;
	int rc;

	if (route_space_parse(&space, info->space, &ignored) != 0)
		return error_set(err, "%s: run %" PRId64 ": space '%s' is not "
		    "BS, B. or BS.", in->path, info->id, info->space);
	n_routes = route_space_size(&space, info->n_layer);
	params[0] = info->id;
	params[1] = info->n_tokens;
	for (t = 0; t < sizeof tables / sizeof tables[0]; t++) {
		/* SQLite's longest value is 1e9 bytes, as store_write_run()
		 * knows: no table of a larger space can be right. */
		params[2] = n_routes > 0 && n_routes <= 250000000 ?
		    (int64_t)n_routes * tables[t].width : -1;
		rc = query_ints(in, tables[t].sql, params, 3, row, 2, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && (row[0] < 1 || row[0] > info->n_tokens))
			return error_set(err, "%s: run %" PRId64 ": a %s lies "
			    "outside the run's tokens", in->path, info->id,
			    tables[t].what);
		if (rc == 0)
			return error_set(err, "%s: run %" PRId64 ", position %"
			    PRId64 ": the %s has %" PRId64 " bytes, not %"
			    PRId64, in->path, info->id, row[0], tables[t].what,
			    row[1], params[2]);
	}
	return 0;
}

/*
 * The checks of store_load_run() on a run of the input, made with queries
 * so that a run of any size costs no memory: counts that could size
 * arrays, tokens at every position from 0 to n_tokens, n_results results
 * all on those positions, loss tables of the space's size, and settings
 * and a model hash that the duplicate test can read.
 */
static int
check_input_run(struct store *in, const struct run_info *info,
    struct duo_error *err)
{
	/* A run that is not complete has its tokens and per-token results
	 * up to tokens_done, and n_results 0 until it completes. */
	int complete = info->status == RUN_COMPLETE;
	int64_t last = complete ? info->n_tokens : info->tokens_done;
	int64_t params[2] = { info->id, last }, v[3];

	if (store_refuse_damaged(in, info, err) != 0)
		return -1;
	if (query_ints(in, "SELECT count(*), min(pos), max(pos) FROM tokens"
	    " WHERE run_id = ?1", params, 1, v, 3, err) != 0)
		return -1;
	if ((last > 0 || complete) && (v[0] != last + 1 || v[1] != 0 ||
	    v[2] != last))
		return error_set(err, "%s: run %" PRId64 ": the tokens do not "
		    "run from 0 to %" PRId64, in->path, info->id, last);
	if (last == 0 && !complete && v[0] != 0)
		return error_set(err, "%s: run %" PRId64 ": it has tokens, but "
		    "none done", in->path, info->id);
	if (query_ints(in, "SELECT count(*), count(CASE WHEN pos < 1"
	    " OR pos > ?2 THEN 1 END) FROM results WHERE run_id = ?1",
	    params, 2, v, 2, err) != 0)
		return -1;
	if (v[1] != 0)
		return error_set(err, "%s: run %" PRId64 ": a result lies "
		    "outside the run's tokens", in->path, info->id);
	if (complete && v[0] != info->n_results)
		return error_set(err, "%s: run %" PRId64 ": n_results is %"
		    PRId64 ", but it has %" PRId64 " results", in->path,
		    info->id, info->n_results, v[0]);
	if (query_ints(in, "SELECT CASE WHEN json_valid(r.settings)"
	    " THEN json_type(r.settings) = 'object' ELSE 0 END,"
	    " length(m.sha256) = 64 AND m.sha256 NOT GLOB '*[^0-9a-f]*'"
	    " FROM runs AS r JOIN models AS m ON m.id = r.model_id"
	    " WHERE r.id = ?1", params, 1, v, 2, err) != 0)
		return -1;
	if (v[0] != 1)
		return error_set(err, "%s: run %" PRId64 ": settings is not a "
		    "JSON object", in->path, info->id);
	/* merge_model() finds the output's model by this hash */
	if (v[1] != 1)
		return error_set(err, "%s: run %" PRId64 ": its model's sha256 "
		    "is not 64 lower-case hex digits", in->path, info->id);
	return check_loss_tables(in, info, err);
}

/* Read and check the input's runs, before the output is locked. */
static int
load_input_runs(struct merge *m, struct duo_error *err)
{
	size_t i;

	if (check_models_present(m->in, err) != 0 ||
	    store_list_runs(m->in, &m->runs, &m->n_runs, err) != 0)
		return -1;
	for (i = 0; i < m->n_runs; i++)
		if (check_input_run(m->in, &m->runs[i], err) != 0)
			return -1;
	if (m->n_runs > 0) {
		m->report->skipped = calloc(m->n_runs,
		    sizeof *m->report->skipped);
		if (m->report->skipped == NULL)
			return error_set(err, "out of memory");
	}
	return 0;
}

/*
 * The output's run that repeats the input's run_id, or 0: the same model
 * (by hash), text (byte for byte), space, context and context route, and
 * the same settings but for "threads": another number of threads sums in
 * another order, which moves the last bits of a loss (under 1e-6 nats
 * between one and two threads on the test model) but is the same analysis.
 * A run that is not complete repeats nothing that is: the complete one is
 * what the output lacks.
 */
static int
find_duplicate(struct merge *m, int64_t run_id, int64_t *duplicate_of,
    struct duo_error *err)
{
	static const char in_sql[] =
	    "SELECT m.sha256, r.space, r.context, r.context_route,"
	    " json_remove(r.settings, '$.threads'), r.text, r.status"
	    " FROM runs AS r JOIN models AS m ON m.id = r.model_id"
	    " WHERE r.id = ?";
	static const char out_sql[] =
	    "SELECT r.id FROM runs AS r JOIN models AS m ON m.id = r.model_id"
	    " WHERE m.sha256 = ?1 AND r.space = ?2 AND r.context = ?3"
	    " AND r.context_route IS ?4"
	    " AND json_remove(r.settings, '$.threads') = ?5"
	    " AND CAST(r.text AS BLOB) = CAST(?6 AS BLOB)"
	    " AND (r.status = 'complete' OR ?7 <> 'complete')"
	    " ORDER BY r.id LIMIT 1";
	sqlite3_stmt *from, *to;
	int i, rc;

	*duplicate_of = 0;
	if (store_prepare(m->in, &from, in_sql, err) != 0)
		return -1;
	if (store_prepare(m->out, &to, out_sql, err) != 0) {
		sqlite3_finalize(from);
		return -1;
	}
	sqlite3_bind_int64(from, 1, run_id);
	rc = sqlite3_step(from);
	if (rc == SQLITE_ROW) {
		for (i = 0; i < 7; i++)
			sqlite3_bind_value(to, i + 1,
			    sqlite3_column_value(from, i));
		if ((rc = sqlite3_step(to)) == SQLITE_ROW)
			*duplicate_of = sqlite3_column_int64(to, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
		    store_fail(m->out, err, "looking for duplicates");
	} else
		rc = store_fail(m->in, err, "reading the runs");
	sqlite3_finalize(to);
	sqlite3_finalize(from);
	return rc;
}

/*
 * Refuse the input if the output has one of its runs already; with
 * STORE_MERGE_SKIP_DUPLICATES list the run as skipped instead.  Runs are
 * compared with the output as it was before this input: two equal runs
 * of one input both come.
 */
static int
find_duplicates(struct merge *m, int64_t *duplicate_of,
    struct duo_error *err)
{
	struct store_merge_report *report = m->report;
	size_t i;

	for (i = 0; i < m->n_runs; i++) {
		if (find_duplicate(m, m->runs[i].id, &duplicate_of[i],
		    err) != 0)
			return -1;
		if (duplicate_of[i] == 0)
			continue;
		if (!(m->flags & STORE_MERGE_SKIP_DUPLICATES))
			return error_set(err, "%s: run %" PRId64 " is already "
			    "in %s as run %" PRId64 " (same model, text and "
			    "settings); nothing was merged", m->in->path,
			    m->runs[i].id, m->out->path, duplicate_of[i]);
		report->skipped[report->n_skipped].run_id = m->runs[i].id;
		report->skipped[report->n_skipped].duplicate_of =
		    duplicate_of[i];
		report->n_skipped++;
	}
	return 0;
}

/*
 * Copy the rows of table whose column key is in_key from the input to the
 * output: columns as they are, and first (unless NULL) set to first_value,
 * the output's id of what the row points to.  run_id names the run in a
 * message about a row the output's schema refuses.
 */
static int
copy_rows(struct merge *m, const char *table, const char *columns,
    const char *key, int64_t in_key, const char *first, int64_t first_value,
    int64_t run_id, struct duo_error *err)
{
	char select[COPY_SQL_SIZE], insert[COPY_SQL_SIZE * 2];
	int n = count_columns(columns), i, rc_from, rc_to = SQLITE_DONE;
	sqlite3_stmt *from, *to;
	size_t used;

	snprintf(select, sizeof select, "SELECT %s FROM %s WHERE %s = ?",
	    columns, table, key);
	used = (size_t)snprintf(insert, sizeof insert,
	    "INSERT INTO %s (%s%s%s) VALUES (%s", table,
	    first != NULL ? first : "", first != NULL ? ", " : "", columns,
	    first != NULL ? "?, " : "");
	for (i = 0; i < n && used < sizeof insert; i++)
		used += (size_t)snprintf(insert + used, sizeof insert - used,
		    i + 1 < n ? "?, " : "?)");
	if (store_prepare(m->in, &from, select, err) != 0)
		return -1;
	if (store_prepare(m->out, &to, insert, err) != 0) {
		sqlite3_finalize(from);
		return -1;
	}
	sqlite3_bind_int64(from, 1, in_key);
	if (first != NULL)
		sqlite3_bind_int64(to, 1, first_value);
	while ((rc_from = sqlite3_step(from)) == SQLITE_ROW) {
		for (i = 0; i < n; i++)
			sqlite3_bind_value(to, i + 1 + (first != NULL),
			    sqlite3_column_value(from, i));
		if ((rc_to = sqlite3_step(to)) != SQLITE_DONE)
			break;
		sqlite3_reset(to);
	}
	if (rc_to == SQLITE_CONSTRAINT)
		error_set(err, "%s: run %" PRId64 ": %s refuses a row of %s: "
		    "%s", m->in->path, run_id, m->out->path, table,
		    sqlite3_errmsg(m->out->db));
	else if (rc_to != SQLITE_DONE)
		store_fail(m->out, err, "writing the merged runs");
	else if (rc_from != SQLITE_DONE)
		store_fail(m->in, err, "reading the runs");
	sqlite3_finalize(to);
	sqlite3_finalize(from);
	return rc_to == SQLITE_DONE && rc_from == SQLITE_DONE ? 0 : -1;
}

/*
 * The output's id of the input's model: the row with its hash, whose
 * hyperparameters must agree, or else a copy of the input's row.
 */
static int
merge_model(struct merge *m, const struct run_info *info, int64_t *model_id,
    struct duo_error *err)
{
	static const char sql[] =
	    "SELECT id, n_layer, d_model, n_head, d_ff, d_ff_small, n_vocab,"
	    " n_ctx FROM models WHERE sha256 = ?";
	const int facts[7] = { info->n_layer, info->d_model, info->n_head,
	    info->d_ff, info->d_ff_small, info->n_vocab, info->n_ctx };
	const struct merged_table *models = &merged_tables[MODELS_TABLE];
	sqlite3_stmt *stmt;
	int i, rc, same = 1;

	if (store_prepare(m->out, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, info->model_sha256, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*model_id = sqlite3_column_int64(stmt, 0);
		for (i = 0; i < 7; i++)
			same &= sqlite3_column_int64(stmt, 1 + i) == facts[i];
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW && !same)
		return error_set(err, "%s: run %" PRId64 ": model %.12s... is "
		    "stored in %s with other hyperparameters", m->in->path,
		    info->id, info->model_sha256, m->out->path);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return store_fail(m->out, err, "finding a model");
	if (copy_rows(m, models->name, columns_after(models->columns, 1),
	    "id", info->model_id, NULL, 0, info->id, err) != 0)
		return -1;
	*model_id = sqlite3_last_insert_rowid(m->out->db);
	m->report->n_models_added++;
	return 0;
}

/* Copy one run with all its rows; the output gives it the next id. */
static int
merge_run(struct merge *m, const struct run_info *info,
    struct duo_error *err)
{
	const struct merged_table *runs = &merged_tables[RUNS_TABLE], *t;
	int64_t model_id = 0, run_id;
	size_t i;

	if (merge_model(m, info, &model_id, err) != 0 ||
	    copy_rows(m, runs->name, RUNS_COPIED_COLUMNS, "id", info->id,
	    "model_id", model_id, info->id, err) != 0)
		return -1;
	run_id = sqlite3_last_insert_rowid(m->out->db);
	m->new_id[info - m->runs] = run_id;
	if (info->status == RUN_RUNNING) {
		char sql[96];

		snprintf(sql, sizeof sql, "UPDATE runs SET status = 'stopped'"
		    " WHERE id = %" PRId64, run_id);
		if (store_exec(m->out, sql, "writing the merged runs",
		    err) != 0)
			return -1;
	}
	for (i = FIRST_RUN_TABLE; i < N_MERGED_TABLES; i++) {
		t = &merged_tables[i];
		if (copy_rows(m, t->name, columns_after(t->columns, 1),
		    "run_id", info->id, "run_id", run_id, info->id, err) != 0)
			return -1;
	}
	if (m->report->n_merged++ == 0)
		m->report->first_id = run_id;
	m->report->last_id = run_id;
	return 0;
}

/*
 * A null-model control points at the run it controls (runs.control_of):
 * in the output, at that run's new id, or at the output's copy of it when
 * it was skipped as a duplicate.  A control whose run is not in the input
 * keeps no link (NULL), as its run is not in the output either.
 */
static int
link_controls(struct merge *m, const int64_t *duplicate_of,
    struct duo_error *err)
{
	sqlite3_stmt *stmt;
	size_t i, j;
	int64_t target;
	int rc = SQLITE_DONE;

	if (store_prepare(m->out, &stmt, "UPDATE runs SET control_of = ?1"
	    " WHERE id = ?2", err) != 0)
		return -1;
	for (i = 0; i < m->n_runs && rc == SQLITE_DONE; i++) {
		if (m->new_id[i] == 0 || m->runs[i].control_of == 0)
			continue;
		for (j = 0; j < m->n_runs; j++)
			if (m->runs[j].id == m->runs[i].control_of)
				break;
		if (j == m->n_runs)
			continue;
		target = m->new_id[j] != 0 ? m->new_id[j] : duplicate_of[j];
		if (target == 0)
			continue;
		sqlite3_bind_int64(stmt, 1, target);
		sqlite3_bind_int64(stmt, 2, m->new_id[i]);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(m->out, err, "linking control runs");
	return 0;
}

/* One transaction of the output: duplicates, then every other run. */
static int
write_output(struct merge *m, struct duo_error *err)
{
	int64_t *duplicate_of;
	size_t i;
	int rc = 0;

	duplicate_of = calloc(m->n_runs > 0 ? m->n_runs : 1,
	    sizeof *duplicate_of);
	m->new_id = calloc(m->n_runs > 0 ? m->n_runs : 1, sizeof *m->new_id);
	if (duplicate_of == NULL || m->new_id == NULL) {
		free(duplicate_of);
		free(m->new_id);
		m->new_id = NULL;
		return error_set(err, "out of memory");
	}
	if (store_exec(m->out, "BEGIN IMMEDIATE", "merging", err) != 0) {
		free(duplicate_of);
		return -1;
	}
	rc = find_duplicates(m, duplicate_of, err);
	for (i = 0; i < m->n_runs && rc == 0; i++)
		if (duplicate_of[i] == 0)
			rc = merge_run(m, &m->runs[i], err);
	if (rc == 0)
		rc = link_controls(m, duplicate_of, err);
	if (rc == 0)
		rc = store_exec(m->out, "COMMIT", "merging", err);
	/* Nothing of this input stays; earlier runs were never touched. */
	if (rc != 0 && !sqlite3_get_autocommit(m->out->db))
		sqlite3_exec(m->out->db, "ROLLBACK", NULL, NULL, NULL);
	free(duplicate_of);
	free(m->new_id);
	m->new_id = NULL;
	return rc;
}

/* Merge the open input: checks, then the output's transaction, all in one
 * read transaction of the input so that it cannot change meanwhile. */
static int
merge_input(struct merge *m, struct duo_error *err)
{
	int rc;

	if (check_encoding(m->in, err) != 0 ||
	    check_tables(m->out, err) != 0 || check_tables(m->in, err) != 0 ||
	    store_exec(m->in, "BEGIN", "reading the runs", err) != 0)
		return -1;
	rc = load_input_runs(m, err);
	if (rc == 0)
		rc = write_output(m, err);
	sqlite3_exec(m->in->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int
store_merge(struct store *out, const char *in_path, int flags,
    struct store_merge_report *report, struct duo_error *err)
{
	struct merge m = { .out = out, .flags = flags, .report = report };
	int rc;

	memset(report, 0, sizeof *report);
	if (out->readonly)
		return error_set(err, "%s: opened read-only", out->path);
	if (check_other_file(out, in_path, err) != 0 ||
	    store_open(&m.in, in_path, STORE_READONLY, err) != 0)
		return -1;
	rc = merge_input(&m, err);
	store_free_runs(m.runs, m.n_runs);
	store_close(m.in);
	if (rc != 0)
		store_merge_report_free(report);
	return rc;
}

void
store_merge_report_free(struct store_merge_report *report)
{
	free(report->skipped);
	memset(report, 0, sizeof *report);
}
