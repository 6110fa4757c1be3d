/* intents.c - dictionary versions, the active version, the built-in
 * dictionary and the cache of compiled dictionaries. */
#include "axon/intents.h"

#include "axon/assets.h"
#include "axon/audit.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/refcache.h"
#include "axon/timefmt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the built-in dictionary ---- */

static struct {
    pthread_once_t once;
    struct intent_dict *dict;
    char *report;                  /* intent_report_json, as text */
    char error[200];
} B = {.once = PTHREAD_ONCE_INIT};

/* intent_dict_load_csv() reads a path (sniffing the encoding first): hand
 * it the embedded bytes through an anonymous in-memory file. */
static void builtin_compile(void)
{
    size_t n;
    const char *data = asset_get(ASSET_DEFAULT_TERMS, &n);
    int fd = data ? memfd_create("axon-default-terms", MFD_CLOEXEC) : -1;
    bool written = fd >= 0;
    for (size_t o = 0; written && o < n;) {
        ssize_t w = write(fd, data + o, n - o);
        written = w > 0;
        o += w > 0 ? (size_t)w : 0;
    }
    if (!written) {
        snprintf(B.error, sizeof B.error, "the built-in intent dictionary is missing");
        if (fd >= 0)
            close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct intent_report rep;
    intent_report_init(&rep);
    struct ax_err err;
    ax_err_clear(&err);
    if (intent_dict_load_csv(path, &B.dict, &rep, &err)) {
        snprintf(B.error, sizeof B.error, "the built-in intent dictionary: %.150s", err.detail);
    } else {
        json_t *r = intent_report_json(&rep, B.dict);
        B.report = r ? jx_dumps(r, 0) : NULL;
        json_decref(r);
    }
    intent_report_free(&rep);
    close(fd);
}

const struct intent_dict *intents_builtin(struct ax_err *err)
{
    pthread_once(&B.once, builtin_compile);
    if (!B.dict)
        ax_fail(err, AX_EINTERNAL, "%s", B.error);
    return B.dict;
}

/* ---- the cache ---- */

static void free_dict(void *p) { intent_dict_free(p); }

static struct refcache cache = REFCACHE_INIT(INTENTS_CACHE_MAX, INTENTS_CACHE_BYTES, free_dict);

/* A version's terms, compiled. */
static struct intent_dict *compile_version(struct db *d, int64_t rid, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT intent, term, weight, lang, row FROM intent_terms WHERE dict_rid=? ORDER BY seq",
        err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, rid);
    struct intent_entry *es = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && !oom) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            struct intent_entry *p = realloc(es, ncap * sizeof *p);
            if (!p) {
                oom = true;
                break;
            }
            es = p;
            cap = ncap;
        }
        struct intent_entry *e = &es[n];
        e->intent = strdup((const char *)sqlite3_column_text(st, 0));
        e->term = strdup((const char *)sqlite3_column_text(st, 1));
        e->weight = sqlite3_column_double(st, 2);
        e->lang = strdup((const char *)sqlite3_column_text(st, 3));
        e->row = sqlite3_column_int64(st, 4);
        n++;
        oom = !e->intent || !e->term || !e->lang;
    }
    db_reset(st);
    struct intent_dict *dict = NULL;
    if (oom)
        ax_fail(err, AX_EUNAVAIL, "out of memory");
    else if (rc != SQLITE_DONE)
        db_fail(d, err, "dictionary terms");
    else if (intent_dict_compile(es, n, &dict, NULL, err))
        dict = NULL;
    for (size_t i = 0; i < n; i++) {
        free((char *)es[i].intent);
        free((char *)es[i].term);
        free((char *)es[i].lang);
    }
    free(es);
    return dict;
}

/* Take the version from the cache, or compile it (outside the cache's
 * lock: a large dictionary takes a while) and add it. */
