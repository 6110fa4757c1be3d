/* writer.c - one thread, one connection, group commit. */
#include "axon/writer.h"

#include "axon/checkpoint.h"
#include "axon/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* work arrived or stop */
    pthread_cond_t finished;  /* a writer_exec op is done */
    struct write_op *head, *tail;
    struct db *db;
    int running, stop, batch_max;
    long long ops, batches;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .finished = PTHREAD_COND_INITIALIZER};

static int run_in_savepoint(struct db *d, struct write_op *op)
{
    struct db_txn_mark mark;
    ax_err_clear(&op->err);
    if (db_savepoint(d, "op", &mark, &op->err))
        return op->rc = -1;
    op->rc = op->run(d, op->arg, &op->err);
    if (op->rc && op->err.code == AX_OK)
        ax_fail(&op->err, AX_EINTERNAL, "write failed");
    db_savepoint_end(d, "op", &mark, op->rc != 0, NULL);
    return op->rc;
}

/* SQLite rolls the whole transaction back itself after some errors (I/O,
 * full disk, out of memory); statements after that would each commit on
 * their own. */
static bool txn_lost(struct db *d) { return sqlite3_get_autocommit(db_handle(d)) != 0; }

/* Without a savepoint: a savepoint per operation makes SQLite copy every
 * page the operation touches (measured: ~15% of an import's instructions).
 * An operation that fails before its first write left nothing to undo; one
 * that fails after writing makes the caller roll the whole batch back and
 * run it again with savepoints. Returns 1 for that case. */
static int run_bare(struct db *d, struct write_op *op)
{
    struct db_txn_point before;
    ax_err_clear(&op->err);
    db_txn_point(d, &before);
    op->rc = op->run(d, op->arg, &op->err);
    if (op->rc && op->err.code == AX_OK)
        ax_fail(&op->err, AX_EINTERNAL, "write failed");
    return op->rc && (db_txn_moved(d, &before) || txn_lost(d));
}

static bool all_rerunnable(const struct write_op *batch)
{
    for (const struct write_op *op = batch; op; op = op->next)
        if (!op->rerunnable)
            return false;
    return true;
}

/* Run the batch in the open transaction: bare when every operation may run
 * again, else (or after a failed bare attempt) each in its savepoint. */
static int run_ops(struct write_op *batch, struct ax_err *err)
{
    if (all_rerunnable(batch)) {
        bool redo = false;
        for (struct write_op *op = batch; op && !redo; op = op->next)
            redo = run_bare(W.db, op);
        if (!redo)
            return 0;
        db_rollback(W.db);
        if (db_begin(W.db, err))
            return -1;
    }
    for (struct write_op *op = batch; op; op = op->next) {
        run_in_savepoint(W.db, op);
        if (txn_lost(W.db))
            return ax_fail(err, AX_EUNAVAIL, "the write could not be committed; try again");
    }
    return 0;
}

static void finish(struct write_op *op)
{
    if (op->done) {
        op->done(op);
    } else {
        pthread_mutex_lock(&W.lock);
        op->finished = 1;
        pthread_cond_broadcast(&W.finished);
        pthread_mutex_unlock(&W.lock);
    }
}

static void run_batch(struct write_op *batch)
{
    struct ax_err err;
    ax_err_clear(&err);
    int n = 0;
    for (struct write_op *op = batch; op; op = op->next)
        n++;
    if (db_begin(W.db, &err) || run_ops(batch, &err)) {
        for (struct write_op *op = batch; op; op = op->next) {
            op->err = err;
            op->rc = -1;
        }
        n = 0;
    } else {
        if (db_commit(W.db, &err)) {
            log_error("group commit failed: %s", err.detail);
            db_rollback(W.db);
            for (struct write_op *op = batch; op; op = op->next)
                if (op->rc == 0) {
                    op->rc = -1;
                    ax_fail(&op->err, AX_EUNAVAIL, "the write could not be committed; try again");
                }
        }
    }
    W.ops += n;
    W.batches++;
    /* Take next before finish(): `done` may free the op. */
    for (struct write_op *op = batch, *next; op; op = next) {
        next = op->next;
        finish(op);
    }
}

static void *writer_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&W.lock);
    for (;;) {
        while (!W.head && !W.stop)
            pthread_cond_wait(&W.wake, &W.lock);
        if (!W.head && W.stop)
            break;
        /* Detach up to batch_max operations. */
        struct write_op *batch = W.head, *last = W.head;
        int n = 1;
        while (last->next && n < W.batch_max) {
            last = last->next;
            n++;
        }
        W.head = last->next;
        if (!W.head)
            W.tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&W.lock);
        run_batch(batch);
        pthread_mutex_lock(&W.lock);
    }
    pthread_mutex_unlock(&W.lock);
    return NULL;
}

int writer_start(const char *db_path, int batch_max, struct ax_err *err)
{
    W.db = db_open(db_path, 0, err);
    if (!W.db)
        return -1;
    W.batch_max = batch_max > 0 ? batch_max : 256;
    W.stop = 0;
    if (ckpt_start(W.db, db_path, err) < 0) {
        db_close(W.db);
        W.db = NULL;
        return -1;
    }
    if (pthread_create(&W.thread, NULL, writer_main, NULL)) {
        ckpt_stop();
        db_close(W.db);
        W.db = NULL;
        return ax_fail(err, AX_EINTERNAL, "cannot start the writer thread");
    }
    W.running = 1;
    return 0;
}

void writer_stop(void)
{
    if (!W.running)
        return;
    pthread_mutex_lock(&W.lock);
    W.stop = 1;
    pthread_cond_signal(&W.wake);
    pthread_mutex_unlock(&W.lock);
    pthread_join(W.thread, NULL);
    ckpt_stop();
    long long runs, pages, frames;
    ckpt_stats(&runs, &pages, &frames);
    log_info("writer: %lld writes in %lld commits, %lld WAL pages; %lld checkpoints "
             "copied %lld", W.ops, W.batches, frames, runs, pages);
    db_close(W.db);
    W.db = NULL;
    W.running = 0;
}

int writer_submit(struct write_op *op)
{
    op->next = NULL;
    op->finished = 0;
    pthread_mutex_lock(&W.lock);
    if (!W.running || W.stop) {
        pthread_mutex_unlock(&W.lock);
        op->rc = -1;
        ax_fail(&op->err, AX_EUNAVAIL, "the server is shutting down");
        return -1;
    }
    if (W.tail)
        W.tail->next = op;
    else
        W.head = op;
    W.tail = op;
    pthread_cond_signal(&W.wake);
    pthread_mutex_unlock(&W.lock);
    return 0;
}

int writer_exec(struct db *d, write_fn run, void *arg, struct ax_err *err)
{
    struct write_op op;
    memset(&op, 0, sizeof op);
    op.run = run;
    op.arg = arg;
    if (!W.running) {
        if (db_begin(d, err))
            return -1;
        op.rc = run(d, arg, &op.err);
        if (op.rc) {
            db_rollback(d);
        } else if (db_commit(d, &op.err)) {
            db_rollback(d);
            op.rc = -1;
        }
    } else {
        if (writer_submit(&op) == 0) {
            pthread_mutex_lock(&W.lock);
            while (!op.finished)
                pthread_cond_wait(&W.finished, &W.lock);
            pthread_mutex_unlock(&W.lock);
        }
    }
    if (op.rc && err)
        *err = op.err;
    return op.rc;
}

void writer_stats(long long *ops, long long *batches)
{
    pthread_mutex_lock(&W.lock);
    *ops = W.ops;
    *batches = W.batches;
    pthread_mutex_unlock(&W.lock);
}
