/* cli.c - tenant, user and API key subcommands. */
#include "axon/cli.h"

#include "axon/auth.h"
#include "axon/config.h"
#include "axon/model.h"
#include "axon/store.h"
#include "axon/tenant.h"
#include "axon/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_arg(int argc, char **argv, const char *flag)
{
    for (int i = 0; i < argc - 1; i++)
        if (strcmp(argv[i], flag) == 0)
            return argv[i + 1];
    return NULL;
}

struct db *cli_open(void)
{
    struct ax_err err;
    ax_err_clear(&err);
    struct db *d = db_open(axon_config.db_path, 0, &err);
    if (!d)
        fprintf(stderr, "axon: %s\n", err.detail);
    return d;
}

int cli_tenant_ctx(struct db *d, const char *tenant, struct ax_ctx *c)
{
    struct ax_err err;
    ax_err_clear(&err);
    if (!tenant) {
        fprintf(stderr, "axon: --tenant is required\n");
        return -1;
    }
    int found = tenant_find(d, tenant, c, &err);
    if (found != 1) {
        fprintf(stderr, "axon: %s\n", found < 0 ? err.detail : "no such tenant");
        return -1;
    }
    return 0;
}

/* ---- tenant ---- */

struct tenant_args {
    const char *name, *slug, *email, *password;
    struct tenant_admin out;
};

static int run_tenant_create(struct db *d, void *arg, struct ax_err *err)
{
    struct tenant_args *a = arg;
    return tenant_create(d, a->name, a->slug, a->email, a->password, &a->out, err);
}

static int tenant_list(struct db *d)
{
    sqlite3_stmt *st = db_prep(d, "SELECT id, slug, name, created_at FROM tenants ORDER BY rid", NULL);
    if (!st)
        return 1;
    printf("%-26s %-20s %-28s %s\n", "ID", "SLUG", "NAME", "CREATED");
    while (sqlite3_step(st) == SQLITE_ROW)
        printf("%-26s %-20s %-28s %s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
               sqlite3_column_text(st, 2), sqlite3_column_text(st, 3));
    db_reset(st);
    return 0;
}

void cli_print_admin(const struct tenant_admin *a, const char *name)
{
    printf("tenant   %s (slug %s, id %s)\n", name, a->slug, a->tenant_id);
    printf("admin    %s  password: %s\n", a->email, a->password);
    printf("API key  %s\n", a->key_token);
    printf("         (shown once; Axon stores only its hash)\n");
}

int cli_tenant(int argc, char **argv)
{
    struct db *d = cli_open();
    if (!d)
        return 1;
    int rc = 2;
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        rc = tenant_list(d);
    } else if (argc >= 2 && strcmp(argv[0], "create") == 0) {
        struct tenant_args a;
        memset(&a, 0, sizeof a);
        a.name = argv[1];
        a.slug = cli_arg(argc, argv, "--slug");
        a.email = cli_arg(argc, argv, "--admin-email");
        a.password = cli_arg(argc, argv, "--admin-password");
        struct ax_err err;
        ax_err_clear(&err);
        if (writer_exec(d, run_tenant_create, &a, &err)) {
            fprintf(stderr, "axon: %s\n", err.detail);
            rc = 1;
        } else {
            cli_print_admin(&a.out, a.name);
            rc = 0;
        }
    } else {
        fprintf(stderr, "usage: axon tenant create NAME [--slug S] [--admin-email E] "
                        "[--admin-password P] | axon tenant list\n");
    }
    db_close(d);
    return rc;
}

/* ---- user ---- */

struct user_args {
    struct ax_ctx c;
    json_t *input;
    const char *email;
    char hash[256];
    char id[ID_MAX];
};

static int run_user_add(struct db *d, void *arg, struct ax_err *err)
{
    struct user_args *a = arg;
    struct store_result r;
    if (store_create(d, &a->c, model_find("users"), a->input, &r, err))
        return -1;
    snprintf(a->id, sizeof a->id, "%s", r.id);
    store_result_free(&r);
    return a->hash[0] ? auth_set_password(d, a->c.tenant, a->id, a->hash, err) : 0;
}

