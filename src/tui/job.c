/*
 * job.c - a new run analysed in a thread of its own, so that the browser
 * keeps answering keys while the engine works.  The thread opens its own
 * writable connection to the database (the browser's are read-only),
 * loads the model, reads the text and calls analysis_prepare() and
 * analysis_run(), the same analysis as "duo run" with the same rule for
 * routers; it publishes its progress under a lock, and the app may
 * cancel it at any moment: the engine stops soon and nothing is written.
 *
 * Test hooks: DUO_TEST_JOB_PAUSE=SECONDS sleeps that long at every
 * progress report, so that tests can see a run in progress and cancel
 * it, even on a model that takes milliseconds; DUO_TEST_JOB_HOLD=FILE
 * holds the job, once it shows its progress and before the engine
 * starts, for as long as FILE exists (a cancel still stops it), so that
 * a test decides when the analysis may go on instead of hoping that it
 * is still running.
 */
#include "job.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analysis.h"
#include "host.h"
#include "router.h"
#include "store.h"

/* Router names a New run may pass: more than the form's list holds. */
#define MAX_JOB_ROUTERS 256

struct job {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t ended;
	/* The request, copied: the thread reads it, nobody writes it. */
	char *model_path;
	char *db_option;
	char *path;
	char *text;
	size_t length;
	char *label;
	char *source;
	char space[4];
	char context[16];
	char *routers;                  /* names joined by ',', or NULL */
	int null_control;
	uint64_t null_seed;
	enum store_tables tables;
	struct text_tokens tokens;      /* the thread's, until the analysis
					   takes them over */
	double pause;                   /* DUO_TEST_JOB_PAUSE */
	char *hold;                     /* DUO_TEST_JOB_HOLD, or NULL */
	/* Set by the app, read by the engine: the oracle's cancel flag. */
	volatile int cancel;
	/* Under lock. */
	struct job_status status;
	unsigned generation;
};

