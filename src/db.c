/* db.c - connections, statement cache, transactions, migrations. */
#include "axon/db.h"

#include "axon/config.h"
#include "axon/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Embedded by the build from schema/NNNN_*.sql (see Makefile). */
struct embedded_file {
    const char *name;
    const char *data;
    size_t size;
};
extern const struct embedded_file schema_files[];
extern const int schema_files_count;

#define CACHE_SLOTS 256   /* power of two */

struct cache_entry {
    uint64_t hash;
    char *sql;
    sqlite3_stmt *st;
};

struct db {
    sqlite3 *h;
    int ncached;
    struct cache_entry cache[CACHE_SLOTS];
};

static db_conn_hook conn_hook;

void db_set_conn_hook(db_conn_hook hook) { conn_hook = hook; }

sqlite3 *db_handle(struct db *d) { return d->h; }

int db_fail(struct db *d, struct ax_err *err, const char *what)
{
    int rc = sqlite3_extended_errcode(d->h);
    const char *msg = sqlite3_errmsg(d->h);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return ax_fail(err, AX_ECONFLICT, "%s: %s", what, msg);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return ax_fail(err, AX_EUNAVAIL, "database busy, try again");
    if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR) {
        log_error("database I/O failure in %s: %s", what, msg);
        return ax_fail(err, AX_EUNAVAIL, "storage unavailable");
    }
    log_error("sqlite error in %s: %s (%d)", what, msg, rc);
    return ax_fail(err, AX_EINTERNAL, "database error");
}

static int apply_pragmas(struct db *d, int flags, struct ax_err *err)
{
    /* busy_timeout first: switching modes under load can otherwise fail. */
    sqlite3_busy_timeout(d->h, 10000);
    char sql[256];
    snprintf(sql, sizeof sql,
             "PRAGMA synchronous=%s; PRAGMA foreign_keys=ON; "
             "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32000;"
             "PRAGMA mmap_size=268435456;",
             axon_config.durability_full ? "FULL" : "NORMAL");
    if (db_exec(d, sql, err))
        return -1;
    if (flags & DB_READONLY)
        return db_exec(d, "PRAGMA query_only=ON", err);
    return 0;
}

struct db *db_open(const char *path, int flags, struct ax_err *err)
{
    struct db *d = calloc(1, sizeof *d);
    if (!d) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (flags & DB_CREATE)
        oflags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &d->h, oflags, NULL) != SQLITE_OK) {
        ax_fail(err, AX_EUNAVAIL, "cannot open database %s: %s", path,
                d->h ? sqlite3_errmsg(d->h) : "out of memory");
        db_close(d);
        return NULL;
    }
    sqlite3_extended_result_codes(d->h, 1);
    if (apply_pragmas(d, flags, err))
        goto fail;
    if (conn_hook && conn_hook(d->h)) {
        ax_fail(err, AX_EINTERNAL, "connection setup failed: %s", sqlite3_errmsg(d->h));
        goto fail;
    }
    if (flags & DB_CREATE) {
        /* WAL is persistent: set it once, when the file is created or migrated. */
        if (db_exec(d, "PRAGMA journal_mode=WAL", err) || db_migrate(d, err))
            goto fail;
    }
    return d;
fail:
    db_close(d);
    return NULL;
}

void db_close(struct db *d)
{
    if (!d)
        return;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (d->cache[i].st) {
            sqlite3_finalize(d->cache[i].st);
            free(d->cache[i].sql);
        }
    }
    sqlite3_close_v2(d->h);
    free(d);
}

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;

static void thread_db_free(void *p) { db_close(p); }
static void thread_key_init(void) { pthread_key_create(&thread_key, thread_db_free); }

struct db *db_thread(struct ax_err *err)
{
    pthread_once(&thread_once, thread_key_init);
    struct db *d = pthread_getspecific(thread_key);
    if (d)
        return d;
    d = db_open(axon_config.db_path, 0, err);
    if (d)
        pthread_setspecific(thread_key, d);
    return d;
}

/* Eight bytes at a time: statements are hundreds of bytes long and looked
 * up several times per write. */
static uint64_t hash_sql(const char *s)
{
    size_t n = strlen(s);
    uint64_t h = 1469598103934665603ULL ^ n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    for (; n; s++, n--)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 32);
}

