/*
 * predict.c - the model's top predictions for one token of an open run,
 * for the token detail pane: which model file to trust (the run's own, or
 * the default, only if its SHA-256 is the one the run was made with), its
 * loading on the first request, and one forward pass over the token's
 * window under the chosen method's route, in the run's context mode.
 *
 * A forward pass over a long window of the default model takes tens of
 * milliseconds and the first one also hashes and loads the model, so
 * they run in a thread of their own: the pane shows that the answer is
 * coming, and the loop draws it when the thread publishes it.  The main
 * thread hands over a request that holds everything the pass needs (the
 * window's tokens and routes, copied from the run); only the thread
 * touches the model.  A newer request replaces one not yet started.
 */
#include "predict.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "draw.h"
#include "host.h"
#include "model.h"
#include "names.h"
#include "route.h"
#include "run.h"
#include "sha256.h"
#include "store.h"
#include "tokenizer.h"
#include "view.h"

/* A file's hash, remembered with its size and time so as to hash once. */
struct known_hash {
	char path[1024];
	off_t size;
	struct timespec mtime;
	char sha256[SHA256_HEX_SIZE];
};

#define N_KNOWN_HASHES 4

/* What an answer is for. */
struct question {
	int64_t run_id;
	int method, k;
	size_t pos;
};

/* All a forward pass needs, copied from the run by the main thread. */
struct request {
	struct question q;
	char model_path[1024];
	char model_sha256[SHA256_HEX_SIZE];
	int L, n_ctx;
	int n;                          /* positions of the window used */
	int32_t *window;                /* [n] tokens, BOS first */
	uint8_t *routes;                /* (n, L) choices */
	int32_t actual;                 /* the token at pos */
};

struct predictor {
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t wake;            /* a request, or quit */
	pthread_cond_t idle;            /* an answer published */
	int quit;
	struct request wanted;          /* not taken yet */
	int have_wanted;
	struct question working;        /* the one the thread computes */
	int is_working;
	struct predictions answer;      /* the last published */
	struct question answered;
	int have_answer;
	unsigned published, seen;
	struct predictions shown;       /* the main thread's copy */

	/* The thread's own. */
	int loaded;
	struct duo_model model;
	char model_sha256[SHA256_HEX_SIZE];
	struct forward_workspace *ws;
	struct kv_cache cache;
	float *logits;                  /* (V) */
	struct known_hash hashes[N_KNOWN_HASHES];
	int n_hashes;
};

static int
same_question(const struct question *a, const struct question *b)
{
	return a->run_id == b->run_id && a->method == b->method &&
	    a->k == b->k && a->pos == b->pos;
}

static void
free_request(struct request *r)
{
	free(r->window);
	free(r->routes);
	r->window = NULL;
	r->routes = NULL;
}

struct predictor *
predictor_new(void)
{
	struct predictor *pr = calloc(1, sizeof *pr);

	if (pr == NULL)
		return NULL;
	if (pthread_mutex_init(&pr->lock, NULL) != 0) {
		free(pr);
		return NULL;
	}
	if (pthread_cond_init(&pr->wake, NULL) != 0) {
		pthread_mutex_destroy(&pr->lock);
		free(pr);
		return NULL;
	}
	if (pthread_cond_init(&pr->idle, NULL) != 0) {
		pthread_cond_destroy(&pr->wake);
		pthread_mutex_destroy(&pr->lock);
		free(pr);
		return NULL;
	}
	return pr;
}

static void
unload(struct predictor *pr)
{
	if (!pr->loaded)
		return;
	forward_workspace_free(pr->ws);
	kv_cache_free(&pr->cache);
	model_free(&pr->model);
	free(pr->logits);
	pr->ws = NULL;
	pr->logits = NULL;
	pr->loaded = 0;
}

void
predictor_free(struct predictor *pr)
{
	if (pr == NULL)
		return;
	if (pr->started) {
		pthread_mutex_lock(&pr->lock);
		pr->quit = 1;
		pthread_cond_signal(&pr->wake);
		pthread_mutex_unlock(&pr->lock);
		pthread_join(pr->thread, NULL);
	}
	free_request(&pr->wanted);
	unload(pr);
	pthread_cond_destroy(&pr->idle);
	pthread_cond_destroy(&pr->wake);
	pthread_mutex_destroy(&pr->lock);
	free(pr);
}

