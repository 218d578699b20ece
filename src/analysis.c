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
    enum store_tables tables, const uint64_t *null_seed, const char *extra)
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
	int L = model->config.n_layer;
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
	size.n_tables = plan.keeps_tables && req->tables != STORE_TABLES_NONE ?
	    runs * n_tokens : 0;
	size.table_bytes = (size_t)plan.n_routes * (req->tables ==
	    STORE_TABLES_F16 ? 2 : sizeof(float));
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
	    req->tables, null_seed, req->extra_settings);
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

int
analysis_run(struct store *store, const struct duo_model *model,
    const struct analysis_request *req, struct analysis *out,
    struct duo_error *err)
{
	struct analysis_request split = *req;
	struct halves halves = { req->settings.progress,
	    req->settings.progress_arg, 0.0, 0.0 };
	char sha[SHA256_HEX_SIZE];

	memset(out, 0, sizeof *out);
	if (req->tokens != NULL) {
		out->tokens = *req->tokens;
		memset(req->tokens, 0, sizeof *req->tokens);
	} else if (text_tokenize(&out->tokens, model->tokenizer, req->text,
	    req->length, req->input_name, err) != 0)
		return -1;
	if (check_room(store, model, req, out->tokens.n, err) != 0)
		goto fail;
	/* with a control, each analysis reports half of the progress */
	if (req->null_control && req->settings.progress != NULL) {
		split.settings.progress = half_progress;
		split.settings.progress_arg = &halves;
	}
	memcpy(sha, req->model_sha256, sizeof sha);
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
