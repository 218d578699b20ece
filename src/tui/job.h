/*
 * job.h - a new run analysed in a thread of its own (job.c), for the New
 * run view.
 */
#ifndef DUO_TUI_JOB_H
#define DUO_TUI_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

enum job_state {
	JOB_PREPARING,                  /* database, text, model */
	JOB_ANALYSING,                  /* the engine works */
	JOB_DONE,                       /* the run is stored */
	JOB_FAILED,
	JOB_CANCELLED,
};

struct job_request {
	const char *model_path;
	const char *db_option;          /* -d, or NULL for the default */
	const char *path;               /* the text's file; NULL: text */
	const char *text;               /* typed or pasted */
	size_t length;
	const char *label;              /* NULL or "": none */
	const char *space;              /* "BS", "B." or "BS." */
	const char *context;            /* "shared", "fixed" or "greedy" */
	/* learned routers of the model to evaluate, names joined by ','
	 * (NULL: none); those of another space than the run's are left
	 * out */
	const char *routers;
	/* also a null-model control (duo run --null-control) of this
	 * seed */
	int null_control;
	uint64_t null_seed;
	/* how the run keeps its loss and KL tables (duo run --losses) */
	enum store_tables tables;
};

/* What the job has done so far; times are now_seconds(). */
struct job_status {
	enum job_state state;
	double start, analysis_start, now;
	double fraction;                /* of the engine's work, 0..1 */
	double route_tokens;            /* losses computed so far */
	size_t n_tokens;                /* once the text is read */
	int n_layer;
	int64_t run_id;                 /* JOB_DONE */
	int64_t control_id;             /* JOB_DONE: its null control, or
					   0 */
	double seconds;                 /* the engine's, JOB_DONE */
	/* JOB_FAILED, JOB_CANCELLED: why; as long as a struct duo_error's,
	 * since a run kept in a side file is told with two paths */
	char message[1024];
	int kept;                       /* JOB_FAILED: the run is kept in a
					   side file (the message says
					   where) */
};

struct job;

/* Start analysing in a thread; NULL and err if it cannot start. */
struct job *job_start(const struct job_request *req, struct duo_error *err);
/* Ask the engine to stop; the job then ends JOB_CANCELLED. */
void job_cancel(struct job *job);
/* The status now; 1 if it changed since *seen (updated). */
int job_poll(struct job *job, unsigned *seen, struct job_status *status);
/* Wait up to seconds for the job to end (or, until_progress, for the
 * engine's first report); 1 if it has. */
int job_wait(struct job *job, double seconds, int until_progress);
/* Cancel if still running, wait for the thread, free. */
void job_free(struct job *job);

#endif
