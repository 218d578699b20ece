/*
 * cmd_train.c - "duo train": stage 1, a Duo model trained from scratch on
 * a plain-text corpus with random big/small routing.
 *
 * This file owns the loop around train_step(): the command line, the
 * tokenizer and corpus, validation, the progress line or log lines, the
 * CSV log, checkpoints and the stop on SIGINT/SIGTERM.  The numerics are
 * in train.c.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "commands.h"
#include "model.h"
#include "tokenizer.h"
#include "tokenizer_train.h"
#include "train.h"

static const char train_options_help[] =
    "Options:\n"
    "  -d, --data FILE          training corpus, plain text (required)\n"
    "  -o, --out MODEL          model file to write (required); the\n"
    "                           checkpoint is MODEL.ckpt, the log\n"
    "                           MODEL.log.csv\n"
    "      --heldout FILE       validation text (default: the last tenth\n"
    "                           of the corpus, at most 65536 tokens)\n"
    "      --tokenizer MODEL    reuse MODEL's tokenizer instead of\n"
    "                           training one on the corpus\n"
    "      --vocab N            vocabulary size of a new tokenizer (4096)\n"
    "      --layers N           layers (12)\n"
    "      --dim D              width (192); FFN sizes 4D and 4D/16\n"
    "      --heads H            attention heads (D/32: head size 32)\n"
    "      --ctx N              context length and training sequence\n"
    "                           length (256)\n"
    "      --batch B            sequences per step (16)\n"
    "      --micro-batch M      sequences per pass, to bound memory\n"
    "                           (default: as many as make 4096 tokens)\n"
    "      --steps N            optimizer steps (2000)\n"
    "      --lr X               peak learning rate (0.0015)\n"
    "      --min-lr-ratio X     final learning rate / peak (0.1)\n"
    "      --warmup N           steps of linear warm-up (100)\n"
    "      --weight-decay X     AdamW weight decay of matrices (0.1)\n"
    "      --clip X             global gradient norm limit, 0 for none (1)\n"
    "      --p-big P            probability of the big module (0.5)\n"
    "      --p-skip P           probability of skipping the FFN slot; the\n"
    "                           rest go big with --p-big (0)\n"
    "      --seed N             seed of initialisation, data and routes (1)\n"
    "      --resume CKPT        continue a run from its checkpoint; the\n"
    "                           model and training settings come from it\n"
    "                           (only --steps and the options below may\n"
    "                           be given again)\n"
    "      --eval-every N       validate every N steps (100)\n"
    "      --eval-tokens N      validation tokens per route kind (16384)\n"
    "      --checkpoint-every N write MODEL.ckpt every N steps (200)\n"
    "      --log-every N        log line every N steps when standard error\n"
    "                           is not a terminal (10)\n"
    "      --threads N          threads (default: all processors)\n"
    "      --name NAME          general.name of the model (duo)\n"
    "  -q, --quiet              no progress or log lines\n"
    "  -h, --help               show this help and exit\n"
    "\n"
    "Validation reports the mean loss of the held-out windows under\n"
    "all-big (B), all-small (S) and random (R) routes.  SIGINT or SIGTERM\n"
    "writes a checkpoint at the end of the current step and exits 1.\n";

static int cmd_train_exec(int argc, char **argv);

/* "duo train": its row of the command table that duo.c lists. */
const struct command cmd_train_entry = {
	.name = "train",
	.usage = "--data FILE --out MODEL [OPTION]...",
	.summary = "Train a Duo model with random big/small routing",
	.options = train_options_help,
	.exec = cmd_train_exec,
};

/* Options that fix the model or the run's trajectory: refused with
 * --resume, which takes them from the checkpoint. */
enum {
	SET_SHAPE = 1 << 0,
	SET_TRAJECTORY = 1 << 1,
};

enum {
	OPT_HELDOUT = 256, OPT_TOKENIZER, OPT_VOCAB, OPT_LAYERS, OPT_DIM,
	OPT_HEADS, OPT_CTX, OPT_BATCH, OPT_MICRO_BATCH, OPT_STEPS, OPT_LR,
	OPT_MIN_LR_RATIO, OPT_WARMUP, OPT_WEIGHT_DECAY, OPT_CLIP, OPT_P_BIG,
	OPT_P_SKIP, OPT_SEED, OPT_RESUME, OPT_EVAL_EVERY, OPT_EVAL_TOKENS,
	OPT_CHECKPOINT_EVERY, OPT_LOG_EVERY, OPT_THREADS, OPT_NAME,
};

