/* pack_perm.c - permission grammar and the host-API permission table. */
#include "axon/pack_perm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct pack_perm_object pack_perm_objects[] = {
    {"customers", true},  {"contacts", true},    {"products", false},
    {"deals", true},      {"tickets", true},     {"activities", true},
    {"users", false},     {"units", false},      {"pipelines", false},
    {"suggestions", true}, {"approvals", true},  {NULL, false},
};

static const struct pack_perm_object *find_object(const char *name, size_t n)
{
    for (const struct pack_perm_object *o = pack_perm_objects; o->name; o++)
        if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

/* Host functions that need no permission. Members of a table are listed
 * with their table ("json.encode"); a bare table name ("json") is valid
 * too, since a script may pass it around. */
static const char *const free_functions[] = {
    "log", "now", "null", "reject", "settings", "event", "json", "json.encode",
    "json.decode", "text", "text.fold", "text.contains", "text.length", "intents",
    "intents.match", "sentiment", NULL
};

/* Host functions outside the per-object families, with what they need. */
static const struct {
    const char *func, *perm;
} special_functions[] = {
    {"notes.add", "activities:write"},
    {"tasks.add", "activities:write"},
    {"suggest", "suggestions:write"},
    {"approvals.request", "approvals:write"},
    {"http.get", "http"},
    {"http.post", "http"},
    {"http.put", "http"},
    {"email.send", "email:send"},
    {"intents.profile", "customers:read"},
    {"tags.get", "activities:read|tickets:read"},    /* the one the id's record needs */
    {NULL, NULL},
};

/* Per-object functions and the access they need. */
static const struct {
    const char *verb, *access;
    bool needs_writable;
} object_verbs[] = {
    {"get", "read", false},    {"find", "read", false},   {"count", "read", false},
    {"create", "write", true}, {"update", "write", true}, {"delete", "delete", true},
    {NULL, NULL, false},
};

static bool valid_url_prefix(const char *p, char *why, size_t whysz)
{
    size_t n = strlen(p);
    const char *host;
    if (strncmp(p, "https://", 8) == 0)
        host = p + 8;
    else if (strncmp(p, "http://", 7) == 0)
        host = p + 7;
    else {
        snprintf(why, whysz, "an http permission needs an http:// or https:// URL prefix");
        return false;
    }
    if (n > 512) {
        snprintf(why, whysz, "the URL prefix is longer than 512 characters");
        return false;
    }
    if (*host == '/' || *host == '\0') {
        snprintf(why, whysz, "the URL prefix has no host");
        return false;
    }
    if (p[n - 1] != '/' || !strchr(host, '/')) {
        snprintf(why, whysz, "the URL prefix must end with '/' after the host, e.g. http:https://erp.example.com/api/");
        return false;
    }
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '\\' || *s == '@' || *s == '#' || *s == '?' ||
            (unsigned char)*s >= 0x7f) {
            snprintf(why, whysz, "the URL prefix holds a character not allowed there ('%c')",
                     (unsigned char)*s >= 0x7f || (unsigned char)*s <= ' ' ? '?' : *s);
            return false;
        }
    if (strstr(host, "/../") || strstr(host, "/./")) {
        snprintf(why, whysz, "the URL prefix may not hold dot segments");
        return false;
    }
    return true;
}

bool pack_perm_valid(const char *perm, char *why, size_t whysz)
{
    if (!perm || !*perm) {
        snprintf(why, whysz, "a permission is an empty string");
        return false;
    }
    if (strncmp(perm, "http:", 5) == 0)
        return valid_url_prefix(perm + 5, why, whysz);
    if (strcmp(perm, "email:send") == 0)
        return true;
    const char *colon = strchr(perm, ':');
    if (!colon) {
        snprintf(why, whysz, "'%.60s' is not <object>:read|write|delete, http:<url prefix> or email:send",
                 perm);
        return false;
    }
    const struct pack_perm_object *o = find_object(perm, (size_t)(colon - perm));
    if (!o) {
        snprintf(why, whysz, "'%.60s' names no object a pack can reach", perm);
        return false;
    }
    const char *access = colon + 1;
    if (strcmp(access, "read") == 0)
        return true;
    if (strcmp(access, "write") == 0 || strcmp(access, "delete") == 0) {
        if (o->writable)
            return true;
        snprintf(why, whysz, "%s are read-only to packs", o->name);
        return false;
    }
    snprintf(why, whysz, "'%.60s': the access must be read, write or delete", perm);
    return false;
}

