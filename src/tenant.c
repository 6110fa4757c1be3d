/* tenant.c - creating and finding tenants. */
#include "axon/tenant.h"

#include "axon/audit.h"
#include "axon/model.h"
#include "axon/objects.h"
#include "axon/store.h"
#include "axon/timefmt.h"

#include <ctype.h>
#include <stdio.h>
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

int tenant_create(struct db *d, const char *name, const char *slug_in, const char *admin_email,
                  const char *admin_password, struct tenant_admin *out, struct ax_err *err)
{
    memset(out, 0, sizeof *out);
    if (!name || !*name || strlen(name) > 200)
        return ax_fail(err, AX_EINVALID, "a tenant needs a name of 1 to 200 bytes");
    if (make_slug(name, slug_in, out->slug, err))
        return -1;
    struct ax_ctx c;
    if (tenant_find(d, out->slug, &c, err) != 0)
        return err && err->code ? -1
                                : ax_fail(err, AX_ECONFLICT, "a tenant '%s' exists already", out->slug);
    char now[TIME_TEXT_MAX];
    time_format_ms(time_now_ms(), now);
    id_new("ten", out->tenant_id);
    sqlite3_stmt *st = db_prep(d, "INSERT INTO tenants(id,slug,name,created_at) VALUES(?,?,?,?)", err);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, out->tenant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, out->slug, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    db_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, "tenant");
    if (tenant_find(d, out->slug, &c, err) != 1)
        return -1;
    json_t *changes = json_pack("{s:[ns],s:[ns]}", "name", name, "slug", out->slug);
    rc = audit_append(d, &c, "tenants", out->tenant_id, "create", changes, err);
    json_decref(changes);
    if (rc || obj_default_pipeline(d, &c, err))
        return -1;

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
