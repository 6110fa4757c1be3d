/*
 * refcache.h - a small process-wide cache of immutable, expensive objects
 * (compiled dictionaries, loaded models) shared between threads with
 * reference counts. A key is a pair of integers plus a tag (a digest or a
 * checksum): what is cached under a key never changes, so entries are
 * never invalidated, only evicted — least recently used first, and only
 * when no one holds them — once the cache holds more than `max_entries`
 * or `max_bytes`.
 *
 * The cache owns the values put into it and frees them with its `free_fn`
 * on eviction; a caller holds a value from refcache_get/refcache_put
 * until it calls refcache_release with the handle it got. Define a cache
 * with REFCACHE_INIT; all its state is behind its own mutex.
 */
#ifndef AXON_REFCACHE_H
#define AXON_REFCACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define REFCACHE_TAG_MAX 72

struct refcache_key {
    int64_t a, b;
    char tag[REFCACHE_TAG_MAX];
};

struct refcache_entry;

struct refcache {
    pthread_mutex_t lock;
    size_t max_entries, max_bytes;
    void (*free_fn)(void *value);
    struct refcache_entry *head;
    size_t count, bytes;
    uint64_t clock;
};

#define REFCACHE_INIT(entries, bytes, fn) \
    {PTHREAD_MUTEX_INITIALIZER, (entries), (bytes), (fn), NULL, 0, 0, 0}

/* The value under `k`, held (handle in *h), or NULL when not cached. */
void *refcache_get(struct refcache *c, const struct refcache_key *k, void **h);

/* Add `value` (`bytes` big) under `k` and hold it. When another thread
 * added one meanwhile, `value` is freed and the cached one returned.
 * NULL (and `value` freed) when out of memory. */
void *refcache_put(struct refcache *c, const struct refcache_key *k, void *value, size_t bytes,
                   void **h);

void refcache_release(struct refcache *c, void *h);

/* Entries now cached, for tests. */
size_t refcache_count(struct refcache *c);

#endif
