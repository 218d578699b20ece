/*
 * test_store.c - the run database: runs written and read back bit for
 * bit, the views against the same numbers computed here, the schema
 * version rules, and every way a write can fail (bad rows, a failure in
 * the middle of the transaction, a read-only or locked file, a missing
 * folder, a process killed while writing) leaving no trace of the run and
 * earlier runs intact.
 *
 * Runs are synthetic (tests/synthetic.c): loss tables from a formula and
 * every method computed from them, so the numbers are self-consistent
 * without a model.  Needs $srcdir (or the current folder) to find
 * tests/texts/store.txt; works in a fresh folder under $TMPDIR.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "store.h"
#include "synthetic.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static int failures, checks;
static char folder[256];
static char *text;
static size_t text_length;

static void
expect(int ok, const char *what)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL %s\n", what);
	}
}

/* An error that must happen, with a message containing want. */
static void
expect_error(int rc, const struct duo_error *err, const char *want,
    const char *what)
{
	checks++;
	if (rc != -1 || strstr(err->message, want) == NULL) {
		failures++;
		printf("FAIL %s: rc %d, message '%s', expected '%s'\n", what,
		    rc, rc == -1 ? err->message : "", want);
	}
}

static void
expect_ok(int rc, const struct duo_error *err, const char *what)
{
	checks++;
	if (rc != 0) {
		failures++;
		printf("FAIL %s: %s\n", what, err->message);
	}
}

static int
close_enough(double got, double want, double tolerance)
{
	double scale = fabs(want) > 1 ? fabs(want) : 1;

	return fabs(got - want) <= tolerance * scale;
}

static void
path_in(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", folder, name);
}

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- a second connection, the way a person with sqlite3 sees the file */

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK) {
		printf("cannot open %s: %s\n", path, sqlite3_errmsg(db));
		exit(99);
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		printf("bad query %s: %s\n", sql, sqlite3_errmsg(db));
		exit(99);
	}
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

static int64_t
file_int(const char *path, const char *sql)
{
	sqlite3 *db = raw_open(path);
	int64_t v = raw_int(db, sql);

	sqlite3_close(db);
	return v;
}

static void
raw_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		printf("cannot run %s: %s\n", sql, sqlite3_errmsg(db));
		exit(99);
	}
}

/* ---- synthetic runs ----------------------------------------------------- */

static void
make_run(struct synthetic_run *run, int n_layer, const char *space,
    size_t n_tokens, int keep_tables, uint64_t seed, const char *model)
{
	struct synthetic_options o = {
		.n_layer = n_layer, .space = space, .n_ctx = 16,
		.n_tokens = n_tokens, .n_routers = 1,
		.keep_tables = keep_tables, .seed = seed, .model_name = model,
	};

	if (synthetic_run_make(run, text, text_length, &o) != 0) {
		printf("cannot make a synthetic run\n");
		exit(99);
	}
}

/* A summary of everything stored for a run: equal before and after
 * something that must not touch it. */
static void
run_fingerprint(const char *path, int64_t id, char *out, size_t size)
{
	char sql[512];
	sqlite3_stmt *stmt;
	sqlite3 *db = raw_open(path);

	snprintf(sql, sizeof sql,
	    "SELECT (SELECT count(*) || ':' || total(loss) || ':' ||"
	    "  total(length(route)) FROM results WHERE run_id = %lld) || '/' ||"
	    " (SELECT count(*) || ':' || total(token_id) || ':' ||"
	    "  total(length(piece)) FROM tokens WHERE run_id = %lld) || '/' ||"
	    " (SELECT count(*) || ':' || total(length(losses))"
	    "  FROM route_losses WHERE run_id = %lld) || '/' ||"
	    " (SELECT label || created_at || length(text) FROM runs"
	    "  WHERE id = %lld)", (long long)id, (long long)id, (long long)id,
	    (long long)id);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		printf("fingerprint: %s\n", sqlite3_errmsg(db));
		exit(99);
	}
	snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0) ?
	    (const char *)sqlite3_column_text(stmt, 0) : "(none)");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static int64_t
count_rows(const char *path, const char *table, int64_t run_id)
{
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s = %lld",
	    table, strcmp(table, "runs") == 0 ? "id" : "run_id",
	    (long long)run_id);
	return file_int(path, sql);
}

/* No row of any table belongs to run id. */
static int
no_trace(const char *path, int64_t id)
{
	return count_rows(path, "runs", id) == 0 &&
	    count_rows(path, "tokens", id) == 0 &&
	    count_rows(path, "results", id) == 0 &&
	    count_rows(path, "route_losses", id) == 0 &&
	    count_rows(path, "run_means", id) == 0;
}

/* Rows of tokens, results or tables whose run is not in runs. */
static int64_t
orphans(const char *path)
{
	return file_int(path, "SELECT (SELECT count(*) FROM tokens WHERE "
	    "run_id NOT IN (SELECT id FROM runs)) + (SELECT count(*) FROM "
	    "results WHERE run_id NOT IN (SELECT id FROM runs)) + (SELECT "
	    "count(*) FROM route_losses WHERE run_id NOT IN (SELECT id FROM "
	    "runs)) + (SELECT count(*) FROM run_means WHERE run_id NOT IN "
	    "(SELECT id FROM runs))");
}

/* ---- reading back ---------------------------------------------------- */

static int
compare_records(const void *a, const void *b)
{
	const struct result_record *x = a, *y = b;
	int c;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if ((c = strcmp(x->method, y->method)) != 0)
		return c;
	return (x->budget > y->budget) - (x->budget < y->budget);
}

/* Everything written comes back: bytes, ids, offsets, losses bit for bit
 * (REAL is an IEEE double and float32 tables are stored as their bytes,
 * so the tolerance is zero). */
static void
check_read_back(struct store *store, int64_t id,
    const struct synthetic_run *run)
{
	const struct run_record *r = &run->record;
	struct result_record *sorted;
	struct run_data back;
	struct duo_error err;
	float *table;
	size_t i, bad = 0;
	int pos, rc;

	rc = store_load_run(store, id, &back, &err);
	expect_ok(rc, &err, "load the run");
	if (rc != 0)
		return;
	expect(back.n_tokens == r->n_tokens, "token count read back");
	expect(back.text_length == r->text_length &&
	    memcmp(back.text, r->text, r->text_length) == 0,
	    "text read back byte for byte");
	for (i = 0; i <= r->n_tokens && i <= back.n_tokens; i++) {
		const struct token_record *a = &r->tokens[i];
		const struct token_record *b = &back.tokens[i];

		if (a->token_id != b->token_id ||
		    a->piece_length != b->piece_length ||
		    memcmp(a->piece, b->piece, a->piece_length) != 0 ||
		    a->byte_start != b->byte_start ||
		    a->byte_end != b->byte_end)
			bad++;
	}
	expect(bad == 0, "every token read back exactly");

	sorted = malloc(r->n_results * sizeof *sorted);
	memcpy(sorted, r->results, r->n_results * sizeof *sorted);
	qsort(sorted, r->n_results, sizeof *sorted, compare_records);
	expect(back.n_results == r->n_results, "result count read back");
	bad = 0;
	for (i = 0; i < r->n_results && i < back.n_results; i++) {
		const struct result_record *a = &sorted[i];
		const struct result_record *b = &back.results[i];

		if (a->pos != b->pos || strcmp(a->method, b->method) != 0 ||
		    a->budget != b->budget || a->loss != b->loss ||
		    (a->route == NULL) != (b->route == NULL) ||
		    (a->route != NULL && strcmp(a->route, b->route) != 0))
			bad++;
	}
	expect(bad == 0, "every result read back exactly, in key order");
	free(sorted);

	bad = 0;
	for (pos = 1; (size_t)pos <= back.n_tokens; pos++)
		for (i = back.first_result[pos]; i < back.first_result[pos + 1];
		    i++)
			bad += back.results[i].pos != pos;
	expect(bad == 0 && back.first_result[1] == 0 &&
	    back.first_result[back.n_tokens + 1] == back.n_results,
	    "first_result indexes the results of each position");

	table = malloc(run->n_routes * sizeof *table);
	bad = 0;
	for (pos = 1; (size_t)pos <= r->n_tokens; pos++) {
		rc = store_load_route_losses(store, id, pos, table,
		    run->n_routes, &err);
		if (r->route_losses == NULL)
			bad += rc != 1;
		else
			bad += rc != 0 || memcmp(table, r->route_losses +
			    (size_t)(pos - 1) * run->n_routes,
			    run->n_routes * sizeof *table) != 0;
	}
	expect(bad == 0, r->route_losses != NULL ?
	    "every loss table read back bit for bit" :
	    "a run without tables has none");
	if (r->route_losses != NULL)
		expect_error(store_load_route_losses(store, id, 1, table,
		    run->n_routes + 1, &err), &err, "bytes, not",
		    "a table of the wrong size is an error");
	free(table);
	store_free_run(&back);
}

/* ---- the views against numbers computed here ------------------------ */

struct group {
	const char *method;
	int budget;                 /* -1 for best in curve */
	size_t n;
	double sum;
	size_t choices[64][3];      /* per layer: B, S, . */
	int seen;
};

static struct group *
find_group(struct group *groups, size_t *n_groups, const char *method,
    int budget)
{
	size_t i;

	for (i = 0; i < *n_groups; i++)
		if (strcmp(groups[i].method, method) == 0 &&
		    groups[i].budget == budget)
			return &groups[i];
	memset(&groups[*n_groups], 0, sizeof groups[0]);
	groups[*n_groups].method = method;
	groups[*n_groups].budget = budget;
	return &groups[(*n_groups)++];
}

