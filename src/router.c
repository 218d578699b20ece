/*
 * router.c - learned routers: weights, their place in a model file, their
 * logits and the causal choice of a route (router.h).
 */
#include <float.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "linalg.h"
#include "router.h"

#define KEY_PREFIX "duo.router."

static const char *const kind_names[] = { "paper", "oracle" };
static const char *const mode_names[] = { "exact", "soft" };

const char *
router_kind_name(enum router_kind kind)
{
	return kind_names[kind];
}

int
router_kind_parse(const char *name, enum router_kind *kind,
    struct duo_error *err)
{
	if (strcmp(name, "paper") == 0)
		*kind = ROUTER_PAPER;
	else if (strcmp(name, "oracle") == 0)
		*kind = ROUTER_ORACLE;
	else
		return error_set(err, "router kind '%s' is not paper or oracle",
		    name);
	return 0;
}

const char *
router_mode_name(enum router_mode mode)
{
	return mode_names[mode];
}

int
router_mode_parse(const char *name, enum router_mode *mode,
    struct duo_error *err)
{
	if (strcmp(name, "exact") == 0)
		*mode = ROUTER_EXACT;
	else if (strcmp(name, "soft") == 0)
		*mode = ROUTER_SOFT;
	else
		return error_set(err, "router mode '%s' is not exact or soft",
		    name);
	return 0;
}

int
router_name_check(const char *name, struct duo_error *err)
{
	const char *p;

	if (*name == '\0' || strlen(name) > ROUTER_NAME_MAX)
		return error_set(err, "router name '%.60s' must have 1 to %d "
		    "characters", name, ROUTER_NAME_MAX);
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		    *p == '-'))
			return error_set(err, "router name '%s' has '%c'; use "
			    "letters, digits, '_', '.' and '-'", name, *p);
	return 0;
}

int
router_alloc(struct duo_router *router, const char *name,
    enum router_kind kind, const struct route_space *space, int budget,
    const struct duo_config *config, struct duo_error *err)
{
	size_t n;

	memset(router, 0, sizeof *router);
	if (router_name_check(name, err) != 0)
		return -1;
	if (budget < 0 || budget > config->n_layer)
		return error_set(err, "budget %d is not 0..%d (the model has "
		    "%d layers)", budget, config->n_layer, config->n_layer);
	snprintf(router->name, sizeof router->name, "%s", name);
	router->kind = kind;
	router->space = *space;
	router->n_layer = config->n_layer;
	router->d_model = config->d_model;
	router->budget = budget;
	snprintf(router->weighting, sizeof router->weighting, "none");
	snprintf(router->target, sizeof router->target, "oracle");
	n = (size_t)config->n_layer * (size_t)space->n_choices *
	    (size_t)config->d_model;
	router->weight = calloc(n, sizeof *router->weight);
	if (router->weight == NULL)
		return error_set(err, "out of memory for router %s", name);
	return 0;
}

void
router_free(struct duo_router *router)
{
	free(router->weight);
	router->weight = NULL;
}

void
router_free_all(struct duo_router *routers, int n)
{
	int i;

	for (i = 0; i < n; i++)
		router_free(&routers[i]);
	free(routers);
}

const struct duo_router *
router_find(const struct duo_router *routers, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(routers[i].name, name) == 0)
			return &routers[i];
	return NULL;
}

/* --- reading ------------------------------------------------------------ */

/* The key duo.router.NAME.field. */
static void
key_of(char *key, size_t size, const char *name, const char *field)
{
	snprintf(key, size, KEY_PREFIX "%s.%s", name, field);
}

/* Optional keys: absent leaves the value alone, a wrong type fails. */
static int
optional_f32(const struct gguf_file *file, const char *key, float *out,
    struct duo_error *err)
{
	return gguf_find_kv(file, key) == NULL ? 0 :
	    gguf_get_f32(file, key, out, err);
}

static int
optional_u32(const struct gguf_file *file, const char *key, uint32_t *out,
    struct duo_error *err)
{
	return gguf_find_kv(file, key) == NULL ? 0 :
	    gguf_get_u32(file, key, out, err);
}

static int
optional_string(const struct gguf_file *file, const char *key, char *out,
    size_t size, struct duo_error *err)
{
	char *value;

	if (gguf_find_kv(file, key) == NULL)
		return 0;
	if (gguf_get_string(file, key, &value, err) != 0)
		return -1;
	snprintf(out, size, "%s", value);
	free(value);
	return 0;
}

