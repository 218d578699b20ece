/*
 * test_names.c - the tables of names.h against everything else that
 * spells the names: the database schema's CHECK constraints (whose text
 * stays byte-identical, so they are read, not generated), the store's
 * checks of a run, duo(1)'s list of methods and its -s and -c options and
 * method command, and duo-db(5)'s glossary.  A method added to the table
 * and not to them, or the reverse, fails here.
 *
 * Needs $srcdir (or the current folder) for the man pages and
 * tests/texts/store.txt; works in a fresh folder under $TMPDIR.
 * Exit 0 pass, 1 fail, 99 on a setup failure.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "store.h"
#include "synthetic.h"

#define MAX_NAMES 32

static int failures, checks;

static void
expect(bool ok, const char *what, const char *detail)
{
	checks++;
	if (!ok) {
		failures++;
		printf("FAIL %s%s%s\n", what, detail != NULL ? ": " : "",
		    detail != NULL ? detail : "");
	}
}

/* A list of names read from somewhere, to compare with a table. */
struct names {
	char name[MAX_NAMES][64];
	char description[MAX_NAMES][256];
	int n;
};

static void
names_add(struct names *list, const char *name, size_t length)
{
	if (list->n == MAX_NAMES)
		return;
	if (length >= sizeof list->name[0])
		length = sizeof list->name[0] - 1;
	memcpy(list->name[list->n], name, length);
	list->name[list->n][length] = '\0';
	list->description[list->n][0] = '\0';
	list->n++;
}

static bool
names_has(const struct names *list, const char *name)
{
	int i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->name[i], name) == 0)
			return true;
	return false;
}

/* A method's name as the documents write it: router:NAME. */
static void
method_spelling(int id, char *out, size_t size)
{
	snprintf(out, size, "%s%s", method_table[id].name,
	    method_table[id].named ? "NAME" : "");
}

/* Whether the list and the table's names are the same set. */
static bool
same_set(const struct names *got, const char *const *want, int n)
{
	int i;

	if (got->n != n)
		return false;
	for (i = 0; i < n; i++)
		if (!names_has(got, want[i]))
			return false;
	return true;
}

/* Compare a list read from a document with a table's names, in order. */
static void
expect_same_names(const struct names *got, const char *const *want, int n,
    const char *what)
{
	char detail[512];
	int i;

	for (i = 0; i < n || i < got->n; i++) {
		snprintf(detail, sizeof detail, "entry %d is '%s', the table "
		    "has '%s'", i + 1, i < got->n ? got->name[i] : "(none)",
		    i < n ? want[i] : "(none)");
		if (i >= n || i >= got->n || strcmp(got->name[i], want[i]) != 0) {
			expect(false, what, detail);
			return;
		}
	}
	expect(true, what, NULL);
}

/* Every quoted 'name' in text after each occurrence of lead. */
static void
quoted_after(const char *text, const char *lead, struct names *out)
{
	const char *p = text, *end;

	while ((p = strstr(p, lead)) != NULL) {
		p += strlen(lead);
		if (*p != '\'' || (end = strchr(p + 1, '\'')) == NULL)
			continue;
		names_add(out, p + 1, (size_t)(end - p - 1));
		p = end + 1;
	}
}

/* The SQL that created a table, from a database duo made. */
static char *
table_sql(sqlite3 *db, const char *table)
{
	sqlite3_stmt *stmt;
	char *sql = NULL;

	if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE "
	    "name = ?", -1, &stmt, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		sql = strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	return sql;
}

/* "column IN ('a', 'b', ...)" into out. */
static void
in_list(char *out, size_t size, const char *column, const char *const *names,
    int n)
{
	size_t used;
	int i;

	used = (size_t)snprintf(out, size, "%s IN (", column);
	for (i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s'%s'",
		    i > 0 ? ", " : "", names[i]);
	if (used < size)
		snprintf(out + used, size - used, ")");
}

/* The CHECK constraints of the schema name the same methods, spaces and
 * contexts as the tables. */