struct train_command {
	const char *data, *out, *heldout, *tokenizer, *resume, *name;
	int vocab, layers, dim, heads, ctx;
	int eval_every, eval_tokens, checkpoint_every, log_every, threads;
	int quiet;
	int set;                   /* SET_* of the options given */
	int steps_given;
	struct train_options options;
};

/* Most tokens held out from the tail of --data when there is no
 * --heldout. */
#define HELDOUT_MAX 65536

static volatile sig_atomic_t stop_signal;

static void
on_signal(int signo)
{
	stop_signal = signo;
}

/* Catch SIGINT and SIGTERM once; a second one kills as usual. */
static void
install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = (int)SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
parse_arguments(struct train_command *tc, const struct command *cmd,
    int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "heldout", required_argument, NULL, OPT_HELDOUT },
		{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
		{ "vocab", required_argument, NULL, OPT_VOCAB },
		{ "layers", required_argument, NULL, OPT_LAYERS },
		{ "dim", required_argument, NULL, OPT_DIM },
		{ "heads", required_argument, NULL, OPT_HEADS },
		{ "ctx", required_argument, NULL, OPT_CTX },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "micro-batch", required_argument, NULL, OPT_MICRO_BATCH },
		{ "steps", required_argument, NULL, OPT_STEPS },
		{ "lr", required_argument, NULL, OPT_LR },
		{ "min-lr-ratio", required_argument, NULL, OPT_MIN_LR_RATIO },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY },
		{ "clip", required_argument, NULL, OPT_CLIP },
		{ "p-big", required_argument, NULL, OPT_P_BIG },
		{ "p-skip", required_argument, NULL, OPT_P_SKIP },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "resume", required_argument, NULL, OPT_RESUME },
		{ "eval-every", required_argument, NULL, OPT_EVAL_EVERY },
		{ "eval-tokens", required_argument, NULL, OPT_EVAL_TOKENS },
		{ "checkpoint-every", required_argument, NULL,
		  OPT_CHECKPOINT_EVERY },
		{ "log-every", required_argument, NULL, OPT_LOG_EVERY },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct train_options *o = &tc->options;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:o:qh", long_options,
	    NULL)) != -1) {
		switch (c) {
		case 'd':
			tc->data = optarg;
			break;
		case 'o':
			tc->out = optarg;
			break;
		case 'q':
			tc->quiet = 1;
			break;
		case 'h':
			print_usage(stdout, cmd);
			exit(EXIT_OK);
		case OPT_HELDOUT:
			tc->heldout = optarg;
			break;
		case OPT_TOKENIZER:
			tc->tokenizer = optarg;
			tc->set |= SET_SHAPE;
			break;
		case OPT_VOCAB:
			tc->vocab = (int)parse_long_option(cmd, "--vocab",
			    optarg, 257, 1 << 20);
			tc->set |= SET_SHAPE;
			break;
		case OPT_LAYERS:
			tc->layers = (int)parse_long_option(cmd, "--layers",
			    optarg, 1, 64);
			tc->set |= SET_SHAPE;
			break;
		case OPT_DIM:
			tc->dim = (int)parse_long_option(cmd, "--dim", optarg,
			    2, 16384);
			tc->set |= SET_SHAPE;
			break;
		case OPT_HEADS:
			tc->heads = (int)parse_long_option(cmd, "--heads",
			    optarg, 1, 1024);
			tc->set |= SET_SHAPE;
			break;
		case OPT_CTX:
			tc->ctx = (int)parse_long_option(cmd, "--ctx", optarg,
			    2, 1 << 16);
			tc->set |= SET_SHAPE;
			break;
		case OPT_BATCH:
			o->batch = (int)parse_long_option(cmd, "--batch",
			    optarg, 1, 1 << 16);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_MICRO_BATCH:
			o->micro_batch = (int)parse_long_option(cmd,
			    "--micro-batch", optarg, 1, 1 << 16);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_STEPS:
			o->steps = (int)parse_long_option(cmd, "--steps",
			    optarg, 1, 1L << 30);
			tc->steps_given = 1;
			break;
		case OPT_LR:
			o->lr = (float)parse_double_option(cmd, "--lr", optarg,
			    1e-9, 10.0);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_MIN_LR_RATIO:
			o->min_lr_ratio = (float)parse_double_option(cmd,
			    "--min-lr-ratio", optarg, 0.0, 1.0);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_WARMUP:
			o->warmup = (int)parse_long_option(cmd, "--warmup",
			    optarg, 0, 1L << 30);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_WEIGHT_DECAY:
			o->weight_decay = (float)parse_double_option(cmd,
			    "--weight-decay", optarg, 0.0, 10.0);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_CLIP:
			o->clip = (float)parse_double_option(cmd, "--clip",
			    optarg, 0.0, 1e9);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_P_BIG:
			o->p_big = (float)parse_double_option(cmd, "--p-big",
			    optarg, 0.0, 1.0);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_P_SKIP:
			o->p_skip = (float)parse_double_option(cmd, "--p-skip",
			    optarg, 0.0, 0.99);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_SEED:
			o->seed = (uint32_t)parse_long_option(cmd, "--seed",
			    optarg, 0, 4294967295L);
			tc->set |= SET_TRAJECTORY;
			break;
		case OPT_RESUME:
			tc->resume = optarg;
			break;
		case OPT_EVAL_EVERY:
			tc->eval_every = (int)parse_long_option(cmd,
			    "--eval-every", optarg, 0, 1L << 30);
			break;
		case OPT_EVAL_TOKENS:
			tc->eval_tokens = (int)parse_long_option(cmd,
			    "--eval-tokens", optarg, 1, 1L << 30);
			break;
		case OPT_CHECKPOINT_EVERY:
			tc->checkpoint_every = (int)parse_long_option(cmd,
			    "--checkpoint-every", optarg, 0, 1L << 30);
			break;
		case OPT_LOG_EVERY:
			tc->log_every = (int)parse_long_option(cmd,
			    "--log-every", optarg, 1, 1L << 30);
			break;
		case OPT_THREADS:
			tc->threads = (int)parse_long_option(cmd, "--threads",
			    optarg, 1, 1024);
			break;
		case OPT_NAME:
			tc->name = optarg;
			break;
		default:
			die_option(cmd, c, argv);
		}
	}
	if (optind < argc)
		die_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (tc->data == NULL)
		die_usage(cmd, "--data is required");
	if (tc->out == NULL)
		die_usage(cmd, "--out is required");
	if (tc->resume != NULL && (tc->set & SET_SHAPE))
		die_usage(cmd, "--resume takes the model and tokenizer from "
		    "the checkpoint; drop --tokenizer, --vocab, --layers, "
		    "--dim, --heads and --ctx");
	if (tc->resume != NULL && (tc->set & SET_TRAJECTORY))
		die_usage(cmd, "--resume continues with the checkpoint's "
		    "training settings; only --steps may change");
}