/* The SHA-256 of the file at path; -1 if it cannot be read. */
static int
file_hash(struct predictor *pr, const char *path, char *hex)
{
	struct duo_error err;
	struct known_hash *h;
	struct stat st;
	int i;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	for (i = 0; i < pr->n_hashes; i++) {
		h = &pr->hashes[i];
		if (strcmp(h->path, path) == 0 && h->size == st.st_size &&
		    h->mtime.tv_sec == st.st_mtim.tv_sec &&
		    h->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			memcpy(hex, h->sha256, SHA256_HEX_SIZE);
			return 0;
		}
	}
	if (sha256_file(path, hex, &err) != 0)
		return -1;
	/* The oldest entry makes way. */
	if (pr->n_hashes == N_KNOWN_HASHES) {
		memmove(&pr->hashes[0], &pr->hashes[1],
		    (N_KNOWN_HASHES - 1) * sizeof pr->hashes[0]);
		pr->n_hashes--;
	}
	h = &pr->hashes[pr->n_hashes++];
	snprintf(h->path, sizeof h->path, "%s", path);
	h->size = st.st_size;
	h->mtime = st.st_mtim;
	memcpy(h->sha256, hex, SHA256_HEX_SIZE);
	return 0;
}

/* Load the model at path, made for sha256; -1 with a message. */
static int
load(struct predictor *pr, const char *path, const char *sha256,
    struct predictions *a)
{
	const struct duo_config *c;
	struct duo_error err;

	unload(pr);
	if (model_load(&pr->model, path, &err) != 0) {
		snprintf(a->message, sizeof a->message, "%s", err.message);
		return -1;
	}
	c = &pr->model.config;
	pr->ws = forward_workspace_new(c, c->n_ctx);
	pr->logits = malloc((size_t)c->n_vocab * sizeof *pr->logits);
	if (pr->ws == NULL || pr->logits == NULL ||
	    kv_cache_init(&pr->cache, c, &err) != 0) {
		forward_workspace_free(pr->ws);
		free(pr->logits);
		model_free(&pr->model);
		pr->ws = NULL;
		pr->logits = NULL;
		snprintf(a->message, sizeof a->message, "out of memory "
		    "loading %s", path);
		return -1;
	}
	pr->loaded = 1;
	memcpy(pr->model_sha256, sha256, SHA256_HEX_SIZE);
	return 0;
}

