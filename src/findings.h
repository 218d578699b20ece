/*
 * findings.h - the paper's findings checked on one stored run, each with
 * its numbers, the control it stands beside and a one-line verdict
 * (doc/design.md section 5, "the selection effect"): the headline (how
 * much of the oracle's gain over fixed the label-free oracle keeps at
 * each budget) and findings (a) to (f).  "duo findings" prints them and
 * the browser's Findings view shows them; both take the text from here.
 *
 * This module owns what the findings are and how they are computed from
 * a run's results (struct run_data, store.h) and, when there is one, its
 * null-model control run.  It reads no database and prints nothing but
 * to the FILE it is given.
 */
#ifndef DUO_FINDINGS_H
#define DUO_FINDINGS_H

#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "store.h"

/* One number of a finding: what it measures, of which method (a null
 * model's methods are "null:NAME"), at which budget. */
struct finding_number {
	const char *measure;            /* static: "ppl", "label_free_share" */
	char method[80];
	int budget;                     /* -1: none */
	double value;                   /* NAN: none ("never", undefined) */
};

struct finding {
	const char *id;                 /* "headline", "a" .. "f" */
	const char *title;
	struct finding_number *numbers;
	size_t n_numbers, numbers_size;
	char **lines;                   /* the numbers as text, a line each */
	size_t n_lines, lines_size;
	char verdict[768];
};

#define N_FINDINGS 7

struct findings {
	int64_t run_id;
	int64_t control_id;             /* the null-model control; 0: none */
	char about[256];                /* the run, one line */
	char control[256];              /* the control, or that there is none */
	struct finding items[N_FINDINGS];
};

/*
 * The findings of run, beside control (its null-model control run, NULL
 * for none; one of another layer count is refused).  Free with
 * findings_free(), also after a failure.
 */
int findings_compute(const struct run_data *run,
    const struct run_data *control, struct findings *out,
    struct duo_error *err);
void findings_free(struct findings *f);

/* The findings as text, a line at a time (no newline) to line(arg, s):
 * what "duo findings" prints and the Findings view shows. */
void findings_text(const struct findings *f,
    void (*line)(void *arg, const char *text), void *arg);

/* The findings as TSV: a header, then a row per number and per verdict
 * (finding, measure, method, budget, value; an empty field for none). */
void findings_write_tsv(FILE *out, const struct findings *f);

#endif