static char *
copy(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
pause_seconds(double seconds)
{
	struct timespec ts;

	if (!(seconds > 0))
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* Publish under the lock and count the change. */
#define PUBLISH(job, change) do {                                      \
		pthread_mutex_lock(&(job)->lock);                        \
		change;                                                  \
		(job)->generation++;                                     \
		pthread_cond_broadcast(&(job)->ended);                   \
		pthread_mutex_unlock(&(job)->lock);                      \
	} while (0)

/* The oracle's report, from the job's thread. */
static void
on_progress(void *arg, double fraction, double route_tokens)
{
	struct job *job = arg;
	double now = now_seconds();

	PUBLISH(job, {
		job->status.fraction = fraction;
		job->status.route_tokens = route_tokens;
		job->status.now = now;
	});
	pause_seconds(job->pause);
}

/* The test hook DUO_TEST_JOB_HOLD: wait while its file exists, unless
 * the job is cancelled meanwhile. */
static void
hold_for_test(const struct job *job)
{
	while (job->hold != NULL && !job->cancel &&
	    access(job->hold, F_OK) == 0)
		pause_seconds(0.01);
}

static void
set_state(struct job *job, enum job_state state, const char *message)
{
	double now = now_seconds();

	PUBLISH(job, {
		job->status.state = state;
		job->status.now = now;
		if (state == JOB_ANALYSING)
			job->status.analysis_start = now;
		/* (a longer message is cut, as snprintf would) */
		if (message != NULL)
			snprintf(job->status.message,
			    sizeof job->status.message, "%.*s",
			    (int)sizeof job->status.message - 1, message);
	});
}

/*
 * The names of job->routers, split at ',' into names (at most max); the
 * copy they point into goes to *copy_out, to free.
 */
static int
router_names(const struct job *job, char **copy_out, const char **names,
    int max, struct duo_error *err)
{
	char *save = NULL, *name;
	int n = 0;

	*copy_out = NULL;
	if (job->routers == NULL)
		return 0;
	if ((*copy_out = strdup(job->routers)) == NULL)
		return error_set(err, "out of memory");
	for (name = strtok_r(*copy_out, ",", &save); name != NULL && n < max;
	    name = strtok_r(NULL, ",", &save))
		names[n++] = name;
	return n;
}

/* Everything the analysis needs before it starts; -1 and err if not. */
static int
prepare(struct job *job, struct store **store, struct duo_model *model,
    int *model_loaded, struct analysis_request *req, char **text,
    size_t *length, struct duo_error *err)
{
	const char *names[MAX_JOB_ROUTERS];
	char *names_copy;
	struct stat st;
	size_t n;
	int n_names, rc;

	/* The database first, as "duo run" does: a file that cannot take
	 * the run is reported before the work. */
	if (store_open_default(store, job->db_option, 0, err) != 0)
		return -1;
	if (job->path != NULL) {
		if (stat(job->path, &st) == 0 && S_ISDIR(st.st_mode))
			return error_set(err, "%s is a folder, not a text",
			    job->path);
		if (read_input(job->path, text, length, err) != 0)
			return -1;
	} else {
		*text = job->text;
		*length = job->length;
		job->text = NULL;
	}
	if (job->cancel)
		return error_cancelled(err);
	if (model_load(model, job->model_path, err) != 0)
		return -1;
	*model_loaded = 1;
	if (route_space_parse(&req->settings.space, job->space, err) != 0 ||
	    oracle_context_parse(job->context, &req->settings.context,
	    err) != 0)
		return -1;
	if ((n_names = router_names(job, &names_copy, names, MAX_JOB_ROUTERS,
	    err)) < 0)
		return -1;
	rc = analysis_prepare(req, model, job->model_path, names, n_names,
	    err);
	free(names_copy);
	if (rc != 0)
		return -1;
	if (text_tokenize(&job->tokens, model->tokenizer, *text, *length,
	    req->input_name, err) != 0)
		return -1;
	n = job->tokens.n;
	req->tokens = &job->tokens;
	PUBLISH(job, {
		job->status.n_tokens = n;
		job->status.n_layer = model->config.n_layer;
	});
	return job->cancel ? error_cancelled(err) : 0;
}

static void *
job_main(void *arg)
{
	struct job *job = arg;
	struct store *store = NULL;
	struct duo_model model;
	struct duo_error err;
	struct analysis_request req;
	struct analysis analysis;
	char *text = NULL;
	size_t length = 0;
	int model_loaded = 0, rc;

	memset(&req, 0, sizeof req);
	memset(&model, 0, sizeof model);
	memset(&err, 0, sizeof err);
	oracle_settings_default(&req.settings);
	req.label = job->label;
	req.source = job->source;
	req.input_name = job->path != NULL ? job->path : "the text";
	req.null_control = job->null_control;
	req.null_seed = job->null_seed;
	req.tables = job->tables;
	/* the form's cancel means "never mind": no stopped run is kept */
	req.discard_incomplete = 1;
	rc = prepare(job, &store, &model, &model_loaded, &req, &text, &length,
	    &err);
	if (rc == 0) {
		req.text = text;
		req.length = length;
		req.settings.progress = on_progress;
		req.settings.progress_arg = job;
		req.settings.cancel = &job->cancel;
		set_state(job, JOB_ANALYSING, NULL);
		hold_for_test(job);
		rc = job->cancel ? error_cancelled(&err) :
		    analysis_run(store, &model, &req, &analysis, &err);
	}
	if (rc == 0) {
		int64_t id = analysis.run_id, control_id = 0;
		double seconds = analysis.seconds;

		if (analysis.control != NULL) {
			control_id = analysis.control->run_id;
			seconds += analysis.control->seconds;
		}
		analysis_free(&analysis);
		PUBLISH(job, {
			job->status.run_id = id;
			job->status.control_id = control_id;
			job->status.seconds = seconds;
		});
		set_state(job, JOB_DONE, NULL);
	} else {
		PUBLISH(job, job->status.kept = err.code == DUO_ERROR_KEPT);
		set_state(job, err.code == DUO_ERROR_CANCELLED ?
		    JOB_CANCELLED : JOB_FAILED, err.message);
	}
	analysis_request_free(&req);
	text_tokens_free(&job->tokens);
	if (model_loaded)
		model_free(&model);
	if (store != NULL)
		store_close(store);
	free(text);
	return NULL;
}

static void
job_free_request(struct job *job)
{
	free(job->model_path);
	free(job->routers);
	free(job->db_option);
	free(job->path);
	free(job->hold);
	free(job->text);
	free(job->label);
	free(job->source);
}

struct job *
job_start(const struct job_request *r, struct duo_error *err)
{
	const char *pause = getenv("DUO_TEST_JOB_PAUSE");
	struct job *job = calloc(1, sizeof *job);

	if (job == NULL) {
		error_set(err, "out of memory");
		return NULL;
	}
	job->model_path = copy(r->model_path);
	job->routers = copy(r->routers);
	job->db_option = copy(r->db_option);
	job->path = copy(r->path);
	job->label = r->label != NULL && *r->label != '\0' ?
	    copy(r->label) : NULL;
	/* "-" would be standard input, which is the terminal here. */
	job->source = copy(r->path == NULL ? "-" : strcmp(r->path, "-") == 0 ?
	    "./-" : r->path);
	if (r->path != NULL && strcmp(r->path, "-") == 0) {
		free(job->path);
		job->path = copy("./-");
	}
	if (r->path == NULL) {
		job->text = malloc(r->length + 1);
		if (job->text != NULL) {
			memcpy(job->text, r->text, r->length);
			job->text[r->length] = '\0';
		}
		job->length = r->length;
	}
	job->null_control = r->null_control;
	job->null_seed = r->null_seed;
	job->tables = r->tables;
	snprintf(job->space, sizeof job->space, "%s", r->space);
	snprintf(job->context, sizeof job->context, "%s", r->context);
	job->pause = pause != NULL ? atof(pause) : 0.0;
	job->hold = copy(getenv("DUO_TEST_JOB_HOLD"));
	job->status.state = JOB_PREPARING;
	job->status.start = job->status.now = now_seconds();
	if (job->model_path == NULL || job->source == NULL ||
	    (r->path != NULL && job->path == NULL) ||
	    (r->path == NULL && job->text == NULL) ||
	    (r->label != NULL && *r->label != '\0' && job->label == NULL)) {
		job_free_request(job);
		free(job);
		error_set(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&job->lock, NULL);
	pthread_cond_init(&job->ended, NULL);
	if (pthread_create(&job->thread, NULL, job_main, job) != 0) {
		pthread_mutex_destroy(&job->lock);
		pthread_cond_destroy(&job->ended);
		job_free_request(job);
		free(job);
		error_set(err, "cannot start a thread for the analysis");
		return NULL;
	}
	return job;
}

void
job_cancel(struct job *job)
{
	if (job != NULL)
		job->cancel = 1;
}

int
job_poll(struct job *job, unsigned *seen, struct job_status *status)
{
	int changed;

	pthread_mutex_lock(&job->lock);
	changed = job->generation != *seen;
	*seen = job->generation;
	*status = job->status;
	pthread_mutex_unlock(&job->lock);
	return changed;
}

int
job_wait(struct job *job, double seconds, int until_progress)
{
	struct timespec until;
	int ended;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)seconds;
	until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&job->lock);
	while (!(ended = job->status.state >= JOB_DONE || (until_progress &&
	    job->status.route_tokens > 0)) &&
	    pthread_cond_timedwait(&job->ended, &job->lock, &until) !=
	    ETIMEDOUT)
		;
	pthread_mutex_unlock(&job->lock);
	return ended;
}

void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	job->cancel = 1;
	pthread_join(job->thread, NULL);
	pthread_mutex_destroy(&job->lock);
	pthread_cond_destroy(&job->ended);
	job_free_request(job);
	free(job);
}
