/*
 * fuzz_db.c - a database damaged by SQL from the fuzzer, then read by
 * every reader of duo: the run list, each run loaded whole, its loss
 * and KL tables (float32, or half in a template run kept with --losses
 * f16) and which of them it keeps, the run finder, both export formats,
 * the findings (as text and TSV) and the browser's loader thread.  A duo
 * database is untrusted input (doc/design.md section 7): people share
 * them.
 *
 * Each input is SQL run against a fresh copy of a small database of
 * synthetic runs (made once, at start), with foreign keys and CHECK
 * constraints off so that any damage is possible; it may not attach
 * other files, and a step budget bounds its time.  Promises checked: no
 * crash or sanitizer report, a refusal is one line, and a run that loads
 * is consistent (its results in position order within its tokens).
 */
#include "fuzz.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <unistd.h>

#include "export.h"
#include "findings.h"
#include "route.h"
#include "store.h"
#include "../synthetic.h"
#include "tui/loader.h"
#include "tui/tui.h"

/* SQL steps one input may take; a runaway recursive query stops here. */
#define SQL_STEP_BUDGET 200000
#define SQL_MAX 8192

static char directory[256], db_path[300];
static unsigned char *template_bytes;
static size_t template_size;
static FILE *sink;

/* Words of our own: the text of the synthetic runs. */
static const char template_text[] =
    "The ferry left the island at dawn, and the keeper counted the gulls "
    "that followed it: seven, then nine, then more than he could name. "
    "By noon the harbour was quiet again.";

