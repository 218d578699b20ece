/*
 * make_test_db.c - write the small database that the example queries of
 * duo-db(5) are checked against: three synthetic runs, the same every
 * time (fixed seeds and timestamps), two of one model and one of another.
 *
 * usage: make_test_db TEXT DB [odd|label-free]   (DB is replaced; exit 0,
 * or 1 on error).  With "odd", a fourth run has pieces that are hard to
 * write out: quotes, commas, a tab, a newline, a NUL, bytes that are not
 * UTF-8, a four-byte character, a backslash and a control character.
 * With "label-free", the runs have oracle_free and shuffled too, and a
 * fourth run of another seed is stored as the null-model control of the
 * first (runs.control_of), for the Findings view.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "synthetic.h"

struct example_run {
	const char *model;
	const char *label;
	const char *created_at;
	const char *context;
	const char *context_route;
	size_t skip_words;        /* where in the text the run starts */
	uint64_t seed;
};

static const struct example_run example_runs[] = {
	{ "duo-tiny-a", "ferry", "2024-05-01T10:00:00Z", "shared", NULL, 0, 1 },
	{ "duo-tiny-a", "island", "2024-05-02T11:30:00Z", "fixed", "BBBBBB",
	  120, 2 },
	{ "duo-tiny-b", "other model", "2024-05-03T08:15:00Z", "greedy", NULL,
	  60, 3 },
};

static int
write_odd_run(struct store *store, struct synthetic_options *options)
{
	/* Ten words, split at spaces and newlines as synthetic.c does. */
	static const char odd[] = "say \"hi\", tab\there new\nline nul\0byte "
	    "bad\xff\xfe emoji\xf0\x9f\x98\x80 back\\slash \x01" "ctl";
	struct synthetic_run run;
	struct duo_error err;
	int64_t id;

	options->n_tokens = 10;
	options->n_layer = 3;
	options->seed = 4;
	options->model_name = "duo-tiny-c";
	if (synthetic_run_make(&run, odd, sizeof odd - 1, options) != 0) {
		fprintf(stderr, "make_test_db: cannot make the odd run\n");
		return -1;
	}
	run.record.label = "odd \"bytes\"";
	run.record.created_at = "2024-05-04T12:00:00Z";
	run.record.source = "odd\tname.txt";
	if (store_write_run(store, &run.record, &id, &err) != 0) {
		fprintf(stderr, "make_test_db: %s\n", err.message);
		return -1;
	}
	synthetic_run_free(&run);
	return 0;
}

/* A null-model control of run 1: the same text, another seed (made-up
 * numbers, as every run here), linked by control_of. */
static int
write_control_run(struct store *store, const char *text, size_t length,
    struct synthetic_options *options)
{
	struct synthetic_run run;
	struct duo_error err;
	int64_t id;

	options->seed = 99;
	options->model_name = example_runs[0].model;
	if (synthetic_run_make(&run, text, length, options) != 0) {
		fprintf(stderr, "make_test_db: cannot make the control run\n");
		return -1;
	}
	run.record.label = "null control";
	run.record.created_at = "2024-05-04T10:00:00Z";
	run.record.source = "tests/texts/store.txt";
	run.record.control_of = 1;
	if (store_write_run(store, &run.record, &id, &err) != 0) {
		fprintf(stderr, "make_test_db: %s\n", err.message);
		synthetic_run_free(&run);
		return -1;
	}
	synthetic_run_free(&run);
	return 0;
}

int
main(int argc, char **argv)
{
	struct synthetic_options options = {
		.n_layer = 6, .space = "BS", .n_ctx = 32, .n_tokens = 40,
		.n_routers = 1, .keep_tables = 1,
	};
	struct synthetic_run run;
	struct store *store;
	struct duo_error err;
	char *text, wal[4096];
	const char *start;
	size_t length, i, words;
	int64_t id;

	if (argc != 3 && (argc != 4 || (strcmp(argv[3], "odd") != 0 &&
	    strcmp(argv[3], "label-free") != 0))) {
		fprintf(stderr, "usage: make_test_db TEXT DB "
		    "[odd|label-free]\n");
		return 1;
	}
	options.label_free = argc == 4 && strcmp(argv[3], "label-free") == 0;
	text = synthetic_read_file(argv[1], &length);
	if (text == NULL) {
		fprintf(stderr, "make_test_db: cannot read %s\n", argv[1]);
		return 1;
	}
	unlink(argv[2]);
	snprintf(wal, sizeof wal, "%s-wal", argv[2]);
	unlink(wal);
	snprintf(wal, sizeof wal, "%s-shm", argv[2]);
	unlink(wal);
	if (store_open(&store, argv[2], 0, &err) != 0) {
		fprintf(stderr, "make_test_db: %s\n", err.message);
		return 1;
	}
	for (i = 0; i < sizeof example_runs / sizeof example_runs[0]; i++) {
		const struct example_run *e = &example_runs[i];

		/* Start at a word boundary skip_words words in. */
		start = text;
		for (words = 0; words < e->skip_words && *start != '\0'; ) {
			start++;
			if ((*start == ' ' || *start == '\n') &&
			    start[-1] != ' ' && start[-1] != '\n')
				words++;
		}
		options.seed = e->seed;
		options.model_name = e->model;
		if (synthetic_run_make(&run, start, length -
		    (size_t)(start - text), &options) != 0) {
			fprintf(stderr, "make_test_db: cannot make run %zu\n",
			    i + 1);
			return 1;
		}
		run.record.label = e->label;
		run.record.created_at = e->created_at;
		run.record.context = e->context;
		run.record.context_route = e->context_route;
		run.record.source = "tests/texts/store.txt";
		if (store_write_run(store, &run.record, &id, &err) != 0) {
			fprintf(stderr, "make_test_db: %s\n", err.message);
			return 1;
		}
		synthetic_run_free(&run);
	}
	if (argc == 4 && strcmp(argv[3], "odd") == 0 &&
	    write_odd_run(store, &options) != 0)
		return 1;
	if (options.label_free && write_control_run(store, text, length,
	    &options) != 0)
		return 1;
	store_close(store);
	free(text);
	return 0;
}
