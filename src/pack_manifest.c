/* pack_manifest.c - pack.lua: run in the sandbox, then every member of
 * the table it returns checked and normalised. */
#include "axon/pack_manifest.h"

#include "axon/lua_rt.h"
#include "axon/pack_perm.h"
#include "axon/text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 64                        /* permissions, settings */
#define MAX_TEXT 1000                      /* characters of a description */

/* The manifest is data: it gets far less than a handler. */
static const struct lua_budget manifest_budget = {
    .instructions = 1000000, .memory = 4 << 20, .wall_ms = 500, .host_calls = 0, .rows = 0};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_letter(char c) { return is_lower(c) || (c >= 'A' && c <= 'Z'); }

static bool is_identifier(const char *s)
{
    if (!is_letter(*s) && *s != '_')
        return false;
    while (*++s)
        if (!is_letter(*s) && !is_digit(*s) && *s != '_')
            return false;
    return true;
}

/* Copy valid UTF-8 for a message, cut at a character boundary. */
static const char *clip(const char *s, char *out, size_t outsz)
{
    size_t n = strlen(s);
    if (n < outsz)
        return memcpy(out, s, n + 1);
    n = outsz - 4;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    memcpy(out, s, n);
    memcpy(out + n, "\xe2\x80\xa6", 4);     /* "…" */
    return out;
}

struct mctx {
    const struct pack_bundle *b;
    struct ax_err *err;
    int problems;
};

__attribute__((format(printf, 3, 4)))
static void problem(struct mctx *m, const char *ptr, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m->problems++ == 0)
        ax_fail_type(m->err, AX_EINVALID, "invalid-pack", "pack.lua: %s: %s", ptr, msg);
    ax_field(m->err, ptr, "%s", msg);
}

/* base + "/" + key as a JSON pointer (RFC 6901 escapes), cut whole. */
static void ptr_join(char *out, size_t outsz, const char *base, const char *key)
{
    char safe[64], esc[256];
    size_t used = (size_t)snprintf(esc, sizeof esc, "%.100s/", base);
    for (const char *k = clip(key, safe, sizeof safe); *k; k++) {
        if (*k == '~' || *k == '/')
            esc[used++] = '~';
        esc[used++] = *k == '~' ? '0' : *k == '/' ? '1' : *k;
    }
    esc[used] = '\0';
    clip(esc, out, outsz);
}

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a table";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "nil";
    }
}

/* Lua's `{}` converts to an empty object; as a list it is simply empty. */
static int list_len(json_t *v)
{
    if (json_is_array(v))
        return (int)json_array_size(v);
    return json_is_object(v) && json_object_size(v) == 0 ? 0 : -1;
}

/* Integers, and floats that hold one (Lua's 1e6). */
static bool get_int(json_t *v, json_int_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    double d = json_is_real(v) ? json_real_value(v) : 0.5;
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(json_int_t)d)
        return false;
    *out = (json_int_t)d;
    return true;
}

static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    int row[33];
    if (n > 32 || m > 32)
        return 99;
    for (size_t j = 0; j <= m; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

static bool in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static void check_keys(struct mctx *m, json_t *obj, const char *base, const char *const *known)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (in_list(k, known))
            continue;
        char ptr[96], name[48], all[160] = "";
        const char *near = NULL;
        for (int i = 0, best = 3; known[i]; i++) {
            int d = distance(k, known[i]);
            if (d < best && d < (int)strlen(known[i])) {
                best = d;
                near = known[i];
            }
            snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? ", " : "",
                     known[i]);
        }
        ptr_join(ptr, sizeof ptr, base, k);
        clip(k, name, sizeof name);
        if (near)
            problem(m, ptr, "unknown key '%s' \xe2\x80\x94 did you mean '%s'?", name, near);
        else
            problem(m, ptr, "unknown key '%s' (known keys: %s)", name, all);
    }
}

