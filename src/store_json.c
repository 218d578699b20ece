/*
 * store_json.c - values of a run's settings JSON read with SQLite's JSON
 * functions, for the join of shards (shard.c), which must read settings
 * written on other machines without trusting them.  Part of the store
 * module (store.h): SQL stays here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* A column as a fresh string, or NULL (with err set) when out of memory. */
static char *
column_copy(sqlite3_stmt *stmt, int column, struct duo_error *err)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	char *copy = strdup(text != NULL ? (const char *)text : "");

	if (copy == NULL)
		error_set(err, "out of memory");
	return copy;
}

int
store_json_get(struct store *store, const char *json, const char *path,
    char **value, struct duo_error *err)
{
	/* a string's own text; a number as written, whole digits kept */
	static const char sql[] =
	    "SELECT CASE json_type(?1, ?2) WHEN 'text' THEN json_extract(?1, ?2)"
	    " WHEN 'null' THEN NULL ELSE ?1 -> ?2 END";
	sqlite3_stmt *stmt;
	int rc;

	*value = NULL;
	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		rc = (*value = column_copy(stmt, 0, err)) != NULL ? 0 : -1;
	else if (rc == SQLITE_ROW)
		rc = 1;
	else
		rc = error_set(err, "settings are not JSON: %s",
		    sqlite3_errmsg(store->db));
	sqlite3_finalize(stmt);
	return rc;
}

/* The column of json_each that sql selects, as fresh strings. */
static int
json_items(struct store *store, const char *sql, const char *json,
    const char *path, char ***items, size_t *n_items, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	char **grown;
	size_t n = 0, capacity = 0;
	int rc;

	*items = NULL;
	*n_items = 0;
	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == capacity) {
			capacity = 2 * capacity + 8;
			grown = realloc(*items, capacity * sizeof *grown);
			if (grown == NULL)
				break;
			*items = grown;
		}
		if (((*items)[n] = column_copy(stmt, 0, err)) == NULL)
			break;
		n++;
	}
	sqlite3_finalize(stmt);
	*n_items = n;
	if (rc == SQLITE_DONE)
		return 0;
	store_json_free_array(*items, n);
	*items = NULL;
	*n_items = 0;
	if (rc == SQLITE_ROW)
		return error_set(err, "out of memory");
	return error_set(err, "settings are not JSON: %s",
	    sqlite3_errmsg(store->db));
}

int
store_json_array(struct store *store, const char *json, const char *path,
    char ***items, size_t *n_items, struct duo_error *err)
{
	return json_items(store, "SELECT value FROM json_each(?1, ?2) WHERE"
	    " json_type(?1, ?2) = 'array' ORDER BY key", json, path, items,
	    n_items, err);
}

int
store_json_keys(struct store *store, const char *json, const char *path,
    char ***keys, size_t *n_keys, struct duo_error *err)
{
	return json_items(store, "SELECT key FROM json_each(?1, ?2) WHERE"
	    " json_type(?1, ?2) = 'object' ORDER BY id", json, path, keys,
	    n_keys, err);
}

void
store_json_free_array(char **items, size_t n_items)
{
	size_t i;

	for (i = 0; i < n_items; i++)
		free(items[i]);
	free(items);
}

int
store_json_remove(struct store *store, const char *json,
    const char *const *paths, int n_paths, char **out, struct duo_error *err)
{
	char sql[512];
	size_t used;
	sqlite3_stmt *stmt;
	int i, rc;

	*out = NULL;
	used = (size_t)snprintf(sql, sizeof sql, "SELECT json_remove(?1");
	for (i = 0; i < n_paths && used < sizeof sql; i++)
		used += (size_t)snprintf(sql + used, sizeof sql - used,
		    ", ?%d", i + 2);
	if (used + 2 >= sizeof sql)
		return error_set(err, "too many settings to remove");
	strcat(sql, ")");
	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, json, -1, SQLITE_STATIC);
	for (i = 0; i < n_paths; i++)
		sqlite3_bind_text(stmt, i + 2, paths[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		rc = (*out = column_copy(stmt, 0, err)) != NULL ? 0 : -1;
	else
		rc = error_set(err, "settings are not JSON: %s",
		    sqlite3_errmsg(store->db));
	sqlite3_finalize(stmt);
	return rc;
}
