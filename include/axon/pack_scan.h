/*
 * pack_scan.h - the compliance scan a pack version gets before it may be
 * published. It reads the pack's Lua sources without running them
 * (compiling is not running: every module is compiled in a bare state with
 * no libraries) and reports findings, each with a file, line, severity and
 * rule:
 *
 *   syntax            a module or test does not compile              error
 *   forbidden-global  io, debug, package, os.execute, string.dump,
 *                     dofile, loadfile, collectgarbage, rawset, …     error
 *   global-write      assignment to a global (globals are read-only)  error
 *   unknown-global    a global the sandbox does not have (a typo?)    warning
 *   unknown-api       axon.<x> that the host API does not have        error
 *   permission        a host-API call the manifest's permissions do
 *                     not allow (permission overreach)                error
 *   protected-field   a write to a server-owned or protected field    error
 *   unbounded-loop    while true / repeat … until false with no exit  error
 *   unbounded-find    a find over a whole table (no filter)           warning
 *   string-query      a find/count filter built from a string         error
 *   handler-missing   a manifest handler whose module or function
 *                     does not exist                                  error
 *
 * Findings of severity "error" block publishing. The scan is a static
 * check and cannot see everything; the host API enforces permissions and
 * protected fields again at run time.
 *
 * Two rules can also warn: "permission" when an http.* URL is computed at
 * run time (and some http: permission is declared), "handler-missing"
 * when a module's table is built in a way the scan cannot follow.
 *
 * What the scan follows: block scopes (locals, parameters, loop
 * variables), so a local `io` is not the global one; strings and comments
 * of every form; local aliases of the host API (`local db = axon.deals`,
 * `local a = axon`, `local upd = axon.deals.update`); the keys of a table
 * constructor passed to a call and of a local table filled before it
 * (`rec.id = …; axon.deals.create(rec)`); what a module returns
 * (`return M` with `function M.f`, `M.f = …`, or `return { f = f }`).
 * What it cannot: values reached through computed keys (axon["deals"]),
 * method calls on string values (("").dump), or data passed between
 * functions; those are left to the run-time checks.
 *
 * Each message starts with "<file>:<line>: " and names the fix
 * ("route.lua:12: axon.deals.update needs permission deals:write, which
 * the manifest does not declare (it declares: customers:read)"). Findings
 * about the manifest itself (a handler's module missing) have file
 * "pack.lua" and line 0; "column" is 1-based, 0 when unknown (syntax). At
 * most 100 findings of one rule are listed per file, then one finding of
 * that rule at line 0 counts the rest.
 */
#ifndef AXON_PACK_SCAN_H
#define AXON_PACK_SCAN_H

#include <jansson.h>
#include <stddef.h>

#include "axon/error.h"

struct scan_file {
    const char *path;        /* "route.lua", "lib/util.lua", "tests/route_test.lua" */
    const char *src;         /* Lua source text (not NUL-terminated necessarily) */
    size_t len;
};

struct scan_input {
    const struct scan_file *files;   /* every .lua file of the pack but pack.lua */
    int nfiles;
    /* The validated manifest: {"name","version","scope","permissions":[…],
     * "handlers":[{"event","phase","fn":"module.function","order"}],
     * "schedules":[{"every"|"daily","fn"}],"settings":{…}}. Borrowed. */
    json_t *manifest;
    /* Fields no pack may write, as "object.field" ("deals.stage_changed_at"),
     * NULL-terminated; the scan adds the system fields of every object
     * (id, version, created_at, updated_at, created_by, tenant_id). */
    const char *const *protected_fields;
};

/* Append findings to `findings` (a JSON array) as objects
 * {"file","line","column","severity","rule","message"}, in file then
 * line order. Returns the number of blocking (error) findings, or -1 with
 * `err` when the scan itself could not run (out of memory). */
int pack_scan(const struct scan_input *in, json_t *findings, struct ax_err *err);

#endif
