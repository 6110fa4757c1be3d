/* import.c - CSV import jobs (options, mapping, upserts, passes), previews
 * and CSV export of records. All data access goes through the store. */
#include "axon/import.h"

#include "axon/config.h"
#include "axon/csvio.h"
#include "axon/log.h"
#include "axon/objects.h"
#include "axon/store.h"
#include "axon/text.h"
#include "axon/timefmt.h"
#include "axon/writer.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TARGETS 256
#define MAX_COLS 256
#define MAX_PER_COL 8
#define BATCH_ROWS 2000         /* or BATCH_SECONDS, whichever comes first */
#define BATCH_SECONDS 0.25      /* keep other writers' waits short */
#define MAX_ROW_ERRORS 8
#define MAX_JOB_ERRORS 100000
#define PREVIEW_ROWS 20

enum target_kind { TGT_FIELD, TGT_ATTR, TGT_REF };

struct target {
    enum target_kind kind;
    const struct field_def *field;      /* FIELD, REF: field of the imported object */
    char attr[72];                      /* ATTR: custom field name */
    enum ftype attr_type;
    const struct object_def *ref_def;   /* REF: the object looked up */
    const struct field_def *lookup;     /* REF: its natural-key field */
    bool normalised, create_missing, self;
    json_t *cache;                      /* REF: lookup key -> id (owned by plan->caches) */
    json_t *raw_cache;                  /* REF: value as written -> id (normalised only) */
    char name[128];                     /* as written in the options */
};

struct column {
    int col;                            /* index in the header */
    char header[128];
    int targets[MAX_PER_COL];
    int ntargets;
    json_t *values;                     /* value in the file -> stored value (owned) */
    json_t *values_keyed;               /* text_key(value in the file) -> stored value */
};

struct dflt {
    int target;
    char *text;                         /* owned */
};

struct import_plan {
    const struct object_def *def;
    const struct field_def *key;
    struct target targets[MAX_TARGETS];
    int ntargets;
    struct column cols[MAX_COLS];
    int ncols;
    struct dflt defaults[MAX_TARGETS];
    int ndefaults;
    json_t *caches;                     /* "object.field" -> {lookup key -> id} */
    json_t *pointers;                   /* "/field" -> column, to name row errors */
    json_t *header;                     /* the file's column names */
    int order;                          /* enum date_order */
    char encoding[CSVIO_ENCODING_MAX];
    char delimiter;
    bool has_self_ref;
};

/* ---- small helpers ---- */

/* Copy at most `max` bytes of UTF-8 without cutting a character. */
static void clip(const char *s, size_t max, char *out, size_t outsz)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(out, outsz, "%.*s%s", (int)n, s, n < strlen(s) ? "…" : "");
}

/* JSON pointer base + "/" + key, escaped (RFC 6901), cut at a character. */
static void ptr_join(char *out, size_t outsz, const char *base, const char *key)
{
    size_t n = (size_t)snprintf(out, outsz, "%s/", base);
    const char *p = key;
    for (; *p && n + 4 < outsz; p++) {
        if (*p == '~' || *p == '/') {
            out[n++] = '~';
            out[n++] = *p == '~' ? '0' : '1';
        } else {
            out[n++] = *p;
        }
    }
    /* Cut short: drop the partial character at the end. */
    while (*p && n > 0 && ((unsigned char)*p & 0xC0) == 0x80 &&
           ((unsigned char)out[n - 1] & 0x80)) {
        n--;
        if (((unsigned char)out[n] & 0xC0) == 0xC0)
            break;
    }
    out[n] = '\0';
}

static bool ident_ok(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)(*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* Small catalogues match by normalised text ("GTXPro" = "GTX Pro"); large
 * tables by exact value, through their indexes. */
static bool normalised_object(const struct object_def *d)
{
    static const char *const small[] = {"products", "units", "users", "pipelines", NULL};
    for (int i = 0; small[i]; i++)
        if (strcmp(d->name, small[i]) == 0)
            return true;
    return false;
}

static void key_fields(const struct object_def *d, char *out, size_t outsz)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < d->nfields && n < outsz; i++)
        if (d->fields[i].flags & F_KEY)
            n += (size_t)snprintf(out + n, outsz - n, "%s%s", n ? ", " : "", d->fields[i].name);
}

/* ---- targets ---- */

static int parse_field_target(struct import_plan *p, struct target *t, const char *s,
                              const char *ptr, struct ax_err *err)
{
    const struct field_def *f = model_field(p->def, s);
    if (!f) {
        ax_field(err, ptr, "%s have no field '%.60s'", p->def->name, s);
        return -1;
    }
    if (f->flags & F_SERVER) {
        ax_field(err, ptr, "'%s' is set by the server", s);
        return -1;
    }
    if (f->type == FT_ATTRS || f->type == FT_JSON) {
        ax_field(err, ptr, "'%s' cannot come from a CSV column%s", s,
                 f->type == FT_ATTRS ? "; map custom fields as attrs.<name>" : "");
        return -1;
    }
    t->kind = TGT_FIELD;
    t->field = f;
    return 0;
}

static int parse_attr_target(struct db *d, const struct ax_ctx *c, struct import_plan *p,
                             struct target *t, const char *s, const char *ptr,
                             struct ax_err *err)
{
    const char *name = s + 6;
    if (!p->def->custom_fields) {
        ax_field(err, ptr, "%s have no custom fields", p->def->name);
        return -1;
    }
    if (!ident_ok(name)) {
        ax_field(err, ptr, "'%.60s' is not a custom field name", name);
        return -1;
    }
    int found = obj_attr_type(d, c->tenant, p->def->name, name, &t->attr_type, err);
    if (found < 0)
        return -2;
    if (!found) {
        ax_field(err, ptr, "no custom field '%s' on %s (declare it in /api/v1/fields)", name,
                 p->def->name);
        return -1;
    }
    t->kind = TGT_ATTR;
    snprintf(t->attr, sizeof t->attr, "%s", name);
    return 0;
}

static json_t *cache_for(struct import_plan *p, const struct target *t, const char *kind)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s%s", t->ref_def->name, t->lookup->name, kind);
    json_t *c = json_object_get(p->caches, key);
    if (!c) {
        c = json_object();
        json_object_set_new(p->caches, key, c);
    }
    return c;
}

static int parse_ref_target(struct import_plan *p, struct target *t, const char *s,
                            const char *ptr, struct ax_err *err)
{
    char ref[64];
    const char *dot = strchr(s, '.');
    snprintf(ref, sizeof ref, "%.*s", (int)(dot - s), s);
    const struct field_def *f = model_field(p->def, ref);
    if (!f || (f->type != FT_REF && f->type != FT_REFLIST)) {
        ax_field(err, ptr, "'%.60s' is not a reference field of %s", ref, p->def->name);
        return -1;
    }
    const struct object_def *rd = model_find(f->ref);
    const struct field_def *lf = model_field(rd, dot + 1);
    if (!lf || !(lf->flags & F_KEY)) {
        char keys[160];
        key_fields(rd, keys, sizeof keys);
        ax_field(err, ptr, "%s are looked up by one of: %s", rd->name, keys);
        return -1;
    }
    t->kind = TGT_REF;
    t->field = f;
    t->ref_def = rd;
    t->lookup = lf;
    t->normalised = normalised_object(rd);
    t->self = rd == p->def;
    t->cache = cache_for(p, t, "");
    /* The same few names on every row: skip normalising them each time. */
    t->raw_cache = t->normalised ? cache_for(p, t, " as written") : NULL;
    p->has_self_ref |= t->self;
    return 0;
}

/* Parse a target; same text, same target. Index, -1 (field error added)
 * or -2 (err holds a failure that is not the options' fault). */
static int parse_target(struct db *d, const struct ax_ctx *c, struct import_plan *p,
                        const char *s, const char *ptr, struct ax_err *err)
{
    for (int i = 0; i < p->ntargets; i++)
        if (strcmp(p->targets[i].name, s) == 0)
            return i;
    if (p->ntargets == MAX_TARGETS || strlen(s) >= sizeof p->targets[0].name) {
        ax_field(err, ptr, "too many or too long targets");
        return -1;
    }
    struct target *t = &p->targets[p->ntargets];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", s);
    int rc;
    if (strncmp(s, "attrs.", 6) == 0)
        rc = parse_attr_target(d, c, p, t, s, ptr, err);
    else if (strchr(s, '.'))
        rc = parse_ref_target(p, t, s, ptr, err);
    else
        rc = parse_field_target(p, t, s, ptr, err);
    return rc ? rc : p->ntargets++;
}

