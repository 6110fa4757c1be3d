/* jobs.c - the jobs and job_errors tables, and the server's job worker. */
#include "axon/jobs.h"

#include "axon/config.h"
#include "axon/import.h"
#include "axon/log.h"
#include "axon/models.h"
#include "axon/timefmt.h"
#include "axon/writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_POLL_S 5     /* also look for queued jobs this often */

void jobs_free(struct job *j)
{
    if (!j)
        return;
    free(j->params);
    free(j->file);
    j->params = j->file = NULL;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static void copy_col(char *out, size_t outsz, sqlite3_stmt *st, int i)
{
    const char *s = col_text(st, i);
    snprintf(out, outsz, "%s", s ? s : "");
}

/* ---- rows ---- */

int jobs_create(struct db *d, const struct ax_ctx *c, const char *id, const char *kind,
                const char *object, const char *params, const char *file, bool running,
                int64_t *rid, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO jobs(tenant_id,id,kind,status,object,params,file,created_by,actor_type,"
        "created_at,started_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, running ? "running" : "queued", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, params, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, c->actor_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, running ? now : NULL, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "job insert");
    if (rid)
        *rid = sqlite3_last_insert_rowid(db_handle(d));
    return 0;
}

#define JOB_COLS "rid,tenant_id,id,kind,object,created_by,actor_type,params,file," \
                 "total,done,failed,created,updated,status"

static int read_job(sqlite3_stmt *st, struct job *out)
{
    memset(out, 0, sizeof *out);
    out->rid = sqlite3_column_int64(st, 0);
    out->tenant = sqlite3_column_int64(st, 1);
    copy_col(out->id, sizeof out->id, st, 2);
    copy_col(out->kind, sizeof out->kind, st, 3);
    copy_col(out->object, sizeof out->object, st, 4);
    copy_col(out->created_by, sizeof out->created_by, st, 5);
    copy_col(out->actor_type, sizeof out->actor_type, st, 6);
    out->params = strdup(col_text(st, 7) ? col_text(st, 7) : "{}");
    out->file = col_text(st, 8) ? strdup(col_text(st, 8)) : NULL;
    out->total = sqlite3_column_int64(st, 9);
    out->done = sqlite3_column_int64(st, 10);
    out->failed = sqlite3_column_int64(st, 11);
    out->created = sqlite3_column_int64(st, 12);
    out->updated = sqlite3_column_int64(st, 13);
    out->resumed = col_text(st, 14) && strcmp(col_text(st, 14), "running") == 0;
    return out->params ? 0 : -1;
}

/* Step a prepared, bound statement of JOB_COLS: 1 found, 0 not, -1 error. */
static int load_one(struct db *d, sqlite3_stmt *st, struct job *out, struct ax_err *err)
{
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW)
        found = read_job(st, out) == 0 ? 1 : -1;
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "job load");
    if (found < 0) {
        jobs_free(out);
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    return found;
}

int jobs_load(struct db *d, int64_t tenant, const char *id, struct job *out,
              struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT " JOB_COLS " FROM jobs WHERE tenant_id=? AND id=?",
                               err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    return load_one(d, st, out, err);
}

int jobs_claim(struct db *d, bool resume, struct job *out, struct ax_err *err)
{
    /* Jobs the CLI created run in the CLI's process, never here. */
    sqlite3_stmt *st = db_prep(d, resume
        ? "SELECT " JOB_COLS " FROM jobs WHERE status='running' "
          "AND coalesce(actor_type,'') <> 'cli' ORDER BY rid LIMIT 1"
        : "SELECT " JOB_COLS " FROM jobs WHERE status='queued' ORDER BY rid LIMIT 1", err);
    int found = st ? load_one(d, st, out, err) : -1;
    if (found != 1 || out->resumed)
        return found;
    st = db_prep(d, "UPDATE jobs SET status='running', started_at=? WHERE rid=?", err);
    if (!st) {
        jobs_free(out);
        return -1;
    }
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, out->rid);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE) {
        jobs_free(out);
        return db_fail(d, err, "job claim");
    }
    return 1;
}

static int exec_rid(struct db *d, const char *sql, int64_t rid, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "job update");
}

int jobs_set_total(struct db *d, int64_t rid, int64_t total, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "UPDATE jobs SET total=?2 WHERE rid=?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, total);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "job total");
}

int jobs_progress(struct db *d, int64_t rid, const struct job_counts *delta,
                  struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "UPDATE jobs SET done=done+?2, failed=failed+?3, created=created+?4, "
        "updated=updated+?5 WHERE rid=?1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, delta->done);
    sqlite3_bind_int64(st, 3, delta->failed);
    sqlite3_bind_int64(st, 4, delta->created);
    sqlite3_bind_int64(st, 5, delta->updated);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "job progress");
}

