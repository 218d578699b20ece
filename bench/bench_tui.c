/*
 * bench_tui.c - how fast the browser answers: the first frame, the first
 * screen with the run list, the list complete, opening a run, and the
 * redraw after a key in each view, on a database of 100 runs of 1000
 * tokens (12 layers, the BS space, one router, no loss tables), drawn
 * on a 120x40 virtual terminal whose output goes to /dev/null.  Then, on
 * a second database of one such run that keeps its loss tables (4096
 * routes a token), the what-if view: reading the tables, and a key that
 * changes a constraint or the budget; and, when data/duo.gguf is there
 * (the run is made to name it as its model), the first request of the
 * top 5 predictions (hashing and loading the model, one forward pass)
 * and the next token's.  Then, on a third database of one run of
 * 10,000 tokens (two routers), the tokens view: opening it (the rows
 * built and sorted), a re-sort (s), a filter by a pattern (/) and by
 * :where, a budget change (which re-sorts), and a key that only moves;
 * and on the same run the search of the text view (/, n), the step by
 * rank (}) and n in the compare view.
 *
 * usage: bench_tui [DB]   (default /tmp/duo-bench-tui.db, DB.tables for
 * the second and DB.long for the third; made on the first run from the
 * texts in tests/texts, which takes a few minutes, and kept for the next)
 *
 * The targets: first screen under 200 ms, a key under 20 ms; the
 * tokens view on 10,000 tokens: open under 200 ms, a re-sort or a filter
 * under 50 ms, a key under 20 ms.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "store.h"
#include "../tests/synthetic.h"
#include "tui/tui.h"

#define N_RUNS 100
#define N_TOKENS 1000
#define N_KEYS 200
#define N_PREDICTIONS 60
#define N_LONG 10000

static const char *const texts[] = {
	"tests/texts/harbour.txt", "tests/texts/travels.txt",
	"tests/texts/workshop.txt", "tests/texts/store.txt",
	"tests/texts/fixture-corpus.txt",
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The texts one after the other, passes times: twice is enough words
 * for 1000 tokens, five times for 10,000. */
static char *
corpus_of(int passes, size_t *length)
{
	char *all = NULL, *text, *grown;
	size_t used = 0, n, i;
	int pass;

	for (pass = 0; pass < passes; pass++)
		for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
			text = synthetic_read_file(texts[i], &n);
			if (text == NULL) {
				fprintf(stderr, "bench_tui: cannot read %s "
				    "(run from the source tree)\n", texts[i]);
				exit(1);
			}
			grown = realloc(all, used + n + 2);
			if (grown == NULL)
				exit(1);
			all = grown;
			memcpy(all + used, text, n);
			used += n;
			all[used++] = '\n';
			all[used] = '\0';
			free(text);
		}
	*length = used;
	return all;
}

static char *
corpus(size_t *length)
{
	return corpus_of(2, length);
}

static int
count_runs(const char *path)
{
	struct store *store;
	struct duo_error err;
	struct run_info *runs;
	size_t n;

	if (access(path, F_OK) != 0 ||
	    store_open(&store, path, STORE_READONLY, &err) != 0)
		return 0;
	if (store_list_runs(store, &runs, &n, &err) != 0)
		n = 0;
	else
		store_free_runs(runs, n);
	store_close(store);
	return (int)n;
}

static int
make_database(const char *path)
{
	struct synthetic_options options = {
		.n_layer = 12, .space = "BS", .n_ctx = 256,
		.n_tokens = N_TOKENS, .n_routers = 1, .keep_tables = 0,
		.model_name = "bench",
	};
	struct synthetic_run run;
	struct store *store;
	struct duo_error err;
	char label[32], wal[4096];
	size_t length;
	char *text = corpus(&length);
	int64_t id;
	int i;
	double t0 = now();

	unlink(path);
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof wal, "%s-shm", path);
	unlink(wal);
	if (store_open(&store, path, 0, &err) != 0) {
		fprintf(stderr, "bench_tui: %s\n", err.message);
		return -1;
	}
	for (i = 0; i < N_RUNS; i++) {
		options.seed = (uint64_t)i + 1;
		if (synthetic_run_make(&run, text, length, &options) != 0) {
			fprintf(stderr, "bench_tui: cannot make run %d\n", i);
			return -1;
		}
		snprintf(label, sizeof label, "bench %03d", i + 1);
		run.record.label = label;
		if (store_write_run(store, &run.record, &id, &err) != 0) {
			fprintf(stderr, "bench_tui: %s\n", err.message);
			return -1;
		}
		synthetic_run_free(&run);
		fprintf(stderr, "\rmaking %s: %d of %d runs", path, i + 1,
		    N_RUNS);
	}
	fprintf(stderr, " (%.0f s)\n", now() - t0);
	store_close(store);
	free(text);
	return 0;
}

