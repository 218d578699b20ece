/*
 * shard.c - shards of a text and their join (shard.h).
 */
#include "shard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "array.h"
#include "derive.h"
#include "names.h"
#include "oracle.h"
#include "route.h"

/* The settings members that place a shard in its text: removed from the
 * joined run's settings, so that they are a whole run's. */
static const char *const shard_members[] = {
	"$.shard", "$.shard_windows", "$.shard_first_pos",
	"$.shard_first_byte", "$.text_windows", "$.text_tokens",
	"$.text_bytes", "$.text_sha256",
};
#define N_SHARD_MEMBERS \
	(int)(sizeof shard_members / sizeof shard_members[0])

/* A whole number of text without sign or other characters. */
static int
parse_count(const char *text, unsigned long long *value)
{
	char *end;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	*value = strtoull(text, &end, 10);
	return *end != '\0' || errno != 0 ? -1 : 0;
}

int
shard_parse(const char *text, struct shard_spec *spec, struct duo_error *err)
{
	unsigned long long i, n;
	const char *slash = strchr(text, '/');
	char index[32];

	if (slash == NULL || (size_t)(slash - text) >= sizeof index)
		return error_set(err, "'%s' is not I/N, shard I of N", text);
	memcpy(index, text, (size_t)(slash - text));
	index[slash - text] = '\0';
	if (parse_count(index, &i) != 0 || parse_count(slash + 1, &n) != 0)
		return error_set(err, "'%s' is not I/N, shard I of N", text);
	if (n < 1 || n > 1000000)
		return error_set(err, "'%s': N is not 1 to 1000000", text);
	if (i < 1 || i > n)
		return error_set(err, "'%s': I is not 1 to N (%llu)", text, n);
	spec->index = (int)i;
	spec->count = (int)n;
	return 0;
}

int
shard_slice(const struct shard_spec *spec, const struct text_tokens *all,
    size_t length, int n_ctx, struct shard_slice *slice,
    struct duo_error *err)
{
	size_t per_window = (size_t)n_ctx - 1, W;
	size_t I = (size_t)spec->index, N = (size_t)spec->count;

	W = text_window_count(all->n, n_ctx);
	if (W < N)
		return error_set(err, "shard %d/%d: the text has %zu window%s "
		    "of %zu tokens, fewer than %d shards", spec->index,
		    spec->count, W, W == 1 ? "" : "s", per_window, spec->count);
	slice->n_windows = W;
	slice->first_window = (I - 1) * W / N;
	slice->end_window = I * W / N;
	slice->token_start = slice->first_window * per_window;
	slice->token_end = slice->end_window * per_window < all->n ?
	    slice->end_window * per_window : all->n;
	/* the first and last shards take the bytes before the first token
	 * and after the last, so that the slices make the whole text */
	slice->byte_start = I == 1 ? 0 : all->offsets[slice->token_start];
	slice->byte_end = I == N ? length : all->offsets[slice->token_end];
	return 0;
}

int
shard_tokens(const struct text_tokens *all, const struct shard_slice *slice,
    struct text_tokens *out, struct duo_error *err)
{
	size_t n = slice->token_end - slice->token_start, i;

	out->n = n;
	out->ids = array_new(n, sizeof *out->ids);
	out->offsets = array_new(n + 1, sizeof *out->offsets);
	if (out->ids == NULL || out->offsets == NULL) {
		text_tokens_free(out);
		return error_set(err, "out of memory");
	}
	memcpy(out->ids, all->ids + slice->token_start, n * sizeof *out->ids);
	for (i = 0; i <= n; i++)
		out->offsets[i] = all->offsets[slice->token_start + i] -
		    slice->byte_start;
	return 0;
}

