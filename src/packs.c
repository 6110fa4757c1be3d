/* packs.c - packs, versions, publication, handlers, schedules, run log. */
#include "axon/packs.h"

#include "axon/audit.h"
#include "axon/ids.h"
#include "axon/jx.h"
#include "axon/log.h"
#include "axon/lua_host.h"
#include "axon/model.h"
#include "axon/store.h"
#include "axon/timefmt.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS_KEPT_PER_PACK 5000
#define RUN_QUEUE_MAX 20000

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    json_t *v = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *col_str_or_null(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? json_string(s) : json_null();
}

static int reply_json(struct buf *out, json_t *v, struct ax_err *err)
{
    int rc = v && jx_dump(out, v, 0) == 0 ? 0 : ax_fail(err, AX_EINTERNAL, "out of memory");
    json_decref(v);
    return rc;
}

static void now_text(char out[TIME_TEXT_MAX]) { time_format_ms(time_now_ms(), out); }

/* ---- the per-thread version cache ---- */

#define VERSION_CACHE 32
static __thread struct {
    int64_t rid, pack_rid, tenant;
    char id[ID_MAX], pack_id[ID_MAX], name[72], version[40];
    json_t *manifest;
    unsigned used;
} vcache[VERSION_CACHE];
static __thread unsigned vclock;

static void fill_version(struct pack_version *v, int slot)
{
    v->rid = vcache[slot].rid;
    v->pack_rid = vcache[slot].pack_rid;
    v->tenant = vcache[slot].tenant;
    snprintf(v->id, sizeof v->id, "%s", vcache[slot].id);
    snprintf(v->pack_id, sizeof v->pack_id, "%s", vcache[slot].pack_id);
    snprintf(v->name, sizeof v->name, "%s", vcache[slot].name);
    snprintf(v->version, sizeof v->version, "%s", vcache[slot].version);
    v->manifest = json_incref(vcache[slot].manifest);
    vcache[slot].used = ++vclock;
}

void packs_version_release(struct pack_version *v)
{
    if (v) {
        json_decref(v->manifest);
        v->manifest = NULL;
    }
}

static const char version_cols[] =
    "SELECT v.rid, v.pack_rid, v.tenant_id, v.id, p.id, p.name, v.version, v.manifest "
    "FROM pack_versions v JOIN packs p ON p.rid = v.pack_rid ";

/* Cache the row the statement is on; returns its slot. */
static int cache_row(sqlite3_stmt *st)
{
    int slot = 0;
    for (int i = 1; i < VERSION_CACHE; i++)
        if (vcache[i].used < vcache[slot].used)
            slot = i;
    json_decref(vcache[slot].manifest);
    vcache[slot].rid = sqlite3_column_int64(st, 0);
    vcache[slot].pack_rid = sqlite3_column_int64(st, 1);
    vcache[slot].tenant = sqlite3_column_int64(st, 2);
    snprintf(vcache[slot].id, ID_MAX, "%s", col_text(st, 3));
    snprintf(vcache[slot].pack_id, ID_MAX, "%s", col_text(st, 4));
    snprintf(vcache[slot].name, sizeof vcache[slot].name, "%s", col_text(st, 5));
    snprintf(vcache[slot].version, sizeof vcache[slot].version, "%s", col_text(st, 6));
    vcache[slot].manifest = col_json(st, 7);
    return slot;
}

int packs_version_by_rid(struct db *d, int64_t rid, struct pack_version *out,
                         struct ax_err *err)
{
    for (int i = 0; i < VERSION_CACHE; i++)
        if (vcache[i].manifest && vcache[i].rid == rid) {
            fill_version(out, i);
            return 0;
        }
    char sql[sizeof version_cols + 40];
    snprintf(sql, sizeof sql, "%sWHERE v.rid=?", version_cols);
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        fill_version(out, cache_row(st));
    db_reset(st);
    if (rc != SQLITE_ROW)
        return ax_fail(err, AX_ENOTFOUND, "no such pack version");
    return 0;
}

int packs_version_find(struct db *d, int64_t tenant, const char *pack_id, const char *version,
                       struct pack_version *out, struct ax_err *err)
{
    char sql[sizeof version_cols + 80];
    snprintf(sql, sizeof sql, "%sWHERE p.tenant_id=? AND p.id=? AND v.version=?", version_cols);
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pack_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, version, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        fill_version(out, cache_row(st));
    db_reset(st);
    if (rc != SQLITE_ROW)
        return ax_fail(err, AX_ENOTFOUND, "no version '%.40s' of pack '%.40s'", version, pack_id);
    return 0;
}

/* ---- files ---- */

int packs_version_files(struct db *d, int64_t version_rid, struct pack_file **files, int *n,
                        struct ax_err *err)
{
    *files = NULL;
    *n = 0;
    sqlite3_stmt *st = db_prep(d,
        "SELECT path, content FROM pack_files WHERE version_rid=? ORDER BY path", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, version_rid);
    int cap = 0, rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            struct pack_file *grown = realloc(*files, (size_t)cap * sizeof **files);
            if (!grown) {
                rc = ax_fail(err, AX_EINTERNAL, "out of memory");
                break;
            }
            *files = grown;
        }
        struct pack_file *f = &(*files)[*n];
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        f->path = strdup(col_text(st, 0));
        f->data = malloc(len + 1);
        f->len = len;
        if (!f->path || !f->data) {
            free(f->path);
            free(f->data);
            rc = ax_fail(err, AX_EINTERNAL, "out of memory");
            break;
        }
        if (len)
            memcpy(f->data, sqlite3_column_blob(st, 1), len);
        f->data[len] = '\0';
        (*n)++;
    }
    db_reset(st);
    if (rc) {
        packs_files_free(*files, *n);
        *files = NULL;
        *n = 0;
    }
    return rc;
}

void packs_files_free(struct pack_file *files, int n)
{
    for (int i = 0; i < n; i++) {
        free(files[i].path);
        free(files[i].data);
    }
    free(files);
}

/* ---- documents ---- */

