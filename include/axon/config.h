/*
 * config.h - settings, from defaults, then AXON_* environment variables,
 * then command-line flags (later wins). One process-wide instance,
 * `axon_config`, written during start-up and read-only afterwards.
 */
#ifndef AXON_CONFIG_H
#define AXON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct ax_config {
    char listen[64];          /* AXON_LISTEN, --listen */
    int port;                 /* AXON_PORT, --port (0 = any free port) */
    char port_file[512];      /* --port-file: write the bound port here */
    char db_path[512];        /* AXON_DB, --db */
    char var_dir[512];        /* AXON_VAR_DIR, --var (uploads, secrets) */
    char static_dir[512];     /* AXON_STATIC, --static */
    int threads;              /* AXON_THREADS, --threads (0 = one per core) */
    bool durability_full;     /* AXON_DURABILITY=full, --durability full */
    size_t max_body;          /* AXON_MAX_BODY: JSON request bodies */
    size_t max_upload;        /* AXON_MAX_UPLOAD: CSV uploads */
    double rate_limit;        /* AXON_RATE_LIMIT: requests/s per caller; 0 = off */
    double rate_burst;        /* AXON_RATE_BURST */
    int conn_timeout;         /* AXON_CONN_TIMEOUT seconds (slow clients) */
    int max_connections;      /* AXON_MAX_CONNECTIONS */
    bool secure_cookies;      /* AXON_SECURE_COOKIES: mark cookies Secure */
    int log_level;            /* AXON_LOG_LEVEL debug|info|warn|error */
    int write_batch;          /* AXON_WRITE_BATCH: writes per group commit */
    int retry_ms;             /* AXON_RETRY_MS: first retry of a failed after handler */
    int attempts;             /* AXON_ATTEMPTS: tries before a delivery is dead-lettered */
};

extern struct ax_config axon_config;

void config_defaults(struct ax_config *c);
int config_from_env(struct ax_config *c, char *err, size_t errsz);

/* Try to consume flag argv[*i] (and its value). Returns 1 if consumed,
 * 0 if not a config flag, -1 on a bad value (message in err). */
int config_flag(struct ax_config *c, int argc, char **argv, int *i,
                char *err, size_t errsz);

/* Help text for the flags above. */
const char *config_usage(void);

#endif
