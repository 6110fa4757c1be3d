/* objects.c - rules particular to each object type (see objects.h). */
#include "axon/objects.h"

#include "axon/store.h"
#include "axon/sugg.h"
#include "axon/tags.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is(const struct object_def *def, const char *name)
{
    return strcmp(def->name, name) == 0;
}

static const char *str(json_t *rec, const char *k)
{
    return json_string_value(json_object_get(rec, k));
}

static bool changed(json_t *old, json_t *rec, const char *k)
{
    if (!old)
        return true;
    json_t *a = json_object_get(old, k), *b = json_object_get(rec, k);
    if (!a)
        a = json_null();
    if (!b)
        b = json_null();
    return !json_equal(a, b);
}

static bool is_null(json_t *rec, const char *k)
{
    json_t *v = json_object_get(rec, k);
    return !v || json_is_null(v);
}

static void now_text(char out[TIME_TEXT_MAX]) { time_format_ms(time_now_ms(), out); }

/* ---- owner and unit ---- */

/* Owners' primary units, remembered for the transaction (forgotten with
 * the pipeline cache, and when a user is written). */
static __thread json_t *owner_units;

static int owner_unit(struct db *d, int64_t tenant, const char *owner, char unit[ID_MAX],
                      struct ax_err *err)
{
    json_t *known = owner_units ? json_object_get(owner_units, owner) : NULL;
    if (known) {
        snprintf(unit, ID_MAX, "%s", json_string_value(known));
        return 0;
    }
    sqlite3_stmt *st = db_prep(d,
        "SELECT json_extract(unit_ids,'$[0]') FROM users WHERE tenant_id=? AND id=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    unit[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        snprintf(unit, ID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
    db_reset(st);
    if (!sqlite3_get_autocommit(db_handle(d))) {
        if (!owner_units)
            owner_units = json_object();
        json_object_set_new(owner_units, owner, json_string(unit));
    }
    return 0;
}

static int default_owner_unit(struct db *d, const struct ax_ctx *c,
                              const struct object_def *def, json_t *old, json_t *rec,
                              struct ax_err *err)
{
    bool has_owner = model_field(def, "owner_id") != NULL;
    bool has_unit = model_field(def, "unit_id") != NULL;
    if (!old && has_owner && is_null(rec, "owner_id") && c->user_id[0])
        json_object_set_new(rec, "owner_id", json_string(c->user_id));
    if (!old && has_unit && is_null(rec, "unit_id") && has_owner && !is_null(rec, "owner_id")) {
        char unit[ID_MAX];
        if (owner_unit(d, c->tenant, str(rec, "owner_id"), unit, err))
            return -1;
        if (unit[0])
            json_object_set_new(rec, "unit_id", json_string(unit));
    }
    return 0;
}

/* ---- pipelines and deal stages ---- */

/* A tenant's pipelines, cached for the rest of the transaction: an import
 * writes hundreds of deals per transaction, each needing its pipeline's
 * stages. Forgotten when a transaction begins, when a savepoint rolls
 * back, and when a pipeline is written (db_txn_hooks). */
#define PIPELINE_CACHE 8
static __thread struct {
    int64_t tenant;
    char default_id[ID_MAX];
    int n;
    struct {
        char id[ID_MAX];
        json_t *stages;
        json_t *memo;   /* stage as given -> index, for "Won" vs "won" */
    } p[PIPELINE_CACHE];
} pcache;

static void forget_pipelines(size_t mark)
{
    (void)mark;
    json_decref(owner_units);
    owner_units = NULL;
    for (int i = 0; i < pcache.n; i++) {
        json_decref(pcache.p[i].stages);
        json_decref(pcache.p[i].memo);
    }
    pcache.n = 0;
    pcache.tenant = 0;
    pcache.default_id[0] = '\0';
}

static const struct db_txn_hooks pipeline_hooks = {.undo = forget_pipelines};

void obj_init(void) { db_add_txn_hooks(&pipeline_hooks); }

static int cached_pipeline(int64_t tenant, const char *id)
{
    if (pcache.tenant != tenant)
        return -1;
    for (int i = 0; i < pcache.n; i++)
        if (strcmp(pcache.p[i].id, id) == 0)
            return i;
    return -1;
}

/* The pipeline's stages (a borrowed reference valid for the transaction)
 * and its cache slot; NULL and a field error if there is no such pipeline. */
static json_t *pipeline_stages(struct db *d, int64_t tenant, const char *pipeline_id,
                               int *slot, struct ax_err *err)
{
    int i = cached_pipeline(tenant, pipeline_id);
    if (i >= 0) {
        *slot = i;
        return pcache.p[i].stages;
    }
    sqlite3_stmt *st = db_prep(d, "SELECT stages FROM pipelines WHERE tenant_id=? AND id=?", err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pipeline_id, -1, SQLITE_STATIC);
    json_t *stages = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        stages = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    db_reset(st);
    if (!stages) {
        ax_field(err, "/pipeline_id", "no pipeline with id '%.60s'", pipeline_id);
        return NULL;
    }
    if (pcache.tenant != tenant || pcache.n == PIPELINE_CACHE) {
        char keep[ID_MAX];
        snprintf(keep, sizeof keep, "%s", pcache.tenant == tenant ? pcache.default_id : "");
        forget_pipelines(0);
        snprintf(pcache.default_id, sizeof pcache.default_id, "%s", keep);
        pcache.tenant = tenant;
    }
    i = pcache.n++;
    snprintf(pcache.p[i].id, sizeof pcache.p[i].id, "%s", pipeline_id);
    pcache.p[i].stages = stages;
    pcache.p[i].memo = json_object();
    *slot = i;
    return stages;
}

static int default_pipeline(struct db *d, int64_t tenant, char id[ID_MAX], struct ax_err *err)
{
    if (pcache.tenant == tenant && pcache.default_id[0]) {
        snprintf(id, ID_MAX, "%s", pcache.default_id);
        return 0;
    }
    sqlite3_stmt *st = db_prep(d,
        "SELECT id FROM pipelines WHERE tenant_id=? ORDER BY is_default DESC, rid LIMIT 1", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    id[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(id, ID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
    db_reset(st);
    if (!id[0])
        return ax_fail(err, AX_EINVALID, "the tenant has no pipeline; create one first");
    if (pcache.tenant != tenant)
        forget_pipelines(0);
    pcache.tenant = tenant;
    snprintf(pcache.default_id, sizeof pcache.default_id, "%s", id);
    return 0;
}

/* Find a stage by key, or by label/key ignoring case and punctuation
 * ("Won", "won", "WON"); returns its index or -1. */
static int find_stage(json_t *stages, const char *want)
{
    size_t i;
    json_t *s;
    json_array_foreach(stages, i, s)
        if (strcmp(str(s, "key"), want) == 0)
            return (int)i;
    char *wk = text_key(want, strlen(want));
    int found = -1;
    json_array_foreach(stages, i, s) {
        const char *names[2] = {str(s, "key"), str(s, "label")};
        for (int k = 0; k < 2 && found < 0 && wk; k++) {
            if (!names[k])
                continue;
            char *nk = text_key(names[k], strlen(names[k]));
            if (nk && strcmp(nk, wk) == 0)
                found = (int)i;
            free(nk);
        }
    }
    free(wk);
    return found;
}

static int prepare_deal(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                        struct ax_err *err)
{
    char pid[ID_MAX];
    if (is_null(rec, "pipeline_id")) {
        if (default_pipeline(d, c->tenant, pid, err))
            return -1;
        json_object_set_new(rec, "pipeline_id", json_string(pid));
    }
    int slot;
    json_t *stages = pipeline_stages(d, c->tenant, str(rec, "pipeline_id"), &slot, err);
    if (!stages)
        return -1;
    int idx;
    if (is_null(rec, "stage")) {
        idx = 0;
    } else {
        json_t *memo = pcache.p[slot].memo;
        json_t *known = json_object_get(memo, str(rec, "stage"));
        idx = known ? (int)json_integer_value(known) : find_stage(stages, str(rec, "stage"));
        if (!known && idx >= 0 && json_object_size(memo) < 64)
            json_object_set_new(memo, str(rec, "stage"), json_integer(idx));
        if (idx < 0) {
            struct buf keys;
            buf_init(&keys, 1024);
            size_t i;
            json_t *s;
            json_array_foreach(stages, i, s)
                buf_addf(&keys, "%s%s", i ? ", " : "", str(s, "key"));
            ax_field(err, "/stage", "not a stage of this pipeline (stages: %s)",
                     keys.data ? keys.data : "");
            buf_free(&keys);
            return -1;
        }
    }
    json_t *stage = json_array_get(stages, (size_t)idx);
    json_object_set_new(rec, "stage", json_string(str(stage, "key")));
    const char *outcome = str(stage, "outcome");
    bool closed = outcome && strcmp(outcome, "open") != 0;
    if (changed(old, rec, "stage") || changed(old, rec, "pipeline_id")) {
        char now[TIME_TEXT_MAX], today[TIME_TEXT_MAX];
        now_text(now);
        memcpy(today, now, 10);
        today[10] = '\0';
        if (idx > 0 && is_null(rec, "engage_date"))
            json_object_set_new(rec, "engage_date", json_string(today));
        if (closed && is_null(rec, "close_date"))
            json_object_set_new(rec, "close_date", json_string(today));
        /* Reopened: the old close date no longer says when it was decided. */
        if (!closed && old && !changed(old, rec, "close_date"))
            json_object_set_new(rec, "close_date", json_null());
        /* An imported record carries its real dates: date the change by them. */
        const char *when = NULL;
        if (!old)
            when = closed ? str(rec, "close_date") : idx > 0 ? str(rec, "engage_date") : NULL;
        if (when && strcmp(when, today) != 0) {
            char t[TIME_TEXT_MAX];
            snprintf(t, sizeof t, "%.10sT00:00:00.000Z", when);
            json_object_set_new(rec, "stage_changed_at", json_string(t));
        } else {
            json_object_set_new(rec, "stage_changed_at", json_string(now));
        }
    }
    return 0;
}

static int record_stage_change(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                               struct ax_err *err)
{
    if (old && !changed(old, rec, "stage"))
        return 0;
    sqlite3_stmt *st = db_prep(d,
        "INSERT INTO deal_stage_changes(tenant_id,deal_id,from_stage,to_stage,at,actor) "
        "VALUES(?,?,?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, str(rec, "id"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, old ? str(old, "stage") : NULL, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, str(rec, "stage"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, str(rec, "stage_changed_at"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->actor_id[0] ? c->actor_id : NULL, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(d, err, "stage history");
}

static bool ident_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static int deals_in_stage(struct db *d, int64_t tenant, const char *pipeline,
                          const char *stage, int64_t *n, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT count(*) FROM deals WHERE tenant_id=? AND pipeline_id=? AND stage=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, pipeline, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, stage, -1, SQLITE_STATIC);
    *n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_reset(st);
    return 0;
}

static bool has_stage_key(json_t *stages, const char *key)
{
    size_t i;
    json_t *s;
    json_array_foreach(stages, i, s)
        if (strcmp(str(s, "key"), key) == 0)
            return true;
    return false;
}

static int check_stages(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                        struct ax_err *err)
{
    json_t *stages = json_object_get(rec, "stages");
    if (!json_is_array(stages) || json_array_size(stages) < 1 || json_array_size(stages) > 30) {
        ax_field(err, "/stages", "must be an array of 1 to 30 stages");
        return -1;
    }
    json_t *clean = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(stages, i, s) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/stages/%zu", i);
        const char *key = str(s, "key"), *label = str(s, "label"), *outcome = str(s, "outcome");
        json_t *prob = json_object_get(s, "probability");
        if (!json_is_object(s) || !key || !ident_ok(key, 40)) {
            ax_field(err, ptr, "needs a key of lower-case letters, digits and _ (max 40)");
            continue;
        }
        const char *k;
        json_t *v;
        json_object_foreach(s, k, v)
            if (strcmp(k, "key") && strcmp(k, "label") && strcmp(k, "outcome") &&
                strcmp(k, "probability"))
                ax_field(err, ptr, "unknown member '%.40s'", k);
        if ((json_object_get(s, "label") && !label) || (label && strlen(label) > 100))
            ax_field(err, ptr, "label must be a string of at most 100 bytes");
        if (outcome && strcmp(outcome, "open") && strcmp(outcome, "won") && strcmp(outcome, "lost"))
            ax_field(err, ptr, "outcome must be open, won or lost");
        if (prob && !json_is_null(prob) &&
            (!json_is_number(prob) || json_number_value(prob) < 0 || json_number_value(prob) > 100))
            ax_field(err, ptr, "probability must be a number from 0 to 100");
        if (has_stage_key(clean, key))
            ax_field(err, ptr, "duplicate key '%s'", key);
        json_array_append_new(clean, json_pack("{s:s,s:s,s:s,s:O}", "key", key, "label",
                                               label ? label : key, "outcome",
                                               outcome ? outcome : "open", "probability",
                                               prob ? prob : json_null()));
    }
    if (err && err->code != AX_OK) {
        json_decref(clean);
        return -1;
    }
    json_object_set_new(rec, "stages", clean);
    if (!old)
        return 0;
    /* Stages that deals still use cannot disappear. */
    json_array_foreach(json_object_get(old, "stages"), i, s) {
        const char *key = str(s, "key");
        int64_t n = 0;
        if (!key || has_stage_key(clean, key))
            continue;
        if (deals_in_stage(d, c->tenant, str(old, "id"), key, &n, err))
            return -1;
        if (n > 0)
            return ax_fail_type(err, AX_ECONFLICT, "in-use",
                                "stage '%s' still has %lld deals; move them first", key,
                                (long long)n);
    }
    return 0;
}

/* ---- custom fields ---- */

static const char *const attr_types[] = {"text", "number", "date", "bool", "enum", NULL};
static const enum ftype attr_ftypes[] = {FT_TEXT, FT_NUM, FT_DATE, FT_BOOL, FT_ENUM};

static int attr_ftype(const char *type)
{
    for (int i = 0; attr_types[i]; i++)
        if (strcmp(type, attr_types[i]) == 0)
            return (int)attr_ftypes[i];
    return -1;
}

static int check_field_def(json_t *old, json_t *rec, struct ax_err *err)
{
    (void)old;
    const char *name = str(rec, "name");
    if (name && !ident_ok(name, 64))
        ax_field(err, "/name", "use lower-case letters, digits and _; start with a letter");
    json_t *opts = json_object_get(rec, "options");
    bool is_enum = str(rec, "type") && strcmp(str(rec, "type"), "enum") == 0;
    if (is_enum) {
        if (!json_is_array(opts) || json_array_size(opts) == 0 || json_array_size(opts) > 200) {
            ax_field(err, "/options", "an enum field needs 1 to 200 options");
        } else {
            size_t i;
            json_t *o;
            json_array_foreach(opts, i, o)
                if (!json_is_string(o) || json_string_length(o) == 0 ||
                    json_string_length(o) > 100) {
                    ax_field(err, "/options", "options must be non-empty strings (max 100)");
                    break;
                }
        }
    } else if (opts && !json_is_null(opts)) {
        ax_field(err, "/options", "only enum fields have options");
    }
    return err && err->code != AX_OK ? -1 : 0;
}

int obj_attr_type(struct db *d, int64_t tenant, const char *object, const char *name,
                  enum ftype *type, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT type FROM custom_fields WHERE tenant_id=? AND object=? AND name=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        int t = attr_ftype((const char *)sqlite3_column_text(st, 0));
        if (t >= 0) {
            *type = (enum ftype)t;
            found = 1;
        }
    }
    db_reset(st);
    return found;
}

int obj_check_attrs(struct db *d, int64_t tenant, const char *object, json_t *attrs,
                    bool is_create, struct ax_err *err)
{
    (void)is_create;
    if (!json_is_object(attrs))
        return 0;
    sqlite3_stmt *st = db_prep(d,
        "SELECT name, type, options, required FROM custom_fields WHERE tenant_id=? AND object=?",
        err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, object, -1, SQLITE_STATIC);
    json_t *seen = json_object();
    char ptr[96];
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        snprintf(ptr, sizeof ptr, "/attrs/%s", name);
        json_object_set_new(seen, name, json_true());
        json_t *v = json_object_get(attrs, name);
        if (!v || json_is_null(v)) {
            if (sqlite3_column_int(st, 3))
                ax_field(err, ptr, "is a required custom field");
            continue;
        }
        struct field_def f = {name, (enum ftype)attr_ftype(type), 0, 1000, NULL, NULL, NULL, 0, NULL};
        if (f.type == FT_ENUM) {
            json_t *opts = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
            bool ok = false;
            size_t i;
            json_t *o;
            json_array_foreach(opts, i, o)
                if (json_is_string(v) && strcmp(json_string_value(o), json_string_value(v)) == 0)
                    ok = true;
            json_decref(opts);
            if (!ok)
                ax_field(err, ptr, "not one of the field's options");
            continue;
        }
        json_t *c = model_coerce(&f, v, ptr, 0, err);
        if (c)
            json_object_set_new(attrs, name, c);
    }
    db_reset(st);
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v)
        if (!json_object_get(seen, k)) {
            snprintf(ptr, sizeof ptr, "/attrs/%.80s", k);
            ax_field(err, ptr, "unknown custom field (declare it in /api/v1/fields)");
        }
    json_decref(seen);
    return err && err->code != AX_OK ? -1 : 0;
}

