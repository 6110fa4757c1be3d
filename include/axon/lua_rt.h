/*
 * lua_rt.h - the Lua sandbox: sandboxed states, per-invocation budgets,
 * JSON <-> Lua conversion, and the pool of states.
 *
 * A state belongs to one (tenant, pack version) and is never shared with
 * another tenant. Its global environment is built from an allow list
 * (lua_rt_globals), never by deleting from _G: no io, debug, package,
 * dofile/loadfile, collectgarbage, rawset, string.dump; os cut to time,
 * date and clock; `load` takes text chunks only, `require` sees only the
 * pack's own modules. The globals table is read-only.
 *
 * Every call runs under a budget (struct lua_budget): instructions through
 * a count hook, memory through the allocator, wall time, host-API calls and
 * rows written (the last two are counted by the host API through
 * lua_rt_charge). Once a budget is exceeded the run is killed: the hook
 * raises again at the next instruction of any coroutine, so `pcall` inside
 * the script cannot swallow it. Errors never escape: a call returns -1 with
 * the message, the traceback and the line in `struct lua_run`.
 *
 * Ownership: lua_rt_open() returns a state the caller frees with
 * lua_rt_close(), or one lent by the pool (lua_pool_get / lua_pool_put).
 * A state is used by one thread at a time. JSON values passed in are
 * borrowed; JSON values returned are new references the caller owns.
 */
#ifndef AXON_LUA_RT_H
#define AXON_LUA_RT_H

#include <jansson.h>
#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/error.h"

/* Globals a script sees (besides `axon`), and those it is told are
 * forbidden when it reaches for them. NULL-terminated. Library members
 * ("string.format", "os.time") are listed with their library. */
extern const char *const lua_rt_globals[];
extern const char *const lua_rt_library_members[];
extern const char *const lua_rt_forbidden[];

struct lua_budget {
    int64_t instructions;    /* Lua VM instructions */
    int64_t memory;          /* bytes the state may grow by during the call */
    int64_t wall_ms;         /* milliseconds */
    int64_t host_calls;      /* axon.* calls */
    int64_t rows;            /* rows written through axon.* */
};

/* Defaults for before handlers (inside a write's transaction), after
 * handlers and schedules (from the outbox), and pack tests and replays. */
extern const struct lua_budget lua_budget_before, lua_budget_after;

/* One invocation's accounting and outcome. Plain storage. */
struct lua_run {
    struct lua_budget budget;
    int64_t instructions, host_calls, rows;
    int64_t mem_peak;             /* highest growth over the start, bytes */
    double started, elapsed_ms;
    const char *killed;           /* budget that stopped it ("instructions", …) or NULL */
    char error[512];              /* message without the traceback */
    char traceback[2048];
    char where[160];              /* "route.lua:12" of the error, if known */
    char aborted[256];            /* why lua_rt_abort stopped the run, or "" */
    int line;
    void *host;                   /* the host API's context for this call */
};

struct lua_module {
    const char *name;             /* "route", "lib.util" */
    const char *path;             /* "route.lua" (chunk names say this) */
    const char *src;
    size_t len;
};

/* Adds the host API to a fresh state: called once by lua_rt_open with the
 * environment table on top of the stack. */
typedef void (*lua_rt_install_fn)(lua_State *L, void *arg);

struct lua_rt;

/* A new sandboxed state with these modules available to `require` and
 * lua_rt_call (sources are copied). No module is run yet. */
struct lua_rt *lua_rt_open(int64_t tenant, int64_t version, const struct lua_module *mods,
                           int nmods, lua_rt_install_fn install, void *install_arg,
                           struct ax_err *err);
void lua_rt_close(struct lua_rt *rt);
lua_State *lua_rt_state(struct lua_rt *rt);

/* Call `module.func(arg)` (arg converted to a Lua table; may be NULL) under
 * run->budget. The module is required first if it is not loaded yet.
 * `result` (may be NULL) gets the first return value as JSON (json_null
 * when nil). After the call, `arg_back` (may be NULL) gets the argument
 * table converted back, so callers see what the handler changed in it.
 * Returns 0, or -1 with run->error/traceback and err
 * (AX_EINVALID "workflow-error"). */
int lua_rt_call(struct lua_rt *rt, const char *module, const char *func, json_t *arg,
                json_t **result, json_t **arg_back, struct lua_run *run, struct ax_err *err);

/* Run a chunk's source as a function with no host API beyond `install`
 * (the manifest is evaluated so, in an empty environment). */
int lua_rt_eval(struct lua_rt *rt, const char *name, const char *src, size_t len,
                json_t **result, struct lua_run *run, struct ax_err *err);

/* For host functions: the current run (NULL outside a call), and charging
 * a host call or written rows against its budget. A charge over budget
 * kills the run and raises a Lua error (does not return). */
struct lua_run *lua_rt_run(lua_State *L);
void lua_rt_charge(lua_State *L, int64_t host_calls, int64_t rows);

/* Stop the run for a reason that is not a budget (a permission the pack
 * did not declare). Like a spent budget it cannot be caught by pcall: the
 * run ends with this message (killed = "permission"). Does not return. */
int lua_rt_abort(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replace the table on top of the stack with a read-only proxy of it
 * (host-API tables, so one run cannot rewire them for the next). */
void lua_rt_readonly(lua_State *L);

/* Raise a Lua error that the host turns into a rejection of the write
 * (axon.reject): the call returns -1 with err AX_EINVALID type
 * "rejected", detail = message, and the field as a JSON pointer. */
int lua_rt_reject(lua_State *L, const char *message, const char *field);

/* JSON <-> Lua. Objects become tables whose null members are left out
 * (an empty field reads as nil), arrays tables marked as arrays (so they
 * convert back as arrays, even when empty), null inside an array the
 * lightuserdata axon.null (which also converts back to null). Depth is capped (32) and the stack is checked at every level. */
void lua_rt_push_json(lua_State *L, json_t *v);
/* NULL with err when the value cannot be JSON (functions, cycles, depth,
 * invalid UTF-8, keys that are neither strings nor integers). */
json_t *lua_rt_to_json(lua_State *L, int idx, struct ax_err *err);
void lua_rt_push_null(lua_State *L);
bool lua_rt_is_null(lua_State *L, int idx);

/* ---- pool ----
 * States are pooled per (tenant, pack version): lua_pool_get lends one
 * (creating it with `load` when none is idle) and lua_pool_put returns it.
 * Versions are immutable, so a pooled state never goes stale; the pool
 * keeps at most LUA_POOL_MAX idle states and closes the least recently
 * used beyond that. Thread-safe. */
#define LUA_POOL_MAX 64
typedef struct lua_rt *(*lua_pool_load_fn)(void *arg, struct ax_err *err);
struct lua_rt *lua_pool_get(int64_t tenant, int64_t version, lua_pool_load_fn load,
                            void *arg, struct ax_err *err);
void lua_pool_put(struct lua_rt *rt);
/* Close every idle state of a tenant (tests, tenant removal). */
void lua_pool_drop_tenant(int64_t tenant);
void lua_pool_shutdown(void);

#endif
