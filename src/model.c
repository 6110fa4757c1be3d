/* model.c - the object tables and input validation that needs no database. */
#include "axon/model.h"

#include "axon/ids.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const model_system_fields[] = {
    "id", "object", "version", "created_at", "updated_at", "created_by", "tenant_id", NULL
};

static const char *const role_names[] = {"admin", "manager", "sales", "service", "read_only", NULL};

const char *role_name(int role)
{
    for (int i = 0; role_names[i]; i++)
        if (role == (1 << i))
            return role_names[i];
    return "none";
}

int role_parse(const char *s)
{
    for (int i = 0; role_names[i]; i++)
        if (strcmp(s, role_names[i]) == 0)
            return 1 << i;
    return 0;
}

/* ---- choices ---- */
static const char *const customer_kinds[] = {"company", "person", NULL};
static const char *const priorities[] = {"low", "medium", "high", "critical", NULL};
static const char *const ticket_statuses[] = {"open", "pending", "resolved", "closed", NULL};
static const char *const channels[] = {"email", "phone", "chat", "social_media", "web",
                                       "in_person", "other", NULL};
static const char *const activity_kinds[] = {"email", "chat", "call", "note", "meeting",
                                             "review", "sms", "task", NULL};
static const char *const directions[] = {"inbound", "outbound", "internal", NULL};
static const char *const locales[] = {"en", "zh", NULL};
static const char *const field_types[] = {"text", "number", "date", "bool", "enum", NULL};
static const char *const custom_objects[] = {"customers", "contacts", "products", "deals",
                                             "tickets", "activities", NULL};
static const char *const suggestion_statuses[] = {"open", "accepted", "dismissed", "completed",
                                                  "expired", NULL};
static const char *const approval_statuses[] = {"pending", "approved", "rejected", "cancelled",
                                                NULL};

#define NOT_SERVICE (ROLE_ADMIN | ROLE_MANAGER | ROLE_SALES | ROLE_READONLY)
#define EXT {"external_id", FT_TEXT, F_KEY | F_FILTER, 200, NULL, NULL, NULL, 0, \
             "your system's id for this record; upserts match on it"}
#define ATTRS {"attrs", FT_ATTRS, 0, 0, NULL, NULL, NULL, 0, \
               "custom fields declared in /api/v1/fields"}
#define OWNER {"owner_id", FT_REF, F_FILTER | F_SORT, 0, "users", NULL, NULL, 0, \
               "user who owns the record (default: the creator)"}
#define UNIT {"unit_id", FT_REF, F_FILTER, 0, "units", NULL, NULL, 0, \
              "business unit that owns the record (default: the owner's)"}

static const struct field_def customer_fields[] = {
    {"name", FT_TEXT, F_REQUIRED | F_SORT | F_FILTER | F_KEY | F_TITLE, 300, NULL, NULL, NULL, 0, "account or person name"},
    {"kind", FT_ENUM, F_FILTER, 0, NULL, customer_kinds, "\"company\"", 0, "company or person"},
    {"email", FT_EMAIL, F_FILTER | F_KEY | F_BODY, 254, NULL, NULL, NULL, 0, NULL},
    {"phone", FT_TEXT, F_BODY, 50, NULL, NULL, NULL, 0, NULL},
    {"website", FT_TEXT, F_BODY, 300, NULL, NULL, NULL, 0, NULL},
    {"sector", FT_TEXT, F_FILTER | F_SORT | F_BODY, 100, NULL, NULL, NULL, 0, "industry"},
    {"tier", FT_TEXT, F_FILTER | F_SORT, 40, NULL, NULL, NULL, 0, "account tier, e.g. A, B, C"},
    {"region", FT_TEXT, F_FILTER | F_SORT | F_BODY, 100, NULL, NULL, NULL, 0, "sales region or location"},
    {"country", FT_TEXT, F_FILTER | F_SORT | F_BODY, 100, NULL, NULL, NULL, 0, NULL},
    {"city", FT_TEXT, F_FILTER | F_BODY, 100, NULL, NULL, NULL, 0, NULL},
    {"address", FT_TEXT, F_BODY, 500, NULL, NULL, NULL, 0, NULL},
    {"revenue", FT_NUM, F_FILTER | F_SORT, 0, NULL, NULL, NULL, NOT_SERVICE, "annual revenue, millions"},
    {"employees", FT_INT, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, NULL},
    {"year_established", FT_INT, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, NULL},
    {"parent_id", FT_REF, F_FILTER, 0, "customers", NULL, NULL, 0, "parent account"},
    OWNER, UNIT, EXT, ATTRS,
};