static int
read_router(const struct gguf_file *file, const char *name,
    const struct duo_config *config, struct duo_router *router,
    struct duo_error *err)
{
	char key[160], *text = NULL;
	const struct gguf_tensor *t;
	const struct gguf_kv *kv;
	struct route_space space;
	enum router_kind kind = ROUTER_PAPER;
	uint32_t budget, u;
	size_t m, C = (size_t)config->d_model, i;
	int l;

	key_of(key, sizeof key, name, "kind");
	if (gguf_get_string(file, key, &text, err) != 0)
		return -1;
	if (router_kind_parse(text, &kind, err) != 0) {
		free(text);
		snprintf(key, sizeof key, "%s: router %s", file->path, name);
		return error_prefix(err, key);
	}
	free(text);
	key_of(key, sizeof key, name, "space");
	if (gguf_get_string(file, key, &text, err) != 0)
		return -1;
	if (route_space_parse(&space, text, err) != 0) {
		free(text);
		snprintf(key, sizeof key, "%s: router %s", file->path, name);
		return error_prefix(err, key);
	}
	free(text);
	key_of(key, sizeof key, name, "budget");
	if (gguf_get_u32(file, key, &budget, err) != 0)
		return -1;
	if (budget > (uint32_t)config->n_layer)
		return error_set(err, "%s: router %s has budget %u, more than "
		    "the model's %d layers", file->path, name, budget,
		    config->n_layer);
	if (router_alloc(router, name, kind, &space, (int)budget, config,
	    err) != 0)
		return error_prefix(err, file->path);
	m = (size_t)space.n_choices;
	for (l = 0; l < config->n_layer; l++) {
		snprintf(key, sizeof key, "blk.%d.router.%s.weight", l, name);
		if ((t = gguf_find_tensor(file, key)) == NULL) {
			error_set(err, "%s: router %s has no tensor %s",
			    file->path, name, key);
			goto fail;
		}
		if (t->n_dims != 2 || t->ne[0] != C || t->ne[1] != m) {
			error_set(err, "%s: tensor %s has shape [%llu, %llu]; "
			    "the router needs [%zu, %zu] (width by choices of "
			    "%s)", file->path, key, (unsigned long long)t->ne[0],
			    (unsigned long long)(t->n_dims > 1 ? t->ne[1] : 1),
			    C, m, space.name);
			goto fail;
		}
		for (i = 0; i < m * C; i++) {
			float v;

			if (t->type == GGUF_TENSOR_F32)
				memcpy(&v, (const char *)t->data + 4 * i, 4);
			else {
				uint16_t h;

				memcpy(&h, (const char *)t->data + 2 * i, 2);
				v = gguf_f16_to_f32(h);
			}
			router->weight[(size_t)l * m * C + i] = v;
		}
	}
	/* the training facts; absent ones stay zero */
	key_of(key, sizeof key, name, "alpha");
	if (optional_f32(file, key, &router->alpha, err) != 0)
		goto fail;
	key_of(key, sizeof key, name, "sharpness_start");
	if (optional_f32(file, key, &router->sharpness_start, err) != 0)
		goto fail;
	key_of(key, sizeof key, name, "sharpness_end");
	if (optional_f32(file, key, &router->sharpness_end, err) != 0)
		goto fail;
	key_of(key, sizeof key, name, "learning_rate");
	if (optional_f32(file, key, &router->learning_rate, err) != 0)
		goto fail;
	key_of(key, sizeof key, name, "final_loss");
	if (optional_f32(file, key, &router->final_loss, err) != 0)
		goto fail;
	key_of(key, sizeof key, name, "steps");
	u = 0;
	if (optional_u32(file, key, &u, err) != 0)
		goto fail;
	router->steps = (int)(u > 100000000u ? 100000000u : u);
	key_of(key, sizeof key, name, "seed");
	if (optional_u32(file, key, &router->seed, err) != 0)
		goto fail;
	key_of(key, sizeof key, name, "tokens");
	if ((kv = gguf_find_kv(file, key)) != NULL) {
		if (kv->type != GGUF_TYPE_UINT64) {
			error_set(err, "%s: key %s is not a uint64", file->path,
			    key);
			goto fail;
		}
		memcpy(&router->tokens, kv->value, 8);
	}
	key_of(key, sizeof key, name, "data");
	if (optional_string(file, key, router->data, sizeof router->data,
	    err) != 0)
		goto fail;
	key_of(key, sizeof key, name, "loss_weighting");
	if (optional_string(file, key, router->weighting,
	    sizeof router->weighting, err) != 0)
		goto fail;
	/* routers trained before the label-free target have no key */
	key_of(key, sizeof key, name, "target");
	if (optional_string(file, key, router->target,
	    sizeof router->target, err) != 0)
		goto fail;
	return 0;
fail:
	router_free(router);
	return -1;
}

