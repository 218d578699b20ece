/*
 * bench_store.c - how fast a run is written: a 1000-token run of a
 * 12-layer model in the BS space, 13 budgets, eight methods (two
 * routers), with its loss tables, into a fresh database; then how fast
 * it is read back and how long the views take over it.
 *
 * usage: bench_store [TEXT] [DB]   (TEXT defaults to
 * tests/texts/store.txt repeated; DB to a file in /tmp)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "../tests/synthetic.h"

static double
seconds_on(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Time one query over the views, reading every row. */
static void
time_query(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	double t0 = seconds_on(CLOCK_MONOTONIC);
	int rows = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) !=
	    SQLITE_OK) {
		printf("  %s: %s\n", sql, sqlite3_errmsg(db));
		sqlite3_close(db);
		return;
	}
	while (sqlite3_step(stmt) == SQLITE_ROW)
		rows++;
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	printf("  %6.3f s  %5d rows  %s\n", seconds_on(CLOCK_MONOTONIC) - t0,
	    rows, sql);
}

int
main(int argc, char **argv)
{
	const char *text_path = argc > 1 ? argv[1] : "tests/texts/store.txt";
	char db_path[] = "/tmp/duo-bench-store-XXXXXX";
	struct synthetic_options options = {
		.n_layer = 12, .space = "BS", .n_ctx = 256, .n_tokens = 1000,
		.n_routers = 2, .keep_tables = 1, .seed = 7,
		.model_name = "bench",
	};
	struct synthetic_run run;
	struct run_data back;
	struct store *store;
	struct duo_error err;
	char *text, *big, path_wal[64];
	size_t length, big_length = 0;
	int64_t id;
	double t0, t1, t2, c0, c1;
	int fd, repeat;

	text = synthetic_read_file(text_path, &length);
	if (text == NULL) {
		fprintf(stderr, "cannot read %s\n", text_path);
		return 1;
	}
	/* Enough words for 1000 tokens. */
	big = malloc(length * 8 + 1);
	for (repeat = 0; repeat < 8; repeat++) {
		memcpy(big + big_length, text, length);
		big_length += length;
	}
	big[big_length] = '\0';
	if (synthetic_run_make(&run, big, big_length, &options) != 0) {
		fprintf(stderr, "cannot make the run\n");
		return 1;
	}
	fd = argc > 2 ? -1 : mkstemp(db_path);
	if (fd >= 0)
		close(fd), unlink(db_path);
	if (store_open(&store, argc > 2 ? argv[2] : db_path, 0, &err) != 0) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	t0 = seconds_on(CLOCK_MONOTONIC);
	c0 = seconds_on(CLOCK_PROCESS_CPUTIME_ID);
	if (store_write_run(store, &run.record, &id, &err) != 0) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	t1 = seconds_on(CLOCK_MONOTONIC);
	c1 = seconds_on(CLOCK_PROCESS_CPUTIME_ID);
	if (store_load_run(store, id, &back, &err) != 0) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	t2 = seconds_on(CLOCK_MONOTONIC);
	printf("write: %zu tokens, %zu results, %zu loss tables of %zu "
	    "floats in %.3f s (%.3f s CPU): %.0f result rows/s\n",
	    run.record.n_tokens, run.record.n_results, run.record.n_tokens,
	    run.n_routes, t1 - t0, c1 - c0,
	    (double)run.record.n_results / (t1 - t0));
	printf("read back: %zu results in %.3f s\n", back.n_results, t2 - t1);
	store_free_run(&back);
	store_close(store);
	printf("views over that run:\n");
	time_query(argc > 2 ? argv[2] : db_path,
	    "SELECT * FROM curve WHERE run_id = 1");
	time_query(argc > 2 ? argv[2] : db_path,
	    "SELECT * FROM difficulty WHERE run_id = 1");
	time_query(argc > 2 ? argv[2] : db_path, "SELECT * FROM allocation "
	    "WHERE run_id = 1 AND method = 'oracle' AND budget = 4");
	time_query(argc > 2 ? argv[2] : db_path,
	    "SELECT * FROM allocation WHERE run_id = 1");
	synthetic_run_free(&run);
	free(big);
	free(text);
	if (argc <= 2) {
		unlink(db_path);
		snprintf(path_wal, sizeof path_wal, "%s-wal", db_path);
		unlink(path_wal);
		snprintf(path_wal, sizeof path_wal, "%s-shm", db_path);
		unlink(path_wal);
	}
	return 0;
}
