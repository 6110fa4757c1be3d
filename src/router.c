/* router.c - the route table and its matcher. */
#include "axon/router.h"

#include "axon/api.h"

#include <pthread.h>
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
    {HM_POST, "/api/v1/packs", api_pack_upload, RT_UPLOAD, "upload a workflow pack version (.zip or .tar.gz)"},
    {HM_GET, "/api/v1/packs", api_packs_list, 0, "list workflow packs"},
    {HM_GET, "/api/v1/packs/{id}", api_pack_get, 0, "a pack with its versions and publications"},
    {HM_GET, "/api/v1/packs/{id}/history", api_pack_history, 0, "a pack's audited changes"},
    {HM_GET, "/api/v1/packs/{id}/runs", api_pack_runs, 0, "a pack's run log"},
    {HM_GET, "/api/v1/packs/{id}/deliveries", api_pack_deliveries, 0, "a pack's after-handler deliveries (dead letters with ?status=dead)"},
    {HM_POST, "/api/v1/packs/{id}/disable", api_pack_disable, 0, "stop a pack"},
    {HM_POST, "/api/v1/packs/{id}/rollback", api_pack_rollback, 0, "run the previous (or a named) version again"},
    {HM_GET, "/api/v1/packs/{id}/versions/{version}", api_pack_version, 0, "a version: manifest, files, scan, tests"},
    {HM_GET, "/api/v1/packs/{id}/versions/{version}/file", api_pack_file, 0, "one file of a version (?path=)"},
    {HM_POST, "/api/v1/packs/{id}/versions/{version}/publish", api_pack_publish, 0, "publish a version to the tenant or a unit"},
    {HM_POST, "/api/v1/packs/{id}/versions/{version}/replay", api_pack_replay, 0, "dry-run a version on a list of events"},
    {HM_GET, "/api/v1/deliveries", api_deliveries, 0, "after-handler deliveries of all packs"},
    {HM_POST, "/api/v1/deliveries/{id}/retry", api_delivery_retry, 0, "queue a dead-lettered delivery again"},
    {HM_GET, "/api/v1/outbound", api_outbound_list, 0, "HTTP calls and e-mails packs queued"},
    {HM_GET, "/api/v1/settings/workflow-budget", api_workflow_budget_get, 0, "the tenant's workflow budgets"},
    {HM_PUT, "/api/v1/settings/workflow-budget", api_workflow_budget_put, 0, "set the tenant's workflow budgets"},
    {HM_POST, "/api/v1/suggestions/{id}/accept", api_suggestion_accept, 0, "accept a suggestion"},
    {HM_POST, "/api/v1/suggestions/{id}/dismiss", api_suggestion_dismiss, 0, "dismiss a suggestion, with a reason"},
    {HM_POST, "/api/v1/suggestions/{id}/complete", api_suggestion_complete, 0, "mark a suggestion done"},
    {HM_POST, "/api/v1/reviews/samples", api_review_sample, 0, "draw (or find) a month's review sample"},
    {HM_GET, "/api/v1/reviews", api_reviews_list, 0, "the review queue"},
    {HM_GET, "/api/v1/reviews/report", api_review_report, 0, "per-rule acceptance against confirmed value"},
    {HM_POST, "/api/v1/reviews/{id}", api_review_verdict, 0, "record a reviewer's verdict"},
    {HM_GET, "/api/v1/rules", api_rules_list, 0, "rules that made suggestions, with status"},
    {HM_POST, "/api/v1/rules/retire", api_rule_retire, 0, "retire a rule"},
    {HM_GET, "/api/v1/kpis/decision-chain", api_kpi_decision_chain, 0, "days from engagement to decision"},
    {HM_POST, "/api/v1/intents/dictionaries", api_dict_upload, RT_UPLOAD, "upload a term table (CSV) as the next dictionary version"},
    {HM_GET, "/api/v1/intents/dictionaries", api_dicts_list, 0, "dictionary versions"},
    {HM_GET, "/api/v1/intents/dictionaries/{version}", api_dict_get, 0, "a dictionary version and its load report"},
    {HM_POST, "/api/v1/intents/dictionaries/{version}/activate", api_dict_activate, 0, "make a dictionary version the active one"},
    {HM_POST, "/api/v1/intents/test", api_intents_test, 0, "tag a text with the active dictionary and sentiment model"},
    {HM_POST, "/api/v1/models", api_model_create, RT_UPLOAD, "train a model from labelled CSV (a background job)"},
    {HM_GET, "/api/v1/models", api_models_list, 0, "models"},
    {HM_GET, "/api/v1/models/{id}", api_model_get, 0, "a model and its held-out report"},
    {HM_POST, "/api/v1/models/{id}/activate", api_model_activate, 0, "make a sentiment model the tenant's"},
    {HM_POST, "/api/v1/models/{id}/predict", api_model_predict, 0, "a model's prediction for a text"},
    {HM_GET, "/api/v1/activities/{id}/tags", api_activity_tags, 0, "an activity's intents and sentiment"},
    {HM_GET, "/api/v1/tickets/{id}/tags", api_ticket_tags, 0, "a ticket's intents and sentiment"},
    {HM_GET, "/api/v1/customers/{id}/intents", api_customer_intents, 0, "a customer's decaying intent profile"},
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

