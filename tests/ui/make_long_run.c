/*
 * make_long_run.c - add one synthetic run (synthetic.c) of a chosen
 * length and layer count to a database, for the screen tests that need
 * a text longer than a window: scrolling the text and the route map.
 *
 * usage: make_long_run TEXT DB TOKENS LAYERS LABEL [ROUTERS]   (the run
 * is added to DB, which is made if missing, with ROUTERS learned routers,
 * 2 by default; exit 0, or 1 on error)
 */
#include <stdio.h>
#include <stdlib.h>

#include "store.h"
#include "../synthetic.h"

int
main(int argc, char **argv)
{
	struct synthetic_options options = {
		.space = "BS", .n_ctx = 64, .n_routers = 2, .keep_tables = 0,
		.seed = 11, .model_name = "duo-long",
	};
	struct synthetic_run run;
	struct store *store;
	struct duo_error err;
	size_t length;
	char *text;
	int64_t id;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: make_long_run TEXT DB TOKENS LAYERS "
		    "LABEL [ROUTERS]\n");
		return 1;
	}
	if (argc == 7)
		options.n_routers = atoi(argv[6]);
	options.n_tokens = (size_t)strtoul(argv[3], NULL, 10);
	options.n_layer = atoi(argv[4]);
	text = synthetic_read_file(argv[1], &length);
	if (text == NULL) {
		fprintf(stderr, "make_long_run: cannot read %s\n", argv[1]);
		return 1;
	}
	if (synthetic_run_make(&run, text, length, &options) != 0) {
		fprintf(stderr, "make_long_run: %s has fewer than %zu words, "
		    "or %d layers is not 1 to 16\n", argv[1],
		    options.n_tokens, options.n_layer);
		return 1;
	}
	run.record.label = argv[5];
	run.record.created_at = "2024-06-01T09:00:00Z";
	run.record.source = "tests/texts/harbour.txt";
	if (store_open(&store, argv[2], 0, &err) != 0 ||
	    store_write_run(store, &run.record, &id, &err) != 0) {
		fprintf(stderr, "make_long_run: %s\n", err.message);
		return 1;
	}
	store_close(store);
	synthetic_run_free(&run);
	free(text);
	return 0;
}