/* A string member of `o`, or NULL (with a problem when it is not one). */
static const char *get_string(struct mctx *m, json_t *o, const char *key, const char *ptr,
                              bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            problem(m, ptr, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        problem(m, ptr, "must be a string, not %s", type_name(v));
        return NULL;
    }
    return json_string_value(v);
}

static const char *get_text(struct mctx *m, json_t *o, const char *key, const char *ptr)
{
    const char *s = get_string(m, o, key, ptr, false);
    if (s && text_length(s, strlen(s)) > MAX_TEXT) {
        problem(m, ptr, "is longer than %d characters", MAX_TEXT);
        return NULL;
    }
    return s ? s : "";
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64 || !is_lower(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* MAJOR.MINOR.PATCH without leading zeros, then an optional -prerelease
 * of dot-separated [0-9A-Za-z-] identifiers (semver 2.0, no build part). */
static bool valid_version(const char *s)
{
    if (strlen(s) > 32)
        return false;
    for (int part = 0; part < 3; part++) {
        if (!is_digit(*s) || (*s == '0' && is_digit(s[1])))
            return false;
        while (is_digit(*s))
            s++;
        if (part < 2 && *s++ != '.')
            return false;
    }
    if (*s == '\0')
        return true;
    if (*s++ != '-')
        return false;
    bool empty = true;
    for (; *s; s++) {
        if (*s == '.' && empty)
            return false;
        if (*s != '.' && !is_digit(*s) && !is_letter(*s) && *s != '-')
            return false;
        empty = *s == '.';
    }
    return !empty;
}

static bool valid_event(const char *e)
{
    static const char *const objects[] = {"customers", "contacts", "products", "deals",
                                          "tickets", "activities", NULL};
    static const char *const actions[] = {"created", "updated", "deleted", NULL};
    const char *dot = strchr(e, '.');
    if (strcmp(e, "deals.stage_changed") == 0)
        return true;
    if (!dot || !in_list(dot + 1, actions))
        return false;
    for (int i = 0; objects[i]; i++)
        if (strlen(objects[i]) == (size_t)(dot - e) && strncmp(e, objects[i], (size_t)(dot - e)) == 0)
            return true;
    return false;
}

/* "module.function" whose module is a file of the bundle. */
static const char *check_fn(struct mctx *m, json_t *o, const char *base)
{
    char ptr[96], module[PACK_MAX_PATH], path[PACK_MAX_PATH + 8], show[64];
    snprintf(ptr, sizeof ptr, "%s/fn", base);
    const char *fn = get_string(m, o, "fn", ptr, true);
    if (!fn)
        return NULL;
    const char *dot = strrchr(fn, '.');
    size_t n = dot ? (size_t)(dot - fn) : 0;
    if (!dot || n == 0 || n >= sizeof module || !is_identifier(dot + 1)) {
        problem(m, ptr, "must be \"module.function\", e.g. \"route.assign\"");
        return NULL;
    }
    memcpy(module, fn, n);
    module[n] = '\0';
    clip(module, show, sizeof show);
    if (pack_module_path(module, path, sizeof path))
        problem(m, ptr, "'%s' is not a module name (dot-separated Lua identifiers)", show);
    else if (strcmp(module, "pack") == 0)
        problem(m, ptr, "pack.lua is the manifest, not a module");
    else if (strncmp(module, "tests.", 6) == 0)
        problem(m, ptr, "modules under tests/ are tests; they cannot be handlers or schedules");
    else if (!pack_bundle_file(m->b, path))
        problem(m, ptr, "module '%s' has no file %s in the pack", show, path);
    else
        return fn;
    return NULL;
}

static json_t *norm_permissions(struct mctx *m, json_t *v)
{
    json_t *out = json_array();
    int n = v ? list_len(v) : 0;
    if (n < 0 || n > MAX_LIST) {
        problem(m, "/permissions", "must be a list of at most %d strings like \"tickets:read\"",
                MAX_LIST);
        return out;
    }
    for (int i = 0; i < n; i++) {
        char ptr[32], why[160], show[64];
        json_t *p = json_array_get(v, (size_t)i);
        snprintf(ptr, sizeof ptr, "/permissions/%d", i);
        if (!json_is_string(p)) {
            problem(m, ptr, "must be a string, not %s", type_name(p));
            continue;
        }
        const char *s = json_string_value(p);
        if (!pack_perm_valid(s, why, sizeof why)) {
            problem(m, ptr, "%s", why);
            continue;
        }
        size_t at = 0;       /* kept sorted, so duplicates meet */
        while (at < json_array_size(out) && strcmp(json_string_value(json_array_get(out, at)), s) < 0)
            at++;
        if (at < json_array_size(out) && strcmp(json_string_value(json_array_get(out, at)), s) == 0)
            problem(m, ptr, "'%s' is listed twice", clip(s, show, sizeof show));
        else
            json_array_insert_new(out, at, json_string(s));
    }
    return out;
}

struct handler {
    const char *event, *phase, *fn;
    json_int_t order;
    int index;
};

static int cmp_handlers(const void *pa, const void *pb)
{
    const struct handler *a = pa, *b = pb;
    int c = strcmp(a->event, b->event);
    if (!c)
        c = strcmp(a->phase, b->phase);
    if (!c)
        c = (a->order > b->order) - (a->order < b->order);
    if (!c)
        c = strcmp(a->fn, b->fn);
    return c ? c : a->index - b->index;
}

static bool get_handler(struct mctx *m, json_t *h, int i, struct handler *out)
{
    static const char *const keys[] = {"event", "phase", "fn", "order", NULL};
    char base[32], ptr[48], show[64];
    snprintf(base, sizeof base, "/handlers/%d", i);
    if (!json_is_object(h)) {
        problem(m, base, "must be a table {event = …, fn = …}, not %s", type_name(h));
        return false;
    }
    int before = m->problems;
    check_keys(m, h, base, keys);
    *out = (struct handler){NULL, "after", NULL, 100, i};
    snprintf(ptr, sizeof ptr, "%s/event", base);
    if ((out->event = get_string(m, h, "event", ptr, true)) && !valid_event(out->event))
        problem(m, ptr, "unknown event '%s' (use <object>.created|updated|deleted or "
                "deals.stage_changed)", clip(out->event, show, sizeof show));
    snprintf(ptr, sizeof ptr, "%s/phase", base);
    const char *phase = get_string(m, h, "phase", ptr, false);
    if (phase && strcmp(phase, "before") != 0 && strcmp(phase, "after") != 0)
        problem(m, ptr, "must be \"before\" or \"after\"");
    else if (phase)
        out->phase = phase;
    snprintf(ptr, sizeof ptr, "%s/order", base);
    json_t *order = json_object_get(h, "order");
    if (order && (!get_int(order, &out->order) || out->order < 0 || out->order > 10000))
        problem(m, ptr, "must be an integer from 0 to 10000");
    out->fn = check_fn(m, h, base);
    return m->problems == before;
}

static json_t *norm_handlers(struct mctx *m, json_t *v)
{
    struct handler hs[PACK_MAX_HANDLERS];
    int n = v ? list_len(v) : 0, ok = 0;
    json_t *out = json_array();
    if (n < 0 || n > PACK_MAX_HANDLERS) {
        problem(m, "/handlers", "must be a list of at most %d handlers", PACK_MAX_HANDLERS);
        return out;
    }
    for (int i = 0; i < n; i++)
        if (get_handler(m, json_array_get(v, (size_t)i), i, &hs[ok]))
            ok++;
    qsort(hs, (size_t)ok, sizeof *hs, cmp_handlers);
    for (int i = 0; i < ok; i++) {
        bool twice = false;
        for (int j = 0; j < i && !twice; j++)
            twice = !strcmp(hs[i].event, hs[j].event) && !strcmp(hs[i].phase, hs[j].phase) &&
                    !strcmp(hs[i].fn, hs[j].fn);
        if (twice) {
            char ptr[32];
            snprintf(ptr, sizeof ptr, "/handlers/%d", hs[i].index);
            problem(m, ptr, "the same fn is declared twice for this event and phase");
            continue;
        }
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:I}", "event", hs[i].event,
                                             "phase", hs[i].phase, "fn", hs[i].fn, "order",
                                             hs[i].order));
    }
    return out;
}

