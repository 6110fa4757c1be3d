/*
 * writer.h - the single writer. SQLite allows one writer at a time, so all
 * writes of the server go through one thread with its own connection,
 * which takes queued operations in batches and commits each batch once
 * (group commit). Each operation runs in its own savepoint: a failing one
 * is rolled back alone, the others commit. A write is acknowledged only
 * after its batch committed.
 *
 * Operations are owned by their submitter, who must keep them alive until
 * `done` has been called (on the writer thread, after commit or rollback).
 * In CLI mode (no thread started) writer_exec() runs the operation at once
 * on the given connection inside its own transaction.
 */
#ifndef AXON_WRITER_H
#define AXON_WRITER_H

#include "axon/db.h"
#include "axon/error.h"

#include <stdbool.h>

struct write_op;
typedef int (*write_fn)(struct db *d, void *arg, struct ax_err *err);
typedef void (*write_done_fn)(struct write_op *op);

struct write_op {
    write_fn run;
    write_done_fn done;      /* may be NULL for writer_exec */
    void *arg;
    struct ax_err err;
    int rc;                  /* 0 ok, -1 failed (err says why) */
    /* It only reads and writes the database and fills its reply, so it
     * may run again after its batch was rolled back: such batches skip
     * the savepoint per operation (see writer.c). */
    bool rerunnable;
    struct write_op *next;   /* queue link, owned by the writer */
    /* for writer_exec */
    int finished;
};

int writer_start(const char *db_path, int batch_max, struct ax_err *err);
void writer_stop(void);

/* Queue an operation; `done` runs on the writer thread when it finished. */
int writer_submit(struct write_op *op);

/* Run an operation and wait for it. With no writer thread, runs it on `d`
 * (a connection of the caller's) in its own transaction. */
int writer_exec(struct db *d, write_fn run, void *arg, struct ax_err *err);

/* Operations committed and batches made since start (for stats). */
void writer_stats(long long *ops, long long *batches);

#endif
