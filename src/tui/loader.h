/*
 * loader.h - the run list read in a thread of its own (loader.c), and
 * what the list shows of each run beyond store_list_runs.  The app
 * follows it as a worker (view.h); the runs view reads its summaries.
 */
#ifndef DUO_TUI_LOADER_H
#define DUO_TUI_LOADER_H

#include <stddef.h>

#include "store.h"
#include "tui.h"

/* What the run list shows that store_list_runs does not give. */
struct run_summary {
	char *text;                     /* for the filter */
	size_t text_length;
	double *oracle_mean;            /* [n_layer + 1], NAN where absent */
	double *free_mean;              /* oracle_free's, the same way */
	int n_layer;
	int failed;
	/* Why the run cannot be read, found only by reading it (token or
	 * result rows that disagree with its counts), as store_list_runs
	 * words a damage; NULL if none was found. */
	char *damage;
};

/* Why run info cannot be opened, or NULL: its row's damage from the list,
 * else what the loader found reading it (summary may be NULL). */
const char *run_damage(const struct run_info *info,
    const struct run_summary *summary);

struct loader;

/* Start reading the runs of the database at path; NULL if it cannot. */
struct loader *loader_start(const char *path);
/*
 * Give the loader up: the thread is told to stop and frees what it read
 * when it ends, so that neither quitting nor reading the list again waits
 * for a query to finish.  Nothing it returned may be used afterwards.
 */
void loader_release(struct loader *loader);
/* Has anything new been published since *seen?  Updates *seen. */
int loader_poll(struct loader *loader, unsigned *seen);
/* Wait until the thread has read everything. */
void loader_wait(struct loader *loader);
/* The runs, once listed (NULL before); they do not change afterwards. */
const struct run_info *loader_runs(struct loader *loader, size_t *n_runs);
/* Run i's summary once read, else NULL. */
const struct run_summary *loader_summary(struct loader *loader, size_t i);
size_t loader_summarised(struct loader *loader);
/* 1 once the thread is done (or for no loader); its error into error. */
int loader_finished(struct loader *loader, char *error, size_t size);

#endif
