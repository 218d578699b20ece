/*
 * store.c - the SQLite database of runs: schema and migrations, opening
 * with the right pragmas, writing a run in one transaction, reading runs
 * back.  duo-db(5) documents every table, column and view defined here;
 * a change to the schema is a new entry in migrations[] and a new
 * STORE_SCHEMA_VERSION, never an edit of an old entry (and a new table or
 * column goes into merged_tables[] of store_merge.c).
 */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"
#include "names.h"
#include "route.h"
#include "store_internal.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/*
 * Version 1: the tables and views of doc/design.md section 7.  Text columns
 * that hold bytes of the user's text (runs.text, tokens.piece) are TEXT
 * for valid UTF-8 and BLOB otherwise; see the header.
 */
static const char schema_v1[] =
    "CREATE TABLE models (\n"
    "  id          INTEGER PRIMARY KEY,\n"
    "  sha256      TEXT NOT NULL UNIQUE\n"
    "              CHECK (length(sha256) = 64\n"
    "                AND sha256 NOT GLOB '*[^0-9a-f]*'),\n"
    "  path        TEXT NOT NULL,\n"
    "  name        TEXT,\n"
    "  n_layer     INTEGER NOT NULL CHECK (n_layer > 0),\n"
    "  d_model     INTEGER NOT NULL CHECK (d_model > 0),\n"
    "  n_head      INTEGER NOT NULL CHECK (n_head > 0),\n"
    "  d_ff        INTEGER NOT NULL CHECK (d_ff > 0),\n"
    "  d_ff_small  INTEGER NOT NULL CHECK (d_ff_small > 0),\n"
    "  n_vocab     INTEGER NOT NULL CHECK (n_vocab > 0),\n"
    "  n_ctx       INTEGER NOT NULL CHECK (n_ctx >= 2),\n"
    "  created_at  TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE runs (\n"
    /* AUTOINCREMENT: a deleted run's id is never given to another. */
    "  id            INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  model_id      INTEGER NOT NULL REFERENCES models(id),\n"
    "  label         TEXT,\n"
    "  created_at    TEXT NOT NULL,\n"
    "  source        TEXT NOT NULL,\n"
    "  text          TEXT NOT NULL,\n"
    "  n_tokens      INTEGER NOT NULL CHECK (n_tokens >= 1),\n"
    "  space         TEXT NOT NULL CHECK (space IN ('BS', 'B.', 'BS.')),\n"
    "  context       TEXT NOT NULL\n"
    "                CHECK (context IN ('shared', 'fixed', 'greedy')),\n"
    "  context_route TEXT CHECK ((context_route IS NOT NULL)\n"
    "                  = (context = 'fixed')),\n"
    "  settings      TEXT NOT NULL DEFAULT '{}'\n"
    "                CHECK (json_valid(settings)),\n"
    "  seconds       REAL NOT NULL CHECK (seconds >= 0),\n"
    "  approximate   INTEGER NOT NULL DEFAULT 0\n"
    "                CHECK (approximate IN (0, 1)),\n"
    "  beam_width    INTEGER CHECK (beam_width > 0),\n"
    "  n_results     INTEGER NOT NULL CHECK (n_results >= 0),\n"
    "  duo_version   TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX runs_by_model ON runs(model_id);\n"
    "CREATE TABLE tokens (\n"
    "  run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  pos          INTEGER NOT NULL CHECK (pos >= 0),\n"
    "  token_id     INTEGER NOT NULL CHECK (token_id >= 0),\n"
    "  piece        TEXT NOT NULL,\n"
    "  byte_start   INTEGER NOT NULL CHECK (byte_start >= 0),\n"
    "  byte_end     INTEGER NOT NULL CHECK (byte_end >= byte_start),\n"
    "  window_index INTEGER NOT NULL CHECK (window_index >= 0),\n"
    "  window_pos   INTEGER NOT NULL CHECK (window_pos >= 0),\n"
    "  PRIMARY KEY (run_id, pos)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE results (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  pos     INTEGER NOT NULL CHECK (pos >= 1),\n"
    /* CASE, not IN: SQLite builds a table for an IN list at every row,
     * which made writing results three times slower. */
    "  method  TEXT NOT NULL CHECK (CASE method\n"
    "            WHEN 'big' THEN 1 WHEN 'small' THEN 1 WHEN 'oracle' THEN 1\n"
    "            WHEN 'best' THEN 1 WHEN 'fixed' THEN 1\n"
    "            WHEN 'random_best' THEN 1 WHEN 'random_mean' THEN 1\n"
    "            ELSE method GLOB 'router:?*'\n"
    "              AND substr(method, 8) NOT GLOB '*[^A-Za-z0-9_.-]*' END),\n"
    "  budget  INTEGER NOT NULL CHECK (budget >= 0),\n"
    "  route   TEXT CHECK ((route IS NULL) = (method = 'random_mean')),\n"
    "  loss    REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, pos, method, budget),\n"
    "  FOREIGN KEY (run_id, pos) REFERENCES tokens(run_id, pos)\n"
    "    ON DELETE CASCADE\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE route_losses (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  pos     INTEGER NOT NULL CHECK (pos >= 1),\n"
    "  losses  BLOB NOT NULL,\n"
    "  PRIMARY KEY (run_id, pos),\n"
    "  FOREIGN KEY (run_id, pos) REFERENCES tokens(run_id, pos)\n"
    "    ON DELETE CASCADE\n"
    ");\n"
    "CREATE VIEW difficulty AS\n"
    "SELECT t.run_id, t.pos, t.piece,\n"
    "  big.loss AS loss_big, small.loss AS loss_small,\n"
    "  best.loss AS loss_best, small.loss - best.loss AS difficulty\n"
    "FROM tokens AS t\n"
    "LEFT JOIN results AS big ON big.run_id = t.run_id\n"
    "  AND big.pos = t.pos AND big.method = 'big'\n"
    "LEFT JOIN results AS small ON small.run_id = t.run_id\n"
    "  AND small.pos = t.pos AND small.method = 'small'\n"
    "LEFT JOIN results AS best ON best.run_id = t.run_id\n"
    "  AND best.pos = t.pos AND best.method = 'best'\n"
    "WHERE t.pos >= 1;\n"
    "CREATE VIEW difficulty_at AS\n"
    "SELECT o.run_id, o.pos, o.budget, t.piece,\n"
    "  small.loss AS loss_small, o.loss AS loss_oracle,\n"
    "  small.loss - o.loss AS difficulty\n"
    "FROM results AS o\n"
    "JOIN tokens AS t ON t.run_id = o.run_id AND t.pos = o.pos\n"
    "JOIN results AS small ON small.run_id = o.run_id\n"
    "  AND small.pos = o.pos AND small.method = 'small'\n"
    "WHERE o.method = 'oracle';\n"
    /* best is held to no budget: one point over all tokens, budget NULL. */
    "CREATE VIEW curve AS\n"
    "SELECT run_id, method,\n"
    "  CASE WHEN method = 'best' THEN NULL ELSE budget END AS budget,\n"
    "  count(*) AS n, avg(loss) AS mean_loss, exp(avg(loss)) AS ppl\n"
    "FROM results\n"
    "GROUP BY run_id, method,\n"
    "  CASE WHEN method = 'best' THEN NULL ELSE budget END;\n"
    /*
     * One level of grouping, so that SQLite pushes a query's run_id (and
     * method, budget) down into the scan of results: a single method and
     * budget takes milliseconds however many runs the file holds.
     * Grouping equal routes first would be faster for a whole run but
     * hides the filter from SQLite 3.40.  CROSS JOIN keeps results the
     * outer loop; SQLite otherwise rescans the run once per layer.
     */
    "CREATE VIEW allocation AS\n"
    "WITH RECURSIVE layers(layer) AS (\n"
    "  SELECT 0\n"
    "  UNION ALL\n"
    "  SELECT layer + 1 FROM layers\n"
    "  WHERE layer + 1 < (SELECT max(n_layer) FROM models)\n"
    ")\n"
    "SELECT r.run_id, r.method, r.budget, l.layer,\n"
    "  avg(substr(r.route, l.layer + 1, 1) = 'B') AS share_big,\n"
    "  avg(substr(r.route, l.layer + 1, 1) = 'S') AS share_small,\n"
    "  avg(substr(r.route, l.layer + 1, 1) = '.') AS share_skip\n"
    "FROM results AS r CROSS JOIN layers AS l\n"
    "WHERE l.layer < length(r.route)\n"
    "GROUP BY r.run_id, r.method, r.budget, l.layer;\n";

/*
 * Version 2: each run's mean loss per method and budget, written with the
 * run, so that the run list and the curve view are lookups instead of a
 * pass over every result.  budget is NULL for best, as curve has always
 * shown it.  curve now reads run_means: one source, so the two cannot
 * disagree.  An older database gets its means from its results here, in
 * the migration's transaction.
 */
static const char schema_v2[] =
    "CREATE TABLE run_means (\n"
    "  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  method     TEXT NOT NULL,\n"
    "  budget     INTEGER CHECK ((budget IS NULL) = (method = 'best')\n"
    "               AND (budget IS NULL OR budget >= 0)),\n"
    "  n          INTEGER NOT NULL CHECK (n >= 1),\n"
    "  mean_loss  REAL NOT NULL,\n"
    "  UNIQUE (run_id, method, budget)\n"
    ");\n"
    "INSERT INTO run_means (run_id, method, budget, n, mean_loss)\n"
    "SELECT run_id, method,\n"
    "  CASE WHEN method = 'best' THEN NULL ELSE budget END,\n"
    "  count(*), avg(loss)\n"
    "FROM results\n"
    "GROUP BY run_id, method,\n"
    "  CASE WHEN method = 'best' THEN NULL ELSE budget END;\n"
    "DROP VIEW curve;\n"
    "CREATE VIEW curve AS\n"
    "SELECT run_id, method, budget, n, mean_loss, exp(mean_loss) AS ppl\n"
    "FROM run_means;\n";

/*
 * Version 3: the learned routers' metrics of doc/design.md section 5 as
 * views.  router_regret pairs each router row with the oracle's at the
 * same budget (a soft-mode router's rows hold the budget it was trained
 * for); router_metrics gives per run, router and budget the perplexities
 * beside oracle, fixed and random_best, the gap closed, regret
 * percentiles by nearest rank and the big modules actually spent;
 * router_confusion counts (oracle choice, router choice) per layer and
 * router_agreement is its diagonal's share.
 */
static const char schema_v3[] =
    "CREATE VIEW router_regret AS\n"
    "SELECT r.run_id, r.pos, r.method, r.budget, r.route,\n"
    "  o.route AS oracle_route, r.loss, o.loss AS loss_oracle,\n"
    "  r.loss - o.loss AS regret\n"
    "FROM results AS r\n"
    "JOIN results AS o ON o.run_id = r.run_id AND o.pos = r.pos\n"
    "  AND o.method = 'oracle' AND o.budget = r.budget\n"
    "WHERE r.method GLOB 'router:*';\n"
    "CREATE VIEW router_metrics AS\n"
    "WITH ranked AS (\n"
    "  SELECT run_id, method, budget, regret,\n"
    "    length(route) - length(replace(route, 'B', '')) AS spent,\n"
    "    row_number() OVER (PARTITION BY run_id, method, budget\n"
    "      ORDER BY regret) AS i,\n"
    "    count(*) OVER (PARTITION BY run_id, method, budget) AS n\n"
    "  FROM router_regret\n"
    "), summary AS (\n"
    "  SELECT run_id, method, budget, max(n) AS n,\n"
    "    avg(spent) AS spent,\n"
    "    min(CASE WHEN i >= (n * 50 + 99) / 100 THEN regret END)\n"
    "      AS regret_p50,\n"
    "    min(CASE WHEN i >= (n * 90 + 99) / 100 THEN regret END)\n"
    "      AS regret_p90,\n"
    "    max(regret) AS regret_max, avg(regret) AS regret_mean\n"
    "  FROM ranked GROUP BY run_id, method, budget\n"
    ")\n"
    "SELECT s.run_id, s.method, s.budget, s.n, s.spent,\n"
    "  exp(r.mean_loss) AS ppl, exp(o.mean_loss) AS ppl_oracle,\n"
    "  exp(f.mean_loss) AS ppl_fixed,\n"
    "  exp(b.mean_loss) AS ppl_random_best,\n"
    "  CASE WHEN f.mean_loss - o.mean_loss > 1e-5\n"
    "    THEN (f.mean_loss - r.mean_loss) / (f.mean_loss - o.mean_loss)\n"
    "  END AS gap_closed,\n"
    "  s.regret_p50, s.regret_p90, s.regret_max, s.regret_mean\n"
    "FROM summary AS s\n"
    "JOIN run_means AS r ON r.run_id = s.run_id AND r.method = s.method\n"
    "  AND r.budget = s.budget\n"
    "JOIN run_means AS o ON o.run_id = s.run_id AND o.method = 'oracle'\n"
    "  AND o.budget = s.budget\n"
    "LEFT JOIN run_means AS f ON f.run_id = s.run_id\n"
    "  AND f.method = 'fixed' AND f.budget = s.budget\n"
    "LEFT JOIN run_means AS b ON b.run_id = s.run_id\n"
    "  AND b.method = 'random_best' AND b.budget = s.budget;\n"
    "CREATE VIEW router_confusion AS\n"
    "WITH RECURSIVE layers(layer) AS (\n"
    "  SELECT 0\n"
    "  UNION ALL\n"
    "  SELECT layer + 1 FROM layers\n"
    "  WHERE layer + 1 < (SELECT max(n_layer) FROM models)\n"
    ")\n"
    "SELECT g.run_id, g.method, g.budget, l.layer,\n"
    "  substr(g.oracle_route, l.layer + 1, 1) AS oracle_choice,\n"
    "  substr(g.route, l.layer + 1, 1) AS router_choice,\n"
    "  count(*) AS n\n"
    "FROM router_regret AS g CROSS JOIN layers AS l\n"
    "WHERE l.layer < length(g.route)\n"
    "GROUP BY g.run_id, g.method, g.budget, l.layer, oracle_choice,\n"
    "  router_choice;\n"
    "CREATE VIEW router_agreement AS\n"
    "SELECT run_id, method, budget, layer,\n"
    "  sum(CASE WHEN oracle_choice = router_choice THEN n ELSE 0 END)\n"
    "    * 1.0 / sum(n) AS agreement\n"
    "FROM router_confusion\n"
    "GROUP BY run_id, method, budget, layer;\n";

/*
 * Version 4: the label-free oracle and the controls of doc/design.md
 * section 5.  results takes the methods oracle_free and shuffled; SQLite
 * cannot change a CHECK, so the table is rebuilt and every row copied.
 * The views that read results keep their text: with legacy_alter_table
 * the rename leaves them alone (else SQLite would point them at the old
 * table), so they read the new table by its name.  route_kl holds each
 * token's KL divergences from the all-B route, the blobs of route_losses
 * in the same encoding.  runs.control_of links a null-model control run
 * to the run it controls (deleting that run deletes its controls).
 */
static const char schema_v4[] =
    "PRAGMA legacy_alter_table = ON;\n"
    "ALTER TABLE results RENAME TO results_v3;\n"
    "CREATE TABLE results (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  pos     INTEGER NOT NULL CHECK (pos >= 1),\n"
    "  method  TEXT NOT NULL CHECK (CASE method\n"
    "            WHEN 'big' THEN 1 WHEN 'small' THEN 1 WHEN 'oracle' THEN 1\n"
    "            WHEN 'best' THEN 1 WHEN 'fixed' THEN 1\n"
    "            WHEN 'random_best' THEN 1 WHEN 'random_mean' THEN 1\n"
    "            WHEN 'oracle_free' THEN 1 WHEN 'shuffled' THEN 1\n"
    "            ELSE method GLOB 'router:?*'\n"
    "              AND substr(method, 8) NOT GLOB '*[^A-Za-z0-9_.-]*' END),\n"
    "  budget  INTEGER NOT NULL CHECK (budget >= 0),\n"
    "  route   TEXT CHECK ((route IS NULL) = (method = 'random_mean')),\n"
    "  loss    REAL NOT NULL,\n"
    "  PRIMARY KEY (run_id, pos, method, budget),\n"
    "  FOREIGN KEY (run_id, pos) REFERENCES tokens(run_id, pos)\n"
    "    ON DELETE CASCADE\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO results (run_id, pos, method, budget, route, loss)\n"
    "SELECT run_id, pos, method, budget, route, loss FROM results_v3;\n"
    "DROP TABLE results_v3;\n"
    "PRAGMA legacy_alter_table = OFF;\n"
    "CREATE TABLE route_kl (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  pos     INTEGER NOT NULL CHECK (pos >= 1),\n"
    "  kl      BLOB NOT NULL,\n"
    "  PRIMARY KEY (run_id, pos),\n"
    "  FOREIGN KEY (run_id, pos) REFERENCES tokens(run_id, pos)\n"
    "    ON DELETE CASCADE\n"
    ");\n"
    "ALTER TABLE runs ADD COLUMN control_of INTEGER\n"
    "  REFERENCES runs(id) ON DELETE CASCADE;\n";

