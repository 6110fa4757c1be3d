/* openapi.c - the OpenAPI 3.1 document, generated from the model tables
 * and the route table so it cannot drift from what the server does. Built
 * once, served as is. */
#include "axon/api.h"

#include "axon/log.h"
#include "axon/model.h"
#include "axon/router.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *doc_text;
static pthread_once_t doc_once = PTHREAD_ONCE_INIT;

static json_t *ref(const char *name)
{
    char r[128];
    snprintf(r, sizeof r, "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", r);
}

static void type_name(const struct object_def *def, char *out, size_t n, const char *suffix)
{
    snprintf(out, n, "%s%s", def->singular, suffix);
    out[0] = (char)toupper((unsigned char)out[0]);
    for (char *p = out; *p; p++)
        if (*p == '_' && p[1]) {
            memmove(p, p + 1, strlen(p));
            *p = (char)toupper((unsigned char)*p);
        }
}

static json_t *nullable(json_t *schema, bool nullable_)
{
    if (!nullable_)
        return schema;
    json_t *t = json_object_get(schema, "type");
    if (json_is_string(t)) {
        json_object_set_new(schema, "type", json_pack("[s,s]", json_string_value(t), "null"));
        json_t *e = json_object_get(schema, "enum");
        if (e)
            json_array_append_new(e, json_null());
        return schema;
    }
    return json_pack("{s:[o,{s:s}]}", "anyOf", schema, "type", "null");
}

static json_t *field_schema(const struct field_def *f)
{
    json_t *s;
    switch (f->type) {
    case FT_TEXT:
    case FT_LONGTEXT:
        s = json_pack("{s:s}", "type", "string");
        if (f->max_len)
            json_object_set_new(s, "maxLength", json_integer(f->max_len));
        break;
    case FT_EMAIL:
        s = json_pack("{s:s,s:s}", "type", "string", "format", "email");
        break;
    case FT_INT:
        s = json_pack("{s:s}", "type", "integer");
        break;
    case FT_NUM:
        s = json_pack("{s:s}", "type", "number");
        break;
    case FT_BOOL:
        s = json_pack("{s:s}", "type", "boolean");
        break;
    case FT_DATE:
        s = json_pack("{s:s,s:s}", "type", "string", "format", "date");
        break;
    case FT_DATETIME:
        s = json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
        break;
    case FT_ENUM: {
        json_t *e = json_array();
        for (int i = 0; f->choices[i]; i++)
            json_array_append_new(e, json_string(f->choices[i]));
        s = json_pack("{s:s,s:o}", "type", "string", "enum", e);
        break;
    }
    case FT_CURRENCY:
        s = json_pack("{s:s,s:s}", "type", "string", "pattern", "^[A-Z]{3}$");
        break;
    case FT_REF: {
        const struct object_def *t = model_find(f->ref);
        char pat[64];
        snprintf(pat, sizeof pat, "^%s_[0-9a-z]{20}$", t ? t->prefix : "x");
        s = json_pack("{s:s,s:s}", "type", "string", "pattern", pat);
        break;
    }
    case FT_REFLIST:
        s = json_pack("{s:s,s:{s:s},s:i}", "type", "array", "items", "type", "string", "maxItems", 50);
        break;
    case FT_STAGE:
        s = json_pack("{s:s}", "type", "string");
        break;
    case FT_ATTRS:
        s = json_pack("{s:s}", "type", "object");
        break;
    case FT_JSON:
    default:
        s = json_object();
        break;
    }
    if (f->doc)
        json_object_set_new(s, "description", json_string(f->doc));
    /* What a client may do with the field, so UIs need not copy model.c. */
    if (f->flags & F_SORT)
        json_object_set_new(s, "x-sortable", json_true());
    if (f->flags & F_FILTER)
        json_object_set_new(s, "x-filterable", json_true());
    if (f->flags & F_KEY)
        json_object_set_new(s, "x-natural-key", json_true());
    if (f->flags & F_CREATE_ONLY)
        json_object_set_new(s, "x-create-only", json_true());
    return s;
}

/* The record as served, and the body a client sends. */
static void object_schemas(json_t *schemas, const struct object_def *def)
{
    json_t *props = json_object(), *in = json_object(), *req = json_array(), *inreq = json_array();
    char pat[64];
    snprintf(pat, sizeof pat, "^%s_[0-9a-z]{20}$", def->prefix);
    json_object_set_new(props, "id", json_pack("{s:s,s:s}", "type", "string", "pattern", pat));
    json_object_set_new(props, "object", json_pack("{s:s,s:[s]}", "type", "string", "enum", def->singular));
    for (int i = 0; i < def->nfields; i++) {
        const struct field_def *f = &def->fields[i];
        bool required = (f->flags & F_REQUIRED) != 0;
        json_object_set_new(props, f->name, nullable(field_schema(f), !required && f->type != FT_ATTRS));
        if (!(f->flags & F_SERVER)) {
            json_t *s = nullable(field_schema(f), !required);
            if (f->flags & F_CREATE_ONLY)
                json_object_set_new(s, "description", json_string("set on create only"));
            json_object_set_new(in, f->name, s);
        }
        if (required) {
            if (f->read_roles == 0)
                json_array_append_new(req, json_string(f->name));
            json_array_append_new(inreq, json_string(f->name));
        }
    }
    json_object_set_new(props, "created_at", json_pack("{s:s,s:s}", "type", "string", "format", "date-time"));
    json_object_set_new(props, "updated_at", json_pack("{s:s,s:s}", "type", "string", "format", "date-time"));
    json_object_set_new(props, "created_by", json_pack("{s:[s,s]}", "type", "string", "null"));
    json_object_set_new(props, "version", json_pack("{s:s,s:i}", "type", "integer", "minimum", 1));
    const char *sys[] = {"id", "object", "created_at", "updated_at", "version"};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        json_array_append_new(req, json_string(sys[i]));
    char name[64], list[64], input[64];
    type_name(def, name, sizeof name, "");
    type_name(def, list, sizeof list, "List");
    type_name(def, input, sizeof input, "Input");
    json_object_set_new(schemas, name, json_pack("{s:s,s:o,s:o,s:b}", "type", "object",
                                                 "properties", props, "required", req,
                                                 "additionalProperties", 0));
    char patch[64];
    type_name(def, patch, sizeof patch, "Patch");
    json_object_set_new(schemas, patch, json_pack("{s:s,s:O,s:b}", "type", "object",
                                                  "properties", in, "additionalProperties", 0));
    json_object_set_new(schemas, input, json_pack("{s:s,s:o,s:o,s:b}", "type", "object",
                                                  "properties", in, "required", inreq,
                                                  "additionalProperties", 0));
    json_object_set_new(schemas, list, json_pack("{s:s,s:{s:{s:s,s:o},s:{s:[s,s]},s:{s:s}},s:[s,s]}",
        "type", "object", "properties", "data", "type", "array", "items", ref(name),
        "next", "type", "string", "null", "total", "type", "integer", "required", "data", "next"));
}

static json_t *problem_response(void)
{
    return json_pack("{s:s,s:{s:{s:o}}}", "description", "an error (RFC 9457 problem details)",
                     "content", "application/problem+json", "schema", ref("Problem"));
}

static json_t *json_response(const char *desc, json_t *schema)
{
    return json_pack("{s:s,s:{s:{s:o}}}", "description", desc, "content", "application/json",
                     "schema", schema);
}

static json_t *param(const char *name, const char *in, bool required, json_t *schema,
                     const char *desc)
{
    json_t *p = json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", in, "required", required,
                          "schema", schema);
    if (desc)
        json_object_set_new(p, "description", json_string(desc));
    return p;
}

