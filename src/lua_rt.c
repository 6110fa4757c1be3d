/* lua_rt.c - the Lua sandbox: states, budgets, JSON conversion, pool. */
#include "axon/lua_rt.h"

/* What the environment of a pack's script holds, besides `axon`. */
const char *const lua_rt_globals[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
    "type", "xpcall", "getmetatable", "setmetatable", "rawequal", "rawget", "rawlen", "print",
    "require", "load", "_G", "_VERSION", "string", "table", "math", "utf8", "coroutine", "os",
    NULL
};

/* Members of the libraries above that scripts may use. */
const char *const lua_rt_library_members[] = {
    "string.byte", "string.char", "string.find", "string.format", "string.gmatch",
    "string.gsub", "string.len", "string.lower", "string.match", "string.rep",
    "string.reverse", "string.sub", "string.upper", "string.pack", "string.packsize",
    "string.unpack",
    "table.concat", "table.insert", "table.move", "table.pack", "table.remove", "table.sort",
    "table.unpack",
    "math.abs", "math.ceil", "math.cos", "math.deg", "math.exp", "math.floor", "math.fmod",
    "math.huge", "math.log", "math.max", "math.maxinteger", "math.min", "math.mininteger",
    "math.modf", "math.pi", "math.rad", "math.random", "math.randomseed", "math.sin",
    "math.sqrt", "math.tan", "math.tointeger", "math.type", "math.ult", "math.asin",
    "math.acos", "math.atan",
    "utf8.char", "utf8.charpattern", "utf8.codes", "utf8.codepoint", "utf8.len", "utf8.offset",
    "coroutine.close", "coroutine.create", "coroutine.isyieldable", "coroutine.resume",
    "coroutine.running", "coroutine.status", "coroutine.wrap", "coroutine.yield",
    "os.time", "os.date", "os.clock",
    NULL
};

/* Names scripts reach for that the sandbox refuses on purpose. */
const char *const lua_rt_forbidden[] = {
    "io", "debug", "package", "dofile", "loadfile", "loadstring", "collectgarbage", "rawset",
    "setfenv", "getfenv", "module", "newproxy", "string.dump", "os.execute", "os.exit",
    "os.getenv", "os.remove", "os.rename", "os.tmpname", "os.setlocale", "io.open",
    "io.popen", "io.lines", "package.loadlib", "debug.getregistry", "debug.sethook",
    NULL
};

#include "axon/log.h"
#include "axon/text.h"
#include "axon/timefmt.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults: a before handler runs inside somebody's write, so it gets a
 * tight budget; after handlers run from the outbox with room to work. */
const struct lua_budget lua_budget_before = {
    .instructions = 1000000, .memory = 8 << 20, .wall_ms = 100, .host_calls = 50, .rows = 0};
const struct lua_budget lua_budget_after = {
    .instructions = 10000000, .memory = 32 << 20, .wall_ms = 2000, .host_calls = 500,
    .rows = 100};

#define HOOK_EVERY 1000               /* instructions between hook calls */
#define LOAD_MEMORY (16 << 20)        /* cap while loading modules, outside calls */
#define STATE_MAX_MEMORY (64 << 20)   /* a state never grows beyond this, whatever it keeps */
#define STATE_KEEP_MEMORY (16 << 20)  /* a state using more is closed after its run */
#define KILL_SLACK (256 << 10)        /* room to unwind and build a traceback */
#define JSON_DEPTH 32

struct lua_rt {
    lua_State *L;
    int64_t tenant, version;
    int64_t used, limit, start_used;
    struct lua_run *run;              /* the call in progress, or NULL */
    bool tainted;                     /* a run was killed: do not reuse */
    struct lua_module *mods;          /* copies; sources in `blob` */
    int nmods;
    char *blob;
    struct lua_rt *next;              /* pool link */
    double idle_since;
};

/* Registry keys: addresses of these statics (cannot collide, cannot be forged). */
static char key_env, key_loaded, key_array_mt, key_reject_mt;
static char null_sentinel;

static struct lua_rt *rt_of(lua_State *L)
{
    return *(struct lua_rt **)lua_getextraspace(L);
}

lua_State *lua_rt_state(struct lua_rt *rt) { return rt->L; }

struct lua_run *lua_rt_run(lua_State *L)
{
    struct lua_rt *rt = rt_of(L);
    return rt ? rt->run : NULL;
}

/* ---- budgets ---- */