static void
remove_database(void)
{
	char side[320];

	unlink(db_path);
	snprintf(side, sizeof side, "%s-wal", db_path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", db_path);
	unlink(side);
	snprintf(side, sizeof side, "%s-journal", db_path);
	unlink(side);
}

static void
write_template_runs(void)
{
	static const struct {
		int n_layer;
		const char *space, *context, *label;
		int n_routers, keep_tables;
		enum store_tables tables;
	} runs[] = {
		{ 3, "BS", "shared", "first", 1, 1, STORE_TABLES_F32 },
		{ 2, "BS.", "fixed", "second", 0, 1, STORE_TABLES_F32 },
		{ 4, "B.", "greedy", NULL, 2, 0, STORE_TABLES_F32 },
		{ 3, "BS.", "shared", "half", 0, 1, STORE_TABLES_F16 },
	};
	struct synthetic_options options;
	struct synthetic_run run;
	struct store *store;
	struct duo_error err;
	int64_t id;
	size_t i;

	FUZZ_CHECK(store_open(&store, db_path, 0, &err) == 0, "%s",
	    err.message);
	for (i = 0; i < sizeof runs / sizeof runs[0]; i++) {
		memset(&options, 0, sizeof options);
		options.n_layer = runs[i].n_layer;
		options.space = runs[i].space;
		options.n_ctx = 16;
		options.n_tokens = 12;
		options.n_routers = runs[i].n_routers;
		options.keep_tables = runs[i].keep_tables;
		options.label_free = 1;
		options.seed = i + 1;
		options.model_name = i == 0 || i == 3 ? "duo-fuzz-a" : i == 1 ?
		    "duo-fuzz-b" : "duo-fuzz-c";
		FUZZ_CHECK(synthetic_run_make(&run, template_text,
		    sizeof template_text - 1, &options) == 0, "synthetic run");
		run.record.label = runs[i].label;
		run.record.created_at = "2024-06-01T09:00:00Z";
		run.record.context = runs[i].context;
		run.record.context_route = strcmp(runs[i].context, "fixed")
		    == 0 ? "BS" : NULL;
		run.record.source = "fuzz";
		run.record.tables = runs[i].tables;
		FUZZ_CHECK(store_write_run(store, &run.record, &id, &err) ==
		    0, "%s", err.message);
		synthetic_run_free(&run);
	}
	store_close(store);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f;
	long size;

	snprintf(directory, sizeof directory, "%s/duo-fuzz-db-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(directory) != NULL, "mkdtemp: %s",
	    strerror(errno));
	snprintf(db_path, sizeof db_path, "%s/runs.db", directory);
	write_template_runs();
	f = fopen(db_path, "rb");
	FUZZ_CHECK(f != NULL && fseek(f, 0, SEEK_END) == 0 &&
	    (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0,
	    "cannot read the template");
	template_size = (size_t)size;
	template_bytes = malloc(template_size);
	FUZZ_CHECK(template_bytes != NULL && fread(template_bytes, 1,
	    template_size, f) == template_size, "cannot read the template");
	fclose(f);
	sink = fopen("/dev/null", "w");
	FUZZ_CHECK(sink != NULL, "/dev/null");
	return 0;
}

/* Nothing outside the one file: no ATTACH, so no VACUUM INTO either. */
static int
authorize(void *arg, int action, const char *a, const char *b,
    const char *c, const char *d)
{
	return action == SQLITE_ATTACH || action == SQLITE_DETACH ?
	    SQLITE_DENY : SQLITE_OK;
}

static int
step_budget(void *arg)
{
	return 1;
}

/* A fresh copy of the template, damaged by sql. */
static void
damage(const char *sql)
{
	sqlite3 *db;
	FILE *f;

	remove_database();
	f = fopen(db_path, "wb");
	FUZZ_CHECK(f != NULL && fwrite(template_bytes, 1, template_size, f) ==
	    template_size && fclose(f) == 0, "cannot copy the template");
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return;
	}
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
	sqlite3_set_authorizer(db, authorize, NULL);
	sqlite3_progress_handler(db, SQL_STEP_BUDGET, step_budget, NULL);
	sqlite3_exec(db, "PRAGMA foreign_keys = OFF; "
	    "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
}

/* A run that loads must hold together. */
static void
check_run(const struct run_data *run)
{
	size_t p, i;

	FUZZ_CHECK(run->first_result[0] <= run->first_result[1],
	    "first results");
	for (p = 0; p <= run->n_tokens; p++)
		FUZZ_CHECK(run->first_result[p] <= run->first_result[p + 1] &&
		    run->first_result[p + 1] <= run->n_results,
		    "results of position %zu out of order", p);
	for (i = 0; i < run->n_results; i++)
		FUZZ_CHECK(run->results[i].method != NULL,
		    "result %zu has no method", i);
}

static void
sink_line(void *arg, const char *text)
{
	fprintf(sink, "%s\n", text);
}

/* The findings of a run that loaded, alone and with itself standing in
 * as its null-model control, as text and TSV. */
static void
read_findings(const struct run_data *run)
{
	struct findings findings;
	struct duo_error err;
	int with_control;

	for (with_control = 0; with_control < 2; with_control++) {
		if (findings_compute(run, with_control ? run : NULL, &findings,
		    &err) != 0)
			FUZZ_CHECK_MESSAGE(err.message);
		else {
			findings_text(&findings, sink_line, NULL);
			findings_write_tsv(sink, &findings);
		}
		findings_free(&findings);
	}
}

static void
read_run(struct store *store, const struct run_info *info)
{
	struct route_space space;
	struct run_data run;
	struct duo_error err;
	enum store_tables tables;
	int asked_none;
	uint64_t n_routes = 0;
	float *losses = NULL;
	int pos;

	if (store_load_run(store, info->id, &run, &err) != 0) {
		FUZZ_CHECK_MESSAGE(err.message);
		return;
	}
	check_run(&run);
	export_write(sink, &run, EXPORT_CSV);
	export_write(sink, &run, EXPORT_JSON);
	read_findings(&run);
	if (route_space_parse(&space, run.info.space, &err) == 0 &&
	    run.info.n_layer >= 1 && run.info.n_layer <= 12)
		n_routes = route_space_size(&space, run.info.n_layer);
	if (store_route_tables(store, info->id, &tables, &asked_none,
	    &err) != 0)
		FUZZ_CHECK_MESSAGE(err.message);
	if (n_routes > 0)
		losses = malloc(n_routes * sizeof *losses);
	for (pos = 1; losses != NULL && pos <= (int)run.n_tokens && pos <= 3;
	    pos++)
	{
		if (store_load_route_losses(store, info->id, pos, losses,
		    n_routes, &err) < 0)
			FUZZ_CHECK_MESSAGE(err.message);
		if (store_load_route_kl(store, info->id, pos, losses,
		    n_routes, &err) < 0)
			FUZZ_CHECK_MESSAGE(err.message);
	}
	free(losses);
	store_free_run(&run);
}

static void
read_all(void)
{
	static const char *const specs[] = { "last", "1", "3", "first",
	    "-1", "99999999999999999999" };
	struct store *store;
	struct run_info *runs;
	struct duo_error err;
	size_t n_runs, i;
	int64_t id;

	if (store_open(&store, db_path, STORE_READONLY, &err) != 0) {
		FUZZ_CHECK_MESSAGE(err.message);
		return;
	}
	for (i = 0; i < sizeof specs / sizeof specs[0]; i++)
		if (store_find_run(store, specs[i], &id, &err) != 0)
			FUZZ_CHECK_MESSAGE(err.message);
	if (store_list_runs(store, &runs, &n_runs, &err) == 0) {
		for (i = 0; i < n_runs; i++)
			read_run(store, &runs[i]);
		store_free_runs(runs, n_runs);
	} else {
		FUZZ_CHECK_MESSAGE(err.message);
	}
	store_close(store);
}

/* loader.c also holds the app's glue for its thread (loader_worker),
 * which calls app_error; the harness drives the loader directly and never
 * runs that glue, so reaching this is itself a fault. */
void
app_error(struct app *app, const char *fmt, ...)
{
	FUZZ_CHECK(0, "app_error called outside the browser");
}

/* The browser reads the list in a thread of its own. */
static void
browse(void)
{
	struct loader *loader = loader_start(db_path);
	const struct run_info *runs;
	char error[1024];
	size_t n_runs = 0, i;

	if (loader == NULL)
		return;
	loader_wait(loader);
	runs = loader_runs(loader, &n_runs);
	for (i = 0; runs != NULL && i < n_runs; i++)
		(void)loader_summary(loader, i);
	FUZZ_CHECK(loader_finished(loader, error, sizeof error),
	    "the loader has not finished after loader_wait");
	if (error[0] != '\0')
		FUZZ_CHECK_MESSAGE(error);
	loader_release(loader);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sql[SQL_MAX + 1];
	size_t length = size < SQL_MAX ? size : SQL_MAX;

	memcpy(sql, data, length);
	sql[length] = '\0';
	damage(sql);
	read_all();
	browse();
	return 0;
}