#define MAX_ROUTES 128
_Static_assert(sizeof routes / sizeof routes[0] <= MAX_ROUTES, "router: raise MAX_ROUTES");

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

/* Paths and patterns are compared segment by segment. Patterns are split
 * once; a request's path once per request. */
#define MAX_SEGS 12

struct seg {
    const char *p;
    size_t n;
};

struct pattern {
    struct seg segs[MAX_SEGS];
    int nsegs;
    int rest;      /* index of a {*name} segment, or -1 */
};

static struct pattern patterns[MAX_ROUTES];
static pthread_once_t patterns_once = PTHREAD_ONCE_INIT;

/* Split "/a/b/c" into segments; -1 when there are too many. */
static int split(const char *path, struct seg *segs)
{
    int n = 0;
    if (*path != '/')
        return -1;
    while (*path == '/') {
        if (n == MAX_SEGS)
            return -1;
        path++;
        size_t len = strcspn(path, "/");
        segs[n].p = path;
        segs[n].n = len;
        n++;
        path += len;
    }
    return n;
}

static void compile_patterns(void)
{
    int n;
    const struct route *all = router_routes(&n);
    for (int i = 0; i < n && i < MAX_ROUTES; i++) {
        struct pattern *pt = &patterns[i];
        pt->nsegs = split(all[i].pattern, pt->segs);
        pt->rest = -1;
        for (int k = 0; k < pt->nsegs; k++)
            if (pt->segs[k].n > 1 && pt->segs[k].p[0] == '{' && pt->segs[k].p[1] == '*')
                pt->rest = k;
    }
}

/* `{name}` takes one non-empty segment, `{*name}` the rest of the path. */
static bool match(const struct pattern *pt, const struct seg *segs, int nsegs)
{
    if (pt->rest >= 0 ? nsegs < pt->rest + 1 : nsegs != pt->nsegs)
        return false;
    int upto = pt->rest >= 0 ? pt->rest : pt->nsegs;
    for (int k = 0; k < upto; k++) {
        const struct seg *p = &pt->segs[k];
        if (p->p[0] == '{') {
            if (segs[k].n == 0)
                return false;
        } else if (p->n != segs[k].n || memcmp(p->p, segs[k].p, p->n) != 0) {
            return false;
        }
    }
    return true;
}

static void capture(const struct pattern *pt, const struct seg *segs, struct req *r)
{
    int upto = pt->rest >= 0 ? pt->rest : pt->nsegs;
    for (int k = 0; k < upto && r->nparams < REQ_MAX_PARAMS; k++)
        if (pt->segs[k].p[0] == '{')
            r->params[r->nparams++] = strndup(segs[k].p, segs[k].n);
    if (pt->rest >= 0 && r->nparams < REQ_MAX_PARAMS)
        r->params[r->nparams++] = strdup(segs[pt->rest].p);
}

const struct route *router_match(struct req *r, int *status, char *allow, size_t allowsz)
{
    int n;
    const struct route *all = router_routes(&n);
    enum http_method m = r->method == HM_HEAD ? HM_GET : r->method;
    size_t used = 0;
    allow[0] = '\0';
    pthread_once(&patterns_once, compile_patterns);
    struct seg segs[MAX_SEGS];
    int nsegs = split(r->url, segs);
    if (nsegs < 0) {
        *status = 404;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!match(&patterns[i], segs, nsegs))
            continue;
        if (all[i].method == m) {
            capture(&patterns[i], segs, r);
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
