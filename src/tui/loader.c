/*
 * loader.c - reads the run list in a thread of its own, so that the
 * first screen does not wait for the database: first every run's facts
 * (store_list_runs), then, run by run, what the list shows beyond them
 * (the oracle's perplexity at each budget, and the text the filter
 * searches).
 *
 * The thread has its own read-only connection.  What it publishes is
 * never changed again, so the app reads it without the lock once it has
 * seen, under the lock, that it is there.  The app can give the loader up
 * at any time; whichever of the two is last frees it.  The app follows it
 * as a worker (loader_worker), which hands the list to app_runs() when
 * the loop polls it.
 */
#include "loader.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "names.h"
#include "store.h"
#include "view.h"

struct loader {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char *path;
	/* Under lock. */
	int cancel;                     /* the app wants no more */
	int abandoned;                  /* the app has let go: thread frees */
	int list_ready;                 /* runs and n_runs are set */
	int finished;
	char error[1024];
	size_t n_summarised;
	unsigned generation;            /* bumped at every publication */
	/* Immutable once published. */
	struct run_info *runs;
	size_t n_runs;
	struct run_summary *summaries;  /* [n_runs]; [i] once i < n_summarised */
};

static void
loader_free(struct loader *loader)
{
	size_t i;

	if (loader->summaries != NULL)
		for (i = 0; i < loader->n_runs; i++) {
			free(loader->summaries[i].text);
			free(loader->summaries[i].oracle_mean);
			free(loader->summaries[i].free_mean);
			free(loader->summaries[i].damage);
		}
	free(loader->summaries);
	if (loader->runs != NULL)
		store_free_runs(loader->runs, loader->n_runs);
	pthread_mutex_destroy(&loader->lock);
	pthread_cond_destroy(&loader->changed);
	free(loader->path);
	free(loader);
}

/* Summarise one run: its text, and the mean loss per budget of the oracle
 * and of its label-free control oracle_free, shown side by side. */
static int
summarise(struct store *store, const struct run_info *info,
    struct run_summary *summary, struct duo_error *err)
{
	struct run_data data;
	size_t i, *count;
	double *sum;
	int k, L = info->n_layer, which;

	if (store_load_run(store, info->id, &data, err) != 0)
		return -1;
	sum = calloc(2 * ((size_t)L + 1), sizeof *sum);
	count = calloc(2 * ((size_t)L + 1), sizeof *count);
	summary->oracle_mean = malloc(((size_t)L + 1) *
	    sizeof *summary->oracle_mean);
	summary->free_mean = malloc(((size_t)L + 1) *
	    sizeof *summary->free_mean);
	if (sum == NULL || count == NULL || summary->oracle_mean == NULL ||
	    summary->free_mean == NULL) {
		free(sum);
		free(count);
		free(summary->oracle_mean);
		free(summary->free_mean);
		summary->oracle_mean = summary->free_mean = NULL;
		store_free_run(&data);
		return error_set(err, "out of memory");
	}
	for (i = 0; i < data.n_results; i++) {
		const struct result_record *r = &data.results[i];

		if (r->budget < 0 || r->budget > L)
			continue;
		if (strcmp(r->method, method_table[METHOD_ORACLE].name) == 0)
			which = 0;
		else if (strcmp(r->method,
		    method_table[METHOD_ORACLE_FREE].name) == 0)
			which = 1;
		else
			continue;
		sum[which * (L + 1) + r->budget] += r->loss;
		count[which * (L + 1) + r->budget]++;
	}
	for (k = 0; k <= L; k++) {
		summary->oracle_mean[k] = count[k] > 0 ?
		    sum[k] / (double)count[k] : NAN;
		summary->free_mean[k] = count[L + 1 + k] > 0 ?
		    sum[L + 1 + k] / (double)count[L + 1 + k] : NAN;
	}
	summary->n_layer = L;
	/* The text moves to the summary; the rest goes. */
	summary->text = data.text;
	summary->text_length = data.text_length;
	data.text = NULL;
	free(sum);
	free(count);
	store_free_run(&data);
	return 0;
}