char *
shard_settings(const struct shard_spec *spec, const struct shard_slice *slice,
    size_t n_tokens, size_t length, const char *text_sha256)
{
	char *json = malloc(512);

	if (json == NULL)
		return NULL;
	snprintf(json, 512, ",\"shard\":\"%d/%d\",\"shard_windows\":[%zu,%zu],"
	    "\"shard_first_pos\":%zu,\"shard_first_byte\":%zu,"
	    "\"text_windows\":%zu,\"text_tokens\":%zu,\"text_bytes\":%zu,"
	    "\"text_sha256\":\"%s\"", spec->index, spec->count,
	    slice->first_window, slice->end_window - 1, slice->token_start + 1,
	    slice->byte_start, slice->n_windows, n_tokens, length,
	    text_sha256);
	return json;
}

/* ---- the join ----------------------------------------------------------- */

/* One shard run of an input, as its settings place it. */
struct shard_run {
	const char *path;               /* its database */
	struct store *store;            /* open read-only, shared by the
					   runs of one input */
	const struct run_info *info;
	struct shard_spec spec;
	unsigned long long first_window, last_window, n_windows;
	unsigned long long first_pos, first_byte, text_tokens, text_bytes;
	char *text_sha256;
	char *settings;                 /* without the shard members */
	char *same;                     /* ... and without threads: what
					   every shard must have alike */
	struct run_data data;
	int loaded;
};

/* Everything a join holds. */
struct join {
	struct store **stores;          /* [n_inputs] */
	struct run_info **infos;        /* [n_inputs] */
	size_t *n_infos;
	int n_inputs;
	struct shard_run *shards;       /* [n_shards], by index once sorted */
	size_t n_shards;
	int L;
	struct route_space space;
	uint64_t n_routes;
	size_t n_tokens;
	char *text;
	struct token_record *tokens;
	float *tables, *kl_tables;
	struct oracle_result derived;   /* the recomputed methods */
	struct oracle_method *oracle;   /* [n_budgets] joined oracle@k */
	struct result_record *results;
	size_t n_results;
	struct result_record *derived_results;
	char *derived_arena;
};

/* "a.db: run 3 (shard 2/4)": where a message about a shard points. */
static const char *
where(const struct shard_run *s, char *out, size_t size)
{
	snprintf(out, size, "%s: run %" PRId64 " (shard %d/%d)", s->path,
	    s->info->id, s->spec.index, s->spec.count);
	return out;
}

/* A whole number of the settings at path into *value. */
static int
settings_count(struct shard_run *s, const char *path,
    unsigned long long *value, struct duo_error *err)
{
	char *text, at[600];
	int rc;

	rc = store_json_get(s->store, s->info->settings, path, &text, err);
	if (rc < 0)
		return -1;
	if (rc == 0 && parse_count(text, value) == 0) {
		free(text);
		return 0;
	}
	free(text);
	return error_set(err, "%s: its settings have no whole number %s",
	    where(s, at, sizeof at), path + 2);
}