static int run_passwd(struct db *d, void *arg, struct ax_err *err)
{
    struct user_args *a = arg;
    int found = store_find_by(d, a->c.tenant, model_find("users"), "email", a->email, false,
                              a->id, err);
    if (found <= 0)
        return found < 0 ? -1 : ax_fail(err, AX_ENOTFOUND, "no user with e-mail %s", a->email);
    return auth_set_password(d, a->c.tenant, a->id, a->hash, err);
}

int cli_user(int argc, char **argv)
{
    if (argc < 1 || (strcmp(argv[0], "add") && strcmp(argv[0], "passwd"))) {
        fprintf(stderr, "usage: axon user add --tenant T --name N --email E [--role R] [--password P]\n"
                        "       axon user passwd --tenant T --email E [--password P]\n");
        return 2;
    }
    struct db *d = cli_open();
    struct user_args a;
    memset(&a, 0, sizeof a);
    if (!d || cli_tenant_ctx(d, cli_arg(argc, argv, "--tenant"), &a.c)) {
        db_close(d);
        return 1;
    }
    struct ax_err err;
    ax_err_clear(&err);
    const char *pw = cli_arg(argc, argv, "--password");
    char generated[64] = "";
    a.email = cli_arg(argc, argv, "--email");
    int rc = 1;
    if (!pw && (strcmp(argv[0], "passwd") == 0 || a.email)) {
        id_token(generated, sizeof generated, 12);
        pw = generated;
    }
    if (pw && auth_password_hash(pw, a.hash, sizeof a.hash, &err))
        goto out;
    if (strcmp(argv[0], "add") == 0) {
        json_t *body = json_pack("{s:s?,s:s?,s:s}", "name", cli_arg(argc, argv, "--name"),
                                 "email", a.email, "role",
                                 cli_arg(argc, argv, "--role") ? cli_arg(argc, argv, "--role") : "sales");
        a.input = model_check_input(model_find("users"), body, true, &err);
        json_decref(body);
        if (!a.input || writer_exec(d, run_user_add, &a, &err))
            goto out;
        printf("user %s created", a.id);
    } else {
        if (!a.email) {
            fprintf(stderr, "axon: --email is required\n");
            goto out;
        }
        if (writer_exec(d, run_passwd, &a, &err))
            goto out;
        printf("password of %s changed", a.email);
    }
    if (generated[0])
        printf("; password: %s", generated);
    printf("\n");
    rc = 0;
out:
    if (rc && err.detail[0]) {
        fprintf(stderr, "axon: %s\n", err.detail);
        for (int i = 0; i < err.nfields; i++)
            fprintf(stderr, "  %s: %s\n", err.fields[i].pointer, err.fields[i].detail);
    }
    json_decref(a.input);
    db_close(d);
    return rc;
}

/* ---- apikey ---- */

struct key_args {
    struct ax_ctx c;
    const char *name, *scopes;
    char token[AUTH_TOKEN_MAX], id[ID_MAX];
};

static int run_key(struct db *d, void *arg, struct ax_err *err)
{
    struct key_args *a = arg;
    return auth_api_key_create(d, &a->c, a->name, a->scopes, NULL, a->token, a->id, err);
}

int cli_apikey(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "create")) {
        fprintf(stderr, "usage: axon apikey create --tenant T [--name N] [--scopes \"read write admin\"]\n");
        return 2;
    }
    struct db *d = cli_open();
    struct key_args a;
    memset(&a, 0, sizeof a);
    if (!d || cli_tenant_ctx(d, cli_arg(argc, argv, "--tenant"), &a.c)) {
        db_close(d);
        return 1;
    }
    a.name = cli_arg(argc, argv, "--name") ? cli_arg(argc, argv, "--name") : "created with the CLI";
    a.scopes = cli_arg(argc, argv, "--scopes") ? cli_arg(argc, argv, "--scopes") : "read write";
    struct ax_err err;
    ax_err_clear(&err);
    int rc = writer_exec(d, run_key, &a, &err);
    if (rc)
        fprintf(stderr, "axon: %s\n", err.detail);
    else
        printf("API key %s (%s): %s\n(shown once; Axon stores only its hash)\n", a.id, a.scopes,
               a.token);
    db_close(d);
    return rc ? 1 : 0;
}
