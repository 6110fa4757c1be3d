/*
 * dispatch.h - the dispatcher thread: runs the outbox's due deliveries
 * (after handlers and schedule firings) through the writer, fires due
 * schedules, and writes the queued run log. It looks for work when a
 * commit queued deliveries (events.h wakes it) and at least every 200 ms.
 * Nothing to free; start once, stop before the writer.
 */
#ifndef AXON_DISPATCH_H
#define AXON_DISPATCH_H

#include "axon/error.h"

int dispatch_start(struct ax_err *err);
void dispatch_stop(void);
void dispatch_wake(void);

/* One round on the calling thread, with the writer running: the run log,
 * due schedules, due deliveries. Returns the deliveries handed over. */
int dispatch_round(struct ax_err *err);

#endif