/* The shard's place in its text from its settings. */
static int
read_shard(struct shard_run *s, struct duo_error *err)
{
	char *text = NULL, at[600];
	char **windows = NULL;
	size_t n_windows = 0;
	int rc;

	rc = store_json_get(s->store, s->info->settings, "$.shard", &text,
	    err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return error_set(err, "%s: run %" PRId64 " is not a shard "
		    "(duo run --shard makes them; duo merge without "
		    "--join-shards copies whole runs)", s->path, s->info->id);
	rc = shard_parse(text, &s->spec, err);
	free(text);
	if (rc != 0)
		return error_set(err, "%s: run %" PRId64 ": its shard %s",
		    s->path, s->info->id, err->message);
	if (store_json_array(s->store, s->info->settings, "$.shard_windows",
	    &windows, &n_windows, err) != 0)
		return -1;
	rc = n_windows == 2 && parse_count(windows[0], &s->first_window) ==
	    0 && parse_count(windows[1], &s->last_window) == 0 &&
	    s->first_window <= s->last_window ? 0 : -1;
	store_json_free_array(windows, n_windows);
	if (rc != 0)
		return error_set(err, "%s: its shard_windows are not two "
		    "window numbers", where(s, at, sizeof at));
	if (settings_count(s, "$.shard_first_pos", &s->first_pos, err) != 0 ||
	    settings_count(s, "$.shard_first_byte", &s->first_byte,
	    err) != 0 ||
	    settings_count(s, "$.text_windows", &s->n_windows, err) != 0 ||
	    settings_count(s, "$.text_tokens", &s->text_tokens, err) != 0 ||
	    settings_count(s, "$.text_bytes", &s->text_bytes, err) != 0)
		return -1;
	rc = store_json_get(s->store, s->info->settings, "$.text_sha256",
	    &s->text_sha256, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || strlen(s->text_sha256) != SHA256_HEX_SIZE - 1)
		return error_set(err, "%s: its settings have no text_sha256",
		    where(s, at, sizeof at));
	return 0;
}

/* The shard's settings without its own members, and without threads. */
static int
read_settings(struct shard_run *s, struct duo_error *err)
{
	static const char *const threads[] = { "$.threads" };

	if (store_json_remove(s->store, s->info->settings, shard_members,
	    N_SHARD_MEMBERS, &s->settings, err) != 0 ||
	    store_json_remove(s->store, s->settings, threads, 1, &s->same,
	    err) != 0)
		return -1;
	return 0;
}

/* Open every input and read its runs as shards. */
static int
read_inputs(struct join *j, const char *const *inputs,
    struct duo_error *err)
{
	struct shard_run *s;
	size_t total = 0, r;
	int i;

	j->stores = calloc((size_t)j->n_inputs, sizeof *j->stores);
	j->infos = calloc((size_t)j->n_inputs, sizeof *j->infos);
	j->n_infos = calloc((size_t)j->n_inputs, sizeof *j->n_infos);
	if (j->stores == NULL || j->infos == NULL || j->n_infos == NULL)
		return error_set(err, "out of memory");
	for (i = 0; i < j->n_inputs; i++) {
		if (store_open(&j->stores[i], inputs[i], STORE_READONLY,
		    err) != 0 || store_list_runs(j->stores[i], &j->infos[i],
		    &j->n_infos[i], err) != 0)
			return -1;
		if (j->n_infos[i] == 0)
			return error_set(err, "%s: has no runs", inputs[i]);
		total += j->n_infos[i];
	}
	j->shards = calloc(total, sizeof *j->shards);
	if (j->shards == NULL)
		return error_set(err, "out of memory");
	for (i = 0; i < j->n_inputs; i++)
		for (r = 0; r < j->n_infos[i]; r++) {
			s = &j->shards[j->n_shards++];
			s->path = inputs[i];
			s->store = j->stores[i];
			s->info = &j->infos[i][r];
			if (s->info->damage[0] != '\0')
				return error_set(err, "%s: %s", s->path,
				    s->info->damage);
			/* a shard that is not complete lacks windows
			 * and the loss tables the join reads */
			if (s->info->status != RUN_COMPLETE)
				return store_incomplete(s->store, s->info,
				    err);
			if (read_shard(s, err) != 0 ||
			    read_settings(s, err) != 0)
				return -1;
		}
	return 0;
}

static int
by_index(const void *a, const void *b)
{
	const struct shard_run *x = a, *y = b;

	return (x->spec.index > y->spec.index) -
	    (x->spec.index < y->spec.index);
}

/* Two shards of one run: the same model, text, space, context and
 * settings but for threads and their own place. */
static int
same_run(const struct shard_run *a, const struct shard_run *b)
{
	const struct run_info *x = a->info, *y = b->info;

	return strcmp(x->model_sha256, y->model_sha256) == 0 &&
	    strcmp(x->space, y->space) == 0 &&
	    strcmp(x->context, y->context) == 0 &&
	    (x->context_route == NULL) == (y->context_route == NULL) &&
	    (x->context_route == NULL ||
	    strcmp(x->context_route, y->context_route) == 0) &&
	    strcmp(a->same, b->same) == 0 &&
	    strcmp(a->text_sha256, b->text_sha256) == 0 &&
	    a->spec.count == b->spec.count &&
	    a->n_windows == b->n_windows &&
	    a->text_tokens == b->text_tokens &&
	    a->text_bytes == b->text_bytes;
}

/* A run whose results the loss tables cannot complete. */
static int
check_joinable(const struct shard_run *s, struct duo_error *err)
{
	char at[600];

	if (s->info->approximate)
		return error_set(err, "%s is a beam search run, which keeps no "
		    "loss tables; a join recomputes fixed, random_best, "
		    "random_mean and shuffled over the whole text from them",
		    where(s, at, sizeof at));
	if (strcmp(s->info->context, "greedy") == 0)
		return error_set(err, "%s is a greedy run, whose shuffled "
		    "method is scored in its own context, not read from the "
		    "loss tables; greedy shards cannot be joined",
		    where(s, at, sizeof at));
	return 0;
}

/* Every shard once, of one run, their windows and tokens end to end. */
static int
check_shards(struct join *j, struct duo_error *err)
{
	struct shard_run *s, *first = &j->shards[0];
	unsigned long long next_window = 0, next_pos = 1, per_window;
	char at[600], at2[600];
	size_t i;

	for (i = 0; i < j->n_shards; i++) {
		s = &j->shards[i];
		if (!same_run(first, s))
			return error_set(err, "%s is not a shard of the same "
			    "run as %s: another model, text, shard count or "
			    "settings", where(s, at, sizeof at),
			    where(first, at2, sizeof at2));
	}
	qsort(j->shards, j->n_shards, sizeof *j->shards, by_index);
	first = &j->shards[0];
	per_window = (unsigned long long)first->info->n_ctx - 1;
	for (i = 0; i < j->n_shards; i++) {
		s = &j->shards[i];
		if (i > 0 && s->spec.index == s[-1].spec.index)
			return error_set(err, "shard %d/%d is given twice: %s "
			    "and %s", s->spec.index, s->spec.count,
			    where(&s[-1], at, sizeof at),
			    where(s, at2, sizeof at2));
		if (s->spec.index != (int)i + 1)
			return error_set(err, "shard %zu/%d of %s is missing",
			    i + 1, s->spec.count, first->info->source);
		if (check_joinable(s, err) != 0)
			return -1;
		if (s->first_window != next_window)
			return error_set(err, "%s starts at window %llu, not "
			    "at %llu where the shard before it ends: the "
			    "shards %s", where(s, at, sizeof at),
			    s->first_window, next_window,
			    s->first_window < next_window ? "overlap" :
			    "leave a gap");
		if (s->first_pos != next_pos ||
		    s->first_pos - 1 != s->first_window * per_window)
			return error_set(err, "%s starts at position %llu, not "
			    "at %llu", where(s, at, sizeof at), s->first_pos,
			    next_pos);
		next_window = s->last_window + 1;
		next_pos = s->first_pos + (unsigned long long)s->info->n_tokens;
	}
	s = &j->shards[j->n_shards - 1];
	if ((int)j->n_shards != first->spec.count)
		return error_set(err, "shard %zu/%d of %s is missing",
		    j->n_shards + 1, first->spec.count, first->info->source);
	if (next_window != s->n_windows || next_pos != s->text_tokens + 1)
		return error_set(err, "%s ends at window %llu and position "
		    "%llu, but the text has %llu windows and %llu tokens",
		    where(s, at, sizeof at), next_window - 1, next_pos - 1,
		    s->n_windows, s->text_tokens);
	return 0;
}

/* The joined text, byte for byte the one the shards were cut from. */
static int
join_text(struct join *j, struct duo_error *err)
{
	const struct shard_run *first = &j->shards[0];
	struct sha256 ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE], at[600];
	size_t used = 0, i;

	j->text = malloc(first->text_bytes + 1);
	if (j->text == NULL)
		return error_set(err, "out of memory for the text");
	for (i = 0; i < j->n_shards; i++) {
		const struct shard_run *s = &j->shards[i];

		if (s->first_byte != used || s->data.text_length >
		    first->text_bytes - used)
			return error_set(err, "%s: its text does not follow "
			    "the shard before it at byte %zu",
			    where(s, at, sizeof at), used);
		memcpy(j->text + used, s->data.text, s->data.text_length);
		used += s->data.text_length;
	}
	j->text[used] = '\0';
	sha256_init(&ctx);
	sha256_update(&ctx, j->text, used);
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
	if (used != first->text_bytes || strcmp(hex, first->text_sha256) != 0)
		return error_set(err, "the shards' texts together are not the "
		    "text they were cut from (sha256 %.12s..., not %.12s...)",
		    hex, first->text_sha256);
	return 0;
}