/* "<n>s|m|h|d" in seconds, or -1. */
static long long every_seconds(const char *s)
{
    static const char units[] = "smhd";
    static const long long mult[] = {1, 60, 3600, 86400};
    long long n = 0;
    size_t i = 0;
    for (; is_digit(s[i]) && i < 7; i++)
        n = n * 10 + (s[i] - '0');
    const char *u = i > 0 && s[i] && !s[i + 1] ? strchr(units, s[i]) : NULL;
    return u ? n * mult[u - units] : -1;
}

static bool valid_daily(const char *s)
{
    return strlen(s) == 5 && is_digit(s[0]) && is_digit(s[1]) && s[2] == ':' &&
           is_digit(s[3]) && is_digit(s[4]) && (s[0] - '0') * 10 + (s[1] - '0') < 24 &&
           s[3] < '6';
}

static json_t *get_schedule(struct mctx *m, json_t *s, int i)
{
    static const char *const keys[] = {"every", "daily", "fn", NULL};
    char base[32], ptr[48];
    snprintf(base, sizeof base, "/schedules/%d", i);
    if (!json_is_object(s)) {
        problem(m, base, "must be a table {every = \"1h\", fn = …}, not %s", type_name(s));
        return NULL;
    }
    int before = m->problems;
    check_keys(m, s, base, keys);
    const char *fn = check_fn(m, s, base);
    bool every = json_object_get(s, "every") != NULL;
    if (every == (json_object_get(s, "daily") != NULL)) {
        problem(m, base, "needs exactly one of every = \"<n>s|m|h|d\" or daily = \"HH:MM\"");
        return NULL;
    }
    snprintf(ptr, sizeof ptr, "%s/%s", base, every ? "every" : "daily");
    const char *when = get_string(m, s, every ? "every" : "daily", ptr, true);
    long long secs = when && every ? every_seconds(when) : 0;
    if (!when)
        return NULL;
    if (every && secs < 0)
        problem(m, ptr, "must be a number with a unit s, m, h or d, e.g. \"15m\"");
    else if (every && (secs < 60 || secs > 31 * 86400))
        problem(m, ptr, "must be at least 60 seconds and at most 31 days");
    else if (!every && !valid_daily(when))
        problem(m, ptr, "must be a UTC time \"HH:MM\", e.g. \"02:30\"");
    if (m->problems != before || !fn)
        return NULL;
    if (every)
        return json_pack("{s:s, s:I, s:s}", "every", when, "seconds", (json_int_t)secs, "fn", fn);
    return json_pack("{s:s, s:s}", "daily", when, "fn", fn);
}

