/* refcache.c - reference-counted cache of immutable objects, LRU eviction. */
#include "axon/refcache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct refcache_entry {
    struct refcache_key key;
    void *value;
    size_t bytes;
    int refs;
    uint64_t used;                 /* the cache's clock at the last hold */
    struct refcache_entry *next;
};

static bool same(const struct refcache_key *x, const struct refcache_key *y)
{
    return x->a == y->a && x->b == y->b && strcmp(x->tag, y->tag) == 0;
}

/* With the lock held. */
static struct refcache_entry *find(struct refcache *c, const struct refcache_key *k)
{
    for (struct refcache_entry *e = c->head; e; e = e->next)
        if (same(&e->key, k))
            return e;
    return NULL;
}

static void *hold(struct refcache *c, struct refcache_entry *e, void **h)
{
    e->refs++;
    e->used = ++c->clock;
    *h = e;
    return e->value;
}

/* Drop unheld entries, oldest first, while over a limit. With the lock held. */
static void evict(struct refcache *c)
{
    while (c->count > c->max_entries || c->bytes > c->max_bytes) {
        struct refcache_entry **victim = NULL;
        for (struct refcache_entry **p = &c->head; *p; p = &(*p)->next)
            if ((*p)->refs == 0 && (!victim || (*p)->used < (*victim)->used))
                victim = p;
        if (!victim)
            return;
        struct refcache_entry *e = *victim;
        *victim = e->next;
        c->count--;
        c->bytes -= e->bytes;
        c->free_fn(e->value);
        free(e);
    }
}

void *refcache_get(struct refcache *c, const struct refcache_key *k, void **h)
{
    pthread_mutex_lock(&c->lock);
    struct refcache_entry *e = find(c, k);
    void *v = e ? hold(c, e, h) : NULL;
    pthread_mutex_unlock(&c->lock);
    return v;
}

void *refcache_put(struct refcache *c, const struct refcache_key *k, void *value, size_t bytes,
                   void **h)
{
    pthread_mutex_lock(&c->lock);
    struct refcache_entry *e = find(c, k);
    if (e) {
        c->free_fn(value);
    } else if ((e = calloc(1, sizeof *e))) {
        e->key = *k;
        e->value = value;
        e->bytes = bytes;
        e->next = c->head;
        c->head = e;
        c->count++;
        c->bytes += bytes;
    } else {
        c->free_fn(value);
    }
    void *v = e ? hold(c, e, h) : NULL;
    evict(c);
    pthread_mutex_unlock(&c->lock);
    return v;
}

void refcache_release(struct refcache *c, void *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&c->lock);
    ((struct refcache_entry *)h)->refs--;
    evict(c);
    pthread_mutex_unlock(&c->lock);
}

size_t refcache_count(struct refcache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}
