/*
 * ratelimit.h - token buckets per caller (API key, user or client address),
 * in memory, in a fixed table with striped locks so workers rarely contend.
 * Nothing to free. A bucket refills `rate` tokens per second up to `burst`.
 */
#ifndef AXON_RATELIMIT_H
#define AXON_RATELIMIT_H

#include <stdbool.h>

struct rate_state {
    double remaining;       /* tokens left after this request */
    int retry_after;        /* seconds until one token is back (when refused) */
    int reset;              /* seconds until the bucket is full */
};

/* Take one token for `key`. False when the caller must wait. */
bool ratelimit_take(const char *key, double rate, double burst, struct rate_state *out);

#endif
