/* static.c - the browser UI's files from the static directory: content
 * types, ETag revalidation, a strict Content-Security-Policy, and the
 * single-page fallback (unknown paths without an extension get index.html). */
#include "axon/api.h"

#include "axon/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX_FILE (8 << 20)

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
    {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
    {".ico", "image/x-icon"}, {".woff2", "font/woff2"}, {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return NULL;
}

/* Only plain relative paths: no "..", no hidden files, no backslashes. */
static bool path_ok(const char *p)
{
    if (strlen(p) > 200 || strchr(p, '\\') || p[0] == '/')
        return false;
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20)
            return false;
    const char *seg = p;
    while (seg && *seg) {
        if (seg[0] == '.')
            return false;
        seg = strchr(seg, '/');
        if (seg)
            seg++;
    }
    return true;
}

static void security_headers(struct req *r)
{
    http_add_header(r, "Content-Security-Policy",
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    "connect-src 'self'; object-src 'none'; base-uri 'none'; "
                    "frame-ancestors 'none'; form-action 'self'");
    http_add_header(r, "X-Frame-Options", "DENY");
    http_add_header(r, "Referrer-Policy", "same-origin");
}

static int read_file(const char *path, struct stat *st, char **data)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) || !S_ISREG(st->st_mode) || st->st_size > STATIC_MAX_FILE) {
        close(fd);
        return -1;
    }
    *data = malloc((size_t)st->st_size + 1);
    size_t got = 0;
    while (*data && got < (size_t)st->st_size) {
        ssize_t n = read(fd, *data + got, (size_t)st->st_size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (!*data || got != (size_t)st->st_size) {
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

void api_static(struct req *r)
{
    const char *rel = r->nparams ? r->params[0] : "";
    if (strncmp(rel, "api/", 4) == 0 || strcmp(rel, "api") == 0) {
        http_reply_problem(r, AX_ENOTFOUND, "no such resource");
        return;
    }
    if (!*rel)
        rel = "index.html";
    if (!path_ok(rel)) {
        http_reply_problem(r, AX_ENOTFOUND, "no such file");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", axon_config.static_dir, rel);
    const char *type = content_type(rel);
    struct stat st;
    char *data = NULL;
    if (!type || read_file(path, &st, &data)) {
        /* Screens are client-side routes: /customers/cus_… gets the app. */
        if (strchr(rel, '.')) {
            http_reply_problem(r, AX_ENOTFOUND, "no such file");
            return;
        }
        snprintf(path, sizeof path, "%s/index.html", axon_config.static_dir);
        type = "text/html; charset=utf-8";
        if (read_file(path, &st, &data)) {
            http_reply_problem(r, AX_ENOTFOUND, "the browser UI is not installed (no %s)", path);
            return;
        }
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    http_add_header(r, "ETag", etag);
    bool html = strncmp(type, "text/html", 9) == 0;
    http_add_header(r, "Cache-Control", strstr(rel, "vendor/") ? "public, max-age=31536000, immutable"
                                                              : "no-cache");
    if (html)
        security_headers(r);
    const char *inm = http_header(r, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0) {
        free(data);
        http_reply(r, 304, NULL, "", 0);
        return;
    }
    free(r->resp);
    r->resp = data;
    r->resp_len = (size_t)st.st_size;
    r->status = 200;
    r->content_type = type;
    r->replied = true;
}