/* ---- users ---- */

static int other_admins(struct db *d, int64_t tenant, const char *id, int64_t *n,
                        struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d,
        "SELECT count(*) FROM users WHERE tenant_id=? AND role='admin' AND active=1 AND id<>?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    *n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_reset(st);
    return 0;
}

static int check_last_admin(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                            struct ax_err *err)
{
    bool was_admin = old && str(old, "role") && !strcmp(str(old, "role"), "admin") &&
                     json_is_true(json_object_get(old, "active"));
    bool still = rec && str(rec, "role") && !strcmp(str(rec, "role"), "admin") &&
                 json_is_true(json_object_get(rec, "active"));
    if (!was_admin || still)
        return 0;
    int64_t n;
    if (other_admins(d, c->tenant, str(old, "id"), &n, err))
        return -1;
    if (n == 0)
        return ax_fail_type(err, AX_ECONFLICT, "last-admin",
                            "this is the tenant's last active admin");
    return 0;
}

/* Sign-in finds a user by e-mail ignoring case, so two users of a tenant
 * may not have e-mails that differ only in case. */
static int check_user_email(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                            struct ax_err *err)
{
    const char *email = str(rec, "email");
    if (!email || !changed(old, rec, "email"))
        return 0;
    sqlite3_stmt *st = db_prep(d,
        "SELECT count(*) FROM users WHERE tenant_id=? AND email=? COLLATE NOCASE AND id<>?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, old ? str(old, "id") : "", -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    db_reset(st);
    if (n > 0) {
        ax_fail_type(err, AX_ECONFLICT, "duplicate", "another user already has this email");
        err->nfields = 1;
        snprintf(err->fields[0].pointer, sizeof err->fields[0].pointer, "/email");
        snprintf(err->fields[0].detail, sizeof err->fields[0].detail, "already in use");
        return -1;
    }
    return 0;
}

/* ---- entry points ---- */

/* ---- suggestions and approvals ---- */

#define EVIDENCE_MAX 50

static int check_suggestion(json_t *rec, struct ax_err *err)
{
    json_t *ev = json_object_get(rec, "evidence");
    if (json_is_null(ev) || !ev)
        return 0;
    if (!json_is_array(ev) || json_array_size(ev) > EVIDENCE_MAX) {
        ax_field(err, "/evidence", "evidence is a list of at most %d signals", EVIDENCE_MAX);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ev, i, v)
        if (!json_is_object(v)) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "/evidence/%zu", i);
            ax_field(err, ptr, "a signal is an object such as {\"kind\":\"intent\",\"text\":…}");
            return -1;
        }
    return 0;
}