static void
check_views(const char *path, int64_t id, const struct synthetic_run *run)
{
	const struct run_record *r = &run->record;
	struct group *curve, *alloc, *g;
	size_t n_curve = 0, n_alloc = 0, i, rows, bad;
	double *big, *small, *best, want;
	sqlite3_stmt *stmt;
	sqlite3 *db = raw_open(path);
	char sql[512];
	int l, pos, has_small = strchr(r->space, 'S') != NULL;

	curve = calloc(256, sizeof *curve);
	alloc = calloc(256, sizeof *alloc);
	big = calloc(r->n_tokens + 1, sizeof *big);
	small = calloc(r->n_tokens + 1, sizeof *small);
	best = calloc(r->n_tokens + 1, sizeof *best);
	for (i = 0; i < r->n_results; i++) {
		const struct result_record *x = &r->results[i];
		int is_best = strcmp(x->method, "best") == 0;

		g = find_group(curve, &n_curve, x->method,
		    is_best ? -1 : x->budget);
		g->n++;
		g->sum += x->loss;
		if (x->route != NULL) {
			g = find_group(alloc, &n_alloc, x->method, x->budget);
			g->n++;
			for (l = 0; l < r->model.n_layer; l++)
				g->choices[l][x->route[l] == 'B' ? 0 :
				    x->route[l] == 'S' ? 1 : 2]++;
		}
		if (strcmp(x->method, "big") == 0)
			big[x->pos] = x->loss;
		if (strcmp(x->method, "small") == 0)
			small[x->pos] = x->loss;
		if (is_best)
			best[x->pos] = x->loss;
	}

	/* difficulty: a difference of the stored doubles, the same operation
	 * SQLite does; 1e-12 leaves room for nothing but rounding. */
	snprintf(sql, sizeof sql, "SELECT pos, loss_big, loss_small, "
	    "loss_best, difficulty FROM difficulty WHERE run_id = %lld "
	    "ORDER BY pos", (long long)id);
	sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	rows = bad = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		pos = sqlite3_column_int(stmt, 0);
		rows++;
		if (pos < 1 || (size_t)pos > r->n_tokens) {
			bad++;
			continue;
		}
		want = small[pos] - best[pos];
		if (!close_enough(sqlite3_column_double(stmt, 1), big[pos],
		    0) || !close_enough(sqlite3_column_double(stmt, 3),
		    best[pos], 0))
			bad++;
		if (!has_small)
			bad += sqlite3_column_type(stmt, 2) != SQLITE_NULL ||
			    sqlite3_column_type(stmt, 4) != SQLITE_NULL;
		else if (!close_enough(sqlite3_column_double(stmt, 2),
		    small[pos], 0) ||
		    !close_enough(sqlite3_column_double(stmt, 4), want, 1e-12))
			bad++;
	}
	sqlite3_finalize(stmt);
	expect(rows == r->n_tokens && bad == 0,
	    "difficulty view: one row per token, small - best (tol 1e-12), "
	    "NULL where the space has no small modules");

	/* curve: SQLite may add in another order than this loop, so the mean
	 * may differ by a few ulps; 1e-9 relative is far above that and far
	 * below any difference that matters. */
	snprintf(sql, sizeof sql, "SELECT method, budget, n, mean_loss, ppl "
	    "FROM curve WHERE run_id = %lld", (long long)id);
	sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	rows = bad = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *method = (const char *)sqlite3_column_text(stmt, 0);
		int budget = sqlite3_column_type(stmt, 1) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(stmt, 1);

		rows++;
		for (i = 0; i < n_curve; i++)
			if (strcmp(curve[i].method, method) == 0 &&
			    curve[i].budget == budget)
				break;
		if (i == n_curve || curve[i].seen++) {
			bad++;
			continue;
		}
		want = curve[i].sum / (double)curve[i].n;
		if ((size_t)sqlite3_column_int64(stmt, 2) != curve[i].n ||
		    !close_enough(sqlite3_column_double(stmt, 3), want, 1e-9) ||
		    !close_enough(sqlite3_column_double(stmt, 4), exp(want),
		    1e-9)) {
			printf("  curve %s %d: n %lld mean %.17g ppl %.17g, "
			    "expected %zu %.17g %.17g\n", method, budget,
			    sqlite3_column_int64(stmt, 2),
			    sqlite3_column_double(stmt, 3),
			    sqlite3_column_double(stmt, 4), curve[i].n, want,
			    exp(want));
			bad++;
		}
	}
	sqlite3_finalize(stmt);
	expect(rows == n_curve && bad == 0,
	    "curve view: n, mean loss and exp(mean) per method and budget, "
	    "best as one row with budget NULL (tol 1e-9 relative)");

	/* allocation: ratios of whole counts, exact but for one rounding. */
	snprintf(sql, sizeof sql, "SELECT method, budget, layer, share_big, "
	    "share_small, share_skip FROM allocation WHERE run_id = %lld",
	    (long long)id);
	sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	rows = bad = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *method = (const char *)sqlite3_column_text(stmt, 0);
		int budget = sqlite3_column_int(stmt, 1), c;

		l = sqlite3_column_int(stmt, 2);
		rows++;
		for (i = 0; i < n_alloc; i++)
			if (strcmp(alloc[i].method, method) == 0 &&
			    alloc[i].budget == budget)
				break;
		if (i == n_alloc || l < 0 || l >= r->model.n_layer) {
			bad++;
			continue;
		}
		for (c = 0; c < 3; c++)
			if (!close_enough(sqlite3_column_double(stmt, 3 + c),
			    (double)alloc[i].choices[l][c] / (double)alloc[i].n,
			    1e-12))
				bad++;
	}
	sqlite3_finalize(stmt);
	expect(rows == n_alloc * (size_t)r->model.n_layer && bad == 0,
	    "allocation view: share of B, S and . per layer (tol 1e-12)");

	/* difficulty_at: small minus oracle at each budget. */
	snprintf(sql, sizeof sql, "SELECT count(*), max(abs(d.difficulty - "
	    "(s.loss - o.loss))) FROM difficulty_at AS d JOIN results AS o ON "
	    "o.run_id = d.run_id AND o.pos = d.pos AND o.method = 'oracle' AND "
	    "o.budget = d.budget JOIN results AS s ON s.run_id = d.run_id AND "
	    "s.pos = d.pos AND s.method = 'small' WHERE d.run_id = %lld",
	    (long long)id);
	sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	sqlite3_step(stmt);
	expect((size_t)sqlite3_column_int64(stmt, 0) == (has_small ?
	    r->n_tokens * (size_t)(r->model.n_layer + 1) : 0) &&
	    sqlite3_column_double(stmt, 1) <= 1e-12,
	    "difficulty_at view: one row per token and budget (tol 1e-12)");
	sqlite3_finalize(stmt);

	sqlite3_close(db);
	free(curve);
	free(alloc);
	free(big);
	free(small);
	free(best);
}

/* A method's mean loss over all budgets, from a record; NAN if the
 * method is absent. */
static double
record_mean(const struct run_record *r, const char *method)
{
	double sum = 0;
	size_t i, n = 0;

	for (i = 0; i < r->n_results; i++)
		if (strcmp(r->results[i].method, method) == 0) {
			sum += r->results[i].loss;
			n++;
		}
	return n > 0 ? sum / (double)n : NAN;
}

/* The list's means against the records (NAN where absent on both sides);
 * 1e-9 relative as for the curve view: SQLite adds in its own order. */
static int
list_means_agree(const struct run_info *info, const struct run_record *r)
{
	static const char *const methods[3] = { "big", "small", "best" };
	const double got[3] = { info->mean_loss_big, info->mean_loss_small,
	    info->mean_loss_best };
	double want;
	int i;

	for (i = 0; i < 3; i++) {
		want = record_mean(r, methods[i]);
		if (isnan(want) != isnan(got[i]) ||
		    (!isnan(want) && !close_enough(got[i], want, 1e-9))) {
			printf("  run %lld %s: mean %.17g, expected %.17g\n",
			    (long long)info->id, methods[i], got[i], want);
			return 0;
		}
	}
	return 1;
}

/* ---- the tests --------------------------------------------------------- */

static void
test_round_trip(const char *path)
{
	struct synthetic_run a, b, c;
	struct store *store;
	struct duo_error err;
	struct run_info *runs;
	size_t n_runs;
	int64_t id_a, id_b, id_c, found;
	sqlite3 *db;

	expect_ok(store_open(&store, path, 0, &err), &err, "create a database");
	db = raw_open(path);
	expect(raw_int(db, "PRAGMA user_version") == STORE_SCHEMA_VERSION,
	    "user_version is the schema version");
	expect(raw_int(db, "PRAGMA application_id") == STORE_APPLICATION_ID,
	    "application_id marks a duo database");
	expect(raw_int(db, "SELECT count(*) FROM pragma_journal_mode "
	    "WHERE journal_mode = 'wal'") == 1, "journal mode is WAL");
	sqlite3_close(db);

	/* Three runs: BS with tables; BS. in the fixed context; B. without
	 * tables (no small modules in that space), as a beam run would be. */
	make_run(&a, 4, "BS", 30, 1, 11, "model four");
	a.record.label = "first";
	a.record.created_at = "2024-03-01T09:30:00Z";
	expect_ok(store_write_run(store, &a.record, &id_a, &err), &err,
	    "write a BS run");
	make_run(&b, 3, "BS.", 20, 1, 12, "model three");
	b.record.label = "twin";
	b.record.context = "fixed";
	b.record.context_route = "BBB";
	expect_ok(store_write_run(store, &b.record, &id_b, &err), &err,
	    "write a BS. run in the fixed context");
	make_run(&c, 5, "B.", 25, 0, 13, "model five");
	c.record.label = "twin";
	c.record.approximate = 1;
	c.record.beam_width = 8;
	expect_ok(store_write_run(store, &c.record, &id_c, &err), &err,
	    "write a B. run without tables");
	expect(id_a == 1 && id_b == 2 && id_c == 3, "run ids count from 1");

	check_read_back(store, id_a, &a);
	check_read_back(store, id_b, &b);
	check_read_back(store, id_c, &c);
	check_views(path, id_a, &a);
	check_views(path, id_b, &b);
	check_views(path, id_c, &c);

	expect(file_int(path, "SELECT count(*) FROM tokens WHERE run_id = 1 "
	    "AND pos = 16 AND window_index = 1 AND window_pos = 1") == 1 &&
	    file_int(path, "SELECT max(window_pos) FROM tokens") == 15,
	    "windows of n_ctx - 1 text tokens (doc/design.md section 4)");
	expect(file_int(path, "SELECT count(*) FROM runs WHERE "
	    "created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T"
	    "[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'") == 3 &&
	    file_int(path, "SELECT created_at = '2024-03-01T09:30:00Z' FROM "
	    "runs WHERE id = 1") == 1, "created_at is ISO-8601 UTC");
	expect(file_int(path, "SELECT count(*) FROM runs WHERE id = 3 AND "
	    "approximate = 1 AND beam_width = 8") == 1 &&
	    file_int(path, "SELECT beam_width IS NULL FROM runs WHERE "
	    "id = 1") == 1, "approximate runs keep their beam width");
	expect(file_int(path, "SELECT json_extract(settings, '$.random_routes')"
	    " FROM runs WHERE id = 1") == 100, "settings are JSON");

	/* Listing and finding. */
	expect_ok(store_list_runs(store, &runs, &n_runs, &err), &err,
	    "list the runs");
	expect(n_runs == 3 && runs[0].id == 1 && runs[2].id == 3 &&
	    strcmp(runs[0].label, "first") == 0 &&
	    strcmp(runs[1].model_name, "model three") == 0 &&
	    runs[1].n_layer == 3 && strcmp(runs[1].space, "BS.") == 0 &&
	    strcmp(runs[1].context, "fixed") == 0 &&
	    strcmp(runs[1].context_route, "BBB") == 0 &&
	    runs[0].n_tokens == 30 && (size_t)runs[0].n_results ==
	    a.record.n_results && strcmp(runs[0].model_sha256,
	    a.record.model.sha256) == 0, "the list has each run's facts");
	if (n_runs == 3) {
		expect(isnan(runs[2].mean_loss_small) &&
		    !isnan(runs[2].mean_loss_big) &&
		    !isnan(runs[0].mean_loss_best), "absent methods have NaN "
		    "means");
		expect(list_means_agree(&runs[0], &a.record) &&
		    list_means_agree(&runs[1], &b.record) &&
		    list_means_agree(&runs[2], &c.record), "the list's big, "
		    "small and best means (tol 1e-9 relative)");
	}
	store_free_runs(runs, n_runs);
	expect(store_find_run(store, "2", &found, &err) == 0 && found == 2,
	    "find a run by id");
	expect(store_find_run(store, "last", &found, &err) == 0 && found == 3,
	    "find the last run");
	expect(store_find_run(store, "first", &found, &err) == 0 && found == 1,
	    "find a run by label");
	expect_error(store_find_run(store, "twin", &found, &err), &err,
	    "2 runs have the label 'twin'", "an ambiguous label");
	expect_error(store_find_run(store, "17", &found, &err), &err,
	    "no run '17'", "a missing id");
	expect_error(store_find_run(store, "nobody", &found, &err), &err,
	    "no run 'nobody'", "a missing label");

	/* The model of a run. */
	expect_ok(store_check_model(store, 1, a.record.model.sha256, &err),
	    &err, "the run's own model passes");
	expect_error(store_check_model(store, 1, b.record.model.sha256, &err),
	    &err, "a different file", "another model's hash is refused");
	expect(strstr(err.message, "model four") != NULL,
	    "the message names the run's model");

	/* The same model again: one models row, its path the newest. */
	a.record.model.path = "/elsewhere/model.gguf";
	a.record.label = NULL;
	expect_ok(store_write_run(store, &a.record, &id_a, &err), &err,
	    "a second run of a known model");
	expect(file_int(path, "SELECT count(*) FROM models") == 3 &&
	    file_int(path, "SELECT count(DISTINCT model_id) FROM runs WHERE "
	    "id IN (1, 4)") == 1 && file_int(path, "SELECT path = "
	    "'/elsewhere/model.gguf' FROM models WHERE id = 1") == 1,
	    "a model is stored once, by its hash");
	a.record.model.d_model = 99;
	expect_error(store_write_run(store, &a.record, &found, &err), &err,
	    "other hyperparameters", "same hash, other hyperparameters");
	a.record.model.d_model = 64;
	expect(no_trace(path, 5), "... and that run left no trace");

	/* Deleting cascades to tokens, results and tables. */
	expect_ok(store_delete_run(store, 4, &err), &err, "delete a run");
	expect(no_trace(path, 4) && count_rows(path, "results", 1) ==
	    (int64_t)a.record.n_results, "deleting removes all of the run "
	    "and only it");
	expect_error(store_delete_run(store, 4, &err), &err, "no run 4",
	    "deleting a missing run");
	store_close(store);

	/* Current version: opens as it is. */
	expect_ok(store_open(&store, path, 0, &err), &err, "reopen");
	store_close(store);
	synthetic_run_free(&a);
	synthetic_run_free(&b);
	synthetic_run_free(&c);
}

