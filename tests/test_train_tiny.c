/*
 * test_train_tiny.c - the trainer learns, and a resumed run continues bit
 * for bit.
 *
 * The corpus is made here from a small made-up grammar (subject, verb,
 * object, ending, a few choices each), so a model that learns it predicts
 * most tokens with near certainty: the only uncertainty left is the choice
 * of each word, about 0.5 nats a token.  A tiny model trained for 300
 * steps must bring the loss from about ln V (uniform guessing) to below
 * 30% of ln V, on the training batches and on held-out sentences, under
 * all-big, all-small and random routes.  Far from a tight bound: it fails
 * when the gradient or the optimizer is broken, not when learning is a
 * little slower.
 *
 * Resumption: 20 steps in one go, and 10 steps + checkpoint + a fresh
 * trainer from that file + 10 steps, must leave identical bits in the
 * parameters and in both AdamW moments.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "tokenizer.h"
#include "tokenizer_train.h"
#include "train.h"

static int failures, checks;

static void
expect(int ok, const char *what)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL %s\n", what);
	} else {
		printf("ok %s\n", what);
	}
}

static uint64_t rng_state = 2024;

static unsigned
pick(unsigned n)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (unsigned)((z ^ (z >> 31)) % n);
}

/* n sentences of the grammar, space separated, in a fresh string. */
static char *
make_corpus(int n, size_t *length)
{
	static const char *const subjects[] = { "The cat", "A farmer",
	    "My friend", "The old clock", "Every child" };
	static const char *const verbs[] = { "watches", "mends", "paints",
	    "hears", "keeps" };
	static const char *const objects[] = { "the blue boat",
	    "a loaf of bread", "the garden wall", "two silver spoons",
	    "the morning train" };
	static const char *const endings[] = { ".", " today.",
	    " every week." };
	size_t capacity = (size_t)n * 80 + 1, used = 0;
	char *text = malloc(capacity);
	int i;

	if (text == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, capacity - used,
		    "%s %s %s%s%s", subjects[pick(5)], verbs[pick(5)],
		    objects[pick(5)], endings[pick(3)], i + 1 < n ? " " : "");
	*length = used;
	return text;
}

struct setup {
	struct tokenizer *tok;
	int32_t *ids;
	size_t n_ids;
};