int jobs_restart(struct db *d, int64_t rid, struct ax_err *err)
{
    if (exec_rid(d, "UPDATE jobs SET done=0, failed=0, created=0, updated=0 WHERE rid=?", rid,
                 err))
        return -1;
    return exec_rid(d, "DELETE FROM job_errors WHERE job_rid=?", rid, err);
}

int jobs_add_error(struct db *d, int64_t rid, int64_t row, const char *field,
                   const char *message, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO job_errors(job_rid,row,field,message) VALUES(?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, row);
    sqlite3_bind_text(st, 3, field, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "job error");
}

int jobs_finish(struct db *d, int64_t rid, const char *error, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "UPDATE jobs SET status=?2, error=?3, finished_at=?4 WHERE rid=?1", err);
    if (!st)
        return -1;
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_text(st, 2, error ? "failed" : "succeeded", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "job finish");
}

/* ---- descriptions ---- */

#define DESC_COLS "id,kind,status,object,total,done,failed,created,updated,error," \
                  "created_at,started_at,finished_at"

static void add_str(struct buf *b, const char *name, const char *v)
{
    buf_addf(b, ",\"%s\":", name);
    if (v)
        buf_add_json_str(b, v, strlen(v));
    else
        buf_adds(b, "null");
}

/* One job as JSON from a row of DESC_COLS. */
static void describe_row(sqlite3_stmt *st, struct buf *b)
{
    int64_t total = sqlite3_column_int64(st, 4), done = sqlite3_column_int64(st, 5);
    int64_t failed = sqlite3_column_int64(st, 6), created = sqlite3_column_int64(st, 7);
    int64_t updated = sqlite3_column_int64(st, 8);
    const char *status = col_text(st, 2);
    int64_t unchanged = done - failed - created - updated;
    double percent = total > 0 ? (double)(done * 1000 / total) / 10.0
                               : strcmp(status, "succeeded") == 0 ? 100.0 : 0.0;
    buf_adds(b, "{\"id\":");
    buf_add_json_str(b, col_text(st, 0), strlen(col_text(st, 0)));
    buf_adds(b, ",\"object\":\"job\"");
    add_str(b, "kind", col_text(st, 1));
    add_str(b, "status", status);
    add_str(b, "object_type", col_text(st, 3));
    buf_addf(b, ",\"total\":%lld,\"done\":%lld,\"failed\":%lld,\"created\":%lld,"
                "\"updated\":%lld,\"unchanged\":%lld,\"percent\":%.1f",
             (long long)total, (long long)done, (long long)failed, (long long)created,
             (long long)updated, (long long)(unchanged > 0 ? unchanged : 0), percent);
    add_str(b, "error", col_text(st, 9));
    add_str(b, "created_at", col_text(st, 10));
    add_str(b, "started_at", col_text(st, 11));
    add_str(b, "finished_at", col_text(st, 12));
    buf_addc(b, '}');
}

int jobs_describe(struct db *d, int64_t tenant, const char *id, struct buf *out,
                  struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT " DESC_COLS " FROM jobs WHERE tenant_id=? AND id=?",
                               err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        describe_row(st, out);
    db_reset(st);
    if (rc == SQLITE_DONE)
        return ax_fail(err, AX_ENOTFOUND, "no job with id '%.60s'", id);
    return rc == SQLITE_ROW ? 0 : db_fail(d, err, "job describe");
}

/* The rid behind a tenant's job id; 0 when there is none. */
static int job_rid(struct db *d, int64_t tenant, const char *id, int64_t *rid,
                   struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT rid FROM jobs WHERE tenant_id=? AND id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *rid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(d, err, "job lookup");
}

int jobs_list(struct db *d, int64_t tenant, int limit, const char *after, struct buf *out,
              struct ax_err *err)
{
    int64_t before = INT64_MAX;
    if (after) {
        if (job_rid(d, tenant, after, &before, err))
            return -1;
        if (!before)
            return ax_fail_type(err, AX_EBADREQ, "bad-cursor", "the 'after' cursor is not valid");
    }
    sqlite3_stmt *st = db_prep(d,
        "SELECT " DESC_COLS " FROM jobs WHERE tenant_id=? AND rid<? ORDER BY rid DESC LIMIT ?",
        err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, before);
    sqlite3_bind_int(st, 3, limit + 1);
    buf_adds(out, "{\"data\":[");
    int n = 0, rc;
    char last[ID_MAX] = "";
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
        if (n++)
            buf_addc(out, ',');
        describe_row(st, out);
        copy_col(last, sizeof last, st, 0);
    }
    bool more = rc == SQLITE_ROW;
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "job list");
    buf_adds(out, "],\"next\":");
    if (more)
        buf_add_json_str(out, last, strlen(last));
    else
        buf_adds(out, "null");
    buf_addc(out, '}');
    return 0;
}

