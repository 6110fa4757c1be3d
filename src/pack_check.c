/* pack_check.c - the compliance scan and the pack's tests, together. */
#include "axon/pack_check.h"

#include "axon/model.h"
#include "axon/pack_scan.h"
#include "axon/pack_sim.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "object.field" of every field the server sets: no pack may write them. */
static const char *protected_list[256];
static char protected_names[256][72];
static pthread_once_t protected_once = PTHREAD_ONCE_INIT;

static void build_protected(void)
{
    int n, k = 0;
    const struct object_def *const *all = model_all(&n);
    for (int i = 0; i < n; i++)
        for (int f = 0; f < all[i]->nfields && k < 255; f++)
            if (all[i]->fields[f].flags & F_SERVER) {
                snprintf(protected_names[k], sizeof protected_names[k], "%s.%s", all[i]->name,
                         all[i]->fields[f].name);
                protected_list[k] = protected_names[k];
                k++;
            }
    protected_list[k] = NULL;
}

int pack_check(const struct pack_bundle *b, struct pack_checks *out, struct ax_err *err)
{
    memset(out, 0, sizeof *out);
    pthread_once(&protected_once, build_protected);
    struct scan_file *files = calloc((size_t)b->nfiles + 1, sizeof *files);
    out->findings = json_array();
    if (!files || !out->findings) {
        free(files);
        pack_checks_release(out);
        return ax_fail(err, AX_EINTERNAL, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < b->nfiles; i++) {
        const struct pack_file *f = &b->files[i];
        size_t len = strlen(f->path);
        if (len > 4 && !strcmp(f->path + len - 4, ".lua") && strcmp(f->path, "pack.lua"))
            files[n++] = (struct scan_file){f->path, f->data, f->len};
    }
    struct scan_input in = {files, n, b->manifest, protected_list};
    out->blocking = pack_scan(&in, out->findings, err);
    free(files);
    if (out->blocking < 0 || sim_pack_tests(b, &out->tests, &out->tests_failed, err)) {
        pack_checks_release(out);
        return -1;
    }
    return 0;
}

void pack_checks_release(struct pack_checks *k)
{
    json_decref(k->findings);
    json_decref(k->tests);
    k->findings = k->tests = NULL;
}