/*
 * One run of N_TOKENS tokens with its loss tables; its model is
 * data/duo.gguf when that file is there, so that predictions can load it.
 */
static int
make_tables_database(const char *path)
{
	struct synthetic_options options = {
		.n_layer = 12, .space = "BS", .n_ctx = 256,
		.n_tokens = N_TOKENS, .n_routers = 1, .keep_tables = 1,
		.model_name = "bench", .seed = 7,
	};
	struct synthetic_run run;
	struct store *store;
	struct duo_error err;
	char model[PATH_MAX], wal[4096];
	size_t length;
	char *text = corpus(&length);
	int64_t id;

	unlink(path);
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof wal, "%s-shm", path);
	unlink(wal);
	if (synthetic_run_make(&run, text, length, &options) != 0) {
		fprintf(stderr, "bench_tui: cannot make the run of tables\n");
		return -1;
	}
	run.record.label = "tables";
	if (realpath("data/duo.gguf", model) != NULL &&
	    sha256_file(model, run.record.model.sha256, &err) == 0) {
		run.record.model.path = model;
		run.record.model.name = "duo austen";
	}
	if (store_open(&store, path, 0, &err) != 0 ||
	    store_write_run(store, &run.record, &id, &err) != 0) {
		fprintf(stderr, "bench_tui: %s\n", err.message);
		return -1;
	}
	store_close(store);
	synthetic_run_free(&run);
	free(text);
	return 0;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Press the keys in turn, N_KEYS presses in all, redrawing after each as
 * the loop does; report.
 */
static void
time_cycle(struct app *app, const char *what, const int *keys, int n_keys)
{
	double times[N_KEYS], t0, sum = 0;
	int i;

	for (i = 0; i < N_KEYS; i++) {
		t0 = now();
		app_key(app, keys[i % n_keys]);
		app_draw(app);
		times[i] = now() - t0;
		sum += times[i];
	}
	qsort(times, N_KEYS, sizeof times[0], compare_doubles);
	printf("  %-34s mean %6.2f ms  median %6.2f  p95 %6.2f  max %6.2f\n",
	    what, 1e3 * sum / N_KEYS, 1e3 * times[N_KEYS / 2],
	    1e3 * times[N_KEYS * 95 / 100], 1e3 * times[N_KEYS - 1]);
}

/* Press key N_KEYS times, redrawing after each; report. */
static void
time_keys(struct app *app, const char *what, int key)
{
	time_cycle(app, what, &key, 1);
}

/* Press one key once and redraw; the time it took. */
static double
time_once(struct app *app, int key)
{
	double t0 = now();

	app_key(app, key);
	app_draw(app);
	return now() - t0;
}

/*
 * With the predictions shown, the next token: the redraw after the key
 * (the pane says they are coming) and the time until they are drawn.
 */
static void
time_predictions(struct app *app)
{
	double redraw[N_PREDICTIONS], shown[N_PREDICTIONS], t0;
	int i;

	for (i = 0; i < N_PREDICTIONS; i++) {
		t0 = now();
		app_key(app, 'l');
		app_draw(app);
		redraw[i] = now() - t0;
		app_settle(app);
		app_draw(app);
		shown[i] = now() - t0;
	}
	qsort(redraw, N_PREDICTIONS, sizeof redraw[0], compare_doubles);
	qsort(shown, N_PREDICTIONS, sizeof shown[0], compare_doubles);
	printf("  predictions on: l, the redraw      median %6.2f ms  p95 "
	    "%6.2f  max %6.2f\n", 1e3 * redraw[N_PREDICTIONS / 2],
	    1e3 * redraw[N_PREDICTIONS * 95 / 100],
	    1e3 * redraw[N_PREDICTIONS - 1]);
	printf("  predictions on: l, until shown     median %6.2f ms  p95 "
	    "%6.2f  max %6.2f\n", 1e3 * shown[N_PREDICTIONS / 2],
	    1e3 * shown[N_PREDICTIONS * 95 / 100],
	    1e3 * shown[N_PREDICTIONS - 1]);
}