static int
setup_corpus(struct setup *s)
{
	struct duo_error err;
	size_t length;
	char *text = make_corpus(3000, &length);

	if (text == NULL)
		return -1;
	if (tokenizer_train(&s->tok, text, length, 320, &err) != 0 ||
	    tokenizer_encode(s->tok, text, length, &s->ids, &s->n_ids, NULL,
	    &err) != 0) {
		printf("tokenizer: %s\n", err.message);
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

/* A tiny model holding a copy of the tokenizer (loaded back from a file
 * it would own it). */
static int
make_model(struct duo_model *model, const struct tokenizer *tok,
    uint64_t seed)
{
	struct duo_config cf = { 2, 32, 2, 128, 8, 0, 32,
	    10000.0f, 1e-5f, 0, { 0 } };
	struct duo_error err;

	cf.n_vocab = tokenizer_vocab_size(tok);
	if (model_alloc(model, &cf, 1, &err) != 0) {
		printf("model_alloc: %s\n", err.message);
		return -1;
	}
	model_init_random(model, seed);
	return 0;
}

static void
test_learning(const struct setup *s)
{
	struct duo_model model;
	struct train_options o;
	struct trainer tr;
	struct train_eval ev;
	struct duo_error err;
	size_t n_train = s->n_ids * 9 / 10;
	double first = 0.0, last = 0.0, threshold;
	float loss;
	char what[200];
	int step;

	if (make_model(&model, s->tok, 5) != 0) {
		failures++;
		return;
	}
	train_options_default(&o);
	o.batch = 8;
	o.steps = 300;
	o.lr = 1e-2f;
	o.warmup = 20;
	o.seed = 11;
	if (trainer_init(&tr, &model, &o, s->ids, n_train,
	    tokenizer_bos(s->tok), &err) != 0) {
		printf("FAIL trainer_init: %s\n", err.message);
		failures++;
		model_free(&model);
		return;
	}
	threshold = 0.3 * log((double)model.config.n_vocab);
	for (step = 0; step < o.steps; step++) {
		if (train_step(&tr, &loss, &err) != 0) {
			printf("FAIL step %d: %s\n", step, err.message);
			failures++;
			break;
		}
		if (step == 0)
			first = loss;
		if (step >= o.steps - 20)
			last += loss / 20.0;
	}
	snprintf(what, sizeof what, "first loss %.3f is within 0.5 of ln V = "
	    "%.3f", first, log((double)model.config.n_vocab));
	expect(fabs(first - log((double)model.config.n_vocab)) < 0.5, what);
	snprintf(what, sizeof what, "mean loss of the last 20 steps %.3f < "
	    "0.3 ln V = %.3f", last, threshold);
	expect(last < threshold, what);
	if (train_evaluate(&model, s->ids + n_train, s->n_ids - n_train,
	    tokenizer_bos(s->tok), 8, o.p_big, o.p_skip, o.seed, &ev,
	    &err) != 0) {
		printf("FAIL train_evaluate: %s\n", err.message);
		failures++;
	} else {
		snprintf(what, sizeof what, "held-out losses B %.3f S %.3f "
		    "R %.3f < %.3f", ev.big, ev.small, ev.random, threshold);
		expect(ev.big < threshold && ev.small < threshold &&
		    ev.random < threshold, what);
		expect(ev.big <= ev.small + 0.05,
		    "the big module is not worse than the small one");
	}
	trainer_free(&tr);
	model_free(&model);
}

static void
resume_options(struct train_options *o)
{
	train_options_default(o);
	o->batch = 4;
	o->micro_batch = 3;    /* two passes a step, the last one short */
	o->steps = 20;
	o->lr = 5e-3f;
	o->warmup = 4;
	o->p_skip = 0.2f;
	o->seed = 99;
}

static void
test_resume(const struct setup *s)
{
	struct duo_model a, b;
	struct train_options o, loaded;
	struct trainer ta, tb;
	struct duo_error err;
	char dir[] = "/tmp/duo-train-test.XXXXXX", path[64];
	int step, ok = 1;
	size_t bytes;

	if (mkdtemp(dir) == NULL) {
		printf("FAIL mkdtemp\n");
		failures++;
		return;
	}
	snprintf(path, sizeof path, "%s/model.ckpt", dir);
	resume_options(&o);

	/* Run A: 20 steps in one go. */
	if (make_model(&a, s->tok, 3) != 0 || trainer_init(&ta, &a, &o, s->ids,
	    s->n_ids, tokenizer_bos(s->tok), &err) != 0) {
		printf("FAIL setup A\n");
		failures++;
		return;
	}
	for (step = 0; step < 20 && ok; step++)
		ok = train_step(&ta, NULL, &err) == 0;

	/* Run B: 10 steps, checkpoint, everything freed, 10 more. */
	if (make_model(&b, s->tok, 3) != 0 || trainer_init(&tb, &b, &o, s->ids,
	    s->n_ids, tokenizer_bos(s->tok), &err) != 0) {
		printf("FAIL setup B\n");
		failures++;
		return;
	}
	b.tokenizer = s->tok;          /* borrowed for writing */
	for (step = 0; step < 10 && ok; step++)
		ok = train_step(&tb, NULL, &err) == 0;
	ok = ok && train_checkpoint_save(&tb, path, &err) == 0;
	b.tokenizer = NULL;
	trainer_free(&tb);
	model_free(&b);
	ok = ok && model_load(&b, path, &err) == 0;
	ok = ok && train_checkpoint_options(path, &loaded, &err) == 0;
	expect(ok && memcmp(&loaded, &o, sizeof o) == 0,
	    "the checkpoint keeps every training option");
	ok = ok && trainer_init(&tb, &b, &loaded, s->ids, s->n_ids,
	    tokenizer_bos(s->tok), &err) == 0;
	ok = ok && train_checkpoint_restore(&tb, path, &err) == 0;
	expect(ok && tb.step == 10 && tb.tokens_seen == 10 * 4 * 32,
	    "the checkpoint restores step and tokens seen");
	for (step = 0; step < 10 && ok; step++)
		ok = train_step(&tb, NULL, &err) == 0;
	if (!ok)
		printf("error: %s\n", err.message);
	bytes = a.n_params * sizeof(float);
	expect(ok && a.n_params == b.n_params &&
	    memcmp(a.params, b.params, bytes) == 0,
	    "20 steps == 10 steps + checkpoint + 10 steps: parameters");
	expect(ok && memcmp(ta.adam_m, tb.adam_m, bytes) == 0 &&
	    memcmp(ta.adam_v, tb.adam_v, bytes) == 0,
	    "20 steps == 10 steps + checkpoint + 10 steps: AdamW moments");
	expect(ok && ta.rng_data == tb.rng_data &&
	    ta.rng_route == tb.rng_route, "the generators continue");

	/* A checkpoint refuses a corpus it was not trained on. */
	if (ok) {
		struct trainer tc;

		if (trainer_init(&tc, &b, &loaded, s->ids, s->n_ids - 1,
		    tokenizer_bos(s->tok), &err) == 0) {
			expect(train_checkpoint_restore(&tc, path, &err) != 0 &&
			    strstr(err.message, "another corpus") != NULL,
			    "a different corpus is refused");
			trainer_free(&tc);
		}
	}
	trainer_free(&ta);
	trainer_free(&tb);
	model_free(&a);
	model_free(&b);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	struct setup s;

	memset(&s, 0, sizeof s);
	if (setup_corpus(&s) != 0)
		return 99;
	test_learning(&s);
	test_resume(&s);
	tokenizer_free(s.tok);
	free(s.ids);
	printf("%d checks, %d failures\n", checks, failures);
	return failures == 0 ? 0 : 1;
}
