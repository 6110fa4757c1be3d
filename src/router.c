/* router.c - the route table and its matcher. */
#include "axon/router.h"

#include "axon/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P RT_PUBLIC
static const struct route routes[] = {
    {HM_GET, "/healthz", api_health, P, "liveness"},
    {HM_GET, "/api/v1/openapi.json", api_openapi, P, "this API as OpenAPI 3.1"},
    {HM_GET, "/problems/{slug}", api_problem_doc, P, "what a problem type means"},
    {HM_POST, "/api/v1/session", api_login, P | RT_NO_CSRF, "sign in (sets the session cookie)"},
    {HM_GET, "/api/v1/session", api_whoami, 0, "the signed-in user, tenant and CSRF token"},
    {HM_DELETE, "/api/v1/session", api_logout, 0, "sign out"},
    {HM_GET, "/api/v1/tenant", api_tenant, 0, "the caller's tenant"},
    {HM_GET, "/api/v1/search", api_search, 0, "full-text search (Chinese and English)"},
    {HM_GET, "/api/v1/audit", api_audit_list, 0, "the audit trail, newest first"},
    {HM_GET, "/api/v1/audit/verify", api_audit_verify, 0, "recompute the audit hash chain"},
    {HM_GET, "/api/v1/api-keys", api_keys_list, 0, "list API keys"},
    {HM_POST, "/api/v1/api-keys", api_keys_create, 0, "create an API key (token shown once)"},
    {HM_DELETE, "/api/v1/api-keys/{id}", api_keys_revoke, 0, "revoke an API key"},
    {HM_POST, "/api/v1/users/{id}/password", api_user_password, 0, "set a user's password"},
    {HM_POST, "/api/v1/imports", api_import_create, RT_UPLOAD, "start a CSV import job"},
    {HM_POST, "/api/v1/imports/preview", api_import_preview, RT_UPLOAD, "preview a CSV and suggest a mapping"},
    {HM_GET, "/api/v1/jobs", api_jobs_list, 0, "list background jobs"},
    {HM_GET, "/api/v1/jobs/{id}", api_job_get, 0, "a job's status and progress"},
    {HM_GET, "/api/v1/jobs/{id}/errors", api_job_errors, 0, "a job's per-row errors (JSON or CSV)"},
    {HM_GET, "/api/v1/exports/{object}", api_export, 0, "export a filtered list as CSV"},
    {HM_GET, "/api/v1/customers/{id}/timeline", api_timeline, 0, "a customer's deals, tickets and activities"},
    {HM_GET, "/api/v1/deals/summary", api_deal_summary, 0, "deal counts and amounts per stage"},
    {HM_GET, "/api/v1/deals/{id}/stages", api_deal_stages, 0, "a deal's stage changes"},
    {HM_GET, "/api/v1/{object}", api_list, 0, "list records"},
    {HM_POST, "/api/v1/{object}", api_create, 0, "create a record"},
    {HM_GET, "/api/v1/{object}/facets", api_facets, 0, "common values of filterable fields"},
    {HM_GET, "/api/v1/{object}/{id}", api_get, 0, "one record"},
    {HM_PATCH, "/api/v1/{object}/{id}", api_update, 0, "change a record (merge patch)"},
    {HM_DELETE, "/api/v1/{object}/{id}", api_delete, 0, "delete a record"},
    {HM_GET, "/api/v1/{object}/{id}/history", api_history, 0, "a record's audited changes"},
    {HM_GET, "/{*path}", api_static, RT_STATIC, "the browser UI"},
};
#undef P

const struct route *router_routes(int *n)
{
    *n = (int)(sizeof routes / sizeof routes[0]);
    return routes;
}

static const char *method_name(enum http_method m)
{
    static const char *names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "?"};
    return names[m];
}

/* Match `path` against `pattern`; on success store captures in r.
 * `{name}` takes one non-empty segment, `{*name}` the rest of the path. */
static bool match(const char *pattern, const char *path, struct req *r, bool capture)
{
    const char *p = pattern, *u = path;
    int n = 0;
    char *caps[REQ_MAX_PARAMS];
    while (*p || *u) {
        if (*p != '/' || *u != '/')
            goto fail;
        p++;
        u++;
        size_t pl = strcspn(p, "/"), ul = strcspn(u, "/");
        if (p[0] == '{' && p[1] == '*')
            ul = strlen(u);
        else if (p[0] == '{' && ul == 0)
            goto fail;
        else if (p[0] != '{' && (pl != ul || strncmp(p, u, pl) != 0))
            goto fail;
        if (p[0] == '{' && capture) {
            if (n == REQ_MAX_PARAMS)
                goto fail;
            caps[n++] = strndup(u, ul);
        }
        p += pl;
        u += ul;
    }
    for (int i = 0; i < n; i++)
        r->params[r->nparams++] = caps[i];
    return true;
fail:
    for (int i = 0; i < n; i++)
        free(caps[i]);
    return false;
}

const struct route *router_match(struct req *r, int *status, char *allow, size_t allowsz)
{
    int n;
    const struct route *all = router_routes(&n);
    enum http_method m = r->method == HM_HEAD ? HM_GET : r->method;
    size_t used = 0;
    allow[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!match(all[i].pattern, r->url, r, false))
            continue;
        if (all[i].method == m) {
            match(all[i].pattern, r->url, r, true);
            return &all[i];
        }
        /* The UI's catch-all would claim every path: only GET counts for it. */
        if (all[i].flags & RT_STATIC)
            continue;
        if (!strstr(allow, method_name(all[i].method)))
            used += (size_t)snprintf(allow + used, used < allowsz ? allowsz - used : 0, "%s%s",
                                     used ? ", " : "", method_name(all[i].method));
    }
    *status = allow[0] ? 405 : 404;
    return NULL;
}