/* Bytes that are not UTF-8 are kept exactly, as BLOBs. */
static void
test_bytes(const char *path)
{
	static const char odd[] = "caf\xc3\xa9 \xff\xfe bytes\0 and a NUL";
	struct synthetic_run a;
	struct token_record *tokens;
	struct run_data back;
	struct store *store;
	struct duo_error err;
	int64_t id;

	make_run(&a, 2, "BS", 4, 0, 21, "model two");
	tokens = a.tokens;
	a.record.text = odd;
	a.record.text_length = sizeof odd - 1;
	tokens[1].piece = odd;                 tokens[1].piece_length = 5;
	tokens[2].piece = odd + 5;             tokens[2].piece_length = 3;
	tokens[3].piece = odd + 8;             tokens[3].piece_length = 7;
	tokens[4].piece = odd + 15;            tokens[4].piece_length = 10;
	tokens[1].byte_start = 0;  tokens[1].byte_end = 5;
	tokens[2].byte_start = 5;  tokens[2].byte_end = 8;
	tokens[3].byte_start = 8;  tokens[3].byte_end = 15;
	tokens[4].byte_start = 15; tokens[4].byte_end = 25;
	if (store_open(&store, path, 0, &err) != 0) {
		expect_ok(-1, &err, "open for bytes");
		return;
	}
	expect_ok(store_write_run(store, &a.record, &id, &err), &err,
	    "write a run whose text is not UTF-8");
	expect(file_int(path, "SELECT typeof(text) = 'blob' FROM runs ORDER "
	    "BY id DESC LIMIT 1") == 1, "a text that is not UTF-8 is a BLOB");
	expect(file_int(path, "SELECT group_concat(typeof(piece), ',') = "
	    "'text,text,blob,blob,text' FROM (SELECT piece FROM tokens WHERE "
	    "run_id = (SELECT max(id) FROM runs) ORDER BY pos)") == 1,
	    "pieces are TEXT when UTF-8, BLOB otherwise (a NUL too)");
	if (store_load_run(store, id, &back, &err) == 0) {
		expect(back.text_length == sizeof odd - 1 &&
		    memcmp(back.text, odd, sizeof odd - 1) == 0 &&
		    back.tokens[2].piece_length == 3 &&
		    memcmp(back.tokens[2].piece, " \xff\xfe", 3) == 0 &&
		    back.tokens[3].piece_length == 7 &&
		    memcmp(back.tokens[3].piece, " bytes\0", 7) == 0 &&
		    back.tokens[4].piece_length == 10 &&
		    memcmp(back.tokens[4].piece, " and a NUL", 10) == 0,
		    "bytes come back exactly");
		store_free_run(&back);
	} else
		expect_ok(-1, &err, "load the odd run");
	expect_ok(store_delete_run(store, id, &err), &err, "delete it again");
	store_close(store);
	synthetic_run_free(&a);
}

/* Each bad record is refused with a message, and leaves nothing. */
static void
test_bad_records(const char *path)
{
	struct synthetic_run a;
	struct result_record *r, saved;
	struct store *store;
	struct duo_error err;
	char before[512], after[512];
	int64_t id, runs_before;
	size_t last;

	make_run(&a, 4, "BS", 30, 1, 31, "model four");
	if (store_open(&store, path, 0, &err) != 0) {
		expect_ok(-1, &err, "open for bad records");
		return;
	}
	run_fingerprint(path, 1, before, sizeof before);
	runs_before = file_int(path, "SELECT count(*) FROM runs");
	r = &a.results[5];
	saved = *r;

	r->route = "BBSX";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "route 'BBSX' is not 4 characters of the space BS",
	    "a route with a foreign character");
	*r = saved;
	r->route = "BBS";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "is not 4 characters", "a route too short");
	*r = saved;
	r->budget = (r->budget + 1) % 5;
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "big modules", "a budget that is not the route's");
	*r = saved;
	r->loss = NAN;
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "not a finite number", "a NaN loss");
	*r = saved;
	r->method = "psychic";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "'psychic' is not a method", "an unknown method");
	r->method = "router:a,b";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "'router:a,b' is not a method", "a router name with a comma");
	*r = saved;
	r->pos = 31;
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "position 31 is not 1..30", "a position past the tokens");
	*r = saved;
	a.record.settings = "[1, 2]";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "not a JSON object", "settings that are not an object");
	a.record.settings = "{\"a\": ";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "not a JSON object", "settings that are not JSON");
	a.record.settings = NULL;
	a.record.created_at = "yesterday";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "YYYY-MM-DDTHH:MM:SSZ", "a malformed created_at");
	a.record.created_at = NULL;
	a.tokens[3].byte_end = a.record.text_length + 1;
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "outside the text", "token bytes past the text");
	a.tokens[3].byte_end = a.tokens[3].byte_start;
	a.record.context_route = "BBBB";
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "fixed context mode", "a context route in the shared mode");
	a.record.context_route = NULL;

	/* A failure inside the transaction: the last row repeats a key, so
	 * SQLite refuses it after everything else is written. */
	last = a.record.n_results - 1;
	saved = a.results[last];
	a.results[last] = a.results[0];
	expect_error(store_write_run(store, &a.record, &id, &err), &err,
	    "has two results", "a duplicate row at the end");
	a.results[last] = saved;
	expect(file_int(path, "SELECT count(*) FROM runs") == runs_before &&
	    orphans(path) == 0, "the failed runs left no trace");
	run_fingerprint(path, 1, after, sizeof after);
	expect(strcmp(before, after) == 0, "the earlier run is intact");
	expect(file_int(path, "SELECT count(*) FROM pragma_integrity_check "
	    "WHERE integrity_check = 'ok'") == 1, "integrity check");

	/* After all that, the good record still writes. */
	expect_ok(store_write_run(store, &a.record, &id, &err), &err,
	    "the repaired record writes");
	expect_ok(store_delete_run(store, id, &err), &err, "and deletes");
	store_close(store);
	synthetic_run_free(&a);
}

static void
test_schema_versions(const char *path)
{
	struct store *store;
	struct duo_error err;
	char other[512], message[600];
	sqlite3 *db;
	FILE *f;

	/* A newer schema is refused, and left exactly as it was. */
	db = raw_open(path);
	raw_exec(db, "PRAGMA user_version = 99");
	sqlite3_close(db);
	snprintf(message, sizeof message, "%s: schema version 99 is newer "
	    "than this duo understands (%d); upgrade duo", path,
	    STORE_SCHEMA_VERSION);
	expect_error(store_open(&store, path, 0, &err), &err, message,
	    "a newer schema is refused");
	expect(strcmp(err.message, message) == 0, "... with exactly that "
	    "message");
	expect_error(store_open(&store, path, STORE_READONLY, &err), &err,
	    "newer than this duo", "... also when reading");
	expect(file_int(path, "PRAGMA user_version") == 99 &&
	    file_int(path, "SELECT count(*) FROM runs") == 3,
	    "the newer database is untouched");
	db = raw_open(path);
	raw_exec(db, "PRAGMA user_version = " STRINGIFY(STORE_SCHEMA_VERSION));
	sqlite3_close(db);

	/* Another program's database. */
	path_in(other, sizeof other, "other.db");
	db = raw_open(other);
	raw_exec(db, "CREATE TABLE notes (body TEXT)");
	sqlite3_close(db);
	expect_error(store_open(&store, other, 0, &err), &err,
	    "not a duo database", "a database of another program");
	expect(file_int(other, "SELECT count(*) FROM sqlite_master") == 1,
	    "... is left alone");
	db = raw_open(other);
	raw_exec(db, "PRAGMA application_id = 1234");
	sqlite3_close(db);
	expect_error(store_open(&store, other, 0, &err), &err,
	    "application_id 0x4d2", "a foreign application_id");

	/* A file that is not a database at all. */
	path_in(other, sizeof other, "notes.txt");
	f = fopen(other, "w");
	fputs("These are plain notes, several lines of them, and certainly "
	    "not a database file of any kind at all.\n", f);
	fclose(f);
	expect_error(store_open(&store, other, 0, &err), &err,
	    "not an SQLite database", "a text file");
	expect_error(store_open(&store, folder, 0, &err), &err,
	    "is a folder", "a folder");
}

/* The schema as sqlite_master has it, one string. */
static char *
schema_text(const char *path)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *stmt;
	const unsigned char *sql;
	char *all = NULL;

	if (sqlite3_prepare_v2(db, "SELECT group_concat(type || ' ' || name "
	    "|| ' ' || coalesce(sql, ''), char(10)) FROM (SELECT * FROM "
	    "sqlite_master ORDER BY type, name)", -1, &stmt, NULL) ==
	    SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
	    (sql = sqlite3_column_text(stmt, 0)) != NULL)
		all = strdup((const char *)sql);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return all != NULL ? all : strdup("");
}

/*
 * What a version-5 database was: runs without status, tokens_done and
 * corpus, no corpus views, and views that read every run.  The columns'
 * text is taken out of runs' CREATE statement and the status clause out
 * of the views' with writable_schema (as downgrade_to_v3 does below): the
 * three columns are runs' last, and a row's extra last fields are
 * ignored.  Run it on its own connection: the next step must read the
 * rewritten schema.
 */