/* Path + suffix in a fresh string. */
static char *
path_with(const char *path, const char *suffix)
{
	size_t n = strlen(path), m = strlen(suffix);
	char *s = malloc(n + m + 1);

	if (s == NULL)
		die("out of memory");
	memcpy(s, path, n);
	memcpy(s + n, suffix, m + 1);
	return s;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* A new model: tokenizer trained on text (or taken from another model),
 * shape from the options, random weights. */
static void
new_model(struct duo_model *model, const struct train_command *tc,
    const char *text, size_t length)
{
	struct duo_config config;
	struct tokenizer *tok = NULL;
	struct duo_model donor;
	struct duo_error err;

	if (tc->tokenizer != NULL) {
		if (model_load(&donor, tc->tokenizer, &err) != 0)
			die("--tokenizer: %s", err.message);
		tok = donor.tokenizer;
		donor.tokenizer = NULL;
		model_free(&donor);
	} else {
		if (!tc->quiet)
			fprintf(stderr, "%s: training a tokenizer of %d tokens "
			    "on %s\n", program_name, tc->vocab, tc->data);
		if (tokenizer_train(&tok, text, length, tc->vocab, &err) != 0)
			die("%s: %s", tc->data, err.message);
	}
	memset(&config, 0, sizeof config);
	config.n_layer = tc->layers;
	config.d_model = tc->dim;
	config.n_head = tc->heads > 0 ? tc->heads :
	    (tc->dim % 32 == 0 && tc->dim >= 64 ? tc->dim / 32 : 1);
	config.d_ff = 4 * tc->dim;
	config.d_ff_small = config.d_ff / 16 > 0 ? config.d_ff / 16 : 1;
	config.n_vocab = tokenizer_vocab_size(tok);
	config.n_ctx = tc->ctx;
	config.rope_base = 10000.0f;
	config.norm_eps = 1e-5f;
	if (model_alloc(model, &config, 1, &err) != 0) {
		tokenizer_free(tok);
		die("model: %s", err.message);
	}
	model->tokenizer = tok;
	model_init_random(model, tc->options.seed);
	model->name = strdup(tc->name != NULL ? tc->name : "duo");
	if (model->name == NULL)
		die("out of memory");
}

/* Tokenize a whole text; an empty result is an error. */
static void
tokenize(const struct tokenizer *tok, const char *name, const char *text,
    size_t length, int32_t **ids, size_t *n)
{
	struct duo_error err;

	if (tokenizer_encode(tok, text, length, ids, n, NULL, &err) != 0)
		die("%s: %s", name, err.message);
	if (*n == 0)
		die("%s: the text has no tokens", name);
}

struct run_state {
	struct train_eval eval;
	int have_eval;
	int first_step;          /* step at the start of this invocation */
	double start;            /* now_seconds() then */
	int tty;
	FILE *log;
};

/* Columns of the terminal on stderr, 80 when unknown. */
static int
terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* The status line (redrawn, cut to the terminal) or log line of the
 * current step. */
static void
report(const struct train_command *tc, const struct trainer *tr,
    const struct run_state *rs)
{
	char val[96], spent[32], eta[32], line[512];
	int width;
	double elapsed = now_seconds() - rs->start, rate, remaining;
	int done = tr->step - rs->first_step;

	if (tc->quiet)
		return;
	if (!rs->tty && tr->step % tc->log_every != 0 &&
	    tr->step != tr->options.steps)
		return;
	rate = elapsed > 0 ? (double)done * tr->options.batch *
	    tr->model->config.n_ctx / elapsed : 0.0;
	remaining = done > 0 ? elapsed / done *
	    (tr->options.steps - tr->step) : 0.0;
	format_duration(spent, sizeof spent, tr->seconds);
	format_duration(eta, sizeof eta, remaining);
	if (rs->have_eval)
		snprintf(val, sizeof val, "val B %.3f S %.3f R %.3f",
		    rs->eval.big, rs->eval.small, rs->eval.random);
	else
		snprintf(val, sizeof val, "val -");
	snprintf(line, sizeof line, "step %d/%d  loss %.4f  %s  %.0f tok/s  "
	    "%s elapsed  ETA %s  lr %.2e", tr->step, tr->options.steps,
	    tr->last_loss, val, rate, spent, eta, tr->last_lr);
	if (rs->tty) {
		width = terminal_width() - 1;
		if (width > 0 && width < (int)sizeof line)
			line[width] = '\0';
		fprintf(stderr, "\r\033[K%s", line);
	} else {
		fprintf(stderr, "%s\n", line);
	}
	fflush(stderr);
}

/*
 * Open the CSV log: a new one with its header, or on resume the old one
 * cut back to the checkpoint's step, so that steps run after the last
 * checkpoint of a killed run are not listed twice.
 */
static FILE *
open_log(const char *path, int resume, int step)
{
	struct duo_error err;
	char *old = NULL, *line, *next;
	size_t length;
	FILE *f;

	if (resume && read_input(path, &old, &length, &err) != 0)
		old = NULL;
	f = fopen(path, "w");
	if (f == NULL)
		die("%s: cannot write the log", path);
	if (old == NULL) {
		fprintf(f, "step,lr,train_loss,val_big,val_small,val_random,"
		    "tokens_seen,seconds\n");
		return f;
	}
	for (line = old; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next != NULL ? next + 1 : line + strlen(line);
		if (line == old || atoi(line) <= step)
			fwrite(line, 1, (size_t)(next - line), f);
	}
	free(old);
	return f;
}

/* One CSV row; validation columns empty when there was none this step. */
static void
log_row(struct run_state *rs, const struct trainer *tr, int step,
    int evaluated, int trained)
{
	if (rs->log == NULL)
		return;
	fprintf(rs->log, "%d,", step);
	if (trained)
		fprintf(rs->log, "%.6g,%.6f,", tr->last_lr, tr->last_loss);
	else
		fprintf(rs->log, ",,");
	if (evaluated)
		fprintf(rs->log, "%.6f,%.6f,%.6f,", rs->eval.big,
		    rs->eval.small, rs->eval.random);
	else
		fprintf(rs->log, ",,,");
	fprintf(rs->log, "%llu,%.3f\n", (unsigned long long)tr->tokens_seen,
	    tr->seconds);
	fflush(rs->log);
}

static void
validate(struct run_state *rs, const struct trainer *tr,
    const int32_t *heldout, size_t n_heldout, int windows)
{
	struct duo_error err;

	if (train_evaluate(tr->model, heldout, n_heldout, tr->bos, windows,
	    tr->options.p_big, tr->options.p_skip, tr->options.seed, &rs->eval,
	    &err) != 0)
		die("%s", err.message);
	rs->have_eval = 1;
}

static void
save_checkpoint(struct trainer *tr, const char *path)
{
	struct duo_error err;

	if (train_checkpoint_save(tr, path, &err) != 0)
		die("checkpoint: %s", err.message);
}

/* Train a Duo model on a text corpus. */
static int
cmd_train_exec(int argc, char **argv)
{
	const struct command *cmd = &cmd_train_entry;
	struct train_command tc;
	struct duo_model model;
	struct trainer tr;
	struct run_state rs;
	struct duo_error err;
	char *text = NULL, *heldout_text = NULL, *ckpt_path, *log_path;
	size_t length, heldout_length, n_tokens, n_train, n_heldout;
	int32_t *tokens = NULL, *heldout_tokens = NULL;
	const int32_t *heldout;
	int windows, evaluated;
	double t0;

	memset(&tc, 0, sizeof tc);
	tc.vocab = 4096;
	tc.layers = 12;
	tc.dim = 192;
	tc.ctx = 256;
	tc.eval_every = 100;
	tc.eval_tokens = 16384;
	tc.checkpoint_every = 200;
	tc.log_every = 10;
	train_options_default(&tc.options);
	parse_arguments(&tc, cmd, argc, argv);
	if (tc.resume == NULL && tc.heads > 0 && tc.dim % tc.heads != 0)
		die_usage(cmd, "--dim %d is not a multiple of --heads %d",
		    tc.dim, tc.heads);
#ifdef _OPENMP
	if (tc.threads > 0)
		omp_set_num_threads(tc.threads);
#endif
	ckpt_path = path_with(tc.out, ".ckpt");
	log_path = path_with(tc.out, ".log.csv");

	if (read_input(tc.data, &text, &length, &err) != 0)
		die("%s", err.message);
	if (length == 0)
		die("%s: the corpus is empty", tc.data);
	if (tc.heldout != NULL && read_input(tc.heldout, &heldout_text,
	    &heldout_length, &err) != 0)
		die("%s", err.message);

	if (tc.resume != NULL) {
		int steps = tc.options.steps;

		if (train_checkpoint_options(tc.resume, &tc.options, &err) != 0)
			die("%s", err.message);
		if (tc.steps_given)
			tc.options.steps = steps;
		if (model_load(&model, tc.resume, &err) != 0)
			die("%s", err.message);
	} else {
		if (train_options_validate(&tc.options, &err) != 0)
			die_usage(cmd, "%s", err.message);
		new_model(&model, &tc, text, length);
	}
	free(model.training.corpus);
	model.training.corpus = strdup(base_name(tc.data));

	tokenize(model.tokenizer, tc.data, text, length, &tokens, &n_tokens);
	free(text);
	if (heldout_text != NULL) {
		tokenize(model.tokenizer, tc.heldout, heldout_text,
		    heldout_length, &heldout_tokens, &n_heldout);
		free(heldout_text);
		heldout = heldout_tokens;
		n_train = n_tokens;
	} else {
		/* The tail of the corpus, never trained on; its size depends
		 * on the corpus alone, so that a resumed run trains on the
		 * same tokens whatever --eval-tokens says. */
		n_heldout = n_tokens / 10 < HELDOUT_MAX ? n_tokens / 10 :
		    HELDOUT_MAX;
		if (n_heldout == 0)
			n_heldout = 1;
		n_train = n_tokens - n_heldout;
		heldout = tokens + n_train;
	}
	if (n_train < (size_t)model.config.n_ctx)
		die("%s: %zu training tokens; a training sequence needs %d "
		    "(--ctx)", tc.data, n_train, model.config.n_ctx);
	windows = tc.eval_tokens / (model.config.n_ctx - 1);
	if (windows < 1)
		windows = 1;

	if (trainer_init(&tr, &model, &tc.options, tokens, n_train,
	    tokenizer_bos(model.tokenizer), &err) != 0)
		die("%s", err.message);
	if (tc.resume != NULL && train_checkpoint_restore(&tr, tc.resume,
	    &err) != 0)
		die("%s", err.message);
	if (tr.step >= tc.options.steps)
		die("%s: already trained for %d steps; give a larger --steps "
		    "to continue", tc.resume, tr.step);

	memset(&rs, 0, sizeof rs);
	rs.tty = isatty(STDERR_FILENO);
	rs.first_step = tr.step;
	rs.start = now_seconds();
	rs.log = open_log(log_path, tc.resume != NULL, tr.step);
	if (!tc.quiet)
		fprintf(stderr, "%s: %s%s: %d layers, width %d, %d heads, "
		    "vocabulary %d, context %d, %zu parameters; %zu training "
		    "tokens, %zu held out; %d threads, %zu MB\n", program_name,
		    tc.resume != NULL ? "resuming " : "", tc.out,
		    model.config.n_layer, model.config.d_model,
		    model.config.n_head, model.config.n_vocab,
		    model.config.n_ctx, model.n_params, n_train, n_heldout,
		    tr.threads, tr.bytes >> 20);
	if (tr.step == 0) {
		t0 = now_seconds();
		validate(&rs, &tr, heldout, n_heldout, windows);
		tr.seconds += now_seconds() - t0;
		log_row(&rs, &tr, 0, 1, 0);
	}

	install_signal_handlers();
	while (tr.step < tc.options.steps) {
		t0 = now_seconds();
		if (train_step(&tr, NULL, &err) != 0) {
			save_checkpoint(&tr, ckpt_path);
			die("%s", err.message);
		}
		evaluated = (tc.eval_every > 0 && tr.step % tc.eval_every == 0)
		    || tr.step == tc.options.steps;
		if (evaluated)
			validate(&rs, &tr, heldout, n_heldout, windows);
		tr.seconds += now_seconds() - t0;
		log_row(&rs, &tr, tr.step, evaluated, 1);
		report(&tc, &tr, &rs);
		if ((tc.checkpoint_every > 0 &&
		    tr.step % tc.checkpoint_every == 0) || stop_signal)
			save_checkpoint(&tr, ckpt_path);
		if (stop_signal) {
			if (rs.tty && !tc.quiet)
				fputc('\n', stderr);
			die("stopped by signal %d after step %d; checkpoint "
			    "in %s (continue with --resume %s)",
			    (int)stop_signal, tr.step, ckpt_path, ckpt_path);
		}
	}
	if (rs.tty && !tc.quiet)
		fputc('\n', stderr);

	save_checkpoint(&tr, ckpt_path);
	model.training.p_big = tc.options.p_big;
	model.training.p_skip = tc.options.p_skip;
	model.training.seed = tc.options.seed;
	model.training.tokens_seen = tr.tokens_seen;
	if (model_save(&model, tc.out, GGUF_TENSOR_F32, &err) != 0)
		die("%s", err.message);
	if (!tc.quiet)
		fprintf(stderr, "%s: wrote %s after %d steps, %llu tokens; "
		    "validation B %.4f S %.4f R %.4f\n", program_name, tc.out,
		    tr.step, (unsigned long long)tr.tokens_seen, rs.eval.big,
		    rs.eval.small, rs.eval.random);
	if (fclose(rs.log) != 0)
		die("%s: write error", log_path);
	trainer_free(&tr);
	model_free(&model);
	free(tokens);
	free(heldout_tokens);
	free(ckpt_path);
	free(log_path);
	return EXIT_OK;
}