static json_t *list_params(const struct object_def *def)
{
    json_t *ps = json_array(), *sorts = json_array();
    json_array_append_new(ps, param("limit", "query", false,
        json_pack("{s:s,s:i,s:i,s:i}", "type", "integer", "minimum", 1, "maximum", 200, "default", 25), NULL));
    json_array_append_new(ps, param("after", "query", false, json_pack("{s:s}", "type", "string"),
                                    "cursor from the previous page's `next`"));
    json_array_append_new(ps, param("count", "query", false, json_pack("{s:s}", "type", "boolean"),
                                    "add `total`, the number of matching records"));
    json_array_append_new(sorts, json_string("created_at"));
    json_array_append_new(sorts, json_string("-created_at"));
    json_array_append_new(sorts, json_string("updated_at"));
    json_array_append_new(sorts, json_string("-updated_at"));
    for (int i = 0; i < def->nfields; i++) {
        const struct field_def *f = &def->fields[i];
        if (f->flags & F_SORT) {
            char neg[80];
            snprintf(neg, sizeof neg, "-%s", f->name);
            json_array_append_new(sorts, json_string(f->name));
            json_array_append_new(sorts, json_string(neg));
        }
        if (!(f->flags & F_FILTER))
            continue;
        json_array_append_new(ps, param(f->name, "query", false, json_pack("{s:s}", "type", "string"),
                                        "equals; also name[ne|lt|lte|gt|gte|in|null|contains]"));
    }
    json_array_append_new(ps, param("sort", "query", false,
        json_pack("{s:s,s:o}", "type", "string", "enum", sorts), "field to sort by; '-' for descending"));
    return ps;
}

static json_t *operation(const char *summary, const char *opid, json_t *params, json_t *body,
                         const char *code, json_t *ok)
{
    json_t *op = json_pack("{s:s,s:s}", "summary", summary, "operationId", opid);
    if (params)
        json_object_set_new(op, "parameters", params);
    if (body)
        json_object_set_new(op, "requestBody", json_pack("{s:b,s:{s:{s:o}}}", "required", 1,
                                                         "content", "application/json", "schema", body));
    json_t *responses = json_object();
    if (ok)
        json_object_set_new(responses, code, ok);
    else
        json_object_set_new(responses, code, json_pack("{s:s}", "description", "done"));
    json_object_set_new(responses, "default", problem_response());
    json_object_set_new(op, "responses", responses);
    return op;
}

static json_t *id_param(void)
{
    return param("id", "path", true, json_pack("{s:s}", "type", "string"), NULL);
}

static void object_paths(json_t *paths, const struct object_def *def)
{
    char name[64], list[64], input[64], path[128], opid[96];
    type_name(def, name, sizeof name, "");
    type_name(def, list, sizeof list, "List");
    type_name(def, input, sizeof input, "Input");
    json_t *coll = json_object(), *item = json_object(), *hist = json_object();
    snprintf(opid, sizeof opid, "list_%s", def->name);
    json_object_set_new(coll, "get", operation("list, filter and sort", opid, list_params(def), NULL,
                                               "200", json_response("a page", ref(list))));
    snprintf(opid, sizeof opid, "create_%s", def->name);
    json_t *create = operation("create", opid,
        json_pack("[o]", param("Idempotency-Key", "header", false, json_pack("{s:s,s:i}", "type", "string", "maxLength", 255), "retries with the same key get the first response")),
        ref(input), "201", json_response("created; Location and ETag headers", ref(name)));
    json_object_set_new(coll, "post", create);
    snprintf(path, sizeof path, "/api/v1/%s", def->name);
    json_object_set_new(paths, path, coll);

    snprintf(opid, sizeof opid, "get_%s", def->name);
    json_object_set_new(item, "get", operation("one record (ETag)", opid, json_pack("[o]", id_param()),
                                               NULL, "200", json_response("the record", ref(name))));
    snprintf(opid, sizeof opid, "update_%s", def->name);
    char patch[64];
    type_name(def, patch, sizeof patch, "Patch");
    json_t *patch_body = ref(patch);
    json_object_set_new(item, "patch", operation("change fields (merge patch; If-Match for optimistic concurrency)",
        opid, json_pack("[o,o]", id_param(), param("If-Match", "header", false, json_pack("{s:s}", "type", "string"), "the ETag you read; 412 if it changed")),
        patch_body, "200", json_response("the record", ref(name))));
    snprintf(opid, sizeof opid, "delete_%s", def->name);
    json_object_set_new(item, "delete", operation("delete (409 while referenced)", opid,
        json_pack("[o,o]", id_param(), param("If-Match", "header", false, json_pack("{s:s}", "type", "string"), NULL)),
        NULL, "204", NULL));
    snprintf(path, sizeof path, "/api/v1/%s/{id}", def->name);
    json_object_set_new(paths, path, item);

    json_t *facets = json_object();
    snprintf(opid, sizeof opid, "facets_%s", def->name);
    json_object_set_new(facets, "get", operation("common values of filterable fields, with counts",
        opid, json_pack("[o,o]", param("fields", "query", true, json_pack("{s:s}", "type", "string"), "comma list, at most 8"),
                        param("limit", "query", false, json_pack("{s:s,s:i,s:i}", "type", "integer", "minimum", 1, "maximum", 100), "values per field (20)")),
        NULL, "200", json_response("values per field", ref("Facets"))));
    snprintf(path, sizeof path, "/api/v1/%s/facets", def->name);
    json_object_set_new(paths, path, facets);

    snprintf(opid, sizeof opid, "history_%s", def->name);
    json_object_set_new(hist, "get", operation("audited changes of the record, newest first", opid,
        json_pack("[o]", id_param()), NULL, "200", json_response("changes", ref("AuditList"))));
    snprintf(path, sizeof path, "/api/v1/%s/{id}/history", def->name);
    json_object_set_new(paths, path, hist);
}