/* Load every shard, then join their tokens and loss tables. */
static int
join_rows(struct join *j, struct duo_error *err)
{
	struct shard_run *s;
	size_t i, p, at_token = 0, table_bytes;
	float *row;
	char at[600];
	int rc;

	j->n_tokens = (size_t)j->shards[0].text_tokens;
	if (j->n_routes > ORACLE_MAX_TABLE_BYTES / 8 / (j->n_tokens + 1))
		return error_set(err, "the joined loss and KL tables of %zu "
		    "tokens would take more than %.1f GiB", j->n_tokens,
		    (double)ORACLE_MAX_TABLE_BYTES / 1073741824.0);
	table_bytes = j->n_tokens * (size_t)j->n_routes;
	j->tokens = calloc(j->n_tokens + 1, sizeof *j->tokens);
	j->tables = array_new(table_bytes, sizeof *j->tables);
	j->kl_tables = array_new(table_bytes, sizeof *j->kl_tables);
	if (j->tokens == NULL || j->tables == NULL || j->kl_tables == NULL)
		return error_set(err, "out of memory for the joined run");
	for (i = 0; i < j->n_shards; i++) {
		s = &j->shards[i];
		if (store_load_run(s->store, s->info->id, &s->data, err) != 0)
			return -1;
		s->loaded = 1;
		if (i == 0)
			j->tokens[0] = s->data.tokens[0];
		for (p = 1; p <= s->data.n_tokens; p++) {
			j->tokens[at_token + p] = s->data.tokens[p];
			j->tokens[at_token + p].byte_start += s->first_byte;
			j->tokens[at_token + p].byte_end += s->first_byte;
			row = j->tables + (at_token + p - 1) * j->n_routes;
			rc = store_load_route_losses(s->store, s->info->id,
			    (int)p, row, j->n_routes, err);
			if (rc < 0)
				return -1;
			if (rc == 1)
				return error_set(err, "%s keeps no loss table "
				    "at position %zu; a join recomputes fixed, "
				    "random_best, random_mean and shuffled "
				    "over the whole text from them",
				    where(s, at, sizeof at), p);
			rc = j->kl_tables == NULL ? 1 : store_load_route_kl(
			    s->store, s->info->id, (int)p, j->kl_tables +
			    (at_token + p - 1) * j->n_routes, j->n_routes,
			    err);
			if (rc < 0)
				return -1;
			/* a run keeps KL tables at every position or at
			 * none: one missing, none is kept */
			if (rc == 1) {
				free(j->kl_tables);
				j->kl_tables = NULL;
			}
		}
		at_token += s->data.n_tokens;
	}
	return join_text(j, err);
}