static const struct field_def contact_fields[] = {
    {"name", FT_TEXT, F_REQUIRED | F_SORT | F_FILTER | F_KEY | F_TITLE, 300, NULL, NULL, NULL, 0, NULL},
    {"first_name", FT_TEXT, F_FILTER, 150, NULL, NULL, NULL, 0, NULL},
    {"last_name", FT_TEXT, F_FILTER | F_SORT, 150, NULL, NULL, NULL, 0, NULL},
    {"email", FT_EMAIL, F_FILTER | F_KEY | F_BODY, 254, NULL, NULL, NULL, 0, NULL},
    {"phone", FT_TEXT, F_BODY, 50, NULL, NULL, NULL, 0, NULL},
    {"title", FT_TEXT, F_FILTER | F_BODY, 150, NULL, NULL, NULL, 0, "job title"},
    {"customer_id", FT_REF, F_FILTER, 0, "customers", NULL, NULL, 0, NULL},
    OWNER, UNIT, EXT, ATTRS,
};

static const struct field_def product_fields[] = {
    {"name", FT_TEXT, F_REQUIRED | F_SORT | F_FILTER | F_KEY, 200, NULL, NULL, NULL, 0, NULL},
    {"sku", FT_TEXT, F_FILTER | F_KEY, 100, NULL, NULL, NULL, 0, NULL},
    {"series", FT_TEXT, F_FILTER | F_SORT, 100, NULL, NULL, NULL, 0, NULL},
    {"description", FT_LONGTEXT, 0, 10000, NULL, NULL, NULL, 0, NULL},
    {"price", FT_NUM, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "list price"},
    {"currency", FT_CURRENCY, F_FILTER, 3, NULL, NULL, "\"USD\"", 0, NULL},
    {"active", FT_BOOL, F_FILTER, 0, NULL, NULL, "true", 0, NULL},
    EXT, ATTRS,
};

static const struct field_def pipeline_fields[] = {
    {"name", FT_TEXT, F_REQUIRED | F_SORT | F_FILTER | F_KEY, 100, NULL, NULL, NULL, 0, NULL},
    {"is_default", FT_BOOL, F_FILTER, 0, NULL, NULL, "false", 0, "the pipeline new deals join"},
    {"stages", FT_JSON, F_REQUIRED, 0, NULL, NULL, NULL, 0,
     "ordered stages: [{key, label, outcome: open|won|lost, probability}]"},
    EXT, ATTRS,
};

static const struct field_def deal_fields[] = {
    {"name", FT_TEXT, F_SORT | F_FILTER | F_KEY, 300, NULL, NULL, NULL, 0, NULL},
    {"customer_id", FT_REF, F_FILTER, 0, "customers", NULL, NULL, 0, NULL},
    {"contact_id", FT_REF, F_FILTER, 0, "contacts", NULL, NULL, 0, NULL},
    {"product_id", FT_REF, F_FILTER, 0, "products", NULL, NULL, 0, NULL},
    {"pipeline_id", FT_REF, F_FILTER, 0, "pipelines", NULL, NULL, 0, "default: the tenant's default pipeline"},
    {"stage", FT_STAGE, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "stage key in the pipeline (default: its first)"},
    {"amount", FT_NUM, F_FILTER | F_SORT, 0, NULL, NULL, NULL, NOT_SERVICE, "deal value"},
    {"currency", FT_CURRENCY, F_FILTER, 3, NULL, NULL, "\"USD\"", 0, NULL},
    {"engage_date", FT_DATE, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "when engagement began"},
    {"close_date", FT_DATE, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "when won or lost"},
    {"expected_close_date", FT_DATE, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, NULL},
    {"follow_up_date", FT_DATE, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "next planned contact"},
    {"stage_changed_at", FT_DATETIME, F_SERVER | F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "last stage change"},
    OWNER, UNIT, EXT, ATTRS,
};