/*
 * Version 5: gap closed twice (doc/design.md section 5).  router_metrics
 * gains ppl_oracle_free and achievable_gap_closed, the share of the gap
 * from fixed to the label-free oracle that the router closes, beside
 * gap_closed, the share of the gap from fixed to the oracle.  A view
 * cannot be altered, so it is made again with its old columns in their
 * old places and the new ones after gap_closed.
 *
 * It also adds the compact loss tables ("duo run --losses f16").  A
 * run's tables rounded to IEEE half precision go into tables of their
 * own, of route_losses' shape, so that a reader of route_losses, which
 * holds float32 by contract, never takes half floats for single ones.
 */
static const char schema_v5[] =
    "DROP VIEW router_metrics;\n"
    "CREATE VIEW router_metrics AS\n"
    "WITH ranked AS (\n"
    "  SELECT run_id, method, budget, regret,\n"
    "    length(route) - length(replace(route, 'B', '')) AS spent,\n"
    "    row_number() OVER (PARTITION BY run_id, method, budget\n"
    "      ORDER BY regret) AS i,\n"
    "    count(*) OVER (PARTITION BY run_id, method, budget) AS n\n"
    "  FROM router_regret\n"
    "), summary AS (\n"
    "  SELECT run_id, method, budget, max(n) AS n,\n"
    "    avg(spent) AS spent,\n"
    "    min(CASE WHEN i >= (n * 50 + 99) / 100 THEN regret END)\n"
    "      AS regret_p50,\n"
    "    min(CASE WHEN i >= (n * 90 + 99) / 100 THEN regret END)\n"
    "      AS regret_p90,\n"
    "    max(regret) AS regret_max, avg(regret) AS regret_mean\n"
    "  FROM ranked GROUP BY run_id, method, budget\n"
    ")\n"
    "SELECT s.run_id, s.method, s.budget, s.n, s.spent,\n"
    "  exp(r.mean_loss) AS ppl, exp(o.mean_loss) AS ppl_oracle,\n"
    "  exp(f.mean_loss) AS ppl_fixed,\n"
    "  exp(b.mean_loss) AS ppl_random_best,\n"
    "  CASE WHEN f.mean_loss - o.mean_loss > 1e-5\n"
    "    THEN (f.mean_loss - r.mean_loss) / (f.mean_loss - o.mean_loss)\n"
    "  END AS gap_closed,\n"
    "  exp(a.mean_loss) AS ppl_oracle_free,\n"
    "  CASE WHEN f.mean_loss - a.mean_loss > 1e-5\n"
    "    THEN (f.mean_loss - r.mean_loss) / (f.mean_loss - a.mean_loss)\n"
    "  END AS achievable_gap_closed,\n"
    "  s.regret_p50, s.regret_p90, s.regret_max, s.regret_mean\n"
    "FROM summary AS s\n"
    "JOIN run_means AS r ON r.run_id = s.run_id AND r.method = s.method\n"
    "  AND r.budget = s.budget\n"
    "JOIN run_means AS o ON o.run_id = s.run_id AND o.method = 'oracle'\n"
    "  AND o.budget = s.budget\n"
    "LEFT JOIN run_means AS f ON f.run_id = s.run_id\n"
    "  AND f.method = 'fixed' AND f.budget = s.budget\n"
    "LEFT JOIN run_means AS b ON b.run_id = s.run_id\n"
    "  AND b.method = 'random_best' AND b.budget = s.budget\n"
    "LEFT JOIN run_means AS a ON a.run_id = s.run_id\n"
    "  AND a.method = 'oracle_free' AND a.budget = s.budget;\n"
    "CREATE TABLE route_losses_f16 (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  pos     INTEGER NOT NULL CHECK (pos >= 1),\n"
    "  losses  BLOB NOT NULL,\n"
    "  PRIMARY KEY (run_id, pos),\n"
    "  FOREIGN KEY (run_id, pos) REFERENCES tokens(run_id, pos)\n"
    "    ON DELETE CASCADE\n"
    ");\n"
    "CREATE TABLE route_kl_f16 (\n"
    "  run_id  INTEGER NOT NULL,\n"
    "  pos     INTEGER NOT NULL CHECK (pos >= 1),\n"
    "  kl      BLOB NOT NULL,\n"
    "  PRIMARY KEY (run_id, pos),\n"
    "  FOREIGN KEY (run_id, pos) REFERENCES tokens(run_id, pos)\n"
    "    ON DELETE CASCADE\n"
    ");\n";

/*
 * Version 6: runs stored as they go (duo(1), LONG TEXTS).  runs.status is
 * 'running' while a run's windows are being written, 'stopped' when it
 * ended before its last one, and 'complete' once every window and the
 * methods chosen over the whole run are in; tokens_done counts the
 * positions stored so far.  runs.corpus tags the runs of one "duo run
 * --corpus NAME".  The views over results and tokens are made again with
 * their old columns and a filter that leaves out runs that are not
 * complete (curve and router_metrics read run_means, which a run gets
 * only when it completes); corpus_curve and corpus_difficulty aggregate
 * the complete runs of a corpus, weighted by tokens, apart for each
 * model, space and context.
 */
static const char schema_v6[] =
    "ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'complete'\n"
    "  CHECK (status IN ('running', 'stopped', 'complete'));\n"
    "ALTER TABLE runs ADD COLUMN tokens_done INTEGER NOT NULL DEFAULT 0\n"
    "  CHECK (tokens_done >= 0);\n"
    "ALTER TABLE runs ADD COLUMN corpus TEXT;\n"
    "UPDATE runs SET tokens_done = n_tokens;\n"
    "CREATE INDEX runs_by_corpus ON runs(corpus) WHERE corpus IS NOT NULL;\n"
    "DROP VIEW difficulty;\n"
    "CREATE VIEW difficulty AS\n"
    "SELECT t.run_id, t.pos, t.piece,\n"
    "  big.loss AS loss_big, small.loss AS loss_small,\n"
    "  best.loss AS loss_best, small.loss - best.loss AS difficulty\n"
    "FROM tokens AS t\n"
    "LEFT JOIN results AS big ON big.run_id = t.run_id\n"
    "  AND big.pos = t.pos AND big.method = 'big'\n"
    "LEFT JOIN results AS small ON small.run_id = t.run_id\n"
    "  AND small.pos = t.pos AND small.method = 'small'\n"
    "LEFT JOIN results AS best ON best.run_id = t.run_id\n"
    "  AND best.pos = t.pos AND best.method = 'best'\n"
    "WHERE t.pos >= 1\n"
    "  AND t.run_id IN (SELECT id FROM runs WHERE status = 'complete');\n"
    "DROP VIEW difficulty_at;\n"
    "CREATE VIEW difficulty_at AS\n"
    "SELECT o.run_id, o.pos, o.budget, t.piece,\n"
    "  small.loss AS loss_small, o.loss AS loss_oracle,\n"
    "  small.loss - o.loss AS difficulty\n"
    "FROM results AS o\n"
    "JOIN tokens AS t ON t.run_id = o.run_id AND t.pos = o.pos\n"
    "JOIN results AS small ON small.run_id = o.run_id\n"
    "  AND small.pos = o.pos AND small.method = 'small'\n"
    "WHERE o.method = 'oracle'\n"
    "  AND o.run_id IN (SELECT id FROM runs WHERE status = 'complete');\n"
    "DROP VIEW allocation;\n"
    "CREATE VIEW allocation AS\n"
    "WITH RECURSIVE layers(layer) AS (\n"
    "  SELECT 0\n"
    "  UNION ALL\n"
    "  SELECT layer + 1 FROM layers\n"
    "  WHERE layer + 1 < (SELECT max(n_layer) FROM models)\n"
    ")\n"
    "SELECT r.run_id, r.method, r.budget, l.layer,\n"
    "  avg(substr(r.route, l.layer + 1, 1) = 'B') AS share_big,\n"
    "  avg(substr(r.route, l.layer + 1, 1) = 'S') AS share_small,\n"
    "  avg(substr(r.route, l.layer + 1, 1) = '.') AS share_skip\n"
    "FROM results AS r CROSS JOIN layers AS l\n"
    "WHERE l.layer < length(r.route)\n"
    "  AND r.run_id IN (SELECT id FROM runs WHERE status = 'complete')\n"
    "GROUP BY r.run_id, r.method, r.budget, l.layer;\n"
    /* router_confusion and router_agreement read router_regret, and
     * router_metrics reads it too: dropping it first would leave them
     * pointing at nothing for a moment, which SQLite allows. */
    "DROP VIEW router_regret;\n"
    "CREATE VIEW router_regret AS\n"
    "SELECT r.run_id, r.pos, r.method, r.budget, r.route,\n"
    "  o.route AS oracle_route, r.loss, o.loss AS loss_oracle,\n"
    "  r.loss - o.loss AS regret\n"
    "FROM results AS r\n"
    "JOIN results AS o ON o.run_id = r.run_id AND o.pos = r.pos\n"
    "  AND o.method = 'oracle' AND o.budget = r.budget\n"
    "WHERE r.method GLOB 'router:*'\n"
    "  AND r.run_id IN (SELECT id FROM runs WHERE status = 'complete');\n"
    "CREATE VIEW corpus_curve AS\n"
    "SELECT r.corpus, r.model_id, r.space, r.context, m.method, m.budget,\n"
    "  count(*) AS n_runs, sum(m.n) AS n,\n"
    "  sum(m.n * m.mean_loss) / sum(m.n) AS mean_loss,\n"
    "  exp(sum(m.n * m.mean_loss) / sum(m.n)) AS ppl\n"
    "FROM run_means AS m\n"
    "JOIN runs AS r ON r.id = m.run_id\n"
    "WHERE r.corpus IS NOT NULL AND r.status = 'complete'\n"
    "  AND r.control_of IS NULL\n"
    "GROUP BY r.corpus, r.model_id, r.space, r.context, m.method, m.budget;\n"
    "CREATE VIEW corpus_difficulty AS\n"
    "SELECT r.corpus, r.model_id, r.space, r.context, d.piece,\n"
    "  count(*) AS n, avg(d.loss_big) AS loss_big,\n"
    "  avg(d.loss_small) AS loss_small, avg(d.loss_best) AS loss_best,\n"
    "  avg(d.difficulty) AS difficulty\n"
    "FROM difficulty AS d\n"
    "JOIN runs AS r ON r.id = d.run_id\n"
    "WHERE r.corpus IS NOT NULL AND r.control_of IS NULL\n"
    "GROUP BY r.corpus, r.model_id, r.space, r.context, d.piece;\n";

/* Schema steps: entry i takes a database from version i to i + 1. */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
	schema_v5,
	schema_v6,
};

static const char *const tables_names[] = {
	[STORE_TABLES_F32] = "f32",
	[STORE_TABLES_F16] = "f16",
	[STORE_TABLES_NONE] = "none",
};

int
store_tables_parse(const char *name, enum store_tables *tables,
    struct duo_error *err)
{
	size_t i;

	for (i = 0; i < sizeof tables_names / sizeof tables_names[0]; i++)
		if (strcmp(name, tables_names[i]) == 0) {
			*tables = (enum store_tables)i;
			return 0;
		}
	return error_set(err, "loss tables '%s' are not one of f32, f16 or "
	    "none", name);
}

const char *
store_tables_name(enum store_tables tables)
{
	return tables_names[tables];
}

/* What a failing SQLite primary result code means to a person. */
static const struct {
	int code;
	const char *meaning;
} sqlite_meanings[] = {
	{ SQLITE_BUSY, "database is locked by another process" },
	{ SQLITE_LOCKED, "database is locked by another process" },
	{ SQLITE_READONLY, "the database is read-only" },
	{ SQLITE_FULL, "the disk is full" },
	{ SQLITE_CORRUPT, "the database file is damaged" },
	{ SQLITE_NOTADB, "not an SQLite database" },
	{ SQLITE_CANTOPEN, "cannot open the database file" },
	{ SQLITE_IOERR, "input/output error" },
	{ SQLITE_PERM, "permission denied" },
	{ SQLITE_NOMEM, "out of memory" },
};

/* Fill err with "PATH: doing: what went wrong", in words where possible. */
int
store_fail(const struct store *store, struct duo_error *err,
    const char *doing)
{
	int code = sqlite3_errcode(store->db), errnum;
	const char *detail = sqlite3_errmsg(store->db), *meaning = NULL;
	char extra[160] = "";
	size_t i;

	for (i = 0; i < sizeof sqlite_meanings / sizeof sqlite_meanings[0];
	    i++)
		if (sqlite_meanings[i].code == code)
			meaning = sqlite_meanings[i].meaning;
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		snprintf(extra, sizeof extra, " (gave up after %.1f s)",
		    store->busy_timeout_ms / 1000.0);
	else if (code == SQLITE_CANTOPEN || code == SQLITE_IOERR ||
	    code == SQLITE_READONLY) {
		errnum = sqlite3_system_errno(store->db);
		snprintf(extra, sizeof extra, " (%s)", errnum != 0 ?
		    strerror(errnum) : detail);
	}
	if (meaning == NULL)
		return error_set(err, "%s: %s: %s", store->path, doing, detail);
	return error_set(err, "%s: %s: %s%s", store->path, doing, meaning,
	    extra);
}

/* A run that fails a check: "PATH: " and the fault, with the code that
 * lets the browser list the run as damaged. */
static int store_damaged(const struct store *store, struct duo_error *err,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
store_damaged(const struct store *store, struct duo_error *err,
    const char *fmt, ...)
{
	char fault[sizeof err->message];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fault, sizeof fault, fmt, ap);
	va_end(ap);
	error_set(err, "%s: %s", store->path, fault);
	if (err != NULL)
		err->code = DUO_ERROR_DAMAGED;
	return -1;
}

/* Run SQL with no result rows. */
int
store_exec(struct store *store, const char *sql, const char *doing,
    struct duo_error *err)
{
	if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(store, err, doing);
	return 0;
}

int
store_prepare(struct store *store, sqlite3_stmt **stmt, const char *sql,
    struct duo_error *err)
{
	if (sqlite3_prepare_v2(store->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return store_fail(store, err, "preparing a statement");
	}
	return 0;
}

/* The single integer a query returns (a PRAGMA, a count). */
static int
store_query_int(struct store *store, const char *sql, int64_t *value,
    const char *doing, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return store_fail(store, err, doing);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		return store_fail(store, err, doing);
	}
	*value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return 0;
}

/* Valid UTF-8 (no overlong forms, surrogates or NUL)?  Then TEXT. */
static int
is_text(const char *bytes, size_t length)
{
	const unsigned char *s = (const unsigned char *)bytes;
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < length) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			n = 2, cp = s[i] & 0x1f;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			n = 3, cp = s[i] & 0x0f;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			n = 4, cp = s[i] & 0x07;
		else
			return 0;
		if (n > length - i)
			return 0;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += n;
	}
	return 1;
}

/* Bind bytes as TEXT when they are text, else as a BLOB (see store.h). */
static int
bind_bytes(sqlite3_stmt *stmt, int index, const char *bytes, size_t length)
{
	if (length > INT_MAX)
		return SQLITE_TOOBIG;
	if (bytes == NULL)
		bytes = "";
	if (is_text(bytes, length))
		return sqlite3_bind_text(stmt, index, bytes, (int)length,
		    SQLITE_STATIC);
	return sqlite3_bind_blob(stmt, index, bytes, (int)length,
	    SQLITE_STATIC);
}

/* ---- paths and opening ------------------------------------------------ */