static void *rt_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lua_rt *rt = ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        rt->used -= (int64_t)osize;
        return NULL;
    }
    if (nsize > osize) {
        int64_t limit = rt->limit + (rt->run && rt->run->killed ? KILL_SLACK : 0);
        if (rt->used + (int64_t)(nsize - osize) > limit) {
            if (rt->run && !rt->run->killed)
                rt->run->killed = "memory";
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    rt->used += (int64_t)nsize - (int64_t)osize;
    if (rt->run && rt->used - rt->start_used > rt->run->mem_peak)
        rt->run->mem_peak = rt->used - rt->start_used;
    return p;
}

static void kill_hook(lua_State *L, lua_Debug *ar);

/* Raise the kill again at every instruction of this coroutine, so that a
 * pcall that caught it cannot carry on. */
static int raise_killed(lua_State *L, struct lua_run *run)
{
    lua_sethook(L, kill_hook, LUA_MASKCOUNT, 1);
    if (run->aborted[0])
        return luaL_error(L, "%s", run->aborted);
    return luaL_error(L, "stopped: the %s budget of this run is used up", run->killed);
}

int lua_rt_abort(lua_State *L, const char *fmt, ...)
{
    struct lua_run *run = lua_rt_run(L);
    char msg[sizeof run->aborted];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!run)
        return luaL_error(L, "%s", msg);
    if (!run->killed) {
        run->killed = "permission";
        snprintf(run->aborted, sizeof run->aborted, "%s", msg);
    }
    return raise_killed(L, run);
}

static void kill_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct lua_rt *rt = rt_of(L);
    struct lua_run *run = rt ? rt->run : NULL;
    if (!run)
        return;
    if (!run->killed) {
        run->instructions += HOOK_EVERY;
        if (run->instructions > run->budget.instructions)
            run->killed = "instruction";
        else if ((run->instructions / HOOK_EVERY) % 8 == 0 &&
                 (time_mono() - run->started) * 1000.0 > (double)run->budget.wall_ms)
            run->killed = "wall-time";
    }
    if (run->killed)
        raise_killed(L, run);
}

void lua_rt_charge(lua_State *L, int64_t host_calls, int64_t rows)
{
    struct lua_run *run = lua_rt_run(L);
    if (!run)
        return;
    run->host_calls += host_calls;
    run->rows += rows;
    if (!run->killed && run->host_calls > run->budget.host_calls)
        run->killed = "host-call";
    if (!run->killed && run->rows > run->budget.rows)
        run->killed = "rows-written";
    if (run->killed)
        raise_killed(L, run);
}

/* ---- JSON <-> Lua ---- */

void lua_rt_push_null(lua_State *L) { lua_pushlightuserdata(L, &null_sentinel); }

bool lua_rt_is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == &null_sentinel;
}

static void push_json(lua_State *L, json_t *v, int depth)
{
    luaL_checkstack(L, 4, "JSON nests too deep");
    if (depth > JSON_DEPTH) {
        lua_pushnil(L);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (json_is_null(x))     /* an empty field reads as nil, as in plain Lua */
                continue;
            push_json(L, x, depth + 1);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(v), 0);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            push_json(L, x, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &key_array_mt);
        lua_setmetatable(L, -2);
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    default:
        lua_rt_push_null(L);
    }
}

void lua_rt_push_json(lua_State *L, json_t *v)
{
    if (!v)
        lua_pushnil(L);
    else
        push_json(L, v, 0);
}

static bool marked_array(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return false;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_array_mt);
    bool yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* A table is an array when marked so, or when its keys are exactly 1..n. */
static lua_Integer array_length(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    if (marked_array(L, idx))
        return n;
    if (n == 0)
        return -1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n) {
            lua_pop(L, 1);
            return -1;
        }
    }
    return count == n ? n : -1;
}

/* What one conversion may produce: a table shared many times over (a DAG)
 * would otherwise turn a few hundred bytes of Lua into gigabytes of JSON. */
#define JSON_MAX_VALUES 200000
#define JSON_MAX_BYTES (32u << 20)
struct conv {
    size_t values, bytes;
};

static json_t *to_json(lua_State *L, int idx, int depth, struct conv *cv, struct ax_err *err);