int jobs_each_error(struct db *d, int64_t tenant, const char *id, int64_t after, int limit,
                    jobs_error_fn fn, void *arg, int64_t *last, struct ax_err *err)
{
    int64_t rid;
    if (job_rid(d, tenant, id, &rid, err))
        return -1;
    if (!rid)
        return ax_fail(err, AX_ENOTFOUND, "no job with id '%.60s'", id);
    sqlite3_stmt *st = db_prep(d,
        "SELECT rid, row, field, message FROM job_errors WHERE job_rid=? AND rid>? "
        "ORDER BY rid LIMIT ?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, limit > 0 ? limit : -1);
    int rc;
    *last = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *last = sqlite3_column_int64(st, 0);
        if (fn(arg, sqlite3_column_int64(st, 1), col_text(st, 2), col_text(st, 3)))
            break;
    }
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "job errors");
    return 0;
}

/* ---- the worker ---- */

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool running, notified;
    atomic_bool stop;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

struct claim_arg {
    bool resume;
    int found;
    struct job job;
};

static int run_claim(struct db *d, void *arg, struct ax_err *err)
{
    struct claim_arg *a = arg;
    a->found = jobs_claim(d, a->resume, &a->job, err);
    return a->found < 0 ? -1 : 0;
}

/* Is a job queued? A read, so a worker polling while idle never takes
 * the write lock. 1/0/-1. */
static int queued(struct db *d, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT 1 FROM jobs WHERE status='queued' LIMIT 1", err);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, err, "job poll");
    return rc == SQLITE_ROW;
}

/* Sleep until notified (true) or the poll interval passed (false). */
static bool wait_for_work(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += IDLE_POLL_S;
    pthread_mutex_lock(&W.lock);
    while (!W.notified && !atomic_load(&W.stop))
        if (pthread_cond_timedwait(&W.wake, &W.lock, &until))
            break;
    bool notified = W.notified;
    W.notified = false;
    pthread_mutex_unlock(&W.lock);
    return notified;
}

struct finish_arg {
    int64_t rid;
    const char *error;
};

static int run_finish(struct db *d, void *arg, struct ax_err *err)
{
    struct finish_arg *a = arg;
    return jobs_finish(d, a->rid, a->error, err);
}

static void run_job(struct db *d, struct job *j)
{
    log_info("job %s: %s %s%s", j->id, j->kind, j->object, j->resumed ? " (resumed)" : "");
    if (strcmp(j->kind, "import") == 0) {
        import_run(d, j, &W.stop, NULL, NULL);
        return;
    }
    if (strcmp(j->kind, "train") == 0) {
        models_run_job(d, j, &W.stop);
        return;
    }
    /* A kind this version does not know: fail it rather than retry forever. */
    struct ax_err err;
    ax_err_clear(&err);
    struct finish_arg a = {j->rid, "this server cannot run jobs of this kind"};
    if (writer_exec(d, run_finish, &a, &err))
        log_error("job %s: %s", j->id, err.detail);
}

/* A notification comes from inside the transaction that queues the job:
 * the claim then goes through the writer, which runs it after that
 * transaction committed. Idle polls only read. */
static void *worker_main(void *unused)
{
    (void)unused;
    struct ax_err err;
    ax_err_clear(&err);
    struct db *d = db_open(axon_config.db_path, 0, &err);
    if (!d) {
        log_error("job worker: %s", err.detail);
        return NULL;
    }
    bool resume = true, poked = true;
    while (!atomic_load(&W.stop)) {
        if (!poked && queued(d, &err) == 0) {
            poked = wait_for_work();
            continue;
        }
        struct claim_arg a;
        memset(&a, 0, sizeof a);
        a.resume = resume;
        if (writer_exec(d, run_claim, &a, &err)) {
            log_error("job worker: %s", err.detail);
            poked = wait_for_work();
            continue;
        }
        if (a.found == 1) {
            run_job(d, &a.job);
            jobs_free(&a.job);
        } else if (resume) {
            resume = false;
        } else {
            poked = wait_for_work();
        }
    }
    db_close(d);
    return NULL;
}

int jobs_start(struct ax_err *err)
{
    atomic_store(&W.stop, false);
    if (pthread_create(&W.thread, NULL, worker_main, NULL))
        return ax_fail(err, AX_EINTERNAL, "cannot start the job worker");
    W.running = true;
    return 0;
}

void jobs_stop(void)
{
    if (!W.running)
        return;
    atomic_store(&W.stop, true);
    jobs_notify();
    pthread_join(W.thread, NULL);
    W.running = false;
}

void jobs_notify(void)
{
    pthread_mutex_lock(&W.lock);
    W.notified = true;
    pthread_cond_signal(&W.wake);
    pthread_mutex_unlock(&W.lock);
}