static json_t *version_doc(sqlite3_stmt *st, json_t *files)
{
    /* columns: id, version, manifest, sha256, size, findings, blocking,
     * tests, tests_failed, uploaded_by, created_at, pack id */
    int blocking = sqlite3_column_int(st, 6), failed = sqlite3_column_int(st, 8);
    json_t *findings = col_json(st, 5);
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I}", "object", "pack_version",
                            "id", col_text(st, 0), "pack_id", col_text(st, 11),
                            "version", col_text(st, 1), "manifest", col_json(st, 2),
                            "sha256", col_text(st, 3), "size", sqlite3_column_int64(st, 4));
    json_object_set_new(doc, "scan", json_pack("{s:b,s:i,s:o}", "passed", blocking == 0,
                                               "blocking", blocking, "findings", findings));
    json_object_set_new(doc, "tests", col_json(st, 7));
    json_object_set_new(doc, "publishable", json_boolean(blocking == 0 && failed == 0));
    json_object_set_new(doc, "uploaded_by", col_str_or_null(st, 9));
    json_object_set_new(doc, "created_at", json_string(col_text(st, 10)));
    if (files)
        json_object_set_new(doc, "files", files);
    return doc;
}

static json_t *files_doc(struct db *d, int64_t version_rid, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT path, length(content), content FROM pack_files WHERE version_rid=? "
        "ORDER BY path", err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, version_rid);
    json_t *a = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        unsigned char h[crypto_hash_sha256_BYTES];
        char hex[2 * sizeof h + 1];
        crypto_hash_sha256(h, sqlite3_column_blob(st, 2),
                           (unsigned long long)sqlite3_column_bytes(st, 2));
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        json_array_append_new(a, json_pack("{s:s,s:I,s:s}", "path", col_text(st, 0), "size",
                                           sqlite3_column_int64(st, 1), "sha256", hex));
    }
    db_reset(st);
    return a;
}

static const char version_doc_cols[] =
    "SELECT v.id, v.version, v.manifest, v.sha256, v.size, v.findings, v.blocking, v.tests, "
    "v.tests_failed, v.uploaded_by, v.created_at, p.id, v.rid "
    "FROM pack_versions v JOIN packs p ON p.rid = v.pack_rid ";

int packs_version_describe(struct db *d, int64_t tenant, const char *pack_id,
                           const char *version, struct buf *out, struct ax_err *err)
{
    char sql[sizeof version_doc_cols + 80];
    snprintf(sql, sizeof sql, "%sWHERE p.tenant_id=? AND p.id=? AND v.version=?",
             version_doc_cols);
    sqlite3_stmt *st = db_prep(d, sql, err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pack_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, version, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_reset(st);
        return ax_fail(err, AX_ENOTFOUND, "no version '%.40s' of pack '%.40s'", version, pack_id);
    }
    int64_t rid = sqlite3_column_int64(st, 12);
    /* files_doc uses another statement: take what we need first. */
    json_t *doc = version_doc(st, NULL);
    db_reset(st);
    json_t *files = files_doc(d, rid, err);
    if (!files) {
        json_decref(doc);
        return -1;
    }
    json_object_set_new(doc, "files", files);
    return reply_json(out, doc, err);
}

int packs_version_file(struct db *d, int64_t tenant, const char *pack_id, const char *version,
                       const char *path, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT f.content FROM pack_files f JOIN pack_versions v ON v.rid = f.version_rid "
        "JOIN packs p ON p.rid = v.pack_rid WHERE p.tenant_id=? AND p.id=? AND v.version=? "
        "AND f.path=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pack_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *data = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        json_t *doc = json_pack("{s:s,s:i,s:s%}", "path", path, "size", n, "content",
                                data ? data : "", (size_t)n);
        rc = doc ? reply_json(out, doc, err)
                 : ax_fail(err, AX_EINTERNAL, "the file is not text");
    } else {
        ax_fail(err, AX_ENOTFOUND, "no file '%.100s' in version '%.40s' of pack '%.40s'", path,
                version, pack_id);
    }
    db_reset(st);
    return rc;
}

static json_t *pack_doc(struct db *d, int64_t tenant, const char *pack_id, bool with_versions,
                        struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT p.rid, p.id, p.name, p.status, v.version, p.scope, p.unit_id, p.settings, "
        "p.created_at, p.updated_at, pv.version, coalesce(v.manifest, (SELECT manifest FROM "
        "pack_versions WHERE pack_rid = p.rid ORDER BY rid DESC LIMIT 1)) "
        "FROM packs p LEFT JOIN pack_versions v ON v.rid = p.published_version "
        "LEFT JOIN pack_versions pv ON pv.rid = p.previous_version "
        "WHERE p.tenant_id=? AND p.id=?", err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pack_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_reset(st);
        ax_fail(err, AX_ENOTFOUND, "no pack with id '%.60s'", pack_id);
        return NULL;
    }
    int64_t rid = sqlite3_column_int64(st, 0);
    json_t *manifest = col_json(st, 11);
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:s}", "object", "pack",
                            "id", col_text(st, 1), "name", col_text(st, 2), "status",
                            col_text(st, 3), "published_version", col_str_or_null(st, 4),
                            "scope", col_str_or_null(st, 5), "unit_id", col_str_or_null(st, 6),
                            "settings", col_json(st, 7), "rollback_to", col_str_or_null(st, 10),
                            "created_at", col_text(st, 8), "updated_at", col_text(st, 9));
    db_reset(st);
    json_t *description = json_object_get(manifest, "description");
    json_object_set_new(doc, "description", description ? json_incref(description) : json_null());
    json_decref(manifest);
    if (!with_versions)
        return doc;
    st = db_prep(d,
        "SELECT id, version, blocking, tests_failed, created_at, uploaded_by FROM pack_versions "
        "WHERE pack_rid=? ORDER BY rid DESC", err);
    if (!st) {
        json_decref(doc);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, rid);
    json_t *versions = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(versions,
            json_pack("{s:s,s:s,s:b,s:s,s:o}", "id", col_text(st, 0), "version",
                      col_text(st, 1), "publishable",
                      sqlite3_column_int(st, 2) == 0 && sqlite3_column_int(st, 3) == 0,
                      "created_at", col_text(st, 4), "uploaded_by", col_str_or_null(st, 5)));
    db_reset(st);
    json_object_set_new(doc, "versions", versions);
    st = db_prep(d,
        "SELECT pp.action, v.version, pp.scope, pp.unit_id, pp.actor, pp.at "
        "FROM pack_publications pp LEFT JOIN pack_versions v ON v.rid = pp.version_rid "
        "WHERE pp.pack_rid=? ORDER BY pp.rid DESC LIMIT 50", err);
    if (!st) {
        json_decref(doc);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, rid);
    json_t *pubs = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(pubs,
            json_pack("{s:s,s:o,s:o,s:o,s:o,s:s}", "action", col_text(st, 0), "version",
                      col_str_or_null(st, 1), "scope", col_str_or_null(st, 2), "unit_id",
                      col_str_or_null(st, 3), "actor", col_str_or_null(st, 4), "at",
                      col_text(st, 5)));
    db_reset(st);
    json_object_set_new(doc, "publications", pubs);
    return doc;
}

