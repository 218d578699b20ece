/*
 * analysis.c - one text analysed and stored as one run (analysis.h).
 *
 * Test hooks: DUO_TEST_PAUSE_BEFORE_WRITE=SECONDS sleeps between the end
 * of the analysis and the write, so that tests/run.sh can kill a run at
 * that moment on purpose; DUO_TEST_HOLD_BEFORE_WRITE=FILE, at the same
 * moment, creates FILE and waits (up to a minute) until it is removed, so
 * that tests/fulldisk.sh fills the disk exactly between the check for
 * room and the write.  They are environment variables of the program
 * under test rather than parameters, so that no caller carries them; they
 * exist for the tests only and duo(1) does not mention them.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "analysis.h"
#include "derive.h"
#include "linalg.h"
#include "names.h"
#include "route.h"
#include "router.h"
#include "sha256.h"
#include "tokenizer.h"

/* Growing text for the settings JSON; a failed allocation sticks. */
struct buffer {
	char *data;
	size_t length, capacity;
	bool failed;
};

static void
append(struct buffer *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
append(struct buffer *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *grown;

	while (!b->failed) {
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->length, b->capacity - b->length,
		    fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			break;
		}
		if ((size_t)n < b->capacity - b->length) {
			b->length += (size_t)n;
			break;
		}
		b->capacity = 2 * b->capacity + (size_t)n + 64;
		grown = realloc(b->data, b->capacity);
		if (grown == NULL) {
			b->failed = true;
			break;
		}
		b->data = grown;
	}
}

/* Every setting not in a column of runs, as JSON (duo-db(5)); NULL when
 * out of memory. */
static char *
settings_json(const struct oracle_settings *settings,
    const struct oracle_result *result, int n_threads,
    enum store_tables tables, const uint64_t *null_seed, const char *extra,
    const uint64_t *null_control_seed)
{
	struct buffer b = { malloc(256), 0, 256, false };
	char route[64 + 1];
	uint8_t choices[64];
	int i, j, L = result->n_layer;

	if (b.data == NULL)
		return NULL;
	b.data[0] = '\0';
	append(&b, "{\"search\":\"%s\"", result->approximate ? "beam" :
	    "exhaustive");
	if (result->approximate)
		append(&b, ",\"beam_width\":%d", result->beam_width);
	else
		append(&b, ",\"routes\":%llu",
		    (unsigned long long)result->n_routes);
	append(&b, ",\"budgets\":[");
	for (i = 0; i < result->n_budgets; i++)
		append(&b, "%s%d", i > 0 ? "," : "", result->budgets[i]);
	append(&b, "],\"seed\":%llu,\"n_random\":%d,\"shuffle_seed\":%llu",
	    (unsigned long long)settings->seed, result->n_random,
	    (unsigned long long)settings->shuffle_seed);
	if (null_seed != NULL)
		append(&b, ",\"null_seed\":%llu",
		    (unsigned long long)*null_seed);
	if (null_control_seed != NULL)
		append(&b, ",\"null_control_seed\":%llu",
		    (unsigned long long)*null_control_seed);
	if (settings->context == ORACLE_GREEDY)
		append(&b, ",\"route_losses_context\":\"shared\"");
	append(&b, ",\"losses\":\"%s\"", store_tables_name(tables));
	if (settings->n_routers > 0) {
		append(&b, ",\"router_mode\":\"%s\",\"routers\":{",
		    router_mode_name(settings->router_mode));
		for (i = 0; i < settings->n_routers; i++) {
			const struct duo_router *r = &settings->routers[i];

			append(&b, "%s\"%s\":{\"kind\":\"%s\",\"budget\":%d}",
			    i > 0 ? "," : "", r->name,
			    router_kind_name(r->kind), r->budget);
		}
		append(&b, "}");
	}
	append(&b, ",\"threads\":%d,\"random_routes\":{", n_threads);
	for (i = 0; i < result->n_budgets; i++) {
		append(&b, "%s\"%d\":[", i > 0 ? "," : "", result->budgets[i]);
		for (j = 0; j < result->n_random_per_budget[i]; j++) {
			route_decode(&settings->space, result->random_codes[
			    (size_t)i * (size_t)result->n_random + (size_t)j],
			    L, choices);
			route_format(choices, L, route);
			append(&b, "%s\"%s\"", j > 0 ? "," : "", route);
		}
		append(&b, "]");
	}
	append(&b, "}%s}", extra != NULL ? extra : "");
	if (b.failed) {
		free(b.data);
		return NULL;
	}
	return b.data;
}

/* The run's tokens: BOS, then the text's with their bytes. */
static struct token_record *
make_tokens(const struct duo_model *model, const struct text_tokens *tokens)
{
	struct token_record *records = calloc(tokens->n + 1, sizeof *records);
	int32_t bos = tokenizer_bos(model->tokenizer);
	size_t i;

	if (records == NULL)
		return NULL;
	records[0].token_id = bos;
	records[0].piece = tokenizer_piece(model->tokenizer, bos,
	    &records[0].piece_length);
	for (i = 0; i < tokens->n; i++) {
		records[i + 1].token_id = tokens->ids[i];
		records[i + 1].piece = tokenizer_piece(model->tokenizer,
		    tokens->ids[i], &records[i + 1].piece_length);
		records[i + 1].byte_start = tokens->offsets[i];
		records[i + 1].byte_end = tokens->offsets[i + 1];
	}
	return records;
}

struct result_record *
analysis_make_results(const struct oracle_result *result, size_t *n_results,
    char **arena)
{
	const struct oracle_method *m;
	struct result_record *r;
	size_t n = result->n_tokens * result->n_methods, i, p, k = 0;
	int L = result->n_layer;
	char *route;

	r = calloc(n == 0 ? 1 : n, sizeof *r);
	*arena = malloc(n * ((size_t)L + 1) + 1);
	if (r == NULL || *arena == NULL) {
		free(r);
		free(*arena);
		*arena = NULL;
		return NULL;
	}
	route = *arena;
	for (i = 0; i < result->n_methods; i++) {
		m = &result->methods[i];
		for (p = 0; p < result->n_tokens; p++, k++) {
			r[k].pos = (int)(p + 1);
			r[k].method = m->name;
			r[k].loss = m->losses[p];
			r[k].budget = m->budget;
			if (m->routes == NULL)
				continue;
			route_format(m->routes + p * (size_t)L, L, route);
			r[k].route = route;
			if (m->budget < 0)
				r[k].budget = route_budget(m->routes +
				    p * (size_t)L, L);
			route += L + 1;
		}
	}
	*n_results = k;
	return r;
}