static const char *common_schemas =
    "{\"Problem\":{\"type\":\"object\",\"required\":[\"type\",\"title\",\"status\",\"detail\",\"request_id\"],"
    " \"properties\":{\"type\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},\"status\":{\"type\":\"integer\"},"
    "  \"detail\":{\"type\":\"string\"},\"instance\":{\"type\":\"string\"},\"request_id\":{\"type\":\"string\"},"
    "  \"errors\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"pointer\",\"detail\"],"
    "   \"properties\":{\"pointer\":{\"type\":\"string\"},\"detail\":{\"type\":\"string\"}}}}}},"
    "\"AuditEntry\":{\"type\":\"object\",\"required\":[\"seq\",\"at\",\"actor_type\",\"trigger\",\"object\",\"object_id\",\"action\",\"changes\"],"
    " \"properties\":{\"seq\":{\"type\":\"integer\"},\"at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "  \"actor_type\":{\"type\":\"string\"},\"actor_id\":{\"type\":[\"string\",\"null\"]},\"source\":{\"type\":[\"string\",\"null\"]},"
    "  \"trigger\":{\"type\":\"string\"},\"request_id\":{\"type\":[\"string\",\"null\"]},\"object\":{\"type\":\"string\"},"
    "  \"object_id\":{\"type\":\"string\"},\"action\":{\"enum\":[\"create\",\"update\",\"delete\",\"upload\",\"publish\",\"disable\",\"rollback\",\"activate\"]},"
    "  \"changes\":{\"type\":[\"object\",\"null\"],\"additionalProperties\":{\"type\":\"array\",\"minItems\":2,\"maxItems\":2}},"
    "  \"redacted\":{\"type\":\"boolean\"}}},"
    "\"AuditList\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{"
    " \"data\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/AuditEntry\"}},\"next\":{\"type\":[\"string\",\"null\"]}}},"
    "\"AuditVerify\":{\"type\":\"object\",\"required\":[\"ok\",\"rows\"],\"properties\":{\"ok\":{\"type\":\"boolean\"},"
    " \"rows\":{\"type\":\"integer\"},\"head\":{\"type\":\"string\"},\"first_broken\":{\"type\":\"object\","
    "  \"properties\":{\"seq\":{\"type\":\"integer\"},\"reason\":{\"type\":\"string\"}}}}},"
    "\"Timeline\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{\"next\":{\"type\":[\"string\",\"null\"]},"
    " \"data\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"type\",\"at\",\"record\"],\"properties\":{"
    "  \"type\":{\"enum\":[\"deal\",\"ticket\",\"activity\"]},\"at\":{\"type\":\"string\"},\"record\":{\"oneOf\":["
    "   {\"$ref\":\"#/components/schemas/Deal\"},{\"$ref\":\"#/components/schemas/Ticket\"},{\"$ref\":\"#/components/schemas/Activity\"}]}}}}}},"
    "\"StageChanges\":{\"type\":\"object\",\"required\":[\"data\"],\"properties\":{\"next\":{\"type\":\"null\"},"
    " \"data\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"from\",\"to\",\"at\"],\"properties\":{"
    "  \"from\":{\"type\":[\"string\",\"null\"]},\"to\":{\"type\":\"string\"},\"at\":{\"type\":\"string\"},\"actor\":{\"type\":[\"string\",\"null\"]}}}}}},"
    "\"DealSummary\":{\"type\":\"object\",\"required\":[\"data\",\"total\"],\"properties\":{\"total\":{\"type\":\"integer\"},"
    " \"data\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"stage\",\"count\"],\"properties\":{"
    "  \"stage\":{\"type\":\"string\"},\"count\":{\"type\":\"integer\"},\"amount\":{\"type\":\"number\"}}}}}},"
    "\"SearchResults\":{\"type\":\"object\",\"required\":[\"query\",\"data\"],\"properties\":{\"query\":{\"type\":\"string\"},"
    " \"data\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"object\",\"id\",\"title\",\"score\",\"snippet\",\"record\"],"
    "  \"properties\":{\"object\":{\"enum\":[\"customer\",\"contact\",\"ticket\",\"activity\"]},\"id\":{\"type\":\"string\"},"
    "   \"title\":{\"type\":[\"string\",\"null\"]},\"score\":{\"type\":\"number\"},"
    "   \"snippet\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"text\",\"hit\"],"
    "    \"properties\":{\"text\":{\"type\":\"string\"},\"hit\":{\"type\":\"boolean\"}}}},\"record\":{\"type\":\"object\"}}}}}},"
    "\"Tenant\":{\"type\":\"object\",\"required\":[\"id\",\"slug\",\"name\",\"created_at\"],\"properties\":{"
    " \"object\":{\"const\":\"tenant\"},\"id\":{\"type\":\"string\"},\"slug\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    " \"created_at\":{\"type\":\"string\"}}},"
    "\"Session\":{\"type\":\"object\",\"required\":[\"user\",\"tenant\",\"role\",\"csrf_token\"],\"properties\":{"
    " \"user\":{\"anyOf\":[{\"$ref\":\"#/components/schemas/User\"},{\"type\":\"null\"}]},"
    " \"tenant\":{\"$ref\":\"#/components/schemas/Tenant\"},\"role\":{\"type\":\"string\"},\"actor\":{\"type\":\"string\"},"
    " \"csrf_token\":{\"type\":[\"string\",\"null\"]}}},"
    "\"Login\":{\"type\":\"object\",\"required\":[\"tenant\",\"email\",\"password\"],\"additionalProperties\":false,"
    " \"properties\":{\"tenant\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"},\"password\":{\"type\":\"string\"}}},"
    "\"ApiKey\":{\"type\":\"object\",\"required\":[\"id\",\"name\",\"scopes\"],\"properties\":{\"object\":{\"const\":\"api_key\"},"
    " \"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},\"scopes\":{\"type\":\"string\"},\"prefix\":{\"type\":\"string\"},"
    " \"token\":{\"type\":\"string\",\"description\":\"only in the response that creates the key\"},\"note\":{\"type\":\"string\"},"
    " \"created_by\":{\"type\":[\"string\",\"null\"]},\"created_at\":{\"type\":[\"string\",\"null\"]},\"last_used_at\":{\"type\":[\"string\",\"null\"]},"
    " \"expires_at\":{\"type\":[\"string\",\"null\"]},\"revoked_at\":{\"type\":[\"string\",\"null\"]}}},"
    "\"ApiKeyList\":{\"type\":\"object\",\"required\":[\"data\"],\"properties\":{\"data\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/ApiKey\"}},\"next\":{\"type\":\"null\"}}},"
    "\"ApiKeyInput\":{\"type\":\"object\",\"required\":[\"name\"],\"additionalProperties\":false,\"properties\":{"
    " \"name\":{\"type\":\"string\"},\"scopes\":{\"type\":\"string\",\"description\":\"space-separated: read, write, admin\"},"
    " \"expires_at\":{\"type\":\"string\",\"format\":\"date-time\"}}},"
    "\"Job\":{\"type\":\"object\",\"required\":[\"id\",\"status\"],\"properties\":{\"id\":{\"type\":\"string\"},"
    " \"object\":{\"const\":\"job\"},\"kind\":{\"type\":\"string\"},\"status\":{\"enum\":[\"queued\",\"running\",\"succeeded\",\"failed\"]},"
    " \"total\":{\"type\":\"integer\"},\"done\":{\"type\":\"integer\"},\"failed\":{\"type\":\"integer\"},\"percent\":{\"type\":\"number\"}}},"
    "\"JobList\":{\"type\":\"object\",\"required\":[\"data\"],\"properties\":{\"data\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/Job\"}},\"next\":{\"type\":[\"string\",\"null\"]}}},"
    "\"JobErrors\":{\"type\":\"object\",\"required\":[\"data\"],\"properties\":{\"data\":{\"type\":\"array\",\"items\":{"
    " \"type\":\"object\",\"required\":[\"row\",\"message\"],\"properties\":{\"row\":{\"type\":\"integer\"},"
    " \"field\":{\"type\":[\"string\",\"null\"]},\"message\":{\"type\":\"string\"}}}},\"next\":{\"type\":[\"string\",\"null\"]}}},"
    "\"Facets\":{\"type\":\"object\",\"required\":[\"data\"],\"properties\":{\"data\":{\"type\":\"object\","
    " \"additionalProperties\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"value\",\"count\"],"
    "  \"properties\":{\"count\":{\"type\":\"integer\"}}}}}}},"
    "\"Health\":{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{\"const\":\"ok\"}}}}";