static int cache_acquire(struct db *d, int64_t tenant, long long version, int64_t rid,
                         const char *digest, struct intents_ref *out, struct ax_err *err)
{
    struct refcache_key k = {tenant, version, ""};
    snprintf(k.tag, sizeof k.tag, "%s", digest);
    struct intent_dict *dict = refcache_get(&cache, &k, &out->entry);
    if (!dict) {
        struct intent_dict *fresh = compile_version(d, rid, err);
        if (!fresh)
            return -1;
        dict = refcache_put(&cache, &k, fresh, intent_dict_memory(fresh), &out->entry);
        if (!dict)
            return ax_fail(err, AX_EUNAVAIL, "out of memory");
    }
    out->dict = dict;
    out->version = version;
    return 0;
}

void intents_release(struct intents_ref *ref)
{
    if (!ref || !ref->entry)
        return;
    refcache_release(&cache, ref->entry);
    ref->entry = NULL;
    ref->dict = NULL;
}

/* ---- lookups ---- */

/* rid and digest of a version; 0 when the tenant has none such. */
static int version_row(struct db *d, int64_t tenant, long long version, int64_t *rid,
                       char digest[40], struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT rid, digest FROM intent_dictionaries WHERE tenant_id=? AND version=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, version);
    int rc = sqlite3_step(st);
    *rid = 0;
    if (rc == SQLITE_ROW) {
        *rid = sqlite3_column_int64(st, 0);
        snprintf(digest, 40, "%s", (const char *)sqlite3_column_text(st, 1));
    }
    db_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(d, err, "dictionary lookup");
}

int intents_active_version(struct db *d, int64_t tenant, long long *version, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT version FROM intent_active WHERE tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    int rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INTENTS_BUILTIN;
    db_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(d, err, "active dictionary");
}

int intents_acquire(struct db *d, int64_t tenant, long long version, struct intents_ref *out,
                    struct ax_err *err)
{
    memset(out, 0, sizeof *out);
    int64_t rid = 0;
    char digest[40] = "";
    if (version == INTENTS_ACTIVE) {
        /* The write path: one statement for the version and its digest. */
        sqlite3_stmt *st = db_prep(d,
            "SELECT a.version, d.rid, d.digest FROM intent_active a LEFT JOIN "
            "intent_dictionaries d ON d.tenant_id=a.tenant_id AND d.version=a.version "
            "WHERE a.tenant_id=?", err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, tenant);
        int rc = sqlite3_step(st);
        version = INTENTS_BUILTIN;
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL) {
            version = sqlite3_column_int64(st, 0);
            rid = sqlite3_column_int64(st, 1);
            snprintf(digest, sizeof digest, "%s", (const char *)sqlite3_column_text(st, 2));
        }
        db_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return db_fail(d, err, "active dictionary");
    } else if (version != INTENTS_BUILTIN) {
        if (version_row(d, tenant, version, &rid, digest, err))
            return -1;
        if (!rid)
            return ax_fail(err, AX_ENOTFOUND, "no dictionary version %lld", version);
    }
    if (version == INTENTS_BUILTIN) {
        out->dict = intents_builtin(err);
        out->version = INTENTS_BUILTIN;
        return out->dict ? 0 : -1;
    }
    return cache_acquire(d, tenant, version, rid, digest, out, err);
}

/* ---- descriptions ---- */

static void set_text(json_t *o, const char *key, const unsigned char *v)
{
    json_object_set_new(o, key, v ? json_string((const char *)v) : json_null());
}

/* The description from a report (text) and the row's own members. */
static json_t *description(long long version, bool active, const char *report_text,
                           bool with_issues)
{
    json_t *o = json_pack("{s:s,s:I,s:b,s:b}", "object", "intent_dictionary", "version",
                          (json_int_t)version, "active", active, "builtin",
                          version == INTENTS_BUILTIN);
    json_t *rep = report_text ? json_loads(report_text, 0, NULL) : NULL;
    if (!o || !rep) {
        json_decref(o);
        json_decref(rep);
        return NULL;
    }
    static const char *const keys[] = {"digest", "terms", "intents", "encoding", "bom",
                                       "rows_accepted", "rows_rejected", "duplicates",
                                       "errors", "warnings", NULL};
    for (int i = 0; keys[i]; i++) {
        bool issues = !strcmp(keys[i], "errors") || !strcmp(keys[i], "warnings");
        json_t *v = json_object_get(rep, keys[i]);
        if (issues && !with_issues)
            continue;
        json_object_set(o, keys[i], v ? v : issues ? json_array() : json_null());
    }
    json_decref(rep);
    return o;
}

