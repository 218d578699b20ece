/* synthetic.c - made-up, self-consistent runs (see synthetic.h). */
#include "synthetic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "sha256.h"

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double
uniform(uint64_t *state)
{
	return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

char *
synthetic_read_file(const char *path, size_t *length)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		if (f != NULL)
			fclose(f);
		return NULL;
	}
	data = malloc((size_t)size + 1);
	if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
		free(data);
		fclose(f);
		return NULL;
	}
	fclose(f);
	data[size] = '\0';
	*length = (size_t)size;
	return data;
}

/* Cut text into words, each with the white space before it. */
static size_t
split_words(const char *text, size_t length, size_t *starts, size_t max)
{
	size_t n = 0, i = 0;

	while (i < length && n < max) {
		starts[n++] = i;
		while (i < length && (text[i] == ' ' || text[i] == '\n'))
			i++;
		while (i < length && text[i] != ' ' && text[i] != '\n')
			i++;
	}
	starts[n] = i;
	return n;
}

void
synthetic_run_free(struct synthetic_run *s)
{
	free(s->tokens);
	free(s->results);
	free(s->route_losses);
	free(s->route_kl);
	free(s->routes);
	free(s->methods);
	free(s->pieces);
	memset(s, 0, sizeof *s);
}

/* The code of budget k with the least value in row (ties to the lowest
 * code). */
static size_t
least_of_budget(const float *row, const int *budget_of, size_t R, int k)
{
	size_t c, least = SIZE_MAX;

	for (c = 0; c < R; c++)
		if (budget_of[c] == k && (least == SIZE_MAX ||
		    row[c] < row[least]))
			least = c;
	return least;
}

/*
 * KL tables from the benefits (what a small or skipped layer loses, and a
 * little per code), then oracle_free and shuffled at every budget from
 * row on; returns the rows written.  Draws nothing, so that the other
 * methods are the same with or without these.
 */
static size_t
label_free_rows(struct synthetic_run *s, const struct route_space *space,
    int L, size_t T, const int *budget_of, const double *benefit, size_t row)
{
	size_t R = s->n_routes, slot = (size_t)L + 1;
	size_t p, c, free_code, lent;
	uint8_t choices[64];
	double v;
	int k, l;

	for (p = 0; p < T; p++)
		for (c = 0; c < R; c++) {
			route_decode(space, c, L, choices);
			v = 0.001 * (double)(c % 7);
			for (l = 0; l < L; l++)
				v += (choices[l] == CHOICE_SMALL ? 0.5 :
				    choices[l] == CHOICE_SKIP ? 1.2 : 0.0) *
				    benefit[p * (size_t)L + (size_t)l];
			s->route_kl[p * R + c] = (float)v;
		}
	for (k = 0; k <= L; k++)
		for (p = 0; p < T; p++) {
			const float *table = s->route_losses + p * R;

			free_code = least_of_budget(s->route_kl + p * R,
			    budget_of, R, k);
			lent = least_of_budget(s->route_losses +
			    ((p + 1) % T) * R, budget_of, R, k);
			s->results[row++] = (struct result_record){ (int)p + 1,
			    "oracle_free", k, s->routes + free_code * slot,
			    table[free_code] };
			s->results[row++] = (struct result_record){ (int)p + 1,
			    "shuffled", k, s->routes + lent * slot,
			    table[lent] };
		}
	return row;
}