static const struct field_def ticket_fields[] = {
    {"subject", FT_TEXT, F_REQUIRED | F_SORT | F_TITLE, 500, NULL, NULL, NULL, 0, NULL},
    {"description", FT_LONGTEXT, F_BODY, 100000, NULL, NULL, NULL, 0, NULL},
    {"customer_id", FT_REF, F_FILTER, 0, "customers", NULL, NULL, 0, NULL},
    {"contact_id", FT_REF, F_FILTER, 0, "contacts", NULL, NULL, 0, NULL},
    {"type", FT_TEXT, F_FILTER | F_SORT, 100, NULL, NULL, NULL, 0, "e.g. refund request"},
    {"priority", FT_ENUM, F_FILTER | F_SORT, 0, NULL, priorities, "\"medium\"", 0, NULL},
    {"status", FT_ENUM, F_FILTER | F_SORT, 0, NULL, ticket_statuses, "\"open\"", 0, NULL},
    {"channel", FT_ENUM, F_FILTER, 0, NULL, channels, NULL, 0, NULL},
    {"opened_at", FT_DATETIME, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "default: now"},
    {"first_response_at", FT_DATETIME, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, NULL},
    {"resolved_at", FT_DATETIME, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "set when status becomes resolved or closed"},
    {"satisfaction", FT_NUM, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "rating 1-5"},
    {"resolution", FT_LONGTEXT, F_BODY, 20000, NULL, NULL, NULL, 0, NULL},
    OWNER, UNIT, EXT, ATTRS,
};

static const struct field_def activity_fields[] = {
    {"kind", FT_ENUM, F_FILTER | F_REQUIRED, 0, NULL, activity_kinds, NULL, 0, NULL},
    {"subject", FT_TEXT, F_TITLE, 500, NULL, NULL, NULL, 0, NULL},
    {"body", FT_LONGTEXT, F_BODY, 200000, NULL, NULL, NULL, 0, "the text: email, chat, transcript, note"},
    {"direction", FT_ENUM, F_FILTER, 0, NULL, directions, NULL, 0, NULL},
    {"customer_id", FT_REF, F_FILTER, 0, "customers", NULL, NULL, 0, NULL},
    {"contact_id", FT_REF, F_FILTER, 0, "contacts", NULL, NULL, 0, NULL},
    {"deal_id", FT_REF, F_FILTER, 0, "deals", NULL, NULL, 0, NULL},
    {"ticket_id", FT_REF, F_FILTER, 0, "tickets", NULL, NULL, 0, NULL},
    {"occurred_at", FT_DATETIME, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "default: now"},
    {"due_at", FT_DATETIME, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "tasks: when it is due"},
    {"completed_at", FT_DATETIME, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "tasks: when it was done"},
    OWNER, UNIT, EXT, ATTRS,
};

static const struct field_def suggestion_fields[] = {
    {"title", FT_TEXT, F_REQUIRED | F_SORT | F_FILTER, 300, NULL, NULL, NULL, 0, "what to do next, in a line"},
    {"action", FT_LONGTEXT, 0, 4000, NULL, NULL, NULL, 0, "the next best action, explained"},
    {"customer_id", FT_REF, F_FILTER, 0, "customers", NULL, NULL, 0, NULL},
    {"deal_id", FT_REF, F_FILTER, 0, "deals", NULL, NULL, 0, NULL},
    {"ticket_id", FT_REF, F_FILTER, 0, "tickets", NULL, NULL, 0, NULL},
    {"evidence", FT_JSON, 0, 0, NULL, NULL, NULL, 0,
     "why: the signals, [{kind, text, object_id, …}] (at most 50)"},
    {"rule", FT_TEXT, F_FILTER | F_SORT, 200, NULL, NULL, NULL, 0, "the rule or pack that made it"},
    {"rule_version", FT_TEXT, F_FILTER, 64, NULL, NULL, NULL, 0, NULL},
    {"status", FT_ENUM, F_FILTER | F_SORT, 0, NULL, suggestion_statuses, "\"open\"", 0, NULL},
    {"status_reason", FT_TEXT, 0, 1000, NULL, NULL, NULL, 0, "why it was dismissed, or a note"},
    {"accepted_at", FT_DATETIME, F_SERVER | F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "when staff accepted it"},
    {"dismissed_at", FT_DATETIME, F_SERVER | F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "when staff dismissed it"},
    {"completed_at", FT_DATETIME, F_SERVER | F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, "when it was done"},
    {"decided_by", FT_TEXT, F_SERVER | F_FILTER, 40, NULL, NULL, NULL, 0,
     "who accepted or dismissed it: a user (usr_…), else the API key or pack version"},
    {"expires_at", FT_DATETIME, F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, NULL},
    {"dedupe_key", FT_TEXT, F_FILTER, 200, NULL, NULL, NULL, 0,
     "a pack's suggestions with the same key are merged while open or accepted"},
    {"occurrences", FT_INT, F_SERVER | F_SORT, 0, NULL, NULL, "1", 0, "how often it was suggested"},
    OWNER, UNIT, EXT, ATTRS,
};