/* Schemas of workflow packs, replays, deliveries and the outbound queue. */
static const char *workflow_schemas =
    "{\"Finding\":{\"type\":\"object\",\"required\":[\"file\",\"line\",\"severity\",\"rule\",\"message\"],\"properties\":{"
    " \"file\":{\"type\":\"string\"},\"line\":{\"type\":\"integer\"},\"column\":{\"type\":\"integer\"},"
    " \"severity\":{\"enum\":[\"error\",\"warning\",\"info\"]},\"rule\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}},"
    "\"PackTests\":{\"type\":\"object\",\"required\":[\"passed\",\"failed\",\"results\"],\"properties\":{"
    " \"passed\":{\"type\":\"integer\"},\"failed\":{\"type\":\"integer\"},\"results\":{\"type\":\"array\",\"items\":{"
    "  \"type\":\"object\",\"required\":[\"file\",\"name\",\"outcome\"],\"properties\":{\"file\":{\"type\":\"string\"},"
    "  \"name\":{\"type\":\"string\"},\"outcome\":{\"enum\":[\"passed\",\"failed\"]},\"error\":{\"type\":\"string\"},"
    "  \"location\":{\"type\":\"string\"},\"duration_ms\":{\"type\":\"number\"}}}}}},"
    "\"PackVersion\":{\"type\":\"object\",\"required\":[\"id\",\"pack_id\",\"version\",\"manifest\",\"scan\",\"tests\",\"publishable\"],"
    " \"properties\":{\"object\":{\"const\":\"pack_version\"},\"id\":{\"type\":\"string\"},\"pack_id\":{\"type\":\"string\"},"
    " \"version\":{\"type\":\"string\"},\"manifest\":{\"type\":\"object\"},\"sha256\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\"},"
    " \"scan\":{\"type\":\"object\",\"required\":[\"passed\",\"blocking\",\"findings\"],\"properties\":{\"passed\":{\"type\":\"boolean\"},"
    "  \"blocking\":{\"type\":\"integer\"},\"findings\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Finding\"}}}},"
    " \"tests\":{\"$ref\":\"#/components/schemas/PackTests\"},\"publishable\":{\"type\":\"boolean\"},"
    " \"uploaded_by\":{\"type\":[\"string\",\"null\"]},\"created_at\":{\"type\":\"string\"},"
    " \"files\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"path\",\"size\",\"sha256\"],\"properties\":{"
    "  \"path\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\"},\"sha256\":{\"type\":\"string\"}}}}}},"
    "\"PackFile\":{\"type\":\"object\",\"required\":[\"path\",\"size\",\"content\"],\"properties\":{\"path\":{\"type\":\"string\"},"
    " \"size\":{\"type\":\"integer\"},\"content\":{\"type\":\"string\"}}},"
    "\"Pack\":{\"type\":\"object\",\"required\":[\"id\",\"name\",\"status\",\"published_version\"],\"properties\":{"
    " \"object\":{\"const\":\"pack\"},\"id\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    " \"status\":{\"enum\":[\"draft\",\"published\",\"disabled\"]},\"published_version\":{\"type\":[\"string\",\"null\"]},"
    " \"scope\":{\"type\":[\"string\",\"null\"]},\"unit_id\":{\"type\":[\"string\",\"null\"]},\"settings\":{\"type\":\"object\"},"
    " \"rollback_to\":{\"type\":[\"string\",\"null\"]},\"description\":{\"type\":[\"string\",\"null\"]},"
    " \"created_at\":{\"type\":\"string\"},\"updated_at\":{\"type\":\"string\"},"
    " \"versions\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"id\",\"version\",\"publishable\"]}},"
    " \"publications\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"action\",\"at\"]}}}},"
    "\"PackList\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{\"data\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/Pack\"}},\"next\":{\"type\":\"null\"}}},"
    "\"PublishInput\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    " \"scope\":{\"enum\":[\"tenant\",\"unit\"]},\"unit_id\":{\"type\":[\"string\",\"null\"]},\"settings\":{\"type\":\"object\"}}},"
    "\"RollbackInput\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"version\":{\"type\":\"string\"}}},"
    "\"Run\":{\"type\":\"object\",\"required\":[\"seq\",\"phase\",\"fn\",\"version\",\"outcome\",\"duration_ms\",\"instructions\"],"
    " \"properties\":{\"seq\":{\"type\":\"integer\"},\"event_id\":{\"type\":[\"string\",\"null\"]},\"delivery_id\":{\"type\":[\"string\",\"null\"]},"
    " \"event\":{\"type\":\"string\"},\"phase\":{\"enum\":[\"before\",\"after\",\"schedule\"]},\"fn\":{\"type\":\"string\"},"
    " \"version\":{\"type\":\"string\"},\"started_at\":{\"type\":\"string\"},\"duration_ms\":{\"type\":\"number\"},"
    " \"instructions\":{\"type\":\"integer\"},\"memory\":{\"type\":\"integer\"},\"host_calls\":{\"type\":\"integer\"},"
    " \"rows\":{\"type\":\"integer\"},\"outcome\":{\"enum\":[\"ok\",\"error\",\"rejected\",\"killed\"]},"
    " \"error\":{\"type\":[\"string\",\"null\"]},\"traceback\":{\"type\":[\"string\",\"null\"]},"
    " \"location\":{\"type\":[\"string\",\"null\"]},\"logs\":{\"type\":\"array\"}}},"
    "\"RunList\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{\"data\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/Run\"}},\"next\":{\"type\":[\"string\",\"null\"]}}},"
    "\"Delivery\":{\"type\":\"object\",\"required\":[\"id\",\"status\"],\"properties\":{\"object\":{\"const\":\"delivery\"},"
    " \"id\":{\"type\":\"string\"},\"pack_id\":{\"type\":\"string\"},\"version\":{\"type\":\"string\"},\"fn\":{\"type\":\"string\"},"
    " \"status\":{\"enum\":[\"pending\",\"done\",\"dead\",\"skipped\"]},\"attempts\":{\"type\":\"integer\"},"
    " \"next_attempt_at\":{\"type\":[\"string\",\"null\"]},\"last_error\":{\"type\":[\"string\",\"null\"]},"
    " \"created_at\":{\"type\":\"string\"},\"finished_at\":{\"type\":[\"string\",\"null\"]},\"event_id\":{\"type\":[\"string\",\"null\"]},"
    " \"event\":{\"type\":[\"string\",\"null\"]},\"record_id\":{\"type\":[\"string\",\"null\"]}}},"
    "\"DeliveryList\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{\"data\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/Delivery\"}},\"next\":{\"type\":[\"string\",\"null\"]}}},"
    "\"ReplayInput\":{\"description\":\"events: a JSON array, {events:[…]} or NDJSON\",\"type\":[\"array\",\"object\"]},"
    "\"Replay\":{\"type\":\"object\",\"required\":[\"pack_id\",\"version\",\"dry_run\",\"summary\"],\"properties\":{"
    " \"object\":{\"const\":\"replay\"},\"pack_id\":{\"type\":\"string\"},\"version\":{\"type\":\"string\"},\"dry_run\":{\"const\":true},"
    " \"truncated\":{\"type\":\"boolean\"},\"duration_ms\":{\"type\":\"number\"},"
    " \"summary\":{\"type\":\"object\",\"required\":[\"events\",\"writes_ok\",\"writes_rejected\",\"writes_failed\",\"runs\",\"effects\"]},"
    " \"events\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"index\",\"type\",\"write\",\"runs\"],\"properties\":{"
    "  \"index\":{\"type\":\"integer\"},\"type\":{\"type\":\"string\"},\"write\":{\"type\":\"object\",\"required\":[\"ok\"]},"
    "  \"runs\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"phase\",\"fn\",\"outcome\",\"effects\"]}}}}}}},"
    "\"Outbound\":{\"type\":\"object\",\"required\":[\"id\",\"kind\",\"target\",\"status\"],\"properties\":{"
    " \"object\":{\"const\":\"outbound\"},\"id\":{\"type\":\"string\"},\"kind\":{\"enum\":[\"http\",\"email\"]},"
    " \"method\":{\"type\":[\"string\",\"null\"]},\"target\":{\"type\":\"string\"},\"request\":{\"type\":[\"object\",\"null\"]},"
    " \"status\":{\"type\":\"string\"},\"attempts\":{\"type\":\"integer\"},\"created_by\":{\"type\":[\"string\",\"null\"]},"
    " \"event_id\":{\"type\":[\"string\",\"null\"]},\"created_at\":{\"type\":\"string\"}}},"
    "\"OutboundList\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{\"data\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/Outbound\"}},\"next\":{\"type\":[\"string\",\"null\"]}}},"
    "\"BudgetLimits\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    " \"instructions\":{\"type\":\"integer\",\"minimum\":1},\"memory\":{\"type\":\"integer\",\"minimum\":1},"
    " \"wall_ms\":{\"type\":\"integer\",\"minimum\":1},\"host_calls\":{\"type\":\"integer\",\"minimum\":1},"
    " \"rows\":{\"type\":\"integer\",\"minimum\":1}}},"
    "\"WorkflowBudgetInput\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    " \"before\":{\"$ref\":\"#/components/schemas/BudgetLimits\"},\"after\":{\"$ref\":\"#/components/schemas/BudgetLimits\"}}},"
    "\"WorkflowBudget\":{\"type\":\"object\",\"required\":[\"override\",\"default_before\",\"default_after\"],\"properties\":{"
    " \"override\":{\"$ref\":\"#/components/schemas/WorkflowBudgetInput\"},\"default_before\":{\"type\":\"object\"},"
    " \"default_after\":{\"type\":\"object\"}}}}";