static json_t *norm_schedules(struct mctx *m, json_t *v)
{
    int n = v ? list_len(v) : 0;
    json_t *out = json_array();
    if (n < 0 || n > PACK_MAX_SCHEDULES) {
        problem(m, "/schedules", "must be a list of at most %d schedules", PACK_MAX_SCHEDULES);
        return out;
    }
    for (int i = 0; i < n; i++) {
        json_t *s = get_schedule(m, json_array_get(v, (size_t)i), i);
        if (s)
            json_array_append_new(out, s);
    }
    return out;
}

/* A setting's default, checked against its type; a new reference. */
static json_t *setting_default(struct mctx *m, const char *type, json_t *d, const char *ptr)
{
    bool ok = !strcmp(type, "string") ? json_is_string(d)
            : !strcmp(type, "number") ? json_is_number(d)
            : !strcmp(type, "boolean") ? json_is_boolean(d)
            : list_len(d) >= 0;
    for (size_t i = 0; ok && !strcmp(type, "list") && i < json_array_size(d); i++)
        ok = json_is_string(json_array_get(d, i));
    if (!ok) {
        problem(m, ptr, "must be %s to match the type", !strcmp(type, "list")
                ? "a list of strings" : !strcmp(type, "number") ? "a number"
                : !strcmp(type, "boolean") ? "a boolean" : "a string");
        return NULL;
    }
    return json_is_object(d) ? json_array() : json_incref(d);
}

