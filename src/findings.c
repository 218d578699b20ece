/*
 * findings.c - the findings of a stored run (findings.h): mean losses by
 * method and budget, then each finding from them or from the per-token
 * rows, with its control beside it: the label-free oracle (oracle_free)
 * everywhere the oracle appears, and the run's null-model control when
 * it has one.
 */
#include "findings.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* Below this difference in mean loss two methods are one route scored
 * twice (as duo run's summary and router_metrics judge a gap). */
#define SAME_LOSS 1e-5

/* A run's mean loss per method and budget. */
struct means {
	const struct run_data *run;
	int L;
	double *sum;                    /* (n_methods, L + 1) */
	size_t *n;
	double *any_sum;                /* [n_methods]: over every budget */
	size_t *any_n;
};

static void
means_free(struct means *m)
{
	free(m->sum);
	free(m->n);
	free(m->any_sum);
	free(m->any_n);
}

static int
method_index(const struct run_data *run, const char *name)
{
	size_t i;

	for (i = 0; i < run->n_methods; i++)
		if (strcmp(run->methods[i], name) == 0)
			return (int)i;
	return -1;
}

static int
means_make(struct means *m, const struct run_data *run,
    struct duo_error *err)
{
	size_t M = run->n_methods, i, cells;
	const struct result_record *r;
	int j;

	memset(m, 0, sizeof *m);
	m->run = run;
	m->L = run->info.n_layer;
	cells = (M > 0 ? M : 1) * ((size_t)m->L + 1);
	m->sum = calloc(cells, sizeof *m->sum);
	m->n = calloc(cells, sizeof *m->n);
	m->any_sum = calloc(M > 0 ? M : 1, sizeof *m->any_sum);
	m->any_n = calloc(M > 0 ? M : 1, sizeof *m->any_n);
	if (m->sum == NULL || m->n == NULL || m->any_sum == NULL ||
	    m->any_n == NULL) {
		means_free(m);
		return error_set(err, "out of memory");
	}
	for (i = 0; i < run->n_results; i++) {
		r = &run->results[i];
		j = method_index(run, r->method);
		if (j < 0 || r->budget < 0 || r->budget > m->L)
			continue;
		m->sum[(size_t)j * ((size_t)m->L + 1) + (size_t)r->budget] +=
		    r->loss;
		m->n[(size_t)j * ((size_t)m->L + 1) + (size_t)r->budget]++;
		m->any_sum[j] += r->loss;
		m->any_n[j]++;
	}
	return 0;
}

/* Mean loss of method at budget k; NAN where the run has none. */
static double
mean_at(const struct means *m, const char *method, int k)
{
	int j = m != NULL ? method_index(m->run, method) : -1;
	size_t cell;

	if (j < 0 || k < 0 || k > m->L)
		return NAN;
	cell = (size_t)j * ((size_t)m->L + 1) + (size_t)k;
	return m->n[cell] > 0 ? m->sum[cell] / (double)m->n[cell] : NAN;
}

/* Mean loss of a method held to no budget (big, small, best). */
static double
mean_any(const struct means *m, const char *method)
{
	int j = m != NULL ? method_index(m->run, method) : -1;

	if (j < 0 || m->any_n[j] == 0)
		return NAN;
	return m->any_sum[j] / (double)m->any_n[j];
}

/* The row of method at position pos and budget k (-1: any). */
static const struct result_record *
result_at(const struct run_data *run, size_t pos, const char *method, int k)
{
	size_t i;

	for (i = run->first_result[pos]; i < run->first_result[pos + 1]; i++)
		if (strcmp(run->results[i].method, method) == 0 &&
		    (k < 0 || run->results[i].budget == k))
			return &run->results[i];
	return NULL;
}

/* ---- building a finding ---------------------------------------------- */

static int
add_number(struct finding *f, const char *measure, const char *prefix,
    const char *method, int budget, double value)
{
	struct finding_number *grown, *x;

	if (f->n_numbers == f->numbers_size) {
		size_t size = f->numbers_size ? 2 * f->numbers_size : 16;

		grown = realloc(f->numbers, size * sizeof *grown);
		if (grown == NULL)
			return -1;
		f->numbers = grown;
		f->numbers_size = size;
	}
	x = &f->numbers[f->n_numbers++];
	x->measure = measure;
	snprintf(x->method, sizeof x->method, "%s%s", prefix, method);
	x->budget = budget;
	x->value = value;
	return 0;
}

static int
add_line(struct finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
add_line(struct finding *f, const char *fmt, ...)
{
	char buf[512], **grown;
	va_list ap;

	if (f->n_lines == f->lines_size) {
		size_t size = f->lines_size ? 2 * f->lines_size : 16;

		grown = realloc(f->lines, size * sizeof *grown);
		if (grown == NULL)
			return -1;
		f->lines = grown;
		f->lines_size = size;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if ((f->lines[f->n_lines] = strdup(buf)) == NULL)
		return -1;
	f->n_lines++;
	return 0;
}

static void
verdict(struct finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
verdict(struct finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->verdict, sizeof f->verdict, fmt, ap);
	va_end(ap);
}

/* Append to a verdict already set. */
static void
verdict_more(struct finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
verdict_more(struct finding *f, const char *fmt, ...)
{
	size_t used = strlen(f->verdict);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->verdict + used, sizeof f->verdict - used, fmt, ap);
	va_end(ap);
}

/* A perplexity, or "-" for none, in buf. */
static const char *
ppl_text(double mean_loss, char *buf, size_t size)
{
	if (isnan(mean_loss))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", exp(mean_loss));
	return buf;
}

/* A share as a percentage, or "-" for none, in buf. */
static const char *
share_text(double share, char *buf, size_t size)
{
	if (isnan(share))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.0f%%", 100.0 * share);
	return buf;
}

/* A budget, or "never", in buf. */
static const char *
k_text(int k, char *buf, size_t size)
{
	if (k < 0)
		snprintf(buf, size, "never");
	else
		snprintf(buf, size, "k=%d", k);
	return buf;
}

/* The share of the fixed-to-reference gap that method's loss closes:
 * (fixed - method) / (fixed - reference); NAN when the reference is no
 * better than fixed. */
static double
gap_share(double fixed, double method, double reference)
{
	if (isnan(fixed) || isnan(method) || isnan(reference) ||
	    fixed - reference <= SAME_LOSS)
		return NAN;
	return (fixed - method) / (fixed - reference);
}

/* Each finding builds its lines and numbers in steps that may run out of
 * memory; one exit (label oom) returns -1 for all of them. */
#define OOM(x) do { if ((x) != 0) goto oom; } while (0)

/* ---- the headline ---------------------------------------------------- */

static double
label_free_share(const struct means *m, int k)
{
	return gap_share(mean_at(m, "fixed", k), mean_at(m, "oracle_free", k),
	    mean_at(m, "oracle", k));
}

/* The headline: fixed, the oracle and oracle_free at each budget, and the
 * label-free share of the oracle's gain, beside the null model's. */
static int
headline(struct finding *f, const struct means *run, const struct means *null)
{
	char a[32], b[32], c[32], d[32], e[32];
	double share, best = -INFINITY;
	int k, best_k = -1, L = run->L;

	f->id = "headline";
	f->title = "The share of the oracle's gain over fixed that is "
	    "label-free";
	OOM(add_line(f, "%6s %10s %10s %12s %17s%s", "budget", "fixed",
	    "oracle", "oracle_free", "label-free share",
	    null != NULL ? "  null model's share" : ""));
	for (k = 0; k <= L; k++) {
		double lf = mean_at(run, "fixed", k);
		double lo = mean_at(run, "oracle", k);
		double lfree = mean_at(run, "oracle_free", k);

		if (isnan(lf) || isnan(lo))
			continue;
		share = label_free_share(run, k);
		OOM(add_number(f, "ppl", "", "fixed", k, exp(lf)));
		OOM(add_number(f, "ppl", "", "oracle", k, exp(lo)));
		OOM(add_number(f, "ppl", "", "oracle_free", k,
		    isnan(lfree) ? NAN : exp(lfree)));
		OOM(add_number(f, "label_free_share", "", "oracle_free", k,
		    share));
		if (null != NULL)
			OOM(add_number(f, "label_free_share", "null:",
			    "oracle_free", k, label_free_share(null, k)));
		OOM(add_line(f, "%6d %10s %10s %12s %17s%s%s", k,
		    ppl_text(lf, a, sizeof a), ppl_text(lo, b, sizeof b),
		    ppl_text(lfree, c, sizeof c),
		    share_text(share, d, sizeof d), null != NULL ? "  " : "",
		    null != NULL ? share_text(label_free_share(null, k), e,
		    sizeof e) : ""));
		if (!isnan(share) && share > best) {
			best = share;
			best_k = k;
		}
	}
	if (isnan(mean_any(run, "oracle_free")))
		verdict(f, "this run has no oracle_free rows (it was made "
		    "before duo had them): analyse the text again");
	else if (best_k < 0)
		verdict(f, "the oracle gains nothing over fixed at any budget "
		    "of this run");
	else if (best <= 0)
		verdict(f, "none of the oracle's gain over fixed is "
		    "label-free: the label-free oracle is no better than fixed "
		    "at any budget, so the gain is the selection effect");
	else if (best < 0.5)
		verdict(f, "at most %.0f%% of the oracle's gain over fixed is "
		    "label-free (k=%d); the rest comes from choosing with the "
		    "answer in view", 100.0 * best, best_k);
	else
		verdict(f, "up to %.0f%% of the oracle's gain over fixed is "
		    "label-free (k=%d): much of it is routing a router could "
		    "learn", 100.0 * best, best_k);
	return 0;
oom:
	return -1;
}

/* ---- (a) the least budget that beats all-big -------------------------- */

/* The least k at which method's mean loss is below big's by more than
 * rounding (at k = L the oracle is all-big itself); -1: never. */
static int
least_k_beating_big(const struct means *m, const char *method)
{
	double big = mean_any(m, "big");
	int k;

	for (k = 0; k <= m->L; k++)
		if (big - mean_at(m, method, k) > SAME_LOSS)
			return k;
	return -1;
}

/* (a): the least budget at which the oracle, oracle_free and the null
 * model's oracle beat all-big. */
static int
finding_a(struct finding *f, const struct means *run, const struct means *null)
{
	static const char *const methods[] = { "oracle", "oracle_free" };
	char a[32], b[32], c[32];
	int k[2], kn = -1, i;

	f->id = "a";
	f->title = "The smallest budget k at which the oracle beats all-big";
	for (i = 0; i < 2; i++) {
		k[i] = least_k_beating_big(run, methods[i]);
		OOM(add_number(f, "least_k_beating_big", "", methods[i], -1,
		    k[i] < 0 ? NAN : k[i]));
		OOM(add_line(f, "%-18s %-6s (perplexity %s; all-big %s)",
		    methods[i], k_text(k[i], a, sizeof a), k[i] < 0 ? "-" :
		    ppl_text(mean_at(run, methods[i], k[i]), b, sizeof b),
		    ppl_text(mean_any(run, "big"), c, sizeof c)));
	}
	if (null != NULL) {
		kn = least_k_beating_big(null, "oracle");
		OOM(add_number(f, "least_k_beating_big", "null:", "oracle", -1,
		    kn < 0 ? NAN : kn));
		OOM(add_line(f, "%-18s %s", "null model oracle",
		    k_text(kn, a, sizeof a)));
	}
	if (k[0] < 0)
		verdict(f, "the oracle never beats all-big in this run");
	else if (k[1] < 0)
		verdict(f, "the oracle beats all-big from k=%d, the label-free "
		    "oracle never: beating all-big with fewer big modules "
		    "needs the answer", k[0]);
	else if (k[1] > k[0])
		verdict(f, "the oracle beats all-big from k=%d, the label-free "
		    "oracle only from k=%d", k[0], k[1]);
	else
		verdict(f, "the label-free oracle beats all-big from k=%d as "
		    "the oracle does: fewer big modules suffice without the "
		    "answer", k[1]);
	if (null != NULL && k[0] >= 0 && kn >= 0)
		verdict_more(f, "; a random-weight model's oracle does too, "
		    "from k=%d", kn);
	return 0;
oom:
	return -1;
}

/* ---- (b) the budget of the lowest perplexity -------------------------- */

static int
lowest_budget(const struct means *m, const char *method)
{
	double best = INFINITY, v;
	int k, found = -1;

	for (k = 0; k <= m->L; k++)
		if ((v = mean_at(m, method, k)) < best) {
			best = v;
			found = k;
		}
	return found;
}

/* (b): the budget of the lowest perplexity of each, and whether the
 * U-shape over k survives without the answer. */
static int
finding_b(struct finding *f, const struct means *run, const struct means *null)
{
	static const char *const methods[] = { "oracle", "oracle_free" };
	char a[32], b[32], c[32];
	int k[2], kn = -1, i, L = run->L;

	f->id = "b";
	f->title = "The budget at which the oracle's perplexity is lowest";
	for (i = 0; i < 2; i++) {
		k[i] = lowest_budget(run, methods[i]);
		OOM(add_number(f, "budget_of_lowest_ppl", "", methods[i], -1,
		    k[i] < 0 ? NAN : k[i]));
		OOM(add_line(f, "%-18s %-6s (perplexity %s; at k=%d %s)",
		    methods[i], k_text(k[i], a, sizeof a),
		    ppl_text(mean_at(run, methods[i], k[i]), b, sizeof b), L,
		    ppl_text(mean_at(run, methods[i], L), c, sizeof c)));
	}
	if (null != NULL) {
		kn = lowest_budget(null, "oracle");
		OOM(add_number(f, "budget_of_lowest_ppl", "null:", "oracle",
		    -1, kn < 0 ? NAN : kn));
		OOM(add_line(f, "%-18s %s", "null model oracle",
		    k_text(kn, a, sizeof a)));
	}
	if (k[0] < 0)
		verdict(f, "this run has no oracle rows");
	else if (k[0] == L)
		verdict(f, "the oracle is lowest with every big module (k=%d): "
		    "no U-shape", L);
	else if (k[1] < 0 || k[1] == L)
		verdict(f, "the oracle is lowest at k=%d, below all-big, but "
		    "the label-free oracle only at k=%d: the U-shape over k is "
		    "the selection effect", k[0], L);
	else
		verdict(f, "the oracle is lowest at k=%d and the label-free "
		    "oracle at k=%d, both below k=%d: a U-shape without the "
		    "answer", k[0], k[1], L);
	if (null != NULL && kn >= 0 && kn < L)
		verdict_more(f, "; a random-weight model's oracle is lowest at "
		    "k=%d too, so a U-shape alone shows no learned routing",
		    kn);
	return 0;
oom:
	return -1;
}

/* ---- (c) the routers against the references --------------------------- */

/* One router's rows of (c); the budgets at which it beats fixed and
 * random_best (those where fixed and the oracle differ) go to beats,
 * the others to loses, as "k=1,2". */
static int
router_rows(struct finding *f, const struct means *run, const char *router,
    char *beats, size_t beats_size, char *loses, size_t loses_size)
{
	static const char *const refs[] = { "random_best", "fixed",
	    "oracle_free", "oracle" };
	char t[5][16], g1[16], g2[16];
	double lr, v[4], closed, achievable;
	int k, i;

	OOM(add_line(f, "%s", router));
	OOM(add_line(f, "  %6s %8s %12s %8s %12s %8s %11s %16s", "budget",
	    "router", "random_best", "fixed", "oracle_free", "oracle",
	    "gap closed", "achievable gap"));
	for (k = 0; k <= run->L; k++) {
		if (isnan(lr = mean_at(run, router, k)))
			continue;
		OOM(add_number(f, "ppl", "", router, k, exp(lr)));
		for (i = 0; i < 4; i++) {
			v[i] = mean_at(run, refs[i], k);
			OOM(add_number(f, "ppl", "", refs[i], k, isnan(v[i]) ?
			    NAN : exp(v[i])));
		}
		closed = gap_share(v[1], lr, v[3]);
		achievable = gap_share(v[1], lr, v[2]);
		OOM(add_number(f, "gap_closed", "", router, k, closed));
		OOM(add_number(f, "achievable_gap_closed", "", router, k,
		    achievable));
		OOM(add_line(f, "  %6d %8s %12s %8s %12s %8s %11s %16s", k,
		    ppl_text(lr, t[0], 16), ppl_text(v[0], t[1], 16),
		    ppl_text(v[1], t[2], 16), ppl_text(v[2], t[3], 16),
		    ppl_text(v[3], t[4], 16), share_text(closed, g1, 16),
		    share_text(achievable, g2, 16)));
		/* at budgets 0 and L every method is one route */
		if (isnan(v[1]) || isnan(v[3]) || v[1] - v[3] <= SAME_LOSS)
			continue;
		/* "beats" is below both deployable references */
		if (lr < v[0] && lr < v[1])
			snprintf(beats + strlen(beats), beats_size -
			    strlen(beats), "%s%d", *beats ? "," : "k=", k);
		else
			snprintf(loses + strlen(loses), loses_size -
			    strlen(loses), "%s%d", *loses ? "," : "k=", k);
	}
	return 0;
oom:
	return -1;
}

/* (c): every router of the run against the references. */
static int
finding_c(struct finding *f, const struct means *run)
{
	const struct run_data *data = run->run;
	char beats[128], loses[128];
	size_t i;
	int n = 0;

	f->id = "c";
	f->title = "Each router against random_best, fixed, oracle_free and "
	    "the oracle (perplexity; gap closed of fixed to oracle, "
	    "achievable gap of fixed to oracle_free)";
	for (i = 0; i < data->n_methods; i++) {
		if (method_find(data->methods[i]) != METHOD_ROUTER)
			continue;
		beats[0] = loses[0] = '\0';
		OOM(router_rows(f, run, data->methods[i], beats, sizeof beats,
		    loses, sizeof loses));
		if (n++ > 0)
			verdict_more(f, "; ");
		if (*beats == '\0')
			verdict_more(f, "%s beats neither fixed nor "
			    "random_best", data->methods[i]);
		else
			verdict_more(f, "%s beats fixed and random_best at "
			    "%s%s%s", data->methods[i], beats, *loses ?
			    ", not at " : "", loses);
	}
	if (n == 0) {
		OOM(add_line(f, "(no router in this run)"));
		verdict(f, "no router was evaluated in this run (duo run "
		    "--router NAME)");
	}
	return 0;
oom:
	return -1;
}

/* ---- (d) the layers of the big modules --------------------------------- */

/* The mean layer of method's big modules over every token at budgets lo
 * to hi; NAN when none. */
static double
centre_of_big(const struct run_data *run, const char *method, int lo, int hi)
{
	const struct result_record *r;
	double sum = 0.0;
	size_t pos, n = 0;
	int k, l;

	for (k = lo; k <= hi; k++)
		for (pos = 1; pos <= run->n_tokens; pos++) {
			r = result_at(run, pos, method, k);
			if (r == NULL || r->route == NULL)
				continue;
			for (l = 0; r->route[l] != '\0'; l++)
				if (r->route[l] == 'B') {
					sum += l;
					n++;
				}
		}
	return n > 0 ? sum / (double)n : NAN;
}

/* A centre of mass as text, "-" for none. */
static const char *
centre_text(double c, char *buf, size_t size)
{
	if (isnan(c))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.2f", c);
	return buf;
}

/* One method's row of (d): its tight and loose centres. */
static int
centre_rows(struct finding *f, const struct run_data *run, const char *prefix,
    const char *method, int tight_hi, int loose_lo, double *tight,
    double *loose)
{
	char a[32], b[32];
	int L = run->info.n_layer;

	*tight = centre_of_big(run, method, 1, tight_hi);
	*loose = centre_of_big(run, method, loose_lo, L - 1);
	OOM(add_number(f, "centre_tight", prefix, method, -1, *tight));
	OOM(add_number(f, "centre_loose", prefix, method, -1, *loose));
	OOM(add_line(f, "%-18s %18s %18s", *prefix ? "null model oracle" :
	    method, centre_text(*tight, a, sizeof a),
	    centre_text(*loose, b, sizeof b)));
	return 0;
oom:
	return -1;
}

/* Where tight budgets put the big modules against loose ones (within a
 * quarter layer is "the same"). */
static const char *
shift_word(double tight, double loose)
{
	if (isnan(tight) || isnan(loose) || fabs(tight - loose) < 0.25)
		return "at about the same layers as";
	return tight > loose ? "later than" : "earlier than";
}

/* (d): the mean layer of the big modules, tight against loose budgets. */
static int
finding_d(struct finding *f, const struct run_data *run,
    const struct run_data *null)
{
	int L = run->info.n_layer, tight_hi = L / 3, loose_lo = (2 * L + 2) / 3;
	double t[3], l[3];
	char tight[32], loose[32];

	f->id = "d";
	f->title = "The layers of the big modules under tight and loose "
	    "budgets (mean layer, 0 the first)";
	OOM(add_line(f, "%-18s %18s %18s", "", "tight", "loose"));
	snprintf(tight, sizeof tight, "k=1..%d", tight_hi);
	snprintf(loose, sizeof loose, "k=%d..%d", loose_lo, L - 1);
	OOM(add_line(f, "%-18s %18s %18s", "budgets", tight, loose));
	OOM(centre_rows(f, run, "", "oracle", tight_hi, loose_lo, &t[0],
	    &l[0]));
	OOM(centre_rows(f, run, "", "oracle_free", tight_hi, loose_lo, &t[1],
	    &l[1]));
	if (null != NULL)
		OOM(centre_rows(f, null, "null:", "oracle", tight_hi, loose_lo,
		    &t[2], &l[2]));
	if (tight_hi < 1 || loose_lo > L - 1 || isnan(t[0]) || isnan(l[0])) {
		verdict(f, "this run has too few layers or budgets to tell");
		return 0;
	}
	verdict(f, "under tight budgets the oracle puts its big modules %s "
	    "under loose ones (layer %.2f against %.2f); the label-free "
	    "oracle %s (%.2f against %.2f)", shift_word(t[0], l[0]), t[0],
	    l[0], strcmp(shift_word(t[0], l[0]), shift_word(t[1], l[1])) == 0
	    ? "does the same" : "does not", t[1], l[1]);
	if (null != NULL)
		verdict_more(f, "; a random-weight model's oracle: %.2f "
		    "against %.2f", t[2], l[2]);
	return 0;
oom:
	return -1;
}

/* ---- (e) big modules by position in the window ------------------------ */

/* Mean B's of method's routes in the first and second half of each
 * window (a window of n tokens: positions 1..n/2 and the rest). */
static void
spent_by_half(const struct run_data *run, const char *method, double *first,
    double *second)
{
	size_t per_window = (size_t)run->info.n_ctx - 1, pos, w, at, len;
	size_t n[2] = { 0, 0 };
	double sum[2] = { 0.0, 0.0 };
	const struct result_record *r;
	const char *c;
	int half;

	for (pos = 1; pos <= run->n_tokens; pos++) {
		r = result_at(run, pos, method, -1);
		if (r == NULL || r->route == NULL || per_window == 0)
			continue;
		w = (pos - 1) / per_window;
		at = (pos - 1) % per_window + 1;
		len = run->n_tokens - w * per_window;
		if (len > per_window)
			len = per_window;
		half = 2 * at > len;
		for (c = r->route; *c != '\0'; c++)
			sum[half] += *c == 'B';
		n[half]++;
	}
	*first = n[0] > 0 ? sum[0] / (double)n[0] : NAN;
	*second = n[1] > 0 ? sum[1] / (double)n[1] : NAN;
}

/* (e): the best route's big modules by half of the window. */
static int
finding_e(struct finding *f, const struct run_data *run,
    const struct run_data *null)
{
	char a[32], b[32];
	double h[4];

	f->id = "e";
	f->title = "Big modules the best route spends by position in the "
	    "window (first half, second half)";
	spent_by_half(run, "best", &h[0], &h[1]);
	OOM(add_number(f, "big_first_half", "", "best", -1, h[0]));
	OOM(add_number(f, "big_second_half", "", "best", -1, h[1]));
	OOM(add_line(f, "%-18s %12s %12s", "", "first half", "second half"));
	OOM(add_line(f, "%-18s %12s %12s", "best", centre_text(h[0], a,
	    sizeof a), centre_text(h[1], b, sizeof b)));
	if (null != NULL) {
		spent_by_half(null, "best", &h[2], &h[3]);
		OOM(add_number(f, "big_first_half", "null:", "best", -1, h[2]));
		OOM(add_number(f, "big_second_half", "null:", "best", -1,
		    h[3]));
		OOM(add_line(f, "%-18s %12s %12s", "null model best",
		    centre_text(h[2], a, sizeof a), centre_text(h[3], b,
		    sizeof b)));
	}
	if (isnan(h[0]) || isnan(h[1]))
		verdict(f, "the run's windows are too short to have two "
		    "halves");
	else if (fabs(h[0] - h[1]) < 0.1)
		verdict(f, "the best route spends about as many big modules "
		    "late in the window as early (%.2f and %.2f)", h[0], h[1]);
	else
		verdict(f, "the best route spends %s big modules late in the "
		    "window than early (%.2f against %.2f)", h[1] < h[0] ?
		    "fewer" : "more", h[1], h[0]);
	if (null != NULL && !isnan(h[2]) && !isnan(h[3]))
		verdict_more(f, "; a random-weight model's: %.2f against %.2f",
		    h[3], h[2]);
	return 0;
oom:
	return -1;
}

/* ---- (f) high loss that no route helps --------------------------------- */

struct ranked {
	double value;
	size_t pos;
};

static int
compare_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Of the quarter of tokens with the highest loss under big, how many are
 * in the quarter least helped by routing (lowest small - best); a quarter
 * is ceil(n / 4) tokens, ties ranked by position.  -1 without memory.
 */
static int
unhelped_tokens(const struct run_data *run, size_t *quarter,
    size_t *unhelped)
{
	const struct result_record *big, *small, *best;
	struct ranked *loss, *diff;
	unsigned char *in_low;
	size_t pos, n = 0, i;

	loss = calloc(run->n_tokens + 1, sizeof *loss);
	diff = calloc(run->n_tokens + 1, sizeof *diff);
	in_low = calloc(run->n_tokens + 1, 1);
	if (loss == NULL || diff == NULL || in_low == NULL) {
		free(loss);
		free(diff);
		free(in_low);
		return -1;
	}
	for (pos = 1; pos <= run->n_tokens; pos++) {
		big = result_at(run, pos, "big", -1);
		small = result_at(run, pos, "small", -1);
		best = result_at(run, pos, "best", -1);
		if (big == NULL || small == NULL || best == NULL)
			continue;
		loss[n] = (struct ranked){ -big->loss, pos };
		diff[n] = (struct ranked){ small->loss - best->loss, pos };
		n++;
	}
	qsort(loss, n, sizeof *loss, compare_ranked);
	qsort(diff, n, sizeof *diff, compare_ranked);
	*quarter = (n + 3) / 4;
	*unhelped = 0;
	for (i = 0; i < *quarter; i++)
		in_low[diff[i].pos] = 1;
	for (i = 0; i < *quarter; i++)
		*unhelped += in_low[loss[i].pos];
	free(loss);
	free(diff);
	free(in_low);
	return 0;
}

/* (f): high loss that no route helps, against chance. */
static int
finding_f(struct finding *f, const struct run_data *run,
    const struct run_data *null)
{
	size_t q, u, qn = 0, un = 0;
	double share, chance, null_share = NAN;

	f->id = "f";
	f->title = "Tokens of high loss that no route helps (top quarter of "
	    "loss under big, bottom quarter of difficulty)";
	if (unhelped_tokens(run, &q, &u) != 0)
		return -1;
	share = q > 0 ? (double)u / (double)q : NAN;
	/* independent quarters: the top quarter of loss holds a quarter of
	 * the bottom quarter of difficulty */
	chance = run->n_tokens > 0 ? (double)q / (double)run->n_tokens : NAN;
	OOM(add_number(f, "high_loss_tokens", "", "big", -1, (double)q));
	OOM(add_number(f, "unhelped_tokens", "", "big", -1, (double)u));
	OOM(add_number(f, "unhelped_share", "", "big", -1, share));
	OOM(add_number(f, "chance_share", "", "big", -1, chance));
	OOM(add_line(f, "%zu of the %zu highest-loss tokens (%.0f%%) are "
	    "among the %zu least helped; by chance %.0f%%", u, q,
	    100.0 * share, q, 100.0 * chance));
	if (null != NULL) {
		if (unhelped_tokens(null, &qn, &un) != 0)
			return -1;
		null_share = qn > 0 ? (double)un / (double)qn : NAN;
		OOM(add_number(f, "unhelped_share", "null:", "big", -1,
		    null_share));
		OOM(add_line(f, "null model: %zu of %zu (%.0f%%)", un, qn,
		    100.0 * null_share));
	}
	if (q == 0)
		verdict(f, "this run has no tokens with big, small and best");
	else
		verdict(f, "%.0f%% of the highest-loss tokens are ones no "
		    "route helps, %s chance (%.0f%%): %s", 100.0 * share,
		    share > 1.25 * chance ? "above" : share < 0.75 * chance ?
		    "below" : "about", 100.0 * chance, share > 1.25 * chance ?
		    "much surprise is beyond routing's reach" :
		    "high loss and routing's help are not opposed");
	return 0;
oom:
	return -1;
}

/* ---- the whole ----------------------------------------------------------- */

void
findings_free(struct findings *f)
{
	size_t i, j;

	for (i = 0; i < N_FINDINGS; i++) {
		for (j = 0; j < f->items[i].n_lines; j++)
			free(f->items[i].lines[j]);
		free(f->items[i].lines);
		free(f->items[i].numbers);
	}
	memset(f, 0, sizeof *f);
}

int
findings_compute(const struct run_data *run, const struct run_data *control,
    struct findings *out, struct duo_error *err)
{
	struct means mr, mn;
	const struct means *null = NULL;
	int rc = 0;

	memset(out, 0, sizeof *out);
	out->run_id = run->info.id;
	snprintf(out->about, sizeof out->about, "run %lld: %zu tokens, %d "
	    "layers, space %s, context %s%s", (long long)run->info.id,
	    run->n_tokens, run->info.n_layer, run->info.space,
	    run->info.context, run->info.approximate ?
	    ", beam search (approximate)" : "");
	if (control != NULL && control->info.n_layer != run->info.n_layer)
		return error_set(err, "run %lld: its control run %lld has %d "
		    "layers, not %d", (long long)run->info.id,
		    (long long)control->info.id, control->info.n_layer,
		    run->info.n_layer);
	if (means_make(&mr, run, err) != 0)
		return -1;
	if (control != NULL) {
		if (means_make(&mn, control, err) != 0) {
			means_free(&mr);
			return -1;
		}
		null = &mn;
		out->control_id = control->info.id;
		snprintf(out->control, sizeof out->control, "null-model "
		    "control: run %lld (the same analysis on a random-weight "
		    "model of the same shape)", (long long)control->info.id);
	} else
		snprintf(out->control, sizeof out->control, "no null-model "
		    "control (run duo run --null-control)");
	if (headline(&out->items[0], &mr, null) != 0 ||
	    finding_a(&out->items[1], &mr, null) != 0 ||
	    finding_b(&out->items[2], &mr, null) != 0 ||
	    finding_c(&out->items[3], &mr) != 0 ||
	    finding_d(&out->items[4], run, control) != 0 ||
	    finding_e(&out->items[5], run, control) != 0 ||
	    finding_f(&out->items[6], run, control) != 0)
		rc = error_set(err, "out of memory");
	means_free(&mr);
	if (null != NULL)
		means_free(&mn);
	return rc;
}

void
findings_text(const struct findings *f,
    void (*line)(void *arg, const char *text), void *arg)
{
	const struct finding *x;
	char buf[1024];
	size_t i, j;

	line(arg, f->about);
	line(arg, f->control);
	for (i = 0; i < N_FINDINGS; i++) {
		x = &f->items[i];
		line(arg, "");
		if (strcmp(x->id, "headline") == 0)
			snprintf(buf, sizeof buf, "%s", x->title);
		else
			snprintf(buf, sizeof buf, "(%s) %s", x->id, x->title);
		line(arg, buf);
		for (j = 0; j < x->n_lines; j++) {
			snprintf(buf, sizeof buf, "  %s", x->lines[j]);
			line(arg, buf);
		}
		snprintf(buf, sizeof buf, "  verdict: %s", x->verdict);
		line(arg, buf);
	}
}

/* A value of the TSV: an integer as one, else six significant digits. */
static void
write_value(FILE *out, double v)
{
	if (isnan(v))
		return;
	if (v == floor(v) && fabs(v) < 1e9)
		fprintf(out, "%.0f", v);
	else
		fprintf(out, "%.6g", v);
}

void
findings_write_tsv(FILE *out, const struct findings *f)
{
	const struct finding *x;
	const struct finding_number *v;
	size_t i, j;

	fprintf(out, "finding\tmeasure\tmethod\tbudget\tvalue\n");
	fprintf(out, "run\trun_id\t\t\t%lld\n", (long long)f->run_id);
	fprintf(out, "run\tcontrol_run_id\t\t\t");
	if (f->control_id != 0)
		fprintf(out, "%lld", (long long)f->control_id);
	fprintf(out, "\n");
	for (i = 0; i < N_FINDINGS; i++) {
		x = &f->items[i];
		for (j = 0; j < x->n_numbers; j++) {
			v = &x->numbers[j];
			fprintf(out, "%s\t%s\t%s\t", x->id, v->measure,
			    v->method);
			if (v->budget >= 0)
				fprintf(out, "%d", v->budget);
			fprintf(out, "\t");
			write_value(out, v->value);
			fprintf(out, "\n");
		}
		fprintf(out, "%s\tverdict\t\t\t%s\n", x->id, x->verdict);
	}
}