/* An approval names a record of the tenant; once decided it is final, and
 * the decision records who and when. */
static int prepare_approval(struct db *d, const struct ax_ctx *c, json_t *old, json_t *rec,
                            struct ax_err *err)
{
    const char *type = str(rec, "object_type"), *id = str(rec, "object_id");
    if (!old && (type || id)) {
        const struct object_def *def = type ? model_find(type) : NULL;
        int found = def && id ? store_exists(d, c->tenant, def, id, err) : 0;
        if (found < 0)
            return -1;
        if (!found) {
            ax_field(err, "/object_id", "no %s with this id", def ? def->singular : "record");
            return -1;
        }
    }
    json_t *req = json_object_get(rec, "request");
    if (req && !json_is_null(req) && !json_is_object(req)) {
        ax_field(err, "/request", "the request is an object of field: value");
        return -1;
    }
    const char *was = old ? str(old, "status") : NULL, *now = str(rec, "status");
    if (old && was && strcmp(was, "pending") && changed(old, rec, "status"))
        return ax_fail_type(err, AX_ECONFLICT, "decided", "this approval was %s already", was);
    if (now && strcmp(now, "pending") && (!old || changed(old, rec, "status"))) {
        char at[TIME_TEXT_MAX];
        now_text(at);
        json_object_set_new(rec, "decided_at", json_string(at));
        json_object_set_new(rec, "decided_by",
                            c->user_id[0] ? json_string(c->user_id) : json_null());
    }
    return 0;
}