static json_t *table_to_json(lua_State *L, int idx, int depth, struct conv *cv,
                             struct ax_err *err)
{
    lua_Integer n = array_length(L, idx);
    if (n >= 0) {
        json_t *a = json_array();
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            json_t *x = to_json(L, lua_gettop(L), depth + 1, cv, err);
            lua_pop(L, 1);
            if (!x) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, x);
        }
        return a;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        char ibuf[32];
        const char *k;
        size_t klen;
        if (lua_type(L, -2) == LUA_TSTRING) {
            k = lua_tolstring(L, -2, &klen);
        } else if (lua_isinteger(L, -2)) {
            snprintf(ibuf, sizeof ibuf, "%lld", (long long)lua_tointeger(L, -2));
            k = ibuf;
            klen = strlen(ibuf);
        } else {
            lua_pop(L, 2);
            json_decref(o);
            ax_fail(err, AX_EINVALID, "a table key of type %s cannot become JSON",
                    luaL_typename(L, -1));
            return NULL;
        }
        if (!text_valid_utf8(k, klen)) {
            lua_pop(L, 2);
            json_decref(o);
            ax_fail(err, AX_EINVALID, "a table key is not valid UTF-8");
            return NULL;
        }
        cv->bytes += klen;
        json_t *x = to_json(L, lua_gettop(L), depth + 1, cv, err);
        if (!x) {
            lua_pop(L, 2);
            json_decref(o);
            return NULL;
        }
        json_object_setn_new(o, k, klen, x);
        lua_pop(L, 1);
    }
    return o;
}

static json_t *to_json(lua_State *L, int idx, int depth, struct conv *cv, struct ax_err *err)
{
    if (++cv->values > JSON_MAX_VALUES || cv->bytes > JSON_MAX_BYTES) {
        ax_fail(err, AX_EINVALID, "the value is too large to convert (more than %d values or "
                "%u MiB; a table used many times counts each time)", JSON_MAX_VALUES,
                JSON_MAX_BYTES >> 20);
        return NULL;
    }
    if (depth > JSON_DEPTH) {
        ax_fail(err, AX_EINVALID, "the value nests deeper than %d levels (or refers to itself)",
                JSON_DEPTH);
        return NULL;
    }
    if (!lua_checkstack(L, 4)) {
        ax_fail(err, AX_EINVALID, "the value nests too deep");
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) {
            ax_fail(err, AX_EINVALID, "numbers must be finite (got %g)", d);
            return NULL;
        }
        return json_real(d);
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (!text_valid_utf8(s, n)) {
            ax_fail(err, AX_EINVALID, "a string is not valid UTF-8 (or holds a NUL)");
            return NULL;
        }
        cv->bytes += n;
        return json_stringn(s, n);
    }
    case LUA_TTABLE:
        return table_to_json(L, idx, depth, cv, err);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &null_sentinel)
            return json_null();
        /* fall through */
    default:
        ax_fail(err, AX_EINVALID, "a %s cannot become JSON", luaL_typename(L, idx));
        return NULL;
    }
}

json_t *lua_rt_to_json(lua_State *L, int idx, struct ax_err *err)
{
    struct conv cv = {0, 0};
    return to_json(L, lua_absindex(L, idx), 0, &cv, err);
}

/* ---- the environment ---- */

static int env_newindex(lua_State *L)
{
    return luaL_error(L, "globals are read-only: declare '%s' with local",
                      lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

static int env_index(lua_State *L)
{
    /* Absent globals are nil, as in plain Lua; forbidden ones say so. */
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        for (int i = 0; lua_rt_forbidden[i]; i++)
            if (strcmp(lua_rt_forbidden[i], k) == 0)
                return luaL_error(L, "'%s' is not available in the sandbox", k);
    }
    return 0;
}

/* Wrap the table on top in a read-only proxy, leaving the proxy there. */
static void make_readonly(lua_State *L, bool strict)
{
    int inner = lua_gettop(L);
    lua_newtable(L);                        /* proxy */
    lua_createtable(L, 0, 4);               /* its metatable */
    if (strict) {
        /* __index as a table first tries inner, then the forbidden check. */
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, env_index);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, inner);
    }
    lua_pushvalue(L, inner);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, inner);
}

void lua_rt_readonly(lua_State *L) { make_readonly(L, false); }

/* Copy the listed members of library `lib` (as found in the loaded
 * table) into a new read-only table left on the stack. */
static void copy_library(lua_State *L, const char *lib)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, lib);
    lua_newtable(L);
    size_t n = strlen(lib);
    for (int i = 0; lua_rt_library_members[i]; i++) {
        const char *m = lua_rt_library_members[i];
        if (strncmp(m, lib, n) != 0 || m[n] != '.')
            continue;
        lua_getfield(L, -2, m + n + 1);
        lua_setfield(L, -2, m + n + 1);
    }
    lua_remove(L, -2);
    lua_remove(L, -2);
    make_readonly(L, false);
}

