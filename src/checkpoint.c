/* checkpoint.c - WAL checkpoints on a thread of their own. */
#include "axon/checkpoint.h"

#include "axon/log.h"

#include <pthread.h>
#include <stdbool.h>

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct db *own;           /* the thread's connection */
    sqlite3 *writer;
    bool running, stop, due;
    int done;                 /* WAL pages the last checkpoint copied */
    int seen;                 /* WAL pages at the last commit (writer only) */
    long long runs, pages, frames;
} C = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* Called by SQLite on the writer's thread after each commit. */
static int wal_hook(void *arg, sqlite3 *h, const char *dbname, int pages)
{
    (void)arg;
    /* The WAL starts over after a complete checkpoint. */
    C.frames += pages >= C.seen ? pages - C.seen : pages;
    C.seen = pages;
    if (pages >= CKPT_WRITER_PAGES) {
        /* Far behind: do what SQLite's own auto-checkpoint would. */
        sqlite3_wal_checkpoint_v2(h, dbname, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    if (pages >= CKPT_PAGES) {
        pthread_mutex_lock(&C.lock);
        /* Copy a page once however often it changed: wait until CKPT_PAGES
         * more were written since the last checkpoint. */
        if (pages < C.done)
            C.done = 0;
        if (!C.due && pages - C.done >= CKPT_PAGES) {
            C.due = true;
            pthread_cond_signal(&C.wake);
        }
        pthread_mutex_unlock(&C.lock);
    }
    return SQLITE_OK;
}

static void checkpoint_once(void)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db_handle(C.own), NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       &log, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warn("checkpoint failed: %s", sqlite3_errmsg(db_handle(C.own)));
    pthread_mutex_lock(&C.lock);
    C.runs++;
    C.pages += done > C.done ? done - C.done : 0;
    C.done = done > 0 ? done : 0;
    pthread_mutex_unlock(&C.lock);
}

static void *ckpt_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&C.lock);
    while (!C.stop) {
        if (!C.due) {
            pthread_cond_wait(&C.wake, &C.lock);
            continue;
        }
        C.due = false;
        pthread_mutex_unlock(&C.lock);
        checkpoint_once();
        pthread_mutex_lock(&C.lock);
    }
    pthread_mutex_unlock(&C.lock);
    checkpoint_once();
    return NULL;
}

int ckpt_start(struct db *writer, const char *path, struct ax_err *err)
{
    if (C.running)
        return 1;
    C.own = db_open(path, 0, err);
    if (!C.own)
        return -1;
    C.writer = db_handle(writer);
    C.stop = C.due = false;
    if (pthread_create(&C.thread, NULL, ckpt_main, NULL)) {
        db_close(C.own);
        C.own = NULL;
        return ax_fail(err, AX_EINTERNAL, "cannot start the checkpoint thread");
    }
    /* Replaces the connection's automatic checkpoint (also a WAL hook). */
    sqlite3_wal_hook(C.writer, wal_hook, NULL);
    C.running = true;
    return 0;
}

void ckpt_stop(void)
{
    if (!C.running)
        return;
    sqlite3_wal_autocheckpoint(C.writer, 1000);   /* SQLite's default */
    pthread_mutex_lock(&C.lock);
    C.stop = true;
    pthread_cond_signal(&C.wake);
    pthread_mutex_unlock(&C.lock);
    pthread_join(C.thread, NULL);
    db_close(C.own);
    C.own = NULL;
    C.running = false;
}

void ckpt_stats(long long *runs, long long *pages, long long *frames)
{
    pthread_mutex_lock(&C.lock);
    *runs = C.runs;
    *pages = C.pages;
    *frames = C.frames;
    pthread_mutex_unlock(&C.lock);
}