/*
 * Summarise run info, or say why it is damaged: a run whose row fails
 * the store's checks is not read (store_list_runs said why); one whose
 * rows fail them as they are read gets the store's line, without the
 * database's path that the list does not repeat on every row.
 */
static void
summarise_or_judge(struct store *store, const struct run_info *info,
    struct run_summary *summary)
{
	struct duo_error err;
	const char *fault;
	size_t n = strlen(store_path(store));

	memset(summary, 0, sizeof *summary);
	if (info->damage[0] != '\0') {
		summary->failed = 1;
		return;
	}
	if (summarise(store, info, summary, &err) == 0)
		return;
	summary->failed = 1;
	if (err.code != DUO_ERROR_DAMAGED)
		return;
	fault = err.message;
	if (strncmp(fault, store_path(store), n) == 0 &&
	    strncmp(fault + n, ": ", 2) == 0)
		fault += n + 2;
	summary->damage = strdup(fault);
}

const char *
run_damage(const struct run_info *info, const struct run_summary *summary)
{
	if (info->damage[0] != '\0')
		return info->damage;
	return summary != NULL ? summary->damage : NULL;
}

/* Publish under the lock: the change itself, then wake the waiters. */
#define PUBLISH(loader, change) do {                                   \
		pthread_mutex_lock(&(loader)->lock);                     \
		change;                                                  \
		(loader)->generation++;                                  \
		pthread_cond_broadcast(&(loader)->changed);              \
		pthread_mutex_unlock(&(loader)->lock);                   \
	} while (0)

static void *
loader_main(void *arg)
{
	struct loader *loader = arg;
	struct store *store = NULL;
	struct duo_error err;
	struct run_info *runs;
	struct run_summary *summaries = NULL;
	size_t n = 0, i;
	int cancel = 0, abandoned;

	if (store_open(&store, loader->path, STORE_READONLY, &err) != 0 ||
	    store_list_runs(store, &runs, &n, &err) != 0) {
		PUBLISH(loader, snprintf(loader->error, sizeof loader->error,
		    "%s", err.message));
		runs = NULL;
		n = 0;
	} else {
		summaries = calloc(n + 1, sizeof *summaries);
		PUBLISH(loader, (loader->runs = runs, loader->n_runs = n,
		    loader->summaries = summaries, loader->list_ready = 1,
		    cancel = loader->cancel));
	}
	for (i = 0; i < n && summaries != NULL && !cancel; i++) {
		summarise_or_judge(store, &runs[i], &summaries[i]);
		PUBLISH(loader, (loader->n_summarised = i + 1,
		    cancel = loader->cancel));
	}
	store_close(store);
	pthread_mutex_lock(&loader->lock);
	loader->finished = 1;
	loader->generation++;
	abandoned = loader->abandoned;
	pthread_cond_broadcast(&loader->changed);
	pthread_mutex_unlock(&loader->lock);
	/* Let go by the app while reading: nobody else will free it. */
	if (abandoned)
		loader_free(loader);
	return NULL;
}

struct loader *
loader_start(const char *path)
{
	struct loader *loader = calloc(1, sizeof *loader);

	if (loader == NULL || (loader->path = strdup(path)) == NULL) {
		free(loader);
		return NULL;
	}
	pthread_mutex_init(&loader->lock, NULL);
	pthread_cond_init(&loader->changed, NULL);
	if (pthread_create(&loader->thread, NULL, loader_main, loader) != 0) {
		loader_free(loader);
		return NULL;
	}
	return loader;
}

void
loader_release(struct loader *loader)
{
	int finished;

	if (loader == NULL)
		return;
	pthread_mutex_lock(&loader->lock);
	loader->cancel = 1;
	finished = loader->finished;
	if (!finished)
		loader->abandoned = 1;
	pthread_mutex_unlock(&loader->lock);
	if (finished) {
		pthread_join(loader->thread, NULL);
		loader_free(loader);
	} else
		pthread_detach(loader->thread);
}