/* Lua patterns backtrack in C, out of the instruction hook's reach: a
 * pattern with several repetitions over a text can run for hours, and
 * nothing could stop it. So a call is refused when its worst case is too
 * costly: with k repetitions (*, +, -) a backtracking match over n
 * characters can take about n^k steps, one power more when the match may
 * start anywhere and a repetition takes any character ('.'). One
 * repetition over any text passes (gsub("%s+", " ") on a long text). */
#define PATTERN_MAX_STEPS 5e7

static int guard_pattern(lua_State *L)
{
    size_t slen, plen;
    luaL_checklstring(L, 1, &slen);
    const char *p = luaL_checklstring(L, 2, &plen);
    bool find = lua_toboolean(L, lua_upvalueindex(2));
    bool plain = find && lua_toboolean(L, 4);
    int reps = 0, dot_reps = 0;
    for (size_t i = 0; i < plen && !plain; i++) {
        if (p[i] == '%') {
            i++;
        } else if (p[i] == '[') {
            for (i++; i < plen && p[i] != ']'; i++)
                if (p[i] == '%')
                    i++;
        } else if (i > 0 && (p[i] == '*' || p[i] == '+' || p[i] == '-')) {
            reps++;
            dot_reps += p[i - 1] == '.' && (i < 2 || p[i - 2] != '%');
        }
    }
    bool anchored = plen > 0 && p[0] == '^' && lua_type(L, lua_upvalueindex(3)) != LUA_TNIL;
    int k = reps + (dot_reps > 0 && !anchored ? 1 : 0);
    if (k >= 2 && pow((double)slen, k) > PATTERN_MAX_STEPS)
        return luaL_error(L, "this pattern (%d repetitions) could take too long on a text of %d "
                             "characters; split the text, use plain find, or simplify the "
                             "pattern", reps, (int)slen);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* The real string library serves method calls ("x"):find(): drop dump
 * and guard the pattern functions there too. */
static void harden_string_library(lua_State *L)
{
    static const char *const pattern_fns[] = {"find", "match", "gmatch", "gsub", NULL};
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    for (int i = 0; pattern_fns[i]; i++) {
        lua_getfield(L, -1, pattern_fns[i]);
        lua_pushboolean(L, i == 0);                /* find has a plain flag */
        if (strcmp(pattern_fns[i], "gmatch"))      /* '^' anchors all but gmatch */
            lua_pushboolean(L, 1);
        else
            lua_pushnil(L);
        lua_pushcclosure(L, guard_pattern, 3);
        lua_setfield(L, -2, pattern_fns[i]);
    }
    lua_pop(L, 2);
    /* getmetatable("") must not hand out the string library. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static const struct lua_module *find_module(struct lua_rt *rt, const char *name)
{
    for (int i = 0; i < rt->nmods; i++)
        if (strcmp(rt->mods[i].name, name) == 0)
            return &rt->mods[i];
    return NULL;
}

/* Give a loaded chunk (on top of the stack) the sandbox environment. */
static void set_env(lua_State *L, int env_idx)
{
    lua_pushvalue(L, env_idx);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
}

static int sandbox_require(lua_State *L)
{
    struct lua_rt *rt = rt_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_loaded);
    int loaded = lua_gettop(L);
    if (lua_getfield(L, loaded, name) != LUA_TNIL) {
        if (lua_islightuserdata(L, -1) && lua_touserdata(L, -1) == &key_loaded)
            return luaL_error(L, "module '%s' requires itself (a require cycle)", name);
        return 1;
    }
    lua_pop(L, 1);
    const struct lua_module *m = find_module(rt, name);
    if (!m)
        return luaL_error(L, "module '%s' is not part of this pack", name);
    char chunkname[160];
    snprintf(chunkname, sizeof chunkname, "=%s", m->path);
    if (luaL_loadbufferx(L, m->src, m->len, chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    lua_insert(L, -2);
    set_env(L, lua_gettop(L) - 1);
    lua_remove(L, -2);
    lua_pushlightuserdata(L, &key_loaded);      /* "loading" marker */
    lua_setfield(L, loaded, name);
    lua_pushstring(L, name);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        /* A module that failed to load may be tried again (and report its
         * own error again, not a require cycle). */
        lua_pushnil(L);
        lua_setfield(L, loaded, name);
        return lua_error(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, loaded, name);
    return 1;
}

/* load(text [, name [, mode [, env]]]): text chunks only, in the sandbox. */
static int sandbox_load(lua_State *L)
{
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    if (!s)
        return luaL_error(L, "load takes the chunk as a string in the sandbox");
    const char *mode = luaL_optstring(L, 3, "t");
    if (!strchr(mode, 't'))
        return luaL_error(L, "only text chunks can be loaded (binary chunks are refused)");
    char name[128];
    snprintf(name, sizeof name, "=load:%.100s", luaL_optstring(L, 2, "chunk"));
    if (luaL_loadbufferx(L, s, n, name, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lua_pushvalue(L, 4);
    } else {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    }
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

/* print() for scripts run without a host API (the host replaces it). */
static int sandbox_print(lua_State *L)
{
    char line[400];
    size_t used = 0;
    int n = lua_gettop(L);
    line[0] = '\0';
    for (int i = 1; i <= n && used < sizeof line - 1; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%.*s", i > 1 ? "\t" : "",
                                 (int)len, s);
        lua_pop(L, 1);
    }
    struct lua_rt *rt = rt_of(L);
    log_info("lua tenant=%lld version=%lld: %s", (long long)rt->tenant, (long long)rt->version,
             line);
    return 0;
}

static int reject_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    return 1;
}

/* Base functions scripts get; the rest of the base library stays out
 * (setmetatable is the sandbox's own, below). */
static const char *const base_allowed[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
    "type", "xpcall", "getmetatable", "rawequal", "rawget", "rawlen", NULL
};

/* setmetatable without finalizers: Lua runs __gc with hooks off, so a
 * finalizer could loop beyond every budget. (The collector only honours a
 * __gc present when the metatable is set, so checking here suffices.) */
static int sandbox_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL)
        return luaL_error(L, "__gc (finalizers) is not available in the sandbox");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static int null_tostring(lua_State *L)
{
    lua_pushliteral(L, "null");
    return 1;
}

static void build_env(lua_State *L, lua_rt_install_fn install, void *arg)
{
    lua_createtable(L, 0, 40);                            /* inner */
    int inner = lua_gettop(L);
    lua_pushglobaltable(L);
    for (int i = 0; base_allowed[i]; i++) {
        lua_getfield(L, -1, base_allowed[i]);
        lua_setfield(L, inner, base_allowed[i]);
    }
    lua_getfield(L, -1, "setmetatable");
    lua_pushcclosure(L, sandbox_setmetatable, 1);
    lua_setfield(L, inner, "setmetatable");
    lua_pop(L, 1);
    lua_pushliteral(L, LUA_VERSION);
    lua_setfield(L, inner, "_VERSION");
    lua_pushcfunction(L, sandbox_require);
    lua_setfield(L, inner, "require");
    lua_pushcfunction(L, sandbox_load);
    lua_setfield(L, inner, "load");
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, inner, "print");
    static const char *const libs[] = {"string", "table", "math", "utf8", "coroutine", "os", NULL};
    for (int i = 0; libs[i]; i++) {
        copy_library(L, libs[i]);
        lua_setfield(L, inner, libs[i]);
    }
    if (install) {
        lua_pushvalue(L, inner);
        install(L, arg);
        lua_settop(L, inner);
    }
    make_readonly(L, true);                               /* proxy replaces inner */
    lua_getmetatable(L, -1);
    lua_getfield(L, -1, "__index");                       /* inner again */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "_G");
    lua_pop(L, 2);
}