/* A path as the screen shows it: from the working folder when under it. */
static const char *
shown_path(const char *path, char *cwd, size_t size)
{
	size_t n;

	if (getcwd(cwd, size) == NULL)
		return path;
	n = strlen(cwd);
	if (n > 1 && strncmp(path, cwd, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

/*
 * Have the run's model loaded: the file the run names, else the default
 * model, whichever has the run's hash.  -1 with a one-line message.
 */
static int
find_model(struct predictor *pr, const struct request *r,
    struct predictions *a)
{
	const char *fallback = default_model_path(NULL);
	char hex[SHA256_HEX_SIZE], cwd[1024];
	int exists;

	if (pr->loaded && strcmp(pr->model_sha256, r->model_sha256) == 0)
		return 0;
	exists = file_hash(pr, r->model_path, hex) == 0;
	if (exists && strcmp(hex, r->model_sha256) == 0)
		return load(pr, r->model_path, r->model_sha256, a);
	if (strcmp(fallback, r->model_path) != 0 &&
	    file_hash(pr, fallback, hex) == 0 &&
	    strcmp(hex, r->model_sha256) == 0)
		return load(pr, fallback, r->model_sha256, a);
	snprintf(a->message, sizeof a->message, "model %.900s not available "
	    "(%s)", shown_path(r->model_path, cwd, sizeof cwd), exists ?
	    "hash differs" : "no such file");
	return -1;
}

/* Route of position q (1..T) under method at k, parsed into choices. */
static int
route_of(const struct tui_run *run, int method, int k, size_t q,
    uint8_t *choices)
{
	const char *route = run_route(run, method, k, q);
	struct duo_error err;

	return route == NULL ? -1 : route_parse(route, run->L, choices, &err);
}

/*
 * Fill r with the window of position pos, BOS and the tokens before pos
 * in its window, and the route of each position as the run's context
 * mode has them.  -1 with a message in a.
 */
static int
make_request(struct request *r, const struct tui_run *run, int method,
    int k, size_t pos, struct predictions *a)
{
	const struct run_info *info = &run->data.info;
	int L = run->L, i, m;
	size_t per_window, start;
	struct duo_error err;
	uint8_t *own;

	if (info->n_ctx < 2) {
		snprintf(a->message, sizeof a->message, "the run's model has "
		    "a context of %d", info->n_ctx);
		return -1;
	}
	per_window = (size_t)info->n_ctx - 1;
	start = (pos - 1) / per_window * per_window + 1;
	i = (int)(pos - start);         /* the window index predicting pos */
	r->n = i + 1;
	r->L = L;
	r->n_ctx = info->n_ctx;
	r->window = malloc((size_t)r->n * sizeof *r->window);
	r->routes = malloc((size_t)r->n * (size_t)L);
	if (r->window == NULL || r->routes == NULL) {
		snprintf(a->message, sizeof a->message, "out of memory");
		return -1;
	}
	snprintf(r->model_path, sizeof r->model_path, "%s", info->model_path);
	memcpy(r->model_sha256, info->model_sha256, SHA256_HEX_SIZE);
	r->actual = run->data.tokens[pos].token_id;
	r->window[0] = run->data.tokens[0].token_id;
	for (m = 1; m <= i; m++)
		r->window[m] = run->data.tokens[start + (size_t)m - 1].token_id;
	/* Window index m predicts position start + m. */
	own = r->routes + (size_t)i * L;
	if (route_of(run, method, k, pos, own) != 0) {
		snprintf(a->message, sizeof a->message, "%s has no route for "
		    "this token", run->methods[method].name);
		return -1;
	}
	for (m = 0; m < i; m++) {
		uint8_t *route = r->routes + (size_t)m * L;

		if (context_find(info->context) == ORACLE_FIXED) {
			if (info->context_route == NULL)
				memset(route, CHOICE_BIG, (size_t)L);
			else if (route_parse(info->context_route, L, route,
			    &err) != 0) {
				snprintf(a->message, sizeof a->message, "%s",
				    err.message);
				return -1;
			}
		} else if (context_find(info->context) == ORACLE_GREEDY) {
			if (route_of(run, method, k, start + (size_t)m,
			    route) != 0) {
				snprintf(a->message, sizeof a->message,
				    "%s has no route for position %zu",
				    run->methods[method].name,
				    start + (size_t)m);
				return -1;
			}
		} else
			memcpy(route, own, (size_t)L);
	}
	return 0;
}

/* Softmax of the logits: the top few, and the actual token's share. */
static void
rank(struct predictor *pr, int32_t actual, struct predictions *a)
{
	const float *z = pr->logits;
	int V = pr->model.config.n_vocab, v, j, t;
	double max = -INFINITY, sum = 0;
	int top[PREDICT_TOP], n_top = 0;
	size_t length;
	const char *bytes;

	for (v = 0; v < V; v++)
		if (z[v] > max)
			max = z[v];
	for (v = 0; v < V; v++)
		sum += exp(z[v] - max);
	/* Insertion into a short sorted list; ties to the lower id. */
	for (v = 0; v < V; v++) {
		if (n_top == PREDICT_TOP && z[v] <= z[top[n_top - 1]])
			continue;
		j = n_top < PREDICT_TOP ? n_top++ : n_top - 1;
		while (j > 0 && z[top[j - 1]] < z[v]) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = v;
	}
	a->n_top = n_top;
	for (t = 0; t < n_top; t++) {
		a->top[t].token_id = top[t];
		a->top[t].probability = exp(z[top[t]] - max) / sum;
		bytes = tokenizer_piece(pr->model.tokenizer, top[t], &length);
		/* The bytes as they are: the screen escapes them as it
		 * escapes every piece (piece_escape). */
		if (bytes == NULL)
			length = 0;
		if (length > sizeof a->top[t].piece)
			length = sizeof a->top[t].piece;
		memcpy(a->top[t].piece, bytes != NULL ? bytes : "", length);
		a->top[t].piece_length = length;
	}
	a->actual_probability = actual >= 0 && actual < V ?
	    exp(z[actual] - max) / sum : NAN;
	a->actual_rank = 1;
	for (v = 0; v < V; v++)
		if (actual >= 0 && actual < V && (z[v] > z[actual] ||
		    (z[v] == z[actual] && v < actual)))
			a->actual_rank++;
}

/* Answer one request: the model found and loaded, one forward pass. */
static void
answer(struct predictor *pr, const struct request *r, struct predictions *a)
{
	struct duo_error err;
	int n = r->n, L = r->L;

	memset(a, 0, sizeof *a);
	if (find_model(pr, r, a) != 0)
		return;
	if (pr->model.config.n_layer != L || pr->model.config.n_ctx !=
	    r->n_ctx) {
		snprintf(a->message, sizeof a->message, "the model does not "
		    "fit this run");
		return;
	}
	/* Every position but the last without the head; the last with. */
	kv_cache_reset(&pr->cache);
	if ((n > 1 && model_forward(&pr->model, &pr->cache, pr->ws,
	    r->window, n - 1, r->routes, NULL, &err) != 0) ||
	    model_forward(&pr->model, &pr->cache, pr->ws, r->window + n - 1,
	    1, r->routes + (size_t)(n - 1) * L, pr->logits, &err) != 0) {
		snprintf(a->message, sizeof a->message, "%s", err.message);
		return;
	}
	rank(pr, r->actual, a);
	a->ok = 1;
}

/* The thread: answer the latest request, publish, wait for the next. */
static void *
work(void *arg)
{
	struct predictor *pr = arg;
	struct predictions a;
	struct request r;

	pthread_mutex_lock(&pr->lock);
	while (!pr->quit) {
		if (!pr->have_wanted) {
			pthread_cond_wait(&pr->wake, &pr->lock);
			continue;
		}
		r = pr->wanted;
		memset(&pr->wanted, 0, sizeof pr->wanted);
		pr->have_wanted = 0;
		pr->working = r.q;
		pr->is_working = 1;
		pthread_mutex_unlock(&pr->lock);

		answer(pr, &r, &a);
		free_request(&r);

		pthread_mutex_lock(&pr->lock);
		pr->answer = a;
		pr->answered = r.q;
		pr->have_answer = 1;
		pr->is_working = 0;
		pr->published++;
		pthread_cond_broadcast(&pr->idle);
	}
	pthread_mutex_unlock(&pr->lock);
	return NULL;
}

/* Publish an answer found without the thread (no route, say). */
static void
publish(struct predictor *pr, const struct question *q,
    const struct predictions *a)
{
	pthread_mutex_lock(&pr->lock);
	pr->answer = *a;
	pr->answered = *q;
	pr->have_answer = 1;
	pr->published++;
	pthread_mutex_unlock(&pr->lock);
}

const struct predictions *
predictor_get(struct predictor *pr, const struct tui_run *run, int method,
    int k, size_t pos)
{
	struct predictions *a = &pr->shown;
	struct question q;
	struct request r;
	int pending;

	if (!run->methods[method].budgeted)
		k = 0;
	memset(&q, 0, sizeof q);
	q.run_id = run->data.info.id;
	q.method = method;
	q.k = k;
	q.pos = pos;
	pthread_mutex_lock(&pr->lock);
	if (pr->have_answer && same_question(&pr->answered, &q)) {
		*a = pr->answer;
		pthread_mutex_unlock(&pr->lock);
		return a;
	}
	pending = (pr->have_wanted && same_question(&pr->wanted.q, &q)) ||
	    (pr->is_working && same_question(&pr->working, &q));
	pthread_mutex_unlock(&pr->lock);

	memset(a, 0, sizeof *a);
	a->pending = 1;
	snprintf(a->message, sizeof a->message, "%s", pr->started ?
	    "computing..." : "loading the model...");
	if (pending)
		return a;
	memset(&r, 0, sizeof r);
	r.q = q;
	if (pos < 1 || pos > run->T || make_request(&r, run, method, k, pos,
	    a) != 0) {
		free_request(&r);
		a->pending = 0;
		publish(pr, &q, a);
		return a;
	}
	pthread_mutex_lock(&pr->lock);
	free_request(&pr->wanted);
	pr->wanted = r;
	pr->have_wanted = 1;
	pthread_cond_signal(&pr->wake);
	if (!pr->started) {
		if (pthread_create(&pr->thread, NULL, work, pr) == 0)
			pr->started = 1;
		else {
			free_request(&pr->wanted);
			pr->have_wanted = 0;
			a->pending = 0;
			snprintf(a->message, sizeof a->message, "cannot start "
			    "a thread for the model");
		}
	}
	pthread_mutex_unlock(&pr->lock);
	return a;
}

int
predictor_busy(struct predictor *pr)
{
	int busy;

	if (pr == NULL)
		return 0;
	pthread_mutex_lock(&pr->lock);
	busy = pr->have_wanted || pr->is_working;
	pthread_mutex_unlock(&pr->lock);
	return busy;
}

int
predictor_poll(struct predictor *pr)
{
	int news;

	if (pr == NULL)
		return 0;
	pthread_mutex_lock(&pr->lock);
	news = pr->published != pr->seen;
	pr->seen = pr->published;
	pthread_mutex_unlock(&pr->lock);
	return news;
}

void
predictor_wait(struct predictor *pr)
{
	if (pr == NULL)
		return;
	pthread_mutex_lock(&pr->lock);
	while (pr->started && (pr->have_wanted || pr->is_working))
		pthread_cond_wait(&pr->idle, &pr->lock);
	pthread_mutex_unlock(&pr->lock);
}

/* ---- the predictor as the app's worker --------------------------------- */

/* Free the predictor; the detail pane makes it on its first request. */
static void
worker_stop(struct app *app)
{
	predictor_free(app->predictor);
	app->predictor = NULL;
}

/* Is an answer being computed? */
static int
worker_busy(struct app *app)
{
	return predictor_busy(app->predictor);
}

/* Has an answer come since the last poll? */
static int
worker_poll(struct app *app)
{
	return predictor_poll(app->predictor);
}

/* Wait until every request is answered. */
static void
worker_settle(struct app *app)
{
	predictor_wait(app->predictor);
}

const struct worker_ops predictor_worker = {
	.name = "predictions",
	.stop = worker_stop,
	.busy = worker_busy,
	.poll = worker_poll,
	.settle = worker_settle,
};