static char *
string_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *copy = malloc(n);

	if (copy != NULL)
		memcpy(copy, s, n);
	return copy;
}

static char *
string_join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *joined = malloc(na + nb + 1);

	if (joined != NULL) {
		memcpy(joined, a, na);
		memcpy(joined + na, b, nb + 1);
	}
	return joined;
}

char *
store_default_path(const char *from_option, int *is_default,
    struct duo_error *err)
{
	const char *env;
	char *path;

	*is_default = 0;
	env = getenv("DUO_DB");
	if (from_option != NULL)
		path = string_copy(from_option);
	else if (env != NULL && *env != '\0')
		path = string_copy(env);
	else {
		*is_default = 1;
		env = getenv("XDG_DATA_HOME");
		/* The XDG rules: a relative XDG_DATA_HOME is ignored. */
		if (env != NULL && env[0] == '/')
			path = string_join(env, "/duo/runs.db");
		else {
			env = getenv("HOME");
			if (env == NULL || env[0] == '\0') {
				error_set(err, "no database given and neither "
				    "XDG_DATA_HOME nor HOME is set; use -d "
				    "FILE or DUO_DB");
				return NULL;
			}
			path = string_join(env, "/.local/share/duo/runs.db");
		}
	}
	if (path == NULL)
		error_set(err, "out of memory");
	return path;
}

/* The folder part of path ("." for a bare name); a fresh string. */
static char *
parent_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	char *folder;

	if (slash == NULL)
		return string_copy(".");
	n = slash == path ? 1 : (size_t)(slash - path);
	folder = malloc(n + 1);
	if (folder != NULL) {
		memcpy(folder, path, n);
		folder[n] = '\0';
	}
	return folder;
}

/* mkdir -p, private to the user as XDG asks for data folders. */
static int
make_folders(const char *path, char *folder, struct duo_error *err)
{
	struct stat st;
	char *p, saved;

	for (p = folder + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		saved = *p;
		*p = '\0';
		if (stat(folder, &st) != 0) {
			if (errno != ENOENT || mkdir(folder, 0700) != 0) {
				error_set(err, "%s: cannot create folder %s: %s",
				    path, folder, strerror(errno));
				*p = saved;
				return -1;
			}
		} else if (!S_ISDIR(st.st_mode)) {
			error_set(err, "%s: cannot create the database: %s is "
			    "not a folder", path, folder);
			*p = saved;
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* The first folder of path's folders that is a file (what ENOTDIR
 * means), cut in place; folder itself when none is found. */
static const char *
first_file_among(char *folder)
{
	struct stat st;
	char *p, saved;

	for (p = folder + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		saved = *p;
		*p = '\0';
		if (stat(folder, &st) == 0 && !S_ISDIR(st.st_mode))
			return folder;
		*p = saved;
	}
	return folder;
}

/* May this process make files in folder?  With its effective ids, so
 * that the answer is the one open() would give; 0 or an errno. */
static int
folder_writable(const char *folder)
{
	return faccessat(AT_FDCWD, folder, W_OK | X_OK, AT_EACCESS) == 0 ?
	    0 : errno;
}

/*
 * An existing database whose folder cannot take new files: SQLite must
 * make its -wal and -shm files there (or a journal) to write, and would
 * report only "unable to open" or "readonly" without saying why.
 */
static int
check_folder_of_existing(const char *path, struct duo_error *err)
{
	char *folder = parent_folder(path), *wal, *shm;
	struct stat st;
	int errnum, missing;

	if (folder == NULL)
		return error_set(err, "out of memory");
	errnum = folder_writable(folder);
	wal = string_join(path, "-wal");
	shm = string_join(path, "-shm");
	missing = wal == NULL || shm == NULL || stat(wal, &st) != 0 ||
	    stat(shm, &st) != 0;
	free(wal);
	free(shm);
	if (errnum != 0 && missing)
		error_set(err, "%s: cannot write the database: its folder %s "
		    "does not let new files be made (%s), and SQLite keeps "
		    "its log beside the database", path, folder,
		    strerror(errnum));
	free(folder);
	return errnum != 0 && missing ? -1 : 0;
}

/* The folder of a database to be made: it must exist, be a folder and
 * let this process make a file there. */
static int
check_new_folder(const char *path, char *folder, int flags,
    struct duo_error *err)
{
	struct stat st;
	int errnum;

	if (stat(folder, &st) != 0) {
		errnum = errno;
		if (errnum == ENOENT && (flags & STORE_MAKE_FOLDER))
			return make_folders(path, folder, err);
		if (errnum == ENOENT)
			return error_set(err, "%s: cannot create the database: "
			    "folder %s does not exist", path, folder);
		if (errnum == ENOTDIR)
			return error_set(err, "%s: cannot create the database: "
			    "%s is not a folder", path,
			    first_file_among(folder));
		return error_set(err, "%s: cannot create the database: %s: %s",
		    path, folder, strerror(errnum));
	}
	if (!S_ISDIR(st.st_mode))
		return error_set(err, "%s: cannot create the database: %s is "
		    "not a folder", path, folder);
	if ((errnum = folder_writable(folder)) != 0)
		return error_set(err, "%s: cannot create the database: %s",
		    path, strerror(errnum));
	return 0;
}

/*
 * Check the file and its folder before SQLite sees them, so a typing
 * mistake or a folder that cannot be written gets a message that says
 * what is wrong (SQLite says "unable to open database file" for all).
 */
static int
check_path(const char *path, int flags, struct duo_error *err)
{
	struct stat st;
	char *folder;
	int rc;

	/* SQLite would keep these in memory, and the run would be lost
	 * when duo exits (with URIs on, any "file:" name is one). */
	if (*path == '\0')
		return error_set(err, "the database name is empty");
	if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
		return error_set(err, "%s: an in-memory or URI database name; "
		    "runs are kept in a file (write ./%s for a file of that "
		    "name)", path, path);
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return error_set(err, "%s: is a folder, not a database",
			    path);
		/* SQLite would leave its journal beside a device or a
		 * pipe, and could write nothing to it */
		if (!S_ISREG(st.st_mode))
			return error_set(err, "%s: is not a regular file, "
			    "so it cannot hold a database", path);
		if (flags & STORE_READONLY)
			return 0;
		return check_folder_of_existing(path, err);
	}
	if (errno != ENOENT && errno != ENOTDIR)
		return error_set(err, "%s: %s", path, strerror(errno));
	if (flags & STORE_READONLY)
		return error_set(err, errno == ENOTDIR ? "%s: no such database "
		    "(a folder of its path is a file)" : "%s: no such database "
		    "(no run has been stored there yet)", path);
	folder = parent_folder(path);
	if (folder == NULL)
		return error_set(err, "out of memory");
	rc = check_new_folder(path, folder, flags, err);
	free(folder);
	return rc;
}

/* exp() for the curve view where the library lacks the math functions. */
static void
sql_exp(sqlite3_context *context, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(context);
	else
		sqlite3_result_double(context,
		    exp(sqlite3_value_double(argv[0])));
}

static int
ensure_exp(struct store *store, struct duo_error *err)
{
	sqlite3_stmt *stmt;

	if (sqlite3_prepare_v2(store->db, "SELECT exp(0)", -1, &stmt,
	    NULL) == SQLITE_OK) {
		sqlite3_finalize(stmt);
		return 0;
	}
	if (sqlite3_create_function(store->db, "exp", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, sql_exp, NULL, NULL) != SQLITE_OK)
		return store_fail(store, err, "adding exp()");
	return 0;
}

/*
 * Refuse what is not ours before changing anything: a file of another
 * program, or a schema newer than this duo.
 */
static int
check_schema(struct store *store, int64_t *version, struct duo_error *err)
{
	int64_t application_id, n_objects;

	if (store_query_int(store, "PRAGMA application_id", &application_id,
	    "reading the schema", err) != 0 ||
	    store_query_int(store, "PRAGMA user_version", version,
	    "reading the schema", err) != 0 ||
	    store_query_int(store, "SELECT count(*) FROM sqlite_master",
	    &n_objects, "reading the schema", err) != 0)
		return -1;
	if (application_id != 0 && application_id != STORE_APPLICATION_ID)
		return error_set(err, "%s: not a duo database (application_id "
		    "%#" PRIx64 ")", store->path, (uint64_t)application_id &
		    0xffffffffu);
	if (application_id == 0 && (*version != 0 || n_objects != 0))
		return error_set(err, "%s: not a duo database (it has tables "
		    "but no duo schema)", store->path);
	if (*version > STORE_SCHEMA_VERSION)
		return error_set(err, "%s: schema version %" PRId64 " is newer "
		    "than this duo understands (%d); upgrade duo", store->path,
		    *version, STORE_SCHEMA_VERSION);
	return 0;
}

/* Bring the schema from version to STORE_SCHEMA_VERSION in one step. */
static int
migrate(struct store *store, struct duo_error *err)
{
	char sql[96];
	int64_t version;
	int v;

	if (store_exec(store, "BEGIN IMMEDIATE", "creating the schema",
	    err) != 0)
		return -1;
	/* Another process may have migrated while we waited for the lock. */
	if (check_schema(store, &version, err) != 0)
		goto fail;
	for (v = (int)version; v < STORE_SCHEMA_VERSION; v++)
		if (store_exec(store, migrations[v], "creating the schema",
		    err) != 0)
			goto fail;
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d; "
	    "PRAGMA application_id = %d", STORE_SCHEMA_VERSION,
	    STORE_APPLICATION_ID);
	if (store_exec(store, sql, "creating the schema", err) != 0 ||
	    store_exec(store, "COMMIT", "creating the schema", err) != 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	/* a migration that failed half-way must not leave it on */
	sqlite3_exec(store->db, "PRAGMA legacy_alter_table = OFF", NULL, NULL,
	    NULL);
	return -1;
}

/*
 * "file:PATH?immutable=1", the characters that mean something in a URI
 * escaped: SQLite then reads the file without its -shm file or locks.
 */
static char *
immutable_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *uri, *q;

	if (n > (SIZE_MAX - 32) / 3 || (uri = malloc(3 * n + 32)) == NULL)
		return NULL;
	q = uri + sprintf(uri, "file:");
	for (; *path != '\0'; path++) {
		if (*path == '%' || *path == '?' || *path == '#') {
			*q++ = '%';
			*q++ = hex[(unsigned char)*path >> 4];
			*q++ = hex[*path & 15];
		} else
			*q++ = *path;
	}
	strcpy(q, "?immutable=1");
	return uri;
}

/* Open the connection and read the schema's version. */
static int
connect_store(struct store *store, const char *name, int open_flags,
    int64_t *version, struct duo_error *err)
{
	if (sqlite3_open_v2(name, &store->db, open_flags, NULL) != SQLITE_OK) {
		if (store->db == NULL)
			return error_set(err, "%s: out of memory", store->path);
		return store_fail(store, err, "opening");
	}
	sqlite3_extended_result_codes(store->db, 0);
	sqlite3_busy_timeout(store->db, store->busy_timeout_ms);
	if (store_exec(store, "PRAGMA foreign_keys = ON", "opening", err) != 0)
		return -1;
	return check_schema(store, version, err);
}

int
store_open(struct store **out, const char *path, int flags,
    struct duo_error *err)
{
	struct store *store;
	int64_t version;
	char *uri;
	int code, rc;

	*out = NULL;
	if (check_path(path, flags, err) != 0)
		return -1;
	store = calloc(1, sizeof *store);
	if (store == NULL || (store->path = string_copy(path)) == NULL) {
		free(store);
		return error_set(err, "out of memory");
	}
	store->readonly = (flags & STORE_READONLY) != 0;
	store->busy_timeout_ms = STORE_BUSY_TIMEOUT_MS;
	rc = connect_store(store, path, store->readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &version, err);
	code = store->db != NULL ? sqlite3_errcode(store->db) : SQLITE_OK;
	if (rc != 0 && store->readonly &&
	    (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)) {
		/*
		 * A WAL database needs its -shm file to be read, which a
		 * reader who may not write the folder cannot make.  That
		 * reader is not the writer, so reading the file as immutable
		 * is safe unless its owner writes it at this very moment.
		 */
		sqlite3_close(store->db);
		store->db = NULL;
		if ((uri = immutable_uri(path)) == NULL) {
			store_close(store);
			return error_set(err, "out of memory");
		}
		rc = connect_store(store, uri, SQLITE_OPEN_READONLY |
		    SQLITE_OPEN_URI, &version, err);
		free(uri);
	}
	if (rc != 0 || ensure_exp(store, err) != 0)
		goto fail;
	if (store->readonly) {
		if (version < STORE_SCHEMA_VERSION) {
			error_set(err, version == 0 ? "%s: not a duo database "
			    "(it is empty)" : "%s: the schema is older than "
			    "this duo's; open it once for writing (duo run) "
			    "to upgrade it", path);
			goto fail;
		}
		*out = store;
		return 0;
	}
	/* A file without write permission opens read-only without a word;
	 * say so now rather than after an hour of analysis. */
	if (sqlite3_db_readonly(store->db, "main") == 1) {
		error_set(err, "%s: the database is read-only (no permission "
		    "to write it)", path);
		goto fail;
	}
	if (store_exec(store, (flags & STORE_ONE_FILE) ?
	    "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL" :
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
	    "opening", err) != 0)
		goto fail;
	if (version < STORE_SCHEMA_VERSION && migrate(store, err) != 0)
		goto fail;
	*out = store;
	return 0;
fail:
	store_close(store);
	return -1;
}

int
store_open_default(struct store **out, const char *from_option, int flags,
    struct duo_error *err)
{
	char *path;
	int is_default, rc;

	*out = NULL;
	path = store_default_path(from_option, &is_default, err);
	if (path == NULL)
		return -1;
	if (is_default && !(flags & STORE_READONLY))
		flags |= STORE_MAKE_FOLDER;
	else
		flags &= ~STORE_MAKE_FOLDER;
	rc = store_open(out, path, flags, err);
	free(path);
	return rc;
}

void
store_close(struct store *store)
{
	if (store == NULL)
		return;
	sqlite3_close(store->db);
	free(store->path);
	free(store);
}

const char *
store_path(const struct store *store)
{
	return store->path;
}

void
store_set_busy_timeout(struct store *store, int milliseconds)
{
	store->busy_timeout_ms = milliseconds;
	sqlite3_busy_timeout(store->db, milliseconds);
}

/* ---- checking a run before it is written ------------------------------- */

/* A method of names.h's table; a router's name is a plain word, so that
 * it needs no quoting in CSV, JSON or SQL. */
static int
valid_method(const char *method)
{
	const char *p;
	int id = method_find(method);

	if (id < 0)
		return 0;
	if (!method_table[id].named)
		return 1;
	p = method + strlen(method_table[id].name);
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		    *p == '-'))
			return 0;
	return 1;
}

/* Check a route against the space and the layer count; *budget is its
 * number of B. */
static int
check_route(const char *route, const char *space, int n_layer, int *budget)
{
	int l;

	*budget = 0;
	for (l = 0; l < n_layer; l++) {
		if (route[l] == '\0' || strchr(space, route[l]) == NULL)
			return -1;
		*budget += route[l] == 'B';
	}
	return route[n_layer] == '\0' ? 0 : -1;
}

/* "YYYY-MM-DDTHH:MM:SSZ" */
static int
valid_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	for (i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' :
		    s[i] != shape[i])
			return 0;
	}
	return s[i] == '\0';
}

static int
check_model(const struct model_facts *m, struct duo_error *err)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((m->sha256[i] >= '0' && m->sha256[i] <= '9') ||
		    (m->sha256[i] >= 'a' && m->sha256[i] <= 'f')))
			break;
	if (i != 64 || m->sha256[64] != '\0')
		return error_set(err, "model sha256 '%.70s' is not 64 "
		    "lower-case hex digits", m->sha256);
	if (m->path == NULL)
		return error_set(err, "model path is missing");
	/* Routes are strings of n_layer characters; 64 is far beyond any
	 * enumerable space and keeps every count in an int. */
	if (m->n_layer < 1 || m->n_layer > DUO_MAX_LAYERS || m->d_model < 1 ||
	    m->n_head < 1 || m->d_ff < 1 || m->d_ff_small < 1 ||
	    m->n_vocab < 1 || m->n_ctx < 2)
		return error_set(err, "model %s: hyperparameters out of range "
		    "(n_layer %d, n_ctx %d, n_vocab %d)", m->path, m->n_layer,
		    m->n_ctx, m->n_vocab);
	return 0;
}

