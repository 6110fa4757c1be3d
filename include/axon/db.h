/*
 * db.h - SQLite connections, prepared-statement cache, transactions and
 * migrations.
 *
 * A `struct db` wraps one connection and owns its cached statements; it is
 * used by one thread at a time. HTTP workers each get their own read
 * connection through db_thread(); all writes go through the writer thread's
 * connection (writer.h). db_close() finalises everything.
 *
 * Statements from db_prep() stay owned by the cache: callers bind, step, and
 * call db_reset() when done; they never finalise them.
 */
#ifndef AXON_DB_H
#define AXON_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/error.h"

struct db;

enum db_open_flags {
    DB_CREATE = 1,      /* create the file and apply migrations */
    DB_READONLY = 2     /* query-only connection (still WAL-capable) */
};

struct db *db_open(const char *path, int flags, struct ax_err *err);
void db_close(struct db *d);
sqlite3 *db_handle(struct db *d);

/* The calling thread's read connection to `axon_config.db_path`, opened on
 * first use and closed at thread exit. NULL (and err) if it cannot open. */
struct db *db_thread(struct ax_err *err);

/* Prepare through the cache (keyed by SQL text). NULL + err on failure. */
sqlite3_stmt *db_prep(struct db *d, const char *sql, struct ax_err *err);
void db_reset(sqlite3_stmt *st);

/* Run SQL with no result rows; -1 + err on failure. */
int db_exec(struct db *d, const char *sql, struct ax_err *err);
/* Same for one statement, prepared once through the cache (hot paths). */
int db_run(struct db *d, const char *sql, struct ax_err *err);

int db_begin(struct db *d, struct ax_err *err);       /* BEGIN IMMEDIATE */
int db_commit(struct db *d, struct ax_err *err);
void db_rollback(struct db *d);

/* Map a failed sqlite call to an ax_err (constraint -> 409, busy -> 503). */
int db_fail(struct db *d, struct ax_err *err, const char *what);

/* Apply schema migrations not yet applied (PRAGMA user_version). */
int db_migrate(struct db *d, struct ax_err *err);

/* Read one integer (first column of first row) with up to 3 text binds. */
int db_scalar_int(struct db *d, const char *sql, int64_t *out, struct ax_err *err,
                  int nbind, ...);

/* Key/value settings in the `meta` table. Returned text is malloc'd. */
char *db_meta_get(struct db *d, const char *key);
int db_meta_set(struct db *d, const char *key, const char *value, struct ax_err *err);

/* Work a module defers to the end of a transaction (search indexing), or
 * state it caches for one transaction (the audit head, pipelines):
 * `before_commit` runs inside db_commit() before COMMIT, `after_commit`
 * once it succeeded (waking a worker for what was queued); `mark` and `undo`
 * let a rolled-back savepoint drop what its operation queued or cached;
 * undo(0) runs when a transaction begins or rolls back. Any member may be
 * NULL. Queues and caches are per thread. */
struct db_txn_hooks {
    int (*before_commit)(struct db *d, struct ax_err *err);
    void (*after_commit)(void);
    size_t (*mark)(void);
    void (*undo)(size_t mark);
};
#define DB_MAX_TXN_HOOKS 8
struct db_txn_mark {
    size_t at[DB_MAX_TXN_HOOKS];
};
void db_add_txn_hooks(const struct db_txn_hooks *hooks);   /* at start-up */
void db_txn_mark(struct db_txn_mark *m);
void db_txn_undo(const struct db_txn_mark *m);             /* NULL: all */

/* A savepoint that also rolls back the hooks' queues and caches: open it,
 * do the work, then close it, rolling back when `failed`. `name` is a
 * constant identifier. */
int db_savepoint(struct db *d, const char *name, struct db_txn_mark *m, struct ax_err *err);
int db_savepoint_end(struct db *d, const char *name, const struct db_txn_mark *m, bool failed,
                     struct ax_err *err);

/* Where a transaction stands: rows changed and the hooks' marks. Work
 * that failed without moving it (validation, a refused statement, which
 * SQLite undoes itself) needs no savepoint to be undone; work that moved
 * it does. Lets batches skip a savepoint per operation. */
struct db_txn_point {
    sqlite3_int64 changes;
    struct db_txn_mark mark;
};
void db_txn_point(struct db *d, struct db_txn_point *p);
bool db_txn_moved(struct db *d, const struct db_txn_point *p);

/* Hook run on every new connection (e.g. to register the search tokenizer). */
typedef int (*db_conn_hook)(sqlite3 *h);
void db_set_conn_hook(db_conn_hook hook);

#endif