static const char downgrade_to_v5[] =
    "DROP VIEW corpus_curve;\n"
    "DROP VIEW corpus_difficulty;\n"
    "DROP INDEX runs_by_corpus;\n"
    "PRAGMA writable_schema = ON;\n"
    "UPDATE sqlite_schema SET sql = replace(sql, ', status TEXT NOT NULL "
    "DEFAULT ''complete''\n  CHECK (status IN (''running'', ''stopped'', "
    "''complete'')), tokens_done INTEGER NOT NULL DEFAULT 0\n  CHECK "
    "(tokens_done >= 0), corpus TEXT', '') WHERE name = 'runs';\n"
    "UPDATE sqlite_schema SET sql = replace(replace(replace(sql,\n"
    "  char(10) || '  AND t.run_id IN (SELECT id FROM runs WHERE status = "
    "''complete'')', ''),\n"
    "  char(10) || '  AND o.run_id IN (SELECT id FROM runs WHERE status = "
    "''complete'')', ''),\n"
    "  char(10) || '  AND r.run_id IN (SELECT id FROM runs WHERE status = "
    "''complete'')', '')\n"
    "  WHERE type = 'view';\n"
    "PRAGMA writable_schema = OFF;\n"
    "PRAGMA user_version = 5;\n";

/*
 * What a version-4 database was: no tables for half-precision loss and KL
 * tables (applied to a file whose runs keep float32 tables or none), and
 * router_metrics without ppl_oracle_free and achievable_gap_closed
 * (version 3's view, unchanged in version 4).
 */
static const char downgrade_to_v4[] =
    "DROP TABLE route_losses_f16;\n"
    "DROP TABLE route_kl_f16;\n"
    "DROP VIEW router_metrics;\n"
    "CREATE VIEW router_metrics AS\n"
    "WITH ranked AS (\n"
    "  SELECT run_id, method, budget, regret,\n"
    "    length(route) - length(replace(route, 'B', '')) AS spent,\n"
    "    row_number() OVER (PARTITION BY run_id, method, budget\n"
    "      ORDER BY regret) AS i,\n"
    "    count(*) OVER (PARTITION BY run_id, method, budget) AS n\n"
    "  FROM router_regret\n"
    "), summary AS (\n"
    "  SELECT run_id, method, budget, max(n) AS n, avg(spent) AS spent,\n"
    "    min(CASE WHEN i >= (n * 50 + 99) / 100 THEN regret END)\n"
    "      AS regret_p50,\n"
    "    min(CASE WHEN i >= (n * 90 + 99) / 100 THEN regret END)\n"
    "      AS regret_p90,\n"
    "    max(regret) AS regret_max, avg(regret) AS regret_mean\n"
    "  FROM ranked GROUP BY run_id, method, budget\n"
    ")\n"
    "SELECT s.run_id, s.method, s.budget, s.n, s.spent,\n"
    "  exp(r.mean_loss) AS ppl, exp(o.mean_loss) AS ppl_oracle,\n"
    "  exp(f.mean_loss) AS ppl_fixed, exp(b.mean_loss) AS ppl_random_best,\n"
    "  CASE WHEN f.mean_loss - o.mean_loss > 1e-5\n"
    "    THEN (f.mean_loss - r.mean_loss) / (f.mean_loss - o.mean_loss)\n"
    "  END AS gap_closed,\n"
    "  s.regret_p50, s.regret_p90, s.regret_max, s.regret_mean\n"
    "FROM summary AS s\n"
    "JOIN run_means AS r ON r.run_id = s.run_id AND r.method = s.method\n"
    "  AND r.budget = s.budget\n"
    "JOIN run_means AS o ON o.run_id = s.run_id AND o.method = 'oracle'\n"
    "  AND o.budget = s.budget\n"
    "LEFT JOIN run_means AS f ON f.run_id = s.run_id\n"
    "  AND f.method = 'fixed' AND f.budget = s.budget\n"
    "LEFT JOIN run_means AS b ON b.run_id = s.run_id\n"
    "  AND b.method = 'random_best' AND b.budget = s.budget;\n"
    "PRAGMA user_version = 4;\n";

/*
 * What a version-3 database was, for a file whose runs have no oracle_free
 * or shuffled rows: results with version 3's CHECK (rebuilt, as SQLite
 * cannot change a CHECK; the views keep reading it by its name), no
 * route_kl, and runs without control_of.  The column's text is taken out
 * of runs' CREATE statement with writable_schema, the way the SQLite
 * manual changes a declaration that the stored rows do not depend on
 * (every control_of is NULL, and a row's extra last field is ignored).
 */
static const char downgrade_to_v3[] =
    "DROP TABLE route_kl;\n"
    "PRAGMA legacy_alter_table = ON;\n"
    "ALTER TABLE results RENAME TO results_v4;\n"
    "CREATE TABLE results (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  pos     INTEGER NOT NULL CHECK (pos >= 1),\n"
    "  method  TEXT NOT NULL CHECK (CASE method\n"
    "            WHEN 'big' THEN 1 WHEN 'small' THEN 1 WHEN 'oracle' THEN 1\n"
    "            WHEN 'best' THEN 1 WHEN 'fixed' THEN 1\n"
    "            WHEN 'random_best' THEN 1 WHEN 'random_mean' THEN 1\n"
    "            ELSE method GLOB 'router:?*'\n"
    "              AND substr(method, 8) NOT GLOB '*[^A-Za-z0-9_.-]*' END),\n"
    "  budget  INTEGER NOT NULL CHECK (budget >= 0),\n"
    "  route   TEXT CHECK ((route IS NULL) = (method = 'random_mean')),\n"
    "  loss    REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, pos, method, budget),\n"
    "  FOREIGN KEY (run_id, pos) REFERENCES tokens(run_id, pos)\n"
    "    ON DELETE CASCADE\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO results SELECT * FROM results_v4;\n"
    "DROP TABLE results_v4;\n"
    "PRAGMA legacy_alter_table = OFF;\n"
    "PRAGMA writable_schema = ON;\n"
    "UPDATE sqlite_master SET sql = replace(sql, ', control_of INTEGER' ||\n"
    "  char(10) || '  REFERENCES runs(id) ON DELETE CASCADE', '')\n"
    "WHERE name = 'runs';\n"
    "PRAGMA writable_schema = RESET;\n"
    "PRAGMA user_version = 3;\n";

/*
 * What a version-1 database was: version 2 less run_means, with curve
 * computed from results, and none of version 3's router views.  Applied
 * to a file this duo wrote, it gives the file an older duo would have
 * written.
 */
static const char downgrade_to_v1[] =
    "DROP VIEW router_agreement;\n"
    "DROP VIEW router_confusion;\n"
    "DROP VIEW router_metrics;\n"
    "DROP VIEW router_regret;\n"
    "DROP TABLE run_means;\n"
    "DROP VIEW curve;\n"
    "CREATE VIEW curve AS\n"
    "SELECT run_id, method,\n"
    "  CASE WHEN method = 'best' THEN NULL ELSE budget END AS budget,\n"
    "  count(*) AS n, avg(loss) AS mean_loss, exp(avg(loss)) AS ppl\n"
    "FROM results\n"
    "GROUP BY run_id, method,\n"
    "  CASE WHEN method = 'best' THEN NULL ELSE budget END;\n"
    "PRAGMA user_version = 1;\n";

/*
 * A version-1 database opened for writing gains run_means, filled from its
 * results, and the curve view reading it, in one transaction; a migration
 * that fails leaves version 1 as it was.
 */
static void
test_migration(void)
{
	struct synthetic_run a, b;
	struct store *store;
	struct duo_error err;
	struct run_info *runs;
	size_t n_runs;
	int64_t id_a, id_b;
	char path[512], fresh[512], broken[512], command[1200];
	char *schema_migrated, *schema_fresh, *before;
	sqlite3 *db;

	path_in(path, sizeof path, "v1.db");
	path_in(fresh, sizeof fresh, "v2.db");
	path_in(broken, sizeof broken, "v1-broken.db");
	make_run(&a, 4, "BS", 30, 1, 21, "model four");
	make_run(&b, 3, "BS.", 20, 0, 22, "model three");
	expect_ok(store_open(&store, path, 0, &err), &err, "make a database "
	    "to turn into version 1");
	if (store == NULL)
		return;
	expect_ok(store_write_run(store, &a.record, &id_a, &err), &err,
	    "write a BS run");
	expect_ok(store_write_run(store, &b.record, &id_b, &err), &err,
	    "write a BS. run");
	store_close(store);
	expect_ok(store_open(&store, fresh, 0, &err), &err, "a fresh "
	    "database for its schema");
	store_close(store);

	db = raw_open(path);
	raw_exec(db, "PRAGMA journal_mode = DELETE");
	raw_exec(db, downgrade_to_v5);
	sqlite3_close(db);
	db = raw_open(path);
	raw_exec(db, downgrade_to_v4);
	raw_exec(db, downgrade_to_v3);
	raw_exec(db, downgrade_to_v1);
	sqlite3_close(db);
	expect(file_int(path, "PRAGMA user_version") == 1 &&
	    file_int(path, "SELECT count(*) FROM sqlite_master WHERE name = "
	    "'run_means'") == 0, "the database is now version 1");
	snprintf(command, sizeof command, "cp '%s' '%s'", path, broken);
	if (system(command) != 0) {
		printf("cannot copy %s\n", path);
		exit(99);
	}

	/* Reading alone never writes, so it cannot migrate. */
	expect_error(store_open(&store, path, STORE_READONLY, &err), &err,
	    "older than this duo's", "a version-1 database read-only");

	expect_ok(store_open(&store, path, 0, &err), &err,
	    "open a version-1 database for writing");
	if (store == NULL)
		return;
	expect(file_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION,
	    "... and it is the current version");
	schema_migrated = schema_text(path);
	schema_fresh = schema_text(fresh);
	expect(strcmp(schema_migrated, schema_fresh) == 0, "the migrated "
	    "schema is a fresh one's, word for word");
	free(schema_migrated);
	free(schema_fresh);
	/* 4 layers in BS: big, small, best, oracle 0..4, fixed 0..4,
	 * random_best 0..4, random_mean 0..4, one router 0..4; 3 layers in
	 * BS. the same with 0..3. */
	expect(file_int(path, "SELECT count(*) FROM run_means") ==
	    file_int(path, "SELECT count(*) FROM (SELECT DISTINCT run_id, "
	    "method, CASE WHEN method = 'best' THEN NULL ELSE budget END "
	    "FROM results)") && file_int(path, "SELECT count(*) FROM "
	    "run_means") > 10, "run_means has one row per run, method and "
	    "budget");
	check_views(path, id_a, &a);
	check_views(path, id_b, &b);
	expect_ok(store_list_runs(store, &runs, &n_runs, &err), &err,
	    "list the migrated runs");
	expect(n_runs == 2 && list_means_agree(&runs[0], &a.record) &&
	    list_means_agree(&runs[1], &b.record), "the list's big, small "
	    "and best means after the migration (tol 1e-9 relative)");
	store_free_runs(runs, n_runs);
	store_close(store);

	/* A migration that fails half way (a table of that name is in the
	 * way) takes nothing with it. */
	db = raw_open(broken);
	raw_exec(db, "CREATE TABLE run_means (note TEXT)");
	sqlite3_close(db);
	before = schema_text(broken);
	expect_error(store_open(&store, broken, 0, &err), &err, "run_means",
	    "a migration that cannot be done");
	schema_migrated = schema_text(broken);
	expect(file_int(broken, "PRAGMA user_version") == 1 &&
	    strcmp(before, schema_migrated) == 0 && file_int(broken,
	    "SELECT count(*) FROM curve") > 0, "... leaves version 1 as it "
	    "was, its curve view reading results");
	free(before);
	free(schema_migrated);
	synthetic_run_free(&a);
	synthetic_run_free(&b);
}