static int dump(struct buf *out, json_t *o, struct ax_err *err)
{
    int rc = o ? jx_dump(out, o, 0) : -1;
    json_decref(o);
    return rc ? ax_fail(err, AX_EINTERNAL, "out of memory") : 0;
}

static json_t *builtin_description(bool active, bool with_issues, struct ax_err *err)
{
    if (!intents_builtin(err))
        return NULL;
    json_t *o = description(INTENTS_BUILTIN, active, B.report, with_issues);
    if (o)
        json_object_update_new(o, json_pack("{s:s,s:n,s:n,s:n}", "file_name",
                                            "default_terms.csv", "file_size", "created_by",
                                            "created_at"));
    return o;
}

#define ROW_COLS "version, report, file_name, file_size, created_by, created_at"

static json_t *row_description(sqlite3_stmt *st, long long active, bool with_issues)
{
    long long version = sqlite3_column_int64(st, 0);
    json_t *o = description(version, version == active,
                            (const char *)sqlite3_column_text(st, 1), with_issues);
    if (!o)
        return NULL;
    set_text(o, "file_name", sqlite3_column_text(st, 2));
    json_object_set_new(o, "file_size", json_integer(sqlite3_column_int64(st, 3)));
    set_text(o, "created_by", sqlite3_column_text(st, 4));
    set_text(o, "created_at", sqlite3_column_text(st, 5));
    return o;
}

