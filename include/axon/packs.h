/*
 * packs.h - workflow packs at rest: packs, their immutable versions and
 * files, publication (which version runs, for the tenant or for one
 * business unit), the handler and schedule tables the write path and the
 * dispatcher consult, the run log, and the Lua states of versions.
 *
 * All SQL of packs, pack_versions, pack_files, pack_publications,
 * pack_handlers, pack_schedules and pack_runs is here. Writes run in the
 * caller's transaction and write audit rows like any other change.
 *
 * Versions never change once stored, so what is read of one (manifest,
 * name) is cached per thread (a small LRU). A `struct pack_version` holds
 * its own reference to the manifest: release it with
 * packs_version_release(). Output buffers belong to the caller; files
 * from packs_version_files() are freed with packs_files_free().
 */
#ifndef AXON_PACKS_H
#define AXON_PACKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/buf.h"
#include "axon/ctx.h"
#include "axon/db.h"
#include "axon/lua_rt.h"
#include "axon/pack_bundle.h"
#include "axon/pack_check.h"

/* One stored version, as the runtime needs it; owns a manifest reference. */
struct pack_version {
    int64_t rid, pack_rid, tenant;
    char id[ID_MAX];              /* pkv_…: the actor of the version's writes */
    char pack_id[ID_MAX];         /* pck_… */
    char name[72];
    char version[40];
    json_t *manifest;
};

/* ---- upload and reading ---- */

/* Store a checked bundle as a new version of the pack its manifest names
 * (the pack is created on its first upload). The same version number again
 * is AX_ECONFLICT unless the archive is byte-identical, which returns the
 * stored version (`*created` false). Appends the version document. */
int packs_store_version(struct db *d, const struct ax_ctx *c, const struct pack_bundle *b,
                        const struct pack_checks *checks, bool *created, char pack_id[ID_MAX],
                        char version[40], struct buf *out, struct ax_err *err);

int packs_list(struct db *d, int64_t tenant, struct buf *out, struct ax_err *err);
int packs_describe(struct db *d, int64_t tenant, const char *pack_id, struct buf *out,
                   struct ax_err *err);
int packs_version_describe(struct db *d, int64_t tenant, const char *pack_id,
                           const char *version, struct buf *out, struct ax_err *err);
/* {"path","size","content"} of one file of a version. */
int packs_version_file(struct db *d, int64_t tenant, const char *pack_id, const char *version,
                       const char *path, struct buf *out, struct ax_err *err);

/* A version by pack id and version text (AX_ENOTFOUND for another
 * tenant's), or by rid. */
int packs_version_find(struct db *d, int64_t tenant, const char *pack_id, const char *version,
                       struct pack_version *out, struct ax_err *err);
int packs_version_by_rid(struct db *d, int64_t rid, struct pack_version *out,
                         struct ax_err *err);
void packs_version_release(struct pack_version *v);

/* The files of a stored version (sorted by path); free with packs_files_free. */
int packs_version_files(struct db *d, int64_t version_rid, struct pack_file **files, int *n,
                        struct ax_err *err);
void packs_files_free(struct pack_file *files, int n);

/* ---- publication ---- */

/* Publish a version for the tenant (unit_id NULL) or one unit, with
 * setting values checked against the manifest (NULL: keep the current
 * ones where they still fit). Refused (AX_EINVALID "not-publishable")
 * while the version has blocking findings or failing tests. */
int packs_publish(struct db *d, const struct ax_ctx *c, const char *pack_id, const char *version,
                  const char *scope, const char *unit_id, json_t *settings, struct buf *out,
                  struct ax_err *err);
int packs_disable(struct db *d, const struct ax_ctx *c, const char *pack_id, struct buf *out,
                  struct ax_err *err);
/* Back to `version`, or (NULL) to the version published before this one. */
int packs_rollback(struct db *d, const struct ax_ctx *c, const char *pack_id,
                   const char *version, struct buf *out, struct ax_err *err);

/* The settings values a pack runs with: manifest defaults under the
 * published values. New reference. */
json_t *packs_settings(struct db *d, int64_t pack_rid, json_t *manifest, struct ax_err *err);

/* ---- what runs ---- */

#define PACKS_MAX_HANDLERS 32

struct pack_handler {
    int64_t version_rid, pack_rid;
    char fn[128];
    char unit_id[ID_MAX];         /* "" = the whole tenant */
    char event[48];
};

/* Published handlers of `phase` ("before", "after") for any of `events`,
 * in their order. Returns how many (at most `max`), or -1. */
int packs_handlers(struct db *d, int64_t tenant, const char *const *events, int nevents,
                   const char *phase, struct pack_handler *out, int max, struct ax_err *err);

/* A schedule that is due: the caller fires it and moves next_at on. */
struct pack_schedule_due {
    int64_t rid, tenant, pack_rid, version_rid, next_at;
    char fn[128];
};
int packs_due_schedules(struct db *d, int64_t now_ms, struct pack_schedule_due *out, int max,
                        struct ax_err *err);
/* Move a schedule to its next time if it still is at `was` (1 moved, 0 someone
 * else did). */
int packs_schedule_advance(struct db *d, int64_t rid, int64_t was, int64_t now_ms,
                           struct ax_err *err);

/* ---- Lua states ---- */

/* A pooled state of a stored version (lua_pool_put it back). */
struct lua_rt *packs_state(struct db *d, const struct pack_version *v, struct ax_err *err);

/* A new state from files in memory (pack tests, replays of a bundle):
 * every .lua file but pack.lua is a module; tests/ only `with_tests`. The
 * caller closes it with lua_rt_close. */
struct lua_rt *packs_open_state(int64_t tenant, int64_t version_rid,
                                const struct pack_file *files, int nfiles, bool with_tests,
                                lua_rt_install_fn install, void *install_arg,
                                struct ax_err *err);

/* ---- run log ---- */

struct pack_run_entry {
    int64_t tenant, pack_rid, version_rid;
    char event_id[ID_MAX], delivery_id[ID_MAX];
    char event[48], phase[12], fn[128];
    char outcome[12];              /* ok, error, rejected, killed */
    const struct lua_run *run;     /* accounting, error, traceback */
    json_t *logs;                  /* axon.log lines (array) or NULL; borrowed */
};

/* Queue an entry; packs_flush_runs writes the queue (dispatcher) in the
 * writer's transaction. Run logs are diagnostics: the queue survives a
 * rolled-back write (a rejection is logged) and a crash may lose its tail. */
void packs_log_run(const struct pack_run_entry *e);
int packs_flush_runs(struct db *d, struct ax_err *err);
bool packs_runs_pending(void);

/* A pack's run log, newest first: {"data":[…],"next":…}; `outcome` filters. */
int packs_runs(struct db *d, int64_t tenant, const char *pack_id, const char *outcome,
               int limit, int64_t before, struct buf *out, struct ax_err *err);

#endif