/* A run's export as one string (CSV, then JSON). */
static char *
export_text(const char *path, int64_t id)
{
	struct store *store;
	struct run_data run;
	struct duo_error err;
	char *out = NULL;
	size_t size = 0;
	FILE *f;

	if (store_open(&store, path, STORE_READONLY, &err) != 0)
		return strdup(err.message);
	if (store_load_run(store, id, &run, &err) != 0) {
		store_close(store);
		return strdup(err.message);
	}
	if ((f = open_memstream(&out, &size)) == NULL)
		exit(99);
	export_write(f, &run, EXPORT_CSV);
	export_write(f, &run, EXPORT_JSON);
	fclose(f);
	store_free_run(&run);
	store_close(store);
	return out;
}

/* Every row of the tables a run keeps, as one string, in key order. */
static char *
rows_text(const char *path)
{
	static const char sql[] =
	    "SELECT group_concat(line, char(10)) FROM ("
	    "SELECT 'run ' || id || ' ' || model_id || ' ' || label || ' ' ||"
	    " created_at || ' ' || n_tokens || ' ' || space || ' ' || context ||"
	    " ' ' || settings || ' ' || n_results AS line FROM runs"
	    " UNION ALL SELECT * FROM (SELECT 'token ' || run_id || ' ' || pos ||"
	    " ' ' || token_id || ' ' || hex(piece) FROM tokens"
	    " ORDER BY run_id, pos)"
	    " UNION ALL SELECT * FROM (SELECT 'result ' || run_id || ' ' || pos"
	    " || ' ' || method || ' ' || budget || ' ' || coalesce(route, '-')"
	    " || ' ' || printf('%.17g', loss) FROM results"
	    " ORDER BY run_id, pos, method, budget)"
	    " UNION ALL SELECT * FROM (SELECT 'table ' || run_id || ' ' || pos"
	    " || ' ' || hex(losses) FROM route_losses ORDER BY run_id, pos)"
	    " UNION ALL SELECT * FROM (SELECT 'mean ' || run_id || ' ' || method"
	    " || ' ' || coalesce(budget, '-') || ' ' || n || ' ' ||"
	    " printf('%.17g', mean_loss) FROM run_means"
	    " ORDER BY run_id, method, budget))";
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *stmt;
	const unsigned char *rows;
	char *all = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW &&
	    (rows = sqlite3_column_text(stmt, 0)) != NULL)
		all = strdup((const char *)rows);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return all != NULL ? all : strdup("");
}

/*
 * A version-3 database opened for writing: results rebuilt with every
 * row, the views reading the new table, route_kl and runs.control_of
 * added, the schema a fresh one's, "duo export" of the old runs the same
 * as before; then the new methods, KL tables and control_of are stored
 * and read back.  A migration that fails half way leaves version 3.
 */
static void
test_migration_v3(void)
{
	struct synthetic_run a, b, c;
	struct store *store;
	struct duo_error err;
	struct run_info *runs;
	size_t n_runs, p, i;
	int64_t id_a, id_b, id_c, id_control;
	char path[512], fresh[512], broken[512], command[1200];
	char *rows_before, *rows_after, *export_a, *export_b, *again;
	char *before, *after;
	float *kl;
	int same, rc;
	sqlite3 *db;

	path_in(path, sizeof path, "v3.db");
	path_in(fresh, sizeof fresh, "v4.db");
	path_in(broken, sizeof broken, "v3-broken.db");
	make_run(&a, 4, "BS", 30, 1, 31, "model four");
	make_run(&b, 3, "BS.", 20, 0, 32, "model three");
	expect_ok(store_open(&store, path, 0, &err), &err, "make a database "
	    "to turn into version 3");
	if (store == NULL)
		return;
	expect_ok(store_write_run(store, &a.record, &id_a, &err), &err,
	    "write a BS run with tables");
	expect_ok(store_write_run(store, &b.record, &id_b, &err), &err,
	    "write a BS. run");
	store_close(store);
	expect_ok(store_open(&store, fresh, 0, &err), &err, "a fresh "
	    "database for its schema");
	store_close(store);
	export_a = export_text(path, id_a);
	export_b = export_text(path, id_b);

	db = raw_open(path);
	raw_exec(db, "PRAGMA journal_mode = DELETE");
	raw_exec(db, downgrade_to_v5);
	sqlite3_close(db);
	db = raw_open(path);
	raw_exec(db, downgrade_to_v4);
	raw_exec(db, downgrade_to_v3);
	sqlite3_close(db);
	rows_before = rows_text(path);
	expect(file_int(path, "PRAGMA user_version") == 3 &&
	    file_int(path, "SELECT count(*) FROM sqlite_master WHERE name = "
	    "'route_kl'") == 0 && file_int(path, "SELECT count(*) FROM "
	    "pragma_table_info('runs') WHERE name = 'control_of'") == 0 &&
	    file_int(path, "SELECT count(*) FROM results") ==
	    (int64_t)(a.record.n_results + b.record.n_results),
	    "the database is now version 3, every row kept");
	db = raw_open(path);
	rc = sqlite3_exec(db, "INSERT INTO results VALUES (1, 1, "
	    "'oracle_free', 0, 'SSSS', 1.0)", NULL, NULL, NULL);
	sqlite3_close(db);
	expect(rc == SQLITE_CONSTRAINT, "version 3's CHECK refuses "
	    "oracle_free");
	snprintf(command, sizeof command, "cp '%s' '%s'", path, broken);
	if (system(command) != 0) {
		printf("cannot copy %s\n", path);
		exit(99);
	}

	expect_ok(store_open(&store, path, 0, &err), &err,
	    "open a version-3 database for writing");
	if (store == NULL)
		return;
	before = schema_text(path);
	after = schema_text(fresh);
	expect(file_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION &&
	    strcmp(before, after) == 0, "... it is the current version, its "
	    "schema a fresh one's word for word");
	free(before);
	free(after);
	rows_after = rows_text(path);
	expect(strcmp(rows_before, rows_after) == 0 && strlen(rows_after) >
	    1000, "every run, token, result, loss table and mean is kept, "
	    "byte for byte");
	expect(file_int(path, "PRAGMA foreign_key_check") == -1 &&
	    file_int(path, "SELECT count(*) FROM pragma_integrity_check "
	    "WHERE integrity_check <> 'ok'") == 0, "no dangling keys, the "
	    "file whole");
	check_views(path, id_a, &a);
	check_views(path, id_b, &b);
	again = export_text(path, id_a);
	expect(strcmp(again, export_a) == 0, "duo export of the BS run is "
	    "the same after the migration");
	free(again);
	again = export_text(path, id_b);
	expect(strcmp(again, export_b) == 0, "duo export of the BS. run is "
	    "the same after the migration");
	free(again);

	/* the new methods, a KL table and a control go in and come back */
	{
		struct synthetic_options o = {
			.n_layer = 4, .space = "BS", .n_ctx = 16,
			.n_tokens = 25, .n_routers = 1, .keep_tables = 1,
			.seed = 33, .model_name = "model four",
			.label_free = 1,
		};

		if (synthetic_run_make(&c, text, text_length, &o) != 0)
			exit(99);
	}
	expect_ok(store_write_run(store, &c.record, &id_c, &err), &err,
	    "write a run with oracle_free, shuffled and KL tables");
	kl = malloc(c.n_routes * sizeof *kl);
	same = kl != NULL;
	for (p = 1; same && p <= c.record.n_tokens; p++) {
		same = store_load_route_kl(store, id_c, (int)p, kl, c.n_routes,
		    &err) == 0;
		for (i = 0; same && i < c.n_routes; i++)
			same = kl[i] == c.route_kl[(p - 1) * c.n_routes + i];
	}
	expect(same, "every KL table reads back bit for bit");
	expect(store_load_route_kl(store, id_a, 1, kl, a.n_routes, &err) == 1,
	    "a run from before keeps no KL table");
	expect_error(store_load_route_kl(store, id_c, 1, kl, 3, &err), &err,
	    "the KL table has 64 bytes, not 12", "a KL table of another size");
	free(kl);
	expect(file_int(path, "SELECT count(*) FROM results WHERE run_id = "
	    "(SELECT max(id) FROM runs) AND method IN ('oracle_free', "
	    "'shuffled')") == 2 * 25 * 5, "oracle_free and shuffled rows at "
	    "every budget");
	c.record.control_of = id_c;
	expect_ok(store_write_run(store, &c.record, &id_control, &err), &err,
	    "write a control of that run");
	expect_ok(store_list_runs(store, &runs, &n_runs, &err), &err,
	    "list the runs");
	expect(n_runs == 4 && runs[3].control_of == id_c &&
	    runs[2].control_of == 0, "control_of is read back, 0 for none");
	store_free_runs(runs, n_runs);
	c.record.control_of = id_control + 100;
	expect_error(store_write_run(store, &c.record, &id_control, &err),
	    &err, "FOREIGN KEY", "a control of no run");
	expect_ok(store_delete_run(store, id_c, &err), &err, "delete the "
	    "controlled run");
	expect(file_int(path, "SELECT count(*) FROM runs") == 2 &&
	    file_int(path, "SELECT count(*) FROM route_kl") == 0, "its "
	    "control and its KL tables go with it");
	store_close(store);

	/* A migration that fails half way (a table of that name is in the
	 * way) takes nothing with it. */
	db = raw_open(broken);
	raw_exec(db, "CREATE TABLE route_kl (note TEXT)");
	sqlite3_close(db);
	before = schema_text(broken);
	expect_error(store_open(&store, broken, 0, &err), &err, "route_kl",
	    "a migration to version 4 that cannot be done");
	after = schema_text(broken);
	again = rows_text(broken);
	expect(file_int(broken, "PRAGMA user_version") == 3 &&
	    strcmp(before, after) == 0 && strcmp(again, rows_before) == 0,
	    "... leaves version 3 as it was, every row in place");
	free(before);
	free(after);
	free(again);
	free(rows_before);
	free(rows_after);
	free(export_a);
	free(export_b);
	synthetic_run_free(&a);
	synthetic_run_free(&b);
	synthetic_run_free(&c);
}

/* Rows of router_metrics for run 1 whose achievable gap and label-free
 * perplexity agree with the means of results, computed here, to 1e-9
 * (the view and this query average the same rows in another order);
 * the rows without an achievable gap count when fixed is within 1e-5
 * nats of oracle_free. */