static const struct field_def approval_fields[] = {
    {"title", FT_TEXT, F_REQUIRED | F_SORT, 300, NULL, NULL, NULL, 0, "what is to be approved"},
    {"object_type", FT_ENUM, F_FILTER | F_CREATE_ONLY, 0, NULL, custom_objects, NULL, 0,
     "the kind of record it is about"},
    {"object_id", FT_TEXT, F_FILTER | F_CREATE_ONLY, 40, NULL, NULL, NULL, 0, "the record it is about"},
    {"request", FT_JSON, F_CREATE_ONLY, 0, NULL, NULL, NULL, 0, "the change asked for, as an object"},
    {"reason", FT_LONGTEXT, 0, 4000, NULL, NULL, NULL, 0, NULL},
    {"status", FT_ENUM, F_FILTER | F_SORT, 0, NULL, approval_statuses, "\"pending\"", 0, NULL},
    {"decided_by", FT_REF, F_SERVER | F_FILTER, 0, "users", NULL, NULL, 0, NULL},
    {"decided_at", FT_DATETIME, F_SERVER | F_FILTER | F_SORT, 0, NULL, NULL, NULL, 0, NULL},
    {"comment", FT_TEXT, 0, 1000, NULL, NULL, NULL, 0, "the approver's note"},
    OWNER, UNIT, EXT, ATTRS,
};

static const struct field_def user_fields[] = {
    {"name", FT_TEXT, F_REQUIRED | F_SORT | F_FILTER | F_KEY, 200, NULL, NULL, NULL, 0, NULL},
    {"email", FT_EMAIL, F_FILTER | F_KEY | F_SORT, 254, NULL, NULL, NULL, 0, "sign-in name"},
    {"role", FT_ENUM, F_FILTER, 0, NULL, role_names, "\"sales\"", 0, NULL},
    {"title", FT_TEXT, 0, 150, NULL, NULL, NULL, 0, NULL},
    {"phone", FT_TEXT, 0, 50, NULL, NULL, NULL, 0, NULL},
    {"locale", FT_ENUM, 0, 0, NULL, locales, NULL, 0, "UI language"},
    {"manager_id", FT_REF, F_FILTER, 0, "users", NULL, NULL, 0, NULL},
    {"unit_ids", FT_REFLIST, 0, 0, "units", NULL, NULL, 0, "business units, first is primary"},
    {"active", FT_BOOL, F_FILTER, 0, NULL, NULL, "true", 0, "inactive users cannot sign in"},
    EXT, ATTRS,
};

static const struct field_def unit_fields[] = {
    {"name", FT_TEXT, F_REQUIRED | F_SORT | F_FILTER | F_KEY, 200, NULL, NULL, NULL, 0, NULL},
    {"description", FT_TEXT, 0, 1000, NULL, NULL, NULL, 0, NULL},
    EXT, ATTRS,
};

static const struct field_def custom_field_fields[] = {
    {"object", FT_ENUM, F_REQUIRED | F_FILTER | F_CREATE_ONLY, 0, NULL, custom_objects, NULL, 0, "object type it extends"},
    {"name", FT_TEXT, F_REQUIRED | F_FILTER | F_SORT | F_CREATE_ONLY, 64, NULL, NULL, NULL, 0,
     "key inside attrs: lower-case letters, digits, underscore"},
    {"label", FT_TEXT, 0, 200, NULL, NULL, NULL, 0, NULL},
    {"type", FT_ENUM, F_REQUIRED | F_FILTER | F_CREATE_ONLY, 0, NULL, field_types, NULL, 0, NULL},
    {"options", FT_JSON, 0, 0, NULL, NULL, NULL, 0, "allowed values of an enum field"},
    {"required", FT_BOOL, 0, 0, NULL, NULL, "false", 0, NULL},
    EXT,
};

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