/* The budgets of the run and the random routes of each, as its settings
 * list them, into the result that derive.h fills. */
static int
read_budgets(struct join *j, struct duo_error *err)
{
	struct shard_run *s = &j->shards[0];
	struct oracle_result *d = &j->derived;
	unsigned long long value;
	char **items = NULL, path[64], at[600];
	size_t n = 0, i;
	uint8_t *route = NULL;
	int b, status = -1;

	if (settings_count(s, "$.n_random", &value, err) != 0)
		return -1;
	if (value < 1 || value > 1000000)
		return error_set(err, "%s: n_random is not 1 to 1000000",
		    where(s, at, sizeof at));
	d->n_random = (int)value;
	if (store_json_array(s->store, s->settings, "$.budgets", &items, &n,
	    err) != 0)
		return -1;
	d->budgets = array_new(n, sizeof *d->budgets);
	d->n_random_per_budget = array_new(n, sizeof *d->n_random_per_budget);
	d->random_codes = array_new(n * (size_t)d->n_random,
	    sizeof *d->random_codes);
	route = malloc((size_t)j->L);
	if (d->budgets == NULL || d->n_random_per_budget == NULL ||
	    d->random_codes == NULL || route == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++)
		if (parse_count(items[i], &value) != 0 || value > (unsigned)
		    j->L || (i > 0 && (int)value <= d->budgets[i - 1])) {
			error_set(err, "%s: its budgets are not ascending "
			    "numbers 0 to %d", where(s, at, sizeof at), j->L);
			goto done;
		} else
			d->budgets[i] = (int)value;
	d->n_budgets = (int)n;
	store_json_free_array(items, n);
	items = NULL;
	for (b = 0; b < d->n_budgets; b++) {
		snprintf(path, sizeof path, "$.random_routes.\"%d\"",
		    d->budgets[b]);
		if (store_json_array(s->store, s->settings, path, &items, &n,
		    err) != 0)
			goto done;
		if (n < 1 || n > (size_t)d->n_random) {
			error_set(err, "%s: its settings list %zu random routes "
			    "of budget %d, not 1 to %d", where(s, at,
			    sizeof at), n, d->budgets[b], d->n_random);
			goto done;
		}
		for (i = 0; i < n; i++) {
			if (route_parse(items[i], j->L, route, err) != 0 ||
			    route_budget(route, j->L) != d->budgets[b] ||
			    strspn(items[i], j->space.name) != (size_t)j->L) {
				error_set(err, "%s: random route '%.80s' is not "
				    "one of budget %d in the space %s",
				    where(s, at, sizeof at), items[i],
				    d->budgets[b], j->space.name);
				goto done;
			}
			d->random_codes[(size_t)b * (size_t)d->n_random + i] =
			    route_encode(&j->space, route, j->L);
		}
		d->n_random_per_budget[b] = (int)n;
		store_json_free_array(items, n);
		items = NULL;
		n = 0;
	}
	status = 0;
done:
	store_json_free_array(items, n);
	free(route);
	return status;
}