/* Schemas of suggestion outcomes, the review audit, rules and KPIs. */
static const char *sugg_schemas =
    "{\"OutcomeInput\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"note\":{\"type\":[\"string\","
    " \"null\"],\"maxLength\":1000}}},"
    "\"DismissInput\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"reason\"],\"properties\":{\"reason\":{\"type\":\"string\","
    " \"minLength\":1,\"maxLength\":1000}}},"
    "\"SampleInput\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"month\"],\"properties\":{\"month\":{\"type\":\"string\","
    " \"pattern\":\"^[0-9]{4}-(0[1-9]|1[0-2])$\",\"description\":\"calendar month, UTC\"},"
    " \"partial\":{\"type\":\"boolean\",\"description\":\"draw a month that is not over yet (kept for good)\"}}},"
    "\"ReviewSample\":{\"type\":\"object\",\"required\":[\"object\",\"id\",\"month\",\"seed\",\"population\",\"size\",\"rules\","
    " \"suggestion_ids\",\"review_ids\",\"drawn_at\",\"drawn_now\"],\"properties\":{\"object\":{\"const\":\"review_sample\"},"
    " \"id\":{\"type\":\"string\"},\"month\":{\"type\":\"string\"},\"seed\":{\"type\":\"string\"},\"population\":{\"type\":\"integer\"},"
    " \"size\":{\"type\":\"integer\"},\"rules\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"rule\",\"population\","
    " \"sampled\"],\"properties\":{\"rule\":{\"type\":[\"string\",\"null\"]},\"population\":{\"type\":\"integer\"},\"sampled\":{\"type\":\"integer\"}}}},"
    " \"suggestion_ids\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"review_ids\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    " \"drawn_at\":{\"type\":\"string\",\"format\":\"date-time\"},\"drawn_by\":{\"type\":[\"string\",\"null\"]},\"drawn_now\":{\"type\":\"boolean\"}}},"
    "\"Review\":{\"type\":\"object\",\"required\":[\"object\",\"id\",\"month\",\"sample_id\",\"suggestion_id\",\"status\","
    " \"shortened\",\"suggestion\"],\"properties\":{\"object\":{\"const\":\"review\"},\"id\":{\"type\":\"string\"},\"month\":{\"type\":\"string\"},"
    " \"sample_id\":{\"type\":\"string\"},\"suggestion_id\":{\"type\":\"string\"},\"rule\":{\"type\":[\"string\",\"null\"]},"
    " \"status\":{\"enum\":[\"pending\",\"done\"]},\"position\":{\"type\":\"integer\"},\"shortened\":{\"type\":[\"boolean\","
    " \"null\"]},\"reason\":{\"type\":[\"string\",\"null\"]},\"reviewed_by\":{\"type\":[\"string\",\"null\"]},\"reviewed_at\":{\"type\":[\"string\","
    " \"null\"],\"format\":\"date-time\"},\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},\"suggestion\":{\"anyOf\":[{\"$ref\":\"#/components/schemas/Suggestion\"},"
    " {\"type\":\"null\"}]}}},"
    "\"ReviewList\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{\"data\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Review\"}},"
    " \"next\":{\"type\":[\"string\",\"null\"]},\"total\":{\"type\":\"integer\"}}},"
    "\"VerdictInput\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"shortened\",\"reason\"],\"properties\":{\"shortened\":{\"type\":\"boolean\","
    " \"description\":\"did it shorten the path to the customer's decision\"},\"reason\":{\"type\":\"string\",\"minLength\":1,"
    " \"maxLength\":1000}}},"
    "\"ReviewReport\":{\"type\":\"object\",\"required\":[\"object\",\"month\",\"sample_id\",\"thresholds\",\"data\"],\"properties\":{\"object\":{\"const\":\"review_report\"},"
    " \"month\":{\"type\":\"string\"},\"sample_id\":{\"type\":[\"string\",\"null\"]},\"thresholds\":{\"type\":\"object\",\"required\":[\"min_acceptance\","
    " \"max_confirmed\",\"min_reviews\"],\"properties\":{\"min_acceptance\":{\"type\":\"number\"},\"max_confirmed\":{\"type\":\"number\"},"
    " \"min_reviews\":{\"type\":\"integer\"}}},\"data\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"rule\","
    " \"status\",\"volume\",\"accepted\",\"dismissed\",\"open\",\"expired\",\"acceptance_rate\",\"sampled\",\"reviewed\","
    " \"confirmed\",\"confirmed_rate\",\"gap\",\"flag\"],\"properties\":{\"object\":{\"const\":\"rule_report\"},\"rule\":{\"type\":[\"string\","
    " \"null\"]},\"status\":{\"enum\":[\"active\",\"retired\"]},\"volume\":{\"type\":\"integer\"},\"accepted\":{\"type\":\"integer\"},"
    " \"dismissed\":{\"type\":\"integer\"},\"open\":{\"type\":\"integer\"},\"expired\":{\"type\":\"integer\"},\"acceptance_rate\":{\"type\":[\"number\","
    " \"null\"]},\"sampled\":{\"type\":\"integer\"},\"reviewed\":{\"type\":\"integer\"},\"confirmed\":{\"type\":\"integer\"},"
    " \"confirmed_rate\":{\"type\":[\"number\",\"null\"]},\"gap\":{\"type\":[\"number\",\"null\"]},\"flag\":{\"enum\":[\"no business value\","
    " null]}}}}}},"
    "\"Rule\":{\"type\":\"object\",\"required\":[\"object\",\"rule\",\"status\",\"volume\"],\"properties\":{\"object\":{\"const\":\"rule\"},"
    " \"rule\":{\"type\":\"string\"},\"status\":{\"enum\":[\"active\",\"retired\"]},\"volume\":{\"type\":\"integer\"},\"open\":{\"type\":\"integer\"},"
    " \"accepted\":{\"type\":\"integer\"},\"dismissed\":{\"type\":\"integer\"},\"expired\":{\"type\":\"integer\"},\"first_seen\":{\"type\":[\"string\","
    " \"null\"],\"format\":\"date-time\"},\"last_seen\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},\"reason\":{\"type\":[\"string\","
    " \"null\"]},\"changed_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},\"changed_by\":{\"type\":[\"string\","
    " \"null\"]}}},"
    "\"RuleList\":{\"type\":\"object\",\"required\":[\"data\",\"next\"],\"properties\":{\"data\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Rule\"}},"
    " \"next\":{\"type\":\"null\"}}},"
    "\"RetireInput\":{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"rule\",\"reason\"],\"properties\":{\"rule\":{\"type\":\"string\","
    " \"minLength\":1,\"maxLength\":200,\"description\":\"the rule as suggestions name it, e.g. my-pack/late-delivery\"},"
    " \"reason\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1000}}},"
    "\"KpiStats\":{\"type\":\"object\",\"required\":[\"count\",\"won\",\"lost\",\"mean_days\",\"median_days\",\"p25_days\","
    " \"p75_days\"],\"properties\":{\"key\":{\"type\":\"string\"},\"label\":{\"type\":[\"string\",\"null\"]},\"count\":{\"type\":\"integer\"},"
    " \"won\":{\"type\":\"integer\"},\"lost\":{\"type\":\"integer\"},\"mean_days\":{\"type\":[\"number\",\"null\"]},\"median_days\":{\"type\":[\"number\","
    " \"null\"]},\"p25_days\":{\"type\":[\"number\",\"null\"]},\"p75_days\":{\"type\":[\"number\",\"null\"]}}},"
    "\"DecisionChain\":{\"type\":\"object\",\"required\":[\"object\",\"kpi\",\"group\",\"basis\",\"from\",\"to\",\"data\",\"total\","
    " \"compare\"],\"properties\":{\"object\":{\"const\":\"kpi\"},\"kpi\":{\"const\":\"decision-chain\"},\"group\":{\"enum\":[\"quarter\","
    " \"month\",\"owner\",\"product\"]},\"basis\":{\"const\":\"close_date\"},\"from\":{\"type\":[\"string\",\"null\"]},\"to\":{\"type\":[\"string\","
    " \"null\"]},\"data\":{\"type\":\"array\",\"items\":{\"allOf\":[{\"$ref\":\"#/components/schemas/KpiStats\"},{\"required\":[\"key\"]}]}},"
    " \"total\":{\"$ref\":\"#/components/schemas/KpiStats\"},\"compare\":{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"object\","
    " \"required\":[\"by\",\"ratio\",\"a\",\"b\"],\"properties\":{\"by\":{\"enum\":[\"periods\",\"suggestions\"]},\"ratio\":{\"type\":[\"number\","
    " \"null\"]},\"a\":{\"$ref\":\"#/components/schemas/KpiStats\"},\"b\":{\"$ref\":\"#/components/schemas/KpiStats\"}}}]}}}}";