int intents_describe(struct db *d, int64_t tenant, long long version, struct buf *out,
                     struct ax_err *err)
{
    long long active;
    if (intents_active_version(d, tenant, &active, err))
        return -1;
    if (version == INTENTS_BUILTIN) {
        json_t *o = builtin_description(active == INTENTS_BUILTIN, true, err);
        return o ? dump(out, o, err) : -1;
    }
    sqlite3_stmt *st = db_prep(d, "SELECT " ROW_COLS " FROM intent_dictionaries "
                                  "WHERE tenant_id=? AND version=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, version);
    int rc = sqlite3_step(st);
    json_t *o = rc == SQLITE_ROW ? row_description(st, active, true) : NULL;
    db_reset(st);
    if (rc == SQLITE_DONE)
        return ax_fail(err, AX_ENOTFOUND, "no dictionary version %lld", version);
    if (rc != SQLITE_ROW)
        return db_fail(d, err, "dictionary");
    return dump(out, o, err);
}

int intents_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err)
{
    long long active;
    if (intents_active_version(d, tenant, &active, err))
        return -1;
    sqlite3_stmt *st = db_prep(d, "SELECT " ROW_COLS " FROM intent_dictionaries "
                                  "WHERE tenant_id=? ORDER BY version DESC", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    json_t *data = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(data, row_description(st, active, false));
    db_reset(st);
    if (rc != SQLITE_DONE) {
        json_decref(data);
        return db_fail(d, err, "dictionaries");
    }
    json_t *b = builtin_description(active == INTENTS_BUILTIN, false, err);
    if (!b) {
        json_decref(data);
        return -1;
    }
    json_array_append_new(data, b);
    return dump(out, json_pack("{s:o,s:I,s:n}", "data", data, "active_version",
                               (json_int_t)active, "next"), err);
}

/* ---- writes ---- */

static int set_active(struct db *d, const struct ax_ctx *c, long long version,
                      struct ax_err *err)
{
    long long before;
    if (intents_active_version(d, c->tenant, &before, err))
        return -1;
    if (before == version)
        return 0;
    sqlite3_stmt *st = db_prep(d, "INSERT INTO intent_active(tenant_id, version) VALUES(?,?) "
                                  "ON CONFLICT(tenant_id) DO UPDATE SET version=excluded.version",
                               err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_int64(st, 2, version);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "activate dictionary");
    char id[24];
    snprintf(id, sizeof id, "%lld", version);
    json_t *changes = json_pack("{s:[I,I]}", "active_version", (json_int_t)before,
                                (json_int_t)version);
    rc = audit_append(d, c, "intent_dictionaries", id, "activate", changes, err);
    json_decref(changes);
    return rc;
}

static int insert_terms(struct db *d, int64_t rid, const struct intent_dict *dict,
                        struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "INSERT INTO intent_terms(dict_rid, seq, intent, term, weight,"
                                  " lang, row) VALUES(?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    size_t n = intent_dict_term_count(dict);
    for (size_t i = 0; i < n; i++) {
        const struct intent_term *t = intent_dict_term(dict, i);
        sqlite3_bind_int64(st, 1, rid);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        sqlite3_bind_text(st, 3, t->intent, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, t->term, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 5, t->weight);
        sqlite3_bind_text(st, 6, t->lang, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, t->row);
        int rc = sqlite3_step(st);
        db_reset(st);
        if (rc != SQLITE_DONE)
            return db_fail(d, err, "dictionary terms");
    }
    return 0;
}

int intents_store(struct db *d, const struct ax_ctx *c, const struct intent_dict *dict,
                  const struct intent_report *report, const char *file_name, long long file_size,
                  bool activate, long long *version, struct buf *out, struct ax_err *err)
{
    int64_t next;
    sqlite3_stmt *st = db_prep(d, "SELECT coalesce(max(version), 0) + 1 FROM "
                                  "intent_dictionaries WHERE tenant_id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    next = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
    db_reset(st);

    json_t *rep = intent_report_json(report, dict);
    char *rep_text = rep ? jx_dumps(rep, 0) : NULL;
    json_decref(rep);
    st = rep_text ? db_prep(d, "INSERT INTO intent_dictionaries(tenant_id, version, digest, terms,"
                               " report, file_name, file_size, created_by, created_at) "
                               "VALUES(?,?,?,?,?,?,?,?,?)", err) : NULL;
    if (!st) {
        free(rep_text);
        return rep_text ? -1 : ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_int64(st, 2, next);
    sqlite3_bind_text(st, 3, intent_dict_digest(dict), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)intent_dict_term_count(dict));
    sqlite3_bind_text(st, 5, rep_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, file_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, file_size);
    sqlite3_bind_text(st, 8, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    free(rep_text);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "dictionary insert");
    int64_t rid = sqlite3_last_insert_rowid(db_handle(d));
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)next);
    json_t *changes = json_pack("{s:[n,I],s:[n,s],s:[n,I]}", "version", (json_int_t)next,
                                "digest", intent_dict_digest(dict), "terms",
                                (json_int_t)intent_dict_term_count(dict));
    rc = insert_terms(d, rid, dict, err) ||
         audit_append(d, c, "intent_dictionaries", id, "upload", changes, err) ||
         (activate && set_active(d, c, next, err)) ||
         intents_describe(d, c->tenant, next, out, err);
    json_decref(changes);
    *version = next;
    return rc ? -1 : 0;
}

int intents_activate(struct db *d, const struct ax_ctx *c, long long version, struct buf *out,
                     struct ax_err *err)
{
    if (version != INTENTS_BUILTIN) {
        int64_t rid;
        char digest[40];
        if (version_row(d, c->tenant, version, &rid, digest, err))
            return -1;
        if (!rid)
            return ax_fail(err, AX_ENOTFOUND, "no dictionary version %lld", version);
    }
    return set_active(d, c, version, err) || intents_describe(d, c->tenant, version, out, err)
               ? -1 : 0;
}