int packs_describe(struct db *d, int64_t tenant, const char *pack_id, struct buf *out,
                   struct ax_err *err)
{
    json_t *doc = pack_doc(d, tenant, pack_id, true, err);
    return doc ? reply_json(out, doc, err) : -1;
}

int packs_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT id FROM packs WHERE tenant_id=? ORDER BY name", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    json_t *ids = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(ids, json_string(col_text(st, 0)));
    db_reset(st);
    json_t *data = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        json_t *doc = pack_doc(d, tenant, json_string_value(id), false, err);
        if (!doc) {
            json_decref(ids);
            json_decref(data);
            return -1;
        }
        json_array_append_new(data, doc);
    }
    json_decref(ids);
    return reply_json(out, json_pack("{s:o,s:n}", "data", data, "next"), err);
}

/* ---- upload ---- */

static int find_pack(struct db *d, int64_t tenant, const char *name, int64_t *rid,
                     char id[ID_MAX], struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT rid, id FROM packs WHERE tenant_id=? AND name=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *rid = sqlite3_column_int64(st, 0);
        snprintf(id, ID_MAX, "%s", col_text(st, 1));
        found = 1;
    }
    db_reset(st);
    return found;
}

static int create_pack(struct db *d, const struct ax_ctx *c, const char *name, int64_t *rid,
                       char id[ID_MAX], struct ax_err *err)
{
    char now[TIME_TEXT_MAX];
    now_text(now);
    id_new("pck", id);
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO packs(tenant_id, id, name, created_at, updated_at) VALUES(?,?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "create pack");
    *rid = sqlite3_last_insert_rowid(db_handle(d));
    return 0;
}

/* 1 when the version exists (sha copied out), 0 when not. */
static int existing_version(struct db *d, int64_t pack_rid, const char *version,
                            char sha[65], struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT sha256 FROM pack_versions WHERE pack_rid=? AND version=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, pack_rid);
    sqlite3_bind_text(st, 2, version, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(sha, 65, "%s", col_text(st, 0));
        found = 1;
    }
    db_reset(st);
    return found;
}

