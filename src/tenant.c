/* tenant.c - creating and finding tenants. */
#include "axon/tenant.h"

#include "axon/audit.h"
#include "axon/jx.h"
#include "axon/model.h"
#include "axon/objects.h"
#include "axon/store.h"
#include "axon/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int make_slug(const char *name, const char *given, char out[64], struct ax_err *err)
{
    const char *src = given && *given ? given : name;
    size_t n = 0;
    bool dash = false;
    for (const char *p = src; *p && n < 40; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isalnum(ch)) {
            if (dash && n)
                out[n++] = '-';
            out[n++] = (char)tolower(ch);
            dash = false;
        } else {
            dash = true;
        }
    }
    out[n] = '\0';
    if (given && *given && strcmp(out, given) != 0)
        return ax_fail(err, AX_EINVALID, "a slug is lower-case letters, digits and '-'");
    if (n == 0)
        return ax_fail(err, AX_EINVALID,
                       "cannot derive a slug from '%.60s'; give one with --slug", name);
    return 0;
}

int tenant_find(struct db *d, const char *key, struct ax_ctx *c, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT rid, id FROM tenants WHERE slug=?1 OR id=?1", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        memset(c, 0, sizeof *c);
        c->tenant = sqlite3_column_int64(st, 0);
        snprintf(c->tenant_id, sizeof c->tenant_id, "%s", sqlite3_column_text(st, 1));
        c->role = ROLE_ADMIN;
        c->actor_type = "cli";
        c->source = "cli";
        c->trigger = "cli";
        found = 1;
    }
    db_reset(st);
    return found;
}

int tenant_create_empty(struct db *d, const char *name, const char *slug_in, char slug[64],
                        struct ax_ctx *c, struct ax_err *err)
{
    if (!name || !*name || strlen(name) > 200)
        return ax_fail(err, AX_EINVALID, "a tenant needs a name of 1 to 200 bytes");
    if (make_slug(name, slug_in, slug, err))
        return -1;
    if (tenant_find(d, slug, c, err) != 0)
        return err && err->code ? -1
                                : ax_fail(err, AX_ECONFLICT, "a tenant '%s' exists already", slug);
    char now[TIME_TEXT_MAX], id[ID_MAX];
    time_format_ms(time_now_ms(), now);
    id_new("ten", id);
    sqlite3_stmt *st = db_prep(d, "INSERT INTO tenants(id,slug,name,created_at) VALUES(?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, slug, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "tenant");
    if (tenant_find(d, slug, c, err) != 1)
        return -1;
    json_t *changes = json_pack("{s:[ns],s:[ns]}", "name", name, "slug", slug);
    rc = audit_append(d, c, "tenants", id, "create", changes, err);
    json_decref(changes);
    return rc || obj_default_pipeline(d, c, err) ? -1 : 0;
}

int tenant_create(struct db *d, const char *name, const char *slug_in, const char *admin_email,
                  const char *admin_password, struct tenant_admin *out, struct ax_err *err)
{
    memset(out, 0, sizeof *out);
    struct ax_ctx c;
    if (tenant_create_empty(d, name, slug_in, out->slug, &c, err))
        return -1;
    snprintf(out->tenant_id, sizeof out->tenant_id, "%s", c.tenant_id);
    int rc;

    /* The first admin. */
    if (admin_email && *admin_email)
        snprintf(out->email, sizeof out->email, "%s", admin_email);
    else
        snprintf(out->email, sizeof out->email, "admin@%s.example", out->slug);
    json_t *user = json_pack("{s:s,s:s,s:s}", "name", "Administrator", "email", out->email,
                             "role", "admin");
    struct ax_err verr;
    ax_err_clear(&verr);
    json_t *checked = model_check_input(model_find("users"), user, true, &verr);
    json_decref(user);
    if (!checked) {
        if (err)
            *err = verr;
        return -1;
    }
    struct store_result r;
    rc = store_create(d, &c, model_find("users"), checked, &r, err);
    json_decref(checked);
    if (rc)
        return -1;
    snprintf(out->user_id, sizeof out->user_id, "%s", r.id);
    store_result_free(&r);
    if (admin_password && *admin_password)
        snprintf(out->password, sizeof out->password, "%s", admin_password);
    else
        id_token(out->password, sizeof out->password, 12);
    char hash[256];
    if (auth_password_hash(out->password, hash, sizeof hash, err) ||
        auth_set_password(d, c.tenant, out->user_id, hash, err))
        return -1;
    snprintf(c.actor_id, sizeof c.actor_id, "%s", out->user_id);
    return auth_api_key_create(d, &c, "admin key (created with the tenant)", "read write admin",
                               NULL, out->key_token, out->key_id, err);
}

int tenant_describe(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT id, slug, name, created_at FROM tenants WHERE rid=?", err);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, tenant);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        static const char *names[] = {"id", "slug", "name", "created_at"};
        buf_adds(out, "{\"object\":\"tenant\"");
        for (int i = 0; i < 4; i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            buf_addf(out, ",\"%s\":", names[i]);
            buf_add_json_str(out, v, strlen(v));
        }
        buf_addc(out, '}');
    }
    db_reset(st);
    return rc == SQLITE_ROW ? 0 : ax_fail(err, AX_ENOTFOUND, "no such tenant");
}

json_t *tenant_setting(struct db *d, int64_t tenant, const char *key, struct ax_err *err)
{
    sqlite3_stmt *st = db_prep(d, "SELECT settings FROM tenants WHERE rid=?", err);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, tenant);
    json_t *all = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        all = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    db_reset(st);
    json_t *v = json_object_get(all, key);
    json_incref(v);
    json_decref(all);
    return v;
}

int tenant_set_setting(struct db *d, const struct ax_ctx *c, const char *key, json_t *value,
                       struct ax_err *err)
{
    json_t *before = tenant_setting(d, c->tenant, key, err);
    if (!before && err->code)
        return -1;
    sqlite3_stmt *st = db_prep(d,
        value ? "UPDATE tenants SET settings=json_set(settings, '$.' || ?2, json(?3)) WHERE rid=?1"
              : "UPDATE tenants SET settings=json_remove(settings, '$.' || ?2) WHERE rid=?1", err);
    char *text = value ? jx_dumps(value, JX_SORT_KEYS) : NULL;
    if (!st || (value && !text)) {
        json_decref(before);
        free(text);
        return st ? ax_fail(err, AX_EINTERNAL, "out of memory") : -1;
    }
    sqlite3_bind_int64(st, 1, c->tenant);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    free(text);
    if (rc != SQLITE_DONE) {
        json_decref(before);
        return db_fail(d, err, "tenant settings");
    }
    json_t *changes = json_object();
    json_object_set_new(changes, key, json_pack("[oO]", before ? before : json_null(),
                                                value ? value : json_null()));
    rc = audit_append(d, c, "tenants", c->tenant_id, "update", changes, err);
    json_decref(changes);
    return rc;
}