/* Intent dictionaries, models, tags and profiles (api_intel.c). */
static const char *intel_schemas =
    "{\"RowIssue\":{\"type\":\"object\",\"required\":[\"row\",\"message\"],"
    " \"properties\":{\"row\":{\"type\":\"integer\"},\"message\":{\"type\":\"string\"}}},"
    "\"IntentDictionary\":{\"type\":\"object\",\"required\":[\"object\",\"version\",\"active\",\"builtin\","
    " \"digest\",\"terms\",\"intents\"],\"properties\":{\"object\":{\"const\":\"intent_dictionary\"},"
    " \"version\":{\"type\":\"integer\",\"minimum\":0},\"active\":{\"type\":\"boolean\"},"
    " \"builtin\":{\"type\":\"boolean\"},\"digest\":{\"type\":\"string\"},\"terms\":{\"type\":\"integer\"},"
    " \"intents\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}},"
    " \"encoding\":{\"type\":[\"string\",\"null\"]},\"bom\":{\"type\":[\"boolean\",\"null\"]},"
    " \"rows_accepted\":{\"type\":[\"integer\",\"null\"]},\"rows_rejected\":{\"type\":[\"integer\","
    " \"null\"]},\"duplicates\":{\"type\":[\"integer\",\"null\"]},\"errors\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/RowIssue\"}},\"warnings\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/RowIssue\"}},\"file_name\":{\"type\":[\"string\","
    " \"null\"]},\"file_size\":{\"type\":[\"integer\",\"null\"]},\"created_by\":{\"type\":[\"string\","
    " \"null\"]},\"created_at\":{\"type\":[\"string\",\"null\"]}}},"
    "\"IntentDictionaryList\":{\"type\":\"object\",\"required\":[\"data\",\"active_version\",\"next\"],"
    " \"properties\":{\"data\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/IntentDictionary\"}},"
    " \"active_version\":{\"type\":\"integer\"},\"next\":{\"type\":\"null\"}}},"
    "\"IntentHit\":{\"type\":\"object\",\"required\":[\"term\",\"field\",\"start\",\"end\",\"char_start\","
    " \"char_end\",\"text\",\"weight\",\"counted\"],\"properties\":{\"term\":{\"type\":\"string\"},"
    " \"field\":{\"type\":\"string\"},\"start\":{\"type\":\"integer\"},\"end\":{\"type\":\"integer\"},"
    " \"char_start\":{\"type\":\"integer\"},\"char_end\":{\"type\":\"integer\"},\"text\":{\"type\":\"string\"},"
    " \"weight\":{\"type\":\"number\"},\"counted\":{\"type\":\"boolean\"}}},"
    "\"IntentScore\":{\"type\":\"object\",\"required\":[\"intent\",\"score\",\"hits\"],"
    " \"properties\":{\"intent\":{\"type\":\"string\"},\"score\":{\"type\":\"number\"},"
    " \"hits\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/IntentHit\"}}}},"
    "\"TextSentiment\":{\"type\":[\"object\",\"null\"],\"required\":[\"score\",\"model_id\","
    " \"model_version\"],\"properties\":{\"score\":{\"type\":\"number\",\"minimum\":-1,\"maximum\":1},"
    " \"model_id\":{\"type\":\"string\"},\"model_version\":{\"type\":\"integer\"}}},"
    "\"IntentTestInput\":{\"type\":\"object\",\"required\":[\"text\"],\"additionalProperties\":false,"
    " \"properties\":{\"text\":{\"type\":\"string\",\"maxLength\":100000},"
    " \"dictionary_version\":{\"type\":\"integer\",\"minimum\":0,"
    " \"description\":\"default: the active one; 0: the built-in dictionary\"}}},"
    "\"IntentTest\":{\"type\":\"object\",\"required\":[\"intents\",\"dictionary_version\",\"sentiment\"],"
    " \"properties\":{\"intents\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/IntentScore\"}},"
    " \"dictionary_version\":{\"type\":\"integer\"},"
    " \"sentiment\":{\"$ref\":\"#/components/schemas/TextSentiment\"},"
    " \"truncated\":{\"type\":\"boolean\"}}},"
    "\"Model\":{\"type\":\"object\",\"required\":[\"object\",\"id\",\"version\",\"name\",\"kind\",\"status\","
    " \"active\",\"builtin\"],\"properties\":{\"object\":{\"const\":\"model\"},\"id\":{\"type\":\"string\"},"
    " \"version\":{\"type\":\"integer\",\"minimum\":0},\"name\":{\"type\":\"string\"},"
    " \"kind\":{\"enum\":[\"sentiment\",\"classifier\"]},\"status\":{\"enum\":[\"training\",\"ready\","
    " \"failed\"]},\"active\":{\"type\":\"boolean\"},\"builtin\":{\"type\":\"boolean\"},"
    " \"labels\":{\"type\":[\"array\",\"null\"],\"items\":{\"type\":\"string\"}},"
    " \"positive\":{\"type\":[\"string\",\"null\"]},\"report\":{\"type\":[\"object\",\"null\"],"
    " \"properties\":{\"n\":{\"type\":\"integer\"},\"accuracy\":{\"type\":\"number\"},"
    " \"holdout_every\":{\"type\":\"integer\"},\"unknown_labels\":{\"type\":\"integer\"},"
    " \"labels\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"label\",\"precision\","
    " \"recall\",\"f1\",\"support\"]}},\"confusion\":{\"type\":\"array\",\"items\":{\"type\":\"array\","
    " \"items\":{\"type\":\"integer\"}}}}},\"rows\":{\"type\":[\"object\",\"null\"],"
    " \"properties\":{\"total\":{\"type\":\"integer\"},\"trained\":{\"type\":\"integer\"},"
    " \"held_out\":{\"type\":\"integer\"},\"skipped\":{\"type\":\"integer\"}}},"
    " \"holdout_every\":{\"type\":[\"integer\",\"null\"]},\"options\":{\"type\":[\"object\",\"null\"]},"
    " \"size\":{\"type\":[\"integer\",\"null\"]},\"sha256\":{\"type\":[\"string\",\"null\"]},"
    " \"train_ms\":{\"type\":[\"integer\",\"null\"]},\"job_id\":{\"type\":[\"string\",\"null\"]},"
    " \"error\":{\"type\":[\"string\",\"null\"]},\"file_name\":{\"type\":[\"string\",\"null\"]},"
    " \"created_by\":{\"type\":[\"string\",\"null\"]},\"created_at\":{\"type\":[\"string\",\"null\"]},"
    " \"finished_at\":{\"type\":[\"string\",\"null\"]}}},"
    "\"ModelList\":{\"type\":\"object\",\"required\":[\"data\",\"active_id\",\"next\"],"
    " \"properties\":{\"data\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Model\"}},"
    " \"active_id\":{\"type\":\"string\"},\"next\":{\"type\":\"null\"}}},"
    "\"PredictInput\":{\"type\":\"object\",\"required\":[\"text\"],\"additionalProperties\":false,"
    " \"properties\":{\"text\":{\"type\":\"string\",\"maxLength\":100000}}},"
    "\"Prediction\":{\"type\":\"object\",\"required\":[\"model_id\",\"model_version\",\"label\","
    " \"probabilities\",\"sentiment\"],\"properties\":{\"model_id\":{\"type\":\"string\"},"
    " \"model_version\":{\"type\":\"integer\"},\"label\":{\"type\":\"string\"},"
    " \"probabilities\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}},"
    " \"sentiment\":{\"type\":[\"number\",\"null\"],\"minimum\":-1,\"maximum\":1}}},"
    "\"Tags\":{\"type\":\"object\",\"required\":[\"object\",\"object_type\",\"object_id\",\"customer_id\","
    " \"dictionary_version\",\"intents\",\"sentiment\",\"signal_at\",\"tagged_at\"],"
    " \"properties\":{\"object\":{\"const\":\"tags\"},\"object_type\":{\"enum\":[\"activity\",\"ticket\"]},"
    " \"object_id\":{\"type\":\"string\"},\"customer_id\":{\"type\":[\"string\",\"null\"]},"
    " \"dictionary_version\":{\"type\":[\"integer\",\"null\"]},\"intents\":{\"type\":\"array\","
    " \"items\":{\"$ref\":\"#/components/schemas/IntentScore\"}},"
    " \"sentiment\":{\"$ref\":\"#/components/schemas/TextSentiment\"},"
    " \"signal_at\":{\"type\":[\"string\",\"null\"]},\"tagged_at\":{\"type\":[\"string\",\"null\"]}}},"
    "\"CustomerIntents\":{\"type\":\"object\",\"required\":[\"object\",\"customer_id\",\"half_life_days\","
    " \"at\",\"intents\",\"sentiment\"],\"properties\":{\"object\":{\"const\":\"customer_intents\"},"
    " \"customer_id\":{\"type\":\"string\"},\"half_life_days\":{\"type\":\"integer\"},"
    " \"at\":{\"type\":\"string\"},\"intents\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    " \"required\":[\"intent\",\"score\",\"last_at\",\"signals\"],"
    " \"properties\":{\"intent\":{\"type\":\"string\"},\"score\":{\"type\":\"number\",\"minimum\":0},"
    " \"last_at\":{\"type\":\"string\"},\"signals\":{\"type\":\"integer\",\"minimum\":1}}}},"
    " \"sentiment\":{\"type\":[\"object\",\"null\"],\"required\":[\"average\",\"weight\",\"last_at\","
    " \"signals\"],\"properties\":{\"average\":{\"type\":\"number\",\"minimum\":-1,\"maximum\":1},"
    " \"weight\":{\"type\":\"number\"},\"last_at\":{\"type\":\"string\"},"
    " \"signals\":{\"type\":\"integer\"}}}}}}";

