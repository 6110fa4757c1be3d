/*
 * model.h - what each object type is: its fields, their types and rules,
 * who may read and write it. Static tables; nothing to free.
 *
 * The store, the API handlers, the importer, the exporter and the OpenAPI
 * generator all work from these tables, so a field added here is validated,
 * stored, filtered, imported, exported and documented in one move (after a
 * migration adds its column).
 */
#ifndef AXON_MODEL_H
#define AXON_MODEL_H

#include <jansson.h>
#include <stdbool.h>

#include "axon/error.h"

/* Roles as bits, so rules can name sets of them. */
enum role {
    ROLE_ADMIN = 1 << 0,
    ROLE_MANAGER = 1 << 1,
    ROLE_SALES = 1 << 2,
    ROLE_SERVICE = 1 << 3,
    ROLE_READONLY = 1 << 4
};
#define ROLES_ALL (ROLE_ADMIN | ROLE_MANAGER | ROLE_SALES | ROLE_SERVICE | ROLE_READONLY)
#define ROLES_STAFF (ROLE_ADMIN | ROLE_MANAGER | ROLE_SALES | ROLE_SERVICE)
#define ROLES_LEADS (ROLE_ADMIN | ROLE_MANAGER)

const char *role_name(int role);
int role_parse(const char *s);          /* 0 if unknown */

enum ftype {
    FT_TEXT,        /* one line, max_len characters */
    FT_LONGTEXT,    /* free text (email bodies, descriptions) */
    FT_INT,
    FT_NUM,
    FT_BOOL,
    FT_DATE,        /* YYYY-MM-DD */
    FT_DATETIME,    /* RFC 3339 UTC */
    FT_ENUM,        /* one of choices */
    FT_EMAIL,
    FT_REF,         /* public id of another object (ref names it) */
    FT_REFLIST,     /* JSON array of ids */
    FT_STAGE,       /* a stage key of the deal's pipeline */
    FT_CURRENCY,    /* ISO 4217 code, three capital letters */
    FT_JSON,        /* structured value the object's own code validates */
    FT_ATTRS        /* custom fields, validated against the registry */
};

enum fflag {
    F_REQUIRED = 1 << 0,   /* must be present (and non-null) on create */
    F_SERVER = 1 << 1,     /* set by the server; clients may not write it */
    F_SORT = 1 << 2,       /* allowed in ?sort= */
    F_FILTER = 1 << 3,     /* allowed as a filter */
    F_KEY = 1 << 4,        /* natural key: upserts and reference lookups */
    F_TITLE = 1 << 5,      /* full-text: title */
    F_BODY = 1 << 6,       /* full-text: body */
    F_CREATE_ONLY = 1 << 7 /* may be set on create, not changed later */
};

struct field_def {
    const char *name;
    enum ftype type;
    unsigned flags;
    int max_len;                  /* FT_TEXT/LONGTEXT: characters */
    const char *ref;              /* FT_REF/REFLIST: target object name */
    const char *const *choices;   /* FT_ENUM: NULL-terminated */
    const char *dflt;             /* default on create, as JSON text */
    int read_roles;               /* 0 = everyone who can read the object */
    const char *doc;              /* one-line description (OpenAPI) */
};

struct object_def {
    const char *name;             /* plural, URL segment */
    const char *table;            /* SQL table */
    const char *singular;
    const char *prefix;           /* id prefix */
    int kind;                     /* 1..7, for search rowids */
    const struct field_def *fields;
    int nfields;
    int read_roles, write_roles, delete_roles;
    const char *title_field;      /* what names a record in lists */
    const char *time_field;       /* when it happened, for timelines */
    bool searchable;
    bool custom_fields;           /* has a registry-validated attrs */
};

/* Fields every object has, managed by the server. */
extern const char *const model_system_fields[];

const struct object_def *model_find(const char *name);
const struct object_def *model_by_prefix(const char *id);  /* from an id */
const struct object_def *model_by_kind(int kind);
const struct object_def *const *model_all(int *n);
const struct field_def *model_field(const struct object_def *def, const char *name);

/* Can this role read the field (and filter or sort by it)? */
bool model_field_readable(const struct field_def *f, int role);

/* Validate a client body for create (is_create) or a merge patch, with no
 * database access: unknown fields, server fields, types, lengths, enums,
 * dates (canonicalised in place), emails. Returns a new normalised object
 * (caller owns the reference) or NULL with err filled. */
json_t *model_check_input(const struct object_def *def, json_t *body,
                          bool is_create, struct ax_err *err);

/* Coerce and validate one value for a field, as model_check_input does;
 * used by importers with text input. Returns a new reference or NULL. */
json_t *model_coerce(const struct field_def *f, json_t *value, const char *pointer,
                     int date_order, struct ax_err *err);

/* Strip fields this role may not read from a stored document (JSON text).
 * Returns NULL when nothing needs stripping, else a malloc'd new text. */
char *model_mask_doc(const struct object_def *def, const char *doc, int role);

#endif
