/* config.c - defaults, environment and flags. */
#include "axon/config.h"

#include "axon/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ax_config axon_config;

void config_defaults(struct ax_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1");
    c->port = 8080;
    snprintf(c->db_path, sizeof c->db_path, "var/axon.db");
    snprintf(c->var_dir, sizeof c->var_dir, "var");
    snprintf(c->static_dir, sizeof c->static_dir, "static");
    c->threads = 0;
    c->max_body = 1 << 20;
    c->max_upload = (size_t)256 << 20;
    c->rate_limit = 100;
    c->rate_burst = 300;
    c->conn_timeout = 30;
    c->max_connections = 1024;
    c->log_level = LOG_INFO;
    c->write_batch = 256;
    c->retry_ms = 1000;
    c->attempts = 5;
}

enum kind { K_STR, K_INT, K_SIZE, K_DBL, K_BOOL, K_DUR, K_LEVEL };

struct opt {
    const char *flag, *env;
    enum kind kind;
    size_t off, size;
    const char *help;
};

#define O(f) offsetof(struct ax_config, f), sizeof(((struct ax_config *)0)->f)
static const struct opt opts[] = {
    {"--listen", "AXON_LISTEN", K_STR, O(listen), "address to listen on (127.0.0.1)"},
    {"--port", "AXON_PORT", K_INT, O(port), "TCP port (8080; 0 picks a free one)"},
    {"--port-file", NULL, K_STR, O(port_file), "write the bound port to this file"},
    {"--db", "AXON_DB", K_STR, O(db_path), "database file (var/axon.db)"},
    {"--var", "AXON_VAR_DIR", K_STR, O(var_dir), "directory for uploads (var)"},
    {"--static", "AXON_STATIC", K_STR, O(static_dir), "browser UI files (static)"},
    {"--threads", "AXON_THREADS", K_INT, O(threads), "HTTP worker threads (one per core)"},
    {"--durability", "AXON_DURABILITY", K_DUR, O(durability_full),
     "normal (survives a crash of the process) or full (fsync every commit)"},
    {"--max-body", "AXON_MAX_BODY", K_SIZE, O(max_body), "largest JSON body in bytes (1 MiB)"},
    {"--max-upload", "AXON_MAX_UPLOAD", K_SIZE, O(max_upload), "largest CSV upload in bytes (256 MiB)"},
    {"--rate-limit", "AXON_RATE_LIMIT", K_DBL, O(rate_limit), "requests per second per caller (100; 0 = off)"},
    {"--rate-burst", "AXON_RATE_BURST", K_DBL, O(rate_burst), "burst size per caller (300)"},
    {"--conn-timeout", "AXON_CONN_TIMEOUT", K_INT, O(conn_timeout), "idle connection timeout, seconds (30)"},
    {"--max-connections", "AXON_MAX_CONNECTIONS", K_INT, O(max_connections), "open connections (1024)"},
    {"--secure-cookies", "AXON_SECURE_COOKIES", K_BOOL, O(secure_cookies), "mark cookies Secure (behind TLS)"},
    {"--log-level", "AXON_LOG_LEVEL", K_LEVEL, O(log_level), "debug, info, warn or error (info)"},
    {"--write-batch", "AXON_WRITE_BATCH", K_INT, O(write_batch), "writes per group commit (256)"},
    {"--retry-ms", "AXON_RETRY_MS", K_INT, O(retry_ms),
     "first retry of a failed after handler, ms; doubles each time (1000)"},
    {"--attempts", "AXON_ATTEMPTS", K_INT, O(attempts),
     "attempts of an after handler before it is dead-lettered (5)"},
};

static int set(struct ax_config *c, const struct opt *o, const char *v,
               char *err, size_t errsz)
{
    char *p = (char *)c + o->off;
    char *end;
    errno = 0;
    switch (o->kind) {
    case K_STR:
        if (strlen(v) >= o->size)
            goto bad;
        memcpy(p, v, strlen(v) + 1);
        return 0;
    case K_INT: {
        long n = strtol(v, &end, 10);
        if (errno || *end || n < 0 || n > 1000000)
            goto bad;
        *(int *)p = (int)n;
        return 0;
    }
    case K_SIZE: {
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v)
            goto bad;
        if (*end == 'k' || *end == 'K') { n <<= 10; end++; }
        else if (*end == 'm' || *end == 'M') { n <<= 20; end++; }
        else if (*end == 'g' || *end == 'G') { n <<= 30; end++; }
        if (*end || n == 0)
            goto bad;
        *(size_t *)p = (size_t)n;
        return 0;
    }
    case K_DBL: {
        double d = strtod(v, &end);
        if (errno || *end || d < 0)
            goto bad;
        *(double *)p = d;
        return 0;
    }
    case K_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
            *(bool *)p = true;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
            *(bool *)p = false;
        else
            goto bad;
        return 0;
    case K_DUR:
        if (!strcmp(v, "full"))
            *(bool *)p = true;
        else if (!strcmp(v, "normal"))
            *(bool *)p = false;
        else
            goto bad;
        return 0;
    case K_LEVEL: {
        enum log_level l;
        if (log_parse_level(v, &l))
            goto bad;
        *(int *)p = (int)l;
        return 0;
    }
    }
bad:
    snprintf(err, errsz, "bad value '%s' for %s", v, o->env ? o->env : o->flag);
    return -1;
}

int config_from_env(struct ax_config *c, char *err, size_t errsz)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        const char *v = opts[i].env ? getenv(opts[i].env) : NULL;
        if (v && *v && set(c, &opts[i], v, err, errsz))
            return -1;
    }
    return 0;
}

int config_flag(struct ax_config *c, int argc, char **argv, int *i,
                char *err, size_t errsz)
{
    const char *a = argv[*i];
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        const struct opt *o = &opts[k];
        size_t fl = strlen(o->flag);
        if (strncmp(a, o->flag, fl) != 0)
            continue;
        const char *v;
        if (a[fl] == '=') {
            v = a + fl + 1;
        } else if (a[fl] == '\0') {
            if (o->kind == K_BOOL) {
                v = "true";
            } else {
                if (*i + 1 >= argc) {
                    snprintf(err, errsz, "%s needs a value", o->flag);
                    return -1;
                }
                v = argv[++*i];
            }
        } else {
            continue;
        }
        return set(c, o, v, err, errsz) ? -1 : 1;
    }
    return 0;
}

const char *config_usage(void)
{
    static char text[4096];
    if (text[0])
        return text;
    size_t n = 0;
    for (size_t i = 0; i < sizeof opts / sizeof opts[0] && n < sizeof text; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "  %-20s %-22s %s\n",
                              opts[i].flag, opts[i].env ? opts[i].env : "",
                              opts[i].help);
    return text;
}