static const char achievable_agrees[] =
    "WITH means AS (SELECT method, budget, avg(loss) AS l FROM results\n"
    "  WHERE run_id = 1 GROUP BY method, budget)\n"
    "SELECT count(*) FROM router_metrics AS m\n"
    "JOIN means AS r ON r.method = m.method AND r.budget = m.budget\n"
    "JOIN means AS f ON f.method = 'fixed' AND f.budget = m.budget\n"
    "JOIN means AS a ON a.method = 'oracle_free' AND a.budget = m.budget\n"
    "WHERE m.run_id = 1 AND abs(m.ppl_oracle_free - exp(a.l)) < 1e-9\n"
    "  AND CASE WHEN f.l - a.l > 1e-5\n"
    "    THEN abs(m.achievable_gap_closed - (f.l - r.l) / (f.l - a.l))\n"
    "      < 1e-9\n"
    "    ELSE m.achievable_gap_closed IS NULL END";

/*
 * A version-4 database opened for writing: router_metrics made again with
 * ppl_oracle_free and achievable_gap_closed, equal to the means of
 * results; the schema a fresh one's, every row kept.
 */
static void
test_migration_v4(void)
{
	struct synthetic_run a;
	struct synthetic_options o = {
		.n_layer = 4, .space = "BS", .n_ctx = 16, .n_tokens = 25,
		.n_routers = 2, .keep_tables = 1, .seed = 41,
		.model_name = "model four", .label_free = 1,
	};
	struct store *store;
	struct duo_error err;
	char path[512], *rows_before, *rows_after, *before, *after;
	int64_t id, n_metrics;
	sqlite3 *db;

	path_in(path, sizeof path, "v4.db");
	if (synthetic_run_make(&a, text, text_length, &o) != 0)
		exit(99);
	expect_ok(store_open(&store, path, 0, &err), &err, "make a database "
	    "to turn into version 4");
	if (store == NULL)
		return;
	expect_ok(store_write_run(store, &a.record, &id, &err), &err,
	    "write a run with routers and oracle_free");
	store_close(store);
	before = schema_text(path);
	n_metrics = file_int(path, "SELECT count(*) FROM router_metrics");
	expect(n_metrics == 2 * 5 && file_int(path, achievable_agrees) ==
	    n_metrics, "router_metrics has the label-free perplexity and the "
	    "achievable gap of every router and budget, as the means of "
	    "results give them (tol 1e-9)");
	expect(file_int(path, "SELECT count(*) FROM router_metrics WHERE "
	    "achievable_gap_closed IS NOT NULL") > 0, "... some of them "
	    "defined");

	db = raw_open(path);
	raw_exec(db, "PRAGMA journal_mode = DELETE");
	raw_exec(db, downgrade_to_v5);
	sqlite3_close(db);
	db = raw_open(path);
	raw_exec(db, downgrade_to_v4);
	sqlite3_close(db);
	rows_before = rows_text(path);
	expect(file_int(path, "PRAGMA user_version") == 4 && file_int(path,
	    "SELECT count(*) FROM pragma_table_info('router_metrics') WHERE "
	    "name = 'achievable_gap_closed'") == 0, "the database is now "
	    "version 4, without the achievable gap");

	expect_ok(store_open(&store, path, 0, &err), &err,
	    "open a version-4 database for writing");
	if (store == NULL)
		return;
	store_close(store);
	after = schema_text(path);
	expect(file_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION &&
	    strcmp(before, after) == 0, "... it is the current version, its "
	    "schema a fresh one's word for word");
	rows_after = rows_text(path);
	expect(strcmp(rows_before, rows_after) == 0, "every row is kept");
	expect(file_int(path, achievable_agrees) == n_metrics, "the migrated "
	    "router_metrics gives the achievable gap of every router and "
	    "budget");
	free(before);
	free(after);
	free(rows_before);
	free(rows_after);
	synthetic_run_free(&a);
}

/*
 * Version 6 adds runs.status, tokens_done and corpus, leaves incomplete
 * runs out of the views over results, and aggregates a corpus.  The views
 * are checked against sums written here over results and tokens; then the
 * file is taken back to version 5 and opened: every run is complete, with
 * every token done and no corpus, and the schema is a fresh one's.
 */
static void
test_migration_v5(void)
{
	struct synthetic_run a, b;
	struct synthetic_options oa = {
		.n_layer = 4, .space = "BS", .n_ctx = 16, .n_tokens = 25,
		.n_routers = 1, .keep_tables = 0, .seed = 51,
		.model_name = "model four",
	}, ob = oa;
	struct store *store;
	struct duo_error err;
	char path[512], *before, *after;
	int64_t id_a, id_b, id_c;
	sqlite3 *db;

	path_in(path, sizeof path, "v5.db");
	ob.seed = 52;
	ob.n_tokens = 18;
	if (synthetic_run_make(&a, text, text_length, &oa) != 0 ||
	    synthetic_run_make(&b, text, text_length, &ob) != 0)
		exit(99);
	expect_ok(store_open(&store, path, 0, &err), &err, "make a database "
	    "to turn into version 5");
	if (store == NULL)
		return;
	expect_ok(store_write_run(store, &a.record, &id_a, &err), &err,
	    "write a first run");
	expect_ok(store_write_run(store, &b.record, &id_b, &err), &err,
	    "write a second run");
	expect_ok(store_write_run(store, &b.record, &id_c, &err), &err,
	    "write a third run, to be stopped");
	store_close(store);
	expect(file_int(path, "SELECT count(*) FROM runs WHERE status = "
	    "'complete' AND tokens_done = n_tokens AND corpus IS NULL") == 3,
	    "a run written whole is complete, every token done");

	db = raw_open(path);
	raw_exec(db, "UPDATE runs SET corpus = 'books'; UPDATE runs SET "
	    "status = 'stopped', tokens_done = 5 WHERE id = 3");
	sqlite3_close(db);
	expect(file_int(path, "SELECT count(*) FROM difficulty WHERE run_id "
	    "= 3") == 0 && file_int(path, "SELECT count(*) FROM "
	    "difficulty_at WHERE run_id = 3") == 0 && file_int(path,
	    "SELECT count(*) FROM allocation WHERE run_id = 3") == 0 &&
	    file_int(path, "SELECT count(*) FROM router_regret WHERE run_id "
	    "= 3") == 0, "the views over results leave a stopped run out");
	expect(file_int(path, "SELECT count(*) FROM difficulty WHERE run_id "
	    "= 2") == 18 && file_int(path, "SELECT count(*) FROM "
	    "router_regret WHERE run_id = 2") > 0, "... and show the "
	    "complete one with the same rows");
	/* corpus_curve: the mean over every token of the complete runs */
	expect(file_int(path, "SELECT count(*) FROM corpus_curve AS c WHERE "
	    "c.corpus = 'books' AND c.n_runs = 2 AND c.n = (SELECT count(*) "
	    "FROM results AS r WHERE r.run_id IN (1, 2) AND r.method = "
	    "c.method AND (r.budget IS c.budget OR c.budget IS NULL)) AND "
	    "abs(c.mean_loss - (SELECT avg(r.loss) FROM results AS r WHERE "
	    "r.run_id IN (1, 2) AND r.method = c.method AND (r.budget IS "
	    "c.budget OR c.budget IS NULL))) < 1e-9 AND "
	    "abs(c.ppl - exp(c.mean_loss)) < 1e-9 * c.ppl") == file_int(path,
	    "SELECT count(*) FROM (SELECT DISTINCT method, budget FROM "
	    "run_means WHERE run_id IN (1, 2))") && file_int(path,
	    "SELECT count(*) FROM corpus_curve") > 10, "corpus_curve is the "
	    "token-weighted mean loss of the complete runs, per method and "
	    "budget (tol 1e-9)");
	/* corpus_difficulty: per piece, over the complete runs' tokens */
	expect(file_int(path, "SELECT count(*) FROM corpus_difficulty AS c "
	    "WHERE c.n = (SELECT count(*) FROM tokens AS t WHERE t.run_id IN "
	    "(1, 2) AND t.pos >= 1 AND t.piece = c.piece) AND "
	    "abs(c.difficulty - (SELECT avg(s.loss - o.loss) FROM tokens AS t "
	    "JOIN results AS s ON s.run_id = t.run_id AND s.pos = t.pos AND "
	    "s.method = 'small' JOIN results AS o ON o.run_id = t.run_id AND "
	    "o.pos = t.pos AND o.method = 'best' WHERE t.run_id IN (1, 2) AND "
	    "t.piece = c.piece)) < 1e-9") == file_int(path, "SELECT "
	    "count(DISTINCT piece) FROM tokens WHERE run_id IN (1, 2) AND pos "
	    ">= 1"), "corpus_difficulty has every piece of the complete runs "
	    "with its count and mean difficulty (tol 1e-9)");
	db = raw_open(path);
	raw_exec(db, "UPDATE runs SET corpus = NULL WHERE id = 1");
	sqlite3_close(db);
	expect(file_int(path, "SELECT max(n_runs) FROM corpus_curve") == 1,
	    "a run without a corpus is in no corpus");

	before = schema_text(path);
	db = raw_open(path);
	raw_exec(db, "PRAGMA journal_mode = DELETE");
	raw_exec(db, downgrade_to_v5);
	sqlite3_close(db);
	/* The rows written again without their three last fields, as a
	 * version-5 file holds them (VACUUM would copy them as they are). */
	db = raw_open(path);
	raw_exec(db, "PRAGMA foreign_keys = OFF; BEGIN; CREATE TABLE "
	    "runs_v5 AS SELECT * FROM runs; DELETE FROM runs; INSERT INTO "
	    "runs SELECT * FROM runs_v5; DROP TABLE runs_v5; COMMIT");
	sqlite3_close(db);
	expect(file_int(path, "PRAGMA user_version") == 5 && file_int(path,
	    "SELECT count(*) FROM pragma_table_info('runs') WHERE name IN "
	    "('status', 'tokens_done', 'corpus')") == 0 && file_int(path,
	    "SELECT count(*) FROM difficulty WHERE run_id = 3") == 18,
	    "the database is now version 5, its views over every run");

	expect_ok(store_open(&store, path, 0, &err), &err,
	    "open a version-5 database for writing");
	if (store == NULL)
		return;
	store_close(store);
	after = schema_text(path);
	expect(file_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION &&
	    strcmp(before, after) == 0, "... it is the current version, its "
	    "schema a fresh one's word for word");
	expect(file_int(path, "SELECT count(*) FROM runs WHERE status = "
	    "'complete' AND tokens_done = n_tokens AND corpus IS NULL") == 3,
	    "every run of version 5 is complete, every token done, in no "
	    "corpus");
	free(before);
	free(after);
	synthetic_run_free(&a);
	synthetic_run_free(&b);
}