int
router_load_all(const char *path, const struct duo_config *config,
    struct duo_router **routers, int *n, struct duo_error *err)
{
	static const char suffix[] = ".kind";
	struct gguf_file file;
	struct duo_router *list = NULL, *grown;
	char name[ROUTER_NAME_MAX + 1];
	size_t i, prefix = strlen(KEY_PREFIX), length;
	int count = 0;

	*routers = NULL;
	*n = 0;
	if (gguf_open(&file, path, err) != 0)
		return -1;
	for (i = 0; i < file.n_kv; i++) {
		const struct gguf_string *key = &file.kv[i].key;

		if (key->length <= prefix + sizeof suffix - 1 ||
		    memcmp(key->data, KEY_PREFIX, prefix) != 0 ||
		    memcmp(key->data + key->length - (sizeof suffix - 1),
		    suffix, sizeof suffix - 1) != 0)
			continue;
		length = key->length - prefix - (sizeof suffix - 1);
		/* the key's bytes are not echoed: they come from the file
		 * and may be anything */
		if (length > ROUTER_NAME_MAX) {
			error_set(err, "%s: key %llu names a router of more "
			    "than %d characters", path, (unsigned long long)i,
			    ROUTER_NAME_MAX);
			goto fail;
		}
		memcpy(name, key->data + prefix, length);
		name[length] = '\0';
		if (memchr(name, '\0', length) != NULL ||
		    router_name_check(name, err) != 0) {
			error_set(err, "%s: key %llu names a router with other "
			    "characters than letters, digits, '_', '.' and '-'",
			    path, (unsigned long long)i);
			goto fail;
		}
		grown = realloc(list, (size_t)(count + 1) * sizeof *list);
		if (grown == NULL) {
			error_set(err, "out of memory");
			goto fail;
		}
		list = grown;
		if (read_router(&file, name, config, &list[count], err) != 0)
			goto fail;
		count++;
	}
	gguf_close(&file);
	*routers = list;
	*n = count;
	return 0;
fail:
	router_free_all(list, count);
	gguf_close(&file);
	return -1;
}

/* --- writing ------------------------------------------------------------ */

int
router_save(const struct duo_model *model,
    const struct duo_router *routers, int n, const char *path,
    enum gguf_tensor_type type, struct duo_error *err)
{
	struct gguf_writer *writer = gguf_writer_new();
	const struct duo_router *r;
	char key[160];
	uint64_t ne[2];
	int i, l, status;

	if (writer == NULL)
		return error_set(err, "%s: out of memory", path);
	model_write(model, writer, type);
	for (i = 0; i < n; i++) {
		r = &routers[i];
		key_of(key, sizeof key, r->name, "kind");
		gguf_writer_set_string(writer, key, router_kind_name(r->kind));
		key_of(key, sizeof key, r->name, "space");
		gguf_writer_set_string(writer, key, r->space.name);
		key_of(key, sizeof key, r->name, "budget");
		gguf_writer_set_u32(writer, key, (uint32_t)r->budget);
		if (r->kind == ROUTER_PAPER) {
			key_of(key, sizeof key, r->name, "alpha");
			gguf_writer_set_f32(writer, key, r->alpha);
			key_of(key, sizeof key, r->name, "sharpness_start");
			gguf_writer_set_f32(writer, key, r->sharpness_start);
			key_of(key, sizeof key, r->name, "sharpness_end");
			gguf_writer_set_f32(writer, key, r->sharpness_end);
		} else {
			key_of(key, sizeof key, r->name, "loss_weighting");
			gguf_writer_set_string(writer, key, r->weighting);
			key_of(key, sizeof key, r->name, "target");
			gguf_writer_set_string(writer, key, r->target);
		}
		key_of(key, sizeof key, r->name, "learning_rate");
		gguf_writer_set_f32(writer, key, r->learning_rate);
		key_of(key, sizeof key, r->name, "steps");
		gguf_writer_set_u32(writer, key, (uint32_t)r->steps);
		key_of(key, sizeof key, r->name, "seed");
		gguf_writer_set_u32(writer, key, r->seed);
		key_of(key, sizeof key, r->name, "tokens");
		gguf_writer_set_u64(writer, key, r->tokens);
		key_of(key, sizeof key, r->name, "data");
		gguf_writer_set_string(writer, key, r->data);
		key_of(key, sizeof key, r->name, "final_loss");
		gguf_writer_set_f32(writer, key, r->final_loss);
		ne[0] = (uint64_t)r->d_model;
		ne[1] = (uint64_t)r->space.n_choices;
		for (l = 0; l < r->n_layer; l++) {
			snprintf(key, sizeof key, "blk.%d.router.%s.weight", l,
			    r->name);
			gguf_writer_add_tensor(writer, key, GGUF_TENSOR_F32, 2,
			    ne, r->weight + (size_t)l * ne[0] * ne[1]);
		}
	}
	status = gguf_writer_save(writer, path, err);
	gguf_writer_free(writer);
	return status;
}

