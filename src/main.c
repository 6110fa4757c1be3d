/* main.c - the axon command: settings, subcommands, serve. */
#include "axon/audit.h"
#include "axon/auth.h"
#include "axon/cli.h"
#include "axon/config.h"
#include "axon/db.h"
#include "axon/dispatch.h"
#include "axon/events.h"
#include "axon/http.h"
#include "axon/jobs.h"
#include "axon/log.h"
#include "axon/lua_rt.h"
#include "axon/objects.h"
#include "axon/search.h"
#include "axon/store.h"
#include "axon/tags.h"
#include "axon/writer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: axon COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  serve                      run the HTTP server\n"
    "  migrate                    create the database or apply new migrations\n"
    "  demo [--data DIR] [--packs DIR]  create the demo tenant, load data/ and lua/packs/ (once)\n"
    "  tenant create NAME [--slug S] [--admin-email E] [--admin-password P]\n"
    "  tenant list\n"
    "  user add --tenant T --name N --email E [--role R] [--password P]\n"
    "  user passwd --tenant T --email E [--password P]\n"
    "  apikey create --tenant T [--name N] [--scopes \"read write admin\"]\n"
    "  import --tenant T --object O --file F.csv [--mapping M.json] [--key FIELD]\n"
    "  export --tenant T --object O [--out F.csv] [filters as field=value]\n"
    "  pack test DIR|FILE...       scan a workflow pack and run its tests\n"
    "  pack upload --tenant T [--publish] DIR|FILE\n"
    "\n"
    "settings (flag, environment variable, meaning):\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int ensure_dirs(void)
{
    char dir[sizeof axon_config.db_path];
    snprintf(dir, sizeof dir, "%s", axon_config.db_path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (mkdir(dir, 0700) && errno != EEXIST) {
            fprintf(stderr, "axon: cannot create %s: %s\n", dir, strerror(errno));
            return -1;
        }
    }
    if (mkdir(axon_config.var_dir, 0700) && errno != EEXIST) {
        fprintf(stderr, "axon: cannot create %s: %s\n", axon_config.var_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Open (creating and migrating) the database once, to check it. */
static int prepare_database(void)
{
    struct ax_err err;
    ax_err_clear(&err);
    if (ensure_dirs())
        return -1;
    struct db *d = db_open(axon_config.db_path, DB_CREATE, &err);
    if (!d || store_check_schema(d, &err)) {
        fprintf(stderr, "axon: database %s: %s\n", axon_config.db_path, err.detail);
        db_close(d);
        return -1;
    }
    db_close(d);
    return 0;
}

static int serve(void)
{
    struct ax_err err;
    ax_err_clear(&err);
    if (prepare_database())
        return 1;
    if (writer_start(axon_config.db_path, axon_config.write_batch, &err) ||
        jobs_start(&err) || dispatch_start(&err) || http_start(&err)) {
        fprintf(stderr, "axon: %s\n", err.detail);
        return 1;
    }
    if (axon_config.port_file[0]) {
        FILE *f = fopen(axon_config.port_file, "w");
        if (f) {
            fprintf(f, "%d\n", http_port());
            fclose(f);
        }
    }
    log_info("Axon serving on http://%s:%d/ (database %s, durability %s)", axon_config.listen,
             http_port(), axon_config.db_path, axon_config.durability_full ? "full" : "normal");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop_requested)
        pause();
    log_info("shutting down");
    jobs_stop();
    dispatch_stop();
    http_stop();
    lua_pool_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    config_defaults(&axon_config);
    char err[256];
    if (config_from_env(&axon_config, err, sizeof err)) {
        fprintf(stderr, "axon: %s\n", err);
        return 2;
    }
    /* Settings flags may appear anywhere; remove them from argv. */
    int n = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            fputs(config_usage(), stdout);
            return 0;
        }
        int rc = config_flag(&axon_config, argc, argv, &i, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "axon: %s\n", err);
            return 2;
        }
        if (rc == 0)
            argv[n++] = argv[i];
    }
    argc = n;
    log_set_level((enum log_level)axon_config.log_level);
    if (auth_init()) {
        fprintf(stderr, "axon: cannot initialise libsodium\n");
        return 1;
    }
    db_set_conn_hook(search_register);
    search_init();
    audit_init();
    obj_init();
    store_init();
    event_init();
    tags_init();
    if (argc < 2) {
        fputs(usage, stderr);
        fputs(config_usage(), stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return serve();
    if (strcmp(cmd, "migrate") == 0) {
        if (prepare_database())
            return 1;
        printf("database %s is up to date\n", axon_config.db_path);
        return 0;
    }
    /* Testing a pack needs no database of ours: its tests get a scratch one. */
    if (strcmp(cmd, "pack") == 0 && argc > 2 && strcmp(argv[2], "test") == 0)
        return cli_pack(argc - 2, argv + 2);
    if (prepare_database())
        return 1;
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"tenant", cli_tenant}, {"user", cli_user}, {"apikey", cli_apikey},
        {"import", cli_import}, {"export", cli_export}, {"demo", cli_demo},
        {"pack", cli_pack},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "axon: unknown command '%s' (see axon --help)\n", cmd);
    return 2;
}
