/* jx.c - JSON parsing with limits. */
#include "axon/jx.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's own depth limit is 2048; check ours first, without recursion. */
static bool depth_ok(const char *s, size_t n)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > JX_MAX_DEPTH)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

json_t *jx_parse(const char *data, size_t len, struct ax_err *err)
{
    if (!data || len == 0) {
        ax_fail_type(err, AX_EBADREQ, "malformed-json", "the request body is empty");
        return NULL;
    }
    if (!depth_ok(data, len)) {
        ax_fail_type(err, AX_EBADREQ, "malformed-json",
                     "the JSON is nested more than %d levels deep", JX_MAX_DEPTH);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        /* jansson's words name its own flags for this one */
        const char *why = strstr(je.text, "JSON_ALLOW_NUL") ? "\\u0000 (NUL) is not allowed"
                                                             : je.text;
        ax_fail_type(err, AX_EBADREQ, "malformed-json", "invalid JSON at line %d column %d: %s",
                     je.line, je.column, why);
        return NULL;
    }
    return v;
}

struct member {
    const char *key;
    size_t len;
    json_t *value;
};

static int cmp_members(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

/* Members taken with the iterator (key, length and value at once), not
 * looked up again by key: dumps run on every write. */
static int dump_object(struct buf *b, json_t *v, int flags)
{
    size_t n = json_object_size(v);
    struct member small[32];
    struct member *m = n <= 32 ? small : malloc(n * sizeof *m);
    if (!m)
        return -1;
    size_t i = 0;
    for (void *it = json_object_iter(v); it && i < n; it = json_object_iter_next(v, it), i++) {
        m[i].key = json_object_iter_key(it);
        m[i].len = json_object_iter_key_len(it);
        m[i].value = json_object_iter_value(it);
    }
    n = i;
    if ((flags & JX_SORT_KEYS) && n > 1)
        qsort(m, n, sizeof *m, cmp_members);
    int rc = buf_addc(b, '{');
    for (i = 0; i < n && rc == 0; i++) {
        if (i)
            rc |= buf_addc(b, ',');
        rc |= buf_add_json_str(b, m[i].key, m[i].len);
        rc |= buf_addc(b, ':');
        rc |= jx_dump(b, m[i].value, flags);
    }
    if (m != small)
        free(m);
    return rc ? -1 : buf_addc(b, '}');
}

/* Decimal text of an integer, as printf's %lld would write it. */
static int add_int(struct buf *b, json_int_t v)
{
    char digits[24], *p = digits + sizeof digits;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return buf_add(b, p, (size_t)(digits + sizeof digits - p));
}

int jx_dump(struct buf *b, json_t *v, int flags)
{
    char num[40];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return dump_object(b, v, flags);
    case JSON_ARRAY: {
        int rc = buf_addc(b, '[');
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            if (i)
                rc |= buf_addc(b, ',');
            rc |= jx_dump(b, json_array_get(v, i), flags);
        }
        return rc ? -1 : buf_addc(b, ']');
    }
    case JSON_STRING:
        return buf_add_json_str(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return add_int(b, json_integer_value(v));
    case JSON_REAL: {
        /* 17 significant digits round-trip a double, as jansson does. */
        int n = snprintf(num, sizeof num, "%.17g", json_real_value(v));
        if (n > 0 && !strpbrk(num, ".eE"))
            snprintf(num + n, sizeof num - (size_t)n, ".0");
        return buf_adds(b, num);
    }
    case JSON_TRUE:
        return buf_adds(b, "true");
    case JSON_FALSE:
        return buf_adds(b, "false");
    default:
        return buf_adds(b, "null");
    }
}

char *jx_dumps(json_t *v, int flags)
{
    struct buf b;
    buf_init(&b, 0);
    if (jx_dump(&b, v, flags)) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b);
}

int jx_page(struct buf *out, json_t *data, bool more, long long last, struct ax_err *err)
{
    char next[24];
    snprintf(next, sizeof next, "%lld", last);
    json_t *doc = json_pack("{s:o,s:o}", "data", data, "next",
                            more ? json_string(next) : json_null());
    int rc = doc && jx_dump(out, doc, 0) == 0 ? 0 : ax_fail(err, AX_EINTERNAL, "out of memory");
    json_decref(doc);
    return rc;
}