/* Methods the join recomputes over the whole text; the rest are per
 * token and copied. */
static int
recomputed(const char *method)
{
	switch (method_find(method)) {
	case METHOD_BIG:
	case METHOD_SMALL:
	case METHOD_FIXED:
	case METHOD_RANDOM_BEST:
	case METHOD_RANDOM_MEAN:
	case METHOD_SHUFFLED:
		return 1;
	default:
		return 0;
	}
}

/* The per-token results of every shard at their whole-text positions,
 * and oracle@k's routes for the shuffled method. */
static int
copy_results(struct join *j, struct duo_error *err)
{
	const struct oracle_result *d = &j->derived;
	const struct result_record *r;
	struct shard_run *s;
	size_t i, k, total = 0, *filled, token;
	char at[600];
	int b;

	for (i = 0; i < j->n_shards; i++)
		total += j->shards[i].data.n_results;
	/* and the recomputed ones: big, small, four a budget */
	j->results = array_new(total + j->n_tokens * (2 + 4 *
	    (size_t)d->n_budgets), sizeof *j->results);
	j->oracle = calloc((size_t)d->n_budgets + 1, sizeof *j->oracle);
	filled = calloc((size_t)d->n_budgets + 1, sizeof *filled);
	if (j->results == NULL || j->oracle == NULL || filled == NULL) {
		free(filled);
		return error_set(err, "out of memory for the results");
	}
	for (b = 0; b < d->n_budgets; b++) {
		j->oracle[b].name = method_table[METHOD_ORACLE].name;
		j->oracle[b].budget = d->budgets[b];
		j->oracle[b].routes = array_new(j->n_tokens * (size_t)j->L, 1);
		if (j->oracle[b].routes == NULL) {
			free(filled);
			return error_set(err, "out of memory for the results");
		}
	}
	for (i = 0; i < j->n_shards; i++) {
		s = &j->shards[i];
		for (k = 0; k < s->data.n_results; k++) {
			r = &s->data.results[k];
			if (recomputed(r->method))
				continue;
			token = (size_t)s->first_pos - 1 + (size_t)r->pos - 1;
			j->results[j->n_results] = *r;
			j->results[j->n_results++].pos = (int)token + 1;
			if (method_find(r->method) != METHOD_ORACLE)
				continue;
			for (b = 0; b < d->n_budgets &&
			    d->budgets[b] != r->budget; b++)
				;
			if (b == d->n_budgets || r->route == NULL ||
			    route_parse(r->route, j->L, j->oracle[b].routes +
			    token * (size_t)j->L, err) != 0) {
				free(filled);
				return error_set(err, "%s: an oracle result at "
				    "budget %d is not of its settings' "
				    "budgets or has no route",
				    where(s, at, sizeof at), r->budget);
			}
			filled[b]++;
		}
	}
	for (b = 0; b < d->n_budgets; b++)
		if (filled[b] != j->n_tokens) {
			free(filled);
			return error_set(err, "the shards have %zu oracle "
			    "routes at budget %d, not one for each of the "
			    "%zu tokens", filled[b], d->budgets[b],
			    j->n_tokens);
		}
	free(filled);
	return 0;
}

