/* dispatch.c - the thread that works the outbox. */
#include "axon/dispatch.h"

#include "axon/db.h"
#include "axon/events.h"
#include "axon/log.h"
#include "axon/packs.h"
#include "axon/sugg.h"
#include "axon/timefmt.h"
#include "axon/writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define POLL_MS 200
#define ROUND_MAX 64       /* deliveries handed to the writer per round */

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    bool running, stop, woken;
    int inflight;
} D = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER};

void dispatch_wake(void)
{
    pthread_mutex_lock(&D.lock);
    D.woken = true;
    pthread_cond_signal(&D.wake);
    pthread_mutex_unlock(&D.lock);
}

/* ---- writer operations ---- */

struct delivery_op {
    struct write_op op;
    int64_t rid;
};

static int run_delivery(struct db *d, void *arg, struct ax_err *err)
{
    struct delivery_op *o = arg;
    return event_run_delivery(d, o->rid, err);
}

static void delivery_done(struct write_op *op)
{
    if (op->rc)
        log_error("delivery %lld could not be recorded: %s",
                  (long long)((struct delivery_op *)op->arg)->rid, op->err.detail);
    pthread_mutex_lock(&D.lock);
    D.inflight--;
    pthread_cond_broadcast(&D.done);
    pthread_mutex_unlock(&D.lock);
}

static int fire_schedule(struct db *d, void *arg, struct ax_err *err)
{
    return event_fire_schedule(d, arg, err);
}

static int flush_runs(struct db *d, void *arg, struct ax_err *err)
{
    (void)arg;
    return packs_flush_runs(d, err);
}

/* Hand due deliveries to the writer together, so they share group
 * commits, and wait for all of them. */
static int run_due(struct db *rd, struct ax_err *err)
{
    int64_t rids[ROUND_MAX];
    int n = event_due(rd, time_now_ms(), rids, ROUND_MAX, err);
    if (n <= 0)
        return n;
    static struct delivery_op ops[ROUND_MAX];
    int submitted = 0;
    for (int i = 0; i < n; i++) {
        memset(&ops[i], 0, sizeof ops[i]);
        ops[i].rid = rids[i];
        ops[i].op.run = run_delivery;
        ops[i].op.done = delivery_done;
        ops[i].op.arg = &ops[i];
        pthread_mutex_lock(&D.lock);
        D.inflight++;
        pthread_mutex_unlock(&D.lock);
        if (writer_submit(&ops[i].op)) {      /* shutting down: the rest waits */
            pthread_mutex_lock(&D.lock);
            D.inflight--;
            pthread_mutex_unlock(&D.lock);
            break;
        }
        submitted++;
    }
    pthread_mutex_lock(&D.lock);
    while (D.inflight > 0)
        pthread_cond_wait(&D.done, &D.lock);
    pthread_mutex_unlock(&D.lock);
    return submitted;
}

static int fire_schedules(struct db *rd, struct db *wd, struct ax_err *err)
{
    struct pack_schedule_due due[16];
    int n = packs_due_schedules(rd, time_now_ms(), due, 16, err);
    for (int i = 0; i < n; i++)
        if (writer_exec(wd, fire_schedule, &due[i], err))
            log_error("schedule %s could not fire: %s", due[i].fn, err->detail);
    return n;
}

int dispatch_round(struct ax_err *err)
{
    struct db *rd = db_thread(err);
    if (!rd)
        return -1;
    if (packs_runs_pending() && writer_exec(rd, flush_runs, NULL, err))
        log_error("run log not written: %s", err->detail);
    if (fire_schedules(rd, rd, err) < 0)
        return -1;
    sugg_upkeep(rd);     /* expiry, last month's review samples: throttled inside */
    /* A read transaction of the last round must not hide new rows. */
    return run_due(rd, err);
}

static void *dispatch_main(void *unused)
{
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&D.lock);
        if (!D.woken && !D.stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += POLL_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&D.wake, &D.lock, &ts);
        }
        bool stop = D.stop;
        D.woken = false;
        pthread_mutex_unlock(&D.lock);
        struct ax_err err;
        ax_err_clear(&err);
        /* A busy outbox: keep going round while there is work. */
        int n;
        do {
            n = dispatch_round(&err);
            if (n < 0)
                log_error("dispatcher: %s", err.detail);
        } while (n == ROUND_MAX && !stop);
        if (stop)
            break;
    }
    return NULL;
}

int dispatch_start(struct ax_err *err)
{
    D.stop = false;
    event_set_wake(dispatch_wake);
    if (pthread_create(&D.thread, NULL, dispatch_main, NULL))
        return ax_fail(err, AX_EINTERNAL, "cannot start the dispatcher");
    D.running = true;
    return 0;
}

void dispatch_stop(void)
{
    if (!D.running)
        return;
    pthread_mutex_lock(&D.lock);
    D.stop = true;
    pthread_cond_signal(&D.wake);
    pthread_mutex_unlock(&D.lock);
    pthread_join(D.thread, NULL);
    D.running = false;
    event_set_wake(NULL);
}