static int insert_files(struct db *d, int64_t version_rid, const struct pack_bundle *b,
                        struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO pack_files(version_rid, path, content) VALUES(?,?,?)", err);
    if (!st)
        return -1;
    for (int i = 0; i < b->nfiles; i++) {
        sqlite3_bind_int64(st, 1, version_rid);
        sqlite3_bind_text(st, 2, b->files[i].path, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, b->files[i].data, (int)b->files[i].len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        db_reset(st);
        if (rc != SQLITE_DONE)
            return db_fail(d, err, "store pack file");
    }
    return 0;
}

/* SHA-256 over the files (path, length, contents, in path order): the same
 * pack zipped by another tool, or read from a folder, is the same version. */
static void content_digest(const struct pack_bundle *b, char hex[65])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (int i = 0; i < b->nfiles; i++) {
        unsigned char len[8];
        uint64_t n = b->files[i].len;
        for (int k = 0; k < 8; k++)
            len[k] = (unsigned char)(n >> (8 * k));
        crypto_hash_sha256_update(&st, (const unsigned char *)b->files[i].path,
                                  strlen(b->files[i].path) + 1);
        crypto_hash_sha256_update(&st, len, sizeof len);
        crypto_hash_sha256_update(&st, (const unsigned char *)b->files[i].data, n);
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

int packs_store_version(struct db *d, const struct ax_ctx *c, const struct pack_bundle *b,
                        const struct pack_checks *checks, bool *created, char pack_id[ID_MAX],
                        char version[40], struct buf *out, struct ax_err *err)
{
    const char *name = json_string_value(json_object_get(b->manifest, "name"));
    const char *ver = json_string_value(json_object_get(b->manifest, "version"));
    if (!name || !ver)
        return ax_fail(err, AX_EINVALID, "the manifest has no name or version");
    snprintf(version, 40, "%s", ver);
    *created = false;
    int64_t pack_rid = 0;
    int found = find_pack(d, c->tenant, name, &pack_rid, pack_id, err);
    if (found < 0 || (!found && create_pack(d, c, name, &pack_rid, pack_id, err)))
        return -1;
    char sha[65], digest[65];
    content_digest(b, digest);
    found = found ? existing_version(d, pack_rid, ver, sha, err) : 0;
    if (found < 0)
        return -1;
    if (found) {
        if (strcmp(sha, digest) != 0)
            return ax_fail_type(err, AX_ECONFLICT, "version-exists",
                                "pack '%s' already has a version %s with other contents; raise "
                                "the version in pack.lua (versions never change once uploaded)",
                                name, ver);
        return packs_version_describe(d, c->tenant, pack_id, ver, out, err);
    }
    size_t total = 0;
    for (int i = 0; i < b->nfiles; i++)
        total += b->files[i].len;
    char vid[ID_MAX], now[TIME_TEXT_MAX];
    id_new("pkv", vid);
    now_text(now);
    char *manifest = jx_dumps(b->manifest, 0);
    char *findings = jx_dumps(checks->findings, 0);
    char *tests = jx_dumps(checks->tests, 0);
    sqlite3_stmt *st = manifest && findings && tests ? db_prep(d,
        "INSERT INTO pack_versions(tenant_id, pack_rid, id, version, manifest, sha256, size, "
        "findings, blocking, tests, tests_failed, uploaded_by, created_at) "
        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", err) : NULL;
    int rc = -1;
    if (!st) {
        if (!manifest || !findings || !tests)
            ax_fail(err, AX_EINTERNAL, "out of memory");
        goto done;
    }
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_int64(st, 2, pack_rid);
    sqlite3_bind_text(st, 3, vid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ver, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, manifest, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, digest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (int64_t)total);
    sqlite3_bind_text(st, 8, findings, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, checks->blocking);
    sqlite3_bind_text(st, 10, tests, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, checks->tests_failed);
    sqlite3_bind_text(st, 12, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, now, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    db_reset(st);
    if (step != SQLITE_DONE) {
        db_fail(d, err, "store pack version");
        goto done;
    }
    int64_t vrid = sqlite3_last_insert_rowid(db_handle(d));
    if (insert_files(d, vrid, b, err))
        goto done;
    json_t *changes = json_pack("{s:[ns],s:[ns],s:[ni],s:[ni]}", "version", ver, "sha256",
                                digest, "blocking_findings", checks->blocking,
                                "failed_tests", checks->tests_failed);
    rc = audit_append(d, c, "packs", pack_id, "upload", changes, err);
    json_decref(changes);
    if (rc == 0) {
        *created = true;
        rc = packs_version_describe(d, c->tenant, pack_id, ver, out, err);
    }
done:
    free(manifest);
    free(findings);
    free(tests);
    return rc;
}

/* ---- publication ---- */

struct pack_row {
    int64_t rid;
    char status[16];
    int64_t published, previous;
    char scope[16], unit_id[ID_MAX];
    json_t *settings;
};

static int load_pack(struct db *d, int64_t tenant, const char *pack_id, struct pack_row *p,
                     struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT rid, status, published_version, previous_version, scope, unit_id, settings "
        "FROM packs WHERE tenant_id=? AND id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pack_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        p->rid = sqlite3_column_int64(st, 0);
        snprintf(p->status, sizeof p->status, "%s", col_text(st, 1));
        p->published = sqlite3_column_int64(st, 2);
        p->previous = sqlite3_column_int64(st, 3);
        snprintf(p->scope, sizeof p->scope, "%s", col_text(st, 4));
        snprintf(p->unit_id, sizeof p->unit_id, "%s", col_text(st, 5));
        p->settings = col_json(st, 6);
    }
    db_reset(st);
    if (rc != SQLITE_ROW)
        return ax_fail(err, AX_ENOTFOUND, "no pack with id '%.60s'", pack_id);
    return 0;
}

static bool setting_fits(const char *type, json_t *v)
{
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "list")) {
        if (!json_is_array(v))
            return false;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            if (!json_is_string(x))
                return false;
        return true;
    }
    return false;
}

/* Check the given values against the manifest's settings; returns the
 * values to store (new reference) or NULL with err. */
static json_t *check_settings(json_t *manifest, json_t *given, json_t *current,
                              struct ax_err *err)
{
    json_t *schema = json_object_get(manifest, "settings");
    json_t *out = json_object();
    const char *k;
    json_t *v;
    if (given && !json_is_object(given)) {
        json_decref(out);
        ax_field(err, "/settings", "settings must be an object of name: value");
        return NULL;
    }
    json_object_foreach(given ? given : current, k, v) {
        json_t *def = json_object_get(schema, k);
        char ptr[96];
        snprintf(ptr, sizeof ptr, "/settings/%.80s", k);
        if (!def) {
            if (given)
                ax_field(err, ptr, "the pack declares no setting '%.60s'", k);
            continue;
        }
        const char *type = json_string_value(json_object_get(def, "type"));
        if (!type || !setting_fits(type, v)) {
            if (given)
                ax_field(err, ptr, "must be a %s", !type ? "value"
                         : !strcmp(type, "list") ? "list of strings" : type);
            continue;
        }
        json_object_set(out, k, v);
    }
    json_object_foreach(schema, k, v) {
        json_t *dflt = json_object_get(v, "default");
        if (json_is_true(json_object_get(v, "required")) && !json_object_get(out, k) &&
            (!dflt || json_is_null(dflt))) {
            char ptr[96];
            snprintf(ptr, sizeof ptr, "/settings/%.80s", k);
            ax_field(err, ptr, "this setting is required");
        }
    }
    if (err->nfields) {
        json_decref(out);
        ax_fail_type(err, AX_EINVALID, "invalid-settings", "the settings do not fit the pack");
        return NULL;
    }
    return out;
}

json_t *packs_settings(struct db *d, int64_t pack_rid, json_t *manifest, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT settings FROM packs WHERE rid=?", err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, pack_rid);
    json_t *values = sqlite3_step(st) == SQLITE_ROW ? col_json(st, 0) : json_object();
    db_reset(st);
    json_t *out = json_object();
    const char *k;
    json_t *def;
    json_object_foreach(json_object_get(manifest, "settings"), k, def) {
        json_t *v = json_object_get(values, k);
        if (!v)
            v = json_object_get(def, "default");
        json_object_set(out, k, v ? v : json_null());
    }
    json_decref(values);
    return out;
}

static int64_t next_schedule(json_t *s, int64_t now_ms)
{
    json_int_t every = json_integer_value(json_object_get(s, "seconds"));
    if (every > 0)
        return now_ms + every * 1000;
    const char *daily = json_string_value(json_object_get(s, "daily"));
    int hh = 0, mm = 0;
    if (daily)
        sscanf(daily, "%d:%d", &hh, &mm);
    int64_t day = 86400000LL, at = (now_ms / day) * day + ((int64_t)hh * 3600 + mm * 60) * 1000;
    return at > now_ms ? at : at + day;
}

static int install_version(struct db *d, int64_t tenant, int64_t pack_rid, int64_t version_rid,
                           json_t *manifest, const char *unit_id, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "DELETE FROM pack_handlers WHERE pack_rid=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, pack_rid);
    sqlite3_step(st);
    db_reset(st);
    if (!(st = db_prep(d, "DELETE FROM pack_schedules WHERE pack_rid=?", err)))
        return -1;
    sqlite3_bind_int64(st, 1, pack_rid);
    sqlite3_step(st);
    db_reset(st);
    if (version_rid == 0)
        return 0;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(manifest, "handlers"), i, h) {
        st = db_prep(d,
            "INSERT INTO pack_handlers(tenant_id, event, phase, ord, pack_rid, version_rid, fn, "
            "unit_id) VALUES(?,?,?,?,?,?,?,?)", err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(h, "event")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json_string_value(json_object_get(h, "phase")), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, json_integer_value(json_object_get(h, "order")));
        sqlite3_bind_int64(st, 5, pack_rid);
        sqlite3_bind_int64(st, 6, version_rid);
        sqlite3_bind_text(st, 7, json_string_value(json_object_get(h, "fn")), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, unit_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        db_reset(st);
        if (rc != SQLITE_DONE)
            return db_fail(d, err, "install handler");
    }
    int64_t now = time_now_ms();
    json_array_foreach(json_object_get(manifest, "schedules"), i, h) {
        st = db_prep(d,
            "INSERT INTO pack_schedules(tenant_id, pack_rid, version_rid, fn, every_s, daily, "
            "next_at) VALUES(?,?,?,?,?,?,?)", err);
        if (!st)
            return -1;
        json_t *secs = json_object_get(h, "seconds");
        sqlite3_bind_int64(st, 1, tenant);
        sqlite3_bind_int64(st, 2, pack_rid);
        sqlite3_bind_int64(st, 3, version_rid);
        sqlite3_bind_text(st, 4, json_string_value(json_object_get(h, "fn")), -1, SQLITE_STATIC);
        if (secs)
            sqlite3_bind_int64(st, 5, json_integer_value(secs));
        else
            sqlite3_bind_null(st, 5);
        sqlite3_bind_text(st, 6, json_string_value(json_object_get(h, "daily")), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, next_schedule(h, now));
        int rc = sqlite3_step(st);
        db_reset(st);
        if (rc != SQLITE_DONE)
            return db_fail(d, err, "install schedule");
    }
    return 0;
}

static int record_publication(struct db *d, const struct ax_ctx *c, int64_t pack_rid,
                              int64_t version_rid, const char *action, const char *scope,
                              const char *unit_id, struct ax_err *err)
{
    char now[TIME_TEXT_MAX];
    now_text(now);
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO pack_publications(tenant_id, pack_rid, version_rid, action, scope, unit_id, "
        "actor, at) VALUES(?,?,?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_int64(st, 2, pack_rid);
    if (version_rid)
        sqlite3_bind_int64(st, 3, version_rid);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, unit_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, c->actor_id[0] ? c->actor_id : c->actor_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "record publication");
}

static const char *version_text(struct db *d, int64_t rid, char out[40])
{
    out[0] = '\0';
    struct ax_err e;
    sqlite3_stmt *st = rid ? db_prep(d, "SELECT version FROM pack_versions WHERE rid=?", &e) : NULL;
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, rid);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, 40, "%s", col_text(st, 0));
    db_reset(st);
    return out[0] ? out : NULL;
}