static json_t *get_setting(struct mctx *m, const char *name, json_t *s)
{
    static const char *const keys[] = {"type", "default", "description", "required", NULL};
    static const char *const types[] = {"string", "number", "boolean", "list", NULL};
    char base[96], ptr[112];
    ptr_join(base, sizeof base, "/settings", name);
    if (!is_identifier(name) || strlen(name) > 64) {
        problem(m, base, "a setting name must be a Lua identifier of at most 64 characters");
        return NULL;
    }
    if (!json_is_object(s)) {
        problem(m, base, "must be a table {type = …, default = …}, not %s", type_name(s));
        return NULL;
    }
    int before = m->problems;
    check_keys(m, s, base, keys);
    snprintf(ptr, sizeof ptr, "%s/type", base);
    const char *type = get_string(m, s, "type", ptr, true);
    if (type && !in_list(type, types)) {
        problem(m, ptr, "must be \"string\", \"number\", \"boolean\" or \"list\"");
        type = NULL;
    }
    snprintf(ptr, sizeof ptr, "%s/default", base);
    json_t *d = json_object_get(s, "default");
    d = !d ? json_null() : type ? setting_default(m, type, d, ptr) : NULL;
    snprintf(ptr, sizeof ptr, "%s/description", base);
    const char *desc = get_text(m, s, "description", ptr);
    snprintf(ptr, sizeof ptr, "%s/required", base);
    json_t *req = json_object_get(s, "required");
    if (req && !json_is_boolean(req))
        problem(m, ptr, "must be true or false");
    if (m->problems != before) {
        json_decref(d);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:s, s:b}", "type", type, "default", d, "description", desc,
                     "required", json_is_true(req));
}

static json_t *norm_settings(struct mctx *m, json_t *v)
{
    json_t *out = json_object(), *s;
    const char *name;
    if (!v)
        return out;
    if (!json_is_object(v) || json_object_size(v) > MAX_LIST) {
        problem(m, "/settings", "must be a table of at most %d settings {name = {type = …}}",
                MAX_LIST);
        return out;
    }
    json_object_foreach(v, name, s) {
        json_t *one = get_setting(m, name, s);
        if (one)
            json_object_set_new(out, name, one);
    }
    return out;
}

static json_t *norm_budget(struct mctx *m, json_t *v)
{
    static const char *const keys[] = {"instructions", "memory", "wall_ms", "host_calls",
                                       "rows", NULL};
    json_t *out = json_object();
    if (!v)
        return out;
    if (!json_is_object(v)) {
        problem(m, "/budget", "must be a table like {instructions = 500000}, not %s",
                type_name(v));
        return out;
    }
    check_keys(m, v, "/budget", keys);
    for (int i = 0; keys[i]; i++) {
        json_t *x = json_object_get(v, keys[i]);
        json_int_t n;
        char ptr[32];
        snprintf(ptr, sizeof ptr, "/budget/%s", keys[i]);
        if (x && (!get_int(x, &n) || n <= 0))
            problem(m, ptr, "must be a positive integer: a pack's budget can only lower "
                    "Axon's limits, never raise or remove them");
        else if (x)
            json_object_set_new(out, keys[i], json_integer(n));
    }
    return out;
}