int
loader_poll(struct loader *loader, unsigned *seen)
{
	unsigned generation;

	if (loader == NULL)
		return 0;
	pthread_mutex_lock(&loader->lock);
	generation = loader->generation;
	pthread_mutex_unlock(&loader->lock);
	if (generation == *seen)
		return 0;
	*seen = generation;
	return 1;
}

void
loader_wait(struct loader *loader)
{
	if (loader == NULL)
		return;
	pthread_mutex_lock(&loader->lock);
	while (!loader->finished)
		pthread_cond_wait(&loader->changed, &loader->lock);
	pthread_mutex_unlock(&loader->lock);
}

const struct run_info *
loader_runs(struct loader *loader, size_t *n_runs)
{
	int ready;

	*n_runs = 0;
	if (loader == NULL)
		return NULL;
	pthread_mutex_lock(&loader->lock);
	ready = loader->list_ready;
	pthread_mutex_unlock(&loader->lock);
	if (!ready)
		return NULL;
	*n_runs = loader->n_runs;
	return loader->runs;
}

const struct run_summary *
loader_summary(struct loader *loader, size_t i)
{
	return i < loader_summarised(loader) ? &loader->summaries[i] : NULL;
}

size_t
loader_summarised(struct loader *loader)
{
	size_t n;

	if (loader == NULL)
		return 0;
	pthread_mutex_lock(&loader->lock);
	n = loader->n_summarised;
	pthread_mutex_unlock(&loader->lock);
	return n;
}

int
loader_finished(struct loader *loader, char *error, size_t size)
{
	int finished;

	if (error != NULL && size > 0)
		error[0] = '\0';
	if (loader == NULL)
		return 1;
	pthread_mutex_lock(&loader->lock);
	finished = loader->finished;
	if (error != NULL && size > 0)
		snprintf(error, size, "%s", loader->error);
	pthread_mutex_unlock(&loader->lock);
	return finished;
}

/* ---- the loader as the app's worker ------------------------------------ */

/* Start reading the app's database, if it has one. */
static int
worker_start(struct app *app, struct duo_error *err)
{
	app->loader_seen = 0;
	app->runs = NULL;
	app->n_runs = 0;
	app->runs_read = app->db_missing;
	if (!app->db_missing &&
	    (app->loader = loader_start(app->db_path)) == NULL) {
		app->runs_read = 1;
		return error_set(err, "cannot start a thread to read %s",
		    app->db_path);
	}
	return 0;
}

/* Give the loader up, and the list the app took of it. */
static void
worker_stop(struct app *app)
{
	loader_release(app->loader);
	app->loader = NULL;
	app->runs = NULL;
	app->n_runs = 0;
}

/* Read the list again from the start. */
static void
worker_reload(struct app *app)
{
	struct duo_error err;

	worker_stop(app);
	if (worker_start(app, &err) != 0)
		app_error(app, "cannot start reading %s", app->db_path);
}

/* Busy until the loop has taken the end of the list. */
static int
worker_busy(struct app *app)
{
	return !app->runs_read;
}

/* Take what the thread published since the last poll. */
static int
worker_poll(struct app *app)
{
	if (!loader_poll(app->loader, &app->loader_seen))
		return 0;
	app->runs = loader_runs(app->loader, &app->n_runs);
	app->runs_read = loader_finished(app->loader, NULL, 0);
	return 1;
}

/* Wait until the whole list is read. */
static void
worker_settle(struct app *app)
{
	loader_wait(app->loader);
}

const struct worker_ops loader_worker = {
	.name = "run list",
	.start = worker_start,
	.stop = worker_stop,
	.reload = worker_reload,
	.busy = worker_busy,
	.poll = worker_poll,
	.settle = worker_settle,
};