/* The version that ran last before `now` took over: what a rollback
 * returns to (0 when none did). */
static int64_t last_other_version(struct db *d, int64_t pack_rid, int64_t now)
{
    struct ax_err e;
    sqlite3_stmt *st = db_prep(d,
        "SELECT version_rid FROM pack_publications WHERE pack_rid=? AND version_rid<>? "
        "AND action IN ('publish', 'rollback') ORDER BY rid DESC LIMIT 1", &e);
    if (!st)
        return 0;
    sqlite3_bind_int64(st, 1, pack_rid);
    sqlite3_bind_int64(st, 2, now);
    int64_t rid = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_reset(st);
    return rid;
}

/* Make `v` the running version of pack `p` (publish and rollback). */
static int switch_version(struct db *d, const struct ax_ctx *c, const char *pack_id,
                          struct pack_row *p, const struct pack_version *v, const char *action,
                          const char *scope, const char *unit_id, json_t *settings,
                          struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT blocking, tests_failed FROM pack_versions WHERE rid=?",
                               err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, v->rid);
    int blocking = 0, failed = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        blocking = sqlite3_column_int(st, 0);
        failed = sqlite3_column_int(st, 1);
    }
    db_reset(st);
    if (blocking || failed)
        return ax_fail_type(err, AX_EINVALID, "not-publishable",
                            "version %s cannot be published: %d blocking finding(s) of the "
                            "compliance scan and %d failing test(s); see "
                            "GET /api/v1/packs/%s/versions/%s",
                            v->version, blocking, failed, pack_id, v->version);
    if (!scope)
        scope = json_string_value(json_object_get(v->manifest, "scope"));
    if (!scope)
        scope = "tenant";
    if (strcmp(scope, "tenant") && strcmp(scope, "unit"))
        return ax_fail_type(err, AX_EINVALID, "invalid-scope", "scope must be tenant or unit");
    if (!strcmp(scope, "unit")) {
        if (!unit_id || !*unit_id)
            return ax_fail_type(err, AX_EINVALID, "invalid-scope",
                                "publishing to a unit needs unit_id");
        int found = store_exists(d, c->tenant, model_find("units"), unit_id, err);
        if (found <= 0)
            return found < 0 ? -1 : ax_fail(err, AX_EINVALID, "no unit with id '%.60s'", unit_id);
    } else {
        unit_id = NULL;
    }
    json_t *values = check_settings(v->manifest, settings, p->settings, err);
    if (!values)
        return -1;
    char *stext = jx_dumps(values, JX_SORT_KEYS);
    json_decref(values);
    char now[TIME_TEXT_MAX];
    now_text(now);
    int64_t previous = last_other_version(d, p->rid, v->rid);
    st = stext ? db_prep(d,
        "UPDATE packs SET status='published', published_version=?, previous_version=?, scope=?, "
        "unit_id=?, settings=?, updated_at=? WHERE rid=?", err) : NULL;
    if (!st) {
        free(stext);
        return stext ? -1 : ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    sqlite3_bind_int64(st, 1, v->rid);
    if (previous)
        sqlite3_bind_int64(st, 2, previous);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, unit_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, stext, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, p->rid);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE) {
        free(stext);
        return db_fail(d, err, "publish");
    }
    char was[40];
    const char *before = p->status[0] && !strcmp(p->status, "published")
                             ? version_text(d, p->published, was) : NULL;
    json_t *changes = json_pack("{s:[ss],s:[s?s],s:[s?s],s:[s?s?]}", "status", p->status,
                                "published", "version", before, v->version, "scope",
                                p->scope[0] ? p->scope : NULL, scope, "unit_id",
                                p->unit_id[0] ? p->unit_id : NULL, unit_id);
    json_t *after = json_loads(stext, 0, NULL);
    json_object_set_new(changes, "settings",
                        json_pack("[O,o]", p->settings, after ? after : json_object()));
    free(stext);
    if (install_version(d, c->tenant, p->rid, v->rid, v->manifest, unit_id, err) ||
        record_publication(d, c, p->rid, v->rid, action, scope, unit_id, err) ||
        audit_append(d, c, "packs", pack_id, action, changes, err)) {
        json_decref(changes);
        return -1;
    }
    json_decref(changes);
    return packs_describe(d, c->tenant, pack_id, out, err);
}