static int open_state(lua_State *L)
{
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 0);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_settop(L, 0);
    harden_string_library(L);

    lua_createtable(L, 0, 0);                             /* array marker */
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_array_mt);

    /* All light userdata share one metatable: axon.null prints as null. */
    lua_pushlightuserdata(L, &null_sentinel);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "null");
    lua_setfield(L, -2, "__name");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);

    lua_createtable(L, 0, 2);                             /* rejection marker */
    lua_pushcfunction(L, reject_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_reject_mt);

    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_loaded);
    return 0;
}

struct open_args {
    lua_rt_install_fn install;
    void *arg;
};

static int open_env(lua_State *L)
{
    struct open_args *a = lua_touserdata(L, 1);
    lua_settop(L, 0);
    build_env(L, a->install, a->arg);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_env);
    /* C code that reaches for "the globals" finds the sandbox too. */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    return 0;
}

static int copy_modules(struct lua_rt *rt, const struct lua_module *mods, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += strlen(mods[i].name) + strlen(mods[i].path) + mods[i].len + 3;
    rt->blob = malloc(total + 1);
    rt->mods = calloc((size_t)(n > 0 ? n : 1), sizeof *rt->mods);
    if (!rt->blob || !rt->mods)
        return -1;
    char *p = rt->blob;
    for (int i = 0; i < n; i++) {
        rt->mods[i].name = strcpy(p, mods[i].name);
        p += strlen(p) + 1;
        rt->mods[i].path = strcpy(p, mods[i].path);
        p += strlen(p) + 1;
        memcpy(p, mods[i].src, mods[i].len);
        p[mods[i].len] = '\0';
        rt->mods[i].src = p;
        rt->mods[i].len = mods[i].len;
        p += mods[i].len + 1;
    }
    rt->nmods = n;
    return 0;
}