/* Where a store error's pointer ("/stage", "/attrs/x") came from. */
static void note_pointer(struct import_plan *p, const struct target *t, const char *column)
{
    char ptr[128];
    if (t->kind == TGT_ATTR)
        snprintf(ptr, sizeof ptr, "/attrs/%s", t->attr);
    else
        snprintf(ptr, sizeof ptr, "/%s", t->field->name);
    if (!json_object_get(p->pointers, ptr))
        json_object_set_new(p->pointers, ptr, json_string(column));
}

/* ---- options ---- */

static void check_option_names(json_t *o, struct ax_err *err)
{
    static const char *const known[] = {"object", "key", "columns", "defaults", "values",
                                        "create_missing", "encoding", "delimiter",
                                        "date_order", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok) {
            char ptr[96];
            ptr_join(ptr, sizeof ptr, "", k);
            ax_field(err, ptr, "unknown option (known: object, key, columns, defaults, values, "
                               "create_missing, encoding, delimiter, date_order)");
        }
    }
}

static int parse_object_option(const struct ax_ctx *c, struct import_plan *p, json_t *o,
                               struct ax_err *err)
{
    const char *name = json_string_value(json_object_get(o, "object"));
    if (!name) {
        ax_field(err, "/object", "is required: the object the rows become, e.g. \"deals\"");
        return -1;
    }
    p->def = model_find(name);
    if (!p->def || strcmp(p->def->name, "fields") == 0) {
        ax_field(err, "/object", "'%.60s' is not an object that can be imported", name);
        return -1;
    }
    if (!(c->role & p->def->write_roles)) {
        err->nfields = 0;
        return ax_fail(err, AX_EFORBIDDEN, "your role (%s) may not import %s",
                       role_name(c->role), p->def->name);
    }
    return 0;
}

static void parse_format_options(struct import_plan *p, json_t *o, struct ax_err *err)
{
    json_t *v = json_object_get(o, "encoding");
    snprintf(p->encoding, sizeof p->encoding, "UTF-8");
    if (v) {
        struct ax_err e;
        ax_err_clear(&e);
        if (!json_is_string(v) || csvio_check_encoding(json_string_value(v), p->encoding, &e))
            ax_field(err, "/encoding", "%s (e.g. utf-8, latin-1, windows-1252, gb18030, utf-16)",
                     json_is_string(v) ? e.detail : "must be a string");
    }
    p->delimiter = ',';
    if ((v = json_object_get(o, "delimiter"))) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, "tab") == 0)
            s = "\t";
        if (!s || strlen(s) != 1 || strchr("\"\r\n", s[0]) || (!isprint((unsigned char)s[0]) &&
                                                             s[0] != '\t'))
            ax_field(err, "/delimiter", "must be one character such as \",\", \";\", \"|\" or \"\\t\"");
        else
            p->delimiter = s[0];
    }
    p->order = DATE_YMD;
    if ((v = json_object_get(o, "date_order"))) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, "ymd") == 0)
            p->order = DATE_YMD;
        else if (s && strcmp(s, "mdy") == 0)
            p->order = DATE_MDY;
        else if (s && strcmp(s, "dmy") == 0)
            p->order = DATE_DMY;
        else
            ax_field(err, "/date_order", "must be \"ymd\", \"mdy\" or \"dmy\"");
    }
}

static void plan_csv_opts(const struct import_plan *p, struct csvio_opts *o)
{
    memset(o, 0, sizeof *o);
    o->encoding = p->encoding;
    o->delimiter = p->delimiter;
}

static int read_header(struct import_plan *p, const char *path, struct ax_err *err)
{
    struct csvio_opts o;
    plan_csv_opts(p, &o);
    struct csvio_reader *r = csvio_open(path, &o, err);
    if (!r)
        return -1;
    struct csvio_row row;
    int rc = csvio_next(r, &row, err);
    if (rc == 0)
        ax_fail(err, AX_EINVALID, "the file is empty: it has no header row");
    else if (rc == 1 && row.error)
        ax_fail(err, AX_EINVALID, "the header row: %s", row.error);
    if (rc != 1 || row.error) {
        csvio_close(r);
        return -1;
    }
    p->header = json_array();
    for (int i = 0; i < row.nfields; i++) {
        const char *s = row.fields[i];
        size_t n = row.lens[i];
        trim(&s, &n);
        json_array_append_new(p->header, json_stringn(s, n));
    }
    csvio_close(r);
    return 0;
}

static int find_column(const struct import_plan *p, const char *name)
{
    size_t i;
    json_t *h;
    json_array_foreach(p->header, i, h)
        if (strcmp(json_string_value(h), name) == 0)
            return (int)i;
    json_array_foreach(p->header, i, h)
        if (strcasecmp(json_string_value(h), name) == 0)
            return (int)i;
    return -1;
}

static struct column *new_column(struct import_plan *p, int col, struct ax_err *err)
{
    if (p->ncols == MAX_COLS) {
        ax_field(err, "/columns", "maps more than %d columns", MAX_COLS);
        return NULL;
    }
    struct column *cm = &p->cols[p->ncols++];
    memset(cm, 0, sizeof *cm);
    cm->col = col;
    snprintf(cm->header, sizeof cm->header, "%s",
             json_string_value(json_array_get(p->header, (size_t)col)));
    return cm;
}

static int add_target(struct db *d, const struct ax_ctx *c, struct import_plan *p,
                      struct column *cm, const char *s, const char *ptr, struct ax_err *err)
{
    int t = parse_target(d, c, p, s, ptr, err);
    if (t == -2)
        return -1;
    if (t >= 0 && cm->ntargets < MAX_PER_COL) {
        cm->targets[cm->ntargets++] = t;
        note_pointer(p, &p->targets[t], cm->header);
    }
    return 0;
}

static int map_column(struct db *d, const struct ax_ctx *c, struct import_plan *p,
                      const char *key, json_t *val, struct ax_err *err)
{
    char ptr[96];
    ptr_join(ptr, sizeof ptr, "/columns", key);
    int idx = find_column(p, key);
    if (idx < 0) {
        ax_field(err, ptr, "the file has no column '%.60s'", key);
        return 0;
    }
    if (json_is_null(val))
        return 0;
    bool list = json_is_array(val) && json_array_size(val) >= 1 &&
                json_array_size(val) <= MAX_PER_COL;
    if (!json_is_string(val) && !list) {
        ax_field(err, ptr, "must be a target (\"field\", \"attrs.name\" or \"ref_id.field\"), "
                           "a list of up to %d targets, or null", MAX_PER_COL);
        return 0;
    }
    struct column *cm = new_column(p, idx, err);
    if (!cm)
        return 0;
    if (json_is_string(val))
        return add_target(d, c, p, cm, json_string_value(val), ptr, err);
    size_t i;
    json_t *e;
    json_array_foreach(val, i, e) {
        char eptr[128];
        snprintf(eptr, sizeof eptr, "%s/%zu", ptr, i);
        if (!json_is_string(e))
            ax_field(err, eptr, "must be a target string");
        else if (add_target(d, c, p, cm, json_string_value(e), eptr, err))
            return -1;
    }
    return 0;
}

/* No mapping given: headers that name fields map to them. */
static int auto_columns(struct db *d, const struct ax_ctx *c, struct import_plan *p,
                        struct ax_err *err)
{
    size_t i;
    json_t *h;
    json_array_foreach(p->header, i, h) {
        char name[128];
        size_t n = 0;
        for (const char *s = json_string_value(h); *s && n + 1 < sizeof name; s++)
            name[n++] = (*s == ' ' || *s == '-') ? '_' : (char)tolower((unsigned char)*s);
        name[n] = '\0';
        const struct field_def *f = strchr(name, '.') ? NULL : model_field(p->def, name);
        bool is_attr = strncmp(name, "attrs.", 6) == 0;
        if (!is_attr && (!f || (f->flags & F_SERVER) || f->type == FT_ATTRS || f->type == FT_JSON))
            continue;
        struct column *cm = new_column(p, (int)i, err);
        if (!cm || add_target(d, c, p, cm, name, "/columns", err))
            return -1;
    }
    if (p->ncols == 0 && err->code == AX_OK)
        ax_field(err, "/columns", "no column name is a field of %s; give a columns mapping",
                 p->def->name);
    return 0;
}

static int parse_columns(struct db *d, const struct ax_ctx *c, struct import_plan *p,
                         json_t *o, struct ax_err *err)
{
    json_t *cols = json_object_get(o, "columns");
    if (!cols)
        return auto_columns(d, c, p, err);
    if (!json_is_object(cols)) {
        ax_field(err, "/columns", "must be an object: column name -> target");
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(cols, k, v)
        if (map_column(d, c, p, k, v, err))
            return -1;
    if (p->ncols == 0 && err->code == AX_OK)
        ax_field(err, "/columns", "maps no column");
    return 0;
}

static char *scalar_text(json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_number(v) || json_is_boolean(v))
        return json_dumps(v, JSON_ENCODE_ANY);
    return NULL;
}