int packs_publish(struct db *d, const struct ax_ctx *c, const char *pack_id, const char *version,
                  const char *scope, const char *unit_id, json_t *settings, struct buf *out,
                  struct ax_err *err)
{
    struct pack_row p = {0};
    struct pack_version v = {0};
    int rc = -1;
    if (load_pack(d, c->tenant, pack_id, &p, err) == 0 &&
        packs_version_find(d, c->tenant, pack_id, version, &v, err) == 0)
        rc = switch_version(d, c, pack_id, &p, &v, "publish", scope, unit_id, settings, out, err);
    json_decref(p.settings);
    packs_version_release(&v);
    return rc;
}

int packs_rollback(struct db *d, const struct ax_ctx *c, const char *pack_id,
                   const char *version, struct buf *out, struct ax_err *err)
{
    struct pack_row p = {0};
    struct pack_version v = {0};
    int rc = -1;
    if (load_pack(d, c->tenant, pack_id, &p, err))
        goto done;
    if (version) {
        if (packs_version_find(d, c->tenant, pack_id, version, &v, err))
            goto done;
    } else if (!p.previous) {
        ax_fail_type(err, AX_ECONFLICT, "nothing-to-roll-back",
                     "this pack has no earlier published version to roll back to");
        goto done;
    } else if (packs_version_by_rid(d, p.previous, &v, err)) {
        goto done;
    }
    if (p.published == v.rid && !strcmp(p.status, "published")) {
        ax_fail_type(err, AX_ECONFLICT, "already-published", "version %s is already running",
                     v.version);
        goto done;
    }
    rc = switch_version(d, c, pack_id, &p, &v, "rollback", p.scope[0] ? p.scope : NULL,
                        p.unit_id[0] ? p.unit_id : NULL, NULL, out, err);
done:
    json_decref(p.settings);
    packs_version_release(&v);
    return rc;
}

int packs_disable(struct db *d, const struct ax_ctx *c, const char *pack_id, struct buf *out,
                  struct ax_err *err)
{
    struct pack_row p = {0};
    if (load_pack(d, c->tenant, pack_id, &p, err))
        return -1;
    json_decref(p.settings);
    if (strcmp(p.status, "published"))
        return ax_fail_type(err, AX_ECONFLICT, "not-published", "the pack is not running");
    char now[TIME_TEXT_MAX], was[40];
    now_text(now);
    sqlite3_stmt *st = db_prep(d,
        "UPDATE packs SET status='disabled', published_version=NULL, previous_version=?, "
        "updated_at=? WHERE rid=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, p.published);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, p.rid);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "disable pack");
    json_t *changes = json_pack("{s:[ss],s:[s?n]}", "status", "published", "disabled",
                                "version", version_text(d, p.published, was));
    rc = install_version(d, c->tenant, p.rid, 0, NULL, NULL, err) ||
         record_publication(d, c, p.rid, p.published, "disable", NULL, NULL, err) ||
         audit_append(d, c, "packs", pack_id, "disable", changes, err);
    json_decref(changes);
    return rc ? -1 : packs_describe(d, c->tenant, pack_id, out, err);
}

/* ---- handlers and schedules ---- */

int packs_handlers(struct db *d, int64_t tenant, const char *const *events, int nevents,
                   const char *phase, struct pack_handler *out, int max, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT version_rid, pack_rid, fn, unit_id, event FROM pack_handlers "
        "WHERE tenant_id=?1 AND phase=?2 AND event IN (?3, ?4, ?5) ORDER BY ord, rowid", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, phase, -1, SQLITE_STATIC);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_text(st, 3 + i, i < nevents ? events[i] : NULL, -1, SQLITE_STATIC);
    int n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        out[n].version_rid = sqlite3_column_int64(st, 0);
        out[n].pack_rid = sqlite3_column_int64(st, 1);
        snprintf(out[n].fn, sizeof out[n].fn, "%s", col_text(st, 2));
        snprintf(out[n].unit_id, sizeof out[n].unit_id, "%s", col_text(st, 3));
        snprintf(out[n].event, sizeof out[n].event, "%s", col_text(st, 4));
        n++;
    }
    db_reset(st);
    return n;
}