struct lua_rt *lua_rt_open(int64_t tenant, int64_t version, const struct lua_module *mods,
                           int nmods, lua_rt_install_fn install, void *install_arg,
                           struct ax_err *err)
{
    struct lua_rt *rt = calloc(1, sizeof *rt);
    if (!rt || copy_modules(rt, mods, nmods)) {
        lua_rt_close(rt);
        ax_fail(err, AX_EINTERNAL, "out of memory");
        return NULL;
    }
    rt->tenant = tenant;
    rt->version = version;
    rt->limit = LOAD_MEMORY;
    rt->L = lua_newstate(rt_alloc, rt);
    if (!rt->L) {
        lua_rt_close(rt);
        ax_fail(err, AX_EINTERNAL, "cannot create a Lua state");
        return NULL;
    }
    *(struct lua_rt **)lua_getextraspace(rt->L) = rt;
    struct open_args a = {install, install_arg};
    lua_pushcfunction(rt->L, open_state);
    int rc = lua_pcall(rt->L, 0, 0, 0);
    if (rc == LUA_OK) {
        lua_pushcfunction(rt->L, open_env);
        lua_pushlightuserdata(rt->L, &a);
        rc = lua_pcall(rt->L, 1, 0, 0);
    }
    if (rc != LUA_OK) {
        ax_fail(err, AX_EINTERNAL, "cannot build the sandbox: %s", lua_tostring(rt->L, -1));
        lua_rt_close(rt);
        return NULL;
    }
    return rt;
}

void lua_rt_close(struct lua_rt *rt)
{
    if (!rt)
        return;
    if (rt->L)
        lua_close(rt->L);
    free(rt->mods);
    free(rt->blob);
    free(rt);
}

/* ---- calls ---- */

/* Message handler: keep rejections as they are, add a traceback to the rest. */
static int msgh(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &key_reject_mt);
        bool reject = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (reject)
            return 1;
    }
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int lua_rt_reject(lua_State *L, const char *message, const char *field)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    if (field) {
        lua_pushstring(L, field);
        lua_setfield(L, -2, "field");
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_reject_mt);
    lua_setmetatable(L, -2);
    return lua_error(L);
}

/* "route.lua:12: attempt to …" -> where "route.lua:12", line 12. */
static void parse_where(struct lua_run *run)
{
    const char *m = run->error;
    const char *colon = strchr(m, ':');
    if (!colon || colon == m || colon - m > 120)
        return;
    char *end;
    long line = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != ':')
        return;
    snprintf(run->where, sizeof run->where, "%.*s", (int)(end - m), m);
    run->line = (int)line;
}

static int fail_from_stack(lua_State *L, struct lua_run *run, struct ax_err *err)
{
    if (lua_type(L, -1) == LUA_TTABLE) {        /* a rejection */
        lua_getfield(L, -1, "message");
        lua_getfield(L, -2, "field");
        const char *msg = lua_tostring(L, -2), *field = lua_tostring(L, -1);
        snprintf(run->error, sizeof run->error, "%s", msg ? msg : "rejected");
        ax_fail_type(err, AX_EINVALID, "rejected", "%s", run->error);
        if (field) {
            char ptr[96];
            snprintf(ptr, sizeof ptr, "/%s", field);
            ax_field(err, ptr, "%s", run->error);
            err->code = AX_EINVALID;
            snprintf(err->type, sizeof err->type, "rejected");
        }
        lua_pop(L, 3);
        return 1;   /* rejected */
    }
    const char *text = lua_tostring(L, -1);
    if (!text)
        text = "error object is not a string";
    const char *tb = strstr(text, "\nstack traceback:");
    size_t mlen = tb ? (size_t)(tb - text) : strlen(text);
    snprintf(run->error, sizeof run->error, "%.*s", (int)mlen, text);
    snprintf(run->traceback, sizeof run->traceback, "%s", tb ? tb + 1 : "");
    parse_where(run);
    if (run->aborted[0] && !strstr(run->error, run->aborted))
        snprintf(run->error, sizeof run->error, "%s", run->aborted);
    else if (run->killed && !run->aborted[0] && !strstr(run->error, "budget"))
        snprintf(run->error, sizeof run->error, "stopped: the %s budget of this run is used up",
                 run->killed);
    ax_fail_type(err, AX_EINVALID, "workflow-error", "%s", run->error);
    lua_pop(L, 1);
    return 0;
}

