/* jx.c - JSON parsing with limits. */
#include "axon/jx.h"

#include <stdbool.h>
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
        ax_fail_type(err, AX_EBADREQ, "malformed-json", "invalid JSON at line %d column %d: %s",
                     je.line, je.column, je.text);
        return NULL;
    }
    return v;
}