int packs_due_schedules(struct db *d, int64_t now_ms, struct pack_schedule_due *out, int max,
                        struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT rid, tenant_id, pack_rid, version_rid, fn, next_at FROM pack_schedules "
        "WHERE next_at <= ? ORDER BY next_at LIMIT ?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, max);
    int n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        out[n].rid = sqlite3_column_int64(st, 0);
        out[n].tenant = sqlite3_column_int64(st, 1);
        out[n].pack_rid = sqlite3_column_int64(st, 2);
        out[n].version_rid = sqlite3_column_int64(st, 3);
        snprintf(out[n].fn, sizeof out[n].fn, "%s", col_text(st, 4));
        out[n].next_at = sqlite3_column_int64(st, 5);
        n++;
    }
    db_reset(st);
    return n;
}

int packs_schedule_advance(struct db *d, int64_t rid, int64_t was, int64_t now_ms,
                           struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT every_s, daily FROM pack_schedules WHERE rid=? AND next_at=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, rid);
    sqlite3_bind_int64(st, 2, was);
    json_t *s = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        s = json_object();
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            json_object_set_new(s, "seconds", json_integer(sqlite3_column_int64(st, 0)));
        else
            json_object_set_new(s, "daily", json_string(col_text(st, 1)));
    }
    db_reset(st);
    if (!s)
        return 0;
    int64_t next = next_schedule(s, now_ms);
    json_decref(s);
    if (!(st = db_prep(d, "UPDATE pack_schedules SET next_at=? WHERE rid=?", err)))
        return -1;
    sqlite3_bind_int64(st, 1, next);
    sqlite3_bind_int64(st, 2, rid);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 1 : db_fail(d, err, "advance schedule");
}

/* ---- Lua states ---- */

struct lua_rt *packs_open_state(int64_t tenant, int64_t version_rid,
                                const struct pack_file *files, int nfiles, bool with_tests,
                                lua_rt_install_fn install, void *install_arg,
                                struct ax_err *err)
{
    struct lua_module *mods = calloc((size_t)(nfiles > 0 ? nfiles : 1), sizeof *mods);
    char (*names)[PACK_MAX_PATH + 1] = calloc((size_t)(nfiles > 0 ? nfiles : 1), sizeof *names);
    if (!mods || !names) {
        free(mods);
        free(names);
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    int n = 0;
    for (int i = 0; i < nfiles; i++) {
        const char *p = files[i].path;
        size_t len = strlen(p);
        if (len < 5 || strcmp(p + len - 4, ".lua") || !strcmp(p, "pack.lua") ||
            len - 4 > PACK_MAX_PATH || (!with_tests && !strncmp(p, "tests/", 6)))
            continue;
        memcpy(names[n], p, len - 4);
        names[n][len - 4] = '\0';
        for (char *s = names[n]; *s; s++)
            if (*s == '/')
                *s = '.';
        mods[n].name = names[n];
        mods[n].path = p;
        mods[n].src = files[i].data;
        mods[n].len = files[i].len;
        n++;
    }
    struct lua_rt *rt = lua_rt_open(tenant, version_rid, mods, n, install, install_arg, err);
    free(mods);
    free(names);
    return rt;
}

struct state_load {
    struct db *d;
    const struct pack_version *v;
};

static struct lua_rt *load_state(void *arg, struct ax_err *err)
{
    struct state_load *a = arg;
    struct pack_file *files;
    int n;
    if (packs_version_files(a->d, a->v->rid, &files, &n, err))
        return NULL;
    struct lua_rt *rt = packs_open_state(a->v->tenant, a->v->rid, files, n, false, host_install,
                                         NULL, err);
    packs_files_free(files, n);
    return rt;
}

struct lua_rt *packs_state(struct db *d, const struct pack_version *v, struct ax_err *err)
{
    struct state_load a = {d, v};
    return lua_pool_get(v->tenant, v->rid, load_state, &a, err);
}

/* ---- run log ---- */

struct queued_run {
    int64_t tenant, pack_rid, version_rid;
    char event_id[ID_MAX], delivery_id[ID_MAX], event[48], phase[12], fn[128], outcome[12];
    char started_at[TIME_TEXT_MAX];
    double duration_ms;
    int64_t instructions, memory, host_calls, rows;
    char *error, *traceback, *location, *logs;
};

static struct {
    pthread_mutex_t lock;
    struct queued_run *q;
    int n, cap;
    long long dropped;
} runs = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0};

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

void packs_log_run(const struct pack_run_entry *e)
{
    struct queued_run r = {0};
    r.tenant = e->tenant;
    r.pack_rid = e->pack_rid;
    r.version_rid = e->version_rid;
    snprintf(r.event_id, sizeof r.event_id, "%s", e->event_id);
    snprintf(r.delivery_id, sizeof r.delivery_id, "%s", e->delivery_id);
    snprintf(r.event, sizeof r.event, "%s", e->event);
    snprintf(r.phase, sizeof r.phase, "%s", e->phase);
    snprintf(r.fn, sizeof r.fn, "%s", e->fn);
    snprintf(r.outcome, sizeof r.outcome, "%s", e->outcome);
    const struct lua_run *run = e->run;
    int64_t started = time_now_ms() - (int64_t)run->elapsed_ms;
    time_format_ms(started, r.started_at);
    r.duration_ms = run->elapsed_ms;
    r.instructions = run->instructions;
    r.memory = run->mem_peak;
    r.host_calls = run->host_calls;
    r.rows = run->rows;
    r.error = dup_or_null(run->error);
    r.traceback = dup_or_null(run->traceback);
    r.location = dup_or_null(run->where);
    r.logs = e->logs && json_array_size(e->logs) ? jx_dumps(e->logs, 0) : NULL;
    pthread_mutex_lock(&runs.lock);
    if (runs.n == runs.cap && runs.cap < RUN_QUEUE_MAX) {
        int cap = runs.cap ? runs.cap * 2 : 256;
        struct queued_run *grown = realloc(runs.q, (size_t)cap * sizeof *grown);
        if (grown) {
            runs.q = grown;
            runs.cap = cap;
        }
    }
    if (runs.n < runs.cap) {
        runs.q[runs.n++] = r;
        r.error = r.traceback = r.location = r.logs = NULL;
    } else {
        runs.dropped++;
    }
    pthread_mutex_unlock(&runs.lock);
    free(r.error);
    free(r.traceback);
    free(r.location);
    free(r.logs);
}

