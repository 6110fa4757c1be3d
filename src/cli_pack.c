/* cli_pack.c - `axon pack test|upload`: check packs from a shell, and load
 * the example packs into the demo. */
#include "axon/cli.h"

#include "axon/jx.h"
#include "axon/pack_bundle.h"
#include "axon/pack_check.h"
#include "axon/packs.h"
#include "axon/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A folder or an archive. */
static int read_pack(const char *path, struct pack_bundle *b, struct ax_err *err)
{
    struct stat sb;
    if (stat(path, &sb))
        return ax_fail(err, AX_ENOTFOUND, "%s: no such file or folder", path);
    return S_ISDIR(sb.st_mode) ? pack_bundle_read_dir(path, b, err)
                               : pack_bundle_read_file(path, b, err);
}

static void print_problem(const char *what, const struct ax_err *e)
{
    fprintf(stderr, "%s: %s\n", what, e->detail);
    for (int i = 0; i < e->nfields; i++)
        fprintf(stderr, "  %s: %s\n", e->fields[i].pointer, e->fields[i].detail);
}

static void print_checks(const char *path, const struct pack_checks *k)
{
    size_t i;
    json_t *f;
    json_array_foreach(k->findings, i, f)
        printf("  %-7s %s:%lld  %s  [%s]\n",
               json_string_value(json_object_get(f, "severity")),
               json_string_value(json_object_get(f, "file")),
               (long long)json_integer_value(json_object_get(f, "line")),
               json_string_value(json_object_get(f, "message")),
               json_string_value(json_object_get(f, "rule")));
    json_array_foreach(json_object_get(k->tests, "results"), i, f) {
        const char *outcome = json_string_value(json_object_get(f, "outcome"));
        printf("  %-7s %s %s", outcome, json_string_value(json_object_get(f, "file")),
               json_string_value(json_object_get(f, "name")));
        if (strcmp(outcome, "passed"))
            printf("\n          %s", json_string_value(json_object_get(f, "error")));
        printf("\n");
    }
    printf("%s: %d blocking finding(s), %zu finding(s) in all; tests: %lld passed, %d failed\n",
           path, k->blocking, json_array_size(k->findings),
           (long long)json_integer_value(json_object_get(k->tests, "passed")), k->tests_failed);
}

/* axon pack test PATH…: scan and run the tests of folders or archives. */
static int pack_test(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "usage: axon pack test DIR|FILE…\n");
        return 2;
    }
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        struct pack_bundle b;
        struct pack_checks k;
        struct ax_err err;
        ax_err_clear(&err);
        if (read_pack(argv[i], &b, &err) || pack_check(&b, &k, &err)) {
            print_problem(argv[i], &err);
            bad++;
            continue;
        }
        print_checks(argv[i], &k);
        bad += k.blocking > 0 || k.tests_failed > 0;
        pack_checks_release(&k);
        pack_bundle_free(&b);
    }
    return bad ? 1 : 0;
}

struct upload_arg {
    const struct ax_ctx *c;
    struct pack_bundle *b;
    struct pack_checks *k;
    bool publish;
    struct buf out;
};

static int run_upload(struct db *d, void *arg, struct ax_err *err)
{
    struct upload_arg *a = arg;
    bool created;
    char pack_id[ID_MAX], version[40];
    if (packs_store_version(d, a->c, a->b, a->k, &created, pack_id, version, &a->out, err))
        return -1;
    if (!a->publish)
        return 0;
    buf_reset(&a->out);
    return packs_publish(d, a->c, pack_id, version, NULL, NULL, NULL, &a->out, err);
}

int cli_pack_upload(struct db *d, const struct ax_ctx *c, const char *path, bool publish)
{
    struct pack_bundle b;
    struct pack_checks k;
    struct ax_err err;
    ax_err_clear(&err);
    if (read_pack(path, &b, &err) || pack_check(&b, &k, &err)) {
        print_problem(path, &err);
        return -1;
    }
    struct upload_arg a = {c, &b, &k, publish, {0}};
    buf_init(&a.out, 0);
    int rc = writer_exec(d, run_upload, &a, &err);
    if (rc)
        print_problem(path, &err);
    else
        printf("pack     %s %s%s\n", json_string_value(json_object_get(b.manifest, "name")),
               json_string_value(json_object_get(b.manifest, "version")),
               publish ? " (published)" : "");
    buf_free(&a.out);
    pack_checks_release(&k);
    pack_bundle_free(&b);
    return rc;
}

/* axon pack upload --tenant T [--publish] PATH */
static int pack_upload(int argc, char **argv)
{
    const char *tenant = cli_arg(argc, argv, "--tenant");
    const char *path = argc > 0 ? argv[argc - 1] : NULL;
    bool publish = false;
    for (int i = 0; i < argc; i++)
        publish |= !strcmp(argv[i], "--publish");
    if (!tenant || !path || path[0] == '-') {
        fprintf(stderr, "usage: axon pack upload --tenant T [--publish] DIR|FILE\n");
        return 2;
    }
    struct db *d = cli_open();
    struct ax_ctx c;
    int rc = !d || cli_tenant_ctx(d, tenant, &c) || cli_pack_upload(d, &c, path, publish);
    db_close(d);
    return rc ? 1 : 0;
}

int cli_pack(int argc, char **argv)
{
    if (argc >= 1 && !strcmp(argv[0], "test"))
        return pack_test(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "upload"))
        return pack_upload(argc - 1, argv + 1);
    fprintf(stderr, "usage: axon pack test DIR|FILE…\n"
                    "       axon pack upload --tenant T [--publish] DIR|FILE\n");
    return 2;
}