static const struct object_def objects[] = {
    {"customers", "customers", "customer", "cus", 1, customer_fields, N(customer_fields),
     ROLES_ALL, ROLES_STAFF, ROLES_LEADS, "name", NULL, true, true},
    {"contacts", "contacts", "contact", "con", 2, contact_fields, N(contact_fields),
     ROLES_ALL, ROLES_STAFF, ROLES_LEADS, "name", NULL, true, true},
    {"products", "products", "product", "prd", 3, product_fields, N(product_fields),
     ROLES_ALL, ROLES_LEADS, ROLES_LEADS, "name", NULL, false, true},
    {"deals", "deals", "deal", "deal", 4, deal_fields, N(deal_fields),
     ROLES_ALL, ROLE_ADMIN | ROLE_MANAGER | ROLE_SALES, ROLES_LEADS, "name", "stage_changed_at", false, true},
    {"tickets", "tickets", "ticket", "tkt", 5, ticket_fields, N(ticket_fields),
     ROLES_ALL, ROLES_STAFF, ROLES_LEADS, "subject", "opened_at", true, true},
    {"activities", "activities", "activity", "act", 6, activity_fields, N(activity_fields),
     ROLES_ALL, ROLES_STAFF, ROLES_LEADS, "subject", "occurred_at", true, true},
    {"users", "users", "user", "usr", 7, user_fields, N(user_fields),
     ROLES_ALL, ROLE_ADMIN, ROLE_ADMIN, "name", NULL, false, false},
    {"units", "units", "unit", "bu", 8, unit_fields, N(unit_fields),
     ROLES_ALL, ROLE_ADMIN, ROLE_ADMIN, "name", NULL, false, false},
    {"pipelines", "pipelines", "pipeline", "pip", 9, pipeline_fields, N(pipeline_fields),
     ROLES_ALL, ROLE_ADMIN, ROLE_ADMIN, "name", NULL, false, false},
    {"fields", "custom_fields", "field", "fld", 10, custom_field_fields, N(custom_field_fields),
     ROLES_ALL, ROLE_ADMIN, ROLE_ADMIN, "name", NULL, false, false},
    {"suggestions", "suggestions", "suggestion", "sug", 11, suggestion_fields, N(suggestion_fields),
     ROLES_ALL, ROLES_STAFF, ROLES_LEADS, "title", NULL, false, false},
    {"approvals", "approvals", "approval", "apr", 12, approval_fields, N(approval_fields),
     ROLES_ALL, ROLES_LEADS, ROLE_ADMIN, "title", NULL, false, false},
};

const struct object_def *const *model_all(int *n)
{
    static const struct object_def *all[N(objects) + 1];
    if (!all[0])
        for (int i = 0; i < N(objects); i++)
            all[i] = &objects[i];
    *n = N(objects);
    return all;
}

const struct object_def *model_find(const char *name)
{
    for (int i = 0; i < N(objects); i++)
        if (strcmp(objects[i].name, name) == 0)
            return &objects[i];
    return NULL;
}

const struct object_def *model_by_prefix(const char *id)
{
    for (int i = 0; i < N(objects); i++)
        if (id_valid(objects[i].prefix, id))
            return &objects[i];
    return NULL;
}

const struct object_def *model_by_kind(int kind)
{
    for (int i = 0; i < N(objects); i++)
        if (objects[i].kind == kind)
            return &objects[i];
    return NULL;
}

const struct field_def *model_field(const struct object_def *def, const char *name)
{
    for (int i = 0; i < def->nfields; i++)
        if (strcmp(def->fields[i].name, name) == 0)
            return &def->fields[i];
    return NULL;
}

bool model_field_readable(const struct field_def *f, int role)
{
    return f->read_roles == 0 || (f->read_roles & role) != 0;
}

/* ---- validation ---- */

static bool is_system_field(const char *k)
{
    for (int i = 0; model_system_fields[i]; i++)
        if (strcmp(k, model_system_fields[i]) == 0)
            return true;
    return false;
}

/* Compare an input to an enum choice ignoring case, and treating space and
 * '-' as '_' ("Social media" -> social_media). */