int
synthetic_run_make(struct synthetic_run *s, const char *text, size_t length,
    const struct synthetic_options *o)
{
	static const char *const budgeted[] = {
		"oracle", "fixed", "random_best", "random_mean",
	};
	enum { N_RANDOM = 100 };
	struct route_space space;
	struct duo_error err;
	struct sha256 ctx;
	uint8_t digest[SHA256_DIGEST_SIZE], choices[64];
	uint64_t rng = o->seed;
	size_t T = o->n_tokens, R, p, c, i, n_rows, row = 0, *starts;
	size_t slot = (size_t)o->n_layer + 1, n_names;
	int L = o->n_layer, k, l, m, has_small, *budget_of;
	double *benefit, *base, *mean, v, sum;
	size_t *random_codes, *pick, best_code = 0;
	char *route_at;

	memset(s, 0, sizeof *s);
	if (L < 1 || L > 16 || route_space_parse(&space, o->space, &err) != 0)
		return -1;
	R = (size_t)route_space_size(&space, L);
	has_small = strchr(o->space, 'S') != NULL;
	starts = malloc((T + 1) * sizeof *starts);
	if (starts == NULL || split_words(text, length, starts, T) != T) {
		free(starts);
		return -1;
	}

	/* Rows per token: big, small, best, then each budgeted method and
	 * each router at every budget. */
	n_names = sizeof budgeted / sizeof budgeted[0] + (size_t)o->n_routers;
	if (o->label_free)
		n_names += 2;
	n_rows = T * (2 + (size_t)has_small + n_names * (size_t)(L + 1));
	s->n_routes = R;
	s->tokens = calloc(T + 1, sizeof *s->tokens);
	s->results = calloc(n_rows, sizeof *s->results);
	s->route_losses = malloc(T * R * sizeof *s->route_losses);
	s->route_kl = malloc(T * R * sizeof *s->route_kl);
	s->routes = malloc((R + n_rows) * slot);
	s->methods = calloc((size_t)o->n_routers + 1, 16);
	s->pieces = malloc(length + 1);
	benefit = malloc(T * (size_t)L * sizeof *benefit);
	base = malloc(T * sizeof *base);
	mean = malloc(R * sizeof *mean);
	budget_of = malloc(R * sizeof *budget_of);
	random_codes = malloc(R * sizeof *random_codes);
	pick = malloc(N_RANDOM * sizeof *pick);
	if (s->tokens == NULL || s->results == NULL ||
	    s->route_losses == NULL || s->route_kl == NULL ||
	    s->routes == NULL ||
	    s->methods == NULL || s->pieces == NULL || benefit == NULL ||
	    base == NULL || mean == NULL || budget_of == NULL ||
	    random_codes == NULL || pick == NULL) {
		synthetic_run_free(s);
		s = NULL;
		goto out;
	}

	/* Every route's text, at the front of the arena, by code. */
	for (c = 0; c < R; c++) {
		route_decode(&space, c, L, choices);
		route_format(choices, L, s->routes + c * slot);
		budget_of[c] = route_budget(choices, L);
	}
	route_at = s->routes + R * slot;

	/* Tokens: words of the text; ids from a hash of the piece. */
	memcpy(s->pieces, text, length);
	s->tokens[0].token_id = 1;    /* BOS */
	s->tokens[0].piece = "<s>";
	s->tokens[0].piece_length = 3;
	for (p = 1; p <= T; p++) {
		struct token_record *t = &s->tokens[p];
		uint32_t h = 2166136261u;

		t->byte_start = starts[p - 1];
		t->byte_end = starts[p];
		t->piece = s->pieces + t->byte_start;
		t->piece_length = t->byte_end - t->byte_start;
		for (i = 0; i < t->piece_length; i++)
			h = (h ^ (unsigned char)t->piece[i]) * 16777619u;
		t->token_id = (int32_t)(2 + h % 4000);
	}

	/* Loss tables: later layers matter more, some tokens not at all. */
	for (p = 0; p < T; p++) {
		double scale = uniform(&rng);

		base[p] = 1.0 + 5.0 * uniform(&rng);
		for (l = 0; l < L; l++)
			benefit[p * L + l] = scale * uniform(&rng) *
			    (0.2 + 0.6 * (L > 1 ? (double)l / (L - 1) : 1));
		for (c = 0; c < R; c++) {
			route_decode(&space, c, L, choices);
			v = base[p] + 0.3 * (uniform(&rng) - 0.5);
			for (l = 0; l < L; l++) {
				double b = benefit[p * L + l];

				if (choices[l] == CHOICE_SMALL)
					v += b;
				else if (choices[l] == CHOICE_SKIP)
					v += 2 * b + 0.1;
			}
			s->route_losses[p * R + c] = (float)v;
		}
	}

#define ADD_ROW(POS, METHOD, BUDGET, CODE_TEXT, LOSS) do {              \
		s->results[row].pos = (int)(POS);                        \
		s->results[row].method = (METHOD);                       \
		s->results[row].budget = (BUDGET);                       \
		s->results[row].route = (CODE_TEXT);                     \
		s->results[row].loss = (LOSS);                           \
		row++;                                                   \
	} while (0)

	/* big (code 0 in every space), small (all digit 1), best. */
	for (p = 0; p < T; p++) {
		const float *table = s->route_losses + p * R;

		ADD_ROW(p + 1, "big", L, s->routes, table[0]);
		if (has_small) {
			memset(choices, CHOICE_SMALL, (size_t)L);
			c = route_encode(&space, choices, L);
			ADD_ROW(p + 1, "small", 0, s->routes + c * slot,
			    table[c]);
		}
		best_code = 0;
		for (c = 1; c < R; c++)
			if (table[c] < table[best_code])
				best_code = c;
		ADD_ROW(p + 1, "best", budget_of[best_code],
		    s->routes + best_code * slot, table[best_code]);
	}

	for (c = 0; c < R; c++) {
		sum = 0;
		for (p = 0; p < T; p++)
			sum += s->route_losses[p * R + c];
		mean[c] = sum / (double)T;
	}
	for (m = 0; m < o->n_routers; m++)
		snprintf(s->methods + 16 * (size_t)m, 16, m == 0 ?
		    "router:probe" : "router:probe%d", m + 1);

	for (k = 0; k <= L; k++) {
		size_t n_k = 0, fixed_code, random_best = 0;

		for (c = 0; c < R; c++)
			if (budget_of[c] == k)
				random_codes[n_k++] = c;
		fixed_code = random_codes[0];
		for (i = 1; i < n_k; i++)
			if (mean[random_codes[i]] < mean[fixed_code])
				fixed_code = random_codes[i];
		for (i = 0; i < N_RANDOM; i++) {
			pick[i] = random_codes[splitmix64(&rng) % n_k];
			if (mean[pick[i]] < mean[pick[random_best]])
				random_best = i;
		}
		for (p = 0; p < T; p++) {
			const float *table = s->route_losses + p * R;
			size_t oracle = random_codes[0], router;

			for (i = 1; i < n_k; i++)
				if (table[random_codes[i]] < table[oracle])
					oracle = random_codes[i];
			ADD_ROW(p + 1, "oracle", k, s->routes + oracle * slot,
			    table[oracle]);
			ADD_ROW(p + 1, "fixed", k,
			    s->routes + fixed_code * slot, table[fixed_code]);
			ADD_ROW(p + 1, "random_best", k,
			    s->routes + pick[random_best] * slot,
			    table[pick[random_best]]);
			sum = 0;
			for (i = 0; i < N_RANDOM; i++)
				sum += table[pick[i]];
			ADD_ROW(p + 1, "random_mean", k, NULL,
			    sum / N_RANDOM);
			for (m = 0; m < o->n_routers; m++) {
				/* A router that is right half of the time. */
				router = uniform(&rng) < 0.5 ? oracle :
				    random_codes[splitmix64(&rng) % n_k];
				memcpy(route_at, s->routes + router * slot,
				    slot);
				ADD_ROW(p + 1, s->methods + 16 * (size_t)m, k,
				    route_at, table[router]);
				route_at += slot;
			}
		}
	}
	if (o->label_free)
		row = label_free_rows(s, &space, L, T, budget_of, benefit,
		    row);