static int
check_tokens(const struct run_record *run, struct duo_error *err)
{
	const struct token_record *t;
	size_t pos;

	if (run->n_tokens < 1 || run->n_tokens >= INT_MAX)
		return error_set(err, "a run needs 1 to %d tokens, not %zu",
		    INT_MAX - 1, run->n_tokens);
	if (run->tokens == NULL)
		return error_set(err, "the run has no tokens array");
	for (pos = 0; pos <= run->n_tokens; pos++) {
		t = &run->tokens[pos];
		if (t->token_id < 0 || t->token_id >= run->model.n_vocab)
			return error_set(err, "token %zu: id %d is outside the "
			    "vocabulary (%d)", pos, (int)t->token_id,
			    run->model.n_vocab);
		if (t->piece == NULL && t->piece_length > 0)
			return error_set(err, "token %zu: no piece", pos);
		if (t->byte_start > t->byte_end ||
		    t->byte_end > run->text_length)
			return error_set(err, "token %zu: bytes %zu..%zu are "
			    "outside the text (%zu bytes)", pos, t->byte_start,
			    t->byte_end, run->text_length);
	}
	return 0;
}

static int
check_results(const struct run_record *run, struct duo_error *err)
{
	const struct result_record *r;
	int n_layer = run->model.n_layer, budget;
	bool has_route;
	size_t i;

	if (run->n_results > 0 && run->results == NULL)
		return error_set(err, "the run has no results array");
	for (i = 0; i < run->n_results; i++) {
		r = &run->results[i];
		if (r->pos < 1 || (size_t)r->pos > run->n_tokens)
			return error_set(err, "result %zu: position %d is not "
			    "1..%zu", i, r->pos, run->n_tokens);
		if (r->method == NULL || !valid_method(r->method))
			return error_set(err, "result %zu: '%.40s' is not a "
			    "method", i, r->method != NULL ? r->method : "");
		if (r->budget < 0 || r->budget > n_layer)
			return error_set(err, "result %zu (%s): budget %d is "
			    "not 0..%d", i, r->method, r->budget, n_layer);
		if (!isfinite(r->loss))
			return error_set(err, "result %zu (%s, budget %d, "
			    "position %d): the loss is not a finite number", i,
			    r->method, r->budget, r->pos);
		has_route = method_table[method_find(r->method)].has_route;
		if (r->route == NULL && has_route)
			return error_set(err, "result %zu (%s): route missing",
			    i, r->method);
		if (r->route != NULL && !has_route)
			return error_set(err, "result %zu (%s): %s has no "
			    "route", i, r->method, r->method);
		if (r->route == NULL)
			continue;
		if (check_route(r->route, run->space, n_layer, &budget) != 0)
			return error_set(err, "result %zu (%s): route '%.80s' "
			    "is not %d characters of the space %s", i,
			    r->method, r->route, n_layer, run->space);
		/* Budget k always means exactly k big modules, except for
		 * a router left to its own choices (soft mode). */
		if (budget != r->budget && !(run->routers_soft &&
		    method_find(r->method) == METHOD_ROUTER))
			return error_set(err, "result %zu (%s, budget %d): "
			    "route %s has %d big modules", i, r->method,
			    r->budget, r->route, budget);
	}
	return 0;
}

/* Everything about a run that can be checked without the database. */
static int
check_run(const struct run_record *run, size_t *n_routes,
    struct duo_error *err)
{
	struct route_space space;
	uint64_t size;
	int budget;

	if (check_model(&run->model, err) != 0)
		return -1;
	if (run->space == NULL ||
	    route_space_parse(&space, run->space, err) != 0)
		return run->space == NULL ?
		    error_set(err, "the run has no route space") : -1;
	if (run->context == NULL || context_find(run->context) < 0)
		return error_set(err, "context '%s' is not shared, fixed or "
		    "greedy", run->context != NULL ? run->context : "");
	if ((run->context_route != NULL) != (context_find(run->context) ==
	    ORACLE_FIXED))
		return error_set(err, "a context route goes with the fixed "
		    "context mode, and only with it");
	if (run->context_route != NULL && check_route(run->context_route,
	    run->space, run->model.n_layer, &budget) != 0)
		return error_set(err, "context route '%.80s' is not %d "
		    "characters of the space %s", run->context_route,
		    run->model.n_layer, run->space);
	if (run->created_at != NULL && !valid_timestamp(run->created_at))
		return error_set(err, "created_at '%.40s' is not "
		    "YYYY-MM-DDTHH:MM:SSZ", run->created_at);
	if (run->source == NULL)
		return error_set(err, "the run has no source");
	if (run->text == NULL && run->text_length > 0)
		return error_set(err, "the run has no text");
	if (!isfinite(run->seconds) || run->seconds < 0)
		return error_set(err, "seconds must be a finite number >= 0");
	if (run->approximate != 0 && run->approximate != 1)
		return error_set(err, "approximate must be 0 or 1");
	if (run->beam_width < 0 || (run->beam_width > 0 && !run->approximate))
		return error_set(err, "a beam width goes with an approximate "
		    "run");
	if (check_tokens(run, err) != 0 || check_results(run, err) != 0)
		return -1;

	if (run->control_of < 0)
		return error_set(err, "control_of %" PRId64 " is not a run id",
		    run->control_of);
	*n_routes = 0;
	if (run->route_kl != NULL && run->route_losses == NULL)
		return error_set(err, "KL tables go with loss tables, and the "
		    "run has none");
	if ((int)run->tables < STORE_TABLES_F32 ||
	    run->tables > STORE_TABLES_NONE)
		return error_set(err, "unknown encoding %d of the loss tables",
		    (int)run->tables);
	if (run->route_losses == NULL || run->tables == STORE_TABLES_NONE)
		return 0;
	size = route_space_size(&space, run->model.n_layer);
	/* SQLite's longest value is 1e9 bytes by default. */
	if (size == 0 || size > 250000000)
		return error_set(err, "the space %s of %d layers is too large "
		    "to keep loss tables", run->space, run->model.n_layer);
	if (run->n_tokens > SIZE_MAX / (size_t)size)
		return error_set(err, "loss tables too large");
	*n_routes = (size_t)size;
	return 0;
}

/* ---- writing a run ------------------------------------------------------ */

static void
timestamp_now(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Add the model or find it by its hash; its stored facts must agree. */
static int
write_model(struct store *store, const struct model_facts *m,
    const char *created_at, int64_t *model_id, struct duo_error *err)
{
	static const char sql[] =
	    "INSERT INTO models (sha256, path, name, n_layer, d_model, n_head,"
	    " d_ff, d_ff_small, n_vocab, n_ctx, created_at)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT (sha256) DO UPDATE SET path = excluded.path"
	    " RETURNING id, n_layer, d_model, n_head, d_ff, d_ff_small,"
	    " n_vocab, n_ctx";
	const int facts[7] = { m->n_layer, m->d_model, m->n_head, m->d_ff,
	    m->d_ff_small, m->n_vocab, m->n_ctx };
	sqlite3_stmt *stmt;
	int i, rc;

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, m->sha256, 64, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, m->path, -1, SQLITE_STATIC);
	if (m->name != NULL)
		sqlite3_bind_text(stmt, 3, m->name, -1, SQLITE_STATIC);
	for (i = 0; i < 7; i++)
		sqlite3_bind_int(stmt, 4 + i, facts[i]);
	sqlite3_bind_text(stmt, 11, created_at, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		store_fail(store, err, "writing the model");
		sqlite3_finalize(stmt);
		return -1;
	}
	*model_id = sqlite3_column_int64(stmt, 0);
	for (i = 0; i < 7; i++)
		if (sqlite3_column_int(stmt, 1 + i) != facts[i]) {
			error_set(err, "%s: model %.12s... is stored with "
			    "other hyperparameters than %s has now",
			    store->path, m->sha256, m->path);
			sqlite3_finalize(stmt);
			return -1;
		}
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "writing the model");
	return 0;
}

static int
write_run_row(struct store *store, const struct run_record *run,
    int64_t model_id, const char *created_at, int64_t *run_id,
    struct duo_error *err)
{
	static const char sql[] =
	    "INSERT INTO runs (model_id, label, created_at, source, text,"
	    " n_tokens, space, context, context_route, settings, seconds,"
	    " approximate, beam_width, n_results, duo_version, control_of,"
	    " status, tokens_done, corpus)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, json(?), ?, ?, ?, ?, ?, ?,"
	    " ?, ?, ?)";
	sqlite3_stmt *stmt;
	int rc;

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, model_id);
	if (run->label != NULL)
		sqlite3_bind_text(stmt, 2, run->label, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, created_at, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, run->source, -1, SQLITE_STATIC);
	rc = bind_bytes(stmt, 5, run->text, run->text_length);
	sqlite3_bind_int64(stmt, 6, (int64_t)run->n_tokens);
	sqlite3_bind_text(stmt, 7, run->space, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 8, run->context, -1, SQLITE_STATIC);
	if (run->context_route != NULL)
		sqlite3_bind_text(stmt, 9, run->context_route, -1,
		    SQLITE_STATIC);
	sqlite3_bind_text(stmt, 10, run->settings != NULL ? run->settings :
	    "{}", -1, SQLITE_STATIC);
	sqlite3_bind_double(stmt, 11, run->seconds);
	sqlite3_bind_int(stmt, 12, run->approximate);
	if (run->beam_width > 0)
		sqlite3_bind_int(stmt, 13, run->beam_width);
	sqlite3_bind_int64(stmt, 14, (int64_t)run->n_results);
	sqlite3_bind_text(stmt, 15, PACKAGE_VERSION, -1, SQLITE_STATIC);
	if (run->control_of > 0)
		sqlite3_bind_int64(stmt, 16, run->control_of);
	/* a run begun window by window (store_begin_run()) has no token
	 * yet; one written whole has them all */
	sqlite3_bind_text(stmt, 17, run->tokens == NULL ? "running" :
	    "complete", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 18, run->tokens == NULL ? 0 :
	    (int64_t)run->n_tokens);
	if (run->corpus != NULL)
		sqlite3_bind_text(stmt, 19, run->corpus, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_TOOBIG)
		return error_set(err, "%s: the text is too long to store",
		    store->path);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "writing the run");
	*run_id = sqlite3_last_insert_rowid(store->db);
	return 0;
}

static int
write_tokens(struct store *store, const struct run_record *run,
    int64_t run_id, struct duo_error *err)
{
	static const char sql[] =
	    "INSERT INTO tokens (run_id, pos, token_id, piece, byte_start,"
	    " byte_end, window_index, window_pos)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	/* doc/design.md section 4: windows of BOS and n_ctx - 1 text
	 * tokens. */
	size_t per_window = (size_t)run->model.n_ctx - 1, pos;
	const struct token_record *t;
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE;

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	for (pos = 0; pos <= run->n_tokens && rc == SQLITE_DONE; pos++) {
		t = &run->tokens[pos];
		sqlite3_bind_int64(stmt, 2, (int64_t)pos);
		sqlite3_bind_int(stmt, 3, t->token_id);
		rc = bind_bytes(stmt, 4, t->piece, t->piece_length);
		sqlite3_bind_int64(stmt, 5, (int64_t)t->byte_start);
		sqlite3_bind_int64(stmt, 6, (int64_t)t->byte_end);
		sqlite3_bind_int64(stmt, 7, pos == 0 ? 0 :
		    (int64_t)((pos - 1) / per_window));
		sqlite3_bind_int64(stmt, 8, pos == 0 ? 0 :
		    (int64_t)((pos - 1) % per_window + 1));
		if (rc == SQLITE_OK)
			rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "writing the tokens");
	return 0;
}

/* Order of the results table's primary key: (pos, method, budget). */
static int
compare_results(const void *a, const void *b)
{
	const struct result_record *x = *(const struct result_record *const *)a;
	const struct result_record *y = *(const struct result_record *const *)b;
	int c;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if ((c = strcmp(x->method, y->method)) != 0)
		return c;
	return (x->budget > y->budget) - (x->budget < y->budget);
}