int pack_perm_for(const char *func, char *out, size_t outsz)
{
    for (int i = 0; free_functions[i]; i++)
        if (strcmp(func, free_functions[i]) == 0)
            return 0;
    for (int i = 0; special_functions[i].func; i++)
        if (strcmp(func, special_functions[i].func) == 0) {
            snprintf(out, outsz, "%s", special_functions[i].perm);
            return 1;
        }
    const char *dot = strchr(func, '.');
    if (!dot || strchr(dot + 1, '.'))
        return -1;
    const struct pack_perm_object *o = find_object(func, (size_t)(dot - func));
    if (!o)
        return -1;
    for (int i = 0; object_verbs[i].verb; i++)
        if (strcmp(dot + 1, object_verbs[i].verb) == 0) {
            if (object_verbs[i].needs_writable && !o->writable)
                return -1;
            snprintf(out, outsz, "%s:%s", o->name, object_verbs[i].access);
            return 1;
        }
    return -1;
}

bool pack_perm_has(json_t *declared, const char *perm)
{
    const char *bar = strchr(perm, '|');
    if (bar) {                  /* "a|b": either will do */
        char first[128];
        snprintf(first, sizeof first, "%.*s", (int)(bar - perm), perm);
        return pack_perm_has(declared, first) || pack_perm_has(declared, bar + 1);
    }
    size_t i;
    json_t *v;
    json_array_foreach(declared, i, v) {
        const char *s = json_string_value(v);
        if (s && strcmp(s, perm) == 0)
            return true;
    }
    return false;
}

/* Could `url` reach outside the path its prefix names? Dot segments,
 * percent-encoded dots, slashes and backslashes (a server may decode
 * them into "../"), whitespace and control characters, and user info. */
static bool url_suspicious(const char *url)
{
    const char *path = strstr(url, "://");
    if (!path)
        return true;
    path += 3;
    size_t auth = strcspn(path, "/?#");
    if (memchr(path, '@', auth))
        return true;
    for (const char *s = url; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || c == '\\')
            return true;
        if (c == '%' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            long v = strtol(hex, NULL, 16);
            if (v == '.' || v == '/' || v == '\\' || v == 0)
                return true;
        }
    }
    /* "." or ".." as a whole segment of the path */
    for (const char *s = path + auth; *s && *s != '?' && *s != '#';) {
        s++;
        size_t n = strcspn(s, "/?#");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return true;
        s += n;
    }
    return false;
}

/* Does `url` start with a declared prefix? Prefixes end with '/', so
 * "https://erp.example.com/api/" admits neither
 * "https://erp.example.com.evil.net/" nor "https://erp.example.com/apix";
 * the scheme and host compare without case, the path exactly. */
bool pack_perm_url_allowed(json_t *declared, const char *url)
{
    if (!url || url_suspicious(url))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(declared, i, v) {
        const char *s = json_string_value(v);
        if (!s || strncmp(s, "http:", 5) != 0)
            continue;
        const char *prefix = s + 5;
        const char *host = strstr(prefix, "://");
        if (!host)
            continue;
        size_t head = (size_t)(host + 3 - prefix);
        head += strcspn(prefix + head, "/");         /* scheme://host[:port] */
        size_t n = strlen(prefix);
        if (strlen(url) >= n && strncasecmp(url, prefix, head) == 0 &&
            strncmp(url + head, prefix + head, n - head) == 0)
            return true;
    }
    return false;
}