static void
test_paths(void)
{
	struct store *store;
	struct duo_error err;
	struct stat st;
	char path[512], want[600], *p;
	int is_default;

	/* An explicit path in a missing folder: an error naming the folder,
	 * and no folder made. */
	path_in(path, sizeof path, "missing/runs.db");
	snprintf(want, sizeof want, "folder %s/missing does not exist", folder);
	expect_error(store_open(&store, path, 0, &err), &err, want,
	    "a path in a missing folder");
	path_in(path, sizeof path, "missing");
	expect(stat(path, &st) != 0, "... and no folder was made");

	/* STORE_MAKE_FOLDER makes the whole chain. */
	path_in(path, sizeof path, "made/deeper/runs.db");
	expect_ok(store_open(&store, path, STORE_MAKE_FOLDER, &err), &err,
	    "make missing folders when asked");
	store_close(store);

	/* Read-only opens never create. */
	path_in(path, sizeof path, "absent.db");
	expect_error(store_open(&store, path, STORE_READONLY, &err), &err,
	    "no such database", "reading a missing database");
	expect(stat(path, &st) != 0, "... creates nothing");

	/* The default path. */
	unsetenv("DUO_DB");
	setenv("XDG_DATA_HOME", folder, 1);
	p = store_default_path(NULL, &is_default, &err);
	snprintf(want, sizeof want, "%s/duo/runs.db", folder);
	expect(p != NULL && strcmp(p, want) == 0 && is_default,
	    "$XDG_DATA_HOME/duo/runs.db");
	free(p);
	setenv("XDG_DATA_HOME", "relative/path", 1);
	setenv("HOME", "/home/someone", 1);
	p = store_default_path(NULL, &is_default, &err);
	expect(p != NULL && strcmp(p, "/home/someone/.local/share/duo/runs.db")
	    == 0 && is_default, "a relative XDG_DATA_HOME is ignored: "
	    "~/.local/share/duo/runs.db");
	free(p);
	setenv("DUO_DB", "/data/runs.db", 1);
	p = store_default_path(NULL, &is_default, &err);
	expect(p != NULL && strcmp(p, "/data/runs.db") == 0 && !is_default,
	    "$DUO_DB");
	free(p);
	p = store_default_path("given.db", &is_default, &err);
	expect(p != NULL && strcmp(p, "given.db") == 0 && !is_default,
	    "-d FILE wins");
	free(p);

	/* The default folder is made; a $DUO_DB folder is not. */
	setenv("XDG_DATA_HOME", folder, 1);
	unsetenv("DUO_DB");
	expect_ok(store_open_default(&store, NULL, 0, &err), &err,
	    "open the default database, making its folder");
	store_close(store);
	snprintf(want, sizeof want, "%s/duo/runs.db", folder);
	expect(stat(want, &st) == 0, "... at $XDG_DATA_HOME/duo/runs.db");
	path_in(path, sizeof path, "nowhere/runs.db");
	setenv("DUO_DB", path, 1);
	expect_error(store_open_default(&store, NULL, 0, &err), &err,
	    "does not exist", "$DUO_DB in a missing folder");
	unsetenv("DUO_DB");
}

static void
test_readonly(const char *path)
{
	struct synthetic_run a;
	struct store *store;
	struct duo_error err;
	struct run_info *runs;
	size_t n_runs;
	int64_t id;
	char copy[600], ro_folder[512], command[2400];

	make_run(&a, 4, "BS", 10, 0, 41, "model four");
	/* Opened read-only on purpose: reading works, writing is refused. */
	expect_ok(store_open(&store, path, STORE_READONLY, &err), &err,
	    "open read-only");
	if (store != NULL) {
		expect(store_list_runs(store, &runs, &n_runs, &err) == 0 &&
		    n_runs == 3, "a read-only store lists runs");
		if (n_runs > 0)
			store_free_runs(runs, n_runs);
		expect_error(store_write_run(store, &a.record, &id, &err), &err,
		    "opened read-only", "a read-only store does not write");
		expect_error(store_delete_run(store, 1, &err), &err,
		    "opened read-only", "... nor delete");
		store_close(store);
	}

	/* A file without write permission.  Root writes it anyway, so the
	 * check only means something for other users. */
	path_in(copy, sizeof copy, "locked-down.db");
	snprintf(command, sizeof command, "cp '%s' '%s'", path, copy);
	if (system(command) != 0) {
		printf("cannot copy the database\n");
		exit(99);
	}
	chmod(copy, 0444);
	/* A database in a folder the reader may not write: no -shm file can
	 * be made there, yet the runs must be readable. */
	path_in(ro_folder, sizeof ro_folder, "shared");
	snprintf(command, sizeof command, "mkdir '%s' && cp '%s' '%s/runs.db' "
	    "&& chmod 0555 '%s'", ro_folder, path, ro_folder, ro_folder);
	if (system(command) != 0) {
		printf("cannot make %s\n", ro_folder);
		exit(99);
	}
	if (geteuid() == 0)
		printf("note: running as root, which may write a 0444 file and "
		    "a 0555 folder; the permission checks are skipped\n");
	else {
		expect_error(store_open(&store, copy, 0, &err), &err,
		    "the database is read-only", "a 0444 file is refused "
		    "for writing at open");
		expect_ok(store_open(&store, copy, STORE_READONLY, &err), &err,
		    "... and opens for reading");
		store_close(store);
		snprintf(copy, sizeof copy, "%s/runs.db", ro_folder);
		expect_ok(store_open(&store, copy, STORE_READONLY, &err), &err,
		    "read a database in a folder without write permission");
		if (store != NULL) {
			expect(store_list_runs(store, &runs, &n_runs, &err) ==
			    0 && n_runs == 3, "... and list its runs");
			if (n_runs > 0)
				store_free_runs(runs, n_runs);
			store_close(store);
		}
	}
	synthetic_run_free(&a);
}

static void
test_locked(const char *path)
{
	struct synthetic_run a;
	struct store *store;
	struct duo_error err;
	double t0, waited;
	int64_t id, runs_before;
	sqlite3 *db;
	int rc;

	make_run(&a, 4, "BS", 10, 0, 51, "model four");
	if (store_open(&store, path, 0, &err) != 0) {
		expect_ok(-1, &err, "open for the lock test");
		return;
	}
	store_set_busy_timeout(store, 200);
	runs_before = file_int(path, "SELECT count(*) FROM runs");
	db = raw_open(path);
	raw_exec(db, "BEGIN EXCLUSIVE");
	raw_exec(db, "UPDATE models SET path = path");
	t0 = seconds_now();
	rc = store_write_run(store, &a.record, &id, &err);
	waited = seconds_now() - t0;
	expect_error(rc, &err, "database is locked", "a locked database");
	expect(strstr(err.message, path) != NULL &&
	    strstr(err.message, "0.2 s") != NULL, "... names the file and "
	    "the time waited");
	/* The busy timeout is a lower bound; 0.15 s allows for a coarse
	 * clock, 10 s for a very busy machine. */
	expect(waited >= 0.15 && waited < 10, "... after the busy timeout");
	raw_exec(db, "ROLLBACK");
	sqlite3_close(db);
	expect(file_int(path, "SELECT count(*) FROM runs") == runs_before,
	    "... and wrote nothing");
	expect_ok(store_write_run(store, &a.record, &id, &err), &err,
	    "writes once the lock is gone");
	expect_ok(store_delete_run(store, id, &err), &err, "delete it");
	store_close(store);
	synthetic_run_free(&a);
}

/*
 * A process killed while it writes (kill -9, or Ctrl-C's SIGINT) leaves
 * each run whole or absent.  The child writes runs without pause; each
 * kill lands, almost surely, inside a transaction.
 */
static void
test_killed(const char *path)
{
	static const int delays_ms[] = { 40, 90, 150, 230 };
	struct synthetic_run big;
	struct store *store;
	struct duo_error err;
	char before[512], after[512];
	size_t k;
	int64_t id, n_runs, bad, half, runs_before;
	int wait_ms;
	pid_t child;

	make_run(&big, 8, "BS", 150, 1, 61, "model eight");
	run_fingerprint(path, 1, before, sizeof before);
	for (k = 0; k < sizeof delays_ms / sizeof delays_ms[0]; k++) {
		runs_before = file_int(path, "SELECT count(*) FROM runs");
		fflush(stdout);
		child = fork();
		if (child < 0) {
			printf("fork: %s\n", strerror(errno));
			exit(99);
		}
		if (child == 0) {
			/* A test started in the background by a shell
			 * inherits SIGINT ignored; the child must die of it
			 * as an interactive duo would. */
			signal(SIGINT, SIG_DFL);
			if (store_open(&store, path, 0, &err) != 0)
				_exit(3);
			for (;;)
				if (store_write_run(store, &big.record, &id,
				    &err) != 0)
					_exit(4);
		}
		/* Wait (30 s at most) until the child has finished a run, so
		 * that even on a loaded machine the kill comes after it has
		 * started writing, then let it go on a little. */
		for (wait_ms = 0; wait_ms < 30000 &&
		    file_int(path, "SELECT count(*) FROM runs") <= runs_before;
		    wait_ms += 10)
			usleep(10000);
		usleep((useconds_t)delays_ms[k] * 1000);
		kill(child, k % 2 == 0 ? SIGKILL : SIGINT);
		waitpid(child, NULL, 0);

		/* Every run in the file is whole. */
		n_runs = file_int(path, "SELECT count(*) FROM runs");
		bad = file_int(path, "SELECT count(*) FROM runs AS r WHERE "
		    "(SELECT count(*) FROM tokens WHERE run_id = r.id) != "
		    "r.n_tokens + 1 OR (SELECT count(*) FROM results WHERE "
		    "run_id = r.id) != r.n_results");
		half = orphans(path);
		expect(n_runs >= 3 && bad == 0 && half == 0, k % 2 == 0 ?
		    "after kill -9 every run is whole or absent" :
		    "after SIGINT every run is whole or absent");
	}
	/* Had no child finished a run, the kills might all have come
	 * before any transaction began. */
	expect(n_runs > 3, "the children wrote runs between the kills");
	run_fingerprint(path, 1, after, sizeof after);
	expect(strcmp(before, after) == 0, "the earlier run survived the "
	    "kills intact");
	expect(file_int(path, "SELECT count(*) FROM pragma_integrity_check "
	    "WHERE integrity_check = 'ok'") == 1, "integrity check after "
	    "the kills");
	/* Clean up the children's runs, leaving runs 1 to 3, the way a
	 * person would with sqlite3. */
	{
		sqlite3 *db = raw_open(path);

		raw_exec(db, "PRAGMA foreign_keys = ON; "
		    "DELETE FROM runs WHERE id > 3");
		sqlite3_close(db);
	}
	expect(orphans(path) == 0 && file_int(path, "SELECT count(*) FROM "
	    "runs") == 3, "ON DELETE CASCADE from sqlite3 with foreign_keys "
	    "on");
	synthetic_run_free(&big);
}

/*
 * The value of the IEEE half nearest to f, ties to the even one: the
 * test's own rounding, in double, for checking the store's bit by bit.
 * Finite values only; from 65520 up, infinity.
 */
static double
half_nearest(float f)
{
	double a = fabs((double)f), quantum, value;
	int e;

	if (a == 0.0)
		return (double)f;
	frexp(a, &e);           /* a in [2^(e-1), 2^e) */
	quantum = ldexp(1.0, (e - 1 < -14 ? -14 : e - 1) - 10);
	value = rint(a / quantum) * quantum;    /* ties to even */
	if (value >= 65520.0)
		value = INFINITY;
	return f < 0 ? -value : value;
}

/* A little-endian half read as a double, by its fields. */
static double
half_value(const unsigned char *b)
{
	unsigned bits = (unsigned)b[0] | (unsigned)b[1] << 8;
	int exponent = (int)(bits >> 10 & 0x1f);
	double value, mantissa = (double)(bits & 0x3ff);

	if (exponent == 0x1f)
		value = mantissa == 0 ? INFINITY : NAN;
	else if (exponent == 0)
		value = ldexp(mantissa, -24);
	else
		value = ldexp(1024.0 + mantissa, exponent - 25);
	return bits & 0x8000 ? -value : value;
}

/* Every blob of table (losses or kl column) of run id against the float
 * tables want (n_tokens, n_routes) rounded to half; the count of values
 * that differ, or -1 when a row is missing or of another size. */