double
analysis_mean_loss(const struct oracle_method *m, size_t n)
{
	double sum = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += m->losses[i];
	return n > 0 ? sum / (double)n : 0.0;
}

static double
wall_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void
sleep_seconds(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* Sleep or wait as the test hooks DUO_TEST_PAUSE_BEFORE_WRITE and
 * DUO_TEST_HOLD_BEFORE_WRITE ask, if they are set (see the top of this
 * file). */
static void
test_pause_before_write(void)
{
	const char *value = getenv("DUO_TEST_PAUSE_BEFORE_WRITE");
	const char *hold = getenv("DUO_TEST_HOLD_BEFORE_WRITE");
	double seconds = value == NULL || *value == '\0' ? 0.0 : atof(value);
	FILE *f;
	int i;

	if (seconds > 0)
		sleep_seconds(seconds);
	if (hold == NULL || *hold == '\0' || (f = fopen(hold, "w")) == NULL)
		return;
	fclose(f);
	for (i = 0; i < 6000 && access(hold, F_OK) == 0; i++)
		sleep_seconds(0.01);
}

/*
 * Refuse, before any work, a run that the database has no room for: its
 * size from the text, the tokens and what oracle_run() will make of them
 * (store.h has the formula).  The settings JSON lists up to n_random
 * routes of L + 3 characters per budget.
 */
static int
check_room(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, size_t n_tokens,
    struct duo_error *err)
{
	/* a null control is a second run of the same size, less routers */
	size_t runs = req->null_control ? 2 : 1;
	const struct oracle_settings *settings = &req->settings;
	struct oracle_plan plan;
	struct run_size size;
	int L = model->config.n_layer, windowed;
	size_t n_random = settings->n_random > 0 ?
	    (size_t)settings->n_random : ORACLE_RANDOM_ROUTES;

	if (oracle_plan(model, settings, &plan, err) != 0)
		return -1;
	memset(&size, 0, sizeof size);
	size.text_bytes = runs * req->length;
	size.settings_bytes = runs * (512 + (size_t)plan.n_budgets *
	    n_random * ((size_t)L + 3)) + (size_t)settings->n_routers * 96;
	size.n_tokens = runs * n_tokens;
	size.n_results = runs * n_tokens * plan.n_methods;
	size.n_methods = runs * plan.n_methods;
	size.n_layer = L;
	/* a run written window by window keeps its tables as float32 until
	 * it completes, whatever --losses asks */
	windowed = analysis_windowed(model, settings);
	size.n_tables = plan.keeps_tables && (windowed || req->tables !=
	    STORE_TABLES_NONE) ? runs * n_tokens : 0;
	size.table_bytes = (size_t)plan.n_routes * (!windowed &&
	    req->tables == STORE_TABLES_F16 ? 2 : sizeof(float));
	return store_check_room(store, &size, err);
}

/* path as one word of a shell command: quoted when it must be. */
static const char *
shell_word(const char *path, char *out, size_t size)
{
	size_t n = 0;

	if (path[strspn(path, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+:@%,=")] == '\0')
		return path;
	out[n++] = '\'';
	for (; *path != '\0' && n + 5 < size; path++) {
		if (*path == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else
			out[n++] = *path;
	}
	out[n++] = '\'';
	out[n] = '\0';
	return out;
}

/*
 * The write failed (why is in err): keep the run in a side file and say
 * where and how to store it, or say that it is lost and why.  Never
 * silently: minutes or hours of analysis are at stake.
 */
static void
keep_unstored_run(struct store *store, const struct run_record *run,
    struct duo_error *err)
{
	struct duo_error why = *err, keeping;
	const char *db = store_path(store);
	char *side, db_word[512], side_word[512];

	if (store_keep_run(db, run, &side, &keeping) != 0) {
		error_set(err, "the run was not stored: %s; its results are "
		    "lost, no side file could be written: %s", why.message,
		    keeping.message);
		return;
	}
	error_set(err, "the run was not stored: %s; its results are kept in "
	    "%s; store them with: duo merge %s %s", why.message, side,
	    shell_word(db, db_word, sizeof db_word),
	    shell_word(side, side_word, sizeof side_word));
	err->code = DUO_ERROR_KEPT;
	free(side);
}

void
analysis_free(struct analysis *a)
{
	if (a->control != NULL) {
		analysis_free(a->control);
		free(a->control);
	}
	free(a->label);
	free(a->model_name);
	text_tokens_free(&a->tokens);
	oracle_result_free(&a->result);
	free(a->token_records);
	free(a->results);
	free(a->arena);
	free(a->settings_json);
	free(a->context_text);
	memset(a, 0, sizeof *a);
}

/*
 * Choose from the model file's routers by the rule of analysis.h, into
 * req->routers in the order named.
 */
static int
choose_routers(struct analysis_request *req, const struct duo_model *model,
    const char *model_file, const char *const *names, int n_names,
    struct duo_error *err)
{
	const char *space = req->settings.space.name;
	struct duo_router *all, *chosen;
	char have[sizeof err->message];
	size_t used;
	int n_all, i, j, n = 0;

	if (n_names == 0)
		return 0;
	if (router_load_all(model_file, &model->config, &all, &n_all,
	    err) != 0)
		return -1;
	chosen = calloc((size_t)(n_all > 0 ? n_all : 1), sizeof *chosen);
	if (chosen == NULL) {
		router_free_all(all, n_all);
		return error_set(err, "out of memory");
	}
	for (i = 0; i < n_names; i++) {
		if (strcmp(names[i], "all") == 0) {
			if (n_all == 0) {
				error_set(err, "%s has no learned routers "
				    "(duo router train makes them)",
				    model_file);
				goto fail;
			}
			for (j = 0; j < n_all; j++)
				if (router_find(chosen, n, all[j].name) ==
				    NULL)
					chosen[n++] = all[j];
			continue;
		}
		for (j = 0; j < n_all && strcmp(all[j].name, names[i]) != 0;
		    j++)
			;
		if (j == n_all) {
			used = 0;
			have[0] = '\0';
			for (j = 0; j < n_all && used < sizeof have; j++)
				used += (size_t)snprintf(have + used,
				    sizeof have - used, " %s", all[j].name);
			error_set(err, "%s has no router named %s; it has%s",
			    model_file, names[i], n_all == 0 ? " none" : have);
			goto fail;
		}
		if (router_find(chosen, n, all[j].name) == NULL)
			chosen[n++] = all[j];
	}
	for (i = 0; i < n; i++)
		if (strcmp(chosen[i].space.name, space) != 0) {
			error_set(err, "router %s chooses in the space %s, not "
			    "in the run's %s", chosen[i].name,
			    chosen[i].space.name, space);
			goto fail;
		}
	/* the chosen ones keep their weights; free the others */
	for (j = 0; j < n_all; j++)
		if (router_find(chosen, n, all[j].name) == NULL)
			router_free(&all[j]);
	free(all);
	req->routers = chosen;
	req->n_routers = n;
	req->settings.routers = chosen;
	req->settings.n_routers = n;
	return 0;
fail:
	free(chosen);
	router_free_all(all, n_all);
	return -1;
}

int
analysis_prepare(struct analysis_request *req, const struct duo_model *model,
    const char *model_file, const char *const *router_names, int n_names,
    struct duo_error *err)
{
	req->model_path = NULL;
	req->routers = NULL;
	req->n_routers = 0;
	req->settings.routers = NULL;
	req->settings.n_routers = 0;
	if (sha256_file(model_file, req->model_sha256, err) != 0)
		return -1;
	/* the full path, so that runs from other folders compare */
	if ((req->model_path = realpath(model_file, NULL)) == NULL &&
	    (req->model_path = strdup(model_file)) == NULL)
		return error_set(err, "out of memory");
	if (choose_routers(req, model, model_file, router_names, n_names,
	    err) != 0) {
		analysis_request_free(req);
		return -1;
	}
	return 0;
}

void
analysis_request_free(struct analysis_request *req)
{
	router_free_all(req->routers, req->n_routers);
	free(req->model_path);
	req->model_path = NULL;
	req->routers = NULL;
	req->n_routers = 0;
	req->settings.routers = NULL;
	req->settings.n_routers = 0;
}

int
analysis_null_model(const struct duo_model *model, uint64_t seed,
    struct duo_model *null, char sha256[SHA256_HEX_SIZE],
    struct duo_error *err)
{
	struct sha256 ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	const char *name = model->name != NULL ? model->name : "duo";
	size_t n;

	if (model_alloc(null, &model->config, model->tied_output, err) != 0)
		return -1;
	model_init_random(null, seed);
	null->tokenizer = model->tokenizer;
	n = strlen(name) + 64;
	if ((null->name = malloc(n)) == NULL) {
		analysis_null_model_free(null);
		return error_set(err, "out of memory");
	}
	snprintf(null->name, n, "%s, null (seed %llu)", name,
	    (unsigned long long)seed);
	sha256_init(&ctx);
	sha256_update(&ctx, null->params, null->n_params * sizeof *null->params);
	sha256_final(&ctx, digest);
	sha256_hex(digest, sha256);
	return 0;
}

void
analysis_null_model_free(struct duo_model *null)
{
	null->tokenizer = NULL;         /* borrowed */
	model_free(null);
}

/* ---- a run written window by window ------------------------------------ */

/* Progress of one part of the work: [offset, offset + scale] of the
 * whole, the route-tokens of the parts before added. */
struct span {
	oracle_progress_fn fn;
	void *arg;
	double offset, scale, route_tokens;
};

static void
span_progress(void *arg, double fraction, double route_tokens)
{
	struct span *s = arg;

	s->fn(s->arg, s->offset + s->scale * fraction, s->route_tokens +
	    route_tokens);
}

/* Methods chosen over the whole run: derived once every window is in. */
static int
whole_run_method(const char *name)
{
	switch (method_find(name)) {
	case METHOD_FIXED:
	case METHOD_RANDOM_BEST:
	case METHOD_SHUFFLED:
		return 1;
	default:
		return 0;
	}
}

int
analysis_windowed(const struct duo_model *model,
    const struct oracle_settings *settings)
{
	struct oracle_plan plan;
	struct duo_error err;

	return oracle_plan(model, settings, &plan, &err) == 0 &&
	    plan.keeps_tables;
}

/* What a run written window by window carries from window to window. */
struct windowed {
	struct store *store;
	const struct duo_model *model;
	const struct analysis_request *req;
	struct oracle_settings settings;        /* progress: the span's */
	const struct text_tokens *tokens;
	const uint64_t *null_seed;
	int64_t run_id;
	struct run_record header;       /* the run's row, no rows */
	char *settings_json;
	char *context_text;
	char space[8];
	char sha[SHA256_HEX_SIZE];
	struct oracle_result first;     /* one window's result: budgets,
					   random routes, routes */
	int have_first;
	int64_t control_of;             /* a control's run, else 0 */
	const char *stored_settings;    /* resumed: the run's settings */
	struct span span;
	double route_tokens;
	int L;
};

/* The header of the run's row, from the first window's result. */
static int
windowed_header(struct windowed *w, const struct oracle_result *result,
    struct duo_error *err)
{
	const struct analysis_request *req = w->req;
	struct run_record *run = &w->header;
	int n_threads = w->settings.n_threads;

#ifdef _OPENMP
	if (n_threads <= 0)
		n_threads = omp_get_max_threads();
#else
	n_threads = 1;
#endif
	w->settings_json = settings_json(&w->settings, result, n_threads,
	    req->tables, w->null_seed, req->extra_settings,
	    w->null_seed == NULL && req->null_control ? &req->null_seed :
	    NULL);
	w->context_text = malloc((size_t)w->L + 1);
	if (w->settings_json == NULL || w->context_text == NULL)
		return error_set(err, "out of memory for the run's records");
	if (w->settings.context_route != NULL)
		route_format(w->settings.context_route, w->L, w->context_text);
	else {
		memset(w->context_text, 'B', (size_t)w->L);
		w->context_text[w->L] = '\0';
	}
	memset(run, 0, sizeof *run);
	memcpy(run->model.sha256, w->sha, sizeof run->model.sha256);
	run->model.path = req->model_path;
	run->model.name = w->model->name;
	run->model.n_layer = w->L;
	run->model.d_model = w->model->config.d_model;
	run->model.n_head = w->model->config.n_head;
	run->model.d_ff = w->model->config.d_ff;
	run->model.d_ff_small = w->model->config.d_ff_small;
	run->model.n_vocab = w->model->config.n_vocab;
	run->model.n_ctx = w->model->config.n_ctx;
	run->label = req->label;
	run->source = req->source;
	run->text = req->text;
	run->text_length = req->length;
	snprintf(w->space, sizeof w->space, "%s", w->settings.space.name);
	run->space = w->space;
	run->context = oracle_context_name(w->settings.context);
	run->context_route = w->settings.context == ORACLE_FIXED ?
	    w->context_text : NULL;
	run->settings = w->settings_json;
	run->n_tokens = w->tokens->n;
	run->tables = STORE_TABLES_F32;
	run->routers_soft = w->settings.n_routers > 0 &&
	    w->settings.router_mode == ROUTER_SOFT;
	run->corpus = req->corpus;
	run->control_of = w->control_of;
	return 0;
}

/* A resumed run goes on with the settings it was begun with. */
static int
windowed_same_settings(struct windowed *w, struct duo_error *err)
{
	static const char *const threads[] = { "$.threads" };
	char *stored = NULL, *now = NULL;
	int status = -1;

	if (store_json_remove(w->store, w->stored_settings, threads, 1,
	    &stored, err) != 0 || store_json_remove(w->store,
	    w->settings_json, threads, 1, &now, err) != 0)
		goto done;
	if (strcmp(stored, now) != 0) {
		error_set(err, "run %lld was begun with other settings than "
		    "this duo makes of them (stored %.200s; now %.200s)",
		    (long long)w->run_id, stored, now);
		goto done;
	}
	w->stored_settings = NULL;      /* checked once */
	status = 0;
done:
	free(stored);
	free(now);
	return status;
}

/* Analyse and write window index of the text. */
static int
windowed_window(struct windowed *w, size_t index, struct duo_error *err)
{
	size_t per = (size_t)w->model->config.n_ctx - 1, n_all = w->tokens->n;
	size_t start = index * per, end = start + per < n_all ? start + per :
	    n_all, n = end - start, n_results = 0, i, k;
	struct oracle_result result;
	struct oracle_settings settings = w->settings;
	struct result_record *results = NULL;
	struct token_record *records = NULL, bos;
	struct store_window win;
	char *arena = NULL;
	int status = -1;

	if (settings.progress != NULL) {
		w->span.route_tokens = w->route_tokens;
		settings.progress = span_progress;
		settings.progress_arg = &w->span;
	}
	memset(&result, 0, sizeof result);
	if (oracle_run(w->model, w->tokens->ids + start, n,
	    tokenizer_bos(w->model->tokenizer), &settings, &result,
	    err) != 0)
		return -1;
	w->route_tokens += result.route_tokens;
	if (w->settings_json == NULL && windowed_header(w, &result, err) != 0)
		goto done;
	if (w->run_id == 0 && store_begin_run(w->store, &w->header,
	    &w->run_id, err) != 0)
		goto done;
	if (w->stored_settings != NULL && windowed_same_settings(w, err) != 0)
		goto done;
	records = calloc(n, sizeof *records);
	results = analysis_make_results(&result, &n_results, &arena);
	if (records == NULL || results == NULL) {
		error_set(err, "out of memory for the window's records");
		goto done;
	}
	for (i = 0; i < n; i++) {
		records[i].token_id = w->tokens->ids[start + i];
		records[i].piece = tokenizer_piece(w->model->tokenizer,
		    records[i].token_id, &records[i].piece_length);
		records[i].byte_start = w->tokens->offsets[start + i];
		records[i].byte_end = w->tokens->offsets[start + i + 1];
	}
	for (i = k = 0; i < n_results; i++)
		if (!whole_run_method(results[i].method)) {
			results[k] = results[i];
			results[k++].pos += (int)start;
		}
	memset(&win, 0, sizeof win);
	bos.token_id = tokenizer_bos(w->model->tokenizer);
	bos.piece = tokenizer_piece(w->model->tokenizer, bos.token_id,
	    &bos.piece_length);
	bos.byte_start = bos.byte_end = 0;
	win.first_pos = start + 1;
	win.n = n;
	win.bos = start == 0 ? &bos : NULL;
	win.tokens = records;
	win.results = results;
	win.n_results = k;
	win.route_losses = result.tables;
	win.route_kl = result.kl_tables;
	win.seconds = result.seconds;
	test_pause_before_write();
	if (store_write_window(w->store, w->run_id, &w->header, &win,
	    err) != 0)
		goto done;
	if (!w->have_first) {
		w->first = result;
		memset(&result, 0, sizeof result);
		w->have_first = 1;
	}
	status = 0;
done:
	oracle_result_free(&result);
	free(records);
	free(results);
	free(arena);
	return status;
}

/* What the completion derives, token by token, from the stored tables. */
struct completion {
	struct windowed *w;
	const struct oracle_result *r;  /* budgets and random routes */
	const struct route_space *space;
	size_t n_routes, n_tokens;
	double *sums;                   /* [n_routes] over the run */
	uint64_t *fixed, *random_best;  /* [n_budgets] chosen codes */
	uint16_t *oracle;               /* [n_budgets][n_tokens] codes */
	size_t *order;                  /* the shuffled method's */
	struct result_record *batch;
	char *arena;
	size_t n_batch, capacity;
};

static int
sum_row(void *arg, size_t pos, const float *row, struct duo_error *err)
{
	struct completion *c = arg;
	size_t i;

	(void)pos;
	(void)err;
	for (i = 0; i < c->n_routes; i++)
		c->sums[i] += row[i];
	return 0;
}

static int
oracle_row(void *arg, const struct result_record *r, struct duo_error *err)
{
	struct completion *c = arg;
	uint8_t choices[DUO_MAX_LAYERS];
	int b;

	for (b = 0; b < c->r->n_budgets && c->r->budgets[b] != r->budget;
	    b++)
		;
	if (b == c->r->n_budgets || r->pos < 1 || (size_t)r->pos >
	    c->n_tokens || r->route == NULL ||
	    route_parse(r->route, c->w->L, choices, err) != 0)
		return error_set(err, "run %lld: an oracle result at position "
		    "%d, budget %d is not of the run", (long long)c->w->run_id,
		    r->pos, r->budget);
	c->oracle[(size_t)b * c->n_tokens + (size_t)r->pos - 1] =
	    (uint16_t)route_encode(c->space, choices, c->w->L);
	return 0;
}

/* Write the batch of whole-run results. */
static int
flush_batch(struct completion *c, struct duo_error *err)
{
	int status = 0;

	if (c->n_batch > 0)
		status = store_append_results(c->w->store, c->w->run_id,
		    &c->w->header, c->batch, c->n_batch, err);
	c->n_batch = 0;
	return status;
}

static void
add_result(struct completion *c, size_t pos, enum method_id id, int budget,
    uint64_t code, float loss)
{
	struct result_record *r = &c->batch[c->n_batch];
	uint8_t choices[DUO_MAX_LAYERS];
	char *route = c->arena + c->n_batch * ((size_t)c->w->L + 1);

	route_decode(c->space, code, c->w->L, choices);
	route_format(choices, c->w->L, route);
	r->pos = (int)pos;
	r->method = method_table[id].name;
	r->budget = budget;
	r->route = route;
	r->loss = loss;
	c->n_batch++;
}

static int
derive_row(void *arg, size_t pos, const float *row, struct duo_error *err)
{
	struct completion *c = arg;
	const struct oracle_result *r = c->r;
	size_t p = pos - 1;
	uint64_t code;
	int b;

	if (pos < 1 || pos > c->n_tokens)
		return error_set(err, "run %lld: a loss table at position %zu",
		    (long long)c->w->run_id, pos);
	if (c->n_batch + 3 * (size_t)r->n_budgets > c->capacity &&
	    flush_batch(c, err) != 0)
		return -1;
	for (b = 0; b < r->n_budgets; b++) {
		add_result(c, pos, METHOD_FIXED, r->budgets[b], c->fixed[b],
		    row[c->fixed[b]]);
		add_result(c, pos, METHOD_RANDOM_BEST, r->budgets[b],
		    c->random_best[b], row[c->random_best[b]]);
		/* greedy: scored in its own context afterwards */
		if (c->w->settings.context == ORACLE_GREEDY)
			continue;
		code = c->oracle[(size_t)b * c->n_tokens + c->order[p]];
		add_result(c, pos, METHOD_SHUFFLED, r->budgets[b], code,
		    row[code]);
	}
	return 0;
}

/*
 * shuffled@k of a greedy run: token p takes oracle@k's route of token
 * order[p], and earlier positions of its window take their own shuffled
 * routes, as oracle_run() scores it with oracle_score_routes(); window
 * by window, which is the same, windows never seeing each other.
 */
static int
greedy_shuffled(struct completion *c, struct duo_error *err)
{
	struct windowed *w = c->w;
	const struct oracle_result *r = c->r;
	size_t per = (size_t)w->model->config.n_ctx - 1, start, n, i;
	size_t L = (size_t)w->L;
	uint8_t *routes = malloc(per * L);
	float *losses = malloc(per * sizeof *losses);
	uint64_t code;
	int b, status = -1;

	if (routes == NULL || losses == NULL) {
		free(routes);
		free(losses);
		return error_set(err, "out of memory");
	}
	/* products on one BLAS thread, as oracle_run() scores them: the
	 * last bits of a product depend on how OpenBLAS blocks it */
	linalg_workers_begin();
	for (start = 0; start < c->n_tokens; start += per) {
		n = c->n_tokens - start < per ? c->n_tokens - start : per;
		for (b = 0; b < r->n_budgets; b++) {
			for (i = 0; i < n; i++)
				route_decode(c->space, c->oracle[(size_t)b *
				    c->n_tokens + c->order[start + i]], w->L,
				    routes + i * L);
			if (oracle_score_routes(w->model, w->tokens->ids +
			    start, n, tokenizer_bos(w->model->tokenizer),
			    ORACLE_GREEDY, NULL, routes, losses, err) != 0)
				goto done;
			if (c->n_batch + n > c->capacity &&
			    flush_batch(c, err) != 0)
				goto done;
			for (i = 0; i < n; i++) {
				code = c->oracle[(size_t)b * c->n_tokens +
				    c->order[start + i]];
				if (c->n_batch == c->capacity &&
				    flush_batch(c, err) != 0)
					goto done;
				add_result(c, start + i + 1, METHOD_SHUFFLED,
				    r->budgets[b], code, losses[i]);
			}
		}
	}
	status = 0;
done:
	linalg_workers_end();
	free(routes);
	free(losses);
	return status;
}

/*
 * The methods chosen over the whole run, from the stored float32 tables
 * as derive.h chooses them (sums in double in position order, ties to
 * the lowest code, random_best to the first of the random routes), then
 * the run's means and its tables as asked, and 'complete'.
 */
static int
windowed_complete(struct windowed *w, struct duo_error *err)
{
	struct completion c;
	const struct oracle_result *r = &w->first;
	uint64_t code, col;
	size_t capacity;
	int b, kb, k, status = -1;

	memset(&c, 0, sizeof c);
	c.w = w;
	c.r = r;
	c.space = &w->settings.space;
	c.n_routes = (size_t)r->n_routes;
	c.n_tokens = w->tokens->n;
	capacity = 256 * 3 * (size_t)r->n_budgets;
	c.sums = calloc(c.n_routes, sizeof *c.sums);
	c.fixed = calloc((size_t)r->n_budgets + 1, sizeof *c.fixed);
	c.random_best = calloc((size_t)r->n_budgets + 1,
	    sizeof *c.random_best);
	c.oracle = calloc((size_t)r->n_budgets * c.n_tokens + 1,
	    sizeof *c.oracle);
	c.order = calloc(c.n_tokens + 1, sizeof *c.order);
	c.batch = calloc(capacity, sizeof *c.batch);
	c.arena = malloc(capacity * ((size_t)w->L + 1));
	c.capacity = capacity;
	if (c.sums == NULL || c.fixed == NULL || c.random_best == NULL ||
	    c.oracle == NULL || c.order == NULL || c.batch == NULL ||
	    c.arena == NULL) {
		error_set(err, "out of memory for the run's completion");
		goto done;
	}
	if (c.n_routes > 65536) {
		error_set(err, "a space of %zu routes is too large to write "
		    "window by window", c.n_routes);
		goto done;
	}
	if (store_scan_route_losses(w->store, w->run_id, c.n_routes, sum_row,
	    &c, err) != 0 || store_scan_results(w->store, w->run_id,
	    method_table[METHOD_ORACLE].name, oracle_row, &c, err) != 0)
		goto done;
	for (b = 0; b < r->n_budgets; b++) {
		k = r->budgets[b];
		c.fixed[b] = UINT64_MAX;
		for (code = 0; code < c.n_routes; code++)
			if (route_code_budget(c.space, w->L, code) == k &&
			    (c.fixed[b] == UINT64_MAX ||
			    c.sums[code] < c.sums[c.fixed[b]]))
				c.fixed[b] = code;
		c.random_best[b] = UINT64_MAX;
		for (kb = 0; kb < r->n_random_per_budget[b]; kb++) {
			col = r->random_codes[(size_t)b * (size_t)r->n_random +
			    (size_t)kb];
			if (c.random_best[b] == UINT64_MAX ||
			    c.sums[col] < c.sums[c.random_best[b]])
				c.random_best[b] = col;
		}
		if (c.fixed[b] == UINT64_MAX ||
		    c.random_best[b] == UINT64_MAX) {
			error_set(err, "no route of budget %d", k);
			goto done;
		}
	}
	derive_shuffle_order(c.n_tokens, w->settings.shuffle_seed, c.order);
	if (store_complete_begin(w->store, err) != 0)
		goto done;
	if (store_scan_route_losses(w->store, w->run_id, c.n_routes,
	    derive_row, &c, err) != 0 || flush_batch(&c, err) != 0 ||
	    (w->settings.context == ORACLE_GREEDY &&
	    (greedy_shuffled(&c, err) != 0 || flush_batch(&c, err) != 0))) {
		store_complete_abort(w->store);
		goto done;
	}
	status = store_complete_run(w->store, w->run_id, w->req->tables,
	    c.n_routes, err);
done:
	free(c.sums);
	free(c.fixed);
	free(c.random_best);
	free(c.oracle);
	free(c.order);
	free(c.batch);
	free(c.arena);
	return status;
}

/*
 * Analyse and write the windows of w from first_window, then complete the
 * run.  A failure after the run's row is written marks it stopped and
 * says how to continue it.
 */
static int
windowed_run(struct windowed *w, size_t first_window, struct duo_error *err)
{
	size_t W = text_window_count(w->tokens->n, w->model->config.n_ctx);
	size_t per = (size_t)w->model->config.n_ctx - 1, i;
	double base = w->span.offset, scale = w->span.scale, left;
	struct duo_error why;
	char command[700];
	int status = 0;

	/* the progress is of the windows this call analyses */
	left = first_window * per < w->tokens->n ? (double)(w->tokens->n -
	    first_window * per) : 1.0;
	for (i = first_window; i < W && status == 0; i++) {
		w->span.offset = base + scale * (double)((i - first_window) *
		    per) / left;
		w->span.scale = scale * (double)((i + 1) * per <
		    w->tokens->n ? per : w->tokens->n - i * per) / left;
		status = windowed_window(w, i, err);
	}
	/* every window was stored before this process began: one window
	 * again, unstored, for the budgets and random routes */
	if (status == 0 && !w->have_first) {
		struct oracle_settings quiet = w->settings;

		quiet.progress = NULL;
		if (oracle_run(w->model, w->tokens->ids, w->tokens->n < per ?
		    w->tokens->n : per, tokenizer_bos(w->model->tokenizer),
		    &quiet, &w->first, err) != 0)
			status = -1;
		else {
			w->have_first = 1;
			if (w->settings_json == NULL)
				status = windowed_header(w, &w->first, err);
			if (status == 0 && w->stored_settings != NULL)
				status = windowed_same_settings(w, err);
		}
	}
	if (status == 0)
		status = windowed_complete(w, err);
	if (status == 0 || w->run_id == 0)
		return status;
	why = *err;
	if (w->req->discard_incomplete && why.code == DUO_ERROR_CANCELLED) {
		store_delete_run(w->store, w->run_id, err);
		*err = why;
		w->run_id = 0;
		return -1;
	}
	store_stop_run(w->store, w->run_id, err);
	store_resume_command(store_path(w->store), w->run_id, command,
	    sizeof command);
	error_set(err, "run %lld stopped: %s; what is done is stored, "
	    "continue it with: %s", (long long)w->run_id, why.message,
	    command);
	err->code = why.code == DUO_ERROR_CANCELLED ? DUO_ERROR_CANCELLED :
	    DUO_ERROR_INCOMPLETE;
	return -1;
}

static void
windowed_free(struct windowed *w)
{
	free(w->settings_json);
	free(w->context_text);
	oracle_result_free(&w->first);
}

/* The progress of a run with a null control: the run's work is the first
 * half, the control's the second. */
struct halves {
	oracle_progress_fn fn;
	void *arg;
	double offset, route_tokens;    /* of the halves before */
};

static void
half_progress(void *arg, double fraction, double route_tokens)
{
	struct halves *h = arg;

	h->fn(h->arg, h->offset + fraction / 2.0, h->route_tokens +
	    route_tokens);
}

/*
 * Analyse tokens with model and make the run's records in out (whose
 * tokens are given); sha256 and null_seed are the null model's for a
 * control (null_seed NULL for the real run).
 */
static int
analyse(const struct duo_model *model, const struct analysis_request *req,
    const struct oracle_settings *settings, const struct text_tokens *tokens,
    const char *sha256, const uint64_t *null_seed, struct analysis *out,
    struct duo_error *err)
{
	struct run_record *run = &out->run;
	int L = model->config.n_layer, n_threads = settings->n_threads;
	size_t n_results = 0;

	if (oracle_run(model, tokens->ids, tokens->n,
	    tokenizer_bos(model->tokenizer), settings, &out->result,
	    err) != 0)
		return -1;
#ifdef _OPENMP
	if (n_threads <= 0)
		n_threads = omp_get_max_threads();
#else
	n_threads = 1;
#endif
	out->token_records = make_tokens(model, tokens);
	out->results = analysis_make_results(&out->result, &n_results,
	    &out->arena);
	out->settings_json = settings_json(settings, &out->result, n_threads,
	    req->tables, null_seed, req->extra_settings, null_seed == NULL &&
	    req->null_control ? &req->null_seed : NULL);
	if (settings->context == ORACLE_FIXED)
		out->context_text = malloc((size_t)L + 1);
	if (out->token_records == NULL || out->results == NULL ||
	    out->settings_json == NULL || (settings->context == ORACLE_FIXED &&
	    out->context_text == NULL))
		return error_set(err, "out of memory for the run's records");
	if (settings->context == ORACLE_FIXED) {
		if (settings->context_route != NULL)
			route_format(settings->context_route, L,
			    out->context_text);
		else {
			memset(out->context_text, 'B', (size_t)L);
			out->context_text[L] = '\0';
		}
	}
	memcpy(run->model.sha256, sha256, sizeof run->model.sha256);
	run->model.path = req->model_path;
	run->model.name = model->name;
	run->model.n_layer = L;
	run->model.d_model = model->config.d_model;
	run->model.n_head = model->config.n_head;
	run->model.d_ff = model->config.d_ff;
	run->model.d_ff_small = model->config.d_ff_small;
	run->model.n_vocab = model->config.n_vocab;
	run->model.n_ctx = model->config.n_ctx;
	run->label = req->label;
	run->source = req->source;
	run->text = req->text;
	run->text_length = req->length;
	/* settings may be a copy that does not outlive the call */
	snprintf(out->space, sizeof out->space, "%s", settings->space.name);
	run->space = out->space;
	run->context = oracle_context_name(settings->context);
	run->context_route = out->context_text;
	run->settings = out->settings_json;
	run->seconds = out->result.seconds;
	run->approximate = out->result.approximate;
	run->beam_width = out->result.beam_width;
	run->n_tokens = tokens->n;
	run->tokens = out->token_records;
	run->results = out->results;
	run->n_results = n_results;
	/* with --losses none the tables are the analysis's only */
	run->tables = req->tables;
	if (req->tables != STORE_TABLES_NONE) {
		run->route_losses = out->result.tables;
		run->route_kl = out->result.kl_tables;
	}
	run->routers_soft = settings->n_routers > 0 &&
	    settings->router_mode == ROUTER_SOFT;
	run->corpus = req->corpus;
	out->seconds = out->result.seconds;
	return 0;
}

/* The null control of req's run in out->control, progress in its half. */
static int
analyse_control(const struct duo_model *model,
    const struct analysis_request *req, struct halves *halves,
    struct analysis *out, struct duo_error *err)
{
	struct oracle_settings settings = req->settings;
	struct duo_model null;
	char sha[SHA256_HEX_SIZE];
	int status;

	if ((out->control = calloc(1, sizeof *out->control)) == NULL)
		return error_set(err, "out of memory");
	if (analysis_null_model(model, req->null_seed, &null, sha, err) != 0)
		return -1;
	settings.routers = NULL;
	settings.n_routers = 0;
	if (settings.progress != NULL) {
		halves->offset = 0.5;
		halves->route_tokens = out->result.route_tokens;
	}
	status = analyse(&null, req, &settings, &out->tokens, sha,
	    &req->null_seed, out->control, err);
	/* the records point into the tokenizer, the model's, and to the
	 * name, kept here: nothing of the null model outlives it */
	out->control->model_name = null.name;
	out->control->run.model.name = null.name;
	null.name = NULL;
	analysis_null_model_free(&null);
	if (status == 0 && req->label != NULL) {
		size_t n = strlen(req->label) + 32;

		if ((out->control->label = malloc(n)) == NULL)
			return error_set(err, "out of memory");
		snprintf(out->control->label, n, "%s (null control)",
		    req->label);
		out->control->run.label = out->control->label;
	}
	return status;
}

/* Store the null control of the stored run out->run_id; on failure it is
 * kept in a side file, and the message says that the run is stored. */
static int
store_control(struct store *store, struct analysis *out,
    struct duo_error *err)
{
	struct duo_error why;
	char message[sizeof err->message];

	out->control->run.control_of = out->run_id;
	if (store_write_run(store, &out->control->run, &out->control->run_id,
	    err) == 0)
		return 0;
	keep_unstored_run(store, &out->control->run, err);
	why = *err;
	snprintf(message, sizeof message, "%s", why.message);
	error_set(err, "run %lld is stored, its null control is not: %s",
	    (long long)out->run_id, message);
	err->code = why.code;
	return -1;
}

/* A windowed analysis of tokens with model into store; *run_id is the
 * run to continue from first_window, or 0 for a new one. */
static int
windowed_analyse(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, const struct oracle_settings *settings,
    const struct text_tokens *tokens, const char *sha,
    const uint64_t *null_seed, int64_t control_of, double offset,
    double scale, int64_t *run_id, const char *stored_settings,
    size_t first_window, double *seconds, struct duo_error *err)
{
	struct windowed w;
	double start = wall_clock();
	int status;

	memset(&w, 0, sizeof w);
	w.store = store;
	w.model = model;
	w.req = req;
	w.settings = *settings;
	w.tokens = tokens;
	w.null_seed = null_seed;
	w.control_of = control_of;
	w.run_id = *run_id;
	w.stored_settings = stored_settings;
	w.L = model->config.n_layer;
	memcpy(w.sha, sha, sizeof w.sha);
	w.span.fn = settings->progress;
	w.span.arg = settings->progress_arg;
	w.span.offset = offset;
	w.span.scale = scale;
	status = windowed_run(&w, first_window, err);
	*run_id = w.run_id;
	windowed_free(&w);
	if (seconds != NULL)
		*seconds = wall_clock() - start;
	return status;
}

/* The null model of req and its run's settings (no routers). */
static int
control_model(const struct duo_model *model,
    const struct analysis_request *req, struct duo_model *null,
    char sha[SHA256_HEX_SIZE], struct oracle_settings *settings,
    struct duo_error *err)
{
	if (analysis_null_model(model, req->null_seed, null, sha, err) != 0)
		return -1;
	*settings = req->settings;
	settings->routers = NULL;
	settings->n_routers = 0;
	return 0;
}

/* The null control of run_id, written window by window: a new one, or
 * control_id's continued. */
static int
windowed_control(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, const struct text_tokens *tokens,
    int64_t run_id, int64_t *control_id, const char *stored_settings,
    size_t first_window, double offset, double *seconds,
    struct duo_error *err)
{
	struct analysis_request control = *req;
	struct oracle_settings settings;
	struct duo_model null;
	char sha[SHA256_HEX_SIZE], *label = NULL;
	size_t n;
	int status;

	if (control_model(model, req, &null, sha, &settings, err) != 0)
		return -1;
	if (req->label != NULL) {
		n = strlen(req->label) + 32;
		if ((label = malloc(n)) == NULL) {
			analysis_null_model_free(&null);
			return error_set(err, "out of memory");
		}
		snprintf(label, n, "%s (null control)", req->label);
		control.label = label;
	}
	control.null_control = 0;
	status = windowed_analyse(store, &null, &control, &settings, tokens,
	    sha, &req->null_seed, run_id, offset, 1.0 - offset, control_id,
	    stored_settings, first_window, seconds, err);
	free(label);
	analysis_null_model_free(&null);
	return status;
}

int
analysis_run(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, struct analysis *out,
    struct duo_error *err)
{
	struct analysis_request split = *req;
	struct halves halves = { req->settings.progress,
	    req->settings.progress_arg, 0.0, 0.0 };
	char sha[SHA256_HEX_SIZE];
	double seconds = 0.0;

	memset(out, 0, sizeof *out);
	if (req->tokens != NULL) {
		out->tokens = *req->tokens;
		memset(req->tokens, 0, sizeof *req->tokens);
	} else if (text_tokenize(&out->tokens, model->tokenizer, req->text,
	    req->length, req->input_name, err) != 0)
		return -1;
	if (check_room(store, model, req, out->tokens.n, err) != 0)
		goto fail;
	memcpy(sha, req->model_sha256, sizeof sha);
	if (analysis_windowed(model, &req->settings)) {
		out->windowed = 1;
		if (windowed_analyse(store, model, req, &req->settings,
		    &out->tokens, sha, NULL, 0, 0.0, req->null_control ? 0.5 :
		    1.0, &out->run_id, NULL, 0, &out->seconds, err) != 0)
			goto fail;
		if (!req->null_control)
			return 0;
		if ((out->control = calloc(1, sizeof *out->control)) == NULL) {
			error_set(err, "out of memory");
			goto fail;
		}
		out->control->windowed = 1;
		if (windowed_control(store, model, req, &out->tokens,
		    out->run_id, &out->control->run_id, NULL, 0, 0.5,
		    &seconds, err) != 0) {
			struct duo_error why = *err;

			error_set(err, "run %lld is stored, its null control "
			    "is not: %s", (long long)out->run_id, why.message);
			err->code = why.code;
			goto fail;
		}
		out->control->seconds = seconds;
		return 0;
	}
	/* with a control, each analysis reports half of the progress */
	if (req->null_control && req->settings.progress != NULL) {
		split.settings.progress = half_progress;
		split.settings.progress_arg = &halves;
	}
	if (analyse(model, req, &split.settings, &out->tokens, sha, NULL, out,
	    err) != 0)
		goto fail;
	if (req->null_control && analyse_control(model, &split, &halves, out,
	    err) != 0)
		goto fail;

	test_pause_before_write();
	if (store_write_run(store, &out->run, &out->run_id, err) != 0) {
		keep_unstored_run(store, &out->run, err);
		goto fail;
	}
	if (out->control != NULL && store_control(store, out, err) != 0)
		goto fail;
	return 0;
fail:
	analysis_free(out);
	return -1;
}

int
analysis_resume(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, const struct run_info *info,
    struct analysis *out, struct duo_error *err)
{
	struct run_info control;
	struct duo_model null;
	struct oracle_settings settings;
	char sha[SHA256_HEX_SIZE];
	size_t per = (size_t)model->config.n_ctx - 1;
	int64_t control_id = 0;
	int found;

	memset(out, 0, sizeof *out);
	out->windowed = 1;
	if (!analysis_windowed(model, &req->settings))
		return error_set(err, "run %lld is not one that is written "
		    "window by window", (long long)info->id);
	if (text_tokenize(&out->tokens, model->tokenizer, req->text,
	    req->length, req->input_name, err) != 0)
		return -1;
	if ((int64_t)out->tokens.n != info->n_tokens) {
		error_set(err, "run %lld: its text is %zu tokens now, %lld "
		    "when it was begun", (long long)info->id, out->tokens.n,
		    (long long)info->n_tokens);
		goto fail;
	}
	/* the windows continue where the stored ones end, or would
	 * collide with rows already there */
	if (info->status != RUN_COMPLETE && store_check_resumable(store, info,
	    (int64_t)per, err) != 0)
		goto fail;
	if (info->control_of != 0) {
		/* a control's model is the null model of its seed */
		if (control_model(model, req, &null, sha, &settings, err) != 0)
			goto fail;
		analysis_null_model_free(&null);
		if (strcmp(sha, info->model_sha256) != 0) {
			error_set(err, "run %lld is the null control (seed "
			    "%llu) of another model than %s", (long long)
			    info->id, (unsigned long long)req->null_seed,
			    req->model_path);
			goto fail;
		}
		out->run_id = info->control_of;
		control_id = info->id;
		if (windowed_control(store, model, req, &out->tokens,
		    info->control_of, &control_id, info->settings,
		    (size_t)info->tokens_done / per, 0.0, &out->seconds,
		    err) != 0)
			goto fail;
		out->run_id = control_id;
		return 0;
	}
	if (strcmp(req->model_sha256, info->model_sha256) != 0) {
		error_set(err, "run %lld was made with the model of sha256 "
		    "%.12s..., not %s (%.12s...): give its file with -m",
		    (long long)info->id, info->model_sha256, req->model_path,
		    req->model_sha256);
		goto fail;
	}
	out->run_id = info->id;
	if (info->status != RUN_COMPLETE && windowed_analyse(store, model, req,
	    &req->settings, &out->tokens, req->model_sha256, NULL, 0, 0.0,
	    req->null_control ? 0.5 : 1.0, &out->run_id, info->settings,
	    (size_t)info->tokens_done / per, &out->seconds, err) != 0)
		goto fail;
	if (!req->null_control)
		return 0;
	/* and its null control: begun, continued, or already complete */
	found = store_find_control(store, info->id, &control_id, err);
	if (found < 0)
		goto fail;
	if ((out->control = calloc(1, sizeof *out->control)) == NULL) {
		error_set(err, "out of memory");
		goto fail;
	}
	out->control->windowed = 1;
	memset(&control, 0, sizeof control);
	if (found == 0 && store_get_run(store, control_id, &control, NULL,
	    NULL, err) != 0)
		goto fail;
	if (found == 1 || control.status != RUN_COMPLETE) {
		if (found == 1)
			control_id = 0;
		/* the control's progress is all of it when the run was
		 * complete before, else the second half */
		if (windowed_control(store, model, req, &out->tokens,
		    info->id, &control_id, found == 0 ? control.settings :
		    NULL, found == 0 ? (size_t)control.tokens_done / per : 0,
		    info->status == RUN_COMPLETE ? 0.0 : 0.5,
		    &out->control->seconds, err) != 0) {
			store_free_run_info(&control);
			goto fail;
		}
	}
	store_free_run_info(&control);
	out->control->run_id = control_id;
	return 0;
fail:
	analysis_free(out);
	return -1;
}