int obj_prepare(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                json_t *old, json_t *rec, struct ax_err *err)
{
    if (default_owner_unit(d, c, def, old, rec, err))
        return -1;
    char now[TIME_TEXT_MAX];
    if (is(def, "deals"))
        return prepare_deal(d, c, old, rec, err);
    if (is(def, "tickets")) {
        now_text(now);
        if (is_null(rec, "opened_at"))
            json_object_set_new(rec, "opened_at", json_string(now));
        const char *status = str(rec, "status");
        bool done = status && (!strcmp(status, "resolved") || !strcmp(status, "closed"));
        if (done && is_null(rec, "resolved_at") && changed(old, rec, "status"))
            json_object_set_new(rec, "resolved_at", json_string(now));
        /* Reopened: it is not resolved any more. */
        if (!done && old && changed(old, rec, "status") && !changed(old, rec, "resolved_at"))
            json_object_set_new(rec, "resolved_at", json_null());
        return 0;
    }
    if (is(def, "activities")) {
        if (is_null(rec, "occurred_at")) {
            now_text(now);
            json_object_set_new(rec, "occurred_at", json_string(now));
        }
        return 0;
    }
    if (is(def, "pipelines"))
        return changed(old, rec, "stages") ? check_stages(d, c, old, rec, err) : 0;
    if (is(def, "fields"))
        return check_field_def(old, rec, err);
    if (is(def, "users"))
        return check_user_email(d, c, old, rec, err) || check_last_admin(d, c, old, rec, err) ? -1 : 0;
    if (is(def, "suggestions"))
        return check_suggestion(rec, err) || sugg_prepare(d, c, old, rec, err) ? -1 : 0;
    if (is(def, "approvals"))
        return prepare_approval(d, c, old, rec, err);
    return 0;
}