/* --- choosing ----------------------------------------------------------- */

void
router_logits(const struct duo_router *router, int layer, const float *xn,
    int n, float *logits)
{
	int m = router->space.n_choices, C = router->d_model;

	/* logits (n, m) = xn (n, C) W_layer^T, W_layer (m, C) */
	linear(logits, xn, router->weight + (size_t)layer * m * C, n, C, m,
	    0.0f);
}

int
router_choose(const struct duo_router *router, enum router_mode mode, int k,
    int layer, int used, const float *logits)
{
	const struct route_space *space = &router->space;
	int m = space->n_choices, left = router->n_layer - layer, d, best = -1;
	bool allow_big = true, force_big = false;

	if (mode == ROUTER_EXACT) {
		allow_big = used < k;
		force_big = k - used >= left;
	}
	if (force_big)
		return 0;       /* B is digit 0 of every space */
	for (d = 0; d < m; d++) {
		if (d == 0 && !allow_big)
			continue;
		if (best < 0 || logits[d] > logits[best])
			best = d;
	}
	return best;
}

/* What the decider of router_window_pass() needs between layers. */
struct router_decider {
	const struct duo_router *router;
	enum router_mode mode;
	int k;
	int *used;          /* (T) B's each row's route has taken so far */
	float *logits;      /* (T, m) one layer's logits */
};

/* Choose the n rows' choices at layer from their FFN inputs xn (n, C)
 * (model_route_decider). */
static void
router_decide(void *arg, int layer, const float *xn, int n, uint8_t *choices,
    int stride)
{
	struct router_decider *d = arg;
	const struct route_space *space = &d->router->space;
	int m = space->n_choices, t, digit;

	router_logits(d->router, layer, xn, n, d->logits);
	for (t = 0; t < n; t++) {
		digit = router_choose(d->router, d->mode, d->k, layer,
		    d->used[t], d->logits + (size_t)t * m);
		choices[(size_t)t * stride] = (uint8_t)space->choices[digit];
		d->used[t] += space->choices[digit] == CHOICE_BIG;
	}
}

int
router_window_pass(const struct duo_model *model,
    const struct duo_router *router, enum router_mode mode, int k,
    const int32_t *tokens, int T, uint8_t *routes, float *losses,
    struct duo_error *err)
{
	const struct duo_config *c = &model->config;
	struct router_decider decider = { router, mode, k, NULL, NULL };
	struct forward_workspace *ws = NULL;
	int status = -1;

	if (T < 1 || T > c->n_ctx)
		return error_set(err, "a window of %d positions (the model "
		    "takes 1..%d)", T, c->n_ctx);
	ws = forward_workspace_new(c, T);
	decider.used = calloc((size_t)T, sizeof *decider.used);
	decider.logits = malloc((size_t)T * (size_t)router->space.n_choices *
	    sizeof *decider.logits);
	if (ws == NULL || decider.used == NULL || decider.logits == NULL)
		error_set(err, "out of memory for a router pass");
	else
		status = model_window_decided(model, ws, tokens, T,
		    router_decide, &decider, routes, losses, err);
	forward_workspace_free(ws);
	free(decider.used);
	free(decider.logits);
	return status;
}