static void begin_run(struct lua_rt *rt, struct lua_run *run)
{
    run->instructions = run->host_calls = run->rows = run->mem_peak = 0;
    run->killed = NULL;
    run->error[0] = run->traceback[0] = run->where[0] = run->aborted[0] = '\0';
    run->line = 0;
    run->started = time_mono();
    rt->run = run;
    rt->start_used = rt->used;
    rt->limit = rt->used + run->budget.memory;
    if (rt->limit > STATE_MAX_MEMORY)     /* module-level tables persist between runs */
        rt->limit = rt->used < STATE_MAX_MEMORY ? STATE_MAX_MEMORY : rt->used;
    lua_sethook(rt->L, kill_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

static void end_run(struct lua_rt *rt, struct lua_run *run)
{
    lua_sethook(rt->L, NULL, 0, 0);
    run->elapsed_ms = (time_mono() - run->started) * 1000.0;
    if (run->killed)
        rt->tainted = true;
    rt->run = NULL;
    lua_settop(rt->L, 0);
    rt->limit = rt->used + LOAD_MEMORY;
}

/* Protected part of a call: arguments module, func, arg. */
static int call_body(lua_State *L)
{
    const char *module = lua_tostring(L, 1), *func = lua_tostring(L, 2);
    lua_pushcfunction(L, sandbox_require);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "module '%s' does not return a table of functions", module);
    lua_getfield(L, -1, func);
    if (lua_type(L, -1) != LUA_TFUNCTION)
        return luaL_error(L, "module '%s' has no function '%s'", module, func);
    lua_pushvalue(L, 3);
    lua_call(L, 1, 1);
    return 1;
}

int lua_rt_call(struct lua_rt *rt, const char *module, const char *func, json_t *arg,
                json_t **result, json_t **arg_back, struct lua_run *run, struct ax_err *err)
{
    lua_State *L = rt->L;
    if (result)
        *result = NULL;
    if (arg_back)
        *arg_back = NULL;
    begin_run(rt, run);
    lua_settop(L, 0);
    lua_pushcfunction(L, msgh);                  /* 1 */
    lua_pushcfunction(L, call_body);             /* 2 */
    lua_pushstring(L, module);
    lua_pushstring(L, func);
    if (arg)
        lua_rt_push_json(L, arg);
    else
        lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_insert(L, 1);                            /* keep the arg table at 1 */
    /* stack: arg, msgh, call_body, module, func, arg */
    int rc = lua_pcall(L, 3, 1, 2);
    int out = 0;
    if (rc == LUA_OK && run->killed) {
        /* Killed inside a coroutine whose error resume caught: the run
         * still ends as killed. */
        lua_settop(L, 0);
        lua_pushfstring(L, "%s", run->aborted[0] ? run->aborted : "stopped");
        rc = LUA_ERRRUN;
    }
    if (rc != LUA_OK) {
        if (rc == LUA_ERRMEM && !run->killed)
            run->killed = "memory";
        fail_from_stack(L, run, err);
        out = -1;
    } else {
        struct ax_err cerr;
        ax_err_clear(&cerr);
        if (result && !(*result = lua_rt_to_json(L, -1, &cerr))) {
            snprintf(run->error, sizeof run->error, "the return value: %s", cerr.detail);
            ax_fail_type(err, AX_EINVALID, "workflow-error", "%s", run->error);
            out = -1;
        }
        if (!out && arg_back && !(*arg_back = lua_rt_to_json(L, 1, &cerr))) {
            snprintf(run->error, sizeof run->error, "the event after the call: %s", cerr.detail);
            ax_fail_type(err, AX_EINVALID, "workflow-error", "%s", run->error);
            out = -1;
        }
    }
    end_run(rt, run);
    if (out && result && *result) {
        json_decref(*result);
        *result = NULL;
    }
    return out;
}

static int eval_body(lua_State *L)
{
    size_t n;
    const char *src = lua_tolstring(L, 1, &n);
    const char *name = lua_tostring(L, 2);
    if (luaL_loadbufferx(L, src, n, name, "t") != LUA_OK)
        return lua_error(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    lua_call(L, 0, 1);
    return 1;
}

int lua_rt_eval(struct lua_rt *rt, const char *name, const char *src, size_t len,
                json_t **result, struct lua_run *run, struct ax_err *err)
{
    lua_State *L = rt->L;
    *result = NULL;
    begin_run(rt, run);
    lua_settop(L, 0);
    lua_pushcfunction(L, msgh);
    lua_pushcfunction(L, eval_body);
    lua_pushlstring(L, src, len);
    char chunk[160];
    snprintf(chunk, sizeof chunk, "=%s", name);
    lua_pushstring(L, chunk);
    int rc = lua_pcall(L, 2, 1, 1), out = 0;
    if (rc == LUA_OK && run->killed) {
        lua_settop(L, 0);
        lua_pushfstring(L, "%s", run->aborted[0] ? run->aborted : "stopped");
        rc = LUA_ERRRUN;
    }
    if (rc != LUA_OK) {
        if (rc == LUA_ERRMEM && !run->killed)
            run->killed = "memory";
        fail_from_stack(L, run, err);
        out = -1;
    } else {
        struct ax_err cerr;
        ax_err_clear(&cerr);
        if (!(*result = lua_rt_to_json(L, -1, &cerr))) {
            snprintf(run->error, sizeof run->error, "%s: %s", name, cerr.detail);
            ax_fail_type(err, AX_EINVALID, "workflow-error", "%s", run->error);
            out = -1;
        }
    }
    end_run(rt, run);
    return out;
}

/* ---- pool ---- */

static struct {
    pthread_mutex_t lock;
    struct lua_rt *idle;      /* most recently returned first */
    int nidle;
} pool = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

struct lua_rt *lua_pool_get(int64_t tenant, int64_t version, lua_pool_load_fn load,
                            void *arg, struct ax_err *err)
{
    pthread_mutex_lock(&pool.lock);
    for (struct lua_rt **p = &pool.idle; *p; p = &(*p)->next) {
        if ((*p)->tenant == tenant && (*p)->version == version) {
            struct lua_rt *rt = *p;
            *p = rt->next;
            rt->next = NULL;
            pool.nidle--;
            pthread_mutex_unlock(&pool.lock);
            return rt;
        }
    }
    pthread_mutex_unlock(&pool.lock);
    return load(arg, err);
}

void lua_pool_put(struct lua_rt *rt)
{
    if (!rt)
        return;
    if (rt->tainted || rt->used > STATE_KEEP_MEMORY) {
        lua_rt_close(rt);
        return;
    }
    struct lua_rt *evict = NULL;
    pthread_mutex_lock(&pool.lock);
    rt->next = pool.idle;
    rt->idle_since = time_mono();
    pool.idle = rt;
    if (++pool.nidle > LUA_POOL_MAX) {
        struct lua_rt **p = &pool.idle;
        while ((*p)->next)
            p = &(*p)->next;
        evict = *p;
        *p = NULL;
        pool.nidle--;
    }
    pthread_mutex_unlock(&pool.lock);
    lua_rt_close(evict);
}

static void drop_where(bool (*match)(struct lua_rt *, int64_t), int64_t arg)
{
    struct lua_rt *gone = NULL;
    pthread_mutex_lock(&pool.lock);
    for (struct lua_rt **p = &pool.idle; *p;) {
        if (match(*p, arg)) {
            struct lua_rt *rt = *p;
            *p = rt->next;
            rt->next = gone;
            gone = rt;
            pool.nidle--;
        } else {
            p = &(*p)->next;
        }
    }
    pthread_mutex_unlock(&pool.lock);
    while (gone) {
        struct lua_rt *next = gone->next;
        lua_rt_close(gone);
        gone = next;
    }
}

static bool of_tenant(struct lua_rt *rt, int64_t tenant) { return rt->tenant == tenant; }
static bool any(struct lua_rt *rt, int64_t unused)
{
    (void)rt;
    (void)unused;
    return true;
}

void lua_pool_drop_tenant(int64_t tenant) { drop_where(of_tenant, tenant); }
void lua_pool_shutdown(void) { drop_where(any, 0); }