int obj_after_write(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                    json_t *old, json_t *rec, struct ax_err *err)
{
    if (tags_on_write(d, c, def, old, rec, err))      /* activities and tickets */
        return -1;
    if (is(def, "pipelines") || is(def, "users"))
        forget_pipelines(0);
    if (is(def, "deals"))
        return record_stage_change(d, c, old, rec, err);
    if (is(def, "pipelines") && json_is_true(json_object_get(rec, "is_default")) &&
        changed(old, rec, "is_default")) {
        /* One default per tenant: clear the flag on the others (audited). */
        sqlite3_stmt *st = db_prep(d,
            "SELECT id FROM pipelines WHERE tenant_id=? AND is_default=1 AND id<>?", err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, c->tenant);
        sqlite3_bind_text(st, 2, str(rec, "id"), -1, SQLITE_STATIC);
        json_t *ids = json_array();
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
        db_reset(st);
        size_t i;
        json_t *id;
        int rc = 0;
        json_t *patch = json_pack("{s:b}", "is_default", 0);
        json_array_foreach(ids, i, id) {
            struct store_result r;
            rc = store_update(d, c, def, json_string_value(id), patch, -1, &r, err);
            store_result_free(&r);
            if (rc)
                break;
        }
        json_decref(patch);
        json_decref(ids);
        return rc;
    }
    return 0;
}