sqlite3_stmt *db_prep(struct db *d, const char *sql, struct ax_err *err)
{
    uint64_t h = hash_sql(sql);
    unsigned slot = (unsigned)h & (CACHE_SLOTS - 1);
    for (unsigned probe = 0; probe < 8; probe++) {
        struct cache_entry *e = &d->cache[(slot + probe) & (CACHE_SLOTS - 1)];
        if (e->st && e->hash == h && strcmp(e->sql, sql) == 0)
            return e->st;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(d->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        db_fail(d, err, "prepare");
        log_error("failed SQL: %.300s", sql);
        return NULL;
    }
    /* Take a free slot in the probe window, or evict its first entry. */
    struct cache_entry *victim = NULL;
    for (unsigned probe = 0; probe < 8; probe++) {
        struct cache_entry *e = &d->cache[(slot + probe) & (CACHE_SLOTS - 1)];
        if (!e->st) {
            victim = e;
            break;
        }
    }
    /* Evict only a statement nobody is stepping: a caller may hold one
     * while preparing another. */
    for (unsigned probe = 0; !victim && probe < CACHE_SLOTS; probe++) {
        struct cache_entry *e = &d->cache[(slot + probe) & (CACHE_SLOTS - 1)];
        if (!sqlite3_stmt_busy(e->st)) {
            sqlite3_finalize(e->st);
            free(e->sql);
            e->st = NULL;
            victim = e;
        }
    }
    if (!victim) {
        sqlite3_finalize(st);
        ax_fail(err, AX_EINTERNAL, "too many statements in use");
        return NULL;
    }
    victim->sql = strdup(sql);
    if (!victim->sql) {
        sqlite3_finalize(st);
        victim->st = NULL;
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    victim->hash = h;
    victim->st = st;
    return st;
}

void db_reset(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

int db_exec(struct db *d, const char *sql, struct ax_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = db_fail(d, err, "exec");
        log_debug("exec failed: %s: %.200s", msg ? msg : "?", sql);
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

int db_run(struct db *d, const char *sql, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(d, err, sql);
    return 0;
}

static const struct db_txn_hooks *txn_hooks[DB_MAX_TXN_HOOKS];
static int ntxn_hooks;

void db_add_txn_hooks(const struct db_txn_hooks *hooks)
{
    if (ntxn_hooks < DB_MAX_TXN_HOOKS)
        txn_hooks[ntxn_hooks++] = hooks;
}

void db_txn_mark(struct db_txn_mark *m)
{
    for (int i = 0; i < DB_MAX_TXN_HOOKS; i++)
        m->at[i] = i < ntxn_hooks && txn_hooks[i]->mark ? txn_hooks[i]->mark() : 0;
}

void db_txn_undo(const struct db_txn_mark *m)
{
    for (int i = 0; i < ntxn_hooks; i++)
        if (txn_hooks[i]->undo)
            txn_hooks[i]->undo(m ? m->at[i] : 0);
}

void db_txn_point(struct db *d, struct db_txn_point *p)
{
    p->changes = sqlite3_total_changes64(d->h);
    db_txn_mark(&p->mark);
}

bool db_txn_moved(struct db *d, const struct db_txn_point *p)
{
    struct db_txn_point now;
    db_txn_point(d, &now);
    return now.changes != p->changes || memcmp(&now.mark, &p->mark, sizeof now.mark) != 0;
}

int db_savepoint(struct db *d, const char *name, struct db_txn_mark *m, struct ax_err *err)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SAVEPOINT %s", name);
    db_txn_mark(m);
    return db_run(d, sql, err);
}

int db_savepoint_end(struct db *d, const char *name, const struct db_txn_mark *m, bool failed,
                     struct ax_err *err)
{
    char sql[64];
    if (failed) {
        snprintf(sql, sizeof sql, "ROLLBACK TO %s", name);
        db_run(d, sql, NULL);
        db_txn_undo(m);
    }
    snprintf(sql, sizeof sql, "RELEASE %s", name);
    return db_run(d, sql, err);
}

int db_begin(struct db *d, struct ax_err *err)
{
    db_txn_undo(NULL);
    return db_run(d, "BEGIN IMMEDIATE", err);
}

int db_commit(struct db *d, struct ax_err *err)
{
    for (int i = 0; i < ntxn_hooks; i++)
        if (txn_hooks[i]->before_commit && txn_hooks[i]->before_commit(d, err))
            return -1;
    if (db_run(d, "COMMIT", err))
        return -1;
    for (int i = 0; i < ntxn_hooks; i++)
        if (txn_hooks[i]->after_commit)
            txn_hooks[i]->after_commit();
    return 0;
}

void db_rollback(struct db *d)
{
    db_txn_undo(NULL);
    if (!sqlite3_get_autocommit(d->h))
        sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
}

int db_migrate(struct db *d, struct ax_err *err)
{
    int64_t version = 0;
    if (db_scalar_int(d, "PRAGMA user_version", &version, err, 0))
        return -1;
    for (int i = 0; i < schema_files_count; i++) {
        int num = atoi(schema_files[i].name);
        if (num <= version)
            continue;
        char *sql = malloc(schema_files[i].size + 64);
        if (!sql)
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        memcpy(sql, schema_files[i].data, schema_files[i].size);
        snprintf(sql + schema_files[i].size, 64, "\n;PRAGMA user_version=%d;", num);
        int rc = db_exec(d, "BEGIN IMMEDIATE", err);
        if (!rc)
            rc = db_exec(d, sql, err);
        if (!rc)
            rc = db_exec(d, "COMMIT", err);
        free(sql);
        if (rc) {
            db_rollback(d);
            log_error("migration %s failed: %s", schema_files[i].name, err ? err->detail : "");
            return -1;
        }
        /* Scratch databases (pack tests) are migrated on every use: quietly. */
        const char *file = sqlite3_db_filename(db_handle(d), "main");
        log_msg(file && *file ? LOG_INFO : LOG_DEBUG, "applied migration %s",
                schema_files[i].name);
    }
    return 0;
}

int db_scalar_int(struct db *d, const char *sql, int64_t *out, struct ax_err *err,
                  int nbind, ...)
{
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    va_list ap;
    va_start(ap, nbind);
    for (int i = 0; i < nbind; i++)
        sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
    va_end(ap);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_DONE)
        *out = 0;
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "query");
    return 0;
}

char *db_meta_get(struct db *d, const char *key)
{
    sqlite3_stmt *st = db_prep(d, "SELECT value FROM meta WHERE key=?", NULL);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    db_reset(st);
    return v;
}

int db_meta_set(struct db *d, const char *key, const char *value, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO meta(key,value) VALUES(?,?) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "meta");
}
