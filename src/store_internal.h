/*
 * store_internal.h - what the files of the store module share and nobody
 * else sees: the connection behind struct store and the helpers that turn
 * SQLite's failures into one-line messages.  store.c owns the schema,
 * opening, writing and reading runs; store_merge.c copies runs between
 * databases.  Only these two files include sqlite3.h.
 */
#ifndef DUO_STORE_INTERNAL_H
#define DUO_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3 *db;
	char *path;
	int readonly;
	int busy_timeout_ms;
};

/* Fill err with "PATH: doing: what went wrong", in words where possible;
 * return -1. */
int store_fail(const struct store *store, struct duo_error *err,
    const char *doing);
/* Run SQL with no result rows. */
int store_exec(struct store *store, const char *sql, const char *doing,
    struct duo_error *err);
int store_prepare(struct store *store, sqlite3_stmt **stmt, const char *sql,
    struct duo_error *err);
/* Refuse a run that store_list_runs() found damaged (its info's damage:
 * counts that could not size arrays, a missing model, NULL fields),
 * naming the database, the run and the field. */
int store_refuse_damaged(const struct store *store,
    const struct run_info *info, struct duo_error *err);

#endif