bool packs_runs_pending(void)
{
    pthread_mutex_lock(&runs.lock);
    bool any = runs.n > 0;
    pthread_mutex_unlock(&runs.lock);
    return any;
}

static void free_queued(struct queued_run *q, int n)
{
    for (int i = 0; i < n; i++) {
        free(q[i].error);
        free(q[i].traceback);
        free(q[i].location);
        free(q[i].logs);
    }
    free(q);
}

static int prune_runs(struct db *d, int64_t pack_rid, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "DELETE FROM pack_runs WHERE pack_rid=?1 AND rid < (SELECT rid FROM pack_runs "
        "WHERE pack_rid=?1 ORDER BY rid DESC LIMIT 1 OFFSET ?2)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, pack_rid);
    sqlite3_bind_int(st, 2, RUNS_KEPT_PER_PACK);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "prune run log");
}

int packs_flush_runs(struct db *d, struct ax_err *err)
{
    pthread_mutex_lock(&runs.lock);
    struct queued_run *q = runs.q;
    int n = runs.n;
    long long dropped = runs.dropped;
    runs.q = NULL;
    runs.n = runs.cap = 0;
    runs.dropped = 0;
    pthread_mutex_unlock(&runs.lock);
    if (dropped)
        log_warn("run log: %lld entries dropped (queue full)", dropped);
    int rc = 0;
    int64_t last_pack = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        struct queued_run *r = &q[i];
        sqlite3_stmt *st = db_prep(d,
            "INSERT INTO pack_runs(tenant_id, pack_rid, version_rid, event_id, delivery_id, event, "
            "phase, fn, started_at, duration_ms, instructions, memory, host_calls, rows, outcome, "
            "error, traceback, location, logs) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", err);
        if (!st) {
            rc = -1;
            break;
        }
        sqlite3_bind_int64(st, 1, r->tenant);
        sqlite3_bind_int64(st, 2, r->pack_rid);
        sqlite3_bind_int64(st, 3, r->version_rid);
        sqlite3_bind_text(st, 4, r->event_id[0] ? r->event_id : NULL, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->delivery_id[0] ? r->delivery_id : NULL, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, r->event, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, r->phase, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, r->fn, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, r->started_at, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 10, r->duration_ms);
        sqlite3_bind_int64(st, 11, r->instructions);
        sqlite3_bind_int64(st, 12, r->memory);
        sqlite3_bind_int64(st, 13, r->host_calls);
        sqlite3_bind_int64(st, 14, r->rows);
        sqlite3_bind_text(st, 15, r->outcome, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 16, r->error, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 17, r->traceback, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 18, r->location, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 19, r->logs, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(d, err, "write run log");
        db_reset(st);
        if (rc == 0 && r->pack_rid != last_pack && (i % 500 == 0 || i == n - 1 ||
                                                    q[i + 1].pack_rid != r->pack_rid))
            rc = prune_runs(d, r->pack_rid, err);
        last_pack = r->pack_rid;
    }
    free_queued(q, n);
    return rc;
}

int packs_runs(struct db *d, int64_t tenant, const char *pack_id, const char *outcome,
               int limit, int64_t before, struct buf *out, struct ax_err *err)
{
    struct pack_row p = {0};
    if (load_pack(d, tenant, pack_id, &p, err))
        return -1;
    json_decref(p.settings);
    sqlite3_stmt *st = db_prep(d,
        "SELECT r.rid, r.event_id, r.delivery_id, r.event, r.phase, r.fn, r.started_at, "
        "r.duration_ms, r.instructions, r.memory, r.host_calls, r.rows, r.outcome, r.error, "
        "r.traceback, r.location, r.logs, v.version FROM pack_runs r "
        "JOIN pack_versions v ON v.rid = r.version_rid "
        "WHERE r.pack_rid=?1 AND (?2 IS NULL OR r.outcome=?2) AND (?3 = 0 OR r.rid < ?3) "
        "ORDER BY r.rid DESC LIMIT ?4", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, p.rid);
    sqlite3_bind_text(st, 2, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, before);
    sqlite3_bind_int(st, 4, limit + 1);
    json_t *data = json_array();
    int64_t last = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int)json_array_size(data) == limit) {
            more = true;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        json_t *row = json_pack("{s:I,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:s}",
            "seq", last, "event_id", col_str_or_null(st, 1), "delivery_id",
            col_str_or_null(st, 2), "event", col_text(st, 3), "phase", col_text(st, 4), "fn",
            col_text(st, 5), "version", col_text(st, 17), "started_at", col_text(st, 6),
            "duration_ms", sqlite3_column_double(st, 7), "instructions",
            sqlite3_column_int64(st, 8), "memory", sqlite3_column_int64(st, 9), "host_calls",
            sqlite3_column_int64(st, 10), "rows", sqlite3_column_int64(st, 11), "outcome",
            col_text(st, 12));
        json_object_set_new(row, "error", col_str_or_null(st, 13));
        json_object_set_new(row, "traceback", col_str_or_null(st, 14));
        json_object_set_new(row, "location", col_str_or_null(st, 15));
        json_t *logs = col_json(st, 16);
        json_object_set_new(row, "logs", json_is_array(logs) ? logs : json_array());
        if (!json_is_array(logs))
            json_decref(logs);
        json_array_append_new(data, row);
    }
    db_reset(st);
    return jx_page(out, data, more, (long long)last, err);
}