/* The what-if view and the predictions on the run of tables. */
static int
bench_tables(const char *path)
{
	/* Layer 0 cycles free, big, small: each key searches 462 or all
	 * 924 routes with 6 big modules for every token. */
	static const int constraint[] = { ' ' };
	static const int budget[] = { '+', '+', '+', '+', '+', '+', '-', '-',
	    '-', '-', '-', '-' };
	struct tui_options options;
	struct duo_error err;
	struct app app;
	double t;

	if (count_runs(path) != 1 && make_tables_database(path) != 0)
		return -1;
	memset(&options, 0, sizeof options);
	options.db_option = path;
	if (tui_start(&app, &options, 120, 40, &err) != 0) {
		fprintf(stderr, "bench_tui: %s\n", err.message);
		return -1;
	}
	app_settle(&app);
	app_draw(&app);
	printf("bench_tui: one run of %d tokens with its loss tables (4096 "
	    "routes) in %s\n", N_TOKENS, path);
	app_key(&app, '\n');
	app_draw(&app);
	printf("  what-if: open, reading the tables  %8.1f ms\n",
	    1e3 * time_once(&app, '6'));
	time_cycle(&app, "what-if: Space (constraint)", constraint,
	    1);
	time_cycle(&app, "what-if: + and - (budget)", budget, 12);
	app_key(&app, 'x');
	time_keys(&app, "what-if: l (layer, no search)", 'l');
	app_key(&app, '2');
	app_draw(&app);
	t = now();
	app_key(&app, 'p');
	app_draw(&app);
	app_settle(&app);
	app_draw(&app);
	printf("  predictions: first request (p)     %8.1f ms   (hash, load, "
	    "one forward pass, shown)\n", 1e3 * (now() - t));
	time_predictions(&app);
	tui_stop(&app);
	return 0;
}

/* One run of N_LONG tokens, two routers, no loss tables. */
static int
make_long_database(const char *path)
{
	struct synthetic_options options = {
		.n_layer = 12, .space = "BS", .n_ctx = 256,
		.n_tokens = N_LONG, .n_routers = 2, .keep_tables = 0,
		.model_name = "bench", .seed = 5,
	};
	struct synthetic_run run;
	struct store *store;
	struct duo_error err;
	size_t length;
	char *text = corpus_of(5, &length);
	int64_t id;

	unlink(path);
	if (synthetic_run_make(&run, text, length, &options) != 0) {
		fprintf(stderr, "bench_tui: cannot make the run of %d tokens\n",
		    N_LONG);
		return -1;
	}
	run.record.label = "long";
	if (store_open(&store, path, 0, &err) != 0 ||
	    store_write_run(store, &run.record, &id, &err) != 0) {
		fprintf(stderr, "bench_tui: %s\n", err.message);
		return -1;
	}
	store_close(store);
	synthetic_run_free(&run);
	free(text);
	return 0;
}

/* Type text into the prompt the key before opened, Enter timed with the
 * redraw after it; n times, alternating the two texts; report. */
static void
time_prompt(struct app *app, const char *what, int opener,
    const char *const text[2], int n)
{
	double times[N_KEYS], t0, sum = 0;
	const char *c;
	int i;

	for (i = 0; i < n && i < N_KEYS; i++) {
		app_key(app, opener);
		for (c = text[i % 2]; *c != '\0'; c++)
			app_key(app, (unsigned char)*c);
		t0 = now();
		app_key(app, '\n');
		app_draw(app);
		times[i] = now() - t0;
		sum += times[i];
	}
	qsort(times, (size_t)i, sizeof times[0], compare_doubles);
	printf("  %-34s mean %6.2f ms  median %6.2f  p95 %6.2f  max %6.2f\n",
	    what, 1e3 * sum / i, 1e3 * times[i / 2], 1e3 * times[i * 95 / 100],
	    1e3 * times[i - 1]);
}

/* Search and the jumps of seek.c on the run of N_LONG tokens: the
 * search (every match of the text found), n, } (its ranking built once
 * for a measure, a method and a budget) and c then } (built again). */
static void
bench_seek(struct app *app)
{
	static const char *const searches[2] = { "the", "e" };
	static const int measure_then_rank[] = { 'c', '}' };

	app_key(app, '2');
	app_draw(app);
	time_prompt(app, "text: / (search, target 50)", '/', searches, 20);
	time_keys(app, "text: n (next match, target 20)", 'n');
	time_keys(app, "text: } (next harder, target 20)", '}');
	time_cycle(app, "text: c and } (ranking rebuilt)", measure_then_rank,
	    2);
	app_key(app, '5');
	app_draw(app);
	time_keys(app, "compare: n (next match, target 20)", 'n');
}