/* Paths that are not generic object CRUD: method, path, summary, response schema, code. */
static const struct {
    const char *method, *path, *summary, *schema, *code;
    bool public_;
    const char *body;         /* request schema, or NULL */
    const char *also;         /* a second success code with the same schema */
} special[] = {
    {"get", "/healthz", "liveness", "Health", "200", true, NULL, NULL},
    {"post", "/api/v1/session", "sign in; sets the HttpOnly session cookie", "Session", "200", true, NULL, NULL},
    {"get", "/api/v1/session", "the signed-in user, tenant, role and CSRF token", "Session", "200", false, NULL, NULL},
    {"delete", "/api/v1/session", "sign out", NULL, "204", false, NULL, NULL},
    {"get", "/api/v1/tenant", "the caller's tenant", "Tenant", "200", false, NULL, NULL},
    {"get", "/api/v1/search", "full-text search over customers, contacts, tickets and activities (?q=, ?types=, ?limit=)", "SearchResults", "200", false, NULL, NULL},
    {"get", "/api/v1/audit", "the tenant's audit trail, newest first (?object=, ?limit=, ?after=)", "AuditList", "200", false, NULL, NULL},
    {"get", "/api/v1/audit/verify", "recompute the audit hash chain; names the first broken row", "AuditVerify", "200", false, NULL, NULL},
    {"get", "/api/v1/api-keys", "API keys (never their secrets)", "ApiKeyList", "200", false, NULL, NULL},
    {"post", "/api/v1/api-keys", "create an API key; the token is in this response only", "ApiKey", "201", false, NULL, NULL},
    {"delete", "/api/v1/api-keys/{id}", "revoke an API key", NULL, "204", false, NULL, NULL},
    {"post", "/api/v1/users/{id}/password", "set a user's password ({\"password\"}: at least 10 characters)", NULL, "204", false, NULL, NULL},
    {"post", "/api/v1/imports", "start a CSV import (multipart: file + options JSON)", "Job", "202", false, NULL, NULL},
    {"post", "/api/v1/imports/preview", "preview a CSV: header, first rows, suggested mapping", NULL, "200", false, NULL, NULL},
    {"get", "/api/v1/jobs", "background jobs, newest first", "JobList", "200", false, NULL, NULL},
    {"get", "/api/v1/jobs/{id}", "a job's status and progress", "Job", "200", false, NULL, NULL},
    {"get", "/api/v1/jobs/{id}/errors", "a job's per-row errors (?format=csv for CSV)", "JobErrors", "200", false, NULL, NULL},
    {"get", "/api/v1/exports/{object}", "the filtered list as CSV (same filters as the list)", NULL, "200", false, NULL, NULL},
    {"get", "/api/v1/customers/{id}/timeline", "deals, tickets and activities of a customer, newest first", "Timeline", "200", false, NULL, NULL},
    {"get", "/api/v1/deals/summary", "deal counts and amounts per stage (?owner_id=, ?product_id=, ?pipeline_id=)", "DealSummary", "200", false, NULL, NULL},
    {"get", "/api/v1/deals/{id}/stages", "a deal's stage changes with their times", "StageChanges", "200", false, NULL, NULL},
    {"post", "/api/v1/packs", "upload a workflow pack version: a .zip or .tar.gz as the body or as multipart field 'file' (201; 200 when the same archive was uploaded before)", "PackVersion", "201", false, NULL, "200"},
    {"get", "/api/v1/packs", "workflow packs", "PackList", "200", false, NULL, NULL},
    {"get", "/api/v1/packs/{id}", "a pack with its versions and publications", "Pack", "200", false, NULL, NULL},
    {"get", "/api/v1/packs/{id}/history", "a pack's audited changes (upload, publish, disable, rollback)", "AuditList", "200", false, NULL, NULL},
    {"get", "/api/v1/packs/{id}/runs", "the pack's run log, newest first (?outcome=, ?limit=, ?after=)", "RunList", "200", false, NULL, NULL},
    {"get", "/api/v1/packs/{id}/deliveries", "the pack's after-handler deliveries (?status=pending|done|dead|skipped)", "DeliveryList", "200", false, NULL, NULL},
    {"post", "/api/v1/packs/{id}/disable", "stop the pack", "Pack", "200", false, NULL, NULL},
    {"post", "/api/v1/packs/{id}/rollback", "run the previously published (or the named) version again", "Pack", "200", false, "RollbackInput", NULL},
    {"get", "/api/v1/packs/{id}/versions/{version}", "a version: manifest, files, compliance scan, tests", "PackVersion", "200", false, NULL, NULL},
    {"get", "/api/v1/packs/{id}/versions/{version}/file", "one file of a version (?path=)", "PackFile", "200", false, NULL, NULL},
    {"post", "/api/v1/packs/{id}/versions/{version}/publish", "publish the version to the tenant or one unit, with setting values", "Pack", "200", false, "PublishInput", NULL},
    {"post", "/api/v1/packs/{id}/versions/{version}/replay", "dry run: make the events' writes with this version's handlers and roll everything back (?detail=summary)", "Replay", "200", false, "ReplayInput", NULL},
    {"get", "/api/v1/deliveries", "after-handler deliveries of all packs (?status=dead: the dead-letter list)", "DeliveryList", "200", false, NULL, NULL},
    {"post", "/api/v1/deliveries/{id}/retry", "queue a dead-lettered delivery again", "Delivery", "200", false, NULL, NULL},
    {"get", "/api/v1/outbound", "HTTP calls and e-mails workflows queued (?status=)", "OutboundList", "200", false, NULL, NULL},
    {"get", "/api/v1/settings/workflow-budget", "the tenant's workflow budgets and Axon's defaults", "WorkflowBudget", "200", false, NULL, NULL},
    {"put", "/api/v1/settings/workflow-budget", "set the tenant's workflow budgets ({} resets)", "WorkflowBudgetInput", "200", false, "WorkflowBudgetInput", NULL},
    {"post", "/api/v1/suggestions/{id}/accept", "accept an open suggestion (optional {\"note\"}; If-Match; 409 decided or expired)", "Suggestion", "200", false, "OutcomeInput", NULL},
    {"post", "/api/v1/suggestions/{id}/dismiss", "dismiss an open suggestion, saying why (If-Match; 409 decided or expired)", "Suggestion", "200", false, "DismissInput", NULL},
    {"post", "/api/v1/suggestions/{id}/complete", "mark an open or accepted suggestion done (optional {\"note\"}; If-Match)", "Suggestion", "200", false, "OutcomeInput", NULL},
    {"post", "/api/v1/reviews/samples", "draw a month's review sample: 5% of its suggestions, at least one per rule; drawing the month again returns the stored sample", "ReviewSample", "200", false, "SampleInput", NULL},
    {"get", "/api/v1/reviews", "the review queue with each suggestion (?month=, ?status=pending|done, ?rule=, ?limit=, ?after=, ?count=)", "ReviewList", "200", false, NULL, NULL},
    {"get", "/api/v1/reviews/report", "per rule of a month (?month=, default this one): volume, acceptance, confirmed value, gap, 'no business value' flag (?min_acceptance=, ?max_confirmed=, ?min_reviews=)", "ReviewReport", "200", false, NULL, NULL},
    {"post", "/api/v1/reviews/{id}", "a reviewer's verdict: did the suggestion shorten the path to the customer's decision, and why", "Review", "200", false, "VerdictInput", NULL},
    {"get", "/api/v1/rules", "rules that made suggestions, with status and counts", "RuleList", "200", false, NULL, NULL},
    {"post", "/api/v1/rules/retire", "retire a rule (named in the body): it makes no more suggestions", "Rule", "200", false, "RetireInput", NULL},
    {"get", "/api/v1/kpis/decision-chain", "days from engagement to decision of won and lost deals (?group=quarter|month|owner|product, ?from=, ?to=, ?compare=2017Q1,2017Q2 or suggestions)", "DecisionChain", "200", false, NULL, NULL},
    {"post", "/api/v1/intents/dictionaries", "upload a term table (CSV intent,term,weight,lang; UTF-8 with or without BOM, or GB18030) as the body or multipart field 'file': the next version, active unless ?activate=false; the load report lists rejected rows", "IntentDictionary", "201", false, NULL, NULL},
    {"get", "/api/v1/intents/dictionaries", "dictionary versions, newest first, and the built-in one (version 0)", "IntentDictionaryList", "200", false, NULL, NULL},
    {"get", "/api/v1/intents/dictionaries/{version}", "a dictionary version (0: the built-in one) with its load report and terms per intent", "IntentDictionary", "200", false, NULL, NULL},
    {"post", "/api/v1/intents/dictionaries/{version}/activate", "make a version (0: the built-in one) the tenant's dictionary", "IntentDictionary", "200", false, NULL, NULL},
    {"post", "/api/v1/intents/test", "tag a text: intents with their evidence and sentiment, with the active (or the named) dictionary version", "IntentTest", "200", false, "IntentTestInput", NULL},
    {"post", "/api/v1/models", "train a model from a labelled CSV (text,label; multipart: file + options JSON): a background job (GET /api/v1/jobs/{id} for progress)", "Model", "202", false, NULL, NULL},
    {"get", "/api/v1/models", "models, newest first, and the built-in sentiment model (id default)", "ModelList", "200", false, NULL, NULL},
    {"get", "/api/v1/models/{id}", "a model with its held-out report (accuracy, per-label precision, recall, F1, confusion matrix)", "Model", "200", false, NULL, NULL},
    {"post", "/api/v1/models/{id}/activate", "make a sentiment model (or default) the one that scores the tenant's texts", "Model", "200", false, NULL, NULL},
    {"post", "/api/v1/models/{id}/predict", "a model's label, probabilities and sentiment for a text", "Prediction", "200", false, "PredictInput", NULL},
    {"get", "/api/v1/activities/{id}/tags", "an activity's intents (with evidence) and sentiment, tagged when it was written", "Tags", "200", false, NULL, NULL},
    {"get", "/api/v1/tickets/{id}/tags", "a ticket's intents (with evidence) and sentiment, tagged when it was written", "Tags", "200", false, NULL, NULL},
    {"get", "/api/v1/customers/{id}/intents", "a customer's intent profile: decaying scores per intent and sentiment average", "CustomerIntents", "200", false, NULL, NULL},
};