/* fixed, random_best, random_mean, big and small from the joined tables,
 * shuffled from the joined oracle routes: as oracle_run() derives them. */
static int
derive_whole(struct join *j, struct duo_error *err)
{
	struct oracle_result *d = &j->derived;
	struct oracle_method **oracle = NULL, **shuffled = NULL;
	unsigned long long seed;
	uint64_t *codes = NULL, c;
	size_t *order = NULL, n;
	int b, status = -1;

	if (settings_count(&j->shards[0], "$.shuffle_seed", &seed, err) != 0)
		return -1;
	d->methods = calloc(2 + 4 * (size_t)d->n_budgets, sizeof *d->methods);
	codes = array_new((size_t)j->n_routes, sizeof *codes);
	order = array_new(j->n_tokens, sizeof *order);
	oracle = calloc((size_t)d->n_budgets + 1, sizeof *oracle);
	shuffled = calloc((size_t)d->n_budgets + 1, sizeof *shuffled);
	if (d->methods == NULL || codes == NULL || order == NULL ||
	    oracle == NULL || shuffled == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	for (c = 0; c < j->n_routes; c++)
		codes[c] = c;
	if (derive_from_columns(d, &j->space, codes, (size_t)j->n_routes,
	    j->tables, err) != 0)
		goto done;
	for (b = 0; b < d->n_budgets; b++) {
		oracle[b] = &j->oracle[b];
		if ((shuffled[b] = derive_add_method(d, METHOD_SHUFFLED, NULL,
		    d->budgets[b])) == NULL) {
			error_set(err, "out of memory for the results");
			goto done;
		}
	}
	derive_shuffle_order(j->n_tokens, (uint64_t)seed, order);
	derive_shuffled(d, &j->space, oracle, order, j->tables, shuffled);
	j->derived_results = analysis_make_results(d, &n, &j->derived_arena);
	if (j->derived_results == NULL) {
		error_set(err, "out of memory for the results");
		goto done;
	}
	memcpy(j->results + j->n_results, j->derived_results,
	    n * sizeof *j->results);
	j->n_results += n;
	status = 0;
done:
	free(codes);
	free(order);
	free(oracle);
	free(shuffled);
	return status;
}

/* Write the joined run to out: shard 1's model, label and source, every
 * shard's time. */
static int
write_joined(struct join *j, struct store *out, int64_t *run_id,
    struct duo_error *err)
{
	const struct shard_run *first = &j->shards[0];
	const struct run_info *info = first->info;
	struct run_record run;
	char *mode = NULL;
	size_t i;
	int rc;

	memset(&run, 0, sizeof run);
	memcpy(run.model.sha256, info->model_sha256, sizeof run.model.sha256);
	run.model.path = info->model_path;
	run.model.name = info->model_name;
	run.model.n_layer = info->n_layer;
	run.model.d_model = info->d_model;
	run.model.n_head = info->n_head;
	run.model.d_ff = info->d_ff;
	run.model.d_ff_small = info->d_ff_small;
	run.model.n_vocab = info->n_vocab;
	run.model.n_ctx = info->n_ctx;
	run.label = info->label;
	run.source = info->source;
	run.text = j->text;
	run.text_length = (size_t)first->text_bytes;
	run.space = info->space;
	run.context = info->context;
	run.context_route = info->context_route;
	run.settings = first->settings;
	for (i = 0; i < j->n_shards; i++)
		run.seconds += j->shards[i].info->seconds;
	run.n_tokens = j->n_tokens;
	run.tokens = j->tokens;
	run.results = j->results;
	run.n_results = j->n_results;
	run.route_losses = j->tables;
	run.route_kl = j->kl_tables;
	rc = store_json_get(first->store, first->settings, "$.router_mode",
	    &mode, err);
	if (rc < 0)
		return -1;
	run.routers_soft = rc == 0 && strcmp(mode, "soft") == 0;
	free(mode);
	return store_write_run(out, &run, run_id, err);
}

static void
join_free(struct join *j)
{
	size_t i;
	int b;

	for (i = 0; i < j->n_shards; i++) {
		if (j->shards[i].loaded)
			store_free_run(&j->shards[i].data);
		free(j->shards[i].text_sha256);
		free(j->shards[i].settings);
		free(j->shards[i].same);
	}
	for (i = 0; i < (size_t)j->n_inputs; i++) {
		if (j->infos != NULL)
			store_free_runs(j->infos[i], j->n_infos[i]);
		if (j->stores != NULL && j->stores[i] != NULL)
			store_close(j->stores[i]);
	}
	for (b = 0; j->oracle != NULL && b < j->derived.n_budgets; b++)
		free(j->oracle[b].routes);
	free(j->oracle);
	oracle_result_free(&j->derived);
	free(j->shards);
	free(j->stores);
	free(j->infos);
	free(j->n_infos);
	free(j->text);
	free(j->tokens);
	free(j->tables);
	free(j->kl_tables);
	free(j->results);
	free(j->derived_results);
	free(j->derived_arena);
}

int
shard_join(struct store *out, const char *const *inputs, int n_inputs,
    struct shard_join_report *report, struct duo_error *err)
{
	struct join j;
	const struct run_info *info;
	int rc = -1;

	memset(report, 0, sizeof *report);
	memset(&j, 0, sizeof j);
	j.n_inputs = n_inputs;
	if (read_inputs(&j, inputs, err) != 0 || check_shards(&j, err) != 0)
		goto done;
	info = j.shards[0].info;
	j.L = info->n_layer;
	if (route_space_parse(&j.space, info->space, err) != 0)
		goto done;
	j.n_routes = route_space_size(&j.space, j.L);
	j.derived.n_layer = j.L;
	j.derived.n_routes = j.n_routes;
	if (join_rows(&j, err) != 0)
		goto done;
	j.derived.n_tokens = j.n_tokens;
	if (read_budgets(&j, err) != 0 || copy_results(&j, err) != 0 ||
	    derive_whole(&j, err) != 0)
		goto done;
	if ((report->source = strdup(info->source)) == NULL) {
		error_set(err, "out of memory");
		goto done;
	}
	if (write_joined(&j, out, &report->run_id, err) != 0) {
		free(report->source);
		report->source = NULL;
		goto done;
	}
	report->n_shards = (int)j.n_shards;
	report->n_tokens = j.n_tokens;
	rc = 0;
done:
	join_free(&j);
	return rc;
}