static int parse_defaults(struct db *d, const struct ax_ctx *c, struct import_plan *p,
                          json_t *o, struct ax_err *err)
{
    json_t *dfl = json_object_get(o, "defaults");
    if (!dfl)
        return 0;
    if (!json_is_object(dfl)) {
        ax_field(err, "/defaults", "must be an object: target -> value");
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(dfl, k, v) {
        char ptr[96];
        ptr_join(ptr, sizeof ptr, "/defaults", k);
        int t = parse_target(d, c, p, k, ptr, err);
        if (t == -2)
            return -1;
        char *text = scalar_text(v);
        if (t >= 0 && !text)
            ax_field(err, ptr, "must be a string, number or boolean");
        if (t < 0 || !text) {
            free(text);
            continue;
        }
        p->defaults[p->ndefaults].target = t;
        p->defaults[p->ndefaults++].text = text;
        note_pointer(p, &p->targets[t], k);
    }
    return 0;
}

static struct column *mapped_column(struct import_plan *p, int idx)
{
    for (int i = 0; i < p->ncols; i++)
        if (p->cols[i].col == idx)
            return &p->cols[i];
    return NULL;
}

static void parse_value_map(struct column *cm, json_t *map, const char *ptr,
                            struct ax_err *err)
{
    cm->values = json_object();
    cm->values_keyed = json_object();
    const char *raw;
    json_t *v;
    json_object_foreach(map, raw, v) {
        if (!json_is_string(v) && !json_is_null(v)) {
            char vptr[96];
            ptr_join(vptr, sizeof vptr, ptr, raw);
            ax_field(err, vptr, "must be the value to store (a string) or null");
            continue;
        }
        json_object_set(cm->values, raw, v);
        char *k = text_key(raw, strlen(raw));
        if (k && *k)
            json_object_set(cm->values_keyed, k, v);
        free(k);
    }
}

static void parse_values(struct import_plan *p, json_t *o, struct ax_err *err)
{
    json_t *vals = json_object_get(o, "values");
    if (!vals)
        return;
    if (!json_is_object(vals)) {
        ax_field(err, "/values", "must be an object: column name -> {value in the file -> value}");
        return;
    }
    const char *k;
    json_t *map;
    json_object_foreach(vals, k, map) {
        char ptr[96];
        ptr_join(ptr, sizeof ptr, "/values", k);
        int idx = find_column(p, k);
        struct column *cm = idx >= 0 ? mapped_column(p, idx) : NULL;
        if (!cm)
            ax_field(err, ptr, idx < 0 ? "the file has no column '%.60s'"
                                       : "column '%.60s' is not mapped", k);
        else if (!json_is_object(map) || cm->values)
            ax_field(err, ptr, "must be an object: value in the file -> value to store");
        else
            parse_value_map(cm, map, ptr, err);
    }
}

/* Can a record of `rd` be created from its lookup value alone? */
static bool creatable(const struct object_def *rd, const struct field_def *lookup)
{
    for (int i = 0; i < rd->nfields; i++) {
        const struct field_def *f = &rd->fields[i];
        if ((f->flags & F_REQUIRED) && !f->dflt && f != lookup && strcmp(f->name, "name") != 0)
            return false;
    }
    return true;
}

static void mark_create_missing(const struct ax_ctx *c, struct import_plan *p, const char *name,
                                const char *ptr, struct ax_err *err)
{
    bool any = false;
    for (int i = 0; i < p->ntargets; i++) {
        struct target *t = &p->targets[i];
        if (t->kind != TGT_REF || strcmp(t->field->name, name) != 0)
            continue;
        any = true;
        if (!(c->role & t->ref_def->write_roles))
            ax_field(err, ptr, "your role (%s) may not create %s", role_name(c->role),
                     t->ref_def->name);
        else if (!creatable(t->ref_def, t->lookup))
            ax_field(err, ptr, "%s cannot be created from a %s alone", t->ref_def->name,
                     t->lookup->name);
        else
            t->create_missing = true;
    }
    if (!any)
        ax_field(err, ptr, "no column or default maps to '%.60s.<field>'", name);
}

static void parse_create_missing(const struct ax_ctx *c, struct import_plan *p, json_t *o,
                                 struct ax_err *err)
{
    json_t *cm = json_object_get(o, "create_missing");
    if (!cm)
        return;
    if (!json_is_array(cm)) {
        ax_field(err, "/create_missing", "must be a list of reference fields, e.g. [\"unit_id\"]");
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(cm, i, e) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/create_missing/%zu", i);
        if (!json_is_string(e))
            ax_field(err, ptr, "must be a reference field name");
        else
            mark_create_missing(c, p, json_string_value(e), ptr, err);
    }
}

static void parse_key(struct import_plan *p, json_t *o, struct ax_err *err)
{
    json_t *k = json_object_get(o, "key");
    if (!k)
        return;
    const char *s = json_string_value(k);
    const struct field_def *f = s ? model_field(p->def, s) : NULL;
    if (!f || !(f->flags & F_KEY)) {
        char keys[160];
        key_fields(p->def, keys, sizeof keys);
        ax_field(err, "/key", "%s can be matched by one of: %s", p->def->name, keys);
        return;
    }
    for (int i = 0; i < p->ntargets; i++)
        if (p->targets[i].kind == TGT_FIELD && p->targets[i].field == f) {
            p->key = f;
            return;
        }
    ax_field(err, "/key", "no column maps to '%s'", s);
}

struct import_plan *import_plan_new(struct db *d, const struct ax_ctx *c, json_t *o,
                                    const char *path, struct ax_err *err)
{
    if (!json_is_object(o)) {
        ax_fail(err, AX_EINVALID, "the import options must be a JSON object");
        return NULL;
    }
    struct import_plan *p = calloc(1, sizeof *p);
    if (!p) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    p->caches = json_object();
    p->pointers = json_object();
    check_option_names(o, err);
    if (parse_object_option(c, p, o, err))
        goto fail;
    int before = err->nfields;
    parse_format_options(p, o, err);
    /* The header can only be read with a valid encoding and delimiter. */
    if (err->nfields > before || err->code == AX_EFORBIDDEN || read_header(p, path, err))
        goto fail;
    if (parse_columns(d, c, p, o, err) || parse_defaults(d, c, p, o, err))
        goto fail;
    parse_values(p, o, err);
    parse_create_missing(c, p, o, err);
    parse_key(p, o, err);
    if (err->code == AX_OK)
        return p;
fail:
    import_plan_free(p);
    return NULL;
}

void import_plan_free(struct import_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->ncols; i++) {
        json_decref(p->cols[i].values);
        json_decref(p->cols[i].values_keyed);
    }
    for (int i = 0; i < p->ndefaults; i++)
        free(p->defaults[i].text);
    json_decref(p->caches);
    json_decref(p->pointers);
    json_decref(p->header);
    free(p);
}

const struct object_def *import_plan_object(const struct import_plan *p) { return p->def; }

char *import_params(const struct ax_ctx *c, json_t *options, const char *file_name,
                    bool owned_file)
{
    json_t *o = json_pack("{s:O,s:s,s:i,s:s,s:b}", "options", options, "file_name",
                          file_name ? file_name : "upload.csv", "role", c->role, "user_id",
                          c->user_id, "owned_file", owned_file);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static int copy_file(const char *from, const char *to, struct ax_err *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in >= 0 ? open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    char block[65536];
    ssize_t n = 0;
    while (out >= 0 && (n = read(in, block, sizeof block)) > 0)
        if (write(out, block, (size_t)n) != n) {
            n = -1;
            break;
        }
    int failed = in < 0 || out < 0 || n < 0;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out))
        failed = 1;
    if (failed) {
        unlink(to);
        return ax_fail(err, AX_EUNAVAIL, "cannot keep the upload: %s", strerror(errno));
    }
    return 0;
}

int import_adopt_upload(const char *upload_path, const char *job_id, char *out, size_t outsz,
                        struct ax_err *err)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/imports", axon_config.var_dir);
    if (mkdir(dir, 0700) && errno != EEXIST)
        return ax_fail(err, AX_EUNAVAIL, "cannot create %s: %s", dir, strerror(errno));
    snprintf(out, outsz, "%s/%s.csv", dir, job_id);
    /* A hard link outlives the request's temp file; copy across devices. */
    if (link(upload_path, out) == 0)
        return 0;
    return copy_file(upload_path, out, err);
}