int obj_before_delete(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                      json_t *old, struct ax_err *err)
{
    if (tags_on_delete(d, c, def, old, err))
        return -1;
    if (is(def, "pipelines"))
        forget_pipelines(0);
    if (is(def, "users"))
        return check_last_admin(d, c, old, NULL, err);
    if (is(def, "pipelines") && json_is_true(json_object_get(old, "is_default")))
        return ax_fail_type(err, AX_ECONFLICT, "in-use",
                            "the default pipeline cannot be deleted; make another default first");
    if (is(def, "fields")) {
        char sql[300];
        const struct object_def *target = model_find(str(old, "object"));
        if (!target)
            return 0;
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM %s WHERE tenant_id=? AND json_extract(attrs, '$.\"%s\"') IS NOT NULL",
                 target->table, str(old, "name"));
        sqlite3_stmt *st = db_prep(d, sql, err);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, c->tenant);
        int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        db_reset(st);
        if (n > 0)
            return ax_fail_type(err, AX_ECONFLICT, "in-use",
                                "%lld %s still have a value in this field; clear them first",
                                (long long)n, target->name);
    }
    return 0;
}

int obj_default_pipeline(struct db *d, const struct ax_ctx *c, struct ax_err *err)
{
    json_t *in = json_pack(
        "{s:s,s:b,s:[{s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:i}]}",
        "name", "Sales pipeline", "is_default", 1, "stages",
        "key", "prospecting", "label", "Prospecting", "outcome", "open", "probability", 10,
        "key", "engaging", "label", "Engaging", "outcome", "open", "probability", 40,
        "key", "won", "label", "Won", "outcome", "won", "probability", 100,
        "key", "lost", "label", "Lost", "outcome", "lost", "probability", 0);
    struct store_result r;
    int rc = store_create(d, c, model_find("pipelines"), in, &r, err);
    store_result_free(&r);
    json_decref(in);
    return rc;
}
