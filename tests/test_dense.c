/*
 * test_dense.c - the dense model of one route (duo convert --route,
 * duo-model(5)): its losses are those of the Duo model under the route,
 * bit for bit in F32; it survives a write and a read; and every per-layer
 * key of a damaged dense file is refused with its one-line message
 * before anything is sized from it.
 *
 * Needs $srcdir (or the current folder) for tests/fixture.gguf and
 * $TMPDIR (or /tmp) for the files it writes.
 */
#define TEST_NAME "test_dense"
#include "testlib.h"

#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "model.h"
#include "route.h"

static char fixture[4096], scratch[4096];

/* The losses of tokens under one route (all B for a dense model). */
static void
window_losses(const struct duo_model *model, const char *letters,
    const int32_t *tokens, int T, float *losses)
{
	struct forward_workspace *ws;
	struct duo_error err;
	uint8_t *routes = xcalloc((size_t)T, (size_t)model->config.n_layer);
	int t, L = model->config.n_layer;

	for (t = 0; letters != NULL && t < T; t++)
		if (route_parse(letters, L, routes + (size_t)t * L, &err) != 0) {
			printf("FAIL route %s: %s\n", letters, err.message);
			exit(99);
		}
	ws = forward_workspace_new(&model->config, T);
	if (ws == NULL ||
	    model_window_losses(model, ws, tokens, T, routes, losses,
	    &err) != 0) {
		printf("FAIL window: %s\n", ws == NULL ? "workspace" :
		    err.message);
		exit(99);
	}
	forward_workspace_free(ws);
	free(routes);
}

/* Write the dense model of the fixture at letters to path, with the
 * changes edit makes to the writer (may be NULL). */
static void
write_dense(const char *letters, const char *path, enum gguf_tensor_type type,
    void (*edit)(struct gguf_writer *))
{
	struct duo_model model, dense;
	struct gguf_writer *w;
	struct duo_error err;
	uint8_t route[DUO_MAX_LAYERS];

	if (model_load(&model, fixture, &err) != 0 ||
	    route_parse(letters, model.config.n_layer, route, &err) != 0 ||
	    model_make_dense(&dense, &model, route, &err) != 0) {
		printf("FAIL setup: %s\n", err.message);
		exit(99);
	}
	w = gguf_writer_new();
	model_write_dense(&dense, w, type);
	if (edit != NULL)
		edit(w);
	if (gguf_writer_save(w, path, &err) != 0) {
		printf("FAIL save: %s\n", err.message);
		exit(99);
	}
	gguf_writer_free(w);
	model_free(&dense);
	model_free(&model);
}

/* Every route's dense model scores as the Duo model under the route. */
static void
same_losses(const char *letters)
{
	enum { T = 40 };
	struct duo_model model, dense;
	struct duo_error err;
	int32_t tokens[T];
	float want[T], got[T];
	double worst = 0;
	int t;

	for (t = 0; t < T; t++)
		tokens[t] = (int32_t)((t * 37 + 11) % 300);
	write_dense(letters, scratch, GGUF_TENSOR_F32, NULL);
	if (model_load(&model, fixture, &err) != 0 ||
	    model_load_dense(&dense, scratch, &err) != 0) {
		printf("FAIL load %s: %s\n", letters, err.message);
		failures++;
		return;
	}
	window_losses(&model, letters, tokens, T, want);
	window_losses(&dense, NULL, tokens, T, got);
	for (t = 0; t < T - 1; t++)
		if (fabs((double)want[t] - got[t]) > worst)
			worst = fabs((double)want[t] - got[t]);
	printf("%s route %s: dense losses equal the route's: worst %.3g\n",
	    worst == 0 ? "ok  " : "FAIL", letters, worst);
	if (worst != 0)
		failures++;
	check_true("the dense file keeps its route",
	    strcmp(dense.dense_route, letters) == 0);
	model_free(&dense);
	model_free(&model);
}

static void short_widths(struct gguf_writer *w)
{
	static const int32_t v[] = { 128, 8, 1 };

	gguf_writer_set_i32_array(w, "deci.feed_forward_length", v, 3);
}