/* The path parameters of a template: each {name} segment. */
static json_t *path_params(const char *path)
{
    json_t *ps = NULL;
    for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (!end)
            break;
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        if (!ps)
            ps = json_array();
        json_array_append_new(ps, param(name, "path", true, json_pack("{s:s}", "type", "string"), NULL));
    }
    return ps;
}

static void special_paths(json_t *paths)
{
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        json_t *item = json_object_get(paths, special[i].path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, special[i].path, item);
        }
        char opid[96];
        snprintf(opid, sizeof opid, "%s", special[i].path + (strncmp(special[i].path, "/api/v1/", 8) ? 1 : 8));
        for (char *p = opid; *p; p++)
            if (!isalnum((unsigned char)*p))
                *p = '_';
        char full[128];
        snprintf(full, sizeof full, "%s_%s", special[i].method, opid);
        json_t *params = path_params(special[i].path);
        json_t *body = special[i].body ? ref(special[i].body) : NULL;
        if (!strcmp(special[i].path, "/api/v1/session") && !strcmp(special[i].method, "post"))
            body = ref("Login");
        if (!strcmp(special[i].path, "/api/v1/api-keys") && !strcmp(special[i].method, "post"))
            body = ref("ApiKeyInput");
        json_t *ok = special[i].schema ? json_response(special[i].summary, ref(special[i].schema)) : NULL;
        json_t *op = operation(special[i].summary, full, params, body, special[i].code, ok);
        if (special[i].also && ok)
            json_object_set(json_object_get(op, "responses"), special[i].also, ok);
        if (special[i].public_)
            json_object_set_new(op, "security", json_array());
        json_object_set_new(item, special[i].method, op);
    }
}

static void build(void)
{
    json_error_t je;
    json_t *schemas = json_loads(common_schemas, 0, &je);
    if (!schemas) {
        log_error("openapi: common schemas: %s at %d", je.text, je.position);
        return;
    }
    json_t *more = json_loads(workflow_schemas, 0, &je);
    if (!more) {
        log_error("openapi: workflow schemas: %s at %d", je.text, je.position);
        json_decref(schemas);
        return;
    }
    json_object_update(schemas, more);
    json_decref(more);
    if (!(more = json_loads(sugg_schemas, 0, &je))) {
        log_error("openapi: suggestion schemas: %s at %d", je.text, je.position);
        json_decref(schemas);
        return;
    }
    json_object_update(schemas, more);
    json_decref(more);
    more = json_loads(intel_schemas, 0, &je);
    if (!more) {
        log_error("openapi: intel schemas: %s at %d", je.text, je.position);
        json_decref(schemas);
        return;
    }
    json_object_update(schemas, more);
    json_decref(more);
    json_t *paths = json_object();
    int n;
    const struct object_def *const *all = model_all(&n);
    for (int i = 0; i < n; i++)
        object_schemas(schemas, all[i]);
    special_paths(paths);
    for (int i = 0; i < n; i++)
        object_paths(paths, all[i]);
    json_t *openapi_path = json_pack("{s:{s:s,s:s,s:[],s:{s:{s:s}}}}", "get", "summary",
                                     "this document", "operationId", "get_openapi", "security",
                                     "responses", "200", "description", "OpenAPI 3.1");
    json_object_set_new(paths, "/api/v1/openapi.json", openapi_path);
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:[{s:[]},{s:[]}],s:o,s:{s:o,s:{s:{s:s,s:s},s:{s:s,s:s,s:s}}}}",
        "openapi", "3.1.0",
        "info", "title", "Axon CRM API", "version", "1.0.0", "description",
        "Multi-tenant CRM. JSON under /api/v1; cursor pagination (?limit=&after=, response "
        "{data, next}); errors are RFC 9457 problem+json; ETag/If-Match on updates; "
        "Idempotency-Key on POST; X-Request-Id echoed; 413/429 with Retry-After.",
        "servers", "url", "/",
        "security", "bearer", "session",
        "paths", paths,
        "components", "schemas", schemas, "securitySchemes",
        "bearer", "type", "http", "scheme", "bearer",
        "session", "type", "apiKey", "in", "cookie", "name", "axon_session");
    doc_text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
}

void api_openapi(struct req *r)
{
    pthread_once(&doc_once, build);
    if (!doc_text) {
        http_reply_problem(r, AX_EINTERNAL, "the OpenAPI document could not be built");
        return;
    }
    http_add_header(r, "Cache-Control", "public, max-age=300");
    http_reply_json(r, 200, doc_text);
}
