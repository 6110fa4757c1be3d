/*
 * api.h - the REST handlers, one group per file:
 *   api_objects.c  CRUD, history, timeline for every model object
 *   api_session.c  sign-in, sign-out, who am I
 *   api_admin.c    tenant, API keys, passwords, audit
 *   api_search.c   full-text search
 *   api_jobs.c     CSV imports, jobs, exports
 *   api_packs.c    workflow packs, replays, run log, deliveries, outbound queue
 *   api_sugg.c     suggestion outcomes, review audit, rules, decision-chain KPI
 *   api_intel.c    intent dictionaries, models, tags, customer intent profiles
 *   openapi.c      the OpenAPI document
 *   static.c       the browser UI's files
 * Handlers take the request and reply through http.h; they own nothing
 * beyond the call.
 */
#ifndef AXON_API_H
#define AXON_API_H

#include "axon/http.h"

void api_health(struct req *r);
void api_problem_doc(struct req *r);

void api_list(struct req *r);
void api_create(struct req *r);
void api_get(struct req *r);
void api_facets(struct req *r);
void api_update(struct req *r);
void api_delete(struct req *r);
void api_history(struct req *r);
void api_timeline(struct req *r);
void api_deal_stages(struct req *r);
void api_deal_summary(struct req *r);

void api_login(struct req *r);
void api_whoami(struct req *r);
void api_logout(struct req *r);

void api_tenant(struct req *r);
void api_keys_list(struct req *r);
void api_keys_create(struct req *r);
void api_keys_revoke(struct req *r);
void api_user_password(struct req *r);
void api_audit_list(struct req *r);
void api_audit_verify(struct req *r);

void api_search(struct req *r);

void api_import_create(struct req *r);
void api_import_preview(struct req *r);
void api_jobs_list(struct req *r);
void api_job_get(struct req *r);
void api_job_errors(struct req *r);
void api_export(struct req *r);

void api_pack_upload(struct req *r);
void api_packs_list(struct req *r);
void api_pack_get(struct req *r);
void api_pack_version(struct req *r);
void api_pack_file(struct req *r);
void api_pack_publish(struct req *r);
void api_pack_disable(struct req *r);
void api_pack_rollback(struct req *r);
void api_pack_replay(struct req *r);
void api_pack_runs(struct req *r);
void api_pack_deliveries(struct req *r);
void api_pack_history(struct req *r);
void api_deliveries(struct req *r);
void api_delivery_retry(struct req *r);
void api_outbound_list(struct req *r);
void api_workflow_budget_get(struct req *r);
void api_workflow_budget_put(struct req *r);

void api_suggestion_accept(struct req *r);
void api_suggestion_dismiss(struct req *r);
void api_suggestion_complete(struct req *r);
void api_review_sample(struct req *r);
void api_reviews_list(struct req *r);
void api_review_report(struct req *r);
void api_review_verdict(struct req *r);
void api_rules_list(struct req *r);
void api_rule_retire(struct req *r);
void api_kpi_decision_chain(struct req *r);
void api_dict_upload(struct req *r);
void api_dicts_list(struct req *r);
void api_dict_get(struct req *r);
void api_dict_activate(struct req *r);
void api_intents_test(struct req *r);
void api_model_create(struct req *r);
void api_models_list(struct req *r);
void api_model_get(struct req *r);
void api_model_activate(struct req *r);
void api_model_predict(struct req *r);
void api_activity_tags(struct req *r);
void api_ticket_tags(struct req *r);
void api_customer_intents(struct req *r);

void api_openapi(struct req *r);
void api_static(struct req *r);

/* Shared by handlers: reply with an object's id-based 404 when the model
 * has no such object type; returns the def or NULL (reply sent). */
const struct object_def *api_object(struct req *r, const char *name);

/* The calling thread's read connection; NULL (reply sent) if it cannot open. */
struct db *api_read_db(struct req *r);

/* A read of the caller's whole tenant (a list): check `roles`, run `fn` on
 * the thread's connection and reply 200 with what it appended. */
typedef int (*api_tenant_read_fn)(struct db *d, int64_t tenant, struct buf *out,
                                  struct ax_err *err);
void api_tenant_read(struct req *r, int roles, api_tenant_read_fn fn);

/* Parse If-Match: -1 when absent or "*", else the version; -2 (reply sent) if malformed. */
long long api_if_match(struct req *r);

/* A query parameter that is absent (*out = NULL) or one of `allowed`
 * (NULL-terminated); -1 (reply sent: 400 naming them) otherwise. */
int api_enum_param(struct req *r, const char *name, const char *const *allowed,
                   const char **out);

/* An integer query parameter in [lo, hi] with a default; -1 (reply sent) if bad. */
int api_int_param(struct req *r, const char *name, int dflt, int lo, int hi, long long *out);

#endif
