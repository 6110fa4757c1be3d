/* ratelimit.c - striped, fixed-size token-bucket table. */
#include "axon/ratelimit.h"

#include "axon/timefmt.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 4096      /* buckets; a collision shares a bucket (errs on strict) */
#define STRIPES 64

struct bucket {
    uint64_t key;
    double tokens;
    double at;          /* monotonic seconds of last refill */
};

static struct bucket table[SLOTS];
static pthread_mutex_t stripes[STRIPES];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h | 1;   /* 0 marks an empty slot */
}

bool ratelimit_take(const char *key, double rate, double burst, struct rate_state *out)
{
    pthread_once(&once, init);
    uint64_t h = hash(key);
    unsigned slot = (unsigned)(h % SLOTS);
    pthread_mutex_t *m = &stripes[slot % STRIPES];
    double now = time_mono();
    pthread_mutex_lock(m);
    struct bucket *b = &table[slot];
    if (b->key == 0) {
        b->tokens = burst;
        b->at = now;
    }
    b->key = h;   /* two callers that collide share one bucket: stricter, never looser */
    b->tokens = fmin(burst, b->tokens + (now - b->at) * rate);
    b->at = now;
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    double tokens = b->tokens;
    pthread_mutex_unlock(m);
    if (out) {
        out->remaining = floor(tokens);
        out->retry_after = ok ? 0 : (int)ceil((1.0 - tokens) / rate);
        if (!ok && out->retry_after < 1)
            out->retry_after = 1;
        out->reset = (int)ceil((burst - tokens) / rate);
    }
    return ok;
}