static void zero_width(struct gguf_writer *w)
{
	static const int32_t v[] = { 128, 8, 0, 128 };

	gguf_writer_set_i32_array(w, "deci.feed_forward_length", v, 4);
}

static void huge_width(struct gguf_writer *w)
{
	static const int32_t v[] = { 128, 8, 1 << 20, 128 };

	gguf_writer_set_i32_array(w, "deci.feed_forward_length", v, 4);
}

static void scalar_width(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "deci.feed_forward_length", 128);
}

static void mixed_heads(struct gguf_writer *w)
{
	static const int32_t v[] = { 4, 2, 4, 4 };

	gguf_writer_set_i32_array(w, "deci.attention.head_count", v, 4);
}

static void grouped_heads(struct gguf_writer *w)
{
	static const int32_t v[] = { 4, 4, 4, 1 };

	gguf_writer_set_i32_array(w, "deci.attention.head_count_kv", v, 4);
}

static void many_layers(struct gguf_writer *w)
{
	gguf_writer_set_u32(w, "deci.block_count", 65);
}

static void bad_route(struct gguf_writer *w)
{
	gguf_writer_set_string(w, "duo.dense.route", "BX.B");
}

/* A damaged dense file is refused with exactly this message. */
static void
refused(const char *what, void (*edit)(struct gguf_writer *),
    const char *message)
{
	struct duo_model model;
	struct duo_error err;
	char want[8192];

	write_dense("BS.B", scratch, GGUF_TENSOR_F16, edit);
	snprintf(want, sizeof want, "%s: %s", scratch, message);
	if (model_load_dense(&model, scratch, &err) == 0) {
		printf("FAIL %s: loaded\n", what);
		failures++;
		model_free(&model);
		return;
	}
	printf("%s %s: %s\n", strcmp(err.message, want) == 0 ? "ok  " :
	    "FAIL", what, err.message);
	if (strcmp(err.message, want) != 0) {
		printf("     expected: %s\n", want);
		failures++;
	}
}

int
main(void)
{
	const char *srcdir = getenv("srcdir"), *tmp = getenv("TMPDIR");
	struct duo_model model;
	struct duo_error err;

	snprintf(fixture, sizeof fixture, "%s/tests/fixture.gguf",
	    srcdir != NULL ? srcdir : ".");
	snprintf(scratch, sizeof scratch, "%s/test_dense.%ld.gguf",
	    tmp != NULL ? tmp : "/tmp", (long)getpid());

	same_losses("BBBB");
	same_losses("SSSS");
	same_losses("BS.B");
	same_losses("....");
	same_losses("S..B");

	/* only info and score read a dense file */
	write_dense("BS.B", scratch, GGUF_TENSOR_F32, NULL);
	check_true("model_load refuses a dense file",
	    model_load(&model, scratch, &err) != 0 &&
	    strstr(err.message, "a dense model (architecture 'deci', one "
	    "module per layer) is read only by duo info and duo score") !=
	    NULL);

	refused("widths of 3 layers", short_widths,
	    "deci.feed_forward_length has 3 entries; deci.block_count is 4");
	refused("a width of 0", zero_width,
	    "deci.feed_forward_length[2] is 0; it must be between 1 and "
	    "1048576");
	refused("a huge width, tensors of the small one", huge_width,
	    "tensor 'blk.2.ffn_gate.weight' has shape [32, 1]; expected "
	    "[32, 1048576]");
	refused("one width for every layer", scalar_width,
	    "key 'deci.feed_forward_length' has type uint32, expected array "
	    "of int32");
	refused("head counts that differ", mixed_heads,
	    "deci.attention.head_count[1] is 2 but [0] is 4; duo reads one "
	    "head count for every layer");
	refused("grouped keys and values", grouped_heads,
	    "deci.attention.head_count_kv[3] is 1, not the 4 heads of "
	    "deci.attention.head_count; duo reads no grouped keys and values");
	refused("65 layers", many_layers,
	    "deci.block_count is 65; it must be between 1 and 64");
	refused("a route of another letter", bad_route,
	    "duo.dense.route is 'BX.B'; expected one letter B, S or . for "
	    "each of the 4 layers");
	unlink(scratch);
	return failures == 0 ? 0 : 1;
}