/* ---- one row ---- */

struct row_errors {
    int n;
    struct {
        char field[128];
        char msg[240];
    } e[MAX_ROW_ERRORS];
};

static void row_err(struct row_errors *re, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void row_err(struct row_errors *re, const char *field, const char *fmt, ...)
{
    if (re->n == MAX_ROW_ERRORS)
        return;
    snprintf(re->e[re->n].field, sizeof re->e[0].field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(re->e[re->n].msg, sizeof re->e[0].msg, fmt, ap);
    va_end(ap);
    re->n++;
}

/* A store error, with its pointers turned back into column names. */
static void row_err_from(const struct import_plan *p, struct row_errors *re,
                         const struct ax_err *e)
{
    if (e->nfields == 0) {
        row_err(re, NULL, "%s", e->detail);
        return;
    }
    for (int i = 0; i < e->nfields; i++) {
        const char *col = json_string_value(json_object_get(p->pointers, e->fields[i].pointer));
        row_err(re, col ? col : e->fields[i].pointer + 1, "%s", e->fields[i].detail);
    }
}

enum { APPLY_OK, APPLY_ERR, APPLY_DEFER, APPLY_FATAL };
enum { BUILD_OK, BUILD_FAILED, BUILD_DEFER };
enum { OUT_FAILED, OUT_CREATED, OUT_UPDATED, OUT_UNCHANGED, OUT_REDO };

/* ---- the batch's rows, kept ----
 *
 * A savepoint per row costs a copy of every page the row touches (15% of
 * an import's instructions, callgrind). So a batch without self-references
 * runs in one savepoint, and a row that fails leaves nothing to undo when
 * it failed before its first write (validation, references, a unique key:
 * the failing statement undoes itself; db_txn_moved). A row that fails
 * after writing (rare: an object rule, storage) rolls the batch back, and the batch's
 * rows are written again from these copies, each in its own savepoint. */

struct stashed {
    long long row;
    int nfields, error_field;
    size_t first;                   /* index of its first field in offs/lens */
    size_t error;                   /* offset of the error text + 1, 0 = none */
};

struct stash {
    struct buf text;                /* fields and errors, NUL-terminated */
    size_t *offs, *lens;
    size_t nf, capf;
    struct stashed *rows;
    size_t n, cap;
    char **ptrs;                    /* a row's field pointers, on replay */
    size_t *rlens;
    int capptrs;
};

static void stash_free(struct stash *st)
{
    if (!st)
        return;
    buf_free(&st->text);
    free(st->offs);
    free(st->lens);
    free(st->rows);
    free(st->ptrs);
    free(st->rlens);
    free(st);
}

static void stash_reset(struct stash *st)
{
    buf_reset(&st->text);
    st->nf = st->n = 0;
}

static bool grow_array(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 256;
    while (ncap < need)
        ncap *= 2;
    void *q = realloc(*p, ncap * size);
    if (!q)
        return false;
    *p = q;
    *cap = ncap;
    return true;
}

static int stash_add(struct stash *st, const struct csvio_row *row, struct ax_err *err)
{
    size_t nf = row->error ? 0 : (size_t)row->nfields;
    if (!grow_array((void **)&st->rows, &st->cap, st->n + 1, sizeof *st->rows))
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    size_t capf = st->capf;
    if (!grow_array((void **)&st->offs, &capf, st->nf + nf, sizeof *st->offs) ||
        !grow_array((void **)&st->lens, &st->capf, st->nf + nf, sizeof *st->lens))
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    struct stashed *r = &st->rows[st->n];
    r->row = row->row;
    r->nfields = (int)nf;
    r->error_field = row->error_field;
    r->first = st->nf;
    r->error = 0;
    if (row->error) {
        r->error = st->text.len + 1;
        if (buf_add(&st->text, row->error, strlen(row->error) + 1))
            return ax_fail(err, AX_ETOOLARGE, "import batch too large");
    }
    for (size_t i = 0; i < nf; i++) {
        st->offs[st->nf] = st->text.len;
        st->lens[st->nf++] = row->lens[i];
        if (buf_add(&st->text, row->fields[i], row->lens[i] + 1))
            return ax_fail(err, AX_ETOOLARGE, "import batch too large");
    }
    st->n++;
    return 0;
}

/* Row i of the stash, pointing into it (valid until the next stash_row). */
static int stash_row(struct stash *st, size_t i, struct csvio_row *row, struct ax_err *err)
{
    const struct stashed *r = &st->rows[i];
    if (r->nfields > st->capptrs) {
        char **p = realloc(st->ptrs, (size_t)r->nfields * sizeof *p);
        if (p)
            st->ptrs = p;
        size_t *l = p ? realloc(st->rlens, (size_t)r->nfields * sizeof *l) : NULL;
        if (!l)
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        st->rlens = l;
        st->capptrs = r->nfields;
    }
    for (int k = 0; k < r->nfields; k++) {
        st->ptrs[k] = st->text.data + st->offs[r->first + (size_t)k];
        st->rlens[k] = st->lens[r->first + (size_t)k];
    }
    row->row = r->row;
    row->nfields = r->nfields;
    row->fields = st->ptrs;
    row->lens = st->rlens;
    row->error = r->error ? st->text.data + r->error - 1 : NULL;
    row->error_field = r->error_field;
    return 0;
}

struct import_job {
    struct import_plan *plan;
    const struct job *job;
    struct ax_ctx ctx;
    char source[300];
    struct csvio_reader *rd;
    int pass;                       /* 1: the file in order; 2..: put-off rows again */
    bool last_pass;                 /* put-off rows now fail instead */
    int64_t *deferred;              /* rows this pass put off */
    size_t ndeferred, capdeferred;
    int64_t *wanted;                /* rows this pass takes (pass >= 2) */
    size_t nwanted, iwanted;
    bool finished;
    struct job_counts delta;
    int64_t errors_kept;
    struct import_progress prog;
    bool one_savepoint;             /* this batch: no savepoint per row */
    struct stash *stash;            /* the batch's rows, to write them again */
};

/* Set a field; reference lists collect ids instead. */
static void set_value(json_t *rec, const struct field_def *f, json_t *v)
{
    if (f->type != FT_REFLIST) {
        json_object_set_new(rec, f->name, v);
        return;
    }
    json_t *list = json_object_get(rec, f->name);
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(rec, f->name, list);
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
        if (json_equal(e, v)) {
            json_decref(v);
            return;
        }
    json_array_append_new(list, v);
}

static int apply_field(const struct import_plan *p, const struct target *t, const char *s,
                       size_t n, json_t *rec, const char *col, struct row_errors *re)
{
    json_t *in = json_stringn(s, n);
    struct ax_err e;
    ax_err_clear(&e);
    json_t *v = t->field->type == FT_REFLIST ? json_incref(in)
                                              : model_coerce(t->field, in, "", p->order, &e);
    json_decref(in);
    if (!v) {
        char got[64];
        clip(s, 40, got, sizeof got);
        row_err(re, col, "%s (got '%s')", e.nfields ? e.fields[0].detail : e.detail, got);
        return APPLY_ERR;
    }
    set_value(rec, t->field, v);
    return APPLY_OK;
}

static int apply_attr(const struct import_plan *p, const struct target *t, const char *s,
                      size_t n, json_t *rec, const char *col, struct row_errors *re)
{
    json_t *v = json_stringn(s, n);
    if (t->attr_type != FT_TEXT && t->attr_type != FT_ENUM) {
        /* Coerce here, where the declared date order is known. */
        struct field_def f = {t->attr, t->attr_type, 0, 0, NULL, NULL, NULL, 0, NULL};
        struct ax_err e;
        ax_err_clear(&e);
        json_t *c = model_coerce(&f, v, "", p->order, &e);
        json_decref(v);
        if (!c) {
            char got[64];
            clip(s, 40, got, sizeof got);
            row_err(re, col, "%s (got '%s')", e.nfields ? e.fields[0].detail : e.detail, got);
            return APPLY_ERR;
        }
        v = c;
    }
    json_t *attrs = json_object_get(rec, "attrs");
    if (!attrs) {
        attrs = json_object();
        json_object_set_new(rec, "attrs", attrs);
    }
    json_object_set_new(attrs, t->attr, v);
    return APPLY_OK;
}

/* Create the record a reference names (create_missing), in its own
 * savepoint so the row's later failure does not undo it. */
static int create_ref(struct db *d, struct import_job *ij, const struct target *t,
                      const char *value, char id[ID_MAX], struct ax_err *e)
{
    json_t *in = json_object();
    json_object_set_new(in, t->lookup->name, json_string(value));
    if (strcmp(t->lookup->name, "name") != 0 && model_field(t->ref_def, "name"))
        json_object_set_new(in, "name", json_string(value));
    struct db_txn_mark mark;
    if (db_savepoint(d, "imp_ref", &mark, e)) {
        json_decref(in);
        return -1;
    }
    struct store_result res;
    int rc = store_create(d, &ij->ctx, t->ref_def, in, &res, e);
    db_savepoint_end(d, "imp_ref", &mark, rc != 0, NULL);
    if (rc == 0)
        snprintf(id, ID_MAX, "%s", res.id);
    else if (e->code != AX_EUNAVAIL)
        snprintf(e->detail, sizeof e->detail, "could not create the %s: %s", t->ref_def->singular,
                 e->nfields ? e->fields[0].detail : "invalid");
    store_result_free(&res);
    json_decref(in);
    return rc ? -1 : 1;
}

/* Lookup value -> id: the job's cache, then the store, then creation.
 * 1 found, 0 missing, -1 error. */
static int resolve(struct db *d, struct import_job *ij, const struct target *t,
                   const char *value, char id[ID_MAX], struct ax_err *e)
{
    json_t *raw = t->raw_cache ? json_object_get(t->raw_cache, value) : NULL;
    if (raw) {
        snprintf(id, ID_MAX, "%s", json_string_value(raw));
        return 1;
    }
    char *nkey = t->normalised ? text_key(value, strlen(value)) : NULL;
    const char *key = t->normalised ? nkey : value;
    if (!key || !*key) {
        free(nkey);
        return 0;
    }
    json_t *hit = json_object_get(t->cache, key);
    int found = 1;
    if (hit) {
        snprintf(id, ID_MAX, "%s", json_string_value(hit));
    } else {
        found = store_find_by(d, ij->ctx.tenant, t->ref_def, t->lookup->name, value,
                              t->normalised, id, e);
        if (found == 0 && t->create_missing)
            found = create_ref(d, ij, t, value, id, e);
        if (found == 1)
            json_object_set_new(t->cache, key, json_string(id));
    }
    if (found == 1 && t->raw_cache)
        json_object_set_new(t->raw_cache, value, json_string(id));
    free(nkey);
    return found;
}

static int apply_ref(struct db *d, struct import_job *ij, const struct target *t, const char *s,
                     size_t n, json_t *rec, const char *col, struct row_errors *re,
                     struct ax_err *fatal)
{
    struct ax_err e;
    ax_err_clear(&e);
    char got[64], id[ID_MAX];
    clip(s, 40, got, sizeof got);
    json_t *in = json_stringn(s, n);
    json_t *v = model_coerce(t->lookup, in, "", ij->plan->order, &e);
    json_decref(in);
    if (!json_is_string(v)) {
        json_decref(v);
        row_err(re, col, "%s (got '%s')", e.nfields ? e.fields[0].detail : e.detail, got);
        return APPLY_ERR;
    }
    int found = resolve(d, ij, t, json_string_value(v), id, &e);
    json_decref(v);
    if (found < 0 && e.code == AX_EUNAVAIL) {
        *fatal = e;
        return APPLY_FATAL;
    }
    if (found < 0) {
        row_err(re, col, "%s", e.detail);
        return APPLY_ERR;
    }
    if (found == 0) {
        if (t->self && !ij->last_pass)
            return APPLY_DEFER;
        row_err(re, col, "no %s with %s '%s'", t->ref_def->singular, t->lookup->name, got);
        return APPLY_ERR;
    }
    set_value(rec, t->field, json_string(id));
    return APPLY_OK;
}

static int apply(struct db *d, struct import_job *ij, const struct target *t, const char *s,
                 size_t n, json_t *rec, const char *col, struct row_errors *re,
                 struct ax_err *fatal)
{
    switch (t->kind) {
    case TGT_FIELD:
        return apply_field(ij->plan, t, s, n, rec, col, re);
    case TGT_ATTR:
        return apply_attr(ij->plan, t, s, n, rec, col, re);
    default:
        return apply_ref(d, ij, t, s, n, rec, col, re, fatal);
    }
}

static bool target_set(json_t *rec, const struct target *t)
{
    if (t->kind == TGT_ATTR)
        return json_object_get(json_object_get(rec, "attrs"), t->attr) != NULL;
    return json_object_get(rec, t->field->name) != NULL;
}

/* A cell, trimmed (in place: the reader's buffer is ours until the next
 * row) and translated through the column's value map. */
static void cell_value(const struct column *cm, const struct csvio_row *row, const char **s,
                       size_t *n)
{
    *s = "";
    *n = 0;
    if (cm->col >= row->nfields)
        return;
    char *v = row->fields[cm->col];
    size_t len = row->lens[cm->col];
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    v[len] = '\0';
    while (len && isspace((unsigned char)*v)) {
        v++;
        len--;
    }
    *s = v;
    *n = len;
    if (!cm->values || !len)
        return;
    json_t *m = json_object_getn(cm->values, v, len);
    if (!m) {
        char *k = text_key(v, len);
        m = k ? json_object_get(cm->values_keyed, k) : NULL;
        free(k);
    }
    if (m) {
        *s = json_is_string(m) ? json_string_value(m) : "";
        *n = json_is_string(m) ? json_string_length(m) : 0;
    }
}

static int build_record(struct db *d, struct import_job *ij, const struct csvio_row *row,
                        json_t *rec, struct row_errors *re, struct ax_err *fatal)
{
    struct import_plan *p = ij->plan;
    bool defer = false;
    for (int i = 0; i < p->ncols; i++) {
        const struct column *cm = &p->cols[i];
        const char *s;
        size_t n;
        cell_value(cm, row, &s, &n);
        for (int k = 0; n && k < cm->ntargets; k++) {
            int rc = apply(d, ij, &p->targets[cm->targets[k]], s, n, rec, cm->header, re, fatal);
            if (rc == APPLY_FATAL)
                return -1;
            defer |= rc == APPLY_DEFER;
        }
    }
    for (int i = 0; i < p->ndefaults; i++) {
        const struct target *t = &p->targets[p->defaults[i].target];
        if (target_set(rec, t))
            continue;
        const char *s = p->defaults[i].text;
        int rc = apply(d, ij, t, s, strlen(s), rec, t->name, re, fatal);
        if (rc == APPLY_FATAL)
            return -1;
        defer |= rc == APPLY_DEFER;
    }
    if (re->n)
        return BUILD_FAILED;
    return defer ? BUILD_DEFER : BUILD_OK;
}

static const char *column_name(const struct import_plan *p, int idx)
{
    return idx >= 0 ? json_string_value(json_array_get(p->header, (size_t)idx)) : NULL;
}

/* Upsert by the key, else create; in its own savepoint unless the batch
 * has one (then OUT_REDO when it failed after writing). */
static int write_record(struct db *d, struct import_job *ij, json_t *rec, struct row_errors *re,
                        struct ax_err *fatal)
{
    const struct import_plan *p = ij->plan;
    char id[ID_MAX];
    int found = 0;
    struct ax_err e;
    ax_err_clear(&e);
    if (p->key) {
        const char *kv = json_string_value(json_object_get(rec, p->key->name));
        char ptr[80];
        snprintf(ptr, sizeof ptr, "/%s", p->key->name);
        const char *col = json_string_value(json_object_get(p->pointers, ptr));
        if (!kv) {
            row_err(re, col, "the key (%s) is empty", p->key->name);
            return OUT_FAILED;
        }
        found = store_find_by(d, ij->ctx.tenant, p->def, p->key->name, kv, false, id, &e);
        if (found < 0) {
            row_err(re, col, "%s", e.detail);
            return OUT_FAILED;
        }
    }
    struct db_txn_mark mark;
    struct db_txn_point before;
    db_txn_point(d, &before);
    if (!ij->one_savepoint && db_savepoint(d, "imp_row", &mark, fatal))
        return -1;
    struct store_result res;
    int rc = found ? store_update(d, &ij->ctx, p->def, id, rec, -1, &res, &e)
                   : store_create(d, &ij->ctx, p->def, rec, &res, &e);
    bool changed = res.changed;
    store_result_free(&res);
    if (!ij->one_savepoint && db_savepoint_end(d, "imp_row", &mark, rc != 0, fatal))
        return -1;
    if (rc && ij->one_savepoint && db_txn_moved(d, &before))
        return OUT_REDO;
    if (rc && e.code == AX_EUNAVAIL) {
        *fatal = e;
        return -1;
    }
    if (rc) {
        row_err_from(p, re, &e);
        return OUT_FAILED;
    }
    return !found ? OUT_CREATED : changed ? OUT_UPDATED : OUT_UNCHANGED;
}

static int record_errors(struct db *d, struct import_job *ij, int64_t row,
                         const struct row_errors *re, struct ax_err *fatal)
{
    for (int i = 0; i < re->n; i++, ij->errors_kept++) {
        const char *field = re->e[i].field[0] ? re->e[i].field : NULL;
        const char *msg = re->e[i].msg;
        if (ij->errors_kept > MAX_JOB_ERRORS)
            break;
        if (ij->errors_kept == MAX_JOB_ERRORS) {
            field = NULL;
            msg = "more rows failed; their errors are not recorded";
        }
        if (jobs_add_error(d, ij->job->rid, row, field, msg, fatal))
            return -1;
    }
    return 0;
}

static bool blank_row(const struct csvio_row *row)
{
    for (int i = 0; i < row->nfields; i++) {
        const char *s = row->fields[i];
        size_t n = row->lens[i];
        trim(&s, &n);
        if (n)
            return false;
    }
    return true;
}

static int defer_row(struct import_job *ij, int64_t row, struct ax_err *fatal)
{
    if (ij->ndeferred == ij->capdeferred) {
        size_t ncap = ij->capdeferred ? ij->capdeferred * 2 : 64;
        int64_t *p = realloc(ij->deferred, ncap * sizeof *p);
        if (!p)
            return ax_fail(fatal, AX_EINTERNAL, "out of memory");
        ij->deferred = p;
        ij->capdeferred = ncap;
    }
    ij->deferred[ij->ndeferred++] = row;
    return 0;
}

static void count(struct import_job *ij, int outcome)
{
    ij->delta.done++;
    ij->delta.failed += outcome == OUT_FAILED;
    ij->delta.created += outcome == OUT_CREATED;
    ij->delta.updated += outcome == OUT_UPDATED;
}

/* One data row: -1 only for failures that must stop the job, 1 when the
 * batch must be written again row by row (OUT_REDO). */
static int import_row(struct db *d, struct import_job *ij, const struct csvio_row *row,
                      struct ax_err *fatal)
{
    struct row_errors re;
    re.n = 0;
    if (row->error) {
        row_err(&re, column_name(ij->plan, row->error_field), "%s", row->error);
    } else if (blank_row(row)) {
        count(ij, OUT_UNCHANGED);
        return 0;
    } else {
        json_t *rec = json_object();
        int st = build_record(d, ij, row, rec, &re, fatal);
        int outcome = st == BUILD_OK ? write_record(d, ij, rec, &re, fatal) : OUT_FAILED;
        json_decref(rec);
        if (st < 0 || outcome < 0)
            return -1;
        if (outcome == OUT_REDO)
            return 1;
        if (st == BUILD_DEFER)
            return defer_row(ij, row->row, fatal);
        if (outcome != OUT_FAILED) {
            count(ij, outcome);
            return 0;
        }
    }
    count(ij, OUT_FAILED);
    return record_errors(d, ij, row->row, &re, fatal);
}

/* ---- passes and batches ---- */

static int open_reader(struct import_job *ij, struct ax_err *err)
{
    struct csvio_opts o;
    plan_csv_opts(ij->plan, &o);
    csvio_close(ij->rd);
    ij->rd = csvio_open(ij->job->file, &o, err);
    return ij->rd ? 0 : -1;
}

/* Read the file again for the rows put off; when a pass resolved none of
 * them, the next one reports them instead. */
static int start_pass(struct import_job *ij, struct ax_err *err)
{
    if (ij->pass > 1 && ij->ndeferred == ij->nwanted)
        ij->last_pass = true;
    free(ij->wanted);
    ij->wanted = ij->deferred;
    ij->nwanted = ij->ndeferred;
    ij->iwanted = 0;
    ij->deferred = NULL;
    ij->ndeferred = ij->capdeferred = 0;
    ij->pass++;
    return open_reader(ij, err);
}

static bool wanted(struct import_job *ij, const struct csvio_row *row)
{
    if (row->row == 0)
        return false;
    if (ij->pass == 1)
        return true;
    if (ij->iwanted < ij->nwanted && ij->wanted[ij->iwanted] == row->row) {
        ij->iwanted++;
        return true;
    }
    return false;
}

/* The next row to import: 1, 0 when every pass is over, -1 on failure. */
static int next_row(struct import_job *ij, struct csvio_row *row, struct ax_err *err)
{
    for (;;) {
        bool pass_over = ij->pass > 1 && ij->iwanted == ij->nwanted;
        if (!pass_over) {
            int rc = csvio_next(ij->rd, row, err);
            if (rc < 0)
                return -1;
            if (rc == 1 && !wanted(ij, row))
                continue;
            if (rc == 1)
                return 1;
        }
        if (ij->ndeferred == 0) {
            ij->finished = true;
            return 0;
        }
        if (start_pass(ij, err))
            return -1;
    }
}

/* Forget what the rolled-back rows looked up or created. */
static void forget_refs(struct import_plan *p)
{
    for (int i = 0; i < p->ntargets; i++) {
        if (p->targets[i].cache)
            json_object_clear(p->targets[i].cache);
        if (p->targets[i].raw_cache)
            json_object_clear(p->targets[i].raw_cache);
    }
}

/* The batch so far failed in one savepoint: roll it back and write its
 * rows again, each in its own savepoint; the rest of the batch too. */
static int redo_batch(struct db *d, struct import_job *ij, const struct db_txn_mark *mark,
                      int64_t errors_kept, struct ax_err *err)
{
    if (db_savepoint_end(d, "imp_batch", mark, true, err))
        return -1;
    forget_refs(ij->plan);
    ij->one_savepoint = false;
    ij->errors_kept = errors_kept;
    memset(&ij->delta, 0, sizeof ij->delta);
    struct csvio_row row;
    for (size_t i = 0; i < ij->stash->n; i++) {
        if (stash_row(ij->stash, i, &row, err) || import_row(d, ij, &row, err))
            return -1;
        if (sqlite3_get_autocommit(db_handle(d)))
            return ax_fail(err, AX_EUNAVAIL, "the import's transaction was rolled back");
    }
    return 0;
}

/* Up to BATCH_ROWS rows and the job's progress, in one transaction. */
static int run_batch(struct db *d, void *arg, struct ax_err *err)
{
    struct import_job *ij = arg;
    memset(&ij->delta, 0, sizeof ij->delta);
    double until = time_mono() + BATCH_SECONDS;
    struct csvio_row row;
    struct db_txn_mark mark;
    int64_t errors_kept = ij->errors_kept;
    /* Put-off rows move between passes: those batches keep per-row savepoints. */
    ij->one_savepoint = !ij->plan->has_self_ref;
    if (ij->one_savepoint) {
        if (!ij->stash && !(ij->stash = calloc(1, sizeof *ij->stash)))
            return ax_fail(err, AX_EINTERNAL, "out of memory");
        if (!ij->stash->text.max)
            buf_init(&ij->stash->text, 0);
        stash_reset(ij->stash);
        if (db_savepoint(d, "imp_batch", &mark, err))
            return -1;
    }
    bool open = ij->one_savepoint;
    for (int n = 0; n < BATCH_ROWS; n++) {
        int rc = next_row(ij, &row, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (ij->one_savepoint && stash_add(ij->stash, &row, err))
            return -1;
        rc = import_row(d, ij, &row, err);
        if (rc == 1) {
            open = false;
            rc = redo_batch(d, ij, &mark, errors_kept, err);
        }
        if (rc)
            return -1;
        /* SQLite ended the transaction itself (I/O, full disk): stop here,
         * before the next rows' statements commit one by one. */
        if (sqlite3_get_autocommit(db_handle(d)))
            return ax_fail(err, AX_EUNAVAIL, "the import's transaction was rolled back");
        if ((n & 63) == 63 && time_mono() > until)
            break;
    }
    if (open && db_savepoint_end(d, "imp_batch", &mark, false, err))
        return -1;
    return jobs_progress(d, ij->job->rid, &ij->delta, err);
}

/* ---- running a job ---- */

enum job_op_kind { OP_TOTAL, OP_RESTART, OP_FINISH };

struct job_op {
    enum job_op_kind kind;
    int64_t rid, total;
    const char *error;
};

static int run_job_op(struct db *d, void *arg, struct ax_err *err)
{
    struct job_op *o = arg;
    switch (o->kind) {
    case OP_TOTAL:
        return jobs_set_total(d, o->rid, o->total, err);
    case OP_RESTART:
        return jobs_restart(d, o->rid, err);
    default:
        return jobs_finish(d, o->rid, o->error, err);
    }
}

static int job_op(struct db *d, enum job_op_kind kind, int64_t rid, int64_t total,
                  const char *error, struct ax_err *err)
{
    struct job_op o = {kind, rid, total, error};
    return writer_exec(d, run_job_op, &o, err);
}

static void job_context(struct import_job *ij, json_t *params)
{
    const struct job *j = ij->job;
    struct ax_ctx *c = &ij->ctx;
    memset(c, 0, sizeof *c);
    c->tenant = j->tenant;
    c->role = (int)json_integer_value(json_object_get(params, "role"));
    c->actor_type = "import_job";
    snprintf(c->actor_id, sizeof c->actor_id, "%s", j->id);
    const char *user = json_string_value(json_object_get(params, "user_id"));
    snprintf(c->user_id, sizeof c->user_id, "%s", user ? user : "");
    const char *name = json_string_value(json_object_get(params, "file_name"));
    snprintf(ij->source, sizeof ij->source, "import:%.200s", name ? name : "upload.csv");
    c->source = ij->source;
    c->trigger = "import";
    c->request_id = j->id;
}

/* Plan, total, resume position, reader. */
static int setup(struct db *d, struct import_job *ij, json_t *params, struct ax_err *err)
{
    const struct job *j = ij->job;
    job_context(ij, params);
    if (!j->file)
        return ax_fail(err, AX_EINVALID, "the job has no file");
    ij->plan = import_plan_new(d, &ij->ctx, json_object_get(params, "options"), j->file, err);
    if (!ij->plan)
        return -1;
    struct csvio_opts o;
    plan_csv_opts(ij->plan, &o);
    ij->prog = (struct import_progress){j->total, j->done, j->failed, j->created, j->updated};
    long long total = j->total;
    if (j->total == 0 && (csvio_count(j->file, &o, &total, err) ||
                          job_op(d, OP_TOTAL, j->rid, total, NULL, err)))
        return -1;
    ij->prog.total = total;
    long long skip = j->done;
    /* Rows put off before the crash were not counted as done: with
     * self-references, start over (upserts make that safe). */
    if (j->resumed && ij->plan->has_self_ref) {
        if (job_op(d, OP_RESTART, j->rid, 0, NULL, err))
            return -1;
        skip = 0;
        ij->prog.done = ij->prog.failed = ij->prog.created = ij->prog.updated = 0;
    }
    ij->pass = 1;
    if (open_reader(ij, err))
        return -1;
    csvio_skip_to(ij->rd, skip);
    return 0;
}

/* "invalid options: /columns/x: no such column" from a plan's error. */
static void failure_text(const struct ax_err *e, char *out, size_t outsz)
{
    if (e->nfields)
        snprintf(out, outsz, "%s: %s %s", e->detail, e->fields[0].pointer, e->fields[0].detail);
    else
        snprintf(out, outsz, "%s", e->detail[0] ? e->detail : "the import failed");
}

static void release(struct import_job *ij)
{
    stash_free(ij->stash);
    csvio_close(ij->rd);
    import_plan_free(ij->plan);
    free(ij->deferred);
    free(ij->wanted);
}

static void add_delta(struct import_job *ij)
{
    ij->prog.done += ij->delta.done;
    ij->prog.failed += ij->delta.failed;
    ij->prog.created += ij->delta.created;
    ij->prog.updated += ij->delta.updated;
}

int import_run(struct db *d, const struct job *job, const atomic_bool *stop,
               import_progress_fn fn, void *arg)
{
    struct import_job ij;
    memset(&ij, 0, sizeof ij);
    ij.job = job;
    struct ax_err err;
    ax_err_clear(&err);
    json_t *params = json_loads(job->params, 0, NULL);
    int rc = params ? setup(d, &ij, params, &err)
                    : ax_fail(&err, AX_EINTERNAL, "the job's parameters are unreadable");
    if (rc == 0 && fn)
        fn(arg, &ij.prog);
    while (rc == 0 && !ij.finished) {
        if (stop && atomic_load(stop)) {
            release(&ij);
            json_decref(params);
            return 1;
        }
        rc = writer_exec(d, run_batch, &ij, &err);
        if (rc == 0) {
            add_delta(&ij);
            if (fn)
                fn(arg, &ij.prog);
        }
    }
    char why[700];
    failure_text(&err, why, sizeof why);
    struct ax_err ferr;
    ax_err_clear(&ferr);
    if (job_op(d, OP_FINISH, job->rid, 0, rc ? why : NULL, &ferr))
        log_error("job %s: cannot record its end: %s", job->id, ferr.detail);
    if (rc)
        log_warn("job %s failed: %s", job->id, why);
    if (params && json_is_true(json_object_get(params, "owned_file")) && job->file)
        unlink(job->file);
    release(&ij);
    json_decref(params);
    return 0;
}

/* ---- preview ---- */

/* "Ticket Status" -> "ticket_status" */
static void snake(const char *s, char *out, size_t outsz)
{
    size_t n = 0;
    for (; *s && n + 1 < outsz; s++)
        out[n++] = (*s == ' ' || *s == '-') ? '_' : (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

static bool writable(const struct field_def *f)
{
    return f && !(f->flags & F_SERVER) && f->type != FT_ATTRS && f->type != FT_JSON;
}

/* A reference written as "<ref>" or "<ref>_<key>", e.g. "product" or
 * "customer_email", becomes "product_id.name" / "customer_id.email". */
static bool suggest_ref(const struct object_def *def, const char *name, char *out, size_t outsz)
{
    for (int i = 0; i < def->nfields; i++) {
        const struct field_def *f = &def->fields[i];
        size_t base = strlen(f->name) - 3;
        if (f->type != FT_REF || strcmp(f->name + base, "_id") != 0)
            continue;
        const struct object_def *rd = model_find(f->ref);
        const char *rest = NULL;
        if (strncmp(name, f->name, base) == 0 && (name[base] == '\0' || name[base] == '_'))
            rest = name[base] ? name + base + 1 : "name";
        else if (strncmp(name, rd->singular, strlen(rd->singular)) == 0 &&
                 name[strlen(rd->singular)] == '_')
            rest = name + strlen(rd->singular) + 1;
        const struct field_def *lf = rest ? model_field(rd, rest) : NULL;
        if (lf && (lf->flags & F_KEY)) {
            snprintf(out, outsz, "%s.%s", f->name, lf->name);
            return true;
        }
    }
    return false;
}

/* The target a header name suggests for `def`, or false. */
static bool suggest_target(const struct object_def *def, const char *header, char *out,
                           size_t outsz)
{
    char name[128];
    snake(header, name, sizeof name);
    size_t sl = strlen(def->singular);
    const char *bare = strncmp(name, def->singular, sl) == 0 && name[sl] == '_' ? name + sl + 1
                                                                              : NULL;
    if (bare && strcmp(bare, "id") == 0)
        bare = "external_id";     /* "Ticket ID": the source system's id */
    const char *tries[2] = {name, bare};
    for (int i = 0; i < 2; i++)
        if (tries[i] && writable(model_field(def, tries[i]))) {
            snprintf(out, outsz, "%s", tries[i]);
            return true;
        }
    if (strncmp(name, "attrs.", 6) == 0 && def->custom_fields) {
        snprintf(out, outsz, "%s", name);
        return true;
    }
    return suggest_ref(def, name, out, outsz) || (bare && suggest_ref(def, bare, out, outsz));
}

static json_t *suggest_columns(const struct object_def *def, json_t *header, int *matched)
{
    json_t *cols = json_object();
    *matched = 0;
    size_t i;
    json_t *h;
    json_array_foreach(header, i, h) {
        char target[160];
        const char *name = json_string_value(h);
        if (!*name || json_object_get(cols, name))
            continue;
        bool ok = suggest_target(def, name, target, sizeof target);
        json_object_set_new(cols, name, ok ? json_string(target) : json_null());
        *matched += ok;
    }
    return cols;
}

/* The importable object whose fields the header names best. */
static const struct object_def *guess_object(json_t *header)
{
    int n, best = 0;
    const struct object_def *const *all = model_all(&n);
    const struct object_def *pick = NULL;
    for (int i = 0; i < n; i++) {
        if (strcmp(all[i]->name, "fields") == 0)
            continue;
        int matched;
        json_decref(suggest_columns(all[i], header, &matched));
        if (matched > best) {
            best = matched;
            pick = all[i];
        }
    }
    return pick;
}

static json_t *row_json(const struct csvio_row *row)
{
    json_t *a = json_array();
    for (int i = 0; i < row->nfields; i++)
        json_array_append_new(a, json_stringn(row->fields[i], row->lens[i]));
    return a;
}

/* A one-column header that holds ; tab or | was split on the wrong delimiter. */
static char guess_delimiter(json_t *header)
{
    const char *h = json_string_value(json_array_get(header, 0));
    if (json_array_size(header) != 1 || !h)
        return ',';
    static const char cands[] = ";\t|";
    char best = ',';
    size_t most = 0;
    for (int i = 0; cands[i]; i++) {
        size_t k = 0;
        for (const char *p = h; *p; p++)
            k += *p == cands[i];
        if (k > most) {
            most = k;
            best = cands[i];
        }
    }
    return best;
}

static int preview_rows(const char *path, const struct csvio_opts *o, json_t *out,
                        struct ax_err *err)
{
    struct csvio_reader *r = csvio_open(path, o, err);
    if (!r)
        return -1;
    json_t *rows = json_array(), *errs = json_array(), *header = NULL;
    struct csvio_row row;
    int rc;
    while ((rc = csvio_next(r, &row, err)) == 1 && row.row <= PREVIEW_ROWS) {
        if (row.error)
            json_array_append_new(errs, json_pack("{s:I,s:s}", "row", (json_int_t)row.row,
                                                  "message", row.error));
        if (row.row == 0)
            header = row.error ? json_array() : row_json(&row);
        else
            json_array_append_new(rows, row.error ? json_null() : row_json(&row));
    }
    json_object_set_new(out, "bom", json_boolean(csvio_had_bom(r)));
    json_object_set_new(out, "encoding", json_string(csvio_encoding(r)));
    csvio_close(r);
    json_object_set_new(out, "header", header ? header : json_array());
    json_object_set_new(out, "rows", rows);
    json_object_set_new(out, "row_errors", errs);
    return rc < 0 ? -1 : 0;
}

static int preview_format(json_t *options, char enc[CSVIO_ENCODING_MAX], char *delim,
                          struct ax_err *err)
{
    const char *e = json_string_value(json_object_get(options, "encoding"));
    const char *dl = json_string_value(json_object_get(options, "delimiter"));
    if (e && csvio_check_encoding(e, enc, err))
        return -1;
    if (dl && strcmp(dl, "tab") == 0)
        dl = "\t";
    if (dl && (strlen(dl) != 1 || strchr("\"\r\n", dl[0])))
        return ax_fail(err, AX_EINVALID, "the delimiter must be one character");
    *delim = dl ? dl[0] : 0;
    return 0;
}

/* Upserts want a stable key: an external id, else an e-mail address. */
static json_t *suggest_key(json_t *cols)
{
    static const char *const keys[] = {"external_id", "email", NULL};
    for (int i = 0; keys[i]; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(cols, k, v)
            if (json_is_string(v) && strcmp(json_string_value(v), keys[i]) == 0)
                return json_string(keys[i]);
    }
    return json_null();
}

static void add_suggestion(json_t *res, json_t *options)
{
    json_t *header = json_object_get(res, "header");
    const char *obj = json_string_value(json_object_get(options, "object"));
    const struct object_def *def = obj ? model_find(obj) : guess_object(header);
    json_t *sug = json_object();
    if (def) {
        int matched;
        json_t *cols = suggest_columns(def, header, &matched);
        json_object_set_new(sug, "object", json_string(def->name));
        json_object_set_new(sug, "key", suggest_key(cols));
        json_object_set_new(sug, "columns", cols);
    }
    json_object_set_new(res, "suggested", sug);
}

int import_preview(const char *path, json_t *options, struct buf *out, struct ax_err *err)
{
    char enc[CSVIO_ENCODING_MAX] = "";
    char delim = 0;
    bool bom;
    if (preview_format(options, enc, &delim, err))
        return -1;
    if (!enc[0] && csvio_sniff(path, enc, &bom, err))
        return -1;
    struct csvio_opts o = {enc, delim ? delim : ',', 0, 0};
    json_t *res = json_object();
    int rc = preview_rows(path, &o, res, err);
    if (rc == 0 && !delim && (o.delimiter = guess_delimiter(json_object_get(res, "header"))) != ',')
        rc = preview_rows(path, &o, res, err);
    char dl[2] = {o.delimiter, 0};
    json_object_set_new(res, "delimiter", json_string(dl));
    add_suggestion(res, options);
    char *s = rc == 0 ? json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(res);
    if (rc == 0 && (!s || buf_adds(out, s)))
        rc = ax_fail(err, AX_EINTERNAL, "out of memory");
    free(s);
    return rc;
}

/* ---- export ---- */

struct import_export {
    const struct object_def *def;
    const struct field_def *fields[64];
    int nfields;
    json_t *attrs;               /* custom field names, in declaration order */
};

static int collect_attr(void *arg, const char *doc)
{
    json_t *o = json_loads(doc, 0, NULL);
    const char *name = json_string_value(json_object_get(o, "name"));
    if (name)
        json_array_append_new(arg, json_string(name));
    json_decref(o);
    return 0;
}

/* The custom fields declared for an object, through the store. */
static int list_attrs(struct db *d, const struct ax_ctx *c, const struct object_def *def,
                      json_t *names, struct ax_err *err)
{
    const struct object_def *fields = model_find("fields");
    if (!def->custom_fields || !fields)
        return 0;
    struct store_query q;
    store_query_init(&q);
    q.desc = false;
    int rc = store_query_param(d, c, fields, &q, "object", def->name, err);
    if (rc == 0)
        rc = store_each(d, c, fields, &q, collect_attr, names, err);
    store_query_release(&q);
    return rc;
}

struct import_export *import_export_new(struct db *d, const struct ax_ctx *c,
                                        const struct object_def *def, struct ax_err *err)
{
    struct import_export *x = calloc(1, sizeof *x);
    if (!x) {
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    x->def = def;
    x->attrs = json_array();
    for (int i = 0; i < def->nfields && x->nfields < 64; i++) {
        const struct field_def *f = &def->fields[i];
        if (f->type != FT_ATTRS && model_field_readable(f, c->role))
            x->fields[x->nfields++] = f;
    }
    if (list_attrs(d, c, def, x->attrs, err)) {
        import_export_free(x);
        return NULL;
    }
    return x;
}

void import_export_free(struct import_export *x)
{
    if (!x)
        return;
    json_decref(x->attrs);
    free(x);
}

int import_export_header(const struct import_export *x, struct buf *out)
{
    int col = 0, rc = 0;
    csvio_bom(out);
    rc |= csvio_cell(out, col++, "id", 2);
    for (int i = 0; i < x->nfields; i++)
        rc |= csvio_cell(out, col++, x->fields[i]->name, strlen(x->fields[i]->name));
    size_t i;
    json_t *a;
    json_array_foreach(x->attrs, i, a) {
        char name[96];
        snprintf(name, sizeof name, "attrs.%s", json_string_value(a));
        rc |= csvio_cell(out, col++, name, strlen(name));
    }
    rc |= csvio_cell(out, col++, "created_at", 10);
    rc |= csvio_cell(out, col++, "updated_at", 10);
    return rc | csvio_end_row(out);
}

/* Text is neutralised against formulas; numbers are written as numbers. */
static int export_value(struct buf *out, int col, json_t *v)
{
    char num[64];
    if (!v || json_is_null(v))
        return csvio_plain_cell(out, col, "", 0);
    if (json_is_string(v))
        return csvio_cell(out, col, json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return csvio_plain_cell(out, col, num, strlen(num));
    }
    if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        return csvio_plain_cell(out, col, num, strlen(num));
    }
    if (json_is_boolean(v))
        return csvio_plain_cell(out, col, json_is_true(v) ? "true" : "false",
                                json_is_true(v) ? 4 : 5);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = s ? csvio_cell(out, col, s, strlen(s)) : -1;
    free(s);
    return rc;
}

int import_export_row(const struct import_export *x, json_t *doc, struct buf *out)
{
    int col = 0, rc = 0;
    rc |= export_value(out, col++, json_object_get(doc, "id"));
    for (int i = 0; i < x->nfields; i++)
        rc |= export_value(out, col++, json_object_get(doc, x->fields[i]->name));
    json_t *attrs = json_object_get(doc, "attrs");
    size_t i;
    json_t *a;
    json_array_foreach(x->attrs, i, a)
        rc |= export_value(out, col++, json_object_get(attrs, json_string_value(a)));
    rc |= export_value(out, col++, json_object_get(doc, "created_at"));
    rc |= export_value(out, col++, json_object_get(doc, "updated_at"));
    return rc | csvio_end_row(out);
}