static const char *match_choice(const char *const *choices, const char *s)
{
    for (int i = 0; choices[i]; i++) {
        const char *c = choices[i];
        size_t k = 0;
        for (; c[k] && s[k]; k++) {
            char a = (char)tolower((unsigned char)s[k]);
            if (a == ' ' || a == '-')
                a = '_';
            if (a != c[k])
                break;
        }
        if (!c[k] && !s[k])
            return c;
    }
    return NULL;
}

static bool valid_email(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@'))
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' ||
            *p == ';' || *p == '"')
            return false;
    return true;
}

static void choices_text(const char *const *choices, char *out, size_t outsz)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; choices[i] && n < outsz; i++)
        n += (size_t)snprintf(out + n, outsz - n, "%s%s", i ? ", " : "", choices[i]);
}

/* Text from a JSON string, or from a number/bool when importing text. */
static const char *want_string(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *model_coerce(const struct field_def *f, json_t *v, const char *ptr,
                     int date_order, struct ax_err *err)
{
    char tmp[TIME_TEXT_MAX];
    const char *s;
    switch (f->type) {
    case FT_TEXT:
    case FT_LONGTEXT: {
        if (!(s = want_string(v)))
            goto wrong_type;
        size_t len = strlen(s);
        if (f->type == FT_TEXT)
            for (size_t i = 0; i < len; i++)
                if (s[i] == '\n' || s[i] == '\r') {
                    ax_field(err, ptr, "must be a single line");
                    return NULL;
                }
        if (f->max_len && text_length(s, len) > (size_t)f->max_len) {
            ax_field(err, ptr, "longer than %d characters", f->max_len);
            return NULL;
        }
        return json_incref(v);
    }
    case FT_EMAIL: {
        if (!(s = want_string(v)))
            goto wrong_type;
        if (strlen(s) > 254 || !valid_email(s)) {
            ax_field(err, ptr, "not an e-mail address");
            return NULL;
        }
        /* Store the domain in lower case; the local part as given. */
        char *copy = strdup(s);
        if (!copy)
            return NULL;
        for (char *p = strchr(copy, '@'); p && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_t *r = json_string(copy);
        free(copy);
        return r;
    }
    case FT_INT: {
        if (json_is_integer(v))
            return json_incref(v);
        if (json_is_real(v)) {
            double d = json_real_value(v);
            if (d == floor(d) && fabs(d) < 9e15)
                return json_integer((json_int_t)d);
        }
        if ((s = want_string(v))) {
            char *end;
            long long n = strtoll(s, &end, 10);
            if (*s && !*end && end != s)
                return json_integer(n);
        }
        ax_field(err, ptr, "must be an integer");
        return NULL;
    }
    case FT_NUM: {
        double d;
        if (json_is_number(v))
            d = json_number_value(v);
        else if ((s = want_string(v)) && *s) {
            char *end;
            d = strtod(s, &end);
            if (*end) {
                ax_field(err, ptr, "must be a number");
                return NULL;
            }
        } else {
            ax_field(err, ptr, "must be a number");
            return NULL;
        }
        if (!isfinite(d) || fabs(d) > 1e15) {
            ax_field(err, ptr, "number out of range");
            return NULL;
        }
        if (d == floor(d))
            return json_integer((json_int_t)d);
        return json_real(d);
    }
    case FT_BOOL:
        if (json_is_boolean(v))
            return json_incref(v);
        if ((s = want_string(v))) {
            if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes"))
                return json_true();
            if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no"))
                return json_false();
        }
        ax_field(err, ptr, "must be true or false");
        return NULL;
    case FT_DATE:
        if (!(s = want_string(v)))
            goto wrong_type;
        if (time_canon_date(s, date_order, tmp)) {
            ax_field(err, ptr, "not a date (YYYY-MM-DD)");
            return NULL;
        }
        return json_string(tmp);
    case FT_DATETIME:
        if (!(s = want_string(v)))
            goto wrong_type;
        if (time_canon_datetime(s, date_order, tmp)) {
            ax_field(err, ptr, "not a date-time (RFC 3339, e.g. 2026-03-01T08:00:00Z)");
            return NULL;
        }
        return json_string(tmp);
    case FT_ENUM: {
        if (!(s = want_string(v)))
            goto wrong_type;
        const char *c = match_choice(f->choices, s);
        if (!c) {
            char list[300];
            choices_text(f->choices, list, sizeof list);
            ax_field(err, ptr, "must be one of: %s", list);
            return NULL;
        }
        return json_string(c);
    }
    case FT_CURRENCY: {
        if (!(s = want_string(v)))
            goto wrong_type;
        char code[4];
        if (strlen(s) != 3)
            goto bad_currency;
        for (int i = 0; i < 3; i++) {
            if (!isalpha((unsigned char)s[i]))
                goto bad_currency;
            code[i] = (char)toupper((unsigned char)s[i]);
        }
        code[3] = '\0';
        return json_string(code);
    bad_currency:
        ax_field(err, ptr, "must be a three-letter currency code");
        return NULL;
    }
    case FT_REF:
    case FT_STAGE:
        if (!(s = want_string(v)))
            goto wrong_type;
        if (!*s || strlen(s) > 200) {
            ax_field(err, ptr, "must be a non-empty id");
            return NULL;
        }
        return json_incref(v);
    case FT_REFLIST: {
        if (!json_is_array(v) || json_array_size(v) > 50)
            goto wrong_type;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            if (!json_is_string(e)) {
                ax_field(err, ptr, "must be an array of ids");
                return NULL;
            }
        return json_incref(v);
    }
    case FT_JSON:
        return json_incref(v);
    case FT_ATTRS:
        if (!json_is_object(v))
            goto wrong_type;
        return json_incref(v);
    }
wrong_type: {
        static const char *names[] = {
            [FT_TEXT] = "a string", [FT_LONGTEXT] = "a string", [FT_EMAIL] = "a string",
            [FT_DATE] = "a date string", [FT_DATETIME] = "a date-time string",
            [FT_ENUM] = "a string", [FT_REF] = "an id string", [FT_STAGE] = "a string",
            [FT_REFLIST] = "an array of ids", [FT_ATTRS] = "an object",
            [FT_CURRENCY] = "a string"};
        ax_field(err, ptr, "must be %s", names[f->type] ? names[f->type] : "another type");
        return NULL;
    }
}

json_t *model_check_input(const struct object_def *def, json_t *body,
                          bool is_create, struct ax_err *err)
{
    if (!json_is_object(body)) {
        ax_fail(err, AX_EINVALID, "the body must be a JSON object");
        return NULL;
    }
    json_t *out = json_object();
    const char *key;
    json_t *val;
    char ptr[96];
    json_object_foreach(body, key, val) {
        snprintf(ptr, sizeof ptr, "/%.90s", key);
        const struct field_def *f = model_field(def, key);
        if (!f) {
            if (is_system_field(key))
                ax_field(err, ptr, "is set by the server and cannot be written");
            else
                ax_field(err, ptr, "unknown field");
            continue;
        }
        if (f->flags & F_SERVER) {
            ax_field(err, ptr, "is set by the server and cannot be written");
            continue;
        }
        if (!is_create && (f->flags & F_CREATE_ONLY)) {
            ax_field(err, ptr, "cannot be changed after creation");
            continue;
        }
        if (json_is_null(val)) {
            if (f->flags & F_REQUIRED)
                ax_field(err, ptr, "is required and cannot be null");
            else
                json_object_set(out, key, val);
            continue;
        }
        json_t *c = model_coerce(f, val, ptr, 0, err);
        if (c)
            json_object_set_new(out, key, c);
    }
    if (is_create)
        for (int i = 0; i < def->nfields; i++) {
            const struct field_def *f = &def->fields[i];
            if ((f->flags & F_REQUIRED) && !json_object_get(out, f->name) &&
                !json_object_get(body, f->name)) {
                snprintf(ptr, sizeof ptr, "/%s", f->name);
                ax_field(err, ptr, "is required");
            }
        }
    if (err && err->code != AX_OK) {
        json_decref(out);
        return NULL;
    }
    return out;
}

char *model_mask_doc(const struct object_def *def, const char *doc, int role)
{
    bool any = false;
    for (int i = 0; i < def->nfields; i++)
        if (!model_field_readable(&def->fields[i], role))
            any = true;
    if (!any)
        return NULL;
    json_t *o = json_loads(doc, 0, NULL);
    if (!o)
        return NULL;
    for (int i = 0; i < def->nfields; i++)
        if (!model_field_readable(&def->fields[i], role))
            json_object_del(o, def->fields[i].name);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}
