/*
 * run.h - an opened run as tables the views index (run.c): every
 * method's losses and routes by budget and position, the measures the
 * text is coloured by, and the text as glyphs.
 */
#ifndef DUO_TUI_RUN_H
#define DUO_TUI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"
#include "tui.h"

struct run_method {
	const char *name;               /* into data.methods */
	int budgeted;                   /* a row per budget (oracle, fixed..) */
	int has_routes;                 /* random_mean has none */
	/* budgeted: (L + 1, T) by budget then position - 1; else (1, T);
	 * NAN / NULL where the run has no result. */
	float *loss;
	const char **route;
	double *mean;                   /* [L + 1] or [1]; NAN: absent */
};

/* One cell group of the text: a character and its combining marks. */
struct glyph {
	wchar_t wc[CCHARW_MAX];         /* NUL-terminated when shorter */
	unsigned char width;            /* 1 or 2 cells */
	unsigned char stand_in;         /* drawn dim: a newline, tab, bad byte */
	unsigned char line_break;       /* the line ends after this glyph */
};

struct tui_run {
	struct run_data data;
	int L;                          /* layers */
	size_t T;                       /* scored tokens, positions 1..T */
	struct run_method *methods;     /* big, small, best, oracle, fixed,
					   random_best, random_mean, routers */
	size_t n_methods;
	int big, small, best, oracle;   /* indices, -1 if absent */
	float *difficulty;              /* [T] small - best; NAN absent */
	signed char *need;              /* [T] least k, -1 unknown */
	struct glyph *glyphs;
	size_t n_glyphs;
	size_t *first_glyph;            /* [T + 2]: glyphs of position p */
	/* cached colour scale */
	int scale_key[3];
	double scale_lo, scale_hi;
	size_t scale_above;             /* values past scale_hi */
	/* cached run_loss_range() */
	int loss_range_known;
	double loss_lo, loss_hi;
};

int run_open(struct tui_run *run, struct store *store, int64_t id,
    const struct glyph_set *glyphs, struct duo_error *err);
void run_close(struct tui_run *run);
int run_method_find(const struct tui_run *run, const char *name);
/* Loss / route of method at budget k for position pos (1..T). */
/* Does the token at p start a word (white space before it or in it)? */
int run_starts_word(const struct tui_run *run, size_t p);
double run_loss(const struct tui_run *run, int method, int k, size_t pos);
const char *run_route(const struct tui_run *run, int method, int k,
    size_t pos);
double run_mean(const struct tui_run *run, int method, int k);
/* share[layer * 3 + c]: share of tokens whose route has choice c there. */
int run_allocation(const struct tui_run *run, int method, int k,
    double *share);
double run_measure(const struct tui_run *run, enum measure measure,
    int method, int k, size_t pos);
/* The colour scale of a measure: values lo..hi over N_HEAT levels;
 * run->scale_above then counts the values past hi (the top level holds
 * them too). */
void run_scale(struct tui_run *run, enum measure measure, int method, int k,
    double *lo, double *hi);
int run_level(double value, double lo, double hi);
/* The least and greatest loss of any token at any budget under big,
 * small, the oracle and the routers (what the detail pane's chart
 * draws), for a scale the same for every token. */
void run_loss_range(struct tui_run *run, double *lo, double *hi);
extern const char *const measure_names[N_MEASURES];

#endif