static void
check_schema(const char *db_path)
{
	const char *want[N_METHODS + N_ROUTE_SPACES + N_CONTEXTS];
	struct names got;
	sqlite3 *db;
	char *results, *runs, *means, pattern[128];
	int i, n;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		expect(false, "open the new database", sqlite3_errmsg(db));
		sqlite3_close(db);
		return;
	}
	results = table_sql(db, "results");
	runs = table_sql(db, "runs");
	means = table_sql(db, "run_means");
	sqlite3_close(db);
	if (results == NULL || runs == NULL || means == NULL) {
		expect(false, "the schema has results, runs and run_means",
		    NULL);
		goto done;
	}

	/* results.method: WHEN 'name' THEN 1 per method of one name, GLOB
	 * 'prefix?*' per named one, in the table's order */
	memset(&got, 0, sizeof got);
	quoted_after(results, "WHEN ", &got);
	for (i = n = 0; i < N_METHODS; i++)
		if (!method_table[i].named)
			want[n++] = method_table[i].name;
	expect(same_set(&got, want, n), "the results CHECK lists the methods "
	    "of the table", NULL);
	for (i = 0; i < N_METHODS; i++) {
		if (!method_table[i].named)
			continue;
		snprintf(pattern, sizeof pattern, "method GLOB '%s?*'",
		    method_table[i].name);
		expect(strstr(results, pattern) != NULL, "the results CHECK "
		    "allows the named method", pattern);
	}
	/* results.route: NULL exactly for the methods without a route */
	memset(&got, 0, sizeof got);
	quoted_after(results, "(route IS NULL) = (method = ", &got);
	for (i = n = 0; i < N_METHODS; i++)
		if (!method_table[i].has_route)
			want[n++] = method_table[i].name;
	expect(same_set(&got, want, n), "the results CHECK leaves the route "
	    "NULL for the methods without one", NULL);
	/* run_means.budget: NULL for best, which is held to no budget */
	memset(&got, 0, sizeof got);
	quoted_after(means, "(budget IS NULL) = (method = ", &got);
	want[0] = method_table[METHOD_BEST].name;
	expect_same_names(&got, want, 1, "run_means leaves best's budget "
	    "NULL");
	expect(!method_table[METHOD_BEST].per_budget, "best is held to no "
	    "budget in the table", NULL);

	/* runs.space and runs.context: IN ('a', 'b', ...), exactly */
	for (i = 0; i < N_ROUTE_SPACES; i++)
		want[i] = route_space_names[i].name;
	in_list(pattern, sizeof pattern, "space", want, N_ROUTE_SPACES);
	expect(strstr(runs, pattern) != NULL, "the runs CHECK lists the "
	    "route spaces", pattern);
	for (i = 0; i < N_CONTEXTS; i++)
		want[i] = context_names[i].name;
	in_list(pattern, sizeof pattern, "context", want, N_CONTEXTS);
	expect(strstr(runs, pattern) != NULL, "the runs CHECK lists the "
	    "context modes", pattern);
	snprintf(pattern, sizeof pattern, "(context = '%s')",
	    context_names[ORACLE_FIXED].name);
	expect(strstr(runs, pattern) != NULL, "the context route goes with "
	    "the fixed mode", pattern);
done:
	free(results);
	free(runs);
	free(means);
}

/* The store writes a run with every method of the table and refuses a
 * name that is not one, or a route where the table has none. */
static void
check_store(struct store *store, const char *text, size_t length)
{
	struct synthetic_options o = {
		.n_layer = 4, .space = "BS", .n_ctx = 16, .n_tokens = 20,
		.n_routers = 1, .keep_tables = 0, .seed = 7,
		.model_name = "names", .label_free = 1,
	};
	struct synthetic_run run;
	struct result_record *results;
	struct duo_error err;
	struct names seen;
	const char *method, *route = NULL;
	int64_t id;
	size_t i, j;
	int m;

	if (synthetic_run_make(&run, text, length, &o) != 0) {
		expect(false, "make a synthetic run", NULL);
		return;
	}
	memset(&seen, 0, sizeof seen);
	for (i = 0; i < run.record.n_results; i++) {
		m = method_find(run.record.results[i].method);
		if (m < 0)
			break;
		if (!names_has(&seen, method_table[m].name))
			names_add(&seen, method_table[m].name,
			    strlen(method_table[m].name));
	}
	expect(i == run.record.n_results, "the synthetic run's methods are "
	    "in the table", i < run.record.n_results ?
	    run.record.results[i].method : NULL);
	for (m = 0; m < N_METHODS; m++)
		expect(names_has(&seen, method_table[m].name), "the synthetic "
		    "run has the method", method_table[m].name);
	expect(store_write_run(store, &run.record, &id, &err) == 0,
	    "the store writes every method of the table", err.message);

	/* the same run with one name the table lacks, then with a route on
	 * a method that has none */
	results = run.results;
	for (i = 0; i < run.record.n_results; i++)
		if (!method_table[method_find(results[i].method)].has_route)
			break;
	for (j = 0; j < run.record.n_results && route == NULL; j++)
		route = results[j].route;
	if (i == run.record.n_results || route == NULL) {
		expect(false, "the synthetic run has methods with and without "
		    "a route", NULL);
		goto done;
	}
	method = results[0].method;
	results[0].method = "worst";
	expect(store_write_run(store, &run.record, &id, &err) != 0 &&
	    strstr(err.message, "is not a method") != NULL,
	    "the store refuses a method not in the table", err.message);
	results[0].method = method;
	results[i].route = route;
	expect(store_write_run(store, &run.record, &id, &err) != 0 &&
	    strstr(err.message, "has no route") != NULL, "the store refuses "
	    "a route on a method without one", err.message);
done:
	synthetic_run_free(&run);
}

