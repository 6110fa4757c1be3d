/*
 * checkpoint.h - WAL checkpoints off the writer thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses the
 * threshold: the writer then copies the WAL into the database file and
 * fsyncs both, while every queued write waits (a measured 16% of the
 * writer's time under POST load). Instead the writer's connection reports
 * the WAL's size after each commit (sqlite3_wal_hook) and this module's
 * thread, with a connection of its own, runs PASSIVE checkpoints: they
 * never take the write lock, so commits go on meanwhile.
 *
 * Durability is unchanged: a commit is durable as soon as its WAL frames
 * are written (synchronous=NORMAL: against a crash of the process; FULL:
 * fsync'd at commit as before); a checkpoint only moves committed pages.
 * When the thread falls far behind (readers pinning old snapshots), the
 * writer checkpoints itself as SQLite would have.
 *
 * One checkpointer per process; ckpt_start() attaches it to a connection
 * that belongs to the caller and must outlive ckpt_stop().
 */
#ifndef AXON_CHECKPOINT_H
#define AXON_CHECKPOINT_H

#include "axon/db.h"
#include "axon/error.h"

/* WAL pages after which the thread checkpoints (4 KiB pages). */
#define CKPT_PAGES 4000
/* WAL pages after which the writer checkpoints itself. */
#define CKPT_WRITER_PAGES 64000

/* Take over checkpoints of `writer` (a connection to `path`): 0, or 1 when
 * a checkpointer already runs in this process (then leave it alone: do not
 * call ckpt_stop), -1 + err when the thread cannot start. */
int ckpt_start(struct db *writer, const char *path, struct ax_err *err);
/* Stop the thread after a last checkpoint; `writer` checkpoints itself again. */
void ckpt_stop(void);

/* Checkpoints run, WAL pages they copied and WAL pages the writer wrote
 * so far (for stats and tests). */
void ckpt_stats(long long *runs, long long *pages, long long *frames);

#endif