static long
half_mismatches(const char *path, const char *table, const char *column,
    int64_t id, const float *want, size_t n_tokens, size_t n_routes)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *stmt;
	const unsigned char *blob;
	char sql[200];
	size_t rows = 0, i, p;
	long bad = 0;

	snprintf(sql, sizeof sql, "SELECT pos, %s FROM %s WHERE run_id = %lld "
	    "ORDER BY pos", column, table, (long long)id);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		exit(99);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		p = (size_t)sqlite3_column_int64(stmt, 0);
		blob = sqlite3_column_blob(stmt, 1);
		if (p != rows + 1 || (size_t)sqlite3_column_bytes(stmt, 1) !=
		    2 * n_routes) {
			bad = -1;
			break;
		}
		for (i = 0; i < n_routes; i++)
			bad += half_value(blob + 2 * i) != half_nearest(
			    want[(p - 1) * n_routes + i]);
		rows++;
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return bad < 0 || rows != n_tokens ? -1 : bad;
}

/*
 * Compact loss tables (duo run --losses): a run kept with F16 tables has
 * them in route_losses_f16 and route_kl_f16, none in route_losses or
 * route_kl, each value the float32 one rounded to the nearest half (ties
 * to even), checked bit for bit against the test's own rounding, with
 * halfway cases, subnormals and a value past the largest half put in;
 * store_load_route_losses() and store_load_route_kl() give the halves
 * back widened, store_route_tables() says F16.  A run kept with NONE
 * stores no table, and says so.  The old float32 run reads as before.
 */
static void
test_half_tables(void)
{
	static const float edges[] = {
		1.0f + 0x1p-11f,        /* halfway: to 1, the even one */
		1.0f + 0x3p-11f,        /* halfway: up to 1 + 2^-9 */
		1.0f + 0x1p-11f + 0x1p-20f,     /* past halfway: up */
		3e-8f, 6e-5f, 0x1p-25f, 0x1.8p-24f,     /* subnormals */
		65504.0f, 65519.0f, 65520.0f, 1e6f,     /* the top */
		-2.5f, 0.0f, 11.3f, 0.1f,
	};
	struct synthetic_run a, none;
	struct store *store;
	struct duo_error err;
	enum store_tables tables = STORE_TABLES_F32;
	float *back;
	size_t i, p, n_edges = sizeof edges / sizeof edges[0];
	int64_t id_a, id_none;
	int same = 1, rc, asked_none = 1;
	char path[512], sql[300];
	struct run_info *runs = NULL;
	struct run_data data;
	size_t n_runs = 0;
	sqlite3 *db;

	struct synthetic_options o = {
		.n_layer = 4, .space = "BS", .n_ctx = 16, .n_tokens = 30,
		.keep_tables = 1, .seed = 61, .model_name = "model four",
		.label_free = 1,
	};

	path_in(path, sizeof path, "half.db");
	if (synthetic_run_make(&a, text, text_length, &o) != 0)
		exit(99);
	make_run(&none, 3, "BS.", 12, 1, 62, "model three");
	if (a.route_kl == NULL || a.n_routes < n_edges) {
		printf("FAIL the synthetic run has no KL tables to round\n");
		failures++;
		return;
	}
	memcpy(a.route_losses, edges, sizeof edges);
	memcpy(a.route_kl + a.n_routes, edges, sizeof edges);
	a.record.tables = STORE_TABLES_F16;
	none.record.tables = STORE_TABLES_NONE;
	expect_ok(store_open(&store, path, 0, &err), &err, "open the database "
	    "for half tables");
	if (store == NULL)
		return;
	expect_ok(store_write_run(store, &a.record, &id_a, &err), &err,
	    "write a run with F16 tables");
	expect_ok(store_write_run(store, &none.record, &id_none, &err), &err,
	    "write a run with no tables");
	expect(half_mismatches(path, "route_losses_f16", "losses", id_a,
	    a.route_losses, a.record.n_tokens, a.n_routes) == 0,
	    "every F16 loss is the float32 one rounded to the nearest half");
	expect(half_mismatches(path, "route_kl_f16", "kl", id_a, a.route_kl,
	    a.record.n_tokens, a.n_routes) == 0,
	    "every F16 divergence is the float32 one rounded to the nearest "
	    "half");
	expect(count_rows(path, "route_losses", id_a) == 0 &&
	    count_rows(path, "route_kl", id_a) == 0, "an F16 run has no row "
	    "in the float32 tables");
	back = malloc(a.n_routes * sizeof *back);
	if (back == NULL)
		exit(99);
	for (p = 1; p <= a.record.n_tokens; p++) {
		rc = store_load_route_losses(store, id_a, (int)p, back,
		    a.n_routes, &err);
		for (i = 0; i < a.n_routes; i++)
			same &= rc == 0 && (double)back[i] == half_nearest(
			    a.route_losses[(p - 1) * a.n_routes + i]);
		rc = store_load_route_kl(store, id_a, (int)p, back, a.n_routes,
		    &err);
		for (i = 0; i < a.n_routes; i++)
			same &= rc == 0 && (double)back[i] == half_nearest(
			    a.route_kl[(p - 1) * a.n_routes + i]);
	}
	expect(same, "the store reads an F16 table back as its halves");
	expect(store_route_tables(store, id_a, &tables, &asked_none,
	    &err) == 0 && tables == STORE_TABLES_F16 && !asked_none,
	    "an F16 run says F16");
	expect(count_rows(path, "route_losses", id_none) == 0 &&
	    count_rows(path, "route_losses_f16", id_none) == 0 &&
	    count_rows(path, "route_kl", id_none) == 0 &&
	    count_rows(path, "route_kl_f16", id_none) == 0,
	    "a run kept with no tables has none");
	expect(store_load_route_losses(store, id_none, 1, back, none.n_routes,
	    &err) == 1 && store_route_tables(store, id_none, &tables,
	    &asked_none, &err) == 0 && tables == STORE_TABLES_NONE,
	    "... and says so");
	expect_error(store_load_route_losses(store, id_a, 1, back, 3, &err),
	    &err, "F16 loss table has 32 bytes, not 6", "an F16 table of "
	    "another size is refused");
	free(back);
	/* a run in both encodings is damaged: readers would take either */
	none.record.tables = STORE_TABLES_F32;
	expect_ok(store_write_run(store, &none.record, &id_none, &err), &err,
	    "write a run with float32 tables");
	store_close(store);
	db = raw_open(path);
	snprintf(sql, sizeof sql, "INSERT INTO route_losses_f16 SELECT run_id,"
	    " pos, substr(losses, 1, length(losses) / 2) FROM route_losses "
	    "WHERE run_id = %lld", (long long)id_none);
	raw_exec(db, sql);
	sqlite3_close(db);
	expect_ok(store_open(&store, path, 0, &err), &err, "open it again");
	if (store == NULL)
		return;
	snprintf(sql, sizeof sql, "run %lld: it keeps both float32 and F16 "
	    "loss tables", (long long)id_none);
	expect_error(store_load_run(store, id_none, &data, &err), &err, sql,
	    "a run with tables in both encodings is refused as damaged");
	expect(store_list_runs(store, &runs, &n_runs, &err) == 0 &&
	    n_runs == 3 && strstr(runs[2].damage, "both float32 and F16") !=
	    NULL && runs[0].damage[0] == '\0', "... and listed as damaged, "
	    "the others not");
	if (runs != NULL)
		store_free_runs(runs, n_runs);
	store_close(store);
	synthetic_run_free(&a);
	synthetic_run_free(&none);
}

/*
 * A version-4 database opened for writing: the F16 tables added, the
 * schema a fresh one's, every row kept; then an F16 run is stored.
 */
static void
test_migration_v4_tables(void)
{
	struct synthetic_run a;
	struct store *store;
	struct duo_error err;
	int64_t id_a, id_b;
	char path[512], fresh[512];
	char *rows_before, *rows_after, *before, *after;
	sqlite3 *db;

	path_in(path, sizeof path, "v4-old.db");
	path_in(fresh, sizeof fresh, "v5.db");
	make_run(&a, 4, "BS", 20, 1, 71, "model four");
	expect_ok(store_open(&store, path, 0, &err), &err, "make a database "
	    "to turn into version 4");
	if (store == NULL)
		return;
	expect_ok(store_write_run(store, &a.record, &id_a, &err), &err,
	    "write a run with float32 tables");
	store_close(store);
	expect_ok(store_open(&store, fresh, 0, &err), &err, "a fresh "
	    "database for its schema");
	store_close(store);
	db = raw_open(path);
	raw_exec(db, "PRAGMA journal_mode = DELETE");
	raw_exec(db, downgrade_to_v5);
	sqlite3_close(db);
	db = raw_open(path);
	raw_exec(db, downgrade_to_v4);
	sqlite3_close(db);
	rows_before = rows_text(path);
	expect(file_int(path, "PRAGMA user_version") == 4 &&
	    file_int(path, "SELECT count(*) FROM sqlite_master WHERE name "
	    "GLOB 'route_*_f16'") == 0, "the database is now version 4");
	expect_ok(store_open(&store, path, 0, &err), &err,
	    "open a version-4 database for writing");
	if (store == NULL)
		return;
	before = schema_text(path);
	after = schema_text(fresh);
	expect(file_int(path, "PRAGMA user_version") == STORE_SCHEMA_VERSION &&
	    strcmp(before, after) == 0, "... it is the current version, its "
	    "schema a fresh one's word for word");
	rows_after = rows_text(path);
	expect(strcmp(rows_before, rows_after) == 0, "every row of version 4 "
	    "is kept, byte for byte");
	a.record.tables = STORE_TABLES_F16;
	expect_ok(store_write_run(store, &a.record, &id_b, &err), &err,
	    "store an F16 run in the upgraded database");
	expect(count_rows(path, "route_losses_f16", id_b) == 20,
	    "... into route_losses_f16");
	store_close(store);
	free(before);
	free(after);
	free(rows_before);
	free(rows_after);
	synthetic_run_free(&a);
}

int
main(void)
{
	const char *srcdir = getenv("srcdir"), *tmp = getenv("TMPDIR");
	char path[512], text_path[512], command[600];

	snprintf(text_path, sizeof text_path, "%s/tests/texts/store.txt",
	    srcdir != NULL ? srcdir : ".");
	text = synthetic_read_file(text_path, &text_length);
	if (text == NULL) {
		printf("cannot read %s\n", text_path);
		return 99;
	}
	snprintf(folder, sizeof folder, "%s/duo-store-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(folder) == NULL) {
		printf("mkdtemp: %s\n", strerror(errno));
		return 99;
	}
	path_in(path, sizeof path, "runs.db");

	test_round_trip(path);
	test_bytes(path);
	test_bad_records(path);
	test_schema_versions(path);
	test_migration();
	test_migration_v3();
	test_migration_v4();
	test_migration_v5();
	test_migration_v4_tables();
	test_half_tables();
	test_paths();
	test_readonly(path);
	test_locked(path);
	test_killed(path);

	snprintf(command, sizeof command, "chmod -R u+w '%s'; rm -rf '%s'",
	    folder, folder);
	if (system(command) != 0)
		printf("note: could not remove %s\n", folder);
	free(text);
	printf("store: %d of %d checks passed\n", checks - failures, checks);
	return failures == 0 ? 0 : 1;
}