#undef ADD_ROW

	sha256_init(&ctx);
	sha256_update(&ctx, o->model_name, strlen(o->model_name));
	sha256_final(&ctx, digest);
	sha256_hex(digest, s->record.model.sha256);
	s->record.model.path = "/models/synthetic.gguf";
	s->record.model.name = o->model_name;
	s->record.model.n_layer = L;
	s->record.model.d_model = 64;
	s->record.model.n_head = 4;
	s->record.model.d_ff = 256;
	s->record.model.d_ff_small = 16;
	s->record.model.n_vocab = 4096;
	s->record.model.n_ctx = o->n_ctx;
	s->record.source = "-";
	s->record.text = text;
	s->record.text_length = starts[T];
	s->record.space = o->space;
	s->record.context = "shared";
	s->record.settings = "{\"p_big\": 0.5, \"random_routes\": 100}";
	s->record.seconds = 1.5;
	s->record.n_tokens = T;
	s->record.tokens = s->tokens;
	s->record.results = s->results;
	s->record.n_results = row;
	s->record.route_losses = o->keep_tables ? s->route_losses : NULL;
	s->record.route_kl = o->keep_tables && o->label_free ? s->route_kl :
	    NULL;
out:
	free(starts);
	free(benefit);
	free(base);
	free(mean);
	free(budget_of);
	free(random_codes);
	free(pick);
	return s == NULL ? -1 : 0;
}