/* The tokens view on the run of N_LONG tokens. */
static int
bench_tokens(const char *path)
{
	static const char *const patterns[2] = { "^ th", "e" };
	static const char *const wheres[2] = { "where difficulty > 1",
	    "where regret >= 0.5" };
	static const int budget[] = { '+', '-' };
	struct tui_options options;
	struct duo_error err;
	struct app app;
	double open_times[20], t0;
	int i;

	if (count_runs(path) != 1 && make_long_database(path) != 0)
		return -1;
	memset(&options, 0, sizeof options);
	options.db_option = path;
	if (tui_start(&app, &options, 120, 40, &err) != 0) {
		fprintf(stderr, "bench_tui: %s\n", err.message);
		return -1;
	}
	app_settle(&app);
	app_draw(&app);
	printf("bench_tui: one run of %d tokens (two routers) in %s\n",
	    N_LONG, path);
	t0 = now();
	app_key(&app, '\n');
	app_draw(&app);
	printf("  open the run (Enter)               %8.1f ms\n",
	    1e3 * (now() - t0));
	printf("  tokens: first open (7)             %8.1f ms   (target "
	    "200)\n", 1e3 * time_once(&app, '7'));
	/* Opening it again after another method was chosen builds its rows
	 * again, as the first time. */
	for (i = 0; i < 20; i++) {
		app_key(&app, '2');
		app_key(&app, 'm');
		app_draw(&app);
		open_times[i] = time_once(&app, '7');
	}
	qsort(open_times, 20, sizeof open_times[0], compare_doubles);
	printf("  tokens: open again (7), rebuilt    median %6.2f ms  max "
	    "%6.2f\n", 1e3 * open_times[10],
	    1e3 * open_times[19]);
	time_keys(&app, "tokens: s (re-sort, target 50)", 's');
	time_prompt(&app, "tokens: / (filter, target 50)", '/', patterns,
	    100);
	app_key(&app, '/');
	app_key(&app, '\n');
	time_prompt(&app, "tokens: :where (filter, target 50)", ':', wheres,
	    100);
	time_cycle(&app, "tokens: + and - (budget, re-sort)", budget, 2);
	time_keys(&app, "tokens: j (next row, target 20)", 'j');
	time_keys(&app, "tokens: PgDn (page, target 20)", TUI_FN(KEY_NPAGE));
	bench_seek(&app);
	tui_stop(&app);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/tmp/duo-bench-tui.db";
	struct tui_options options;
	struct duo_error err;
	struct app app;
	const struct run_info *runs;
	size_t n;
	double t0, t_frame, t_list, t_all, t_open;
	char tables[1024];

	if (count_runs(path) != N_RUNS && make_database(path) != 0)
		return 1;
	memset(&options, 0, sizeof options);
	options.db_option = path;

	t0 = now();
	if (tui_start(&app, &options, 120, 40, &err) != 0) {
		fprintf(stderr, "bench_tui: %s\n", err.message);
		return 1;
	}
	app_draw(&app);
	t_frame = now() - t0;
	/* The loop wakes every 100 ms while reading; here we wait exactly. */
	while (app_poll(&app), app_runs(&app, &n) == NULL)
		usleep(1000);
	app_draw(&app);
	t_list = now() - t0;
	app_settle(&app);
	app_draw(&app);
	t_all = now() - t0;
	runs = app_runs(&app, &n);

	printf("bench_tui: %zu runs of %lld tokens in %s, 120x40\n", n,
	    n > 0 ? (long long)runs[0].n_tokens : 0LL, path);
	printf("  first frame (\"Reading...\")        %8.1f ms\n",
	    1e3 * t_frame);
	printf("  first screen with the run list     %8.1f ms   (target 200)\n",
	    1e3 * t_list);
	printf("  list complete (oracle@k, texts)    %8.1f ms\n", 1e3 * t_all);

	time_keys(&app, "runs view: j (next run)", 'j');
	time_keys(&app, "runs view: + (budget, resort)", '+');
	t0 = now();
	app_key(&app, '\n');
	app_draw(&app);
	t_open = now() - t0;
	printf("  open a run (Enter)                 %8.1f ms\n", 1e3 * t_open);
	time_keys(&app, "text view: l (next token)", 'l');
	time_keys(&app, "text view: j (line down)", 'j');
	time_keys(&app, "text view: c (measure)", 'c');
	time_keys(&app, "text view: + (budget)", '+');
	app_key(&app, '3');
	time_keys(&app, "budget view: l (budget)", 'l');
	time_keys(&app, "budget view: m (method)", 'm');
	app_key(&app, '4');
	time_keys(&app, "route map: l (next token)", 'l');
	time_keys(&app, "route map: m (method)", 'm');
	app_key(&app, '5');
	time_keys(&app, "compare: l (next token)", 'l');
	time_keys(&app, "compare: r (right method)", 'r');
	time_keys(&app, "compare: m (left method)", 'm');
	time_keys(&app, "compare: + (budget)", '+');
	printf("  (a key's time is app_key and app_draw: curses writes to "
	    "/dev/null)\n");
	tui_stop(&app);
	snprintf(tables, sizeof tables, "%s.tables", path);
	if (bench_tables(tables) != 0)
		return 1;
	snprintf(tables, sizeof tables, "%s.long", path);
	return bench_tokens(tables) != 0;
}