/* A man page whole, NUL-terminated, as lines. */
static char *
read_page(const char *srcdir, const char *name)
{
	char path[1024];
	size_t length;

	snprintf(path, sizeof path, "%s/man/%s", srcdir, name);
	return synthetic_read_file(path, &length);
}

/* The line after the one starting with prefix, from text, or NULL. */
static const char *
line_starting(const char *text, const char *prefix)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			return p;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* Copy the rest of the line at p into out. */
static void
copy_line(const char *p, char *out, size_t size)
{
	size_t n = strcspn(p, "\n");

	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The names of "Cm a | b | c" after a line's prefix. */
static void
alternatives(const char *text, const char *prefix, struct names *out)
{
	const char *p = line_starting(text, prefix);
	char line[256], *word;

	memset(out, 0, sizeof *out);
	if (p == NULL)
		return;
	copy_line(p + strlen(prefix), line, sizeof line);
	for (word = strtok(line, " "); word != NULL; word = strtok(NULL, " "))
		if (strcmp(word, "|") != 0)
			names_add(out, word, strlen(word));
}

/* duo(1): the run command's list of methods, name and description as in
 * the table; its -s and -c options; the browser's method command. */
static void
check_duo_1(const char *page)
{
	const char *want[N_METHODS], *p, *q;
	struct names got;
	char line[512], spelling[64], detail[640];
	int i;

	p = line_starting(page, ".Bl -tag -width random_best");
	expect(p != NULL, "duo(1) has the list of methods", NULL);
	if (p == NULL)
		return;
	memset(&got, 0, sizeof got);
	for (p = strchr(p, '\n') + 1; strncmp(p, ".El", 3) != 0;
	    p = strchr(q, '\n') + 1) {
		copy_line(p, line, sizeof line);
		q = strchr(p, '\n') + 1;
		if (strncmp(line, ".It Cm ", 7) != 0)
			continue;
		/* ".It Cm router: Ns Ar NAME" is the named method */
		if (strstr(line, " Ns Ar ") != NULL)
			*strstr(line, " Ns Ar ") = '\0';
		names_add(&got, line + 7, strlen(line + 7));
		copy_line(q, got.description[got.n - 1],
		    sizeof got.description[0]);
	}
	for (i = 0; i < N_METHODS; i++)
		want[i] = method_table[i].name;
	expect_same_names(&got, want, N_METHODS, "duo(1) lists the methods "
	    "of the table");
	for (i = 0; i < N_METHODS && i < got.n; i++) {
		snprintf(detail, sizeof detail, "%s: '%s', the table has '%s'",
		    want[i], got.description[i], method_table[i].description);
		expect(strcmp(got.description[i],
		    method_table[i].description) == 0, "duo(1) describes the "
		    "method as the table does", detail);
	}

	alternatives(page, ".It Fl s , Fl \\-space Cm ", &got);
	for (i = 0; i < N_ROUTE_SPACES; i++)
		want[i] = route_space_names[i].name;
	expect_same_names(&got, want, N_ROUTE_SPACES, "duo(1)'s run -s lists "
	    "the route spaces");
	alternatives(page, ".It Fl c , Fl \\-context Cm ", &got);
	for (i = 0; i < N_CONTEXTS; i++)
		want[i] = context_names[i].name;
	expect_same_names(&got, want, N_CONTEXTS, "duo(1)'s run -c lists "
	    "the context modes");

	p = line_starting(page, "Choose a method: ");
	expect(p != NULL, "duo(1) has the browser's method command", NULL);
	if (p == NULL)
		return;
	copy_line(p, line, sizeof line);
	for (i = 0; i < N_METHODS; i++) {
		method_spelling(i, spelling, sizeof spelling);
		expect(strstr(line, spelling) != NULL, "duo(1)'s method "
		    "command names the method", spelling);
	}
}

/* The .Ql words of a glossary item of duo-db(5), up to the next item. */
static void
glossary_words(const char *page, const char *item, struct names *out)
{
	const char *p = line_starting(page, item), *q;
	char line[256], *end;

	memset(out, 0, sizeof *out);
	if (p == NULL)
		return;
	for (p = strchr(p, '\n') + 1; *p != '\0' && strncmp(p, ".It ", 4) !=
	    0 && strncmp(p, ".El", 3) != 0; p = q) {
		q = strchr(p, '\n');
		q = q != NULL ? q + 1 : p + strlen(p);
		if (strncmp(p, ".Ql ", 4) != 0)
			continue;
		copy_line(p + 4, line, sizeof line);
		end = strchr(line, ' ');
		if (end != NULL)
			*end = '\0';
		names_add(out, line, strlen(line));
	}
}

/* duo-db(5): the glossary names every method and space, and the runs
 * table's context column every context mode. */
static void
check_duo_db_5(const char *page)
{
	struct names got;
	char spelling[64];
	int i;

	glossary_words(page, ".It method", &got);
	for (i = 0; i < N_METHODS; i++) {
		method_spelling(i, spelling, sizeof spelling);
		expect(names_has(&got, spelling), "duo-db(5) names the method",
		    spelling);
	}
	glossary_words(page, ".It space", &got);
	for (i = 0; i < N_ROUTE_SPACES; i++)
		expect(names_has(&got, route_space_names[i].name), "duo-db(5) "
		    "names the route space", route_space_names[i].name);
	glossary_words(page, ".It Va context No (text)", &got);
	for (i = 0; i < N_CONTEXTS; i++)
		expect(names_has(&got, context_names[i].name), "duo-db(5) names "
		    "the context mode", context_names[i].name);
}

/* The tables themselves: distinct names, a description each, and the
 * lookups finding every row. */
static void
check_tables(void)
{
	char stored[64];
	int i, j;

	for (i = 0; i < N_METHODS; i++) {
		snprintf(stored, sizeof stored, "%s%s", method_table[i].name,
		    method_table[i].named ? "probe" : "");
		expect(method_find(stored) == i, "method_find finds the method",
		    stored);
		expect(method_table[i].description != NULL &&
		    method_table[i].description[0] != '\0', "the method has a "
		    "description", method_table[i].name);
		for (j = 0; j < i; j++)
			expect(strcmp(method_table[i].name,
			    method_table[j].name) != 0, "method names are "
			    "distinct", method_table[i].name);
	}
	expect(method_find("worst") == -1, "method_find refuses a name not in "
	    "the table", NULL);
	for (i = 0; i < N_CONTEXTS; i++)
		expect(context_find(context_names[i].name) == i &&
		    context_names[i].description != NULL, "context_find finds "
		    "the context mode", context_names[i].name);
	for (i = 0; i < N_ROUTE_SPACES; i++)
		expect(route_space_names[i].description != NULL, "the route "
		    "space has a description", route_space_names[i].name);
}

int
main(void)
{
	const char *srcdir = getenv("srcdir"), *tmp = getenv("TMPDIR");
	char folder[256], db_path[512], text_path[1024];
	char *text, *duo_1, *duo_db_5;
	struct store *store;
	struct duo_error err;
	size_t length;

	if (srcdir == NULL)
		srcdir = ".";
	snprintf(folder, sizeof folder, "%s/duo-names.XXXXXX", tmp != NULL ?
	    tmp : "/tmp");
	snprintf(text_path, sizeof text_path, "%s/tests/texts/store.txt",
	    srcdir);
	text = synthetic_read_file(text_path, &length);
	duo_1 = read_page(srcdir, "duo.1");
	duo_db_5 = read_page(srcdir, "duo-db.5");
	if (text == NULL || duo_1 == NULL || duo_db_5 == NULL ||
	    mkdtemp(folder) == NULL) {
		printf("test_names: cannot read %s or the man pages, or make a "
		    "folder under %s\n", text_path, folder);
		return 99;
	}
	snprintf(db_path, sizeof db_path, "%s/names.db", folder);
	if (store_open(&store, db_path, 0, &err) != 0) {
		printf("test_names: %s\n", err.message);
		return 99;
	}

	check_tables();
	check_store(store, text, length);
	store_close(store);
	check_schema(db_path);
	check_duo_1(duo_1);
	check_duo_db_5(duo_db_5);

	remove(db_path);
	snprintf(text_path, sizeof text_path, "%s-wal", db_path);
	remove(text_path);
	snprintf(text_path, sizeof text_path, "%s-shm", db_path);
	remove(text_path);
	rmdir(folder);
	free(text);
	free(duo_1);
	free(duo_db_5);
	printf("test_names: %d of %d checks passed\n", checks - failures,
	    checks);
	return failures == 0 ? 0 : 1;
}