static json_t *normalise(struct mctx *m, json_t *in)
{
    static const char *const keys[] = {"name", "version", "description", "scope", "permissions",
                                       "handlers", "schedules", "settings", "budget", NULL};
    json_t *out = json_object();
    const char *s;
    if ((s = get_string(m, in, "name", "/name", true)) && !valid_name(s))
        problem(m, "/name", "must be 2 to 64 characters: lowercase letters, digits, '-' or '_', "
                "starting with a letter");
    else if (s)
        json_object_set_new(out, "name", json_string(s));
    if ((s = get_string(m, in, "version", "/version", true)) && !valid_version(s))
        problem(m, "/version", "must be a version like \"1.2.0\" or \"2.0.0-beta.1\" "
                "(at most 32 characters)");
    else if (s)
        json_object_set_new(out, "version", json_string(s));
    json_object_set_new(out, "description", json_string(get_text(m, in, "description",
                                                                 "/description")));
    s = get_string(m, in, "scope", "/scope", false);
    if (s && strcmp(s, "tenant") != 0 && strcmp(s, "unit") != 0)
        problem(m, "/scope", "must be \"tenant\" or \"unit\"");
    json_object_set_new(out, "scope", json_string(s ? s : "tenant"));
    json_object_set_new(out, "permissions", norm_permissions(m, json_object_get(in, "permissions")));
    json_object_set_new(out, "handlers", norm_handlers(m, json_object_get(in, "handlers")));
    json_object_set_new(out, "schedules", norm_schedules(m, json_object_get(in, "schedules")));
    json_object_set_new(out, "settings", norm_settings(m, json_object_get(in, "settings")));
    json_object_set_new(out, "budget", norm_budget(m, json_object_get(in, "budget")));
    check_keys(m, in, "", keys);
    return out;
}

json_t *pack_manifest_normalise(json_t *raw, const struct pack_bundle *b, struct ax_err *err)
{
    if (!json_is_object(raw)) {
        const char *msg = "the manifest must return a table {name = …, version = …}, not";
        ax_fail_type(err, AX_EINVALID, "invalid-pack", "pack.lua: %s %s", msg, type_name(raw));
        ax_field(err, "/files/pack.lua", "%s %s", msg, type_name(raw));
        return NULL;
    }
    struct mctx m = {b, err, 0};
    json_t *out = normalise(&m, raw);
    if (!m.problems)
        return out;
    size_t n = strlen(err->detail);
    if (m.problems > 1)
        snprintf(err->detail + n, sizeof err->detail - n, " (and %d more problem%s)",
                 m.problems - 1, m.problems > 2 ? "s" : "");
    json_decref(out);
    return NULL;
}

/* Lua error text may hold any bytes: keep it printable UTF-8. */
static void printable(char *s)
{
    for (size_t n = strlen(s); *s;) {
        int cp = 0, k = text_decode(s, n, &cp);
        if (k <= 0 || cp < 0x20 || cp == 0x7f)
            *s = '?', k = 1;
        s += k;
        n -= (size_t)k;
    }
}

json_t *pack_manifest_parse(const struct pack_bundle *b, struct ax_err *err)
{
    const struct pack_file *f = pack_bundle_file(b, "pack.lua");
    struct lua_run run;
    struct ax_err lerr;
    json_t *raw = NULL;
    if (!f) {
        ax_fail_type(err, AX_EINVALID, "invalid-pack", "pack.lua: missing");
        ax_field(err, "/files/pack.lua", "missing: a pack needs its manifest, pack.lua");
        return NULL;
    }
    memset(&run, 0, sizeof run);
    run.budget = manifest_budget;
    ax_err_clear(&lerr);
    struct lua_rt *rt = lua_rt_open(0, 0, NULL, 0, NULL, NULL, err);
    if (!rt)
        return NULL;
    int rc = lua_rt_eval(rt, "pack.lua", f->data, f->len, &raw, &run, &lerr);
    lua_rt_close(rt);
    if (rc) {
        char longer[300], shorter[150];     /* each fits its ax_err slot whole */
        printable(run.error);
        ax_fail_type(err, AX_EINVALID, "invalid-pack", "the manifest failed: %s",
                     clip(run.error, longer, sizeof longer));
        ax_field(err, "/files/pack.lua", "%s", clip(run.error, shorter, sizeof shorter));
        return NULL;
    }
    json_t *out = pack_manifest_normalise(raw, b, err);
    json_decref(raw);
    return out;
}