static int
write_results(struct store *store, const struct run_record *run,
    int64_t run_id, struct duo_error *err)
{
	static const char sql[] =
	    "INSERT INTO results (run_id, pos, method, budget, route, loss)"
	    " VALUES (?, ?, ?, ?, ?, ?)";
	const struct result_record *r = NULL, **order;
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE;
	size_t i;

	/* Rows in key order fill the table's pages front to back instead of
	 * splitting pages all over it: three to four times faster. */
	order = malloc((run->n_results > 0 ? run->n_results : 1) *
	    sizeof *order);
	if (order == NULL)
		return error_set(err, "out of memory");
	for (i = 0; i < run->n_results; i++)
		order[i] = &run->results[i];
	qsort(order, run->n_results, sizeof *order, compare_results);
	if (store_prepare(store, &stmt, sql, err) != 0) {
		free(order);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, run_id);
	for (i = 0; i < run->n_results && rc == SQLITE_DONE; i++) {
		r = order[i];
		sqlite3_bind_int(stmt, 2, r->pos);
		sqlite3_bind_text(stmt, 3, r->method, -1, SQLITE_STATIC);
		sqlite3_bind_int(stmt, 4, r->budget);
		if (r->route != NULL)
			sqlite3_bind_text(stmt, 5, r->route, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(stmt, 5);
		sqlite3_bind_double(stmt, 6, r->loss);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	free(order);
	if (rc == SQLITE_CONSTRAINT && r != NULL &&
	    sqlite3_extended_errcode(store->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
		return error_set(err, "%s: position %d, method %s, budget %d "
		    "has two results", store->path, r->pos, r->method,
		    r->budget);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "writing the results");
	return 0;
}

/* Tables per token (loss or KL, (n, n_routes) in tables, row i for
 * position first_pos + i) as little-endian float32 (width 4) or half
 * (width 2), whatever the host's order, by the INSERT sql. */
static int
write_tables_at(struct store *store, size_t width, const float *tables,
    const char *sql, const char *doing, size_t n_routes, int64_t run_id,
    size_t first_pos, size_t n, struct duo_error *err)
{
	size_t bytes = n_routes * width, i, r;
	unsigned char *row = NULL, *b;
	const float *values;
	sqlite3_stmt *stmt;
	uint32_t word;
	int rc = SQLITE_DONE;

	if ((row = malloc(bytes)) == NULL)
		return error_set(err, "out of memory");
	if (store_prepare(store, &stmt, sql, err) != 0) {
		free(row);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, run_id);
	for (r = 0; r < n && rc == SQLITE_DONE; r++) {
		values = tables + r * n_routes;
		for (i = 0; i < n_routes; i++) {
			b = row + width * i;
			if (width == 2)
				word = gguf_f32_to_f16(values[i]);
			else
				memcpy(&word, values + i, 4);
			b[0] = (unsigned char)word;
			b[1] = (unsigned char)(word >> 8);
			if (width == 2)
				continue;
			b[2] = (unsigned char)(word >> 16);
			b[3] = (unsigned char)(word >> 24);
		}
		sqlite3_bind_int64(stmt, 2, (int64_t)(first_pos + r));
		sqlite3_bind_blob(stmt, 3, row, (int)bytes, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	free(row);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, doing);
	return 0;
}

static int
write_route_losses(struct store *store, const struct run_record *run,
    size_t n_routes, int64_t run_id, struct duo_error *err)
{
	return write_tables_at(store, run->tables == STORE_TABLES_F16 ? 2 : 4,
	    run->route_losses, run->tables == STORE_TABLES_F16 ?
	    "INSERT INTO route_losses_f16 (run_id, pos, losses) VALUES "
	    "(?, ?, ?)" : "INSERT INTO route_losses (run_id, pos, losses) "
	    "VALUES (?, ?, ?)", "writing the loss tables", n_routes, run_id,
	    1, run->n_tokens, err);
}

/* The KL tables beside the loss tables, in the same encoding. */
static int
write_route_kl(struct store *store, const struct run_record *run,
    size_t n_routes, int64_t run_id, struct duo_error *err)
{
	if (run->route_kl == NULL)
		return 0;
	return write_tables_at(store, run->tables == STORE_TABLES_F16 ? 2 : 4,
	    run->route_kl, run->tables == STORE_TABLES_F16 ?
	    "INSERT INTO route_kl_f16 (run_id, pos, kl) VALUES (?, ?, ?)" :
	    "INSERT INTO route_kl (run_id, pos, kl) VALUES (?, ?, ?)",
	    "writing the KL tables", n_routes, run_id, 1, run->n_tokens, err);
}

/* The budget a result counts under in run_means: none (-1) for best. */
static int
mean_budget(const struct result_record *r)
{
	return strcmp(r->method, method_table[METHOD_BEST].name) == 0 ? -1 :
	    r->budget;
}

/* Order of run_means: (method, budget), then pos to sum in the order the
 * migration's avg() reads results. */
static int
compare_means(const void *a, const void *b)
{
	const struct result_record *x = *(const struct result_record *const *)a;
	const struct result_record *y = *(const struct result_record *const *)b;
	int c, bx = mean_budget(x), by = mean_budget(y);

	if ((c = strcmp(x->method, y->method)) != 0)
		return c;
	if (bx != by)
		return bx < by ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * The run's rows of run_means, summed here from the records: asking
 * SQLite to group the rows just written sorts them all again, a fifth
 * more time for the whole write.  The same means as the migration to
 * version 2 computes, but for rounding.
 */
static int
write_means(struct store *store, const struct run_record *run,
    int64_t run_id, struct duo_error *err)
{
	static const char sql[] =
	    "INSERT INTO run_means (run_id, method, budget, n, mean_loss)"
	    " VALUES (?, ?, ?, ?, ?)";
	const struct result_record **order, *r;
	sqlite3_stmt *stmt;
	double sum = 0;
	size_t i, n = 0;
	int rc = SQLITE_DONE;

	if (run->n_results == 0)
		return 0;
	order = malloc(run->n_results * sizeof *order);
	if (order == NULL)
		return error_set(err, "out of memory");
	for (i = 0; i < run->n_results; i++)
		order[i] = &run->results[i];
	qsort(order, run->n_results, sizeof *order, compare_means);
	if (store_prepare(store, &stmt, sql, err) != 0) {
		free(order);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, run_id);
	for (i = 0; i < run->n_results && rc == SQLITE_DONE; i++) {
		r = order[i];
		sum += r->loss;
		n++;
		/* The last result of its group: write the group. */
		if (i + 1 < run->n_results &&
		    strcmp(order[i + 1]->method, r->method) == 0 &&
		    mean_budget(order[i + 1]) == mean_budget(r))
			continue;
		sqlite3_bind_text(stmt, 2, r->method, -1, SQLITE_STATIC);
		if (mean_budget(r) < 0)
			sqlite3_bind_null(stmt, 3);
		else
			sqlite3_bind_int(stmt, 3, r->budget);
		sqlite3_bind_int64(stmt, 4, (int64_t)n);
		sqlite3_bind_double(stmt, 5, sum / (double)n);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		sum = 0;
		n = 0;
	}
	sqlite3_finalize(stmt);
	free(order);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "writing the run's means");
	return 0;
}

/* A settings text must be a JSON object; SQLite's json_type says. */
static int
check_settings(struct store *store, const char *settings,
    struct duo_error *err)
{
	sqlite3_stmt *stmt;
	const unsigned char *type;
	int ok;

	if (settings == NULL)
		return 0;
	if (store_prepare(store, &stmt, "SELECT json_type(?)", err) != 0)
		return -1;
	sqlite3_bind_text(stmt, 1, settings, -1, SQLITE_STATIC);
	ok = sqlite3_step(stmt) == SQLITE_ROW &&
	    (type = sqlite3_column_text(stmt, 0)) != NULL &&
	    strcmp((const char *)type, "object") == 0;
	sqlite3_finalize(stmt);
	if (!ok)
		return error_set(err, "settings '%.60s' is not a JSON object",
		    settings);
	return 0;
}

int
store_write_run(struct store *store, const struct run_record *run,
    int64_t *run_id, struct duo_error *err)
{
	char created_at[32];
	int64_t model_id, id = 0;
	size_t n_routes;

	if (store->readonly)
		return error_set(err, "%s: opened read-only", store->path);
	if (check_run(run, &n_routes, err) != 0 ||
	    check_settings(store, run->settings, err) != 0)
		return -1;
	if (run->created_at != NULL)
		snprintf(created_at, sizeof created_at, "%s", run->created_at);
	else
		timestamp_now(created_at);

	if (store_exec(store, "BEGIN IMMEDIATE", "writing the run", err) != 0)
		return -1;
	if (write_model(store, &run->model, created_at, &model_id, err) != 0 ||
	    write_run_row(store, run, model_id, created_at, &id, err) != 0 ||
	    write_tokens(store, run, id, err) != 0 ||
	    write_results(store, run, id, err) != 0 ||
	    write_means(store, run, id, err) != 0 ||
	    (n_routes > 0 &&
	    (write_route_losses(store, run, n_routes, id, err) != 0 ||
	    write_route_kl(store, run, n_routes, id, err) != 0)) ||
	    store_exec(store, "COMMIT", "writing the run", err) != 0) {
		/* Nothing of the run stays; earlier runs were never touched. */
		if (!sqlite3_get_autocommit(store->db))
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	/* Copy the log into the database and empty it now, so that no
	 * -wal file as big as the run stays behind when another connection
	 * (the browser) keeps SQLite from doing it at close.  The run is
	 * stored either way: a reader that keeps the log busy only delays
	 * this to the next write. */
	sqlite3_wal_checkpoint_v2(store->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);
	if (run_id != NULL)
		*run_id = id;
	return 0;
}

/* ---- a run written window by window ------------------------------------ */

/* Readers further down, shared with the run written as it goes. */
static char *column_string(sqlite3_stmt *stmt, int column, int *failed);
static double column_mean(sqlite3_stmt *stmt, int column);
static char *column_bytes(sqlite3_stmt *stmt, int column, size_t *length,
    int *failed);
static void free_info(struct run_info *info);
static int load_info(struct store *store, int64_t run_id,
    struct run_info *info, struct duo_error *err);
static int load_text(struct store *store, struct run_data *run,
    struct duo_error *err);

int
store_begin_run(struct store *store, const struct run_record *run,
    int64_t *run_id, struct duo_error *err)
{
	struct run_record header = *run;
	char created_at[32];
	int64_t model_id;
	size_t n_routes;

	if (store->readonly)
		return error_set(err, "%s: opened read-only", store->path);
	/* the checks of a whole run, but for its rows: none yet */
	header.tokens = NULL;
	header.results = NULL;
	header.n_results = 0;
	header.route_losses = NULL;
	header.route_kl = NULL;
	if (run->n_tokens < 1 || run->n_tokens >= INT_MAX)
		return error_set(err, "a run needs 1 to %d tokens, not %zu",
		    INT_MAX - 1, run->n_tokens);
	header.n_tokens = 0;            /* check_tokens() wants rows */
	{
		struct run_record probe = header;
		struct token_record two[2] = { { 0, "", 0, 0, 0 },
		    { 0, "", 0, 0, 0 } };

		probe.tokens = two;
		probe.n_tokens = 1;
		if (check_run(&probe, &n_routes, err) != 0 ||
		    check_settings(store, run->settings, err) != 0)
			return -1;
	}
	header.n_tokens = run->n_tokens;
	if (run->created_at != NULL)
		snprintf(created_at, sizeof created_at, "%s", run->created_at);
	else
		timestamp_now(created_at);
	if (store_exec(store, "BEGIN IMMEDIATE", "beginning the run",
	    err) != 0)
		return -1;
	if (write_model(store, &header.model, created_at, &model_id,
	    err) != 0 ||
	    write_run_row(store, &header, model_id, created_at, run_id,
	    err) != 0 ||
	    store_exec(store, "COMMIT", "beginning the run", err) != 0) {
		if (!sqlite3_get_autocommit(store->db))
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/* The window's tokens: BOS first in the run's first window. */
static int
write_window_tokens(struct store *store, int64_t run_id,
    const struct store_window *w, const struct run_record *run,
    struct duo_error *err)
{
	static const char sql[] =
	    "INSERT INTO tokens (run_id, pos, token_id, piece, byte_start,"
	    " byte_end, window_index, window_pos)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	size_t per_window = (size_t)run->model.n_ctx - 1, i, pos;
	const struct token_record *t;
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE;

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	for (i = w->bos != NULL ? 0 : 1; i <= w->n && rc == SQLITE_DONE;
	    i++) {
		pos = i == 0 ? 0 : w->first_pos + i - 1;
		t = i == 0 ? w->bos : &w->tokens[i - 1];
		sqlite3_bind_int64(stmt, 2, (int64_t)pos);
		sqlite3_bind_int(stmt, 3, t->token_id);
		rc = bind_bytes(stmt, 4, t->piece, t->piece_length);
		sqlite3_bind_int64(stmt, 5, (int64_t)t->byte_start);
		sqlite3_bind_int64(stmt, 6, (int64_t)t->byte_end);
		sqlite3_bind_int64(stmt, 7, pos == 0 ? 0 :
		    (int64_t)((pos - 1) / per_window));
		sqlite3_bind_int64(stmt, 8, pos == 0 ? 0 :
		    (int64_t)((pos - 1) % per_window + 1));
		if (rc == SQLITE_OK)
			rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "writing the tokens");
	return 0;
}

int
store_write_window(struct store *store, int64_t run_id,
    const struct run_record *run, const struct store_window *w,
    struct duo_error *err)
{
	struct run_record part = *run;
	struct token_record bos = { 0, "", 0, 0, 0 };
	sqlite3_stmt *stmt;
	size_t i, n_routes = 0;
	int rc;

	if (store->readonly)
		return error_set(err, "%s: opened read-only", store->path);
	if (w->first_pos < 1 || w->n < 1 ||
	    w->first_pos + w->n - 1 > run->n_tokens)
		return error_set(err, "window of positions %zu..%zu is not in "
		    "1..%zu", w->first_pos, w->first_pos + w->n - 1,
		    run->n_tokens);
	/* the whole run's checks on the window's rows */
	part.tokens = &bos;
	part.n_tokens = 0;
	part.results = w->results;
	part.n_results = w->n_results;
	part.route_losses = w->route_losses;
	part.route_kl = w->route_kl;
	part.tables = STORE_TABLES_F32;
	part.n_tokens = run->n_tokens;
	if (check_results(&part, err) != 0)
		return -1;
	for (i = 0; i < w->n_results; i++)
		if ((size_t)w->results[i].pos < w->first_pos ||
		    (size_t)w->results[i].pos >= w->first_pos + w->n)
			return error_set(err, "result %zu: position %d is not "
			    "in the window", i, w->results[i].pos);
	for (i = 0; i < w->n; i++)
		if (w->tokens[i].token_id < 0 || w->tokens[i].token_id >=
		    run->model.n_vocab || w->tokens[i].byte_start >
		    w->tokens[i].byte_end || w->tokens[i].byte_end >
		    run->text_length)
			return error_set(err, "token %zu is not a token of "
			    "the text", w->first_pos + i);
	if (w->route_losses != NULL) {
		struct route_space space;

		if (route_space_parse(&space, run->space, err) != 0)
			return -1;
		n_routes = (size_t)route_space_size(&space,
		    run->model.n_layer);
	}
	if (store_exec(store, "BEGIN IMMEDIATE", "writing a window",
	    err) != 0)
		return -1;
	if (write_window_tokens(store, run_id, w, run, err) != 0 ||
	    write_results(store, &part, run_id, err) != 0)
		goto fail;
	if (w->route_losses != NULL && (write_tables_at(store, 4,
	    w->route_losses, "INSERT INTO route_losses (run_id, pos, losses)"
	    " VALUES (?, ?, ?)", "writing the loss tables", n_routes, run_id,
	    w->first_pos, w->n, err) != 0 || (w->route_kl != NULL &&
	    write_tables_at(store, 4, w->route_kl, "INSERT INTO route_kl "
	    "(run_id, pos, kl) VALUES (?, ?, ?)", "writing the KL tables",
	    n_routes, run_id, w->first_pos, w->n, err) != 0)))
		goto fail;
	if (store_prepare(store, &stmt, "UPDATE runs SET tokens_done = ?,"
	    " seconds = seconds + ?, status = 'running' WHERE id = ?",
	    err) != 0)
		goto fail;
	sqlite3_bind_int64(stmt, 1, (int64_t)(w->first_pos + w->n - 1));
	sqlite3_bind_double(stmt, 2, w->seconds > 0 ? w->seconds : 0.0);
	sqlite3_bind_int64(stmt, 3, run_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		store_fail(store, err, "writing a window");
		goto fail;
	}
	if (store_exec(store, "COMMIT", "writing a window", err) != 0)
		goto fail;
	return 0;
fail:
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
store_stop_run(struct store *store, int64_t run_id, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	int rc;

	if (store_prepare(store, &stmt, "UPDATE runs SET status = 'stopped'"
	    " WHERE id = ? AND status = 'running'", err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "marking the run stopped");
	return 0;
}

/* A little-endian float32 blob of n values into out. */
static void
decode_f32(const unsigned char *b, size_t n, float *out)
{
	uint32_t word;
	size_t i;

	for (i = 0; i < n; i++, b += 4) {
		word = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		memcpy(out + i, &word, 4);
	}
}

int
store_scan_route_losses(struct store *store, int64_t run_id, size_t n_routes,
    store_row_fn fn, void *arg, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	float *row = malloc((n_routes > 0 ? n_routes : 1) * sizeof *row);
	int64_t pos;
	int rc, status = 0;

	if (row == NULL)
		return error_set(err, "out of memory");
	if (store_prepare(store, &stmt, "SELECT pos, losses FROM route_losses"
	    " WHERE run_id = ? ORDER BY pos", err) != 0) {
		free(row);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, run_id);
	while (status == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		pos = sqlite3_column_int64(stmt, 0);
		if (sqlite3_column_type(stmt, 1) != SQLITE_BLOB ||
		    (size_t)sqlite3_column_bytes(stmt, 1) != 4 * n_routes) {
			status = store_damaged(store, err, "run %" PRId64
			    ": the loss table of position %" PRId64 " is not "
			    "%zu float32 values", run_id, pos, n_routes);
			break;
		}
		decode_f32(sqlite3_column_blob(stmt, 1), n_routes, row);
		status = fn(arg, (size_t)pos, row, err);
	}
	if (status == 0 && rc != SQLITE_DONE)
		status = store_fail(store, err, "reading the loss tables");
	sqlite3_finalize(stmt);
	free(row);
	return status;
}

int
store_scan_results(struct store *store, int64_t run_id, const char *method,
    store_result_fn fn, void *arg, struct duo_error *err)
{
	struct result_record r;
	sqlite3_stmt *stmt;
	int rc, status = 0;

	if (store_prepare(store, &stmt, "SELECT pos, budget, route, loss"
	    " FROM results WHERE run_id = ? AND method = ?"
	    " ORDER BY pos, budget", err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	sqlite3_bind_text(stmt, 2, method, -1, SQLITE_STATIC);
	while (status == 0 && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r.pos = sqlite3_column_int(stmt, 0);
		r.method = method;
		r.budget = sqlite3_column_int(stmt, 1);
		r.route = (const char *)sqlite3_column_text(stmt, 2);
		r.loss = sqlite3_column_double(stmt, 3);
		status = fn(arg, &r, err);
	}
	if (status == 0 && rc != SQLITE_DONE)
		status = store_fail(store, err, "reading the results");
	sqlite3_finalize(stmt);
	return status;
}

int
store_complete_begin(struct store *store, struct duo_error *err)
{
	if (store->readonly)
		return error_set(err, "%s: opened read-only", store->path);
	return store_exec(store, "BEGIN IMMEDIATE", "completing the run", err);
}

int
store_append_results(struct store *store, int64_t run_id,
    const struct run_record *run, const struct result_record *results,
    size_t n, struct duo_error *err)
{
	struct run_record part = *run;

	part.results = results;
	part.n_results = n;
	if (check_results(&part, err) != 0)
		return -1;
	return write_results(store, &part, run_id, err);
}

/* One table of the run rewritten from float32 to half precision. */
static int
convert_tables(struct store *store, int64_t run_id, const char *from,
    const char *column, const char *to, size_t n_routes,
    struct duo_error *err)
{
	char select[160], insert[160];
	sqlite3_stmt *in, *out;
	unsigned char *half = malloc(2 * (n_routes > 0 ? n_routes : 1));
	const unsigned char *b;
	float value;
	uint32_t word;
	uint16_t h;
	size_t i;
	int rc, status = 0;

	if (half == NULL)
		return error_set(err, "out of memory");
	snprintf(select, sizeof select, "SELECT pos, %s FROM %s WHERE "
	    "run_id = ? ORDER BY pos", column, from);
	snprintf(insert, sizeof insert, "INSERT INTO %s (run_id, pos, %s) "
	    "VALUES (?, ?, ?)", to, column);
	if (store_prepare(store, &in, select, err) != 0) {
		free(half);
		return -1;
	}
	if (store_prepare(store, &out, insert, err) != 0) {
		sqlite3_finalize(in);
		free(half);
		return -1;
	}
	sqlite3_bind_int64(in, 1, run_id);
	sqlite3_bind_int64(out, 1, run_id);
	while (status == 0 && (rc = sqlite3_step(in)) == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(in, 1) != 4 * n_routes) {
			status = store_damaged(store, err, "run %" PRId64
			    ": a table of %s is not %zu float32 values",
			    run_id, from, n_routes);
			break;
		}
		b = sqlite3_column_blob(in, 1);
		for (i = 0; i < n_routes; i++, b += 4) {
			word = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
			    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
			memcpy(&value, &word, 4);
			h = gguf_f32_to_f16(value);
			half[2 * i] = (unsigned char)h;
			half[2 * i + 1] = (unsigned char)(h >> 8);
		}
		sqlite3_bind_int64(out, 2, sqlite3_column_int64(in, 0));
		sqlite3_bind_blob(out, 3, half, (int)(2 * n_routes),
		    SQLITE_STATIC);
		if (sqlite3_step(out) != SQLITE_DONE)
			status = store_fail(store, err, "writing the F16 "
			    "tables");
		sqlite3_reset(out);
	}
	if (status == 0 && rc != SQLITE_DONE)
		status = store_fail(store, err, "reading the tables");
	sqlite3_finalize(in);
	sqlite3_finalize(out);
	free(half);
	return status;
}

/* Run one statement of the run's id. */
static int
exec_run(struct store *store, const char *sql, int64_t run_id,
    const char *doing, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	int rc, i, n;

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	n = sqlite3_bind_parameter_count(stmt);
	for (i = 1; i <= n; i++)
		sqlite3_bind_int64(stmt, i, run_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, doing);
	return 0;
}

int
store_complete_run(struct store *store, int64_t run_id,
    enum store_tables tables, size_t n_routes, struct duo_error *err)
{
	static const char *const deletes[] = {
		"DELETE FROM route_losses WHERE run_id = ?",
		"DELETE FROM route_kl WHERE run_id = ?",
	};
	size_t i;

	if (exec_run(store, "INSERT INTO run_means (run_id, method, budget,"
	    " n, mean_loss) SELECT run_id, method,"
	    " CASE WHEN method = 'best' THEN NULL ELSE budget END,"
	    " count(*), avg(loss) FROM results WHERE run_id = ?"
	    " GROUP BY method, CASE WHEN method = 'best' THEN NULL"
	    " ELSE budget END", run_id, "writing the run's means", err) != 0)
		goto fail;
	if (tables == STORE_TABLES_F16 && (convert_tables(store, run_id,
	    "route_losses", "losses", "route_losses_f16", n_routes,
	    err) != 0 || convert_tables(store, run_id, "route_kl", "kl",
	    "route_kl_f16", n_routes, err) != 0))
		goto fail;
	if (tables != STORE_TABLES_F32)
		for (i = 0; i < 2; i++)
			if (exec_run(store, deletes[i], run_id, "dropping the "
			    "float32 tables", err) != 0)
				goto fail;
	if (exec_run(store, "UPDATE runs SET status = 'complete',"
	    " tokens_done = n_tokens,"
	    " n_results = (SELECT count(*) FROM results WHERE run_id = ?)"
	    " WHERE id = ?", run_id, "completing the run", err) != 0 ||
	    store_exec(store, "COMMIT", "completing the run", err) != 0)
		goto fail;
	sqlite3_wal_checkpoint_v2(store->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);
	return 0;
fail:
	store_complete_abort(store);
	return -1;
}

void
store_complete_abort(struct store *store)
{
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

int
store_get_run(struct store *store, int64_t run_id, struct run_info *info,
    char **text, size_t *text_length, struct duo_error *err)
{
	struct run_data data;
	int rc;

	memset(&data, 0, sizeof data);
	rc = load_info(store, run_id, &data.info, err);
	if (rc == 1)
		return error_set(err, "%s: no run %" PRId64, store->path,
		    run_id);
	if (rc != 0)
		return -1;
	if (data.info.damage[0] != '\0') {
		store_damaged(store, err, "%s", data.info.damage);
		free_info(&data.info);
		return -1;
	}
	if (text != NULL) {
		if (load_text(store, &data, err) != 0) {
			free_info(&data.info);
			return -1;
		}
		*text = data.text;
		*text_length = data.text_length;
	}
	*info = data.info;
	return 0;
}

void
store_free_run_info(struct run_info *info)
{
	free_info(info);
}

/* One summary row per method and budget, in the order of run_means. */
int
store_run_means(struct store *store, int64_t run_id,
    struct store_mean **means, size_t *n_means, struct duo_error *err)
{
	static const char sql[] =
	    "SELECT m.method, coalesce(m.budget, -1), m.n, m.mean_loss,"
	    " (SELECT avg(length(r.route) - length(replace(r.route, 'B', '')))"
	    "  FROM results AS r WHERE r.run_id = m.run_id"
	    "  AND r.method = m.method"
	    "  AND (m.method GLOB 'router:*' OR m.method = 'best')"
	    "  AND (m.budget IS NULL OR r.budget = m.budget))"
	    " FROM run_means AS m WHERE m.run_id = ?"
	    " ORDER BY m.method, m.budget";
	struct store_mean *list = NULL, *grown;
	size_t n = 0, capacity = 0;
	sqlite3_stmt *stmt;
	int rc, failed = 0;

	*means = NULL;
	*n_means = 0;
	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == capacity) {
			capacity = 2 * capacity + 32;
			if ((grown = realloc(list, capacity *
			    sizeof *list)) == NULL) {
				failed = 1;
				break;
			}
			list = grown;
		}
		memset(&list[n], 0, sizeof list[n]);
		list[n].method = column_string(stmt, 0, &failed);
		list[n].budget = sqlite3_column_int(stmt, 1);
		list[n].n = sqlite3_column_int64(stmt, 2);
		list[n].mean_loss = sqlite3_column_double(stmt, 3);
		list[n].mean_spent = column_mean(stmt, 4);
		if (failed || list[n].method == NULL) {
			failed = 1;
			break;
		}
		n++;
	}
	sqlite3_finalize(stmt);
	if (failed) {
		store_free_means(list, n);
		return error_set(err, "out of memory");
	}
	if (rc != SQLITE_DONE) {
		store_free_means(list, n);
		return store_fail(store, err, "reading the run's means");
	}
	*means = list;
	*n_means = n;
	return 0;
}

void
store_free_means(struct store_mean *means, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(means[i].method);
	free(means);
}

int
store_hardest_token(struct store *store, int64_t run_id,
    struct store_hardest *hardest, struct duo_error *err)
{
	static const char sql[] =
	    "SELECT d.pos, d.piece, d.loss_small, d.loss_best, d.loss_big"
	    " FROM difficulty AS d WHERE d.run_id = ?"
	    " AND d.difficulty IS NOT NULL"
	    " ORDER BY d.difficulty DESC, d.pos LIMIT 1";
	sqlite3_stmt *stmt;
	size_t length;
	int rc, failed = 0;

	memset(hardest, 0, sizeof *hardest);
	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		hardest->pos = sqlite3_column_int64(stmt, 0);
		hardest->piece = column_bytes(stmt, 1, &length, &failed);
		hardest->piece_length = length;
		hardest->loss_small = sqlite3_column_double(stmt, 2);
		hardest->loss_best = sqlite3_column_double(stmt, 3);
		hardest->loss_big = sqlite3_column_double(stmt, 4);
	}
	sqlite3_finalize(stmt);
	if (failed)
		return error_set(err, "out of memory");
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(store, err, "finding the hardest token");
	return rc == SQLITE_ROW ? 0 : 1;
}

/* ---- a run kept in a side file ------------------------------------------ */

/* Remove a side file that could not be made whole, and whatever SQLite
 * left beside it. */
static void
remove_side_file(const char *path)
{
	static const char *const suffixes[] = { "", "-journal", "-wal",
	    "-shm" };
	char *name;
	size_t i;

	for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
		if ((name = string_join(path, suffixes[i])) != NULL) {
			unlink(name);
			free(name);
		}
}

/* Write run as the only run of a new database at path, a name nobody
 * has taken (O_EXCL); on failure nothing is left there. */
static int
write_side_file(const char *path, const struct run_record *run,
    struct duo_error *err)
{
	struct store *side;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return error_set(err, "%s: %s", path, strerror(errno));
	close(fd);
	/* an empty file is an empty database: store_open() makes the
	 * schema in it */
	if (store_open(&side, path, STORE_ONE_FILE, err) != 0) {
		remove_side_file(path);
		return -1;
	}
	if (store_write_run(side, run, NULL, err) != 0) {
		store_close(side);
		remove_side_file(path);
		return -1;
	}
	/* with a rollback journal the commit is in the file already */
	store_close(side);
	return 0;
}

/* "FOLDER/BASE.kept-20261203T071500Z-1234.db"; a fresh string. */
static char *
side_file_name(const char *folder, const char *base)
{
	char stamp[32], *name;
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	n = strlen(folder) + strlen(base) + strlen(stamp) + 48;
	/* "" is the current folder: the name stays relative, as the
	 * database's was */
	if ((name = malloc(n)) != NULL)
		snprintf(name, n, "%s%s%s.kept-%s-%ld.db", folder,
		    folder[0] != '\0' && folder[strlen(folder) - 1] != '/' ?
		    "/" : "", base, stamp, (long)getpid());
	return name;
}

int
store_keep_run(const char *db_path, const struct run_record *run,
    char **side_path, struct duo_error *err)
{
	const char *slash = strrchr(db_path, '/'), *base, *tmpdir;
	struct duo_error first, second;
	char *folder, *path;

	*side_path = NULL;
	base = slash != NULL ? slash + 1 : db_path;
	/* beside the database: "runs.db" keeps "runs.db.kept-...db" */
	if ((folder = slash != NULL ? parent_folder(db_path) :
	    string_copy("")) == NULL ||
	    (path = side_file_name(folder, base)) == NULL) {
		free(folder);
		return error_set(err, "out of memory");
	}
	free(folder);
	if (write_side_file(path, run, &first) == 0) {
		*side_path = path;
		return 0;
	}
	free(path);
	/* that folder's disk may be the full one: the temporary folder */
	tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || tmpdir[0] != '/')
		tmpdir = "/tmp";
	if ((path = side_file_name(tmpdir, base)) == NULL)
		return error_set(err, "out of memory");
	if (write_side_file(path, run, &second) == 0) {
		*side_path = path;
		return 0;
	}
	free(path);
	return error_set(err, "%s; %s", first.message, second.message);
}

/* ---- room for a run ------------------------------------------------------ */

/*
 * Bytes per row, measured with dbstat on runs of tests/fixture.gguf (4
 * layers) and data/duo.gguf (12 layers, 4096 routes): a results row took
 * 32.5 + L bytes, a tokens row 27 bytes and its piece, a route_losses row
 * its blob and 4% (overflow pages, its key's index).  The estimate rounds
 * each up and adds 5% for the B-trees' inner pages and partly filled
 * pages, and 8 pages for a first model row and the tables' first pages:
 *
 *   E = 1.05 * (2 T + S + 256 + 28 (n + 1) + (34 + L) R + 48 M
 *               + K (1.04 B + 48)) + 8 P
 *
 * T the text's bytes (in runs and again as the tokens' pieces), S the
 * settings, n the tokens, R the results rows, M the run_means rows, K the
 * route_losses rows of B bytes each, P the page size.  On eight runs of
 * the two models (spaces BS and BS., greedy, beam, one budget or all) it
 * was 5 to 17% above the pages the runs took.
 */
double
store_estimate_run_bytes(const struct run_size *size, int64_t page_size)
{
	double rows = 2.0 * (double)size->text_bytes +
	    (double)size->settings_bytes + 256.0 +
	    28.0 * ((double)size->n_tokens + 1.0) +
	    (34.0 + size->n_layer) * (double)size->n_results +
	    48.0 * (double)size->n_methods +
	    (double)size->n_tables * (1.04 * (double)size->table_bytes + 48.0);

	return 1.05 * rows + 8.0 * (double)page_size;
}

/* A size for people: "812 KiB", "3.4 MiB". */
static const char *
format_bytes(double bytes, char out[32])
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB",
	    "TiB" };
	int i = 0;

	while (bytes >= 1024.0 && i < 4) {
		bytes /= 1024.0;
		i++;
	}
	snprintf(out, 32, i == 0 ? "%.0f %s" : bytes < 10 ? "%.1f %s" :
	    "%.0f %s", bytes, units[i]);
	return out;
}

int
store_check_room(struct store *store, const struct run_size *size,
    struct duo_error *err)
{
	struct statvfs fs;
	int64_t page_size, free_pages;
	double run_bytes, log_bytes, disk_free, pages_free, need;
	char a[32], b[32], c[32], d[32];

	if (store_query_int(store, "PRAGMA page_size", &page_size,
	    "reading the free space", err) != 0 ||
	    store_query_int(store, "PRAGMA freelist_count", &free_pages,
	    "reading the free space", err) != 0)
		return -1;
	if (statvfs(store->path, &fs) != 0)
		return error_set(err, "%s: reading the free space: %s",
		    store->path, strerror(errno));
	/* root may use the blocks kept back for it; others may not */
	disk_free = (double)(geteuid() == 0 ? fs.f_bfree : fs.f_bavail) *
	    (double)fs.f_frsize;
	pages_free = (double)free_pages * (double)page_size;
	run_bytes = store_estimate_run_bytes(size, page_size);
	/* each page goes to the log with a 24-byte frame header, then the
	 * database grows by what its free pages cannot take */
	log_bytes = run_bytes * (1.0 + 24.0 / (double)page_size);
	need = log_bytes + (run_bytes > pages_free ? run_bytes - pages_free :
	    0.0);
	if (need <= disk_free)
		return 0;
	return error_set(err, "%s: not enough free space for this run: "
	    "storing it needs about %s (a run of about %s in the database, "
	    "written first to its -wal log), and there is %s free on the "
	    "file system and %s of free pages in the database",
	    store->path, format_bytes(need, a), format_bytes(run_bytes, b),
	    format_bytes(disk_free, c), format_bytes(pages_free, d));
}

/* ---- reading runs -------------------------------------------------------- */

/* A method's mean loss over all its budgets, from run_means by its index:
 * the run list must not read results (the browser's first screen). */
#define RUN_MEAN(method) \
    "(SELECT sum(n * mean_loss) / sum(n) FROM run_means" \
    " WHERE run_id = r.id AND method = '" method "')"

/* The columns fill_info() reads, in its order. */
#define RUN_INFO_COLUMNS \
    "r.id, r.model_id, m.sha256, m.name, m.path, m.n_layer, m.d_model," \
    " m.n_head, m.d_ff, m.d_ff_small, m.n_vocab, m.n_ctx, r.label," \
    " r.created_at, r.source, r.space, r.context, r.context_route," \
    " r.settings, r.duo_version, r.n_tokens, r.seconds, r.approximate," \
    " coalesce(r.beam_width, 0), r.n_results," \
    " " RUN_MEAN("big") "," \
    " " RUN_MEAN("small") "," \
    " " RUN_MEAN("best") "," \
    " m.id IS NOT NULL," \
    " CASE WHEN typeof(r.settings) = 'text' AND json_valid(r.settings)" \
    "  THEN json_type(r.settings) = 'object' ELSE 0 END," \
    " coalesce(r.control_of, 0)," \
    " (EXISTS (SELECT 1 FROM route_losses WHERE run_id = r.id)" \
    "  OR EXISTS (SELECT 1 FROM route_kl WHERE run_id = r.id))" \
    " AND (EXISTS (SELECT 1 FROM route_losses_f16 WHERE run_id = r.id)" \
    "  OR EXISTS (SELECT 1 FROM route_kl_f16 WHERE run_id = r.id))," \
    " r.status, r.tokens_done, r.corpus" \
    " FROM runs AS r LEFT JOIN models AS m ON m.id = r.model_id"

/* A column as a fresh string, NULL for SQL NULL; *failed on no memory. */
static char *
column_string(sqlite3_stmt *stmt, int column, int *failed)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	char *copy;

	if (text == NULL)
		return NULL;
	copy = string_copy((const char *)text);
	if (copy == NULL)
		*failed = 1;
	return copy;
}

static double
column_mean(sqlite3_stmt *stmt, int column)
{
	if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(stmt, column);
}

static void
free_info(struct run_info *info)
{
	free(info->model_name);
	free(info->model_path);
	free(info->label);
	free(info->created_at);
	free(info->source);
	free(info->context_route);
	free(info->settings);
	free(info->duo_version);
	free(info->corpus);
	memset(info, 0, sizeof *info);
}

/* A column's bytes as a fresh string (a NUL added, NULs inside kept),
 * NULL for SQL NULL; *failed on no memory. */
static char *
column_bytes(sqlite3_stmt *stmt, int column, size_t *length, int *failed)
{
	const void *bytes = sqlite3_column_blob(stmt, column);
	int n = sqlite3_column_bytes(stmt, column);
	char *copy;

	*length = 0;
	if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
		return NULL;
	if ((copy = malloc((size_t)n + 1)) == NULL) {
		*failed = 1;
		return NULL;
	}
	if (n > 0)
		memcpy(copy, bytes, (size_t)n);
	copy[n] = '\0';
	*length = (size_t)n;
	return copy;
}

/*
 * Why a run's row cannot be read, into info->damage.  A database is a
 * file that people share, so the numbers of its rows are checked before
 * anything is allocated or indexed from them, whatever the schema's CHECK
 * and NOT NULL constraints say (a file may have been written with them
 * off, or by another program).  store_list_runs() and store_load_run()
 * both judge a run by this one function.
 */
static void
check_run_info(struct run_info *info, int model_found, int mixed_tables)
{
	const char *field = NULL;
	int64_t value = 0;

	if (!model_found) {
		snprintf(info->damage, sizeof info->damage, "run %" PRId64
		    ": its model %" PRId64 " is not in the models table",
		    info->id, info->model_id);
		return;
	}
	if (info->n_tokens < 1 || info->n_tokens >= INT_MAX) {
		field = "n_tokens";
		value = info->n_tokens;
	} else if (info->n_results < 0) {
		field = "n_results";
		value = info->n_results;
	} else if (info->n_layer < 1 || info->n_layer > DUO_MAX_LAYERS) {
		field = "its model's n_layer";
		value = info->n_layer;
	} else if (info->tokens_done < 0 || info->tokens_done >
	    info->n_tokens || (info->status == RUN_COMPLETE &&
	    info->tokens_done != info->n_tokens)) {
		field = "tokens_done";
		value = info->tokens_done;
	}
	if (field != NULL) {
		snprintf(info->damage, sizeof info->damage, "run %" PRId64
		    ": %s is %" PRId64, info->id, field, value);
		return;
	}
	/* a reader takes whichever it finds first: one encoding a run */
	if (mixed_tables) {
		snprintf(info->damage, sizeof info->damage, "run %" PRId64
		    ": it keeps both float32 and F16 loss tables", info->id);
		return;
	}
	field = info->created_at == NULL ? "created_at" :
	    info->source == NULL ? "source" :
	    info->settings == NULL ? "settings" :
	    info->model_path == NULL ? "its model's path" : NULL;
	if (field != NULL) {
		snprintf(info->damage, sizeof info->damage, "run %" PRId64
		    ": %s is NULL", info->id, field);
		return;
	}
	if (info->status == RUN_UNKNOWN)
		snprintf(info->damage, sizeof info->damage, "run %" PRId64
		    ": its status is not running, stopped or complete",
		    info->id);
}

/* An empty string where a damaged row has none; -1 on no memory. */
static int
fill_missing(char **text)
{
	if (*text == NULL && (*text = string_copy("")) == NULL)
		return -1;
	return 0;
}

/* Read one row of RUN_INFO_COLUMNS; -1 only on no memory (a bad row is
 * read with its damage said). */
static int
fill_info(sqlite3_stmt *stmt, struct run_info *info)
{
	const unsigned char *text;
	int failed = 0;

	memset(info, 0, sizeof *info);
	info->id = sqlite3_column_int64(stmt, 0);
	info->model_id = sqlite3_column_int64(stmt, 1);
	text = sqlite3_column_text(stmt, 2);
	snprintf(info->model_sha256, sizeof info->model_sha256, "%s",
	    text != NULL ? (const char *)text : "");
	info->model_name = column_string(stmt, 3, &failed);
	info->model_path = column_string(stmt, 4, &failed);
	info->n_layer = sqlite3_column_int(stmt, 5);
	info->d_model = sqlite3_column_int(stmt, 6);
	info->n_head = sqlite3_column_int(stmt, 7);
	info->d_ff = sqlite3_column_int(stmt, 8);
	info->d_ff_small = sqlite3_column_int(stmt, 9);
	info->n_vocab = sqlite3_column_int(stmt, 10);
	info->n_ctx = sqlite3_column_int(stmt, 11);
	info->label = column_string(stmt, 12, &failed);
	info->created_at = column_string(stmt, 13, &failed);
	info->source = column_string(stmt, 14, &failed);
	text = sqlite3_column_text(stmt, 15);
	snprintf(info->space, sizeof info->space, "%s",
	    text != NULL ? (const char *)text : "");
	text = sqlite3_column_text(stmt, 16);
	snprintf(info->context, sizeof info->context, "%s",
	    text != NULL ? (const char *)text : "");
	info->context_route = column_string(stmt, 17, &failed);
	info->settings = column_bytes(stmt, 18, &info->settings_length,
	    &failed);
	info->duo_version = column_string(stmt, 19, &failed);
	info->n_tokens = sqlite3_column_int64(stmt, 20);
	info->seconds = sqlite3_column_double(stmt, 21);
	info->approximate = sqlite3_column_int(stmt, 22);
	info->beam_width = sqlite3_column_int(stmt, 23);
	info->n_results = sqlite3_column_int64(stmt, 24);
	info->mean_loss_big = column_mean(stmt, 25);
	info->mean_loss_small = column_mean(stmt, 26);
	info->mean_loss_best = column_mean(stmt, 27);
	/* SQLite's json_type reads up to a NUL: the C side checks the rest. */
	info->settings_is_object = sqlite3_column_int(stmt, 29) &&
	    info->settings != NULL &&
	    is_text(info->settings, info->settings_length);
	info->control_of = sqlite3_column_int64(stmt, 30);
	text = sqlite3_column_text(stmt, 32);
	info->status = text == NULL ? RUN_UNKNOWN :
	    strcmp((const char *)text, "complete") == 0 ? RUN_COMPLETE :
	    strcmp((const char *)text, "running") == 0 ? RUN_RUNNING :
	    strcmp((const char *)text, "stopped") == 0 ? RUN_STOPPED :
	    RUN_UNKNOWN;
	info->tokens_done = sqlite3_column_int64(stmt, 33);
	info->corpus = column_string(stmt, 34, &failed);
	if (!failed)
		check_run_info(info, sqlite3_column_int(stmt, 28),
		    sqlite3_column_int(stmt, 31));
	if (failed || fill_missing(&info->created_at) != 0 ||
	    fill_missing(&info->source) != 0 ||
	    fill_missing(&info->settings) != 0 ||
	    fill_missing(&info->model_path) != 0) {
		free_info(info);
		return -1;
	}
	return 0;
}

int
store_list_runs(struct store *store, struct run_info **runs, size_t *n_runs,
    struct duo_error *err)
{
	struct run_info *list = NULL, *grown;
	size_t n = 0, capacity = 0;
	sqlite3_stmt *stmt;
	int rc;

	*runs = NULL;
	*n_runs = 0;
	if (store_prepare(store, &stmt, "SELECT " RUN_INFO_COLUMNS
	    " ORDER BY r.id", err) != 0)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == capacity) {
			capacity = capacity * 2 + 16;
			grown = realloc(list, capacity * sizeof *list);
			if (grown == NULL)
				break;
			list = grown;
		}
		if (fill_info(stmt, &list[n]) != 0)
			break;
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW) {
		store_free_runs(list, n);
		return error_set(err, "out of memory");
	}
	if (rc != SQLITE_DONE) {
		store_free_runs(list, n);
		return store_fail(store, err, "listing the runs");
	}
	*runs = list;
	*n_runs = n;
	return 0;
}

void
store_free_runs(struct run_info *runs, size_t n_runs)
{
	size_t i;

	for (i = 0; i < n_runs; i++)
		free_info(&runs[i]);
	free(runs);
}

/* Read one run's info; 1 if there is no such run. */
static int
load_info(struct store *store, int64_t run_id, struct run_info *info,
    struct duo_error *err)
{
	sqlite3_stmt *stmt;
	int rc;

	if (store_prepare(store, &stmt, "SELECT " RUN_INFO_COLUMNS
	    " WHERE r.id = ?", err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		rc = fill_info(stmt, info);
		sqlite3_finalize(stmt);
		return rc == 0 ? 0 : error_set(err, "out of memory");
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return 1;
	return store_fail(store, err, "reading a run");
}

int
store_find_run(struct store *store, const char *spec, int64_t *run_id,
    struct duo_error *err)
{
	sqlite3_stmt *stmt;
	char *end;
	long long number;
	int64_t found = 0;
	int rc, matches = 0;

	errno = 0;
	number = strtoll(spec, &end, 10);
	if (strcmp(spec, "last") == 0)
		rc = store_prepare(store, &stmt, "SELECT max(id) FROM runs "
		    "HAVING count(*) > 0", err);
	else if (*spec != '\0' && *end == '\0' && errno == 0) {
		rc = store_prepare(store, &stmt, "SELECT id FROM runs "
		    "WHERE id = ?", err);
		if (rc == 0)
			sqlite3_bind_int64(stmt, 1, number);
	} else {
		rc = store_prepare(store, &stmt, "SELECT id FROM runs "
		    "WHERE label = ? ORDER BY id", err);
		if (rc == 0)
			sqlite3_bind_text(stmt, 1, spec, -1, SQLITE_STATIC);
	}
	if (rc != 0)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (matches++ == 0)
			found = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "finding a run");
	if (matches == 0)
		return error_set(err, "%s: no run %s%s%s", store->path,
		    strcmp(spec, "last") == 0 ? "is stored" : "'",
		    strcmp(spec, "last") == 0 ? "" : spec,
		    strcmp(spec, "last") == 0 ? "" : "'");
	if (matches > 1)
		return error_set(err, "%s: %d runs have the label '%s'; give "
		    "a run id (the first is %" PRId64 ")", store->path, matches,
		    spec, found);
	*run_id = found;
	return 0;
}

int
store_check_resumable(struct store *store, const struct run_info *info,
    int64_t window_tokens, struct duo_error *err)
{
	static const char sql[] =
	    "SELECT (SELECT count(*) FROM tokens WHERE run_id = ?1"
	    "   AND pos <= ?2),"
	    " (SELECT count(*) FROM tokens WHERE run_id = ?1 AND pos > ?2)"
	    " + (SELECT count(*) FROM results WHERE run_id = ?1 AND pos > ?2)"
	    " + (SELECT count(*) FROM route_losses"
	    "   WHERE run_id = ?1 AND pos > ?2)"
	    " + (SELECT count(*) FROM route_kl WHERE run_id = ?1 AND pos > ?2)";
	sqlite3_stmt *stmt;
	int64_t done = info->tokens_done, below = 0, beyond = 0;
	int rc;

	/* a run is stored a whole window at a time */
	if (window_tokens < 1 || (done % window_tokens != 0 &&
	    done != info->n_tokens))
		return store_damaged(store, err, "run %" PRId64 ": tokens_done "
		    "is %" PRId64 ", not the end of a window of %" PRId64
		    " tokens", info->id, done, window_tokens);
	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, info->id);
	sqlite3_bind_int64(stmt, 2, done);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		below = sqlite3_column_int64(stmt, 0);
		beyond = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW)
		return store_fail(store, err, "reading the stored windows");
	if (below != (done > 0 ? done + 1 : 0))
		return store_damaged(store, err, "run %" PRId64 ": %" PRId64
		    " tokens done, but %" PRId64 " of positions 0 to %" PRId64
		    " are stored", info->id, done, below, done);
	if (beyond != 0)
		return store_damaged(store, err, "run %" PRId64 ": %" PRId64
		    " rows lie past its last token done, %" PRId64, info->id,
		    beyond, done);
	return 0;
}

int
store_find_control(struct store *store, int64_t run_id, int64_t *control_id,
    struct duo_error *err)
{
	sqlite3_stmt *stmt;
	int rc;

	if (store_prepare(store, &stmt, "SELECT max(id) FROM runs "
	    "WHERE control_of = ? HAVING count(*) > 0", err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*control_id = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return store_fail(store, err, "finding a run's control");
	return 0;
}

/* The index of method in run->methods, adding it if new; -1 if no memory. */
static int
intern_method(struct run_data *run, const char *method, size_t *index)
{
	char **grown, *copy;
	size_t i;

	for (i = run->n_methods; i-- > 0; )
		if (strcmp(run->methods[i], method) == 0) {
			*index = i;
			return 0;
		}
	grown = realloc(run->methods, (run->n_methods + 1) * sizeof *grown);
	if (grown == NULL)
		return -1;
	run->methods = grown;
	if ((copy = string_copy(method)) == NULL)
		return -1;
	run->methods[run->n_methods] = copy;
	*index = run->n_methods++;
	return 0;
}

static int
load_text(struct store *store, struct run_data *run, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	const void *bytes;
	int length;

	if (store_prepare(store, &stmt, "SELECT text FROM runs WHERE id = ?",
	    err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run->info.id);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		return store_fail(store, err, "reading the text");
	}
	bytes = sqlite3_column_blob(stmt, 0);
	length = sqlite3_column_bytes(stmt, 0);
	run->text = malloc((size_t)length + 1);
	if (run->text == NULL) {
		sqlite3_finalize(stmt);
		return error_set(err, "out of memory");
	}
	if (length > 0)
		memcpy(run->text, bytes, (size_t)length);
	run->text[length] = '\0';
	run->text_length = (size_t)length;
	sqlite3_finalize(stmt);
	return 0;
}

static int
load_tokens(struct store *store, struct run_data *run, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	size_t n = (size_t)run->info.n_tokens + 1, used = 0, capacity = 0, i, k;
	size_t *offsets;
	const void *bytes;
	char *grown;
	int rc, length;

	run->tokens = calloc(n, sizeof *run->tokens);
	offsets = calloc(n, sizeof *offsets);
	if (run->tokens == NULL || offsets == NULL) {
		free(offsets);
		return error_set(err, "out of memory");
	}
	if (store_prepare(store, &stmt, "SELECT pos, token_id, piece, "
	    "byte_start, byte_end FROM tokens WHERE run_id = ? ORDER BY pos",
	    err) != 0) {
		free(offsets);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, run->info.id);
	i = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (i >= n || sqlite3_column_int64(stmt, 0) != (int64_t)i) {
			rc = SQLITE_CORRUPT;
			break;
		}
		bytes = sqlite3_column_blob(stmt, 2);
		length = sqlite3_column_bytes(stmt, 2);
		if (capacity - used < (size_t)length + 1) {
			capacity = capacity * 2 + (size_t)length + 4096;
			grown = realloc(run->pieces, capacity);
			if (grown == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			run->pieces = grown;
		}
		if (length > 0)
			memcpy(run->pieces + used, bytes, (size_t)length);
		run->pieces[used + (size_t)length] = '\0';
		offsets[i] = used;
		used += (size_t)length + 1;
		run->tokens[i].token_id = sqlite3_column_int(stmt, 1);
		run->tokens[i].piece_length = (size_t)length;
		run->tokens[i].byte_start =
		    (size_t)sqlite3_column_int64(stmt, 3);
		run->tokens[i].byte_end = (size_t)sqlite3_column_int64(stmt, 4);
		i++;
	}
	sqlite3_finalize(stmt);
	/* The arena has stopped moving: point the pieces into it. */
	for (k = 0; k < i; k++)
		run->tokens[k].piece = run->pieces + offsets[k];
	free(offsets);
	if (rc == SQLITE_NOMEM)
		return error_set(err, "out of memory");
	if (rc == SQLITE_CORRUPT || (rc == SQLITE_DONE && i != n))
		return store_damaged(store, err, "run %" PRId64 ": the tokens "
		    "do not run from 0 to %" PRId64, run->info.id,
		    run->info.n_tokens);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "reading the tokens");
	run->n_tokens = n - 1;
	return 0;
}

/* The most results the first allocation of load_results() trusts the
 * run row for. */
#define RESULTS_HINT_MAX ((size_t)1 << 22)

/*
 * What is wrong with a result row, or NULL: every view indexes by its
 * budget and reads its route layer by layer, so the budget must be 0..L,
 * a route exactly L characters of the run's space, and the loss a finite
 * number (a stored NaN would reach colour scales as an index).
 */
static const char *
result_fault(const struct run_data *run, sqlite3_stmt *stmt,
    const unsigned char *route)
{
	sqlite3_int64 budget = sqlite3_column_int64(stmt, 2);
	size_t l, L = (size_t)run->info.n_layer;
	/* A space that is none of duo's is the run's own oddity (export
	 * still writes it out, escaped); its routes are then held to the
	 * three choices that any route may use. */
	const char *choices = strcmp(run->info.space, "BS") == 0 ||
	    strcmp(run->info.space, "B.") == 0 ||
	    strcmp(run->info.space, "BS.") == 0 ? run->info.space : "BS.";

	if (sqlite3_column_type(stmt, 2) != SQLITE_INTEGER || budget < 0 ||
	    budget > (sqlite3_int64)L)
		return "a result's budget is not between 0 and the layers";
	if (sqlite3_column_type(stmt, 4) != SQLITE_INTEGER &&
	    sqlite3_column_type(stmt, 4) != SQLITE_FLOAT)
		return "a result's loss is not a number";
	if (!isfinite(sqlite3_column_double(stmt, 4)))
		return "a result's loss is not finite";
	if (route == NULL)
		return NULL;
	if ((size_t)sqlite3_column_bytes(stmt, 3) != L)
		return "a result's route is not one character a layer";
	for (l = 0; l < L; l++)
		if (route[l] == '\0' || strchr(choices, route[l]) == NULL)
			return "a result's route has a choice outside its "
			    "space";
	return NULL;
}

static int
load_results(struct store *store, struct run_data *run, struct duo_error *err)
{
	size_t slot = (size_t)run->info.n_layer + 1, capacity, i = 0, k, p;
	size_t *method_of;
	void *grown[3];
	sqlite3_stmt *stmt;
	const unsigned char *text;
	const char *fault = NULL;
	int rc, pos, bad = 0, bad_pos = 0;

	/* n_results is a hint for the first allocation, no more: the rows
	 * themselves are counted, and the arrays grow with them */
	capacity = run->info.n_results > 0 &&
	    (size_t)run->info.n_results <= RESULTS_HINT_MAX ?
	    (size_t)run->info.n_results : 16;
	run->results = malloc(capacity * sizeof *run->results);
	method_of = malloc(capacity * sizeof *method_of);
	/* One slot of L + 1 bytes per result; an empty slot is no route. */
	run->routes = malloc(capacity * slot);
	run->first_result = calloc(run->n_tokens + 2,
	    sizeof *run->first_result);
	if (run->results == NULL || method_of == NULL || run->routes == NULL ||
	    run->first_result == NULL) {
		free(method_of);
		return error_set(err, "out of memory");
	}
	if (store_prepare(store, &stmt, "SELECT pos, method, budget, route, "
	    "loss FROM results WHERE run_id = ? ORDER BY pos, method, budget",
	    err) != 0) {
		free(method_of);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, run->info.id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (i == capacity) {
			if (capacity > SIZE_MAX / 2 / (slot +
			    sizeof *run->results + sizeof *method_of)) {
				rc = SQLITE_NOMEM;
				break;
			}
			capacity *= 2;
			grown[0] = realloc(run->results,
			    capacity * sizeof *run->results);
			if (grown[0] != NULL)
				run->results = grown[0];
			grown[1] = realloc(method_of,
			    capacity * sizeof *method_of);
			if (grown[1] != NULL)
				method_of = grown[1];
			grown[2] = realloc(run->routes, capacity * slot);
			if (grown[2] != NULL)
				run->routes = grown[2];
			if (grown[0] == NULL || grown[1] == NULL ||
			    grown[2] == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
		}
		pos = sqlite3_column_int(stmt, 0);
		text = sqlite3_column_text(stmt, 1);
		if (pos < 1 || (size_t)pos > run->n_tokens || text == NULL) {
			bad = 1;
			break;
		}
		if (intern_method(run, (const char *)text,
		    &method_of[i]) != 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		run->results[i].pos = pos;
		run->results[i].budget = sqlite3_column_int(stmt, 2);
		run->results[i].loss = sqlite3_column_double(stmt, 4);
		text = sqlite3_column_text(stmt, 3);
		fault = result_fault(run, stmt, text);
		if (fault != NULL) {
			bad_pos = pos;
			break;
		}
		snprintf(run->routes + i * slot, slot, "%s",
		    text != NULL ? (const char *)text : "");
		i++;
		run->first_result[pos + 1] = i;
	}
	sqlite3_finalize(stmt);
	/* The arenas have stopped moving: point into them. */
	for (k = 0; k < i; k++) {
		run->results[k].method = run->methods[method_of[k]];
		run->results[k].route = run->routes[k * slot] != '\0' ?
		    run->routes + k * slot : NULL;
	}
	free(method_of);
	if (rc == SQLITE_NOMEM)
		return error_set(err, "out of memory");
	if (bad)
		return store_damaged(store, err, "run %" PRId64 ": a result "
		    "lies outside the run's tokens", run->info.id);
	if (fault != NULL)
		return store_damaged(store, err, "run %" PRId64 ", position "
		    "%d: %s", run->info.id, bad_pos, fault);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "reading the results");
	if ((int64_t)i != run->info.n_results)
		return store_damaged(store, err, "run %" PRId64 ": n_results "
		    "is %" PRId64 ", but it has %zu results", run->info.id,
		    run->info.n_results, i);
	run->n_results = i;
	/* Positions without results start where the previous one ended. */
	for (p = 1; p <= run->n_tokens + 1; p++)
		if (run->first_result[p] < run->first_result[p - 1])
			run->first_result[p] = run->first_result[p - 1];
	return 0;
}

/* A run that store_list_runs() found damaged is refused, with the code
 * that marks it (for duo merge, which copies only whole runs). */
int
store_refuse_damaged(const struct store *store, const struct run_info *info,
    struct duo_error *err)
{
	if (info->damage[0] == '\0')
		return 0;
	return store_damaged(store, err, "%s", info->damage);
}

const char *
store_status_name(enum run_status status)
{
	switch (status) {
	case RUN_RUNNING:
		return "running";
	case RUN_STOPPED:
		return "stopped";
	case RUN_COMPLETE:
		return "complete";
	default:
		return "unknown";
	}
}

void
store_resume_command(const char *db_path, int64_t run_id, char *command,
    size_t size)
{
	struct duo_error err;
	char *fallback;
	int is_default, plain = 1;
	size_t used, i;

	/* -d only where duo run would not find the database by itself */
	fallback = db_path != NULL ? store_default_path(NULL, &is_default,
	    &err) : NULL;
	if (db_path == NULL || (fallback != NULL &&
	    strcmp(fallback, db_path) == 0)) {
		free(fallback);
		snprintf(command, size, "duo run --resume %" PRId64, run_id);
		return;
	}
	free(fallback);
	for (i = 0; db_path[i] != '\0'; i++)
		if (!isalnum((unsigned char)db_path[i]) &&
		    strchr("/._-+,:=@%", db_path[i]) == NULL)
			plain = 0;
	if (plain && db_path[0] != '\0' && db_path[0] != '-') {
		snprintf(command, size, "duo run -d %s --resume %" PRId64,
		    db_path, run_id);
		return;
	}
	/* in single quotes for a shell, a quote as '\'' */
	used = (size_t)snprintf(command, size, "duo run -d '");
	for (i = 0; db_path[i] != '\0' && used + 5 < size; i++) {
		if (db_path[i] == '\'') {
			memcpy(command + used, "'\\''", 4);
			used += 4;
		} else
			command[used++] = db_path[i];
	}
	if (used < size)
		snprintf(command + used, size - used, "' --resume %" PRId64,
		    run_id);
}

void
store_describe_incomplete(const char *db_path, const struct run_info *info,
    char *line, size_t size)
{
	char command[700];

	store_resume_command(db_path, info->id, command, sizeof command);
	/* a running run may be a live one's: only its writer knows */
	snprintf(line, size, "run %" PRId64 " is %s, %d%% done (%" PRId64
	    " of %" PRId64 " tokens); %scontinue it with: %s", info->id,
	    store_status_name(info->status), store_share_done(info),
	    info->tokens_done, info->n_tokens, info->status == RUN_RUNNING ?
	    "if no duo is writing it, " : "", command);
}

int
store_share_done(const struct run_info *info)
{
	if (info->n_tokens <= 0 || info->tokens_done <= 0)
		return 0;
	if (info->tokens_done >= info->n_tokens)
		return 100;
	return (int)floor(100.0 * (double)info->tokens_done /
	    (double)info->n_tokens);
}

int
store_incomplete(const struct store *store, const struct run_info *info,
    struct duo_error *err)
{
	char line[900];

	store_describe_incomplete(store->path, info, line, sizeof line);
	error_set(err, "%s: %s", store->path, line);
	err->code = DUO_ERROR_INCOMPLETE;
	return -1;
}

int
store_load_run(struct store *store, int64_t run_id, struct run_data *run,
    struct duo_error *err)
{
	int rc;

	memset(run, 0, sizeof *run);
	/* One read transaction: a run deleted meanwhile cannot half-vanish. */
	if (store_exec(store, "BEGIN", "reading a run", err) != 0)
		return -1;
	rc = load_info(store, run_id, &run->info, err);
	if (rc != 0) {
		sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
		if (rc == 1)
			return error_set(err, "%s: no run %" PRId64,
			    store->path, run_id);
		return -1;
	}
	if (run->info.damage[0] != '\0')
		rc = store_damaged(store, err, "%s", run->info.damage);
	else if (run->info.status != RUN_COMPLETE) {
		store_incomplete(store, &run->info, err);
		rc = -1;
	}
	if (rc != 0 || load_text(store, run, err) != 0 ||
	    load_tokens(store, run, err) != 0 ||
	    load_results(store, run, err) != 0) {
		sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
		store_free_run(run);
		return -1;
	}
	sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	return 0;
}

void
store_free_run(struct run_data *run)
{
	size_t i;

	free_info(&run->info);
	free(run->text);
	free(run->tokens);
	free(run->results);
	free(run->first_result);
	for (i = 0; i < run->n_methods; i++)
		free(run->methods[i]);
	free(run->methods);
	free(run->pieces);
	free(run->routes);
	memset(run, 0, sizeof *run);
}

/* One token's table of little-endian float32 (width 4) or IEEE half
 * (width 2) by the SELECT sql, named what in messages; as
 * store_load_route_losses(). */
static int
load_route_table(struct store *store, const char *sql, const char *what,
    size_t width, int64_t run_id, int pos, float *losses, size_t n_routes,
    struct duo_error *err)
{
	const unsigned char *bytes, *b;
	sqlite3_stmt *stmt;
	size_t length, i;
	uint32_t word;
	int rc;
	char doing[64];

	if (store_prepare(store, &stmt, sql, err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	sqlite3_bind_int(stmt, 2, pos);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(stmt);
		return 1;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		snprintf(doing, sizeof doing, "reading a %s", what);
		return store_fail(store, err, doing);
	}
	bytes = sqlite3_column_blob(stmt, 0);
	length = (size_t)sqlite3_column_bytes(stmt, 0);
	if (length != n_routes * width) {
		sqlite3_finalize(stmt);
		return error_set(err, "%s: run %" PRId64 ", position %d: the "
		    "%s has %zu bytes, not %zu", store->path, run_id, pos,
		    what, length, n_routes * width);
	}
	for (i = 0; i < n_routes; i++) {
		b = bytes + width * i;
		if (width == 2) {
			losses[i] = gguf_f16_to_f32((uint16_t)(b[0] |
			    b[1] << 8));
			continue;
		}
		word = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		memcpy(&losses[i], &word, sizeof word);
	}
	sqlite3_finalize(stmt);
	return 0;
}

int
store_load_route_losses(struct store *store, int64_t run_id, int pos,
    float *losses, size_t n_routes, struct duo_error *err)
{
	int rc = load_route_table(store, "SELECT losses FROM route_losses "
	    "WHERE run_id = ? AND pos = ?", "loss table", 4, run_id, pos,
	    losses, n_routes, err);

	if (rc != 1)
		return rc;
	return load_route_table(store, "SELECT losses FROM route_losses_f16 "
	    "WHERE run_id = ? AND pos = ?", "F16 loss table", 2, run_id, pos,
	    losses, n_routes, err);
}

int
store_load_route_kl(struct store *store, int64_t run_id, int pos, float *kl,
    size_t n_routes, struct duo_error *err)
{
	int rc = load_route_table(store, "SELECT kl FROM route_kl "
	    "WHERE run_id = ? AND pos = ?", "KL table", 4, run_id, pos, kl,
	    n_routes, err);

	if (rc != 1)
		return rc;
	return load_route_table(store, "SELECT kl FROM route_kl_f16 "
	    "WHERE run_id = ? AND pos = ?", "F16 KL table", 2, run_id, pos,
	    kl, n_routes, err);
}

int
store_route_tables(struct store *store, int64_t run_id,
    enum store_tables *tables, int *asked_none, struct duo_error *err)
{
	int64_t f32 = 0, f16 = 0;
	sqlite3_stmt *stmt;
	int rc;

	*asked_none = 0;
	if (store_prepare(store, &stmt, "SELECT EXISTS (SELECT 1 FROM "
	    "route_losses WHERE run_id = ?1), EXISTS (SELECT 1 FROM "
	    "route_losses_f16 WHERE run_id = ?1), CASE WHEN json_valid("
	    "settings) THEN json_extract(settings, '$.losses') IS 'none' END "
	    "FROM runs WHERE id = ?1", err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		f32 = sqlite3_column_int64(stmt, 0);
		f16 = sqlite3_column_int64(stmt, 1);
		*asked_none = sqlite3_column_int(stmt, 2) == 1;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(store, err, "reading which loss tables a run "
		    "keeps");
	*tables = f32 ? STORE_TABLES_F32 : f16 ? STORE_TABLES_F16 :
	    STORE_TABLES_NONE;
	return 0;
}

int
store_delete_run(struct store *store, int64_t run_id, struct duo_error *err)
{
	sqlite3_stmt *stmt;
	int rc;

	if (store->readonly)
		return error_set(err, "%s: opened read-only", store->path);
	if (store_prepare(store, &stmt, "DELETE FROM runs WHERE id = ?",
	    err) != 0)
		return -1;
	sqlite3_bind_int64(stmt, 1, run_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return store_fail(store, err, "deleting a run");
	if (sqlite3_changes(store->db) != 1)
		return error_set(err, "%s: no run %" PRId64, store->path,
		    run_id);
	return 0;
}

int
store_check_model(struct store *store, int64_t run_id, const char *sha256_hex,
    struct duo_error *err)
{
	struct run_info info;
	int rc;

	rc = load_info(store, run_id, &info, err);
	if (rc == 1)
		return error_set(err, "%s: no run %" PRId64, store->path,
		    run_id);
	if (rc != 0)
		return -1;
	rc = 0;
	if (strcmp(info.model_sha256, sha256_hex) != 0)
		rc = error_set(err, "run %" PRId64 " was made with model %s "
		    "(sha256 %.16s...), a different file from this one "
		    "(sha256 %.16s...)", run_id, info.model_name != NULL ?
		    info.model_name : info.model_path, info.model_sha256,
		    sha256_hex);
	free_info(&info);
	return rc;
}
